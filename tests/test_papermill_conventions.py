"""The notebooks are plain papermill notebooks, and runnable as they are in JupyterLab.

- ``papermill --help-notebook`` lists every parameter of the parameters cell with its type and comment;
- plain ``papermill NB OUT -k python3 -f params.yaml`` runs each notebook, and records the same
  metrics as ``onboarding-analysis run`` on the same params (the CLI is a thin layer);
- with no injected parameters, from the notebooks folder (what *Run All* in ``make lab``
  does), every notebook runs top to bottom on the demo data without an error.
"""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from onboarding_analysis.demo.generator import DemoSpec, write_demo
from onboarding_analysis.report.execution import NOTEBOOK_DIR, REPORT_NOTEBOOKS
from onboarding_analysis.report.metrics_io import read_metrics, record_metrics, to_jsonable
from onboarding_analysis.report.page import collect_notes
from onboarding_analysis.report.summary import build_summary, summary_metrics

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: Every notebook of the folder JupyterLab opens (``make lab``); the report runs REPORT_NOTEBOOKS.
FOLDER_NOTEBOOKS = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
#: Keys that only ``onboarding-analysis run`` records (who ran it), not the notebooks.
RUN_ONLY_KEYS = {"params_file", "package_version", "notebooks"}


def _env() -> dict[str, str]:
    env = os.environ.copy()
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONHASHSEED"] = "0"
    return env


def _declared_parameters(path: Path) -> list[tuple[str, str, str]]:
    """(name, type, comment) of every annotated assignment in the notebook's parameters cell, in order."""
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    comments = {
        token.start[0]: token.string.lstrip("#").strip()
        for token in tokenize.generate_tokens(io.StringIO(cell.source).readline)
        if token.type == tokenize.COMMENT
    }
    declared = []
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.ImportFrom) and node.module == "typing":
            continue  # the names the annotations use
        assert isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name), ast.unparse(node)
        comment = comments.get(node.end_lineno, "")
        assert comment, f"{path.name}: parameter {node.target.id} has no comment on its line"
        declared.append((node.target.id, ast.unparse(node.annotation), comment))
    return declared


#: One parameter as ``papermill --help-notebook`` prints it: "  name: type (default value)",
#: then its help on the same line (short definitions) or on the next, indented 34 spaces.
_HELP_LINE = re.compile(r"^  (?P<name>\w+): (?P<type>.+?) \(default (?P<default>.*)\)(?: +(?P<help>\S.*))?$")


def _help_notebook(path: Path) -> list[tuple[str, str, str]]:
    """(name, type, help) triples printed by ``papermill --help-notebook``."""
    proc = subprocess.run(
        [str(BIN / "papermill"), "--help-notebook", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Parameters inferred for notebook"))
    listed: list[list[str]] = []
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        match = _HELP_LINE.match(line) if not line.startswith(34 * " ") else None
        if match:
            listed.append([match["name"], match["type"], match["help"] or ""])
        else:
            assert listed and line.startswith(34 * " "), line
            listed[-1][2] = (listed[-1][2] + " " + line.strip()).strip()
    return [(name, kind, text) for name, kind, text in listed]


@pytest.mark.parametrize("name", FOLDER_NOTEBOOKS)
def test_help_notebook_lists_every_parameter_with_its_type_and_comment(name):
    path = NOTEBOOK_DIR / name
    declared = _declared_parameters(path)
    listed = _help_notebook(path)
    assert listed == declared
    assert declared[-1][0] == "output_dir"
    assert not [kind for _, kind, _ in listed if kind == "Unknown type"]


# --------------------------------------------------------------------------------------------
# Plain papermill on a small demo, beside `onboarding-analysis run`
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_demo_runs(tmp_path_factory):
    """Each notebook with the papermill CLI, and the same params with onboarding-analysis run,
    all started at once (4 processes; most of their time is kernel start-up and imports)."""
    project = tmp_path_factory.mktemp("papermill")
    write_demo(project / "data" / "demo", spec=DemoSpec(n_users=600))
    (project / "params").mkdir()
    params = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    (project / "params" / "demo.yaml").write_text(yaml.safe_dump(params))
    plain = project / "plain"
    commands = [  # one output_dir each: concurrent writers to one metrics.json would race
        [str(BIN / "papermill"), str(NOTEBOOK_DIR / name), f"plain/{name}", "-k", "python3"]
        + ["-f", "params/demo.yaml", "-r", "output_dir", str(plain / Path(name).stem), "--no-progress-bar"]
        for name in REPORT_NOTEBOOKS
    ]
    commands.append([sys.executable, "-m", "onboarding_analysis", "run", "params/demo.yaml", "--out", "cli"])
    plain.mkdir()
    procs = [
        subprocess.Popen(
            cmd, cwd=project, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for cmd in commands
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        results.append((proc.returncode, out, err))
    return project, results


def test_plain_papermill_runs_every_notebook(small_demo_runs):
    project, results = small_demo_runs
    for name, (code, _, err) in zip(REPORT_NOTEBOOKS, results, strict=False):
        assert code == 0, f"papermill {name}: {err[-3000:]}"
        nb = nbformat.read(project / "plain" / name, as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, errors
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and 'client = "demo"' in injected[0].source


def test_cli_records_the_same_metrics_as_plain_papermill(small_demo_runs):
    project, results = small_demo_runs
    code, out, err = results[-1]
    assert code == 0, err
    assert out.strip() == "cli/demo/report.html"
    # merged in report order, as the notebooks of one run do in one folder
    plain = record_metrics(None, *(read_metrics(project / "plain" / Path(n).stem) for n in REPORT_NOTEBOOKS))
    cli = read_metrics(project / "cli" / "demo")
    assert set(cli["run"]) - set(plain["run"]) == RUN_ONLY_KEYS
    for key in RUN_ONLY_KEYS:
        del cli["run"][key]
    # The report run adds the notes its notebooks showed, once each, in report order, and the
    # "At a glance" summary, a function of the metrics the notebooks recorded (and the notes).
    assert cli.pop("warnings") == collect_notes([project / "plain" / n for n in REPORT_NOTEBOOKS])
    notes = {"warnings": collect_notes([project / "plain" / n for n in REPORT_NOTEBOOKS])}
    assert {"summary": cli.pop("summary")} == to_jsonable(summary_metrics(build_summary(plain | notes)))
    assert cli == plain
    assert {"data", "retention", "lifetime", "ttfv", "funnel"} <= set(plain)


# --------------------------------------------------------------------------------------------
# JupyterLab: every notebook as it is, from its folder, no injected parameters
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FOLDER_NOTEBOOKS)
def test_notebook_runs_top_to_bottom_as_in_jupyterlab(name, monkeypatch):
    demo = ROOT / "data" / "demo" / "events.parquet"
    assert demo.is_file(), f"{demo} is missing: run `make demo` (make test does it first)"
    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the notebook shows its charts"
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert not (NOTEBOOK_DIR / "metrics.json").exists()  # output_dir = None: nothing written


def test_make_lab_opens_the_notebooks_folder_even_as_root():
    """Jupyter refuses to start as root (CI machines, containers) unless told --allow-root."""
    proc = subprocess.run(["make", "-n", "-s", "lab"], cwd=ROOT, capture_output=True, text=True, check=True)
    (command,) = [line for line in proc.stdout.splitlines() if "jupyter lab" in line]
    assert command.split()[1:3] == ["lab", "notebooks/"]
    assert ("--allow-root" in command) == (os.geteuid() == 0)
