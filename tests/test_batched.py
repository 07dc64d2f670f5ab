"""The batched API: cdist / pdist shapes, agreement with the single-pair call, scipy's
condensed layout, input kinds (1-D, lists, integer/float32/bool dtypes) and blocking."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import squareform

import divergences as dv
from divergences.kernels import reference

MEASURES = dv.measures()
NAMES = [m.name for m in MEASURES]
MODES = ("strict", "epsilon")
# (measure, zero mode) pairs in which f(P, Q) = f(Q, P): what pdist accepts
SYMMETRIC_MODES = [(m, z) for m in MEASURES for z in MODES if m.is_symmetric(z)]
SYMMETRIC_IDS = [f"{m.name}-{z}" for m, z in SYMMETRIC_MODES]
# every measure runs on the reference ("numpy"); the default back end ("auto": compiled
# kernels for NumPy input, which tests/test_numba.py compares with the reference for every
# measure) runs where it needs no extra compilation, or on this sample
SAMPLE = [
    dv.get(n)
    for n in (
        "euclidean",
        "minkowski",
        "sorensen",
        "kulczynski_s",
        "cosine",
        "hellinger",
        "kullback_leibler",
        "jeffreys",
        "jensen_shannon",
        "taneja",
        "vicis_wave_hedges",
    )
]


def nonneg(m, d, seed, zeros=0.3):
    """Random non-negative data with about ``zeros`` of the entries exactly 0."""
    rng = np.random.default_rng(seed)
    X = rng.random((m, d))
    X[rng.random((m, d)) < zeros] = 0.0
    return X


def assert_same(a, b, rtol=1e-14, atol=0.0):
    """Equal to rtol, with nan matching nan and infinities matching exactly."""
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


# the default back end for NumPy batches is compiled (fastmath reassociation), single pairs
# use the reference: across back ends, values agree to the catalog's accuracy (1e-12), not
# bit for bit (e.g. -ln(sum sqrt(PQ)) near 0 amplifies a 1-ulp difference 50 times)
CROSS = {"rtol": 1e-12, "atol": 1e-15}


# --- shapes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("m", "n", "d"),
    [(1, 1, 3), (1, 6, 3), (7, 13, 5), (4, 3, 1), (3, 2, 500)],
    ids=["1x1", "1xn", "7x13", "d=1", "d=500"],
)
@pytest.mark.parametrize("measure", MEASURES, ids=NAMES)
def test_cdist_shapes(measure, m, n, d):
    XA, XB = nonneg(m, d, 1), nonneg(n, d, 2)
    D = dv.cdist(XA, XB, measure)
    assert isinstance(D, np.ndarray)
    assert D.shape == (m, n)
    assert D.dtype == np.float64
    # spot-check a corner against the single-pair call
    assert_same(D[m - 1, n - 1], measure(XA[m - 1], XB[n - 1]), **CROSS)
    R = dv.cdist(XA, XB, measure, backend="numpy")
    assert R.shape == (m, n) and R.dtype == np.float64
    assert_same(R[m - 1, n - 1], measure(XA[m - 1], XB[n - 1]))


# --- cdist is the loop over pairs -------------------------------------------------------------


def _loop_data():
    XA = nonneg(5, 6, 10)
    XB = nonneg(4, 6, 11)
    XA[4] = 0.0  # an all-zero row (whole-vector 0/0 cases)
    XB[3] = XA[1]  # an identical pair (kulczynski_s = inf, d(P, P) = 0)
    XB[2, :3] = 0.0  # a row with half its support missing
    return XA, XB


@pytest.mark.parametrize("zero", MODES)
@pytest.mark.parametrize("measure", MEASURES, ids=NAMES)
def test_cdist_equals_loop_over_pairs(measure, zero):
    XA, XB = _loop_data()
    L = np.array([[measure(a, b, zero=zero) for b in XB] for a in XA])
    assert_same(dv.cdist(XA, XB, measure, zero=zero, backend="numpy"), L)
    assert_same(dv.cdist(XA, XB, measure, zero=zero), L, **CROSS)
    # the same through the name and through pair()
    L2 = np.array([[dv.pair(a, b, measure.name, zero=zero) for b in XB] for a in XA])
    assert_same(L2, L)


@pytest.mark.parametrize(
    ("name", "params"),
    [("minkowski", {"p": 3}), ("minkowski", {"p": 0.5}), ("kullback_leibler", {"base": 2})],
)
def test_cdist_equals_loop_with_parameters(name, params):
    XA, XB = _loop_data()
    m = dv.get(name)
    L = np.array([[m(a, b, **params) for b in XB] for a in XA])
    assert_same(dv.cdist(XA, XB, name, backend="numpy", **params), L)
    assert_same(dv.cdist(XA, XB, name, **params), L, **CROSS)


# --- pdist ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measure", "zero", "backend"),
    [(m, z, "numpy") for m, z in SYMMETRIC_MODES]
    + [(m, z, "auto") for m, z in SYMMETRIC_MODES if m in SAMPLE],
    ids=[f"{i}-numpy" for i in SYMMETRIC_IDS]
    + [
        f"{i}-auto" for (m, _), i in zip(SYMMETRIC_MODES, SYMMETRIC_IDS, strict=True) if m in SAMPLE
    ],
)
def test_pdist_is_the_condensed_upper_triangle(measure, zero, backend):
    """pdist(X) holds cdist(X, X)[i, j] for i < j in scipy's layout: the entry of (i, j) is at
    m i + j - (i + 2)(i + 1) / 2, i.e. row-major over the strict upper triangle."""
    X = nonneg(6, 5, 20)
    X[5] = X[2]  # a duplicate row
    c = dv.pdist(X, measure, zero=zero, backend=backend)
    D = dv.cdist(X, X, measure, zero=zero, backend=backend)
    n = X.shape[0]
    assert c.shape == (n * (n - 1) // 2,)
    assert c.dtype == np.float64
    iu = np.triu_indices(n, k=1)
    assert_same(c, D[iu])
    for i in range(n):
        for j in range(i + 1, n):
            assert_same(c[n * i + j - ((i + 2) * (i + 1)) // 2], D[i, j])
    # scipy's squareform reads it back into the upper triangle of a full matrix
    S = squareform(np.nan_to_num(c, nan=-1.0, posinf=-2.0), checks=False)
    assert_same(S[iu], np.nan_to_num(D[iu], nan=-1.0, posinf=-2.0))


@pytest.mark.sampled
@pytest.mark.parametrize(("measure", "zero"), SYMMETRIC_MODES, ids=SYMMETRIC_IDS)
def test_symmetric_measure_gives_symmetric_matrix(measure, zero):
    """pdist keeps one triangle only, so it relies on f(P, Q) = f(Q, P) in the mode used
    (Measure.is_symmetric(zero): jeffreys' epsilon rule, philentropy's, is not symmetric)."""
    X = nonneg(5, 4, 21)
    D = dv.cdist(X, X, measure, zero=zero)
    assert_same(D, D.T, rtol=1e-13)


def test_pdist_small_cases():
    assert dv.pdist([[1.0, 2.0], [2.0, 4.0]], "manhattan").tolist() == [3.0]
    np.testing.assert_array_equal(
        dv.pdist([[1, 0], [0, 1], [0.5, 0.5]], "manhattan"), [2.0, 1.0, 1.0]
    )


# --- kinds of input ---------------------------------------------------------------------------


@pytest.mark.parametrize("measure", ["euclidean", "kullback_leibler", "cosine", "hellinger"])
def test_one_dimensional_inputs_are_one_row(measure):
    P = nonneg(3, 4, 30)
    Q = nonneg(5, 4, 31)
    p, q = P[0], Q[0]
    full = dv.cdist(P, Q, measure)
    assert dv.cdist(p, Q, measure).shape == (1, 5)
    assert_same(dv.cdist(p, Q, measure), full[:1])
    assert dv.cdist(P, q, measure).shape == (3, 1)
    assert_same(dv.cdist(P, q, measure), full[:, :1])
    D = dv.cdist(p, q, measure)
    assert D.shape == (1, 1)
    assert_same(D[0, 0], dv.pair(p, q, measure), **CROSS)


@pytest.mark.parametrize("measure", ["euclidean", "jensen_shannon", "soergel", "taneja"])
def test_list_inputs(measure):
    P = nonneg(3, 4, 40)
    Q = nonneg(2, 4, 41)
    want = dv.cdist(P, Q, measure)
    assert_same(dv.cdist(P.tolist(), Q.tolist(), measure), want)
    assert_same(dv.cdist(P.tolist(), Q, measure), want)
    assert_same(dv.cdist(tuple(map(tuple, P)), Q.tolist(), measure), want)
    assert_same(dv.pdist(P.tolist(), measure), dv.pdist(P, measure))
    v = dv.pair(P[0].tolist(), Q[1].tolist(), measure)
    assert isinstance(v, float)
    assert_same(v, want[0, 1], **CROSS)
    assert_same(dv.get(measure)(list(P[0]), tuple(Q[1])), want[0, 1], **CROSS)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64, np.int32, np.uint8, bool])
@pytest.mark.parametrize("measure", MEASURES, ids=NAMES)
def test_other_dtypes_give_float64_of_the_same_values(measure, dtype):
    """float32/float16/int/bool inputs are computed in float64: the result equals the float64
    computation on the same (exactly converted) values (to 1e-14 for the compiled back end,
    which reads float32 as float32 and may contract operations differently; exactly for the
    reference)."""
    rng = np.random.default_rng(50)
    if dtype is bool:
        XA, XB = rng.random((4, 5)) < 0.5, rng.random((3, 5)) < 0.5
    elif np.issubdtype(dtype, np.integer):
        XA, XB = rng.integers(0, 5, (4, 5)).astype(dtype), rng.integers(0, 5, (3, 5)).astype(dtype)
    else:
        XA, XB = nonneg(4, 5, 51).astype(dtype), nonneg(3, 5, 52).astype(dtype)
    A64, B64 = XA.astype(np.float64), XB.astype(np.float64)
    # float32 input has kernels of its own in the compiled back end: only on the sample
    compiled = dtype is not np.float32 or measure in SAMPLE
    for backend, rtol in (("auto", 1e-14), ("numpy", 0)) if compiled else (("numpy", 0),):
        D = dv.cdist(XA, XB, measure, backend=backend)
        assert D.dtype == np.float64
        assert_same(D, dv.cdist(A64, B64, measure, backend=backend), rtol=rtol)
        if measure.is_symmetric() and (backend == "numpy" or measure in SAMPLE):
            c = dv.pdist(XA, measure, backend=backend)
            assert c.dtype == np.float64
            assert_same(c, dv.pdist(A64, measure, backend=backend), rtol=rtol)
    v = measure(XA[0], XB[0])
    assert isinstance(v, float)
    assert_same(v, measure(A64[0], B64[0]), rtol=0)


def test_float32_result_is_not_rounded_to_float32():
    """Computed in float64 from the float32 values, not in float32."""
    a = np.array([[0.1, 0.2, 0.7]], dtype=np.float32)
    b = np.array([[0.3, 0.3, 0.4]], dtype=np.float32)
    got = dv.cdist(a, b, "kullback_leibler")[0, 0]
    a64, b64 = a.astype(np.float64)[0], b.astype(np.float64)[0]
    want = float(np.sum(a64 * np.log(a64 / b64)))
    assert got == pytest.approx(want, rel=1e-14)


# --- similarities stay similarities -----------------------------------------------------------


def test_cosine_diagonal_is_one():
    P = nonneg(6, 5, 60, zeros=0.2)
    P[:, 0] += 0.1  # no all-zero row
    S = dv.cdist(P, P, "cosine")
    # 1 up to rounding of xy / (sqrt(xx) sqrt(yy)) (a few ulps)
    np.testing.assert_allclose(np.diagonal(S), 1.0, rtol=0, atol=1e-15)
    assert np.all(S <= 1 + 1e-15)
    assert_same(S, 1 - dv.cdist(P, P, "cosine_distance"), rtol=1e-12)


@pytest.mark.parametrize(
    "measure",
    [m for m in MEASURES if m.kind == "similarity" and m.properties.identity.holds != "never"],
    ids=lambda m: m.name,
)
def test_similarity_is_largest_on_the_diagonal(measure):
    """Larger is closer: on pdfs s(P, Q) <= s(P, P) wherever the identity claim holds."""
    P = nonneg(6, 5, 61)
    P[:, 1] += 0.05
    P /= P.sum(axis=1, keepdims=True)
    S = dv.cdist(P, P, measure)
    diag = np.diagonal(S)[:, None]
    assert np.all(S <= diag + 1e-14 * np.abs(diag)), S


# --- blocking ---------------------------------------------------------------------------------


@pytest.mark.parametrize("measure", MEASURES, ids=NAMES)
def test_blocked_evaluation_matches(measure, monkeypatch):
    """Rows are processed in blocks of BLOCK_ELEMENTS // (n d): tiny blocks, same result."""
    XA, XB = nonneg(9, 5, 70), nonneg(4, 5, 71)
    whole = dv.cdist(XA, XB, measure, backend="numpy")
    for block in (1, 20, 45):
        monkeypatch.setattr(reference, "BLOCK_ELEMENTS", block)
        assert_same(dv.cdist(XA, XB, measure, backend="numpy"), whole, rtol=0)


def test_large_batch_is_blocked_and_matches_rows():
    """A batch bigger than one block (n d > BLOCK_ELEMENTS / m) still equals row-wise calls."""
    XA, XB = nonneg(40, 500, 80), nonneg(300, 500, 81)
    assert 40 * 300 * 500 > reference.BLOCK_ELEMENTS
    D = dv.cdist(XA, XB, "jensen_shannon", backend="numpy")
    assert D.shape == (40, 300)
    for i in (0, 17, 39):
        assert_same(D[i], dv.cdist(XA[i], XB, "jensen_shannon", backend="numpy")[0], rtol=0)
    assert_same(dv.cdist(XA, XB, "jensen_shannon"), D, **CROSS)


def test_pair_returns_python_float():
    v = dv.pair([0.5, 0.5], [0.9, 0.1], "kullback_leibler")
    assert type(v) is float
    assert v == pytest.approx(0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1), rel=1e-14)
