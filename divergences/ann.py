"""Scalar Numba metrics for approximate nearest-neighbour libraries (pynndescent, UMAP).

:func:`numba_metric` returns a jitted ``f(x, y) -> float`` made from the measure's generated
scalar kernel (the ``pair`` function of :mod:`divergences.kernels.numba_cpu`, written from
the definition in either zero mode), with the parameters and ``epsilon`` bound as
constants. ``pynndescent.NNDescent(metric=f)`` and ``umap.UMAP(metric=f)`` call it from
their own compiled code.

Nearest means smallest for these libraries: a similarity ``s`` is returned as
``s_max - s`` (:func:`dissimilarity_offset`), the map the neighbours graph of
:mod:`divergences.sklearn` uses.

:class:`NNDescentIndex` wraps ``pynndescent.NNDescent`` on such a metric: each query asks
the graph for more candidates than it needs and re-ranks them with the measure itself
(:func:`divergences.paired`, float64, the tie rule of :func:`divergences.knn`), optionally
from the graph of a *proxy* measure. The direction is the library's: pynndescent calls
``metric(query, row)``, and :func:`divergences.knn` ranks ``measure(query, row)``, so an
asymmetric measure such as Kullback-Leibler is searched query first by both.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .registry import resolve
from .spec import Measure
from .validation import InputError, check_options

__all__ = ["NNDescentIndex", "dissimilarity_offset", "numba_metric"]


def dissimilarity_offset(measure: str | Measure, d: int, **params: float) -> float | None:
    """The ``s_max`` of the map ``s -> s_max - s`` that turns a similarity into a
    dissimilarity (for a neighbours graph or an index); ``None`` for a dissimilarity.

    ``s_max`` is the measure's upper bound on probability vectors of dimension ``d``
    (``bounds.high``): the map is decreasing, so neighbours and their order are kept, and
    the values are >= 0 on probability vectors.

    Raises
    ------
    InputError
        For a similarity whose upper bound is infinite (no such map keeps values >= 0).

    Examples
    --------
    >>> from divergences.ann import dissimilarity_offset
    >>> dissimilarity_offset("cosine", 3), dissimilarity_offset("hellinger", 3)
    (1.0, None)
    """
    m = resolve(measure)[0]
    if m.kind == "dissimilarity":
        return None
    full = {**m.param_defaults(), **params}
    high = m.bounds.evaluate(d, full)[1]
    if not math.isfinite(high):
        raise InputError(
            f"{m.name}: a similarity without a finite upper bound cannot be turned into a "
            "non-negative dissimilarity; use a bounded measure"
        )
    return float(high)


def numba_metric(
    measure: str | Measure, /, *, zero: str = "strict", epsilon: float = 1e-5, **params: Any
) -> Any:
    """A jitted scalar ``f(x, y) -> float`` of ``measure``, for pynndescent and UMAP.

    Parameters
    ----------
    measure : str or Measure
        Any measure of the catalog (a namespaced alias brings its defaults, e.g.
        ``philentropy:`` the epsilon rule).
    zero : {"strict", "epsilon"}, default "strict"
    epsilon : float, default 1e-5
    **params
        Measure parameters (``p``, ``base``), bound into the function as constants.

    Returns
    -------
    numba.core.registry.CPUDispatcher
        ``f(x, y)`` on two 1-D float arrays (float32 or float64; accumulated in float64),
        equal to ``divergences.pair(x, y, measure, ...)`` for a dissimilarity and to
        ``s_max - pair(...)`` for a similarity (see :func:`dissimilarity_offset`).
        Compiled once per process on first call (the kernel it wraps is cached on disk).

    Raises
    ------
    InputError
        For an unknown parameter or zero mode, or a similarity without a finite bound.

    Examples
    --------
    >>> import numpy as np, divergences as dv
    >>> f = dv.numba_metric("hellinger")
    >>> P, Q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    >>> bool(np.isclose(f(P, Q), dv.pair(P, Q, "hellinger")))
    True
    """
    import numba

    from .kernels import numba_cpu

    m, defaults = resolve(measure)
    opts = {**defaults, **params}
    zero = opts.pop("zero", zero)
    epsilon = opts.pop("epsilon", epsilon)
    zero, eps, full = check_options(m, zero, epsilon, opts)
    off = None
    if m.kind == "similarity":
        offs = {dissimilarity_offset(m, d, **full) for d in (1, 2, 3, 10, 1000)}
        if len(offs) > 1:
            raise InputError(f"{m.name}: the bound depends on the dimension; no scalar metric")
        off = offs.pop()
    kernel = numba_cpu.kernels(m, zero).pair
    args = ", ".join(repr(float(v)) for v in (eps, *(full[p.name] for p in m.params)))
    value = f"pair(x, y, {args})"
    body = value if off is None else f"{off!r} - {value}"
    src = f"def metric(x, y):\n    return {body}\n"
    namespace: dict[str, Any] = {"pair": kernel}
    exec(compile(src, f"<divergences numba_metric {m.name}>", "exec"), namespace)  # noqa: S102
    fn = numba.njit(fastmath={"contract", "nsz", "arcp"}, nogil=True)(namespace["metric"])
    fn.__doc__ = f"{m.name} (zero={zero!r}, {full}) as a Numba metric: {body}"
    return fn


class NNDescentIndex:
    """Approximate nearest rows: pynndescent's NNDescent graph, candidates re-ranked exactly.

    ``search(Q, k)`` asks the graph for ``candidates`` rows per query (``3 k`` by default)
    and keeps the ``k`` nearest by the measure's exact float64 values, ties to the lower
    index and NaN last as in :func:`divergences.knn`. Asking for more candidates than
    ``k`` widens the graph search (it keeps a longer heap) and the re-rank fixes their
    order, so the recall rises at a small cost; the values returned are always exact.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The rows searched.
    measure : str or Measure
        The measure ranked, query first: ``measure(Q[i], X[j])``.
    proxy : str or Measure, optional
        Build and search the graph with this measure instead (its :func:`numba_metric`),
        then re-rank with ``measure``: for a measure whose own graph searches badly, a
        nearby measure whose neighbours contain its neighbours (Hellinger for
        Kullback-Leibler: ``KL(P || Q) = 2 sum (sqrt p - sqrt q)^2`` to second order in
        ``p - q``), so that one graph
        serves several measures. It needs more candidates than the measure's own graph:
        on 50,000 x 64 Dirichlet(1) rows, KL re-ranked from Hellinger's graph had recall
        0.90 with 30 candidates and 0.96 with 50 (KL's own graph: 0.94 with 30). Default:
        the measure itself.
    n_neighbors : int, default 30
        NNDescent's graph degree (its own default).
    search_epsilon : float, default 0.3
        pynndescent's ``epsilon`` of ``query``: how far beyond the current ``k``-th
        candidate the search goes (pynndescent's default is 0.1). Measured on 50,000 x 64
        Dirichlet(1) rows, k = 10, 30 candidates (BENCHMARKS.md): Kullback-Leibler's own
        graph 0.47 at 0.1 with 10 candidates, 0.94 at 0.3 with 30; Hellinger 0.996.
    random_state : int, optional
    zero, epsilon, **params
        As in :func:`divergences.cdist` (for both the graph and the re-rank).
    nndescent_kwargs : dict, optional
        More arguments of ``pynndescent.NNDescent`` (``diversify_prob``,
        ``pruning_degree_multiplier``, ``n_jobs``, ...).

    Examples
    --------
    >>> import numpy as np, divergences as dv
    >>> from divergences.ann import NNDescentIndex
    >>> rng = np.random.default_rng(0)
    >>> X, Q = rng.dirichlet(np.ones(8), 2000), rng.dirichlet(np.ones(8), 5)
    >>> index = NNDescentIndex(X, "kullback_leibler", random_state=0)  # doctest: +SKIP
    >>> idx, val = index.search(Q, 3)  # doctest: +SKIP
    >>> ref, _ = dv.knn(Q, X, 3, "kullback_leibler")
    >>> bool(np.mean(idx == ref) >= 0.9)  # doctest: +SKIP
    True
    """

    def __init__(
        self,
        X: Any,
        measure: str | Measure,
        /,
        *,
        proxy: str | Measure | None = None,
        n_neighbors: int = 30,
        search_epsilon: float = 0.3,
        random_state: int | None = None,
        zero: str = "strict",
        epsilon: float = 1e-5,
        nndescent_kwargs: dict[str, Any] | None = None,
        **params: Any,
    ) -> None:
        import pynndescent

        from . import api

        self.measure = resolve(measure)[0]
        self.options: dict[str, Any] = {"zero": zero, "epsilon": epsilon, **params}
        self.X = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
        if self.X.ndim != 2 or not len(self.X):
            raise InputError(f"{self.measure.name}: X must be a non-empty 2-D array")
        api.cdist(self.X[:1], self.X[:1], self.measure, **self.options)  # domain, options
        graph = self.measure if proxy is None else resolve(proxy)[0]
        graph_params = params if proxy is None else {}
        self.proxy = None if proxy is None else graph
        self.search_epsilon = search_epsilon
        self.index = pynndescent.NNDescent(
            self.X,
            metric=numba_metric(graph, zero=zero, epsilon=epsilon, **graph_params),
            n_neighbors=n_neighbors,
            random_state=random_state,
            **(nndescent_kwargs or {}),
        )

    def __len__(self) -> int:
        return self.X.shape[0]

    def search(
        self, Q: Any, k: int, *, candidates: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The (approximately) ``k`` nearest rows of each row of ``Q``, exact values.

        Parameters
        ----------
        Q : array_like, shape (q, d)
        k : int
        candidates : int, optional
            Rows asked of the graph per query, ``>= k``; default ``min(n, 3 k)``.

        Returns
        -------
        indices : ndarray, shape (q, k), int64
        values : ndarray, shape (q, k), float64
            ``measure(Q[i], X[indices[i, j]])``, nearest first (largest first for a
            similarity), ties to the lower index, NaN last.
        """
        from .paired import paired

        name = self.measure.name
        Q = np.ascontiguousarray(np.atleast_2d(np.asarray(Q, dtype=np.float64)))
        n = len(self)
        if not (isinstance(k, (int, np.integer)) and 1 <= k <= n):
            raise InputError(f"{name}: k must be an integer in [1, {n}], got {k!r}")
        c = min(n, 3 * k) if candidates is None else candidates
        if not (isinstance(c, (int, np.integer)) and k <= c <= n):
            raise InputError(f"{name}: candidates must be an integer in [{k}, {n}], got {c!r}")
        if Q.ndim != 2 or Q.shape[1] != self.X.shape[1]:
            raise InputError(f"{name}: Q must have {self.X.shape[1]} columns, got {Q.shape}")
        cand, _ = self.index.query(Q, k=int(c), epsilon=self.search_epsilon)
        cand = cand.astype(np.int64)
        q = len(Q)
        vals = np.empty(cand.shape, dtype=np.float64)
        step = max(1, 2**22 // max(1, c * Q.shape[1]))  # ~32 MiB of gathered rows a block
        for s in range(0, q, step):
            rows = cand[s : s + step]
            vals[s : s + step] = paired(
                np.repeat(Q[s : s + step], c, axis=0),
                self.X[rows.ravel()],
                self.measure,
                **self.options,
            ).reshape(rows.shape)
        # pynndescent pads with -1 when the graph holds fewer than c rows near a query
        missing = cand < 0
        key = -vals if self.measure.kind == "similarity" else vals
        key[missing] = np.inf
        nan = np.isnan(key) | missing
        order = np.lexsort((np.where(missing, n, cand), key, nan), axis=-1)[:, :k]
        return np.take_along_axis(cand, order, 1), np.take_along_axis(vals, order, 1)
