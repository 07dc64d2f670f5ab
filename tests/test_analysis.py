"""Cha's analysis (divergences.analyze, `divergences analyze`): groups, correlations, files, errors."""

import json
import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

import divergences as dv
from divergences.analysis import analyze, sample_pairs
from divergences.cli import main
from divergences.relations import must_group
from divergences.report import atomic_folder

pytest.importorskip("matplotlib")


def _pdfs(n=120, d=12, seed=0):
    return np.random.default_rng(seed).dirichlet(np.ones(d), size=n)


@pytest.fixture(scope="module")
def groups():
    return must_group()


@pytest.fixture(scope="module")
def full():
    # every measure of the catalog on strictly positive pdfs (no zero: all finite)
    return analyze(_pdfs(), pairs=1500, k=5, knn_queries=10, seed=1)


def test_must_group_is_derived_from_the_relations_and_covers_the_surveys_statements(groups):
    # The issue (and Cha's survey) state these as monotone in one another on pdfs; the
    # registry's relations must imply them, so that the test below covers them.
    stated = [
        {"hellinger", "matusita", "squared_chord", "bhattacharyya", "fidelity"},
        {"sorensen", "czekanowski"},
        {"jensen_shannon", "topsoe", "jensen_difference"},
    ]
    for s in stated:
        assert any(s <= set(g) for g in groups), s
    # a relation with two calls (Jeffreys = KL + reverse KL) links nothing
    assert not any("jeffreys" in g for g in groups)


def test_monotone_related_measures_correlate_at_one_and_share_a_group(full, groups):
    lab = full.labels
    for g in groups:
        present = [m for m in g if m in lab]
        assert len(present) == len(g), (g, full.excluded)
        idx = [lab.index(m) for m in g]
        S = full.spearman[np.ix_(idx, idx)]
        # oriented: similarities are negated, so monotone relatives correlate at +1
        np.testing.assert_allclose(S, 1.0, atol=1e-12, err_msg=str(g))
        assert len({full.group_of(m) for m in g}) == 1, g


def _no_near_ties(v):
    # no two values equal up to rounding but not exactly (those analyze counts as ties,
    # scipy does not: e.g. f(P, Q) and f(Q, P) of a symmetric measure summed in two orders)
    w = np.sort(v)
    d = np.diff(w)
    return not ((d > 0) & (d <= 1e-11 * np.maximum(np.abs(w[1:]), np.median(np.abs(v))))).any()


def test_correlations_match_scipy_on_the_values(full):
    V = full.values
    clean = [j for j in range(V.shape[1]) if _no_near_ties(V[:, j])]
    assert len(clean) >= 10
    for a, b in [(clean[0], clean[1]), (clean[3], clean[7]), (clean[5], clean[-1])]:
        assert full.spearman[a, b] == pytest.approx(spearmanr(V[:, a], V[:, b])[0], abs=1e-12)
        assert full.pearson[a, b] == pytest.approx(pearsonr(V[:, a], V[:, b])[0], abs=1e-12)


def test_values_are_the_measures_on_the_reported_pairs_oriented():
    X = _pdfs(40, 6, seed=3)
    a = analyze(X, ["manhattan", "intersection", "kl"], pairs=200, k=0, seed=2)
    for j, name in enumerate(a.labels):
        m = dv.get(name)
        sign = -1.0 if m.kind == "similarity" else 1.0
        for r in (0, 57, len(a.pairs) - 1):
            i, k = a.pairs[r]
            assert i != k
            assert a.values[r, j] == pytest.approx(sign * m(X[i], X[k]), rel=1e-12)
    # intersection = 1 - manhattan / 2 on pdfs: negated, it correlates at +1, also in values
    i, j = a.labels.index("manhattan"), a.labels.index("intersection")
    assert a.pearson[i, j] == pytest.approx(1.0, abs=1e-12)


def test_a_non_monotone_pair_does_not_correlate_at_one():
    a = analyze(_pdfs(60, 8), ["chebyshev", "manhattan", "kl"], pairs=500, k=0)
    assert abs(a.spearman[0, 1]) < 0.99
    assert abs(a.spearman[1, 2]) < 0.99


def test_sampled_pairs_are_distinct_rows_and_all_pairs_for_small_data():
    rng = np.random.default_rng(0)
    blocks = sample_pairs(5, 1000, rng)
    pairs = {(int(i), int(j)) for a, b in blocks for i in a for j in b}
    assert pairs == {(i, j) for i in range(5) for j in range(5) if i != j}
    for a, b in sample_pairs(500, 3000, rng):
        assert not set(a.tolist()) & set(b.tolist())


