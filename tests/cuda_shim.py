"""Run the project's CUDA C source on the CPU: g++ behind ``cuda_shim.h``, launched via ctypes.

``ShimModule(source)`` stands in for ``cupy.RawModule(code=source, ...)``: the unchanged
source is compiled with g++ (the shim header makes threadIdx/blockIdx thread-locals, CUDA
threads fibers with a real ``__syncthreads`` barrier, ``__shared__`` per block), and
``get_function(name)`` returns a kernel called as ``kernel(grid, block, args)``. The
arguments are checked against the kernel's CUDA signature as strictly as CuPy passes them:
a pointer takes a C-contiguous NumPy array of exactly the pointee's dtype, ``long long`` a
``numpy.int64`` (or a Python int, which CuPy passes as int64), ``double`` a ``numpy.float64``
(or a Python float), ``int`` only a ``numpy.int32``; launch limits are CUDA's.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import array_api_compat
import numpy as np

from divergences.kernels.cupy_gpu import Runtime

SHIM_HEADER = Path(__file__).with_name("cuda_shim.h")
CXX = os.environ.get("CXX", "g++")
CXXFLAGS = [
    "-O1",
    "-std=c++17",
    "-fopenmp",
    "-fPIC",
    "-shared",
    "-ffp-contract=off",
    "-U_FORTIFY_SOURCE",
]

_SIGNATURE = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', re.S)
_POINTEE = {"double": np.float64, "float": np.float32, "long long": np.int64, "int": np.int32}
_SCALAR = {
    "double": (np.float64, ctypes.c_double, (float,)),
    "float": (np.float32, ctypes.c_float, ()),
    "long long": (np.int64, ctypes.c_longlong, (int,)),
    "int": (np.int32, ctypes.c_int, ()),
}


class LaunchError(RuntimeError):
    """A launch that CUDA (or CuPy) would refuse, or a kernel fault found by the shim."""


def _params(text: str) -> list[tuple[str, bool]]:
    """(base type, is pointer) of each parameter of a kernel signature."""
    out = []
    for raw in filter(None, (p.strip() for p in text.split(","))):
        decl = re.sub(r"\b(const|__restrict__)\b", " ", raw)
        pointer = "*" in decl
        words = decl.replace("*", " ").split()[:-1]  # drop the parameter name
        base = " ".join(words)
        if base not in _POINTEE:
            raise ValueError(f"cuda shim: unsupported parameter type in {raw!r}")
        out.append((base, pointer))
    return out


def _wrapper(name: str, params: list[tuple[str, bool]]) -> str:
    casts = ", ".join(
        f"*({base}{'**' if ptr else '*'})a[{i}]" for i, (base, ptr) in enumerate(params)
    )
    return f"""
