"""``scipy:NAME`` aliases reproduce scipy.spatial.distance exactly (docs/DECISIONS.md, aliases).

Every ``scipy:`` alias of the registry is compared with scipy's ``cdist``/``pdist`` (or,
for ``jensenshannon``, whose ``base`` cdist does not pass on, the scalar function per
pair) to 1e-12 relative, on non-negative data with exact zeros, on probability rows and,
for Minkowski, for p in (1, 1.5, 3).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.spatial.distance as ssd

import divergences as dv

RTOL = 1e-12

SCIPY_NAMES = (
    "braycurtis",
    "canberra",
    "chebyshev",
    "cityblock",
    "cosine",
    "euclidean",
    "jensenshannon",
    "minkowski",
    "sqeuclidean",
)


def registered_scipy_aliases() -> dict[str, dv.Measure]:
    out = {}
    for m in dv.measures():
        for alias in m.aliases:
            if alias.namespace == "scipy":
                out[alias.name.split(":", 1)[1]] = m
    return out


ALIASES = registered_scipy_aliases()


def cases(name: str) -> list[dict]:
    """Keyword sets to compare: base e and 2 for jensenshannon, p for minkowski."""
    if name == "minkowski":
        return [{"p": 1.0}, {"p": 1.5}, {"p": 3.0}]
    if name == "jensenshannon":
        return [{}, {"base": math.e}, {"base": 2.0}]
    return [{}]


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2024)
    d = 17

    def zeros(n: int) -> np.ndarray:
        X = rng.random((n, d)) * rng.uniform(0.5, 20.0, (n, 1))
        X[rng.random((n, d)) < 0.35] = 0.0
        X[:, 0] = np.where(X.sum(axis=1) == 0, 1.0, X[:, 0])  # no all-zero row
        return X

    def pdf(n: int) -> np.ndarray:
        X = rng.dirichlet(np.full(d, 0.7), n)
        X[rng.random((n, d)) < 0.2] = 0.0
        return X / X.sum(axis=1, keepdims=True)

    out = {
        "nonnegative_with_zeros": (zeros(6), zeros(5)),
        "probability_rows": (pdf(6), pdf(5)),
        "positive": (rng.uniform(0.01, 3.0, (6, d)), rng.uniform(0.01, 3.0, (5, d))),
    }
    for XA, XB in out.values():
        assert np.all(XA >= 0) and np.all(XB >= 0)
        assert np.all(XA.sum(axis=1) > 0) and np.all(XB.sum(axis=1) > 0)
    assert np.any(out["nonnegative_with_zeros"][0] == 0)
    return out


DATA = datasets()


def scipy_cdist(name: str, XA: np.ndarray, XB: np.ndarray, **kw) -> np.ndarray:
    if name == "jensenshannon":
        return np.array([[ssd.jensenshannon(a, b, **kw) for b in XB] for a in XA])
    return ssd.cdist(XA, XB, name, **kw)


def scipy_pdist(name: str, X: np.ndarray, **kw) -> np.ndarray:
    if name == "jensenshannon":
        n = X.shape[0]
        return np.array(
            [ssd.jensenshannon(X[i], X[j], **kw) for i in range(n) for j in range(i + 1, n)]
        )
    return ssd.pdist(X, name, **kw)


def test_every_listed_scipy_alias_exists():
    assert set(ALIASES) == set(SCIPY_NAMES)
    for name in SCIPY_NAMES:
        m = dv.get("scipy:" + name)
        assert getattr(m, "measure", m) is ALIASES[name]


def test_scipy_names_are_scipy_metrics():
    # a scipy: alias must name something scipy really has
    for name in SCIPY_NAMES:
        assert callable(getattr(ssd, name))


@pytest.mark.parametrize("data", sorted(DATA))
@pytest.mark.parametrize("name", SCIPY_NAMES)
def test_cdist_matches_scipy(name, data):
    XA, XB = DATA[data]
    for kw in cases(name):
        got = dv.cdist(XA, XB, "scipy:" + name, **kw)
        want = scipy_cdist(name, XA, XB, **kw)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=0, err_msg=f"{name} {kw}")


@pytest.mark.parametrize("data", sorted(DATA))
@pytest.mark.parametrize("name", SCIPY_NAMES)
def test_pdist_matches_scipy(name, data):
    X = np.vstack(DATA[data])
    assert ALIASES[name].symmetric
    for kw in cases(name):
        got = dv.pdist(X, "scipy:" + name, **kw)
        want = scipy_pdist(name, X, **kw)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=0, err_msg=f"{name} {kw}")


@pytest.mark.parametrize("name", SCIPY_NAMES)
def test_pair_matches_scipy_scalar_function(name):
    XA, XB = DATA["nonnegative_with_zeros"]
    for kw in cases(name):
        f = getattr(ssd, name)
        for a, b in zip(XA, XB, strict=False):
            want = f(a, b, **kw)
            got = dv.get("scipy:" + name)(a, b, **kw)
            assert got == pytest.approx(want, rel=RTOL, abs=0), (name, kw)
