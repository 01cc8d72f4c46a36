"""Per-track extraction work and its parallel schedule (everything the nodes orchestrate).

``extract_track`` is a pure function of one :class:`TrackTask`: decode the file once to every
rate needed, compute the MFCCs and MusiCNN (each worker loads the network once), hand back
the 16 kHz waveform for VGGish. A failure the file causes (:class:`AudioDecodeError`) comes
back as the result's ``error``; any other exception (a missing MusiCNN checkpoint included)
is a bug or a setup problem and stops the run, naming the track. ``map_tracks`` fans tasks out
over worker processes, one task each, so memory does not grow with the corpus, a worker that
dies or overruns its :class:`TimeLimit` fails only its track, and is replaced.
:class:`FailureGuard` stops a run in which too many tracks fail for the same reason (a setup
problem, not bad files).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from soundtrack_emotion.audio import (
    RESAMPLE_QUALITIES,
    VGGISH_SAMPLE_RATE,
    decode,
    estimate_seconds,
)
from soundtrack_emotion.exceptions import (
    AudioDecodeError,
    ParameterError,
    SystematicFailureError,
)
from soundtrack_emotion.features import (
    FEATURES,
    SHORT_TRACK_POLICIES,
    mfcc,
)
from soundtrack_emotion.musicnn import (
    MUSICNN_HOP_LENGTH,
    MUSICNN_LAYERS,
    MUSICNN_LOG_SCALE,
    MUSICNN_N_FFT,
    MUSICNN_N_MELS,
    MUSICNN_PATCH_FRAMES,
    MUSICNN_SAMPLE_RATE,
    MusicnnModel,
    checkpoint_sha256,
    embedding_of,
    load_musicnn,
    musicnn_outputs,
)
from soundtrack_emotion.paths import resolve_path
from soundtrack_emotion.precision import (
    AUTO,
    BFLOAT16,
    FLOAT32,
    Choice,
    announce,
    check_precision,
    resolved,
)
from soundtrack_emotion.pretrained import MODELS as MUSICNN_MODELS
from soundtrack_emotion.pretrained import musicnn_checkpoint

logger = logging.getLogger(__name__)

# Bump when the computation of a family changes, so stored partitions are recomputed.
# 2: truthful decoding (partial files read to their real end, no seeks between blocks).
EXTRACTION_VERSION = {"mfcc": 2, "vggish": 2, "musicnn": 1}
PARAMS = "feature_extraction"
# The families computed by a network: (its name in messages, how precision converts it).
NETWORKS = {"vggish": ("VGGish", "graph"), "musicnn": ("MusiCNN", "keras")}
# Seconds a stopped worker gets to exit before it is killed.
WORKER_EXIT_SECONDS = 5.0
# Seconds a worker may take to start a task it was sent (a fresh process imports its
# modules first); a track's time limit counts from when its worker starts it.
WORKER_START_SECONDS = 120.0
# Imported once by the fork server, so every worker starts with them loaded (librosa loads
# its submodules lazily: ~1 s on a worker's first MFCC otherwise).
WORKER_PRELOAD = ("librosa.feature.spectral",)

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's total)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class MfccParams:
    sample_rate: int
    n_mfcc: int
    n_fft: int
    hop_length: int
    drop_c0: bool

    def compute(self, y: np.ndarray) -> np.ndarray:
        """MFCCs [windows, n_mfcc] (one fewer with ``drop_c0``) of ``y`` at ``sample_rate``."""
        return mfcc(
            y,
            sr=self.sample_rate,
            n_mfcc=self.n_mfcc,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            drop_c0=self.drop_c0,
        )


def _vggish_handle(handle: str) -> str:
    """A URL as it is; a local model directory resolved against the project root."""
    return handle if "://" in handle else str(resolve_path(handle))


@dataclass(frozen=True)
class TimeLimit:
    """Seconds one track's work may take: ``seconds_per_audio_second`` times its duration (as
    its header announces it, see :func:`audio.estimate_seconds`), at least ``min_seconds``."""

    seconds_per_audio_second: float
    min_seconds: float

    def for_audio(self, audio_seconds: float | None) -> float:
        return max(self.min_seconds, self.seconds_per_audio_second * (audio_seconds or 0.0))


@dataclass(frozen=True)
class MusicnnParams:
    """``feature_extraction.musicnn``: which weights, which embedding, how patches are cut."""

    checkpoint: str | None
    model: str
    layer: str
    patch_hop: float
    batch_patches: int
    # Resolved (float32 or bfloat16) in the parent process: every worker computes in it.
    precision: str = FLOAT32

    def compute(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings [n_patches, 200], taggram [n_patches, 50]) float32 of ``y`` at 16 kHz,
        with the network loaded once per process."""
        if multiprocessing.parent_process() is not None:
            _one_tensorflow_thread()
        out = musicnn_outputs(
            y,
            model=self.load(),
            patch_hop=self.patch_hop,
            batch_patches=self.batch_patches,
        )
        return embedding_of(out, self.layer), out["taggram"]

    def load(self) -> MusicnnModel:
        """The network, loaded once per process, computing in ``precision``."""
        return load_musicnn(self.checkpoint, self.model, self.precision)

    def spec(self) -> dict[str, Any]:
        """What stored MusiCNN features depend on (for the fingerprint): the weights' hash,
        the front end's constants, the embedding layer and the patch hop (the precision is
        added by :meth:`ExtractionParams.fingerprint`)."""
        return {
            "checkpoint_sha256": checkpoint_sha256(
                musicnn_checkpoint(self.checkpoint, model=self.model)
            ),
            "model": self.model,
            "layer": self.layer,
            "patch_hop": self.patch_hop,
            "sample_rate": MUSICNN_SAMPLE_RATE,
            "n_fft": MUSICNN_N_FFT,
            "hop_length": MUSICNN_HOP_LENGTH,
            "n_mels": MUSICNN_N_MELS,
            "log_scale": MUSICNN_LOG_SCALE,
            "log_dtype": "float32",
            "patch_frames": MUSICNN_PATCH_FRAMES,
        }


