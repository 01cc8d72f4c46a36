"""One run per data folder at a time.

Two ``kedro run`` processes on the same ``data/`` would remove each other's temporary files and
interleave their writes. :class:`RunLockHook` takes an exclusive ``flock`` on
``<project>/data/.run.lock`` before a run starts and releases it when the run ends; the operating
system releases it too when the process dies, so a crash never leaves a stale lock. The lock
file records who holds it, for the message the second run prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from kedro.framework.hooks import hook_impl

from soundtrack_emotion.exceptions import DataFolderBusyError
from soundtrack_emotion.runtime.paths import project_root

LOCK_NAME = ".run.lock"


class DataFolderLock:
    """An exclusive, non-blocking lock on ``folder``; ``acquire`` raises
    :class:`DataFolderBusyError` naming the holder when another process has it."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder) / LOCK_NAME
        self._handle: IO[str] | None = None

    def acquire(self, *, command: str = "") -> None:
        if self._handle is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _holder(handle.read())
            handle.close()
            raise DataFolderBusyError(
                f"the data folder {self.path.parent} is in use by another run ({holder}): wait "
                "for it to finish, or run from a copy of the project with its own data/ (two "
                "runs on one data folder would delete each other's temporary files)"
            ) from None
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        handle.write(json.dumps({"pid": os.getpid(), "command": command, "since": started}))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _holder(record: str) -> str:
    try:
        fields = json.loads(record)
        return f"pid {fields['pid']}, `{fields['command']}`, since {fields['since']}"
    except (ValueError, KeyError, TypeError):
        return "a process that did not say which"


class RunLockHook:
    """Holds ``<project>/data``'s lock from before the first node until the run ends."""

    def __init__(self) -> None:
        self._lock: DataFolderLock | None = None

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        self._lock = DataFolderLock(project_root() / "data")
        self._lock.acquire(command=" ".join(["kedro", *sys.argv[1:]])[:200])

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._release()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
