"""JAX adapter: every measure of the catalog as a differentiable function, also under ``jit``.

>>> import jax, jax.numpy as jnp
>>> import divergences.jax as dvj
>>> z = jnp.zeros((2, 3))
>>> p = jnp.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
>>> g = jax.grad(lambda z: dvj.paired(z, p, "kl", input="logits").mean())(z)
>>> bool(jnp.isfinite(g).all())
True

``paired(input, target, measure)`` evaluates ``measure(P = target[i], Q = input[i])`` per row
(``reverse=True`` swaps the roles), as :mod:`divergences.torch` does; ``loss`` reduces it.

How it runs: a ``jax.custom_vjp`` function whose forward pass calls the generated Numba
kernels on the host through ``jax.pure_callback`` (values and analytic gradients in one
call, :func:`divergences.paired_grad`), so it works under ``jit`` and ``vmap``-free batching
of rows, on CPU arrays. Float32 input (JAX's default) takes the fused kernel of the measure
(:mod:`divergences.fused`) for the values and the input's gradient; the target's gradient
is then computed by a second callback in the backward pass only, which ``jit`` drops when
nothing uses it. The backward pass multiplies the stored gradients by the incoming
cotangent (0 where the cotangent is 0, never 0 * inf).

Second derivatives are not available: the gradients are computed on the host by a callback
that has no derivative rule of its own, so ``jax.grad(jax.grad(...))``, ``jax.hessian`` and
forward mode (``jax.jvp``, ``jacfwd``) raise JAX's error for differentiating a
``pure_callback``. Use ``backend="numpy"`` of :func:`divergences.paired` on JAX arrays
(the array-API reference, differentiated by JAX itself) where higher derivatives are needed.

Importing this module imports jax; ``import divergences`` does not.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .fused import rowwise_input
from .spaces import check_space, rowwise
from .validation import InputError

REDUCTIONS = ("batchmean", "sum", "mean", "none")


@functools.cache
def _function(measure: str, key: tuple[Any, ...]) -> Any:
    """The custom-VJP row function of ``measure`` with the options frozen in ``key``."""
    kw = dict(key)
    options = dict(kw.pop("options"))

    def host(x: Any, y: Any, keep: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, y = np.asarray(x), np.asarray(y)
        v, gx, gy = rowwise(measure, x, y, keep=np.asarray(keep), options=options, **kw)
        return v.astype(x.dtype), gx.astype(x.dtype), gy.astype(y.dtype)

    def host_input(x: Any, y: Any, keep: Any) -> tuple[np.ndarray, np.ndarray]:
        """Values and the input's gradient: the fused kernel where it serves the call."""
        x, y, keep = np.asarray(x), np.asarray(y), np.asarray(keep)
        r = rowwise_input(measure, x, y, keep=keep, options=options, **kw)
        v, gx = r if r is not None else host(x, y, keep)[:2]
        return v.astype(x.dtype), gx.astype(x.dtype)

    def host_target(x: Any, y: Any, keep: Any) -> np.ndarray:
        return host(x, y, keep)[2]

    def call(x: Any, y: Any, keep: Any) -> Any:
        shapes = (
            jax.ShapeDtypeStruct((x.shape[0],), x.dtype),
            jax.ShapeDtypeStruct(x.shape, x.dtype),
            jax.ShapeDtypeStruct(y.shape, y.dtype),
        )
        return jax.pure_callback(host, shapes, x, y, keep)

    @jax.custom_vjp
    def f(x: Any, y: Any, keep: Any) -> Any:
        return call(x, y, keep)[0]

    def fwd(x: Any, y: Any, keep: Any) -> Any:
        if x.dtype != jnp.float32:
            v, gx, gy = call(x, y, keep)
            return v, (gx, gy, None)
        # float32: the fused kernel gives the values and the input's gradient; the target's
        # gradient is a second callback in the backward pass, which jit removes when the
        # target's cotangent is not used (a teacher's logits)
        shapes = (
            jax.ShapeDtypeStruct((x.shape[0],), x.dtype),
            jax.ShapeDtypeStruct(x.shape, x.dtype),
        )
        v, gx = jax.pure_callback(host_input, shapes, x, y, keep)
        return v, (gx, None, (x, y, keep))

    def bwd(res: Any, g: Any) -> Any:
        gx, gy, args = res
        if gy is None:
            shape = jax.ShapeDtypeStruct(args[1].shape, args[1].dtype)
            gy = jax.pure_callback(host_target, shape, *args)
        g = g[:, None]
        return (
            jnp.where(g == 0, 0.0, g * gx).astype(gx.dtype),
            jnp.where(g == 0, 0.0, g * gy).astype(gy.dtype),
            None,
        )

    f.defvjp(fwd, bwd)
    return f


