"""Assembly of an expanded accumulator: per-row sums, the factor matrices of its matrix
products, the exact corrections at zeros, and (value, error bound) for a block of rows (see
:mod:`divergences.kernels.factored`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import array_api_compat
import numpy as np

from ...expr import compile_with
from .. import mixed_log
from ..helpers import vocabulary
from .bounds import gamma
from .expansion import eval_factor
from .planning import Expanded


def voc() -> dict[str, Any]:
    return vocabulary(array_api_compat.array_namespace(np.empty(0)))


def dot(L: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``out[i, j] = sum_k L[i, k] R[j, k]``, every pair summed over k = 0..d-1 in order by
    the direct kernel of the inner product: a pair's value never depends on the other rows
    of the call. (A BLAS product's can: its blocking and its edge kernels follow the shapes,
    so identical rows got values 1 ulp apart, and a row's value changed with the rows
    computed beside it.) Terms ``L[i, k] R[j, k]`` that are exactly 0 leave a sum unchanged,
    so dropping columns where every product is 0 does not change a value either."""
    from ... import registry
    from .. import numba_cpu

    return numba_cpu.cdist(
        registry.get("inner_product"), L, R, zero="strict", eps=1.0, params={}
    )


def _sign_class(F: np.ndarray) -> int:
    """+1 if every entry is >= 0, -1 if every entry is <= 0, else 0."""
    if F.size == 0 or not (F < 0).any():
        return 1
    return -1 if not (F > 0).any() else 0


class _Side:
    """The factor arrays of one side (XA with x, or XB with y), made safe: a value that is
    not finite at a zero input becomes 0 (the zero correction accounts for it); one at a
    non-zero input marks the row bad (the direct kernel recomputes it)."""

    def __init__(self, X: np.ndarray, var: str, ns: dict[str, float], zeros: np.ndarray | None):
        self.X, self.var, self.ns, self.zeros = X, var, ns, zeros
        self.bad = np.zeros(X.shape[0], dtype=bool)
        self._cache: dict[str, np.ndarray] = {}
        self._at0: dict[str, float] = {}
        self._memo: dict[Any, Any] = {}

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per side: what depends on this side's rows alone (its
        sums, factor matrices, zero masks...), so that a side prepared once (the database
        of :class:`divergences.Index` or of ``knn``) serves every block of the other."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def __call__(self, src: str) -> np.ndarray:
        if src not in self._cache:
            V = eval_factor(src, self.var, self.X, self.ns, voc())
            fin = np.isfinite(V)
            if not fin.all():
                self.bad |= (~fin & (self.X != 0)).any(axis=1)
                V = np.where(fin, V, 0.0)
            self._cache[src] = np.ascontiguousarray(V)
        return self._cache[src]

    def at0(self, src: str) -> float:
        """The safe value of factor ``src`` at a zero input."""
        if src not in self._at0:
            v = float(eval_factor(src, self.var, np.zeros(1), self.ns, voc())[0])
            self._at0[src] = v if math.isfinite(v) else 0.0
        return self._at0[src]


@dataclass
class _Acc:
    """Per-row / per-column parts of one expanded accumulator, ready for the row chunks."""

    rows: np.ndarray  # (m,) sum over k of the x-only monomials (+ the constants)
    cols: np.ndarray  # (n,)
    rows_abs: np.ndarray
    cols_abs: np.ndarray
    F: np.ndarray | None  # (m, P d) the x-factors of the product monomials (coefs folded in)
    G: np.ndarray | None  # (n, P d)
    one_sign: bool  # the products summed by F @ G.T all have one sign
    # when not one_sign: (m, P d) |coef F| and (n, P d) |G| (sum |terms| per pair)
    norm_f: np.ndarray | None
    norm_g: np.ndarray | None
    depth: int
    corr: list[tuple[np.ndarray, np.ndarray]]  # finite zero corrections: (m, k) @ (n, k).T
    poles: dict[str, list[tuple[np.ndarray, np.ndarray]]]  # "pos"/"neg"/"nan" indicators
    # |corr| pair by pair: the same products of |C| and the indicators
    corr_abs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    has_rows: bool = True
    has_cols: bool = True
    # parts summed with (almost) no rounding error of their own (extended precision):
    # sum |values|, already times gamma(0), and of the terms of rows_abs / cols_abs
    rows_fine: np.ndarray | None = None
    cols_fine: np.ndarray | None = None
    # the mixed monomials: (alpha, beta) of sum (alpha x + beta y) log(x + y), the rows,
    # and gamma of the kernel's summation depth
    mix: tuple[float, float] | None = None
    A: np.ndarray | None = None
    B: np.ndarray | None = None
    mix_gamma: float = 0.0


