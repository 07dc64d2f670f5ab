"""Exact top-k selection with the library's tie rule: by (value, index), NaN after every number.

Shared by :func:`divergences.knn` and :class:`divergences.Index` (and their merges of the
results of several blocks of database rows).
"""

from __future__ import annotations

import numpy as np


def top_k(key: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` smallest entries of each row of ``key``, in order.

    The order is by (value, column) with NaN after every number (+inf included): ties go to
    the lower column, exactly as the first ``k`` columns of a stable argsort. ``key`` is not
    modified. Needs ``0 < k <= key.shape[1]``.
    """
    n = key.shape[1]
    if k == n:
        return np.argsort(key, axis=1, kind="stable")
    part = np.argpartition(key, k - 1, axis=1)  # NaN sorts after +inf here too
    idx = np.ascontiguousarray(part[:, :k])
    kth = np.take_along_axis(key, part[:, k - 1 : k], axis=1)  # (r, 1)
    del part
    vals = np.take_along_axis(key, idx, axis=1)
    # argpartition keeps every entry below the k-th value but picks an arbitrary subset of
    # the entries equal to it; rows with more such ties than places are redone exactly
    nan_kth = np.isnan(kth[:, 0])
    eq_all = np.count_nonzero(key == kth, axis=1)
    if nan_kth.any():
        eq_all = np.where(nan_kth, np.count_nonzero(np.isnan(key), axis=1), eq_all)
    eq_in = np.count_nonzero((vals == kth) | (np.isnan(vals) & nan_kth[:, None]), axis=1)
    for i in np.flatnonzero(eq_all > eq_in):
        row = key[i]
        if nan_kth[i]:
            below, ties = np.flatnonzero(~np.isnan(row)), np.flatnonzero(np.isnan(row))
        else:
            below, ties = np.flatnonzero(row < kth[i, 0]), np.flatnonzero(row == kth[i, 0])
        idx[i] = np.concatenate([below, ties[: k - below.size]])
    # order the k candidates by (value, column): sort by column, then stably by value
    idx = np.take_along_axis(idx, np.argsort(idx, axis=1), axis=1)
    vals = np.take_along_axis(key, idx, axis=1)
    return np.take_along_axis(idx, np.argsort(vals, axis=1, kind="stable"), axis=1)


def merge(
    idx: np.ndarray, key: np.ndarray, new_idx: np.ndarray, new_key: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of two ranked candidate lists per row, by (key, index), NaN last.

    ``idx``/``key`` (rows x a) and ``new_idx``/``new_key`` (rows x b) are each ordered by
    (key, index), and every index of the second list is larger than every index of the
    first (the blocks of database rows come in order), so a stable sort of the
    concatenation by key alone keeps ties in index order.
    """
    both_idx = np.concatenate([idx, new_idx], axis=1)
    both_key = np.concatenate([key, new_key], axis=1)
    order = np.argsort(both_key, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(both_idx, order, axis=1), np.take_along_axis(both_key, order, axis=1)
