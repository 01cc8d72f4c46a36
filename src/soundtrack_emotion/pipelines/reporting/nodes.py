"""Reporting nodes: the thesis's result tables (Tables 5.2-5.4) as CSV and Markdown, and one
self-contained HTML page with every table and figure."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from soundtrack_emotion.core.families import FEATURES
from soundtrack_emotion.core.metrics import SELECTION_RULE, selection_rank
from soundtrack_emotion.core.vocabulary import LEVELS, NETWORKS, TARGETS
from soundtrack_emotion.exceptions import DataValidationError
from soundtrack_emotion.runtime.provenance import DEMO, code_version, corpus_summary

_ORDER = (*FEATURES, *NETWORKS, *TARGETS, *LEVELS)
_DISPLAY = {
    "mfcc": "MFCC",
    "vggish": "VGGish",
    "cnn": "CNN",
    "lstm": "LSTM",
    "bilstm": "BiLSTM",
    "transformer": "Transformer",
    "joint": "joint (V, A, D)",
}
LEVEL_DESCRIPTIONS = {
    "frame": "one prediction per frame, scored against its song's labels (as in the thesis)",
    "song": "frame predictions averaged per song",
}

METRIC_COLUMNS = (
    "feature", "network", "target", "label", "level", "frame_seconds", "n",
    "mse", "mae", "r2", "pearson_r", "baseline_mse", "baseline_mae", "best_val_loss",
)  # fmt: skip
RESULT_COLUMNS = (
    "level", "emotion", "network", "feature", "target", "frame_seconds", "n",
    "mse", "mae", "r2", "pearson_r", "baseline_mse", "baseline_mae", "mse_to_baseline", "best",
    "mse_ci_low", "mse_ci_high", "r2_ci_low", "r2_ci_high",
)  # fmt: skip
# 95 % bootstrap intervals over songs (song level only), shown as "[low, high]".
_INTERVALS = {"mse_ci": "mse", "r2_ci": "r2"}
# Shown columns of the Markdown/HTML tables: thesis columns first, then the extensions.
_SHOWN = {
    "network": "Network",
    "feature": "Feature",
    "target": "Trained on",
    "emotion": "Emotion",
    "mse": "MSE",
    "mae": "MAE",
    "r2": "R²",
    "r2_ci": "R² 95 % CI",
    "pearson_r": "Pearson r",
    "baseline_mse": "Baseline MSE",
    "baseline_mae": "Baseline MAE",
    "mse_to_baseline": "MSE / baseline",
    "mse_ci": "MSE 95 % CI",
}
_FORMATS = {"mse": "{:.5f}", "mae": "{:.5f}", "baseline_mse": "{:.5f}", "baseline_mae": "{:.5f}"}


def display_name(name: str) -> str:
    """Human name of a feature, network or target id (``"vggish"`` -> ``"VGGish"``)."""
    return _DISPLAY.get(name, name)


def sort_key(name: str) -> tuple[int, str]:
    """Sort features, networks, targets and levels in the thesis's order, unknown ones last."""
    return (_ORDER.index(name) if name in _ORDER else len(_ORDER), name)


