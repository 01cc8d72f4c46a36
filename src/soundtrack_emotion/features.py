"""The feature families the project extracts, and the per-track functions that compute them.

* MFCC (thesis section 4.1.1): ``librosa.feature.mfcc(y=y, sr=22050, n_mfcc=13, n_fft=2048,
  hop_length=1024)``, time-major ``[n_windows, n_mfcc]``; ``drop_c0`` removes the offset
  coefficient (the thesis's "remove offset").
* VGGish (thesis section 4.1.2): the pretrained TF Hub model, 16 kHz mono waveform in,
  ``[N, 128]`` out, one row per 0.96 s. Long tracks and many tracks are packed into bounded
  batches (:class:`VggishBatcher`), so memory does not grow with track length. It computes in
  float32 or bfloat16 (:mod:`soundtrack_emotion.precision`); the embeddings are float32.
* MusiCNN (:mod:`soundtrack_emotion.musicnn`): the MSD-trained network of the musicnn 0.1.0
  wheel, rebuilt in Keras 3; 16 kHz mono in, ``[n_patches, 200]`` embeddings out, one row per
  3 s (187-frame, 2.992 s) patch, plus the 50-tag taggram.
* Framing: ``[T, F]`` -> ``[n, frame_length, F]`` frames of 15 s / 30 s, i.e. (323, 13) /
  (646, 13) MFCC windows, (15, 128) / (30, 128) VGGish embeddings and (5, 200) / (10, 200)
  MusiCNN patches (a "15 s" MusiCNN frame spans 5 x 2.992 = 14.96 s).

Every function is a pure function of one track, so callers can fan tracks out over processes.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from soundtrack_emotion.audio import MFCC_SAMPLE_RATE, VGGISH_SAMPLE_RATE, mel_spectrogram
from soundtrack_emotion.exceptions import AudioDecodeError, ModelUnavailableError, ParameterError
from soundtrack_emotion.musicnn import musicnn_patch_rows
from soundtrack_emotion.precision import BFLOAT16, FLOAT32, onednn_bfloat16_rewrite

# The words themselves live in vocabulary.py; re-exported for the modules that read them here.
from soundtrack_emotion.vocabulary import (  # noqa: F401
    FEATURES,
    FRAME_SECONDS,
    OFFLINE_FEATURES,
)

# MFCC settings of the thesis (section 4.1.1).
MFCC_N_MFCC = 13
MFCC_N_FFT = 2048
MFCC_HOP_LENGTH = 1024
# Mel bands under the MFCCs: librosa.feature.mfcc's default, which the thesis used.
MFCC_N_MELS = 128
# MFCC windows computed per STFT chunk (~6 min of audio): bounds memory on long tracks.
MFCC_CHUNK_WINDOWS = 8192

VGGISH_HANDLE = "https://tfhub.dev/google/vggish/1"
VGGISH_EMBEDDING_SIZE = 128
VGGISH_WINDOW_SECONDS = 0.96
# One embedding per 0.96 s window (15,360 samples at 16 kHz); each window also reads the next
# 240 samples (25 ms STFT window minus 10 ms hop), so N = (n_samples - 240) // 15360.
VGGISH_WINDOW_SAMPLES = 15360
VGGISH_CONTEXT_SAMPLES = 240
VGGISH_MIN_SECONDS = (VGGISH_WINDOW_SAMPLES + VGGISH_CONTEXT_SAMPLES) / VGGISH_SAMPLE_RATE
# Windows per VGGish call (~4 min of audio, a few hundred MB of activations).
VGGISH_BATCH_WINDOWS = 256

SHORT_TRACK_POLICIES = ("drop", "pad")


# ------------------------------------------------------------------------------------ MFCC


def mfcc(
    y: np.ndarray,
    *,
    sr: int = MFCC_SAMPLE_RATE,
    n_mfcc: int = MFCC_N_MFCC,
    n_fft: int = MFCC_N_FFT,
    hop_length: int = MFCC_HOP_LENGTH,
    drop_c0: bool = False,
    chunk_windows: int = MFCC_CHUNK_WINDOWS,
) -> np.ndarray:
    """MFCCs of a mono waveform ``y`` [n], time-major: [1 + n // hop_length, n_mfcc] float32
    ([.., n_mfcc - 1] with ``drop_c0``).

    The same numbers as ``librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft,
    hop_length=hop_length).T``; tracks longer than ``chunk_windows`` windows have their mel
    spectrogram computed chunk by chunk (the dB scaling stays global, as librosa's).
    """
    import librosa

    if n_mfcc < 2 if drop_c0 else n_mfcc < 1:
        raise ParameterError(f"n_mfcc must be >= {1 + drop_c0} (drop_c0={drop_c0}), got {n_mfcc}")
    for name, value in (("sr", sr), ("n_fft", n_fft), ("hop_length", hop_length)):
        if value < 1:
            raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    if chunk_windows < 1:
        raise ParameterError(f"chunk_windows must be >= 1, got {chunk_windows!r}")
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"y must be a mono waveform [n], got shape {y.shape}")
    mel = mel_spectrogram(
        y,
        sr=sr,
        n_fft=n_fft,
        hop_length=hop_length,
        n_mels=MFCC_N_MELS,
        chunk_frames=chunk_windows,
    )
    coefficients = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=n_mfcc)
    start = 1 if drop_c0 else 0
    return np.ascontiguousarray(coefficients[start:].T, dtype=np.float32)


# ---------------------------------------------------------------------------------- framing


def frame_length(
    feature: str,
    seconds: float,
    *,
    sr: int = MFCC_SAMPLE_RATE,
    hop_length: int = MFCC_HOP_LENGTH,
    patch_hop: float = 1.0,
) -> int:
    """Rows of one ``seconds``-long frame: for MFCC the windows librosa gives on that much
    audio (15 s -> 323, 30 s -> 646); for VGGish one embedding per second (15, 30), as the
    thesis slices them; for MusiCNN the whole patches (every ``patch_hop`` patch) in that much
    audio (15 s -> 5 patches = 14.96 s, 30 s -> 10 at the default hop)."""
    if seconds <= 0:
        raise ParameterError(f"frame seconds must be positive, got {seconds!r}")
    if feature == "mfcc":
        return 1 + round(seconds * sr) // hop_length
    if feature == "vggish":
        return int(seconds)
    if feature == "musicnn":
        rows = musicnn_patch_rows(seconds, patch_hop=patch_hop)
        if rows < 1:
            raise ParameterError(f"a {seconds!r} s frame holds no whole 2.992 s MusiCNN patch")
        return rows
    raise ParameterError(f"unknown feature {feature!r}; known: {list(FEATURES)}")


def frame_hop(length: int, *, hop: float = 1.0) -> int:
    """Rows between consecutive frame starts: ``hop`` is a fraction of the frame length
    (1.0 = non-overlapping, 0.5 = half overlap)."""
    if not 0 < hop <= 1:
        raise ParameterError(f"frame hop must be a fraction in (0, 1], got {hop!r}")
    return max(1, round(length * hop))


def count_frames(n_rows: int, *, length: int, hop: int, pad: bool = False) -> int:
    """Frames :func:`frame_features` cuts from ``n_rows`` rows (the remainder is dropped)."""
    if length < 1 or hop < 1:
        raise ParameterError(f"frame length and hop must be >= 1, got {length} and {hop}")
    if n_rows >= length:
        return 1 + (n_rows - length) // hop
    return int(pad and n_rows > 0)


def frame_features(features: np.ndarray, *, length: int, hop: int, pad: bool = False) -> np.ndarray:
    """Cut ``features`` [T, F] into frames [n, length, F] starting every ``hop`` rows.

    A track shorter than one frame gives one frame if ``pad``, else none ([0, length, F]).
    Padding repeats the track's own rows from its start (as music taggers loop short clips):
    zeros would be far from every real feature value (MFCC c0 = 0 reads as loud, a VGGish or
    MusiCNN row of zeros as nothing a network has seen), and would skew the normaliser.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2:
        raise ParameterError(f"features must be [T, F], got shape {features.shape}")
    n = count_frames(len(features), length=length, hop=hop, pad=pad)
    if len(features) < length:
        frames = np.zeros((n, length, features.shape[1]), dtype=np.float32)
        if n:
            frames[0] = features[np.arange(length) % len(features)]
        return frames
    windows = np.lib.stride_tricks.sliding_window_view(features, length, axis=0)
    return np.ascontiguousarray(windows[::hop][:n].transpose(0, 2, 1))


# ---------------------------------------------------------------------------------- VGGish


def vggish_windows(n_samples: int) -> int:
    """Embeddings VGGish gives for ``n_samples`` at 16 kHz (whole 0.96 s windows)."""
    return max(0, (n_samples - VGGISH_CONTEXT_SAMPLES) // VGGISH_WINDOW_SAMPLES)


@dataclass(frozen=True)
class VggishModel:
    """The loaded TF Hub VGGish: ``model(waveform [n] float32 @ 16 kHz) -> [N, 128]`` float32,
    computed in ``precision`` (bfloat16: oneDNN's graph rewrite around each call, see
    :mod:`soundtrack_emotion.precision`)."""

    handle: str
    module: Any = field(repr=False)
    precision: str = FLOAT32

    def __call__(self, waveform: np.ndarray) -> np.ndarray:
        with onednn_bfloat16_rewrite(self.precision):
            out = self.module(np.asarray(waveform, dtype=np.float32))
        out = np.asarray(out, dtype=np.float32)
        if out.ndim != 2 or out.shape[1] != VGGISH_EMBEDDING_SIZE:
            raise ModelUnavailableError(
                f"{self.handle} is not VGGish: it returned shape {out.shape}, expected "
                f"[N, {VGGISH_EMBEDDING_SIZE}]"
            )
        return out


def vggish_cache_dir(handle: str = VGGISH_HANDLE) -> Path:
    """Where ``tensorflow_hub`` caches (and looks for) the model of a URL ``handle``."""
    root = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "tfhub_modules")
    return Path(root) / hashlib.sha1(handle.encode("utf8")).hexdigest()


def _unavailable_message(handle: str, error: BaseException) -> str:
    where = (
        f"the local directory {handle}"
        if "://" not in handle
        else f"{handle} (TF Hub cache: {vggish_cache_dir(handle)})"
    )
    return (
        f"VGGish cannot be loaded from {where}: {type(error).__name__}: {error}\n"
        "No other model is substituted. Provide it in one of these ways:\n"
        "  1. a local SavedModel directory: set feature_extraction.vggish.handle to its path "
        "(e.g. in conf/local/parameters_feature_extraction.yml);\n"
        "  2. a pre-filled TF Hub cache: on a machine with internet run\n"
        f'     TFHUB_CACHE_DIR=/some/dir python -c "import tensorflow_hub as hub; '
        f"hub.load('{VGGISH_HANDLE}')\"\n"
        "     copy /some/dir to this machine and export TFHUB_CACHE_DIR=<that copy>;\n"
        "  3. or run without VGGish: kedro run --pipelines=offline"
    )


@functools.lru_cache(maxsize=4)
def load_vggish(handle: str = VGGISH_HANDLE, precision: str = FLOAT32) -> VggishModel:
    """Load VGGish with ``tensorflow_hub.load(handle)``, once per process and handle (both
    precisions share the loaded module).

    ``handle`` is a TF Hub URL (resolved through ``$TFHUB_CACHE_DIR``, so a pre-filled cache
    works offline) or a local SavedModel directory. The model is checked to map a waveform to
    [N, 128]; any failure raises :class:`ModelUnavailableError` saying how to provide it.
    ``precision``: ``float32`` or ``bfloat16``, as resolved by :mod:`soundtrack_emotion.precision`.
    """
    if precision not in (FLOAT32, BFLOAT16):
        raise ParameterError(f"VGGish precision must be {FLOAT32} or {BFLOAT16}, got {precision!r}")
    if precision != FLOAT32:
        return replace(load_vggish(handle, FLOAT32), precision=precision)
    if not isinstance(handle, str) or not handle.strip():
        raise ParameterError(f"VGGish handle must be a URL or a directory, got {handle!r}")
    if "://" not in handle and not Path(handle).is_dir():
        raise ModelUnavailableError(
            _unavailable_message(handle, FileNotFoundError("no such directory"))
        )
    try:
        import tensorflow_hub as hub

        model = VggishModel(handle=handle, module=hub.load(handle))
    except Exception as error:
        raise ModelUnavailableError(_unavailable_message(handle, error)) from error
    try:
        probe = model(np.zeros(VGGISH_WINDOW_SAMPLES + VGGISH_CONTEXT_SAMPLES, np.float32))
    except ModelUnavailableError:
        raise
    except Exception as error:
        raise ModelUnavailableError(
            f"{handle} is not VGGish: calling it on a 16 kHz waveform failed: {error}"
        ) from error
    if probe.shape != (1, VGGISH_EMBEDDING_SIZE):
        raise ModelUnavailableError(
            f"{handle} is not VGGish: one 0.96 s window gave shape {probe.shape}, "
            f"expected (1, {VGGISH_EMBEDDING_SIZE})"
        )
    return model


@dataclass
class _Piece:
    key: str
    first_row: int
    n_rows: int
    samples: np.ndarray


class VggishBatcher:
    """Packs the 16 kHz waveforms of many tracks into VGGish calls of at most
    ``batch_windows`` windows: batched across tracks, and bounded for long ones.

    Each track's rows are cut into pieces; a piece of k rows is laid out as its own
    ``k * 15360 + 240`` samples, zero-padded to ``(k + 1)`` whole windows, so every
    embedding sees exactly the samples it would see if the track ran alone.
    ``add`` and ``flush`` return the tracks completed so far as ``(key, [N, 128])``;
    ``seconds_spent[key]`` is the model time charged to a track (pop it once it is done).
    """

    def __init__(
        self,
        model: Callable[[np.ndarray], np.ndarray],
        *,
        batch_windows: int = VGGISH_BATCH_WINDOWS,
    ) -> None:
        if batch_windows < 2:
            raise ParameterError(f"batch_windows must be >= 2, got {batch_windows!r}")
        self.model = model
        self.batch_windows = batch_windows
        self._pieces: list[_Piece] = []
        self._used = 0
        self._rows: dict[str, list[np.ndarray]] = {}
        self._missing: dict[str, int] = {}
        self.seconds_spent: dict[str, float] = {}

    def add(self, key: str, waveform: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """Queue one track [n] float32 @ 16 kHz; raises AudioDecodeError under one window."""
        if key in self._missing:
            raise ParameterError(f"track {key!r} is already queued")
        n_rows = vggish_windows(len(waveform))
        if n_rows == 0:
            raise AudioDecodeError(
                f"{key}: {len(waveform) / VGGISH_SAMPLE_RATE:.3f} s is shorter than one VGGish "
                f"window ({VGGISH_MIN_SECONDS:.3f} s)"
            )
        self._rows[key], self._missing[key] = [], n_rows
        done: list[tuple[str, np.ndarray]] = []
        row = 0
        while row < n_rows:
            if self.batch_windows - self._used < 2:
                done += self._run()
            k = min(n_rows - row, self.batch_windows - self._used - 1)
            start = row * VGGISH_WINDOW_SAMPLES
            end = (row + k) * VGGISH_WINDOW_SAMPLES + VGGISH_CONTEXT_SAMPLES
            # A copy: a view would keep the whole track alive while its tail waits in the queue.
            self._pieces.append(_Piece(key, row, k, waveform[start:end].copy()))
            self._used += k + 1
            row += k
        if self.batch_windows - self._used < 2:
            done += self._run()
        return done

    def flush(self) -> list[tuple[str, np.ndarray]]:
        """Run whatever is queued."""
        return self._run() if self._pieces else []

    @property
    def pending(self) -> int:
        return len(self._missing)

    def _run(self) -> list[tuple[str, np.ndarray]]:
        buffer = np.zeros(self._used * VGGISH_WINDOW_SAMPLES, dtype=np.float32)
        offsets = []
        window = 0
        for piece in self._pieces:
            start = window * VGGISH_WINDOW_SAMPLES
            buffer[start : start + len(piece.samples)] = piece.samples
            offsets.append(window)
            window += piece.n_rows + 1
        # The last piece's padding window is never needed: stop right after its context.
        last = self._pieces[-1]
        buffer = buffer[: offsets[-1] * VGGISH_WINDOW_SAMPLES + len(last.samples)]
        tic = time.perf_counter()
        embeddings = self.model(buffer)
        spent = time.perf_counter() - tic
        needed = offsets[-1] + last.n_rows
        if len(embeddings) < needed:
            raise ModelUnavailableError(
                f"VGGish returned {len(embeddings)} rows for {needed} whole windows"
            )
        done = []
        for piece, offset in zip(self._pieces, offsets, strict=True):
            share = spent * piece.n_rows / needed
            self.seconds_spent[piece.key] = self.seconds_spent.get(piece.key, 0.0) + share
            self._rows[piece.key].append(embeddings[offset : offset + piece.n_rows])
            self._missing[piece.key] -= piece.n_rows
            if self._missing[piece.key] == 0:
                del self._missing[piece.key]
                done.append((piece.key, np.concatenate(self._rows.pop(piece.key))))
        self._pieces, self._used = [], 0
        return done


def vggish_embeddings(
    y: np.ndarray,
    *,
    model: Callable[[np.ndarray], np.ndarray],
    batch_windows: int = VGGISH_BATCH_WINDOWS,
) -> np.ndarray:
    """VGGish embeddings of one track ``y`` [n] float32 @ 16 kHz -> [N, 128] float32, fed to
    the model in bounded chunks of ``batch_windows`` windows."""
    batcher = VggishBatcher(model, batch_windows=batch_windows)
    done = batcher.add("track", np.asarray(y, dtype=np.float32)) + batcher.flush()
    return done[0][1]
