"""Song-level scoring of a model on a split, and the closed-form ridge head.

Both stream the split shard by shard. A song's prediction is the mean of its frames'
predictions, as everywhere in the project; predictions are clipped to the labels' range
[0, 1] (:func:`clip_vad`) exactly as inference clips them, so the metrics describe what
inference outputs. Scores count only the songs that have a value of the label (songs of a
quadrant corpus have only its sign).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import layers

from soundtrack_emotion.core.architectures import pool_frames
from soundtrack_emotion.core.joint_ridge import (
    SIGN_LOSSES,
    fit_joint_ridge,
    fit_pseudo_ridge,
    pseudo_targets,
)
from soundtrack_emotion.core.vocabulary import SIGN_LABELS
from soundtrack_emotion.datasets import FrameSplit
from soundtrack_emotion.exceptions import DataValidationError, ParameterError

# The labels' range: NRC-VAD scores and every lexicon rescaled to it.
VAD_RANGE = (0.0, 1.0)
# lambda, the weight of the quadrant corpora's sign rows in the ridge's joint objective.
DEFAULT_SIGN_WEIGHT = 1.0
# How they enter it (core.joint_ridge.SIGN_LOSSES): the logistic loss of the joint objective.
DEFAULT_SIGN_LOSS = "pseudo"


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
        frame_mse=_finite_mean((predicted - true) ** 2),
        frame_mae=_finite_mean(np.abs(predicted - true)),
        song_mse=_finite_mean((song_predicted - song_true) ** 2),
    )


@dataclass(frozen=True)
class SplitResiduals:
    """Absolute errors of a model's clipped predictions on one split: ``frame`` [n, k] (each
    frame against its song's label) and ``song`` [s, k] (a song's mean prediction against its
    label); NaN where the song has no value of the label."""

    frame: np.ndarray
    song: np.ndarray


def split_residuals(
    model: keras.Model, split: FrameSplit, labels: Sequence[str], *, batch_size: int = 256
) -> SplitResiduals:
    """:class:`SplitResiduals` of ``model`` on ``split`` for ``labels`` (the conformity scores
    of a split-conformal interval when ``split`` was not fitted on)."""
    predicted, true, song_predicted, song_true = _songs(
        model.predict_on_batch, split, split.label_index(labels), batch_size
    )
    return SplitResiduals(
        frame=np.abs(clip_vad(predicted) - true), song=np.abs(clip_vad(song_predicted) - song_true)
    )


def _finite_mean(values: np.ndarray) -> float:
    """The mean over the finite entries (a song without a label's value has a NaN error);
    NaN when there are none."""
    finite = np.isfinite(values)
    return float(np.mean(values)) if finite.all() else (
        float(np.mean(values[finite])) if finite.any() else float("nan"))  # fmt: skip


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


def sign_columns(split: FrameSplit, labels: Sequence[str]) -> tuple[str, ...]:
    """The sign columns (``SIGN_LABELS``) of ``labels`` that ``split`` carries."""
    return tuple(SIGN_LABELS[label] for label in labels
                 if label in SIGN_LABELS and SIGN_LABELS[label] in split.label_names)  # fmt: skip


def label_signs(y_and_signs: np.ndarray, labels: Sequence[str], columns: Sequence[str]) -> (
        tuple[np.ndarray, np.ndarray | None]):  # fmt: skip
    """Split song labels [s, k + m] (``labels``, then the sign ``columns``) into the values
    [s, k] and the signs [s, k] (NaN for a label without a sign column), or ``None``."""
    k = len(labels)
    values = y_and_signs[:, :k]
    if not columns:
        return values, None
    signs = np.full_like(values, np.nan)
    for j, label in enumerate(labels):
        if SIGN_LABELS.get(label) in columns:
            signs[:, j] = y_and_signs[:, k + list(columns).index(SIGN_LABELS[label])]
    return values, signs


def fit_linear(
    z: np.ndarray,
    y: np.ndarray,
    alphas: Sequence[float],
    *,
    signs: np.ndarray | None = None,
    sign_weight: float = DEFAULT_SIGN_WEIGHT,
    sign_loss: str = DEFAULT_SIGN_LOSS,
) -> tuple[np.ndarray, np.ndarray]:
    """``(coef [d, k], intercept [k])`` of a linear map of standardised ``z`` [s, d] to the
    labels ``y`` [s, k], one ``alpha`` per label.

    Where every song has every value and no song has a sign (``signs`` [s, k], NaN where a
    song has none), this is scikit-learn's closed-form ridge. Otherwise each label is fitted
    on its own: on the songs with its value, by the ridge, or, where songs without its value
    have its sign and ``sign_weight > 0``, by the joint objective of
    :func:`~soundtrack_emotion.core.joint_ridge.fit_joint_ridge` (``sign_loss`` logistic: MSE
    on the values, logistic loss on the signs) or the weighted ridge of
    :func:`~soundtrack_emotion.core.joint_ridge.fit_pseudo_ridge` (``pseudo``).
    """
    if sign_loss not in SIGN_LOSSES:
        raise ParameterError(f"sign_loss must be one of {list(SIGN_LOSSES)}, got {sign_loss!r}")
    from sklearn.linear_model import Ridge

    k = y.shape[1]
    has_signs = signs is not None and bool(np.isfinite(signs).any()) and sign_weight > 0
    if not has_signs and np.isfinite(y).all():
        ridge = Ridge(alpha=np.asarray(alphas, dtype=np.float64)).fit(z, y)
        return np.asarray(ridge.coef_).reshape(k, -1).T, np.asarray(ridge.intercept_).reshape(k)
    coef, intercept = np.empty((z.shape[1], k)), np.empty(k)
    for j in range(k):
        valued = np.isfinite(y[:, j])
        if valued.sum() < 2:
            raise DataValidationError(
                f"label {j} has {valued.sum()} songs with a value: at least 2 are needed to fit "
                "it (songs of a quadrant corpus have only signs)"
            )
        signed = ~valued & (np.isfinite(signs[:, j]) if signs is not None else False)
        if has_signs and signed.any():
            fit = fit_joint_ridge if sign_loss == "logistic" else fit_pseudo_ridge
            coef[:, j], intercept[j] = fit(
                z[valued], y[valued, j], z[signed], signs[signed, j],
                alpha=float(alphas[j]), sign_weight=sign_weight,
            )  # fmt: skip
        else:
            ridge = Ridge(alpha=float(alphas[j])).fit(z[valued], y[valued, j])
            coef[:, j], intercept[j] = ridge.coef_, ridge.intercept_
    return coef, intercept


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
    *,
    signs_train: np.ndarray | None = None,
    sign_weight: float = DEFAULT_SIGN_WEIGHT,
    sign_loss: str = DEFAULT_SIGN_LOSS,
) -> np.ndarray:
    """[n_alphas, k]: each label's validation MSE (clipped predictions) of :func:`fit_linear`
    on the standardised training vectors (and their signs) with each alpha, over the
    validation songs that have the label's value."""
    mean, scale = _standardiser(x_train)
    z_train, z_val = (x_train - mean) / scale, (x_val - mean) / scale
    k = y_val.shape[1]
    if signs_train is not None and sign_loss == "pseudo" and sign_weight > 0:
        return _pseudo_validation_mse(z_train, y_train, z_val, y_val, alphas, signs=signs_train,
                                      sign_weight=sign_weight)  # fmt: skip

    def validation_mse(alpha: float) -> np.ndarray:
        coef, intercept = fit_linear(z_train, y_train, [alpha] * k, signs=signs_train,
                                     sign_weight=sign_weight, sign_loss=sign_loss)  # fmt: skip
        error = (clip_vad(z_val @ coef + intercept) - y_val) ** 2
        return np.array([_finite_mean(error[:, j]) for j in range(k)])

    return np.stack([validation_mse(a) for a in alphas])


def _pseudo_validation_mse(
    z_train: np.ndarray,
    y_train: np.ndarray,
    z_val: np.ndarray,
    y_val: np.ndarray,
    alphas: Sequence[float],
    *,
    signs: np.ndarray,
    sign_weight: float,
) -> np.ndarray:
    """:func:`ridge_validation_mse` of the pseudo-target ridge, every alpha of a label in one
    solve (its rows and weights do not depend on alpha)."""
    from sklearn.linear_model import Ridge

    mse = np.empty((len(alphas), y_val.shape[1]))
    for j in range(y_val.shape[1]):
        valued = np.isfinite(y_train[:, j])
        signed = ~valued & np.isfinite(signs[:, j])
        if signed.any():
            targets, weights = pseudo_targets(y_train[valued, j], signs[signed, j],
                                              sign_weight=sign_weight)  # fmt: skip
            x = np.concatenate([z_train[valued], z_train[signed]])
            y = np.concatenate([y_train[valued, j], targets])
        else:
            x, y, weights = z_train[valued], y_train[valued, j], np.ones(int(valued.sum()))
        ridge = Ridge(alpha=np.asarray(alphas, np.float64)).fit(
            x, np.tile(y[:, None], (1, len(alphas))), sample_weight=weights
        )
        error = (clip_vad(ridge.predict(z_val).reshape(len(z_val), -1)) - y_val[:, [j]]) ** 2
        mse[:, j] = [_finite_mean(error[:, a]) for a in range(len(alphas))]
    return mse


def ridge_predictor(
    x: np.ndarray,
    y: np.ndarray,
    alphas: Sequence[float],
    *,
    signs: np.ndarray | None = None,
    sign_weight: float = DEFAULT_SIGN_WEIGHT,
    sign_loss: str = DEFAULT_SIGN_LOSS,
) -> Any:
    """``predict(x_new) -> [n, k]`` of :func:`fit_linear` (one alpha per label, the songs'
    ``signs`` [s, k] joining it as in :func:`fit_ridge`) on standardised ``x``, clipped to
    the labels' range."""
    mean, scale = _standardiser(x)
    coef, intercept = fit_linear((x - mean) / scale, y, alphas, signs=signs,
                                 sign_weight=sign_weight, sign_loss=sign_loss)  # fmt: skip
    return lambda new: clip_vad((new - mean) / scale @ coef + intercept)


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
    sign_weight: float = DEFAULT_SIGN_WEIGHT,
    sign_loss: str = DEFAULT_SIGN_LOSS,
) -> RidgeFit:
    """Ridge regression of the labels on each song's pooled vector (:func:`song_vectors`),
    standardised, with one ``alpha`` per label chosen on the validation songs' MSE of a fit on
    the training songs; then refitted on the training and validation songs with those alphas,
    so that no labelled song goes unused.

    Songs with only the sign of a label (a quadrant corpus: the split's ``SIGN_LABELS``
    columns) join its fit through the joint objective of :func:`fit_linear` (``sign_loss``),
    weighted by ``sign_weight``; the alpha is still chosen on the validation songs that have values.
    Without such songs, the closed-form ridge.

    The models map ``[b, T, F] -> [b, k]`` (feature normaliser, pooling, standardisation and
    the solved linear layer; being linear, the mean of a song's frame predictions equals the
    prediction on its mean pooled vector, which is what was fitted).
    """
    check_alphas(alphas)
    stats = {"feature_mean": feature_mean, "feature_variance": feature_variance,
             "pooling": pooling, "batch_size": batch_size}  # fmt: skip
    columns = sign_columns(train, labels)
    if columns != sign_columns(validation, labels):
        raise DataValidationError("the training and validation inputs carry different labels")
    x_train, y_train, _ = song_vectors(train, (*labels, *columns), **stats)
    x_val, y_val, _ = song_vectors(validation, (*labels, *columns), **stats)
    (y_train, s_train), (y_val, s_val) = (label_signs(y, labels, columns)
                                          for y in (y_train, y_val))  # fmt: skip
    unscored = [label for j, label in enumerate(labels) if not np.isfinite(y_val[:, j]).any()]
    if unscored:
        raise DataValidationError(f"no validation song has a value of {unscored}: the ridge's "
                                  "alpha is chosen on them")  # fmt: skip
    val_mse = ridge_validation_mse(x_train, y_train, x_val, y_val, alphas,
                                   signs_train=s_train, sign_weight=sign_weight,
                                   sign_loss=sign_loss)  # fmt: skip
    chosen = [float(alphas[i]) for i in np.argmin(val_mse, axis=0)]

    def linear(x: np.ndarray, y: np.ndarray, signs: np.ndarray | None) -> keras.Model:
        pooled = _pooled_input(train.frame_shape, feature_mean, feature_variance, pooling)
        return _linear_model(pooled, x, y, chosen, signs=signs,
                             sign=(sign_weight, sign_loss))  # fmt: skip

    selection_model = linear(x_train, y_train, s_train)
    both = None if s_train is None else np.concatenate([s_train, s_val])
    refit = linear(np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]), both)
    return RidgeFit(model=refit, selection_model=selection_model, alphas=chosen)


def _linear_model(
    pooled_input: tuple[Any, Any],
    x: np.ndarray,
    y: np.ndarray,
    alphas: Sequence[float],
    *,
    signs: np.ndarray | None,
    sign: tuple[float, str],
) -> keras.Model:
    """The pooled input, standardised, and :func:`fit_linear` solved on ``(x, y)`` (and the
    songs' ``signs``), as Keras layers."""
    mean, scale = _standardiser(x)
    coef, intercept = fit_linear((x - mean) / scale, y, alphas, signs=signs,
                                 sign_weight=sign[0], sign_loss=sign[1])  # fmt: skip
    k = y.shape[1]
    frames, pooled = pooled_input
    standardised = layers.Normalization(
        axis=-1,
        mean=mean.astype(np.float32),
        variance=(scale**2).astype(np.float32),
        name="pooled_standardiser",
    )(pooled)
    output = layers.Dense(k, name="vad")
    model = keras.Model(frames, output(standardised), name="ridge")
    output.set_weights([coef.astype(np.float32), intercept.astype(np.float32)])
    return model
