"""``divergences gpu-check``: NVRTC (from PyPI) compiles the kernels to cubins without a GPU,
and a failure is reported, not hidden."""

from __future__ import annotations

from divergences import gpu_check
from divergences.cli import main


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
