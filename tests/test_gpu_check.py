"""``divergences gpu-check``: NVRTC (from PyPI) compiles the kernels to cubins without a GPU,
and a failure is reported, not hidden.

Marked ``nvrtc`` (deselected by the README's test command, run by CI, which installs the
``gpu-check`` extra); skipped where NVRTC is not installed."""

from __future__ import annotations

import re

import pytest

from divergences import gpu_check
from divergences.cli import main

pytestmark = pytest.mark.nvrtc

try:
    gpu_check.nvrtc_version()
except gpu_check.NVRTCUnavailableError as e:  # pragma: no cover - depends on the install
    pytest.skip(f"NVRTC is not installed (pip install '.[gpu-check]'): {e}", allow_module_level=True)


def ptx(source: str, arch: int = 90) -> str:
    """The PTX NVRTC makes of ``source`` with the options cupy.RawModule is given."""
    from cuda.bindings import nvrtc

    from divergences.kernels.cuda_source import NVRTC_OPTIONS

    _, prog = nvrtc.nvrtcCreateProgram(source.encode(), b"t.cu", 0, [], [])
    try:
        opts = [f"--gpu-architecture=compute_{arch}".encode(), *(o.encode() for o in NVRTC_OPTIONS)]
        (status,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
        assert status == nvrtc.nvrtcResult.NVRTC_SUCCESS
        _, size = nvrtc.nvrtcGetPTXSize(prog)
        buf = b" " * size
        nvrtc.nvrtcGetPTX(prog, buf)
        return buf.decode()
    finally:
        nvrtc.nvrtcDestroyProgram(prog)


def test_gpu_arithmetic_keeps_subnormals():
    """No flush to zero and no approximate division: the float32 kernel converts its inputs
    to double exactly (with -ftz=true NVRTC emitted cvt.ftz.f64.f32, which read a float32
    subnormal such as 1e-40 as 0, so KL against it became inf where the CPU gives a finite
    value), and double division is IEEE round-to-nearest (div.rn.f64, never x * rcp(y) as
    Numba's 'arcp' did on the CPU). Issue 13, item 1."""
    from divergences import get
    from divergences.kernels.cuda_source import module_source

    for name, zero in (("pearson", "epsilon"), ("kullback_leibler", "strict")):
        text = ptx(module_source(get(name), zero))
        # (libdevice's log seeds a Newton iteration with rcp.approx.ftz.f64: that is inside
        # the math library, accurate to its documented ulps, and not looked at here)
        ops = set(re.findall(r"\b((?:cvt|div|sqrt|mul|add|sub|fma)\.[\w.]+)", text))
        assert not {o for o in ops if ".ftz" in o}, (name, sorted(ops))
        assert {o for o in ops if o.startswith("div.") and o.endswith("f64")} == {"div.rn.f64"}


def test_a_kernel_compiles_to_cubin_for_every_default_arch():
    from divergences import get
    from divergences.kernels.cuda_source import module_source

    src = module_source(get("jensen_shannon"), "strict")
    for arch in gpu_check.DEFAULT_ARCHS:
        ok, cubin, log = gpu_check.compile_cubin(src, arch)
        assert ok, log
        assert cubin[:4] == b"\x7fELF"  # a cubin is an ELF image


def test_syntax_errors_fail_with_the_compiler_log():
    ok, cubin, log = gpu_check.compile_cubin('extern "C" __global__ void k() { nope; }', 75)
    assert not ok and cubin == b""
    assert "nope" in log and "error" in log


def test_shared_memory_overflow_is_caught_at_cubin_level():
    """48 KiB of static shared memory is the limit: only ptxas (cubin, not PTX) sees it."""
    src = """
extern "C" __global__ void k(double* out) {
    __shared__ double big[8192];  // 64 KiB
    big[threadIdx.x] = 1.0;
    __syncthreads();
    out[threadIdx.x] = big[(threadIdx.x + 1) % 8192];
}
"""
    ok, _, log = gpu_check.compile_cubin(src, 80)
    assert not ok
    assert "shared" in log.lower()


def test_cli_prints_a_per_arch_summary(capsys):
    assert main(["gpu-check", "--arch", "75,90", "--measure", "kl", "--measure", "cosine"]) == 0
    out = capsys.readouterr().out
    assert "3 modules x 2 architectures" in out  # kl has an epsilon rule: two modules
    lines = {
        line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("sm_")
    }
    assert lines["sm_75"][:2] == ["3", "0"] and lines["sm_90"][:2] == ["3", "0"]
    assert "all kernels compiled" in out


def test_cli_rejects_a_bad_arch_list(capsys):
    assert main(["gpu-check", "--arch", "seventy"]) == 2
    assert "--arch takes comma-separated compute capabilities" in capsys.readouterr().err
