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

from soundtrack_emotion.core.families import FAMILIES, FEATURES, model_display_name
from soundtrack_emotion.core.metrics import (
    CONFIDENCE_LEVEL,
    SELECTION_CV_COLUMN,
    SELECTION_RULE,
    selection_rank,
)
from soundtrack_emotion.core.vocabulary import (
    JOINT_NAME,
    LEVELS,
    NETWORK_NAMES,
    NETWORKS,
    SPLITS,
    TARGETS,
    VAD_LABELS,
)
from soundtrack_emotion.exceptions import DataValidationError
from soundtrack_emotion.runtime.provenance import DEMO, code_version, corpus_summary

_ORDER = (*FEATURES, *NETWORKS, *TARGETS, *LEVELS)
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
    "mse_ci_low", "mse_ci_high", "r2_ci_low", "r2_ci_high", "baseline_r2",
)  # fmt: skip
# Columns of model_metrics a results table carries on when they are there (the share of test
# songs inside a model's prediction interval, where the models give intervals).
COVERAGE_MARK = "coverage"
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
    SELECTION_CV_COLUMN: "CV R² (the choice)",
}
_FORMATS = {"mse": "{:.5f}", "mae": "{:.5f}", "baseline_mse": "{:.5f}", "baseline_mae": "{:.5f}"}


def display_name(name: str) -> str:
    """Human name of a feature, network or target id (``"vggish"`` -> ``"VGGish"``), from the
    one mapping the whole project writes them with (the families' ``display_name``,
    ``vocabulary.NETWORK_NAMES``); an unknown id as it is."""
    if name in FAMILIES:
        return FAMILIES[name].display_name
    if name == "joint":
        return JOINT_NAME
    return NETWORK_NAMES.get(name, name)


def sort_key(name: str) -> tuple[int, str]:
    """Sort features, networks, targets and levels in the thesis's order, unknown ones last."""
    return (_ORDER.index(name) if name in _ORDER else len(_ORDER), name)


