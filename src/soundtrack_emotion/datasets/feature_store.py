"""Per-track feature partitions, one file per track id and feature family, written atomically.

Layout of one store (e.g. ``data/04_feature/mfcc``)::

    <track_id>.npz    features  float32 [T, F]   (T = 0 for an error record)
                      meta      JSON: id, family, status ("ok" | "error"), reason, fingerprint
                                (hash of the extraction parameters and model handle), source
                                (audio path, size, mtime_ns), audio_seconds, seconds (spent),
                                extras (names of the record's other arrays)
                      extra_<name>  float32 [T, K]  per-row side outputs (MusiCNN's taggram)

Every record is written to a temporary file in the same directory and moved into place with
``os.replace``, so a killed run never leaves a half-written partition under a track's name.
``load`` returns a lazy :class:`FeatureStore`: nothing but file names is read until a
record's metadata or features are asked for.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DatasetError

SUFFIX = ".npz"
EXTRA_PREFIX = "extra_"
_TMP_MARK = ".tmp-"
_SAFE_ID = re.compile(r"^[\w][\w.\-]*$")


@dataclass(frozen=True)
class SourceStamp:
    """Identity of the audio a record was computed from: a changed file means recompute."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> SourceStamp | None:
        """Stamp of an existing file, None when it does not exist."""
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return cls(path=str(path), size=stat.st_size, mtime_ns=stat.st_mtime_ns)

    def same_file(self, other: SourceStamp) -> bool:
        """The same size and mtime at the same file, however its path is spelled (``..``,
        symbolic links)."""
        return (self.size, self.mtime_ns) == (other.size, other.mtime_ns) and (
            self.path == other.path or os.path.realpath(self.path) == os.path.realpath(other.path)
        )


@dataclass(frozen=True)
class FeatureRecord:
    """One track's features of one family ([T, F] float32) or the reason it has none."""

    id: str
    family: str
    fingerprint: str
    features: np.ndarray = field(repr=False)
    status: str = "ok"
    reason: str = ""
    source: SourceStamp | None = None
    audio_seconds: float = float("nan")
    seconds: float = 0.0
    # Side outputs with one row per feature row, e.g. {"taggram": [T, 50]} for MusiCNN.
    extras: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.status not in ("ok", "error"):
            raise DatasetError(f"record status must be 'ok' or 'error', got {self.status!r}")
        if self.features.ndim != 2:
            raise DatasetError(f"features of {self.id} must be [T, F], got {self.features.shape}")
        for name, extra in self.extras.items():
            if not _SAFE_ID.match(name) or extra.ndim != 2 or len(extra) != len(self.features):
                raise DatasetError(
                    f"extra {name!r} of {self.id} must be [{len(self.features)}, K], got "
                    f"{extra.shape}"
                )

    @classmethod
    def error(
        cls, *, id: str, family: str, fingerprint: str, reason: str, **kwargs: Any
    ) -> FeatureRecord:
        return cls(
            id=id,
            family=family,
            fingerprint=fingerprint,
            features=np.zeros((0, 0), np.float32),
            status="error",
            reason=reason,
            **kwargs,
        )

    def meta(self) -> dict[str, Any]:
        meta = {
            k: asdict(v) if isinstance(v, SourceStamp) else v
            for k, v in vars(self).items()
            if k not in ("features", "extras")
        }
        meta["n_rows"] = int(self.features.shape[0])
        meta["extras"] = sorted(self.extras)
        return meta


