"""Claims shared by many definitions (evidence written once)."""

from ..spec import Claim, always, never

TERMWISE_SYMMETRIC: Claim = always(
    "every term (and the finalize) is unchanged when P and Q are swapped"
)
NONNEG_TERMS: Claim = always("a sum (or max) of non-negative terms")
ZERO_AT_EQUAL: Claim = always("every term vanishes when P_i = Q_i (0/0 terms count as 0)")

ONEHOT_P = (1.0, 0.0)
ONEHOT_Q = (0.0, 1.0)
MIDPOINT = (0.5, 0.5)
#: P = (1, 0), Q = (1/2, 1/2), R = (0, 1): breaks the triangle inequality of many divergences
TRIPLE = (ONEHOT_P, MIDPOINT, ONEHOT_Q)
#: the same with full supports, for divergences that are infinite on TRIPLE's outer pairs
SPREAD = ((0.1, 0.9), MIDPOINT, (0.9, 0.1))
SPREAD_WHY = "P = (0.1, 0.9), Q = (1/2, 1/2), R = (0.9, 0.1) break it"

SIMILARITY_TRIANGLE: Claim = never(
    "a similarity is largest for identical inputs: P = R = (1, 0), Q = (0, 1) give "
    "s(P, R) > s(P, Q) + s(Q, R)",
    ONEHOT_P,
    ONEHOT_Q,
    ONEHOT_P,
)
SIMILARITY_METRIC: Claim = never(
    "a similarity, not a distance: s(P, P) is its maximum, not 0",
    ONEHOT_P,
    ONEHOT_Q,
    ONEHOT_P,
)


def not_metric(why: str, *cx: tuple[float, ...]) -> dict[str, Claim]:
    """``triangle`` and ``metric`` claims of a divergence whose triangle inequality fails.

    Use as ``Properties(..., **not_metric(why, P, Q, R))``.
    """
    return {
        "triangle": never(why, *cx),
        "metric": never("the triangle inequality fails: " + why, *cx),
    }
