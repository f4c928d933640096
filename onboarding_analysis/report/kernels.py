"""Execute one notebook in its own papermill kernel, and say in one line why it failed.

:func:`execute_notebook` runs a notebook with papermill, saves it (also when a cell fails),
retries once a notebook whose kernel did not start or died, and turns every failure into a
:class:`~onboarding_analysis.report.failures.ReportError` naming the notebook, the cell and the
exception. A run (:mod:`onboarding_analysis.report.execution`) calls it for each notebook,
possibly from parallel workers (:mod:`onboarding_analysis.report.scheduling`).
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jupyter_client.kernelspec import NoSuchKernel
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from .failures import ReportError, first_line

_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())

#: Attempts at a notebook that fails for an infrastructure reason: its kernel did not start
#: (it died before replying to ``kernel_info``, or did not reply in time), a port it was
#: given was taken (``zmq.error.ZMQError: Address already in use``), or it died while a cell
#: ran (:class:`~nbclient.exceptions.DeadKernelError`). Such a notebook is executed once more
#: from the start (the cells only read the inputs and record metrics, which the second run
#: overwrites); an error raised by a cell, or a cell timeout, is never retried.
NOTEBOOK_ATTEMPTS = 2

#: ReportError ``ename`` of the failures :data:`NOTEBOOK_ATTEMPTS` retries.
INFRASTRUCTURE_FAILURES = frozenset({"KernelStartError", "DeadKernelError"})

# How kernels get their ports, and why ours use IPC. jupyter_client's LocalProvisioner picks a
# kernel's five TCP ports in the parent process by binding port 0 and closing the socket
# (connect.write_connection_file, LocalPortCache.find_available_port), writes them into the
# connection file, and the kernel binds them a moment later. In between, any other process can
# take one: our notebooks start their kernels from parallel worker processes, and
# LocalPortCache only keeps apart the kernels of one process (jupyter/jupyter_client#487,
# nteract/papermill#511). A shell port taken kills the kernel before kernel_info (retried
# here); a heartbeat port taken only kills ipykernel's Heartbeat thread, which prints
# "Exception in thread Heartbeat: ... ZMQError: Address already in use" on the console while
# the run goes on. The handshake that lets the kernel pick its own ports (JEP 66) is not in
# jupyter_client 8; a lock around kernel start would only order our own processes. So the
# kernels talk over IPC (Unix domain sockets) in a fresh private folder: no port to pick, nothing
# to collide with. TCP is kept where IPC cannot work (Windows, or a temporary folder whose path
# is too long for a socket address); the retry covers that case.
_SOCKET_PATH_MAX = 100  # sun_path holds 104 (macOS) or 108 (Linux) bytes, with a trailing NUL


def _kernel_start_failed(err: BaseException) -> bool:
    """Whether ``err`` is a kernel that did not start.

    jupyter_client's failure to get its first reply, or a port already taken when a kernel socket was bound.
    """
    import errno

    import zmq

    if isinstance(err, zmq.ZMQError):
        return err.errno == errno.EADDRINUSE
    text = str(err)
    return isinstance(err, RuntimeError) and text.startswith(
        ("Kernel died before replying to kernel_info", "Kernel didn't respond in")
    )


def execute_notebook(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    parameters: Mapping[str, Any],
    *,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = 600,
) -> nbformat.NotebookNode:
    """Execute one notebook with papermill and save it, also when a cell fails.

    Parameters
    ----------
    input_path, output_path : path
        The notebook to run, and where to save the executed copy (folders are created).
    parameters : Mapping
        Injected after the cell tagged ``parameters`` (YAML-native values).
    cwd : path, optional
        Working directory of the kernel (default: the caller's). Input and output paths stay
        relative to the caller.
    timeout : float or None
        Seconds any single cell may run; ``None`` for no limit.

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook.

    Raises
    ------
    ReportError
        A cell raised, a cell timed out, the kernel died, did not start or is not installed,
        or the notebook does not exist. The message is one line naming the notebook, the cell
        (index, first source line) and the exception; the partial notebook is saved at
        ``output_path``. A notebook that fails for an infrastructure reason (the kernel did
        not start or died, see :data:`NOTEBOOK_ATTEMPTS`) is executed once more first.

    Notes
    -----
    The kernel talks to papermill over IPC sockets in a private temporary folder, not TCP
    ports, so kernels started at the same moment cannot take each other's ports.

    Examples
    --------
    >>> nb = execute_notebook("notebooks/retention.ipynb", "/tmp/retention.ipynb",
    ...                       {"client": "demo"})                    # doctest: +SKIP
    """
    input_path, output_path = Path(input_path), Path(output_path)
    name = input_path.name
    if not input_path.is_file():
        raise ReportError(f"{input_path}: notebook not found.", notebook=name)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, NOTEBOOK_ATTEMPTS + 1):
        try:
            return _execute(input_path, output_path, parameters, cwd=cwd, timeout=timeout)
        except ReportError as err:
            if err.ename not in INFRASTRUCTURE_FAILURES:
                raise
            if attempt == NOTEBOOK_ATTEMPTS:
                raise _failed_again(err, attempt) from err.__cause__
            _log.info("%s: %s; executing the notebook again", name, err.evalue)
            time.sleep(random.uniform(0.5, 2.0))
    raise AssertionError("unreachable")  # pragma: no cover


def _failed_again(err: ReportError, attempts: int) -> ReportError:
    """``err`` (an infrastructure failure) with a message saying it happened on every attempt."""
    if err.ename == "KernelStartError":
        message = (
            f"{err.notebook}: the python3 kernel did not start ({err.evalue}; {attempts} attempts). "
            "Check that the machine has free memory and processes, then run again, or with "
            "fewer parallel jobs (--jobs)."
        )
    else:
        message = f"{err} The kernel died again when the notebook was executed a second time."
    return ReportError(
        message,
        notebook=err.notebook,
        output_path=err.output_path,
        cell_index=err.cell_index,
        ename=err.ename,
        evalue=f"{err.evalue} ({attempts} attempts)",
    )


def _execute(
    input_path: Path, output_path: Path, parameters: Mapping[str, Any], **options: Any
) -> nbformat.NotebookNode:
    """:func:`_papermill` with ``options`` (``cwd``, ``timeout``), every failure a ReportError."""
    name = input_path.name
    timeout = options["timeout"]
    try:
        return _papermill(input_path, output_path, parameters, **options)
    except PapermillExecutionError as err:
        raise ReportError(
            _cell_failure(name, err.cell_index, err.source, f"{err.ename}: {err.evalue}", output_path),
            notebook=name,
            output_path=output_path,
            cell_index=err.cell_index,
            ename=err.ename,
            evalue=err.evalue,
        ) from err
    except (CellTimeoutError, DeadKernelError) as err:
        index, source = _mark_unfinished_cell(output_path, err)
        what = f"timed out after {timeout} s" if isinstance(err, CellTimeoutError) else "killed the kernel"
        ename = type(err).__name__
        raise ReportError(
            _cell_failure(name, index, source, f"{ename}: the cell {what}", output_path),
            notebook=name,
            output_path=output_path,
            cell_index=index,
            ename=ename,
            evalue=str(err),
        ) from err
    except NoSuchKernel as err:
        raise ReportError(
            f"{name}: no 'python3' Jupyter kernel found ({err}). Install ipykernel in the "
            "environment that runs the report: python -m pip install ipykernel.",
            notebook=name,
        ) from err
    except Exception as err:
        if not _kernel_start_failed(err):
            raise
        raise ReportError(
            f"{name}: the python3 kernel did not start ({first_line(str(err))}).",
            notebook=name,
            output_path=output_path,
            ename="KernelStartError",
            evalue=first_line(str(err)),
        ) from err


def _papermill(
    input_path: Path,
    output_path: Path,
    parameters: Mapping[str, Any],
    *,
    cwd: str | os.PathLike[str] | None,
    timeout: float | None,
) -> nbformat.NotebookNode:
    """papermill.execute_notebook, its kernel on IPC sockets in a private folder (see :func:`_kernel_config`)."""
    with tempfile.TemporaryDirectory(prefix="oa-kernel-", ignore_cleanup_errors=True) as sockets:
        return papermill.execute_notebook(
            str(input_path),
            str(output_path),
            parameters=dict(parameters),
            kernel_name="python3",
            language="python",  # for notebooks whose metadata names no language
            progress_bar=False,
            log_output=False,
            cwd=None if cwd is None else str(cwd),
            execution_timeout=timeout,
            # Quiet the kernel's own log (shutdown noise); errors in cells still reach the notebook.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            config=_kernel_config(Path(sockets)),
        )


def _kernel_config(sockets: Path) -> Config:
    """The kernel manager's config.

    IPC sockets under ``sockets`` (see the comment above :data:`_SOCKET_PATH_MAX`), or TCP where IPC cannot
    work.
    """
    ip = sockets / "kernel"
    if os.name == "nt" or len(str(ip)) + len("-5") > _SOCKET_PATH_MAX:
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": str(ip)}})


#: Errors of the package's own input checks: their message names the file or key, the value and
#: the fix, so a report stopped by one says just that (the cell that called the check is noise).
INPUT_ERRORS = ("DataError", "ParamsError")


def _cell_failure(name: str, index: int | None, source: str, error: str, output_path: Path) -> str:
    ename, _, evalue = error.partition(": ")
    if ename in INPUT_ERRORS:
        return f"{evalue.rstrip('.')}. (The report stopped in {name}; its partial copy is {output_path}.)"
    first_line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    where = f"cell {index}" if index is not None else "a cell"
    if first_line:
        where += f" ({first_line[:80]!r})"
    return (
        f"{name}: {where} failed with {error}. The partially executed notebook is saved at "
        f"{output_path}: open it to see the traceback."
    )


def _mark_unfinished_cell(output_path: Path, err: Exception) -> tuple[int | None, str]:
    """Find the cell that was running when ``err`` stopped the run; record the error in it.

    papermill saves the notebook after every cell but adds no error output for a timeout or a
    dead kernel: the running cell is the last one with a start time.
    """
    if not output_path.is_file():
        return None, ""
    nb = nbformat.read(output_path, as_version=4)
    started = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    if not started:
        return None, ""
    index = started[-1]
    cell = nb.cells[index]
    if cell.cell_type == "code":
        cell.outputs.append(
            nbformat.v4.new_output("error", ename=type(err).__name__, evalue=str(err), traceback=[str(err)])
        )
        cell.metadata.setdefault("papermill", {}).update(exception=True, status="failed")
        nbformat.write(nb, output_path)
    return index, cell.source


__all__ = ["INFRASTRUCTURE_FAILURES", "NOTEBOOK_ATTEMPTS", "execute_notebook"]
