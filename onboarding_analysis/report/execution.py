"""Run the report notebooks for one params file and render them into one HTML page.

A run (:func:`run_report`) executes every notebook of :data:`REPORT_NOTEBOOKS` with papermill
into ``<out_dir>/<client>/``, records the run's identity in ``metrics.json`` (the notebooks add
the analysis keys themselves, see :mod:`onboarding_analysis.report.metrics_io`), then the summary
written from the final metrics (``summary.headline``, ``summary.findings``, see
:mod:`onboarding_analysis.report.summary`), and renders the executed notebooks into one
self-contained ``report.html`` (:func:`render_html`): no code, no prompts, no parameter cells,
a header with the run's params and data period, the "At a glance" block, a table of contents,
images embedded, readable on a phone.

Examples
--------
>>> from onboarding_analysis.report.execution import run_report
>>> run_report("params/demo.yaml", out_dir="reports")            # doctest: +SKIP
PosixPath('reports/demo/report.html')
"""

from __future__ import annotations

import dataclasses
import html
import logging
import os
import random
import re
import tempfile
import time
import traceback
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
import papermill
from bs4 import BeautifulSoup
from jupyter_client.kernelspec import NoSuchKernel
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from ..data.loading import check_inputs
from ..errors import OnboardingAnalysisError, ParamsError
from ..params import Params, load_params, validate_params
from ..version import __version__
from .metrics_io import METRICS_FILE, record_metrics
from .summary import Summary, build_summary, summary_html, summary_metrics

#: The notebooks making up the report, in report order (file names inside NOTEBOOK_DIR).
REPORT_NOTEBOOKS: tuple[str, ...] = (
    "quality.ipynb",
    "retention.ipynb",
    "onboarding.ipynb",
    "engagement.ipynb",
    "segments.ipynb",
    "moments.ipynb",
)

#: In a parallel run, the notebooks that start first, longest first (their order at 1M users:
#: segments ~30 s of their own work, moments ~20, onboarding ~20, engagement ~15, then quality
#: and retention): started last, a long notebook would run alone on an otherwise idle machine.
#: Other notebooks follow in report order. The report itself keeps the report order.
START_FIRST: tuple[str, ...] = ("segments.ipynb", "moments.ipynb", "onboarding.ipynb", "engagement.ipynb")

#: The repository's ``notebooks/`` folder.
NOTEBOOK_DIR: Path = Path(__file__).resolve().parents[2] / "notebooks"

#: File name of the rendered report inside the run folder.
REPORT_FILE = "report.html"

#: File name of the failure summary a failed run leaves in its folder (notebook, cell, message).
ERROR_FILE = "error.txt"

#: Cell tags whose cells never appear in the rendered report.
REMOVED_CELL_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell"})

#: Params shown in the report's header table, in this order.
HEADER_KEYS = (
    "client",
    "events",
    "users",
    "observation_end",
    "timezone",
    "signup_event",
    "value_events",
    "inactivity_days",
    "segments",
    "filters",
    "change_date",
)

