"""The helper vocabulary of the expression language: one entry per function, one table.

Every function a definition may call (:mod:`divergences.expr`) is one :class:`Helper` in
:data:`HELPERS`, which holds everything that is known about it:

- ``args`` (so the arity) and ``doc`` (its meaning, with its zero conventions);
- ``regime``: its value where the arguments are positive, as an expression over plain
  arithmetic, ``log`` and ``sqrt`` (what the factored expansion substitutes; None where the
  helper does not expand, like ``min``);
- ``partials``: one expression per argument, in the same language, for its partial
  derivative, with the zero conventions written into it (``where(a == 0, 0, log(b))``);
  the symbolic layer (:mod:`divergences.symbolic`) builds the derivatives of every term from
  them by the chain rule;
- its implementation for each back end: ``array`` (a function of the array namespace and
  of the vocabulary being built, returning the elementwise function; ``array_autograd``, its
  autograd-safe form for torch and JAX where ``array`` is not), ``numba`` (the name
  of its function in :mod:`divergences.kernels.numba_helpers`, or ``math.NAME``), ``cuda``
  (the name of its CUDA C function) and ``cuda_src`` (that function's definition, emitted
  into every module's preamble; empty for the C library's own functions);
- ``scalar``: a Python-float implementation where bounds expressions may use it;
- ``mp``: its meaning in mpmath (the conformance tests' reference).

Everything else derives from this table: the expression checker's arities
(``expr.FUNCTIONS``), the array-API vocabulary (``kernels.helpers.vocabulary``), the Numba
printer's names and imports (``kernels.codegen``), the CUDA translation and preamble
(``kernels.cuda_source``) and the factored expansion's templates. Adding a helper is one
entry here plus, where it is not a one-liner, its Numba function.

Zero conventions of the partial derivatives
-------------------------------------------
A partial derivative is the true (one-sided, at the edge of the domain) derivative of the
helper's value, zero rules included, wherever the helper is continuous: ``+-inf`` where that
derivative is infinite (``d xlogy(a, b)/da = log(b)`` is ``-inf`` at ``b = 0``,
``d kl_elem(a, b)/da`` is ``-inf`` at ``a = 0 < b``, ``d sqrt(v)/dv`` is ``inf`` at 0), never
NaN on the domain; a term that vanishes for every value of an argument has derivative 0 in
it (``d xlogy(0, b)/db = 0``, ``d div0(0, b)/db = 0``, ``d kl_elem(0, b)/db = 1``). Where the
helper is not differentiable a convention is stated: ``nz`` acts like a clamp at 0
(``d nz(a, e)/da`` is 0 where ``a = 0``, whose value is ``e``, and 1 elsewhere), ``min`` and
``max`` split a tie evenly (1/2 each), ``abs`` has derivative 0 at 0, ``where`` passes the
derivative of the chosen branch (its condition has none).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: |r| below this uses the series of log1p(r) - r (see log1pmx)
LOG1PMX_SERIES_BELOW = 0.1


@dataclass(frozen=True)
class Helper:
    """One function of the expression language (see the module docstring)."""

    name: str
    args: tuple[str, ...]
    doc: str
    partials: tuple[str, ...]
    array: Callable[[Any, dict[str, Any]], Callable[..., Any]]
    numba: str
    cuda: str
    mp: Callable[..., Any]
    regime: str | None = None
    cuda_src: str = ""
    scalar: Callable[..., Any] | None = None
    #: where the helper is smooth (the derivative checks skip other points: ties, kinks)
    smooth: Callable[..., bool] = field(default=lambda *a: True)
    #: defined for non-negative arguments only (elsewhere a back end may return anything)
    nonnegative: bool = False
    #: the array implementation for namespaces with autodiff (torch, JAX), where ``array``
    #: is not autograd-safe: the same values bit for bit, no NaN gradient from a branch of
    #: a where that is not chosen, the table's ``partials`` as its derivatives (None: ``array``)
    array_autograd: Callable[[Any, dict[str, Any]], Callable[..., Any]] | None = None

    @property
    def arity(self) -> int:
        """The number of arguments."""
        return len(self.args)


# -- array-API implementations --------------------------------------------------------------
# On torch and JAX arrays (``backend="numpy"``) they are also differentiated by autodiff, so a
# helper whose plain form is not autograd-safe has a second form (``array_autograd``, the
# "double where"): xp.where(c, a, b) passes a zero gradient to the branch it does not choose,
# and that zero times an infinite local derivative inside the branch (log 0, 1 / 0, sqrt at 0)
# is NaN; so every singular operation gets a harmless argument (1.0) where its result is not
# chosen, and the values are the plain form's bit for bit (tests/test_reference_autograd.py).
# Where the table's partial derivative at a zero rule is +-inf (d kl_elem(a, b)/da at a = 0),
# the chosen branch adds :func:`_steep`, which is 0 with that infinite derivative. NumPy and
# CuPy keep the plain forms (the safe ones cost 1.3x-2.9x per helper call).
def _scalar_aware(array_fn: Callable[..., Any], scalar_fn: Callable[..., Any]) -> Any:
    """``array_fn`` on arrays, ``scalar_fn`` on Python numbers (parameters such as ``base``)."""

    def fn(*args: Any) -> Any:
        if all(isinstance(a, (int, float)) for a in args):
            return scalar_fn(*args)
        return array_fn(*args)

    return fn


def _scalar_log(v: float) -> float:
    return math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan)


def _scalar_expm1(v: float) -> float:
    try:
        return math.expm1(v)
    except OverflowError:
        return math.inf


def _unary(attr: str, scalar: Callable[..., Any]) -> Callable[[Any, dict[str, Any]], Any]:
    return lambda xp, v: _scalar_aware(getattr(xp, attr), scalar)


def _steep(xp: Any, at: Any, a: Any) -> Any:
    """0 where ``at`` (a condition implying ``a == 0``), with derivative +inf in ``a`` there.

    sqrt(a + 0.0) at a = 0: the value +0 and the one-sided derivative +inf (``a + 0.0`` turns
    -0.0 into +0.0, whose reciprocal square root is +inf). Elsewhere the argument is 1.0, so
    the value 1 has a finite derivative. ``at`` must be exactly where the result is chosen:
    a zero gradient reaching it where ``at`` holds would be 0 * inf = NaN.
    """
    return xp.sqrt(xp.where(at, a + 0.0, 1.0))


def _atanh_tail(u2: Any) -> Any:
    """1/3 + u2/5 + u2^2/7 + ... + u2^6/15: atanh(u) = u + u^3 * _atanh_tail(u^2) + O(u^17)."""
    acc = 1.0 / 15.0
    for k in (13, 11, 9, 7, 5, 3):
        acc = 1.0 / k + u2 * acc
    return acc


def _log1pmx(xp: Any, v: dict[str, Any]) -> Callable[..., Any]:
    def log1pmx(r: Any) -> Any:
        # log1p(r) = 2 atanh(u), u = r / (2 + r), so
        # log1p(r) - r = -r^2 / (2 + r) + 2 (u^3/3 + u^5/5 + ... + u^15/15 + ...)
        small = xp.abs(r) < LOG1PMX_SERIES_BELOW
        rs = xp.where(small, r, 0.0)
        u = rs / (2.0 + rs)
        u2 = u * u
        series = -rs * rs / (2.0 + rs) + 2.0 * u * u2 * _atanh_tail(u2)
        rd = xp.where(small, 1.0, r)
        return xp.where(small, series, xp.log1p(rd) - rd)

    return log1pmx


def _infinite(xp: Any, a: Any, b: Any, t: Any) -> Any:
    # limits where exactly one argument is infinite (reachable with check_finite=False)
    one_inf = (xp.isinf(a) != xp.isinf(b)) & ~xp.isnan(a) & ~xp.isnan(b)
    return xp.where(one_inf, math.inf, t)


def _log_ratio(xp: Any, a: Any, b: Any) -> Any:
    # log(a / b) for a, b > 0, also where a / b under- or overflows
    r = a / b
    ok = (r > 0) & (r < math.inf)
    return xp.where(ok, xp.log(xp.where(ok, r, 1.0)), xp.log(a) - xp.log(b))


def _kl_core(xp: Any, v: dict[str, Any], a: Any, b: Any, diff: Any, far: Any) -> Any:
    # a * log(a / c) - a + c with c = a + diff, given far = a * log(a / c) + diff
    near = xp.abs(diff) <= 0.5 * a
    r = xp.where(near, diff / xp.where(near, a, 1.0), 0.0)
    t = xp.where(near, -a * v["log1pmx"](r), far)
    return _infinite(xp, a, b, xp.where(a == 0, diff, t))


def _kl_elem(xp: Any, v: dict[str, Any]) -> Callable[..., Any]:
    return lambda a, b: _kl_core(xp, v, a, b, b - a, a * _log_ratio(xp, a, b) + (b - a))


def _kl_mid(xp: Any, v: dict[str, Any]) -> Callable[..., Any]:
    def kl_mid(a: Any, b: Any) -> Any:
        half = 0.5 * (b - a)
        return _kl_core(xp, v, a, b, half, a * _log_ratio(xp, 2.0 * a, a + b) + half)

    return kl_mid


def _sqrt_diff_sq(xp: Any, v: dict[str, Any]) -> Callable[..., Any]:
    def sqrt_diff_sq(a: Any, b: Any) -> Any:
        t = v["div0"](a - b, xp.sqrt(a) + xp.sqrt(b))
        return _infinite(xp, a, b, t * t)

    return sqrt_diff_sq


def _div0(xp: Any, v: dict[str, Any]) -> Callable[..., Any]:
    return lambda a, b: xp.where(a == 0, 0.0, a / b)


def _xlogy(xp: Any, v: dict[str, Any]) -> Callable[..., Any]:
    return lambda a, b: xp.where(a == 0, 0.0, a * xp.log(b))


# -- their autograd-safe forms (``Helper.array_autograd``) ------------------------------------
def _log_ratio_safe(xp: Any, a: Any, b: Any) -> Any:
    # log(a / b) for a, b > 0, also where a / b under- or overflows; autograd-safe: the
    # division by b = 0 and the logarithms of the branch not chosen get the argument 1
    r = a / xp.where(b == 0, 1.0, b)
    ok = (b != 0) & (r > 0) & (r < math.inf)
    far = xp.log(xp.where(ok, 1.0, a)) - xp.log(xp.where(ok, 1.0, b))
    return xp.where(ok, xp.log(xp.where(ok, r, 1.0)), far)


def _kl_core_safe(
    xp: Any, v: dict[str, Any], a: Any, b: Any, diff: Any, far: Callable[..., Any], edge: Any
) -> Any:
    # a * log(a / c) - a + c with c = a + diff, given far(a, b) = a * log(a / c) + diff;
    # at a = 0 the value is diff and edge(zero) adds the table's derivative in a there
    zero = a == 0
    a1, b1 = xp.where(zero, 1.0, a), xp.where(zero, 1.0, b)  # autograd-safe where a = 0
    near = xp.abs(diff) <= 0.5 * a1
    r = xp.where(near, diff / xp.where(near, a1, 1.0), 0.0)
    t = xp.where(near, -a1 * v["log1pmx"](r), far(a1, b1))
    return _infinite(xp, a, b, xp.where(zero, edge(zero), t))


def _kl_elem_safe(xp: Any, v: dict[str, Any]) -> Callable[..., Any]:
    def kl_elem(a: Any, b: Any) -> Any:
        diff = b - a

        # at a = 0: d/da = -inf where b > 0 (a log(a / b)), +inf where b = 0 (the jump to
        # kl_elem(a, 0) = inf); a - steep is a, zero's sign included, so b - (a - steep)
        # is diff bit for bit
        def far(a1: Any, b1: Any) -> Any:
            return a1 * _log_ratio_safe(xp, a1, b1) + (b1 - a1)

        def edge(zero: Any) -> Any:
            steep = _steep(xp, zero, a)
            return xp.where(b == 0, b - (a - steep), diff - steep)

        return _kl_core_safe(xp, v, a, b, diff, far, edge)

    return kl_elem


def _kl_mid_safe(xp: Any, v: dict[str, Any]) -> Callable[..., Any]:
    def kl_mid(a: Any, b: Any) -> Any:
        half = 0.5 * (b - a)

        # at a = 0: d/da = -inf where b > 0, log(2) - 1/2 where b = 0 (kl_mid(a, 0) is
        # a (log 2 - 1/2)); a - 2 log(2) (a + 0) is a there, zero's sign included
        def far(a1: Any, b1: Any) -> Any:
            return a1 * _log_ratio_safe(xp, 2.0 * a1, a1 + b1) + 0.5 * (b1 - a1)

        def edge(zero: Any) -> Any:
            steep = _steep(xp, zero & (b != 0), a)
            at_b0 = 0.5 * (b - (a - 2.0 * math.log(2.0) * (a + 0.0)))
            return xp.where(b == 0, at_b0, half - steep)

        return _kl_core_safe(xp, v, a, b, half, far, edge)

    return kl_mid


def _div0_safe(xp: Any, v: dict[str, Any]) -> Callable[..., Any]:
    def div0(a: Any, b: Any) -> Any:
        # a / b, and at a = 0 the value +0 with the partials 1 / b and 0 of the table: the
        # quotient itself (+-0 there, made +0), on the divisor 1 where it is 0 or NaN
        zero = a == 0
        q = a / xp.where(zero & ~(xp.abs(b) > 0), 1.0, b)
        return xp.where(zero, q + 0.0, q)

    return div0


def _xlogy_safe(xp: Any, v: dict[str, Any]) -> Callable[..., Any]:
    def xlogy(a: Any, b: Any) -> Any:
        # a log(b), and at a = 0 the value +0 with the partials log(b) (-inf at b = 0) and 0
        zero = a == 0
        t = a * xp.log(xp.where(zero & ~((b > 0) & (b < math.inf)), 1.0, b))
        edge = zero & (b == 0)
        return xp.where(zero, xp.where(edge, -_steep(xp, edge, a), t) + 0.0, t)

    return xlogy


def _sqrt_diff_sq_safe(xp: Any, v: dict[str, Any]) -> Callable[..., Any]:
    def sqrt_diff_sq(a: Any, b: Any) -> Any:
        # at a = b the value is +0 with the table's partials: 1 and 1 at a = b = 0
        # ((sqrt a - 0)^2 = a), so a + b there, else 0 and 0, so a constant (which also
        # keeps an infinite derivative from outside, sqrt(h) at h = 0, from making NaN);
        # the quotient and its square roots get the argument 1 at 0 (autograd-safe)
        d = a - b
        same = d == 0
        both = same & (a == 0)
        a1, b1 = xp.where(both, 1.0, a), xp.where(both, 1.0, b)
        t = d / (xp.sqrt(a1) + xp.sqrt(b1))
        return _infinite(xp, a, b, xp.where(same, xp.where(both, (a + b) + 0.0, 0.0), t * t))

    return sqrt_diff_sq


def _powm1(xp: Any, v: dict[str, Any]) -> Callable[..., Any]:
    def powm1(r: Any, a: Any) -> Any:
        return v["where"](a == 0, 0.0, xp.expm1(a * xp.log1p(r)))

    return powm1


# -- CUDA C definitions (the preamble of every module is generated from them) ---------------
_CUDA_LOG1PMX = """// log(1 + r) - r, accurate for tiny r (series in u = r / (2 + r))
__device__ __forceinline__ double dv_log1pmx(double r) {
    if (fabs(r) < DV_LOG1PMX_SERIES_BELOW) {
        double u = r / (2.0 + r);
        double u2 = u * u;
        double tail = 1.0 / 15.0;
        tail = 1.0 / 13.0 + u2 * tail;
        tail = 1.0 / 11.0 + u2 * tail;
        tail = 1.0 / 9.0 + u2 * tail;
        tail = 1.0 / 7.0 + u2 * tail;
        tail = 1.0 / 5.0 + u2 * tail;
        tail = 1.0 / 3.0 + u2 * tail;
        return -r * r / (2.0 + r) + 2.0 * u * u2 * tail;
    }
    return log1p(r) - r;
}"""
_CUDA_KL_ELEM = """// a log(a / b) - a + b >= 0, without cancellation near a = b
__device__ __forceinline__ double dv_kl_elem(double a, double b) {
    if (dv_one_infinite(a, b)) return dv_inf();
    double diff = b - a;
    if (a == 0.0) return diff;
    if (fabs(diff) <= 0.5 * a) return -a * dv_log1pmx(diff / a);
    return a * dv_log_ratio(a, b) + diff;
}"""
_CUDA_KL_MID = """// kl_elem(a, (a + b) / 2) without rounding the midpoint
__device__ __forceinline__ double dv_kl_mid(double a, double b) {
    if (dv_one_infinite(a, b)) return dv_inf();
    double half = 0.5 * (b - a);
    if (a == 0.0) return half;
    if (fabs(half) <= 0.5 * a) return -a * dv_log1pmx(half / a);
    return a * dv_log_ratio(2.0 * a, a + b) + half;
}"""
_CUDA_SQRT_DIFF_SQ = """// (sqrt a - sqrt b)^2 as ((a - b) / (sqrt a + sqrt b))^2, 0 / 0 = 0
__device__ __forceinline__ double dv_sqrt_diff_sq(double a, double b) {
    if (dv_one_infinite(a, b)) return dv_inf();
    double t = dv_div0(a - b, sqrt(a) + sqrt(b));
    return t * t;
}"""
_CUDA_POWM1 = """// (1 + r)^a - 1 as expm1(a log1p(r)), 0 for a = 0
__device__ __forceinline__ double dv_powm1(double r, double a) {
    return a == 0.0 ? 0.0 : expm1(a * log1p(r));
}"""


def _inline(name: str, params: str, body: str, comment: str) -> str:
    return f"// {comment}\n__device__ __forceinline__ double {name}({params}) {{ {body} }}"


# -- mpmath meanings (the conformance tests' reference; imported lazily there) --------------
def _mp() -> Any:
    import mpmath

    return mpmath


def _mp_kl(a: Any, b: Any) -> Any:
    m = _mp()
    if a == 0:
        return b
    if b == 0:
        return m.inf
    return a * m.log(a / b) - a + b


def _mp_where(c: Any, a: Any, b: Any) -> Any:
    return a if c else b


def _array_where(xp: Any, v: Any) -> Any:
    """xp.where, also for a condition on parameters only (a Python bool: the branch is
    chosen) and for two scalar branches (array-API namespaces refuse two scalars)."""

    def where(c: Any, a: Any, b: Any) -> Any:
        if isinstance(c, (bool, int, float)):
            return a if c else b
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            import array_api_compat

            a = xp.full(c.shape, float(a), dtype=xp.float64, device=array_api_compat.device(c))
        return xp.where(c, a, b)

    return where


# -- the table -------------------------------------------------------------------------------
_ENTRIES = [
    Helper(
        "abs", ("v",), "|v|.",
        partials=("where(v > 0, 1, where(v < 0, -1, 0))",),
        array=_unary("abs", abs), numba="abs", cuda="fabs", scalar=abs,
        mp=lambda v: abs(v), smooth=lambda v: v != 0,
    ),
    Helper(
        "sqrt", ("v",), "The square root.",
        partials=("0.5 / sqrt(v)",),
        array=_unary("sqrt", math.sqrt), numba="math.sqrt", cuda="sqrt", scalar=math.sqrt,
        mp=lambda v: _mp().sqrt(v),
    ),
    Helper(
        "log", ("v",), "The natural logarithm (log 0 = -inf, log of a negative = nan).",
        partials=("1 / v",),
        array=_unary("log", _scalar_log), numba="math.log", cuda="log", scalar=_scalar_log,
        mp=lambda v: _mp().log(v),
    ),
    Helper(
        "log1p", ("v",), "log(1 + v), accurate for tiny v.",
        partials=("1 / (1 + v)",),
        array=_unary("log1p", math.log1p), numba="math.log1p", cuda="log1p",
        scalar=math.log1p, mp=lambda v: _mp().log1p(v),
    ),
    Helper(
        "exp", ("v",), "The exponential.",
        partials=("exp(v)",),
        array=_unary("exp", math.exp), numba="math.exp", cuda="exp", scalar=math.exp,
        mp=lambda v: _mp().exp(v),
    ),
    Helper(
        "expm1", ("v",), "exp(v) - 1, accurate for tiny v.",
        partials=("exp(v)",),
        array=_unary("expm1", _scalar_expm1), numba="math.expm1", cuda="expm1",
        scalar=_scalar_expm1, mp=lambda v: _mp().expm1(v),
    ),
    Helper(
        "min", ("a", "b"), "Elementwise minimum (NaN propagates, as numpy.minimum).",
        partials=(
            "where(a < b, 1, where(a == b, 0.5, 0))",
            "where(b < a, 1, where(a == b, 0.5, 0))",
        ),
        array=lambda xp, v: _scalar_aware(xp.minimum, min), numba="minimum",
        cuda="dv_minimum", scalar=min, mp=lambda a, b: min(a, b),
        cuda_src=_inline(
            "dv_minimum", "double a, double b", "return (a < b || a != a) ? a : b;",
            "elementwise min propagating NaN (as numpy.minimum)",
        ),
        smooth=lambda a, b: a != b,
    ),
    Helper(
        "max", ("a", "b"), "Elementwise maximum (NaN propagates, as numpy.maximum).",
        partials=(
            "where(a > b, 1, where(a == b, 0.5, 0))",
            "where(b > a, 1, where(a == b, 0.5, 0))",
        ),
        array=lambda xp, v: _scalar_aware(xp.maximum, max), numba="maximum",
        cuda="dv_maximum", scalar=max, mp=lambda a, b: max(a, b),
        cuda_src=_inline(
            "dv_maximum", "double a, double b", "return (a > b || a != a) ? a : b;",
            "elementwise max propagating NaN (as numpy.maximum)",
        ),
        smooth=lambda a, b: a != b,
    ),
    Helper(
        "where", ("c", "a", "b"), "a where condition c holds, else b (only one is evaluated "
        "by the compiled back ends).",
        partials=("0", "where(c, 1, 0)", "where(c, 0, 1)"),
        array=_array_where, numba="", cuda="", scalar=lambda c, a, b: a if c else b,
        mp=_mp_where,
    ),
    Helper(
        "rare", ("c",), "c itself: marks the condition of a where as one that holds at few "
        "coordinates in practice (ratios beyond float64's range). Every back end computes "
        "the where as written; the fused loss sweeps compute its other branch only and leave "
        "the coordinates where c holds to their pass over the edges (divergences.fused), so "
        "that the rare branch's forms are not computed at every coordinate.",
        partials=("1",),
        array=lambda xp, v: lambda c: c, numba="rare", cuda="dv_rare",
        cuda_src=_inline("dv_rare", "double c", "return c;", "c itself (a rare condition)"),
        scalar=lambda c: c, mp=lambda c: c,
    ),
    Helper(
        "div0", ("a", "b"), "a / b with 0 / 0 = 0 (the term vanishes) and a / 0 = +-inf.",
        partials=("1 / b", "where(a == 0, 0, -(a / b) / b)"),
        regime="a / b",
        array=_div0, array_autograd=_div0_safe,
        numba="div0", cuda="dv_div0",
        cuda_src=_inline(
            "dv_div0", "double a, double b", "return a == 0.0 ? 0.0 : a / b;",
            "a / b with 0 / 0 = 0 (and a / 0 = +-inf)",
        ),
        mp=lambda a, b: 0 if a == 0 else (a / b if b != 0 else _mp().inf * _mp().sign(a)),
    ),
    Helper(
        "nz", ("a", "e"), "a, with an exact zero replaced by e (philentropy's epsilon rule).",
        partials=("where(a == 0, 0, 1)", "where(a == 0, 1, 0)"),
        array=lambda xp, v: lambda a, e: xp.where(a == 0, e, a),
        numba="nz", cuda="dv_nz",
        cuda_src=_inline(
            "dv_nz", "double a, double e", "return a == 0.0 ? e : a;",
            "a, with an exact zero replaced by e",
        ),
        mp=lambda a, e: e if a == 0 else a, smooth=lambda a, e: a != 0,
    ),
    Helper(
        "xlogy", ("a", "b"), "a log(b) with 0 log(anything) = 0.",
        partials=("log(b)", "div0(a, b)"),
        regime="a * log(b)",
        array=_xlogy, array_autograd=_xlogy_safe,
        numba="xlogy", cuda="dv_xlogy",
        cuda_src=_inline(
            "dv_xlogy", "double a, double b", "return a == 0.0 ? 0.0 : a * log(b);",
            "a log(b) with 0 log(anything) = 0",
        ),
        mp=lambda a, b: 0 if a == 0 else a * _mp().log(b),
    ),
    Helper(
        "log1pmx", ("r",), "log(1 + r) - r, accurate also for tiny r.",
        partials=("-r / (1 + r)",),
        array=_log1pmx, numba="log1pmx", cuda="dv_log1pmx", cuda_src=_CUDA_LOG1PMX,
        mp=lambda r: _mp().log1p(r) - r,
    ),
    Helper(
        "kl_elem", ("a", "b"), "a log(a / b) - a + b (>= 0), without cancellation near a = b; "
        "kl_elem(0, b) = b and kl_elem(a, 0) = inf for a > 0.",
        partials=("where(a == 0, where(b == 0, inf, -inf), log(a) - log(b))", "1 - div0(a, b)"),
        regime="a * log(a) - a * log(b) - a + b",
        array=_kl_elem, array_autograd=_kl_elem_safe,
        numba="kl_elem", cuda="dv_kl_elem", cuda_src=_CUDA_KL_ELEM,
        mp=_mp_kl, nonnegative=True,
    ),
    Helper(
        "kl_mid", ("a", "b"), "kl_elem(a, (a + b) / 2) without rounding the midpoint.",
        partials=(
            # kl_mid(t, 0) = t (log 2 - 1/2) and kl_mid(0, t) = t / 2
            "where(a == 0, where(b == 0, log(2) - 0.5, -inf), log(2 * a) - log(a + b)"
            " + (b - a) / (2 * (a + b)))",
            "where(a + b == 0, 0.5, (b - a) / (2 * (a + b)))",
        ),
        # kl_elem(a, (a + b) / 2) = a log(2a / (a + b)) - a + (a + b) / 2
        regime="a * log(2 * a) - a * log(a + b) + (b - a) / 2",
        array=_kl_mid, array_autograd=_kl_mid_safe,
        numba="kl_mid", cuda="dv_kl_mid", cuda_src=_CUDA_KL_MID,
        mp=lambda a, b: _mp_kl(a, (a + b) / 2), nonnegative=True,
    ),
    Helper(
        "sqrt_diff_sq", ("a", "b"), "(sqrt(a) - sqrt(b))**2, computed as "
        "((a - b) / (sqrt(a) + sqrt(b)))**2 with 0 / 0 = 0.",
        partials=("1 - div0(sqrt(b), sqrt(a))", "1 - div0(sqrt(a), sqrt(b))"),
        regime="a - 2 * sqrt(a) * sqrt(b) + b",
        array=_sqrt_diff_sq, array_autograd=_sqrt_diff_sq_safe,
        numba="sqrt_diff_sq", cuda="dv_sqrt_diff_sq",
        cuda_src=_CUDA_SQRT_DIFF_SQ,
        mp=lambda a, b: (_mp().sqrt(a) - _mp().sqrt(b)) ** 2,
    ),
    Helper(
        "powm1", ("r", "a"), "(1 + r)**a - 1 computed as expm1(a log1p(r)): accurate near "
        "r = 0 and for r below the rounding of 1 + r (relative error about |a log1p(r)| ulps "
        "far from it, the conditioning of the power in a itself); 0 for a = 0 whatever r is, "
        "nan for r < -1. The stable form of power ratios near P = Q: "
        "(x / y)**a - 1 = powm1((x - y) / y, a).",
        partials=("a * exp((a - 1) * log1p(r))", "(powm1(r, a) + 1) * log1p(r)"),
        regime="(1 + r)**a - 1",
        array=_powm1, numba="powm1", cuda="dv_powm1", cuda_src=_CUDA_POWM1,
        mp=lambda r, a: 0 if a == 0 else (1 + r) ** a - 1,
    ),
]
for _h in _ENTRIES:
    assert len(_h.partials) == _h.arity, _h.name

#: every function of the expression language, by name
HELPERS: dict[str, Helper] = {h.name: h for h in _ENTRIES}
#: constants of the language
CONSTANTS = ("inf", "nan")


def has_autodiff(xp: Any) -> bool:
    """Whether arrays of namespace ``xp`` may be differentiated by autodiff (torch, JAX):
    every namespace but NumPy's and CuPy's.

    Examples
    --------
    >>> import array_api_compat.numpy
    >>> has_autodiff(array_api_compat.numpy)
    False
    """
    import array_api_compat

    return not (array_api_compat.is_numpy_namespace(xp) or array_api_compat.is_cupy_namespace(xp))


def array_vocabulary(xp: Any, *, autograd: bool | None = None) -> dict[str, Any]:
    """The vocabulary implemented with array namespace ``xp`` (every helper, the constants).

    Parameters
    ----------
    xp : array namespace
    autograd : bool, optional
        Use the helpers' autograd-safe forms (``Helper.array_autograd``: the same values,
        derivatives without NaN from branches not chosen). Default: where ``xp`` has
        autodiff (:func:`has_autodiff`); NumPy and CuPy take the shorter plain forms.

    Returns
    -------
    dict
        Name -> elementwise function (and the constants ``inf``, ``nan``).
    """
    if autograd is None:
        autograd = has_autodiff(xp)
    out: dict[str, Any] = {"inf": math.inf, "nan": math.nan}
    for h in _ENTRIES:
        make = h.array_autograd if autograd and h.array_autograd is not None else h.array
        out[h.name] = make(xp, out)
    return out


def scalar_vocabulary() -> dict[str, Any]:
    """The helpers with a Python-float implementation (for bounds expressions)."""
    out: dict[str, Any] = {h.name: h.scalar for h in _ENTRIES if h.scalar is not None}
    return out | {"inf": math.inf, "nan": math.nan}


def cuda_preamble() -> str:
    """The CUDA C definitions of every helper (in table order: later ones may call earlier)."""
    return "\n\n".join(h.cuda_src for h in _ENTRIES if h.cuda_src) + "\n"
