"""The musicnn package's VGG taggers: parity with the original package, shapes, batching and
the checkpoint loading errors.

The parity fixtures (``tests/fixtures/musicnn/{msd,mtt}_vgg_reference.npz``, made once by
``make_vgg_reference.py`` there with the original package) hold its taggram and pool5 for the
first 10 patches of the clip of MusiCNN's reference, and the clip's hash, not its audio: the
parity tests skip without ``../shared`` (or ``$SOUNDTRACK_EMOTION_SHARED``) and without the
weights (installed by ``python -m soundtrack_emotion.core.embeddings.pretrained``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from soundtrack_emotion.core.audio import load_audio
from soundtrack_emotion.core.embeddings.musicnn import (
    MSD_TAGS,
    MTT_TAGS,
    MUSICNN_PATCH_FRAMES,
    MUSICNN_SAMPLE_RATE,
    assign_checkpoint,
    count_patches,
    read_checkpoint,
)
from soundtrack_emotion.core.embeddings.musicnn_vgg import (
    VGG_EMBEDDING_SIZE,
    VGG_LAYERS,
    build_vgg_network,
    load_vgg,
    vgg_embedding_of,
    vgg_features,
    vgg_from_variables,
    vgg_outputs,
)
from soundtrack_emotion.core.embeddings.pretrained import VGG_MODELS, vgg_checkpoint
from soundtrack_emotion.exceptions import AudioDecodeError, ModelUnavailableError, ParameterError

from .conftest import tone

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests/fixtures/musicnn"
SHARED = Path(os.environ.get("SOUNDTRACK_EMOTION_SHARED") or ROOT.parent / "shared")
CLIPS = SHARED / "audio/librosa_examples"
# Observed: 2e-6 (pool5, values up to 3.3), 2.4e-7 (taggram).
POOL5_ATOL = 1e-4
TAGGRAM_ATOL = 1e-5


def signal(seconds: float, *, seed: int = 0) -> np.ndarray:
    return tone(seconds, sr=MUSICNN_SAMPLE_RATE, channels=1, seed=seed)[:, 0]


def reference_of(model: str) -> dict:
    with np.load(FIXTURES / f"{model.lower()}_reference.npz", allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    data["identity"] = json.loads(str(data["identity"]))
    return data


@pytest.fixture(scope="module")
def installed() -> None:
    try:
        for model in VGG_MODELS:
            vgg_checkpoint(None, model=model)
    except ModelUnavailableError as error:
        pytest.skip(f"musicnn VGG weights not installed ({error})")


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    """The reference clip decoded at 16 kHz by the project's own decoder."""
    identity = reference_of("MSD_vgg")["identity"]
    path = CLIPS / identity["file"]
    if not path.is_file():
        pytest.skip(f"reference clip absent: {path} (no ../shared here)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == identity["file_sha256"], f"{path} is not the reference clip"
    return load_audio(path, sr=MUSICNN_SAMPLE_RATE)


def parity_errors(model, y: np.ndarray, reference: dict) -> list[str]:
    """How the rebuilt VGG misses the original package on ``y``; [] = parity."""
    n = len(reference["taggram"])
    outputs = vgg_outputs(y[: n * MUSICNN_PATCH_FRAMES * 256 + 512], model=model)
    errors = []
    for name, atol in (("pool5", POOL5_ATOL), ("taggram", TAGGRAM_ATOL)):
        ours = outputs[name][:n]
        diff = (
            float(np.abs(ours - reference[name]).max())
            if ours.shape == reference[name].shape
            else np.inf
        )
        if diff > atol:
            errors.append(f"{name}: shape {ours.shape}, max abs difference {diff:.3g}")
    return errors


@pytest.mark.parametrize("model", VGG_MODELS)
def test_rebuilt_vgg_reproduces_the_original_package(
    installed: None, clip: np.ndarray, model: str
) -> None:
    reference = reference_of(model)
    loaded = load_vgg(None, model)
    assert loaded.checkpoint == vgg_checkpoint(None, model=model)
    assert reference["identity"]["model"] == model
    assert parity_errors(loaded, clip, reference) == []


def test_weights_loaded_into_the_wrong_block_fail_the_parity_check(
    installed: None, clip: np.ndarray
) -> None:
    variables = read_checkpoint(vgg_checkpoint(None))
    swapped = {
        **variables,
        "3CNN/kernel": variables["4CNN/kernel"],
        "4CNN/kernel": variables["3CNN/kernel"],
    }  # same shapes: only the outputs can tell
    errors = parity_errors(vgg_from_variables(swapped), clip, reference_of("MSD_vgg"))
    assert any(e.startswith("pool5") for e in errors), errors
    assert any(e.startswith("taggram") for e in errors), errors


@pytest.mark.parametrize("model", VGG_MODELS)
def test_reference_fixtures_are_small_and_name_their_clip(model: str) -> None:
    reference = reference_of(model)
    assert (FIXTURES / f"{model.lower()}_reference.npz").stat().st_size < 50_000
    assert reference["taggram"].shape == (10, 50)
    assert reference["pool5"].shape == (10, VGG_EMBEDDING_SIZE)
    assert reference["identity"]["file"].startswith("Hungarian_Dance")  # public domain


def test_real_weights_on_a_synthetic_signal(installed: None) -> None:
    model = load_vgg(None)
    assert load_vgg(None) is model  # loaded once per process
    assert model.model == "MSD_vgg" and model.tags == MSD_TAGS and len(model.sha256) == 64
    assert load_vgg(None, "MTT_vgg").tags == MTT_TAGS
    y = signal(10.0, seed=4)
    first, tags = vgg_features(y, model=model)
    second, _ = vgg_features(y, model=model, batch_patches=2)
    assert first.shape == (3, 256) and tags.shape == (3, 50)
    np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-5)


