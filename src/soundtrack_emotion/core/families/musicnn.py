"""MusiCNN (:mod:`soundtrack_emotion.core.embeddings.musicnn`): the MSD-trained network of the
musicnn 0.1.0 wheel, rebuilt in Keras 3; 16 kHz mono in, ``[n_patches, 200]`` embeddings out
(250 for ``dense+taggram``), one row per 3 s (187-frame, 2.992 s) patch, plus the 50-tag
taggram as an extra. Each worker process loads the network once."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from soundtrack_emotion.core.embeddings.musicnn import (
    MUSICNN_EMBEDDING_SIZE,
    MUSICNN_HOP_LENGTH,
    MUSICNN_LAYERS,
    MUSICNN_LOG_SCALE,
    MUSICNN_N_FFT,
    MUSICNN_N_MELS,
    MUSICNN_PATCH_FRAMES,
    MUSICNN_PATCH_SECONDS,
    MUSICNN_SAMPLE_RATE,
    TAGS,
    checkpoint_sha256,
    embedding_of,
    load_musicnn,
    musicnn_outputs,
    musicnn_patch_rows,
    patch_hop_frames,
)
from soundtrack_emotion.core.embeddings.pretrained import MODELS, musicnn_checkpoint
from soundtrack_emotion.core.families.base import Check, FamilyOutput, FeatureFamily
from soundtrack_emotion.exceptions import ParameterError

# MusiCNN tags per track in the extraction report.
TOP_TAGS = 3


def top_tags(taggram: np.ndarray, tags: tuple[str, ...], k: int = TOP_TAGS) -> str:
    """The ``k`` most likely tags of a track's taggram [n_patches, n_tags], averaged, e.g.
    ``"rock 0.41, indie 0.22, pop 0.20"``."""
    mean = taggram.mean(axis=0)
    return ", ".join(f"{tags[i]} {mean[i]:.2f}" for i in np.argsort(-mean)[:k])


def one_tensorflow_thread() -> None:
    """In a worker process: one TensorFlow thread, like its one BLAS thread (the processes are
    the parallelism). Only possible before TensorFlow starts; a no-op afterwards."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass


@dataclass(frozen=True)
class MusicnnFamily(FeatureFamily):
    """``feature_extraction.musicnn``: which weights, which embedding, how patches are cut."""

    name = "musicnn"
    display_name = "MusiCNN"
    rank = 2
    version = 1
    precision_engine = "keras"
    extras = ("taggram",)
    report_columns = ("musicnn_top_tags",)

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
        """The whole patches (every ``patch_hop`` patch) in ``seconds`` of audio (15 s -> 5
        patches = 14.96 s, 30 s -> 10 at the default hop)."""
        if seconds <= 0:
            raise ParameterError(f"frame seconds must be positive, got {seconds!r}")
        rows = musicnn_patch_rows(seconds, patch_hop=self.patch_hop)
        if rows < 1:
            raise ParameterError(
                f"a {seconds!r} s frame holds no whole 2.992 s {self.display_name} patch"
            )
        return rows

    # The checkpoints and embedding layers this network offers (the VGG family's differ).
    models: ClassVar[tuple[str, ...]] = MODELS
    layers: ClassVar[tuple[str, ...]] = MUSICNN_LAYERS

    def checks(self) -> Iterable[Check]:
        return (
            (self.model in self.models, "model", self.model, f"one of {self.models}"),
            (self.layer in self.layers, "layer", self.layer, f"one of {self.layers}"),
            (0 < self.patch_hop <= 1, "patch_hop", self.patch_hop, "in (0, 1]"),
            (self.batch_patches >= 1, "batch_patches", self.batch_patches, ">= 1"),
        )

    def spec(self) -> dict[str, Any]:
        """The weights' hash, the front end's constants, the embedding layer and the patch hop."""
        return {
            "checkpoint_sha256": checkpoint_sha256(self.checkpoint_prefix()),
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

    def checkpoint_prefix(self) -> str:
        """The TF1 checkpoint of :attr:`model`, from :attr:`checkpoint` or the cache."""
        return musicnn_checkpoint(self.checkpoint, model=self.model)

    def tags(self) -> tuple[str, ...]:
        """The 50 tags of :attr:`model`'s taggram."""
        return TAGS[self.model]

    def columns(self) -> tuple[str, ...]:
        """``dense:0`` ... (or ``penultimate:0`` ...), then ``tag:<tag>`` for ``dense+taggram``."""
        layer = self.layer.split("+")[0]
        embedding = tuple(f"{layer}:{i}" for i in range(MUSICNN_EMBEDDING_SIZE))
        return embedding + (self._tag_columns() if self.layer.endswith("+taggram") else ())

    def extra_columns(self, extra: str) -> tuple[str, ...] | None:
        """The taggram's columns: ``tag:<tag>`` for each of the model's 50 tags."""
        return self._tag_columns() if extra == "taggram" else None

    def _tag_columns(self) -> tuple[str, ...]:
        return tuple(f"tag:{tag}" for tag in self.tags())

    def load(self, precision: str) -> Any:
        if multiprocessing.parent_process() is not None:
            one_tensorflow_thread()
        return self.load_network(precision)

    def load_network(self, precision: str) -> Any:
        """The network of :attr:`model`, loaded once per process, computing in ``precision``."""
        return load_musicnn(self.checkpoint, self.model, precision)

    def describe_source(self) -> str:
        return "that the MusiCNN weights load"

    def compute(self, waveform: np.ndarray, model: Any) -> FamilyOutput:
        """Embeddings [n_patches, 200] (250 for ``dense+taggram``) and the taggram
        [n_patches, 50] float32."""
        if model is None:
            raise ParameterError("a MusiCNN model was chosen but no MusiCNN network was given")
        out = musicnn_outputs(
            waveform, model=model, patch_hop=self.patch_hop, batch_patches=self.batch_patches
        )
        return FamilyOutput(rows=embedding_of(out, self.layer), extras={"taggram": out["taggram"]})

    def report_fields(self, extra: Callable[[str], np.ndarray]) -> dict[str, str]:
        return {f"{self.name}_top_tags": top_tags(extra("taggram"), self.tags())}


FAMILY = MusicnnFamily
