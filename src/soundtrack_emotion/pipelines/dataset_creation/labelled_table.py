"""Bring your own labels: ``soundtracks`` from a labelled table instead of Last.fm tags.

    labelled_tracks, params:dataset_creation.split
        -> build_labelled_soundtracks -> soundtracks, dataset_report

Everything downstream (feature_extraction, modelling, reporting, inference) reads
``soundtracks`` and runs unchanged. A ``split`` column in the table is respected; without
one, tracks are split as the Last.fm path splits them (seeded, grouped by artist), each corpus
on its own, so that every corpus has training, validation and test songs. With several
corpora, a corpus whose split cells are all empty is split so, and the others keep theirs
(e.g. a corpus given entirely to ``test``, to score a model trained on the others).

A row is labelled either with ``valence, arousal, dominance`` in 0..1, or with a Russell
``quadrant`` (Q1-Q4) and empty VAD cells: its VAD labels stay NaN in ``soundtracks`` and the
modelling pipeline learns the quadrant's signs from it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

from soundtrack_emotion.core.matching import file_safe_ids
from soundtrack_emotion.core.vocabulary import QUADRANTS, SPLITS, VAD_LABELS
from soundtrack_emotion.exceptions import DataValidationError, ParameterError
from soundtrack_emotion.pipelines.dataset_creation.nodes import (
    SOUNDTRACK_COLUMNS,
    label_statistics,
    validate_soundtracks,
)
from soundtrack_emotion.pipelines.dataset_creation.splitting import (
    assign_splits,
    groups_spanning_splits,
    split_groups,
)

logger = logging.getLogger(__name__)

SOURCE = "labelled_table"
# The corpus of a table without a corpus column (the catalog's dataset names it otherwise).
DEFAULT_CORPUS = "labelled"


def _quadrants(table: pd.DataFrame) -> pd.Series:
    """Each row's quadrant, "" where it has none."""
    if "quadrant" not in table.columns:
        return pd.Series("", index=table.index)
    return table["quadrant"].fillna("").astype(str).str.strip().str.upper()


def _vad_values(table: pd.DataFrame) -> pd.DataFrame:
    """The VAD columns as numbers (NaN for empty cells and for a missing column)."""
    return pd.DataFrame(
        {
            label: pd.to_numeric(table[label], errors="coerce")
            if label in table.columns
            else pd.Series(np.nan, index=table.index)
            for label in VAD_LABELS
        }
    )


def _check_table(table: pd.DataFrame) -> None:
    missing = [c for c in ("id", "audio_path") if c not in table.columns]
    if not any(c in table.columns for c in (*VAD_LABELS, "quadrant")):
        missing.append(f"{'/'.join(VAD_LABELS)} or quadrant")
    if missing:
        raise DataValidationError(f"labelled table lacks column(s) {missing}")
    if table.empty:
        raise DataValidationError("labelled table has no rows")
    problems = []
    duplicated = table.loc[table["id"].duplicated(), "id"].tolist()
    if duplicated:
        problems.append(f"duplicate ids {duplicated[:5]}")
    values = _vad_values(table)
    quadrants = _quadrants(table)
    labelled = values.notna()
    by_quadrant = ~labelled.any(axis=1) & (quadrants != "")
    for label in VAD_LABELS:
        bad = table.loc[~by_quadrant & ~values[label].between(0.0, 1.0), "id"].tolist()
        if bad:
            problems.append(
                f"{label} missing or outside [0, 1] for {len(bad)} rows, e.g. {bad[:3]} "
                "(rescale labels to 0..1 first: (x - scale_min) / (scale_max - scale_min); "
                "a row labelled by its quadrant leaves all three empty)"
            )
    unknown = sorted(set(quadrants[quadrants != ""]) - set(QUADRANTS))
    if unknown:
        problems.append(f"unknown quadrant value(s) {unknown}; known: {list(QUADRANTS)}")
    if "split" in table.columns:
        unknown = sorted(set(table["split"].dropna().astype(str)) - set(SPLITS))
        if unknown:
            problems.append(f"unknown split value(s) {unknown}; known: {list(SPLITS)}")
        corpus = table["corpus"].fillna("") if "corpus" in table else pd.Series("", table.index)
        empty = table["split"].isna().groupby(corpus).agg(["any", "all"])
        partial = empty.index[empty["any"] & ~empty["all"]].tolist()
        if partial:
            problems.append(f"the split column has empty cells in corpus {partial}: give every "
                            "row of a corpus a split, or none")  # fmt: skip
    if problems:
        raise DataValidationError("labelled table: " + "; ".join(problems))


def _corpus_splits(
    kept: pd.DataFrame, split: Mapping[str, Any]
) -> tuple[list[str], list[str], dict[str, str]]:
    """(group key, split) of every row, assigned corpus by corpus, and how each corpus was
    grouped: by artist where every row of the corpus names one, else track by track."""
    groups = pd.Series("", index=kept.index, dtype=object)
    splits = pd.Series("", index=kept.index, dtype=object)
    grouped_by = {}
    for corpus, rows in kept.groupby("corpus", sort=True):
        artist = rows["artist"]
        group_by = str(split.get("group_by", "artists")) if artist.str.len().all() else "track"
        keys = split_groups(
            rows["id"].tolist(), artist.tolist(), [""] * len(rows), group_by=group_by
        )
        groups[rows.index] = [f"{corpus}/{key}" for key in keys]
        grouped_by[str(corpus)] = group_by
        if "split" in rows.columns and rows["split"].notna().all():
            splits[rows.index] = rows["split"].astype(str).tolist()
            grouped_by[str(corpus)] = "table"
        else:
            splits[rows.index] = assign_splits(
                keys,
                validation_fraction=float(split["validation_fraction"]),
                test_fraction=float(split["test_fraction"]),
                seed=int(split["seed"]),
            )
    return groups.tolist(), splits.tolist(), grouped_by


