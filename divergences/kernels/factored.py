"""Factored evaluation: accumulators as per-row terms and matrix products, with a guard.

An accumulator whose term expands into a sum of separable monomials
``c * f(x) * g(y)`` sums to per-row sums of ``f(XA)``, per-row sums of ``g(XB)`` and matrix
products ``f(XA) @ g(XB).T`` (BLAS); the measure's finalize then runs vectorised. Nothing is
listed by hand: the expansion is derived from the definition's expression (see
:func:`expand`). Terms that are literally ``f(x) * g(y)`` or one-sided (cosine, inner
product, fidelity, ...) are *plain*: they sum the same products as the direct kernel, in
another order, and run as before.

Expansion
---------
The expansion is an identity on the *regime* x != 0, y != 0 (and x, y > 0 for measures of
the non-negative domain): polynomial arithmetic (``+ - *``, integer powers, division by a
single non-zero monomial, so ``(x - y)**2 / y = x**2 / y - 2 x + y``), ``log`` and ``sqrt``
of a positive monomial (``log(x / y) = log x - log y``), and a small declarative table of
the zero-rule helpers' meaning in that regime (:data:`TEMPLATES`: ``kl_elem(a, b)`` is
``a log a - a log b - a + b``, ``sqrt_diff_sq(a, b)`` is ``a - 2 sqrt(a) sqrt(b) + b``,
``div0(a, b)`` is ``a / b``, ``kl_mid(a, b)`` is ``a log(2a) - a log(a + b) + (b - a) / 2``,
...). One atom of both sides is allowed: ``log(c (x + y))``, in monomials ``x log(x + y)``
and ``y log(x + y)``, whose per-pair sums :mod:`divergences.kernels.mixed_log` computes with
one logarithm per element (the Jensen-Shannon family: JS, Topsoe, Jensen difference, K
divergence). Anything else (``min``, ``abs`` of a difference, other logs of sums: Taneja,
Canberra, ...) is not separable and runs direct.

Zeros, exactly as the definition says
-------------------------------------
Coordinates outside the regime get their exact value from the definition: where
``XB[j, k] = 0`` the term is ``T(x, 0)``, a function of x alone, so the difference
``T(x, 0) - P(x, 0)`` between it and what the monomials gave there is added with a product
``C(XA) @ [XB == 0].T`` (likewise for ``XA == 0`` and for both zero). Infinite or NaN
values of ``T(x, 0)`` (``p ln(p / 0)``, ``p^2 / 0``) are never summed: their coordinates are
counted with products of indicators (``(P > 0) @ (Q == 0).T``), and a pair with a count gets
``+inf`` / ``-inf`` / NaN, as the direct kernel's sum would. Monomial factors that are not
finite at a zero (``log 0``) are taken as 0 there (the correction accounts for it).

Accuracy: the guard
-------------------
An expanded form cancels: near P = Q, KL = sum P log P - P . log Q is tiny against its
terms. For every pair the factored path bounds its error: each expanded accumulator's
rounding error is at most ``gamma_n * S`` (``gamma_n = n u / (1 - n u)``, ``u = 2^-53``,
``n`` the summation depth plus a margin for the elementary functions, ``S`` the sum of the
absolute values of the summed products: ``|F @ G|`` itself where the products have one
sign, ``|F| @ |G|`` where each product has one sign but their coefficients do not, else the
Cauchy-Schwarz bound ``||F_i|| ||G_j||``), and the bound is carried through
the finalize with interval-style rules (``|d(a/b)| <= (e_a + |a/b| e_b) / (|b| - e_b)``, ...).
Per-row sums are taken in extended precision where numpy's longdouble has it (x86: 64 bits),
so they count with their final rounding only (``gamma_0``), and the mixed sums with the
kernel's chunked depth (about 32 for d = 256, not d): the Jensen-Shannon family's bound is
then about 1e-13 relative on independent probability rows, well inside REL_TOL.
Plain accumulators count as exact (they are the direct kernel's sums). A pair whose bound
exceeds :data:`REL_TOL` times its value (or is not finite, or whose value is NaN) is
recomputed with the direct kernel, as are rows holding non-finite values or non-zero
magnitudes outside ``[2^-200, 2^200]`` (where ``x * y`` or ``x / y`` could under- or
overflow, which the regime's identities exclude). So ``method="auto"`` and
``method="factored"`` (the same path: the guard is not optional there) are within
``REL_TOL`` of the exactly rounded formula wherever they use the factored value, and
equal to the direct kernel elsewhere. :func:`cdist` with ``guard=False`` gives the raw
factored form (benchmarks, tests).
"""

