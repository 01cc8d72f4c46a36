"""A linear model of one label learnt from two kinds of rows: rows that give the label's value
(continuous corpora) and rows that give only its sign (quadrant corpora: valence positive or
not, arousal high or not).

On standardised inputs ``x`` and the values ``y`` standardised with the continuous rows' mean
and deviation, :func:`fit_joint_ridge` minimises over ``w`` [d], ``b``, ``a`` and ``c``::

    0.5 * mean over value rows of (x w + b - y)^2
    + 0.5 * (alpha / n_values) * |w|^2
    + sign_weight * mean over sign rows of log(1 + exp(-t (a * x w + c)))     t = +1 / -1

The first two terms are exactly ridge regression with scikit-learn's ``alpha`` (its objective
divided by ``2 * n_values``), so ``sign_weight = 0`` gives the ridge. The sign rows share the
direction ``w`` of the regression; ``a`` and ``c`` map its score onto their log-odds, since a
corpus's quadrants say where a song lies, not by how much. Solved with L-BFGS (the objective is
smooth; convex in ``w, b`` for fixed ``a``).

:func:`fit_pseudo_ridge` is the other scheme measured: each sign row stands in the ridge for
the mean value of its side (of the value rows above, or not above, their mean), the sign
rows together weighing ``sign_weight`` times the value rows. Closed form.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from soundtrack_emotion.exceptions import ParameterError

# How sign rows enter the fit: ``logistic`` (fit_joint_ridge) or ``pseudo`` (fit_pseudo_ridge).
SIGN_LOSSES: tuple[str, ...] = ("logistic", "pseudo")
MAX_ITERATIONS = 2000
# Where the sign rows' scale ``a`` starts: one log-odds unit per standard deviation of y.
INITIAL_SIGN_SCALE = 1.0


class _Problem(NamedTuple):
    """The rows of one fit: values ``y`` (standardised) of ``x_values``, signs ``t`` (-1 or
    +1) of ``x_signs``, the penalty on ``w`` (``alpha / n_values``) and lambda."""

    x_values: np.ndarray
    y: np.ndarray
    x_signs: np.ndarray
    t: np.ndarray
    penalty: float
    sign_weight: float


def _joint_loss(theta: np.ndarray, problem: _Problem) -> tuple[float, np.ndarray]:
    """The objective and its gradient; ``theta = [w (d), b, a, c]``."""
    from scipy.special import expit

    x_values, y, x_signs, t, penalty, sign_weight = problem
    d = x_values.shape[1]
    w, b, a, c = theta[:d], theta[d], theta[d + 1], theta[d + 2]
    error = x_values @ w + b - y
    loss = 0.5 * float(np.mean(error**2)) + 0.5 * penalty * float(w @ w)
    grad_w = x_values.T @ error / len(error) + penalty * w
    grad_b = float(error.mean())
    grad_a = grad_c = 0.0
    if len(t) and sign_weight > 0:
        score = x_signs @ w
        margin = -t * (a * score + c)
        loss += sign_weight * float(np.mean(np.logaddexp(0.0, margin)))
        d_logit = sign_weight * (-t * expit(margin)) / len(t)
        grad_w = grad_w + a * (x_signs.T @ d_logit)
        grad_a, grad_c = float(d_logit @ score), float(d_logit.sum())
    return loss, np.concatenate([grad_w, [grad_b, grad_a, grad_c]])


def fit_joint_ridge(
    x_values: np.ndarray,
    y: np.ndarray,
    x_signs: np.ndarray,
    signs: np.ndarray,
    *,
    alpha: float,
    sign_weight: float,
) -> tuple[np.ndarray, float]:
    """``(coef [d], intercept)`` of the joint objective (see the module), in ``y``'s units:
    the prediction of a row ``x`` is ``x @ coef + intercept``.

    Args:
        x_values: [n, d] inputs of the rows with a value (standardised).
        y: [n] their values.
        x_signs: [m, d] inputs of the rows with a sign only (same standardisation).
        signs: [m] 1 (positive / high) or 0.
        alpha: the ridge strength, as scikit-learn's ``Ridge(alpha)`` on the value rows.
        sign_weight: lambda, the weight of the sign rows' mean logistic loss (0: ridge).

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(40, 3)); y = x @ [1.0, 0.0, 0.0] + 0.1 * rng.normal(size=40)
    >>> coef, _ = fit_joint_ridge(x, y, x[:0], y[:0], alpha=1.0, sign_weight=1.0)
    >>> from sklearn.linear_model import Ridge
    >>> bool(np.allclose(coef, Ridge(alpha=1.0).fit(x, y).coef_, atol=1e-4))
    True
    """
    x_values, x_signs = np.asarray(x_values, np.float64), np.asarray(x_signs, np.float64)
    y, signs = np.asarray(y, np.float64), np.asarray(signs, np.float64)
    if len(y) < 2 or len(y) != len(x_values):
        raise ParameterError(f"need at least 2 rows with values and one x per value, got "
                             f"{len(x_values)} x and {len(y)} values")  # fmt: skip
    if len(signs) != len(x_signs) or not np.isin(signs, (0.0, 1.0)).all():
        raise ParameterError(f"signs must be 0 or 1, one per x row; got {np.unique(signs)} "
                             f"for {len(x_signs)} rows")  # fmt: skip
    if not (alpha > 0 and sign_weight >= 0):
        raise ParameterError(f"need alpha > 0 and sign_weight >= 0, got {alpha!r}, {sign_weight!r}")
    from scipy.optimize import minimize

    mean, scale = float(y.mean()), float(max(y.std(), np.finfo(np.float64).eps))
    d = x_values.shape[1]
    theta = np.zeros(d + 3)
    theta[d + 1] = INITIAL_SIGN_SCALE
    result = minimize(
        _joint_loss,
        theta,
        args=(_Problem(x_values, (y - mean) / scale, x_signs, 2.0 * signs - 1.0,
                       alpha / len(y), sign_weight),),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": MAX_ITERATIONS},
    )  # fmt: skip
    w, b = result.x[:d], result.x[d]
    return w * scale, float(b * scale + mean)


def fit_pseudo_ridge(
    x_values: np.ndarray,
    y: np.ndarray,
    x_signs: np.ndarray,
    signs: np.ndarray,
    *,
    alpha: float,
    sign_weight: float,
) -> tuple[np.ndarray, float]:
    """``(coef [d], intercept)`` of a weighted ridge on the value rows and the sign rows, a
    sign row's target being the mean of the values on its side of their mean; the value rows
    weigh 1 each, the sign rows ``sign_weight * n_values / n_signs`` each (arguments as
    :func:`fit_joint_ridge`; ``sign_weight = 0`` gives the ridge).

    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0.2, 0.4, 0.6, 0.8])
    >>> coef, intercept = fit_pseudo_ridge(x, y, x[:0], y[:0], alpha=1e-6, sign_weight=1.0)
    >>> round(float(coef[0]), 3), round(intercept, 3)
    (0.2, 0.2)
    """
    from sklearn.linear_model import Ridge

    x_values, x_signs = np.asarray(x_values, np.float64), np.asarray(x_signs, np.float64)
    y, signs = np.asarray(y, np.float64), np.asarray(signs, np.float64)
    if len(y) < 2 or len(y) != len(x_values) or len(signs) != len(x_signs):
        raise ParameterError(f"need at least 2 rows with values and one x per label, got "
                             f"{len(x_values)} x, {len(y)} values, {len(x_signs)} x for "
                             f"{len(signs)} signs")  # fmt: skip
    if not np.isin(signs, (0.0, 1.0)).all() or not (alpha > 0 and sign_weight >= 0):
        raise ParameterError(f"need signs 0 or 1, alpha > 0 and sign_weight >= 0, got "
                             f"{np.unique(signs)[:5]}, {alpha!r}, {sign_weight!r}")  # fmt: skip
    targets, weights = pseudo_targets(y, signs, sign_weight=sign_weight)
    ridge = Ridge(alpha=alpha).fit(
        np.concatenate([x_values, x_signs]), np.concatenate([y, targets]), sample_weight=weights
    )
    return np.asarray(ridge.coef_, np.float64), float(ridge.intercept_)


def pseudo_targets(
    y: np.ndarray, signs: np.ndarray, *, sign_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """The sign rows' targets [m] (the mean of the values ``y`` [n] on their side of the
    values' mean) and every row's weight [n + m] (values 1, signs ``sign_weight * n / m``),
    as :func:`fit_pseudo_ridge` fits them.

    >>> targets, weights = pseudo_targets(np.array([0.2, 0.4, 0.6, 0.8]), np.array([1.0, 0.0]),
    ...                                   sign_weight=1.0)
    >>> targets.round(2).tolist(), weights.tolist()
    ([0.7, 0.3], [1.0, 1.0, 1.0, 1.0, 2.0, 2.0])
    """
    above = y > y.mean()
    side_means = (y[~above].mean(), y[above].mean() if above.any() else y.mean())
    targets = np.where(signs == 1, side_means[1], side_means[0])
    weights = np.concatenate(
        [np.ones(len(y)), np.full(len(signs), sign_weight * len(y) / max(len(signs), 1))]
    )
    return targets, weights
