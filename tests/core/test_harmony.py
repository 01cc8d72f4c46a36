"""Harmony features on synthetic audio with known answers: keys, modes, tempi, brightness."""

from __future__ import annotations

import numpy as np
import pytest

from soundtrack_emotion.core import harmony
from soundtrack_emotion.core.harmony import (
    HARMONY_FEATURE_NAMES,
    HARMONY_SAMPLE_RATE,
    Key,
    block_chroma,
    estimate_key,
    harmony_features,
)
from soundtrack_emotion.exceptions import AudioDecodeError, ParameterError

SR = HARMONY_SAMPLE_RATE
C_MAJOR_I_IV_V_I = [(60, 64, 67), (65, 69, 72), (67, 71, 74), (60, 64, 67)]
A_MINOR_I_IV_V_I = [(57, 60, 64), (62, 65, 69), (64, 68, 71), (57, 60, 64)]


def tone(midi_notes: tuple[int, ...], seconds: float, *, harmonics: int = 6) -> np.ndarray:
    """Notes with ``harmonics`` partials of amplitude 1/k, 20 ms fades: [seconds * SR]."""
    t = np.arange(round(seconds * SR)) / SR
    y = np.zeros_like(t)
    for note in midi_notes:
        f0 = 440.0 * 2 ** ((note - 69) / 12)
        for k in range(1, harmonics + 1):
            if k * f0 < SR / 2:
                y += np.sin(2 * np.pi * k * f0 * t) / k
    return y * np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)


def normalised(y: np.ndarray, peak: float = 0.3) -> np.ndarray:
    return (peak * y / np.abs(y).max()).astype(np.float32)


def progression(chords: list[tuple[int, ...]], seconds: float = 3.0) -> np.ndarray:
    return normalised(np.concatenate([tone(chord, seconds) for chord in chords]))


def click_track(bpm: float, seconds: float = 12.0) -> np.ndarray:
    """A 10 ms, 1 kHz decaying blip on every beat."""
    y = np.zeros(round(seconds * SR), dtype=np.float32)
    n = round(0.01 * SR)
    blip = np.sin(2 * np.pi * 1000 * np.arange(n) / SR) * np.exp(-np.arange(n) / (0.002 * SR))
    for beat in np.arange(0.0, seconds, 60.0 / bpm):
        start = round(beat * SR)
        y[start : start + n] += blip[: len(y) - start]
    return normalised(y, 0.5)


def column(features: np.ndarray, name: str) -> np.ndarray:
    return features[:, HARMONY_FEATURE_NAMES.index(name)]


@pytest.fixture(scope="module")
def c_major() -> np.ndarray:
    return progression(C_MAJOR_I_IV_V_I)


@pytest.fixture(scope="module")
def a_minor() -> np.ndarray:
    return progression(A_MINOR_I_IV_V_I)


@pytest.fixture(scope="module")
def c_major_features(c_major) -> np.ndarray:
    return harmony_features(c_major)


@pytest.fixture(scope="module")
def a_minor_features(a_minor) -> np.ndarray:
    return harmony_features(a_minor)


def test_shape_dtype_and_one_block_per_whole_block(a_minor):
    features = harmony_features(a_minor[: round(10.5 * SR)])

    assert features.shape == (3, len(HARMONY_FEATURE_NAMES))
    assert features.dtype == np.float32
    assert np.isfinite(features).all()
    assert len(set(HARMONY_FEATURE_NAMES)) == len(HARMONY_FEATURE_NAMES)


def test_a_track_shorter_than_a_block_is_one_block(c_major):
    assert harmony_features(c_major[: 2 * SR]).shape == (1, len(HARMONY_FEATURE_NAMES))


def test_c_major_progression_is_major_in_c(c_major, c_major_features):
    assert (column(c_major_features, "mode_strength") > 0.05).all()
    assert estimate_key(block_chroma(c_major).sum(axis=0))[:2] == ("C", "major")


def test_a_minor_progression_is_minor_in_a(a_minor, a_minor_features):
    assert (column(a_minor_features, "mode_strength") < -0.05).all()
    assert estimate_key(block_chroma(a_minor).sum(axis=0))[:2] == ("A", "minor")


@pytest.mark.parametrize("profiles", harmony.KEY_PROFILES)
def test_both_key_profiles_correlate_best_with_the_scale_they_describe(profiles):
    c_major_scale, a_minor_scale = np.zeros((2, 12))
    c_major_scale[[0, 2, 4, 5, 7, 9, 11]] = [3, 1, 2, 1, 2, 1, 1]
    a_minor_scale[[9, 11, 0, 2, 4, 5, 8]] = [3, 1, 2, 1, 2, 1, 1]  # harmonic minor
    scales = np.stack([c_major_scale, a_minor_scale])

    correlations = harmony.key_correlations(scales, profiles=profiles)

    assert np.argmax(correlations, axis=1).tolist() == [0, 12 + 9]


def test_temperley_mode_strength_reads_major_and_minor(c_major_features, a_minor_features):
    assert (column(c_major_features, "temperley_mode_strength") > 0.05).all()
    assert (column(a_minor_features, "temperley_mode_strength") < -0.05).all()
    np.testing.assert_allclose(
        column(a_minor_features, "temperley_mode_strength"),
        column(a_minor_features, "temperley_major_correlation")
        - column(a_minor_features, "temperley_minor_correlation"),
        atol=1e-6,
    )


