"""Every error path: the right exception, and a message naming the measure, the argument
(XA / XB / X for the batched calls, P / Q for the single pair) and the offending row and
column.  Plus the edge cases that are not errors (empty m or n) and the promise that
inputs are never modified.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import divergences as dv
from divergences import InputError, UnknownMeasureError

MEASURES = dv.measures()
NAMES = [m.name for m in MEASURES]
NONNEG = [m for m in MEASURES if m.domain == "nonnegative"]
REAL = [m for m in MEASURES if m.domain == "real"]
SYMMETRIC = [m for m in MEASURES if m.symmetric]
ASYMMETRIC = [m for m in MEASURES if not m.is_symmetric()]  # at the default parameters


def ids(ms):
    return [m.name for m in ms]


def good(m=3, d=4, seed=0):
    """Non-negative data with zeros, valid for every measure."""
    X = np.random.default_rng(seed).random((m, d))
    X[X < 0.2] = 0.0
    return X


def names_measure(exc, name):
    assert name in str(exc.value), f"message does not name {name!r}: {exc.value}"


def names_arg(exc, arg):
    """The argument named as a word: XA, XB, X, or P/Q for pair (either case)."""
    flags = re.IGNORECASE if arg in ("P", "Q") else 0
    assert re.search(rf"(?<![A-Za-z_]){arg}(?![A-Za-z_])", str(exc.value), flags), (
        f"message does not name the argument {arg}: {exc.value}"
    )


def names_cell(exc, arg, row, col):
    assert f"{arg} row {row}, column {col}" in str(exc.value), (
        f"message does not locate {arg} row {row}, column {col}: {exc.value}"
    )


def names_pair_index(exc, arg, i):
    assert f"{arg.lower()}[{i}]" in str(exc.value).lower(), (
        f"message does not locate {arg}[{i}]: {exc.value}"
    )


def test_error_types():
    assert issubclass(InputError, ValueError)
    assert issubclass(UnknownMeasureError, LookupError)
    assert issubclass(UnknownMeasureError, ValueError)


# --- negative entries -----------------------------------------------------------------------


@pytest.mark.parametrize("m", NONNEG, ids=ids(NONNEG))
def test_negative_entry_rejected(m):
    """A non-negative-domain measure refuses a negative entry, naming the exact place."""
    XA, XB = good(3, 4, 1), good(2, 4, 2)
    XA[2, 1] = -0.5
    with pytest.raises(InputError) as e:
        dv.cdist(XA, XB, m)
    names_measure(e, m.name)
    names_cell(e, "XA", 2, 1)
    assert "-0.5" in str(e.value)

    XA, XB = good(3, 4, 1), good(2, 4, 2)
    XB[1, 3] = -1e-300  # tiny but negative
    with pytest.raises(InputError) as e:
        dv.cdist(XA, XB, m)
    names_measure(e, m.name)
    names_cell(e, "XB", 1, 3)

    p, q = good(1, 4, 3)[0], good(1, 4, 4)[0]
    q[2] = -2.0
    with pytest.raises(InputError) as e:
        m(p, q)
    names_measure(e, m.name)
    names_pair_index(e, "Q", 2)
    with pytest.raises(InputError) as e:
        dv.pair(q, p, m.name)
    names_pair_index(e, "P", 2)


@pytest.mark.parametrize("m", [m for m in NONNEG if m.symmetric], ids=lambda m: m.name)
def test_negative_entry_rejected_by_pdist(m):
    X = good(4, 3)
    X[3, 0] = -1.0
    with pytest.raises(InputError) as e:
        dv.pdist(X, m)
    names_measure(e, m.name)
    names_cell(e, "X", 3, 0)


@pytest.mark.parametrize("m", NONNEG, ids=ids(NONNEG))
def test_negative_infinity_rejected_even_without_finite_check(m):
    """check_finite=False skips the finiteness check, not the domain check."""
    XA = good(2, 3)
    XA[1, 2] = -np.inf
    with pytest.raises(InputError) as e:
        dv.cdist(XA, good(2, 3), m, check_finite=False)
    names_measure(e, m.name)
    names_cell(e, "XA", 1, 2)


@pytest.mark.parametrize("m", REAL, ids=ids(REAL))
def test_negative_entries_accepted_for_real_domain(m):
    rng = np.random.default_rng(5)
    XA, XB = rng.normal(size=(3, 4)), rng.normal(size=(2, 4))
    D = dv.cdist(XA, XB, m)
    assert D.shape == (3, 2)
    assert np.all(np.isfinite(D))
    assert math.isfinite(m(XA[0], XB[1]))


def test_real_domain_values_with_negatives():
    p, q = np.array([1.0, -2.0, 3.0]), np.array([-1.0, 0.5, 2.0])
    assert dv.pair(p, q, "euclidean") == pytest.approx(math.sqrt(4 + 6.25 + 1))
    assert dv.pair(p, q, "inner_product") == pytest.approx(-1 - 1 + 6)
    assert dv.pair(p, q, "cosine") == pytest.approx(4 / (math.sqrt(14) * math.sqrt(1 + 0.25 + 4)))
    assert dv.pair(p, -p, "cosine") == pytest.approx(-1)


# --- NaN and inf ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("m", MEASURES, ids=NAMES)
def test_nonfinite_rejected(m, bad):
    """NaN and inf are rejected for every measure (checked before the domain), naming where."""
    XA, XB = good(3, 4), good(2, 4)
    XB[1, 2] = bad
    with pytest.raises(InputError) as e:
        dv.cdist(XA, XB, m)
    names_measure(e, m.name)
    names_cell(e, "XB", 1, 2)
    assert "check_finite" in str(e.value)

    XA[0, 3] = bad
    with pytest.raises(InputError) as e:
        dv.cdist(XA, good(2, 4), m)
    names_cell(e, "XA", 0, 3)

    p = good(1, 4)[0]
    p[1] = bad
    with pytest.raises(InputError) as e:
        m(p, good(1, 4, 7)[0])
    names_measure(e, m.name)
    names_pair_index(e, "P", 1)


@pytest.mark.parametrize("m", SYMMETRIC, ids=ids(SYMMETRIC))
def test_nan_rejected_by_pdist(m):
    X = good(3, 4)
    X[2, 2] = np.nan
    with pytest.raises(InputError) as e:
        dv.pdist(X, m)
    names_measure(e, m.name)
    names_cell(e, "X", 2, 2)


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("m", MEASURES, ids=NAMES)
def test_nonfinite_accepted_with_check_finite_false(m, bad):
    """With check_finite=False a NaN/inf goes through; it affects only its own row."""
    XA, XB = good(3, 4), good(2, 4)
    XA[1, 0] = bad
    D = dv.cdist(XA, XB, m, check_finite=False)
    assert D.shape == (3, 2)
    clean = dv.cdist(XA[[0, 2]], XB, m)
    np.testing.assert_array_equal(D[[0, 2]], clean)
    assert isinstance(m(XA[1], XB[0], check_finite=False), float)


# --- shapes ------------------------------------------------------------------------------------


def test_mismatched_feature_counts():
    with pytest.raises(InputError) as e:
        dv.cdist(good(2, 3), good(2, 4), "kullback_leibler")
    names_measure(e, "kullback_leibler")
    names_arg(e, "XA")
    names_arg(e, "XB")
    assert "3" in str(e.value) and "4" in str(e.value)

    with pytest.raises(InputError) as e:
        dv.get("euclidean")([1.0, 2.0, 3.0], [1.0, 2.0])
    names_measure(e, "euclidean")
    names_arg(e, "P")
    names_arg(e, "Q")
    assert "3" in str(e.value) and "2" in str(e.value)

    with pytest.raises(InputError) as e:
        dv.cdist([1.0, 2.0], good(3, 4), "manhattan")  # a 1-D XA is one row of length 2
    names_arg(e, "XA")


@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (lambda: dv.cdist(np.ones((2, 3, 4)), np.ones((2, 4)), "hellinger"), "XA"),
        (lambda: dv.cdist(np.ones((2, 4)), np.ones((1, 2, 4)), "hellinger"), "XB"),
        (lambda: dv.pdist(np.ones((2, 3, 4)), "hellinger"), "X"),
        (lambda: dv.pdist(np.ones(4), "hellinger"), "X"),
        (lambda: dv.get("hellinger")(np.ones((2, 4)), np.ones(4)), "P"),
        (lambda: dv.get("hellinger")(np.ones(4), np.ones((1, 4))), "Q"),
        (lambda: dv.pair(np.float64(1.0), np.ones(4), "hellinger"), "P"),
        (lambda: dv.cdist(np.float64(1.0), np.ones((2, 4)), "hellinger"), "XA"),
    ],
    ids=["cdist-3d-XA", "cdist-3d-XB", "pdist-3d", "pdist-1d", "pair-2d-P", "pair-2d-Q",
         "pair-0d", "cdist-0d"],
)  # fmt: skip
def test_wrong_number_of_dimensions(call, arg):
    with pytest.raises(InputError) as e:
        call()
    names_measure(e, "hellinger")
    names_arg(e, arg)
    assert "-D" in str(e.value)


# --- dtypes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        np.array([[1 + 1j, 2.0]]),
        np.array([[1.0, 2.0]], dtype=np.complex64),
    ],
    ids=["complex128", "complex64"],
)
def test_complex_rejected(bad):
    with pytest.raises(InputError) as e:
        dv.cdist(bad, np.ones((1, 2)), "euclidean")
    names_measure(e, "euclidean")
    names_arg(e, "XA")
    assert "complex" in str(e.value)
    with pytest.raises(InputError) as e:
        dv.cdist(np.ones((1, 2)), bad, "euclidean")
    names_arg(e, "XB")
    with pytest.raises(InputError) as e:
        dv.get("euclidean")(np.ones(2), bad[0])
    names_arg(e, "Q")


@pytest.mark.parametrize(
    "bad",
    [
        np.array([["a", "b"]]),
        np.array([[b"a", b"b"]]),
        np.array([[1.0, 2.0]], dtype=object),
        np.array([[None, 1.0]], dtype=object),
        np.array([[1, 2]], dtype="datetime64[s]"),
        np.array([[1, 2]], dtype="timedelta64[s]"),
        [["a", "b"]],
    ],
    ids=["str", "bytes", "object-numbers", "object-None", "datetime", "timedelta", "list-str"],
)
def test_non_numeric_rejected(bad):
    with pytest.raises(InputError) as e:
        dv.cdist(bad, np.ones((1, 2)), "euclidean")
    names_measure(e, "euclidean")
    names_arg(e, "XA")
    with pytest.raises(InputError) as e:
        dv.pdist(bad, "euclidean")
    names_arg(e, "X")


def test_ragged_input_rejected_naming_measure_and_argument():
    """A ragged list cannot be read as an array: still an InputError naming measure and arg."""
    with pytest.raises(InputError) as e:
        dv.cdist([[1.0, 2.0], [3.0]], [[1.0, 1.0]], "kullback_leibler")
    names_measure(e, "kullback_leibler")
    names_arg(e, "XA")


def test_no_features():
    with pytest.raises(InputError) as e:
        dv.cdist(np.zeros((2, 0)), np.zeros((3, 0)), "kullback_leibler")
    names_measure(e, "kullback_leibler")
    names_arg(e, "XA")
    assert "d = 0" in str(e.value)
    with pytest.raises(InputError) as e:
        dv.get("kullback_leibler")(np.zeros(0), np.zeros(0))
    names_arg(e, "P")
    with pytest.raises(InputError) as e:
        dv.pdist(np.zeros((3, 0)), "euclidean")
    names_arg(e, "X")
    with pytest.raises(InputError):
        dv.cdist(np.zeros((0, 0)), np.zeros((2, 0)), "euclidean")


# --- parameters and options -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measure", "params", "words"),
    [
        ("minkowski", {"p": 0}, ["p=0", "p > 0"]),
        ("minkowski", {"p": -1.5}, ["p=-1.5"]),
        ("minkowski", {"p": math.nan}, ["p=nan"]),
        ("minkowski", {"p": -math.inf}, ["p=-inf"]),
        ("minkowski", {"p": "two"}, ["p='two'", "not a number"]),
        ("kullback_leibler", {"base": 0}, ["base=0"]),
        ("kullback_leibler", {"base": -2}, ["base=-2"]),
        ("kullback_leibler", {"base": 1}, ["base=1", "base != 1"]),
        ("kullback_leibler", {"base": 1.0}, ["base=1"]),
        ("bhattacharyya", {"base": math.nan}, ["base=nan"]),
        ("lorentzian", {"base": math.inf}, ["base=inf"]),
        ("euclidean", {"base": 2}, ["base", "unknown parameter"]),
        ("kullback_leibler", {"p": 2}, ["p", "unknown parameter", "base"]),
        ("hellinger", {"bse": 2}, ["bse", "unknown parameter"]),
        ("kullback_leibler", {"epsilon": 0}, ["epsilon"]),
        ("kullback_leibler", {"epsilon": -1e-5}, ["epsilon"]),
        ("kullback_leibler", {"epsilon": math.nan}, ["epsilon"]),
        ("kullback_leibler", {"epsilon": math.inf}, ["epsilon"]),
        ("kullback_leibler", {"epsilon": "small"}, ["epsilon"]),
        ("kullback_leibler", {"zero": "foo"}, ["zero='foo'", "strict", "epsilon"]),
        ("kullback_leibler", {"zero": None}, ["zero=None"]),
        ("euclidean", {"backend": "bogus"}, ["backend='bogus'", "numpy"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_parameters(measure, params, words):
    P = good(2, 3)
    for call in (
        lambda: dv.cdist(P, P, measure, **params),
        lambda: dv.pair(P[0], P[1], measure, **params),
        lambda: dv.get(measure)(P[0], P[1], **params),
        lambda: (
            dv.pdist(P, measure, **params)
            if dv.get(measure).symmetric
            else dv.cdist(P, P, measure, **params)
        ),
    ):
        with pytest.raises(InputError) as e:
            call()
        names_measure(e, measure)
        for w in words:
            assert w in str(e.value), f"{w!r} missing from: {e.value}"


def test_bad_parameter_rejected_even_for_empty_input():
    """Options are validated before the data: an empty batch does not hide a bad option."""
    with pytest.raises(InputError):
        dv.cdist(np.zeros((0, 3)), np.zeros((2, 3)), "minkowski", p=-1)
    with pytest.raises(InputError):
        dv.cdist(np.zeros((0, 3)), np.zeros((2, 3)), "kullback_leibler", zero="foo")


def test_good_parameters_accepted():
    p, q = [0.2, 0.8], [0.5, 0.5]
    for base in (2, math.e, 10, 0.5, 1.5):
        assert math.isfinite(dv.pair(p, q, "kullback_leibler", base=base))
    for order in (0.5, 1, 2, 3.5):
        assert math.isfinite(dv.pair(p, q, "minkowski", p=order))
    assert math.isfinite(dv.pair(p, q, "kullback_leibler", epsilon=1e-300, zero="epsilon"))


# --- measure names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda n: dv.get(n),
        lambda n: dv.cdist(good(), good(), n),
        lambda n: dv.pdist(good(), n),
        lambda n: dv.pair(good()[0], good()[1], n),
    ],
    ids=["get", "cdist", "pdist", "pair"],
)
def test_unknown_measure_suggests(call):
    with pytest.raises(UnknownMeasureError) as e:
        call("kullback_leibller")
    msg = str(e.value)
    assert "'kullback_leibller'" in msg
    assert "did you mean" in msg and "'kullback_leibler'" in msg


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("eucledian", "euclidean"),
        ("helinger", "hellinger"),
        ("Jensen-Shanon", "jensen_shannon"),
    ],
)
def test_unknown_measure_suggestions_are_close_names(typo, meant):
    with pytest.raises(UnknownMeasureError) as e:
        dv.get(typo)
    assert "did you mean" in str(e.value)
    assert meant in str(e.value)


@pytest.mark.parametrize("bad", ["xyzzy", "", "99"])
def test_unknown_measure_without_close_name(bad):
    with pytest.raises(UnknownMeasureError) as e:
        dv.get(bad)
    assert repr(bad) in str(e.value)


@pytest.mark.parametrize("bad", [42, None, 1.5, object()], ids=["int", "None", "float", "obj"])
def test_measure_of_wrong_type(bad):
    with pytest.raises(UnknownMeasureError) as e:
        dv.cdist(good(), good(), bad)
    assert type(bad).__name__ in str(e.value)


# --- normalize ---------------------------------------------------------------------------------


def test_normalize_all_zero_row():
    XA, XB = good(3, 4), good(2, 4)
    XA[1] = 0.0
    with pytest.raises(InputError) as e:
        dv.cdist(XA, XB, "kullback_leibler", normalize=True)
    names_measure(e, "kullback_leibler")
    names_arg(e, "XA")
    assert "row 1" in str(e.value) and "normalize" in str(e.value)

    with pytest.raises(InputError) as e:
        dv.cdist(XB, XA, "jensen_shannon", normalize=True)
    names_measure(e, "jensen_shannon")
    names_arg(e, "XB")
    assert "row 1" in str(e.value)

    with pytest.raises(InputError) as e:
        dv.pdist(XA, "hellinger", normalize=True)
    names_arg(e, "X")
    assert "row 1" in str(e.value)

    with pytest.raises(InputError) as e:
        dv.get("topsoe")(XB[0], XA[1], normalize=True)
    names_measure(e, "topsoe")
    names_arg(e, "Q")


def test_normalize_row_summing_to_zero_with_negatives():
    """For a real-domain measure a row can sum to 0 without being all zero: still an error."""
    with pytest.raises(InputError) as e:
        dv.cdist([[1.0, -1.0]], [[1.0, 1.0]], "euclidean", normalize=True)
    names_arg(e, "XA")
    assert "row 0" in str(e.value)


def test_scipy_jensenshannon_alias_normalizes_and_so_refuses_zero_rows():
    with pytest.raises(InputError):
        dv.cdist([[0.0, 0.0]], [[1.0, 1.0]], "scipy:jensenshannon")


# --- pdist of an asymmetric measure ----------------------------------------------------------


@pytest.mark.parametrize("m", ASYMMETRIC, ids=ids(ASYMMETRIC))
def test_pdist_refuses_asymmetric(m):
    with pytest.raises(InputError) as e:
        dv.pdist(good(3, 4), m)
    names_measure(e, m.name)
    assert "cdist" in str(e.value)
    assert "symmetric" in str(e.value)


@pytest.mark.parametrize(
    ("m", "zero"),
    [(m, z) for m in MEASURES for z in ("strict", "epsilon") if not m.is_symmetric(z)],
    ids=lambda v: v if isinstance(v, str) else v.name,
)
def test_pdist_refuses_measures_asymmetric_in_the_mode(m, zero):
    """jeffreys is symmetric, but philentropy's epsilon rule is not: pdist refuses that mode."""
    with pytest.raises(InputError) as e:
        dv.pdist(good(3, 4), m, zero=zero)
    names_measure(e, m.name)
    assert "cdist" in str(e.value)


