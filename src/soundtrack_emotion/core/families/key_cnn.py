"""Key CNN (:mod:`soundtrack_emotion.core.embeddings.key_cnn`): madmom's key recogniser
(Korzeniowski & Widmer 2018), rebuilt in Keras 3; 22.05 kHz (harmony's decode) or 44.1 kHz
mono in, one row per ``block_seconds`` block (harmony's grid), ``[n_blocks, 3]``: the
major-minus-minor probability, the most likely key's probability and the entropy over the 24
keys, each from the network's logits averaged over ``context_seconds`` around the block; the
24 key probabilities are kept as an extra. Its weights are CC BY-NC-SA 4.0 (non-commercial
use only)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from soundtrack_emotion.core.embeddings.key_cnn import (
    KEY_CNN_BANDS_PER_OCTAVE,
    KEY_CNN_FMAX,
    KEY_CNN_FMIN,
    KEY_CNN_FPS,
    KEY_CNN_FRAME_SIZE,
    KEY_CNN_SAMPLE_RATES,
    KEY_CNN_STEP_SECONDS,
    KEY_NAMES,
    N_KEYS,
    key_cnn_from_file,
    key_logit_map,
    key_probabilities,
)
from soundtrack_emotion.core.embeddings.pretrained import KEY_CNN_SHA256, key_cnn_file
from soundtrack_emotion.core.families.base import (
    Check,
    FamilyOutput,
    FeatureFamily,
    whole_blocks,
)
from soundtrack_emotion.core.families.musicnn import one_tensorflow_thread
from soundtrack_emotion.exceptions import ParameterError

KEY_CNN_COLUMNS = ("major_minus_minor", "key_confidence", "key_entropy")
KEY_COLUMNS = tuple(f"key:{name}" for name in KEY_NAMES)


def block_key_logits(
    logits: np.ndarray, *, n_blocks: int, block_seconds: float, context_seconds: float
) -> np.ndarray:
    """Mean of the steps' ``logits`` [n_steps, 24] (one per 1.6 s) whose centres lie within
    ``context_seconds / 2`` of each block's centre: [n_blocks, 24]. A block whose window holds
    no step takes the step nearest its centre.

    >>> block_key_logits(np.arange(4.0)[:, None], n_blocks=2, block_seconds=3.0,
    ...                  context_seconds=3.0)[:, 0].tolist()
    [0.5, 2.5]
    """
    centres = (np.arange(len(logits)) + 0.5) * KEY_CNN_STEP_SECONDS
    blocks = (np.arange(n_blocks) + 0.5) * block_seconds
    first = np.searchsorted(centres, blocks - context_seconds / 2, side="left")
    stop = np.searchsorted(centres, blocks + context_seconds / 2, side="right")
    nearest = np.clip(np.rint(blocks / KEY_CNN_STEP_SECONDS - 0.5).astype(int), 0, len(logits) - 1)
    empty = stop <= first
    first, stop = np.where(empty, nearest, first), np.where(empty, nearest + 1, stop)
    sums = np.concatenate([np.zeros((1, logits.shape[1])), np.cumsum(logits, axis=0)])
    return ((sums[stop] - sums[first]) / (stop - first)[:, None]).astype(np.float32)


def key_summary(probabilities: np.ndarray) -> np.ndarray:
    """[n, 24] key probabilities -> [n, 3] (``KEY_CNN_COLUMNS``): P(major) - P(minor), the
    largest probability, the entropy in nats (0 .. log 24)."""
    major = probabilities[:, : N_KEYS // 2].sum(axis=1)
    minor = probabilities[:, N_KEYS // 2 :].sum(axis=1)
    entropy = -(probabilities * np.log(np.clip(probabilities, 1e-12, None))).sum(axis=1)
    return np.column_stack([major - minor, probabilities.max(axis=1), entropy]).astype(np.float32)


def most_likely_key(probabilities: np.ndarray) -> str:
    """The key of a track's mean key probabilities [n_rows, 24], e.g. ``"C major 0.62"``."""
    mean = probabilities.mean(axis=0)
    return f"{KEY_NAMES[int(np.argmax(mean))]} {mean.max():.2f}"


