"""Zero conventions, case by case, with expectations derived by hand (docs/DECISIONS.md).

``zero="strict"`` (default) is the mathematics: 0 ln(0/q) = 0, p ln(p/0) = inf,
per-element 0/0 = 0, x/0 = inf, ln 0 = -inf (so a distance of +inf), whole-vector
0/0 = nan.  ``zero="epsilon"`` applies philentropy 0.10.0's rules: epsilon replaces a
zero denominator or log argument in the measures that have an epsilon rule, additive
symmetric chi2 drops terms with P_i Q_i = 0, and whole-vector 0/0 gives philentropy's
value.  Every case is checked with the default epsilon (1e-5) and with 1e-3.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import divergences as dv

LN2 = math.log(2.0)
INF = math.inf
NAN = math.nan
EPSILONS = (1e-5, 1e-3)

# probability vectors sharing supports in different ways
A = (0.5, 0.5, 0.0)
B = (0.5, 0.0, 0.5)  # vs A: coordinate 2 has Q = 0 < P, coordinate 3 has P = 0 < Q
C = (0.25, 0.75, 0.0)  # vs A: same support, coordinate 3 is 0 in both (a 0/0 term)
D1 = (1.0, 0.0)
D2 = (0.0, 1.0)  # disjoint from D1
E1 = (1.0, 0.0, 0.0)
E2 = (0.0, 1.0, 0.0)  # disjoint from E1, coordinate 3 is 0 in both
F = (0.25, 0.75, 0.0)
G = (0.5, 0.25, 0.25)  # vs F: coordinate 3 has P = 0 < Q
Z = (0.0, 0.0, 0.0)


def values(name, P, Q, **options):
    """The value from pair() (the reference) and from cdist() (the default batched back end)."""
    v = dv.pair(np.array(P), np.array(Q), name, **options)
    d = dv.cdist(np.array([P]), np.array([Q]), name, **options)
    assert d.shape == (1, 1)
    return v, float(d[0, 0])


def check(got, want, rel=1e-12):
    """``got`` (a value or a tuple of values) is ``want``: nan is nan, inf and 0 exactly,
    otherwise to ``rel``."""
    for g in got if isinstance(got, tuple) else (got,):
        if math.isnan(want):
            assert math.isnan(g), f"got {g!r}, expected nan"
        elif math.isinf(want) or want == 0:
            assert g == want, f"got {g!r}, expected {want!r}"
        else:
            assert g == pytest.approx(want, rel=rel, abs=0), f"got {g!r}, expected {want!r}"


# (id, measure, P, Q, params, strict value, epsilon value as a function of eps)
CASES = [
    # Kullback-Leibler: 0 ln(0/q) = 0 in both modes
    ("kl-p0-shared", "kullback_leibler", A, C, {}, 0.5 * math.log(4 / 3), None),
    ("kl-p0-q-pos", "kullback_leibler", (0.0, 1.0), (0.5, 0.5), {}, LN2, None),
    # ... Q_i = 0 < P_i: inf strict, P_i ln(P_i / eps) with epsilon
    (
        "kl-q0",
        "kullback_leibler",
        A,
        B,
        {},
        INF,
        lambda e: 0.5 * math.log(0.5 / 0.5) + 0.5 * math.log(0.5 / e),
    ),
    (
        "kl-q0-base2",
        "kullback_leibler",
        A,
        B,
        {"base": 2},
        INF,
        lambda e: 0.5 * math.log2(0.5 / e),
    ),
    # Pearson sum (P - Q)^2 / Q: 0/0 term vanishes, x/0 inf (strict) or x/eps
    ("pearson-0/0", "pearson", A, C, {}, 0.0625 / 0.25 + 0.0625 / 0.75, None),
    ("pearson-x/0", "pearson", A, B, {}, INF, lambda e: 0.25 / e + 0.25 / 0.5),
    # Neyman sum (P - Q)^2 / P
    ("neyman-0/0", "neyman", A, C, {}, 0.0625 / 0.5 + 0.0625 / 0.5, None),
    ("neyman-x/0", "neyman", A, B, {}, INF, lambda e: 0.25 / 0.5 + 0.25 / e),
    # Jeffreys sum (P - Q) ln(P / Q); epsilon: Q_i = 0 -> ratio P_i / eps,
    # P_i = 0 -> ln eps (philentropy); a 0/0 coordinate contributes 0 in both modes
    ("jeffreys-0/0", "jeffreys", A, C, {}, 0.25 * LN2 - 0.25 * math.log(2 / 3), None),
    (
        "jeffreys-x/0",
        "jeffreys",
        A,
        B,
        {},
        INF,
        lambda e: 0.5 * math.log(0.5 / e) + (-0.5) * math.log(e),
    ),
    # ... philentropy's rule is not symmetric: Q_i = 0 gives P_i ln(P_i / eps), P_i = 0 gives
    # -Q_i ln eps, so swapping P and Q changes the value by 0.5 ln 0.5 here
    (
        "jeffreys-q0",
        "jeffreys",
        (0.5, 0.5),
        (1.0, 0.0),
        {},
        INF,
        lambda e: -0.5 * math.log(0.5) + 0.5 * math.log(0.5 / e),
    ),
    (
        "jeffreys-p0",
        "jeffreys",
        (1.0, 0.0),
        (0.5, 0.5),
        {},
        INF,
        lambda e: 0.5 * math.log(2.0) - 0.5 * math.log(e),
    ),
    # Taneja sum m ln(m / g), m = (P + Q) / 2, g = sqrt(P Q); epsilon replaces 2 sqrt(PQ)
    (
        "taneja-0/0",
        "taneja",
        A,
        C,
        {},
        0.375 * math.log(0.375 / math.sqrt(0.125)) + 0.625 * math.log(0.625 / math.sqrt(0.375)),
        None,
    ),
    ("taneja-x/0", "taneja", A, B, {}, INF, lambda e: 2 * 0.25 * math.log(0.5 / e)),
    # Kumar-Johnson sum (P^2 - Q^2)^2 / (2 (PQ)^(3/2)); epsilon: numerator / eps
    (
        "kumar_johnson-0/0",
        "kumar_johnson",
        A,
        C,
        {},
        (0.25 - 0.0625) ** 2 / (2 * 0.125**1.5) + (0.25 - 0.5625) ** 2 / (2 * 0.375**1.5),
        None,
    ),
    ("kumar_johnson-x/0", "kumar_johnson", A, B, {}, INF, lambda e: 2 * 0.0625 / e),
    # additive symmetric chi2 sum (P - Q)^2 (P + Q) / (P Q): strict inf, epsilon drops the term
    (
        "additive_symmetric_chi-0/0",
        "additive_symmetric_chi",
        A,
        C,
        {},
        0.0625 * 0.75 / 0.125 + 0.0625 * 1.25 / 0.375,
        None,
    ),
    (
        "additive_symmetric_chi-x/0",
        "additive_symmetric_chi",
        F,
        G,
        {},
        INF,
        lambda e: 0.0625 * 0.75 / 0.125 + 0.25 * 1.0 / 0.1875,
    ),
    ("additive_symmetric_chi-disjoint", "additive_symmetric_chi", D1, D2, {}, INF, lambda e: 0.0),
    # Bhattacharyya -ln sum sqrt(PQ): disjoint supports -> ln 0 -> inf; epsilon -ln eps
    ("bhattacharyya-disjoint", "bhattacharyya", D1, D2, {}, INF, lambda e: -math.log(e)),
    (
        "bhattacharyya-disjoint-base2",
        "bhattacharyya",
        D1,
        D2,
        {"base": 2},
        INF,
        lambda e: -math.log2(e),
    ),
    (
        "bhattacharyya-partial",
        "bhattacharyya",
        A,
        C,
        {},
        -math.log(math.sqrt(0.125) + math.sqrt(0.375)),
        None,
    ),
    # Kulczynski d sum|P - Q| / sum min: epsilon adds eps for EVERY coordinate with min = 0
    ("kulczynski_d-partial", "kulczynski_d", A, B, {}, 1 / 0.5, lambda e: 1 / (0.5 + 2 * e)),
    ("kulczynski_d-0/0-coord", "kulczynski_d", A, C, {}, 0.5 / 0.75, lambda e: 0.5 / (0.75 + e)),
    ("kulczynski_d-disjoint", "kulczynski_d", E1, E2, {}, INF, lambda e: 2 / (3 * e)),
    # Kulczynski s = 1 / Kulczynski d (philentropy: inherits the epsilon rule)
    ("kulczynski_s-partial", "kulczynski_s", A, B, {}, 0.5, lambda e: 0.5 + 2 * e),
    ("kulczynski_s-disjoint", "kulczynski_s", E1, E2, {}, 0.0, lambda e: 3 * e / 2),
    ("kulczynski_s-P=Q", "kulczynski_s", A, A, {}, INF, lambda e: INF),
    ("kulczynski_s-P=Q-2", "kulczynski_s", E1, E1, {}, INF, lambda e: INF),
    # Shannon family: 0 ln 0 = 0 keeps them finite on disjoint supports, both modes
    ("jensen_shannon-disjoint", "jensen_shannon", D1, D2, {}, LN2, None),
    ("jensen_shannon-disjoint-base2", "jensen_shannon", D1, D2, {"base": 2}, 1.0, None),
    ("jensen_difference-disjoint", "jensen_difference", D1, D2, {}, LN2, None),
    ("jensen_shannon_distance-disjoint", "jensen_shannon_distance", D1, D2, {}, LN2**0.5, None),
    ("topsoe-disjoint", "topsoe", D1, D2, {}, 2 * LN2, None),
    ("k_divergence-disjoint", "k_divergence", D1, D2, {}, LN2, None),
    ("k_divergence-partial", "k_divergence", A, B, {}, 0.5 * LN2, None),
    ("k_divergence-partial-rev", "k_divergence", B, A, {}, 0.5 * LN2, None),
    ("jensen_shannon-partial", "jensen_shannon", A, B, {}, 0.5 * LN2, None),
    ("topsoe-partial", "topsoe", A, B, {}, LN2, None),
    # per-term 0/0 vanishes (philentropy skips the term): both modes
    ("canberra-0/0", "canberra", A, C, {}, 0.25 / 0.75 + 0.25 / 1.25, None),
    ("wave_hedges-0/0", "wave_hedges", A, C, {}, 0.25 / 0.5 + 0.25 / 0.75, None),
    ("clark-0/0", "clark", A, C, {}, math.sqrt((1 / 3) ** 2 + (1 / 5) ** 2), None),
    ("divergence-0/0", "divergence", A, C, {}, 2 * ((1 / 3) ** 2 + (1 / 5) ** 2), None),
    ("squared_chi-0/0", "squared_chi", A, C, {}, 0.0625 / 0.75 + 0.0625 / 1.25, None),
    (
        "probabilistic_symmetric_chi-0/0",
        "probabilistic_symmetric_chi",
        A,
        C,
        {},
        2 * (0.0625 / 0.75 + 0.0625 / 1.25),
        None,
    ),
    ("harmonic_mean-0/0", "harmonic_mean", A, C, {}, 2 * (0.125 / 0.75 + 0.375 / 1.25), None),
    ("canberra-disjoint", "canberra", E1, E2, {}, 2.0, None),
    ("wave_hedges-disjoint", "wave_hedges", E1, E2, {}, 2.0, None),
    # fidelity family on partial supports: all finite, both modes
    ("hellinger-partial", "hellinger", A, B, {}, math.sqrt(2.0), None),
    ("matusita-partial", "matusita", A, B, {}, 1.0, None),
    ("squared_chord-partial", "squared_chord", A, B, {}, 1.0, None),
    # vicissitude: exactly one zero -> inf; epsilon replaces the zero denominator
    ("vicis_wave_hedges-0/0", "vicis_wave_hedges", A, C, {}, 0.25 / 0.25 + 0.25 / 0.5, None),
    ("vicis_wave_hedges-x/0", "vicis_wave_hedges", A, B, {}, INF, lambda e: 2 * 0.5 / e),
    (
        "vicis_symmetric_chi_square_1-x/0",
        "vicis_symmetric_chi_square_1",
        A,
        B,
        {},
        INF,
        lambda e: 2 * 0.25 / e,
    ),
    (
        "vicis_symmetric_chi_square_2-x/0",
        "vicis_symmetric_chi_square_2",
        A,
        B,
        {},
        INF,
        lambda e: 2 * 0.25 / e,
    ),
    (
        "vicis_symmetric_chi_square_3-0/0",
        "vicis_symmetric_chi_square_3",
        A,
        C,
        {},
        0.0625 / 0.5 + 0.0625 / 0.75,
        None,
    ),
    (
        "max_symmetric_chi_square-x/0",
        "max_symmetric_chi_square",
        A,
        B,
        {},
        INF,
        lambda e: 0.25 / e + 0.5,
    ),
    (
        "min_symmetric_chi_square-x/0",
        "min_symmetric_chi_square",
        A,
        B,
        {},
        INF,
        lambda e: 0.25 / e + 0.5,
    ),
]


@pytest.mark.parametrize(
    ("name", "P", "Q", "params", "strict"),
    [c[1:6] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_strict(name, P, Q, params, strict):
    check(values(name, P, Q, **params), strict)
    check(values(name, P, Q, zero="strict", **params), strict)


@pytest.mark.parametrize("eps", EPSILONS)
@pytest.mark.parametrize(
    ("name", "P", "Q", "params", "strict", "eps_rule"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_epsilon(name, P, Q, params, strict, eps_rule, eps):
    """eps_rule None: the epsilon mode keeps the strict value (no term needs epsilon)."""
    want = strict if eps_rule is None else eps_rule(eps)
    check(values(name, P, Q, zero="epsilon", epsilon=eps, **params), want)


@pytest.mark.parametrize(
    ("name", "P", "Q", "params", "eps_rule"),
    [(c[1], c[2], c[3], c[4], c[6]) for c in CASES if c[6] is not None],
    ids=[c[0] for c in CASES if c[6] is not None],
)
def test_default_epsilon_is_1e_5(name, P, Q, params, eps_rule):
    check(values(name, P, Q, zero="epsilon", **params), eps_rule(1e-5))


# --- two all-zero vectors: every measure, both modes ------------------------------------------

# strict: whole-vector 0/0 is nan, ln 0 is +inf distance, empty sums are 0
ALL_ZERO_STRICT = {
    "euclidean": 0.0,
    "manhattan": 0.0,
    "minkowski": 0.0,
    "chebyshev": 0.0,
    "sorensen": NAN,  # 0 / 0
    "gower": 0.0,
    "soergel": NAN,  # 0 / 0
    "kulczynski_d": NAN,  # 0 / 0
    "canberra": 0.0,  # every term 0/0 -> 0
    "lorentzian": 0.0,
    "non_intersection": 1.0,  # 1 - 0
    "intersection": 0.0,
    "wave_hedges": 0.0,
    "czekanowski": NAN,
    "czekanowski_similarity": NAN,
    "motyka": NAN,
    "motyka_similarity": NAN,
    "kulczynski_s": NAN,  # 0 / 0
    "ruzicka": NAN,
    "tanimoto": NAN,
    "inner_product": 0.0,
    "harmonic_mean": 0.0,
    "cosine": NAN,
    "kumar_hassebrook": NAN,
    "jaccard": NAN,
    "jaccard_similarity": NAN,
    "dice": NAN,
    "dice_similarity": NAN,
    "fidelity": 0.0,
    "bhattacharyya": INF,  # -ln 0
    "hellinger": 0.0,
    "matusita": 0.0,
    "squared_chord": 0.0,
    "squared_chord_similarity": -1.0,  # 2 * 0 - 1
    "squared_euclidean": 0.0,
    "pearson": 0.0,
    "neyman": 0.0,
    "squared_chi": 0.0,
    "probabilistic_symmetric_chi": 0.0,
    "divergence": 0.0,
    "clark": 0.0,
    "additive_symmetric_chi": 0.0,
    "kullback_leibler": 0.0,
    "jeffreys": 0.0,
    "k_divergence": 0.0,
    "topsoe": 0.0,
    "jensen_shannon": 0.0,
    "jensen_difference": 0.0,
    "taneja": 0.0,
    "kumar_johnson": 0.0,
    "avg_l1_linf": 0.0,
    "vicis_wave_hedges": 0.0,
    "vicis_symmetric_chi_square_1": 0.0,
    "vicis_symmetric_chi_square_2": 0.0,
    "vicis_symmetric_chi_square_3": 0.0,
    "max_symmetric_chi_square": 0.0,
    "min_symmetric_chi_square": 0.0,
}


def all_zero_epsilon(name: str, eps: float) -> float:
    """philentropy's whole-vector 0/0 values: nan for sorensen, cosine, dice; 0 for soergel,
    tanimoto, kumar_hassebrook, czekanowski, motyka; 1 for jaccard and ruzicka (1 - 0);
    kulczynski_d sums eps per coordinate (0 / 3 eps = 0), kulczynski_s = 1 / that = inf;
    -ln eps for bhattacharyya; the other similarities divide by eps (0)."""
    special = {
        "soergel": 0.0,
        "tanimoto": 0.0,
        "kumar_hassebrook": 0.0,
        "czekanowski": 0.0,
        "motyka": 0.0,
        "jaccard": 1.0,
        "ruzicka": 1.0,
        "kulczynski_d": 0.0,
        "kulczynski_s": INF,
        "bhattacharyya": -math.log(eps),
        "czekanowski_similarity": 0.0,
        "motyka_similarity": 0.0,
        "jaccard_similarity": 0.0,
        "dice_similarity": 0.0,
    }
    return special.get(name, ALL_ZERO_STRICT[name])


# the tables above are the survey's own rows (Cha 1-51, philentropy's values); the extras
# are checked from their records below
MEASURE_NAMES = [m.name for m in dv.measures() if m.survey_number is not None]
EXTRAS = [m for m in dv.measures() if m.survey_number is None]


def test_all_zero_table_covers_the_survey_rows():
    assert set(ALL_ZERO_STRICT) == set(MEASURE_NAMES)


@pytest.mark.parametrize("name", MEASURE_NAMES)
def test_all_zero_rows_strict(name):
    check(values(name, Z, Z), ALL_ZERO_STRICT[name])


@pytest.mark.parametrize("eps", EPSILONS)
@pytest.mark.parametrize("name", MEASURE_NAMES)
def test_all_zero_rows_epsilon(name, eps):
    check(values(name, Z, Z, zero="epsilon", epsilon=eps), all_zero_epsilon(name, eps))


@pytest.mark.parametrize("m", EXTRAS, ids=lambda m: m.name)
def test_all_zero_rows_of_the_extras_follow_their_records(m):
    """Two all-zero vectors are equal: a dissimilarity gives 0 there (its identity claim)
    unless its zero record documents a whole-vector 0/0 (nan); a similarity gives a number
    or that documented nan. The epsilon mode keeps the strict value unless the measure has
    an epsilon rule (then the stand-in makes it a number). At every parameter set."""
    documented_nan = "nan" in m.zeros.lower()
    for params in m.param_grid():
        for got in values(m.name, Z, Z, **params):
            if math.isnan(got):
                assert documented_nan, (m.name, params, "nan not documented in zeros")
            elif m.kind == "dissimilarity":
                assert m.properties.identity.holds == "always"
                assert got == 0.0, (m.name, params, got)
            for eps in EPSILONS:
                e = values(m.name, Z, Z, zero="epsilon", epsilon=eps, **params)
                if m.epsilon is None:
                    check(e, got)
                else:
                    assert all(math.isfinite(v) for v in e), (m.name, params, eps, e)


@pytest.mark.parametrize("name", ["sorensen", "cosine", "dice"])
@pytest.mark.parametrize("zero", ["strict", "epsilon"])
def test_all_zero_nan_in_both_modes(name, zero):
    """sorensen, cosine and dice give nan for two all-zero rows in both modes (philentropy)."""
    assert all(math.isnan(v) for v in values(name, Z, Z, zero=zero))


# --- aliases that imply the epsilon mode ------------------------------------------------------


def test_philentropy_alias_implies_epsilon():
    check(values("philentropy:kullback-leibler", A, B), 0.5 * math.log(0.5 / 1e-5))
    check(values("philentropy:bhattacharyya", D1, D2), -math.log(1e-5))
    # an explicit zero= still wins
    check(values("philentropy:kullback-leibler", A, B, zero="strict"), INF)


# --- registry-driven: every measure, both modes ----------------------------------------------

# probability vectors (d = 4) with zeros: disjoint, nested, shared and full supports
PDFS = np.array(
    [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.5, 0.5, 0.0, 0.0],
        [0.0, 0.0, 0.5, 0.5],
        [0.25, 0.0, 0.25, 0.5],
        [0.125, 0.375, 0.0, 0.5],
        [0.0, 0.0, 0.0, 1.0],
        [0.1, 0.2, 0.3, 0.4],
    ]
)
MODES = ("strict", "epsilon")
BACKENDS = ("auto", "numpy")


def _ids(measures):
    return [m.name for m in measures]


IDENTITY_DISSIMILARITIES = [
    m
    for m in dv.measures()
    if m.kind == "dissimilarity" and m.properties.identity.holds in ("always", "pdf")
]
IDENTITY_SIMILARITIES = [
    m
    for m in dv.measures()
    if m.kind == "similarity" and m.properties.identity.holds in ("always", "pdf")
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("zero", MODES)
@pytest.mark.parametrize("m", IDENTITY_DISSIMILARITIES, ids=_ids(IDENTITY_DISSIMILARITIES))
def test_identity_with_zero_entries(m, zero, backend):
    """d(P, P) = 0 for every pdf with zero entries, where the identity claim holds ("always",
    or "pdf": these are pdfs; 1e-15 absolute for rounding in e.g. 1 - cos)."""
    D = dv.cdist(PDFS, PDFS, m, zero=zero, backend=backend)
    diag = np.diagonal(D)
    assert np.all(np.abs(diag) <= 1e-15), dict(zip(range(len(PDFS)), diag, strict=True))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("zero", MODES)
@pytest.mark.parametrize("m", IDENTITY_SIMILARITIES, ids=_ids(IDENTITY_SIMILARITIES))
def test_similarity_is_largest_at_identity_with_zero_entries(m, zero, backend):
    """s(P, Q) <= s(P, P) for pdfs with zero entries where the identity claim holds."""
    S = dv.cdist(PDFS, PDFS, m, zero=zero, backend=backend)
    diag = np.diagonal(S)[:, None]
    assert np.all(S <= diag + 1e-15 * np.abs(diag)), S


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("zero", MODES)
@pytest.mark.parametrize("m", dv.measures(), ids=lambda m: m.name)
def test_no_nan_on_pdfs_with_zeros(m, zero, backend):
    """No measure gives nan on two pdfs with zeros: a whole-vector 0/0 needs an all-zero sum,
    which a pdf never has (kulczynski_s at P = Q is x/0 = inf, not nan), and every per-element
    0/0 vanishes."""
    D = dv.cdist(PDFS, PDFS, m, zero=zero, backend=backend)
    bad = np.argwhere(np.isnan(D))
    assert bad.size == 0, f"nan at (row, col) {bad.tolist()}"


@pytest.mark.parametrize(
    "m", [m for m in dv.measures() if not m.has_epsilon_rule], ids=lambda m: m.name
)
def test_measures_without_epsilon_rule_ignore_epsilon(m):
    """A measure with no epsilon rule gives the same values in both modes (philentropy's
    term skipping coincides with the strict rules)."""
    X = np.vstack([PDFS, np.zeros((1, 4)), [[2.0, 0.0, 1.0, 3.0]]])
    for backend in BACKENDS:
        a = dv.cdist(X, X, m, backend=backend)
        b = dv.cdist(X, X, m, zero="epsilon", epsilon=1e-3, backend=backend)
        np.testing.assert_array_equal(a, b)
