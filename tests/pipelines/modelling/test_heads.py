"""The heads for small corpora: the closed-form ridge, the MLP, song-level early stopping,
clipping and the metrics' bootstrap intervals and ranking."""

import numpy as np
import pandas as pd
import pytest
from kedro_datasets.tensorflow import TensorFlowModelDataset

from soundtrack_emotion.core.metrics import bootstrap_intervals, r2
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import DataValidationError, ParameterError
from soundtrack_emotion.pipelines.modelling.heads import (
    clip_vad,
    closed_form_predictor,
    fit_closed_form,
    score_split,
    song_vectors,
)
from soundtrack_emotion.pipelines.modelling.nodes import (
    ModelSpec,
    evaluate_model,
    fit_feature_normaliser,
    fit_mean_baseline,
    predict_test_split,
    train_model,
)

from .conftest import collect_current, write_model_inputs


def _fit(corpus, networks, spec, tmp_path, seed=3):
    normaliser = fit_feature_normaliser(corpus.inputs)
    return train_model(
        corpus.inputs, normaliser, networks[spec.network], seed, str(tmp_path), spec=spec
    )


def _report(corpus, model, history, spec):
    predictions = predict_test_split(model, corpus.inputs, 32, spec=spec)
    baseline = fit_mean_baseline(corpus.inputs)
    return evaluate_model(
        predictions, baseline, history, 15, spec=spec, model=model, model_input=corpus.inputs
    )


def test_ridge_learns_the_signal_and_survives_a_safe_keras_round_trip(tiny_networks, tmp_path):
    corpus = write_model_inputs(tmp_path / "mfcc_15s", frames_per_song=4)
    spec = ModelSpec("mfcc", "ridge", "joint")
    model, history = _fit(corpus, tiny_networks, spec, tmp_path)
    assert list(history["epoch"]) == [1]
    report = _report(corpus, model, history, spec)
    for row in report["metrics"]:
        if row["level"] == "song":
            assert row["r2"] > 0.6 and row["r2"] > row["baseline_r2"] + 0.5, row
            assert row["r2_ci_low"] <= row["r2"] <= row["r2_ci_high"], row
    frames = corpus.frames["test"]
    dataset = TensorFlowModelDataset(filepath=str(tmp_path / "ridge.keras"))
    dataset.save(model)  # built-in layers only: loads with safe_mode=True
    np.testing.assert_allclose(
        dataset.load().predict_on_batch(frames), model.predict_on_batch(frames), rtol=1e-5
    )


