"""Memory-bounded batched work: the result in row blocks, and exact k-nearest-neighbour search.

:func:`cdist_chunked` yields the ``m x n`` matrix of :func:`~divergences.cdist` a block of
rows at a time, each block within ``working_memory`` MiB (scikit-learn's
``pairwise_distances_chunked``); :func:`knn` keeps only the ``k`` best columns of every row,
so that its peak memory is one block whatever the number of queries.

Inputs and options are validated once, up front, by the same code as :func:`cdist` (and with
the same errors); each block is then one :func:`cdist` call on a slice of the validated rows,
so that the choice of kernel stays in one place.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from .api import METHODS, MeasureLike, _prepare, cdist
from .registry import resolve
from .spec import Measure
from .validation import InputError

#: MiB of one block of results when ``working_memory`` is not given (scikit-learn's default
#: ``working_memory`` of 1024 MiB is for a whole program; this is for one block).
DEFAULT_WORKING_MEMORY = 256

_MIB = 1 << 20

#: knn ranks a block in this many slices of rows (its temporaries: a fraction of a block).
_RANK_SLICES = 8


@dataclass(frozen=True)
class _Plan:
    """Validated inputs and options, and the number of rows per block."""

    measure: Measure
    xp: Any
    A: Any
    B: Any
    options: dict[str, Any]
    rows: int


def _plan(
    XA: Any,
    XB: Any,
    measure: MeasureLike,
    working_memory: float | None,
    options: dict[str, Any],
) -> _Plan:
    options = dict(options)
    method = options.pop("method", "auto")
    m, xp, (A, B), zero, eps, params, backend = _prepare(
        measure, {"XA": XA, "XB": XB}, options, ndims=(1, 2)
    )
    if method not in METHODS:
        raise InputError(f"{m.name}: method={method!r} is not one of {METHODS}")
    wm = _working_memory(m, working_memory)
    if array_api_compat.is_numpy_namespace(xp):
        # one contiguous copy up front rather than one per block inside the kernel
        if A.dtype != B.dtype:
            A, B = A.astype(np.float64), B.astype(np.float64)
        A, B = np.ascontiguousarray(A), np.ascontiguousarray(B)
    n = B.shape[0]
    rows = max(1, int(wm * _MIB) // (8 * n)) if n else max(1, A.shape[0])
    block_options = dict(
        zero=zero,
        epsilon=eps,
        normalize=False,  # done once by _prepare
        check_finite=False,  # checked once by _prepare
        backend=backend,
        method=method,
        **params,
    )
    return _Plan(m, xp, A, B, block_options, rows)


def _working_memory(m: Measure, working_memory: float | None) -> float:
    if working_memory is None:
        return float(DEFAULT_WORKING_MEMORY)
    try:
        wm = float(working_memory)
    except (TypeError, ValueError):
        wm = math.nan
    if isinstance(working_memory, bool) or not (math.isfinite(wm) and wm > 0):
        raise InputError(
            f"{m.name}: working_memory must be a positive number of MiB, got {working_memory!r}"
        )
    return wm


def _blocks(
    plan: _Plan,
    reduce_func: Callable[[Any, int], Any] | None,
    progress: bool,
) -> Iterator[Any]:
    total = plan.A.shape[0]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=plan.measure.name, unit="row")
    try:
        for start in range(0, total, plan.rows):
            stop = min(start + plan.rows, total)
            D = cdist(plan.A[start:stop, ...], plan.B, plan.measure, **plan.options)
            if bar is not None:
                bar.update(stop - start)
            yield D if reduce_func is None else reduce_func(D, start)
            del D
    finally:
        if bar is not None:
            bar.close()


def cdist_chunked(
    XA: Any,
    XB: Any,
    measure: MeasureLike,
    /,
    *,
    reduce_func: Callable[[Any, int], Any] | None = None,
    working_memory: float | None = None,
    progress: bool = False,
    **options: Any,
) -> Iterator[Any]:
    """:func:`~divergences.cdist` a block of rows at a time, within ``working_memory``.

    Parameters
    ----------
    XA : array_like, shape (m, d) or (d,)
        Rows are vectors (a 1-D input is one row).
    XB : array_like, shape (n, d) or (d,)
    measure : str or Measure
        Name, alias or :class:`~divergences.spec.Measure`, as in :func:`~divergences.cdist`.
    reduce_func : callable, optional
        ``reduce_func(D_chunk, start)`` is called on each block ``D_chunk`` (rows
        ``start, start + 1, ...`` of the full result) and its return value is yielded
        instead of the block (scikit-learn's ``pairwise_distances_chunked`` convention).
        The block may be read-only (the ``numpy`` back end can return broadcast views).
    working_memory : float, optional
        MiB that one block of ``rows x n`` float64 values may take; default 256. A block
        has at least one row, so a single row wider than ``working_memory`` is still
        computed.
    progress : bool, default False
        Show a ``tqdm`` progress bar (on stderr) over the rows of ``XA``.
    **options
        The options of :func:`~divergences.cdist`: ``zero``, ``epsilon``, ``normalize``,
        ``check_finite``, ``backend``, and measure parameters (``p``, ``base``).

    Returns
    -------
    iterator
        Yields the row blocks of ``cdist(XA, XB, measure, **options)`` in order (or what
        ``reduce_func`` makes of them); concatenated along axis 0 they are that matrix.
        Inputs and options are validated when ``cdist_chunked`` is called, before the
        first block, with the errors of :func:`~divergences.cdist`.

    Raises
    ------
    InputError
        As :func:`~divergences.cdist`, and for a ``working_memory`` that is not a positive
        number.

    See Also
    --------
    knn : the ``k`` nearest rows, computed over these blocks.

    Examples
    --------
    >>> import numpy as np, divergences as dv
    >>> X = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
    >>> for block in dv.cdist_chunked(X, X, "manhattan", working_memory=24 / 2**20):
    ...     print(block)
    [[0.  0.6 1.4]]
    [[0.6 0.  0.8]]
    [[1.4 0.8 0. ]]
    >>> sums = dv.cdist_chunked(X, X, "manhattan", reduce_func=lambda D, start: D.sum(axis=1))
    >>> np.concatenate(list(sums))
    array([2. , 1.4, 2.2])
    """
    return _blocks(_plan(XA, XB, measure, working_memory, options), reduce_func, progress)


def _check_k(m: Measure, k: Any) -> int:
    if isinstance(k, (bool, np.bool_)):
        raise InputError(f"{m.name}: k must be an integer >= 0, got {k!r}")
    try:
        k = operator.index(k)
    except TypeError:
        raise InputError(f"{m.name}: k must be an integer >= 0, got {k!r}") from None
    if k < 0:
        raise InputError(f"{m.name}: k must be an integer >= 0, got {k}")
    return k


def _top_k(key: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` smallest entries of each row of ``key``, in order.

    The order is by (value, column) with NaN after every number (+inf included): ties go to
    the lower column, exactly as the first ``k`` columns of a stable argsort. ``key`` is not
    modified. Needs ``0 < k <= key.shape[1]``.
    """
    n = key.shape[1]
    if k == n:
        return np.argsort(key, axis=1, kind="stable")
    part = np.argpartition(key, k - 1, axis=1)  # NaN sorts after +inf here too
    idx = np.ascontiguousarray(part[:, :k])
    kth = np.take_along_axis(key, part[:, k - 1 : k], axis=1)  # (r, 1)
    del part
    vals = np.take_along_axis(key, idx, axis=1)
    # argpartition keeps every entry below the k-th value but picks an arbitrary subset of
    # the entries equal to it; rows with more such ties than places are redone exactly
    nan_kth = np.isnan(kth[:, 0])
    eq_all = np.count_nonzero(key == kth, axis=1)
    if nan_kth.any():
        eq_all = np.where(nan_kth, np.count_nonzero(np.isnan(key), axis=1), eq_all)
    eq_in = np.count_nonzero((vals == kth) | (np.isnan(vals) & nan_kth[:, None]), axis=1)
    for i in np.flatnonzero(eq_all > eq_in):
        row = key[i]
        if nan_kth[i]:
            below, ties = np.flatnonzero(~np.isnan(row)), np.flatnonzero(np.isnan(row))
        else:
            below, ties = np.flatnonzero(row < kth[i, 0]), np.flatnonzero(row == kth[i, 0])
        idx[i] = np.concatenate([below, ties[: k - below.size]])
    # order the k candidates by (value, column): sort by column, then stably by value
    idx = np.take_along_axis(idx, np.argsort(idx, axis=1), axis=1)
    vals = np.take_along_axis(key, idx, axis=1)
    return np.take_along_axis(idx, np.argsort(vals, axis=1, kind="stable"), axis=1)


def knn(
    XA: Any,
    XB: Any,
    k: int,
    measure: MeasureLike,
    /,
    *,
    working_memory: float | None = None,
    progress: bool = False,
    **options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``XB`` nearest to each row of ``XA`` (exact, brute force).

    Nearest means the smallest values of a dissimilarity and the largest values of a
    similarity (``measure.kind``). The values are ``measure(XA[i], XB[j])``, query first,
    which matters for asymmetric measures such as Kullback-Leibler.

    Ties go to the lower index of ``XB``. NaN values (e.g. a whole-vector ``0 / 0`` such as
    Sorensen between all-zero rows) rank last, after every number: after ``+inf`` for a
    dissimilarity and after ``-inf`` for a similarity. So the result equals the first ``k``
    columns of a stable argsort of the full ``cdist`` matrix (of its negation for a
    similarity), without ever holding that matrix: the work runs over the row blocks of
    :func:`cdist_chunked`, and the peak memory is about one block of ``working_memory``
    (plus the inputs and the ``m x k`` results).

    Parameters
    ----------
    XA : array_like, shape (m, d) or (d,)
        The queries (a 1-D input is one query). NumPy arrays or array-likes, or CuPy
        arrays (then the search runs on the GPU and the results are CuPy arrays).
    XB : array_like, shape (n, d) or (d,)
        The rows searched.
    k : int
        Neighbours per query, ``0 <= k <= n``.
    measure : str or Measure
        Name, alias or :class:`~divergences.spec.Measure`.
    working_memory : float, optional
        MiB of one block of ``rows x n`` values; default 256 (see :func:`cdist_chunked`).
    progress : bool, default False
        Show a ``tqdm`` progress bar over the queries on stderr.
    **options
        The options of :func:`~divergences.cdist` (``zero``, ``epsilon``, ``normalize``,
        ``check_finite``, ``backend``, ``p``, ``base``).

    Returns
    -------
    indices : ndarray, shape (m, k), int64
        Rows of ``XB``, nearest first.
    values : ndarray, shape (m, k), float64
        ``measure(XA[i], XB[indices[i, j]])``.

    Raises
    ------
    InputError
        As :func:`~divergences.cdist`; for ``k`` that is not an integer ``>= 0`` or is
        larger than the number of rows of ``XB`` (naming the measure and ``k``); for
        arrays that are neither NumPy nor CuPy arrays (nothing is copied between devices
        behind your back).

    See Also
    --------
    cdist_chunked : the blocks this search runs over.

    Examples
    --------
    >>> import numpy as np, divergences as dv
    >>> DB = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    >>> Q = np.array([[0.6, 0.4], [0.1, 0.9]])
    >>> idx, val = dv.knn(Q, DB, 2, "manhattan")
    >>> idx
    array([[0, 3],
           [2, 0]])
    >>> val
    array([[0.2, 0.2],
           [0.2, 0.8]])

    A similarity ranks its largest values first:

    >>> dv.knn(Q, DB, 2, "cosine")[0]
    array([[0, 3],
           [2, 0]])
    """
    m_, _ = resolve(measure)
    k = _check_k(m_, k)
    plan = _plan(XA, XB, measure, working_memory, options)
    m, xp = plan.measure, plan.xp
    q, n = plan.A.shape[0], plan.B.shape[0]
    if k > n:
        raise InputError(f"{m.name}: k={k} is larger than the {n} rows of XB")
    if plan.options["backend"] == "cupy":
        return _knn_device(plan, k, progress)
    if not array_api_compat.is_numpy_namespace(xp):
        raise InputError(
            f"{m.name}: knn computes on NumPy or CuPy arrays; these are {xp.__name__} "
            "arrays (convert them explicitly, or use cdist_chunked)"
        )
    indices = np.empty((q, k), dtype=np.int64)
    values = np.empty((q, k), dtype=np.float64)
    if k == 0 or q == 0:
        return indices, values
    similarity = m.kind == "similarity"
    sub = max(1, plan.rows // _RANK_SLICES)

    def reduce(D: np.ndarray, start: int) -> None:
        key = D
        if similarity:  # largest first = smallest of the negation (in place where allowed)
            key = np.negative(D, out=D if D.flags.writeable else None)
        # a few rows at a time, so that the ranking's own temporaries (argpartition's
        # int64 indices) stay a fraction of the block
        for s in range(0, key.shape[0], sub):
            top = _top_k(key[s : s + sub], k)
            vals = np.take_along_axis(key[s : s + sub], top, axis=1)
            indices[start + s : start + s + top.shape[0]] = top
            values[start + s : start + s + top.shape[0]] = -vals if similarity else vals

    for _ in _blocks(plan, reduce, progress):
        pass
    return indices, values


def _knn_device(plan: _Plan, k: int, progress: bool) -> tuple[Any, Any]:
    """knn on the GPU back end: per block of rows, the distances of the block and then a
    top-k kernel (one thread per query row, columns scanned in order), on the device."""
    from .kernels import cupy_gpu

    dxp = cupy_gpu.runtime().xp
    q = plan.A.shape[0]
    indices = dxp.empty((q, k), dtype=dxp.int64)
    values = dxp.empty((q, k), dtype=dxp.float64)
    if k == 0 or q == 0:
        return indices, values
    largest = plan.measure.kind == "similarity"
    zero = plan.options["zero"]

    def reduce(D: Any, start: int) -> None:
        idx, val = cupy_gpu.top_k(plan.measure, zero, D, k, largest=largest)
        indices[start : start + D.shape[0]] = idx
        values[start : start + D.shape[0]] = val

    for _ in _blocks(plan, reduce, progress):
        pass
    return indices, values
