"""A small JSON object kept between runs (e.g. which movies were aggregated from what)."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset

from soundtrack_emotion.datasets.file_store import FileStore


class JSONIndexDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """A JSON object on disk: ``load`` gives ``{}`` when the file does not exist yet (first
    run), ``save`` writes it atomically (temporary file, fsync, rename).

    Example catalog entry::

        movie_digests:
          type: soundtrack_emotion.datasets.JSONIndexDataset
          filepath: data/07_model_output/inference/movie_digests.json
    """

    def __init__(self, *, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(PurePosixPath(filepath))
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def load(self) -> dict[str, Any]:
        if not self._filepath.is_file():
            return {}
        return dict(json.loads(self._filepath.read_text(encoding="utf-8")))

    def save(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False)
        FileStore(self._filepath.parent).write_bytes(self._filepath.name, text.encode())
