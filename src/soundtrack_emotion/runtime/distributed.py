"""Per-track work on a Dask distributed cluster: the alternative to ``map_tracks``'s process pool.

``params:compute`` chooses the backend (conf/base/parameters.yml; ``kedro run --env dask``
switches to Dask)::

    compute:
      backend: processes      # or dask
      dask:
        address: null         # null: a LocalCluster on this machine; else tcp://scheduler:8786
        n_workers: null       # LocalCluster only (null: one per core)
        threads_per_worker: 1
        memory_limit: auto

:func:`dask_map` has ``map_tracks``'s contract: each track's own result, as its task
completes, a bug in ``func`` raised at once naming the track, a track that kills its workers
(``KilledWorker`` after the scheduler's ``allowed-failures`` retries) given to ``on_crash``, a
track over its time limit to ``on_timeout``.

One Dask task runs a batch of tracks in turn (:func:`run_batch`): scoring a 2.5 s track takes
~50 ms, and a task's round trip through the scheduler, its (de)serialisation and the client's
bookkeeping cost several ms each, so one task per track left the workers waiting. A batch
holds at most ``BATCH_AUDIO_SECONDS`` of audio (from the files' headers) and
``MAX_TRACKS_PER_BATCH`` tracks, and batches shrink towards the end of the run (guided
self-scheduling), so the workers finish together; a long track is a batch of its own. Its
tracks share one pickled copy of what they have in common (the scoring job). At most
``IN_FLIGHT_PER_THREAD x threads`` batches are in flight, so memory does not grow with the
catalogue. Whatever a task loads (models) it keeps per worker process: the task functions
cache them (``scoring._worker_models``, the embedding networks' loaders).

A worker that dies while running a batch has the batch re-run on another worker by the
scheduler; tasks must therefore be idempotent (the inference tasks write their record
atomically under a fixed key, so a re-run replaces it with identical bytes). A batch of
several tracks that killed its workers is run again one track per task, so that only the track
that kills them is given to ``on_crash``.

Per-task limits: memory is the cluster's (``memory_limit``: each worker's nanny restarts a
worker past it; a track that killed ``allowed-failures`` workers comes back as
``KilledWorker``, i.e. ``on_crash``). With a ``time_limit``, each track keeps its own limit
(from its audio's duration): a worker reports the start of each track of its batch (a Dask
event the client subscribes to), which starts that track's clock; a track that overruns it has
the worker running it restarted and is given to ``on_timeout``, without being re-run, while
the rest of its batch is run again, one track per task.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

from soundtrack_emotion.core.audio import estimate_seconds
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.runtime.paths import resolve_path

logger = logging.getLogger(__name__)

BACKENDS = ("processes", "dask")
# Dask tasks (batches of tracks) kept in flight per worker thread: one running, one queued
# on the worker, so that it never waits for the scheduler's round trip.
IN_FLIGHT_PER_THREAD = 2
# A batch's audio seconds, at most (a track of unknown length counts as this much): a task's
# work then dwarfs its round trip through the scheduler (~10 ms; scoring 2.5 s of audio
# takes ~50 ms), and the results a batch holds until it ends stay small.
BATCH_AUDIO_SECONDS = 120.0
# A batch's tracks, at most.
MAX_TRACKS_PER_BATCH = 64
# Guided self-scheduling: a batch takes at most 1 / (this x worker threads) of the tracks not
# yet submitted, so batches shrink towards the end and no worker is left with a long tail.
GUIDED_BATCHES_PER_THREAD = 2
# Seconds between two looks at the running tracks' time limits, at most (a completed batch
# ends the wait at once).
TIME_LIMIT_POLL_SECONDS = 0.2

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ComputeParams:
    """``params:compute``, validated."""

    backend: str = "processes"
    address: str | None = None
    n_workers: int | None = None
    threads_per_worker: int = 1
    memory_limit: str = "auto"

    @classmethod
    def from_dict(cls, params: Mapping[str, Any] | None) -> ComputeParams:
        if not params:
            return cls()
        dask = params.get("dask") or {}
        result = cls(
            backend=str(params.get("backend", "processes")),
            address=str(dask["address"]) if dask.get("address") else None,
            n_workers=int(dask["n_workers"]) if dask.get("n_workers") else None,
            threads_per_worker=int(dask.get("threads_per_worker") or 1),
            memory_limit=str(dask.get("memory_limit") or "auto"),
        )
        if result.backend not in BACKENDS:
            raise ParameterError(
                f"compute.backend must be one of {BACKENDS}, got {result.backend!r}"
            )
        if result.threads_per_worker < 1:
            raise ParameterError(
                f"compute.dask.threads_per_worker must be >= 1, got {result.threads_per_worker!r}"
            )
        if result.n_workers is not None and result.n_workers < 1:
            raise ParameterError(f"compute.dask.n_workers must be >= 1, got {result.n_workers!r}")
        return result

    @property
    def uses_dask(self) -> bool:
        return self.backend == "dask"


# A LocalCluster's scheduler and workers listen on this machine's loopback only.
LOCAL_HOST = "127.0.0.1"


def local_cluster(params: ComputeParams) -> Any:
    """A ``LocalCluster`` of ``params.n_workers`` worker processes (``threads_per_worker``
    threads each) whose scheduler and workers listen on :data:`LOCAL_HOST` only, talking TLS
    with temporary credentials made for this cluster (``security=True``), so neither another
    machine nor another local user without its key can connect. Without the ``cryptography``
    package (which Dask needs for those credentials) it runs without TLS, still on loopback
    only, and says so in the log. The workers' statistical profiler (a stack sample every
    10 ms, for the dashboard, which a LocalCluster here does not serve) is off."""
    import dask
    from distributed import LocalCluster

    try:
        import cryptography  # noqa: F401 - what Security.temporary() needs
    except ImportError:
        security: bool = False
        logger.warning("dask: the 'cryptography' package is missing, so the LocalCluster runs "
                       "without TLS (loopback only): pip install cryptography")  # fmt: skip
    else:
        security = True
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        return LocalCluster(
            n_workers=params.n_workers,
            threads_per_worker=params.threads_per_worker,
            processes=True,
            memory_limit=params.memory_limit,
            host=LOCAL_HOST,
            security=security,
            # No dashboard; the scheduler's HTTP server (health checks) on loopback too.
            dashboard_address=f"{LOCAL_HOST}:0",
            scheduler_kwargs={"dashboard": False},
        )


@contextmanager
def dask_client(params: ComputeParams) -> Iterator[Any]:
    """A ``distributed.Client``: to the scheduler at ``params.address``, or to a
    :func:`local_cluster` of worker processes started (and closed) here."""
    try:
        from distributed import Client
    except ImportError as error:  # pragma: no cover - a dependency of the project
        raise ParameterError(
            "compute.backend=dask needs dask[distributed]: pip install 'dask[distributed]'"
        ) from error
    if params.address:
        with Client(params.address) as client:
            logger.info("dask: connected to %s (%s)", params.address, client.dashboard_link)
            yield client
        return
    with local_cluster(params) as cluster, Client(cluster) as client:
        logger.info("dask: LocalCluster of %d workers at %s", len(cluster.workers),
                    cluster.scheduler_address)  # fmt: skip
        yield client


def _threads(client: Any) -> int:
    return max(1, sum(w["nthreads"] for w in client.scheduler_info()["workers"].values()))


def _audio_seconds(task: Any) -> float | None:
    """``task``'s audio duration as its file's header announces it (None: no file, or none
    announced)."""
    path = getattr(task, "path", None)
    return estimate_seconds(resolve_path(path)) if path else None


@dataclass
class _Batch:
    """The tracks of one Dask task, with each one's time limit (``inf`` without a limit)."""

    tasks: list[Any]
    limits: list[float]


