"""Kernel launches from threads and forked processes, whatever Numba's threading layer
(divergences/kernels/launching.py).  Each scenario runs in a fresh Python process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SETUP = textwrap.dedent(
    """
    import numpy as np, divergences as dv
    rng = np.random.default_rng(1)
    X, Y = rng.random((300, 32)), rng.random((200, 32))
    REF = np.abs(X[:, None] - Y[None]).max(-1)   # Chebyshev, by hand
    def ok(_=None):
        return bool(np.array_equal(dv.cdist(X, Y, "chebyshev"), REF))
    """
)


def run(code: str, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    full.update(PYTHONPATH=str(ROOT), **env)
    proc = subprocess.run(
        [sys.executable, "-c", SETUP + textwrap.dedent(code)],
        env=full,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_eight_threads_under_the_workqueue_layer():
    """workqueue is not thread-safe: without serialised launches the process aborts."""
    out = run(
        """
        import threading, numba
        results, barrier = [], threading.Barrier(8)
        def work():
            barrier.wait()
            results.extend(ok() for _ in range(4))
        threads = [threading.Thread(target=work) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print(numba.threading_layer(), results.count(True), len(results))
        """,
        NUMBA_THREADING_LAYER="workqueue",
    )
    assert out == "workqueue 32 32"


def test_a_fork_pool_after_kernels_ran():
    """GNU OpenMP (the omp layer) terminates a forked child at its first parallel launch;
    the children run serial twins of the kernels instead."""
    out = run(
        """
        import multiprocessing as mp, numba
        assert ok()
        with mp.get_context("fork").Pool(2) as pool:
            got = pool.map_async(ok, range(4)).get(timeout=300)
        print(numba.threading_layer(), got)
        """
    )
    assert out.split(" ", 1)[1] == str([True] * 4)
