"""The kernel cache (divergences/kernels/kernel_cache.py): module names that follow every
source they depend on, private folders, damaged and read-only caches, and loading under
threads.  Each scenario runs in a fresh Python process with its own folders; read-only
folders are real (a read-only bind mount in a private mount namespace when running as
root, which ignores permission bits; file modes otherwise)."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from divergences.kernels import kernel_cache

ROOT = Path(__file__).resolve().parents[1]

#: a small generated module using a helper of the vocabulary (inlined by Numba)
TINY = (
    "import numba\n"
    "from divergences.kernels.numba_helpers import div0\n\n\n"
    "@numba.njit(error_model='numpy')\n"
    "def ratio(a, b):\n"
    "    return div0(a, b) + 1.0\n"
)

#: run in the child: load TINY, call it, report what happened as JSON on the last line
CHILD = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from divergences.kernels import kernel_cache as kc
        mod = kc.load_generated("_test_tiny", {tiny!r})
        values = [mod.ratio(1.0, 4.0), mod.ratio(0.0, 0.0)]
        extra = None
        {extra}
    print(json.dumps(dict(
        values=values,
        extra=extra,
        hits=sum(mod.ratio.stats.cache_hits.values()),
        folder=str(kc.cache_dir()),
        module=mod.__name__,
        warnings=[str(w.message) for w in caught if issubclass(w.category, kc.KernelCacheWarning)],
    )))
    """
)


def _env(**extra: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIVERGENCES_", "NUMBA_"))}
    env["PYTHONPATH"] = str(ROOT)
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def _can_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


CAN_MOUNT = _can_mount()
needs_readonly = pytest.mark.skipif(
    os.geteuid() == 0 and not CAN_MOUNT,
    reason="root ignores file modes and cannot make read-only mounts here",
)


def run_child(
    env: dict[str, str],
    extra: str = "",
    readonly: tuple[Path, ...] = (),
    tiny: str = TINY,
    cwd: str = "/",
) -> dict:
    """Run CHILD with ``readonly`` folders made read-only for it; its JSON report."""
    code = CHILD.format(tiny=tiny, extra=extra)
    cmd = [sys.executable, "-c", code]
    restore = []
    if readonly and os.geteuid() == 0:
        mounts = " && ".join(
            f"mount --bind '{p}' '{p}' && mount -o remount,bind,ro '{p}'" for p in readonly
        )
        cmd = ["unshare", "-m", "sh", "-c", f'{mounts} && exec "$@"', "sh", *cmd]
    else:
        for p in readonly:
            for q in (p, *p.rglob("*")):
                restore.append((q, q.stat().st_mode))
                q.chmod(q.stat().st_mode & ~0o222)
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=cwd)
    finally:
        for q, mode in reversed(restore):
            q.chmod(mode)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_values(report: dict) -> None:
    assert report["values"] == [1.25, 1.0]


# ---- item 7: module names follow everything that decides the machine code ----------------


