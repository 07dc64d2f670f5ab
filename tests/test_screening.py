"""knn's BLAS screen (divergences.screening): the same neighbours and values as a stable
argsort of cdist, on data made to defeat it, and only a few exact values per query."""

from __future__ import annotations

import numpy as np
import pytest

import divergences as dv
from divergences import screening
from divergences.index import Options, Rows
from divergences.kernels.factored import driver

MIB = 1 << 20
N, D, Q = 1500, 8, 40


@pytest.fixture(autouse=True)
def small_subsample(monkeypatch):
    """A first bound from a strided subsample of 256 columns (stride 5 here), as on large
    databases (the default subsample, 2048, would take every column of these)."""
    monkeypatch.setattr(screening, "SUBSAMPLE", 256)


def screened() -> list[tuple[dv.Measure, str, dict[str, float]]]:
    """Every (measure, zero mode, parameters) the screen applies to, from the registry:
    default parameters, and for a measure with a logarithm base also base 0.5 (the
    finalize then decreases with the accumulator)."""
    out = []
    for m in dv.measures():
        for zero in ("strict", "epsilon"):
            params = {p.name: p.default for p in m.params}
            variants = [params]
            if "base" in params:
                variants.append({**params, "base": 0.5})
            for ps in variants:
                if screening.screen_for(m, zero, 1e-10, ps, D) is not None:
                    out.append((m, zero, ps))
    return out


SCREENED = screened()


