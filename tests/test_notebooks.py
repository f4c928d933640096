"""The notebooks are thin and share one parameters cell: every params key, demo defaults."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
import yaml

from onboarding_analysis.params import _CHECKS, validate_params
from onboarding_analysis.report.execution import REPORT_NOTEBOOKS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _parameters(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: expected one cell tagged 'parameters'"
    values = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.ImportFrom) and node.module == "typing":
            continue  # the names of the type annotations (papermill reads them for --help-notebook)
        assert isinstance(node, ast.AnnAssign | ast.Assign), (
            f"{path.name}: the parameters cell holds (annotated) assignments only"
        )
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
        values[target.id] = ast.literal_eval(node.value)
    return values


def test_every_report_notebook_exists():
    assert {p.name for p in NOTEBOOKS} == set(REPORT_NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_declares_every_key_with_the_demo_defaults(path):
    values = _parameters(path)
    assert set(values) == set(_CHECKS) | {"output_dir"}
    assert values.pop("output_dir") is None
    demo = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    assert validate_params(values).as_notebook_parameters() == validate_params(demo).as_notebook_parameters()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_hold_no_logic(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            assert not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Lambda), (
                f"{path.name}: {cell.source[:60]}"
            )
            assert not isinstance(node, ast.For | ast.While), f"{path.name}: loops belong in the package"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
