"""Decoding's memory bounds, on files generated here: a ten-hour file and a decompression-bomb
FLAC are refused with a reason naming the bound, whatever their header says, and the process
that decodes them stays small (its peak resident memory is measured in a fresh interpreter)."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundtrack_emotion.core.audio import (
    ANY_FILE_SECONDS,
    MAX_SECONDS,
    MFCC_SAMPLE_RATE,
    MIN_BYTES_PER_SECOND,
    VGGISH_SAMPLE_RATE,
    decode,
)
from soundtrack_emotion.exceptions import AudioDecodeError, ParameterError

TEN_HOURS = 10 * 3600
BOMB_RATE = 4000
# Peak resident memory a decoding process may reach here: the interpreter with NumPy, soxr and
# soundfile (~100 MB) and the half hour the bomb's size allows at the two rates (~300 MB).
# Unbounded, ten hours at 22050 + 16000 Hz would take 5.5 GB.
PEAK_RSS_MB = 600


def _sparse_wav(path: Path, *, seconds: int, sr: int) -> Path:
    """A 16-bit mono WAV of ``seconds`` of audio whose data is a hole in the file: the
    header is true, the disk holds nothing (it reads as silence)."""
    n_bytes = seconds * sr * 2
    header = b"RIFF" + struct.pack("<I", 36 + n_bytes) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sr, sr * 2, 2, 16)
    header += b"data" + struct.pack("<I", n_bytes)
    with path.open("wb") as out:
        out.write(header)
        out.truncate(len(header) + n_bytes)
    return path


def _constant_flac(path: Path, *, seconds: int, claim_samples: int | None) -> Path:
    """A FLAC of a constant (not silence) at 4 kHz: a few bytes per frame, so minutes of it
    fit in kilobytes. ``claim_samples`` rewrites the length its STREAMINFO announces (0:
    unknown, as a streamed encoder leaves it)."""
    block = np.full((BOMB_RATE * 60, 1), 0.25, np.float32)
    with sf.SoundFile(path, "w", BOMB_RATE, 1, subtype="PCM_16") as out:
        for _ in range(seconds // 60):
            out.write(block)
    if claim_samples is not None:
        data = bytearray(path.read_bytes())
        # fLaC, a 4-byte block header, then STREAMINFO: at byte 10 of it, 20 bits of rate,
        # 3 of channels, 5 of bits per sample and 36 of total samples.
        (packed,) = struct.unpack(">Q", data[18:26])
        packed = (packed & ~((1 << 36) - 1)) | claim_samples
        data[18:26] = struct.pack(">Q", packed)
        path.write_bytes(bytes(data))
    return path


def _decode_in_fresh_process(path: Path, **kwargs: float) -> dict:
    """Decode ``path`` at both feature rates in a new interpreter -> its reason (or ok) and
    peak resident memory in MB (its VmHWM: ``getrusage``'s ru_maxrss would count the image of
    the process that started it, which Linux carries across exec)."""
    script = rf"""
import json, re
from soundtrack_emotion.core.audio import decode
from soundtrack_emotion.exceptions import AudioDecodeError
try:
    decode({str(path)!r}, sample_rates=({MFCC_SAMPLE_RATE}, {VGGISH_SAMPLE_RATE}), **{kwargs!r})
    outcome = {{"reason": "ok", "message": ""}}
except AudioDecodeError as error:
    outcome = {{"reason": error.reason, "message": str(error)}}
status = open("/proc/self/status").read()
outcome["peak_mb"] = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
print(json.dumps(outcome))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_ten_hour_file_is_refused_naming_max_seconds(tmp_path) -> None:
    path = _sparse_wav(tmp_path / "ten_hours.wav", seconds=TEN_HOURS, sr=8000)
    assert sf.info(str(path)).duration == pytest.approx(TEN_HOURS)

    outcome = _decode_in_fresh_process(path)

    assert outcome["reason"] == "too_long"
    assert f"max_seconds={MAX_SECONDS:g}" in outcome["message"]
    assert outcome["peak_mb"] < PEAK_RSS_MB


def test_a_file_longer_than_max_seconds_is_refused_while_decoding(tmp_path) -> None:
    path = _sparse_wav(tmp_path / "minute.wav", seconds=60, sr=8000)
    with pytest.raises(AudioDecodeError, match=r"max_seconds=30\b") as refused:
        decode(path, max_seconds=30)
    assert refused.value.reason == "too_long"
    with pytest.raises(ParameterError, match="max_seconds"):
        decode(path, max_seconds=0)


def test_a_decompression_bomb_claiming_ten_hours_is_refused_before_decoding(tmp_path) -> None:
    path = _constant_flac(tmp_path / "bomb.flac", seconds=120, claim_samples=TEN_HOURS * BOMB_RATE)
    assert path.stat().st_size < 10_000
    with pytest.raises(AudioDecodeError, match="implausible length") as refused:
        decode(path, sample_rates=(MFCC_SAMPLE_RATE, VGGISH_SAMPLE_RATE), max_seconds=2e5)
    assert refused.value.reason == "implausible_length"
    assert "the header announces 36000 s" in str(refused.value)


@pytest.mark.slow
def test_a_decompression_bomb_announcing_no_length_is_stopped_inside_the_loop(tmp_path) -> None:
    """Ten hours of a constant in ~0.5 MB, its header announcing no length: decoding stops at
    what the file's size holds at 2 kbit/s (about half an hour), and the process stays small
    instead of holding ten hours upsampled 9.5 times (5.5 GB)."""
    path = _constant_flac(tmp_path / "bomb.flac", seconds=TEN_HOURS, claim_samples=0)
    assert path.stat().st_size < 1_000_000

    outcome = _decode_in_fresh_process(path, max_seconds=2e5)

    assert outcome["reason"] == "implausible_length", outcome
    stopped_at = float(re.search(r"decoding stopped at (\d+) s", outcome["message"]).group(1))
    bound = max(ANY_FILE_SECONDS, path.stat().st_size / MIN_BYTES_PER_SECOND)
    assert bound <= stopped_at <= bound + 20 < TEN_HOURS
    assert outcome["peak_mb"] < PEAK_RSS_MB, outcome


def test_a_long_file_within_the_bounds_decodes_to_its_length(tmp_path) -> None:
    sr = 8000
    t = np.arange(25 * sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / "tone.flac"
    sf.write(path, y, sr)
    audio = decode(path, sample_rates=(MFCC_SAMPLE_RATE, VGGISH_SAMPLE_RATE), max_seconds=26)
    assert audio.seconds == pytest.approx(25.0)
    assert len(audio[MFCC_SAMPLE_RATE]) == 25 * MFCC_SAMPLE_RATE
    assert len(audio[VGGISH_SAMPLE_RATE]) == 25 * VGGISH_SAMPLE_RATE
