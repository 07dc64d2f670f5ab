"""Error bounds: the rounding bound of a summation depth, and interval-style rules that
carry the accumulators' error bounds through a measure's finalize (see
:mod:`divergences.kernels.factored`)."""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

import numpy as np

from ...expr import parse

#: unit roundoff of float64
U = 2.0**-53
#: extra depth for the elementary functions (a few ulps each), the products and the
#: combination of the parts, on top of the summation depth
DEPTH_MARGIN = 16


def gamma(n: int) -> float:
    nu = (n + DEPTH_MARGIN) * U
    return nu / (1.0 - nu)



def _pe(v: Any, e: Any) -> Any:
    """|v| * e, with 0 where e = 0 (also for an infinite v)."""
    if isinstance(e, float) and e == 0.0:
        return 0.0
    return np.where(e == 0, 0.0, np.abs(v) * e)


def _zero(e: Any) -> bool:
    return isinstance(e, float) and e == 0.0


_CMP = {
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _ferr(node: ast.expr, env: dict[str, tuple[Any, Any]]) -> tuple[Any, Any]:
    """(value, bound on its error due to the accumulators' errors) of a finalize node."""
    if isinstance(node, ast.Constant):
        return float(node.value), 0.0
    if isinstance(node, ast.Name):
        if node.id in ("inf", "nan"):
            return getattr(math, node.id), 0.0
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        v, e = _ferr(node.operand, env)
        return -v, e
    if isinstance(node, ast.BinOp):
        (va, ea), (vb, eb) = _ferr(node.left, env), _ferr(node.right, env)
        return _binop(node.op, va, ea, vb, eb)
    if isinstance(node, ast.Compare):
        raise TypeError("a comparison outside where")
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    f, args = node.func.id, node.args
    if f == "where":
        return _where(args[0], args[1], args[2], env)
    if f == "div0":
        cond = ast.Compare(args[0], [ast.Eq()], [ast.Constant(0.0)])
        return _where(cond, ast.Constant(0.0), ast.BinOp(args[0], ast.Div(), args[1]), env)
    if f == "nz":
        cond = ast.Compare(args[0], [ast.Eq()], [ast.Constant(0.0)])
        return _where(cond, args[1], args[0], env)
    vals = [_ferr(a, env) for a in args]
    if f in ("min", "max"):
        (va, ea), (vb, eb) = vals
        v = np.minimum(va, vb) if f == "min" else np.maximum(va, vb)
        return v, ea if _zero(eb) else (eb if _zero(ea) else np.maximum(ea, eb))
    ((va, ea),) = vals
    if f == "abs":
        return np.abs(va), ea
    if f == "sqrt":
        # |sqrt(a') - sqrt(a)| <= e / sqrt(a) for |a' - a| <= e, a > 0 (also where a' may
        # be negative: the bound then exceeds sqrt(a)); NaN for a <= 0, so recomputed
        v = np.sqrt(va)
        return v, 0.0 if _zero(ea) else ea / v
    if f in ("log", "log1p"):
        v = np.log(va) if f == "log" else np.log1p(va)
        if _zero(ea):
            return v, 0.0
        arg = va if f == "log" else 1.0 + va
        return v, np.where(arg > ea, -np.log1p(-ea / arg), math.inf)
    if f == "exp":
        v = np.exp(va)
        return v, 0.0 if _zero(ea) else _pe(v, np.expm1(ea))
    raise TypeError(f"{f} in a finalize")


def _binop(op: ast.operator, va: Any, ea: Any, vb: Any, eb: Any) -> tuple[Any, Any]:
    if isinstance(op, (ast.Add, ast.Sub)):
        v = va + vb if isinstance(op, ast.Add) else va - vb
        return v, ea if _zero(eb) else (eb if _zero(ea) else ea + eb)
    if isinstance(op, ast.Mult):
        v = va * vb
        if _zero(ea) and _zero(eb):
            return v, 0.0
        return v, _pe(va, eb) + _pe(vb, ea) + (0.0 if _zero(ea) or _zero(eb) else ea * eb)
    if isinstance(op, ast.Div):
        v = va / vb
        if _zero(ea) and _zero(eb):
            return v, 0.0
        if _zero(eb):
            return v, ea / np.abs(vb)
        den = np.abs(vb) - eb
        return v, np.where(den > 0, (ea + _pe(v, eb)) / np.where(den > 0, den, 1.0), math.inf)
    assert isinstance(op, ast.Pow)
    p = float(vb)
    if p == 2.0:
        return va * va, 0.0 if _zero(ea) else _pe(2.0 * va, ea) + ea * ea
    assert p == 0.5, "checked by _finalize_supported"
    return _ferr(parse("sqrt(a)").body, {"a": (va, ea)})


def _where(
    cond: ast.expr, a: ast.expr, b: ast.expr, env: dict[str, tuple[Any, Any]]
) -> tuple[Any, Any]:
    assert isinstance(cond, ast.Compare) and len(cond.ops) == 1
    vl, el = _ferr(cond.left, env)
    vr, er = _ferr(cond.comparators[0], env)
    c = _CMP[type(cond.ops[0])](vl, vr)
    (va, ea), (vb, eb) = _ferr(a, env), _ferr(b, env)
    v = np.where(c, va, vb)
    if _zero(ea) and _zero(eb) and _zero(el) and _zero(er):
        return v, 0.0
    e = np.where(c, ea, eb)
    ed = el if _zero(er) else (er if _zero(el) else el + er)
    if not _zero(ed):  # the comparison itself may be wrong within the error: undecided
        e = np.where((ed > 0) & (np.abs(vl - vr) <= ed), math.inf, e)
    return v, e

