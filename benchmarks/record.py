"""Write the figures of docs/benchmarks/ from a run, dated, so no number in the docs is pasted.

Each page holds the date, the commit, the machine, the command and its output (or, for the
demo, the table built from the catalogued ``model_metrics`` of the latest run):

    nice python benchmarks/record.py feature_extraction --minutes 30   # feature_extraction.md
    nice python benchmarks/record.py modelling                         # modelling.md
    nice python benchmarks/record.py precision --limit 4 --onednn-too  # precision.md
    nice python benchmarks/record.py precision_metrics                 # precision_metrics.md
    python benchmarks/record.py demo_models      # after `make demo`:   demo_models.md
    nice python benchmarks/record.py catalogue_scale --scale 0.02 --dask  # catalogue.md

Arguments after the benchmark's name are passed on to ``benchmarks/<name>.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "benchmarks"
BENCHMARKS = (
    "feature_extraction",
    "modelling",
    "precision",
    "precision_metrics",
    "catalogue_scale",
)
# A benchmark whose page is not named after it.
PAGE_NAMES = {"catalogue_scale": "catalogue"}
MODEL_METRICS = ROOT / "data" / "08_reporting" / "model_metrics.parquet"
LABELS = ("valence", "arousal", "dominance")


def provenance() -> str:
    """Date, commit and machine of this recording, as a Markdown list."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"- recorded: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}\n"
        f"- commit: `{commit or 'unknown'}`{' (with uncommitted changes)' if dirty else ''}\n"
        f"- machine: {os.cpu_count()} CPU cores, {platform.machine()}, "
        f"Python {platform.python_version()}, load average {load:.1f} at the start\n"
    )


def record_benchmark(name: str, args: list[str]) -> str:
    command = [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"benchmarks/{name}.py failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    shown = " ".join(["python", f"benchmarks/{name}.py", *args])
    return (
        f"# Benchmark: {name} (generated)\n\n"
        f"Written by `python benchmarks/record.py {' '.join([name, *args])}`; "
        "do not edit by hand.\n\n"
        f"{provenance()}- command: `{shown}`\n\n```\n{done.stdout.strip()}\n```\n"
    )


def demo_models_table(metrics) -> str:
    """Song-level test R² per trained variant and label, the baseline's, and training time.

    >>> import pandas as pd
    >>> rows = [dict(feature="mfcc", network="cnn", target=t, label=t, level="song", r2=0.5,
    ...              baseline_r2=-0.1, train_seconds=10.0) for t in LABELS]
    >>> print(demo_models_table(pd.DataFrame(rows)).splitlines()[2])
    | `mfcc_cnn` | 0.500 | 0.500 | 0.500 | 30 s |
    """
    song = metrics[metrics["level"] == "song"]
    header = "| variant (models) | valence | arousal | dominance | training time |\n"
    lines = [header, "| --- | --- | --- | --- | --- |\n"]
    song = song.assign(variant=song["feature"] + "_" + song["network"])
    for variant, rows in song.groupby("variant", sort=True):
        joint = rows[rows["target"] == "joint"]
        single = rows[rows["target"] != "joint"]
        for name, part in ((f"`{variant}`", single), (f"`{variant}.joint`", joint)):
            if part.empty:
                continue
            r2 = {row.label: f"{row.r2:.3f}" for row in part.itertuples()}
            seconds = part.drop_duplicates("target")["train_seconds"].sum()
            cells = " | ".join(r2.get(label, "-") for label in LABELS)
            lines.append(f"| {name} | {cells} | {_duration(seconds)} |\n")
    return "".join(lines)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def record_demo_models() -> str:
    import pandas as pd

    if not MODEL_METRICS.exists():
        sys.exit(f"{MODEL_METRICS} is missing: run `make demo` (or kedro run) first")
    metrics = pd.read_parquet(MODEL_METRICS)
    song = metrics[metrics["level"] == "song"]
    baseline = song.drop_duplicates("label").set_index("label")["baseline_r2"]
    baseline_text = ", ".join(f"{baseline[label]:.3f} ({label})" for label in LABELS)
    # Each model says which corpus trained it (corpus_kind, from the catalog's corpus_is_demo).
    demo = "the demo" if (metrics["corpus_kind"] == "demo").any() else "a real"
    return (
        "# Demo models (generated)\n\n"
        "Written by `python benchmarks/record.py demo_models` from the catalogued `model_metrics`\n"
        "of the latest run; do not edit by hand.\n\n"
        f"{provenance()}- data: {demo} corpus, `data/08_reporting/model_metrics.parquet` "
        f"modified {dt.datetime.fromtimestamp(MODEL_METRICS.stat().st_mtime):%Y-%m-%d %H:%M}\n\n"
        "Song-level R² on the test split; the predict-the-training-mean baseline scores "
        f"{baseline_text}. Training time is the sum of the models' `train_seconds`.\n\n"
        f"{demo_models_table(metrics)}"
    )


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in (*BENCHMARKS, "demo_models"):
        sys.exit(__doc__)
    name, args = argv[0], argv[1:]
    page = record_demo_models() if name == "demo_models" else record_benchmark(name, args)
    PAGES.mkdir(parents=True, exist_ok=True)
    target = PAGES / f"{PAGE_NAMES.get(name, name)}.md"
    target.write_text(page)
    print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
