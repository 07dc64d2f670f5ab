"""Expansion of an accumulator's term into separable monomials ``c * f(x) * g(y)``.

Polynomial arithmetic (``+ - *``, integer powers, division by a single non-zero monomial),
``log`` and ``sqrt`` of a positive monomial, and the zero-rule helpers' meaning in the regime
x != 0, y != 0 (:data:`TEMPLATES`); see :mod:`divergences.kernels.factored`.
"""

from __future__ import annotations

import ast
import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from ...expr import compile_with, names_in, parse
from ...vocabulary import HELPERS
from ..helpers import vocabulary

#: at most this many monomials per accumulator
MAX_MONOMIALS = 16

#: the zero-rule helpers in the regime (arguments positive where a log or sqrt is taken,
#: non-zero where divided by), from the vocabulary table: each identity is checked by the
#: rules for log, sqrt and /
TEMPLATES = {n: h.regime for n, h in HELPERS.items() if h.regime is not None}
#: the one atom of both x and y: log(x + y), summed per pair by
#: :func:`divergences.kernels.mixed_log.sums` in monomials ``c x log(x + y)`` and
#: ``c y log(x + y)`` (the Jensen-Shannon family)
MIXED = "log(x + y)"


# -- plain terms (the sums of the direct kernel) ---------------------------------------------
@dataclass(frozen=True)
class Split:
    """A plain accumulator: ``gemm`` (f(x) g(y)), ``rows`` (f(x)), ``cols`` (g(y))."""

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


# -- expansion into separable monomials -------------------------------------------------------
Factor = tuple[tuple[str, int], ...]  # sorted (atom source, exponent != 0)
Poly = dict[tuple[Factor, Factor], float]  # (f(x), g(y)) -> coefficient


class NotSeparableError(Exception):
    """The term has no expansion into separable monomials."""


POS, NONZERO = "pos", "nonzero"


@dataclass
class _Ctx:
    domain: str
    signs: dict[str, str | None]


def _sign(node: ast.AST, ctx: _Ctx) -> str | None:
    """``pos`` (finite, > 0) or ``nonzero`` where every x, y is non-zero (and, for the
    non-negative domain, positive); None when unknown."""
    if isinstance(node, ast.Constant):
        v = float(node.value)
        return POS if v > 0 else (NONZERO if v != 0 else None)
    if isinstance(node, ast.Name):
        if node.id in ("x", "y"):
            return POS if ctx.domain == "nonnegative" else NONZERO
        return POS if node.id == "eps" else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return NONZERO if _sign(node.operand, ctx) else None
    if isinstance(node, ast.BinOp):
        sa, sb = _sign(node.left, ctx), _sign(node.right, ctx)
        if isinstance(node.op, (ast.Mult, ast.Div)):
            return POS if sa == sb == POS else (NONZERO if sa and sb else None)
        if isinstance(node.op, ast.Add):
            return POS if sa == sb == POS else None
        if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant):
            e = float(node.right.value)
            return POS if sa == POS else (NONZERO if sa and e == int(e) else None)
        if isinstance(node.op, ast.Pow) and not names_in(ast.unparse(node.right)) & {"x", "y"}:
            return POS if sa == POS else None  # a positive base to a run-time power
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        f, args = node.func.id, node.args
        signs = [_sign(a, ctx) for a in args]
        if f in ("sqrt", "min", "max"):
            return POS if all(s == POS for s in signs) else None
        if f == "exp":
            return POS
        if f == "abs":
            return POS if signs[0] else None
        if f == "nz":
            if signs[1] is None:
                return None
            return POS if signs == [POS, POS] else NONZERO
    return None


def _fmul(a: Factor, b: Factor) -> Factor:
    out = dict(a)
    for k, e in b:
        out[k] = out.get(k, 0) + e
    return tuple(sorted((k, e) for k, e in out.items() if e != 0))


def _mul(p: Poly, q: Poly) -> Poly:
    out: Poly = {}
    for (fa, ga), ca in p.items():
        for (fb, gb), cb in q.items():
            key = (_fmul(fa, fb), _fmul(ga, gb))
            out[key] = out.get(key, 0.0) + ca * cb
    return _clean(out)


