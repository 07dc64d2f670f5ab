"""knn's screen: BLAS products and rigorous error bounds narrow the columns, the pair-by-pair
values rank them.

The factored forms sum each pair's products in a fixed order (:func:`.kernels.factored.
assembly.dot`) so that a pair's value never depends on the other rows of its call; that
costs 1.2-1.7x against one BLAS product. A search needs the exact values of only a few
pairs per query, so for the measures whose ranking follows one accumulator (see
:func:`screen_for`) :func:`nearest` proceeds in two steps:

1. **Screen.** The accumulator of every pair is computed with BLAS (any summation order)
   together with the factored guard's error bound ``err`` (``gamma_depth * sum |terms|``
   plus the exact-sum parts, :func:`.kernels.factored.assembly._assemble`). Whatever path
   gives the pair's final value (the ordered products the guard accepts, or the direct
   kernel where it does not), that value's accumulator and the screen's are both within
   their rounding bound of the exact sum, so within ``E = (2 + gamma_d / gamma_0) * err``
   of each other (the direct kernel sums the same terms, each at most ``sum |monomials|``
   of its coordinate, in float64: ``gamma_d`` also for the parts the factored form sums in
   extended precision). A column ``j`` is then certainly not among a query's ``k`` nearest
   when ``lo_j = a_j - E_j`` exceeds ``T``, the k-th smallest ``hi = a + E`` over the row,
   by a relative slack of :data:`SLACK` ulps: ``k`` other columns then have values
   strictly below it, after the finalize's rounding too (a positive or negative scale and
   square roots, monotone: :func:`_direction`). Values clipped by
   :func:`divergences.edges.clamp` to a bound tie (and ties go to the lower index), so a
   row whose k-th upper bound is not strictly inside the clamp's levels keeps every
   column (k copies of the query at value 0, say). Rows with non-finite or out-of-range
   entries, and the rows the guard marks bad, are never screened out (their columns stay
   candidates; such a query row is computed whole); NaN bounds keep a column.
2. **Rank.** The candidate columns of a group of queries (their union) are computed with
   :meth:`divergences.index.Rows.values` (the values of :func:`~divergences.cdist`, bit for
   bit, since a pair's value does not depend on the other columns of its call) and ranked
   by (value, index), NaN last, as without the screen.

The k-th smallest ``hi`` is found without partitioning the whole row: the k-th smallest
``hi`` of a strided subsample is an upper bound of it, the columns whose ``lo`` reaches that
bound (a few hundred) hold every column that can matter, and the exact ``T`` is their k-th
smallest ``hi``.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import edges
from .expr import compile_with, parse
from .spec import Measure

if TYPE_CHECKING:  # pragma: no cover
    from .index import Rows

#: the screen's keep margin, in ulps of the k-th upper bound: covers the rounding of the
#: finalize (a scale and up to two square roots, evaluated by NumPy or by a kernel)
SLACK = 128 * 2.0**-53
#: query rows whose candidate columns are computed together (their union)
GROUP_ROWS = 128
#: subsample size for the first, loose k-th upper bound of a row
SUBSAMPLE = 2048
#: a query row with more candidates than this fraction of the columns is computed whole
DENSE = 0.125


@dataclass(frozen=True)
class Screen:
    """How a measure's ranking follows its single accumulator ``name``: ``sign`` is +1 when
    the search's order (nearest first) is increasing in the accumulator, -1 when
    decreasing. ``kind`` is +1 for a dissimilarity, -1 for a similarity (the search's key
    is ``kind * value``); ``low`` and ``high`` bound the keys that :func:`divergences.edges.
    clamp` may move (values clipped to a bound tie, and ties go to the lower index)."""

    name: str
    sign: float
    kind: float
    finalize: Any
    consts: dict[str, float]
    low: float
    high: float

    def key(self, t: float) -> float:
        """The search key of the value whose accumulator key (``sign * accumulator``) is t."""
        with np.errstate(all="ignore"):
            v = self.finalize(**self.consts, **{self.name: np.float64(self.sign * t)})
        return float(self.kind * np.float64(v))


def _direction(node: ast.expr, acc: str, consts: dict[str, float]) -> float | None:
    """+1 / -1 if ``node`` is an increasing / decreasing function of the accumulator ``acc``
    built from scaling by a non-zero finite constant, negation and square roots; 0.0 for
    a constant; None for anything else."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    if acc not in names:
        return 0.0
    if isinstance(node, ast.Name):
        return 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _direction(node.operand, acc, consts)
        return None if inner is None else -inner
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "sqrt":
        return _direction(node.args[0], acc, consts) if len(node.args) == 1 else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        if isinstance(node.right, ast.Constant) and node.right.value == 0.5:
            return _direction(node.left, acc, consts)
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        left = _direction(node.left, acc, consts)
        right = _direction(node.right, acc, consts)
        if left is None or right is None or (left and right):
            return None
        if isinstance(node.op, ast.Div) and right:
            return None  # constant / accumulator: not a scale
        const = node.right if left else node.left
        try:
            c = float(compile_with(ast.unparse(const), _vocabulary())(**consts))
        except (ArithmeticError, ValueError, TypeError, NameError):
            return None
        if not math.isfinite(c) or c == 0.0:
            return None
        return (left or right) * (1.0 if c > 0 else -1.0)
    return None


