"""Every public computation takes one dispatch path (divergences.dispatch.run): the same
options reach every operation, the operations agree with each other for every measure, the
same bad input gives the same error from every entry point, and the edge rules (row scaling,
clamping to the bounds) apply to every operation."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import divergences as dv
from divergences import calls, dispatch, edges
from divergences.validation import InputError, UnknownParameterError

MEASURES = dv.measures()
IDS = [m.name for m in MEASURES]
#: the public function of each operation (they share its name)
ENTRIES = {op: getattr(dv, op) for op in dispatch.OPERATIONS}


def test_every_operation_is_public_and_takes_every_option():
    """An option added to calls.OPTIONS must appear on every entry point (keyword-only,
    unset by default, so that the alias's defaults apply) and reach prepare()."""
    assert set(ENTRIES) == {"pair", "cdist", "pdist", "paired", "paired_grad"}
    for op, f in ENTRIES.items():
        sig = inspect.signature(f)
        for name in calls.OPTIONS:
            p = sig.parameters.get(name)
            assert p is not None, (op, name)
            assert p.kind is p.KEYWORD_ONLY and p.default is calls._UNSET, (op, name)
        kinds = [p.kind for p in sig.parameters.values()]
        assert kinds[-1] is inspect.Parameter.VAR_KEYWORD, op  # the measure's parameters
        n_arrays = len(dispatch.OPERATIONS[op].args)
        assert kinds[: n_arrays + 1] == [inspect.Parameter.POSITIONAL_ONLY] * (n_arrays + 1)
        if "method" in sig.parameters:
            assert sig.parameters["method"].default == "auto", op


def _inputs(op, A, B):
    """Arrays for ``op`` built from 2-D ``A`` and ``B`` (a pair takes their first rows)."""
    if op == "pair":
        return A[0], B[0]
    if op == "pdist":
        return (A,)
    return A, B


def _first_arg_text(op: str, row: int, col: int) -> str:
    """How an error names element (row, col) of the operation's first argument."""
    arg = dispatch.OPERATIONS[op].args[0]
    return f"{arg}[{col}]" if op == "pair" else f"{arg} row {row}, column {col}"


def _error(op, *args, **kwargs):
    with pytest.raises(InputError) as e:
        ENTRIES[op](*args, **kwargs)
    return e


@pytest.mark.parametrize("op", list(ENTRIES))
def test_the_same_bad_input_gives_the_same_error_everywhere(op):
    A = np.array([[0.25, 0.75, 0.0], [0.5, 0.25, 0.25]])
    B = np.array([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    row = 0 if op == "pair" else 1
    # a measure defined on non-negative inputs, symmetric (pdist takes it), with parameters
    m = next(
        m
        for m in MEASURES
        if m.domain == "nonnegative" and m.params and m.is_symmetric("strict", m.param_defaults())
    )
    name = m.name
    bad = A.copy()
    bad[row, 2] = -0.5
    e = _error(op, *_inputs(op, bad, B), m)
    where = _first_arg_text(op, row, 2)
    assert str(e.value) == (
        f"{name}: {where} is -0.5, but this measure is defined for non-negative inputs only"
    )
    bad[row, 2] = np.nan
    e = _error(op, *_inputs(op, bad, B), m)
    assert str(e.value).startswith(f"{name}: {where} is nan; inputs must be finite")
    e = _error(op, *_inputs(op, A, B), m, zero="bogus")
    assert str(e.value) == f"{name}: zero='bogus' is not one of ('strict', 'epsilon')"
    e = _error(op, *_inputs(op, A, B), m, epsilon=-1.0)
    assert str(e.value) == f"{name}: epsilon must be finite and > 0, got -1.0"
    e = _error(op, *_inputs(op, A, B), m, backend="bogus")
    assert str(e.value).startswith(f"{name}: backend='bogus' is not available")
    with pytest.raises(UnknownParameterError, match=rf"^{name}: unknown parameter\(s\) nosuch "):
        ENTRIES[op](*_inputs(op, A, B), m, nosuch=3)
    zero_row = A.copy()
    zero_row[row] = 0.0
    e = _error(op, *_inputs(op, zero_row, B), m, normalize=True)
    arg = dispatch.OPERATIONS[op].args[0]
    assert str(e.value) == (
        f"{name}: {arg} row {row} sums to 0 and cannot be normalized (normalize=True)"
    )
    # an option given reaches the kernel: check_finite=False lets the NaN through
    nan = A.copy()
    nan[row, 2] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        v = ENTRIES[op](*_inputs(op, nan, B), m, check_finite=False)
    v = v[0] if op == "paired_grad" else v
    assert np.isnan(np.asarray(v)).any()


def _rows(d: int, seed: int):
    rng = np.random.default_rng(seed)
    A = rng.dirichlet(np.ones(d), 4)
    B = rng.dirichlet(np.ones(d), 4)
    B[2] = A[2]  # an equal pair: values at the measure's bound, where clamping acts
    return A, B


@pytest.mark.sampled
@pytest.mark.parametrize("m", MEASURES, ids=IDS)
@pytest.mark.parametrize("zero", ["strict", "epsilon"])
def test_the_operations_agree(m, zero):
    """paired == diag(cdist), pdist == condensed cdist(X, X), pair == one entry of cdist,
    paired_grad's values == paired, for every measure at its default parameters."""
    A, B = _rows(5, 7)
    tol = dict(rtol=1e-9, atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        D = dv.cdist(A, B, m, zero=zero)
        np.testing.assert_allclose(dv.paired(A, B, m, zero=zero), np.diag(D), **tol)
        assert dv.pair(A[1], B[3], m, zero=zero) == pytest.approx(D[1, 3], rel=1e-9, abs=1e-12)
        v, _, _ = dv.paired_grad(A, B, m, zero=zero)
        np.testing.assert_allclose(v, np.diag(D), **tol)
        if m.is_symmetric(zero, m.param_defaults()):
            full = dv.cdist(A, A, m, zero=zero)
            i, j = np.triu_indices(len(A), k=1)
            np.testing.assert_allclose(dv.pdist(A, m, zero=zero), full[i, j], **tol)


@pytest.mark.sampled
@pytest.mark.parametrize("m", MEASURES, ids=IDS)
def test_paired_values_are_clamped_to_the_bounds(m):
    """Equal probability rows land on the bound, never a few ulps outside it (clamping was
    applied to cdist and pdist but not to the row-wise values)."""
    A, _ = _rows(7, 3)
    params = m.param_defaults()
    lo, hi = m.bounds.evaluate(A.shape[1], params)
    for backend in ("numba", "numpy"):
        v = dv.paired(A, A, m, backend=backend)
        w = dv.paired_grad(A, A, m, backend=backend)[0]
        for x in (v, w):
            ok = np.isnan(x) | ((x >= lo) & (x <= hi))
            assert ok.all(), (m.name, backend, x[~ok])


SCALED = [m for m in MEASURES if edges.scaling(m) is not None]


@pytest.mark.parametrize("m", SCALED, ids=[m.name for m in SCALED])
def test_paired_rows_are_rescaled_like_cdist(m):
    """Rows whose squares under- or overflow (1e-170, 1e300) give the value of the rows
    themselves in paired and paired_grad too (they gave NaN or inf); the gradients follow
    the chain rule of the exact power-of-two scaling: f(cA) = f(A) => grad(cA) = grad(A) / c."""
    A, B = _rows(6, 5)
    k = 2.0**600
    for backend in ("numba", "numpy"):
        ref = dv.paired(A, B, m, backend=backend)
        v0, gA0, gB0 = dv.paired_grad(A, B, m, backend=backend)
        for c in (1.0 / k, k):
            for sa, sb in ((c, c), (c, 1.0), (1.0, c)):
                if edges.scaling(m) == "common" and sa != sb:
                    continue
                got = dv.paired(A * sa, B * sb, m, backend=backend)
                np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0, err_msg=m.name)
                np.testing.assert_allclose(
                    got, np.diag(dv.cdist(A * sa, B * sb, m, backend=backend)), rtol=1e-12
                )
                v, gA, gB = dv.paired_grad(A * sa, B * sb, m, backend=backend)
                np.testing.assert_allclose(v, v0, rtol=1e-12)
                np.testing.assert_allclose(gA * sa, gA0, rtol=1e-9, atol=1e-300)
                np.testing.assert_allclose(gB * sb, gB0, rtol=1e-9, atol=1e-300)


def test_paired_grad_with_normalize_does_not_warn_about_counts():
    counts = np.array([[3, 1, 1], [1, 2, 5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", calls.CountsWarning)
        v, gA, gB = dv.paired_grad(counts, counts[::-1], "kl", normalize=True)
    P = counts / counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(v, dv.paired(P, P[::-1], "kl"), rtol=1e-12)
    # the chain rule through X / sum(X): a gradient orthogonal to the rows' scaling
    np.testing.assert_allclose((gA * counts).sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose((gB * counts[::-1]).sum(axis=1), 0.0, atol=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda X: dv.cdist(X, X, "kl", backend="numpy"),
        lambda X: dv.pair(X[0], X[1], "kl"),
        lambda X: dv.paired(X, X, "kl", backend="numpy"),
        lambda X: dv.knn(X, X, 1, "kl"),
        lambda X: dv.Index(X, "kl"),
    ],
    ids=["cdist", "pair", "paired", "knn", "Index"],
)
def test_counts_warning_points_at_the_callers_line(call):
    counts = np.array([[3, 1, 0], [1, 2, 5]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call(counts)
    hits = [w for w in caught if issubclass(w.category, calls.CountsWarning)]
    assert hits and all(w.filename == __file__ for w in hits), [w.filename for w in hits]



def test_paired_rows_outside_the_domain_follow_cdist():
    """An alias that widens the domain (scipy:jensenshannon takes negative entries) gives
    the same value row by row as on cdist's diagonal (inf where a row stays negative)."""
    A = np.array([[0.5, 0.5], [-0.2, 1.2], [0.3, 0.7]])
    B = np.array([[0.4, 0.6], [0.5, 0.5], [0.1, 0.9]])
    for backend in ("numba", "numpy"):
        v = dv.paired(A, B, "scipy:jensenshannon", backend=backend)
        D = dv.cdist(A, B, "scipy:jensenshannon", backend=backend)
        assert v.shape == (3,)
        np.testing.assert_allclose(v, np.diag(D), rtol=1e-12)
