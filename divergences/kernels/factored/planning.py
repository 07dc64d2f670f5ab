"""The plan of a measure: how each accumulator is summed (plain or expanded), and whether
the guard runs (see :mod:`divergences.kernels.factored`)."""

from __future__ import annotations

import ast
import copy
import functools
import math
from dataclasses import dataclass

from ...expr import names_in, parse
from ...spec import Measure, evaluate_ieee
from .expansion import Mono, Split, _split, expand


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


class _Bind(ast.NodeTransformer):
    """Substitutes the parameters' values, folds the sub-expressions that become constant
    and resolves every ``where`` whose condition becomes constant, top down (the branch not
    taken is dropped unvisited: its divisions by 0 at this parameter value never run)."""

    def __init__(self, values: dict[str, float]) -> None:
        self.values = values

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.values:
            return _number(self.values[node.id])
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if isinstance(node.func, ast.Name) and node.func.id == "where":
            cond = self.visit(node.args[0])
            if _constant(cond):
                return self.visit(node.args[1] if _value(cond) else node.args[2])
            node.args = [cond, self.visit(node.args[1]), self.visit(node.args[2])]
            return node
        self.generic_visit(node)
        return _fold(node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        return _fold(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        return _fold(node)


def _number(v: float) -> ast.expr:
    """A numeric literal (a negative one as a negation: ``(-0.5) ** 2`` keeps its brackets)."""
    return ast.UnaryOp(ast.USub(), ast.Constant(-v)) if v < 0 else ast.Constant(v)


def _constant(node: ast.AST) -> bool:
    return not names_in(ast.unparse(node))


def _value(node: ast.AST) -> float:
    return float(evaluate_ieee(ast.unparse(node), {}))


def _fold(node: ast.expr) -> ast.expr:
    """``node`` as a literal where it is constant and finite (a comparison stays a
    comparison, for the where above it), else unchanged."""
    if isinstance(node, ast.Compare) or not _constant(node):
        return node
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        return node
    try:
        v = _value(node)
    except (ArithmeticError, ValueError):
        return node
    return _number(v) if math.isfinite(v) else node


def bind(src: str, values: dict[str, float]) -> str:
    """``src`` at these parameter values: the values substituted, constant sub-expressions
    folded, and ``where`` on the parameters resolved (what the factored expansion sees: a
    measure whose limits at special parameter values are written with ``where`` then
    separates like any other at the values of the call).

    Examples
    --------
    >>> bind("where(alpha == 1, kl_elem(x, y), x ** alpha / (alpha - 1))", {"alpha": 0.5})
    'x ** 0.5 / -0.5'
    """
    tree = _Bind(values).visit(copy.deepcopy(parse(src).body))
    return ast.unparse(ast.fix_missing_locations(tree))


def plan(measure: Measure, zero: str, params: dict[str, float] | None = None) -> Plan | None:
    """How every accumulator of ``measure`` is summed at the parameter values ``params``
    (defaults where missing), or None when it cannot be factored there.

    The terms and the finalize are first bound to the parameter values (:func:`bind`), so
    ``where`` on a parameter (the exact limit at a special value) picks its branch before
    the expansion: Renyi at alpha = 1/2 expands like any power product, at alpha = 1 like
    KL."""
    values = {**measure.param_defaults(), **(params or {})}
    return _plan(measure, zero, tuple(float(values[p.name]) for p in measure.params))


@functools.lru_cache(maxsize=1024)
def _plan(measure: Measure, zero: str, at: tuple[float, ...]) -> Plan | None:
    rule = measure.rule(zero)
    if any(acc.reduce != "sum" for acc in rule.accumulators.values()):
        return None
    values = dict(zip((p.name for p in measure.params), at, strict=True))
    terms = {name: bind(acc.term, values) for name, acc in rule.accumulators.items()}
    expanded = {name for name, t in terms.items() if _split(t) is None}
    finalize = bind(rule.finalize, values)
    if expanded:
        finalize, terms = _merge_linear(finalize, terms, expanded)
    accs: dict[str, Split | Expanded] = {}
    for name, term in terms.items():
        split = _split(term)
        if split is not None:
            accs[name] = split
            continue
        monos = expand(term, measure.domain, values)
        if monos is None:
            return None
        accs[name] = Expanded(term, monos)
    guarded = any(isinstance(a, Expanded) for a in accs.values())
    if guarded and not _finalize_supported(finalize):
        return None
    return Plan(accs, guarded, finalize)


def factorable(measure: Measure, zero: str, params: dict[str, float] | None = None) -> bool:
    """Whether ``measure`` in zero mode ``zero`` has a factored form at the parameter values
    ``params`` (defaults where missing)."""
    return plan(measure, zero, params) is not None

