"""The driver: blocks of rows through the plan, the guard, and the direct kernel's
recomputation of the pairs it rejects (see :mod:`divergences.kernels.factored`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...expr import compile_with, parse
from ...spec import Measure
from .assembly import _Acc, _assemble, _prepare_expanded, _products, _Side, dot, voc
from .bounds import _ferr
from .planning import Expanded, plan

#: a factored value is kept where its error bound is at most REL_TOL * |value|
REL_TOL = 2.0**-40
#: non-zero input magnitudes inside which the regime's identities cannot under/overflow
TINY, HUGE = 2.0**-200, 2.0**200
#: output elements per block of rows whose matrix products are one kernel call each
PRODUCT_ELEMENTS = 1 << 21
#: output elements per sub-block of the elementwise passes (they stay in cache)
CHUNK_ELEMENTS = 1 << 14
#: rows of A recomputed together by the direct kernel
FALLBACK_ROWS = 32


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
    blocks of rows against the columns they need (all of them where most are).

    Only the ``bad`` pairs are written, and always with the direct *cdist* kernel, whose
    value for a pair does not depend on the other rows and columns of its call (its
    single-pair function compiles to other code and can differ in the last bits): so a
    pair's value never depends on which other pairs needed the direct kernel."""
    zero, eps, params = args
    count = int(np.count_nonzero(bad))
    rows = np.flatnonzero(bad.any(axis=1))
    n = B.shape[0]
    for s in range(0, rows.size, FALLBACK_ROWS):
        r = rows[s : s + FALLBACK_ROWS]
        cols = np.flatnonzero(bad[r].any(axis=0))
        if 2 * cols.size > n:
            D = _direct(measure, A[r], B, zero, eps, params)
            out[r] = np.where(bad[r], D, out[r])
        else:
            D = _direct(measure, A[r], B[cols], zero, eps, params)
            ix = np.ix_(r, cols)
            out[ix] = np.where(bad[ix], D, out[ix])
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


def cdist_prepared(
    measure: Measure,
    XA: np.ndarray,
    prepared: Prepared,
    *,
    zero: str,
    eps: float,
    params: dict[str, float],
) -> np.ndarray:
    """:func:`cdist` of ``XA`` against the rows of ``prepared`` (from :func:`prepare_rows`):
    the same values as ``cdist(measure, XA, rows)``, bit for bit."""
    return cdist_stats(
        measure, XA, None, zero=zero, eps=eps, params=params, prepared=prepared
    )[0]


def prepare_rows(
    measure: Measure, XB: np.ndarray, *, zero: str, eps: float, params: dict[str, float]
) -> Prepared:
    """XB's side of the factored form, computed once for any number of :func:`cdist_stats`
    calls with ``prepared=`` (the database of :class:`divergences.Index` and ``knn``): its
    factor matrices (``sqrt XB``, ``log XB``...), per-row sums and their bounds, zero masks
    and corrections, and the rows the guard sends to the direct kernel. What a block of
    queries needs of it is then sliced, never recomputed."""
    B = np.ascontiguousarray(XB, dtype=np.float64)
    rows = _new_side(measure, zero, B, "y", eps, params)
    side = Prepared(measure, zero, float(eps), dict(params), rows)
    if B.shape[0]:  # one query row fills every memo of the XB side
        cdist_stats(measure, B[:1], B, zero=zero, eps=eps, params=params, prepared=side)
    return side


@dataclass(frozen=True)
class Prepared:
    """XB's prepared side (see :func:`prepare_rows`), for the measure and options given."""

    measure: Measure
    zero: str
    eps: float
    params: dict[str, float]
    side: _Side

    @property
    def rows(self) -> np.ndarray:
        return self.side.X


def _new_side(
    measure: Measure, zero: str, X: np.ndarray, var: str, eps: float, params: dict[str, float]
) -> _Side:
    pl = plan(measure, zero, params)
    assert pl is not None, f"{measure.name} has no factored form"
    expanded = any(isinstance(a, Expanded) for a in pl.accs.values())
    return _Side(X, var, {"eps": eps, **params}, (X == 0) if expanded else None)


def cdist_stats(
    measure: Measure,
    XA: np.ndarray,
    XB: np.ndarray | None,
    *,
    zero: str,
    eps: float,
    params: dict[str, float],
    guard: bool = True,
    prepared: Prepared | None = None,
) -> tuple[np.ndarray, Stats]:
    """:func:`cdist` and the :class:`Stats` of the call (no state is kept between calls);
    with ``prepared`` (from :func:`prepare_rows`, same measure and options) XB's side is
    taken from it (``XB`` is then ignored)."""
    pl = plan(measure, zero, params)
    assert pl is not None, f"{measure.name} has no factored form"
    A = np.ascontiguousarray(XA, dtype=np.float64)
    if prepared is not None:
        assert (prepared.measure, prepared.zero, prepared.eps, prepared.params) == (
            measure, zero, float(eps), dict(params)
        ), "prepared for another measure or other options"
        XBs = prepared.side
    else:
        XBs = _new_side(measure, zero, np.ascontiguousarray(XB, dtype=np.float64), "y", eps, params)
    B = XBs.X
    m, d = A.shape
    n = B.shape[0]
    out = np.empty((m, n), dtype=np.float64)
    recomputed = 0
    if out.size == 0:
        return out, Stats(0)
    vocab = voc()
    ns = {"eps": eps, **params}
    XAs = _new_side(measure, zero, A, "x", eps, params)
    plain: dict[str, tuple[str, Any, Any]] = {}
    prepared_accs: dict[str, _Acc] = {}
    with np.errstate(all="ignore"):
        for name, sp in pl.accs.items():
            if isinstance(sp, Expanded):
                prepared_accs[name] = _prepare_expanded(sp, XAs, XBs, ns, d)
            elif sp.how == "gemm":
                F = np.asarray(compile_with(sp.left, vocab)(x=A), dtype=np.float64)
                G = XBs.memo(
                    (name, "gemm"),
                    lambda sp=sp: np.ascontiguousarray(
                        np.broadcast_to(compile_with(sp.right, vocab)(y=B), B.shape),
                        dtype=np.float64,
                    ),
                )
                plain[name] = ("gemm", np.broadcast_to(F, A.shape), G)
            elif sp.how == "rows":
                F = compile_with(sp.left, vocab)(x=A)
                plain[name] = ("rows", np.broadcast_to(F, A.shape).sum(axis=1)[:, None], None)
            else:
                G = XBs.memo(
                    (name, "cols"),
                    lambda sp=sp: np.broadcast_to(compile_with(sp.right, vocab)(y=B), B.shape)
                    .sum(axis=1)[None, :],
                )
                plain[name] = ("cols", G, None)
        fin_src = pl.finalize
        fin = compile_with(fin_src, vocab)
        fin_tree = parse(fin_src).body
        consts = {"d": float(d), "eps": eps, **params}
        if pl.guarded and guard:
            bad_rows = _out_of_range(A) | XAs.bad
            bad_cols = XBs.memo("bad", lambda: _out_of_range(B)) | XBs.bad
            any_bad = bool(bad_rows.any() or bad_cols.any())
        big = max(1, PRODUCT_ELEMENTS // n)
        step = max(1, CHUNK_ELEMENTS // n)
        for b0 in range(0, m, big):
            rb = slice(b0, min(m, b0 + big))
            prods_plain = {
                name: dot(L[rb], R) for name, (how, L, R) in plain.items() if how == "gemm"
            }
            prods = {name: _products(acc, rb) for name, acc in prepared_accs.items()}
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
                for name, acc in prepared_accs.items():
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
