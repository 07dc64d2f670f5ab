"""The symbolic layer: every form derived from a measure's definition, in one place.

From a definition (accumulator terms over ``x``, ``y`` and a finalize over the
accumulators) this module derives:

- the per-element partial derivatives of every accumulator term, ``d term / dx`` and
  ``d term / dy``, as expressions of the same language (:func:`partials`), built by the
  chain rule from the partial derivatives that the vocabulary table gives for each helper
  (:data:`divergences.vocabulary.HELPERS`, with their zero conventions), and lightly
  simplified (structural zeros and ones folded away, so ``d (x * log(y)) / dx`` is
  ``log(y)``);
- the partial derivatives of the finalize with respect to each accumulator
  (:func:`finalize_partials`);
- the factored (BLAS) plan (:func:`divergences.kernels.factored.plan`) and the scalar source
  that the Numba and CUDA printers emit (:func:`describe` shows them all).

At a coordinate's 0 (the edge of its non-negative domain) the derivative is the one-sided
limit of the derivative as the coordinate tends to 0 from above: the helpers' partials carry
it where they are singular, and for a term that raises to a run-time power (``(x / y) **
alpha``, ``powm1``), whose derivative at 0 would be ``0 * inf`` or ``inf - inf``, the limit is
derived from the derivative as sums of terms ``c * t**e * log(1 / t)**k``
(:func:`divergences.limits.limit_at_zero`) and put where the coordinate is 0.

A measure's gradient with respect to ``P_k`` is then, for sum accumulators,
``sum_acc d finalize / d acc * d term_acc / dx (P_k, Q_k)`` (and likewise for ``Q``); for a
``max`` (``min``) accumulator the term's derivative counts at the coordinate where the
maximum (minimum) is reached.

The derivative is taken on the syntax tree of the language (no SymPy at run time or at
generation: the language is small, the table's partials carry the zero conventions that a
general computer-algebra system would not know, and the result must print back into the
language exactly).
"""

from __future__ import annotations

import ast
import copy
import functools
import math

from .expr import CONSTANTS, parse, rare_condition
from .spec import Measure
from .vocabulary import HELPERS

__all__ = [
    "derivative",
    "describe",
    "finalize_partials",
    "partials",
    "scaled_derivative",
    "zero_limits_dropped",
]


# -- smart constructors (fold structural zeros and ones) --------------------------------------
def _num(node: ast.expr) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
    ):
        return -float(node.operand.value)
    return None


def _const(v: float) -> ast.expr:
    if v < 0:
        return ast.UnaryOp(ast.USub(), _const(-v))
    return ast.Constant(int(v) if v == int(v) and abs(v) < 2**53 else v)


def _is(node: ast.expr, v: float) -> bool:
    return _num(node) == v


def _neg(a: ast.expr) -> ast.expr:
    n = _num(a)
    if n is not None:
        return _const(-n)
    if isinstance(a, ast.UnaryOp) and isinstance(a.op, ast.USub):
        return a.operand
    return ast.UnaryOp(ast.USub(), a)


def _add(a: ast.expr, b: ast.expr) -> ast.expr:
    na, nb = _num(a), _num(b)
    if na is not None and nb is not None:
        return _const(na + nb)
    if na == 0:
        return b
    if nb == 0:
        return a
    if isinstance(b, ast.UnaryOp) and isinstance(b.op, ast.USub):
        return ast.BinOp(a, ast.Sub(), b.operand)
    return ast.BinOp(a, ast.Add(), b)


def _sub(a: ast.expr, b: ast.expr) -> ast.expr:
    return _add(a, _neg(b))


def _mul(a: ast.expr, b: ast.expr) -> ast.expr:
    na, nb = _num(a), _num(b)
    if na is not None and nb is not None:
        return _const(na * nb)
    if na == 0 or nb == 0:
        return _const(0)
    if na == 1:
        return b
    if nb == 1:
        return a
    if na == -1:
        return _neg(b)
    if nb == -1:
        return _neg(a)
    return ast.BinOp(a, ast.Mult(), b)


def _div(a: ast.expr, b: ast.expr) -> ast.expr:
    if _is(a, 0):
        return _const(0)
    if _is(b, 1):
        return a
    return ast.BinOp(a, ast.Div(), b)


