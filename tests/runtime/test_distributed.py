"""The LocalCluster the Dask backend starts (loopback only, with TLS) and ``dask_map``'s
contract with several tracks per Dask task."""

from __future__ import annotations

import operator

import pytest

pytest.importorskip("distributed")


from soundtrack_emotion.runtime.distributed import (
    ComputeParams,
    dask_client,
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

