"""The symbolic layer (divergences/symbolic.py): derivatives derived from the definitions.

For every measure of the registry, both zero modes and every test value of its parameters,
the partial derivatives of each accumulator term (d term/dx, d term/dy) and of the finalize
(d finalize/d accumulator) are evaluated in float64 and compared with mpmath's numerical
derivative (30 digits) of the same expression evaluated through the vocabulary table's
mpmath meanings (an independent route: no partial of the table is used there).
"""

from __future__ import annotations

import ast

import mpmath
import numpy as np
import pytest

import divergences as dv
from divergences import symbolic
from divergences.expr import compile_with, parse
from divergences.kernels.helpers import vocabulary
from divergences.vocabulary import HELPERS

MP = {name: h.mp for name, h in HELPERS.items()} | {"inf": mpmath.inf, "nan": mpmath.nan}
NP = vocabulary(np)
CASES = [
    (m, zero, params)
    for m in dv.registry.measures()
    for zero in (("strict", "epsilon") if m.has_epsilon_rule else ("strict",))
    for params in m.param_grid()
]
IDS = [f"{m.name}-{z}-{'-'.join(f'{k}={v}' for k, v in p.items())}" for m, z, p in CASES]


def points(m, seed: int) -> list[tuple[float, float]]:
    """Random coordinates away from 0, ties and the kinks of abs/min/max."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0.1, 2.0, 8), rng.uniform(0.1, 2.0, 8)
    if m.domain != "nonnegative":
        x, y = x * rng.choice([-1, 1], 8), y * rng.choice([-1, 1], 8)
    return [(a, b) for a, b in zip(x, y, strict=True) if abs(abs(a) - abs(b)) > 0.05]


def mp_diff(src: str, names: dict[str, float], var: str):
    f = compile_with(src, MP)
    with mpmath.workdps(30):
        env = {k: mpmath.mpf(v) for k, v in names.items()}

    def at(t):
        return f(**{**env, var: t})

    with mpmath.workdps(30):  # the global precision is other tests' business
        return mpmath.diff(at, env[var])


def close(got: float, want, rel: float = 1e-9) -> bool:
    want = float(want)
    return abs(got - want) <= rel * max(1.0, abs(want))


@pytest.mark.parametrize(("m", "zero", "params"), CASES, ids=IDS)
def test_term_partials_match_mpmath(m, zero, params):
    rule = m.rule(zero)
    for name, (dx, dy) in symbolic.partials(m, zero).items():
        term = rule.accumulators[name].term
        for a, b in points(m, 3):
            env = {"x": a, "y": b, "eps": 1e-5, **params}
            for var, src in (("x", dx), ("y", dy)):
                got = float(compile_with(src, NP)(**env))
                want = mp_diff(term, env, var)
                assert close(got, want), (name, var, src, a, b, got, float(want))


@pytest.mark.parametrize(("m", "zero", "params"), CASES, ids=IDS)
def test_finalize_partials_match_mpmath(m, zero, params):
    rule = m.rule(zero)
    rng = np.random.default_rng(5)
    P, Q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    if m.domain != "nonnegative":
        P, Q = P - 0.1, Q + 0.05
    env: dict[str, float] = {"d": 6.0, "eps": 1e-5, **params}
    for name, acc in rule.accumulators.items():
        vals = [float(compile_with(acc.term, NP)(x=p, y=q, **env)) for p, q in zip(P, Q)]
        env[name] = {"sum": sum, "max": max, "min": min}[acc.reduce](vals)
    for name, src in symbolic.finalize_partials(m, zero).items():
        got = float(compile_with(src, NP)(**env))
        want = mp_diff(rule.finalize, env, name)
        assert close(got, want), (name, src, env, got, float(want))


def test_zero_conventions_come_from_the_table():
    """At zeros the derivative is the table's one-sided limit, never 0 * inf = nan."""
    dx, dy = symbolic.partials(dv.get("kullback_leibler"))["t"]
    with np.errstate(all="ignore"):
        at = {"x": np.float64(0.0), "y": np.float64(0.0)}
        assert float(compile_with(dx, NP)(**at)) == np.inf  # kl_elem(t, 0) = inf for t > 0
        assert float(compile_with(dy, NP)(**at)) == 1.0  # kl_elem(0, t) = t
        at = {"x": np.float64(0.0), "y": np.float64(0.5)}
        assert float(compile_with(dx, NP)(**at)) == -np.inf  # t log(t / y): -inf slope


def test_derivatives_fold_structural_zeros_and_ones():
    assert symbolic.derivative("x * log(y)", "x") == "log(y)"
    assert symbolic.derivative("x * log(y)", "y") == "x * (1 / y)"
    assert symbolic.derivative("3 * y", "x") == "0"
    assert symbolic.derivative("(x - y) ** 2", "y") == "-(2 * (x - y))"


def test_every_derivative_is_in_the_language():
    """Every derived expression parses and uses only the vocabulary (the printers take it)."""
    for m in dv.registry.measures():
        for dx, dy in symbolic.partials(m).values():
            for src in (dx, dy):
                for node in ast.walk(parse(src)):
                    if isinstance(node, ast.Call):
                        assert node.func.id in HELPERS, (m.name, src)


def test_describe_lists_every_form():
    text = symbolic.describe(dv.get("kullback_leibler"))
    for part in ("factored plan", "d t / dx", "d finalize / d t", "dv_update", "kl_elem(x, y)"):
        assert part in text


def test_cli_show_plan_prints_the_derived_forms_of_both_zero_modes(capsys):
    from divergences.cli import main

    assert main(["show", "kl", "--plan"]) == 0
    out = capsys.readouterr().out
    m = dv.get("kullback_leibler")
    assert out.count("factored plan:") == 2  # strict and epsilon
    for name, (dx, dy) in symbolic.partials(m).items():
        assert f"d {name} / dx = {dx}" in out and f"d {name} / dy = {dy}" in out
