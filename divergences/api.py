"""Public computations: validation -> back-end choice -> kernels."""

from __future__ import annotations

from typing import Any, NamedTuple

import array_api_compat
import numpy as np

from . import edges
from .kernels.reference import evaluate_rows
from .registry import AliasedMeasure, resolve
from .spec import Measure
from .validation import InputError, check_array, check_options, namespace

BACKENDS = ("auto", "numpy", "numba", "cupy")
METHODS = ("auto", "direct", "factored")
_UNSET: Any = object()

MeasureLike = str | Measure | AliasedMeasure


def _options(measure: MeasureLike, options: dict[str, Any]) -> tuple[Measure, dict[str, Any]]:
    m, defaults = resolve(measure)
    merged = {**defaults, **{k: v for k, v in options.items() if v is not _UNSET}}
    return m, merged


class Call(NamedTuple):
    """A validated call (see :func:`prepare`): a tuple in this order, so
    ``m, xp, arrays, zero, eps, params, backend = prepare(...)``."""

    measure: Measure
    xp: Any
    arrays: list[Any]
    zero: str
    eps: float
    params: dict[str, float]
    backend: str


def prepare(
    measure: MeasureLike,
    arrays: dict[str, Any],
    options: dict[str, Any],
    ndims: tuple[int, ...],
) -> Call:
    """Validate a call (the public internal interface of every computation: pair, cdist,
    pdist, search, Index, paired): resolve the measure (alias defaults applied), check the
    zero mode, epsilon and parameters, choose the back end, and check every array (named by
    its argument in errors).

    Parameters
    ----------
    measure : str, Measure or AliasedMeasure
    arrays : dict
        Argument name -> array (``{"XA": XA, "XB": XB}``).
    options : dict
        ``zero``, ``epsilon``, ``normalize``, ``check_finite``, ``backend`` and the
        measure's parameters.
    ndims : tuple of int
        Accepted dimensions of the arrays.

    Returns
    -------
    Call
        The measure, the array namespace, the checked 2-D arrays, the zero mode, epsilon,
        the checked parameters (defaults filled in) and the back end.
    """
    m, opts = _options(measure, options)
    m, opts = _limit(m, opts)
    domain = opts.pop("_domain", None)
    zero = opts.pop("zero", "strict")
    epsilon = opts.pop("epsilon", 1e-5)
    normalize = bool(opts.pop("normalize", False))
    check_finite = bool(opts.pop("check_finite", True))
    backend = opts.pop("backend", "auto")
    if backend not in BACKENDS:
        raise InputError(
            f"{m.name}: backend={backend!r} is not available (available: {', '.join(BACKENDS)})"
        )
    zero, eps, params = check_options(m, zero, epsilon, opts)
    xp, raw = namespace(arrays, measure=m.name)
    if not normalize:
        _warn_counts(m, arrays, raw, xp)
    backend = _choose_backend(m, backend, xp, single_pair=ndims == (1,))
    checked = [
        check_array(
            a,
            xp,
            measure=m,
            arg=arg,
            check_finite=check_finite,
            normalize=normalize,
            ndims=ndims,
            keep_float32=backend == "cupy",
            domain=domain,
        )
        for arg, a in zip(arrays, raw, strict=True)
    ]
    d = {arg: c.shape[1] for arg, c in zip(arrays, checked, strict=True)}
    if len(set(d.values())) > 1:
        detail = " but ".join(f"{arg} has {k}" for arg, k in d.items())
        raise InputError(f"{m.name}: feature counts differ: {detail} columns")
    return Call(m, xp, checked, zero, eps, params, backend)


class CountsWarning(UserWarning):
    """Integer counts passed to a measure whose properties hold on probability vectors."""


def _defined_on_pdfs(m: Measure) -> bool:
    """Whether some claim of ``m`` holds on probability vectors only (its registry record)."""
    return any(c.holds == "pdf" for _, c in m.properties.items())


def _warn_counts(m: Measure, arrays: dict[str, Any], raw: list[Any], xp: Any) -> None:
    """Warn (never silently normalise) when integer rows that do not sum to 1 reach a
    measure defined on pdfs: KL of raw counts is not KL of their distributions."""
    if not _defined_on_pdfs(m):
        return
    for arg, a in zip(arrays, raw, strict=True):
        if not (xp.isdtype(a.dtype, "integral") and a.ndim in (1, 2) and a.shape[-1]):
            continue
        if bool(xp.any(xp.sum(a, axis=-1) != 1)):
            import warnings

            warnings.warn(
                f"{m.name}: {arg} holds integer counts whose rows do not sum to 1, but "
                f"{m.name}'s properties hold on probability vectors; pass normalize=True to "
                "divide each row by its sum (nothing is normalised silently)",
                CountsWarning,
                stacklevel=4,
            )
            return


