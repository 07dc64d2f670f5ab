"""The run-time powers of the fused sweeps (:mod:`divergences.fused_forms`), where no
coordinate is 0: each is ``exp`` of an *exponent*, a sum of the coordinates'
log-probabilities with coefficients linear in the parameters (``{"lpt": {"par_alpha": 1.0,
"": -1.0}, "lpi": {...}}``), printed one way so that equal powers written apart are one
expression, which the loop computes once; and the products of such powers and of the
coordinates merged (:func:`merged_product`):

- two powers in one product are one power (``exp(a) exp(b) = exp(a + b)``: one exponential
  fewer, no intermediate overflow);
- coordinates that cancel are dropped (``x (1 / x)``, ``(1 / div0(x, y)) (x / y)``: no
  division);
- a coordinate or a ratio of coordinates goes into a power where the power it makes is
  computed anyway (``exp((alpha - 2) log(x / y)) (x / y)`` is ``exp((alpha - 1) log(x / y))``,
  which the loop has): one exponential and a division fewer, and no overflow of the
  product where the power itself is finite.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable

from .expr import parse
from .limits import _linear

#: an exponent: log-probability's name -> its coefficient, a linear form of the parameters
Exponent = dict[str, dict[str, float]]


def printed_linear(form: dict[str, float]) -> ast.expr:
    """The canonical source of a linear form (parameters by name, then the constant)."""
    src = ""
    for k in sorted(form, key=lambda k: (k == "", k)):
        c = form[k]
        if c == 0:
            continue
        if not k:
            term = repr(abs(c))
        else:
            term = k if abs(c) == 1 else f"{abs(c)!r} * {k}"
        src += (" - " if c < 0 else " + " if src else "") + term
    return parse(src.removeprefix(" ") or "0.0").body


def parameters_form(p: ast.expr) -> dict[str, float] | None:
    """``p`` as a linear form of the parameters (``par_`` names) only, else None."""
    form = _linear(p)
    if form is None or any(k and not k.startswith("par_") for k in form):
        return None
    return form


def _add(a: Exponent, b: Exponent) -> Exponent:
    out: Exponent = {}
    for lg in {*a, *b}:
        fa, fb = a.get(lg, {}), b.get(lg, {})
        form = {k: fa.get(k, 0.0) + fb.get(k, 0.0) for k in {*fa, *fb}}
        if any(form.values()):
            out[lg] = {k: v for k, v in form.items() if v}
    return out


def _neg(a: Exponent) -> Exponent:
    return {lg: {k: -v for k, v in form.items()} for lg, form in a.items()}


def printed_exponent(e: Exponent) -> ast.expr:
    """The exponent's canonical source: ``p * (la - lb)`` (the later name first) where the
    coefficients are opposite, ``p * la`` for one name, else a sum, later names first."""
    names = sorted(e, reverse=True)
    if len(names) == 2 and not _add({"": e[names[0]]}, {"": e[names[1]]}):
        diff = ast.BinOp(ast.Name(names[0], ast.Load()), ast.Sub(), ast.Name(names[1], ast.Load()))
        return ast.BinOp(printed_linear(e[names[0]]), ast.Mult(), diff)
    terms = [
        ast.BinOp(printed_linear(e[lg]), ast.Mult(), ast.Name(lg, ast.Load())) for lg in names
    ]
    if not terms:
        return ast.Constant(0.0)
    out = terms[0]
    for t in terms[1:]:
        out = ast.BinOp(out, ast.Add(), t)
    return out


def printed_exp(e: Exponent) -> ast.Call:
    """``exp_v`` of the exponent, printed canonically."""
    return ast.Call(ast.Name("exp_v", ast.Load()), [printed_exponent(e)], [])


def ratio_exponent(form: dict[str, float], la: str, lb: str | None) -> Exponent:
    """The exponent ``form * (la - lb)`` (``form * la`` without ``lb``)."""
    e: Exponent = {la: dict(form)}
    return e if lb is None else _add(e, _neg({lb: form}))


def _exponent_in(node: ast.expr, logs: Iterable[str]) -> Exponent | None:
    """The exponent of a canonically printed ``exp_v`` call (:func:`printed_exp`), else None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    if node.func.id != "exp_v" or len(node.args) != 1:
        return None
    logs = set(logs)

    def terms(n: ast.expr) -> Exponent | None:
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
            a, b = terms(n.left), terms(n.right)
            return None if a is None or b is None else _add(a, b)
        if not (isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult)):
            return None
        form = parameters_form(n.left)
        if form is None:
            return None
        lg = n.right
        if isinstance(lg, ast.Name) and lg.id in logs:
            return ratio_exponent(form, lg.id, None)
        if isinstance(lg, ast.BinOp) and isinstance(lg.op, ast.Sub):
            a, b = lg.left, lg.right
            if isinstance(a, ast.Name) and isinstance(b, ast.Name) and {a.id, b.id} <= logs:
                return ratio_exponent(form, a.id, b.id)
        return None

    return terms(node.args[0])