# Extra CSS: phone-width reading (images shrink, wide tables scroll in their own box), the
# formatted tables of onboarding_analysis.display.tables, notes, collapsible detail, header/TOC/appendix.
REPORT_CSS = """
html, body { overflow-x: hidden; }
.oa-header, .oa-glance, nav.oa-toc, .oa-appendix {
  font-family: var(--jp-content-font-family, system-ui, sans-serif); color: var(--jp-content-font-color1, #222);
  font-size: 15px; line-height: 1.55;
}
.oa-appendix p, .oa-appendix dd { max-width: 48em; }
.oa-appendix h1 { font-size: 1.7em; font-weight: 500; margin: 1em 0 0.5em 0; }
.jp-OutputArea-output img, .jp-RenderedMarkdown img { max-width: 100%; height: auto; }
.jp-OutputArea-output, .jp-RenderedHTMLCommon { overflow-x: auto; min-width: 0; }
.jp-OutputArea-child, .jp-OutputArea-output { max-width: 100%; }
.jp-RenderedHTMLCommon table:not(.oa-table):not(.oa-params) { display: block; max-width: 100%; overflow-x: auto; }
.jp-RenderedText pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.oa-header { margin-bottom: 1em; }
.oa-header h1 { margin-top: 0.2em; font-weight: 500; }
.oa-scroll { width: fit-content; max-width: 100%; max-height: 75vh; overflow: auto; margin: 0.4em 0 0.6em 0;
  border: 1px solid #e0e0e0; border-radius: 4px; }
.jp-RenderedHTMLCommon table.oa-table, table.oa-table {
  border-collapse: separate; border-spacing: 0; font-size: 13px; line-height: 1.35;
  margin: 0; table-layout: auto; width: auto; max-width: none; display: table;
}
.jp-RenderedHTMLCommon table.oa-table th, .jp-RenderedHTMLCommon table.oa-table td,
table.oa-table th, table.oa-table td {
  padding: 4px 10px; border: none; border-bottom: 1px solid #eee; vertical-align: top;
  max-width: 28em; white-space: normal; overflow-wrap: normal; word-break: normal;
}
.jp-RenderedHTMLCommon table.oa-table thead th, table.oa-table thead th {
  position: sticky; top: 0; z-index: 1; background: #f5f5f5; font-weight: 600;
  border-bottom: 1px solid #ccc; vertical-align: bottom;
}
.jp-RenderedHTMLCommon table.oa-table .oa-num, table.oa-table .oa-num {
  text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;
}
.jp-RenderedHTMLCommon table.oa-table .oa-text, table.oa-table .oa-text { text-align: left; }
.jp-RenderedHTMLCommon table.oa-table tbody th, table.oa-table tbody th { font-weight: 500; }
.jp-RenderedHTMLCommon table.oa-table tbody tr:nth-child(even), table.oa-table tbody tr:nth-child(even) {
  background: #fafafa; }
.oa-ci { display: block; font-size: 0.85em; color: #666; font-weight: normal; }
.oa-value { margin: 0.1em 0; }
.oa-value.oa-sub { margin-left: 1.5em; color: #444; }
.oa-caption, .oa-empty { margin: 0.2em 0 0.8em 0; color: #444; }
.oa-note { margin: 0.4em 0; padding: 0.4em 0.8em; border-left: 3px solid #c9a227; background: #fdf8e8; }
details.oa-details { margin: 0.4em 0 0.8em 0; }
details.oa-details > summary, nav.oa-toc summary { cursor: pointer; color: #1a5fb4; }
table.oa-params { border-collapse: collapse; font-size: 0.9em; margin: 0; }
table.oa-params th, table.oa-params td {
  text-align: left; vertical-align: top; padding: 2px 10px; border-bottom: 1px solid #ddd;
  overflow-wrap: anywhere;
}
nav.oa-toc { margin: 0 0 1.5em 0; padding: 0.5em 1em; border-left: 3px solid #ccc; }
nav.oa-toc ol { margin: 0.2em 0; padding-left: 1.4em; }
.oa-appendix { margin-top: 2.5em; padding: 0 var(--jp-cell-padding, 5px); }
.oa-appendix dt { font-weight: 600; margin-top: 0.6em; }
.oa-appendix dd { margin: 0.1em 0 0 1em; }
@media (max-width: 700px) {
  body.jp-Notebook, main { padding: 6px !important; }
  .jp-Cell { padding: 2px 0 !important; }
  .jp-RenderedHTMLCommon table.oa-table, table.oa-table { font-size: 12px; }
  .jp-RenderedHTMLCommon table.oa-table th, .jp-RenderedHTMLCommon table.oa-table td { padding: 3px 6px; }
}
"""

_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())  # nbconvert's per-image "missing alt text" warnings


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


