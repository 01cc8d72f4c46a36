"""Render a synthetic soundtrack from a latent valence/arousal/dominance.

Each emotion dimension drives its own, musically grounded set of cues, so a model can learn
audio -> VAD and each dimension separately:

* valence   -> mode (major vs minor/phrygian), consonance (clusters and detuned, beating
  voices when negative) and brightness (the harmonic roll-off of every tonal voice);
* arousal   -> tempo, onset density of the melody, attack sharpness, loudness and percussive
  noise bursts;
* dominance -> register (bass fundamental octave, chord and melody register), bass weight,
  low "timpani" hits and dynamic range (depth of the slow crescendos).

Per-track jitter (key, tempo, timbre, reverb, chord progression) keeps tracks with the same
latent different. Rendering is a pure function of its arguments (the seed included), so it
can be fanned out over processes and is byte-for-byte reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr
from scipy.signal import fftconvolve

from soundtrack_emotion.exceptions import ParameterError

# Rate the music is synthesised at; files at other rates are resampled from it with soxr.
SYNTH_SAMPLE_RATE = 22050
_TABLE_SIZE = 4096
_MAX_HARMONICS = 32
_STEPS_PER_BEAT = 4  # sixteenth notes
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_PHRYGIAN = (0, 1, 3, 5, 7, 8, 10)
_PEAK = 0.98


@dataclass(frozen=True)
class _Timbre:
    """One track's instrument colour: harmonic roll-off exponent and odd/even balance."""

    rolloff: float
    even_gain: float
    inharmonic: float


def _midi_to_hz(midi: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(midi) - 69.0) / 12.0)


