"""Inference and feature extraction on a real Dask LocalCluster (2 worker processes): the
records equal the in-process run's bit for bit, and a worker killed mid-run loses, duplicates
and half-writes nothing."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from soundtrack_emotion.core.model_files import serialise_model  # noqa: E402
from soundtrack_emotion.core.vocabulary import VAD_LABELS  # noqa: E402
from soundtrack_emotion.datasets import (  # noqa: E402
    KerasModelDataset,
    TrackCache,
    TrackCacheDataset,
)
from soundtrack_emotion.datasets.feature_store import SUFFIX  # noqa: E402
from soundtrack_emotion.pipelines.inference import nodes, scoring  # noqa: E402

N_TRACKS = 6


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        distributed.Client(local) as client,
    ):
        yield local, client


def _random_model(frame_shape, seed):
    """A real Keras model with random weights (so equal outputs mean equal computation)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=frame_shape)
    hidden = keras.layers.Conv1D(8, 3, activation="relu")(inputs)
    pooled = keras.layers.GlobalAveragePooling1D()(hidden)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled))


@pytest.fixture(scope="module")
def demo_set(tmp_path_factory):
    """Eight tone files of 3-10 s over two movies, and mfcc_cnn model files per label."""
    import soundfile as sf

    root = tmp_path_factory.mktemp("dask_demo")
    rows = []
    rng = np.random.default_rng(0)
    for i in range(N_TRACKS):
        sr, seconds = 22050, 3.0 + 0.5 * i
        t = np.arange(int(sr * seconds)) / sr
        y = 0.4 * np.sin(2 * np.pi * (220 + 55 * i) * t) + 0.05 * rng.standard_normal(len(t))
        movie = f"movie{i % 2}"
        path = root / movie / f"{i:02d} cue.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, y.astype(np.float32), sr)
        rows.append((movie, movie, i // 2 + 1, path.stem, str(path)))
    tracks = pd.DataFrame(rows, columns=["movie_id", "title", "position", "track", "path"])
    trained = {}
    for seed, label in enumerate(VAD_LABELS):
        file = root / f"models/mfcc_cnn/{label}.keras"
        file.parent.mkdir(parents=True, exist_ok=True)
        dataset = KerasModelDataset(filepath=str(file))
        dataset.save(serialise_model(_random_model((43, 13), seed)))
        trained[f"mfcc_cnn/{label}"] = dataset.load
    chosen = pd.DataFrame(
        [(label, "mfcc", "cnn", label, 0, 0.1, np.nan) for label in VAD_LABELS],
        columns=list(nodes.MODEL_COLUMNS),
    ).assign(model_sha256=[trained[f"mfcc_cnn/{label}"]().sha256 for label in VAD_LABELS])
    return root, tracks, chosen, trained


def _score(demo_set, extraction_params, cache_dir: Path, compute=None) -> TrackCache:
    _, tracks, chosen, trained = demo_set
    dataset = TrackCacheDataset(path=str(cache_dir))
    for chunk in nodes.predict_vad_timelines(
        tracks,
        chosen,
        hop_seconds=1.0,
        batch_size=8,
        waveform_points=200,
        feature_extraction=extraction_params,
        trained_models=trained,
        existing_results=dataset.load(),
        compute=compute,
    ):
        dataset.save(chunk)
    return dataset.load()


def _assert_same_records(actual: TrackCache, expected: TrackCache) -> None:
    assert actual.keys() == expected.keys()
    assert len(actual.keys()) == N_TRACKS
    for key in expected.keys():  # noqa: SIM118 (a TrackCache, not a dict)
        a, e = actual.get(key), expected.get(key)
        assert (a.status, a.fingerprint, a.source) == (e.status, e.fingerprint, e.source)
        assert dict(a.summary) == dict(e.summary)
        assert a.arrays.keys() == e.arrays.keys()
        for name, values in e.arrays.items():
            assert a.arrays[name].dtype == values.dtype
            assert a.arrays[name].tobytes() == values.tobytes(), (key, name)  # bit for bit


def _dask(cluster) -> dict:
    local, _ = cluster
    return {"backend": "dask", "dask": {"address": local.scheduler_address}}


@pytest.fixture(scope="module")
def reference(demo_set, extraction_params, tmp_path_factory):
    """The in-process (default backend) run's records."""
    return _score(demo_set, extraction_params, tmp_path_factory.mktemp("reference") / "cache")


@pytest.fixture(scope="module")
def extraction_params():
    import yaml

    project = Path(__file__).resolve().parents[3]
    text = (project / "conf/base/parameters_feature_extraction.yml").read_text()
    params = yaml.safe_load(text)["feature_extraction"]
    params["workers"] = 1
    params["framing"]["short_track"] = {"policy": "pad", "min_seconds": 0.5}
    return params


def test_a_worker_killed_mid_run_loses_nothing_and_the_results_equal_an_uninterrupted_run(
    cluster, demo_set, extraction_params, reference, tmp_path
):
    # First test on the module's cluster: the workers import TensorFlow and load the models on
    # their first task, so a task is running for seconds when one of them is killed.
    _, client = cluster
    pids_before = set(client.run(os.getpid).values())
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["cache"] = _score(
                demo_set, extraction_params, tmp_path / "cache", compute=_dask(cluster)
            )
        except BaseException as error:  # surfaced by the assertion below
            outcome["error"] = error

    scorer = threading.Thread(target=run)
    scorer.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and scorer.is_alive():
        busy = [w for w, keys in client.processing().items() if keys]
        if busy:
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)  # the worker process dies mid-task
            killed = pid
        time.sleep(0.02)
    scorer.join(timeout=300)
    assert killed is not None, "no task was running to be killed"
    assert "error" not in outcome, outcome.get("error")
    cache = outcome["cache"]
    _assert_same_records(cache, reference)  # nothing lost, duplicated or half-written
    assert killed in pids_before
    assert killed not in set(client.run(os.getpid).values())  # its nanny started a new one


def test_dask_records_equal_the_process_run_bit_for_bit_and_models_load_once_per_worker(
    cluster, demo_set, extraction_params, reference, tmp_path
):
    _, client = cluster
    cache = _score(demo_set, extraction_params, tmp_path / "cache", compute=_dask(cluster))
    _assert_same_records(cache, reference)
    loads = client.run(scoring.worker_model_loads)
    # Each worker loaded the models of this job at most once, however many tracks it scored.
    assert all(len(fingerprints) <= 1 for fingerprints in loads.values()), loads
    assert sum(len(f) for f in loads.values()) >= 1
    # A rerun finds every track current: nothing is submitted.
    before = {k: (tmp_path / "cache" / f"{k}{SUFFIX}").stat().st_mtime_ns for k in cache.keys()}  # noqa: SIM118
    _score(demo_set, extraction_params, tmp_path / "cache", compute=_dask(cluster))
    after = {k: (tmp_path / "cache" / f"{k}{SUFFIX}").stat().st_mtime_ns for k in cache.keys()}  # noqa: SIM118
    assert after == before


def test_feature_extraction_tracks_on_dask_equal_the_process_pool(cluster, demo_set):
    from soundtrack_emotion.pipelines.feature_extraction.tracks import (
        TrackTask,
        crashed_track,
        extract_track,
    )
    from soundtrack_emotion.runtime.feature_settings import ExtractionParams
    from soundtrack_emotion.runtime.workers import map_tracks

    _, tracks, _, _ = demo_set
    defaults = _extraction_defaults()
    defaults["framing"]["short_track"] = {"policy": "pad", "min_seconds": 0.5}
    params = ExtractionParams.from_dict({**defaults, "workers": 2})
    tasks = [
        TrackTask(
            id=row.track,
            path=row.path,
            families=(params.mfcc,),
            decoding=params.decoding,
        )
        for row in tracks.itertuples(index=False)
    ]
    pool = {r.id: r for r in map_tracks(extract_track, tasks, workers=2, on_crash=crashed_track)}
    _, client = cluster
    on_dask = {
        r.id: r
        for r in map_tracks(
            extract_track, tasks, workers=2, on_crash=crashed_track, dask_client=client
        )
    }
    assert on_dask.keys() == pool.keys()
    for track_id, result in pool.items():
        assert result.error is None, result.error
        rows = result.outputs["mfcc"].rows
        assert on_dask[track_id].outputs["mfcc"].rows.tobytes() == rows.tobytes()
        assert on_dask[track_id].audio_seconds == result.audio_seconds


def _extraction_defaults() -> dict:
    import yaml

    project = Path(__file__).resolve().parents[3]
    text = (project / "conf/base/parameters_feature_extraction.yml").read_text()
    return yaml.safe_load(text)["feature_extraction"]
