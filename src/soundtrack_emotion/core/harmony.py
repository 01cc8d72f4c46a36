"""Harmony, rhythm and timbre evidence for valence, one row per ~3 s block of a mono waveform.

Musical mode (major vs minor), tempo, brightness, loudness and roughness are the classic
acoustic correlates of valence; deep taggers built for timbre (MusiCNN) carry little of the
pitch relations behind the first. :func:`harmony_features` turns a waveform ``y`` [n] at
``HARMONY_SAMPLE_RATE`` into ``[n_blocks, len(HARMONY_FEATURE_NAMES)]`` float32 rows:

* key and mode (``major_correlation`` ... ``key_clarity``): the constant-Q chroma energy of a
  ``KEY_CONTEXT_SECONDS`` window centred on the block (clipped at the track's ends), correlated
  (Pearson) with the Krumhansl-Kessler major and minor key profiles in all 12 rotations: the
  best major and the best minor correlation, their difference (mode strength: positive major,
  negative minor) and key clarity (best minus second-best of the 24 keys);
* ``chroma_entropy``: entropy of the block's own pitch-class distribution (0: one pitch class,
  1: all twelve alike);
* ``chroma_degree_0`` ... ``_11``: the block's pitch-class distribution rotated to the tonic
  of the key above (degree 0 = tonic), so that it describes scale degrees, not the key;
* ``tonnetz_*``: the tonal centroid (Harte et al., 2006) of the block's chroma, i.e. the
  chroma-energy-weighted mean of the frames' tonnetz coordinates;
* ``tempo_bpm`` and ``pulse_clarity``: the tempo from the onset envelope's autocorrelation over
  a ``TEMPO_CONTEXT_SECONDS`` window centred on the block (clipped at the track's ends), and
  that autocorrelation's height at the chosen lag (1: a strictly periodic pulse);
* ``spectral_centroid_hz``, ``spectral_flatness``, ``spectral_contrast_*``: means over the
  block's sounding frames;
* ``loudness_db`` and ``loudness_db_std``: frame RMS in dB above ``LOUDNESS_FLOOR_DB`` dBFS;
* ``roughness``: sensory dissonance, the Plomp-Levelt curve (Sethares' parametrisation) summed
  over all pairs of each frame's strongest spectral peaks, per unit of peak amplitude (a major
  triad scores low, a semitone cluster high);
* ``temperley_major_correlation``, ``temperley_minor_correlation``,
  ``temperley_mode_strength``: the key columns above with Temperley's (1999) profiles instead
  of Krumhansl-Kessler's (on 200 real excerpts, song-level Temperley mode strength correlates
  more with rated valence: r = +0.32 against +0.19).

Frame features are computed once for the whole track, ``HARMONY_CHUNK_FRAMES`` frames at a
time (bounded memory, whatever the length), then pooled per block. Blocks start every
``block_seconds``; the last partial block is dropped, except that a track shorter than one
block gives one block of what there is. A silent block (every frame under ``SILENCE_DB``
dBFS) is all zeros. Pitch is read at A440 (no tuning estimate).

Cost: about 90 audio seconds per CPU second on one core (60 s excerpts at 22050 Hz, decoding
excluded), the constant-Q chroma taking about 60 % of it; a 10 min track needs about 70 MB
besides its waveform.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from soundtrack_emotion.exceptions import AudioDecodeError, ParameterError

HARMONY_SAMPLE_RATE = 22050
HARMONY_BLOCK_SECONDS = 3.0
# Shorter tracks (and blocks) hold too few frames for a chroma profile or a beat.
HARMONY_MIN_SECONDS = 1.0
# Rates below this cannot hold the top of the chroma's seven octaves (B7, 3951 Hz).
HARMONY_MIN_SAMPLE_RATE = 16000
HARMONY_HOP_LENGTH = 512
HARMONY_N_FFT = 2048
# Frames computed per chunk (~47 s at 22050 Hz); a multiple of ROUGHNESS_FRAME_STEP.
HARMONY_CHUNK_FRAMES = 2048

# Constant-Q chroma (librosa.feature.chroma_cqt's defaults, C1 up, 7 octaves).
CHROMA_BINS_PER_OCTAVE = 36
CHROMA_N_OCTAVES = 7
# Context decoded around each chunk: covers half the longest constant-Q filter (0.8 s at C1).
CHROMA_MARGIN_SECONDS = 1.0
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# Key and mode are read from the chroma of a window centred on each block (clipped at the
# ends): a 3 s block often holds a single chord, whose mode need not be the key's.
KEY_CONTEXT_SECONDS = 12.0
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
# Temperley (1999, "What's key for key?"), from the Kostka-Payne corpus, tonic first: less
# weight on the tonic triad than Krumhansl-Kessler, more on the scale's other degrees.
TEMPERLEY_MAJOR_PROFILE = (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0)
TEMPERLEY_MINOR_PROFILE = (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0)
MAJOR, MINOR = "major", "minor"

# A frame whose RMS is below this (dBFS) is silent; loudness is counted from the floor up.
SILENCE_DB = -60.0
LOUDNESS_FLOOR_DB = -80.0
# Spectral contrast (Jiang et al., 2002, as librosa.feature.spectral_contrast has it): octave
# bands from 0-200 Hz up to 6400 Hz-Nyquist, peak and valley = means of the top and bottom 2 %
# of each band's bins.
SPECTRAL_CONTRAST_BANDS = 6
SPECTRAL_CONTRAST_FMIN = 200.0
SPECTRAL_CONTRAST_QUANTILE = 0.02
_ONSET_FLOOR_POWER = 10 ** (LOUDNESS_FLOOR_DB / 10)

# Onset envelope: mean positive change of the log-mel spectrum between frames, in dB relative
# to the STFT peak of a full-scale sine, floored as loudness is (librosa floors at 80 dB under
# the track's peak, which would make the envelope depend on the chunking).
ONSET_N_MELS = 128
_FULL_SCALE_POWER = (HARMONY_N_FFT / 4) ** 2
# Tempo: autocorrelation of the onset envelope over a window centred on each block, peaks
# weighted by a log-normal prior (librosa.feature.tempo's: 120 BPM, one octave wide).
TEMPO_CONTEXT_SECONDS = 12.0
TEMPO_MIN_BPM = 40.0
TEMPO_MAX_BPM = 240.0
TEMPO_PRIOR_BPM = 120.0
TEMPO_PRIOR_OCTAVES = 1.0

# Roughness: a long window resolves partials a few Hz apart (the curve peaks at ~20 Hz
# apart near middle C); computed on every ROUGHNESS_FRAME_STEP-th frame.
ROUGHNESS_N_FFT = 8192
ROUGHNESS_FRAME_STEP = 4
ROUGHNESS_N_PEAKS = 16
# Peaks further than this below the frame's strongest one are ignored (noise floor).
ROUGHNESS_PEAK_RANGE_DB = 40.0
# Sethares (1993), "Local consonance and the relationship between timbre and scale".
_PL_DSTAR, _PL_S1, _PL_S2, _PL_B1, _PL_B2 = 0.24, 0.0207, 18.96, 3.51, 5.75

TONNETZ_NAMES = ("fifth_x", "fifth_y", "minor_x", "minor_y", "major_x", "major_y")
HARMONY_FEATURE_NAMES: tuple[str, ...] = (
    "major_correlation",
    "minor_correlation",
    "mode_strength",
    "key_clarity",
    "chroma_entropy",
    *(f"chroma_degree_{degree}" for degree in range(12)),
    *(f"tonnetz_{name}" for name in TONNETZ_NAMES),
    "tempo_bpm",
    "pulse_clarity",
    "spectral_centroid_hz",
    "spectral_flatness",
    *(f"spectral_contrast_{band}" for band in range(SPECTRAL_CONTRAST_BANDS + 1)),
    "loudness_db",
    "loudness_db_std",
    "roughness",
    "temperley_major_correlation",
    "temperley_minor_correlation",
    "temperley_mode_strength",
)

_TINY = 1e-12


class Key(NamedTuple):
    """A key estimate: ``tonic`` (``"C"`` ... ``"B"``), ``mode`` (``"major"``/``"minor"``) and
    ``strength``, the Pearson correlation of the chroma profile with that key's profile."""

    tonic: str
    mode: str
    strength: float