extern "C" int dvshim_launch_{name}(unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                     unsigned by, unsigned bz, void** args, char* err,
                                     size_t errlen) {{
    auto body = [](void* p) {{ void** a = static_cast<void**>(p); {name}({casts}); }};
    return dvshim::launch({{gx, gy, gz}}, {{bx, by, bz}}, body, args, err, errlen);
}}
"""


def _cache_dir() -> Path:
    base = os.environ.get("DIVERGENCES_CACHE_DIR") or "~/.cache/divergences"
    path = Path(base).expanduser() / "cuda_shim"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir()) / f"divergences-cuda-shim-{os.getuid()}"
        path.mkdir(parents=True, exist_ok=True)
    return path


def compile_shared_library(source: str, extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile ``source`` (CUDA C, unchanged) plus launch wrappers to a shared library."""
    kernels = {n: _params(p) for n, p in _SIGNATURE.findall(source)}
    full = source + "".join(_wrapper(n, p) for n, p in kernels.items())
    key = hashlib.sha1(  # a cache key
        "\n".join([SHIM_HEADER.read_text(), full, *CXXFLAGS, *extra_flags]).encode()
    ).hexdigest()[:20]
    lib = _cache_dir() / f"shim_{key}.so"
    if not lib.exists():
        src = lib.with_suffix(f".{os.getpid()}.{threading.get_ident()}.cpp")
        src.write_text(full)
        tmp = lib.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        cmd = [CXX, *CXXFLAGS, *extra_flags, "-include", str(SHIM_HEADER), str(src), "-o", str(tmp)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        src.unlink()
        if proc.returncode:
            raise RuntimeError(f"cuda shim: g++ failed:\n{proc.stderr[-4000:]}")
        os.replace(tmp, lib)
    return lib


class ShimKernel:
    """One ``__global__`` function, called as CuPy calls a kernel."""

    def __init__(self, lib: ctypes.CDLL, name: str, params: list[tuple[str, bool]]) -> None:
        self.name = name
        self.params = params
        self._fn = getattr(lib, f"dvshim_launch_{name}")
        self._fn.restype = ctypes.c_int
        self.launches = 0

    def _pack(self, args: tuple[Any, ...]) -> list[Any]:
        if len(args) != len(self.params):
            raise LaunchError(f"{self.name}: takes {len(self.params)} arguments, got {len(args)}")
        holders = []
        for i, ((base, pointer), value) in enumerate(zip(self.params, args, strict=True)):
            where = f"{self.name}: argument {i} ({base}{'*' if pointer else ''})"
            if pointer:
                if not isinstance(value, np.ndarray):
                    raise LaunchError(f"{where} needs a device array, got {type(value).__name__}")
                if value.dtype != _POINTEE[base]:
                    raise LaunchError(f"{where} got an array of dtype {value.dtype}")
                if not value.flags.c_contiguous:
                    raise LaunchError(f"{where} got a non-contiguous array")
                holders.append(ctypes.c_void_p(value.ctypes.data))
            else:
                dtype, ctype, python_types = _SCALAR[base]
                ok = type(value) is dtype or (
                    type(value) in python_types and not isinstance(value, bool)
                )
                if not ok:
                    raise LaunchError(
                        f"{where} got {type(value).__name__} {value!r}: CuPy passes a Python "
                        "int as int64 and a Python float as double, so pass numpy."
                        f"{np.dtype(dtype).name}"
                    )
                holders.append(ctype(value))
        return holders

    def __call__(
        self, grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...], **_: Any
    ) -> None:
        g = tuple(grid) + (1,) * (3 - len(grid))
        b = tuple(block) + (1,) * (3 - len(block))
        if min(g) < 1 or g[0] > 2**31 - 1 or g[1] > 65535 or g[2] > 65535:
            raise LaunchError(f"{self.name}: grid {g} is outside CUDA's limits")
        if min(b) < 1 or b[0] * b[1] * b[2] > 1024 or b[2] > 64:
            raise LaunchError(f"{self.name}: block {b} is outside CUDA's limits")
        holders = self._pack(tuple(args))
        ptrs = (ctypes.c_void_p * len(holders))(
            *(ctypes.cast(ctypes.pointer(h), ctypes.c_void_p) for h in holders)
        )
        err = ctypes.create_string_buffer(512)
        rc = self._fn(
            *map(ctypes.c_uint, g), *map(ctypes.c_uint, b), ptrs, err, ctypes.c_size_t(512)
        )
        self.launches += 1
        if rc:
            raise LaunchError(f"{self.name}: {err.value.decode()}")


class ShimModule:
    """Stand-in for ``cupy.RawModule(code=source)``: the same source, compiled with g++."""

    def __init__(self, source: str, extra_flags: tuple[str, ...] = ()) -> None:
        self.source = source
        self._params = {n: _params(p) for n, p in _SIGNATURE.findall(source)}
        self.lib = ctypes.CDLL(str(compile_shared_library(source, extra_flags)))
        self._kernels: dict[str, ShimKernel] = {}

    def get_function(self, name: str) -> ShimKernel:
        if name not in self._params:
            raise LaunchError(f"no __global__ function {name!r} in the module")
        if name not in self._kernels:
            self._kernels[name] = ShimKernel(self.lib, name, self._params[name])
        return self._kernels[name]


def shim_runtime() -> Runtime:
    """A :class:`~divergences.kernels.cupy_gpu.Runtime` on the CPU: NumPy arrays, g++ modules."""
    return Runtime(
        name="cpu-shim",
        xp=np,
        module_factory=ShimModule,
        owns=array_api_compat.is_numpy_namespace,
    )
