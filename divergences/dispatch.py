"""The one dispatch path of every public computation.

``pair``, ``cdist``, ``pdist``, ``paired`` and ``paired_grad`` are thin wrappers over
:func:`run`, which

1. validates the call once (:func:`~divergences.calls.prepare`: the measure and its alias
   defaults, the zero mode, epsilon and parameters, the back end, every array);
2. checks the operation's ``method``;
3. applies the edge rules of :mod:`divergences.edges` once (rows rescaled by powers of two
   against under/overflow, values clamped to the bounds the mathematics gives);
4. runs the operation's kernel on the chosen back end;
5. writes the result into ``out=`` where given (scipy's contract).

An operation is one entry of :data:`OPERATIONS` (its arguments, accepted dimensions, methods
and kernel); a back end is one branch of each kernel below. :func:`compute` (the kernel
choice of a block of ``cdist``) is what :mod:`divergences.search` and
:class:`divergences.Index` call block by block, so that the choice stays in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from . import edges
from .calls import METHODS, Call, MeasureLike, prepare, resolve_options
from .kernels.reference import evaluate_paired, evaluate_rows
from .spec import Measure
from .validation import InputError, normalize_rows


@dataclass(frozen=True)
class Request:
    """What a kernel needs beyond the validated call."""

    method: str
    same_input: bool  # both operands are one object (cdist(X, X): half the pairs)
    normalize: bool  # paired_grad: rows to normalise after validation (chain rule)
    ndim: int  # dimensions of the first input as given (1-D gradients keep their shape)


@dataclass(frozen=True)
class Operation:
    """One kind of computation.

    Attributes
    ----------
    args : tuple of str
        The arrays' argument names (named in errors).
    ndims : tuple of int
        Accepted dimensions of every array (a 1-D input is one row).
    kernel : callable
        ``kernel(call, request)``: the result, with the edge rules applied.
    methods : tuple of str
        Accepted values of ``method``.
    paired : bool
        Row i of one input against row i of the other: both inputs of one shape.
    """

    args: tuple[str, ...]
    ndims: tuple[int, ...]
    kernel: Callable[[Call, Request], Any]
    methods: tuple[str, ...] = METHODS
    paired: bool = False


def run(
    op: str,
    measure: MeasureLike,
    arrays: Sequence[Any],
    options: dict[str, Any],
    *,
    method: str = "auto",
    out: Any = None,
) -> Any:
    """Run operation ``op`` (a key of :data:`OPERATIONS`) of ``measure`` on ``arrays``.

    Parameters
    ----------
    op : {"pair", "cdist", "pdist", "paired", "paired_grad"}
    measure : str, Measure or AliasedMeasure
    arrays : sequence of arrays
        The operation's inputs, in the order of its ``args``.
    options : dict
        The options of :data:`~divergences.calls.OPTIONS` (unset ones omitted or
        ``_UNSET``) and the measure's parameters.
    method : str
        One of the operation's ``methods``.
    out : numpy.ndarray, optional
        Written with the result and returned (a C-contiguous float64 array of its shape).

    Returns
    -------
    The operation's result (see the public function).
    """
    o = OPERATIONS[op]
    named = dict(zip(o.args, arrays, strict=True))
    if o.paired:
        _same_shape(measure, named)
    # paired_grad normalises after validation: the chain rule needs the rows as given
    defer = o.kernel is _paired_grad
    normalize = defer and bool(resolve_options(measure, options)[1].get("normalize", False))
    call = prepare(measure, named, options, o.ndims, defer_normalize=defer)
    check_method(call.measure, method, o.methods, paired=o.paired)
    same = len(arrays) == 2 and arrays[0] is arrays[1]
    result = o.kernel(call, Request(method, same, normalize, len(_shape(arrays[0]))))
    return _into(out, result, call.measure.name)


def check_method(
    m: Measure, method: str, methods: tuple[str, ...] = METHODS, *, paired: bool = False
) -> None:
    """An error naming the measure for a ``method`` the operation does not take."""
    if method not in methods:
        extra = " (paired values have no factored form)" if paired and method == "factored" else ""
        raise InputError(f"{m.name}: method={method!r} is not one of {methods}{extra}")


def _shape(a: Any) -> tuple[int, ...]:
    shape = getattr(a, "shape", None)
    return tuple(shape) if shape is not None else np.shape(a)


def _same_shape(measure: MeasureLike, named: dict[str, Any]) -> None:
    shapes = {arg: _shape(a) for arg, a in named.items()}
    if len(set(shapes.values())) > 1:
        m, _ = resolve_options(measure, {})
        detail = " and ".join(f"{arg} {s}" for arg, s in shapes.items())
        raise InputError(f"{m.name}: paired inputs must have the same shape, got {detail}")


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


# -- pairwise (pair, cdist, and the blocks of knn / Index) ------------------------------------
def _pair(call: Call, req: Request) -> Any:
    m, xp, (P, Q), zero, eps, params, backend = call
    D = compute(m, P, Q, zero, eps, params, backend, "direct", xp=xp, scale=("rows", "common"))
    out = D[0, 0]
    return float(out) if isinstance(out, (np.ndarray, np.generic)) else out


def _cdist(call: Call, req: Request) -> Any:
    m, xp, (A, B), zero, eps, params, backend = call
    # common scaling: one power-of-two factor for the call where only a common scale leaves
    # the value unchanged (Jaccard, Dice, Kumar-Hassebrook; see divergences.edges)
    return compute(
        m, A, B, zero, eps, params, backend, req.method,
        same_input=req.same_input, xp=xp, scale=("rows", "common"),
    )  # fmt: skip


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
    scale: tuple[str, ...] = ("rows",),
) -> Any:
    """Rows of ``A`` against rows of ``B`` (validated by :func:`~divergences.calls.prepare`):
    inputs rescaled (``scale``: the kinds of :func:`divergences.edges.scale_inputs`; the
    default rescales each row alone, so that a value never depends on the other rows of a
    block), the kernel that ``backend`` and ``method`` choose, values clamped to the bounds."""
    check_method(m, method)
    SA, SB = edges.scale_inputs(m, [A, B], xp, kinds=scale)
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
    """The raw values of :func:`compute` (inputs validated and scaled)."""
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


# -- condensed (pdist) -------------------------------------------------------------------------
def _pdist(call: Call, req: Request) -> Any:
    m, xp, (A,), zero, eps, params, backend = call
    if not m.is_symmetric(zero, params):
        mode = f" (with zero={zero!r})" if m.symmetric else ""
        if m.params and not m.symmetric and m.properties.symmetric.condition:
            mode = f" at {', '.join(f'{k}={v:g}' for k, v in params.items())}"
        raise InputError(
            f"{m.name} is not symmetric{mode}, so a condensed matrix would lose half of it; "
            f"use cdist(X, X, {m.name!r}) for the full matrix"
        )
    (S,) = edges.scale_inputs(m, [A], xp)
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


# -- row-wise (paired, paired_grad) -----------------------------------------------------------
def _paired(call: Call, req: Request) -> Any:
    m, xp, (A, B), zero, eps, params, backend = call
    SA, SB, _, _ = edges.scale_pairs(m, A, B, xp)
    if backend == "numba":
        from .kernels import paired_numba

        v = paired_numba.paired(m, SA, SB, zero=zero, eps=eps, params=params)
    elif backend == "cupy":
        from .kernels import cupy_gpu

        v = cupy_gpu.paired(m, SA, SB, zero=zero, eps=eps, params=params)
    else:
        v = evaluate_paired(m, SA, SB, zero=zero, eps=eps, params=params, xp=xp)
    return edges.clamp(m, v, A, B, zero=zero, params=params, xp=xp, paired=True)


def _unnormalize_grad(xp: Any, raw: Any, G: Any) -> Any:
    """Chain rule through X / sum(X): dL/dX_j = (G_j - sum_k G_k X_k / s) / s per row."""
    s = xp.sum(raw, axis=1, keepdims=True)
    return (G - xp.sum(G * (raw / s), axis=1, keepdims=True)) / s


def _paired_grad(call: Call, req: Request) -> tuple[Any, Any, Any]:
    m, xp, (rawA, rawB), zero, eps, params, backend = call
    A, B = rawA, rawB
    if req.normalize:
        A = normalize_rows(rawA, xp, name=m.name, arg="XA")
        B = normalize_rows(rawB, xp, name=m.name, arg="XB")
    # the value is unchanged by the rescaling, so d/dA = (scale) * d/d(scaled A)
    SA, SB, fA, fB = edges.scale_pairs(m, A, B, xp)
    if backend == "numba":
        from .kernels import paired_grad_numba

        value, GA, GB = paired_grad_numba.paired_grad(m, SA, SB, zero=zero, eps=eps, params=params)
    elif backend == "cupy":
        from .kernels import cupy_gpu

        value, GA, GB = cupy_gpu.paired_grad(m, SA, SB, zero=zero, eps=eps, params=params)
    else:
        from .kernels.reference_grad import evaluate_paired_grad

        value, GA, GB = evaluate_paired_grad(m, SA, SB, zero=zero, eps=eps, params=params, xp=xp)
    dtypes = (GA.dtype, GB.dtype)
    GA = GA if fA is None else GA * fA
    GB = GB if fB is None else GB * fB
    value = edges.clamp(m, value, A, B, zero=zero, params=params, xp=xp, paired=True)
    if req.normalize:
        GA, GB = _unnormalize_grad(xp, rawA, GA), _unnormalize_grad(xp, rawB, GB)
    if backend == "cupy":  # float32 rows keep float32 gradients (the factors are float64)
        GA, GB = GA.astype(dtypes[0], copy=False), GB.astype(dtypes[1], copy=False)
    if req.ndim == 1:
        GA, GB = xp.reshape(GA, (-1,)), xp.reshape(GB, (-1,))
    return value, GA, GB


#: every operation of the one dispatch path (:func:`run`)
OPERATIONS: dict[str, Operation] = {
    "pair": Operation(("P", "Q"), (1,), _pair, methods=("auto",)),
    "cdist": Operation(("XA", "XB"), (1, 2), _cdist),
    "pdist": Operation(("X",), (2,), _pdist, methods=("auto",)),
    "paired": Operation(("XA", "XB"), (1, 2), _paired, ("auto", "direct"), paired=True),
    "paired_grad": Operation(("XA", "XB"), (1, 2), _paired_grad, ("auto",), paired=True),
}