def _pow(a: ast.expr, b: ast.expr) -> ast.expr:
    if _is(b, 1):
        return a
    if _is(b, 0):
        return _const(1)
    return ast.BinOp(a, ast.Pow(), b)


def _call(name: str, args: list[ast.expr]) -> ast.expr:
    if name == "where" and ast.dump(args[1]) == ast.dump(args[2]):
        return args[1]
    return ast.Call(ast.Name(name, ast.Load()), args, [])


def _uses(node: ast.expr, var: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == var for n in ast.walk(node))


def _substitute(src: str, names: tuple[str, ...], args: list[ast.expr]) -> ast.expr:
    repl = dict(zip(names, args, strict=True))

    class Sub(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return copy.deepcopy(repl[node.id]) if node.id in repl else node

    return _simplify(Sub().visit(copy.deepcopy(parse(src).body)))


def _simplify(node: ast.expr) -> ast.expr:
    """Rebuild ``node`` through the smart constructors (after a substitution)."""
    if isinstance(node, ast.BinOp):
        a, b = _simplify(node.left), _simplify(node.right)
        ops = {ast.Add: _add, ast.Sub: _sub, ast.Mult: _mul, ast.Div: _div, ast.Pow: _pow}
        return ops[type(node.op)](a, b)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _neg(_simplify(node.operand))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _call(node.func.id, [_simplify(a) for a in node.args])
    return node


def _splits_the_domain(cond: ast.expr) -> bool:
    """Whether ``cond`` is one strict or weak inequality (not a zero rule ``x == 0``), or
    such an inequality marked ``rare(...)``."""
    cond = rare_condition(cond) or cond
    return (
        isinstance(cond, ast.Compare)
        and len(cond.ops) == 1
        and isinstance(cond.ops[0], (ast.Lt, ast.Gt, ast.LtE, ast.GtE))
    )


# -- the chain rule ---------------------------------------------------------------------------
def _d(node: ast.expr, var: str) -> ast.expr:
    if not _uses(node, var):
        return _const(0)
    if isinstance(node, ast.Name):
        return _const(1)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _neg(_d(node.operand, var))
    if isinstance(node, ast.BinOp):
        a, b, op = node.left, node.right, node.op
        da, db = _d(a, var), _d(b, var)
        if isinstance(op, ast.Add):
            return _add(da, db)
        if isinstance(op, ast.Sub):
            return _sub(da, db)
        if isinstance(op, ast.Mult):
            return _add(_mul(da, b), _mul(a, db))
        if isinstance(op, ast.Div):  # a' / b - (a / b) b' / b: no b**2 to under/overflow
            return _sub(_div(da, b), _div(_mul(_div(a, b), db), b))
        if isinstance(op, ast.Pow):
            if not _uses(b, var):  # b * a**(b - 1) * a'
                n = _num(b)
                lower = _const(n - 1) if n is not None else _sub(b, _const(1))
                return _mul(_mul(b, _pow(a, lower)), da)
            # a**b (b' log(a) + b a' / a)
            inner = _add(_mul(db, _call("log", [a])), _div(_mul(b, da), a))
            return _mul(node, inner)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "abs"
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == var
    ):
        # abs of a coordinate itself (canberra's |x| + |y|): at 0 the edge of the
        # non-negative domain, where the one-sided derivative is +1 (|x| = x there); the
        # table's subgradient 0 at 0 is for the kink of abs(x - y) inside the domain
        v = ast.Name(var, ast.Load())
        return _call("where", [ast.Compare(v, [ast.Lt()], [_const(0)]), _const(-1), _const(1)])
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "where"
        and (not _uses(node.args[0], var) or _splits_the_domain(node.args[0]))
    ):
        # a condition that does not depend on var (a parameter's limit form: alpha == -1),
        # or an inequality on var (x < y / 2: two forms of one function, each where it is
        # accurate, or the pieces of a piecewise one): the derivative of the chosen branch,
        # as a where of the branches' derivatives. The table's partials (where(c, 1, 0) * da
        # + where(c, 0, 1) * db) would multiply the unchosen branch's derivative by 0, and
        # 0 * inf is NaN (a limit form's other branch is often infinite exactly where it is
        # not chosen: amari_alpha at alpha = +-1; r = (x - y) / y overflows where y is below
        # 1e-308 x). A zero rule on var (where(x == 0, 0, f)) keeps the table's form: at the
        # zero the one-sided derivative is the limit of f's, which the branch's constant
        # does not give; derivative() puts that limit there (_at_the_edge) where the term
        # raises to a run-time power, elsewhere the table's partials give it
        c, a, b = node.args
        return _call("where", [c, _d(a, var), _d(b, var)])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        h = HELPERS[node.func.id]
        out: ast.expr = _const(0)
        for arg, partial in zip(node.args, h.partials, strict=True):
            if partial == "0":  # where's condition
                continue
            darg = _d(arg, var)
            if _is(darg, 0):
                continue
            out = _add(out, _mul(_substitute(partial, h.args, list(node.args)), darg))
        return out
    raise ValueError(f"cannot differentiate {ast.unparse(node)!r} with respect to {var}")


