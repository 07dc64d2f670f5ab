"""Analytic gradients (paired_grad) against high-precision finite differences, for every
measure of the registry and every parameter value it is tested at.

The reference is independent of the package: the textbook formulas of tests/mp_reference.py
differentiated numerically in mpmath at 60 digits (central differences with h = 1e-20: the
truncation error h^2 f''' and the rounding error 1e-60 / h are both near 1e-40). Cases:
random interior points; near P = Q (Q = P (1 + 1e-6 e), what training near convergence
uses); a zero on either side (the value at the zero is the one-sided limit of the
derivative: +-inf where the derivative diverges, decided from the limit at 1e-30 and 1e-60,
else its finite limit); one-hot targets. Both back ends (the generated Numba kernel and the
array-API reference) give the same numbers.
"""

from __future__ import annotations

import math

import array_api_compat.numpy
import mp_reference
import numpy as np
import pytest
from mpmath import mp, mpf

import divergences as dv
from divergences.expr import compile_with
from divergences.limits import limit_at_zero
from divergences.symbolic import zero_limits_dropped
from divergences.vocabulary import array_vocabulary

CASES = [(m, params) for m in dv.measures() for params in m.param_grid()]
IDS = [m.name + "".join(f"-{k}={v:g}" for k, v in p.items()) for m, p in CASES]


#: the limit forms of the parametric measures (where(alpha == -1, kl_elem(x, y), ...)) once
#: differentiated to where(c, 1, 0) * d(limit) + where(c, 0, 1) * d(formula): 0 * inf = NaN
#: at special parameter values (amari_alpha, cressie_read); the symbolic layer now
#: differentiates where(c, a, b) as where(c, da, db), and these cases are tested like the rest
INTERIOR = [pytest.param(m, p, id=i) for (m, p), i in zip(CASES, IDS, strict=True)]


#: a zero on either side: at a zero of a run-time power (cressie_read, renyi, amari_alpha,
#: tsallis, minkowski) the derivative is the one-sided limit that the symbolic layer derives
#: (limits.limit_at_zero), no longer 0 * inf = NaN; a measure whose derivative with its
#: limits would pass symbolic.LIMIT_SOURCE_MAX (alpha_beta) may keep a NaN at the zero
#: coordinates themselves (documented), and is right everywhere else (:func:`_dropped`)
AT_ZEROS = [pytest.param(m, p, id=i) for (m, p), i in zip(CASES, IDS, strict=True)]


def _dropped(m) -> bool:
    """Whether ``m``'s derivative leaves out its limits at zero (symbolic.LIMIT_SOURCE_MAX)."""
    return any(zero_limits_dropped(a.term) for a in m.strict.accumulators.values())

RTOL = 1e-8
DPS = 60
H = mpf(10) ** -20


def _f(name, P, Q, params):
    try:
        return mp_reference.REFERENCE[name](P, Q, **params)
    except ZeroDivisionError:
        pytest.skip("the mpmath reference has no formula at this special parameter value")


def mp_grad(name, P, Q, params, side, k, *, one_sided=False):
    """d f / d (side)_k at (P, Q) by central (or forward, at a zero) differences."""
    # at a coordinate t near 0 the step is t * 1e-15: 150 digits keep 60 beyond it
    with mp.workdps(DPS if not one_sided else 150):
        Pm, Qm = mp_reference.to_mp(P), mp_reference.to_mp(Q)
        h = H if not one_sided else (Pm if side == "P" else Qm)[k] * mpf(10) ** -15

        def at(delta):
            X = list(Pm if side == "P" else Qm)
            X[k] += delta
            return _f(name, X, Qm, params) if side == "P" else _f(name, Pm, X, params)

        return (at(h) - at(-h)) / (2 * h)


def mp_gradient(name, P, Q, params, sides=("P", "Q"), first=0):
    """[d f / dP, d f / dQ] (coordinates ``first`` on) by central differences."""
    return [
        np.array([float(mp_grad(name, P, Q, params, side, k)) for k in range(first, len(P))])
        for side in sides
    ]


