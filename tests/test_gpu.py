"""On a real GPU (skipped without one): every measure on the device equals the CPU.

The cuda_cpu tests run the same CUDA source on the CPU in CI; these check what only a
device shows: NVRTC's real compile through cupy.RawModule, CuPy's argument marshalling,
FMA contraction and the device's libm, launch limits and inter-block behaviour.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_device import device_reason
from test_numba import assert_same, data

import divergences as dv
from divergences.validation import InputError

REASON = device_reason()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

MEASURES = dv.measures()
IDS = [m.name for m in MEASURES]
#: the device contracts a * b + c into FMA and has its own libm: a little looser than the
#: CPU-vs-reference tolerance, still far below any convention-level difference
RTOL = 1e-9


@pytest.fixture(scope="module")
def cp():
    import cupy

    return cupy


@pytest.mark.parametrize("m", MEASURES, ids=IDS)
@pytest.mark.parametrize("zero", ["strict", "epsilon"])
def test_device_equals_cpu(cp, m, zero):
    for i, (mr, nr, d) in enumerate([(1, 1, 1), (35, 33, 19), (300, 70, 257)]):
        A, B = data(mr, nr, d, seed=20 + i)
        got = dv.cdist(cp.asarray(A), cp.asarray(B), m, zero=zero)
        assert isinstance(got, cp.ndarray)
        cpu = dv.cdist(A, B, m, zero=zero, method="direct")
        assert_same(cp.asnumpy(got), cpu, RTOL)
        got32 = dv.cdist(
            cp.asarray(A, dtype=cp.float32), cp.asarray(B, dtype=cp.float32), m, zero=zero
        )
        cpu32 = dv.cdist(A.astype(np.float32), B.astype(np.float32), m, zero=zero, method="direct")
        assert_same(cp.asnumpy(got32), cpu32, RTOL)


@pytest.mark.parametrize("name", ["manhattan", "jensen_shannon", "cosine"])
def test_pdist_self_and_knn_on_device(cp, name):
    X, _ = data(500, 2, 33, seed=3)
    Xd = cp.asarray(X)
    np.testing.assert_allclose(cp.asnumpy(dv.pdist(Xd, name)), dv.pdist(X, name), rtol=RTOL)
    S = cp.asnumpy(dv.cdist(Xd, Xd, name))
    np.testing.assert_array_equal(S, S.T)
    idx, val = dv.knn(Xd[:50], Xd, 7, name)
    ref_idx, ref_val = dv.knn(X[:50], X, 7, name, method="direct")
    np.testing.assert_array_equal(cp.asnumpy(idx), ref_idx)
    np.testing.assert_allclose(cp.asnumpy(val), ref_val, rtol=RTOL)


def test_mixing_cupy_and_numpy_is_an_error(cp):
    A = np.full((2, 3), 1 / 3)
    with pytest.raises(InputError, match="different libraries"):
        dv.cdist(cp.asarray(A), A, "manhattan")
    with pytest.raises(InputError, match="backend='cupy' computes on cupy arrays"):
        dv.cdist(A, A, "manhattan", backend="cupy")


def test_large_grid_is_split(cp):
    """More than 65535 row tiles in one launch: the launch code splits it."""
    A = cp.random.random((65535 * 32 + 5, 2))
    B = cp.random.random((3, 2))
    D = dv.cdist(A, B, "manhattan")
    np.testing.assert_allclose(
        cp.asnumpy(D[-5:]), dv.cdist(cp.asnumpy(A[-5:]), cp.asnumpy(B), "manhattan")
    )


@pytest.mark.parametrize("name", ["kullback_leibler", "jensen_shannon", "chebyshev", "hellinger"])
def test_paired_grad_on_device_equals_cpu(cp, name):
    """dv_paired_grad_f64/_f32 on the device against the Numba kernel (values, both
    gradients; float32 gradients rounded once from double)."""
    A, B = data(300, 300, 257, seed=5)
    got = dv.paired_grad(cp.asarray(A), cp.asarray(B), name)
    ref = dv.paired_grad(A, B, name, backend="numba")
    for g, r in zip(got, ref, strict=True):
        assert isinstance(g, cp.ndarray) and g.dtype == cp.float64
        assert_same(cp.asnumpy(g), r, RTOL)
    A32, B32 = A.astype(np.float32), B.astype(np.float32)
    got32 = dv.paired_grad(cp.asarray(A32), cp.asarray(B32), name)
    ref32 = dv.paired_grad(A32.astype(np.float64), B32.astype(np.float64), name, backend="numba")
    assert got32[1].dtype == cp.float32 and got32[2].dtype == cp.float32
    assert_same(cp.asnumpy(got32[0]), ref32[0], RTOL)
    for g, r in zip(got32[1:], ref32[1:], strict=True):
        assert_same(cp.asnumpy(g).astype(np.float64), r.astype(np.float32).astype(np.float64), 1e-6)


def test_torch_loss_on_cuda_equals_cpu(cp):
    """divergences.torch on CUDA tensors (CuPy through DLPack, PyTorch's current stream):
    the same loss and gradients as on the CPU."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device")
    import divergences.torch as dvt

    g = torch.Generator().manual_seed(0)
    z = torch.randn(8, 300, generator=g, dtype=torch.float64)
    t = torch.softmax(torch.randn(8, 300, generator=g, dtype=torch.float64), -1)
    mask = torch.tensor([1, 1, 0, 1, 1, 1, 1, 1], dtype=torch.bool)
    out = []
    for device in ("cpu", "cuda"):
        zd = z.to(device).requires_grad_(True)
        loss = dvt.Loss("kl", input="logits")(zd, t.to(device), mask=mask.to(device))
        loss.backward()
        assert zd.grad.device.type == device
        out.append((float(loss), zd.grad.cpu().numpy()))
    assert out[1][0] == pytest.approx(out[0][0], rel=RTOL)
    assert_same(out[1][1], out[0][1], RTOL)
