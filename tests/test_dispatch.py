"""The public internal interface of every computation: api.prepare() -> Call."""

from __future__ import annotations

import numpy as np

import divergences as dv
from divergences import api


def test_prepare_returns_the_validated_call():
    call = api.prepare(
        "philentropy:kullback-leibler",
        {"XA": [[0.5, 0.5]], "XB": [[0.9, 0.1]]},
        {"base": 2},
        ndims=(1, 2),
    )
    assert isinstance(call, api.Call)
    assert call.measure is dv.get("kl") and call.zero == "epsilon"  # the alias's default
    assert call.params == {"base": 2.0} and call.eps == 1e-5
    assert [a.shape for a in call.arrays] == [(1, 2), (1, 2)]
    m, _, arrays, zero, eps, params, backend = call  # a tuple in this order
    assert (m, zero, eps, params) == (call.measure, "epsilon", 1e-5, call.params)
    assert backend in api.BACKENDS and len(arrays) == 2


def test_search_uses_the_public_interface():
    """knn (search.py) validates through api.prepare: same values as cdist's top row."""
    X = np.random.default_rng(2).dirichlet(np.ones(4), 5)
    idx, val = dv.knn(X[:1], X, 2, "amari_alpha", alpha=0.0)
    D = dv.cdist(X[:1], X, "amari_alpha", alpha=0.0)
    np.testing.assert_array_equal(idx[0], np.argsort(D[0], kind="stable")[:2])
    np.testing.assert_allclose(val[0], np.sort(D[0])[:2], rtol=1e-12)