def _vocabulary() -> dict[str, Any]:
    from .kernels.factored.assembly import voc

    return voc()


def screen_for(
    measure: Measure, zero: str, eps: float, params: dict[str, float], d: int
) -> Screen | None:
    """The :class:`Screen` of ``measure`` with these options, or None where its values
    are not screened (no factored form, several accumulators, mixed-logarithm sums that
    BLAS does not compute, or a finalize that is not a monotone scale of one accumulator)."""
    from .kernels.factored import Expanded, plan

    pl = plan(measure, zero, params)
    if pl is None or len(pl.accs) != 1:
        return None
    ((name, sp),) = pl.accs.items()
    if isinstance(sp, Expanded):
        if any(mo.mixed for mo in sp.monos):
            return None
    elif sp.how != "gemm":
        return None
    consts = {"d": float(d), "eps": eps, **params}
    direction = _direction(parse(pl.finalize).body, name, consts)
    if not direction:
        return None
    kind = 1.0 if measure.kind != "similarity" else -1.0
    # the clamp's levels, the tightest of those that may apply to a pair
    lo_any, hi_any = edges.anywhere(measure, params, d)
    lo_pdf, hi_pdf = measure.bounds.evaluate(d, params)
    lo, hi = max(lo_any, lo_pdf), min(hi_any, hi_pdf)
    low, high = (lo, hi) if kind > 0 else (-hi, -lo)
    fin = compile_with(pl.finalize, _vocabulary())
    return Screen(name, kind * direction, kind, fin, consts, low, high)


def _blas(L: np.ndarray, R: np.ndarray) -> np.ndarray:
    return L @ R.T