@functools.cache
def derivative(src: str, var: str) -> str:
    """The derivative of expression ``src`` with respect to the name ``var``, as source of
    the expression language (the helpers' zero conventions included; see
    :mod:`divergences.vocabulary`).

    Parameters
    ----------
    src : str
        An expression of the language (a term or a finalize).
    var : str
        The name to differentiate by (``"x"``, ``"y"`` or an accumulator's name); every
        other name is a constant.

    Returns
    -------
    str
        The derivative, ``"0"`` where ``src`` does not depend on ``var``. For a coordinate
        (``x``, ``y``) of a term that raises an expression of a coordinate to a run-time
        power, the value where that coordinate is 0 is the one-sided limit of the derivative
        as it tends to 0 from above (:func:`divergences.limits.limit_at_zero`; ``+-inf``
        where it diverges).

    Examples
    --------
    >>> derivative("xlogy(x, x / y)", "y")
    'div0(x, x / y) * -(x / y / y)'
    >>> derivative("(x - y) ** 2", "x")
    '2 * (x - y)'
    """
    if var in CONSTANTS:
        raise ValueError(f"{var!r} is a constant of the language")
    tree = parse(src).body
    d = _d(tree, var)
    with_limits = _with_limits(tree, d, var)
    if with_limits is not None:
        return with_limits
    if var in COORDINATES and _runtime_power(tree, var):
        # the one-sided limit at var's zero left out (LIMIT_SOURCE_MAX): NaN there, not the
        # zero rule's where(var == 0, 1, 0) * d(rule) + where(var == 0, 0, 1) * d(form),
        # which is d(rule) wherever d(form) is finite at the zero, a number that is not the
        # limit (alpha_beta at alpha = 1: 0 for -2 sqrt(Q_i))
        at_zero = ast.Compare(ast.Name(var, ast.Load()), [ast.Eq()], [_const(0)])
        return ast.unparse(_call("where", [at_zero, ast.Name("nan", ast.Load()), d]))
    return ast.unparse(d)


#: the longest derivative (characters of source) that takes its one-sided limits at the
#: coordinates' zeros: Numba's and g++'s compile time grows faster than the source, and the
#: limits multiply it (renyi 1.3k -> 6.3k characters, its Numba gradient kernel compiles in 31
#: s instead of 6; alpha_beta's would be 15.8k characters and compile in 332 s instead of 21),
#: so a longer one keeps the plain derivative, NaN at its coordinate's zero (derivative();
#: :func:`zero_limits_dropped`; alpha_beta's zeros, listed in CATALOG.md)
LIMIT_SOURCE_MAX = 5000


def _with_limits(tree: ast.expr, d: ast.expr, var: str) -> str | None:
    """The derivative ``d`` of ``tree`` with its one-sided limits where a coordinate is 0
    (see :func:`_at_the_edge`), or None where there are none or they are too long."""
    edges = [c for c in COORDINATES if _runtime_power(tree, c)]
    if var not in COORDINATES or not edges:
        return None
    out = d
    for edge in reversed(edges):
        out = _at_the_edge(d, edge, out)
    src = ast.unparse(out)
    return src if len(src) <= LIMIT_SOURCE_MAX else None


