"""The demo's audio cues move with the latent VAD, each dimension on its own."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf

from soundtrack_emotion.demo.audio_files import with_ogg_serial, write_audio
from soundtrack_emotion.demo.synthesis import SYNTH_SAMPLE_RATE, render_soundtrack
from soundtrack_emotion.exceptions import ParameterError

SECONDS = 6.0
SEEDS = (0, 1, 2)


def _spectrum(valence: float, arousal: float, dominance: float, seed: int):
    audio = render_soundtrack(
        valence=valence, arousal=arousal, dominance=dominance, seconds=SECONDS, seed=seed
    )[:, 0].astype(np.float64)
    power = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1.0 / SYNTH_SAMPLE_RATE)
    return audio, power, freqs


def _band(power: np.ndarray, freqs: np.ndarray, low: float, high: float) -> float:
    return float(power[(freqs >= low) & (freqs < high)].sum())


def brightness_db(valence: float, seed: int) -> float:
    """Upper partials (1.5-6 kHz) against the body of the sound (150 Hz-1.5 kHz), in dB."""
    _, power, freqs = _spectrum(valence, 0.3, 0.5, seed)
    return 10 * np.log10(_band(power, freqs, 1500, 6000) / _band(power, freqs, 150, 1500))


def onset_rate(arousal: float, seed: int) -> float:
    """Onsets per second (librosa's spectral-flux onset detector)."""
    audio, _, _ = _spectrum(0.5, arousal, 0.5, seed)
    onsets = librosa.onset.onset_detect(y=audio.astype(np.float32), sr=SYNTH_SAMPLE_RATE)
    return len(onsets) / SECONDS


def bass_share(dominance: float, seed: int) -> float:
    """Share of the power below 150 Hz."""
    _, power, freqs = _spectrum(0.5, 0.5, dominance, seed)
    return _band(power, freqs, 0, 150) / power.sum()


@pytest.mark.parametrize("seed", SEEDS)
def test_valence_brightens_the_sound(seed):
    assert brightness_db(0.85, seed) > brightness_db(0.15, seed) + 8.0


@pytest.mark.parametrize("seed", SEEDS)
def test_arousal_adds_onsets(seed):
    assert onset_rate(0.85, seed) > 2 * onset_rate(0.15, seed) + 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_dominance_adds_bass(seed):
    assert bass_share(0.85, seed) > bass_share(0.15, seed) + 0.3


def test_rendering_is_deterministic_and_in_range():
    kwargs = dict(
        valence=0.9, arousal=0.95, dominance=0.9, seconds=2.0, seed=5, sample_rate=48000, channels=2
    )
    first, second = render_soundtrack(**kwargs), render_soundtrack(**kwargs)
    assert first.shape == (96000, 2) and first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    assert 0.05 < np.abs(first).max() <= 1.0
    assert not np.array_equal(first[:, 0], first[:, 1])  # stereo has its own room tails


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"valence": 1.2}, "valence"),
        ({"seconds": 0.0}, "seconds"),
        ({"channels": 3}, "channels"),
    ],
)
def test_bad_arguments_raise_parameter_error(kwargs, match):
    arguments = dict(valence=0.5, arousal=0.5, dominance=0.5, seconds=1.0, seed=0) | kwargs
    with pytest.raises(ParameterError, match=match):
        render_soundtrack(**arguments)


def test_ogg_serial_rewrite_keeps_a_valid_stream(tmp_path):
    audio = render_soundtrack(valence=0.5, arousal=0.5, dominance=0.5, seconds=1.0, seed=1)
    path = tmp_path / "x.ogg"
    write_audio(path, audio, SYNTH_SAMPLE_RATE, subtype="VORBIS", stream_id="x")
    data = path.read_bytes()
    pages = data.count(b"OggS")
    serials = {data[i + 14 : i + 18] for i in range(len(data)) if data[i : i + 4] == b"OggS"}
    assert pages >= 3 and len(serials) == 1
    rewritten = with_ogg_serial(data, 1234)
    assert rewritten != data
    (tmp_path / "y.ogg").write_bytes(rewritten)
    # libogg drops pages whose checksum is wrong, so equal decodes prove the CRCs are right.
    np.testing.assert_array_equal(sf.read(tmp_path / "y.ogg")[0], sf.read(path)[0])
    with pytest.raises(ValueError, match="not an Ogg page"):
        with_ogg_serial(b"RIFF0000", 1)
