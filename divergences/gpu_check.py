"""``divergences gpu-check``: compile every CUDA kernel of the catalog with NVRTC, no GPU needed.

Each measure, in each of its zero modes, is one module (both dtypes' kernels in it); each is
compiled to a cubin for every requested architecture, so that ptxas runs too (and catches,
for example, shared-memory overflow). The options are those cupy.RawModule is given
(:data:`~divergences.kernels.cuda_source.NVRTC_OPTIONS`). NVRTC comes from PyPI:
``pip install "divergences[gpu-check]"`` (cuda-bindings and nvidia-cuda-nvrtc-cu12).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .kernels.cuda_source import KERNELS, NVRTC_OPTIONS, module_source
from .registry import measures
from .spec import Measure

#: the architectures checked by default (Turing to Hopper)
DEFAULT_ARCHS = (75, 80, 86, 89, 90)


class NVRTCUnavailableError(RuntimeError):
    """NVRTC (cuda-bindings with an NVRTC library) cannot be loaded."""


@dataclass(frozen=True)
class Result:
    """One module compiled for one architecture."""

    measure: str
    zero: str
    arch: int
    ok: bool
    cubin_bytes: int
    seconds: float
    log: str


def _nvrtc() -> Any:
    try:
        from cuda.bindings import nvrtc
    except ImportError as e:
        raise NVRTCUnavailableError(
            "gpu-check needs NVRTC from PyPI: pip install 'divergences[gpu-check]' "
            f"(cuda-bindings and nvidia-cuda-nvrtc-cu12); import failed: {e}"
        ) from None
    try:
        err, *_ = nvrtc.nvrtcVersion()
    except Exception as e:  # the bindings import, the library does not load
        raise NVRTCUnavailableError(f"gpu-check cannot load the NVRTC library: {e}") from None
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise NVRTCUnavailableError(f"gpu-check: nvrtcVersion failed ({err})")
    return nvrtc


def nvrtc_version() -> str:
    """NVRTC's version, e.g. ``"12.9"``."""
    nvrtc = _nvrtc()
    _, major, minor = nvrtc.nvrtcVersion()
    return f"{major}.{minor}"


def compile_cubin(
    source: str, arch: int, name: str = "divergences.cu", kernels: Sequence[str] = ()
) -> tuple[bool, bytes, str]:
    """Compile ``source`` to a cubin for ``sm_<arch>``: (ok, cubin, compiler log).

    ``kernels``: entry points that must exist (registered as NVRTC name expressions, so that
    a missing or misspelt one is a compile error).
    """
    nvrtc = _nvrtc()
    ok_code = nvrtc.nvrtcResult.NVRTC_SUCCESS
    err, prog = nvrtc.nvrtcCreateProgram(source.encode(), name.encode(), 0, [], [])
    if err != ok_code:
        return False, b"", f"nvrtcCreateProgram: {err}"
    try:
        for kernel in kernels:
            nvrtc.nvrtcAddNameExpression(prog, kernel.encode())
        opts = [f"--gpu-architecture=sm_{arch}".encode(), *(o.encode() for o in NVRTC_OPTIONS)]
        (status,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
        _, size = nvrtc.nvrtcGetProgramLogSize(prog)
        buf = b" " * size
        nvrtc.nvrtcGetProgramLog(prog, buf)
        log = buf.rstrip(b"\x00 ").decode(errors="replace").strip()
        if status != ok_code:
            return False, b"", log or str(status)
        _, size = nvrtc.nvrtcGetCUBINSize(prog)
        cubin = b" " * size
        nvrtc.nvrtcGetCUBIN(prog, cubin)
        return True, cubin, log
    finally:
        nvrtc.nvrtcDestroyProgram(prog)


def modules(selected: Iterable[Measure] | None = None) -> list[tuple[Measure, str]]:
    """Every (measure, zero mode) that has a kernel module of its own."""
    out = []
    for m in selected if selected is not None else measures():
        out.append((m, "strict"))
        if m.epsilon is not None:
            out.append((m, "epsilon"))
    return out


def check(
    archs: Sequence[int] = DEFAULT_ARCHS,
    selected: Iterable[Measure] | None = None,
    jobs: int = 2,
) -> list[Result]:
    """Compile every module for every arch (NVRTC releases the GIL: ``jobs`` threads)."""
    _nvrtc()

    def one(task: tuple[Measure, str, int]) -> Result:
        m, zero, arch = task
        t = time.perf_counter()
        src = module_source(m, zero)
        ok, cubin, log = compile_cubin(src, arch, f"{m.name}_{zero}.cu", KERNELS)
        return Result(m.name, zero, arch, ok, len(cubin), time.perf_counter() - t, log)

    tasks = [(m, z, a) for m, z in modules(selected) for a in archs]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, tasks))


def _archs(text: str) -> list[int]:
    try:
        archs = [int(a.strip().removeprefix("sm_")) for a in text.split(",") if a.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--arch takes comma-separated compute capabilities such as 75,80,90; got {text!r}"
        ) from None
    if not archs:
        raise argparse.ArgumentTypeError("--arch needs at least one architecture")
    return archs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``divergences gpu-check``."""
    parser.add_argument(
        "--arch",
        type=_archs,
        default=list(DEFAULT_ARCHS),
        help="compute capabilities to compile for (default: 75,80,86,89,90)",
    )
    parser.add_argument(
        "--measure", action="append", default=None, help="check only this measure (repeatable)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="parallel compilations (default 2)")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per module")


def run(args: argparse.Namespace, out: Any = None) -> int:
    """Run the check and print a per-arch summary (to ``out``, default stdout); 0 when
    everything compiled."""
    from .registry import get

    out = sys.stdout if out is None else out
    selected = [get(n) for n in args.measure] if args.measure else None
    t0 = time.perf_counter()
    results = check(args.arch, selected, jobs=args.jobs)
    wall = time.perf_counter() - t0
    print(f"NVRTC {nvrtc_version()}, options: {' '.join(NVRTC_OPTIONS)}", file=out)
    nmod = len({(r.measure, r.zero) for r in results})
    print(f"{nmod} modules x {len(args.arch)} architectures, {wall:.1f} s", file=out)
    print(f"{'arch':<8}{'compiled':>10}{'failed':>8}{'cubin KiB':>11}", file=out)
    for arch in args.arch:
        rs = [r for r in results if r.arch == arch]
        good = [r for r in rs if r.ok]
        kib = sum(r.cubin_bytes for r in good) / 1024
        print(f"sm_{arch:<5}{len(good):>10}{len(rs) - len(good):>8}{kib:>11.0f}", file=out)
    for r in results:
        if args.verbose or not r.ok:
            state = "ok" if r.ok else "FAILED"
            print(f"{state:<7} sm_{r.arch} {r.measure} ({r.zero}) {r.seconds:.2f} s", file=out)
        if not r.ok:
            print("    " + r.log.replace("\n", "\n    "), file=out)
    failed = sum(not r.ok for r in results)
    print("all kernels compiled" if not failed else f"{failed} compilations FAILED", file=out)
    return 1 if failed else 0
