"""Audio decoding: any container once, mono float32 in [-1, 1], resampled with soxr.

In the spirit of ``librosa.load`` and whisper's ``audio.py``, but decoding each file a single
time into every sample rate the features need (``MFCC_SAMPLE_RATE`` and
``VGGISH_SAMPLE_RATE``), block by block, so a track is never held at its native rate and
channel count. WAV, FLAC, OGG (Vorbis/Opus) and MP3 are read with soundfile (libsndfile);
containers only ffmpeg reads (M4A/AAC, WebM, WMA, ...) go through audioread's ffmpeg backend
when ``ffmpeg`` is on ``PATH``.

Every failure a file can cause raises :class:`AudioDecodeError` naming the path and the reason
(missing, empty, corrupt, not audio, ffmpeg needed, silent, too short), so a pipeline can
record it per track and go on.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from soundtrack_emotion.exceptions import AudioDecodeError, ParameterError

# Rate of the thesis's MFCCs (librosa's default rate).
MFCC_SAMPLE_RATE = 22050
# Rate VGGish was trained on; its input waveform must be at this rate.
VGGISH_SAMPLE_RATE = 16000
# soxr quality: "HQ" is what librosa.load uses by default (res_type="soxr_hq").
RESAMPLE_QUALITY = "HQ"
RESAMPLE_QUALITIES = ("VHQ", "HQ", "MQ", "LQ", "QQ")
# Frames decoded per block: bounds the native-rate working memory to ~1.5 s of audio.
DECODE_BLOCK_FRAMES = 65536
# A track whose peak level stays below this is treated as silent (no usable content).
SILENCE_PEAK_DB = -60.0

_INT16_SCALE = 1.0 / 32768.0
# Magic bytes -> container, for the formats libsndfile reads and the ones it cannot.
_SOUNDFILE_MAGIC = (
    (b"RIFF", "WAV"),
    (b"RF64", "WAV"),
    (b"fLaC", "FLAC"),
    (b"OggS", "OGG"),
    (b"ID3", "MP3"),
    (b"FORM", "AIFF"),
)
_FFMPEG_MAGIC = (
    (b"\x1a\x45\xdf\xa3", "WebM/Matroska"),
    (b"\x30\x26\xb2\x75", "WMA/ASF"),
    (b"#!AMR", "AMR"),
)


@dataclass(frozen=True)
class Audio:
    """One decoded track: a mono float32 waveform in [-1, 1] per requested sample rate.

    ``waveforms[rate]`` has ``ceil(native_frames * rate / native_sample_rate)`` samples, the
    length ``librosa.load`` gives. ``seconds`` is the duration at the native rate.
    """

    path: str
    native_sample_rate: int
    channels: int
    seconds: float
    decoder: str
    waveforms: dict[int, np.ndarray]

    def __getitem__(self, sample_rate: int) -> np.ndarray:
        try:
            return self.waveforms[sample_rate]
        except KeyError:
            raise ParameterError(
                f"{self.path} was decoded at {sorted(self.waveforms)} Hz, not {sample_rate} Hz"
            ) from None


def sniff_container(head: bytes) -> str | None:
    """Container named by a file's first bytes (``"WAV"``, ``"M4A/MP4"``, ...), else None."""
    for magic, name in _SOUNDFILE_MAGIC + _FFMPEG_MAGIC:
        if head.startswith(magic):
            return name
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "M4A/MP4"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG audio frame sync; layer bits 00 mean an ADTS AAC stream, not MP3.
        return "AAC" if head[1] & 0x06 == 0 else "MP3"
    return None


def ffmpeg_only(container: str | None) -> bool:
    """Whether ``container`` is one that soundfile cannot read but ffmpeg can."""
    return container in {"M4A/MP4", "AAC"} | {name for _, name in _FFMPEG_MAGIC}


def to_mono(block: np.ndarray) -> np.ndarray:
    """Average the channels of ``block`` [n, channels] -> [n] float32 (as librosa.to_mono)."""
    if block.ndim == 1:
        return block.astype(np.float32, copy=False)
    mono = block[:, 0].astype(np.float32, copy=True)
    for channel in range(1, block.shape[1]):
        mono += block[:, channel]
    if block.shape[1] > 1:
        mono *= np.float32(1.0 / block.shape[1])
    return mono


