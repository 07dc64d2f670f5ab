"""Values at the edges of float64: subnormal, underflowing and overflowing entries.

Every measure of the registry, on pairs whose squares or halves under- or overflow, against
the independent mpmath reference (tests/mp_reference.py) evaluated at 800 digits on the
exact float inputs (so 1e-200 ** 2 is 1e-400, not 0): where the exact value is infinite
the package must say inf, where it is NaN (an all-zero row) NaN, never NaN elsewhere, and
within 1e-9 relative where the exact value lies in [1e-100, 1e100] (outside, a float64
result may legitimately round to 0 or overflow). Through every path: the reference (one
pair), the direct kernels (cdist, pdist) and the factored path (issue 13, items 2, 3, 5),
and the bounds every value keeps (item 4).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from mp_reference import REFERENCE, mp, to_mp

import divergences as dv
from divergences import edges

MEASURES = dv.measures()
IDS = [m.name for m in MEASURES]

#: (P, Q) pairs; each is also taken swapped
CASES = (
    ((1e-200, 1.0), (0.0, 1.0)),  # a square underflows where a denominator is 0
    ((5e-324, 1.0), (0.0, 1.0)),  # (x + y) / 2 rounds to 0 (Taneja)
    ((1e-160, 0.5), (1e-320, 0.5)),  # a subnormal denominator
    ((1e-170, 1e-170), (1.0, 1.0)),  # a row's squared norm underflows (cosine)
    ((1e-300, 1e-300), (1e-300, 0.0)),  # every product underflows
    ((1e-310, 0.5, 0.5), (1e-310, 0.3, 0.7)),  # a subnormal column
    ((0.5, 0.5), (1e-317, 1.0)),  # a ratio beyond float64 (1e316): its powers are not
)
PAIRS = [(np.array(p), np.array(q)) for a, b in CASES for p, q in ((a, b), (b, a))]


def exact(name: str, P: np.ndarray, Q: np.ndarray) -> float:
    """The reference at 800 digits, rounded to float64 (inf beyond its range)."""
    with mp.workdps(800):
        v = +REFERENCE[name](to_mp(P), to_mp(Q))
    if mp.isnan(v):
        return math.nan
    if mp.isinf(v) or abs(v) > 1.7e308:
        return math.copysign(math.inf, float(mp.sign(v)))
    return float(v)


def check(name: str, got: float, want: float, where: str) -> None:
    msg = f"{name} {where}: got {got!r}, exact {want!r}"
    if math.isnan(want):
        assert math.isnan(got), msg
        return
    assert not math.isnan(got), msg
    if math.isinf(want):
        assert got == want, msg
    elif 1e-100 <= abs(want) <= 1e100:
        assert got == pytest.approx(want, rel=1e-9), msg


@pytest.mark.sampled
@pytest.mark.parametrize("m", MEASURES, ids=IDS)
def test_edges_against_exact_values_on_every_path(m):
    for P, Q in PAIRS:
        want = exact(m.name, P, Q)
        where = f"at P={P.tolist()}, Q={Q.tolist()}"
        check(m.name, m(P, Q), want, "pair " + where)
        A, B = P[None], Q[None]
        check(m.name, float(dv.cdist(A, B, m, method="direct")[0, 0]), want, "direct " + where)
        check(m.name, float(dv.cdist(A, B, m)[0, 0]), want, "cdist " + where)
        if m.symmetric:
            check(m.name, float(dv.pdist(np.stack([P, Q]), m)[0]), want, "pdist " + where)


def bound_sets(m: dv.Measure, d: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """(range on probability rows, range anywhere on the domain), from the definition."""
    params = m.param_defaults()
    pdf = m.bounds.evaluate(d, params)
    if m.bounds.anywhere is not None:
        from divergences.expr import evaluate_scalar

        ns = {"d": float(d), **params}
        anywhere = tuple(evaluate_scalar(b, ns) for b in m.bounds.anywhere)
    elif m.properties.nonnegative.holds == "always":
        anywhere = (0.0, math.inf)
    else:
        anywhere = (-math.inf, math.inf)
    return pdf, anywhere


def within(v: np.ndarray, lo: float, hi: float) -> bool:
    v = v[~np.isnan(v)]
    return bool(np.all((v >= lo) & (v <= hi)))


@pytest.mark.parametrize("m", MEASURES, ids=IDS)
def test_values_stay_inside_their_own_bounds(m):
    """Rounding never puts a value outside the range the mathematics gives it: identical
    and random probability rows stay inside the definition's bounds, any rows of the domain
    inside the range that holds everywhere (Cauchy-Schwarz for cosine: scipy:cosine of a
    vector with itself was -2.2e-16, cosine 1.0000000000000002, Bhattacharyya and
    non-intersection -4e-16 on identical rows); every path (issue 13, item 4)."""
    rng = np.random.default_rng(11)
    d = 7
    X = rng.dirichlet(np.ones(d), size=60)
    R = rng.random((20, d)) * rng.uniform(0.1, 50.0, (20, 1))
    if m.domain == "real":
        R -= rng.random((20, d))
    (plo, phi), (alo, ahi) = bound_sets(m, d)
    for name, D in (
        ("direct", dv.cdist(X, X.copy(), m, method="direct")),
        ("cdist", dv.cdist(X, X.copy(), m)),
        ("reference", dv.cdist(X[:15], X[:15].copy(), m, backend="numpy")),
    ):
        assert within(D, plo, phi), (name, np.nanmin(D), np.nanmax(D), plo, phi)
    if m.symmetric:
        assert within(dv.pdist(X, m), plo, phi)
    assert within(np.array([m(x, x) for x in X[:10]]), plo, phi)
    assert within(dv.cdist(R, R.copy(), m), alo, ahi)


@pytest.mark.parametrize("name", sorted({m.name for m in MEASURES if edges.scaling(m)}))
def test_rows_far_apart_in_scale(name):
    """Scaling is per row where the value allows it (cosine: a call may mix 1e-170, ordinary
    and 1e300 rows) and per call otherwise (Jaccard, Dice, Kumar-Hassebrook: a call of tiny
    rows, or of huge rows, or an ordinary row against either); squares overflowing
    (1e300) or underflowing (1e-170) no longer give NaN or inf, and only an all-zero row
    gives the documented NaN (issue 13, item 3)."""
    tiny = np.array([[1e-170, 2e-170, 0.0], [3e-300, 1e-300, 0.0]])
    huge = np.array([[1e300, 1e300, 1.0], [2e300, 0.0, 1e300]])
    ordinary = np.array([[0.3, 0.1, 0.6]])
    zero = np.zeros((1, 3))
    m = dv.get(name)
    calls = [np.vstack([tiny, ordinary, huge, zero])]
    if edges.scaling(m) == "common":  # a common factor serves one scale per call
        calls = [np.vstack([tiny, zero]), np.vstack([huge, zero]), np.vstack([ordinary, tiny])]
    for X in calls:
        D = dv.cdist(X, X.copy(), name)
        rows = range(len(X) - (X[-1] == 0).all())
        for i in rows:
            for j in rows:
                both_tiny = max(X[i].max(), X[j].max()) < 1e-100 < X.max()
                if edges.scaling(m) == "common" and both_tiny:
                    continue  # two tiny rows in a call with larger ones: the documented limit
                check(name, float(D[i, j]), exact(name, X[i], X[j]), f"rows {X[i]}, {X[j]}")
        if (X[-1] == 0).all():
            assert np.isnan(D[-1, -1])


IDENTITY_ALWAYS = [
    m
    for m in dv.select(kind="dissimilarity")
    if m.properties.identity.holds == "always"
]


@pytest.mark.parametrize("m", IDENTITY_ALWAYS, ids=lambda m: m.name)
@pytest.mark.parametrize("row", [[1e-150], [1e-150, 3e-151], [1e-300, 1e-300]])
def test_a_tiny_row_against_itself_is_zero_at_every_parameter(m, row):
    """identity holds on every input, so f(P, P) = 0 also where P^alpha underflows (renyi at
    alpha = 3 of P = (1e-150) gave -inf: x^3 y^-2 rounded to 0 before it was x (x/y)^2)."""
    X = np.array([row])
    for params in m.param_grid():
        assert dv.cdist(X, X, m, **params)[0, 0] == 0.0, (m.name, params, row)
        assert m(X[0], X[0], **params) == 0.0, (m.name, params, row)