def _rotated_profiles(major: tuple[float, ...], minor: tuple[float, ...]) -> np.ndarray:
    """[24, 12]: the major then the minor profile with tonic 0..11, z-scored and divided by
    12, so that a dot product with a z-scored chroma profile is their Pearson correlation."""
    rows = [np.roll(profile, tonic) for profile in (major, minor) for tonic in range(12)]
    profiles = np.asarray(rows, dtype=np.float64)
    profiles -= profiles.mean(axis=1, keepdims=True)
    profiles /= profiles.std(axis=1, keepdims=True) * 12
    return profiles


KRUMHANSL_KESSLER, TEMPERLEY = "krumhansl_kessler", "temperley"
_KEY_PROFILES = {
    KRUMHANSL_KESSLER: _rotated_profiles(MAJOR_PROFILE, MINOR_PROFILE),
    TEMPERLEY: _rotated_profiles(TEMPERLEY_MAJOR_PROFILE, TEMPERLEY_MINOR_PROFILE),
}
KEY_PROFILES = tuple(_KEY_PROFILES)


def key_correlations(chroma: np.ndarray, *, profiles: str = KRUMHANSL_KESSLER) -> np.ndarray:
    """Pearson correlations of pitch-class profiles ``chroma`` [n, 12] with the 24 keys of
    ``profiles`` (one of ``KEY_PROFILES``): [n, 24], columns C major ... B major, then C minor
    ... B minor. A profile with no contrast (silent or perfectly flat) correlates 0 with every
    key."""
    if profiles not in _KEY_PROFILES:
        raise ParameterError(f"profiles must be one of {KEY_PROFILES}, got {profiles!r}")
    chroma = np.asarray(chroma, dtype=np.float64)
    if chroma.ndim != 2 or chroma.shape[1] != 12:
        raise ParameterError(f"chroma must be [n, 12] pitch-class profiles, got {chroma.shape}")
    centred = chroma - chroma.mean(axis=1, keepdims=True)
    spread = centred.std(axis=1, keepdims=True)
    scale = np.divide(
        1.0,
        spread,
        out=np.zeros_like(spread),
        where=spread > _TINY * np.abs(chroma).max(initial=1.0),
    )
    return (centred * scale) @ _KEY_PROFILES[profiles].T


