"""Loss-relevant claims (divergences.loss_claims): every claim of every measure checked.

Registry-driven: each test runs over the whole catalog; counterexamples are replayed, the
claims that hold are re-checked on fresh inputs (other dimensions, other seeds) and against
the independent mpmath reference of tests/mp_reference.py.
"""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from mpmath import mp, mpf

import divergences as dv
from divergences.loss_claims import LOSS_CLAIMS, loss_properties, parameter_values

try:
    from mp_reference import REFERENCE
except ImportError:  # pragma: no cover - pytest run with --import-mode=importlib
    sys.path.insert(0, str(Path(__file__).parent))
    from mp_reference import REFERENCE

# every measure at every tested value of its parameters (registry-driven)
CASES = [(m.name, s) for m in dv.measures() for s in parameter_values(m)]
IDS = [n + "".join(f"-{k}={v:g}" for k, v in s.items()) for n, s in CASES]
MEASURES = [m.name for m in dv.measures()]


def _loss(m, P, Q, params=None):
    v = float(m(np.asarray(P, float), np.asarray(Q, float), **(params or {})))
    return -v if m.kind == "similarity" else v


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_every_measure_has_every_claim_with_evidence(name, params):
    lp = loss_properties(name, **params)
    for c in LOSS_CLAIMS:
        claim = getattr(lp, c)
        assert claim.holds in ("always", "never") and claim.evidence, (name, c)


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_f_divergence_claims(name, params):
    m, lp = dv.get(name), loss_properties(name, **params)
    if lp.f_divergence.holds == "never":
        assert lp.generator_f2 is None
        return
    # separable and perspective: D(P, Q) = sum_i Q_i f(P_i / Q_i) with f(u) = D((u,), (1,))
    rng = np.random.default_rng(7)
    for d in (3, 7):
        P, Q = rng.dirichlet(np.ones(d), size=2)
        f = [m(np.array([p / q]), np.array([1.0]), **params) for p, q in zip(P, Q)]
        assert m(P, Q, **params) == pytest.approx(sum(q * fu for q, fu in zip(Q, f)), rel=1e-10)
    assert m(np.array([1.0]), np.array([1.0]), **params) == 0.0  # f(1) = 0
    if lp.generator_f2 is not None:
        # the local constant of an f-divergence is f''(1) / 2
        assert lp.local_order == 2
        assert lp.local_constant == pytest.approx(lp.generator_f2 / 2, rel=2e-3)


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_local_behaviour_against_mpmath(name, params):
    m, lp = dv.get(name), loss_properties(name, **params)
    if lp.local.holds == "never":
        assert lp.local.counterexample is not None
        return
    ref = REFERENCE[name]
    sign = -1 if m.kind == "similarity" else 1
    with mp.workdps(60):
        P = [mpf(v) / 10 for v in (1, 2, 3, 4)]  # sums to 1 exactly at 60 digits
        H = [mpf(v) for v in (1, -2, 0.5, 0.5)]

        def excess(e):
            Q = [p * (1 + e * h) for p, h in zip(P, H)]
            s = sum(Q)
            Q = [q / s for q in Q]
            return sign * (ref(P, Q, **params) - ref(P, P, **params)), Q

        (v1, _), (v2, Q2) = excess(mpf("1e-12")), excess(mpf("1e-13"))
        order = float(mp.log(abs(v1) / abs(v2)) / mp.log(10))
        assert order == pytest.approx(lp.local_order, abs=1e-3)
        if lp.local_constant is not None:
            chi2 = sum((q - p) ** 2 / p for p, q in zip(P, Q2))
            assert float(v2 / chi2) == pytest.approx(lp.local_constant, rel=2e-3)


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_zero_claims_replay_or_hold_on_fresh_inputs(name, params):
    m, lp = dv.get(name), loss_properties(name, **params)
    rng = np.random.default_rng(11)
    zt, zm = lp.finite_at_zero_target, lp.finite_at_zero_model
    if zt.holds == "never":
        P, Q = zt.counterexample
        v = _loss(m, P, Q, params)
        if math.isfinite(v):  # then the logit gradient is the infinite part
            z = np.log(np.asarray(Q))
            h = 1e-6
            g = [
                (
                    _loss(m, P, np.exp(z + h * e) / np.exp(z + h * e).sum(), params)
                    - _loss(m, P, np.exp(z - h * e) / np.exp(z - h * e).sum(), params)
                )
                / (2 * h)
                for e in np.eye(len(z))
            ]
            # or the derivative in Q_k where P_k = 0
            gq = [
                (
                    _loss(m, P, np.asarray(Q) + 1e-7 * e, params)
                    - _loss(m, P, np.asarray(Q) - 1e-7 * e, params)
                )
                / 2e-7
                for e, p in zip(np.eye(len(Q)), P)
                if p == 0
            ]
            assert not (np.isfinite(g).all() and np.isfinite(gq).all())
    else:
        for K in (4, 6):
            Q = rng.dirichlet(np.ones(K))
            assert math.isfinite(_loss(m, np.eye(K)[1], Q, params))

    def slopes(P, Q, k):
        base, out = _loss(m, P, Q, params), []
        for h in (1e-6, 1e-11):
            Qh = np.array(Q, float)
            Qh[k] += h
            out.append((_loss(m, P, Qh, params) - base) / h)
        return out

    if zm.holds == "never":
        P, Q = zm.counterexample
        v = _loss(m, P, Q, params)
        if math.isfinite(v):  # then the one-sided derivative at Q_1 = 0 is infinite
            s1, s2 = slopes(P, Q, 0)
            assert not (math.isfinite(s2) and abs(s2 - s1) <= 1e-3 * max(1.0, abs(s1)))
    else:
        P = rng.dirichlet(np.ones(6))
        Q = rng.dirichlet(np.ones(6))
        Q[2] = 0
        Q /= Q.sum()
        assert math.isfinite(_loss(m, P, Q, params))
        s1, s2 = slopes(P, Q, 2)
        assert math.isfinite(s2) and abs(s2 - s1) <= 1e-3 * max(1.0, abs(s1))


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_noise_tolerance(name, params):
    m, lp = dv.get(name), loss_properties(name, **params)

    def total(q):
        return sum(_loss(m, e, q, params) for e in np.eye(len(q)))

    if lp.noise_tolerant.holds == "never":
        cx = lp.noise_tolerant.counterexample
        if len(cx) == 1:
            assert not math.isfinite(total(np.array(cx[0])))
        else:
            assert total(np.array(cx[0])) != pytest.approx(total(np.array(cx[1])), rel=1e-9)
        return
    rng = np.random.default_rng(3)
    q = rng.dirichlet(np.ones(4), size=5)
    sums = [total(row) for row in q]
    assert max(sums) - min(sums) <= 1e-9 * max(1.0, abs(sums[0]))


