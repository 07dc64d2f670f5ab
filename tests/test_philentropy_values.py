"""Values documented by philentropy 0.10.0 (tests/data/philentropy_documented_values.json).

Each case names a philentropy ``method`` and is evaluated through the ``philentropy:``
alias (which implies ``zero="epsilon"``), with philentropy's ``unit`` as ``base``, its
``epsilon`` and, for Minkowski, its ``p``.  A few cases come from secondary
implementations of Cha's survey for measures philentropy lacks (the Vicissitude family,
``cosine_distance``): those resolve by their plain name with the default strict rules.

Tolerances: a number printed by R or another program is checked at its printed precision
(1e-6 relative for R's 7-8 significant digits, half a unit of the sixth decimal for the
secondary source that prints 6 decimals); a double-precision value (the file's
``full_precision_recomputed`` and the values computed from philentropy's test expressions)
at 1e-9 relative.

Matrices: philentropy's ``distance()`` computes only f(row_i, row_j) for i <= j and mirrors
it.  For asymmetric measures only those cells are philentropy's values; the cells below the
diagonal of our ``cdist`` must hold the true f(row_j, row_i) instead.

The one documented deviation (docs/DECISIONS.md): Hellinger off the simplex is computed from
sum (sqrt P - sqrt Q)^2, not philentropy's 2 sqrt(1 - fidelity); where a row is not a pdf
the test checks that philentropy's value is the fidelity form and ours the Cha form.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import divergences as dv

try:
    import mp_reference as ref
except ImportError:  # pragma: no cover - pytest run with --import-mode=importlib
    sys.path.insert(0, str(Path(__file__).parent))
    import mp_reference as ref

DATA = json.loads(
    (Path(__file__).parent / "data" / "philentropy_documented_values.json").read_text()
)
INPUTS = {k: np.asarray(v["values"], dtype=float) for k, v in DATA["inputs"].items()}

# All 46 methods of philentropy's distance() (cha2007_measures.md).
PHILENTROPY_METHODS = (
    "euclidean",
    "manhattan",
    "minkowski",
    "chebyshev",
    "sorensen",
    "gower",
    "soergel",
    "kulczynski_d",
    "canberra",
    "lorentzian",
    "intersection",
    "non-intersection",
    "wavehedges",
    "czekanowski",
    "motyka",
    "kulczynski_s",
    "tanimoto",
    "ruzicka",
    "inner_product",
    "harmonic_mean",
    "cosine",
    "hassebrook",
    "jaccard",
    "dice",
    "fidelity",
    "bhattacharyya",
    "hellinger",
    "matusita",
    "squared_chord",
    "squared_euclidean",
    "pearson",
    "neyman",
    "squared_chi",
    "prob_symm",
    "divergence",
    "clark",
    "additive_symm",
    "kullback-leibler",
    "jeffreys",
    "k_divergence",
    "topsoe",
    "jensen-shannon",
    "jensen_difference",
    "taneja",
    "kumar-johnson",
    "avg",
)

# philentropy functions outside distance() (entropies, gJSD): not measures of the catalog
OUTSIDE_CATALOG = {"H", "JE", "CE", "MI", "gJSD"}
N_OUTSIDE_CATALOG = 11

# The R expressions used as inputs besides the keys of `inputs`, written out by hand.
_R = {
    "counts 1:10": np.arange(1, 11, dtype=float),
    "counts 20:29": np.arange(20, 30, dtype=float),
    "1:10": np.arange(1, 11, dtype=float),
    "20:29": np.arange(20, 30, dtype=float),
    "30:39": np.arange(30, 40, dtype=float),
    "(1:271)/sum(1:271)": np.arange(1, 272) / np.arange(1, 272).sum(),
    "c(0,2:271)/sum(c(0,2:271))": np.r_[0, np.arange(2, 272)] / np.arange(2, 272).sum(),
    "(1:271+0.01)/sum(...)": (np.arange(1, 272) + 0.01) / (np.arange(1, 272) + 0.01).sum(),
    "(c(0,2:271)+0.01)/sum(...)": (np.r_[0, np.arange(2, 272)] + 0.01)
    / (np.r_[0, np.arange(2, 272)] + 0.01).sum(),
    "rep(1,6)/6": np.full(6, 1 / 6),
    "c(0.3,0.3,0.4)": np.array([0.3, 0.3, 0.4]),
    "c(0.5,0.5,0)": np.array([0.5, 0.5, 0.0]),
}

PRINTED_KINDS = {
    "literal_philentropy_output",
    "literal_in_issue",
    "literal_in_test",
    "literal_secondary_source_NOT_philentropy",
}
PRINTED_RTOL = 1e-6
SIX_DECIMALS_ATOL = 0.5e-6 * 1.001  # secondary source printing 6 decimals
FULL_RTOL = 1e-9
TRUE_VALUE_RTOL = 1e-12
# A value that is 0 in exact arithmetic comes out as a few ulps of the operands' scale
# (e.g. -ln(sum of five 0.2) = -5.6e-17 for the float 0.2): absolute tolerance there.
ZERO_ATOL = 1e-14


def vector(spec) -> np.ndarray:
    if isinstance(spec, list):
        return np.asarray(spec, dtype=float)
    if spec in INPUTS:
        return INPUTS[spec]
    return _R[spec]


def number(v) -> float:
    """A JSON value; the strings 'Inf', '-Inf', 'NaN' encode non-finite numbers."""
    if isinstance(v, str):
        return {"Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}[v]
    return float(v)


def measure_name(case: dict) -> str:
    """The catalog name of a case: ``philentropy:METHOD`` or a plain name."""
    method = case["method"]
    return "philentropy:" + method if method in PHILENTROPY_METHODS else method


def options(case: dict, name: str) -> dict:
    """cdist options from the case's philentropy arguments."""
    m = dv.get(name)
    params = {p.name for p in m.params}
    args = case.get("args") or {}
    out = {}
    if "base" in params:
        unit = args.get("unit", "log")
        out["base"] = {"log": math.e, "log2": 2.0, "log10": 10.0}[unit]
    if "p" in params:
        out["p"] = float(args["p"])
    if "epsilon" in args and name.startswith("philentropy:"):
        out["epsilon"] = float(args["epsilon"])
    if args.get("est.prob") == "empirical":
        out["normalize"] = True
    return out


