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


# -- issue 13, item 16: what scipy's own tests/test_distance.py asks of these names ----------
#: per-pair values printed in scipy's test file (scipy/spatial/distance/tests/
#: test_distance.py at scipy commit 3dbf660a919b1479cdf30d533176053b428d08d3: TestSomeDistanceFunctions
#: test_minkowski/test_euclidean/test_sqeuclidean/test_cosine on x = [1, 2, 3],
#: y = [1, 1, 5]; test_canberra, test_braycurtis (ticket #1430), test_euclideans
#: (ticket #1328), test_jensenshannon)
SCIPY_TEST_VALUES = [
    ("minkowski", [1.0, 2.0, 3.0], [1.0, 1.0, 5.0], {"p": 1}, 3.0),
    ("minkowski", [1.0, 2.0, 3.0], [1.0, 1.0, 5.0], {"p": 1.5}, (1.0 + 2.0**1.5) ** (2.0 / 3)),
    ("minkowski", [1.0, 2.0, 3.0], [1.0, 1.0, 5.0], {"p": 2}, 5.0**0.5),
    ("minkowski", [1.0, 2.0, 3.0], [1.0, 1.0, 5.0], {"p": 0.25}, (1.0 + 2.0**0.25) ** 4),
    ("euclidean", [1.0, 2.0, 3.0], [1.0, 1.0, 5.0], {}, math.sqrt(5.0)),
    ("sqeuclidean", [1.0, 2.0, 3.0], [1.0, 1.0, 5.0], {}, 5.0),
    ("cosine", [1.0, 2.0, 3.0], [1.0, 1.0, 5.0], {}, 1.0 - 18.0 / (math.sqrt(14) * math.sqrt(27))),
    ("canberra", [1, 2, 3], [2, 4, 6], {}, 1.0),
    ("canberra", [1, 1, 0, 0], [1, 0, 1, 0], {}, 2.0),
    ("braycurtis", [1, 2, 3], [2, 4, 6], {}, 1.0 / 3),
    ("braycurtis", [1, 1, 0, 0], [1, 0, 1, 0], {}, 0.5),
    ("sqeuclidean", [1, 1, 1], [0, 0, 0], {}, 3.0),
    ("euclidean", [1, 1, 1], [0, 0, 0], {}, math.sqrt(3)),
    ("jensenshannon", [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], {"base": 2.0}, 1.0),
    ("jensenshannon", [1.0, 0.0], [0.5, 0.5], {}, 0.46450140402245893),
    ("jensenshannon", [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], {}, 0.0),
]


@pytest.mark.parametrize(("name", "u", "v", "kw", "want"), SCIPY_TEST_VALUES)
def test_scipy_test_file_values(name, u, v, kw, want):
    assert dv.get("scipy:" + name)(u, v, **kw) == pytest.approx(want, rel=1e-12, abs=1e-15)
    got = dv.cdist(np.array([u], float), np.array([v], float), "scipy:" + name, **kw)
    assert got[0, 0] == pytest.approx(want, rel=1e-12, abs=1e-15)


WIDENED = sorted(
    a.name.split(":", 1)[1]
    for m in dv.measures()
    for a in m.aliases
    if a.namespace == "scipy" and a.domain is not None
)


def test_widened_aliases_are_those_scipy_computes_on_negatives():
    assert WIDENED == ["braycurtis", "canberra", "jensenshannon"]


@pytest.mark.parametrize("name", [n for n in WIDENED if ALIASES[n].outside_domain is None])
def test_negative_entries_give_scipys_values(name):
    """scipy computes these on any reals (its test suite feeds them signed integers); the
    scipy: alias does too, the bare name keeps Cha's non-negative domain."""
    rng = np.random.default_rng(3)
    XA = rng.integers(-5, 6, (7, 6)).astype(float)
    XB = rng.integers(-5, 6, (5, 6)).astype(float)
    XA[0, :] = XB[0, :] = 0.0
    XA[0, 0] = XB[0, 0] = 1.0
    np.testing.assert_allclose(dv.cdist(XA, XB, "scipy:" + name), ssd.cdist(XA, XB, name), rtol=RTOL)
    np.testing.assert_allclose(dv.pdist(XA, "scipy:" + name), ssd.pdist(XA, name), rtol=RTOL)
    with pytest.raises(dv.InputError, match="non-negative"):
        dv.cdist(XA, XB, ALIASES[name].name)


