"""The zero-rule helper vocabulary of :mod:`divergences.kernels.helpers`.

Every measure handles zeros only through these helpers, and later back ends must
mirror them one to one, so each rule is pinned down here on the grid
{0, 5e-324 (subnormal), 1e-300, 1e-8, 0.5, 1, 2, 1e300, inf, nan} x the same grid.
Finite positive values are compared with mpmath at 50 digits (or exact rational
arithmetic); the zero, inf and nan cases with the rule stated in each test.
"""

from __future__ import annotations

import math
from fractions import Fraction

import array_api_compat
import mpmath
import numpy as np
import pytest

from divergences.kernels.helpers import LOG1PMX_SERIES_BELOW, vocabulary

mpmath.mp.dps = 50

V = vocabulary(array_api_compat.array_namespace(np.empty(0)))

INF = math.inf
NAN = math.nan
TINY = 5e-324  # the smallest subnormal
GRID = (0.0, TINY, 1e-300, 1e-8, 0.5, 1.0, 2.0, 1e300, INF, NAN)
FINITE_POS = tuple(v for v in GRID if 0 < v < INF)
PAIRS = [(a, b) for a in GRID for b in GRID]
PAIR_IDS = [f"{a!r}-{b!r}" for a, b in PAIRS]
ULP0 = math.ulp(0.0)  # 5e-324: absolute resolution of subnormal results


def call(name: str, *args: float) -> float:
    """Evaluate helper ``name`` on float64 scalars (warnings silenced) as a Python float."""
    with np.errstate(all="ignore"):
        return float(V[name](*(np.float64(a) for a in args)))


def same(got: float, want: float, rel: float = 0.0) -> bool:
    """``got`` equals ``want``: nan matches nan, infinities exactly, finite within ``rel``."""
    if math.isnan(want):
        return math.isnan(got)
    if math.isinf(want) or want == 0 or rel == 0:
        return got == want or (want == 0 and abs(got) <= ULP0 and rel > 0)
    return abs(got - want) <= rel * abs(want) + 2 * ULP0


def mp_float(x: mpmath.mpf) -> float:
    """Round an mpmath value to the nearest float64 (overflow to inf)."""
    try:
        return float(x)
    except OverflowError:
        return math.copysign(INF, float(mpmath.sign(x)))


# --- div0 ---------------------------------------------------------------------------------


def ref_div0(a: float, b: float) -> float:
    """Rule: ``a == 0`` gives 0 whatever ``b`` is (0/0 = 0: the term vanishes, even 0/nan);
    otherwise IEEE ``a / b``: x/0 = inf for x > 0, x/inf = 0, inf/inf = nan, nan propagates;
    finite quotients correctly rounded (exact rational arithmetic)."""
    if a == 0:
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return NAN
    if b == 0:
        return INF
    if math.isinf(a) and math.isinf(b):
        return NAN
    if math.isinf(a):
        return INF
    if math.isinf(b):
        return 0.0
    try:
        return float(Fraction(a) / Fraction(b))
    except OverflowError:
        return INF


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=PAIR_IDS)
def test_div0(a, b):
    """div0(a, b) = a / b with 0 / 0 = 0 and x / 0 = inf (see ref_div0 for every case)."""
    assert same(call("div0", a, b), ref_div0(a, b)), (a, b, call("div0", a, b))


# --- nz -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "e"), PAIRS, ids=PAIR_IDS)
def test_nz(a, e):
    """nz(a, eps): an exact zero becomes eps; every other value (subnormal, inf, nan) is kept."""
    want = e if a == 0 else a
    assert same(call("nz", a, e), want), (a, e, call("nz", a, e))


# --- xlogy ----------------------------------------------------------------------------------


def ref_xlogy(a: float, b: float) -> float:
    """Rule: ``a == 0`` gives 0 whatever ``b`` is (0 log 0 = 0, 0 log inf = 0, 0 log nan = 0);
    otherwise IEEE ``a * log(b)``: log 0 = -inf, log inf = inf, inf * log 1 = inf * 0 = nan,
    nan propagates; finite values as mpmath's a * ln(b)."""
    if a == 0:
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return NAN
    if b == 0:
        return -INF
    if math.isinf(b):
        return INF
    if math.isinf(a):
        return NAN if b == 1 else math.copysign(INF, b - 1)
    return mp_float(mpmath.mpf(a) * mpmath.log(mpmath.mpf(b)))


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=PAIR_IDS)
def test_xlogy(a, b):
    """xlogy(a, b) = a log b with 0 log(anything) = 0 (see ref_xlogy for every case)."""
    assert same(call("xlogy", a, b), ref_xlogy(a, b), rel=4e-16), (a, b, call("xlogy", a, b))


