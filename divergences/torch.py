"""PyTorch adapter: every measure of the catalog as a loss, with the analytic gradients.

>>> import torch, divergences as dv
>>> import divergences.torch as dvt
>>> loss_fn = dvt.Loss("hellinger", input="logits")
>>> z = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
>>> p = torch.tensor([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]], dtype=torch.float64)
>>> loss = loss_fn(z, p)
>>> loss.backward()
>>> bool(torch.isfinite(z.grad).all())
True

``loss_fn(input, target)`` evaluates ``measure(P = target, Q = input)`` row by row, as
``torch.nn.KLDivLoss`` does (so ``"kl"`` is the forward KL of distillation,
KL(teacher || student)); ``reverse=True`` evaluates ``measure(P = input, Q = target)``.

Where it runs: CPU tensors are read through NumPy without a copy. A float32 input (bfloat16
and float16 are upcast to float32 first) whose target needs no gradient takes the fused
kernel of the measure (:mod:`divergences.fused`: softmax, value and gradient with respect
to the input in one generated Numba kernel, float64 arithmetic inside, the float32 gradient
written once); float64 input, a target that requires a gradient, and measures with a
max/min accumulator take the general path (:func:`divergences.paired_grad` on float64
probabilities, then the chain rule to the input's space). The gradient comes back in the
input's dtype.

CUDA tensors (input and target on one device) take the general path on that device: they
are handed to CuPy through DLPack (no host copy) and computed on PyTorch's current stream
(:func:`divergences.paired_grad` with the generated CUDA kernels, ``backend="cupy"``: float64
probabilities, one block per row); the values and gradients come back as tensors on the
device. This needs CuPy >= 14 (``pip install 'divergences[gpu]'``); without it a CUDA
tensor raises an error saying so. The gradient kernels are checked on the CPU (their CUDA
source run through a g++ shim against the Numba kernels) and compiled by NVRTC in CI;
neither they nor this path have been run on a GPU yet. Tensors on any other device raise an
error naming the device.

Importing this module imports torch; ``import divergences`` does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .spaces import check_space, rowwise
from .validation import InputError

REDUCTIONS = ("batchmean", "sum", "mean", "none")
_UPCAST = (torch.bfloat16, torch.float16)


def _floating(t: torch.Tensor, arg: str, measure: str) -> torch.Tensor:
    """``t`` detached and contiguous, float32 for bfloat16/float16; other dtypes refused."""
    if not torch.is_floating_point(t):
        raise InputError(
            f"{measure}: {arg} has dtype {t.dtype}; a loss needs floating-point tensors "
            "(integer and boolean tensors are refused: convert explicitly)"
        )
    if t.dtype in _UPCAST:
        t = t.float()  # NumPy has no bfloat16; float16 is computed in float64 anyway
    return t.detach().contiguous()


def _as_numpy(t: torch.Tensor, arg: str, measure: str) -> np.ndarray:
    if t.device.type != "cpu":
        raise InputError(
            f"{measure}: {arg} is on device {str(t.device)!r}; divergences.torch computes on "
            "CPU tensors and, through CuPy, on CUDA tensors: move it with .cpu()"
        )
    return _floating(t, arg, measure).numpy()


def _cupy(measure: str, device: torch.device) -> Any:
    """The CuPy module, or an InputError saying that CUDA tensors need it."""
    try:
        import cupy
    except ImportError:
        raise InputError(
            f"{measure}: the tensors are on device {str(device)!r}; divergences.torch computes "
            "on CUDA tensors through CuPy, which is not installed (pip install "
            "'divergences[gpu]' for CuPy >= 14), or move them with .cpu()"
        ) from None
    return cupy


def _rowwise_cuda(
    measure: str, inp: torch.Tensor, tgt: torch.Tensor, keep: torch.Tensor | None, kw: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`divergences.spaces.rowwise` on the CUDA device of ``inp`` and ``tgt``.

    The tensors go to CuPy through DLPack (no copy) and every kernel runs on PyTorch's
    current stream of that device; the values and both gradients (float64) come back as
    tensors on the device, through DLPack again.
    """
    if tgt.device != inp.device:
        raise InputError(
            f"{measure}: input is on device {str(inp.device)!r} and target on "
            f"{str(tgt.device)!r}; move them to one device"
        )
    cupy = _cupy(measure, inp.device)
    X, Y = _floating(inp, "input", measure), _floating(tgt, "target", measure)
    # a uint8 mask: every DLPack implementation exchanges it (bool support varies)
    rows = None if keep is None else keep.to(device=inp.device, dtype=torch.uint8)
    stream = torch.cuda.current_stream(inp.device)
    with cupy.cuda.Device(inp.device.index), cupy.cuda.ExternalStream(stream.cuda_stream):
        CX, CY = cupy.from_dlpack(X), cupy.from_dlpack(Y)
        crows = None if rows is None else cupy.from_dlpack(rows)
        out = rowwise(measure, CX, CY, keep=crows, xp=cupy, **kw)
        return tuple(torch.from_dlpack(a) for a in out)  # type: ignore[return-value]


