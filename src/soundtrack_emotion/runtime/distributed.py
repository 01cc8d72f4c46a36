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

:func:`dask_map` has ``map_tracks``'s contract: results as they complete, a bug in ``func``
raised at once naming the task, a task that kills its workers (``KilledWorker`` after the
scheduler's ``allowed-failures`` retries) given to ``on_crash``. A worker that dies while
running a task has the task re-run on another worker by the scheduler; tasks must therefore be
idempotent (the inference tasks write their record atomically under a fixed key, so a re-run
replaces it with identical bytes). At most ``2 x threads`` tasks are in flight, so memory does
not grow with the catalogue.

Per-task limits: memory is the cluster's (``memory_limit``: each worker's nanny restarts a
worker past it, and a task that killed ``allowed-failures`` workers comes back as
``KilledWorker``, i.e. ``on_crash``); with a ``time_limit``, a task that overruns it (its clock
starts when a worker thread is free for it, tasks starting in the order they were submitted) has
the worker running it restarted and is given to ``on_timeout``, without being re-run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from soundtrack_emotion.core.audio import estimate_seconds
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.runtime.paths import resolve_path

logger = logging.getLogger(__name__)

BACKENDS = ("processes", "dask")
# Tasks kept in flight per worker thread: enough to hide the scheduler's round trip.
IN_FLIGHT_PER_THREAD = 2
# Seconds between two looks at the running tasks' time limits.
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


def _task_limit(task: Any, time_limit: Any) -> float:
    """``time_limit`` (a ``workers.TimeLimit``) for ``task``'s audio, from its file's header."""
    path = getattr(task, "path", None)
    return time_limit.for_audio(estimate_seconds(resolve_path(path)) if path else None)


def _stop(client: Any, future: Any) -> None:
    """Cancel ``future`` (so that it is not run again elsewhere), then restart, through its
    nanny, the worker running it: the only way to stop a task, which runs in a thread."""
    running = [w for w, keys in client.processing().items() if future.key in keys]
    future.cancel()
    if running:
        client.restart_workers(workers=running, raise_for_error=False)


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
) -> Iterator[R]:
    """``func`` over ``tasks`` as Dask tasks on ``client``'s cluster, yielding results as they
    complete (see the module docstring for the contract). ``key(task)`` names a task in the
    dashboard; names are made unique per call. ``time_limit`` (a ``workers.TimeLimit``): a
    task over it gives ``on_timeout(task, limit_s)`` (without the callback, ``TimeoutError``
    is raised). ``on_done(task, lost)`` is called once the consumer
    has taken the task's result (``lost``: the task killed its workers)."""
    from distributed import as_completed

    iterator = iter(tasks)
    threads = _threads(client)
    pending: dict[Any, T] = {}
    # When each task's clock started (once a worker thread is free for it), and its limit.
    started: dict[Any, tuple[float, float]] = {}
    counter = 0

    def submit() -> Any | None:
        nonlocal counter
        task = next(iterator, None)
        if task is None:
            return None
        counter += 1
        name = f"{key(task) if key else func.__name__}-{counter}"
        future = client.submit(func, task, key=f"{name}-{id(pending):x}", pure=False)
        pending[future] = task
        return future

    futures = [f for f in (submit() for _ in range(IN_FLIGHT_PER_THREAD * threads)) if f]
    done = as_completed(futures)
    try:
        while pending:
            if time_limit is not None and not done.has_ready():
                late = _overrun(pending, started, threads, time_limit)
                if late is None:
                    time.sleep(TIME_LIMIT_POLL_SECONDS)
                    continue
                future, limit_s = late
                task = pending.pop(future)
                started.pop(future, None)
                _stop(client, future)
                if on_timeout is None:
                    raise TimeoutError(f"{task} overran its {limit_s:.0f} s time limit")
                logger.warning("a Dask task overran its %.0f s time limit; its worker was "
                               "restarted", limit_s)  # fmt: skip
                result, lost = on_timeout(task, limit_s), False
            else:
                future = next(done)
                if future not in pending:  # cancelled after it overran
                    continue
                task = pending.pop(future)
                started.pop(future, None)
                result, lost = _result(future, task, on_crash)
            following = submit()
            if following is not None:
                done.add(following)
            yield result
            if on_done is not None:
                on_done(task, lost)
    finally:
        for future in pending:
            future.cancel()


def _overrun(
    pending: Mapping[Any, Any],
    started: dict[Any, tuple[float, float]],
    threads: int,
    time_limit: Any,
) -> tuple[Any, float] | None:
    """The first running future past its time limit, with the limit; starts the clocks (and
    sets the limits) of the futures a thread is free for (tasks start in submission order)."""
    now = time.monotonic()
    waiting = [f for f in pending if f not in started]
    for future in waiting[: max(0, threads - len(started))]:
        started[future] = (now, _task_limit(pending[future], time_limit))
    for future, (begun, limit_s) in started.items():
        if now - begun >= limit_s:
            return future, limit_s
    return None


def _result(
    future: Any, task: Any, on_crash: Callable[[Any, BaseException], Any] | None
) -> tuple[Any, bool]:
    """(``future``'s result, False); for a task that killed its workers, (its ``on_crash``
    result, True); a bug raises."""
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    try:
        return future.result(), False
    except (KilledWorker, FutureCancelledError) as error:
        if on_crash is None:
            raise
        logger.warning("a track killed its Dask workers; it is recorded as failed")
        return on_crash(task, error), True
    except Exception as error:
        path = getattr(task, "path", None)
        error.add_note(
            f"raised while processing track {getattr(task, 'id', task)}"
            + (f" ({path})" if path else "")
        )
        raise
    finally:
        future.release()
