"""Benchmark: the whole offline chain on real, labelled music (``../shared/real_music_dev``).

Runs ``kedro run --pipelines=offline_labelled`` (bring your own labels: the dev set's
``labels.csv`` as the ``labelled_tracks`` table) in a scratch copy of the project's
configuration, so the demo's data is untouched, then prints every variant's song-level test
R² per label with its 95 % bootstrap interval next to the predict-the-mean baseline, and the
song-level MSE on the training and validation splits (the generalisation gap).

Nothing is fitted to the test split: the splits are the dataset_creation defaults (seeded,
grouped by artist), hyper-parameters are the shipped ones, chosen on validation.

    nice python benchmarks/real_music.py                  # ../shared/real_music_dev
    nice python benchmarks/real_music.py --dev /data/emotify --params "modelling.seed=7"

It exits 0 with a note when the dev set is absent (a fresh clone has no ``../shared``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_DEV = PROJECT.parent / "shared" / "real_music_dev"
DEFAULT_WORKDIR = PROJECT / "data" / "09_benchmarks" / "real_music_dev"


def scratch_project(workdir: Path, labels: Path) -> None:
    """A Kedro project folder sharing the project's ``conf/base`` and package, with its own
    ``data/`` and a local catalog pointing ``labelled_tracks`` at ``labels``."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "pyproject.toml", workdir / "pyproject.toml")
    conf = workdir / "conf"
    shutil.rmtree(conf, ignore_errors=True)
    (conf / "local").mkdir(parents=True)
    shutil.copytree(PROJECT / "conf" / "base", conf / "base")
    shutil.copy(PROJECT / "conf" / "logging.yml", conf / "logging.yml")
    (conf / "local" / "catalog.yml").write_text(
        "labelled_tracks:\n"
        "  type: soundtrack_emotion.datasets.LabelledTableDataset\n"
        f"  filepath: {labels.resolve()}\n"
    )
    (workdir / "src").mkdir(exist_ok=True)  # Kedro's source_dir; the package is installed


def run_chain(workdir: Path, params: str | None) -> float:
    command = [sys.executable, "-m", "kedro", "run", "--pipelines=offline_labelled"]
    if params:
        command.append(f"--params={params}")
    tic = time.perf_counter()
    subprocess.run(command, cwd=workdir, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return time.perf_counter() - tic


def song_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, label): song-level test R² [95 % CI], the baseline's R², and the
    song-level MSE on train and validation."""
    song = metrics[metrics["level"] == "song"].copy()
    song["variant"] = song["feature"] + "_" + song["network"] + "." + song["target"]
    song["r2 [95% CI]"] = [
        f"{r:+.3f} [{lo:+.3f}, {hi:+.3f}]"
        for r, lo, hi in zip(song["r2"], song["r2_ci_low"], song["r2_ci_high"], strict=True)
    ]
    song["gap"] = song["val_song_loss"] - song["train_song_loss"]
    columns = {
        "label": "label",
        "rank": "rank",
        "variant": "variant",
        "n": "test songs",
        "r2 [95% CI]": "R² [95% CI]",
        "baseline_r2": "baseline R²",
        "pearson_r": "r",
        "ccc": "CCC",
        "train_song_loss": "train MSE",
        "val_song_loss": "val MSE",
        "gap": "val - train",
    }
    return song[list(columns)].rename(columns=columns).round(4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="folder with labels.csv")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--params", default=None, help="extra `kedro run --params`")
    parser.add_argument(
        "--report-only", action="store_true", help="print the last run's table, run nothing"
    )
    args = parser.parse_args()
    labels = args.dev / "labels.csv"
    if not labels.is_file():
        print(f"real-music benchmark skipped: no dev set at {args.dev} (labels.csv)")
        return 0
    seconds = None
    if not args.report_only:
        scratch_project(args.workdir, labels)
        seconds = run_chain(args.workdir, args.params)
    metrics = pd.read_parquet(args.workdir / "data" / "08_reporting" / "model_metrics.parquet")
    table = song_table(metrics)
    print(f"\nreal_music_dev ({args.dev}), {dt.date.today()}, song level, test split")
    if seconds is not None:
        print(f"whole offline chain: {seconds / 60:.1f} min")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        for label, rows in table.groupby("label", sort=False):
            print(f"\n{label}")
            print(rows.drop(columns="label").to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
