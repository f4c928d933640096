"""Batch runs: several params files, or one fanned out over a column's values, in parallel.

A batch is a list of :class:`RunSpec` (:func:`plan_runs`), executed by :func:`run_batch`: each
run is one :func:`~onboarding_analysis.report.execution.run_report` (its own papermill kernels) in a
worker of a process pool, into ``<out_dir>/<run name>/``. A failing run (bad params or data, a
notebook error) never stops the others: its folder keeps the partially executed notebook and
``error.txt``, and its :class:`RunResult` says why in one line. At the end the batch writes
``<out_dir>/index.html`` (:mod:`onboarding_analysis.report.index`) linking every run.

Fanning out (``per=``): the values of the column are read from the data with DuckDB (the
users table's column when it has one, else the events' column, as for segments); each value
becomes one run with the filter ``{column: value}`` added to the file's filters. The run is
named after the value for ``per="client"``, else ``<client>-<column>-<value>``, made safe for
a folder name (:func:`run_name`).

Examples
--------
>>> from onboarding_analysis.report.batch import plan_runs, run_batch
>>> batch = run_batch(plan_runs(["params/demo.yaml"], per="client"), out_dir="reports")  # doctest: +SKIP
>>> [(run.name, run.status) for run in batch.runs]                                     # doctest: +SKIP
[('acme', 'ok'), ('globex', 'ok'), ('initech', 'ok')]
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import re
import sys
import time
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..errors import DataWarning, OnboardingAnalysisError, ParamsError
from ..params import Params, load_params
from .execution import run_report
from .failures import ERROR_FILE, failure_summary, write_error_file
from .scheduling import usable_cores

#: Statuses of a finished run.
OK, FAILED = "ok", "failed"

_NAME_MAX = 100  # params ``client``: at most 100 characters
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class RunSpec:
    """One run of a batch: a params file, the run name (its folder) and params overrides.

    ``problem`` is set when the run cannot start (its params file is missing or invalid): the
    run then fails with that message without executing anything.
    """

    name: str
    params_path: Path
    overrides: Mapping[str, Any] = field(default_factory=dict)
    problem: str | None = None


@dataclass(frozen=True)
class RunResult:
    """A finished run: ``status`` is ``"ok"`` or ``"failed"``; ``error`` says why in one line."""

    name: str
    status: str
    run_dir: Path
    params_path: Path
    report: Path | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == OK


@dataclass(frozen=True)
class BatchResult:
    """The runs of a batch (in plan order), its index page, wall time and number of jobs."""

    runs: tuple[RunResult, ...]
    index: Path
    seconds: float
    jobs: int

    @property
    def failed(self) -> tuple[RunResult, ...]:
        return tuple(run for run in self.runs if not run.ok)

    def summary(self) -> str:
        """A few lines for the terminal or a CI log: the counts, then one line per failure.

        Examples
        --------
        >>> run = RunResult("acme", FAILED, Path("r/acme"), Path("p.yaml"), error="x.ipynb cell 2: E: m")
        >>> print(BatchResult((run,), Path("r/index.html"), 3.04, 1).summary())
        1 run in 3.0 s (1 job): 0 ok, 1 failed. Index: r/index.html
        FAILED acme: x.ipynb cell 2: E: m (r/acme/error.txt)
        """
        n, failed = len(self.runs), self.failed
        lines = [
            f"{n} run{'s' if n != 1 else ''} in {self.seconds:.1f} s ({self.jobs} job"
            f"{'s' if self.jobs != 1 else ''}): {n - len(failed)} ok, {len(failed)} failed. "
            f"Index: {self.index}"
        ]
        lines += [f"FAILED {run.name}: {run.error} ({run.run_dir / ERROR_FILE})" for run in failed]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------


def plan_runs(params_paths: Sequence[str | os.PathLike[str]], *, per: str | None = None) -> list[RunSpec]:
    """The runs of a batch: one per params file, or one per value of ``per`` in one file.

    Parameters
    ----------
    params_paths : sequence of paths
        Params YAML files. With ``per``, exactly one.
    per : str, optional
        A column (a users-table column, else an events column; ``client`` maps through params
        ``columns`` like any filter): one run per value found in the data.

    Returns
    -------
    list of RunSpec
        In the order given (files) or of the sorted values (``per``).

    Raises
    ------
    ParamsError
        ``per`` with other than one file; with ``per``, an invalid params file, a column found
        nowhere or no values; two files naming the same ``client`` (their runs would share a
        folder). Without ``per``, a missing or invalid file is not raised: its run fails alone.
    DataError
        With ``per``, the data cannot be read.

    Examples
    --------
    >>> [s.name for s in plan_runs(["params/demo.yaml"], per="client")]   # doctest: +SKIP
    ['acme', 'globex', 'initech']
    >>> [s.name for s in plan_runs(["params/demo.yaml"], per="plan")]     # doctest: +SKIP
    ['demo-plan-enterprise', 'demo-plan-free', 'demo-plan-pro']
    """
    paths = [Path(p) for p in params_paths]
    if not paths:
        raise ParamsError("no params file given: name at least one, e.g. params/demo.yaml.")
    if per is not None:
        if len(paths) != 1:
            raise ParamsError(
                f"--per {per}: give exactly one params file to fan out (got {len(paths)}); "
                "or drop --per to run several params files as they are."
            )
        return _fan_out(paths[0], per)
    return _one_per_file(paths)


def _one_per_file(paths: list[Path]) -> list[RunSpec]:
    specs: list[RunSpec] = []
    owner: dict[str, Path] = {}
    for path in paths:
        try:
            params = load_params(path)
        except OnboardingAnalysisError as err:
            specs.append(RunSpec(name="", params_path=path, problem=str(err)))
            continue
        if params.client in owner:
            raise ParamsError(
                f"{owner[params.client]} and {path} both have client '{params.client}': their runs "
                f"would write the same folder. Give each params file its own client name."
            )
        owner[params.client] = path
        specs.append(RunSpec(name=params.client, params_path=path))
    # Runs whose params cannot be read are named after the file (made unique).
    taken = set(owner)
    for i, spec in enumerate(specs):
        if spec.problem is not None:
            name = _unique(sanitize_name(spec.params_path.stem), taken)
            taken.add(name)
            specs[i] = dataclasses.replace(spec, name=name)
    return specs


def _fan_out(path: Path, column: str) -> list[RunSpec]:
    params = load_params(path)
    values = discover_values(params, column)
    existing = {key: list(allowed) for key, allowed in params.filters.items()}
    if column in existing:  # the file already restricts the column: keep its values only
        allowed = {str(v) for v in existing[column]}
        values = [v for v in values if v in allowed]
    if not values:
        raise ParamsError(
            f"{params.where}: --per {column}: no value of column '{column}' found in the data"
            + (f" among the file's filters {existing[column]}" if column in existing else "")
            + ". Check the data or the column name."
        )
    specs, taken = [], set()
    for value in values:
        name = _unique(run_name(params, column, value), taken)
        taken.add(name)
        overrides = {"client": name, "filters": existing | {column: [value]}}
        specs.append(RunSpec(name=name, params_path=path, overrides=overrides))
    return specs


def discover_values(params: Params, column: str) -> list[str]:
    """The distinct non-null values of ``column`` in the data of ``params``, sorted, as text.

    The column is looked up like a segment: in the users table when it has the column, else
    in the usable events (rows with a user id, an event name and a timestamp up to the
    observation end). DuckDB reads the files; nothing is loaded into pandas. Users without a
    value (NULL) fall in no fanned-out run.

    Raises
    ------
    ParamsError
        The column is in neither the users table nor the events.
    DataError
        The files cannot be read.
    """
    from ..data.loading import load
    from ..data.sql import quote_ident

    if not column or not isinstance(column, str):
        raise ParamsError(f"--per: expected a column name, got {column!r}.")
    probe = (
        params
        if column in params.segments
        else dataclasses.replace(params, segments=(*params.segments, column))
    )
    with warnings.catch_warnings():  # excluded rows are the run's business: its report counts them
        warnings.simplefilter("ignore", DataWarning)
        source = load(probe)
    col = quote_ident(column)
    if source.users is not None and column in source.users.columns:
        sql = f"SELECT DISTINCT {col} FROM users WHERE {col} IS NOT NULL"
    else:
        sql = f"SELECT DISTINCT {col} FROM events WHERE {col} IS NOT NULL AND reason IS NULL"
    try:
        rows = source.con.raw_sql(sql).fetchall()
    finally:
        source.con.disconnect()
    return sorted(str(row[0]) for row in rows if str(row[0]).strip())


def run_name(params: Params, column: str, value: str) -> str:
    """The run name of one fanned-out value: the value for ``client``, else ``<client>-<column>-<value>``.

    Made safe for a folder name with :func:`sanitize_name`.

    Examples
    --------
    >>> from onboarding_analysis.params import validate_params
    >>> p = validate_params({"events": "e.csv", "client": "demo"})
    >>> run_name(p, "client", "acme"), run_name(p, "plan", "Pro / Annual")
    ('acme', 'demo-plan-Pro_Annual')
    """
    return sanitize_name(value if column == "client" else f"{params.client}-{column}-{value}")


def sanitize_name(text: str) -> str:
    """Make ``text`` a valid run name (params ``client``): letters, digits, ``_ . -``.

    Accents are dropped, runs of other characters become ``_``, leading characters other than
    a letter or digit are removed, and the name is cut to 100 characters.

    Examples
    --------
    >>> sanitize_name("Café Inc."), sanitize_name("../etc/passwd"), sanitize_name("???")
    ('Cafe_Inc.', 'etc_passwd', 'run')
    """
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    name = _UNSAFE.sub("_", ascii_text.strip())
    name = re.sub(r"^[^A-Za-z0-9]+", "", name)[:_NAME_MAX]
    return name or "run"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = name[: _NAME_MAX - len(suffix)] + suffix
    return candidate


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def run_one(spec: RunSpec, out_dir: str | os.PathLike[str], **options: Any) -> RunResult:
    """Execute one run; never raises for a failing run (except ``KeyboardInterrupt``).

    ``options`` go to :func:`~onboarding_analysis.report.execution.run_report` (``notebooks``,
    ``notebook_dir``, ``timeout``). A failed run's folder holds ``error.txt`` and the partial
    notebook; ``RunResult.error`` is the one-line reason.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    run_dir = out_dir / spec.name
    (run_dir / ERROR_FILE).unlink(missing_ok=True)
    try:
        if spec.problem is not None:
            raise ParamsError(spec.problem)
        report = run_report(spec.params_path, out_dir=out_dir, overrides=spec.overrides or None, **options)
    except Exception as err:  # isolate the run: whatever happened, the batch goes on
        if not (run_dir / ERROR_FILE).is_file():  # run_report writes it once the run folder exists
            write_error_file(run_dir, err, run_name=spec.name, params_file=spec.params_path)
        seconds = time.perf_counter() - start
        return RunResult(spec.name, FAILED, run_dir, spec.params_path, None, failure_summary(err), seconds)
    seconds = time.perf_counter() - start
    return RunResult(spec.name, OK, run_dir, spec.params_path, report, None, seconds)


