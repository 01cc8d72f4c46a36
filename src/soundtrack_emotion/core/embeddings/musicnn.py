"""MusiCNN (Pons & Serra 2019), rebuilt in Keras 3 from the musicnn 0.1.0 TF1 checkpoints.

The network follows the package's ``musicnn/models.py`` (``build_musicnn``, 792k parameters),
its variables read with TensorFlow's checkpoint reader (the package's code is never imported):

* front end on a [T, 96] log-mel patch: one batch norm, then musically motivated filters:
  timbral (vertical) 7 x 38 and 7 x 67 convolutions (time x mel bands), 204 filters each, and
  temporal (horizontal) 128 x 1, 64 x 1, 32 x 1 convolutions, 51 filters each; each is
  ReLU -> batch norm -> max over frequency, giving [T, 561];
* mid end: three 7-frame convolutions of 64 filters (ReLU -> batch norm), the second and
  third with residual connections; front- and mid-end maps are concatenated -> [T, 753];
* back end: max and mean over time (interleaved, as the package flattens them) -> 1506 ->
  batch norm -> dense 200 (ReLU) -> batch norm -> dense 50 -> sigmoid tag probabilities.

Every batch norm runs in inference mode (moving statistics, epsilon 1e-3). ``precision``
``bfloat16`` runs a mixed-precision clone of the network (:mod:`soundtrack_emotion.core.precision`);
outputs are float32 either way.

Three embeddings are offered (``layer``): ``"dense"``, the dense layer's output before its
ReLU (``model/dense/BiasAdd``, what Essentia's msd-musicnn embeddings and its arousal/valence
heads use), and ``"penultimate"``, batch norm of the ReLU output (what the
package's ``extractor()`` returns under that name). ``"dense+taggram"``, the default, appends
the 50 tag probabilities to ``"dense"`` ([250]): the tags (genres, moods, instruments) carry
what a small labelled corpus cannot teach a head, and on the real-music development set they
raised the cross-validated valence R² of a ridge head from about 0.07 to 0.11 (arousal and
dominance unchanged at about 0.61 and 0.58).

Front end as the package computes it (``extractor.batch_data``), with one fix: 16 kHz mono,
``librosa.feature.melspectrogram(n_fft=512, hop_length=256, n_mels=96)``, then
``log10(10000 * mel + 1)`` in float32. The package casts the mel power to float16 first, so
``10000 * mel`` overflows to inf wherever mel > 6.55, and a loud track's embeddings collapse.
Patches are 187 frames (2.992 s), every ``patch_hop`` x 187 frames (1.0 = non-overlapping).
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from soundtrack_emotion.core.audio import mel_spectrogram
from soundtrack_emotion.core.precision import FLOAT32, keras_in_precision
from soundtrack_emotion.exceptions import AudioDecodeError, ModelUnavailableError, ParameterError

MUSICNN_SAMPLE_RATE = 16000
MUSICNN_N_FFT = 512
MUSICNN_HOP_LENGTH = 256
MUSICNN_N_MELS = 96
MUSICNN_LOG_SCALE = 10000.0
# librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1, as the package's extractor.
MUSICNN_PATCH_FRAMES = 187
MUSICNN_PATCH_SECONDS = MUSICNN_PATCH_FRAMES * MUSICNN_HOP_LENGTH / MUSICNN_SAMPLE_RATE  # 2.992
MUSICNN_EMBEDDING_SIZE = 200
MUSICNN_LAYERS = ("dense", "penultimate", "dense+taggram")
# Patches per network call: bounds memory (~25 MB of activations per patch).
MUSICNN_BATCH_PATCHES = 16
# Mel frames computed per STFT chunk (~2 min of audio): bounds memory on long tracks.
MUSICNN_CHUNK_FRAMES = 8192
# tf.compat.v1.layers.batch_normalization's default.
BATCH_NORM_EPSILON = 1e-3

MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill",
    "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)  # fmt: skip
MTT_TAGS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir",
    "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip
TAGS = {"MSD_musicnn": MSD_TAGS, "MTT_musicnn": MTT_TAGS}

# (name, checkpoint conv, checkpoint batch norm, kernel (time, freq), filters, kind)
_FRONT_END = (
    ("timbral_74", "conv2d", "batch_normalization_1", (7, 38), 204, "timbral"),
    ("timbral_77", "conv2d_1", "batch_normalization_2", (7, 67), 204, "timbral"),
    ("temporal_128", "conv2d_2", "batch_normalization_3", (128, 1), 51, "temporal"),
    ("temporal_64", "conv2d_3", "batch_normalization_4", (64, 1), 51, "temporal"),
    ("temporal_32", "conv2d_4", "batch_normalization_5", (32, 1), 51, "temporal"),
)
_MID_END = (
    ("midend_1", "conv2d_5", "batch_normalization_6"),
    ("midend_2", "conv2d_6", "batch_normalization_7"),
    ("midend_3", "conv2d_7", "batch_normalization_8"),
)
_MID_FILTERS = 64
_MID_KERNEL = 7
_INPUT_BN = "batch_normalization"
_POOL_BN, _DENSE_BN = "batch_normalization_9", "batch_normalization_10"
_DENSE, _LOGITS = "dense", "dense_1"
_BN_VARIABLES = ("gamma", "beta", "moving_mean", "moving_variance")


# -------------------------------------------------------------------------------- front end


def musicnn_logmel(
    y: np.ndarray, *, sr: int = MUSICNN_SAMPLE_RATE, chunk_frames: int = MUSICNN_CHUNK_FRAMES
) -> np.ndarray:
    """Log-compressed mel spectrogram of a 16 kHz mono waveform ``y`` [n], time-major
    [1 + n // 256, 96] float32: ``log10(10000 * mel + 1)`` with
    ``mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256,
    n_mels=96)``, all in float32; computed ``chunk_frames`` frames at a time (same numbers)."""

    if sr != MUSICNN_SAMPLE_RATE:
        raise ParameterError(f"MusiCNN needs {MUSICNN_SAMPLE_RATE} Hz audio, got sr={sr!r}")
    if chunk_frames < 1:
        raise ParameterError(f"chunk_frames must be >= 1, got {chunk_frames!r}")
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"y must be a mono waveform [n], got shape {y.shape}")
    mel = mel_spectrogram(
        y,
        sr=sr,
        n_fft=MUSICNN_N_FFT,
        hop_length=MUSICNN_HOP_LENGTH,
        n_mels=MUSICNN_N_MELS,
        chunk_frames=chunk_frames,
    )
    mel = mel.T.astype(np.float32, copy=False)
    return np.log10(np.float32(MUSICNN_LOG_SCALE) * mel + np.float32(1.0))


def patch_hop_frames(patch_hop: float) -> int:
    """Mel frames between patch starts: ``patch_hop`` is a fraction of a patch (1.0 = none
    overlapping, 0.5 = half overlap)."""
    if not 0 < patch_hop <= 1:
        raise ParameterError(f"musicnn.patch_hop must be a fraction in (0, 1], got {patch_hop!r}")
    return max(1, round(MUSICNN_PATCH_FRAMES * patch_hop))


def count_patches(n_frames: int, *, hop_frames: int) -> int:
    """Whole 187-frame patches every ``hop_frames`` in ``n_frames`` mel frames (as the
    package's ``batch_data``: the remainder is dropped)."""
    if n_frames < MUSICNN_PATCH_FRAMES:
        return 0
    return 1 + (n_frames - MUSICNN_PATCH_FRAMES) // hop_frames


def musicnn_patch_rows(seconds: float, *, patch_hop: float = 1.0) -> int:
    """Patches (feature rows) whole in ``seconds`` of audio: 15 s -> 5 and 30 s -> 10 at the
    default hop (so a "15 s" musicnn frame spans 5 x 2.992 = 14.96 s)."""
    n_frames = 1 + round(seconds * MUSICNN_SAMPLE_RATE) // MUSICNN_HOP_LENGTH
    return count_patches(n_frames, hop_frames=patch_hop_frames(patch_hop))


# ---------------------------------------------------------------------------------- network


def batch_norm_layer(name: str) -> Any:
    """A batch norm as ``tf.compat.v1.layers.batch_normalization`` builds it (last axis,
    epsilon 1e-3), named ``name`` after its checkpoint scope."""
    import keras

    return keras.layers.BatchNormalization(axis=-1, epsilon=BATCH_NORM_EPSILON, name=name)


def build_musicnn_network(n_tags: int = len(MSD_TAGS)) -> Any:
    """The untrained Keras 3 network: patches [b, T, 96] -> {"taggram" [b, n_tags],
    "dense" [b, 200], "penultimate" [b, 200]}. Layers are named after the checkpoint's
    variable scopes, so :func:`assign_checkpoint` can fill them."""
    import keras
    from keras import layers, ops

    patches = keras.Input(shape=(None, MUSICNN_N_MELS), name="logmel")
    x = layers.Reshape((-1, MUSICNN_N_MELS, 1))(patches)
    x = batch_norm_layer(_INPUT_BN)(x)
    padded_7 = layers.ZeroPadding2D(((3, 3), (0, 0)))(x)
    front = []
    for _, conv, bn, kernel, filters, kind in _FRONT_END:
        source, padding = (padded_7, "valid") if kind == "timbral" else (x, "same")
        y = layers.Conv2D(filters, kernel, padding=padding, activation="relu", name=conv)(source)
        y = batch_norm_layer(bn)(y)
        front.append(ops.max(y, axis=2))  # max over frequency -> [b, T, filters]
    front_end = layers.Concatenate(axis=-1)(front)  # [b, T, 561]

    # The package's 2-D convolutions spanning every channel are 1-D convolutions over time.
    mid = [front_end]
    previous = front_end
    for i, (_, conv, bn) in enumerate(_MID_END):
        y = layers.ZeroPadding1D(3)(previous)
        y = layers.Conv1D(_MID_FILTERS, _MID_KERNEL, activation="relu", name=conv)(y)
        y = batch_norm_layer(bn)(y)
        if i > 0:
            y = layers.Add()([y, previous])
        mid.append(y)
        previous = y
    features = layers.Concatenate(axis=-1)(mid)  # [b, T, 753]

    # The package flattens [753, 2] (max, mean) pairs: interleave them the same way.
    pooled = ops.stack([ops.max(features, axis=1), ops.mean(features, axis=1)], axis=-1)
    pooled = layers.Flatten()(pooled)  # [b, 1506]
    pooled = batch_norm_layer(_POOL_BN)(pooled)
    dense = layers.Dense(MUSICNN_EMBEDDING_SIZE, name=_DENSE)(pooled)
    penultimate = batch_norm_layer(_DENSE_BN)(ops.relu(dense))
    logits = layers.Dense(n_tags, name=_LOGITS)(penultimate)
    outputs = {"taggram": ops.sigmoid(logits), "dense": dense, "penultimate": penultimate}
    return keras.Model(patches, outputs, name="musicnn")


def read_checkpoint(prefix: str, *, what: str = "MusiCNN") -> dict[str, np.ndarray]:
    """Every trained variable of a TF1 checkpoint ``prefix`` (optimizer slots left out); an
    unreadable one raises :class:`ModelUnavailableError` naming it as ``what``.

    The reader ``tf.train.load_checkpoint`` returns, opened on the prefix itself: given the
    package's folder, ``load_checkpoint`` would follow its ``checkpoint`` file, which names the
    author's training machine.
    """
    import tensorflow as tf

    try:
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    except Exception as error:  # NotFoundError, DataLossError, ...
        raise ModelUnavailableError(
            f"cannot read the {what} checkpoint {prefix}: {type(error).__name__}: {error}"
        ) from error
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if "/Adam" not in name and not name.endswith("_power")
    }