def _rows_and_grads(
    inp: torch.Tensor,
    tgt: torch.Tensor,
    keep: torch.Tensor | None,
    spec: Any,
    scale: float,
    target_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row values (float64) and ``scale`` times the gradients with respect to ``inp`` and
    ``tgt`` (an empty tensor for ``tgt`` when ``target_grad`` is False and the fused kernel
    served the call)."""
    measure, kw = spec
    if inp.device.type == "cuda" or tgt.device.type == "cuda":
        v, gi, gt = _rowwise_cuda(measure, inp, tgt, keep, kw)
        if scale != 1.0:
            gi, gt = gi * scale, gt * scale
        return v, gi, gt
    X, Y = _as_numpy(inp, "input", measure), _as_numpy(tgt, "target", measure)
    rows = None if keep is None else keep.cpu().numpy()
    fused = None
    if X.dtype == np.float32 and not target_grad:
        from .fused import rowwise_input

        fused = rowwise_input(measure, X, Y, keep=rows, scale=scale, **kw)
    if fused is not None:
        v, gi_np = fused
        gt_np = np.zeros((0, 0))  # not needed: the target does not require a gradient
    else:
        v, gi_np, gt_np = rowwise(measure, X, Y, keep=rows, **kw)
        if scale != 1.0:
            gi_np *= scale
            gt_np *= scale
    return torch.from_numpy(v), torch.from_numpy(gi_np), torch.from_numpy(gt_np)


class PairedFunction(torch.autograd.Function):
    """Row values of a measure with the analytic gradients (see :func:`paired`).

    With ``weight`` None the output is the (N,) row values; with a float ``weight`` it is
    the 0-d ``weight * sum(values)`` (a reduction), and the gradients are computed already
    multiplied by ``weight`` (the fused kernel does it before rounding to the input's
    dtype). When the upstream gradient is then 1 (``loss.backward()``) the backward pass
    hands the computed gradient over as it is, without a second sweep over (N, V): autograd
    may then accumulate into it in place, so it is not kept; a later backward pass through
    a retained graph computes it again from the saved inputs.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        inp: torch.Tensor,
        tgt: torch.Tensor,
        keep: torch.Tensor | None,
        spec: Any,
        weight: float | None,
    ) -> torch.Tensor:
        ctx.dtypes = (inp.dtype, tgt.dtype)
        ctx.reduced = weight is not None
        ctx.again = (keep, spec, 1.0 if weight is None else float(weight))
        v, gi, gt = _rows_and_grads(inp, tgt, *ctx.again, ctx.needs_input_grad[1])
        ctx.grads = (gi, gt)
        ctx.save_for_backward(inp, tgt)
        if weight is not None:
            v = v.sum() * ctx.again[2]
        return v.to(inp.dtype)

    @staticmethod
    def backward(ctx: Any, gout: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        inp, tgt = ctx.saved_tensors
        if ctx.grads is None:  # handed over by an earlier pass through a retained graph
            ctx.grads = _rows_and_grads(inp, tgt, *ctx.again, ctx.needs_input_grad[1])[1:]
        needs = ctx.needs_input_grad[:2]
        if ctx.reduced and bool(gout == 1):
            # loss.backward(): the computed gradient is the answer; hand it over (no copy)
            grads, ctx.grads = ctx.grads, None
            out = [
                G.to(dtype) if need else None
                for need, G, dtype in zip(needs, grads, ctx.dtypes, strict=True)
            ]
            return (*out, None, None, None)
        out = []
        for need, G, dtype in zip(needs, ctx.grads, ctx.dtypes, strict=True):
            if not need:
                out.append(None)
                continue
            g = gout.to(G.dtype)
            g = g if ctx.reduced else g[:, None]
            gG = g * G
            zero = g == 0
            if bool(zero.any()):
                # an excluded row, or a zero upstream gradient, contributes 0 (never 0 * inf)
                gG = torch.where(zero, 0.0, gG)
            out.append(gG.to(dtype))
        return (*out, None, None, None)


def _flatten(t: torch.Tensor, arg: str, measure: str) -> torch.Tensor:
    if t.ndim not in (1, 2, 3):
        raise InputError(
            f"{measure}: {arg} must be (V,), (B, V) or (B, T, V), got shape {tuple(t.shape)}"
        )
    return t.reshape(-1, t.shape[-1])


def paired(
    input: torch.Tensor,
    target: torch.Tensor,
    measure: str,
    /,
    *,
    input_space: str = "probs",
    target_space: str = "probs",
    temperature: float = 1.0,
    reverse: bool = False,
    mask: torch.Tensor | None = None,
    **options: Any,
) -> torch.Tensor:
    """Row values ``measure(P = target[i], Q = input[i])`` with analytic gradients.

    Parameters
    ----------
    input, target : Tensor, shape (V,), (B, V) or (B, T, V)
        The same shape; floating point, on the CPU or both on one CUDA device (computed
        there through CuPy, see the module's notes).
    measure : str
        A name or alias of the catalog.
    input_space, target_space : {"probs", "log_probs", "logits"}
        What the rows are; logits are divided by ``temperature`` and soft-maxed.
        ``input=`` and ``target=`` (the keywords of :class:`Loss`) are accepted as aliases.
    reverse : bool
        Evaluate ``measure(P = input, Q = target)`` instead.
    mask : bool Tensor of the leading shape, optional
        Rows to compute; the others give 0 with zero gradient and are never read (a
        padding row of -inf logits is fine).
    **options
        Options and parameters of :func:`divergences.paired_grad` (``zero``, ``base``...).

    Returns
    -------
    Tensor of the leading shape (``()`` for 1-D input), in the input's dtype.
    """
    input_space = options.pop("input", input_space)
    target_space = options.pop("target", target_space)
    return _call(
        input,
        target,
        measure,
        input_space=input_space,
        target_space=target_space,
        temperature=temperature,
        reverse=reverse,
        mask=mask,
        weight=None,
        options=options,
    )


def _call(
    input: torch.Tensor,
    target: torch.Tensor,
    measure: str,
    *,
    input_space: str,
    target_space: str,
    temperature: float,
    reverse: bool,
    mask: torch.Tensor | None,
    weight: Any,
    options: dict[str, Any],
) -> torch.Tensor:
    """:func:`paired` (``weight`` None), or ``weight * sum`` of its values (``weight`` a
    float, or a function of the number of rows that count giving it)."""
    if input.shape != target.shape:
        raise InputError(
            f"{measure}: input and target must have the same shape, got input "
            f"{tuple(input.shape)} and target {tuple(target.shape)}"
        )
    kw = dict(
        input_space=check_space(input_space, "input"),
        target_space=check_space(target_space, "target"),
        temperature=float(temperature),
        reverse=bool(reverse),
        options=options,
    )
    if kw["temperature"] != 1.0 and "logits" not in (input_space, target_space):
        raise InputError(f"{measure}: temperature applies to logits only")
    X, Y = _flatten(input, "input", measure), _flatten(target, "target", measure)
    keep = None
    if mask is not None:
        if tuple(mask.shape) != tuple(input.shape[:-1]):
            raise InputError(
                f"{measure}: mask has shape {tuple(mask.shape)}, the rows have "
                f"{tuple(input.shape[:-1])}"
            )
        keep = mask.reshape(-1).to(torch.bool)
    if callable(weight):
        weight = weight(X.shape[0] if keep is None else int(keep.sum()))
    v = PairedFunction.apply(X, Y, keep, (measure, kw), weight)
    return v if weight is not None else v.reshape(input.shape[:-1])


class Loss(torch.nn.Module):
    r"""A loss from any measure of the catalog: ``measure(P = target, Q = input)`` per row.

    Parameters
    ----------
    measure : str
        A name or alias (``"kl"``, ``"jensen_shannon"``, ``"hellinger"``, ...).
    input, target : {"probs", "log_probs", "logits"}, default "probs"
        The space of each argument of ``forward``.
    temperature : float, default 1.0
        Logits are divided by it before the softmax.
    reduction : {"batchmean", "sum", "mean", "none"}, default "batchmean"
        ``batchmean``: the sum over rows divided by ``input.shape[0]`` (torch's
        ``KLDivLoss`` convention). ``sum``: the sum over the rows that count. ``mean``:
        **the mean over ROWS (distributions) that count, not over elements** -- torch's
        ``KLDivLoss(reduction="mean")`` divides by the number of elements (B * V), which is
        the well-known trap; here ``mean`` divides by the number of rows that are not
        ignored (0 with a zero gradient when every row is ignored). ``none``: the values
        of the leading shape, 0 at ignored rows.
    ignore_index : int, optional
        Rows whose ``labels`` (passed to ``forward``) equal it are excluded from every
        reduction (their gradient is 0).
    reverse : bool, default False
        Evaluate ``measure(P = input, Q = target)``.
    **params
        Measure parameters and options (``base``, ``zero``, ...).

    Examples
    --------
    >>> import torch, divergences.torch as dvt
    >>> loss_fn = dvt.Loss("kl", input="logits", target="probs")
    >>> z = torch.zeros(1, 2, dtype=torch.float64)
    >>> float(loss_fn(z, torch.tensor([[0.5, 0.5]], dtype=torch.float64)))
    0.0
    """

    def __init__(
        self,
        measure: str,
        *,
        input: str = "probs",
        target: str = "probs",
        temperature: float = 1.0,
        reduction: str = "batchmean",
        ignore_index: int | None = None,
        reverse: bool = False,
        **params: Any,
    ) -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"{measure}: reduction={reduction!r} is not one of {REDUCTIONS}")
        check_space(input, "input")
        check_space(target, "target")
        self.measure, self.input_space, self.target_space = measure, input, target
        self.temperature, self.reduction = float(temperature), reduction
        self.ignore_index, self.reverse, self.params = ignore_index, bool(reverse), params

    def forward(
        self,
        input: torch.Tensor,
        target: torch.Tensor,
        labels: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The reduced loss of ``input`` (the model) against ``target``.

        ``labels`` (with ``ignore_index``) or a boolean ``mask`` of the leading shape select
        the rows that count.
        """
        keep = None if mask is None else mask.to(torch.bool)
        if labels is not None and self.ignore_index is not None:
            if tuple(labels.shape) != tuple(input.shape[:-1]):
                raise InputError(
                    f"{self.measure}: labels have shape {tuple(labels.shape)}, the rows "
                    f"have {tuple(input.shape[:-1])}"
                )
            lab = labels != self.ignore_index
            keep = lab if keep is None else keep & lab
        weights = {
            "none": None,
            "sum": 1.0,
            "batchmean": 1.0 / (input.shape[0] if input.ndim > 1 else 1),
            "mean": lambda count: 1.0 / max(count, 1),
        }
        return _call(
            input,
            target,
            self.measure,
            input_space=self.input_space,
            target_space=self.target_space,
            temperature=self.temperature,
            reverse=self.reverse,
            mask=keep,
            weight=weights[self.reduction],
            options=dict(self.params),
        )