def test_unknown_key_profiles_are_named():
    with pytest.raises(ParameterError, match="profiles must be one of"):
        harmony.key_correlations(np.ones((1, 12)), profiles="bach")


def test_block_chroma_rows_are_distributions(c_major):
    chroma = block_chroma(c_major)

    assert chroma.shape == (4, 12)
    np.testing.assert_allclose(chroma.sum(axis=1), 1.0, rtol=1e-5)
    assert (chroma >= 0).all()


def test_each_chord_block_names_its_chord(c_major):
    keys = [estimate_key(chroma) for chroma in block_chroma(c_major)]

    assert [(key.tonic, key.mode) for key in keys] == [
        ("C", "major"),
        ("F", "major"),
        ("G", "major"),
        ("C", "major"),
    ]


def test_rotated_chroma_is_key_invariant(c_major_features):
    in_d = progression([tuple(note + 2 for note in chord) for chord in C_MAJOR_I_IV_V_I])
    degrees = [f"chroma_degree_{degree}" for degree in range(12)]
    columns = [HARMONY_FEATURE_NAMES.index(name) for name in degrees]

    np.testing.assert_allclose(
        harmony_features(in_d)[:, columns], c_major_features[:, columns], atol=0.02
    )


@pytest.mark.parametrize("bpm", [120.0, 90.0])
def test_click_track_tempo(bpm):
    features = harmony_features(click_track(bpm))

    np.testing.assert_allclose(column(features, "tempo_bpm"), bpm, atol=2.0)
    assert (column(features, "pulse_clarity") > 0.5).all()


def test_sustained_chords_have_less_pulse_clarity_than_clicks(c_major_features):
    assert column(c_major_features, "pulse_clarity").max() < 0.3


def test_higher_partials_raise_the_centroid():
    dull = harmony_features(normalised(tone((57,), 3.0, harmonics=2)))
    bright = harmony_features(normalised(tone((57,), 3.0, harmonics=20)))

    assert column(bright, "spectral_centroid_hz")[0] > 2 * column(dull, "spectral_centroid_hz")[0]


def test_a_semitone_cluster_is_rougher_than_a_major_triad():
    cluster = harmony_features(progression([(60, 61, 62)]))
    triad = harmony_features(progression([(60, 64, 67)]))

    assert column(cluster, "roughness")[0] > 2 * column(triad, "roughness")[0]


def test_louder_is_louder_and_level_leaves_harmony_alone(c_major, c_major_features):
    quiet, loud = harmony_features(c_major * 0.1), c_major_features

    np.testing.assert_allclose(
        column(loud, "loudness_db") - column(quiet, "loudness_db"), 20.0, atol=0.1
    )
    np.testing.assert_allclose(
        column(loud, "mode_strength"), column(quiet, "mode_strength"), atol=1e-3
    )


def test_features_do_not_depend_on_the_chunking(a_minor, a_minor_features, monkeypatch):
    monkeypatch.setattr(harmony, "HARMONY_CHUNK_FRAMES", 256)

    np.testing.assert_allclose(harmony_features(a_minor), a_minor_features, rtol=1e-4, atol=1e-4)


def test_silence_is_finite_zeros():
    features = harmony_features(np.zeros(4 * SR, dtype=np.float32))

    assert features.shape == (1, len(HARMONY_FEATURE_NAMES))
    np.testing.assert_array_equal(features, 0.0)
    assert estimate_key(block_chroma(np.zeros(4 * SR))[0]) is None


def test_a_silent_block_between_chords_is_zeros():
    chord = progression([(60, 64, 67)], seconds=2.9)
    # 3.2 s of silence: the frames of the block from 3 s to 6 s hear none of either chord.
    y = np.concatenate([chord, np.zeros(round(3.2 * SR), np.float32), chord])

    features = harmony_features(y)

    np.testing.assert_array_equal(features[1], 0.0)
    assert (column(features, "loudness_db")[[0, 2]] > 0).all()


def test_estimate_key_names_the_triad():
    profile = np.zeros(12)
    profile[[7, 11, 2]] = 1.0  # G, B, D

    assert estimate_key(profile) == Key("G", "major", pytest.approx(0.82, abs=0.05))


def test_too_short_names_the_length():
    with pytest.raises(AudioDecodeError, match=r"0\.500 s") as error:
        harmony_features(np.zeros(SR // 2, dtype=np.float32))
    assert error.value.reason == "too_short"


def test_non_finite_samples_are_refused():
    y = np.zeros(2 * SR, dtype=np.float32)
    y[[10, 20]] = [np.nan, np.inf]

    with pytest.raises(AudioDecodeError, match="2 of 44100 samples") as error:
        harmony_features(y)
    assert error.value.reason == "invalid_samples"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y": np.zeros((2, 2 * SR))}, r"mono waveform \[n\], got shape \(2, 44100\)"),
        ({"sr": 8000}, "sr must be an integer >= 16000 Hz, got 8000"),
        ({"block_seconds": 0.25}, "block_seconds must be >= 1.0 s, got 0.25"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    arguments = {"y": np.zeros(2 * SR, dtype=np.float32), **kwargs}
    y = arguments.pop("y")

    with pytest.raises(ParameterError, match=message):
        harmony_features(y, **arguments)
