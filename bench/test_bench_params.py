"""Parametric measures: the factored path against the direct kernel, same data, same run.

One group per measure (pytest-benchmark ``group``): ``method="factored"`` (per-row terms,
matrix products and the guard, which sends the pairs near P = Q to the direct kernel) beside
``method="direct"`` (the generated Numba kernel, a power or logarithm per element), at the
measure's default parameters; the table's ratio column is the speed-up (issue 9: >= 20x for
Renyi, Amari alpha, Tsallis and Cressie-Read at 2000 x 2000 x 256). The measures are every
parametric one that factors at its defaults, asked of the planner, never listed. Each
benchmark first checks its rows against the other method (rtol 1e-9: the guard keeps a
factored value only within 2^-40 of the exact one).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_bench_cpu import _probe_rows, timed

import divergences as dv
from divergences.kernels import factored

#: rows checked against the other method (cheap for both)
CHECK_ROWS = 16

PARAMETRIC = [
    m.name
    for m in dv.measures()
    if m.family == "parametric" and m.params and factored.factorable(m, "strict")
]
CASES = [
    pytest.param(name, method, id=f"{name}-{method}")
    for name in PARAMETRIC
    for method in ("factored", "direct")
]


def test_the_issues_measures_are_benchmarked():
    assert {"renyi", "amari_alpha", "tsallis", "cressie_read"} <= set(PARAMETRIC)


@pytest.mark.parametrize(("measure", "method"), CASES)
def test_factored_vs_direct(benchmark, data, shape, measure, method):
    XA, XB = data["float64"]
    k = min(CHECK_ROWS, shape[0])
    other = "direct" if method == "factored" else "factored"
    np.testing.assert_allclose(
        dv.cdist(XA[:k], XB, measure, method=method),
        dv.cdist(XA[:k], XB, measure, method=other),
        rtol=1e-9,
        atol=0,
    )
    p = _probe_rows(shape[0])
    timed(
        benchmark,
        lambda: dv.cdist(XA, XB, measure, method=method),
        lambda: dv.cdist(XA[:p], XB, measure, method=method),
        shape[0] / p,
        group=f"factored vs direct {measure} float64 {'x'.join(map(str, shape))}",
        work=float(np.prod(shape)),
        measure=measure,
        method=method,
    )