def test_pdist_jeffreys_epsilon_refused_strict_accepted():
    assert dv.pdist(good(3, 4), "jeffreys").shape == (3,)
    with pytest.raises(InputError) as e:
        dv.pdist(good(3, 4), "jeffreys", zero="epsilon")
    assert "epsilon" in str(e.value) and "cdist" in str(e.value)


def test_pdist_refuses_kullback_leibler_by_alias():
    with pytest.raises(InputError) as e:
        dv.pdist(good(3, 4), "kl")
    assert "kullback_leibler" in str(e.value) and "cdist" in str(e.value)


def test_asymmetric_set_is_what_the_survey_says():
    survey_rows = [m for m in ASYMMETRIC if m.survey_number is not None]
    assert set(ids(survey_rows)) == {"pearson", "neyman", "kullback_leibler", "k_divergence"}


# --- array libraries --------------------------------------------------------------------------


def test_mixed_array_types_rejected():
    """Arrays of two libraries are refused (nothing is converted behind the user's back);
    like every input error, the message names the measure and the arguments."""
    torch = pytest.importorskip("torch")
    with pytest.raises(InputError) as e:
        dv.cdist(np.ones((2, 3)), torch.ones((2, 3), dtype=torch.float64), "euclidean")
    assert "numpy" in str(e.value) and "torch" in str(e.value)
    names_measure(e, "euclidean")
    names_arg(e, "XA")
    names_arg(e, "XB")