# --------------------------------------------------------------------------------------------
# Executing notebooks
# --------------------------------------------------------------------------------------------


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
    """Whether ``err`` is a kernel that did not start: jupyter_client's failure to get its
    first reply, or a port already taken when a kernel socket was bound.
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
    input_path: Path,
    output_path: Path,
    parameters: Mapping[str, Any],
    *,
    cwd: str | os.PathLike[str] | None,
    timeout: float | None,
) -> nbformat.NotebookNode:
    name = input_path.name
    try:
        return _papermill(input_path, output_path, parameters, cwd=cwd, timeout=timeout)
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
            f"{name}: the python3 kernel did not start ({_first_line(str(err))}).",
            notebook=name,
            output_path=output_path,
            ename="KernelStartError",
            evalue=_first_line(str(err)),
        ) from err


def _papermill(
    input_path: Path,
    output_path: Path,
    parameters: Mapping[str, Any],
    *,
    cwd: str | os.PathLike[str] | None,
    timeout: float | None,
) -> nbformat.NotebookNode:
    """papermill.execute_notebook, its kernel on IPC sockets in a private folder (see
    :func:`_kernel_config`).
    """
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
    """The kernel manager's config: IPC sockets under ``sockets`` (see the comment above
    :data:`_SOCKET_PATH_MAX`), or TCP where IPC cannot work.
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


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def render_html(
    executed_notebooks: Sequence[str | os.PathLike[str] | nbformat.NotebookNode],
    html_path: str | os.PathLike[str],
    *,
    title: str,
    header: Mapping[str, Any],
    period: str | None = None,
    image_dir: str | os.PathLike[str] | None = None,
    summary: Summary | None = None,
    params: Mapping[str, Any] | None = None,
) -> Path:
    """Merge executed notebooks, in order, into one self-contained HTML page.

    The page has no code inputs and no prompts; cells tagged ``parameters``,
    ``injected-parameters`` or ``remove-cell`` are dropped (``remove-output`` drops a cell's
    outputs). A title block shows ``title`` and ``period``; a table of contents (one line that
    opens on a click) links to every level-1 and level-2 heading; the page ends with the
    appendix (how to read the report, definitions, and "About this report" with ``header``).
    Of equal notes (:func:`collect_notes`) only the first is kept. The page assembly is
    :func:`_assemble_page`.

    Parameters
    ----------
    executed_notebooks : sequence of paths or NotebookNode
        The executed notebooks, in report order.
    html_path : path
        Where to write the page (folders are created).
    title : str
        Page title and header heading.
    header : Mapping
        Shown in "About this report" as a table of name/value rows (lists joined by commas,
        None as "-").
    period : str, optional
        The data period, shown under the title.
    image_dir : path, optional
        Folder that relative image paths in markdown cells (``![chart](img/x.png)``) are read
        from and embedded; default: the folder of the first notebook file. Files outside it
        are not embedded (nbconvert's rule); prefer cell attachments, always embedded.
    summary : Summary, optional
        The run's "At a glance" block (:func:`onboarding_analysis.report.summary.build_summary`),
        placed under the header, before the table of contents and every section; its figures
        and findings link to the sections' headings.
    params : Mapping, optional
        The run's params (``Params.as_notebook_parameters()``): the definitions appendix shows
        the figures of the sections they configure, with their values (default: every figure).

    Returns
    -------
    Path
        ``html_path``.

    Notes
    -----
    TOC anchors: nbconvert's own heading ids (text with spaces turned into ``-`` and
    URL-quoted, not de-duplicated across merged notebooks) are switched off
    (``exclude_anchor_links``). After rendering, every ``h1``/``h2`` of the page gets a fresh id
    (an ASCII slug of its text, ``-2``, ``-3``... for repeats, never clashing with another id
    in the page; a heading written with an explicit unique ``id`` keeps it), and the TOC links
    to those ids, so every link resolves. Images in outputs are base64 ``data:`` URIs (nbconvert
    default); images referenced from markdown are embedded too (``embed_images``).

    Examples
    --------
    >>> render_html(["reports/demo/retention.ipynb"], "reports/demo/report.html",
    ...             title="Onboarding report: demo", header={"client": "demo"})  # doctest: +SKIP
    PosixPath('reports/demo/report.html')
    """
    html_path = Path(html_path)
    notebooks = [_read_notebook(nb) for nb in executed_notebooks]
    if not notebooks:
        raise ReportError("render_html: no executed notebooks to render.")
    merged = _merge(notebooks, title=title)
    if image_dir is None:
        files = [Path(nb) for nb in executed_notebooks if not isinstance(nb, nbformat.NotebookNode)]
        image_dir = files[0].parent if files else Path.cwd()
    resources = {"metadata": {"name": title, "path": str(image_dir)}}
    body, _ = _exporter().from_notebook_node(merged, resources=resources)
    page = _assemble_page(body, title=title, header=header, period=period, params=params, summary=summary)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = html_path.with_name(f".{html_path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, html_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return html_path


def _read_notebook(nb: str | os.PathLike[str] | nbformat.NotebookNode) -> nbformat.NotebookNode:
    if isinstance(nb, nbformat.NotebookNode):
        return nb
    path = Path(nb)
    if not path.is_file():
        raise ReportError(f"{path}: executed notebook not found.", notebook=path.name)
    return nbformat.read(path, as_version=4)


def _merge(notebooks: Sequence[nbformat.NotebookNode], *, title: str) -> nbformat.NotebookNode:
    """One notebook of the report's cells, in order; of equal notes (:func:`collect_notes`)
    only the first is kept.
    """
    merged = nbformat.v4.new_notebook()
    first = notebooks[0].metadata
    for key in ("kernelspec", "language_info"):
        if key in first:
            merged.metadata[key] = first[key]
    merged.metadata["title"] = title
    seen: set[str] = set()
    for nb in notebooks:
        for cell in nb.cells:
            if REMOVED_CELL_TAGS.intersection(cell.get("metadata", {}).get("tags", ())):
                continue
            cell = nbformat.from_dict(dict(cell))
            cell["id"] = f"cell-{len(merged.cells)}"  # ids must be unique in the merged notebook
            if cell.cell_type == "code":
                kept = []
                for output in cell.get("outputs", []):
                    _alt_from_text(output)
                    note = _note_of(output)
                    if note is not None and note in seen:
                        continue
                    if note is not None:
                        seen.add(note)
                    kept.append(output)
                cell["outputs"] = kept
            merged.cells.append(cell)
    return merged


def _alt_from_text(output: Mapping[str, Any]) -> None:
    """An image's alt text from its ``text/plain`` when that names the figure ("Figure: ...")."""
    data = output.get("data") or {}
    text = data.get("text/plain")
    text = "".join(text) if isinstance(text, list) else text
    if "image/png" in data and isinstance(text, str) and text.startswith("Figure: "):
        output.setdefault("metadata", {}).setdefault("image/png", {})["alt"] = text


def _note_of(output: Mapping[str, Any]) -> str | None:
    from .notebook import NOTE_METADATA

    note = (output.get("metadata") or {}).get(NOTE_METADATA)
    return note if isinstance(note, str) else None


def collect_notes(notebooks: Sequence[str | os.PathLike[str] | nbformat.NotebookNode]) -> list[str]:
    """The notes (:func:`onboarding_analysis.report.notebook.show_note`: data and statistical
    warnings) shown by executed notebooks, each once, in report order.

    Parameters
    ----------
    notebooks : sequence of paths or NotebookNode
        The executed notebooks, in report order.

    Returns
    -------
    list of str
    """
    notes: list[str] = []
    for nb in map(_read_notebook, notebooks):
        for cell in nb.cells:
            for output in cell.get("outputs", []) if cell.cell_type == "code" else ():
                note = _note_of(output)
                if note is not None and note not in notes:
                    notes.append(note)
    return notes


def _exporter() -> HTMLExporter:
    config = Config()
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    config.HTMLExporter.exclude_anchor_links = True  # ids are added by _anchor_headings
    config.HTMLExporter.embed_images = True
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = set(REMOVED_CELL_TAGS)
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    return HTMLExporter(config=config, template_name="lab", log=_log)


def _assemble_page(
    page: str,
    *,
    title: str,
    header: Mapping[str, Any],
    period: str | None,
    params: Mapping[str, Any] | None,
    summary: Summary | None = None,
) -> str:
    """The report page from its parts, top to bottom.

    1. the title block (:func:`_header_html`: title and data period);
    2. the "At a glance" summary (:func:`onboarding_analysis.report.summary.summary_html`), the first
       section of the report; its figures and findings link to the sections' headings;
    3. the table of contents (:func:`_toc_html`), collapsed to one line;
    4. the notebooks' sections (``page``, nbconvert's HTML);
    5. the appendix: "How to read this report", "Definitions" (both from
       :mod:`onboarding_analysis.report.definitions`, adapted to ``params``) and "About this report"
       (``header``: the run's params, data period and package version).

    Every ``h1``/``h2`` gets a unique id (see :func:`render_html`, Notes), images get alt text,
    and nothing that would load from the internet is left (module and CDN scripts, URLs in
    CSS comments).
    """
    from .definitions import definitions_html, how_to_read_html

    soup = BeautifulSoup(page, "html.parser")
    container = soup.find("main") or soup.body or soup
    appendix = how_to_read_html(params) + definitions_html(params) + _about_html(header, period)
    for node in list(BeautifulSoup(appendix, "html.parser").contents):
        container.append(node)
    entries = _anchor_headings(soup, title)
    _drop_external_resources(soup)
    # After the template's CSS, so that the report's rules win (nbconvert's CSS preprocessor
    # replaces resources["inlining"], so the CSS is added here).
    style = soup.new_tag("style")
    style.string = REPORT_CSS
    (soup.head or soup).append(style)
    glance = summary_html(summary, [(text, anchor) for _, anchor, text in entries]) if summary else ""
    top_parts = [_header_html(title, period), glance, _toc_html(entries)]
    block = BeautifulSoup("".join(top_parts), "html.parser")
    for node in reversed(list(block.contents)):
        container.insert(0, node)
    return str(soup)


def _anchor_headings(soup: BeautifulSoup, title: str) -> list[tuple[int, str, str]]:
    """Give every ``h1``/``h2`` a unique id and every image without one an alt text; return
    the (level, id, text) of the headings, for the table of contents.
    """
    id_counts = Counter(tag["id"] for tag in soup.find_all(id=True))
    taken = set(id_counts)
    entries: list[tuple[int, str, str]] = []
    section = title
    for tag in soup.find_all(["h1", "h2", "img"]):
        if tag.name == "img":
            if not tag.get("alt") or tag.get("alt", "").startswith("No description has been provided"):
                tag["alt"] = f"Figure in section: {section}"
            continue
        text = tag.get_text(" ", strip=True)
        if not text:
            continue
        anchor = tag.get("id")  # an id written in the markdown is kept if it is unique
        if not anchor or id_counts[anchor] > 1:
            anchor = _unique(_slug(text), taken)
            tag["id"] = anchor
        taken.add(anchor)
        entries.append((int(tag.name[1]), anchor, text))
        section = text
    return entries


def _drop_external_resources(soup: BeautifulSoup) -> None:
    """Self-contained, with no URL in the file: the lab template links require.js and MathJax
    from a CDN and imports mermaid from one in a module script; the report uses none of them
    (no widgets, no LaTeX, no diagrams), and offline readers would see failed loads. The
    template's CSS cites its sources in comments: those comments go too.
    """
    for script in soup.find_all("script"):
        src = script.get("src", "")
        if "://" in src or src.startswith("//") or script.get("type") in ("module", "text/x-mathjax-config"):
            script.decompose()
    for style in soup.find_all("style"):
        text = style.string or ""
        if "://" in text:
            style.string = re.sub(
                r"/\*.*?\*/", lambda m: "" if "://" in m.group(0) else m.group(0), text, flags=re.S
            )


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")
    return slug or "section"


def _unique(slug: str, taken: set[str]) -> str:
    candidate, n = slug, 1
    while candidate in taken:
        n += 1
        candidate = f"{slug}-{n}"
    return candidate


def _format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_format_value(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple | set):
        return ", ".join(_format_value(v) for v in value) or "-"
    return str(value)


def _header_html(title: str, period: str | None) -> str:
    esc = html.escape
    period_html = f'<p class="oa-period"><strong>Data period:</strong> {esc(period)}</p>' if period else ""
    return f'<header class="oa-header"><h1 class="oa-title">{esc(title)}</h1>{period_html}</header>'


def _about_html(header: Mapping[str, Any], period: str | None) -> str:
    """The "About this report" section: the data period and the run's params (``header``)."""
    esc = html.escape
    rows = "".join(
        f'<tr><th scope="row">{esc(str(k))}</th><td>{esc(_format_value(v))}</td></tr>'
        for k, v in header.items()
    )
    period_html = f"<p><strong>Data period:</strong> {esc(period)}</p>" if period else ""
    table = (
        f'<div class="oa-scroll"><table class="oa-params"><tbody>{rows}</tbody></table></div>' if rows else ""
    )
    return (
        '<section class="oa-appendix" id="oa-about"><h1>About this report</h1>'
        f"{period_html}<p>The params of this run (data files, definitions, thresholds):</p>{table}</section>"
    )


def _toc_html(entries: Sequence[tuple[int, str, str]]) -> str:
    """Nested ordered list: level-2 headings under the level-1 heading before them."""
    if not entries:
        return ""
    groups: list[tuple[int, str, list[str]]] = []  # (level, link, links of its subsections)
    for level, anchor, text in entries:
        link = f'<a href="#{html.escape(anchor)}">{html.escape(text)}</a>'
        if level == 2 and groups and groups[-1][0] == 1:
            groups[-1][2].append(link)
        else:
            groups.append((level, link, []))
    items = []
    for _, link, subs in groups:
        sub_list = "<ol>" + "".join(f"<li>{s}</li>" for s in subs) + "</ol>" if subs else ""
        items.append(f"<li>{link}{sub_list}</li>")
    return (
        '<nav class="oa-toc" aria-label="Contents"><details><summary><strong>Contents</strong> '
        f"({len(groups)} sections)</summary><ol>{''.join(items)}</ol></details></nav>"
    )


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------


def run_report(
    params_path: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str] = "reports",
    notebooks: Sequence[str] = REPORT_NOTEBOOKS,
    notebook_dir: str | os.PathLike[str] = NOTEBOOK_DIR,
    timeout: float | None = 600,
    overrides: Mapping[str, Any] | None = None,
    notebook_jobs: int | None = None,
) -> Path:
    """Execute the report notebooks for one params file and render ``report.html``.

    Parameters
    ----------
    params_path : path
        The run's params YAML file.
    out_dir : path
        Parent folder of the run folder ``<out_dir>/<client>/``, which receives the executed
        notebooks, ``metrics.json`` and ``report.html``.
    notebooks : sequence of str
        Notebook file names inside ``notebook_dir``, in report order.
    notebook_dir : path
        Folder of the notebooks (default: the repository's ``notebooks/``).
    timeout : float or None
        Seconds any single cell may run.
    overrides : Mapping, optional
        Params keys replacing the file's values, validated like the file (a batch run fanned
        out per client sets ``client`` and ``filters``); see :func:`load_run_params`.
    notebook_jobs : int, optional
        Notebooks executed at a time, each in its own kernel (default: the usable cores, at
        most the number of notebooks; a batch divides the cores between its runs). The facts
        are still computed once: the first notebook builds them, the others wait for the
        cache entry (:func:`onboarding_analysis.data.cache.building`). Each running kernel holds
        its own copy of the facts table: memory grows with ``notebook_jobs``.

    Returns
    -------
    Path
        The rendered ``report.html``.

    Raises
    ------
    ParamsError
        The params file is missing or invalid.
    DataError
        An input file is missing or lacks a mapped column
        (:func:`onboarding_analysis.data.loading.check_inputs`): raised before the run folder is
        created and any kernel starts.
    ReportError
        A notebook is missing or failed; its partial executed copy is in the run folder.

    Notes
    -----
    Each notebook gets ``params.as_notebook_parameters()`` plus ``output_dir`` (the absolute
    run folder, where it records its metrics). The kernel runs in the project root: the folder
    above ``params/`` when the params file is inside a folder named ``params`` (the layout of
    this template, so ``params/acme.yaml`` runs in the repository), else the current directory.
    (Data paths do not depend on it: they arrive absolute.) A previous ``metrics.json``,
    ``report.html``, ``error.txt`` and executed notebooks in the run folder are deleted first,
    so a failed run leaves no stale report. When a notebook fails, the run folder keeps the
    partially executed notebook and ``error.txt`` (:func:`write_error_file`) before the error
    is raised.

    Examples
    --------
    >>> run_report("params/demo.yaml", out_dir="reports")            # doctest: +SKIP
    PosixPath('reports/demo/report.html')
    """
    params_path = Path(params_path)
    params = load_run_params(params_path, overrides)
    notebook_dir = Path(notebook_dir)
    missing = [name for name in notebooks if not (notebook_dir / name).is_file()]
    if missing:
        raise ReportError(
            f"{notebook_dir / missing[0]}: report notebook not found (notebook_dir={notebook_dir}).",
            notebook=missing[0],
        )
    check_inputs(params)  # a missing file or column: one line now, not a failed notebook later
    root = project_root_for(params_path)
    run_dir = Path(out_dir) / params.client
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in (METRICS_FILE, REPORT_FILE, ERROR_FILE, *notebooks):
        (run_dir / stale).unlink(missing_ok=True)

    params_file = _relative_to(params_path.resolve(), root)
    record_metrics(
        run_dir,
        {
            "run": {
                "client": params.client,
                "params_file": params_file,
                "package_version": package_version(),
                "notebooks": list(notebooks),
            }
        },
    )
    parameters = params.as_notebook_parameters() | {"output_dir": str(run_dir.resolve())}
    if notebook_jobs is None:
        notebook_jobs = usable_cores()
    if isinstance(notebook_jobs, bool) or not isinstance(notebook_jobs, int) or notebook_jobs < 1:
        raise ParamsError(f"notebook_jobs must be a whole number >= 1, but was {notebook_jobs!r}")
    try:
        return _execute_and_render(
            params,
            parameters,
            run_dir,
            root,
            params_file,
            notebooks,
            notebook_dir,
            timeout,
            min(notebook_jobs, max(len(notebooks), 1)),
        )
    except Exception as err:
        write_error_file(run_dir, err, run_name=params.client, params_file=params_file)
        raise


