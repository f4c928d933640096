"""The order and the parallelism of a run's notebooks.

:func:`execute_notebooks` executes a run's notebooks one after the other or from parallel worker
processes, the longest first (:data:`START_FIRST`, :func:`start_order`); :func:`usable_cores`
is the default number of workers for a run and a batch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .kernels import execute_notebook

#: In a parallel run, the notebooks that start first, longest first (their order at 1M users:
#: segments ~30 s of their own work, moments ~20, onboarding ~20, engagement ~15, then quality
#: and retention): started last, a long notebook would run alone on an otherwise idle machine.
#: Other notebooks follow in report order. The report itself keeps the report order.
START_FIRST: tuple[str, ...] = ("segments.ipynb", "moments.ipynb", "onboarding.ipynb", "engagement.ipynb")


def execute_notebooks(
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

    Parameters
    ----------
    notebooks : sequence of str
        Notebook file names, in report order.
    notebook_dir : Path
        Where they are.
    run_dir : Path
        Where the executed copies go.
    parameters : Mapping
        Injected into every notebook.
    root : Path
        The kernels' working directory.
    timeout : float or None
        Seconds any single cell may run.
    jobs : int
        Notebooks executed at a time.

    Returns
    -------
    list of Path
        The executed notebooks, in report order.

    Raises
    ------
    ReportError
        The first failed notebook in report order.
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
    """The positions of ``notebooks`` in the order a parallel run starts them.

    Those of :data:`START_FIRST` first, in its order, then the others in report order.

    Parameters
    ----------
    notebooks : sequence of str
        Notebook file names, in report order.

    Returns
    -------
    list of int
        Indexes into ``notebooks``.
    """
    first = {name: rank for rank, name in enumerate(START_FIRST)}
    return sorted(range(len(notebooks)), key=lambda i: (first.get(notebooks[i], len(first)), i))


def _execute_task(task: tuple) -> None:
    """:func:`execute_notebook` of one ``(input, output, parameters, cwd, timeout)`` task."""
    input_path, output_path, parameters, cwd, timeout = task
    execute_notebook(input_path, output_path, parameters, cwd=cwd, timeout=timeout)


def usable_cores() -> int:
    """CPU cores this process may use (its affinity where known), at least 1.

    Returns
    -------
    int
        The number of cores.
    """
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


__all__ = ["START_FIRST", "execute_notebooks", "start_order", "usable_cores"]
