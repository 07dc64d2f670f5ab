"""Cha's analysis on your data: which measures behave alike?

Cha (2007) evaluated the survey's measures on pairs of histograms, correlated them and
clustered them hierarchically.  :func:`analyze` does the same on any data:

1. every selected measure on sampled pairs of rows of ``X`` (or on every query of ``queries``
   against every row of ``X``);
2. the Pearson (values) and Spearman (ranks) correlation matrices of the measures;
3. the overlap of each measure's ``k`` nearest neighbours with every other's (:func:`knn`);
4. an average-linkage hierarchical clustering of the measures on ``1 - |Spearman|``, cut
   into groups.

Orientation: a similarity (larger is closer) is *negated* before it is correlated, so every
column ranks pairs from closest to farthest, and a similarity that orders pairs like a
dissimilarity correlates at +1 with it, not -1.

Spearman correlations count values of one measure within 1e-11 of their size (or of the
measure's median size) as ties (exact ties broken by rounding would otherwise differ
between s and 1 - s).

Non-finite values are never dropped silently: a measure that is inf or NaN on more than
``max_nonfinite`` of the pairs is excluded (the report says how often and on which pair
first); the pairs on which a remaining measure is non-finite are then dropped (counted in
the report); a measure that is constant on the remaining pairs is excluded too (it has no
ranking to correlate).

The pictures and the report folder are written by :func:`write_report` (matplotlib,
imported only there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .registry import measures, resolve
from .spec import Measure
from .validation import InputError

#: Rows per side of one sampled block: a block is a ``B x B`` cdist between two disjoint
#: random sets of rows, so every value computed is a sampled pair (no diagonal, no waste).
BLOCK = 32

#: The linkage of the clustering, and why (the docs and the report quote this).
LINKAGE = "average"
LINKAGE_WHY = (
    "average linkage (UPGMA): defined for any dissimilarity (1 - |Spearman| is not a "
    "Euclidean distance, which Ward and centroid linkage assume), never produces inversions, "
    "and chains less than single linkage while being less driven by one outlying pair than "
    "complete linkage"
)


@dataclass(frozen=True)
class Column:
    """One analysed column: a measure at given parameter values."""

    measure: Measure
    params: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``name`` or ``name[p=3]``."""
        if not self.params:
            return self.measure.name
        inner = ",".join(f"{k}={v:g}" for k, v in sorted(self.params.items()))
        return f"{self.measure.name}[{inner}]"


@dataclass
class Analysis:
    """The result of :func:`analyze` (every array is indexed by :attr:`labels`)."""

    labels: list[str]
    kinds: list[str]
    pairs: np.ndarray
    values: np.ndarray
    pearson: np.ndarray
    spearman: np.ndarray
    knn_overlap: np.ndarray | None
    k: int
    linkage: np.ndarray
    groups: list[list[str]]
    threshold: float
    excluded: dict[str, str]
    nonfinite: dict[str, dict[str, Any]]
    dropped_pairs: int
    settings: dict[str, Any]

    def group_of(self, label: str) -> int:
        """Index in :attr:`groups` of the group holding ``label``."""
        for i, g in enumerate(self.groups):
            if label in g:
                return i
        raise KeyError(label)

    def to_json(self) -> dict[str, Any]:
        """Everything but the raw values, as plain JSON types (NaN becomes null)."""

        def mat(a: np.ndarray | None) -> Any:
            if a is None:
                return None
            return [[None if not math.isfinite(v) else float(v) for v in row] for row in a]

        return {
            "measures": self.labels,
            "kinds": self.kinds,
            "orientation": "similarities negated: every column ranks pairs closest first",
            "pairs": int(self.values.shape[0]),
            "dropped_pairs": int(self.dropped_pairs),
            "excluded": self.excluded,
            "nonfinite": self.nonfinite,
            "pearson": mat(self.pearson),
            "spearman": mat(self.spearman),
            "knn_overlap": mat(self.knn_overlap),
            "k": self.k,
            "clustering": {
                "method": LINKAGE,
                "why": LINKAGE_WHY,
                "distance": "1 - |spearman|",
                "threshold": self.threshold,
                "linkage": mat(self.linkage),
            },
            "groups": self.groups,
            "settings": self.settings,
        }


