"""The worker pool: per-track work fanned out over processes, one task each, so memory does
not grow with the corpus; a worker that dies or overruns its :class:`TimeLimit` fails only
its track, and is replaced. :class:`FailureGuard` stops a run in which too many tracks fail
for the same reason (a setup problem, not bad files). With a Dask client the same contract
runs on a cluster (:mod:`soundtrack_emotion.runtime.distributed`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

from soundtrack_emotion.exceptions import ParameterError, SystematicFailureError

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class TimeLimit:
    """Seconds one track's work may take: ``seconds_per_audio_second`` times its duration (as
    its header announces it, see :func:`audio.estimate_seconds`), at least ``min_seconds``."""

    seconds_per_audio_second: float
    min_seconds: float

    def for_audio(self, audio_seconds: float | None) -> float:
        return max(self.min_seconds, self.seconds_per_audio_second * (audio_seconds or 0.0))


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
    (:func:`soundtrack_emotion.runtime.distributed.dask_map`, same contract; ``workers`` is then the
    cluster's). Dask has no per-task time limit: there ``time_limit`` is not enforced.
    """
    if dask_client is not None:
        from soundtrack_emotion.runtime.distributed import dask_map

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
