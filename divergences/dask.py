"""All-pairs values and exact k-nearest-neighbour search on Dask arrays (``divergences[dask]``).

Both operands may be Dask arrays larger than memory (chunked along the rows; an on-disk
``np.memmap`` or zarr array wrapped by :func:`dask.array.from_array`). Every task runs the
single-process functions of :mod:`divergences` on one row block of each operand, so a worker
computes with the same Numba kernels, generated from the definitions and loaded from the disk
cache once per worker process (tasks carry measure names and arrays, never compiled
dispatchers). The kernels release the GIL (``nogil``), and each task runs Numba with
``numba_threads`` threads so that worker threads x Numba threads stay within the cores.

The feature axis is never split: a Dask array chunked along ``d`` is rechunked to one block
per row block (with a :class:`PerformanceWarning` when such a block is large).

This module imports :mod:`dask`; ``import divergences`` does not import it.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Iterator
from typing import Any

import dask
import dask.array as da
import numpy as np

from . import api, search
from .api import MeasureLike
from .paired import paired as _paired
from .registry import resolve
from .validation import InputError

__all__ = ["PerformanceWarning", "cdist", "from_memmap", "knn", "paired", "pdist"]

#: rows per block of a NumPy operand (about 32 MiB of float64 at d = 64)
DEFAULT_ROWS = 65536
#: MiB of one row block beyond which rechunking the feature axis to one block warns
LARGE_BLOCK_MIB = 512
#: MiB of distances one knn task holds at a time (several tasks run at once on a host)
TASK_WORKING_MEMORY = 64
#: candidate lists merged per task of knn's tree merge
SPLIT_EVERY = 8


class PerformanceWarning(UserWarning):
    """A layout of the inputs that costs memory or time (e.g. ``d`` rechunked to one block)."""


def _as_dask(X: Any, name: str, rows: int | None) -> da.Array:
    """``X`` as a 2-D Dask array with one block along the feature axis."""
    if not isinstance(X, da.Array):
        X = np.asarray(X)
        if X.ndim == 1:
            X = X[None, :]
        X = da.from_array(X, chunks=(rows or DEFAULT_ROWS, -1))
    elif X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2:
        raise InputError(f"{name} must be 2-D (rows x features), got {X.ndim} dimensions")
    if rows is not None:
        X = X.rechunk((rows, -1))
    if len(X.chunks[1]) > 1:
        mib = max(X.chunks[0], default=0) * X.shape[1] * X.dtype.itemsize / 2**20
        if mib > LARGE_BLOCK_MIB:
            warnings.warn(
                f"{name} is chunked along the feature axis ({len(X.chunks[1])} blocks); it is "
                f"rechunked to one block per row block, {mib:.0f} MiB each: rechunk the rows "
                "smaller for less memory per task",
                PerformanceWarning,
                stacklevel=3,
            )
        X = X.rechunk({1: -1})
    return X


class _MemmapRows:
    """Rows of a raw binary file, read by whoever indexes it (a worker opens the file
    itself: the graph carries the path, never the data)."""

    def __init__(self, path: str, shape: tuple[int, int], dtype: Any, offset: int) -> None:
        self.path, self.shape, self.dtype, self.offset = path, shape, np.dtype(dtype), offset
        self.ndim = 2

    def __getitem__(self, key: Any) -> np.ndarray:
        mm = np.memmap(self.path, dtype=self.dtype, mode="r", shape=self.shape, offset=self.offset)
        return np.array(mm[key])


def from_memmap(
    path: str | os.PathLike[str],
    shape: tuple[int, int],
    dtype: Any = np.float64,
    *,
    rows: int = DEFAULT_ROWS,
    offset: int = 0,
) -> da.Array:
    """A Dask array over the rows of a raw binary file (a ``np.memmap`` written to disk).

    Each task opens the file and reads its block of ``rows`` rows, so the graph holds the
    path, not the data (``dask.array.from_array(np.memmap(...))`` would pickle the whole
    array into the graph of a distributed computation). The path must be readable from the
    workers.

    Parameters
    ----------
    path : str or path-like
        The file, C order, ``shape[0] * shape[1]`` values of ``dtype`` from ``offset``.
    shape : (int, int)
        Rows and features.
    dtype : dtype, default float64
    rows : int, default 65536
        Rows per block; the features are one block.
    offset : int, default 0
        Bytes to skip at the start of the file.

    Returns
    -------
    dask.array.Array, shape ``shape``

    Examples
    --------
    >>> import numpy as np, tempfile, os, divergences.dask as dvd
    >>> path = os.path.join(tempfile.mkdtemp(), "rows.f64")
    >>> np.arange(12.0).reshape(4, 3).tofile(path)
    >>> X = dvd.from_memmap(path, (4, 3), rows=3)
    >>> X.chunks, float(X.sum().compute())
    (((3, 1), (3,)), 66.0)
    """
    shape = (int(shape[0]), int(shape[1]))
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InputError(f"rows must be a positive integer, got {rows!r}")
    src = _MemmapRows(os.fspath(path), shape, dtype, int(offset))
    need = int(offset) + shape[0] * shape[1] * src.dtype.itemsize
    size = os.path.getsize(src.path)
    if size < need:
        raise InputError(f"{src.path}: {size} bytes, but shape {shape} of {src.dtype} needs {need}")
    token = dask.base.tokenize(src.path, shape, str(src.dtype), offset, os.path.getmtime(path))
    return da.from_array(
        src, chunks=(rows, -1), asarray=True, fancy=False, name=f"from-memmap-{token}"
    )


def _validate(measure: MeasureLike, d: int, options: dict[str, Any]) -> None:
    """Check the measure name and options up front (on one probability vector), so that a
    bad option fails here rather than in every task."""
    if d == 0:
        raise InputError(f"{resolve(measure)[0].name}: the inputs have no features (d = 0)")
    row = np.full((1, d), 1.0 / d)
    api.cdist(row, row, measure, **options)


def _host_threads() -> int:
    """Threads that run tasks on this machine: the distributed client's workers on the
    host with the most threads, else the local scheduler's thread count."""
    try:
        from distributed import get_client

        info = get_client().scheduler_info()["workers"]
    except (ImportError, ValueError):
        return int(dask.config.get("num_workers", None) or os.cpu_count() or 1)
    per_host: dict[str, int] = {}
    for w in info.values():
        per_host[w["host"]] = per_host.get(w["host"], 0) + int(w["nthreads"])
    return max(per_host.values(), default=1)


