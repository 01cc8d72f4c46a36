"""Per-track extraction work and its parallel schedule (everything the nodes orchestrate).

``extract_track`` is a pure function of one :class:`TrackTask`: decode the file once to every
rate needed, compute the MFCCs and MusiCNN (each worker loads the network once), hand back
the 16 kHz waveform for VGGish. It never raises for
a bad file; the failure comes back as the result's ``error``. ``map_tracks`` fans tasks out
over a process pool with a bounded number in flight, so memory does not grow with the corpus.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from soundtrack_emotion.audio import RESAMPLE_QUALITIES, VGGISH_SAMPLE_RATE, decode
from soundtrack_emotion.exceptions import AudioDecodeError, ModelUnavailableError, ParameterError
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
    checkpoint_sha256,
    load_musicnn,
    musicnn_outputs,
)
from soundtrack_emotion.pretrained import MODELS as MUSICNN_MODELS
from soundtrack_emotion.pretrained import musicnn_checkpoint

logger = logging.getLogger(__name__)

# Bump when the computation of a family changes, so stored partitions are recomputed.
EXTRACTION_VERSION = {"mfcc": 1, "vggish": 1, "musicnn": 1}
# Tasks submitted per worker ahead of the results consumed: keeps every core busy while
# bounding the decoded audio held in memory.
TASKS_IN_FLIGHT_PER_WORKER = 2
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


@dataclass(frozen=True)
class MusicnnParams:
    """``feature_extraction.musicnn``: which weights, which embedding, how patches are cut."""

    checkpoint: str | None
    model: str
    layer: str
    patch_hop: float
    batch_patches: int

    def compute(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings [n_patches, 200], taggram [n_patches, 50]) of ``y`` at 16 kHz, with the
        network loaded once per process."""
        if multiprocessing.parent_process() is not None:
            _one_tensorflow_thread()
        out = musicnn_outputs(
            y,
            model=load_musicnn(self.checkpoint, self.model),
            patch_hop=self.patch_hop,
            batch_patches=self.batch_patches,
        )
        return out[self.layer], out["taggram"]

    def spec(self) -> dict[str, Any]:
        """What stored MusiCNN features depend on (for the fingerprint): the weights' hash,
        the front end's constants, the embedding layer and the patch hop."""
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

    @classmethod
    def from_dict(cls, params: Mapping[str, Any]) -> ExtractionParams:
        try:
            audio, mfcc_p, vggish = params["audio"], params["mfcc"], params["vggish"]
            musicnn_p = params["musicnn"]
            framing = params["framing"]
            short = framing["short_track"]
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
                vggish_handle=str(vggish["handle"]),
                vggish_batch_windows=int(vggish["batch_windows"]),
                musicnn=MusicnnParams(
                    checkpoint=None
                    if musicnn_p["checkpoint"] is None
                    else str(musicnn_p["checkpoint"]),
                    model=str(musicnn_p["model"]),
                    layer=str(musicnn_p["layer"]),
                    patch_hop=float(musicnn_p["patch_hop"]),
                    batch_patches=int(musicnn_p["batch_patches"]),
                ),
                frame_hop=float(framing["hop"]),
                short_track_policy=str(short["policy"]),
                min_seconds=float(short["min_seconds"]),
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
        )
        for ok, name, value, expected in checks:
            if not ok:
                raise ParameterError(f"feature_extraction.{name} must be {expected}, got {value!r}")

    def fingerprint(self, family: str) -> str:
        """Hash of everything the stored features of ``family`` depend on, the silence
        threshold included (a stricter one must turn stored ``ok`` records into errors)."""
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
    """Outcome of :func:`extract_track`; ``error`` is set instead of raising."""

    id: str
    families: tuple[str, ...]
    audio_seconds: float = float("nan")
    mfcc: np.ndarray | None = None
    waveform_16k: np.ndarray | None = None
    error: str | None = None
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
    try:
        audio = decode(
            task.path,
            sample_rates=rates,
            min_seconds=task.min_seconds,
            silence_db=task.silence_db,
            quality=task.resample_quality,
        )
        result.audio_seconds = audio.seconds
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
        result.error = str(error)
    except ModelUnavailableError:  # the weights, not the file: stop the run
        raise
    except Exception as error:  # one unexpected file must not end a run over thousands
        logger.exception("unexpected failure on track %s (%s)", task.id, task.path)
        result.error = f"unexpected {type(error).__name__}: {error}"
    return result


