"""List the files of a folder by stem, without reading them (e.g. the raw audio folder)."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from kedro.utils import find_kedro_project

logger = logging.getLogger(__name__)


class FolderIndexDataset(AbstractDataset[None, dict[str, str]]):
    """Read-only Kedro dataset: ``{file stem: path}`` of the files directly in ``path``.

    Paths are POSIX and relative to the root of the Kedro project that holds the folder
    (Kedro makes catalog paths absolute; the table must not depend on where the project is
    cloned); outside a Kedro project they are ``path`` joined with the file name. Only names
    ending in one of ``suffixes`` (any case) are listed, the others counted in one log line
    (the catalog passes ``${globals:audio_extensions}``). Hidden files
    (temporary files of an interrupted write start with a dot) are skipped; when a stem has
    several files, the first name in sorted order wins. A missing folder is an empty index.

    ::

        raw_audio_files:
          type: soundtrack_emotion.datasets.FolderIndexDataset
          path: data/01_raw/audio
          suffixes: [.wav, .flac, .ogg, .mp3]
    """

    def __init__(
        self,
        *,
        path: str | os.PathLike[str],
        suffixes: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._path = PurePosixPath(Path(path).as_posix())
        folder = Path(path).absolute()
        project = find_kedro_project(folder)
        self._shown = (
            PurePosixPath(folder.relative_to(project).as_posix())
            if project is not None and folder.is_relative_to(project)
            else self._path
        )
        if isinstance(suffixes, str):  # e.g. an uninterpolated "${globals:audio_extensions}"
            raise DatasetError(f"suffixes must be a list of extensions, got {suffixes!r}")
        self._suffixes = tuple(s.lower() for s in suffixes) if suffixes else None
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "suffixes": self._suffixes}

    def load(self) -> dict[str, str]:
        directory = Path(self._path)
        if not directory.is_dir():
            return {}
        index: dict[str, str] = {}
        skipped: Counter[str] = Counter()
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            name = entry.name
            if name.startswith(".") or not entry.is_file():
                continue
            stem, suffix = os.path.splitext(name)
            if self._suffixes is None or suffix.lower() in self._suffixes:
                index.setdefault(stem, str(self._shown / name))
            else:
                skipped[suffix.lower() or "(no extension)"] += 1
        if skipped:
            logger.info(
                "%s: %d files indexed; %d other files skipped (%s)",
                self._shown,
                len(index),
                sum(skipped.values()),
                ", ".join(f"{n} {x}" for x, n in sorted(skipped.items(), key=_by_count)),
            )
        return index

    def save(self, data: None) -> None:
        raise DatasetError(f"{self} is read-only: it lists files that other steps write")

    def _exists(self) -> bool:
        return Path(self._path).is_dir()


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    """Most frequent first, then by name (a stable summary line)."""
    return -item[1], item[0]
