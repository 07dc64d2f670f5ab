"""One-sided limits at the edge of the domain: the derivative of a term at a coordinate's 0.

A coordinate's derivative at 0 is the limit of the derivative as the coordinate tends to 0
from above (:func:`divergences.symbolic.derivative` puts it there for terms that raise an
expression of a coordinate to a run-time power, where the derivative evaluated at 0 meets
``0 * inf`` or ``inf - inf``). :func:`limit_at_zero` derives it from the expression itself.
"""

from __future__ import annotations

import ast
import contextvars
import functools
from collections.abc import Callable
from dataclasses import dataclass

from .expr import parse, rare_condition
from .symbolic import (
    COORDINATES,
    _add,
    _call,
    _const,
    _div,
    _is,
    _mul,
    _neg,
    _num,
    _pow,
    _sub,
    _uses,
)

__all__ = ["limit_at_zero"]


# -- one-sided limits at the edge of the domain (a coordinate at 0) -----------------------------
# A coordinate's derivative at 0 is the limit of the derivative as the coordinate tends to 0
# from above. Where a term raises to a run-time power, evaluating the derivative at 0 meets
# 0 * inf and inf - inf (x * (x / y) ** (a - 1) at x = 0), so the limit is derived instead:
# every subexpression of the derivative is written as a sum of terms c * t**e * L**k in the
# coordinate t -> 0+ (L = log(1 / t) -> +inf), with c, e and k expressions of the language
# over the other coordinate and the parameters. Sums and products of such sums are exact (like
# terms collected, so (x - y) / y + 1 is x / y); a power, logarithm or quotient of a sum of
# several terms keeps its leading term (the smaller power of t, then the larger power of L;
# the exponents are known at run time only, so the choice is a where on them). A coefficient
# that vanishes at a parameter value is taken as nonzero: the definitions give such values
# their limit forms (where(alpha == 1, ...)).
class _NotDerivedError(Exception):
    """A form whose limit the algebra of this section does not derive."""


@dataclass(frozen=True)
class _Mono:
    """``c * t**e * L**k`` as t -> 0+, L = log(1 / t)."""

    c: ast.expr
    e: ast.expr
    k: ast.expr


@dataclass(frozen=True)
class _Sum:
    """A sum of terms (no terms: 0), exact."""

    terms: tuple[_Mono, ...]


@dataclass(frozen=True)
class _Pick:
    """``a`` where ``cond`` holds, else ``b`` (a condition on the other names)."""

    cond: ast.expr
    a: _Lead
    b: _Lead


_Lead = _Sum | _Pick
_ZERO, _ONE = _const(0), _const(1)
#: what is known of the names while a limit is derived (the other coordinate is >= 0)
_FACTS: contextvars.ContextVar[dict[str, frozenset[int]] | None] = contextvars.ContextVar(
    "_FACTS", default=None
)


def _linear(node: ast.expr) -> dict[str, float] | None:
    """``node`` as a linear form ``{name: coefficient, "": constant}``, or None."""
    n = _num(node)
    if n is not None:
        return {"": n}
    if isinstance(node, ast.Name):
        return {node.id: 1.0}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _linear(node.operand)
        return None if inner is None else {k: -v for k, v in inner.items()}
    if not isinstance(node, ast.BinOp):
        return None
    a, b = _linear(node.left), _linear(node.right)
    if a is None or b is None:
        return None
    if isinstance(node.op, (ast.Add, ast.Sub)):
        sign = 1.0 if isinstance(node.op, ast.Add) else -1.0
        return {k: a.get(k, 0.0) + sign * b.get(k, 0.0) for k in {*a, *b}}
    if isinstance(node.op, ast.Mult) and (set(a) <= {""} or set(b) <= {""}):
        scale, form = (a.get("", 0.0), b) if set(a) <= {""} else (b.get("", 0.0), a)
        return {k: scale * v for k, v in form.items()}
    if isinstance(node.op, ast.Div) and set(b) <= {""} and b.get("", 0.0) != 0:
        return {k: v / b[""] for k, v in a.items()}
    return None


