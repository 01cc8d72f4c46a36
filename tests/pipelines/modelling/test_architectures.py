"""Architectures: layer sizes give the parameter counts of their formulas, shapes are right, and
every network survives a .keras round trip with safe_mode."""

import math

import numpy as np
import pytest
from kedro_datasets.tensorflow import TensorFlowModelDataset

from soundtrack_emotion.core.architectures import (
    TRAINED_NETWORKS,
    build_model,
    statistics_pooling,
)
from soundtrack_emotion.exceptions import ParameterError

HEAD = [128, 128, 64]


def _trainable(model) -> int:
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def _head(n_in: int, units: list[int], n_out: int) -> int:
    total = 0
    for n in [*units, n_out]:
        total += n_in * n + n
        n_in = n
    return total


def _build(network, architecture, frame_shape=(6, 4), n_outputs=1):
    f = frame_shape[1]
    return build_model(
        network,
        frame_shape=frame_shape,
        n_outputs=n_outputs,
        feature_mean=[0.0] * f,
        feature_variance=[1.0] * f,
        architecture=architecture,
    )


@pytest.mark.parametrize(("n_features", "thesis_count"), [(13, 1_167_745), (128, 1_403_265)])
def test_lstm_matches_formula_and_thesis(n_features, thesis_count):
    model = _build("lstm", {"units": 512, "dense_units": HEAD}, frame_shape=(5, n_features))
    expected = 4 * 512 * (512 + n_features + 1) + _head(512, HEAD, 1)
    assert _trainable(model) == expected
    # the thesis's own counts (section 4.2.3) for MFCC and VGGish inputs
    assert expected == thesis_count


def test_cnn_matches_formula():
    t, f, k, p, (f1, f2) = 11, 5, 3, 2, (4, 8)
    arch = {"conv_filters": [f1, f2], "kernel_size": k, "pool_size": p, "dense_units": [16, 8]}
    model = _build("cnn", arch, frame_shape=(t, f))
    pooled = math.ceil(math.ceil(t / p) / p) * math.ceil(math.ceil(f / p) / p)  # "same" pooling
    conv = (k * k * 1 * f1 + f1) + (k * k * f1 * f2 + f2)
    assert _trainable(model) == conv + _head(pooled * f2, [16, 8], 1)


def test_bilstm_matches_formula():
    model = _build("bilstm", {"units": 6, "dense_units": [16]}, frame_shape=(5, 4))
    assert _trainable(model) == 2 * 4 * 6 * (6 + 4 + 1) + _head(12, [16], 1)


def test_transformer_matches_formula():
    d, h, ff, layers, k, f = 8, 2, 16, 2, 3, 4
    arch = {
        "model_dim": d,
        "num_heads": h,
        "feedforward_dim": ff,
        "num_layers": layers,
        "dropout": 0.0,
        "positional_kernel": k,
        "dense_units": [16],
    }
    model = _build("transformer", arch, frame_shape=(7, f))
    attention = 4 * (d * d + d)  # query, key, value and output projections with biases
    block = attention + 2 * d + (d * ff + ff) + (ff * d + d) + 2 * d
    stem = (f * d + d) + (k * d * d + d) + 2 * d  # projection, position conv, layer norm
    assert _trainable(model) == stem + layers * block + _head(d, [16], 1)


@pytest.mark.parametrize(("pooling", "width"), [("statistics", 2 * 4), ("mean", 4)])
def test_mlp_matches_formula(pooling, width):
    arch = {"hidden_units": 5, "dropout": 0.5, "weight_decay": 0.01, "pooling": pooling,
            "dense_units": []}  # fmt: skip
    model = _build("mlp", arch, frame_shape=(6, 4))
    assert _trainable(model) == (width * 5 + 5) + (5 + 1)  # pooled -> 5 -> 1


def test_conv1d_convolves_over_time_with_the_features_as_channels():
    arch = {"conv_filters": [7], "kernel_size": 3, "dropout": 0.5, "dense_units": []}
    model = _build("conv1d", arch, frame_shape=(6, 4))
    assert _trainable(model) == (3 * 4 * 7 + 7) + (7 + 1)
    # a permutation of the time steps changes the output, of the units' order too: but the
    # kernel spans every unit at once (no neighbourhood over unit indices)
    assert model.get_layer(index=2).kernel.shape == (3, 4, 7)