def close(got: float, want: float, *, rtol: float, atol: float = 0.0) -> bool:
    """|got - want| <= max(atol, rtol |want|); an expected 0 allows ZERO_ATOL."""
    if want == 0:
        atol = max(atol, ZERO_ATOL)
    if math.isnan(want):
        return math.isnan(got)
    if math.isinf(want):
        return got == want
    return abs(got - want) <= max(atol, rtol * abs(want))


def tolerance(case: dict, value: float) -> tuple[float, float]:
    """(rtol, atol) for an expected value of this case."""
    if case["kind"] not in PRINTED_KINDS:
        return FULL_RTOL, 0.0
    if case["kind"] == "literal_secondary_source_NOT_philentropy":
        return PRINTED_RTOL, SIX_DECIMALS_ATOL
    return PRINTED_RTOL, 0.0


CASES = [c for c in DATA["cases"] if "method" in c]
FUNCTION_CASES = [c for c in DATA["cases"] if "method" not in c]
PAIR_CASES = [c for c in CASES if "P" in c]
MATRIX_CASES = [c for c in CASES if "rows" in c]


def is_pdf(x: np.ndarray) -> bool:
    return bool(np.all(x >= 0) and abs(x.sum() - 1.0) <= 1e-12)


def hellinger_off_simplex(case: dict, P: np.ndarray, Q: np.ndarray) -> bool:
    return case["method"] == "hellinger" and not (is_pdf(P) and is_pdf(Q))


def check_deviation(case: dict, P: np.ndarray, Q: np.ndarray, want: float, got: float) -> None:
    """Hellinger off the simplex: philentropy's fidelity form vs Cha's (docs/DECISIONS.md)."""
    fid = dv.pair(P, Q, "philentropy:fidelity")
    assert want == pytest.approx(2 * math.sqrt(1 - fid), rel=FULL_RTOL), case["id"]
    assert got == pytest.approx(float(ref.evaluate("hellinger", P, Q)), rel=TRUE_VALUE_RTOL)


