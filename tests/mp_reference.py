"""Independent high-precision reference for every measure of the catalog.

Written from the formulas of Cha (2007), "Comprehensive Survey on Distance/Similarity
Measures between Probability Density Functions", in their textbook form (e.g.
KL = sum p ln(p / q)), and from the project's conventions for the forms the survey leaves
open (the first printed form is the measure; Hellinger is Cha's sqrt(2 sum (sqrt P -
sqrt Q)^2)).  Nothing here is derived from the package's code: no stable rewrites, no
shared helpers.  With ``mp.dps`` = 50 the cancellation of the textbook forms near P = Q
(about 12 digits for the near-identical tests) leaves well over 30 correct digits.

``REFERENCE`` maps each canonical name to ``f(P, Q, **params)`` over lists of ``mpf``.
Zero conventions are the mathematical (``zero="strict"``) ones: ``0 ln(0 / q) = 0``, a
term ``0 / 0`` vanishes, ``x / 0 = inf``; the tests mostly use strictly positive inputs.

``NATURAL_SCALE`` gives, for the measures whose formula subtracts quantities that can be
much larger than the result, the size of those quantities (by default the value itself).
A value much smaller than its natural scale is ill conditioned: float64 inputs rounded
by one ulp already move it by about ``eps * scale``, so the well-conditioned tests skip
it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import mpmath
from mpmath import mp, mpf

DPS = 50

Vec = Sequence[mpf]
INF = mpf("inf")


def evaluate(name: str, P: Sequence[float], Q: Sequence[float], **params: float) -> mpf:
    """``REFERENCE[name]`` on the exact values of float inputs, at ``DPS`` digits."""
    with mp.workdps(DPS):
        return +REFERENCE[name](to_mp(P), to_mp(Q), **params)


def scale_of(name: str, P: Sequence[float], Q: Sequence[float], **params: float) -> tuple[mpf, mpf]:
    """(value, natural scale) of ``name`` at (P, Q), at ``DPS`` digits."""
    with mp.workdps(DPS):
        Pm, Qm = to_mp(P), to_mp(Q)
        value = REFERENCE[name](Pm, Qm, **params)
        return value, natural_scale(name, Pm, Qm, value, **params)


def to_mp(values: Sequence[float]) -> list[mpf]:
    """Exact conversion of float64 values to ``mpf`` (no decimal rounding)."""
    return [mpf(float(v)) for v in values]


def _ln_base(base: float) -> mpf:
    if base == math.e:
        return mpf(1)
    return mpmath.log(mpf(base))


def _ratio(a: mpf, b: mpf) -> mpf:
    """a / b with the strict rules: 0 / 0 -> 0, x / 0 -> inf."""
    if b == 0:
        return mpf(0) if a == 0 else INF
    return a / b


def _xlog(a: mpf, ratio: mpf) -> mpf:
    """a ln(ratio) with 0 ln(anything) = 0."""
    if a == 0:
        return mpf(0)
    if ratio == INF:
        return INF
    return a * mpmath.log(ratio)


def _fsum(terms: Sequence[mpf]) -> mpf:
    return mpmath.fsum(terms)


def _pairs(P: Vec, Q: Vec):
    if len(P) != len(Q):
        raise ValueError("P and Q differ in length")
    return zip(P, Q, strict=True)


# ---------------------------------------------------------------- 1. Lp Minkowski
def euclidean(P: Vec, Q: Vec) -> mpf:
    return mpmath.sqrt(_fsum([(p - q) ** 2 for p, q in _pairs(P, Q)]))


def manhattan(P: Vec, Q: Vec) -> mpf:
    return _fsum([abs(p - q) for p, q in _pairs(P, Q)])


def minkowski(P: Vec, Q: Vec, p: float = 2.0) -> mpf:
    e = mpf(p)
    return _fsum([abs(a - b) ** e for a, b in _pairs(P, Q)]) ** (1 / e)


def chebyshev(P: Vec, Q: Vec) -> mpf:
    return max(abs(p - q) for p, q in _pairs(P, Q))


# ---------------------------------------------------------------- 2. L1
def sorensen(P: Vec, Q: Vec) -> mpf:
    num = _fsum([abs(p - q) for p, q in _pairs(P, Q)])
    den = _fsum([p + q for p, q in _pairs(P, Q)])
    return num / den if den != 0 else mpf("nan")


def gower(P: Vec, Q: Vec) -> mpf:
    return _fsum([abs(p - q) for p, q in _pairs(P, Q)]) / len(P)


def soergel(P: Vec, Q: Vec) -> mpf:
    num = _fsum([abs(p - q) for p, q in _pairs(P, Q)])
    den = _fsum([max(p, q) for p, q in _pairs(P, Q)])
    return _ratio(num, den) if den != 0 or num != 0 else mpf("nan")


def kulczynski_d(P: Vec, Q: Vec) -> mpf:
    num = _fsum([abs(p - q) for p, q in _pairs(P, Q)])
    den = _fsum([min(p, q) for p, q in _pairs(P, Q)])
    return _ratio(num, den) if den != 0 or num != 0 else mpf("nan")


def canberra(P: Vec, Q: Vec) -> mpf:
    return _fsum([_ratio(abs(p - q), p + q) for p, q in _pairs(P, Q)])


def lorentzian(P: Vec, Q: Vec, base: float = math.e) -> mpf:
    return _fsum([mpmath.log(1 + abs(p - q)) for p, q in _pairs(P, Q)]) / _ln_base(base)


# ---------------------------------------------------------------- 3. Intersection
def intersection(P: Vec, Q: Vec) -> mpf:
    return _fsum([min(p, q) for p, q in _pairs(P, Q)])


def non_intersection(P: Vec, Q: Vec) -> mpf:
    return 1 - intersection(P, Q)


def wave_hedges(P: Vec, Q: Vec) -> mpf:
    # Cha's first form: sum (1 - min / max); a coordinate with P_i = Q_i = 0 contributes 0
    return _fsum([1 - min(p, q) / max(p, q) for p, q in _pairs(P, Q) if max(p, q) != 0])


def czekanowski_similarity(P: Vec, Q: Vec) -> mpf:
    den = _fsum([p + q for p, q in _pairs(P, Q)])
    return 2 * intersection(P, Q) / den if den != 0 else mpf("nan")


def czekanowski(P: Vec, Q: Vec) -> mpf:
    return 1 - czekanowski_similarity(P, Q)


def motyka_similarity(P: Vec, Q: Vec) -> mpf:
    den = _fsum([p + q for p, q in _pairs(P, Q)])
    return intersection(P, Q) / den if den != 0 else mpf("nan")


def motyka(P: Vec, Q: Vec) -> mpf:
    # Cha's distance form: sum max / sum (P + Q)
    den = _fsum([p + q for p, q in _pairs(P, Q)])
    return _fsum([max(p, q) for p, q in _pairs(P, Q)]) / den if den != 0 else mpf("nan")


def kulczynski_s(P: Vec, Q: Vec) -> mpf:
    num = intersection(P, Q)
    den = _fsum([abs(p - q) for p, q in _pairs(P, Q)])
    return _ratio(num, den) if den != 0 or num != 0 else mpf("nan")


def ruzicka(P: Vec, Q: Vec) -> mpf:
    den = _fsum([max(p, q) for p, q in _pairs(P, Q)])
    return intersection(P, Q) / den if den != 0 else mpf("nan")


def tanimoto(P: Vec, Q: Vec) -> mpf:
    # Cha: sum (P + Q - 2 min) / sum (P + Q - min)
    num = _fsum([p + q - 2 * min(p, q) for p, q in _pairs(P, Q)])
    den = _fsum([p + q - min(p, q) for p, q in _pairs(P, Q)])
    return num / den if den != 0 else mpf("nan")


# ---------------------------------------------------------------- 4. Inner product
def inner_product(P: Vec, Q: Vec) -> mpf:
    return _fsum([p * q for p, q in _pairs(P, Q)])


def harmonic_mean(P: Vec, Q: Vec) -> mpf:
    return 2 * _fsum([_ratio(p * q, p + q) for p, q in _pairs(P, Q)])


def cosine(P: Vec, Q: Vec) -> mpf:
    den = mpmath.sqrt(_fsum([p * p for p in P])) * mpmath.sqrt(_fsum([q * q for q in Q]))
    return inner_product(P, Q) / den if den != 0 else mpf("nan")


def cosine_distance(P: Vec, Q: Vec) -> mpf:
    return 1 - cosine(P, Q)


def kumar_hassebrook(P: Vec, Q: Vec) -> mpf:
    pq = inner_product(P, Q)
    den = _fsum([p * p for p in P]) + _fsum([q * q for q in Q]) - pq
    return pq / den if den != 0 else mpf("nan")


def jaccard_similarity(P: Vec, Q: Vec) -> mpf:
    return kumar_hassebrook(P, Q)


def jaccard(P: Vec, Q: Vec) -> mpf:
    return 1 - kumar_hassebrook(P, Q)


def dice_similarity(P: Vec, Q: Vec) -> mpf:
    den = _fsum([p * p for p in P]) + _fsum([q * q for q in Q])
    return 2 * inner_product(P, Q) / den if den != 0 else mpf("nan")


def dice(P: Vec, Q: Vec) -> mpf:
    return 1 - dice_similarity(P, Q)


# ---------------------------------------------------------------- 5. Fidelity
def fidelity(P: Vec, Q: Vec) -> mpf:
    return _fsum([mpmath.sqrt(p * q) for p, q in _pairs(P, Q)])


def bhattacharyya(P: Vec, Q: Vec, base: float = math.e) -> mpf:
    bc = fidelity(P, Q)
    return (-mpmath.log(bc) if bc != 0 else INF) / _ln_base(base)


def squared_chord(P: Vec, Q: Vec) -> mpf:
    return _fsum([(mpmath.sqrt(p) - mpmath.sqrt(q)) ** 2 for p, q in _pairs(P, Q)])


def hellinger(P: Vec, Q: Vec) -> mpf:
    return mpmath.sqrt(2 * squared_chord(P, Q))


def hellinger_statistics(P: Vec, Q: Vec) -> mpf:
    # the statistics texts' convention: sqrt(1/2 sum (sqrt p - sqrt q)^2), in [0, 1]
    return mpmath.sqrt(squared_chord(P, Q) / 2)


def matusita(P: Vec, Q: Vec) -> mpf:
    return mpmath.sqrt(squared_chord(P, Q))


def squared_chord_similarity(P: Vec, Q: Vec) -> mpf:
    # Cha's first form: 2 sum sqrt(P Q) - 1
    return 2 * fidelity(P, Q) - 1


# ---------------------------------------------------------------- 6. Squared L2 / chi^2
def squared_euclidean(P: Vec, Q: Vec) -> mpf:
    return _fsum([(p - q) ** 2 for p, q in _pairs(P, Q)])


def pearson(P: Vec, Q: Vec) -> mpf:
    return _fsum([_ratio((p - q) ** 2, q) for p, q in _pairs(P, Q)])


def neyman(P: Vec, Q: Vec) -> mpf:
    return _fsum([_ratio((p - q) ** 2, p) for p, q in _pairs(P, Q)])


def squared_chi(P: Vec, Q: Vec) -> mpf:
    return _fsum([_ratio((p - q) ** 2, p + q) for p, q in _pairs(P, Q)])


def probabilistic_symmetric_chi(P: Vec, Q: Vec) -> mpf:
    return 2 * _fsum([_ratio((p - q) ** 2, p + q) for p, q in _pairs(P, Q)])


def divergence(P: Vec, Q: Vec) -> mpf:
    return 2 * _fsum([_ratio((p - q) ** 2, (p + q) ** 2) for p, q in _pairs(P, Q)])


def clark(P: Vec, Q: Vec) -> mpf:
    return mpmath.sqrt(_fsum([_ratio(abs(p - q), p + q) ** 2 for p, q in _pairs(P, Q)]))


def additive_symmetric_chi(P: Vec, Q: Vec) -> mpf:
    return _fsum([_ratio((p - q) ** 2 * (p + q), p * q) for p, q in _pairs(P, Q)])


# ---------------------------------------------------------------- 7. Shannon's entropy
def kullback_leibler(P: Vec, Q: Vec, base: float = math.e) -> mpf:
    return _fsum([_xlog(p, _ratio(p, q)) for p, q in _pairs(P, Q)]) / _ln_base(base)


def jeffreys(P: Vec, Q: Vec, base: float = math.e) -> mpf:
    terms = []
    for p, q in _pairs(P, Q):
        if p == q:
            terms.append(mpf(0))
        elif p == 0 or q == 0:
            terms.append(INF)
        else:
            terms.append((p - q) * mpmath.log(p / q))
    return _fsum(terms) / _ln_base(base)


def k_divergence(P: Vec, Q: Vec, base: float = math.e) -> mpf:
    return _fsum([_xlog(p, _ratio(2 * p, p + q)) for p, q in _pairs(P, Q)]) / _ln_base(base)


def topsoe(P: Vec, Q: Vec, base: float = math.e) -> mpf:
    terms = [
        _xlog(p, _ratio(2 * p, p + q)) + _xlog(q, _ratio(2 * q, p + q)) for p, q in _pairs(P, Q)
    ]
    return _fsum(terms) / _ln_base(base)


def jensen_shannon(P: Vec, Q: Vec, base: float = math.e) -> mpf:
    left = _fsum([_xlog(p, _ratio(2 * p, p + q)) for p, q in _pairs(P, Q)])
    right = _fsum([_xlog(q, _ratio(2 * q, p + q)) for p, q in _pairs(P, Q)])
    return (left + right) / 2 / _ln_base(base)


def jensen_difference(P: Vec, Q: Vec, base: float = math.e) -> mpf:
    def xlnx(x: mpf) -> mpf:
        return mpf(0) if x == 0 else x * mpmath.log(x)

    terms = [(xlnx(p) + xlnx(q)) / 2 - xlnx((p + q) / 2) for p, q in _pairs(P, Q)]
    return _fsum(terms) / _ln_base(base)


def jensen_shannon_distance(P: Vec, Q: Vec, base: float = math.e) -> mpf:
    return mpmath.sqrt(jensen_shannon(P, Q, base=base))


# ---------------------------------------------------------------- 8. Combinations
def taneja(P: Vec, Q: Vec, base: float = math.e) -> mpf:
    terms = []
    for p, q in _pairs(P, Q):
        if p == 0 and q == 0:
            terms.append(mpf(0))
        elif p == 0 or q == 0:
            terms.append(INF)
        else:
            terms.append((p + q) / 2 * mpmath.log((p + q) / (2 * mpmath.sqrt(p * q))))
    return _fsum(terms) / _ln_base(base)


def kumar_johnson(P: Vec, Q: Vec) -> mpf:
    return _fsum([_ratio((p * p - q * q) ** 2, 2 * (p * q) ** mpf(1.5)) for p, q in _pairs(P, Q)])


def avg_l1_linf(P: Vec, Q: Vec) -> mpf:
    return (manhattan(P, Q) + chebyshev(P, Q)) / 2


# ---------------------------------------------------------------- 9. Vicissitude
def vicis_wave_hedges(P: Vec, Q: Vec) -> mpf:
    return _fsum([_ratio(abs(p - q), min(p, q)) for p, q in _pairs(P, Q)])


def vicis_symmetric_chi_square_1(P: Vec, Q: Vec) -> mpf:
    return _fsum([_ratio((p - q) ** 2, min(p, q) ** 2) for p, q in _pairs(P, Q)])


def vicis_symmetric_chi_square_2(P: Vec, Q: Vec) -> mpf:
    return _fsum([_ratio((p - q) ** 2, min(p, q)) for p, q in _pairs(P, Q)])


def vicis_symmetric_chi_square_3(P: Vec, Q: Vec) -> mpf:
    return _fsum([_ratio((p - q) ** 2, max(p, q)) for p, q in _pairs(P, Q)])


def max_symmetric_chi_square(P: Vec, Q: Vec) -> mpf:
    return max(pearson(P, Q), neyman(P, Q))


def min_symmetric_chi_square(P: Vec, Q: Vec) -> mpf:
    return min(pearson(P, Q), neyman(P, Q))


REFERENCE: dict[str, Callable[..., mpf]] = {
    f.__name__: f
    for f in (
        euclidean,
        manhattan,
        minkowski,
        chebyshev,
        sorensen,
        gower,
        soergel,
        kulczynski_d,
        canberra,
        lorentzian,
        intersection,
        non_intersection,
        wave_hedges,
        czekanowski,
        czekanowski_similarity,
        motyka,
        motyka_similarity,
        kulczynski_s,
        ruzicka,
        tanimoto,
        inner_product,
        harmonic_mean,
        cosine,
        cosine_distance,
        kumar_hassebrook,
        jaccard,
        jaccard_similarity,
        dice,
        dice_similarity,
        fidelity,
        bhattacharyya,
        hellinger,
        hellinger_statistics,
        matusita,
        squared_chord,
        squared_chord_similarity,
        squared_euclidean,
        pearson,
        neyman,
        squared_chi,
        probabilistic_symmetric_chi,
        divergence,
        clark,
        additive_symmetric_chi,
        kullback_leibler,
        jeffreys,
        k_divergence,
        topsoe,
        jensen_shannon,
        jensen_difference,
        jensen_shannon_distance,
        taneja,
        kumar_johnson,
        avg_l1_linf,
        vicis_wave_hedges,
        vicis_symmetric_chi_square_1,
        vicis_symmetric_chi_square_2,
        vicis_symmetric_chi_square_3,
        max_symmetric_chi_square,
        min_symmetric_chi_square,
    )
}


# ---------------------------------------------------------------- conditioning
def _sum_abs(f: Callable[[mpf, mpf], mpf]) -> Callable[..., mpf]:
    def scale(P: Vec, Q: Vec, base: float = math.e, **_: float) -> mpf:
        return _fsum([abs(f(p, q)) for p, q in _pairs(P, Q)]) / abs(_ln_base(base))

    return scale


NATURAL_SCALE: dict[str, Callable[..., mpf]] = {
    # 1 - sum min, 2 sum sqrt(PQ) - 1, 1 - cos, 1 - s: the size of what is subtracted
    "non_intersection": lambda P, Q, **_: max(mpf(1), intersection(P, Q)),
    "squared_chord_similarity": lambda P, Q, **_: max(mpf(1), 2 * fidelity(P, Q)),
    "cosine_distance": lambda P, Q, **_: mpf(1),
    "czekanowski": lambda P, Q, **_: mpf(1),
    "jaccard": lambda P, Q, **_: mpf(1),
    "dice": lambda P, Q, **_: mpf(1),
    # |cos| <= 1 also for signed input, where the sum P.Q cancels
    "cosine": lambda P, Q, **_: mpf(1),
    "inner_product": lambda P, Q, **_: _fsum([abs(p * q) for p, q in _pairs(P, Q)]),
    # -ln(bc): a relative error eps in bc is an absolute error eps in the value
    "bhattacharyya": lambda P, Q, base=math.e, **_: 1 / abs(_ln_base(base)),
    # sums whose terms take both signs off the simplex: sum |x_i df/dx_i| over the 2d
    # inputs, i.e. how far the value moves when every input moves by one part in 1/eps
    "kullback_leibler": _sum_abs(lambda p, q: abs(_xlog(p, _ratio(p, q))) + p),
    "k_divergence": _sum_abs(
        lambda p, q: abs(_xlog(p, _ratio(2 * p, p + q))) + 2 * _ratio(p * q, p + q)
    ),
}


def natural_scale(name: str, P: Vec, Q: Vec, value: mpf, **params: float) -> mpf:
    """Size of the quantities the formula of ``name`` subtracts (``|value|`` if none)."""
    f = NATURAL_SCALE.get(name)
    return abs(value) if f is None else f(P, Q, **params)


# -- extras with parameters (divergences/families/parametric.py): each adds its function
# here and registers it with _register (an independent textbook formula, no stable rewrite)
def _register(f: Callable[..., mpf]) -> Callable[..., mpf]:
    REFERENCE[f.__name__] = f
    return f


@_register
def total_variation(P: Vec, Q: Vec) -> mpf:
    return _fsum([abs(p - q) for p, q in _pairs(P, Q)]) / 2


@_register
def skew_kl(P: Vec, Q: Vec, alpha: float = 0.1) -> mpf:
    a = mpf(alpha)
    M = [a * p + (1 - a) * q for p, q in _pairs(P, Q)]
    return kullback_leibler(P, M)


@_register
def generalized_jsd(P: Vec, Q: Vec, beta: float = 0.5) -> mpf:
    b = mpf(beta)
    if b == 0 or b == 1:
        return mpf(0)
    M = [b * p + (1 - b) * q for p, q in _pairs(P, Q)]
    return b * kullback_leibler(P, M) + (1 - b) * kullback_leibler(Q, M)


@_register
def cressie_read(P: Vec, Q: Vec, lambda_: float = 2 / 3) -> mpf:
    lam = mpf(lambda_)
    if lam == 0:
        return 2 * kullback_leibler(P, Q)
    if lam == -1:
        return 2 * kullback_leibler(Q, P)
    terms = []
    for p, q in _pairs(P, Q):
        if p == 0:
            terms.append(mpf(0) if lam > -1 or q == 0 else INF)
        elif q == 0:
            terms.append(INF if lam > 0 else -p)
        else:
            terms.append(p * ((p / q) ** lam - 1))
    return 2 * _fsum(terms) / (lam * (lam + 1))


@_register
def amari_alpha(P: Vec, Q: Vec, alpha: float = 0.0) -> mpf:
    a = mpf(alpha)
    if a in (-1, 1):
        X, Y = (P, Q) if a == -1 else (Q, P)  # generalised KL(X || Y)
        return _fsum([(_xlog(x, _ratio(x, y)) if x else mpf(0)) - x + y for x, y in _pairs(X, Y)])
    c, b = (1 - a) / 2, (1 + a) / 2
    terms = []
    for p, q in _pairs(P, Q):
        if p == 0 and q == 0:
            terms.append(mpf(0))
        elif (p == 0 and c < 0) or (q == 0 and b < 0):
            terms.append(-INF)
        else:
            terms.append(c * p + b * q - (p**c if p else mpf(0)) * (q**b if q else mpf(0)))
    return 4 * _fsum(terms) / (1 - a * a)


def _mass_and_power_sum(P: Vec, Q: Vec, a: mpf) -> tuple[mpf, mpf]:
    """(sum P, sum P^a Q^(1 - a)) with 0^a = 0 (a > 0) and p^a 0^(1 - a) = inf for a > 1."""
    terms = []
    for p, q in _pairs(P, Q):
        if p == 0:
            terms.append(mpf(0))
        elif q == 0:
            terms.append(INF if a > 1 else mpf(0))
        else:
            terms.append(p**a * q ** (1 - a))
    return _fsum(P), _fsum(terms)


def _kl_textbook(P: Vec, Q: Vec) -> mpf:
    return _fsum([_xlog(p, _ratio(p, q)) for p, q in _pairs(P, Q)])


@_register
def renyi(P: Vec, Q: Vec, alpha: float = 0.5) -> mpf:
    # Renyi (1961): 1/(alpha - 1) ln(sum P^alpha Q^(1 - alpha) / sum P)
    a = mpf(alpha)
    mass, power = _mass_and_power_sum(P, Q, a)
    if mass == 0:
        return mpf(0) if all(q == 0 for q in Q) else mpf("nan")
    if a == 1:
        return _kl_textbook(P, Q) / mass
    if power == 0:
        return INF
    return mpmath.log(power / mass) / (a - 1)


@_register
def tsallis(P: Vec, Q: Vec, q: float = 2.0) -> mpf:
    # Tsallis (1998): (sum P^q Q^(1 - q) - sum P) / (q - 1), sum P = 1 on the simplex
    a = mpf(q)
    if a == 1:
        return _kl_textbook(P, Q)
    mass, power = _mass_and_power_sum(P, Q, a)
    return (power - mass) / (a - 1)


@_register
def alpha_beta(P: Vec, Q: Vec, alpha: float = 0.5, beta: float = 0.5) -> mpf:
    # Cichocki, Cruces & Amari 2011, Entropy 13(1): the definition and its limit cases;
    # at a zero, the limit of the term as that coordinate tends to 0
    a, b = mpf(alpha), mpf(beta)
    s = a + b
    terms = []
    for p, q in _pairs(P, Q):
        if p == 0 and q == 0:
            terms.append(mpf(0))
        elif p == 0:
            terms.append(q**s / (a * s) if a > 0 and s > 0 else INF)
        elif q == 0:
            terms.append(p**s / (b * s) if b > 0 and s > 0 else INF)
        elif a == 0 and b == 0:
            terms.append((mpmath.log(p) - mpmath.log(q)) ** 2 / 2)
        elif a == 0:
            terms.append((q**b * mpmath.log(q**b / p**b) - q**b + p**b) / b**2)
        elif b == 0:
            terms.append((p**a * mpmath.log(p**a / q**a) - p**a + q**a) / a**2)
        elif s == 0:
            terms.append((mpmath.log(q**a / p**a) + (q**a / p**a) ** -1 - 1) / a**2)
        else:
            terms.append(-(p**a * q**b - a / s * p**s - b / s * q**s) / (a * b))
    return _fsum(terms)
