"""Back ends that evaluate measures: the array-API reference (the oracle) and, later,
compiled kernels derived from the same definitions."""