def _one_tensorflow_thread() -> None:
    """In a worker process: one TensorFlow thread, like its one BLAS thread (the processes are
    the parallelism). Only possible before TensorFlow starts; a no-op afterwards."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass


@dataclass(frozen=True)
class ExtractionParams:
    """``params:feature_extraction``, validated (see parameters_feature_extraction.yml)."""

    workers: int
    resample_quality: str
    silence_db: float
    mfcc: MfccParams
    vggish_handle: str
    vggish_batch_windows: int
    musicnn: MusicnnParams
    frame_hop: float
    short_track_policy: str
    min_seconds: float
    time_limit: TimeLimit
    max_same_failure_share: float
    failure_min_tracks: int
    # The ``precision`` setting, resolved per network by precision_of (VGGish's only once it
    # is used), unless ``pinned`` ((family, precision) pairs) fixes it.
    precision: str = AUTO
    pinned: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_dict(
        cls, params: Mapping[str, Any], *, pinned: Mapping[str, str] | None = None
    ) -> ExtractionParams:
        """Validated parameters. ``pinned``: ``{family: float32 | bfloat16}`` resolved by
        another process (:meth:`precision_of`), used instead of resolving ``precision`` here,
        so that a remote worker computes what the fingerprint says."""
        pinned = dict(pinned or {})
        try:
            setting = check_precision(params["precision"], name=f"{PARAMS}.precision")
            audio, mfcc_p, vggish = params["audio"], params["mfcc"], params["vggish"]
            musicnn_p = params["musicnn"]
            framing = params["framing"]
            short = framing["short_track"]
            limit, failures = params["time_limit"], params["failures"]
            workers = params.get("workers") or available_cores()
            result = cls(
                workers=int(workers),
                resample_quality=str(audio["resample_quality"]),
                silence_db=float(audio["silence_db"]),
                mfcc=MfccParams(
                    sample_rate=int(mfcc_p["sample_rate"]),
                    n_mfcc=int(mfcc_p["n_mfcc"]),
                    n_fft=int(mfcc_p["n_fft"]),
                    hop_length=int(mfcc_p["hop_length"]),
                    drop_c0=bool(mfcc_p["drop_c0"]),
                ),
                vggish_handle=_vggish_handle(str(vggish["handle"])),
                vggish_batch_windows=int(vggish["batch_windows"]),
                musicnn=MusicnnParams(
                    checkpoint=None
                    if musicnn_p["checkpoint"] is None
                    else str(musicnn_p["checkpoint"]),
                    model=str(musicnn_p["model"]),
                    layer=str(musicnn_p["layer"]),
                    patch_hop=float(musicnn_p["patch_hop"]),
                    batch_patches=int(musicnn_p["batch_patches"]),
                    precision=pinned.get("musicnn")
                    or resolved(setting, name=f"{PARAMS}.precision", engine="keras").precision,
                ),
                frame_hop=float(framing["hop"]),
                short_track_policy=str(short["policy"]),
                min_seconds=float(short["min_seconds"]),
                time_limit=TimeLimit(
                    seconds_per_audio_second=float(limit["seconds_per_audio_second"]),
                    min_seconds=float(limit["min_seconds"]),
                ),
                max_same_failure_share=float(failures["max_same_reason_share"]),
                failure_min_tracks=int(failures["min_tracks"]),
                precision=setting,
                pinned=tuple(sorted(pinned.items())),
            )
        except KeyError as missing:
            raise ParameterError(f"feature_extraction parameter {missing} is missing") from None
        result._validate()
        return result

    def _validate(self) -> None:
        checks = (
            (self.workers >= 1, "workers", self.workers, ">= 1 (or null for all cores)"),
            (
                self.resample_quality in RESAMPLE_QUALITIES,
                "audio.resample_quality",
                self.resample_quality,
                f"one of {RESAMPLE_QUALITIES}",
            ),
            (self.silence_db < 0, "audio.silence_db", self.silence_db, "negative (dBFS)"),
            (self.mfcc.sample_rate > 0, "mfcc.sample_rate", self.mfcc.sample_rate, "> 0"),
            (self.mfcc.n_mfcc >= 1 + self.mfcc.drop_c0, "mfcc.n_mfcc", self.mfcc.n_mfcc, ">= 2"),
            (self.mfcc.n_fft > 0, "mfcc.n_fft", self.mfcc.n_fft, "> 0"),
            (self.mfcc.hop_length > 0, "mfcc.hop_length", self.mfcc.hop_length, "> 0"),
            (
                self.vggish_batch_windows >= 2,
                "vggish.batch_windows",
                self.vggish_batch_windows,
                ">= 2",
            ),
            (
                self.musicnn.model in MUSICNN_MODELS,
                "musicnn.model",
                self.musicnn.model,
                f"one of {MUSICNN_MODELS}",
            ),
            (
                self.musicnn.layer in MUSICNN_LAYERS,
                "musicnn.layer",
                self.musicnn.layer,
                f"one of {MUSICNN_LAYERS}",
            ),
            (
                0 < self.musicnn.patch_hop <= 1,
                "musicnn.patch_hop",
                self.musicnn.patch_hop,
                "in (0, 1]",
            ),
            (
                self.musicnn.batch_patches >= 1,
                "musicnn.batch_patches",
                self.musicnn.batch_patches,
                ">= 1",
            ),
            (0 < self.frame_hop <= 1, "framing.hop", self.frame_hop, "in (0, 1]"),
            (
                self.short_track_policy in SHORT_TRACK_POLICIES,
                "framing.short_track.policy",
                self.short_track_policy,
                f"one of {SHORT_TRACK_POLICIES}",
            ),
            (self.min_seconds >= 0, "framing.short_track.min_seconds", self.min_seconds, ">= 0"),
            (
                self.time_limit.seconds_per_audio_second > 0,
                "time_limit.seconds_per_audio_second",
                self.time_limit.seconds_per_audio_second,
                "> 0",
            ),
            (
                self.time_limit.min_seconds > 0,
                "time_limit.min_seconds",
                self.time_limit.min_seconds,
                "> 0",
            ),
            (
                0 < self.max_same_failure_share <= 1,
                "failures.max_same_reason_share",
                self.max_same_failure_share,
                "in (0, 1]",
            ),
            (self.failure_min_tracks >= 1, "failures.min_tracks", self.failure_min_tracks, ">= 1"),
        )
        for ok, name, value, expected in checks:
            if not ok:
                raise ParameterError(f"feature_extraction.{name} must be {expected}, got {value!r}")
        for family, precision in self.pinned:
            if family not in NETWORKS or precision not in (FLOAT32, BFLOAT16):
                raise ParameterError(f"cannot pin {family!r} to precision {precision!r}")

    def precision_of(self, family: str) -> str:
        """The precision ``family``'s network computes in here (``float32`` or ``bfloat16``;
        MFCC is NumPy: always float32), logged once per process with the reason. Raises
        :class:`ParameterError` for a ``bfloat16`` VGGish that this process cannot run."""
        if family == "mfcc":
            return FLOAT32
        if family not in NETWORKS:
            raise ParameterError(f"unknown feature {family!r}; known: {list(FEATURES)}")
        network, engine = NETWORKS[family]
        pinned = dict(self.pinned).get(family)
        name = f"{PARAMS}.precision"
        choice = (
            Choice(pinned, "as resolved by the process that planned the run")
            if pinned
            else resolved(self.precision, name=name, engine=engine)
        )
        announce(name, self.precision, network, choice)
        return choice.precision

    def fingerprint(self, family: str, *, with_precision: bool = True) -> str:
        """Hash of everything the stored features of ``family`` depend on, the silence
        threshold and the network's precision included (a stricter threshold must turn stored
        ``ok`` records into errors; bfloat16 features are never mixed with float32 ones).

        ``with_precision=False``: the same without the precision (nothing is resolved), the
        identity of the features a model is trained on: a model trained on float32 features
        stays current for bfloat16 ones, which approximate them (see docs), and vice versa."""
        if family == "mfcc":
            spec: dict[str, Any] = {**asdict(self.mfcc)}
        elif family == "vggish":
            spec = {"handle": self.vggish_handle, "sample_rate": VGGISH_SAMPLE_RATE}
        elif family == "musicnn":
            spec = self.musicnn.spec()
        else:
            raise ParameterError(f"unknown feature {family!r}; known: {list(FEATURES)}")
        spec |= {
            "family": family,
            "version": EXTRACTION_VERSION[family],
            "resample_quality": self.resample_quality,
            "silence_db": self.silence_db,
        }
        # Only a non-default precision enters the hash: float32 features stored before the
        # setting existed keep their fingerprint.
        if with_precision and (precision := self.precision_of(family)) != FLOAT32:
            spec["precision"] = precision
        blob = json.dumps(spec, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class TrackTask:
    """What to compute for one track: the families whose stored features are stale."""

    id: str
    path: str
    families: tuple[str, ...]
    mfcc: MfccParams
    resample_quality: str
    silence_db: float
    min_seconds: float
    musicnn: MusicnnParams | None = None


@dataclass
class TrackResult:
    """Outcome of :func:`extract_track`: for a file that cannot be used, ``error`` (the
    message) and ``reason`` (its code) are set instead of raising; ``warnings`` are what the
    decoder reported about a usable file (truncation, replaced samples)."""

    id: str
    families: tuple[str, ...]
    audio_seconds: float = float("nan")
    mfcc: np.ndarray | None = None
    waveform_16k: np.ndarray | None = None
    error: str | None = None
    reason: str = ""
    warnings: tuple[str, ...] = ()
    decode_seconds: float = 0.0
    mfcc_seconds: float = 0.0
    musicnn: np.ndarray | None = None
    musicnn_taggram: np.ndarray | None = None
    musicnn_seconds: float = 0.0
    # A MusiCNN-only failure (a track shorter than one 3 s patch): the other families go on.
    musicnn_error: str | None = None


def extract_track(task: TrackTask) -> TrackResult:
    """Decode ``task.path`` once and compute what ``task.families`` need.

    ``mfcc`` [n_windows, n_mfcc(-1)] float32; ``waveform_16k`` [n] float32 for VGGish;
    ``musicnn`` [n_patches, 200] and ``musicnn_taggram`` [n_patches, 50] float32.
    """
    result = TrackResult(id=task.id, families=task.families)
    rates = []
    if "mfcc" in task.families:
        rates.append(task.mfcc.sample_rate)
    if "vggish" in task.families:
        rates.append(VGGISH_SAMPLE_RATE)
    if "musicnn" in task.families:
        rates.append(MUSICNN_SAMPLE_RATE)
    start = time.perf_counter()
    announce_audio_seconds(estimate_seconds(task.path))
    try:
        audio = decode(
            task.path,
            sample_rates=rates,
            min_seconds=task.min_seconds,
            silence_db=task.silence_db,
            quality=task.resample_quality,
        )
        result.audio_seconds = audio.seconds
        result.warnings = audio.warnings
        result.decode_seconds = time.perf_counter() - start
        if "mfcc" in task.families:
            start = time.perf_counter()
            result.mfcc = task.mfcc.compute(audio[task.mfcc.sample_rate])
            result.mfcc_seconds = time.perf_counter() - start
        if "musicnn" in task.families:
            start = time.perf_counter()
            try:
                result.musicnn, result.musicnn_taggram = task.musicnn.compute(
                    audio[MUSICNN_SAMPLE_RATE]
                )
            except AudioDecodeError as error:
                result.musicnn_error = f"{task.path}: {error}"
            result.musicnn_seconds = time.perf_counter() - start
        if "vggish" in task.families:
            result.waveform_16k = audio[VGGISH_SAMPLE_RATE]
    except AudioDecodeError as error:
        result.error, result.reason = str(error), error.reason
    return result


def crashed_track(task: TrackTask, error: BaseException) -> TrackResult:
    """The result of a track whose decoding killed its worker process (``map_tracks``)."""
    return TrackResult(
        id=task.id,
        families=task.families,
        error=f"{task.path}: decoding it crashed the worker process ({error}); "
        "the file is probably damaged",
        reason="crash",
    )


def timed_out_track(task: TrackTask, limit_s: float) -> TrackResult:
    """The result of a track whose work overran its time limit (``map_tracks``)."""
    return TrackResult(
        id=task.id,
        families=task.families,
        error=f"{task.path}: timed out after {limit_s:.0f} s (time_limit: the decoder hung or "
        "the file is far longer than its header says)",
        reason="timeout",
    )


@dataclass
class FailureGuard:
    """Stops a run once more than ``max_share`` of the tracks done (at least ``min_tracks``
    of them) have failed for one and the same reason code: that many alike point to the
    setup (the audio folder moved, ffmpeg missing) rather than to bad files."""

    max_share: float
    min_tracks: int
    what: str = "feature_extraction"
    n_done: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, reason: str, error: str | None) -> None:
        """Count one finished track (``error`` None: it succeeded); raise when too many alike."""
        self.n_done += 1
        if error is not None:
            self.counts[reason] += 1
            self.examples.setdefault(reason, error)
        if self.n_done < self.min_tracks or not self.counts:
            return
        reason, count = self.counts.most_common(1)[0]
        if count > self.max_share * self.n_done:
            raise SystematicFailureError(
                f"{self.what} stopped: {count} of the {self.n_done} tracks done so far failed "
                f"for the same reason ({reason}), e.g. {self.examples[reason]}. That many alike "
                "points to the setup (a wrong audio folder or working directory, a missing "
                f"decoder) rather than to bad files; the limit is "
                f"failures.max_same_reason_share={self.max_share:g}."
            )


class TrackTimeout(BaseException):
    """Raised into inline work when its time limit passes. A BaseException, so that no
    library's ``except Exception`` swallows it."""