def _kernel_name(root: Path) -> str:
    code = (
        "import divergences as dv\n"
        "from divergences.kernels import numba_cpu\n"
        "print(numba_cpu.kernels(dv.get('kullback_leibler'), 'strict').__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(PYTHONPATH=str(root), DIVERGENCES_CACHE_DIR=str(root / "cache")),
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    return proc.stdout.strip().splitlines()[-1]


def test_a_changed_helper_constant_renames_the_kernel_modules(tmp_path):
    """KL's generated source does not change when the constant LOG1PMX_SERIES_BELOW of its
    inlined helper log1pmx does (wherever it is defined), but its machine code does: the
    module name must change, or a warm cache keeps serving the old code."""
    copy = tmp_path / "pkg"
    shutil.copytree(ROOT / "divergences", copy / "divergences", ignore=shutil.ignore_patterns("__pycache__"))
    before = _kernel_name(copy)
    pattern = re.compile(r"^LOG1PMX_SERIES_BELOW = (.+)$", re.M)
    [defining] = [p for p in (copy / "divergences").rglob("*.py") if pattern.search(p.read_text())]
    text = defining.read_text()
    value = float(pattern.search(text).group(1))
    defining.write_text(pattern.sub(f"LOG1PMX_SERIES_BELOW = {value / 2!r}", text))
    assert _kernel_name(copy) != before


def test_the_digest_follows_numba_and_the_imported_modules(monkeypatch):
    """Numba's version is part of the digest, and so is every module the generated source
    imports, transitively (numba_helpers, and the vocabulary table it imports)."""
    import numba

    import divergences as dv
    from divergences.kernels import numba_cpu, numba_helpers

    source = numba_cpu.module_source(dv.get("kullback_leibler"), "strict")
    files = kernel_cache.kernel_sources(source)
    assert Path(numba_helpers.__file__) in files
    # every loaded module of divergences holding numba_helpers' constant (where it is
    # defined, and where it is imported) is hashed
    holders = {
        Path(mod.__file__)
        for name, mod in list(sys.modules.items())
        if name.startswith("divergences") and getattr(mod, "__file__", None)
        and getattr(mod, "LOG1PMX_SERIES_BELOW", None) is numba_helpers.LOG1PMX_SERIES_BELOW
    }
    # the fused loss kernels import vecmath (which holds the constant too): their digest
    # covers it
    from divergences import fused

    fused_files = kernel_cache.kernel_sources(
        fused.module_source(dv.get("kullback_leibler"), "strict", "logits", "probs", "y")
    )
    assert len(holders) >= 2 and holders <= set(files) | set(fused_files), holders - set(
        files
    ) - set(fused_files)
    before = kernel_cache.source_digest(source)
    kernel_cache.source_digest.cache_clear()
    monkeypatch.setattr(numba, "__version__", numba.__version__ + ".post1")
    try:
        assert kernel_cache.source_digest(source) != before
    finally:
        monkeypatch.undo()
        kernel_cache.source_digest.cache_clear()
    assert kernel_cache.source_digest(source) == before


# ---- item 8: private folders; a planted cache is never read ------------------------------


class _Plant:
    """Unpickling this creates ``marker``: proof that a planted cache file was read."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _fallback_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No DIVERGENCES_CACHE_DIR, an unusable user cache folder: the temporary folder is
    the only candidate left."""
    (tmp_path / "not-a-folder").write_text("")
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return _env(XDG_CACHE_HOME=str(tmp_path / "not-a-folder"), TMPDIR=str(tmp_path / "tmp"), **extra)


def test_created_folders_are_private(tmp_path):
    report = run_child(_fallback_env(tmp_path))
    check_values(report)
    folder = Path(report["folder"])
    assert folder == tmp_path / "tmp" / f"divergences-{os.getuid()}" / "numba"
    for p in (folder, folder.parent):
        assert p.stat().st_mode & 0o777 == 0o700
        assert p.stat().st_uid == os.getuid()
    assert report["warnings"] == []


@pytest.mark.parametrize("plant", ["world-writable", "foreign-owner", "symlink"])
def test_a_planted_fallback_folder_is_not_read(tmp_path, plant):
    """A world-writable, foreign or linked <tmp>/divergences-<uid> is skipped with a
    warning naming it, and its planted cache files are never unpickled."""
    env = _fallback_env(tmp_path)
    # the names the tiny module's cache files get, from a legitimate run elsewhere
    legit = run_child(_env(DIVERGENCES_CACHE_DIR=str(tmp_path / "legit")))
    names = [p.name for p in Path(legit["folder"]).iterdir() if p.suffix in (".nbi", ".nbc")]
    assert names
    base = tmp_path / "tmp" / f"divergences-{os.getuid()}"
    target = tmp_path / "attacker" if plant == "symlink" else base
    (target / "numba").mkdir(parents=True)
    marker = tmp_path / "planted-code-ran"
    for name in names:
        (target / "numba" / name).write_bytes(pickle.dumps(_Plant(marker)))
    shutil.copy(Path(legit["folder"]) / f"{legit['module']}.py", target / "numba")
    if plant == "world-writable":
        os.chmod(base, 0o777)
        os.chmod(base / "numba", 0o777)
    elif plant == "foreign-owner":
        if os.geteuid() != 0:
            pytest.skip("only root can give a folder away")  # pragma: no cover
        for p in (base, base / "numba"):
            os.chown(p, 65534, 65534)
            os.chmod(p, 0o755)
    else:
        base.symlink_to(target)
    report = run_child(env)
    check_values(report)
    assert not marker.exists()
    assert report["folder"] == "None"  # nothing else is usable: compiled in memory
    assert any(str(base) in w for w in report["warnings"])


# ---- item 9: damaged cache files are ignored, then repaired ------------------------------


DAMAGE = {
    "empty": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "random": lambda data: os.urandom(max(len(data), 64)),
}


CASES = [(s, d) for s in (".nbi", ".nbc") for d in DAMAGE] + [(".py", "random"), (".py", "empty")]


def test_damaged_cache_files_are_ignored_and_repaired(tmp_path):
    """Each damage in turn (every file of one kind at once): the run after it computes the
    right values, says once that it ignored files of the folder, and repairs them."""
    env = _env(DIVERGENCES_CACHE_DIR=str(tmp_path / "cache"))
    folder = Path(run_child(env)["folder"])
    for suffix, damage in CASES:
        files = [p for p in folder.iterdir() if p.suffix == suffix]
        assert files, suffix
        for p in files:
            p.write_bytes(DAMAGE[damage](p.read_bytes()))
        report = run_child(env)
        check_values(report)
        assert len(report["warnings"]) == 1, (suffix, damage, report["warnings"])
        assert str(folder) in report["warnings"][0]
    repaired = run_child(env)
    check_values(repaired)
    assert repaired["warnings"] == [] and repaired["hits"] >= 1


# ---- item 10: read-only installs ---------------------------------------------------------


@needs_readonly
def test_a_warm_read_only_cache_is_read(tmp_path):
    env = _env(DIVERGENCES_CACHE_DIR=str(tmp_path / "cache"))
    cold = run_child(env)
    assert cold["hits"] == 0
    warm = run_child(env, readonly=(tmp_path / "cache",))
    check_values(warm)
    assert warm["hits"] >= 1
    assert len(warm["warnings"]) == 1 and "read-only" in warm["warnings"][0]


@pytest.mark.skipif(not CAN_MOUNT, reason="needs root and mount namespaces (a read-only /tmp)")
def test_nothing_writable_compiles_in_memory(tmp_path):
    """Read-only package, HOME, user cache and /tmp (an arbitrary-UID container): every
    kernel still runs, with one warning."""
    (tmp_path / "home").mkdir()
    env = _env(HOME=str(tmp_path / "home"), XDG_CACHE_HOME=None, TMPDIR=None)
    extra = (
        "import numpy as np, divergences as dv\n"
        "    X = np.array([[0.2, 0.8], [0.5, 0.5]])\n"
        "    extra = dv.cdist(X, X, 'chebyshev', method='direct').tolist()"
    )
    # every folder tempfile.gettempdir() would fall back to, the working folder last
    tmps = [Path(p) for p in ("/tmp", "/var/tmp", "/usr/tmp") if Path(p).is_dir()]
    readonly = (*tmps, tmp_path / "home", ROOT / "divergences")
    report = run_child(env, extra=extra, readonly=readonly, cwd=str(tmp_path / "home"))
    check_values(report)
    assert [v for row in report["extra"] for v in row] == pytest.approx([0, 0.3, 0.3, 0], abs=1e-15)
    assert report["folder"] == "None"
    assert len(report["warnings"]) == 1 and "in memory" in report["warnings"][0]


@needs_readonly
def test_a_read_only_pycache_does_not_stop_caching(tmp_path):
    folder = tmp_path / "cache" / "numba"
    (folder / "__pycache__").mkdir(parents=True, mode=0o700)
    os.chmod(tmp_path / "cache", 0o700)
    env = _env(DIVERGENCES_CACHE_DIR=str(tmp_path / "cache"))
    readonly = (folder / "__pycache__",)
    run_child(env, readonly=readonly)
    again = run_child(env, readonly=readonly)
    check_values(again)
    assert again["hits"] >= 1 and again["warnings"] == []


# ---- item 11: a generated module is built once and published complete ---------------------


def test_threads_loading_one_module_get_it_complete(tmp_path, monkeypatch):
    monkeypatch.setenv("DIVERGENCES_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernel_cache, "_FOLDER", [])
    builds: list[int] = []
    monkeypatch.setattr(sys, "_divergences_test_builds", builds, raising=False)
    source = (
        "import sys, time\n"
        "sys._divergences_test_builds.append(1)\n"
        "time.sleep(0.3)\n"
        "def done():\n"
        "    return 42\n"
    )
    results: list[object] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        try:
            results.append(kernel_cache.load_generated(f"_test_slow_{os.getpid()}", source).done())
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 8
    assert builds == [1]


JS_THREADS = textwrap.dedent(
    """
    import threading, numpy as np, divergences as dv
    rng = np.random.default_rng(0)
    X, Y = rng.random((40, 16)), rng.random((30, 16))
    ref = dv.get("jensen_shannon")(X[3], Y[5])
    out, barrier = [], threading.Barrier(8)
    def work():
        barrier.wait()
        try:
            out.append(bool(abs(dv.cdist(X, Y, "jensen_shannon")[3, 5] - ref) < 1e-12))
        except Exception as exc:
            out.append(repr(exc))
    threads = [threading.Thread(target=work) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(out)
    """
)


def test_eight_threads_first_jensen_shannon_in_a_fresh_process(tmp_path):
    """The first cdist of the Jensen-Shannon family from 8 threads at once, fresh cache."""
    env = _env(DIVERGENCES_CACHE_DIR=str(tmp_path / "cache"))
    for _ in range(2):  # cold, then warm: the module loads while the others wait
        proc = subprocess.run(
            [sys.executable, "-c", JS_THREADS], env=env, capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip() == str([True] * 8)


# ---- CPython 3.11's AST constructor is not thread-safe (gh-106905) -------------------------

#: a source big enough that parsing it is long enough for another thread to cut in
_BIG_SOURCE = "\n".join(
    f"def f{i}(x):\n    return ((x + {i}) * (x - {i})) / (x ** 2 + 1)" for i in range(300)
)


class _Finalized:
    """Cyclic garbage whose finalizer runs Python code, so that a collection during a parse
    lets another thread take the interpreter."""

    def __del__(self) -> None:
        for _ in range(3):
            pass


def _garbage() -> None:
    """Leave cyclic garbage behind, so that the next allocations may collect it."""
    junk = [_Finalized() for _ in range(20)]
    for j in junk:
        j.self = j


def _run_racing(threads: list[threading.Thread]) -> None:
    """Start and join ``threads`` with a thread switch every microsecond and a collection
    every few allocations (restored afterwards): the interleavings the race needs."""
    import gc

    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(5, 1, 1)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)


def _parse_in_threads(parse) -> list[str]:
    """The SystemErrors of 3 threads each parsing _BIG_SOURCE 40 times with ``parse``."""
    errors: list[str] = []

    def work() -> None:
        for _ in range(40):
            _garbage()
            try:
                parse(_BIG_SOURCE)
            except SystemError as exc:
                errors.append(str(exc))

    _run_racing([threading.Thread(target=work) for _ in range(3)])
    return errors


def test_parses_from_several_threads_at_once_never_fail():
    """Parsing is not thread-safe on CPython 3.11: the AST constructor's recursion counter is
    one per interpreter (gh-106905), so two threads parsing at once can fail with
    ``SystemError: AST constructor recursion depth mismatch`` (16 of 120 parses here with
    ``ast.parse``).  divergences' own parses (expr.parse_source) take turns."""
    from divergences.expr import parse_source

    assert _parse_in_threads(parse_source) == []


def test_kernel_digests_from_several_threads_while_another_library_parses():
    """A Dask worker building a kernel failed in kernel_sources' ``ast.parse`` with
    ``SystemError: AST constructor recursion depth mismatch`` (CI, Python 3.11.7), a parse in
    another thread having reset the interpreter-wide counter.  kernel_sources now reads the
    imports from bytecode (compile() builds no ``ast`` objects), so neither our threads nor
    another library's parse in a thread of its own can break it."""
    import ast

    sources: list[object] = []
    stop = threading.Event()

    def foreign() -> None:
        while not stop.is_set():
            _garbage()
            try:
                ast.parse(_BIG_SOURCE)
            except SystemError:
                pass

    def walk() -> None:
        for _ in range(3):
            try:
                sources.append(kernel_cache.kernel_sources.__wrapped__(TINY))
            except Exception as exc:
                sources.append(repr(exc))

    background = threading.Thread(target=foreign)
    background.start()
    try:
        _run_racing([threading.Thread(target=walk) for _ in range(3)])
    finally:
        stop.set()
        background.join()
    want = kernel_cache.kernel_sources(TINY)
    assert sources == [want] * 9
    assert any(p.name == "numba_helpers.py" for p in want)