def _add(p: Poly, q: Poly, sign: float = 1.0) -> Poly:
    out = dict(p)
    for k, c in q.items():
        out[k] = out.get(k, 0.0) + sign * c
    return _clean(out)


def _clean(p: Poly) -> Poly:
    p = {k: c for k, c in p.items() if c != 0.0}
    if len(p) > MAX_MONOMIALS:
        raise NotSeparableError("too many monomials")
    return p


def _monomial(p: Poly, ctx: _Ctx, need: str) -> tuple[float, Factor, Factor]:
    """The single monomial of ``p``, whose atoms are all ``need`` (pos or nonzero)."""
    if len(p) != 1:
        raise NotSeparableError("not a single monomial")
    (((f, g), c),) = p.items()
    ok = {POS} if need == POS else {POS, NONZERO}
    if any(ctx.signs.get(a) not in ok for a, _ in f + g):
        raise NotSeparableError(f"an atom is not {need}")
    if need == POS and c <= 0:
        raise NotSeparableError("a non-positive coefficient")
    return c, f, g


def _atom(src: str, side: str, sign: str | None, ctx: _Ctx) -> Poly:
    ctx.signs[src] = sign
    f: Factor = ((src, 1),)
    return {(f, ()) if side == "x" else ((), f): 1.0}


def _map_atoms(c: float, f: Factor, g: Factor, wrap: str, sign: str | None, ctx: _Ctx) -> Poly:
    """``wrap`` (log or sqrt) of every atom of a positive monomial, as a product (sqrt) or
    sum (log) of new atoms."""
    if wrap == "sqrt":
        out: Poly = {((), ()): math.sqrt(c)}
    else:
        out = {((), ()): math.log(c)} if c != 1.0 else {}
    for side, factor in (("x", f), ("y", g)):
        for a, e in factor:
            atom = _atom(f"{wrap}({a})", side, sign, ctx)
            if wrap == "sqrt":
                for _ in range(abs(e)):
                    out = _mul(out, atom if e > 0 else _recip(atom))
            else:
                out = _add(out, {k: e * v for k, v in atom.items()})
    return _clean(out)


def _recip(p: Poly) -> Poly:
    (((f, g), c),) = p.items()
    return {(tuple((a, -e) for a, e in f), tuple((a, -e) for a, e in g)): 1.0 / c}


