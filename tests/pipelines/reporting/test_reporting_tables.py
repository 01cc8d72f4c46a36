"""The results table (thesis Tables 5.2-5.4 extended), its Markdown and the HTML page."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from soundtrack_emotion.core.families import model_display_name
from soundtrack_emotion.core.metrics import selection_rank
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import DataValidationError
from soundtrack_emotion.pipelines.reporting.nodes import (
    RESULT_COLUMNS,
    build_html_report,
    build_results_table,
    describe_report,
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


def test_the_star_follows_the_cross_validated_r2_where_a_label_has_one(model_metrics):
    """As inference.model: best does: a cross-validated model before any lower validation
    loss; a label without CV figures keeps the validation loss's choice."""
    cv = np.where(
        (model_metrics["label"] == "valence") & (model_metrics["network"] == "lstm"),
        np.where(model_metrics["feature"] == "vggish", 0.3, 0.2), np.nan,
    )  # fmt: skip
    table = build_results_table(model_metrics.assign(cv_r2_mean=cv), levels=["song"])
    best = table[table["best"]].set_index("emotion")
    assert tuple(best.loc["valence", ["feature", "network"]]) == ("vggish", "lstm")
    plain = build_results_table(model_metrics, levels=["song"])
    other = plain[plain["best"]].set_index("emotion")
    assert tuple(other.loc["valence", ["feature", "network"]]) != ("vggish", "lstm")
    for label in ("arousal", "dominance"):
        assert best.loc[label, "network"] == other.loc[label, "network"]
        assert best.loc[label, "feature"] == other.loc[label, "feature"]
    text = results_markdown(table)
    assert "highest mean R² of the repeated artist-grouped cross-validation" in text
    # the figure that chose it is shown beside the test figures, where there is one
    assert "| CV R² (the choice) |" in text and "| ★ **LSTM** | **VGGish** |" in text
    assert "| 0.300 |" in text.split("### Valence")[1].split("###")[0].replace("**", "")
    assert "CV R²" not in results_markdown(plain)


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
    # the answer's, 6 results tables (2 levels x 3 emotions) + the dataset report's 4 (loose
    # values, counts, dropped tracks, splits).
    assert page.count("<table>") == 11
    assert page.count('<tr class="best">') == 6
    assert '<td class="text">kept</td><td class="">97</td>' in page
    assert "<h3>Dropped (2)</h3>" in page and ">no_audio_file</td>" in page
    assert '<td class="text">lexicon</td><td class="text">NRC-VAD</td>' in page
    assert "Predicted vs true on the test set" in page and "(VGGish)" in page


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


