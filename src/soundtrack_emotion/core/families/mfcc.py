"""MFCC (thesis section 4.1.1): ``librosa.feature.mfcc(y=y, sr=22050, n_mfcc=13, n_fft=2048,
hop_length=1024)``, time-major ``[n_windows, n_mfcc]``; ``drop_c0`` removes the offset
coefficient (the thesis's "remove offset"). NumPy only: no network, always float32."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np

from soundtrack_emotion.core.audio import MFCC_SAMPLE_RATE, mel_spectrogram
from soundtrack_emotion.core.families.base import Check, FamilyOutput, FeatureFamily
from soundtrack_emotion.exceptions import ParameterError

# MFCC settings of the thesis (section 4.1.1).
MFCC_N_MFCC = 13
MFCC_N_FFT = 2048
MFCC_HOP_LENGTH = 1024
# Mel bands under the MFCCs: librosa.feature.mfcc's default, which the thesis used.
MFCC_N_MELS = 128
# MFCC windows computed per STFT chunk (~6 min of audio): bounds memory on long tracks.
MFCC_CHUNK_WINDOWS = 8192


def mfcc(
    y: np.ndarray,
    *,
    sr: int = MFCC_SAMPLE_RATE,
    n_mfcc: int = MFCC_N_MFCC,
    n_fft: int = MFCC_N_FFT,
    hop_length: int = MFCC_HOP_LENGTH,
    drop_c0: bool = False,
    chunk_windows: int = MFCC_CHUNK_WINDOWS,
) -> np.ndarray:
    """MFCCs of a mono waveform ``y`` [n], time-major: [1 + n // hop_length, n_mfcc] float32
    ([.., n_mfcc - 1] with ``drop_c0``).

    The same numbers as ``librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft,
    hop_length=hop_length).T``; tracks longer than ``chunk_windows`` windows have their mel
    spectrogram computed chunk by chunk (the dB scaling stays global, as librosa's).
    """
    import librosa

    if n_mfcc < 2 if drop_c0 else n_mfcc < 1:
        raise ParameterError(f"n_mfcc must be >= {1 + drop_c0} (drop_c0={drop_c0}), got {n_mfcc}")
    for name, value in (("sr", sr), ("n_fft", n_fft), ("hop_length", hop_length)):
        if value < 1:
            raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    if chunk_windows < 1:
        raise ParameterError(f"chunk_windows must be >= 1, got {chunk_windows!r}")
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"y must be a mono waveform [n], got shape {y.shape}")
    mel = mel_spectrogram(
        y,
        sr=sr,
        n_fft=n_fft,
        hop_length=hop_length,
        n_mels=MFCC_N_MELS,
        chunk_frames=chunk_windows,
    )
    coefficients = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=n_mfcc)
    start = 1 if drop_c0 else 0
    return np.ascontiguousarray(coefficients[start:].T, dtype=np.float32)


@dataclass(frozen=True)
class MfccFamily(FeatureFamily):
    """``feature_extraction.mfcc``."""

    name = "mfcc"
    display_name = "MFCC"
    rank = 0
    # 2: truthful decoding (partial files read to their real end, no seeks between blocks).
    version = 2

    sample_rate: int
    n_mfcc: int
    n_fft: int
    hop_length: int
    drop_c0: bool

    @classmethod
    def from_params(cls, section: Mapping[str, Any], *, resolve: Callable[[str], str]) -> Self:
        return cls(
            sample_rate=int(section["sample_rate"]),
            n_mfcc=int(section["n_mfcc"]),
            n_fft=int(section["n_fft"]),
            hop_length=int(section["hop_length"]),
            drop_c0=bool(section["drop_c0"]),
        )

    @property
    def row_seconds(self) -> float:
        """One window per ``hop_length`` samples."""
        return self.hop_length / self.sample_rate

    def frame_rows(self, seconds: float) -> int:
        """The windows librosa gives on ``seconds`` of audio (15 s -> 323, 30 s -> 646)."""
        if seconds <= 0:
            raise ParameterError(f"frame seconds must be positive, got {seconds!r}")
        return 1 + round(seconds * self.sample_rate) // self.hop_length

    def checks(self) -> Iterable[Check]:
        return (
            (self.sample_rate > 0, "sample_rate", self.sample_rate, "> 0"),
            (self.n_mfcc >= 1 + self.drop_c0, "n_mfcc", self.n_mfcc, ">= 2"),
            (self.n_fft > 0, "n_fft", self.n_fft, "> 0"),
            (self.hop_length > 0, "hop_length", self.hop_length, "> 0"),
        )

    def spec(self) -> dict[str, Any]:
        return asdict(self)

    def compute(self, waveform: np.ndarray, model: Any = None) -> FamilyOutput:
        """MFCCs [windows, n_mfcc] (one fewer with ``drop_c0``)."""
        return FamilyOutput(
            rows=mfcc(
                waveform,
                sr=self.sample_rate,
                n_mfcc=self.n_mfcc,
                n_fft=self.n_fft,
                hop_length=self.hop_length,
                drop_c0=self.drop_c0,
            )
        )


FAMILY = MfccFamily