def assign_checkpoint(
    network: Any, variables: Mapping[str, np.ndarray], *, what: str = "MusiCNN"
) -> None:
    """Fill ``network``'s layers from checkpoint ``variables``, each layer from the variable
    scope of its name (``batch_normalization*`` layers from their four statistics, the others
    from ``kernel`` and ``bias``); any missing variable or shape mismatch raises
    :class:`ModelUnavailableError` (not a ``what`` checkpoint)."""

    def take(name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        if name not in variables:
            raise ModelUnavailableError(f"not a {what} checkpoint: it has no variable {name}")
        value = np.asarray(variables[name], dtype=np.float32)
        if shape is not None and value.size == int(np.prod(shape)):
            value = value.reshape(shape)
        return value

    for layer in network.layers:
        expected = [tuple(w.shape) for w in layer.weights]
        if not expected:
            continue
        name = layer.name
        if name.startswith("batch_normalization"):
            values = [take(f"{name}/{v}") for v in _BN_VARIABLES]
        else:  # Conv1D kernels [7, C, 64] are the checkpoint's [7, C, 1, 64]
            values = [take(f"{name}/kernel", expected[0]), take(f"{name}/bias")]
        got = [v.shape for v in values]
        if got != expected:
            raise ModelUnavailableError(
                f"not this {what}: layer {name} needs weights of shapes {expected}, the "
                f"checkpoint holds {got}"
            )
        layer.set_weights(values)


def checkpoint_sha256(prefix: str) -> str:
    """SHA-256 over a checkpoint's index and data files (its identity in fingerprints).
    ``prefix`` may be the package's ``<folder>/`` (files ``.index``, ``.data-*``)."""
    folder, stem = os.path.split(prefix)
    files = [Path(f"{prefix}.index"), *sorted(Path(folder).glob(f"{glob.escape(stem)}.data-*"))]
    digest = hashlib.sha256()
    for file in files:
        with open(file, "rb") as handle:
            for block in iter(functools.partial(handle.read, 1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class MusicnnModel:
    """A loaded network of the musicnn package: ``model(patches [b, 187, 96]) -> {"taggram"
    [b, 50], "dense" [b, 200], "penultimate" [b, 200]}`` for MusiCNN (the VGG's outputs are in
    :mod:`soundtrack_emotion.musicnn_vgg`) as float32 arrays, computed in ``precision``."""

    checkpoint: str
    model: str
    tags: tuple[str, ...]
    sha256: str
    network: Any = field(repr=False)
    _call: Any = field(repr=False)
    precision: str = FLOAT32

    def __call__(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        patches = np.asarray(patches, dtype=np.float32)
        frames = self.network.input_shape[1]  # None: any length
        if patches.ndim != 3 or patches.shape[2] != MUSICNN_N_MELS:
            raise ParameterError(f"patches must be [b, T, {MUSICNN_N_MELS}], got {patches.shape}")
        if frames is not None and patches.shape[1] != frames:
            raise ParameterError(
                f"{self.model} takes patches of exactly {frames} frames, got {patches.shape}"
            )
        return {k: np.asarray(v, dtype=np.float32) for k, v in self._call(patches).items()}


def musicnn_from_variables(
    variables: Mapping[str, np.ndarray],
    *,
    model: str = "MSD_musicnn",
    checkpoint: str = "",
    sha256: str = "",
    precision: str = FLOAT32,
) -> MusicnnModel:
    """Build the network and fill it with checkpoint ``variables`` (uncached); ``precision``
    ``bfloat16`` runs a mixed-precision clone of it (:func:`~.precision.keras_in_precision`)."""
    if model not in TAGS:
        raise ParameterError(f"unknown MusiCNN model {model!r}; known: {sorted(TAGS)}")
    network = build_musicnn_network(len(TAGS[model]))
    assign_checkpoint(network, variables)
    return model_of_network(
        network,
        model=model,
        tags=TAGS[model],
        checkpoint=checkpoint,
        sha256=sha256,
        precision=precision,
    )


def model_of_network(
    network: Any,
    *,
    model: str,
    tags: tuple[str, ...],
    checkpoint: str = "",
    sha256: str = "",
    precision: str = FLOAT32,
) -> MusicnnModel:
    """A filled Keras ``network`` of the musicnn package (patches [b, T, 96] in, a dict of
    outputs out) as a :class:`MusicnnModel` computing in ``precision``, traced once for its
    input shape."""
    import tensorflow as tf

    network = keras_in_precision(network, precision)
    call = tf.function(
        lambda x: network(x, training=False),
        input_signature=[tf.TensorSpec([None, *network.input_shape[1:]], tf.float32)],
    )
    return MusicnnModel(
        checkpoint=checkpoint,
        model=model,
        tags=tags,
        sha256=sha256,
        network=network,
        _call=call,
        precision=precision,
    )


def musicnn_from_checkpoint(
    prefix: str, *, model: str = "MSD_musicnn", precision: str = FLOAT32
) -> MusicnnModel:
    """Build the network and load the checkpoint ``prefix`` into it (uncached)."""
    return musicnn_from_variables(
        read_checkpoint(prefix),
        model=model,
        checkpoint=prefix,
        sha256=checkpoint_sha256(prefix),
        precision=precision,
    )


@functools.lru_cache(maxsize=4)
def load_musicnn(
    checkpoint: str | None = None, model: str = "MSD_musicnn", precision: str = FLOAT32
) -> MusicnnModel:
    """The MusiCNN of ``checkpoint`` (a path, or None for the set-up cache) computing in
    ``precision`` (``float32`` or ``bfloat16``, as resolved by :mod:`~.precision`), loaded
    once per process; :class:`ModelUnavailableError` says how to provide missing weights."""
    from soundtrack_emotion.core.embeddings.pretrained import musicnn_checkpoint

    prefix = musicnn_checkpoint(checkpoint, model=model)
    return musicnn_from_checkpoint(prefix, model=model, precision=precision)


# ---------------------------------------------------------------------------------- features


def musicnn_outputs(
    y: np.ndarray,
    *,
    model: MusicnnModel,
    patch_hop: float = 1.0,
    batch_patches: int = MUSICNN_BATCH_PATCHES,
) -> dict[str, np.ndarray]:
    """Every output of MusiCNN on one 16 kHz mono track ``y`` [n], one row per 187-frame
    patch every ``patch_hop`` patches: {"taggram" [n_patches, n_tags], "dense" [n_patches,
    200], "penultimate" [n_patches, 200]}, the network fed ``batch_patches`` patches at a time.
    Raises AudioDecodeError when the track is shorter than one patch."""
    if batch_patches < 1:
        raise ParameterError(f"musicnn.batch_patches must be >= 1, got {batch_patches!r}")
    hop = patch_hop_frames(patch_hop)
    logmel = musicnn_logmel(y)
    n = count_patches(len(logmel), hop_frames=hop)
    if n == 0:
        raise AudioDecodeError(
            f"{len(y) / MUSICNN_SAMPLE_RATE:.3f} s is shorter than one MusiCNN patch "
            f"({MUSICNN_PATCH_SECONDS:.3f} s)"
        )
    windows = np.lib.stride_tricks.sliding_window_view(logmel, MUSICNN_PATCH_FRAMES, axis=0)
    windows = windows[::hop][:n]  # [n, 96, 187], a view
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, n, batch_patches):
        batch = np.ascontiguousarray(windows[start : start + batch_patches].transpose(0, 2, 1))
        for name, value in model(batch).items():
            parts.setdefault(name, []).append(value)
    return {name: np.concatenate(values) for name, values in parts.items()}


def musicnn_features(
    y: np.ndarray,
    *,
    model: MusicnnModel,
    patch_hop: float = 1.0,
    batch_patches: int = MUSICNN_BATCH_PATCHES,
    layer: str = "dense",
) -> tuple[np.ndarray, np.ndarray]:
    """MusiCNN of one 16 kHz mono track ``y`` [n]: (embeddings [n_patches, 200] of ``layer``
    ([n_patches, 250] for ``"dense+taggram"``), taggram [n_patches, n_tags]); see
    :func:`musicnn_outputs` and :func:`embedding_of`."""
    out = musicnn_outputs(y, model=model, patch_hop=patch_hop, batch_patches=batch_patches)
    return embedding_of(out, layer), out["taggram"]


def embedding_of(outputs: Mapping[str, np.ndarray], layer: str) -> np.ndarray:
    """The embedding ``layer`` names from :func:`musicnn_outputs`: [n, 200], or [n, 250] for
    ``"dense+taggram"`` (the dense layer, then the tag probabilities)."""
    if layer not in MUSICNN_LAYERS:
        raise ParameterError(f"musicnn.layer must be one of {MUSICNN_LAYERS}, got {layer!r}")
    if layer == "dense+taggram":
        return np.concatenate([outputs["dense"], outputs["taggram"]], axis=1)
    return outputs[layer]