def adversarial(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Probability rows with what can fool a screen: byte-identical rows far apart, rows a
    few ulps apart, queries equal or nearly equal to database rows (values near 0, where
    the guard falls back to the direct kernel), ties straddling the k boundary, zero bins
    (infinite values), magnitudes outside the guard's range, all-zero rows."""
    rng = np.random.default_rng(seed)
    DB = rng.dirichlet(np.full(D, 0.5), N)
    XA = rng.dirichlet(np.full(D, 0.5), Q)
    DB[[34, 696, 1400]] = DB[1200]  # identical rows: identical values, lowest index first
    XA[0] = DB[1200]  # exact matches: 0, the guard's fallback
    DB[101] = np.nextafter(DB[100], 1.0)  # ulps apart
    DB[102] = np.nextafter(DB[100], 0.0)
    XA[1] = DB[100] * (1 + 1e-13)
    XA[2] = np.nextafter(DB[1300], 1.0)
    DB[800:820] = XA[7]  # twenty ties of value 0 across k = 5 and 12
    DB[820:840] = XA[8] * (1 + 1e-15 * rng.standard_normal((20, D)))  # near-ties
    DB[840:845] = XA[8]
    DB[200:260, 0] = 0.0  # zero bins: corrections and infinite values
    DB[300, :3] = 0.0
    XA[3, 1] = 0.0
    XA[4, :2] = 0.0
    XA[9] = DB[300]
    DB[400, 0] = 1e-250  # outside [2^-200, 2^200]: never screened
    XA[5, 0] = 1e-250
    DB[500] = 0.0  # all-zero rows: NaN for some measures
    XA[6] = 0.0
    return XA, DB


def stable_knn(Dm: np.ndarray, k: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    key = -Dm if kind == "similarity" else Dm
    idx = np.argsort(key, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(Dm, idx, axis=1)


def test_the_screen_covers_the_measures_of_the_issue_and_both_directions():
    names = {m.name for m, _, _ in SCREENED}
    assert {"hellinger", "kullback_leibler"} <= names  # issue 13 item 13's benchmark
    signs = {screening.screen_for(m, z, 1e-10, p, D).sign for m, z, p in SCREENED}
    assert signs == {1.0, -1.0}  # similarities and base < 1 rank by a decreasing key


@pytest.mark.parametrize(
    ("measure", "zero", "params"),
    SCREENED,
    ids=[f"{m.name}-{z}-{'-'.join(f'{k}{v}' for k, v in p.items())}" for m, z, p in SCREENED],
)
def test_screened_knn_equals_a_stable_argsort_of_cdist(measure, zero, params):
    XA, DB = adversarial()
    opts = {"zero": zero, **params}
    Dm = dv.cdist(XA, DB, measure, **opts)
    index = dv.Index(DB, measure, **opts)
    # one block of queries, and blocks of three
    for k, wm in ((1, None), (12, None), (5, 3 * N * 8 / MIB)):
        want_idx, want_val = stable_knn(Dm, k, measure.kind)
        idx, val = dv.knn(XA, DB, k, measure, working_memory=wm, **opts)
        np.testing.assert_array_equal(idx, want_idx, err_msg=f"k={k} wm={wm}")
        np.testing.assert_array_equal(val, want_val, err_msg=f"k={k} wm={wm}")
        idx, val = index.search(XA, k, working_memory=wm)
        np.testing.assert_array_equal(idx, want_idx, err_msg=f"Index k={k} wm={wm}")
        np.testing.assert_array_equal(val, want_val, err_msg=f"Index k={k} wm={wm}")


def test_screened_knn_over_blocks_of_a_float32_memmap(tmp_path):
    """XB read a block at a time: each block is screened on its own, then merged."""
    XA, DB = adversarial(5)
    mm = np.lib.format.open_memmap(tmp_path / "db.npy", mode="w+", dtype=np.float32, shape=DB.shape)
    mm[:] = DB
    mm.flush()
    DB32 = np.asarray(mm, dtype=np.float64)
    for name in ("hellinger", "kullback_leibler"):
        Dm = dv.cdist(XA, DB32, name)
        want_idx, want_val = stable_knn(Dm, 7, "dissimilarity")
        idx, val = dv.knn(XA, mm, 7, name, working_memory=200 * D * 8 / MIB)  # 8 blocks
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_array_equal(val, want_val)


def test_identical_rows_rank_by_index_and_the_query_row_itself_first():
    _, DB = adversarial()
    DB[500] = DB[499]  # no all-zero row (0 against it for some of these measures)
    for m, zero, params in SCREENED:
        if m.kind == "similarity" or screening.screen_for(m, zero, 1e-10, params, D).sign < 0:
            continue  # nearest is not "itself" there
        idx, val = dv.knn(DB[[1200]], DB, 4, m, zero=zero, **params)
        # the copies of row 1200 (value 0 for these dissimilarities), in index order
        assert list(idx[0]) == [34, 696, 1200, 1400], m.name
        assert val[0, 0] == val[0, 1] == val[0, 2] == val[0, 3] == 0.0, m.name


def test_the_screen_computes_few_exact_values(monkeypatch):
    """The point of the screen (issue 13 item 13): the ordered, pair-by-pair products run on
    the candidates only, not on every pair (before it, knn computed all m x n pairs so)."""
    XA, DB = adversarial()
    rng = np.random.default_rng(1)
    XA = rng.dirichlet(np.full(D, 0.5), 64)
    pairs = []
    real = driver.cdist_stats

    def counting(measure, A, *args, **kwargs):
        out = real(measure, A, *args, **kwargs)
        pairs.append(out[0].size)
        return out

    monkeypatch.setattr(driver, "cdist_stats", counting)
    for name in ("hellinger", "kullback_leibler"):
        pairs.clear()
        idx, _ = dv.knn(XA, DB, 5, name)
        # the database's preparation (one row against every row) and the candidates
        assert sum(pairs) < (N + XA.shape[0] * N) // 4, (name, pairs)
        monkeypatch.setattr(driver, "cdist_stats", real)
        np.testing.assert_array_equal(idx, stable_knn(dv.cdist(XA, DB, name), 5, "dissimilarity")[0])
        monkeypatch.setattr(driver, "cdist_stats", counting)


def test_direct_and_unscreened_measures_are_not_screened():
    """Several accumulators, mixed-logarithm sums, a finalize that is not a monotone scale
    of its accumulator, or method='direct': no screen, values from whole blocks."""
    for m in dv.measures():
        for zero in ("strict", "epsilon"):
            params = {p.name: p.default for p in m.params}
            rows = Rows(Options(m, zero, 1e-10, params, "numba", "direct"), np.ones((3, D)) / D)
            assert rows.screen is None
    js = dv.get("jensen_shannon")  # a mixed-logarithm sum: no BLAS form of it
    assert screening.screen_for(js, "strict", 1e-10, {"base": np.e}, D) is None
    cos = dv.get("cosine")  # three accumulators
    assert screening.screen_for(cos, "strict", 1e-10, {}, D) is None
