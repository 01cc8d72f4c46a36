"""Per-task limits on a real Dask LocalCluster: a task over its time limit has its worker
restarted and is recorded as timed out, without being re-run, while the other tasks finish;
the attempt markers work there as in the process pool."""

from __future__ import annotations

import importlib
import os
import time

import pytest

distributed = pytest.importorskip("distributed")

from soundtrack_emotion.runtime.workers import Attempts, TimeLimit, map_tracks  # noqa: E402

TASK_MODULE = """
import time
from pathlib import Path

RAN = Path({ran!r})


def work(task):
    with (RAN / task).open("a") as out:
        out.write("ran\\n")
    if task == "hang":
        time.sleep(3600)  # a decoder stuck in C: nothing but the process's end stops it
    return task.upper()
"""


@pytest.fixture
def task_module(tmp_path, monkeypatch):
    ran = tmp_path / "ran"
    ran.mkdir()
    (tmp_path / "dask_limit_task.py").write_text(TASK_MODULE.format(ran=str(ran)))
    monkeypatch.syspath_prepend(str(tmp_path))  # the cluster's workers import it from here
    return importlib.import_module("dask_limit_task"), ran


@pytest.mark.slow
def test_a_task_over_its_time_limit_is_stopped_and_recorded_once(task_module, tmp_path) -> None:
    module, ran = task_module
    timed_out = []
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids_before = set(client.run(os.getpid).values())
        started = time.monotonic()
        results = list(
            map_tracks(
                module.work,
                ["a", "hang", "b", "c"],
                workers=1,
                dask_client=client,
                time_limit=TimeLimit(seconds_per_audio_second=1.0, min_seconds=3.0),
                on_timeout=lambda task, limit: timed_out.append((task, limit)) or "TIMED OUT",
                attempts=Attempts(folder=tmp_path / "attempted", key=str),
            )
        )
        elapsed = time.monotonic() - started
        client.wait_for_workers(2, timeout=60)
        pids_after = set(client.run(os.getpid).values())

    assert sorted(results) == ["A", "B", "C", "TIMED OUT"]
    assert timed_out == [("hang", 3.0)]
    assert elapsed < 60
    assert pids_after != pids_before  # the worker stuck in the task was restarted
    assert (ran / "hang").read_text() == "ran\n"  # and the task was not run again
    assert not list((tmp_path / "attempted").iterdir())  # a timeout is tried again next run


@pytest.mark.slow
def test_a_track_over_its_limit_in_a_batch_is_the_only_one_timed_out(task_module, monkeypatch):
    from soundtrack_emotion.runtime import distributed as backend

    module, ran = task_module
    # 1 s of audio each: the tracks go several per Dask task, "hang" among others.
    monkeypatch.setattr(backend, "_audio_seconds", lambda task: 1.0)
    tasks = ["a", "hang", *(f"t{i}" for i in range(10))]
    timed_out = []
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(backend._Batcher(tasks, None, 1, None).next().tasks) > 2
        results = list(
            map_tracks(
                module.work,
                tasks,
                workers=1,
                dask_client=client,
                time_limit=TimeLimit(seconds_per_audio_second=1.0, min_seconds=3.0),
                on_timeout=lambda task, limit: timed_out.append((task, limit)) or "TIMED OUT",
            )
        )
    assert sorted(results) == sorted([t.upper() for t in tasks if t != "hang"] + ["TIMED OUT"])
    assert timed_out == [("hang", 3.0)]
    assert (ran / "hang").read_text() == "ran\n"  # stopped once, not run again