@dataclass(frozen=True)
class KeyCnnFamily(FeatureFamily):
    """``feature_extraction.key_cnn``: the weights, the block and the context lengths."""

    name = "key_cnn"
    display_name = "Key CNN"
    rank = 4
    version = 1
    precision_engine = "keras"
    # Standalone it is three columns: it serves as a fusion member (the default fusion has it).
    opt_in = True
    extras = ("keys",)
    report_columns = ("key_cnn_key",)

    weights: str | None
    sample_rate: int
    block_seconds: float
    context_seconds: float

    @classmethod
    def from_params(cls, section: Mapping[str, Any], *, resolve: Callable[[str], str]) -> Self:
        weights = section["weights"]
        return cls(
            weights=None if weights is None else resolve(str(weights)),
            sample_rate=int(section["sample_rate"]),
            block_seconds=float(section["block_seconds"]),
            context_seconds=float(section["context_seconds"]),
        )

    @property
    def row_seconds(self) -> float:
        return self.block_seconds

    def frame_rows(self, seconds: float) -> int:
        """The whole blocks in ``seconds`` of audio (15 s -> 5, 30 s -> 10 at 3 s blocks)."""
        return whole_blocks(seconds, block_seconds=self.block_seconds, what="key CNN")

    def checks(self) -> Iterable[Check]:
        return (
            (
                self.sample_rate in KEY_CNN_SAMPLE_RATES,
                "sample_rate",
                self.sample_rate,
                f"one of {KEY_CNN_SAMPLE_RATES}",
            ),
            (self.block_seconds >= 1.0, "block_seconds", self.block_seconds, ">= 1.0"),
            (
                self.context_seconds >= KEY_CNN_STEP_SECONDS,
                "context_seconds",
                self.context_seconds,
                f">= {KEY_CNN_STEP_SECONDS} (one network step)",
            ),
        )

    def spec(self) -> dict[str, Any]:
        """The weights' hash (the pinned one: :func:`key_cnn_file` checks it), the front
        end's constants, the block and context lengths."""
        return {
            "weights_sha256": KEY_CNN_SHA256,
            "block_seconds": self.block_seconds,
            "context_seconds": self.context_seconds,
            "sample_rate": self.sample_rate,
            "frame_size": KEY_CNN_FRAME_SIZE,
            "fps": KEY_CNN_FPS,
            "bands": [KEY_CNN_BANDS_PER_OCTAVE, KEY_CNN_FMIN, KEY_CNN_FMAX],
            "columns": list(KEY_CNN_COLUMNS),
        }

    def columns(self) -> tuple[str, ...]:
        return KEY_CNN_COLUMNS

    def extra_columns(self, extra: str) -> tuple[str, ...] | None:
        """The key probabilities' columns: ``key:C major`` ..."""
        return KEY_COLUMNS if extra == "keys" else None

    def load(self, precision: str) -> Any:
        """The network computing in ``precision``, loaded once per process."""
        if multiprocessing.parent_process() is not None:
            one_tensorflow_thread()
        return key_cnn_from_file(key_cnn_file(self.weights), precision)

    def describe_source(self) -> str:
        return "that the key CNN loads"

    def compute(self, waveform: np.ndarray, model: Any) -> FamilyOutput:
        """[n_blocks, 3] (``KEY_CNN_COLUMNS``) and the key probabilities [n_blocks, 24];
        ``n_blocks`` as harmony's: the whole blocks, or 1 for a shorter track."""
        if model is None:
            raise ParameterError("the key CNN family was chosen but no key CNN was given")
        logits = key_logit_map(waveform, model=model, sr=self.sample_rate)
        n_blocks = max(1, len(waveform) // round(self.block_seconds * self.sample_rate))
        probabilities = key_probabilities(
            block_key_logits(
                logits,
                n_blocks=n_blocks,
                block_seconds=self.block_seconds,
                context_seconds=self.context_seconds,
            )
        )
        return FamilyOutput(
            rows=key_summary(probabilities), extras={"keys": probabilities.astype(np.float32)}
        )

    def report_fields(self, extra: Callable[[str], np.ndarray]) -> dict[str, str]:
        return {"key_cnn_key": most_likely_key(extra("keys"))}


FAMILY = KeyCnnFamily
