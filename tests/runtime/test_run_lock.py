"""One run per data folder: a second run is refused with a message naming the first."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from soundtrack_emotion.exceptions import DataFolderBusyError
from soundtrack_emotion.runtime.run_lock import DataFolderLock


def _hold_lock_in_another_process(folder):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from soundtrack_emotion.runtime.run_lock import DataFolderLock
                lock = DataFolderLock({str(folder)!r})
                lock.acquire(command="kedro run --pipelines=offline")
                print("held", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_on_the_same_data_folder_is_refused_naming_the_first(tmp_path):
    holder = _hold_lock_in_another_process(tmp_path / "data")
    try:
        with pytest.raises(DataFolderBusyError) as caught:
            DataFolderLock(tmp_path / "data").acquire(command="kedro run")
        message = str(caught.value)
        assert f"pid {holder.pid}" in message and "--pipelines=offline" in message
    finally:
        holder.kill()
        holder.wait()
    # The operating system released the dead holder's lock: no stale lock file blocks.
    lock = DataFolderLock(tmp_path / "data")
    lock.acquire(command="kedro run")
    lock.release()


def test_the_lock_is_released_and_can_be_taken_again(tmp_path):
    first = DataFolderLock(tmp_path)
    first.acquire()
    first.release()
    second = DataFolderLock(tmp_path)
    second.acquire()
    with pytest.raises(DataFolderBusyError, match="in use by another run"):
        DataFolderLock(tmp_path).acquire()
    second.release()


def test_every_kedro_run_holds_the_project_data_folder_lock(tmp_path):
    from soundtrack_emotion.runtime.paths import set_project_root
    from soundtrack_emotion.runtime.run_lock import RunLockHook
    from soundtrack_emotion.settings import HOOKS

    hook = next(h for h in HOOKS if isinstance(h, RunLockHook))
    set_project_root(tmp_path)
    try:
        hook.before_pipeline_run(run_params={})
        with pytest.raises(DataFolderBusyError, match=str(tmp_path / "data")):
            DataFolderLock(tmp_path / "data").acquire()
        hook.on_pipeline_error()
        DataFolderLock(tmp_path / "data").acquire()
    finally:
        set_project_root(None)
