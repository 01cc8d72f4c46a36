"""Regression metrics for VAD predictions, shared by modelling and reporting.

Every function takes two 1-D arrays of the same length (``y_true``, ``y_pred``) and returns a
float. Statistics that are undefined for the input (R-squared when the truth is constant,
Pearson r when either side is constant, CCC when both sides are the same constant) are ``nan``
rather
than an arbitrary number, so a table never claims a score that was not measured.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from soundtrack_emotion.exceptions import ParameterError

# Column order of every metrics table (the thesis's MSE and MAE first).
METRIC_NAMES: tuple[str, ...] = ("mse", "mae", "rmse", "r2", "pearson_r", "ccc")


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if true.ndim != 1 or true.shape != pred.shape:
        raise ParameterError(
            f"y_true and y_pred must be 1-D arrays of one length, got {true.shape} and {pred.shape}"
        )
    if not len(true):
        raise ParameterError("cannot score an empty set of predictions")
    return true, pred


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean squared error (thesis, section 2.4.1)."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean((true - pred) ** 2))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error (thesis, section 2.4.2)."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(true - pred)))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error, in the units of the labels."""
    return float(np.sqrt(mse(y_true, y_pred)))


def _constant(values: np.ndarray) -> bool:
    # Exact test: the mean of n equal floats can differ from them in the last bit, which would
    # turn a zero spread into a tiny one and an undefined statistic into noise.
    return bool(np.all(values == values[0]))


def _centred(values: np.ndarray) -> np.ndarray:
    return np.zeros_like(values) if _constant(values) else values - values.mean()


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``; 0 for predicting the test mean,
    negative for anything worse; ``nan`` when the truth is constant."""
    true, pred = _pair(y_true, y_pred)
    if _constant(true):
        return float("nan")
    ss_tot = float(np.sum(_centred(true) ** 2))
    return 1.0 - float(np.sum((true - pred) ** 2)) / ss_tot


def pearson_r(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Pearson correlation; ``nan`` when either side is constant."""
    true, pred = _pair(y_true, y_pred)
    if _constant(true) or _constant(pred):
        return float("nan")
    dt, dp = _centred(true), _centred(pred)
    r = np.sum(dt * dp) / np.sqrt(np.sum(dt**2) * np.sum(dp**2))
    return float(np.clip(r, -1.0, 1.0))