def test_standardised_labels_are_mapped_back_by_the_last_layer():
    arch = {"conv_filters": [3], "kernel_size": 3, "dropout": 0.0, "dense_units": []}
    model = build_model("conv1d", frame_shape=(6, 4), n_outputs=2, feature_mean=[0.0] * 4,
                        feature_variance=[1.0] * 4, architecture=arch, label_mean=[0.4, 0.6],
                        label_variance=[0.01, 0.04])  # fmt: skip
    model.get_layer("standardised_vad").set_weights([np.zeros((3, 2)), np.array([1.0, -2.0])])
    predicted = model.predict_on_batch(np.ones((1, 6, 4), np.float32))
    np.testing.assert_allclose(predicted, [[0.4 + 0.1, 0.6 - 2 * 0.2]], rtol=1e-5)


def test_statistics_pooling_is_mean_and_variance_over_time():
    import keras

    frames = np.random.default_rng(1).normal(3.0, 2.0, size=(4, 9, 3)).astype(np.float32)
    inputs = keras.Input((9, 3))
    pooled = keras.Model(inputs, statistics_pooling(inputs)).predict_on_batch(frames)
    expected = np.concatenate([frames.mean(axis=1), frames.var(axis=1)], axis=1)
    np.testing.assert_allclose(pooled, expected, rtol=1e-4, atol=1e-4)


def test_ridge_is_not_built_as_a_trained_network():
    with pytest.raises(ParameterError, match="closed form"):
        _build("ridge", {})


@pytest.mark.parametrize("network", TRAINED_NETWORKS)
def test_shapes_and_keras_round_trip(network, tiny_networks, tmp_path):
    model = _build(network, tiny_networks[network]["architecture"], n_outputs=3)
    frames = np.random.default_rng(0).normal(size=(5, 6, 4)).astype(np.float32)
    predicted = model.predict_on_batch(frames)
    assert predicted.shape == (5, 3)
    dataset = TensorFlowModelDataset(filepath=str(tmp_path / f"{network}.keras"))
    dataset.save(model)  # loading with the default safe_mode=True: built-in layers only
    np.testing.assert_allclose(dataset.load().predict_on_batch(frames), predicted, rtol=1e-5)


def test_normaliser_standardises_raw_features():
    model = build_model(
        "lstm",
        frame_shape=(3, 2),
        n_outputs=1,
        feature_mean=[100.0, -5.0],
        feature_variance=[1600.0, 4.0],
        architecture={"units": 2, "dense_units": [2]},
    )
    normalised = model.get_layer("feature_normaliser")(np.array([[[140.0, -1.0]]], np.float32))
    np.testing.assert_allclose(np.asarray(normalised), [[[1.0, 2.0]]], rtol=1e-5)


@pytest.mark.parametrize(
    ("network", "architecture", "message"),
    [
        ("gru", {"units": 4, "dense_units": [4]}, "unknown network 'gru'"),
        ("lstm", {"units": 4}, "missing \\['dense_units'\\]"),
        ("lstm", {"units": 4, "dense_units": [4], "layers": 2}, "unknown \\['layers'\\]"),
        ("lstm", {"units": 0, "dense_units": [4]}, "lstm.units must be positive"),
        (
            "cnn",
            {"conv_filters": [4], "kernel_size": 3, "pool_size": 2, "dense_units": [-1]},
            "dense_units",
        ),
        (
            "mlp",
            {
                "hidden_units": 4,
                "dropout": 0.1,
                "weight_decay": 0.0,
                "pooling": "max",
                "dense_units": [],
            },
            "mlp.pooling must be one of",
        ),
    ],
)
def test_bad_architecture_raises(network, architecture, message):
    """Unknown networks, missing or extra sizes, and bad values are named."""
    with pytest.raises(ParameterError, match=message):
        _build(network, architecture)


def test_transformer_heads_must_divide_width(tiny_networks):
    arch = {**tiny_networks["transformer"]["architecture"], "model_dim": 9, "num_heads": 2}
    with pytest.raises(ParameterError, match="model_dim 9 is not divisible by num_heads 2"):
        _build("transformer", arch)
