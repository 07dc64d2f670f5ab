"""Memory-bounded blocks (cdist_chunked) and exact k-nearest-neighbour search (knn)."""

from __future__ import annotations

import gc
import re
import tracemalloc

import numpy as np
import pytest

import divergences as dv
from divergences.cli import main
from divergences.kernels.reference import BLOCK_ELEMENTS
from divergences.topk import top_k as _top_k

MEASURES = dv.measures()
BACKENDS = ("numpy", "numba")
# Bitwise comparisons use the direct kernels: a factored (BLAS) product may round a row
# differently depending on the other rows of the call; test_knn_with_factored_forms covers it.
OPTS = {"numpy": {"backend": "numpy"}, "numba": {"backend": "numba", "method": "direct"}}
DIRECT = {"method": "direct"}  # KL has a factored (BLAS) form: compare its direct values
MIB = 1 << 20


def tiny_memory(rows: int, n: int) -> float:
    """A working_memory (MiB) that gives exactly ``rows`` rows per block against ``n`` rows."""
    return rows * n * 8 / MIB


def tie_data() -> tuple[np.ndarray, np.ndarray]:
    """Non-negative rows on a coarse grid: zeros, all-zero rows, duplicates, exact matches."""
    rng = np.random.default_rng(7)
    grid = np.array([0.0, 0.25, 0.5, 1.0])
    XB = rng.choice(grid, size=(10, 5))
    XB[1] = 0.0  # all-zero rows: whole-vector 0/0 (NaN) for sorensen, cosine, ...
    XB[6] = 0.0
    XB[3] = XB[2]  # duplicate rows: exact ties in every measure
    XB[7] = XB[0]
    XB[8] = XB[2]
    XA = rng.choice(grid, size=(6, 5))
    XA[0] = 0.0
    XA[1] = XB[2]  # an exact match: 0 for divergences, +inf for kulczynski_s
    XA[4, :2] = 0.0
    return XA, XB


