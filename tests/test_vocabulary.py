"""Conformance of the vocabulary table (divergences/vocabulary.py), derived from the table.

For every entry of ``HELPERS`` (nothing listed here by hand) the value and each partial
derivative are evaluated by every back end: the array API (NumPy), Numba (scalar code from
the Numba printer) and CUDA C (the generated preamble and the CUDA printer, compiled with
g++ behind tests/cuda_shim.py), on the grid {0, subnormal, tiny, 1e-8, 1/2, 1, 2, huge,
inf, nan, -1/2} in every argument. The back ends must agree with each other everywhere
(NaN where NaN, infinities exactly, finite values within 1e-13); where the arguments are
finite, the values must agree with the entry's mpmath meaning at 1000 digits (1e-12), and
at finite positive points the partial derivatives with mpmath's numerical derivative of
that meaning (1e-10; points where a helper is not smooth, a tie of min/max, excluded).
"""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest

from divergences.expr import compile_with
from divergences.kernels import codegen, cuda_source
from divergences.kernels.helpers import vocabulary
from divergences.vocabulary import HELPERS

GRID = (0.0, 5e-324, 1e-300, 1e-8, 0.5, 1.0, 2.0, 1e300, math.inf, math.nan, -0.5)
COND = (0.0, 1.0, math.nan)  # where's condition
SMOOTH = (5e-324, 1e-300, 1e-8, 0.5, 1.0, 2.0)
NAMES = sorted(HELPERS)


def exprs(name: str) -> list[str]:
    """The helper's value and its partial derivatives, as expressions of the language."""
    h = HELPERS[name]
    return [f"{name}({', '.join(h.args)})", *h.partials]


def grid(name: str) -> np.ndarray:
    """(arity, points) argument values: every combination of the grid."""
    h = HELPERS[name]
    values = tuple(v for v in GRID if not (h.nonnegative and v < 0))
    axes = [COND if (name == "where" and i == 0) else values for i in range(h.arity)]
    return np.array(list(itertools.product(*axes)), dtype=np.float64).T.copy()


def by_numpy(name: str, A: np.ndarray) -> np.ndarray:
    V = vocabulary(np)
    env = dict(zip(HELPERS[name].args, A, strict=True))
    with np.errstate(all="ignore"):
        return np.array(
            [np.broadcast_to(compile_with(src, V)(**env), A.shape[1]) for src in exprs(name)]
        )


def by_numba(name: str, A: np.ndarray) -> np.ndarray:
    import numba

    h = HELPERS[name]
    lines = [
        "import math",
        f"from divergences.kernels.numba_helpers import {', '.join(codegen.HELPER_IMPORTS)}",
        "def run(A, out):",
        "    for i in range(A.shape[1]):",
        *(f"        {a} = A[{k}, i]" for k, a in enumerate(h.args)),
        *(
            f"        out[{k}, i] = {codegen.scalar_source(src, {})}"
            for k, src in enumerate(exprs(name))
        ),
    ]
    ns: dict = {}
    exec("\n".join(lines), ns)
    fn = numba.njit(error_model="numpy")(ns["run"])
    out = np.empty((len(exprs(name)), A.shape[1]))
    fn(A, out)
    return out


@pytest.fixture(scope="module")
def cuda_module():
    """One module with a kernel per helper, compiled once by g++ behind the shim."""
    from cuda_shim import ShimModule

    parts = [cuda_source.preamble()]
    for name in NAMES:
        h = HELPERS[name]
        names = {a: a for a in h.args}
        body = [f"    double {a} = A[{k} * n + i];" for k, a in enumerate(h.args)]
        body += [
            f"    out[{k} * n + i] = {cuda_source.c_expression(src, names)};"
            for k, src in enumerate(exprs(name))
        ]
        parts.append(
            f'extern "C" __global__ void k_{name}(const double* A, double* out, long long n) {{\n'
            "    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n"
            "    if (i >= n) return;\n" + "\n".join(body) + "\n}"
        )
    return ShimModule("\n".join(parts))


