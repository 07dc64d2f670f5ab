"""divergences.dask on a real two-process LocalCluster: blocks equal the single-process
results, the tree merge keeps the tie rule, a killed worker, and bounded worker memory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

import divergences as dv

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import cloudpickle  # noqa: E402
import dask  # noqa: E402

import divergences.dask as dvd  # noqa: E402
from divergences.kernels import factored  # noqa: E402

MEASURES = dv.measures()
DIRECT = {"method": "direct"}


def test_import_divergences_imports_no_optional_integration():
    code = (
        "import sys, divergences; "
        "bad = [m for m in ('dask', 'distributed', 'sklearn', 'faiss', 'pynndescent', 'umap') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def client():
    # two worker processes with one thread each: worker threads x Numba threads <= 2 cores
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        # the helpers of this file run on the workers, which cannot import it by name
        cloudpickle.register_pickle_by_value(sys.modules[__name__])
        yield c
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _first(pred):
    """The first measure of the registry (survey order) with property ``pred``."""
    return next(m for m in MEASURES if pred(m))


def _whole_vector_nan(m):
    Z = np.zeros((1, 3))
    return bool(np.isnan(dv.cdist(Z, Z, m, backend="numpy")[0, 0]))


def _data(m_rows=23, n_rows=37, d=6, seed=0):
    """Non-negative rows with zeros, all-zero rows and duplicates across blocks."""
    rng = np.random.default_rng(seed)
    grid = np.array([0.0, 0.25, 0.5, 1.0])
    XB = rng.choice(grid, size=(n_rows, d))
    XB[[3, 20]] = 0.0
    XB[[5, 17, 31]] = XB[2]
    XA = rng.choice(grid, size=(m_rows, d))
    XA[0] = 0.0
    XA[1] = XB[2]
    return XA, XB


def _chunked(X, rows):
    return da.from_array(X, chunks=(rows, X.shape[1]))


# -- the merge keeps the single-process order, for every measure (local scheduler) ----
@pytest.mark.parametrize("m", MEASURES, ids=lambda m: m.name)
def test_knn_equals_single_process_for_every_measure(m):
    XA, XB = _data()
    k = 9
    want = dv.knn(XA, XB, k, m, backend="numpy")
    got = dask.compute(
        *dvd.knn(_chunked(XA, 7), _chunked(XB, 5), k, m, backend="numpy", split_every=3),
        scheduler="sync",
    )
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_merge_orders_ties_by_index_and_nan_last():
    # two candidate lists of rows (values and global indices) merged by hand
    a = (np.array([[4, 9, 2]]), np.array([[1.0, np.nan, 2.0]]))
    b = (np.array([[1, 3, 7]]), np.array([[1.0, np.inf, np.nan]]))
    idx, val = dvd._merge(5, False, a, b)
    np.testing.assert_array_equal(idx, [[1, 4, 2, 3, 7]])
    np.testing.assert_array_equal(val, [[1.0, 1.0, 2.0, np.inf, np.nan]])
    idx, _ = dvd._merge(5, True, a, b)  # a similarity: largest first, NaN still last
    np.testing.assert_array_equal(idx, [[3, 2, 1, 4, 7]])


# -- a real cluster ------------------------------------------------------------------
def test_cdist_on_the_cluster_is_bitwise_the_single_process_result(client):
    m = _first(lambda m: not m.symmetric and m.params)  # an asymmetric measure with a parameter
    XA, XB = _data()
    D = dvd.cdist(_chunked(XA, 6), _chunked(XB, 8), m, base=2.0, **DIRECT)
    assert D.chunks == ((6, 6, 6, 5), (8, 8, 8, 8, 5))
    got = D.compute()
    want = dv.cdist(XA, XB, m, base=2.0, **DIRECT)
    assert got.tobytes() == want.tobytes()


def test_knn_on_the_cluster_is_bitwise_the_single_process_result(client):
    for m in (
        _first(lambda m: m.kind == "similarity"),
        _first(_whole_vector_nan),
        _first(lambda m: not m.symmetric),
    ):
        XA, XB = _data(seed=3)
        want = dv.knn(XA, XB, 11, m, **DIRECT)
        got = dask.compute(*dvd.knn(_chunked(XA, 10), _chunked(XB, 6), 11, m, **DIRECT))
        assert got[0].tobytes() == want[0].tobytes(), m.name
        assert got[1].tobytes() == want[1].tobytes(), m.name


def test_knn_factored_forms_on_the_cluster(client):
    m = _first(lambda m: not m.symmetric and factored.factorable(m, "strict"))
    rng = np.random.default_rng(1)
    XA, XB = rng.dirichlet(np.ones(16), 50), rng.dirichlet(np.ones(16), 203)
    want = dv.knn(XA, XB, 7, m)
    got = dask.compute(*dvd.knn(_chunked(XA, 20), _chunked(XB, 64), 7, m))
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-13)


def test_workers_load_kernels_from_the_disk_cache_and_release_the_gil(client):
    # the generated kernels are nogil; each worker compiled or loaded them itself
    m = _first(lambda m: not m.symmetric)
    XA, XB = _data()
    dvd.cdist(_chunked(XA, 6), _chunked(XB, 8), m, **DIRECT).compute()

    def probe():
        from divergences.kernels import numba_cpu

        mod = numba_cpu.kernels(dv.get(m.name), "strict")
        driver = numba_cpu.shared("drivers", numba_cpu.DRIVERS).cdist
        nogil = mod.block.targetoptions.get("nogil") and driver.targetoptions.get("nogil")
        return nogil, os.getpid()

    res = client.run(probe)
    assert all(nogil for nogil, _ in res.values())
    assert len({pid for _, pid in res.values()}) == 2 and os.getpid() not in {
        pid for _, pid in res.values()
    }


def test_paired_on_the_cluster_is_bitwise_the_single_process_result(client):
    m = _first(lambda m: not m.symmetric and m.params)
    XA, XB = _data(m_rows=37, n_rows=37, seed=5)
    got = dvd.paired(_chunked(XA, 10), _chunked(XB, 7), m, base=2.0).compute()
    want = dv.paired(XA, XB, m, base=2.0)
    assert got.tobytes() == want.tobytes()


def test_errors_name_the_measure_and_the_block(client):
    XA, XB = _data()
    XB = XB.copy()
    XB[30, 2] = -1.0
    m = _first(lambda m: m.domain == "nonnegative")
    with pytest.raises(dv.InputError, match=rf"{m.name}.*row 25"):
        dask.compute(*dvd.knn(_chunked(XA, 10), _chunked(XB, 25), 3, m))
    with pytest.raises(dv.InputError, match="k=40 is larger than the 37 rows"):
        dvd.knn(XA, XB, 40, m)
    with pytest.raises(dv.InputError, match="feature counts differ"):
        dvd.cdist(XA[:, :3], XB, m)
    with pytest.raises(NotImplementedError, match="cdist"):
        dvd.pdist(XA, m)


def test_feature_axis_is_rechunked_never_split_and_large_blocks_warn():
    XA, XB = _data()
    A = da.from_array(XA, chunks=(10, 2))  # d split in three
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        D = dvd.cdist(A, XB, "manhattan")
    assert D.chunks[0] == (10, 10, 3)
    np.testing.assert_array_equal(D.compute(scheduler="sync"), dv.cdist(XA, XB, "manhattan"))
    big = da.zeros((600_000, 256), chunks=(600_000, 128))  # 1.1 GiB row blocks once joined
    with pytest.warns(dvd.PerformanceWarning, match="feature axis"):
        dvd.cdist(big, big[:10], "manhattan", check_finite=False)


async def _die():
    os._exit(1)


def test_a_worker_killed_mid_computation(client):
    rng = np.random.default_rng(2)
    XA, XB = rng.random((200, 32)), rng.random((4000, 32))
    m = _first(lambda m: m.domain == "real" and not m.params)
    want = dv.knn(XA, XB, 5, m, **DIRECT)
    idx, val = dvd.knn(_chunked(XA, 100), _chunked(XB, 250), 5, m, **DIRECT)
    futures = client.compute([idx, val])
    victim = None
    deadline = time.monotonic() + 30
    while victim is None and time.monotonic() < deadline:
        busy = [w for w, tasks in client.processing().items() if tasks]
        victim = busy[0] if busy else None
        time.sleep(0.01)
    assert victim is not None
    before = set(client.scheduler_info()["workers"])
    client.run(_die, workers=[victim], wait=False)
    got = client.gather(futures)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    client.wait_for_workers(2, timeout=60)
    assert victim in before and victim not in client.scheduler_info()["workers"]


def _peak_rss_sampler(dask_worker):
    """Start sampling this process's RSS every 10 ms in a thread (run on each worker)."""
    import psutil

    proc = psutil.Process()
    state = {"base": proc.memory_info().rss, "peak": 0, "stop": False}

    def loop():
        while not state["stop"]:
            state["peak"] = max(state["peak"], proc.memory_info().rss)
            time.sleep(0.01)

    threading.Thread(target=loop, daemon=True).start()
    dask_worker.dv_rss_state = state
    return state["base"]