# How the running task's audio duration reaches whoever enforces its time limit: set in a
# worker process (a message to the parent) or around inline work (the alarm is moved).
_announcers: list[Callable[[float | None], None]] = []


def announce_audio_seconds(seconds: float | None) -> None:
    """Report how long the current track is, so its time limit scales with it (a no-op
    outside ``map_tracks``)."""
    if _announcers:
        _announcers[-1](seconds)


@dataclass
class InlineClock:
    """The time limit of the work inside :func:`time_limited`, as the work announced it."""

    limit_s: float = float("inf")


@contextmanager
def time_limited(limit: TimeLimit | None) -> Iterator[InlineClock]:
    """Run the enclosed work in this process under ``limit``: :class:`TrackTimeout` is raised
    into it when it overruns (SIGALRM: interrupts Python code and blocking calls such as a
    stalled ffmpeg pipe, not a native decoder spinning in C; workers >= 2 handle that by
    killing the process). Without a limit, or off the main thread, it runs unlimited."""
    clock = InlineClock()
    if limit is None or threading.current_thread() is not threading.main_thread():
        yield clock
        return
    started = time.monotonic()

    def overrun(signum: int, frame: Any) -> None:
        raise TrackTimeout

    def rescale(seconds: float | None) -> None:
        clock.limit_s = limit.for_audio(seconds)
        remaining = clock.limit_s - (time.monotonic() - started)
        signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-3))

    previous = signal.signal(signal.SIGALRM, overrun)
    _announcers.append(rescale)
    try:
        clock.limit_s = limit.min_seconds
        signal.setitimer(signal.ITIMER_REAL, limit.min_seconds)
        yield clock
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        _announcers.remove(rescale)