def test_torch_errors_name_the_place():
    torch = pytest.importorskip("torch")
    XA = torch.rand(3, 4, dtype=torch.float64)
    XB = torch.rand(2, 4, dtype=torch.float32)
    keep_a, keep_b = XA.clone(), XB.clone()
    D = dv.cdist(XA, XB, "kullback_leibler")
    assert isinstance(D, torch.Tensor) and D.dtype == torch.float64 and D.shape == (3, 2)
    assert torch.equal(XA, keep_a) and torch.equal(XB, keep_b)
    bad = XB.clone()
    bad[1, 2] = float("nan")
    with pytest.raises(InputError) as e:
        dv.cdist(XA, bad, "kullback_leibler")
    names_measure(e, "kullback_leibler")
    names_cell(e, "XB", 1, 2)
    bad = XB.clone()
    bad[1, 3] = -1.0
    with pytest.raises(InputError) as e:
        dv.cdist(XA, bad, "kullback_leibler")
    names_cell(e, "XB", 1, 3)
    with pytest.raises(InputError) as e:
        dv.cdist(XA.to(torch.complex128), XB, "kullback_leibler")
    names_arg(e, "XA")
    with pytest.raises(InputError) as e:
        dv.cdist(XA[None], XB, "kullback_leibler")
    names_arg(e, "XA")
    with pytest.raises(InputError) as e:
        dv.cdist(XA, XB, "kullback_leibler", backend="numba")
    names_measure(e, "kullback_leibler")
    assert dv.cdist(XA[:0], XB, "kullback_leibler").shape == (0, 2)