def expected_knn(D: np.ndarray, k: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The first k columns of a stable argsort (of -D for a similarity; NaN last)."""
    key = -D if kind == "similarity" else D
    idx = np.argsort(key, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(D, idx, axis=1)


# -- the test data really holds what the knn tests claim to cover --------------
def test_tie_data_has_nan_inf_and_ties_across_the_k_boundary():
    XA, XB = tie_data()
    assert np.isnan(dv.cdist(XA, XB, "sorensen", backend="numpy")).any()
    assert np.isposinf(dv.cdist(XA, XB, "kullback_leibler", backend="numpy")).any()
    assert np.isposinf(dv.cdist(XA, XB, "kulczynski_s", backend="numpy")).any()
    # some measure has a row whose 3rd value is tied with a value outside the top 3
    straddles = 0
    for m in MEASURES:
        D = dv.cdist(XA, XB, m, backend="numpy")
        key = np.sort(-D if m.kind == "similarity" else D, axis=1)
        straddles += int(np.sum((key[:, 2] == key[:, 3]) | np.isnan(key[:, 2])))
    assert straddles > 50


# -- knn against a stable argsort of the full matrix, for every measure ---------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: m.name)
def test_knn_equals_stable_argsort_of_cdist(measure, backend):
    XA, XB = tie_data()
    n = XB.shape[0]
    D = dv.cdist(XA, XB, measure, **OPTS[backend])
    for k in (1, 3, n):
        want_idx, want_val = expected_knn(D, k, measure.kind)
        for wm in (None, tiny_memory(1, n), tiny_memory(4, n)):
            idx, val = dv.knn(XA, XB, k, measure, **OPTS[backend], working_memory=wm)
            assert idx.dtype == np.int64 and val.dtype == np.float64
            assert idx.shape == val.shape == (XA.shape[0], k)
            np.testing.assert_array_equal(idx, want_idx, err_msg=f"k={k}, wm={wm}")
            np.testing.assert_array_equal(val, want_val, err_msg=f"k={k}, wm={wm}")


@pytest.mark.parametrize("k", [1, 2, 5, 37, 100])
def test_top_k_breaks_ties_to_the_lower_index_with_nan_last(k):
    """Tie-heavy keys, where argpartition alone picks arbitrary members of a tie."""
    rng = np.random.default_rng(k)
    key = rng.choice([0.0, -0.0, 1.0, 2.0, np.inf, -np.inf, np.nan], size=(40, 100))
    key[0] = np.nan
    key[1] = 1.0
    key[2, :50] = np.nan
    want = np.argsort(key, axis=1, kind="stable")[:, :k]
    before = key.copy()
    np.testing.assert_array_equal(_top_k(key, k), want)
    np.testing.assert_array_equal(key, before)  # the key is not modified


def test_knn_similarity_is_largest_first_and_nan_last():
    P = np.array([[1.0, 0.0, 0.0]])
    XB = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [2.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    idx, val = dv.knn(P, XB, 4, "cosine")
    np.testing.assert_array_equal(idx, [[2, 3, 1, 0]])
    assert val[0, 0] == pytest.approx(1.0) and val[0, 2] == 0.0 and np.isnan(val[0, 3])
    idx, _ = dv.knn(P, XB, 4, "scipy:cosine")  # its distance form: smallest first
    np.testing.assert_array_equal(idx, [[2, 3, 1, 0]])
    # +inf similarity (kulczynski_s at P = Q) ranks first
    idx, val = dv.knn(P, np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]), 1, "kulczynski_s")
    assert idx[0, 0] == 1 and np.isposinf(val[0, 0])


def test_knn_asymmetric_measure_is_query_first():
    rng = np.random.default_rng(3)
    XA, XB = rng.random((4, 6)), rng.random((9, 6))
    _, val = dv.knn(XA, XB, 9, "kullback_leibler")
    assert np.all(np.diff(val, axis=1) >= 0)
    np.testing.assert_array_equal(np.sort(val, axis=1), np.sort(dv.cdist(XA, XB, "kl"), axis=1))
    assert not np.allclose(np.sort(val, axis=1), np.sort(dv.cdist(XB, XA, "kl").T, axis=1))


@pytest.mark.parametrize("name", ["manhattan", "sorensen", "intersection", "kulczynski_s"])
def test_knn_blocks_ranked_in_slices(name):
    """Blocks of 24 rows ranked 3 rows at a time, and a last block of 2 rows."""
    rng = np.random.default_rng(6)
    XA = rng.choice([0.0, 0.5, 1.0], size=(50, 3))
    XB = rng.choice([0.0, 0.5, 1.0], size=(40, 3))
    D = dv.cdist(XA, XB, name)
    for k in (1, 7, 40):
        want_idx, want_val = expected_knn(D, k, dv.get(name).kind)
        idx, val = dv.knn(XA, XB, k, name, working_memory=tiny_memory(24, 40))
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_array_equal(val, want_val)


def test_knn_options_and_aliases_match_cdist():
    rng = np.random.default_rng(4)
    XA, XB = rng.random((5, 4)) * 3, rng.random((12, 4)) * 3
    XB[2, 1] = 0.0
    cases = [
        ("minkowski", {"p": 3.0}),
        ("kullback_leibler", {"zero": "epsilon", "epsilon": 1e-3, "base": 2, **DIRECT}),
        ("jensen_shannon", {"normalize": True}),
        ("scipy:jensenshannon", {}),  # implies normalize=True
        ("philentropy:kullback-leibler", DIRECT),  # implies zero="epsilon"
    ]
    for name, opts in cases:
        m = dv.get(name)
        D = dv.cdist(XA, XB, name, **opts)
        want_idx, want_val = expected_knn(D, 4, m.kind)
        idx, val = dv.knn(XA, XB, 4, name, working_memory=tiny_memory(2, 12), **opts)
        np.testing.assert_array_equal(idx, want_idx, err_msg=name)
        np.testing.assert_array_equal(val, want_val, err_msg=name)


def test_knn_float32_input_matches_cdist():
    rng = np.random.default_rng(5)
    XA, XB = rng.random((7, 8), dtype=np.float32), rng.random((30, 8), dtype=np.float32)
    for backend in BACKENDS:
        D = dv.cdist(XA, XB, "hellinger", **OPTS[backend])
        want_idx, want_val = expected_knn(D, 5, "dissimilarity")
        idx, val = dv.knn(XA, XB, 5, "hellinger", **OPTS[backend], working_memory=1e-4)
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_array_equal(val, want_val)


def test_knn_shapes_k_zero_and_one_dimensional_query():
    XA, XB = tie_data()
    idx, val = dv.knn(XA, XB, 0, "manhattan")
    assert idx.shape == val.shape == (6, 0)
    assert idx.dtype == np.int64 and val.dtype == np.float64
    idx, val = dv.knn(XA[2], XB, 3, "manhattan")
    assert idx.shape == (1, 3)
    np.testing.assert_array_equal(idx, dv.knn(XA[2:3], XB, 3, "manhattan")[0])
    idx, val = dv.knn(np.zeros((0, 5)), XB, 2, "manhattan")
    assert idx.shape == val.shape == (0, 2)
    idx, val = dv.knn(XA, np.zeros((0, 5)), 0, "manhattan")
    assert idx.shape == (6, 0)
    idx, val = dv.knn(XA.tolist(), XB.tolist(), np.int64(2), "manhattan")  # lists, numpy ints
    np.testing.assert_array_equal(idx, dv.knn(XA, XB, 2, "manhattan")[0])


# -- knn errors -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("k", "message"),
    [
        (11, "kullback_leibler: k=11 is larger than the 10 rows of XB"),
        (-1, "kullback_leibler: k must be an integer >= 0, got -1"),
        (2.5, "kullback_leibler: k must be an integer >= 0, got 2.5"),
        (3.0, "kullback_leibler: k must be an integer >= 0, got 3.0"),
        ("3", "kullback_leibler: k must be an integer >= 0, got '3'"),
        (True, "kullback_leibler: k must be an integer >= 0, got True"),
        (None, "kullback_leibler: k must be an integer >= 0, got None"),
    ],
)
def test_knn_bad_k_names_the_measure_and_k(k, message):
    XA, XB = tie_data()
    with pytest.raises(dv.InputError) as e:
        dv.knn(XA, XB, k, "kl")
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("measure", "options", "pattern"),
    [
        ("minkowski", {"p": -1.0}, r"^minkowski: .*p"),
        ("minkowski", {"q": 2.0}, r"^minkowski: unknown parameter\(s\) q"),
        ("kullback_leibler", {"zero": "loose"}, r"^kullback_leibler: zero='loose'"),
        ("kullback_leibler", {"epsilon": 0.0}, r"^kullback_leibler: epsilon"),
        ("kullback_leibler", {"backend": "gpu"}, r"^kullback_leibler: backend='gpu'"),
        ("manhattan", {"working_memory": 0}, r"^manhattan: working_memory .* got 0$"),
        ("manhattan", {"working_memory": "big"}, r"^manhattan: working_memory"),
        ("manhattan", {"working_memory": float("nan")}, r"^manhattan: working_memory"),
    ],
)
def test_bad_options_name_the_measure(measure, options, pattern):
    XA, XB = tie_data()
    for call in (
        lambda: dv.knn(XA, XB, 2, measure, **options),
        lambda: dv.cdist_chunked(XA, XB, measure, **options),  # raises before iterating
    ):
        with pytest.raises(dv.InputError, match=pattern):
            call()


def test_unknown_measure_and_non_numpy_arrays():
    XA, XB = tie_data()
    with pytest.raises(dv.UnknownMeasureError, match="did you mean"):
        dv.knn(XA, XB, 2, "kulback_leibler")
    xp = pytest.importorskip("array_api_strict")
    A, B = xp.asarray(XA), xp.asarray(XB)
    with pytest.raises(dv.InputError, match=r"^manhattan: knn computes on NumPy or CuPy arrays"):
        dv.knn(A, B, 2, "manhattan")
    # cdist_chunked keeps the array type of the input
    blocks = list(dv.cdist_chunked(A, B, "manhattan", working_memory=tiny_memory(4, 10)))
    assert [b.shape[0] for b in blocks] == [4, 2]
    np.testing.assert_array_equal(
        np.concatenate([np.asarray(b) for b in blocks]), dv.cdist(XA, XB, "manhattan")
    )


# -- cdist_chunked --------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: m.name)
def test_cdist_chunked_blocks_concatenate_to_cdist(measure, backend):
    XA, XB = tie_data()
    full = dv.cdist(XA, XB, measure, **OPTS[backend])
    blocks = list(dv.cdist_chunked(XA, XB, measure, **OPTS[backend], working_memory=1e-9))
    assert [b.shape for b in blocks] == [(1, 10)] * 6
    np.testing.assert_array_equal(np.concatenate(blocks), full)


@pytest.mark.parametrize("zero", ["strict", "epsilon"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: m.name)
def test_a_row_does_not_depend_on_the_other_rows_of_the_call(measure, backend, zero):
    """What chunking relies on: cdist(XA[i:i+1], XB) is bitwise row i of cdist(XA, XB).

    Otherwise the blocks of cdist_chunked, and knn's values, would differ from cdist in
    the last bits depending on how the rows fall into blocks.
    """
    rng = np.random.default_rng(13)
    XA, XB = rng.random((7, 16)) * 3, rng.random((12, 16)) * 3
    full = dv.cdist(XA, XB, measure, **OPTS[backend], zero=zero)
    for i in range(XA.shape[0]):
        row = dv.cdist(XA[i : i + 1], XB, measure, **OPTS[backend], zero=zero)
        np.testing.assert_array_equal(row[0], full[i], err_msg=f"row {i}")


def test_cdist_chunked_rows_per_block_and_start_offsets():
    rng = np.random.default_rng(8)
    XA, XB = rng.random((103, 6)), rng.random((1000, 6))
    full = dv.cdist(XA, XB, "squared_euclidean")
    seen = []

    def reduce(D, start):
        seen.append((start, D.shape))
        return D.sum(axis=1), start

    out = list(
        dv.cdist_chunked(
            XA, XB, "squared_euclidean", reduce_func=reduce, working_memory=tiny_memory(10, 1000)
        )
    )
    assert seen == [(s, (min(10, 103 - s), 1000)) for s in range(0, 103, 10)]
    assert [start for _, start in out] == list(range(0, 103, 10))
    np.testing.assert_array_equal(np.concatenate([s for s, _ in out]), full.sum(axis=1))
    # a block of just under 10 rows' worth of memory holds 9 rows; a single row always fits
    sizes = [len(b) for b in dv.cdist_chunked(XA, XB, "l1", working_memory=tiny_memory(9.9, 1000))]
    assert sizes == [9] * 11 + [4]
    sizes = [len(b) for b in dv.cdist_chunked(XA, XB, "l1", working_memory=1e-12)]
    assert sizes == [1] * 103
    # the default (256 MiB) holds all of it in one block
    blocks = list(dv.cdist_chunked(XA, XB, "squared_euclidean"))
    assert len(blocks) == 1
    np.testing.assert_array_equal(blocks[0], full)


def test_cdist_chunked_options_normalize_and_aliases():
    rng = np.random.default_rng(9)
    XA, XB = rng.random((9, 4)) * 5, rng.random((7, 4)) * 5
    for name, opts in [
        ("jensen_shannon", {"normalize": True, "base": 2}),
        ("scipy:jensenshannon", {}),
        ("philentropy:kullback-leibler", DIRECT),
        ("minkowski", {"p": 1.5}),
        ("kullback_leibler", {"check_finite": False, **DIRECT}),
    ]:
        want = dv.cdist(XA, XB, name, **opts)
        got = np.concatenate(list(dv.cdist_chunked(XA, XB, name, working_memory=1e-9, **opts)))
        np.testing.assert_array_equal(got, want, err_msg=name)
    # a Fortran-ordered, non-contiguous and a mixed-dtype input
    XBf = np.asfortranarray(XB)
    got = np.concatenate(list(dv.cdist_chunked(XA[::2], XBf, "kl", working_memory=1e-9, **DIRECT)))
    np.testing.assert_array_equal(got, dv.cdist(XA[::2], XB, "kl", **DIRECT))
    got = np.concatenate(list(dv.cdist_chunked(XA.astype(np.float32), XB, "kl")))
    np.testing.assert_array_equal(got, dv.cdist(XA.astype(np.float32), XB, "kl"))


@pytest.mark.parametrize(
    ("XA", "XB", "options"),
    [
        ([[0.5, -0.5]], [[0.5, 0.5]], {}),  # negative entry for a non-negative measure
        ([[0.5, 0.5]], [[0.5, 0.5], [0.1, np.nan]], {}),  # NaN in XB row 1
        ([[0.5, 0.5]], [[0.5, 0.5, 0.0]], {}),  # feature counts differ
        ([[0.0, 0.0]], [[0.5, 0.5]], {"normalize": True}),  # an all-zero row
        ([[[0.5]]], [[0.5]], {}),  # 3-D
        ([[0.5, 0.5]], [[0.5, 0.5]], {"base": 1.0}),  # a bad log base
    ],
)
def test_cdist_chunked_has_the_errors_of_cdist_at_call_time(XA, XB, options):
    with pytest.raises(dv.InputError) as want:
        dv.cdist(XA, XB, "kl", **options)
    with pytest.raises(dv.InputError) as got:
        dv.cdist_chunked(XA, XB, "kl", **options)  # no iteration needed
    assert str(got.value) == str(want.value)
    assert str(got.value).startswith("kullback_leibler: ")


def test_cdist_chunked_empty_and_one_dimensional():
    assert list(dv.cdist_chunked(np.zeros((0, 3)), np.ones((2, 3)), "kl")) == []
    blocks = list(dv.cdist_chunked([0.5, 0.5], [[0.5, 0.5], [0.9, 0.1]], "kl"))
    assert len(blocks) == 1
    np.testing.assert_array_equal(blocks[0], dv.cdist([0.5, 0.5], [[0.5, 0.5], [0.9, 0.1]], "kl"))


# -- progress -------------------------------------------------------------------
def test_progress_bar_on_stderr_only_when_asked(capsys):
    XA, XB = tie_data()
    want = dv.knn(XA, XB, 3, "hellinger")
    capsys.readouterr()
    got = dv.knn(XA, XB, 3, "hellinger", progress=True, working_memory=tiny_memory(2, 10))
    out, err = capsys.readouterr()
    np.testing.assert_array_equal(got[0], want[0])
    assert out == ""
    assert "hellinger" in err and "6/6" in err and "100%" in err
    list(dv.cdist_chunked(XA, XB, "hellinger", progress=True, working_memory=1e-9))
    out, err = capsys.readouterr()
    assert out == "" and "6/6" in err
    dv.knn(XA, XB, 3, "hellinger", progress=False, working_memory=tiny_memory(2, 10))
    list(dv.cdist_chunked(XA, XB, "hellinger", working_memory=1e-9))
    assert capsys.readouterr() == ("", "")


# -- memory ---------------------------------------------------------------------
def traced_peak(fn, *args, **kwargs):
    """(peak bytes traced while ``fn(*args, **kwargs)`` ran, its result)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = fn(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1] - base, out
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("backend", BACKENDS)
def test_knn_peak_memory_is_a_few_blocks_not_the_matrix(backend):
    rng = np.random.default_rng(10)
    n, d, wm = 20000, 16, 2
    XB = rng.random((n, d))
    dv.knn(XB[:2], XB[:50], 3, "manhattan", **OPTS[backend])  # compile outside the trace
    peaks = {}
    for m in (300, 900):
        XA = rng.random((m, d))
        if m == 300:  # the control: tracemalloc sees the matrix that cdist materialises
            peak, _ = traced_peak(dv.cdist, XA, XB, "l1", **OPTS[backend])
            assert peak >= m * n * 8
        peaks[m], (idx, _) = traced_peak(
            dv.knn, XA, XB, 5, "l1", **OPTS[backend], working_memory=wm
        )
        want = expected_knn(dv.cdist(XA[:3], XB, "l1"), 5, "dissimilarity")[0]
        np.testing.assert_array_equal(idx[:3], want)
    # three times the queries: the same peak (only the m x k results grow)
    assert peaks[900] - peaks[300] < MIB / 2, peaks
    dense, inputs = 900 * n * 8, 900 * d * 8 + XB.nbytes
    # one block of results, the ranking's slices of it, room for a kernel's per-row
    # precomputation (inputs-sized); the numpy back end adds its own fixed-size blocks
    # (reference.BLOCK_ELEMENTS per term)
    own = 0 if backend == "numba" else 4 * 8 * BLOCK_ELEMENTS
    assert peaks[900] < 2 * wm * MIB + 2 * inputs + own, peaks[900] / MIB
    assert peaks[900] < dense / (10 if backend == "numba" else 2), peaks[900] / MIB


# -- command line ---------------------------------------------------------------
def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_knn_round_trip(tmp_path, capsys):
    XA, XB = tie_data()
    np.save(tmp_path / "Q.npy", XA)
    np.savetxt(tmp_path / "DB.csv", XB, delimiter=",")
    out_path = tmp_path / "out.npz"
    rc, out, err = run(
        capsys,
        "knn",
        "kulczynski_s",
        str(tmp_path / "Q.npy"),
        str(tmp_path / "DB.csv"),
        "-k",
        "4",
        "-o",
        str(out_path),
        "--working-memory",
        str(tiny_memory(2, 10)),
        "--zero",
        "epsilon",
    )
    assert (rc, err) == (0, "")
    assert "out.npz" in out
    want_idx, want_val = dv.knn(XA, XB, 4, "kulczynski_s", zero="epsilon")
    with np.load(out_path) as f:
        assert sorted(f.files) == ["indices", "values"]
        np.testing.assert_array_equal(f["indices"], want_idx)
        np.testing.assert_array_equal(f["values"], want_val)
        assert f["indices"].dtype == np.int64 and f["values"].dtype == np.float64


def test_cli_knn_table_and_options(tmp_path, capsys):
    rng = np.random.default_rng(11)
    XA, XB = rng.random((3, 4)), rng.random((8, 4))
    np.save(tmp_path / "Q.npy", XA)
    np.savetxt(tmp_path / "DB.tsv", XB, delimiter="\t")
    argv = ["knn", "minkowski", str(tmp_path / "Q.npy"), str(tmp_path / "DB.tsv"), "-k", "3"]
    rc, out, err = run(capsys, *argv, "-p", "3", "--normalize", "--backend", "numpy")
    assert (rc, err) == (0, "")
    want_idx, want_val = dv.knn(XA, XB, 3, "minkowski", p=3.0, normalize=True, backend="numpy")
    lines = out.splitlines()
    assert lines[0].split() == ["query", "rank", "index", "value"]
    cells = [line.split() for line in lines[1:]]
    assert [(int(q), int(r)) for q, r, _, _ in cells] == [
        (q, r) for q in range(3) for r in (1, 2, 3)
    ]
    np.testing.assert_array_equal(np.array([int(c[2]) for c in cells]).reshape(3, 3), want_idx)
    np.testing.assert_array_equal(np.array([float(c[3]) for c in cells]).reshape(3, 3), want_val)
    rc, out, err = run(capsys, *argv, "--progress")
    assert rc == 0 and "100%" in err and "3/3" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-k", "9"], r"kullback_leibler: k=9 is larger than the 8 rows of XB"),
        (["-k", "-2"], r"kullback_leibler: k must be an integer >= 0, got -2"),
        (["-k", "two"], r"argument -k: invalid int value: 'two'"),
        ([], r"the following arguments are required: -k"),
        (["-k", "2", "-o", "out.npy"], r"out.npy: knn writes an .npz file"),
        (["-k", "2", "--working-memory", "-1"], r"kullback_leibler: working_memory must be"),
        (["-k", "2", "--backend", "gpu"], r"kullback_leibler: backend='gpu'"),
        (["-k", "2", "--zero", "loose"], r"argument --zero: invalid choice"),
    ],
)
def test_cli_knn_errors_are_one_line(tmp_path, capsys, extra, message):
    rng = np.random.default_rng(12)
    np.save(tmp_path / "Q.npy", rng.random((3, 4)))
    np.save(tmp_path / "DB.npy", rng.random((8, 4)))
    rc, out, err = run(
        capsys, "knn", "kl", str(tmp_path / "Q.npy"), str(tmp_path / "DB.npy"), *extra
    )
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("divergences: error: ")
    assert re.search(message, err), err


