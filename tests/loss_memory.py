"""Peak resident memory of one warm forward + backward of a float32 logits loss, measured in
a fresh process (Linux: /proc/self/clear_refs resets the peak, VmHWM reads it).

    MALLOC_MMAP_THRESHOLD_=131072 python tests/loss_memory.py 1024 32000 kl divergences
    MALLOC_MMAP_THRESHOLD_=131072 python tests/loss_memory.py 1024 32000 kl torch

The process builds the (B, V) float32 logits and soft targets, runs the loss once at the same
shape (compilation, first allocations), frees that gradient, resets the peak, runs it again
and prints the peak's growth over the resident memory just before, in bytes: the gradient
and whatever else the loss held at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _rss(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _run(B: int, V: int, measure: str, impl: str) -> int:
    import torch
    import torch.nn.functional as F  # noqa: N812

    import divergences.torch as dvt

    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(B, V, generator=g)
    p = F.softmax(torch.randn(B, V, generator=g), -1)
    if impl == "divergences":
        fn = dvt.Loss(measure, input="logits", reduction="batchmean")
    else:

        def fn(z, p):
            return F.kl_div(F.log_softmax(z, -1), p, reduction="batchmean")

    def step() -> None:
        zz = z.detach().requires_grad_()
        fn(zz, p).backward()
        del zz

    step()
    Path("/proc/self/clear_refs").write_text("5")
    before = _rss("VmRSS")
    step()
    return _rss("VmHWM") - before


def peak_growth(B: int, V: int, measure: str = "kl", impl: str = "divergences") -> int:
    """Bytes by which one warm forward + backward raised the peak resident memory."""
    # a fixed mmap threshold: glibc otherwise raises it when a large block is freed and
    # keeps the next ones on its heap, resident after they are freed (no growth to see)
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    out = subprocess.run(
        [sys.executable, __file__, str(B), str(V), measure, impl],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"loss_memory.py {B} {V} {measure} {impl} failed:\n{out.stderr}")
    return int(out.stdout.split()[-1])


if __name__ == "__main__":
    print(_run(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]))
