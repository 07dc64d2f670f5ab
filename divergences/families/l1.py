"""L1 family (Cha 2007, measures 5-10)."""

from ..spec import (
    BASE,
    Alias,
    Bounds,
    Measure,
    Properties,
    Relation,
    Rule,
    always,
    on_pdf,
    sum_,
)
from ._claims import NONNEG_TERMS, TERMWISE_SYMMETRIC, TRIPLE, ZERO_AT_EQUAL, not_metric

# counterexample to the triangle inequality of sum|P-Q| / sum(P+Q) off the simplex
_SORENSEN_CX = ((1.0, 0.0), (1.0, 1.0), (0.0, 1.0))

_ALL_ZERO_NAN = "two all-zero vectors give 0/0 = nan"

MEASURES = [
    Measure(
        name="sorensen",
        title="Sorensen (Bray-Curtis)",
        family="l1",
        survey_number=5,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{\sum_i |P_i - Q_i|}{\sum_i (P_i + Q_i)}",
        # abs(x + y): x + y on the measure's domain, scipy's braycurtis on any reals
        strict=Rule({"num": sum_("abs(x - y)"), "den": sum_("abs(x + y)")}, "num / den"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=on_pdf(
                "on probability vectors the denominator is 2, so it is L1 / 2 (Cha 2007); "
                "off the simplex the normalisation breaks it",
                *_SORENSEN_CX,
            ),
            metric=on_pdf("half the L1 distance on probability vectors", *_SORENSEN_CX),
        ),
        bounds=Bounds("0", "1"),
        aliases=(
            Alias("bray_curtis"),
            Alias("braycurtis"),
            Alias("scipy:braycurtis", domain="real"),
            Alias("philentropy:sorensen"),
        ),
        relations=(Relation("czekanowski(P, Q)"), Relation("manhattan(P, Q) / 2", "pdf")),
        zeros=_ALL_ZERO_NAN + " (philentropy too)",
    ),
    Measure(
        name="gower",
        title="Gower",
        family="l1",
        survey_number=6,
        kind="dissimilarity",
        domain="real",
        latex=r"\frac{1}{d} \sum_i |P_i - Q_i|",
        strict=Rule({"s": sum_("abs(x - y)")}, "s / d"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always("L1 scaled by the constant 1/d"),
            metric=always("L1 / d"),
        ),
        bounds=Bounds("0", "2 / d"),
        aliases=(Alias("philentropy:gower"),),
        notes="Cha's form for probability vectors: Gower's feature ranges R_i are dropped "
        "(as in philentropy).",
    ),
    Measure(
        name="soergel",
        title="Soergel",
        family="l1",
        survey_number=7,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{\sum_i |P_i - Q_i|}{\sum_i \max(P_i, Q_i)}",
        strict=Rule({"num": sum_("abs(x - y)"), "den": sum_("max(x, y)")}, "num / den"),
        epsilon=Rule({"num": sum_("abs(x - y)"), "den": sum_("max(x, y)")}, "div0(num, den)"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always(
                "the weighted Jaccard (Ruzicka) distance 1 - sum min / sum max is a metric on "
                "non-negative vectors (Spath 1981; Kosub 2019, Pattern Recognit. Lett. 120)"
            ),
            metric=always("weighted Jaccard (Ruzicka) distance"),
        ),
        bounds=Bounds("0", "1"),
        aliases=(Alias("philentropy:soergel"),),
        relations=(Relation("tanimoto(P, Q)"), Relation("1 - ruzicka(P, Q)")),
        zeros=_ALL_ZERO_NAN + "; zero='epsilon' gives 0 (philentropy)",
    ),
    Measure(
        name="kulczynski_d",
        title="Kulczynski d",
        family="l1",
        survey_number=8,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{\sum_i |P_i - Q_i|}{\sum_i \min(P_i, Q_i)}",
        strict=Rule({"num": sum_("abs(x - y)"), "den": sum_("min(x, y)")}, "num / den"),
        epsilon=Rule({"num": sum_("abs(x - y)"), "den": sum_("nz(min(x, y), eps)")}, "num / den"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            **not_metric(
                "disjoint P = (1, 0), R = (0, 1) are infinitely far apart, "
                "but both are at distance 2 from Q = (1/2, 1/2)",
                *TRIPLE,
            ),
        ),
        bounds=Bounds("0", "inf"),
        aliases=(Alias("kulczynski_distance"), Alias("philentropy:kulczynski_d")),
        relations=(Relation("1 / kulczynski_s(P, Q)"),),
        zeros="disjoint supports give inf; zero='epsilon' adds epsilon to the denominator "
        "for every coordinate with min(P_i, Q_i) = 0 (philentropy), so it stays finite",
    ),
    Measure(
        name="canberra",
        title="Canberra",
        family="l1",
        survey_number=9,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i \frac{|P_i - Q_i|}{P_i + Q_i}",
        # abs(x) + abs(y): x + y on the measure's domain, scipy's canberra on any reals
        strict=Rule({"s": sum_("div0(abs(x - y), abs(x) + abs(y))")}, "s"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always(
                "|a - b| / (a + b) is a metric on [0, inf) (Lance & Williams 1967); "
                "a sum of metrics is a metric"
            ),
            metric=always("a sum of per-coordinate metrics"),
        ),
        bounds=Bounds("0", "d"),
        aliases=(Alias("scipy:canberra", domain="real"), Alias("philentropy:canberra")),
        zeros="a coordinate with P_i = Q_i = 0 contributes 0 (0/0 terms vanish)",
    ),
    Measure(
        name="lorentzian",
        title="Lorentzian",
        family="l1",
        survey_number=10,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i \ln(1 + |P_i - Q_i|)",
        strict=Rule({"s": sum_("log1p(abs(x - y))")}, "s / log(base)"),
        params=(BASE,),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always(
                "ln(1 + t) is increasing, concave and 0 at 0, so ln(1 + |a - b|) is a metric; "
                "a sum of metrics is a metric"
            ),
            metric=always("a sum of per-coordinate metrics"),
        ),
        bounds=Bounds("0", "d * log1p(2 / d) / log(base)"),
        aliases=(Alias("philentropy:lorentzian"),),
        notes="The upper bound d ln(1 + 2/d) spreads |P - Q| evenly over all coordinates; it "
        "is attained for even d and is an upper bound for odd d.",
    ),
]
