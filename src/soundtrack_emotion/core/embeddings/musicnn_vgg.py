"""The musicnn package's VGG-style taggers (``MSD_vgg``, ``MTT_vgg``), rebuilt in Keras 3 from
the musicnn 0.1.0 TF1 checkpoints as :mod:`~soundtrack_emotion.core.embeddings.musicnn`
rebuilds MusiCNN.

The network follows the package's ``musicnn/models.py`` (``vgg`` with 128 filters, 607k
parameters): small square filters that, unlike MusiCNN's tall timbral ones, keep the relations
between neighbouring mel bands (intervals, chords). On one [187, 96] log-mel patch:

* one batch norm of the input;
* five blocks of a 3 x 3 convolution (128 filters, ``same`` padding) -> ReLU -> batch norm ->
  max pooling (``valid``), pooling (time x mel) 4 x 1 with strides 2 x 2, then 2 x 2 three
  times, then 4 x 4: [187, 96] -> [92, 48] -> [46, 24] -> [23, 12] -> [11, 6] -> [2, 1];
* ``pool5`` [2, 1, 128] flattened (time step x 128 + channel) -> 256 -> dense 50 -> sigmoid
  tag probabilities. Dropout (training only) is left out.

Outputs per patch (``vgg_outputs``): ``"taggram"`` [50] and ``"pool5"`` [256], the package's
name for the last pooling layer, which its ``extractor()`` returns with ``pool1`` .. ``pool4``
(those are 92 x 48 x 128 .. 11 x 6 x 128 maps: too large to be embeddings). Embeddings
(``layer``): ``"pool5"`` [256] and ``"pool5+taggram"`` [306], pool5 then the tags, as
MusiCNN's ``"dense+taggram"``.

The front end, the patches (187 frames, 2.992 s, every ``patch_hop`` patches), the checkpoint
reading and the precision are MusiCNN's. The patch length is fixed: the dense layer reads
exactly two pooled time steps (the package refuses other input lengths for its VGGs too).
``MTT_vgg`` was trained on MagnaTagATune (Magnatune audio); scores on Magnatune-sourced corpora
are optimistic.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from soundtrack_emotion.core.embeddings.musicnn import (
    MSD_TAGS,
    MTT_TAGS,
    MUSICNN_BATCH_PATCHES,
    MUSICNN_N_MELS,
    MUSICNN_PATCH_FRAMES,
    MusicnnModel,
    assign_checkpoint,
    batch_norm_layer,
    checkpoint_sha256,
    model_of_network,
    musicnn_outputs,
    read_checkpoint,
)
from soundtrack_emotion.core.precision import FLOAT32
from soundtrack_emotion.exceptions import ParameterError

VGG_TAGS = {"MSD_vgg": MSD_TAGS, "MTT_vgg": MTT_TAGS}
VGG_FILTERS = 128
VGG_KERNEL = (3, 3)
VGG_POOL5_SHAPE = (2, 1, VGG_FILTERS)  # (time steps, mel groups, channels) per patch
VGG_EMBEDDING_SIZE = int(np.prod(VGG_POOL5_SHAPE))  # 256
VGG_LAYERS = ("pool5", "pool5+taggram")

# (checkpoint conv, checkpoint batch norm, pool size (time, mel), pool strides (time, mel))
_BLOCKS = (
    ("1CNN", "batch_normalization_1", (4, 1), (2, 2)),
    ("2CNN", "batch_normalization_2", (2, 2), (2, 2)),
    ("3CNN", "batch_normalization_3", (2, 2), (2, 2)),
    ("4CNN", "batch_normalization_4", (2, 2), (2, 2)),
    ("5CNN", "batch_normalization_5", (4, 4), (4, 4)),
)
_INPUT_BN = "batch_normalization"
_LOGITS = "dense"
_WHAT = "musicnn VGG"


def build_vgg_network(n_tags: int = len(MSD_TAGS)) -> Any:
    """The untrained Keras 3 network: patches [b, 187, 96] -> {"taggram" [b, n_tags], "pool5"
    [b, 256]}. Layers are named after the checkpoint's variable scopes, so
    :func:`~soundtrack_emotion.core.embeddings.musicnn.assign_checkpoint` can fill them."""
    import keras
    from keras import layers, ops

    patches = keras.Input(shape=(MUSICNN_PATCH_FRAMES, MUSICNN_N_MELS), name="logmel")
    x = layers.Reshape((MUSICNN_PATCH_FRAMES, MUSICNN_N_MELS, 1))(patches)
    x = batch_norm_layer(_INPUT_BN)(x)
    for conv, bn, pool_size, strides in _BLOCKS:
        x = layers.Conv2D(VGG_FILTERS, VGG_KERNEL, padding="same", activation="relu", name=conv)(x)
        x = batch_norm_layer(bn)(x)
        x = layers.MaxPooling2D(pool_size, strides=strides, padding="valid")(x)
    pool5 = layers.Flatten(name="pool5")(x)  # [b, 256], time step x 128 + channel
    logits = layers.Dense(n_tags, name=_LOGITS)(pool5)
    outputs = {"taggram": ops.sigmoid(logits), "pool5": pool5}
    return keras.Model(patches, outputs, name="musicnn_vgg")


def vgg_from_variables(
    variables: Mapping[str, np.ndarray],
    *,
    model: str = "MSD_vgg",
    checkpoint: str = "",
    sha256: str = "",
    precision: str = FLOAT32,
) -> MusicnnModel:
    """Build the network and fill it with checkpoint ``variables`` (uncached); any missing
    variable or shape mismatch raises :class:`ModelUnavailableError` naming it."""
    if model not in VGG_TAGS:
        raise ParameterError(f"unknown musicnn VGG model {model!r}; known: {sorted(VGG_TAGS)}")
    network = build_vgg_network(len(VGG_TAGS[model]))
    assign_checkpoint(network, variables, what=_WHAT)
    return model_of_network(
        network,
        model=model,
        tags=VGG_TAGS[model],
        checkpoint=checkpoint,
        sha256=sha256,
        precision=precision,
    )


def vgg_from_checkpoint(
    prefix: str, *, model: str = "MSD_vgg", precision: str = FLOAT32
) -> MusicnnModel:
    """Build the network and load the checkpoint ``prefix`` into it (uncached)."""
    return vgg_from_variables(
        read_checkpoint(prefix, what=_WHAT),
        model=model,
        checkpoint=prefix,
        sha256=checkpoint_sha256(prefix),
        precision=precision,
    )


@functools.lru_cache(maxsize=4)
def load_vgg(
    checkpoint: str | None = None, model: str = "MSD_vgg", precision: str = FLOAT32
) -> MusicnnModel:
    """The VGG ``model`` of ``checkpoint`` (a path, or None for the set-up cache) computing in
    ``precision`` (``float32`` or ``bfloat16``), loaded once per process;
    :class:`ModelUnavailableError` says how to provide missing weights."""
    from soundtrack_emotion.core.embeddings.pretrained import vgg_checkpoint

    prefix = vgg_checkpoint(checkpoint, model=model)
    return vgg_from_checkpoint(prefix, model=model, precision=precision)


def vgg_outputs(
    y: np.ndarray,
    *,
    model: MusicnnModel,
    patch_hop: float = 1.0,
    batch_patches: int = MUSICNN_BATCH_PATCHES,
) -> dict[str, np.ndarray]:
    """Every output of the VGG on one 16 kHz mono track ``y`` [n], one row per 187-frame
    patch every ``patch_hop`` patches: {"taggram" [n_patches, n_tags], "pool5" [n_patches,
    256]}, the network fed ``batch_patches`` patches at a time. Raises AudioDecodeError when
    the track is shorter than one patch."""
    return musicnn_outputs(y, model=model, patch_hop=patch_hop, batch_patches=batch_patches)


def vgg_features(
    y: np.ndarray,
    *,
    model: MusicnnModel,
    patch_hop: float = 1.0,
    batch_patches: int = MUSICNN_BATCH_PATCHES,
    layer: str = "pool5",
) -> tuple[np.ndarray, np.ndarray]:
    """The VGG on one 16 kHz mono track ``y`` [n]: (embeddings [n_patches, 256] of ``layer``
    ([n_patches, 306] for ``"pool5+taggram"``), taggram [n_patches, n_tags]); see
    :func:`vgg_outputs` and :func:`vgg_embedding_of`."""
    out = vgg_outputs(y, model=model, patch_hop=patch_hop, batch_patches=batch_patches)
    return vgg_embedding_of(out, layer), out["taggram"]


def vgg_embedding_of(outputs: Mapping[str, np.ndarray], layer: str) -> np.ndarray:
    """The embedding ``layer`` names from :func:`vgg_outputs`: [n, 256], or [n, 306] for
    ``"pool5+taggram"`` (pool5, then the tag probabilities)."""
    if layer not in VGG_LAYERS:
        raise ParameterError(f"musicnn_vgg.layer must be one of {VGG_LAYERS}, got {layer!r}")
    if layer == "pool5+taggram":
        return np.concatenate([outputs["pool5"], outputs["taggram"]], axis=1)
    return outputs[layer]
