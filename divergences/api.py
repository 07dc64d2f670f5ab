"""Public computations: :func:`pair`, :func:`cdist` and :func:`pdist`.

Each is a thin wrapper over the one dispatch path, :func:`divergences.dispatch.run`
(validation in :mod:`divergences.calls`, edge rules in :mod:`divergences.edges`).
"""

from __future__ import annotations

from typing import Any

from .calls import (  # noqa: F401  (the public internal interface, kept importable from here)
    _UNSET,
    BACKENDS,
    METHODS,
    OPTIONS,
    Call,
    CountsWarning,
    MeasureLike,
    prepare,
)
from .dispatch import array_device, compute, run, use_factored  # noqa: F401


def pair(
    P: Any,
    Q: Any,
    measure: MeasureLike,
    /,
    *,
    zero: str = _UNSET,
    epsilon: float = _UNSET,
    normalize: bool = _UNSET,
    check_finite: bool = _UNSET,
    backend: str = _UNSET,
    **params: Any,
) -> Any:
    """The measure's value for one pair of 1-D vectors (see :func:`cdist` for options).

    With ``backend="auto"`` a single pair uses the reference implementation (nothing to
    compile). Returns a Python float for NumPy input and a 0-d array for other array types.
    """
    options = dict(
        zero=zero,
        epsilon=epsilon,
        normalize=normalize,
        check_finite=check_finite,
        backend=backend,
        **params,
    )
    return run("pair", measure, (P, Q), options)


def cdist(
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
    out: Any = None,
    **params: Any,
) -> Any:
    r"""Evaluate ``measure`` for every row of ``XA`` against every row of ``XB``.

    Parameters
    ----------
    XA : array_like, shape (m, d) or (d,)
        Rows are vectors (a 1-D input is one row). NumPy, CuPy or torch arrays, or lists.
    XB : array_like, shape (n, d) or (d,)
    measure : str or Measure
        Canonical name, alias (``"kl"``, ``"scipy:cosine"``, ``"philentropy:jaccard"``)
        or a :class:`~divergences.spec.Measure`.
    zero : {"strict", "epsilon"}, default "strict"
        ``strict``: the mathematical conventions (``0 log 0 = 0``, ``x / 0 = inf``,
        whole-vector ``0 / 0 = nan``). ``epsilon``: philentropy's rules, where
        ``epsilon`` replaces a zero denominator or log argument. A ``philentropy:``
        alias implies ``epsilon``.
    epsilon : float, default 1e-5
        The stand-in for zero of ``zero="epsilon"``.
    normalize : bool, default False
        Divide each row by its sum first (an all-zero row is an error). Nothing is
        ever normalised silently.
    check_finite : bool, default True
        Reject NaN and inf in the inputs.
    backend : {"auto", "numba", "cupy", "numpy"}, default "auto"
        ``numba``: parallel compiled kernels generated from the definition (NumPy input,
        converted to float64 once, up front). ``cupy``: CUDA kernels generated from the
        same definition, on CuPy arrays (float32 or float64 loaded as given, accumulated
        in float64; the result stays on the device). ``numpy``: the array-API reference
        implementation, which also runs CuPy and torch arrays (keeping autograd).
        ``auto`` takes ``numba`` for NumPy arrays, ``cupy`` for CuPy arrays, else ``numpy``.
    method : {"auto", "direct", "factored"}, default "auto"
        For the ``numba`` back end. ``factored``: measures whose terms expand into
        separable monomials c f(P_i) g(Q_i) (cosine, fidelity, KL = sum P log P - P . log Q,
        Pearson, Hellinger, squared Euclidean, ...; detected from the definition) run as
        per-row terms plus matrix products (each pair summed over k in order, so that a
        value never depends on the other rows of the call), with the exact zero rules
        restored by indicator products. Every pair carries a rounding-error bound, and pairs whose
        bound exceeds 2^-40 of the value (near P = Q, where the expansion cancels) are
        recomputed by the direct kernel, so the result keeps the direct kernel's accuracy.
        The Jensen-Shannon family (JS, Topsoe, Jensen difference, K divergence) adds one
        per-pair sum of (a P_i + b Q_i) log(P_i + Q_i): one logarithm per element instead
        of two. An error for measures without such a form (other logs of sums, min/abs of
        differences: Taneja, Manhattan, ...). ``direct``: the generated kernel.
        ``auto``: ``factored`` where available, else ``direct``.
    out : numpy.ndarray, optional
        A C-contiguous float64 array of shape (m, n) to write the result into and return
        (scipy's contract; anything else is an :class:`InputError`, a ``ValueError``).
    **params
        Measure parameters: ``p`` (Minkowski order), ``base`` (log base of log
        measures; e by default).

    Returns
    -------
    array, shape (m, n), float64
        ``D[i, j] = measure(XA[i], XB[j])``; the array type follows the input.
        Similarities stay similarities (larger is closer). ``cdist(X, X, ...)`` with the
        same array object computes half the pairs of a symmetric measure (never of an
        asymmetric one).

    Raises
    ------
    InputError
        Naming the measure, argument and offending row/column.
    UnknownMeasureError
        For an unknown name (with suggestions).

    Examples
    --------
    >>> import numpy as np, divergences as dv
    >>> P = np.array([[0.2, 0.8], [0.5, 0.5]])
    >>> dv.cdist(P, P, "manhattan")
    array([[0. , 0.6],
           [0.6, 0. ]])
    """
    options = dict(
        zero=zero,
        epsilon=epsilon,
        normalize=normalize,
        check_finite=check_finite,
        backend=backend,
        **params,
    )
    return run("cdist", measure, (XA, XB), options, method=method, out=out)


def pdist(
    X: Any,
    measure: MeasureLike,
    /,
    *,
    zero: str = _UNSET,
    epsilon: float = _UNSET,
    normalize: bool = _UNSET,
    check_finite: bool = _UNSET,
    backend: str = _UNSET,
    out: Any = None,
    **params: Any,
) -> Any:
    """Condensed pairwise values of a symmetric measure among the rows of ``X``.

    The layout is scipy's: for ``i < j`` the value ``measure(X[i], X[j])`` sits at
    ``m * i + j - ((i + 2) * (i + 1)) // 2``; ``scipy.spatial.distance.squareform``
    expands it. Options (and ``out``, of shape (m (m - 1) / 2,)) as in :func:`cdist`.

    Raises
    ------
    InputError
        For an asymmetric measure (a condensed vector cannot hold both
        ``f(P, Q)`` and ``f(Q, P)``): use ``cdist(X, X, measure)`` instead.

    Examples
    --------
    >>> import divergences as dv
    >>> dv.pdist([[1, 0], [0, 1], [0.5, 0.5]], "manhattan")
    array([2., 1., 1.])
    """
    options = dict(
        zero=zero,
        epsilon=epsilon,
        normalize=normalize,
        check_finite=check_finite,
        backend=backend,
        **params,
    )
    return run("pdist", measure, (X,), options, out=out)
