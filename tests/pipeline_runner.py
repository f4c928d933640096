"""Run the report notebooks' code in this process, as papermill would run it in kernels.

The whole-pipeline tests (tests/test_pipeline_properties.py) need hundreds of report runs; a
kernel start per notebook costs seconds, so they execute the notebooks' own code cells here:
the ``parameters`` cell, then the run's parameters assigned after it (papermill's injected
cell), then every other code cell in order, each notebook in a fresh namespace (a kernel of its
own) with the report's ``output_dir``. The code that runs is the notebooks' code, read from the
notebook files, so a change to a notebook is tested here too. Printing and figures are
discarded (the Agg backend; ``plt.show()`` is a no-op there); what the cells print is kept.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from onboarding_analysis.report.execution import REPORT_NOTEBOOKS  # noqa: E402
from onboarding_analysis.report.notebook import _NOTES_SHOWN as notes_shown  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


class CellError(Exception):
    """A notebook cell raised: which notebook and cell, and the original exception as cause."""

    def __init__(self, notebook: str, index: int, source: str, error: BaseException) -> None:
        first = source.strip().splitlines()[:3]
        super().__init__(f"{notebook} cell {index}: {type(error).__name__}: {error}\n  " + "\n  ".join(first))
        self.notebook, self.index, self.error, self.source_head = notebook, index, error, source


def _cells(notebook: str) -> tuple[str, list[tuple[int, str]]]:
    nb = json.loads((NOTEBOOK_DIR / notebook).read_text(encoding="utf-8"))
    parameters, cells = None, []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if parameters is None and "parameters" in cell.get("metadata", {}).get("tags", []):
            parameters = source
        else:
            cells.append((index, source))
    assert parameters is not None, f"{notebook}: no cell tagged 'parameters'"
    return parameters, cells


_CACHE: dict[str, tuple[str, list[tuple[int, str]]]] = {}


@dataclass
class Run:
    """What the cells gave: the printed text (notes, tables' text form) and the warnings."""

    text: str
    warnings: list[warnings.WarningMessage]


def run_notebooks(parameters: Mapping[str, Any], notebooks=REPORT_NOTEBOOKS) -> Run:
    """Execute ``notebooks`` with ``parameters`` injected; a failing cell raises :class:`CellError`.

    ``parameters`` is what ``run_report`` injects: ``params.as_notebook_parameters()`` plus
    ``output_dir``. Returns the printed text of every cell and the warnings the cells gave (in
    a kernel they would be shown, not raised: so they are recorded here whatever pytest's
    warning filters say).
    """
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run(parameters, notebooks, printed)
    return Run(printed.getvalue(), caught)


def _run(parameters: Mapping[str, Any], notebooks, printed: io.StringIO) -> None:
    for notebook in notebooks:
        # A fresh kernel per notebook: the notes shown once per kernel start again.
        notes_shown.clear()
        if notebook not in _CACHE:
            _CACHE[notebook] = _cells(notebook)
        defaults, cells = _CACHE[notebook]
        namespace: dict[str, Any] = {"__name__": "__main__"}
        with contextlib.redirect_stdout(printed):
            exec(compile(defaults, f"{notebook}:parameters", "exec"), namespace)
            namespace.update(parameters)
            try:
                for index, source in cells:
                    try:
                        exec(compile(source, f"{notebook}:cell{index}", "exec"), namespace)
                    except Exception as err:
                        raise CellError(notebook, index, source, err) from err
            finally:
                plt.close("all")
