"""numba_metric: the generated scalar kernel as a pynndescent / UMAP metric, in both zero
modes; NNDescent's recall against the exact knn; a tiny UMAP."""

from __future__ import annotations

import numpy as np
import pytest

import divergences as dv

MEASURES = dv.measures()


def _sample():
    """Per family: its first measure and its first with an epsilon rule (each metric compiles
    its own wrapper, seconds apiece: the whole catalog would take minutes)."""
    out: dict[str, object] = {}
    for fam in dict.fromkeys(m.family for m in MEASURES):
        members = [m for m in MEASURES if m.family == fam]
        out[members[0].name] = members[0]
        eps = [m for m in members if m.epsilon is not None]
        if eps:
            out[eps[0].name] = eps[0]
    return list(out.values())


def _params(m):
    """A valid non-default value of every parameter (the Param's last test value)."""
    return {p.name: (getattr(p, "test_values", ()) or (p.default,))[-1] for p in m.params}


@pytest.mark.parametrize("m", _sample(), ids=lambda m: m.name)
def test_numba_metric_equals_pair_in_both_zero_modes(m):
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.full(6, 0.5), 6)
    X[rng.random(X.shape) < 0.2] = 0.0
    X[0] = X[1]
    params = _params(m)
    try:
        off = dv.ann.dissimilarity_offset(m, 6, **params) if m.kind == "similarity" else None
    except dv.InputError:
        with pytest.raises(dv.InputError, match="finite upper bound"):
            dv.numba_metric(m, **params)
        return
    for zero in ("strict", "epsilon") if m.epsilon is not None else ("strict",):
        f = dv.numba_metric(m, zero=zero, **params)
        for i in range(len(X)):
            for j in range(len(X)):
                want = dv.pair(X[i], X[j], m, zero=zero, backend="numpy", **params)
                want = want if off is None else off - want
                got = f(X[i], X[j])
                assert got == pytest.approx(want, rel=1e-12, abs=1e-15, nan_ok=True), (i, j)
        # float32 rows (pynndescent's and UMAP's) are read as float64, then computed alike
        a, b = X[2].astype(np.float32), X[3].astype(np.float32)
        assert f(a, b) == pytest.approx(f(a.astype(np.float64), b.astype(np.float64)), rel=1e-14)


pynndescent = pytest.importorskip("pynndescent")


def _recall(idx, ref):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(idx, ref)])


# the measures (its own list, not the registry's). Each new metric compiles
# pynndescent's search anew (tens of seconds; Hellinger 47 s of a cold run): these run with
# the slow ones; the default run checks recall through NNDescentIndex (Kullback-Leibler below).
@pytest.mark.slow
@pytest.mark.parametrize("name", ["hellinger", "jensen_shannon", "canberra"])
def test_nndescent_recall_against_exact_knn(name):
    rng = np.random.default_rng(1)
    n, q, k = 5_000, 200, 10
    X = rng.dirichlet(np.ones(64), n)
    Q = rng.dirichlet(np.ones(64), q)
    index = pynndescent.NNDescent(X, metric=dv.numba_metric(name), n_neighbors=30, random_state=0)
    # epsilon: how far past the current k-th neighbour the graph search goes (default 0.1:
    # recall 0.70 on these near-uniform rows; 0.3: 0.947, measured)
    idx, dist = index.query(Q, k=k, epsilon=0.3)
    ref, _ = dv.knn(Q, X, k, name)
    assert _recall(idx, ref) >= 0.9
    # the distances it reports are the measure's (query first for KL? NNDescent calls
    # metric(data, query) or metric(query, data): compare to both)
    fwd = dv.cdist(Q[:5], X, name)
    for i in range(5):
        j = idx[i, 0]
        assert dist[i, 0] == pytest.approx(fwd[i, j], rel=1e-5) or dist[i, 0] == pytest.approx(
            dv.pair(X[j], Q[i], name), rel=1e-5
        )