def _execute_and_render(
    params: Params,
    parameters: Mapping[str, Any],
    run_dir: Path,
    root: Path,
    params_file: str,
    notebooks: Sequence[str],
    notebook_dir: Path,
    timeout: float | None,
    jobs: int,
) -> Path:
    executed = _execute_all(notebooks, notebook_dir, run_dir, parameters, root, timeout, jobs)

    metrics = record_metrics(run_dir, {"warnings": collect_notes(executed)})
    summary = build_summary(metrics)  # from the final metrics: every notebook has recorded its keys
    record_metrics(run_dir, summary_metrics(summary))
    native = params.as_notebook_parameters()
    header: dict[str, Any] = {key: native.get(key) for key in HEADER_KEYS}
    header["events"], header["users"] = params.events, params.users  # as written, not absolute
    header["params_file"] = params_file
    header["package_version"] = package_version()
    return render_html(
        executed,
        run_dir / REPORT_FILE,
        title=f"Onboarding report: {params.client}",
        header=header,
        period=data_period(metrics, observation_end=native.get("observation_end")),
        image_dir=notebook_dir,
        summary=summary,
        params=native,
    )


def _execute_all(
    notebooks: Sequence[str],
    notebook_dir: Path,
    run_dir: Path,
    parameters: Mapping[str, Any],
    root: Path,
    timeout: float | None,
    jobs: int,
) -> list[Path]:
    """Execute the notebooks, ``jobs`` at a time; the executed copies in report order.

    In parallel, each notebook is executed from a worker process (papermill changes the
    working directory of the process that runs it, so threads would step on each other), the
    longest first (:data:`START_FIRST`). On a failure no further notebook starts; the running
    ones finish, and the failure of the first failed notebook in report order is raised.
    """
    outputs = [run_dir / name for name in notebooks]
    tasks = [
        (notebook_dir / name, out, dict(parameters), root, timeout)
        for name, out in zip(notebooks, outputs, strict=True)
    ]
    if jobs == 1:
        for task in tasks:
            _execute_task(task)
        return outputs
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")  # no forked copy of the caller's state
    waiting = [(index, tasks[index]) for index in start_order(notebooks)]
    running: dict[Any, int] = {}
    errors: dict[int, BaseException] = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        while waiting or running:
            # Submitted only when a worker is free, so that none starts after a failure.
            while waiting and len(running) < jobs and not errors:
                index, task = waiting.pop(0)
                running[pool.submit(_execute_task, task)] = index
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                if future.exception() is not None:
                    errors[index] = future.exception()
    if errors:
        raise errors[min(errors)]
    return outputs


