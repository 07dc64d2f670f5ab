"""Inputs that look like arrays but are not plain dense numbers (issue 13 item 15): each is
read correctly or refused with a message that says what it is and what to do."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

import divergences as dv
from divergences.cli import main

#: the first measure of the registry defined on any non-negative input
NAME = next(m.name for m in dv.measures() if m.domain in ("real", "nonnegative") and not m.params)
X = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])


def test_a_masked_array_with_masked_entries_is_refused():
    Xm = np.ma.array(X, mask=[[False, False], [False, True], [False, False]])
    with pytest.raises(dv.InputError, match=r"XA is a masked array .*row 1, column 1.*filled"):
        dv.cdist(Xm, X, NAME)
    with pytest.raises(dv.InputError, match=r"P is a masked array"):
        dv.pair(Xm[1], X[0], NAME)


def test_a_masked_array_without_masked_entries_is_its_data():
    np.testing.assert_array_equal(dv.cdist(np.ma.array(X), X, NAME), dv.cdist(X, X, NAME))


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_is_refused_by_name(fmt):
    S = scipy.sparse.random(5, 2, density=0.5, format=fmt, random_state=0)
    with pytest.raises(dv.InputError, match=rf"XB is a scipy.sparse {fmt}_\w+ of shape \(5, 2\).*XB.toarray\(\)"):
        dv.cdist(X, S, NAME)


def test_pandas_nullable_columns():
    pd = pytest.importorskip("pandas")
    full = pd.DataFrame({"a": pd.array([2, 5, 9], dtype="Int64"), "b": [8.0, 5.0, 1.0]})
    np.testing.assert_array_equal(dv.cdist(full, X, NAME), dv.cdist(X * 10, X, NAME))
    holes = full.copy()
    holes.loc[1, "a"] = pd.NA
    with pytest.raises(dv.InputError, match=r"XA \(a pandas DataFrame\) has 1 missing value.*row 1, column 0.*dropna"):
        dv.cdist(holes, X, NAME)
    with pytest.raises(dv.InputError, match=r"P \(a pandas Series\) has 1 missing value.*P\[1\]"):
        dv.pair(holes["a"], X[:, 0], NAME)


def test_a_generator_is_refused_saying_what_to_pass():
    with pytest.raises(dv.InputError, match=r"XA is a generator.*numpy.array\(list\(XA\)\)"):
        dv.cdist((row for row in X), X, NAME)


def test_an_object_array_names_its_first_non_number():
    with pytest.raises(dv.InputError, match=r"XA row 1, column 0 is None \(a NoneType\)"):
        dv.cdist([[0.2, 0.8], [None, 0.5]], X, NAME)
    # plain Python numbers mixed with NumPy scalars are numbers
    mixed = [[0.2, np.float32(0.8)], [np.int64(1), 0.0]]
    np.testing.assert_allclose(dv.cdist(mixed, X, NAME), dv.cdist(np.array(mixed, float), X, NAME))


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path, capsys):
    path = tmp_path / "bom.csv"
    path.write_text("0.2,0.8\n0.5,0.5\n0.9,0.1\n", encoding="utf-8-sig")
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    out = tmp_path / "out.npy"
    assert main(["compute", NAME, str(path), "-o", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), dv.cdist(X, X, NAME))