# -------------------------------------------------------------------- network, no weights


def random_variables(network, seed: int = 0) -> dict[str, np.ndarray]:
    """Checkpoint-shaped variables for ``network`` (kernels scaled to their fan-in, so the
    tag probabilities stay inside (0, 1); positive scales and variances)."""
    rng = np.random.default_rng(seed)
    out = {}
    for layer in network.layers:
        for weight in layer.weights:
            shape = tuple(weight.shape)
            scale = 1 / np.sqrt(np.prod(shape[:-1])) if weight.name == "kernel" else 0.1
            value = rng.normal(0, scale, shape).astype(np.float32)
            if weight.name in ("gamma", "moving_variance"):
                value = 1 + np.abs(value)
            out[f"{layer.name}/{weight.name}"] = value
    return out


@pytest.fixture(scope="module")
def random_model():
    """The network filled with random checkpoint-shaped weights: no download needed."""
    return vgg_from_variables(random_variables(build_vgg_network()))


def test_the_network_has_the_packages_layers() -> None:
    network = build_vgg_network()
    names = {
        f"{layer.name}/{weight.name}": tuple(weight.shape)
        for layer in network.layers
        for weight in layer.weights
    }
    assert names["1CNN/kernel"] == (3, 3, 1, 128)
    assert names["5CNN/kernel"] == (3, 3, 128, 128)
    assert names["batch_normalization/gamma"] == (1,)
    assert names["batch_normalization_5/moving_variance"] == (128,)
    assert names["dense/kernel"] == (256, 50)
    assert len(names) == 2 * 5 + 4 * 6 + 2  # 5 convolutions, 6 batch norms, 1 dense
    assert network.count_params() == 607_030