def ccc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Lin's concordance correlation coefficient
    ``2 cov / (var_true + var_pred + (mean_true - mean_pred)^2)`` with population moments: 1 only
    for perfect agreement, 0 for constant predictions; ``nan`` when both sides are the same
    constant."""
    true, pred = _pair(y_true, y_pred)
    dt, dp = _centred(true), _centred(pred)
    denominator = float(np.mean(dt**2) + np.mean(dp**2) + (true.mean() - pred.mean()) ** 2)
    if _constant(true) and _constant(pred) and true[0] == pred[0]:
        return float("nan")
    return 2.0 * float(np.mean(dt * dp)) / denominator


_METRICS = {"mse": mse, "mae": mae, "rmse": rmse, "r2": r2, "pearson_r": pearson_r, "ccc": ccc}


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """All of :data:`METRIC_NAMES` for one set of predictions."""
    return {name: _METRICS[name](y_true, y_pred) for name in METRIC_NAMES}


# Song-level confidence intervals: a percentile bootstrap over songs (the unit that was
# sampled; frames of one song are not independent).
BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE_LEVEL = 0.95


def bootstrap_intervals(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    seed: int,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = CONFIDENCE_LEVEL,
    groups: np.ndarray | None = None,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap ``(low, high)`` of every metric in :data:`METRIC_NAMES`, resampling
    the pairs (songs) with replacement, seeded; with ``groups`` (one key per pair, e.g. the
    artist group the split was made of), whole groups are resampled instead, since songs of
    one group are not independent. Resamples where a statistic is undefined are left out of
    its interval; ``(nan, nan)`` when none is defined.

    >>> lo, hi = bootstrap_intervals([0.1, 0.4, 0.5, 0.9], [0.2, 0.3, 0.6, 0.8], seed=0)["r2"]
    >>> bool(lo < r2([0.1, 0.4, 0.5, 0.9], [0.2, 0.3, 0.6, 0.8]) <= hi)
    True
    """
    true, pred = _pair(y_true, y_pred)
    if not 0 < level < 1:
        raise ParameterError(f"confidence level must be in (0, 1), got {level!r}")
    if n_resamples < 1:
        raise ParameterError(f"n_resamples must be >= 1, got {n_resamples!r}")
    rng = np.random.default_rng(seed)
    if groups is None:
        draws = list(rng.integers(0, len(true), size=(n_resamples, len(true))))
    elif len(groups) != len(true):
        raise ParameterError(f"{len(groups)} group keys for {len(true)} predictions")
    else:
        draws = _group_draws(np.asarray(groups), rng, n_resamples)
    scores = np.array([[_METRICS[name](true[i], pred[i]) for name in METRIC_NAMES] for i in draws])
    tail = (1 - level) / 2 * 100
    intervals = {}
    for j, name in enumerate(METRIC_NAMES):
        values = scores[:, j][np.isfinite(scores[:, j])]
        if not len(values):
            intervals[name] = (float("nan"), float("nan"))
        else:
            low, high = np.percentile(values, [tail, 100 - tail])
            intervals[name] = (float(low), float(high))
    return intervals


def _group_draws(groups: np.ndarray, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """``n`` index arrays, each the members of as many groups as there are, drawn with
    replacement."""
    _, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]
    picks = rng.integers(0, len(members), size=(n, len(members)))
    return [np.concatenate([members[g] for g in row]) for row in picks]


# ------------------------------------------------------------------------- signs (quadrants)


def roc_auc(signs: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the binary ``signs`` (1 positive, 0
    negative): the Mann-Whitney probability that a positive scores above a negative, ties
    counting one half; ``nan`` when one class is absent. 0.5 is chance.

    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])
    0.875
    """
    truth, score = _pair(signs, scores)
    if not np.isin(truth, (0.0, 1.0)).all():
        raise ParameterError(f"signs must be 0 or 1, got values {np.unique(truth)[:5].tolist()}")
    n_positive = int(truth.sum())
    n_negative = len(truth) - n_positive
    if not n_positive or not n_negative:
        return float("nan")
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts + 1
    ranks = (first_rank + (counts - 1) / 2.0)[inverse]
    u = float(ranks[truth == 1].sum()) - n_positive * (n_positive + 1) / 2.0
    return u / (n_positive * n_negative)


def auc_interval(
    signs: np.ndarray,
    scores: np.ndarray,
    *,
    seed: int,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = CONFIDENCE_LEVEL,
    groups: np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap ``(low, high)`` of :func:`roc_auc`, resampling songs (or whole
    ``groups``) with replacement, as :func:`bootstrap_intervals`; resamples with one class
    only are left out; ``(nan, nan)`` when none has both.

    >>> low, high = auc_interval([0, 0, 1, 1, 0, 1], [0.1, 0.3, 0.35, 0.8, 0.5, 0.6], seed=0)
    >>> bool(low <= roc_auc([0, 0, 1, 1, 0, 1], [0.1, 0.3, 0.35, 0.8, 0.5, 0.6]) <= high)
    True
    """
    truth, score = _pair(signs, scores)
    if not 0 < level < 1:
        raise ParameterError(f"confidence level must be in (0, 1), got {level!r}")
    rng = np.random.default_rng(seed)
    if groups is None:
        draws = list(rng.integers(0, len(truth), size=(n_resamples, len(truth))))
    elif len(groups) != len(truth):
        raise ParameterError(f"{len(groups)} group keys for {len(truth)} predictions")
    else:
        draws = _group_draws(np.asarray(groups), rng, n_resamples)
    values = np.array([roc_auc(truth[i], score[i]) for i in draws])
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


