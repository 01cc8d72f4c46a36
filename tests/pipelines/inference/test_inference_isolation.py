"""Inference in the worker pool: tracks are decoded and scored in worker processes (each
loading the models once), the same bit for bit as in this process; a track that kills its
worker is recorded with the reason while the others are scored, and the next run reports it
from its attempt marker without scoring it again."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.pipelines.inference.nodes import MODEL_COLUMNS
from soundtrack_emotion.runtime.workers import MARKER_SUFFIX

FRAME = (43, 13)
CHOSEN = pd.DataFrame(
    [(label, "mfcc", "cnn", label, 0, 0.01, np.nan) for label in VAD_LABELS],
    columns=list(MODEL_COLUMNS),
)
NODE_PARAMS = {"hop_seconds": 1.0, "batch_size": 4, "waveform_points": 50}

# Tests only: a picklable model loader (a saved .keras file), whose module, once a worker
# imports it to unpickle a loader, makes that worker's scoring kill the worker (SIGKILL, as a
# native crash or the OOM killer would) on a file named "poison". This process is untouched.
HOOK_MODULE = """
import multiprocessing
import os
import signal

from soundtrack_emotion.pipelines.inference import scoring


class Loader:
    def __init__(self, path):
        self.path = path

    def __call__(self):
        import keras

        return keras.saving.load_model(self.path)


if multiprocessing.current_process().name != "MainProcess":
    _real = scoring.infer_track

    def _dying(path, **kwargs):
        if "poison" in os.path.basename(path):
            os.kill(os.getpid(), signal.SIGKILL)
        return _real(path, **kwargs)

    scoring.infer_track = _dying
"""


@pytest.fixture
def saved_models(tmp_path, tiny_model, monkeypatch) -> dict:
    """``trained_models`` as the project's PartitionedDataset gives them (picklable loaders
    of saved models), one constant model per label."""
    from soundtrack_emotion.core.vocabulary import model_partition

    (tmp_path / "isolation_inference_hook.py").write_text(HOOK_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    hook = importlib.import_module("isolation_inference_hook")
    loaders = {}
    for label, value in zip(VAD_LABELS, (0.2, 0.5, 0.8), strict=True):
        path = tmp_path / "models" / f"{label}.keras"
        path.parent.mkdir(exist_ok=True)
        tiny_model(FRAME, value=value).save(path)
        loaders[model_partition("mfcc", "cnn", label)] = hook.Loader(str(path))
    return loaders


@pytest.fixture
def album(tmp_path, write_tone) -> pd.DataFrame:
    folder = tmp_path / "album"
    names = ["a", "poison", "b", "c"]
    paths = [write_tone(folder / f"{n}.wav", 2.0 + i / 2) for i, n in enumerate(names)]
    return pd.DataFrame({"position": range(1, 5), "track": names, "path": [str(p) for p in paths]})


def _score(album, saved_models, extraction_params, cache, run_inference, **params):
    return run_inference(
        album,
        CHOSEN,
        cache,
        feature_extraction=extraction_params | params,
        trained_models=saved_models,
        domain_references={},
        precision="float32",
        **NODE_PARAMS,
    )


@pytest.mark.slow
def test_a_track_that_kills_its_worker_is_recorded_and_skipped_next_run(
    tmp_path, album, saved_models, extraction_params, run_inference
) -> None:
    cache = tmp_path / "cache"
    timelines, track_vad, _ = _score(
        album, saved_models, extraction_params, cache, run_inference, workers=2
    )

    rows = track_vad.set_index("track")
    assert rows["status"].to_dict() == {"a": "ok", "poison": "error", "b": "ok", "c": "ok"}
    assert "the worker process died (signal 9, SIGKILL" in rows.loc["poison", "error"]
    markers = list((tmp_path / "attempted").iterdir())
    assert len(markers) == 1 and markers[0].name.startswith("poison-")
    assert markers[0].name.endswith(MARKER_SUFFIX)

    # The good tracks equal an inline run's (workers: 1, the models loaded in this process).
    inline_timelines, inline_vad, _ = _score(
        album[album["track"] != "poison"], saved_models, extraction_params,
        tmp_path / "inline_cache", run_inference, workers=1,
    )  # fmt: skip
    good = timelines[timelines["track"] != "poison"].reset_index(drop=True)
    pd.testing.assert_frame_equal(good, inline_timelines.reset_index(drop=True))
    np.testing.assert_array_equal(
        rows.loc[["a", "b", "c"], "valence"].to_numpy(),
        inline_vad.set_index("track").loc[["a", "b", "c"], "valence"].to_numpy(),
    )

    # The next run reports the poison track from its marker and does not score it.
    _, again, _ = _score(album, saved_models, extraction_params, cache, run_inference, workers=2)
    rows = again.set_index("track")
    assert rows.loc["poison", "status"] == "error"
    assert "killed its worker in an earlier run" in rows.loc["poison", "error"]
    assert "retry_attempted" in rows.loc["poison", "error"]
    assert (rows.loc[["a", "b", "c"], "status"] == "ok").all()
