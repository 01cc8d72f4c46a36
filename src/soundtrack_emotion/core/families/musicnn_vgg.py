"""MusiCNN VGG (:mod:`soundtrack_emotion.core.embeddings.musicnn_vgg`): the musicnn 0.1.0
wheel's VGG-style tagger (small square filters, which keep the pitch relations MusiCNN's tall
timbral filters blur), rebuilt in Keras 3; 16 kHz mono in, ``[n_patches, 256]`` pool5
embeddings out (306 for ``pool5+taggram``), one row per 3 s (187-frame, 2.992 s) patch, plus
the 50-tag taggram as an extra. MusiCNN's front end, patches and precision. Each worker
process loads the network once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from soundtrack_emotion.core.embeddings.musicnn_vgg import (
    VGG_EMBEDDING_SIZE,
    VGG_LAYERS,
    VGG_TAGS,
    load_vgg,
    vgg_embedding_of,
    vgg_outputs,
)
from soundtrack_emotion.core.embeddings.pretrained import VGG_MODELS, vgg_checkpoint
from soundtrack_emotion.core.families.base import FamilyOutput
from soundtrack_emotion.core.families.musicnn import MusicnnFamily
from soundtrack_emotion.exceptions import ParameterError


@dataclass(frozen=True)
class MusicnnVggFamily(MusicnnFamily):
    """``feature_extraction.musicnn_vgg``: the same section, front end and patches as MusiCNN's
    (:class:`MusicnnFamily`); the network, its checkpoints, layers and tags differ."""

    name = "musicnn_vgg"
    display_name = "MusiCNN VGG"
    rank = 4
    version = 1
    report_columns = ("musicnn_vgg_top_tags",)
    # Not in the default or offline runs until it is shown to help (docs).
    opt_in = True
    models = VGG_MODELS
    layers = VGG_LAYERS

    def checkpoint_prefix(self) -> str:
        return vgg_checkpoint(self.checkpoint, model=self.model)

    def tags(self) -> tuple[str, ...]:
        return VGG_TAGS[self.model]

    def columns(self) -> tuple[str, ...]:
        """``pool5:0`` ... ``pool5:255``, then ``tag:<tag>`` for ``pool5+taggram``."""
        pool5 = tuple(f"pool5:{i}" for i in range(VGG_EMBEDDING_SIZE))
        return pool5 + (self._tag_columns() if self.layer.endswith("+taggram") else ())

    def load_network(self, precision: str) -> Any:
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


FAMILY = MusicnnVggFamily
