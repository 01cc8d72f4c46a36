"""Training on two corpora, one with VAD values and one with Russell quadrants, and the test
metrics per corpus."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from soundtrack_emotion.core.metrics import roc_auc
from soundtrack_emotion.core.vocabulary import MODEL_INPUT_LABELS, QUADRANT_SIGNS, SPLITS
from soundtrack_emotion.datasets import FrameChunk, ModelInputDataset, ModelInputs
from soundtrack_emotion.pipelines.modelling import create_pipeline
from soundtrack_emotion.pipelines.modelling.corpora import (
    CORPUS_METRICS_COLUMNS,
    corpus_rows,
)
from soundtrack_emotion.pipelines.modelling.heads import (
    fit_closed_form,
    fit_linear,
    song_vectors,
)
from soundtrack_emotion.pipelines.modelling.nodes import (
    ModelSpec,
    collect_corpus_metrics,
    evaluate_model,
    fit_feature_normaliser,
    fit_mean_baseline,
    train_model,
)

from .conftest import feature_parameters

# Songs per split: a small continuous corpus and a larger quadrant corpus.
DEV_SONGS = {"train": 10, "validation": 6, "test": 6}
QUADRANT_SONGS = {"train": 80, "validation": 12, "test": 40}
FRAME_SHAPE = (4, 8)
FRAMES_PER_SONG = 2


def _songs(rng: np.random.Generator, n: int, *, dev: bool) -> tuple[np.ndarray, np.ndarray, list]:
    """Each song's latent valence and arousal (-1..1), its label row (MODEL_INPUT_LABELS) and
    its quadrant ("" for a continuous song)."""
    latent = rng.uniform(-1, 1, size=(n, 2))
    if dev:
        # Valence values from a small, noisy corpus: a weak view of the latent valence.
        values = np.clip(0.5 + 0.1 * latent + rng.normal(scale=0.12, size=(n, 2)), 0, 1)
        rows = np.column_stack([values, np.full(n, 0.5), np.full((n, 2), np.nan)])
        return latent, rows, [""] * n
    quadrants = [{(1, 1): "Q1", (0, 1): "Q2", (0, 0): "Q3", (1, 0): "Q4"}[
        (int(v > 0), int(a > 0))] for v, a in latent]  # fmt: skip
    signs = np.array([QUADRANT_SIGNS[q] for q in quadrants], dtype=np.float64)
    return latent, np.column_stack([np.full((n, 3), np.nan), signs]), quadrants


def write_two_corpora(path: Path, *, seed: int = 0, with_signs: bool = True) -> tuple[
        ModelInputs, pd.DataFrame]:  # fmt: skip
    """Model inputs of a ``dev`` corpus (values) and a ``4q`` corpus (quadrants; left out
    when not ``with_signs``), and their ``soundtracks``. Feature 0 carries the latent valence,
    feature 1 the arousal, the rest is noise with nuisance directions."""
    rng = np.random.default_rng(seed)
    t, f = FRAME_SHAPE
    chunks: dict[str, list[FrameChunk]] = {split: [] for split in SPLITS}
    table = []
    corpora = {"dev": DEV_SONGS, **({"4q": QUADRANT_SONGS} if with_signs else {})}
    for corpus, counts in corpora.items():
        for split in SPLITS:
            latent, rows, quadrants = _songs(rng, counts[split], dev=corpus == "dev")
            for i in range(counts[split]):
                song = f"{corpus}-{split}-{i:03d}"
                signal = np.zeros(f)
                signal[:2] = latent[i]
                frames = signal + rng.normal(scale=0.6, size=(FRAMES_PER_SONG, t, f))
                label_row = rows[i] if with_signs else rows[i][:3]
                chunks[split].append(FrameChunk(
                    frames=frames.astype(np.float32),
                    song_id=np.full(FRAMES_PER_SONG, song),
                    frame_index=np.arange(FRAMES_PER_SONG, dtype=np.int32),
                    labels=np.tile(label_row, (FRAMES_PER_SONG, 1)).astype(np.float32),
                ))  # fmt: skip
                table.append({"id": song, "artist": song, "split": split, "corpus": corpus,
                              "quadrant": quadrants[i], "valence": rows[i][0],
                              "arousal": rows[i][1], "dominance": rows[i][2]})  # fmt: skip
    dataset = ModelInputDataset(path=str(path), shard_frames=64)
    dataset.save(chunks)
    return dataset.load(), pd.DataFrame(table)


def _test_auc(fit_model, inputs: ModelInputs, normaliser) -> float:
    """ROC AUC of the predicted valence for the quadrant test songs' valence sign."""
    _, y, songs = song_vectors(inputs.test, ("valence", "valence_positive"),
                               feature_mean=normaliser["mean"],
                               feature_variance=normaliser["variance"])  # fmt: skip
    quadrant = np.isfinite(y[:, 1])
    means = _song_predictions(fit_model, inputs)
    return roc_auc(y[quadrant, 1], means[songs[quadrant]].to_numpy())


