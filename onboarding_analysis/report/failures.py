"""Why a run failed, said once: the error a failed notebook raises and the file it leaves.

:class:`ReportError` carries the notebook, the cell and the exception of a failed notebook
(:mod:`onboarding_analysis.report.kernels` raises it); :func:`failure_summary` turns any error into
the one line a batch index and the console show; :func:`write_error_file` writes it, with the
full message, as ``error.txt`` in the run folder.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

from ..errors import OnboardingAnalysisError

#: File name of the failure summary a failed run leaves in its folder (notebook, cell, message).
ERROR_FILE = "error.txt"


class ReportError(OnboardingAnalysisError):
    """A report notebook failed (error in a cell, cell timeout, dead kernel) or is missing.

    Attributes
    ----------
    notebook : str
        File name of the notebook.
    output_path : Path or None
        Where the (partially) executed notebook was saved.
    cell_index : int or None
        0-based index of the failing cell in the executed notebook, counting papermill's
        injected-parameters cell (as in the saved notebook, before papermill's error banners).
    ename, evalue : str or None
        Exception name and value raised in the notebook.

    Parameters
    ----------
    message : str
        The one-line message.
    notebook, output_path, cell_index, ename, evalue
        The attributes above.
    """

    def __init__(
        self,
        message: str,
        *,
        notebook: str = "",
        output_path: Path | None = None,
        cell_index: int | None = None,
        ename: str | None = None,
        evalue: str | None = None,
    ) -> None:
        super().__init__(message)
        self.notebook = notebook
        self.output_path = output_path
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue


def failure_summary(error: BaseException) -> str:
    r"""One line saying why a run failed: the notebook, the cell and the error, if known.

    Parameters
    ----------
    error : BaseException
        Why the run stopped.

    Returns
    -------
    str
        At most 300 characters.

    Examples
    --------
    >>> failure_summary(ReportError("...", notebook="retention.ipynb", cell_index=3,
    ...                             ename="DataError", evalue="events.csv: no event rows"))
    'retention.ipynb cell 3: DataError: events.csv: no event rows'
    >>> failure_summary(ValueError("bad\\nsecond line"))
    'ValueError: bad'
    """
    if isinstance(error, ReportError) and error.ename:
        where = error.notebook + (f" cell {error.cell_index}" if error.cell_index is not None else "")
        text = f"{where}: {error.ename}: {first_line(error.evalue)}"
    elif isinstance(error, OnboardingAnalysisError):
        text = first_line(str(error))
    else:
        text = f"{type(error).__name__}: {first_line(str(error))}"
    return text if len(text) <= 300 else text[:297] + "..."


def first_line(text: str | None) -> str:
    """The first non-blank line of ``text``.

    Parameters
    ----------
    text : str or None
        Any message.

    Returns
    -------
    str
        Its first non-blank line, stripped (``""`` for none).
    """
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


def write_error_file(
    run_dir: str | os.PathLike[str],
    error: BaseException,
    *,
    run_name: str,
    params_file: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``<run_dir>/error.txt``: which run failed, in which notebook and cell, and why.

    The first lines are ``key: value`` pairs (``run``, ``params``, ``notebook``, ``cell``,
    ``error``, ``partial notebook``), then the full message; for an unexpected error (not an
    :class:`~onboarding_analysis.errors.OnboardingAnalysisError`) the traceback as well.


    Parameters
    ----------
    run_dir : path
        The run folder (created if missing).
    error : BaseException
        Why the run failed.
    run_name : str
        The run's name (its ``client``).
    params_file : path, optional
        The run's params file, as shown to the user.

    Returns
    -------
    Path
        The written ``error.txt``.

    Examples
    --------
    >>> write_error_file("reports/acme", err, run_name="acme")          # doctest: +SKIP
    PosixPath('reports/acme/error.txt')
    """
    run_dir = Path(run_dir)
    lines = [f"run: {run_name}"]
    if params_file is not None:
        lines.append(f"params: {params_file}")
    if isinstance(error, ReportError):
        lines.append(f"notebook: {error.notebook or '-'}")
        lines.append(f"cell: {'-' if error.cell_index is None else error.cell_index}")
    else:
        lines.append("notebook: - (the run stopped before a notebook failed)")
    lines.append(f"error: {failure_summary(error)}")
    if isinstance(error, ReportError) and error.output_path is not None:
        lines.append(f"partial notebook: {error.output_path}")
    lines += ["", str(error)]
    if not isinstance(error, OnboardingAnalysisError | FileNotFoundError):
        lines += ["", "".join(traceback.format_exception(error)).rstrip()]
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / ERROR_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


__all__ = ["ERROR_FILE", "ReportError", "failure_summary", "first_line", "write_error_file"]
