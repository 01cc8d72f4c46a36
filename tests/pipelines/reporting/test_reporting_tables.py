"""The results table (thesis Tables 5.2-5.4 extended), its Markdown and the HTML page."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import DataValidationError
from soundtrack_emotion.pipelines.reporting.nodes import (
    RESULT_COLUMNS,
    build_html_report,
    build_results_table,
    results_markdown,
)


def test_results_table_marks_the_model_chosen_on_validation_not_the_lowest_test_mse(
    model_metrics,
):
    table = build_results_table(model_metrics, levels=["frame", "song"])

    assert list(table.columns) == list(RESULT_COLUMNS)
    assert len(table) == len(model_metrics)
    best = table[table["best"]].set_index(["level", "emotion"])[["feature", "network"]]
    chosen = {
        "valence": ("mfcc", "cnn"),
        "arousal": ("vggish", "lstm"),
        "dominance": ("vggish", "cnn"),
    }  # lowest validation loss (conftest)
    assert {key: tuple(row.values()) for key, row in best.to_dict("index").items()} == {
        (level, label): chosen[label] for level in ("frame", "song") for label in VAD_LABELS
    }  # fmt: skip


def test_results_table_is_in_thesis_order_with_baseline_columns(model_metrics):
    table = build_results_table(model_metrics, levels=["frame"])

    assert set(table["level"]) == {"frame"}
    assert list(dict.fromkeys(table["emotion"])) == list(VAD_LABELS)
    valence = table[table["emotion"] == "valence"]
    # Thesis Table 5.2 order: CNN MFCC, LSTM MFCC, CNN VGGish, LSTM VGGish.
    assert list(zip(valence["network"], valence["feature"], strict=True)) == [
        ("cnn", "mfcc"),
        ("lstm", "mfcc"),
        ("cnn", "vggish"),
        ("lstm", "vggish"),
    ]
    np.testing.assert_allclose(table["baseline_mse"], 0.02)
    np.testing.assert_allclose(table["baseline_mae"], 0.11)
    np.testing.assert_allclose(table["mse_to_baseline"], table["mse"] / 0.02)


def test_results_table_rejects_missing_columns_and_unknown_levels(model_metrics):
    with pytest.raises(DataValidationError, match="baseline_mse"):
        build_results_table(model_metrics.drop(columns="baseline_mse"), levels=["frame"])
    with pytest.raises(DataValidationError, match="episode"):
        build_results_table(model_metrics, levels=["episode"])


def test_results_table_of_no_models_is_empty(model_metrics):
    table = build_results_table(model_metrics.iloc[:0], levels=["frame"])
    assert table.empty
    assert "No trained models yet" in results_markdown(table)


def test_markdown_has_one_table_per_emotion_with_the_best_row_starred(model_metrics):
    text = results_markdown(build_results_table(model_metrics, levels=["frame"]))

    assert [h for h in text.splitlines() if h.startswith("### ")] == [
        "### Valence (15 s frames)",
        "### Arousal (15 s frames)",
        "### Dominance (15 s frames)",
    ]
    header = next(line for line in text.splitlines() if line.startswith("| Network"))
    for column in ("MSE", "MAE", "R²", "Pearson r", "Baseline MSE", "Baseline MAE"):
        assert f"| {column} |" in header
    assert "| Trained on |" not in header  # every model was trained on the label it shows
    starred = [line for line in text.splitlines() if line.startswith("| ★")]
    assert len(starred) == 3
    assert starred[0].startswith("| ★ **CNN** | **MFCC** | **valence** | **0.01500** |")
    assert "lowest song-level validation MSE" in text
    # Header + one row per model in each table (4 models, 3 emotions).
    assert len([line for line in text.splitlines() if re.match(r"\| (★ )?\**[A-Z]", line)]) == 3 * 5


def test_markdown_names_the_training_target_when_a_model_learnt_several_labels(
    model_metrics, make_metric_row
):
    joint = make_metric_row("mfcc", "cnn", "joint", "arousal", "frame", 0.001)
    table = build_results_table(
        pd.concat([model_metrics, pd.DataFrame([joint])], ignore_index=True), levels=["frame"]
    )
    text = results_markdown(table)

    assert "| Trained on |" in text
    # a model of the label alone is chosen over the joint one, whatever their test MSE
    assert "| CNN | MFCC | joint (V, A, D) | arousal | 0.00100 |" in text
    assert "| ★ **LSTM** | **VGGish** | **arousal** | **arousal** |" in text


def _png(color: str) -> Image.Image:
    return Image.new("RGB", (12, 8), color=color)


def _sources(page: str) -> list[str]:
    return re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', page, flags=re.IGNORECASE)


def test_html_report_is_self_contained_with_tables_figures_and_counts(model_metrics):
    table = build_results_table(model_metrics, levels=["frame", "song"])
    dataset_report = {
        "counts": {"crawled": 120, "kept": 97},
        "dropped": [
            {"id": "a", "reason": "no_tags"},
            {"id": "b", "reason": "no_audio_file"},
        ],
        "splits": {"train": 80, "test": 17},
        "lexicon": "NRC-VAD",
    }

    page = build_html_report(
        table,
        dataset_report,
        title="Report <demo>",
        vad_histograms=_png("red"),
        predicted_vs_true={"mfcc.png": lambda: _png("blue"), "vggish.png": lambda: _png("green")},
    )

    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Report &lt;demo&gt;</title>" in page
    sources = _sources(page)
    assert sources, "expected embedded images and anchors"
    assert all(s.startswith(("data:image/png;base64,", "#")) for s in sources)
    assert "<link" not in page and "<script" not in page and "@import" not in page
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) == 3
    # 6 results tables (2 levels x 3 emotions) + the dataset report's 4 (loose values, counts,
    # dropped tracks, splits).
    assert page.count("<table>") == 10
    assert page.count('<tr class="best">') == 6
    assert '<td class="text">kept</td><td class="">97</td>' in page
    assert "<h3>Dropped (2)</h3>" in page and ">no_audio_file</td>" in page
    assert '<td class="text">lexicon</td><td class="text">NRC-VAD</td>' in page
    assert "Predicted vs true on the test set" in page and "(vggish)" in page


def test_html_report_embeds_the_images_it_is_given(model_metrics):
    page = build_html_report(
        build_results_table(model_metrics.iloc[:0], levels=["frame"]),
        pd.DataFrame({"split": ["train", "test"], "tracks": [8, 2]}),
        title="t",
        vad_scatter_3d=_png("red"),
    )

    payload = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    image = Image.open(io.BytesIO(base64.b64decode(payload)))
    assert image.size == (12, 8) and image.getpixel((0, 0)) == (255, 0, 0)
    assert "No trained models yet" in page
    assert '<td class="text">train</td><td class="">8</td>' in page


def test_html_report_shows_the_grouped_cross_validation(model_metrics):
    table = build_results_table(model_metrics, levels=["song"])
    cv = pd.DataFrame(
        [
            {"feature": "mfcc", "network": "ridge", "target": "valence", "label": "valence",
             "folds": 5, "repeats": 5, "n_songs": 150, "n_groups": 60, "r2": 0.21,
             "r2_mean": 0.2, "r2_sd": 0.03, "pearson_r_mean": 0.5, "ccc_mean": 0.4,
             "r2_ci_low": 0.1, "r2_ci_high": 0.3, "baseline_r2": -0.01, "note": ""},
            {"feature": "mfcc", "network": "lstm", "target": "valence", "label": "valence",
             "folds": 5, "repeats": 5, "n_songs": 150, "n_groups": 0, "r2": np.nan,
             "r2_mean": np.nan, "r2_sd": np.nan, "pearson_r_mean": np.nan,
             "ccc_mean": np.nan, "r2_ci_low": np.nan, "r2_ci_high": np.nan,
             "baseline_r2": np.nan, "note": "not cross-validated: costly"},
        ]
    )  # fmt: skip
    page = build_html_report(table, {}, title="t", cv_metrics=cv)
    assert "Grouped cross-validation" in page and "5 x 5 folds, 150 songs" in page
    assert "[0.100, 0.300]" in page and "not cross-validated: costly" in page
    assert "Grouped cross-validation" not in build_html_report(table, {}, title="t")


def test_html_report_shows_each_corpus_with_the_figures_its_labels_allow(model_metrics):
    table = build_results_table(model_metrics, levels=["song"])
    rows = [
        {"feature": "musicnn", "network": "ridge", "target": "valence", "label": "valence",
         "corpus": "real_music_dev", "split": "test", "n_songs": 40, "r2": 0.21,
         "r2_ci_low": 0.05, "r2_ci_high": 0.33, "pearson_r": 0.5, "pearson_r_ci_low": 0.3,
         "pearson_r_ci_high": 0.6, "auc": np.nan, "auc_ci_low": np.nan, "auc_ci_high": np.nan},
        {"feature": "musicnn", "network": "ridge", "target": "valence", "label": "valence",
         "corpus": "real_music_dev_4q", "split": "test", "n_songs": 90, "r2": np.nan,
         "r2_ci_low": np.nan, "r2_ci_high": np.nan, "pearson_r": np.nan,
         "pearson_r_ci_low": np.nan, "pearson_r_ci_high": np.nan, "auc": 0.781,
         "auc_ci_low": 0.7, "auc_ci_high": 0.85},
    ]  # fmt: skip
    corpora = pd.DataFrame(rows)
    page = build_html_report(table, {}, title="t", corpus_metrics=corpora)
    assert "Per corpus" in page and "real_music_dev_4q" in page
    assert "0.781 [0.70, 0.85]" in page and "0.210 [0.05, 0.33]" in page
    one_corpus = build_html_report(table, {}, title="t", corpus_metrics=corpora.iloc[:1])
    assert "Per corpus" not in one_corpus