def _one_blas_thread() -> None:
    threadpool_limits(limits=1)


def crashed_track(task: TrackTask, error: BaseException) -> TrackResult:
    """The result of a track whose decoding killed its worker process (``map_tracks``)."""
    return TrackResult(
        id=task.id,
        families=task.families,
        error=f"{task.path}: decoding it crashed the worker process ({type(error).__name__}); "
        "the file is probably damaged",
    )


def map_tracks(
    func: Callable[[T], R],
    tasks: Iterable[T],
    *,
    workers: int,
    preload: Sequence[str] = WORKER_PRELOAD,
    on_crash: Callable[[T, BaseException], R] | None = None,
) -> Iterator[R]:
    """``func`` over ``tasks`` on ``workers`` processes, yielding results as they complete.

    At most ``TASKS_IN_FLIGHT_PER_WORKER * workers`` tasks are submitted ahead of the consumer,
    so a slow consumer (VGGish, the writer) holds memory flat. ``workers == 1`` runs inline.
    Workers are forked from a ``forkserver`` (safe even after TensorFlow has started threads)
    that has imported ``func``'s module and ``preload`` once; like any non-fork start method,
    this re-imports the ``__main__`` script, which must guard its entry point. Each worker
    uses one BLAS thread: the processes are the parallelism (more threads only oversubscribe
    the cores, and OpenBLAS's spinning threads cost ~30 % more CPU).

    A task that kills its worker (a native decoder crash on a damaged file) breaks the whole
    pool. With ``on_crash``, the tasks that were in flight are then re-run one at a time, each
    in a fresh process, so only the culprit's result is ``on_crash(task, error)``, and the
    remaining tasks go on in a new pool. Without it, the crash propagates.
    """
    if workers < 1:
        raise ParameterError(f"workers must be >= 1, got {workers!r}")
    tasks = iter(tasks)
    if workers == 1:
        for task in tasks:
            with threadpool_limits(limits=1):
                result = func(task)
            yield result
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([func.__module__, *preload])
    while True:
        suspects: list[T] = []
        yield from _map_in_pool(func, tasks, workers, context, suspects)
        if not suspects:
            return
        if on_crash is None:
            raise BrokenProcessPool(f"a worker died while running one of {len(suspects)} tasks")
        logger.warning("a worker process died; re-running its %d tasks one by one", len(suspects))
        for task in suspects:
            yield _run_isolated(func, task, context, on_crash)


def _pool(workers: int, context: Any) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_one_blas_thread
    )


def _map_in_pool(
    func: Callable[[T], R], tasks: Iterator[T], workers: int, context: Any, suspects: list[T]
) -> Iterator[R]:
    """Run ``tasks`` in one pool until they are done or the pool breaks; on a break, the tasks
    still in flight are appended to ``suspects`` and the rest stay in ``tasks``."""
    limit = TASKS_IN_FLIGHT_PER_WORKER * workers
    with _pool(workers, context) as pool:
        pending: dict[Future[R], T] = {}
        try:
            while True:
                for task in tasks:
                    pending[pool.submit(func, task)] = task
                    if len(pending) >= limit:
                        break
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    task = pending.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        suspects.extend([task, *pending.values()])
                        pending.clear()
                        return
                    yield result
        finally:
            for future in pending:
                future.cancel()


def _run_isolated(
    func: Callable[[T], R],
    task: T,
    context: Any,
    on_crash: Callable[[T, BaseException], R],
) -> R:
    with _pool(1, context) as pool:
        try:
            return pool.submit(func, task).result()
        except BrokenProcessPool as error:
            return on_crash(task, error)
