"""Crash and memory isolation of the worker pool: a worker that dies mid-track and one that
grows past its memory limit each fail their track alone, with a recorded reason, and the run
goes on; the attempt markers make the next run report such a track without trying it again."""

from __future__ import annotations

import importlib
import time

import pytest

from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.runtime.workers import (
    MARKER_SUFFIX,
    MAX_KILLED_RUNS,
    Attempts,
    TimeLimit,
    WorkerLost,
    map_tracks,
)

# A test-only task module, imported by the workers from tmp_path: "die" kills its own worker
# mid-track, "hog" allocates memory until it is stopped, "hang" never returns; every task that
# starts leaves a file named after it, so a test knows what ran.
WORKER_MODULE = """
import os
import signal
import time
from pathlib import Path

import numpy as np

RAN = Path({ran!r})


def work(task):
    (RAN / task).write_text(str(os.getpid()))
    if task.startswith("die"):
        os.kill(os.getpid(), signal.SIGKILL)  # a native crash, the OOM killer
    if task.startswith("hog"):
        held = []
        for _ in range(400):  # up to 8 GB, 20 MB every 20 ms: the watchdog stops it first
            held.append(np.ones(20 * 2**20 // 8))
            time.sleep(0.02)
    if task.startswith("hang"):
        time.sleep(3600)
    return task.upper()
"""

MEMORY_LIMIT_MB = 400


@pytest.fixture
def worker(tmp_path, monkeypatch):
    ran = tmp_path / "ran"
    ran.mkdir()
    module = tmp_path / "isolation_worker_task.py"
    module.write_text(WORKER_MODULE.format(ran=str(ran)))
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module("isolation_worker_task"), ran


def _lost(task, error):
    assert isinstance(error, WorkerLost), error
    return f"LOST {task}: {error.reason}: {error}"


def _run(module, tasks, attempts=None, **kwargs):
    return list(
        map_tracks(
            module.work,
            tasks,
            workers=2,
            preload=(),
            on_crash=_lost,
            on_timeout=lambda task, limit: f"TIMED OUT {task}",
            attempts=attempts,
            **kwargs,
        )
    )


def test_a_worker_that_dies_mid_track_fails_that_track_alone_and_is_remembered(
    worker, tmp_path
) -> None:
    module, ran = worker
    attempts = Attempts(folder=tmp_path / "attempted", key=str)

    results = _run(module, ["a", "die", "b", "c"], attempts)

    assert sorted(r for r in results if not r.startswith("LOST")) == ["A", "B", "C"]
    (lost,) = [r for r in results if r.startswith("LOST")]
    assert lost.startswith("LOST die: crash: the worker process died (signal 9, SIGKILL")
    # Only the track that killed its worker keeps its marker.
    assert [p.name for p in (tmp_path / "attempted").iterdir()] == [attempts.marker("die").name]
    assert attempts.marker("die").name.endswith(MARKER_SUFFIX)

    # The next run reports it without trying it again, and runs the others.
    for started in ran.iterdir():
        started.unlink()
    again = _run(module, ["a", "die"], Attempts(folder=tmp_path / "attempted", key=str))
    assert "A" in again
    (skipped,) = [r for r in again if r.startswith("LOST")]
    assert "LOST die: attempted: not tried: it killed its worker in an earlier run" in skipped
    assert "retry_attempted" in skipped
    assert sorted(p.name for p in ran.iterdir()) == ["a"]

    # Asked to, a run tries it again.
    retried = _run(module, ["die"], Attempts(folder=tmp_path / "attempted", key=str, retry=True))
    assert retried[0].startswith("LOST die: crash:")
    assert (ran / "die").exists()


def test_a_track_in_flight_when_runs_are_killed_is_tried_again_once(worker, tmp_path) -> None:
    """A run killed from outside (kill -9, the OOM killer taking the run itself) leaves the
    markers of its tracks in flight: the kill may have had nothing to do with them, so the
    next run tries them again; after MAX_KILLED_RUNS such runs, they are held back."""
    module, ran = worker
    folder = tmp_path / "attempted"
    Attempts(folder=folder, key=str).begin("a")  # a run killed with "a" in flight

    assert _run(module, ["a"], Attempts(folder=folder, key=str)) == ["A"]
    assert not list(folder.iterdir())  # done: its marker is gone

    for _ in range(MAX_KILLED_RUNS):
        Attempts(folder=folder, key=str).begin("b")  # runs killed with "b" in flight
    (ran / "a").unlink()
    (held,) = _run(module, ["b"], Attempts(folder=folder, key=str))
    assert held.startswith(f"LOST b: attempted: not tried: the last {MAX_KILLED_RUNS} runs were")
    assert not (ran / "b").exists()


def test_a_worker_over_its_memory_limit_is_killed_and_its_track_recorded(worker) -> None:
    module, _ = worker
    started = time.monotonic()

    results = _run(module, ["a", "hog", "b"], memory_limit_mb=MEMORY_LIMIT_MB)

    assert sorted(r for r in results if not r.startswith("LOST")) == ["A", "B"]
    (lost,) = [r for r in results if r.startswith("LOST")]
    assert lost.startswith("LOST hog: memory: the worker process used ")
    assert f"memory_limit_mb={MEMORY_LIMIT_MB}" in lost
    # Stopped near the limit: one poll's worth of growth (~200 MB) over it at most, far from
    # the 8 GB it would have taken.
    used_mb = float(lost.split("used ")[1].split(" MB")[0])
    assert MEMORY_LIMIT_MB < used_mb < MEMORY_LIMIT_MB + 400
    assert time.monotonic() - started < 60


def test_the_time_limit_and_the_memory_limit_hold_together(worker) -> None:
    module, _ = worker
    results = _run(
        module,
        ["hang", "a"],
        time_limit=TimeLimit(seconds_per_audio_second=1.0, min_seconds=1.0),
        memory_limit_mb=MEMORY_LIMIT_MB,
    )
    assert sorted(results) == ["A", "TIMED OUT hang"]


def test_a_run_stopped_by_a_bug_leaves_no_markers(worker, tmp_path) -> None:
    module, _ = worker
    attempts = Attempts(folder=tmp_path / "attempted", key=str)

    def bug(task, error):
        raise KeyError("a bug in the callback")

    with pytest.raises(KeyError):
        list(map_tracks(module.work, ["die", "a"], workers=2, preload=(), on_crash=bug,
                        attempts=attempts))  # fmt: skip
    assert not list((tmp_path / "attempted").iterdir())


@pytest.mark.parametrize("limit", [0, 100, -1, "4 GB", True])
def test_a_memory_limit_below_what_a_worker_needs_is_refused(worker, limit) -> None:
    module, _ = worker
    with pytest.raises(ParameterError, match="memory_limit_mb"):
        _run(module, ["a"], memory_limit_mb=limit)
