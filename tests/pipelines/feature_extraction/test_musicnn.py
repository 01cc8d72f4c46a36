"""MusiCNN: parity with the original musicnn package, the float32 front end, patching, and the
checkpoint loading errors.

The parity fixture (``tests/fixtures/musicnn/msd_musicnn_reference.npz``, made once by
``make_reference.py`` there with the original package, its float16 cast made float32) holds the
package's taggram and embeddings for the first 10 patches of a public-domain clip in
``../shared/audio/librosa_examples`` and the clip's hash, not its audio: the parity tests skip
without ``../shared`` (or ``$SOUNDTRACK_EMOTION_SHARED``) and without the weights (installed by
``python -m soundtrack_emotion.core.embeddings.pretrained``, which ``make test`` runs first).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import librosa
import numpy as np
import pytest

from soundtrack_emotion.core.audio import load_audio
from soundtrack_emotion.core.embeddings.musicnn import (
    MSD_TAGS,
    MUSICNN_PATCH_FRAMES,
    MUSICNN_PATCH_SECONDS,
    MUSICNN_SAMPLE_RATE,
    assign_checkpoint,
    build_musicnn_network,
    count_patches,
    load_musicnn,
    musicnn_features,
    musicnn_from_variables,
    musicnn_logmel,
    musicnn_outputs,
    musicnn_patch_rows,
    patch_hop_frames,
    read_checkpoint,
)
from soundtrack_emotion.core.embeddings.pretrained import musicnn_checkpoint
from soundtrack_emotion.core.families.musicnn import MusicnnFamily
from soundtrack_emotion.core.vocabulary import VAD_LABELS as VAD
from soundtrack_emotion.exceptions import AudioDecodeError, ModelUnavailableError, ParameterError

from .conftest import tone

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "tests/fixtures/musicnn/msd_musicnn_reference.npz"
SHARED = Path(os.environ.get("SOUNDTRACK_EMOTION_SHARED") or ROOT.parent / "shared")
CLIPS = SHARED / "audio/librosa_examples"
# Observed: 4e-6 (dense, values up to 8.6), 2e-6 (penultimate), 4e-7 (taggram).
EMBEDDING_ATOL = 1e-4
TAGGRAM_ATOL = 1e-5
LOGMEL_ATOL = 1e-4


def signal(seconds: float, *, seed: int = 0) -> np.ndarray:
    return tone(seconds, sr=MUSICNN_SAMPLE_RATE, channels=1, seed=seed)[:, 0]


@pytest.fixture(scope="module")
def checkpoint() -> str:
    try:
        return musicnn_checkpoint(None)
    except ModelUnavailableError as error:
        pytest.skip(f"MusiCNN weights not installed ({error})")


@pytest.fixture(scope="module")
def reference() -> dict:
    with np.load(REFERENCE, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    data["identity"] = json.loads(str(data["identity"]))
    return data


@pytest.fixture(scope="module")
def clip(reference: dict) -> np.ndarray:
    """The reference clip decoded at 16 kHz by the project's own decoder."""
    path = CLIPS / reference["identity"]["file"]
    if not path.is_file():
        pytest.skip(f"reference clip absent: {path} (no ../shared here)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == reference["identity"]["file_sha256"], f"{path} is not the reference clip"
    return load_audio(path, sr=MUSICNN_SAMPLE_RATE)


def parity_errors(model, y: np.ndarray, reference: dict) -> list[str]:
    """How the rebuilt front end + network miss the original package on ``y``; [] = parity."""
    n = len(reference["taggram"])
    # Only the reference patches: frame k's window ends at sample 256 (k + 1), so the cut
    # changes none of them.
    y = y[: n * MUSICNN_PATCH_FRAMES * 256 + 512]
    errors = []
    logmel = musicnn_logmel(y)
    diff = float(np.abs(logmel[:MUSICNN_PATCH_FRAMES] - reference["logmel_patch0"]).max())
    if diff > LOGMEL_ATOL:
        errors.append(f"log-mel patch 0 differs by {diff:.3g}")
    outputs = musicnn_outputs(y, model=model)
    for name, atol in (
        ("dense", EMBEDDING_ATOL),
        ("penultimate", EMBEDDING_ATOL),
        ("taggram", TAGGRAM_ATOL),
    ):
        ours = outputs[name][:n]
        diff = (
            float(np.abs(ours - reference[name]).max())
            if ours.shape == reference[name].shape
            else np.inf
        )
        if diff > atol:
            errors.append(f"{name}: shape {ours.shape}, max abs difference {diff:.3g}")
    return errors


def test_rebuilt_musicnn_reproduces_the_original_package(
    checkpoint: str, reference: dict, clip: np.ndarray
) -> None:
    model = load_musicnn(None)
    assert model.checkpoint == checkpoint
    assert parity_errors(model, clip, reference) == []
    assert len(clip) == reference["identity"]["samples_16k"]


def test_a_mis_loaded_weight_fails_the_parity_check(
    checkpoint: str, reference: dict, clip: np.ndarray
) -> None:
    import keras

    model = load_musicnn(None)
    # Most 7 x 38 timbral filters never pass their ReLU on this clip (swapping two of those
    # changes nothing): swap the two most active ones.
    conv = keras.Model(model.network.input, model.network.get_layer("conv2d").output)
    activity = np.asarray(conv(musicnn_logmel(clip)[None, :MUSICNN_PATCH_FRAMES])).max(
        axis=(0, 1, 2)
    )
    first, second = np.argsort(activity)[-2:]
    variables = read_checkpoint(checkpoint)
    kernel = variables["conv2d/kernel"].copy()
    kernel[..., [first, second]] = kernel[..., [second, first]]
    swapped = musicnn_from_variables({**variables, "conv2d/kernel": kernel})
    errors = parity_errors(swapped, clip, reference)
    assert any(e.startswith("dense") for e in errors), errors
    assert any(e.startswith("taggram") for e in errors), errors


def test_reference_fixture_is_small_and_names_its_clip(reference: dict) -> None:
    assert REFERENCE.stat().st_size < 200_000
    assert reference["taggram"].shape == (10, len(MSD_TAGS))
    assert reference["dense"].shape == reference["penultimate"].shape == (10, 200)
    assert reference["identity"]["file"].startswith("Hungarian_Dance")  # public domain


# ------------------------------------------------------------------ front end, no weights


def test_logmel_is_the_packages_front_end_in_float32() -> None:
    y = signal(7.0)
    mel = librosa.feature.melspectrogram(
        y=y, sr=MUSICNN_SAMPLE_RATE, n_fft=512, hop_length=256, n_mels=96
    )
    out = musicnn_logmel(y)
    assert out.dtype == np.float32 and out.shape == (1 + len(y) // 256, 96)
    np.testing.assert_array_equal(out, np.log10(10000 * mel.T + 1))


def test_logmel_in_chunks_equals_the_whole_track() -> None:
    y = signal(12.0, seed=2)
    np.testing.assert_allclose(
        musicnn_logmel(y, chunk_frames=97), musicnn_logmel(y), rtol=1e-5, atol=1e-5
    )


def test_float32_log_stays_finite_where_the_packages_float16_overflows() -> None:
    t = np.arange(3 * MUSICNN_SAMPLE_RATE) / MUSICNN_SAMPLE_RATE
    loud = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    mel = librosa.feature.melspectrogram(
        y=loud, sr=MUSICNN_SAMPLE_RATE, n_fft=512, hop_length=256, n_mels=96
    )
    with np.errstate(over="ignore"):
        as_published = np.log10(10000 * mel.astype(np.float16) + 1)
    assert np.isinf(as_published).any()  # mel > 6.55 -> 10000 * mel > float16 max
    assert np.isfinite(musicnn_logmel(loud)).all()


def test_patch_counts_and_frame_rows() -> None:
    three_seconds = librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256)
    assert three_seconds + 1 == MUSICNN_PATCH_FRAMES
    assert round(MUSICNN_PATCH_SECONDS, 3) == 2.992
    assert patch_hop_frames(1.0) == 187 and patch_hop_frames(0.5) == 94
    assert count_patches(186, hop_frames=187) == 0
    assert count_patches(187, hop_frames=187) == 1
    assert count_patches(2866, hop_frames=187) == 15  # as the package's batch_data
    assert musicnn_patch_rows(15) == 5 and musicnn_patch_rows(30) == 10
    assert musicnn_patch_rows(15, patch_hop=0.5) == 8
    family = MusicnnFamily(
        checkpoint=None, model="MSD_musicnn", layer="dense", patch_hop=1.0, batch_patches=16
    )
    assert family.frame_rows(15) == 5 and family.frame_rows(30) == 10
    with pytest.raises(ParameterError, match="no whole"):
        family.frame_rows(2)
    with pytest.raises(ParameterError, match="patch_hop"):
        patch_hop_frames(0.0)


def random_variables(network, seed: int = 0) -> dict[str, np.ndarray]:
    """Checkpoint-shaped variables for ``network`` (4-D conv kernels, positive variances)."""
    rng = np.random.default_rng(seed)
    out = {}
    for layer in network.layers:
        for weight in layer.weights:
            name = f"{layer.name}/{weight.name}"
            shape = tuple(weight.shape)
            if weight.name == "kernel" and len(shape) == 3:
                shape = (shape[0], shape[1], 1, shape[2])
            value = rng.normal(0, 0.05, shape).astype(np.float32)
            if weight.name in ("gamma", "moving_variance"):
                value = 1 + np.abs(value)
            out[name] = value
    return out


@pytest.fixture(scope="module")
def random_model():
    """The network filled with random checkpoint-shaped weights: no download needed."""
    return musicnn_from_variables(random_variables(build_musicnn_network()))


def test_network_shapes_determinism_and_batching_without_weights(random_model) -> None:
    y = signal(12.0, seed=1)
    embeddings, taggram = musicnn_features(y, model=random_model)
    n = count_patches(1 + len(y) // 256, hop_frames=187)
    assert embeddings.shape == (n, 200) and taggram.shape == (n, 50)
    assert embeddings.dtype == np.float32 and ((taggram > 0) & (taggram < 1)).all()
    # Equal up to float32 rounding: oneDNN picks its convolution kernels by batch size (on
    # AVX512/AMX CPUs one value in 800 moves by 1e-5 where the largest are about 20).
    rounding = 1e-5 * np.abs(embeddings).max()
    again, _ = musicnn_features(y, model=random_model, batch_patches=1)
    np.testing.assert_allclose(again, embeddings, rtol=1e-5, atol=rounding)
    half, _ = musicnn_features(y, model=random_model, patch_hop=0.5)
    assert len(half) == count_patches(1 + len(y) // 256, hop_frames=94)
    np.testing.assert_allclose(half[0], embeddings[0], rtol=1e-5, atol=rounding)
    penultimate, _ = musicnn_features(y, model=random_model, layer="penultimate")
    assert not np.allclose(penultimate, embeddings)


def test_a_track_shorter_than_one_patch_is_refused(random_model) -> None:
    with pytest.raises(AudioDecodeError, match="shorter than one MusiCNN patch"):
        musicnn_features(signal(2.9), model=random_model)
    with pytest.raises(ParameterError, match="layer"):
        musicnn_features(signal(4.0), model=random_model, layer="logits")


def test_checkpoint_that_is_not_musicnn_is_refused() -> None:
    network = build_musicnn_network()
    variables = random_variables(network)
    with pytest.raises(ModelUnavailableError, match="no variable dense/kernel"):
        assign_checkpoint(network, {k: v for k, v in variables.items() if k != "dense/kernel"})
    wrong = {**variables, "dense_1/kernel": np.zeros((200, 10), np.float32)}
    with pytest.raises(ModelUnavailableError, match="dense_1"):
        assign_checkpoint(network, wrong)


def test_unreadable_checkpoint_says_so(tmp_path: Path) -> None:
    (tmp_path / ".index").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailableError, match="cannot read the MusiCNN checkpoint"):
        read_checkpoint(f"{tmp_path}{os.sep}")


def test_real_weights_on_a_synthetic_signal(checkpoint: str) -> None:
    model = load_musicnn(None)
    assert load_musicnn(None) is model  # loaded once per process
    assert model.tags == MSD_TAGS and len(model.sha256) == 64
    y = signal(10.0, seed=4)
    first, tags = musicnn_features(y, model=model)
    second, _ = musicnn_features(y, model=model, batch_patches=2)
    assert first.shape == (3, 200) and tags.shape == (3, 50)
    np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-5)


def test_inference_scores_musicnn_models_on_patches(
    random_model, params: dict, tmp_path: Path
) -> None:
    from soundtrack_emotion.pipelines.inference.track import (
        LabelModel,
        TimelineSettings,
        infer_track,
        row_seconds,
    )
    from soundtrack_emotion.runtime.feature_settings import ExtractionParams

    from .conftest import write_audio

    extraction = ExtractionParams.from_dict(params)
    assert row_seconds("musicnn", extraction) == pytest.approx(2.992)
    path = write_audio(tmp_path / "song.wav", tone(20.0, sr=22050, seed=5), 22050)
    shapes = []

    def predict(frames: np.ndarray) -> np.ndarray:
        shapes.append(frames.shape[1:])
        return np.full((len(frames), 1), 0.5, np.float32)

    width = 250 if extraction.musicnn.layer == "dense+taggram" else 200
    models = [LabelModel(label, "musicnn", predict, (5, width), 0) for label in VAD]
    result = infer_track(
        str(path),
        track="song",
        models=models,
        extraction=extraction,
        timeline=TimelineSettings(hop_seconds=5.0, batch_size=4, waveform_points=10),
        networks={"musicnn": random_model},
    )
    assert set(shapes) == {(5, width)} and len(result.timeline) == 4
    assert result.summary["valence"] == pytest.approx(0.5)


def test_dense_plus_taggram_is_the_dense_embedding_then_the_tag_probabilities():
    from soundtrack_emotion.core.embeddings.musicnn import embedding_of

    outputs = {
        "dense": np.arange(6, dtype=np.float32).reshape(2, 3),
        "penultimate": np.zeros((2, 3), np.float32),
        "taggram": np.full((2, 2), 0.5, np.float32),
    }
    combined = embedding_of(outputs, "dense+taggram")
    np.testing.assert_array_equal(combined[:, :3], outputs["dense"])
    np.testing.assert_array_equal(combined[:, 3:], outputs["taggram"])
    with pytest.raises(ParameterError, match=r"musicnn\.layer must be one of"):
        embedding_of(outputs, "logits")
