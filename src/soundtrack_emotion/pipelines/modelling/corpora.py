"""Test metrics per corpus: a model trained on several labelled corpora is scored on each
corpus's test songs with the labels that corpus has.

A song of a continuous corpus has values: R² and Pearson r of its song-level prediction. A
song of a quadrant corpus has the signs its Russell quadrant gives (``QUADRANT_SIGNS``):
the ROC AUC of the predicted valence for positive (Q1, Q4) against negative (Q2, Q3), and
of the predicted arousal for high (Q1, Q2) against low (Q3, Q4). Each with a 95 %
bootstrap interval over the test split's artist groups. The rows come from the test
predictions (scored once, after the model choice), which carry each song's ``corpus`` and
``quadrant`` (:func:`song_corpora`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from soundtrack_emotion.core.metrics import (
    auc_interval,
    bootstrap_intervals,
    pearson_r,
    r2,
    roc_auc,
)
from soundtrack_emotion.core.vocabulary import QUADRANT_SIGNS, SIGNED_LABELS

CORPUS_STATISTICS: tuple[str, ...] = ("r2", "pearson_r", "auc")
CORPUS_METRICS_COLUMNS: tuple[str, ...] = (
    "feature",
    "network",
    "target",
    "label",
    "corpus",
    "split",
    "n_songs",
    *(f"{name}{end}" for name in CORPUS_STATISTICS for end in ("", "_ci_low", "_ci_high")),
)
# The corpus name of songs whose soundtracks carry none (tables written before corpora).
UNNAMED_CORPUS = "corpus"


def song_corpora(soundtracks: pd.DataFrame) -> pd.DataFrame:
    """Each song's ``corpus`` and ``quadrant`` ("" where it has none), indexed by its id."""
    ids = soundtracks["id"].astype(str)
    columns = {
        name: soundtracks[name].fillna("").astype(str).to_numpy()
        if name in soundtracks else np.full(len(soundtracks), default)
        for name, default in (("corpus", UNNAMED_CORPUS), ("quadrant", ""))
    }  # fmt: skip
    table = pd.DataFrame(columns, index=pd.Index(ids, name="song_id"))
    table.loc[table["corpus"] == "", "corpus"] = UNNAMED_CORPUS
    return table


def _sign_of(label: str, quadrants: pd.Series) -> pd.Series:
    """The sign of ``label`` each song's quadrant gives (NaN without a quadrant)."""
    index = SIGNED_LABELS.index(label)
    return quadrants.map(lambda q: QUADRANT_SIGNS[q][index] if q in QUADRANT_SIGNS else math.nan)


def corpus_rows(
    test_predictions: pd.DataFrame, *, labels: tuple[str, ...], seed: int
) -> list[dict[str, Any]]:
    """One row per (label, corpus) with songs that can score it (``CORPUS_METRICS_COLUMNS``
    less the model's identity), from long test predictions with ``corpus`` and ``quadrant``
    columns (none without them)."""
    if not {"corpus", "quadrant"} <= set(test_predictions):
        return []
    rows = []
    for label in labels:
        frames = test_predictions[test_predictions["label"] == label]
        songs = frames.groupby("song_id", sort=True).agg(
            true=("true", "mean"), predicted=("predicted", "mean"), corpus=("corpus", "first"),
            quadrant=("quadrant", "first"),
            **({"group": ("group", "first")} if "group" in frames else {}),
        )  # fmt: skip
        for corpus, members in songs.groupby("corpus", sort=True):
            row = _row(members, label, seed)
            if row is not None:
                rows.append({"label": label, "corpus": str(corpus), "split": "test", **row})
    return rows


def _row(songs: pd.DataFrame, label: str, seed: int) -> dict[str, Any] | None:
    """The statistics of one corpus's songs for ``label``; ``None`` when none scores it."""
    groups = songs["group"].to_numpy() if "group" in songs else None
    valued = np.isfinite(songs["true"].to_numpy())
    signs = _sign_of(label, songs["quadrant"]) if label in SIGNED_LABELS else None
    signed = (np.isfinite(signs.to_numpy(np.float64)) & ~valued) if signs is not None else (
        np.zeros(len(songs), bool))  # fmt: skip
    if valued.sum() < 2 and signed.sum() < 2:
        return None
    row: dict[str, Any] = {"n_songs": int(valued.sum() + signed.sum())}
    row.update({f"{name}{end}": math.nan for name in CORPUS_STATISTICS
                for end in ("", "_ci_low", "_ci_high")})  # fmt: skip
    if valued.sum() >= 2:
        true = songs["true"].to_numpy()[valued]
        predicted = songs["predicted"].to_numpy()[valued]
        intervals = bootstrap_intervals(
            true, predicted, seed=seed, groups=None if groups is None else groups[valued]
        )
        row |= {"r2": r2(true, predicted), "pearson_r": pearson_r(true, predicted)}
        for name in ("r2", "pearson_r"):
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = intervals[name]
    if signed.sum() >= 2:
        sign = signs.to_numpy(np.float64)[signed]
        score = songs["predicted"].to_numpy()[signed]
        row["auc"] = roc_auc(sign, score)
        row["auc_ci_low"], row["auc_ci_high"] = auc_interval(
            sign, score, seed=seed, groups=None if groups is None else groups[signed]
        )
    return row


def corpus_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``corpus_metrics`` from rows of :func:`corpus_rows` with the model's identity."""
    table = pd.DataFrame(rows, columns=list(CORPUS_METRICS_COLUMNS))
    text = ["feature", "network", "target", "label", "corpus", "split"]
    numeric = [c for c in CORPUS_METRICS_COLUMNS if c not in (*text, "n_songs")]
    table[numeric] = table[numeric].astype(np.float64)
    table[text] = table[text].fillna("").astype(str)
    table["n_songs"] = table["n_songs"].astype(np.int64)
    return table.sort_values(["label", "corpus", "feature", "network", "target"],
                             ignore_index=True)  # fmt: skip
