"""divergences.faiss.Index: the flat index returns exactly the knn of every measure with an
embedding claim (zero bins, all-zero rows); HNSW keeps exact values and a high recall."""

from __future__ import annotations

import numpy as np
import pytest

import divergences as dv

faiss = pytest.importorskip("faiss")
from divergences.faiss import Index  # noqa: E402

CLAIMED = [m for m in dv.measures() if m.embedding is not None]


def _data(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.dirichlet(np.full(d, 0.5), n)
    X[rng.random(X.shape) < 0.2] = 0.0  # zero bins
    X[:, 0] += (X.sum(axis=1) == 0) * 1.0
    return X


@pytest.mark.parametrize("m", CLAIMED, ids=lambda m: m.name)
def test_flat_index_equals_exact_knn(m):
    X = _data(3000, 16, 0)
    X[[5, 9]] = X[2]  # duplicates: ties broken by the lower index
    Q = np.vstack([X[:20], _data(30, 16, 1)])
    params = {p.name: (getattr(p, "test_values", ()) or (p.default,))[-1] for p in m.params}
    idx, val = Index(X, m, **params).search(Q, 10)
    ref_idx, ref_val = dv.knn(Q, X, 10, m, **params)
    np.testing.assert_array_equal(idx, ref_idx)
    # values: the same up to rounding where a factored form cancels (near P = Q)
    np.testing.assert_allclose(val, ref_val, rtol=1e-12, atol=1e-14, equal_nan=True)


def test_all_zero_rows_rank_last_under_cosine():
    m = next(m for m in CLAIMED if m.embedding.transform == "unit")
    X = np.random.default_rng(2).random((50, 4))
    X[[3, 7]] = 0.0  # cosine: 0/0 = NaN
    idx, val = Index(X, m).search(X[:4], 50)
    ref_idx, _ = dv.knn(X[:4], X, 50, m)
    np.testing.assert_array_equal(idx, ref_idx)
    assert np.isnan(val[0, -2:]).all()


def test_hnsw_recall_and_exact_values():
    m = next(m for m in CLAIMED if m.name == "hellinger")  # the benchmark measure
    X = _data(20_000, 32, 3)
    Q = _data(200, 32, 4)
    idx, val = Index(X, m, kind="hnsw").search(Q, 10)
    ref_idx, _ = dv.knn(Q, X, 10, m)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, ref_idx)])
    assert recall >= 0.9
    np.testing.assert_allclose(val, dv.cdist(Q, X, m)[np.arange(200)[:, None], idx], rtol=1e-12)


def test_measures_without_an_embedding_are_refused():
    m = next(m for m in dv.measures() if m.embedding is None)
    with pytest.raises(dv.InputError, match="no exact"):
        Index(np.eye(3), m)


def test_hnsw_with_a_wide_search_returns_the_exact_knn():
    # ef_search = n on a small index: the graph search reaches every near row, and the
    # batched re-rank orders them as knn does (ties to the lower index)
    m = next(m for m in CLAIMED if m.name == "hellinger")
    X = _data(1500, 8, 5)
    X[[7, 11]] = X[3]
    Q = np.vstack([X[:10], _data(20, 8, 6)])
    idx, val = Index(X, m, kind="hnsw", ef_search=1500).search(Q, 10)
    ref_idx, ref_val = dv.knn(Q, X, 10, m)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(val, ref_val, rtol=1e-12, atol=1e-7)
