"""Audio decoding: any container once, mono float32 in [-1, 1], resampled with soxr.

In the spirit of ``librosa.load`` and whisper's ``audio.py``, but decoding each file a single
time into every sample rate the features need (``MFCC_SAMPLE_RATE`` and
``VGGISH_SAMPLE_RATE``), block by block, so a track is never held at its native rate and
channel count. WAV, FLAC, OGG (Vorbis/Opus) and MP3 are read with soundfile (libsndfile);
containers only ffmpeg reads (M4A/AAC, WebM, WMA, ...) go through audioread's ffmpeg backend
when ``ffmpeg`` is on ``PATH``.

Decoding is truthful: blocks are read until the decoder returns nothing, and the frames it
decoded are the track, whatever the header claims (a partial download's header still announces
the whole track). A decoded length that disagrees with the header, and non-finite samples
replaced by silence, are reported in :attr:`Audio.warnings` with the figures. Every failure a
file can cause raises :class:`AudioDecodeError` naming the path and the reason (missing, empty,
corrupt, not audio, ffmpeg needed, implausible sample rate, too many non-finite samples,
silent, too short), with a short ``reason`` code, so a pipeline can record it per track and
go on. Any other exception out of :func:`decode` is a bug.

Memory is bounded whatever a file claims: each rate's samples go straight into one buffer
(sized from the header, grown only as frames arrive, never concatenated). A track whose header
announces, or which decodes, more than ``max_seconds`` is refused (reason ``too_long``), and so
is one that, past ``ANY_FILE_SECONDS``, announces or decodes more seconds than its file's size
holds at ``MIN_BYTES_PER_SECOND`` (reason ``implausible_length``: a decompression bomb, e.g. a
tiny FLAC of a constant announcing ten hours). The decoded length is checked in the block loop,
before the block that crosses a bound is resampled or kept, so a header that lies short or
announces nothing cannot make decoding allocate past the bounds either.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from soundfile import _ffi, _snd  # the raw reader, see _BlockReader._soundfile_blocks

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
# Native rates outside this range are not audio features can be computed from (below:
# infrasound only; above: a damaged header, and soxr's filter would be huge).
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 768000
# A sample that is NaN, infinite or beyond this magnitude (+36 dBFS; float files may exceed
# 1.0 a little, never by this much) is invalid. Invalid frames up to MAX_INVALID_SHARE of the
# track are replaced by silence and reported; more make the track an error.
MAX_SAMPLE_MAGNITUDE = 64.0
MAX_INVALID_SHARE = 0.01
# Decoded length and header length may differ by encoder padding (MP3/Vorbis: a few ms);
# a larger difference is reported as a warning with both durations.
LENGTH_MISMATCH_SECONDS = 0.05
# Default longest track decoded (3 h: a feature film's whole mix); longer is refused, reason
# "too_long" (feature_extraction.audio.max_seconds).
MAX_SECONDS = 10800.0
# Fewest bytes of file per second of decoded audio: a file decoding to more seconds than its
# size holds at 2 kbit/s (far below any music codec's rate; 4 kHz 16-bit PCM is 8000 B/s) is a
# decompression bomb, refused with reason "implausible_length" ...
MIN_BYTES_PER_SECOND = 250
# ... once past this many seconds, which any file may decode to whatever its size: digital
# silence compresses to almost nothing (FLAC: ~20-110 B/s), and a hidden track may follow
# minutes of it.
ANY_FILE_SECONDS = 1200.0
# Compressed audio is rarely below 8 kbit/s or above 128 kbit/s on average; bounds for a
# duration estimated from a file's size (estimate_seconds).
LOWEST_BYTES_PER_SECOND = 1000
TYPICAL_BYTES_PER_SECOND = 16000
# Extensions of the audio files folder scans consider (case-insensitive): the containers
# soundfile reads and those ffmpeg reads. conf/base/globals.yml holds the configured list.
AUDIO_EXTENSIONS = (
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
    ".m4a", ".mp4", ".aac", ".webm", ".mka", ".wma", ".amr",
)  # fmt: skip

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
    length ``librosa.load`` gives. ``seconds`` is the duration decoded, at the native rate;
    ``header_seconds`` what the header announced (None when it announces nothing);
    ``warnings`` what the track's user should know (truncation, replaced samples).
    """

    path: str
    native_sample_rate: int
    channels: int
    seconds: float
    decoder: str
    waveforms: dict[int, np.ndarray]
    header_seconds: float | None = None
    warnings: tuple[str, ...] = ()

    def __getitem__(self, sample_rate: int) -> np.ndarray:
        try:
            return self.waveforms[sample_rate]
        except KeyError:
            raise ParameterError(
                f"{self.path} was decoded at {sorted(self.waveforms)} Hz, not {sample_rate} Hz"
            ) from None


