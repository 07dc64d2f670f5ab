"""Branch-free (vectorisable) twins of the vocabulary's Numba helpers, for the fused losses.

Numba's ``math.exp`` and ``math.log`` are calls into libm that LLVM does not vectorise
without Intel's SVML, and the vocabulary's helpers (:mod:`divergences.kernels.numba_helpers`)
branch on their zero rules, which keeps the loop vectoriser out.  The fused loss kernels
(:mod:`divergences.fused`) run the same definitions through the twins below: the same values
(every special case of the helper, 0, inf and NaN included, is kept: each path is computed
and the result selected), written with selects and integer arithmetic on the bits only, so
that a loop over a row vectorises.

- :func:`exp_v`: fdlibm's exponential (rational approximation on ``|r| <= ln 2 / 2``, under
  1 ulp), 2**k built from the bits in two factors (subnormal results too);
- :func:`log_v`: :func:`~divergences.kernels.numba_helpers.log_pos` with 0, inf, negative
  and NaN selected around it;
- ``div0_v``, ``nz_v``, ``xlogy_v``, ``kl_elem_v``, ``sqrt_diff_sq_v``, ``minimum_v``,
  ``maximum_v``: the helpers of the same name without branches;
- :func:`log1p_v`, :func:`expm1_v`, ``log1pmx_v``: a few ulp (Kahan's log1p on top of
  ``log_pos``, Taylor's polynomial of expm1 below 1/2);
- :func:`pow_v` (``a ** p`` for an exponent known at run time) and :func:`powm1_v`:
  ``exp(p log a)`` and ``expm1(p log1p(r))`` with the vectorised exp and log.  These are
  **not** within a few ulp of the C library's ``pow``: the rounding of the logarithm is
  multiplied by the exponent, so the relative error is about ``|p log a|`` times 2**-52
  (1.5e-13 at the far end of float64's range, 1e-15 for ordinary probabilities).  The
  fused kernels serve float32 losses, whose inputs carry 6e-8; the general path (float64
  input, :func:`divergences.paired_grad`) keeps the C library's pow.

Importing this module imports numba.  Tests: ``tests/test_fused.py`` compares every twin
with its helper on the vocabulary's special values and on random values.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .kernels.numba_helpers import _from_bits, _where, log1pmx_series, log_pos
from .vocabulary import LOG1PMX_SERIES_BELOW

_jit = numba.njit(error_model="numpy", inline="always")

#: the twin of each vocabulary helper (the expression language's name -> function here)
TWINS = {
    "log": "log_v",
    "exp": "exp_v",
    "div0": "div0_v",
    "nz": "nz_v",
    "xlogy": "xlogy_v",
    "kl_elem": "kl_elem_v",
    "sqrt_diff_sq": "sqrt_diff_sq_v",
    "min": "minimum_v",
    "max": "maximum_v",
    "log1p": "log1p_v",
    "expm1": "expm1_v",
    "log1pmx": "log1pmx_v",
    "powm1": "powm1_v",
}

_INV_LN2 = 1.44269504088896338700e00
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# fdlibm's e_exp.c: R(r^2) on [0, 0.347], |error| < 2**-59
_P1 = 1.66666666666666019037e-01
_P2 = -2.77777777770155933842e-03
_P3 = 6.61375632143793436117e-05
_P4 = -1.65339022054652515390e-06
_P5 = 4.13813679705723846039e-08
_EXP_MAX = 709.782712893383973096  # log(DBL_MAX)
_EXP_MIN = -745.13321910194110842  # below: 0 (under half the smallest subnormal)


@_jit
def _pow2(k: int) -> float:
    """2**k for k in [-1022, 1023] from the bits."""
    return _from_bits((k + np.int64(1023)) << np.int64(52))


@_jit
def exp_v(x: float) -> float:
    """exp(x), under 1 ulp, without branches (0 below -745.13, inf above 709.78, NaN kept).

    Examples
    --------
    >>> abs(float(exp_v(1.0)) - math.e) <= math.ulp(math.e)
    True
    """
    xc = _where(x < _EXP_MIN, _EXP_MIN, _where(x > _EXP_MAX, _EXP_MAX, x))
    kf = math.floor(xc * _INV_LN2 + 0.5)
    hi = xc - kf * _LN2_HI
    lo = kf * _LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (_P1 + t * (_P2 + t * (_P3 + t * (_P4 + t * _P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    k = np.int64(kf)
    k1 = k >> np.int64(1)  # 2**k = 2**k1 * 2**(k - k1), each factor normal
    v = y * _pow2(k1) * _pow2(k - k1)
    v = _where(x < _EXP_MIN, 0.0, _where(x > _EXP_MAX, math.inf, v))
    return _where(x != x, x, v)


@_jit
def log_v(s: float) -> float:
    """log(s) for every s (-inf at 0, NaN below 0, inf at inf), without branches."""
    ok = (s > 0.0) & (s < math.inf)
    v = log_pos(_where(ok, s, 1.0))
    v = _where(s == 0.0, -math.inf, _where(s == math.inf, math.inf, v))
    return _where((s < 0.0) | (s != s), math.nan, v)


@_jit
def _log1p_small(r: float) -> float:
    """log1p(r) for r in [-1/2, 1/2]: log(u) + (r - (u - 1)) / u, u = 1 + r rounded."""
    u = 1.0 + r
    return log_pos(u) + (r - (u - 1.0)) / u


@_jit
def _log1pmx_v(r: float) -> float:
    """log1p(r) - r for |r| <= 1/2 (the series of log1pmx below its threshold)."""
    series = log1pmx_series(r)
    return _where(abs(r) < LOG1PMX_SERIES_BELOW, series, _log1p_small(r) - r)


@_jit
def log1p_l(r: float, lg: float) -> float:
    """log1p(r) given ``lg``, the same logarithm from the log-probabilities (``log a -
    log b`` for ``r = (a - b) / b``): Kahan's form for |r| <= 1/2, where ``lg`` would carry
    the absolute error of the logarithms into a small result, ``lg`` beyond (no second log)."""
    small = abs(r) <= 0.5
    return _where(small, _log1p_small(_where(small, r, 0.0)), lg)


@_jit
def expm1_e(t: float, e: float) -> float:
    """exp(t) - 1 given ``e`` = exp(t) (computed once for the loop, shared): Taylor's
    polynomial of :func:`expm1_v` for |t| < 1/2, ``e - 1`` beyond (no second exponential)."""
    small = abs(t) < 0.5
    v = _where(small, _expm1_small(_where(small, t, 0.0)), e - 1.0)
    return _where(t == 0.0, t, v)


@_jit
def log1p_v(r: float) -> float:
    """log(1 + r): Kahan's correction for |r| <= 1/2, log(1 + r) beyond (-inf at -1, NaN
    below)."""
    return _where(r == 0.0, r, log1p_l(r, log_v(1.0 + r)))


@_jit
def _expm1_small(s: float) -> float:
    """exp(s) - 1 for |s| < 1/2: s + s**2 P(s), Taylor's polynomial of degree 15 (1/17! down
    to 1/2!, the first term left out is 6e-22 of s) by Horner's rule written out (a loop here
    would stop the vectoriser); 1 ulp against 40-digit mpmath."""
    acc = 2.8114572543455206e-15  # 1/17!
    acc = 4.779477332387385e-14 + s * acc  # 1/16!
    acc = 7.647163731819816e-13 + s * acc  # 1/15!
    acc = 1.1470745597729725e-11 + s * acc  # 1/14!
    acc = 1.6059043836821613e-10 + s * acc  # 1/13!
    acc = 2.08767569878681e-09 + s * acc  # 1/12!
    acc = 2.505210838544172e-08 + s * acc  # 1/11!
    acc = 2.755731922398589e-07 + s * acc  # 1/10!
    acc = 2.7557319223985893e-06 + s * acc  # 1/9!
    acc = 2.48015873015873e-05 + s * acc  # 1/8!
    acc = 0.0001984126984126984 + s * acc  # 1/7!
    acc = 0.001388888888888889 + s * acc  # 1/6!
    acc = 0.008333333333333333 + s * acc  # 1/5!
    acc = 0.041666666666666664 + s * acc  # 1/4!
    acc = 0.16666666666666666 + s * acc  # 1/3!
    acc = 0.5 + s * acc  # 1/2!
    return s + s * s * acc


@_jit
def expm1_v(t: float) -> float:
    """exp(t) - 1: Taylor's polynomial (``_expm1_small``) for |t| < 1/2, exp_v(t) - 1
    beyond (:func:`expm1_e` with its own exponential)."""
    return expm1_e(t, exp_v(t))


@_jit
def log1pmx_v(r: float) -> float:
    """log(1 + r) - r (log1pmx) for every r >= -1: ``_log1pmx_v`` for |r| <= 1/2."""
    near = abs(r) <= 0.5
    return _where(near, _log1pmx_v(_where(near, r, 0.0)), log_v(1.0 + r) - r)


@_jit
def pow_v(a: float, p: float) -> float:
    """a ** p for a run-time exponent: exact products for p in {1, 2, 3, 4} (as ``ipow``),
    exp(p log |a|) otherwise, with pow's special values (0 ** p, inf ** p, 1 ** p, a ** 0,
    a negative base: its sign for an integer p, NaN otherwise).  See the module's note on
    accuracy."""
    m = abs(a)
    ok = (m > 0.0) & (m < math.inf)
    v = exp_v(p * log_pos(_where(ok, m, 1.0)))
    # the limits at |a| = 0 and inf: 0 or inf by the sign of p (and of log |a|)
    big = ((m == 0.0) & (p < 0.0)) | ((m != 0.0) & (p > 0.0))
    v = _where(ok, v, _where(big, math.inf, 0.0))
    integral = math.floor(p) == p
    odd = integral & (abs(p) < 2.0**53) & (math.floor(p * 0.5) * 2.0 != p)
    signed = _where(odd, -v, v)
    # a negative base (-0.0 and -inf too): its sign for an odd p, NaN for a finite one and
    # a fractional p
    v = _where(math.copysign(1.0, a) < 0.0, _where(integral, signed, _where(ok, math.nan, v)), v)
    v = _where((a != a) | (p != p), a + p, v)
    one = (a == 1.0) | (p == 0.0) | ((a == -1.0) & (abs(p) == math.inf))
    v = _where(one, 1.0, v)
    v = _where(p == 1.0, a, _where(p == 2.0, a * a, _where(p == 3.0, a * a * a, v)))
    return _where(p == 4.0, (a * a) * (a * a), v)


@_jit
def powm1_v(r: float, a: float) -> float:
    """(1 + r) ** a - 1 as expm1(a log1p(r)); 0 for a = 0 (powm1)."""
    return _where(a == 0.0, 0.0, expm1_v(a * log1p_v(r)))


@_jit
def powm1_le(r: float, a: float, lg: float, e: float) -> float:
    """(1 + r) ** a - 1 (:func:`powm1_v`) given ``lg`` = log(1 + r) and ``e`` = exp(a lg)
    from the log-probabilities (:func:`log1p_l`, :func:`expm1_e`)."""
    return _where(a == 0.0, 0.0, expm1_e(a * log1p_l(r, lg), e))


@_jit
def _one_infinite(a: float, b: float) -> bool:
    return ((abs(a) == math.inf) != (abs(b) == math.inf)) & (a == a) & (b == b)


@_jit
def div0_v(a: float, b: float) -> float:
    """a / b with 0 / 0 = 0."""
    return _where(a == 0.0, 0.0, a / b)


@_jit
def nz_v(a: float, e: float) -> float:
    """a, an exact zero replaced by e."""
    return _where(a == 0.0, e, a)


@_jit
def xlogy_v(a: float, b: float) -> float:
    """a log(b), 0 where a = 0."""
    return _where(a == 0.0, 0.0, a * log_v(b))


@_jit
def kl_elem_v(a: float, b: float) -> float:
    """a log(a / b) - a + b (kl_elem): -a log1pmx((b - a) / a) near a = b."""
    diff = b - a
    near = abs(diff) <= 0.5 * a
    r = diff / _where(near, a, 1.0)
    near_val = -a * _log1pmx_v(_where(near, r, 0.0))
    far_val = a * (log_v(a) - log_v(b)) + diff
    t = _where(near, near_val, far_val)
    t = _where(a == 0.0, diff, t)
    return _where(_one_infinite(a, b), math.inf, t)


@_jit
def kl_elem_l(a: float, b: float, la: float, lb: float) -> float:
    """kl_elem(a, b) given la = log(a) and lb = log(b) (exact log-probabilities: finite where
    b underflowed to 0 but lb did not): the series -a log1pmx(r), r = (b - a) / a, for
    |r| < LOG1PMX_SERIES_BELOW, else a (la - lb) + b - a."""
    diff = b - a
    near = abs(diff) < LOG1PMX_SERIES_BELOW * a
    r = _where(near, diff / _where(near, a, 1.0), 0.0)
    near_val = -a * log1pmx_series(r)
    far_val = a * (la - lb) + diff
    t = _where(near, near_val, far_val)
    t = _where(a == 0.0, diff, t)
    return _where(_one_infinite(a, b), math.inf, t)


@_jit
def sqrt_diff_sq_v(a: float, b: float) -> float:
    """(sqrt a - sqrt b)^2 as ((a - b) / (sqrt a + sqrt b))^2, 0 / 0 = 0."""
    t = div0_v(a - b, math.sqrt(a) + math.sqrt(b))
    return _where(_one_infinite(a, b), math.inf, t * t)


@_jit
def minimum_v(a: float, b: float) -> float:
    """min propagating NaN."""
    return _where((a < b) | (a != a), a, b)


@_jit
def maximum_v(a: float, b: float) -> float:
    """max propagating NaN."""
    return _where((a > b) | (a != a), a, b)


__all__ = [
    "TWINS", "kl_elem_l", "pow_v", "log1p_l", "expm1_e", "powm1_le", *TWINS.values()
]
