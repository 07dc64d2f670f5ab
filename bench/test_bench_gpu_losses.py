"""Losses on a CUDA device, forward + backward: ``divergences.torch.Loss`` against
Liger-Kernel's fused Triton losses and torch composed, at Liger-Kernel's published shapes.

The ready script for a session with a GPU (the issue asks for it; no GPU has run it yet)::

    pip install -e ".[test,gpu]" liger-kernel
    python -m pytest bench/test_bench_gpu_losses.py --bench-size=full \\
        --benchmark-columns=min,median,rounds --benchmark-group-by=group

Shapes (Liger-Kernel's ``benchmark/scripts``; ``full``): KL ``B * T = 8 * 512`` rows at
``V = 2**17`` (log-probabilities in, probabilities as target, ``batchmean``); JSD 8192 rows
at ``V = 2**17`` (log-probabilities on both sides, beta = 1/2, the ordinary
Jensen-Shannon); TVD ``8 * 2048`` rows at ``V = 2**17`` (probabilities on both sides).
float32 on the device, the gradient with respect to the input. Each benchmark records the
peak device memory of its forward + backward (``extra_info["peak_MiB"]``) and checks its
loss and gradient against torch composed on the same tensors.

Without a GPU the same code runs on the CPU at the ``tiny`` and ``short`` sizes (CI's
smoke run checks our losses and torch's against each other there); Liger-Kernel's cases
need CUDA and are skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import bench_size

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402, N812

import divergences.torch as dvt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from gpu_device import device_reason  # noqa: E402

ON_GPU = device_reason() is None and torch.cuda.is_available()
DEVICE = "cuda" if ON_GPU else "cpu"

#: rows x V per loss and size (full: Liger-Kernel's published shapes)
SHAPES = {
    "kl": {"tiny": (8, 64), "short": (512, 8192), "full": (8 * 512, 2**17)},
    "jsd": {"tiny": (8, 64), "short": (512, 8192), "full": (8192, 2**17)},
    "tvd": {"tiny": (8, 64), "short": (512, 8192), "full": (8 * 2048, 2**17)},
}


def _data(loss: str, size: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(input, target): log-probabilities or probabilities as each loss takes them."""
    rows, V = SHAPES[loss][size]
    g = torch.Generator(device=DEVICE).manual_seed(0)
    x = torch.randn(rows, V, generator=g, device=DEVICE)
    t = torch.randn(rows, V, generator=g, device=DEVICE)
    if loss == "kl":
        return x.log_softmax(-1), t.softmax(-1)
    if loss == "jsd":
        return x.log_softmax(-1), t.log_softmax(-1)
    return x.softmax(-1), t.softmax(-1)


def _torch(loss: str) -> Any:
    """torch composed the usual way (Liger-Kernel's own torch baselines)."""

    def kl(lq: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return F.kl_div(lq, p, reduction="batchmean")

    def jsd(lq: torch.Tensor, lp: torch.Tensor) -> torch.Tensor:
        log_m = torch.log(torch.lerp(lq.exp(), lp.exp(), 0.5))
        rows = 0.5 * F.kl_div(log_m, lp, reduction="none", log_target=True).sum(-1)
        rows = rows + 0.5 * F.kl_div(log_m, lq, reduction="none", log_target=True).sum(-1)
        return rows.sum() / lq.shape[0]

    def tvd(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return (q - p).abs().sum() / 2 / q.shape[0]

    return {"kl": kl, "jsd": jsd, "tvd": tvd}[loss]


def _ours(loss: str) -> Any:
    spaces = {"kl": ("kl", "log_probs", "probs")}
    spaces["jsd"] = ("jensen_shannon", "log_probs", "log_probs")
    spaces["tvd"] = ("total_variation", "probs", "probs")
    measure, inp, tgt = spaces[loss]
    return dvt.Loss(measure, input=inp, target=tgt, reduction="batchmean")


def _liger(loss: str) -> Any:
    if not ON_GPU:
        pytest.skip("Liger-Kernel's losses are Triton kernels: they need a CUDA device")
    if loss == "kl":
        mod = pytest.importorskip("liger_kernel.transformers.kl_div")
        return mod.LigerKLDIVLoss(reduction="batchmean")
    if loss == "jsd":
        mod = pytest.importorskip("liger_kernel.transformers.jsd")
        return mod.LigerJSD(beta=0.5)
    mod = pytest.importorskip("liger_kernel.transformers.tvd")
    return mod.LigerTVDLoss(reduction="batchmean")


def _sync() -> None:
    if ON_GPU:
        torch.cuda.synchronize()


def _fwd_bwd(fn: Any, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_()
    loss = fn(x, t)
    loss.backward()
    _sync()
    return loss.detach(), x.grad


@pytest.mark.parametrize("loss", list(SHAPES))
@pytest.mark.parametrize("impl", ["divergences", "liger", "torch"])
def test_loss_on_device(benchmark, request, loss, impl):
    size = bench_size(request.config)
    if not ON_GPU and size == "full":
        pytest.skip(f"the full shapes are for a CUDA device ({device_reason()})")
    fn = {"divergences": _ours, "liger": _liger, "torch": _torch}[impl](loss)
    x, t = _data(loss, size)
    _fwd_bwd(fn, x, t)  # compile / warm up
    if ON_GPU:
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    benchmark.group = f"{loss} fwd+bwd {tuple(x.shape)} {DEVICE}"
    got, grad = benchmark.pedantic(_fwd_bwd, args=(fn, x, t), rounds=5, iterations=1)
    if ON_GPU:
        peak = torch.cuda.max_memory_allocated() - before
        benchmark.extra_info["peak_MiB"] = round(peak / 2**20, 1)
    want, want_grad = _fwd_bwd(_torch(loss), x.double(), t.double())
    assert float(got) == pytest.approx(float(want), rel=1e-4, abs=1e-7)
    check = torch.ones_like(grad, dtype=torch.bool)
    if loss == "tvd":
        # |q - p| has a kink at q = p: float32 and float64 may fall on either side
        check = (x.double() - t.double()).abs() > 1e-6 * x.double().abs()
    torch.testing.assert_close(
        grad[check].double(), want_grad[check], rtol=1e-3, atol=1e-6 / x.shape[0]
    )
