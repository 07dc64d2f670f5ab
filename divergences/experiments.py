"""The noisy-label experiment: which losses keep their accuracy when labels are wrong?

A small softmax model (64 -> 128 -> 10 MLP, ReLU) is trained on scikit-learn's bundled
digits (1,797 images, 70/30 split stratified by class) with *symmetric* label noise: with
probability ``eta`` a training label is replaced by one of the other nine classes, uniformly
(Ghosh, Kumar & Sastry 2017). Test accuracy is measured on the clean test labels.

Losses: ``ce`` is torch's ``cross_entropy`` (the baseline); every other name is a measure of
the catalog used as loss(logits, label) = measure(P = one-hot label, Q = softmax(logits))
(a similarity s as -s), averaged over the batch; ``mae`` is an alias for ``manhattan``
(sum_i |P_i - Q_i| = 2 (1 - Q_y), the MAE of Ghosh et al.). The measure's values and
gradients come from ``divergences.torch.Loss`` when that adapter is installed, else from
torch autograd through the array-API reference implementation (``backend="numpy"``).

The published finding to compare with: bounded symmetric losses (MAE; generalized JS,
Englesson & Azizpour, NeurIPS 2021) lose far less accuracy than cross-entropy as the noise
grows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

DEFAULT_NOISE = (0.0, 0.2, 0.4, 0.6)
DEFAULT_LOSSES = ("ce", "mae", "jensen_shannon", "hellinger", "squared_euclidean")
ALIASES = {"mae": "manhattan"}


def _data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)


def symmetric_noise(
    y: np.ndarray, eta: float, classes: int, rng: np.random.Generator
) -> np.ndarray:
    """Replace each label with probability ``eta`` by one of the other classes, uniformly."""
    flip = rng.random(y.size) < eta
    shift = rng.integers(1, classes, size=y.size)
    return np.where(flip, (y + shift) % classes, y)


def make_loss(name: str) -> tuple[Callable[[Any, Any], Any], str]:
    """The loss callable ``(logits, labels) -> mean loss`` and where its gradient comes from."""
    import torch

    if name == "ce":
        return torch.nn.functional.cross_entropy, "torch.nn.functional.cross_entropy"
    from .registry import resolve

    m, _ = resolve(ALIASES.get(name, name))
    sign = -1.0 if m.kind == "similarity" else 1.0
    try:
        from .torch import Loss  # type: ignore[attr-defined]
    except ImportError:
        Loss = None
    adapter, why = None, "no divergences.torch adapter in this version"
    if Loss is not None:
        try:
            adapter = Loss(m.name, input="logits", reduction="mean")
        except (TypeError, ValueError) as e:  # reported in the result, never silent
            why = f"divergences.torch.Loss refused it: {e}"
    if adapter is not None:

        def via_adapter(logits: Any, labels: Any) -> Any:
            target = torch.nn.functional.one_hot(labels, logits.shape[1]).to(logits.dtype)
            return sign * adapter(logits, target)

        return via_adapter, "divergences.torch.Loss (analytic gradients)"

    from .api import cdist

    def via_reference(logits: Any, labels: Any) -> Any:
        # the targets are one-hot: the measure from each of the C class vectors to every
        # prediction (C x B values, not B x B), then the value of row i's own class
        classes = torch.eye(logits.shape[1], dtype=logits.dtype)
        q = torch.softmax(logits, dim=1)
        v = cdist(classes, q, m, backend="numpy")[labels, torch.arange(labels.shape[0])]
        return sign * v.mean()

    return via_reference, f"torch autograd through the array-API reference ({why})"


def train_once(
    loss: str, eta: float, seed: int, *, epochs: int, batch: int = 128, lr: float = 3e-3
) -> float:
    """Test accuracy of one run (deterministic given ``seed``)."""
    import torch

    Xtr, Xte, ytr, yte = _data(seed)
    rng = np.random.default_rng(seed)
    ynoisy = symmetric_noise(ytr, eta, 10, rng)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    ).double()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    fn, _ = make_loss(loss)
    Xt = torch.as_tensor(Xtr)
    yt = torch.as_tensor(ynoisy)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(Xt.shape[0], generator=gen)
        for i in range(0, Xt.shape[0], batch):
            idx = order[i : i + batch]
            opt.zero_grad()
            value = fn(model(Xt[idx]), yt[idx])
            if not torch.isfinite(value):
                raise ValueError(
                    f"{loss}: the loss is not finite on one-hot targets; choose a measure "
                    "that is finite at zero target entries"
                )
            value.backward()
            opt.step()
    with torch.no_grad():
        pred = model(torch.as_tensor(Xte)).argmax(dim=1).numpy()
    return float((pred == yte).mean())


def noisy_labels(
    noise: Sequence[float] = DEFAULT_NOISE,
    losses: Sequence[str] = DEFAULT_LOSSES,
    seeds: int = 3,
    *,
    epochs: int = 60,
    batch: int = 128,
    progress: bool = False,
) -> dict[str, Any]:
    """Train every loss at every noise rate for ``seeds`` seeds; test accuracies.

    Parameters
    ----------
    noise : sequence of float
        Symmetric noise rates in [0, 0.9).
    losses : sequence of str
        ``ce``, ``mae`` or names of the catalog.
    seeds : int
        Seeds 0 .. seeds-1 (each fixes the split, the noise, the initialisation, the batches).
    epochs, batch : int
        Passes over the training set; rows per Adam step.
    progress : bool
        A tqdm bar over the runs on stderr.

    Returns
    -------
    dict
        ``accuracy[loss][noise]`` = list of accuracies (one per seed), ``mean``, ``std``,
        ``gradients`` (where each loss's gradient came from), ``seconds``, the settings.
    """
    for eta in noise:
        if not 0.0 <= eta < 0.9:
            raise ValueError(f"noise rate {eta} is outside [0, 0.9)")
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    sources = {name: make_loss(name)[1] for name in losses}  # unknown names fail first
    import torch

    threads = torch.get_num_threads()
    # one thread: the model is tiny (threads cost more than they give on a busy machine)
    # and the results are then bit-for-bit reproducible from the seed
    torch.set_num_threads(1)
    start = time.perf_counter()
    acc: dict[str, dict[str, list[float]]] = {name: {} for name in losses}
    jobs = [(name, eta, s) for name in losses for eta in noise for s in range(seeds)]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc="noisy-labels", unit="run")
    try:
        for name, eta, s in jobs:
            accuracy = train_once(name, eta, s, epochs=epochs, batch=batch)
            acc[name].setdefault(f"{eta:g}", []).append(accuracy)
            if bar is not None:
                bar.update(1)
    finally:
        torch.set_num_threads(threads)
        if bar is not None:
            bar.close()
    mean = {n: {k: float(np.mean(v)) for k, v in d.items()} for n, d in acc.items()}
    std = {n: {k: float(np.std(v)) for k, v in d.items()} for n, d in acc.items()}
    return {
        "noise": [float(e) for e in noise],
        "losses": list(losses),
        "seeds": int(seeds),
        "epochs": int(epochs),
        "batch": int(batch),
        "accuracy": acc,
        "mean": mean,
        "std": std,
        "gradients": sources,
        "seconds": round(time.perf_counter() - start, 1),
    }


def table(result: dict[str, Any]) -> str:
    """A Markdown table: mean +- std test accuracy (%) per loss and noise rate."""
    noise = [f"{e:g}" for e in result["noise"]]
    lines = ["| loss | " + " | ".join(f"noise {e}" for e in noise) + " |"]
    lines.append("|---|" + "---|" * len(noise))
    for name in result["losses"]:
        cells = [
            f"{100 * result['mean'][name][e]:.1f} +- {100 * result['std'][name][e]:.1f}"
            for e in noise
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_result(result: dict[str, Any], output: str) -> None:
    """Test accuracy against the noise rate, one line per loss (mean, band of +- std)."""
    from .report import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.array(result["noise"])
    for name in result["losses"]:
        keys = [f"{e:g}" for e in result["noise"]]
        m = np.array([result["mean"][name][k] for k in keys]) * 100
        s = np.array([result["std"][name][k] for k in keys]) * 100
        ax.plot(x, m, marker="o", label=name, ls="--" if name == "ce" else "-")
        ax.fill_between(x, m - s, m + s, alpha=0.15)
    ax.set_xlabel("symmetric label noise rate")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(
        f"digits, MLP, {result['epochs']} epochs, {result['seeds']} seed(s): mean +- std",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(output, dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)
