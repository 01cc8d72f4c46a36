"""madmom's key CNN rebuilt in Keras: the front end and the network against madmom's own
outputs, known keys on synthetic chords, chunking that changes nothing, and a weights file
that may not run code.

The parity fixture (``tests/fixtures/key_cnn/key_cnn_reference.npz``, made once by
``make_reference.py`` there with madmom itself) holds madmom's spectrogram and key
probabilities for the first 20 s of MusiCNN's reference clip, and the clip's hash, not its
audio: those tests skip without ``../shared`` (or ``$SOUNDTRACK_EMOTION_SHARED``) and without
the weights (``python -m soundtrack_emotion.core.embeddings.pretrained --key-cnn``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from soundtrack_emotion.core.audio import load_audio
from soundtrack_emotion.core.embeddings import key_cnn
from soundtrack_emotion.core.embeddings.key_cnn import (
    KEY_CNN_BANDS,
    KEY_CNN_SAMPLE_RATE,
    KEY_NAMES,
    key_cnn_from_file,
    key_filterbank,
    key_logit_map,
    key_probabilities,
    key_spectrogram,
    read_key_cnn_layers,
)
from soundtrack_emotion.core.embeddings.pretrained import key_cnn_file
from soundtrack_emotion.exceptions import AudioDecodeError, ModelUnavailableError

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "tests/fixtures/key_cnn/key_cnn_reference.npz"
SHARED = Path(os.environ.get("SOUNDTRACK_EMOTION_SHARED") or ROOT.parent / "shared")
SR = KEY_CNN_SAMPLE_RATE
# Observed: 3e-7 (spectrogram, values up to 3.4), 7e-8 (probabilities).
SPECTROGRAM_ATOL = 1e-5
PROBABILITY_ATOL = 1e-5
C_MAJOR_I_IV_V_I = [(60, 64, 67), (65, 69, 72), (67, 71, 74), (60, 64, 67)]
A_MINOR_I_IV_V_I = [(57, 60, 64), (62, 65, 69), (64, 68, 71), (57, 60, 64)]


def chords(progression: list[tuple[int, ...]], *, seconds: float = 2.0, repeats: int = 3):
    """Each chord's notes with six partials (amplitude 1/k), 20 ms fades, peak 0.3."""
    t = np.arange(round(seconds * SR)) / SR
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    blocks = []
    for notes in progression:
        f0s = [440.0 * 2 ** ((n - 69) / 12) for n in notes]
        y = sum(np.sin(2 * np.pi * k * f * t) / k for f in f0s for k in range(1, 7))
        blocks.append(y * fade)
    y = np.concatenate(blocks * repeats)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def reference() -> dict:
    with np.load(REFERENCE, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    data["identity"] = json.loads(str(data["identity"]))
    return data


@pytest.fixture(scope="module")
def model():
    try:
        return key_cnn_from_file(key_cnn_file(None))
    except ModelUnavailableError as missing:
        pytest.skip(f"no key CNN weights: {missing}")


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    identity = reference()["identity"]
    path = SHARED / "audio/librosa_examples" / identity["file"]
    if not path.is_file():
        pytest.skip(f"reference clip absent: {path} (no ../shared here)")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == identity["file_sha256"]
    return load_audio(path, sr=SR)[: int(identity["seconds"] * SR)]


def test_filterbank_is_madmoms_105_unit_area_bands_from_65_to_2100_hz():
    bank = key_filterbank()
    assert bank.shape == (4096, KEY_CNN_BANDS)
    np.testing.assert_allclose(bank.sum(axis=0), 1.0, rtol=1e-5)
    peaks = bank.argmax(axis=0) * SR / 8192
    assert np.all(np.diff(peaks) > 0) and 60 < peaks[0] < 70 and 2000 < peaks[-1] < 2150


def test_spectrogram_has_five_frames_a_second_and_refuses_another_rate():
    assert key_spectrogram(np.zeros(SR, dtype=np.float32)).shape == (5, KEY_CNN_BANDS)
    assert key_spectrogram(np.zeros(SR + 1, dtype=np.float32)).shape == (6, KEY_CNN_BANDS)
    assert key_spectrogram(np.zeros(SR // 2), sr=SR // 2).shape == (5, KEY_CNN_BANDS)
    with pytest.raises(ValueError, match="sr=16000"):
        key_spectrogram(np.zeros(SR), sr=16000)


def test_half_the_rate_gives_the_same_keys(model, clip):
    import librosa

    half = librosa.resample(clip, orig_sr=SR, target_sr=SR // 2, res_type="soxr_hq")
    full = key_probabilities(key_logit_map(clip, model=model).mean(axis=0))
    halved = key_probabilities(key_logit_map(half, model=model, sr=SR // 2).mean(axis=0))
    assert np.abs(full - halved).max() < 1e-3  # observed 4e-5


def test_front_end_reproduces_madmom(clip):
    expected = reference()["spectrogram"]
    ours = key_spectrogram(clip)
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() < SPECTROGRAM_ATOL


def test_network_reproduces_madmoms_key_probabilities(model, clip):
    expected = reference()["probabilities"]
    ours = key_probabilities(key_logit_map(clip, model=model).mean(axis=0))
    assert np.abs(ours - expected).max() < PROBABILITY_ATOL
    assert KEY_NAMES[int(np.argmax(ours))] == "G minor"  # the orchestral version's key


@pytest.mark.parametrize(
    ("progression", "key", "major"),
    [(C_MAJOR_I_IV_V_I, "C major", True), (A_MINOR_I_IV_V_I, "A minor", False)],
)
def test_chord_progressions_give_their_key(model, progression, key, major):
    probabilities = key_probabilities(key_logit_map(chords(progression), model=model).mean(0))
    assert KEY_NAMES[int(np.argmax(probabilities))] == key
    major_minus_minor = probabilities[:12].sum() - probabilities[12:].sum()
    assert (major_minus_minor > 0.5) if major else (major_minus_minor < -0.5)


def test_chunks_join_to_the_whole_tracks_map(model, monkeypatch):
    y = chords(C_MAJOR_I_IV_V_I + A_MINOR_I_IV_V_I, repeats=4)  # 64 s: 320 frames
    whole = model(key_spectrogram(y))
    monkeypatch.setattr(key_cnn, "KEY_CNN_CHUNK_FRAMES", 96)
    chunked = key_logit_map(y, model=model)
    assert chunked.shape == (40, 24)
    np.testing.assert_allclose(chunked, whole[: len(chunked)], atol=1e-4)


def test_a_track_shorter_than_one_step_is_too_short(model):
    with pytest.raises(AudioDecodeError, match=r"shorter than one 1\.6 s key CNN step"):
        key_logit_map(np.zeros(SR, dtype=np.float32), model=model)


class _Planted:
    def __reduce__(self):
        return (os.system, ("echo planted",))


def test_a_weights_file_naming_other_code_is_refused(tmp_path):
    path = tmp_path / "key_cnn.pkl"
    path.write_bytes(pickle.dumps({"layers": [_Planted()]}))
    with pytest.raises(ModelUnavailableError, match=r"names posix\.system, not allowed"):
        read_key_cnn_layers(path)
    path.write_bytes(pickle.dumps({"not": "a network"}))
    with pytest.raises(ModelUnavailableError, match="cannot read the key CNN file"):
        read_key_cnn_layers(path)
