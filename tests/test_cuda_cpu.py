"""The CUDA kernels, executed on the CPU: the unchanged CUDA C source compiled with g++ behind
``cuda_shim.h`` and launched by the same Python code as on a GPU (kernel choice, argument
packing, grid and block, launch splitting, half/mirror/condensed/top-k steps).

Every measure, zero mode and dtype runs on shapes that are not multiples of the tile
(32 x 32 outputs, 16 columns per stage), with d < 16, d = 1, zeros, all-zero rows and
disjoint supports, against the array-API reference."""

from __future__ import annotations

import numpy as np
import pytest
from cuda_shim import LaunchError, ShimModule, shim_runtime
from test_numba import assert_same, data

import divergences as dv
from divergences.kernels import cuda_source, cupy_gpu
from divergences.validation import InputError

pytestmark = pytest.mark.cuda_cpu

MEASURES = dv.measures()
IDS = [m.name for m in MEASURES]
RTOL = 1e-10
#: (rows of XA, rows of XB, d): one tile and less, several tiles with ragged edges, one and
#: several column stages with a ragged last stage
SHAPES = [(1, 1, 1), (7, 13, 5), (35, 33, 19), (2, 40, 16)]


@pytest.fixture(scope="module")
def shim():
    # each (measure, zero mode) module is compiled by g++ when a test first needs it (about
    # 1 s each, cached on disk by source): compiling all 96 up front cost 75 s of one worker
    # although the README's command runs the epsilon modules of a sample only
    rt = shim_runtime()
    with cupy_gpu.use_runtime(rt):
        yield rt


@pytest.mark.parametrize("m", MEASURES, ids=IDS)
@pytest.mark.parametrize("zero", ["strict", "epsilon"])
def test_every_kernel_equals_reference(shim, m, zero):
    for i, (mr, nr, d) in enumerate(SHAPES):
        A, B = data(mr, nr, d, seed=10 + i)
        for params in m.param_grid():  # every test value of every parameter
            got = dv.cdist(A, B, m, zero=zero, backend="cupy", **params)
            ref = dv.cdist(A, B, m, zero=zero, backend="numpy", **params)
            assert isinstance(got, np.ndarray) and got.dtype == np.float64
            assert_same(got, ref, RTOL)


@pytest.mark.parametrize("m", MEASURES, ids=IDS)
@pytest.mark.parametrize("zero", ["strict", "epsilon"])
def test_float32_kernel_accumulates_in_float64(shim, m, zero):
    """The float32 kernel loads float32 and accumulates in double: it equals the float64
    reference on the same (float32-representable) values to the float64 tolerance."""
    A, B = data(35, 33, 19, seed=5)
    A32, B32 = A.astype(np.float32), B.astype(np.float32)
    kernel = shim.module(m, zero).get_function("dv_cdist_f32")
    before = kernel.launches
    got = dv.cdist(A32, B32, m, zero=zero, backend="cupy")
    assert kernel.launches == before + 1  # the float32 kernel ran, no float64 copy
    ref = dv.cdist(A32.astype(np.float64), B32.astype(np.float64), m, zero=zero, backend="numpy")
    assert_same(got, ref, RTOL)


@pytest.mark.parametrize("m", [m for m in MEASURES if m.symmetric], ids=lambda m: m.name)
def test_pdist_and_self_cdist_compute_half_and_mirror(shim, m):
    X, _ = data(37, 2, 7, seed=8)
    zero = "strict"
    ref = dv.cdist(X, X, m, zero=zero, backend="numpy")
    full = dv.cdist(X, X, m, zero=zero, backend="cupy")
    np.testing.assert_array_equal(full, full.T)  # exactly symmetric: mirrored
    assert_same(full, ref, RTOL)
    cond = dv.pdist(X, m, zero=zero, backend="cupy")
    iu = np.triu_indices(X.shape[0], k=1)
    np.testing.assert_array_equal(cond, full[iu])


