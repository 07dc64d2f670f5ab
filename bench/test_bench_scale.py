"""Search at scale, side by side with the exact single-process knn (pytest-benchmark):
Dask knn on a 2-process LocalCluster, faiss flat / HNSW on the Hellinger embedding, and
NNDescent with a numba_metric. Each benchmark asserts its result against dv.knn (equal for
the exact paths, recall for the approximate ones), so the CI smoke run checks them too.

Sizes (queries, rows, features): tiny (20, 2,000, 16) under --benchmark-disable, short
(200, 20,000, 64), full (2,000, 200,000, 64), the issue's.
"""

from __future__ import annotations

import numpy as np
import pytest

import divergences as dv

SCALE = {"tiny": (20, 2_000, 16), "short": (200, 20_000, 64), "full": (2_000, 200_000, 64)}
K = 10
NAME = "hellinger"  # the benchmark measure


@pytest.fixture(scope="module")
def scale_data(size):
    q, n, d = SCALE[size]
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(d), n)
    Q = rng.dirichlet(np.ones(d), q)
    return Q, X, dv.knn(Q, X, K, NAME)


def _recall(idx, ref):
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(idx, ref, strict=True)]))


def test_exact_knn(benchmark, scale_data):
    Q, X, (ref, _) = scale_data
    idx, _ = benchmark.pedantic(dv.knn, (Q, X, K, NAME), rounds=1, iterations=1)
    np.testing.assert_array_equal(idx, ref)


def test_dask_knn_two_processes(benchmark, scale_data):
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    import dask.array as da

    import divergences.dask as dvd

    Q, X, (ref, _) = scale_data
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        XB = da.from_array(X, chunks=(max(1, len(X) // 10), -1)).persist()
        distributed.wait(XB)
        dask.compute(*dvd.knn(Q[:2], XB, K, NAME))  # workers load the kernels
        idx, _ = benchmark.pedantic(
            lambda: dask.compute(*dvd.knn(Q, XB, K, NAME)), rounds=1, iterations=1
        )
        peak = client.run(lambda: __import__("psutil").Process().memory_info().rss)
        benchmark.extra_info["worker_rss_mib"] = [round(v / 2**20) for v in peak.values()]
    np.testing.assert_array_equal(idx, ref)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_faiss_on_the_embedding(benchmark, scale_data, kind):
    pytest.importorskip("faiss")
    from divergences.faiss import Index

    Q, X, (ref, _) = scale_data

    def build_and_search():
        return Index(X, NAME, kind=kind).search(Q, K)

    idx, _ = benchmark.pedantic(build_and_search, rounds=1, iterations=1)
    benchmark.extra_info["recall"] = _recall(idx, ref)
    if kind == "flat":
        np.testing.assert_array_equal(idx, ref)
    else:
        assert _recall(idx, ref) >= 0.9


def test_nndescent_numba_metric(benchmark, scale_data):
    pynndescent = pytest.importorskip("pynndescent")
    Q, X, (ref, _) = scale_data
    f = dv.numba_metric(NAME)

    def build_and_query():
        index = pynndescent.NNDescent(X, metric=f, n_neighbors=30, random_state=0)
        return index.query(Q, k=K)

    idx, _ = benchmark.pedantic(build_and_query, rounds=1, iterations=1)
    benchmark.extra_info["recall"] = _recall(idx, ref)
    assert _recall(idx, ref) >= 0.9
