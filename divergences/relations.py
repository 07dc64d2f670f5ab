"""Relations of the registry read as statements about rankings.

A relation ``f(P, Q) = g(h(P, Q))`` with ``g`` strictly monotone says that ``f`` and ``h``
rank every set of pairs the same way (or exactly reversed): their Spearman correlation is
+-1 on any data where the relation holds.  :func:`must_group` collects such measures; the
analysis tests use it instead of a hand-written list.
"""

from __future__ import annotations

import math

import numpy as np

from .registry import get, measures
from .spec import Measure


def must_group() -> list[list[str]]:
    """Sets of measures that are increasing or decreasing functions of one another on pdfs.

    Derived from the registry's relations: a relation ``f(P, Q) = g(h(P, Q))`` whose right
    side calls exactly one other measure ``h`` on ``(P, Q)`` at its default parameters
    (``sqrt(2) * matusita(P, Q)``, ``-log(fidelity(P, Q))``) and whose ``g`` is strictly
    monotone over ``h``'s range on pdfs (checked on a grid) links ``f`` and ``h``; the
    connected components with two or more members are returned. Such measures rank every
    set of pairs identically, so their Spearman correlation is exactly +-1 on any pdf data.
    """
    import re

    links: dict[str, set[str]] = {}
    names = {m.name for m in measures()}
    call = re.compile(r"\b([a-z_0-9]+)\(\s*P\s*,\s*Q\s*(?:,([^()]*))?\)")
    for m in measures():
        for r in m.relations:
            at = getattr(r, "params", None) or {}
            if any(m.param_defaults().get(k) != v for k, v in at.items()):
                continue  # holds at other parameter values than the analysed defaults
            calls = [c for c in call.finditer(r.expr) if c.group(1) in names]
            other = {c.group(1) for c in re.finditer(r"\b([a-z_0-9]+)\(", r.expr)} & names
            if len(calls) != 1 or len(other) != 1 or len(re.findall(r"\bP\b", r.expr)) != 1:
                continue
            c = calls[0]
            h = get(c.group(1))
            if c.group(2) and not _default_kwargs(h, c.group(2)):
                continue
            if _monotone(r.expr.replace(c.group(0), "__t__"), h):
                links.setdefault(m.name, set()).add(h.name)
                links.setdefault(h.name, set()).add(m.name)
    seen: set[str] = set()
    out = []
    for start in links:
        if start in seen:
            continue
        comp, todo = set(), [start]
        while todo:
            v = todo.pop()
            if v not in comp:
                comp.add(v)
                todo.extend(links[v] - comp)
        seen |= comp
        if len(comp) > 1:
            out.append(sorted(comp))
    return sorted(out)


def _default_kwargs(h: Measure, text: str) -> bool:
    defaults = h.param_defaults()
    for part in text.split(","):
        key, _, val = part.partition("=")
        try:
            if defaults.get(key.strip()) != float(val):
                return False
        except ValueError:
            return False
    return True


def _monotone(expr: str, h: Measure) -> bool:
    """Whether ``expr`` (in ``__t__`` and ``d``) is strictly monotone over h's pdf range."""
    from .expr import evaluate_scalar

    for d in (4, 64):
        lo, hi = h.bounds.evaluate(d, h.param_defaults())
        hi = min(hi, lo + 50.0) if math.isinf(hi) else hi
        grid = np.linspace(lo, hi, 201)[1:-1]
        try:
            vals = np.array(
                [
                    evaluate_scalar(expr.replace("__t__", f"({float(t)!r})"), {"d": float(d)})
                    for t in grid
                ]
            )
        except (ValueError, ZeroDivisionError, TypeError, NameError, SyntaxError):
            return False
        step = np.diff(vals)
        if not np.isfinite(vals).all() or not ((step > 0).all() or (step < 0).all()):
            return False
    return True