def test_half_path_skips_the_tiles_below_the_diagonal(shim, monkeypatch):
    """cdist(X, X) of a symmetric measure launches with upper_only = 1: a tile wholly below
    the diagonal is never written by the pairwise kernel (only by dv_mirror)."""
    m = dv.get("manhattan")
    X, _ = data(70, 2, 5, seed=2)
    calls = []
    kernel = shim.module(m, "strict").get_function("dv_cdist_f64")
    real = type(kernel).__call__

    def spy(self, grid, block, args, **kw):
        calls.append((self.name, args[-1]))
        return real(self, grid, block, args, **kw)

    monkeypatch.setattr(type(kernel), "__call__", spy)
    dv.cdist(X, X, m, backend="cupy")
    dv.cdist(X, X.copy(), m, backend="cupy")
    assert calls == [
        ("dv_cdist_f64", np.int32(1)),
        ("dv_mirror", np.int64(70)),
        ("dv_cdist_f64", np.int32(0)),
    ]


@pytest.mark.parametrize("name", [m.name for m in MEASURES if not m.is_symmetric()])
def test_asymmetric_measures_are_never_mirrored(shim, name):
    X, _ = data(20, 2, 6, seed=4)
    X = X + 0.01  # no zeros: finite values both ways
    got = dv.cdist(X, X, name, backend="cupy")
    assert_same(got, dv.cdist(X, X, name, backend="numpy"), RTOL)
    assert not np.allclose(got, got.T)
    with pytest.raises(InputError, match="not symmetric"):
        dv.pdist(X, name, backend="cupy")


def test_jeffreys_epsilon_rule_is_not_mirrored(shim):
    X, _ = data(20, 2, 6, seed=4)
    got = dv.cdist(X, X, "jeffreys", zero="epsilon", backend="cupy")
    assert_same(got, dv.cdist(X, X, "jeffreys", zero="epsilon", backend="numpy"), RTOL)


def test_launches_are_split_at_the_grid_limit(shim, monkeypatch):
    """More row tiles than gridDim.y allows: several launches over row slices, same result."""
    monkeypatch.setattr(cupy_gpu, "MAX_GRID_Y", 1)  # 32 rows per launch
    A, B = data(100, 9, 5, seed=6)
    for name in ("jensen_shannon", "chebyshev"):
        assert_same(
            dv.cdist(A, B, name, backend="cupy"), dv.cdist(A, B, name, backend="numpy"), RTOL
        )
    X, _ = data(70, 2, 5, seed=7)  # the half path is skipped when split: still correct
    assert_same(
        dv.cdist(X, X, "manhattan", backend="cupy"),
        dv.cdist(X, X, "manhattan", backend="numpy"),
        RTOL,
    )