def _canonical(node: ast.expr) -> ast.expr:
    """A linear form of the parameters written one way (``alpha - 1`` for ``(alpha - 1 - 1)
    + 1``), so that equal exponents compare equal and their differences fold."""
    form = _linear(node)
    if form is None:
        return node
    out: ast.expr = _ZERO
    for name in sorted(k for k, v in form.items() if k and v != 0):
        out = _add(out, _mul(_const(form[name]), ast.Name(name, ast.Load())))
    return _add(out, _const(form.get("", 0.0)))


def _compare(a: ast.expr, op: ast.cmpop, b: ast.expr) -> ast.expr | bool:
    """``a op b``, folded to a bool where ``a - b`` is a number (linear forms included)."""
    diff = _num(_canonical(_sub(a, b)))
    if diff is not None:
        folds = {ast.Lt: diff < 0, ast.Gt: diff > 0, ast.Eq: diff == 0, ast.NotEq: diff != 0}
        folds |= {ast.LtE: diff <= 0, ast.GtE: diff >= 0}
        return folds[type(op)]
    return ast.Compare(a, [op], [b])


_Facts = dict[str, frozenset[int]]
#: the signs of ``a - b`` for which ``a op b`` holds
_OP_SIGNS = {
    ast.Lt: frozenset({-1}),
    ast.Gt: frozenset({1}),
    ast.Eq: frozenset({0}),
    ast.NotEq: frozenset({-1, 1}),
    ast.LtE: frozenset({-1, 0}),
    ast.GtE: frozenset({0, 1}),
}


def _signed(cond: ast.Compare) -> tuple[str, frozenset[int]]:
    """``cond`` as (key of a difference D, signs of D for which it holds); D and -D share
    their key (a linear form whose first coefficient is positive)."""
    diff = _canonical(_sub(cond.left, cond.comparators[0]))
    signs = _OP_SIGNS[type(cond.ops[0])]
    form = _linear(diff)
    first = next((form[k] for k in sorted(form) if k and form[k] != 0), 1.0) if form else 1.0
    if first < 0:
        return ast.dump(_canonical(_neg(diff))), frozenset(-v for v in signs)
    return ast.dump(diff), signs


def _decide(cond: ast.expr, facts: _Facts) -> bool | None:
    """Whether ``cond`` holds given ``facts`` (None where they do not decide it)."""
    if not (isinstance(cond, ast.Compare) and len(cond.ops) == 1):
        return None
    key, signs = _signed(cond)
    known = facts.get(key, frozenset({-1, 0, 1}))
    if known <= signs:
        return True
    return False if not known & signs else None


def _assume(facts: _Facts, cond: ast.expr, holds: bool) -> _Facts:
    if not (isinstance(cond, ast.Compare) and len(cond.ops) == 1):
        return facts
    key, signs = _signed(cond)
    signs = signs if holds else frozenset({-1, 0, 1}) - signs
    return {**facts, key: facts.get(key, frozenset({-1, 0, 1})) & signs}


def _prune(lead: _Lead, facts: _Facts) -> _Lead:
    """``lead`` without the Picks that ``facts`` decide."""
    if not isinstance(lead, _Pick):
        return lead
    known = _decide(lead.cond, facts)
    if known is not None:
        return _prune(lead.a if known else lead.b, facts)
    a = _prune(lead.a, _assume(facts, lead.cond, True))
    b = _prune(lead.b, _assume(facts, lead.cond, False))
    return a if _key(a) == _key(b) else _Pick(lead.cond, a, b)


def _pick(cond: ast.expr | bool, a: _Lead, b: _Lead) -> _Lead:
    if cond is True or cond is False:
        return a if cond else b
    return _prune(_Pick(cond, a, b), _FACTS.get() or {})