def estimate_key(chroma: np.ndarray) -> Key | None:
    """The best of the 24 major/minor keys for a pitch-class profile ``chroma`` [12] (or
    [12, n_frames], librosa's layout, summed over frames), by correlation with the
    Krumhansl-Kessler profiles; None when the profile has no contrast (silent or exactly flat).

    >>> triad = np.zeros(12)
    >>> triad[[9, 0, 4]] = 1.0  # A, C, E
    >>> estimate_key(triad)  # doctest: +ELLIPSIS
    Key(tonic='A', mode='minor', strength=0.888...)
    """
    profile = np.asarray(chroma, dtype=np.float64)
    if profile.ndim == 2:
        profile = profile.sum(axis=1)
    if profile.shape != (12,):
        raise ParameterError(f"chroma must be [12] or [12, n_frames], got {np.shape(chroma)}")
    correlations = key_correlations(profile[None])[0]
    best = int(np.argmax(correlations))
    if correlations[best] == 0.0:
        return None
    return Key(PITCH_CLASSES[best % 12], MAJOR if best < 12 else MINOR, float(correlations[best]))


# ------------------------------------------------------------------------------ framing


def _check_waveform(y: np.ndarray, *, sr: int, block_seconds: float) -> np.ndarray:
    if not isinstance(sr, (int, np.integer)) or sr < HARMONY_MIN_SAMPLE_RATE:
        raise ParameterError(f"sr must be an integer >= {HARMONY_MIN_SAMPLE_RATE} Hz, got {sr!r}")
    if not math.isfinite(block_seconds) or block_seconds < HARMONY_MIN_SECONDS:
        raise ParameterError(
            f"block_seconds must be >= {HARMONY_MIN_SECONDS} s, got {block_seconds!r}"
        )
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"y must be a mono waveform [n], got shape {y.shape}")
    if not np.isfinite(y).all():
        bad = int(np.count_nonzero(~np.isfinite(y)))
        raise AudioDecodeError(
            f"{bad} of {len(y)} samples are NaN or infinite", reason="invalid_samples"
        )
    if len(y) < HARMONY_MIN_SECONDS * sr:
        raise AudioDecodeError(
            f"{len(y) / sr:.3f} s of audio is shorter than the {HARMONY_MIN_SECONDS} s "
            "harmony features need",
            reason="too_short",
        )
    return y


