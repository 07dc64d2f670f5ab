"""A faiss index on a measure's exact embedding, with an exact re-rank (``divergences[faiss]``).

For a measure whose registry record claims an exact embedding (:func:`divergences.embedding`:
Hellinger, Matusita, squared chord, fidelity, Bhattacharyya via sqrt P; cosine via unit rows;
Euclidean, ...), :class:`Index` stores the transformed rows in a faiss index (``l2`` or inner
product; flat or HNSW) and re-ranks each query's candidates with the measure itself. Zero bins
need nothing special (``sqrt 0 = 0``: no log of zero, unlike faiss's own JS metric); rows the
measure leaves undefined (an all-zero row under cosine: 0/0) are kept out of faiss and ranked
last, as NaN, exactly as :func:`divergences.knn` ranks them.

With the flat index the search is exact: a query whose ``k``-th neighbour is not certainly
inside the candidate list (float32 distances within a margin of the list's last one) is
answered by :func:`divergences.knn`. With HNSW the candidates are approximate (recall below 1)
and their values exact.

This module imports :mod:`faiss`; ``import divergences`` does not.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from . import api, search
from .embeddings import embedding
from .registry import resolve
from .validation import InputError

__all__ = ["Index"]

#: relative float32 margin under which a flat candidate list is not trusted to be exact
_MARGIN = 1e-4


class Index:
    """Rows of ``X`` in a faiss index on the measure's embedding.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The rows searched.
    measure : str or Measure
        A measure with an exact embedding claim.
    kind : {"flat", "hnsw"}, default "flat"
        ``flat``: exact (brute force in float32, then certified, see the module docstring);
        ``hnsw``: faiss's HNSW graph (``M`` links per node, ``ef_search``).
    candidates : int, optional
        Candidates re-ranked per query; default ``max(2 k, k + 16)``. The embedding is
        exact, so the re-rank only settles float32 rounding: HNSW's recall is set by its
        graph (``M``, ``ef_construction``) and ``ef_search``, not by a deeper re-rank.
    M : int, default 32
        Links per node of the HNSW graph.
    ef_construction : int, default 80
        Breadth of the graph search while building (200 instead: build 4x slower, recall
        at ``ef_search=64`` 0.87 instead of 0.83 on 50,000 x 64 Dirichlet rows).
    ef_search : int, default 256
        Breadth of the graph search per query (at least the candidates). Measured on
        Hellinger, 50,000 x 64 Dirichlet(1) rows, k = 10: recall 0.83 at 64, 0.94 at 128,
        0.986 at 256, 0.998 at 512; at 200,000 rows 0.66, 0.82, 0.925, 0.974 (BENCHMARKS.md).
    zero, epsilon, **params
        As in :func:`divergences.cdist`.

    Examples
    --------
    >>> import numpy as np, divergences as dv
    >>> from divergences.faiss import Index
    >>> X = np.random.default_rng(0).dirichlet(np.ones(8), 500)
    >>> idx, val = Index(X, "hellinger").search(X[:3], 4)
    >>> bool((idx == dv.knn(X[:3], X, 4, "hellinger")[0]).all())
    True
    """

    def __init__(
        self,
        X: Any,
        measure: Any,
        *,
        kind: str = "flat",
        candidates: int | None = None,
        M: int = 32,
        ef_construction: int = 80,
        ef_search: int = 256,
        zero: str = "strict",
        epsilon: float = 1e-5,
        **params: Any,
    ) -> None:
        m = resolve(measure)[0]
        if kind not in ("flat", "hnsw"):
            raise InputError(f"{m.name}: kind must be 'flat' or 'hnsw', got {kind!r}")
        self.emb = embedding(measure, zero=zero, epsilon=epsilon, **params)
        self.measure, self.kind, self.candidates = measure, kind, candidates
        self.options = {"zero": zero, "epsilon": epsilon, **params}
        # the measure validates the rows (domain, finiteness) once
        api.cdist(np.asarray(X)[:1], np.asarray(X)[:1], measure, **self.options)
        self.X = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
        T = self.emb.transform(self.X)
        defined = np.isfinite(T).all(axis=1)
        if self.emb.transform == embedding("cosine").transform:
            defined &= np.any(self.X != 0, axis=1)
        self.ids = np.flatnonzero(defined)  # faiss row -> row of X
        self.undefined = np.flatnonzero(~defined)
        dim = self.X.shape[1]
        ip = self.emb.metric == "ip"
        metric = faiss.METRIC_INNER_PRODUCT if ip else faiss.METRIC_L2
        if kind == "flat":
            self.index = faiss.IndexFlatIP(dim) if ip else faiss.IndexFlatL2(dim)
        else:
            self.index = faiss.IndexHNSWFlat(dim, M, metric)
            self.index.hnsw.efConstruction = ef_construction
            self.index.hnsw.efSearch = ef_search
        self.index.add(np.ascontiguousarray(T[defined], dtype=np.float32))

    def __len__(self) -> int:
        return self.X.shape[0]

    def search(self, Q: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest rows for each row of ``Q``, with the measure's exact values.

        Parameters
        ----------
        Q : array_like, shape (q, d)
        k : int

        Returns
        -------
        indices : ndarray, shape (q, k), int64
        values : ndarray, shape (q, k), float64
            As :func:`divergences.knn` returns them (nearest first, ties to the lower
            index, NaN last); with ``kind="flat"`` equal to its result.
        """
        m = resolve(self.measure)[0]
        Q = np.ascontiguousarray(np.atleast_2d(np.asarray(Q, dtype=np.float64)))
        n = len(self)
        if not (isinstance(k, (int, np.integer)) and 0 <= k <= n):
            raise InputError(f"{m.name}: k must be an integer in [0, {n}], got {k!r}")
        q = Q.shape[0]
        c = min(len(self.ids), self.candidates or max(2 * k, k + 16))
        TQ = np.ascontiguousarray(self.emb.transform(Q), dtype=np.float32)
        D, ids = self.index.search(TQ, c) if c else (np.empty((q, 0)), np.empty((q, 0), int))
        indices = np.empty((q, k), dtype=np.int64)
        values = np.empty((q, k), dtype=np.float64)
        exact_rows = []
        sim = m.kind == "similarity"
        if self.kind == "hnsw" and not len(self.undefined) and c >= k and q:
            # approximate anyway: one batched exact re-rank of every query's candidates
            return self._rerank(Q, ids, k, sim)
        for i in range(q):
            cand = self.ids[ids[i][ids[i] >= 0]]
            cand = np.concatenate([cand, self.undefined])  # NaN rows: last, as knn ranks them
            vals = api.cdist(Q[i : i + 1], self.X[cand], self.measure, **self.options)[0]
            key = -vals if sim else vals
            order = np.lexsort((cand, key, np.isnan(key)))[:k]
            if len(order) < k:
                exact_rows.append(i)
                continue
            indices[i], values[i] = cand[order], vals[order]
            if self.kind == "flat" and c < len(self.ids) and not self._certain(D[i], vals, order):
                exact_rows.append(i)
        if exact_rows:
            rows = np.array(exact_rows)
            exact = search.knn(Q[rows], self.X, k, self.measure, **self.options)
            indices[rows], values[rows] = exact
        return indices, values

    def _rerank(
        self, Q: np.ndarray, ids: np.ndarray, k: int, sim: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best of each query's candidates by the measure's exact values
        (:func:`divergences.paired` on the gathered rows, a block of queries at a time);
        faiss's missing candidates (-1) rank after every row, then NaN."""
        from .paired import paired

        q, c = ids.shape
        n = len(self)
        cand = np.where(ids >= 0, self.ids[np.maximum(ids, 0)], n)
        vals = np.full((q, c), np.nan)
        step = max(1, 2**22 // max(1, c * Q.shape[1]))  # ~32 MiB of gathered rows a block
        for s in range(0, q, step):
            rows = np.minimum(cand[s : s + step], n - 1)
            vals[s : s + step] = paired(
                np.repeat(Q[s : s + step], c, axis=0),
                self.X[rows.ravel()],
                self.measure,
                **self.options,
            ).reshape(rows.shape)
        missing = ids < 0
        vals[missing] = np.nan
        key = np.where(missing, np.inf, -vals if sim else vals)
        order = np.lexsort((cand, key, np.isnan(key) | missing), axis=-1)[:, :k]
        indices = np.take_along_axis(cand, order, 1)
        values = np.take_along_axis(vals, order, 1)
        if (indices >= n).any():  # fewer than k rows found: the exact search answers
            rows = np.flatnonzero((indices >= n).any(axis=1))
            indices[rows], values[rows] = search.knn(
                Q[rows], self.X, k, self.measure, **self.options
            )
        return indices, values

    def _certain(self, dist: np.ndarray, vals: np.ndarray, order: np.ndarray) -> bool:
        """Whether every row outside the candidates is farther than the k-th chosen one:
        the k-th value, taken into the index's space, beats the list's last distance by
        more than float32 can round."""
        if not len(order) or np.isnan(vals[order[-1]]):
            return False
        r = self._to_index_space(vals[order[-1]])
        last = float(dist[-1])
        margin = _MARGIN * max(1.0, abs(last), abs(r))
        if self.emb.larger_is_nearer:
            return r > last + margin
        return r < last - margin

    def _to_index_space(self, value: float) -> float:
        """The index's ``r`` (squared for faiss's L2) whose map back is ``value``, by
        bisection on the monotone map (no inverse is recorded)."""
        back = self.emb.back
        lo, hi = (-1.0, 1.0) if self.emb.metric == "ip" else (0.0, 1.0)
        while self.emb.metric == "l2" and back(np.array([hi]))[0] < value:
            hi *= 2
            if hi > 1e12:
                return np.inf
        grow = bool(back(np.array([hi]))[0] > back(np.array([lo]))[0])
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            if (back(np.array([mid]))[0] < value) == grow:
                lo = mid
            else:
                hi = mid
        r = 0.5 * (lo + hi)
        return r * r if self.emb.metric == "l2" else r
