"""The zero-rule vocabulary of :mod:`divergences.expr` as Numba scalar functions.

One to one with :mod:`divergences.kernels.helpers` (the array-API versions); the tests
compare both on {0, subnormal, 1, inf, nan}.  Importing this module imports numba.
"""

from __future__ import annotations

import math

import numba

from .helpers import LOG1PMX_SERIES_BELOW

_jit = numba.njit(error_model="numpy", cache=True)


@_jit
def div0(a: float, b: float) -> float:
    """a / b with 0 / 0 = 0 (and a / 0 = +-inf)."""
    return 0.0 if a == 0.0 else a / b


@_jit
def nz(a: float, e: float) -> float:
    """a, with an exact zero replaced by e."""
    return e if a == 0.0 else a


@_jit
def xlogy(a: float, b: float) -> float:
    """a log(b) with 0 log(anything) = 0."""
    return 0.0 if a == 0.0 else a * math.log(b)


@_jit
def log1pmx(r: float) -> float:
    """log(1 + r) - r, accurate for tiny r (series in u = r / (2 + r))."""
    if abs(r) < LOG1PMX_SERIES_BELOW:
        u = r / (2.0 + r)
        u2 = u * u
        tail = 1.0 / 15.0
        tail = 1.0 / 13.0 + u2 * tail
        tail = 1.0 / 11.0 + u2 * tail
        tail = 1.0 / 9.0 + u2 * tail
        tail = 1.0 / 7.0 + u2 * tail
        tail = 1.0 / 5.0 + u2 * tail
        tail = 1.0 / 3.0 + u2 * tail
        return -r * r / (2.0 + r) + 2.0 * u * u2 * tail
    return math.log1p(r) - r


@_jit
def _log_ratio(a: float, b: float) -> float:
    r = a / b
    if r > 0.0 and r < math.inf:
        return math.log(r)
    return math.log(a) - math.log(b)


@_jit
def _one_infinite(a: float, b: float) -> bool:
    return math.isinf(a) != math.isinf(b) and a == a and b == b


@_jit
def kl_elem(a: float, b: float) -> float:
    """a log(a / b) - a + b >= 0, without cancellation near a = b."""
    if _one_infinite(a, b):
        return math.inf
    diff = b - a
    if a == 0.0:
        return diff
    if abs(diff) <= 0.5 * a:
        return -a * log1pmx(diff / a)
    return a * _log_ratio(a, b) + diff


@_jit
def kl_mid(a: float, b: float) -> float:
    """kl_elem(a, (a + b) / 2) without rounding the midpoint."""
    if _one_infinite(a, b):
        return math.inf
    half = 0.5 * (b - a)
    if a == 0.0:
        return half
    if abs(half) <= 0.5 * a:
        return -a * log1pmx(half / a)
    return a * _log_ratio(2.0 * a, a + b) + half


@_jit
def sqrt_diff_sq(a: float, b: float) -> float:
    """(sqrt a - sqrt b)^2 as ((a - b) / (sqrt a + sqrt b))^2, 0 / 0 = 0."""
    if _one_infinite(a, b):
        return math.inf
    t = div0(a - b, math.sqrt(a) + math.sqrt(b))
    return t * t


@_jit
def minimum(a: float, b: float) -> float:
    """Elementwise min propagating NaN (as numpy.minimum)."""
    return a if (a < b or a != a) else b


@_jit
def maximum(a: float, b: float) -> float:
    """Elementwise max propagating NaN (as numpy.maximum)."""
    return a if (a > b or a != a) else b


@_jit
def ipow(a: float, p: float) -> float:
    """a ** p, by multiplication for p in {1, 2, 3, 4} (a parameter known only at run time,
    so the compiler cannot; pow() costs tens of cycles)."""
    if p == 2.0:
        return a * a
    if p == 1.0:
        return a
    if p == 3.0:
        return a * a * a
    if p == 4.0:
        b = a * a
        return b * b
    return a**p
