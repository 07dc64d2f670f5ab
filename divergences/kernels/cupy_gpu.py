"""Launching the generated CUDA kernels: cupy.RawModule on a GPU, the same code everywhere.

Everything between the API and a kernel launch lives here: choosing the kernel (dtype),
converting and packing the arguments with the exact types the CUDA signatures declare
(``long long`` as ``numpy.int64``, ``double`` as ``numpy.float64``, ``int`` as
``numpy.int32``: CuPy would pass a bare Python int as a 64-bit integer), choosing grid and
block, splitting launches that would exceed the grid's limits, and the symmetric-half,
condensed and top-k steps.

A :class:`Runtime` supplies the two things that differ between a GPU and the CPU shim of
the test suite: the array module of device arrays (``cupy``) and the module factory
(source -> object whose ``get_function(name)`` returns a ``kernel(grid, block, args)``
callable, which is what ``cupy.RawModule`` gives). The tests install a runtime whose
factory compiles the same CUDA source with g++ and whose arrays are NumPy arrays; the code
below is otherwise identical on both.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..spec import Measure
from .cuda_source import BLOCK, MAX_PARAMS, NVRTC_OPTIONS, TILE, module_source, zero_mode

#: CUDA's limit on gridDim.y: a launch covers at most this many row tiles
MAX_GRID_Y = 65535
#: CUDA's limit on gridDim.x: a paired launch covers at most this many rows
MAX_GRID_X = 2**31 - 1
#: threads per block of the paired kernels (DV_PAIRED_THREADS of cuda/paired.cu)
PAIRED_THREADS = 256
#: threads per block of the top-k merge (one thread per row)
TOPK_THREADS = 128


class GPUUnavailableError(RuntimeError):
    """CuPy or a CUDA device is missing."""


@dataclass
class Runtime:
    """Where the kernels run: an array module and a CUDA module factory.

    Parameters
    ----------
    name : str
        For messages ("cupy", "cpu-shim").
    xp : module
        Array module of the device arrays (``cupy``; ``numpy`` for the CPU shim).
    module_factory : callable
        ``module_factory(source)`` returns an object with ``get_function(name)``, whose
        result is called as ``kernel(grid, block, args)`` (cupy.RawModule's convention).
    owns : callable
        ``owns(xp)``: whether arrays of array namespace ``xp`` live on this runtime.
    """

    name: str
    xp: Any
    module_factory: Callable[[str], Any]
    owns: Callable[[Any], bool]
    _modules: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def module(self, measure: Measure, zero: str) -> Any:
        """The compiled module of ``measure`` in zero mode ``zero`` (compiled once)."""
        key = (measure.name, zero_mode(measure, zero))
        with self._lock:
            mod = self._modules.get(key)
            if mod is None:
                mod = self.module_factory(module_source(measure, key[1]))
                self._modules[key] = mod
            return mod


def _cupy_runtime() -> Runtime:
    try:
        import cupy
    except ImportError:
        raise GPUUnavailableError(
            "CuPy is not installed (pip install 'divergences[gpu]' for CuPy >= 14)"
        ) from None
    major = int(cupy.__version__.split(".")[0])
    if major < 14:
        raise GPUUnavailableError(f"CuPy >= 14 is required, found {cupy.__version__}")
    try:
        ok = bool(cupy.is_available())
    except Exception:  # any driver error means no usable device
        ok = False
    if not ok:
        raise GPUUnavailableError("CuPy found no usable CUDA device (cupy.is_available() is False)")
    import array_api_compat

    return Runtime(
        name="cupy",
        xp=cupy,
        module_factory=lambda src: cupy.RawModule(code=src, options=NVRTC_OPTIONS),
        owns=array_api_compat.is_cupy_namespace,
    )


_RUNTIME: Runtime | None = None
_OVERRIDE: list[Runtime] = []


def runtime() -> Runtime:
    """The runtime in use: an installed override (tests), else CuPy on the current device.

    Raises
    ------
    GPUUnavailableError
        Without CuPy >= 14 or without a CUDA device, in one sentence saying which.
    """
    global _RUNTIME
    if _OVERRIDE:
        return _OVERRIDE[-1]
    if _RUNTIME is None:
        _RUNTIME = _cupy_runtime()
    return _RUNTIME


@contextlib.contextmanager
def use_runtime(rt: Runtime) -> Iterator[Runtime]:
    """Run the GPU back end on ``rt`` inside the ``with`` block (the test suite's CPU shim)."""
    _OVERRIDE.append(rt)
    try:
        yield rt
    finally:
        _OVERRIDE.remove(rt)


def _params(measure: Measure, params: dict[str, float]) -> list[np.float64]:
    values = [np.float64(params[p.name]) for p in measure.params]
    assert len(values) <= MAX_PARAMS
    return values + [np.float64(0.0)] * (MAX_PARAMS - len(values))


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _operands(rt: Runtime, XA: Any, XB: Any) -> tuple[Any, Any, str]:
    """Both operands C-contiguous and of one kernel dtype: float32 when both are, else float64."""
    xp = rt.xp
    if XA.dtype == xp.float32 and XB.dtype == xp.float32:
        kind = "f32"
    else:
        kind = "f64"
        XA, XB = XA.astype(xp.float64, copy=False), XB.astype(xp.float64, copy=False)
    return xp.ascontiguousarray(XA), xp.ascontiguousarray(XB), kind


def cdist(
    measure: Measure,
    XA: Any,
    XB: Any,
    *,
    zero: str,
    eps: float,
    params: dict[str, float],
    same_input: bool = False,
) -> Any:
    """``measure`` for every row of XA against every row of XB, a float64 device array.

    ``same_input=True`` (XA and XB are the same rows) computes the upper half of a
    symmetric measure and mirrors it; an asymmetric measure always gets every pair.
    """
    rt = runtime()
    xp = rt.xp
    A, B, kind = _operands(rt, XA, XB)
    m, n, d = A.shape[0], B.shape[0], A.shape[1]
    out = xp.empty((m, n), dtype=xp.float64)
    if out.size == 0:
        return out
    mod = rt.module(measure, zero)
    kernel = mod.get_function(f"dv_cdist_{kind}")
    rows_per_launch = MAX_GRID_Y * TILE[0]
    half = bool(same_input and measure.is_symmetric(zero, params) and m <= rows_per_launch)
    tail = (np.float64(eps), *_params(measure, params), np.int32(half))
    for start in range(0, m, rows_per_launch):
        stop = min(start + rows_per_launch, m)
        grid = (_ceil(n, TILE[1]), _ceil(stop - start, TILE[0]), 1)
        args = (A[start:stop], B, out[start:stop], np.int64(stop - start), np.int64(n))
        kernel(grid, (*BLOCK, 1), (*args, np.int64(d), *tail))
    if half:
        grid = (_ceil(m, BLOCK[0]), _ceil(m, BLOCK[1]), 1)
        mod.get_function("dv_mirror")(grid, (*BLOCK, 1), (out, np.int64(m)))
    return out


def paired(
    measure: Measure, XA: Any, XB: Any, *, zero: str, eps: float, params: dict[str, float]
) -> Any:
    """``measure(XA[i], XB[i])`` for every row i, a float64 device array of shape (m,).

    One block of PAIRED_THREADS threads per row; launches of at most MAX_GRID_X rows.
    """
    rt = runtime()
    xp = rt.xp
    A, B, kind = _operands(rt, XA, XB)
    m, d = A.shape
    out = xp.empty((m,), dtype=xp.float64)
    if m == 0:
        return out
    kernel = rt.module(measure, zero).get_function(f"dv_paired_{kind}")
    tail = (np.float64(eps), *_params(measure, params))
    for start in range(0, m, MAX_GRID_X):
        stop = min(start + MAX_GRID_X, m)
        args = (A[start:stop], B[start:stop], out[start:stop], np.int64(stop - start))
        kernel((stop - start, 1, 1), (PAIRED_THREADS, 1, 1), (*args, np.int64(d), *tail))
    return out


def paired_grad(
    measure: Measure, XA: Any, XB: Any, *, zero: str, eps: float, params: dict[str, float]
) -> tuple[Any, Any, Any]:
    """Values and analytic gradients of ``measure(XA[i], XB[i])`` for every row i.

    Parameters
    ----------
    measure : Measure
        The measure; its module is compiled once per zero mode.
    XA, XB : device arrays, shape (m, d)
        The rows (float32 when both are, else computed from float64 copies).
    zero : str
        Zero mode.
    eps : float
        Epsilon of the epsilon rule.
    params : dict of str to float
        Every parameter of the measure.

    Returns
    -------
    values : device array, shape (m,), float64
    GA, GB : device arrays, shape (m, d)
        ``d values[i] / d XA[i]`` and ``d / d XB[i]``, in the kernel's dtype (float32 for
        float32 rows, else float64), computed in double.

    Notes
    -----
    One block of PAIRED_THREADS threads per row (``dv_paired_grad_f64``/``_f32``, the
    conventions of :mod:`divergences.kernels.paired_grad_numba`); launches of at most
    MAX_GRID_X rows.
    """
    rt = runtime()
    xp = rt.xp
    A, B, kind = _operands(rt, XA, XB)
    m, d = A.shape
    out = xp.empty((m,), dtype=xp.float64)
    GA, GB = xp.empty((m, d), dtype=A.dtype), xp.empty((m, d), dtype=B.dtype)
    if m == 0:
        return out, GA, GB
    kernel = rt.module(measure, zero).get_function(f"dv_paired_grad_{kind}")
    tail = (np.int64(d), np.float64(eps), *_params(measure, params))
    for start in range(0, m, MAX_GRID_X):
        stop = min(start + MAX_GRID_X, m)
        rows = slice(start, stop)
        args = (A[rows], B[rows], out[rows], GA[rows], GB[rows], np.int64(stop - start))
        kernel((stop - start, 1, 1), (PAIRED_THREADS, 1, 1), (*args, *tail))
    return out, GA, GB


def pdist(measure: Measure, X: Any, *, zero: str, eps: float, params: dict[str, float]) -> Any:
    """Condensed values among the rows of X (scipy's layout) of a symmetric measure."""
    rt = runtime()
    xp = rt.xp
    m = X.shape[0]
    out = xp.empty(m * (m - 1) // 2, dtype=xp.float64)
    if out.size == 0:
        return out
    sq = cdist(measure, X, X, zero=zero, eps=eps, params=params, same_input=True)
    grid = (_ceil(m, BLOCK[0]), _ceil(m, BLOCK[1]), 1)
    rt.module(measure, zero).get_function("dv_condense")(grid, (*BLOCK, 1), (sq, out, np.int64(m)))
    return out


def top_k(measure: Measure, zero: str, D: Any, k: int, *, largest: bool) -> tuple[Any, Any]:
    """The ``k`` best columns of every row of the block ``D`` (rows x n), on the device.

    Order: by value (ascending, or descending with ``largest``), NaN after every number,
    ties to the lower column, as the first ``k`` columns of a stable argsort. Returns
    ``(indices int64, values float64)``, each ``rows x k``.
    """
    rt = runtime()
    xp = rt.xp
    rows, cols = D.shape
    values = xp.full((rows, k), xp.nan, dtype=xp.float64)
    indices = xp.full((rows, k), -1, dtype=xp.int64)
    if rows and k:
        D = xp.ascontiguousarray(D, dtype=xp.float64)
        rt.module(measure, zero).get_function("dv_topk_merge")(
            (_ceil(rows, TOPK_THREADS), 1, 1),
            (TOPK_THREADS, 1, 1),
            (
                D,
                np.int64(rows),
                np.int64(cols),
                np.int64(0),
                values,
                indices,
                np.int64(k),
                np.int32(largest),
            ),
        )
    return indices, values
