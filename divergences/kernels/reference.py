"""Array-API evaluation of any measure: the oracle every other back end is checked against.

It runs on NumPy, CuPy, torch and JAX arrays alike (through array-api-compat) and keeps
autodiff working: no in-place writes, no host round trips. On torch and JAX arrays it is
also autograd-safe (the "double where"): the helpers take their autograd-safe forms
(``Helper.array_autograd`` in :mod:`divergences.vocabulary`) and every ``where`` on the data
in a definition computes the branch it does not choose on safe values
(:func:`divergences.expr.guard_wheres`), the values bit for bit those of the plain forms; so
torch autograd or ``jax.grad`` through ``backend="numpy"`` gives the analytic gradients of
:func:`divergences.paired_grad`, zero conventions and +-inf included
(tests/test_reference_autograd.py). NumPy and CuPy evaluation keeps the plain forms.

Autodiff cannot follow the analytic chain rule where that takes a convention of its own:
0 * inf = 0 (an infinite accumulator that ``min`` does not choose; a run-time power at a zero
of its base, ``div0(x, y) ** alpha`` at ``x = 0`` differentiated in ``y``; ``sqrt`` of an
accumulator at 0, Euclidean at P = Q: NaN by autodiff), and the one-sided derivative +1 of
``abs`` of a coordinate at 0 (0 by autodiff). A value that :func:`divergences.edges.clamp`
moves back to its bound (rounding past it, as fidelity at P = Q) has derivative 0 there.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import array_api_compat
import numpy as np

from ..expr import compile_with
from ..spec import Measure
from ..vocabulary import has_autodiff
from .helpers import vocabulary

#: elements of one (rows x n x d) broadcast block
BLOCK_ELEMENTS = 1 << 21

_REDUCERS = {"sum": "sum", "max": "max", "min": "min"}


@functools.cache
def _compiled(measure: Measure, zero: str, xp: Any) -> tuple[Any, Any]:
    rule = measure.rule(zero)
    voc = vocabulary(xp)
    # for autodiff, a where on the data computes the branch it does not choose on safe values
    auto = has_autodiff(xp)
    xy = frozenset({"x", "y"} if auto else ())
    accs = frozenset(rule.accumulators if auto else ())
    terms = {
        name: (acc.reduce, compile_with(acc.term, voc, data=xy))
        for name, acc in rule.accumulators.items()
    }
    return terms, compile_with(rule.finalize, voc, data=accs)


@contextlib.contextmanager
def _quiet(xp: Any) -> Iterator[None]:
    # inf/nan are legitimate results (x/0 = inf); NumPy-backed namespaces must not warn
    with np.errstate(all="ignore"):
        yield


def _array(xp: Any, v: Any, device: Any) -> Any:
    """``v`` as an array: expressions yield arrays, or Python numbers when constant."""
    if isinstance(v, (int, float)):
        return xp.asarray(float(v), dtype=xp.float64, device=device)
    return v


def evaluate_rows(
    measure: Measure,
    XA: Any,
    XB: Any,
    *,
    zero: str,
    eps: float,
    params: dict[str, float],
    xp: Any,
) -> Any:
    """Evaluate ``measure`` for every row of ``XA`` against every row of ``XB``.

    Parameters
    ----------
    measure : Measure
    XA, XB : arrays of shape (m, d) and (n, d), float64, already validated
    zero : {"strict", "epsilon"}
    eps : float
    params : dict
        Measure parameters with defaults filled in.
    xp : array namespace

    Returns
    -------
    array of shape (m, n), float64
    """
    m, d = XA.shape
    n = XB.shape[0]
    if m == 0 or n == 0:
        return xp.zeros((m, n), dtype=xp.float64)
    terms, finalize = _compiled(measure, zero, xp)
    device = array_api_compat.device(XA)
    rows = max(1, BLOCK_ELEMENTS // max(1, n * d))
    B = xp.reshape(XB, (1, n, d))
    blocks = []
    with _quiet(xp):
        for i0 in range(0, m, rows):
            A = xp.reshape(XA[i0 : min(i0 + rows, m), :], (-1, 1, d))
            shape = (A.shape[0], n, d)
            accs = {}
            for name, (reduce, term) in terms.items():
                t = term(x=A, y=B, eps=eps, **params)
                t = xp.broadcast_to(_array(xp, t, device), shape)
                accs[name] = getattr(xp, _REDUCERS[reduce])(t, axis=-1)
            val = finalize(d=float(d), eps=eps, **params, **accs)
            blocks.append(xp.broadcast_to(_array(xp, val, device), shape[:2]))
    return blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=0)


def evaluate_paired(
    measure: Measure,
    XA: Any,
    XB: Any,
    *,
    zero: str,
    eps: float,
    params: dict[str, float],
    xp: Any,
) -> Any:
    """Evaluate ``measure`` for row i of ``XA`` against row i of ``XB``.

    Parameters as in :func:`evaluate_rows`, with ``XA`` and ``XB`` of the same shape (m, d).

    Returns
    -------
    array of shape (m,), float64
    """
    m, d = XA.shape
    if m == 0:
        return xp.zeros((0,), dtype=xp.float64)
    terms, finalize = _compiled(measure, zero, xp)
    device = array_api_compat.device(XA)
    with _quiet(xp):
        accs = {}
        for name, (reduce, term) in terms.items():
            t = xp.broadcast_to(_array(xp, term(x=XA, y=XB, eps=eps, **params), device), (m, d))
            accs[name] = getattr(xp, _REDUCERS[reduce])(t, axis=-1)
        val = finalize(d=float(d), eps=eps, **params, **accs)
        return xp.broadcast_to(_array(xp, val, device), (m,))
