"""Parametric divergences used as losses (extras, not rows of Cha's survey).

Each measure is one declarative definition. Limits at special parameter values (Renyi at
alpha = 1 is KL, ...) are taken exactly with ``where`` on the parameter, so the value at
the special point is the limit itself, never NaN, and values next to it are continuous.
"""

from __future__ import annotations

from ..spec import (
    Alias,
    Bounds,
    Measure,
    Param,
    Properties,
    Relation,
    Rule,
    always,
    never,
    on_pdf,
    sum_,
)
from ._claims import NONNEG_TERMS, ONEHOT_P, TERMWISE_SYMMETRIC, TRIPLE, ZERO_AT_EQUAL

_KL_TRIANGLE = "P = (1, 0), Q = (1/2, 1/2), R = (0, 1) break it (as for KL)"

MEASURES: list[Measure] = [
    Measure(
        name="total_variation",
        title="Total variation distance",
        family="parametric",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{1}{2} \sum_i |P_i - Q_i|",
        strict=Rule({"s": sum_("abs(x - y)")}, "s / 2"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always("half the L1 norm of P - Q: |a - c| <= |a - b| + |b - c|"),
            metric=always("half the L1 distance, a norm distance"),
        ),
        bounds=Bounds("0", "1"),
        aliases=(Alias("tv"), Alias("tvd")),
        relations=(
            Relation("manhattan(P, Q) / 2"),
            Relation("non_intersection(P, Q)", holds="pdf"),
        ),
        notes="1/2 sum |P_i - Q_i| on any non-negative input: equal to non_intersection "
        "(1 - sum min(P_i, Q_i)) on probability vectors only, so not an alias of it. On "
        "pdfs it is sup_A |P(A) - Q(A)|.",
        references=(
            "Tsybakov 2009, Introduction to Nonparametric Estimation, Def. 2.4 "
            "(V(P, Q) = 1/2 sum |p - q|)",
        ),
    ),
    Measure(
        name="skew_kl",
        title="Skew Kullback-Leibler divergence",
        family="parametric",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i P_i \ln \frac{P_i}{\alpha P_i + (1 - \alpha) Q_i}",
        # KL(P || M) = sum kl_elem(x, m) + sum (x - m), x - m = (1 - alpha)(x - y): both
        # sums without cancellation near P = Q
        strict=Rule(
            {
                "k": sum_("kl_elem(x, alpha * x + (1 - alpha) * y)"),
                "s": sum_("x - y"),
            },
            "k + (1 - alpha) * s",
        ),
        params=(
            Param(
                "alpha",
                0.1,
                "skew: weight of P in the mixture alpha P + (1 - alpha) Q",
                low=0.0,
                low_inclusive=True,
                high=1.0,
                high_inclusive=True,
                test_values=(0.0, 0.5, 0.9),
            ),
        ),
        properties=Properties(
            symmetric=never(
                "P = (1, 0), Q = (1/2, 1/2) give ln(1 / 0.55) = 0.60 one way and 0.83 the "
                "other (alpha = 0.1)",
                ONEHOT_P,
                (0.5, 0.5),
            ),
            nonnegative=on_pdf(
                "Gibbs' inequality on pdfs (M is a pdf); off the simplex P = (0.1, 0.1), "
                "Q = (1, 1) give sum P ln(P / M) < 0",
                (0.1, 0.1),
                (1.0, 1.0),
            ),
            identity=always("M = P when Q = P, so every term is P ln 1 = 0"),
            triangle=never(_KL_TRIANGLE + " for alpha < 1 (alpha = 1 is identically 0)", *TRIPLE),
            metric=never("not symmetric and the triangle inequality fails", *TRIPLE),
        ),
        # P_i / M_i <= 1 / alpha, so the value is at most ln(1 / alpha), reached by
        # disjoint supports
        bounds=Bounds("0", "where(alpha > 0, -log(alpha), inf)"),
        aliases=(Alias("skew_kullback_leibler"),),
        relations=(
            Relation("kullback_leibler(P, Q)", params={"alpha": 0.0}),
            Relation("2 * jensen_shannon(P, Q) - skew_kl(Q, P, alpha=0.5)", params={"alpha": 0.5}),
        ),
        notes="KL(P || alpha P + (1 - alpha) Q), the skew KL of DistiLLM (Ko et al. 2024), "
        "finite whenever alpha > 0. alpha = 0 is KL(P || Q), alpha = 1 is 0. The skew reverse "
        "KL of DistiLLM, KL(Q || alpha Q + (1 - alpha) P), is this measure with its arguments "
        "swapped: skew_kl(Q, P, alpha=alpha). Off the simplex the (1 - alpha) sum (P - Q) "
        "term keeps the textbook sum P ln(P / M).",
        references=(
            "Ko, Kim, Chen, Yun 2024, DistiLLM: Towards Streamlined Distillation for Large "
            "Language Models, ICML (skew KL and skew reverse KL, eq. 3-4)",
            "Lee 1999, Measures of distributional similarity, ACL (the alpha-skew divergence)",
        ),
    ),
]
