"""The fused loss kernels (divergences.fused): branch-free twins of the helpers against the
helpers themselves and mpmath, the fused values and input gradients against the general
two-step path (spaces.rowwise: float64 probabilities, paired_grad, chain rule), the log-space
forms where a probability underflows (logits 1000 apart) against mpmath, and the torch
adapter's float32 path."""

from __future__ import annotations

import collections
import math

import numpy as np
import pytest
from mpmath import mp, mpf

import divergences as dv
from divergences import vecmath
from divergences.fused import SPACES, fusable, loss_rows, resolve
from divergences.kernels import numba_helpers
from divergences.spaces import rowwise
from divergences.symbolic import scaled_derivative
from divergences.vocabulary import HELPERS

SPECIAL = [0.0, 5e-324, 1e-310, 2.2250738585072014e-308, 1e-200, 1e-17, 0.3, 0.5, 1.0, 1.5]
SPECIAL += [2.0, 7.25, 1e17, 1e300, math.inf, math.nan]


def _same(a: float, b: float, rel: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b) or a == 0 or b == 0:
        return a == b or abs(a - b) <= rel * 1e-300
    return abs(a - b) <= rel * abs(b)


@pytest.mark.parametrize("name", sorted(vecmath.TWINS))
def test_every_twin_equals_its_helper_on_special_and_random_values(name):
    """Each twin gives the helper's value (zero rules, inf, NaN) to 4 ulp; kl_elem to 1e-14
    (both lose digits to the cancellation of log1p(r) - r for 0.1 <= |r| <= 1/2)."""
    twin = getattr(vecmath, vecmath.TWINS[name])
    h = HELPERS[name]
    helper = (
        getattr(math, h.numba.removeprefix("math."))
        if h.numba.startswith("math.")
        else getattr(numba_helpers, h.numba)
    )
    rng = np.random.default_rng(0)
    values = SPECIAL + list(rng.uniform(0, 2, 40)) + list(10.0 ** rng.uniform(-300, 300, 40))
    if h.arity == 1:
        cases = [(v,) for v in [*values, -1.0, -math.inf]]
    else:
        cases = [(a, b) for a in values for b in values[::3]]
        near = rng.uniform(0.01, 1, 30)
        cases += [(a, a * (1 + e)) for a, e in zip(near, rng.uniform(-0.6, 0.6, 30))]
    for args in cases:
        with np.errstate(all="ignore"):
            try:
                want = float(helper(*args))
            except (ValueError, OverflowError):  # math.log(-1), math.exp(1000)
                continue
        got = float(twin(*args))
        rel = 1e-14 if name == "kl_elem" else 4 * 2.2e-16
        if name == "powm1":
            # exp(a log1p(r)) - 1: the logarithm's rounding times a (see vecmath's note)
            with np.errstate(all="ignore"):
                rel *= 1 + abs(args[1] * math.log1p(args[0])) if args[0] > -1 else 1
        if name == "log1pmx" and args[0] > -1 and args[0] != 0:
            # log1p(r) - r: log1p's rounding over the difference (cancellation near r = 0.3)
            with np.errstate(all="ignore"):
                rel *= 1 + abs(math.log1p(args[0]) / want) if math.isfinite(want) and want else 1
        assert _same(got, want, rel), (name, args, got, want)


def test_pow_v_equals_pow_within_its_condition():
    """pow_v(a, p) is C's pow on every special value (0, -0, +-1, +-inf, NaN bases and
    exponents, negative bases with odd, even and fractional exponents: the same value and
    sign) and within 4 ulp times (1 + |p log a|) elsewhere (exp(p log a): the logarithm's
    rounding is multiplied by p)."""
    import numba

    @numba.njit
    def c_pow(a, p):
        return a**p

    rng = np.random.default_rng(3)
    bases = [*SPECIAL, -0.0, -1.0, -2.0, -0.5, -math.inf, 3.7, *rng.uniform(0, 2, 20)]
    bases += list(10.0 ** rng.uniform(-300, 300, 20))
    exps = [0.0, -0.0, 1.0, 2.0, 3.0, 4.0, 5.0, -1.0, -3.0, 2.5, -2.5, 0.5, 1e10]
    exps += [math.inf, -math.inf, math.nan, *rng.uniform(-3, 3, 10)]
    for a in bases:
        for p in exps:
            want, got = float(c_pow(a, p)), float(vecmath.pow_v(a, p))
            if math.isnan(want) or want == 0 or math.isinf(want):
                assert (math.isnan(got) and math.isnan(want)) or got == want, (a, p, got, want)
                same_sign = math.isnan(want) or math.copysign(1, got) == math.copysign(1, want)
                assert same_sign, (a, p, got, want)
                continue
            if a in (0.0, 1.0) or math.isinf(a) or math.isinf(p) or p == 0 or math.isnan(a):
                assert got == want, (a, p, got, want)
                continue
            rel = 4 * 2.2e-16 * (1 + abs(p * math.log(abs(a))))
            assert abs(got - want) <= rel * abs(want), (a, p, got, want)


def test_expm1_v_against_mpmath_near_zero():
    """Taylor's polynomial below |t| = 1/2: within 2**-52 relative of 40-digit expm1
    (subnormal and signed-zero arguments kept), exp_v(t) - 1 beyond."""
    mp.dps = 40
    rng = np.random.default_rng(4)
    ts = [*rng.uniform(-0.5, 0.5, 3000), *rng.uniform(-40, 40, 500), 1e-300, 5e-324, -1e-20]
    for t in [*ts, 0.4999999999, -0.4999999999, 0.5, -0.5]:
        want = float(mp.expm1(mpf(float(t))))
        got = vecmath.expm1_v(float(t))
        assert abs(got - want) <= 2.0**-52 * abs(want), (t, got, want)
    for t in (0.0, -0.0):
        assert vecmath.expm1_v(t) == 0 and math.copysign(1, vecmath.expm1_v(t)) == math.copysign(
            1, t
        )


