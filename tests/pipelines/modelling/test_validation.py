"""Grouped cross-validation: folds hold out whole groups, the figures describe the planted
signal, the test split is never read, and the intervals resample groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from soundtrack_emotion.core.metrics import bootstrap_intervals
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.modelling.nodes import fit_feature_normaliser
from soundtrack_emotion.pipelines.modelling.validation import (
    CV_COLUMNS,
    cross_validate,
    grouped_folds,
    residual_matrix,
    resolve_evaluation,
    song_groups,
)

from .conftest import write_model_inputs

SETTINGS = {"folds": 4, "repeats": 3, "inner_folds": 3, "max_songs": 1000}


def _soundtracks(corpus) -> pd.DataFrame:
    """Two songs per artist, over every split."""
    ids = [str(s) for split in ("train", "validation", "test")
           for s in dict.fromkeys(corpus.song_id[split])]  # fmt: skip
    return pd.DataFrame({"id": ids, "artist": [f"Artist {i // 2}" for i in range(len(ids))]})


def _cv(corpus, networks, network="ridge", evaluation="grouped_cv", seed=0):
    return cross_validate(
        corpus.inputs, fit_feature_normaliser(corpus.inputs), networks[network],
        _soundtracks(corpus), evaluation=evaluation, cross_validation=SETTINGS, seed=seed,
        feature="mfcc", network_name=network, labels=("valence", "arousal"), target="joint",
    )  # fmt: skip


def test_grouped_folds_keep_groups_whole_and_folds_even():
    groups = np.repeat([f"g{i}" for i in range(20)], np.arange(20) % 3 + 1)
    fold = grouped_folds(groups, folds=5, rng=np.random.default_rng(1))
    assert all(len(set(fold[groups == g])) == 1 for g in set(groups))
    sizes = np.bincount(fold)
    assert len(sizes) == 5 and sizes.max() - sizes.min() <= 3
    with pytest.raises(ParameterError, match="folds"):
        grouped_folds(groups[:3], folds=5, rng=np.random.default_rng(1))


def test_auto_evaluation_cross_validates_small_corpora_only():
    assert resolve_evaluation("auto", SETTINGS, 999) == "grouped_cv"
    assert resolve_evaluation("auto", SETTINGS, 1000) == "holdout"
    assert resolve_evaluation("holdout", SETTINGS, 10) == "holdout"
    with pytest.raises(ParameterError, match="holdout"):
        resolve_evaluation("kfold", SETTINGS, 10)


def test_song_groups_use_the_group_column_else_the_artist():
    table = pd.DataFrame({"id": ["a", "b", "c"], "artist": ["X", " x", ""]})
    assert song_groups(table).tolist() == ["x", "x", "track:c"]
    assert song_groups(table.assign(group=["1", "2", "2"])).tolist() == ["1", "2", "2"]


def test_ridge_cross_validation_finds_the_signal_and_never_reads_the_test_split(
    tmp_path, tiny_networks
):
    corpus = write_model_inputs(tmp_path / "a", frames_per_song=3)
    result = _cv(corpus, tiny_networks)
    table = result.table
    assert list(table.columns) == list(CV_COLUMNS)
    assert table["label"].tolist() == ["valence", "arousal"]
    assert (table["r2_mean"] > 0.5).all() and (table["r2_mean"] > table["baseline_r2"]).all()
    assert (table["r2_sd"] >= 0).all()
    assert ((table["r2_ci_low"] <= table["r2"]) & (table["r2"] <= table["r2_ci_high"])).all()
    assert (table["n_songs"] == 32).all() and (table["n_groups"] == 16).all()
    shuffled = write_model_inputs(tmp_path / "b", frames_per_song=3, shuffle_test_labels=True)
    pd.testing.assert_frame_equal(_cv(shuffled, tiny_networks).table, table)


def test_cross_validation_leaves_each_songs_out_of_fold_residual_once_per_repeat(
    tmp_path, tiny_networks
):
    corpus = write_model_inputs(tmp_path / "a", frames_per_song=3)
    result = _cv(corpus, tiny_networks)
    songs = np.concatenate([corpus.labels[split][::3] for split in ("train", "validation")])
    for j, label in enumerate(("valence", "arousal")):
        residuals = residual_matrix(result.residuals, label)
        assert residuals.shape == (SETTINGS["repeats"], 32)
        assert (residuals >= 0).all()
        # the residuals are those the table's pooled R² was scored on
        r2 = result.table.set_index("label").loc[label, "r2"]
        variance = np.var(songs[:, j].astype(np.float64))
        assert np.mean(residuals**2) == pytest.approx((1 - r2) * variance, rel=1e-4)
    assert residual_matrix(result.residuals, "dominance").size == 0
    assert _cv(corpus, tiny_networks, network="mlp").residuals.empty


def test_holdout_gives_no_rows_and_networks_say_why_they_are_not_cross_validated(
    tmp_path, tiny_networks
):
    corpus = write_model_inputs(tmp_path / "a")
    assert _cv(corpus, tiny_networks, evaluation="holdout").table.empty
    mlp = _cv(corpus, tiny_networks, network="mlp").table
    assert mlp["r2"].isna().all() and mlp["note"].str.startswith("not cross-validated").all()


def test_group_bootstrap_is_wider_when_songs_of_a_group_move_together():
    rng = np.random.default_rng(0)
    group_effect = np.repeat(rng.normal(size=10), 8)  # 10 groups of 8 correlated songs
    true = group_effect + rng.normal(scale=0.3, size=80)
    pred = true + np.repeat(rng.normal(scale=0.8, size=10), 8)
    groups = np.repeat(np.arange(10), 8)
    songs = bootstrap_intervals(true, pred, seed=1)["r2"]
    grouped = bootstrap_intervals(true, pred, seed=1, groups=groups)["r2"]
    assert grouped[1] - grouped[0] > songs[1] - songs[0]
    with pytest.raises(ParameterError, match="group keys"):
        bootstrap_intervals(true, pred, seed=1, groups=groups[:5])
