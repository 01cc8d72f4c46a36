"""The worker pool: per-track work fanned out over processes, one task each, so memory does
not grow with the corpus; a worker that dies (a native crash, the OOM killer), overruns its
:class:`TimeLimit` or grows past its memory limit (resident memory, watched by the parent,
which kills it) fails only its track, and is replaced. :class:`Attempts` leaves a marker file
per track while it runs, so a track that took the whole run down with it (the parent killed
too, or an inline worker) is reported and skipped by the next run instead of killing it again.
:class:`FailureGuard` stops a run in which too many tracks fail for the same reason (a setup
problem, not bad files). With a Dask client the same contract runs on a cluster
(:mod:`soundtrack_emotion.runtime.distributed`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import pickle
import re
import signal
import tempfile
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
from pathlib import Path
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
# Seconds between two looks at the busy workers' resident memory (with a memory limit).
MEMORY_POLL_SECONDS = 0.2
# Lowest per-worker memory limit accepted: a worker's interpreter and libraries alone take
# about this much.
MIN_MEMORY_LIMIT_MB = 256
# Parameter names in messages (the settings live in feature_extraction).
MEMORY_LIMIT_SETTING = "feature_extraction.memory_limit_mb"
RETRY_SETTING = "feature_extraction.retry_attempted"
# Runs killed with a track in flight after which the next runs no longer try it.
MAX_KILLED_RUNS = 2

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


MARKER_SUFFIX = ".attempted"
# Characters of a task's key kept in its marker's name (the rest is a hash of the key).
MARKER_STEM_CHARS = 48


def marker_name(key: str) -> str:
    """A file-name-safe name for ``key``: its readable part and a hash of the whole."""
    stem = re.sub(r"[^\w.\-]+", "_", key).strip("._")[:MARKER_STEM_CHARS] or "task"
    return f"{stem}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


class WorkerLost(BrokenProcessPool):
    """A track's worker is gone: it died (``reason`` "crash": a native crash, a signal), was
    killed over its memory limit ("memory"), or the track killed its worker in an earlier run
    and was not tried again ("attempted")."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_memory_limit(memory_limit_mb: float | None) -> float | None:
    """``memory_limit_mb`` validated: None (no limit) or at least ``MIN_MEMORY_LIMIT_MB``."""
    if memory_limit_mb is None:
        return None
    if (
        isinstance(memory_limit_mb, bool)
        or not isinstance(memory_limit_mb, int | float)
        or not memory_limit_mb >= MIN_MEMORY_LIMIT_MB
    ):
        raise ParameterError(
            f"{MEMORY_LIMIT_SETTING} must be null or a number of MB >= {MIN_MEMORY_LIMIT_MB}, "
            f"got {memory_limit_mb!r}"
        )
    return float(memory_limit_mb)