def mel_spectrogram(
    y: np.ndarray, *, sr: int, n_fft: int, hop_length: int, n_mels: int, chunk_frames: int
) -> np.ndarray:
    """``librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length,
    n_mels=n_mels)`` [n_mels, 1 + len(y) // hop_length], computed ``chunk_frames`` frames at a
    time (the same numbers, bounded memory for hour-long tracks)."""
    import librosa

    kwargs = {"sr": sr, "n_fft": n_fft, "hop_length": hop_length, "n_mels": n_mels}
    n_frames = 1 + len(y) // hop_length
    if n_frames <= chunk_frames:
        return librosa.feature.melspectrogram(y=y, **kwargs)
    # librosa centres frames by zero-padding n_fft // 2 samples on each side.
    padded = np.pad(y, n_fft // 2)
    return np.concatenate(
        [
            librosa.feature.melspectrogram(
                y=padded[hop_length * start : hop_length * (end - 1) + n_fft],
                center=False,
                **kwargs,
            )
            for start, end in (
                (a, min(n_frames, a + chunk_frames)) for a in range(0, n_frames, chunk_frames)
            )
        ],
        axis=1,
    )


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
    max_seconds: float = MAX_SECONDS,
) -> Audio:
    """Decode ``path`` once into a mono float32 waveform at each of ``sample_rates``.

    The track is the frames the decoder delivers, read until it delivers nothing; where that
    disagrees with the header, or where invalid samples (NaN, infinite, beyond
    ``MAX_SAMPLE_MAGNITUDE``; at most ``MAX_INVALID_SHARE`` of the frames) were replaced by
    silence, ``Audio.warnings`` says so. Raises :class:`AudioDecodeError` (with the path, the
    reason and its ``reason`` code) when the file is missing, empty, corrupt or not audio,
    needs ffmpeg that is not installed, has a native rate outside ``MIN_SAMPLE_RATE`` ..
    ``MAX_SAMPLE_RATE``, holds more invalid samples than that, is shorter than
    ``min_seconds``, or is silent (peak below ``silence_db`` dBFS). Refuses, while
    decoding, a track longer than ``max_seconds`` (``too_long``) or longer than its file's
    size can hold (``implausible_length``, see ``MIN_BYTES_PER_SECOND``).
    """
    rates = tuple(dict.fromkeys(sample_rates))
    _check_decode_arguments(rates, min_seconds, silence_db, block_frames, quality)
    if not max_seconds > 0:
        raise ParameterError(f"max_seconds must be > 0, got {max_seconds!r}")
    path = Path(path)
    reader = _BlockReader(path, _container_of(path), block_frames)
    with reader as (native_sr, channels, blocks):
        _check_native_format(path, native_sr, channels)
        bounds = _LengthBounds.of(path, native_sr=native_sr, max_seconds=max_seconds)
        bounds.check_announced(reader.announced_seconds)
        decoded = _read_resampled(
            blocks,
            native_sr=native_sr,
            rates=rates,
            quality=quality,
            bounds=bounds,
            announced_seconds=reader.announced_seconds,
        )
    seconds = decoded.n_frames / native_sr
    warnings = _checked_warnings(path, reader, decoded, seconds=seconds, min_seconds=min_seconds)
    peak_db = 20.0 * math.log10(decoded.peak) if decoded.peak > 0 else -math.inf
    if peak_db < silence_db:
        raise AudioDecodeError(
            f"{path}: silent: peak level {peak_db:.1f} dBFS is below {silence_db:g} dBFS",
            reason="silent",
        )
    waveforms = {}
    for rate in rates:
        n_samples = math.ceil(decoded.n_frames * rate / native_sr)
        y = decoded.buffers.pop(rate).take(n_samples)
        waveforms[rate] = np.clip(y, -1.0, 1.0, out=y)
    return Audio(
        path=str(path),
        native_sample_rate=native_sr,
        channels=channels,
        seconds=seconds,
        decoder=reader.decoder,
        waveforms=waveforms,
        header_seconds=reader.announced_seconds,
        warnings=tuple(warnings),
    )


