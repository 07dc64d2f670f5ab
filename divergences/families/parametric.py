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
    Properties,
    Relation,
    Rule,
    always,
    sum_,
)
from ._claims import NONNEG_TERMS, TERMWISE_SYMMETRIC, ZERO_AT_EQUAL

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
]
