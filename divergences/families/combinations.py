"""Combinations (Cha 2007, measures 43-45)."""

from ..spec import (
    BASE,
    Alias,
    Bounds,
    Measure,
    Properties,
    Relation,
    Rule,
    always,
    max_,
    sum_,
)
from ._claims import NONNEG_TERMS, SPREAD, SPREAD_WHY, TERMWISE_SYMMETRIC, ZERO_AT_EQUAL, not_metric

# ((P+Q)/2) ln((P+Q) / (2 sqrt(PQ))) with (P+Q)/(2 sqrt(PQ)) - 1 = (sqrt P - sqrt Q)^2 / (2 sqrt(PQ))
# (x + y) times the logarithm before halving: 0.5 * (x + y) rounds to 0 for x + y = 5e-324,
# and 0 * inf (one side zero) gave NaN where the term is inf
_TANEJA = "(x + y) * log1p(div0(sqrt_diff_sq(x, y), 2 * sqrt(x) * sqrt(y))) / 2"
_KJ_NUM = "(x - y)**2 * (x + y)**2"
_KJ_DEN = "2 * (sqrt(x) * sqrt(y))**3"
# strict: (r^2 * (x + y) * s) / 2 with r = (x - y) / g, s = (x + y) / g, g = sqrt(x y): no
# square or cube of a small number (which underflowed to 0 / 0 = 0 where the term is inf)
_KJ_G = "(sqrt(x) * sqrt(y))"
_KJ_STRICT = f"div0(x - y, {_KJ_G})**2 * ((x + y) * div0(x + y, {_KJ_G})) / 2"

MEASURES = [
    Measure(
        name="taneja",
        title="Taneja (arithmetic-geometric mean divergence)",
        family="combinations",
        survey_number=43,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i \frac{P_i + Q_i}{2} \ln \frac{P_i + Q_i}{2 \sqrt{P_i Q_i}}",
        strict=Rule({"t": sum_(_TANEJA)}, "t / log(base)"),
        epsilon=Rule(
            {"t": sum_(f"where(min(x, y) > 0, {_TANEJA}, xlogy(0.5 * (x + y), (x + y) / eps))")},
            "t / log(base)",
        ),
        params=(BASE,),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=always("arithmetic mean >= geometric mean in every term"),
            identity=ZERO_AT_EQUAL,
            **not_metric(SPREAD_WHY, *SPREAD),
        ),
        bounds=Bounds("0", "inf"),
        aliases=(Alias("philentropy:taneja"),),
        zeros="exactly one of P_i, Q_i zero gives inf; zero='epsilon' replaces the whole "
        "2 sqrt(P_i Q_i) by epsilon there (philentropy)",
    ),
    Measure(
        name="kumar_johnson",
        title="Kumar-Johnson",
        family="combinations",
        survey_number=44,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i \frac{(P_i^2 - Q_i^2)^2}{2 (P_i Q_i)^{3/2}}",
        strict=Rule({"t": sum_(_KJ_STRICT)}, "t"),
        epsilon=Rule({"t": sum_(f"{_KJ_NUM} / nz({_KJ_DEN}, eps)")}, "t"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            **not_metric(SPREAD_WHY, *SPREAD),
        ),
        bounds=Bounds("0", "inf"),
        aliases=(Alias("philentropy:kumar-johnson"),),
        zeros="exactly one of P_i, Q_i zero gives inf; zero='epsilon' divides by epsilon "
        "there (philentropy)",
    ),
    Measure(
        name="avg_l1_linf",
        title="Avg(L1, L-infinity)",
        family="combinations",
        survey_number=45,
        kind="dissimilarity",
        domain="real",
        latex=r"\frac{\sum_i |P_i - Q_i| + \max_i |P_i - Q_i|}{2}",
        strict=Rule({"s": sum_("abs(x - y)"), "m": max_("abs(x - y)")}, "(s + m) / 2"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always("the mean of two metrics (L1 and L-infinity)"),
            metric=always("the mean of two metrics"),
        ),
        bounds=Bounds("0", "1.5"),
        aliases=(Alias("avg"), Alias("philentropy:avg")),
        relations=(Relation("(manhattan(P, Q) + chebyshev(P, Q)) / 2"),),
    ),
]
