"""divergences.sklearn: the neighbours graph against KNeighborsTransformer's contract and
estimators with metric="precomputed"; Gram matrices and the positive-definiteness claims."""

from __future__ import annotations

import numpy as np
import pytest

import divergences as dv

sklearn = pytest.importorskip("sklearn")
from sklearn.cluster import DBSCAN  # noqa: E402
from sklearn.manifold import Isomap  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier, KNeighborsTransformer  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from divergences.sklearn import KNNTransformer, dissimilarity_offset, pairwise_kernel  # noqa: E402

MEASURES = dv.measures()


def _first(pred):
    return next(m for m in MEASURES if pred(m))


REAL = _first(lambda m: m.domain == "real" and m.kind == "dissimilarity" and not m.params)
NONNEG_PARAM = _first(lambda m: m.domain == "nonnegative" and m.params and not m.symmetric)
# a similarity bounded on every input (not only on probability vectors), for the checks'
# random data: a real domain, a finite bound, s(P, Q) <= s(P, P) always
BOUNDED_SIM = _first(
    lambda m: (
        m.kind == "similarity"
        and m.domain == "real"
        and m.bounds.is_bounded(m.param_defaults())
        and m.properties.identity.holds == "always"
    )
)


@parametrize_with_checks(
    [
        KNNTransformer(REAL.name, n_neighbors=3),
        KNNTransformer(
            NONNEG_PARAM.name, n_neighbors=3, mode="connectivity", metric_params={"base": 2.0}
        ),
        # connectivity: the checks' integer data has all-zero rows, where cosine is NaN
        KNNTransformer(BOUNDED_SIM.name, n_neighbors=2, mode="connectivity"),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_graph_equals_kneighbors_transformer_for_euclidean():
    # scikit-learn's own transformer is the reference where the metrics overlap
    rng = np.random.default_rng(0)
    X, Y = rng.random((40, 5)), rng.random((7, 5))
    for mode in ("distance", "connectivity"):
        ours = KNNTransformer("euclidean", n_neighbors=4, mode=mode).fit(X)
        ref = KNeighborsTransformer(n_neighbors=4, mode=mode).fit(X)
        for Z in (X, Y):
            a, b = ours.transform(Z), ref.transform(Z)
            assert a.shape == b.shape and a.nnz == b.nnz
            np.testing.assert_allclose(a.toarray(), b.toarray(), rtol=1e-12, atol=1e-14)


def test_graph_rows_are_the_knn_of_an_asymmetric_measure_query_first():
    rng = np.random.default_rng(1)
    X = rng.dirichlet(np.ones(6), 30)
    G = (
        KNNTransformer(NONNEG_PARAM.name, n_neighbors=3, metric_params={"base": 2.0})
        .fit(X)
        .transform(X[:5])
    )
    D = dv.cdist(X[:5], X, NONNEG_PARAM, base=2.0)
    for i in range(5):
        cols = G.indices[G.indptr[i] : G.indptr[i + 1]]
        np.testing.assert_array_equal(cols, np.argsort(D[i], kind="stable")[:4])
        np.testing.assert_allclose(G.data[G.indptr[i] : G.indptr[i + 1]], D[i, cols])


def test_similarity_enters_the_graph_as_its_bound_minus_the_value():
    rng = np.random.default_rng(2)
    X = rng.dirichlet(np.ones(4), 20)
    m = BOUNDED_SIM
    high = m.bounds.evaluate(4, m.param_defaults())[1]
    assert dissimilarity_offset(m, 4) == high
    G = KNNTransformer(m.name, n_neighbors=3).fit(X).transform(X)
    S = dv.cdist(X, X, m)
    for i in range(20):
        cols = G.indices[G.indptr[i] : G.indptr[i + 1]]
        np.testing.assert_array_equal(cols, np.argsort(-S[i], kind="stable")[:4])
        np.testing.assert_allclose(
            G.data[G.indptr[i] : G.indptr[i + 1]], high - S[i, cols], atol=1e-14
        )
        assert (G.data >= 0).all()
    unbounded = _first(
        lambda m: m.kind == "similarity" and not m.bounds.is_bounded(m.param_defaults())
    )
    with pytest.raises(dv.InputError, match="finite upper bound"):
        KNNTransformer(unbounded.name, n_neighbors=2).fit(X).transform(X)


def test_precomputed_graph_in_pipelines():
    rng = np.random.default_rng(3)
    # two well separated groups of histograms
    a = rng.dirichlet([20, 2, 2, 2], 40)
    b = rng.dirichlet([2, 2, 2, 20], 40)
    X, y = np.vstack([a, b]), np.repeat([0, 1], 40)
    m = _first(lambda m: m.properties.metric.holds == "always" and m.domain == "nonnegative")
    clf = make_pipeline(
        KNNTransformer(m.name, n_neighbors=5),
        KNeighborsClassifier(n_neighbors=5, metric="precomputed"),
    )
    clf.fit(X[::2], y[::2])
    assert (clf.predict(X[1::2]) == y[1::2]).mean() >= 0.95
    Z = rng.dirichlet(np.ones(4), 80)  # one connected cloud for Isomap
    emb = make_pipeline(
        KNNTransformer(m.name, n_neighbors=8), Isomap(n_neighbors=8, metric="precomputed")
    ).fit_transform(Z)
    assert emb.shape == (80, 2) and np.isfinite(emb).all()
    # the graph's edges are the measure's distances: DBSCAN finds the two groups
    G = KNNTransformer(m.name, n_neighbors=10).fit_transform(X)
    labels = DBSCAN(eps=np.median(G.data[G.data > 0]) * 2, metric="precomputed").fit_predict(G)
    assert len(set(labels[:40]) - {-1}) == 1 and len(set(labels[40:]) - {-1}) == 1
    assert set(labels[:40]) != set(labels[40:])


# -- positive definiteness: a claim, checked both ways ----------------------------------
PD = [m for m in MEASURES if m.positive_definite is not None]


@pytest.mark.parametrize("m", PD, ids=lambda m: m.name)
def test_positive_definiteness_claims(m):
    claim = m.positive_definite
    if claim.holds == "never":
        K = dv.cdist(claim.counterexample, claim.counterexample, m, **claim.params)
        assert np.linalg.eigvalsh(K).min() < -1e-9
        with pytest.raises(dv.InputError, match="not claimed positive definite"):
            pairwise_kernel(np.eye(3), measure=m)
        return
    rng = np.random.default_rng(4)
    for trial in range(30):
        n, d = rng.integers(2, 12), rng.integers(1, 6)
        if m.domain == "real" and trial % 2:
            X = rng.normal(size=(n, d))
        else:
            X = rng.choice([0.0, 0.2, 1.0, 3.0], size=(n, d)) * (rng.random((n, d)) < 0.8)
            X = X[X.sum(axis=1) > 0]
        if claim.holds == "pdf":
            X = X / X.sum(axis=1, keepdims=True)
        K = pairwise_kernel(X, measure=m)
        scale = max(1.0, np.abs(K).max())
        assert np.linalg.eigvalsh((K + K.T) / 2).min() >= -1e-12 * scale * len(X), m.name


def test_pairwise_kernel_refuses_what_is_not_claimed():
    with pytest.raises(dv.InputError, match="dissimilarity"):
        pairwise_kernel(np.eye(2), measure=REAL.name)
    unclaimed = _first(lambda m: m.kind == "similarity" and m.positive_definite is None)
    with pytest.raises(dv.InputError, match="not claimed"):
        pairwise_kernel(np.eye(2), measure=unclaimed)
    X = np.array([[0.2, 0.8], [1.0, 0.0]])
    np.testing.assert_array_equal(
        pairwise_kernel(X, measure=unclaimed, require_positive_definite=False),
        dv.cdist(X, X, unclaimed),
    )


# -- TSNE and SpectralClustering on the graph (metric="precomputed") ---------------------
def _dirichlet_clusters(rng, n_per, d, peaks):
    """Well separated groups of histograms: group g puts most mass on coordinate peaks[g]."""
    groups = []
    for p in peaks:
        alpha = np.full(d, 1.0)
        alpha[p] = 25.0
        groups.append(rng.dirichlet(alpha, n_per))
    return np.vstack(groups), np.repeat(np.arange(len(peaks)), n_per)


def test_spectral_clustering_on_the_graph_recovers_the_groups():
    from sklearn.cluster import SpectralClustering
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(5)
    X, y = _dirichlet_clusters(rng, 40, 12, [0, 4, 8])
    # an asymmetric measure: the graph is query first, SpectralClustering symmetrises it
    m = _first(lambda m: m.name == "kullback_leibler")
    pipe = make_pipeline(
        KNNTransformer(m.name, n_neighbors=10),
        SpectralClustering(
            n_clusters=3, affinity="precomputed_nearest_neighbors", n_neighbors=10, random_state=0
        ),
    )
    labels = pipe.fit_predict(X)
    assert adjusted_rand_score(y, labels) >= 0.95
    # the graph matters: the same estimator on a graph of random columns finds nothing
    G = KNNTransformer(m.name, n_neighbors=10).fit_transform(X)
    for i in range(len(X)):
        a, b = G.indptr[i], G.indptr[i + 1]
        G.indices[a:b] = np.sort(rng.choice(len(X), b - a, replace=False))
    shuffled = SpectralClustering(
        n_clusters=3, affinity="precomputed_nearest_neighbors", n_neighbors=10, random_state=0
    ).fit_predict(G)
    assert adjusted_rand_score(y, shuffled) < 0.3


def test_tsne_on_the_graph_preserves_neighbours_like_tsne_on_the_full_matrix():
    from sklearn.manifold import TSNE, trustworthiness

    rng = np.random.default_rng(6)
    X, _ = _dirichlet_clusters(rng, 50, 10, [0, 3, 6])
    m = _first(lambda m: m.name == "hellinger")
    D = dv.cdist(X, X, m)
    perplexity = 10
    # TSNE needs 3 * perplexity + 1 neighbours per row; the graph has n_neighbors + 1
    # (each row is its own first neighbour in fit_transform)
    kw = {"perplexity": perplexity, "init": "random", "random_state": 0, "max_iter": 500}
    via_graph = make_pipeline(
        KNNTransformer(m.name, n_neighbors=3 * perplexity + 1),
        TSNE(metric="precomputed", **kw),
    ).fit_transform(X)
    via_matrix = TSNE(metric="precomputed", **kw).fit_transform(D)
    t_graph = trustworthiness(D, via_graph, n_neighbors=10, metric="precomputed")
    t_matrix = trustworthiness(D, via_matrix, n_neighbors=10, metric="precomputed")
    t_random = trustworthiness(D, rng.permutation(via_graph), n_neighbors=10, metric="precomputed")
    assert t_graph >= 0.9 and t_graph >= t_matrix - 0.03, (t_graph, t_matrix)
    assert t_random < 0.75  # the score tells a wrong embedding apart

    # neighbour preservation: the measure's 10 nearest rows, found again in the embedding
    def overlap(E):
        near = np.argsort(np.linalg.norm(E[:, None] - E[None], axis=2), axis=1)[:, 1:11]
        ref = np.argsort(D, axis=1, kind="stable")[:, 1:11]
        return np.mean([len(set(a) & set(b)) / 10 for a, b in zip(near, ref, strict=True)])

    assert overlap(via_graph) >= overlap(via_matrix) - 0.05
