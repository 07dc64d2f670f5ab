"""Squared-L2 (chi-squared) family (Cha 2007, measures 29-36)."""

from ..spec import (
    Alias,
    Bounds,
    Measure,
    Properties,
    Relation,
    Rule,
    always,
    never,
    sum_,
)
from ._claims import (
    NONNEG_TERMS,
    SPREAD,
    SPREAD_WHY,
    TERMWISE_SYMMETRIC,
    TRIPLE,
    ZERO_AT_EQUAL,
    not_metric,
)
from ._search import EMB_SQ_EUCLIDEAN

# a square over a denominator is written div0(x - y, den) * (x - y): (x - y)**2 underflows
# to 0 for |x - y| < 1e-162 (and overflows above 1e154), which div0 read as 0 / 0 = 0 where
# the denominator is 0 (an infinite term: Pearson of [1e-200, 1] vs [0, 1] gave 0); the
# quotient first keeps the exact zero rule (x = y only) and the range of the true value
_CHI = sum_("div0(x - y, x + y) * (x - y)")
_CLARK = sum_("div0(x - y, x + y)**2")
_ASYM = ((0.5, 0.5), (0.25, 0.75))
_TRIPLE_WHY = "P = (1, 0), Q = (1/2, 1/2), R = (0, 1) break it"
_PAIR_ZERO = "a coordinate with P_i = Q_i = 0 contributes 0"