def _substitute(template: str, names: tuple[str, ...], args: list[ast.expr]) -> ast.expr:
    tree = copy.deepcopy(parse(template).body)
    repl = dict(zip(names, args, strict=True))

    class Sub(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return copy.deepcopy(repl[node.id]) if node.id in repl else node

    return Sub().visit(tree)


_DECIDE: dict[type, Callable[[str | None], bool | None]] = {
    ast.Gt: lambda s: True if s == POS else None,
    ast.GtE: lambda s: True if s == POS else None,
    ast.Lt: lambda s: False if s == POS else None,
    ast.LtE: lambda s: False if s == POS else None,
    ast.Eq: lambda s: False if s else None,
    ast.NotEq: lambda s: True if s else None,
}


def _decide(cond: ast.expr, ctx: _Ctx) -> bool:
    """The value of a comparison with 0 that the regime decides (``min(x, y) > 0``)."""
    if (
        isinstance(cond, ast.Compare)
        and len(cond.ops) == 1
        and isinstance(cond.comparators[0], ast.Constant)
        and cond.comparators[0].value == 0
    ):
        got = _DECIDE.get(type(cond.ops[0]), lambda s: None)(_sign(cond.left, ctx))
        if got is not None:
            return got
    raise NotSeparableError(f"undecided condition {ast.unparse(cond)}")


def _expand(node: ast.expr, ctx: _Ctx) -> Poly:
    used = names_in(ast.unparse(node)) & {"x", "y"}
    if isinstance(node, ast.Constant):
        return _clean({((), ()): float(node.value)})
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _add({}, _expand(node.operand, ctx), -1.0)
    if isinstance(node, ast.BinOp):
        return _expand_binop(node, ctx)
    if isinstance(node, ast.Name):
        if node.id in ("inf", "nan"):
            raise NotSeparableError("a constant inf or nan")
        return _atom(node.id, "y" if node.id == "y" else "x", _sign(node, ctx), ctx)
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise NotSeparableError(ast.unparse(node))
    if used <= {"x"} or used == {"y"}:  # one-sided (or constant): an atom
        return _atom(ast.unparse(node), "y" if used == {"y"} else "x", _sign(node, ctx), ctx)
    f, args = node.func.id, node.args
    if f in TEMPLATES:
        return _expand(_substitute(TEMPLATES[f], HELPERS[f].args, args), ctx)
    if f == "nz":  # nz(a, eps) = a where a != 0
        p = _expand(args[0], ctx)
        _monomial(p, ctx, NONZERO)
        return p
    if f == "log" and ctx.domain == "nonnegative":
        inner = _expand(args[0], ctx)
        x1, y1 = ((("x", 1),), ()), ((), (("y", 1),))
        if set(inner) == {x1, y1} and inner[x1] == inner[y1] > 0:  # log(c (x + y))
            c = inner[x1]
            ctx.signs[MIXED] = None
            out: Poly = {((), ()): math.log(c)} if c != 1.0 else {}
            return _add(out, {(((MIXED, 1),), ()): 1.0})
    if f in ("log", "sqrt"):
        c, fx, gy = _monomial(_expand(args[0], ctx), ctx, POS)
        return _map_atoms(c, fx, gy, f, POS if f == "sqrt" else None, ctx)
    if f == "where":
        try:
            decided = _decide(args[0], ctx)
        except NotSeparableError:
            if not names_in(ast.unparse(args[0])) & {"x", "y"}:
                raise
            return _either(args[1], args[2], ctx)
        return _expand(args[1] if decided else args[2], ctx)
    raise NotSeparableError(f"{f} of both x and y")


def _either(a: ast.expr, b: ast.expr, ctx: _Ctx) -> Poly:
    """A ``where`` on the data that the regime leaves open (``x < y / 2``, which picks the
    stabler of two forms of one value): the expansion of the first branch that has one.
    Both branches are the same function where the definition is right; :func:`expand`'s
    numeric check compares the result with the term itself on points on both sides."""
    for branch in (a, b):
        try:
            return _expand(branch, ctx)
        except NotSeparableError:
            continue
    raise NotSeparableError(f"neither branch of a where on the data: {ast.unparse(a)}")


def _expand_binop(node: ast.BinOp, ctx: _Ctx) -> Poly:
    op = node.op
    if isinstance(op, (ast.Add, ast.Sub)):
        sign = 1.0 if isinstance(op, ast.Add) else -1.0
        return _add(_expand(node.left, ctx), _expand(node.right, ctx), sign)
    if isinstance(op, ast.Mult):
        return _mul(_expand(node.left, ctx), _expand(node.right, ctx))
    if isinstance(op, ast.Div):
        den = _expand(node.right, ctx)
        _monomial(den, ctx, NONZERO)
        return _mul(_expand(node.left, ctx), _recip(den))
    if isinstance(op, ast.Pow) and isinstance(node.right, ast.Constant):
        e = float(node.right.value)
        if e == int(e) and abs(e) <= 4:
            base = _expand(node.left, ctx)
            if e < 0:
                _monomial(base, ctx, NONZERO)
                base = _recip(base)
            out: Poly = {((), ()): 1.0}
            for _ in range(int(abs(e))):
                out = _mul(out, base)
            return out
    if isinstance(op, ast.Pow) and not names_in(ast.unparse(node.right)) & {"x", "y"}:
        return _power(node, ctx)
    raise NotSeparableError(ast.unparse(node))


def _power(node: ast.BinOp, ctx: _Ctx) -> Poly:
    """``base ** e`` for an exponent free of x and y (a constant or a run-time parameter,
    ``x**alpha * y**(1 - alpha)``): an atom where the base is one-sided, else the power of
    each atom of a positive monomial, ``(x / y)**a = x**a * y**(-a)``."""
    used = names_in(ast.unparse(node)) & {"x", "y"}
    if used <= {"x"} or used == {"y"}:
        return _atom(ast.unparse(node), "y" if used == {"y"} else "x", _sign(node, ctx), ctx)
    c, fx, gy = _monomial(_expand(node.left, ctx), ctx, POS)
    e = ast.unparse(node.right)
    if c != 1.0:
        if not isinstance(node.right, ast.Constant):
            raise NotSeparableError("a coefficient to a run-time power")
        c = c ** float(node.right.value)
    out: Poly = {((), ()): c}
    for side, factor in (("x", fx), ("y", gy)):
        for a, k in factor:
            src = f"({a}) ** ({e})" if k == 1 else f"({a}) ** ({k} * ({e}))"
            out = _mul(out, _atom(src, side, POS, ctx))
    return out


def _source(factor: Factor) -> str:
    """Expression-language source of a product of atoms (``1`` for the empty product)."""
    num = [f"({a})" if e == 1 else f"({a}) ** {e}" for a, e in factor if e > 0]
    den = [f"({a})" if e == -1 else f"({a}) ** {-e}" for a, e in factor if e < 0]
    out = " * ".join(num) or "1"
    return f"{out} / ({' * '.join(den)})" if den else out


@dataclass(frozen=True)
class Mono:
    """``coef * f(x) * g(y)`` (``f``/``g`` is ``""`` for a factor 1), times ``log(x + y)``
    where ``mixed`` (then ``f(x) g(y)`` is ``x`` or ``y``)."""

    coef: float
    f: str
    g: str
    mixed: bool = False


def _mono(f: Factor, g: Factor, c: float) -> Mono:
    """The Mono of a monomial; NotSeparableError for a mixed one the kernel cannot sum."""
    fd = dict(f)
    mixed = MIXED in fd
    if mixed:
        if fd.pop(MIXED) != 1 or (fd, g) not in (({"x": 1}, ()), ({}, (("y", 1),))):
            raise NotSeparableError(f"{MIXED} in a monomial other than x or y times it")
        f = tuple(sorted(fd.items()))
    return Mono(c, _source(f) if f else "", _source(g) if g else "", mixed)


def expand(
    term: str, domain: str = "nonnegative", params: dict[str, float] | None = None
) -> tuple[Mono, ...] | None:
    """The separable monomials whose sum equals ``term`` wherever x != 0 and y != 0 (and
    x, y > 0 for the non-negative domain), or None when there are none. ``params`` (values
    for the measure's parameters) serve the numeric cross-check of the result."""
    ctx = _Ctx(domain, {})
    try:
        poly = _expand(parse(term).body, ctx)
        monos = tuple(_mono(f, g, c) for (f, g), c in sorted(poly.items()))
    except NotSeparableError:
        return None
    return monos if monos and _agrees(term, monos, domain, params or {}) else None


def _agrees(term: str, monos: tuple[Mono, ...], domain: str, params: dict[str, float]) -> bool:
    """A numeric check of the expansion on a few points of the regime (a safety net)."""
    voc = vocabulary(array_api_compat.array_namespace(np.empty(0)))
    x = np.array([0.3, 1.7, 0.05, 2.5, 0.9, 3.0])
    y = np.array([1.1, 0.2, 0.07, 2.5, 0.4, 3.0])
    if domain != "nonnegative":
        x, y = x * np.array([1, -1, 1, -1, -1, 1]), y * np.array([-1, -1, 1, 1, 1, 1])
    ns = {"eps": 1e-5, **params}
    try:
        with np.errstate(all="ignore"):
            want = eval_factor(term, "x", x, {"y": y, **ns}, voc)
            got = np.zeros_like(x)
            scale = np.zeros_like(x)
            for mo in monos:
                fx = eval_factor(mo.f, "x", x, ns, voc)
                t = mo.coef * fx * eval_factor(mo.g, "y", y, ns, voc)
                if mo.mixed:
                    t = t * np.log(x + y)
                got += t
                scale += np.abs(t)
    except Exception:  # any failure means: not this expansion
        return False
    return bool(np.all(np.abs(got - want) <= 1e-10 * (scale + np.abs(want))))


def eval_factor(src: str, var: str, v: Any, ns: dict[str, float], voc: dict[str, Any]) -> Any:
    if not src:
        return np.ones_like(v)
    out = np.asarray(compile_with(src, voc)(**{var: v}, **ns), dtype=np.float64)
    return out if out.shape == np.shape(v) else np.broadcast_to(out, np.shape(v)).copy()

