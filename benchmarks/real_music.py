"""Benchmark: the whole offline chain on real, labelled music (``../shared/real_music_dev``).

Runs ``kedro run --pipelines=offline_labelled`` (bring your own labels: the dev set's
``labels.csv`` as the ``labelled_tracks`` table) in a scratch copy of the project's
configuration, so the demo's data is untouched, then prints every variant's song-level test
R² per label with its 95 % bootstrap interval next to the predict-the-mean baseline, and the
song-level MSE on the training and validation splits (the generalisation gap).

Nothing is fitted to the test split: the splits are the dataset_creation defaults (seeded,
grouped by artist), hyper-parameters are the shipped ones, chosen on validation; the model
per label by ``metrics.SELECTION_RULE`` (grouped-CV R² where there is one).

    nice python benchmarks/real_music.py                  # ../shared/real_music_dev
    nice python benchmarks/real_music.py --dev /data/emotify --params "modelling.seed=7"

``--networks ridge,mlp`` trains only those networks (``modelling_all --namespaces``, on the
features and model inputs of an earlier full run in the same ``--workdir``): a quick loop
for the light heads. Both print ``cv_metrics`` too: the grouped cross-validation over the
training and validation songs (``modelling.evaluation``).

Several dev corpora train together (``--dev`` again for each; a corpus is named by its
folder): a table of VAD values and one of Russell quadrants, e.g. ``../shared/real_music_dev``
and ``../shared/real_music_dev_4q``. It then also prints ``corpus_metrics``, each corpus's
test figures: R² and r where it gives values, ROC AUC where it gives quadrants.
``--score-only NAME`` puts every song of that corpus in the test split: trained on the
others, scored on it (cross-corpus).

    nice python benchmarks/real_music.py --dev ../shared/real_music_dev \
        --dev ../shared/real_music_dev_4q
    nice python benchmarks/real_music.py --dev ../shared/real_music_dev \
        --dev ../shared/real_music_dev_4q --score-only real_music_dev_4q

It also prints the prediction intervals of the chosen model per label (``--coverage``: of
every model): nominal 80 % and 90 % (``modelling.intervals.levels``) -> the measured coverage
of the test songs, and the interval's width.

    nice python benchmarks/real_music.py --report-only --coverage   # the last run's figures

It exits 0 with a note when a dev set is absent (a fresh clone has no ``../shared``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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


def scratch_project(
    workdir: Path, tables: dict[str, Path], *, networks: list[str] | None = None
) -> None:
    """A Kedro project folder sharing the project's ``conf/base`` and package, with its own
    ``data/`` and a local catalog pointing ``labelled_tracks`` at ``tables`` (corpus name ->
    labels table; one table is read as before corpora existed). ``networks``: every family
    is modelled with only these (``modelling.variants`` in the scratch ``conf/local``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "pyproject.toml", workdir / "pyproject.toml")
    conf = workdir / "conf"
    shutil.rmtree(conf, ignore_errors=True)
    (conf / "local").mkdir(parents=True)
    shutil.copytree(PROJECT / "conf" / "base", conf / "base")
    shutil.copy(PROJECT / "conf" / "logging.yml", conf / "logging.yml")
    if len(tables) == 1:
        where = f"  filepath: {next(iter(tables.values())).resolve()}\n"
    else:
        where = "  corpora:\n" + "".join(
            f"    {json.dumps(name)}: {path.resolve()}\n" for name, path in tables.items()
        )
    (conf / "local" / "catalog.yml").write_text(
        "labelled_tracks:\n  type: soundtrack_emotion.datasets.LabelledTableDataset\n" + where
    )
    if networks:
        listed = ", ".join(networks)
        (conf / "local" / "parameters_variants.yml").write_text(
            "modelling:\n  variants:\n"
            f"    networks: [{listed}]\n    light_families: []\n    light_networks: [{listed}]\n"
        )
    (workdir / "src").mkdir(exist_ok=True)  # Kedro's source_dir; the package is installed


def share_features(workdir: Path, source: Path) -> None:
    """``workdir``'s feature store is ``source``'s (same tracks, same settings: the stored
    features are reused by their fingerprints, not extracted again)."""
    target = workdir / "data" / "04_feature"
    stored = source / "data" / "04_feature"
    if target.exists() or not stored.is_dir():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(stored.resolve(), target_is_directory=True)


def test_only_table(labels: Path, target: Path) -> Path:
    """A copy of the ``labels`` table at ``target`` (under the benchmark's data folder) with
    every row in the test split and absolute audio paths."""
    from soundtrack_emotion.datasets import LabelledTableDataset

    table = LabelledTableDataset(filepath=str(labels)).load().assign(split="test")
    target.parent.mkdir(parents=True, exist_ok=True)
    table.drop(columns="corpus").to_csv(target, index=False)
    return target


