"""MusiCNN VGG (:mod:`soundtrack_emotion.core.embeddings.musicnn_vgg`): the musicnn 0.1.0
wheel's VGG-style tagger (small square filters, which keep the pitch relations MusiCNN's tall
timbral filters blur), rebuilt in Keras 3; 16 kHz mono in, ``[n_patches, 256]`` pool5
embeddings out (306 for ``pool5+taggram``), one row per 3 s (187-frame, 2.992 s) patch, plus
the 50-tag taggram as an extra. MusiCNN's front end, patches and precision. Each worker
process loads the network once."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from soundtrack_emotion.core.embeddings.musicnn import (
    MUSICNN_HOP_LENGTH,
    MUSICNN_LOG_SCALE,
    MUSICNN_N_FFT,
    MUSICNN_N_MELS,
    MUSICNN_PATCH_FRAMES,
    MUSICNN_PATCH_SECONDS,
    MUSICNN_SAMPLE_RATE,
    checkpoint_sha256,
    musicnn_patch_rows,
    patch_hop_frames,
)
from soundtrack_emotion.core.embeddings.musicnn_vgg import (
    VGG_EMBEDDING_SIZE,
    VGG_LAYERS,
    VGG_TAGS,
    load_vgg,
    vgg_embedding_of,
    vgg_outputs,
)
from soundtrack_emotion.core.embeddings.pretrained import VGG_MODELS, vgg_checkpoint
from soundtrack_emotion.core.families.base import Check, FamilyOutput, FeatureFamily
from soundtrack_emotion.core.families.musicnn import one_tensorflow_thread, top_tags
from soundtrack_emotion.exceptions import ParameterError


@dataclass(frozen=True)
class MusicnnVggFamily(FeatureFamily):
    """``feature_extraction.musicnn_vgg``: which weights, which embedding, how patches are cut."""

    name = "musicnn_vgg"
    display_name = "MusiCNN VGG"
    rank = 4
    version = 1
    precision_engine = "keras"
    extras = ("taggram",)
    report_columns = ("musicnn_vgg_top_tags",)
    # Not in the default or offline runs until it is shown to help (docs).
    opt_in = True

    checkpoint: str | None
    model: str
    layer: str
    patch_hop: float
    batch_patches: int

    @classmethod
    def from_params(cls, section: Mapping[str, Any], *, resolve: Callable[[str], str]) -> Self:
        checkpoint = section["checkpoint"]
        return cls(
            checkpoint=None if checkpoint is None else str(checkpoint),
            model=str(section["model"]),
            layer=str(section["layer"]),
            patch_hop=float(section["patch_hop"]),
            batch_patches=int(section["batch_patches"]),
        )

    @property
    def sample_rate(self) -> int:
        return MUSICNN_SAMPLE_RATE

    @property
    def row_seconds(self) -> float:
        """One patch per ``patch_hop`` x 2.992 s."""
        return MUSICNN_PATCH_SECONDS * patch_hop_frames(self.patch_hop) / MUSICNN_PATCH_FRAMES

    def frame_rows(self, seconds: float) -> int:
        """The whole patches in ``seconds`` of audio (15 s -> 5, 30 s -> 10 at hop 1)."""
        if seconds <= 0:
            raise ParameterError(f"frame seconds must be positive, got {seconds!r}")
        rows = musicnn_patch_rows(seconds, patch_hop=self.patch_hop)
        if rows < 1:
            raise ParameterError(f"a {seconds!r} s frame holds no whole 2.992 s VGG patch")
        return rows

    def checks(self) -> Iterable[Check]:
        return (
            (self.model in VGG_MODELS, "model", self.model, f"one of {VGG_MODELS}"),
            (self.layer in VGG_LAYERS, "layer", self.layer, f"one of {VGG_LAYERS}"),
            (0 < self.patch_hop <= 1, "patch_hop", self.patch_hop, "in (0, 1]"),
            (self.batch_patches >= 1, "batch_patches", self.batch_patches, ">= 1"),
        )

    def spec(self) -> dict[str, Any]:
        """The weights' hash, the front end's constants, the embedding layer and the patch hop."""
        return {
            "checkpoint_sha256": checkpoint_sha256(
                vgg_checkpoint(self.checkpoint, model=self.model)
            ),
            "model": self.model,
            "layer": self.layer,
            "patch_hop": self.patch_hop,
            "sample_rate": MUSICNN_SAMPLE_RATE,
            "n_fft": MUSICNN_N_FFT,
            "hop_length": MUSICNN_HOP_LENGTH,
            "n_mels": MUSICNN_N_MELS,
            "log_scale": MUSICNN_LOG_SCALE,
            "log_dtype": "float32",
            "patch_frames": MUSICNN_PATCH_FRAMES,
        }

    def columns(self) -> tuple[str, ...]:
        """``pool5:0`` ... ``pool5:255``, then ``tag:<tag>`` for ``pool5+taggram``."""
        pool5 = tuple(f"pool5:{i}" for i in range(VGG_EMBEDDING_SIZE))
        return pool5 + (self._tag_columns() if self.layer.endswith("+taggram") else ())

    def extra_columns(self, extra: str) -> tuple[str, ...] | None:
        return self._tag_columns() if extra == "taggram" else None

    def _tag_columns(self) -> tuple[str, ...]:
        return tuple(f"tag:{tag}" for tag in VGG_TAGS[self.model])

    def load(self, precision: str) -> Any:
        if multiprocessing.parent_process() is not None:
            one_tensorflow_thread()
        return load_vgg(self.checkpoint, self.model, precision)

    def describe_source(self) -> str:
        return "the MusiCNN VGG weights"

    def compute(self, waveform: np.ndarray, model: Any) -> FamilyOutput:
        """Embeddings [n_patches, 256] (306 for ``pool5+taggram``) and the taggram
        [n_patches, 50] float32."""
        if model is None:
            raise ParameterError("a MusiCNN VGG model was chosen but no VGG network was given")
        out = vgg_outputs(
            waveform, model=model, patch_hop=self.patch_hop, batch_patches=self.batch_patches
        )
        return FamilyOutput(
            rows=vgg_embedding_of(out, self.layer), extras={"taggram": out["taggram"]}
        )

    def report_fields(self, extra: Callable[[str], np.ndarray]) -> dict[str, str]:
        return {"musicnn_vgg_top_tags": top_tags(extra("taggram"), VGG_TAGS[self.model])}


FAMILY = MusicnnVggFamily