def _sorted_by(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame.sort_values(columns, key=lambda col: col.map(sort_key), ignore_index=True)


def build_results_table(model_metrics: pd.DataFrame, *, levels: list[str]) -> pd.DataFrame:
    """Test-set results in the shape of thesis Tables 5.2-5.4 (network, feature, emotion, MSE,
    MAE), extended with R², Pearson r, the predict-the-training-mean baseline and
    ``mse_to_baseline`` (< 1 beats the baseline). ``best`` marks the model chosen for each
    emotion by ``metrics.SELECTION_RULE`` (never on these test figures), at
    every level, and ``cv_r2_mean``, the cross-validated R² it chooses by, follows where
    ``model_metrics`` has it. One row per (level, emotion, network, feature, target), thesis
    order.
    """
    missing = [c for c in METRIC_COLUMNS if c not in model_metrics.columns]
    if missing:
        raise DataValidationError(f"model_metrics lacks column(s) {missing}")
    unknown = sorted(set(levels) - set(LEVELS))
    if unknown:
        raise DataValidationError(f"unknown metric level(s) {unknown}; known: {list(LEVELS)}")
    table = model_metrics[model_metrics["level"].isin(levels)].rename(columns={"label": "emotion"})
    for column in RESULT_COLUMNS:
        if column.endswith(("_ci_low", "_ci_high", "baseline_r2")) and column not in table:
            table = table.assign(**{column: float("nan")})  # tables written before intervals
    chosen = selection_rank(table.rename(columns={"emotion": "label"})) == 1
    table = table.assign(
        mse_to_baseline=table["mse"] / table["baseline_mse"].where(table["baseline_mse"] > 0),
        best=chosen if len(table) else False,
    )
    table = _sorted_by(table, ["level", "emotion", "feature", "network", "target"])
    coverage = [c for c in table.columns if COVERAGE_MARK in c and c not in RESULT_COLUMNS]
    chosen_by = [SELECTION_CV_COLUMN] if SELECTION_CV_COLUMN in table else []
    return table[[*RESULT_COLUMNS, *chosen_by, *coverage]]


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
    if SELECTION_CV_COLUMN not in results_table or results_table[SELECTION_CV_COLUMN].isna().all():
        shown.pop(SELECTION_CV_COLUMN)
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
section.answer { background: #f6f9fc; border: 2px solid #1f77b4; border-radius: 6px;
                 padding: .2rem 1.2rem .6rem; margin-bottom: 1.5rem; }
section.answer h2 { margin-top: .6rem; border-bottom: none; }
section.answer table { font-size: .95rem; }
section.answer td { white-space: nowrap; }
/* from the verdict on, cells may wrap: the table stays inside the answer box */
section.answer td:nth-child(n+6) { white-space: normal; min-width: 5rem; }
ul.conclusions li { margin: .25rem 0; }
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
    """One cell's text. A mapping or a list never reaches a cell as Python's repr: a mapping
    of scalars reads ``key value, key value``, a list its items joined with commas."""
    if isinstance(value, Mapping):
        return ", ".join(f"{_words(str(k))} {_scalar(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_scalar(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _words(key: str) -> str:
    """A data key as words (``"heaviest_dropped_tags"`` -> ``"heaviest dropped tags"``)."""
    return key.replace("_", " ")


def _title(key: str) -> str:
    return html.escape(_words(key).capitalize())


def _is_records(value: Any) -> bool:
    """A non-empty list of mappings: one table row each."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _is_matrix(value: Any) -> bool:
    """A mapping of mappings of scalars (``{"valence": {"mean": .., "std": ..}}``): one table
    row per outer key, one column per inner key."""
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(v, Mapping) and v for v in value.values())
        and all(not isinstance(x, Mapping | list) for v in value.values() for x in v.values())
    )


def _records_table(records: list[Mapping[str, Any]]) -> str:
    frame = pd.DataFrame(records)
    rows = [[_scalar(v) for v in row] for row in frame.itertuples(index=False)]
    return _html_table([_words(str(c)) for c in frame.columns], rows)


def _matrix_table(matrix: Mapping[str, Mapping[str, Any]]) -> str:
    columns = list(dict.fromkeys(k for inner in matrix.values() for k in inner))
    rows = [[_words(str(key)), *(_scalar(inner.get(c, "")) for c in columns)]
            for key, inner in matrix.items()]  # fmt: skip
    return _html_table(["", *(_words(str(c)) for c in columns)], rows)


def _mapping_parts(mapping: Mapping[str, Any], title: str) -> tuple[list[list[str]], list[str]]:
    """(key/value rows of ``mapping``'s scalars and small mappings, one titled table for each
    of its lists of records and tables of tables), nested keys joined with ": "."""
    rows: list[list[str]] = []
    tables: list[str] = []
    for key, value in mapping.items():
        name = _words(str(key))
        if _is_records(value):
            tables.append(f"<h3>{html.escape(title)}: {html.escape(name)} ({len(value)})</h3>"
                          f"{_records_table(value)}")  # fmt: skip
        elif _is_matrix(value):
            tables.append(f"<h3>{html.escape(title)}: {html.escape(name)}</h3>"
                          f"{_matrix_table(value)}")  # fmt: skip
        elif isinstance(value, Mapping):
            inner_rows, inner_tables = _mapping_parts(value, f"{title}: {name}")
            rows += [[f"{name}: {k}", v] for k, v in inner_rows]
            tables += inner_tables
        else:
            rows.append([name, _scalar(value)])
    return rows, tables


def _frame_table(frame: pd.DataFrame) -> str:
    rows = [[_scalar(v) for v in row] for row in frame.itertuples(index=False)]
    return _html_table([_words(str(c)) for c in frame.columns], rows)


def _dataset_section(dataset_report: Any) -> str:
    """The dataset report as tables, never as a printed dict: a card of counts per group of
    scalars (``{"counts": {...}}``), a table per list of records (e.g. the dropped tracks and
    why, the tag filter's heaviest dropped tags) and per table of tables (the label
    statistics)."""
    if isinstance(dataset_report, pd.DataFrame):
        return _frame_table(dataset_report)
    if not isinstance(dataset_report, Mapping) or not dataset_report:
        return '<p class="note">The dataset report is empty.</p>'
    cards, tables, loose = [], [], {}
    for key, value in dataset_report.items():
        title = _title(str(key))
        if _is_records(value):
            tables.append(f"<h3>{title} ({len(value)})</h3>{_records_table(value)}")
        elif _is_matrix(value):
            cards.append(f'<div class="card"><h3>{title}</h3>{_matrix_table(value)}</div>')
        elif isinstance(value, Mapping):
            rows, inner = _mapping_parts(value, _words(str(key)).capitalize())
            if rows:
                table = _html_table(["", "Value"], rows)
                cards.append(f'<div class="card"><h3>{title}</h3>{table}</div>')
            tables += inner
        else:
            loose[key] = value
    if loose:
        rows, _ = _mapping_parts(loose, "Summary")
        summary = _html_table(["", "Value"], rows)
        cards.insert(0, f'<div class="card"><h3>Summary</h3>{summary}</div>')
    return f'<div class="cards">{"".join(cards)}</div>\n' + "\n".join(tables)


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
        "intervals over artist groups. The models were chosen before, never on these songs.</p>"
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
    code version, the key parameters, the labelled corpora it holds (tracks per corpus), which
    trained models it shows and which it left out as stale (with the reason)."""
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
        "corpora": (
            {str(k): int(v) for k, v in soundtracks["corpus"].value_counts().sort_index().items()}
            if "corpus" in soundtracks else {}
        ),
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
        rows.append([f"Training {display_name(name)}", _scalar(training)])
    parts = [_html_table(["", ""], rows)]
    stale = context["stale_models"]
    if stale:
        parts.append("<h3>Stale models (left out of every table and figure)</h3>")
        parts.append(_html_table(
            ["Model", "Corpus", "Reason"],
            [[f"{model_display_name(m['feature'], m['network'], m['target'])} "
              f"({m['feature']}_{m['network']}.{m['target']})", m["corpus_kind"], m["reason"]]
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


# ------------------------------------------------------------------------------ the answer

# A chosen model whose song-level test R² interval lies above this beats predicting the mean.
_NO_SKILL_R2 = 0.0


def _is_demo(context: Mapping[str, Any] | None) -> bool:
    return bool(context) and (context["corpus"]["kind"] == DEMO or bool(context["demo_models"]))


def _chosen_rows(results_table: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The level the answer quotes (song, else frame) and its rows of the chosen models (the
    ``best`` mark, i.e. ``metrics.selection_rank`` 1), one per label in VAD order."""
    levels = [lv for lv in ("song", "frame") if (results_table["level"] == lv).any()]
    if not levels:
        return "", results_table.iloc[:0]
    level = levels[0]
    rows = results_table[(results_table["level"] == level) & results_table["best"].astype(bool)]
    order = {label: i for i, label in enumerate(VAD_LABELS)}
    rows = rows.assign(_order=rows["emotion"].map(lambda e: order.get(e, len(order))))
    return level, rows.sort_values(["_order", "emotion"]).drop(columns="_order")


def _figure(value: Any, low: Any, high: Any, *, digits: int = 2) -> str:
    """``0.31 [0.12, 0.45]``; ``n/a`` without a value; no brackets without an interval."""
    if pd.isna(value):
        return "n/a"
    bounds = "" if pd.isna(low) or pd.isna(high) else f" [{low:.{digits}f}, {high:.{digits}f}]"
    return f"{value:.{digits}f}{bounds}"


def _verdict(row: pd.Series) -> str:
    """Whether the chosen model beats predicting the mean on the test songs, read from its R²
    interval (from its R² alone where it has none)."""
    low, high, r2 = row["r2_ci_low"], row["r2_ci_high"], row["r2"]
    if pd.isna(r2):
        return "not measured"
    if pd.isna(low) or pd.isna(high):
        return "above the mean (no interval)" if r2 > _NO_SKILL_R2 else "no better than the mean"
    if low > _NO_SKILL_R2:
        return "beats the mean"
    if high < _NO_SKILL_R2:
        return "worse than the mean"
    return "not distinguishable from the mean"


def _coverage_cell(value: Any) -> str:
    """A measured coverage (a share of test songs) as a percentage; ``n/a`` without one."""
    return "n/a" if pd.isna(value) else f"{float(value):.0%}"


def _coverage_header(column: str) -> str:
    """``coverage_80`` -> ``Test coverage of 80 % intervals``; another name in words.

    >>> _coverage_header("coverage_90"), _coverage_header("interval_coverage")
    ('Test coverage of 90 % intervals', 'Interval coverage')
    """
    level = column.removeprefix(f"{COVERAGE_MARK}_")
    if level.isdigit():
        return f"Test coverage of {level} % intervals"
    return _words(column).capitalize()


def _cv_figure(row: pd.Series, cv_metrics: pd.DataFrame | None) -> str:
    if cv_metrics is None or not len(cv_metrics):
        return ""
    key = (row["feature"], row["network"], row["target"], row["emotion"])
    match = cv_metrics[
        (cv_metrics["feature"] == key[0]) & (cv_metrics["network"] == key[1])
        & (cv_metrics["target"] == key[2]) & (cv_metrics["label"] == key[3])
    ]  # fmt: skip
    if not len(match):
        return "not cross-validated"
    cv = match.iloc[0]
    if cv.get("note"):
        return str(cv["note"])
    # the figure the model was chosen by (metrics.SELECTION_RULE): the mean over repeats
    mean = "n/a" if pd.isna(cv["r2_mean"]) else f"{cv['r2_mean']:.2f}"
    spread = "" if pd.isna(cv["r2_sd"]) else f" ± {cv['r2_sd']:.2f}"
    return f"{mean}{spread} ({int(cv['repeats'])} x {int(cv['folds'])} folds)"


def _corpus_figures(row: pd.Series, corpus_metrics: pd.DataFrame | None) -> str:
    if corpus_metrics is None or not len(corpus_metrics) or corpus_metrics["corpus"].nunique() < 2:
        return ""
    match = corpus_metrics[
        (corpus_metrics["feature"] == row["feature"])
        & (corpus_metrics["network"] == row["network"])
        & (corpus_metrics["target"] == row["target"])
        & (corpus_metrics["label"] == row["emotion"])
    ]  # fmt: skip
    parts = []
    for _, corpus in match.sort_values("corpus").iterrows():
        if not pd.isna(corpus.get("r2")):
            figure = f"R² {_figure(corpus['r2'], corpus['r2_ci_low'], corpus['r2_ci_high'])}"
        elif not pd.isna(corpus.get("auc")):
            figure = f"AUC {_figure(corpus['auc'], corpus['auc_ci_low'], corpus['auc_ci_high'])}"
        else:
            continue
        parts.append(f"{corpus['corpus']}: {figure}")
    return "; ".join(parts)


def _corpus_line(context: Mapping[str, Any] | None) -> str:
    if not context:
        return "not recorded"
    corpus = context["corpus"]
    per_split = corpus["n_per_split"]
    ordered = [*(s for s in SPLITS if s in per_split), *(s for s in per_split if s not in SPLITS)]
    splits = ", ".join(f"{per_split[split]} {split}" for split in ordered)
    named = context.get("corpora") or {}
    if corpus["kind"] == DEMO:
        what = "the synthetic demo corpus (generated audio, invented tags)"
    elif named:
        what = " + ".join(f"{name} ({n} tracks)" for name, n in named.items())
    else:
        what = "your labelled tracks"
    return f"{what}: {corpus['n_tracks']} tracks ({splits}), fingerprint {corpus['fingerprint']}"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _conclusions(rows: pd.DataFrame, level: str, *, demo: bool) -> list[str]:
    """Two to four plain sentences: what the figures above let a user conclude, and not."""
    verdicts = {str(r["emotion"]): _verdict(r) for _, r in rows.iterrows()}
    good = [label for label, v in verdicts.items() if v == "beats the mean"]
    weak = [label for label, v in verdicts.items() if v != "beats the mean"]
    sentences = []
    if demo:
        sentences.append(
            "Read these figures as a check that training, model choice and scoring work end "
            "to end: they were measured on synthetic demo music and mean nothing about how well "
            "the models rate real music."
        )
    if good:
        its = "its" if len(good) == 1 else "each one's"
        sentences.append(
            f"{_join(good).capitalize()}: the chosen model beats predicting the training mean "
            f"on the test songs ({its} {level}-level R² interval lies above 0)."
        )
    if weak:
        they = "its" if len(weak) == 1 else "their"
        sentences.append(
            f"{_join(weak).capitalize()}: not shown to beat predicting the mean ({they} R² "
            "interval reaches 0 or below); do not read single tracks' values of "
            f"{'it' if len(weak) == 1 else 'them'} as meaningful."
        )
    n = int(rows["n"].max()) if len(rows) and not rows["n"].isna().all() else 0
    sentences.append(
        f"Each figure comes from {n} test {level}s{' of this corpus' if not demo else ''}: the "
        "interval is the honest figure, models whose intervals overlap are not shown to differ, "
        "and music unlike the training corpus (flagged out of domain when scored) may fare worse."
    )
    return sentences


def _answer_section(
    results_table: pd.DataFrame,
    context: Mapping[str, Any] | None,
    cv_metrics: pd.DataFrame | None,
    corpus_metrics: pd.DataFrame | None,
) -> str:
    """The first screen: per label the model to use (the one ``inference.model: best`` loads,
    chosen by ``metrics.SELECTION_RULE``) with its test R², interval and baseline, its
    cross-validated R² and per-corpus figures where there are any; the corpus; and what to
    conclude and not. Demo models get the demo banner first."""
    parts = [_demo_banner(context)] if _is_demo(context) else []
    level, rows = _chosen_rows(results_table)
    if not len(rows):
        parts.append('<p class="note">No trained models yet: run the modelling pipeline first.</p>')
        return "\n".join(parts)
    coverage = [c for c in rows.columns if COVERAGE_MARK in c]
    cv_cells = [_cv_figure(r, cv_metrics) for _, r in rows.iterrows()]
    corpus_cells = [_corpus_figures(r, corpus_metrics) for _, r in rows.iterrows()]
    header = ["Label", "Model to use", f"Test R² ({level} level, {CONFIDENCE_LEVEL:.0%} CI)",
              "Baseline R²", "MSE / baseline", "Verdict"]  # fmt: skip
    cells = []
    for (_, row), cv_cell, corpus_cell in zip(rows.iterrows(), cv_cells, corpus_cells, strict=True):
        line = [
            str(row["emotion"]).capitalize(),
            model_display_name(str(row["feature"]), str(row["network"]), str(row["target"])),
            _figure(row["r2"], row["r2_ci_low"], row["r2_ci_high"]),
            _figure(row["baseline_r2"], float("nan"), float("nan")),
            _figure(row["mse_to_baseline"], float("nan"), float("nan")),
            _verdict(row),
        ]
        line += [_coverage_cell(row[c]) for c in coverage]
        line += [cv_cell] if any(cv_cells) else []
        line += [corpus_cell] if any(corpus_cells) else []
        cells.append(line)
    header += [_coverage_header(c) for c in coverage]
    header += ["CV R² (mean ± sd)"] if any(cv_cells) else []
    header += ["Per corpus (test)"] if any(corpus_cells) else []
    parts.append(_html_table(header, cells))
    corpus = html.escape(_corpus_line(context))
    parts.append(f'<p class="corpus"><strong>Corpus:</strong> {corpus}</p>')
    sentences = _conclusions(rows, level, demo=_is_demo(context))
    conclusions = "".join(f"<li>{html.escape(sentence)}</li>" for sentence in sentences)
    parts.append(f'<ul class="conclusions">{conclusions}</ul>')
    parts.append(
        '<p class="note">The model per label is the one <code>inference.model: best</code> '
        "scores new audio with, chosen by its cross-validated R² where the grouped "
        "cross-validation ran, else on the validation songs (see Results). R² is 0 for always "
        "predicting the training mean (the baseline) and 1 for perfect; MSE / baseline &lt; 1 "
        "beats it. Details, every model and the figures follow.</p>"
    )
    return "\n".join(parts)


def _image_caption(image_name: str) -> str:
    """`` (MFCC)`` for ``mfcc.png`` of a folder of figures; nothing for a single image."""
    return f" ({html.escape(display_name(image_name.removesuffix('.png')))})" if image_name else ""


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
        ("answer", "The answer", _answer_section(results_table, context, cv_metrics,
                                                  corpus_metrics)),
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
                f"{_image_caption(image_name)}</figcaption></figure>"
                for image_name, data in images
            )
        sections.append((name, heading, body))
    (answer_anchor, answer_heading, answer), details = sections[0], sections[1:]
    nav = " ".join(
        f'<a href="#{anchor}">{html.escape(heading)}</a>' for anchor, heading, _ in details
    )
    content = "\n".join(
        f'<section id="{anchor}"><h2>{html.escape(heading)}</h2>\n{body}</section>'
        for anchor, heading, body in details
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
        f'<section id="{answer_anchor}" class="answer"><h2>{html.escape(answer_heading)}</h2>\n'
        f"{answer}</section>\n<nav>Details: {nav}</nav>\n{content}\n</body></html>\n"
    )
