"""Fused row-wise loss kernels: logits (or log-probabilities, or probabilities) in, the value
and the gradient with respect to the input out, one generated Numba kernel per measure.

For a loss ``measure(P = target, Q = input)`` (``wrt="y"``; ``wrt="x"`` is ``reverse=True``:
the input is the first argument) on (B, V) rows, the generated kernel runs per row (rows in
parallel, one contiguous block of rows per thread, a few float64 scratch rows per thread):

1. for each side given as logits: the maximum of ``z / T``, then ``e_k = exp(z_k / T - max)``
   and their sum ``s`` in one sweep (the normaliser: ``log_sum = max + log(s)``); the
   probabilities are ``e_k / s``, the log-probabilities ``z_k / T - log_sum`` (exact, never
   the log of an underflowed probability);
2. one sweep evaluating the accumulator terms of the definition on ``(x_k, y_k)`` and, in
   the same loop (sharing their run-time powers), the gradient terms ``q dT_acc/dq (x_k,
   y_k)``: where the finalize is affine in the accumulators (KL, JS, TVD, ... : its partial
   derivatives are constants) combined at once into ``g_k = sum_acc dF/dacc * q dT_acc/dq``,
   otherwise one row per accumulator, combined by a short loop after the finalize.
   A sweep computes the forms where no probability is 0 (:func:`divergences.fused_forms.
   off_the_edges`), one loop per case of the parameters (``alpha == 1``: unswitched); a pass
   over the coordinates where one is 0 then computes the full forms there (the zero rules,
   the one-sided limits of the gradient), so that no select evaluates them everywhere;
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

import re
from types import ModuleType
from typing import Any

import numpy as np

from . import vecmath
from .fused_forms import _src, _unswitched, off_the_edges, sweep_sources
from .fused_templates import COMBINE, EDGES, HEAD, ROW, SWEEP
from .kernels.codegen import HELPER_IMPORTS
from .spec import Measure

__all__ = ["fusable", "loss_rows", "module_source", "resolve", "rowwise_input"]

SPACES = ("probs", "log_probs", "logits")


def fusable(measure: Measure, zero: str) -> bool:
    """Whether ``measure`` has a fused loss kernel (every accumulator a sum)."""
    return all(acc.reduce == "sum" for acc in measure.rule(zero).accumulators.values())


def _affine(rule: Any, dfinal: dict[str, str]) -> bool:
    names = set(rule.accumulators)
    return not any(set(re.findall(r"[A-Za-z_]\w*", src)) & names for src in dfinal.values())


def _load(space: str, side: str) -> tuple[list[str], list[str]]:
    """Statements giving the probability of ``side`` at k, and then its log-probability."""
    z, e, r, lg = ("zi", "ei", "ri", "li") if side == "i" else ("zt", "et", "rt", "lt")
    if space == "logits":
        return [f"p{side} = {e}[k] * {r}"], [f"lp{side} = np.float64({z}[k]) * inv - {lg}"]
    if space == "log_probs":
        return [f"lp{side} = np.float64({z}[k])", f"p{side} = exp_v(lp{side})"], []
    return [f"p{side} = np.float64({z}[k])"], [f"lp{side} = log_v(p{side})"]


def _indented(lines: list[str], by: int) -> str:
    return "\n".join(" " * by + line for line in lines)


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
    # one row of sum_acc dF/dacc * term where F is affine), the gradient terms of each
    # accumulator where F is not affine (combined once its partials are known), and the
    # gradient terms combined
    nacc = 1 if affine else len(accs)
    hrow = 2 + nacc
    gcol = hrow if affine else hrow + len(accs)
    params = "".join(f", par_{p}" for p in pnames)
    probe_i, rest_i = _load(inp, "i")
    probe_t, rest_t = _load(tgt, "t")
    probe, rest = probe_i + probe_t, rest_i + rest_t
    load = probe + rest

    def statements(srcs: dict[str, str], positive: bool = False) -> list[str]:
        """The statements at k: the terms (``"t:acc"`` sources; one row, or one per
        accumulator) and the gradient terms (``"g:acc"``; one row combined, or one per
        accumulator) of ``srcs`` (``positive``: where no coordinate is 0)."""
        printed = sweep_sources(
            [srcs[f"{kind}:{a}"] for kind in "tg" for a in accs], term_ren, logs, positive
        )
        t = dict(zip(accs, printed[: len(accs)], strict=True))
        h = dict(zip(accs, printed[len(accs) :], strict=True))
        if affine:
            return [
                "S[2, k] = " + " + ".join(f"_mul0(g_{a}, {t[a]})" for a in accs),
                f"S[{gcol}, k] = " + " + ".join(f"_mul0(g_{a}, {h[a]})" for a in accs),
            ]
        return [f"S[{2 + j}, k] = {t[a]}" for j, a in enumerate(accs)] + [
            f"S[{hrow + j}, k] = {h[a]}" for j, a in enumerate(accs)
        ]

    # one loop for the terms and the gradient terms (their common subexpressions, the
    # run-time powers above all, computed once): an affine finalize knows its partials
    # before the sweep; otherwise each accumulator's gradient terms get a row of their own,
    # combined by a short loop once the partials are known (Renyi 48 -> 28 ms at 256 x 8000
    # against a second sweep; a few of the cheapest measures 10 % slower)
    srcs = {f"t:{a}": rule.accumulators[a].term for a in accs}
    srcs |= {f"g:{a}": dterm[a] for a in accs}
    # the sweep takes the forms where no coordinate is 0 (unswitched on the parameters'
    # cases); a pass over the coordinates at 0 computes the full forms there
    peeled = {k: off_the_edges(v) for k, v in srcs.items()}
    plain = {k: form for k, (form, _, _) in peeled.items()}
    at = {xy[c] for _, edges, _ in peeled.values() for c in edges}
    # and the coordinates where a rare condition holds (log-space forms: a coordinate at 0
    # makes them -inf or NaN, which the test of its zero covers)
    rares = sorted({c for _, _, conds in peeled.values() for c in conds})
    rare_tests = [f"({_src(c, term_ren, logs, positive=True)})" for c in rares]
    edge_body = statements(srcs)
    if inp != "probs":
        # an input probability exactly 0 (a logit masked with -inf; not an underflowed
        # one, whose log-probability is exact) takes no part in the gradient: q dT/dq = 0
        # there, as q * g = 0 where q = 0 on the general path (spaces.mul0)
        at.add("pi")
        rows = [gcol] if affine else range(hrow, gcol)
        edge_body += [f"S[{r}, k] = _where(lpi == -math.inf, 0.0, S[{r}, k])" for r in rows]
    at_edges = " | ".join([f"({c} == 0.0)" for c in sorted(at)] + rare_tests)

    def loop(srcs: dict[str, str]) -> list[str]:
        """The loop over a row's coordinates; it counts the coordinates at 0 (or where a
        rare condition holds) in ``nz`` (an integer sum: vectorised), so that the pass over
        them runs where there are any."""
        body = load + statements(srcs, positive=True)
        if at_edges:
            body.append(f"nz += np.int64({at_edges})")
        return ["for k in range(n):"] + ["    " + line for line in body]

    g = gargs = "".join(f", g_{a}" for a in accs)
    if not affine:
        g = ""  # the partials come after the sweep
    loops = _indented(_unswitched(plain, loop, rename), 4)
    sweeps = SWEEP.format(gargs=g, params=params, loops=loops)
    call = f"(zi, zt, ei, et, S, inv, ri, rt, li, lt, n, _eps, _d{g}{params})"
    first = f"    nz = _sweep{call}"
    if at_edges:
        sweeps += EDGES.format(
            gargs=g,
            params=params,
            # the rare conditions are on the log-probabilities: loaded before the test
            select=_indented(load if rare_tests else probe, 8),
            probe=_indented(probe, 8),
            test=at_edges,
            load=_indented(rest, 8),
            body=_indented(edge_body, 8),
        )
        first += f"\n    if nz > 0:\n        _edges{call.replace(', S,', ', S, Z,')}"
    second = ""
    if not affine:
        combined = " + ".join(f"_mul0(g_{a}, S[{hrow + j}, k])" for j, a in enumerate(accs))
        sweeps += COMBINE.format(gargs=gargs, gcol=gcol, combined=combined)
        second = f"    _combine(S, n{gargs})"
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
    twins = sorted(n for n in vecmath.__all__ if n != "TWINS")
    helpers = HELPER_IMPORTS
    src = HEAD.format(
        name=measure.name,
        zero=zero,
        inp=inp,
        tgt=tgt,
        wrt=wrt,
        helpers=", ".join(helpers),
        twins=", ".join(twins),
        nscratch=gcol + 1,
    )
    src += sweeps
    src += ROW.format(
        to_input="\n".join(to_input),
        params=params,
        prologue="\n".join(prologue) or "    pass",
        first=first,
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
