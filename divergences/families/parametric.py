"""Parametric divergences used as losses (extras, not rows of Cha's survey).

Each measure is one declarative definition. Limits at special parameter values (Renyi at
alpha = 1 is KL, ...) are taken exactly with ``where`` on the parameter, so the value at
the special point is the limit itself, never NaN, and values next to it are continuous.
"""

from __future__ import annotations

MEASURES: list = []
