"""Song-level scoring of a model on a split, and the closed-form heads (``CLOSED_FORM_HEADS``:
the linear ridge and the RBF kernel ridge).

Both stream the split shard by shard. A song's prediction is the mean of its frames'
predictions, as everywhere in the project; predictions are clipped to the labels' range
[0, 1] (:func:`clip_vad`) exactly as inference clips them, so the metrics describe what
inference outputs. Scores count only the songs that have a value of the label (songs of a
quadrant corpus have only its sign).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
from soundtrack_emotion.core.kernel_ridge import (
    KernelSolution,
    check_grid,
    fit_kernel_ridge,
    kernel_ridge_path,
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
    predict: keras.Model,
    split: FrameSplit,
    columns: Sequence[int],
    batch_size: int,
    *,
    clip: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame outputs and per-song means: (frame outputs [n, k], frame targets [n, k],
    song output means [s, k], song targets [s, k]). ``clip``: the outputs are predictions,
    clipped to the labels' range frame by frame before a song's mean, as inference does."""
    outputs, targets, songs = [], [], []
    for chunk in split.iter_chunks():
        for start in range(0, len(chunk), batch_size):
            outputs.append(np.asarray(predict(chunk.frames[start : start + batch_size])))
        targets.append(chunk.labels[:, list(columns)])
        songs.append(chunk.song_id.astype(str))
    if not outputs:
        raise DataValidationError(f"{split.path} has no frames to score")
    out = np.concatenate(outputs).astype(np.float64)
    if clip:
        out = clip_vad(out)
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
        model.predict_on_batch, split, split.label_index(labels), batch_size, clip=True
    )
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
        model.predict_on_batch, split, split.label_index(labels), batch_size, clip=True
    )
    return SplitResiduals(frame=np.abs(predicted - true), song=np.abs(song_predicted - song_true))


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
class ClosedFormFit:
    """A closed-form head: ``model`` refitted on the training and validation songs with the
    hyper-parameters ``chosen`` per label (what is saved), and ``selection_model``, fitted on
    the training songs alone, whose validation MSE chose them (what the validation loss
    describes)."""

    model: keras.Model
    selection_model: keras.Model
    chosen: list[Any]


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
    column_weights: Sequence[float] | None = None,
) -> np.ndarray:
    """[n_alphas, k]: each label's validation MSE (clipped predictions) of :func:`fit_linear`
    on the standardised training vectors (and their signs) with each alpha, over the
    validation songs that have the label's value."""
    mean, scale = _standardiser(x_train, column_weights)
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


