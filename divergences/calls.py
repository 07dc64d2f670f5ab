"""Validated calls: the checks every public computation runs once, before any kernel.

:func:`prepare` resolves the measure (alias defaults applied, a parameter's ``inf`` limit
taken), checks the zero mode, epsilon and parameters, chooses the back end and checks every
array (named by its argument in errors) into a :class:`Call`.  :mod:`divergences.dispatch`
runs every operation (pair, cdist, pdist, paired, paired_grad) on such a call;
:mod:`divergences.search` and :class:`divergences.Index` use :func:`prepare` for the inputs
they validate block by block.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, NamedTuple

import array_api_compat

from .registry import AliasedMeasure, resolve
from .spec import Measure
from .validation import InputError, check_array, check_options, namespace

BACKENDS = ("auto", "numpy", "numba", "cupy")
METHODS = ("auto", "direct", "factored")
#: the options every public computation takes (``pair``, ``cdist``, ``pdist``, ``paired``,
#: ``paired_grad``, ``knn``, ``Index``), besides the measure's parameters; :func:`prepare`
#: reads them all, so an option added here reaches every operation
OPTIONS = ("zero", "epsilon", "normalize", "check_finite", "backend")
_UNSET: Any = object()

MeasureLike = str | Measure | AliasedMeasure


def resolve_options(
    measure: MeasureLike, options: dict[str, Any]
) -> tuple[Measure, dict[str, Any]]:
    """The measure and the options of a call, its alias's defaults under the ones given
    (options left unset by the caller dropped)."""
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
    *,
    defer_normalize: bool = False,
) -> Call:
    """Validate a call (the public internal interface of every computation: pair, cdist,
    pdist, paired, paired_grad, search, Index): resolve the measure (alias defaults
    applied), check the zero mode, epsilon and parameters, choose the back end, and check
    every array (named by its argument in errors).

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
    defer_normalize : bool
        Check the rows but leave ``normalize=True``'s division to the caller
        (:func:`~divergences.validation.normalize_rows`), which needs the rows as given
        (the chain rule of ``paired_grad``).

    Returns
    -------
    Call
        The measure, the array namespace, the checked 2-D arrays, the zero mode, epsilon,
        the checked parameters (defaults filled in) and the back end.
    """
    m, opts = resolve_options(measure, options)
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
            normalize=normalize and not defer_normalize,
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
            warnings.warn(
                f"{m.name}: {arg} holds integer counts whose rows do not sum to 1, but "
                f"{m.name}'s properties hold on probability vectors; pass normalize=True to "
                "divide each row by its sum (nothing is normalised silently)",
                CountsWarning,
                stacklevel=_caller_level(),
            )
            return


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside this package (the user's call, however
    deep the package's own calls are), for a warning issued by this module's caller."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


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