from __future__ import annotations

import ast
import copy
import functools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from ..expr import compile_with, names_in, parse
from ..spec import Measure
from . import mixed_log
from .helpers import vocabulary

#: unit roundoff of float64
U = 2.0**-53
#: a factored value is kept where its error bound is at most REL_TOL * |value|
REL_TOL = 2.0**-40
#: non-zero input magnitudes inside which the regime's identities cannot under/overflow
TINY, HUGE = 2.0**-200, 2.0**200
#: extra depth for the elementary functions (a few ulps each), the products and the
#: combination of the parts, on top of the summation depth
DEPTH_MARGIN = 16
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
#: at most this many monomials per accumulator
MAX_MONOMIALS = 16

#: the zero-rule helpers in the regime (arguments positive where a log or sqrt is taken,
#: non-zero where divided by): each identity is checked by the rules for log, sqrt and /
TEMPLATES = {
    "kl_elem": "a * log(a) - a * log(b) - a + b",
    "sqrt_diff_sq": "a - 2 * sqrt(a) * sqrt(b) + b",
    "xlogy": "a * log(b)",
    "div0": "a / b",
    # kl_elem(a, (a + b) / 2) = a log(2a / (a + b)) - a + (a + b) / 2
    "kl_mid": "a * log(2 * a) - a * log(a + b) + (b - a) / 2",
}
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


def _substitute(template: str, args: list[ast.expr]) -> ast.expr:
    tree = copy.deepcopy(parse(template).body)
    repl = dict(zip("ab", args, strict=False))

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
        return _expand(_substitute(TEMPLATES[f], args), ctx)
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
        return _expand(args[1] if _decide(args[0], ctx) else args[2], ctx)
    raise NotSeparableError(f"{f} of both x and y")


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
        used = names_in(ast.unparse(node)) & {"x", "y"}
        if used <= {"x"} or used == {"y"}:
            return _atom(ast.unparse(node), "y" if used == {"y"} else "x", _sign(node, ctx), ctx)
    raise NotSeparableError(ast.unparse(node))


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
            want = _eval(term, "x", x, {"y": y, **ns}, voc)
            got = np.zeros_like(x)
            scale = np.zeros_like(x)
            for mo in monos:
                t = mo.coef * _eval(mo.f, "x", x, ns, voc) * _eval(mo.g, "y", y, ns, voc)
                if mo.mixed:
                    t = t * np.log(x + y)
                got += t
                scale += np.abs(t)
    except Exception:  # any failure means: not this expansion
        return False
    return bool(np.all(np.abs(got - want) <= 1e-10 * (scale + np.abs(want))))


def _eval(src: str, var: str, v: Any, ns: dict[str, float], voc: dict[str, Any]) -> Any:
    if not src:
        return np.ones_like(v)
    out = np.asarray(compile_with(src, voc)(**{var: v}, **ns), dtype=np.float64)
    return out if out.shape == np.shape(v) else np.broadcast_to(out, np.shape(v)).copy()


# -- the plan ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expanded:
    """An accumulator summed as separable monomials (``term`` for the exact zero values)."""

    term: str
    monos: tuple[Mono, ...]


