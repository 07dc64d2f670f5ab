"""The zero-rule vocabulary of :mod:`divergences.expr` for array-API namespaces.

Every measure handles zeros only through these helpers; each one is an entry of
:data:`divergences.vocabulary.HELPERS` (with its implementation for every back end), and
the tests compare the back ends on {0, subnormal, 1, inf, nan}.
"""

from __future__ import annotations

import functools
from typing import Any

from ..vocabulary import LOG1PMX_SERIES_BELOW, array_vocabulary

__all__ = ["LOG1PMX_SERIES_BELOW", "vocabulary"]


@functools.cache
def vocabulary(xp: Any) -> dict[str, Any]:
    """The expression vocabulary implemented with namespace ``xp``."""
    return array_vocabulary(xp)
