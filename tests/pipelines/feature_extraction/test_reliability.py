"""Failure isolation in feature extraction: a bug stops the run naming the track, a hung
decoder is timed out (inline and in a worker, which is replaced), many tracks failing alike
stop the run, and project-relative audio paths are found from any working directory."""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from soundtrack_emotion.core.families import mfcc as mfcc_family
from soundtrack_emotion.exceptions import SystematicFailureError
from soundtrack_emotion.pipelines.feature_extraction import nodes
from soundtrack_emotion.runtime import paths
from soundtrack_emotion.runtime.workers import TimeLimit, map_tracks

from .conftest import make_soundtracks, tone, write_audio


def _extract(soundtracks: pd.DataFrame, params: dict, store: Path) -> dict:
    """Run the extraction node for MFCCs only -> {track id: FeatureRecord}."""
    from soundtrack_emotion.datasets import FeatureStore

    records = {}
    for chunk in nodes.extract_features(
        soundtracks, params, existing_mfcc=FeatureStore(store, "mfcc")
    ):
        records |= chunk["mfcc"]
    return records


@pytest.fixture
def short_params(params: dict) -> dict:
    params["framing"]["short_track"]["min_seconds"] = 0.5
    return params


def test_a_bug_in_a_feature_function_stops_the_run_naming_the_track(
    tmp_path, short_params, monkeypatch
) -> None:
    tracks = {f"t{i}": write_audio(tmp_path / f"t{i}.wav", tone(1.0, sr=22050), 22050)
              for i in range(3)}  # fmt: skip

    def broken_mfcc(*args, **kwargs):
        raise ZeroDivisionError("a bug in our code")

    monkeypatch.setattr(mfcc_family, "mfcc", broken_mfcc)
    with pytest.raises(ZeroDivisionError, match="a bug in our code") as stopped:
        _extract(make_soundtracks(tracks), short_params, tmp_path / "store")
    assert "track t0" in " ".join(stopped.value.__notes__)
    assert not list((tmp_path / "store").glob("*.npz"))  # never recorded as a data error


WORKER_MODULE = """
import os
import time


def work(task):
    if task == "hang":
        time.sleep(3600)  # a decoder that never returns
    if task == "bug":
        raise KeyError("no such column")
    return task.upper()
"""


@pytest.fixture
def worker_module(tmp_path, monkeypatch):
    (tmp_path / "reliability_worker_task.py").write_text(WORKER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))  # the forkserver's workers import it from here
    return importlib.import_module("reliability_worker_task")


def test_a_hung_worker_is_timed_out_and_replaced(worker_module) -> None:
    timed_out = []
    started = time.monotonic()
    results = list(
        map_tracks(
            worker_module.work,
            ["a", "hang", "b", "c", "d"],
            workers=2,
            preload=(),
            time_limit=TimeLimit(seconds_per_audio_second=1.0, min_seconds=1.0),
            on_timeout=lambda task, limit: timed_out.append((task, limit)) or "TIMED OUT",
        )
    )
    assert sorted(results) == ["A", "B", "C", "D", "TIMED OUT"]
    assert timed_out == [("hang", 1.0)]
    assert time.monotonic() - started < 30


def test_a_bug_in_a_worker_stops_the_run_with_its_traceback(worker_module) -> None:
    with pytest.raises(KeyError, match="no such column") as stopped:
        list(map_tracks(worker_module.work, ["a", "bug", "b"], workers=2, preload=()))
    assert "raise KeyError" in str(stopped.value.__cause__)  # the worker's own traceback
    assert "track bug" in " ".join(stopped.value.__notes__)


HANGING_FFMPEG = """#!{python}
import os, sys, time
if sys.argv[1:] == ["-version"]:
    print("ffmpeg version 6.1-fake")
    sys.exit(0)
with open({pid_file!r}, "w") as out:
    out.write(str(os.getpid()))
time.sleep(3600)  # a stalled stream: no output, never exits
"""


def test_a_hanging_ffmpeg_is_timed_out_and_killed(tmp_path, short_params, monkeypatch) -> None:
    bin_dir, pid_file = tmp_path / "bin", tmp_path / "ffmpeg.pid"
    bin_dir.mkdir()
    script = bin_dir / "ffmpeg"
    script.write_text(HANGING_FFMPEG.format(python=sys.executable, pid_file=str(pid_file)))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    stalled = tmp_path / "stalled.m4a"
    stalled.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A mp42isom" + bytes(64))
    good = write_audio(tmp_path / "good.wav", tone(1.0, sr=22050), 22050)
    _extract(make_soundtracks({"warm": good}), short_params, tmp_path / "warm")  # librosa's JIT
    short_params["time_limit"] = {"seconds_per_audio_second": 0.01, "min_seconds": 3.0}

    records = _extract(make_soundtracks({"stalled": stalled, "good": good}), short_params,
                       tmp_path / "store")  # fmt: skip

    assert records["good"].status == "ok", records["good"].reason
    assert records["stalled"].status == "error" and "timed out" in records["stalled"].reason
    pid = int(pid_file.read_text())
    for _ in range(50):  # audioread's close() kills it; give the kernel a moment
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the hung ffmpeg (pid {pid}) was left running")


def test_many_tracks_failing_alike_stop_the_run(tmp_path, short_params) -> None:
    short_params["failures"] = {"max_same_reason_share": 0.5, "min_tracks": 4}
    tracks = {f"gone{i}": tmp_path / f"gone{i}.wav" for i in range(6)}
    tracks["here"] = write_audio(tmp_path / "here.wav", tone(1.0, sr=22050), 22050)
    from soundtrack_emotion.datasets import FeatureStore

    saved = []  # what Kedro saves: every chunk yielded before the stop
    chunks = nodes.extract_features(
        make_soundtracks(tracks), short_params, existing_mfcc=FeatureStore(tmp_path, "mfcc")
    )
    with pytest.raises(SystematicFailureError, match=r"4 of the 4 tracks .* \(not_found\)"):
        for chunk in chunks:
            saved += chunk["mfcc"].values()
    assert len(saved) == 4 and all(r.status == "error" for r in saved)


@pytest.mark.parametrize("how", ["session root", "kedro project above the cwd"])
def test_a_run_from_notebooks_finds_its_audio(tmp_path, short_params, monkeypatch, how) -> None:
    project = tmp_path / "project"
    audio = write_audio(project / "data/01_raw/audio/a.wav", tone(1.0, sr=22050), 22050)
    (project / "notebooks").mkdir()
    if how == "session root":
        monkeypatch.setattr(paths, "_project_root", project)
    else:
        (project / "pyproject.toml").write_text('[tool.kedro]\npackage_name = "x"\n')
        monkeypatch.setattr(paths, "_project_root", None)
    monkeypatch.chdir(project / "notebooks")
    soundtracks = make_soundtracks({"a": audio})
    soundtracks["audio_path"] = ["data/01_raw/audio/a.wav"]  # as FolderIndexDataset lists it

    records = _extract(soundtracks, short_params, tmp_path / "store")

    assert records["a"].status == "ok", records["a"].reason
    assert records["a"].source.path == str(audio)