# --- kl_elem, kl_mid, sqrt_diff_sq ------------------------------------------------------------


def mp_kl(a: float, b: float) -> mpmath.mpf:
    """a ln(a / b) - a + b at 50 digits (a, b > 0)."""
    x, y = mpmath.mpf(a), mpmath.mpf(b)
    return x * mpmath.log(x / y) - x + y


def ref_kl_elem(a: float, b: float) -> float:
    """Rule: kl_elem(a, b) = a ln(a/b) - a + b >= 0.  a == 0: the 0 ln 0 = 0 convention gives
    b (whatever b, so inf -> inf, nan -> nan); a > 0 with b == 0: +inf; nan propagates;
    finite positive values as mpmath (relative 1e-14)."""
    if a == 0:
        return b
    if math.isnan(a) or math.isnan(b):
        return NAN
    if b == 0:
        return INF
    return mp_float(mp_kl(a, b))


def ref_kl_mid(a: float, b: float) -> float:
    """Rule: kl_mid(a, b) = kl_elem(a, (a + b) / 2) = a ln(2a / (a + b)) + (b - a) / 2, with
    the midpoint not rounded.  a == 0 gives b / 2 (inf -> inf, nan -> nan); b == 0 < a gives
    a (ln 2 - 1/2), finite; nan propagates; finite positive values as mpmath."""
    if a == 0:
        return b / 2
    if math.isnan(a) or math.isnan(b):
        return NAN
    x, y = mpmath.mpf(a), mpmath.mpf(b)
    return mp_float(x * mpmath.log(2 * x / (x + y)) + (y - x) / 2)


def ref_sqrt_diff_sq(a: float, b: float) -> float:
    """Rule: (sqrt a - sqrt b)^2, computed as ((a - b) / (sqrt a + sqrt b))^2 with the 0/0
    of a == b == 0 giving 0; nan propagates; finite values as mpmath."""
    if math.isnan(a) or math.isnan(b):
        return NAN
    return mp_float((mpmath.sqrt(mpmath.mpf(a)) - mpmath.sqrt(mpmath.mpf(b))) ** 2)


LIMIT_HELPERS = {
    "kl_elem": ref_kl_elem,
    "kl_mid": ref_kl_mid,
    "sqrt_diff_sq": ref_sqrt_diff_sq,
}
FINITE_OR_NAN_PAIRS = [(a, b) for a, b in PAIRS if not (math.isinf(a) or math.isinf(b))]
# near-equal pairs (the regime where naive forms cancel) and pairs whose sum overflows
EXTRA_PAIRS = [
    (1.0, 1.0 + 1e-10),
    (0.3, 0.3 * (1 + 1e-6)),
    (0.3 * (1 + 1e-6), 0.3),
    (0.125, 0.125 * (1 - 1e-3)),
    (2.0, 2.4),
    (2.4, 2.0),
    (1e-300, 1.5e-300),
    (1e308, 1.7e308),
    (1.7e308, 1e308),
]


@pytest.mark.parametrize("name", sorted(LIMIT_HELPERS))
@pytest.mark.parametrize(
    ("a", "b"),
    FINITE_OR_NAN_PAIRS + EXTRA_PAIRS,
    ids=[f"{a!r}-{b!r}" for a, b in FINITE_OR_NAN_PAIRS + EXTRA_PAIRS],
)
def test_limit_helpers_finite_and_nan(name, a, b):
    """kl_elem / kl_mid / sqrt_diff_sq on finite and nan arguments (rules in ref_*).

    Relative 1e-13 against mpmath: 1e-14 on the grid (worst seen 7e-16); the near-equal
    pairs go through log1pmx, whose own accuracy is checked below.
    """
    got = call(name, a, b)
    want = LIMIT_HELPERS[name](a, b)
    assert same(got, want, rel=1e-13), (name, a, b, got, want)
    if 0 < a < INF and 0 < b < INF and name != "sqrt_diff_sq":
        assert got >= 0, "a Bregman element a ln(a/b) - a + b is never negative"


@pytest.mark.parametrize("name", sorted(LIMIT_HELPERS))
@pytest.mark.parametrize("a", (*FINITE_POS, 0.0))
def test_limit_helpers_vanish_at_equal_arguments(name, a):
    """Rule: every one of them is exactly 0 at a == b (0 included: 0/0 gives 0)."""
    assert call(name, a, a) == 0


