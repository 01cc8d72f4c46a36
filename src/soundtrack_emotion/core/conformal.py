"""Split-conformal prediction intervals for the VAD scores.

A model's absolute residuals ``|true - predicted|`` on songs it was not fitted on (the
validation songs, the calibration set) give one half-width per label and nominal level: the
``ceil((n + 1) level)``-th smallest of the ``n`` residuals (:func:`conformal_quantile`). The
interval ``predicted ± half-width`` then covers a new song's true value with probability at
least ``level``, marginally (on average over songs, not for each song), provided the new song
and the calibration songs are exchangeable (drawn from the same distribution: music unlike
the corpus, e.g. flagged out of domain, has no such guarantee). Intersected with the labels'
range [0, 1] (:func:`interval_bounds`) the interval loses no coverage.

Out-of-fold residuals of a repeated K-fold cross-validation give the same half-width from
every labelled song instead of the validation songs alone (:func:`repeated_conformal_quantile`,
the CV+ scheme of Barber, Candès, Ramdas & Tibshirani, "Predictive inference with the
jackknife+", Annals of Statistics 2021): each residual comes from a model that did not see
its song, and a few dozen validation songs no longer decide the width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from soundtrack_emotion.exceptions import ParameterError

# The nominal levels modelling calibrates by default (modelling.intervals.levels) and the one
# inference shows (inference.interval_level).
DEFAULT_LEVELS: tuple[float, ...] = (0.8, 0.9)
DEFAULT_LEVEL = 0.9
# The labels' range: an interval is cut to it.
LABEL_RANGE = (0.0, 1.0)
# An error this close to the half-width counts as inside (0.8 - 0.7 is 0.1 + 1e-16 in floats;
# the half-width is itself one of the calibration errors, which it covers).
TIE_TOLERANCE = 1e-12


def check_level(level: float) -> float:
    """``level`` as a float in (0, 1), or :class:`ParameterError` naming it."""
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise ParameterError(f"an interval level must be a number in (0, 1), got {level!r}")
    return float(level)


def check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    """The distinct ``levels`` in increasing order (each checked by :func:`check_level`)."""
    if isinstance(levels, str) or not len(levels):
        raise ParameterError(f"interval levels must be a non-empty list, got {levels!r}")
    checked = sorted({check_level(level) for level in levels})
    names = [level_name(level) for level in checked]
    if len(set(names)) != len(names):
        raise ParameterError(f"interval levels {list(levels)!r} are too close to tell apart")
    return tuple(checked)


def level_name(level: float) -> str:
    """The column suffix of a level, in percent: 0.9 -> ``"90"``, 0.975 -> ``"97.5"``.

    >>> level_name(0.8), level_name(0.975)
    ('80', '97.5')
    """
    return f"{round(check_level(level) * 100, 4):g}"


def conformal_quantile(scores: Sequence[float] | np.ndarray, level: float) -> float:
    """The split-conformal half-width of nominal ``level`` from calibration ``scores``
    (absolute residuals): the ``k``-th smallest, ``k = ceil((n + 1) level)`` (the finite-sample
    correction); ``inf`` when ``k > n`` (too few scores for that level: no finite interval
    has the guarantee). Non-finite scores (a song without the label's value) are left out.

    >>> conformal_quantile([0.1, 0.4, 0.2, 0.3], 0.5)  # k = ceil(5 * 0.5) = 3
    0.3
    >>> conformal_quantile([0.1, 0.4, 0.2, 0.3], 0.9)  # k = 5 > 4
    inf
    """
    level = check_level(level)
    values = np.asarray(scores, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if (values < 0).any():
        raise ParameterError(f"conformity scores must be >= 0, got {values.min()!r}")
    n = len(values)
    if not n:
        raise ParameterError("cannot calibrate an interval on no scores")
    # The small tolerance keeps (n + 1) * level = 9.000000000000002 from becoming 10.
    k = math.ceil((n + 1) * level - 1e-9)
    if k > n:
        return math.inf
    return float(np.partition(values, k - 1)[k - 1])


def repeated_conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The half-width of nominal ``level`` from ``scores`` [repeats, n]: each repeat's
    out-of-fold absolute residual of the same ``n`` songs (NaN: a song without the value).
    The ``ceil((n + 1) level) / n`` quantile of every repeat's residuals pooled (each song's
    residual distribution over repeats counts once per song); with one repeat, exactly
    :func:`conformal_quantile`; ``inf`` when that fraction exceeds 1.

    >>> repeated_conformal_quantile(np.array([[0.1, 0.4, 0.2, 0.3]]), 0.5)
    0.3
    >>> repeated_conformal_quantile(np.array([[0.1, 0.4, 0.2, 0.3], [0.1, 0.2, 0.2, 0.2]]), 0.5)
    0.2
    """
    level = check_level(level)
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 2:
        raise ParameterError(f"scores must be [repeats, songs], got shape {values.shape}")
    n = int(np.isfinite(values).all(axis=0).sum())
    pooled = values[:, np.isfinite(values).all(axis=0)].ravel()
    if (pooled < 0).any():
        raise ParameterError(f"conformity scores must be >= 0, got {pooled.min()!r}")
    if not n:
        raise ParameterError("cannot calibrate an interval on no scores")
    k = math.ceil((n + 1) * level - 1e-9)
    if k > n:
        return math.inf
    return float(np.quantile(pooled, k / n, method="inverted_cdf"))


def interval_bounds(
    predicted: Sequence[float] | np.ndarray,
    half_width: float,
    *,
    bounds: tuple[float, float] = LABEL_RANGE,
) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` of ``predicted ± half_width`` cut to ``bounds`` (the true value lies
    there, so no coverage is lost); NaN where the prediction or the half-width is NaN."""
    values = np.asarray(predicted, dtype=np.float64)
    if not (math.isnan(half_width) or half_width >= 0):
        raise ParameterError(f"an interval half-width must be >= 0, got {half_width!r}")
    low = np.clip(values - half_width, *bounds)
    high = np.clip(values + half_width, *bounds)
    return low, high


def coverage(
    true: Sequence[float] | np.ndarray,
    predicted: Sequence[float] | np.ndarray,
    half_width: float,
) -> float:
    """The share of the pairs with a finite ``true`` whose value lies in ``predicted ±
    half_width`` (the measured coverage of the interval; an error equal to the half-width, up
    to ``TIE_TOLERANCE``, is inside); NaN without such pairs or without a half-width."""
    true_values = np.asarray(true, dtype=np.float64)
    predicted_values = np.asarray(predicted, dtype=np.float64)
    if true_values.shape != predicted_values.shape:
        raise ParameterError(
            f"true and predicted differ in shape: {true_values.shape} and {predicted_values.shape}"
        )
    finite = np.isfinite(true_values)
    if not finite.any() or math.isnan(half_width):
        return math.nan
    errors = np.abs(true_values[finite] - predicted_values[finite])
    return float(np.mean(errors <= half_width + TIE_TOLERANCE))