def run_chain(workdir: Path, params: str | None) -> float:
    command = [sys.executable, "-m", "kedro", "run", "--pipelines=offline_labelled"]
    if params:
        command.append(f"--params={params}")
    tic = time.perf_counter()
    subprocess.run(command, cwd=workdir, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return time.perf_counter() - tic


def run_networks(workdir: Path, networks: list[str], params: str | None) -> float:
    """Train only ``networks`` (every offline feature family and label) in ``workdir``."""
    from soundtrack_emotion.core.families import OFFLINE_FEATURES
    from soundtrack_emotion.core.vocabulary import VAD_LABELS

    namespaces = ",".join(
        f"{f}_{n}.{label}" for f in OFFLINE_FEATURES for n in networks for label in VAD_LABELS
    )
    command = [sys.executable, "-m", "kedro", "run", "--pipelines=modelling_all",
               f"--namespaces={namespaces}"]  # fmt: skip
    if params:
        command.append(f"--params={params}")
    tic = time.perf_counter()
    subprocess.run(command, cwd=workdir, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return time.perf_counter() - tic


def collected_metrics(workdir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``model_metrics``, ``cv_metrics`` and ``corpus_metrics`` of every current report in
    ``workdir``'s metrics folder (what the modelling pipeline's collection nodes make)."""
    import yaml

    from soundtrack_emotion.pipelines.modelling.nodes import (
        collect_corpus_metrics,
        collect_cv_metrics,
        collect_model_metrics,
    )

    folder = workdir / "data" / "08_reporting" / "metrics"
    files = {str(p.relative_to(folder).with_suffix("")): (lambda p=p: json.loads(p.read_text()))
             for p in sorted(folder.rglob("*.json"))}  # fmt: skip
    soundtracks = pd.read_parquet(workdir / "data" / "03_primary" / "soundtracks.parquet")
    conf = workdir / "conf" / "base" / "parameters_feature_extraction.yml"
    extraction = yaml.safe_load(conf.read_text())["feature_extraction"]
    model_metrics, _ = collect_model_metrics(files, soundtracks, extraction)
    return (model_metrics, collect_cv_metrics(model_metrics, files),
            collect_corpus_metrics(model_metrics, files))  # fmt: skip


def corpus_figures(corpus_metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (label, variant, corpus): test songs, R² and r [95 % CI] on values, ROC AUC
    [95 % CI] on quadrant signs."""
    table = corpus_metrics.copy()
    table["variant"] = table["feature"] + "_" + table["network"] + "." + table["target"]
    for name in ("r2", "pearson_r", "auc"):
        table[name] = [
            "" if pd.isna(v) else f"{v:+.3f} [{lo:+.3f}, {hi:+.3f}]"
            for v, lo, hi in zip(table[name], table[f"{name}_ci_low"], table[f"{name}_ci_high"],
                                 strict=True)
        ]  # fmt: skip
    columns = {"label": "label", "variant": "variant", "corpus": "corpus",
               "n_songs": "test songs", "r2": "R² [95% CI]", "pearson_r": "r [95% CI]",
               "auc": "ROC AUC [95% CI]"}  # fmt: skip
    return table[list(columns)].rename(columns=columns)


def cv_table(cv_metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, label): pooled out-of-fold R² [group CI], mean ± sd over
    repeats, r and CCC."""
    cv = cv_metrics[cv_metrics["note"] == ""].copy()
    cv["variant"] = cv["feature"] + "_" + cv["network"] + "." + cv["target"]
    cv["R² pooled [95% CI]"] = [
        f"{r:+.3f} [{lo:+.3f}, {hi:+.3f}]"
        for r, lo, hi in zip(cv["r2"], cv["r2_ci_low"], cv["r2_ci_high"], strict=True)
    ]
    cv["R² mean ± sd"] = [f"{m:+.3f} ± {s:.3f}" for m, s in zip(cv["r2_mean"], cv["r2_sd"],
                                                                 strict=True)]  # fmt: skip
    columns = {"label": "label", "variant": "variant", "R² pooled [95% CI]": "R² pooled [95% CI]",
               "R² mean ± sd": "R² mean ± sd", "pearson_r_mean": "r", "ccc_mean": "CCC",
               "baseline_r2": "baseline R²"}  # fmt: skip
    return cv[list(columns)].rename(columns=columns).round(4)


def song_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, label): song-level test R² [95 % CI], the baseline's R², what
    chose the model (``metrics.SELECTION_RULE``: its grouped-CV R², ``cv_r2_mean``, where
    it has one, else the validation MSE, ``best_val_loss``, of the fit that did not see the
    validation songs), and the saved model's song-level MSE on train and validation (for a
    closed-form head, refitted on both, these two are in-sample)."""
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
        "cv_r2_mean": "selection CV R²",
        "best_val_loss": "selection MSE",
        "train_song_loss": "train MSE",
        "val_song_loss": "val MSE",
        "gap": "val - train",
    }
    columns = {k: v for k, v in columns.items() if k in song}  # tables before cv_r2_mean
    return song[list(columns)].rename(columns=columns).round(4)


def coverage_table(metrics: pd.DataFrame, *, chosen_only: bool = True) -> pd.DataFrame:
    """One row per (label, variant), the chosen model only (rank 1) by default: the
    conformal prediction intervals at song level, calibrated on ``calibration songs`` (the
    grouped CV's out-of-fold songs for the ridge, the validation songs otherwise), and per
    nominal level the measured coverage on the test songs (the share
    whose value lies in the interval) and the interval's width (2 x the half-width, before the
    cut to [0, 1]; inf: too few calibration songs for the level). Empty without intervals."""
    from soundtrack_emotion.pipelines.modelling.nodes import interval_columns

    levels = [c.removeprefix("halfwidth_") for c in interval_columns(metrics.columns)
              if c.startswith("halfwidth_")]  # fmt: skip
    song = metrics[(metrics["level"] == "song") & ((metrics["rank"] == 1) | (not chosen_only))]
    if not levels or song.empty:
        return pd.DataFrame()
    table = pd.DataFrame({
        "label": song["label"],
        "variant": song["feature"] + "_" + song["network"] + "." + song["target"],
        "calibration songs": song["calibration_n"].astype("Int64"),
        "test songs": song["n"],
    })  # fmt: skip
    for level in levels:
        table[f"{level}%: covered"] = song[f"coverage_{level}"].round(3)
        table[f"{level}%: width"] = (2 * song[f"halfwidth_{level}"]).round(3)
    return table.reset_index(drop=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, action="append", default=None,
                        help="folder with labels.csv; again for each further corpus")  # fmt: skip
    parser.add_argument(
        "--score-only", default=None, help="a --dev corpus (folder name) whose songs all go to test"
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--params", default=None, help="extra `kedro run --params`")
    parser.add_argument(
        "--networks", default=None, help="only these networks (comma-separated), e.g. ridge,mlp"
    )
    parser.add_argument(
        "--features-from",
        type=Path,
        default=None,
        help="an earlier run's workdir whose feature store to reuse (default with --score-only: "
        "the run that trained on every corpus)",
    )
    parser.add_argument(
        "--variants",
        default=None,
        help="model every family with only these networks (comma-separated), e.g. ridge,mlp",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="print the last run's table, run nothing"
    )
    parser.add_argument(
        "--coverage", action="store_true",
        help="the prediction intervals' test coverage of every model, not only the chosen ones",
    )  # fmt: skip
    args = parser.parse_args()
    devs = args.dev or [DEFAULT_DEV]
    tables = {dev.resolve().name: dev / "labels.csv" for dev in devs}
    absent = [str(dev) for dev in devs if not (dev / "labels.csv").is_file()]
    if absent:
        print(f"real-music benchmark skipped: no dev set at {absent} (labels.csv)")
        return 0
    if args.score_only is not None and (args.score_only not in tables or len(tables) < 2):
        parser.error(f"--score-only must name one of several --dev corpora {list(tables)}")
    workdir = args.workdir or (DEFAULT_WORKDIR if len(tables) == 1 else
                               DEFAULT_WORKDIR.with_name("+".join(tables)))  # fmt: skip
    if args.score_only is not None:
        args.features_from = args.features_from or workdir
        workdir = args.workdir or workdir.with_name(f"{workdir.name}-score-{args.score_only}")
        tables[args.score_only] = test_only_table(
            tables[args.score_only], workdir / "tables" / args.score_only / "labels.csv"
        )
    args.workdir = workdir
    if args.features_from is not None:
        share_features(workdir, args.features_from)
    seconds = None
    if not args.report_only:
        variants = args.variants.split(",") if args.variants else None
        scratch_project(args.workdir, tables, networks=variants)
        if args.networks:
            seconds = run_networks(args.workdir, args.networks.split(","), args.params)
        else:
            seconds = run_chain(args.workdir, args.params)
    metrics, cv_metrics, corpus_metrics = collected_metrics(args.workdir)
    if args.networks:
        networks = args.networks.split(",")
        metrics = metrics[metrics["network"].isin(networks)]
        cv_metrics = cv_metrics[cv_metrics["network"].isin(networks)]
        corpus_metrics = corpus_metrics[corpus_metrics["network"].isin(networks)]
    table = song_table(metrics)
    print(f"\n{' + '.join(tables)} ({', '.join(map(str, devs))}), {dt.date.today()}, "
          "song level, test split (songs with values)")  # fmt: skip
    if seconds is not None:
        print(f"whole offline chain: {seconds / 60:.1f} min")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        for label, rows in table.groupby("label", sort=False):
            print(f"\n{label}")
            print(rows.drop(columns="label").to_string(index=False))
        if len(tables) > 1 and len(corpus_metrics):
            print("\nper corpus, test split (corpus_metrics)")
            for label, rows in corpus_figures(corpus_metrics).groupby("label", sort=False):
                print(f"\n{label}")
                print(rows.drop(columns="label").to_string(index=False))
        coverage = coverage_table(metrics, chosen_only=not args.coverage)
        if len(coverage):
            which = "every model" if args.coverage else "the chosen model per label"
            print(
                f"\nprediction intervals (conformal; calibration_n songs), {which}: "
                "nominal level -> measured coverage of the test songs, interval width"
            )
            print(coverage.to_string(index=False))
        if len(cv_metrics):
            print("\ngrouped cross-validation over the training and validation songs (cv_metrics)")
            for label, rows in cv_table(cv_metrics).groupby("label", sort=False):
                print(f"\n{label}")
                print(rows.drop(columns="label").to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
