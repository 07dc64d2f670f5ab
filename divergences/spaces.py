"""Inputs in three spaces (probabilities, log-probabilities, logits) and the chain rule back.

A loss compares a model's output with a target; models emit logits or log-probabilities.
:func:`to_probs` turns a batch of rows of either into probabilities in float64 (logits are
divided by the temperature and max-shifted before the exponential, so no row overflows; a
log-probability down to about -745, float64's underflow, is still a positive probability:
float32 kernels lose tokens below about -104, which is Liger-Kernel's issue #1453), and
:func:`grad_from_probs` carries a gradient with respect to the probabilities back to the
space the input came in:

- ``probs``: unchanged;
- ``log_probs``: ``q * g`` (dq / d log q = q);
- ``logits``: ``(q * g - q * sum(q * g)) / temperature``, the softmax's Jacobian.

Every product ``q * g`` is 0 where q is 0 (an underflowed probability has no gradient even
where ``g`` is infinite), never ``0 * inf = NaN``.

Each function takes ``xp``, the array module of its arrays: NumPy by default, CuPy for the
CUDA tensors of :mod:`divergences.torch` (the same calls exist in both).
"""

from __future__ import annotations

from typing import Any

import numpy as np

SPACES = ("probs", "log_probs", "logits")


def check_space(space: str, arg: str) -> str:
    """``space`` if it is one of :data:`SPACES`, else ``ValueError`` naming ``arg``."""
    if space not in SPACES:
        raise ValueError(f"{arg}={space!r} is not one of {SPACES}")
    return space


def to_probs(X: np.ndarray, space: str, temperature: float = 1.0, xp: Any = np) -> np.ndarray:
    """Rows of ``X`` (in ``space``) as probabilities, float64 (a new array).

    Examples
    --------
    >>> to_probs(np.array([[0.0, np.log(3.0)]]), "logits").round(6).tolist()
    [[0.25, 0.75]]
    """
    X = xp.asarray(X, dtype=xp.float64)
    if space == "probs":
        return X.copy()
    if space == "log_probs":
        return xp.exp(X)
    Z = X / temperature
    top = xp.max(Z, axis=-1, keepdims=True)
    # a row of -inf only (every logit masked) has no distribution: its shift is 0, so the
    # row becomes 0 / 0 = NaN, which the loss reports rather than hides
    top = xp.where(xp.isfinite(top), top, 0.0)
    E = xp.exp(Z - top)
    return E / xp.sum(E, axis=-1, keepdims=True)


def mul0(q: Any, g: Any, xp: Any = np) -> Any:
    """``q * g`` with 0 where ``q`` is 0 (also where ``g`` is infinite)."""
    with np.errstate(invalid="ignore"):
        return xp.where(q == 0, 0.0, q * g)


def grad_from_probs(
    G: np.ndarray, Q: np.ndarray, space: str, temperature: float = 1.0, xp: Any = np
) -> np.ndarray:
    """The gradient with respect to the input in ``space`` from ``G = dL/dQ``.

    ``Q`` are the probabilities the input became (:func:`to_probs`).
    """
    if space == "probs":
        return G
    qg = mul0(Q, G, xp)
    if space == "log_probs":
        return qg
    # mul0 here too: a coordinate with q = 0 (a logit masked with -inf) has gradient 0 even
    # where the row's sum is infinite (the value is infinite there), not 0 * inf = NaN
    return (qg - mul0(Q, xp.sum(qg, axis=-1, keepdims=True), xp)) / temperature


def rowwise(
    measure: Any,
    inp: np.ndarray,
    tgt: np.ndarray,
    *,
    input_space: str,
    target_space: str,
    temperature: float,
    reverse: bool,
    options: dict[str, Any],
    keep: np.ndarray | None = None,
    xp: Any = np,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values ``measure(P = tgt[i], Q = inp[i])`` (swapped with ``reverse``) of (N, V) rows
    and the gradients with respect to ``inp`` and ``tgt`` in their spaces (float64).

    Rows where ``keep`` is False are not computed: value 0, gradient 0 (a padding row of
    -inf logits is never read). ``xp``: the array module of the rows (NumPy, or CuPy for
    rows on a CUDA device, where :func:`divergences.paired_grad` takes the cupy back end).
    """
    from .gradients import paired_grad

    n, dim = inp.shape
    v = xp.zeros(n, dtype=xp.float64)
    gi = xp.zeros((n, dim), dtype=xp.float64)
    gt = xp.zeros((n, dim), dtype=xp.float64)
    rows = xp.arange(n) if keep is None else xp.flatnonzero(xp.asarray(keep, dtype=bool))
    if rows.size == 0:
        return v, gi, gt
    if keep is not None:
        inp, tgt = inp[rows], tgt[rows]
    Q = to_probs(inp, input_space, temperature, xp)
    P = to_probs(tgt, target_space, temperature, xp)
    A, B = (Q, P) if reverse else (P, Q)
    vv, gA, gB = paired_grad(A, B, measure, **options)
    gP, gQ = (gB, gA) if reverse else (gA, gB)
    v[rows] = vv
    gi[rows] = grad_from_probs(gQ, Q, input_space, temperature, xp)
    gt[rows] = grad_from_probs(gP, P, target_space, temperature, xp)
    return v, gi, gt
