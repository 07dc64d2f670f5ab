"""The forms of the fused sweeps (:mod:`divergences.fused`): expressions printed for a loop
that vectorises along V, off the edges of the domain, and unswitched on the parameters' cases.

- :class:`_Branchless` prints an expression with selects for ``where`` and the branch-free
  twins of the helpers (:mod:`divergences.vecmath`), log-space forms where a coordinate's
  log-probability is known, and ``exp(p log a)`` for a run-time power where no coordinate is 0
  (one canonical form for equal powers written apart: computed once);
- :func:`off_the_edges` drops the zero rules and the one-sided limits at a zero, which a
  separate pass over the coordinates at 0 computes;
- :func:`_unswitched` puts one loop in each case of a condition on the parameters only
  (``alpha == 1``), so that no loop carries the forms of another case.
"""

from __future__ import annotations

import ast
import copy
import math
from typing import Any

from .expr import parse
from .kernels.codegen import _Scalar
from .limits import _linear
from .vecmath import TWINS

__all__ = ["off_the_edges"]

#: the names of the coordinates (probabilities): 0 is the edge of their domain
_COORDINATES = ("x", "y")


def _on_parameters_only(cond: ast.expr) -> bool:
    """Whether the condition ``cond`` names no coordinate (the same at every k)."""
    return not any(isinstance(n, ast.Name) and n.id in _COORDINATES for n in ast.walk(cond))


