"""The command line: thin argument handling, user errors as one line and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import onboarding_analysis
from onboarding_analysis import cli, demo, report
from onboarding_analysis.errors import DataError

ROOT = Path(__file__).resolve().parent.parent


def _run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m onboarding_analysis ARGS`` in a fresh interpreter, importing this tree."""
    env = os.environ.copy()
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run(
        [sys.executable, "-m", "onboarding_analysis", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version(tmp_path):
    done = _run_module("--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"onboarding-analysis {onboarding_analysis.__version__}"


def test_missing_params_file_is_one_line_error_exit_2(tmp_path):
    done = _run_module("run", "params/nope.yaml", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")
    assert "params/nope.yaml" in done.stderr and "not found" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "out").exists()


def test_debug_shows_the_traceback(tmp_path):
    done = _run_module("run", "params/nope.yaml", "--debug", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "ParamsError" in done.stderr


# In-process tests of main(): fast, with the package functions replaced.


def test_run_calls_run_report_and_prints_the_path(monkeypatch, capsys, tmp_path):
    calls = []

    def fake_run_report(params, *, out_dir):
        calls.append((params, out_dir))
        return out_dir / "acme" / "report.html"

    monkeypatch.setattr(report, "run_report", fake_run_report)
    assert cli.main(["run", "params/acme.yaml", "--out", str(tmp_path)]) == 0
    assert calls == [(Path("params/acme.yaml"), tmp_path)]
    assert capsys.readouterr().out.strip() == str(tmp_path / "acme" / "report.html")


def test_run_default_out_is_reports(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(report, "run_report", lambda params, *, out_dir: calls.append(out_dir) or Path("x"))
    assert cli.main(["run", "params/demo.yaml"]) == 0
    assert calls == [Path("reports")]


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            DataError("events.csv: column 'timestamp' not found."),
            "error: events.csv: column 'timestamp' not found.",
        ),
        (
            FileNotFoundError(2, "No such file or directory", "data/x.csv"),
            "error: data/x.csv: No such file or directory",
        ),
        (report.ReportError("retention.ipynb: cell 4 failed"), "error: retention.ipynb: cell 4 failed"),
    ],
)
def test_user_errors_exit_2_without_traceback(monkeypatch, capsys, error, message):
    def fail(params, *, out_dir):
        raise error

    monkeypatch.setattr(report, "run_report", fail)
    assert cli.main(["run", "params/demo.yaml"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == message
    assert "Traceback" not in captured.err


def test_debug_reraises(monkeypatch):
    def fail(params, *, out_dir):
        raise DataError("bad data")

    monkeypatch.setattr(report, "run_report", fail)
    with pytest.raises(DataError, match="bad data"):
        cli.main(["run", "params/demo.yaml", "--debug"])


def test_programming_errors_are_not_hidden(monkeypatch):
    def fail(params, *, out_dir):
        raise KeyError("bug")

    monkeypatch.setattr(report, "run_report", fail)
    with pytest.raises(KeyError):
        cli.main(["run", "params/demo.yaml"])


def test_demo_data_passes_users_and_seed(monkeypatch, capsys, tmp_path):
    calls = []

    def fake_write_demo(out_dir, spec=None, *, seed=None):
        calls.append((out_dir, spec, seed))
        return {"events": Path(out_dir) / "events.parquet", "users": Path(out_dir) / "users.csv"}

    monkeypatch.setattr(demo, "write_demo", fake_write_demo)
    assert cli.main(["demo-data", "--out", str(tmp_path), "--users", "120", "--seed", "7"]) == 0
    ((out_dir, spec, seed),) = calls
    assert (out_dir, spec.n_users, seed) == (tmp_path, 120, 7)
    assert capsys.readouterr().out.split() == [str(tmp_path / "events.parquet"), str(tmp_path / "users.csv")]


def test_demo_data_defaults_are_the_generators(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(demo, "write_demo", lambda out_dir, **kw: calls.append((out_dir, kw)) or {})
    assert cli.main(["demo-data"]) == 0
    assert calls == [(Path("data/demo"), {})]


@pytest.mark.parametrize("argv", [["demo-data", "--users", "0"], ["demo-data", "--users", "x"], [], ["run"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err
