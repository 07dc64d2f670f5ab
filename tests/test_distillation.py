"""docs/distillation.md: every objective's call against the objective computed from its
published definition (torch, float64, per token), at interior and endpoint parameters; every
call string of the table appears verbatim in the document."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402, N812

import divergences.torch as dvt  # noqa: E402

DOC = Path(__file__).parent.parent / "docs" / "distillation.md"
TEMP = 1.7


def kl(a, b):
    """KL(a || b) per row from the textbook formula (0 log 0 = 0)."""
    return torch.where(a == 0, 0.0, a * (torch.log(a) - torch.log(b))).sum(-1)


def probs(logits):
    return F.softmax(logits / TEMP, -1)


#: (objective, call as written in the document, reference from the definition), with
#: beta / alpha free; S = student probabilities, T = teacher probabilities
ROWS = [
    ("forward KL", 'dvt.Loss("kl", **kw)(s, t)', lambda S, T, b: kl(T, S)),
    ("reverse KL", 'dvt.Loss("kl", reverse=True, **kw)(s, t)', lambda S, T, b: kl(S, T)),
    (
        "generalized JSD (GKD, TRL since #3043, Liger)",
        'dvt.Loss("generalized_jsd", beta=beta, **kw)(s, t)',
        lambda S, T, b: b * kl(T, b * T + (1 - b) * S) + (1 - b) * kl(S, b * T + (1 - b) * S),
    ),
    (
        "TRL before #3043",
        'beta * dvt.Loss("skew_kl", alpha=1 - beta, **kw)(s, t) + (1 - beta) * '
        'dvt.Loss("skew_kl", alpha=beta, reverse=True, **kw)(s, t)',
        lambda S, T, b: b * kl(T, b * S + (1 - b) * T) + (1 - b) * kl(S, b * S + (1 - b) * T),
    ),
    (
        "skew KL (DistiLLM)",
        'dvt.Loss("skew_kl", alpha=alpha, **kw)(s, t)',
        lambda S, T, a: kl(T, a * T + (1 - a) * S),
    ),
    (
        "skew reverse KL (DistiLLM)",
        'dvt.Loss("skew_kl", alpha=alpha, reverse=True, **kw)(s, t)',
        lambda S, T, a: kl(S, a * S + (1 - a) * T),
    ),
    (
        "alpha-beta (ABKD)",
        'dvt.Loss("alpha_beta", alpha=alpha, beta=beta, **kw)(s, t)',
        lambda S, T, w: -(T**w * S**w - T ** (2 * w) / 2 - S ** (2 * w) / 2).sum(-1) / (w * w),
    ),
    (
        "total variation",
        'dvt.Loss("total_variation", **kw)(s, t)',
        lambda S, T, b: (T - S).abs().sum(-1) / 2,
    ),
]


def _logits(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 9, generator=g, dtype=torch.float64) * 2


@pytest.mark.parametrize(("name", "call", "ref"), ROWS, ids=[r[0] for r in ROWS])
def test_every_row_is_in_the_document(name, call, ref):
    assert call in DOC.read_text(), f"{name}: {call} is not in {DOC.name}"


@pytest.mark.parametrize(("name", "call", "ref"), ROWS, ids=[r[0] for r in ROWS])
@pytest.mark.parametrize("w", [0.1, 0.5, 0.9])
def test_every_row_equals_its_definition(name, call, ref, w):
    s, t = _logits(1), _logits(2)
    kw = dict(input="logits", target="logits", temperature=TEMP, reduction="none")
    # beta and alpha both take w (alpha_beta: alpha = beta = w, alpha + beta = 2w)
    got = eval(call, {"dvt": dvt}, {"kw": kw, "s": s, "t": t, "beta": w, "alpha": w})
    want = ref(probs(s), probs(t), w)
    np.testing.assert_allclose(got.detach().numpy(), want.numpy(), rtol=1e-10, atol=1e-14)


def test_endpoints():
    """generalized_jsd is 0 at beta = 0 and 1 (its limit; TRL since #3043 switches to the
    KL rows there); skew KL at alpha = 0 is the KL (forward; reverse with reverse=True) and
    0 at alpha = 1; alpha_beta is the forward KL at (1, 0) and the reverse at (0, 1); TRL's
    pre-#3043 row is the reverse KL at beta = 0, forward at 1."""
    s, t = _logits(3), _logits(4)
    S, T = probs(s), probs(t)
    kw = dict(input="logits", target="logits", temperature=TEMP, reduction="none")
    for beta in (0.0, 1.0):
        v = dvt.Loss("generalized_jsd", beta=beta, **kw)(s, t)
        assert torch.all(v == 0)
    np.testing.assert_allclose(dvt.Loss("skew_kl", alpha=0.0, **kw)(s, t), kl(T, S), rtol=1e-10)
    np.testing.assert_allclose(
        dvt.Loss("skew_kl", alpha=0.0, reverse=True, **kw)(s, t), kl(S, T), rtol=1e-10
    )
    np.testing.assert_allclose(dvt.Loss("skew_kl", alpha=1.0, **kw)(s, t), 0.0, atol=1e-15)
    np.testing.assert_allclose(
        dvt.Loss("alpha_beta", alpha=1.0, beta=0.0, **kw)(s, t), kl(T, S), rtol=1e-10
    )
    np.testing.assert_allclose(
        dvt.Loss("alpha_beta", alpha=0.0, beta=1.0, **kw)(s, t), kl(S, T), rtol=1e-10
    )
    pre = ROWS[3][1]
    for beta, want in ((0.0, kl(S, T)), (1.0, kl(T, S))):
        got = eval(pre, {"dvt": dvt}, {"kw": kw, "s": s, "t": t, "beta": beta})
        np.testing.assert_allclose(got.detach().numpy(), want.numpy(), rtol=1e-10)