#: whether numpy's longdouble has at least 60 bits of mantissa (x86 Linux: 64)
_EXTENDED = bool(np.finfo(np.longdouble).eps <= 2.0**-59)


def _row_sums(F: np.ndarray) -> tuple[np.ndarray, bool]:
    """Row sums of F and whether they carry only their final rounding (summed in extended
    precision where the platform has it, else in float64 with the usual depth)."""
    if _EXTENDED:
        return F.sum(axis=1, dtype=np.longdouble).astype(np.float64), True
    return F.sum(axis=1), False


def _prepare_expanded(ex: Expanded, XA: Any, XB: Any, ns: dict[str, float], d: int) -> _Acc:
    rows, rows_abs, rows_fine, alpha = XA.memo((ex, "sums"), lambda: _one_sided(ex, XA, d))
    cols, cols_abs, cols_fine, beta = XB.memo((ex, "sums"), lambda: _one_sided(ex, XB, d))
    # always products (also where a factor happens to be constant, e.g. y / nz(y, eps)
    # without zeros): a row's value must not depend on the other rows
    prods = [(mo.coef, mo.f, mo.g) for mo in ex.monos if not mo.mixed and mo.f and mo.g]
    acc = _Acc(rows, cols, rows_abs, cols_abs, None, None, True, None, None, d, [], {})
    A, B = XA.X, XB.X
    if alpha or beta:
        acc.mix, acc.A, acc.B = (alpha, beta), A, B
        acc.mix_gamma = gamma(mixed_log.depth(d))
    if prods:
        acc.F, sf = XA.memo((ex, "F"), lambda: _factors(prods, XA))
        acc.G, sg = XB.memo((ex, "F"), lambda: _factors(prods, XB))
        signs = {int(np.sign(c)) * a * b for (c, _, _), a, b in zip(prods, sf, sg, strict=True)}
        acc.one_sign = len(signs) == 1 and 0 not in signs
        if not acc.one_sign:
            # sum |terms| as one more product, of |coef F| and |G|: the bound of each pair
            # from its own terms. Where a pair's terms all have one sign this sum is exactly
            # |F @ G| (the same additions, mirrored), so the bound, and with it the guard's
            # choice, never depends on which other rows share the call
            acc.norm_f = XA.memo((ex, "|F|"), lambda: np.abs(acc.F))
            acc.norm_g = XB.memo((ex, "|F|"), lambda: np.abs(acc.G))
        acc.depth = d * len(prods)
    _zero_corrections(ex, XA, XB, ns, acc)
    acc.rows_fine, acc.cols_fine = rows_fine * gamma(0), cols_fine * gamma(0)
    acc.rows_abs, acc.cols_abs = rows_abs.copy(), cols_abs.copy()
    acc.has_rows = bool(acc.rows.any() or acc.rows_abs.any() or rows_fine.any())
    acc.has_cols = bool(acc.cols.any() or acc.cols_abs.any() or cols_fine.any())
    return acc


def _one_sided(ex: Expanded, S: _Side, d: int) -> tuple[Any, Any, Any, float]:
    """Per-row sums over k of the monomials of this side alone (with the constants on the x
    side), the sums of their |values| (for the bound), the parts summed in extended
    precision, and the coefficient of this side's mixed monomial."""
    x = S.var == "x"
    n = S.X.shape[0]
    sums, abs_, fine = np.zeros(n), np.zeros(n), np.zeros(n)
    mix = 0.0
    for mo in ex.monos:
        if mo.mixed:
            # |error| of a term <= |alpha x + beta y| (u + 3 u |log(x + y)|): the second part
            # is in the kernel's sum of |terms|, the first here
            if bool(mo.f) == x:
                mix += mo.coef
                fine += abs(mo.coef) * np.abs(S.X).sum(axis=1)
        elif not mo.f and not mo.g:
            if x:
                sums += mo.coef * d
                fine += abs(mo.coef) * d
        elif (x and not mo.g) or (not x and not mo.f):
            F = S(mo.f if x else mo.g)
            total, exact = _row_sums(F)
            sums += mo.coef * total
            (fine if exact else abs_)[:] += abs(mo.coef) * np.abs(F).sum(axis=1)
    return sums, abs_, fine, mix


