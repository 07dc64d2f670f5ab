"""Every property claim, bound and relation of every measure, checked from the registry.

- A counterexample really breaks its claim (on probability vectors for ``never``,
  off the simplex for ``pdf``), and ``never`` counterexamples are probability vectors.
- A claim that holds (``always``/``pdf``) survives random searches: pools of vectors
  whose every ordered triple is checked (>= 10^4 triples per measure and claim, several
  dimensions, Dirichlet, sparse and peaked draws), plus hypothesis-drawn pools.
- Bounds hold on random probability vectors; relations hold where they claim to.

Every search runs at every parameter set of :meth:`Measure.param_grid` (each parameter at
its default, its special points and its test values) where the claim's condition applies.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import divergences as dv
from divergences.spec import CLAIMS

MEASURES = dv.measures()
IDS = [m.name for m in MEASURES]
RTOL = 1e-9


def _params(m, claim) -> dict[str, float]:
    return {**m.param_defaults(), **claim.params}


def applicable(m, claim) -> list[dict[str, float]]:
    """The parameter sets of the grid at which ``claim`` is made."""
    return [params for params in m.param_grid() if claim.applies(params)]


def matrix(m, X, **params):
    return np.asarray(dv.cdist(X, X, m, **params))


def violations(m, claim_name: str, X: np.ndarray, **params) -> list[str]:
    """Descriptions of every violation of ``claim_name`` among the rows of ``X``."""
    D = matrix(m, X, **params)
    fin = np.where(np.isfinite(D), np.abs(D), 0.0)
    tol = RTOL * (1.0 + fin) + 1e-12
    out: list[str] = []
    with np.errstate(invalid="ignore"):
        # rows that differ by more than underflow-sized amounts
        distinct = np.max(np.abs(X[:, None, :] - X[None, :, :]), axis=-1) > 1e-100
        if claim_name in ("symmetric", "metric"):
            both_inf = np.isinf(D) & np.isinf(D.T) & (np.sign(D) == np.sign(D.T))
            bad = ~both_inf & (np.abs(D - D.T) > np.maximum(tol, tol.T))
            out += [
                f"f(X{i}, X{j}) = {D[i, j]} != f(X{j}, X{i}) = {D[j, i]}"
                for i, j in zip(*np.nonzero(bad))
            ]
        if claim_name in ("nonnegative", "metric"):
            out += [f"f(X{i}, X{j}) = {D[i, j]} < 0" for i, j in zip(*np.nonzero(D < -tol))]
        if claim_name in ("identity", "metric"):
            diag = np.diag(D)
            if m.kind == "dissimilarity":
                out += [
                    f"f(X{i}, X{i}) = {diag[i]} != 0"
                    for i in np.nonzero(~(np.abs(diag) <= tol.diagonal()))[0]
                ]
            else:
                bad = D > diag[:, None] + tol
                out += [
                    f"s(X{i}, X{j}) = {D[i, j]} > s(X{i}, X{i}) = {diag[i]}"
                    for i, j in zip(*np.nonzero(bad))
                ]
        if claim_name == "metric":
            out += [
                f"f(X{i}, X{j}) = 0 for distinct rows"
                for i, j in zip(*np.nonzero(distinct & (D == 0)))
            ]
        if claim_name in ("triangle", "metric"):
            # D[i, k] <= D[i, j] + D[j, k] for all i, j, k
            lhs = D[:, None, :]
            rhs = D[:, :, None] + D[None, :, :]
            slack = RTOL * (1.0 + np.abs(np.where(np.isfinite(rhs), rhs, 0.0))) + 1e-12
            bad = lhs > rhs + slack
            idx = np.argwhere(bad)
            out += [
                f"f(X{i}, X{k}) = {D[i, k]} > f(X{i}, X{j}) + f(X{j}, X{k}) = {D[i, j] + D[j, k]}"
                for i, j, k in idx[:5]
            ]
    return out


def is_pdf(v) -> bool:
    v = np.asarray(v, dtype=float)
    return bool(np.all(v >= 0) and abs(v.sum() - 1) < 1e-12)


# ----------------------------------------------------------------------------- counterexamples

CLAIM_CASES = [(m, c) for m in MEASURES for c in CLAIMS]


@pytest.mark.parametrize(
    ("m", "claim_name"), CLAIM_CASES, ids=[f"{m.name}-{c}" for m, c in CLAIM_CASES]
)
def test_claim_has_evidence_and_counterexample_breaks_it(m, claim_name):
    claim = getattr(m.properties, claim_name)
    assert claim.evidence.strip()
    if claim.holds == "always" and claim.counterexample is None:
        return
    assert claim.counterexample is not None, "a claim that fails needs a counterexample"
    cx = np.array(claim.counterexample, dtype=float)
    if claim.holds == "never":
        assert all(is_pdf(v) for v in cx), "a 'never' counterexample must be probability vectors"
    elif claim.holds == "pdf":
        assert not all(is_pdf(v) for v in cx), "a 'pdf' counterexample must leave the simplex"
    else:  # always, under a condition on the parameters
        assert claim.condition and claim.params, "an 'always' counterexample shows a condition"
        assert not claim.applies(_params(m, claim)), "the counterexample is outside the condition"
    if m.domain == "nonnegative":
        assert np.all(cx >= 0)
    found = violations(m, claim_name, cx, **_params(m, claim))
    assert found, f"the counterexample {claim.counterexample} does not break {claim_name}"


def test_every_measure_has_all_claims():
    for m in MEASURES:
        assert [n for n, _ in m.properties.items()] == list(CLAIMS)


# ----------------------------------------------------------------------------- random search


def pdf_pools(seed: int) -> list[np.ndarray]:
    """Pools of probability vectors: Dirichlet, sparse and peaked draws in several dimensions."""
    rng = np.random.default_rng(seed)
    pools = []
    for d in (2, 3, 5, 10, 40):
        pools.append(rng.dirichlet(np.ones(d), size=24))  # flat
        pools.append(rng.dirichlet(np.full(d, 0.1), size=24))  # peaked
        sparse = rng.dirichlet(np.ones(d), size=24) * (rng.random((24, d)) < 0.5)
        sparse[np.arange(24), rng.integers(0, d, 24)] += rng.random(24) + 0.01
        pools.append(sparse / sparse.sum(axis=1, keepdims=True))
    # vertices and midpoints of the simplex: extreme cases for many claims
    eye = np.eye(3)
    pools.append(np.vstack([eye, (eye[:, None] + eye[None]).reshape(-1, 3) / 2]))
    return pools


def domain_pools(m, seed: int) -> list[np.ndarray]:
    """Pools of vectors of the whole domain: unnormalised non-negative, or signed reals."""
    rng = np.random.default_rng(seed)
    pools = []
    for d in (1, 2, 3, 6, 20):
        for scale in (1e-3, 1.0, 50.0):
            X = rng.exponential(scale, size=(20, d)) * (rng.random((20, d)) < 0.7)
            X[np.arange(20), rng.integers(0, d, 20)] += scale * (rng.random(20) + 0.01)
            pools.append(X)
            if m.domain == "real":
                pools.append(rng.normal(0, scale, size=(20, d)))
    return pools


HOLDING = [(m, c) for m, c in CLAIM_CASES if getattr(m.properties, c).holds != "never"]


@pytest.mark.parametrize(("m", "claim_name"), HOLDING, ids=[f"{m.name}-{c}" for m, c in HOLDING])
def test_claim_survives_random_search(m, claim_name):
    claim = getattr(m.properties, claim_name)
    pools = pdf_pools(7)
    if claim.holds == "always":
        pools += domain_pools(m, 11)
    grid = applicable(m, claim)
    assert grid, f"{m.name} {claim_name}: the condition {claim.condition!r} is never tested"
    for params in grid:
        triples = 0
        for X in pools:
            found = violations(m, claim_name, X, **params)
            assert not found, (
                f"{m.name} {claim_name} ({claim.holds}) at {params} broken: {found[:3]}\n"
                f"rows: {X.tolist()}"
            )
            triples += len(X) ** 3
        assert triples >= 10_000


@st.composite
def pools(draw, nonneg: bool, pdf: bool):
    d = draw(st.integers(1, 6))
    k = draw(st.integers(3, 6))
    values = st.one_of(
        st.just(0.0),
        st.floats(1e-6, 1.0),
        # tiny but with representable squares: sums of squares underflow below ~1e-154
        st.sampled_from([1e-150, 0.25, 0.5, 1.0]),
        st.floats(1.0, 100.0),
    )
    rows = []
    for _ in range(k):
        row = np.array(draw(st.lists(values, min_size=d, max_size=d)))
        if not nonneg:
            signs = np.array(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=d, max_size=d)))
            row = row * signs
        if not np.any(row != 0):
            row[0] = 1.0
        if pdf:
            row = np.abs(row) / np.abs(row).sum()
        rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize(("m", "claim_name"), HOLDING, ids=[f"{m.name}-{c}" for m, c in HOLDING])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_claim_survives_hypothesis(m, claim_name, data):
    claim = getattr(m.properties, claim_name)
    pdf = claim.holds == "pdf" or data.draw(st.booleans())
    X = data.draw(pools(nonneg=m.domain == "nonnegative", pdf=pdf))
    params = data.draw(st.sampled_from(applicable(m, claim)))
    found = violations(m, claim_name, X, **params)
    assert not found, f"{m.name} {claim_name} at {params}: {found[:3]}"


# ----------------------------------------------------------------------------- bounds


@pytest.mark.parametrize("m", MEASURES, ids=IDS)
def test_bounds_hold_on_pdfs(m):
    for params in m.param_grid():
        for X in pdf_pools(3):
            D = matrix(m, X, **params)
            lo, hi = m.bounds.evaluate(X.shape[1], params)
            finite = D[~np.isnan(D)]
            assert np.all(finite >= lo - 1e-12), (m.name, params, finite.min(), lo)
            assert np.all(finite <= hi + 1e-12 * max(1.0, abs(hi))) or not math.isfinite(hi), (
                m.name,
                params,
                finite.max(),
                hi,
            )
            assert m.is_bounded(params) == math.isfinite(hi)


def test_bounds_are_attained_or_approached():
    """The printed upper bound of each bounded measure is reached on the simplex's vertices
    (disjoint supports), its midpoints, or equal pairs: a bound is a range, not a guess."""
    eye = np.eye(4)
    X = np.vstack([eye, (eye[:2] + eye[2:]) / 2, np.full((1, 4), 0.25)])
    for m in MEASURES:
        if not m.is_bounded():
            continue
        _, hi = m.bounds.evaluate(4, m.param_defaults())
        D = matrix(m, X)
        D = D[~np.isnan(D)]
        assert abs(D.max() - hi) < 1e-9 * max(1, abs(hi)) or m.name in {
            "lorentzian",  # attained by spreading |P - Q| evenly, checked below
            "gower",
            "canberra",
            "wave_hedges",
            "divergence",
            "clark",
        }, (m.name, D.max(), hi)


@pytest.mark.parametrize(
    "name", ["lorentzian", "canberra", "wave_hedges", "divergence", "clark", "gower"]
)
def test_dimension_dependent_bounds_are_attained(name):
    m = dv.get(name)
    d = 4
    _, hi = m.bounds.evaluate(d, m.param_defaults())
    if name in ("lorentzian", "gower"):
        P, Q = np.array([0.5, 0.5, 0, 0]), np.array([0, 0, 0.5, 0.5])
    else:  # every coordinate with exactly one zero
        P, Q = np.array([0.5, 0, 0.5, 0]), np.array([0, 0.5, 0, 0.5])
    assert m(P, Q) == pytest.approx(hi, rel=1e-12)


# ----------------------------------------------------------------------------- relations

RELATIONS = [(m, r) for m in MEASURES for r in m.relations]


def _relation_namespace():
    ns = {"sqrt": np.sqrt, "log": np.log, "max": max, "min": min}
    for other in MEASURES:
        ns[other.name] = lambda P, Q, _o=other, **kw: np.float64(_o(P, Q, **kw))
    return ns


@pytest.mark.parametrize(("m", "rel"), RELATIONS, ids=[f"{m.name}{r.params or ''}={r.expr}" for m, r in RELATIONS])
def test_relation_holds(m, rel):
    ns = _relation_namespace()
    checked = 0
    for X in pdf_pools(1)[:6] + ([] if rel.holds == "pdf" else domain_pools(m, 2)[:6]):
        for P, Q in zip(X[: len(X) // 2], X[len(X) // 2 :]):
            lhs = m(P, Q, **rel.params)
            with np.errstate(divide="ignore"):
                rhs = float(eval(rel.expr, ns, {"P": P, "Q": Q, "d": len(P)}))
            if math.isinf(lhs) or math.isinf(rhs):
                assert lhs == rhs, (m.name, rel.expr, P, Q, lhs, rhs)
            else:
                assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-12), (m.name, rel.expr, P, Q)
            checked += 1
    assert checked > 50