def test_case_partition():
    assert len(DATA["cases"]) == DATA["meta"]["n_cases"]
    assert len(FUNCTION_CASES) == N_OUTSIDE_CATALOG
    assert {c["function"] for c in FUNCTION_CASES} == OUTSIDE_CATALOG
    assert len(PAIR_CASES) + len(MATRIX_CASES) == len(CASES)
    assert not [c["id"] for c in CASES if "P" in c and "rows" in c]


@pytest.mark.parametrize("method", PHILENTROPY_METHODS)
def test_philentropy_method_resolves(method):
    m = dv.get("philentropy:" + method)
    assert isinstance(m, dv.AliasedMeasure)
    assert m.defaults.get("zero") == "epsilon"
    assert m.measure in dv.measures()
    assert "philentropy:" + method in m.measure.alias_names


def test_philentropy_methods_are_46_distinct_measures():
    assert len(set(PHILENTROPY_METHODS)) == 46
    targets = {dv.get("philentropy:" + m).measure.name for m in PHILENTROPY_METHODS}
    assert len(targets) == 46
    registered = {
        a.name.split(":", 1)[1]
        for m in dv.measures()
        for a in m.aliases
        if a.namespace == "philentropy"
    }
    assert registered == set(PHILENTROPY_METHODS)


@pytest.mark.parametrize("method", PHILENTROPY_METHODS)
def test_philentropy_method_is_documented(method):
    assert any(c["method"] == method for c in CASES), f"no documented case for {method}"


def test_other_methods_resolve_by_plain_name():
    others = {c["method"] for c in CASES} - set(PHILENTROPY_METHODS)
    assert others == {
        "vicis_wave_hedges",
        "vicis_symmetric_chi_square_1",
        "vicis_symmetric_chi_square_2",
        "vicis_symmetric_chi_square_3",
        "max_symmetric_chi_square",
        "min_symmetric_chi_square",
        "cosine_distance",
    }
    for name in others:
        assert dv.get(name).name == name


@pytest.mark.parametrize("case", PAIR_CASES, ids=[c["id"] for c in PAIR_CASES])
def test_pair_case(case):
    name = measure_name(case)
    P, Q = vector(case["P"]), vector(case["Q"])
    opts = options(case, name)
    got = float(dv.cdist(P[None, :], Q[None, :], name, **opts)[0, 0])
    # pair() runs the reference, cdist the compiled kernel: equal up to rounding
    assert close(dv.pair(P, Q, name, **opts), got, rtol=1e-11), "pair and cdist differ"
    want = number(case["expected"])
    if hellinger_off_simplex(case, P, Q):
        check_deviation(case, P, Q, want, got)
        return
    rtol, atol = tolerance(case, want)
    assert close(got, want, rtol=rtol, atol=atol), f"{name} {opts}: got {got!r}, want {want!r}"
    if "full_precision_recomputed" in case:
        full = number(case["full_precision_recomputed"])
        assert close(got, full, rtol=FULL_RTOL), f"{name}: got {got!r}, full {full!r}"
    also = case.get("also_literal_in")
    if also is not None:  # the same value printed by the low-level function's docs
        assert close(got, number(also["value"]), rtol=PRINTED_RTOL), also["file"]
    if "test_expression_value" in case:
        assert close(got, number(case["test_expression_value"]), rtol=FULL_RTOL)


def matrix_cells(case: dict) -> list[tuple[int, int, float, str]]:
    """(i, j, value, source) with i < j: philentropy's f(row_i, row_j) cells (0-based)."""
    out = []
    for key, v in (case.get("expected_upper_printed") or {}).items():
        # "v1v2": row 1 against row 2 (1-based)
        a, b = (int(t) for t in key[1:].split("v"))
        out.append((a - 1, b - 1, number(v), "printed"))
    for key, v in (case.get("expected_lower_triangle") or {}).items():
        # R's M[r, c] below the diagonal mirrors f(row_c, row_r), computed for c < r
        r, c = (int(t) for t in key.strip("[]").split(","))
        assert r > c, key
        out.append((c - 1, r - 1, number(v), "computed"))
    if "expected_matrix" in case:
        M = case["expected_matrix"]
        n = len(M)
        out += [(i, j, number(M[i][j]), "printed") for i in range(n) for j in range(i + 1, n)]
    full = case.get("full_precision_recomputed")
    if full is not None:
        n = len(full)
        out += [(i, j, number(full[i][j]), "full") for i in range(n) for j in range(i + 1, n)]
    return out


