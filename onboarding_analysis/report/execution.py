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
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..data.loading import check_inputs
from ..errors import ParamsError
from ..params import Params, load_params, validate_params
from ..version import __version__
from .failures import ERROR_FILE, ReportError, write_error_file
from .metrics_io import METRICS_FILE, record_metrics
from .page import collect_notes, render_html
from .scheduling import execute_notebooks, usable_cores
from .summary import build_summary, summary_metrics

#: The notebooks making up the report, in report order (file names inside NOTEBOOK_DIR).
REPORT_NOTEBOOKS: tuple[str, ...] = (
    "quality.ipynb",
    "retention.ipynb",
    "onboarding.ipynb",
    "engagement.ipynb",
    "segments.ipynb",
    "moments.ipynb",
)

#: The repository's ``notebooks/`` folder.
NOTEBOOK_DIR: Path = Path(__file__).resolve().parents[2] / "notebooks"

#: File name of the rendered report inside the run folder.
REPORT_FILE = "report.html"

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
    executed = execute_notebooks(notebooks, notebook_dir, run_dir, parameters, root, timeout, jobs)

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


def load_run_params(
    params_path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None
) -> Params:
    """Load a params file and apply ``overrides`` (validated like the file's own keys).

    Relative paths keep resolving against the file's base directory.


    Parameters
    ----------
    params_path : path
        The params YAML file.
    overrides : Mapping, optional
        Keys replacing the file's values.

    Returns
    -------
    Params
        The validated params.

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


def project_root_for(params_path: str | os.PathLike[str]) -> Path:
    """The kernel's working directory for a params file (see :func:`run_report`, Notes).

    Parameters
    ----------
    params_path : path
        The run's params file.

    Returns
    -------
    Path
        The folder above ``params/``, or the current directory.
    """
    path = Path(params_path).resolve()
    return path.parent.parent if path.parent.name == "params" else Path.cwd()


def data_period(metrics: Mapping[str, Any], *, observation_end: str | None = None) -> str | None:
    """The data period shown in the report header, from a run's metrics.

    Uses ``data.first_signup`` (start) and ``run.observation_end`` (end) when the notebooks
    recorded them, else the params ``observation_end``; ``None`` when neither is known.


    Parameters
    ----------
    metrics : Mapping
        The run's metrics.
    observation_end : str, optional
        The params ``observation_end``, used when the metrics have none.

    Returns
    -------
    str or None
        The period in words.

    Examples
    --------
    >>> data_period({"data": {"first_signup": "2024-01-01T08:00:00"},
    ...              "run": {"observation_end": "2024-09-01T00:00:00"}})
    'signups from 2024-01-01 08:00 to observation end 2024-09-01 00:00 (UTC)'
    >>> data_period({"data": {"first_signup": "2024-03-01T09:05:00.123000"},
    ...              "run": {"observation_end": "2024-03-24T00:00:00"}})
    'signups from 2024-03-01 09:05 to observation end 2024-03-24 00:00 (UTC)'
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
    """A timestamp to the minute (``2024-03-01 09:05``): the header names a period, not an event."""
    text = str(value).replace("T", " ")
    return text[:16] if len(text) > 16 and text[10] == " " and text[16] == ":" else text


def _relative_to(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def package_version() -> str:
    """The package version (:data:`onboarding_analysis.version.__version__`).

    Returns
    -------
    str
        E.g. ``"1.4.0"``.
    """
    return __version__



__all__ = [
    "HEADER_KEYS",
    "NOTEBOOK_DIR",
    "REPORT_FILE",
    "REPORT_NOTEBOOKS",
    "data_period",
    "load_run_params",
    "package_version",
    "project_root_for",
    "run_report",
]
