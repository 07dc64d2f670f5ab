"""Writing files all or nothing: a result appears under its name only once complete.

Everything is written to a temporary file in the destination's folder, flushed to disk and
renamed onto the destination (atomic on POSIX file systems).  Any failure (a full disk, an
interrupt, an error while formatting) removes the temporary file and leaves an existing
destination untouched: never a truncated, empty or half-replaced file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def replacing(destination: str | os.PathLike[str]) -> Iterator[str]:
    """A temporary path to write to; it becomes ``destination`` when the block ends without
    an exception, and is removed otherwise.

    The new file gets the mode of the file it replaces, or the usual mode of a new file
    (``0o666`` less the umask).  Raises ``OSError`` (as ``open`` would) when the folder
    cannot take a file.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with replacing(os.path.join(folder, "out.txt")) as tmp:
    ...     with open(tmp, "w") as f:
    ...         _ = f.write("done")
    >>> os.listdir(folder)
    ['out.txt']
    """
    dest = os.path.abspath(os.fspath(destination))
    folder, name = os.path.split(dest)
    # the destination's extension kept last: writers that choose the format from the name
    # (matplotlib's savefig) write the same format to the temporary file
    ext = os.path.splitext(name)[1]
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".partial{ext}", dir=folder)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # on disk before the rename, or the error is raised here
            os.fsync(f.fileno())
        try:
            mode = os.stat(dest).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether paths ``a`` and ``b`` name one existing file (also through links or
    different spellings of the path)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
