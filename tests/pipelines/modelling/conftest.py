"""Tiny synthetic model inputs whose labels can be learnt from the frames."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from soundtrack_emotion.core.vocabulary import SPLITS
from soundtrack_emotion.datasets import FrameChunk, ModelInputDataset, ModelInputs

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SONGS = {"train": 24, "validation": 8, "test": 8}


@dataclass
class Corpus:
    """What was written, kept whole so tests can check the streamed results against it."""

    inputs: ModelInputs
    frames: dict[str, np.ndarray]  # split -> [n, T, F]
    labels: dict[str, np.ndarray]  # split -> [n, 3]
    song_id: dict[str, np.ndarray]  # split -> [n]


def write_model_inputs(
    path: Path,
    *,
    frame_shape: tuple[int, int] = (6, 4),
    frames_per_song: int = 3,
    shard_frames: int = 16,
    seed: int = 0,
    shuffle_test_labels: bool = False,
) -> Corpus:
    """Write a ModelInputDataset at ``path``: each song has random VAD labels, and its frames
    are noise around a linear function of them (needs ``F >= 3``), on an MFCC-like scale
    (offset 100, scale 40) so that training without the normaliser would struggle.
    ``shuffle_test_labels``: the same frames, but the test songs' labels permuted among them."""
    rng = np.random.default_rng(seed)
    t, f = frame_shape
    # each label drives one feature (the rest is noise): learnable by every network
    mixing = 2.0 * np.eye(3, f)
    frames, labels, song_ids = {}, {}, {}
    for split in SPLITS:
        n_songs = SONGS[split]
        song_labels = rng.uniform(0.1, 0.9, size=(n_songs, 3)).astype(np.float32)
        per_frame = np.repeat(song_labels, frames_per_song, axis=0)
        signal = (per_frame - 0.5) @ mixing
        noise = rng.normal(scale=0.2, size=(len(per_frame), t, f))
        frames[split] = (100.0 + 40.0 * (signal[:, None, :] + noise)).astype(np.float32)
        if split == "test" and shuffle_test_labels:
            order = np.random.default_rng(seed + 1).permutation(n_songs)
            per_frame = np.repeat(song_labels[order], frames_per_song, axis=0)
        labels[split] = per_frame
        song_ids[split] = np.repeat([f"{split}-{i:03d}" for i in range(n_songs)], frames_per_song)

    def chunks(split: str):
        n = len(frames[split])
        index = np.tile(np.arange(frames_per_song, dtype=np.int32), n // frames_per_song)
        for start in range(0, n, 4):  # small chunks, regrouped into shards of `shard_frames`
            stop = start + 4
            yield FrameChunk(
                frames=frames[split][start:stop],
                song_id=song_ids[split][start:stop],
                frame_index=index[start:stop],
                labels=labels[split][start:stop],
            )

    dataset = ModelInputDataset(path=str(path), shard_frames=shard_frames)
    dataset.save({split: chunks(split) for split in SPLITS})
    return Corpus(dataset.load(), frames, labels, song_ids)


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    return write_model_inputs(tmp_path / "mfcc_15s")


@pytest.fixture(scope="session")
def modelling_parameters() -> dict:
    """The project's ``modelling`` parameters as shipped in conf/base."""
    text = (PROJECT_ROOT / "conf/base/parameters_modelling.yml").read_text()
    return yaml.safe_load(text)["modelling"]


@pytest.fixture
def tiny_networks(modelling_parameters: dict) -> dict:
    """Every network's section with tiny sizes and a short training, for fast tests."""
    networks = copy.deepcopy(modelling_parameters["networks"])
    tiny = {
        "cnn": {"conv_filters": [4, 8], "kernel_size": 3, "pool_size": 2},
        "lstm": {"units": 8},
        "bilstm": {"units": 4},
        "transformer": {
            "model_dim": 8,
            "num_heads": 2,
            "feedforward_dim": 16,
            "num_layers": 1,
            "dropout": 0.1,
            "positional_kernel": 3,
        },
        "mlp": {"hidden_units": 8, "dropout": 0.1, "weight_decay": 0.0001,
                "pooling": "statistics"},
        "conv1d": {"conv_filters": [4], "kernel_size": 3, "dropout": 0.1},
    }  # fmt: skip
    for name, sizes in tiny.items():
        networks[name]["architecture"] = {
            **sizes,
            "dense_units": [] if name in ("mlp", "conv1d") else [16, 8],
        }
        networks[name]["training"].update(batch_size=8, epochs=3, patience=2)
    return networks


def corpus_table(n: int = 6, *, seed: int = 0) -> pd.DataFrame:
    """A tiny ``soundtracks`` table (id, VAD labels, split): the corpus provenance hashes."""

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": [f"t{seed}-{i}" for i in range(n)],
            "valence": rng.uniform(size=n),
            "arousal": rng.uniform(size=n),
            "dominance": rng.uniform(size=n),
            "split": (["train", "validation", "test"] * n)[:n],
        }
    )


def feature_parameters() -> dict:
    """conf/base's feature_extraction parameters."""
    text = (PROJECT_ROOT / "conf/base/parameters_feature_extraction.yml").read_text()
    return yaml.safe_load(text)["feature_extraction"]


def with_provenance(report: dict, soundtracks=None, *, is_demo: bool = True) -> dict:
    """``report`` stamped as trained on ``soundtracks`` (default :func:`corpus_table`) with
    conf/base's features."""
    from soundtrack_emotion.pipelines.modelling.nodes import ModelSpec, record_provenance

    spec = ModelSpec(report["feature"], report["network"], report["target"])
    table = corpus_table() if soundtracks is None else soundtracks
    return {**report, "provenance": record_provenance(table, feature_parameters(), is_demo,
                                                      "0" * 64, spec=spec)}  # fmt: skip


def collect_current(metric_files, *reports):
    """``collect_model_metrics`` on the :func:`corpus_table` corpus, reports stamped as
    trained on it; the model_metrics table only."""
    from soundtrack_emotion.pipelines.modelling.nodes import collect_model_metrics

    stamped = [with_provenance(dict(r)) for r in reports]
    files = {k: (lambda load=load: with_provenance(dict(load()))) for k, load in
             metric_files.items()}  # fmt: skip
    return collect_model_metrics(files, corpus_table(), feature_parameters(), *stamped)[0]
