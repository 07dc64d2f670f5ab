"""The ``divergences`` command: list, show, compute, catalog, and its errors."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import divergences as dv
from divergences import catalog
from divergences.cli import EXAMPLE_COUNTS, EXAMPLE_LABELS, EXAMPLE_P, EXAMPLE_Q, main

REPO = Path(__file__).resolve().parents[1]
CLAIMS = ("symmetric", "nonnegative", "identity", "triangle", "metric")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def flat(text: str) -> str:
    """Whitespace collapsed (``show`` wraps long lines)."""
    return " ".join(text.split())


# -- list ---------------------------------------------------------------------
def test_list_json_has_every_measure_and_all_51_survey_numbers(capsys):
    rc, out, err = run(capsys, "list", "--json")
    assert rc == 0 and err == ""
    records = json.loads(out)
    assert [r["name"] for r in records] == [m.name for m in dv.measures()]
    assert {r["survey_number"] for r in records} - {None} == set(range(1, 52))
    for r, m in zip(records, dv.measures(), strict=True):
        assert r["title"] == m.title
        assert r["aliases"] == list(m.alias_names)
        assert r["family"] == m.family and r["kind"] == m.kind and r["domain"] == m.domain
        assert r["latex"] == m.latex and r["zeros"] == m.zeros and r["notes"] == m.notes
        assert r["bounds"] == {
            "low": m.bounds.low,
            "high": m.bounds.high,
            "bounded": m.is_bounded(),
        }
        assert [x["expr"] for x in r["relations"]] == [x.expr for x in m.relations]
        assert [p["name"] for p in r["params"]] == [p.name for p in m.params]
        assert [p["default"] for p in r["params"]] == [p.default for p in m.params]
        assert set(r["properties"]) == set(CLAIMS)
        for name, claim in m.properties.items():
            got = r["properties"][name]
            assert got["holds"] == claim.holds
            assert got["evidence"] == claim.evidence
            assert got["condition"] == claim.condition
            want_cx = (
                None if claim.counterexample is None else [list(v) for v in claim.counterexample]
            )
            assert got["counterexample"] == want_cx


def test_list_json_alias_defaults():
    rec = catalog.measure_record(dv.get("kullback_leibler"))
    assert rec["alias_defaults"] == {"philentropy:kullback-leibler": {"zero": "epsilon"}}
    rec = catalog.measure_record(dv.get("jensen_shannon_distance"))
    assert rec["alias_defaults"]["scipy:jensenshannon"] == {"normalize": True}


def test_list_json_in_a_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "divergences", "list", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    names = [r["name"] for r in json.loads(proc.stdout)]
    assert names == [m.name for m in dv.measures()]


@pytest.mark.parametrize(
    ("argv", "filters"),
    [
        (["--metric"], {"metric": True}),
        (["--symmetric"], {"symmetric": True}),
        (["--triangle"], {"triangle": True}),
        (["--metric", "always"], {"metric": "always"}),
        (["--metric", "pdf"], {"metric": "pdf"}),
        (["--symmetric", "never"], {"symmetric": "never"}),
        (
            ["--family", "shannon", "--kind", "dissimilarity"],
            {"family": "shannon", "kind": "dissimilarity"},
        ),
        (["--family", "Fidelity (squared-chord)"], {"family": "fidelity"}),
        (["--kind", "similarity"], {"kind": "similarity"}),
        (["--domain", "real"], {"domain": "real"}),
        (["--bounded"], {"bounded": True}),
        (["--unbounded"], {"bounded": False}),
        (["--metric", "--domain", "nonnegative"], {"metric": True, "domain": "nonnegative"}),
    ],
)
def test_list_filters_are_select(capsys, argv, filters):
    rc, out, _ = run(capsys, "list", "--json", *argv)
    assert rc == 0
    got = [r["name"] for r in json.loads(out)]
    want = [m.name for m in dv.select(**filters)]
    assert got == want
    assert 0 < len(got) < len(dv.measures())


def test_list_metric_table_is_exactly_the_metrics(capsys):
    rc, out, _ = run(capsys, "list", "--metric")
    assert rc == 0
    header, *rows = out.splitlines()
    assert header.split() == ["no.", "name", "kind", "symmetric", "metric", "bounds", "(pdfs)", "family"]
    assert [r.split()[1] for r in rows] == [m.name for m in dv.select(metric=True)]
    assert {r.split()[4] for r in rows} <= {"always", "pdf"}
    assert "kullback_leibler" not in out


def test_list_table_rows(capsys):
    rc, out, _ = run(capsys, "list")
    assert rc == 0
    rows = {r.split()[1]: r.split() for r in out.splitlines()[1:]}
    assert set(rows) == {m.name for m in dv.measures()}
    assert rows["kullback_leibler"] == [
        "37",
        "kullback_leibler",
        "dissimilarity",
        "never",
        "never",
        "[0,",
        "inf]",
        "shannon",
    ]
    assert rows["jensen_shannon_distance"][0] == "extra"
    # aligned: the name column starts at the same offset on every line
    starts = {line.index(line.split()[1]) for line in out.splitlines()}
    assert len(starts) == 1


# -- show ---------------------------------------------------------------------
P = np.array(EXAMPLE_P)
Q = np.array(EXAMPLE_Q)


def _js(p, q):
    m = (p + q) / 2
    return 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))


BY_HAND = {
    "kl": lambda p, q: np.sum(p * np.log(p / q)),
    "kullback_leibler": lambda p, q: np.sum(p * np.log(p / q)),
    "euclidean": lambda p, q: np.sqrt(np.sum((p - q) ** 2)),
    "cityblock": lambda p, q: np.sum(np.abs(p - q)),
    "js": _js,
    "cosine": lambda p, q: p @ q / np.sqrt((p @ p) * (q @ q)),
    "hellinger": lambda p, q: 2 * np.sqrt(1 - np.sum(np.sqrt(p * q))),
    "pearson": lambda p, q: np.sum((p - q) ** 2 / q),
    "41": _js,
    "philentropy:kullback-leibler": lambda p, q: np.sum(p * np.log(p / q)),
    "scipy:jensenshannon": lambda p, q: np.sqrt(_js(p, q)),
}


def _example_value(out: str, name: str) -> float:
    m = re.search(rf"divergences\.get\({re.escape(repr(name))}\)\(P, Q\) = (\S+)$", out, re.M)
    assert m, out
    return float(m.group(1))


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_show_example_value_matches_a_hand_computation(capsys, name):
    rc, out, err = run(capsys, "show", name)
    assert rc == 0 and err == ""
    assert _example_value(out, name) == pytest.approx(float(BY_HAND[name](P, Q)), rel=1e-12)
    assert "P = (0.1, 0.2, 0.3, 0.4)" in out and "Q = (0.4, 0.3, 0.2, 0.1)" in out


def test_show_kl_prints_every_claim_with_evidence_and_counterexample(capsys):
    rc, out, _ = run(capsys, "show", "kl")
    assert rc == 0
    m = dv.get("kullback_leibler")
    text = flat(out)
    assert out.splitlines()[0] == m.title
    assert "kullback_leibler (asked as 'kl')" in text
    assert "37 (Cha 2007)" in text
    assert m.latex in text
    for name, claim in m.properties.items():
        assert flat(f"{name} {claim.holds}: {claim.evidence}") in text
    assert "counterexample P = (0.5, 0.5), Q = (0.9, 0.1)" in text
    assert "counterexample P = (0.1, 0.9), Q = (0.5, 0.5), R = (0.9, 0.1)" in text
    assert flat(m.zeros) in text and "(zero='epsilon' differs)" in text
    assert "base = e (base > 0, base != 1)" in text
    for alias in m.alias_names:
        assert alias in text
    # relations of other measures that mention KL are listed too
    assert "jeffreys(P, Q) = kullback_leibler(P, Q) + kullback_leibler(Q, P)" in text
    assert flat(m.notes) in text


def test_show_minkowski_condition_and_parameter(capsys):
    rc, out, _ = run(capsys, "show", "minkowski")
    assert rc == 0
    text = flat(out)
    assert "triangle always (if p >= 1):" in text
    assert "counterexample P = (0, 0), Q = (1, 0), R = (1, 1) at p = 0.5" in text
    assert "p = 2 (p > 0): order of the norm" in text


def test_show_namespaced_alias_states_its_options(capsys):
    rc, out, _ = run(capsys, "show", "philentropy:jaccard")
    assert rc == 0
    assert "zero='epsilon'" in out
    assert "jaccard (asked as 'philentropy:jaccard')" in flat(out)


@pytest.mark.parametrize("m", dv.measures(), ids=lambda m: m.name)
def test_show_every_measure(capsys, m):
    rc, out, err = run(capsys, "show", m.name)
    assert rc == 0 and err == ""
    assert out.splitlines()[0] == m.title
    number = "extra" if m.survey_number is None else f"{m.survey_number} (Cha 2007)"
    assert number in out
    assert _example_value(out, m.name) == pytest.approx(m(P, Q), rel=1e-15, nan_ok=True)


# -- compute ------------------------------------------------------------------
def _save(path: Path, X: np.ndarray) -> None:
    if path.suffix == ".npy":
        np.save(path, X)
    else:
        np.savetxt(path, X, delimiter="," if path.suffix == ".csv" else "\t", fmt="%.17g")


def _load(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path)
    return np.loadtxt(path, delimiter="," if path.suffix == ".csv" else "\t", ndmin=2)


@pytest.fixture
def pdfs():
    rng = np.random.default_rng(7)
    A = rng.dirichlet(np.ones(5), size=3)
    B = rng.dirichlet(np.ones(5), size=4)
    return A, B


@pytest.mark.parametrize("ext_in", [".npy", ".csv", ".tsv"])
@pytest.mark.parametrize("ext_out", [".npy", ".csv", ".tsv"])
def test_compute_round_trips_and_equals_cdist(capsys, tmp_path, pdfs, ext_in, ext_out):
    A, B = pdfs
    a, b, out = tmp_path / f"a{ext_in}", tmp_path / f"b{ext_in}", tmp_path / f"D{ext_out}"
    _save(a, A)
    _save(b, B)
    rc, stdout, err = run(capsys, "compute", "kl", str(a), str(b), "-o", str(out))
    assert rc == 0 and err == ""
    assert str(out) in stdout
    D = _load(out)
    assert D.shape == (3, 4)
    np.testing.assert_array_equal(D, dv.cdist(A, B, "kl"))


def test_compute_options_before_files(capsys, tmp_path, pdfs):
    A, B = pdfs
    _save(tmp_path / "a.npy", A)
    _save(tmp_path / "b.npy", B)
    out = tmp_path / "D.npy"
    rc, _, err = run(
        capsys,
        "compute",
        "topsoe",
        "--base",
        "2",
        "-o",
        str(out),
        str(tmp_path / "a.npy"),
        str(tmp_path / "b.npy"),
    )
    assert rc == 0, err
    np.testing.assert_array_equal(np.load(out), dv.cdist(A, B, "topsoe", base=2))


@pytest.mark.parametrize(
    ("name", "argv", "options"),
    [
        ("kl", ["--zero", "epsilon"], {"zero": "epsilon"}),
        ("kl", ["--zero", "epsilon", "--epsilon", "1e-3"], {"zero": "epsilon", "epsilon": 1e-3}),
        ("jensen_shannon", ["--base", "2"], {"base": 2.0}),
        ("minkowski", ["-p", "3"], {"p": 3.0}),
        ("minkowski", ["--p", "0.5"], {"p": 0.5}),
        ("cosine", ["--normalize"], {"normalize": True}),
        ("kl", ["--backend", "numpy"], {"backend": "numpy"}),
    ],
)
def test_compute_options_reach_cdist(capsys, tmp_path, name, argv, options):
    A = np.array([[1.0, 0.0, 3.0], [2.0, 2.0, 0.0]])
    B = np.array([[0.0, 1.0, 1.0], [4.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    _save(tmp_path / "a.csv", A)
    _save(tmp_path / "b.csv", B)
    rc, out, err = run(
        capsys, "compute", name, str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), *argv
    )
    assert rc == 0, err
    printed = np.loadtxt(io.StringIO(out), ndmin=2)
    want = dv.cdist(A, B, name, **options)
    np.testing.assert_array_equal(printed, want)
    if options.get("zero") == "epsilon" or name == "minkowski":
        # the option changed the answer (so it was not silently dropped)
        assert not np.array_equal(want, dv.cdist(A, B, name))


def test_compute_prints_exact_matrix_and_b_defaults_to_a(capsys, tmp_path, pdfs):
    A, _ = pdfs
    _save(tmp_path / "a.npy", A)
    rc, out, _ = run(capsys, "compute", "euclidean", str(tmp_path / "a.npy"))
    assert rc == 0
    np.testing.assert_array_equal(np.loadtxt(io.StringIO(out)), dv.cdist(A, A, "euclidean"))


def test_compute_one_dimensional_inputs(capsys, tmp_path):
    np.save(tmp_path / "p.npy", P)
    np.savetxt(tmp_path / "q.csv", Q[None, :], delimiter=",", fmt="%.17g")
    out = tmp_path / "D.tsv"
    rc, _, err = run(
        capsys, "compute", "kl", str(tmp_path / "p.npy"), str(tmp_path / "q.csv"), "-o", str(out)
    )
    assert rc == 0, err
    D = _load(out)
    assert D.shape == (1, 1)
    assert D[0, 0] == pytest.approx(np.sum(P * np.log(P / Q)), rel=1e-12)


def test_compute_writes_inf_and_nan(capsys, tmp_path):
    A = np.array([[1.0, 0.0], [0.0, 0.0]])
    B = np.array([[0.0, 1.0]])
    _save(tmp_path / "a.csv", A)
    _save(tmp_path / "b.csv", B)
    rc, _, err = run(
        capsys,
        "compute",
        "sorensen",
        str(tmp_path / "a.csv"),
        str(tmp_path / "a.csv"),
        "-o",
        str(tmp_path / "D.csv"),
    )
    assert rc == 0, err
    D = _load(tmp_path / "D.csv")
    assert D[0, 0] == 0 and np.isnan(D[1, 1])
    rc, _, err = run(
        capsys,
        "compute",
        "kl",
        str(tmp_path / "a.csv"),
        str(tmp_path / "b.csv"),
        "-o",
        str(tmp_path / "K.tsv"),
    )
    assert rc == 0, err
    assert _load(tmp_path / "K.tsv")[0, 0] == np.inf


def _example_matrix(out: str) -> np.ndarray:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("divergences.cdist("))
    rows = [line.split() for line in lines[start + 2 : start + 7]]
    assert rows[0] == list(EXAMPLE_LABELS)
    assert [r[0] for r in rows[1:]] == list(EXAMPLE_LABELS)
    return np.array([[float(v) for v in r[1:]] for r in rows[1:]])


@pytest.mark.parametrize("name", ["jensen_shannon", "kl", "cosine", "minkowski"])
def test_compute_example(capsys, name):
    rc, out, err = run(capsys, "compute", name, "--example")
    assert rc == 0 and err == ""
    X = np.array(EXAMPLE_COUNTS, dtype=float)
    want = dv.cdist(X / X.sum(axis=1, keepdims=True), X / X.sum(axis=1, keepdims=True), name)
    np.testing.assert_allclose(_example_matrix(out), want, rtol=1e-5)
    assert f"divergences.cdist(X, X, {name!r}, normalize=True)" in out
    for row in EXAMPLE_COUNTS:
        assert " ".join(str(c) for c in row) in flat(out)


def test_compute_example_with_options(capsys):
    rc, out, _ = run(capsys, "compute", "kl", "--example", "--zero", "epsilon")
    assert rc == 0
    X = np.array(EXAMPLE_COUNTS, dtype=float)
    want = dv.cdist(X, X, "kl", normalize=True, zero="epsilon")
    np.testing.assert_allclose(_example_matrix(out), want, rtol=1e-5)
    assert np.isfinite(want).all()
    assert "not symmetric" in out


def test_readme_first_line_runs(capsys):
    """``divergences show kl && divergences compute jensen_shannon --example``."""
    assert main(["show", "kl"]) == 0
    assert main(["compute", "jensen_shannon", "--example"]) == 0
    out = capsys.readouterr().out
    assert "Kullback-Leibler" in out and "jensen_shannon" in out


# -- errors -------------------------------------------------------------------
@pytest.fixture
def files(tmp_path):
    np.savetxt(tmp_path / "a.csv", [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], delimiter=",")
    np.savetxt(tmp_path / "two.csv", [[0.5, 0.5]], delimiter=",")
    np.savetxt(tmp_path / "neg.csv", [[0.5, -0.5, 1.0]], delimiter=",")
    (tmp_path / "text.csv").write_text("a,b,c\n1,2,3\n")
    (tmp_path / "empty.tsv").write_text("")
    (tmp_path / "bad.npy").write_bytes(b"not a numpy file")
    (tmp_path / "a.txt").write_text("1 2 3\n")
    np.save(tmp_path / "obj.npy", np.array([1, "x"], dtype=object))
    return tmp_path


ERRORS = {
    "unknown measure": (["show", "kulback"], "unknown measure 'kulback'; did you mean"),
    "unknown measure compute": (
        ["compute", "nosuch", "{d}/a.csv", "{d}/a.csv"],
        "unknown measure 'nosuch'",
    ),
    "negative input": (["compute", "kl", "{d}/neg.csv", "{d}/a.csv"], "XA row 0, column 1 is -0.5"),
    "shape mismatch": (["compute", "kl", "{d}/a.csv", "{d}/two.csv"], "feature counts differ"),
    "missing file": (["compute", "kl", "{d}/missing.csv", "{d}/a.csv"], "cannot read"),
    "unreadable csv": (["compute", "kl", "{d}/text.csv"], "cannot read"),
    "unreadable npy": (["compute", "kl", "{d}/bad.npy"], "cannot read"),
    "pickled npy": (["compute", "kl", "{d}/obj.npy"], "cannot read"),
    "empty file": (["compute", "kl", "{d}/empty.tsv"], "holds no numbers"),
    "bad input extension": (
        ["compute", "kl", "{d}/a.txt", "{d}/a.csv"],
        "unsupported file type '.txt'",
    ),
    "bad output extension": (
        ["compute", "kl", "{d}/a.csv", "-o", "{d}/D.xlsx"],
        "unsupported file type '.xlsx'",
    ),
    "unwritable output": (
        ["compute", "kl", "{d}/a.csv", "-o", "{d}/no/such/dir/D.npy"],
        "cannot write",
    ),
    "bad parameter": (["compute", "minkowski", "{d}/a.csv", "-p", "0"], "outside its domain"),
    "parameter of another measure": (
        ["compute", "kl", "{d}/a.csv", "-p", "3"],
        "unknown parameter(s) p",
    ),
    "bad base": (["compute", "kl", "{d}/a.csv", "--base", "1"], "base=1.0 is outside its domain"),
    "bad epsilon": (
        ["compute", "kl", "{d}/a.csv", "--zero", "epsilon", "--epsilon", "-1"],
        "epsilon must be",
    ),
    "bad backend": (["compute", "kl", "{d}/a.csv", "--backend", "fortran"], "backend='fortran'"),
    "bad zero mode": (["compute", "kl", "{d}/a.csv", "--zero", "loose"], "invalid choice: 'loose'"),
    "no files": (["compute", "kl"], "needs input files"),
    "example with files": (["compute", "kl", "--example", "{d}/a.csv"], "takes no input files"),
    "too many files": (
        ["compute", "kl", "{d}/a.csv", "{d}/a.csv", "{d}/a.csv"],
        "unrecognized arguments",
    ),
    "not a float": (["compute", "minkowski", "{d}/a.csv", "-p", "two"], "invalid float value"),
    "unknown family": (["list", "--family", "nosuch"], "unknown family 'nosuch'"),
    "bad holds": (["list", "--metric", "sometimes"], "invalid choice: 'sometimes'"),
    "no subcommand": ([], "required"),
    "unknown subcommand": (["frobnicate"], "invalid choice"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_are_one_line_exit_2(capsys, files, case):
    argv, fragment = ERRORS[case]
    rc, out, err = run(capsys, *(a.format(d=files) for a in argv))
    assert rc == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("divergences: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_error_in_a_subprocess_has_no_traceback(tmp_path):
    np.savetxt(tmp_path / "neg.csv", [[0.5, -0.5]], delimiter=",")
    proc = subprocess.run(
        [sys.executable, "-m", "divergences", "compute", "kl", str(tmp_path / "neg.csv")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("divergences: error: kullback_leibler: XA row 0, column 1")


def test_help_and_version_exit_0(capsys):
    assert main(["--help"]) == 0
    assert "compute" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert dv.__version__ in capsys.readouterr().out


def test_importing_the_cli_is_light():
    code = (
        "import sys, divergences.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('numba', 'divergences.families.', "
        "'divergences.catalog'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


# -- catalog ------------------------------------------------------------------
def test_catalog_writes_and_checks(capsys, tmp_path):
    path = tmp_path / "CATALOG.md"
    rc, out, _ = run(capsys, "catalog", "--check", "--output", str(path))
    assert rc == 1  # missing
    rc, out, _ = run(capsys, "catalog", "--output", str(path))
    assert rc == 0 and str(path) in out
    assert path.read_text(encoding="utf-8") == catalog.render()
    rc, out, err = run(capsys, "catalog", "--check", "--output", str(path))
    assert rc == 0 and err == ""
    path.write_text(path.read_text(encoding="utf-8").replace("kullback_leibler", "kl", 1))
    rc, out, err = run(capsys, "catalog", "--check", "--output", str(path))
    assert rc == 1
    assert err.count("\n") == 1 and err.startswith("divergences: error: ") and "stale" in err


def test_catalog_default_path_is_the_current_directory(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["catalog"]) == 0
    assert (tmp_path / "CATALOG.md").read_text(encoding="utf-8") == catalog.render()
    assert main(["catalog", "--check"]) == 0


def test_bench_subcommand_runs_the_short_benchmark_and_checks_agreement(capsys):
    from divergences.cli import main

    assert main(["bench", "--size", "tiny", "--measures", "manhattan,kl", "--no-first-call"]) == 0
    out = capsys.readouterr().out
    assert "manhattan" in out and "kullback_leibler" in out and "scipy" in out
    assert main(["bench", "--measures", "nope", "--size", "tiny"]) != 0


def test_catalog_says_where_it_wrote(tmp_path, monkeypatch, capsys):
    """Issue 13, item 17: without -o the catalog lands in the current folder; the message
    gives its full path."""
    monkeypatch.chdir(tmp_path)
    assert main(["catalog"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "CATALOG.md") in out and (tmp_path / "CATALOG.md").exists()


def test_list_shows_bounds_and_the_conditions_of_claims(capsys):
    """Issue 13, item 17: each row shows the bounds on pdfs and a claim's condition on the
    parameters (Minkowski is a metric only for p >= 1), from the registry."""
    rc, out, _ = run(capsys, "list")
    assert rc == 0
    lines = {line.split()[1]: line for line in out.splitlines()[1:]}
    for m in dv.measures():
        assert f"[{m.bounds.low}, {m.bounds.high}]" in lines[m.name]
        for claim in (m.properties.symmetric, m.properties.metric):
            if claim.condition:
                assert f"{claim.holds} if {claim.condition}" in lines[m.name]
    assert "always if p >= 1" in lines["minkowski"]


def test_a_csv_header_row_gets_a_clear_message(tmp_path, capsys):
    """Issue 13, item 17: a header row is named as such, with what to do."""
    f = tmp_path / "with_header.csv"
    f.write_text("a,b,c\n0.2,0.3,0.5\n0.1,0.1,0.8\n")
    rc, _, err = run(capsys, "compute", "kl", str(f))
    assert rc != 0
    assert "header row" in err and "a,b,c" in err and "tail -n +2" in err
    assert "--skip-header" in err


def test_skip_header_reads_csv_and_tsv_with_a_header_row(tmp_path, capsys):
    """Issue 13, item 17: --skip-header skips the first line of each .csv/.tsv input (a .npy
    file is read as it is), for compute and knn."""
    rng = np.random.default_rng(17)
    A, B = rng.dirichlet(np.ones(3), 4), rng.dirichlet(np.ones(3), 5)
    fa, fb, fq = tmp_path / "a.csv", tmp_path / "b.tsv", tmp_path / "q.npy"
    fa.write_text("p1,p2,p3\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in A) + "\n")
    fb.write_text("q1\tq2\tq3\n" + "\n".join("\t".join(repr(float(v)) for v in r) for r in B) + "\n")
    np.save(fq, A)
    out = tmp_path / "D.npy"
    rc, _, err = run(capsys, "compute", "kl", str(fa), str(fb), "--skip-header", "-o", str(out))
    assert (rc, err) == (0, "")
    np.testing.assert_array_equal(np.load(out), dv.cdist(A, B, "kl"))
    res = tmp_path / "nn.npz"
    rc, _, err = run(
        capsys, "knn", "hellinger", str(fq), str(fb), "-k", "2", "--skip-header", "-o", str(res)
    )
    assert (rc, err) == (0, "")
    want_idx, want_val = dv.knn(A, B, 2, "hellinger")
    with np.load(res) as f:
        np.testing.assert_array_equal(f["indices"], want_idx)
        np.testing.assert_array_equal(f["values"], want_val)
    # without the flag the header is refused; with it, a file without a header loses its
    # first row (the flag says the first line is not data)
    rc, _, err = run(capsys, "compute", "kl", str(fa), str(fb))
    assert rc != 0 and "--skip-header" in err
    plain = tmp_path / "plain.csv"
    np.savetxt(plain, A, delimiter=",")
    rc, _, err = run(capsys, "compute", "kl", str(plain), str(fb), "--skip-header", "-o", str(out))
    assert (rc, err) == (0, "")
    np.testing.assert_array_equal(np.load(out), dv.cdist(A[1:], B, "kl"))