def test_lists_mix_with_numpy():
    D = dv.cdist([[1.0, 2.0]], np.array([[1.0, 2.0], [2.0, 2.0]]), "euclidean")
    np.testing.assert_array_equal(D, [[0.0, 1.0]])


# --- empty batches are not errors -------------------------------------------------------------


@pytest.mark.parametrize("m", MEASURES, ids=NAMES)
def test_empty_batches(m):
    """m = 0 rows gives an empty (0, n) result, n = 0 gives (m, 0); still float64."""
    for shape_a, shape_b, want in [
        ((0, 4), (3, 4), (0, 3)),
        ((2, 4), (0, 4), (2, 0)),
        ((0, 4), (0, 4), (0, 0)),
    ]:
        D = dv.cdist(np.zeros(shape_a), good(shape_b[0], 4) if shape_b[0] else np.zeros(shape_b), m)
        assert D.shape == want
        assert D.dtype == np.float64
    if m.symmetric:
        for rows in (0, 1):
            c = dv.pdist(good(rows, 4) if rows else np.zeros((0, 4)), m, backend="numpy")
            assert c.shape == (0,)


def test_empty_batch_still_checks_the_other_argument():
    XB = good(2, 3)
    XB[1, 1] = np.nan
    with pytest.raises(InputError) as e:
        dv.cdist(np.zeros((0, 3)), XB, "euclidean")
    names_cell(e, "XB", 1, 1)
    with pytest.raises(InputError):
        dv.cdist(np.zeros((0, 3)), good(2, 4), "euclidean")  # d still must match


