"""Launching parallel Numba kernels safely from threads and forked processes.

Numba runs ``prange`` loops on one of three threading layers (``numba.threading_layer()``,
chosen at the first parallel launch, or set by ``NUMBA_THREADING_LAYER``):

- ``tbb`` and ``omp`` accept launches from several threads at once;
- ``workqueue`` (the fallback without TBB or an OpenMP runtime) does not: two threads
  launching together abort the process ("Concurrent access has been detected").  Launches are
  serialised here whenever the layer is not known to be thread-safe (each launch still uses
  every core);
- GNU OpenMP does not survive ``fork()``: a child forked after the parent ran a parallel
  kernel terminates at its first parallel launch.  In such a child the kernels run on one
  thread instead (a serial twin of each kernel, compiled, and cached, on first use there).
  Prefer the ``spawn`` or ``forkserver`` start methods, or the ``tbb`` layer, to keep every
  core in every worker.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

_LAUNCH = threading.Lock()
_TWINS: dict[int, Any] = {}
_TWINS_LOCK = threading.Lock()
#: set in a child forked from a process whose kernels ran on GNU OpenMP
_FORKED_FROM_GNU_OPENMP = [False]
_THREAD_SAFE_LAYERS = {"tbb", "omp"}


def threading_layer() -> str | None:
    """The threading layer Numba uses in this process, or None before the first launch."""
    from numba.np.ufunc import parallel

    if not parallel._is_initialized:
        return None
    try:
        return parallel.threading_layer()
    except ValueError:
        return None


def _gnu_openmp() -> bool:
    if threading_layer() != "omp":
        return False
    try:
        from numba.np.ufunc import omppool
    except ImportError:  # pragma: no cover - the omp layer comes from this module
        return False
    return getattr(omppool, "openmp_vendor", "GNU") == "GNU"


def _after_fork_in_child() -> None:
    import sys

    if "numba.np.ufunc.parallel" in sys.modules and _gnu_openmp():
        _FORKED_FROM_GNU_OPENMP[0] = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def variant(kernel: Any) -> Any:
    """``kernel``, or its serial twin in a process forked from GNU OpenMP."""
    if not _FORKED_FROM_GNU_OPENMP[0] or not kernel.targetoptions.get("parallel"):
        return kernel
    twin = _TWINS.get(id(kernel))
    if twin is None:
        with _TWINS_LOCK:
            twin = _TWINS.get(id(kernel))
            if twin is None:
                twin = _serial_twin(kernel)
                _TWINS[id(kernel)] = twin
    return twin


def _serial_twin(kernel: Any) -> Any:
    import numba

    options = {k: v for k, v in kernel.targetoptions.items() if k not in ("parallel", "nopython")}
    twin = numba.njit(**options)(kernel.py_func)
    cache = getattr(kernel, "_cache", None)
    twin_cache = getattr(cache, "twin", None)
    if twin_cache is not None:  # a disk cache of its own, beside the parallel kernel's
        twin._cache = twin_cache(kernel.py_func, "serial")
    return twin


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Held around a kernel launch: serialises launches unless the layer is thread-safe."""
    if threading_layer() in _THREAD_SAFE_LAYERS:
        yield
        return
    with _LAUNCH:
        yield
