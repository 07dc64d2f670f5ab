"""The zero-rule vocabulary of :mod:`divergences.expr` as Numba scalar functions.

The Numba implementations of the entries of :data:`divergences.vocabulary.HELPERS` (each
entry names its function here); the tests derived from that table compare every back end
on {0, subnormal, tiny, 1, huge, inf, nan}.  Importing this module imports numba.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from ..vocabulary import LOG1PMX_SERIES_BELOW

#: inline="always": Numba inlines the helpers into each kernel at its own IR level. Left to
#: LLVM, a helper loaded from Numba's disk cache (object code, no IR) or too big for the
#: inliner (kl_mid) stays a call per element, which keeps the SLP vectoriser out: the
#: Jensen-Shannon kernel ran 4x or 20x slower depending on which process compiled what.
#: No cache=True: inlined helpers are cached inside the kernels, and it made every import
#: fail ("no locator available") where neither the package nor HOME is writable
_jit = numba.njit(error_model="numpy", inline="always")


@_jit
def div0(a: float, b: float) -> float:
    """a / b with 0 / 0 = 0 (and a / 0 = +-inf)."""
    return 0.0 if a == 0.0 else a / b


@_jit
def rare(c: bool) -> bool:
    """c itself (a where's condition that holds at few coordinates; see the vocabulary)."""
    return c


@_jit
def nz(a: float, e: float) -> float:
    """a, with an exact zero replaced by e."""
    return e if a == 0.0 else a


@_jit
def xlogy(a: float, b: float) -> float:
    """a log(b) with 0 log(anything) = 0."""
    return 0.0 if a == 0.0 else a * math.log(b)


@_jit
def log1pmx_series(r: float) -> float:
    """log(1 + r) - r by its series in u = r / (2 + r), for |r| < LOG1PMX_SERIES_BELOW
    (shared by log1pmx and the branch-free twin in divergences.vecmath)."""
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


@_jit
def log1pmx(r: float) -> float:
    """log(1 + r) - r, accurate for tiny r (series in u = r / (2 + r))."""
    if abs(r) < LOG1PMX_SERIES_BELOW:
        return log1pmx_series(r)
    return math.log1p(r) - r


@_jit
def _log_ratio(a: float, b: float) -> float:
    r = a / b
    if r > 0.0 and r < math.inf:
        return math.log(r)
    return math.log(a) - math.log(b)


@_jit
def _one_infinite(a: float, b: float) -> bool:
    return (math.isinf(a) != math.isinf(b)) & (a == a) & (b == b)


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


@intrinsic
def _bits(typingctx, x):
    """The bits of a float64 as an int64 (a bitcast, which vectorises)."""
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, i):
    """The float64 with the bits of an int64."""
    if i != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _where(typingctx, cond, x, y):
    """x if cond else y as an LLVM select: no branch, whatever the optimiser's heuristics
    (Numba's ternaries become branches, which keep the SLP vectoriser out)."""
    if cond != types.boolean or x != y or x not in (types.float64, types.int64):
        return None

    def codegen(context, builder, sig, args):
        return builder.select(args[0], args[1], args[2])

    return x(types.boolean, x, x), codegen


_SQRT2 = 1.4142135623730951
_SQRT_HALF = 0.7071067811865476
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_MANTISSA = 0x000FFFFFFFFFFFFF
_TINY = 2.2250738585072014e-308  # the smallest normal float64
_TWO54 = 18014398509481984.0
# fdlibm's log: log1p(f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f), for
# f in [sqrt(1/2) - 1, sqrt(2) - 1] (under 1 ulp); ln 2 split so that k ln2_hi is exact
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10


@_jit
def _frexp_sqrt2(x: float) -> tuple[int, float]:
    """(k, m) with x = 2**k m, m in [sqrt(1/2), sqrt(2)), for finite x > 0 (subnormals
    too); garbage otherwise.  Branch-free integer arithmetic on the bits."""
    sub = x < _TINY
    t = _bits(_where(sub, x * _TWO54, x)) - _SQRT_HALF_BITS
    k = (t >> 52) - _where(sub, np.int64(54), np.int64(0))
    return k, _from_bits((t & _MANTISSA) + _SQRT_HALF_BITS)


@_jit
def _log1p_tail(f: float) -> float:
    """log1p(f) - f for f in [sqrt(1/2) - 1, sqrt(2) - 1] (fdlibm's polynomial)."""
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    return s * (hfsq + (t2 + t1)) - hfsq


@_jit
def log_pos(s: float) -> float:
    """log(s) for finite s > 0 (subnormals too), under 1 ulp (fdlibm's method), branch-free
    so that it vectorises; garbage for s <= 0, inf or NaN (callers select around them)."""
    k, m = _frexp_sqrt2(s)
    f = m - 1.0
    kf = np.float64(k)
    return kf * _LN2_HI + (f + (_log1p_tail(f) + kf * _LN2_LO))


@_jit
def kl_mid(a: float, b: float) -> float:
    """kl_elem(a, (a + b) / 2) without rounding the midpoint.

    Branch-free (every path computed, the result selected) with its own logarithm, so that
    LLVM vectorises it across the rows of a block; the same values as the array-API
    version up to rounding.  Near a = b (|r| <= 1/2, r = (b - a) / 2a) it is
    -a log1pmx(r), far from it a log(2a / (a + b)) + (b - a) / 2 with the ratio's
    logarithm taken as (kp - kq) ln 2 + log(mp / mq) from 2a = 2**kp mp, a + b = 2**kq mq
    (no under- or overflow); both reduce to one log1p(f), f in [sqrt(1/2) - 1, sqrt(2) - 1]
    (f = r, 2r + 1 or (r - 1) / 2 near, exact).
    """
    half = 0.5 * (b - a)
    near = abs(half) <= 0.5 * a
    q = a + b
    kp, mp = _frexp_sqrt2(2.0 * a)
    kq, mq = _frexp_sqrt2(q)
    v = _where(near, half, mp) / _where(near, a, mq)  # r near, mp / mq in (1/2, 2) far
    w = _where(near, v + 1.0, v)
    up = w >= _SQRT2
    down = w < _SQRT_HALF
    kc = _where(up, 1.0, _where(down, -1.0, 0.0))
    c = _where(up, 0.5, _where(down, 2.0, 1.0))
    f = v * c + _where(near, c - 1.0, -1.0)
    k = _where(near, kc, np.float64(kp - kq) + kc)
    # near: log1p(r) - r = k ln 2 + log1p(f) - r, with k ln2_hi - r + f = 0 when k = 0
    lg = ((k * _LN2_HI + _where(near, -v, 0.0)) + f) + (_log1p_tail(f) + k * _LN2_LO)
    far = _where(q == math.inf, -math.inf, a * lg) + half  # log(2a) - log(inf) = -inf
    t = _where(near, -a * lg, far)
    t = _where(a == 0.0, half, t)
    return _where(_one_infinite(a, b), math.inf, t)


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


@_jit
def powm1(r: float, a: float) -> float:
    """(1 + r)**a - 1 as expm1(a log1p(r)); 0 for a = 0."""
    return 0.0 if a == 0.0 else math.expm1(a * math.log1p(r))