@pytest.mark.parametrize("name", [n for n in WIDENED if ALIASES[n].outside_domain is not None])
def test_rows_with_negative_entries_give_scipys_value_outside_the_domain(name):
    """Issue 13 item 16: scipy's jensenshannon normalises each row by its sum and sums
    rel_entr(p, m) + rel_entr(q, m), +inf for a negative argument: an all-negative row
    normalises to a probability vector (an ordinary value), any other row with a negative
    entry gives inf. Compared with scipy's own function pair by pair (its cdist/pdist C
    path does not normalise all-negative rows the same way and gives inf for them); a row
    summing to 0 (scipy: NaN from 0/0) is refused by name."""
    rng = np.random.default_rng(16)
    XA = rng.integers(-5, 6, (8, 5)).astype(float)
    XB = rng.integers(-5, 6, (6, 5)).astype(float)
    XA[0] = rng.random(5)  # probability-like rows, and all-negative ones
    XA[1] = -rng.random(5)
    XB[0] = rng.random(5)
    XB[1] = -rng.random(5) - 0.1
    for X in (XA, XB):
        X[np.abs(X.sum(axis=1)) < 0.5, 0] += 3.0  # no row sums to (nearly) 0
    alias = "scipy:" + name
    for kw in cases(name):
        want = np.array([[ssd.jensenshannon(u, v, **kw) for v in XB] for u in XA])
        assert np.isinf(want).sum() > 10 and np.isfinite(want).sum() >= 4
        got = dv.cdist(XA, XB, alias, **kw)
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        fin = np.isfinite(want)
        np.testing.assert_allclose(got[fin], want[fin], rtol=1e-12)
        assert dv.get(alias)(XA[2], XB[3], **kw) == pytest.approx(want[2, 3], rel=1e-12)
        n = XA.shape[0]
        iu = np.triu_indices(n, k=1)
        pw = np.array([ssd.jensenshannon(XA[i], XA[j], **kw) for i, j in zip(*iu)])
        pg = dv.pdist(XA, alias, **kw)
        np.testing.assert_array_equal(np.isinf(pg), np.isinf(pw))
        np.testing.assert_allclose(pg[np.isfinite(pw)], pw[np.isfinite(pw)], rtol=1e-12)
    with pytest.raises(dv.InputError, match="non-negative"):
        dv.cdist(XA, XB, ALIASES[name].name)
    zero_sum = np.array([[1.0, -1.0, 0.0]])
    with pytest.raises(dv.InputError, match="sums to 0"):
        dv.cdist(zero_sum, np.ones((1, 3)), alias)


def test_minkowski_p_inf_is_chebyshev():
    X, Y = DATA["positive"]
    want = ssd.cdist(X, Y, "minkowski", p=np.inf)
    np.testing.assert_allclose(dv.cdist(X, Y, "scipy:minkowski", p=np.inf), want, rtol=RTOL)
    np.testing.assert_allclose(dv.pdist(X, "minkowski", p=math.inf), ssd.pdist(X, "chebyshev"))


def test_unknown_keywords_raise_type_error_as_scipy_does():
    X, _ = DATA["positive"]
    for name, kw in (("cosine", {"p": 2.0}), ("euclidean", {"V": 1.0}), ("cityblock", {"VI": 1.0})):
        with pytest.raises(TypeError):
            ssd.cdist(X, X, name, **kw)
        with pytest.raises(TypeError, match="unknown parameter"):
            dv.cdist(X, X, "scipy:" + name, **kw)
        with pytest.raises(dv.InputError):  # still an InputError (a ValueError) too
            dv.pdist(X, "scipy:" + name, **kw)


def test_out_follows_scipys_contract():
    """scipy's test_cdist_out / test_pdist_out: the result is written into out and out is
    returned; a wrong shape, a non-C-contiguous or a non-float64 out is a ValueError."""
    XA, XB = DATA["positive"]
    m, n = len(XA), len(XB)
    out = np.empty((m, n))
    got = dv.cdist(XA, XB, "scipy:minkowski", p=1.23, out=out)
    assert got is out
    np.testing.assert_allclose(out, ssd.cdist(XA, XB, "minkowski", p=1.23), rtol=RTOL)
    bad = [
        np.empty((m - 1, n + 1)),
        np.empty((2 * m, 2 * n))[::2, ::2],
        np.empty((m, n), order="F"),
        np.empty((m, n), dtype=np.int64),
    ]
    for o in bad:
        with pytest.raises(ValueError):
            dv.cdist(XA, XB, "scipy:cityblock", out=o)
    size = m * (m - 1) // 2
    out = np.empty(size)
    assert dv.pdist(XA, "scipy:cosine", out=out) is out
    np.testing.assert_allclose(out, ssd.pdist(XA, "cosine"), rtol=1e-12)
    for o in (np.empty(size + 3), np.empty(2 * size)[::2], np.empty(size, dtype=np.int64)):
        with pytest.raises(ValueError):
            dv.pdist(XA, "scipy:cosine", out=o)
