"""Song-level scoring of a model on a split, and the closed-form ridge head.

Both stream the split shard by shard. A song's prediction is the mean of its frames'
predictions, as everywhere in the project; predictions are clipped to the labels' range
[0, 1] (:func:`clip_vad`) exactly as inference clips them, so the metrics describe what
inference outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import layers

from soundtrack_emotion.core.architectures import pool_frames
from soundtrack_emotion.datasets import FrameSplit
from soundtrack_emotion.exceptions import DataValidationError, ParameterError

# The labels' range: NRC-VAD scores and every lexicon rescaled to it.
VAD_RANGE = (0.0, 1.0)


def clip_vad(values: np.ndarray) -> np.ndarray:
    """Predictions clipped to the labels' range [0, 1] (the same rule in tests and inference)."""
    return np.clip(values, *VAD_RANGE)


@dataclass(frozen=True)
class SplitScores:
    """MSE of a model on one split: frame level and song level (clipped predictions)."""

    frame_mse: float
    frame_mae: float
    song_mse: float


def _songs(
    predict: keras.Model, split: FrameSplit, columns: Sequence[int], batch_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame outputs and per-song means: (frame outputs [n, k], frame targets [n, k],
    song output means [s, k], song targets [s, k])."""
    outputs, targets, songs = [], [], []
    for chunk in split.iter_chunks():
        for start in range(0, len(chunk), batch_size):
            outputs.append(np.asarray(predict(chunk.frames[start : start + batch_size])))
        targets.append(chunk.labels[:, list(columns)])
        songs.append(chunk.song_id.astype(str))
    if not outputs:
        raise DataValidationError(f"{split.path} has no frames to score")
    out = np.concatenate(outputs).astype(np.float64)
    true = np.concatenate(targets).astype(np.float64)
    song_ids = np.concatenate(songs)
    _, inverse = np.unique(song_ids, return_inverse=True)
    counts = np.bincount(inverse)[:, None]
    song_out = np.stack([np.bincount(inverse, weights=c) for c in out.T], axis=1) / counts
    song_true = np.stack([np.bincount(inverse, weights=c) for c in true.T], axis=1) / counts
    return out, true, song_out, song_true


def score_split(
    model: keras.Model, split: FrameSplit, labels: Sequence[str], *, batch_size: int = 256
) -> SplitScores:
    """Frame- and song-level MSE (and frame MAE) of ``model`` on ``split`` for ``labels``,
    predictions clipped to [0, 1]."""
    predicted, true, song_predicted, song_true = _songs(
        model.predict_on_batch, split, split.label_index(labels), batch_size
    )
    predicted, song_predicted = clip_vad(predicted), clip_vad(song_predicted)
    return SplitScores(
        frame_mse=float(np.mean((predicted - true) ** 2)),
        frame_mae=float(np.mean(np.abs(predicted - true))),
        song_mse=float(np.mean((song_predicted - song_true) ** 2)),
    )


class SongValidation(keras.callbacks.Callback):
    """Adds ``val_loss``/``val_mae`` (frame level) and ``val_song_loss`` (song level: a song's
    prediction is the mean of its frames') to each epoch's logs, so early stopping can watch
    the song-level loss the project reports. Put it before the callbacks that read them."""

    def __init__(self, split: FrameSplit, labels: Sequence[str], *, batch_size: int) -> None:
        super().__init__()
        self.split, self.labels, self.batch_size = split, tuple(labels), batch_size

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        scores = score_split(self.model, self.split, self.labels, batch_size=self.batch_size)
        logs.update(
            val_loss=scores.frame_mse, val_mae=scores.frame_mae, val_song_loss=scores.song_mse
        )


@dataclass(frozen=True)
class RidgeFit:
    """The ridge head: ``model`` refitted on the training and validation songs with the
    chosen ``alphas`` (what is saved), and ``selection_model``, fitted on the training songs
    alone, whose validation MSE chose them (what the validation loss describes)."""

    model: keras.Model
    selection_model: keras.Model
    alphas: list[float]


def song_vectors(
    split: FrameSplit,
    labels: Sequence[str],
    *,
    feature_mean: Sequence[float],
    feature_variance: Sequence[float],
    pooling: str = "statistics",
    batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each song's pooled vector (the mean over its frames of :func:`pool_frames` of the
    normalised frame: [s, 2F] or [s, F]), its labels [s, k] and its id [s], songs sorted."""
    pooler = _pooler(split.frame_shape, feature_mean, feature_variance, pooling)
    _, _, x, y = _songs(pooler.predict_on_batch, split, split.label_index(labels), batch_size)
    return x, y, np.unique(split.song_ids())


def _pooled_input(
    frame_shape: tuple[int, int],
    feature_mean: Sequence[float],
    feature_variance: Sequence[float],
    pooling: str,
) -> tuple[Any, Any]:
    """The input ``frames`` [b, T, F] and its normalised, pooled vector, as Keras tensors."""
    frames = keras.Input(shape=tuple(frame_shape), name="frames")
    normalised = layers.Normalization(
        axis=-1,
        mean=np.asarray(feature_mean, dtype=np.float32),
        variance=np.asarray(feature_variance, dtype=np.float32),
        name="feature_normaliser",
    )(frames)
    return frames, pool_frames(normalised, pooling=pooling)


def _pooler(
    frame_shape: tuple[int, int],
    feature_mean: Sequence[float],
    feature_variance: Sequence[float],
    pooling: str,
) -> keras.Model:
    return keras.Model(*_pooled_input(frame_shape, feature_mean, feature_variance, pooling))


def check_alphas(alphas: Sequence[float]) -> None:
    if not alphas or any(not (isinstance(a, int | float) and a > 0) for a in alphas):
        raise ParameterError(f"ridge alphas must be positive numbers, got {list(alphas)!r}")


def ridge_validation_mse(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    alphas: Sequence[float],
) -> np.ndarray:
    """[n_alphas, k]: each label's validation MSE (clipped predictions) of a ridge fitted on
    the standardised training vectors with each alpha."""
    from sklearn.linear_model import Ridge

    mean, scale = _standardiser(x_train)
    z_train, z_val = (x_train - mean) / scale, (x_val - mean) / scale

    def validation_mse(alpha: float) -> np.ndarray:
        predicted = Ridge(alpha=alpha).fit(z_train, y_train).predict(z_val)
        return np.mean((clip_vad(predicted.reshape(y_val.shape)) - y_val) ** 2, axis=0)

    return np.stack([validation_mse(a) for a in alphas])


def ridge_predictor(x: np.ndarray, y: np.ndarray, alphas: Sequence[float]) -> Any:
    """``predict(x_new) -> [n, k]`` of a ridge (one alpha per label) fitted on standardised
    ``x``, clipped to the labels' range."""
    from sklearn.linear_model import Ridge

    mean, scale = _standardiser(x)
    ridge = Ridge(alpha=np.asarray(alphas, dtype=np.float64)).fit((x - mean) / scale, y)
    return lambda new: clip_vad(ridge.predict((new - mean) / scale).reshape(len(new), -1))


def _standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), np.maximum(x.std(axis=0), keras.config.epsilon())


def fit_ridge(
    train: FrameSplit,
    validation: FrameSplit,
    labels: Sequence[str],
    *,
    feature_mean: Sequence[float],
    feature_variance: Sequence[float],
    alphas: Sequence[float],
    pooling: str = "statistics",
    batch_size: int = 256,
) -> RidgeFit:
    """Ridge regression of the labels on each song's pooled vector (:func:`song_vectors`),
    standardised, with one ``alpha`` per label chosen on the validation songs' MSE of a fit on
    the training songs; then refitted on the training and validation songs with those alphas,
    so that no labelled song goes unused.

    The models map ``[b, T, F] -> [b, k]`` (feature normaliser, pooling, standardisation and
    the solved linear layer; being linear, the mean of a song's frame predictions equals the
    prediction on its mean pooled vector, which is what was fitted).
    """
    check_alphas(alphas)
    stats = {"feature_mean": feature_mean, "feature_variance": feature_variance,
             "pooling": pooling, "batch_size": batch_size}  # fmt: skip
    x_train, y_train, _ = song_vectors(train, labels, **stats)
    x_val, y_val, _ = song_vectors(validation, labels, **stats)
    val_mse = ridge_validation_mse(x_train, y_train, x_val, y_val, alphas)
    chosen = [float(alphas[i]) for i in np.argmin(val_mse, axis=0)]

    def linear(x: np.ndarray, y: np.ndarray) -> keras.Model:
        pooled = _pooled_input(train.frame_shape, feature_mean, feature_variance, pooling)
        return _linear_model(pooled, x, y, chosen, len(labels))

    selection_model = linear(x_train, y_train)
    refit = linear(np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]))
    return RidgeFit(model=refit, selection_model=selection_model, alphas=chosen)


def _linear_model(
    pooled_input: tuple[Any, Any], x: np.ndarray, y: np.ndarray, alphas: Sequence[float], k: int
) -> keras.Model:
    """The pooled input, standardised, and the ridge solved on ``(x, y)``, as Keras layers."""
    from sklearn.linear_model import Ridge

    mean, scale = _standardiser(x)
    ridge = Ridge(alpha=np.asarray(alphas)).fit((x - mean) / scale, y)
    frames, pooled = pooled_input
    standardised = layers.Normalization(
        axis=-1,
        mean=mean.astype(np.float32),
        variance=(scale**2).astype(np.float32),
        name="pooled_standardiser",
    )(pooled)
    output = layers.Dense(k, name="vad")
    model = keras.Model(frames, output(standardised), name="ridge")
    output.set_weights(
        [
            np.asarray(ridge.coef_, dtype=np.float32).reshape(k, -1).T,
            np.asarray(ridge.intercept_, dtype=np.float32).reshape(k),
        ]
    )
    return model
