"""Shannon's entropy family (Cha 2007, measures 37-42), with sqrt(JS) as an extra.

The log terms are written with ``kl_elem``/``kl_mid`` (generalised KL elements
x ln(x/y) - x + y >= 0), which keep full relative accuracy near P = Q where the
textbook forms cancel.
"""

import math

from ..spec import (
    BASE,
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
    SPREAD,
    SPREAD_WHY,
    TERMWISE_SYMMETRIC,
    TRIPLE,
    ZERO_AT_EQUAL,
    not_metric,
)

_KL = sum_("kl_elem(x, y)")
_DIFF = sum_("x - y")
_JEFFREYS = sum_("kl_elem(x, y) + kl_elem(y, x)")
_MID = sum_("kl_mid(x, y) + kl_mid(y, x)")
_ASYM = ((0.5, 0.5), (0.9, 0.1))
_JS_TERMS = always("each term p ln(2p/(p+q)) + q ln(2q/(p+q)) = (p + q)(ln 2 - H(p/(p+q))) >= 0")
_JS_NOT_METRIC = not_metric(
    "P = (1, 0), Q = (1/2, 1/2), R = (0, 1) break it; its square root is a metric "
    "(Endres & Schindelin 2003)",
    *TRIPLE,
)
_JS_ZERO = "0 ln 0 = 0: finite for any supports"

