"""Where compiled kernels come from: the generated modules and Numba's disk cache.

The Numba kernels are Python modules generated from the measure definitions (see
:mod:`divergences.kernels.numba_cpu`).  Each is executed from the source this process
generated, never from a file: the file written to the cache folder only gives Numba a path
to key its disk cache on.  A module's name carries a digest of its own source and of
everything else that determines its machine code (:func:`source_digest`: every source file
of this package, the versions of divergences, Numba, llvmlite, NumPy and Python), so a new
version or an edited helper never reuses old machine code.

The cache folder is the first usable one of ``$DIVERGENCES_CACHE_DIR``,
``$XDG_CACHE_HOME/divergences`` (``~/.cache/divergences``) and
``<tempdir>/divergences-<uid>``, each with a ``numba`` folder inside.  A folder is used
only if it is a real folder (not a link) owned by the current user or root and writable by
nobody else; folders created here are private (mode 0700).  A folder owned by someone
else, or writable by others, is skipped with a warning: its files are never read.  A
read-only folder (a cache baked into an image) is read, and kernels missing from it are
compiled in memory; with no usable folder everything is compiled in memory.  Unreadable
cache entries (empty, truncated or foreign files) are ignored and overwritten.  Each of
these situations is reported once per process with a :class:`KernelCacheWarning`; none of
them makes a call fail.
"""

from __future__ import annotations

import dis
import functools
import hashlib
import os
import stat
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any, ClassVar

#: the environment variable naming the cache folder
CACHE_ENV = "DIVERGENCES_CACHE_DIR"


class KernelCacheWarning(UserWarning):
    """The kernel cache folder cannot be used as it is (said once per process and cause)."""


_WARNED: set[str] = set()
_LOCK = threading.RLock()
_LOADED: dict[str, ModuleType] = {}


def warn_once(key: str, message: str) -> None:
    """Issue ``message`` as a :class:`KernelCacheWarning`, once per process per ``key``."""
    with _LOCK:
        if key in _WARNED:
            return
        _WARNED.add(key)
    warnings.warn(message, KernelCacheWarning, stacklevel=3)


def _imports(code: CodeType) -> Iterator[tuple[str, int, tuple[str, ...]]]:
    """(module, level, names) of every import statement compiled into ``code`` and the code
    objects nested in it.  Read from the bytecode (``import m`` and ``from m import names``
    compile to LOAD_CONST level, LOAD_CONST names, IMPORT_NAME m), not from an ``ast``
    tree: building an ``ast`` tree is not thread-safe on CPython 3.11 (gh-106905, see
    :func:`divergences.expr.parse_source`), compiling to bytecode is."""
    ops = list(dis.get_instructions(code))
    for i, op in enumerate(ops):
        if op.opname == "IMPORT_NAME":
            level, names = ops[i - 2].argval, ops[i - 1].argval
            yield op.argval, int(level or 0), tuple(names or ())
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _imports(const)


def _imported_files(source: str | bytes, package: tuple[str, ...], top: Path) -> set[Path]:
    """Files of the package at ``top`` imported by module ``source`` (which lies in the
    package ``package``, a tuple of names, for relative imports)."""
    found = set()
    code = compile(source, "<imports>", "exec", dont_inherit=True)
    for module, level, names in _imports(code):
        mod = module.split(".") if module else []
        if level:
            mod = [*package[: len(package) - level + 1], *mod]
        targets = [mod] + [[*mod, name] for name in names if name != "*"]
        for parts in targets:
            if not parts or parts[0] != top.name:
                continue
            target = top.parent.joinpath(*parts)
            for candidate in (target.with_suffix(".py"), target / "__init__.py"):
                if candidate.is_file():
                    found.add(candidate)
    return found


