"""The command's output files are written all or nothing (issue 13 item 14): a full disk
or any other failure leaves no partial file and an existing output untouched, CSV output
is streamed, and an output that is one of the inputs is refused."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import divergences as dv
from divergences import atomic, cli
from divergences.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: the first measure of the registry without parameters, defined on non-negative input
NAME = next(m.name for m in dv.measures() if not m.params)
OLD = b"an earlier result\n"


def _inputs(folder: Path, rows: int = 40, d: int = 8) -> Path:
    X = np.random.default_rng(0).dirichlet(np.ones(d), size=rows)
    path = folder / "X.npy"
    np.save(path, X)
    return path


def _can_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".npy", ".npz"])
def test_a_failed_write_leaves_no_partial_file_and_the_old_output(tmp_path, monkeypatch, capsys, ext):
    """The disk fills up when the data reaches it (fsync): an error naming the file, no
    temporary file left, the earlier output byte for byte."""
    X = _inputs(tmp_path)
    out = tmp_path / f"out{ext}"
    out.write_bytes(OLD)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full)
    cmd = ["knn", NAME, str(X), str(X), "-k", "3"] if ext == ".npz" else ["compute", NAME, str(X)]
    assert main([*cmd, "-o", str(out)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["X.npy", out.name])


@pytest.mark.skipif(not _can_mount(), reason="needs root and mount namespaces (a small tmpfs)")
@pytest.mark.parametrize("ext", [".csv", ".tsv", ".npy", ".npz"])
def test_a_really_full_disk(tmp_path, ext):
    """The same on a 64 KiB tmpfs: the result does not fit; the earlier output stays."""
    X = _inputs(tmp_path, rows=200, d=8)
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / f"out{ext}"
    cmd = ["knn", NAME, str(X), str(X), "-k", "50"] if ext == ".npz" else ["compute", NAME, str(X)]
    script = (
        f"mount -t tmpfs -o size=64k tmpfs '{disk}' && printf 'an earlier result\\n' > '{out}' && "
        f"{sys.executable} -m divergences {' '.join(cmd)} -o '{out}'; rc=$?; "
        f"cat '{out}'; ls -A '{disk}'; exit $rc"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "cannot write" in proc.stderr and "o space left on device" in proc.stderr
    assert proc.stdout == f"an earlier result\nout{ext}\n"


def test_csv_output_is_streamed(tmp_path):
    """Formatting a 1000 x 1000 result (about 19 MB of text) never holds the text whole:
    the peak of Python allocations stays below the matrix's own 8 MB."""
    D = np.random.default_rng(1).random((1000, 1000))
    out = tmp_path / "D.csv"
    tracemalloc.start()
    try:
        cli._write(str(out), D)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < D.nbytes, peak
    np.testing.assert_array_equal(np.loadtxt(out, delimiter=","), D)  # exact round trip


@pytest.mark.parametrize("how", ["same path", "other spelling", "symlink", "hard link"])
def test_an_output_that_is_an_input_is_refused(tmp_path, capsys, how):
    X = np.random.default_rng(0).dirichlet(np.ones(4), size=5)
    src = tmp_path / "in.csv"
    np.savetxt(src, X, delimiter=",")
    before = src.read_bytes()
    out = {
        "same path": src,
        "other spelling": tmp_path / "." / "sub" / ".." / "in.csv",
        "symlink": tmp_path / "link.csv",
        "hard link": tmp_path / "hard.csv",
    }[how]
    (tmp_path / "sub").mkdir()
    if how == "symlink":
        out.symlink_to(src)
    elif how == "hard link":
        os.link(src, out)
    for argv in (["compute", NAME, str(src)], ["compute", NAME, str(tmp_path / "sub" / ".." / "in.csv"), str(src)]):
        assert main([*argv, "-o", str(out)]) == 2
        assert "is the input file" in capsys.readouterr().err
    assert src.read_bytes() == before


def test_replacing_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    out = tmp_path / "D.npy"
    out.write_bytes(OLD)
    out.chmod(0o640)
    assert main(["compute", NAME, str(_inputs(tmp_path)), "-o", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o640
    assert np.load(out).shape == (40, 40)