class _Sections(HTMLParser):
    """The page's top-level sections in order: (id, text), and the tags seen before each."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[tuple[str, str]] = []
        self.order: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._depth += 1
            if self._depth == 1:
                self.sections.append((dict(attrs).get("id") or "", ""))
        if tag in ("nav", "section") and self._depth <= 1:
            self.order.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth and self.sections:
            anchor, text = self.sections[-1]
            self.sections[-1] = (anchor, text + data + " ")


def _context(model_metrics, soundtracks, *, demo: bool) -> dict:
    modelling = {"frame_seconds": 15, "seed": 7,
                 "networks": {"cnn": {"training": {"epochs": 4, "optimiser": {"lr": 0.001}}}}}
    stale = pd.DataFrame(columns=["feature", "network", "target", "corpus_kind", "reason"])
    return describe_report(model_metrics, stale, soundtracks.assign(corpus="lastfm"), demo,
                           modelling)  # fmt: skip


def test_html_report_leads_with_the_model_chosen_per_label_its_interval_and_the_corpus(
    model_metrics, soundtracks
):
    metrics = model_metrics.assign(r2_ci_low=0.02, r2_ci_high=0.3, baseline_r2=-0.01)
    metrics.loc[metrics["label"] == "valence", ["r2_ci_low", "r2_ci_high"]] = (-0.1, 0.25)
    table = build_results_table(metrics, levels=["frame", "song"])
    context = _context(metrics, soundtracks, demo=False)

    page = build_html_report(table, {}, title="t", context=context)

    parser = _Sections()
    parser.feed(page)
    assert parser.order[:2] == ["section", "nav"]  # the answer comes before every detail
    anchor, answer = parser.sections[0]
    assert anchor == "answer" and "DEMO" not in answer
    chosen = metrics[(metrics["level"] == "song") & (selection_rank(metrics) == 1)]
    assert len(chosen) == len(VAD_LABELS)
    for row in chosen.itertuples():
        name = model_display_name(row.feature, row.network, row.target)
        assert re.search(rf"{row.label.capitalize()}\s+{name}\s+0\.10 \[", answer), answer
    assert "0.10 [-0.10, 0.25]" in answer and "0.10 [0.02, 0.30]" in answer
    assert "-0.01" in answer  # the baseline
    assert "lastfm (30 tracks)" in answer and "20 train" in answer
    assert "Valence: not shown to beat predicting the mean" in answer
    assert "Arousal and dominance: the chosen model beats predicting the training mean" in answer
    assert "Configuration" not in answer and "Seed" not in answer


def test_html_report_of_demo_models_puts_the_demo_banner_in_the_answer(model_metrics, soundtracks):
    table = build_results_table(model_metrics, levels=["song"])
    page = build_html_report(table, {}, title="t",
                             context=_context(model_metrics, soundtracks, demo=True))  # fmt: skip
    parser = _Sections()
    parser.feed(page)
    answer = parser.sections[0][1]
    assert answer.index("DEMO: synthetic data") < answer.index("Model to use")
    assert "mean nothing about how well the models rate real music" in answer
    assert "synthetic demo corpus" in answer


def test_html_report_shows_cross_validation_per_corpus_and_coverage_in_the_answer(model_metrics):
    metrics = model_metrics.assign(interval_coverage=0.9)
    table = build_results_table(metrics, levels=["song"])
    chosen = table[table["best"]].iloc[0]
    key = {k: chosen[k] for k in ("feature", "network", "target")} | {"label": chosen["emotion"]}
    cv = pd.DataFrame([{**key, "folds": 5, "repeats": 4, "n_songs": 150, "n_groups": 60,
                        "r2": 0.21, "r2_mean": 0.2, "r2_sd": 0.03, "pearson_r_mean": 0.5,
                        "ccc_mean": 0.4, "r2_ci_low": 0.1, "r2_ci_high": 0.3,
                        "baseline_r2": -0.01, "note": ""}])  # fmt: skip
    nan = float("nan")
    corpora = pd.DataFrame([
        {**key, "corpus": "real_music_dev", "n_songs": 40, "r2": 0.2, "r2_ci_low": 0.05,
         "r2_ci_high": 0.33, "pearson_r": 0.5, "pearson_r_ci_low": 0.3,
         "pearson_r_ci_high": 0.6, "auc": nan, "auc_ci_low": nan, "auc_ci_high": nan},
        {**key, "corpus": "real_music_dev_4q", "n_songs": 90, "r2": nan, "r2_ci_low": nan,
         "r2_ci_high": nan, "pearson_r": nan, "pearson_r_ci_low": nan,
         "pearson_r_ci_high": nan, "auc": 0.78, "auc_ci_low": 0.7, "auc_ci_high": 0.85},
    ])  # fmt: skip

    page = build_html_report(table, {}, title="t", cv_metrics=cv, corpus_metrics=corpora)

    parser = _Sections()
    parser.feed(page)
    answer = parser.sections[0][1]
    assert "0.20 ± 0.03 (4 x 5 folds)" in answer and "not cross-validated" in answer
    assert "real_music_dev: R² 0.20 [0.05, 0.33]; real_music_dev_4q: AUC 0.78 [0.70, 0.85]" in (
        answer
    )
    assert "Interval coverage" in answer and " 90% " in answer


def test_html_report_renders_nested_report_records_as_tables_never_as_python_dicts(
    model_metrics, soundtracks
):
    dataset_report = {
        "counts": {"crawled": 12, "kept": 9},
        "dropped_by_reason": {"no_audio_file": 3},
        "tag_filter": {
            "tag_filter": "affect",
            "label_weight_removed_share": 0.12,
            "dropped_weight_share_by_class": {"genre": 0.1, "stop_listed": 0.02},
            "heaviest_dropped_tags": [
                {"tag": "rock", "class": "genre", "rule": "genre list", "weight_share": 0.08,
                 "n_tracks": 5, "in_lexicon": True},
                {"tag": "{'odd'}", "class": "other", "rule": "", "weight_share": 0.01,
                 "n_tracks": 1, "in_lexicon": False},
            ],
        },
        "labels": {label: {"mean": 0.5, "std": 0.1, "min": 0.1, "max": 0.9}
                   for label in VAD_LABELS},
        "dropped": [{"id": "a", "reason": "no_audio_file", "detail": {"path": "x.mp3"}}],
    }  # fmt: skip
    page = build_html_report(
        build_results_table(model_metrics, levels=["song"]), dataset_report, title="t",
        context=_context(model_metrics, soundtracks, demo=True),
    )  # fmt: skip

    assert not re.search(r"\{'|\['|\{\"", page.replace("{&#x27;odd&#x27;}", "")), "raw dict"
    assert "<h3>Tag filter: heaviest dropped tags (2)</h3>" in page
    assert "<th class=\"text\">tag</th><th class=\"text\">class</th>" in page
    assert '<td class="text">rock</td><td class="text">genre</td>' in page
    assert '<td class="text">valence</td><td class="">0.5</td><td class="">0.1</td>' in page
    assert "dropped weight share by class: genre" in page and ">path x.mp3<" in page
    assert "Training CNN" in page and "epochs 4, optimiser lr 0.001" in page