def resample(
    y: np.ndarray, *, orig_sr: int, target_sr: int, quality: str = RESAMPLE_QUALITY
) -> np.ndarray:
    """Resample a mono waveform [n] with soxr to ``ceil(n * target_sr / orig_sr)`` samples."""
    _check_rate("orig_sr", orig_sr)
    _check_rate("target_sr", target_sr)
    _check_quality(quality)
    y = np.asarray(y, dtype=np.float32)
    if orig_sr == target_sr:
        return y
    out = soxr.resample(y, orig_sr, target_sr, quality=quality)
    return _fix_length(out, math.ceil(len(y) * target_sr / orig_sr))


def decode(
    path: str | os.PathLike[str],
    *,
    sample_rates: Sequence[int] = (MFCC_SAMPLE_RATE,),
    min_seconds: float = 0.0,
    silence_db: float = SILENCE_PEAK_DB,
    quality: str = RESAMPLE_QUALITY,
    block_frames: int = DECODE_BLOCK_FRAMES,
) -> Audio:
    """Decode ``path`` once into a mono float32 waveform at each of ``sample_rates``.

    Raises :class:`AudioDecodeError` (with the path and the reason) when the file is missing,
    empty, corrupt or not audio, needs ffmpeg that is not installed, is shorter than
    ``min_seconds``, or is silent (peak below ``silence_db`` dBFS).
    """
    rates = tuple(dict.fromkeys(sample_rates))
    if not rates:
        raise ParameterError("sample_rates must name at least one rate, got an empty sequence")
    for rate in rates:
        _check_rate("sample_rates", rate)
    if min_seconds < 0:
        raise ParameterError(f"min_seconds must be >= 0, got {min_seconds!r}")
    if silence_db >= 0:
        raise ParameterError(f"silence_db must be negative (dBFS), got {silence_db!r}")
    if block_frames < 1:
        raise ParameterError(f"block_frames must be >= 1, got {block_frames!r}")
    _check_quality(quality)

    path = Path(path)
    if not path.is_file():
        raise AudioDecodeError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise AudioDecodeError(f"{path}: empty file (0 bytes)")
    with path.open("rb") as handle:
        container = sniff_container(handle.read(16))

    reader = _BlockReader(path, container, block_frames)
    with reader as (native_sr, channels, blocks):
        if native_sr <= 0:
            raise AudioDecodeError(f"{path}: the decoder reports no sample rate ({native_sr})")
        streams = {
            rate: None
            if rate == native_sr
            else soxr.ResampleStream(native_sr, rate, 1, dtype="float32", quality=quality)
            for rate in rates
        }
        parts: dict[int, list[np.ndarray]] = {rate: [] for rate in rates}
        n_frames, peak = 0, 0.0
        for block in blocks:
            mono = to_mono(block)
            if not mono.size:
                continue
            n_frames += len(mono)
            peak = max(peak, float(np.max(np.abs(mono))))
            for rate, stream in streams.items():
                parts[rate].append(mono if stream is None else stream.resample_chunk(mono))
        for rate, stream in streams.items():
            if stream is not None:
                parts[rate].append(stream.resample_chunk(np.zeros(0, np.float32), last=True))

    seconds = n_frames / native_sr
    if n_frames == 0:
        raise AudioDecodeError(f"{path}: no audio samples (a valid header with no data)")
    if seconds < min_seconds:
        raise AudioDecodeError(
            f"{path}: too short: {seconds:.2f} s of audio, at least {min_seconds:g} s needed"
        )
    peak_db = 20.0 * math.log10(peak) if peak > 0 else -math.inf
    if peak_db < silence_db:
        raise AudioDecodeError(
            f"{path}: silent: peak level {peak_db:.1f} dBFS is below {silence_db:g} dBFS"
        )
    waveforms = {}
    for rate in rates:
        y = _fix_length(np.concatenate(parts.pop(rate)), math.ceil(n_frames * rate / native_sr))
        waveforms[rate] = np.clip(y, -1.0, 1.0, out=y)
    return Audio(
        path=str(path),
        native_sample_rate=native_sr,
        channels=channels,
        seconds=seconds,
        decoder=reader.decoder,
        waveforms=waveforms,
    )