@pytest.mark.parametrize("name", sorted(LIMIT_HELPERS))
def test_limit_helpers_infinite_arguments(name):
    """Rule at inf: the extended-real limit where it exists, nan where it does not.

    kl_elem(a, inf) = inf (the + b term dominates), kl_elem(inf, b) = inf for finite b
    (a ln(a/b) - a grows without bound), kl_elem(0, inf) = inf (the a == 0 rule gives b);
    kl_mid likewise (a (ln 2 - 1/2) > 0 for b = 0 < a = inf); sqrt_diff_sq(a, inf) =
    sqrt_diff_sq(inf, a) = inf for finite a.  (inf, inf) has no limit: nan.  nan stays nan.
    These inputs reach the helpers only with check_finite=False, as (for comparison)
    euclidean's (x - y)**2 already gives inf there.
    """
    wrong = []
    for a, b in PAIRS:
        if not (math.isinf(a) or math.isinf(b)):
            continue
        if math.isnan(a) or math.isnan(b):
            want = NAN
        elif math.isinf(a) and math.isinf(b):
            want = NAN
        else:
            want = INF
        got = call(name, a, b)
        if not same(got, want):
            wrong.append(f"{name}({a!r}, {b!r}) = {got!r}, expected {want!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", ["div0", "nz", "xlogy", "kl_elem", "kl_mid", "sqrt_diff_sq"])
def test_helpers_broadcast_elementwise(name):
    """The helpers work elementwise on broadcast arrays exactly as on scalars."""
    g = np.array(GRID)
    with np.errstate(all="ignore"):
        table = np.asarray(V[name](g[:, None], g[None, :]))
    assert table.shape == (len(GRID), len(GRID))
    assert table.dtype == np.float64
    scalar = np.array([[call(name, a, b) for b in GRID] for a in GRID])
    np.testing.assert_array_equal(table, scalar)


# --- log1pmx ----------------------------------------------------------------------------------


def ref_log1pmx(r: float) -> float:
    return mp_float(mpmath.log1p(mpmath.mpf(r)) - mpmath.mpf(r))


NAMED_R = sorted(
    {
        s * v
        for v in (
            1e-300,
            1e-16,
            1e-12,
            1e-8,
            1e-5,
            1e-3,
            0.00999,
            LOG1PMX_SERIES_BELOW,
            0.01001,
            0.0101,
            0.011,
            0.015,
            0.02,
            0.05,
            0.1,
            0.5,
        )
        for s in (1, -1)
    }
    | {-0.9, -0.75, 1.0, 2.0, 3.5, 10.0}
)


@pytest.mark.parametrize("r", NAMED_R, ids=[f"{r!r}" for r in NAMED_R])
def test_log1pmx_named_points(r):
    """log1pmx(r) = log(1 + r) - r to relative 1e-14 for r in [-0.9, 10], tiny |r| included
    (where the textbook log1p(r) - r loses every digit), on both sides of the switch
    between the series and log1p at |r| = LOG1PMX_SERIES_BELOW."""
    got = call("log1pmx", r)
    want = ref_log1pmx(r)
    assert got <= 0, "log(1 + r) <= r"
    assert abs(got - want) <= 1e-14 * abs(want) + ULP0, (r, got, want, abs(got / want - 1))


def test_log1pmx_sweep():
    """Relative 1e-14 on a dense sweep of [-0.9, 10], with extra density at 1e-3 < |r| < 0.5.

    Reports the worst point: the direct form log1p(r) - r cancels for |r| just above the
    series threshold (it loses about log2(2 / |r|) bits), so that is where it shows.
    """
    rs = np.concatenate(
        [
            np.linspace(-0.9, 10, 1201),
            np.geomspace(1e-3, 0.5, 801),
            -np.geomspace(1e-3, 0.5, 801),
        ]
    )
    got = np.asarray(V["log1pmx"](rs))
    want = np.array([ref_log1pmx(float(r)) for r in rs])
    with np.errstate(all="ignore"):
        rel = np.where(want == 0, np.abs(got), np.abs(got - want) / np.abs(want))
    i = int(np.argmax(rel))
    bad = rs[rel > 1e-14]
    assert rel[i] <= 1e-14, (
        f"worst relative error {rel[i]:.3g} at r = {rs[i]!r}; {bad.size} of {rs.size} points "
        f"exceed 1e-14, in [{bad.min() if bad.size else 0:.6g}, "
        f"{bad.max() if bad.size else 0:.6g}] (|r|: {np.abs(bad).min() if bad.size else 0:.6g}"
        f" .. {np.abs(bad).max() if bad.size else 0:.6g})"
    )


