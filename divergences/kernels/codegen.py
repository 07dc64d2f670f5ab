"""Translate the expression language into scalar Python source for compiled back ends.

The result is ordinary Python over floats that Numba compiles: ``where`` becomes a
conditional expression (only the chosen branch is evaluated), math functions become
``math.*``, ``min``/``max`` the NaN-propagating helpers, and every variable is renamed
so that definitions cannot collide with the kernel's own locals.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Mapping

from ..expr import parse
from ..vocabulary import HELPERS

#: math-module functions and helper functions of the Numba printer (from the table);
#: ``abs`` stays the builtin, ``where`` becomes a conditional expression
_MATH = {n for n, h in HELPERS.items() if h.numba.startswith("math.")}
_HELPERS = {n: h.numba for n, h in HELPERS.items() if h.numba and "." not in h.numba and n != "abs"}
#: what a generated module imports from numba_helpers (ipow is the run-time ``**``)
HELPER_IMPORTS = sorted({*_HELPERS.values(), "ipow"})


class _Scalar(ast.NodeTransformer):
    def __init__(self, rename: Mapping[str, str]) -> None:
        self.rename = rename

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        if name == "where":
            test, body, orelse = node.args
            return ast.IfExp(test=test, body=body, orelse=orelse)
        if name in _MATH:
            attr = HELPERS[name].numba.removeprefix("math.")
            node.func = ast.Attribute(ast.Name("math", ast.Load()), attr, ast.Load())
        elif name in _HELPERS:
            node.func = ast.Name(_HELPERS[name], ast.Load())
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow) and not isinstance(node.right, ast.Constant):
            # an exponent known only at run time (Minkowski's p): small integers multiply
            return ast.Call(ast.Name("ipow", ast.Load()), [node.left, node.right], [])
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in ("inf", "nan"):
            return ast.Attribute(value=ast.Name("math", ast.Load()), attr=node.id, ctx=ast.Load())
        if node.id in self.rename:
            return ast.Name(self.rename[node.id], ast.Load())
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        # float literals keep integer-looking constants from turning into integer arithmetic
        if isinstance(node.value, int) and not isinstance(node.value, bool):
            return ast.Constant(float(node.value))
        return node


def scalar_source(src: str, rename: Mapping[str, str]) -> str:
    """Python source of expression ``src`` over scalars, with variables renamed."""
    tree = copy.deepcopy(parse(src))
    tree = ast.fix_missing_locations(_Scalar(rename).visit(tree))
    return ast.unparse(tree.body)