@dataclass(frozen=True)
class Plan:
    """How each accumulator of a measure is computed, and whether the guard runs."""

    accs: dict[str, Split | Expanded]
    guarded: bool
    finalize: str


_FIN_CALLS = {"sqrt", "log", "log1p", "exp", "abs", "min", "max", "where", "div0", "nz"}


def _finalize_supported(src: str) -> bool:
    """Whether the guard can carry error bounds through ``src``."""
    for node in ast.walk(parse(src)):
        if isinstance(node, ast.Call) and node.func.id not in _FIN_CALLS:  # type: ignore[attr-defined]
            return False
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            if not (isinstance(node.right, ast.Constant) and node.right.value in (2, 0.5)):
                return False
    return True


def _linear(node: ast.expr, accs: set[str]) -> dict[str, float] | None:
    """``node`` as a linear combination {accumulator: coefficient} (numeric constants as
    coefficients only), or None."""
    if isinstance(node, ast.Name) and node.id in accs:
        return {node.id: 1.0}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _linear(node.operand, accs)
        return None if inner is None else {k: -c for k, c in inner.items()}
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        a, b = _linear(node.left, accs), _linear(node.right, accs)
        if a is None or b is None:
            return None
        sign = 1.0 if isinstance(node.op, ast.Add) else -1.0
        out = dict(a)
        for k, c in b.items():
            out[k] = out.get(k, 0.0) + sign * c
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        for c, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(c, ast.Constant):
                inner = _linear(other, accs)
                return None if inner is None else {k: float(c.value) * v for k, v in inner.items()}
    return None


def _merge_linear(
    finalize: str, terms: dict[str, str], expanded: set[str]
) -> tuple[str, dict[str, str]]:
    """Fold a linear combination of accumulators in the finalize that involves an expanded
    one (KL's ``t + s``) into a single accumulator whose term is the same combination of
    the terms: its monomials then cancel symbolically (``- x + y`` and ``+ x - y``), and it
    takes one error bound instead of two."""
    tree = copy.deepcopy(parse(finalize).body)
    uses: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in terms:
            uses[node.id] = uses.get(node.id, 0) + 1
    terms = dict(terms)

    class Fold(ast.NodeTransformer):
        def visit(self, node: ast.AST) -> ast.AST:
            lin = _linear(node, set(terms)) if isinstance(node, ast.expr) else None
            if lin and len(lin) > 1 and set(lin) & expanded and all(uses.get(k) == 1 for k in lin):
                name = "_".join(["lin", *sorted(lin)])
                terms[name] = " + ".join(f"{c!r} * ({terms[k]})" for k, c in sorted(lin.items()))
                for k in lin:
                    del terms[k]
                return ast.Name(name, ast.Load())
            return super().generic_visit(node)

    out = Fold().visit(tree)
    return ast.unparse(out), terms


@functools.cache
def plan(measure: Measure, zero: str) -> Plan | None:
    """How every accumulator of ``measure`` is summed, or None when it cannot be factored."""
    rule = measure.rule(zero)
    if any(acc.reduce != "sum" for acc in rule.accumulators.values()):
        return None
    terms = {name: acc.term for name, acc in rule.accumulators.items()}
    expanded = {name for name, t in terms.items() if _split(t) is None}
    finalize = rule.finalize
    if expanded:
        finalize, terms = _merge_linear(finalize, terms, expanded)
    accs: dict[str, Split | Expanded] = {}
    for name, term in terms.items():
        split = _split(term)
        if split is not None:
            accs[name] = split
            continue
        monos = expand(term, measure.domain, measure.param_defaults())
        if monos is None:
            return None
        accs[name] = Expanded(term, monos)
    guarded = any(isinstance(a, Expanded) for a in accs.values())
    if guarded and not _finalize_supported(finalize):
        return None
    return Plan(accs, guarded, finalize)


