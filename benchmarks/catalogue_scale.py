"""The inference pipeline over a synthetic catalogue of many movies, end to end: wall time per
stage, peak memory as the catalogue grows, throughput.

    PYTHONPATH=src python benchmarks/catalogue_scale.py [--scale 0.05] [--dask] [--plots profile]

The catalogue at ``--scale 1``: 2,000 movies of 10 tracks and one movie of 1,000 tracks
(21,000 tracks of 2.5 s); ``--scale`` shrinks both counts. Its audio is written once to
``data/09_benchmarks/catalogue_scale/audio``: a pool of distinct tones (22.05 kHz mono WAV),
and each catalogue track a symbolic link to one of them, so every track is a file of its own
(its own track cache record, scored) while the disk holds only the pool. The models are tiny
Keras models on MFCC frames (constant output, as the inference tests build them): the figures
are the pipeline's own costs (decode, MFCC, model calls, tables, aggregation, plots), not a
real network's.

Each of the catalogue's subsets (10 %, 50 % and 100 %: that share of the short movies, and of
the long movie's tracks) runs in a fresh process and a fresh project folder (nothing cached),
through Kedro's ``SequentialRunner`` on the project's catalog, with the process pool
(``compute.backend: processes``) and, with ``--dask``, again on a Dask LocalCluster, once per
worker count of ``--dask-workers`` (``2,1``: 2 workers, then 1; the machine is shared, so
compare runs of one invocation). Printed per run: wall time per stage, each node timed from its
start to the next node's start (its outputs saved, generator nodes' chunks included):

* scoring: listing, model choice, ``predict_vad_timelines``;
* tables: ``collect_vad_timelines`` (the catalogue-wide tables, streamed to their files);
* aggregation: ``aggregate_movies`` less the time spent saving ``movie_profile_plots`` and
  ``movie_plots`` (the plots are made when saved), ``build_catalogue_table``,
  ``build_catalogue_page``;
* plots: saving ``movie_profile_plots`` (one SVG per movie) and ``movie_plots`` (with
  ``--plots tracks``, a PNG per track), ``plot_catalogue`` (one PNG);

then the peak resident memory of the whole process tree (sampled every 0.1 s: the Kedro
process and, with Dask, its workers), audio seconds per wall second (scored audio over the
whole run's wall time) and the ratio (tables + aggregation + plots) / scoring.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = PROJECT / "data" / "09_benchmarks" / "catalogue_scale"
SAMPLE_RATE = 22050
POOL_FILES = 50
FRACTIONS = (0.1, 0.5, 1.0)
LABELS = ("valence", "arousal", "dominance")
# The models' MFCC frame ([time steps, coefficients]) as the inference tests build it.
FRAME = (43, 13)
RSS_SAMPLE_S = 0.1
STAGES = ("scoring", "tables", "aggregation", "plots")
NODE_STAGES = {
    "list_inference_tracks": "scoring",
    "select_inference_models": "scoring",
    "predict_vad_timelines": "scoring",
    "collect_vad_timelines": "tables",
    "aggregate_movies": "aggregation",
    "build_catalogue_table": "aggregation",
    "build_catalogue_page": "aggregation",
    "plot_catalogue": "plots",
}
PLOT_DATASETS = ("movie_profile_plots", "movie_plots", "catalogue_plot")


# ------------------------------------------------------------------------------ the catalogue


def write_audio(workdir: Path, *, movies: int, tracks: int, long_tracks: int, seconds: float):
    """The pool of tones and one link per catalogue track (kept between runs: only what is
    missing is written). Returns the catalogue rows ``(movie_id, title, position, path)``."""
    import soundfile as sf

    pool = workdir / "audio" / f"pool_{seconds:g}s"
    pool.mkdir(parents=True, exist_ok=True)
    sources = []
    for i in range(POOL_FILES):
        path = pool / f"tone_{i:03d}.wav"
        if not path.exists():
            t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
            freq = 110.0 * 2 ** (i / 12)
            y = 0.4 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t))
            sf.write(path, y.astype(np.float32), SAMPLE_RATE)
        sources.append(path)
    movie_sizes = [(f"m{m:05d}", tracks) for m in range(movies)] + [("long", long_tracks)]
    rows: list[tuple] = []
    for movie_id, n in movie_sizes:
        folder = workdir / "audio" / f"movies_{seconds:g}s" / movie_id
        folder.mkdir(parents=True, exist_ok=True)
        for position in range(1, n + 1):
            link = folder / f"{position:04d}.wav"
            if not link.exists():
                link.symlink_to(sources[(len(rows) * 7) % POOL_FILES])
            rows.append((movie_id, f"Movie {movie_id}", position, str(link)))
    return rows


def subset(rows: list[tuple], fraction: float) -> list[tuple]:
    """``fraction`` of the short movies (the first ones) and of the long movie's tracks."""
    short = sorted({r[0] for r in rows if r[0] != "long"})
    keep = set(short[: max(1, round(fraction * len(short)))])
    long_rows = [r for r in rows if r[0] == "long"]
    n_long = max(1, round(fraction * len(long_rows))) if long_rows else 0
    return [r for r in rows if r[0] in keep] + long_rows[:n_long]