@dataclass
class Attempts:
    """One marker file per track in ``folder`` while the track is worked on: written
    (atomically) before its work starts, removed once its result has been handed on. Two
    kinds outlive their run:

    * a track that killed its worker (it died, or went over its memory limit; the parent saw
      it and recorded the track) keeps its marker marked ``lost``: the next runs do not try it;
    * a track being worked on when the run itself was killed (the OOM killer, a crash with
      ``workers: 1``, a ``kill -9``) keeps a marker counting such runs: as the kill may have
      had nothing to do with it, the next run tries it once more, and it is not tried again
      once ``MAX_KILLED_RUNS`` runs died with it in flight.

    ``map_tracks`` gives a track not tried to ``on_crash`` with a :class:`WorkerLost` of
    reason "attempted"; ``retry`` (``feature_extraction.retry_attempted``), or deleting the
    marker, tries it again. ``key(task)`` names a task's marker."""

    folder: Path
    key: Callable[[Any], str]
    retry: bool = False
    # The markers this process wrote and has not removed yet.
    open: set[Path] = field(default_factory=set)

    def marker(self, task: Any) -> Path:
        return Path(self.folder) / f"{marker_name(str(self.key(task)))}{MARKER_SUFFIX}"

    def _read(self, marker: Path) -> dict[str, Any]:
        try:
            state = json.loads(marker.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {"killed_runs": MAX_KILLED_RUNS}  # unreadable: a marker all the same
        return state if isinstance(state, dict) else {"killed_runs": MAX_KILLED_RUNS}

    def _write(self, marker: Path, state: dict[str, Any]) -> None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=marker.parent)
        with os.fdopen(handle, "w") as out:
            json.dump(state, out)
        os.replace(temp, marker)

    def held_back(self, task: Any) -> WorkerLost | None:
        """Why an earlier run's marker keeps ``task`` from being tried, else None."""
        marker = self.marker(task)
        state = self._read(marker)
        if self.retry or not state:
            return None
        retry = f"delete the marker or set {RETRY_SETTING}=true to try it again"
        if state.get("lost"):
            why = "it killed its worker in an earlier run"
        elif int(state.get("killed_runs", 0)) >= MAX_KILLED_RUNS:
            why = f"the last {MAX_KILLED_RUNS} runs were killed while working on it"
        else:
            return None
        return WorkerLost(f"not tried: {why} (marker {marker}); {retry}", reason="attempted")

    def begin(self, task: Any) -> None:
        marker = self.marker(task)
        earlier = {} if self.retry else self._read(marker)
        self._write(marker, {
            "task": str(getattr(task, "path", task)),
            "pid": os.getpid(),
            "started": time.time(),
            # Counted as if this run were killed with the track in flight; removed otherwise.
            "killed_runs": int(earlier.get("killed_runs", 0)) + 1,
        })  # fmt: skip
        self.open.add(marker)

    def finish(self, task: Any, lost: bool = False) -> None:
        """``task``'s result has been handed on: its marker goes, unless ``lost`` (its worker
        died or went over its memory limit): then it stays, so that later runs skip it."""
        marker = self.marker(task)
        if lost:
            self._write(marker, self._read(marker) | {"lost": True})
        else:
            marker.unlink(missing_ok=True)
        self.open.discard(marker)

    def abandon(self) -> None:
        """Remove every open marker: the run stopped by an exception (a bug, Ctrl-C), not
        because a track killed it."""
        for marker in self.open:
            marker.unlink(missing_ok=True)
        self.open.clear()


def _died(exitcode: int | None) -> WorkerLost:
    """The error of a worker that exited by itself or by a signal."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        how = f"signal {-exitcode}, {name}"
        if -exitcode == signal.SIGKILL:
            how += ": the OOM killer or a kill -9"
    else:
        how = f"exit code {exitcode}"
    return WorkerLost(f"the worker process died ({how}) while working on this track",
                      reason="crash")  # fmt: skip


def resident_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MB (Linux /proc), None when unknown."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


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
    memory_limit_mb: float | None = None,
    attempts: Attempts | None = None,
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
    the crash (a :class:`WorkerLost`, a ``BrokenProcessPool``) or :class:`TrackTimeout`
    propagates. ``memory_limit_mb``: a worker whose resident memory passes it (looked at every
    ``MEMORY_POLL_SECONDS``) is killed, and its task given to ``on_crash`` with a
    :class:`WorkerLost` of reason "memory". ``attempts``: each task's marker while it runs
    (see :class:`Attempts`); a task whose marker an earlier run left is not run but given to
    ``on_crash`` (reason "attempted").

    ``dask_client`` (a ``distributed.Client``): the tasks run on its cluster instead
    (:func:`soundtrack_emotion.runtime.distributed.dask_map`, same contract, several tracks per
    Dask task; ``workers`` is then the cluster's): ``time_limit`` is enforced there, per track,
    by restarting the worker that overruns it,
    and memory by the cluster's own limit (``compute.dask.memory_limit``; its nanny restarts a
    worker past it, the scheduler gives up on a task that killed several).

    ``workers == 1`` runs inline, in this process: no crash or memory isolation (the markers
    still keep a track that kills the run from killing the next one).
    """
    memory_limit_mb = check_memory_limit(memory_limit_mb)
    if workers < 1 and dask_client is None:
        raise ParameterError(f"workers must be >= 1, got {workers!r}")
    try:
        yield from _map(func, tasks, workers=workers, time_limit=time_limit, preload=preload,
                        on_crash=on_crash, on_timeout=on_timeout, dask_client=dask_client,
                        memory_limit_mb=memory_limit_mb, attempts=attempts)  # fmt: skip
    except BaseException:
        if attempts is not None:
            attempts.abandon()
        raise