def both_backends(P, Q, m, params, rtol=1e-11):
    """(value, dP, dQ) of the Numba kernel, checked equal to the reference's (``rtol``)."""
    got = dv.paired_grad(np.array([P]), np.array([Q]), m, backend="numba", **params)
    ref = dv.paired_grad(np.array([P]), np.array([Q]), m, backend="numpy", **params)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
        np.testing.assert_array_equal(np.isinf(g), np.isinf(r))
        fin = np.isfinite(r)
        np.testing.assert_allclose(
            g[fin], r[fin], rtol=rtol, atol=1e-14 * np.abs(r[fin]).max(initial=1)
        )
    return got[0][0], got[1][0], got[2][0]


def assert_close(got, ref, what):
    # relative to the gradient's largest component; a gradient that cancels to nearly 0
    # from pieces of order 1 (cosine near P = Q: 1e-17, float64 rounding 2e-16) is
    # compared at 1e-14 absolute
    scale = max(np.abs(ref).max(), 1e-6)
    assert np.all(np.isfinite(got)), (what, got, ref)
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=RTOL * scale, err_msg=what)


def interior(seed, d=5):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(d)) * 0.9 + 0.02
    Q = rng.dirichlet(np.ones(d)) * 0.9 + 0.02
    return P, Q


@pytest.mark.parametrize(("m", "params"), INTERIOR)
def test_gradient_at_interior_points(m, params):
    for seed in (1, 2):
        P, Q = interior(seed)
        v, gP, gQ = both_backends(P, Q, m, params)
        with mp.workdps(DPS):
            ref = _f(m.name, mp_reference.to_mp(P), mp_reference.to_mp(Q), params)
        assert v == pytest.approx(float(ref), rel=1e-10)
        rP, rQ = mp_gradient(m.name, P, Q, params)
        assert_close(gP, rP, f"{m.name} dP at {P}, {Q}")
        assert_close(gQ, rQ, f"{m.name} dQ at {P}, {Q}")


@pytest.mark.parametrize(("m", "params"), INTERIOR)
def test_gradient_near_p_equal_q(m, params):
    P, _ = interior(3)
    e = np.random.default_rng(4).choice([-1.0, 1.0], size=P.size)
    Q = P * (1 + 1e-6 * e)
    # a derivative that is a difference of two powers of 1 + r (alpha_beta's
    # (1 + r)^(alpha - 1) - (1 + r)^(alpha + beta - 1)) cancels to O(r) = 1e-6: float64's
    # rounding becomes 1e-10 of it on either back end (each within RTOL of mpmath below),
    # and the two round differently where their instructions differ (Numba contracts to FMA)
    _, gP, gQ = both_backends(P, Q, m, params, rtol=1e-9)
    rP, rQ = mp_gradient(m.name, P, Q, params)
    assert_close(gP, rP, f"{m.name} dP near P = Q")
    assert_close(gQ, rQ, f"{m.name} dQ near P = Q")


def _limit(m, P, Q, params, side, k):
    """The one-sided limit of d f / d (side)_k as (side)_k -> 0+: +-inf or a number."""
    vals = []
    for t in (1e-30, 1e-60):
        X = (P if side == "P" else Q).copy()
        X[k] = t
        args = (X, Q) if side == "P" else (P, X)
        vals.append(mp_grad(m.name, *args, params, side, k, one_sided=True))
    a, b = vals
    if abs(b - a) > 1 and abs(b) > abs(a):
        return math.copysign(math.inf, float(b))
    return float(b)