def write_models(workdir: Path) -> Path:
    """Tiny Keras models ``[b, 43, 13] -> [b, 1]`` per label (kept between runs)."""
    folder = workdir / "models" / "mfcc_cnn"
    if all((folder / f"{label}.keras").exists() for label in LABELS):
        return folder
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    for index, label in enumerate(LABELS):
        inputs = keras.Input(shape=FRAME, name="frames")
        pooled = keras.layers.GlobalAveragePooling1D()(inputs)
        out = keras.layers.Dense(
            1,
            kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(0.3 + 0.2 * index),
        )(pooled)
        keras.Model(inputs, out).save(folder / f"{label}.keras")
    return folder


# ------------------------------------------------------------------------------ one run (child)


class StageClock:
    """Kedro hooks: each node's wall time (its start to the next node's start) and the time
    spent saving the plot datasets."""

    def __init__(self) -> None:
        self.current: tuple[str, float] | None = None
        self.nodes: dict[str, float] = {}
        self.plot_saves = 0.0
        self._save_started = 0.0

    def _close(self) -> None:
        if self.current is not None:
            name, started = self.current
            self.nodes[name] = self.nodes.get(name, 0.0) + time.perf_counter() - started
            self.current = None

    def hooks(self):
        from kedro.framework.hooks import hook_impl

        clock = self

        class Hooks:
            @hook_impl
            def before_node_run(self, node) -> None:
                clock._close()
                clock.current = (node.name, time.perf_counter())

            @hook_impl
            def before_dataset_saved(self, dataset_name: str) -> None:
                if dataset_name in PLOT_DATASETS:
                    clock._save_started = time.perf_counter()

            @hook_impl
            def after_dataset_saved(self, dataset_name: str) -> None:
                if dataset_name in PLOT_DATASETS:
                    clock.plot_saves += time.perf_counter() - clock._save_started

        return Hooks()

    def stages(self) -> dict[str, float]:
        self._close()
        totals = dict.fromkeys(STAGES, 0.0)
        for name, seconds in self.nodes.items():
            totals[NODE_STAGES.get(name, "aggregation")] += seconds
        # the movie plots are saved inside aggregate_movies (made as they are saved)
        totals["aggregation"] -= self.plot_saves
        totals["plots"] += self.plot_saves
        return totals


