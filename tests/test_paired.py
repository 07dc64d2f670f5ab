"""Paired (row-wise) values: row i against row i equals the diagonal of cdist, for every
measure of the registry, both zero modes, the measure's parameters, float32 and every back
end; bad input names both shapes."""

from __future__ import annotations

import numpy as np
import pytest
from test_numba import assert_same, data

import divergences as dv
from divergences.validation import InputError

MEASURES = dv.measures()
IDS = [m.name for m in MEASURES]
RTOL = 1e-12


def square(m_rows, d, seed):
    """Rows of XA and XB, with zeros, an all-zero row, disjoint supports, an equal pair."""
    A, B = data(m_rows, m_rows, d, seed=seed)
    B[1] = 0.0  # all-zero against all-zero: the whole-vector 0 / 0 cases
    A[4, : d // 2] = 0.0  # one-hot-like rows on one side
    return A, B


@pytest.mark.sampled
@pytest.mark.parametrize("m", MEASURES, ids=IDS)
@pytest.mark.parametrize("zero", ["strict", "epsilon"])
def test_paired_is_the_diagonal_of_cdist(m, zero):
    # d = 37: LANES full blocks of every lane count and a ragged tail; d = 3 only a tail
    for d, seed in ((37, 1), (3, 2)):
        A, B = square(9, d, seed)
        for params in m.param_grid():
            ref = np.diag(dv.cdist(A, B, m, zero=zero, backend="numpy", **params))
            for backend in ("numba", "numpy"):
                got = dv.paired(A, B, m, zero=zero, backend=backend, **params)
                assert isinstance(got, np.ndarray) and got.dtype == np.float64
                assert_same(got, ref, RTOL)


@pytest.mark.parametrize("name", ["kullback_leibler", "chebyshev", "jensen_shannon"])
def test_float32_rows_are_loaded_as_given(name):
    A, B = square(6, 19, 3)
    A32, B32 = A.astype(np.float32), B.astype(np.float32)
    from divergences.kernels import paired_numba

    m = dv.get(name)
    got = paired_numba.paired(m, A32, B32, zero="strict", eps=1e-5, params=m.param_defaults())
    ref = np.diag(dv.cdist(A32.astype(np.float64), B32.astype(np.float64), m, backend="numpy"))
    assert_same(got, ref, RTOL)


def test_one_row_lists_and_the_docstring_example():
    assert dv.paired([0.2, 0.8], [0.5, 0.5], "manhattan").tolist() == pytest.approx([0.6])
    P = np.array([[0.2, 0.8], [0.5, 0.5]])
    Q = np.array([[0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_allclose(dv.paired(P, Q, "manhattan"), [0.6, 0.0])
    assert dv.paired(np.zeros((0, 3)), np.zeros((0, 3)), "kl").shape == (0,)


def test_the_row_does_not_depend_on_the_batch():
    A, B = square(9, 37, 5)
    whole = dv.paired(A, B, "taneja")
    for i in range(A.shape[0]):
        np.testing.assert_array_equal(dv.paired(A[i : i + 1], B[i : i + 1], "taneja"), whole[i])


def test_aliases_and_their_defaults_apply():
    A, B = square(5, 8, 6)
    np.testing.assert_array_equal(
        dv.paired(A, B, "philentropy:kullback-leibler"),
        dv.paired(A, B, "kullback_leibler", zero="epsilon"),
    )


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(InputError, match=r"kullback_leibler.*XA \(3, 4\) and XB \(2, 4\)"):
        dv.paired(np.ones((3, 4)), np.ones((2, 4)), "kl")
    with pytest.raises(InputError, match=r"XA \(3, 4\) and XB \(3, 5\)"):
        dv.paired(np.ones((3, 4)), np.ones((3, 5)), "kl")
    with pytest.raises(InputError, match=r"XA \(4,\) and XB \(1, 4\)"):
        dv.paired(np.ones(4), np.ones((1, 4)), "kl")


def test_bad_rows_and_options_are_named():
    A = np.ones((3, 4))
    B = A.copy()
    B[2, 1] = -1.0
    with pytest.raises(InputError, match=r"kullback_leibler: XB row 2, column 1 is -1\.0"):
        dv.paired(A, B, "kl")
    with pytest.raises(InputError, match="no factored form"):
        dv.paired(A, A, "cosine", method="factored")
    with pytest.raises(InputError, match="unknown parameter"):
        dv.paired(A, A, "kl", alpha=2)