@pytest.mark.parametrize(("m", "params"), AT_ZEROS)
@pytest.mark.parametrize("side", ["P", "Q"])
def test_gradient_at_a_zero(m, params, side):
    """A zero coordinate on one side: where the value is finite the gradient is never NaN;
    at the zero it is the one-sided limit of the derivative (+-inf where that diverges),
    elsewhere it is the ordinary derivative."""
    P, Q = interior(5)
    (P if side == "P" else Q)[0] = 0.0
    v, gP, gQ = both_backends(P, Q, m, params)
    with mp.workdps(DPS):
        ref = float(_f(m.name, mp_reference.to_mp(P), mp_reference.to_mp(Q), params))
    if not math.isfinite(ref):
        assert v == ref or (math.isnan(v) and math.isnan(ref))
        return
    assert v == pytest.approx(ref, rel=1e-10, abs=1e-14)
    # a measure without its limits at zero may give NaN at the zero coordinate (on either
    # side), never a wrong number, and never NaN elsewhere
    first = 1 if _dropped(m) else 0
    for g in (gP, gQ):
        assert not np.any(np.isnan(g[first:])), (m.name, gP, gQ)
    # the zero coordinate: one-sided limit on its side, an ordinary derivative on the other
    zero_side, other = (gP, gQ) if side == "P" else (gQ, gP)
    if not np.isnan(zero_side[0]):
        lim = _limit(m, P, Q, params, side, 0)
        if math.isinf(lim):
            # the one-sided derivative diverges: +-inf, or where the vocabulary's convention
            # gives a vanishing term (0 ln 0) no derivative, that finite convention value
            assert zero_side[0] == lim or np.isfinite(zero_side[0]), (m.name, side, lim)
        else:
            assert zero_side[0] == pytest.approx(lim, rel=1e-7, abs=1e-9), (m.name, side)
    other_side = "Q" if side == "P" else "P"
    if not np.isnan(other[0]):
        ref_other = float(mp_grad(m.name, P, Q, params, other_side, 0))
        assert other[0] == pytest.approx(ref_other, rel=1e-7, abs=1e-9), (m.name, other_side)
    # the nonzero coordinates: ordinary derivatives
    rP, rQ = mp_gradient(m.name, P, Q, params, first=1)
    for g, r in ((gP, rP), (gQ, rQ)):
        assert_close(g[1:], r, f"{m.name} nonzero coordinates, zero in {side}")


@pytest.mark.parametrize(("m", "params"), AT_ZEROS)
def test_gradient_with_a_one_hot_target(m, params):
    """P one-hot (a class label), Q interior: d/dQ is an ordinary derivative, never NaN
    where the value is finite."""
    _, Q = interior(6)
    P = np.zeros_like(Q)
    P[2] = 1.0
    _v, gP, gQ = both_backends(P, Q, m, params)
    with mp.workdps(DPS):
        ref = float(_f(m.name, mp_reference.to_mp(P), mp_reference.to_mp(Q), params))
    if not math.isfinite(ref):
        return
    # a measure without its limits at zero may give NaN (d/dP or d/dQ) where P is 0
    # (documented), never a wrong number, and never NaN at the class
    nan_ok = (P == 0) if _dropped(m) else np.zeros(P.shape, bool)
    assert not np.any(np.isnan(gP) & ~nan_ok) and not np.any(np.isnan(gQ) & ~nan_ok)
    (rQ,) = mp_gradient(m.name, P, Q, params, sides=("Q",))
    keep = ~np.isnan(gQ)
    assert_close(gQ[keep], rQ[keep], f"{m.name} dQ, one-hot P")


#: every measure in both zero modes (the epsilon mode where the measure has its own rule)
ZERO_MODES = [
    (m, zero)
    for m in dv.measures()
    for zero in ("strict", "epsilon")
    if zero == "strict" or m.epsilon is not None
]


@pytest.mark.sampled
@pytest.mark.parametrize(("m", "zero"), ZERO_MODES, ids=[f"{m.name}-{z}" for m, z in ZERO_MODES])
def test_epsilon_mode_kernels_agree_and_values_match_paired(m, zero):
    A, B = interior(7)
    A[0] = 0.0
    B[1] = 0.0
    X, Y = np.array([A, B]), np.array([B, A])
    got = dv.paired_grad(X, Y, m, zero=zero, backend="numba")
    ref = dv.paired_grad(X, Y, m, zero=zero, backend="numpy")
    np.testing.assert_allclose(got[0], dv.paired(X, Y, m, zero=zero), rtol=1e-12)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
        fin = np.isfinite(r)
        np.testing.assert_allclose(g[fin], r[fin], rtol=1e-11, atol=1e-14)