# --- inputs are never modified ----------------------------------------------------------------


@pytest.mark.parametrize("m", MEASURES, ids=NAMES)
def test_inputs_never_modified(m):
    """Nothing writes into the inputs, whatever the dtype, normalize and back end (the
    compiled back end reads float32/float64 input in place; its float32 kernels are
    exercised on a few measures only, to keep compilation time down)."""
    rng = np.random.default_rng(11)
    base_a = rng.integers(0, 4, size=(3, 5))
    base_b = rng.integers(0, 4, size=(2, 5))
    base_a[:, 0] = 1  # no all-zero row, so normalize=True is valid
    base_b[:, 0] = 2
    compiled_f32 = m.name in ("euclidean", "kullback_leibler", "hellinger", "cosine")
    for dtype in (np.int64, np.int32, np.float32, np.float64):
        for normalize in (False, True):
            for backend in ("numpy", "auto"):
                if backend == "auto" and dtype is np.float32 and not compiled_f32:
                    continue
                XA = base_a.astype(dtype)
                XB = base_b.astype(dtype)
                keep_a, keep_b = XA.copy(), XB.copy()
                D = dv.cdist(XA, XB, m, normalize=normalize, backend=backend)
                assert D.dtype == np.float64
                s = m(XA[0], XB[1], normalize=normalize, backend=backend)
                assert isinstance(s, float)
                if m.is_symmetric() and (backend == "numpy" or compiled_f32):
                    dv.pdist(XA, m, normalize=normalize, backend=backend)
                np.testing.assert_array_equal(XA, keep_a)
                np.testing.assert_array_equal(XB, keep_b)
                assert XA.dtype == dtype and XB.dtype == dtype
                assert not np.shares_memory(D, XA) and not np.shares_memory(D, XB)