def _columns(
    measure_names: Sequence[str] | None,
    params: Mapping[str, Mapping[str, float] | Sequence[Mapping[str, float]]] | None,
) -> list[Column]:
    """The analysed columns; errors name the unknown measure or foreign parameter."""
    chosen: list[Measure] = []
    if measure_names is None:
        chosen = list(measures())
    else:
        for name in measure_names:
            m, _ = resolve(name)
            if m not in chosen:
                chosen.append(m)
    settings: dict[str, list[dict[str, float]]] = {}
    for name, spec in (params or {}).items():
        m, _ = resolve(name)
        if m not in chosen:
            raise InputError(
                f"{m.name}: parameters given for a measure that is not analysed "
                f"(add it to the measures)"
            )
        sets = [spec] if isinstance(spec, Mapping) else list(spec)
        known = {p.name: p for p in m.params}
        checked = []
        for s in sets:
            one = {}
            for key, value in s.items():
                if key not in known:
                    have = ", ".join(known) or "none"
                    raise InputError(
                        f"{m.name}: {key!r} is not one of its parameters (it has: {have})"
                    )
                one[key] = known[key].check(value, m.name)
            checked.append(one)
        settings[m.name] = checked
    cols = []
    for m in chosen:
        for s in settings.get(m.name, [{}]):
            cols.append(Column(m, s))
    return cols


