"""Loss-relevant properties of every measure, derived from its definition and checked.

The catalog's five claims answer the statistician. A loss designer asks other questions;
each is answered here for every measure, at its default parameters, as a
:class:`~divergences.spec.Claim` (``always`` or ``never``) with its evidence, and a stored
counterexample where it fails. As a loss, a measure is L(P, Q) = D(P, Q) for a dissimilarity
and -s(P, Q) for a similarity, with P the target and Q = softmax(z) the model (the loss
adapters' convention).

``f_divergence``
    The definition is one sum over i of a term t(P_i, Q_i), positively homogeneous of degree 1
    (t(a x, a y) = a t(x, y)) with t(1, 1) = 0, times a constant c: then D(P, Q) =
    sum_i Q_i f(P_i / Q_i) with the generator f(u) = c t(u, 1), f(1) = 0. Reported with f''(1),
    which fixes the local behaviour (D ~ f''(1) / 2 chi2 near P = Q). Otherwise the failing
    condition, with the point where it fails.
``local``
    Near P = Q, D(P, P + e h) behaves as c e^k: the order k (1 or 2) and, for k = 2, the
    constant relative to Pearson's chi2 (sum h_i^2 / P_i e^2), measured at e = 1e-3 and 1e-4.
``finite_at_zero_target``
    L(e_j, softmax(z)), its gradient with respect to z and its derivative in Q_k where the
    target is 0 are finite for one-hot targets (logit and probability space).
``finite_at_zero_model``
    L(P, Q) and its derivative in Q_k are finite where the model has Q_k = 0 (P positive);
    in logit space Q_k = 0 cannot happen, and ``bounded_gradient`` answers the limit.
``bounded_gradient``
    |dL/dz| stays bounded as the logits grow (compared at logit scales 8, 32 and 128, for
    one-hot and label-smoothed targets).
``noise_tolerant``
    Ghosh, Kumar & Sastry (AAAI 2017): a loss with sum_j L(e_j, q) constant over q is
    tolerant to symmetric label noise below (K - 1) / K. Checked on random q (K = 3 and 5);
    where it fails, the relative spread (max - min) / mean of the sum is reported.
``scale``
    D(a P, a Q) = a^k D(P, Q) for a > 0: the degree k (0: invariant to a common rescaling).

Everything except ``f_divergence``'s form is a numerical search (the evidence says on what),
so an ``always`` here means "no counterexample in the search", and every ``never`` carries
the counterexample found.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .spec import Claim, Measure

LOSS_CLAIMS = (
    "f_divergence",
    "local",
    "finite_at_zero_target",
    "finite_at_zero_model",
    "bounded_gradient",
    "noise_tolerant",
    "scale",
)

#: The claims ``select`` and ``divergences list`` filter on (yes/no questions).
LOSS_FILTERS = (
    "finite_at_zero_target",
    "finite_at_zero_model",
    "bounded_gradient",
    "noise_tolerant",
    "f_divergence",
)

LOSS_CLAIM_MEANING = {
    "f_divergence": "D(P, Q) = sum Q_i f(P_i / Q_i) with f(1) = 0 (generator and f''(1) given)",
    "local": "near P = Q, D behaves as c * e^k (order k; c relative to chi2 when k = 2)",
    "finite_at_zero_target": "loss, logit gradient and gradient w.r.t. Q finite for one-hot "
    "targets",
    "finite_at_zero_model": "loss and its gradient w.r.t. Q_j finite where the model has Q_j = 0",
    "bounded_gradient": "|d loss / d logits| bounded as the logits grow",
    "noise_tolerant": "sum over classes j of L(e_j, q) constant (Ghosh et al. 2017)",
    "scale": "D(a P, a Q) = a^k D(P, Q): homogeneous of degree k",
}


@dataclass(frozen=True)
class LossProperties:
    """The loss-relevant claims of one measure (at its default parameters)."""

    f_divergence: Claim
    local: Claim
    finite_at_zero_target: Claim
    finite_at_zero_model: Claim
    bounded_gradient: Claim
    noise_tolerant: Claim
    scale: Claim
    generator_f2: float | None = None
    local_order: int | None = None
    local_constant: float | None = None
    scale_degree: float | None = None
    noise_spread: float = 0.0

    def items(self) -> list[tuple[str, Claim]]:
        """(name, claim) pairs in catalog order."""
        return [(n, getattr(self, n)) for n in LOSS_CLAIMS]


def _yes(evidence: str) -> Claim:
    return Claim("always", evidence)


def _no(evidence: str, *cx: Any) -> Claim:
    vecs = tuple(tuple(float(v) for v in np.atleast_1d(c)) for c in cx) or None
    return Claim("never", evidence, vecs)


def _values(
    m: Measure, P: np.ndarray, Q: np.ndarray, params: dict[str, float] | None = None
) -> np.ndarray:
    """L(P_i, Q_i) row by row (reference back end; a similarity negated)."""
    from .api import cdist

    with np.errstate(all="ignore"):  # rows are few and short: the diagonal of all pairs
        v = np.diagonal(cdist(P, Q, m, backend="numpy", **(params or {}))).copy()
    return -v if m.kind == "similarity" else v


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _logit_grad(
    m: Measure, P: np.ndarray, Z: np.ndarray, params: dict[str, float] | None, h: float = 1e-6
) -> np.ndarray:
    """dL/dz by central differences, shape of Z."""
    G = np.empty_like(Z)
    for j in range(Z.shape[1]):
        E = np.zeros_like(Z)
        E[:, j] = h
        with np.errstate(all="ignore"):
            G[:, j] = (
                _values(m, P, _softmax(Z + E), params) - _values(m, P, _softmax(Z - E), params)
            ) / (2 * h)
    return G


def _rng(m: Measure) -> np.random.Generator:
    return np.random.default_rng(sum(map(ord, m.name)))


def f_divergence(m: Measure, params: dict[str, float] | None = None) -> tuple[Claim, float | None]:
    """The f-divergence form of the definition, or the condition that fails.

    The finalize must be linear in the sums (F(s) = sum_a c_a s_a, checked at random sums
    and dimensions); the combined term t = sum_a c_a t_a must be 1-homogeneous with
    t(1, 1) = 0. Then f(u) = t(u, 1).
    """
    from .expr import compile_with
    from .kernels.helpers import vocabulary

    rule = m.strict
    if m.kind == "similarity":
        return _no("a similarity (larger is closer), not a divergence"), None
    if any(a.reduce != "sum" for a in rule.accumulators.values()):
        return _no("an accumulator is a max or min, not a sum over coordinates"), None
    voc = vocabulary(np)
    params = {**m.param_defaults(), **(params or {})}
    names = list(rule.accumulators)
    terms = [compile_with(rule.accumulators[n].term, voc) for n in names]
    fin = compile_with(rule.finalize, voc)

    def F(sums: np.ndarray, d: int = 4) -> float:  # noqa: N802 - the finalize
        with np.errstate(all="ignore"):
            ns = {n: np.float64(v) for n, v in zip(names, sums, strict=True)}
            return float(np.asarray(fin(**ns, d=float(d), eps=1e-5, **params)))

    eye = np.eye(len(names))
    c = np.array([F(e) - F(0 * e) for e in eye])
    rng = _rng(m)
    for sums in rng.uniform(0.1, 5.0, size=(6, len(names))):
        for d in (4, 9):
            want = float(c @ sums)
            if not math.isclose(F(sums, d), want, rel_tol=1e-9, abs_tol=1e-12):
                return _no(
                    f"the finalize {rule.finalize!r} is not linear in the sums: at "
                    f"{dict(zip(names, np.round(sums, 4).tolist(), strict=True))} it gives "
                    f"{F(sums, d):.6g}, not {want:.6g} (a function of divergence sums, not one)",
                    sums,
                ), None

    def t(x: float, y: float) -> float:
        with np.errstate(all="ignore"):
            return float(
                sum(
                    ci * float(np.asarray(f(x=np.float64(x), y=np.float64(y), eps=1e-5, **params)))
                    for ci, f in zip(c, terms, strict=True)
                )
            )

    for x, y, a in rng.uniform(0.05, 3.0, size=(40, 3)):
        lhs, rhs = t(a * x, a * y), a * t(x, y)
        if not math.isclose(lhs, rhs, rel_tol=1e-9, abs_tol=1e-12):
            return _no(
                f"the term is not 1-homogeneous: t({a * x:.4g}, {a * y:.4g}) = {lhs:.6g} but "
                f"{a:.4g} t({x:.4g}, {y:.4g}) = {rhs:.6g}",
                (x, y, a),
            ), None
    if abs(t(1.0, 1.0)) > 1e-15:
        return _no(f"t(1, 1) = {t(1.0, 1.0):.6g}, so f(1) != 0", (1.0, 1.0)), None

    def second(h: float) -> float:
        return (t(1 + h, 1.0) - 2 * t(1.0, 1.0) + t(1 - h, 1.0)) / h**2

    # central second differences at two steps: they agree (to O(h) plus rounding) where f is
    # twice differentiable at 1 and blow up like 1/h at a kink (|u - 1|)
    s1, s2 = second(1e-4), second(1e-5)
    f2 = float(f"{s2:.4g}") if math.isclose(s1, s2, rel_tol=1e-3) else None
    combined = " + ".join(
        f"{ci:g} * [{rule.accumulators[n].term}]" for ci, n in zip(c, names, strict=True) if ci
    )
    curv = "f is not twice differentiable at 1" if f2 is None else f"f''(1) = {f2:g}"
    evidence = (
        f"generator f(u) = t(u, 1) with t = {combined}; t is 1-homogeneous (40 random points) "
        f"and t(1, 1) = 0, so D(P, Q) = sum Q_i f(P_i / Q_i) with f(1) = 0; {curv}"
    )
    return _yes(evidence), f2


def local(
    m: Measure, params: dict[str, float] | None = None
) -> tuple[Claim, int | None, float | None]:
    """Order and constant of the measure near P = Q (relative to chi2 for order 2)."""
    rng = _rng(m)
    P = rng.dirichlet(np.ones(6), size=4) * 0.8 + 0.2 / 6
    H = rng.normal(size=P.shape)
    H -= H.mean(axis=1, keepdims=True)
    eps = (1e-3, 1e-4)
    vals = []
    for e in eps:
        Q = P * (1 + e * H)
        Q /= Q.sum(axis=1, keepdims=True)
        vals.append((Q, _values(m, P, Q, params) - _values(m, P, P, params)))
    (_, v1), (Q2, v2) = vals
    with np.errstate(all="ignore"):
        k = np.log(np.abs(v1) / np.abs(v2)) / np.log(10.0)
    if not np.isfinite(k).all() or np.ptp(k) > 0.05:
        return (
            _no(f"no single power law near P = Q (slopes {np.round(k, 3).tolist()})", P[0], Q2[0]),
            None,
            None,
        )
    order = round(float(k.mean()))
    if abs(k.mean() - order) > 0.05:
        return _no(f"order {k.mean():.3f} is not an integer", P[0], Q2[0]), None, None
    if order != 2:
        return (
            _yes(
                f"D(P, P + e h) ~ c e^{order} (slope {k.mean():.3f} between e = 1e-3 and "
                "1e-4 at 4 random P)"
            ),
            order,
            None,
        )
    chi2 = np.sum((Q2 - P) ** 2 / P, axis=1)
    ratio = v2 / chi2
    if np.ptp(ratio) > 1e-3 * max(1.0, abs(ratio.mean())):
        return (
            _yes(
                f"order 2 (slope {k.mean():.3f}) but not a multiple of chi2: D / chi2 = "
                f"{ratio.min():.4g}..{ratio.max():.4g} at 4 random P"
            ),
            2,
            None,
        )
    cst = float(f"{ratio.mean():.3g}")
    return (
        _yes(f"D(P, Q) ~ {cst:g} chi2(P, Q) near P = Q (D / chi2 at e = 1e-4, 4 random P)"),
        2,
        cst,
    )


def _prob_grad(m: Measure, P: np.ndarray, Q: np.ndarray, j: int, params: Any) -> np.ndarray:
    """dL/dQ_j by central differences (Q interior)."""
    E = np.zeros_like(Q)
    E[:, j] = 1e-7
    with np.errstate(all="ignore"):
        return (_values(m, P, Q + E, params) - _values(m, P, Q - E, params)) / 2e-7


def _one_sided(m: Measure, P: np.ndarray, Q: np.ndarray, j: int, params: Any) -> np.ndarray:
    """Slope of L in Q_j from Q_j = 0 upwards; inf where it does not settle (sqrt, log)."""
    base = _values(m, P, Q, params)
    slopes = []
    for h in (1e-7, 1e-10):
        E = np.zeros_like(Q)
        E[:, j] = h
        with np.errstate(all="ignore"):
            slopes.append((_values(m, P, Q + E, params) - base) / h)
    s1, s2 = slopes
    with np.errstate(all="ignore"):
        settled = np.abs(s2 - s1) <= 1e-3 * np.maximum(1.0, np.abs(s1))
    return np.where(np.isfinite(s1) & np.isfinite(s2) & settled, s2, np.inf)


def finite_at_zero_target(m: Measure, params: dict[str, float] | None = None) -> Claim:
    """One-hot targets: value, logit gradient and probability gradient finite?"""
    rng = _rng(m)
    for K in (2, 3, 5):
        Z = rng.normal(scale=2.0, size=(12, K))
        labels = rng.integers(0, K, size=12)
        P = np.eye(K)[labels]
        Q = _softmax(Z)
        v = _values(m, P, Q, params)
        g = _logit_grad(m, P, Z, params)
        other = (labels + 1) % K  # a coordinate where the target is 0
        gq = np.array(
            [_prob_grad(m, P[r : r + 1], Q[r : r + 1], int(other[r]), params)[0] for r in range(12)]
        )
        checks = (
            ("value", ~np.isfinite(v)),
            ("logit gradient", ~np.isfinite(g).all(axis=1)),
            ("gradient w.r.t. Q_j where P_j = 0", ~np.isfinite(gq)),
        )
        for what, bad in checks:
            if bad.any():
                r = int(np.argmax(bad))
                return _no(f"the {what} is not finite at a one-hot target (K = {K})", P[r], Q[r])
    return _yes(
        "value, logit gradient and gradient w.r.t. Q_j where P_j = 0 finite at 36 random "
        "predictions against one-hot targets (K = 2, 3, 5)"
    )


def finite_at_zero_model(m: Measure, params: dict[str, float] | None = None) -> Claim:
    """A zero in the model Q (P positive): value and gradient w.r.t. that Q_j finite?"""
    rng = _rng(m)
    P = rng.dirichlet(np.ones(4), size=12)
    Q = rng.dirichlet(np.ones(4), size=12)
    Q[:, 0] = 0.0
    Q /= Q.sum(axis=1, keepdims=True)
    v = _values(m, P, Q, params)
    if not np.isfinite(v).all():
        r = int(np.argmax(~np.isfinite(v)))
        return _no(f"the value is {v[r]} when Q_1 = 0 < P_1", P[r], Q[r])
    g = _one_sided(m, P, Q, 0, params)
    if not np.isfinite(g).all():
        r = int(np.argmax(~np.isfinite(g)))
        return _no(
            "the value is finite but its derivative in Q_1 is infinite at Q_1 = 0 < P_1 (the "
            "one-sided slope does not settle between steps 1e-7 and 1e-10)",
            P[r],
            Q[r],
        )
    return _yes(
        "value and its one-sided derivative in Q_1 finite at Q_1 = 0, 12 random positive P (d = 4)"
    )


def bounded_gradient(m: Measure, params: dict[str, float] | None = None) -> Claim:
    """Does max |dL/dz| stop growing as the logits grow?"""
    rng = _rng(m)
    K = 3
    base = rng.normal(size=(30, K))
    base /= np.abs(base).max(axis=1, keepdims=True)
    onehot = np.eye(K)[rng.integers(0, K, size=30)]
    smooth = 0.9 * onehot + 0.1 / K
    peaks = {}
    for s in (8.0, 32.0, 128.0):
        Z = s * base
        worst = 0.0
        for P in (onehot, smooth):
            g = np.abs(_logit_grad(m, P, Z, params)).max(axis=1)
            g = g[np.isfinite(_values(m, P, _softmax(Z), params))]
            if g.size and not np.isfinite(g).all():
                return _no(f"the logit gradient is not finite at logit scale {s:g}")
            worst = max(worst, float(g.max()) if g.size else 0.0)
        peaks[s] = worst
    text = ", ".join(f"{v:.3g} at scale {s:g}" for s, v in peaks.items())
    if peaks[128.0] > 2.0 * peaks[32.0] + 1e-9 and peaks[128.0] > 10.0:
        return _no(f"max |dL/dz| grows with the logits: {text}")
    return _yes(f"max |dL/dz| over 60 random (target, logits): {text}")


def noise_tolerant(m: Measure, params: dict[str, float] | None = None) -> tuple[Claim, float]:
    """Ghosh et al.'s symmetric condition: sum_j L(e_j, q) constant?"""
    rng = _rng(m)
    spread = 0.0
    for K in (3, 5):
        q = rng.dirichlet(np.ones(K) * 0.7, size=40)
        total = sum(_values(m, np.tile(np.eye(K)[j], (40, 1)), q, params) for j in range(K))
        if not np.isfinite(total).all():
            i = int(np.argmax(~np.isfinite(total)))
            return _no(f"sum_j L(e_j, q) is not finite (K = {K})", q[i]), math.inf
        rel = float(np.ptp(total) / max(abs(float(np.mean(total))), 1e-300))
        spread = max(spread, rel)
        if rel > 1e-9:
            lo, hi = int(np.argmin(total)), int(np.argmax(total))
            return _no(
                f"sum_j L(e_j, q) varies by {100 * rel:.3g} % of its mean over 40 random "
                f"q (K = {K}): {total[lo]:.6g} to {total[hi]:.6g} at the counterexample's two "
                f"vectors (two predictions q, not P and Q)",
                q[lo],
                q[hi],
            ), spread
    return _yes(
        "sum_j L(e_j, q) constant to 1e-9 over 40 random q (K = 3 and 5): "
        "symmetric in Ghosh et al.'s sense"
    ), spread


