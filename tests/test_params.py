"""First-class parameters: domains, test values, conditional claims and bounds, the
definition-time limit of the CUDA kernels, per-call symmetry and the CLI's --param."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import divergences as dv
from divergences import cli
from divergences.spec import (
    MAX_KERNEL_PARAMS,
    Bounds,
    DefinitionError,
    Measure,
    Param,
    Properties,
    Rule,
    always,
    never,
    param_grid,
    sum_,
)
from divergences.validation import InputError

MEASURES = dv.measures()
WITH_PARAMS = [m for m in MEASURES if m.params]


def test_param_domain_and_values():
    a = Param("alpha", 0.5, "order", low=0.0, high=1.0, high_inclusive=True, special=(1.0,))
    assert a.domain_text() == "0 < alpha <= 1"
    assert a.values() == (0.5, 1.0)
    assert a.contains(1.0) and not a.contains(0.0) and not a.contains(1.5)
    assert not a.contains(math.nan)
    with pytest.raises(ValueError, match=r"m: parameter alpha=2 is outside its domain"):
        a.check(2, "m")
    named = Param("lam", 1.0, "power", named=(("pearson", 1.0), ("neyman", -2.0)))
    assert named.check("Neyman", "m") == -2.0
    with pytest.raises(ValueError, match="or one of 'pearson', 'neyman'"):
        named.check("nope", "m")


def test_param_grid_varies_one_parameter_at_a_time():
    a = Param("a", 1.0, "", test_values=(2.0,))
    b = Param("b", 0.0, "", special=(0.0, 5.0))
    assert param_grid((a, b)) == [
        {"a": 1.0, "b": 0.0},
        {"a": 2.0, "b": 0.0},
        {"a": 1.0, "b": 5.0},
    ]
    assert param_grid(()) == [{}]


@pytest.mark.parametrize("m", WITH_PARAMS, ids=lambda m: m.name)
def test_every_test_value_is_accepted_and_computes(m):
    X = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    for params in m.param_grid():
        D = dv.cdist(X, X, m, **params)
        assert D.shape == (2, 2) and not np.any(np.isnan(D)), (m.name, params)


def _measure(**changes):
    """A copy of minkowski with some fields changed (the definition checks run again)."""
    return dataclasses.replace(dv.get("minkowski"), name="probe", aliases=(), **changes)


def test_claim_conditions_are_evaluated_not_read():
    tri = dv.get("minkowski").properties.triangle
    assert tri.condition == "p >= 1"
    assert tri.applies({"p": 1.0}) and tri.applies({"p": 3.0})
    assert not tri.applies({"p": 0.5})
    assert tri.holds_at({"p": 0.5}) is None and tri.holds_at({"p": 2.0}) == "always"
    with pytest.raises(DefinitionError, match=r"triangle condition.*unknown name 'q'"):
        props = dv.get("minkowski").properties
        _measure(properties=dataclasses.replace(props, triangle=always("x", condition="q >= 1")))


def test_symmetry_is_decided_per_call_from_the_parameters():
    """A measure symmetric at one parameter value only: the half-matrix paths follow it."""
    cx = ((1.0, 0.0), (0.0, 1.0), (1.0, 0.0))
    m = Measure(
        name="probe",
        title="probe",
        family="l1",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex="",
        strict=Rule({"s": sum_("abs(x - y) + t * x * y")}, "s + t * d"),
        params=(Param("t", 0.0, "weight", test_values=(1.0,)),),
        properties=Properties(
            symmetric=always("x y is symmetric", condition="t == 0"),
            nonnegative=always("non-negative terms"),
            identity=always("zero at t = 0", (0.5, 0.5), condition="t == 0", t=1.0),
            triangle=never("not claimed", *cx),
            metric=never("not claimed", *cx),
        ),
        bounds=Bounds("0", "inf"),
    )
    m2 = dataclasses.replace(
        m,
        strict=Rule({"s": sum_("abs(x - y) + t * x")}, "s"),
        properties=dataclasses.replace(
            m.properties,
            symmetric=always(
                "|x - y| is symmetric", (1.0, 0.0), (0.0, 1.0), condition="t == 0", t=1.0
            ),
        ),
    )
    assert not m2.symmetric  # not at every parameter value
    assert m2.is_symmetric("strict", {"t": 0.0}) and not m2.is_symmetric("strict", {"t": 1.0})
    X = np.array([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]])
    want = np.array([[np.sum(np.abs(a - b) + a) for b in X] for a in X])
    for backend in ("numpy", "numba"):
        # the same array on both sides: the half-matrix path must not be taken at t = 1
        np.testing.assert_allclose(dv.cdist(X, X, m2, t=1.0, backend=backend), want, rtol=1e-15)
        got = dv.pdist(X, m2, t=0.0, backend=backend)
        np.testing.assert_allclose(got, [0.6, 1.6, 1.0], rtol=1e-15)
        with pytest.raises(InputError, match="probe is not symmetric at t=1"):
            dv.pdist(X, m2, t=1.0, backend=backend)
    assert m.is_symmetric()


def test_bounded_is_evaluated_at_the_parameters():
    b = Bounds("0", "where(abs(alpha) < 1, 4 / (1 - alpha**2), inf)")
    assert b.is_bounded({"alpha": 0.0}) and b.is_bounded({"alpha": -0.5})
    assert not b.is_bounded({"alpha": 1.0}) and not b.is_bounded({"alpha": 3.0})
    assert Bounds("0", "2 * d**(1 / p - 1)").is_bounded({"p": 0.5})  # grows with d, finite
    for m in MEASURES:
        hi = m.bounds.evaluate(10, m.param_defaults())[1]
        assert m.is_bounded() == math.isfinite(hi), m.name
    assert dv.select(bounded=True) == [m for m in MEASURES if m.is_bounded()]


def test_more_parameters_than_the_cuda_kernels_take_fail_at_definition():
    many = tuple(Param(f"a{i}", 1.0, "") for i in range(MAX_KERNEL_PARAMS + 1))
    with pytest.raises(DefinitionError, match=f"at most {MAX_KERNEL_PARAMS}"):
        _measure(params=many)


def test_test_values_outside_the_domain_fail_at_definition():
    with pytest.raises(DefinitionError, match=r"test value 0\.0 is outside p > 0"):
        _measure(params=(Param("p", 2.0, "", low=0.0, test_values=(0.0,)),))


def test_relation_parameters_must_exist():
    from divergences.spec import Relation

    with pytest.raises(DefinitionError, match="unknown parameters"):
        _measure(relations=(Relation("manhattan(P, Q)", params={"q": 1.0}),))


# ----------------------------------------------------------------------------- CLI


def _compute(capsys, *argv):
    assert cli.main(["compute", *argv, "--example"]) == 0
    return capsys.readouterr().out


def test_cli_param_flag_equals_generated_flags(capsys):
    by_param = _compute(capsys, "minkowski", "--param", "p=3")
    assert by_param == _compute(capsys, "minkowski", "-p", "3")
    assert by_param == _compute(capsys, "minkowski", "--p", "3")
    assert "p=3.0" in by_param
    assert by_param != _compute(capsys, "minkowski")


def test_cli_generates_a_flag_for_every_parameter_name():
    text = cli.build_parser()._subparsers._group_actions[0].choices["compute"].format_help()
    for name in {p.name for m in MEASURES for p in m.params}:
        assert cli._param_flag(name) in text, name


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["minkowski", "--param", "p"], "NAME=VALUE"),
        (["minkowski", "--param", "p=2", "-p", "3"], "given twice"),
        (["minkowski", "--param", "q=2"], "unknown parameter"),
        (["kl", "--param", "p=2"], "unknown parameter"),
    ],
)
def test_cli_param_errors(capsys, argv, message):
    assert cli.main(["compute", *argv, "--example"]) != 0
    assert message in capsys.readouterr().err


SPECIAL = [
    (m, p.name, s)
    for m in MEASURES
    for p in m.params
    for s in p.special
    if p.contains(s - 1e-9) or p.contains(s + 1e-9)
]


@pytest.mark.parametrize(
    ("m", "name", "s"), SPECIAL, ids=[f"{m.name}-{n}={s:g}" for m, n, s in SPECIAL]
)
def test_limits_at_special_parameter_values_are_continuous(m, name, s):
    """The value at a special point is the limit (a number, never NaN), and the values at
    s +- 1e-9 are within 1e-6 of it (relative, or absolute below 1), on probability vectors
    and non-normalised ones."""
    p = next(p for p in m.params if p.name == name)
    rng = np.random.default_rng(5)
    pdfs = rng.dirichlet(np.ones(6), 4)
    # pdfs, and rows with equal sums off the simplex (some limits need equal sums:
    # Cressie-Read at lambda = -1), and signed rows for measures of the real domain
    blocks = [pdfs, 3.0 * pdfs[::-1]]
    if m.domain == "real":
        blocks.append(rng.normal(size=(3, 6)))
    for X in blocks:
        at = dv.cdist(X, X, m, **{name: s})
        assert not np.any(np.isnan(at)), (m.name, name, s)
        for near in (s - 1e-9, s + 1e-9):
            if not p.contains(near):
                continue
            got = dv.cdist(X, X, m, **{name: near})
            np.testing.assert_allclose(got, at, rtol=1e-6, atol=1e-6, err_msg=f"{name}={near!r}")
