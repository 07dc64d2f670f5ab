"""Values at the edges of float64: subnormal, underflowing and overflowing entries.

Every measure of the registry, on pairs whose squares or halves under- or overflow, against
the independent mpmath reference (tests/mp_reference.py) evaluated at 800 digits on the
exact float inputs (so 1e-200 ** 2 is 1e-400, not 0): where the exact value is infinite
the package must say inf, where it is NaN (an all-zero row) NaN, never NaN elsewhere, and
within 1e-9 relative where the exact value lies in [1e-100, 1e100] (outside, a float64
result may legitimately round to 0 or overflow). Through every path: the reference (one
pair), the direct kernels (cdist, pdist) and the factored path (issue 13, items 2, 3, 5).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from mp_reference import REFERENCE, mp, to_mp

import divergences as dv

MEASURES = dv.measures()
IDS = [m.name for m in MEASURES]

#: (P, Q) pairs; each is also taken swapped
CASES = (
    ((1e-200, 1.0), (0.0, 1.0)),  # a square underflows where a denominator is 0
    ((5e-324, 1.0), (0.0, 1.0)),  # (x + y) / 2 rounds to 0 (Taneja)
    ((1e-160, 0.5), (1e-320, 0.5)),  # a subnormal denominator
    ((1e-310, 0.5, 0.5), (1e-310, 0.3, 0.7)),  # a subnormal column
)
PAIRS = [(np.array(p), np.array(q)) for a, b in CASES for p, q in ((a, b), (b, a))]


def exact(name: str, P: np.ndarray, Q: np.ndarray) -> float:
    """The reference at 800 digits, rounded to float64 (inf beyond its range)."""
    with mp.workdps(800):
        v = +REFERENCE[name](to_mp(P), to_mp(Q))
    if mp.isnan(v):
        return math.nan
    if mp.isinf(v) or abs(v) > 1.7e308:
        return math.copysign(math.inf, float(mp.sign(v)))
    return float(v)


def check(name: str, got: float, want: float, where: str) -> None:
    msg = f"{name} {where}: got {got!r}, exact {want!r}"
    if math.isnan(want):
        assert math.isnan(got), msg
        return
    assert not math.isnan(got), msg
    if math.isinf(want):
        assert got == want, msg
    elif 1e-100 <= abs(want) <= 1e100:
        assert got == pytest.approx(want, rel=1e-9), msg


@pytest.mark.parametrize("m", MEASURES, ids=IDS)
def test_edges_against_exact_values_on_every_path(m):
    for P, Q in PAIRS:
        want = exact(m.name, P, Q)
        where = f"at P={P.tolist()}, Q={Q.tolist()}"
        check(m.name, m(P, Q), want, "pair " + where)
        A, B = P[None], Q[None]
        check(m.name, float(dv.cdist(A, B, m, method="direct")[0, 0]), want, "direct " + where)
        check(m.name, float(dv.cdist(A, B, m)[0, 0]), want, "cdist " + where)
        if m.symmetric:
            check(m.name, float(dv.pdist(np.stack([P, Q]), m)[0]), want, "pdist " + where)