def _duration_ms(path: str) -> int:
    """The header's duration, 0 when the header cannot be read (feature extraction then
    records why the file cannot be decoded)."""
    try:
        return round(sf.info(path).duration * 1000)
    except (sf.LibsndfileError, RuntimeError, OSError):
        return 0


def build_labelled_soundtracks(
    labelled_tracks: pd.DataFrame, split: Mapping[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``soundtracks`` (exactly ``SOUNDTRACK_COLUMNS``) and its ``dataset_report`` from a
    labelled table (``LabelledTableDataset``: id, audio_path, valence, arousal, dominance,
    optional track, artist and split).

    Rows whose audio file does not exist are dropped and listed in the report; labels outside
    0..1, duplicate ids or unknown splits stop the run (they are the table's errors, not one
    track's).
    """
    table = labelled_tracks.copy()
    _check_table(table)
    # Track ids name files in the feature stores: one safe path component each.
    try:
        ids = file_safe_ids(table["id"].astype(str).tolist(), what="track id")
    except ParameterError as error:
        raise DataValidationError(f"labelled table: {error}") from None
    table["id"] = table["id"].astype(str).map(ids)
    has_audio = np.array([bool(p) and Path(p).is_file() for p in table["audio_path"]])
    dropped = table.loc[~has_audio, ["id", "audio_path"]]
    kept = table.loc[has_audio].reset_index(drop=True)
    if kept.empty:
        raise DataValidationError(
            f"labelled table: none of its {len(table)} audio files exists, e.g. "
            f"{table['audio_path'].iloc[0]!r}"
        )
    kept["artist"] = (
        kept["artist"].fillna("").astype(str) if "artist" in kept else pd.Series("", kept.index)
    )
    kept["corpus"] = (
        kept["corpus"].fillna(DEFAULT_CORPUS).astype(str).str.strip().replace("", DEFAULT_CORPUS)
        if "corpus" in kept
        else DEFAULT_CORPUS
    )
    given_split = "split" in kept.columns and bool(kept["split"].notna().all())
    # Without artists, every track is its own group.
    groups, splits, grouped_by = _corpus_splits(kept, split)
    values = _vad_values(kept)
    soundtracks = pd.DataFrame(
        {
            "id": kept["id"].astype(str),
            "track": (kept["track"] if "track" in kept else kept["id"]).fillna("").astype(str),
            "artist": kept["artist"],
            "duration_ms": [_duration_ms(p) for p in kept["audio_path"]],
            "weighted_mood": "",
            "spotify_id": "",
            "audio_path": kept["audio_path"].astype(str),
            **{label: values[label].astype(np.float64) for label in VAD_LABELS},
            "n_mood_tags": 0,
            "split": splits,
            "corpus": kept["corpus"],
            # A row with VAD values is learnt from them, even if it also names a quadrant.
            "quadrant": _quadrants(kept).where(values.isna().all(axis=1), ""),
        },
        columns=list(SOUNDTRACK_COLUMNS),
    ).astype({"duration_ms": "int64", "n_mood_tags": "int64"})
    validate_soundtracks(soundtracks)
    report = {
        "source": SOURCE,
        "counts": {"rows": len(table), "with_audio": len(kept), "kept": len(soundtracks)},
        "dropped_by_reason": {"no_audio_file": len(dropped)} if len(dropped) else {},
        "dropped": [
            {"id": row.id, "reason": "no_audio_file", "detail": f"{row.audio_path!r} not found"}
            for row in dropped.itertuples(index=False)
        ],
        "split_source": "table"
        if given_split
        else "assigned per corpus (grouped by "
        + ", ".join(f"{c}: {g}" for c, g in grouped_by.items())
        + ")",
        "corpora": {
            str(corpus): {
                "tracks": len(rows),
                "labelled_by": "quadrant"
                if (rows["quadrant"] != "").all()
                else "vad"
                if (rows["quadrant"] == "").all()
                else "vad and quadrant",
                "splits": {s: int((rows["split"] == s).sum()) for s in SPLITS},
            }
            for corpus, rows in soundtracks.groupby("corpus", sort=True)
        },
        # A split given in the table may put one artist in two splits: say so.
        "groups_spanning_splits": groups_spanning_splits(groups, splits),
        "splits": {s: int((soundtracks["split"] == s).sum()) for s in SPLITS},
        "artists_per_split": {
            s: int(soundtracks.loc[soundtracks["split"] == s, "artist"].nunique()) for s in SPLITS
        },
        "labels": label_statistics(soundtracks),
    }
    logger.info(
        "labelled table: %d of %d rows kept (%s)",
        len(soundtracks),
        len(table),
        ", ".join(f"{s} {n}" for s, n in report["splits"].items()),
    )
    return soundtracks, report
