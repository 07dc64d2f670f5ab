"""Writing an :class:`~divergences.analysis.Analysis` to a folder: JSON, values and pictures.

Everything is written into a temporary folder next to the destination and renamed into
place at the end, so a failure never leaves a partial report behind.  matplotlib is
imported here only (Agg back end, no display needed).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from .analysis import Analysis
from .atomic import _umask

#: The files of one analysed data set.
FILES = (
    "analysis.json",
    "values.npz",
    "dendrogram.png",
    "dendrogram.svg",
    "heatmap.png",
    "heatmap.svg",
)


class ReportError(OSError):
    """The report folder cannot be written (the message names it)."""


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg back end (imported lazily, no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, stem: str, dpi: int = 100) -> None:
    fig.savefig(stem + ".png", dpi=dpi, bbox_inches="tight")
    fig.savefig(stem + ".svg", bbox_inches="tight")


def dendrogram_figure(a: Analysis, title: str = "") -> Any:
    """A horizontal dendrogram of the measures (one label row per measure)."""
    from scipy.cluster.hierarchy import dendrogram

    plt = pyplot()
    n = len(a.labels)
    fig, ax = plt.subplots(figsize=(7.5, max(3.0, 0.17 * n + 1.0)))
    dendrogram(
        a.linkage,
        labels=a.labels,
        orientation="left",
        color_threshold=a.threshold,
        above_threshold_color="0.6",
        leaf_font_size=7,
        ax=ax,
    )
    ax.axvline(a.threshold, color="0.3", lw=0.8, ls="--")
    ax.set_xlabel("1 - |Spearman| (average linkage); dashed: the cut into groups")
    ax.set_title(title or f"Measures clustered on {a.values.shape[0]} pairs", fontsize=10)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig


def heatmap_figure(a: Analysis, title: str = "") -> Any:
    """The Spearman matrix ordered as the dendrogram's leaves, labels on both axes."""
    from scipy.cluster.hierarchy import leaves_list

    plt = pyplot()
    order = leaves_list(a.linkage)
    labels = [a.labels[i] for i in order]
    S = a.spearman[np.ix_(order, order)]
    n = len(labels)
    side = max(4.0, 0.15 * n + 2.0)
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    im = ax.imshow(S, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=6)
    ax.set_yticks(range(n), labels, fontsize=6)
    fig.colorbar(im, ax=ax, shrink=0.6, label="Spearman (similarities negated)")
    ax.set_title(title or "Rank correlation of the measures", fontsize=10)
    fig.tight_layout()
    return fig


def _write_one(a: Analysis, folder: str, title: str, extra: dict[str, Any]) -> None:
    plt = pyplot()
    os.makedirs(folder, exist_ok=True)
    record = a.to_json()
    record.update(extra)
    with open(os.path.join(folder, "analysis.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1, allow_nan=False)
        f.write("\n")
    np.savez_compressed(
        os.path.join(folder, "values.npz"),
        labels=np.array(a.labels),
        pairs=a.pairs,
        values=a.values,
    )
    for make, stem in ((dendrogram_figure, "dendrogram"), (heatmap_figure, "heatmap")):
        fig = make(a, title)
        try:
            _save(fig, os.path.join(folder, stem))
        finally:
            plt.close(fig)


def atomic_folder(destination: str, fill: Callable[[str], None]) -> None:
    """Run ``fill(tmp)`` on a fresh folder and move it to ``destination`` only on success.

    An existing ``destination`` folder is replaced; a file there is an error.

    Raises
    ------
    ReportError
        When the parent folder is not writable or ``destination`` is a file.
    """
    dest = os.path.abspath(destination)
    parent = os.path.dirname(dest)
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise ReportError(f"cannot write the report to {destination}: it is a file")
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".dv-report-", dir=parent)
    except OSError as e:
        raise ReportError(f"cannot write the report to {destination}: {e.strerror or e}") from None
    try:
        fill(tmp)
        old = None
        if os.path.exists(dest):
            old = tempfile.mkdtemp(prefix=".dv-old-", dir=parent)
            os.rmdir(old)
            os.rename(dest, old)
        os.chmod(tmp, 0o777 & ~_umask())
        os.rename(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_report(
    analyses: Analysis | dict[str, Analysis],
    destination: str,
    *,
    title: str = "",
    extra: dict[str, Any] | None = None,
) -> list[str]:
    """Write one analysis (or several, one subfolder each) to ``destination``.

    Files: ``analysis.json`` (correlations, overlaps, linkage, groups, exclusions),
    ``values.npz`` (the oriented values and the pairs they come from),
    ``dendrogram.{png,svg}``, ``heatmap.{png,svg}``.

    Returns
    -------
    list of str
        The paths written, relative to ``destination``.
    """
    many = analyses if isinstance(analyses, dict) else {"": analyses}
    info = extra or {}

    def fill(tmp: str) -> None:
        for name, a in many.items():
            sub = os.path.join(tmp, name) if name else tmp
            _write_one(a, sub, f"{title} {name}".strip(), info.get(name, {}) if name else info)

    atomic_folder(destination, fill)
    return [os.path.join(name, f) if name else f for name in many for f in FILES]
