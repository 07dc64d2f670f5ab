"""Intersection family (Cha 2007, measures 11-17)."""

from ..spec import (
    Alias,
    Bounds,
    Measure,
    Properties,
    Relation,
    Rule,
    always,
    never,
    on_pdf,
    sum_,
)
from ._claims import (
    NONNEG_TERMS,
    SIMILARITY_METRIC,
    SIMILARITY_TRIANGLE,
    TERMWISE_SYMMETRIC,
    ZERO_AT_EQUAL,
)
from ._search import (
    PD_INTERSECTION,
    PD_INTERSECTION_OVER_TOTAL,
    PD_RUZICKA,
)

_SORENSEN_CX = ((1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
_MIN = sum_("min(x, y)")
_MAX = sum_("max(x, y)")
_ABS = sum_("abs(x - y)")
_TOTAL = sum_("x + y")
_ALL_ZERO_NAN = "two all-zero vectors give 0/0 = nan"
_ALL_ZERO_EPS0 = _ALL_ZERO_NAN + "; zero='epsilon' gives 0"

MEASURES = [
    Measure(
        name="intersection",
        title="Intersection",
        family="intersection",
        survey_number=11,
        kind="similarity",
        domain="nonnegative",
        latex=r"\sum_i \min(P_i, Q_i)",
        strict=Rule({"s": _MIN}, "s"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=always("min(P_i, Q_i) <= P_i, so s(P, Q) <= sum P = s(P, P)"),
            triangle=SIMILARITY_TRIANGLE,
            metric=SIMILARITY_METRIC,
        ),
        bounds=Bounds("0", "1"),
        aliases=(Alias("histogram_intersection"), Alias("philentropy:intersection")),
        relations=(
            Relation("1 - non_intersection(P, Q)"),
            Relation("1 - manhattan(P, Q) / 2", "pdf"),
        ),
        positive_definite=PD_INTERSECTION,
    ),
    Measure(
        name="non_intersection",
        title="Non-intersection",
        family="intersection",
        survey_number=11,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"1 - \sum_i \min(P_i, Q_i)",
        strict=Rule({"s": _MIN}, "1 - s"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=on_pdf(
                "sum min(P_i, Q_i) <= sum P_i = 1 on probability vectors; not off the simplex",
                (1.0, 1.0),
                (1.0, 1.0),
            ),
            identity=on_pdf("1 - sum P_i = 0 on probability vectors", (1.0, 1.0)),
            triangle=on_pdf(
                "equals L1 / 2 (total variation) on probability vectors (Cha 2007)",
                (3.0,),
                (5.0,),
                (3.0,),
            ),
            metric=on_pdf(
                "total variation distance on probability vectors", (3.0,), (5.0,), (3.0,)
            ),
        ),
        bounds=Bounds("0", "1"),
        aliases=(Alias("philentropy:non-intersection"),),
        relations=(Relation("manhattan(P, Q) / 2", "pdf"),),
        notes="Cha's first form 1 - sum min (philentropy's value); it equals sum|P - Q| / 2 "
        "only on probability vectors.",
    ),
    Measure(
        name="wave_hedges",
        title="Wave Hedges",
        family="intersection",
        survey_number=12,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i \frac{|P_i - Q_i|}{\max(P_i, Q_i)}",
        strict=Rule({"s": sum_("div0(abs(x - y), max(x, y))")}, "s"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always(
                "|a - b| / max(a, b) is a metric on [0, inf) (Deza & Deza, Encyclopedia of "
                "Distances, 2016); a sum of metrics is a metric"
            ),
            metric=always("a sum of per-coordinate metrics"),
        ),
        bounds=Bounds("0", "d"),
        aliases=(Alias("wavehedges"), Alias("philentropy:wavehedges")),
        zeros="a coordinate with P_i = Q_i = 0 contributes 0",
        notes="Computed as sum |P - Q| / max(P, Q), the form philentropy uses; Cha's "
        "sum(1 - min/max) is equal on non-negative input.",
    ),
    Measure(
        name="czekanowski",
        title="Czekanowski distance",
        family="intersection",
        survey_number=13,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{\sum_i |P_i - Q_i|}{\sum_i (P_i + Q_i)}",
        strict=Rule({"num": _ABS, "den": _TOTAL}, "num / den"),
        epsilon=Rule({"num": _ABS, "den": _TOTAL}, "div0(num, den)"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=on_pdf("equals Sorensen: L1 / 2 on probability vectors", *_SORENSEN_CX),
            metric=on_pdf("half the L1 distance on probability vectors", *_SORENSEN_CX),
        ),
        bounds=Bounds("0", "1"),
        aliases=(Alias("philentropy:czekanowski"),),
        relations=(Relation("sorensen(P, Q)"), Relation("1 - czekanowski_similarity(P, Q)")),
        zeros=_ALL_ZERO_EPS0 + " (philentropy)",
    ),
    Measure(
        name="czekanowski_similarity",
        title="Czekanowski similarity",
        family="intersection",
        survey_number=13,
        kind="similarity",
        domain="nonnegative",
        latex=r"\frac{2 \sum_i \min(P_i, Q_i)}{\sum_i (P_i + Q_i)}",
        strict=Rule({"m": _MIN, "s": _TOTAL}, "2 * m / s"),
        epsilon=Rule({"m": _MIN, "s": _TOTAL}, "2 * m / nz(s, eps)"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=always("2 min(a, b) <= a + b, so s <= 1 = s(P, P)"),
            triangle=SIMILARITY_TRIANGLE,
            metric=SIMILARITY_METRIC,
        ),
        bounds=Bounds("0", "1"),
        zeros=_ALL_ZERO_EPS0,
        positive_definite=PD_INTERSECTION_OVER_TOTAL,
    ),
    Measure(
        name="motyka",
        title="Motyka distance",
        family="intersection",
        survey_number=14,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{\sum_i \max(P_i, Q_i)}{\sum_i (P_i + Q_i)}",
        strict=Rule({"mx": _MAX, "s": _TOTAL}, "mx / s"),
        epsilon=Rule({"mx": _MAX, "s": _TOTAL}, "div0(mx, s)"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=never("d(P, P) = sum P / (2 sum P) = 1/2", (1.0, 0.0)),
            triangle=always(
                "(a + b) / 2 <= max(a, b) <= a + b puts every value in [1/2, 1], so "
                "d(P, R) <= 1 <= d(P, Q) + d(Q, R)"
            ),
            metric=never("d(P, P) = 1/2, not 0", (1.0, 0.0), (0.0, 1.0), (0.5, 0.5)),
        ),
        bounds=Bounds("0.5", "1"),
        aliases=(Alias("philentropy:motyka"),),
        relations=(
            Relation("1 - motyka_similarity(P, Q)"),
            Relation("0.5 + manhattan(P, Q) / 4", "pdf"),
        ),
        zeros=_ALL_ZERO_EPS0 + " (philentropy)",
        notes="philentropy's documentation prints the similarity; its code returns this "
        "distance form.",
    ),
    Measure(
        name="motyka_similarity",
        title="Motyka similarity",
        family="intersection",
        survey_number=14,
        kind="similarity",
        domain="nonnegative",
        latex=r"\frac{\sum_i \min(P_i, Q_i)}{\sum_i (P_i + Q_i)}",
        strict=Rule({"m": _MIN, "s": _TOTAL}, "m / s"),
        epsilon=Rule({"m": _MIN, "s": _TOTAL}, "m / nz(s, eps)"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=always("min(a, b) <= (a + b) / 2, so s <= 1/2 = s(P, P)"),
            triangle=SIMILARITY_TRIANGLE,
            metric=SIMILARITY_METRIC,
        ),
        bounds=Bounds("0", "0.5"),
        zeros=_ALL_ZERO_EPS0,
        positive_definite=PD_INTERSECTION_OVER_TOTAL,
    ),
    Measure(
        name="kulczynski_s",
        title="Kulczynski s",
        family="intersection",
        survey_number=15,
        kind="similarity",
        domain="nonnegative",
        latex=r"\frac{\sum_i \min(P_i, Q_i)}{\sum_i |P_i - Q_i|}",
        strict=Rule({"m": _MIN, "num": _ABS}, "m / num"),
        epsilon=Rule({"m": sum_("nz(min(x, y), eps)"), "num": _ABS}, "m / num"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=always("s(P, P) = sum P / 0 = inf, the largest value"),
            triangle=SIMILARITY_TRIANGLE,
            metric=SIMILARITY_METRIC,
        ),
        bounds=Bounds("0", "inf"),
        aliases=(Alias("kulczynski_similarity"), Alias("philentropy:kulczynski_s")),
        relations=(Relation("1 / kulczynski_d(P, Q)"),),
        zeros="P = Q gives inf; two all-zero vectors give nan; zero='epsilon' is "
        "1 / kulczynski_d with its epsilon rule (philentropy)",
    ),
    Measure(
        name="ruzicka",
        title="Ruzicka",
        family="intersection",
        survey_number=16,
        kind="similarity",
        domain="nonnegative",
        latex=r"\frac{\sum_i \min(P_i, Q_i)}{\sum_i \max(P_i, Q_i)}",
        strict=Rule({"m": _MIN, "mx": _MAX}, "m / mx"),
        epsilon=Rule({"m": _MIN, "mx": _MAX}, "where(mx == 0, 1, m / mx)"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=always("min <= max, so s <= 1 = s(P, P)"),
            triangle=SIMILARITY_TRIANGLE,
            metric=SIMILARITY_METRIC,
        ),
        bounds=Bounds("0", "1"),
        aliases=(Alias("weighted_jaccard"), Alias("philentropy:ruzicka")),
        relations=(Relation("1 - soergel(P, Q)"),),
        zeros=_ALL_ZERO_NAN + "; zero='epsilon' gives 1 (philentropy: 1 - soergel)",
        positive_definite=PD_RUZICKA,
    ),
    Measure(
        name="tanimoto",
        title="Tanimoto",
        family="intersection",
        survey_number=17,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{\sum_i (\max(P_i, Q_i) - \min(P_i, Q_i))}{\sum_i \max(P_i, Q_i)}",
        strict=Rule({"num": _ABS, "mx": _MAX}, "num / mx"),
        epsilon=Rule({"num": _ABS, "mx": _MAX}, "div0(num, mx)"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always("equals Soergel, the weighted Jaccard distance (Kosub 2019)"),
            metric=always("equals Soergel, a metric on non-negative vectors"),
        ),
        bounds=Bounds("0", "1"),
        aliases=(Alias("philentropy:tanimoto"),),
        relations=(Relation("soergel(P, Q)"),),
        zeros=_ALL_ZERO_EPS0 + " (philentropy)",
        notes="Cha's form sum(P + Q - 2 min) / sum(P + Q - min) equals sum(max - min) / sum max "
        "on non-negative input; computed as sum|P - Q| / sum max.",
    ),
]