def diagonal(case: dict) -> list[tuple[float, str]] | None:
    if "expected_diagonal" in case:
        return [(number(v), "computed") for v in case["expected_diagonal"]]
    full = case.get("full_precision_recomputed")
    if full is not None:
        return [(number(full[i][i]), "full") for i in range(len(full))]
    if "expected_matrix" in case:
        M = case["expected_matrix"]
        return [(number(M[i][i]), "printed") for i in range(len(M))]
    return None


def rtol_of(case: dict, source: str) -> tuple[float, float]:
    if source == "full":
        return FULL_RTOL, 0.0
    if source == "printed":
        return PRINTED_RTOL, 0.0
    return tolerance(case, 0.0)


@pytest.mark.parametrize("case", MATRIX_CASES, ids=[c["id"] for c in MATRIX_CASES])
def test_matrix_case(case):
    name = measure_name(case)
    X = np.vstack([vector(r) for r in case["rows"]])
    opts = options(case, name)
    D = dv.cdist(X, X, name, **opts)
    m = dv.get(name)
    cells = matrix_cells(case)
    assert cells, case["id"]
    for i, j, want, source in cells:
        got = float(D[i, j])
        if hellinger_off_simplex(case, X[i], X[j]):
            check_deviation(case, X[i], X[j], want, got)
            continue
        rtol, atol = rtol_of(case, source)
        assert close(got, want, rtol=rtol, atol=atol), (
            f"{name} f(row {i}, row {j}) ({source}): got {got!r}, want {want!r}"
        )
        mode = opts.get("zero", getattr(m, "defaults", {}).get("zero", "strict"))
        if m.is_symmetric(mode):
            assert close(float(D[j, i]), got, rtol=1e-14), "symmetric measure, asymmetric matrix"
    diag = diagonal(case)
    if diag is not None:
        for i, (want, source) in enumerate(diag):
            rtol, atol = rtol_of(case, source)
            got = float(D[i, i])
            assert close(got, want, rtol=rtol, atol=atol), f"{name} diagonal {i}: {got!r}"
    # the cells philentropy mirrors: ours hold the true f(row_j, row_i)
    for i, j, _, _ in cells:
        true = dv.pair(X[j], X[i], name, **opts)
        assert close(float(D[j, i]), true, rtol=1e-13), (name, j, i)
        if (X > 0).all():
            params = {k: v for k, v in opts.items() if k in ("base", "p")}
            exact = ref.evaluate(m.name, X[j], X[i], **params)
            assert float(D[j, i]) == pytest.approx(float(exact), rel=TRUE_VALUE_RTOL)


ASYMMETRIC_DOCUMENTED = [
    c
    for c in MATRIX_CASES
    if not dv.get(measure_name(c)).symmetric
    and (np.vstack([vector(r) for r in c["rows"]]) > 0).all()
]


@pytest.mark.parametrize(
    "case", ASYMMETRIC_DOCUMENTED, ids=[c["id"] for c in ASYMMETRIC_DOCUMENTED]
)
def test_asymmetric_matrix_is_not_mirrored(case):
    name = measure_name(case)
    X = np.vstack([vector(r) for r in case["rows"]])
    D = dv.cdist(X, X, name, **options(case, name))
    for i, j, want, _ in matrix_cells(case):
        assert not close(float(D[j, i]), want, rtol=1e-6), (
            f"{name}: cell [{j},{i}] holds philentropy's mirrored f(row {i}, row {j})"
        )


def test_asymmetric_cases_exist():
    # the documented KL matrices (P, Q, R strictly positive) exercise the mirroring rule
    assert {c["id"] for c in ASYMMETRIC_DOCUMENTED} >= {
        "docs_distance_matrix_KL_log",
        "docs_distance_matrix_KL_log2",
        "docs_distance_matrix_KL_log10",
    }
