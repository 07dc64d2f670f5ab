"""Factored forms of terms with run-time exponents (``x**alpha * y**(1 - alpha)``).

The expansion treats a power whose exponent is free of x and y (a parameter) as an atom of
one side, or distributes it over a positive monomial (``(x / y)**a = x**a * y**(-a)``), so
Renyi-, Amari- and Cressie-Read-type terms get one matrix product instead of a ``pow`` per
element and pair. Checked on probe measures defined here (the catalog's parametric
divergences are tested through the registry where they are defined): the plan holds a
product of both sides, and the guarded factored values equal the direct kernel's (inf/NaN
in the same places, zeros included) and mpmath's.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import divergences as dv
from divergences.kernels import factored
from divergences.spec import Bounds, Measure, Param, Properties, Rule, never, sum_

CX = ((1.0, 0.0), (0.0, 1.0), (1.0, 0.0))
#: probe definitions (term, finalize) and the exponent values they run at
PROBES = {
    "renyi_like": ("x**alpha * y**(1 - alpha)", "log(s) / (alpha - 1)", (0.3, 0.5, 2.0)),
    "amari_like": (
        "(1 - alpha) / 2 * x + (1 + alpha) / 2 * y - x**((1 - alpha) / 2) * y**((1 + alpha) / 2)",
        "4 / (1 - alpha**2) * s",
        (0.0, 0.5, -3.0),
    ),
    "cressie_read_like": ("x * ((x / y)**alpha - 1)", "2 / (alpha * (alpha + 1)) * s", (0.66, 2.0)),
}


def probe(name: str) -> Measure:
    term, fin, values = PROBES[name]
    return Measure(
        name=name,
        title=name,
        family="shannon",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex="",
        strict=Rule({"s": sum_(term)}, fin),
        params=(Param("alpha", values[0], "exponent", test_values=values[1:]),),
        properties=Properties(
            symmetric=never("not claimed", *CX),
            nonnegative=never("not claimed", *CX),
            identity=never("not claimed", *CX),
            triangle=never("not claimed", *CX),
            metric=never("not claimed", *CX),
        ),
        bounds=Bounds("-inf", "inf"),
    )


def mp_value(name: str, p, q, alpha: float) -> float:
    """The probe's value in mpmath (40 digits), straight from its formula; 0**a = 0 (a > 0)."""
    term, fin, _ = PROBES[name]
    with mpmath.workdps(40):
        a = mpmath.mpf(alpha)
        voc = {"log": mpmath.log}
        s = mpmath.fsum(
            eval(term, {"__builtins__": {}}, {"x": mpmath.mpf(x), "y": mpmath.mpf(y), "alpha": a})
            for x, y in zip(p, q, strict=True)
        )
        return float(eval(fin, {"__builtins__": {}, **voc}, {"s": s, "alpha": a}))