def _note_track(error: BaseException, task: Any) -> BaseException:
    """``error`` (a bug: not a failure the file causes) with a note naming the task."""
    path = getattr(task, "path", None)
    name = getattr(task, "id", task)
    error.add_note(f"raised while processing track {name}" + (f" ({path})" if path else ""))
    return error


def map_tracks(
    func: Callable[[T], R],
    tasks: Iterable[T],
    *,
    workers: int,
    time_limit: TimeLimit | None = None,
    preload: Sequence[str] = WORKER_PRELOAD,
    on_crash: Callable[[T, BaseException], R] | None = None,
    on_timeout: Callable[[T, float], R] | None = None,
    dask_client: Any = None,
) -> Iterator[R]:
    """``func`` over ``tasks`` on ``workers`` processes, yielding results as they complete.

    Each worker holds one task at a time, so memory stays flat however slow the consumer;
    ``workers == 1`` runs inline. Workers are forked from a ``forkserver`` (safe even after
    TensorFlow has started threads) that has imported ``func``'s module and ``preload`` once;
    like any non-fork start method, this re-imports the ``__main__`` script, which must guard
    its entry point. Each worker uses one BLAS thread: the processes are the parallelism.

    An exception out of ``func`` is a bug: it is raised here at once, noting the task, with
    the worker's traceback as its cause. A task that kills its worker (a native decoder crash)
    gives ``on_crash(task, error)``; one that overruns ``time_limit`` (``func`` reports the
    track's duration through :func:`announce_audio_seconds`) gives ``on_timeout(task,
    limit_s)``; either way the worker is replaced and the run goes on. Without the callback,
    the crash (``BrokenProcessPool``) or :class:`TrackTimeout` propagates.

    ``dask_client`` (a ``distributed.Client``): the tasks run on its cluster instead
    (:func:`soundtrack_emotion.distributed.dask_map`, same contract; ``workers`` is then the
    cluster's). Dask has no per-task time limit: there ``time_limit`` is not enforced.
    """
    if dask_client is not None:
        from soundtrack_emotion.distributed import dask_map

        yield from dask_map(func, tasks, client=dask_client, on_crash=on_crash)
        return
    if workers < 1:
        raise ParameterError(f"workers must be >= 1, got {workers!r}")
    if workers == 1:
        yield from _map_inline(func, tasks, time_limit, on_timeout)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([func.__module__, *preload])
    pool = _WorkerPool(func, workers, context, time_limit)
    try:
        yield from pool.run(iter(tasks), on_crash, on_timeout)
    finally:
        pool.close()


