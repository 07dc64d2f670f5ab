"""Assembly of an expanded accumulator: per-row sums, the factor matrices of its matrix
products, the exact corrections at zeros, and (value, error bound) for a block of rows (see
:mod:`divergences.kernels.factored`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
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
    # when not one_sign: (m, P) |coef| ||F_p,i|| and (n, P) ||G_p,j|| (the Cauchy-Schwarz
    # bound), or, where each product has one sign, (m, P d) |coef F| and (n, P d) |G|
    norm_f: np.ndarray | None
    norm_g: np.ndarray | None
    depth: int
    corr: list[tuple[np.ndarray, np.ndarray]]  # finite zero corrections: (m, k) @ (n, k).T
    poles: dict[str, list[tuple[np.ndarray, np.ndarray]]]  # "pos"/"neg"/"nan" indicators
    has_rows: bool = True
    has_cols: bool = True
    buf: np.ndarray | None = None  # reused output of F @ G.T
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
    A, B = XA.X, XB.X
    m, n = A.shape[0], B.shape[0]
    rows, cols = np.zeros(m), np.zeros(n)
    rows_abs, cols_abs = np.zeros(m), np.zeros(n)
    rows_fine, cols_fine = np.zeros(m), np.zeros(n)
    prods: list[tuple[float, np.ndarray, np.ndarray]] = []
    alpha = beta = 0.0
    for mo in ex.monos:
        if mo.mixed:
            # |error| of a term <= |alpha x + beta y| (u + 3 u |log(x + y)|): the second part
            # is in the kernel's sum of |terms|, the first here
            if mo.f:
                alpha += mo.coef
                rows_fine += abs(mo.coef) * np.abs(A).sum(axis=1)
            else:
                beta += mo.coef
                cols_fine += abs(mo.coef) * np.abs(B).sum(axis=1)
        elif not mo.f and not mo.g:
            rows += mo.coef * d
            rows_fine += abs(mo.coef) * d
        elif not mo.g:
            F = XA(mo.f)
            sums, exact = _row_sums(F)
            rows += mo.coef * sums
            (rows_fine if exact else rows_abs)[:] += abs(mo.coef) * np.abs(F).sum(axis=1)
        elif not mo.f:
            G = XB(mo.g)
            sums, exact = _row_sums(G)
            cols += mo.coef * sums
            (cols_fine if exact else cols_abs)[:] += abs(mo.coef) * np.abs(G).sum(axis=1)
        else:
            F, G = XA(mo.f), XB(mo.g)
            # a factor that is the same everywhere (y / nz(y, eps) without zeros) is a sum
            if F.size and (F == F.flat[0]).all():
                cols += mo.coef * F.flat[0] * G.sum(axis=1)
                cols_abs += abs(mo.coef * F.flat[0]) * np.abs(G).sum(axis=1)
            elif G.size and (G == G.flat[0]).all():
                rows += mo.coef * G.flat[0] * F.sum(axis=1)
                rows_abs += abs(mo.coef * G.flat[0]) * np.abs(F).sum(axis=1)
            else:
                prods.append((mo.coef, F, G))
    acc = _Acc(rows, cols, rows_abs, cols_abs, None, None, True, None, None, d, [], {})
    if alpha or beta:
        acc.mix, acc.A, acc.B = (alpha, beta), A, B
        acc.mix_gamma = gamma(mixed_log.depth(d))
    if prods:
        Fs = [F if c == 1.0 else (-F if c == -1.0 else c * F) for c, F, _ in prods]
        acc.F = np.hstack(Fs) if len(prods) > 1 else Fs[0]
        acc.G = np.hstack([G for _, _, G in prods]) if len(prods) > 1 else prods[0][2]
        signs = {int(np.sign(c)) * _sign_class(F) * _sign_class(G) for c, F, G in prods}
        acc.one_sign = len(signs) == 1 and 0 not in signs
        if not acc.one_sign and 0 not in signs:
            # products of one sign each, with coefficients of both signs (Kumar-Johnson's
            # x^4 - 2 x^2 y^2 + y^4): sum |terms| is one more product, of |F| and |G|
            acc.norm_f = np.hstack([abs(c) * np.abs(F) for c, F, _ in prods])
            acc.norm_g = np.hstack([np.abs(G) for _, _, G in prods])
        elif not acc.one_sign:
            acc.norm_f = np.stack(
                [abs(c) * np.sqrt(np.einsum("ik,ik->i", F, F)) for c, F, _ in prods], 1
            )
            acc.norm_g = np.stack([np.sqrt(np.einsum("jk,jk->j", G, G)) for _, _, G in prods], 1)
        acc.depth = d * len(prods)
    _zero_corrections(ex, XA, XB, ns, acc)
    acc.rows_fine, acc.cols_fine = rows_fine * gamma(0), cols_fine * gamma(0)
    acc.has_rows = bool(acc.rows.any() or acc.rows_abs.any() or rows_fine.any())
    acc.has_cols = bool(acc.cols.any() or acc.cols_abs.any() or cols_fine.any())
    return acc


def _zero_corrections(ex: Expanded, XA: _Side, XB: _Side, ns: dict[str, float], acc: _Acc) -> None:
    """Exact values where XA or XB is 0 (see the module docstring)."""
    A, B = XA.X, XB.X
    za, zb = XA.zeros, XB.zeros
    ka = np.flatnonzero(za.any(axis=0)) if za is not None else np.zeros(0, dtype=int)
    kb = np.flatnonzero(zb.any(axis=0)) if zb is not None else np.zeros(0, dtype=int)
    if ka.size == 0 and kb.size == 0:
        return
    term = compile_with(ex.term, voc())

    def at_zero(side: str, sub: np.ndarray, cols: np.ndarray) -> np.ndarray:
        # the monomials where the other side is 0, with the factor values the sums used
        out = np.zeros_like(sub)
        for mo in ex.monos:
            if mo.mixed:  # (x or y) log(x + y) where the other one is 0
                if bool(mo.f) == (side == "x"):
                    out = out + mo.coef * sub * np.log(sub)
                continue
            if side == "x":
                f = XA(mo.f)[:, cols] if mo.f else 1.0
                g = XB.at0(mo.g) if mo.g else 1.0
            else:
                f = XA.at0(mo.f) if mo.f else 1.0
                g = XB(mo.g)[:, cols] if mo.g else 1.0
            out = out + mo.coef * (f * g)
        return out

    def split(C: np.ndarray, other: np.ndarray, left: bool) -> None:
        with np.errstate(all="ignore"):
            fin = np.isfinite(C)
            Cf = np.where(fin, C, 0.0)
        ind = other.astype(np.float64)
        if Cf.any():
            acc.corr.append((Cf, ind) if left else (ind, Cf))
            if left:
                acc.rows_abs += np.abs(Cf).sum(axis=1)
            else:
                acc.cols_abs += np.abs(Cf).sum(axis=1)
        if not fin.all():
            O32 = other.astype(np.float32)
            for kind, ind in (
                ("pos", C == math.inf),
                ("neg", C == -math.inf),
                ("nan", np.isnan(C)),
            ):
                if ind.any():
                    I32 = ind.astype(np.float32)
                    acc.poles.setdefault(kind, []).append((I32, O32) if left else (O32, I32))

    with np.errstate(all="ignore"):
        if kb.size:  # y = 0, x != 0: T(x, 0) - P(x, 0)
            sub = A[:, kb]
            T = np.asarray(term(x=sub, y=np.zeros_like(sub), **ns), dtype=np.float64) + 0 * sub
            split(np.where(sub != 0, T - at_zero("x", sub, kb), 0.0), zb[:, kb], True)
        if ka.size:  # x = 0, y != 0
            sub = B[:, ka]
            T = np.asarray(term(x=np.zeros_like(sub), y=sub, **ns), dtype=np.float64) + 0 * sub
            split(np.where(sub != 0, T - at_zero("y", sub, ka), 0.0), za[:, ka], False)
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
                    acc.corr.append((c00 * Za.astype(np.float64), Zb.astype(np.float64)))
                    acc.rows_abs += abs(c00) * Za.sum(axis=1)
                else:
                    kind = "nan" if math.isnan(c00) else ("pos" if c00 > 0 else "neg")
                    acc.poles.setdefault(kind, []).append(
                        (Za.astype(np.float32), Zb.astype(np.float32))
                    )



def _products(acc: _Acc, r: slice) -> dict[str, Any]:
    """The matrix products of an expanded accumulator for the rows ``r`` (BLAS, one call
    each on a large block of rows)."""
    out: dict[str, Any] = {}
    if acc.F is not None:
        rows = r.stop - r.start
        if acc.buf is None or acc.buf.shape[0] < rows:
            acc.buf = np.empty((rows, acc.G.shape[0]))
        out["prod"] = np.matmul(acc.F[r], acc.G.T, out=acc.buf[:rows])
        if not acc.one_sign:
            out["cs"] = acc.norm_f[r] @ acc.norm_g.T
    if acc.mix is not None:
        out["mix"], out["mix_abs"] = mixed_log.sums(acc.A[r], acc.B, *acc.mix)
    if acc.corr:
        out["corr"] = sum(L[r] @ R.T for L, R in acc.corr)
    for kind, parts in acc.poles.items():
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

