"""Example data shipped with a dependency (scikit-learn), so that examples run offline.

``digits``: the 1,797 8x8 images of scikit-learn's bundled digits, each read as a histogram
over its 64 pixels (intensity 0-16 as a count, plus one: a Laplace pseudo-count, so that the
log and ratio measures stay finite; then divided by the sum).

``sample_images``: the two bundled photographs (china.jpg, flower.jpg) cut into 32x32
patches, each patch a colour histogram over 4 x 4 x 4 RGB bins (64 bins, pixel counts plus
one, divided by the sum): 520 rows.
"""

from __future__ import annotations

import numpy as np

#: The pseudo-count added to every bin before normalising.
PSEUDO_COUNT = 1.0


def _normalise(counts: np.ndarray) -> np.ndarray:
    c = counts.astype(np.float64) + PSEUDO_COUNT
    return c / c.sum(axis=1, keepdims=True)


def digits_histograms() -> np.ndarray:
    """scikit-learn's digits as 64-bin histograms, shape (1797, 64), rows sum to 1.

    Examples
    --------
    >>> from divergences.examples import digits_histograms
    >>> digits_histograms().shape
    (1797, 64)
    """
    from sklearn.datasets import load_digits

    return _normalise(load_digits().data)


def sample_image_histograms(patch: int = 32, levels: int = 4) -> np.ndarray:
    """Colour histograms (``levels**3`` bins) of ``patch x patch`` tiles of the sample images.

    Examples
    --------
    >>> from divergences.examples import sample_image_histograms
    >>> sample_image_histograms().shape
    (520, 64)
    """
    from sklearn.datasets import load_sample_images

    rows = []
    for img in load_sample_images().images:
        q = (np.asarray(img, dtype=np.int64) * levels) // 256
        code = (q[..., 0] * levels + q[..., 1]) * levels + q[..., 2]
        h, w = code.shape
        for i in range(0, h - patch + 1, patch):
            for j in range(0, w - patch + 1, patch):
                tile = code[i : i + patch, j : j + patch].ravel()
                rows.append(np.bincount(tile, minlength=levels**3))
    return _normalise(np.array(rows))


#: name -> (loader, one-line description), in the order the example analyses them.
DATASETS = {
    "digits": (
        digits_histograms,
        "scikit-learn digits: 1797 images as 64-bin pixel histograms (+1 pseudo-count)",
    ),
    "sample_images": (
        sample_image_histograms,
        "scikit-learn sample images: 520 32x32 patches as 4x4x4 RGB histograms (+1 pseudo-count)",
    ),
}