def _factors(prods: list[tuple[float, str, str]], S: _Side) -> tuple[np.ndarray, list[int]]:
    """This side's factor matrix of the product monomials, side by side (the coefficients
    folded into the x side), and the sign class of each."""
    x = S.var == "x"
    mats = [S(f if x else g) for _, f, g in prods]
    signs = [_sign_class(F) for F in mats]
    if x:
        mats = [F if c == 1.0 else (-F if c == -1.0 else c * F) for (c, _, _), F in zip(
            prods, mats, strict=True)]
    return (np.hstack(mats) if len(mats) > 1 else mats[0]), signs


def _zero_corrections(ex: Expanded, XA: _Side, XB: _Side, ns: dict[str, float], acc: _Acc) -> None:
    """Exact values where XA or XB is 0 (see the module docstring)."""
    za, zb = XA.zeros, XB.zeros
    ka = XA.memo("zero columns", lambda: _zero_columns(za))
    kb = XB.memo("zero columns", lambda: _zero_columns(zb))
    if ka.size == 0 and kb.size == 0:
        return
    term = compile_with(ex.term, voc())

    def at_zero(S: _Side, sub: np.ndarray, cols: Any) -> np.ndarray:
        # the monomials where the other side is 0, with the factor values the sums used
        out = np.zeros_like(sub)
        x = S.var == "x"
        for mo in ex.monos:
            if mo.mixed:  # (x or y) log(x + y) where the other one is 0
                if bool(mo.f) == x:
                    out = out + mo.coef * sub * np.log(sub)
                continue
            if x:
                f = S(mo.f)[:, cols] if mo.f else 1.0
                g = XB.at0(mo.g) if mo.g else 1.0
            else:
                f = XA.at0(mo.f) if mo.f else 1.0
                g = S(mo.g)[:, cols] if mo.g else 1.0
            out = out + mo.coef * (f * g)
        return out

    def corrections(S: _Side, cols: Any) -> dict[str, Any]:
        """C = T - P on this side's non-zero entries where the other side is 0 (columns
        ``cols``): its finite part, |finite part|, and indicators of its inf/NaN values."""
        sub = S.X[:, cols]
        zeros = np.zeros_like(sub)
        args = {"x": sub, "y": zeros} if S.var == "x" else {"x": zeros, "y": sub}
        T = np.asarray(term(**args, **ns), dtype=np.float64) + 0 * sub
        C = np.where(sub != 0, T - at_zero(S, sub, cols), 0.0)
        fin = np.isfinite(C)
        Cf = np.where(fin, C, 0.0)
        out: dict[str, Any] = {"C": Cf if Cf.any() else None, "|C|": np.abs(Cf)}
        for kind, ind in (("pos", C == math.inf), ("neg", C == -math.inf), ("nan", np.isnan(C))):
            out[kind] = ind.astype(np.float32) if not fin.all() and ind.any() else None
        return out

    def add(parts: dict[str, Any], cols: Any, other: np.ndarray, left: bool) -> None:
        if parts["C"] is not None:
            C, Cabs = parts["C"][:, cols], parts["|C|"][:, cols]
            ind = other.astype(np.float64)
            # the bound takes each pair's own |corrections| (one more product), so that it
            # does not depend on which columns the other rows of the call have zeros in
            acc.corr.append((C, ind) if left else (ind, C))
            acc.corr_abs.append((Cabs, ind) if left else (ind, Cabs))
        for kind in ("pos", "neg", "nan"):
            if parts[kind] is not None:
                I32, O32 = parts[kind][:, cols], other.astype(np.float32)
                acc.poles.setdefault(kind, []).append((I32, O32) if left else (O32, I32))

    with np.errstate(all="ignore"):
        if kb.size:  # y = 0, x != 0: T(x, 0) - P(x, 0), on the columns where XB has zeros
            every = slice(None)
            add(XA.memo((ex, "C", "kb"), lambda: corrections(XA, kb)), every, zb[:, kb], True)
        if ka.size:  # x = 0, y != 0: XB's corrections on every column, once
            parts = XB.memo((ex, "C"), lambda: corrections(XB, slice(None)))
            add(parts, ka, za[:, ka], False)
        both = np.intersect1d(ka, kb)
        if both.size:  # x = 0 and y = 0
            z = np.zeros(1)
            t00 = float(np.asarray(term(x=z, y=z, **ns), dtype=np.float64).reshape(-1)[0])
            p00 = sum(  # mixed monomials are 0 there (0 log 0 = 0 in the kernel)
                mo.coef * (XA.at0(mo.f) if mo.f else 1.0) * (XB.at0(mo.g) if mo.g else 1.0)
                for mo in ex.monos
                if not mo.mixed
            )
            c00 = t00 - p00
            if c00 != 0:
                Za, Zb = za[:, both], zb[:, both]
                if math.isfinite(c00):
                    Zb64 = Zb.astype(np.float64)
                    acc.corr.append((c00 * Za.astype(np.float64), Zb64))
                    acc.corr_abs.append((abs(c00) * Za.astype(np.float64), Zb64))
                else:
                    kind = "nan" if math.isnan(c00) else ("pos" if c00 > 0 else "neg")
                    acc.poles.setdefault(kind, []).append(
                        (Za.astype(np.float32), Zb.astype(np.float32))
                    )


