"""Files of the facts cache written whole and by one process at a time.

A file is written under a temporary name in its folder, then renamed, so a reader never sees
half a file; :func:`write_once` holds an exclusive lock (``fcntl``) on ``<file>.lock`` while
it writes, so processes of one report running in parallel write each file once.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_once(path: Path, write) -> None:
    """Write ``path`` with ``write(tmp)`` unless it exists; one writer at a time (file lock).

    A parallel process wanting the same file waits for the writer, then finds it whole.

    Parameters
    ----------
    path : pathlib.Path
        The file to write.
    write : callable
        Called with a temporary path to write the file's content to.
    """
    if path.is_file():
        return
    with exclusive_lock(path.with_name(path.name + ".lock")):
        if not path.is_file():
            write_atomic(path, write)


@contextlib.contextmanager
def exclusive_lock(lock_path: Path):
    """Hold an exclusive lock on the file ``lock_path`` (created if missing).

    Parameters
    ----------
    lock_path : pathlib.Path
        The lock file; other processes asking for the same lock wait until it is released.

    Yields
    ------
    None
        While the lock is held.
    """
    import fcntl

    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomic(target: Path, write_to) -> None:
    """Write ``target`` through a temporary file beside it, then rename it into place.

    Parameters
    ----------
    target : pathlib.Path
        The file to write; a reader sees the old file or the whole new one, never a part.
    write_to : callable
        Called with the temporary path; writes the content there.
    """
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write_to(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


__all__ = ["exclusive_lock", "write_atomic", "write_once"]
