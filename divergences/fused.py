"""Fused row-wise loss kernels: logits (or log-probabilities, or probabilities) in, the value
and the gradient with respect to the input out, one generated Numba kernel per measure.

For a loss ``measure(P = target, Q = input)`` (``wrt="y"``; ``wrt="x"`` is ``reverse=True``:
the input is the first argument) on (B, V) rows, the generated kernel runs per row (rows in
parallel, one contiguous block of rows per thread, a few float64 scratch rows per thread):

1. for each side given as logits: the maximum of ``z / T``, then ``e_k = exp(z_k / T - max)``
   and their sum ``s`` in one sweep (the normaliser: ``log_sum = max + log(s)``); the
   probabilities are ``e_k / s``, the log-probabilities ``z_k / T - log_sum`` (exact, never
   the log of an underflowed probability);
2. one sweep evaluating the accumulator terms of the definition on ``(x_k, y_k)`` and, where
   the finalize is affine in the accumulators (KL, JS, TVD, ... : its partial derivatives are
   constants), the gradient term ``g_k = sum_acc dF/dacc * q dT_acc/dq (x_k, y_k)`` in the
   same sweep (in a sweep of its own where both together hold several run-time powers: one
   big loop vectorised five times slower than two); otherwise a second sweep after the
   finalize;
3. the chain rule to the input's space: logits ``(g_k - q_k sum_j g_j) / T``, log-probabilities
   ``g_k``, probabilities ``dF/dq_k`` itself.

``q dT/dq`` comes from :func:`divergences.symbolic.scaled_derivative` (``-p`` for KL's term,
never ``q * (-p / q)``), so an underflowed probability (logits 1000 apart) gives the right
finite gradient.  Every expression is printed with branch-free twins of the helpers
(:mod:`divergences.vecmath`: selects for ``where`` and the zero rules, a vectorisable exp,
log, log1p, expm1 and run-time power), so that the sweeps vectorise along V (a run-time
power ``a ** p`` is ``exp(p log a)`` there: within about ``|p log a|`` times 2**-52 of
the C library's pow, not 1 ulp; the general path keeps pow); the sums are taken over the
scratch rows by a separate loop compiled with re-association (a vector reduction), the
values in float64 whatever the input's precision, the gradient written in the input's dtype
(float32 in, float32 out).  Measures with a max/min accumulator (Chebyshev) are not fused:
the caller uses :func:`divergences.spaces.rowwise`.
"""

from __future__ import annotations

import ast
import copy
import math
import re
from types import ModuleType
from typing import Any

import numpy as np

from .expr import parse
from .kernels.codegen import HELPER_IMPORTS, _Scalar
from .spec import Measure
from .vecmath import TWINS

__all__ = ["fusable", "loss_rows", "module_source", "resolve", "rowwise_input"]

SPACES = ("probs", "log_probs", "logits")