def test_exp_v_against_mpmath_over_the_whole_range():
    """Under 1 ulp from -745 (subnormal results) to 709.7, 0 below and inf above."""
    mp.dps = 40
    rng = np.random.default_rng(1)
    for x in [*rng.uniform(-745, 709.7, 3000), -740.5, -708.5, -1e-300, 0.0, 1e-20, 709.7]:
        want = float(mp.exp(mpf(float(x))))
        got = vecmath.exp_v(float(x))
        ulp = math.ulp(want) if want else 5e-324
        assert abs(got - want) <= ulp, (x, got, want)
    assert vecmath.exp_v(-746.0) == 0.0
    assert vecmath.exp_v(710.0) == math.inf
    assert vecmath.exp_v(-math.inf) == 0.0
    assert math.isnan(vecmath.exp_v(math.nan))


def test_scaled_derivative_cancels_the_pole():
    """q dKL/dq = -p (not q * (-p / q), NaN at q = 0): the KL term's scaled derivative is
    -x at every point, q = 0 included."""
    src = scaled_derivative("kl_elem(x, y) + (x - y)", "y")
    for x, y in [(0.3, 0.0), (0.3, 0.2), (0.0, 0.0), (0.0, 0.5)]:
        assert eval(src, {}, {"x": x, "y": y}) == pytest.approx(-x, abs=1e-16)


def _sample() -> list[dv.Measure]:
    """The first fusable measure of every family of the registry (registry order)."""
    first: dict[str, dv.Measure] = collections.OrderedDict()
    for m in dv.measures():
        if fusable(m, "strict"):
            first.setdefault(m.family, m)
    return list(first.values())


def _rows(seed: int, B: int = 6, V: int = 37):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((B, V)) * 1.5
    t = rng.standard_normal((B, V)) * 2
    return z.astype(np.float32), t.astype(np.float32)


def _as(space: str, z: np.ndarray) -> np.ndarray:
    z64 = z.astype(np.float64)
    lp = z64 - np.log(np.sum(np.exp(z64), axis=1, keepdims=True))
    return {"logits": z64, "log_probs": lp, "probs": np.exp(lp)}[space].astype(np.float32)


def _check(m, inp, tgt, *, input_space, target_space, reverse, temperature=1.0, keep=None):
    resolved = resolve(m.name, {})
    assert resolved is not None
    _, zero, eps, params = resolved
    v, g, bad = loss_rows(
        m,
        inp,
        tgt,
        input_space=input_space,
        target_space=target_space,
        temperature=temperature,
        reverse=reverse,
        zero=zero,
        eps=eps,
        params=params,
        keep=keep,
    )
    assert bad == -1 and g.dtype == inp.dtype
    rv, rg, _ = rowwise(
        m.name,
        inp,
        tgt,
        input_space=input_space,
        target_space=target_space,
        temperature=temperature,
        reverse=reverse,
        options={},
        keep=keep,
    )
    np.testing.assert_allclose(v, rv, rtol=1e-9, atol=1e-12)
    scale = np.max(np.abs(rg), axis=1, keepdims=True) + 1e-300
    np.testing.assert_allclose(g / scale, rg / scale, rtol=0, atol=2e-7)


@pytest.mark.parametrize("m", _sample(), ids=lambda m: m.name)
def test_fused_equals_the_general_path_logits_against_probs(m):
    """Values (float64, 1e-9) and float32 input gradients (float32 rounding of the largest
    coordinate) equal the general path's, for a measure of every family."""
    z, t = _rows(0)
    _check(m, z, _as("probs", t), input_space="logits", target_space="probs", reverse=False)


@pytest.mark.slow
@pytest.mark.parametrize(
    "m", [m for m in dv.measures() if fusable(m, "strict")], ids=lambda m: m.name
)
def test_fused_equals_the_general_path_for_every_measure(m):
    z, t = _rows(1)
    for reverse in (False, True):
        _check(
            m,
            z,
            _as("probs", t),
            input_space="logits",
            target_space="probs",
            reverse=reverse,
            temperature=1.7,
        )


SPACE_CASES = [(s, "probs", r) for s in ("logits", "log_probs", "probs") for r in (False, True)]
SPACE_CASES += [("logits", "logits", False)]


@pytest.mark.parametrize(("input_space", "target_space", "reverse"), SPACE_CASES)
def test_kl_in_every_space(input_space, target_space, reverse):
    """KL (forward and reverse) with the input in every space, and logits on both sides;
    masked rows (keep = 0) are not computed (value 0, gradient 0 on both paths)."""
    z, t = _rows(2)
    keep = np.array([1, 0, 1, 1, 0, 1], dtype=bool)
    _check(
        dv.get("kl"),
        _as(input_space, z),
        _as(target_space, t),
        input_space=input_space,
        target_space=target_space,
        reverse=reverse,
        temperature=1.0,
        keep=keep,
    )


def _mp_kl_logits(z: np.ndarray, p: np.ndarray) -> tuple[float, list[float]]:
    """KL(p || softmax(z)) and its gradient q - p w.r.t. z, from the textbook definition
    in 50 digits (log q = z - logsumexp(z))."""
    mp.dps = 50
    zs = [mpf(float(v)) for v in z]
    lse = mp.log(mp.fsum(mp.exp(v) for v in zs))
    lq = [v - lse for v in zs]
    val = mp.fsum(
        mpf(float(pk)) * (mp.log(mpf(float(pk))) - lqk) for pk, lqk in zip(p, lq) if pk > 0
    )
    return float(val), [float(mp.exp(lqk) - mpf(float(pk))) for pk, lqk in zip(p, lq)]