def run_batch(
    specs: Sequence[RunSpec],
    *,
    out_dir: str | os.PathLike[str] = "reports",
    jobs: int | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> BatchResult:
    """Execute the runs, ``jobs`` at a time in a process pool, and write ``<out_dir>/index.html``.

    Parameters
    ----------
    specs : sequence of RunSpec
        From :func:`plan_runs`.
    out_dir : path
        Parent of the run folders and of ``index.html``.
    jobs : int, optional
        Parallel runs (default: the number of usable CPU cores), at most ``len(specs)``. With
        one job the runs execute in this process, one after the other.
    progress : Progress, optional
        Told when runs start and finish (default: silent).
    **options
        Passed to :func:`~onboarding_analysis.report.execution.run_report` (``notebooks``,
        ``notebook_dir``, ``timeout``).

    Returns
    -------
    BatchResult
        Every run, in the order of ``specs``, and the index path.

    Raises
    ------
    ParamsError
        Two specs share a name, or ``jobs`` < 1.
    """
    from .index import write_index

    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ParamsError(f"two runs are named '{dup}': each run needs its own folder.")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ParamsError(f"jobs must be a whole number >= 1, but was {jobs!r}")
    jobs = min(jobs or usable_cores(), max(len(specs), 1))
    # The cores left to each run execute its notebooks in parallel (one run: all of them).
    options.setdefault("notebook_jobs", max(1, usable_cores() // jobs))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress(stream=None)
    start = time.perf_counter()
    progress.start(len(specs), jobs)
    try:
        if jobs == 1:
            results = []
            for spec in specs:
                progress.update(running=1)
                results.append(run_one(spec, out_dir, **options))
                progress.finished(results[-1])
        else:
            results = _run_in_pool(specs, out_dir, jobs, progress, options)
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    index = write_index(out_dir, results, seconds=seconds, jobs=jobs)
    return BatchResult(tuple(results), index, seconds, jobs)


def _run_in_pool(
    specs: Sequence[RunSpec], out_dir: Path, jobs: int, progress: Progress, options: Mapping[str, Any]
) -> list[RunResult]:
    # "spawn": workers are fresh interpreters (no fork of a process with threads); each imports
    # the package once and then runs several reports.
    context = multiprocessing.get_context("spawn")
    results: dict[int, RunResult] = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures: dict[Future[RunResult], int] = {
            pool.submit(run_one, spec, out_dir, **options): i for i, spec in enumerate(specs)
        }
        pending = set(futures)
        progress.update(running=min(jobs, len(pending)))
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    i = futures[future]
                    results[i] = _result_of(future, specs[i], out_dir)
                    progress.finished(results[i], running=min(jobs, len(pending)))
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return [results[i] for i in range(len(specs))]


def _result_of(future: Future[RunResult], spec: RunSpec, out_dir: Path) -> RunResult:
    try:
        return future.result()
    except BrokenProcessPool:  # a worker process died (killed, out of memory)
        reason = "the worker process running this report died (killed, or out of memory?)"
        write_error_file(out_dir / spec.name, RuntimeError(reason), run_name=spec.name)
        return RunResult(spec.name, FAILED, out_dir / spec.name, spec.params_path, error=reason)


# --------------------------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------------------------


class Progress:
    """Progress of a batch on ``stream`` (stderr by default): done / running / failed.

    On a terminal a tqdm bar; elsewhere (a CI log, a file) one plain line per finished run;
    ``stream=None`` prints nothing.
    """

    def __init__(self, stream: TextIO | None = sys.stderr, *, bar: bool | None = None) -> None:
        self.stream = stream
        self.bar = bool(stream is not None and (stream.isatty() if bar is None else bar))
        self.total = self.done = self.failed = self.running = 0
        self._tqdm: Any = None

    def start(self, total: int, jobs: int) -> None:
        self.total = total
        if self.stream is None:
            return
        if self.bar:
            from tqdm import tqdm

            self._tqdm = tqdm(total=total, file=self.stream, unit="run", desc="reports", leave=True)
            self._refresh()
        else:
            print(f"running {total} report{'s' if total != 1 else ''}, {jobs} at a time", file=self.stream)

    def update(self, *, running: int) -> None:
        self.running = running
        self._refresh()

    def finished(self, result: RunResult, *, running: int | None = None) -> None:
        self.done += 1
        self.failed += not result.ok
        if running is not None:
            self.running = running
        elif self.running:
            self.running -= 1
        if self.stream is None:
            return
        line = f"{result.status:<6} {result.name} ({result.seconds:.1f} s)"
        if not result.ok:
            line += f": {result.error}"
        if self._tqdm is not None:
            self._tqdm.write(line, file=self.stream)
            self._tqdm.update(1)
            self._refresh()
        else:
            print(f"[{self.done}/{self.total}] {line} | {self.status()}", file=self.stream, flush=True)

    def status(self) -> str:
        """``"done 2/3, running 1, failed 0"``."""
        return f"done {self.done}/{self.total}, running {self.running}, failed {self.failed}"

    def _refresh(self) -> None:
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(f"running {self.running}, failed {self.failed}")

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None


__all__ = [
    "FAILED",
    "OK",
    "BatchResult",
    "Progress",
    "RunResult",
    "RunSpec",
    "discover_values",
    "plan_runs",
    "run_batch",
    "run_name",
    "run_one",
    "sanitize_name",
]
