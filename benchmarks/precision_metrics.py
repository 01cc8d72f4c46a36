"""Benchmark: do bfloat16 features change the results? The song-level test metrics of every
model, trained once on features extracted in float32 and once in bfloat16, side by side.

For each corpus it runs the same chain twice, in two scratch projects that differ only in
``feature_extraction.precision`` and ``inference.precision``:

* ``demo``: ``kedro run --pipelines=offline --env demo`` (``make demo``'s run; same seed, so
  the same synthetic corpus);
* ``real``: the real-music chain of ``benchmarks/real_music.py`` (``offline_labelled`` on
  ``../shared/real_music_dev``, the shipped ``conf/base``), skipped with a note when the dev set
  is absent.

Then, per model and label, it prints the song-level R² with its 95 % bootstrap interval in each
precision, the difference, and whether each estimate lies inside the other's interval. MFCCs
are NumPy float32 either way, so their models must come out identical: a check of the
comparison itself.

    nice python benchmarks/precision_metrics.py                      # demo and real
    nice python benchmarks/precision_metrics.py --corpus demo
    python benchmarks/precision_metrics.py --report-only             # the last runs' tables
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = PROJECT / "data" / "09_benchmarks" / "precision_metrics"
PRECISIONS = ("float32", "bfloat16")
METRICS = Path("data") / "08_reporting" / "model_metrics.parquet"
KEYS = ["feature", "network", "target", "label"]


def _real_music():
    """``benchmarks/real_music.py`` as a module (the benchmarks folder is not a package)."""
    path = Path(__file__).with_name("real_music.py")
    spec = importlib.util.spec_from_file_location("real_music", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _precision_params(precision: str) -> str:
    return f"feature_extraction.precision={precision},inference.precision={precision}"


def run_demo(workdir: Path, precision: str) -> float:
    """``make demo``'s run in a scratch project (the project's conf, an empty data folder)."""
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "src").mkdir(parents=True)  # Kedro's source_dir; the package is installed
    shutil.copytree(PROJECT / "conf", workdir / "conf", ignore=shutil.ignore_patterns("local"))
    (workdir / "conf" / "local").mkdir()
    shutil.copy(PROJECT / "pyproject.toml", workdir / "pyproject.toml")
    command = [sys.executable, "-m", "kedro", "run", "--pipelines=offline", "--env", "demo"]
    command.append(f"--params={_precision_params(precision)}")
    tic = time.perf_counter()
    subprocess.run(command, cwd=workdir, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return time.perf_counter() - tic


def run_real(workdir: Path, precision: str, dev: Path) -> float:
    real_music = _real_music()
    real_music.scratch_project(workdir, dev / "labels.csv")
    return real_music.run_chain(workdir, _precision_params(precision))


def song_metrics(workdir: Path) -> pd.DataFrame:
    if not (workdir / METRICS).is_file():
        raise SystemExit(f"no {METRICS} in {workdir}: run without --report-only first")
    metrics = pd.read_parquet(workdir / METRICS)
    song = metrics[metrics["level"] == "song"]
    return song[[*KEYS, "n", "r2", "r2_ci_low", "r2_ci_high", "mse", "baseline_r2"]]


def compare(float32: pd.DataFrame, bfloat16: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, label): R² [95 % CI] in each precision, the difference and whether
    each point estimate lies inside the other's interval.

    >>> a = pd.DataFrame([dict(feature="mfcc", network="ridge", target="valence",
    ...     label="valence", n=10, r2=0.5, r2_ci_low=0.3, r2_ci_high=0.7, mse=0.01,
    ...     baseline_r2=-0.1)])
    >>> b = a.assign(r2=0.52, r2_ci_low=0.31, r2_ci_high=0.72)
    >>> row = compare(a, b).iloc[0]
    >>> row["model"], round(float(row["delta R²"]), 3), bool(row["within CIs"])
    ('mfcc_ridge.valence', 0.02, True)
    """
    both = float32.merge(bfloat16, on=[*KEYS, "n"], suffixes=("_fp32", "_bf16"), validate="1:1")
    if len(both) != len(float32) or len(both) != len(bfloat16):
        raise SystemExit("the two runs trained different models: compare like with like")

    def interval(row: pd.Series, suffix: str) -> str:
        return (
            f"{row[f'r2_{suffix}']:+.3f} "
            f"[{row[f'r2_ci_low_{suffix}']:+.3f}, {row[f'r2_ci_high_{suffix}']:+.3f}]"
        )

    def inside(value: float, low: float, high: float) -> bool:
        return bool(low <= value <= high)

    return pd.DataFrame(
        {
            "model": both["feature"] + "_" + both["network"] + "." + both["target"],
            "label": both["label"],
            "songs": both["n"],
            "float32 R² [95% CI]": both.apply(interval, axis=1, suffix="fp32"),
            "bfloat16 R² [95% CI]": both.apply(interval, axis=1, suffix="bf16"),
            "delta R²": both["r2_bf16"] - both["r2_fp32"],
            "delta MSE": both["mse_bf16"] - both["mse_fp32"],
            "within CIs": [
                inside(r.r2_bf16, r.r2_ci_low_fp32, r.r2_ci_high_fp32)
                and inside(r.r2_fp32, r.r2_ci_low_bf16, r.r2_ci_high_bf16)
                for r in both.itertuples(index=False)
            ],
        }
    )


def report(name: str, table: pd.DataFrame, seconds: dict[str, float]) -> None:
    print(f"\n== {name}: song-level test metrics, features extracted in float32 vs bfloat16 ==")
    if seconds:
        print("whole chain: " + ", ".join(f"{p} {s / 60:.1f} min" for p, s in seconds.items()))
    mfcc = table[table["model"].str.startswith("mfcc_")]
    embedding = table[~table["model"].str.startswith("mfcc_")]
    print(
        f"{int(table['within CIs'].sum())} of {len(table)} song-level R² lie inside the other "
        f"precision's 95 % interval; largest |delta R²|: {table['delta R²'].abs().max():.4f} "
        f"(MusiCNN/VGGish models {embedding['delta R²'].abs().max():.4f}, MFCC models "
        f"{mfcc['delta R²'].abs().max():.4f}: MFCCs do not depend on the precision)"
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(4).to_string(index=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("demo", "real", "both"), default="both")
    parser.add_argument("--dev", type=Path, default=PROJECT.parent / "shared" / "real_music_dev")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument(
        "--report-only", action="store_true", help="compare the last runs' metrics, run nothing"
    )
    args = parser.parse_args()
    corpora = ("demo", "real") if args.corpus == "both" else (args.corpus,)
    for corpus in corpora:
        if corpus == "real" and not (args.dev / "labels.csv").is_file():
            print(f"\nreal corpus skipped: no dev set at {args.dev} (labels.csv)")
            continue
        seconds: dict[str, float] = {}
        for precision in PRECISIONS:
            workdir = args.workdir / corpus / precision
            if not args.report_only:
                run = run_demo if corpus == "demo" else run_real
                extra = () if corpus == "demo" else (args.dev,)
                seconds[precision] = run(workdir, precision, *extra)
        tables = [song_metrics(args.workdir / corpus / p) for p in PRECISIONS]
        report("demo (--env demo)" if corpus == "demo" else f"real music ({args.dev.name})",
               compare(*tables), seconds)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