def _coordinates_in(node: ast.expr, coords: dict[str, str]) -> Exponent | None:
    """A coordinate ``x``, a ratio ``x / y`` or ``div0(x, y)``, or the reciprocal of one,
    as an exponent of the logarithms (``coords``: coordinate -> its log's name)."""
    one = {"": 1.0}
    if isinstance(node, ast.Name) and node.id in coords:
        return {coords[node.id]: one}
    pair = None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        if isinstance(node.left, ast.Constant) and node.left.value == 1.0:
            inner = _coordinates_in(node.right, coords)
            return None if inner is None else _neg(inner)
        pair = (node.left, node.right)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        pair = tuple(node.args) if node.func.id == "div0_v" else None
    if pair is None:
        return None
    a, b = (_coordinates_in(n, coords) for n in pair)
    return None if a is None or b is None else _add(a, _neg(b))


def _factors(node: ast.expr) -> tuple[bool, list[ast.expr]]:
    """(negated, factors) of a product (through ``*`` and unary minus)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        neg, fs = _factors(node.operand)
        return not neg, fs
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        na, fa = _factors(node.left)
        nb, fb = _factors(node.right)
        return na != nb, fa + fb
    return False, [node]


def merged_product(node: ast.expr, coords: dict[str, str], known: set[str] | None) -> ast.expr:
    """The product ``node`` with its powers and coordinates merged (see the module's
    docstring); ``known``: the powers the loop computes anyway (printed), into which a
    coordinate may go.  ``node`` itself where nothing merges."""
    neg, fs = _factors(node)
    logs = coords.values()
    pw = {i: e for i, f in enumerate(fs) if (e := _exponent_in(f, logs)) is not None}
    co = {i: e for i, f in enumerate(fs) if (e := _coordinates_in(f, coords)) is not None}
    drop: set[int] = set()
    # coordinates that cancel (the largest set)
    for size in range(len(co), 1, -1):
        hit = next(
            (s for s in itertools.combinations(co, size) if _sum(co[i] for i in s) == {}), None
        )
        if hit is not None:
            drop |= set(hit)
            break
    power = _sum(pw.values()) if len(pw) >= 2 or (pw and known) else None
    taken = False  # a coordinate taken out of a sum into the power
    if power is not None and known:
        for i in sorted(co.keys() - drop):
            merged = _add(power, co[i])
            if ast.unparse(printed_exp(merged)) in known:
                power = merged
                drop.add(i)
        # a coordinate common to every term of a sum, taken out into the power
        for i, f in enumerate(fs):
            if i in pw or i in co or not isinstance(f, ast.BinOp):
                continue
            for c, lg in coords.items():
                merged = _add(power, {lg: {"": 1.0}})
                rest = _taken_out(f, c)
                if rest is not None and ast.unparse(printed_exp(merged)) in known:
                    power, fs[i], taken = merged, rest, True
                    break
    if power is not None and known:
        # a coordinate exchanged for the other: y exp(e) = x exp(e + log y - log x), where
        # that power is computed anyway and is simpler (smaller constants in its exponent:
        # the two printings agree on it, so the other is no longer computed; Cressie-Read's
        # (y / x)^(-lambda - 1) y, far from x = y, is x (x / y)^lambda)
        for i in sorted(co.keys() - drop):
            swapped = _exchanged(fs[i], power, coords, known)
            if swapped is not None:
                fs[i], power, taken = swapped[0], swapped[1], True
                break
    if power is None and known:
        # a coordinate into every power of a sum it multiplies, where each power it makes
        # is computed anyway (alpha_beta's y (c1 y^(s - 1) - c2 x^alpha y^(beta - 1)))
        hit = next(
            (
                (i, j, folded)
                for i in sorted(co.keys() - drop)
                for j, f in enumerate(fs)
                if j not in co and (folded := _folded_into_terms(f, co[i], coords, known))
            ),
            None,
        )
        if hit is not None:
            i, j, fs[j] = hit
            drop.add(i)
            taken = True
    if not drop and not taken and len(pw) < 2:
        return node
    if power is not None:
        drop |= set(pw)
    kept = [f for i, f in enumerate(fs) if i not in drop]
    if power is not None and power:
        kept.append(printed_exp(power))
    return _product(neg, kept)


def _exchanged(
    factor: ast.expr, power: Exponent, coords: dict[str, str], known: set[str]
) -> tuple[ast.expr, Exponent] | None:
    """(the other coordinate, the power) for a coordinate ``factor`` times ``exp(power)``
    where ``exp(power + log factor - log other)`` is known, else None."""
    if not (isinstance(factor, ast.Name) and factor.id in coords):
        return None
    for other, lg in coords.items():
        if other == factor.id:
            continue
        moved = _add(power, {coords[factor.id]: {"": 1.0}, lg: {"": -1.0}})
        if ast.unparse(printed_exp(moved)) in known and _weight(moved) < _weight(power):
            return ast.Name(other, ast.Load()), moved
    return None


def _weight(e: Exponent) -> float:
    """The sum of the constants' magnitudes in an exponent (``(alpha + 1) (la - lb)``: 2)."""
    return sum(abs(form.get("", 0.0)) for form in e.values())


