"""Autodiff through the array-API reference agrees with the analytic gradients.

``dv.paired(P, Q, m, backend="numpy")`` on torch tensors (or JAX arrays) is differentiable by
the framework's autodiff; its gradients must equal :func:`divergences.paired_grad`'s (the
chain rule over the table's partial derivatives): the same finite numbers (rel 1e-9), the
same +-inf, never NaN where the analytic gradient is a number. Rows: random interior
points, a zero in P, in Q, in both (the same and different coordinates), a one-hot P.

Where autodiff cannot give the analytic convention for a reason of the definition, the
case is an expected failure with that reason, found by evaluating the definition on the row
(:func:`_why_not`), never from a list of names:

- ``abs`` of a coordinate at 0 (canberra's ``|x| + |y|``): the analytic derivative is the
  one-sided +1 of the non-negative domain (:mod:`divergences.symbolic`), autodiff takes
  abs'(0) = 0;
- an infinite intermediate (an accumulator's term, or the finalize's derivative, is
  +-inf on the row: an infinite accumulator that ``min`` does not choose): autodiff
  multiplies the zero gradient that reaches it by its infinite local derivative (NaN), where
  the analytic chain rule takes 0 * inf = 0 (``mul0``);
- a power to a run-time exponent at a zero of its base (renyi's ``div0(x, y) ** alpha`` at
  ``x = 0``, alpha < 1): its infinite derivative times the zero derivative of the base in
  the other argument is NaN by autodiff, 0 by the analytic chain rule; and at the zero the
  analytic gradient is the one-sided limit of the derivative (``limits.limit_at_zero``:
  amari_alpha's ``d/dQ_i = -inf`` at ``Q_i = 0 < P_i``), where autodiff differentiates the
  zero rule's own branch (``where(y == 0, (1 - alpha) / 2 * x, ...)``: 0).

The helpers' zero rules are autograd-safe (``Helper.array_autograd`` in
:mod:`divergences.vocabulary`), and so are a definition's own ``where`` on the data: on torch
and JAX arrays the reference compiles each with its branch not chosen evaluated at safe values
(:func:`divergences.expr.guard_wheres`).
"""

from __future__ import annotations

import itertools
import math
import re

import array_api_compat
import numpy as np
import pytest

import divergences as dv
from divergences.expr import compile_with
from divergences.kernels.helpers import vocabulary
from divergences.symbolic import derivative
from divergences.vocabulary import HELPERS, array_vocabulary

torch = pytest.importorskip("torch")

RTOL = 1e-9
D = 5


def _rows() -> tuple[list[str], np.ndarray, np.ndarray]:
    def interior(seed):
        rng = np.random.default_rng(seed)
        return rng.dirichlet(np.ones(D)) * 0.9 + 0.02, rng.dirichlet(np.ones(D)) * 0.9 + 0.02

    rows = {"interior 1": interior(1), "interior 2": interior(2)}
    for name, zero_p, zero_q in (
        ("zero in P", 0, None),
        ("zero in Q", None, 0),
        ("zero in both", 0, 0),
        ("zeros in P and Q apart", 0, 1),
    ):
        P, Q = interior(5)
        if zero_p is not None:
            P[zero_p] = 0.0
        if zero_q is not None:
            Q[zero_q] = 0.0
        rows[name] = (P, Q)
    _, Q = interior(6)
    P = np.zeros(D)
    P[2] = 1.0
    rows["one-hot P"] = (P, Q)
    names = list(rows)
    return names, np.array([rows[n][0] for n in names]), np.array([rows[n][1] for n in names])


NAMES, X, Y = _rows()
CASES = [
    (m, zero, params)
    for m in dv.measures()
    for zero in ("strict", "epsilon")
    if zero == "strict" or m.epsilon is not None
    for params in m.param_grid()
]
IDS = [f"{m.name}-{zero}" + "".join(f"-{k}={v:g}" for k, v in p.items()) for m, zero, p in CASES]