def _zero_columns(zeros: np.ndarray | None) -> np.ndarray:
    return np.flatnonzero(zeros.any(axis=0)) if zeros is not None else np.zeros(0, dtype=int)


def _products(
    acc: _Acc, r: slice, product: Callable[[np.ndarray, np.ndarray], np.ndarray] = dot
) -> dict[str, Any]:
    """The matrix products of an expanded accumulator for the rows ``r`` (:func:`dot`, one
    call each on a large block of rows). ``product(L, R)`` (``L @ R.T``) may be another
    summation, e.g. BLAS for a screen whose values need only stay within the error bound
    (:mod:`divergences.screening`); the indicator counts are exact in any order."""
    out: dict[str, Any] = {}
    if acc.F is not None:
        out["prod"] = product(acc.F[r], acc.G)
        if not acc.one_sign:
            out["cs"] = product(acc.norm_f[r], acc.norm_g)
    if acc.mix is not None:
        out["mix"], out["mix_abs"] = mixed_log.sums(acc.A[r], acc.B, *acc.mix)
    if acc.corr:
        out["corr"] = sum(product(L[r], R) for L, R in acc.corr)
        out["corr_abs"] = sum(product(L[r], R) for L, R in acc.corr_abs)
    for kind, parts in acc.poles.items():  # counts: exact in any order (BLAS is fine)
        out[kind] = sum(L[r] @ R.T for L, R in parts)
    return out


def _assemble(acc: _Acc, prods: dict[str, Any], r: slice, s: slice) -> tuple[Any, Any]:
    """(value, error bound) of an expanded accumulator for the rows ``r``, given the
    products of a block of rows and the slice ``s`` of it that ``r`` is."""
    if "prod" in prods:
        prod = prods["prod"][s]
        val = prod + acc.rows[r, None] if acc.has_rows else prod.copy()
        if acc.has_cols:
            val += acc.cols[None, :]
        S = np.abs(prod) if acc.one_sign else prods["cs"][s].copy()
        if acc.has_rows:
            S += acc.rows_abs[r, None]
        if acc.has_cols:
            S += acc.cols_abs[None, :]
    else:
        val = acc.rows[r, None] + acc.cols[None, :]
        S = acc.rows_abs[r, None] + acc.cols_abs[None, :]
    if "corr" in prods:
        val += prods["corr"][s]
        S += prods["corr_abs"][s]
    S *= gamma(acc.depth)
    S += acc.rows_fine[r, None]
    S += acc.cols_fine[None, :]
    if "mix" in prods:
        val += prods["mix"][s]
        S += acc.mix_gamma * prods["mix_abs"][s]
    if acc.poles:
        pos = prods["pos"][s] > 0 if "pos" in prods else False
        neg = prods["neg"][s] > 0 if "neg" in prods else False
        nan = (prods["nan"][s] > 0 if "nan" in prods else False) | (pos & neg)
        hit = pos | neg | nan
        if np.any(hit):
            val = np.where(nan, math.nan, np.where(pos, math.inf, np.where(neg, -math.inf, val)))
            S = np.where(hit, 0.0, S)
    return val, S