def scale(m: Measure, params: dict[str, float] | None = None) -> tuple[Claim, float | None]:
    """Homogeneity degree of D(a P, a Q) in a."""
    rng = _rng(m)
    P, Q = rng.uniform(0.1, 2.0, size=(2, 8, 5))
    base = _values(m, P, Q, params)
    degrees = []
    for a in (0.5, 2.0, 3.0):
        with np.errstate(all="ignore"):
            degrees.append(np.log(_values(m, a * P, a * Q, params) / base) / math.log(a))
    D = np.array(degrees)
    if not np.isfinite(D).all() or np.ptp(D) > 1e-9:
        return _no(
            "D(a P, a Q) is not a^k D(P, Q) for one k (8 random non-negative pairs, a = 0.5, 2, 3)",
            P[0],
            Q[0],
        ), None
    k = round(float(D.mean()), 6) + 0.0  # no -0
    what = "invariant to a common rescaling" if k == 0 else f"homogeneous of degree {k:g}"
    return _yes(f"D(a P, a Q) = a^{k:g} D(P, Q): {what} (8 random pairs, a = 0.5, 2, 3)"), k


def loss_properties(measure: Any, **params: float) -> LossProperties:
    """The loss-relevant claims of ``measure`` at ``params`` (default: its defaults).

    Derived on first use and cached per measure and parameter values.

    Examples
    --------
    >>> import divergences as dv
    >>> lp = dv.loss_properties("manhattan")   # MAE: symmetric in Ghosh et al.'s sense
    >>> lp.noise_tolerant.holds, lp.f_divergence.holds
    ('always', 'always')
    >>> dv.loss_properties("minkowski", p=1).noise_tolerant.holds   # p = 1 is Manhattan
    'always'
    """
    from .registry import resolve

    m, _ = resolve(measure)
    known = {p.name: p for p in m.params}
    checked = {}
    for key, value in params.items():
        if key not in known:
            have = ", ".join(known) or "none"
            raise ValueError(f"{m.name}: {key!r} is not one of its parameters (it has: {have})")
        checked[key] = known[key].check(value, m.name)
    full = {**m.param_defaults(), **checked}
    return _derive(m, tuple(sorted(full.items())))