def _numba_threads(numba_threads: int | None) -> int:
    if numba_threads is None:
        return max(1, (os.cpu_count() or 1) // _host_threads())
    if isinstance(numba_threads, bool) or not isinstance(numba_threads, int) or numba_threads < 1:
        raise InputError(f"numba_threads must be a positive integer, got {numba_threads!r}")
    return numba_threads


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """Numba's thread count for this task (a per-thread setting in Numba)."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _located(e: InputError, arg: str, start: int) -> InputError:
    return InputError(f"{e} (in the block of {arg} that starts at row {start})")


def _cdist_block(
    a: np.ndarray,
    b: np.ndarray,
    measure: MeasureLike,
    options: dict[str, Any],
    threads: int,
    block_info: Any = None,
) -> np.ndarray:
    with _threads(threads):
        try:
            return np.asarray(api.cdist(a, b, measure, **options))
        except InputError as e:
            loc = block_info or {}
            ra = loc.get(0, {}).get("array-location", [(0, 0)])[0][0]
            rb = loc.get(1, {}).get("array-location", [(0, 0)])[0][0]
            raise InputError(f"{e} (in the blocks of XA from row {ra} and XB from row {rb})") from e


def cdist(
    XA: Any,
    XB: Any,
    measure: MeasureLike,
    /,
    *,
    rows: int | None = None,
    numba_threads: int | None = None,
    **options: Any,
) -> da.Array:
    """:func:`divergences.cdist` as a lazy Dask array, block by block.

    ``D[i, j] = measure(XA[i], XB[j])``; the block of rows ``I`` and columns ``J`` is one
    task, ``divergences.cdist(XA[I], XB[J], measure, **options)``, built with
    :func:`dask.array.blockwise` over the row blocks of both operands.

    Parameters
    ----------
    XA : dask.array.Array or array_like, shape (m, d)
        Queries; a NumPy operand is split into blocks of ``rows`` rows.
    XB : dask.array.Array or array_like, shape (n, d)
    measure : str or Measure
        Name, alias or :class:`~divergences.spec.Measure`.
    rows : int, optional
        Rechunk both operands to blocks of this many rows (default: keep a Dask array's
        chunks; 65,536 rows for a NumPy operand). The feature axis is always one block.
    numba_threads : int, optional
        Numba threads per task; default ``cores // threads running tasks on the host``
        (at least 1), so that worker threads x Numba threads <= cores.
    **options
        The options of :func:`divergences.cdist` (``zero``, ``epsilon``, ``normalize``,
        ``check_finite``, ``method``, ``p``, ``base``); ``backend`` is ``numba``.

    Returns
    -------
    dask.array.Array, shape (m, n), float64
        Chunks: XA's row chunks by XB's row chunks. With ``method="direct"`` every value
        equals the single-process ``cdist`` bit for bit (a direct kernel's value never
        depends on the other rows of the call); the factored forms can differ in the last
        bits, as they do between single-process calls of different shapes.

    Raises
    ------
    InputError
        For a bad measure, option or shape, when called; for bad values (negative entries,
        NaN) when computed, naming the block.

    Examples
    --------
    >>> import numpy as np, dask.array as da, divergences.dask as dvd
    >>> X = da.from_array(np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]]), chunks=(2, 2))
    >>> D = dvd.cdist(X, X, "manhattan")
    >>> D.chunks
    ((2, 1), (2, 1))
    >>> D.compute()
    array([[0. , 0.6, 1.4],
           [0.6, 0. , 0.8],
           [1.4, 0.8, 0. ]])
    """
    A, B = _as_dask(XA, "XA", rows), _as_dask(XB, "XB", rows)
    m, _ = resolve(measure)
    if A.shape[1] != B.shape[1]:
        raise InputError(
            f"{m.name}: feature counts differ: XA has {A.shape[1]} but XB has {B.shape[1]} columns"
        )
    options = {**options, "backend": options.get("backend", "numba")}
    _validate(measure, A.shape[1], options)
    return da.blockwise(
        _cdist_block,
        "ij",
        A,
        "ik",
        B,
        "jk",
        concatenate=True,
        dtype=np.float64,
        measure=measure,
        options=options,
        threads=_numba_threads(numba_threads),
        meta=np.empty((0, 0), dtype=np.float64),
    )


def _knn_block(
    a: np.ndarray,
    b: np.ndarray,
    offset: int,
    k: int,
    measure: MeasureLike,
    options: dict[str, Any],
    threads: int,
    working_memory: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``min(k, len(b))`` best rows of block ``b`` for each row of ``a``, with their
    global row numbers (``offset`` + local)."""
    with _threads(threads):
        try:
            idx, val = search.knn(
                a, b, min(k, b.shape[0]), measure, working_memory=working_memory, **options
            )
        except InputError as e:
            raise _located(e, "XB", offset) from e
    return idx + offset, val


