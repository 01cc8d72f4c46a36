"""Nodes: frame-length choice, streamed statistics, the baseline, training, evaluation."""

import math

import numpy as np
import pandas as pd
import pytest

from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.datasets import FrameSplit
from soundtrack_emotion.exceptions import (
    DataValidationError,
    ParameterError,
    TrainingDivergedError,
)
from soundtrack_emotion.pipelines.modelling.heads import split_residuals
from soundtrack_emotion.pipelines.modelling.nodes import (
    CALIBRATION_N,
    HISTORY_COLUMNS,
    MODEL_METRICS_COLUMNS,
    ModelSpec,
    calibrate_intervals,
    collect_model_metrics,
    column_weights,
    evaluate_model,
    fit_feature_normaliser,
    fit_mean_baseline,
    predict_test_split,
    select_frame_length,
    train_model,
)
from soundtrack_emotion.runtime.feature_settings import ExtractionParams
from soundtrack_emotion.runtime.provenance import current_model_metrics

from .conftest import (
    collect_current,
    corpus_table,
    feature_parameters,
    with_provenance,
    write_model_inputs,
)

CNN_VALENCE = ModelSpec("mfcc", "cnn", "valence")


def test_select_frame_length(corpus, tmp_path):
    longer = write_model_inputs(tmp_path / "mfcc_30s", frame_shape=(12, 4)).inputs
    assert select_frame_length(15, corpus.inputs, longer) is corpus.inputs
    assert select_frame_length(30, corpus.inputs, longer) is longer
    with pytest.raises(ParameterError, match="must be one of \\[15, 30\\], got 20"):
        select_frame_length(20, corpus.inputs, longer)


def test_select_frame_length_rejects_empty_split(tmp_path):
    from soundtrack_emotion.datasets import ModelInputDataset

    dataset = ModelInputDataset(path=str(tmp_path / "empty"))
    dataset.save({"train": [], "validation": [], "test": []})
    with pytest.raises(DataValidationError, match="no frames in split"):
        select_frame_length(15, dataset.load(), dataset.load())


