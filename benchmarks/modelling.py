"""Benchmark: training and predicting streamed from the model inputs (this project) against the
thesis-style recipe that loads every frame into one array first, on the same synthetic frames.

* Project: ``fit_feature_normaliser``, ``train_model`` (batches streamed shard by shard with
  ``FrameSplit.to_tf_dataset``) and ``predict_test_split`` (shard by shard).
* Baseline: ``np.concatenate`` of every training and test frame, the same model, then
  ``model.fit(x, y)`` and ``model.predict(x_test)`` on the arrays.

Each run is a fresh process, at two corpus sizes (``--frames`` and four times as many training
frames, MFCC 15 s frames of shape (323, 13)), one epoch each. Printed: seconds, training frames
per second and peak RSS; then the ratios project / baseline, and how much each recipe's peak RSS
grows with the corpus (it should stay flat for the project).

    nice python benchmarks/modelling.py                 # 1,500 and 6,000 training frames
    nice python benchmarks/modelling.py --frames 4000 --network lstm
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FRAME_SHAPE = (323, 13)
SHARD_FRAMES = 1024
EVAL_FRAMES = 256  # validation and test frames of every corpus
ARCHITECTURE = {
    "cnn": {"conv_filters": [32, 64], "kernel_size": 3, "pool_size": 2},
    "lstm": {"units": 512},
}


def write_corpus(path: Path, n_train: int, seed: int = 0) -> None:
    """Synthetic MFCC-scale frames with learnable labels, written one chunk at a time."""
    from soundtrack_emotion.datasets import FrameChunk, ModelInputDataset

    rng = np.random.default_rng(seed)

    def chunks(n: int, split: str):
        for start in range(0, n, 256):
            m = min(256, n - start)
            labels = rng.uniform(0.1, 0.9, size=(m, 3)).astype(np.float32)
            frames = rng.normal(size=(m, *FRAME_SHAPE)).astype(np.float32) * 30.0
            frames[:, :, :3] += 100.0 * labels[:, None, :]
            yield FrameChunk(
                frames=frames,
                song_id=np.array([f"{split}-{start + i}" for i in range(m)]),
                frame_index=np.zeros(m, np.int32),
                labels=labels,
            )

    dataset = ModelInputDataset(path=str(path), shard_frames=SHARD_FRAMES)
    dataset.save(
        {
            "train": chunks(n_train, "train"),
            "validation": chunks(EVAL_FRAMES, "validation"),
            "test": chunks(EVAL_FRAMES, "test"),
        }
    )


def _network(name: str) -> dict:
    return {
        "architecture": {**ARCHITECTURE[name], "dense_units": [128, 128, 64]},
        "training": {"learning_rate": 0.001, "batch_size": 32, "epochs": 1, "patience": 1},
    }


def run_project(path: Path, network: str, tensorboard_dir: str) -> None:
    from soundtrack_emotion.datasets import ModelInputDataset
    from soundtrack_emotion.pipelines.modelling.nodes import (
        ModelSpec,
        fit_feature_normaliser,
        predict_test_split,
        train_model,
    )

    inputs = ModelInputDataset(path=str(path)).load()
    spec = ModelSpec("mfcc", network, "valence")
    normaliser = fit_feature_normaliser(inputs)
    model, _ = train_model(inputs, normaliser, _network(network), 0, tensorboard_dir, spec=spec)
    predict_test_split(model, inputs, 256, spec=spec)


def run_baseline(path: Path, network: str) -> None:
    import keras

    from soundtrack_emotion.core.architectures import build_model
    from soundtrack_emotion.datasets import ModelInputDataset

    inputs = ModelInputDataset(path=str(path)).load()
    arrays = {}
    for split in ("train", "validation", "test"):
        chunks = list(inputs[split].iter_chunks())
        arrays[split] = (
            np.concatenate([c.frames for c in chunks]),
            np.concatenate([c.labels[:, :1] for c in chunks]),
        )
    x, y = arrays["train"]
    flat = x.reshape(-1, x.shape[-1])
    keras.utils.set_random_seed(0)
    model = build_model(
        network,
        frame_shape=FRAME_SHAPE,
        n_outputs=1,
        feature_mean=flat.mean(axis=0),
        feature_variance=flat.var(axis=0),
        architecture=_network(network)["architecture"],
    )
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="mse", metrics=["mae"])
    model.fit(x, y, batch_size=32, epochs=1, validation_data=arrays["validation"], verbose=0)
    model.predict(arrays["test"][0], batch_size=256, verbose=0)


def child(recipe: str, path: Path, network: str) -> None:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as logs:
        if recipe == "project":
            run_project(path, network, logs)
        else:
            run_baseline(path, network)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb}))


def measure(recipe: str, path: Path, network: str) -> dict:
    command = [sys.executable, __file__, "--child", recipe, "--path", str(path)]
    done = subprocess.run(
        [*command, "--network", network], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=1500, help="training frames, small corpus")
    parser.add_argument("--network", choices=sorted(ARCHITECTURE), default="cnn")
    parser.add_argument("--child", choices=("project", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.network)
        return

    sizes = (args.frames, 4 * args.frames)
    results: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"mfcc_15s_{n}"
            write_corpus(path, n)
            for recipe in ("baseline", "project"):
                results[recipe, n] = measure(recipe, path, args.network)
                r = results[recipe, n]
                print(
                    f"{recipe:8s} {n:6d} training frames: {r['seconds']:6.1f} s, "
                    f"{n / r['seconds']:6.0f} frames/s, peak RSS {r['peak_rss_mb']:6.0f} MB",
                    flush=True,
                )
    for n in sizes:
        p, b = results["project", n], results["baseline", n]
        print(
            f"{n:6d} frames, project / baseline: time x{p['seconds'] / b['seconds']:.2f}, "
            f"peak RSS x{p['peak_rss_mb'] / b['peak_rss_mb']:.2f}"
        )
    for recipe in ("baseline", "project"):
        small, large = (results[recipe, n]["peak_rss_mb"] for n in sizes)
        print(f"{recipe}: peak RSS grows {large - small:+.0f} MB for {sizes[1] - sizes[0]} frames")


if __name__ == "__main__":
    main()