def zero_limits_dropped(src: str) -> bool:
    """Whether :func:`derivative` leaves out the one-sided limits at a zero of term ``src``
    for ``x`` or ``y`` (longer than :data:`LIMIT_SOURCE_MAX`): its gradient there is NaN.

    Examples
    --------
    >>> zero_limits_dropped("x * ((x / y) ** lam - 1)")
    False
    """
    tree = parse(src).body
    return any(
        _with_limits(tree, _d(tree, v), v) is None
        and any(_runtime_power(tree, c) for c in COORDINATES)
        for v in COORDINATES
    )


#: the names of the data coordinates: non-negative, 0 is the edge of their domain
COORDINATES = ("x", "y")


def _runtime_power(node: ast.expr, var: str) -> bool:
    """Whether ``node`` raises an expression of ``var`` to a power known at run time only
    (``(x / y) ** alpha``, ``powm1(r, a)``): its derivative at ``var = 0`` meets ``0 * inf``."""
    for n in ast.walk(node):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) and _num(n.right) is None:
            if _uses(n.left, var):
                return True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "powm1":
            if _uses(n.args[0], var):
                return True
    return False


def _at_the_edge(d: ast.expr, edge: str, elsewhere: ast.expr) -> ast.expr:
    """``elsewhere``, and where coordinate ``edge`` is 0 the limit of the derivative ``d``
    as ``edge`` -> 0+ (the one-sided derivative at the edge of the domain, or the ordinary
    derivative along the other coordinate there; unchanged where the limit is not derived).
    """
    from .limits import limit_at_zero

    lim = limit_at_zero(ast.unparse(d), edge)
    if lim is None:
        return elsewhere
    at_zero = ast.Compare(ast.Name(edge, ast.Load()), [ast.Eq()], [_const(0)])
    return _call("where", [at_zero, parse(lim).body, elsewhere])


def partials(measure: Measure, zero: str = "strict") -> dict[str, tuple[str, str]]:
    """Per-element partial derivatives of every accumulator term of ``measure``.

    Parameters
    ----------
    measure : Measure
        A registered measure (``divergences.get(name)``).
    zero : {"strict", "epsilon"}
        The zero mode whose rule is differentiated.

    Returns
    -------
    dict
        ``{accumulator: (d term / dx, d term / dy)}``, expressions of the language over
        ``x``, ``y``, ``eps`` and the measure's parameters. For a ``sum`` accumulator the
        derivative of the accumulator with respect to ``P_k`` is ``d term / dx`` at
        ``(P_k, Q_k)``; for ``max``/``min`` it is that at the coordinate of the extreme.

    Examples
    --------
    >>> import divergences as dv
    >>> partials(dv.get("squared_euclidean"))
    {'s': ('2 * (x - y)', '-(2 * (x - y))')}
    """
    rule = measure.rule(zero)
    return {
        name: (derivative(acc.term, "x"), derivative(acc.term, "y"))
        for name, acc in rule.accumulators.items()
    }


def finalize_partials(measure: Measure, zero: str = "strict") -> dict[str, str]:
    """Partial derivatives of the finalize of ``measure`` with respect to each accumulator:
    ``{accumulator: d finalize / d accumulator}`` (expressions over the accumulators, ``d``,
    ``eps`` and the parameters).

    Examples
    --------
    >>> import divergences as dv
    >>> finalize_partials(dv.get("euclidean"))
    {'s': '0.5 / sqrt(s)'}
    """
    rule = measure.rule(zero)
    return {name: derivative(rule.finalize, name) for name in rule.accumulators}