def test_umap_with_a_numba_metric():
    umap = pytest.importorskip("umap")
    rng = np.random.default_rng(2)
    a = rng.dirichlet([30, 2, 2, 2, 2, 2], 60)
    b = rng.dirichlet([2, 2, 2, 2, 2, 30], 60)
    X = np.vstack([a, b])
    emb = umap.UMAP(
        metric=dv.numba_metric("hellinger"), n_neighbors=10, n_epochs=50, random_state=0
    ).fit_transform(X)
    assert emb.shape == (120, 2) and np.isfinite(emb).all()
    # the two groups stay apart: every point is nearer its own group's centre
    ca, cb = emb[:60].mean(axis=0), emb[60:].mean(axis=0)
    da_, db_ = np.linalg.norm(emb - ca, axis=1), np.linalg.norm(emb - cb, axis=1)
    assert (da_[:60] < db_[:60]).all() and (db_[60:] < da_[60:]).all()


# -- NNDescentIndex: more candidates than k, re-ranked exactly ---------------------------
KL = "kullback_leibler"  # the asymmetric measure


def _exact_order_check(Q, X, idx, val, name):
    """The values are the measure's, query first, in knn's order (nearest first)."""
    want = dv.cdist(Q, X, name)[np.arange(len(Q))[:, None], idx]
    np.testing.assert_allclose(val, want, rtol=1e-12)
    assert (np.diff(val, axis=1) >= 0).all()


@pytest.mark.parametrize("proxy", [None, pytest.param("hellinger", marks=pytest.mark.slow)])
def test_nndescent_index_kl_recall_query_first(proxy):
    from divergences.ann import NNDescentIndex

    rng = np.random.default_rng(3)
    X = rng.dirichlet(np.ones(32), 3_000)
    Q = rng.dirichlet(np.ones(32), 100)
    index = NNDescentIndex(X, KL, proxy=proxy, random_state=0)
    idx, val = index.search(Q, 10)
    ref, _ = dv.knn(Q, X, 10, KL)
    assert _recall(idx, ref) >= 0.9
    _exact_order_check(Q, X, idx, val, KL)
    if proxy is None:
        # pynndescent calls metric(query, row): its own distances are KL(Q_i || X_j), the
        # direction knn ranks, and not KL(X_j || Q_i)
        raw_idx, raw = index.index.query(Q[:5], k=3)
        for i in range(5):
            j = raw_idx[i, 0]
            fwd, rev = dv.pair(Q[i], X[j], KL), dv.pair(X[j], Q[i], KL)
            assert raw[i, 0] == pytest.approx(fwd, rel=1e-5)
            assert abs(fwd - rev) > 1e-3 * fwd  # the check can tell the two apart


def test_nndescent_index_errors_and_a_similarity():
    from divergences.ann import NNDescentIndex

    rng = np.random.default_rng(4)
    X = rng.dirichlet(np.ones(4), 60)
    # a similarity: the graph holds s_max - s, the re-rank the similarity, largest first
    sim = next(m for m in MEASURES if m.name == "fidelity")
    index = NNDescentIndex(X, sim, n_neighbors=10, random_state=0)
    idx, val = index.search(X[:5], 60)
    S = dv.cdist(X[:5], X, sim)
    np.testing.assert_array_equal(idx, np.argsort(-S, axis=1, kind="stable"))  # all 60 rows
    np.testing.assert_allclose(val, np.take_along_axis(S, idx, 1), rtol=1e-12)
    with pytest.raises(dv.InputError, match="candidates"):
        index.search(X[:2], 5, candidates=4)
    with pytest.raises(dv.InputError, match="k must be"):
        index.search(X[:2], 61)
    with pytest.raises(dv.InputError, match="columns"):
        index.search(np.ones((2, 3)) / 3, 2)


# the recall test at its size: 50,000 x 64 Dirichlet rows, k = 10, each of its four
# measures on its own graph (a build takes minutes on two cores: slow). The same data and
# parameters as bench/test_bench_scale.py's NNDescent table at --bench-size=full.
@pytest.mark.slow
@pytest.mark.parametrize("name", ["hellinger", "jensen_shannon", KL, "canberra"])
def test_nndescent_recall_at_50000_rows(name):
    from divergences.ann import NNDescentIndex

    rng = np.random.default_rng(1)
    X = rng.dirichlet(np.ones(64), 50_000)
    Q = rng.dirichlet(np.ones(64), 500)
    idx, val = NNDescentIndex(X, name, random_state=0).search(Q, 10)
    ref, _ = dv.knn(Q, X, 10, name)
    assert _recall(idx, ref) >= 0.9
    _exact_order_check(Q[:20], X, idx[:20], val[:20], name)
