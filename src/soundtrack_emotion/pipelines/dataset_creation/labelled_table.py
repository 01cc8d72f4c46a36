"""Bring your own labels: ``soundtracks`` from a labelled table instead of Last.fm tags.

    labelled_tracks, params:dataset_creation.split
        -> build_labelled_soundtracks -> soundtracks, dataset_report

Everything downstream (feature_extraction, modelling, reporting, inference) reads
``soundtracks`` and runs unchanged. A ``split`` column in the table is respected; without
one, tracks are split as the Last.fm path splits them (seeded, grouped by artist).
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
from soundtrack_emotion.core.vocabulary import SPLITS, VAD_LABELS
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


def _check_table(table: pd.DataFrame) -> None:
    missing = [c for c in ("id", "audio_path", *VAD_LABELS) if c not in table.columns]
    if missing:
        raise DataValidationError(f"labelled table lacks column(s) {missing}")
    if table.empty:
        raise DataValidationError("labelled table has no rows")
    problems = []
    duplicated = table.loc[table["id"].duplicated(), "id"].tolist()
    if duplicated:
        problems.append(f"duplicate ids {duplicated[:5]}")
    for label in VAD_LABELS:
        values = pd.to_numeric(table[label], errors="coerce")
        bad = table.loc[~values.between(0.0, 1.0), "id"].tolist()
        if bad:
            problems.append(
                f"{label} missing or outside [0, 1] for {len(bad)} rows, e.g. {bad[:3]} "
                "(rescale labels to 0..1 first: (x - scale_min) / (scale_max - scale_min))"
            )
    if "split" in table.columns:
        unknown = sorted(set(table["split"].dropna().astype(str)) - set(SPLITS))
        if unknown:
            problems.append(f"unknown split value(s) {unknown}; known: {list(SPLITS)}")
        if table["split"].isna().any():
            problems.append("the split column has empty cells: give every row a split, or none")
    if problems:
        raise DataValidationError("labelled table: " + "; ".join(problems))


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
    artist = (
        kept["artist"].fillna("").astype(str) if "artist" in kept else pd.Series("", kept.index)
    )
    given_split = "split" in kept.columns
    # Without artists, every track is its own group.
    group_by = str(split.get("group_by", "artists")) if artist.str.len().all() else "track"
    groups = split_groups(kept["id"].tolist(), artist.tolist(), [""] * len(kept), group_by=group_by)
    if given_split:
        splits = kept["split"].astype(str).tolist()
    else:
        splits = assign_splits(
            groups,
            validation_fraction=float(split["validation_fraction"]),
            test_fraction=float(split["test_fraction"]),
            seed=int(split["seed"]),
        )
    soundtracks = pd.DataFrame(
        {
            "id": kept["id"].astype(str),
            "track": (kept["track"] if "track" in kept else kept["id"]).fillna("").astype(str),
            "artist": artist,
            "duration_ms": [_duration_ms(p) for p in kept["audio_path"]],
            "weighted_mood": "",
            "spotify_id": "",
            "audio_path": kept["audio_path"].astype(str),
            **{label: kept[label].astype(np.float64) for label in VAD_LABELS},
            "n_mood_tags": 0,
            "split": splits,
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
        "split_source": "table" if given_split else f"assigned (grouped by {group_by})",
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
