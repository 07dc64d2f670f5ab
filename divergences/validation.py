"""The one input-checking entry point of every public computation.

Errors name the measure, the argument and the offending row/column.  Inputs
are never modified: everything returned is a new float64 array.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import array_api_compat
import numpy as np

from .spec import Measure


class InputError(ValueError):
    """Bad input to a measure: the message names the measure, argument and row/column."""


class UnknownParameterError(InputError, TypeError):
    """A keyword the measure does not take (``p=`` to cosine, scipy's ``V=``): also a
    ``TypeError``, as Python (and scipy) raise for an unexpected keyword argument."""


ZERO_MODES = ("strict", "epsilon")


def namespace(arrays: dict[str, Any], *, measure: str) -> tuple[Any, list[Any]]:
    """Array namespace of the named inputs; non-arrays (lists, tuples) become NumPy arrays."""
    out = []
    for arg, a in arrays.items():
        a = _plain(a, measure, arg)
        out.append(a if array_api_compat.is_array_api_obj(a) else _as_numpy(a, measure, arg))
    try:
        xp = array_api_compat.array_namespace(*out)
    except TypeError:
        kinds = ", ".join(
            f"{arg} is {type(a).__module__.split('.')[0]}.{type(a).__name__}"
            for arg, a in zip(arrays, out, strict=True)
        )
        raise InputError(
            f"{measure}: inputs are arrays of different libraries ({kinds}); pass all of "
            "one kind (convert explicitly, nothing is copied between devices behind your back)"
        ) from None
    return xp, out


def _library(a: Any) -> str:
    return type(a).__module__.split(".")[0]


def _is_masked(a: Any) -> bool:
    """Whether ``a`` is a numpy.ma.MaskedArray, read from its class, so that the first call
    does not import numpy.ma (tens of milliseconds) and a thread that asks while another is
    importing it never meets the half-made module."""
    return any(
        c.__name__ == "MaskedArray" and c.__module__.startswith("numpy.ma") for c in type(a).__mro__
    )


def _plain(a: Any, measure: str, arg: str) -> Any:
    """``a`` where it can be read as it is; pandas objects as float64 arrays; inputs whose
    meaning would be lost (masks, sparsity, one-shot iterators) refused, saying what to do."""
    if _is_masked(a):
        mask = np.ma.getmaskarray(a)
        if mask.any():
            i = tuple(int(k) for k in np.argwhere(mask)[0])
            raise InputError(
                f"{measure}: {arg} is a masked array with {int(mask.sum())} masked entry(ies) "
                f"(the first at {_where_text(arg, i, a.ndim)}); measures do not skip entries: "
                f"fill them ({arg}.filled(0.0)) or drop those rows (numpy.ma.compress_rows)"
            )
        return np.asarray(a.data)
    if _library(a) == "scipy" and hasattr(a, "toarray") and hasattr(a, "nnz"):
        shape = tuple(getattr(a, "shape", ()))
        raise InputError(
            f"{measure}: {arg} is a scipy.sparse {type(a).__name__} of shape {shape}; "
            f"divergences computes on dense rows: pass {arg}.toarray() "
            f"(a dense float64 copy of {_bytes(math.prod(shape) * 8)})"
        )
    if _library(a) == "pandas" and hasattr(a, "to_numpy") and hasattr(a, "isna"):
        missing = np.asarray(a.isna())
        if missing.any():
            i = tuple(int(k) for k in np.argwhere(missing)[0])
            raise InputError(
                f"{measure}: {arg} (a pandas {type(a).__name__}) has {int(missing.sum())} "
                f"missing value(s) (NA), the first at {_where_text(arg, i, missing.ndim)}: "
                "drop or fill them first (.dropna(), .fillna(0))"
            )
        try:
            return a.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise InputError(
                f"{measure}: {arg} (a pandas {type(a).__name__}) has non-numeric columns: "
                f"{_one_line(e)}"
            ) from None
    if isinstance(a, Iterator):
        raise InputError(
            f"{measure}: {arg} is a {type(a).__name__}, read once and without a shape; "
            f"pass a list or an array (numpy.array(list({arg})))"
        )
    return a


def _bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} TiB"


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def _as_numpy(a: Any, measure: str, arg: str) -> np.ndarray:
    try:
        out = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise InputError(f"{measure}: cannot read {arg} as a numeric array: {e}") from None
    if out.dtype == object and out.ndim:
        flat = out.reshape(-1)
        for k, v in enumerate(flat):
            if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool):
                i = np.unravel_index(k, out.shape)
                raise InputError(
                    f"{measure}: {_where_text(arg, tuple(int(j) for j in i), out.ndim)} is "
                    f"{v!r} (a {type(v).__name__}), not a real number"
                )
        return out.astype(np.float64)
    return out


def _first(xp: Any, mask: Any) -> tuple[int, ...]:
    idx = xp.nonzero(mask)
    return tuple(int(i[0]) for i in idx)


def _where_text(arg: str, index: tuple[int, ...], ndim: int) -> str:
    if ndim == 1:
        return f"{arg}[{index[-1]}]"
    return f"{arg} row {index[0]}, column {index[1]}"


def check_array(
    X: Any,
    xp: Any,
    *,
    measure: Measure,
    arg: str,
    check_finite: bool,
    normalize: bool,
    ndims: tuple[int, ...] = (1, 2),
    keep_float32: bool = False,
    domain: str | None = None,
) -> Any:
    """Validate one input and return it as a 2-D float64 array (or float32, see below).

    Parameters
    ----------
    X : array
    xp : array namespace of ``X``
    measure : Measure
        Named in every error; its ``domain`` decides whether negatives are allowed.
    arg : str
        The argument's name for error messages (``XA``, ``XB``, ``p``...).
    check_finite : bool
        Reject NaN and inf.
    normalize : bool
        Divide each row by its sum (an all-zero row is an error).
    ndims : tuple of int
        Accepted numbers of dimensions; a 1-D input is one row.
    keep_float32 : bool
        Return float32 input as float32 (for kernels that load float32 and accumulate in
        float64); ``normalize`` still converts to float64 first.
    domain : {"real", "nonnegative"}, optional
        The inputs accepted, where a namespaced alias widens the measure's domain.

    Returns
    -------
    array, 2-D, float64 (or float32)
        Not necessarily a copy: callers never write into it.
    """
    name = measure.name
    dtype = X.dtype
    if xp.isdtype(dtype, "complex floating"):
        raise InputError(f"{name}: {arg} has complex dtype {dtype}; real numbers are required")
    if not (xp.isdtype(dtype, "numeric") or xp.isdtype(dtype, "bool")):
        raise InputError(f"{name}: {arg} has non-numeric dtype {dtype}")
    if X.ndim not in ndims:
        want = " or ".join(f"{k}-D" for k in ndims)
        raise InputError(
            f"{name}: {arg} must be {want} (rows are vectors), got a {X.ndim}-D array "
            f"of shape {tuple(X.shape)}"
        )
    ndim = X.ndim
    X2 = xp.reshape(X, (1, -1)) if ndim == 1 else X
    if X2.shape[1] == 0:
        raise InputError(f"{name}: {arg} has no features (d = 0)")
    if not (keep_float32 and dtype == xp.float32 and not normalize):
        X2 = xp.astype(X2, xp.float64, copy=False)
    if check_finite and X2.shape[0]:
        bad = ~xp.isfinite(X2)
        if bool(xp.any(bad)):
            i = _first(xp, bad)
            v = float(X2[i])
            raise InputError(
                f"{name}: {_where_text(arg, i, ndim)} is {v}; inputs must be finite "
                "(pass check_finite=False to skip this check)"
            )
    if (domain or measure.domain) == "nonnegative" and X2.shape[0]:
        neg = X2 < 0
        if bool(xp.any(neg)):
            i = _first(xp, neg)
            raise InputError(
                f"{name}: {_where_text(arg, i, ndim)} is {float(X2[i])}, but this measure "
                "is defined for non-negative inputs only"
            )
    return normalize_rows(X2, xp, name=name, arg=arg) if normalize else X2


def normalize_rows(X: Any, xp: Any, *, name: str, arg: str) -> Any:
    """Each row of the validated 2-D ``X`` divided by its sum (``normalize=True``); a row
    that sums to 0 is an error naming the measure, the argument and the row."""
    if not X.shape[0]:
        return X
    s = xp.sum(X, axis=1, keepdims=True)
    zero = s[:, 0] == 0
    if bool(xp.any(zero)):
        r = _first(xp, zero)[0]
        raise InputError(
            f"{name}: {arg} row {r} sums to 0 and cannot be normalized (normalize=True)"
        )
    return X / s


def check_options(
    measure: Measure, zero: str, epsilon: float, params: dict[str, Any]
) -> tuple[str, float, dict[str, float]]:
    """Validate the zero mode, epsilon and measure parameters; fill in defaults."""
    if zero not in ZERO_MODES:
        raise InputError(f"{measure.name}: zero={zero!r} is not one of {ZERO_MODES}")
    try:
        eps = float(epsilon)
    except (TypeError, ValueError):
        raise InputError(f"{measure.name}: epsilon={epsilon!r} is not a number") from None
    if not (math.isfinite(eps) and eps > 0):
        raise InputError(f"{measure.name}: epsilon must be finite and > 0, got {epsilon!r}")
    known = {p.name: p for p in measure.params}
    unknown = sorted(set(params) - set(known))
    if unknown:
        accepted = ", ".join(known) or "none"
        raise UnknownParameterError(
            f"{measure.name}: unknown parameter(s) {', '.join(unknown)} "
            f"(this measure's parameters: {accepted})"
        )
    try:
        values = {k: p.check(params.get(k, p.default), measure.name) for k, p in known.items()}
    except ValueError as e:
        raise InputError(str(e)) from None
    return zero, eps, values
