"""Decoding for several families one sample rate at a time: the same samples as decoding to
every rate at once, each rate decoded once when the work follows ``rate_groups``, and a rate's
waveform released before the next one is decoded."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from soundtrack_emotion.core.audio import MFCC_SAMPLE_RATE, VGGISH_SAMPLE_RATE
from soundtrack_emotion.core.families import rate_groups, with_members
from soundtrack_emotion.exceptions import AudioDecodeError
from soundtrack_emotion.runtime.feature_settings import ExtractionParams

CONF = Path(__file__).resolve().parents[3] / "conf" / "base" / "parameters_feature_extraction.yml"


@pytest.fixture(scope="module")
def params() -> ExtractionParams:
    loaded = yaml.safe_load(CONF.read_text())["feature_extraction"]
    loaded["precision"] = "float32"
    loaded["framing"]["short_track"]["min_seconds"] = 0.5
    return ExtractionParams.from_dict(loaded)


@pytest.fixture
def track(tmp_path) -> Path:
    sr = 44100
    t = np.arange(3 * sr) / sr
    y = 0.4 * np.sin(2 * np.pi * 330 * t) * (0.7 + 0.3 * np.sin(2 * np.pi * 0.5 * t))
    path = tmp_path / "tone.ogg"
    sf.write(path, np.stack([y, 0.8 * y], axis=1).astype(np.float32), sr)
    return path


def test_rate_by_rate_gives_the_samples_of_one_decode_to_every_rate(params, track) -> None:
    families = [params.family(f) for f in ("mfcc", "vggish", "fusion")]
    together = params.decoding.decode(str(track), families)
    groups = rate_groups(families)
    by_rate = params.decoding.decode_by_rate(str(track), groups[0][0])

    assert sorted(rate for rate, _ in groups) == [VGGISH_SAMPLE_RATE, MFCC_SAMPLE_RATE]
    for rate, _ in groups:
        assert by_rate[rate].tobytes() == together[rate].tobytes()
    assert by_rate.decodes == 2
    assert (by_rate.seconds, by_rate.warnings) == (together.seconds, together.warnings)


def test_rate_groups_hold_every_leaf_once_and_each_rate_once(params) -> None:
    families = [params.family(f) for f in ("mfcc", "fusion", "vggish")]
    groups = rate_groups(families, also=(MFCC_SAMPLE_RATE, 8000))

    rates = [rate for rate, _ in groups]
    assert len(rates) == len(set(rates)) and rates[-1] == 8000
    leaves = [leaf.name for _, group in groups for leaf in group]
    expected = [f.name for f in with_members(families) if not f.members]
    assert sorted(leaves) == sorted(expected) and "fusion" not in leaves
    for rate, group in groups:
        assert all(leaf.sample_rate == rate for leaf in group)


def test_the_rate_held_before_is_released_before_the_next_is_decoded(params, track) -> None:
    audio = params.decoding.decode_by_rate(str(track), MFCC_SAMPLE_RATE)
    first = weakref.ref(audio[MFCC_SAMPLE_RATE])
    audio[VGGISH_SAMPLE_RATE]
    gc.collect()
    assert first() is None
    assert audio.decodes == 2


def test_a_file_that_cannot_be_decoded_raises_at_once(params, tmp_path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x10\x00\x00WAVEfmt " + bytes(200))
    with pytest.raises(AudioDecodeError):
        params.decoding.decode_by_rate(str(bad), MFCC_SAMPLE_RATE)