MEASURES = [
    Measure(
        name="squared_euclidean",
        title="Squared Euclidean",
        family="squared_l2",
        survey_number=29,
        kind="dissimilarity",
        domain="real",
        latex=r"\sum_i (P_i - Q_i)^2",
        strict=Rule({"s": sum_("(x - y)**2")}, "s"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            **not_metric("the square of a metric: " + _TRIPLE_WHY + " (2 > 1/2 + 1/2)", *TRIPLE),
        ),
        bounds=Bounds("0", "2"),
        aliases=(
            Alias("sqeuclidean"),
            Alias("scipy:sqeuclidean"),
            Alias("philentropy:squared_euclidean"),
        ),
        relations=(Relation("euclidean(P, Q)**2"),),
        embedding=EMB_SQ_EUCLIDEAN,
    ),
    Measure(
        name="pearson",
        title="Pearson chi-squared",
        family="squared_l2",
        survey_number=30,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i \frac{(P_i - Q_i)^2}{Q_i}",
        strict=Rule({"s": sum_("div0(x - y, y) * (x - y)")}, "s"),
        epsilon=Rule({"s": sum_("(x - y)**2 / nz(y, eps)")}, "s"),
        properties=Properties(
            symmetric=never("divides by Q only", *_ASYM),
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            **not_metric(SPREAD_WHY, *SPREAD),
        ),
        bounds=Bounds("0", "inf"),
        aliases=(Alias("pearson_chi2"), Alias("pearson_chi_square"), Alias("philentropy:pearson")),
        relations=(Relation("neyman(Q, P)"),),
        zeros="Q_i = 0 < P_i gives inf; zero='epsilon' divides by epsilon there (philentropy)",
    ),
    Measure(
        name="neyman",
        title="Neyman chi-squared",
        family="squared_l2",
        survey_number=31,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i \frac{(P_i - Q_i)^2}{P_i}",
        strict=Rule({"s": sum_("div0(x - y, x) * (x - y)")}, "s"),
        epsilon=Rule({"s": sum_("(x - y)**2 / nz(x, eps)")}, "s"),
        properties=Properties(
            symmetric=never("divides by P only", *_ASYM),
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            **not_metric(SPREAD_WHY, *SPREAD),
        ),
        bounds=Bounds("0", "inf"),
        aliases=(Alias("neyman_chi2"), Alias("neyman_chi_square"), Alias("philentropy:neyman")),
        relations=(Relation("pearson(Q, P)"),),
        zeros="P_i = 0 < Q_i gives inf; zero='epsilon' divides by epsilon there (philentropy)",
    ),
    Measure(
        name="squared_chi",
        title="Squared chi-squared (triangular discrimination)",
        family="squared_l2",
        survey_number=32,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i \frac{(P_i - Q_i)^2}{P_i + Q_i}",
        strict=Rule({"s": _CHI}, "s"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            **not_metric(_TRIPLE_WHY + " (2 > 2/3 + 2/3); its square root is a metric", *TRIPLE),
        ),
        bounds=Bounds("0", "2"),
        aliases=(
            Alias("squared_chi_square"),
            Alias("triangular_discrimination"),
            Alias("philentropy:squared_chi"),
        ),
        zeros=_PAIR_ZERO,
    ),
    Measure(
        name="probabilistic_symmetric_chi",
        title="Probabilistic symmetric chi-squared",
        family="squared_l2",
        survey_number=33,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"2 \sum_i \frac{(P_i - Q_i)^2}{P_i + Q_i}",
        strict=Rule({"s": _CHI}, "2 * s"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            **not_metric(_TRIPLE_WHY + " (twice squared_chi)", *TRIPLE),
        ),
        bounds=Bounds("0", "4"),
        aliases=(
            Alias("prob_symm"),
            Alias("probabilistic_symmetric_chi_square"),
            Alias("philentropy:prob_symm"),
        ),
        relations=(Relation("2 * squared_chi(P, Q)"),),
        zeros=_PAIR_ZERO,
    ),
    Measure(
        name="divergence",
        title="Divergence",
        family="squared_l2",
        survey_number=34,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"2 \sum_i \frac{(P_i - Q_i)^2}{(P_i + Q_i)^2}",
        strict=Rule({"s": _CLARK}, "2 * s"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            **not_metric("twice the square of Clark's metric: " + SPREAD_WHY, *SPREAD),
        ),
        bounds=Bounds("0", "2 * d"),
        aliases=(Alias("philentropy:divergence"),),
        relations=(Relation("2 * clark(P, Q)**2"),),
        zeros=_PAIR_ZERO,
    ),
    Measure(
        name="clark",
        title="Clark",
        family="squared_l2",
        survey_number=35,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sqrt{\sum_i \left(\frac{|P_i - Q_i|}{P_i + Q_i}\right)^2}",
        strict=Rule({"s": _CLARK}, "sqrt(s)"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always(
                "the l2 combination sqrt(sum d_i^2) of the per-coordinate Canberra metrics "
                "d_i = |a - b| / (a + b) is a metric (Minkowski's inequality)"
            ),
            metric=always("an l2 combination of per-coordinate metrics"),
        ),
        bounds=Bounds("0", "sqrt(d)"),
        aliases=(Alias("philentropy:clark"),),
        zeros=_PAIR_ZERO,
    ),
    Measure(
        name="additive_symmetric_chi",
        title="Additive symmetric chi-squared",
        family="squared_l2",
        survey_number=36,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i \frac{(P_i - Q_i)^2 (P_i + Q_i)}{P_i Q_i}",
        strict=Rule({"s": sum_("div0(x - y, x) * (x - y) + div0(x - y, y) * (x - y)")}, "s"),
        epsilon=Rule({"s": sum_("where(min(x, y) > 0, (x - y)**2 / x + (x - y)**2 / y, 0)")}, "s"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            **not_metric(SPREAD_WHY, *SPREAD),
        ),
        bounds=Bounds("0", "inf"),
        aliases=(
            Alias("additive_symm"),
            Alias("additive_symmetric_chi_square"),
            Alias("philentropy:additive_symm"),
        ),
        relations=(Relation("pearson(P, Q) + neyman(P, Q)"),),
        zeros="exactly one of P_i, Q_i zero gives inf; zero='epsilon' drops every term with "
        "P_i Q_i = 0 (philentropy)",
        notes="Computed as (P - Q)^2 / P + (P - Q)^2 / Q, equal to Cha's form and free of the "
        "underflow of P_i Q_i.",
    ),
]