def by_cuda(module, name: str, A: np.ndarray) -> np.ndarray:
    n = A.shape[1]
    out = np.zeros((len(exprs(name)), n))
    module.get_function(f"k_{name}")(((n + 63) // 64,), (64,), (A, out, np.int64(n)))
    return out


def agree(got: np.ndarray, want: np.ndarray, rel: float) -> np.ndarray:
    """Elementwise: NaN where NaN, infinities exactly, finite within rel (or 1e-305)."""
    with np.errstate(all="ignore"):
        fin = np.isfinite(want)
        close = np.abs(got - want) <= rel * np.abs(want) + 1e-305
        return np.where(
            np.isnan(want), np.isnan(got), np.where(fin, close & np.isfinite(got), got == want)
        )


def report(name: str, A: np.ndarray, ok: np.ndarray, got, want) -> str:
    bad = np.argwhere(~ok)[:5]
    return "; ".join(
        f"{exprs(name)[k]} at {tuple(A[:, i])}: {got[k, i]!r} vs {want[k, i]!r}" for k, i in bad
    )


@pytest.mark.parametrize("name", NAMES)
def test_numba_equals_numpy(name):
    A = grid(name)
    want, got = by_numpy(name, A), by_numba(name, A)
    ok = agree(got, want, 1e-13)
    assert ok.all(), report(name, A, ok, got, want)


@pytest.mark.parametrize("name", NAMES)
def test_cuda_equals_numpy(name, cuda_module):
    A = grid(name)
    want, got = by_numpy(name, A), by_cuda(cuda_module, name, A)
    ok = agree(got, want, 1e-13)
    assert ok.all(), report(name, A, ok, got, want)


def to_float(v) -> float:
    if isinstance(v, bool):
        return float(v)
    try:
        return float(v)
    except OverflowError:
        return math.copysign(math.inf, float(mpmath.sign(v)))


@pytest.mark.parametrize("name", NAMES)
def test_values_equal_the_mpmath_meaning(name):
    h = HELPERS[name]
    A = grid(name)
    got = by_numpy(name, A)[0]
    checked = 0
    with mpmath.workdps(1000):  # 1 + 5e-324 must not round
        for i in range(A.shape[1]):
            args = A[:, i]
            if not np.isfinite(args).all():
                continue
            try:
                want = h.mp(*(mpmath.mpf(float(a)) for a in args))
            except (ValueError, ZeroDivisionError):
                continue
            if isinstance(want, mpmath.mpc) or (
                not isinstance(want, (int, bool)) and mpmath.isnan(want)
            ):
                continue
            w = to_float(want)
            ok = agree(np.array([got[i]]), np.array([w]), 1e-12)[0]
            assert ok, (name, tuple(args), got[i], w)
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize("name", NAMES)
def test_partials_equal_mpmath_derivatives(name):
    h = HELPERS[name]
    A = grid(name)
    keep = [
        i
        for i in range(A.shape[1])
        if all(a in SMOOTH or (name == "where" and k == 0) for k, a in enumerate(A[:, i]))
        and h.smooth(*A[:, i])
    ]
    A = A[:, keep]
    got = by_numpy(name, A)[1:]
    checked = 0
    with mpmath.workdps(1000):
        for i in range(A.shape[1]):
            args = [mpmath.mpf(float(a)) for a in A[:, i]]
            for k, partial in enumerate(h.partials):
                if partial == "0":  # where's condition: no derivative, by definition
                    continue

                def f(t, k=k, args=args):
                    return h.mp(*args[:k], t, *args[k + 1 :])

                step = abs(args[k]) * mpmath.mpf("1e-200")
                want = to_float(mpmath.diff(f, args[k], h=step))
                ok = agree(np.array([got[k, i]]), np.array([want]), 1e-10)[0]
                assert ok, (partial, tuple(A[:, i]), got[k, i], want)
                checked += 1
    assert checked >= 1


EDGE = (0.0, 0.5, 2.0)


@pytest.mark.parametrize("name", NAMES)
def test_partials_at_zero_are_the_one_sided_limits(name):
    """Where an argument is 0 (the edge of the domain): a finite partial equals the one-sided
    difference quotient (f(0 + h) - f(0)) / h at h = 1e-300 (mpmath, 1000 digits); an
    infinite one has the quotient's sign, and the quotient grows as h shrinks. Points where
    the helper is not smooth (nz at 0, ties, abs at 0) carry a stated convention instead."""
    h = HELPERS[name]
    if h.arity == 3:  # where: its branches' partials are 0/1 selections, checked above
        return
    pts = [p for p in itertools.product(EDGE, repeat=h.arity) if 0.0 in p and h.smooth(*p)]
    A = np.array(pts, dtype=np.float64).T.copy().reshape(h.arity, -1)
    got = by_numpy(name, A)[1:]
    checked = 0
    with mpmath.workdps(1000):
        for i, p in enumerate(pts):
            args = [mpmath.mpf(a) for a in p]
            for k in range(h.arity):
                if p[k] != 0.0:
                    continue

                def quotient(step, k=k, args=args):
                    moved = [*args[:k], args[k] + step, *args[k + 1 :]]
                    return (h.mp(*moved) - h.mp(*args)) / step

                q1, q2 = quotient(mpmath.mpf("1e-150")), quotient(mpmath.mpf("1e-300"))
                g = got[k, i]
                assert not math.isnan(g), (h.partials[k], p)
                if math.isinf(g):
                    assert mpmath.sign(q2) == math.copysign(1, g), (h.partials[k], p, g, q2)
                    assert mpmath.isinf(q2) or abs(q2) > abs(q1), (h.partials[k], p, q1, q2)
                else:
                    assert abs(g - to_float(q2)) <= 1e-10 * max(1.0, abs(g)), (h.partials[k], p, g)
                checked += 1
    assert checked >= 1 or not pts  # abs: 0 is its kink, a convention


def test_the_table_is_the_language():
    """Every entry has one partial per argument, each an expression of the language, and
    every back end names an implementation (or translates it itself, as where)."""
    from divergences.expr import FUNCTIONS, check_expression

    assert FUNCTIONS == {n: h.arity for n, h in HELPERS.items()}
    for name, h in HELPERS.items():
        for src in h.partials:
            check_expression(src, set(h.args))
        assert name == "where" or (h.numba and h.cuda), name
