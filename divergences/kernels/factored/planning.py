"""The plan of a measure: how each accumulator is summed (plain or expanded), and whether
the guard runs (see :mod:`divergences.kernels.factored`)."""

from __future__ import annotations

import ast
import copy
import functools
from dataclasses import dataclass

from ...expr import parse
from ...spec import Measure
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