def _map_inline(
    func: Callable[[T], R],
    tasks: Iterable[T],
    time_limit: TimeLimit | None,
    on_timeout: Callable[[T, float], R] | None,
) -> Iterator[R]:
    for task in tasks:
        try:
            with threadpool_limits(limits=1), time_limited(time_limit) as clock:
                result = func(task)
        except TrackTimeout:
            if on_timeout is None:
                raise
            result = on_timeout(task, clock.limit_s)
        except Exception as error:
            _note_track(error, task)
            raise
        yield result


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process, as its cause."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def _worker_main(conn: Connection, func: Callable[[Any], Any]) -> None:
    """A worker: run the tasks the parent sends, one at a time, until it sends None."""
    os.setpgrp()  # its own process group: killing it also kills the ffmpeg it started
    threadpool_limits(limits=1)
    _announcers.append(lambda seconds: conn.send(("seconds", seconds)))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(("started", None))
        try:
            result = func(task)
        except BaseException as error:
            text = traceback.format_exc()
            try:
                payload = pickle.dumps(error)
            except Exception:
                payload = pickle.dumps(RuntimeError(f"{type(error).__name__}: {error}"))
            conn.send(("raised", payload, text))
            return
        conn.send(("done", result))


@dataclass
class _Worker:
    process: Any
    conn: Connection
    task: Any = None
    busy: bool = False
    started: float = 0.0
    deadline: float = float("inf")