def _folded_into_terms(
    node: ast.expr, e: Exponent, coords: dict[str, str], known: set[str]
) -> ast.expr | None:
    """The sum ``node`` with ``exp(e)`` (a coordinate) merged into the one power of each of
    its terms, where every power this makes is known; else None."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        a = _folded_into_terms(node.left, e, coords, known)
        b = _folded_into_terms(node.right, e, coords, known)
        return None if a is None or b is None else ast.BinOp(a, node.op, b)
    neg, fs = _factors(node)
    logs = coords.values()
    at = [(i, p) for i, f in enumerate(fs) if (p := _exponent_in(f, logs)) is not None]
    if len(at) != 1 or any(_coordinates_in(f, coords) is not None for f in fs):
        return None
    i, p = at[0]
    merged = printed_exp(_add(p, e))
    if ast.unparse(merged) not in known:
        return None
    return _product(neg, [*fs[:i], merged, *fs[i + 1 :]])


def _sum(es: Iterable[Exponent]) -> Exponent:
    out: Exponent = {}
    for e in es:
        out = _add(out, e)
    return out


def powers_in(srcs: Iterable[str]) -> set[str]:
    """The ``exp_v`` calls of ``srcs`` (printed)."""
    return {
        ast.unparse(n)
        for s in srcs
        for n in ast.walk(parse(s))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "exp_v"
    }


def _signed(node: ast.expr) -> tuple[bool, ast.expr]:
    """(negated, operand) of ``-a`` (``a`` itself: False)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        neg, inner = _signed(node.operand)
        return not neg, inner
    return False, node


def _relative_difference(node: ast.expr, coords: dict[str, str]) -> ast.expr | None:
    """``a / b`` for ``(a - b) / b`` or ``div0(a - b, b)`` of coordinates, else None."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        num, den = node.left, node.right
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id != "div0_v":
            return None
        num, den = node.args
    else:
        return None
    if not (isinstance(num, ast.BinOp) and isinstance(num.op, ast.Sub)):
        return None
    if not all(isinstance(n, ast.Name) and n.id in coords for n in (num.left, den)):
        return None
    if ast.dump(num.right) != ast.dump(den):
        return None
    return ast.BinOp(num.left, ast.Div(), den)


def simplified_sum(node: ast.BinOp, coords: dict[str, str]) -> ast.expr:
    """Where no coordinate is 0: ``1 + (a - b) / b`` (and ``-1 - (a - b) / b``) is ``a / b``
    (``-(a / b)``), which a power can take in (:func:`merged_product`); else ``node``."""
    if not isinstance(node.op, (ast.Add, ast.Sub)):
        return node
    terms = [(False, node.left), (isinstance(node.op, ast.Sub), node.right)]
    for (n1, one), (n2, other) in (terms, terms[::-1]):
        n0, one = _signed(one)
        if not (isinstance(one, ast.Constant) and one.value in (1.0, -1.0)):
            continue
        neg, inner = _signed(other)
        neg ^= n2
        ratio = _relative_difference(inner, coords)
        if ratio is not None and ((one.value < 0) != (n1 != n0)) == neg:
            return ast.UnaryOp(ast.USub(), ratio) if neg else ratio
    return node


def _product(neg: bool, fs: list[ast.expr]) -> ast.expr:
    out: ast.expr = fs[0] if fs else ast.Constant(1.0)
    for f in fs[1:]:
        out = ast.BinOp(out, ast.Mult(), f)
    return ast.UnaryOp(ast.USub(), out) if neg else out


def _taken_out(node: ast.expr, c: str) -> ast.expr | None:
    """``node / c`` where every term of the sum ``node`` has the factor ``c`` (a name),
    else None."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        a, b = _taken_out(node.left, c), _taken_out(node.right, c)
        return None if a is None or b is None else ast.BinOp(a, node.op, b)
    neg, fs = _factors(node)
    at = [i for i, f in enumerate(fs) if isinstance(f, ast.Name) and f.id == c]
    if not at:
        return None
    return _product(neg, fs[: at[0]] + fs[at[0] + 1 :])


def simplified_where(node: ast.Call, coords: dict[str, str]) -> ast.expr:
    """Where no coordinate is 0: ``where(a - b == 0, 0, +-(a - b) / b)`` (the guard of
    ``div0``) is ``+-(a - b) / b`` (0 where ``a = b`` anyway); ``where(c, e, e)`` is ``e``;
    else ``node``."""
    cond, then, other = node.args
    if ast.dump(then) == ast.dump(other):
        return then
    if not (isinstance(then, ast.Constant) and then.value == 0.0):
        return node
    if not (
        isinstance(cond, ast.Compare)
        and isinstance(cond.ops[0], ast.Eq)
        and isinstance(cond.comparators[0], ast.Constant)
        and cond.comparators[0].value == 0.0
    ):
        return node
    _, inner = _signed(other)
    if _relative_difference(inner, coords) is None:
        return node
    assert isinstance(inner, ast.BinOp)
    return other if ast.dump(inner.left) == ast.dump(cond.left) else node