def test_log1pmx_special_values():
    """Rules: log1pmx(0) = 0 exactly; a subnormal r gives 0 (r^2 / 2 underflows);
    log1pmx(-1) = log(0) + 1 = -inf; r < -1 (outside log's domain) and nan give nan."""
    assert call("log1pmx", 0.0) == 0
    assert call("log1pmx", TINY) == 0
    assert call("log1pmx", -TINY) == 0
    assert call("log1pmx", -1.0) == -INF
    assert math.isnan(call("log1pmx", -2.0))
    assert math.isnan(call("log1pmx", NAN))


# --- the vocabulary itself --------------------------------------------------------------------


def test_vocabulary_covers_the_expression_language():
    """Every function and constant of the expression language has an implementation."""
    from divergences.expr import CONSTANTS, FUNCTIONS

    assert set(FUNCTIONS) | CONSTANTS <= set(V)
    assert V["inf"] == INF
    assert math.isnan(V["nan"])


def test_vocabulary_is_cached_per_namespace():
    xp = array_api_compat.array_namespace(np.empty(0))
    assert vocabulary(xp) is V


# --- the compiled back end's copy of the vocabulary -------------------------------------------

BINARY = ("div0", "nz", "xlogy", "kl_elem", "kl_mid", "sqrt_diff_sq")


@pytest.mark.parametrize("name", BINARY)
def test_numba_helpers_equal_the_reference_on_the_grid(name):
    """divergences.kernels.numba_helpers mirrors the vocabulary one to one: the same zero,
    inf and nan results on every grid pair, finite values equal up to rounding (relative
    1e-14: numba's log/log1p are not numpy's bit for bit)."""
    pytest.importorskip("numba")
    from divergences.kernels import numba_helpers

    f = getattr(numba_helpers, name)
    wrong = []
    for a, b in PAIRS + EXTRA_PAIRS:
        want = call(name, a, b)
        got = float(f(a, b))
        if not same(got, want, rel=0 if want == 0 else 1e-14):
            wrong.append(f"{name}({a!r}, {b!r}): numba {got!r}, reference {want!r}")
    assert not wrong, "\n".join(wrong)


def test_numba_log1pmx_equals_the_reference():
    pytest.importorskip("numba")
    from divergences.kernels import numba_helpers

    rs = [*NAMED_R, *np.linspace(-0.9, 10, 301).tolist(), 0.0, -1.0, math.nan]
    wrong = []
    for r in rs:
        want = call("log1pmx", r)
        got = float(numba_helpers.log1pmx(r))
        if not same(got, want, rel=0 if want == 0 else 1e-14):
            wrong.append(f"log1pmx({r!r}): numba {got!r}, reference {want!r}")
    assert not wrong, "\n".join(wrong)


def test_numba_kl_mid_matches_the_reference_across_scales():
    """The branch-free kl_mid (its own logarithm, see numba_helpers) against the array-API
    version on random pairs over the whole float64 range, near and far from a = b, and on
    every pair of special values: the same zero, inf and nan placement, finite values equal
    up to rounding (relative 1e-14 where both arguments are normal)."""
    pytest.importorskip("numba")
    from divergences.kernels import numba_helpers

    rng = np.random.default_rng(7)
    n = 20000
    a1 = np.exp(rng.uniform(-700, 700, n))
    b1 = a1 * np.exp(rng.uniform(-5, 5, n))
    a2 = rng.exponential(size=n)
    b2 = a2 * (1 + rng.uniform(-1, 1, n) * 10 ** rng.uniform(-12, 0, n))
    a3 = np.exp(rng.uniform(-745, 709, n))
    b3 = np.exp(rng.uniform(-745, 709, n))
    special = [*GRID, 1e-310, 1.7e308, -0.0, 0.5 * (1 + 2**-52), 0.25, 0.75, 1.5]
    sa = [x for x in special for _ in special]
    sb = [y for _ in special for y in special]
    A = np.concatenate([a1, b1, a2, b2, a3, sa])
    B = np.concatenate([b1, a1, b2, a2, b3, sb])
    with np.errstate(all="ignore"):
        want = np.asarray(V["kl_mid"](A, B))
    got = np.array([numba_helpers.kl_mid(x, y) for x, y in zip(A.tolist(), B.tolist())])
    assert np.array_equal(np.isnan(got), np.isnan(want))
    special_value = ~np.isfinite(want) | (want == 0)
    assert np.array_equal(got[special_value], want[special_value], equal_nan=True)
    normal = ~special_value & (np.minimum(A, B) >= 2.2250738585072014e-308)
    assert np.all(np.abs(got[normal] - want[normal]) <= 1e-14 * np.abs(want[normal]))
    rest = ~special_value & ~normal
    assert np.all(np.abs(got[rest] - want[rest]) <= 1e-13 * np.abs(want[rest]) + 2 * ULP0)