def _limit(m: Measure, opts: dict[str, Any]) -> tuple[Measure, dict[str, Any]]:
    """The measure a parameter's limit names when the caller passes ``inf`` for it
    (``minkowski`` with ``p=inf`` is ``chebyshev``, as in scipy), with that parameter
    dropped; else unchanged."""
    for p in m.params:
        v = opts.get(p.name)
        if p.limit_inf and isinstance(v, (int, float)) and v == float("inf"):
            rest = {k: val for k, val in opts.items() if k != p.name}
            return resolve(p.limit_inf)[0], rest
    return m, opts


def _numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _choose_backend(m: Measure, backend: str, xp: Any, *, single_pair: bool) -> str:
    """``cupy`` for CuPy batches, ``numba`` for NumPy batches, the ``numpy`` reference
    otherwise (and for single pairs, which need no compilation). An explicit ``numba``
    needs NumPy arrays, an explicit ``cupy`` CuPy arrays and a usable device."""
    is_numpy = array_api_compat.is_numpy_namespace(xp)
    if backend == "auto":
        if single_pair:
            return "numpy"
        if array_api_compat.is_cupy_namespace(xp):
            return "cupy"
        return "numba" if is_numpy and _numba_available() else "numpy"
    if backend == "numba":
        if not is_numpy:
            raise InputError(
                f"{m.name}: backend='numba' computes on NumPy arrays; these are "
                f"{xp.__name__} arrays (use backend='auto' or 'numpy')"
            )
        if not _numba_available():
            raise InputError(f"{m.name}: backend='numba' needs numba, which is not installed")
    if backend == "cupy":
        from .kernels import cupy_gpu

        try:
            rt = cupy_gpu.runtime()
        except cupy_gpu.GPUUnavailableError as e:
            raise InputError(f"{m.name}: backend='cupy' cannot run: {e}") from None
        if not rt.owns(xp):
            raise InputError(
                f"{m.name}: backend='cupy' computes on {rt.name} arrays; these are "
                f"{xp.__name__} arrays (move them explicitly, e.g. cupy.asarray)"
            )
    return backend


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
    m, xp, (P, Q), zero, eps, params, backend = prepare(
        measure,
        {"P": P, "Q": Q},
        dict(
            zero=zero,
            epsilon=epsilon,
            normalize=normalize,
            check_finite=check_finite,
            backend=backend,
            **params,
        ),
        ndims=(1,),
    )
    Ps, Qs = edges.scale_inputs(m, [P, Q], xp)
    if backend == "numba":
        from .kernels import numba_cpu

        D = numba_cpu.cdist(m, Ps, Qs, zero=zero, eps=eps, params=params)
    elif backend == "cupy":
        from .kernels import cupy_gpu

        D = cupy_gpu.cdist(m, Ps, Qs, zero=zero, eps=eps, params=params)
    else:
        D = evaluate_rows(m, Ps, Qs, zero=zero, eps=eps, params=params, xp=xp)
    out = edges.clamp(m, D, P, Q, zero=zero, params=params, xp=xp)[0, 0]
    return float(out) if isinstance(out, (np.ndarray, np.generic)) else out


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
    m, xp, (A, B), zero, eps, params, backend = prepare(
        measure,
        {"XA": XA, "XB": XB},
        dict(
            zero=zero,
            epsilon=epsilon,
            normalize=normalize,
            check_finite=check_finite,
            backend=backend,
            **params,
        ),
        ndims=(1, 2),
    )
    # one power-of-two factor for the call where only a common scale leaves the value
    # unchanged (Jaccard, Dice, Kumar-Hassebrook; see divergences.edges)
    SA, SB = edges.scale_inputs(m, [A, B], xp, kinds=("common",))
    D = compute(m, SA, SB, zero, eps, params, backend, method, same_input=XA is XB, xp=xp)
    return _into(out, D, m.name)


def _into(out: Any, D: Any, name: str) -> Any:
    """``D`` written into the caller's ``out`` (scipy's contract: a C-contiguous float64
    NumPy array of D's shape, returned), or ``D`` itself without one."""
    if out is None:
        return D
    if not isinstance(out, np.ndarray) or not isinstance(D, np.ndarray):
        raise InputError(f"{name}: out= takes a NumPy array (for NumPy inputs)")
    if out.dtype != np.float64 or out.shape != D.shape or not out.flags.c_contiguous:
        raise InputError(
            f"{name}: out must be a C-contiguous float64 array of shape {D.shape}; got "
            f"{out.dtype} of shape {out.shape}"
            + ("" if out.flags.c_contiguous else " (not C-contiguous)")
        )
    if not out.flags.writeable:
        raise InputError(f"{name}: out is read-only")
    out[...] = D
    return out