def test_cli_knn_bad_files(tmp_path, capsys):
    np.save(tmp_path / "Q.npy", np.ones((2, 3)))
    rc, _, err = run(
        capsys, "knn", "kl", str(tmp_path / "Q.npy"), str(tmp_path / "nope.npy"), "-k", "1"
    )
    assert rc == 2 and err.startswith("divergences: error: cannot read") and err.count("\n") == 1
    rc, _, err = run(
        capsys, "knn", "nosuch", str(tmp_path / "Q.npy"), str(tmp_path / "Q.npy"), "-k", "1"
    )
    assert rc == 2 and "unknown measure 'nosuch'" in err and err.count("\n") == 1


@pytest.mark.parametrize("name", ["cosine", "inner_product", "fidelity", "bhattacharyya"])
def test_knn_with_factored_forms(name):
    """method='auto' runs these through a BLAS product: knn's values equal cdist's to
    rounding, and its neighbours are cdist's wherever the ranking is not a near-tie."""
    rng = np.random.default_rng(12)
    XA, XB = rng.dirichlet(np.ones(8), size=9), rng.dirichlet(np.ones(8), size=40)
    m = dv.get(name)
    D = dv.cdist(XA, XB, m)
    want_idx, want_val = expected_knn(D, 5, m.kind)
    for wm in (None, tiny_memory(2, 40)):
        idx, val = dv.knn(XA, XB, 5, m, working_memory=wm)
        np.testing.assert_allclose(val, want_val, rtol=1e-13)
        np.testing.assert_array_equal(idx, want_idx)