def _stable_top(D, k, largest):
    key = -D if largest else D
    idx = np.argsort(key, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(D, idx, axis=1)


@pytest.mark.parametrize("name", ["manhattan", "cosine", "kullback_leibler", "sorensen", "jaccard"])
def test_knn_on_the_device_equals_a_stable_argsort(shim, name):
    rng = np.random.default_rng(1)
    A, B = data(23, 57, 6, seed=9)
    B[10] = B[3]  # ties
    B[40] = B[3]
    B[20] = 0.0  # NaN for some measures (0 / 0)
    A[5] = 0.0
    D = dv.cdist(A, B, name, backend="numpy")
    largest = dv.get(name).kind == "similarity"
    for k in (1, 5, 57):
        idx, val = dv.knn(A, B, k, name, backend="cupy", working_memory=8 * 57 * 7 / 2**20)
        ref_idx, ref_val = _stable_top(D, k, largest)
        np.testing.assert_array_equal(idx, ref_idx)
        assert_same(val, ref_val, RTOL)
    assert rng is not None


def test_chunked_on_the_device_equals_cdist(shim):
    A, B = data(40, 30, 7, seed=11)
    blocks = list(
        dv.cdist_chunked(A, B, "topsoe", backend="cupy", working_memory=8 * 30 * 6 / 2**20)
    )
    assert len(blocks) == 7
    np.testing.assert_array_equal(np.concatenate(blocks), dv.cdist(A, B, "topsoe", backend="cupy"))


def test_auto_keeps_numpy_input_on_the_cpu(shim):
    """backend='auto' picks the GPU only for CuPy arrays: NumPy input stays on Numba even with a
    device runtime installed."""
    A, B = data(5, 6, 4, seed=1)
    kernel = shim.module(dv.get("manhattan"), "strict").get_function("dv_cdist_f64")
    before = kernel.launches
    dv.cdist(A, B, "manhattan")
    assert kernel.launches == before


def test_factored_method_is_refused_on_the_device(shim):
    A, B = data(5, 6, 4, seed=1)
    with pytest.raises(InputError, match="method='factored' is not available on the cupy"):
        dv.cdist(A, B, "cosine", backend="cupy", method="factored")


# --- the shim has teeth: it catches what a GPU would get wrong --------------------------------


def test_a_deleted_barrier_gives_wrong_results():
    """Without the __syncthreads() after the compute loop, threads overwrite the shared tile
    that others still read (d > 16 needs two stages): the results differ from the reference.
    This is what the cuda_cpu tests would catch."""
    m = dv.get("manhattan")
    src = cuda_source.module_source(m, "strict")
    head, sep, tail = src.rpartition("        __syncthreads();\n    }\n    const double dd")
    assert sep
    broken = head + "    }\n    const double dd" + tail
    rt = shim_runtime()
    rt.module_factory = ShimModule
    rt._modules[(m.name, "strict")] = ShimModule(broken)
    A, B = data(35, 33, 40, seed=3)
    with cupy_gpu.use_runtime(rt):
        got = dv.cdist(A, B, m, backend="cupy")
    assert not np.allclose(got, dv.cdist(A, B, m, backend="numpy"))


def test_a_barrier_in_divergent_code_is_reported():
    src = """
extern "C" __global__ void bad(double* out, long long n) {
    if (threadIdx.x < 3) return;
    __syncthreads();
    out[threadIdx.x] = 1.0;
}
"""
    k = ShimModule(src).get_function("bad")
    with pytest.raises(LaunchError, match="not reached by every thread"):
        k((1, 1, 1), (8, 1, 1), (np.zeros(8), np.int64(8)))


def test_arguments_are_checked_as_strictly_as_cupy_passes_them():
    m = dv.get("manhattan")
    mod = ShimModule(cuda_source.module_source(m, "strict"))
    k = mod.get_function("dv_mirror")
    out = np.zeros((4, 4))
    k((1, 1, 1), (16, 16, 1), (out, 4))  # a Python int is passed as int64 by CuPy too
    with pytest.raises(LaunchError, match="dtype float32"):
        k((1, 1, 1), (16, 16, 1), (out.astype(np.float32), np.int64(4)))
    with pytest.raises(LaunchError, match="non-contiguous"):
        k((1, 1, 1), (16, 16, 1), (np.zeros((4, 8))[:, ::2], np.int64(4)))
    with pytest.raises(LaunchError, match="takes 2 arguments"):
        k((1, 1, 1), (16, 16, 1), (out,))
    cd = mod.get_function("dv_cdist_f64")
    A = np.zeros((2, 3))
    args = [A, A, np.zeros((2, 2)), np.int64(2), np.int64(2), np.int64(3)]
    args += [np.float64(1e-5), np.float64(0), np.float64(0)]
    with pytest.raises(LaunchError, match="int32"):  # CuPy would pass int64 to an int
        cd((1, 1, 1), (16, 16, 1), (*args, 0))
    with pytest.raises(LaunchError, match="outside CUDA's limits"):
        cd((1, 1, 1), (64, 32, 1), (*args, np.int32(0)))
    with pytest.raises(LaunchError, match="no __global__ function"):
        mod.get_function("dv_nope")


def test_cupy_backend_without_cupy_is_one_clear_sentence(monkeypatch):
    monkeypatch.setattr(cupy_gpu, "_OVERRIDE", [])  # no shim runtime: the real lookup
    try:
        import cupy  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("CuPy is installed here")
    with pytest.raises(InputError) as e:
        dv.cdist([[0.5, 0.5]], [[0.2, 0.8]], "manhattan", backend="cupy")
    msg = str(e.value)
    assert msg.startswith("manhattan: backend='cupy' cannot run: CuPy is not installed")
    assert "\n" not in msg


@pytest.mark.parametrize(
    ("version", "available", "message"),
    [
        ("14.2.0", False, "CuPy found no usable CUDA device (cupy.is_available() is False)"),
        ("13.6.0", True, "CuPy >= 14 is required, found 13.6.0"),
    ],
)
def test_cupy_without_a_device_or_too_old_is_one_clear_sentence(
    monkeypatch, version, available, message
):
    """A stand-in ``cupy`` module (the real one behaves so without a driver: checked by hand
    with cupy-cuda12x 14.2.0 on a machine without a GPU)."""
    import sys
    import types

    fake = types.ModuleType("cupy")
    fake.__version__ = version
    fake.is_available = lambda: available
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(cupy_gpu, "_OVERRIDE", [])
    monkeypatch.setattr(cupy_gpu, "_RUNTIME", None)
    with pytest.raises(InputError) as e:
        dv.cdist([[0.5, 0.5]], [[0.2, 0.8]], "manhattan", backend="cupy")
    assert str(e.value) == f"manhattan: backend='cupy' cannot run: {message}"


def test_pair_runs_the_device_kernel_when_asked(shim):
    P, Q = [0.1, 0.2, 0.7], [0.3, 0.3, 0.4]
    got = dv.pair(P, Q, "kullback_leibler", backend="cupy")
    assert isinstance(got, float)
    assert got == pytest.approx(dv.pair(P, Q, "kullback_leibler", backend="numpy"), rel=1e-14)


# --- paired (row-wise) kernels -----------------------------------------------------------------


@pytest.mark.parametrize("m", MEASURES, ids=IDS)
@pytest.mark.parametrize("zero", ["strict", "epsilon"])
def test_paired_kernel_equals_reference(shim, m, zero):
    """One block per row, 256 threads striding over d, a tree of dv_combine: d below, at and
    above the block's width, float64 and float32 (loaded as float32, accumulated in double)."""
    for i, d in enumerate((1, 5, 256, 601)):
        A, B = data(7, 7, d, seed=20 + i)
        for params in m.param_grid():
            got = dv.paired(A, B, m, zero=zero, backend="cupy", **params)
            ref = dv.paired(A, B, m, zero=zero, backend="numpy", **params)
            assert isinstance(got, np.ndarray) and got.dtype == np.float64
            assert_same(got, ref, RTOL)
    A32, B32 = (a.astype(np.float32) for a in data(7, 7, 300, seed=30))
    kernel = shim.module(m, zero).get_function("dv_paired_f32")
    before = kernel.launches
    got = dv.paired(A32, B32, m, zero=zero, backend="cupy")
    assert kernel.launches == before + 1
    ref = dv.paired(A32.astype(np.float64), B32.astype(np.float64), m, zero=zero, backend="numpy")
    assert_same(got, ref, RTOL)


def test_paired_launches_are_split_at_the_grid_limit(shim, monkeypatch):
    monkeypatch.setattr(cupy_gpu, "MAX_GRID_X", 3)
    A, B = data(10, 10, 9, seed=6)
    for name in ("jensen_shannon", "chebyshev"):
        assert_same(
            dv.paired(A, B, name, backend="cupy"), dv.paired(A, B, name, backend="numpy"), RTOL
        )


# --- paired values and gradients (dv_paired_grad_f64 / _f32) ------------------------------------

#: every measure in both zero modes (the epsilon mode where the measure has its own rule)
GRAD_MODES = [
    (m, zero)
    for m in MEASURES
    for zero in ("strict", "epsilon")
    if zero == "strict" or m.epsilon is not None
]


def grad_rows(d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of every kind the gradient conventions care about: interior pairs, a zero in P
    only, in Q only and in both, one-hot P against interior Q and the converse, an identical
    pair, an all-zero row and data()'s disjoint supports."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(d), size=10) * 0.9 + 0.1 / d
    Q = rng.dirichlet(np.ones(d), size=10) * 0.9 + 0.1 / d
    P[2, ::3] = 0.0  # zeros in P against positive Q
    Q[3, 1::3] = 0.0  # zeros in Q against positive P
    P[4, ::2] = 0.0  # zeros on both sides, some shared
    Q[4, ::3] = 0.0
    P[5] = 0.0  # one-hot P (a class label)
    P[5, d // 2] = 1.0
    Q[6] = 0.0  # one-hot Q
    Q[6, d - 1] = 1.0
    Q[7] = P[7]  # P = Q
    A, B = data(5, 5, d, seed=seed)
    return np.vstack([P, A]), np.vstack([Q, B])


def assert_grad_same(got, ref, rtol, what, exact=None):
    """``got`` (value, dA, dB) has ``ref``'s dtypes and non-finite pattern (inf where ``ref``
    has inf, NaN only where it has NaN); every finite entry is within ``rtol`` (plus
    ``10 rtol`` of the row's largest entry, at least 1) of ``ref`` or, where given, of
    ``exact`` (the array-API reference). Both allowances are for derivative formulas that
    cancel near a zero, where each kernel keeps its own rounding: alpha_beta's d/dQ at
    Q_k = 9.2e-11 (alpha = 2, beta = 0.5) is -1.4942089141841 here (libm's pow, exp, log1p)
    and -1.4942089141767 in Numba and the reference (7e-12 of the row's largest entry); at
    Q_k = 2.3e-13 (alpha = 0.5, beta = 2) it is -3.3527612686e-08 here and in the reference,
    the Numba kernel (compiled with FMA contraction) gives -3.3486e-08."""
    for i, name in enumerate(("value", "dA", "dB")):
        g, r = got[i], ref[i]
        assert g.shape == r.shape and g.dtype == r.dtype, (what, name, g.dtype, r.dtype)
        for test in (np.isnan, np.isposinf, np.isneginf):
            np.testing.assert_array_equal(test(g), test(r), err_msg=f"{what} {name}")
        fin = np.isfinite(r)
        g0 = np.where(fin, g.astype(np.float64), 0.0)
        bad = np.zeros(r.shape, dtype=bool) | fin
        for other in (r,) if exact is None else (r, exact[i]):
            r0 = np.where(fin, other, 0.0)
            scale = np.maximum(np.abs(r0).max(axis=-1, keepdims=True), 1.0)
            bad &= np.abs(g0 - r0) > rtol * (np.abs(r0) + 10 * scale)
        assert not bad.any(), (what, name, np.argwhere(bad)[:5].tolist(), g[bad][:5], r[bad][:5])


@pytest.mark.sampled
@pytest.mark.parametrize(("m", "zero"), GRAD_MODES, ids=[f"{m.name}-{z}" for m, z in GRAD_MODES])
def test_paired_grad_kernel_equals_numba(shim, m, zero):
    """The CUDA gradient kernels, float64 and float32, against the Numba paired_grad kernel:
    values and both gradients, at every parameter set, d below and above the block's width
    (256 threads striding over the coordinates), through dv.paired_grad(backend="cupy")."""
    from divergences.kernels import paired_grad_numba

    k64 = shim.module(m, zero).get_function("dv_paired_grad_f64")
    k32 = shim.module(m, zero).get_function("dv_paired_grad_f32")
    for i, d in enumerate((5, 300)):
        A, B = grad_rows(d, seed=40 + i)
        for params in m.param_grid():
            before = k64.launches
            got = dv.paired_grad(A, B, m, zero=zero, backend="cupy", **params)
            assert k64.launches == before + 1
            ref = dv.paired_grad(A, B, m, zero=zero, backend="numba", **params)
            exact = dv.paired_grad(A, B, m, zero=zero, backend="numpy", **params)
            assert_grad_same(got, ref, 1e-12, f"{m.name} d={d} {params}", exact)
    # float32: loaded as float32, computed in double, the gradients rounded once to float32,
    # as the Numba kernel does with out_dtype=float32 (the kernels themselves, no edge rules)
    A32, B32 = (x.astype(np.float32) for x in grad_rows(300, seed=43))
    full = m.param_defaults()
    before = k32.launches
    got = cupy_gpu.paired_grad(m, A32, B32, zero=zero, eps=1e-5, params=full)
    assert k32.launches == before + 1
    ref = paired_grad_numba.paired_grad(
        m,
        A32.astype(np.float64),
        B32.astype(np.float64),
        zero=zero,
        eps=1e-5,
        params=full,
        out_dtype=np.float32,
    )
    exact = dv.paired_grad(
        A32.astype(np.float64), B32.astype(np.float64), m, zero=zero, backend="numpy"
    )
    exact = (exact[0], *(e.astype(np.float32) for e in exact[1:]))
    assert_grad_same(got, ref, 1e-6, f"{m.name} float32", exact)


def test_paired_grad_max_ties_go_to_the_lowest_index(shim):
    """Chebyshev's max accumulator: a tie inside one thread's coordinates (5 and 261 are both
    thread 5's) and across threads (40, 300 = thread 44, 555 = thread 43): the subgradient
    sits at the lowest index, as in the Numba kernel, for both dtypes."""
    d = 600
    P = np.full((2, d), 1.0 / d)
    Q = P.copy()
    for k in (261, 5, 300, 40, 555):
        Q[0, k] += 0.25
    Q[1, 300] -= 0.5 / d  # one maximum, |P - Q| = 0.5 / d above the others' 0
    Q[1, 555] += 0.5 / d
    for dtype in (np.float64, np.float32):
        A, B = P.astype(dtype), Q.astype(dtype)
        v, gA, gB = cupy_gpu.paired_grad(
            dv.get("chebyshev"), A, B, zero="strict", eps=0.0, params={}
        )
        assert gA.dtype == dtype
        assert np.flatnonzero(gA[0]).tolist() == [5] and gA[0, 5] == -1.0 and gB[0, 5] == 1.0
        assert np.flatnonzero(gA[1]).tolist() == [300]
        ref = dv.paired_grad(
            A.astype(np.float64), B.astype(np.float64), "chebyshev", backend="numba"
        )
        np.testing.assert_array_equal(gA, ref[1])
        np.testing.assert_array_equal(gB, ref[2])
        np.testing.assert_allclose(v, ref[0], rtol=1e-15)


@pytest.mark.parametrize("name", ["chebyshev", "avg_l1_linf"])
def test_paired_grad_max_with_nan_and_inf_terms_is_the_numba_kernel(shim, name):
    """A NaN term (a NaN input after the maximum; inf - inf before it) makes the max NaN and
    leaves the recorded index where the finite terms put it; an infinite term is the maximum:
    bit for bit the Numba kernel's values and gradients (the kernels themselves: the public
    call refuses non-finite input by default)."""
    from divergences.kernels import paired_grad_numba

    d = 600
    P = np.full((4, d), 1.0 / d)
    Q = P.copy()
    Q[:, 100] += 0.25
    Q[:, 20] += 0.25  # the maximum, tied at 20 and 100
    P[0, 300] = np.nan
    P[1, 5] = Q[1, 5] = np.inf
    P[2, 450] = np.inf
    m = dv.get(name)
    got = cupy_gpu.paired_grad(m, P, Q, zero="strict", eps=0.0, params={})
    ref = paired_grad_numba.paired_grad(m, P, Q, zero="strict", eps=0.0, params={})
    assert np.isnan(got[0][:2]).all() and got[0][2] == np.inf
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g, r)


def test_paired_grad_launches_are_split_at_the_grid_limit(shim, monkeypatch):
    monkeypatch.setattr(cupy_gpu, "MAX_GRID_X", 3)
    A, B = grad_rows(9, seed=6)
    for name in ("jensen_shannon", "chebyshev"):
        got = dv.paired_grad(A, B, name, backend="cupy")
        assert_grad_same(got, dv.paired_grad(A, B, name, backend="numba"), 1e-12, name)


def test_loss_rows_take_the_cupy_back_end(shim):
    """divergences.torch's CUDA path is spaces.rowwise over CuPy arrays (the paired_grad
    call takes the cupy back end): here over the shim's NumPy arrays, logits and a mask,
    against the Numba path."""
    from divergences.spaces import rowwise

    rng = np.random.default_rng(3)
    Z, T = rng.normal(size=(6, 300)), rng.dirichlet(np.ones(300), size=6)
    keep = np.array([1, 1, 0, 1, 1, 1], dtype=np.uint8)
    kw = dict(input_space="logits", target_space="probs", temperature=2.0, reverse=False)
    kernel = shim.module(dv.get("kullback_leibler"), "strict").get_function("dv_paired_grad_f64")
    before = kernel.launches
    got = rowwise("kl", Z, T, keep=keep, xp=np, options={"backend": "cupy"}, **kw)
    assert kernel.launches == before + 1
    ref = rowwise("kl", Z, T, keep=keep, options={"backend": "numba"}, **kw)
    assert_grad_same(got, ref, 1e-12, "kl rows")
    assert got[0][2] == 0.0 and not got[1][2].any()