def _prune_where(node: ast.expr, facts: _Facts) -> ast.expr:
    """``node`` without the wheres (on its top levels) that ``facts`` decide."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return node
    if node.func.id != "where":
        return node
    c, a, b = node.args
    known = _decide(c, facts)
    if known is not None:
        return _prune_where(a if known else b, facts)
    a = _prune_where(a, _assume(facts, c, True))
    b = _prune_where(b, _assume(facts, c, False))
    return _call("where", [c, a, b])


def _key(lead: _Lead) -> tuple[str, ...]:
    """A structural key of ``lead`` (syntax trees compare by identity)."""
    if isinstance(lead, _Pick):
        return ("pick", ast.dump(lead.cond), *_key(lead.a), "|", *_key(lead.b))
    return ("sum", *(ast.dump(v) for m in lead.terms for v in (m.c, m.e, m.k)))


def _lift(fn: Callable[..., _Lead], *leads: _Lead) -> _Lead:
    """``fn`` on the leaves of every Pick among ``leads`` (the Picks distributed outwards)."""
    for i, lead in enumerate(leads):
        if isinstance(lead, _Pick):
            a = _lift(fn, *leads[:i], lead.a, *leads[i + 1 :])
            b = _lift(fn, *leads[:i], lead.b, *leads[i + 1 :])
            return _pick(lead.cond, a, b)
    return fn(*leads)


def _single(c: ast.expr, e: ast.expr = _ZERO, k: ast.expr = _ZERO) -> _Sum:
    return _Sum(()) if _is(c, 0) else _Sum((_Mono(c, e, k),))


def _collect(terms: list[_Mono]) -> _Sum:
    """The sum of ``terms`` with like terms (the same powers) added."""
    out: dict[tuple[str, str], _Mono] = {}
    for m in terms:
        key = (ast.dump(m.e), ast.dump(m.k))
        if key in out:
            m = _Mono(_add(out[key].c, m.c), m.e, m.k)
        out[key] = m
    terms = (_Mono(_normal(m.c), m.e, m.k) for m in out.values())
    return _Sum(tuple(m for m in terms if not _is(m.c, 0)))


_Product = tuple[tuple[str, str], ...]  # sorted (base, exponent) dumps of the factors


def _poly(c: ast.expr) -> dict[_Product, tuple[float, dict[str, tuple[ast.expr, ast.expr]]]]:
    """Coefficient ``c`` as a sum of products ``number * prod(base ** exponent)`` (like
    products added, powers of one base multiplied), so that ``a * x - a * x`` is 0."""
    n = _num(c)
    if n is not None:
        return {(): (n, {})} if n != 0 else {}
    if isinstance(c, ast.UnaryOp) and isinstance(c.op, ast.USub):
        return {k: (-v, f) for k, (v, f) in _poly(c.operand).items()}
    if isinstance(c, ast.BinOp) and isinstance(c.op, (ast.Add, ast.Sub)):
        right = _poly(c.right)
        if isinstance(c.op, ast.Sub):
            right = {k: (-v, f) for k, (v, f) in right.items()}
        return _poly_add(_poly(c.left), right)
    if isinstance(c, ast.BinOp) and isinstance(c.op, ast.Mult):
        return _poly_mul(_poly(c.left), _poly(c.right))
    if isinstance(c, ast.BinOp) and isinstance(c.op, ast.Div):
        den = _poly(c.right)
        if len(den) == 1:
            ((_, (v, factors)),) = den.items()
            if v != 0:
                inv = {b: (base, _canonical(_neg(e))) for b, (base, e) in factors.items()}
                key = tuple(sorted((b, ast.dump(e)) for b, (_, e) in inv.items()))
                return _poly_mul(_poly(c.left), {key: (1 / v, inv)})
    base, e = c, _ONE
    if isinstance(c, ast.BinOp) and isinstance(c.op, ast.Pow):
        base, e = c.left, _canonical(c.right)
    return {((ast.dump(base), ast.dump(e)),): (1.0, {ast.dump(base): (base, e)})}


def _poly_add(a: dict, b: dict) -> dict:  # type: ignore[type-arg]
    out = dict(a)
    for k, (v, f) in b.items():
        total = out[k][0] + v if k in out else v
        if total == 0:
            out.pop(k, None)
        else:
            out[k] = (total, f)
    return out


def _poly_mul(a: dict, b: dict) -> dict:  # type: ignore[type-arg]
    out: dict = {}  # type: ignore[type-arg]
    for va, fa in a.values():
        for vb, fb in b.values():
            factors = dict(fa)
            for name, (base, e) in fb.items():
                if name in factors:
                    e = _canonical(_add(factors[name][1], e))
                factors[name] = (base, e)
            factors = {k: v for k, v in factors.items() if not _is(v[1], 0)}
            key = tuple(sorted((k, ast.dump(e)) for k, (_, e) in factors.items()))
            out = _poly_add(out, {key: (va * vb, factors)})
    return out


def _normal(c: ast.expr) -> ast.expr:
    """Coefficient ``c`` written from its sum of products (0 where they cancel)."""
    out: ast.expr = _ZERO
    for v, factors in _poly(c).values():
        term: ast.expr = _const(v)
        for _, (base, e) in sorted(factors.items()):
            term = _mul(term, _pow(base, e))
        out = _add(out, term)
    return out


def _ratio(a: ast.expr, b: ast.expr) -> ast.expr:
    """a / b, with a / a = 1 and -a / a = -1."""
    if ast.dump(a) == ast.dump(b):
        return _ONE
    if isinstance(a, ast.UnaryOp) and isinstance(a.op, ast.USub):
        if ast.dump(a.operand) == ast.dump(b):
            return _const(-1)
    return _div(a, b)


def _div0_ratio(a: ast.expr, b: ast.expr) -> ast.expr:
    """div0(a, b) of two coefficients (a / b, 0 where a is 0)."""
    if _is(b, 1) or ast.dump(a) == ast.dump(b):
        return _ratio(a, b)
    return _call("div0", [a, b])


def _s_add(a: _Lead, b: _Lead) -> _Lead:
    return _lift(lambda p, q: _collect([*p.terms, *q.terms]), a, b)


def _s_neg(a: _Lead) -> _Lead:
    return _lift(lambda p: _Sum(tuple(_Mono(_neg(m.c), m.e, m.k) for m in p.terms)), a)


def _times(m: _Mono, n: _Mono, coef: Callable[..., ast.expr]) -> _Mono:
    return _Mono(coef(m.c, n.c), _canonical(_add(m.e, n.e)), _canonical(_add(m.k, n.k)))


def _s_mul(a: _Lead, b: _Lead) -> _Lead:
    return _lift(
        lambda p, q: _collect([_times(m, n, _mul) for m in p.terms for n in q.terms]), a, b
    )


def _s_div(a: _Lead, b: _Lead, coef: Callable[..., ast.expr] = _ratio) -> _Lead:
    """a / b, by the leading term of b where b has several."""

    def div(p: _Sum, q: _Sum) -> _Lead:
        if not q.terms:
            raise _NotDerivedError("a quotient by 0")
        (n,) = q.terms
        inverse = _Mono(n.c, _canonical(_neg(n.e)), _canonical(_neg(n.k)))
        return _collect([_times(m, inverse, coef) for m in p.terms])

    return _lift(div, a, _dominant(b))


def _dominant2(a: _Mono, b: _Mono) -> _Lead:
    """The leading one of two terms: the smaller power of t, then the larger power of L;
    equal powers at run time add."""
    same = _collect([a, _Mono(b.c, a.e, a.k)])
    by_k = _pick(_compare(b.k, ast.Gt(), a.k), _Sum((b,)), same)
    by_k = _pick(_compare(a.k, ast.Gt(), b.k), _Sum((a,)), by_k)
    by_e = _pick(_compare(b.e, ast.Lt(), a.e), _Sum((b,)), by_k)
    return _pick(_compare(a.e, ast.Lt(), b.e), _Sum((a,)), by_e)


def _dominant(a: _Lead) -> _Lead:
    """The leading term of ``a`` (a Pick of sums of at most one term)."""

    def lead(p: _Sum) -> _Lead:
        out: _Lead = _Sum(p.terms[:1])
        for m in p.terms[1:]:
            out = _lift(lambda d, m=m: _dominant2(d.terms[0], m) if d.terms else _Sum((m,)), out)
        return out

    return _lift(lead, a)


def _s_pow(a: _Lead, b: ast.expr) -> _Lead:
    """a ** b for an exponent that does not depend on t (by the leading term of a)."""

    def power(p: _Sum) -> _Lead:
        if not p.terms:
            if _num(b) is not None and _num(b) > 0:  # type: ignore[operator]
                return p
            raise _NotDerivedError("0 to a power that may be negative")
        (m,) = p.terms
        c = _ONE if _is(m.c, 1) else _pow(m.c, b)
        return _single(c, _canonical(_mul(m.e, b)), _canonical(_mul(m.k, b)))

    return _lift(power, _dominant(a))


def _s_log(a: _Lead) -> _Lead:
    """log(c t**e) = log(c) + (-e) L (by the leading term of a)."""

    def log(p: _Sum) -> _Lead:
        if not p.terms or not _is(p.terms[0].k, 0):
            raise _NotDerivedError("the logarithm of 0 or of a power of log(1 / t)")
        (m,) = p.terms
        return _collect(
            [_Mono(_canonical(_neg(m.e)), _ZERO, _ONE), _Mono(_call("log", [m.c]), _ZERO, _ZERO)]
        )

    return _lift(log, _dominant(a))


def _s_exp(a: _Lead) -> _Lead:
    """exp(b + a L) = exp(b) t**(-a), exactly; exp of any other sum tends to exp of its limit
    (0 where that is -inf: smaller than every power of t, so 0 at every order here)."""

    def exp(p: _Sum) -> _Lead:
        if all(_is(m.e, 0) and (_is(m.k, 0) or _is(m.k, 1)) for m in p.terms):
            b = functools.reduce(_add, [m.c for m in p.terms if _is(m.k, 0)], _ZERO)
            slope = functools.reduce(_add, [m.c for m in p.terms if _is(m.k, 1)], _ZERO)
            return _single(_exp_of(b), _canonical(_neg(slope)))
        return _single(_call("exp", [_limit_expr(p)]))

    return _lift(exp, a)


def _exp_of(b: ast.expr) -> ast.expr:
    """exp(b), as ``c ** m`` where b is ``m * log(c)`` (so that like powers compare equal)."""
    bases, multiplier = set(), _ZERO
    for v, factors in _poly(b).values():
        logs = [k for k, (base, e) in factors.items() if _is_log(base) and _is(e, 1)]
        if len(logs) != 1:
            return _call("exp", [b])
        bases.add(logs[0])
        m: ast.expr = _const(v)
        for k, (base, e) in sorted(factors.items()):
            if k != logs[0]:
                m = _mul(m, _pow(base, e))
        multiplier = _add(multiplier, m)
        log_call = factors[logs[0]][0]
    if len(bases) != 1:
        return _call("exp", [b])
    return _pow(log_call.args[0], _canonical(multiplier))  # type: ignore[attr-defined]


def _is_log(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "log"


def _mono_limit(m: _Mono) -> ast.expr:
    if _is(m.e, 0) and _is(m.k, 0):
        return m.c
    infinite = _mul(m.c, ast.Name("inf", ast.Load()))
    by_k = _where(_compare(m.k, ast.Lt(), _ZERO), _ZERO, m.c)
    by_k = _where(_compare(m.k, ast.Gt(), _ZERO), infinite, by_k)
    by_e = _where(_compare(m.e, ast.Lt(), _ZERO), infinite, by_k)
    by_e = _where(_compare(m.e, ast.Gt(), _ZERO), _ZERO, by_e)
    return _where(_compare(m.c, ast.Eq(), _ZERO), _ZERO, by_e)


def _limit_expr(lead: _Lead) -> ast.expr:
    """The limit as t -> 0+ of what ``lead`` describes (+-inf where it diverges)."""
    if isinstance(lead, _Pick):
        return _call("where", [lead.cond, _limit_expr(lead.a), _limit_expr(lead.b)])
    if len(lead.terms) > 1:
        return _limit_expr(_dominant(lead))
    return _mono_limit(lead.terms[0]) if lead.terms else _ZERO


def _where(cond: ast.expr | bool, a: ast.expr, b: ast.expr) -> ast.expr:
    if cond is True or cond is False:
        return a if cond else b
    return _call("where", [cond, a, b])


def _lead_where(node: ast.Call, var: str) -> _Lead:
    """A where: its condition's limit (of a comparison of the coordinate) picks a branch."""
    c, a, b = node.args
    c = rare_condition(c) or c  # a rare condition is the condition itself
    la, lb = _lead(a, var), _lead(b, var)
    if not _uses(c, var):
        return _pick(c, la, lb)
    if not (isinstance(c, ast.Compare) and len(c.ops) == 1):
        raise _NotDerivedError(f"the condition {ast.unparse(c)!r}")
    op = c.ops[0]
    holds_at_zero = type(op) in (ast.Eq, ast.LtE, ast.GtE)  # left - right identically 0

    def choose(d: _Sum) -> _Lead:
        if not d.terms:
            return la if holds_at_zero else lb
        return _pick(_compare(d.terms[0].c, op, _ZERO), la, lb)

    # left - right near t = 0+: the sign of its leading term decides the comparison
    return _lift(choose, _dominant(_lead(_sub(c.left, c.comparators[0]), var)))


