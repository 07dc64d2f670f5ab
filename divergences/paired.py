"""Row-wise computations: row i of one matrix against row i of the other (losses)."""

from __future__ import annotations

from typing import Any

from .calls import _UNSET, MeasureLike
from .dispatch import run


def paired(
    XA: Any,
    XB: Any,
    measure: MeasureLike,
    /,
    *,
    method: str = "auto",
    zero: str = _UNSET,
    epsilon: float = _UNSET,
    normalize: bool = _UNSET,
    check_finite: bool = _UNSET,
    backend: str = _UNSET,
    **params: Any,
) -> Any:
    r"""Evaluate ``measure`` for row i of ``XA`` against row i of ``XB``: the batch of a loss.

    .. math:: v_i = f(XA_i, XB_i), \quad i = 0, \dots, m - 1

    Parameters
    ----------
    XA, XB : array_like, shape (m, d) or (d,)
        The same shape (a 1-D input is one row). NumPy, CuPy or torch arrays, or lists.
    measure : str or Measure
        Canonical name or alias (see :func:`divergences.cdist`).
    method : {"auto", "direct"}, default "auto"
        Paired values always run the generated direct kernel (a factored form saves work
        only across pairs of rows); ``"factored"`` is an error.
    zero, epsilon, normalize, check_finite, backend, **params
        As in :func:`divergences.cdist`. ``backend="numba"`` (NumPy's default) runs a
        kernel parallel over rows and vectorised along the coordinates, ``"cupy"`` one
        CUDA block per row, ``"numpy"`` the array-API reference (also for torch input,
        keeping autograd).

    Returns
    -------
    array, shape (m,), float64
        ``v[i] = measure(XA[i], XB[i])``, equal to the diagonal of ``cdist(XA, XB)`` (up to
        the order of the sums); the array type follows the input.

    Raises
    ------
    InputError
        Shapes that differ (both are named), and every error of :func:`divergences.cdist`.

    Examples
    --------
    >>> import numpy as np, divergences as dv
    >>> P = np.array([[0.2, 0.8], [0.5, 0.5]])
    >>> Q = np.array([[0.5, 0.5], [0.5, 0.5]])
    >>> dv.paired(P, Q, "manhattan")
    array([0.6, 0. ])
    """
    options = dict(
        zero=zero,
        epsilon=epsilon,
        normalize=normalize,
        check_finite=check_finite,
        backend=backend,
        **params,
    )
    return run("paired", measure, (XA, XB), options, method=method)
