"""The expression language of measure definitions.

Terms, finalize expressions and bounds are Python expressions restricted to
arithmetic (``+ - * / **``, unary minus), comparisons (as the condition of
``where``), numeric constants and the vocabulary below.  Each back end
translates the same expression: the NumPy/array-API reference evaluates it
with :mod:`divergences.kernels.helpers`, later back ends generate code from
the same syntax tree.

Vocabulary
----------
``abs, sqrt, log, log1p, exp``
    The usual elementwise functions.
``min(a, b), max(a, b)``
    Elementwise minimum and maximum.
``where(c, a, b)``
    ``a`` where condition ``c`` holds, else ``b``.
``div0(a, b)``
    ``a / b`` with ``0 / 0 = 0`` (the term vanishes) and ``a / 0 = inf``.
``nz(a, eps)``
    ``a``, with an exact zero replaced by ``eps`` (philentropy's epsilon rule).
``xlogy(a, b)``
    ``a * log(b)`` with ``0 * log(anything) = 0``.
``log1pmx(r)``
    ``log(1 + r) - r``, accurate also for tiny ``r``.
``kl_elem(a, b)``
    ``a log(a / b) - a + b`` (>= 0), computed without cancellation near
    ``a = b``; ``kl_elem(0, b) = b`` and ``kl_elem(a, 0) = inf`` for ``a > 0``.
``kl_mid(a, b)``
    ``kl_elem(a, (a + b) / 2)`` without rounding the midpoint.
``sqrt_diff_sq(a, b)``
    ``(sqrt(a) - sqrt(b))**2``, computed as ``((a - b) / (sqrt(a) + sqrt(b)))**2``
    with ``0 / 0 = 0``.
``inf, nan``
    Constants.
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

#: function name -> number of arguments
FUNCTIONS: dict[str, int] = {
    "abs": 1,
    "sqrt": 1,
    "log": 1,
    "log1p": 1,
    "exp": 1,
    "min": 2,
    "max": 2,
    "where": 3,
    "div0": 2,
    "nz": 2,
    "xlogy": 2,
    "log1pmx": 1,
    "kl_elem": 2,
    "kl_mid": 2,
    "sqrt_diff_sq": 2,
}
CONSTANTS = {"inf", "nan"}

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_CMPOPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)


@functools.cache
def parse(src: str) -> ast.Expression:
    """Parse ``src`` into a syntax tree (cached)."""
    try:
        return ast.parse(src, mode="eval")
    except SyntaxError as e:
        raise ValueError(f"cannot parse {src!r}: {e.msg}") from None


def check_expression(src: str, names: set[str]) -> None:
    """Raise ``ValueError`` unless ``src`` uses only the language and ``names``."""
    tree = parse(src)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.Load, *_BINOPS, *_CMPOPS, ast.USub)):
            continue
        if isinstance(node, ast.BinOp) and isinstance(node.op, _BINOPS):
            continue
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            continue
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            continue
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise ValueError(f"{src!r}: unknown function {ast.unparse(node.func)!r}")
            if node.keywords or len(node.args) != FUNCTIONS[node.func.id]:
                raise ValueError(
                    f"{src!r}: {node.func.id} takes {FUNCTIONS[node.func.id]} arguments"
                )
            continue
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS or node.id in CONSTANTS or node.id in names:
                continue
            raise ValueError(f"{src!r}: unknown name {node.id!r}")
        raise ValueError(f"{src!r}: {type(node).__name__} is not allowed")


def names_in(src: str) -> set[str]:
    """Variable names (not functions or constants) used by ``src``."""
    return {
        n.id
        for n in ast.walk(parse(src))
        if isinstance(n, ast.Name) and n.id not in FUNCTIONS and n.id not in CONSTANTS
    }


@functools.cache
def _code(src: str) -> Any:
    return compile(parse(src), f"<divergences expression {src!r}>", "eval")


def compile_with(src: str, vocabulary: Mapping[str, Any]) -> Callable[..., Any]:
    """A function ``f(**names)`` evaluating ``src`` with ``vocabulary`` as builtins."""
    code = _code(src)
    glob = {"__builtins__": {}, **vocabulary}

    def evaluate(**names: Any) -> Any:
        return eval(code, glob, names)  # noqa: S307 - checked restricted language

    evaluate.__doc__ = src
    return evaluate


def _scalar_where(c: bool, a: float, b: float) -> float:
    return a if c else b


SCALAR_VOCABULARY: dict[str, Any] = {
    "abs": abs,
    "sqrt": math.sqrt,
    "log": lambda v: math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan),
    "log1p": math.log1p,
    "exp": math.exp,
    "min": min,
    "max": max,
    "where": _scalar_where,
    "inf": math.inf,
    "nan": math.nan,
}


def evaluate_scalar(src: str, names: Mapping[str, float]) -> float:
    """Evaluate a bounds-style expression on Python floats."""
    return float(compile_with(src, SCALAR_VOCABULARY)(**names))
