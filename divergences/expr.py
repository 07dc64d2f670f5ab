"""The expression language of measure definitions.

Terms, finalize expressions and bounds are Python expressions restricted to
arithmetic (``+ - * / **``, unary minus), comparisons (as the condition of
``where``), numeric constants and the vocabulary below.  Each back end
translates the same expression: the NumPy/array-API reference evaluates it
with :mod:`divergences.kernels.helpers`, later back ends generate code from
the same syntax tree.

Vocabulary
----------
The functions (``abs, sqrt, log, log1p, exp, expm1, min, max, where`` and the zero-rule
helpers ``div0, nz, xlogy, log1pmx, kl_elem, kl_mid, sqrt_diff_sq, powm1``) are the entries
of :data:`divergences.vocabulary.HELPERS`, one table with each helper's meaning, zero
conventions, partial derivatives and implementations; ``inf`` and ``nan`` are constants.
"""

from __future__ import annotations

import ast
import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any

from .vocabulary import CONSTANTS as VOCABULARY_CONSTANTS
from .vocabulary import HELPERS, scalar_vocabulary

#: function name -> number of arguments (from the vocabulary table)
FUNCTIONS: dict[str, int] = {name: h.arity for name, h in HELPERS.items()}
CONSTANTS = set(VOCABULARY_CONSTANTS)

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_CMPOPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)


_PARSE_LOCK = threading.Lock()
_PARSE_TRIES = 3


def parse_source(text: str | bytes, mode: str = "exec") -> ast.AST:
    """``ast.parse(text, mode=mode)``, safe to call from several threads at once.

    CPython 3.11 keeps the AST constructor's recursion counter once per interpreter, not
    per thread (gh-106905), so two threads parsing at the same time can fail with
    ``SystemError: AST constructor recursion depth mismatch`` (seen in a Dask worker
    building a kernel).  Every parse of divergences goes through here: one lock keeps its
    own parses apart, and a parse spoiled by another library's parse in another thread
    is tried again (at most three times in all).

    Examples
    --------
    >>> type(parse_source("x + 1", mode="eval")).__name__
    'Expression'
    """
    with _PARSE_LOCK:
        for attempt in range(_PARSE_TRIES):
            try:
                return ast.parse(text, mode=mode)
            except SystemError as e:
                if "recursion depth mismatch" not in str(e) or attempt == _PARSE_TRIES - 1:
                    raise
    raise AssertionError("unreachable")  # pragma: no cover


@functools.cache
def parse(src: str) -> ast.Expression:
    """Parse ``src`` into a syntax tree (cached)."""
    try:
        return parse_source(src, mode="eval")
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


#: the helpers over Python floats, for bounds expressions
SCALAR_VOCABULARY: dict[str, Any] = scalar_vocabulary()


def evaluate_scalar(src: str, names: Mapping[str, float]) -> float:
    """Evaluate a bounds-style expression on Python floats."""
    return float(compile_with(src, SCALAR_VOCABULARY)(**names))