def test_normaliser_streams_shards_and_matches_whole_array(corpus, monkeypatch):
    frames = corpus.frames["train"]
    assert corpus.inputs.train.n_frames == len(frames) > 16  # several shards of 16 frames
    _forbid_whole_frame_columns(monkeypatch)
    stats = fit_feature_normaliser(corpus.inputs)
    flat = frames.reshape(-1, frames.shape[-1]).astype(np.float64)
    np.testing.assert_allclose(stats["mean"], flat.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(stats["variance"], flat.var(axis=0), rtol=1e-6)


def test_fusion_members_weigh_alike_and_other_families_are_unweighted(corpus):
    settings = feature_parameters()
    weights = np.asarray(column_weights("fusion", settings, "family"))
    groups = ExtractionParams.from_dict(settings).family("fusion").column_groups()
    assert dict(zip(*np.unique(groups, return_counts=True), strict=True)) == {
        "musicnn": 250, "harmony": 40, "key_cnn": 3, "interactions": 100}  # fmt: skip
    totals = {g: float((weights[np.asarray(groups) == g] ** 2).sum()) for g in set(groups)}
    assert np.allclose(list(totals.values()), len(weights) / 4)
    assert column_weights("fusion", settings, "column") is None
    assert column_weights("mfcc", settings, "family") is None
    with pytest.raises(ParameterError, match=r"modelling\.column_balance must be one of"):
        column_weights("fusion", settings, "families")
    # Inputs framed before the family changed: refused, not silently misweighted.
    with pytest.raises(DataValidationError, match="older than the family's settings"):
        fit_feature_normaliser(corpus.inputs, settings, "family",
                               spec=ModelSpec("fusion", "ridge", "valence"))  # fmt: skip
    plain = fit_feature_normaliser(corpus.inputs, settings, "family", spec=CNN_VALENCE)
    assert plain["weights"] == [1.0] * len(plain["mean"])


def test_mean_baseline_is_training_label_mean(corpus):
    baseline = fit_mean_baseline(corpus.inputs)
    assert list(baseline) == list(VAD_LABELS)
    np.testing.assert_allclose(
        list(baseline.values()), corpus.labels["train"].mean(axis=0, dtype=np.float64)
    )


def _forbid_whole_frame_columns(monkeypatch):
    """Fail if anything reads the frames of a whole split at once."""
    original = FrameSplit._column

    def column(self, name):
        if name == "frames":
            raise AssertionError("materialised every frame of a split")
        return original(self, name)

    monkeypatch.setattr(FrameSplit, "_column", column)


def _train(corpus, networks, spec=CNN_VALENCE, seed=7, tensorboard_dir="tb"):
    normaliser = fit_feature_normaliser(corpus.inputs)
    return train_model(
        corpus.inputs, normaliser, networks[spec.network], seed, str(tensorboard_dir), spec=spec
    )


def test_training_streams_batches_no_larger_than_a_shard(
    corpus, tiny_networks, monkeypatch, tmp_path
):
    _forbid_whole_frame_columns(monkeypatch)
    seen = []
    original = FrameSplit.iter_chunks

    def iter_chunks(self, **kwargs):
        for chunk in original(self, **kwargs):
            seen.append((self.path.name, len(chunk)))
            yield chunk

    monkeypatch.setattr(FrameSplit, "iter_chunks", iter_chunks)
    _, history = _train(corpus, tiny_networks, tensorboard_dir=tmp_path)
    train_chunks = [n for split, n in seen if split == "train"]
    assert max(train_chunks) <= 16
    # the normaliser's pass plus one pass per epoch over every training frame
    assert sum(train_chunks) == corpus.inputs.train.n_frames * (1 + len(history))


def test_training_history_and_tensorboard(corpus, tiny_networks, tmp_path):
    model, history = _train(corpus, tiny_networks, tensorboard_dir=tmp_path / "tb")
    assert tuple(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == list(range(1, len(history) + 1))
    assert 1 <= len(history) <= tiny_networks["cnn"]["training"]["epochs"]
    assert np.isfinite(history[["loss", "val_loss", "mae", "val_mae"]].to_numpy()).all()
    logs = list((tmp_path / "tb" / "mfcc_cnn" / "valence").rglob("events.out.tfevents.*"))
    assert logs, "no TensorBoard event file written"
    assert model.output_shape == (None, 1)


def test_rerun_with_same_seed_gives_same_results(corpus, tiny_networks, tmp_path):
    spec = ModelSpec("mfcc", "transformer", "joint")  # dropout and shuffling both seeded
    runs = []
    for _ in range(2):
        model, history = _train(corpus, tiny_networks, spec=spec, tensorboard_dir=tmp_path)
        runs.append((history, predict_test_split(model, corpus.inputs, 5, spec=spec)))
    (history_a, predictions_a), (history_b, predictions_b) = runs
    columns = ["loss", "val_loss", "mae", "val_mae"]
    pd.testing.assert_frame_equal(history_a[columns], history_b[columns])
    pd.testing.assert_frame_equal(predictions_a, predictions_b)
    other, _ = _train(corpus, tiny_networks, spec=spec, seed=8, tensorboard_dir=tmp_path)
    other_predictions = predict_test_split(other, corpus.inputs, 5, spec=spec)
    assert not np.allclose(other_predictions["predicted"], predictions_a["predicted"])


def test_bad_training_parameters_raise(corpus, tiny_networks):
    tiny_networks["cnn"]["training"]["batch_size"] = 0
    with pytest.raises(ParameterError, match="batch_size must be an integer >= 1, got 0"):
        _train(corpus, tiny_networks)


def test_diverging_training_raises_a_clear_error(corpus, tiny_networks, tmp_path):
    tiny_networks["cnn"]["training"]["learning_rate"] = 1e30
    with pytest.raises(TrainingDivergedError, match=r"mfcc_cnn\.valence diverged.*learning_rate"):
        _train(corpus, tiny_networks, tensorboard_dir=tmp_path)


def test_predictions_cover_every_test_frame_and_label(corpus, tiny_networks, tmp_path):
    spec = ModelSpec("mfcc", "lstm", "joint")
    model, _ = _train(corpus, tiny_networks, spec=spec, tensorboard_dir=tmp_path)
    predictions = predict_test_split(model, corpus.inputs, 4, spec=spec)
    assert list(predictions.columns) == ["song_id", "frame_index", "label", "true", "predicted"]
    n_test = corpus.inputs.test.n_frames
    assert len(predictions) == 3 * n_test
    for j, label in enumerate(VAD_LABELS):
        rows = predictions[predictions["label"] == label]
        order = np.lexsort((corpus_index := np.arange(n_test) % 3, corpus.song_id["test"]))
        np.testing.assert_allclose(rows["true"], corpus.labels["test"][order, j], rtol=1e-6)
        assert rows["frame_index"].tolist() == corpus_index[order].tolist()
    # the same frames predicted in one batch give the same values as in batches of 4
    frames = corpus.frames["test"]
    whole = np.clip(model.predict_on_batch(frames)[:, 0], 0.0, 1.0)  # clipped, as inference
    valence = predictions[predictions["label"] == "valence"]
    order = np.lexsort((np.arange(n_test) % 3, corpus.song_id["test"]))
    np.testing.assert_allclose(valence["predicted"], whole[order], rtol=1e-4, atol=1e-6)


def _history(val_losses):
    n = len(val_losses)
    return pd.DataFrame(
        {
            "epoch": range(1, n + 1),
            "loss": val_losses,
            "val_loss": val_losses,
            "mae": val_losses,
            "val_mae": val_losses,
            "val_song_loss": val_losses,
            "seconds": [2.0] * n,
        }
    )


def test_evaluate_frame_and_song_level_against_baseline():
    # two songs of two frames; song level averages the frames' predictions
    predictions = pd.DataFrame(
        {
            "song_id": ["a", "a", "b", "b"],
            "frame_index": [0, 1, 0, 1],
            "label": "valence",
            "true": [0.2, 0.2, 0.8, 0.8],
            "predicted": [0.1, 0.5, 0.7, 0.7],
        }
    )
    report = evaluate_model(
        predictions, {"valence": 0.4}, _history([0.3, 0.1, 0.2]), 15, spec=CNN_VALENCE
    )
    assert report["training"] == {
        "epochs": 3,
        "best_epoch": 2,
        "best_val_loss": 0.1,
        "train_seconds": 6.0,
        "train_song_loss": None,  # needs the model and its inputs
        "val_song_loss": None,
    }
    frame, song = report["metrics"]
    assert (frame["level"], frame["n"], song["level"], song["n"]) == ("frame", 4, "song", 2)
    assert frame["mse"] == pytest.approx((0.01 + 0.09 + 0.01 + 0.01) / 4)
    # song predictions 0.3 and 0.7 against 0.2 and 0.8
    assert song["mse"] == pytest.approx(0.01)
    assert song["r2"] == pytest.approx(1 - 0.02 / 0.18)
    # the baseline predicts 0.4 everywhere: errors 0.2 and 0.4
    assert song["baseline_mse"] == pytest.approx((0.04 + 0.16) / 2)
    assert song["baseline_mae"] == pytest.approx(0.3)
    assert song["baseline_r2"] == pytest.approx(1 - 0.20 / 0.18)
    assert song["baseline_pearson_r"] is None  # undefined for a constant prediction
    assert song["baseline_ccc"] == 0.0


def test_collect_model_metrics_schema():
    predictions = pd.DataFrame(
        {
            "song_id": ["a", "b", "c"],
            "frame_index": [0, 0, 0],
            "label": "valence",
            "true": [0.2, 0.5, 0.8],
            "predicted": [0.3, 0.5, 0.6],
        }
    )
    spec = ModelSpec("mfcc", "lstm", "valence")
    report = evaluate_model(predictions, {"valence": 0.5}, _history([0.2]), 30, spec=spec)
    worse_on_validation = {**report["training"], "best_val_loss": 0.5}
    table = collect_current({}, {**report, "network": "cnn"},
                            {**report, "training": worse_on_validation})  # fmt: skip
    assert tuple(table.columns) == MODEL_METRICS_COLUMNS
    assert len(table) == 4
    # ranked by validation loss (the choice), song level first
    assert table["network"].tolist() == ["cnn", "cnn", "lstm", "lstm"]
    assert table["rank"].tolist() == [1, 1, 2, 2]
    assert table["frame_seconds"].dtype == np.int64
    assert math.isnan(table["baseline_pearson_r"].iloc[0])
    assert (table["r2"] > table["baseline_r2"]).all()

    # a cross-validated model outranks a lower validation loss: its CV R² is in the table
    ridge = {**report, "network": "ridge", "training": worse_on_validation,
             "cross_validation": [{"label": "valence", "r2_mean": 0.25, "r2": 0.24}]}  # fmt: skip
    table = collect_current({}, {**report, "network": "cnn"}, ridge)
    assert table["network"].tolist() == ["ridge", "ridge", "cnn", "cnn"]
    assert table["cv_r2_mean"].tolist()[::2] == [0.25, pytest.approx(math.nan, nan_ok=True)]
    # a joint model's figure is its label's; a label it was not cross-validated on has none
    arousal = [{**row, "label": "arousal"} for row in report["metrics"]]
    joint = {**report, "network": "ridge", "target": "joint",
             "metrics": [*report["metrics"], *arousal],
             "cross_validation": [{"label": "valence", "r2_mean": 0.1},
                                  {"label": "arousal", "r2_mean": None}]}  # fmt: skip
    table = collect_current({}, joint).set_index(["label", "level"])["cv_r2_mean"]
    assert table[("valence", "song")] == 0.1 and math.isnan(table[("arousal", "song")])


def test_collect_model_metrics_includes_every_report_of_the_folder_once():
    predictions = pd.DataFrame(
        {
            "song_id": ["a", "b", "c"],
            "frame_index": [0, 0, 0],
            "label": "valence",
            "true": [0.2, 0.5, 0.8],
            "predicted": [0.3, 0.5, 0.6],
        }
    )
    report = evaluate_model(predictions, {"valence": 0.5}, _history([0.2]), 30, spec=CNN_VALENCE)
    stale = {**report, "training": {**report["training"], "epochs": 99}}
    elsewhere = {**report, "network": "transformer"}  # trained by an earlier modelling_all run
    folder = {"mfcc_cnn/valence": lambda: stale, "mfcc_transformer/valence": lambda: elsewhere}

    table = collect_current(folder, report)

    assert len(table) == 2 * 2  # two models at two levels, the CNN once
    assert table["network"].tolist() == ["cnn", "cnn", "transformer", "transformer"]
    assert table["epochs"].tolist() == [report["training"]["epochs"]] * 4  # this run's report wins
    with pytest.raises(DataValidationError, match="'notes/readme'"):
        collect_model_metrics(
            {"notes/readme": lambda: {"text": "not a report"}}, corpus_table(), feature_parameters()
        )


@pytest.mark.slow
@pytest.mark.parametrize("network", ["cnn", "transformer"])
def test_models_learn_the_signal_and_beat_the_baseline(network, tiny_networks, tmp_path):
    corpus = write_model_inputs(tmp_path / "mfcc_15s", frames_per_song=4)
    tiny_networks[network]["training"].update(epochs=60, patience=10, learning_rate=0.003)
    spec = ModelSpec("mfcc", network, "joint")
    model, history = _train(corpus, tiny_networks, spec=spec, tensorboard_dir=tmp_path)
    predictions = predict_test_split(model, corpus.inputs, 32, spec=spec)
    baseline = fit_mean_baseline(corpus.inputs)
    report = evaluate_model(predictions, baseline, history, 15, spec=spec)
    for row in report["metrics"]:
        assert row["r2"] > row["baseline_r2"] + 0.3, row
        if row["level"] == "song":
            assert row["r2"] > 0.6, row


def test_models_of_another_corpus_or_other_features_are_stale_never_mixed_in():
    """Switch the corpus: the models trained on the old one leave model_metrics and are listed
    as stale with the reason; a table written before the switch is filtered the same way."""
    predictions = pd.DataFrame(
        {"song_id": ["a", "b", "c"], "frame_index": [0, 0, 0], "label": "valence",
         "true": [0.2, 0.5, 0.8], "predicted": [0.3, 0.5, 0.6]}
    )  # fmt: skip
    report = evaluate_model(predictions, {"valence": 0.5}, _history([0.2]), 30, spec=CNN_VALENCE)
    old_corpus, new_corpus = corpus_table(seed=0), corpus_table(seed=1)
    old = with_provenance(report, old_corpus, is_demo=True)
    new = with_provenance({**report, "network": "ridge"}, new_corpus, is_demo=False)
    features = feature_parameters()

    on_old, stale_old = collect_model_metrics({}, old_corpus, features, old, new)
    assert set(on_old["network"]) == {"cnn"} and set(on_old["corpus_kind"]) == {"demo"}
    assert stale_old["network"].tolist() == ["ridge"]

    table, stale = collect_model_metrics({}, new_corpus, features, old, new)
    assert set(table["network"]) == {"ridge"} and set(table["corpus_kind"]) == {"real"}
    assert stale[["network", "corpus_kind"]].values.tolist() == [["cnn", "demo"]]
    assert "another corpus" in stale["reason"].iloc[0]

    # reporting/inference after the switch, with the model_metrics written before it
    current, listed = current_model_metrics(on_old, new_corpus, features)
    assert current.empty and listed["network"].tolist() == ["cnn"]

    # other MFCC parameters: stale too, with that reason
    changed = {**features, "mfcc": {**features["mfcc"], "n_mfcc": features["mfcc"]["n_mfcc"] + 1}}
    table, stale = collect_model_metrics({}, new_corpus, changed, new)
    assert table.empty and "other parameters" in stale["reason"].iloc[0]

    # a report from before provenance was recorded is never taken as current
    table, stale = collect_model_metrics({}, new_corpus, features, report)
    assert table.empty and "no provenance" in stale["reason"].iloc[0]


# ------------------------------------------------------------------ prediction intervals


def test_ridge_is_calibrated_on_songs_it_was_not_fitted_on(corpus, tiny_networks, tmp_path):
    """The saved ridge is refitted on the validation songs: its half-widths come from the fit
    on the training songs alone, whose validation residuals are larger than the refit's."""
    spec = ModelSpec("mfcc", "ridge", "joint")
    model, _ = _train(corpus, tiny_networks, spec=spec, tensorboard_dir=tmp_path)
    normaliser = fit_feature_normaliser(corpus.inputs)
    calibration = calibrate_intervals(model, corpus.inputs, normaliser, tiny_networks["ridge"],
                                      {"levels": [0.9, 0.5]}, spec=spec)  # fmt: skip
    assert calibration["levels"] == [0.5, 0.9]
    assert calibration["calibrated"] == "the fit on the training songs alone"
    rows = {(r["label"], r["level"]): r for r in calibration["rows"]}
    assert set(rows) == {(label, level) for label in VAD_LABELS for level in ("frame", "song")}
    n_songs = len(np.unique(corpus.song_id["validation"]))
    for label in VAD_LABELS:
        song = rows[(label, "song")]
        assert song["calibration_n"] == n_songs
        assert rows[(label, "frame")]["calibration_n"] == len(corpus.song_id["validation"])
        assert 0 <= song["halfwidth_50"] <= song["halfwidth_90"]
    # the refit's in-sample residuals: a smaller median than the held-out fit's
    in_sample = split_residuals(model, corpus.inputs.validation, spec.labels).song
    held_out = [rows[(label, "song")]["halfwidth_50"] for label in VAD_LABELS]
    assert np.median(in_sample, axis=0).sum() < sum(held_out)


def test_cross_validated_songs_calibrate_the_song_level(corpus, tiny_networks, tmp_path):
    """With the grouped CV's out-of-fold residuals, the song level reads them (every song of
    every repeat), the frame level still the validation frames."""
    spec = ModelSpec("mfcc", "ridge", "joint")
    model, _ = _train(corpus, tiny_networks, spec=spec, tensorboard_dir=tmp_path)
    normaliser = fit_feature_normaliser(corpus.inputs)
    songs = [f"s{i}" for i in range(40)]
    errors = np.random.default_rng(0).uniform(0, 0.3, size=(3, 40))
    residuals = pd.DataFrame({
        "label": "valence", "repeat": np.repeat(np.arange(3), 40), "song_id": songs * 3,
        "residual": errors.ravel(),
    })  # fmt: skip
    calibration = calibrate_intervals(
        model, corpus.inputs, normaliser, tiny_networks["ridge"], {"levels": [0.9]},
        cv_residuals=residuals, spec=spec,
    )  # fmt: skip
    rows = {(r["label"], r["level"]): r for r in calibration["rows"]}
    valence = rows[("valence", "song")]
    assert valence["calibration"] == "cross-validation" and valence[CALIBRATION_N] == 40
    assert valence["halfwidth_90"] == pytest.approx(
        np.quantile(errors, 37 / 40, method="inverted_cdf")
    )
    # labels without out-of-fold residuals, and every frame level, use the validation split
    assert rows[("arousal", "song")]["calibration"] == "validation"
    assert rows[("valence", "frame")]["calibration"] == "validation"
    assert rows[("arousal", "song")][CALIBRATION_N] == len(np.unique(corpus.song_id["validation"]))


def test_evaluate_measures_the_coverage_of_the_calibrated_half_widths():
    predictions = pd.DataFrame(
        {
            "song_id": ["a", "a", "b", "b", "c", "c"],
            "frame_index": [0, 1] * 3,
            "label": "valence",
            "true": [0.2, 0.2, 0.8, 0.8, 0.5, 0.5],
            "predicted": [0.1, 0.5, 0.7, 0.7, 0.1, 0.1],  # song errors 0.1, 0.1, 0.4
        }
    )
    calibration = {
        "method": "split conformal",
        "levels": [0.8, 0.9],
        "rows": [
            {"label": "valence", "level": "song", "calibration_n": 19,
             "halfwidth_80": 0.15, "halfwidth_90": math.inf},
            {"label": "valence", "level": "frame", "calibration_n": 38,
             "halfwidth_80": 0.1, "halfwidth_90": 0.35},
        ],
    }  # fmt: skip
    report = evaluate_model(predictions, {"valence": 0.4}, _history([0.1]), 15,
                            calibration=calibration, spec=CNN_VALENCE)  # fmt: skip
    frame, song = report["metrics"]
    assert song["coverage_80"] == pytest.approx(2 / 3)
    assert song["coverage_90"] == 1.0  # an infinite half-width covers every song
    # frame errors 0.1, 0.3, 0.1, 0.1, 0.4, 0.4
    assert frame["coverage_80"] == pytest.approx(3 / 6)
    assert frame["coverage_90"] == pytest.approx(4 / 6)
    assert (song["calibration_n"], frame["halfwidth_90"]) == (19, 0.35)
    assert report["intervals"] == {"method": "split conformal", "levels": [0.8, 0.9]}
    table = collect_current({}, report)
    assert list(table.columns[-5:]) == ["calibration_n", "halfwidth_80", "halfwidth_90",
                                        "coverage_80", "coverage_90"]  # fmt: skip
    assert table.loc[table["level"] == "song", "halfwidth_90"].item() == math.inf
