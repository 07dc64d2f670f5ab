"""The reference runs on any array-API namespace: array-api-strict (the standard, nothing more)
and torch (autograd kept) give NumPy's values; mixing array kinds is an error."""

from __future__ import annotations

import numpy as np
import pytest

import divergences as dv

xps = pytest.importorskip("array_api_strict")

MEASURES = dv.measures()
RNG = np.random.default_rng(0)
A = RNG.dirichlet(np.ones(5), size=4) * (RNG.random((4, 5)) < 0.8)
A[:, 0] += 0.1
B = RNG.dirichlet(np.ones(5), size=3)


@pytest.mark.parametrize("m", MEASURES, ids=[m.name for m in MEASURES])
@pytest.mark.parametrize("zero", ["strict", "epsilon"])
def test_array_api_strict_equals_numpy(m, zero):
    expected = dv.cdist(A, B, m, zero=zero, backend="numpy")
    got = dv.cdist(xps.asarray(A), xps.asarray(B), m, zero=zero)
    assert type(got).__module__.startswith("array_api_strict")
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-15, atol=0)


def test_array_api_strict_pdist_pair_and_errors():
    X = xps.asarray(A)
    np.testing.assert_allclose(np.asarray(dv.pdist(X, "hellinger")), dv.pdist(A, "hellinger"))
    assert float(dv.get("kl")(xps.asarray(A[0]), xps.asarray(B[0]))) == pytest.approx(
        dv.get("kl")(A[0], B[0]), rel=1e-15
    )
    bad = A.copy()
    bad[2, 3] = -0.5
    with pytest.raises(dv.InputError, match=r"kullback_leibler: XA row 2, column 3 is -0.5"):
        dv.cdist(xps.asarray(bad), xps.asarray(B), "kl")


def test_mixing_array_kinds_is_an_error():
    with pytest.raises(dv.InputError, match="different libraries"):
        dv.cdist(xps.asarray(A), B, "euclidean")


def test_torch_autograd_gives_the_analytic_gradient():
    torch = pytest.importorskip("torch")
    P = torch.tensor(A[:2], dtype=torch.float64, requires_grad=True)
    Q = torch.tensor(B, dtype=torch.float64)
    D = dv.cdist(P, Q, "kullback_leibler")
    assert isinstance(D, torch.Tensor)
    np.testing.assert_allclose(D.detach().numpy(), dv.cdist(A[:2], B, "kl"), rtol=1e-14)
    D.sum().backward()
    # d/dP_i sum_j KL(P || Q_j) = sum_j (ln(P_i / Q_ji) + 1) where P_i > 0
    with np.errstate(divide="ignore"):
        expected = sum(np.log(A[:2] / B[j]) + 1 for j in range(len(B)))
    mask = A[:2] > 0
    np.testing.assert_allclose(P.grad.numpy()[mask], expected[mask], rtol=1e-12)