def _check_decode_arguments(
    rates: tuple[int, ...], min_seconds: float, silence_db: float, block_frames: int, quality: str
) -> None:
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


def _container_of(path: Path) -> str | None:
    """The container ``path``'s first bytes name (None: unknown); raises for a missing or
    empty file."""
    if not path.is_file():
        raise AudioDecodeError(f"{path}: file not found", reason="not_found")
    if path.stat().st_size == 0:
        raise AudioDecodeError(f"{path}: empty file (0 bytes)", reason="empty")
    with path.open("rb") as handle:
        return sniff_container(handle.read(16))


@dataclass(frozen=True)
class _LengthBounds:
    """The most native frames a file may decode to: ``max_seconds``, and what its size holds
    at ``MIN_BYTES_PER_SECOND``."""

    path: Path
    native_sr: int
    max_seconds: float
    size_bytes: int

    @classmethod
    def of(cls, path: Path, *, native_sr: int, max_seconds: float) -> _LengthBounds:
        return cls(path, native_sr, float(max_seconds), path.stat().st_size)

    @property
    def size_seconds(self) -> float:
        return max(self.size_bytes / MIN_BYTES_PER_SECOND, ANY_FILE_SECONDS)

    @property
    def max_frames(self) -> int:
        return math.floor(min(self.max_seconds, self.size_seconds) * self.native_sr)

    def check_announced(self, seconds: float | None) -> None:
        """Raise before decoding when the header announces more than either bound."""
        if seconds is not None and seconds * self.native_sr > self.max_frames:
            self._refuse(seconds, "the header announces")

    def check(self, n_frames: int) -> None:
        """Raise once ``n_frames`` decoded frames pass either bound."""
        if n_frames > self.max_frames:
            self._refuse(n_frames / self.native_sr, "decoding stopped at")

    def _refuse(self, seconds: float, what: str) -> None:
        if seconds > self.size_seconds:
            raise AudioDecodeError(
                f"{self.path}: implausible length: {what} {seconds:.0f} s in a "
                f"{self.size_bytes}-byte file, more than its size holds at "
                f"{MIN_BYTES_PER_SECOND} bytes per second and more than {ANY_FILE_SECONDS:g} s: "
                "a decompression bomb or a damaged file",
                reason="implausible_length",
            )
        raise AudioDecodeError(
            f"{self.path}: too long: more than {self.max_seconds:g} s of audio "
            f"(feature_extraction.audio.max_seconds={self.max_seconds:g}); {what} "
            f"{seconds:.0f} s",
            reason="too_long",
        )


