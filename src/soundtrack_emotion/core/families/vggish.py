"""VGGish (thesis section 4.1.2): the pretrained TF Hub model (:mod:`core.embeddings.vggish`),
16 kHz mono waveform in, ``[N, 128]`` out, one row per 0.96 s. Its model is downloaded from
TF Hub at run time (left out of the offline pipelines); extraction runs it in the parent
process, batched across tracks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from soundtrack_emotion.core.audio import VGGISH_SAMPLE_RATE
from soundtrack_emotion.core.embeddings.vggish import (
    VGGISH_WINDOW_SECONDS,
    VggishBatcher,
    load_vggish,
    resolve_vggish,
    vggish_embeddings,
)
from soundtrack_emotion.core.families.base import Check, FamilyOutput, FeatureFamily
from soundtrack_emotion.exceptions import ParameterError


@dataclass(frozen=True)
class VggishFamily(FeatureFamily):
    """``feature_extraction.vggish``: ``handle`` (a TF Hub URL or a local SavedModel folder),
    ``batch_windows`` (0.96 s windows per network call, across tracks) and ``sha256`` (the
    pinned SHA-256 of the model's content, optional: see ``core.embeddings.vggish``)."""

    name = "vggish"
    display_name = "VGGish"
    rank = 1
    # 2: truthful decoding (partial files read to their real end, no seeks between blocks).
    version = 2
    needs_network = True
    precision_engine = "graph"
    batched_across_tracks = True

    handle: str
    batch_windows: int
    sha256: str | None = None

    @classmethod
    def from_params(cls, section: Mapping[str, Any], *, resolve: Callable[[str], str]) -> Self:
        handle = str(section["handle"])
        return cls(
            handle=handle if "://" in handle else resolve(handle),
            batch_windows=int(section["batch_windows"]),
            sha256=str(section["sha256"]) if section.get("sha256") else None,
        )

    @property
    def sample_rate(self) -> int:
        return VGGISH_SAMPLE_RATE

    @property
    def row_seconds(self) -> float:
        """One embedding per 0.96 s window."""
        return VGGISH_WINDOW_SECONDS

    def frame_rows(self, seconds: float) -> int:
        """One embedding per second (15, 30), as the thesis slices them."""
        if seconds <= 0:
            raise ParameterError(f"frame seconds must be positive, got {seconds!r}")
        return int(seconds)

    def checks(self) -> Iterable[Check]:
        return ((self.batch_windows >= 2, "batch_windows", self.batch_windows, ">= 2"),)

    def spec(self) -> dict[str, Any]:
        """The handle and the checked SHA-256 of the model's content (the model, not its URL,
        makes the features)."""
        _, module_sha256 = resolve_vggish(self.handle, self.sha256, download=False)
        return {
            "handle": self.handle,
            "module_sha256": module_sha256,
            "sample_rate": VGGISH_SAMPLE_RATE,
        }

    def load(self, precision: str) -> Any:
        return load_vggish(self.handle, precision, self.sha256)

    def describe_source(self) -> str:
        return f"that VGGish loads from {self.handle}"

    def compute(self, waveform: np.ndarray, model: Any) -> FamilyOutput:
        """Embeddings [N, 128] of one track, fed in bounded chunks of ``batch_windows``."""
        if model is None:
            raise ParameterError("a VGGish model was chosen but no VGGish model was given")
        return FamilyOutput(
            rows=vggish_embeddings(waveform, model=model, batch_windows=self.batch_windows)
        )

    def batcher(self, model: Any) -> VggishBatcher:
        return VggishBatcher(model, batch_windows=self.batch_windows)


FAMILY = VggishFamily
