"""One module per family of Cha's survey; only measure definitions live here.

Each module exports ``MEASURES``, a list of :class:`divergences.spec.Measure`.
"""

FAMILY_MODULES = (
    "minkowski",
    "l1",
    "intersection",
    "inner_product",
    "fidelity",
    "squared_l2",
    "shannon",
    "combinations",
    "vicissitude",
    "parametric",
)
