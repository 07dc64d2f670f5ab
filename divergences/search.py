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

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from .api import cdist
from .calls import MeasureLike, prepare
from .dispatch import check_method
from .index import (
    DEFAULT_WORKING_MEMORY,
    Options,
    Rows,
    check_k,
    check_working_memory,
    search_rows,
)
from .registry import resolve
from .spec import Measure
from .validation import InputError, namespace

__all__ = ["DEFAULT_WORKING_MEMORY", "cdist_chunked", "knn"]

_MIB = 1 << 20


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
    m, xp, (A, B), zero, eps, params, backend = prepare(
        measure, {"XA": XA, "XB": XB}, options, ndims=(1, 2)
    )
    check_method(m, method)
    wm = check_working_memory(m, working_memory)
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
        normalize=False,  # done once by prepare
        check_finite=False,  # checked once by prepare
        backend=backend,
        method=method,
        **params,
    )
    return _Plan(m, xp, A, B, block_options, rows)


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
    rows = None
    if array_api_compat.is_numpy_namespace(plan.xp) and plan.options["backend"] != "cupy":
        o = plan.options
        params = {p.name: o[p.name] for p in plan.measure.params}
        opts = Options(plan.measure, o["zero"], o["epsilon"], params, o["backend"], o["method"])
        rows = Rows(opts, plan.B)  # the XB side prepared once for every block
    try:
        for start in range(0, total, plan.rows):
            stop = min(start + plan.rows, total)
            if rows is not None:
                D = rows.values(plan.A[start:stop])
            else:
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
    similarity), without ever holding that matrix: the work runs over row blocks of
    ``working_memory`` MiB, with XB's side of the computation (for the factored forms its
    transforms such as ``sqrt XB`` or ``log XB``, per-row sums and zero masks) prepared
    once, as :class:`~divergences.Index` does. A memory-mapped XB, or one that is not
    float64, is read, converted and prepared a block of about ``working_memory`` MiB at a
    time and never copied whole. The peak memory is then a few ``working_memory`` (a block
    of results, a block of XB as float64 and its prepared terms) plus XA and the ``m x k``
    results; a float64 XB in memory is used as it is, with its prepared terms beside it.

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
    check_k(m_, k, np.iinfo(np.int64).max)
    xp, (XA, XB) = namespace({"XA": XA, "XB": XB}, measure=m_.name)
    if not array_api_compat.is_numpy_namespace(xp):
        plan = _plan(XA, XB, measure, working_memory, options)
        m = plan.measure
        k = check_k(m, k, plan.B.shape[0])
        if plan.options["backend"] == "cupy":
            return _knn_device(plan, k, progress)
        raise InputError(
            f"{m.name}: knn computes on NumPy or CuPy arrays; these are {xp.__name__} "
            "arrays (convert them explicitly, or use cdist_chunked)"
        )
    options = dict(options)
    method = options.pop("method", "auto")
    m, _, (A,), zero, eps, params, backend = prepare(measure, {"XA": XA}, options, ndims=(1, 2))
    wm = check_working_memory(m, working_memory)
    opts = Options(m, zero, eps, params, backend, method)
    A = np.ascontiguousarray(A, dtype=np.float64)
    n, blocks = _database(XB, measure, options, opts, wm)
    first = next(blocks)  # XB's first block validated (or all of it)
    if first.B.shape[1] != A.shape[1]:
        raise InputError(
            f"{m.name}: feature counts differ: XA has {A.shape[1]} but XB has "
            f"{first.B.shape[1]} columns"
        )
    k = check_k(m, k, n)
    n_blocks = -(-n // max(1, first.n)) if n else 1
    return search_rows(_chain(first, blocks), A, k, m, wm, progress, n_blocks)


def _chain(first: Rows, rest: Iterator[Rows]) -> Iterator[Rows]:
    yield first
    yield from rest


def _database(
    XB: Any, measure: MeasureLike, options: dict[str, Any], opts: Options, wm: float
) -> tuple[int, Iterator[Rows]]:
    """(rows of XB, XB's validated and prepared blocks). XB is one block where it is a
    float64 array in memory; a memory-mapped or other-dtype XB is read, converted and
    prepared a block of about ``wm`` MiB of float64 at a time, so that it is never copied
    whole (its errors then name the row of XB, not of the block)."""
    XB = np.asarray(XB) if not isinstance(XB, np.ndarray) else XB
    whole = XB.ndim != 2 or (XB.dtype == np.float64 and not isinstance(XB, np.memmap))
    n = 1 if XB.ndim == 1 else int(XB.shape[0])
    rows = max(1, n) if whole or XB.shape[1] == 0 else max(1, int(wm * _MIB) // (8 * XB.shape[1]))

    def blocks() -> Iterator[Rows]:
        for s in range(0, max(n, 1), rows):
            part = XB if whole else XB[s : s + rows]
            try:
                _, _, (B,), *_ = prepare(measure, {"XB": part}, dict(options), ndims=(1, 2))
            except InputError as e:
                if whole or s == 0:
                    raise
                raise InputError(_offset_rows(str(e), "XB", s)) from None
            yield Rows(opts, np.ascontiguousarray(B, dtype=np.float64), start=s)

    return n, blocks()


def _offset_rows(message: str, arg: str, offset: int) -> str:
    """An error message about a block of ``arg``'s rows, with the rows of ``arg`` itself."""
    return re.sub(rf"\b{arg} row (\d+)", lambda g: f"{arg} row {int(g[1]) + offset}", message)


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
