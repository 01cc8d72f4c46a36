"""The choice of the best model never sees the test split: the same corpus with its test
labels shuffled trains the same models and chooses the same ones."""

from __future__ import annotations

import numpy as np
import pytest

from soundtrack_emotion.core.metrics import selection_rank
from soundtrack_emotion.pipelines.modelling.heads import score_split
from soundtrack_emotion.pipelines.modelling.nodes import (
    ModelSpec,
    evaluate_model,
    fit_feature_normaliser,
    fit_mean_baseline,
    predict_test_split,
    train_model,
)

from .conftest import collect_current, write_model_inputs

SPECS = (
    ModelSpec("mfcc", "ridge", "valence"),
    ModelSpec("mfcc", "mlp", "valence"),
    ModelSpec("mfcc", "ridge", "arousal"),
    ModelSpec("mfcc", "mlp", "arousal"),
)


def _run(inputs, networks, tmp_path):
    """Every step from the model inputs to ``model_metrics``; the models' validation MSE."""
    normaliser = fit_feature_normaliser(inputs)
    baseline = fit_mean_baseline(inputs)
    reports, validation = [], {}
    for spec in SPECS:
        model, history = train_model(inputs, normaliser, networks[spec.network], 3,
                                     str(tmp_path / "tb"), spec=spec)  # fmt: skip
        validation[spec] = score_split(model, inputs.validation, spec.labels).song_mse
        predictions = predict_test_split(model, inputs, 64, spec=spec)
        reports.append(evaluate_model(predictions, baseline, history, 15, spec=spec))
    return collect_current({}, *reports), validation


@pytest.mark.slow
def test_a_shuffled_test_split_changes_the_test_scores_but_not_the_choice(tmp_path, tiny_networks):
    table, validation = _run(write_model_inputs(tmp_path / "a").inputs, tiny_networks, tmp_path)
    shuffled_inputs = write_model_inputs(tmp_path / "b", shuffle_test_labels=True).inputs
    shuffled, shuffled_validation = _run(shuffled_inputs, tiny_networks, tmp_path)

    key = ["feature", "network", "target", "label"]
    song, shuffled_song = (
        t[t["level"] == "song"].set_index(key).sort_index() for t in (table, shuffled)
    )
    assert not np.allclose(song["r2"], shuffled_song["r2"])  # the test split did change
    assert validation == pytest.approx(shuffled_validation, abs=1e-7)  # trained alike
    assert song["best_val_loss"].to_numpy() == pytest.approx(
        shuffled_song["best_val_loss"].to_numpy(), abs=1e-7
    )
    assert (selection_rank(song.reset_index()) == selection_rank(shuffled_song.reset_index())).all()
    chosen = table.loc[table["rank"] == 1, ["feature", "network", "target"]]
    shuffled_chosen = shuffled.loc[shuffled["rank"] == 1, ["feature", "network", "target"]]
    assert chosen.to_numpy().tolist() == shuffled_chosen.to_numpy().tolist()
