"""Metric functions against values worked out by hand."""

import math

import numpy as np
import pytest

from soundtrack_emotion.core.metrics import (
    METRIC_NAMES,
    ccc,
    mae,
    mse,
    pearson_r,
    r2,
    regression_metrics,
    rmse,
)
from soundtrack_emotion.exceptions import ParameterError

TRUE = np.array([1.0, 2.0, 3.0, 4.0])
PRED = np.array([1.0, 3.0, 2.0, 5.0])


def test_hand_computed_example():
    # errors 0, -1, 1, -1; mean(true) = 2.5, mean(pred) = 2.75
    # SS_tot = 5, SS_res = 3, sum(dt*dp) = 5.5, sum(dp^2) = 8.75
    assert mse(TRUE, PRED) == pytest.approx(0.75)
    assert mae(TRUE, PRED) == pytest.approx(0.75)
    assert rmse(TRUE, PRED) == pytest.approx(math.sqrt(0.75))
    assert r2(TRUE, PRED) == pytest.approx(1 - 3 / 5)
    assert pearson_r(TRUE, PRED) == pytest.approx(5.5 / math.sqrt(5 * 8.75))
    # CCC = 2 * (5.5/4) / (5/4 + 8.75/4 + 0.25^2) = 11/14
    assert ccc(TRUE, PRED) == pytest.approx(11 / 14)


def test_perfect_and_shifted_predictions():
    assert regression_metrics(TRUE, TRUE) == pytest.approx(
        {"mse": 0, "mae": 0, "rmse": 0, "r2": 1, "pearson_r": 1, "ccc": 1}
    )
    shifted = TRUE + 1.0
    # perfectly correlated but biased: r stays 1, CCC pays for the bias 2*1.25/(1.25+1.25+1)
    assert pearson_r(TRUE, shifted) == pytest.approx(1.0)
    assert ccc(TRUE, shifted) == pytest.approx(5 / 7)
    assert r2(TRUE, shifted) == pytest.approx(1 - 4 / 5)


def test_constant_predictions():
    constant = np.full(4, 2.0)
    assert math.isnan(pearson_r(TRUE, constant))
    assert ccc(TRUE, constant) == 0.0
    # SS_res = 1 + 0 + 1 + 4 = 6 against SS_tot = 5
    assert r2(TRUE, constant) == pytest.approx(1 - 6 / 5)
    # predicting the test mean itself scores exactly zero
    assert r2(TRUE, np.full(4, TRUE.mean())) == pytest.approx(0.0)


def test_constant_whose_mean_is_inexact():
    # the float mean of 41 copies of this value is off by one ulp: still exactly constant
    constant = np.full(41, 0.46842936931790174)
    assert constant.mean() != constant[0]
    truth = np.linspace(0.1, 0.9, 41)
    assert math.isnan(pearson_r(truth, constant))
    assert ccc(truth, constant) == 0.0
    assert math.isnan(r2(constant, truth))
    assert math.isnan(ccc(constant, constant))


def test_single_song():
    one_true, one_pred = np.array([0.5]), np.array([0.7])
    assert mse(one_true, one_pred) == pytest.approx(0.04)
    assert mae(one_true, one_pred) == pytest.approx(0.2)
    assert math.isnan(r2(one_true, one_pred))
    assert math.isnan(pearson_r(one_true, one_pred))
    assert ccc(one_true, one_pred) == 0.0
    assert math.isnan(ccc(one_true, one_true))


def test_matches_numpy_on_random_data():
    rng = np.random.default_rng(3)
    y, p = rng.uniform(size=50), rng.uniform(size=50)
    assert pearson_r(y, p) == pytest.approx(np.corrcoef(y, p)[0, 1])
    assert r2(y, p) == pytest.approx(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))
    assert list(regression_metrics(y, p)) == list(METRIC_NAMES)


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [(np.array([]), np.array([])), (np.ones(3), np.ones(4)), (np.ones((2, 2)), np.ones((2, 2)))],
)
def test_bad_shapes_raise(y_true, y_pred):
    with pytest.raises(ParameterError):
        mse(y_true, y_pred)


def test_roc_auc_is_scikit_learns_with_ties():
    from sklearn.metrics import roc_auc_score

    from soundtrack_emotion.core.metrics import roc_auc

    rng = np.random.default_rng(0)
    signs = rng.integers(0, 2, size=200)
    scores = np.round(rng.normal(size=200) + signs, 1)  # rounded: many ties
    assert roc_auc(signs, scores) == pytest.approx(roc_auc_score(signs, scores))
    assert roc_auc(signs, -scores) == pytest.approx(1 - roc_auc(signs, scores))
    assert np.isnan(roc_auc(np.ones(5), np.arange(5.0)))
    with pytest.raises(ParameterError):
        roc_auc([0, 2], [0.1, 0.2])


def test_auc_interval_resamples_groups_and_is_seeded():
    from soundtrack_emotion.core.metrics import auc_interval

    rng = np.random.default_rng(1)
    signs = np.repeat(rng.integers(0, 2, size=30), 2)
    scores = signs + rng.normal(size=60)
    groups = np.repeat(np.arange(30), 2)
    first = auc_interval(signs, scores, seed=3, groups=groups)
    assert first == auc_interval(signs, scores, seed=3, groups=groups)
    assert 0.5 < first[0] < first[1] <= 1.0
