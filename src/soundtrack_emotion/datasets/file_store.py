"""A folder of per-item files that a crawl fills one item at a time.

A crawl cannot hand its output to Kedro at the end: a run killed after hours would lose
everything. Instead the node writes each finished item through a :class:`FileStore` at once,
atomically (temporary file in the same folder, then ``os.replace``), so a file either exists
complete or not at all, and "the file exists" is exactly "the item is done".
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from soundtrack_emotion.exceptions import ParameterError

# Temporary names start with a dot, so globs like "<id>.*" or "*.json" never see them.
_TEMP_PREFIX = "."
_TEMP_SUFFIX = ".partial"


class FileStore:
    """Files under ``root`` addressed by relative POSIX paths (``"lastfm/x/page-0001.json"``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FileStore({str(self.root)!r})"

    def path(self, relpath: str) -> Path:
        """Absolute path of ``relpath``; refuses paths that would leave the store."""
        parts = PurePosixPath(relpath).parts
        if not parts or PurePosixPath(relpath).is_absolute() or ".." in parts:
            raise ParameterError(f"store path must be relative and inside the store: {relpath!r}")
        return self.root.joinpath(*parts)

    def _folder(self, folder: str) -> Path:
        """``folder`` inside the store; ``""`` is the store's root."""
        return self.root if folder == "" else self.path(folder)

    def exists(self, relpath: str) -> bool:
        return self.path(relpath).is_file()

    def read_bytes(self, relpath: str) -> bytes:
        return self.path(relpath).read_bytes()

    def files_by_stem(self, folder: str = "") -> dict[str, str]:
        """``{stem: file name}`` of the complete files directly in ``folder`` (one listing;
        the first name in sorted order wins when a stem has several extensions)."""
        directory = self._folder(folder)
        if not directory.is_dir():
            return {}
        found: dict[str, str] = {}
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.is_file() and not entry.name.startswith(_TEMP_PREFIX):
                found.setdefault(Path(entry.name).stem, entry.name)
        return found

    def write_bytes(self, relpath: str, data: bytes) -> Path:
        """Write ``data`` to ``relpath`` atomically; returns the final path."""
        return self._write(relpath, lambda out: out.write(data))

    def copy_in(self, source: str | os.PathLike[str], relpath: str) -> Path:
        """Copy an outside file to ``relpath`` atomically (the source is left untouched)."""
        with open(source, "rb") as src:
            return self._write(relpath, lambda out: shutil.copyfileobj(src, out, 1 << 20))

    def move_in(self, source: str | os.PathLike[str], relpath: str) -> Path:
        """Move a file that already lies inside the store (e.g. a download) to ``relpath``."""
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        return target

    @contextmanager
    def scratch_dir(self, folder: str = "") -> Iterator[Path]:
        """A hidden temporary directory inside ``folder`` (same file system, so ``move_in``
        is atomic), removed afterwards whatever happens."""
        directory = self._folder(folder)
        directory.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}scratch-", dir=directory))
        try:
            yield scratch
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def remove_leftovers(self, folder: str = "", *, of: str | None = None) -> int:
        """Delete temporary files and scratch folders a killed run left in ``folder``; with
        ``of`` (a file name), only the temporary files of that file (other writers may be
        filling theirs in the same folder)."""
        directory = self._folder(folder)
        if not directory.is_dir():
            return 0
        removed = 0
        for entry in directory.iterdir():
            name = entry.name
            if of is not None:
                if name.startswith(f"{_TEMP_PREFIX}{of}.") and name.endswith(_TEMP_SUFFIX):
                    entry.unlink(missing_ok=True)
                    removed += 1
            elif name.startswith(f"{_TEMP_PREFIX}scratch-") and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
            elif name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX):
                entry.unlink(missing_ok=True)
                removed += 1
        return removed

    def open_temp(self, relpath: str) -> tuple[Path, BinaryIO]:
        """A temporary file beside ``relpath`` (swept by :meth:`remove_leftovers` if it is
        never published), open for writing: fill it over time, then :meth:`publish` it."""
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(
            prefix=f"{_TEMP_PREFIX}{target.name}.", suffix=_TEMP_SUFFIX, dir=target.parent
        )
        return Path(temp_name), os.fdopen(handle, "wb")

    def publish(self, temp: str | os.PathLike[str], relpath: str) -> Path:
        """Make a closed temporary file of :meth:`open_temp` ``relpath``, atomically (fsync,
        then ``os.replace``)."""
        target = self.path(relpath)
        with open(temp, "rb") as done:
            os.fsync(done.fileno())
        os.replace(temp, target)
        return target

    def _write(self, relpath: str, fill: Callable[[BinaryIO], Any]) -> Path:
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(
            prefix=f"{_TEMP_PREFIX}{target.name}.", suffix=_TEMP_SUFFIX, dir=target.parent
        )
        try:
            with os.fdopen(handle, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp_name, target)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        return target
