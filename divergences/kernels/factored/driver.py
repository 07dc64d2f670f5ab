"""The driver: blocks of rows through the plan, the guard, and the direct kernel's
recomputation of the pairs it rejects (see :mod:`divergences.kernels.factored`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...expr import compile_with, parse
from ...spec import Measure
from .assembly import _Acc, _assemble, _prepare_expanded, _products, _Side, voc
from .bounds import _ferr
from .planning import Expanded, plan

#: a factored value is kept where its error bound is at most REL_TOL * |value|
REL_TOL = 2.0**-40
#: non-zero input magnitudes inside which the regime's identities cannot under/overflow
TINY, HUGE = 2.0**-200, 2.0**200
#: output elements per block of rows whose matrix products are one BLAS call each
PRODUCT_ELEMENTS = 1 << 21
#: output elements per sub-block of the elementwise passes (they stay in cache)
CHUNK_ELEMENTS = 1 << 14
#: rows of A recomputed together by the direct kernel
FALLBACK_ROWS = 32
#: pairs are recomputed one by one (the direct kernel's single-pair function) when there
#: are at most PAIRWISE_BELOW of them in a block, or PAIRWISE_PER_ROW per row that has any;
#: more by blocks of rows
PAIRWISE_BELOW = 256
PAIRWISE_PER_ROW = 8


def _direct(
    measure: Measure, A: np.ndarray, B: np.ndarray, zero: str, eps: float, params: dict[str, float]
) -> np.ndarray:
    from .. import numba_cpu

    return numba_cpu.cdist(measure, A, B, zero=zero, eps=eps, params=params)


def _recompute(
    measure: Measure,
    A: np.ndarray,
    B: np.ndarray,
    out: np.ndarray,
    bad: np.ndarray,
    args: tuple[str, float, dict[str, float]],
) -> int:
    """Overwrite ``out[i, j]`` (rows of A) where ``bad`` with the direct kernel's values:
    pair by pair (its single-pair function) where there are few per row, else blocks of
    rows against the columns they need (all of them where most are)."""
    from .. import numba_cpu

    zero, eps, params = args
    count = int(np.count_nonzero(bad))
    rows = np.flatnonzero(bad.any(axis=1))
    n = B.shape[0]
    if count <= max(PAIRWISE_BELOW, PAIRWISE_PER_ROW * rows.size):
        pair = numba_cpu.kernels(measure, zero).pair
        extra = tuple(float(params[p.name]) for p in measure.params)
        for i, j in zip(*np.nonzero(bad), strict=True):
            out[i, j] = pair(A[i], B[j], float(eps), *extra)
        return count
    if 4 * count > rows.size * n:
        out[rows] = _direct(measure, A[rows], B, zero, eps, params)
        return count
    for s in range(0, rows.size, FALLBACK_ROWS):
        r = rows[s : s + FALLBACK_ROWS]
        cols = np.flatnonzero(bad[r].any(axis=0))
        if 2 * cols.size > n:
            out[r] = _direct(measure, A[r], B, zero, eps, params)
        else:
            out[np.ix_(r, cols)] = _direct(measure, A[r], B[cols], zero, eps, params)
    return count


def _out_of_range(X: np.ndarray) -> np.ndarray:
    """Rows holding a non-finite value or a non-zero magnitude outside [TINY, HUGE]."""
    with np.errstate(invalid="ignore"):
        a = np.abs(X)
        return (~np.isfinite(X) | ((a != 0) & ((a < TINY) | (a > HUGE)))).any(axis=1)


@dataclass(frozen=True)
class Stats:
    """What one factored call did: ``recomputed`` pairs went to the direct kernel."""

    recomputed: int


def cdist(
    measure: Measure,
    XA: np.ndarray,
    XB: np.ndarray,
    *,
    zero: str,
    eps: float,
    params: dict[str, float],
    guard: bool = True,
) -> np.ndarray:
    """``measure`` for every row pair through per-row terms, matrix products and a vectorised
    finalize (float64 throughout); with ``guard`` (the default, what the API uses) pairs whose
    error bound is too large for the factored value are recomputed by the direct kernel.
    :func:`cdist_stats` also returns how many."""
    return cdist_stats(measure, XA, XB, zero=zero, eps=eps, params=params, guard=guard)[0]


def cdist_stats(
    measure: Measure,
    XA: np.ndarray,
    XB: np.ndarray,
    *,
    zero: str,
    eps: float,
    params: dict[str, float],
    guard: bool = True,
) -> tuple[np.ndarray, Stats]:
    """:func:`cdist` and the :class:`Stats` of the call (no state is kept between calls)."""
    pl = plan(measure, zero)
    assert pl is not None, f"{measure.name} has no factored form"
    A = np.ascontiguousarray(XA, dtype=np.float64)
    B = np.ascontiguousarray(XB, dtype=np.float64)
    m, d = A.shape
    n = B.shape[0]
    out = np.empty((m, n), dtype=np.float64)
    recomputed = 0
    if out.size == 0:
        return out, Stats(0)
    vocab = voc()
    ns = {"eps": eps, **params}
    expanded = [a for a in pl.accs.values() if isinstance(a, Expanded)]
    XAs = _Side(A, "x", ns, (A == 0) if expanded else None)
    XBs = _Side(B, "y", ns, (B == 0) if expanded else None)
    plain: dict[str, tuple[str, Any, Any]] = {}
    prepared: dict[str, _Acc] = {}
    with np.errstate(all="ignore"):
        for name, sp in pl.accs.items():
            if isinstance(sp, Expanded):
                prepared[name] = _prepare_expanded(sp, XAs, XBs, ns, d)
            elif sp.how == "gemm":
                F = np.asarray(compile_with(sp.left, vocab)(x=A), dtype=np.float64)
                G = np.asarray(compile_with(sp.right, vocab)(y=B), dtype=np.float64)
                plain[name] = ("gemm", np.broadcast_to(F, A.shape), np.broadcast_to(G, B.shape))
            elif sp.how == "rows":
                F = compile_with(sp.left, vocab)(x=A)
                plain[name] = ("rows", np.broadcast_to(F, A.shape).sum(axis=1)[:, None], None)
            else:
                G = compile_with(sp.right, vocab)(y=B)
                plain[name] = ("cols", np.broadcast_to(G, B.shape).sum(axis=1)[None, :], None)
        fin_src = pl.finalize
        fin = compile_with(fin_src, vocab)
        fin_tree = parse(fin_src).body
        consts = {"d": float(d), "eps": eps, **params}
        if pl.guarded and guard:
            bad_rows = _out_of_range(A) | XAs.bad
            bad_cols = _out_of_range(B) | XBs.bad
            any_bad = bool(bad_rows.any() or bad_cols.any())
        big = max(1, PRODUCT_ELEMENTS // n)
        step = max(1, CHUNK_ELEMENTS // n)
        for b0 in range(0, m, big):
            if pl.guarded and guard and 2 * recomputed > b0 * n > 0:
                # the blocks so far needed the direct kernel for most pairs: so will these
                out[b0:] = _direct(measure, A[b0:], B, zero, eps, params)
                recomputed += (m - b0) * n
                break
            rb = slice(b0, min(m, b0 + big))
            prods_plain = {
                name: L[rb] @ R.T for name, (how, L, R) in plain.items() if how == "gemm"
            }
            prods = {name: _products(acc, rb) for name, acc in prepared.items()}
            bad_block = None
            for i0 in range(rb.start, rb.stop, step):
                r = slice(i0, min(rb.stop, i0 + step))
                sub = slice(r.start - b0, r.stop - b0)
                accs: dict[str, Any] = {}
                errs: dict[str, Any] = {}
                for name, (how, L, _) in plain.items():
                    if how == "gemm":
                        accs[name] = prods_plain[name][sub]
                    else:
                        accs[name] = L[r] if how == "rows" else L
                    errs[name] = 0.0
                for name, acc in prepared.items():
                    accs[name], errs[name] = _assemble(acc, prods[name], r, sub)
                if not (pl.guarded and guard):
                    out[r] = np.broadcast_to(fin(**consts, **accs), out[r].shape)
                    continue
                env = {k: (v, 0.0) for k, v in consts.items()}
                env |= {k: (accs[k], errs[k]) for k in accs}
                val, err = _ferr(fin_tree, env)
                o = out[r]
                o[...] = val
                ok = np.abs(o)
                ok *= REL_TOL
                ok = np.less_equal(err, ok)
                if any_bad:
                    ok &= ~bad_rows[r, None]
                    ok &= ~bad_cols[None, :]
                if not ok.all():
                    if bad_block is None:
                        bad_block = np.zeros((rb.stop - rb.start, n), dtype=bool)
                    np.logical_not(ok, out=bad_block[sub])
            if bad_block is not None:
                recomputed += _recompute(
                    measure, A[rb], B, out[rb], bad_block, (zero, eps, params)
                )
    return out, Stats(recomputed)
