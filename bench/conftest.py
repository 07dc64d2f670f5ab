"""Benchmarks of divergences against scipy, scikit-learn and NumPy (pytest-benchmark).

Not part of the default test run (the project's ``testpaths`` leave ``bench/`` out); run
them with ``python -m pytest bench``. Every benchmark also asserts that the timed result
equals its peer's (rtol 1e-9 for float64 input, 1e-5 for float32), so CI runs them as a
correctness smoke test with ``python -m pytest bench --benchmark-disable -q``.

Size: ``--bench-size=tiny|short|full`` or ``$DIVERGENCES_BENCH_SIZE``; by default ``full``
(the issue's 2000 x 2000 x 256, knn 200 x 20000 x 64), and ``tiny`` when benchmarks are
disabled (``--benchmark-disable``), so that CI's smoke run takes seconds. The data come
from :func:`divergences.benchmark.make_data` with a fixed seed: the same for everyone in
one run.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from divergences import benchmark as bm

ENV = "DIVERGENCES_BENCH_SIZE"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--bench-size",
        choices=list(bm.SIZES),
        default=None,
        help=f"data size of bench/ (default: ${ENV}, else full, or tiny with --benchmark-disable)",
    )


def _disabled(config: pytest.Config) -> bool:
    try:
        return bool(config.getoption("benchmark_disable")) and not config.getoption(
            "benchmark_enable"
        )
    except ValueError:  # pytest-benchmark not installed
        return True


def bench_size(config: pytest.Config) -> str:
    size = config.getoption("--bench-size") or os.environ.get(ENV)
    if size:
        if size not in bm.SIZES:
            raise pytest.UsageError(f"${ENV}={size!r}: expected one of {', '.join(bm.SIZES)}")
        return size
    return "tiny" if _disabled(config) else "full"


def pytest_report_header(config: pytest.Config) -> list[str]:
    size = bench_size(config)
    m, n, d = bm.SIZES[size]
    q, rows, kd, k = bm.KNN_SIZES[size]
    info = bm.machine_info()
    return [
        f"bench size {size}: cdist {m} x {n} x {d}, knn {q} x {rows} x {kd} (k={k}), "
        f"seed {bm.SEED}",
        "machine: " + ", ".join(f"{key} {value}" for key, value in info.items()),
    ]


@pytest.fixture(scope="session")
def size(request: pytest.FixtureRequest) -> str:
    return bench_size(request.config)


@pytest.fixture(scope="session")
def shape(size: str) -> tuple[int, int, int]:
    return bm.SIZES[size]


@pytest.fixture(scope="session")
def data(shape: tuple[int, int, int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"float64": (XA, XB), "float32": copies}: probability rows from the fixed seed."""
    return bm.make_data(*shape)


@pytest.fixture(scope="session")
def knn_data(size: str) -> dict[str, Any]:
    q, rows, d, k = bm.KNN_SIZES[size]
    Q, DB = bm.make_data(q, rows, d, seed=bm.SEED + 1)["float64"]
    return {"Q": Q, "DB": DB, "k": k}


class ResultCache:
    """The last few results by key, so each side of a comparison is computed once."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def put(self, key: tuple, value: np.ndarray) -> np.ndarray:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.keep:
            self._items.popitem(last=False)
        return value

    def get(self, key: tuple, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return self.put(key, compute())


@pytest.fixture(scope="session")
def results() -> ResultCache:
    return ResultCache()