def test_knn_overlap_matches_a_brute_force_argsort(full):
    X = _pdfs()
    rows = np.array(full.settings["knn_query_rows"])
    DB = np.delete(X, rows, axis=0)

    def neighbours(name):
        m = dv.get(name)
        D = dv.cdist(X[rows], DB, name, backend="numpy")
        D = -D if m.kind == "similarity" else D
        return np.argsort(D, axis=1, kind="stable")[:, : full.k]

    a, b = "kullback_leibler", "manhattan"
    na, nb = neighbours(a), neighbours(b)
    want = np.mean([len(set(x) & set(y)) for x, y in zip(na, nb)]) / full.k
    i, j = full.labels.index(a), full.labels.index(b)
    assert full.knn_overlap[i, j] == pytest.approx(want)
    assert full.knn_overlap[i, i] == 1.0


def test_nonfinite_measures_are_excluded_or_their_pairs_dropped_and_reported():
    X = _pdfs(60, 8, seed=4)
    X[::2, 0] = 0.0  # zeros in half the rows: KL(P || Q) is inf whenever Q has the zero
    X /= X.sum(axis=1, keepdims=True)
    a = analyze(X, ["kl", "manhattan", "euclidean"], pairs=400, k=0)
    assert "kullback_leibler" in a.excluded and "inf" in a.excluded["kullback_leibler"]
    assert a.nonfinite["kullback_leibler"]["inf"] > 0
    b = analyze(X, ["kl", "manhattan", "euclidean"], pairs=400, k=0, max_nonfinite=1.0)
    assert "kullback_leibler" in b.labels
    assert b.dropped_pairs == b.nonfinite["kullback_leibler"]["inf"] > 0
    assert np.isfinite(b.values).all()


def test_parameters_make_columns_and_foreign_parameters_are_refused():
    X = _pdfs(30, 5)
    a = analyze(X, ["minkowski"], params={"minkowski": [{"p": 1}, {"p": 3}]}, pairs=100, k=0)
    assert a.labels == ["minkowski[p=1]", "minkowski[p=3]"]
    with pytest.raises(ValueError, match=r"manhattan: 'p' is not one of its parameters"):
        analyze(X, ["manhattan"], params={"manhattan": {"p": 3}}, k=0)
    with pytest.raises(ValueError, match="at least 3 rows"):
        analyze(X[:2], ["manhattan", "euclidean"], k=0)