def test_kl_with_logits_1000_apart_is_finite_and_right():
    """q_k = exp(-1000) underflows in float64 while p_k > 0: KL is finite (about 1000 p_k),
    taken from the exact log-probability z_k - logsumexp(z), and the gradient is q - p
    (-p_k at the underflowed token), never inf or NaN."""
    z = np.array([[0.0, -1000.0, 1.0, -999.0]], dtype=np.float32)
    p = np.array([[0.4, 0.1, 0.3, 0.2]], dtype=np.float32)
    m = dv.get("kl")
    v, g, bad = loss_rows(
        m,
        z,
        p,
        input_space="logits",
        target_space="probs",
        temperature=1.0,
        reverse=False,
        zero="strict",
        eps=1e-5,
        params={"base": math.e},
    )
    want, gwant = _mp_kl_logits(z[0], p[0])
    assert bad == -1 and math.isfinite(v[0])
    assert v[0] == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(g[0], gwant, rtol=1e-6, atol=1e-12)


def test_invalid_probabilities_are_reported_not_computed():
    z, t = _rows(3)
    p = _as("probs", t)
    p[4, 2] = -0.1
    _, _, bad = loss_rows(
        dv.get("kl"),
        z,
        p,
        input_space="logits",
        target_space="probs",
        temperature=1.0,
        reverse=False,
        zero="strict",
        eps=1e-5,
        params={"base": math.e},
    )
    assert bad == 4


def test_max_accumulators_are_not_fused():
    """Chebyshev (a max accumulator) has no fused kernel: the general path serves it."""
    for m in dv.measures():
        reduces = {a.reduce for a in m.rule("strict").accumulators.values()}
        assert fusable(m, "strict") == (reduces == {"sum"})


def test_torch_float32_loss_takes_the_fused_kernel_and_equals_float64(monkeypatch):
    torch = pytest.importorskip("torch")
    import divergences.fused as fused
    import divergences.torch as dvt

    calls = []
    real = fused.rowwise_input

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(fused, "rowwise_input", spy)
    z, t = _rows(4, B=5, V=300)
    for name in ("kl", _sample()[0].name):
        loss_fn = dvt.Loss(name, input="logits", target="probs")
        z32 = torch.from_numpy(z).requires_grad_()
        z64 = torch.from_numpy(z.astype(np.float64)).requires_grad_()
        p = torch.from_numpy(_as("probs", t))
        l32, l64 = loss_fn(z32, p), loss_fn(z64, p.double())
        l32.backward()
        l64.backward()
        assert l32.dtype == torch.float32 and z32.grad.dtype == torch.float32
        assert float(l32.detach()) == pytest.approx(float(l64.detach()), rel=1e-6)
        np.testing.assert_allclose(z32.grad.numpy(), z64.grad.numpy(), rtol=1e-5, atol=1e-9)
    assert calls == [True, True]  # float32 fused, float64 on the general path


