"""divergences.jax: custom_vjp over the generated kernels, under jit, checked with
jax.test_util.check_grads in float64 and against the analytic gradients."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import divergences as dv  # noqa: E402
import divergences.jax as dvj  # noqa: E402
from divergences.spaces import to_probs  # noqa: E402
from divergences.validation import InputError  # noqa: E402

MEASURES = dv.measures()
IDS = [m.name for m in MEASURES]


def data(seed, shape=(3, 5)):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape), rng.normal(size=shape)


@pytest.mark.parametrize("m", MEASURES, ids=IDS)
def test_check_grads_in_float64_under_jit(m):
    z, t = data(1)
    with jax.enable_x64(True):
        f = jax.jit(
            lambda a, b: dvj.loss(a, b, m.name, input="logits", target="logits", temperature=1.3)
        )
        check_grads(f, (jnp.asarray(z), jnp.asarray(t)), order=1, modes=("rev",), eps=1e-6)


def test_values_and_gradients_are_the_analytic_ones():
    z, t = data(2)
    P = to_probs(t, "logits")
    P[:, 0] = 0.0  # zero targets (optax's NaN case)
    P /= P.sum(-1, keepdims=True)
    with jax.enable_x64(True):
        g = jax.grad(lambda a: dvj.paired(a, jnp.asarray(P), "kl", input="logits").sum())(
            jnp.asarray(z)
        )
        v = dvj.paired(jnp.asarray(z), jnp.asarray(P), "kl", input="logits")
    Q = to_probs(z, "logits")
    np.testing.assert_allclose(np.asarray(v), dv.paired(P, Q, "kl"), rtol=1e-13)
    # d KL(p || softmax z) / dz = softmax(z) - p, finite at the zero targets
    np.testing.assert_allclose(np.asarray(g), Q - P, atol=1e-12)


def test_mask_and_mean_per_row():
    z, t = data(3, (2, 3, 4))
    mask = np.array([[True, False, True], [False, False, True]])
    z[~mask] = -np.inf  # padding rows are never read
    with jax.enable_x64(True):

        def f(a):
            return dvj.loss(
                a,
                jnp.asarray(t),
                "hellinger",
                input="logits",
                target="logits",
                reduction="mean",
                mask=mask,
            )

        val, g = jax.value_and_grad(f)(jnp.asarray(z))
    kept = dv.paired(to_probs(t[mask], "logits"), to_probs(z[mask], "logits"), "hellinger")
    assert float(val) == pytest.approx(kept.mean(), rel=1e-13)
    assert np.all(np.asarray(g)[~mask] == 0)


def test_second_derivatives_raise():
    z, t = data(4)
    f = lambda a: dvj.loss(a, jnp.asarray(t, dtype=jnp.float32), "kl", input="logits")  # noqa: E731
    with pytest.raises(Exception):  # noqa: B017 - JAX's error for a callback's JVP
        jax.hessian(f)(jnp.asarray(z, dtype=jnp.float32))


def test_bad_input():
    with pytest.raises(InputError, match=r"input \(2, 3\) and target \(3, 3\)"):
        dvj.paired(jnp.ones((2, 3)), jnp.ones((3, 3)), "kl")
    with pytest.raises(InputError, match="floating point"):
        dvj.paired(jnp.ones((2, 3), dtype=jnp.int32), jnp.ones((2, 3)), "kl")
