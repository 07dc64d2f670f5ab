"""divergences.benchmark: the timings also check ours against the peer, and say so."""

from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.spatial.distance as ssd
from scipy.stats import entropy

from divergences import benchmark as bm


def test_tiny_run_rows_agree_with_their_peers():
    out = io.StringIO()
    rows = bm.run(size="tiny", measures=["manhattan", "kullback_leibler"], file=out)
    assert [r["measure"] for r in rows] == ["manhattan", "kullback_leibler"]
    m, n, d = bm.SIZES["tiny"]
    for r in rows:
        assert (r["m"], r["n"], r["d"], r["dtype"]) == (m, n, d, "float64")
        assert r["agree"] is True
        assert 0.0 <= r["max_rel_err"] <= bm.RTOL["float64"]
        assert r["ours_s"] > 0 and r["peer_s"] > 0
        assert r["ratio"] == pytest.approx(r["peer_s"] / r["ours_s"])
        assert r["pair_dims_per_s"] == pytest.approx(m * n * d / r["ours_s"])
    assert "scipy cdist 'cityblock'" in rows[0]["peer"]
    assert "rel_entr" in rows[1]["peer"]
    assert rows[1]["gemm_fraction"] is not None and rows[0]["gemm_fraction"] is None
    text = out.getvalue()
    assert "manhattan" in text and "kullback_leibler" in text and "GFLOP/s" in text


def test_the_peers_compute_what_they_claim():
    """The peers are independent of the definitions: check them on one pair each."""
    (A, XB), _ = bm.make_data(3, 4, 11).values()
    kl = bm.case("kl").peer_fn(A, XB)
    assert kl[1, 2] == pytest.approx(entropy(A[1], XB[2]), rel=1e-12)
    l1 = bm.case("manhattan").peer_fn(A, XB)
    assert l1[2, 3] == pytest.approx(np.abs(A[2] - XB[3]).sum(), rel=1e-12)
    js = bm.case("scipy:jensenshannon")
    assert js.call == "scipy:jensenshannon"
    assert js.peer_fn(A, XB)[0, 1] == pytest.approx(ssd.jensenshannon(A[0], XB[1]), rel=1e-12)
    # a measure without a hand-written peer falls back on the NumPy reference
    assert "reference" in bm.case("vicis_wave_hedges").peer


def test_data_are_the_same_probability_rows_for_everyone():
    one, two = bm.make_data(5, 6, 7), bm.make_data(5, 6, 7)
    for dt in ("float64", "float32"):
        for x, y in zip(one[dt], two[dt]):
            np.testing.assert_array_equal(x, y)
            assert x.dtype == dt
    A, XB = one["float64"]
    assert (A > 0).all() and np.allclose(A.sum(axis=1), 1.0) and np.allclose(XB.sum(axis=1), 1.0)
    np.testing.assert_array_equal(one["float32"][0], A.astype(np.float32))


def test_a_wrong_peer_is_caught(monkeypatch):
    good = bm.BROADCAST["kullback_leibler"]
    wrong = bm.Broadcast("off by 1e-6", lambda p, q: good.term(p, q) * (1 + 1e-6))
    monkeypatch.setitem(bm.BROADCAST, "kullback_leibler", wrong)
    with pytest.raises(bm.BenchmarkMismatchError, match="kullback_leibler"):
        bm.run(size="tiny", measures=["kullback_leibler"], file=None)
    rows = bm.run(size="tiny", measures=["kullback_leibler"], file=None, check=False)
    assert rows[0]["agree"] is False
    assert rows[0]["max_rel_err"] == pytest.approx(1e-6, rel=1e-3)


def test_assert_same_wants_nan_and_inf_in_the_same_places():
    x = np.array([[1.0, np.inf, np.nan]])
    assert bm.assert_same(x, x.copy(), "float64") == 0.0
    with pytest.raises(bm.BenchmarkMismatchError):
        bm.assert_same(x, np.array([[1.0, 1e300, np.nan]]), "float64")
    with pytest.raises(bm.BenchmarkMismatchError):
        bm.assert_same(x, np.array([[1.0, np.inf, 0.0]]), "float64")
    with pytest.raises(bm.BenchmarkMismatchError):
        bm.assert_same(np.ones((1, 2)), np.ones((2, 1)), "float64")
    # float32 input: 1e-5 relative
    bm.assert_same(np.array([1.0]), np.array([1.0 + 5e-6]), "float32")
    with pytest.raises(bm.BenchmarkMismatchError):
        bm.assert_same(np.array([1.0]), np.array([1.0 + 5e-6]), "float64")


def test_main_prints_a_table_and_returns_0(capsys):
    assert bm.main(["--size", "tiny", "--measures", "cityblock,hellinger", "--float32"]) == 0
    out = capsys.readouterr().out
    assert out.count("manhattan") >= 2 and out.count("hellinger") >= 2
    assert "float32" in out


def test_main_unknown_measure_is_an_error(capsys):
    assert bm.main(["--size", "tiny", "--measures", "no_such_measure"]) == 2
    assert "no_such_measure" in capsys.readouterr().err


def test_first_call_times_in_fresh_processes():
    t = bm.first_call_times(["manhattan"], ["float64"])["manhattan"]
    assert set(t) == {"cold_float64", "warm_float64", "import_s", "numba_import_s"}
    assert all(v > 0 for v in t.values())
