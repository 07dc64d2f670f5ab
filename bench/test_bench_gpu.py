"""GPU benchmarks (skipped without a CUDA device): divergences' CUDA kernels against
cupyx.scipy.spatial.distance.cdist and cuVS/pylibraft ``pairwise_distance`` for the metrics
they share, torch.cdist for p-norms, and cupy.matmul's throughput for the inner-product
family, on the same device arrays in one run. Every benchmark also checks its result
against the peer's (so ``--benchmark-disable`` is a correctness run)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import divergences as dv

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from gpu_device import device_reason

REASON = device_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

#: ours -> cupyx.scipy.spatial.distance / cuVS metric name
SHARED = {
    "manhattan": "cityblock",
    "euclidean": "euclidean",
    "squared_euclidean": "sqeuclidean",
    "chebyshev": "chebyshev",
    "canberra": "canberra",
    "sorensen": "braycurtis",
    "cosine_distance": "cosine",
    "jensen_shannon_distance": "jensenshannon",
}


@pytest.fixture(scope="module")
def cp():
    import cupy

    return cupy


@pytest.fixture(scope="module")
def device_data(cp, data):
    """The CPU benchmarks' float64 rows (same seed), copied to the device once."""
    A, B = data["float64"]
    return cp.asarray(A), cp.asarray(B)


def _timed(benchmark: Any, cp: Any, fn: Any, work: float, group: str) -> Any:
    def run() -> Any:
        out = fn()
        cp.cuda.Device().synchronize()
        return out

    run()  # compile / warm up
    benchmark.group = group
    result = benchmark.pedantic(run, rounds=5, iterations=1) if not benchmark.disabled else run()
    if not benchmark.disabled:
        benchmark.extra_info["pair_dims_per_s"] = work / benchmark.stats.stats.min
    return result


def _peer(kind: str) -> Any:
    if kind == "cupyx":
        return importlib.import_module("cupyx.scipy.spatial.distance").cdist
    try:
        return importlib.import_module("cuvs.distance").pairwise_distance
    except ImportError:
        try:
            return importlib.import_module("pylibraft.distance").pairwise_distance
        except ImportError:
            pytest.skip("neither cuVS nor pylibraft is installed")


@pytest.mark.parametrize("name", list(SHARED))
@pytest.mark.parametrize("impl", ["divergences", "cupyx", "cuvs"])
def test_shared_metric(benchmark, cp, device_data, name, impl):
    A, B = device_data
    work = A.shape[0] * B.shape[0] * A.shape[1]
    metric = SHARED[name]
    if impl == "divergences":
        fn = lambda: dv.cdist(A, B, name)  # noqa: E731
    else:
        peer = _peer(impl)
        fn = lambda: cp.asarray(peer(A, B, metric=metric))  # noqa: E731
    got = _timed(benchmark, cp, fn, work, f"gpu {name}")
    ref = dv.cdist(cp.asnumpy(A[:16]), cp.asnumpy(B), name)
    np.testing.assert_allclose(cp.asnumpy(got[:16]), ref, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("impl", ["divergences", "torch"])
def test_pnorm_vs_torch(benchmark, cp, device_data, p, impl):
    A, B = device_data
    work = A.shape[0] * B.shape[0] * A.shape[1]
    if impl == "torch":
        torch = pytest.importorskip("torch")
        if not torch.cuda.is_available():
            pytest.skip("torch has no CUDA device")
        tA, tB = torch.as_tensor(A, device="cuda"), torch.as_tensor(B, device="cuda")
        fn = lambda: cp.asarray(torch.cdist(tA, tB, p=p))  # noqa: E731
    else:
        fn = lambda: dv.cdist(A, B, "minkowski", p=p)  # noqa: E731
    got = _timed(benchmark, cp, fn, work, f"gpu minkowski p={p}")
    ref = dv.cdist(cp.asnumpy(A[:16]), cp.asnumpy(B), "minkowski", p=p)
    np.testing.assert_allclose(cp.asnumpy(got[:16]), ref, rtol=1e-6)


@pytest.mark.parametrize("name", ["inner_product", "cosine", "fidelity", "kullback_leibler"])
def test_against_matmul(benchmark, cp, device_data, name):
    """Measures with a product form against cupy.matmul on the same shapes (GFLOP/s)."""
    A, B = device_data
    work = A.shape[0] * B.shape[0] * A.shape[1]
    got = _timed(benchmark, cp, lambda: dv.cdist(A, B, name), work, f"gpu vs matmul {name}")
    if not benchmark.disabled:
        mm = _timed_matmul(cp, A, B)
        benchmark.extra_info["matmul_gflops"] = mm
        benchmark.extra_info["fraction_of_matmul"] = 2 * work / benchmark.stats.stats.min / 1e9 / mm
    ref = dv.cdist(cp.asnumpy(A[:16]), cp.asnumpy(B), name)
    np.testing.assert_allclose(cp.asnumpy(got[:16]), ref, rtol=1e-9)


def _timed_matmul(cp: Any, A: Any, B: Any) -> float:
    import time

    A @ B.T
    cp.cuda.Device().synchronize()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        A @ B.T
        cp.cuda.Device().synchronize()
        best = min(best, time.perf_counter() - t)
    return 2 * A.shape[0] * B.shape[0] * A.shape[1] / best / 1e9
