"""The range of float64 at the edges: row scaling against under/overflow, and clamping to
the bounds the mathematics guarantees.

Both are derived from the definitions, never listed by hand:

Scaling (issue 13, item 3)
    A measure whose accumulators are sums of *polynomial* terms (``x * y``, ``x * x``,
    ``(x - y)**2``: no division, root, logarithm, min or max) squares its entries, so
    ``1e-170`` (its square underflows) or ``1e300`` (overflows) broke cosine, Jaccard, Dice and
    Kumar-Hassebrook with NaN or inf where the value is an ordinary number.  Where such a
    measure's value does not change when the rows are multiplied by a power of two (checked
    numerically on the reference implementation, once per measure), the inputs are rescaled
    by exact powers of two before computing:

    * each row by its own factor where the value is unchanged by scaling either row alone
      (cosine similarity and distance): every row whose largest magnitude lies outside
      ``[2**-SAFE_EXPONENT, 2**SAFE_EXPONENT]``;
    * all rows of the call by one factor where only a common scale leaves the value
      unchanged (Kumar-Hassebrook, Jaccard, Dice): chosen from the largest magnitude of
      both inputs. A pair of rows both ``2**SAFE_EXPONENT`` times smaller than the largest
      row of the same call can still underflow (compute such rows in a call of their own).

    * each pair of rows of the row-wise values (``paired``, ``paired_grad``) by one factor
      chosen from the pair alone (:func:`scale_pairs`; the gradients follow the chain rule
      of the exact scaling).

    So only a truly all-zero row gives the documented NaN.  Scaling by powers of two is
    exact, and only rows (or calls) outside the safe range are touched.

Clamping (issue 13, item 4)
    Rounding put values a few ulps outside their own bounds (``scipy:cosine`` of a vector
    with itself ``-2.2e-16``, cosine ``1.0000000000000002``, Bhattacharyya ``-4e-16`` on
    identical probability rows).  With ``zero="strict"`` (the mathematics), results are
    clamped to

    * ``Bounds.anywhere`` (the range on every input of the domain, where a definition gives
      one), else ``[0, inf]`` when the ``nonnegative`` claim holds on the whole domain;
    * the definition's ``bounds`` (the range on probability vectors) for pairs of rows that
      are probability vectors (non-negative, summing to 1 within ``PDF_SUM_TOL * d``).

    The rows are judged as given (before any rescaling), for every operation (``pair``,
    ``cdist``, ``pdist``, ``paired``, ``paired_grad``'s values). NaN stays NaN;
    ``zero="epsilon"`` (philentropy's values) is never clamped.
"""

from __future__ import annotations

import ast
import functools
import math
from typing import Any

import numpy as np

from .expr import parse
from .spec import Measure

#: rows whose largest magnitude lies in [2**-SAFE_EXPONENT, 2**SAFE_EXPONENT] are left alone:
#: their squares and products stay normal numbers, and sums of up to 2**250 of them finite
SAFE_EXPONENT = 250
#: a row is a probability vector when it is non-negative and |sum - 1| <= PDF_SUM_TOL * d
PDF_SUM_TOL = 2.0**-40


# -- scaling ---------------------------------------------------------------------------------
def _polynomial(src: str) -> bool:
    """Whether ``src`` is a polynomial in x and y (``+ - *``, constant integer powers)."""
    for node in ast.walk(parse(src).body):
        if isinstance(node, ast.Call):
            return False
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return False
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            if not (isinstance(node.right, ast.Constant) and float(node.right.value).is_integer()):
                return False
        if isinstance(node, ast.Name) and node.id not in ("x", "y"):
            return False
    return True