def _order_key(values: np.ndarray, similarity: bool) -> np.ndarray:
    return -values if similarity else values


def _merge(k: int, similarity: bool, *parts: tuple[np.ndarray, np.ndarray]) -> tuple[Any, Any]:
    """The ``k`` best of several candidate lists, by (value, row) with NaN last: the order of
    the single-process knn, so a merge of exact per-block top-k lists is the exact top-k."""
    idx = np.concatenate([p[0] for p in parts], axis=1)
    val = np.concatenate([p[1] for p in parts], axis=1)
    key = _order_key(val, similarity)
    nan = np.isnan(key)
    key = np.where(nan, 0.0, key)
    order = np.lexsort((idx, key, nan), axis=1)[:, :k]
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(val, order, axis=1)


def knn(
    XA: Any,
    XB: Any,
    k: int,
    measure: MeasureLike,
    /,
    *,
    rows: int | None = None,
    split_every: int = SPLIT_EVERY,
    numba_threads: int | None = None,
    working_memory: float = TASK_WORKING_MEMORY,
    **options: Any,
) -> tuple[da.Array, da.Array]:
    """:func:`divergences.knn` over Dask arrays: per-block top-k and a tree merge.

    Each task takes one row block of XA and one of XB and keeps the ``k`` best rows of the
    block (:func:`divergences.knn` on the pair, indices made global); candidate lists are
    then merged ``split_every`` at a time by (value, row index) with NaN last, which is the
    single-process order (ties to the lower index of XB). So the result is the
    single-process :func:`divergences.knn`'s exactly, and a worker holds a few blocks of XB
    at a time, never the whole of it.

    Parameters
    ----------
    XA : dask.array.Array or array_like, shape (m, d)
        The queries.
    XB : dask.array.Array or array_like, shape (n, d)
        The rows searched (may be larger than memory: a chunked on-disk array).
    k : int
        Neighbours per query, ``0 <= k <= n``.
    measure : str or Measure
    rows : int, optional
        Rechunk both operands to blocks of this many rows (see :func:`cdist`).
    split_every : int, default 8
        Candidate lists per merge task (>= 2).
    numba_threads : int, optional
        Numba threads per task (see :func:`cdist`).
    working_memory : float, default 64
        MiB of the block of distances a task holds at a time (queries of its XA block are
        ranked a slice at a time, as in :func:`divergences.knn`).
    **options
        The options of :func:`divergences.knn` (``zero``, ``epsilon``, ``method``, ...).

    Returns
    -------
    indices : dask.array.Array, shape (m, k), int64
    values : dask.array.Array, shape (m, k), float64
        Lazy; compute both at once with ``dask.compute(indices, values)`` (they share the
        graph). With ``method="direct"`` they equal the single-process result bit for bit.

    Examples
    --------
    >>> import dask, numpy as np, dask.array as da, divergences.dask as dvd
    >>> DB = da.from_array(np.array([[.5, .5], [.9, .1], [.2, .8], [.5, .5]]), chunks=(3, 2))
    >>> idx, val = dask.compute(*dvd.knn(np.array([[.6, .4], [.1, .9]]), DB, 2, "manhattan"))
    >>> idx
    array([[0, 3],
           [2, 0]])
    """
    A, B = _as_dask(XA, "XA", rows), _as_dask(XB, "XB", rows)
    m, _ = resolve(measure)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 0:
        raise InputError(f"{m.name}: k must be an integer >= 0, got {k!r}")
    k = int(k)
    n = B.shape[0]
    if A.shape[1] != B.shape[1]:
        raise InputError(
            f"{m.name}: feature counts differ: XA has {A.shape[1]} but XB has {B.shape[1]} columns"
        )
    if k > n:
        raise InputError(f"{m.name}: k={k} is larger than the {n} rows of XB")
    if isinstance(split_every, bool) or not isinstance(split_every, int) or split_every < 2:
        raise InputError(f"{m.name}: split_every must be an integer >= 2, got {split_every!r}")
    options = {**options, "backend": options.get("backend", "numba")}
    _validate(measure, A.shape[1], options)
    if isinstance(working_memory, bool) or not (
        isinstance(working_memory, (int, float)) and 0 < working_memory < math.inf
    ):
        raise InputError(
            f"{m.name}: working_memory must be a positive number of MiB, got {working_memory!r}"
        )
    threads = _numba_threads(numba_threads)
    similarity = m.kind == "similarity"
    qa, xb = A.to_delayed().ravel(), B.to_delayed().ravel()
    offsets = np.concatenate([[0], np.cumsum(B.chunks[0])])
    block = dask.delayed(_knn_block, pure=True, nout=2)
    merge = dask.delayed(_merge, pure=True, nout=2)
    idx_blocks, val_blocks = [], []
    for a, rows_a in zip(qa, A.chunks[0], strict=True):
        parts = [
            block(a, b, int(off), k, measure, options, threads, working_memory)
            for b, off in zip(xb, offsets[:-1], strict=True)
        ]
        while len(parts) > 1:
            parts = [
                merge(k, similarity, *parts[s : s + split_every])
                for s in range(0, len(parts), split_every)
            ]
        idx, val = parts[0]
        idx_blocks.append(da.from_delayed(idx, (rows_a, k), dtype=np.int64))
        val_blocks.append(da.from_delayed(val, (rows_a, k), dtype=np.float64))
    if not idx_blocks:
        empty = np.empty((0, k))
        return da.from_array(empty.astype(np.int64)), da.from_array(empty)
    return da.concatenate(idx_blocks), da.concatenate(val_blocks)


