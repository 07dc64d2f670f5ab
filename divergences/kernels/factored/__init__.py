"""Factored evaluation: accumulators as per-row terms and matrix products, with a guard.

Modules, by concern: :mod:`.expansion` (a term into separable monomials), :mod:`.planning`
(how each accumulator of a measure is summed), :mod:`.assembly` (per-row sums, factor
matrices, zero corrections, value and bound per block), :mod:`.bounds` (rounding bounds and
their propagation through the finalize) and :mod:`.driver` (blocks, guard, recomputation).
No module keeps state between calls: :func:`cdist_stats` returns what a call recomputed.

An accumulator whose term expands into a sum of separable monomials
``c * f(x) * g(y)`` sums to per-row sums of ``f(XA)``, per-row sums of ``g(XB)`` and matrix
products ``f(XA) @ g(XB).T``; the measure's finalize then runs vectorised. Nothing is
listed by hand: the expansion is derived from the definition's expression (see
:func:`expand`). Terms that are literally ``f(x) * g(y)`` or one-sided (cosine, inner
product, fidelity, ...) are *plain*: they sum the same products as the direct kernel, in
another order, and run as before.

A pair's value is a function of the pair alone
------------------------------------------------
Every product is summed pair by pair over k = 0..d-1 in order by the direct kernel of the
inner product (:func:`.assembly.dot`), not by BLAS, whose blocking and edge kernels follow
the shapes (identical rows got values 1 ulp apart; 24 measures changed a row's values with
the other rows of the call); per-row sums are per row; the error bound of a pair is made of
its own terms (``sum |terms|`` as one more product where the terms' signs are mixed, the
|corrections| at its own zeros); and the guard's recomputation writes only the pairs it
rejects, with the direct cdist kernel (whose values do not depend on the call either). So
``cdist(Q[:7], DB) == cdist(Q, DB)[:7]`` and identical rows give identical values. The XB
side (factor matrices, sums, zero masks and corrections) can be prepared once
(:func:`prepare_rows`) and used by any number of calls (:func:`cdist_prepared`): the
database of :class:`divergences.Index` and of ``knn``.

Expansion
---------
The expansion is an identity on the *regime* x != 0, y != 0 (and x, y > 0 for measures of
the non-negative domain): polynomial arithmetic (``+ - *``, integer powers, division by a
single non-zero monomial, so ``(x - y)**2 / y = x**2 / y - 2 x + y``), ``log`` and ``sqrt``
of a positive monomial (``log(x / y) = log x - log y``), and a small declarative table of
the zero-rule helpers' meaning in that regime (:data:`TEMPLATES`: ``kl_elem(a, b)`` is
``a log a - a log b - a + b``, ``sqrt_diff_sq(a, b)`` is ``a - 2 sqrt(a) sqrt(b) + b``,
``div0(a, b)`` is ``a / b``, ``kl_mid(a, b)`` is ``a log(2a) - a log(a + b) + (b - a) / 2``,
...). One atom of both sides is allowed: ``log(c (x + y))``, in monomials ``x log(x + y)``
and ``y log(x + y)``, whose per-pair sums :mod:`divergences.kernels.mixed_log` computes with
one logarithm per element (the Jensen-Shannon family: JS, Topsoe, Jensen difference, K
divergence). Anything else (``min``, ``abs`` of a difference, other logs of sums: Taneja,
Canberra, ...) is not separable and runs direct.

Zeros, exactly as the definition says
-------------------------------------
Coordinates outside the regime get their exact value from the definition: where
``XB[j, k] = 0`` the term is ``T(x, 0)``, a function of x alone, so the difference
``T(x, 0) - P(x, 0)`` between it and what the monomials gave there is added with a product
``C(XA) @ [XB == 0].T`` (likewise for ``XA == 0`` and for both zero). Infinite or NaN
values of ``T(x, 0)`` (``p ln(p / 0)``, ``p^2 / 0``) are never summed: their coordinates are
counted with products of indicators (``(P > 0) @ (Q == 0).T``), and a pair with a count gets
``+inf`` / ``-inf`` / NaN, as the direct kernel's sum would. Monomial factors that are not
finite at a zero (``log 0``) are taken as 0 there (the correction accounts for it).

Accuracy: the guard
-------------------
An expanded form cancels: near P = Q, KL = sum P log P - P . log Q is tiny against its
terms. For every pair the factored path bounds its error: each expanded accumulator's
rounding error is at most ``gamma_n * S`` (``gamma_n = n u / (1 - n u)``, ``u = 2^-53``,
``n`` the summation depth plus a margin for the elementary functions, ``S`` the sum of the
absolute values of the summed products: ``|F @ G|`` itself where the products have one
sign, ``|F| @ |G|`` where each product has one sign but their coefficients do not, else the
Cauchy-Schwarz bound ``||F_i|| ||G_j||``), and the bound is carried through
the finalize with interval-style rules (``|d(a/b)| <= (e_a + |a/b| e_b) / (|b| - e_b)``, ...).
Per-row sums are taken in extended precision where numpy's longdouble has it (x86: 64 bits),
so they count with their final rounding only (``gamma_0``), and the mixed sums with the
kernel's chunked depth (about 32 for d = 256, not d): the Jensen-Shannon family's bound is
then about 1e-13 relative on independent probability rows, well inside REL_TOL.
Plain accumulators count as exact (they are the direct kernel's sums). A pair whose bound
exceeds :data:`REL_TOL` times its value (or is not finite, or whose value is NaN) is
recomputed with the direct kernel, as are rows holding non-finite values or non-zero
magnitudes outside ``[2^-200, 2^200]`` (where ``x * y`` or ``x / y`` could under- or
overflow, which the regime's identities exclude). So ``method="auto"`` and
``method="factored"`` (the same path: the guard is not optional there) are within
``REL_TOL`` of the exactly rounded formula wherever they use the factored value, and
equal to the direct kernel elsewhere. :func:`cdist` with ``guard=False`` gives the raw
factored form (benchmarks, tests).
"""

from .bounds import gamma
from .driver import REL_TOL, Prepared, Stats, cdist, cdist_prepared, cdist_stats, prepare_rows
from .expansion import TEMPLATES, Mono, NotSeparableError, Split, expand
from .planning import Expanded, Plan, factorable, plan

__all__ = [
    "REL_TOL",
    "TEMPLATES",
    "Expanded",
    "Mono",
    "NotSeparableError",
    "Plan",
    "Prepared",
    "Split",
    "Stats",
    "cdist",
    "cdist_prepared",
    "cdist_stats",
    "expand",
    "factorable",
    "gamma",
    "plan",
    "prepare_rows",
]