def block_frames(n_samples: int, *, sr: int, block_seconds: float) -> np.ndarray:
    """Frame range [start, stop) of each block: [n_blocks, 2] int. Frame t is centred on
    sample t * HARMONY_HOP_LENGTH; block b spans samples [b, b + 1) * block length, and owns
    the frames centred inside it. The last partial block is dropped unless it is the only one.

    >>> block_frames(7 * 22050, sr=22050, block_seconds=3.0).tolist()
    [[0, 130], [130, 259]]
    """
    block = round(block_seconds * sr)
    n_blocks = max(1, n_samples // block)
    starts = np.arange(n_blocks) * block
    stops = np.minimum(starts + block, n_samples)
    return np.stack([-(-starts // HARMONY_HOP_LENGTH), -(-stops // HARMONY_HOP_LENGTH)], axis=1)


def _window(y: np.ndarray, start: int, stop: int) -> np.ndarray:
    """y[start:stop], zero-padded where the range runs past either end of ``y``."""
    inner = y[max(start, 0) : max(min(stop, len(y)), 0)]
    before, after = max(-start, 0), max(stop - max(start, len(y)), 0)
    return np.pad(inner, (before, after)) if before or after else inner


def _chunks(n_frames: int) -> Iterator[tuple[int, int]]:
    """Frame ranges [start, stop) of at most HARMONY_CHUNK_FRAMES frames, about equal in
    length (a short last chunk would give the constant-Q transform too little signal), each
    starting on a multiple of ROUGHNESS_FRAME_STEP."""
    n_chunks = -(-n_frames // HARMONY_CHUNK_FRAMES)
    size = -(-n_frames // (n_chunks * ROUGHNESS_FRAME_STEP)) * ROUGHNESS_FRAME_STEP
    for start in range(0, n_frames, size):
        yield start, min(n_frames, start + size)


# ------------------------------------------------------------------------ frame features


def _chroma_frames(y: np.ndarray, *, sr: int, n_frames: int) -> np.ndarray:
    """Constant-Q chroma energy (not normalised) of frames 0 .. n_frames - 1: [n_frames, 12]."""
    import librosa

    margin = math.ceil(CHROMA_MARGIN_SECONDS * sr / HARMONY_HOP_LENGTH)
    parts = []
    for start, stop in _chunks(n_frames):
        segment = _window(
            y, (start - margin) * HARMONY_HOP_LENGTH, (stop + margin) * HARMONY_HOP_LENGTH
        )
        chroma = librosa.feature.chroma_cqt(
            y=segment,
            sr=sr,
            hop_length=HARMONY_HOP_LENGTH,
            norm=None,
            tuning=0.0,
            n_octaves=CHROMA_N_OCTAVES,
            bins_per_octave=CHROMA_BINS_PER_OCTAVE,
        )
        parts.append(chroma[:, margin : margin + stop - start].T)
    return np.concatenate(parts).astype(np.float32)


def _rms_db_frames(y: np.ndarray, *, n_frames: int) -> np.ndarray:
    """RMS level of frames 0 .. n_frames - 1 in dBFS, floored at LOUDNESS_FLOOR_DB: [n_frames]."""
    import librosa

    hop, n_fft = HARMONY_HOP_LENGTH, HARMONY_N_FFT
    parts = []
    for start, stop in _chunks(n_frames):
        segment = _window(y, start * hop - n_fft // 2, (stop - 1) * hop + n_fft // 2)
        rms = librosa.feature.rms(y=segment, frame_length=n_fft, hop_length=hop, center=False)[0]
        parts.append(20 * np.log10(np.maximum(rms, _TINY)))
    return np.maximum(np.concatenate(parts), LOUDNESS_FLOOR_DB)


class _SpectralFrames(NamedTuple):
    onset: np.ndarray  # [T]
    centroid: np.ndarray  # [T] Hz
    flatness: np.ndarray  # [T]
    contrast: np.ndarray  # [T, SPECTRAL_CONTRAST_BANDS + 1]
    roughness: np.ndarray  # [ceil(T / ROUGHNESS_FRAME_STEP)], frames 0, step, 2 step, ...


def _spectral_frames(y: np.ndarray, *, sr: int, n_frames: int) -> _SpectralFrames:
    import librosa

    hop, n_fft = HARMONY_HOP_LENGTH, HARMONY_N_FFT
    mel_basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=ONSET_N_MELS)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in _SpectralFrames._fields}
    previous_mel = None
    for start, stop in _chunks(n_frames):
        segment = _window(y, start * hop - n_fft // 2, (stop - 1) * hop + n_fft // 2)
        magnitude = np.abs(librosa.stft(segment, n_fft=n_fft, hop_length=hop, center=False))
        mel_power = np.maximum(mel_basis @ magnitude**2 / _FULL_SCALE_POWER, _ONSET_FLOOR_POWER)
        mel_db = 10 * np.log10(mel_power)
        if previous_mel is None:
            previous_mel = mel_db[:, :1]
        rises = np.diff(np.concatenate([previous_mel, mel_db], axis=1), axis=1)
        parts["onset"].append(np.maximum(rises, 0.0).mean(axis=0))
        previous_mel = mel_db[:, -1:]
        parts["centroid"].append(
            librosa.feature.spectral_centroid(S=magnitude, sr=sr, n_fft=n_fft)[0]
        )
        parts["flatness"].append(librosa.feature.spectral_flatness(S=magnitude)[0])
        parts["contrast"].append(spectral_contrast(magnitude, sr=sr, n_fft=n_fft).T)
        parts["roughness"].append(_roughness_frames(y, sr=sr, start=start, stop=stop))
    return _SpectralFrames(**{name: np.concatenate(part) for name, part in parts.items()})


def spectral_contrast(magnitude: np.ndarray, *, sr: int, n_fft: int) -> np.ndarray:
    """Spectral contrast of a magnitude spectrogram [1 + n_fft // 2, T]:
    [SPECTRAL_CONTRAST_BANDS + 1, T], the peak-to-valley ratio of each octave band.

    The figures of ``librosa.feature.spectral_contrast(S=magnitude)`` (10 log10 of magnitude
    ratios) without its clipping at 80 dB under the loudest peak of the whole input, which would
    make a frame's value depend on its neighbours.
    """
    edges_hz = SPECTRAL_CONTRAST_FMIN * 2.0 ** np.arange(SPECTRAL_CONTRAST_BANDS)
    # Each band above the first starts one bin below its edge frequency and, but for the last,
    # counts (not uses) the bin at its top edge, as librosa's do.
    edges = [0, *(np.ceil(edges_hz * n_fft / sr).astype(int) - 1), magnitude.shape[0]]
    rows = []
    for band_index, (low, high) in enumerate(itertools.pairwise(edges)):
        band = np.sort(magnitude[low:high], axis=0)
        counted = len(band) + (band_index < SPECTRAL_CONTRAST_BANDS)
        n = max(1, round(SPECTRAL_CONTRAST_QUANTILE * counted))
        peak = np.maximum(band[-n:].mean(axis=0), _TINY)
        valley = np.maximum(band[:n].mean(axis=0), _TINY)
        rows.append(10 * np.log10(peak / valley))
    return np.stack(rows)


def _roughness_frames(y: np.ndarray, *, sr: int, start: int, stop: int) -> np.ndarray:
    """Roughness of frames start, start + step, ... < stop (start a multiple of the step)."""
    import librosa

    hop = HARMONY_HOP_LENGTH * ROUGHNESS_FRAME_STEP
    frames = range(start, stop, ROUGHNESS_FRAME_STEP)
    segment = _window(
        y,
        frames[0] * HARMONY_HOP_LENGTH - ROUGHNESS_N_FFT // 2,
        frames[-1] * HARMONY_HOP_LENGTH + ROUGHNESS_N_FFT // 2,
    )
    magnitude = np.abs(librosa.stft(segment, n_fft=ROUGHNESS_N_FFT, hop_length=hop, center=False))
    return plomp_levelt_roughness(magnitude, sr=sr, n_fft=ROUGHNESS_N_FFT)


def plomp_levelt_roughness(magnitude: np.ndarray, *, sr: int, n_fft: int) -> np.ndarray:
    """Sensory roughness of each frame of a magnitude spectrogram [1 + n_fft // 2, T]: [T].

    The ``ROUGHNESS_N_PEAKS`` strongest local maxima of each frame (within
    ``ROUGHNESS_PEAK_RANGE_DB`` of the strongest, frequencies refined by parabolic
    interpolation of the log magnitude) are summed pairwise through the Plomp-Levelt curve,
    weighted by the smaller amplitude of each pair, and divided by the sum of the peak
    amplitudes, so that the figure does not depend on level. A frame without peaks is 0.
    """
    log_mag = np.log(np.maximum(magnitude, _TINY))
    centre = magnitude[1:-1]
    is_peak = (centre > magnitude[:-2]) & (centre >= magnitude[2:])
    peaks = np.where(is_peak, centre, 0.0)
    n_peaks = min(ROUGHNESS_N_PEAKS, len(peaks))
    index = np.argpartition(-peaks, n_peaks - 1, axis=0)[:n_peaks]  # [K, T]
    amplitude = np.take_along_axis(peaks, index, axis=0)
    loudest = amplitude.max(axis=0, keepdims=True)
    amplitude = np.where(
        amplitude >= loudest * 10 ** (-ROUGHNESS_PEAK_RANGE_DB / 20), amplitude, 0.0
    )
    left, mid, right = (np.take_along_axis(log_mag, index + shift, axis=0) for shift in (0, 1, 2))
    curvature = left - 2 * mid + right
    offset = np.divide(0.5 * (left - right), curvature, out=np.zeros_like(mid), where=curvature < 0)
    hz = (index + 1 + np.clip(offset, -0.5, 0.5)) * sr / n_fft
    low = np.minimum(hz[:, None], hz[None, :])
    distance = np.abs(hz[:, None] - hz[None, :]) * _PL_DSTAR / (_PL_S1 * low + _PL_S2)
    curve = np.exp(-_PL_B1 * distance) - np.exp(-_PL_B2 * distance)
    weight = np.minimum(amplitude[:, None], amplitude[None, :])
    roughness = 0.5 * (weight * curve).sum(axis=(0, 1))  # each pair counted twice
    total = amplitude.sum(axis=0)
    return np.divide(roughness, total, out=np.zeros_like(roughness), where=total > 0).astype(
        np.float32
    )


# ------------------------------------------------------------------------------ tempo


def _tempo(onset: np.ndarray, *, sr: int) -> tuple[float, float]:
    """(BPM, pulse clarity) of an onset envelope [n]; (0, 0) when it has no periodic peak."""
    frame_rate = sr / HARMONY_HOP_LENGTH
    envelope = onset - onset.mean()
    n = len(envelope)
    spectrum = np.fft.rfft(envelope, 2 * n)
    autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2)[:n]
    if autocorrelation[0] <= _TINY:
        return 0.0, 0.0
    autocorrelation /= autocorrelation[0]
    shortest = max(1, math.floor(60 * frame_rate / TEMPO_MAX_BPM))
    longest = min(n - 2, math.ceil(60 * frame_rate / TEMPO_MIN_BPM))
    lags = np.arange(shortest, longest + 1)
    if len(lags) == 0:
        return 0.0, 0.0
    here, before, after = (autocorrelation[lags + shift] for shift in (0, -1, 1))
    is_peak = (here > before) & (here >= after) & (here > 0)
    if not is_peak.any():
        return 0.0, 0.0
    prior = np.exp(
        -0.5 * (np.log2(60 * frame_rate / lags / TEMPO_PRIOR_BPM) / TEMPO_PRIOR_OCTAVES) ** 2
    )
    best = int(np.argmax(np.where(is_peak, here * prior, -np.inf)))
    curvature = before[best] - 2 * here[best] + after[best]
    offset = 0.5 * (before[best] - after[best]) / curvature if curvature < 0 else 0.0
    height = here[best] - 0.25 * (before[best] - after[best]) * offset
    return 60 * frame_rate / (lags[best] + offset), float(height)


def _block_tempi(onset: np.ndarray, frames: np.ndarray, *, sr: int) -> np.ndarray:
    """[n_blocks, 2]: tempo and pulse clarity over the context window centred on each block."""
    half = round(TEMPO_CONTEXT_SECONDS * sr / HARMONY_HOP_LENGTH / 2)
    centres = frames.mean(axis=1).round().astype(int)
    return np.array(
        [_tempo(onset[max(0, c - half) : c + half], sr=sr) for c in centres], dtype=np.float64
    ).reshape(-1, 2)


# ----------------------------------------------------------------------------- blocks


def _pool(values: np.ndarray, frames: np.ndarray, sounding: np.ndarray) -> np.ndarray:
    """Mean of ``values`` [T, ...] over each block's sounding frames: [n_blocks, ...]; 0 for a
    block with none."""
    out = np.zeros((len(frames), *values.shape[1:]), dtype=np.float64)
    for block, (start, stop) in enumerate(frames):
        keep = sounding[start:stop]
        if keep.any():
            out[block] = values[start:stop][keep].mean(axis=0)
    return out


def _context_sums(values: np.ndarray, frames: np.ndarray, *, seconds: float, sr: int) -> np.ndarray:
    """Sums of ``values`` [T, F] over a ``seconds`` window centred on each block (clipped at
    the ends): [n_blocks, F]."""
    half = round(seconds * sr / HARMONY_HOP_LENGTH / 2)
    centres = frames.mean(axis=1).round().astype(int)
    cumulative = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    low, high = np.clip(centres - half, 0, len(values)), np.clip(centres + half, 0, len(values))
    return cumulative[high] - cumulative[low]


def _distribution(energy: np.ndarray) -> np.ndarray:
    """Rows of ``energy`` [n, 12] scaled to sum to 1; all-zero rows stay zero."""
    total = energy.sum(axis=1, keepdims=True)
    return np.divide(energy, total, out=np.zeros_like(energy), where=total > _TINY)


def _temperley_columns(context: np.ndarray) -> np.ndarray:
    """[n_blocks, 3]: the best Temperley major and minor correlations of the ``context``
    chroma and their difference (mode strength)."""
    correlations = key_correlations(context, profiles=TEMPERLEY)
    best_major = correlations[:, :12].max(axis=1)
    best_minor = correlations[:, 12:].max(axis=1)
    return np.column_stack([best_major, best_minor, best_major - best_minor])


def _key_columns(chroma: np.ndarray, context: np.ndarray) -> np.ndarray:
    """[n_blocks, 5 + 12 + 6]: key and mode of the ``context`` chroma, then the entropy, the
    chroma rotated to that key's tonic and the tonnetz of the block's own ``chroma``; both
    [n_blocks, 12] distributions (rows summing to 1, or zero)."""
    import librosa

    correlations = key_correlations(context)
    best_major = correlations[:, :12].max(axis=1)
    best_minor = correlations[:, 12:].max(axis=1)
    ranked = np.sort(correlations, axis=1)
    clarity = ranked[:, -1] - ranked[:, -2]
    tonic = np.argmax(correlations, axis=1) % 12
    rotated = np.stack([np.roll(row, -shift) for row, shift in zip(chroma, tonic, strict=True)])
    logs = np.log(np.where(chroma > 0, chroma, 1.0))
    entropy = -(chroma * logs).sum(axis=1) / np.log(12)
    tonnetz = librosa.feature.tonnetz(chroma=chroma.T).T
    return np.column_stack(
        [best_major, best_minor, best_major - best_minor, clarity, entropy, rotated, tonnetz]
    )


def block_chroma(
    y: np.ndarray, *, sr: int = HARMONY_SAMPLE_RATE, block_seconds: float = HARMONY_BLOCK_SECONDS
) -> np.ndarray:
    """Pitch-class distribution of each block of a mono waveform ``y`` [n]: [n_blocks, 12]
    float32, columns C ... B, rows summing to 1 (all zero for a silent block).

    The constant-Q chroma energy of the block's sounding frames; :func:`estimate_key` names
    its key.
    """
    y = _check_waveform(y, sr=sr, block_seconds=block_seconds)
    frames = block_frames(len(y), sr=sr, block_seconds=block_seconds)
    n_frames = int(frames[-1, 1])
    sounding = _rms_db_frames(y, n_frames=n_frames) > SILENCE_DB
    chroma = _chroma_frames(y, sr=sr, n_frames=n_frames)
    return _distribution(_pool(chroma, frames, sounding)).astype(np.float32)


def harmony_features(
    y: np.ndarray, *, sr: int = HARMONY_SAMPLE_RATE, block_seconds: float = HARMONY_BLOCK_SECONDS
) -> np.ndarray:
    """Harmony, rhythm and timbre features of each block of a mono waveform ``y`` [n] at
    ``sr`` Hz: [n_blocks, len(HARMONY_FEATURE_NAMES)] float32, finite.

    ``n_blocks = n // (block_seconds * sr)``, or 1 for a track shorter than one block. Raises
    :class:`AudioDecodeError` for a track under ``HARMONY_MIN_SECONDS`` (reason
    ``too_short``) or with NaN/infinite samples (``invalid_samples``), and
    :class:`ParameterError` for a waveform that is not 1-D or a bad ``sr``/``block_seconds``.
    See the module docstring for the columns.

    >>> silence = np.zeros(7 * HARMONY_SAMPLE_RATE, dtype=np.float32)
    >>> features = harmony_features(silence)
    >>> features.shape, features.dtype, float(np.abs(features).max())
    ((2, 40), dtype('float32'), 0.0)
    """
    y = _check_waveform(y, sr=sr, block_seconds=block_seconds)
    frames = block_frames(len(y), sr=sr, block_seconds=block_seconds)
    n_frames = int(frames[-1, 1])
    loudness = _rms_db_frames(y, n_frames=n_frames) - LOUDNESS_FLOOR_DB
    sounding = loudness > SILENCE_DB - LOUDNESS_FLOOR_DB
    spectral = _spectral_frames(y, sr=sr, n_frames=n_frames)
    chroma = _chroma_frames(y, sr=sr, n_frames=n_frames) * sounding[:, None]
    context = _context_sums(chroma, frames, seconds=KEY_CONTEXT_SECONDS, sr=sr)
    everywhere = np.ones_like(sounding)
    mean_loudness = _pool(loudness, frames, everywhere)
    loudness_spread = np.sqrt(
        np.maximum(_pool(loudness**2, frames, everywhere) - mean_loudness**2, 0.0)
    )
    context = _distribution(context)
    columns = np.column_stack(
        [
            _key_columns(_distribution(_pool(chroma, frames, sounding)), context),
            _block_tempi(spectral.onset, frames, sr=sr),
            _pool(spectral.centroid, frames, sounding),
            _pool(spectral.flatness, frames, sounding),
            _pool(spectral.contrast, frames, sounding),
            mean_loudness,
            loudness_spread,
            _pool(
                spectral.roughness,
                -(-frames // ROUGHNESS_FRAME_STEP),
                sounding[::ROUGHNESS_FRAME_STEP],
            ),
            _temperley_columns(context),
        ]
    )
    columns[[not sounding[start:stop].any() for start, stop in frames]] = 0.0
    return columns.astype(np.float32)
