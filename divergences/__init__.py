"""divergences: every distance, similarity and divergence of Cha's 2007 survey, in one catalog.

>>> import divergences as dv
>>> dv.get("kl")([0.5, 0.5], [0.9, 0.1])  # doctest: +ELLIPSIS
0.5108256...
>>> [m.name for m in dv.select(metric=True, family="fidelity")]
['hellinger', 'matusita', 'hellinger_statistics']
"""

from .analysis import analyze
from .ann import numba_metric
from .api import cdist, pair, pdist
from .embeddings import ExactEmbedding, embedding
from .gradients import paired_grad
from .index import Index, IndexFileError, RadiusResult
from .loss_claims import loss_properties
from .paired import paired
from .profiles import plot
from .registry import AliasedMeasure, UnknownMeasureError, get, measures, names, select
from .search import cdist_chunked, knn
from .spec import Claim, Measure
from .validation import InputError

__version__ = "0.1.0"

__all__ = [
    "AliasedMeasure",
    "Claim",
    "ExactEmbedding",
    "Index",
    "IndexFileError",
    "InputError",
    "Measure",
    "RadiusResult",
    "UnknownMeasureError",
    "analyze",
    "cdist",
    "cdist_chunked",
    "embedding",
    "get",
    "knn",
    "loss_properties",
    "measures",
    "names",
    "numba_metric",
    "pair",
    "paired",
    "paired_grad",
    "pdist",
    "plot",
    "select",
]