def _valid_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_cli_writes_valid_files_whose_json_matches_the_values(tmp_path, capsys):
    X = _pdfs(50, 8, seed=5)
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "rep"
    names = "hellinger,fidelity,manhattan,sorensen,kl,chebyshev,cosine"
    rc = main(
        [
            "analyze",
            str(tmp_path / "X.npy"),
            "--measures",
            names,
            "--pairs",
            "300",
            "-k",
            "4",
            "-o",
            str(out),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    for f in ("dendrogram.png", "heatmap.png"):
        assert _valid_png(out / f)
    for f in ("dendrogram.svg", "heatmap.svg"):
        assert ET.parse(out / f).getroot().tag.endswith("svg")
    rec = json.loads((out / "analysis.json").read_text())
    npz = np.load(out / "values.npz")
    assert list(npz["labels"]) == rec["measures"]
    V = npz["values"]
    S = np.array(rec["spearman"])
    clean = [j for j in range(V.shape[1]) if _no_near_ties(V[:, j])]
    assert len(clean) >= 4
    for i in clean:
        for j in clean:
            assert S[i, j] == pytest.approx(spearmanr(V[:, i], V[:, j])[0], abs=1e-12)
    # the values are the measures at the recorded pairs
    i, j = npz["pairs"][7]
    h = rec["measures"].index("hellinger")
    assert V[7, h] == pytest.approx(dv.get("hellinger")(X[i], X[j]), rel=1e-12)
    together = next(g for g in rec["groups"] if "hellinger" in g)
    assert "fidelity" in together
    assert next(g for g in rec["groups"] if "manhattan" in g) == ["manhattan", "sorensen"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".dv-")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--measures", "hellinger,nosuch"], "unknown measure 'nosuch'"),
        (
            ["--measures", "manhattan,euclidean", "--params", "manhattan:p=3"],
            "manhattan: 'p' is not one of its parameters",
        ),
        (["--measures", "minkowski,euclidean", "--params", "minkowski:p=-1"], "outside its domain"),
    ],
)
def test_cli_bad_input_one_line_exit_2_no_report(tmp_path, capsys, args, message):
    np.save(tmp_path / "X.npy", _pdfs(20, 4))
    out = tmp_path / "rep"
    assert main(["analyze", str(tmp_path / "X.npy"), "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".dv-")]


def test_cli_too_few_rows_and_unwritable_folder(tmp_path, capsys):
    np.save(tmp_path / "two.npy", _pdfs(2, 4))
    assert main(["analyze", str(tmp_path / "two.npy"), "-o", str(tmp_path / "r")]) == 2
    assert "at least 3 rows" in capsys.readouterr().err
    np.save(tmp_path / "X.npy", _pdfs(20, 4))
    (tmp_path / "afile").write_text("x")
    bad = tmp_path / "afile" / "rep"
    assert main(["analyze", str(tmp_path / "X.npy"), "-o", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cannot write the report" in err and err.count("\n") == 1


def test_a_failing_report_leaves_nothing_behind(tmp_path):
    dest = tmp_path / "rep"
    dest.mkdir()
    (dest / "old.json").write_text("{}")

    def fill(tmp):
        with open(os.path.join(tmp, "analysis.json"), "w") as f:
            f.write("{")
        raise RuntimeError("picture failed")

    with pytest.raises(RuntimeError):
        atomic_folder(str(dest), fill)
    assert os.listdir(dest) == ["old.json"]  # the previous report is untouched
    assert sorted(os.listdir(tmp_path)) == ["rep"]


def test_example_runs_offline_on_bundled_data(tmp_path, capsys):
    out = tmp_path / "ex"
    rc = main(
        [
            "analyze",
            "--example",
            "--measures",
            "hellinger,fidelity,bhattacharyya,manhattan,kl,jensen_shannon,topsoe",
            "--pairs",
            "200",
            "-k",
            "3",
            "-o",
            str(out),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    for sub in ("digits", "sample_images"):
        rec = json.loads((out / sub / "analysis.json").read_text())
        g = next(g for g in rec["groups"] if "hellinger" in g)
        assert {"fidelity", "bhattacharyya"} <= set(g)
        g = next(g for g in rec["groups"] if "topsoe" in g)
        assert "jensen_shannon" in g
        assert _valid_png(out / sub / "dendrogram.png")


def test_exact_ties_broken_by_rounding_still_correlate_at_one(groups):
    # few distinct rows, each repeated: most pairs tie exactly in exact arithmetic, and
    # rounding orders them differently for s and 1 - s (czekanowski vs its similarity)
    rng = np.random.default_rng(8)
    base = rng.dirichlet(np.ones(6) * 0.5, size=5)
    X = np.repeat(base, 12, axis=0)
    names = sorted({n for g in groups for n in g})
    a = analyze(X, names, pairs=2000, k=0, seed=3)
    for g in groups:
        idx = [a.labels.index(m) for m in g if m in a.labels]
        np.testing.assert_allclose(a.spearman[np.ix_(idx, idx)], 1.0, atol=1e-12, err_msg=str(g))


def test_query_mode_uses_every_query_against_every_database_row():
    X = _pdfs(30, 6, seed=9)
    Q = _pdfs(4, 6, seed=10)
    a = analyze(X, ["manhattan", "kl", "cosine"], queries=Q, k=5)
    assert a.values.shape == (4 * 30, 3) and a.settings["mode"] == "queries"
    D = dv.cdist(Q, X, "kl", backend="numpy").ravel()
    np.testing.assert_allclose(a.values[:, a.labels.index("kullback_leibler")], D, rtol=1e-12)
    np.testing.assert_allclose(
        a.values[:, a.labels.index("cosine")], -dv.cdist(Q, X, "cosine", backend="numpy").ravel()
    )
    # neighbours searched in X for each query: the overlap of kl with itself is 1, and
    # with manhattan it is what two stable argsorts give
    nk = np.argsort(dv.cdist(Q, X, "kl", backend="numpy"), axis=1, kind="stable")[:, :5]
    nm = np.argsort(dv.cdist(Q, X, "manhattan", backend="numpy"), axis=1, kind="stable")[:, :5]
    want = np.mean([len(set(x) & set(y)) for x, y in zip(nk, nm)]) / 5
    i, j = a.labels.index("kullback_leibler"), a.labels.index("manhattan")
    assert a.knn_overlap[i, j] == pytest.approx(want)