def load_audio(
    path: str | os.PathLike[str], *, sr: int = MFCC_SAMPLE_RATE, min_seconds: float = 0.0
) -> np.ndarray:
    """Mono float32 waveform [n] of ``path`` at ``sr`` Hz (``decode`` for a single rate)."""
    return decode(path, sample_rates=(sr,), min_seconds=min_seconds)[sr]


class _BlockReader:
    """Context manager yielding ``(native_sr, channels, iterator of [n, channels] blocks)``."""

    def __init__(self, path: Path, container: str | None, block_frames: int) -> None:
        self.path, self.container, self.block_frames = path, container, block_frames
        self.decoder = "soundfile"
        self._close = lambda: None

    def __enter__(self) -> tuple[int, int, Iterator[np.ndarray]]:
        if not ffmpeg_only(self.container):
            try:
                sound = sf.SoundFile(self.path)
            except (sf.LibsndfileError, RuntimeError) as error:
                return self._fallback(error)
            self._close = sound.close
            blocks = self._soundfile_blocks(sound)
            return sound.samplerate, sound.channels, blocks
        return self._fallback(None)

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _soundfile_blocks(self, sound: sf.SoundFile) -> Iterator[np.ndarray]:
        try:
            yield from sound.blocks(self.block_frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as error:
            raise AudioDecodeError(
                f"{self.path}: corrupt {self.container or 'audio'} data: {error}"
            ) from error

    def _fallback(self, error: Exception | None) -> tuple[int, int, Iterator[np.ndarray]]:
        """soundfile could not open the file: try ffmpeg for ffmpeg-only or unknown content."""
        path, container = self.path, self.container
        if container is not None and not ffmpeg_only(container):
            raise AudioDecodeError(f"{path}: corrupt {container} file: {error}") from error
        if shutil.which("ffmpeg") is None:
            if container is None:
                raise AudioDecodeError(
                    f"{path}: not an audio file soundfile can read ({error}); ffmpeg is not on "
                    "PATH, so no other decoder was tried"
                ) from error
            raise AudioDecodeError(
                f"{path}: {container} audio needs ffmpeg, which is not on PATH: install ffmpeg "
                "or convert the file to WAV, FLAC, OGG or MP3"
            )
        return self._open_ffmpeg()

    def _open_ffmpeg(self) -> tuple[int, int, Iterator[np.ndarray]]:
        from audioread import DecodeError, ffdec

        try:
            reader = ffdec.FFmpegAudioFile(str(self.path))
        except (DecodeError, OSError) as error:
            what = self.container or "unrecognised content"
            raise AudioDecodeError(
                f"{self.path}: not decodable audio ({what}): ffmpeg failed: "
                f"{type(error).__name__} {error}"
            ) from error
        self._close = reader.close
        self.decoder = "ffmpeg"
        channels = max(int(reader.channels), 1)

        def blocks() -> Iterator[np.ndarray]:
            pending = b""
            try:
                for received in reader:
                    data = pending + received
                    usable = len(data) - len(data) % (2 * channels)
                    pending = data[usable:]
                    samples = np.frombuffer(data[:usable], dtype="<i2").reshape(-1, channels)
                    yield samples.astype(np.float32) * np.float32(_INT16_SCALE)
            except DecodeError as error:
                raise AudioDecodeError(f"{self.path}: ffmpeg failed: {error}") from error

        return int(reader.samplerate), channels, blocks()


def _fix_length(y: np.ndarray, size: int) -> np.ndarray:
    if len(y) >= size:
        return y[:size]
    return np.concatenate([y, np.zeros(size - len(y), dtype=y.dtype)])


def _check_rate(name: str, rate: object) -> None:
    if not isinstance(rate, int | np.integer) or isinstance(rate, bool) or rate <= 0:
        raise ParameterError(f"{name} must be a positive integer in Hz, got {rate!r}")


def _check_quality(quality: str) -> None:
    if quality not in RESAMPLE_QUALITIES:
        raise ParameterError(f"quality must be one of {RESAMPLE_QUALITIES}, got {quality!r}")
