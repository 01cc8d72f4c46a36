"""A table written chunk by chunk, for tables too big to hold in memory at once (the
catalogue-wide ``vad_timelines``, ``track_vad`` and waveform envelopes of inference).

A generator node yields :class:`TableChunk` objects; Kedro saves each one before the next is
computed. The first chunk opens a temporary file beside the target, every chunk is appended
to it (a Parquet row group, or CSV rows), and the last one publishes it under the target's
name (fsync, then ``os.replace``): readers see the previous table until the new one is
complete, and a run killed part-way leaves the previous table in place (its temporary file is
swept by the next save). A plain ``DataFrame`` is saved as a table of one chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io import AbstractDataset, DatasetError

from soundtrack_emotion.datasets.file_store import FileStore

FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class TableChunk:
    """Some rows of a table: ``first`` starts a new table, ``last`` publishes it. Every chunk
    of one table has the first chunk's columns, in its order."""

    frame: pd.DataFrame
    first: bool
    last: bool


class _Pending:
    """A table being written: its temporary file and, for Parquet, the open writer."""

    def __init__(self, store: FileStore, name: str) -> None:
        self.temp, self.handle = store.open_temp(name)
        self.columns: list[str] | None = None
        self.writer: pq.ParquetWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.handle.close()


class StreamedTableDataset(AbstractDataset[pd.DataFrame | TableChunk, pd.DataFrame]):
    """Kedro dataset of a table saved in chunks (:class:`TableChunk`) or whole; ``load`` gives
    the whole table as a ``DataFrame``.

    Example catalog entry::

        vad_timelines:
          type: soundtrack_emotion.datasets.StreamedTableDataset
          filepath: data/07_model_output/inference/vad_timelines.parquet
          file_format: parquet     # or csv (save_args go to DataFrame.to_csv)
    """

    def __init__(
        self,
        *,
        filepath: str,
        file_format: str = "parquet",
        save_args: dict[str, Any] | None = None,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if file_format not in FORMATS:
            raise DatasetError(f"file_format {file_format!r} is not one of {list(FORMATS)}")
        self._filepath = Path(PurePosixPath(filepath))
        self._format = file_format
        self._save_args = {"index": False, **(save_args or {})}
        self._load_args = dict(load_args or {})
        self._store = FileStore(self._filepath.parent)
        self._pending: _Pending | None = None
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "file_format": self._format}

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def load(self) -> pd.DataFrame:
        if self._format == "parquet":
            return pd.read_parquet(self._filepath, **self._load_args)
        return pd.read_csv(self._filepath, **self._load_args)

    def save(self, data: pd.DataFrame | TableChunk) -> None:
        chunk = data if isinstance(data, TableChunk) else TableChunk(data, True, True)
        if chunk.first:
            self._abort()
            self._store.remove_leftovers(of=self._filepath.name)
            self._pending = _Pending(self._store, self._filepath.name)
        if self._pending is None:
            raise DatasetError(f"{self._filepath}: a chunk came before the table's first chunk")
        try:
            self._append(self._pending, chunk.frame)
            if chunk.last:
                pending, self._pending = self._pending, None
                if self._format == "parquet" and pending.writer is None:
                    # Nothing but empty chunks: the table's columns, no rows.
                    self._append_parquet(pending, chunk.frame, allow_empty=True)
                pending.close()
                self._store.publish(pending.temp, self._filepath.name)
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.close()
            pending.temp.unlink(missing_ok=True)

    def _append(self, pending: _Pending, frame: pd.DataFrame) -> None:
        columns = [str(c) for c in frame.columns]
        if pending.columns is None:
            pending.columns = columns
        elif set(columns) != set(pending.columns):
            raise DatasetError(
                f"{self._filepath}: a chunk's columns {columns} differ from the table's "
                f"{pending.columns}"
            )
        frame = frame[pending.columns]
        if self._format == "csv":
            text = frame.to_csv(header=pending.handle.tell() == 0, **self._save_args)
            pending.handle.write(text.encode())
        else:
            self._append_parquet(pending, frame)

    def _append_parquet(
        self, pending: _Pending, frame: pd.DataFrame, *, allow_empty: bool = False
    ) -> None:
        if frame.empty and not allow_empty:
            return  # an empty chunk's object columns carry no type to fix the schema with
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if pending.writer is None:
            pending.writer = pq.ParquetWriter(pending.handle, table.schema)
        elif not table.schema.equals(pending.writer.schema, check_metadata=False):
            try:
                table = table.cast(pending.writer.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
                raise DatasetError(
                    f"{self._filepath}: a chunk's column types {table.schema} do not match "
                    f"the table's {pending.writer.schema}: {error}"
                ) from error
        pending.writer.write_table(table)