@functools.cache
def _derive(m: Measure, items: tuple[tuple[str, float], ...]) -> LossProperties:
    params = dict(items)
    fdiv, f2 = f_divergence(m, params)
    loc, order, cst = local(m, params)
    noise, spread = noise_tolerant(m, params)
    sc, degree = scale(m, params)
    return LossProperties(
        f_divergence=fdiv,
        local=loc,
        finite_at_zero_target=finite_at_zero_target(m, params),
        finite_at_zero_model=finite_at_zero_model(m, params),
        bounded_gradient=bounded_gradient(m, params),
        noise_tolerant=noise,
        scale=sc,
        generator_f2=f2,
        local_order=order,
        local_constant=cst,
        scale_degree=degree,
        noise_spread=spread,
    )


def parameter_values(m: Measure) -> list[dict[str, float]]:
    """The parameter settings the claims are derived at: each parameter's default and test
    values (specials included, as :meth:`Param.values` lists them), the others at default."""
    out = [m.param_defaults()]
    for p in m.params:
        for v in p.values():
            setting = {**m.param_defaults(), p.name: float(v)}
            if setting not in out:
                out.append(setting)
    return out


def by_parameters(m: Measure) -> dict[str, str]:
    """For a parametric measure: per claim, the tested values where it holds (text).

    Claims holding at every tested value, or none, read "all" / "none".
    """
    settings = parameter_values(m)
    if len(settings) == 1:
        return {}
    out = {}
    for c in LOSS_CLAIMS:
        holds = [s for s in settings if getattr(loss_properties(m, **s), c).holds == "always"]
        if len(holds) == len(settings):
            out[c] = "all tested values"
        elif not holds:
            out[c] = "none of the tested values"
        else:
            out[c] = "; ".join(", ".join(f"{k}={v:g}" for k, v in s.items()) for s in holds)
    return out