def test_jax_float32_takes_the_fused_kernel_and_the_target_gradient_still_flows(monkeypatch):
    """Float32 under jit: values and the input's gradient from the fused kernel equal the
    float64 general path; the target's gradient (a second callback) is still right."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    import divergences.fused as fused
    import divergences.jax as dvj

    calls = []
    real = fused.rowwise_input

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(dvj, "rowwise_input", spy)
    z, t = _rows(5, B=4, V=50)

    def f(a, b):
        return dvj.loss(a, b, "kl", input="logits", target="logits")

    g32 = jax.jit(jax.grad(f, argnums=(0, 1)))(jnp.asarray(z), jnp.asarray(t))
    with jax.enable_x64(True):
        g64 = jax.grad(f, argnums=(0, 1))(
            jnp.asarray(z, dtype=jnp.float64), jnp.asarray(t, dtype=jnp.float64)
        )
        v64 = float(f(jnp.asarray(z, dtype=jnp.float64), jnp.asarray(t, dtype=jnp.float64)))
    assert calls and all(calls)
    assert float(jax.jit(f)(jnp.asarray(z), jnp.asarray(t))) == pytest.approx(v64, rel=1e-6)
    for a, b in zip(g32, g64, strict=True):
        assert a.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-8)


def _log_measures() -> list[dv.Measure]:
    """Fusable measures whose terms take logarithms (kl_elem, kl_mid, xlogy, log) and no
    run-time power (those have the known zero-coordinate defect of test_gradients)."""
    out = []
    for m in dv.measures():
        terms = " ".join(a.term for a in m.strict.accumulators.values())
        logs = any(h in terms for h in ("kl_elem(", "kl_mid(", "xlogy(", "log("))
        powers = "powm1" in terms or "**" in terms
        if fusable(m, "strict") and logs and not powers:
            out.append(m)
    return out


def _mp_softmax(z):
    e = [mp.exp(v if isinstance(v, mpf) else mpf(float(v))) for v in z]
    s = mp.fsum(e)
    return [v / s for v in e]


@pytest.mark.sampled
@pytest.mark.parametrize("m", _log_measures(), ids=lambda m: m.name)
def test_log_measures_with_logits_1000_apart_and_liger_1453(m):
    """Logits 1000 apart (a probability underflows in float64, on one side or on both) and
    Liger-Kernel's #1453 case (both log-probabilities of a token below -104: float32
    probabilities underflow), logits
    on both sides: the value equals the textbook definition in 60 digits on the exact
    softmax (1e-12), and the float32 gradient w.r.t. the input logits equals mpmath's
    central differences of f(softmax(t), softmax(z)) (1e-6 of the largest component)."""
    import mp_reference

    resolved = resolve(m.name, {})
    _, zero, eps, params = resolved
    cases = [
        ([0.0, -1000.0, 1.0, -999.0], [0.5, 0.0, -0.3, 0.2]),
        ([0.0, -110.0, 1.0, -2.0], [0.3, -108.0, -0.5, 0.1]),
        # a token whose probabilities both underflow float64 (the mixture of the JS family
        # is then 0 + 0: its terms are below 1e-430, the zero rule's 0 is right)
        ([0.0, -1000.0, 1.0, -2.0], [0.3, -990.0, -0.5, 0.1]),
    ]
    for zl, tl in cases:
        z = np.array([zl], dtype=np.float32)
        t = np.array([tl], dtype=np.float32)
        v, g, bad = loss_rows(
            m,
            z,
            t,
            input_space="logits",
            target_space="logits",
            temperature=1.0,
            reverse=False,
            zero=zero,
            eps=eps,
            params=params,
        )
        mp.dps = 60
        ref = mp_reference.REFERENCE[m.name]

        def f(zz, _t=t[0], _ref=ref):
            return _ref(_mp_softmax(_t), _mp_softmax(zz), **params)

        want = f([mpf(float(x)) for x in z[0]])
        assert bad == -1 and math.isfinite(v[0])
        assert v[0] == pytest.approx(float(want), rel=1e-12, abs=1e-300)
        h = mpf(10) ** -20
        grad = []
        for k in range(z.shape[1]):
            up = [mpf(float(x)) + (h if j == k else 0) for j, x in enumerate(z[0])]
            dn = [mpf(float(x)) - (h if j == k else 0) for j, x in enumerate(z[0])]
            grad.append(float((f(up) - f(dn)) / (2 * h)))
        grad = np.array(grad)
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g[0], grad, rtol=0, atol=1e-6 * np.abs(grad).max())


@pytest.mark.slow
@pytest.mark.parametrize(
    "m", [m for m in dv.measures() if m.params and fusable(m, "strict")], ids=lambda m: m.name
)
def test_fused_at_every_parameter_test_value(m):
    """Every test value of every parameter (limit forms at alpha = +-1, q = 1, ... are
    branches on the parameter in the fused kernel): values and gradients equal the general
    path's, forward and reverse, temperature 1.7."""
    z, t = _rows(6)
    p = _as("probs", t)
    for params in m.param_grid():
        _, zero, eps, prm = resolve(m.name, dict(params))
        for reverse in (False, True):
            v, g, bad = loss_rows(
                m,
                z,
                p,
                input_space="logits",
                target_space="probs",
                temperature=1.7,
                reverse=reverse,
                zero=zero,
                eps=eps,
                params=prm,
            )
            assert bad == -1
            rv, rg, _ = rowwise(
                m.name,
                z,
                p,
                input_space="logits",
                target_space="probs",
                temperature=1.7,
                reverse=reverse,
                options=dict(params),
            )
            np.testing.assert_allclose(v, rv, rtol=1e-9, atol=1e-12, err_msg=str(params))
            scale = np.max(np.abs(rg), axis=1, keepdims=True) + 1e-300
            np.testing.assert_allclose(g / scale, rg / scale, rtol=0, atol=2e-7)


@pytest.mark.parametrize("space", SPACES)
def test_the_gradient_scale_is_applied_in_the_kernel(space):
    """``scale`` (a reduction's weight) multiplies the gradient in float64 before it is
    rounded: a power of two gives exactly ``scale`` times the unscaled gradient (float64
    input), any other weight the float64 product rounded once (float32 input)."""
    m = dv.get("jensen_shannon")
    _, zero, eps, params = resolve(m.name, {})
    z, t = _rows(31)
    inp, tgt = _as(space, z), _as("probs", t)
    common = dict(
        input_space=space,
        target_space="probs",
        temperature=1.3 if space == "logits" else 1.0,
        reverse=False,
        zero=zero,
        eps=eps,
        params=params,
    )
    inp64 = inp.astype(np.float64)
    v1, g1, _ = loss_rows(m, inp64, tgt, **common)
    v4, g4, _ = loss_rows(m, inp64, tgt, scale=0.25, **common)
    np.testing.assert_array_equal(v4, v1)
    np.testing.assert_array_equal(g4, 0.25 * g1)
    _, g32, _ = loss_rows(m, inp, tgt, scale=1.0 / 3.0, **common)
    _, g64, _ = loss_rows(m, inp, tgt, **common)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, (g64.astype(np.float64) / 3.0).astype(np.float32), rtol=3e-7)


def _edge_rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logits masked with -inf (a probability exactly 0), the probabilities they give, and
    targets with exact zeros: a zero on one side, on the other and on both. (An underflowed
    logit is not a zero for the fused kernel, which takes the exact log-probability, while
    the general path sees a 0: see test_log_measures_with_logits_1000_apart_and_liger_1453.)"""
    z, t = _rows(41, B=4, V=9)
    z64 = z.astype(np.float64)
    z64[:, 1] = -np.inf
    z64[1, 4] = -np.inf
    p = _as("probs", t).astype(np.float64)
    p[:, [1, 2]] = 0.0
    p[3, 6] = 0.0
    p /= p.sum(axis=1, keepdims=True)
    e = np.exp(z64 - z64.max(axis=1, keepdims=True))
    return z64, e / e.sum(axis=1, keepdims=True), p


def _same_rows(a: np.ndarray, b: np.ndarray, what: str) -> None:
    """Equal infinities (with their signs) and NaNs where they are, finite values close
    (1e-9 of the row's largest finite value)."""
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=what)
    np.testing.assert_array_equal(np.isinf(a), np.isinf(b), err_msg=what)
    inf = np.isinf(a)
    np.testing.assert_array_equal(np.sign(a[inf]), np.sign(b[inf]), err_msg=what)
    fin = np.isfinite(a) & np.isfinite(b)
    scale = np.max(np.where(fin, np.abs(b), 0), axis=-1, keepdims=True) + 1e-300
    fa, fb = np.where(fin, a, 0) / scale, np.where(fin, b, 0) / scale
    np.testing.assert_allclose(fa, fb, rtol=0, atol=1e-9, err_msg=what)


