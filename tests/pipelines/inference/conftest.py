"""Hand-made audio files and tiny Keras models for the inference tests."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SAMPLE_RATE = 22050


def _write_tone(path: Path, seconds: float, *, sr: int = SAMPLE_RATE, freq: float = 440.0) -> Path:
    t = np.arange(round(seconds * sr)) / sr
    tone = 0.5 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone.astype(np.float32), sr)
    return path


@pytest.fixture
def write_tone():
    """``write_tone(path, seconds, sr=22050)``: a mono tone file of exactly that length."""
    return _write_tone


def _tiny_model(frame_shape: tuple[int, int], outputs: int = 1, value: float = 0.5):
    """A real Keras model ``[b, T, F] -> [b, outputs]`` whose output is ``value`` for every
    input (zero kernel, constant bias), so a test knows which model produced a number."""
    import keras

    inputs = keras.Input(shape=frame_shape, name="frames")
    pooled = keras.layers.GlobalAveragePooling1D()(inputs)
    out = keras.layers.Dense(
        outputs,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(value),
    )(pooled)
    return keras.Model(inputs, out)


@pytest.fixture
def tiny_model():
    return _tiny_model


PROJECT_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def extraction_params() -> dict:
    """The project's feature_extraction parameters (conf/base), accepting tracks from 0.5 s so
    that short hand-made files reach the framing step, in float32 on any CPU."""
    import yaml

    text = (PROJECT_ROOT / "conf/base/parameters_feature_extraction.yml").read_text()
    params = yaml.safe_load(text)["feature_extraction"]
    params["workers"] = 1
    params["precision"] = "float32"
    params["framing"]["short_track"] = {"policy": "pad", "min_seconds": 0.5}
    return params


@pytest.fixture
def extraction(extraction_params):
    from soundtrack_emotion.runtime.feature_settings import ExtractionParams

    return ExtractionParams.from_dict(extraction_params)


def _vggish_standin(waveform: np.ndarray) -> np.ndarray:
    """Tests only, never the model: VGGish's signature (1-D float32 16 kHz waveform -> float32
    [N, 128], one row per whole 0.96 s window, (0, 128) under 0.96 s); each row is the window's
    RMS level times 1..128."""
    from soundtrack_emotion.core.embeddings.vggish import VGGISH_WINDOW_SAMPLES, vggish_windows

    waveform = np.asarray(waveform, dtype=np.float32)
    assert waveform.ndim == 1
    n = vggish_windows(len(waveform))
    windows = waveform[: n * VGGISH_WINDOW_SAMPLES].reshape(n, VGGISH_WINDOW_SAMPLES)
    rms = np.sqrt(np.mean(windows**2, axis=1, keepdims=True))
    return (rms * np.arange(1, 129, dtype=np.float32)).astype(np.float32)


@pytest.fixture
def vggish_standin():
    return _vggish_standin


def _run_inference(tracks, chosen, cache_dir: Path, **kwargs):
    """Both inference nodes as Kedro runs them: every chunk ``predict_vad_timelines`` yields
    is saved to a track cache in ``cache_dir`` before the next one is computed, then
    ``collect_vad_timelines`` assembles the tables from it."""
    from soundtrack_emotion.datasets import TrackCacheDataset
    from soundtrack_emotion.pipelines.inference.nodes import (
        collect_vad_timelines,
        predict_vad_timelines,
    )

    cache = TrackCacheDataset(path=str(cache_dir))
    for chunk in predict_vad_timelines(tracks, chosen, existing_results=cache.load(), **kwargs):
        cache.save(chunk)
    return collect_vad_timelines(tracks, cache.load())


def _as_trained_models(models: dict) -> dict:
    """``trained_models`` as its PartitionedDataset loads it: partition id -> loader, from
    ``{model_key: model}``; each loader returns the same model object."""
    from soundtrack_emotion.core.vocabulary import model_partition
    from soundtrack_emotion.pipelines.inference.nodes import split_model_key

    return {
        model_partition(*split_model_key(key)): (lambda model=model: model)
        for key, model in models.items()
    }


@pytest.fixture
def as_trained_models():
    """``as_trained_models({model_key: keras_model})`` -> the ``trained_models`` mapping."""
    return _as_trained_models


@pytest.fixture
def run_inference():
    """``run_inference(tracks, chosen, cache_dir, **node_kwargs)`` -> (vad_timelines,
    track_vad, inference_waveforms)."""
    return _run_inference
