"""Whether a file exists, as a read-only dataset (e.g. the demo's ground truth, which marks the
raw layer as the synthetic demo corpus)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class FileExistsDataset(AbstractDataset[None, bool]):
    """Loads ``True`` when ``filepath`` exists, ``False`` otherwise; never saves."""

    def __init__(self, *, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> bool:
        return self._filepath.exists()

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._filepath}: FileExistsDataset is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
