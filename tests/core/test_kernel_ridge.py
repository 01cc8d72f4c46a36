"""The RBF kernel ridge: scikit-learn's KernelRidge (weights included), one decomposition for
every alpha, an interaction a linear model cannot see, and errors that name the bad value."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

from soundtrack_emotion.core.kernel_ridge import (
    check_grid,
    fit_kernel_ridge,
    kernel_ridge_path,
    rbf_kernel,
)
from soundtrack_emotion.exceptions import ParameterError


def _data(n: int = 80, d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    # the label hangs on the product of two inputs: each alone says nothing
    return z, 0.5 + 0.15 * np.tanh(z[:, 0] * z[:, 1]) + rng.normal(scale=0.02, size=n)


def test_the_fit_is_sklearn_kernel_ridge_on_centred_targets_with_weights():
    z, y = _data()
    weights = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    solution = fit_kernel_ridge(z, y, alpha=0.3, gamma=2.0, weights=weights)
    intercept = np.average(y, weights=weights)
    expected = KernelRidge(alpha=0.3, kernel="rbf", gamma=2.0 / z.shape[1]).fit(
        z, y - intercept, sample_weight=weights
    )
    z_new = _data(seed=5)[0]
    np.testing.assert_allclose(solution.predict(z_new), expected.predict(z_new) + intercept,
                               rtol=1e-8, atol=1e-10)  # fmt: skip
    assert solution.intercept == pytest.approx(intercept)


def test_the_path_equals_one_fit_per_alpha():
    z, y = _data()
    weights = np.r_[np.ones(60), np.full(20, 3.0)]
    z_new = _data(n=15, seed=9)[0]
    alphas = [0.01, 0.1, 1.0, 10.0]
    path = kernel_ridge_path(z, y, z_new, alphas=alphas, gamma=0.5, weights=weights)
    assert path.shape == (15, 4)
    for i, alpha in enumerate(alphas):
        single = fit_kernel_ridge(z, y, alpha=alpha, gamma=0.5, weights=weights)
        np.testing.assert_allclose(path[:, i], single.predict(z_new), rtol=1e-6, atol=1e-9)


def test_it_learns_an_interaction_that_a_linear_model_cannot():
    z, y = _data(n=300)
    z_new, y_new = _data(n=200, seed=4)
    kernel = fit_kernel_ridge(z, y, alpha=0.1, gamma=1.0).predict(z_new)
    design = np.c_[z, np.ones(len(z))]
    linear = np.c_[z_new, np.ones(len(z_new))] @ np.linalg.lstsq(design, y, rcond=None)[0]

    def r2(predicted: np.ndarray) -> float:
        return 1 - np.sum((predicted - y_new) ** 2) / np.sum((y_new - y_new.mean()) ** 2)

    assert r2(kernel) > 0.6 and r2(linear) < 0.05


def test_the_kernel_is_one_at_zero_distance_and_falls_with_it():
    a = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    k = rbf_kernel(a, a[:1], 0.5)
    np.testing.assert_allclose(k[:, 0], [1.0, np.exp(-0.5), np.exp(-4.5)])


@pytest.mark.parametrize("values", [[], [0.1, -1.0], [0.0], "0.1", [True]])
def test_grids_must_be_positive_numbers(values):
    with pytest.raises(ParameterError, match="gammas"):
        check_grid("gammas", values)


def test_bad_weights_and_too_few_rows_are_refused():
    z, y = _data(n=10)
    with pytest.raises(ParameterError, match="weights"):
        fit_kernel_ridge(z, y, alpha=1.0, gamma=1.0, weights=np.r_[np.ones(9), 0.0])
    with pytest.raises(ParameterError, match="at least 2"):
        fit_kernel_ridge(z[:1], y[:1], alpha=1.0, gamma=1.0)
