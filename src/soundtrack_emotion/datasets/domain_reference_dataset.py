"""A feature family's out-of-domain reference
(:class:`~soundtrack_emotion.core.out_of_domain.DomainReference`) as one ``.npz`` file of plain
arrays (no pickled objects), written atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets.partitions import PartitionedDataset

from soundtrack_emotion.core.out_of_domain import DomainReference
from soundtrack_emotion.datasets.file_store import FileStore

SUFFIX = ".npz"


class DomainReferenceDataset(AbstractDataset[DomainReference, DomainReference | None]):
    """``filepath``: the ``.npz`` file. ``missing_ok``: a missing file loads as ``None``
    instead of failing (the catalog's per-feature entries, which order the run's model table
    after the references: a table built alone, after models trained by a namespaced run that
    fitted no reference, must still build)."""

    def __init__(
        self, *, filepath: str, missing_ok: bool = False, metadata: dict[str, Any] | None = None
    ) -> None:
        self._filepath = Path(filepath)
        self._missing_ok = missing_ok
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def load(self) -> DomainReference | None:
        if self._missing_ok and not self._filepath.exists():
            return None
        try:
            with np.load(self._filepath, allow_pickle=False) as arrays:
                return DomainReference.from_arrays(dict(arrays))
        except (OSError, ValueError, KeyError) as error:
            raise DatasetError(f"{self._filepath}: not a domain reference ({error})") from error

    def save(self, data: DomainReference) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **data.to_arrays())
        FileStore(self._filepath.parent).write_bytes(self._filepath.name, buffer.getvalue())


class DomainReferencesDataset(PartitionedDataset):
    """Every feature family's reference in a folder, ``{feature: loader}`` (a
    ``PartitionedDataset`` of :class:`DomainReferenceDataset`), loading ``{}`` from an empty
    or missing folder: models trained before references existed are scored without a domain
    check (said in the log), not refused."""

    def __init__(self, *, path: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(
            path=path,
            dataset=DomainReferenceDataset,
            filepath_arg="filepath",
            filename_suffix=SUFFIX,
            metadata=metadata,
        )

    def load(self) -> dict[str, Any]:
        if not self._list_partitions():
            return {}
        return super().load()