def _song_predictions(model, inputs: ModelInputs) -> pd.Series:
    parts = []
    for chunk in inputs.test.iter_chunks():
        parts.append(
            pd.DataFrame(
                {
                    "song": chunk.song_id.astype(str),
                    "p": np.asarray(model.predict_on_batch(chunk.frames))[:, 0],
                }
            )
        )
    return pd.concat(parts).groupby("song")["p"].mean()


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory) -> tuple[ModelInputs, pd.DataFrame]:
    return write_two_corpora(tmp_path_factory.mktemp("inputs") / "mfcc_15s")


def test_model_inputs_carry_the_signs_beside_the_values(two_corpora):
    inputs, _ = two_corpora
    assert inputs.train.label_names == MODEL_INPUT_LABELS
    labels = inputs.train.labels()
    quadrant_rows = np.isnan(labels[:, 0])
    assert quadrant_rows.any() and (~quadrant_rows).any()
    assert np.isfinite(labels[quadrant_rows][:, 3:]).all()
    assert np.isnan(labels[~quadrant_rows][:, 3:]).all()


@pytest.mark.parametrize("sign_loss", ["logistic", "pseudo"])
def test_sign_rows_raise_the_quadrant_corpus_auc_over_the_continuous_ridge(two_corpora, sign_loss):
    inputs, _ = two_corpora
    normaliser = fit_feature_normaliser(inputs)
    fits = {
        weight: fit_closed_form(
            "ridge", inputs.train, inputs.validation, ("valence",),
            feature_mean=normaliser["mean"], feature_variance=normaliser["variance"],
            training={"alphas": [1.0, 10.0, 100.0], "sign_weight": weight,
                      "sign_loss": sign_loss})
        for weight in (0.0, 1.0)
    }  # fmt: skip
    auc = {w: _test_auc(fit.model, inputs, normaliser) for w, fit in fits.items()}
    assert auc[1.0] > 0.8
    assert auc[1.0] > auc[0.0] + 0.05


def test_without_sign_rows_the_ridge_is_the_closed_form(tmp_path):
    inputs, _ = write_two_corpora(tmp_path / "plain", with_signs=False)
    normaliser = fit_feature_normaliser(inputs)
    fit = fit_closed_form("ridge", inputs.train, inputs.validation, ("valence", "arousal"),
                          feature_mean=normaliser["mean"], feature_variance=normaliser["variance"],
                          training={"alphas": [1.0, 10.0], "sign_weight": 1.0})  # fmt: skip
    x = np.concatenate([song_vectors(inputs[s], ("valence", "arousal"),
                                     feature_mean=normaliser["mean"],
                                     feature_variance=normaliser["variance"])[0]
                        for s in ("train", "validation")])  # fmt: skip
    y = np.concatenate([song_vectors(inputs[s], ("valence", "arousal"),
                                     feature_mean=normaliser["mean"],
                                     feature_variance=normaliser["variance"])[1]
                        for s in ("train", "validation")])  # fmt: skip
    from sklearn.linear_model import Ridge

    z = (x - x.mean(axis=0)) / x.std(axis=0)
    expected = Ridge(alpha=np.asarray(fit.chosen)).fit(z, y)
    kernel, bias = fit.model.get_layer("vad").get_weights()
    np.testing.assert_allclose(kernel, expected.coef_.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias, expected.intercept_, rtol=1e-5)
    # empty sign columns select the very same solver
    coef, intercept = fit_linear(z, y, fit.chosen, signs=np.full_like(y, np.nan))
    np.testing.assert_array_equal(coef, np.asarray(expected.coef_).T)
    np.testing.assert_array_equal(intercept, expected.intercept_)


