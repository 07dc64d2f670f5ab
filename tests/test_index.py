"""divergences.Index: the database side prepared once; search, radius, files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import divergences as dv
from divergences.index import FILE_VERSION

MEASURES = dv.measures()
DIRECT = {"method": "direct"}  # bitwise comparisons with cdist: the direct kernels


def tie_data() -> tuple[np.ndarray, np.ndarray]:
    """Rows on a coarse grid: zeros, all-zero rows (NaN values), duplicates, exact matches."""
    rng = np.random.default_rng(7)
    grid = np.array([0.0, 0.25, 0.5, 1.0])
    DB = rng.choice(grid, size=(12, 5))
    DB[1] = DB[6] = 0.0
    DB[3] = DB[8] = DB[2]
    Q = rng.choice(grid, size=(6, 5))
    Q[0] = 0.0
    Q[1] = DB[2]
    return Q, DB


def stable_knn(D: np.ndarray, k: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    key = -D if kind == "similarity" else D
    idx = np.argsort(key, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(D, idx, axis=1)


@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: m.name)
def test_search_is_a_stable_argsort_of_cdist_and_equals_knn(measure):
    Q, DB = tie_data()
    D = dv.cdist(Q, DB, measure, **DIRECT)
    index = dv.Index(DB, measure, **DIRECT)
    for k in (1, 4, DB.shape[0]):
        for wm in (None, 2 * 12 * 8 / 2**20):
            idx, val = index.search(Q, k, working_memory=wm)
            want_idx, want_val = stable_knn(D, k, measure.kind)
            np.testing.assert_array_equal(idx, want_idx)
            np.testing.assert_array_equal(val, want_val)
            kidx, kval = dv.knn(Q, DB, k, measure, **DIRECT, working_memory=wm)
            np.testing.assert_array_equal(idx, kidx)
            np.testing.assert_array_equal(val, kval)


@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: m.name)
def test_radius_holds_every_row_within_r_nearest_first(measure):
    Q, DB = tie_data()
    D = dv.cdist(Q, DB, measure, **DIRECT)
    finite = D[np.isfinite(D)]
    r = float(np.median(finite)) if finite.size else 0.0
    res = dv.Index(DB, measure, **DIRECT).radius(Q, r, working_memory=3 * 12 * 8 / 2**20)
    assert res.indptr.dtype == res.indices.dtype == np.int64 and res.values.dtype == np.float64
    assert res.indptr[0] == 0 and res.indptr[-1] == res.indices.size == res.values.size
    similarity = measure.kind == "similarity"
    for i in range(Q.shape[0]):
        hit = D[i] >= r if similarity else D[i] <= r  # NaN never within
        want = np.flatnonzero(hit)
        key = -D[i, want] if similarity else D[i, want]
        want = want[np.argsort(key, kind="stable")]  # nearest first, ties by row
        idx, val = res.row(i)
        np.testing.assert_array_equal(idx, want)
        np.testing.assert_array_equal(val, D[i, want])
    csr = res.to_csr()
    assert csr.shape == D.shape
    rows = np.repeat(np.arange(Q.shape[0]), np.diff(res.indptr))
    np.testing.assert_array_equal(csr[rows, res.indices], res.values)


def test_radius_boundaries_inf_and_bad_r():
    DB = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.0, 0.0]])
    Q = np.array([[1.0, 0.0]])
    index = dv.Index(DB, "manhattan")  # values 0, 2, 1, 1
    res = index.radius(Q, 1.0)  # the boundary is within; ties by the lower row
    np.testing.assert_array_equal(res.indices, [0, 2, 3])
    np.testing.assert_array_equal(res.values, [0.0, 1.0, 1.0])
    assert index.radius(Q, -1.0).indices.size == 0
    assert index.radius(Q, np.inf).indices.size == 4
    cos = dv.Index(DB, "cosine")  # a similarity: at least r similar; the all-zero row is NaN
    res = cos.radius(Q, -np.inf)
    np.testing.assert_array_equal(res.indices, [0, 2, 1])
    for bad in (np.nan, "x", None, True):
        with pytest.raises(dv.InputError, match="manhattan: r must be a number"):
            index.radius(Q, bad)


def test_index_options_params_normalize_and_aliases_match_cdist():
    rng = np.random.default_rng(4)
    DB, Q = rng.random((30, 6)) * 5, rng.random((7, 6)) * 5
    cases = [
        ("minkowski", {"p": 3.0}),
        ("kullback_leibler", {"zero": "epsilon", "epsilon": 1e-3, "base": 2.0}),
        ("scipy:cosine", {}),
        ("philentropy:jaccard", {}),
        ("hellinger", {"normalize": True}),
    ]
    for name, opts in cases:
        D = dv.cdist(Q, DB, name, **opts, **DIRECT)
        index = dv.Index(DB, name, **opts, **DIRECT)
        idx, val = index.search(Q, 5)
        want_idx, want_val = stable_knn(D, 5, dv.get(name).kind)
        np.testing.assert_array_equal(idx, want_idx, err_msg=name)
        np.testing.assert_array_equal(val, want_val, err_msg=name)


def test_index_errors_name_the_measure_and_argument():
    DB = np.array([[0.5, 0.5], [0.9, 0.1]])
    with pytest.raises(dv.InputError, match=r"kullback_leibler: DB row 1, column 0 is -0.9"):
        dv.Index(DB * [[1, 1], [-1, 1]], "kl")
    index = dv.Index(DB, "kl")
    with pytest.raises(dv.InputError, match="feature counts differ: Q has 3 but DB has 2"):
        index.search(np.ones((1, 3)), 1)
    with pytest.raises(dv.InputError, match=r"Q row 0, column 1 is -1\.0"):
        index.search(np.array([[1.0, -1.0]]), 1)
    with pytest.raises(dv.InputError, match="k=3 is larger than the 2 rows"):
        index.search(DB, 3)
    with pytest.raises(dv.InputError, match="method='factored' needs"):
        dv.Index(DB, "manhattan", method="factored")
    with pytest.raises(dv.InputError, match="working_memory must be a positive"):
        dv.Index(DB, "kl", working_memory=0)
    with pytest.raises(dv.InputError, match="unknown parameter"):
        dv.Index(DB, "kl", p=2)


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    DB, Q = rng.random((40, 8)), rng.random((5, 8))
    for name, opts in [
        ("kullback_leibler", {"zero": "epsilon", "epsilon": 1e-4, "base": 10.0}),
        ("minkowski", {"p": 1.5, "method": "direct"}),
        ("jensen_shannon", {"normalize": True}),
        ("cosine", {}),
    ]:
        index = dv.Index(DB, name, **opts)
        path = tmp_path / f"{name}.npz"
        index.save(path)
        with np.load(path, allow_pickle=False) as z:  # nothing pickled
            meta = json.loads(str(z["meta"][()]))
            assert int(z["version"]) == FILE_VERSION
        assert meta["measure"] == index.measure.name
        back = dv.Index.load(path)
        assert back.measure is index.measure and back.params == index.params
        np.testing.assert_array_equal(back.data, index.data)
        for a, b in zip(back.search(Q, 6), index.search(Q, 6), strict=True):
            np.testing.assert_array_equal(a, b)
        r = float(np.median(index.search(Q, 6)[1]))
        for a, b in zip(
            vars(back.radius(Q, r)).values(), vars(index.radius(Q, r)).values(), strict=True
        ):
            np.testing.assert_array_equal(a, b)


def test_load_refuses_wrong_and_damaged_files(tmp_path):
    index = dv.Index(np.array([[0.5, 0.5], [0.9, 0.1]]), "hellinger")
    good = tmp_path / "good.npz"
    index.save(good)
    raw = good.read_bytes()
    cases = {
        "random.npz": (b"\x00garbage" * 40, "cannot be read as a divergences index"),
        "truncated.npz": (raw[: len(raw) // 2], "cannot be read as a divergences index"),
        "empty.npz": (b"", "cannot be read as a divergences index"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(dv.IndexFileError, match=message):
            dv.Index.load(tmp_path / name)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.ones(3))
    with pytest.raises(dv.IndexFileError, match="is not a divergences index"):
        dv.Index.load(other)

    def rewrite(path, **changes):
        with np.load(good, allow_pickle=False) as z:
            entries = {k: z[k] for k in z.files}
        entries.update(changes)
        np.savez(path, **entries)
        return path

    with pytest.raises(dv.IndexFileError, match="format version 99"):
        dv.Index.load(rewrite(tmp_path / "v99.npz", version=np.array(99)))
    with pytest.raises(dv.IndexFileError, match="format 'something'"):
        dv.Index.load(rewrite(tmp_path / "fmt.npz", format=np.array("something")))
    with pytest.raises(dv.IndexFileError, match="damaged index description"):
        dv.Index.load(rewrite(tmp_path / "meta.npz", meta=np.array("{}")))
    with pytest.raises(dv.IndexFileError):
        dv.Index.load(rewrite(tmp_path / "json.npz", meta=np.array("{not json")))
    with pytest.raises(dv.IndexFileError, match="damaged index description"):
        dv.Index.load(rewrite(tmp_path / "dtype.npz", data=np.ones((2, 2), dtype=np.int8)))
    # an object array is never unpickled
    with zipfile.ZipFile(good) as z:
        assert all(n.endswith(".npy") for n in z.namelist())
    obj = rewrite(tmp_path / "obj.npz", meta=np.array([{"measure": "kl"}], dtype=object))
    with pytest.raises(dv.IndexFileError, match=r"cannot be read.*allow_pickle"):
        dv.Index.load(obj)
    with pytest.raises(dv.IndexFileError):
        dv.Index.load(tmp_path / "missing.npz")


def test_knn_reads_a_float32_memmap_in_blocks_with_the_rows_of_xb_in_errors(tmp_path):
    rng = np.random.default_rng(6)
    n, d = 3000, 16
    mm = np.lib.format.open_memmap(tmp_path / "db.npy", mode="w+", dtype=np.float32, shape=(n, d))
    mm[:] = rng.random((n, d), dtype=np.float32)
    mm[2500] = mm[10]  # an exact tie across XB blocks: the lower row first
    mm.flush()
    Q = np.asarray(mm[[10, 7, 2999]], dtype=np.float64) + 0.0
    Q[1] += 0.01
    DB64 = np.asarray(mm, dtype=np.float64)
    wm = 100 * d * 8 / 2**20  # XB in blocks of 100 rows, queries one at a time
    for name in ("manhattan", "kullback_leibler", "cosine"):
        want = dv.knn(Q, DB64, 7, name, **DIRECT)
        got = dv.knn(Q, mm, 7, name, **DIRECT, working_memory=wm)
        np.testing.assert_array_equal(got[0], want[0], err_msg=name)
        np.testing.assert_array_equal(got[1], want[1], err_msg=name)
    assert list(got[0][0, :2]) == [10, 2500] or dv.get("cosine").kind == "similarity"
    idx, _ = dv.knn(Q, mm, 2, "manhattan", working_memory=wm)
    assert list(idx[0]) == [10, 2500]
    mm[2345, 3] = -1.0
    mm.flush()
    with pytest.raises(dv.InputError, match=r"kullback_leibler: XB row 2345, column 3 is -1.0"):
        dv.knn(Q, mm, 2, "kl", working_memory=wm)


def test_knn_peak_memory_on_a_float32_memmap_stays_near_working_memory(tmp_path):
    """Issue 13 item 13: a float32 memmap XB is read, converted and prepared a block at a
    time (it used to be copied whole to float64, and XB's transforms were recomputed for
    every block of queries), so the peak is a few working_memory, not the database."""
    import tracemalloc

    n, d, wm = 1 << 18, 64, 4  # a 64 MiB float32 database, 128 MiB as float64
    rng = np.random.default_rng(8)
    mm = np.lib.format.open_memmap(tmp_path / "db.npy", mode="w+", dtype=np.float32, shape=(n, d))
    for s in range(0, n, 1 << 14):
        mm[s : s + (1 << 14)] = rng.dirichlet(np.ones(d), size=1 << 14)
    mm.flush()
    Q = rng.dirichlet(np.ones(d), size=16)
    dv.knn(Q[:2], np.asarray(mm[:100], dtype=np.float64), 3, "hellinger")  # compile first
    del mm
    db = np.load(tmp_path / "db.npy", mmap_mode="r")
    tracemalloc.start()
    try:
        idx, val = dv.knn(Q, db, 5, "hellinger", working_memory=wm)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # measured 33 MiB: about two blocks of XB (float64 and its prepared terms) and the
    # queries' block; the float64 copy of XB alone was 128 MiB
    assert peak < 12 * wm * 2**20, peak / 2**20
    full = dv.cdist(Q, np.asarray(db, dtype=np.float64), "hellinger")
    np.testing.assert_array_equal(idx, np.argsort(full, axis=1, kind="stable")[:, :5])
    np.testing.assert_array_equal(val, np.take_along_axis(full, idx, axis=1))
