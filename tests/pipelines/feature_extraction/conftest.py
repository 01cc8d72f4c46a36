"""Fixtures of the feature_extraction tests: synthetic audio, a soundtracks table, the
parameters from conf/base, and a tests-only VGGish stand-in SavedModel."""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from soundtrack_emotion.core.vocabulary import SPLITS

PROJECT_ROOT = Path(__file__).resolve().parents[3]
WINDOW = 15360  # VGGish window at 16 kHz


def tone(seconds: float, *, sr: int = 44100, channels: int = 2, seed: int = 0) -> np.ndarray:
    """A chord with a little noise and a slow swell: [n, channels] float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sr)) / sr
    freqs = 220.0 * 2 ** (rng.integers(0, 12, size=3) / 12)
    y = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in freqs) / 4
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * 0.2 * t)) + 0.02 * rng.standard_normal(len(t))
    out = np.stack([y * (1.0 - 0.1 * c) for c in range(channels)], axis=1)
    return out.astype(np.float32)


def write_audio(path: Path, audio: np.ndarray, sr: int) -> Path:
    """Write ``audio`` [n, channels] with soundfile in blocks (libsndfile's Vorbis encoder can
    crash on one large write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(path, "w", sr, audio.shape[1]) as out:
        for start in range(0, len(audio), 32768):
            out.write(audio[start : start + 32768])
    return path


@pytest.fixture
def audio_file(tmp_path: Path) -> Callable[..., Path]:
    """``audio_file(name, seconds, sr=, channels=, seed=)`` writes a tone under tmp_path."""

    def make(name: str, seconds: float, *, sr: int = 44100, channels: int = 2, seed: int = 0):
        return write_audio(
            tmp_path / "audio" / name, tone(seconds, sr=sr, channels=channels, seed=seed), sr
        )

    return make


@pytest.fixture
def params() -> dict:
    """conf/base feature_extraction parameters, run inline (workers=1) with small batches, in
    float32 (``auto`` picks bfloat16 on some CPUs; test_precision.py tests it)."""
    text = (PROJECT_ROOT / "conf/base/parameters_feature_extraction.yml").read_text()
    loaded = copy.deepcopy(yaml.safe_load(text)["feature_extraction"])
    loaded["workers"] = 1
    loaded["precision"] = "float32"
    loaded["vggish"]["batch_windows"] = 16
    return loaded


def make_soundtracks(paths: dict[str, Path], *, seed: int = 0) -> pd.DataFrame:
    """A soundtracks table (the dataset_creation contract) over ``{id: audio path}``."""
    rng = np.random.default_rng(seed)
    ids = list(paths)
    vad = rng.uniform(0.1, 0.9, size=(len(ids), 3))
    return pd.DataFrame(
        {
            "id": ids,
            "track": [f"Track {i}" for i in ids],
            "artist": "Someone",
            "duration_ms": np.zeros(len(ids), dtype=np.int64),
            "weighted_mood": "{}",
            "spotify_id": "x" * 22,
            "audio_path": [str(p) for p in paths.values()],
            "valence": vad[:, 0],
            "arousal": vad[:, 1],
            "dominance": vad[:, 2],
            "n_mood_tags": np.ones(len(ids), dtype=np.int64),
            "split": [SPLITS[i % 3] for i in range(len(ids))],
        }
    )


def standin_embeddings(waveform: np.ndarray) -> np.ndarray:
    """What the stand-in computes, in NumPy: per whole window, the log energy of its 128
    consecutive 120-sample segments, scaled per dimension."""
    n = len(waveform) // WINDOW
    segments = waveform[: n * WINDOW].reshape(n, 128, 120).astype(np.float64)
    scale = np.linspace(0.5, 1.5, 128)
    return (np.log(np.mean(segments**2, axis=-1) + 1e-6) * scale).astype(np.float32)


@pytest.fixture(scope="session")
def vggish_standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory of a tiny SavedModel with VGGish's signature: a 1-D float32 16 kHz waveform
    -> float32 [N, 128], one row per whole 0.96 s window ((0, 128) under 0.96 s). Tests only:
    it has none of VGGish's weights and is never shipped as the model."""
    import tensorflow as tf

    class StandIn(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = tf.Variable(tf.linspace(0.5, 1.5, 128), dtype=tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, waveform: tf.Tensor) -> tf.Tensor:
            n = tf.shape(waveform)[0] // WINDOW
            segments = tf.reshape(waveform[: n * WINDOW], [n, 128, 120])
            energy = tf.reduce_mean(tf.square(segments), axis=-1)
            return tf.math.log(energy + 1e-6) * self.scale

    directory = tmp_path_factory.mktemp("vggish-standin") / "model"
    tf.saved_model.save(StandIn(), str(directory))
    return directory


@pytest.fixture
def no_ffmpeg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH on which no ffmpeg can be found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


FAKE_FFMPEG = """#!{python}
# Fake ffmpeg for tests: "decodes" <file> by reading the WAV next to it (<file>.wav) and
# answers on stdout/stderr exactly in the shape audioread's ffmpeg backend parses.
import sys
import numpy as np
import soundfile as sf
args = sys.argv[1:]
if args == ["-version"]:
    print("ffmpeg version 6.1-fake")
    sys.exit(0)
source = args[args.index("-i") + 1]
try:
    audio, sr = sf.read(source + ".wav", dtype="int16", always_2d=True)
except Exception:
    sys.stderr.write(source + ": Invalid data found when processing input\\n")
    sys.exit(1)
seconds = len(audio) / sr
layout = "stereo" if audio.shape[1] == 2 else "mono"
sys.stderr.write(f"Input #0, mov,mp4,m4a, from '{{source}}':\\n")
sys.stderr.write(f"  Duration: 00:00:{{seconds:05.2f}}, start: 0.000000, bitrate: 128 kb/s\\n")
sys.stderr.write(f"  Stream #0:0(und): Audio: aac (LC), {{sr}} Hz, {{layout}}, fltp, 128 kb/s\\n")
sys.stderr.flush()
sys.stdout.buffer.write(audio.astype("<i2").tobytes())
"""


@pytest.fixture
def fake_ffmpeg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Put a fake ``ffmpeg`` first on PATH (see FAKE_FFMPEG)."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "ffmpeg"
    script.write_text(FAKE_FFMPEG.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return script


@pytest.fixture(scope="module")
def musicnn_weights() -> str:
    """The installed MusiCNN checkpoint (``python -m
    soundtrack_emotion.core.embeddings.pretrained``), or skip."""
    from soundtrack_emotion.core.embeddings.pretrained import musicnn_checkpoint
    from soundtrack_emotion.exceptions import ModelUnavailableError

    try:
        return musicnn_checkpoint(None)
    except ModelUnavailableError as error:
        pytest.skip(f"MusiCNN weights not installed ({error})")