def sample_pairs(
    n: int, pairs: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Blocks ``(rows_a, rows_b)`` of disjoint row sets whose cross pairs are the sample.

    When ``n (n - 1) <= pairs`` every ordered pair ``i != j`` is used (one block per row).
    Otherwise blocks of ``BLOCK x BLOCK`` rows (fewer for small ``n``), each drawn without
    replacement, until ``pairs`` pairs are covered.
    """
    if n * (n - 1) <= pairs:
        everyone = np.arange(n)
        return [(np.array([i]), np.delete(everyone, i)) for i in range(n)]
    side = min(BLOCK, n // 2)
    out, total = [], 0
    while total < pairs:
        rows = rng.choice(n, size=2 * side, replace=False)
        b = min(side, max(1, -(-(pairs - total) // side)))
        out.append((rows[:side], rows[side : side + b]))
        total += side * b
    return out


def _bar(items: list[Column], progress: bool, what: str) -> Any:
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=what, unit="measure")


def _oriented(col: Column, D: np.ndarray) -> np.ndarray:
    return -D if col.measure.kind == "similarity" else D


#: Values of one measure closer than this, relative to their size (or to the column's median
#: size, for values near 0), are ties.
TIE_TOLERANCE = 1e-11


def _ranks(V: np.ndarray) -> np.ndarray:
    """Average ranks per column; neighbouring values within ``TIE_TOLERANCE`` of
    max(|a|, |b|, median |v|) count as ties: pairs tied exactly (repeated rows, uniform
    patches) are otherwise ordered by rounding, differently for s and 1 - s, which lowers
    their Spearman correlation for no reason."""
    from scipy.stats import rankdata

    out = np.empty_like(V)
    for j in range(V.shape[1]):
        v = V[:, j]
        order = np.argsort(v, kind="stable")
        w = v[order]
        size = np.maximum(np.maximum(np.abs(w[1:]), np.abs(w[:-1])), np.median(np.abs(v)))
        group = np.concatenate([[0], np.cumsum(np.diff(w) > TIE_TOLERANCE * size)])
        ids = np.empty(v.size, dtype=np.int64)
        ids[order] = group
        out[:, j] = rankdata(ids)
    return out


def _corr(V: np.ndarray) -> np.ndarray:
    C = np.corrcoef(V, rowvar=False)
    C = np.clip(C, -1.0, 1.0)
    np.fill_diagonal(C, 1.0)
    return C


def analyze(
    X: Any,
    measures: Sequence[str] | None = None,
    *,
    queries: Any = None,
    pairs: int = 4000,
    params: Mapping[str, Any] | None = None,
    k: int = 10,
    knn_queries: int = 50,
    threshold: float = 0.02,
    max_nonfinite: float = 0.05,
    seed: int = 0,
    backend: str = "numpy",
    zero: str = "strict",
    normalize: bool = False,
    progress: bool = False,
) -> Analysis:
    r"""Correlate and cluster measures on the rows of ``X``, as Cha (2007) did on his data.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The rows (histograms, embeddings...), ``n >= 3``.
    measures : sequence of str, optional
        Names or aliases; default every measure of the catalog (those whose domain the
        data leave, e.g. negative entries for a non-negative measure, are excluded and
        reported).
    queries : array_like, shape (m, d), optional
        A query set: the values are every query against every row of ``X`` (the
        database), and the neighbours are searched in ``X``. Without it, ``pairs``
        sampled pairs of distinct rows of ``X``.
    pairs : int, default 4000
        Number of sampled pairs (all ``n (n - 1)`` ordered pairs when fewer).
    params : mapping, optional
        ``{"minkowski": {"p": 3}}``, or a list of such dicts for several columns of one
        measure (``{"minkowski": [{"p": 1}, {"p": 3}]}``).
    k : int, default 10
        Neighbours compared by the overlap matrix (0 skips it).
    knn_queries : int, default 50
        Without ``queries``: rows of ``X`` used as queries against the other rows.
    threshold : float, default 0.02
        The dendrogram is cut at this height of ``1 - |Spearman|`` (average linkage):
        a group's members correlate at about 1 - threshold or more on average.
    max_nonfinite : float, default 0.05
        A measure inf/NaN on a larger fraction of the pairs is excluded.
    seed : int, default 0
        Seed of the sampling.
    progress : bool, default False
        tqdm bars (stderr) over the measures, for the values and for the neighbours.
    backend, zero, normalize
        Passed to :func:`~divergences.cdist` (``numpy``: the reference, no compilation,
        which suits one pass over every measure).

    Returns
    -------
    Analysis
        Labels, values (oriented), Pearson and Spearman matrices, k-NN overlap, linkage
        matrix and groups, exclusions and non-finite counts.

    Examples
    --------
    >>> import numpy as np, divergences as dv
    >>> X = np.random.default_rng(0).dirichlet(np.ones(8), size=40)
    >>> a = dv.analyze(X, ["hellinger", "matusita", "fidelity", "manhattan"], pairs=300, k=0)
    >>> a.group_of("hellinger") == a.group_of("fidelity")
    True
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise InputError(f"analyze: X must be 2-D (rows are vectors), got {X.ndim}-D")
    if X.shape[0] < 3:
        raise InputError(
            f"analyze: X needs at least 3 rows to correlate measures, got {X.shape[0]}"
        )
    if not np.isfinite(X).all():
        r = int(np.argwhere(~np.isfinite(X))[0, 0])
        raise InputError(f"analyze: X row {r} holds NaN or inf")
    Qs = None if queries is None else np.asarray(queries, dtype=np.float64)
    if Qs is not None and (Qs.ndim != 2 or Qs.shape[1] != X.shape[1]):
        raise InputError(f"analyze: queries must be 2-D with {X.shape[1]} columns")
    if int(pairs) < 3:
        raise InputError(f"analyze: pairs must be at least 3, got {pairs}")
    cols = _columns(measures, params)
    rng = np.random.default_rng(seed)
    excluded: dict[str, str] = {}
    negative = bool((X < 0).any() or (Qs is not None and (Qs < 0).any()))
    if negative:
        for c in cols:
            if c.measure.domain == "nonnegative":
                excluded[c.label] = "the data have negative entries (non-negative measure)"
        cols = [c for c in cols if c.label not in excluded]

    if Qs is None:
        blocks = sample_pairs(X.shape[0], int(pairs), rng)
        pair_idx = np.concatenate(
            [np.stack(np.meshgrid(a, b, indexing="ij"), -1).reshape(-1, 2) for a, b in blocks]
        )
    else:
        blocks = []
        pair_idx = np.stack(
            np.meshgrid(np.arange(Qs.shape[0]), np.arange(X.shape[0]), indexing="ij"), -1
        ).reshape(-1, 2)
    opts = {"backend": backend, "zero": zero, "normalize": normalize}

    from .api import cdist

    values = np.empty((pair_idx.shape[0], len(cols)))
    for j, c in enumerate(_bar(cols, progress, "values")):
        if Qs is None:
            parts = [cdist(X[a], X[b], c.measure, **opts, **c.params).ravel() for a, b in blocks]
            values[:, j] = np.concatenate(parts)
        else:
            values[:, j] = cdist(Qs, X, c.measure, **opts, **c.params).ravel()
        values[:, j] = _oriented(c, values[:, j])

    nonfinite: dict[str, dict[str, Any]] = {}
    keep = []
    for j, c in enumerate(cols):
        bad = ~np.isfinite(values[:, j])
        if bad.any():
            first = int(np.argmax(bad))
            nonfinite[c.label] = {
                "inf": int(np.isinf(values[:, j]).sum()),
                "nan": int(np.isnan(values[:, j]).sum()),
                "of": int(values.shape[0]),
                "first_pair": [int(v) for v in pair_idx[first]],
            }
            if bad.mean() > max_nonfinite:
                excluded[c.label] = (
                    f"inf/NaN on {int(bad.sum())} of {bad.size} pairs "
                    f"(more than max_nonfinite={max_nonfinite:g})"
                )
                continue
        keep.append(j)
    cols, values = [cols[j] for j in keep], values[:, keep]
    ok = np.isfinite(values).all(axis=1)
    dropped = int((~ok).sum())
    values, pair_idx = values[ok], pair_idx[ok]
    spread = values.max(axis=0) - values.min(axis=0) if values.size else np.zeros(len(cols))
    for j in np.flatnonzero(spread == 0)[::-1]:
        excluded[cols[j].label] = "constant on the sampled pairs (nothing to rank)"
    keep = np.flatnonzero(spread != 0)
    cols, values = [cols[j] for j in keep], values[:, keep]
    if len(cols) < 2 or values.shape[0] < 3:
        raise InputError(
            f"analyze: {len(cols)} measures on {values.shape[0]} pairs remain after "
            f"excluding {', '.join(sorted(excluded)) or 'none'}; nothing to correlate"
        )

    pearson = _corr(values)
    spearman = _corr(_ranks(values))
    dist = 1.0 - np.abs(spearman)
    np.fill_diagonal(dist, 0.0)
    dist = np.clip((dist + dist.T) / 2, 0.0, None)
    Z = linkage(squareform(dist, checks=False), method=LINKAGE)
    flat = fcluster(Z, t=threshold, criterion="distance")
    labels = [c.label for c in cols]
    by: dict[int, list[str]] = {}
    for lab, g in zip(labels, flat, strict=True):
        by.setdefault(int(g), []).append(lab)
    groups = sorted(by.values(), key=lambda g: (-len(g), labels.index(g[0])))

    overlap, qrows = None, []
    if k > 0:
        overlap, qrows = _knn_overlap(X, Qs, cols, k, knn_queries, rng, opts, progress)
    settings = {
        "pairs_requested": int(pairs),
        "mode": "pairs" if Qs is None else "queries",
        "seed": int(seed),
        "k": int(k),
        "knn_queries": int(knn_queries),
        "knn_query_rows": [int(i) for i in qrows],
        "threshold": float(threshold),
        "max_nonfinite": float(max_nonfinite),
        "backend": backend,
        "zero": zero,
        "normalize": bool(normalize),
        "rows": int(X.shape[0]),
        "columns": int(X.shape[1]),
    }
    return Analysis(
        labels=labels,
        kinds=[c.measure.kind for c in cols],
        pairs=pair_idx,
        values=values,
        pearson=pearson,
        spearman=spearman,
        knn_overlap=overlap,
        k=int(k),
        linkage=Z,
        groups=groups,
        threshold=float(threshold),
        excluded=excluded,
        nonfinite=nonfinite,
        dropped_pairs=dropped,
        settings=settings,
    )


def _knn_overlap(
    X: np.ndarray,
    Qs: np.ndarray | None,
    cols: list[Column],
    k: int,
    knn_queries: int,
    rng: np.random.Generator,
    opts: dict[str, Any],
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean over queries of |N_a(q) & N_b(q)| / k for every pair of columns, and the rows
    of ``X`` used as queries (searched among the other rows); none with ``queries``."""
    from .search import knn

    if Qs is None:
        nq = max(1, min(int(knn_queries), X.shape[0] // 5 or 1))
        qrows = rng.choice(X.shape[0], size=nq, replace=False)
        Q, DB = X[qrows], np.delete(X, qrows, axis=0)
    else:
        qrows = np.zeros(0, dtype=np.int64)
        Q, DB = Qs, X
    k = min(k, DB.shape[0])
    sets = []
    for c in _bar(cols, progress, "neighbours"):
        idx, _ = knn(Q, DB, k, c.measure, **opts, **c.params)
        sets.append(idx)
    n = len(cols)
    out = np.eye(n)
    for a in range(n):
        for b in range(a + 1, n):
            common = [
                len(np.intersect1d(ra, rb, assume_unique=True))
                for ra, rb in zip(sets[a], sets[b], strict=True)
            ]
            out[a, b] = out[b, a] = float(np.mean(common)) / k
    return out, qrows
