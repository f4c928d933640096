"""Run the report notebooks for one params file and render them into one HTML page.

A run (:func:`run_report`) executes every notebook of :data:`REPORT_NOTEBOOKS` with papermill
into ``<out_dir>/<client>/``, records the run's identity in ``metrics.json`` (the notebooks add
the analysis keys themselves, see :mod:`onboarding_analysis.metrics_io`) and renders the
executed notebooks into one self-contained ``report.html`` (:func:`render_html`): no code, no
prompts, no parameter cells, a header with the run's params and data period, a table of
contents, images embedded, readable on a phone.

Examples
--------
>>> from onboarding_analysis.report import run_report
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
import time
import traceback
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib import metadata
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

from .errors import OnboardingAnalysisError, ParamsError
from .metrics_io import METRICS_FILE, read_metrics, record_metrics
from .params import Params, load_params, validate_params

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
NOTEBOOK_DIR: Path = Path(__file__).resolve().parent.parent / "notebooks"

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

# Extra CSS: phone-width reading (images shrink, wide tables scroll) and the header/TOC.
REPORT_CSS = """
.jp-OutputArea-output img, .jp-RenderedMarkdown img { max-width: 100%; height: auto; }
.jp-OutputArea-output, .jp-RenderedHTMLCommon { overflow-x: auto; }
.jp-RenderedHTMLCommon table, table.oa-params { display: block; max-width: 100%; overflow-x: auto; }
.oa-header { margin-bottom: 1em; }
.oa-header h1 { margin-top: 0.2em; }
table.oa-params { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1em 0; }
table.oa-params th, table.oa-params td {
  text-align: left; vertical-align: top; padding: 2px 10px 2px 0; border-bottom: 1px solid #ddd;
}
nav.oa-toc { margin: 0 0 1.5em 0; padding: 0.5em 1em; border-left: 3px solid #ccc; }
nav.oa-toc ol { margin: 0.2em 0; padding-left: 1.4em; }
@media (max-width: 700px) {
  body.jp-Notebook, main { padding: 6px !important; }
  .jp-Cell { padding: 2px 0 !important; }
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


#: Attempts to start a notebook's kernel. Starting fails now and then when kernels start in
#: parallel: jupyter_client picks free ports by binding and releasing them, and another process
#: can take the port before the kernel binds it ("Address already in use"; the kernel dies
#: before replying to kernel_info). Nothing has run yet, so starting again is safe.
KERNEL_START_ATTEMPTS = 3


def _kernel_start_failed(err: RuntimeError) -> bool:
    """Whether ``err`` is jupyter_client's failure to get a new kernel's first reply."""
    text = str(err)
    return text.startswith(("Kernel died before replying to kernel_info", "Kernel didn't respond in"))


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
        A cell raised, a cell timed out, the kernel died or is not installed, or the notebook
        does not exist. The message names the notebook, the cell (index, first source line)
        and the exception; the partial notebook is saved at ``output_path``. A kernel that
        fails to start (see :data:`KERNEL_START_ATTEMPTS`) is started again first.

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
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            return _execute(input_path, output_path, parameters, cwd=cwd, timeout=timeout)
        except RuntimeError as err:
            if not _kernel_start_failed(err):
                raise
            if attempt == KERNEL_START_ATTEMPTS:
                raise ReportError(
                    f"{name}: the python3 kernel did not start ({err}; {attempt} attempts). "
                    "Kernels starting at the same moment can collide on a local port: run again, "
                    "or with fewer parallel jobs (--jobs).",
                    notebook=name,
                    output_path=output_path,
                    ename="KernelStartError",
                    evalue=f"{err} ({attempt} attempts)",
                ) from err
            time.sleep(random.uniform(0.5, 2.0) * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


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
            # Quiet the kernel's own log (a warning about localhost TCP on every start, shutdown noise);
            # errors in cells still reach the notebook.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
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


def _cell_failure(name: str, index: int | None, source: str, error: str, output_path: Path) -> str:
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
) -> Path:
    """Merge executed notebooks, in order, into one self-contained HTML page.

    The page has no code inputs and no prompts; cells tagged ``parameters``,
    ``injected-parameters`` or ``remove-cell`` are dropped (``remove-output`` drops a cell's
    outputs). A header block shows ``title``, ``period`` and ``header`` as a two-column
    table; a table of contents links to every level-1 and level-2 heading.

    Parameters
    ----------
    executed_notebooks : sequence of paths or NotebookNode
        The executed notebooks, in report order.
    html_path : path
        Where to write the page (folders are created).
    title : str
        Page title and header heading.
    header : Mapping
        Shown as a table of name/value rows (lists joined by commas, None as "-").
    period : str, optional
        The data period, shown under the title.
    image_dir : path, optional
        Folder that relative image paths in markdown cells (``![chart](img/x.png)``) are read
        from and embedded; default: the folder of the first notebook file. Files outside it
        are not embedded (nbconvert's rule); prefer cell attachments, always embedded.

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
    resources = {
        "metadata": {"name": title, "path": str(image_dir)},
        "inlining": {"css": [REPORT_CSS]},
    }
    body, _ = _exporter().from_notebook_node(merged, resources=resources)
    page = _add_header_and_toc(body, title=title, header=header, period=period)
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
    merged = nbformat.v4.new_notebook()
    first = notebooks[0].metadata
    for key in ("kernelspec", "language_info"):
        if key in first:
            merged.metadata[key] = first[key]
    merged.metadata["title"] = title
    for nb in notebooks:
        for cell in nb.cells:
            if REMOVED_CELL_TAGS.intersection(cell.get("metadata", {}).get("tags", ())):
                continue
            cell = nbformat.from_dict(dict(cell))
            cell["id"] = f"cell-{len(merged.cells)}"  # ids must be unique in the merged notebook
            merged.cells.append(cell)
    return merged


def _exporter() -> HTMLExporter:
    config = Config()
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    config.HTMLExporter.exclude_anchor_links = True  # ids are added by _add_header_and_toc
    config.HTMLExporter.embed_images = True
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = set(REMOVED_CELL_TAGS)
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    return HTMLExporter(config=config, template_name="lab", log=_log)


def _add_header_and_toc(page: str, *, title: str, header: Mapping[str, Any], period: str | None) -> str:
    soup = BeautifulSoup(page, "html.parser")
    id_counts = Counter(tag["id"] for tag in soup.find_all(id=True))
    taken = set(id_counts)
    entries: list[tuple[int, str, str]] = []
    section = title
    for tag in soup.find_all(["h1", "h2", "img"]):
        if tag.name == "img":
            if tag.get("alt", "").startswith("No description has been provided"):
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
    # Self-contained: the lab template links require.js and MathJax from a CDN; the report uses
    # neither (no widgets, no LaTeX), and offline readers would see failed loads.
    for script in soup.find_all("script", src=True):
        if "://" in script["src"] or script["src"].startswith("//"):
            script.decompose()
    for script in soup.find_all("script", type="text/x-mathjax-config"):
        script.decompose()
    block = BeautifulSoup(_header_html(title, header, period) + _toc_html(entries), "html.parser")
    container = soup.find("main") or soup.body or soup
    for node in reversed(list(block.contents)):
        container.insert(0, node)
    return str(soup)


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


def _header_html(title: str, header: Mapping[str, Any], period: str | None) -> str:
    esc = html.escape
    rows = "".join(
        f'<tr><th scope="row">{esc(str(k))}</th><td>{esc(_format_value(v))}</td></tr>'
        for k, v in header.items()
    )
    period_html = f'<p class="oa-period"><strong>Data period:</strong> {esc(period)}</p>' if period else ""
    table = f'<table class="oa-params"><tbody>{rows}</tbody></table>' if rows else ""
    return f'<header class="oa-header"><h1 class="oa-title">{esc(title)}</h1>{period_html}{table}</header>'


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
        '<nav class="oa-toc" aria-label="Contents"><p><strong>Contents</strong></p>'
        f"<ol>{''.join(items)}</ol></nav>"
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
        cache entry (:func:`onboarding_analysis.cache.building`). Each running kernel holds
        its own copy of the facts table: memory grows with ``notebook_jobs``.

    Returns
    -------
    Path
        The rendered ``report.html``.

    Raises
    ------
    ParamsError
        The params file is missing or invalid.
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
        from .batch import usable_cores

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

    metrics = read_metrics(run_dir)
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
    :data:`START_FIRST` first, in its order, then the others in report order."""
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
    """The package version: ``onboarding_analysis.__version__``, else the installed metadata."""
    try:
        from . import __version__
    except ImportError:  # imported without the package's __init__ (e.g. a stale editable install)
        try:
            return metadata.version("onboarding-analysis")
        except metadata.PackageNotFoundError:
            return "unknown"
    return __version__


__all__ = [
    "ERROR_FILE",
    "NOTEBOOK_DIR",
    "REPORT_FILE",
    "REPORT_NOTEBOOKS",
    "ReportError",
    "data_period",
    "execute_notebook",
    "failure_summary",
    "load_run_params",
    "project_root_for",
    "render_html",
    "run_report",
    "write_error_file",
]
