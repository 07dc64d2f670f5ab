"""Analytic gradients of paired values, generated from the measure definitions."""

from __future__ import annotations

from typing import Any

from .calls import _UNSET, MeasureLike, resolve_options
from .dispatch import run


def paired_grad(
    XA: Any,
    XB: Any,
    measure: MeasureLike,
    /,
    *,
    zero: str = _UNSET,
    epsilon: float = _UNSET,
    normalize: bool = _UNSET,
    check_finite: bool = _UNSET,
    backend: str = _UNSET,
    **params: Any,
) -> tuple[Any, Any, Any]:
    r"""Paired values and their analytic gradients with respect to both inputs.

    For a measure ``F(acc_1, ..., acc_K)`` with accumulators ``acc = sum_k T(x_k, y_k)``
    (or max/min), the chain rule gives

    .. math:: \frac{\partial v_i}{\partial XA_{ik}} = \sum_{acc}
              \frac{\partial F}{\partial acc} \,
              \frac{\partial T_{acc}}{\partial x}(XA_{ik}, XB_{ik})

    with the partial derivatives generated from the definition (:mod:`divergences.symbolic`,
    the helpers' zero conventions included). Conventions: a term that vanishes by convention
    (``0 ln 0``) has derivative 0; an infinite true derivative is +-inf (KL's ``d/dQ_k`` at
    ``Q_k = 0 < P_k``); a product of the chain rule with one factor 0 is 0, also when the
    other is infinite (a subgradient, e.g. Euclidean at P = Q gives 0, never NaN); a max/min
    accumulator (Chebyshev) passes its term's derivative at the first coordinate where the
    extreme is reached (ties to the lowest index), a subgradient.

    Parameters
    ----------
    XA, XB : array_like, shape (m, d) or (d,)
        As in :func:`paired`.
    zero, epsilon, check_finite, backend, **params
        As in :func:`divergences.cdist` (``backend`` "numba", "cupy" or "numpy"; "auto"
        takes "numba" for NumPy input, "cupy" for CuPy input (one CUDA block per row, the
        same conventions) and the array-API reference otherwise).
    normalize : bool, default False
        Divide each row by its sum first; the gradients are then with respect to the rows
        as given (the chain rule through the normalisation is applied).

    Returns
    -------
    values : array, shape (m,)
    dXA, dXB : arrays of the inputs' shapes
        float64; on the cupy back end float32 when both inputs are float32 (computed in
        double, rounded once).

    Examples
    --------
    >>> import divergences as dv
    >>> v, gP, gQ = dv.paired_grad([0.5, 0.5], [0.25, 0.75], "kl")
    >>> gQ.round(6).tolist()  # d/dQ_k of sum_k P_k ln(P_k / Q_k) is -P_k / Q_k
    [-2.0, -0.666667]
    >>> gP.round(6).tolist()  # ln(P_k / Q_k) + 1
    [1.693147, 0.594535]
    """
    options = dict(
        zero=zero,
        epsilon=epsilon,
        normalize=normalize,
        check_finite=check_finite,
        backend=backend,
        **params,
    )
    return run("paired_grad", measure, (XA, XB), options)


#: probe rows of the documented gradients at a zero (a zero against a positive entry)
ZERO_PROBES = {
    "Q": ((0.25, 0.75), (0.0, 1.0)),  # d/dQ_0 at Q_0 = 0 < P_0
    "P": ((0.0, 1.0), (0.25, 0.75)),  # d/dP_0 at P_0 = 0 < Q_0
}


def _describe(g: float, value: float) -> str:
    import math

    if not math.isfinite(value):
        return "n/a (the value is infinite there)"
    if math.isnan(g):
        return "NaN"
    if math.isinf(g):
        return "+inf" if g > 0 else "-inf"
    if g == 0:
        return "0"
    return f"finite ({g:.4g} at the probe)"


def zero_gradients(measure: MeasureLike, **params: Any) -> dict[str, str]:
    """The gradient at a zero, as generated from the definition (documented per measure).

    ``{"Q": ..., "P": ...}``: ``d/dQ_i`` where ``Q_i = 0 < P_i`` (probe P = (1/4, 3/4),
    Q = (0, 1), coordinate 0) and ``d/dP_i`` where ``P_i = 0 < Q_i`` (the roles swapped),
    strict zero rules: ``+inf``, ``-inf``, ``0``, ``finite (value at the probe)``, or
    ``n/a`` where the measure itself is infinite at the probe.

    Examples
    --------
    >>> zero_gradients("kl")["P"]
    '-inf'
    """
    import numpy as np

    from .kernels.reference_grad import evaluate_paired_grad

    m, _ = resolve_options(measure, {})
    full = {**m.param_defaults(), **params}
    out = {}
    for side, (P, Q) in ZERO_PROBES.items():
        v, gP, gQ = evaluate_paired_grad(
            m, np.array([P]), np.array([Q]), zero="strict", eps=1e-5, params=full, xp=np
        )
        g = (gQ if side == "Q" else gP)[0, 0]
        out[side] = _describe(float(g), float(v[0]))
    return out