def _choose(src: str, pick: Any) -> str:
    """``src`` with each ``where(cond, a, b)`` for which ``pick(cond)`` is 1 or 2 replaced by
    ``a`` or ``b`` (the others kept)."""

    class _Choose(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            if isinstance(node.func, ast.Name) and node.func.id == "where":
                branch = pick(node.args[0])
                if branch is not None:
                    return self.visit(node.args[branch])
            self.generic_visit(node)
            return node

    return ast.unparse(_Choose().visit(copy.deepcopy(parse(src).body)))


def _printed(form: dict[str, float]) -> ast.expr:
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


def _log_diff(la: str, lb: str | None) -> ast.expr:
    """``la - lb`` (``la`` without ``lb``)."""
    lg: ast.expr = ast.Name(la, ast.Load())
    return lg if lb is None else ast.BinOp(lg, ast.Sub(), ast.Name(lb, ast.Load()))


class _Branchless(_Scalar):
    """The Numba printer with ``where`` as a select and the helpers' branch-free twins;
    with ``logs`` (variable -> the name of its logarithm), the log-space forms: ``log(x)``
    is the log-probability itself, ``xlogy(a, x)`` is ``a * log x`` and ``kl_elem(x, y)``
    takes both logarithms (finite where a probability underflowed and its log did not)."""

    def __init__(
        self, rename: dict[str, str], logs: dict[str, str] | None = None, positive: bool = False
    ) -> None:
        super().__init__(rename)
        self.logs = logs or {}
        self.positive = positive

    def _log_of(self, node: ast.expr) -> str | None:
        return self.logs.get(node.id) if isinstance(node, ast.Name) else None

    def _log_of_scaled(self, node: ast.expr) -> tuple[float, str] | None:
        """(c, name of log x) for ``c * x`` or ``x * c`` with a positive constant c."""
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
            return None
        for a, b in ((node.left, node.right), (node.right, node.left)):
            lx = self._log_of(b)
            if isinstance(a, ast.Constant) and isinstance(a.value, (int, float)) and lx:
                return (float(a.value), lx) if a.value > 0 else None
        return None

    def visit_Call(self, node: ast.Call) -> ast.AST:  # noqa: N802 (ast's name)
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        logs = [self._log_of(a) for a in node.args]
        if name == "log" and logs[0]:
            return ast.Name(logs[0], ast.Load())
        scaled = self._log_of_scaled(node.args[0])
        if name == "log" and scaled is not None:
            # log(c * x) = log(c) + log x, the log-probability itself (one log fewer)
            c, lx = scaled
            return ast.BinOp(ast.Constant(math.log(c)), ast.Add(), ast.Name(lx, ast.Load()))
        if name == "exp" and self.positive:
            # exp(c log1p((a - b) / b)) = exp(c (log a - log b)): an exponential's relative
            # error is its exponent's absolute error, which the log-probabilities keep small
            arg = node.args[0]
            mult = isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mult)
            for c, lg in [(arg.left, arg.right), (arg.right, arg.left)] if mult else [
                (ast.Constant(1.0), arg)
            ]:
                names = self._log1p_of_ratio(lg)
                if names is not None:
                    return self._exp_of(self.visit(c), *names)
        if name == "log" and self.positive and isinstance(node.args[0], ast.BinOp):
            pw = node.args[0]
            names = self._log_names(pw.left) if isinstance(pw.op, ast.Pow) else None
            if names is not None:
                # log(a ** p) = p log a (no power formed and its logarithm taken)
                return ast.BinOp(self.visit(pw.right), ast.Mult(), _log_diff(*names))
        if name == "kl_elem" and all(logs):
            self.generic_visit(node)
            node.func = ast.Name("kl_elem_l", ast.Load())
            node.args += [ast.Name(n, ast.Load()) for n in logs]
            return node
        if name == "xlogy" and logs[1]:
            self.generic_visit(node)
            a = node.args[0]
            prod = ast.BinOp(a, ast.Mult(), ast.Name(logs[1], ast.Load()))
            test = ast.Compare(copy.deepcopy(a), [ast.Eq()], [ast.Constant(0.0)])
            return ast.Call(ast.Name("_where", ast.Load()), [test, ast.Constant(0.0), prod], [])
        if name == "where" and _on_parameters_only(node.args[0]):
            # a condition on parameters only (a limit form: alpha == -1) is the same for every
            # coordinate: a branch (the loop is unswitched), not a select that evaluates the
            # unchosen forms' powers for every coordinate
            return super().visit_Call(node)
        if name == "where" or name in TWINS:
            self.generic_visit(node)
            node.func = ast.Name("_where" if name == "where" else TWINS[name], ast.Load())
            return node
        return super().visit_Call(node)

    def _exp_of(self, p: ast.expr, la: str, lb: str | None) -> ast.AST:
        """``exp(p (la - lb))`` (``exp(p la)`` without ``lb``) in one canonical form where
        ``p`` is a linear form of the parameters: the later name first, the exponent
        printed by :func:`_printed`, so that equal powers written apart (``(1 - alpha)
        (log y - log x)``, ``(alpha - 1) (log x - log y)``, ``(alpha - 1 - 1 + 1) ...``) are
        one expression, which the loop computes once (Renyi's sweep: 5 exponentials -> 3,
        24.1 -> 18.7 ms at 256 x 8000)."""
        form = _linear(p)
        if form is not None and any(k and not k.startswith("par_") for k in form):
            form = None  # the parameters' linear forms only
        if lb is not None and la < lb and form is not None:
            la, lb, form = lb, la, {k: -v for k, v in form.items()}
        if form is not None:
            p = _printed(form)
        prod = ast.BinOp(p, ast.Mult(), _log_diff(la, lb))
        return ast.Call(ast.Name("exp_v", ast.Load()), [prod], [])

    def _log1p_of_ratio(self, node: ast.expr) -> tuple[str, str] | None:
        """(log a, log b) for ``log1p(div0(a - b, b))`` (or ``(a - b) / b``) of coordinates
        whose logarithms are known, else None.  (``log(a / b)`` inside an exponential stays:
        an ``expm1`` of the same exponent shares its exponential.)"""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            return None
        pair = self._pair(node.args[0]) if node.func.id == "log1p" else None
        if pair is None:
            return None
        num, den = pair
        if not (isinstance(num, ast.BinOp) and isinstance(num.op, ast.Sub)):
            return None
        if ast.dump(num.right) != ast.dump(den):
            return None
        la, lb = self._log_of(num.left), self._log_of(den)
        return (la, lb) if la and lb else None

    @staticmethod
    def _pair(node: ast.expr) -> list[ast.expr] | None:
        """[numerator, denominator] of ``a / b`` or ``div0(a, b)``, else None."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return node.args if node.func.id == "div0" else None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return [node.left, node.right]
        return None

    def _log_names(self, node: ast.expr) -> tuple[str, str | None] | None:
        """The name of the logarithm of a coordinate whose log-probability is known
        (``(log a, None)``), or the names for the ratio ``div0(a, b)`` or ``a / b`` of two such
        coordinates (``(log a, log b)``), else None."""
        lx = self._log_of(node)
        if lx:
            return lx, None
        pair = self._pair(node)
        if pair is not None:
            la, lb = (self._log_of(a) for a in pair)
            if la and lb:
                return la, lb
        return None

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:  # noqa: N802 (ast's name)
        if (
            self.positive
            and isinstance(node.op, ast.Pow)
            and not isinstance(node.right, ast.Constant)
            and (names := self._log_names(node.left)) is not None
        ):
            # a coordinate (or a ratio of two) to a run-time power where no coordinate is 0:
            # exp(p log a) from the log-probabilities (one log fewer; exact for logits)
            return self._exp_of(self.visit(node.right), *names)
        new = super().visit_BinOp(node)
        if isinstance(new, ast.Call) and isinstance(new.func, ast.Name) and new.func.id == "ipow":
            new.func = ast.Name("pow_v", ast.Load())  # a run-time exponent, vectorised
        return new


def _src(
    expr: str, rename: dict[str, str], logs: dict[str, str] | None = None, positive: bool = False
) -> str:
    """``expr`` printed for a sweep (``positive``: where no coordinate is 0)."""
    tree = copy.deepcopy(parse(expr))
    tree = ast.fix_missing_locations(_Branchless(rename, logs, positive).visit(tree))
    return ast.unparse(tree.body)


def _zero_test(node: ast.expr) -> str | None:
    """The coordinate ``c`` of a condition ``c == 0`` (or ``-c == 0``), else None."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return None
    if not isinstance(node.ops[0], ast.Eq):
        return None
    a, b = node.left, node.comparators[0]
    if isinstance(a, ast.Constant):
        a, b = b, a
    if isinstance(a, ast.UnaryOp) and isinstance(a.op, ast.USub):
        a = a.operand
    if isinstance(b, ast.Constant) and b.value == 0 and isinstance(a, ast.Name):
        return a.id if a.id in _COORDINATES else None
    return None


