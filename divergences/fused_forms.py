"""The forms of the fused sweeps (:mod:`divergences.fused`): expressions printed for a loop
that vectorises along V, off the edges of the domain, and unswitched on the parameters' cases.

- :class:`_Branchless` prints an expression with selects for ``where`` and the branch-free
  twins of the helpers (:mod:`divergences.vecmath`), log-space forms where a coordinate's
  log-probability is known, and, where no coordinate is 0, ``exp(p log a)`` for a run-time
  power (one canonical form for equal powers written apart: computed once), powers and
  coordinates in a product merged (:mod:`divergences.fused_powers`), and ``log1p``,
  ``expm1`` and ``powm1`` of the coordinates' ratio given the logarithm and the power the
  loop has (:func:`~divergences.vecmath.powm1_le`);
- :func:`sweep_sources` prints a loop's statements twice: the second time a coordinate may
  go into a power that the first printing computes;
- :func:`off_the_edges` drops the zero rules, the one-sided limits at a zero and the
  branches of rare conditions (``rare``), which a separate pass over the coordinates at 0
  or where a rare condition holds computes;
- :func:`_unswitched` puts one loop in each case of a condition on the parameters only
  (``alpha == 1``), so that no loop carries the forms of another case.
"""

from __future__ import annotations

import ast
import copy
import math
from typing import Any