def _check_at_zeros(m, spaces: tuple[str, ...]) -> None:
    z, q, p = _edge_rows()
    inputs = {"logits": z, "probs": q}
    for params in list(m.param_grid()) if m.params else [{}]:
        _, zero, eps, prm = resolve(m.name, dict(params))
        for space in spaces:
            for reverse in (False, True):
                common = dict(
                    input_space=space, target_space="probs", temperature=1.0, reverse=reverse
                )
                v, g, bad = loss_rows(
                    m, inputs[space], p, zero=zero, eps=eps, params=prm, **common
                )
                assert bad == -1
                rv, rg, _ = rowwise(m.name, inputs[space], p, options=dict(params), **common)
                what = f"{m.name} {params} {space} reverse={reverse}"
                _same_rows(v, rv, what)
                _same_rows(g, rg, what)


@pytest.mark.slow
@pytest.mark.parametrize(
    "m", [m for m in dv.measures() if fusable(m, "strict")], ids=lambda m: m.name
)
def test_fused_at_zero_probabilities_equals_the_general_path(m):
    """Where a probability is 0 (of the input: a logit masked with -inf; of the target; or
    both) the fused kernel computes the full forms in a pass of its own
    (fused_forms.off_the_edges: the zero rules and the one-sided limits of the gradient leave
    the sweeps): values and gradients equal the general path's, infinities and NaNs included,
    forward and reverse, at every parameter test value. A masked logit takes no part in
    the gradient (q dT/dq = 0 where q is exactly 0, as spaces.mul0 on the general path; before,
    alpha_beta's NaN limit there turned the whole row NaN). (Logits only: the kernels of
    test_fused_equals_the_general_path_for_every_measure, compiled once.)"""
    _check_at_zeros(m, ("logits",))


@pytest.mark.parametrize("m", _sample(), ids=lambda m: m.name)
def test_fused_at_zero_probabilities_with_probabilities_in(m):
    """The same with probabilities as the input (zeros on the input's side given as 0)."""
    _check_at_zeros(m, ("probs",))


def test_off_the_edges_leaves_the_forms_where_no_coordinate_is_zero():
    """Every where(c == 0, a, b) on a coordinate goes (b stays), and so does every
    where(rare(c), a, b); conditions on parameters and on coordinates other than their zero
    stay, and the tested coordinates and the rare conditions are named."""
    from divergences.fused_forms import off_the_edges

    src = "where(alpha == 1, where(-y == 0, 0, x * y), where(x < y / 2, where(0 == x, 1, x), y))"
    plain, edges, rares = off_the_edges(src)
    assert plain == "where(alpha == 1, x * y, where(x < y / 2, x, y))"
    assert edges == frozenset({"x", "y"}) and rares == frozenset()
    assert off_the_edges("where(x - y == 0, 0, x)") == (
        "where(x - y == 0, 0, x)", frozenset(), frozenset()
    )
    src = "where(y == 0, 1, where(rare(abs(log(x / y)) > 700), x ** 2, y * powm1(x / y - 1, 2)))"
    assert off_the_edges(src) == (
        "y * powm1(x / y - 1, 2)", frozenset({"y"}), frozenset({"abs(log(x / y)) > 700"})
    )


def test_equal_powers_written_apart_are_printed_alike():
    """A run-time power of the coordinates' ratio is printed in one canonical form where no
    coordinate is 0 (fused_forms._Branchless._exp_of): the logarithms in the reverse order of
    their names, the exponent a linear form of the parameters, a power through log1p of the
    relative difference (a derivative of powm1) from the log-probabilities, so that the
    loop computes each once (Renyi's terms wrote (x / y) ** (alpha - 1) three ways). The
    printed forms equal the definitions' values (40-digit mpmath) within 1e-13."""
    from divergences.fused_forms import _src

    ren = {"alpha": "par_alpha", "beta": "par_beta"}
    logs = {"x": "lx", "y": "ly"}
    same = [
        "(x / y) ** (alpha - 1)",
        "div0(y, x) ** (1 - alpha)",
        "(y / x) ** (1 - alpha - 1 + 1)",
        "exp((alpha - 1) * log1p(div0(x - y, y)))",
        "exp(log1p((x - y) / y) * (alpha - 1))",
    ]
    printed = {_src(f, ren, logs, positive=True) for f in same}
    assert printed == {"exp_v((-par_alpha + 1.0) * (ly - lx))"}, printed
    assert _src("((1 - alpha) / 2) * log(y ** beta)", ren, logs, positive=True) == (
        "(1.0 - par_alpha) / 2.0 * (par_beta * ly)"
    )
    # not a linear form of the parameters: the order of the logarithms is kept
    assert _src("(y / x) ** (1 / alpha)", ren, logs, positive=True) == (
        "exp_v(1.0 / par_alpha * (ly - lx))"
    )
    # off the positive sweep (a coordinate may be 0) the forms stay as written
    assert "pow_v" in _src("(x / y) ** (alpha - 1)", ren, logs)
    mp.dps = 40
    rng = np.random.default_rng(7)
    env = {n: getattr(vecmath, n) for n in vecmath.__all__}
    xs, ys = rng.uniform(0.01, 1, (2, 50))
    for x, y, a, b in zip(xs, ys, *rng.uniform(-3, 3, (2, 50))):
        names = {"lx": math.log(x), "ly": math.log(y), "par_alpha": a, "par_beta": b}
        want = float((mpf(x) / mpf(y)) ** (mpf(a) - 1))
        for f in printed:
            assert eval(f, env, names) == pytest.approx(want, rel=1e-13)
        got = eval(_src("log(y ** beta)", ren, logs, positive=True), env, names)
        assert got == pytest.approx(float(mpf(b) * mp.log(y)), rel=1e-13, abs=1e-15)


