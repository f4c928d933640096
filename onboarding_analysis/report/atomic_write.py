"""Write a report file so that a reader never sees it half-written.

Used for ``metrics.json`` (:mod:`onboarding_analysis.report.metrics_io`), ``report.html``
(:mod:`onboarding_analysis.report.page`) and the batch's ``index.html``
(:mod:`onboarding_analysis.report.index`).
"""

from __future__ import annotations

import os
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    A plain ``open()`` (not ``mkstemp``), so the file gets the usual permissions from the
    umask; the temporary file is named after the process, so parallel writers do not collide.
    The folder is created if missing.

    Parameters
    ----------
    path : Path
        The file to write (replaced if it exists).
    text : str
        Its content, written as UTF-8.

    Returns
    -------
    Path
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


__all__ = ["write_text_atomic"]
