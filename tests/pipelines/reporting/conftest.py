"""Small hand-made inputs in the contract schemas of the brief (soundtracks, model_metrics,
test predictions, histories, inference timelines and waveforms)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from soundtrack_emotion.core.vocabulary import VAD_LABELS


@pytest.fixture
def soundtracks() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 30
    splits = ["train"] * 20 + ["validation"] * 5 + ["test"] * 5
    return pd.DataFrame(
        {
            "id": [f"artist-{i}::song-{i}" for i in range(n)],
            "track": [f"Song {i}" for i in range(n)],
            "artist": [f"Artist {i}" for i in range(n)],
            "duration_ms": np.full(n, 60_000, dtype=np.int64),
            "weighted_mood": ['{"sad": 3}'] * n,
            "spotify_id": [f"sp{i}" for i in range(n)],
            "audio_path": [f"data/01_raw/audio/t{i}.wav" for i in range(n)],
            **{label: rng.uniform(0.1, 0.9, n) for label in VAD_LABELS},
            "n_mood_tags": np.ones(n, dtype=np.int64),
            "split": splits,
        }
    )


# The model with the lowest validation loss per label in ``model_metrics``.
VALIDATION_BEST = {"valence": ("mfcc", "cnn"), "arousal": ("vggish", "lstm"),
                   "dominance": ("vggish", "cnn")}  # fmt: skip


def _metric_row(feature, network, target, label, level, mse, **extra) -> dict:
    row = {
        "feature": feature,
        "network": network,
        "target": target,
        "label": label,
        "level": level,
        "frame_seconds": 15,
        "n": 40,
        "mse": mse,
        "mae": mse * 5,
        "rmse": mse**0.5,
        "r2": 0.1,
        "pearson_r": 0.4,
        "ccc": 0.3,
        "baseline_mse": 0.02,
        "baseline_mae": 0.11,
        "baseline_rmse": 0.02**0.5,
        "baseline_r2": 0.0,
        "baseline_pearson_r": np.nan,
        "baseline_ccc": 0.0,
        "best_val_loss": mse,
        "epochs": 10,
        "train_seconds": 1.5,
    }
    return {**row, **extra}


@pytest.fixture
def model_metrics() -> pd.DataFrame:
    """Four variants (thesis order shuffled) x 3 labels x 2 levels. The lowest test MSE is
    vggish/lstm for valence, mfcc/cnn for arousal, vggish/cnn for dominance (frame) and
    mfcc/lstm for every song-level label; the lowest validation loss (the choice) is
    ``VALIDATION_BEST``, another model for every label."""
    best_frame = {"valence": ("vggish", "lstm"), "arousal": ("mfcc", "cnn"),
                  "dominance": ("vggish", "cnn")}  # fmt: skip
    rows = []
    for feature, network in [
        ("vggish", "lstm"),
        ("mfcc", "lstm"),
        ("vggish", "cnn"),
        ("mfcc", "cnn"),
    ]:
        for label in VAD_LABELS:
            frame_mse = 0.010 if best_frame[label] == (feature, network) else 0.015
            song_mse = 0.005 if (feature, network) == ("mfcc", "lstm") else 0.008
            val = {"best_val_loss": 0.01 if VALIDATION_BEST[label] == (feature, network) else 0.02}
            rows.append(_metric_row(feature, network, label, label, "frame", frame_mse, **val))
            rows.append(_metric_row(feature, network, label, label, "song", song_mse, **val))
    return pd.DataFrame(rows)


def _predictions(labels, n_songs=4, frames=3, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for label in labels:
        true = np.repeat(rng.uniform(0.2, 0.8, n_songs), frames)
        parts.append(
            pd.DataFrame(
                {
                    "song_id": np.repeat([f"s{i}" for i in range(n_songs)], frames),
                    "frame_index": np.tile(np.arange(frames, dtype=np.int32), n_songs),
                    "label": label,
                    "true": true,
                    "predicted": np.clip(true + rng.normal(0, 0.05, len(true)), 0, 1),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _history(epochs=6) -> pd.DataFrame:
    epoch = np.arange(1, epochs + 1)
    return pd.DataFrame(
        {
            "epoch": epoch,
            "loss": 0.05 / epoch,
            "val_loss": 0.04 / epoch + 0.002 * epoch,
            "mae": 0.2 / epoch,
            "val_mae": 0.18 / epoch,
        }
    )


def _timeline(track: str, duration: float, hop: float = 5.0) -> pd.DataFrame:
    starts = np.arange(0.0, duration, hop)
    ends = np.minimum(starts + hop, duration)
    rng = np.random.default_rng(len(track))
    return pd.DataFrame(
        {
            "track": track,
            "start_s": starts,
            "end_s": ends,
            **{label: rng.uniform(0.2, 0.8, len(starts)) for label in VAD_LABELS},
        }
    )


def _waveform(track: str, duration: float, bins: int = 200) -> pd.DataFrame:
    t = np.linspace(0, duration, bins)
    envelope = 0.5 * np.abs(np.sin(t))
    return pd.DataFrame({"track": track, "time_s": t, "low": -envelope, "high": envelope})


@pytest.fixture
def make_metric_row():
    return _metric_row


@pytest.fixture
def make_predictions():
    """``make_predictions(labels)``: long test predictions (song_id, frame_index, label, true,
    predicted) for 4 songs x 3 frames per label."""
    return _predictions


@pytest.fixture
def make_history():
    return _history


@pytest.fixture
def make_timeline():
    """``make_timeline(track, duration)``: contiguous 5 s windows covering [0, duration]."""
    return _timeline


@pytest.fixture
def make_waveform():
    return _waveform
