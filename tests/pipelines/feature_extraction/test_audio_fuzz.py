"""Seeded fuzz test of decoding: corrupted versions of files the test writes (WAV, FLAC, OGG,
MP3) each get a true result or a reason, never a crash, a hang or a non-finite sample.

Mutation classes (see docs): truncation at random offsets, flipped and zeroed bytes in the
header and in the body, appended garbage, wrong extensions, NaN/Inf stretches, zero channels
and zero sample rate in a WAV header, long leading silence, 1 Hz and 384 kHz rates, 8 channels.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundtrack_emotion.core.audio import MAX_INVALID_SHARE, MFCC_SAMPLE_RATE, decode
from soundtrack_emotion.core.families import Decoding
from soundtrack_emotion.core.families.mfcc import MfccFamily
from soundtrack_emotion.exceptions import AudioDecodeError
from soundtrack_emotion.pipelines.feature_extraction.tracks import TrackTask, extract_track

from .conftest import tone, write_audio

SEED = 1313
RATE = 22050
SECONDS = 2.0
FORMATS = ("wav", "flac", "ogg", "mp3")
# The decoder's unit of output: a result's length may differ from the decodable audio by at
# most one codec block (FLAC 4096 frames, MP3 1152, Vorbis 2048) plus encoder padding.
CODEC_BLOCK_SECONDS = {"wav": 0.0, "flac": 4096 / RATE, "ogg": 2048 / RATE, "mp3": 2 * 1152 / RATE}
MFCC = MfccFamily(
    sample_rate=MFCC_SAMPLE_RATE, n_mfcc=13, n_fft=2048, hop_length=1024, drop_c0=False
)


def _outcome(path: Path) -> tuple[str, object]:
    """("ok", Audio) or ("reason", code) - anything else escapes and fails the test."""
    try:
        audio = decode(path, sample_rates=(MFCC_SAMPLE_RATE,))
    except AudioDecodeError as error:
        assert str(path) in str(error) and error.reason
        return "reason", error.reason
    y = audio[MFCC_SAMPLE_RATE]
    assert np.isfinite(y).all() and np.abs(y).max() <= 1.0
    assert len(y) == int(np.ceil(audio.seconds * MFCC_SAMPLE_RATE - 1e-6))
    return "ok", audio


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, np.ndarray]]:
    """One clean file per format: (path, the samples it decodes to [n, 2])."""
    folder = tmp_path_factory.mktemp("fuzz-sources")
    out = {}
    for fmt in FORMATS:
        samples = tone(SECONDS, sr=RATE, channels=2, seed=3)
        path = write_audio(folder / f"source.{fmt}", samples, RATE)
        out[fmt] = (path, sf.read(path, dtype="float32", always_2d=True)[0])
    return out


def _mutations(sources, folder: Path) -> list[tuple[str, str, Path]]:
    """(class, format, mutated file), seeded."""
    rng = np.random.default_rng(SEED)
    files = []

    def put(kind: str, fmt: str, data: bytes, suffix: str | None = None) -> None:
        path = folder / f"{len(files):03d}-{kind}.{suffix or fmt}"
        path.write_bytes(data)
        files.append((kind, fmt, path))

    for fmt, (path, _) in sources.items():
        data = path.read_bytes()
        header = min(64, len(data) // 4)
        for _ in range(2):
            put("truncate", fmt, data[: int(rng.integers(1, len(data)))])
        for where, lo, hi in (("header", 0, header), ("body", header, len(data))):
            for op in ("flip", "zero"):
                mutated = bytearray(data)
                for i in rng.integers(lo, hi, size=4 if where == "header" else 24):
                    mutated[i] = mutated[i] ^ (1 << int(rng.integers(8))) if op == "flip" else 0
                put(f"{op}-{where}", fmt, bytes(mutated))
        put("garbage", fmt, data + rng.bytes(4096))
        wrong = {"wav": "mp3", "flac": "ogg", "ogg": "wav", "mp3": "flac"}[fmt]
        put("wrong-extension", fmt, data, suffix=wrong)
    return files


def test_every_mutated_file_gets_a_true_result_or_a_reason(sources, tmp_path) -> None:
    outcomes: dict[str, list[str]] = {}
    for kind, fmt, path in _mutations(sources, tmp_path):
        status, value = _outcome(path)
        outcomes.setdefault(kind, []).append(status)
        if status == "reason":
            continue
        try:  # libsndfile's whole-file read, when it manages, is what is decodable
            reference = len(sf.read(path, dtype="float32", always_2d=True)[0])
        except (sf.LibsndfileError, MemoryError, ValueError):
            reference = None
        if reference is not None:
            rate = value.native_sample_rate
            tolerance = CODEC_BLOCK_SECONDS[fmt] + 1 / rate
            assert abs(value.seconds - reference / rate) <= tolerance, (kind, fmt, path)
        if kind in ("garbage", "wrong-extension"):
            assert value.seconds == pytest.approx(SECONDS, abs=CODEC_BLOCK_SECONDS[fmt] + 0.06)
        # Ogg declares no total length (libsndfile takes the last page's), the others do.
        declared = fmt != "ogg" and value.header_seconds
        if kind == "truncate" and declared and value.seconds < SECONDS - 0.1:
            assert any(w.startswith(("truncated", "damaged")) for w in value.warnings), value
            assert f"{value.seconds:.2f} s" in " ".join(value.warnings)
    assert set(outcomes) >= {"truncate", "flip-header", "zero-body", "garbage", "wrong-extension"}
    assert all(s == "ok" for s in outcomes["wrong-extension"])  # the content decides, not the name


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_a_truncated_file_has_the_features_of_the_same_audio_cut_cleanly(sources, tmp_path, fmt):
    path, samples = sources[fmt]
    data = path.read_bytes()
    truncated = tmp_path / f"partial.{fmt}"
    truncated.write_bytes(data[: int(len(data) * 0.55) + 3])  # mid-frame, mid-sample
    audio = decode(truncated, sample_rates=(MFCC_SAMPLE_RATE,))
    n = round(audio.seconds * RATE)
    assert 0.3 * len(samples) < n < 0.6 * len(samples)
    assert any(w.startswith(("truncated", "damaged")) for w in audio.warnings)
    clean = write_audio(tmp_path / f"clean.{fmt}", samples[:n], RATE)

    def features(p: Path) -> np.ndarray:
        decoding = Decoding(resample_quality="HQ", silence_db=-60.0, min_seconds=0.0)
        task = TrackTask(id=p.stem, path=str(p), families=(MFCC,), decoding=decoding)
        result = extract_track(task)
        assert result.error is None
        return result.outputs["mfcc"].rows

    np.testing.assert_array_equal(features(truncated), features(clean))


def _float_wav(path: Path, y: np.ndarray, sr: int) -> Path:
    sf.write(path, y, sr, subtype="FLOAT")
    return path


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_stretches_are_silenced_when_short_and_refused_when_long(tmp_path, bad):
    y = tone(SECONDS, sr=RATE, channels=2, seed=4)
    n = len(y)
    short = y.copy()
    short[n // 2 : n // 2 + int(0.5 * MAX_INVALID_SHARE * n), 0] = bad
    audio = decode(_float_wav(tmp_path / "short.wav", short, RATE), sample_rates=(RATE,))
    assert np.isfinite(audio[RATE]).all() and audio.seconds == pytest.approx(SECONDS)
    assert "replaced by silence" in audio.warnings[0]
    long = y.copy()
    long[n // 4 : n // 4 + int(2 * MAX_INVALID_SHARE * n)] = bad
    with pytest.raises(AudioDecodeError, match="invalid samples") as refused:
        decode(_float_wav(tmp_path / "long.wav", long, RATE))
    assert refused.value.reason == "invalid_samples"


def _patched_wav(path: Path, source: Path, *, channels: int | None = None, rate: int | None = None):
    data = bytearray(source.read_bytes())
    if channels is not None:
        data[22:24] = struct.pack("<H", channels)
    if rate is not None:
        data[24:28] = struct.pack("<I", rate)
    path.write_bytes(bytes(data))
    return path


def test_header_fields_formats_allow_but_audio_cannot_have(sources, tmp_path) -> None:
    wav = sources["wav"][0]
    for name, fields, reason in (
        ("zero-channels", {"channels": 0}, {"corrupt"}),
        ("zero-rate", {"rate": 0}, {"corrupt", "sample_rate"}),
        ("one-hertz", {"rate": 1}, {"sample_rate"}),
    ):
        status, value = _outcome(_patched_wav(tmp_path / f"{name}.wav", wav, **fields))
        assert status == "reason" and value in reason, (name, value)


def test_extreme_but_real_files_decode_in_full(tmp_path) -> None:
    hi = write_audio(tmp_path / "hires.flac", tone(0.5, sr=384000, channels=2), 384000)
    assert _outcome(hi)[1].seconds == pytest.approx(0.5)
    surround = write_audio(tmp_path / "surround.wav", tone(1.0, sr=48000, channels=8), 48000)
    audio = _outcome(surround)[1]
    assert audio.channels == 8 and audio.seconds == pytest.approx(1.0)
    silence = np.zeros((120 * 8000, 1), np.float32)
    music = tone(1.0, sr=8000, channels=1)
    late = write_audio(tmp_path / "late.flac", np.concatenate([silence, music]), 8000)
    audio = _outcome(late)[1]
    assert audio.seconds == pytest.approx(121.0) and not audio.warnings
    assert np.abs(audio[MFCC_SAMPLE_RATE][-MFCC_SAMPLE_RATE:]).max() > 0.1
