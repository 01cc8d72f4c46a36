"""VGGish (thesis section 4.1.2): the pretrained TF Hub model, 16 kHz mono waveform in,
``[N, 128]`` out, one row per 0.96 s. Long tracks and many tracks are packed into bounded
batches (:class:`VggishBatcher`), so memory does not grow with track length. It computes in
float32 or bfloat16 (:mod:`soundtrack_emotion.core.precision`); the embeddings are float32.
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

from soundtrack_emotion.core.audio import VGGISH_SAMPLE_RATE
from soundtrack_emotion.core.precision import BFLOAT16, FLOAT32, onednn_bfloat16_rewrite
from soundtrack_emotion.exceptions import AudioDecodeError, ModelUnavailableError, ParameterError

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


# ---------------------------------------------------------------------------------- VGGish


def vggish_windows(n_samples: int) -> int:
    """Embeddings VGGish gives for ``n_samples`` at 16 kHz (whole 0.96 s windows)."""
    return max(0, (n_samples - VGGISH_CONTEXT_SAMPLES) // VGGISH_WINDOW_SAMPLES)


@dataclass(frozen=True)
class VggishModel:
    """The loaded TF Hub VGGish: ``model(waveform [n] float32 @ 16 kHz) -> [N, 128]`` float32,
    computed in ``precision`` (bfloat16: oneDNN's graph rewrite around each call, see
    :mod:`soundtrack_emotion.core.precision`)."""

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
    ``precision``: ``float32`` or ``bfloat16``, as resolved by
    :mod:`soundtrack_emotion.core.precision`.
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