def describe(measure: Measure, zero: str = "strict") -> str:
    """A printable description of every form derived from the definition of ``measure``:
    its terms, the factored plan, the partial derivatives and the scalar source of the
    Numba and CUDA printers (``divergences show NAME --plan``)."""
    from .kernels import codegen, cuda_source, factored

    rule = measure.rule(zero)
    lines = [f"{measure.name} (zero={zero!r})", "", "accumulators:"]
    for name, acc in rule.accumulators.items():
        lines.append(f"  {name} = {acc.reduce} over k of {acc.term}")
    lines.append(f"finalize: {rule.finalize}")
    lines += ["", "factored plan:"]
    pl = factored.plan(measure, zero)
    if pl is None:
        lines.append("  none (a term does not separate, or a reduction is not a sum): direct")
    else:
        for name, sp in pl.accs.items():
            if isinstance(sp, factored.Expanded):
                lines.append(f"  {name} = sum over k of {sp.term}, expanded (guarded):")
                for mo in sp.monos:
                    f, g = mo.f or "1", mo.g or "1"
                    mix = " * log(x + y)" if mo.mixed else ""
                    lines.append(f"    {mo.coef!r} * [{f}] * [{g}]{mix}")
            else:
                how = {"gemm": "matrix product", "rows": "row sums", "cols": "column sums"}
                parts = " @ ".join(p for p in (sp.left, sp.right) if p)
                lines.append(f"  {name}: {how[sp.how]} of {parts}")
        lines.append(f"  finalize: {pl.finalize}")
    lines += ["", "partial derivatives of the terms (d/dx, d/dy):"]
    for name, (dx, dy) in partials(measure, zero).items():
        lines += [f"  d {name} / dx = {dx}", f"  d {name} / dy = {dy}"]
    lines.append("partial derivatives of the finalize:")
    for name, src in finalize_partials(measure, zero).items():
        lines.append(f"  d finalize / d {name} = {src}")
    lines += ["", "scalar source (Numba printer):"]
    ren = {"x": "x", "y": "y"}
    for name, acc in rule.accumulators.items():
        lines.append(f"  {name}: {codegen.scalar_source(acc.term, ren)}")
    lines += ["", "CUDA C (measure part):"]
    lines += ["  " + ln for ln in cuda_source.measure_source(measure, zero).splitlines()]
    return "\n".join(lines)


# -- var * d term / d var, for the chain rule through log-probabilities and logits ---------------
def _inverse_of(node: ast.expr, var: str) -> ast.expr | None:
    """``A`` where ``node`` is ``A / var`` or ``div0(A, var)`` (so var * node = A), else None."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        if isinstance(node.right, ast.Name) and node.right.id == var:
            return node.left
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "div0":
        b = node.args[1]
        if isinstance(b, ast.Name) and b.id == var:
            return node.args[0]
    return None


def _has_inverse(node: ast.expr, var: str) -> bool:
    return any(_inverse_of(n, var) is not None for n in ast.walk(node))


def _scaled(node: ast.expr, var: str) -> ast.expr:
    """var * node, with every ``var * (A / var)`` cancelled to ``A`` and every other product
    0 where var is 0 (never 0 * inf)."""
    v = ast.Name(var, ast.Load())
    n = _num(node)
    if n is not None and math.isfinite(n):
        return _mul(v, node)
    inv = _inverse_of(node, var)
    if inv is not None:
        return inv
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        left, right = _scaled(node.left, var), _scaled(node.right, var)
        return _add(left, right) if isinstance(node.op, ast.Add) else _sub(left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _neg(_scaled(node.operand, var))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "where":
        c, a, b = node.args
        return _call("where", [c, _scaled(a, var), _scaled(b, var)])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        if _has_inverse(node.right, var):
            return _mul(node.left, _scaled(node.right, var))
        if _has_inverse(node.left, var):
            return _mul(_scaled(node.left, var), node.right)
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Div)
        and _has_inverse(node.left, var)
    ):
        return _div(_scaled(node.left, var), node.right)
    zero_test = ast.Compare(v, [ast.Eq()], [_const(0)])
    return _call("where", [zero_test, _const(0), _mul(v, node)])


@functools.cache
def scaled_derivative(src: str, var: str) -> str:
    """``var * d src / d var`` as source of the language, written so that it is never
    ``0 * inf``: the derivative with respect to ``log(var)``, which the chain rule through
    log-probabilities and logits needs (``q * dT/dq``).

    A factor ``A / var`` (or ``div0(A, var)``) cancels to ``A`` (its limit at var = 0, where
    ``var * inf`` would be NaN); every other product is 0 where var is 0 (the derivative
    grows slower than 1 / var there: ``q log q``, ``sqrt(q)``, ``q**a`` with a > 0 -> 0).

    Examples
    --------
    >>> scaled_derivative("kl_elem(x, y) + (x - y)", "y")
    'y - x - y'
    >>> scaled_derivative("xlogy(x, y)", "y")
    'x'
    """
    return ast.unparse(_scaled(parse(derivative(src, var)).body, var))