def _sorted_by(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame.sort_values(columns, key=lambda col: col.map(sort_key), ignore_index=True)


def build_results_table(model_metrics: pd.DataFrame, *, levels: list[str]) -> pd.DataFrame:
    """Test-set results in the shape of thesis Tables 5.2-5.4 (network, feature, emotion, MSE,
    MAE), extended with R², Pearson r, the predict-the-training-mean baseline and
    ``mse_to_baseline`` (< 1 beats the baseline). ``best`` marks the model chosen for each
    emotion by ``metrics.SELECTION_RULE`` (on validation, never on these test figures), at
    every level. One row per (level, emotion, network, feature, target), thesis order.
    """
    missing = [c for c in METRIC_COLUMNS if c not in model_metrics.columns]
    if missing:
        raise DataValidationError(f"model_metrics lacks column(s) {missing}")
    unknown = sorted(set(levels) - set(LEVELS))
    if unknown:
        raise DataValidationError(f"unknown metric level(s) {unknown}; known: {list(LEVELS)}")
    table = model_metrics[model_metrics["level"].isin(levels)].rename(columns={"label": "emotion"})
    for column in RESULT_COLUMNS:
        if column.endswith(("_ci_low", "_ci_high")) and column not in table:
            table = table.assign(**{column: float("nan")})  # tables written before intervals
    chosen = selection_rank(table.rename(columns={"emotion": "label"})) == 1
    table = table.assign(
        mse_to_baseline=table["mse"] / table["baseline_mse"].where(table["baseline_mse"] > 0),
        best=chosen if len(table) else False,
    )
    table = _sorted_by(table, ["level", "emotion", "feature", "network", "target"])
    return table[list(RESULT_COLUMNS)]


def _sections(results_table: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """(level, emotion, rows) of the table, one section per thesis table."""
    for (level, emotion), rows in results_table.groupby(["level", "emotion"], sort=False):
        yield str(level), str(emotion), rows


def _shown(results_table: pd.DataFrame) -> dict[str, str]:
    """Columns to show; "Trained on" only when some model was trained on several labels; the
    intervals only where some row has them (song level)."""
    shown = dict(_SHOWN)
    if (results_table["target"] == results_table["emotion"]).all():
        shown.pop("target")
    for column, metric in _INTERVALS.items():
        if results_table[f"{metric}_ci_low"].isna().all():
            shown.pop(column)
    return shown


def _cells(row: pd.Series, shown: Mapping[str, str]) -> list[str]:
    cells = []
    for column in shown:
        if column in _INTERVALS:
            low, high = (row[f"{_INTERVALS[column]}_ci_{end}"] for end in ("low", "high"))
            fmt = _FORMATS.get(_INTERVALS[column], "{:.3f}")
            cells.append("n/a" if pd.isna(low) or pd.isna(high)
                         else f"[{fmt.format(low)}, {fmt.format(high)}]")  # fmt: skip
            continue
        value = row[column]
        if column in ("network", "feature", "target"):
            cells.append(display_name(str(value)))
        elif isinstance(value, str):
            cells.append(value)
        elif pd.isna(value):
            cells.append("n/a")
        else:
            cells.append(_FORMATS.get(column, "{:.3f}").format(float(value)))
    return cells


def _seconds(rows: pd.DataFrame) -> str:
    seconds = sorted({int(s) for s in rows["frame_seconds"].dropna()})
    return "/".join(str(s) for s in seconds) or "?"


def results_markdown(results_table: pd.DataFrame) -> str:
    """The results table as Markdown, one sub-table per level and emotion (thesis Tables
    5.2-5.4); the best model per emotion is in bold and starred."""
    lines = [
        "# Results on the test set",
        "",
        "Thesis Tables 5.2-5.4 (network, feature, emotion, MSE, MAE) extended with R², Pearson r"
        " and the baseline that always predicts the training mean. MSE / baseline < 1 means the"
        f" model beats the baseline. ★ marks the model chosen per emotion: {SELECTION_RULE}.",
    ]
    shown = _shown(results_table)
    current_level = None
    for level, emotion, rows in _sections(results_table):
        if level != current_level:
            description = LEVEL_DESCRIPTIONS.get(level, level)
            lines += ["", f"## {level.capitalize()} level: {description}", ""]
            current_level = level
        lines += [
            f"### {emotion.capitalize()} ({_seconds(rows)} s frames)",
            "",
            "| " + " | ".join(shown.values()) + " |",
            "|" + "|".join(" --- " for _ in shown) + "|",
        ]
        for _, row in rows.iterrows():
            cells = _cells(row, shown)
            if row["best"]:
                cells = [f"**{cell}**" for cell in cells]
                cells[0] = f"★ {cells[0]}"
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if results_table.empty:
        lines += ["", "No trained models yet: run the modelling pipeline first.", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- HTML page

# Figures of the HTML page, in page order: catalog name -> (heading, caption).
FIGURE_SECTIONS: dict[str, tuple[str, str]] = {
    "vad_histograms": (
        "Label distribution",
        "Histograms of valence, arousal and dominance over the corpus (thesis Fig. 3.4).",
    ),
    "vad_scatter_3d": (
        "The corpus in VAD space",
        "Every track at its (valence, arousal, dominance) label, by split (thesis Fig. 3.2).",
    ),
    "predicted_vs_true": (
        "Predicted vs true on the test set",
        "One point per test frame; the closer to the red diagonal, the better (thesis Fig. 5.7).",
    ),
    "training_curves": (
        "Training curves",
        "Training and validation loss per epoch; the dot is the epoch kept (thesis Figs. 5.5-5.6).",
    ),
    "test_song_timelines": (
        "Test songs over time",
        "Predicted VAD per window above the waveform, true labels dashed (thesis Figs. 5.8-5.10).",
    ),
}

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1.5rem; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #1f77b4; padding-bottom: .3rem; }
.banner { background: #fff3cd; border: 2px solid #d39e00; padding: .6rem 1rem; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .6rem 0 1.4rem; font-size: .92rem; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: right; }
th { background: #f0f4f8; }
td.text, th.text { text-align: left; }
tr.best td { font-weight: bold; background: #fff6d6; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .92rem; margin-top: .3rem; }
nav a { margin-right: 1rem; }
.cards { display: flex; flex-wrap: wrap; gap: 0 2.5rem; align-items: flex-start; }
.note { color: #666; font-style: italic; }
"""


def _png_base64(image: Any) -> str:
    """Base64 PNG of a loaded figure (a PIL image, or a callable returning one)."""
    image = image() if callable(image) else image
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_images(figure: Any) -> list[tuple[str, str]]:
    """(name, base64 PNG) of one figure dataset: a single image or a folder of them."""
    if isinstance(figure, Mapping):
        return [(name, _png_base64(load)) for name, load in sorted(figure.items())]
    return [("", _png_base64(figure))]


def _html_table(
    header: list[str], rows: list[list[str]], *, row_classes: list[str] | None = None
) -> str:
    text_columns = (
        {i for i, cell in enumerate(rows[0]) if not _looks_numeric(cell)} if rows else set()
    )
    head = "".join(
        f'<th class="{"text" if i in text_columns else ""}">{html.escape(h)}</th>'
        for i, h in enumerate(header)
    )
    body = []
    for r, row in enumerate(rows):
        css = row_classes[r] if row_classes else ""
        cells = "".join(
            f'<td class="{"text" if i in text_columns else ""}">{html.escape(c)}</td>'
            for i, c in enumerate(row)
        )
        body.append(f'<tr class="{css}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell.replace("n/a", "nan"))
    except ValueError:
        return False
    return True


def _scalar(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _flatten(report: Mapping[str, Any], prefix: str = "") -> list[list[str]]:
    """Key/value rows of a nested mapping of scalars (nested keys joined with ": ")."""
    rows: list[list[str]] = []
    for key, value in report.items():
        name = f"{prefix}: {key}" if prefix else str(key)
        if isinstance(value, Mapping):
            rows += _flatten(value, name)
        elif isinstance(value, list):
            rows.append([name, ", ".join(_scalar(v) for v in value)])
        else:
            rows.append([name, _scalar(value)])
    return rows


def _frame_table(frame: pd.DataFrame) -> str:
    rows = [[_scalar(v) for v in row] for row in frame.itertuples(index=False)]
    return _html_table([str(c) for c in frame.columns], rows)


def _dataset_section(dataset_report: Any) -> str:
    """The dataset report as tables: a table of counts per group of scalars (``{"counts":
    {...}}``), and one table per list of records (e.g. the dropped tracks and why)."""
    if isinstance(dataset_report, pd.DataFrame):
        return _frame_table(dataset_report)
    if not isinstance(dataset_report, Mapping) or not dataset_report:
        return '<p class="note">The dataset report is empty.</p>'
    cards, records, loose = [], [], {}
    for key, value in dataset_report.items():
        title = html.escape(str(key).replace("_", " ").capitalize())
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            records.append(f"<h3>{title} ({len(value)})</h3>{_frame_table(pd.DataFrame(value))}")
        elif isinstance(value, Mapping):
            table = _html_table(["", "Value"], _flatten(value))
            cards.append(f'<div class="card"><h3>{title}</h3>{table}</div>')
        else:
            loose[key] = value
    if loose:
        table = _html_table(["", "Value"], _flatten(loose))
        cards.insert(0, f'<div class="card"><h3>Summary</h3>{table}</div>')
    return f'<div class="cards">{"".join(cards)}</div>\n' + "\n".join(records)


def _results_section(results_table: pd.DataFrame) -> str:
    if results_table.empty:
        return '<p class="note">No trained models yet: run the modelling pipeline first.</p>'
    parts = [
        "<p>Thesis Tables 5.2-5.4 extended with R², Pearson r and the baseline that always "
        "predicts the training mean; MSE / baseline &lt; 1 beats the baseline. The highlighted row "
        f"(★) is the model chosen per emotion: {html.escape(SELECTION_RULE)}.</p>"
    ]
    shown = _shown(results_table)
    current_level = None
    for level, emotion, rows in _sections(results_table):
        if level != current_level:
            description = LEVEL_DESCRIPTIONS.get(level, level)
            parts.append(
                f"<h3>{html.escape(level.capitalize())} level: {html.escape(description)}</h3>"
            )
            current_level = level
        cells = [_cells(row, shown) for _, row in rows.iterrows()]
        best = rows["best"].tolist()
        for row_cells, is_best in zip(cells, best, strict=True):
            if is_best:
                row_cells[0] = f"★ {row_cells[0]}"
        parts.append(f"<h4>{html.escape(emotion.capitalize())} ({_seconds(rows)} s frames)</h4>")
        parts.append(
            _html_table(
                list(shown.values()), cells, row_classes=["best" if b else "" for b in best]
            )
        )
    return "\n".join(parts)


_CV_SHOWN = {"r2": "R² (pooled)", "r2_ci": "R² 95 % CI (groups)", "r2_mean": "R² mean",
             "r2_sd": "R² sd", "pearson_r_mean": "Pearson r mean", "ccc_mean": "CCC mean",
             "baseline_r2": "Baseline R²"}  # fmt: skip


def _cv_section(cv_metrics: pd.DataFrame) -> str:
    """One table per emotion: each model's out-of-fold figures over the training and
    validation songs, or why it was not cross-validated."""
    first = cv_metrics.iloc[0]
    parts = [
        f"<p>Repeated artist-grouped cross-validation over the training and validation songs "
        f"({int(first['repeats'])} x {int(first['folds'])} folds, {int(first['n_songs'])} "
        "songs; the test split is not used): whole artist groups are held out, the ridge's "
        "alpha is chosen by an inner grouped K-fold of each outer training part. R² (pooled) "
        "scores the out-of-fold predictions of all repeats together, with a 95 % bootstrap "
        "interval that resamples artist groups; mean and sd are over repeats. Figures of one "
        "small test split move a lot with the split; these move less.</p>"
    ]
    table = _sorted_by(cv_metrics.copy(), ["label", "feature", "network", "target"])
    for label, rows in table.groupby("label", sort=False):
        cells = []
        for _, row in rows.iterrows():
            name = [display_name(str(row["network"])), display_name(str(row["feature"]))]
            if row["note"]:
                cells.append([*name, str(row["note"]), *[""] * (len(_CV_SHOWN) - 1)])
                continue
            values = []
            for column in _CV_SHOWN:
                if column == "r2_ci":
                    values.append(f"[{row['r2_ci_low']:.3f}, {row['r2_ci_high']:.3f}]")
                else:
                    values.append("n/a" if pd.isna(row[column]) else f"{row[column]:.3f}")
            cells.append([*name, *values])
        parts.append(f"<h4>{html.escape(str(label).capitalize())}</h4>")
        parts.append(_html_table(["Network", "Feature", *_CV_SHOWN.values()], cells))
    return "\n".join(parts)


def _interval(row: pd.Series, name: str) -> str:
    if pd.isna(row[name]):
        return ""
    low, high = row[f"{name}_ci_low"], row[f"{name}_ci_high"]
    bounds = "" if pd.isna(low) else f" [{low:.2f}, {high:.2f}]"
    return f"{row[name]:.3f}{bounds}"


def _corpus_section(corpus_metrics: pd.DataFrame) -> str:
    """One table per emotion: each model's test figures on each labelled corpus."""
    parts = [
        "<p>The test songs of each labelled corpus, scored with the labels that corpus has: "
        "R² and Pearson r where it gives values, ROC AUC of the predicted emotion for the "
        "sign its Russell quadrants give (valence: Q1 + Q4 against Q2 + Q3; arousal: Q1 + Q2 "
        "against Q3 + Q4; 0.5 is chance) where it gives quadrants. Brackets: 95 % bootstrap "
        "intervals over artist groups. The models were chosen on validation before.</p>"
    ]
    table = _sorted_by(corpus_metrics.copy(), ["label", "feature", "network", "target", "corpus"])
    for label, rows in table.groupby("label", sort=False):
        cells = [
            [display_name(str(row["network"])), display_name(str(row["feature"])),
             str(row["corpus"]), str(int(row["n_songs"])), _interval(row, "r2"),
             _interval(row, "pearson_r"), _interval(row, "auc")]
            for _, row in rows.iterrows()
        ]  # fmt: skip
        parts.append(f"<h4>{html.escape(str(label).capitalize())}</h4>")
        header = ["Network", "Feature", "Corpus", "Songs", "R²", "Pearson r", "ROC AUC"]
        parts.append(_html_table(header, cells))
    return "\n".join(parts)


def describe_report(
    model_metrics: pd.DataFrame,
    stale_models: pd.DataFrame,
    soundtracks: pd.DataFrame,
    corpus_is_demo: bool,
    modelling: Mapping[str, Any],
) -> dict[str, Any]:
    """What the report is about: its corpus (demo or real, counts, fingerprint), the date, the
    code version, the key parameters, which trained models it shows and which it left out as
    stale (with the reason)."""
    demo_models = sorted(
        set(model_metrics.loc[model_metrics["corpus_kind"] == DEMO, "feature"]
            + "_" + model_metrics.loc[model_metrics["corpus_kind"] == DEMO, "network"])
    ) if "corpus_kind" in model_metrics else []  # fmt: skip
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "corpus": corpus_summary(soundtracks, is_demo=bool(corpus_is_demo)),
        "code": code_version(),
        "parameters": {
            "frame_seconds": modelling.get("frame_seconds"),
            "seed": modelling.get("seed"),
            "networks": {
                name: section.get("training", {})
                for name, section in (modelling.get("networks") or {}).items()
            },
        },
        "demo_models": demo_models,
        "n_models": int(model_metrics[["feature", "network", "target"]].drop_duplicates().shape[0]),
        "stale_models": stale_models.to_dict("records"),
    }


def _context_section(context: Mapping[str, Any]) -> str:
    corpus = context["corpus"]
    code = context["code"]
    commit = code.get("git_commit") or "unknown (not a git checkout)"
    dirty = " with uncommitted changes" if code.get("git_dirty") else ""
    splits = ", ".join(f"{n} {split}" for split, n in corpus["n_per_split"].items())
    rows = [
        ["Corpus", f"{corpus['kind']} ({corpus['n_tracks']} tracks: {splits}), fingerprint "
                   f"{corpus['fingerprint']}"],
        ["Date", context["date"]],
        ["Code version", f"{commit}{dirty}"],
        ["Frame length", f"{context['parameters']['frame_seconds']} s"],
        ["Seed", str(context["parameters"]["seed"])],
        ["Models shown", str(context["n_models"])],
    ]  # fmt: skip
    for name, training in context["parameters"]["networks"].items():
        rows.append([f"Training {name}", ", ".join(f"{k} {v}" for k, v in training.items())])
    parts = [_html_table(["", ""], rows)]
    stale = context["stale_models"]
    if stale:
        parts.append("<h3>Stale models (left out of every table and figure)</h3>")
        parts.append(_html_table(
            ["Model", "Corpus", "Reason"],
            [[f"{m['feature']}_{m['network']}.{m['target']}", m["corpus_kind"], m["reason"]]
             for m in stale],
        ))  # fmt: skip
    return "\n".join(parts)


def _demo_banner(context: Mapping[str, Any] | None) -> str:
    if not context or not (context["corpus"]["kind"] == DEMO or context["demo_models"]):
        return ""
    return (
        '<p class="banner"><strong>DEMO: synthetic data.</strong> These models were trained on '
        "the embedded synthetic demo corpus (generated audio and invented tags). Its scores say "
        "the plumbing works, not how well the models rate real music; never use a demo model "
        "on real audio.</p>"
    )


def build_html_report(
    results_table: pd.DataFrame,
    dataset_report: Any,
    *,
    title: str,
    context: Mapping[str, Any] | None = None,
    cv_metrics: pd.DataFrame | None = None,
    corpus_metrics: pd.DataFrame | None = None,
    **figures: Any,
) -> str:
    """One self-contained HTML page: the dataset report's counts, the results tables, the
    grouped cross-validation (``cv_metrics``, when there is any), the test figures per
    labelled corpus (``corpus_metrics``, when the models learnt from more than one) and
    every figure embedded as a base64 PNG (no external file, script or stylesheet).

    ``figures``: catalog name -> loaded PNG (PIL image) or folder of them (name -> loader)."""
    sections: list[tuple[str, str, str]] = [
        *([("provenance", "About this report", _context_section(context))] if context else []),
        ("dataset", "Dataset", _dataset_section(dataset_report)),
        ("results", "Results", _results_section(results_table)),
        *([("cross_validation", "Grouped cross-validation", _cv_section(cv_metrics))]
          if cv_metrics is not None and len(cv_metrics) else []),
        *([("corpora", "Per corpus", _corpus_section(corpus_metrics))]
          if corpus_metrics is not None and len(corpus_metrics)
          and corpus_metrics["corpus"].nunique() > 1 else []),
    ]
    for name, figure in figures.items():
        heading, caption = FIGURE_SECTIONS.get(name, (name.replace("_", " ").capitalize(), ""))
        images = _figure_images(figure)
        if not images:
            body = '<p class="note">Nothing to show yet (no input for this figure).</p>'
        else:
            body = "\n".join(
                f'<figure><img alt="{html.escape(heading)} {html.escape(image_name)}" '
                f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}'
                f"{' (' + html.escape(image_name.removesuffix('.png')) + ')' if image_name else ''}"
                "</figcaption></figure>"
                for image_name, data in images
            )
        sections.append((name, heading, body))
    nav = " ".join(
        f'<a href="#{anchor}">{html.escape(heading)}</a>' for anchor, heading, _ in sections
    )
    content = "\n".join(
        f'<section id="{anchor}"><h2>{html.escape(heading)}</h2>\n{body}</section>'
        for anchor, heading, body in sections
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
        f"{_demo_banner(context)}\n"
        f"<nav>{nav}</nav>\n{content}\n</body></html>\n"
    )