from .expr import parse, rare_condition
from .fused_powers import (
    merged_product,
    parameters_form,
    powers_in,
    printed_exp,
    printed_exponent,
    ratio_exponent,
    simplified_sum,
    simplified_where,
)
from .kernels.codegen import _Scalar
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
        self,
        rename: dict[str, str],
        logs: dict[str, str] | None = None,
        positive: bool = False,
        known: set[str] | None = None,
    ) -> None:
        super().__init__(rename)
        self.logs = logs or {}
        self.positive = positive
        self.known = known
        # the printed coordinate -> the name of its logarithm
        self.coords = {rename.get(v, v): lg for v, lg in self.logs.items()}
        self.coord_of = {lg: c for c, lg in self.coords.items()}

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
        if self.positive:
            through = self._through_logs(name, node)
            if through is not None:
                return through
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
            if name == "where" and self.positive:
                simpler = simplified_where(node, self.coords)
                if simpler is not node:
                    return simpler
            node.func = ast.Name("_where" if name == "where" else TWINS[name], ast.Load())
            return node
        return super().visit_Call(node)

    def _through_logs(self, name: str, node: ast.Call) -> ast.AST | None:
        """Where no coordinate is 0: the forms below from the log-probabilities ``la``,
        ``lb`` of coordinates ``a``, ``b`` (None for any other call), so that each run-time
        power is computed once for all its uses:

        - ``exp(c log1p((a - b) / b))``, ``exp(c log(a / b))``, ``exp(c log a)``: one
          canonical ``exp(c (la - lb))`` (:meth:`_exp_of`; an exponential's relative error
          is its exponent's absolute error, which the log-probabilities keep small);
        - ``expm1(c log(a / b))``: the Taylor polynomial near 0, that exponential beyond;
        - ``log1p((a - b) / b)``: Kahan's form for a ratio within 1/2 of 1, ``la - lb``
          beyond; ``log(a / b)``: ``la - lb``;
        - ``powm1((a - b) / b, c)``: from both of the above.
        """
        arg = node.args[0]
        if name in ("exp", "expm1"):
            mult = isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mult)
            for c, lg in [(arg.left, arg.right), (arg.right, arg.left)] if mult else [
                (ast.Constant(1.0), arg)
            ]:
                names = self._log_of_call(lg, name == "exp")
                if names is None:
                    continue
                p = self.visit(c)
                e = self._exp_of(p, *names)
                if name == "exp":
                    return e
                if names[1] is not None:
                    # expm1(c log(a / b)) = powm1((a - b) / b, c), with Kahan's log1p near
                    # a = b (as accurate, and one expression with powm1's of the same c)
                    a, b = (ast.Name(self.coord_of[n], ast.Load()) for n in names)
                    diff = ast.BinOp(a, ast.Sub(), b)
                    r = ast.Call(ast.Name("div0_v", ast.Load()), [diff, copy.deepcopy(b)], [])
                    return self._powm1_le(r, p, names)
                form = parameters_form(p)
                if form is None:
                    t = ast.BinOp(copy.deepcopy(p), ast.Mult(), _log_diff(*names))
                else:
                    t = printed_exponent(ratio_exponent(form, *names))
                return ast.Call(ast.Name("expm1_e", ast.Load()), [t, e], [])
            return None
        if name == "log":
            names = self._log_of_call(node, False)
            return None if names is None or names[1] is None else _log_diff(*names)
        names = self._rel_diff_names(arg) if name in ("log1p", "powm1") else None
        if names is None:
            return None
        r = self.visit(arg)
        if name == "log1p":
            return ast.Call(ast.Name("log1p_l", ast.Load()), [r, _log_diff(*names)], [])
        return self._powm1_le(r, self.visit(node.args[1]), names)

    def _powm1_le(self, r: ast.expr, p: ast.expr, names: tuple[str, str]) -> ast.Call:
        """``powm1(r, p)`` for ``r = (a - b) / b`` given ``log a - log b`` and the power
        ``exp(p (log a - log b))`` (:func:`~divergences.vecmath.powm1_le`)."""
        args = [r, copy.deepcopy(p), _log_diff(*names), self._exp_of(p, *names)]
        return ast.Call(ast.Name("powm1_le", ast.Load()), args, [])

    def _exp_of(self, p: ast.expr, la: str, lb: str | None) -> ast.Call:
        """``exp(p (la - lb))`` (``exp(p la)`` without ``lb``), printed canonically
        (:func:`~divergences.fused_powers.printed_exp`) where ``p`` is a linear form of the
        parameters, so that equal powers written apart (``(1 - alpha) (log y - log x)``,
        ``(alpha - 1) (log x - log y)``) are one expression, which the loop computes once."""
        form = parameters_form(p)
        if form is not None:
            return printed_exp(ratio_exponent(form, la, lb))
        prod = ast.BinOp(copy.deepcopy(p), ast.Mult(), _log_diff(la, lb))
        return ast.Call(ast.Name("exp_v", ast.Load()), [prod], [])

    def _log_of_call(self, node: ast.expr, log1p: bool) -> tuple[str, str | None] | None:
        """The logarithms' names for ``log(a)`` or ``log(a / b)`` (and ``log1p((a - b) / b)``
        where ``log1p``), else None."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            return None
        if node.func.id == "log1p" and log1p:
            return self._rel_diff_names(node.args[0])
        return self._log_names(node.args[0]) if node.func.id == "log" else None

    def _rel_diff_names(self, node: ast.expr) -> tuple[str, str] | None:
        """(log a, log b) for ``div0(a - b, b)`` (or ``(a - b) / b``) of coordinates whose
        logarithms are known, else None."""
        pair = self._pair(node)
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
        if self.positive and isinstance(new, ast.BinOp) and isinstance(new.op, ast.Mult):
            return merged_product(new, self.coords, self.known)
        if self.positive and isinstance(new, ast.BinOp) and isinstance(new.op, ast.Div):
            names = {n.id for n in ast.walk(new.right) if isinstance(n, ast.Name)}
            varying = any(
                isinstance(n, ast.Name) and not n.id.startswith("par_") for n in ast.walk(new.left)
            )
            if varying and names and all(n.startswith("par_") for n in names):
                # a division by the parameters: a product by their reciprocal, which the
                # loop computes once (a division a coordinate is 4-8 times a product)
                one = ast.BinOp(ast.Constant(1.0), ast.Div(), new.right)
                return ast.BinOp(new.left, ast.Mult(), one)
        if self.positive and isinstance(new, ast.BinOp):
            return simplified_sum(new, self.coords)
        return new


def _src(
    expr: str,
    rename: dict[str, str],
    logs: dict[str, str] | None = None,
    positive: bool = False,
    known: set[str] | None = None,
) -> str:
    """``expr`` printed for a sweep (``positive``: where no coordinate is 0; ``known``: the
    powers the sweep computes anyway)."""
    tree = copy.deepcopy(parse(expr))
    tree = ast.fix_missing_locations(_Branchless(rename, logs, positive, known).visit(tree))
    return ast.unparse(tree.body)


def sweep_sources(
    exprs: list[str], rename: dict[str, str], logs: dict[str, str], positive: bool
) -> list[str]:
    """``exprs``, the statements of one loop, printed (:func:`_src`); where no coordinate
    is 0, twice: the second time a coordinate may go into a power that the first printing
    computes (:func:`~divergences.fused_powers.merged_product`)."""
    first = [_src(e, rename, logs, positive) for e in exprs]
    if not positive:
        return first
    known = powers_in(first)
    return [_src(e, rename, logs, positive, known) for e in exprs]


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


def off_the_edges(src: str) -> tuple[str, frozenset[str], frozenset[str]]:
    """``src`` where no coordinate is 0 and no rare condition holds, the coordinates whose
    0 it tests, and the rare conditions (sources).

    Every ``where(c == 0, a, b)`` on a coordinate ``c`` becomes ``b``: a term's zero rules
    and a gradient's one-sided limits at a zero (:func:`divergences.symbolic.derivative`)
    leave the sweeps, which would compute them for every coordinate (every branch of a
    select is evaluated), and are computed by a pass over the coordinates at 0 only. So does
    every ``where(rare(c), a, b)`` (a form for ratios beyond float64's range, say): the pass
    over the edges takes the coordinates where ``c`` holds too.

    Examples
    --------
    >>> off_the_edges("where(x == 0, 0, x * log(x / y))")
    ('x * log(x / y)', frozenset({'x'}), frozenset())
    >>> off_the_edges("where(rare(abs(log(x / y)) > 600), x - y, y * powm1((x - y) / y, 2))")
    ('y * powm1((x - y) / y, 2)', frozenset(), frozenset({'abs(log(x / y)) > 600'}))
    """
    edges: set[str] = set()
    rares: set[str] = set()

    def pick(cond: ast.expr) -> int | None:
        rare = rare_condition(cond)
        if rare is not None:
            rares.add(ast.unparse(rare))
            return 2
        c = _zero_test(cond)
        if c is None:
            return None
        edges.add(c)
        return 2

    plain = _choose(src, pick)
    return plain, frozenset(edges), frozenset(rares)


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
