"""The closing lines of a run: where the report is, the best model per label against the
baseline, which models scored the tracks, and the tracks that failed with their reasons."""

from __future__ import annotations

from typing import Any

import pandas as pd

from soundtrack_emotion.core.families import model_display_name
from soundtrack_emotion.core.metrics import selection_rank
from soundtrack_emotion.core.vocabulary import VAD_LABELS

# (catalog entry, what its failed rows are called): per-track failures a run records.
FAILURE_TABLES: tuple[tuple[str, str], ...] = (
    ("dataset_report", "dropped by dataset_creation"),
    ("feature_extraction_report", "without features"),
    ("track_vad", "not scored by inference"),
)
MAX_FAILURES_SHOWN = 10


def failed_tracks(name: str, data: Any) -> list[tuple[str, str]]:
    """``(track, reason)`` of every failed track in one of the ``FAILURE_TABLES`` entries.

    >>> failed_tracks("dataset_report", {"dropped": [{"id": "a-b", "failed_step":
    ...     "with_audio", "reason": "no audio file", "detail": ""}]})
    [('a-b', 'with_audio: no audio file')]
    """
    if name == "dataset_report":
        return [
            (str(d["id"]), f"{d['failed_step']}: {d['reason']}") for d in data.get("dropped", [])
        ]
    if name == "feature_extraction_report":
        rows = data[data["status"] == "error"]
        return [(str(r.id), str(r.reason)) for r in rows.itertuples(index=False)]
    rows = data[data["status"] == "error"]  # track_vad
    return [(str(r.track), str(r.error)) for r in rows.itertuples(index=False)]


def headline_metrics(model_metrics: Any) -> list[str]:
    """Per label, the model chosen by ``metrics.SELECTION_RULE`` (cross-validated R², else
    song-level validation MSE: the rule of the report and of ``inference.model: best``) with
    its song-level test MSE against the mean baseline.

    >>> import pandas as pd
    >>> rows = pd.DataFrame({"feature": "mfcc", "network": ["cnn", "lstm"], "target":
    ...     "valence", "label": "valence", "level": "song", "mse": [0.01, 0.02],
    ...     "baseline_mse": 0.04, "r2": [0.75, 0.5], "best_val_loss": [0.03, 0.02]})
    >>> print(*headline_metrics(rows))  # doctest: +NORMALIZE_WHITESPACE
    valence: MFCC LSTM (mfcc_lstm.valence, chosen on validation), test MSE 0.0200
    (baseline 0.0400), R² 0.500
    >>> print(*headline_metrics(rows.assign(cv_r2_mean=[0.4, float("nan")])))
    ... # doctest: +NORMALIZE_WHITESPACE
    valence: MFCC CNN (mfcc_cnn.valence, chosen by grouped CV: R² 0.400), test MSE 0.0100
    (baseline 0.0400), R² 0.750
    """
    song = model_metrics[model_metrics["level"] == "song"]
    song = song[selection_rank(song) == 1] if len(song) else song
    lines = []
    for label in sorted(set(song["label"]), key=_label_order):
        best = song[song["label"] == label].iloc[0]
        name = model_display_name(best["feature"], best["network"], best["target"])
        low, high = best.get("r2_ci_low", float("nan")), best.get("r2_ci_high", float("nan"))
        interval = "" if pd.isna(low) or pd.isna(high) else f" [{low:.3f}, {high:.3f}]"
        cv = best.get("cv_r2_mean", float("nan"))
        chosen = "on validation" if pd.isna(cv) else f"by grouped CV: R² {cv:.3f}"
        lines.append(
            f"{label}: {name} ({best['feature']}_{best['network']}.{best['target']}, chosen "
            f"{chosen}), test MSE {best['mse']:.4f} (baseline {best['baseline_mse']:.4f}), "
            f"R² {best['r2']:.3f}{interval}"
        )
    return lines


def scoring_summary(track_vad: Any) -> list[str]:
    """Which models scored the tracks, on what corpus they were trained, and how many tracks
    lie out of their domain.

    >>> import pandas as pd
    >>> rows = pd.DataFrame({"status": ["ok", "ok"], "track": ["a", "b"], "model":
    ...     "valence=mfcc_ridge.valence", "trained_on": "real 1234", "demo_model": False,
    ...     "out_of_domain": pd.array([False, True], dtype="boolean")})
    >>> scoring_summary(rows)
    ['Scored 2 tracks with valence=mfcc_ridge.valence (trained on real 1234); 1 out of domain: b']
    """
    if not len(track_vad) or "model" not in track_vad:
        return []
    first = track_vad.iloc[0]
    demo = " — a DEMO model: its numbers say nothing about real music" if bool(
        first.get("demo_model", False)) else ""  # fmt: skip
    scored = track_vad[track_vad["status"] != "error"]
    flags = scored.get("out_of_domain")
    if flags is None or flags.isna().all():
        domain = "no out-of-domain check"
    else:
        flagged = scored.loc[flags.fillna(False).astype(bool), "track"].astype(str).tolist()
        shown = ", ".join(flagged[:MAX_FAILURES_SHOWN])
        more = f" ... and {len(flagged) - MAX_FAILURES_SHOWN} more" if (
            len(flagged) > MAX_FAILURES_SHOWN) else ""  # fmt: skip
        domain = f"{len(flagged)} out of domain" + (f": {shown}{more}" if flagged else "")
    return [f"Scored {len(scored)} tracks with {first['model']} (trained on "
            f"{first['trained_on']}){demo}; {domain}"]  # fmt: skip


def _label_order(label: str) -> tuple[int, str]:
    return (VAD_LABELS.index(label) if label in VAD_LABELS else len(VAD_LABELS), label)


def run_summary(outputs: set[str], load: Any, path_of: Any, *, demo: bool) -> list[str]:
    """The closing lines of a run: where the report is, the headline metrics and the failed
    tracks with their reasons, from the entries among ``outputs`` (what this run wrote).
    ``load(name)`` loads an entry, ``path_of(name)`` gives its file."""
    lines = []
    if "report_html" in outputs:
        lines.append(f"Report: {path_of('report_html')}")
    if "catalogue_page" in outputs:
        lines.append(f"Catalogue page: {path_of('catalogue_page')}")
    if "model_metrics" in outputs:
        note = " (demo corpus: synthetic music, not real-world accuracy)" if demo else ""
        lines.append(
            f"Model per label, chosen before the test songs, scored on them{note}:"
        )
        lines += [f"  {line}" for line in headline_metrics(load("model_metrics"))]
    if "track_vad" in outputs:
        lines += scoring_summary(load("track_vad"))
    for name, what in FAILURE_TABLES:
        if name not in outputs:
            continue
        failures = failed_tracks(name, load(name))
        if failures:
            lines.append(f"{len(failures)} track(s) {what} ({path_of(name)}):")
            lines += [f"  {track}: {reason}" for track, reason in failures[:MAX_FAILURES_SHOWN]]
            if len(failures) > MAX_FAILURES_SHOWN:
                lines.append(f"  ... and {len(failures) - MAX_FAILURES_SHOWN} more")
    return lines
