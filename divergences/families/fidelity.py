"""Fidelity (squared-chord) family (Cha 2007, measures 24-28)."""

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
    ONEHOT_P,
    ONEHOT_Q,
    SIMILARITY_METRIC,
    SIMILARITY_TRIANGLE,
    TERMWISE_SYMMETRIC,
    TRIPLE,
    ZERO_AT_EQUAL,
    not_metric,
)
from ._search import (
    EMB_BHATTACHARYYA,
    EMB_FIDELITY,
    EMB_HELLINGER,
    EMB_MATUSITA,
    EMB_SQ_CHORD,
    EMB_SQ_CHORD_SIM,
    PD_FIDELITY,
    PD_NOT_2BC_MINUS_1,
)

_BC = sum_("sqrt(x) * sqrt(y)")
_H = sum_("sqrt_diff_sq(x, y)")
_SMALL_LARGE = ((1.0,), (100.0,))
_SQRT_L2 = (
    "sqrt(sum (sqrt P_i - sqrt Q_i)^2) is the Euclidean distance between sqrt P and sqrt Q, "
    "and P -> sqrt P is one-to-one on non-negative vectors"
)

MEASURES = [
    Measure(
        name="fidelity",
        title="Fidelity (Bhattacharyya coefficient)",
        family="fidelity",
        survey_number=24,
        kind="similarity",
        domain="nonnegative",
        latex=r"\sum_i \sqrt{P_i Q_i}",
        strict=Rule({"bc": _BC}, "bc"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=on_pdf(
                "Cauchy-Schwarz: sum sqrt(P_i Q_i) <= 1 = s(P, P) on probability vectors; "
                "off the simplex (1) vs (100) gives 10 > 1",
                *_SMALL_LARGE,
            ),
            triangle=SIMILARITY_TRIANGLE,
            metric=SIMILARITY_METRIC,
        ),
        bounds=Bounds("0", "1"),
        aliases=(Alias("bhattacharyya_coefficient"), Alias("philentropy:fidelity")),
        positive_definite=PD_FIDELITY,
        embedding=EMB_FIDELITY,
    ),
    Measure(
        name="bhattacharyya",
        title="Bhattacharyya distance",
        family="fidelity",
        survey_number=25,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"-\ln \sum_i \sqrt{P_i Q_i}",
        strict=Rule({"bc": _BC}, "0 - log(bc) / log(base)"),
        epsilon=Rule({"bc": _BC}, "0 - log(nz(bc, eps)) / log(base)"),
        params=(BASE,),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=on_pdf(
                "the coefficient is <= 1 on probability vectors; off the simplex it can "
                "exceed 1 and the distance is negative (philentropy issue #21)",
                (1.0, 1.0),
                (1.0, 1.0),
            ),
            identity=on_pdf("-ln sum P_i = 0 on probability vectors", (1.0, 1.0)),
            **not_metric(
                "P = (1, 0), Q = (1/2, 1/2), R = (0, 1): inf > 2 ln sqrt 2",
                *TRIPLE,
            ),
        ),
        bounds=Bounds("0", "inf"),
        aliases=(Alias("bhattacharyya_distance"), Alias("philentropy:bhattacharyya")),
        relations=(Relation("-log(fidelity(P, Q))"),),
        zeros="disjoint supports give inf; zero='epsilon' uses -ln(epsilon) there (philentropy)",
        embedding=EMB_BHATTACHARYYA,
    ),
    Measure(
        name="hellinger",
        title="Hellinger",
        family="fidelity",
        survey_number=26,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sqrt{2 \sum_i (\sqrt{P_i} - \sqrt{Q_i})^2} \;(= 2 \sqrt{1 - \sum_i \sqrt{P_i Q_i}} \text{ on pdfs})",
        strict=Rule({"h": _H}, "sqrt(2 * h)"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always("sqrt 2 times a Euclidean distance: " + _SQRT_L2),
            metric=always(_SQRT_L2),
        ),
        bounds=Bounds("0", "2"),
        aliases=(Alias("philentropy:hellinger"),),
        relations=(
            Relation("sqrt(2) * matusita(P, Q)"),
            Relation("2 * sqrt(max(1 - fidelity(P, Q), 0))", "pdf"),
        ),
        notes="Cha's scaling (range [0, 2]); many statistics texts use half of it. Computed "
        "from sum (sqrt P - sqrt Q)^2, stable near P = Q and defined off the simplex, where "
        "philentropy's 2 sqrt(1 - fidelity) can be nan.",
        embedding=EMB_HELLINGER,
    ),
    Measure(
        name="hellinger_statistics",
        title="Hellinger distance (statistics convention)",
        family="fidelity",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sqrt{\tfrac{1}{2} \sum_i (\sqrt{P_i} - \sqrt{Q_i})^2} \;(= \sqrt{1 - \sum_i \sqrt{P_i Q_i}} \text{ on pdfs})",
        strict=Rule({"h": _H}, "sqrt(h / 2)"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always("1 / sqrt 2 times a Euclidean distance: " + _SQRT_L2),
            metric=always(_SQRT_L2),
        ),
        bounds=Bounds("0", "1"),
        aliases=(Alias("hellinger_distance"),),
        relations=(
            Relation("hellinger(P, Q) / 2"),
            Relation("sqrt(max(1 - fidelity(P, Q), 0))", "pdf"),
        ),
        notes="Not a survey row: the Hellinger distance of statistics texts, in [0, 1] on pdfs, "
        "half of Cha's `hellinger` (DECISIONS.md keeps Cha's scaling for the bare name); "
        "`hellinger_distance` names this one.",
    ),
    Measure(
        name="matusita",
        title="Matusita",
        family="fidelity",
        survey_number=27,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sqrt{\sum_i (\sqrt{P_i} - \sqrt{Q_i})^2} \;(= \sqrt{2 - 2 \sum_i \sqrt{P_i Q_i}} \text{ on pdfs})",
        strict=Rule({"h": _H}, "sqrt(h)"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always(_SQRT_L2),
            metric=always(_SQRT_L2),
        ),
        bounds=Bounds("0", "sqrt(2)"),
        aliases=(Alias("philentropy:matusita"),),
        relations=(
            Relation("sqrt(squared_chord(P, Q))"),
            Relation("sqrt(max(2 - 2 * fidelity(P, Q), 0))", "pdf"),
        ),
        embedding=EMB_MATUSITA,
    ),
    Measure(
        name="squared_chord",
        title="Squared-chord distance",
        family="fidelity",
        survey_number=28,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i (\sqrt{P_i} - \sqrt{Q_i})^2",
        strict=Rule({"h": _H}, "h"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            **not_metric(
                "the square of a metric: P = (1, 0), Q = (1/2, 1/2), R = (0, 1) give "
                "2 > 2 (2 - sqrt 2)",
                *TRIPLE,
            ),
        ),
        bounds=Bounds("0", "2"),
        aliases=(Alias("philentropy:squared_chord"),),
        relations=(Relation("1 - squared_chord_similarity(P, Q)", "pdf"),),
        embedding=EMB_SQ_CHORD,
    ),
    Measure(
        name="squared_chord_similarity",
        title="Squared-chord similarity",
        family="fidelity",
        survey_number=28,
        kind="similarity",
        domain="nonnegative",
        latex=r"2 \sum_i \sqrt{P_i Q_i} - 1",
        strict=Rule({"bc": _BC}, "2 * bc - 1"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=never("disjoint supports give -1", ONEHOT_P, ONEHOT_Q),
            identity=on_pdf(
                "the coefficient is <= 1 = its value at P = Q on probability vectors",
                *_SMALL_LARGE,
            ),
            triangle=SIMILARITY_TRIANGLE,
            metric=SIMILARITY_METRIC,
        ),
        bounds=Bounds("-1", "1"),
        relations=(Relation("2 * fidelity(P, Q) - 1"),),
        notes="Cha's first form 2 sum sqrt(P Q) - 1; it equals 1 - squared_chord on "
        "probability vectors only.",
        positive_definite=PD_NOT_2BC_MINUS_1,
        embedding=EMB_SQ_CHORD_SIM,
    ),
]
