"""Repeated, group-aware cross-validation over the training and validation songs
(``modelling.evaluation: grouped_cv``): figures that one small test split cannot give.

Every fold holds out whole groups (the artist groups the splits were drawn in), so no artist
is on both sides. Inside each outer fold, the head's hyper-parameters are chosen by an inner
grouped K-fold on the outer training songs only; the held-out songs are predicted once per
repeat. Per label: the R², Pearson r and CCC of the out-of-fold song predictions of each
repeat (mean and sd over repeats), of all repeats pooled, with a 95 % bootstrap interval that
resamples groups. The test split is never read. Only songs with values are held out
and scored. The songs of a quadrant corpus (signs only) join every training fold, and the
inner choice of alpha, as they join the ridge's fit (``sign_weight``, ``sign_loss``): the
figures are those of the model that is trained, on the continuous corpus's songs.

The out-of-fold absolute residuals go with the table (:class:`CrossValidation`): they
calibrate the ridge's song-level prediction intervals from every labelled song
(``core.conformal.repeated_conformal_quantile``).

Cost: the closed-form heads (the ridge, the kernel ridge) are solved on cached song vectors
(seconds for every fold and repeat). Gradient-trained networks take minutes per fit on CPU
(5 x 5 folds x 3 labels would be hours for the thesis's CNN and LSTM), so they are not
cross-validated; their rows say so.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from soundtrack_emotion.core.architectures import CLOSED_FORM
from soundtrack_emotion.core.metrics import bootstrap_intervals, regression_metrics
from soundtrack_emotion.datasets import ModelInputs
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.modelling.heads import (
    DEFAULT_SIGN_LOSS,
    DEFAULT_SIGN_WEIGHT,
    check_closed_form_training,
    clip_vad,
    closed_form_head,
    closed_form_predictor,
    label_signs,
    sign_columns,
    song_vectors,
)

logger = logging.getLogger(__name__)

EVALUATIONS: tuple[str, ...] = ("auto", "holdout", "grouped_cv")
CV_METRICS: tuple[str, ...] = ("r2", "pearson_r", "ccc")
CV_COLUMNS: tuple[str, ...] = (
    "feature",
    "network",
    "target",
    "label",
    "folds",
    "repeats",
    "n_songs",
    "n_groups",
    *CV_METRICS,
    *(f"{name}_{stat}" for name in CV_METRICS for stat in ("mean", "sd")),
    "r2_ci_low",
    "r2_ci_high",
    "baseline_r2",
    "note",
)
# Fewer groups than this leave too little to hold out (outer and inner folds of whole groups).
MIN_GROUPS = 6
NOT_CROSS_VALIDATED = (
    "not cross-validated: a gradient-trained network costs minutes per fit on CPU "
    "(folds x repeats fits per label); its holdout figures stand"
)


def resolve_evaluation(evaluation: str, cross_validation: Mapping[str, Any], n_songs: int) -> str:
    """``holdout`` or ``grouped_cv``: ``auto`` is ``grouped_cv`` below
    ``cross_validation.max_songs`` training and validation songs."""
    if evaluation not in EVALUATIONS:
        raise ParameterError(
            f"modelling.evaluation must be one of {list(EVALUATIONS)}, got {evaluation!r}"
        )
    if evaluation != "auto":
        return evaluation
    return "grouped_cv" if n_songs < int(cross_validation["max_songs"]) else "holdout"


def grouped_folds(groups: np.ndarray, *, folds: int, rng: np.random.Generator) -> np.ndarray:
    """The fold (0..folds-1) of each item: whole groups, in a random order, each to the fold
    with the fewest items so far (folds of about equal size).

    >>> grouped_folds(np.array(["a", "a", "b", "c", "c", "d"]), folds=2,
    ...               rng=np.random.default_rng(0)).tolist()
    [1, 1, 0, 0, 0, 1]
    """
    keys, inverse = np.unique(groups, return_inverse=True)
    if not 2 <= folds <= len(keys):
        raise ParameterError(f"{folds} folds need 2 to {len(keys)} (the groups) folds")
    sizes = np.bincount(inverse)
    fold_of_group = np.empty(len(keys), dtype=np.int64)
    load = np.zeros(folds, dtype=np.int64)
    for g in rng.permutation(len(keys)):
        fold_of_group[g] = int(np.argmin(load))
        load[fold_of_group[g]] += sizes[g]
    return fold_of_group[inverse]


RESIDUAL_COLUMNS: tuple[str, ...] = ("label", "repeat", "song_id", "residual")


@dataclass(frozen=True)
class CrossValidation:
    """A model's cross-validation: ``table`` (``CV_COLUMNS``, one row per label) and
    ``residuals`` (``RESIDUAL_COLUMNS``: each repeat's out-of-fold absolute error of each
    scored song's clipped prediction, per label; empty where nothing was cross-validated)."""

    table: pd.DataFrame
    residuals: pd.DataFrame

    @classmethod
    def without_residuals(cls, table: pd.DataFrame) -> CrossValidation:
        return cls(table, pd.DataFrame(columns=list(RESIDUAL_COLUMNS)))


def residual_matrix(residuals: pd.DataFrame | None, label: str) -> np.ndarray:
    """``label``'s out-of-fold residuals (``RESIDUAL_COLUMNS`` rows) as [repeats, songs];
    empty [0, 0] without any."""
    rows = residuals[residuals["label"] == label] if residuals is not None else None
    if rows is None or rows.empty:
        return np.empty((0, 0))
    table = rows.pivot(index="repeat", columns="song_id", values="residual")
    return table.to_numpy(dtype=np.float64)


@dataclass(frozen=True)
class SignSongs:
    """Songs that have only labels' signs (a quadrant corpus): their vectors [m, d], signs
    [m, k] (NaN where a song has none), and how they join a fit."""

    x: np.ndarray
    signs: np.ndarray
    weight: float = DEFAULT_SIGN_WEIGHT
    loss: str = DEFAULT_SIGN_LOSS

    def joined(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """``(x, y)`` of songs with values followed by these songs (values NaN), and the
        keyword arguments that give the fit their signs."""
        if not len(self.x):
            return x, y, {}
        x_all = np.concatenate([x, self.x])
        y_all = np.concatenate([y, np.full((len(self.x), y.shape[1]), np.nan)])
        signs = np.concatenate([np.full_like(y, np.nan), self.signs])
        return x_all, y_all, {"signs": signs, "sign_weight": self.weight, "sign_loss": self.loss}


def _inner_choice(
    network: str,
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    grid: list[Any],
    *,
    inner: int,
    rng: np.random.Generator,
    sign_songs: SignSongs,
    column_weights: Sequence[float] | None = None,
) -> list[Any]:
    """Each label's hyper-parameters among ``grid`` (the head's candidates) with the lowest
    MSE over an inner grouped ``inner``-fold (the ``sign_songs`` in every inner training
    part)."""
    validation_mse = closed_form_head(network).validation_mse
    fold = grouped_folds(groups, folds=min(inner, len(np.unique(groups))), rng=rng)
    total = np.zeros((len(grid), y.shape[1]))
    for f in np.unique(fold):
        held = fold == f
        x_fit, y_fit, signed = sign_songs.joined(x[~held], y[~held])
        total += held.sum() * validation_mse(
            x_fit, y_fit, x[held], y[held], grid,
            signs_train=signed.get("signs"),
            sign_weight=sign_songs.weight, sign_loss=sign_songs.loss,
            column_weights=column_weights,
        )  # fmt: skip
    return [grid[i] for i in np.argmin(total, axis=0)]


def _check(cross_validation: Mapping[str, Any]) -> dict[str, int]:
    expected = {"folds", "repeats", "inner_folds", "max_songs"}
    if set(cross_validation) != expected:
        raise ParameterError(
            f"modelling.cross_validation must be {sorted(expected)}, got {sorted(cross_validation)}"
        )
    for name, value in cross_validation.items():
        if not (isinstance(value, int) and value >= (1 if name == "repeats" else 2)):
            raise ParameterError(f"cross_validation.{name} must be an integer >= 2, got {value!r}")
    return dict(cross_validation)


def cross_validate(
    model_input: ModelInputs,
    feature_normaliser: Mapping[str, list[float]],
    network: Mapping[str, Any],
    soundtracks: pd.DataFrame,
    *,
    evaluation: str,
    cross_validation: Mapping[str, Any],
    seed: int,
    feature: str,
    network_name: str,
    labels: tuple[str, ...],
    target: str,
) -> CrossValidation:
    """Repeated grouped K-fold of one model over the training and validation songs (see the
    module): one row per label (``CV_COLUMNS``), none when the evaluation is ``holdout``, and
    the out-of-fold residuals."""
    settings = _check(cross_validation)
    train, validation = model_input.train, model_input.validation
    n_songs = len(np.unique(train.song_ids())) + len(np.unique(validation.song_ids()))
    if resolve_evaluation(evaluation, settings, n_songs) == "holdout":
        return CrossValidation.without_residuals(pd.DataFrame(columns=list(CV_COLUMNS)))
    identity = {"feature": feature, "network": network_name, "target": target,
                "folds": settings["folds"], "repeats": settings["repeats"]}  # fmt: skip
    if network_name not in CLOSED_FORM:
        logger.info("%s_%s.%s %s", feature, network_name, target, NOT_CROSS_VALIDATED)
        return CrossValidation.without_residuals(_table([
            {**identity, "label": label, "n_songs": n_songs, "n_groups": 0,
             "note": NOT_CROSS_VALIDATED} for label in labels]))  # fmt: skip
    check_closed_form_training(network_name, network["training"])
    grid = closed_form_head(network_name).grid(network["training"])
    vectors = {
        "feature_mean": feature_normaliser["mean"],
        "feature_variance": feature_normaliser["variance"],
        "pooling": (network.get("architecture") or {}).get("pooling", "statistics"),
    }
    weights = feature_normaliser.get("weights")
    columns = sign_columns(train, labels)
    parts = [song_vectors(split, (*labels, *columns), **vectors) for split in (train, validation)]
    x = np.concatenate([p[0] for p in parts])
    y, signs = label_signs(np.concatenate([p[1] for p in parts]), labels, columns)
    song_ids = np.concatenate([p[2] for p in parts])
    # Songs with every label's value are folded and scored; songs with signs only train.
    valued = np.isfinite(y).all(axis=1)
    training = network["training"]
    sign_songs = SignSongs(
        x=x[~valued] if signs is not None else x[:0],
        signs=signs[~valued] if signs is not None else np.empty((0, len(labels))),
        weight=float(training.get("sign_weight", DEFAULT_SIGN_WEIGHT)),
        loss=str(training.get("sign_loss", DEFAULT_SIGN_LOSS)),
    )
    x, y, song_ids = x[valued], y[valued], song_ids[valued]
    n_songs = len(song_ids)
    group_of = groups_of(song_ids, soundtracks)
    n_groups = len(np.unique(group_of))
    if n_groups < MIN_GROUPS:
        note = f"not cross-validated: {n_groups} artist groups (at least {MIN_GROUPS} needed)"
        return CrossValidation.without_residuals(_table([
            {**identity, "label": label, "n_songs": n_songs, "n_groups": n_groups,
             "note": note} for label in labels]))  # fmt: skip
    settings["folds"] = identity["folds"] = min(settings["folds"], n_groups)
    rng = np.random.default_rng(seed)
    predicted = np.empty((settings["repeats"], *y.shape))
    baseline = np.empty_like(predicted)
    for r in range(settings["repeats"]):
        fold = grouped_folds(group_of, folds=settings["folds"], rng=rng)
        for f in range(settings["folds"]):
            held = fold == f
            chosen = _inner_choice(network_name, x[~held], y[~held], group_of[~held], grid,
                                   inner=settings["inner_folds"], rng=rng,
                                   sign_songs=sign_songs, column_weights=weights)  # fmt: skip
            x_fit, y_fit, signed = sign_songs.joined(x[~held], y[~held])
            predict = closed_form_predictor(network_name, x_fit, y_fit, chosen,
                                            column_weights=weights, **signed)  # fmt: skip
            predicted[r, held] = predict(x[held])
            baseline[r, held] = y[~held].mean(axis=0)
    rows = [
        _label_row(y[:, j], predicted[:, :, j], baseline[:, :, j], group_of, seed)
        | identity
        | {"label": label, "n_songs": n_songs, "n_groups": n_groups}
        for j, label in enumerate(labels)
    ]
    logger.info("%s_%s.%s grouped CV (%d x %d folds, %d songs): %s", feature, network_name,
                target, settings["repeats"], settings["folds"], n_songs,
                ", ".join(f"{r['label']} R² {r['r2_mean']:.3f} ± {r['r2_sd']:.3f}"
                          for r in rows))  # fmt: skip
    return CrossValidation(_table(rows), _residuals(y, predicted, song_ids, labels))


def _residuals(
    true: np.ndarray, predicted: np.ndarray, song_ids: np.ndarray, labels: tuple[str, ...]
) -> pd.DataFrame:
    """``true`` [s, k] and ``predicted`` [repeats, s, k] as ``RESIDUAL_COLUMNS`` rows."""
    repeats, songs, _ = predicted.shape
    errors = np.abs(clip_vad(predicted) - true[None])
    return pd.DataFrame({
        "label": np.repeat(np.asarray(labels), repeats * songs),
        "repeat": np.tile(np.repeat(np.arange(repeats), songs), len(labels)),
        "song_id": np.tile(np.asarray(song_ids).astype(str), repeats * len(labels)),
        "residual": errors.transpose(2, 0, 1).reshape(-1),
    })  # fmt: skip


def song_groups(soundtracks: pd.DataFrame) -> pd.Series:
    """The group of each song (index: its id), the unit the splits were drawn in: the
    ``group`` column where ``soundtracks`` carries one, else the artist credit (lower-cased);
    a song without an artist is a group of its own."""
    ids = soundtracks["id"].astype(str)
    if "group" in soundtracks:
        return pd.Series(soundtracks["group"].astype(str).to_numpy(), index=ids, name="group")
    artist = soundtracks.get("artist", pd.Series("", index=soundtracks.index))
    credit = artist.fillna("").astype(str).str.strip().str.lower()
    return pd.Series(credit.where(credit != "", "track:" + ids).to_numpy(), index=ids,
                     name="group")  # fmt: skip


def groups_of(song_ids: np.ndarray, soundtracks: pd.DataFrame) -> np.ndarray:
    """The :func:`song_groups` key of each of ``song_ids``; a song missing from
    ``soundtracks`` is a group of its own (logged)."""
    ids = pd.Series(np.asarray(song_ids).astype(str))
    groups = ids.map(song_groups(soundtracks))
    if groups.isna().any():
        missing = ids[groups.isna()].unique()
        logger.warning("%d songs are not in soundtracks (e.g. %s): each is its own group",
                       len(missing), list(missing[:3]))  # fmt: skip
        groups = groups.fillna("track:" + ids)
    return groups.astype(str).to_numpy()


def _label_row(
    true: np.ndarray, predicted: np.ndarray, baseline: np.ndarray, groups: np.ndarray, seed: int
) -> dict[str, Any]:
    """``true`` [s]; ``predicted`` and ``baseline`` [repeats, s] out-of-fold predictions."""
    per_repeat = [regression_metrics(true, clip_vad(p)) for p in predicted]
    repeats = len(predicted)
    pooled_true, pooled = np.tile(true, repeats), clip_vad(predicted.reshape(-1))
    pooled_scores = regression_metrics(pooled_true, pooled)
    interval = bootstrap_intervals(pooled_true, pooled, seed=seed, groups=np.tile(groups, repeats))
    row: dict[str, Any] = {name: pooled_scores[name] for name in CV_METRICS}
    for name in CV_METRICS:
        values = np.array([scores[name] for scores in per_repeat])
        row[f"{name}_mean"] = float(np.mean(values))
        row[f"{name}_sd"] = float(np.std(values, ddof=1)) if repeats > 1 else math.nan
    row["r2_ci_low"], row["r2_ci_high"] = interval["r2"]
    row["baseline_r2"] = regression_metrics(pooled_true, baseline.reshape(-1))["r2"]
    row["note"] = ""
    return row


def _table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(CV_COLUMNS))
    numeric = [c for c in CV_COLUMNS if c not in ("feature", "network", "target", "label", "note")]
    table[numeric] = table[numeric].astype(np.float64)
    return table.astype({"folds": np.int64, "repeats": np.int64, "n_songs": np.int64,
                         "n_groups": np.int64})  # fmt: skip