def compute(
    m: Measure,
    A: Any,
    B: Any,
    zero: str,
    eps: float,
    params: dict[str, float],
    backend: str,
    method: str,
    *,
    same_input: bool = False,
    xp: Any = np,
) -> Any:
    """The kernel choice of :func:`cdist`, on inputs and options that :func:`prepare`
    validated (also what :mod:`divergences.search` and :class:`divergences.Index` call
    block by block, so that the choice stays in one place)."""
    if method not in METHODS:
        raise InputError(f"{m.name}: method={method!r} is not one of {METHODS}")
    # rows rescaled one by one (a value never depends on the other rows of the block);
    # clamped to the bounds the mathematics gives (see divergences.edges)
    SA, SB = edges.scale_inputs(m, [A, B], xp, kinds=("rows",))
    D = _kernels(m, xp, SA, SB, zero, eps, params, backend, method, same_input=same_input)
    return edges.clamp(m, D, A, B, zero=zero, params=params, xp=xp)


def _kernels(
    m: Measure,
    xp: Any,
    A: Any,
    B: Any,
    zero: str,
    eps: float,
    params: dict[str, float],
    backend: str,
    method: str,
    *,
    same_input: bool,
) -> Any:
    """The raw values of :func:`cdist` (inputs validated and scaled)."""
    if backend == "numba":
        from .kernels import factored, numba_cpu

        if use_factored(m, zero, method, params):
            return factored.cdist(m, A, B, zero=zero, eps=eps, params=params)
        return numba_cpu.cdist(m, A, B, zero=zero, eps=eps, params=params, same_input=same_input)
    if backend == "cupy":
        from .kernels import cupy_gpu

        if method == "factored":
            raise InputError(
                f"{m.name}: method='factored' is not available on the cupy back end "
                "(every measure runs the generated tiled kernel there); use 'auto' or 'direct'"
            )
        return cupy_gpu.cdist(m, A, B, zero=zero, eps=eps, params=params, same_input=same_input)
    return evaluate_rows(m, A, B, zero=zero, eps=eps, params=params, xp=xp)


def use_factored(
    m: Measure, zero: str, method: str, params: dict[str, float] | None = None
) -> bool:
    """Whether the ``numba`` back end runs ``m`` through its factored form at the parameter
    values ``params`` (``method`` "auto" or "factored"); an error for "factored" where there
    is none."""
    from .kernels import factored

    can_factor = factored.factorable(m, zero, params)
    if method == "factored" and not can_factor:
        raise InputError(
            f"{m.name}: method='factored' needs every term to expand into separable "
            "products f(P_i) g(Q_i); use method='direct' or 'auto'"
        )
    return can_factor and method != "direct"


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
    m, xp, (A,), zero, eps, params, backend = prepare(
        measure,
        {"X": X},
        dict(
            zero=zero,
            epsilon=epsilon,
            normalize=normalize,
            check_finite=check_finite,
            backend=backend,
            **params,
        ),
        ndims=(2,),
    )
    if not m.is_symmetric(zero, params):
        mode = f" (with zero={zero!r})" if m.symmetric else ""
        if m.params and not m.symmetric and m.properties.symmetric.condition:
            mode = f" at {', '.join(f'{k}={v:g}' for k, v in params.items())}"
        raise InputError(
            f"{m.name} is not symmetric{mode}, so a condensed matrix would lose half of it; "
            f"use cdist(X, X, {m.name!r}) for the full matrix"
        )
    (S,) = edges.scale_inputs(m, [A], xp)
    D = _pdist(m, xp, A, S, zero, eps, params, backend)
    return _into(out, D, m.name)


def _pdist(
    m: Measure,
    xp: Any,
    A: Any,
    S: Any,
    zero: str,
    eps: float,
    params: dict[str, float],
    backend: str,
) -> Any:
    """The condensed values of :func:`pdist` (``S``: ``A`` rescaled), clamped."""
    if backend == "numba":
        from .kernels import numba_cpu

        D = numba_cpu.pdist(m, S, zero=zero, eps=eps, params=params)
    elif backend == "cupy":
        from .kernels import cupy_gpu

        D = cupy_gpu.pdist(m, S, zero=zero, eps=eps, params=params)
    else:
        n = S.shape[0]
        full = evaluate_rows(m, S, S, zero=zero, eps=eps, params=params, xp=xp)
        iu = np.flatnonzero(np.triu(np.ones((n, n), dtype=bool), k=1))
        flat = xp.reshape(full, (-1,))
        D = xp.take(flat, xp.asarray(iu, device=array_device(full)), axis=0)
    return edges.clamp(m, D, A, A, zero=zero, params=params, xp=xp, condensed=True)


def array_device(a: Any) -> Any:
    """The device of array ``a`` (array-API)."""
    return array_api_compat.device(a)
