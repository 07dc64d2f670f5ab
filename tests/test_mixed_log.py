"""The per-pair sums of (alpha x + beta y) log(x + y) (divergences/kernels/mixed_log.py).

Checked against exact sums (mpmath logarithms, math.fsum) on shapes that are not multiples
of the kernel's lanes or chunks, with zeros, subnormals and both zero; the error stays
inside the bound the factored path's guard uses; the value of a pair does not depend on
its neighbours.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from divergences.kernels import factored, mixed_log

U = 2.0**-53


def exact(a: np.ndarray, b: np.ndarray, alpha: float, beta: float) -> tuple[float, float]:
    """(sum t_k, sum |t_k|), t_k = (alpha a_k + beta b_k) log(a_k + b_k), 0 log 0 = 0,
    each term at 40 digits from the exact float inputs."""
    terms = []
    with mpmath.workdps(40):
        for x, y in zip(a.tolist(), b.tolist(), strict=True):
            s = mpmath.mpf(x) + mpmath.mpf(y)
            if s == 0:
                continue
            terms.append((alpha * mpmath.mpf(x) + beta * mpmath.mpf(y)) * mpmath.log(s))
        total = mpmath.fsum(terms)
    return float(total), math.fsum(abs(float(t)) for t in terms)


def rows(m: int, d: int, seed: int, zeros: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.dirichlet(np.ones(d), size=m)
    if zeros:
        X *= rng.random((m, d)) >= zeros
    return X


@pytest.mark.parametrize(
    ("m", "n", "d"), [(1, 1, 1), (1, 9, 3), (7, 13, 5), (9, 2, 17), (3, 4, 300)]
)
@pytest.mark.parametrize(("alpha", "beta"), [(-1.0, -1.0), (-1.0, 0.0), (0.0, 2.5), (0.5, -3.0)])
def test_sums_equal_the_exact_sums(m, n, d, alpha, beta):
    A, B = rows(m, d, seed=m * d, zeros=0.3), rows(n, d, seed=n + d, zeros=0.3)
    if d > 1:
        A[0, 0] = B[0, 0] = 0.0  # both zero: 0 log 0 = 0
    V, W = mixed_log.sums(A, B, alpha, beta)
    assert V.shape == W.shape == (m, n)
    for i in range(m):
        for j in range(n):
            want, want_abs = exact(A[i], B[j], alpha, beta)
            scale = want_abs + (abs(alpha) * A[i].sum() + abs(beta) * B[j].sum())
            assert abs(V[i, j] - want) <= 8 * d * U * scale + 1e-300, (i, j, V[i, j], want)
            assert W[i, j] == pytest.approx(want_abs, rel=1e-12, abs=1e-300)


def test_error_within_the_guards_bound():
    """|V - exact| <= gamma(depth + margin) (W + sum |alpha x + beta y|), the bound
    the factored path adds per pair, on rows where log(x + y) crosses 0 and terms have both signs."""
    rng = np.random.default_rng(7)
    d = 203
    A = rng.random((5, d)) * rng.choice([1e-3, 1.0, 3.0], size=(5, d))
    B = rng.random((6, d)) * rng.choice([1e-3, 1.0, 3.0], size=(6, d))
    V, W = mixed_log.sums(A, B, -1.0, 0.75)
    gamma = factored.gamma(mixed_log.depth(d))
    for i in range(5):
        for j in range(6):
            want, _ = exact(A[i], B[j], -1.0, 0.75)
            bound = gamma * W[i, j] + factored.gamma(0) * (A[i].sum() + 0.75 * B[j].sum())
            assert abs(V[i, j] - want) <= bound


def test_subnormal_and_tiny_sums():
    A = np.array([[5e-324, 1e-310, 2.0**-1022, 1e-300, 0.5]])
    B = np.array([[0.0, 3e-310, 0.0, 1e-300, 0.5]])
    V, W = mixed_log.sums(A, B, -1.0, -1.0)
    want, want_abs = exact(A[0], B[0], -1.0, -1.0)
    assert V[0, 0] == pytest.approx(want, rel=1e-15)
    assert W[0, 0] == pytest.approx(want_abs, rel=1e-15)


def test_a_pair_does_not_depend_on_its_neighbours():
    """Lanes and padding: the same row against the same row gives the same bits wherever
    it sits in the block."""
    A, B = rows(19, 37, seed=3), rows(5, 37, seed=4)
    V, _ = mixed_log.sums(A, B, -1.0, -1.0)
    for i in (0, 7, 8, 18):
        Vi, _ = mixed_log.sums(A[i : i + 1], B, -1.0, -1.0)
        np.testing.assert_array_equal(Vi[0], V[i])
    np.testing.assert_array_equal(mixed_log.sums(A[:0], B, -1.0, -1.0)[0].shape, (0, 5))


def test_depth_counts_the_chunks():
    c = mixed_log.CHUNK
    assert mixed_log.depth(1) == c + 2
    assert mixed_log.depth(c) == c + 2
    assert mixed_log.depth(c + 1) == c + 3
    assert mixed_log.depth(256) == c + 256 // c + 1
