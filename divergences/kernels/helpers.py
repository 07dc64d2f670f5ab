"""The zero-rule vocabulary of :mod:`divergences.expr` for array-API namespaces.

Every measure handles zeros only through these helpers; the compiled back ends
mirror them one to one and the tests compare them on {0, subnormal, 1, inf, nan}.
"""

from __future__ import annotations

import functools
import math
from typing import Any

# |r| below this uses the series of log1p(r) - r (see log1pmx)
LOG1PMX_SERIES_BELOW = 0.1


def _scalar_aware(array_fn: Any, scalar_fn: Any) -> Any:
    """``array_fn`` on arrays, ``scalar_fn`` on Python numbers (parameters such as ``base``)."""

    def fn(*args: Any) -> Any:
        if all(isinstance(a, (int, float)) for a in args):
            return scalar_fn(*args)
        return array_fn(*args)

    return fn


def _atanh_tail(u2: Any) -> Any:
    """1/3 + u2/5 + u2^2/7 + ... + u2^6/15: atanh(u) = u + u^3 * _atanh_tail(u^2) + O(u^17)."""
    acc = 1.0 / 15.0
    for k in (13, 11, 9, 7, 5, 3):
        acc = 1.0 / k + u2 * acc
    return acc


def _scalar_log(v: float) -> float:
    return math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan)


@functools.cache
def vocabulary(xp: Any) -> dict[str, Any]:
    """The expression vocabulary implemented with namespace ``xp``."""
    where = xp.where

    def div0(a: Any, b: Any) -> Any:
        return where(a == 0, 0.0, a / b)

    def nz(a: Any, e: Any) -> Any:
        return where(a == 0, e, a)

    def xlogy(a: Any, b: Any) -> Any:
        return where(a == 0, 0.0, a * xp.log(b))

    def log1pmx(r: Any) -> Any:
        # log1p(r) = 2 atanh(u), u = r / (2 + r), so
        # log1p(r) - r = -r^2 / (2 + r) + 2 (u^3/3 + u^5/5 + ... + u^15/15 + ...)
        small = xp.abs(r) < LOG1PMX_SERIES_BELOW
        rs = where(small, r, 0.0)
        u = rs / (2.0 + rs)
        u2 = u * u
        series = -rs * rs / (2.0 + rs) + 2.0 * u * u2 * _atanh_tail(u2)
        rd = where(small, 1.0, r)
        return where(small, series, xp.log1p(rd) - rd)

    def log_ratio(a: Any, b: Any) -> Any:
        # log(a / b) for a, b > 0, also where a / b under- or overflows
        r = a / b
        ok = (r > 0) & (r < math.inf)
        return where(ok, xp.log(where(ok, r, 1.0)), xp.log(a) - xp.log(b))

    def infinite(a: Any, b: Any, t: Any) -> Any:
        # limits where exactly one argument is infinite (reachable with check_finite=False)
        one_inf = (xp.isinf(a) != xp.isinf(b)) & ~xp.isnan(a) & ~xp.isnan(b)
        return where(one_inf, math.inf, t)

    def kl_core(a: Any, b: Any, diff: Any, far: Any) -> Any:
        # a * log(a / c) - a + c with c = a + diff, given far = a * log(a / c) + diff
        near = xp.abs(diff) <= 0.5 * a
        r = where(near, diff / where(near, a, 1.0), 0.0)
        t = where(near, -a * log1pmx(r), far)
        return infinite(a, b, where(a == 0, diff, t))

    def kl_elem(a: Any, b: Any) -> Any:
        return kl_core(a, b, b - a, a * log_ratio(a, b) + (b - a))

    def kl_mid(a: Any, b: Any) -> Any:
        half = 0.5 * (b - a)
        return kl_core(a, b, half, a * log_ratio(2.0 * a, a + b) + half)

    def sqrt_diff_sq(a: Any, b: Any) -> Any:
        t = div0(a - b, xp.sqrt(a) + xp.sqrt(b))
        return infinite(a, b, t * t)

    return {
        "abs": _scalar_aware(xp.abs, abs),
        "sqrt": _scalar_aware(xp.sqrt, math.sqrt),
        "log": _scalar_aware(xp.log, _scalar_log),
        "log1p": _scalar_aware(xp.log1p, math.log1p),
        "exp": _scalar_aware(xp.exp, math.exp),
        "min": _scalar_aware(xp.minimum, min),
        "max": _scalar_aware(xp.maximum, max),
        "where": where,
        "div0": div0,
        "nz": nz,
        "xlogy": xlogy,
        "log1pmx": log1pmx,
        "kl_elem": kl_elem,
        "kl_mid": kl_mid,
        "sqrt_diff_sq": sqrt_diff_sq,
        "inf": math.inf,
        "nan": math.nan,
    }