def _paired_block(
    a: np.ndarray, b: np.ndarray, measure: MeasureLike, options: dict[str, Any], threads: int
) -> np.ndarray:
    with _threads(threads):
        return np.asarray(_paired(a, b, measure, **options))


def paired(
    XA: Any,
    XB: Any,
    measure: MeasureLike,
    /,
    *,
    rows: int | None = None,
    numba_threads: int | None = None,
    **options: Any,
) -> da.Array:
    """:func:`divergences.paired` on Dask arrays: row ``i`` of XA against row ``i`` of XB.

    XB is rechunked to XA's row blocks; each task is one call of the single-process
    :func:`divergences.paired` on a block of both (the direct kernel: every value equals
    the single-process one bit for bit).

    Parameters
    ----------
    XA, XB : dask.array.Array or array_like, shape (m, d)
    measure : str or Measure
    rows : int, optional
        Rechunk both operands to blocks of this many rows.
    numba_threads : int, optional
        Numba threads per task (see :func:`cdist`).
    **options
        The options of :func:`divergences.paired`.

    Returns
    -------
    dask.array.Array, shape (m,), float64

    Examples
    --------
    >>> import numpy as np, divergences.dask as dvd
    >>> dvd.paired(np.array([[0.2, 0.8], [0.5, 0.5]]), np.array([[0.5, 0.5], [0.5, 0.5]]),
    ...            "manhattan").compute()
    array([0.6, 0. ])
    """
    A, B = _as_dask(XA, "XA", rows), _as_dask(XB, "XB", rows)
    m, _ = resolve(measure)
    if A.shape != B.shape:
        raise InputError(f"{m.name}: paired needs equal shapes, got XA {A.shape} and XB {B.shape}")
    options = {**options, "backend": options.get("backend", "numba")}
    _validate(measure, A.shape[1], options)
    B = B.rechunk((A.chunks[0], -1))
    return da.map_blocks(
        _paired_block,
        A,
        B,
        measure=measure,
        options=options,
        threads=_numba_threads(numba_threads),
        drop_axis=1,
        dtype=np.float64,
        meta=np.empty((0,), dtype=np.float64),
    )


def pdist(X: Any, measure: MeasureLike, /, **options: Any) -> Any:
    """Refused: the condensed layout does not split into blocks of both operands.

    A condensed vector holds, for row ``i``, the pairs ``j > i``: a block of its entries
    needs one row block against every later row of ``X``, so its tasks could not be the
    independent (row block, row block) tasks of :func:`cdist`. Use
    ``cdist(X, X, measure)``: the upper triangle of that Dask array is the condensed vector,
    and :func:`knn` covers the usual reason for wanting it.

    Raises
    ------
    NotImplementedError
        Always, naming the alternative.
    """
    name = resolve(measure)[0].name
    raise NotImplementedError(
        f"{name}: divergences.dask.pdist is not provided: the condensed layout does not split "
        "into independent row blocks; use divergences.dask.cdist(X, X, measure) (its upper "
        "triangle is the condensed vector) or divergences.dask.knn"
    )
