"""The precision of the pretrained networks (``feature_extraction.precision``): the setting's
validation, how ``auto`` resolves on given hardware, that the precision enters the fingerprints
(a change recomputes the features), that the bfloat16 switch never outlives a VGGish call (so
training stays float32), and bfloat16 against float32 embeddings on real CC music.

Accuracy is measured, per track, as the relative L2 error ``|bf16 - fp32| / |fp32|`` over the
track's embedding matrix, the largest absolute difference relative to the largest float32
value, and the correlation of all values:

* MusiCNN, real weights, three CC music clips of ``../shared/audio/librosa_examples`` (15 s
  each). Observed on 10 clips of 30 s: relative L2 0.008-0.021, largest difference 0.9-2.0 %
  (dense) and 0.4-3.4 % (taggram), correlation >= 0.9997, the top tag unchanged. Keras's
  bfloat16 runs on every CPU (emulated where it is not native, about as fast as float32 there),
  so this check runs everywhere the clips and the weights are.
* VGGish: the real model cannot be downloaded here, so VGGish's architecture with random
  weights (the benchmarks' replica) on one clip. Observed: relative L2 0.010, largest difference
  1.2 %, correlation 0.99998. oneDNN's rewrite needs TensorFlow's oneDNN backend: on a CPU where
  TensorFlow leaves it off (no native bfloat16), the test runs itself again in a subprocess with
  ``TF_ENABLE_ONEDNN_OPTS=1`` (bfloat16 emulated, slower), so it runs there too.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from soundtrack_emotion.core import precision
from soundtrack_emotion.core.audio import load_audio
from soundtrack_emotion.core.embeddings.musicnn import (
    MUSICNN_SAMPLE_RATE,
    load_musicnn,
    musicnn_outputs,
)
from soundtrack_emotion.core.embeddings.vggish import VggishModel, vggish_embeddings
from soundtrack_emotion.core.precision import BFLOAT16, FLOAT32, PRECISIONS, Hardware, resolve
from soundtrack_emotion.datasets import FeatureStoreDataset
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.feature_extraction.tracks import extract_track
from soundtrack_emotion.runtime.feature_settings import ExtractionParams
from soundtrack_emotion.runtime.parameter_check import check_parameter_keys

from .conftest import PROJECT_ROOT, make_soundtracks, tone, write_audio

SHARED = Path(os.environ.get("SOUNDTRACK_EMOTION_SHARED") or PROJECT_ROOT.parent / "shared")
CLIPS = SHARED / "audio/librosa_examples"
MUSIC = (
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
    "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg",
)
CLIP_SECONDS = 15
# Tolerances of bfloat16 against float32, about twice the largest error observed.
MAX_RELATIVE_L2 = 0.04
MAX_LARGEST_DIFFERENCE = 0.05
MIN_CORRELATION = 0.999
NAME = "feature_extraction.precision"

CPU = Hardware(cpu_flags=frozenset({"avx2", "fma"}), onednn=False, gpus=())
XEON = Hardware(cpu_flags=frozenset({"avx512f", "avx512_bf16", "amx_bf16"}), onednn=True, gpus=())


def errors(fp32: np.ndarray, bf16: np.ndarray) -> dict[str, float]:
    """How far ``bf16`` is from ``fp32`` (same shape): relative L2, largest difference relative
    to the largest float32 value, correlation."""
    return {
        "relative_l2": float(np.linalg.norm(bf16 - fp32) / np.linalg.norm(fp32)),
        "largest": float(np.abs(bf16 - fp32).max() / np.abs(fp32).max()),
        "correlation": float(np.corrcoef(fp32.ravel(), bf16.ravel())[0, 1]),
    }


def assert_within_tolerance(fp32: np.ndarray, bf16: np.ndarray, what: str) -> None:
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape
    e = errors(fp32, bf16)
    assert e["relative_l2"] <= MAX_RELATIVE_L2, (what, e)
    assert e["largest"] <= MAX_LARGEST_DIFFERENCE, (what, e)
    assert e["correlation"] >= MIN_CORRELATION, (what, e)


# --------------------------------------------------------------------------- the setting


def test_a_misspelt_precision_names_the_parameter(params: dict) -> None:
    params["precision"] = "bf16"
    expected = r"feature_extraction\.precision must be one of \('auto', 'float32', 'bfloat16'\)"
    with pytest.raises(ParameterError, match=expected + ", got 'bf16'"):
        ExtractionParams.from_dict(params)
    with pytest.raises(ParameterError, match=r"inference\.precision must be .* got 'fp16'"):
        precision.trained_model_precision("fp16")
    # A misspelt key is refused before any node runs (the ProjectContextHook's check).
    base = yaml.safe_load(
        (PROJECT_ROOT / "conf/base/parameters_feature_extraction.yml").read_text()
    )
    suggestion = r"feature_extraction\.precison \(did you mean feature_extraction\.precision\?\)"
    with pytest.raises(ParameterError, match=suggestion):
        check_parameter_keys({"feature_extraction": {"precison": "bfloat16"}}, base)


def test_auto_is_the_default_and_float32_is_float32_everywhere() -> None:
    for name in ("feature_extraction", "inference"):
        text = (PROJECT_ROOT / f"conf/base/parameters_{name}.yml").read_text()
        assert yaml.safe_load(text)[name]["precision"] == "auto"
    for hardware in (CPU, XEON, Hardware(frozenset(), None, ((9, 0),))):
        for engine in precision.ENGINES:
            assert (
                resolve(FLOAT32, name=NAME, engine=engine, hardware=hardware).precision == FLOAT32
            )


def test_auto_picks_bfloat16_only_where_it_is_native(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def auto(hardware: Hardware, engine: str = "keras") -> precision.Choice:
        return resolve("auto", name=NAME, engine=engine, hardware=hardware)

    assert auto(CPU).precision == FLOAT32
    assert "neither amx_bf16 nor avx512_bf16" in auto(CPU).reason
    for engine in precision.ENGINES:
        assert auto(XEON, engine) == precision.Choice(
            BFLOAT16, "this CPU has amx_bf16+avx512_bf16 and TensorFlow's oneDNN backend is on"
        )
    off = Hardware(XEON.cpu_flags, onednn=False, gpus=())
    assert auto(off).precision == FLOAT32 and "oneDNN backend is off" in auto(off).reason
    ampere, turing = (
        Hardware(CPU.cpu_flags, None, ((8, 0),)),
        Hardware(XEON.cpu_flags, True, ((7, 5),)),
    )
    assert auto(ampere).precision == BFLOAT16 and "8.0" in auto(ampere).reason
    assert auto(ampere, "graph").precision == FLOAT32  # oneDNN's rewrite skips GPU operations
    assert auto(turing).precision == FLOAT32 and "7.5" in auto(turing).reason

    # The flags are read from /proc/cpuinfo: a faked one with AVX512-BF16.
    cpuinfo = tmp_path / "cpuinfo"
    cpu = "flags\t\t: fpu sse avx512f avx512_bf16\n"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Fake Xeon\n{cpu}\nprocessor\t: 1\n{cpu}")
    monkeypatch.setattr(precision, "CPUINFO", cpuinfo)
    monkeypatch.setattr(precision, "onednn_enabled", lambda: True)
    monkeypatch.setattr(precision, "gpu_capabilities", lambda: ())
    precision.detect.cache_clear()
    try:
        assert precision.detect().cpu_bf16 == ("avx512_bf16",)
        assert resolve("auto", name=NAME, engine="graph").precision == BFLOAT16
        cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2\n")
        precision.detect.cache_clear()
        assert resolve("auto", name=NAME, engine="graph").precision == FLOAT32
    finally:
        precision.detect.cache_clear()


def test_auto_on_this_machine_follows_its_cpu_flags() -> None:
    flags = precision.cpu_flags()
    native = any(f in flags for f in precision.CPU_BF16_FLAGS) and precision.onednn_enabled()
    expected = BFLOAT16 if native and not precision.gpu_capabilities() else FLOAT32
    assert resolve("auto", name=NAME, engine="graph").precision == expected


def test_bfloat16_vggish_says_why_it_cannot_run_instead_of_running_float32() -> None:
    gpu = Hardware(XEON.cpu_flags, True, ((8, 0),))
    with pytest.raises(ParameterError, match="converts CPU operations only"):
        resolve(BFLOAT16, name=NAME, engine="graph", hardware=gpu)
    with pytest.raises(ParameterError, match="TF_ENABLE_ONEDNN_OPTS=1"):
        resolve(BFLOAT16, name=NAME, engine="graph", hardware=CPU)
    # Keras networks run it anyway (emulated where not native) and say so.
    forced = resolve(BFLOAT16, name=NAME, engine="keras", hardware=CPU)
    assert forced.precision == BFLOAT16 and "emulated" in forced.reason
    assert resolve(BFLOAT16, name=NAME, engine="graph", hardware=XEON).reason == "as set, native"


def test_the_choice_is_logged_once_with_its_reason(
    params: dict, caplog: pytest.LogCaptureFixture
) -> None:
    params["precision"] = "auto"
    with caplog.at_level(logging.INFO, logger="soundtrack_emotion.core.precision"):
        for _ in range(3):
            p = ExtractionParams.from_dict(params)
            p.fingerprint("musicnn")
            p.fingerprint("mfcc")
    lines = [r.getMessage() for r in caplog.records if "for MusiCNN (" in r.getMessage()]
    assert len(lines) <= 1  # once per process: an earlier test may have logged it already
    assert not any("MFCC" in r.getMessage() for r in caplog.records)
    precision._announced.clear()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="soundtrack_emotion.core.precision"):
        ExtractionParams.from_dict(params).fingerprint("musicnn")
        ExtractionParams.from_dict(params).fingerprint("musicnn")
    lines = [r.getMessage() for r in caplog.records if "for MusiCNN (" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("feature_extraction.precision=auto -> ")
    assert "(" in lines[0]  # the reason


# ------------------------------------------------------------------------- fingerprints


def test_the_resolved_precision_is_part_of_the_fingerprints(
    params: dict, vggish_standin: Path
) -> None:
    # VGGish's fingerprint holds its model's content hash: a model must be there to have one.
    params["vggish"]["handle"] = str(vggish_standin)
    fp32 = ExtractionParams.from_dict(params | {"precision": "float32"})
    bf16 = ExtractionParams.from_dict(params | {"precision": "bfloat16"})
    assert bf16.precision_of("musicnn") == BFLOAT16
    assert fp32.precision_of("musicnn") == FLOAT32
    assert fp32.fingerprint("musicnn") != bf16.fingerprint("musicnn")
    assert fp32.fingerprint("mfcc") == bf16.fingerprint("mfcc")  # MFCC is NumPy, float32
    pinned = ExtractionParams.from_dict(params, pinned={"vggish": BFLOAT16})
    assert pinned.precision_of("vggish") == BFLOAT16
    assert pinned.fingerprint("vggish") != fp32.fingerprint("vggish")
    # auto that resolves to float32 keeps float32's fingerprint (so do stores written before).
    auto = ExtractionParams.from_dict(params | {"precision": "auto"})
    if auto.precision_of("musicnn") == FLOAT32:
        assert auto.fingerprint("musicnn") == fp32.fingerprint("musicnn")
    with pytest.raises(ParameterError, match="cannot pin 'musicnn' to precision 'float16'"):
        ExtractionParams.from_dict(params, pinned={"musicnn": "float16"})


def test_a_model_stays_current_when_only_the_precision_changes(tmp_path: Path, params: dict):
    from soundtrack_emotion.runtime.provenance import current_fingerprints

    soundtracks = make_soundtracks({"t0": tmp_path / "t0.wav"})
    # bfloat16 VGGish may not run here: a model's identity must not even ask.
    seen = [current_fingerprints(soundtracks, params | {"precision": p}) for p in PRECISIONS]
    assert seen[0] == seen[1] == seen[2]
    store = ExtractionParams.from_dict(params | {"precision": "bfloat16"})
    assert store.fingerprint("musicnn", with_precision=False) != store.fingerprint("musicnn")


def test_a_precision_change_recomputes_the_musicnn_features_only(
    tmp_path: Path, params: dict, musicnn_weights: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soundtrack_emotion.pipelines.feature_extraction import nodes

    tasks: list = []

    def counting(task):
        tasks.append(task)
        return extract_track(task)

    monkeypatch.setattr(nodes, "extract_track", counting)
    audio = {"t0": write_audio(tmp_path / "t0.wav", tone(11.0, sr=22050), 22050)}
    soundtracks = make_soundtracks(audio)
    stores = {f: FeatureStoreDataset(path=str(tmp_path / f), family=f) for f in ("mfcc", "musicnn")}

    def extract(setting: str) -> None:
        existing = {f"existing_{f}": s.load() for f, s in stores.items()}
        for chunk in nodes.extract_features(
            soundtracks, params | {"precision": setting}, **existing
        ):
            for family, records in chunk.items():
                stores[family].save(records)

    extract("float32")
    fp32 = stores["musicnn"].load()["t0"]
    extract("float32")
    assert [t.names for t in tasks] == [("mfcc", "musicnn")]  # up to date: nothing redone
    extract("bfloat16")
    assert [t.names for t in tasks] == [("mfcc", "musicnn"), ("musicnn",)]
    bf16 = stores["musicnn"].load()["t0"]
    assert bf16.dtype == np.float32 and not np.array_equal(bf16, fp32)
    assert_within_tolerance(fp32, bf16, "tone, dense+taggram")


# ------------------------------------------------------------- float32 stays float32


def test_the_bfloat16_rewrite_is_on_inside_a_vggish_call_only() -> None:
    import keras
    import tensorflow as tf

    seen: list[bool] = []

    def module(waveform: np.ndarray) -> np.ndarray:
        options = tf.config.optimizer.get_experimental_options()
        seen.append(bool(options.get(precision.ONEDNN_BF16_REWRITE)))
        return np.zeros((len(waveform) // 15360, 128), np.float64)

    for setting in (FLOAT32, BFLOAT16, FLOAT32):
        out = VggishModel(handle="spy", module=module, precision=setting)(np.zeros(16000 * 3))
        assert out.dtype == np.float32
    assert seen == [False, True, False]
    assert not tf.config.optimizer.get_experimental_options().get(precision.ONEDNN_BF16_REWRITE)

    def failing(waveform: np.ndarray) -> np.ndarray:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        VggishModel(handle="spy", module=failing, precision=BFLOAT16)(np.zeros(16000))
    assert not tf.config.optimizer.get_experimental_options().get(precision.ONEDNN_BF16_REWRITE)
    assert keras.config.dtype_policy().name == "float32"


def test_keras_networks_run_bfloat16_in_a_clone_with_float32_ends() -> None:
    import keras

    keras.utils.set_random_seed(0)
    frames = keras.Input((20, 13))
    x = keras.layers.Normalization(axis=-1, mean=-300.0, variance=900.0)(frames)
    x = keras.layers.LSTM(16)(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    model = keras.Model(frames, keras.layers.Dense(3, name="vad")(x))
    clone = precision.keras_in_precision(model, BFLOAT16)
    assert precision.keras_in_precision(model, FLOAT32) is model
    policies = {layer.name: layer.dtype_policy.name for layer in clone.layers}
    assert policies["vad"] == "float32" and policies[clone.layers[1].name] == "float32"
    assert policies[clone.layers[2].name] == policies[clone.layers[3].name] == "mixed_bfloat16"
    assert all(layer.dtype_policy.name == "float32" for layer in model.layers)  # untouched
    batch = np.random.default_rng(0).normal(-300, 30, (8, 20, 13)).astype(np.float32)
    ours, reference = clone.predict_on_batch(batch), model.predict_on_batch(batch)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=0.05 * np.abs(reference).max())
    assert keras.config.dtype_policy().name == "float32"


# ---------------------------------------------------------- accuracy on real CC music


def clip(name: str) -> np.ndarray:
    path = CLIPS / name
    if not path.is_file():
        pytest.skip(f"real music absent: {path} (no ../shared here)")
    return load_audio(path, sr=MUSICNN_SAMPLE_RATE)[: CLIP_SECONDS * MUSICNN_SAMPLE_RATE]


@pytest.mark.parametrize("name", MUSIC)
def test_musicnn_in_bfloat16_matches_float32_on_real_music(musicnn_weights: str, name: str) -> None:
    y = clip(name)
    fp32 = musicnn_outputs(y, model=load_musicnn(None))
    bf16 = musicnn_outputs(y, model=load_musicnn(None, precision=BFLOAT16))
    for output in ("dense", "taggram"):
        assert_within_tolerance(fp32[output], bf16[output], f"{name} {output}")
    assert fp32["taggram"].mean(axis=0).argmax() == bf16["taggram"].mean(axis=0).argmax()


def vggish_replica():
    """VGGish's architecture with random weights (benchmarks/feature_extraction.py)."""
    spec = importlib.util.spec_from_file_location(
        "benchmark_feature_extraction", PROJECT_ROOT / "benchmarks/feature_extraction.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.vggish_replica()


def test_vggish_architecture_in_bfloat16_matches_float32_on_real_music() -> None:
    y = clip(MUSIC[0])
    if not precision.onednn_enabled():
        # TensorFlow left oneDNN off (no native bfloat16 here): force it in a fresh process.
        if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1":
            pytest.fail("TF_ENABLE_ONEDNN_OPTS=1 did not turn TensorFlow's oneDNN on")
        test = (
            f"{Path(__file__)}::test_vggish_architecture_in_bfloat16_matches_float32_on_real_music"
        )
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1"}
        command = [sys.executable, "-m", "pytest", test, "-q"]
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        assert "1 passed" in done.stdout, done.stdout[-3000:]
        return
    module = vggish_replica()
    fp32 = vggish_embeddings(y, model=VggishModel(handle="replica", module=module))
    bf16 = vggish_embeddings(
        y, model=VggishModel(handle="replica", module=module, precision=BFLOAT16)
    )
    assert not np.array_equal(fp32, bf16)  # the rewrite converted it
    assert_within_tolerance(fp32, bf16, f"VGGish architecture, {MUSIC[0]}")
