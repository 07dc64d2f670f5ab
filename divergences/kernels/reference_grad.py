"""Array-API values and analytic gradients of paired rows: the oracle of the gradient kernels.

The same chain rule as :mod:`divergences.kernels.paired_grad_numba`, on whole (m, d) arrays:
``dXA = sum_acc mul0(g_acc, d term_acc / dx (XA, XB))`` with ``g_acc = d finalize / d acc``
per row; a ``max``/``min`` accumulator contributes at the first index of its extreme only
(ties to the lowest index). ``mul0`` is 0 where either factor is 0.
"""

from __future__ import annotations

import functools
from typing import Any

import array_api_compat
import numpy as np

from ..expr import compile_with
from ..spec import Measure
from .helpers import vocabulary
from .reference import _array, _quiet


@functools.cache
def _compiled(measure: Measure, zero: str, xp: Any) -> tuple[dict[str, Any], Any]:
    from ..symbolic import derivative

    rule = measure.rule(zero)
    voc = vocabulary(xp)
    accs = {
        name: (
            acc.reduce,
            compile_with(acc.term, voc),
            compile_with(derivative(acc.term, "x"), voc),
            compile_with(derivative(acc.term, "y"), voc),
            compile_with(derivative(rule.finalize, name), voc),
        )
        for name, acc in rule.accumulators.items()
    }
    return accs, compile_with(rule.finalize, voc)


def _mul0(xp: Any, g: Any, t: Any) -> Any:
    return xp.where((g == 0) | (t == 0), 0.0, g * t)


def evaluate_paired_grad(
    measure: Measure,
    XA: Any,
    XB: Any,
    *,
    zero: str,
    eps: float,
    params: dict[str, float],
    xp: Any,
) -> tuple[Any, Any, Any]:
    """Values (m,) and gradients (m, d) with respect to ``XA`` and ``XB`` (float64)."""
    m, d = XA.shape
    accs, finalize = _compiled(measure, zero, xp)
    device = array_api_compat.device(XA)
    names = {"eps": eps, **params}
    with _quiet(xp):
        values, where_ = {}, {}
        for name, (reduce, term, _, _, _) in accs.items():
            t = xp.broadcast_to(_array(xp, term(x=XA, y=XB, **names), device), (m, d))
            values[name] = getattr(xp, reduce)(t, axis=-1)
            if reduce != "sum":
                pick = xp.argmax if reduce == "max" else xp.argmin
                first = xp.reshape(pick(t, axis=-1), (m, 1))
                where_[name] = xp.reshape(xp.arange(d, device=device), (1, d)) == first
        final = dict(d=float(d), **names, **values)
        # NumPy scalars for the constants: a derivative that depends on the parameters only
        # is evaluated eagerly on both branches of its where (x / 0 must give inf, not raise)
        final = {k: np.float64(v) if isinstance(v, float) else v for k, v in final.items()}
        value = xp.broadcast_to(_array(xp, finalize(**final), device), (m,))
        GA = xp.zeros((m, d), dtype=xp.float64, device=device)
        GB = xp.zeros((m, d), dtype=xp.float64, device=device)
        for name, (_, _, dx, dy, dfin) in accs.items():
            g = xp.reshape(xp.broadcast_to(_array(xp, dfin(**final), device), (m,)), (m, 1))
            for G, dt in ((0, dx), (1, dy)):
                t = xp.broadcast_to(_array(xp, dt(x=XA, y=XB, **names), device), (m, d))
                c = _mul0(xp, g, t)
                if name in where_:
                    c = xp.where(where_[name], c, 0.0)
                if G == 0:
                    GA = GA + c
                else:
                    GB = GB + c
    return value, GA, GB
