"""The joint objective: ridge on values, logistic loss on signs."""

import numpy as np
import pytest
from scipy.optimize import check_grad
from sklearn.linear_model import Ridge

from soundtrack_emotion.core.joint_ridge import (
    _joint_loss,
    _Problem,
    fit_joint_ridge,
    fit_pseudo_ridge,
)
from soundtrack_emotion.exceptions import ParameterError


def _rows(seed: int = 0, n_values: int = 8, n_signs: int = 200, d: int = 6):
    """Few noisy values and many signs of one latent direction (feature 0)."""
    rng = np.random.default_rng(seed)
    x_values, x_signs = rng.normal(size=(n_values, d)), rng.normal(size=(n_signs, d))
    y = 0.5 + 0.1 * x_values[:, 0] + rng.normal(scale=0.15, size=n_values)
    return x_values, y, x_signs, (x_signs[:, 0] > 0).astype(float)


def test_the_gradient_is_the_objectives():
    x_values, y, x_signs, signs = _rows()
    problem = _Problem(x_values, y, x_signs, 2 * signs - 1, 0.3, 1.0)
    theta = np.random.default_rng(1).normal(size=x_values.shape[1] + 3)
    error = check_grad(lambda t: _joint_loss(t, problem)[0],
                       lambda t: _joint_loss(t, problem)[1], theta)  # fmt: skip
    assert error < 1e-5


def test_without_signs_it_is_scikit_learns_ridge():
    x_values, y, x_signs, signs = _rows()
    expected = Ridge(alpha=3.0).fit(x_values, y)
    for weight in (0.0, 1.0):
        coef, intercept = fit_joint_ridge(x_values, y, x_signs[:0], signs[:0], alpha=3.0,
                                          sign_weight=weight)  # fmt: skip
        np.testing.assert_allclose(coef, expected.coef_, atol=1e-5)
        assert intercept == pytest.approx(expected.intercept_, abs=1e-5)


def test_pseudo_targets_without_weight_are_scikit_learns_ridge():
    x_values, y, x_signs, signs = _rows()
    coef, intercept = fit_pseudo_ridge(x_values, y, x_signs, signs, alpha=3.0, sign_weight=0.0)
    expected = Ridge(alpha=3.0).fit(x_values, y)
    np.testing.assert_allclose(coef, expected.coef_, atol=1e-8)
    assert intercept == pytest.approx(expected.intercept_)


@pytest.mark.parametrize("fit", [fit_joint_ridge, fit_pseudo_ridge])
def test_signs_turn_the_direction_towards_what_they_separate(fit):
    x_values, y, x_signs, signs = _rows()
    alone, _ = fit(x_values, y, x_signs, signs, alpha=3.0, sign_weight=0.0)
    joint, _ = fit(x_values, y, x_signs, signs, alpha=3.0, sign_weight=1.0)

    def cosine(w):
        return abs(w[0]) / np.linalg.norm(w)

    assert cosine(joint) > 0.9 > 0.7 > cosine(alone)


@pytest.mark.parametrize(
    ("signs", "alpha", "weight"),
    [(np.full(200, 2.0), 1.0, 1.0), (None, 0.0, 1.0), (None, 1.0, -1.0)],
)
def test_bad_settings_are_named(signs, alpha, weight):
    x_values, y, x_signs, good = _rows()
    with pytest.raises(ParameterError):
        fit_joint_ridge(x_values, y, x_signs, good if signs is None else signs, alpha=alpha,
                        sign_weight=weight)  # fmt: skip
