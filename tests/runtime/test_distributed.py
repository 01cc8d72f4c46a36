"""The LocalCluster the Dask backend starts (loopback only, with TLS) and ``dask_map``'s
contract with several tracks per Dask task."""

from __future__ import annotations

import operator
import sys
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

pytest.importorskip("distributed")

import cloudpickle

from soundtrack_emotion.runtime.distributed import (
    ComputeParams,
    dask_client,
    dask_map,
)


def test_the_local_cluster_listens_on_loopback_with_tls():
    params = ComputeParams.from_dict({"backend": "dask", "dask": {"n_workers": 1}})
    with dask_client(params) as client:
        scheduler = client.scheduler.address
        workers = list(client.scheduler_info()["workers"])
        assert scheduler.startswith("tls://127.0.0.1:")
        assert workers and all(w.startswith("tls://127.0.0.1:") for w in workers)
        assert client.security.require_encryption
        assert client.submit(operator.add, 2, 3).result() == 5


@dataclass(frozen=True)
class _Track:
    id: str
    path: str


def _work(track: _Track) -> str:
    if track.id == "crash":
        # What the scheduler reports once a task has killed its workers (allowed-failures).
        from distributed.scheduler import KilledWorker

        raise KilledWorker(task=track.id, last_worker=SimpleNamespace(address="tls://x"),
                           allowed_failures=3)  # fmt: skip
    if track.id == "bug":
        raise ZeroDivisionError("a bug")
    return track.id.upper()


@pytest.fixture(scope="module")
def fragile_cluster():
    """One worker process, running this module's functions."""
    import distributed

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                 dashboard_address=None) as local,  # fmt: skip
        distributed.Client(local) as client,
    ):
        yield client


def test_a_crashing_track_in_a_batch_is_the_only_one_recorded_as_crashed(fragile_cluster):
    tracks = [_Track(name, f"{name}.wav") for name in ("a", "b", "crash", "c", "d", "e")]
    results = list(dask_map(_work, tracks, client=fragile_cluster, tracks_per_task=3,
                            on_crash=lambda track, error: f"crashed {track.id}"))  # fmt: skip
    assert sorted(results) == ["A", "B", "C", "D", "E", "crashed crash"]


def test_a_bug_in_a_batch_names_its_track(fragile_cluster):
    tracks = [_Track("a", "a.wav"), _Track("bug", "bug.wav")]
    with pytest.raises(ZeroDivisionError) as error:
        list(dask_map(_work, tracks, client=fragile_cluster, tracks_per_task=2))
    assert "raised while processing track bug (bug.wav)" in "\n".join(error.value.__notes__)