def test_powers_and_coordinates_merge_where_no_coordinate_is_zero():
    """Where no coordinate is 0 (fused_powers): two powers in a product are one; a
    coordinate goes into a power where the power it makes is computed anyway; coordinates
    that cancel are dropped; a coordinate common to a sum's terms goes into a power around
    it; 1 + (x - y) / y is x / y; div0's guard goes; expm1(c log(x / y)) and powm1((x - y) / y,
    c) are one expression; a division by the parameters is a product by their reciprocal.
    Each printed form equals its definition (40-digit mpmath) within 1e-13, also where the
    form as written underflows to 0 (x / y = 1e300)."""
    from divergences.fused_forms import _src, sweep_sources

    ren = {"alpha": "par_alpha", "beta": "par_beta"}
    logs = {"x": "lx", "y": "ly"}
    pw = "exp_v((-par_alpha + 1.0) * (ly - lx))"  # (x / y) ** (alpha - 1)
    cases = {
        # written -> printed (the first statement of each loop makes the power known)
        "(alpha - 1) * (x / y) ** (alpha - 2) * -(x / y)": "-((par_alpha - 1.0) * " + pw + ")",
        "(x / y) ** (alpha - 2) * div0(x, y)": pw,
        "x ** alpha * y ** (1 - alpha)": "exp_v((-par_alpha + 1.0) * ly + par_alpha * lx)",
        "x * (alpha * (1 / x))": "par_alpha",
        "(1 / div0(x, y)) * -(x / y)": "-1.0",
        "1 + div0(x - y, y)": "x / y",
        "-1 - (x - y) / y": "-(x / y)",
        "where(x - y == 0, 0, -((x - y) / y))": "-((x - y) / y)",
        "x / (alpha * beta)": "x * (1.0 / (par_alpha * par_beta))",
    }
    for written, want in cases.items():
        _, got = sweep_sources(["(x / y) ** (alpha - 1)", written], ren, logs, True)
        assert got == want, (written, got)
    taken = "x ** (alpha - 1) * (x * y - alpha * x)"
    _, got = sweep_sources(["x ** alpha", taken], ren, logs, True)
    assert got == "(y - par_alpha) * exp_v(par_alpha * lx)"
    # nothing known: a coordinate stays out of a power (no exponential is added)
    alone = _src("(x / y) ** (alpha - 2) * (x / y)", ren, logs, positive=True, known=set())
    assert alone.count("exp_v") == 1 and "x / y" in alone
    expm1, powm1 = (
        _src(f, ren, logs, positive=True)
        for f in ("expm1(alpha * log(x / y))", "powm1(div0(x - y, y), alpha)")
    )
    assert expm1 == powm1
    assert powm1.startswith("powm1_le(div0_v(x - y, y), par_alpha, lx - ly, exp_v(")
    # off the positive sweep nothing merges
    assert _src("(x / y) ** (alpha - 2) * (x / y)", ren, logs).count("pow_v") == 1
    mp.dps = 40
    env = {n: getattr(vecmath, n) for n in vecmath.__all__} | {"_where": np.where}
    rng = np.random.default_rng(11)
    points = [(1.0, 1e-300, 0.5, 0.5), (0.3, 0.3 * (1 + 1e-9), 0.7, 1.5)]
    points += [tuple(v) for v in np.c_[rng.uniform(0.01, 1, (40, 2)), rng.uniform(-3, 3, (40, 2))]]
    for x, y, a, b in points:
        names = {"x": x, "y": y, "lx": math.log(x), "ly": math.log(y), "par_alpha": a}
        names["par_beta"] = b
        X, Y, A, B = (mpf(v) for v in (x, y, a, b))
        want = {
            0: (A - 1) * (X / Y) ** (A - 2) * -(X / Y),
            1: (X / Y) ** (A - 1),
            2: X**A * Y ** (1 - A),
            3: A,
            4: mpf(-1),
            5: X / Y,
            6: -X / Y,
            7: -(X - Y) / Y,
            8: X / (A * B),
            9: X ** (A - 1) * (X * Y - A * X),
            10: (X / Y) ** A - 1,
        }
        outs = [sweep_sources(["(x / y) ** (alpha - 1)", w], ren, logs, True)[1] for w in cases]
        outs.append(sweep_sources(["x ** alpha", taken], ren, logs, True)[1])
        for k, f in enumerate([*outs, powm1]):
            got = float(eval(f, env, names))
            assert got == pytest.approx(float(want[k]), rel=1e-13, abs=1e-300), (f, x, y)
    # as written, the first form underflows at x / y = 1e300: (1e300) ** -1.5 * 1e300
    assert (1.0 / 1e-300) ** (0.5 - 2) * (1.0 / 1e-300) == 0.0