@functools.cache
def scaling(measure: Measure) -> str | None:
    """``"rows"`` (each row scaled alone), ``"common"`` (one factor per call) or None."""
    rules = [r for r in (measure.strict, measure.epsilon) if r is not None]
    if not all(_polynomial(a.term) for r in rules for a in r.accumulators.values()):
        return None
    from .kernels.reference import evaluate_rows

    rng = np.random.default_rng(0)
    A = rng.random((3, 5)) + 0.1
    B = rng.random((4, 5)) + 0.1
    if measure.domain == "real":
        A[:, 0] *= -1.0

    def f(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return evaluate_rows(
            measure, a, b, zero="strict", eps=1e-5, params=measure.param_defaults(), xp=np
        )

    base = f(A, B)

    def same(v: np.ndarray) -> bool:
        return bool(np.allclose(v, base, rtol=1e-12, atol=0.0))

    k = 2.0**9
    if same(f(A * k, B)) and same(f(A, B / k)):
        return "rows"
    if same(f(A * k, B * k)) and same(f(A / k, B / k)):
        return "common"
    return None


def _exponents(m: Any, xp: Any) -> Any:
    """floor(log2(m)) + 1 of positive finite values (frexp's exponent)."""
    if isinstance(m, np.ndarray):
        return np.frexp(m)[1].astype(np.float64)
    return xp.floor(xp.log2(m)) + 1.0


def _row_max(X: Any, xp: Any) -> Any:
    return xp.max(xp.abs(X), axis=1)


def _outside(mx: Any, xp: Any) -> Any:
    lo, hi = 2.0**-SAFE_EXPONENT, 2.0**SAFE_EXPONENT
    return (mx > 0) & ((mx < lo) | (mx > hi)) & xp.isfinite(mx)


def scale_inputs(
    measure: Measure, arrays: list[Any], xp: Any, kinds: tuple[str, ...] = ("rows", "common")
) -> list[Any]:
    """The inputs rescaled by powers of two where ``measure`` needs and allows it (new
    arrays; inputs are never modified), the same objects otherwise. An input passed twice
    (``cdist(X, X)``) stays one object. ``kinds``: the scalings to apply (``rows`` keeps
    every value independent of the other rows; ``common`` is per call)."""
    how = scaling(measure)
    if how not in kinds or not arrays or any(a.shape[0] == 0 for a in arrays):
        return arrays
    maxes = [_row_max(a, xp) for a in arrays]
    if how == "rows":
        out: dict[int, Any] = {}
        for a, mx in zip(arrays, maxes, strict=True):
            if id(a) not in out:
                f = _row_factors(mx, xp)
                out[id(a)] = a if f is None else a * f
        return [out[id(a)] for a in arrays]
    top = max(float(xp.max(mx)) for mx in maxes)
    if not (top > 0 and math.isfinite(top)) or 2.0**-SAFE_EXPONENT <= top <= 2.0**SAFE_EXPONENT:
        return arrays
    factor = 2.0 ** (-math.frexp(top)[1])
    scaled: dict[int, Any] = {}
    return [scaled.setdefault(id(a), a * factor) for a in arrays]


def _row_factors(mx: Any, xp: Any) -> Any:
    """A column of powers of two bringing each row's largest magnitude ``mx`` into the safe
    range (1 for rows already there), or None when every row is."""
    bad = _outside(mx, xp)
    if not bool(xp.any(bad)):
        return None
    e = xp.where(bad, _exponents(xp.where(bad, mx, 1.0), xp), 0.0)
    return xp.reshape(2.0 ** (-e), (-1, 1))


def scale_pairs(measure: Measure, A: Any, B: Any, xp: Any) -> tuple[Any, Any, Any, Any]:
    """Paired rows (row i of ``A`` with row i of ``B``) rescaled by powers of two where
    ``measure`` needs and allows it: each row by its own factor (``rows``), or both rows of
    a pair by one factor chosen from the pair alone (``common``), so that the value of a
    pair never depends on the other rows. Returns ``(SA, SB, fA, fB)``: the rows used and
    their factors (columns; None where nothing was scaled), ``SA = A * fA``."""
    how = scaling(measure)
    if how is None or A.shape[0] == 0:
        return A, B, None, None
    ma, mb = _row_max(A, xp), _row_max(B, xp)
    if how == "rows":
        fa, fb = _row_factors(ma, xp), _row_factors(mb, xp)
    else:
        fa = fb = _row_factors(xp.maximum(ma, mb), xp)
    return (A if fa is None else A * fa), (B if fb is None else B * fb), fa, fb


# -- clamping --------------------------------------------------------------------------------
def anywhere(measure: Measure, params: dict[str, float], d: int) -> tuple[float, float]:
    """The range of ``measure`` on every input of its domain: ``Bounds.anywhere`` where the
    definition gives it, else [0, inf] where the ``nonnegative`` claim always holds."""
    if measure.bounds.anywhere is not None:
        from .expr import evaluate_scalar

        ns = {"d": float(d), **params}
        lo, hi = measure.bounds.anywhere
        return evaluate_scalar(lo, ns), evaluate_scalar(hi, ns)
    if measure.properties.nonnegative.holds == "always":
        return 0.0, math.inf
    return -math.inf, math.inf


def pdf_rows(X: Any, xp: Any) -> Any:
    """Which rows of X are probability vectors (to float64 rounding: the sum is taken in
    float64, so float32 rows and their float64 copies get the same answer)."""
    d = X.shape[1]
    s = xp.sum(X, axis=1, dtype=xp.float64)
    return xp.all(X >= 0, axis=1) & (xp.abs(s - 1.0) <= PDF_SUM_TOL * max(d, 1))


def _clip(D: Any, lo: float, hi: float, xp: Any, mask: Any = None) -> Any:
    if lo == -math.inf and hi == math.inf:
        return D
    if isinstance(D, np.ndarray) and mask is None:
        return np.clip(D, lo, hi, out=D if D.flags.writeable else None)
    lo_hit, hi_hit = D < lo, D > hi
    if mask is not None:
        lo_hit, hi_hit = lo_hit & mask, hi_hit & mask
    return xp.where(lo_hit, lo, xp.where(hi_hit, hi, D))


def outside(
    measure: Measure,
    D: Any,
    A: Any,
    B: Any,
    *,
    xp: Any,
    condensed: bool = False,
    paired: bool = False,
) -> Any:
    """``D`` with ``measure.outside_domain`` where ``A``'s or ``B``'s row holds an entry
    outside ``measure.domain`` (negative, for a non-negative domain). Only an alias that
    widens the domain lets such rows through the input checks (``scipy:jensenshannon``:
    scipy's value there is +inf)."""
    if measure.outside_domain is None or measure.domain != "nonnegative":
        return D
    na = xp.any(A < 0, axis=1)
    nb = na if condensed else xp.any(B < 0, axis=1)
    if not (bool(xp.any(na)) or bool(xp.any(nb))):
        return D
    if condensed:
        i, j = np.triu_indices(A.shape[0], k=1)
        nan_ = np.asarray(na)
        hit = xp.asarray(nan_[i] | nan_[j])
    elif paired:
        hit = na | nb
    else:
        hit = xp.reshape(na, (-1, 1)) | xp.reshape(nb, (1, -1))
    return xp.where(hit, measure.outside_domain, D)


def clamp(
    measure: Measure,
    D: Any,
    A: Any,
    B: Any,
    *,
    zero: str,
    params: dict[str, float],
    xp: Any,
    condensed: bool = False,
    paired: bool = False,
) -> Any:
    """``D`` (``A`` rows against ``B`` rows; scipy's condensed layout of ``A`` against
    itself when ``condensed``; row i of ``A`` against row i of ``B``, shape (m,), when
    ``paired``) clamped to the bounds the mathematics guarantees. A
    measure without an epsilon rule computes its strict rule under ``zero="epsilon"`` too,
    so it is clamped in both modes (the two modes give the same values). Pairs with a row
    outside the measure's domain get its ``outside_domain`` value (see :func:`outside`)."""
    if D.shape[0] == 0:
        return D
    D = outside(measure, D, A, B, xp=xp, condensed=condensed, paired=paired)
    if zero != "strict" and measure.has_epsilon_rule:
        return D
    d = A.shape[1]
    D = _clip(D, *anywhere(measure, params, d), xp)
    lo, hi = measure.bounds.evaluate(d, params)
    pa = pdf_rows(A, xp)
    pb = pa if condensed else pdf_rows(B, xp)
    if paired:
        both = pa & pb
        if bool(xp.all(both)):
            return _clip(D, lo, hi, xp)
        return _clip(D, lo, hi, xp, both) if bool(xp.any(both)) else D
    if bool(xp.all(pa)) and bool(xp.all(pb)):
        return _clip(D, lo, hi, xp)
    if not (bool(xp.any(pa)) and bool(xp.any(pb))):
        return D
    if condensed:
        i, j = np.triu_indices(A.shape[0], k=1)
        pan = np.asarray(pa) if isinstance(D, np.ndarray) else None
        if pan is None:
            return D  # condensed masks on other array types: the general bounds only
        mask = pan[i] & pan[j]
    else:
        mask = xp.reshape(pa, (-1, 1)) & xp.reshape(pb, (1, -1))
    return _clip(D, lo, hi, xp, mask)