def _lead_call(node: ast.Call, var: str) -> _Lead:
    name = node.func.id  # type: ignore[attr-defined]
    if name == "where":
        return _lead_where(node, var)
    args = node.args
    if name in ("div0", "powm1", "xlogy", "nz"):
        return _lead_binary_helper(name, args, var)
    one = _single(_ONE)
    lead = _lead(args[0], var)
    unary: dict[str, Callable[[], _Lead]] = {
        "log": lambda: _s_log(lead),
        "log1p": lambda: _s_log(_s_add(one, lead)),
        "exp": lambda: _s_exp(lead),
        "expm1": lambda: _s_add(_s_exp(lead), _s_neg(one)),
        "sqrt": lambda: _s_pow(lead, _const(0.5)),
        "log1pmx": lambda: _s_add(_s_log(_s_add(one, lead)), _s_neg(lead)),
        "abs": lambda: _lift(
            lambda p: _Sum(tuple(_Mono(_call("abs", [m.c]), m.e, m.k) for m in p.terms)),
            _dominant(lead),
        ),
    }
    if name in unary:
        return unary[name]()
    # the other helpers are continuous where their arguments' limits are: their value there
    return _single(_call(name, [_limit_expr(_lead(a, var)) for a in args]))


def _lead_binary_helper(name: str, args: list[ast.expr], var: str) -> _Lead:
    a, b = args
    if name == "nz":  # a != 0 near t = 0+ (or a is identically 0): a itself
        return _lead(a, var)
    if name == "div0":  # a / b, 0 where a vanishes identically
        return _s_div(_lead(a, var), _lead(b, var), _div0_ratio)
    if name == "xlogy":
        return _s_mul(_lead(a, var), _s_log(_lead(b, var)))
    if _uses(b, var):
        raise _NotDerivedError("powm1 with an exponent that depends on the coordinate")
    base = _s_add(_single(_ONE), _lead(a, var))
    return _s_add(_s_pow(base, b), _single(_const(-1)))


