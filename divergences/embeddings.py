"""Exact embeddings: measures that are a monotone function of an L2 distance or an inner
product after a per-row transform, for vector indexes (faiss, hnswlib, ...).

The registry records each embedding as a claim with its derivation
(``measure.embedding``, a :class:`~divergences.spec.Embedding`); the tests check every one
against :func:`divergences.cdist` on random rows with zero bins. :func:`embedding` turns the
record into functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .expr import compile_with
from .registry import resolve
from .spec import Measure
from .validation import InputError, check_options

__all__ = ["ExactEmbedding", "embedding", "embedding_measures"]


def _identity(X: np.ndarray) -> np.ndarray:
    return X


def _sqrt(X: np.ndarray) -> np.ndarray:
    return np.sqrt(X)


def _unit(X: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, X / np.where(norms > 0, norms, 1.0), 0.0)


_TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": _identity,
    "sqrt": _sqrt,
    "unit": _unit,
}


@dataclass(frozen=True)
class ExactEmbedding:
    """A measure as a monotone function of an index metric after a per-row transform.

    Attributes
    ----------
    measure : Measure
    transform : callable
        ``transform(X)``: the rows mapped (an ``(n, d)`` float array; ``unit`` maps an
        all-zero row to zeros: the measure is NaN there, so an index must re-rank it).
    metric : {"l2", "ip"}
        ``l2``: the index compares ``r = ||T(P) - T(Q)||``; ``ip``: ``r = <T(P), T(Q)>``.
    back : callable
        ``back(r)``: the measure's values from the index's ``r`` (an array).
    larger_is_nearer : bool
        Whether a larger ``r`` means a nearer row for this measure (``ip`` and a
        dissimilarity decreasing in it, e.g. Bhattacharyya; or ``ip`` and a similarity).
    evidence : str
        The derivation recorded in the registry.
    """

    measure: Measure
    transform: Callable[[np.ndarray], np.ndarray]
    metric: str
    back: Callable[[np.ndarray], np.ndarray]
    larger_is_nearer: bool
    evidence: str


def embedding_measures() -> list[Measure]:
    """The measures of the catalog with an exact embedding claim."""
    from .registry import measures

    return [m for m in measures() if m.embedding is not None]


def embedding(
    measure: str | Measure, /, *, zero: str = "strict", epsilon: float = 1e-5, **params: Any
) -> ExactEmbedding:
    """The exact embedding of ``measure``: transform, index metric and the map back.

    Parameters
    ----------
    measure : str or Measure
        A measure whose registry record claims an embedding (Hellinger, Matusita,
        squared chord, fidelity, Bhattacharyya via sqrt P; cosine via unit rows;
        Euclidean and squared Euclidean themselves; ...).
    zero : {"strict", "epsilon"}
        The zero mode the values follow.
    epsilon : float
    **params
        Measure parameters (``base``).

    Returns
    -------
    ExactEmbedding

    Raises
    ------
    InputError
        For a measure without an embedding claim (naming those that have one), or a zero
        mode the claim does not cover.

    Examples
    --------
    >>> import numpy as np, divergences as dv
    >>> e = dv.embedding("hellinger")
    >>> e.metric
    'l2'
    >>> P, Q = np.array([[0.5, 0.5]]), np.array([[0.9, 0.1]])
    >>> r = np.linalg.norm(e.transform(P) - e.transform(Q), axis=1)
    >>> bool(np.isclose(e.back(r)[0], dv.pair(P[0], Q[0], "hellinger")))
    True
    """
    m, defaults = resolve(measure)
    opts = {**defaults, "zero": zero, "epsilon": epsilon, **params}
    zero = opts.pop("zero")
    eps = opts.pop("epsilon")
    emb = m.embedding
    if emb is None:
        have = ", ".join(x.name for x in embedding_measures())
        raise InputError(
            f"{m.name} has no exact L2 / inner-product embedding in the catalog (those that do: "
            f"{have})"
        )
    zero, eps, full = check_options(m, zero, eps, opts)
    src = emb.back
    if zero == "epsilon" and m.epsilon is not None:
        if emb.back_epsilon is None:
            raise InputError(f"{m.name}: the embedding holds for zero='strict' only")
        src = emb.back_epsilon
    from .kernels.helpers import vocabulary

    fn = compile_with(src, vocabulary(np))

    def back(r: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(fn(r=np.asarray(r, dtype=np.float64), eps=eps, **full))

    # the direction of back: evaluated at two points of the index's range
    lo, hi = back(np.array([0.25, 0.5]))
    increasing = bool(hi > lo)
    nearer_if_larger = (m.kind == "similarity") == increasing
    if emb.metric == "l2" and nearer_if_larger:
        raise InputError(f"{m.name}: the embedding's map back must grow with the L2 distance")
    return ExactEmbedding(
        m, _TRANSFORMS[emb.transform], emb.metric, back, nearer_if_larger, emb.evidence
    )
