"""Which cases the README's test command runs, and which wait for the slow step.

A cold run of the suite is mostly Numba compiling one kernel per (measure, zero mode, kind of
kernel): 1.5-5 s each (20-40 s for alpha_beta), about 1,700 of the 2,300 worker-seconds of a
cold two-worker run (measured with a Numba compile-event listener). So the README's command
checks every measure's values (cdist, the pair call, the reference) and gradients in its
default mode, and two kinds of case only on a sample; the slow step (``-m "slow or nvrtc"``,
which CI runs) checks them for every measure:

- the epsilon mode (philentropy's rule, a second kernel set for each measure that has one)
  outside :data:`EPSILON_SAMPLE`: a case whose parameters hold ``zero="epsilon"``;
- the cases of a test marked ``sampled`` (a further kind of kernel per measure: pdist's
  halves, paired rows, the edge and subnormal sweeps over every path) outside
  :data:`SAMPLE`.

Both samples are derived from the registry here, in one place: a new measure needs no list.
"""

from __future__ import annotations

import re

import pytest

import divergences as dv
from divergences.spec import Measure


def _features(m: Measure, zero: str) -> set[str]:
    """What the rule of ``m`` in mode ``zero`` exercises: the functions it calls, the
    reductions of its accumulators, whether it has parameters."""
    rule = m.rule(zero)
    text = " ".join([*(a.term for a in rule.accumulators.values()), rule.finalize])
    found = set(re.findall(r"([A-Za-z_]\w*)\(", text))
    found |= {f"reduce {a.reduce}" for a in rule.accumulators.values()}
    return found | ({"parameters"} if m.params else set())


def sample(zero: str) -> frozenset[str]:
    """The first measure of each family (registry order), then every measure whose rule in
    mode ``zero`` exercises something (a helper, a reduction, parameters) that the measures
    chosen before it do not; for ``"epsilon"`` among the measures with an epsilon rule."""
    pool = [m for m in dv.measures() if zero == "strict" or m.epsilon is not None]
    chosen: dict[str, Measure] = {}
    for m in pool:
        if m.family not in {c.family for c in chosen.values()}:
            chosen[m.name] = m
    seen = set().union(*(_features(m, zero) for m in chosen.values()))
    for m in pool:
        if _features(m, zero) - seen:
            chosen[m.name] = m
            seen |= _features(m, zero)
    return frozenset(chosen)


#: measures whose epsilon mode the README's command checks
EPSILON_SAMPLE = sample("epsilon")
#: measures that the ``sampled`` tests check in the README's command
SAMPLE = sample("strict") | EPSILON_SAMPLE
_MEASURE_KEYS = ("measure", "m", "name")
_NAMES = frozenset(dv.names())


def _measure(params: dict[str, object]) -> Measure | None:
    for key in _MEASURE_KEYS:
        value = params.get(key)
        if isinstance(value, Measure):
            return value
        if isinstance(value, str) and value in _NAMES:
            return dv.get(value)
    return None


def _slow(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    m = _measure(params)
    if m is None:
        return False
    if params.get("zero") == "epsilon" and m.epsilon is not None and m.name not in EPSILON_SAMPLE:
        return True
    return item.get_closest_marker("sampled") is not None and m.name not in SAMPLE


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _slow(item):
            item.add_marker(pytest.mark.slow)