def summary(lp: LossProperties) -> dict[str, str]:
    """Short cells for tables: ``yes``/``no`` plus f''(1), the local law and the degree."""

    def yn(c: Claim) -> str:
        return "yes" if c.holds == "always" else "no"

    fdiv = yn(lp.f_divergence)
    if lp.f_divergence.holds == "always":
        fdiv = "yes, f''(1) = " + (
            "none (kink)" if lp.generator_f2 is None else f"{lp.generator_f2:g}"
        )
    if lp.local.holds == "never":
        loc = "no power law"
    elif lp.local_constant is not None:
        loc = f"{lp.local_constant:g} chi2"
    else:
        loc = f"order {lp.local_order}"
    deg = "not homogeneous" if lp.scale_degree is None else f"degree {lp.scale_degree:g}"
    return {
        "f_divergence": fdiv,
        "local": loc,
        "finite_at_zero_target": yn(lp.finite_at_zero_target),
        "finite_at_zero_model": yn(lp.finite_at_zero_model),
        "bounded_gradient": yn(lp.bounded_gradient),
        "noise_tolerant": yn(lp.noise_tolerant),
        "scale": deg,
    }


def catalog_lines(all_measures: Any) -> list[str]:
    """The "Loss-relevant properties" section of CATALOG.md."""
    heads = (
        "measure",
        "f-divergence",
        "near P = Q",
        "one-hot target",
        "zero in model",
        "bounded logit gradient",
        "noise tolerant",
        "scale",
    )
    lines = [
        "## Loss-relevant properties",
        "",
        "As a loss, a measure is L(P, Q) = D(P, Q) (a similarity: -s(P, Q)) with P the "
        "target and Q = softmax(z) the model, at the default parameters. Derived and "
        "checked by `divergences.loss_claims` (`divergences show NAME` prints the "
        "evidence; `dv.select(noise_tolerant=True, ...)` and `divergences list "
        "--noise-tolerant ...` filter on them):",
        "",
    ]
    lines += [f"- **{c}**: {LOSS_CLAIM_MEANING[c]}" for c in LOSS_CLAIMS]
    lines += ["", "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for m in all_measures:
        cells = summary(loss_properties(m))
        lines.append("| " + " | ".join([f"`{m.name}`", *cells.values()]) + " |")
    lines += [
        "",
        "The parametric measures at every tested value of their parameters (default, special "
        "points and test values): the claims whose answer depends on the value, and where "
        "they hold.",
        "",
    ]
    for m in all_measures:
        varying = {
            c: where
            for c, where in by_parameters(m).items()
            if where not in ("all tested values", "none of the tested values")
        }
        if m.params:
            text = "; ".join(f"{c} at {w}" for c, w in varying.items())
            lines.append(f"- `{m.name}`: " + (text or "the same answers at every tested value"))
    lines.append("")
    return lines


def matches(m: Measure, wanted: dict[str, bool | None]) -> bool:
    """Whether the measure's loss claims match every given filter (None: any)."""
    lp = None
    for name, want in wanted.items():
        if want is None:
            continue
        lp = lp or loss_properties(m)
        if (getattr(lp, name).holds == "always") != bool(want):
            return False
    return True
