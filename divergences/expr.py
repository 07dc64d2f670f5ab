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
import copy
import functools
import itertools
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


def rare_condition(node: ast.expr) -> ast.expr | None:
    """The condition ``c`` of a where's condition marked ``rare(c)`` (see the vocabulary's
    ``rare``), else None.

    Examples
    --------
    >>> ast.unparse(rare_condition(parse("rare(x > 2 * y)").body))
    'x > 2 * y'
    >>> rare_condition(parse("x > 2 * y").body) is None
    True
    """
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "rare":
        return node.args[0]
    return None


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


#: the value a data name takes in a branch of a ``where`` where that branch is not chosen
SAFE_VALUE = 1.0


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def guard_wheres(tree: ast.Expression, data: frozenset[str]) -> ast.Expression:
    """``tree`` with every ``where(c, a, b)`` whose condition reads a name of ``data``
    evaluating each branch on :data:`SAFE_VALUE` where it is not chosen (the "double where").

    ``where(c, a, b)`` becomes ``where((t := c), a', b')``, with every data name ``n`` in
    ``a`` replaced by ``where(t, n, 1.0)`` and in ``b`` by ``where(t, 1.0, n)`` (bound once
    per branch with ``:=``): the same values where each branch is chosen, while the branch
    that is not chosen is computed at 1.0 instead of at the point where it may be singular
    (``(x / y) ** (alpha - 1)`` at ``x = 0``), so that autodiff's zero gradient into it is
    not multiplied by an infinite derivative (0 * inf = NaN). Conditions on parameters only
    are left alone (they choose a branch outright). Inner wheres are guarded first, so
    nesting composes.

    Examples
    --------
    >>> tree = guard_wheres(parse("where(x == 0, 0, x * log(x))"), frozenset("xy"))
    >>> ast.unparse(tree)
    'where((_c0 := (x == 0)), 0, ((_x_c0b := where(_c0, 1.0, x)), _x_c0b * log(_x_c0b))[-1])'
    """
    count = itertools.count()

    class _Guard(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            if not (isinstance(node.func, ast.Name) and node.func.id == "where"):
                return node
            c, a, b = node.args
            if not _loads(c) & data:
                return node
            t = f"_c{next(count)}"

            def guard(branch: ast.expr, chosen: bool) -> ast.expr:
                # (_x_c0 := where(_c0, x, 1.0), ..., branch with x -> _x_c0)[-1]: each data
                # name guarded once per branch, however often the branch reads it
                used = sorted(_loads(branch) & data)
                if not used:
                    return branch
                tag = f"{t}{'a' if chosen else 'b'}"

                class _Sub(ast.NodeTransformer):
                    def visit_Name(self, n: ast.Name) -> ast.AST:
                        if n.id in data and isinstance(n.ctx, ast.Load):
                            return ast.Name(f"_{n.id}{tag}", ast.Load())
                        return n

                binds: list[ast.expr] = []
                for n in used:
                    cond, name = ast.Name(t, ast.Load()), ast.Name(n, ast.Load())
                    safe = ast.Constant(SAFE_VALUE)
                    args = [cond, name, safe] if chosen else [cond, safe, name]
                    value = ast.Call(ast.Name("where", ast.Load()), args, [])
                    binds.append(ast.NamedExpr(ast.Name(f"_{n}{tag}", ast.Store()), value))
                seq = ast.Tuple([*binds, _Sub().visit(branch)], ast.Load())
                return ast.Subscript(seq, ast.Constant(-1), ast.Load())

            cond = ast.NamedExpr(ast.Name(t, ast.Store()), c)
            return ast.Call(node.func, [cond, guard(a, True), guard(b, False)], [])

    # parse() caches its trees: transform a copy
    return ast.fix_missing_locations(_Guard().visit(copy.deepcopy(tree)))


@functools.cache
def _code(src: str, data: frozenset[str] = frozenset()) -> Any:
    tree = guard_wheres(parse(src), data) if data else parse(src)
    return compile(tree, f"<divergences expression {src!r}>", "eval")


def compile_with(
    src: str, vocabulary: Mapping[str, Any], *, data: frozenset[str] = frozenset()
) -> Callable[..., Any]:
    """A function ``f(**names)`` evaluating ``src`` with ``vocabulary`` as builtins.

    Parameters
    ----------
    src : str
        An expression of the language.
    vocabulary : mapping
        The functions and constants (:func:`divergences.vocabulary.array_vocabulary`).
    data : frozenset of str, optional
        Names that hold arrays to be differentiated (``x``, ``y``; a finalize's
        accumulators): a ``where`` on them evaluates each branch on safe values where it is
        not chosen (:func:`guard_wheres`), for autodiff. The values are the same.

    Returns
    -------
    callable
        ``f(**names)``, the value of ``src``.
    """
    code = _code(src, frozenset(data))
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