def factorable(measure: Measure, zero: str) -> bool:
    """Whether ``measure`` in zero mode ``zero`` has a factored form."""
    return plan(measure, zero) is not None


# -- evaluation ---------------------------------------------------------------------------------
def _voc() -> dict[str, Any]:
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
            V = _eval(src, self.var, self.X, self.ns, _voc())
            fin = np.isfinite(V)
            if not fin.all():
                self.bad |= (~fin & (self.X != 0)).any(axis=1)
                V = np.where(fin, V, 0.0)
            self._cache[src] = np.ascontiguousarray(V)
        return self._cache[src]

    def at0(self, src: str) -> float:
        """The safe value of factor ``src`` at a zero input."""
        if src not in self._at0:
            v = float(_eval(src, self.var, np.zeros(1), self.ns, _voc())[0])
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
        acc.mix_gamma = _gamma(mixed_log.depth(d))
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
    acc.rows_fine, acc.cols_fine = rows_fine * _gamma(0), cols_fine * _gamma(0)
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
    voc = _voc()
    term = compile_with(ex.term, voc)

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


def _gamma(n: int) -> float:
    nu = (n + DEPTH_MARGIN) * U
    return nu / (1.0 - nu)


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
    S *= _gamma(acc.depth)
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


# -- error bounds through the finalize -----------------------------------------------------------
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


# -- the driver --------------------------------------------------------------------------------
def _direct(
    measure: Measure, A: np.ndarray, B: np.ndarray, zero: str, eps: float, params: dict[str, float]
) -> np.ndarray:
    from . import numba_cpu

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
    from . import numba_cpu

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


#: how many pairs the last guarded call recomputed (tests, benchmarks)
last_recomputed = 0


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
    error bound is too large for the factored value are recomputed by the direct kernel."""
    global last_recomputed
    pl = plan(measure, zero)
    assert pl is not None, f"{measure.name} has no factored form"
    A = np.ascontiguousarray(XA, dtype=np.float64)
    B = np.ascontiguousarray(XB, dtype=np.float64)
    m, d = A.shape
    n = B.shape[0]
    out = np.empty((m, n), dtype=np.float64)
    last_recomputed = 0
    if out.size == 0:
        return out
    voc = _voc()
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
                F = np.asarray(compile_with(sp.left, voc)(x=A), dtype=np.float64)
                G = np.asarray(compile_with(sp.right, voc)(y=B), dtype=np.float64)
                plain[name] = ("gemm", np.broadcast_to(F, A.shape), np.broadcast_to(G, B.shape))
            elif sp.how == "rows":
                F = compile_with(sp.left, voc)(x=A)
                plain[name] = ("rows", np.broadcast_to(F, A.shape).sum(axis=1)[:, None], None)
            else:
                G = compile_with(sp.right, voc)(y=B)
                plain[name] = ("cols", np.broadcast_to(G, B.shape).sum(axis=1)[None, :], None)
        fin_src = pl.finalize
        fin = compile_with(fin_src, voc)
        fin_tree = parse(fin_src).body
        consts = {"d": float(d), "eps": eps, **params}
        if pl.guarded and guard:
            bad_rows = _out_of_range(A) | XAs.bad
            bad_cols = _out_of_range(B) | XBs.bad
            any_bad = bool(bad_rows.any() or bad_cols.any())
        big = max(1, PRODUCT_ELEMENTS // n)
        step = max(1, CHUNK_ELEMENTS // n)
        for b0 in range(0, m, big):
            if pl.guarded and guard and 2 * last_recomputed > b0 * n > 0:
                # the blocks so far needed the direct kernel for most pairs: so will these
                out[b0:] = _direct(measure, A[b0:], B, zero, eps, params)
                last_recomputed += (m - b0) * n
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
                last_recomputed += _recompute(
                    measure, A[rb], B, out[rb], bad_block, (zero, eps, params)
                )
    return out