MEASURES = [
    Measure(
        name="kullback_leibler",
        title="Kullback-Leibler divergence",
        family="shannon",
        survey_number=37,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i P_i \ln \frac{P_i}{Q_i}",
        strict=Rule({"t": _KL, "s": _DIFF}, "(t + s) / log(base)"),
        epsilon=Rule({"t": sum_("xlogy(x, x / nz(y, eps))")}, "t / log(base)"),
        params=(BASE,),
        properties=Properties(
            symmetric=never("KL(P || Q) != KL(Q || P) in general", *_ASYM),
            nonnegative=on_pdf(
                "Gibbs' inequality on probability vectors; off the simplex (0.1) vs (1) "
                "gives 0.1 ln 0.1 < 0",
                (0.1,),
                (1.0,),
            ),
            identity=ZERO_AT_EQUAL,
            **not_metric(SPREAD_WHY, *SPREAD),
        ),
        bounds=Bounds("0", "inf"),
        aliases=(
            Alias("kl"),
            Alias("kl_divergence"),
            Alias("relative_entropy"),
            Alias("philentropy:kullback-leibler"),
        ),
        zeros="0 ln(0/q) = 0; p ln(p/0) = inf for p > 0; zero='epsilon' uses p ln(p/epsilon) "
        "there (philentropy: finite, even negative)",
        notes="Computed as sum (P ln(P/Q) - P + Q) + sum (P - Q), termwise exact and free "
        "of cancellation near P = Q.",
    ),
    Measure(
        name="jeffreys",
        title="Jeffreys (J divergence)",
        family="shannon",
        survey_number=38,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i (P_i - Q_i) \ln \frac{P_i}{Q_i}",
        strict=Rule({"t": _JEFFREYS}, "t / log(base)"),
        epsilon=Rule(
            {"t": sum_("(x - y) * log(nz(x / nz(y, eps), eps))")},
            "t / log(base)",
            symmetric=False,
        ),
        params=(BASE,),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=always("(p - q) and ln(p / q) have the same sign"),
            identity=ZERO_AT_EQUAL,
            **not_metric(SPREAD_WHY, *SPREAD),
        ),
        bounds=Bounds("0", "inf"),
        aliases=(Alias("j_divergence"), Alias("philentropy:jeffreys")),
        relations=(Relation("kullback_leibler(P, Q) + kullback_leibler(Q, P)"),),
        zeros="exactly one of P_i, Q_i zero gives inf; zero='epsilon' substitutes epsilon "
        "for a zero Q_i and for a zero ratio (philentropy), which is no longer symmetric",
    ),
    Measure(
        name="k_divergence",
        title="K divergence",
        family="shannon",
        survey_number=39,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i P_i \ln \frac{2 P_i}{P_i + Q_i}",
        strict=Rule({"t": sum_("kl_mid(x, y)"), "s": _DIFF}, "(t + 0.5 * s) / log(base)"),
        params=(BASE,),
        properties=Properties(
            symmetric=never("KL(P || M) with M = (P + Q) / 2 is not symmetric", *_ASYM),
            nonnegative=on_pdf(
                "KL(P || (P + Q) / 2) >= 0 on probability vectors; (1) vs (3) gives ln(1/2)",
                (1.0,),
                (3.0,),
            ),
            identity=ZERO_AT_EQUAL,
            **not_metric("P = (1, 0), Q = (1/2, 1/2), R = (0, 1) break it", *TRIPLE),
        ),
        bounds=Bounds("0", "log(2) / log(base)"),
        aliases=(Alias("philentropy:k_divergence"),),
        relations=(Relation("kullback_leibler(P, (P + Q) / 2)"),),
        zeros=_JS_ZERO,
    ),
    Measure(
        name="topsoe",
        title="Topsoe",
        family="shannon",
        survey_number=40,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i \left(P_i \ln \frac{2 P_i}{P_i + Q_i} + Q_i \ln \frac{2 Q_i}{P_i + Q_i}\right)",
        strict=Rule({"t": _MID}, "t / log(base)"),
        params=(BASE,),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=_JS_TERMS,
            identity=ZERO_AT_EQUAL,
            **_JS_NOT_METRIC,
        ),
        bounds=Bounds("0", "2 * log(2) / log(base)"),
        aliases=(Alias("philentropy:topsoe"),),
        relations=(
            Relation("2 * jensen_shannon(P, Q)"),
            Relation("k_divergence(P, Q) + k_divergence(Q, P)"),
        ),
        zeros=_JS_ZERO,
    ),
    Measure(
        name="jensen_shannon",
        title="Jensen-Shannon divergence",
        family="shannon",
        survey_number=41,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{1}{2}\left[\sum_i P_i \ln \frac{2 P_i}{P_i + Q_i} + \sum_i Q_i \ln \frac{2 Q_i}{P_i + Q_i}\right]",
        strict=Rule({"t": _MID}, "0.5 * t / log(base)"),
        params=(BASE,),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=_JS_TERMS,
            identity=ZERO_AT_EQUAL,
            **_JS_NOT_METRIC,
        ),
        bounds=Bounds("0", "log(2) / log(base)"),
        aliases=(
            Alias("js"),
            Alias("jsd"),
            Alias("jensen_shannon_divergence"),
            Alias("philentropy:jensen-shannon"),
        ),
        relations=(
            Relation("0.5 * (kullback_leibler(P, (P + Q) / 2) + kullback_leibler(Q, (P + Q) / 2))"),
            Relation("jensen_shannon_distance(P, Q)**2"),
        ),
        zeros=_JS_ZERO,
        notes="The divergence (as Cha and philentropy); its square root is "
        "jensen_shannon_distance (scipy's `jensenshannon`).",
    ),
    Measure(
        name="jensen_difference",
        title="Jensen difference",
        family="shannon",
        survey_number=42,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i \left[\frac{P_i \ln P_i + Q_i \ln Q_i}{2} - \frac{P_i + Q_i}{2} \ln \frac{P_i + Q_i}{2}\right]",
        strict=Rule({"t": _MID}, "0.5 * t / log(base)"),
        params=(BASE,),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=_JS_TERMS,
            identity=ZERO_AT_EQUAL,
            **_JS_NOT_METRIC,
        ),
        bounds=Bounds("0", "log(2) / log(base)"),
        aliases=(Alias("philentropy:jensen_difference"),),
        relations=(Relation("jensen_shannon(P, Q)"),),
        zeros=_JS_ZERO,
        notes="Termwise identical to Jensen-Shannon; computed in the same stable form.",
    ),
    Measure(
        name="jensen_shannon_distance",
        title="Jensen-Shannon distance",
        family="shannon",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sqrt{\mathrm{JS}(P, Q)}",
        strict=Rule({"t": _MID}, "sqrt(0.5 * t / log(base))"),
        params=(BASE,),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always(
                "Endres & Schindelin 2003 (IEEE Trans. Inf. Theory 49(7)); "
                "Osterreicher & Vajda 2003"
            ),
            metric=always("the square root of JS is a metric (Endres & Schindelin 2003)"),
        ),
        bounds=Bounds("0", "sqrt(log(2) / log(base))"),
        # scipy normalises the rows and sums rel_entr(p, m) + rel_entr(q, m): +inf as soon
        # as a normalised entry is negative (rel_entr of a negative argument)
        aliases=(Alias("scipy:jensenshannon", {"normalize": True}, domain="real"),),
        outside_domain=math.inf,
        zeros=_JS_ZERO,
        notes="Not a survey row. `scipy:jensenshannon` also normalises rows (as scipy does) "
        "and, as scipy, takes rows with negative entries: all-negative rows normalise to "
        "probability vectors, any other row with a negative entry gives inf (scipy's rel_entr "
        "of a negative argument); a row summing to 0 is refused (scipy: NaN).",
    ),
]
