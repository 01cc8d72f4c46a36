"""The LocalCluster the Dask backend starts (loopback only, with TLS) and ``dask_map``'s
contract with several tracks per Dask task: every track's own result, batches bounded by audio
seconds and shrinking towards the end, a crash or a bug pinned on its track."""

from __future__ import annotations

import operator
import sys
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

pytest.importorskip("distributed")

import cloudpickle

from soundtrack_emotion.runtime import distributed as backend
from soundtrack_emotion.runtime.distributed import (
    BATCH_AUDIO_SECONDS,
    MAX_TRACKS_PER_BATCH,
    ComputeParams,
    dask_client,
    dask_map,
)
from soundtrack_emotion.runtime.workers import TimeLimit


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
    seconds: float = 2.5


@pytest.fixture
def header_seconds(monkeypatch):
    """Each track's announced duration is its ``seconds`` (no audio file is read)."""
    monkeypatch.setattr(backend, "_audio_seconds", lambda task: task.seconds)


def _batches(tracks, *, threads, n_tasks=None, time_limit=None):
    batcher = backend._Batcher(tracks, n_tasks, threads, time_limit)
    out = []
    while (batch := batcher.next()) is not None:
        out.append(batch)
    return out


def test_batches_hold_every_track_once_in_order_and_shrink_towards_the_end(header_seconds):
    tracks = [_Track(f"t{i}", f"t{i}.wav") for i in range(400)]
    batches = _batches(tracks, threads=2)
    assert [t for b in batches for t in b.tasks] == tracks
    sizes = [len(b.tasks) for b in batches]
    assert max(sizes) <= MAX_TRACKS_PER_BATCH
    assert max(sizes) * 2.5 <= BATCH_AUDIO_SECONDS
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[0] > 1 and sizes[-1] == 1  # the last tracks are spread over the workers


def test_a_batch_is_bounded_by_its_audio_seconds(header_seconds):
    long = [_Track(f"t{i}", f"t{i}.wav", seconds=BATCH_AUDIO_SECONDS / 2) for i in range(40)]
    assert {len(b.tasks) for b in _batches(long, threads=1)} <= {1, 2}
    huge = [_Track(f"t{i}", f"t{i}.wav", seconds=10 * BATCH_AUDIO_SECONDS) for i in range(5)]
    assert [len(b.tasks) for b in _batches(huge, threads=1)] == [1] * 5


def test_each_track_in_a_batch_keeps_its_own_time_limit(header_seconds):
    tracks = [_Track("short", "s.wav", seconds=2.0), _Track("long", "l.wav", seconds=30.0)]
    (batch,) = _batches(iter(tracks), threads=1, time_limit=TimeLimit(2.0, 10.0))
    assert batch.limits == [10.0, 60.0]


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
    """One worker process, running this module's functions (it must be up within a minute)."""
    import distributed

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                 dashboard_address=None) as local,  # fmt: skip
        distributed.Client(local) as client,
    ):
        client.wait_for_workers(1, timeout=60)
        yield client


# After the rest of the suite, the worker of this module's plain LocalCluster has been seen to
# be gone with its batch never finishing (the suite waited for ever; alone, or after the
# inference Dask tests, these pass in seconds): slow until that is understood.
batch_on_cluster = pytest.mark.slow


@batch_on_cluster
def test_every_track_of_a_batch_gives_its_own_result_and_done_call(
    fragile_cluster, header_seconds
):
    tracks = [_Track(f"t{i}", f"t{i}.wav") for i in range(30)]
    done = []
    results = list(dask_map(_work, tracks, client=fragile_cluster,
                            on_done=lambda track, lost: done.append((track.id, lost))))  # fmt: skip
    assert sorted(results) == sorted(t.id.upper() for t in tracks)
    assert sorted(done) == sorted((t.id, False) for t in tracks)


@batch_on_cluster
def test_a_crashing_track_in_a_batch_is_the_only_one_recorded_as_crashed(
    fragile_cluster, header_seconds
):
    tracks = [_Track(name, f"{name}.wav") for name in ("a", "b", "crash", "c", "d", "e")]
    assert len(_batches(tracks, threads=1)[0].tasks) > 1  # "crash" shares a batch
    lost = []

    def done(track: _Track, was_lost: bool) -> None:
        if was_lost:
            lost.append(track.id)

    results = list(dask_map(_work, tracks, client=fragile_cluster, on_done=done,
                            on_crash=lambda track, error: f"crashed {track.id}"))  # fmt: skip
    assert sorted(results) == ["A", "B", "C", "D", "E", "crashed crash"]
    assert lost == ["crash"]


@batch_on_cluster
def test_a_bug_in_a_batch_names_its_track(fragile_cluster, header_seconds):
    tracks = [_Track("a", "a.wav"), _Track("bug", "bug.wav"), _Track("b", "b.wav")]
    with pytest.raises(ZeroDivisionError) as error:
        list(dask_map(_work, tracks, client=fragile_cluster))
    assert "raised while processing track bug (bug.wav)" in "\n".join(error.value.__notes__)
