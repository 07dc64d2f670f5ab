"""CUDA C source of the pairwise kernels, generated from the measure definitions.

The expression language (:mod:`divergences.expr`) translates to CUDA C expressions over
doubles: ``where`` becomes ``?:`` (only the chosen branch is evaluated), ``min``/``max`` the
NaN-propagating helpers, every numeric literal a double literal (so that ``1 / 2`` never
becomes integer division), and the zero-rule vocabulary the ``dv_*`` functions of
``cuda/helpers.cuh`` and of the vocabulary table (:data:`divergences.vocabulary.HELPERS`,
whose entries carry their CUDA C definitions).

A module's source is: the helpers, one measure's accumulator struct with its
``dv_init``/``dv_update``/``dv_finalize`` functions, then the generic kernels of
``cuda/pairwise.cu`` (``dv_cdist_f64``, ``dv_cdist_f32``, ``dv_mirror``, ``dv_condense``,
``dv_topk_merge``), of ``cuda/paired.cu`` (``dv_paired_f64``, ``dv_paired_f32``) and of
``cuda/paired_grad.cu`` (``dv_paired_grad_f64``, ``dv_paired_grad_f32``: values and analytic
gradients, from the derivatives of :mod:`divergences.symbolic`, see :func:`grad_source`).
The same text is compiled by NVRTC (``cupy.RawModule`` on a GPU,
``divergences gpu-check`` without one) and, in the test suite, by g++ behind a CPU shim.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Mapping
from importlib import resources

from ..expr import parse
from ..spec import MAX_KERNEL_PARAMS, Measure
from ..vocabulary import (
    HELPERS,
    LOG1PMX_SERIES_BELOW,
    cuda_preamble,
)

#: NVRTC options, the same for cupy.RawModule and ``divergences gpu-check``
NVRTC_OPTIONS: tuple[str, ...] = ("-default-device",)
#: entry points of every module
KERNELS = (
    "dv_cdist_f64",
    "dv_cdist_f32",
    "dv_mirror",
    "dv_condense",
    "dv_topk_merge",
    "dv_paired_f64",
    "dv_paired_f32",
    "dv_paired_grad_f64",
    "dv_paired_grad_f32",
)
#: measure parameters a kernel takes (par0, par1); unused ones are passed as 0.0. A definition
#: with more is refused when it is defined (spec.MAX_KERNEL_PARAMS), not here
MAX_PARAMS = MAX_KERNEL_PARAMS
#: threads of a pairwise block (x, y) and the result tile one block computes (rows, columns)
BLOCK = (16, 16)
TILE = (32, 32)

#: the CUDA C name of every function but where (from the vocabulary table)
_FUNCS = {n: h.cuda for n, h in HELPERS.items() if h.cuda}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_INIT = {"sum": "0.0", "max": "-dv_inf()", "min": "dv_inf()"}
_COMBINE = {
    "sum": "s.{acc} += o.{acc};",
    "max": "s.{acc} = dv_maximum(s.{acc}, o.{acc});",
    "min": "s.{acc} = dv_minimum(s.{acc}, o.{acc});",
}
_UPDATE = {
    "sum": "s.{acc} += {term};",
    "max": "s.{acc} = dv_maximum(s.{acc}, {term});",
    "min": "s.{acc} = dv_minimum(s.{acc}, {term});",
}


def _literal(value: float) -> str:
    text = repr(float(value))
    if text in ("inf", "-inf", "nan"):
        return {"inf": "dv_inf()", "-inf": "(-dv_inf())", "nan": "dv_nan()"}[text]
    return text if any(ch in text for ch in ".e") else text + ".0"


def _c(node: ast.AST, names: Mapping[str, str]) -> str:
    if isinstance(node, ast.Expression):
        return _c(node.body, names)
    if isinstance(node, ast.Constant):
        return _literal(node.value)
    if isinstance(node, ast.Name):
        if node.id == "inf":
            return "dv_inf()"
        if node.id == "nan":
            return "dv_nan()"
        return names[node.id]
    if isinstance(node, ast.UnaryOp):
        inner = _c(node.operand, names)
        return f"(-{inner})" if isinstance(node.op, ast.USub) else f"(+{inner})"
    if isinstance(node, ast.BinOp):
        left = _c(node.left, names)
        if isinstance(node.op, ast.Pow):
            if isinstance(node.right, ast.Constant):
                if float(node.right.value) == 2.0:
                    return f"dv_sq({left})"
                return f"pow({left}, {_literal(node.right.value)})"
            return f"dv_ipow({left}, {_c(node.right, names)})"
        return f"({left} {_BINOPS[type(node.op)]} {_c(node.right, names)})"
    if isinstance(node, ast.Compare):
        parts, left = [], _c(node.left, names)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _c(comp, names)
            parts.append(f"({left} {_CMPOPS[type(op)]} {right})")
            left = right
        return "(" + " && ".join(parts) + ")"
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [_c(a, names) for a in node.args]
        if node.func.id == "where":
            return f"({args[0]} ? {args[1]} : {args[2]})"
        return f"{_FUNCS[node.func.id]}({', '.join(args)})"
    raise ValueError(f"no CUDA translation for {ast.dump(node)}")


def c_expression(src: str, names: Mapping[str, str]) -> str:
    """CUDA C text of expression ``src``, its variables renamed by ``names``.

    Examples
    --------
    >>> c_expression("where(x > 0, x**2 / 2, abs(y))", {"x": "x", "y": "y"})
    '(((x > 0.0)) ? (dv_sq(x) / 2.0) : fabs(y))'
    """
    return _c(parse(src), names)


@functools.cache
def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("cuda", name).read_text()


def measure_source(measure: Measure, zero: str) -> str:
    """The accumulator struct and init/update/finalize functions of one measure."""
    rule = measure.rule(zero)
    pnames = [p.name for p in measure.params]
    if len(pnames) > MAX_PARAMS:
        raise ValueError(f"{measure.name}: the CUDA kernels take at most {MAX_PARAMS} parameters")
    names = {"x": "x", "y": "y", "eps": "eps", "d": "d"}
    names |= {p: f"par{i}" for i, p in enumerate(pnames)}
    fields = {a: f"a_{a}" for a in rule.accumulators}
    lines = [
        f"// {measure.name} (zero={zero!r}), generated from its definition. Do not edit.",
        "struct dv_acc { " + " ".join(f"double {f};" for f in fields.values()) + " };",
        "__device__ __forceinline__ void dv_init(dv_acc& s) {",
        *(f"    s.{fields[a]} = {_INIT[acc.reduce]};" for a, acc in rule.accumulators.items()),
        "}",
        "__device__ __forceinline__ void dv_update(dv_acc& s, double x, double y, double eps,",
        "                                          double par0, double par1) {",
        *(
            "    " + _UPDATE[acc.reduce].format(acc=fields[a], term=c_expression(acc.term, names))
            for a, acc in rule.accumulators.items()
        ),
        "}",
        "__device__ __forceinline__ void dv_combine(dv_acc& s, const dv_acc& o) {",
        *(
            "    " + _COMBINE[acc.reduce].format(acc=fields[a])
            for a, acc in rule.accumulators.items()
        ),
        "}",
        "__device__ __forceinline__ double dv_finalize(const dv_acc& s, double d, double eps,",
        "                                              double par0, double par1) {",
        "    return "
        + c_expression(rule.finalize, names | {a: f"s.{f}" for a, f in fields.items()})
        + ";",
        "}",
    ]
    return "\n".join(lines) + "\n"


def grad_source(measure: Measure, zero: str) -> str:
    """The pieces of the gradient kernels (``cuda/paired_grad.cu``) of one measure.

    ``dv_gacc`` holds the accumulators of the first pass; a max/min accumulator also holds
    the first coordinate where its extreme is reached (``i_``, ties to the lowest index,
    ``DV_NO_INDEX`` until a term beats the initial +-inf) and a NaN term if one was met
    (``n_``), as ``divergences.kernels.paired_grad_numba`` records them. ``dv_gupdate`` adds
    coordinate ``k``, ``dv_gcombine`` merges two threads' partial results (the extreme, ties
    to the lower index), ``dv_gresolve`` applies the NaN (a NaN term makes the accumulator
    NaN) and the index 0 of an extreme never beaten, ``dv_gfinalize`` returns the value and
    writes ``g_acc = d finalize / d acc`` (:func:`divergences.symbolic.derivative`) into
    ``dv_gpart``, and ``dv_gelem`` gives ``d value / dx`` and ``d / dy`` at one coordinate:
    ``sum_acc dv_mul0(g_acc, d term_acc / dx)``, a max/min accumulator at its index only.

    Parameters
    ----------
    measure : Measure
        The measure.
    zero : str
        The zero mode whose rule is used (see :func:`zero_mode`).

    Returns
    -------
    str
        CUDA C: the two structs and six ``__device__`` functions.
    """
    from ..symbolic import derivative

    rule = measure.rule(zero)
    names = {"x": "x", "y": "y", "eps": "eps", "d": "d"}
    names |= {p.name: f"par{i}" for i, p in enumerate(measure.params)}
    accs = rule.accumulators
    fields = {a: f"a_{a}" for a in accs}
    extreme = [a for a, acc in accs.items() if acc.reduce != "sum"]
    struct = " ".join(f"double {fields[a]};" for a in accs)
    struct += "".join(f" long long i_{a}; double n_{a};" for a in extreme)
    init, update, combine, resolve, dfin, elem = [], [], [], [], [], []
    for a, acc in accs.items():
        f, term = fields[a], c_expression(acc.term, names)
        init.append(f"    s.{f} = {_INIT[acc.reduce]};")
        dx = c_expression(derivative(acc.term, "x"), names)
        dy = c_expression(derivative(acc.term, "y"), names)
        guard = "" if acc.reduce == "sum" else f"if (k == s.i_{a}) "
        elem.append(f"    {guard}{{ gx += dv_mul0(g.g_{a}, {dx}); gy += dv_mul0(g.g_{a}, {dy}); }}")
        if acc.reduce == "sum":
            update.append(f"    s.{f} += {term};")
            combine.append(f"    s.{f} += o.{f};")
            continue
        cmp = ">" if acc.reduce == "max" else "<"
        init.append(f"    s.i_{a} = DV_NO_INDEX; s.n_{a} = 0.0;")
        update += [
            f"    {{ const double t = {term};",
            f"      if (t {cmp} s.{f}) {{ s.{f} = t; s.i_{a} = k; }}",
            f"      if (t != t) s.n_{a} = t; }}",
        ]
        combine += [
            f"    if (o.{f} {cmp} s.{f} || (o.{f} == s.{f} && o.i_{a} < s.i_{a})) "
            f"{{ s.{f} = o.{f}; s.i_{a} = o.i_{a}; }}",
            f"    if (s.n_{a} == s.n_{a}) s.n_{a} = o.n_{a};",
        ]
        resolve += [
            f"    if (s.n_{a} != s.n_{a}) s.{f} = s.n_{a};",
            f"    if (s.i_{a} == DV_NO_INDEX) s.i_{a} = 0;",
        ]
    acc_names = names | {a: f"s.{f}" for a, f in fields.items()}
    for a in accs:
        dfin.append(f"    g.g_{a} = {c_expression(derivative(rule.finalize, a), acc_names)};")
    args = "double eps, double par0, double par1"
    lines = [
        f"// {measure.name} (zero={zero!r}): the gradient pieces, generated. Do not edit.",
        "struct dv_gacc { " + struct + " };",
        "struct dv_gpart { " + " ".join(f"double g_{a};" for a in accs) + " };",
        "__device__ __forceinline__ void dv_ginit(dv_gacc& s) {",
        *init,
        "}",
        "__device__ __forceinline__ void dv_gupdate(dv_gacc& s, long long k, double x, double y,",
        f"                                           {args}) {{",
        *update,
        "}",
        "__device__ __forceinline__ void dv_gcombine(dv_gacc& s, const dv_gacc& o) {",
        *combine,
        "}",
        "__device__ __forceinline__ void dv_gresolve(dv_gacc& s) {",
        *resolve,
        "}",
        "__device__ __forceinline__ double dv_gfinalize(const dv_gacc& s, dv_gpart& g, double d,",
        f"                                               {args}) {{",
        *dfin,
        "    return " + c_expression(rule.finalize, acc_names) + ";",
        "}",
        "__device__ __forceinline__ void dv_gelem(const dv_gacc& s, const dv_gpart& g,",
        f"                                         long long k, double x, double y, {args},",
        "                                         double& gx, double& gy) {",
        "    gx = 0.0;",
        "    gy = 0.0;",
        *elem,
        "}",
    ]
    return "\n".join(lines) + "\n"


def zero_mode(measure: Measure, zero: str) -> str:
    """The zero mode whose rule applies (a measure without an epsilon rule has one rule)."""
    return zero if measure.epsilon is not None else "strict"


def preamble() -> str:
    """The helpers of every module: constants, internal pieces, then the vocabulary table's
    CUDA C definitions."""
    return "\n".join(
        [
            f"#define DV_LOG1PMX_SERIES_BELOW {_literal(LOG1PMX_SERIES_BELOW)}",
            _asset("helpers.cuh"),
            cuda_preamble(),
        ]
    )


def module_source(measure: Measure, zero: str) -> str:
    """Complete CUDA C source of the module of ``measure`` in zero mode ``zero``."""
    zero = zero_mode(measure, zero)
    return "\n".join(
        [
            f"// divergences: pairwise kernels of {measure.name!r}, zero={zero!r}",
            preamble(),
            measure_source(measure, zero),
            grad_source(measure, zero),
            _asset("pairwise.cu"),
            _asset("paired.cu"),
            _asset("paired_grad.cu"),
        ]
    )
