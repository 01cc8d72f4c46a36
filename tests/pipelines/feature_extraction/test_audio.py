"""audio.decode: every container once into mono float32 at each rate, and every bad file
rejected with its path and reason."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

from soundtrack_emotion.core.audio import (
    MFCC_SAMPLE_RATE,
    VGGISH_SAMPLE_RATE,
    decode,
    load_audio,
    resample,
    sniff_container,
)
from soundtrack_emotion.exceptions import AudioDecodeError, ParameterError

from .conftest import tone, write_audio

M4A_HEADER = b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A mp42isom\x00\x00\x00\x08free"


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_decode_matches_librosa_load_at_both_rates(audio_file, ext: str) -> None:
    path = audio_file(f"song.{ext}", 2.5, sr=44100, channels=2)
    audio = decode(path, sample_rates=(MFCC_SAMPLE_RATE, VGGISH_SAMPLE_RATE))
    assert audio.decoder == "soundfile"
    assert audio.channels == 2 and audio.native_sample_rate == 44100
    for rate in (MFCC_SAMPLE_RATE, VGGISH_SAMPLE_RATE):
        expected, _ = librosa.load(path, sr=rate)
        y = audio[rate]
        assert y.dtype == np.float32 and y.ndim == 1
        assert len(y) == len(expected)
        np.testing.assert_allclose(y, expected, atol=1e-6)
        assert np.abs(y).max() <= 1.0


def test_decode_reads_in_bounded_blocks_with_the_same_result(audio_file) -> None:
    path = audio_file("song.flac", 3.0, sr=48000, channels=2)
    whole = decode(path, sample_rates=(MFCC_SAMPLE_RATE,))[MFCC_SAMPLE_RATE]
    blocks = decode(path, sample_rates=(MFCC_SAMPLE_RATE,), block_frames=1000)
    np.testing.assert_array_equal(blocks[MFCC_SAMPLE_RATE], whole)


def test_native_rate_is_passed_through_and_mono_kept(audio_file) -> None:
    path = audio_file("mono.wav", 1.5, sr=16000, channels=1)
    y = load_audio(path, sr=VGGISH_SAMPLE_RATE)
    expected, _ = librosa.load(path, sr=None)
    np.testing.assert_array_equal(y, expected)


def test_resample_has_librosa_length_and_values() -> None:
    y = tone(1.3, sr=44100, channels=1)[:, 0]
    out = resample(y, orig_sr=44100, target_sr=22050)
    np.testing.assert_allclose(out, librosa.resample(y, orig_sr=44100, target_sr=22050), atol=1e-6)
    with pytest.raises(ParameterError, match="target_sr"):
        resample(y, orig_sr=44100, target_sr=0)
    with pytest.raises(ParameterError, match="quality"):
        resample(y, orig_sr=44100, target_sr=22050, quality="best")


def test_bad_parameters_name_the_value(audio_file) -> None:
    path = audio_file("song.wav", 1.0)
    with pytest.raises(ParameterError, match="-5"):
        decode(path, min_seconds=-5)
    with pytest.raises(ParameterError, match=r"22050\.5"):
        decode(path, sample_rates=(22050.5,))
    with pytest.raises(ParameterError, match="silence_db"):
        decode(path, silence_db=3.0)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioDecodeError, match=r"nope\.wav: file not found"):
        decode(tmp_path / "nope.wav")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp3"
    path.write_bytes(b"")
    with pytest.raises(AudioDecodeError, match=r"empty\.mp3: empty file"):
        decode(path)


def test_corrupt_wav_like_the_demo(tmp_path: Path) -> None:
    junk = bytes(range(256)) * 64
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF" + (len(junk) + 4).to_bytes(4, "little") + b"WAVEjunk" + junk)
    with pytest.raises(AudioDecodeError, match=r"corrupt\.wav: corrupt WAV file"):
        decode(path)


def test_truncated_flac(audio_file, tmp_path: Path) -> None:
    data = audio_file("song.flac", 2.0).read_bytes()
    path = tmp_path / "cut.flac"
    path.write_bytes(data[:60])
    with pytest.raises(AudioDecodeError, match=r"cut\.flac: corrupt FLAC"):
        decode(path)


def test_non_audio_file(tmp_path: Path, no_ffmpeg: None) -> None:
    path = tmp_path / "lyrics.mp3"
    path.write_text("These are not the sounds you are looking for.\n" * 20)
    with pytest.raises(AudioDecodeError, match=r"lyrics\.mp3: not an audio file"):
        decode(path)


def test_silent_file(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "silence.wav", np.zeros((22050 * 2, 1), np.float32), 22050)
    with pytest.raises(AudioDecodeError, match=r"silence\.wav: silent: peak level -inf dBFS"):
        decode(path)
    quiet = write_audio(tmp_path / "quiet.wav", np.full((22050, 1), 1e-4, np.float32), 22050)
    with pytest.raises(
        AudioDecodeError, match=r"silent: peak level -80\.\d dBFS is below -60 dBFS"
    ):
        decode(quiet)
    assert decode(quiet, silence_db=-90).seconds == pytest.approx(1.0)


def test_three_second_clip_is_too_short(audio_file) -> None:
    path = audio_file("clip.ogg", 3.0)
    with pytest.raises(AudioDecodeError, match=r"clip\.ogg: too short: 3\.00 s .* 10 s needed"):
        decode(path, min_seconds=10)
    assert decode(path, min_seconds=2).seconds == pytest.approx(3.0)


def test_header_without_samples(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "nothing.wav", np.zeros((0, 1), np.float32), 22050)
    with pytest.raises(AudioDecodeError, match="no audio samples"):
        decode(path)


def test_ffmpeg_only_format_without_ffmpeg(tmp_path: Path, no_ffmpeg: None) -> None:
    path = tmp_path / "song.m4a"
    path.write_bytes(M4A_HEADER + b"\x00" * 512)
    with pytest.raises(AudioDecodeError, match=r"song\.m4a: M4A/MP4 audio needs ffmpeg.*PATH"):
        decode(path)


def test_ffmpeg_only_format_through_audioread(tmp_path: Path, fake_ffmpeg: Path) -> None:
    source = tone(2.0, sr=44100, channels=2)
    path = tmp_path / "song.m4a"
    path.write_bytes(M4A_HEADER + b"\x00" * 512)
    write_audio(tmp_path / "song.m4a.wav", source, 44100)
    audio = decode(path, sample_rates=(MFCC_SAMPLE_RATE, VGGISH_SAMPLE_RATE))
    assert audio.decoder == "ffmpeg" and audio.channels == 2
    assert audio.seconds == pytest.approx(2.0)
    # ffmpeg hands over 16-bit PCM: the same signal within 16-bit quantisation.
    reference = decode(tmp_path / "song.m4a.wav", sample_rates=(MFCC_SAMPLE_RATE,))
    np.testing.assert_allclose(audio[MFCC_SAMPLE_RATE], reference[MFCC_SAMPLE_RATE], atol=2e-4)


def test_ffmpeg_failure_is_reported(tmp_path: Path, fake_ffmpeg: Path) -> None:
    path = tmp_path / "broken.m4a"
    path.write_bytes(M4A_HEADER)
    with pytest.raises(AudioDecodeError, match=r"broken\.m4a: not decodable audio \(M4A/MP4\)"):
        decode(path)


@pytest.mark.parametrize(
    ("head", "container"),
    [
        (b"RIFF\x00\x00\x00\x00WAVE", "WAV"),
        (b"fLaC\x00", "FLAC"),
        (b"OggS\x00", "OGG"),
        (b"ID3\x04", "MP3"),
        (b"\xff\xfb\x90", "MP3"),
        (b"\xff\xf1\x50", "AAC"),
        (M4A_HEADER, "M4A/MP4"),
        (b"\x1a\x45\xdf\xa3\x01", "WebM/Matroska"),
        (b"hello world", None),
    ],
)
def test_sniff_container(head: bytes, container: str | None) -> None:
    assert sniff_container(head) == container