class _Branchless(_Scalar):
    """The Numba printer with ``where`` as a select and the helpers' branch-free twins;
    with ``logs`` (variable -> the name of its logarithm), the log-space forms: ``log(x)``
    is the log-probability itself, ``xlogy(a, x)`` is ``a * log x`` and ``kl_elem(x, y)``
    takes both logarithms (finite where a probability underflowed and its log did not)."""

    def __init__(self, rename: dict[str, str], logs: dict[str, str] | None = None) -> None:
        super().__init__(rename)
        self.logs = logs or {}

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
        if name == "where" and not any(
            isinstance(n, ast.Name) and n.id in ("x", "y") for n in ast.walk(node.args[0])
        ):
            # a condition on parameters only (a limit form: alpha == -1) is the same for every
            # coordinate: a branch (the loop is unswitched), not a select that evaluates the
            # unchosen forms' powers for every coordinate
            return super().visit_Call(node)
        if name == "where" or name in TWINS:
            self.generic_visit(node)
            node.func = ast.Name("_where" if name == "where" else TWINS[name], ast.Load())
            return node
        return super().visit_Call(node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:  # noqa: N802 (ast's name)
        new = super().visit_BinOp(node)
        if isinstance(new, ast.Call) and isinstance(new.func, ast.Name) and new.func.id == "ipow":
            new.func = ast.Name("pow_v", ast.Load())  # a run-time exponent, vectorised
        return new


def _src(expr: str, rename: dict[str, str], logs: dict[str, str] | None = None) -> str:
    tree = copy.deepcopy(parse(expr))
    tree = ast.fix_missing_locations(_Branchless(rename, logs).visit(tree))
    return ast.unparse(tree.body)


def fusable(measure: Measure, zero: str) -> bool:
    """Whether ``measure`` has a fused loss kernel (every accumulator a sum)."""
    return all(acc.reduce == "sum" for acc in measure.rule(zero).accumulators.values())


def _too_big(term: str, grad: str) -> bool:
    """Whether the terms and the gradient terms are too big to share one loop: past a few
    run-time powers, LLVM's vectorised loop over both ran 5-6 times slower than two loops
    over one each (amari_alpha at 64 x 8000: 162-200 ns an element against 32), so the
    measures with run-time powers take two loops."""
    return sum(term.count(f) + grad.count(f) for f in ("pow_v(", "powm1_v(")) > 2


def _affine(rule: Any, dfinal: dict[str, str]) -> bool:
    names = set(rule.accumulators)
    return not any(set(re.findall(r"[A-Za-z_]\w*", src)) & names for src in dfinal.values())


_HEAD = """\
# Generated by divergences from the definition of {name!r} (zero={zero!r}): fused loss,
# input {inp} ({wrt}), target {tgt}. Do not edit.
import math

import numba
import numpy as np

from divergences.kernels.numba_helpers import {helpers}, _where
from divergences.vecmath import {twins}

_MAP = dict(error_model="numpy", nogil=True, fastmath={{"contract", "nsz"}})
_SUM = dict(error_model="numpy", nogil=True, fastmath={{"contract", "nsz", "reassoc"}})
NSCRATCH = {nscratch}


@numba.njit(inline="always", error_model="numpy")
def _mul0(g, t):
    # g * t, 0 where either factor is 0 (an infinite factor times a vanishing one)
    return _where((g == 0.0) | (t == 0.0), 0.0, g * t)


@numba.njit(**_SUM)
def _sum(a, n):
    s = 0.0
    for k in range(n):
        s += a[k]
    return s


@numba.njit(error_model="numpy", nogil=True, fastmath={{"nnan", "nsz", "reassoc"}})
def _max(z, inv, n):
    # eight running maxima (a vector of them): the loop vectoriser does not take the
    # select-based reduction
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = -math.inf
    full = n - n % 8
    for k in range(0, full, 8):
        m0 = max(m0, np.float64(z[k]))
        m1 = max(m1, np.float64(z[k + 1]))
        m2 = max(m2, np.float64(z[k + 2]))
        m3 = max(m3, np.float64(z[k + 3]))
        m4 = max(m4, np.float64(z[k + 4]))
        m5 = max(m5, np.float64(z[k + 5]))
        m6 = max(m6, np.float64(z[k + 6]))
        m7 = max(m7, np.float64(z[k + 7]))
    for k in range(full, n):
        m0 = max(m0, np.float64(z[k]))
    m = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
    return m * inv


@numba.njit(**_SUM)
def _bad_probs(z, n):
    # a probability row must be finite and non-negative: count the others (NaN included)
    c = 0.0
    for k in range(n):
        v = np.float64(z[k])
        c += _where((v >= 0.0) & (v < math.inf), 0.0, 1.0)
    return c


@numba.njit(**_MAP)
def _exp_shift(z, inv, m, out, n):
    for k in range(n):
        out[k] = exp_v(np.float64(z[k]) * inv - m)


@numba.njit(**_MAP)
def _normalise(z, inv, e, n):
    \"\"\"e[k] = exp(z[k] * inv - max); returns (1 / sum(e), log of the normaliser).\"\"\"
    m = _max(z, inv, n)
    m = m if abs(m) < math.inf else 0.0  # a row of -inf only is 0 / 0 = NaN, reported
    _exp_shift(z, inv, m, e, n)
    s = _sum(e, n)
    return 1.0 / s, m + math.log(s)
"""

_SWEEP = """

@numba.njit(**_MAP)
def _sweep{tag}(zi, zt, ei, et, S, inv, ri, rt, li, lt, n, _eps, _d{gargs}{params}):
    for k in range(n):
{load}
{body}
"""

_ROW = """

@numba.njit(**_MAP)
def _to_input(S, ei, ri, gq, inv, gout, n):
    # inv: 1 / temperature times the gradient's scale (the reduction's weight)
    for k in range(n):
{to_input}


@numba.njit(**_MAP)
def row(zi, zt, gout, S, inv, scale, _eps{params}):
    \"\"\"The value of one row pair; writes ``scale`` times the gradient with respect to zi
    into gout.\"\"\"
    n = zi.shape[0]
    _d = np.float64(n)
    ei = S[0]
    et = S[1]
    ri = 1.0
    rt = 1.0
    li = 0.0
    lt = 0.0
{prologue}
    _sweep1(zi, zt, ei, et, S, inv, ri, rt, li, lt, n, _eps, _d{gzero}{params})
{sums}
    _value = {finalize}
{dfinal}
{second}
    gq = {gq_sum}
    _to_input(S, ei, ri, gq, {gscale}, gout, n)
    return _value


@numba.njit(parallel=True, error_model="numpy", nogil=True)
def loss(ZI, ZT, keep, out, GOUT, nt, inv, scale, _eps{params}):
    \"\"\"out[i] = value of row i, GOUT[i] = ``scale`` times its gradient w.r.t. ZI[i] (the
    weight of a reduction, applied before the gradient is rounded to ZI's dtype, so that a
    loss's backward pass needs no second sweep); rows with keep[i] = 0
    are not read (value 0, gradient 0).  Returns the index of the first row whose
    probabilities are not finite and non-negative, or -1.\"\"\"
    m, n = ZI.shape
    bad = np.full(nt, -1, dtype=np.int64)
    for t in numba.prange(nt):
        S = np.empty((NSCRATCH, n), dtype=np.float64)
        for i in range(t * m // nt, (t + 1) * m // nt):
            if keep[i] == 0:
                out[i] = 0.0
                GOUT[i, :] = 0.0
                continue
            if {check} and bad[t] < 0:
                bad[t] = i
            out[i] = row(ZI[i], ZT[i], GOUT[i], S, inv, scale, _eps{params})
    first = -1
    for t in range(nt):
        if bad[t] >= 0 and (first < 0 or bad[t] < first):
            first = bad[t]
    return first
"""


def _load(space: str, side: str) -> list[str]:
    """Statements giving the probability (and log-probability) of ``side`` at k."""
    z, e, r, lg = ("zi", "ei", "ri", "li") if side == "i" else ("zt", "et", "rt", "lt")
    if space == "logits":
        return [
            f"        p{side} = {e}[k] * {r}",
            f"        lp{side} = np.float64({z}[k]) * inv - {lg}",
        ]
    if space == "log_probs":
        return [f"        lp{side} = np.float64({z}[k])", f"        p{side} = exp_v(lp{side})"]
    return [f"        p{side} = np.float64({z}[k])", f"        lp{side} = log_v(p{side})"]


def module_source(measure: Measure, zero: str, inp: str, tgt: str, wrt: str) -> str:
    """Source of the fused loss module of ``measure`` (see the module docstring).

    ``inp``/``tgt``: the spaces of the input and the target; ``wrt``: ``"y"`` when the input
    is the measure's second argument (Q), ``"x"`` when it is the first (``reverse``).
    """
    from .symbolic import derivative, scaled_derivative

    rule = measure.rule(zero)
    accs = list(rule.accumulators)
    pnames = [p.name for p in measure.params]
    rename = {"eps": "_eps", "d": "_d"} | {p: f"par_{p}" for p in pnames}
    rename |= {a: f"acc_{a}" for a in accs}
    xy = {"x": "pt", "y": "pi"} if wrt == "y" else {"x": "pi", "y": "pt"}
    term_ren = rename | xy
    logs = {v: "l" + n for v, n in xy.items()}
    dfinal = {a: derivative(rule.finalize, a) for a in accs}
    affine = _affine(rule, dfinal)
    grad_of = derivative if inp == "probs" else scaled_derivative
    dterm = {a: grad_of(rule.accumulators[a].term, wrt) for a in accs}
    # scratch rows: e of the input, e of the target, the terms (one row per accumulator, or
    # one row of sum_acc dF/dacc * term where F is affine), the gradient terms
    nacc = 1 if affine else len(accs)
    gcol = 2 + nacc
    params = "".join(f", par_{p}" for p in pnames)
    load = _load(inp, "i") + _load(tgt, "t")
    gsum = " + ".join(f"_mul0(g_{a}, {_src(dterm[a], term_ren, logs)})" for a in accs)
    terms = {a: _src(rule.accumulators[a].term, term_ren, logs) for a in accs}
    if affine:
        body = ["        S[2, k] = " + " + ".join(f"_mul0(g_{a}, {terms[a]})" for a in accs)]
    else:
        body = [f"        S[{2 + j}, k] = {terms[a]}" for j, a in enumerate(accs)]
    gbody = f"        S[{gcol}, k] = {gsum}"
    gargs = "".join(f", g_{a}" for a in accs)
    # an affine finalize knows its partials before the sweep: the gradient terms can share
    # the terms' loop, unless the two together are too big for the vectoriser
    together = affine and not _too_big(body[0], gbody)
    if together:
        body.append(gbody)
    sweeps = [
        _SWEEP.format(
            tag="1",
            gargs=gargs if affine else "",
            params=params,
            load="\n".join(load),
            body="\n".join(body),
        )
    ]
    second = ""
    if not together:
        sweeps.append(
            _SWEEP.format(tag="2", gargs=gargs, params=params, load="\n".join(load), body=gbody)
        )
        second = f"    _sweep2(zi, zt, ei, et, S, inv, ri, rt, li, lt, n, _eps, _d{gargs}{params})"
    prologue = []
    if inp == "logits":
        prologue.append("    ri, li = _normalise(zi, inv, ei, n)")
    if tgt == "logits":
        prologue.append("    rt, lt = _normalise(zt, inv, et, n)")
    dfinal_src = [f"    g_{a} = {_src(dfinal[a], rename)}" for a in accs]
    if affine:
        # the partials are constants: known before the sweep that uses them
        prologue += dfinal_src
        dfinal_src = []
    if inp == "logits":
        to_input = [
            "        q = ei[k] * ri",
            f"        gout[k] = (S[{gcol}, k] - _where(q == 0.0, 0.0, q * gq)) * inv",
        ]
        gq_sum = f"_sum(S[{gcol}], n)"
    else:
        to_input = [f"        gout[k] = S[{gcol}, k] * inv"]
        gq_sum = "0.0"
    if affine:
        # F(acc) = F(0) + sum_acc dF/dacc acc: the finalize at zero accumulators plus the sum
        sums = "\n".join(f"    acc_{a} = 0.0" for a in accs)
        finalize = f"({_src(rule.finalize, rename)}) + _sum(S[2], n)"
    else:
        sums = "\n".join(f"    acc_{a} = _sum(S[{2 + j}], n)" for j, a in enumerate(accs))
        finalize = _src(rule.finalize, rename)
    check = []
    if inp == "probs":
        check.append("_bad_probs(ZI[i], n) > 0")
    if tgt == "probs":
        check.append("_bad_probs(ZT[i], n) > 0")
    twins = sorted({*TWINS.values(), "kl_elem_l", "pow_v"})
    helpers = HELPER_IMPORTS
    src = _HEAD.format(
        name=measure.name,
        zero=zero,
        inp=inp,
        tgt=tgt,
        wrt=wrt,
        helpers=", ".join(helpers),
        twins=", ".join(twins),
        nscratch=gcol + 1,
    )
    src += "".join(sweeps)
    src += _ROW.format(
        to_input="\n".join(to_input),
        params=params,
        prologue="\n".join(prologue) or "    pass",
        gzero=gargs if affine else "",
        sums=sums,
        finalize=finalize,
        dfinal="\n".join(dfinal_src),
        second=second,
        gq_sum=gq_sum,
        gscale="inv * scale" if inp == "logits" else "scale",
        check=" or ".join(check) or "False",
    )
    return src


_MODULES: dict[tuple[Any, ...], ModuleType] = {}


def kernels(measure: Measure, zero: str, inp: str, tgt: str, wrt: str) -> ModuleType:
    """The generated fused loss module (built once per process, cached on disk)."""
    from .kernels.kernel_cache import load_generated

    rule = zero if measure.epsilon is not None else "strict"
    key = (id(measure), rule, inp, tgt, wrt)
    mod = _MODULES.get(key)
    if mod is None:
        mod = load_generated("loss_", module_source(measure, rule, inp, tgt, wrt))
        _MODULES[key] = mod
    return mod


def loss_rows(
    measure: Measure,
    inp: np.ndarray,
    tgt: np.ndarray,
    *,
    input_space: str,
    target_space: str,
    temperature: float,
    reverse: bool,
    zero: str,
    eps: float,
    params: dict[str, float],
    keep: np.ndarray | None = None,
    scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Values (float64, (N,)) and gradients w.r.t. ``inp`` (``inp``'s dtype, (N, V)) of
    ``measure(P = tgt[i], Q = inp[i])`` (swapped with ``reverse``), and the first row whose
    probabilities are not finite and non-negative (-1 if none; the caller raises).

    The gradients are multiplied by ``scale`` (a reduction's weight, > 0) in float64, before
    they are rounded to ``inp``'s dtype."""
    inp = np.ascontiguousarray(inp)
    tgt = np.ascontiguousarray(tgt)
    if inp.dtype not in (np.float32, np.float64):
        inp = inp.astype(np.float64)
    if tgt.dtype not in (np.float32, np.float64):
        tgt = tgt.astype(np.float64)
    n = inp.shape[0]
    out = np.empty(n, dtype=np.float64)
    grad = np.empty(inp.shape, dtype=inp.dtype)
    keep_u8 = (
        np.ones(n, dtype=np.uint8)
        if keep is None
        else np.ascontiguousarray(keep, dtype=bool).view(np.uint8)
    )
    if n == 0:
        return out, grad, -1
    mod = kernels(measure, zero, input_space, target_space, "x" if reverse else "y")
    args = (float(eps), *(float(params[p.name]) for p in measure.params))
    import numba

    nt = max(1, min(numba.get_num_threads(), n))
    bad = mod.loss(inp, tgt, keep_u8, out, grad, nt, 1.0 / float(temperature), float(scale), *args)
    return out, grad, int(bad)


def resolve(
    measure: Any, options: dict[str, Any]
) -> tuple[Measure, str, float, dict[str, float]] | None:
    """``(measure, zero, eps, params)`` of a loss call that the fused kernels serve, or None
    (a max/min accumulator, or an option of the general path: ``normalize``, ``backend``,
    ``check_finite``)."""
    from .calls import _limit, resolve_options
    from .validation import check_options

    m, opts = resolve_options(measure, options)
    m, opts = _limit(m, opts)
    if any(k in opts for k in ("_domain", "normalize", "backend", "check_finite")):
        return None
    zero = opts.pop("zero", "strict")
    epsilon = opts.pop("epsilon", 1e-5)
    zero, eps, params = check_options(m, zero, epsilon, opts)
    if not fusable(m, zero):
        return None
    return m, zero, eps, params


def rowwise_input(
    measure: Any,
    inp: np.ndarray,
    tgt: np.ndarray,
    *,
    input_space: str,
    target_space: str,
    temperature: float,
    reverse: bool,
    options: dict[str, Any],
    keep: np.ndarray | None = None,
    scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Values and ``scale`` times the gradient with respect to ``inp`` through the fused
    kernel (as :func:`divergences.spaces.rowwise` without the target's gradient), or None
    where the fused kernels do not serve the call or a probability row is invalid (the
    caller takes the general path, which raises the error naming the row)."""
    r = resolve(measure, options)
    if r is None:
        return None
    m, zero, eps, params = r
    v, g, bad = loss_rows(
        m,
        inp,
        tgt,
        input_space=input_space,
        target_space=target_space,
        temperature=temperature,
        reverse=reverse,
        zero=zero,
        eps=eps,
        params=params,
        keep=keep,
        scale=scale,
    )
    return None if bad >= 0 else (v, g)
