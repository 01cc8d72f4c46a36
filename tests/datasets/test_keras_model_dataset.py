"""The trained model's file: written atomically from the bytes whose hash its metrics record,
loaded only when the file still has that hash."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from soundtrack_emotion.core.model_files import ModelFile, serialise_model, sha256_hex
from soundtrack_emotion.datasets import KerasModelDataset, TrainedModelsDataset
from soundtrack_emotion.exceptions import ModelUnavailableError


def _model(value: float) -> keras.Model:
    inputs = keras.Input(shape=(4, 3))
    pooled = keras.layers.GlobalAveragePooling1D()(inputs)
    constant = keras.initializers.Constant(value)
    out = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer=constant)(pooled)
    return keras.Model(inputs, out)


def test_the_file_written_is_the_bytes_hashed_and_loads_when_the_hash_agrees(tmp_path):
    content = serialise_model(_model(0.25))
    dataset = KerasModelDataset(filepath=str(tmp_path / "mfcc_cnn" / "valence.keras"))
    dataset.save(content)

    stored = dataset.load()
    assert stored.content == content and stored.sha256 == sha256_hex(content)
    model = stored.load(expected_sha256=sha256_hex(content), name="mfcc_cnn.valence")
    np.testing.assert_allclose(model.predict_on_batch(np.ones((2, 4, 3))), 0.25)
    assert [p.name for p in (tmp_path / "mfcc_cnn").iterdir()] == ["valence.keras"]


def test_weights_beside_the_metrics_of_other_weights_are_refused(tmp_path):
    """A run that stopped after writing new weights but before their metrics: the old
    metrics' hash no longer matches the file."""
    scored = serialise_model(_model(0.25))
    dataset = KerasModelDataset(filepath=str(tmp_path / "valence.keras"))
    dataset.save(serialise_model(_model(0.75)))  # retrained, metrics never written

    with pytest.raises(ModelUnavailableError) as error:
        dataset.load().load(expected_sha256=sha256_hex(scored), name="mfcc_cnn.valence",
                            retrain="kedro run --namespaces=mfcc_cnn.valence")  # fmt: skip
    message = str(error.value)
    assert str(tmp_path / "valence.keras") in message
    assert sha256_hex(scored) in message and dataset.load().sha256 in message
    assert "Retrain it (kedro run --namespaces=mfcc_cnn.valence) or restore" in message


def test_a_model_without_a_recorded_hash_is_not_used(tmp_path):
    stored = ModelFile(path="old.keras", content=serialise_model(_model(0.5)))
    with pytest.raises(ModelUnavailableError, match=re.escape("old.keras has no recorded SHA-256")):
        stored.load(expected_sha256="", name="mfcc_cnn.valence")


def test_trained_models_are_listed_lazily_by_partition(tmp_path):
    for target in ("valence", "arousal"):
        KerasModelDataset(filepath=str(tmp_path / "mfcc_cnn" / f"{target}.keras")).save(
            serialise_model(_model(0.5))
        )
    (tmp_path / "domain").mkdir()
    (tmp_path / "domain" / "mfcc.npz").write_bytes(b"not a model")

    loaders = TrainedModelsDataset(path=str(tmp_path)).load()
    assert sorted(loaders) == ["mfcc_cnn/arousal", "mfcc_cnn/valence"]
    assert isinstance(loaders["mfcc_cnn/valence"](), ModelFile)