class _WorkerPool:
    """Worker processes with one task each: the parent knows which task every worker runs,
    so a crash or an overrun is charged to that task alone and the worker replaced."""

    def __init__(
        self, func: Callable[[Any], Any], size: int, context: Any, limit: TimeLimit | None
    ) -> None:
        self.func, self.context, self.limit = func, context, limit
        self.workers = [self._start() for _ in range(size)]

    def _start(self) -> _Worker:
        parent, child = self.context.Pipe(duplex=True)
        process = self.context.Process(target=_worker_main, args=(child, self.func), daemon=True)
        process.start()
        child.close()
        return _Worker(process=process, conn=parent)

    def _assign(self, worker: _Worker, task: Any) -> None:
        worker.task, worker.busy = task, True
        worker.started = time.monotonic()
        worker.deadline = worker.started + (WORKER_START_SECONDS if self.limit else float("inf"))
        worker.conn.send(task)

    def _replace(self, worker: _Worker) -> _Worker:
        self._kill(worker)
        fresh = self._start()
        self.workers[self.workers.index(worker)] = fresh
        return fresh

    @staticmethod
    def _kill(worker: _Worker) -> None:
        if worker.process.is_alive():
            try:
                os.killpg(worker.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                worker.process.kill()
        worker.process.join()
        worker.conn.close()

    def run(
        self,
        tasks: Iterator[Any],
        on_crash: Callable[[Any, BaseException], Any] | None,
        on_timeout: Callable[[Any, float], Any] | None,
    ) -> Iterator[Any]:
        for worker in self.workers:
            task = next(tasks, None)
            if task is None:
                break
            self._assign(worker, task)
        while busy := [w for w in self.workers if w.busy]:
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            waitables = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            ready = set(wait_for(waitables, timeout=min(timeout, 3600.0)))
            for worker in busy:
                finished = self._outcome(worker, ready, on_crash, on_timeout)
                if finished is None:
                    continue
                slot, result = finished
                # The worker (or its replacement) gets its next task before the result is
                # yielded, so it works while the consumer does.
                task = next(tasks, None)
                if task is not None:
                    self._assign(slot, task)
                yield result

    def _outcome(
        self,
        worker: _Worker,
        ready: set[Any],
        on_crash: Callable[[Any, BaseException], Any] | None,
        on_timeout: Callable[[Any, float], Any] | None,
    ) -> tuple[_Worker, Any] | None:
        """``(the slot's worker, the result)`` once ``worker``'s task has one (its crash or
        time-out result included; the worker is then replaced), else None."""
        while worker.conn in ready or worker.conn.poll():
            ready.discard(worker.conn)
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "started":
                worker.started = time.monotonic()
                if self.limit is not None:
                    worker.deadline = worker.started + self.limit.min_seconds
                continue
            if message[0] == "seconds":
                if self.limit is not None:
                    worker.deadline = worker.started + self.limit.for_audio(message[1])
                continue
            if message[0] == "done":
                worker.busy, worker.task = False, None
                return worker, message[1]
            error = pickle.loads(message[1])
            error.__cause__ = _RemoteTraceback(message[2])
            raise _note_track(error, worker.task)
        task = worker.task
        if not worker.process.is_alive():
            error = BrokenProcessPool(
                f"the worker process died, exit code {worker.process.exitcode}"
            )
            if on_crash is None:
                raise error
            logger.warning("a worker process died; its track is recorded as failed")
            return self._replace(worker), on_crash(task, error)
        if time.monotonic() >= worker.deadline:
            limit_s = worker.deadline - worker.started
            fresh = self._replace(worker)
            if on_timeout is None:
                raise TrackTimeout(f"{task} overran its {limit_s:.0f} s time limit")
            logger.warning(
                "a track overran its %.0f s time limit; its worker was replaced", limit_s
            )
            return fresh, on_timeout(task, limit_s)
        return None

    def close(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive() and not worker.busy:
                with suppress(OSError):
                    worker.conn.send(None)
        deadline = time.monotonic() + WORKER_EXIT_SECONDS
        for worker in self.workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            self._kill(worker)
