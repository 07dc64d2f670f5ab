"""Factored forms derived from the definitions (divergences/kernels/factored/).

Measures whose terms expand into separable monomials (KL = sum P log P - P . log Q,
squared Euclidean = |P|^2 + |Q|^2 - 2 P . Q, Pearson = P^2 . (1/Q) - 2 sum P + sum Q,
Hellinger from sqrt P . sqrt Q, ...) run as per-row sums and BLAS products. Checked here:
which measures factor; that ``method="auto"`` (the factored path with its error guard)
equals the reference to 1e-10 with inf/NaN in the same places on random rows, zeros,
disjoint supports, all-zero rows and awkward shapes; that near P = Q, where the factored
form cancels, the guard hands the pairs to the direct kernel (within 1e-6 of the mpmath
value); and that the raw factored form really would have been wrong there.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import divergences as dv
from divergences.kernels import factored
from divergences.kernels.factored import driver

try:
    import mp_reference as ref
except ImportError:  # pragma: no cover - pytest run with --import-mode=importlib
    sys.path.insert(0, str(Path(__file__).parent))
    import mp_reference as ref


def guarded_cdist(A, B, name):
    """What ``dv.cdist(A, B, name)`` gives through the factored path, and how many pairs its
    guard recomputed (the call's statistic: the factored path keeps no state)."""
    m = dv.get(name)
    return factored.cdist_stats(m, A, B, zero="strict", eps=1e-5, params=m.param_defaults())


def _plans() -> list[tuple[str, str, object]]:
    """(measure, zero mode, plan) of every measure the factored planner expands, asked of
    the planner: a measure gets this file's tests because it factors, never by a list."""
    out = []
    for m in dv.measures():
        for zero in ("strict", "epsilon") if m.epsilon is not None else ("strict",):
            pl = factored.plan(m, zero)
            if pl is not None and pl.guarded:
                out.append((m.name, zero, pl))
    return out


def _mixed(pl) -> bool:
    """Whether the plan has a per-pair sum of (a x + b y) log(x + y) (mixed_log.py)."""
    return any(
        getattr(mono, "mixed", False)
        for acc in pl.accs.values()
        if isinstance(acc, factored.Expanded)
        for mono in acc.monos
    )


PLANS = _plans()
# (measure, zero mode) pairs that get an expanded (guarded) factored form
EXPANDED = [(n, z) for n, z, _ in PLANS]
MIXED = sorted({n for n, z, pl in PLANS if _mixed(pl)})
EXPANDED_IDS = [f"{n}-{z}" for n, z in EXPANDED]
# the survey's own rows that must keep their expanded form (a regression guard of the
# planner on Cha's rows; anything else the planner expands is tested too, via EXPANDED)
SURVEY_ROWS_EXPANDED = {
    ("kullback_leibler", "strict"),
    ("kullback_leibler", "epsilon"),
    ("jeffreys", "strict"),
    ("jeffreys", "epsilon"),
    ("pearson", "strict"),
    ("pearson", "epsilon"),
    ("neyman", "strict"),
    ("neyman", "epsilon"),
    ("additive_symmetric_chi", "strict"),
    ("additive_symmetric_chi", "epsilon"),
    ("max_symmetric_chi_square", "strict"),
    ("max_symmetric_chi_square", "epsilon"),
    ("min_symmetric_chi_square", "strict"),
    ("min_symmetric_chi_square", "epsilon"),
    ("kumar_johnson", "strict"),
    ("kumar_johnson", "epsilon"),
    ("squared_euclidean", "strict"),
    ("euclidean", "strict"),
    ("jaccard", "strict"),
    ("jaccard", "epsilon"),
    ("dice", "strict"),
    ("hellinger", "strict"),
    ("matusita", "strict"),
    ("squared_chord", "strict"),
    # kl_mid(x, y) = x log(2x) - x log(x + y) + (y - x) / 2: per-row sums plus the per-pair
    # sum of (alpha x + beta y) log(x + y) (divergences/kernels/mixed_log.py)
    ("jensen_shannon", "strict"),
    ("topsoe", "strict"),
    ("jensen_difference", "strict"),
    ("k_divergence", "strict"),
}
# no separable expansion: logs of sums, min/max/abs of differences, ratios of sums
NOT_SEPARABLE = [
    "taneja",
    "manhattan",
    "chebyshev",
    "minkowski",
    "canberra",
    "lorentzian",
    "squared_chi",
    "clark",
    "intersection",
    "vicis_wave_hedges",
    "harmonic_mean",
]


def assert_same(got: np.ndarray, want: np.ndarray, rtol: float = 1e-10) -> None:
    """Equal to ``rtol`` with NaN, +inf and -inf in exactly the same places."""
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=0)