def _torch_grad(m, zero, params):
    A = torch.tensor(X, requires_grad=True)
    B = torch.tensor(Y, requires_grad=True)
    dv.paired(A, B, m, zero=zero, backend="numpy", **params).sum().backward()
    return A.grad.numpy(), B.grad.numpy()


def _mismatch(got, ref):
    """Entries where autodiff ``got`` disagrees with the analytic ``ref`` (NaN in ``ref``:
    no claim)."""
    fin = np.isfinite(ref)
    scale = np.abs(np.where(fin, ref, 0.0)).max(axis=-1, keepdims=True)
    close = np.isclose(got, ref, rtol=RTOL, atol=RTOL * np.maximum(scale, 1.0))
    bad = fin & ~(np.isfinite(got) & close)
    return bad | (np.isinf(ref) & (got != ref))


def _why_not(m, zero, params, i, k):
    """Why autodiff cannot reproduce the analytic convention at row i, coordinate k (see
    the module docstring), or None."""
    rule = m.rule(zero)
    voc = vocabulary(np)
    names = {"eps": 1e-5, **{p.name: p.default for p in m.params}, **params}
    x, y = X[i], Y[i]
    coordinate_zero = x[k] == 0 or y[k] == 0
    terms = {n: a.term for n, a in rule.accumulators.items()}
    if coordinate_zero and any(re.search(r"abs\([xy]\)", t) for t in terms.values()):
        return "abs of a coordinate at 0: one-sided +1 analytically, abs'(0) = 0 in autodiff"
    accs = {}
    with np.errstate(all="ignore"):
        for n, acc in rule.accumulators.items():
            t = np.broadcast_to(compile_with(acc.term, voc)(x=x, y=y, **names), x.shape)
            if np.any(np.isinf(t)):
                return f"accumulator {n} has an infinite term: autodiff's 0 * inf = NaN"
            accs[n] = getattr(np, acc.reduce)(t)
        for n in rule.accumulators:
            g = compile_with(derivative(rule.finalize, n), voc)(d=float(D), **names, **accs)
            if np.any(np.isinf(g)):
                return f"d finalize / d {n} is infinite: autodiff's 0 * inf = NaN"
    runtime_power = re.search(r"\*\*\s*\(?[A-Za-z_]|powm1", " ".join(terms.values()))
    if coordinate_zero and runtime_power:
        return (
            "a run-time power at a zero of its base: autodiff's 0 * inf = NaN or the zero "
            "rule's branch, the analytic one-sided limit"
        )
    return None


def _check(m, zero, params, got):
    _, gA, gB = dv.paired_grad(X, Y, m, zero=zero, backend="numpy", **params)
    reasons = set()
    for side, g, r in (("P", got[0], gA), ("Q", got[1], gB)):
        for i, k in zip(*np.nonzero(_mismatch(g, r)), strict=True):
            why = _why_not(m, zero, params, i, k)
            assert why is not None, (
                f"{m.name} d/d{side}[{k}] on the row {NAMES[i]!r}: autodiff {g[i, k]!r}, "
                f"analytic {r[i, k]!r}"
            )
            reasons.add(why)
    if reasons:
        pytest.xfail("; ".join(sorted(reasons)))


@pytest.mark.sampled
@pytest.mark.parametrize(("m", "zero", "params"), CASES, ids=IDS)
def test_torch_autograd_through_the_reference_is_the_analytic_gradient(m, zero, params):
    _check(m, zero, params, _torch_grad(m, zero, params))


def test_the_zero_rules_of_the_helpers_are_autograd_safe():
    """KL and Jensen-Shannon with a zero on either side and one-hot targets: -inf or +inf
    where the derivative diverges, the convention's number where the term vanishes, never
    NaN (before the double-where implementations: NaN at each of these)."""
    for name in ("kullback_leibler", "jensen_shannon", "hellinger", "harmonic_mean"):
        got = _torch_grad(dv.get(name), "strict", {})
        _, gA, gB = dv.paired_grad(X, Y, name, backend="numpy")
        for g, r in zip(got, (gA, gB), strict=True):
            assert not np.any(np.isnan(g)), name
            assert not np.any(_mismatch(g, r)), name