def start_order(notebooks: Sequence[str]) -> list[int]:
    """The positions of ``notebooks`` in the order a parallel run starts them: those of
    :data:`START_FIRST` first, in its order, then the others in report order.
    """
    first = {name: rank for rank, name in enumerate(START_FIRST)}
    return sorted(range(len(notebooks)), key=lambda i: (first.get(notebooks[i], len(first)), i))


def _execute_task(task: tuple) -> None:
    """:func:`execute_notebook` of one ``(input, output, parameters, cwd, timeout)`` task."""
    input_path, output_path, parameters, cwd, timeout = task
    execute_notebook(input_path, output_path, parameters, cwd=cwd, timeout=timeout)


def load_run_params(
    params_path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None
) -> Params:
    """Load a params file and apply ``overrides`` (validated like the file's own keys).

    Relative paths keep resolving against the file's base directory.

    Raises
    ------
    ParamsError
        The file or an override is invalid (e.g. a run name that is not a valid ``client``).

    Examples
    --------
    >>> load_run_params("params/demo.yaml", {"client": "acme", "filters": {"client": "acme"}}).filters
    {'client': ('acme',)}
    """
    params = load_params(params_path)
    if not overrides:
        return params
    checked = validate_params(
        {"events": params.events, **overrides}, source=params.params_file, base_dir=params.base_dir
    )
    return dataclasses.replace(params, **{key: getattr(checked, key) for key in overrides})


