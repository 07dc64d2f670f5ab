"""divergences.cdist against scipy, scikit-learn and NumPy on the same data, side by side.

Groups (pytest-benchmark ``group``) hold one measure, dtype and shape, so each table
compares the implementations of one computation. Every test asserts that its result
equals the other side's (see ``conftest.py``): the benchmarks double as correctness checks
and never assert on time. ``extra_info`` carries pair-dims/s (m n d / best time), GFLOP/s
or GB/s, for the JSON output (``--benchmark-json``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import divergences as dv
from divergences import benchmark as bm

DTYPES = ("float64", "float32")
#: seconds of timed rounds per benchmark (at least one round, at most MAX_ROUNDS)
BUDGET_S = 3.0
MAX_ROUNDS = 10
#: measures of the NumPy-broadcast group also timed on float32 input (the peer upcasts)
BROADCAST_FLOAT32 = bm.SHORT_BROADCAST
#: rows of XA the catalog benchmark compares with the reference implementation
CATALOG_CHECK_ROWS = 16


def timed(
    benchmark: Any,
    fn: Callable[[], Any],
    probe: Callable[[], Any],
    scale: float,
    *,
    group: str,
    work: float | None = None,
    unit: str = "pair_dims_per_s",
    **info: Any,
) -> Any:
    """Benchmark ``fn``; ``probe`` (the same call on 1/``scale`` of the rows) warms up
    (compilation, BLAS threads, worker pools) and sizes the number of rounds, so slow
    peers run once and fast kernels several times. ``work / best time`` goes to
    ``extra_info[unit]``."""
    benchmark.group = group
    benchmark.extra_info.update(info)
    if benchmark.disabled:
        return benchmark(fn)
    t0 = time.perf_counter()
    probe()
    estimate = (time.perf_counter() - t0) * scale
    rounds = int(min(MAX_ROUNDS, max(1, BUDGET_S // max(estimate, 1e-9))))
    result = benchmark.pedantic(fn, rounds=rounds, iterations=1)
    if work is not None:
        benchmark.extra_info[unit] = work / benchmark.stats.stats.min
    return result


def _group(kind: str, measure: str, dtype: str, shape: tuple[int, int, int]) -> str:
    return f"{kind} {measure} {dtype} {'x'.join(map(str, shape))}"


def _probe_rows(m: int) -> int:
    return max(1, min(m, 64))


# -- metrics scipy shares: ours, scipy cdist, scikit-learn pairwise_distances(n_jobs=2) ------
SHARED_CASES = [
    pytest.param(measure, dtype, impl, id=f"{measure}-{dtype}-{impl}")
    for measure in bm.SCIPY
    for dtype in DTYPES
    for impl in ("scipy", "divergences", "sklearn")
    if impl != "sklearn" or measure in bm.SKLEARN
]


def _sklearn(measure: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    metrics = pytest.importorskip("sklearn.metrics")
    metric, kwargs = bm.SKLEARN[measure]
    return lambda XA, XB: metrics.pairwise_distances(XA, XB, metric=metric, n_jobs=2, **kwargs)


def _against_peer(benchmark, data, shape, results, measure, dtype, impl, f, peer_impl):
    """Time ``f`` (ours, or the peer ``peer_impl``) and assert it equals the other side."""
    case = bm.case(measure)
    XA, XB = data[dtype]
    p = _probe_rows(shape[0])
    got = timed(
        benchmark,
        lambda: f(XA, XB),
        lambda: f(XA[:p], XB),
        shape[0] / p,
        group=_group("cdist", measure, dtype, shape),
        work=float(np.prod(shape)),
        measure=measure,
        dtype=dtype,
        impl=impl,
        peer=case.peer,
    )
    if impl == "divergences":
        results.put(("ours", measure, dtype), got)
        other = results.get((peer_impl, measure, dtype), lambda: case.peer_fn(XA, XB))
    else:
        results.put((impl, measure, dtype), got)
        other = results.get(("ours", measure, dtype), lambda: case.ours(XA, XB))
    bm.assert_same(got, other, dtype, f"{impl} {measure} {dtype}")


@pytest.mark.parametrize(("measure", "dtype", "impl"), SHARED_CASES)
def test_scipy_shared(benchmark, data, shape, results, measure, dtype, impl):
    case = bm.case(measure)
    f = {"scipy": case.peer_fn, "divergences": case.ours}.get(impl) or _sklearn(measure)
    _against_peer(benchmark, data, shape, results, measure, dtype, impl, f, "scipy")


# -- measures scipy lacks: ours against a NumPy broadcast ----------------------------------
BROADCAST_CASES = [
    pytest.param(measure, dtype, impl, id=f"{measure}-{dtype}-{impl}")
    for measure in bm.BROADCAST
    for dtype in DTYPES
    for impl in ("numpy", "divergences")
    if dtype == "float64" or measure in BROADCAST_FLOAT32
]


@pytest.mark.parametrize(("measure", "dtype", "impl"), BROADCAST_CASES)
def test_numpy_broadcast(benchmark, data, shape, results, measure, dtype, impl):
    case = bm.case(measure)
    f = case.peer_fn if impl == "numpy" else case.ours
    _against_peer(benchmark, data, shape, results, measure, dtype, impl, f, "numpy")


# -- every measure of the catalog once: our kernel, checked against the reference ----------
@pytest.mark.parametrize("measure", [m.name for m in dv.measures()])
def test_catalog(benchmark, data, shape, measure):
    XA, XB = data["float64"]
    p = _probe_rows(shape[0])
    got = timed(
        benchmark,
        lambda: dv.cdist(XA, XB, measure),
        lambda: dv.cdist(XA[:p], XB, measure),
        shape[0] / p,
        group=_group("catalog", "every measure", "float64", shape),
        work=float(np.prod(shape)),
        measure=measure,
        dtype="float64",
        impl="divergences",
    )
    k = min(CATALOG_CHECK_ROWS, shape[0])
    ref = dv.cdist(XA[:k], XB, measure, backend="numpy")
    bm.assert_same(got[:k], ref, "float64", f"{measure} vs reference")


# -- knn: fused top-k against a full matrix and a stable argsort ---------------------------
KNN_MEASURES = ("manhattan", "kullback_leibler")


def _full_then_argsort(measure: str) -> Callable[[np.ndarray, np.ndarray, int], tuple]:
    case = bm.case(measure)

    def search(Q: np.ndarray, DB: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        D = case.peer_fn(Q, DB)
        idx = np.argsort(D, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(D, idx, axis=1)

    return search


def _sklearn_knn(measure: str) -> Callable[[np.ndarray, np.ndarray, int], tuple]:
    neighbors = pytest.importorskip("sklearn.neighbors")
    metric = bm.SKLEARN[measure][0]

    def search(Q: np.ndarray, DB: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        nn = neighbors.NearestNeighbors(n_neighbors=k, algorithm="brute", metric=metric, n_jobs=2)
        val, idx = nn.fit(DB).kneighbors(Q)
        return idx, val

    return search


KNN_CASES = [
    pytest.param(measure, orient, impl, id=f"{measure}-{orient}-{impl}")
    for measure in KNN_MEASURES
    for orient in ("few-queries", "many-queries")
    for impl in ("divergences", "full+argsort", "sklearn")
    if impl != "sklearn" or measure in bm.SKLEARN
]


@pytest.mark.parametrize(("measure", "orient", "impl"), KNN_CASES)
def test_knn(benchmark, knn_data, measure, orient, impl):
    """knn of 200 queries in 20000 rows (and 20000 queries in 200 rows), d = 64, k = 10."""
    if not hasattr(dv, "knn"):
        pytest.skip("divergences.knn is not there yet")
    Q, DB, k = knn_data["Q"], knn_data["DB"], knn_data["k"]
    if orient == "many-queries":
        Q, DB = DB, Q
    if impl == "divergences":
        search = lambda Q, DB, k: dv.knn(Q, DB, k, measure)  # noqa: E731
    elif impl == "sklearn":
        search = _sklearn_knn(measure)
    else:
        search = _full_then_argsort(measure)
    p = _probe_rows(Q.shape[0])
    idx, val = timed(
        benchmark,
        lambda: search(Q, DB, k),
        lambda: search(Q[:p], DB, k),
        Q.shape[0] / p,
        group=f"knn {measure} {Q.shape[0]}q x {DB.shape[0]} x {Q.shape[1]} k={k}",
        work=float(Q.shape[0] * DB.shape[0] * Q.shape[1]),
        measure=measure,
        impl=impl,
    )
    want_idx, want_val = (
        _full_then_argsort(measure)(Q, DB, k)
        if impl == "divergences"
        else dv.knn(Q, DB, k, measure)
    )
    np.testing.assert_array_equal(idx, want_idx)
    bm.assert_same(val, want_val, "float64", f"knn {measure} {impl}")


# -- knn against a 15-line NumPy baseline (issue 13 item 13) --------------------------------
#: (queries, rows, features, k) per size: the issue's 1,000 x 200,000 x 64 at full size
BASELINE_SIZES = {
    "tiny": (23, 300, 9, 5),
    "short": (200, 20000, 64, 10),
    "full": (1000, 200000, 64, 10),
}


def numpy_baseline_knn(measure: str) -> Callable[[np.ndarray, np.ndarray, int], tuple]:
    """The baseline of issue 13: a transform of the database once (sqrt or log), one BLAS
    product per block of queries, argpartition and a sort of the k (probability rows
    without zeros, which the baseline assumes and our knn does not)."""

    def search(Q: np.ndarray, DB: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        T = np.sqrt(DB) if measure == "hellinger" else np.log(DB)
        rows = max(1, (256 << 20) // (8 * DB.shape[0]))
        idx = np.empty((Q.shape[0], k), dtype=np.int64)
        val = np.empty((Q.shape[0], k))
        for s in range(0, Q.shape[0], rows):
            q = Q[s : s + rows]
            if measure == "hellinger":  # 2 sqrt(1 - sum sqrt(p q)) on pdfs
                D = 2.0 * np.sqrt(np.maximum(1.0 - np.sqrt(q) @ T.T, 0.0))
            else:  # sum p log p - p . log q
                D = (q * np.log(q)).sum(axis=1)[:, None] - q @ T.T
            part = np.argpartition(D, k - 1, axis=1)[:, :k]
            order = np.argsort(np.take_along_axis(D, part, axis=1), axis=1)
            idx[s : s + rows] = np.take_along_axis(part, order, axis=1)
            val[s : s + rows] = np.take_along_axis(D, idx[s : s + rows], axis=1)
        return idx, val

    return search


@pytest.fixture(scope="module")
def baseline_data(size: str) -> dict[str, Any]:
    q, rows, d, k = BASELINE_SIZES[size]
    Q, DB = bm.make_data(q, rows, d, seed=bm.SEED + 2)["float64"]
    return {"Q": Q, "DB": DB, "k": k, "want": {}}


@pytest.mark.parametrize("impl", ["divergences.knn", "divergences.Index", "numpy-baseline"])
@pytest.mark.parametrize("measure", ["hellinger", "kullback_leibler"])
def test_knn_vs_numpy_baseline(benchmark, baseline_data, measure, impl):
    """knn (and a prepared Index) beside the NumPy baseline, same data and run."""
    Q, DB, k = baseline_data["Q"], baseline_data["DB"], baseline_data["k"]
    if impl == "divergences.knn":
        search = lambda Q, DB, k: dv.knn(Q, DB, k, measure)  # noqa: E731
    elif impl == "divergences.Index":
        index = dv.Index(DB, measure)
        search = lambda Q, DB, k: index.search(Q, k)  # noqa: E731
    else:
        search = numpy_baseline_knn(measure)
    p = _probe_rows(Q.shape[0])
    idx, val = timed(
        benchmark,
        lambda: search(Q, DB, k),
        lambda: search(Q[:p], DB, k),
        Q.shape[0] / p,
        group=f"knn vs baseline {measure} {Q.shape[0]}q x {DB.shape[0]} x {Q.shape[1]}",
        work=float(Q.shape[0] * DB.shape[0] * Q.shape[1]),
        measure=measure,
        impl=impl,
    )
    if measure not in baseline_data["want"]:  # once per measure, outside the timing
        baseline_data["want"][measure] = dv.knn(Q, DB, k, measure, method="direct")
    want_idx, want_val = baseline_data["want"][measure]
    same = np.mean(idx == want_idx)
    assert same > 0.99, same  # the baseline's expanded form may swap near-ties
    np.testing.assert_allclose(val, want_val, rtol=1e-6)


# -- the machine's limits: GEMM GFLOP/s and memory bandwidth -------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm(benchmark, data, shape, dtype):
    """numpy matmul on the same shapes (2 m n d flops): the GEMM limit of factored forms."""
    XA, XB = data[dtype]
    XB_T = np.ascontiguousarray(XB.T)
    p = _probe_rows(shape[0])
    got = timed(
        benchmark,
        lambda: XA @ XB_T,
        lambda: XA[:p] @ XB_T,
        shape[0] / p,
        group=f"machine gemm {'x'.join(map(str, shape))}",
        work=2.0 * float(np.prod(shape)) / 1e9,
        unit="gflops",
        dtype=dtype,
    )
    bm.assert_same(got, dv.cdist(XA, XB, "inner_product"), dtype, f"matmul {dtype}")


@pytest.mark.parametrize("op", ["add", "copy"])
def test_memory_bandwidth(benchmark, size, op):
    """One NumPy thread streaming arrays far larger than the caches (GB/s in extra_info)."""
    nbytes = 1 << (22 if size == "tiny" else 28)
    n = nbytes // 8
    a, b, c = np.full(n, 1.0), np.full(n, 2.0), np.full(n, 0.0)
    fn = (lambda: np.add(a, b, out=c)) if op == "add" else (lambda: np.copyto(c, a))
    moved = (3 if op == "add" else 2) * nbytes
    timed(
        benchmark,
        fn,
        fn,
        1.0,
        group="machine memory bandwidth",
        work=moved / 1e9,
        unit="GBps",
        op=op,
        nbytes=nbytes,
    )
    assert np.all(c == (3.0 if op == "add" else 1.0))
