"""Parallel Numba kernels generated from the measure definitions.

For each (measure, zero mode) a small Python module is generated from the definition's
expressions (see :mod:`divergences.kernels.codegen`) and loaded by
:mod:`divergences.kernels.kernel_cache`, which caches the compiled kernels on disk where a
private cache folder allows it.  No measure has hand-written kernel code.  A measure's
module holds its ``pair`` and its ``block`` (ROWS rows of XA against up to CHUNK rows of
XB); the parallel loops are shared by every measure (DRIVERS: cdist, and pdist's two
halves), compiled once and calling the block as a first-class function (:func:`launch`):
a measure compiles one block instead of three blocks and three parallel loops.  Drivers
are ``nogil``: the calling thread releases the GIL while they run, so threads (a Dask
worker's, a server's) compute side by side.

Kernels run over tiles of (XA rows, XB rows) with ``numba.prange``, on float64 input
(the API converts float32 and integer input once, up front: loading float32 per element
measured slower), accumulate in float64, use ``error_model="numpy"`` (x / 0 = inf, never an
exception) and only the fastmath flags that keep inf/NaN semantics.  XA is packed k-major
in blocks of ROWS rows (:func:`pack_rows`) and a block computes ROWS outputs side by side,
one per SIMD lane (LLVM's SLP vectoriser, switched on while these kernels compile); each
output accumulates its own terms over k = 0..d-1 in order, and padding rows repeat the
last row, so a value never depends on the other rows of the call.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from ..spec import Measure
from . import launching
from .codegen import HELPER_IMPORTS, scalar_source
from .kernel_cache import load_generated, measure_module

#: fastmath flags that keep inf/NaN semantics (no 'nnan', 'ninf') and the written order of
#: operations: 'reassoc' is left out because it lets LLVM rewrite acc + (x - y) as
#: (acc + x) - y, which destroys the cancellation-free forms (KL near P = Q lost 4 digits);
#: 'arcp' too, because it rewrites x / y as x * (1 / y), and 1 / y overflows to inf for a
#: subnormal y (1 / 1e-310): 0 / 1e-310 became 0 * inf = NaN (Pearson, Jeffreys, max/min
#: symmetric chi-squared with zero="epsilon" on a column of subnormal entries)
FASTMATH = {"contract", "nsz"}

_INIT = {"sum": "0.0", "max": "-math.inf", "min": "math.inf"}
_UPDATE = {
    "sum": "{acc} += {term}",
    "max": "{acc} = maximum({acc}, {term})",
    "min": "{acc} = minimum({acc}, {term})",
}
#: max/min in the blocks: the NaN-propagating update (two compares, a mask or and a blend
#: on the accumulator's chain) split into a plain max/min (vmaxpd: a NaN term is dropped)
#: and a NaN carrier off the chain (the last NaN term, else 0); after the loop a carried
#: NaN replaces the value.  Same values as maximum/minimum over k (max is exact in any order)
_UPDATE_BLOCK = {
    "sum": ("{acc} += {term}",),
    "max": (
        "{t} = {term}",
        "{acc} = {t} if {t} > {acc} else {acc}",
        "{nan} = {nan} if {t} == {t} else {t}",
    ),
    "min": (
        "{t} = {term}",
        "{acc} = {t} if {t} < {acc} else {acc}",
        "{nan} = {nan} if {t} == {t} else {t}",
    ),
}
#: rows of XA processed together (register blocking), packed k-major (the rows' values of
#: one k side by side, see pack_rows) so that LLVM's SLP vectoriser puts them in the lanes of
#: SIMD registers, one output per lane: each still accumulates its own terms over
#: k = 0..d-1 in order.  ROWS_CHEAP for terms that vectorise (2 x 8 lanes of AVX-512, 4 x 4
#: of AVX2: enough independent chains to hide the add latency), ROWS for the rest (calls
#: with branches and logarithms: the code, and the compile time, grow with the lanes)
ROWS = 4
ROWS_CHEAP = 16
#: kl_mid vectorises too, but its body (two exponent splits, a logarithm, both branches) is
#: inlined once per lane: 8 lanes compiled the Jensen-Shannon kernel in 3.7 s, 4 in 1.9 s
#: (the 2 s target) for 1.5x the run time; the factored path runs that family anyway
ROWS_LOG = 4
#: rows of XB per register block (each packed XA load serves COLS rows of XB); more than
#: one lets the SLP vectoriser mix rows and columns in one register (gathers, shuffles)
COLS = 1
#: cache blocking: a task takes a tile of packed XA blocks (about TILE_A_BYTES) against a
#: tile of XB rows (about TILE_B_BYTES, L2-resident while the XA blocks pass over it)
TILE_A_BYTES = 32 * 1024
TILE_B_BYTES = 256 * 1024
#: calls that keep a term cheap: branch-free, or a select that LLVM if-converts (not ipow:
#: its branches on the run-time exponent get unswitched into one loop per case, five
#: copies of 16 lanes, and pow() does not vectorise anyway; kl_mid is branch-free with its
#: own logarithm, see numba_helpers)
_CHEAP_CALLS = {"abs", "minimum", "maximum", "div0", "nz", "math.sqrt", "kl_mid"}
#: cheap calls with their own logarithm: blocks of ROWS_LOG rows
_LOG_CALLS = {"kl_mid"}

_MODULE = """\
# Generated by divergences from the definition of {name!r} (zero={zero!r}). Do not edit.
import math