def test_shapes_determinism_and_batching_without_weights(random_model) -> None:
    y = signal(12.0, seed=1)
    outputs = vgg_outputs(y, model=random_model)
    n = count_patches(1 + len(y) // 256, hop_frames=187)
    assert outputs["pool5"].shape == (n, 256) and outputs["taggram"].shape == (n, 50)
    assert outputs["pool5"].dtype == outputs["taggram"].dtype == np.float32
    assert ((outputs["taggram"] > 0) & (outputs["taggram"] < 1)).all()
    # Equal up to float32 rounding: oneDNN picks its convolution kernels by batch size.
    rounding = 1e-5 * np.abs(outputs["pool5"]).max()
    one_by_one = vgg_outputs(y, model=random_model, batch_patches=1)
    for name in ("pool5", "taggram"):
        np.testing.assert_allclose(one_by_one[name], outputs[name], rtol=1e-5, atol=rounding)
    half, _ = vgg_features(y, model=random_model, patch_hop=0.5)
    assert len(half) == count_patches(1 + len(y) // 256, hop_frames=94)
    np.testing.assert_allclose(half[0], outputs["pool5"][0], rtol=1e-5, atol=rounding)
    again = vgg_outputs(y, model=random_model)
    np.testing.assert_array_equal(again["pool5"], outputs["pool5"])


def test_pool5_plus_taggram_is_pool5_then_the_tag_probabilities(random_model) -> None:
    y = signal(7.0, seed=3)
    outputs = vgg_outputs(y, model=random_model)
    combined, taggram = vgg_features(y, model=random_model, layer="pool5+taggram")
    assert combined.shape == (2, 306) and VGG_LAYERS == ("pool5", "pool5+taggram")
    np.testing.assert_array_equal(combined[:, :256], outputs["pool5"])
    np.testing.assert_array_equal(combined[:, 256:], taggram)
    with pytest.raises(ParameterError, match=r"musicnn_vgg\.layer must be one of"):
        vgg_embedding_of(outputs, "pool4")


def test_bad_input_is_refused(random_model) -> None:
    with pytest.raises(AudioDecodeError, match="shorter than one"):
        vgg_outputs(signal(2.9), model=random_model)
    with pytest.raises(ParameterError, match="exactly 187 frames"):
        random_model(np.zeros((1, 200, 96), np.float32))
    with pytest.raises(ParameterError, match=r"\[b, T, 96\]"):
        random_model(np.zeros((1, 187, 128), np.float32))


def test_checkpoint_that_is_not_this_vgg_is_refused(tmp_path: Path) -> None:
    network = build_vgg_network()
    variables = random_variables(network)
    with pytest.raises(ModelUnavailableError, match="no variable 3CNN/kernel"):
        assign_checkpoint(network, {k: v for k, v in variables.items() if k != "3CNN/kernel"})
    wrong = {**variables, "dense/kernel": np.zeros((1506, 50), np.float32)}  # MusiCNN's
    with pytest.raises(ModelUnavailableError, match="layer dense needs weights of shapes"):
        vgg_from_variables(wrong)
    with pytest.raises(ParameterError, match="unknown musicnn VGG model 'MSD_musicnn'"):
        vgg_from_variables(variables, model="MSD_musicnn")
    (tmp_path / ".index").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailableError, match="cannot read the musicnn VGG checkpoint"):
        read_checkpoint(f"{tmp_path}{os.sep}", what="musicnn VGG")


def test_missing_weights_say_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ModelUnavailableError) as error:
        load_vgg(str(tmp_path / "elsewhere"), "MTT_vgg")
    message = str(error.value)
    assert "No MTT_vgg checkpoint" in message
    assert "python -m soundtrack_emotion.core.embeddings.pretrained" in message
    assert f"feature_extraction.musicnn_vgg.checkpoint = {tmp_path / 'elsewhere'}" in message
    monkeypatch.setenv("SOUNDTRACK_EMOTION_CACHE", str(tmp_path / "nowhere"))
    with pytest.raises(ModelUnavailableError, match=r"the cache .*nowhere"):
        vgg_checkpoint(None, model="MTT_vgg")
    with pytest.raises(ParameterError, match="MSD_musicnn"):
        load_vgg(None, "MSD_musicnn")


def test_bfloat16_follows_float32_and_returns_float32() -> None:
    variables = random_variables(build_vgg_network(), seed=2)
    y = signal(7.0, seed=6)
    fp32 = vgg_outputs(y, model=vgg_from_variables(variables))
    bf16 = vgg_outputs(y, model=vgg_from_variables(variables, precision="bfloat16"))
    for name in ("pool5", "taggram"):
        assert bf16[name].dtype == np.float32
        assert np.corrcoef(fp32[name].ravel(), bf16[name].ravel())[0, 1] > 0.99
        assert not np.array_equal(fp32[name], bf16[name])  # it did compute in bfloat16