def off_the_edges(src: str) -> tuple[str, frozenset[str]]:
    """``src`` where no coordinate is 0, and the coordinates whose 0 it tests.

    Every ``where(c == 0, a, b)`` on a coordinate ``c`` becomes ``b``: a term's zero rules
    and a gradient's one-sided limits at a zero (:func:`divergences.symbolic.derivative`)
    leave the sweeps, which would compute them for every coordinate (every branch of a
    select is evaluated), and are computed by a pass over the coordinates at 0 only.

    Examples
    --------
    >>> off_the_edges("where(x == 0, 0, x * log(x / y))")
    ('x * log(x / y)', frozenset({'x'}))
    """
    edges: set[str] = set()

    def pick(cond: ast.expr) -> int | None:
        c = _zero_test(cond)
        if c is None:
            return None
        edges.add(c)
        return 2

    plain = _choose(src, pick)
    return plain, frozenset(edges)


#: the most conditions on parameters a sweep is unswitched on (at most 2**4 loops)
_MAX_UNSWITCH = 4


def _parameter_condition(srcs: list[str]) -> str | None:
    """The first condition of a ``where`` on parameters only (no coordinate) in ``srcs``."""
    for src in srcs:
        for n in ast.walk(parse(src).body):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "where":
                if _on_parameters_only(n.args[0]):
                    return ast.unparse(n.args[0])
    return None


def _decide(src: str, cond: str, holds: bool) -> str:
    """``src`` with every ``where(cond, a, b)`` replaced by ``a`` (``holds``) or ``b``."""
    branch = 1 if holds else 2
    return _choose(src, lambda c: branch if ast.unparse(c) == cond else None)


def _unswitched(
    srcs: dict[str, str], emit: Any, rename: dict[str, str], depth: int = 0
) -> list[str]:
    """``emit(srcs)`` (a loop's lines) inside an ``if``/``else`` on each condition over the
    parameters only (``alpha == 0``): one loop per case, each free of the branches of the
    others (LLVM's own unswitching gives up on big loops, which then stay scalar)."""
    cond = _parameter_condition(list(srcs.values()))
    if cond is None or depth == _MAX_UNSWITCH:
        return emit(srcs)
    out = [f"if {_src(cond, rename)}:"]
    for holds in (True, False):
        if not holds:
            out.append("else:")
        decided = {k: _decide(v, cond, holds) for k, v in srcs.items()}
        out += ["    " + line for line in _unswitched(decided, emit, rename, depth + 1)]
    return out