def test_read_only_inputs_accepted():
    XA, XB = good(3, 4), good(2, 4)
    XA.setflags(write=False)
    XB.setflags(write=False)
    for name in ("kullback_leibler", "euclidean", "cosine"):
        dv.cdist(XA, XB, name, normalize=True)
        dv.get(name)(XA[0], XB[0], normalize=True)
    dv.pdist(XA, "hellinger", normalize=True)


def test_lists_never_modified():
    A = [[1, 2, 0], [3, 0, 1]]
    keep = [row[:] for row in A]
    dv.cdist(A, A, "kullback_leibler", normalize=True)
    dv.pdist(A, "jensen_shannon", normalize=True)
    assert A == keep


def test_integer_counts_warn_for_measures_defined_on_pdfs():
    """Issue 13, item 17: counts passed to a measure whose claims hold on pdfs only (from
    the registry) warn and point to normalize=True; normalised input and measures whose
    claims hold everywhere stay silent."""
    import warnings

    from divergences.api import CountsWarning

    counts = np.array([[3, 1, 0], [1, 2, 5]])
    for m in dv.measures():
        on_pdfs = any(c.holds == "pdf" for _, c in m.properties.items())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dv.cdist(counts, counts, m, backend="numpy")
        hits = [w for w in caught if issubclass(w.category, CountsWarning)]
        assert bool(hits) == on_pdfs, m.name
        if hits:
            assert "normalize=True" in str(hits[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CountsWarning)
        dv.cdist(counts, counts, "kullback_leibler", normalize=True, backend="numpy")