def _map(
    func: Callable[[T], R],
    tasks: Iterable[T],
    *,
    workers: int,
    time_limit: TimeLimit | None,
    preload: Sequence[str],
    on_crash: Callable[[T, BaseException], R] | None,
    on_timeout: Callable[[T, float], R] | None,
    dask_client: Any,
    memory_limit_mb: float | None,
    attempts: Attempts | None,
) -> Iterator[R]:
    done = attempts.finish if attempts is not None else None
    if dask_client is not None:
        from soundtrack_emotion.runtime.distributed import dask_map

        # The tasks an earlier run's markers hold back first, then the others on the cluster
        # (each one's marker written as it is submitted).
        ready = list(_skip_attempted(iter(tasks), attempts, on_crash, begin=False))
        yield from (task.result for task in ready if isinstance(task, _Skipped))
        to_run = [t for t in ready if not isinstance(t, _Skipped)]
        yield from dask_map(func, _begun(to_run, attempts), client=dask_client,
                            on_crash=on_crash, time_limit=time_limit,
                            on_timeout=on_timeout or _raise_timeout, on_done=done,
                            n_tasks=len(to_run))  # fmt: skip
        return
    todo = _skip_attempted(iter(tasks), attempts, on_crash)
    if workers == 1:
        yield from _map_inline(func, todo, time_limit, on_timeout, done)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([func.__module__, *preload])
    pool = _WorkerPool(func, workers, context, time_limit, memory_limit_mb)
    try:
        yield from pool.run(todo, on_crash, on_timeout, done)
    finally:
        pool.close()


def _raise_timeout(task: Any, limit_s: float) -> Any:
    raise TrackTimeout(f"{task} overran its {limit_s:.0f} s time limit")


@dataclass
class _Skipped:
    """A task an earlier run's marker holds back, with its result already made."""

    result: Any


def _begun(tasks: Iterable[T], attempts: Attempts | None) -> Iterator[T]:
    """``tasks``, each one's marker written as it is taken."""
    for task in tasks:
        if attempts is not None:
            attempts.begin(task)
        yield task


def _skip_attempted(
    tasks: Iterator[T],
    attempts: Attempts | None,
    on_crash: Callable[[T, BaseException], R] | None,
    *,
    begin: bool = True,
) -> Iterator[T]:
    """``tasks``, each one's marker written as it is taken (``begin``); those an earlier
    run's marker holds back come as :class:`_Skipped` (their ``on_crash`` result), never run."""
    for task in tasks:
        if attempts is None:
            yield task
            continue
        error = attempts.held_back(task)
        if error is not None:
            if on_crash is None:
                raise error
            logger.warning("%s: %s", getattr(task, "path", task), error)
            yield _Skipped(on_crash(task, error))  # type: ignore[misc]
            continue
        if begin:
            attempts.begin(task)
        yield task