@functools.cache
def _package_files() -> tuple[Path, ...]:
    here = Path(__file__).parent
    return tuple(p for p in here.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


@functools.cache
def kernel_sources(source: str) -> tuple[Path, ...]:
    """The files besides ``source`` that decide the machine code of generated module
    ``source``: every file of this package (templates, code generators, compile options)
    and every module of divergences that ``source`` imports, transitively (the helpers and
    the vocabulary table they take constants from, wherever they live: found by reading
    the imports, so a helper moved to a new module needs no list to be kept up to date)."""
    top = Path(__file__).parent.parent
    files = set(_package_files())
    todo: list[tuple[str | bytes, tuple[str, ...]]] = [(source, ())]
    seen: set[Path] = set()
    while todo:
        text, package = todo.pop()
        for path in _imported_files(text, package, top) - seen:
            seen.add(path)
            parts = path.relative_to(top.parent).with_suffix("").parts
            todo.append((path.read_bytes(), parts[:-1]))
    return tuple(sorted(files | seen))


@functools.cache
def source_digest(source: str = "") -> str:
    """A digest of everything that decides the machine code of generated module ``source``:
    its text, :func:`kernel_sources` and the versions of divergences, Numba, llvmlite, NumPy
    and Python.

    Examples
    --------
    >>> len(source_digest("import math"))
    64
    """
    import llvmlite
    import numba
    import numpy as np

    from .. import __version__

    top = Path(__file__).parent.parent
    h = hashlib.sha256()
    versions = (__version__, numba.__version__, llvmlite.__version__, np.__version__)
    h.update(repr((*versions, sys.version, sys.platform)).encode())
    for path in kernel_sources(source):
        h.update(path.relative_to(top.parent).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    h.update(source.encode())
    return h.hexdigest()


def _untrusted(path: Path) -> str | None:
    """Why ``path`` must not be used as a cache folder, or None if it may."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a folder"
    if st.st_uid not in (os.getuid(), 0):
        return f"belongs to another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return f"is writable by other users (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def _writable(folder: Path) -> bool:
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _open_folder(base: Path) -> tuple[Path, bool] | str:
    """``(folder, writable)`` for the ``numba`` folder of ``base`` (created private if
    missing), or why it cannot be used."""
    folder = base / "numba"
    for path in (base, folder):
        try:
            if path is base:
                os.makedirs(base.parent, mode=0o700, exist_ok=True)
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                pass
            reason = _untrusted(path)
        except OSError as exc:
            return f"{path} cannot be used ({exc.strerror or exc})"
        if reason:
            return f"{path} {reason}: it is not used"
    return folder, _writable(folder)


def _candidates() -> list[tuple[Path, bool]]:
    """Base folders in order of preference, each with whether to say why it is skipped."""
    out: list[tuple[Path, bool]] = []
    env = os.environ.get(CACHE_ENV)
    if env:
        out.append((Path(env).expanduser().resolve(), True))
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    if os.path.isabs(xdg):
        out.append((Path(xdg).resolve() / "divergences", False))
    # the shared temporary folder: anyone may have created this name, so the last component
    # is not resolved (a link there is refused) and a refusal is reported
    try:
        tmp = Path(tempfile.gettempdir()).resolve()
    except OSError:  # no writable temporary folder at all
        return out
    out.append((tmp / f"divergences-{os.getuid()}", True))
    return out


_FOLDER: list[tuple[Path | None, bool]] = []


def cache_folder() -> tuple[Path | None, bool]:
    """``(folder, writable)``: the folder kernels are cached in (None: compile in memory).

    Chosen once per process (see the module docstring); a folder that is skipped, read-only
    or missing is reported once with a :class:`KernelCacheWarning`.
    """
    with _LOCK:
        if not _FOLDER:
            _FOLDER.append(_choose())
        return _FOLDER[0]


def _choose() -> tuple[Path | None, bool]:
    for base, report in _candidates():
        got = _open_folder(base)
        if isinstance(got, str):
            if report:
                warn_once(f"skip:{base}", f"divergences kernel cache: {got}")
            continue
        folder, writable = got
        if not writable:
            warn_once(
                f"readonly:{folder}",
                f"divergences kernel cache: {folder} is read-only; kernels cached there are "
                "used, the others are compiled in memory in every process",
            )
        return folder, writable
    warn_once(
        "memory",
        "divergences kernel cache: no usable cache folder (set DIVERGENCES_CACHE_DIR to a "
        "private writable folder); kernels are compiled in memory in every process",
    )
    return None, False


def cache_dir() -> Path | None:
    """The folder kernels are cached in, or None where they are compiled in memory."""
    return cache_folder()[0]


_MEASURE_MODULES: dict[tuple[str, int, str], ModuleType] = {}
_MEASURE_LOCK = threading.Lock()


def measure_module(
    kind: str, measure: Any, zero: str, source_of: Callable[[Any, str], str]
) -> ModuleType:
    """The generated module ``kind`` (``""``, ``"paired_"``, ``"grad_"``) of ``measure`` in zero
    mode ``zero`` (the strict rule when the measure has no epsilon rule), built from
    ``source_of(measure, zero)`` once per process under a lock and published only when
    complete (the one registry of every per-measure kernel module)."""
    rule = zero if measure.epsilon is not None else "strict"
    key = (kind, id(measure), rule)
    mod = _MEASURE_MODULES.get(key)
    if mod is not None:
        return mod
    with _MEASURE_LOCK:
        if key not in _MEASURE_MODULES:
            source = source_of(measure, rule)
            _MEASURE_MODULES[key] = load_generated(
                f"_divergences_{kind}{measure.name}_{rule}", source
            )
        return _MEASURE_MODULES[key]


def load_generated(prefix: str, source: str) -> ModuleType:
    """The module made by executing generated kernel ``source``: built once per process
    under a lock and returned only once complete (threads asking together get the same
    module).  Its Numba kernels are cached on disk where a cache folder allows it.
    """
    digest = source_digest(source)[:16]
    modname = f"{prefix}_{digest}"
    mod = _LOADED.get(modname)
    if mod is not None:
        return mod
    with _LOCK:
        mod = _LOADED.get(modname)
        if mod is None:
            mod = _build(modname, source)
            sys.modules[modname] = mod
            _LOADED[modname] = mod
    return mod


def _source_file(folder: Path, writable: bool, modname: str, source: str) -> Path | None:
    """The file of ``folder`` holding ``source`` (written if missing or different), or None
    where there is none."""
    path = folder / f"{modname}.py"
    try:
        current: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    except PermissionError:
        warn_once(
            f"unreadable:{folder}",
            f"divergences kernel cache: cannot read {path} (permissions); kernels are "
            "compiled in memory",
        )
        return None
    except (OSError, ValueError):
        current = ""
    if current == source:
        return path
    if current is not None:
        warn_once(
            f"corrupt:{folder}",
            f"divergences kernel cache: ignored unreadable or damaged files in {folder} "
            "(the kernels are compiled again)",
        )
    if not writable:
        return None
    try:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(source, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        warn_once(
            f"write:{folder}",
            f"divergences kernel cache: cannot write to {folder} ({exc.strerror or exc}); "
            "kernels are compiled in memory",
        )
        return None
    return path


def _build(modname: str, source: str) -> ModuleType:
    folder, writable = cache_folder()
    path = _source_file(folder, writable, modname, source) if folder is not None else None
    mod = ModuleType(modname)
    filename = str(path) if path is not None else f"<divergences generated {modname}>"
    if path is not None:
        mod.__file__ = filename
    # executed from this process's own source, never from the file's contents
    exec(compile(source, filename, "exec"), mod.__dict__)  # noqa: S102
    if path is not None:
        from numba.core.dispatcher import Dispatcher

        cache_class = _cache_class()
        for value in list(mod.__dict__.values()):
            if isinstance(value, Dispatcher) and value.py_func.__module__ == modname:
                try:
                    value._cache = cache_class(value.py_func, writable)
                except Exception as exc:
                    warn_once(f"attach:{folder}", f"divergences kernel cache: unusable ({exc})")
    return mod


@functools.cache
def _cache_class() -> Any:
    """Numba's function cache, kept in the cache folder itself and tolerant of damaged
    entries (ignored, then overwritten) and of a folder that cannot be written."""
    from numba.core import caching

    class FolderLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
        def __init__(self, py_func: Any, py_file: str) -> None:
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = os.path.dirname(py_file)

        def get_cache_path(self) -> str:
            return self._cache_path

        def ensure_cache_path(self) -> None:
            pass  # the folder exists (chosen by cache_folder); failed writes are reported

        @classmethod
        def from_function(cls, py_func: Any, py_file: str) -> FolderLocator:
            return cls(py_func, py_file)

    def damaged(folder: str) -> None:
        warn_once(
            f"corrupt:{folder}",
            f"divergences kernel cache: ignored unreadable or damaged files in {folder} "
            "(the kernels are compiled again)",
        )

    class TolerantIndex(caching.IndexDataCacheFile):
        def _load_index(self) -> dict[Any, Any]:
            try:
                return super()._load_index()
            except Exception:
                damaged(self._cache_path)
                return {}

        def _load_data(self, name: str) -> Any:
            try:
                return super()._load_data(name)
            except OSError:
                raise
            except Exception:
                damaged(self._cache_path)
                return None

    class Impl(caching.CompileResultCacheImpl):
        _locator_classes: ClassVar[list[Any]] = [FolderLocator]

    class KernelCache(caching.FunctionCache):
        _impl_class = Impl

        def __init__(self, py_func: Any, writable: bool, tag: str = "") -> None:
            super().__init__(py_func)
            self._writable = writable
            base = self._impl.filename_base
            self._cache_file = TolerantIndex(
                cache_path=self._cache_path,
                filename_base=f"{base}-{tag}" if tag else base,
                source_stamp=self._impl.locator.get_source_stamp(),
            )

        def twin(self, py_func: Any, tag: str) -> KernelCache:
            """A cache for another compilation of ``py_func`` (other flags), in files of
            its own (Numba's index keys do not tell flags apart)."""
            return KernelCache(py_func, self._writable, tag)

        def load_overload(self, sig: Any, target_context: Any) -> Any:
            try:
                return super().load_overload(sig, target_context)
            except Exception:
                damaged(self._cache_path)
                return None

        def save_overload(self, sig: Any, data: Any) -> None:
            if not self._writable:
                return
            try:
                super().save_overload(sig, data)
            except OSError as exc:
                warn_once(
                    f"write:{self._cache_path}",
                    f"divergences kernel cache: cannot write to {self._cache_path} "
                    f"({exc.strerror or exc}); kernels are compiled in memory",
                )

    return KernelCache
