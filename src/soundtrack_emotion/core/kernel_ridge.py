"""Kernel ridge regression with a Gaussian (RBF) kernel, in closed form, for one label.

On standardised song vectors ``z`` [n, d] the model is ``f(z) = sum_i dual_i k(z, z_i) +
intercept`` with ``k(a, b) = exp(-(gamma / d) |a - b|^2)``: ``gamma`` is relative to the
dimension, so one grid suits every feature family (the squared distance of two standardised
vectors grows with ``d``). With row weights ``w`` (the pseudo-target rows of a quadrant
corpus, ``core.joint_ridge.pseudo_targets``) it minimises::

    sum_i w_i (y_i - f(z_i))^2 + alpha |f|^2_H

whose solution is ``dual = W^1/2 (W^1/2 K W^1/2 + alpha I)^-1 W^1/2 (y - intercept)`` with
the weighted mean of ``y`` as the intercept (scikit-learn's ``KernelRidge`` with
``sample_weight`` on centred targets). Unlike the linear ridge, it lets one piece of evidence
act differently by context (the mode of a piece by its genre and timbre), which is what
valence needed on real music (docs/benchmarks/valence.md).

One eigendecomposition per ``gamma`` solves every ``alpha`` (:func:`kernel_ridge_path`), so
choosing both on validation songs costs a few decompositions of an [n, n] matrix: cubic in
the songs, meant for song-level vectors of corpora up to a few thousand songs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from soundtrack_emotion.exceptions import ParameterError


class KernelSolution(NamedTuple):
    """A solved kernel ridge of one label: ``centres`` [m, d] (standardised training
    vectors), ``dual`` [m], ``intercept`` and ``gamma`` (per dimension: the kernel is
    ``exp(-gamma |a - b|^2)``)."""

    centres: np.ndarray
    dual: np.ndarray
    intercept: float
    gamma: float

    def predict(self, z: np.ndarray) -> np.ndarray:
        """[n] predictions for standardised vectors ``z`` [n, d]."""
        return rbf_kernel(z, self.centres, self.gamma) @ self.dual + self.intercept


def check_grid(name: str, values: Sequence[float]) -> list[float]:
    """``values`` as floats, or :class:`ParameterError` naming ``name`` unless they are a
    non-empty list of positive numbers."""
    if isinstance(values, str) or not len(values) or any(
        isinstance(v, bool) or not isinstance(v, int | float) or not v > 0 for v in values
    ):
        raise ParameterError(f"kernel {name} must be a list of positive numbers, got {values!r}")
    return [float(v) for v in values]


def per_dimension(gamma: float, dimensions: int) -> float:
    """The kernel's width parameter for ``dimensions``-d standardised vectors."""
    return gamma / dimensions


def rbf_kernel(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    """``exp(-gamma |a_i - b_j|^2)`` [n, m] for ``a`` [n, d] and ``b`` [m, d]."""
    squared = (a**2).sum(axis=1)[:, None] - 2.0 * a @ b.T + (b**2).sum(axis=1)[None, :]
    return np.exp(-gamma * np.maximum(squared, 0.0))


def _weighted_system(
    kernel: np.ndarray, y: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """``W^1/2 K W^1/2``, ``W^1/2 (y - intercept)`` and the intercept (the weighted mean)."""
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(w) != len(y) or (w <= 0).any():
        raise ParameterError("kernel ridge weights must be one positive number per row")
    intercept = float(np.average(y, weights=w))
    root = np.sqrt(w)
    return root[:, None] * kernel * root[None, :], root * (y - intercept), intercept


def fit_kernel_ridge(
    z: np.ndarray,
    y: np.ndarray,
    *,
    alpha: float,
    gamma: float,
    weights: np.ndarray | None = None,
) -> KernelSolution:
    """The kernel ridge of ``y`` [n] on standardised ``z`` [n, d] (``gamma`` relative to the
    dimension, see the module), rows weighted by ``weights`` [n] (default 1)."""
    if len(z) != len(y) or len(y) < 2:
        raise ParameterError(f"kernel ridge needs at least 2 rows of z and y, got {len(y)}")
    width = per_dimension(gamma, z.shape[1])
    system, target, intercept = _weighted_system(rbf_kernel(z, z, width), y, weights)
    solved = np.linalg.solve(system + alpha * np.eye(len(y)), target)
    root = np.sqrt(np.ones(len(y)) if weights is None else np.asarray(weights, np.float64))
    return KernelSolution(centres=z, dual=root * solved, intercept=intercept, gamma=width)


def kernel_ridge_path(
    z: np.ndarray,
    y: np.ndarray,
    z_new: np.ndarray,
    *,
    alphas: Sequence[float],
    gamma: float,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """[n_new, n_alphas]: the predictions for ``z_new`` of :func:`fit_kernel_ridge` with each
    of ``alphas`` (one eigendecomposition for all of them)."""
    width = per_dimension(gamma, z.shape[1])
    system, target, intercept = _weighted_system(rbf_kernel(z, z, width), y, weights)
    eigenvalues, vectors = np.linalg.eigh(system)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    projected = vectors.T @ target
    root = np.sqrt(np.ones(len(y)) if weights is None else np.asarray(weights, np.float64))
    duals = root[:, None] * (
        vectors @ (projected[:, None] / (eigenvalues[:, None] + np.asarray(alphas)[None, :]))
    )
    return rbf_kernel(z_new, z, width) @ duals + intercept