# ------------------------------------------------------------------------------ model choice

# The one rule that picks "the best model" of a label everywhere (model_metrics' rank, the
# report's mark, the run summary, inference.model=best). Where the grouped cross-validation
# ran (modelling.evaluation), its mean R² over repeated artist-grouped folds of every training
# and validation song decides. On real_music_dev the 32 validation songs' MSE picked fusion's
# MLP for valence: it told positive from negative music of another corpus at AUC 0.54, the
# cross-validated fusion kernel ridge at 0.70; trained on both dev corpora, every family's MLP
# scored valence AUC 0.61-0.70 on the quadrant corpus's test songs, its ridge and kernel ridge
# 0.71-0.83 (docs/benchmarks/valence.md). Models without a CV figure (the gradient-trained
# networks) cannot be compared with it: they are chosen only where no model of the label was
# cross-validated, by song-level validation MSE (which ranks them as validation R² does: the
# same songs). The test split is scored after the choice.
SELECTION_COLUMN = "best_val_loss"
SELECTION_CV_COLUMN = "cv_r2_mean"
SELECTION_RULE = (
    "the highest mean R² of the repeated artist-grouped cross-validation over the training and "
    "validation songs, among the cross-validated models trained on that label alone; where no "
    "model of the label was cross-validated, the lowest song-level validation MSE (a joint "
    "model only where no model was trained on the label alone); the test split is scored "
    "after the choice and never takes part in it"
)
_SELECTION_KEY = ("feature", "network", "target")


def selection_rank(table: pd.DataFrame) -> pd.Series:
    """Rank of each row's model within its label by :data:`SELECTION_RULE` (1 = the chosen
    model; rows of one model, e.g. its frame and song levels, share its rank).

    ``table``: one or more rows per (feature, network, target, label) with
    ``best_val_loss`` and, optionally, ``cv_r2_mean`` (NaN where the model was not
    cross-validated); models with neither rank last.

    >>> rows = pd.DataFrame({"feature": "mfcc", "network": ["cnn", "lstm", "ridge"],
    ...     "target": ["valence", "valence", "joint"], "label": "valence",
    ...     "best_val_loss": [0.02, 0.01, 0.001]})
    >>> selection_rank(rows).tolist()
    [2, 1, 3]
    >>> selection_rank(rows.assign(network=["mlp", "ridge", "kernel"], target="valence",
    ...     cv_r2_mean=[np.nan, 0.10, 0.20])).tolist()
    [3, 2, 1]
    """
    key = [*_SELECTION_KEY, "label"]
    missing = [c for c in (*key, SELECTION_COLUMN) if c not in table]
    if missing:
        raise ParameterError(f"cannot rank models: the table lacks column(s) {missing}")
    if table.empty:
        return pd.Series(dtype=np.int64, index=table.index)
    scores = [SELECTION_COLUMN, *([SELECTION_CV_COLUMN] if SELECTION_CV_COLUMN in table else [])]
    models = table[[*key, *scores]].drop_duplicates(key).copy()
    models["_joint"] = models["target"] != models["label"]
    cv = models.get(SELECTION_CV_COLUMN, pd.Series(np.nan, index=models.index))
    models["_cv"] = -cv.astype(np.float64).fillna(-np.inf)
    models["_loss"] = models[SELECTION_COLUMN].astype(np.float64).fillna(np.inf)
    order = ["label", "_joint", "_cv", "_loss", *_SELECTION_KEY]
    models = models.sort_values(order, kind="stable")
    models["rank"] = models.groupby("label").cumcount() + 1
    ranks = table[key].join(models.set_index(key)["rank"], on=key)["rank"]
    return ranks.astype(np.int64)
