"""Batch runs: several params files, or one fanned out over a column's values, in parallel.

A batch is a list of :class:`~onboarding_analysis.report.batch_plan.RunSpec`
(:func:`~onboarding_analysis.report.batch_plan.plan_runs`), executed by :func:`run_batch`: each
run is one :func:`~onboarding_analysis.report.execution.run_report` (its own papermill kernels) in a
worker of a process pool, into ``<out_dir>/<run name>/``. A failing run (bad params or data, a
notebook error) never stops the others: its folder keeps the partially executed notebook and
``error.txt``, and its :class:`RunResult` says why in one line. At the end the batch writes
``<out_dir>/index.html`` (:mod:`onboarding_analysis.report.index`) linking every run.

Examples
--------
>>> from onboarding_analysis.report.batch import run_batch
>>> from onboarding_analysis.report.batch_plan import plan_runs
>>> batch = run_batch(plan_runs(["params/demo.yaml"], per="client"), out_dir="reports")  # doctest: +SKIP
>>> [(run.name, run.status) for run in batch.runs]                                     # doctest: +SKIP
[('acme', 'ok'), ('globex', 'ok'), ('initech', 'ok')]
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..errors import ParamsError
from .batch_plan import RunSpec
from .execution import run_report
from .failures import ERROR_FILE, failure_summary, write_error_file
from .scheduling import usable_cores

#: Statuses of a finished run.
OK, FAILED = "ok", "failed"



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
        """Whether the run succeeded.

        Returns
        -------
        bool
            Whether the run finished with a report.
        """
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
        """The runs that failed.

        Returns
        -------
        tuple of RunResult
            The failed runs, in plan order.
        """
        return tuple(run for run in self.runs if not run.ok)

    def summary(self) -> str:
        """A few lines for the terminal or a CI log: the counts, then one line per failure.

        Returns
        -------
        str
            The lines, joined by newlines.

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




def run_one(spec: RunSpec, out_dir: str | os.PathLike[str], **options: Any) -> RunResult:
    """Execute one run; never raises for a failing run (except ``KeyboardInterrupt``).

    ``options`` go to :func:`~onboarding_analysis.report.execution.run_report` (``notebooks``,
    ``notebook_dir``, ``timeout``). A failed run's folder holds ``error.txt`` and the partial
    notebook; ``RunResult.error`` is the one-line reason.

    Parameters
    ----------
    spec : RunSpec
        The run.
    out_dir : path
        The batch's output folder; the run writes ``<out_dir>/<spec.name>/``.
    **options : Any
        Passed to ``run_report``.

    Returns
    -------
    RunResult
        How the run ended.
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

    Parameters
    ----------
    stream : text stream or None
        Where progress goes; ``None`` prints nothing.
    bar : bool, optional
        Force the tqdm bar on or off (default: on a terminal only).
    """

    def __init__(self, stream: TextIO | None = sys.stderr, *, bar: bool | None = None) -> None:
        self.stream = stream
        self.bar = bool(stream is not None and (stream.isatty() if bar is None else bar))
        self.total = self.done = self.failed = self.running = 0
        self._tqdm: Any = None

    def start(self, total: int, jobs: int) -> None:
        """Begin: the bar, or one line saying how many runs, how many at a time.

        Parameters
        ----------
        total : int
            Runs in the batch.
        jobs : int
            Runs executed at a time.
        """
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
        """Record how many runs are executing.

        Parameters
        ----------
        running : int
            Runs executing now.
        """
        self.running = running
        self._refresh()

    def finished(self, result: RunResult, *, running: int | None = None) -> None:
        """Record a finished run: the bar moves, or one line names the run and its status.

        Parameters
        ----------
        result : RunResult
            The finished run.
        running : int, optional
            Runs still executing.
        """
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
        """``"done 2/3, running 1, failed 0"``.

        Returns
        -------
        str
            Done, running and failed counts.
        """
        return f"done {self.done}/{self.total}, running {self.running}, failed {self.failed}"

    def _refresh(self) -> None:
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(f"running {self.running}, failed {self.failed}")

    def close(self) -> None:
        """Close the bar, if any.

        Notes
        -----
        Safe to call more than once.
        """
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None


__all__ = [
    "FAILED",
    "OK",
    "BatchResult",
    "Progress",
    "RunResult",
    "run_batch",
    "run_one",
]