class FeatureStore(Mapping[str, np.ndarray]):
    """Lazy, read-only view of a store: a mapping ``track_id -> features [T, F]`` over the
    tracks whose record is ``ok``, plus the metadata of every record (errors included)."""

    def __init__(self, path: str | os.PathLike[str], family: str) -> None:
        self.path = Path(path)
        self.family = family
        self._meta: dict[str, dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"FeatureStore({self.path}, family={self.family!r})"

    def _file(self, track_id: str) -> Path:
        return self.path / f"{track_id}{SUFFIX}"

    def record_ids(self) -> list[str]:
        """Ids of every stored record, ok or error, sorted."""
        return record_keys(self.path)

    def meta(self, track_id: str) -> dict[str, Any] | None:
        """Metadata of one record (reads only its ``meta`` member), None when absent."""
        if self._meta is not None:
            return self._meta.get(track_id)
        return read_record_meta(self._file(track_id))

    def all_meta(self) -> dict[str, dict[str, Any]]:
        """Metadata of every record, read once and cached."""
        if self._meta is None:
            metas = ((i, read_record_meta(self._file(i))) for i in self.record_ids())
            self._meta = {i: m for i, m in metas if m is not None}
        return self._meta

    def table(self) -> pd.DataFrame:
        """One row per record: id, status, reason, n_rows, audio_seconds, seconds, fingerprint."""
        columns = ["id", "status", "reason", "n_rows", "audio_seconds", "seconds", "fingerprint"]
        rows = [{c: m.get(c) for c in columns} for m in self.all_meta().values()]
        return pd.DataFrame(rows, columns=columns)

    def is_current(self, track_id: str, *, fingerprint: str, source: SourceStamp | None) -> bool:
        """Whether ``track_id`` has ok features from the same parameters and audio file."""
        meta = self.meta(track_id)
        if meta is None or source is None:
            return False
        return (
            meta["status"] == "ok"
            and meta["fingerprint"] == fingerprint
            and meta["source"] is not None
            and SourceStamp(**meta["source"]).same_file(source)
        )

    def __getitem__(self, track_id: str) -> np.ndarray:
        meta = self.meta(track_id)
        if meta is None or meta["status"] != "ok":
            raise KeyError(track_id)
        with np.load(self._file(track_id), allow_pickle=False) as npz:
            return npz["features"]

    def extra(self, track_id: str, name: str) -> np.ndarray:
        """A side output of one ok record (e.g. ``"taggram"`` [T, 50] of MusiCNN)."""
        meta = self.meta(track_id)
        if meta is None or meta["status"] != "ok" or name not in meta.get("extras", ()):
            raise KeyError(f"{track_id}: no {name!r} in this {self.family} store")
        with np.load(self._file(track_id), allow_pickle=False) as npz:
            return npz[f"{EXTRA_PREFIX}{name}"]

    def __iter__(self) -> Iterator[str]:
        return (i for i, m in self.all_meta().items() if m["status"] == "ok")

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, track_id: object) -> bool:
        meta = self.meta(track_id) if isinstance(track_id, str) else None
        return meta is not None and meta["status"] == "ok"


def record_keys(path: Path) -> list[str]:
    """Keys of the ``<key>.npz`` records in ``path``, sorted; temporary files (dot-prefixed)
    are not records. Shared with the inference track cache."""
    if not path.is_dir():
        return []
    return sorted(
        p.name[: -len(SUFFIX)]
        for p in path.iterdir()
        if p.name.endswith(SUFFIX) and not p.name.startswith(".")
    )


def read_record_meta(file: Path) -> dict[str, Any] | None:
    """The JSON ``meta`` member of one ``.npz`` record (nothing else is read), None when the
    file does not exist. Shared with the inference track cache."""
    try:
        with np.load(file, allow_pickle=False) as npz:
            return json.loads(str(npz["meta"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as error:
        raise DatasetError(f"unreadable record {file}: {error}") from error


class FeatureStoreDataset(
    AbstractDataset[Mapping[str, FeatureRecord] | Iterable[FeatureRecord], FeatureStore]
):
    """Kedro dataset of per-track feature partitions (``mfcc_features``, ``vggish_features``).

    ``save`` takes records (a mapping ``id -> FeatureRecord`` or an iterable of them) and
    writes each one atomically; it can be called many times (a generator node saves track by
    track). ``load`` gives a lazy :class:`FeatureStore`.

    Example catalog entry::

        mfcc_features:
          type: soundtrack_emotion.datasets.FeatureStoreDataset
          path: data/04_feature/mfcc
          family: mfcc
    """

    def __init__(
        self,
        *,
        path: str,
        family: str,
        fsync: bool = True,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._path = Path(PurePosixPath(path))
        self._family = family
        self._fsync = fsync
        self._swept = False
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "family": self._family}

    def _exists(self) -> bool:
        return bool(FeatureStore(self._path, self._family).record_ids())

    def load(self) -> FeatureStore:
        return FeatureStore(self._path, self._family)

    def save(self, data: Mapping[str, FeatureRecord] | Iterable[FeatureRecord]) -> None:
        records = data.values() if isinstance(data, Mapping) else data
        self._path.mkdir(parents=True, exist_ok=True)
        if not self._swept:
            self._sweep_temporaries()
        for record in records:
            self._write(record)

    def _sweep_temporaries(self) -> None:
        """Remove temporary files a killed run left behind (never a finished partition)."""
        for leftover in self._path.glob(f".*{SUFFIX}{_TMP_MARK}*"):
            leftover.unlink(missing_ok=True)
        self._swept = True

    def _write(self, record: FeatureRecord) -> None:
        if record.family != self._family:
            raise DatasetError(
                f"record of {record.id} is a {record.family!r} record, this store holds "
                f"{self._family!r}"
            )
        if not _SAFE_ID.match(record.id):
            raise DatasetError(f"track id {record.id!r} is not usable as a file name")
        final = self._path / f"{record.id}{SUFFIX}"
        tmp = self._path / f".{record.id}{SUFFIX}{_TMP_MARK}{uuid.uuid4().hex[:8]}"
        try:
            with tmp.open("wb") as handle:
                np.savez(
                    handle,
                    features=np.ascontiguousarray(record.features, dtype=np.float32),
                    meta=np.array(json.dumps(record.meta())),
                    **{
                        f"{EXTRA_PREFIX}{name}": np.ascontiguousarray(extra, dtype=np.float32)
                        for name, extra in record.extras.items()
                    },
                )
                if self._fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
