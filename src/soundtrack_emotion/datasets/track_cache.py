"""Per-track results of a long run, one file per track, written atomically as each finishes.

Layout of one cache (e.g. ``data/07_model_output/inference/track_cache``)::

    <key>.npz    one array per named result column (any numeric dtype, kept as is)
                 meta   JSON: key, status, fingerprint (hash of what determines the result),
                        source (file path, size, mtime_ns), summary (JSON values), seconds

Files are written through :class:`FileStore` (temporary file in the same folder, fsync, then
``os.replace``), so a killed run never leaves a half-written record under a key's name, and
its leftovers are swept on the next save. A record is current for a track when its status is
not ``error``, its fingerprint matches and its source file is unchanged
(:class:`SourceStamp`, as for the feature stores). ``load`` returns a lazy :class:`TrackCache`.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

from soundtrack_emotion.datasets.feature_store import (
    SUFFIX,
    SourceStamp,
    read_record_meta,
    record_keys,
)
from soundtrack_emotion.datasets.file_store import FileStore

ERROR = "error"
_META = "meta"
_SAFE_KEY = re.compile(r"^[\w][\w.\-]*$")


@dataclass(frozen=True)
class CachedTrack:
    """One track's result: named columns (``arrays``, 1-D each) and a JSON ``summary``, or
    status ``error`` (retried by the next run) with the reason in its summary."""

    key: str
    fingerprint: str
    status: str
    source: SourceStamp | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if not _SAFE_KEY.match(self.key):
            raise DatasetError(f"cache key {self.key!r} is not usable as a file name")
        if _META in self.arrays:
            raise DatasetError(f"{self.key}: {_META!r} is reserved, not an array name")

    def meta(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "status": self.status,
            "fingerprint": self.fingerprint,
            "source": None if self.source is None else vars(self.source),
            "summary": dict(self.summary),
            "seconds": self.seconds,
        }


class TrackCache:
    """Lazy, read-only view of a cache: records are read only when asked for."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"TrackCache({self.path})"

    def _file(self, key: str) -> Path:
        return self.path / f"{key}{SUFFIX}"

    def keys(self) -> list[str]:
        """Keys of every stored record, sorted (temporary files excluded)."""
        return record_keys(self.path)

    def meta(self, key: str) -> dict[str, Any] | None:
        """Metadata of one record (reads only its ``meta`` member), None when absent."""
        return read_record_meta(self._file(key))

    def is_current(self, key: str, *, fingerprint: str, source: SourceStamp | None) -> bool:
        """Whether ``key`` holds a finished result from the same inputs and source file."""
        meta = self.meta(key)
        if meta is None or source is None:
            return False
        return (
            meta["status"] != ERROR
            and meta["fingerprint"] == fingerprint
            and meta["source"] is not None
            and SourceStamp(**meta["source"]) == source
        )

    def get(self, key: str) -> CachedTrack | None:
        """The whole record of ``key``, None when absent."""
        try:
            with np.load(self._file(key), allow_pickle=False) as npz:
                meta = json.loads(str(npz[_META]))
                arrays = {name: npz[name] for name in npz.files if name != _META}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as error:
            raise DatasetError(f"unreadable cache record {self._file(key)}: {error}") from error
        source = meta["source"]
        return CachedTrack(
            key=meta["key"],
            fingerprint=meta["fingerprint"],
            status=meta["status"],
            source=None if source is None else SourceStamp(**source),
            summary=meta["summary"],
            arrays=arrays,
            seconds=float(meta["seconds"]),
        )


class TrackCacheDataset(
    AbstractDataset[Mapping[str, CachedTrack] | Iterable[CachedTrack], TrackCache]
):
    """Kedro dataset of per-track results (``inference_results``).

    ``save`` takes records (a mapping ``key -> CachedTrack`` or an iterable of them) and writes
    each one atomically; a generator node saves track by track. ``load`` gives a lazy
    :class:`TrackCache`.

    Example catalog entry::

        inference_results:
          type: soundtrack_emotion.datasets.TrackCacheDataset
          path: data/07_model_output/inference/track_cache
    """

    def __init__(self, *, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(PurePosixPath(path))
        self._store = FileStore(self._path.parent)
        self._swept = False
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}

    def _exists(self) -> bool:
        return bool(TrackCache(self._path).keys())

    def load(self) -> TrackCache:
        return TrackCache(self._path)

    def save(self, data: Mapping[str, CachedTrack] | Iterable[CachedTrack]) -> None:
        records = data.values() if isinstance(data, Mapping) else data
        self._path.mkdir(parents=True, exist_ok=True)
        if not self._swept:
            self._store.remove_leftovers(self._path.name)
            self._swept = True
        for record in records:
            write_record(self._path, record, store=self._store)


def write_record(
    path: str | os.PathLike[str], record: CachedTrack, *, store: FileStore | None = None
) -> Path:
    """Write one record into the cache at ``path`` atomically (temporary file, fsync,
    rename), without sweeping leftovers: safe while other processes (Dask workers) write
    records into the same folder. Writing a key again replaces its record."""
    folder = Path(path)
    store = store or FileStore(folder.parent)
    buffer = io.BytesIO()
    np.savez(buffer, **record.arrays, meta=np.array(json.dumps(record.meta())))
    return store.write_bytes(f"{folder.name}/{record.key}{SUFFIX}", buffer.getvalue())