import numba
import numpy as np

from divergences.kernels.numba_helpers import {helpers}

_FASTMATH = set({fastmath!r})
# the disk cache is attached by kernel_cache.load_generated (cache=True fails without a
# writable folder and cannot read a read-only one)
_JIT = dict(error_model="numpy", cache=False, nogil=True, fastmath=_FASTMATH)
ROWS = {rows}
COLS = {cols}


@numba.njit(**_JIT)
def pair(a, b, _eps{params}):
    _dim = a.shape[0]
{init}
    for _k in range(_dim):
        x = np.float64(a[_k])
        y = np.float64(b[_k])
{update}
    _d = np.float64(_dim)
    return {finalize}

{block}"""

_BLOCK = """
@numba.njit(**_JIT)
def block(a, XB, j0, nj, vals, _par):
    \"\"\"vals[r, q] = f(XA[i0 + r], XB[j0 + q]) for r < ROWS and q < nj (rounded up to a
    multiple of COLS).

    a is XA's block from i0, packed (a row of pack_rows(XA, ROWS)); columns past the end
    repeat the last row of XB, as the packed rows do, so that every value takes exactly
    the same arithmetic wherever its row and column sit.  _par is (eps, parameters...).
    The parallel drivers (DRIVERS) store the values where their layout wants them.\"\"\"
{unpack}
    last = XB.shape[0] - 1
    _dim = XB.shape[1]
    _d = np.float64(_dim)
    for _q in range(0, nj, COLS):
{cols_load}
{init_block}
        for _k in range(_dim):
{update_block}
{nan_block}
{finalize_block}
"""

#: columns of XB per call of a measure's block (a multiple of COLS): the call through a
#: function pointer and its array arguments cost about as much as a few terms, paid once per
#: CHUNK columns
CHUNK = 64 * COLS

#: pdist's two halves: the same traversal (task t takes row blocks t and nb - 1 - t) with
#: the store of its layout (``skip``: 0 with the diagonal, 1 without)
_HALF = """\
@numba.njit(**_JIT)
def half_{kind}(block, P, X, par, out, rows, cols):
    \"\"\"f(X[i], X[j]) for j {rel} i {where} (a symmetric measure).\"\"\"
    m = X.shape[0]
    nb = P.shape[0]
    for t in numba.prange((nb + 1) // 2):
        vals = np.empty((rows, CHUNK + cols))
        for h in range(2 if 2 * t + 1 != nb else 1):
            u = t + h * (nb - 1 - 2 * t)
            i0 = u * rows
            for j0 in range(i0, m, CHUNK):
                nj = min(CHUNK, m - j0)
                block(P[u], X, j0, nj, vals, par)
                for r in range(min(rows, m - i0)):
                    i = i0 + r
                    for q in range(max(0, i + {skip} - j0), nj):
                        {store}


"""
_HALVES = "".join(
    _HALF.format(kind=kind, rel=rel, where=where, skip=skip, store=store)
    for kind, rel, where, skip, store in (
        (
            "square",
            ">=",
            "in out[i, j] and out[j, i]",
            0,
            "out[i, j0 + q] = out[j0 + q, i] = vals[r, q]",
        ),
        (
            "condensed",
            ">",
            "in scipy's condensed out",
            1,
            "out[m * i - (i * (i + 1)) // 2 + j0 + q - i - 1] = vals[r, q]",
        ),
    )
)


#: the parallel drivers, shared by every measure (compiled once, not once per measure): each
#: takes a measure's ``block`` as a first-class function (a call per ROWS rows of XA against
#: CHUNK rows of XB) and stores its values in its layout.  Tasks are tiles of packed XA
#: blocks (about TILE_A_BYTES) against tiles of XB rows (about TILE_B_BYTES, L2-resident
#: while the XA blocks pass over them); pdist's halves take row blocks t and nb - 1 - t, so
#: the triangle's work is balanced
DRIVERS = f"""\
# Generated by divergences.kernels.numba_cpu: the parallel drivers of every measure's block.
import numba
import numpy as np

_JIT = dict(error_model="numpy", cache=False, nogil=True, parallel=True)
CHUNK = {CHUNK}


@numba.njit(**_JIT)
def cdist(block, P, XB, par, out, rows, cols):
    \"\"\"out[i, j] = f(XA[i], XB[j]), P = pack_rows(XA, rows).\"\"\"
    m, n = out.shape
    nb, size = P.shape
    dim = size // rows
    tile_a = max(1, {TILE_A_BYTES} // (8 * size + 8))
    tile_b = max(1, {TILE_B_BYTES} // (8 * CHUNK * dim + 8)) * CHUNK
    ntb = (n + tile_b - 1) // tile_b
    for t in numba.prange(((nb + tile_a - 1) // tile_a) * ntb):
        vals = np.empty((rows, CHUNK + cols))
        ib0 = (t // ntb) * tile_a
        jt = (t % ntb) * tile_b
        for ib in range(ib0, min(ib0 + tile_a, nb)):
            i0 = ib * rows
            for j0 in range(jt, min(jt + tile_b, n), CHUNK):
                nj = min(CHUNK, n - j0)
                block(P[ib], XB, j0, nj, vals, par)
                for r in range(min(rows, m - i0)):
                    for q in range(nj):
                        out[i0 + r, j0 + q] = vals[r, q]


{_HALVES}"""


def block_signature() -> Any:
    """The signature of every measure's ``block``: (a, XB, j0, nj, vals, par)."""
    from numba import types

    ro1 = types.Array(types.float64, 1, "C", readonly=True)
    ro2 = types.Array(types.float64, 2, "C", readonly=True)
    return types.void(ro1, ro2, types.int64, types.int64, types.float64[:, ::1], ro1)


_DRIVERS_LOCK = threading.Lock()
_DRIVERS: dict[str, ModuleType] = {}


def shared(name: str, source: str) -> ModuleType:
    """The module of shared drivers ``source`` (loaded once per process; its kernels are
    compiled per signature by :func:`launch`)."""
    mod = _DRIVERS.get(name)
    if mod is None:
        with _DRIVERS_LOCK:
            mod = _DRIVERS.get(name)
            if mod is None:
                mod = _DRIVERS[name] = load_generated(f"_divergences_{name}", source)
    return mod


_ENTRIES: dict[tuple[Any, ...], Any] = {}


def _array_key(a: np.ndarray) -> tuple[Any, ...]:
    return (a.dtype.str, a.ndim, a.flags.c_contiguous, a.flags.aligned)


def launch(
    driver: Any,
    fn: Any,
    fn_sig: Any,
    inputs: tuple[np.ndarray, ...],
    outputs: tuple[np.ndarray, ...],
    *scalars: Any,
) -> None:
    """``driver(fn, *inputs, *outputs, *scalars)``: a shared parallel driver (compiled once
    for every measure) calling a measure's kernel ``fn`` of signature ``fn_sig`` as a
    first-class function.

    ``fn`` and the driver are compiled (or loaded from the disk cache) with the SLP
    vectoriser on, once per kind of arrays; ``inputs`` are typed read-only (so a read-only
    array and a writable one share the code) and the launch is made as the threading layer
    allows (see :mod:`divergences.kernels.launching`).
    """
    kernel = launching.variant(driver)
    key = (
        id(kernel),
        id(fn),
        fn_sig,
        *(_array_key(a) for a in inputs),
        *(_array_key(a) for a in outputs),
        *(type(s) for s in scalars),
    )
    entry = _ENTRIES.get(key)
    if entry is None:
        import numba
        from numba import types

        sig = (
            types.FunctionType(fn_sig),
            *(numba.typeof(a).copy(readonly=True) for a in inputs),
            *(numba.typeof(a) for a in outputs),
            *(numba.typeof(s) for s in scalars),
        )
        with _DRIVERS_LOCK, _slp_vectorize():
            if fn_sig.args not in fn.overloads:
                fn.compile(fn_sig)
            if sig not in kernel.overloads:
                kernel.compile(sig)
        entry = _ENTRIES[key] = kernel.overloads[sig].entry_point
    with launching.guard():
        entry(fn, *inputs, *outputs, *scalars)


def _rows(terms: list[str]) -> int:
    """Rows per block for these terms: ROWS_CHEAP where every call is cheap and
    if-convertible (_CHEAP_CALLS), ROWS_LOG where one of those has its own logarithm (a big
    body, inlined once per lane), else ROWS."""
    calls = {c for t in terms for c in re.findall(r"([\w.]+)\(", t)}
    if not calls <= _CHEAP_CALLS:
        return ROWS
    return ROWS_LOG if calls & _LOG_CALLS else ROWS_CHEAP


def module_source(measure: Measure, zero: str) -> str:
    """Source of the generated kernel module for ``measure`` in zero mode ``zero``."""
    rule = measure.rule(zero)
    pnames = [p.name for p in measure.params]
    rename = {"x": "x", "y": "y", "eps": "_eps", "d": "_d"}
    rename |= {p: f"par_{p}" for p in pnames}
    rename |= {a: f"acc_{a}" for a in rule.accumulators}
    init, update = [], []
    for name, acc in rule.accumulators.items():
        init.append(f"    acc_{name} = {_INIT[acc.reduce]}")
        term = scalar_source(acc.term, rename)
        update.append("        " + _UPDATE[acc.reduce].format(acc=f"acc_{name}", term=term))
    terms = [scalar_source(acc.term, rename) for acc in rule.accumulators.values()]
    rows = _rows(terms)
    init_block, update_block, nan_block, finalize_block = [], [], [], []
    update_block += [f"        y{c} = b{c}[_k]" for c in range(COLS)]
    update_block += [f"        x{r} = a[_k * {rows} + {r}]" for r in range(rows)]
    # accumulator-major, then column, then row: the lanes of one (accumulator, column)
    # are isomorphic statements side by side, as the SLP vectoriser wants them
    for name, acc in rule.accumulators.items():
        for c in range(COLS):
            for r in range(rows):
                lane = f"acc_{name}_{r}_{c}"
                init_block.append(f"    {lane} = {_INIT[acc.reduce]}")
                term = scalar_source(acc.term, rename | {"x": f"x{r}", "y": f"y{c}"})
                names = dict(acc=lane, term=term, t=f"t_{name}_{r}_{c}", nan=f"nan_{name}_{r}_{c}")
                update_block += ["        " + u.format(**names) for u in _UPDATE_BLOCK[acc.reduce]]
                if acc.reduce != "sum":
                    nan = names["nan"]
                    init_block.append(f"    {nan} = 0.0")
                    nan_block.append(f"    {lane} = {nan} if {nan} != {nan} else {lane}")
    for r in range(rows):
        for c in range(COLS):
            lanes = {a: f"acc_{a}_{r}_{c}" for a in rule.accumulators}
            value = scalar_source(rule.finalize, rename | lanes)
            finalize_block.append((r, c, value))
    params = "".join(f", par_{p}" for p in pnames)
    block = _BLOCK.format(
        unpack=unpack_source(measure),
        cols_load="\n".join(f"        b{c} = XB[min(j0 + _q + {c}, last)]" for c in range(COLS)),
        init_block="\n".join("    " + line for line in init_block),
        update_block="\n".join("    " + line for line in update_block),
        nan_block="\n".join("    " + line for line in nan_block),
        finalize_block="\n".join(
            f"        vals[{r}, _q + {c}] = {v}" for r, c, v in finalize_block
        ),
    )
    return _MODULE.format(
        name=measure.name,
        zero=zero,
        helpers=", ".join(HELPER_IMPORTS),
        fastmath=sorted(FASTMATH),
        params=params,
        rows=rows,
        cols=COLS,
        init="\n".join(init),
        update="\n".join(update),
        finalize=scalar_source(rule.finalize, rename),
        block=block,
    )


def kernels(measure: Measure, zero: str) -> ModuleType:
    """The generated module of ``measure`` (its ``cdist``/``pdist``/``pair`` kernels)."""
    return measure_module("", measure, zero, module_source)


def kernel_par(measure: Measure, eps: float, params: dict[str, float]) -> np.ndarray:
    """The ``_par`` array every generated kernel takes: (eps, the measure's parameters in
    definition order), read back by :func:`unpack_source`'s lines."""
    return np.array([eps, *(params[p.name] for p in measure.params)], dtype=np.float64)


def unpack_source(measure: Measure) -> str:
    """The lines of a generated kernel that take eps and the parameters out of ``_par``."""
    lines = ["    _eps = _par[0]"]
    lines += [f"    par_{p.name} = _par[{i + 1}]" for i, p in enumerate(measure.params)]
    return "\n".join(lines)


def pack_rows(X: np.ndarray, rows: int) -> np.ndarray:
    """X's rows in blocks of ``rows``, each block k-major: ``P[b, k * rows + r] = X[b * rows
    + r, k]`` (float64), the last block padded by repeating the last row.

    The ``rows`` values of one k sit side by side, so the kernel loads them into one SIMD
    register and keeps one output per lane.
    """
    m, dim = X.shape
    nb = -(-m // rows)
    idx = np.minimum(np.arange(nb * rows), m - 1)
    packed = np.empty((nb, dim, rows), dtype=np.float64)
    packed[...] = X[idx].reshape(nb, rows, dim).transpose(0, 2, 1)
    return packed.reshape(nb, dim * rows)


@contextlib.contextmanager
def _slp_vectorize() -> Iterator[None]:
    """Numba compiles with LLVM's SLP vectoriser off (a global option, read when a library
    is optimised); the kernels rely on it to put the ROWS lanes of a block in SIMD
    registers.  It is switched on only while one of them compiles, under Numba's compiler
    lock, so no other compilation sees it."""
    from numba.core import config
    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock:
        before = config.SLP_VECTORIZE
        config.SLP_VECTORIZE = 1
        try:
            yield
        finally:
            config.SLP_VECTORIZE = before


_READY: set[tuple[Any, ...]] = set()


def _call(kernel: Any, *args: Any) -> None:
    """``kernel(*args)``, compiled (or loaded from the disk cache) with SLP on if new, and
    launched as the threading layer allows (see :mod:`divergences.kernels.launching`)."""
    kernel = launching.variant(kernel)
    flags = tuple((a.flags.writeable, a.flags.aligned) for a in args if isinstance(a, np.ndarray))
    key = (id(kernel), flags)
    if key not in _READY:  # numba.typeof costs tens of microseconds: once per kind of call
        import numba

        sig = tuple(numba.typeof(a) for a in args)
        if sig not in kernel.overloads:
            with _slp_vectorize():
                kernel.compile(sig)
        _READY.add(key)
    with launching.guard():
        kernel(*args)


def _launch(
    driver: str,
    measure: Measure,
    zero: str,
    XA: np.ndarray,
    XB: np.ndarray,
    out: np.ndarray,
    eps: float,
    params: dict[str, float],
) -> None:
    """The shared parallel ``driver`` (see DRIVERS) over the block of ``measure``."""
    mod = kernels(measure, zero)
    launch(
        getattr(shared("drivers", DRIVERS), driver),
        mod.block,
        block_signature(),
        (pack_rows(XA, mod.ROWS), XB, kernel_par(measure, eps, params)),
        (out,),
        mod.ROWS,
        mod.COLS,
    )


def cdist(
    measure: Measure,
    XA: np.ndarray,
    XB: np.ndarray,
    *,
    zero: str,
    eps: float,
    params: dict[str, float],
    same_input: bool = False,
) -> np.ndarray:
    """``measure`` for every row of XA against every row of XB (float64 result).

    ``same_input=True`` (XA and XB are the same rows) computes half the pairs of a
    symmetric measure and mirrors them; an asymmetric one always gets every pair.
    """
    XB = np.require(XB, np.float64, ("C", "A"))
    out = np.empty((XA.shape[0], XB.shape[0]), dtype=np.float64)
    if out.size:
        half = same_input and measure.is_symmetric(zero, params)
        _launch("half_square" if half else "cdist", measure, zero, XA, XB, out, eps, params)
    return out


def pdist(
    measure: Measure,
    X: np.ndarray,
    *,
    zero: str,
    eps: float,
    params: dict[str, float],
) -> np.ndarray:
    """Condensed values among the rows of X (scipy's layout), half the pairs computed."""
    X = np.require(X, np.float64, ("C", "A"))
    m = X.shape[0]
    out = np.empty(m * (m - 1) // 2, dtype=np.float64)
    if out.size:
        _launch("half_condensed", measure, zero, X, X, out, eps, params)
    return out