def random_rows(m: int, n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((m, d)) + 0.01, rng.random((n, d)) + 0.01


def zero_rows(m: int, n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Zeros in both, an all-zero row on each side, disjoint supports, an identical pair."""
    rng = np.random.default_rng(seed)
    A = rng.dirichlet(np.ones(d), size=m) * (rng.random((m, d)) < 0.6)
    B = rng.dirichlet(np.full(d, 0.3), size=n) * (rng.random((n, d)) < 0.7)
    A[1] = 0.0
    B[3] = 0.0
    B[2, : d // 2] = 0.0
    A[0, d // 2 :] = 0.0  # disjoint from B[2]
    A[2] = B[4]  # identical pair (exactly 0 for divergences)
    A[4, :] = 0.0
    A[4, 0] = 1.0  # a point mass
    B[5, :] = 0.0
    B[5, -1] = 1.0  # another point mass, disjoint from A[4]
    return A, B


def near_rows(m: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Q = P (1 + 1e-6 e), renormalised: every diagonal pair is near-identical."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(d), size=m)
    Q = P * (1.0 + 1e-6 * rng.uniform(-1.0, 1.0, P.shape))
    return P, Q / Q.sum(axis=1, keepdims=True)


def both(name: str, zero: str, A: np.ndarray, B: np.ndarray, **kw) -> tuple[np.ndarray, ...]:
    """(auto, numpy reference, direct kernel) for the same call."""
    auto = dv.cdist(A, B, name, zero=zero, **kw)
    refv = dv.cdist(A, B, name, zero=zero, backend="numpy", **kw)
    direct = dv.cdist(A, B, name, zero=zero, method="direct", **kw)
    return auto, refv, direct


# -- which measures factor ---------------------------------------------------------------
def test_survey_rows_keep_their_expanded_forms():
    assert SURVEY_ROWS_EXPANDED <= set(EXPANDED)
    assert {"jensen_shannon", "topsoe", "jensen_difference", "k_divergence"} <= set(MIXED)


@pytest.mark.parametrize(("name", "zero"), EXPANDED, ids=EXPANDED_IDS)
def test_expanded_forms_are_detected_and_guarded(name, zero):
    pl = factored.plan(dv.get(name), zero)
    assert pl is not None and pl.guarded
    assert factored.factorable(dv.get(name), zero)
    assert any(isinstance(a, factored.Expanded) for a in pl.accs.values())


@pytest.mark.parametrize("name", NOT_SEPARABLE)
def test_measures_without_a_separable_expansion_run_direct(name):
    for zero in ("strict", "epsilon"):
        assert not factored.factorable(dv.get(name), zero)


def test_plain_products_keep_the_unguarded_path():
    for name in ("inner_product", "cosine", "fidelity", "bhattacharyya", "cosine_distance"):
        pl = factored.plan(dv.get(name), "strict")
        assert pl is not None and not pl.guarded


def test_kl_is_sum_p_log_p_minus_one_product():
    """KL's two accumulators (sum kl_elem and sum (x - y)) fold into one whose monomials
    cancel to the textbook split: a per-row sum and a single GEMM."""
    pl = factored.plan(dv.get("kullback_leibler"), "strict")
    ((name, acc),) = pl.accs.items()
    assert pl.finalize == f"{name} / 1.0"  # log(base), bound to the default base e
    assert sorted((m.coef, m.f, m.g) for m in acc.monos) == [
        (-1.0, "(x)", "(log(y))"),
        (1.0, "(log(x)) * (x)", ""),
    ]


def test_js_family_is_row_sums_and_one_mixed_log_sum():
    """JS = (sum x log 2x + sum y log 2y - sum (x + y) log(x + y)) / 2: per-row sums and one
    logarithm per element, alpha = beta = -1 (K divergence: alpha = -1, beta = 0)."""
    ((_, acc),) = factored.plan(dv.get("jensen_shannon"), "strict").accs.items()
    assert sorted((m.coef, m.f, m.g, m.mixed) for m in acc.monos) == [
        (-1.0, "", "(y)", True),
        (-1.0, "(x)", "", True),
        (1.0, "", "(log(2 * y)) * (y)", False),
        (1.0, "(log(2 * x)) * (x)", "", False),
    ]
    ((_, acc),) = factored.plan(dv.get("k_divergence"), "strict").accs.items()
    assert [(m.coef, m.f, m.g) for m in acc.monos if m.mixed] == [(-1.0, "(x)", "")]


def test_expansion_algebra():
    ex = factored.expand
    assert {(m.coef, m.f, m.g) for m in ex("(x - y)**2", "real")} == {
        (1.0, "(x) ** 2", ""),
        (-2.0, "(x)", "(y)"),
        (1.0, "", "(y) ** 2"),
    }
    # division by a monomial cancels powers: (x - y)^2 / y = x^2 / y - 2 x + y
    assert {(m.coef, m.f, m.g) for m in ex("div0((x - y)**2, y)")} == {
        (1.0, "(x) ** 2", "1 / ((y))"),
        (-2.0, "(x)", ""),
        (1.0, "", "(y)"),
    }
    assert {(m.coef, m.f, m.g) for m in ex("sqrt_diff_sq(x, y)")} == {
        (1.0, "(x)", ""),
        (-2.0, "(sqrt(x))", "(sqrt(y))"),
        (1.0, "", "(y)"),
    }
    for term in (
        "min(x, y)",
        "abs(x - y)",
        "log(x + y)",
        "div0(x - y, x + y)",
        "x**2 * log(x + y)",
    ):
        assert ex(term) is None, term
    # log(c (x + y)) is the mixed atom, in monomials x log(x + y) and y log(x + y) only
    assert {(m.coef, m.f, m.g, m.mixed) for m in ex("kl_mid(x, y)")} == {
        (1.0, "(log(2 * x)) * (x)", "", False),
        (-1.0, "(x)", "", True),
        (-0.5, "(x)", "", False),
        (0.5, "", "(y)", False),
    }
    assert {(m.coef, m.f, m.g, m.mixed) for m in ex("y * log((x + y) / 2)")} == {
        (-math.log(2), "", "(y)", False),
        (1.0, "", "(y)", True),
    }
    assert ex("log(x + y)", "real") is None  # x + y may be <= 0 there
    assert ex("x * log(x + 2 * y)") is None
    # a log or sqrt of a monomial needs positive atoms: not on the real domain
    assert ex("log(x / y)", "real") is None
    assert ex("log(x / y)") is not None


# -- values equal the reference --------------------------------------------------------------
SHAPES = [(1, 1, 4), (7, 13, 5), (6, 9, 1), (3, 5, 300), (16, 11, 24)]


@pytest.mark.parametrize(("name", "zero"), EXPANDED, ids=EXPANDED_IDS)
def test_auto_equals_reference_on_random_rows(name, zero):
    for params in dv.get(name).param_grid():  # every test value of every parameter
        for i, (m, n, d) in enumerate(SHAPES):
            A, B = random_rows(m, n, d, seed=i)
            auto, refv, direct = both(name, zero, A, B, **params)
            assert_same(auto, refv)
            assert_same(auto, direct, rtol=1e-12)


@pytest.mark.parametrize(("name", "zero"), EXPANDED, ids=EXPANDED_IDS)
def test_auto_equals_reference_with_zeros_and_disjoint_supports(name, zero):
    for seed, d in ((1, 6), (2, 17), (3, 40)):
        A, B = zero_rows(9, 8, d, seed)
        auto, refv, direct = both(name, zero, A, B)
        assert_same(auto, refv)
        assert_same(auto, direct, rtol=1e-12)
        # the raw factored form already has the zero rules' inf/NaN pattern
        m = dv.get(name)
        raw = factored.cdist(m, A, B, zero=zero, eps=1e-5, params=m.param_defaults(), guard=False)
        np.testing.assert_array_equal(np.isposinf(raw), np.isposinf(refv))
        np.testing.assert_array_equal(np.isneginf(raw), np.isneginf(refv))


@pytest.mark.parametrize(("name", "zero"), EXPANDED, ids=EXPANDED_IDS)
def test_auto_equals_reference_with_other_epsilon_and_base(name, zero):
    A, B = zero_rows(7, 9, 12, seed=5)
    m = dv.get(name)
    kw = {"epsilon": 1e-3}
    if any(p.name == "base" for p in m.params):
        kw["base"] = 2.0
    auto, refv, _ = both(name, zero, A, B, **kw)
    assert_same(auto, refv)


def test_zero_rules_exactly():
    """0 log 0 = 0, p log(p / 0) = inf, x / 0 = inf: inf where the coincidence is, finite
    (and exact 0 for P = Q) elsewhere."""
    A = np.array([[0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])
    B = np.array([[0.5, 0.0, 0.5], [0.25, 0.75, 0.0], [0.5, 0.5, 0.0]])
    kl = dv.cdist(A, B, "kullback_leibler")
    assert np.isposinf(kl[0, 0]) and kl[0, 2] == 0.0 and kl[1, 0] == 0.0
    assert math.isfinite(kl[0, 1]) and kl[2].tolist() == [0.0, 0.0, 0.0]
    pe = dv.cdist(A, B, "pearson")
    assert np.isposinf(pe[0, 0]) and pe[0, 2] == 0.0 and math.isfinite(pe[0, 1])
    assert np.isposinf(dv.cdist(A, B, "jeffreys")[0, 0])
    assert np.isfinite(dv.cdist(A, B, "kullback_leibler", zero="epsilon")).all()
    for name in ("kullback_leibler", "pearson", "neyman", "jeffreys", "hellinger"):
        for zero in ("strict", "epsilon"):
            assert_same(*both(name, zero, A, B)[:2])


def test_float32_and_integer_input():
    A, B = zero_rows(6, 7, 9, seed=11)
    for name in ("kullback_leibler", "squared_euclidean", "pearson"):
        got = dv.cdist(A.astype(np.float32), B.astype(np.float32), name)
        want = dv.cdist(
            A.astype(np.float32).astype(np.float64),
            B.astype(np.float32).astype(np.float64),
            name,
            backend="numpy",
        )
        assert_same(got, want)
    I = np.arange(12).reshape(3, 4) % 5  # noqa: E741 - a matrix
    assert_same(dv.cdist(I, I, "squared_euclidean"), dv.cdist(I, I, "sqeuclidean", backend="numpy"))


def test_method_factored_is_the_guarded_path():
    A, B = near_rows(5, 30, seed=3)
    for name in ("kullback_leibler", "hellinger", "squared_euclidean"):
        assert_same(dv.cdist(A, B, name, method="factored"), dv.cdist(A, B, name), rtol=0)


# -- the guard --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    sorted(
        {n for n, z in EXPANDED if z == "strict"}
        & set(ref.REFERENCE)
        - {"kumar_johnson"}  # its own direct form cancels too (not claimed near P = Q)
    ),
)
def test_near_identical_rows_are_accurate(name):
    """Q = P (1 + 1e-6 e): the factored form cancels, the guard recomputes those pairs, and
    the results are within 1e-6 relative of the mpmath value (docs/DECISIONS.md, Accuracy)."""
    P, Q = near_rows(4, 37, seed=21)
    got = dv.cdist(P, Q, name)
    raw, stats = guarded_cdist(P, Q, name)
    assert_same(raw, got, rtol=0)
    assert stats.recomputed >= 4  # at least the near-identical diagonal
    for i in range(4):
        exact = ref.evaluate(name, P[i], Q[i])
        assert abs(got[i, i] - exact) <= 1e-6 * abs(exact), (i, got[i, i], float(exact))
    assert_same(got, dv.cdist(P, Q, name, backend="numpy"))


# philentropy's epsilon rules for these take log(x / y) of a ratio within 1e-6 of 1: the
# definition itself keeps only about 10 digits there, so the direct kernel's single-pair
# function (which recomputes the guarded pairs) and its cdist kernel differ by ~1e-10
ILL_CONDITIONED_NEAR = {("kullback_leibler", "epsilon"), ("jeffreys", "epsilon")}


@pytest.mark.sampled
@pytest.mark.parametrize(("name", "zero"), EXPANDED, ids=EXPANDED_IDS)
def test_near_identical_rows_equal_the_direct_kernel(name, zero):
    rtol = 1e-9 if (name, zero) in ILL_CONDITIONED_NEAR else 1e-12
    P, Q = near_rows(6, 20, seed=4)
    got = dv.cdist(P, Q, name, zero=zero)
    assert_same(got, dv.cdist(P, Q, name, zero=zero, method="direct"), rtol=rtol)
    same = dv.cdist(P, P, name, zero=zero)
    assert_same(same, dv.cdist(P, P, name, zero=zero, method="direct"), rtol=rtol)


def test_the_raw_factored_form_cancels_near_p_equals_q():
    """Why the guard exists: without it KL near P = Q loses most of its digits."""
    P, Q = near_rows(3, 64, seed=8)
    m = dv.get("kullback_leibler")
    raw = factored.cdist(m, P, Q, zero="strict", eps=1e-5, params=m.param_defaults(), guard=False)
    exact = [float(ref.evaluate(m.name, P[i], Q[i])) for i in range(3)]
    worst = max(abs(raw[i, i] - exact[i]) / exact[i] for i in range(3))
    assert worst > 1e-6
    guarded = dv.cdist(P, Q, m)
    assert max(abs(guarded[i, i] - exact[i]) / exact[i] for i in range(3)) < 1e-9


def test_well_conditioned_pairs_keep_the_factored_value():
    """On independent probability rows (almost) no pair needs the direct kernel, and the
    factored values are within 1e-12 of the direct ones (and of mpmath on a few)."""
    rng = np.random.default_rng(2)
    A, B = rng.dirichlet(np.ones(64), size=30), rng.dirichlet(np.ones(64), size=25)
    for name in sorted({n for n, _ in EXPANDED}):
        got = dv.cdist(A, B, name)
        same, stats = guarded_cdist(A, B, name)
        assert_same(same, got, rtol=0)
        # a few pairs may be recomputed where two branches meet (min/max of expansions)
        assert stats.recomputed <= A.shape[0] * B.shape[0] // 100, name
        assert_same(got, dv.cdist(A, B, name, method="direct"), rtol=1e-12)
        for i, j in ((0, 0), (7, 3), (29, 24)):
            exact = ref.evaluate(name, A[i], B[j])
            assert abs(got[i, j] - exact) <= 1e-12 * abs(exact), (name, i, j)


def test_non_finite_and_extreme_rows_go_to_the_direct_kernel():
    A, B = random_rows(5, 6, 8, seed=9)
    A[1, 2] = np.inf
    B[2, 0] = np.nan
    A[3, 1] = 1e-310  # subnormal: x * y could underflow
    B[4, 5] = 1e250  # x * y could overflow
    for name in ("kullback_leibler", "pearson", "squared_euclidean", "hellinger"):
        got = dv.cdist(A, B, name, check_finite=False)
        want = dv.cdist(A, B, name, check_finite=False, method="direct")
        assert_same(got, want, rtol=1e-12)


def test_blocks_and_fallback_paths(monkeypatch):
    """Small blocks (several BLAS calls and sub-blocks) and each way of recomputing pairs
    (one by one, blocks of rows against some columns, whole rows) give the direct values."""
    P, Q = near_rows(23, 16, seed=5)
    Q[::3] = P[::3]  # identical pairs on part of the diagonal
    Z = zero_rows(9, 8, 16, seed=6)
    A, B = np.vstack([P, Z[0]]), np.vstack([Q, Z[1]])
    rng = np.random.default_rng(7)
    base = rng.dirichlet(np.ones(16))
    near = tuple(base * (1 + 1e-7 * rng.uniform(-1, 1, (k, 16))) for k in (30, 20))
    cases = [(A, B, n) for n in ("kullback_leibler", "pearson")] + [(*near, "hellinger")]
    want = [dv.cdist(a, b, n, method="direct") for a, b, n in cases]
    monkeypatch.setattr(driver, "PRODUCT_ELEMENTS", 64)
    monkeypatch.setattr(driver, "CHUNK_ELEMENTS", 16)
    for rows in (1, 4, 32):
        monkeypatch.setattr(driver, "FALLBACK_ROWS", rows)
        for (a, b, name), w in zip(cases, want, strict=True):
            assert_same(dv.cdist(a, b, name), w, rtol=1e-12)
    monkeypatch.setattr(driver, "PRODUCT_ELEMENTS", 1 << 21)
    got, stats = guarded_cdist(*near, "hellinger")
    assert_same(got, want[2], rtol=0)  # every pair is near: all direct, bit for bit
    assert stats.recomputed == 600


def batch_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Queries and database rows with zeros, duplicate rows at scattered positions, and
    sizes that are multiples of nothing (BLAS took other kernels at the edges)."""
    rng = np.random.default_rng(seed)
    Q, DB = rng.random((33, 37)), rng.random((301, 37))
    DB[1::7, 3] = 0.0
    Q[::3, 5] = 0.0
    Q[4::5, 30] = 0.0
    for r in (5, 17, 150, 300):
        DB[r] = DB[0]
    Q[20] = Q[2]
    return Q, DB


FACTORABLE = [
    pytest.param(m, zero, id=f"{m.name}-{zero}")
    for m in dv.measures()
    for zero in ("strict", "epsilon")
    if factored.factorable(m, zero) and (zero == "strict" or m.epsilon is not None)
]


@pytest.mark.parametrize(("m", "zero"), FACTORABLE)
def test_a_pair_value_does_not_depend_on_the_other_rows(m, zero):
    """Issue 13 item 6: identical rows get identical values, and cdist of some rows is
    those rows of cdist of all (the factored path's products sum each pair in order)."""
    Q, DB = batch_data(21)
    full = dv.cdist(Q, DB, m, zero=zero)
    np.testing.assert_array_equal(dv.cdist(Q[:7], DB, m, zero=zero), full[:7])
    np.testing.assert_array_equal(dv.cdist(Q[5:6], DB, m, zero=zero), full[5:6])
    np.testing.assert_array_equal(dv.cdist(Q, DB[100:250], m, zero=zero), full[:, 100:250])
    for r in (5, 17, 150, 300):
        np.testing.assert_array_equal(full[:, r], full[:, 0], err_msg=f"row {r}")
    np.testing.assert_array_equal(full[20], full[2])


@pytest.mark.parametrize(("m", "zero"), FACTORABLE)
def test_knn_equals_a_stable_argsort_of_cdist_at_any_working_memory(m, zero):
    Q, DB = batch_data(22)
    D = dv.cdist(Q, DB, m, zero=zero)
    key = -D if m.kind == "similarity" else D
    want = np.argsort(key, axis=1, kind="stable")[:, :6]
    for wm in (None, 3 * 301 * 8 / 2**20, 301 * 8 / 2**20):
        idx, val = dv.knn(Q, DB, 6, m, zero=zero, working_memory=wm)
        np.testing.assert_array_equal(idx, want)
        np.testing.assert_array_equal(val, np.take_along_axis(D, want, axis=1))
    # the README's promise: of byte-identical rows the lower one comes first, side by side
    idx, _ = dv.knn(DB[:1], DB, DB.shape[0], m, zero=zero)
    pos = [int(np.flatnonzero(idx[0] == r)[0]) for r in (0, 5, 17, 150, 300)]
    assert pos == list(range(pos[0], pos[0] + 5)), pos