#: 0 of both signs, subnormals, tiny to huge, inf, nan and negatives (outside some domains)
GRID = [0.0, -0.0, 5e-324, 1e-310, 1e-300, 1e-17, 0.1, 0.3, 0.5, 0.999, 1.0, 1.5, 2.0, 3.0]
GRID += [1e10, 1e300, 1.7e308, math.inf, -math.inf, math.nan, -1.0, -0.5, -1e-300]


@pytest.mark.parametrize("name", [n for n, h in HELPERS.items() if h.array_autograd is not None])
def test_the_autograd_safe_forms_give_the_plain_forms_values_bit_for_bit(name):
    h = HELPERS[name]
    args = [np.array(a) for a in zip(*itertools.product(GRID, repeat=h.arity), strict=True)]
    with np.errstate(all="ignore"):
        plain = array_vocabulary(np, autograd=False)[name](*args)
        safe = array_vocabulary(np, autograd=True)[name](*args)
    same_bits = plain.view(np.int64) == safe.view(np.int64)
    assert np.all(same_bits | (np.isnan(plain) & np.isnan(safe))), [
        (tuple(float(a[i]) for a in args), plain[i], safe[i]) for i in np.flatnonzero(~same_bits)
    ]


def test_guarded_wheres_keep_the_values_bit_for_bit():
    """Every term of every rule at every parameter set, compiled with and without
    guard_wheres, on the torch rows and on the special grid: the same bits."""
    voc = vocabulary(array_api_compat.array_namespace(torch.zeros(1)))
    pairs = np.array(list(itertools.product(GRID, repeat=2)))
    rows = [(X, Y), (pairs[:, :1].T, pairs[:, 1:].T)]
    for m, zero, params in CASES:
        names = {"eps": 1e-5, **{p.name: p.default for p in m.params}, **params}
        for acc, (x, y) in itertools.product(m.rule(zero).accumulators.values(), rows):
            args = dict(x=torch.tensor(x), y=torch.tensor(y), **names)
            plain = compile_with(acc.term, voc)(**args)
            guarded = compile_with(acc.term, voc, data=frozenset("xy"))(**args)
            a, b = (np.broadcast_to(np.asarray(v), x.shape) for v in (plain, guarded))
            same = (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))
            assert np.all(same), (m.name, zero, params, acc.term)
        # the finalize, guarded on the accumulators: their values on the rows, and 0
        rule = m.rule(zero)
        reduce = {"sum": torch.sum, "max": torch.amax, "min": torch.amin}
        tX, tY = torch.tensor(X), torch.tensor(Y)
        accs = {}
        for n, a in rule.accumulators.items():
            t = torch.as_tensor(compile_with(a.term, voc)(x=tX, y=tY, **names))
            accs[n] = reduce[a.reduce](torch.broadcast_to(t, tX.shape).double(), -1)
        for values in (accs, {n: torch.zeros(len(X)) for n in accs}):
            args = dict(d=float(D), **names, **{n: v.double() for n, v in values.items()})
            plain = compile_with(rule.finalize, voc)(**args)
            guarded = compile_with(rule.finalize, voc, data=frozenset(accs))(**args)
            a, b = (np.broadcast_to(np.asarray(v), (len(X),)) for v in (plain, guarded))
            same = (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))
            assert np.all(same), (m.name, zero, params, rule.finalize)


@pytest.mark.parametrize("name", ["kullback_leibler", "jensen_shannon", "hellinger", "amari_alpha"])
def test_jax_grad_through_the_reference_is_the_analytic_gradient(name):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    with jax.enable_x64(True):

        def f(a, b):
            return dv.paired(a, b, name, backend="numpy").sum()

        got = jax.grad(f, argnums=(0, 1))(jnp.asarray(X), jnp.asarray(Y))
    for g in got:
        assert not np.any(np.isnan(np.asarray(g))), name
    _check(dv.get(name), "strict", {}, tuple(np.asarray(g) for g in got))