class _Batcher:
    """Cuts the tasks into batches (see the module docstring): a batch holds at most
    ``BATCH_AUDIO_SECONDS`` of audio and ``MAX_TRACKS_PER_BATCH`` tracks, and at most the
    remaining tracks' share of ``GUIDED_BATCHES_PER_THREAD`` batches per worker thread, so
    batches shrink towards the end and the workers finish together. Split batches (a crash, a
    timeout) are handed out first, one track at a time."""

    def __init__(self, tasks: Iterable[Any], n_tasks: int | None, threads: int,
                 time_limit: Any) -> None:  # fmt: skip
        self.iterator = iter(tasks)
        self.left = n_tasks if n_tasks is not None else _size(tasks)
        self.threads = threads
        self.time_limit = time_limit
        self.retry: list[tuple[Any, float]] = []

    def requeue(self, tasks: Iterable[Any], limits: Iterable[float]) -> None:
        """Run ``tasks`` again, one per batch, before any new batch."""
        self.retry.extend(zip(tasks, limits, strict=True))

    def next(self) -> _Batch | None:
        if self.retry:
            task, limit = self.retry.pop(0)
            return _Batch([task], [limit])
        most = MAX_TRACKS_PER_BATCH
        if self.left is not None:
            most = min(most, -(-self.left // (GUIDED_BATCHES_PER_THREAD * self.threads)))
        batch = _Batch([], [])
        audio = 0.0
        while len(batch.tasks) < max(1, most) and audio < BATCH_AUDIO_SECONDS:
            task = next(self.iterator, None)
            if task is None:
                break
            seconds = _audio_seconds(task)
            audio += seconds if seconds is not None else BATCH_AUDIO_SECONDS
            batch.tasks.append(task)
            limit = self.time_limit.for_audio(seconds) if self.time_limit else float("inf")
            batch.limits.append(limit)
        if self.left is not None:
            self.left -= len(batch.tasks)
        return batch if batch.tasks else None


def _size(tasks: Iterable[Any]) -> int | None:
    try:
        return len(tasks)  # type: ignore[arg-type]
    except TypeError:
        return None


def run_batch(func: Callable[[T], R], tasks: list[T], topic: str | None, name: str) -> list[R]:
    """A Dask task: ``func`` over ``tasks`` in turn on the worker, their results in order.
    With a ``topic``, each track's start is sent to the client as an event ``(name, index)``
    (its time-limit clock). A bug raises at once, noting the track."""
    worker = _worker() if topic else None
    results = []
    for index, task in enumerate(tasks):
        if worker is not None:
            worker.log_event(topic, [name, index])
        try:
            results.append(func(task))
        except Exception as error:
            _note_track(error, task)
            raise
    return results


def _worker() -> Any:
    from distributed import get_worker

    return get_worker()


def _note_track(error: BaseException, task: Any) -> None:
    """Add a note naming the track to ``error`` (a bug: not a failure the file causes)."""
    path = getattr(task, "path", None)
    error.add_note(
        f"raised while processing track {getattr(task, 'id', task)}"
        + (f" ({path})" if path else "")
    )


def _stop(client: Any, future: Any) -> None:
    """Cancel ``future`` (so that it is not run again elsewhere), then restart, through its
    nanny, the worker running it: the only way to stop a task, which runs in a thread."""
    running = [w for w, keys in client.processing().items() if future.key in keys]
    future.cancel()
    if running:
        client.restart_workers(workers=running, raise_for_error=False)


@dataclass
class _Clocks:
    """Which track each running batch is on and since when (this machine's clock), as the
    workers' start events report it (received on the client's event loop thread)."""

    running: dict[str, tuple[int, float]] = field(default_factory=dict)

    def handle(self, event: tuple[float, Any]) -> None:
        name, index = event[1]
        self.running[name] = (int(index), time.monotonic())

    def overrun(self, pending: Mapping[Any, _Batch]) -> tuple[Any, int] | None:
        """The first pending future whose current track is past its time limit, with that
        track's index."""
        now = time.monotonic()
        for future, batch in pending.items():
            started = self.running.get(future.key)
            if started is not None and now - started[1] >= batch.limits[started[0]]:
                return future, started[0]
        return None


def dask_map(
    func: Callable[[T], R],
    tasks: Iterable[T],
    *,
    client: Any,
    on_crash: Callable[[T, BaseException], R] | None = None,
    key: Callable[[T], str] | None = None,
    time_limit: Any = None,
    on_timeout: Callable[[T, float], R] | None = None,
    on_done: Callable[[T, bool], None] | None = None,
    n_tasks: int | None = None,
) -> Iterator[R]:
    """``func`` over ``tasks`` in batches of tracks, each batch a Dask task on ``client``'s
    cluster, yielding each track's result as its batch completes (see the module docstring for
    the contract). ``key(task)`` names a batch (by its first track) in the dashboard; names
    are made unique per call. ``time_limit`` (a ``workers.TimeLimit``): a track over it gives
    ``on_timeout(task, limit_s)`` (without the callback, ``TimeoutError`` is raised).
    ``on_done(task, lost)`` is called once the consumer has taken the track's result
    (``lost``: the track killed its workers). ``n_tasks``: how many tasks there are, when
    ``tasks`` has no length (the batches shrink towards the end; unknown: by audio alone)."""
    from distributed import as_completed

    threads = _threads(client)
    batcher = _Batcher(tasks, n_tasks, threads, time_limit)
    token = uuid.uuid4().hex[:12]
    topic = f"soundtrack-emotion-track-started-{token}" if time_limit is not None else None
    clocks = _Clocks()
    if topic is not None:
        client.subscribe_topic(topic, clocks.handle)
    pending: dict[Any, _Batch] = {}
    counter = 0

    def submit() -> Any | None:
        nonlocal counter
        batch = batcher.next()
        if batch is None:
            return None
        counter += 1
        name = f"{key(batch.tasks[0]) if key else func.__name__}-{counter}-{token}"
        future = client.submit(run_batch, func, batch.tasks, topic, name, key=name,
                               pure=False)  # fmt: skip
        pending[future] = batch
        return future

    def refill() -> None:
        while len(pending) < IN_FLIGHT_PER_THREAD * threads:
            following = submit()
            if following is None:
                return
            done.add(following)

    done = as_completed([])
    try:
        refill()
        while pending:
            late = clocks.overrun(pending) if topic is not None else None
            if late is not None:
                clocks.running.pop(late[0].key, None)
                outcomes = _timed_out(client, pending, late, batcher, on_timeout)
            elif topic is not None and not done.has_ready():
                _wait_any(pending, TIME_LIMIT_POLL_SECONDS)
                continue
            else:
                future = next(done)
                if future not in pending:  # cancelled after a track overran
                    continue
                clocks.running.pop(future.key, None)
                outcomes = _outcomes(future, pending.pop(future), batcher, on_crash)
            refill()
            for task, result, lost in outcomes:
                yield result
                if on_done is not None:
                    on_done(task, lost)
    finally:
        for future in pending:
            future.cancel()
        if topic is not None:
            client.unsubscribe_topic(topic)


def _wait_any(pending: Mapping[Any, Any], timeout_s: float) -> None:
    """Until a pending future completes, for ``timeout_s`` at most (not a fixed sleep: a
    completed batch's worker must not wait for the next look to get its next batch)."""
    from distributed import wait

    with suppress(TimeoutError):
        wait(list(pending), timeout=timeout_s, return_when="FIRST_COMPLETED")


def _timed_out(
    client: Any,
    pending: dict[Any, _Batch],
    late: tuple[Any, int],
    batcher: _Batcher,
    on_timeout: Callable[[Any, float], Any] | None,
) -> list[tuple[Any, Any, bool]]:
    """Stop the batch whose track ``late`` names (its worker restarted); that track gives
    ``on_timeout``, never run again; the batch's other tracks are run again, one per task."""
    future, index = late
    batch = pending.pop(future)
    _stop(client, future)
    task, limit_s = batch.tasks[index], batch.limits[index]
    others = [i for i in range(len(batch.tasks)) if i != index]
    batcher.requeue([batch.tasks[i] for i in others], [batch.limits[i] for i in others])
    if on_timeout is None:
        raise TimeoutError(f"{task} overran its {limit_s:.0f} s time limit")
    logger.warning("a Dask task overran its %.0f s time limit; its worker was restarted",
                   limit_s)  # fmt: skip
    return [(task, on_timeout(task, limit_s), False)]


def _outcomes(
    future: Any,
    batch: _Batch,
    batcher: _Batcher,
    on_crash: Callable[[Any, BaseException], Any] | None,
) -> list[tuple[Any, Any, bool]]:
    """(task, result, lost) of each track of ``future``'s batch; a batch of several tracks
    that killed its workers is run again one track per task (none of its results are given);
    a single track that did gives its ``on_crash`` result. A bug raises."""
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    try:
        return [(t, r, False) for t, r in zip(batch.tasks, future.result(), strict=True)]
    except (KilledWorker, FutureCancelledError) as error:
        if len(batch.tasks) > 1:
            logger.warning("a batch of %d tracks killed its Dask workers; its tracks are run "
                           "again one at a time", len(batch.tasks))  # fmt: skip
            batcher.requeue(batch.tasks, batch.limits)
            return []
        if on_crash is None:
            raise
        logger.warning("a track killed its Dask workers; it is recorded as failed")
        return [(batch.tasks[0], on_crash(batch.tasks[0], error), True)]
    finally:
        future.release()