def test_a_coordinate_exchanged_or_folded_into_every_term_of_a_sum():
    """Where no coordinate is 0 (fused_powers): ``y exp(e)`` is ``x exp(e + log y - log x)``
    where that power is computed anyway and simpler (Cressie-Read's far form: one
    exponential fewer), and a coordinate multiplying a sum goes into the power of each term
    where every power this makes is computed anyway (alpha_beta's textbook gradient: two
    fewer); where one is not, nothing moves. Each printed form equals its definition in
    40-digit mpmath, also where y / x underflows the textbook ratio (1e-300)."""
    from divergences.fused_forms import sweep_sources

    ren = {"alpha": "par_alpha", "beta": "par_beta"}
    logs = {"x": "lx", "y": "ly"}
    exchanged = sweep_sources(["(x / y) ** alpha", "y * (y / x) ** (-alpha - 1)"], ren, logs, True)
    assert exchanged[1] == "x * " + exchanged[0]
    term = "y * (beta * y ** (alpha + beta - 1) - alpha * x ** alpha * y ** (beta - 1))"
    known = "y ** (alpha + beta) + x ** alpha * y ** beta"
    first, folded = sweep_sources([known, term], ren, logs, True)
    a_s, a_b = "exp_v((par_alpha + par_beta) * ly)", "exp_v(par_beta * ly + par_alpha * lx)"
    assert first == f"{a_s} + {a_b}" and folded == f"par_beta * {a_s} - par_alpha * {a_b}"
    # one of the two powers not computed anyway: the coordinate stays out
    _, kept = sweep_sources(["y ** (alpha + beta)", term], ren, logs, True)
    assert kept.startswith("y * (")
    mp.dps = 40
    env = {n: getattr(vecmath, n) for n in vecmath.__all__}
    for x, y, a, b in [(1.0, 1e-300, 0.5, 0.5), (0.3, 0.7, -1.5, 2.0), (0.2, 0.9, 0.5, 1.0)]:
        names = {"x": x, "y": y, "lx": math.log(x), "ly": math.log(y), "par_alpha": a}
        names["par_beta"] = b
        X, Y, A, B = (mpf(v) for v in (x, y, a, b))
        want_ex = Y * (Y / X) ** (-A - 1)
        want_fold = Y * (B * Y ** (A + B - 1) - A * X**A * Y ** (B - 1))
        for f, want in ((exchanged[1], want_ex), (folded, want_fold)):
            got = float(eval(f, env, names))
            assert got == pytest.approx(float(want), rel=1e-13, abs=1e-300), (f, x, y)


def test_the_log_space_twins_of_log1p_expm1_and_powm1():
    """log1p_l, expm1_e and powm1_le (the logarithm and the exponential given, computed
    once for the loop) against 40-digit mpmath: a few ulp on both sides of |r| = 1/2 and
    |t| = 1/2, and near 0 (Kahan's log1p and Taylor's expm1 there)."""
    mp.dps = 40
    rs = np.r_[-0.9, -0.5000001, -0.4999999, -1e-9, 1e-12, 0.3, 0.5, 0.6, 3.0, 1e3]
    for r in rs:
        lg = float(mp.log1p(mpf(r)))
        assert vecmath.log1p_l(r, lg) == pytest.approx(lg, rel=4e-16)
        for a in (-2.5, -0.3, 1e-6, 0.5, 0.7, 2.0):
            want = float(mp.expm1(mpf(a) * mp.log1p(mpf(r))))
            e = math.exp(a * lg)
            assert vecmath.powm1_le(r, a, lg, e) == pytest.approx(want, rel=1e-14)
        assert vecmath.powm1_le(r, 0.0, lg, 1.0) == 0.0
    for t in (-3.0, -0.5, -0.4999, -1e-10, 0.0, 1e-10, 0.4999, 0.5, 2.0):
        want = float(mp.expm1(mpf(t)))
        assert vecmath.expm1_e(t, math.exp(t)) == pytest.approx(want, rel=4e-16)


@pytest.mark.parametrize(("name", "reverse"), [("pearson", True), ("alpha_beta", False)])
def test_a_masked_logit_has_gradient_zero_on_both_paths(name, reverse):
    """A logit masked with -inf has probability exactly 0 whatever the other logits do: its
    gradient is 0, on the fused kernel and on the general path, also in a row whose value is
    infinite. Before, the general path gave 0 * inf = NaN there (Pearson reversed: the
    target's zeros make the row infinite) and the fused kernel turned alpha_beta's rows with
    a masked logit NaN (its scaled derivative's NaN limit at q = 0 went into the row's sum)."""
    z, _, p = _edge_rows()
    m = dv.get(name)
    _, zero, eps, prm = resolve(name, {})
    common = dict(input_space="logits", target_space="probs", temperature=1.0, reverse=reverse)
    v, g, _ = loss_rows(m, z, p, zero=zero, eps=eps, params=prm, **common)
    rv, rg, _ = rowwise(name, z, p, options={}, **common)
    masked = np.isneginf(z)
    assert np.all(g[masked] == 0.0) and np.all(rg[masked] == 0.0)
    if name == "alpha_beta":
        assert np.all(np.isfinite(v)) and np.all(np.isfinite(g))
        np.testing.assert_allclose(g, rg, rtol=1e-9, atol=1e-12)
    else:
        assert np.all(np.isinf(v)) and np.all(np.isinf(rv))