def _bounds(rows: Rows, screen: Screen, A: np.ndarray) -> Any:
    """Yields (row slice, key lower bounds, key upper bounds) over chunks of query rows;
    a row that is never screened has lower bounds -inf."""
    from .kernels import factored
    from .kernels.factored import Expanded, plan
    from .kernels.factored.assembly import _assemble, _prepare_expanded, _products, voc
    from .kernels.factored.bounds import gamma
    from .kernels.factored.driver import CHUNK_ELEMENTS, _new_side, _out_of_range

    o = rows.opts
    (A,) = edges.scale_inputs(o.measure, [A], np, kinds=("rows",))  # as Rows.values
    prepared: factored.Prepared = rows.prepared
    XBs = prepared.side
    B = XBs.X
    m, d = A.shape
    n = B.shape[0]
    sp = plan(o.measure, o.zero, o.params).accs[screen.name]
    XAs = _new_side(o.measure, o.zero, A, "x", o.eps, o.params)
    ns = {"eps": o.eps, **o.params}
    vocab = voc()
    with np.errstate(all="ignore"):
        if isinstance(sp, Expanded):
            acc = _prepare_expanded(sp, XAs, XBs, ns, d)
            # the value's own path (ordered products or the direct kernel) and the screen:
            # see the module docstring
            scale = 2.0 + gamma(d) / gamma(0)
            products = 1 + (not acc.one_sign) + 2 * len(acc.corr)  # rows x n matrices
        else:
            F = np.ascontiguousarray(
                np.broadcast_to(compile_with(sp.left, vocab)(x=A), A.shape), dtype=np.float64
            )
            G = XBs.memo(
                (screen.name, "gemm"),
                lambda: np.ascontiguousarray(
                    np.broadcast_to(compile_with(sp.right, vocab)(y=B), B.shape),
                    dtype=np.float64,
                ),
            )
            one_sign = _one_sign(F) and XBs.memo((screen.name, "one sign"), lambda: _one_sign(G))
            absF = None if one_sign else np.abs(F)
            absG = None if one_sign else XBs.memo((screen.name, "|G|"), lambda: np.abs(G))
            scale = 2.0 * gamma(d)
            products = 1 + (not one_sign)
        bad_rows = _out_of_range(A) | XAs.bad
        bad_cols = XBs.memo("bad", lambda: _out_of_range(B)) | XBs.bad
        any_bad_cols = bool(bad_cols.any())
        # one product per block of queries (sized by working_memory by the caller): the
        # database's factor matrix is read once per block, as by the baseline's GEMM
        big = max(1, m // products)
        step = max(1, CHUNK_ELEMENTS // n)
        for b0 in range(0, m, big):
            rb = slice(b0, min(m, b0 + big))
            if isinstance(sp, Expanded):
                prods = _products(acc, rb, _blas)
            else:
                P = F[rb] @ G.T
                S = np.abs(P) if one_sign else absF[rb] @ absG.T
            for i0 in range(rb.start, rb.stop, step):
                r = slice(i0, min(rb.stop, i0 + step))
                sub = slice(r.start - b0, r.stop - b0)
                if isinstance(sp, Expanded):
                    val, err = _assemble(acc, prods, r, sub)
                    err = np.multiply(err, scale, out=err if isinstance(err, np.ndarray) else None)
                else:
                    val, err = P[sub], S[sub] * scale
                key = val if screen.sign > 0 else -val
                lo = np.subtract(key, err)
                hi = np.add(key, err, out=err)
                if any_bad_cols:
                    lo[:, bad_cols] = -math.inf
                lo[bad_rows[r]] = -math.inf
                yield r, lo, hi


def _one_sign(F: np.ndarray) -> bool:
    return F.size == 0 or not (F < 0).any() or not (F > 0).any()


def _kth(values: np.ndarray, k: int) -> np.ndarray:
    """The k-th smallest of each row (NaN last), as a column."""
    return np.partition(values, k - 1, axis=1)[:, k - 1 : k]


def _candidates(screen: Screen, lo: np.ndarray, hi: np.ndarray, k: int) -> list[np.ndarray]:
    """Per row, the columns that may be among its k nearest (see the module docstring).
    Where the k-th upper bound's value is not strictly inside the clamp's levels, every
    column is kept (values clipped to a level tie, and their order is by index)."""
    n = lo.shape[1]
    stride = max(1, n // SUBSAMPLE)
    out = []
    if stride > 1 and n // stride >= k:
        loose = _kth(hi[:, ::stride], k)  # >= the row's k-th smallest hi
        with np.errstate(invalid="ignore"):
            keep = ~(lo > loose + SLACK * np.abs(loose))
    else:
        keep = np.ones(lo.shape, dtype=bool)
    every = np.arange(n)
    for i in range(lo.shape[0]):
        c = np.flatnonzero(keep[i])
        if c.size > k:
            t = _kth(hi[i, c][None, :], k)[0, 0]
            v = screen.key(t)
            if not (screen.low < v - SLACK * abs(v) and v + SLACK * abs(v) < screen.high):
                c = every
            else:
                with np.errstate(invalid="ignore"):
                    c = c[~(lo[i, c] > t + SLACK * abs(t))]
        out.append(c)
    return out


def nearest(rows: Rows, screen: Screen, A: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest columns of ``rows`` to each query of ``A`` (columns of the block,
    in order by (key, column), NaN last) and their keys (values, negated for a
    similarity), through the screen; ``0 < k <= rows.n``."""
    from . import topk

    m = A.shape[0]
    n = rows.n
    similarity = rows.opts.measure.kind == "similarity"
    top = np.empty((m, k), dtype=np.int64)
    keys = np.empty((m, k), dtype=np.float64)
    dense_limit = max(k, int(DENSE * n))

    def rank(D: np.ndarray, cols: np.ndarray | None, at: np.ndarray) -> None:
        key = np.negative(D) if similarity else D
        t = topk.top_k(key, k)
        keys[at] = np.take_along_axis(key, t, axis=1)
        top[at] = t if cols is None else cols[t]

    pending: list[tuple[int, np.ndarray]] = []
    dense: list[int] = []

    def flush() -> None:
        if pending:
            at = np.array([i for i, _ in pending])
            cols = np.unique(np.concatenate([c for _, c in pending]))
            rank(rows.values(A[at], cols), cols, at)
            pending.clear()
        if dense:
            at = np.array(dense)
            rank(rows.values(A[at]), None, at)
            dense.clear()

    for r, lo, hi in _bounds(rows, screen, A):
        for i, c in zip(range(r.start, r.stop), _candidates(screen, lo, hi, k), strict=True):
            (dense.append(i) if c.size > dense_limit else pending.append((i, c)))
            if len(pending) >= GROUP_ROWS or len(dense) >= GROUP_ROWS:
                flush()
    flush()
    return top, keys