def _lead(node: ast.expr, var: str) -> _Lead:
    """``node`` as ``var`` -> 0+, as sums of terms (see the section's comment)."""
    if not _uses(node, var):
        return _single(node)
    if isinstance(node, ast.Name):
        return _single(_ONE, _ONE)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _s_neg(_lead(node.operand, var))
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            if _uses(node.right, var):
                raise _NotDerivedError("a power whose exponent depends on the coordinate")
            return _s_pow(_lead(node.left, var), node.right)
        a, b = _lead(node.left, var), _lead(node.right, var)
        ops: dict[type, Callable[[_Lead, _Lead], _Lead]] = {
            ast.Add: _s_add,
            ast.Sub: lambda p, q: _s_add(p, _s_neg(q)),
            ast.Mult: _s_mul,
            ast.Div: _s_div,
        }
        return ops[type(node.op)](a, b)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _lead_call(node, var)
    raise _NotDerivedError(ast.unparse(node))


def limit_at_zero(src: str, var: str) -> str | None:
    """The limit of expression ``src`` as ``var`` tends to 0 from above, as source of the
    language over the other names (``+-inf`` where it diverges), or None where the
    leading-term algebra does not derive it.

    Examples
    --------
    >>> limit_at_zero("(x / y) ** 2 - 1", "x")
    '-1'
    >>> limit_at_zero("x * log(x)", "x")
    '0'
    >>> limit_at_zero("x ** (a - 1)", "x")
    'where(a - 1 > 0, 0, where(a - 1 < 0, inf, 1))'
    """
    # the other coordinates are non-negative (their domain): a fact for every pick
    facts = {ast.dump(ast.Name(n, ast.Load())): frozenset({0, 1}) for n in COORDINATES if n != var}
    token = _FACTS.set(facts)
    try:
        return ast.unparse(_prune_where(_limit_expr(_lead(parse(src).body, var)), facts))
    except _NotDerivedError:
        return None
    finally:
        _FACTS.reset(token)
