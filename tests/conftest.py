"""Shared fixtures: tiny event logs written to tmp files; one real report run on the demo data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def write_csv(tmp_path):
    """Write rows (list of dicts or a DataFrame) to a CSV in tmp_path; return its path as str."""

    def write(rows, name: str = "events.csv") -> str:
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return str(path)

    return write


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """Demo data and params in a scratch project; one `onboarding-analysis run` on them.

    Returns ``(completed process, run folder, params file)``. Session-scoped: every test module
    reading the real demo report shares this one run (about a minute).
    """
    import yaml

    from onboarding_analysis.demo import write_demo

    project = tmp_path_factory.mktemp("project")
    write_demo(project / "data" / "demo")
    (project / "params").mkdir()
    params = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    params_file = project / "params" / "demo.yaml"
    params_file.write_text(yaml.safe_dump(params))
    out = project / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "onboarding_analysis", "run", str(params_file), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=900,
    )
    return proc, out / "demo", params_file


@pytest.fixture(autouse=True)
def _fresh_notes():
    """Each test starts as a fresh kernel would: no note shown yet (notes are shown once per
    kernel, :func:`onboarding_analysis.report.notebook.show_note`)."""
    from onboarding_analysis.report.notebook import _NOTES_SHOWN

    _NOTES_SHOWN.clear()
    yield
