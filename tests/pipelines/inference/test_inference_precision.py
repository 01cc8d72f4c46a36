"""``inference.precision``: the trained models score in the resolved precision, which is part
of the inference fingerprint (a change scores the tracks again), and a Dask worker computes in
the precisions the planning process resolved, whatever its own hardware would pick."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from soundtrack_emotion.core.precision import BFLOAT16, FLOAT32
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.pipelines.inference import scoring
from soundtrack_emotion.pipelines.inference.nodes import MODEL_COLUMNS, model_key
from soundtrack_emotion.pipelines.inference.track import TimelineSettings
from soundtrack_emotion.runtime.feature_settings import ExtractionParams

FRAME = (43, 13)
CHOSEN = pd.DataFrame(
    [(label, "mfcc", "cnn", label, 0, 0.01, np.nan) for label in VAD_LABELS],
    columns=list(MODEL_COLUMNS),
)


def _model(seed: int):
    """A small real network with random weights, [b, 43, 13] MFCC frames -> [b, 1]."""
    import keras

    keras.utils.set_random_seed(seed)
    frames = keras.Input(FRAME)
    x = keras.layers.Normalization(axis=-1, mean=-20.0, variance=400.0)(frames)
    x = keras.layers.Conv1D(16, 5, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(frames, keras.layers.Dense(1, activation="sigmoid", name="vad")(x))


@pytest.fixture
def models() -> dict:
    return {model_key("mfcc", "cnn", label): _model(i) for i, label in enumerate(VAD_LABELS)}


def test_the_precision_enters_the_fingerprint_and_a_change_scores_again(
    tmp_path, write_tone, extraction_params, run_inference, as_trained_models, models, caplog
) -> None:
    paths = [
        write_tone(tmp_path / f"{name}.wav", 8.0, freq=f) for name, f in (("a", 330), ("b", 550))
    ]
    tracks = pd.DataFrame(
        {"position": [1, 2], "track": ["a", "b"], "path": [str(p) for p in paths]}
    )
    kwargs = {
        "hop_seconds": 2.0,
        "batch_size": 4,
        "waveform_points": 50,
        "feature_extraction": extraction_params,
        "trained_models": as_trained_models(models),
    }
    extraction = ExtractionParams.from_dict(extraction_params)
    fingerprints = {
        p: scoring.inference_fingerprint(
            CHOSEN, models, extraction, hop_seconds=2.0, waveform_points=50, precision=p
        )
        for p in (FLOAT32, BFLOAT16)
    }
    assert fingerprints[FLOAT32] != fingerprints[BFLOAT16]
    # float32 hashes as before the setting existed: results cached then stay current.
    default = scoring.inference_fingerprint(
        CHOSEN, models, extraction, hop_seconds=2.0, waveform_points=50
    )
    assert default == fingerprints[FLOAT32]

    cache = tmp_path / "cache"
    scored = {}
    for setting, expected in (("float32", 2), ("float32", 0), ("bfloat16", 2), ("bfloat16", 0)):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=scoring.__name__):
            _, track_vad, _ = run_inference(tracks, CHOSEN, cache, precision=setting, **kwargs)
        assert f"inference: {expected} of 2 tracks to score" in caplog.text, setting
        scored[setting] = track_vad.set_index("track")[list(VAD_LABELS)].to_numpy()
    assert not np.array_equal(scored["float32"], scored["bfloat16"])
    np.testing.assert_allclose(scored["bfloat16"], scored["float32"], atol=0.02)

    # auto scores again only if it resolves to another precision than the last run's.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=scoring.__name__):
        run_inference(tracks, CHOSEN, cache, precision="auto", **kwargs)
    auto = scoring.trained_model_precision("auto")
    assert f"inference: {2 if auto == FLOAT32 else 0} of 2 tracks to score" in caplog.text


def test_a_dask_worker_computes_in_the_planning_process_precisions(
    extraction_params, models
) -> None:
    params = extraction_params | {"precision": "float32"}
    job = scoring.ScoringJob(
        chosen=tuple(CHOSEN[list(MODEL_COLUMNS[:5])].itertuples(index=False)),
        loaders={key: (lambda model=model: model) for key, model in models.items()},
        feature_extraction=params,
        timeline=TimelineSettings(hop_seconds=2.0, batch_size=4, waveform_points=50),
        fingerprint="pinned-test",
        cache_path="",
        domain_loaders={},
        precisions=(("models", BFLOAT16), ("musicnn", BFLOAT16)),
    )
    try:
        worker = scoring._worker_models(job)
    finally:
        scoring._WORKER_MODELS.clear()
    extraction = worker.extraction
    assert extraction.precision_of("musicnn") == BFLOAT16
    for model in worker.models:
        network = model.predict.__self__
        policies = {layer.dtype_policy.name for layer in network.layers}
        assert "mixed_bfloat16" in policies
        assert network.get_layer("vad").dtype_policy.name == "float32"
        batch = np.zeros((4, *FRAME), np.float32)
        assert model.predict(batch).dtype == np.float32
