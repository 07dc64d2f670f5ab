"""Loss profiles: what a measure looks like as a classification loss, beside cross-entropy.

The target is a class distribution P (one-hot on class 0, or label-smoothed); the model
predicts Q = softmax(z) with logits z = (t, 0, ..., 0). As the margin t moves from -T (wrong,
confident) to +T (right, confident) the loss is L(t) = measure(P, Q(t)), the loss functions'
convention (the target is P, as torch's ``KLDivLoss``). For a similarity s the loss is
s(P, P) - s(P, Q(t)): zero at a perfect prediction and larger when worse.

The gradient dL/dt with respect to the true class's logit is taken by central differences of
the values (step ``1e-6``, exact to about 1e-9 relative where L is smooth; the mean of the two
one-sided slopes at a kink). Cross-entropy -log Q_0(t) and its gradient Q_0(t) - 1 are drawn
beside. Values that are inf or NaN (e.g. a measure dividing by P_i with a one-hot target) are
left out of the curve and named in the panel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .registry import resolve

#: Central-difference step on the logit.
STEP = 1e-6


def _probs(t: np.ndarray, classes: int) -> np.ndarray:
    z = np.zeros((t.size, classes))
    z[:, 0] = t
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def target(classes: int, smoothing: float = 0.0) -> np.ndarray:
    """Class 0 with label smoothing: ``(1 - s) e_0 + s / classes``."""
    p = np.full(classes, smoothing / classes)
    p[0] += 1.0 - smoothing
    return p


def profile(
    measure: Any,
    *,
    classes: int = 2,
    smoothing: float = 0.0,
    span: float = 8.0,
    points: int = 161,
    **params: float,
) -> dict[str, np.ndarray]:
    r"""Loss L(t) = measure(P, softmax(t, 0, ...)) and dL/dt on a grid of margins t.

    Parameters
    ----------
    measure : str or Measure
    classes : int, default 2
    smoothing : float, default 0
        Label smoothing of the target (0: one-hot).
    span : float, default 8
        t runs over [-span, span].
    points : int, default 161
    **params
        The measure's parameters.

    Returns
    -------
    dict
        ``t``, ``loss``, ``grad``, ``ce``, ``ce_grad`` (arrays of ``points`` values).

    Examples
    --------
    >>> from divergences.profiles import profile
    >>> pr = profile("kl", points=5, span=2.0)
    >>> bool(abs(pr["loss"] - pr["ce"]).max() < 1e-12)   # KL to a one-hot target is CE
    True
    """
    from .api import cdist

    m, _ = resolve(measure)
    if classes < 2:
        raise ValueError(f"{m.name}: classes must be at least 2, got {classes}")
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"{m.name}: smoothing must be in [0, 1), got {smoothing}")
    t = np.linspace(-span, span, points)
    P = target(classes, smoothing)[None, :]

    def loss(tt: np.ndarray) -> np.ndarray:
        v = cdist(P, _probs(tt, classes), measure, backend="numpy", **params)[0]
        if m.kind == "similarity":
            v = cdist(P, P, measure, backend="numpy", **params)[0, 0] - v
        return v

    with np.errstate(all="ignore"):
        L = loss(t)
        grad = (loss(t + STEP) - loss(t - STEP)) / (2 * STEP)
        q0 = _probs(t, classes)[:, 0]
        ce = -(P[0, 0] * np.log(q0)) - sum(
            P[0, j] * np.log(_probs(t, classes)[:, j]) for j in range(1, classes)
        )
        ce_grad = q0 - P[0, 0]
    return {"t": t, "loss": L, "grad": grad, "ce": ce, "ce_grad": ce_grad}


def _draw(ax_l: Any, ax_g: Any, name: str, pr: dict[str, np.ndarray], compact: bool) -> None:
    t = pr["t"]
    ok = np.isfinite(pr["loss"])
    okg = np.isfinite(pr["grad"])
    if compact:
        # both curves scaled to a peak of 1 so that the shapes compare across panels
        def scaled(v: np.ndarray, good: np.ndarray) -> np.ndarray:
            top = np.max(np.abs(v[good])) if good.any() else 1.0
            return v / (top if top > 0 else 1.0)

        ax_l.plot(t, scaled(pr["ce"], np.isfinite(pr["ce"])), color="0.7", lw=0.8)
        ax_l.plot(t[ok], scaled(pr["loss"], ok)[ok], color="C0", lw=1.2)
        ax_l.plot(t[okg], scaled(pr["grad"], okg)[okg], color="C1", lw=1.0)
        ax_l.set_title(name, fontsize=6)
        ax_l.tick_params(labelsize=5)
        if not ok.all():
            ax_l.text(
                0.5,
                0.5,
                "inf" if ok.any() else "inf everywhere",
                fontsize=6,
                transform=ax_l.transAxes,
                ha="center",
                color="C3",
            )
        return
    ax_l.plot(t, pr["ce"], color="0.6", ls="--", label="cross-entropy")
    ax_l.plot(t[ok], pr["loss"][ok], color="C0", label=name)
    ax_l.set_ylabel("loss")
    ax_g.plot(t, pr["ce_grad"], color="0.6", ls="--", label="cross-entropy")
    ax_g.plot(t[okg], pr["grad"][okg], color="C1", label=name)
    ax_g.set_ylabel("d loss / d logit of the true class")
    for ax in (ax_l, ax_g):
        ax.set_xlabel("logit margin t of the true class (wrong <- 0 -> right)")
        ax.axvline(0, color="0.85", lw=0.8)
        ax.legend(fontsize=8)
    if not ok.any():
        ax_l.set_title(
            "inf/NaN everywhere: the measure cannot take a zero in the target "
            "(try --smoothing 0.1)",
            fontsize=8,
        )
    elif not ok.all():
        bad = t[~ok]
        ax_l.set_title(f"inf/NaN for t in [{bad.min():g}, {bad.max():g}] (not drawn)", fontsize=8)


def plot(
    measure: Any = None,
    *,
    classes: int = 2,
    smoothing: float = 0.0,
    span: float = 8.0,
    output: str | None = None,
    **params: float,
) -> Any:
    """Draw the loss profile of ``measure`` beside cross-entropy (or a grid of every measure).

    Parameters
    ----------
    measure : str or Measure, optional
        One measure: two panels, the loss and its gradient with respect to the true class's
        logit. ``None``: a grid of every measure of the catalog (curves scaled to a peak of
        1: loss blue, gradient orange, cross-entropy grey).
    classes, smoothing, span
        As in :func:`profile`.
    output : str, optional
        Save to this file (``.png``, ``.svg``, ``.pdf``).
    **params
        The measure's parameters (single measure only).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .registry import measures
    from .report import pyplot

    plt = pyplot()
    what = f"{classes} classes, target " + (
        "one-hot" if smoothing == 0 else f"label-smoothed {smoothing:g}"
    )
    if measure is None:
        ms = measures()
        cols = 8
        rows = math.ceil(len(ms) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(1.45 * cols, 1.2 * rows), sharex=True)
        for ax, m in zip(axes.ravel(), ms, strict=False):
            _draw(
                ax,
                None,
                m.name,
                profile(m, classes=classes, smoothing=smoothing, span=span, points=81),
                compact=True,
            )
        for ax in axes.ravel()[len(ms) :]:
            ax.axis("off")
        fig.suptitle(
            f"Loss profiles ({what}): loss (blue), its gradient w.r.t. the true logit (orange), "
            "cross-entropy (grey); each scaled to a peak of 1; x: logit margin",
            fontsize=8,
        )
        fig.tight_layout(rect=(0, 0, 1, 0.98))
    else:
        m, _ = resolve(measure)
        pr = profile(measure, classes=classes, smoothing=smoothing, span=span, **params)
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
        _draw(a1, a2, m.name, pr, compact=False)
        extra = ", ".join(f"{k}={v:g}" for k, v in params.items())
        fig.suptitle(
            f"{m.name}{' (' + extra + ')' if extra else ''} as a loss: {what}", fontsize=10
        )
        fig.tight_layout()
    if output is not None:
        fig.savefig(output, dpi=80 if measure is None else 100, bbox_inches="tight")
    return fig