def _warm_up(name, X, wm):
    dv.knn(X[:20], X, 3, name, working_memory=wm)
    dv.knn(X[:20], X, 3, name, working_memory=wm, check_finite=False)


def _peak_rss_stop(dask_worker):
    state = dask_worker.dv_rss_state
    state["stop"] = True
    return state["base"], state["peak"]


def _memory_check(client, tmp_path, n, rows, q, wm):
    d, k = 64, 10  # wm: MiB of one block of distances inside a task
    path = tmp_path / "db.f64"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=(n, d))
    rng = np.random.default_rng(0)
    for s in range(0, n, 200_000):
        mm[s : s + 200_000] = rng.dirichlet(np.ones(d), min(200_000, n - s))
    mm.flush()
    Q = np.array(mm[rng.choice(n, q, replace=False)]) * 0.9 + 0.1 / d
    del mm
    XB = dvd.from_memmap(path, (n, d), rows=rows)
    # a metric with a factored (BLAS) form on non-negative rows (Hellinger's place)
    m = _first(
        lambda m: (
            m.properties.metric.holds == "always"
            and m.domain == "nonnegative"
            and factored.factorable(m, "strict")
        )
    )
    # warm up: every worker loads the kernels (and Numba's compiler) before the baseline
    client.run(_warm_up, m.name, Q[:50], wm)
    client.run(_peak_rss_sampler)
    idx, val = client.gather(client.compute(list(dvd.knn(Q, XB, k, m, working_memory=wm))))
    peaks = client.run(_peak_rss_stop)
    block = rows * d * 8
    whole = n * d * 8
    for base, peak in peaks.values():
        # a few blocks of XB (the block read from disk, its prepared per-row transform,
        # the next task's block, allocator slack), two blocks of distances, the merge lists:
        # 2,000,000 rows measured 166 MiB above the baseline, a sixth of the 977 MiB database
        print(f"worker peak RSS above its warm baseline: {(peak - base) / 2**20:.1f} MiB")
        assert peak - base < 6 * block + 2 * wm * 2**20 + 32 * 2**20 < whole, (
            peak - base
        ) / 2**20
    # the answer is the single-process one (checked on 10 queries)
    ref_idx, ref_val = dv.knn(
        Q[:10], np.memmap(path, dtype=np.float64, mode="r", shape=(n, d)), k, m
    )
    np.testing.assert_array_equal(idx[:10], ref_idx)
    np.testing.assert_allclose(val[:10], ref_val, rtol=1e-12)
    return peaks