def rows(m: int, n: int, d: int, seed: int, zeros: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    A, B = rng.dirichlet(np.ones(d), m), rng.dirichlet(np.ones(d), n)
    if zeros:
        A[rng.random(A.shape) < 0.15] = 0.0
        B[rng.random(B.shape) < 0.15] = 0.0
    return A, B


@pytest.mark.parametrize("name", sorted(PROBES))
def test_run_time_exponents_get_a_matrix_product(name):
    pl = factored.plan(probe(name), "strict")
    assert pl is not None
    (acc,) = pl.accs.values()
    if isinstance(acc, factored.Split):
        # bound to the parameter's value, x**0.3 * y**0.7 is literally f(x) g(y): a plain
        # product (the direct kernel's own products, summed in another order, unguarded)
        assert acc.how == "gemm"
    else:
        assert pl.guarded
        assert any(mo.f and mo.g for mo in acc.monos)  # f(x) g(y) with both sides: one GEMM


@pytest.mark.parametrize("name", sorted(PROBES))
@pytest.mark.parametrize("zeros", [False, True])
def test_factored_equals_direct_and_mpmath(name, zeros):
    m = probe(name)
    A, B = rows(7, 6, 19, seed=3, zeros=zeros)
    for params in m.param_grid():
        got, _ = factored.cdist_stats(m, A, B, zero="strict", eps=1e-5, params=params)
        want = dv.cdist(A, B, m, method="direct", **params)
        assert np.array_equal(np.isnan(got), np.isnan(want)), params
        assert np.array_equal(np.isinf(got), np.isinf(want)), params
        fin = np.isfinite(want)
        np.testing.assert_allclose(got[fin], want[fin], rtol=1e-10, atol=1e-300)
        for i, j in ((0, 0), (3, 5), (6, 2)):
            try:  # zeros: the direct kernel's comparison above covers the poles
                exact = mp_value(name, A[i], B[j], params["alpha"])
            except ZeroDivisionError:
                continue
            if math.isfinite(exact):
                assert abs(got[i, j] - exact) <= 1e-10 * abs(exact) + 1e-14, (params, i, j)


def test_near_identical_rows_go_to_the_direct_kernel():
    """Q = P (1 + 1e-7 e): the expanded Amari form (linear terms minus a power product)
    cancels; the guard recomputes. (The Renyi-like probe, bound to its exponent, is the plain
    product x**0.5 * y**0.5 of the direct kernel, as Bhattacharyya's: nothing to guard.)"""
    m = probe("amari_like")
    rng = np.random.default_rng(4)
    P = rng.dirichlet(np.ones(23), 5)
    Q = P * (1 + 1e-7 * rng.uniform(-1, 1, P.shape))
    got, stats = factored.cdist_stats(m, P, Q, zero="strict", eps=1e-5, params={"alpha": 0.5})
    assert stats.recomputed >= 5
    # the probe's textbook term cancels in the direct kernel too: the point is that the
    # guard hands these pairs to it (the catalog's amari_alpha has the stable form)
    direct = dv.cdist(P, Q, m, method="direct", alpha=0.5)
    np.testing.assert_array_equal(np.diagonal(got), np.diagonal(direct))


# -- the catalog's measures with parameters: where(...) on a parameter is resolved first -----
#: (measure, parameter set of its grid) where its terms separate, asked of the planner
REGISTRY_PLANS = [
    pytest.param(m, params, id=f"{m.name}-" + "-".join(f"{k}={v:g}" for k, v in params.items()))
    for m in dv.measures()
    if m.params
    for params in m.param_grid()
    if factored.factorable(m, "strict", params)
]


def test_the_issues_parametric_measures_factor_at_every_grid_value():
    """Issue 9: Renyi, Amari alpha, Tsallis and Cressie-Read have their exact limits at
    special values written with where(...) on the parameter; bound to the call's values
    (factored.planning.bind) their terms separate at every value of their grid, the special
    ones included (a regression guard of the planner on the issue's own rows)."""
    for name in ("renyi", "amari_alpha", "tsallis", "cressie_read"):
        m = dv.get(name)
        for params in m.param_grid():
            pl = factored.plan(m, "strict", params)
            assert pl is not None and pl.guarded, (name, params)


def test_binding_resolves_where_on_parameters_only():
    src = "where(alpha == 1, kl_elem(x, y), where(x < y / 2, x ** alpha, y) / (alpha - 1))"
    assert factored.planning.bind(src, {"alpha": 1.0}) == "kl_elem(x, y)"
    assert factored.planning.bind(src, {"alpha": 3.0}) == "where(x < y / 2, x ** 3.0, y) / 2.0"
    # a negative value keeps its brackets under a power
    assert factored.planning.bind("alpha ** 2 * x", {"alpha": -0.5}) == "0.25 * x"
    assert factored.planning.bind("x ** alpha", {"alpha": -0.5}) == "x ** (-0.5)"


@pytest.mark.parametrize(("m", "params"), REGISTRY_PLANS)
def test_registry_factored_equals_direct(m, params):
    """At each parameter set where a measure factors, the guarded factored values equal the
    direct kernel's (inf/NaN in the same places, zeros included), and on rows far from each
    other the factored values are kept (the guard recomputes a minority)."""
    for zeros in (False, True):
        A, B = rows(9, 8, 17, seed=5, zeros=zeros)
        got, stats = factored.cdist_stats(m, A, B, zero="strict", eps=1e-5, params=params)
        want = dv.cdist(A, B, m, method="direct", **params)
        assert np.array_equal(np.isnan(got), np.isnan(want)), (params, zeros)
        assert np.array_equal(np.isinf(got), np.isinf(want)), (params, zeros)
        fin = np.isfinite(want)
        np.testing.assert_allclose(got[fin], want[fin], rtol=1e-10, atol=1e-300)
        if not zeros:
            assert stats.recomputed < got.size / 2, (params, stats)