def _standardiser(
    x: np.ndarray, column_weights: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each pooled column's mean and scale: its standard deviation divided by its column's
    weight (the feature normaliser's ``weights`` [F], repeated for each pooled statistic of
    [s, 2F] vectors), so that ``(x - mean) / scale`` is standardised, then weighted."""
    scale = np.maximum(x.std(axis=0), keras.config.epsilon())
    if column_weights is not None:
        weights = np.asarray(column_weights, dtype=np.float64)
        if x.shape[1] % len(weights):
            raise DataValidationError(
                f"{len(weights)} column weights for pooled vectors of {x.shape[1]} columns"
            )
        scale = scale / np.tile(weights, x.shape[1] // len(weights))
    return x.mean(axis=0), scale


# ---------------------------------------------------------------- the RBF kernel ridge head


def kernel_grid(training: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The kernel head's candidates ``(alpha, gamma)``, every alpha for each gamma in turn."""
    alphas = check_grid("alphas", training["alphas"])
    return [(alpha, gamma) for gamma in check_grid("gammas", training["gammas"])
            for alpha in alphas]  # fmt: skip


def _kernel_rows(
    z: np.ndarray, y: np.ndarray, j: int, *, signs: np.ndarray | None, sign_weight: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label ``j``'s rows of a kernel fit: the songs with its value, then (where ``signs``
    give it and ``sign_weight > 0``) the sign songs as pseudo targets
    (``core.joint_ridge.pseudo_targets``): ``(z rows, targets, weights)``."""
    valued = np.isfinite(y[:, j])
    if valued.sum() < 2:
        raise DataValidationError(
            f"label {j} has {valued.sum()} songs with a value: at least 2 are needed to fit it"
        )
    signed = ~valued & (np.isfinite(signs[:, j]) if signs is not None else False)
    if not (sign_weight > 0 and np.any(signed)):
        return z[valued], y[valued, j], np.ones(int(valued.sum()))
    targets, weights = pseudo_targets(y[valued, j], signs[signed, j], sign_weight=sign_weight)
    return np.concatenate([z[valued], z[signed]]), np.concatenate([y[valued, j], targets]), weights


def _check_kernel_signs(sign_loss: str) -> None:
    if sign_loss != "pseudo":
        raise ParameterError(f"the kernel head takes sign songs as pseudo targets only "
                             f"(sign_loss: pseudo), got sign_loss {sign_loss!r}")  # fmt: skip


def kernel_validation_mse(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    grid: Sequence[tuple[float, float]],
    *,
    signs_train: np.ndarray | None = None,
    sign_weight: float = DEFAULT_SIGN_WEIGHT,
    sign_loss: str = DEFAULT_SIGN_LOSS,
    column_weights: Sequence[float] | None = None,
) -> np.ndarray:
    """[len(grid), k]: each label's validation MSE (clipped predictions) of the kernel ridge
    with each ``(alpha, gamma)`` of ``grid``, fitted on the standardised training vectors
    (and their sign songs), over the validation songs with the label's value."""
    _check_kernel_signs(sign_loss)
    mean, scale = _standardiser(x_train, column_weights)
    z_train, z_val = (x_train - mean) / scale, (x_val - mean) / scale
    mse = np.empty((len(grid), y_val.shape[1]))
    for j in range(y_val.shape[1]):
        rows, targets, weights = _kernel_rows(z_train, y_train, j, signs=signs_train,
                                              sign_weight=sign_weight)  # fmt: skip
        for gamma in dict.fromkeys(g for _, g in grid):
            at = [i for i, (_, g) in enumerate(grid) if g == gamma]
            predicted = kernel_ridge_path(rows, targets, z_val, weights=weights, gamma=gamma,
                                          alphas=[grid[i][0] for i in at])  # fmt: skip
            error = (clip_vad(predicted) - y_val[:, [j]]) ** 2
            mse[at, j] = [_finite_mean(error[:, a]) for a in range(len(at))]
    return mse


def fit_kernel(
    z: np.ndarray,
    y: np.ndarray,
    chosen: Sequence[tuple[float, float]],
    *,
    signs: np.ndarray | None = None,
    sign_weight: float = DEFAULT_SIGN_WEIGHT,
    sign_loss: str = DEFAULT_SIGN_LOSS,
) -> list[KernelSolution]:
    """One :class:`~soundtrack_emotion.core.kernel_ridge.KernelSolution` per label of ``y``
    [s, k] on standardised ``z`` [s, d], with its chosen ``(alpha, gamma)``."""
    _check_kernel_signs(sign_loss)
    solutions = []
    for j, (alpha, gamma) in enumerate(chosen):
        rows, targets, weights = _kernel_rows(z, y, j, signs=signs, sign_weight=sign_weight)
        solutions.append(fit_kernel_ridge(rows, targets, alpha=alpha, gamma=gamma,
                                          weights=weights))  # fmt: skip
    return solutions


def _kernel_output(standardised: Any, solutions: Sequence[KernelSolution]) -> Any:
    """The kernel ridge as built-in Keras layers on ``standardised`` [b, d] -> [b, k]:
    ``exp(-g |x - c|^2) = exp(-g |x|^2 + 2 g x.c - g |c|^2)`` is a Dense layer with the
    exponential activation on ``[x^2, x]``, one block of centres per label, then a Dense layer
    with each label's dual weights on its block (so the file loads with ``safe_mode``)."""
    d = solutions[0].centres.shape[1]
    kernel_weights, kernel_bias, blocks = [], [], []
    for solution in solutions:
        g, centres = solution.gamma, solution.centres
        kernel_weights.append(np.concatenate([np.full((d, len(centres)), -g), 2 * g * centres.T]))
        kernel_bias.append(-g * (centres**2).sum(axis=1))
        blocks.append(len(centres))
    squares = layers.Multiply(name="squared")([standardised, standardised])
    both = layers.Concatenate(name="squared_and_linear")([squares, standardised])
    kernels = layers.Dense(sum(blocks), activation="exponential", name="rbf_kernels")
    output = layers.Dense(len(solutions), name="vad")
    result = output(kernels(both))
    kernels.set_weights([np.concatenate(kernel_weights, axis=1).astype(np.float32),
                         np.concatenate(kernel_bias).astype(np.float32)])  # fmt: skip
    dual = np.zeros((sum(blocks), len(solutions)), dtype=np.float32)
    for j, start in enumerate(np.cumsum([0, *blocks[:-1]])):
        dual[start : start + blocks[j], j] = solutions[j].dual
    output.set_weights([dual, np.array([s.intercept for s in solutions], dtype=np.float32)])
    return result


# ------------------------------------------------------------- the closed-form heads, by name


@dataclass(frozen=True)
class ClosedFormHead:
    """How a closed-form network is fitted: its hyper-parameter candidates from its
    ``training`` parameters, each candidate's validation MSE per label ([candidates, k]),
    and a solver whose fit on standardised song vectors predicts (``predict``) and becomes
    the saved model's last layers (``output``)."""

    grid: Callable[[Mapping[str, Any]], list[Any]]
    validation_mse: Callable[..., np.ndarray]
    solve: Callable[..., Any]
    predict: Callable[[Any, np.ndarray], np.ndarray]
    output: Callable[[Any, Any], Any]
    training_keys: frozenset[str]
    # How the log names one label's chosen candidate.
    chosen_name: str


def _linear_output(standardised: Any, solved: tuple[np.ndarray, np.ndarray]) -> Any:
    coef, intercept = solved
    output = layers.Dense(coef.shape[1], name="vad")
    result = output(standardised)
    output.set_weights([coef.astype(np.float32), intercept.astype(np.float32)])
    return result


_SIGN_KEYS = frozenset({"sign_weight", "sign_loss"})
CLOSED_FORM_HEADS: dict[str, ClosedFormHead] = {
    "ridge": ClosedFormHead(
        grid=lambda training: [float(a) for a in training["alphas"]],
        validation_mse=ridge_validation_mse,
        solve=fit_linear,
        predict=lambda solved, z: z @ solved[0] + solved[1],
        output=_linear_output,
        training_keys=frozenset({"alphas"}),
        chosen_name="alpha",
    ),
    "kernel": ClosedFormHead(
        grid=kernel_grid,
        validation_mse=kernel_validation_mse,
        solve=fit_kernel,
        predict=lambda solved, z: np.stack([s.predict(z) for s in solved], axis=1),
        output=_kernel_output,
        training_keys=frozenset({"alphas", "gammas"}),
        chosen_name="(alpha, gamma)",
    ),
}


def closed_form_head(network: str) -> ClosedFormHead:
    """The closed-form head called ``network``; ``ParameterError`` names the known ones."""
    try:
        return CLOSED_FORM_HEADS[network]
    except KeyError:
        raise ParameterError(f"{network!r} is not a closed-form head; known: "
                             f"{list(CLOSED_FORM_HEADS)}") from None  # fmt: skip


def check_closed_form_training(network: str, training: Mapping[str, Any]) -> None:
    """``training`` has the head's keys (optionally the sign songs' ``sign_weight`` and
    ``sign_loss``) and a valid grid; ``ParameterError`` says what is wrong."""
    head = closed_form_head(network)
    if not head.training_keys <= set(training) <= head.training_keys | _SIGN_KEYS:
        raise ParameterError(
            f"training parameters of {network!r} must be {sorted(head.training_keys)} "
            f"(optional {sorted(_SIGN_KEYS)}), got {sorted(training)}"
        )
    if training.get("sign_loss", DEFAULT_SIGN_LOSS) not in SIGN_LOSSES:
        raise ParameterError(f"sign_loss must be one of {list(SIGN_LOSSES)}, got "
                             f"{training['sign_loss']!r}")  # fmt: skip
    check_alphas(training["alphas"])
    head.grid(training)
    weight = training.get("sign_weight", DEFAULT_SIGN_WEIGHT)
    if not (isinstance(weight, int | float) and not isinstance(weight, bool) and weight >= 0):
        raise ParameterError(f"sign_weight must be a number >= 0, got {weight!r}")


def closed_form_predictor(
    network: str,
    x: np.ndarray,
    y: np.ndarray,
    chosen: Sequence[Any],
    *,
    signs: np.ndarray | None = None,
    sign_weight: float = DEFAULT_SIGN_WEIGHT,
    sign_loss: str = DEFAULT_SIGN_LOSS,
    column_weights: Sequence[float] | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """``predict(x_new) -> [n, k]`` of the head ``network`` solved on standardised ``x`` with
    each label's ``chosen`` hyper-parameters (the songs' ``signs`` [s, k] joining it as in
    :func:`fit_closed_form`), clipped to the labels' range."""
    head = closed_form_head(network)
    mean, scale = _standardiser(x, column_weights)
    solved = head.solve((x - mean) / scale, y, chosen, signs=signs, sign_weight=sign_weight,
                        sign_loss=sign_loss)  # fmt: skip
    return lambda new: clip_vad(head.predict(solved, (new - mean) / scale))


def fit_closed_form(
    network: str,
    train: FrameSplit,
    validation: FrameSplit,
    labels: Sequence[str],
    *,
    feature_mean: Sequence[float],
    feature_variance: Sequence[float],
    training: Mapping[str, Any],
    pooling: str = "statistics",
    batch_size: int = 256,
    column_weights: Sequence[float] | None = None,
) -> ClosedFormFit:
    """The closed-form head ``network`` (the linear ridge, or the RBF kernel ridge) of the
    labels on each song's pooled vector (:func:`song_vectors`), standardised, with its
    hyper-parameters per label (``alpha``; the kernel's ``alpha`` and ``gamma``) chosen on
    the validation songs' MSE of a fit on the training songs; then refitted on the training
    and validation songs with them, so that no labelled song goes unused.

    Songs with only the sign of a label (a quadrant corpus: the split's ``SIGN_LABELS``
    columns) join its fit (``training.sign_loss``: the joint objective of :func:`fit_linear`,
    or pseudo targets), weighted by ``sign_weight``; the choice is still made on the
    validation songs that have values.

    The models map ``[b, T, F] -> [b, k]`` (feature normaliser, pooling, standardisation and
    the solved layers). The linear ridge's mean of a song's frame predictions equals the
    prediction on its mean pooled vector, which is what was fitted; the kernel ridge, fitted
    on the songs' mean vectors, scores each frame as a song and a song by the mean of its
    frames, as inference does (on real_music_dev that scored as well as the mean vector).
    """
    head = closed_form_head(network)
    check_closed_form_training(network, training)
    grid = head.grid(training)
    sign = {"sign_weight": float(training.get("sign_weight", DEFAULT_SIGN_WEIGHT)),
            "sign_loss": str(training.get("sign_loss", DEFAULT_SIGN_LOSS))}  # fmt: skip
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
        raise DataValidationError(f"no validation song has a value of {unscored}: the "
                                  f"{network}'s hyper-parameters are chosen on them")  # fmt: skip
    val_mse = head.validation_mse(x_train, y_train, x_val, y_val, grid, signs_train=s_train,
                                  column_weights=column_weights, **sign)  # fmt: skip
    chosen = [grid[i] for i in np.argmin(val_mse, axis=0)]

    def solved_model(x: np.ndarray, y: np.ndarray, signs: np.ndarray | None) -> keras.Model:
        frames, pooled = _pooled_input(train.frame_shape, feature_mean, feature_variance, pooling)
        mean, scale = _standardiser(x, column_weights)
        standardised = layers.Normalization(
            axis=-1,
            mean=mean.astype(np.float32),
            variance=(scale**2).astype(np.float32),
            name="pooled_standardiser",
        )(pooled)
        solved = head.solve((x - mean) / scale, y, chosen, signs=signs, **sign)
        return keras.Model(frames, head.output(standardised, solved), name=network)

    selection_model = solved_model(x_train, y_train, s_train)
    both = None if s_train is None else np.concatenate([s_train, s_val])
    refit = solved_model(np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]), both)
    return ClosedFormFit(model=refit, selection_model=selection_model, chosen=chosen)