def test_gradient_trained_networks_train_on_songs_with_values_only(two_corpora, tiny_networks,
                                                                  tmp_path):  # fmt: skip
    inputs, _ = two_corpora
    stream = inputs.train.to_tf_dataset(labels=("valence",), batch_size=16, finite_only=True)
    targets = np.concatenate([y.numpy() for _, y in stream])
    assert len(targets) == inputs.train.n_finite("valence") == DEV_SONGS["train"] * 2
    assert np.isfinite(targets).all()
    assert not math.isnan(fit_mean_baseline(inputs)["valence"])
    spec = ModelSpec("mfcc", "mlp", "valence")
    _, history = train_model(inputs, fit_feature_normaliser(inputs), tiny_networks["mlp"], 1,
                                 str(tmp_path / "tb"), spec=spec)  # fmt: skip
    assert np.isfinite(history[["loss", "val_loss", "val_song_loss"]].to_numpy()).all()


def _predictions(seed: int = 0) -> pd.DataFrame:
    """Long test predictions of a valence model on two corpora: ``dev`` songs with values,
    ``4q`` songs with quadrants, predictions that follow both."""
    rng = np.random.default_rng(seed)
    dev_true = rng.uniform(size=12)
    quadrants = list(QUADRANT_SIGNS) * 5
    positive = np.array([QUADRANT_SIGNS[q][0] for q in quadrants], dtype=float)
    return pd.DataFrame({
        "song_id": [f"d{i}" for i in range(12)] + [f"q{i}" for i in range(20)],
        "frame_index": 0, "label": "valence",
        "true": np.concatenate([dev_true, np.full(20, np.nan)]),
        "predicted": np.concatenate([dev_true + rng.normal(scale=0.1, size=12),
                                     0.4 + 0.2 * positive + rng.normal(scale=0.05, size=20)]),
        "group": [f"g{i}" for i in range(32)],
        "corpus": ["dev"] * 12 + ["4q"] * 20, "quadrant": [""] * 12 + quadrants,
    })  # fmt: skip


def test_corpus_metrics_score_values_by_r2_and_quadrants_by_auc():
    rows = {row["corpus"]: row for row in corpus_rows(_predictions(), labels=("valence",),
                                                      seed=0)}  # fmt: skip
    assert set(rows) == {"dev", "4q"}
    assert rows["dev"]["n_songs"] == 12 and rows["dev"]["r2"] > 0.5
    assert math.isnan(rows["dev"]["auc"])
    assert rows["4q"]["n_songs"] == 20 and rows["4q"]["auc"] == 1.0
    assert math.isnan(rows["4q"]["r2"])
    assert rows["4q"]["auc_ci_low"] <= rows["4q"]["auc"] <= rows["4q"]["auc_ci_high"]
    # dominance has neither values nor signs on a quadrant corpus: no row
    dominance = _predictions().assign(label="dominance")
    dominance.loc[dominance["corpus"] == "dev", "true"] = np.nan
    assert corpus_rows(dominance, labels=("dominance",), seed=0) == []


def test_model_metrics_score_the_songs_with_values_only():
    history = pd.DataFrame(
        {
            "epoch": [1],
            "loss": [0.1],
            "val_loss": [0.1],
            "mae": [0.1],
            "val_mae": [0.1],
            "val_song_loss": [0.1],
            "seconds": [1.0],
        }
    )
    report = evaluate_model(_predictions(), {"valence": 0.5}, history, 15,
                            spec=ModelSpec("mfcc", "ridge", "valence"))  # fmt: skip
    song = next(row for row in report["metrics"] if row["level"] == "song")
    assert song["n"] == 12 and song["r2"] > 0.5
    assert {row["corpus"] for row in report["corpora"]} == {"dev", "4q"}


def test_collected_corpus_metrics_have_the_catalogued_schema():
    report = {"feature": "mfcc", "network": "ridge", "target": "valence",
              "corpora": corpus_rows(_predictions(), labels=("valence",), seed=0)}  # fmt: skip
    model_metrics = pd.DataFrame({"feature": ["mfcc"], "network": ["ridge"],
                                  "target": ["valence"]})  # fmt: skip
    table = collect_corpus_metrics(model_metrics, {}, report)
    assert tuple(table.columns) == CORPUS_METRICS_COLUMNS
    assert table[["corpus", "split"]].values.tolist() == [["4q", "test"], ["dev", "test"]]
    assert table["n_songs"].dtype == np.int64
    empty = collect_corpus_metrics(model_metrics, {})
    assert tuple(empty.columns) == CORPUS_METRICS_COLUMNS and empty.empty


