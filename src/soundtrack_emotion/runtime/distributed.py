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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from soundtrack_emotion.exceptions import ParameterError

logger = logging.getLogger(__name__)

BACKENDS = ("processes", "dask")
# Tasks kept in flight per worker thread: enough to hide the scheduler's round trip.
IN_FLIGHT_PER_THREAD = 2

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


@contextmanager
def dask_client(params: ComputeParams) -> Iterator[Any]:
    """A ``distributed.Client``: to the scheduler at ``params.address``, or to a
    ``LocalCluster`` of worker processes started (and closed) here."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:  # pragma: no cover - a dependency of the project
        raise ParameterError(
            "compute.backend=dask needs dask[distributed]: pip install 'dask[distributed]'"
        ) from error
    if params.address:
        with Client(params.address) as client:
            logger.info("dask: connected to %s (%s)", params.address, client.dashboard_link)
            yield client
        return
    with (
        LocalCluster(
            n_workers=params.n_workers,
            threads_per_worker=params.threads_per_worker,
            processes=True,
            memory_limit=params.memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        logger.info("dask: LocalCluster of %d workers", len(cluster.workers))
        yield client


def _threads(client: Any) -> int:
    return max(1, sum(w["nthreads"] for w in client.scheduler_info()["workers"].values()))


def dask_map(
    func: Callable[[T], R],
    tasks: Iterable[T],
    *,
    client: Any,
    on_crash: Callable[[T, BaseException], R] | None = None,
    key: Callable[[T], str] | None = None,
) -> Iterator[R]:
    """``func`` over ``tasks`` as Dask tasks on ``client``'s cluster, yielding results as they
    complete (see the module docstring for the contract). ``key(task)`` names a task in the
    dashboard; names are made unique per call."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    iterator = iter(tasks)
    limit = IN_FLIGHT_PER_THREAD * _threads(client)
    pending: dict[Any, T] = {}
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

    futures = [f for f in (submit() for _ in range(limit)) if f is not None]
    done = as_completed(futures)
    try:
        for future in done:
            task = pending.pop(future)
            try:
                result = future.result()
            except (KilledWorker, FutureCancelledError) as error:
                if on_crash is None:
                    raise
                logger.warning("a track killed its Dask workers; it is recorded as failed")
                result = on_crash(task, error)
            except Exception as error:
                path = getattr(task, "path", None)
                error.add_note(
                    f"raised while processing track {getattr(task, 'id', task)}"
                    + (f" ({path})" if path else "")
                )
                raise
            finally:
                future.release()
            following = submit()
            if following is not None:
                done.add(following)
            yield result
    finally:
        for future in pending:
            future.cancel()