def test_noise_tolerant_includes_mae_and_excludes_cross_entropy():
    # Ghosh et al. 2017: MAE (= manhattan on one-hot targets) is symmetric, CE is not
    assert loss_properties("manhattan").noise_tolerant.holds == "always"
    assert loss_properties("kl").noise_tolerant.holds == "never"


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_scale_claims(name, params):
    m, lp = dv.get(name), loss_properties(name, **params)
    rng = np.random.default_rng(5)
    P, Q = rng.uniform(0.2, 1.5, size=(2, 9))
    if lp.scale.holds == "never":
        P0, Q0 = (np.array(v) for v in lp.scale.counterexample)
        degs = {
            round(
                math.log(_loss(m, a * P0, a * Q0, params) / _loss(m, P0, Q0, params)) / math.log(a),
                6,
            )
            if _loss(m, P0, Q0, params)
            else None
            for a in (0.5, 2.0, 3.0)
        }
        assert len(degs) > 1
        return
    k = lp.scale_degree
    for a in (0.3, 5.0):
        assert _loss(m, a * P, a * Q, params) == pytest.approx(
            a**k * _loss(m, P, Q, params), rel=1e-9
        )


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_bounded_gradient_claims(name, params):
    m, lp = dv.get(name), loss_properties(name, **params)
    P = np.array([0.9, 0.05, 0.05])

    def grad(z):
        h = 1e-6

        def L(zz):
            q = np.exp(zz - zz.max())
            return _loss(m, P, q / q.sum(), params)

        return np.array([(L(z + h * e) - L(z - h * e)) / (2 * h) for e in np.eye(3)])

    z = np.array([-1.0, 0.3, 0.7])
    g_small, g_big = np.abs(grad(8 * z)).max(), np.abs(grad(200 * z)).max()
    if lp.bounded_gradient.holds == "always" and np.isfinite(g_big):
        assert g_big <= 10 * max(g_small, 1.0)


def test_select_and_list_filter_on_the_loss_claims(capsys):
    from divergences.cli import main

    chosen = dv.select(finite_at_zero_target=True, bounded_gradient=True, symmetric=True)
    for m in chosen:
        lp = loss_properties(m)
        assert lp.finite_at_zero_target.holds == lp.bounded_gradient.holds == "always"
        assert m.properties.symmetric.holds != "never"
    others = {m.name for m in dv.measures()} - {m.name for m in chosen}
    for name in others:
        m, lp = dv.get(name), loss_properties(name)
        assert "never" in (
            lp.finite_at_zero_target.holds,
            lp.bounded_gradient.holds,
            m.properties.symmetric.holds,
        )
    assert main(["list", "--noise-tolerant"]) == 0
    listed = {line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert listed == {m.name for m in dv.select(noise_tolerant=True)}
    assert main(["show", "kl"]) == 0
    out = capsys.readouterr().out
    assert "noise_tolerant" in out and "finite_at_zero_model" in out


def test_claims_depend_on_the_parameters_where_they_should():
    # Minkowski at p = 1 is Manhattan: an f-divergence and noise tolerant; at p = 2 neither
    assert loss_properties("minkowski", p=1).noise_tolerant.holds == "always"
    assert loss_properties("minkowski", p=1).f_divergence.holds == "always"
    assert loss_properties("minkowski", p=2).noise_tolerant.holds == "never"
    with pytest.raises(ValueError, match="manhattan: 'p' is not one of its parameters"):
        loss_properties("manhattan", p=2)
    with pytest.raises(ValueError, match="outside its domain"):
        loss_properties("minkowski", p=-1)