def test_modelling_trains_on_both_corpora_and_reports_each(
    two_corpora, modelling_parameters, tiny_networks, tmp_path, monkeypatch
):
    inputs, soundtracks = two_corpora
    monkeypatch.chdir(tmp_path)
    parameters = {**modelling_parameters, "networks": tiny_networks, "evaluation": "holdout"}
    catalog = DataCatalog({name: MemoryDataset(inputs) for name in ("mfcc_15s", "mfcc_30s")})
    for name, value in _flatten("modelling", parameters):
        catalog[f"params:{name}"] = value
    catalog["params:feature_extraction"] = feature_parameters()
    catalog["soundtracks"] = MemoryDataset(soundtracks)
    catalog["corpus_is_demo"] = MemoryDataset(False)
    catalog["model_metric_files"] = MemoryDataset({})
    pipeline = create_pipeline(features=("mfcc",), networks=("ridge", "mlp"),
                               targets=("valence",))  # fmt: skip
    outputs = SequentialRunner().run(pipeline, catalog)  # the free outputs
    table = outputs["corpus_metrics"].load()
    ridge = table[table["network"] == "ridge"].set_index("corpus")
    assert set(ridge.index) == {"dev", "4q"}
    assert ridge.loc["4q", "auc"] > 0.8
    assert ridge.loc["4q", "n_songs"] == QUADRANT_SONGS["test"]
    assert ridge.loc["dev", "n_songs"] == DEV_SONGS["test"]


def _flatten(prefix, value):
    yield prefix, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(f"{prefix}.{key}", item)


def test_cross_validation_trains_with_the_sign_songs_and_scores_the_valued_ones(two_corpora):
    from soundtrack_emotion.pipelines.modelling.validation import cross_validate

    inputs, soundtracks = two_corpora
    normaliser = fit_feature_normaliser(inputs)
    settings = {"folds": 4, "repeats": 2, "inner_folds": 3, "max_songs": 1000}

    def cv(weight: float) -> pd.Series:
        network = {"training": {"alphas": [0.1, 1.0], "sign_weight": weight,
                                "sign_loss": "pseudo"}}  # fmt: skip
        table = cross_validate(inputs, normaliser, network, soundtracks, evaluation="grouped_cv",
                               cross_validation=settings, seed=0, feature="mfcc",
                               network_name="ridge", labels=("valence",),
                               target="valence").table  # fmt: skip
        return table.iloc[0]

    with_signs, without = cv(1.0), cv(0.0)
    valued = DEV_SONGS["train"] + DEV_SONGS["validation"]
    assert with_signs["n_songs"] == without["n_songs"] == valued
    # The quadrant songs show the valence direction the few noisy values hide.
    assert with_signs["pearson_r"] > without["pearson_r"] + 0.1


def test_the_pseudo_ridge_validation_mse_of_every_alpha_equals_one_fit_per_alpha():
    from soundtrack_emotion.pipelines.modelling.heads import clip_vad, ridge_validation_mse

    rng = np.random.default_rng(3)
    x_train, x_val = rng.normal(size=(40, 6)), rng.normal(size=(12, 6))
    y_train = np.clip(0.5 + 0.1 * x_train[:, :2] + rng.normal(scale=0.05, size=(40, 2)), 0, 1)
    y_val = np.clip(0.5 + 0.1 * x_val[:, :2], 0, 1)
    y_train[25:] = np.nan  # the last 15 songs have only signs
    signs = np.full_like(y_train, np.nan)
    signs[25:] = (x_train[25:, :2] > 0).astype(np.float64)
    alphas = [0.1, 1.0, 10.0]
    got = ridge_validation_mse(x_train, y_train, x_val, y_val, alphas, signs_train=signs,
                               sign_weight=1.0, sign_loss="pseudo")  # fmt: skip
    mean, scale = x_train.mean(axis=0), x_train.std(axis=0)
    for a, alpha in enumerate(alphas):
        coef, intercept = fit_linear((x_train - mean) / scale, y_train, [alpha, alpha],
                                     signs=signs, sign_weight=1.0, sign_loss="pseudo")  # fmt: skip
        predicted = clip_vad((x_val - mean) / scale @ coef + intercept)
        np.testing.assert_allclose(got[a], ((predicted - y_val) ** 2).mean(axis=0), rtol=1e-6)