def test_knn_memory_per_worker_stays_a_few_blocks(client, tmp_path):
    # CI size: 200 queries against 200,000 x 64 (102 MB on disk), blocks of 5,000 rows
    # (2.6 MB); the bound is 4 blocks + 2 x 4 MiB of distances + 32 MiB of slack (Python's
    # allocator; measured 21-26 MiB in all) = 50 MiB, half the 102 MB array
    _memory_check(client, tmp_path, 200_000, 5_000, 200, 4)


@pytest.mark.slow
def test_knn_memory_2_million_rows(client, tmp_path):
    # the size: 2,000,000 x 64 (1.0 GB on disk), blocks of 50,000 rows (25.6 MB)
    _memory_check(client, tmp_path, 2_000_000, 50_000, 2000, 16)


def test_from_memmap_reads_blocks_from_the_file(tmp_path):
    X = np.random.default_rng(4).random((11, 3))
    path = tmp_path / "x.f64"
    X.tofile(path)
    A = dvd.from_memmap(path, (11, 3), rows=4)
    assert A.chunks == ((4, 4, 3), (3,))
    np.testing.assert_array_equal(A.compute(scheduler="sync"), X)
    with pytest.raises(dv.InputError, match="needs"):
        dvd.from_memmap(path, (12, 3))
