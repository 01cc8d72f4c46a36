"""Harmony (:mod:`soundtrack_emotion.core.harmony`): key and mode strength (Krumhansl-Kessler
and Temperley profiles), rotated chroma, tonnetz, tempo and pulse clarity, brightness,
loudness and roughness, one row per ``block_seconds`` block of a mono waveform
(``[n_blocks, 40]``). librosa and NumPy only: no network, always float32."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np

from soundtrack_emotion.core.families.base import (
    Check,
    FamilyOutput,
    FeatureFamily,
    whole_blocks,
)
from soundtrack_emotion.core.harmony import (
    CHROMA_BINS_PER_OCTAVE,
    CHROMA_N_OCTAVES,
    HARMONY_FEATURE_NAMES,
    HARMONY_HOP_LENGTH,
    HARMONY_MIN_SAMPLE_RATE,
    HARMONY_MIN_SECONDS,
    HARMONY_N_FFT,
    KEY_CONTEXT_SECONDS,
    TEMPO_CONTEXT_SECONDS,
    harmony_features,
)


@dataclass(frozen=True)
class HarmonyFamily(FeatureFamily):
    """``feature_extraction.harmony``: the waveform's rate and the block length."""

    name = "harmony"
    display_name = "Harmony"
    rank = 3
    # 2: Temperley key-profile columns appended (40 columns instead of 37).
    version = 2

    sample_rate: int
    block_seconds: float

    @classmethod
    def from_params(cls, section: Mapping[str, Any], *, resolve: Callable[[str], str]) -> Self:
        return cls(
            sample_rate=int(section["sample_rate"]),
            block_seconds=float(section["block_seconds"]),
        )

    @property
    def row_seconds(self) -> float:
        """One row per block."""
        return self.block_seconds

    def frame_rows(self, seconds: float) -> int:
        """The whole blocks in ``seconds`` of audio (15 s -> 5, 30 s -> 10 at 3 s blocks)."""
        return whole_blocks(seconds, block_seconds=self.block_seconds, what="harmony")

    def checks(self) -> Iterable[Check]:
        return (
            (
                self.sample_rate >= HARMONY_MIN_SAMPLE_RATE,
                "sample_rate",
                self.sample_rate,
                f">= {HARMONY_MIN_SAMPLE_RATE}",
            ),
            (
                self.block_seconds >= HARMONY_MIN_SECONDS,
                "block_seconds",
                self.block_seconds,
                f">= {HARMONY_MIN_SECONDS}",
            ),
        )

    def spec(self) -> dict[str, Any]:
        """Its settings, the columns and the analysis constants behind them."""
        return asdict(self) | {
            "columns": list(HARMONY_FEATURE_NAMES),
            "hop_length": HARMONY_HOP_LENGTH,
            "n_fft": HARMONY_N_FFT,
            "chroma": [CHROMA_BINS_PER_OCTAVE, CHROMA_N_OCTAVES],
            "key_context_seconds": KEY_CONTEXT_SECONDS,
            "tempo_context_seconds": TEMPO_CONTEXT_SECONDS,
        }

    def columns(self) -> tuple[str, ...]:
        return HARMONY_FEATURE_NAMES

    def compute(self, waveform: np.ndarray, model: Any = None) -> FamilyOutput:
        """Harmony features [n_blocks, 40] (columns ``HARMONY_FEATURE_NAMES``)."""
        return FamilyOutput(
            rows=harmony_features(waveform, sr=self.sample_rate, block_seconds=self.block_seconds)
        )


FAMILY = HarmonyFamily
