"""A user's own labelled audio: one row per track with its audio path and its labels.

The alternative to labelling through Last.fm tags ("bring your own labels"): a VoD company's
own ratings, DEAM, PMEmo, Emotify, the 4Q dataset, ... A row carries either VAD values in 0..1
or a Russell ``quadrant`` (Q1-Q4). Relative audio paths are resolved against the table's own
folder, so a table and its audio can move together. Several tables (corpora) can be read as
one, each row tagged with its ``corpus``.
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
    "corpus": ("corpus",),
    "quadrant": ("quadrant",),
}
TABLE_FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class LabelledTableDataset(AbstractDataset[None, pd.DataFrame]):
    """Read-only Kedro dataset of one labelled table or several (CSV or Parquet, by suffix).

    ``load`` returns the table with its columns renamed to the project's words (``id``,
    ``audio_path``, ``track``, ``artist``, ``split``, ``corpus``, ``quadrant``; see
    :data:`COLUMN_ALIASES`), the label columns as they are, every other column kept, and
    ``audio_path`` absolute (relative paths are taken relative to the table's folder).
    ``corpus`` is the table's own column, else the name given in ``corpora``, else the name of
    the table's folder. Validation of the values is the job of
    ``dataset_creation.labelled.build_labelled_soundtracks``.

    ::

        labelled_tracks:
          type: soundtrack_emotion.datasets.LabelledTableDataset
          filepath: /data/my_ratings/labels.csv

        labelled_tracks:  # several corpora, trained on together
          type: soundtrack_emotion.datasets.LabelledTableDataset
          corpora:
            emotify: /data/emotify/labels.csv
            4q: /data/4q/labels.csv
    """

    def __init__(
        self,
        *,
        filepath: str | None = None,
        corpora: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if (filepath is None) == (not corpora):
            raise DatasetError(
                "labelled table: give either `filepath` (one table) or `corpora` "
                f"(name: path, several tables), got filepath={filepath!r}, corpora={corpora!r}"
            )
        named = {None: filepath} if filepath is not None else dict(corpora or {})
        self._tables = {name: Path(PurePosixPath(str(path))) for name, path in named.items()}
        for path in self._tables.values():
            if path.suffix.lower() not in TABLE_FORMATS:
                raise DatasetError(
                    f"labelled table {str(path)!r}: unknown format {path.suffix.lower()!r}; "
                    f"use one of {sorted(TABLE_FORMATS)}"
                )
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"tables": {str(name): str(path) for name, path in self._tables.items()}}

    def _exists(self) -> bool:
        return all(path.is_file() for path in self._tables.values())

    def load(self) -> pd.DataFrame:
        tables = [_read_table(path, corpus) for corpus, path in self._tables.items()]
        return pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]

    def save(self, data: None) -> None:
        raise DatasetError(f"{self} is read-only: it is the user's own labelled table")


def _read_table(path: Path, corpus: str | None) -> pd.DataFrame:
    if not path.is_file():
        raise DatasetError(
            f"no labelled table at {path}: point the `labelled_tracks` catalog "
            "entry at your table (e.g. in conf/local/catalog.yml)"
        )
    if TABLE_FORMATS[path.suffix.lower()] == "csv":
        table = pd.read_csv(path, dtype={"id": str, "track_id": str})
    else:
        table = pd.read_parquet(path)
    table = table.rename(columns=_renames(table.columns))
    if "audio_path" not in table.columns:
        raise DatasetError(
            f"labelled table {path} has no audio column: name one of "
            f"{list(COLUMN_ALIASES['audio_path'])}"
        )
    folder = path.absolute().parent
    table["audio_path"] = [
        str(_resolve(value, folder)) if isinstance(value, str) and value.strip() else ""
        for value in table["audio_path"]
    ]
    if "id" not in table.columns:
        table.insert(0, "id", [Path(p).stem for p in table["audio_path"]])
    table["id"] = table["id"].astype(str)
    if corpus is not None:
        table["corpus"] = corpus
    elif "corpus" not in table.columns:
        table["corpus"] = folder.name
    return table


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
