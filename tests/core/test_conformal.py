"""Split-conformal intervals: the quantile with its finite-sample correction, the bounds, the
measured coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from soundtrack_emotion.core.conformal import (
    check_levels,
    conformal_quantile,
    coverage,
    interval_bounds,
    level_name,
    repeated_conformal_quantile,
)
from soundtrack_emotion.exceptions import ParameterError


def test_quantile_is_the_corrected_order_statistic():
    scores = np.arange(1, 20) / 100  # n = 19: 0.01 .. 0.19
    # k = ceil(20 * 0.9) = 18 -> the 18th smallest; at 0.8, k = 16.
    assert conformal_quantile(scores, 0.9) == pytest.approx(0.18)
    assert conformal_quantile(scores, 0.8) == pytest.approx(0.16)
    # Order does not matter, non-finite scores (songs without the label) are left out.
    shuffled = np.random.default_rng(0).permutation(scores)
    assert conformal_quantile([*shuffled, np.nan], 0.9) == pytest.approx(0.18)


def test_quantile_is_infinite_with_too_few_scores():
    # n = 5: k = ceil(6 * 0.9) = 6 > 5, no finite interval has the guarantee.
    assert conformal_quantile([0.1, 0.2, 0.3, 0.4, 0.5], 0.9) == math.inf
    assert conformal_quantile([0.1, 0.2, 0.3, 0.4, 0.5], 0.5) == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("scores", "level"),
    [([], 0.9), ([0.1, -0.2], 0.9), ([0.1], 1.0), ([0.1], 0.0), ([0.1], True)],
)
def test_quantile_refuses_bad_input(scores, level):
    with pytest.raises(ParameterError):
        conformal_quantile(scores, level)


@pytest.mark.parametrize("level", [0.8, 0.9])
def test_coverage_on_exchangeable_data_is_near_nominal(level):
    """Calibrate on 100 draws, measure on 200 fresh ones, 300 times: the mean coverage is at
    least the nominal level (and at most level + 1 / (n + 1) above it, the theory's bound)."""
    rng = np.random.default_rng(7)
    n_calibration, n_test, repeats = 100, 200, 300
    measured = []
    for _ in range(repeats):
        truth = rng.uniform(0.2, 0.8, n_calibration + n_test)
        predicted = truth + rng.standard_t(4, n_calibration + n_test) * 0.08
        calibration = np.abs(truth[:n_calibration] - predicted[:n_calibration])
        half_width = conformal_quantile(calibration, level)
        measured.append(coverage(truth[n_calibration:], predicted[n_calibration:], half_width))
    mean = float(np.mean(measured))
    assert level - 0.01 <= mean <= level + 1 / (n_calibration + 1) + 0.01


def _linear_fit(x: np.ndarray, y: np.ndarray):
    coef, *_ = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)
    return lambda new: np.c_[new, np.ones(len(new))] @ coef


@pytest.mark.parametrize("level", [0.8, 0.9])
def test_cross_validated_half_widths_cover_near_nominal_and_vary_less(level):
    """60 songs, a linear model: half-widths from 5 repeats of 5-fold out-of-fold residuals
    (CV+) against split conformal (48 fitted, 12 calibrate), each then used around the model
    fitted on all 60, measured on fresh songs, 200 times. Both cover about the level; the
    cross-validated width varies less from corpus to corpus (it reads every song)."""
    rng = np.random.default_rng(3)
    n, folds, repeats = 60, 5, 5
    cv_coverage, cv_widths, split_widths = [], [], []
    for _ in range(200):
        x = rng.normal(size=(n + 500, 3))
        y = x @ np.array([0.3, -0.2, 0.1]) + rng.standard_t(5, n + 500) * 0.2
        x_fit, y_fit, x_new, y_new = x[:n], y[:n], x[n:], y[n:]
        out_of_fold = np.empty((repeats, n))
        for r in range(repeats):
            fold = rng.permutation(np.arange(n) % folds)
            for f in range(folds):
                held = fold == f
                out_of_fold[r, held] = np.abs(
                    _linear_fit(x_fit[~held], y_fit[~held])(x_fit[held]) - y_fit[held]
                )
        width = repeated_conformal_quantile(out_of_fold, level)
        final = _linear_fit(x_fit, y_fit)(x_new)
        cv_coverage.append(coverage(y_new, final, width))
        cv_widths.append(width)
        split = _linear_fit(x_fit[:48], y_fit[:48])
        split_widths.append(conformal_quantile(np.abs(split(x_fit[48:]) - y_fit[48:]), level))
    assert level - 0.015 <= np.mean(cv_coverage) <= level + 0.03
    assert np.std(cv_widths) < 0.7 * np.std(split_widths)


def test_repeated_quantile_of_one_repeat_is_the_split_quantile():
    scores = np.random.default_rng(0).uniform(size=37)
    for level in (0.5, 0.8, 0.9):
        assert repeated_conformal_quantile(scores[None], level) == conformal_quantile(scores, level)
    # a song without the value (NaN in any repeat) is left out
    with_missing = np.r_[scores, np.nan][None]
    assert repeated_conformal_quantile(with_missing, 0.9) == conformal_quantile(scores, 0.9)
    assert repeated_conformal_quantile(scores[None, :5], 0.9) == math.inf
    with pytest.raises(ParameterError, match="repeats, songs"):
        repeated_conformal_quantile(scores, 0.9)


def test_coverage_counts_finite_truths():
    assert coverage([0.5, 0.5, np.nan, 0.5], [0.5, 0.8, 0.1, 0.55], 0.1) == pytest.approx(2 / 3)
    assert math.isnan(coverage([np.nan], [0.5], 0.1))
    assert math.isnan(coverage([0.5], [0.5], math.nan))


def test_bounds_are_cut_to_the_label_range():
    low, high = interval_bounds([0.05, 0.5, 0.97, np.nan], 0.1)
    np.testing.assert_allclose(low, [0.0, 0.4, 0.87, np.nan])
    np.testing.assert_allclose(high, [0.15, 0.6, 1.0, np.nan])
    low, high = interval_bounds([0.5], math.nan)
    assert np.isnan(low).all() and np.isnan(high).all()
    with pytest.raises(ParameterError):
        interval_bounds([0.5], -0.1)


def test_levels_are_checked_sorted_and_named():
    assert check_levels([0.9, 0.8, 0.9]) == (0.8, 0.9)
    assert [level_name(x) for x in (0.8, 0.9, 0.95, 0.975)] == ["80", "90", "95", "97.5"]
    for bad in ([], "0.9", [0.9, 1.5]):
        with pytest.raises(ParameterError):
            check_levels(bad)
