"""VGGish (thesis section 4.1.2): the pretrained TF Hub model, 16 kHz mono waveform in,
``[N, 128]`` out, one row per 0.96 s. Long tracks and many tracks are packed into bounded
batches (:class:`VggishBatcher`), so memory does not grow with track length. It computes in
float32 or bfloat16 (:mod:`soundtrack_emotion.core.precision`); the embeddings are float32.

A TF Hub URL is downloaded once into the project's cache (:func:`vggish_cache_dir`, beside the
MusiCNN weights: ``$SOUNDTRACK_EMOTION_CACHE/tfhub/<sha1(url)>``, never a shared temporary
folder), and the SHA-256 of its content (:func:`module_sha256`: ``saved_model.pb`` and the
variables) is recorded next to it. Every load checks that hash, against the one pinned for the
handle where one is known (:data:`KNOWN_MODULE_SHA256`, or ``feature_extraction.vggish.sha256``)
or else the one recorded at download: a folder changed since, or put there by something else,
is refused. The hash is part of the VGGish features' fingerprint.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from soundtrack_emotion.core.audio import VGGISH_SAMPLE_RATE
from soundtrack_emotion.core.embeddings.pretrained import (
    CACHE_ENV,
    FETCH_ENV,
    cache_root,
    fetch_on_first_use,
    sha256_file,
)
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
# The SHA-256 of a TF Hub module's content (module_sha256) by handle, where one is known:
# checked instead of the hash recorded at download. None is pinned yet for VGGISH_HANDLE (it
# was never downloaded where this was written); `python -m
# soundtrack_emotion.core.embeddings.vggish` prints it, feature_extraction.vggish.sha256 pins it.
KNOWN_MODULE_SHA256: dict[str, str] = {}
# The cache's subfolder for TF Hub modules, and the file recording a module's hash at download.
TFHUB_FOLDER = "tfhub"
RECORD_SUFFIX = ".sha256.json"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


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
    sha256: str = ""  # module_sha256 of the folder it was loaded from

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
    """Where the module of a URL ``handle`` is cached: ``<project cache>/tfhub/<sha1(url)>``
    (TF Hub's own layout, inside the project's cache, see ``pretrained.cache_root``)."""
    return cache_root() / TFHUB_FOLDER / hashlib.sha1(handle.encode("utf8")).hexdigest()


def _record_path(directory: Path) -> Path:
    return directory.parent / f"{directory.name}{RECORD_SUFFIX}"


def _module_files(directory: Path) -> list[Path]:
    graph = [directory / name for name in SAVED_MODEL_FILES if (directory / name).is_file()]
    if not graph:
        raise ModelUnavailableError(f"{directory} holds no SavedModel (no saved_model.pb)")
    variables = directory / "variables"
    return graph + sorted(p for p in variables.rglob("*") if p.is_file())


def module_sha256(directory: str | os.PathLike[str]) -> str:
    """SHA-256 of a SavedModel folder's content: its graph (``saved_model.pb``) and every file
    under ``variables/``, each with its path relative to the folder. Computed once per process
    while the files' sizes and times are unchanged."""
    directory = Path(directory)
    files = _module_files(directory)
    stamp = tuple((str(p.relative_to(directory)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in files)  # fmt: skip
    return _module_sha256(str(directory), stamp)


@functools.lru_cache(maxsize=16)
def _module_sha256(directory: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for relative, _, _ in stamp:
        digest.update(f"{relative}\0{sha256_file(Path(directory) / relative)}\n".encode())
    return digest.hexdigest()


def _check_owned(*paths: Path) -> None:
    """Refuse a cache that another user owns or that everyone may write to."""
    for path in paths:
        info = path.stat()
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise ModelUnavailableError(
                f"the VGGish cache {path} belongs to another user (uid {info.st_uid}): anyone "
                "who can write there chooses the model. It is not used; point "
                f"${CACHE_ENV} at a folder of your own"
            )
        if info.st_mode & 0o002:
            raise ModelUnavailableError(
                f"the VGGish cache {path} may be written by every user (mode "
                f"{info.st_mode & 0o777:o}): anyone could plant a model there. It is not used; "
                f"chmod o-w {path}, or point ${CACHE_ENV} at a private folder"
            )


@contextmanager
def _tfhub_cache(root: Path) -> Iterator[None]:
    """TF Hub's cache set to ``root`` while a module is downloaded."""
    previous = os.environ.get("TFHUB_CACHE_DIR")
    os.environ["TFHUB_CACHE_DIR"] = str(root)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TFHUB_CACHE_DIR", None)
        else:
            os.environ["TFHUB_CACHE_DIR"] = previous


def _download(handle: str, directory: Path) -> None:
    """Download ``handle`` into ``directory`` with TF Hub and record its content's hash."""
    import tensorflow_hub as hub

    directory.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        with _tfhub_cache(directory.parent):
            fetched = Path(hub.resolve(handle))
    except Exception as error:
        raise ModelUnavailableError(_unavailable_message(handle, error)) from error
    if fetched.resolve() != directory.resolve():
        shutil.move(str(fetched), directory)
    record = {"handle": handle, "sha256": module_sha256(directory)}
    scratch = _record_path(directory).with_suffix(".tmp")
    scratch.write_text(json.dumps(record, indent=2))
    os.replace(scratch, _record_path(directory))


def _recorded_sha256(directory: Path) -> str | None:
    record = _record_path(directory)
    if not record.is_file():
        return None
    _check_owned(record)
    try:
        return str(json.loads(record.read_text())["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelUnavailableError(
            f"the VGGish cache's record {record} cannot be read ({error}): delete "
            f"{directory} and {record} and run again to download it anew"
        ) from error


@functools.lru_cache(maxsize=8)
def resolve_vggish(
    handle: str = VGGISH_HANDLE, sha256: str | None = None, *, download: bool = True
) -> tuple[str, str]:
    """``(local SavedModel folder, its module_sha256)`` of ``handle``, checked.

    A URL is downloaded into :func:`vggish_cache_dir` when that folder holds no module (its
    hash then recorded beside it; not with ``$SOUNDTRACK_EMOTION_FETCH=0``, as for MusiCNN);
    the folder must be the user's own and not writable by all, and its content must have the
    pinned SHA-256 (``sha256``, else :data:`KNOWN_MODULE_SHA256`) or, where none is pinned,
    the one recorded at download. A
    local folder ``handle`` is the user's choice: only a pinned ``sha256`` is checked.
    ``download=False`` (a fingerprint: it must not fetch a model nobody runs) treats a module
    not in the cache as unavailable. Anything else raises :class:`ModelUnavailableError`
    saying what to do."""
    if not isinstance(handle, str) or not handle.strip():
        raise ParameterError(f"VGGish handle must be a URL or a directory, got {handle!r}")
    if "://" not in handle:
        directory = Path(handle)
        if not directory.is_dir():
            raise ModelUnavailableError(
                _unavailable_message(handle, FileNotFoundError("no such directory"))
            )
        digest = module_sha256(directory)
        if sha256 and digest != sha256:
            raise ModelUnavailableError(
                f"the VGGish model {directory} is not the pinned one: its content SHA-256 is "
                f"{digest}, feature_extraction.vggish.sha256 pins {sha256}. It is not used"
            )
        return str(directory), digest
    directory = vggish_cache_dir(handle)
    if not any((directory / name).is_file() for name in SAVED_MODEL_FILES):
        if not download:
            missing = FileNotFoundError("not in the cache (a run that extracts VGGish features "
                                        "downloads it)")  # fmt: skip
            raise ModelUnavailableError(_unavailable_message(handle, missing))
        if not fetch_on_first_use():
            missing = FileNotFoundError(f"not in the cache, and ${FETCH_ENV}=0 forbids a download")
            raise ModelUnavailableError(_unavailable_message(handle, missing))
        _download(handle, directory)
    _check_owned(directory.parent, directory)
    digest = module_sha256(directory)
    pinned = sha256 or KNOWN_MODULE_SHA256.get(handle)
    expected = pinned or _recorded_sha256(directory)
    if expected is None:
        raise ModelUnavailableError(
            f"the VGGish cache {directory} was not downloaded by this project (no "
            f"{_record_path(directory).name} beside it) and no SHA-256 is pinned for {handle}, "
            f"so nothing says it is VGGish: it is not used. Its content SHA-256 is {digest}. "
            "If you copied it there from a trusted source, pin that hash "
            f"(feature_extraction.vggish.sha256: {digest}); otherwise delete {directory} and "
            "run again to download it"
        )
    if digest != expected:
        said = "is pinned" if pinned else f"was recorded at download ({_record_path(directory)})"
        raise ModelUnavailableError(
            f"the VGGish cache {directory} has been modified: its content SHA-256 is {digest}, "
            f"{expected} {said}. It is not used: delete {directory} and run again to "
            "download it anew"
        )
    return str(directory), digest


def _unavailable_message(handle: str, error: BaseException) -> str:
    where = (
        f"the local directory {handle}"
        if "://" not in handle
        else f"{handle} (cache: {vggish_cache_dir(handle)})"
    )
    return (
        f"VGGish cannot be loaded from {where}: {type(error).__name__}: {error}\n"
        "No other model is substituted. Provide it in one of these ways:\n"
        "  1. a local SavedModel directory: set feature_extraction.vggish.handle to its path "
        "(e.g. in conf/local/parameters_feature_extraction.yml);\n"
        "  2. a pre-filled cache: on a machine with internet run\n"
        f"     {CACHE_ENV}=/some/dir python -m soundtrack_emotion.core.embeddings.vggish\n"
        f"     copy /some/dir/{TFHUB_FOLDER} into this machine's cache ({cache_root()}, "
        f"${CACHE_ENV}); it prints the SHA-256 to pin as feature_extraction.vggish.sha256;\n"
        "  3. or run without VGGish: kedro run --pipelines=offline"
    )


@functools.lru_cache(maxsize=4)
def load_vggish(
    handle: str = VGGISH_HANDLE, precision: str = FLOAT32, sha256: str | None = None
) -> VggishModel:
    """Load VGGish, once per process and handle (both precisions share the loaded module).

    ``handle`` is a TF Hub URL (downloaded into, or found in, the project's cache and checked,
    see :func:`resolve_vggish`) or a local SavedModel directory; ``sha256`` pins its content's
    hash. The model is checked to map a waveform to [N, 128]; any failure raises
    :class:`ModelUnavailableError` saying how to provide it. ``precision``: ``float32`` or
    ``bfloat16``, as resolved by :mod:`soundtrack_emotion.core.precision`.
    """
    if precision not in (FLOAT32, BFLOAT16):
        raise ParameterError(f"VGGish precision must be {FLOAT32} or {BFLOAT16}, got {precision!r}")
    if precision != FLOAT32:
        return replace(load_vggish(handle, FLOAT32, sha256), precision=precision)
    directory, digest = resolve_vggish(handle, sha256)
    try:
        import tensorflow_hub as hub

        model = VggishModel(handle=handle, module=hub.load(directory), sha256=digest)
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


def main() -> int:
    """Download (or find) VGGish in the project's cache, check it and print its SHA-256."""
    directory, digest = resolve_vggish(VGGISH_HANDLE)
    print(f"{VGGISH_HANDLE}\n  cached in {directory}\n  content SHA-256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
