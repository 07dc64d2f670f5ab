"""The Numba kernels equal the array-API reference for every measure, zero mode and dtype,
on shapes that are not multiples of any tile, with zeros and disjoint supports."""

from __future__ import annotations

import numpy as np
import pytest

import divergences as dv
from divergences.kernels import numba_cpu

MEASURES = dv.measures()
IDS = [m.name for m in MEASURES]
RTOL64 = 1e-10


def data(m_rows: int, n_rows: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    A = rng.dirichlet(np.ones(d), size=m_rows) * (rng.random((m_rows, d)) < 0.7)
    B = rng.dirichlet(np.full(d, 0.3), size=n_rows)
    if m_rows > 1:
        A[1] = 0.0  # an all-zero row
    if n_rows > 2 and d > 1:
        B[2, : d // 2] = 0.0  # zeros
        A[0, d // 2 :] = 0.0  # disjoint from B[2] where possible
    if m_rows > 3:
        A[3] = B[0]  # an identical pair
    return A, B


def assert_same(got: np.ndarray, ref: np.ndarray, rtol: float) -> None:
    assert got.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(ref))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=rtol, atol=rtol * 1e-3)


# The generated template is the same for every measure: the full registry runs through
# cdist (every term and finalize translated), and this sample, which covers every
# accumulator kind, parameter, epsilon rule, similarity and asymmetric case, through the
# other kernels (float32, pdist, cdist(X, X)); compiling all of them for every measure
# would cost CI minutes without testing anything new.
SAMPLE_NAMES = [
    "chebyshev",
    "avg_l1_linf",
    "minkowski",
    "kullback_leibler",
    "kulczynski_d",
    "jeffreys",
    "taneja",
    "cosine",
    "kulczynski_s",
    "pearson",
    "jensen_shannon",
    "hellinger",
    "vicis_wave_hedges",
    "ruzicka",
]
SAMPLE = [dv.get(n) for n in SAMPLE_NAMES]

SHAPES = [(1, 1, 1), (1, 9, 4), (7, 13, 5), (6, 4, 1), (3, 5, 300), (9, 2, 3), (12, 7, 2)]


@pytest.mark.parametrize("m", MEASURES, ids=IDS)
@pytest.mark.parametrize("zero", ["strict", "epsilon"])
def test_numba_equals_reference_float64(m, zero):
    for i, (mr, nr, d) in enumerate(SHAPES):
        A, B = data(mr, nr, d, seed=i)
        got = dv.cdist(A, B, m, zero=zero, backend="numba")
        ref = dv.cdist(A, B, m, zero=zero, backend="numpy")
        assert_same(got, ref, RTOL64)


@pytest.mark.parametrize("m", SAMPLE, ids=SAMPLE_NAMES)
def test_numba_float32_accumulates_in_float64(m):
    """float32 input is converted to float64 once and accumulated in float64, so the result
    equals the float64 computation on the same (float32-representable) values to 1e-10."""
    A, B = data(7, 13, 5, seed=3)
    A32, B32 = A.astype(np.float32), B.astype(np.float32)
    got = dv.cdist(A32, B32, m, backend="numba")
    ref = dv.cdist(A32.astype(np.float64), B32.astype(np.float64), m, backend="numpy")
    assert got.dtype == np.float64
    assert_same(got, ref, RTOL64)


@pytest.mark.parametrize(
    "m", [m for m in MEASURES if m.symmetric], ids=[m.name for m in MEASURES if m.symmetric]
)
def test_numba_pdist_equals_cdist_upper_triangle(m):
    for rows in (2, 5, 9, 16):
        A, _ = data(rows, 3, 6, seed=rows)
        got = dv.pdist(A, m, backend="numba")
        full = dv.cdist(A, A.copy(), m, backend="numpy")
        iu = np.triu_indices(len(A), k=1)
        assert_same(got, full[iu], RTOL64)


def test_params_reach_the_kernel():
    A, B = data(4, 5, 6, seed=9)
    for p in (0.5, 1.0, 3.0):
        assert_same(
            dv.cdist(A, B, "minkowski", p=p, backend="numba"),
            dv.cdist(A, B, "minkowski", p=p, backend="numpy"),
            RTOL64,
        )
    for base in (2.0, 10.0):
        assert_same(
            dv.cdist(A, B, "kl", base=base, backend="numba"),
            dv.cdist(A, B, "kl", base=base, backend="numpy"),
            RTOL64,
        )
    for eps in (1e-3, 1e-9):
        got = dv.cdist(A, B, "kl", zero="epsilon", epsilon=eps, backend="numba")
        assert_same(got, dv.cdist(A, B, "kl", zero="epsilon", epsilon=eps, backend="numpy"), RTOL64)


def test_generated_source_is_cached_on_disk_and_names_the_measure(tmp_path, monkeypatch):
    src = numba_cpu.module_source(dv.get("jensen_shannon"), "strict")
    assert "jensen_shannon" in src and "kl_mid" in src
    assert "fastmath" in src and "'nnan'" not in src
    from divergences.kernels.kernel_cache import cache_dir

    path = cache_dir()
    assert any(p.name.startswith("_divergences_") for p in path.iterdir())


def test_auto_backend_uses_numba_for_numpy_input(monkeypatch):
    calls = []
    real = numba_cpu.cdist

    def spy(*args, **kwargs):
        calls.append(args[0].name)
        return real(*args, **kwargs)

    monkeypatch.setattr(numba_cpu, "cdist", spy)
    dv.cdist([[0.5, 0.5]], [[0.2, 0.8]], "lorentzian")
    assert calls == ["lorentzian"]
    dv.cdist([[0.5, 0.5]], [[0.2, 0.8]], "lorentzian", backend="numpy")
    assert calls == ["lorentzian"]


@pytest.mark.parametrize("m", SAMPLE, ids=SAMPLE_NAMES)
def test_cdist_of_one_array_with_itself(m):
    """cdist(X, X): symmetric measures compute the upper half and mirror it; asymmetric
    ones compute every pair. Both equal the reference, diagonal included."""
    for rows in (1, 4, 9, 13):
        X, _ = data(rows, 3, 6, seed=rows)
        for zero in ("strict", "epsilon"):
            got = dv.cdist(X, X, m, zero=zero, backend="numba")
            ref = dv.cdist(X, X.copy(), m, zero=zero, backend="numpy")
            assert_same(got, ref, RTOL64)


FACTORED = [
    m
    for m in MEASURES
    if __import__("divergences.kernels.factored", fromlist=["x"]).factorable(m, "strict")
]


def test_factored_forms_are_detected_from_the_definitions():
    names = {m.name for m in FACTORED}
    assert {"inner_product", "cosine", "cosine_distance", "fidelity", "bhattacharyya"} <= names
    # terms that expand into separable monomials (tests/test_factored.py)
    assert {"kullback_leibler", "squared_euclidean", "hellinger", "pearson"} <= names
    # and the Jensen-Shannon family, through sums of x log(x + y) (tests/test_mixed_log.py)
    assert {"jensen_shannon", "topsoe", "k_divergence", "jensen_difference"} <= names
    # accumulators that need min/abs of differences or other logs of sums are never factored
    assert not names & {"manhattan", "canberra", "taneja", "squared_chi", "lorentzian"}


@pytest.mark.parametrize("m", FACTORED, ids=[m.name for m in FACTORED])
@pytest.mark.parametrize("zero", ["strict", "epsilon"])
def test_factored_equals_reference(m, zero):
    for i, (mr, nr, d) in enumerate(SHAPES):
        A, B = data(mr, nr, d, seed=10 + i)
        got = dv.cdist(A, B, m, zero=zero, method="factored")
        assert_same(got, dv.cdist(A, B, m, zero=zero, backend="numpy"), 1e-12)
        assert_same(dv.cdist(A, B, m, zero=zero, method="direct"), got, 1e-12)


def test_factored_is_refused_where_it_does_not_apply():
    with pytest.raises(dv.InputError, match="method='factored'"):
        dv.cdist([[0.5, 0.5]], [[0.2, 0.8]], "taneja", method="factored")
    with pytest.raises(dv.InputError, match="method="):
        dv.cdist([[0.5, 0.5]], [[0.2, 0.8]], "cosine", method="fast")


def test_ipow_multiplies_small_integer_exponents_and_agrees_with_pow():
    """Run-time exponents (Minkowski's p) go through ipow: exact products for p in 1..4,
    pow() otherwise; both within an ulp or two of a ** p."""
    from divergences.kernels.numba_helpers import ipow

    for a in (0.0, 1e-70, 0.3, 1.0, 7.5, 1e50):
        for p in (1.0, 2.0, 3.0, 4.0, 0.5, 1.5, 2.5):
            assert ipow(a, p) == pytest.approx(a**p, rel=1e-15, abs=0)
    assert "ipow(abs(x - y), par_p)" in numba_cpu.module_source(dv.get("minkowski"), "strict")


@pytest.mark.parametrize("name", ["chebyshev", "avg_l1_linf", "intersection", "manhattan"])
def test_blocks_keep_nan_inf_and_values_do_not_depend_on_tiles(name):
    """max/min accumulate with a NaN carrier beside vmaxpd: NaN and inf land where the
    reference puts them; with d = 2048 an XB tile is 16 rows and an XA block 16 rows, so
    these shapes cross tiles, and each row equals its own one-row call bitwise."""
    rng = np.random.default_rng(21)
    A, B = rng.random((37, 2048)), rng.random((40, 2048))
    A[3, 5], B[7, 9], A[8, 100], B[30, 2047] = np.nan, np.nan, np.inf, np.inf
    got = dv.cdist(A, B, name, backend="numba", method="direct", check_finite=False)
    ref = dv.cdist(A, B, name, backend="numpy", check_finite=False)
    assert_same(got, ref, RTOL64)
    for i in (0, 15, 16, 36):
        row = dv.cdist(A[i : i + 1], B, name, backend="numba", method="direct", check_finite=False)
        np.testing.assert_array_equal(row[0], got[i])


@pytest.mark.sampled
@pytest.mark.parametrize("m", MEASURES, ids=IDS)
@pytest.mark.parametrize("zero", ["strict", "epsilon"])
def test_direct_kernels_keep_subnormal_entries(m, zero):
    """A column of subnormal entries (1e-310, equal in both rows) changes nothing compiled:
    x / y stays a division (no 'arcp' rewrite to x * (1 / y), where 1 / 1e-310 = inf made
    0 * inf = NaN under zero='epsilon'); the direct cdist and pdist kernels equal the
    reference (issue 13, item 1)."""
    rng = np.random.default_rng(5)
    X = rng.dirichlet(np.ones(4), size=9)
    X[:, 0] = 1e-310
    X[2, 1] = 0.0
    ref = dv.cdist(X, X, m, zero=zero, backend="numpy")
    assert_same(dv.cdist(X, X.copy(), m, zero=zero, method="direct"), ref, RTOL64)
    if m.is_symmetric(zero):
        iu = np.triu_indices(len(X), k=1)
        assert_same(dv.pdist(X, m, zero=zero), ref[iu], RTOL64)


@pytest.mark.parametrize(
    "name", ["manhattan", "kullback_leibler", "jensen_shannon", "hellinger", "kumar_hassebrook"]
)
def test_shared_drivers_cross_chunks_of_columns_and_blocks_of_rows(name):
    """The shared drivers hand a measure's block CHUNK columns at a time: shapes across
    several chunks and row blocks (cdist, cdist(X, X), pdist) equal the reference, and a
    row's values are those of its own one-row call, bit for bit."""
    m = dv.get(name)
    rows = numba_cpu.kernels(m, "strict").ROWS
    chunk = numba_cpu.CHUNK
    A, B = data(2 * rows + 3, 2 * chunk + 5, 7, seed=8)
    got = dv.cdist(A, B, m, method="direct")
    assert_same(got, dv.cdist(A, B, m, backend="numpy"), RTOL64)
    # every lane of a block takes the same arithmetic (the SLP vectoriser once gave the
    # lanes of Kumar-Hassebrook's finalize different roundings)
    U = np.random.default_rng(13).random((2 * rows + 3, 16)) * 3
    full = dv.cdist(U, U[:12], m, method="direct")
    for i in range(len(U)):
        np.testing.assert_array_equal(
            dv.cdist(U[i : i + 1], U[:12], m, method="direct")[0], full[i]
        )
    X = B[: chunk + rows + 1]
    square = dv.cdist(X, X, m, method="direct")
    ref = dv.cdist(X, X.copy(), m, backend="numpy")
    assert_same(square, ref, RTOL64)
    if m.symmetric:
        np.testing.assert_array_equal(square, square.T)
        iu = np.triu_indices(len(X), k=1)
        np.testing.assert_array_equal(dv.pdist(X, m), square[iu])


def test_parallel_drivers_are_compiled_once_for_every_measure():
    """cdist, pdist and paired of several measures run through one compiled driver each
    (a measure compiles only its own block or row), so the compile time of a new measure
    is its block's alone."""
    from divergences.kernels import paired_numba

    A, B = data(5, 6, 4, seed=1)
    names = ["manhattan", "kullback_leibler", "chebyshev", "minkowski"]
    for name in names:
        dv.cdist(A, B, name, method="direct")
        dv.pdist(B, name) if dv.get(name).symmetric else None
        dv.paired(A, B[:5], name)
    from numba.core import types

    drivers = numba_cpu.shared("drivers", numba_cpu.DRIVERS)
    paired = paired_numba.shared("paired", paired_numba.DRIVERS).paired
    for kernel in (drivers.cdist, drivers.half_condensed, paired):
        # one compilation per kind of arrays (dtype, layout), the measure's code passed in as
        # a function pointer: never one per measure (a Dispatcher-typed first argument)
        assert kernel.signatures
        assert all(isinstance(sig[0], types.FunctionType) for sig in kernel.signatures)
        assert len(kernel.signatures) <= 4
    for name in names:
        assert not hasattr(numba_cpu.kernels(dv.get(name), "strict"), "cdist")