def run_one(args: argparse.Namespace) -> None:
    """One subset through the pipeline in a fresh project folder; prints one JSON line."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    import yaml
    from kedro.config import OmegaConfigLoader
    from kedro.framework.hooks.manager import _create_hook_manager
    from kedro.io import DataCatalog
    from kedro.runner import SequentialRunner

    from soundtrack_emotion.core.model_files import sha256_hex
    from soundtrack_emotion.pipelines.inference import create_pipeline
    from soundtrack_emotion.runtime.feature_settings import ExtractionParams
    from soundtrack_emotion.runtime.provenance import corpus_fingerprint

    workdir = Path(args.workdir)
    rows = json.loads(Path(args.rows).read_text())
    run_dir = workdir / "runs" / f"{args.backend}_{args.fraction:g}"
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(workdir / "models", run_dir / "data" / "06_models")
    catalogue = run_dir / "catalogue.csv"
    pd.DataFrame(rows, columns=["movie_id", "title", "position", "path"]).to_csv(
        catalogue, index=False
    )
    os.chdir(run_dir)

    config = OmegaConfigLoader(
        conf_source=str(PROJECT / "conf"), base_env="base", default_run_env="base"
    )
    catalog = DataCatalog.from_config(config["catalog"], config["credentials"])
    extraction = yaml.safe_load((PROJECT / "conf/base/parameters_feature_extraction.yml")
                                .read_text())["feature_extraction"]  # fmt: skip
    extraction["precision"] = "float32"
    extraction["framing"]["short_track"] = {"policy": "pad", "min_seconds": 1.0}
    corpus = pd.DataFrame({"id": ["a"], "audio_path": [""], "valence": [0.5], "arousal": [0.5],
                           "dominance": [0.5], "split": ["train"]})  # fmt: skip
    # inference loads a model file only when its hash is the one its metrics recorded
    metrics = pd.DataFrame(
        [("mfcc", "cnn", label, label, 0.01,
          sha256_hex((workdir / "models" / "mfcc_cnn" / f"{label}.keras").read_bytes()))
         for label in LABELS],
        columns=["feature", "network", "target", "label", "best_val_loss", "model_sha256"],
    ).assign(
        corpus_kind="real",
        corpus_fingerprint=corpus_fingerprint(corpus),
        features_fingerprint=ExtractionParams.from_dict(extraction).fingerprint("mfcc"),
    )
    compute = dict(config["parameters"]["compute"])
    compute["backend"] = args.backend
    compute["dask"] = {**compute["dask"], "n_workers": int(args.dask_workers)}
    inference = {**config["parameters"]["inference"], "catalogue": str(catalogue),
                 "plots": args.plots}  # fmt: skip
    pipeline = create_pipeline(features=("mfcc",))
    for name in pipeline.inputs():
        if name == "params:feature_extraction":
            catalog[name] = extraction
        elif name.startswith("params:inference."):
            catalog[name] = inference[name.removeprefix("params:inference.")]
        elif name == "params:compute":
            catalog[name] = compute
        elif name == "model_metrics":
            catalog[name] = metrics
        elif name == "soundtracks":
            catalog[name] = corpus
    clock = StageClock()
    hooks = _create_hook_manager()
    hooks.register(clock.hooks())
    started = time.perf_counter()
    SequentialRunner().run(pipeline, catalog, hook_manager=hooks)
    wall = time.perf_counter() - started
    track_vad = pd.read_parquet(run_dir / "data/07_model_output/inference/track_vad.parquet")
    scored = track_vad[track_vad["status"] != "error"]
    movies = run_dir / "data/08_reporting/inference/movies"
    plots = sum(1 for p in movies.rglob("*") if p.suffix in (".png", ".svg"))
    result = {
        "tracks": len(track_vad),
        "failed": int((track_vad["status"] == "error").sum()),
        "movies": int(track_vad["movie_id"].nunique()),
        "audio_s": float(scored["duration_s"].sum()),
        "wall_s": wall,
        "stages": clock.stages(),
        "plots": plots,
    }
    print(json.dumps(result))


# ------------------------------------------------------------------------------ the driver


def tree_rss(process) -> int:
    """Resident bytes of ``process`` and all its descendants."""
    import psutil

    total = 0
    for p in [process, *process.children(recursive=True)]:
        with suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def measured(command: list[str], env: dict[str, str]) -> tuple[dict, float]:
    """Run ``command``; its JSON line and the peak RSS (MiB) of its process tree."""
    import psutil

    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    handle = psutil.Process(child.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            with suppress(psutil.Error):
                peak = max(peak, tree_rss(handle))
            done.wait(RSS_SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = child.communicate()
    done.set()
    sampler.join()
    if child.returncode:
        sys.exit(f"run failed (exit {child.returncode}): {' '.join(command)}")
    return json.loads(out.strip().splitlines()[-1]), peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of the full catalogue")
    parser.add_argument("--movies", type=int, default=2000, help="short movies at scale 1")
    parser.add_argument("--tracks", type=int, default=10, help="tracks per short movie")
    parser.add_argument("--long-tracks", type=int, default=1000, help="the long movie's, scale 1")
    parser.add_argument("--seconds", type=float, default=2.5, help="seconds per track")
    parser.add_argument("--plots", default="profile", help="inference.plots")
    parser.add_argument("--dask", action="store_true", help="also run on a Dask LocalCluster")
    parser.add_argument("--dask-workers", default="2",
                        help="Dask worker counts, one run each, e.g. 2,1")  # fmt: skip
    parser.add_argument("--fractions", default=",".join(f"{f:g}" for f in FRACTIONS))
    parser.add_argument("--workdir", default=str(DEFAULT_WORKDIR))
    # one run, in a child process
    parser.add_argument("--run-one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fraction", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="processes", help=argparse.SUPPRESS)
    parser.add_argument("--rows", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        run_one(args)
        return

    workdir = Path(args.workdir)
    movies = max(1, round(args.movies * args.scale))
    long_tracks = max(1, round(args.long_tracks * args.scale))
    rows = write_audio(workdir, movies=movies, tracks=args.tracks, long_tracks=long_tracks,
                       seconds=args.seconds)  # fmt: skip
    write_models(workdir)
    print(f"catalogue at scale {args.scale:g}: {movies} movies x {args.tracks} tracks + one "
          f"movie of {long_tracks} tracks = {len(rows)} tracks of {args.seconds:g} s; "
          f"inference.plots={args.plots}")  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT / "src"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TQDM_DISABLE": "1",
    }
    dask_workers = [int(n) for n in str(args.dask_workers).split(",")]
    backends = [("processes", dask_workers[0]),
                *((("dask", n) for n in dask_workers) if args.dask else ())]  # fmt: skip
    header = (f"{'backend':<10}{'share':>6}{'tracks':>8}{'scoring s':>11}{'tables s':>10}"
              f"{'aggr. s':>9}{'plots s':>9}{'wall s':>9}{'audio s/s':>11}{'other/scoring':>15}"
              f"{'peak RSS MiB':>14}{'plots':>7}")  # fmt: skip
    print(header)
    for backend, n_workers in backends:
        for fraction in (float(f) for f in args.fractions.split(",")):
            part = workdir / "runs" / f"rows_{fraction:g}.json"
            part.parent.mkdir(parents=True, exist_ok=True)
            part.write_text(json.dumps(subset(rows, fraction)))
            command = [sys.executable, __file__, "--run-one", "--fraction", f"{fraction:g}",
                       "--backend", backend, "--rows", str(part), "--workdir", str(workdir),
                       "--plots", args.plots, "--dask-workers", str(n_workers)]  # fmt: skip
            result, peak = measured(command, env)
            s = result["stages"]
            other = s["tables"] + s["aggregation"] + s["plots"]
            name = f"dask x{n_workers}" if backend == "dask" else backend
            print(f"{name:<10}{fraction:>6.0%}{result['tracks']:>8}{s['scoring']:>11.1f}"
                  f"{s['tables']:>10.1f}{s['aggregation']:>9.1f}{s['plots']:>9.1f}"
                  f"{result['wall_s']:>9.1f}{result['audio_s'] / result['wall_s']:>11.1f}"
                  f"{other / s['scoring']:>15.3f}{peak:>14.0f}{result['plots']:>7}",
                  flush=True)  # fmt: skip
            if result["failed"]:
                print(f"  ({result['failed']} tracks unreadable)")


if __name__ == "__main__":
    main()