def _n_harmonics(freq: float, sample_rate: int) -> int:
    """Harmonics of a tone at ``freq`` that stay below 0.45 x the sample rate (no aliasing)."""
    return max(1, int(min(_MAX_HARMONICS, (0.45 * sample_rate) // freq)))


def _wavetable(n_harm: int, timbre: _Timbre) -> np.ndarray:
    """One period of a tone with ``n_harm`` harmonics [_TABLE_SIZE] float64, peak ~1."""
    k = np.arange(1, n_harm + 1, dtype=np.float64)
    amps = k ** (-timbre.rolloff)
    amps[1::2] *= timbre.even_gain
    phase = np.arange(_TABLE_SIZE, dtype=np.float64) * (2.0 * np.pi / _TABLE_SIZE)
    # Slight stretch of the partials (piano-like inharmonicity) folded into the phase.
    stretch = 1.0 + timbre.inharmonic * (k - 1.0) ** 2
    table = np.sin(np.outer(k * np.round(stretch), phase)).T @ amps
    return table / np.sum(amps)


class _Renderer:
    """Accumulates notes into a mono buffer; wavetables are cached per (voice, pitch)."""

    def __init__(self, n_samples: int, sample_rate: int) -> None:
        self.out = np.zeros(n_samples, dtype=np.float64)
        self.sample_rate = sample_rate
        self._tables: dict[tuple[int, int], np.ndarray] = {}
        self._ramp = np.arange(n_samples, dtype=np.float64)

    def note(
        self,
        *,
        start: float,
        length: float,
        midi: float,
        amp: float,
        timbre: _Timbre,
        voice: int,
        attack: float,
        decay: float,
        phase: float = 0.0,
    ) -> None:
        sr = self.sample_rate
        i0 = int(start * sr)
        n = min(int(length * sr), len(self.out) - i0)
        if n <= 0:
            return
        freq = float(_midi_to_hz(midi))
        key = (voice, _n_harmonics(freq, sr))
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = _wavetable(key[1], timbre)
        t = self._ramp[:n]
        idx = ((phase + t * (freq * _TABLE_SIZE / sr)) % _TABLE_SIZE).astype(np.int64)
        env = np.minimum(1.0, t / max(attack * sr, 1.0)) * np.exp(-t / (decay * sr))
        release = min(n, int(0.03 * sr))
        env[n - release :] *= np.linspace(1.0, 0.0, release)
        self.out[i0 : i0 + n] += amp * env * table[idx]

    def add(self, start: float, signal: np.ndarray) -> None:
        i0 = int(start * self.sample_rate)
        n = min(len(signal), len(self.out) - i0)
        if n > 0:
            self.out[i0 : i0 + n] += signal[:n]


def _noise_burst(rng: np.random.Generator, *, seconds: float, decay: float, sr: int) -> np.ndarray:
    """A short percussive burst: first-differenced (bright) noise with an exponential decay."""
    n = int(seconds * sr)
    noise = np.diff(rng.standard_normal(n + 1))
    return noise * np.exp(-np.arange(n) / (decay * sr)) * 0.5


def _scale(valence: float, rng: np.random.Generator) -> tuple[int, ...]:
    p_major = 1.0 / (1.0 + np.exp(-(valence - 0.5) * 14.0))
    if rng.random() < p_major:
        return _MAJOR
    return _PHRYGIAN if valence < 0.22 and rng.random() < 0.6 else _MINOR


@dataclass(frozen=True)
class _Style:
    """One track's musical frame, drawn from its latent VAD: key and scale, tempo, timbres,
    register and loudness."""

    v: float
    a: float
    d: float
    root_pc: int
    beat: float
    scale: tuple[int, ...]
    lead: _Timbre
    pad: _Timbre
    bass_timbre: _Timbre
    dissonance: float
    attack: float
    loudness: float
    bass_base: float
    pad_center: float
    bass_amp: float
    degrees: tuple[int, ...]

    @property
    def step(self) -> float:
        return self.beat / _STEPS_PER_BEAT

    @property
    def bar(self) -> float:
        return 4 * self.beat

    def degree_midi(self, degree: int) -> float:
        octave, idx = divmod(degree, 7)
        return float(self.root_pc + self.scale[idx] + 12 * octave)

    def octave_shift(self, degree: int, center: float) -> float:
        return 12.0 * np.round((center - self.degree_midi(degree)) / 12.0)

    def pitch(self, degree: int, center: float) -> float:
        return self.degree_midi(degree) + self.octave_shift(degree, center)


def _style(v: float, a: float, d: float, rng: np.random.Generator) -> _Style:
    """The per-track musical frame: key, tempo, timbre, register."""
    root_pc = int(rng.integers(0, 12))
    tempo = float(np.clip(60.0 + 110.0 * a + rng.normal(0.0, 5.0), 50.0, 190.0))
    scale = _scale(v, rng)
    rolloff = 2.9 - 2.1 * v + rng.normal(0.0, 0.12)
    lead = _Timbre(rolloff, float(rng.uniform(0.35, 1.0)), float(rng.uniform(0.0, 0.002)))
    pad = _Timbre(rolloff + 0.5, float(rng.uniform(0.5, 1.0)), 0.0)
    bass_timbre = _Timbre(2.6 + 0.4 * rng.random(), 0.7, 0.0)
    # Register: dominant music sits low (deep bass, low chords); submissive music is high/thin.
    bass_base = 28.0 + 20.0 * (1.0 - d) + rng.normal(0.0, 1.0)
    pad_center = 50.0 + 22.0 * (1.0 - d) + rng.normal(0.0, 1.0)
    return _Style(
        v=v,
        a=a,
        d=d,
        root_pc=root_pc,
        beat=60.0 / tempo,
        scale=scale,
        lead=lead,
        pad=pad,
        bass_timbre=bass_timbre,
        dissonance=float(np.clip((0.6 - v) / 0.6, 0.0, 1.0)),
        attack=0.004 + 0.22 * (1.0 - a) ** 2,
        loudness=0.3 + 0.6 * a,
        bass_base=bass_base,
        pad_center=pad_center,
        bass_amp=0.06 + 0.7 * d,
        degrees=(0, 3, 4, 5, 1, 2) if scale is _MAJOR else (0, 5, 3, 6, 4, 2),
    )


def _chord(render: _Renderer, style: _Style, t0: float, deg: int) -> None:
    """One bar's pad triad, detuned in pairs, with a dissonant cluster when valence is low."""
    a, bar, dissonance = style.a, style.bar, style.dissonance
    detune = (3.0 + 45.0 * dissonance) / 100.0  # semitones
    shift = style.octave_shift(deg, style.pad_center)
    root = style.degree_midi(deg) + shift
    for j, third in enumerate((0, 2, 4)):  # triad stacked in thirds of the scale
        note = style.degree_midi(deg + third) + shift
        for sign in (-1.0, 1.0):
            render.note(
                start=t0,
                length=bar,
                midi=note + sign * detune / 2,
                amp=0.16,
                timbre=style.pad,
                voice=1,
                attack=0.05 + 0.4 * (1 - a),
                decay=4.0 * bar,
                phase=float(j * 977 + (sign > 0) * 1511),
            )
    if dissonance > 0:  # semitone cluster and tritone: rough, unstable harmony
        for interval, weight in ((1.0, 0.22), (6.0, 0.12)):
            render.note(
                start=t0,
                length=bar,
                midi=root + interval,
                amp=weight * dissonance,
                timbre=style.pad,
                voice=1,
                attack=0.1,
                decay=4.0 * bar,
            )


def _bass(render: _Renderer, style: _Style, t0: float, deg: int, rng: np.random.Generator) -> None:
    """One bar's bass, re-articulated once per bar when calm, on every beat when aroused, and
    a low "timpani" accent, deeper and louder if dominant."""
    a, d, bar = style.a, style.d, style.bar
    hits = 1 if a < 0.35 else (2 if a < 0.7 else 4)
    bass_midi = style.pitch(deg, style.bass_base)
    for h in range(hits):
        render.note(
            start=t0 + h * bar / hits,
            length=bar / hits,
            midi=bass_midi,
            amp=style.bass_amp,
            timbre=style.bass_timbre,
            voice=2,
            attack=0.01 + 0.05 * (1 - a),
            decay=bar,
        )
    if rng.random() < 0.15 + 0.7 * d:
        render.note(
            start=t0,
            length=min(bar, 1.5),
            midi=bass_midi - 12 * (d > 0.5),
            amp=0.5 * d,
            timbre=style.bass_timbre,
            voice=3,
            attack=0.003,
            decay=0.35,
        )


def _harmony(render: _Renderer, style: _Style, seconds: float, rng: np.random.Generator) -> None:
    """One chord per bar (pad + bass), starting on the tonic."""
    n_bars = int(np.ceil(seconds / style.bar))
    degrees = style.degrees
    chord_degrees = [degrees[int(rng.integers(0, len(degrees)))] for _ in range(n_bars)]
    chord_degrees[0] = 0
    for bar_i, deg in enumerate(chord_degrees):
        t0 = bar_i * style.bar
        _chord(render, style, t0, deg)
        _bass(render, style, t0, deg, rng)


def _melody(render: _Renderer, style: _Style, seconds: float, rng: np.random.Generator) -> None:
    """A random-walk melody whose onset density follows arousal."""
    a, step = style.a, style.step
    n_steps = int(seconds / step)
    p_note = 0.06 + 0.8 * a**1.3
    melody_center = style.pad_center + 12.0
    deg = 0
    onsets: list[tuple[float, float]] = []
    for s in range(n_steps):
        on_beat = s % _STEPS_PER_BEAT == 0
        if rng.random() < (min(1.0, p_note * 1.6) if on_beat else p_note):
            deg = int(np.clip(deg + rng.integers(-2, 3), -3, 9))
            onsets.append((s * step, style.pitch(deg, melody_center + 2.0 * (deg - 3))))
    for i, (start, midi) in enumerate(onsets):
        nxt = onsets[i + 1][0] if i + 1 < len(onsets) else seconds
        render.note(
            start=start,
            length=min(nxt - start + 0.02, 2.0 * style.beat),
            midi=midi,
            amp=0.22,
            timbre=style.lead,
            voice=0,
            attack=style.attack,
            decay=0.25 + 2.5 * (1 - a),
        )


def _percussion(
    render: _Renderer, style: _Style, seconds: float, rng: np.random.Generator, *, sr: int
) -> None:
    """Bright noise bursts, denser and louder with arousal."""
    a, step = style.a, style.step
    n_steps = int(seconds / step)
    p_perc = 0.9 * a**1.6
    hat = _noise_burst(rng, seconds=0.08, decay=0.015 + 0.02 * rng.random(), sr=sr)
    snare = _noise_burst(rng, seconds=0.2, decay=0.05, sr=sr)
    for s in range(n_steps):
        if rng.random() < p_perc:
            render.add(s * step, (0.12 + 0.25 * a) * hat * rng.uniform(0.6, 1.0))
        if s % (2 * _STEPS_PER_BEAT) == _STEPS_PER_BEAT and rng.random() < a**2:
            render.add(s * step, 0.35 * a * snare)


def _mixdown(
    mix: np.ndarray, style: _Style, rng: np.random.Generator, *, channels: int, sr: int
) -> np.ndarray:
    """Slow crescendos whose depth follows dominance, then a short exponential-noise reverb
    (per-channel tails for stereo), scaled to the track's loudness and kept under the peak:
    [n_samples, channels]."""
    t = np.arange(len(mix)) / sr
    period = float(rng.uniform(4.0, 8.0))
    depth = 0.1 + 0.75 * style.d
    mix = mix * (1.0 - depth * (0.5 + 0.5 * np.cos(2.0 * np.pi * t / period)))
    wet = float(rng.uniform(0.05, 0.25))
    ir_len = int(0.35 * sr)
    decay_ir = np.exp(-np.arange(ir_len) / (0.08 * sr))
    outs = []
    for _ in range(channels):
        ir = rng.standard_normal(ir_len) * decay_ir
        ir /= np.sqrt(np.sum(ir**2))
        outs.append(mix + wet * fftconvolve(mix, ir)[: len(mix)])
    audio = np.stack(outs, axis=1) * style.loudness
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > _PEAK:
        audio *= _PEAK / peak
    return audio


def _to_rate(audio: np.ndarray, *, seconds: float, sr: int, sample_rate: int) -> np.ndarray:
    """``audio`` at ``sr`` resampled to exactly ``round(seconds * sample_rate)`` samples."""
    audio = soxr.resample(audio, sr, sample_rate, quality="HQ")
    target = round(seconds * sample_rate)
    audio = (
        audio[:target]
        if len(audio) >= target
        else np.pad(audio, ((0, target - len(audio)), (0, 0)))
    )
    return np.clip(audio, -1.0, 1.0)


def render_soundtrack(
    *,
    valence: float,
    arousal: float,
    dominance: float,
    seconds: float,
    seed: int,
    sample_rate: int = SYNTH_SAMPLE_RATE,
    channels: int = 1,
) -> np.ndarray:
    """Synthesise a soundtrack whose cues follow the latent VAD (each in [0, 1]).

    Returns float32 [n_samples, channels] in [-1, 1], ``n_samples = round(seconds *
    sample_rate)``. Deterministic for a given set of arguments: one generator, drawn from in a
    fixed order (frame, harmony, melody, percussion, dynamics, room).
    """
    for name, value in (("valence", valence), ("arousal", arousal), ("dominance", dominance)):
        if not 0.0 <= value <= 1.0:
            raise ParameterError(f"{name} must be in [0, 1], got {value!r}")
    if seconds <= 0:
        raise ParameterError(f"seconds must be positive, got {seconds!r}")
    if channels not in (1, 2):
        raise ParameterError(f"channels must be 1 or 2, got {channels!r}")
    rng = np.random.default_rng(seed)
    sr = SYNTH_SAMPLE_RATE
    render = _Renderer(round(seconds * sr), sr)
    style = _style(float(valence), float(arousal), float(dominance), rng)
    _harmony(render, style, seconds, rng)
    _melody(render, style, seconds, rng)
    _percussion(render, style, seconds, rng, sr=sr)
    audio = _mixdown(render.out, style, rng, channels=channels, sr=sr)
    if sample_rate != sr:
        audio = _to_rate(audio, seconds=seconds, sr=sr, sample_rate=sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)
