"""Factored evaluation: accumulators that split into per-row terms and one matrix product.

An accumulator term ``f(x) * g(y)`` sums to ``F(XA) @ G(XB).T`` (one GEMM), a term of ``x``
alone to a per-row sum of XA, a term of ``y`` alone to a per-row sum of XB. A measure whose
every accumulator has one of these shapes (detected from its definition, nothing is listed by
hand) can be evaluated with BLAS and a vectorised finalize. These are sums of the same
products as the direct kernel, in another order, so they keep its accuracy; accumulators
that need direct differences (sum (x - y)^2, logs of ratios) are never factored.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from ..expr import compile_with, names_in, parse
from ..spec import Measure
from .helpers import vocabulary


@dataclass(frozen=True)
class Split:
    """How one accumulator is computed: ``gemm`` (f(x) g(y)), ``rows`` (f(x)), ``cols`` (g(y))."""

    how: str
    left: str = ""
    right: str = ""


def _split(term: str) -> Split | None:
    tree = parse(term).body
    used = names_in(term)
    if "y" not in used and "eps" not in used:
        return Split("rows", left=term)
    if "x" not in used and "eps" not in used:
        return Split("cols", right=term)
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Mult):
        a, b = ast.unparse(tree.left), ast.unparse(tree.right)
        na, nb = names_in(a), names_in(b)
        if na <= {"x"} and nb <= {"y"} and na and nb:
            return Split("gemm", left=a, right=b)
        if na <= {"y"} and nb <= {"x"} and na and nb:
            return Split("gemm", left=b, right=a)
    return None


@functools.cache
def plan(measure: Measure, zero: str) -> dict[str, Split] | None:
    """The split of every sum accumulator of ``measure``, or None when it cannot be factored."""
    out = {}
    for name, acc in measure.rule(zero).accumulators.items():
        split = _split(acc.term) if acc.reduce == "sum" else None
        if split is None:
            return None
        out[name] = split
    return out


def factorable(measure: Measure, zero: str) -> bool:
    """Whether ``measure`` in zero mode ``zero`` has a factored form."""
    return plan(measure, zero) is not None


def cdist(
    measure: Measure,
    XA: np.ndarray,
    XB: np.ndarray,
    *,
    zero: str,
    eps: float,
    params: dict[str, float],
) -> np.ndarray:
    """``measure`` for every row pair through per-row terms, one GEMM per product accumulator
    and a vectorised finalize (float64 throughout)."""
    splits = plan(measure, zero)
    assert splits is not None, f"{measure.name} has no factored form"
    xp = array_api_compat.array_namespace(np.empty(0))
    voc = vocabulary(xp)
    A = np.asarray(XA, dtype=np.float64)
    B = np.asarray(XB, dtype=np.float64)
    accs: dict[str, Any] = {}
    with np.errstate(all="ignore"):
        for name, sp in splits.items():
            if sp.how == "gemm":
                F = np.asarray(compile_with(sp.left, voc)(x=A), dtype=np.float64)
                G = np.asarray(compile_with(sp.right, voc)(y=B), dtype=np.float64)
                accs[name] = np.broadcast_to(F, A.shape) @ np.broadcast_to(G, B.shape).T
            elif sp.how == "rows":
                F = compile_with(sp.left, voc)(x=A)
                accs[name] = np.broadcast_to(F, A.shape).sum(axis=1)[:, None]
            else:
                G = compile_with(sp.right, voc)(y=B)
                accs[name] = np.broadcast_to(G, B.shape).sum(axis=1)[None, :]
        fin = compile_with(measure.rule(zero).finalize, voc)
        val = fin(d=float(A.shape[1]), eps=eps, **params, **accs)
    return np.ascontiguousarray(np.broadcast_to(val, (A.shape[0], B.shape[0])), dtype=np.float64)