def test_ridge_is_sklearn_ridge_refitted_on_the_training_and_validation_songs(
    tiny_networks, tmp_path
):
    import keras
    from sklearn.linear_model import Ridge

    corpus = write_model_inputs(tmp_path / "mfcc_15s", frames_per_song=3)
    tiny_networks["ridge"]["training"]["alphas"] = [2.5]
    spec = ModelSpec("mfcc", "ridge", "valence")
    model, _ = _fit(corpus, tiny_networks, spec, tmp_path)
    pooled = keras.Model(model.inputs, model.get_layer("pooled_standardiser").input)
    frames, labels, songs = (
        np.concatenate([part["train"], part["validation"]])
        for part in (corpus.frames, corpus.labels, corpus.song_id)
    )
    labels = labels[:, 0]
    per_frame = pooled.predict_on_batch(frames)
    order = sorted(set(songs))
    x = np.stack([per_frame[songs == s].mean(axis=0) for s in order])
    y = np.array([labels[songs == s][0] for s in order])
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    expected = Ridge(alpha=2.5).fit(z, y)
    weights, bias = model.get_layer("vad").get_weights()
    np.testing.assert_allclose(weights[:, 0], expected.coef_, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(bias, [expected.intercept_], rtol=1e-4)
    # linear: the mean of a song's frame predictions is its pooled-mean prediction
    song = songs == order[0]
    np.testing.assert_allclose(
        model.predict_on_batch(frames[song]).mean(),
        expected.predict(z[:1])[0],
        rtol=1e-3,
        atol=1e-4,
    )


def test_ridge_with_mean_pooling_fits_each_songs_mean_embedding(tiny_networks, tmp_path):
    import keras

    corpus = write_model_inputs(tmp_path / "mfcc_15s", frames_per_song=4)
    tiny_networks["ridge"]["architecture"] = {"pooling": "mean"}
    spec = ModelSpec("mfcc", "ridge", "valence")
    model, _ = _fit(corpus, tiny_networks, spec, tmp_path)
    pooled = keras.Model(model.inputs, model.get_layer("pooled_standardiser").input)
    assert pooled.output.shape[-1] == corpus.frames["train"].shape[-1]  # [F], not [2F]
    report = _report(corpus, model, history=_, spec=spec)
    song = next(row for row in report["metrics"] if row["level"] == "song")
    assert song["r2"] > 0.5, song


def test_standardised_targets_are_inverted_inside_the_saved_model(tiny_networks, tmp_path):
    corpus = write_model_inputs(tmp_path / "mfcc_15s", frames_per_song=4)
    tiny_networks["mlp"]["training"].update(standardise_targets=True, epochs=1)
    spec = ModelSpec("mfcc", "mlp", "joint")
    model, _ = _fit(corpus, tiny_networks, spec, tmp_path)
    output = model.get_layer("vad")
    labels = corpus.labels["train"]
    np.testing.assert_allclose(np.ravel(output.mean), labels.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.ravel(output.variance), labels.var(axis=0), rtol=1e-4)
    # the penalty is relative to the labels' variance (MSE is on the labels' scale)
    decay = model.get_layer("hidden").kernel_regularizer.l2
    weight_decay = tiny_networks["mlp"]["architecture"]["weight_decay"]
    assert decay == pytest.approx(weight_decay * labels.var(axis=0).mean(), rel=1e-4)
    dataset = TensorFlowModelDataset(filepath=str(tmp_path / "mlp.keras"))
    dataset.save(model)
    frames = corpus.frames["test"]
    np.testing.assert_allclose(
        dataset.load().predict_on_batch(frames), model.predict_on_batch(frames), rtol=1e-5
    )


def test_standardise_targets_must_be_a_boolean(tiny_networks, tmp_path):
    corpus = write_model_inputs(tmp_path / "mfcc_15s")
    tiny_networks["mlp"]["training"]["standardise_targets"] = "yes"
    with pytest.raises(ParameterError, match="standardise_targets"):
        _fit(corpus, tiny_networks, ModelSpec("mfcc", "mlp", "valence"), tmp_path)


def test_ridge_alpha_is_chosen_on_validation(tiny_networks, tmp_path, caplog):
    corpus = write_model_inputs(tmp_path / "mfcc_15s")
    tiny_networks["ridge"]["training"]["alphas"] = [1e-3, 1e6]
    spec = ModelSpec("mfcc", "ridge", "valence")
    with caplog.at_level("INFO"):
        _fit(corpus, tiny_networks, spec, tmp_path)
    assert "alpha 0.001" in caplog.text  # a learnable signal: the weak penalty wins


@pytest.mark.parametrize("alphas", [[], [0.0], [-1.0], ["x"]])
def test_ridge_rejects_bad_alphas(alphas, tiny_networks, tmp_path):
    corpus = write_model_inputs(tmp_path / "mfcc_15s")
    tiny_networks["ridge"]["training"]["alphas"] = alphas
    with pytest.raises(ParameterError, match="alphas"):
        _fit(corpus, tiny_networks, ModelSpec("mfcc", "ridge", "valence"), tmp_path)


def test_kernel_learns_the_signal_and_is_its_solution_in_built_in_keras_layers(
    tiny_networks, tmp_path
):
    """One frame per song, so a frame's pooled vector is its song's: the saved model's
    output on each test frame is the kernel ridge solved on the songs' vectors (refitted on
    the training and validation songs), and the file loads with safe_mode."""
    corpus = write_model_inputs(tmp_path / "mfcc_15s", frames_per_song=1)
    spec = ModelSpec("mfcc", "kernel", "joint")
    model, history = _fit(corpus, tiny_networks, spec, tmp_path)
    assert list(history["epoch"]) == [1]
    report = _report(corpus, model, history, spec)
    assert all(row["r2"] > 0.5 for row in report["metrics"] if row["level"] == "song")
    normaliser = fit_feature_normaliser(corpus.inputs)
    vectors = {"feature_mean": normaliser["mean"], "feature_variance": normaliser["variance"]}
    fit = fit_closed_form("kernel", corpus.inputs.train, corpus.inputs.validation, VAD_LABELS,
                          training=tiny_networks["kernel"]["training"], **vectors)  # fmt: skip
    x, y = (np.concatenate(parts) for parts in zip(
        *(song_vectors(corpus.inputs[s], VAD_LABELS, **vectors)[:2]
          for s in ("train", "validation")), strict=True))  # fmt: skip
    x_test = song_vectors(corpus.inputs.test, VAD_LABELS, **vectors)[0]
    expected = closed_form_predictor("kernel", x, y, fit.chosen)(x_test)
    frames = corpus.frames["test"]  # songs sorted by id, as the song vectors
    np.testing.assert_allclose(clip_vad(model.predict_on_batch(frames)), expected, atol=2e-4)
    dataset = TensorFlowModelDataset(filepath=str(tmp_path / "kernel.keras"))
    dataset.save(model)
    np.testing.assert_allclose(
        dataset.load().predict_on_batch(frames), model.predict_on_batch(frames), rtol=1e-5
    )


def test_kernel_hyper_parameters_are_chosen_on_validation_and_checked(tiny_networks, tmp_path):
    corpus = write_model_inputs(tmp_path / "mfcc_15s")
    normaliser = fit_feature_normaliser(corpus.inputs)
    vectors = {"feature_mean": normaliser["mean"], "feature_variance": normaliser["variance"]}
    training = {"alphas": [1e-3, 1e4], "gammas": [0.5, 1e3]}
    fit = fit_closed_form("kernel", corpus.inputs.train, corpus.inputs.validation, ("valence",),
                          training=training, **vectors)  # fmt: skip
    # a smooth, learnable signal: the weak penalty and the wide kernel win
    assert fit.chosen == [(1e-3, 0.5)]
    for bad, match in (({"alphas": [1.0]}, "gammas"),
                       ({**training, "gammas": [0.0]}, "gammas"),
                       ({**training, "sign_loss": "logistic"}, "pseudo"),
                       ({**training, "width": 1}, "training parameters")):  # fmt: skip
        with pytest.raises(ParameterError, match=match):
            fit_closed_form("kernel", corpus.inputs.train, corpus.inputs.validation,
                            ("valence",), training=bad, **vectors)  # fmt: skip


def test_mlp_stops_on_the_song_level_validation_loss(tiny_networks, tmp_path):
    corpus = write_model_inputs(tmp_path / "mfcc_15s", frames_per_song=4)
    tiny_networks["mlp"]["training"].update(epochs=8, patience=2, learning_rate=0.01)
    spec = ModelSpec("mfcc", "mlp", "joint")
    model, history = _fit(corpus, tiny_networks, spec, tmp_path)
    assert "val_song_loss" in history
    report = _report(corpus, model, history, spec)
    # the restored weights are the best song-level epoch's
    kept = score_split(model, corpus.inputs.validation, spec.labels).song_mse
    assert kept == pytest.approx(history["val_song_loss"].min(), rel=1e-4)
    assert report["training"]["best_val_loss"] == pytest.approx(kept, rel=1e-4)
    assert report["training"]["val_song_loss"] == pytest.approx(kept, rel=1e-4)
    assert report["training"]["train_song_loss"] is not None


def test_predictions_are_clipped_to_the_label_range():
    np.testing.assert_array_equal(clip_vad(np.array([-0.2, 0.5, 1.3])), [0.0, 0.5, 1.0])


def test_bootstrap_intervals_are_seeded_and_narrow_with_more_songs():
    rng = np.random.default_rng(0)
    true = rng.uniform(size=400)
    pred = true + rng.normal(scale=0.2, size=400)
    wide = bootstrap_intervals(true[:20], pred[:20], seed=1)["r2"]
    narrow = bootstrap_intervals(true, pred, seed=1)["r2"]
    assert bootstrap_intervals(true[:20], pred[:20], seed=1)["r2"] == wide
    assert narrow[0] <= r2(true, pred) <= narrow[1]
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


def test_bootstrap_rejects_bad_settings():
    with pytest.raises(ParameterError, match="level"):
        bootstrap_intervals([0.1, 0.2], [0.1, 0.2], seed=0, level=1.5)


def _metrics_report(network, r2_by_label, val_loss):
    return {
        "feature": "mfcc",
        "network": network,
        "target": "joint",
        "labels": list(VAD_LABELS),
        "frame_seconds": 15,
        "training": {"epochs": 1, "best_epoch": 1, "best_val_loss": val_loss, "train_seconds": 1.0},
        "baseline": dict.fromkeys(VAD_LABELS, 0.5),
        "metrics": [
            {"label": label, "level": level, "n": 10, "r2": r2_by_label[label]}
            for label in VAD_LABELS
            for level in ("frame", "song")
        ],
    }


def test_model_metrics_rank_models_by_validation_loss_whatever_their_test_r2():
    reports = [
        _metrics_report("cnn", {"valence": 0.1, "arousal": 0.5, "dominance": 0.3}, 0.02),
        _metrics_report("ridge", {"valence": 0.2, "arousal": 0.4, "dominance": 0.3}, 0.01),
    ]
    table = collect_current({}, *reports)
    song = table[table["level"] == "song"].set_index(["label", "network"])["rank"]
    assert song[("valence", "ridge")] == 1 and song[("valence", "cnn")] == 2
    assert song[("arousal", "ridge")] == 1 and song[("arousal", "cnn")] == 2
    # rows come chosen first within each label, frame rows beside their model's song row
    valence = table[table["label"] == "valence"]
    assert valence["network"].tolist() == ["ridge", "ridge", "cnn", "cnn"]
    assert valence["level"].tolist() == ["song", "frame", "song", "frame"]
    assert isinstance(table, pd.DataFrame) and table["rank"].dtype == np.int64


def test_a_seed_ensemble_is_one_saved_model_averaging_its_members(tiny_networks, tmp_path):
    corpus = write_model_inputs(tmp_path / "mfcc_15s", frames_per_song=4)
    tiny_networks["mlp"]["training"].update(epochs=2, patience=1)
    spec = ModelSpec("mfcc", "mlp", "valence")
    normaliser = fit_feature_normaliser(corpus.inputs)
    args = (corpus.inputs, normaliser, tiny_networks["mlp"])
    members = [train_model(*args, seed, str(tmp_path), spec=spec)[0] for seed in (1, 2)]
    frames = corpus.frames["test"]
    expected = np.mean([m.predict_on_batch(frames) for m in members], axis=0)
    ensemble, history = train_model(*args, 9, str(tmp_path), seeds=[1, 2], spec=spec)
    np.testing.assert_allclose(ensemble.predict_on_batch(frames), expected, rtol=1e-5)
    assert {"member_1_val_song_loss", "member_2_val_song_loss"} <= set(history.columns)
    report = _report(corpus, ensemble, history, spec)
    kept = score_split(ensemble, corpus.inputs.validation, spec.labels).song_mse
    assert report["training"]["best_val_loss"] == pytest.approx(kept, rel=1e-5)
    assert set(report["training"]["members"]) == {"1", "2"}
    dataset = TensorFlowModelDataset(filepath=str(tmp_path / "ensemble.keras"))
    dataset.save(ensemble)  # one .keras file, built-in layers: loads with safe_mode=True
    np.testing.assert_allclose(dataset.load().predict_on_batch(frames), expected, rtol=1e-5)


def test_column_weights_weigh_the_standardised_columns_in_the_fit_and_the_saved_model(
    tiny_networks, tmp_path
):
    """The ridge with column weights is scikit-learn's ridge on the songs' standardised
    vectors times the weights (each pooled statistic of a column takes its weight), and the
    saved model computes it."""
    from sklearn.linear_model import Ridge

    corpus = write_model_inputs(tmp_path / "fusion_15s", frames_per_song=1)
    normaliser = fit_feature_normaliser(corpus.inputs)
    vectors = {"feature_mean": normaliser["mean"], "feature_variance": normaliser["variance"]}
    weights = np.array([2.0, 1.0, 0.5, 0.25])
    training = tiny_networks["ridge"]["training"]
    splits = (corpus.inputs.train, corpus.inputs.validation, VAD_LABELS)
    fit = fit_closed_form("ridge", *splits, training=training, column_weights=weights, **vectors)
    plain = fit_closed_form("ridge", *splits, training=training, **vectors)
    x, y = (np.concatenate(parts) for parts in zip(
        *(song_vectors(corpus.inputs[s], VAD_LABELS, **vectors)[:2]
          for s in ("train", "validation")), strict=True))  # fmt: skip
    x_test = song_vectors(corpus.inputs.test, VAD_LABELS, **vectors)[0]
    mean, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-7) / np.tile(weights, 2)
    expected = np.column_stack([
        Ridge(alpha=alpha).fit((x - mean) / scale, y[:, j]).predict((x_test - mean) / scale)
        for j, alpha in enumerate(fit.chosen)
    ])  # fmt: skip
    frames = corpus.frames["test"]
    ours = fit.model.predict_on_batch(frames)
    np.testing.assert_allclose(clip_vad(ours), clip_vad(expected), atol=2e-4)
    assert not np.allclose(ours, plain.model.predict_on_batch(frames), atol=1e-3)
    with pytest.raises(DataValidationError, match="3 column weights for pooled vectors of 8"):
        fit_closed_form("ridge", *splits, training=training, column_weights=weights[:3], **vectors)