#: derivatives whose value at a zero is 0 * inf or inf - inf, and their one-sided limits
LIMITS = [
    # d/dx of x ((x / y)**lam - 1): (1 + lam) (x / y)**lam - 1, -1 for lam > 0, +inf for
    # -1 < lam < 0, 0 at lam = 0
    (
        "(x / y) ** lam - 1 + x * (lam * (x / y) ** (lam - 1) * (1 / y))",
        "x",
        [
            ({"y": 0.4, "lam": 0.5}, -1.0),
            ({"y": 0.4, "lam": 2.0}, -1.0),
            ({"y": 0.4, "lam": -0.5}, math.inf),
            ({"y": 0.4, "lam": 0.0}, 0.0),
        ],
    ),
    # d/dy of a (x - y) - y ((x / y)**a - 1): 1 - a - (1 - a) (x / y)**a, whose two 1 / y
    # terms cancel exactly as y -> 0+: 1 - a for a < 0, -inf for 0 < a < 1
    (
        "-a + 1 - (x / y) ** a + y * (a * (x / y) ** (a - 1) * x / y / y)",
        "y",
        [
            ({"x": 0.3, "a": -0.5}, 1.5),
            ({"x": 0.3, "a": -2.0}, 3.0),
            ({"x": 0.3, "a": 0.25}, -math.inf),
        ],
    ),
]


@pytest.mark.parametrize(("src", "var", "points"), LIMITS)
def test_limit_at_zero_follows_the_leading_terms(src, var, points):
    lim = limit_at_zero(src, var)
    assert lim is not None
    f = compile_with(lim, array_vocabulary(array_api_compat.numpy))
    for names, want in points:
        got = f(**{k: np.float64(v) for k, v in names.items()})
        assert float(got) == pytest.approx(want, rel=1e-14), names


def test_max_accumulator_ties_go_to_the_lowest_index():
    P = np.array([[0.25, 0.75, 0.5]])
    Q = np.array([[0.5, 0.5, 0.5]])  # |P - Q| = (0.25, 0.25, 0) exactly: a tie of 0 and 1
    for backend in ("numba", "numpy"):
        v, gP, gQ = dv.paired_grad(P, Q, "chebyshev", backend=backend)
        assert v[0] == 0.25
        np.testing.assert_array_equal(gP, [[-1.0, 0.0, 0.0]])
        np.testing.assert_array_equal(gQ, [[1.0, 0.0, 0.0]])


def test_euclidean_at_p_equal_q_is_the_zero_subgradient():
    P = np.array([[0.2, 0.3, 0.5]])
    for backend in ("numba", "numpy"):
        v, gP, gQ = dv.paired_grad(P, P.copy(), "euclidean", backend=backend)
        assert v[0] == 0.0
        np.testing.assert_array_equal(gP, 0.0)
        np.testing.assert_array_equal(gQ, 0.0)


def test_normalize_applies_the_chain_rule_through_the_sum():
    rng = np.random.default_rng(8)
    A, B = rng.random((3, 4)) + 0.1, rng.random((3, 4)) + 0.1
    _v, gA, _gB = dv.paired_grad(A, B, "hellinger", normalize=True)
    h = 1e-7
    for i, k in ((0, 1), (2, 3)):
        Ap, Am = A.copy(), A.copy()
        Ap[i, k] += h
        Am[i, k] -= h
        fd = (
            dv.paired(Ap, B, "hellinger", normalize=True)
            - dv.paired(Am, B, "hellinger", normalize=True)
        )[i] / (2 * h)
        assert gA[i, k] == pytest.approx(fd, rel=1e-6)
