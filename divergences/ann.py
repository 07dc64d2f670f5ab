"""Scalar Numba metrics for approximate nearest-neighbour libraries (pynndescent, UMAP).

:func:`numba_metric` returns a jitted ``f(x, y) -> float`` made from the measure's generated
scalar kernel (the ``pair`` function of :mod:`divergences.kernels.numba_cpu`, written from
the definition in either zero mode), with the parameters and ``epsilon`` bound as
constants. ``pynndescent.NNDescent(metric=f)`` and ``umap.UMAP(metric=f)`` call it from
their own compiled code.

Nearest means smallest for these libraries: a similarity ``s`` is returned as
``s_max - s`` (:func:`dissimilarity_offset`), the map the neighbours graph of
:mod:`divergences.sklearn` uses.
"""

from __future__ import annotations

import math
from typing import Any

from .registry import resolve
from .spec import Measure
from .validation import InputError, check_options

__all__ = ["dissimilarity_offset", "numba_metric"]


def dissimilarity_offset(measure: str | Measure, d: int, **params: float) -> float | None:
    """The ``s_max`` of the map ``s -> s_max - s`` that turns a similarity into a
    dissimilarity (for a neighbours graph or an index); ``None`` for a dissimilarity.

    ``s_max`` is the measure's upper bound on probability vectors of dimension ``d``
    (``bounds.high``): the map is decreasing, so neighbours and their order are kept, and
    the values are >= 0 on probability vectors.

    Raises
    ------
    InputError
        For a similarity whose upper bound is infinite (no such map keeps values >= 0).

    Examples
    --------
    >>> from divergences.ann import dissimilarity_offset
    >>> dissimilarity_offset("cosine", 3), dissimilarity_offset("hellinger", 3)
    (1.0, None)
    """
    m = resolve(measure)[0]
    if m.kind == "dissimilarity":
        return None
    full = {**m.param_defaults(), **params}
    high = m.bounds.evaluate(d, full)[1]
    if not math.isfinite(high):
        raise InputError(
            f"{m.name}: a similarity without a finite upper bound cannot be turned into a "
            "non-negative dissimilarity; use a bounded measure"
        )
    return float(high)


def numba_metric(
    measure: str | Measure, /, *, zero: str = "strict", epsilon: float = 1e-5, **params: Any
) -> Any:
    """A jitted scalar ``f(x, y) -> float`` of ``measure``, for pynndescent and UMAP.

    Parameters
    ----------
    measure : str or Measure
        Any measure of the catalog (a namespaced alias brings its defaults, e.g.
        ``philentropy:`` the epsilon rule).
    zero : {"strict", "epsilon"}, default "strict"
    epsilon : float, default 1e-5
    **params
        Measure parameters (``p``, ``base``), bound into the function as constants.

    Returns
    -------
    numba.core.registry.CPUDispatcher
        ``f(x, y)`` on two 1-D float arrays (float32 or float64; accumulated in float64),
        equal to ``divergences.pair(x, y, measure, ...)`` for a dissimilarity and to
        ``s_max - pair(...)`` for a similarity (see :func:`dissimilarity_offset`).
        Compiled once per process on first call (the kernel it wraps is cached on disk).

    Raises
    ------
    InputError
        For an unknown parameter or zero mode, or a similarity without a finite bound.

    Examples
    --------
    >>> import numpy as np, divergences as dv
    >>> f = dv.numba_metric("hellinger")
    >>> P, Q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    >>> bool(np.isclose(f(P, Q), dv.pair(P, Q, "hellinger")))
    True
    """
    import numba

    from .kernels import numba_cpu

    m, defaults = resolve(measure)
    opts = {**defaults, **params}
    zero = opts.pop("zero", zero)
    epsilon = opts.pop("epsilon", epsilon)
    zero, eps, full = check_options(m, zero, epsilon, opts)
    off = None
    if m.kind == "similarity":
        offs = {dissimilarity_offset(m, d, **full) for d in (1, 2, 3, 10, 1000)}
        if len(offs) > 1:
            raise InputError(f"{m.name}: the bound depends on the dimension; no scalar metric")
        off = offs.pop()
    kernel = numba_cpu.kernels(m, zero).pair
    args = ", ".join(repr(float(v)) for v in (eps, *(full[p.name] for p in m.params)))
    value = f"pair(x, y, {args})"
    body = value if off is None else f"{off!r} - {value}"
    src = f"def metric(x, y):\n    return {body}\n"
    namespace: dict[str, Any] = {"pair": kernel}
    exec(compile(src, f"<divergences numba_metric {m.name}>", "exec"), namespace)  # noqa: S102
    fn = numba.njit(fastmath={"contract", "nsz", "arcp"}, nogil=True)(namespace["metric"])
    fn.__doc__ = f"{m.name} (zero={zero!r}, {full}) as a Numba metric: {body}"
    return fn
