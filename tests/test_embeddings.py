"""Exact embeddings: every measure whose record claims one equals its map back of the
index metric on the transformed rows, on random rows with zero bins, in both zero modes."""

from __future__ import annotations

import numpy as np
import pytest

import divergences as dv

CLAIMED = [m for m in dv.measures() if m.embedding is not None]


def _rows(m, rng, n):
    X = rng.dirichlet(np.full(7, 0.6), n)
    X[rng.random(X.shape) < 0.25] = 0.0  # zero bins
    X[:, 0] += (X.sum(axis=1) == 0) * 1.0  # no all-zero row (cosine's 0/0)
    if m.domain == "real":
        X = X - 0.3 * rng.random(X.shape)
    return X


def _index_metric(e, A, B):
    TA, TB = e.transform(A), e.transform(B)
    if e.metric == "l2":
        return np.sqrt(((TA[:, None, :] - TB[None, :, :]) ** 2).sum(axis=-1))
    return TA @ TB.T


@pytest.mark.parametrize("m", CLAIMED, ids=lambda m: m.name)
@pytest.mark.parametrize("zero", ["strict", "epsilon"])
def test_claimed_embedding_reproduces_the_measure(m, zero):
    rng = np.random.default_rng(0)
    A, B = _rows(m, rng, 15), _rows(m, rng, 20)
    B[3] = A[2]  # an exact match
    params = {p.name: (getattr(p, "test_values", ()) or (p.default,))[-1] for p in m.params}
    if zero == "epsilon" and m.epsilon is not None and m.embedding.back_epsilon is None:
        with pytest.raises(dv.InputError, match="strict"):
            dv.embedding(m, zero=zero, **params)
        return
    e = dv.embedding(m, zero=zero, **params)
    got = e.back(_index_metric(e, A, B))
    want = dv.cdist(A, B, m, zero=zero, backend="numpy", **params)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # nearer in the index is nearer for the measure (the direction the index needs)
    key = -want if m.kind == "similarity" else want
    r = _index_metric(e, A, B)
    rkey = -r if e.larger_is_nearer else r
    finite = np.isfinite(key)
    for i in range(len(A)):
        ok = finite[i]
        a, b = np.argsort(key[i][ok], kind="stable"), np.argsort(rkey[i][ok], kind="stable")
        np.testing.assert_allclose(key[i][ok][a], key[i][ok][b], rtol=1e-9, atol=1e-12)


def test_measures_without_a_claim_are_refused_with_the_list():
    m = next(m for m in dv.measures() if m.embedding is None)
    with pytest.raises(dv.InputError, match="no exact L2 / inner-product embedding"):
        dv.embedding(m.name)
