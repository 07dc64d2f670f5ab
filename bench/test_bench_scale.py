"""Search at scale, side by side with the exact single-process knn (pytest-benchmark):
Dask knn on a 2-process LocalCluster, faiss flat / HNSW on the Hellinger embedding, and
NNDescent (NNDescentIndex: a numba_metric graph, candidates re-ranked exactly). Each
benchmark asserts its result against dv.knn (equal for the exact paths, recall for the
approximate ones), so the CI smoke run checks them too.

Sizes (queries, rows, features): tiny (20, 2,000, 16) under --benchmark-disable, short
(200, 20,000, 64), full (2,000, 200,000, 64), the issue's.
"""

from __future__ import annotations

import time

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
        rss = client.run(lambda: __import__("psutil").Process().memory_info().rss)
        # the peak over each worker's life (Linux ru_maxrss is in KiB), the block of X it
        # holds (about a fifth of X here) included
        peak = client.run(lambda: __import__("resource").getrusage(0).ru_maxrss)
        benchmark.extra_info["worker_rss_mib"] = [round(v / 2**20) for v in rss.values()]
        benchmark.extra_info["worker_peak_mib"] = [round(v / 2**10) for v in peak.values()]
        benchmark.extra_info["X_mib"] = round(X.nbytes / 2**20)
        print(
            f"\ndask workers: rss {benchmark.extra_info['worker_rss_mib']} MiB, peak "
            f"{benchmark.extra_info['worker_peak_mib']} MiB, X {X.nbytes / 2**20:.0f} MiB"
        )
    np.testing.assert_array_equal(idx, ref)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_faiss_on_the_embedding(benchmark, scale_data, kind):
    pytest.importorskip("faiss")
    from divergences.faiss import Index

    Q, X, (ref, _) = scale_data
    t0 = time.perf_counter()
    index = Index(X, NAME, kind=kind)
    build_s = time.perf_counter() - t0
    idx, _ = benchmark.pedantic(index.search, (Q, K), rounds=1, iterations=1)
    benchmark.extra_info.update(recall=_recall(idx, ref), build_s=round(build_s, 1))
    print(f"\nfaiss {kind}: build {build_s:.1f} s, recall {_recall(idx, ref):.3f}")
    if kind == "hnsw":  # the search breadth, on the same graph
        for ef in (64, 128, 512):
            index.index.hnsw.efSearch = ef
            t0 = time.perf_counter()
            got, _ = index.search(Q, K)
            took = time.perf_counter() - t0
            benchmark.extra_info[f"ef_search_{ef}"] = [round(_recall(got, ref), 4), round(took, 2)]
            print(f"hnsw ef_search {ef}: recall {_recall(got, ref):.3f}, search {took:.2f} s")
    if kind == "flat":
        np.testing.assert_array_equal(idx, ref)
    else:
        assert _recall(idx, ref) >= 0.9


# NNDescent's table at the item-4 size (a graph of 200,000 rows would take most of
# an hour on two cores): (queries, rows, features) per size; full = 500 x 50,000 x 64
NND_SCALE = {"tiny": (20, 2_000, 16), "short": (200, 10_000, 64), "full": (500, 50_000, 64)}


# the four measures (its own list): each on its own graph, with the defaults of
# NNDescentIndex (3 k candidates re-ranked exactly, search epsilon 0.3)
@pytest.mark.parametrize("name", ["hellinger", "jensen_shannon", "kullback_leibler", "canberra"])
def test_nndescent_index(benchmark, size, name):
    pytest.importorskip("pynndescent")

    from divergences.ann import NNDescentIndex

    q, n, d = NND_SCALE[size]
    rng = np.random.default_rng(1)  # the data of tests/test_ann.py's slow recall test
    X = rng.dirichlet(np.ones(d), n)
    Q = rng.dirichlet(np.ones(d), q)
    dv.knn(Q[:2], X[:100], K, name)  # compiled before timing
    t0 = time.perf_counter()
    ref, _ = dv.knn(Q, X, K, name)
    exact_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = NNDescentIndex(X, name, random_state=0)
    build_s = time.perf_counter() - t0
    index.search(Q[:2], K)  # pynndescent compiles its search on the first query
    idx, _ = benchmark.pedantic(index.search, (Q, K), rounds=1, iterations=1)
    recall = _recall(idx, ref)
    benchmark.extra_info.update(
        recall=round(recall, 4), build_s=round(build_s, 1), exact_knn_s=round(exact_s, 2)
    )
    print(
        f"\nNNDescent {name} {q} x {n} x {d}: recall {recall:.3f}, build {build_s:.1f} s, "
        f"exact knn {exact_s:.2f} s"
    )
    assert recall >= 0.9