def failure_summary(error: BaseException) -> str:
    """One line saying why a run failed: the notebook, the cell and the error, if known.

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
        text = f"{where}: {error.ename}: {_first_line(error.evalue)}"
    elif isinstance(error, OnboardingAnalysisError):
        text = _first_line(str(error))
    else:
        text = f"{type(error).__name__}: {_first_line(str(error))}"
    return text if len(text) <= 300 else text[:297] + "..."


def _first_line(text: str | None) -> str:
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


def project_root_for(params_path: str | os.PathLike[str]) -> Path:
    """The kernel's working directory for a params file (see :func:`run_report`, Notes)."""
    path = Path(params_path).resolve()
    return path.parent.parent if path.parent.name == "params" else Path.cwd()


def data_period(metrics: Mapping[str, Any], *, observation_end: str | None = None) -> str | None:
    """The data period shown in the report header, from a run's metrics.

    Uses ``data.first_signup`` (start) and ``run.observation_end`` (end) when the notebooks
    recorded them, else the params ``observation_end``; ``None`` when neither is known.

    Examples
    --------
    >>> data_period({"data": {"first_signup": "2024-01-01T08:00:00"},
    ...              "run": {"observation_end": "2024-09-01T00:00:00"}})
    'signups from 2024-01-01 08:00 to observation end 2024-09-01 00:00 (UTC)'
    >>> data_period({}, observation_end="2024-08-31")
    'up to 2024-08-31 (params observation_end)'
    """
    data, run = metrics.get("data") or {}, metrics.get("run") or {}
    start, end = data.get("first_signup"), run.get("observation_end")
    if end:
        text = f"observation end {_short_time(end)} (UTC)"
        return f"signups from {_short_time(start)} to {text}" if start else f"up to {text}"
    if observation_end:
        return f"up to {observation_end} (params observation_end)"
    return None


def _short_time(value: Any) -> str:
    text = str(value).replace("T", " ")
    return text[:16] if len(text) > 16 and text[16:] in (":00", ":00.000000") else text


def _relative_to(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def package_version() -> str:
    """The package version (:data:`onboarding_analysis.version.__version__`)."""
    return __version__


def usable_cores() -> int:
    """CPU cores this process may use (its affinity where known), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


__all__ = [
    "ERROR_FILE",
    "NOTEBOOK_DIR",
    "REPORT_FILE",
    "REPORT_NOTEBOOKS",
    "ReportError",
    "collect_notes",
    "data_period",
    "execute_notebook",
    "failure_summary",
    "load_run_params",
    "project_root_for",
    "render_html",
    "run_report",
    "usable_cores",
    "write_error_file",
]

