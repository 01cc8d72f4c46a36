"""The regression networks: the thesis's CNN and LSTM (section 4.2) and, beyond it, a BiLSTM
and a small Transformer encoder (its future work, chapter 6), and two heads for small real
corpora and pooled pretrained embeddings: ``ridge`` (a linear model on the statistics-pooled
frame, solved in closed form, see ``modelling.heads``), ``mlp`` (one regularised hidden layer
on the same pooled statistics) and ``conv1d`` (convolutions over time for embedding families,
whose feature axis has no order; the thesis's CNN convolves over the (time, MFCC) plane).

Every model maps a batch of frames ``[b, T, F]`` (T time steps of F features: (323, 13) for 15 s
of MFCC, (15, 128) for 15 s of VGGish) to ``[b, n_outputs]`` VAD values. It starts with a
``Normalization`` layer holding the training set's per-feature mean and variance, so a saved
model takes raw features, and ends with the thesis's dense head (128, 128, 64, linear output).
Only built-in Keras layers are used, so the ``.keras`` files load with ``safe_mode=True``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
from keras import layers

from soundtrack_emotion.core.vocabulary import NETWORKS
from soundtrack_emotion.exceptions import ParameterError


def _cnn_body(frames: Any, *, conv_filters: Sequence[int], kernel_size: int, pool_size: int) -> Any:
    """Conv2D + max-pooling blocks over the (time, feature) plane, flattened."""
    x = layers.Reshape((*frames.shape[1:], 1), name="as_image")(frames)
    for filters in conv_filters:
        x = layers.Conv2D(filters, kernel_size, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(pool_size, padding="same")(x)
    return layers.Flatten()(x)


def _lstm_body(frames: Any, *, units: int) -> Any:
    """One LSTM layer; its last hidden state summarises the frame."""
    return layers.LSTM(units)(frames)


def _bilstm_body(frames: Any, *, units: int) -> Any:
    """One bidirectional LSTM layer (``units`` per direction), last states concatenated."""
    return layers.Bidirectional(layers.LSTM(units))(frames)


def _transformer_body(
    frames: Any,
    *,
    model_dim: int,
    num_heads: int,
    feedforward_dim: int,
    num_layers: int,
    dropout: float,
    positional_kernel: int,
) -> Any:
    """Post-norm Transformer encoder blocks, mean-pooled over time."""
    if model_dim % num_heads:
        raise ParameterError(f"model_dim {model_dim} is not divisible by num_heads {num_heads}")
    x = layers.Dense(model_dim, name="projection")(frames)
    # Attention is blind to order; a convolution over time adds relative position information,
    # as wav2vec 2.0 does, with built-in layers only (no custom layer to register on load).
    position = layers.Conv1D(
        model_dim, positional_kernel, padding="same", activation="gelu", name="position"
    )(x)
    x = layers.LayerNormalization()(layers.Add()([x, position]))
    for _ in range(num_layers):
        attended = layers.MultiHeadAttention(
            num_heads, key_dim=model_dim // num_heads, dropout=dropout
        )(x, x)
        x = layers.LayerNormalization()(layers.Add()([x, layers.Dropout(dropout)(attended)]))
        hidden = layers.Dense(feedforward_dim, activation="gelu")(x)
        hidden = layers.Dense(model_dim)(hidden)
        x = layers.LayerNormalization()(layers.Add()([x, layers.Dropout(dropout)(hidden)]))
    return layers.GlobalAveragePooling1D()(x)


def statistics_pooling(frames: Any) -> Any:
    """[b, T, F] -> [b, 2F]: each feature's mean and variance over the frame's time steps
    (``E[x^2] - E[x]^2``, built-in layers only)."""
    mean = layers.GlobalAveragePooling1D(name="time_mean")(frames)
    mean_square = layers.GlobalAveragePooling1D(name="time_mean_square")(
        layers.Multiply(name="square")([frames, frames])
    )
    variance = layers.Subtract(name="time_variance")(
        [mean_square, layers.Multiply(name="mean_squared")([mean, mean])]
    )
    return layers.Concatenate(name="pooled_statistics")([mean, variance])


# How a frame [b, T, F] becomes one vector: each feature's mean and variance over time
# ([b, 2F]), or its mean alone ([b, F]; averaged over a song's frames by the song-level
# scoring, this is the song's mean embedding: fewer inputs than songs on a small corpus).
POOLINGS: tuple[str, ...] = ("statistics", "mean")


def pool_frames(frames: Any, *, pooling: str) -> Any:
    """[b, T, F] -> [b, 2F] (``statistics``) or [b, F] (``mean``)."""
    if pooling not in POOLINGS:
        raise ParameterError(f"pooling must be one of {list(POOLINGS)}, got {pooling!r}")
    if pooling == "mean":
        return layers.GlobalAveragePooling1D(name="time_mean")(frames)
    return statistics_pooling(frames)


def _ridge_body(frames: Any, *, pooling: str) -> Any:
    """The pooled frame; the linear output layer is solved, not trained."""
    return pool_frames(frames, pooling=pooling)


def _mlp_body(
    frames: Any, *, hidden_units: int, dropout: float, weight_decay: float, pooling: str
) -> Any:
    """Pooled frame -> dropout -> one ReLU layer with L2 weight decay -> dropout."""
    x = layers.Dropout(dropout)(pool_frames(frames, pooling=pooling))
    x = layers.Dense(
        hidden_units,
        activation="relu",
        kernel_regularizer=keras.regularizers.L2(weight_decay),
        name="hidden",
    )(x)
    return layers.Dropout(dropout)(x)


def _conv1d_body(
    frames: Any, *, conv_filters: Sequence[int], kernel_size: int, dropout: float
) -> Any:
    """Conv1D blocks over time (the F embedding units are the channels: they have no order to
    convolve across), then the mean over time and dropout."""
    x = frames
    for filters in conv_filters:
        x = layers.Conv1D(filters, kernel_size, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling1D(name="time_mean")(x)
    return layers.Dropout(dropout)(x)


BODIES: dict[str, Callable[..., Any]] = {
    "cnn": _cnn_body,
    "lstm": _lstm_body,
    "bilstm": _bilstm_body,
    "transformer": _transformer_body,
    "ridge": _ridge_body,
    "kernel": _ridge_body,
    "mlp": _mlp_body,
    "conv1d": _conv1d_body,
}
# Networks whose output layer is solved in closed form rather than trained by gradient descent
# (built by ``modelling.heads``, not :func:`build_model`).
CLOSED_FORM: tuple[str, ...] = ("ridge", "kernel")
TRAINED_NETWORKS: tuple[str, ...] = tuple(n for n in BODIES if n not in CLOSED_FORM)
if tuple(BODIES) != NETWORKS:  # the vocabulary names exactly the networks built here
    raise ImportError(f"vocabulary.NETWORKS {NETWORKS} differs from the bodies {tuple(BODIES)}")


def _check_architecture(network: str, architecture: Mapping[str, Any]) -> dict[str, Any]:
    body = BODIES[network]
    expected = {
        name
        for name, p in inspect.signature(body).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    } | {"dense_units"}
    given = set(architecture)
    if given != expected:
        raise ParameterError(
            f"architecture of {network!r}: unknown {sorted(given - expected)}, "
            f"missing {sorted(expected - given)}"
        )
    for name, value in architecture.items():
        values = value if isinstance(value, Sequence) else [value]
        if name == "pooling":
            if value not in POOLINGS:
                raise ParameterError(f"{network}.pooling must be one of {list(POOLINGS)}, "
                                     f"got {value!r}")  # fmt: skip
        elif name == "dropout":
            if not 0.0 <= value < 1.0:
                raise ParameterError(f"{network}.dropout must be in [0, 1), got {value}")
        elif name == "weight_decay":
            if not (isinstance(value, int | float) and value >= 0):
                raise ParameterError(f"{network}.weight_decay must be >= 0, got {value!r}")
        elif not all(isinstance(v, int) and v >= 1 for v in values):
            raise ParameterError(f"{network}.{name} must be positive integers, got {value!r}")
    return dict(architecture)


def build_model(
    network: str,
    *,
    frame_shape: tuple[int, int],
    n_outputs: int,
    feature_mean: Sequence[float],
    feature_variance: Sequence[float],
    architecture: Mapping[str, Any],
    label_mean: Sequence[float] | None = None,
    label_variance: Sequence[float] | None = None,
) -> keras.Model:
    """Build an uncompiled regressor ``[b, T, F] -> [b, n_outputs]``.

    Args:
        network: one of :data:`NETWORKS`.
        frame_shape: ``(T, F)`` of one frame.
        n_outputs: 1 for a per-label model, 3 for the joint VAD model.
        feature_mean, feature_variance: ``[F]`` training statistics for the input normaliser.
        architecture: the network's sizes (``parameters_modelling.yml``), ``dense_units``
            included.
        label_mean, label_variance: ``[n_outputs]`` training label statistics: given, the
            network predicts standardised labels (layer ``standardised_vad``) and its last
            layer, ``vad``, maps them back, so the saved model outputs labels as any other.
    """
    if network not in BODIES:
        raise ParameterError(f"unknown network {network!r}; known: {list(NETWORKS)}")
    if network in CLOSED_FORM:
        raise ParameterError(f"{network!r} is solved in closed form: use modelling.heads")
    sizes = _check_architecture(network, architecture)
    dense_units = sizes.pop("dense_units")
    n_features = frame_shape[-1]
    if len(feature_mean) != n_features or len(feature_variance) != n_features:
        raise ParameterError(
            f"normaliser has {len(feature_mean)} means and {len(feature_variance)} variances "
            f"for {n_features} features"
        )
    frames = keras.Input(shape=tuple(frame_shape), name="frames")
    x = layers.Normalization(
        axis=-1,
        mean=np.asarray(feature_mean, dtype=np.float32),
        variance=np.asarray(feature_variance, dtype=np.float32),
        name="feature_normaliser",
    )(frames)
    x = BODIES[network](x, **sizes)
    for units in dense_units:
        x = layers.Dense(units, activation="relu")(x)
    if label_mean is None or label_variance is None:
        return keras.Model(frames, layers.Dense(n_outputs, name="vad")(x), name=network)
    if len(label_mean) != n_outputs or len(label_variance) != n_outputs:
        raise ParameterError(f"label standardisation needs {n_outputs} means and variances")
    standardised = layers.Dense(n_outputs, name="standardised_vad")(x)
    outputs = layers.Normalization(
        axis=-1,
        mean=np.asarray(label_mean, dtype=np.float32),
        variance=np.asarray(label_variance, dtype=np.float32),
        invert=True,
        name="vad",
    )(standardised)
    return keras.Model(frames, outputs, name=network)