def _map_inline(
    func: Callable[[T], R],
    tasks: Iterable[T],
    time_limit: TimeLimit | None,
    on_timeout: Callable[[T, float], R] | None,
    on_done: Callable[[T, bool], None] | None = None,
) -> Iterator[R]:
    for task in tasks:
        if isinstance(task, _Skipped):
            yield task.result
            continue
        try:
            with threadpool_limits(limits=1), time_limited(time_limit) as clock:
                result = func(task)
        except TrackTimeout:
            if on_timeout is None:
                raise
            result = on_timeout(task, clock.limit_s)
        except Exception as error:
            _note_track(error, task)
            if on_done is not None:
                on_done(task, False)  # a bug, not a track that kills its worker
            raise
        yield result
        if on_done is not None:
            on_done(task, False)


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
        self,
        func: Callable[[Any], Any],
        size: int,
        context: Any,
        limit: TimeLimit | None,
        memory_limit_mb: float | None = None,
    ) -> None:
        self.func, self.context, self.limit = func, context, limit
        self.memory_limit_mb = memory_limit_mb
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
        on_done: Callable[[Any, bool], None] | None = None,
    ) -> Iterator[Any]:
        skipped: list[Any] = []

        def next_task() -> Any:
            """The next task to run; the results of skipped ones are kept to be yielded."""
            for task in tasks:
                if not isinstance(task, _Skipped):
                    return task
                skipped.append(task.result)
            return None

        for worker in self.workers:
            task = next_task()
            if task is None:
                break
            self._assign(worker, task)
        while skipped or (busy := [w for w in self.workers if w.busy]):
            while skipped:
                yield skipped.pop(0)
            busy = [w for w in self.workers if w.busy]
            if not busy:
                break
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            if self.memory_limit_mb is not None:
                timeout = min(timeout, MEMORY_POLL_SECONDS)
            waitables = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            ready = set(wait_for(waitables, timeout=min(timeout, 3600.0)))
            for worker in busy:
                task = worker.task
                finished = self._outcome(worker, ready, on_crash, on_timeout)
                if finished is None:
                    continue
                slot, result, lost = finished
                # The worker (or its replacement) gets its next task before the result is
                # yielded, so it works while the consumer does.
                following = next_task()
                if following is not None:
                    self._assign(slot, following)
                yield result
                if on_done is not None:
                    on_done(task, lost)  # once the consumer has taken (saved) the result

    def _outcome(
        self,
        worker: _Worker,
        ready: set[Any],
        on_crash: Callable[[Any, BaseException], Any] | None,
        on_timeout: Callable[[Any, float], Any] | None,
    ) -> tuple[_Worker, Any, bool] | None:
        """``(the slot's worker, the result, whether the worker was lost)`` once ``worker``'s
        task has one (its crash, memory or time-out result included; the worker is then
        replaced), else None."""
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
                return worker, message[1], False
            error = pickle.loads(message[1])
            error.__cause__ = _RemoteTraceback(message[2])
            raise _note_track(error, worker.task)
        task = worker.task
        if not worker.process.is_alive():
            worker.process.join()
            error = _died(worker.process.exitcode)
            if on_crash is None:
                raise error
            logger.warning("a worker process died; its track is recorded as failed")
            return self._replace(worker), on_crash(task, error), True
        if self.memory_limit_mb is not None:
            resident = resident_mb(worker.process.pid)
            if resident is not None and resident > self.memory_limit_mb:
                fresh = self._replace(worker)
                error = WorkerLost(
                    f"the worker process used {resident:.0f} MB of memory, over its limit "
                    f"({MEMORY_LIMIT_SETTING}={self.memory_limit_mb:g}), and was killed",
                    reason="memory",
                )
                if on_crash is None:
                    raise error
                logger.warning("a worker went over its memory limit; its track is recorded "
                               "as failed")  # fmt: skip
                return fresh, on_crash(task, error), True
        if time.monotonic() >= worker.deadline:
            limit_s = worker.deadline - worker.started
            fresh = self._replace(worker)
            if on_timeout is None:
                raise TrackTimeout(f"{task} overran its {limit_s:.0f} s time limit")
            logger.warning(
                "a track overran its %.0f s time limit; its worker was replaced", limit_s
            )
            return fresh, on_timeout(task, limit_s), False
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