def paired(
    input: Any,
    target: Any,
    measure: str,
    /,
    *,
    input_space: str = "probs",
    target_space: str = "probs",
    temperature: float = 1.0,
    reverse: bool = False,
    mask: Any = None,
    **options: Any,
) -> Any:
    """Row values ``measure(P = target[i], Q = input[i])``, differentiable in both.

    Parameters
    ----------
    input, target : jax arrays of one shape, (V,), (B, V) or (B, T, V), floating point
    measure : str
        A name or alias of the catalog.
    input_space, target_space : {"probs", "log_probs", "logits"}
        ``input`` and ``target`` (the keywords of :class:`divergences.torch.Loss`) are
        accepted as aliases.
    temperature : float
        Logits are divided by it before the softmax.
    reverse : bool
        Evaluate ``measure(P = input, Q = target)``.
    mask : boolean array of the leading shape, optional
        Rows to compute; the others give 0 with zero gradient and are never read.
    **options
        Options and parameters of :func:`divergences.paired_grad`.

    Returns
    -------
    array of the leading shape
    """
    input_space = options.pop("input", input_space)
    target_space = options.pop("target", target_space)
    input, target = jnp.asarray(input), jnp.asarray(target)
    if input.shape != target.shape:
        raise InputError(
            f"{measure}: input and target must have the same shape, got input "
            f"{tuple(input.shape)} and target {tuple(target.shape)}"
        )
    for arg, a in (("input", input), ("target", target)):
        if not jnp.issubdtype(a.dtype, jnp.floating):
            raise InputError(f"{measure}: {arg} has dtype {a.dtype}; floating point is required")
    key = (
        ("input_space", check_space(input_space, "input")),
        ("target_space", check_space(target_space, "target")),
        ("temperature", float(temperature)),
        ("reverse", bool(reverse)),
        ("options", tuple(sorted(options.items()))),
    )
    lead = input.shape[:-1]
    X = input.reshape(-1, input.shape[-1])
    Y = target.reshape(-1, target.shape[-1])
    keep = jnp.ones(X.shape[0], dtype=bool) if mask is None else jnp.reshape(mask, (-1,))
    return _function(measure, key)(X, Y, keep.astype(bool)).reshape(lead)


def loss(
    input: Any,
    target: Any,
    measure: str,
    /,
    *,
    reduction: str = "batchmean",
    mask: Any = None,
    **kwargs: Any,
) -> Any:
    """The reduced loss: ``batchmean`` (sum / input.shape[0]), ``sum``, ``mean`` (over the
    ROWS that ``mask`` keeps, not over elements; 0 when none is kept) or ``none``.

    Rows outside ``mask`` (a boolean array of the leading shape) count 0 with zero gradient.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"{measure}: reduction={reduction!r} is not one of {REDUCTIONS}")
    v = paired(input, target, measure, mask=mask, **kwargs)
    if reduction == "none":
        return v
    total = jnp.sum(v)
    if reduction == "sum":
        return total
    if reduction == "batchmean":
        return total / (jnp.shape(input)[0] if jnp.ndim(input) > 1 else 1)
    count = v.size if mask is None else jnp.sum(jnp.asarray(mask, dtype=bool))
    return total / jnp.maximum(count, 1)
