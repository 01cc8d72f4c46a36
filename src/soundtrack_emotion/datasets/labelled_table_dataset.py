"""A user's own labelled audio: one row per track with its audio path and its VAD labels.

The alternative to labelling through Last.fm tags ("bring your own labels"): a VoD company's
own ratings, DEAM, PMEmo, Emotify, ... Relative audio paths are resolved against the table's
own folder, so a table and its audio can move together.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

# Accepted spellings of each column, first match wins; ``id`` falls back to the file stem.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "track_id"),
    "audio_path": ("audio_path", "audio", "path", "file"),
    "track": ("track", "title", "name"),
    "artist": ("artist", "artist_name"),
    "split": ("split",),
}
TABLE_FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class LabelledTableDataset(AbstractDataset[None, pd.DataFrame]):
    """Read-only Kedro dataset of a labelled table (CSV or Parquet, by suffix).

    ``load`` returns the table with its columns renamed to the project's words (``id``,
    ``audio_path``, ``track``, ``artist``, ``split``; see :data:`COLUMN_ALIASES`), the label
    columns as they are, every other column kept, and ``audio_path`` absolute (relative
    paths are taken relative to the table's folder). Validation of the values is the job of
    ``dataset_creation.labelled.build_labelled_soundtracks``.

    ::

        labelled_tracks:
          type: soundtrack_emotion.datasets.LabelledTableDataset
          filepath: /data/my_ratings/labels.csv
    """

    def __init__(self, *, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(PurePosixPath(filepath))
        suffix = self._filepath.suffix.lower()
        if suffix not in TABLE_FORMATS:
            raise DatasetError(
                f"labelled table {filepath!r}: unknown format {suffix!r}; use one of "
                f"{sorted(TABLE_FORMATS)}"
            )
        self._format = TABLE_FORMATS[suffix]
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "format": self._format}

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def load(self) -> pd.DataFrame:
        if not self._filepath.is_file():
            raise DatasetError(
                f"no labelled table at {self._filepath}: point the `labelled_tracks` catalog "
                "entry at your table (e.g. in conf/local/catalog.yml)"
            )
        if self._format == "csv":
            table = pd.read_csv(self._filepath, dtype={"id": str, "track_id": str})
        else:
            table = pd.read_parquet(self._filepath)
        table = table.rename(columns=_renames(table.columns))
        if "audio_path" not in table.columns:
            raise DatasetError(
                f"labelled table {self._filepath} has no audio column: name one of "
                f"{list(COLUMN_ALIASES['audio_path'])}"
            )
        folder = self._filepath.absolute().parent
        table["audio_path"] = [
            str(_resolve(value, folder)) if isinstance(value, str) and value.strip() else ""
            for value in table["audio_path"]
        ]
        if "id" not in table.columns:
            table.insert(0, "id", [Path(p).stem for p in table["audio_path"]])
        table["id"] = table["id"].astype(str)
        return table

    def save(self, data: None) -> None:
        raise DatasetError(f"{self} is read-only: it is the user's own labelled table")


def _renames(columns: pd.Index) -> dict[str, str]:
    present = {str(c).strip().lower(): c for c in columns}
    renames = {}
    for word, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in present:
                renames[present[alias]] = word
                break
    return renames


def _resolve(value: str, folder: Path) -> Path:
    path = Path(os.path.expanduser(value.strip()))
    return path if path.is_absolute() else folder / path