def _logit_row(path, name, params, z, p, reverse):
    """Value and gradient w.r.t. the logits ``z`` of ``name(P = p, Q = softmax(z))`` (swapped
    with ``reverse``) on one path: the fused kernel or the general float64 one
    (``spaces.rowwise``); both finite."""
    _, zero, eps, prm = resolve(name, params)
    common = dict(input_space="logits", target_space="probs", temperature=1.0, reverse=reverse)
    if path == "fused":
        v, g, _ = loss_rows(dv.get(name), z[None], p[None], zero=zero, eps=eps, params=prm, **common)
    else:
        v, g, _ = rowwise(name, z[None], p[None], options=dict(params), **common)
    assert np.isfinite(v).all() and np.isfinite(g).all()
    return v[0], g[0]


def _mp_logit_row(name, params, z, p, reverse, h):
    """The same from the definition (mp_reference) at the current mpmath precision: the
    value, and the gradient by central differences of step ``h`` in each logit."""
    from mp_reference import REFERENCE

    P = [mpf(float(t)) for t in p]

    def value(k: int, d: mpf) -> mpf:
        zs = [mpf(float(t)) for t in z]
        zs[k] += d
        top = max(zs)
        e = [mp.exp(t - top) for t in zs]
        s = mp.fsum(e)
        q = [t / s for t in e]
        return REFERENCE[name](q, P, **params) if reverse else REFERENCE[name](P, q, **params)

    grad = [float((value(k, h) - value(k, -h)) / (2 * h)) for k in range(len(z))]
    return float(value(0, mpf(0))), grad


@pytest.mark.parametrize("path", ["fused", "general"])
@pytest.mark.parametrize(
    ("name", "params", "reverse"),
    [
        ("renyi", {"alpha": 0.5}, False),
        ("tsallis", {}, True),
        ("amari_alpha", {"alpha": -0.5}, True),
        ("amari_alpha", {}, False),
        ("alpha_beta", {}, False),
        ("alpha_beta", {}, True),
        ("cressie_read", {}, True),
    ],
)
def test_gradient_finite_beside_a_nearly_subnormal_probability(name, params, reverse, path):
    """A probability near the bottom of float64 (a logit 730 below the largest: q ~ 1e-317,
    not 0, so the sweep takes it), in a row with probabilities 0 (logits 1000 below): the
    ratio of a normal probability to it overflows float64 (1e315) while the powers of it in
    the value and the gradient do not. Before, the fused kernel gave NaN gradient rows with
    finite values (a power written as a product: ``(x / y) ** (alpha - 2) * (x / y)``, inf
    * tiny; fixed by merging the powers, fused_powers), and the general path (float64,
    ``spaces.rowwise``) NaN values (alpha_beta, amari: ``y * powm1((x - y) / y, c)``, inf *
    0 in the textbook-free form, now the textbook form where x > 2 y or x < y / 2) and NaN
    gradients (an unchosen form's derivative times 0: the derivative of a where on an
    inequality is now the chosen form's). The value and the gradient are finite and equal
    the definition's (mp_reference) in 450-digit mpmath, the gradient by central
    differences."""
    rng = np.random.default_rng(5)
    V = 24
    z = rng.normal(0, 3, V)
    z[[0, 7, 14, 21]] -= 1000.0  # probabilities 0: the pass over the edges
    z[[1, 10, 19]] = z.max() - 730.0  # q ~ 1e-317: x / y overflows, (x / y) ** p does not
    p = np.exp(rng.normal(0, 3, V))
    p /= p.sum()
    v, g = _logit_row(path, name, params, z, p, reverse)
    mp.dps = 450  # a coordinate at 1e-317 moves the value by 1e-160 to 1e-240 of its step
    ref, want = _mp_logit_row(name, params, z, p, reverse, mpf("1e-80"))
    assert v == pytest.approx(ref, rel=1e-13)
    # 1e-12 of the row's largest (a probability at 1e-317 is a subnormal: 7 digits)
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12 * np.max(np.abs(want)))


@pytest.mark.parametrize("path", ["fused", "general"])
@pytest.mark.parametrize("params", [{}, {"alpha": 2.0, "beta": 3.0}, {"alpha": 1.5, "beta": -0.5}])
@pytest.mark.parametrize("reverse", [False, True])
def test_alpha_beta_where_a_power_of_the_ratio_leaves_float64(path, params, reverse):
    """alpha_beta's near-x = y form y^s ((x / y)^alpha - 1 - ...) overflows where a power of
    the ratio does (logits 360 apart: (x / y)^5 = e^1800 at alpha = 2, beta = 3), and the
    fused sweeps compute that form only: the coordinates where its rare condition holds
    (divergences.vocabulary: rare) go to the pass over the edges, which takes the textbook
    form (with the sweep counting the zeros only, the fused kernel's value and gradient at
    alpha = 2, beta = 3 were not finite). The general path evaluates the same where as
    written. Value and gradient against the definition (mp_reference) at 300 digits, the
    gradient by central differences."""
    rng = np.random.default_rng(11)
    V = 12
    z = rng.normal(0, 2, V)
    z[[2, 5]] -= 360.0  # probabilities e^-360 (1e-156) beside normal ones
    p = np.exp(rng.normal(0, 2, V))
    p[[3, 9]] *= 1e-70
    p /= p.sum()
    name = "alpha_beta"
    _, _, _, prm = resolve(name, params)
    a, b = prm["alpha"], prm["beta"]
    lq = z - np.log(np.sum(np.exp(z - z.max()))) - z.max()
    x, y = (np.exp(lq), p) if reverse else (p, np.exp(lq))
    rare = (1 + abs(a) + abs(b)) * np.abs(np.log(x / y)) + np.abs(np.log(y)) > 700
    assert rare.any() and not rare.all()
    v, g = _logit_row(path, name, params, z, p, reverse)
    mp.dps = 300
    ref, want = _mp_logit_row(name, prm, z, p, reverse, mpf("1e-60"))
    assert v == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12 * np.max(np.abs(want)))
