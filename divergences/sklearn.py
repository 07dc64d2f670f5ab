"""scikit-learn integration (``divergences[sklearn]``): a neighbours graph and Gram matrices.

:class:`KNNTransformer` follows :class:`sklearn.neighbors.KNeighborsTransformer`: its
sparse graph goes to any estimator that takes ``metric="precomputed"`` (Isomap, TSNE,
DBSCAN, SpectralClustering, KNeighborsClassifier, ...) in a Pipeline, with every measure
of the catalog. :func:`pairwise_kernel` is :func:`sklearn.metrics.pairwise.pairwise_kernels`
for the catalog's similarities, with the registry's positive-definiteness claim.

Similarities in a neighbours graph
----------------------------------
A neighbours graph holds dissimilarities (``metric="precomputed"`` wants distances). A
similarity ``s`` with a finite upper bound ``s_max`` on probability vectors (the catalog's
``bounds.high``, e.g. 1 for cosine and fidelity) enters the graph as
``s_max - s``: a decreasing map, so the neighbours and their order are those of ``s``, and
the values are >= 0 on probability vectors. A similarity without a finite bound
(Kulczynski s) is refused, and a value above the bound (rows that are not probability
vectors) is an error naming the row, never a negative distance (a rounding above it, within
64 units in the last place, counts as the bound).

This module imports scikit-learn; ``import divergences`` does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from . import api, search
from .ann import dissimilarity_offset
from .api import MeasureLike
from .registry import resolve
from .spec import Measure
from .validation import InputError

__all__ = ["KNNTransformer", "dissimilarity_offset", "pairwise_kernel"]

_OPTIONS = ("zero", "epsilon", "method")


class KNNTransformer(TransformerMixin, BaseEstimator):
    """The k-nearest-neighbours graph of a catalog measure, as a sparse matrix.

    The contract of :class:`sklearn.neighbors.KNeighborsTransformer`: ``fit(X)`` keeps
    the rows, ``transform(Y)`` returns the CSR graph of shape ``(len(Y), len(X))`` with the
    ``n_neighbors`` nearest rows of ``X`` per row of ``Y`` (one more in ``distance`` mode,
    since a row of the training set is its own nearest neighbour), found by the exact
    :func:`divergences.knn` (ties to the lower index, query first for asymmetric measures).

    Parameters
    ----------
    measure : str or Measure, default "euclidean"
        Any measure of the catalog. A similarity ``s`` enters the graph as
        ``s_max - s`` (see the module docstring).
    n_neighbors : int, default 5
    mode : {"distance", "connectivity"}, default "distance"
        ``distance``: the values (dissimilarities); ``connectivity``: ones.
    zero, epsilon, method
        As in :func:`divergences.cdist` (``None``: the measure's default).
    metric_params : dict, optional
        Measure parameters (``{"base": 2}``), scikit-learn's name for them (an estimator
        cannot take ``**kwargs``: ``clone`` and ``check_estimator`` need every parameter
        in the signature).

    Attributes
    ----------
    n_features_in_ : int
    n_samples_fit_ : int
    fit_X_ : ndarray
        The rows of the fitted data (float64).

    Examples
    --------
    >>> import numpy as np
    >>> from divergences.sklearn import KNNTransformer
    >>> X = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
    >>> G = KNNTransformer("manhattan", n_neighbors=1).fit_transform(X)
    >>> G.toarray()
    array([[0. , 0.6, 0. ],
           [0.6, 0. , 0. ],
           [0. , 0.8, 0. ]])
    """

    def __init__(
        self,
        measure: MeasureLike = "euclidean",
        n_neighbors: int = 5,
        mode: str = "distance",
        *,
        zero: str | None = None,
        epsilon: float | None = None,
        method: str | None = None,
        metric_params: dict[str, float] | None = None,
    ) -> None:
        self.measure = measure
        self.n_neighbors = n_neighbors
        self.mode = mode
        self.zero = zero
        self.epsilon = epsilon
        self.method = method
        self.metric_params = metric_params

    def _options(self) -> dict[str, Any]:
        opts = {k: getattr(self, k) for k in _OPTIONS if getattr(self, k) is not None}
        opts.update(self._params_only())
        return opts

    def _measure(self) -> Measure:
        return resolve(self.measure)[0]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        try:
            tags.input_tags.positive_only = self._measure().domain == "nonnegative"
        except LookupError:
            pass
        tags.transformer_tags.preserves_dtype = []
        return tags

    def fit(self, X: Any, y: Any = None) -> KNNTransformer:
        """Keep the rows of ``X`` (validated by the measure: domain, finiteness).

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=1)
        m = self._measure()
        if m.domain == "nonnegative":
            check_non_negative(X, f"KNNTransformer.fit ({m.name})")
        if self.mode not in ("distance", "connectivity"):
            raise ValueError(
                f"{m.name}: mode must be 'distance' or 'connectivity', got {self.mode!r}"
            )
        if (
            isinstance(self.n_neighbors, bool)
            or not isinstance(self.n_neighbors, (int, np.integer))
            or self.n_neighbors < 1
        ):
            raise ValueError(
                f"{m.name}: n_neighbors must be an integer >= 1, got {self.n_neighbors!r}"
            )
        # the measure validates the rows and options here, not at the first transform
        api.cdist(X[:1], X[:1], self.measure, **self._options())
        self.fit_X_ = X
        self.n_samples_fit_ = X.shape[0]
        return self

    def transform(self, X: Any) -> sp.csr_matrix:
        """The graph of the rows of ``X`` against the fitted rows.

        Parameters
        ----------
        X : array_like, shape (n_queries, n_features)

        Returns
        -------
        scipy.sparse.csr_matrix, shape (n_queries, n_samples_fit)
            Row ``i`` holds the nearest fitted rows of ``X[i]``, nearest first (explicit
            zeros kept: an exact match is an edge of length 0).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        m = self._measure()
        if m.domain == "nonnegative":
            check_non_negative(X, f"KNNTransformer.transform ({m.name})")
        k = self.n_neighbors + (self.mode == "distance")
        if k > self.n_samples_fit_:
            extra = "one more in distance mode: a row is its own neighbour; " * (
                k > self.n_neighbors
            )
            raise ValueError(
                f"{m.name}: n_neighbors={self.n_neighbors} needs {k} fitted rows "
                f"({extra}fitted on {self.n_samples_fit_})"
            )
        idx, val = search.knn(X, self.fit_X_, k, self.measure, **self._options())
        q = X.shape[0]
        if self.mode == "connectivity":
            data = np.ones(q * k)
        else:
            off = dissimilarity_offset(m, X.shape[1], **self._params_only())
            data = val if off is None else off - val
            if off is not None:  # a rounding above the bound (cosine 1 + 2^-52) is 0
                tol = 64 * np.finfo(np.float64).eps * max(1.0, abs(off))
                data = np.where((data < 0) & (data >= -tol), 0.0, data)
            bad = np.isnan(data) | (data < 0)
            if bad.any():
                row = int(np.flatnonzero(bad.any(axis=1))[0])
                raise InputError(
                    f"{m.name}: row {row} of X has a neighbour value "
                    f"{val[row][bad[row]][0]!r} that is NaN or beyond the measure's bound "
                    f"{off!r} on probability vectors (normalize the rows)"
                )
            data = data.ravel()
        indptr = np.arange(0, q * k + 1, k)
        return sp.csr_matrix((data, idx.ravel(), indptr), shape=(q, self.n_samples_fit_))

    def _params_only(self) -> dict[str, float]:
        return dict(self.metric_params or {})

    def fit_transform(self, X: Any, y: Any = None) -> sp.csr_matrix:
        """``fit(X).transform(X)``."""
        return self.fit(X).transform(X)


def pairwise_kernel(
    X: Any,
    Y: Any = None,
    measure: MeasureLike = "fidelity",
    *,
    require_positive_definite: bool = True,
    **options: Any,
) -> np.ndarray:
    """The Gram matrix ``K[i, j] = s(X[i], Y[j])`` of a similarity measure.

    Like :func:`sklearn.metrics.pairwise.pairwise_kernels` with a catalog similarity
    (``Y=None`` means ``Y = X``). Kernel methods (SVC, KernelPCA, ...) need a positive
    semi-definite Gram matrix; whether a measure gives one is a claim of the registry
    (``measure.positive_definite``, with its evidence and, where it fails, a set of rows
    whose Gram matrix has a negative eigenvalue), never assumed.

    Parameters
    ----------
    X : array_like, shape (m, d)
    Y : array_like, shape (n, d), optional
    measure : str or Measure, default "fidelity"
        A similarity of the catalog.
    require_positive_definite : bool, default True
        Refuse a measure whose positive definiteness is not claimed (for the inputs
        given: a claim on probability vectors checks that the rows sum to 1).
    **options
        The options of :func:`divergences.cdist`.

    Returns
    -------
    ndarray, shape (m, n)

    Raises
    ------
    InputError
        For a dissimilarity, or (with ``require_positive_definite``) a similarity that is
        not claimed positive definite, naming the claim's counterexample.

    Examples
    --------
    >>> import numpy as np
    >>> from divergences.sklearn import pairwise_kernel
    >>> X = np.array([[0.25, 0.75], [1.0, 0.0]])
    >>> pairwise_kernel(X, measure="fidelity").round(4)
    array([[1. , 0.5],
           [0.5, 1. ]])
    """
    m = resolve(measure)[0]
    if m.kind != "similarity":
        raise InputError(f"{m.name} is a dissimilarity; a kernel needs a similarity")
    Y = X if Y is None else Y
    if require_positive_definite:
        claim = getattr(m, "positive_definite", None)
        if claim is None or claim.holds == "never":
            why = "" if claim is None else f": {claim.evidence}"
            raise InputError(
                f"{m.name} is not claimed positive definite{why} "
                "(pass require_positive_definite=False to get the matrix anyway)"
            )
        if claim.holds == "pdf" and not options.get("normalize", False):
            for arg, A in (("X", X), ("Y", Y)):
                sums = np.asarray(A, dtype=np.float64).sum(axis=-1)
                if not np.allclose(sums, 1.0, rtol=0, atol=1e-9):
                    row = int(np.flatnonzero(~np.isclose(sums, 1.0, rtol=0, atol=1e-9))[0])
                    raise InputError(
                        f"{m.name} is positive definite on probability vectors only, and "
                        f"row {row} of {arg} sums to {sums[row]!r} (normalize=True)"
                    )
    return np.asarray(api.cdist(X, Y, measure, **options))