class _Samples:
    """One rate's output samples in one float32 buffer: allocated for the expected length,
    grown by half when more arrive (never past ``limit``), never concatenated."""

    def __init__(self, expected: int, limit: int) -> None:
        self.limit = max(int(limit), 1)
        self.data = np.empty(min(max(int(expected), 1), self.limit), dtype=np.float32)
        self.size = 0

    def append(self, y: np.ndarray) -> None:
        end = self.size + len(y)
        if end > len(self.data):
            grown = np.empty(min(max(end, len(self.data) * 3 // 2), max(end, self.limit)),
                             dtype=np.float32)  # fmt: skip
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = y
        self.size = end

    def take(self, n: int) -> np.ndarray:
        """The first ``n`` samples (zero-padded past the end), in the buffer when it holds
        them (the unused tail of the allocation is never touched, so it costs no memory)."""
        if n <= len(self.data):
            self.data[self.size : n] = 0.0
            return self.data[:n]
        return _fix_length(self.data[: self.size], n)


@dataclass
class _Decoded:
    """What the blocks of one file gave: each rate's resampled samples, the mono frames read,
    how many of them held invalid samples, and the peak."""

    buffers: dict[int, _Samples]
    n_frames: int = 0
    n_invalid: int = 0
    peak: float = 0.0


# Frames of headroom over a header's length before a buffer grows (resampler delay, a header
# a little short).
_BUFFER_SLACK_SECONDS = 1.0
# Length a buffer starts at when the header announces none.
_UNANNOUNCED_SECONDS = 600.0


def _read_resampled(
    blocks: Iterable[np.ndarray],
    *,
    native_sr: int,
    rates: tuple[int, ...],
    quality: str,
    bounds: _LengthBounds,
    announced_seconds: float | None,
) -> _Decoded:
    """Every block, invalid samples replaced, to mono, streamed through one resampler per
    rate into that rate's buffer; ``bounds`` checked before a block is kept."""
    streams = {
        rate: None
        if rate == native_sr
        else soxr.ResampleStream(native_sr, rate, 1, dtype="float32", quality=quality)
        for rate in rates
    }
    expected = (
        min(announced_seconds or _UNANNOUNCED_SECONDS, bounds.max_frames / native_sr)
        + _BUFFER_SLACK_SECONDS
    )
    decoded = _Decoded(
        buffers={
            rate: _Samples(
                math.ceil(expected * rate),
                math.ceil((bounds.max_frames / native_sr + _BUFFER_SLACK_SECONDS) * rate),
            )
            for rate in rates
        }
    )
    for block in blocks:
        if not len(block):
            continue
        bounds.check(decoded.n_frames + len(block))
        valid, invalid = _replace_invalid(block)
        decoded.n_invalid += invalid
        mono = to_mono(valid)
        decoded.n_frames += len(mono)
        decoded.peak = max(decoded.peak, float(np.max(np.abs(mono))))
        for rate, stream in streams.items():
            decoded.buffers[rate].append(mono if stream is None else stream.resample_chunk(mono))
    for rate, stream in streams.items():
        if stream is not None:
            decoded.buffers[rate].append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    return decoded


def _checked_warnings(
    path: Path, reader: _BlockReader, decoded: _Decoded, *, seconds: float, min_seconds: float
) -> list[str]:
    """The warnings of a usable track (length against the header, replaced samples); raises
    for a track without samples, with too many invalid ones, or shorter than ``min_seconds``."""
    n_frames, n_invalid = decoded.n_frames, decoded.n_invalid
    if n_frames == 0 and reader.stopped_by:
        raise AudioDecodeError(
            f"{path}: corrupt {reader.container or 'audio'} data: {reader.stopped_by}",
            reason="corrupt",
        )
    if n_frames == 0:
        raise AudioDecodeError(
            f"{path}: no audio samples (a valid header with no data)", reason="no_samples"
        )
    warnings = _length_warnings(reader.announced_seconds, seconds, stopped_by=reader.stopped_by)
    if n_invalid:
        share = n_invalid / n_frames
        what = (
            f"{n_invalid} of {n_frames} frames ({share:.2%}) hold NaN, infinite or out-of-range "
            f"(|x| > {MAX_SAMPLE_MAGNITUDE:g}) samples"
        )
        if share > MAX_INVALID_SHARE:
            raise AudioDecodeError(
                f"{path}: invalid samples: {what}, more than the {MAX_INVALID_SHARE:.0%} that "
                "may be replaced by silence",
                reason="invalid_samples",
            )
        warnings.append(f"{what}: replaced by silence")
    if seconds < min_seconds:
        raise AudioDecodeError(
            f"{path}: too short: {seconds:.2f} s of audio, at least {min_seconds:g} s needed",
            reason="too_short",
        )
    return warnings


def load_audio(
    path: str | os.PathLike[str], *, sr: int = MFCC_SAMPLE_RATE, min_seconds: float = 0.0
) -> np.ndarray:
    """Mono float32 waveform [n] of ``path`` at ``sr`` Hz (``decode`` for a single rate)."""
    return decode(path, sample_rates=(sr,), min_seconds=min_seconds)[sr]


def estimate_seconds(path: str | os.PathLike[str]) -> float | None:
    """A file's duration before decoding it, to scale a time limit: the header's, capped at
    what the file's size holds at ``LOWEST_BYTES_PER_SECOND`` (a damaged header may announce
    years); from the size at ``TYPICAL_BYTES_PER_SECOND`` when soundfile cannot read the
    header (ffmpeg-only containers); None when the file cannot be read at all."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return None
    try:
        with sf.SoundFile(path) as sound:
            if sound.samplerate > 0 and 0 < sound.frames < _UNKNOWN_FRAMES:
                return min(sound.frames / sound.samplerate, size / LOWEST_BYTES_PER_SECOND)
    except (*_SOUNDFILE_ERRORS, OSError):
        pass
    return size / TYPICAL_BYTES_PER_SECOND


# libsndfile reports an unknown length as SF_COUNT_MAX.
_UNKNOWN_FRAMES = 2**62
# libsndfile's command for the text log of what it found while parsing the header.
_SFC_GET_LOG_INFO = 0x1001
# The log line of a chunk whose declared size the file does not hold (e.g. a partial WAV):
# "data : 882000 (should be 440978)".
_SHORT_CHUNK = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# Errors soundfile raises for a file it cannot parse (LibsndfileError is a SoundFileError;
# ValueError/TypeError for header fields it cannot represent, e.g. zero channels).
_SOUNDFILE_ERRORS = (sf.SoundFileError, RuntimeError, ValueError, TypeError)


class _BlockReader:
    """Context manager yielding ``(native_sr, channels, iterator of [n, channels] blocks)``."""

    def __init__(self, path: Path, container: str | None, block_frames: int) -> None:
        self.path, self.container, self.block_frames = path, container, block_frames
        self.decoder = "soundfile"
        self._close = lambda: None
        # Seconds the header announces (for a partial WAV: its declared data size), or None.
        self.announced_seconds: float | None = None
        # The decoder's error that ended the data early, or None.
        self.stopped_by: str | None = None

    def __enter__(self) -> tuple[int, int, Iterator[np.ndarray]]:
        if not ffmpeg_only(self.container):
            try:
                sound = sf.SoundFile(self.path)
            except _SOUNDFILE_ERRORS as error:
                return self._fallback(error)
            self._close = sound.close
            self.announced_seconds = self._soundfile_announced(sound)
            blocks = self._soundfile_blocks(sound)
            return sound.samplerate, sound.channels, blocks
        return self._fallback(None)

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _soundfile_announced(self, sound: sf.SoundFile) -> float | None:
        if sound.samplerate <= 0 or not 0 < sound.frames < _UNKNOWN_FRAMES:
            return None
        frames = float(sound.frames)
        # libsndfile clamps a data chunk larger than the file to what the file holds, and
        # says so in its log: the declared size is the header's claim.
        log = _ffi.new("char[]", 4096)
        _snd.sf_command(sound._file, _SFC_GET_LOG_INFO, log, 4096)
        short = _SHORT_CHUNK.search(_ffi.string(log).decode("ascii", errors="replace"))
        if short and int(short.group(2)) > 0:
            frames *= int(short.group(1)) / int(short.group(2))
        return frames / sound.samplerate

    def _soundfile_blocks(self, sound: sf.SoundFile) -> Iterator[np.ndarray]:
        """Blocks until libsndfile decodes nothing more. Neither ``SoundFile.blocks`` (which
        counts on the header's frame count and yields its whole buffer past the data a partial
        file holds) nor ``SoundFile.read`` (which seeks after every call, and libmpg123's seeks
        are approximate, so the samples change) is used: sf_readf_float is called in a row,
        as ``soundfile.read`` does for a whole file in one call (soundfile is pinned)."""
        read = _snd.sf_readf_float
        while True:
            out = np.empty((self.block_frames, sound.channels), dtype=np.float32)
            n = read(sound._file, _ffi.cast("float *", _ffi.from_buffer(out)), self.block_frames)
            if n > 0:
                yield out[:n]
            code = _snd.sf_error(sound._file)
            if code:
                # A damaged frame ends the data (a partial FLAC's last frame, a CRC error):
                # the frames before it stand, and decode reports where it stopped.
                self.stopped_by = str(sf.LibsndfileError(code)).removeprefix("Error : ").rstrip(".")
                return
            if n <= 0:
                return

    def _fallback(self, error: Exception | None) -> tuple[int, int, Iterator[np.ndarray]]:
        """soundfile could not open the file: try ffmpeg for ffmpeg-only or unknown content."""
        path, container = self.path, self.container
        if container is not None and not ffmpeg_only(container):
            raise AudioDecodeError(
                f"{path}: corrupt {container} file: {error}", reason="corrupt"
            ) from error
        if shutil.which("ffmpeg") is None:
            if container is None:
                raise AudioDecodeError(
                    f"{path}: not an audio file soundfile can read ({error}); ffmpeg is not on "
                    "PATH, so no other decoder was tried",
                    reason="not_audio",
                ) from error
            raise AudioDecodeError(
                f"{path}: {container} audio needs ffmpeg, which is not on PATH: install ffmpeg "
                "or convert the file to WAV, FLAC, OGG or MP3",
                reason="ffmpeg_missing",
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
                f"{type(error).__name__} {error}",
                reason="not_audio" if self.container is None else "corrupt",
            ) from error
        self._close = reader.close
        self.decoder = "ffmpeg"
        channels = max(int(reader.channels), 1)
        duration = float(getattr(reader, "duration", 0) or 0)
        self.announced_seconds = duration if duration > 0 else None

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
                raise AudioDecodeError(
                    f"{self.path}: ffmpeg failed: {error}", reason="corrupt"
                ) from error

        return int(reader.samplerate), channels, blocks()


def _length_warnings(
    header_seconds: float | None, seconds: float, *, stopped_by: str | None
) -> list[str]:
    """What a caller should know about the decoded length against the header's claim."""
    warnings = []
    matches_header = (
        header_seconds is not None and abs(header_seconds - seconds) <= LENGTH_MISMATCH_SECONDS
    )
    if stopped_by and matches_header:
        warnings.append(f"data after the audio ignored ({stopped_by})")
    elif stopped_by:
        warnings.append(f"damaged: decoding stopped at {seconds:.2f} s ({stopped_by})")
    if header_seconds is not None and not matches_header:
        kind = "truncated" if header_seconds > seconds else "longer than its header"
        warnings.append(
            f"{kind}: the header announces {header_seconds:.2f} s, {seconds:.2f} s decoded"
        )
    return warnings


def _check_native_format(path: Path, native_sr: int, channels: int) -> None:
    if not MIN_SAMPLE_RATE <= native_sr <= MAX_SAMPLE_RATE:
        raise AudioDecodeError(
            f"{path}: implausible sample rate {native_sr} Hz (audio is read from "
            f"{MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)",
            reason="sample_rate",
        )
    if channels < 1:
        raise AudioDecodeError(f"{path}: the file declares {channels} channels", reason="corrupt")


def _replace_invalid(block: np.ndarray) -> tuple[np.ndarray, int]:
    """``block`` [n, channels] with invalid samples (non-finite, beyond
    ``MAX_SAMPLE_MAGNITUDE``) set to 0 -> (block, number of frames that held one)."""
    finite = np.isfinite(block)
    valid = finite & (np.abs(np.where(finite, block, 0)) <= MAX_SAMPLE_MAGNITUDE)
    if valid.all():
        return block, 0
    invalid_frames = int(np.count_nonzero(~valid.all(axis=1)))
    return np.where(valid, block, np.float32(0)), invalid_frames


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
