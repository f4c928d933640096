"""The command line: thin argument handling, user errors as one line and exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import onboarding_analysis
from onboarding_analysis import cli
from onboarding_analysis.demo import generator as demo
from onboarding_analysis.errors import DataError
from onboarding_analysis.report import batch, batch_plan
from onboarding_analysis.report import execution as report
from onboarding_analysis.report.failures import ReportError
from tests.cli_runner import run_cli

ROOT = Path(__file__).resolve().parent.parent


def _run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m onboarding_analysis ARGS`` in a fresh interpreter, importing this tree."""
    return run_cli(*args, cwd=cwd, timeout=120)


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
        (ReportError("retention.ipynb: cell 4 failed"), "error: retention.ipynb: cell 4 failed"),
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


@pytest.mark.parametrize(
    "argv",
    [
        ["demo-data", "--users", "0"],
        ["demo-data", "--users", "x"],
        [],
        ["run"],
        ["run", "params/demo.yaml", "--jobs", "0"],
        ["run", "params/demo.yaml", "--jobs", "two"],
        ["run", "params/demo.yaml", "--per"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


# Batches: several params files or --per; run_report replaced by a fake writing a tiny run.


def _fake_run_report(fail: set[str]):
    def fake(params_path, *, out_dir, overrides=None, **options):
        name = (overrides or {}).get("client") or Path(params_path).stem
        (Path(out_dir) / name).mkdir(parents=True, exist_ok=True)
        if name in fail:
            raise ReportError(
                "m", notebook="retention.ipynb", cell_index=3, ename="DataError", evalue="bad"
            )
        (Path(out_dir) / name / "metrics.json").write_text("{}", encoding="utf-8")
        return Path(out_dir) / name / "report.html"

    return fake


def _params_files(tmp_path: Path, *names: str) -> list[str]:
    (tmp_path / "params").mkdir(exist_ok=True)
    for name in names:
        (tmp_path / "params" / f"{name}.yaml").write_text(
            f"client: {name}\nevents: e.csv\n", encoding="utf-8"
        )
    return [str(tmp_path / "params" / f"{name}.yaml") for name in names]


def test_run_several_files_is_a_batch_with_progress_and_summary(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(batch, "run_report", _fake_run_report(set()))
    files = _params_files(tmp_path, "acme", "globex")
    assert cli.main(["run", *files, "--out", str(tmp_path / "out"), "--jobs", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{tmp_path / 'out' / 'index.html'}\n"
    err = captured.err.splitlines()
    assert err[0] == "running 2 reports, 1 at a time"
    assert err[1].startswith("[1/2] ok     acme") and err[2].startswith("[2/2] ok     globex")
    assert err[3].startswith("2 runs in ") and err[3].endswith(
        f"2 ok, 0 failed. Index: {tmp_path / 'out' / 'index.html'}"
    )
    assert (tmp_path / "out" / "index.html").is_file()


def test_run_batch_quiet_prints_only_the_summary_and_exits_1_on_failure(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(batch, "run_report", _fake_run_report({"globex"}))
    files = _params_files(tmp_path, "acme", "globex")
    assert cli.main(["run", *files, "--out", str(tmp_path / "out"), "--jobs", "1", "--quiet"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("2 runs in ") and "1 ok, 1 failed" in err[0]
    assert err[1] == (
        f"FAILED globex: retention.ipynb cell 3: DataError: bad ({tmp_path / 'out' / 'globex' / 'error.txt'})"
    )


def test_run_per_passes_the_column_and_jobs(monkeypatch, capsys, tmp_path):
    calls = {}

    def fake_plan(paths, *, per):
        calls["plan"] = (paths, per)
        return [batch_plan.RunSpec("acme", Path(paths[0]))]

    def fake_run_batch(specs, *, out_dir, jobs, progress):
        calls["run"] = (specs, out_dir, jobs, progress.stream)
        return batch.BatchResult((), out_dir / "index.html", 1.0, jobs)

    monkeypatch.setattr(batch_plan, "plan_runs", fake_plan)
    monkeypatch.setattr(batch, "run_batch", fake_run_batch)
    assert cli.main(["run", "params/demo.yaml", "--per", "client", "--jobs", "3", "--quiet"]) == 0
    assert calls["plan"] == ([Path("params/demo.yaml")], "client")
    assert calls["run"] == ([batch_plan.RunSpec("acme", Path("params/demo.yaml"))], Path("reports"), 3, None)
    assert capsys.readouterr().out == "reports/index.html\n"


def test_run_per_with_two_files_is_a_user_error(capsys, tmp_path):
    files = _params_files(tmp_path, "acme", "globex")
    assert cli.main(["run", *files, "--per", "client"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --per client: give exactly one params file to fan out (got 2)")


def test_run_help_documents_the_batch_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("PARAMS [PARAMS ...]", "--per COLUMN", "--jobs N", "--out OUT", "--quiet", "index.html"):
        assert option in text


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    def interrupted(params, *, out_dir):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "run_report", interrupted)
    assert cli.main(["run", "params/demo.yaml"]) == 130
    assert capsys.readouterr().err == "interrupted\n"
    with pytest.raises(KeyboardInterrupt):
        cli.main(["run", "params/demo.yaml", "--debug"])


# Checked before any kernel starts: the inputs (headers only) and --out. In process, with the
# notebook execution replaced by a recorder, so that "never called" is what is asserted.


@pytest.fixture
def notebooks_started(monkeypatch):
    """The calls of report.execute_notebooks (every run executes its notebooks through it)."""
    calls = []
    monkeypatch.setattr(report, "execute_notebooks", lambda *args, **kwargs: calls.append(args) or [])
    monkeypatch.setattr(report, "render_html", lambda *args, **kwargs: Path("report.html"))
    return calls


def _project(tmp_path: Path, **params) -> Path:
    """A params file outside any params/ folder (relative paths start at its own folder), with
    a valid events.csv and users.csv next to it; the working directory is elsewhere."""
    folder = tmp_path / "client"
    folder.mkdir()
    (folder / "events.csv").write_text(
        "user_id,event,timestamp\nu1,signed_up,2024-01-01T00:00:00Z\n", encoding="utf-8"
    )
    (folder / "users.csv").write_text("user_id,plan\nu1,pro\n", encoding="utf-8")
    text = "".join(f"{key}: {value}\n" for key, value in {"client": "acme", **params}.items())
    (folder / "params.yaml").write_text(text, encoding="utf-8")
    return folder / "params.yaml"


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


def test_valid_inputs_reach_the_notebooks(tmp_path, monkeypatch, capsys, notebooks_started):
    """The recorder sees the notebooks of a run whose inputs pass the checks."""
    params = _project(tmp_path, events="events.csv", users="users.csv")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(params), "--out", str(tmp_path / "out")]) == 0
    assert len(notebooks_started) == 1 and (tmp_path / "out" / "acme").is_dir()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"events": "data/events.csv"},
            "error: {folder}/params.yaml: key 'events': file {folder}/data/events.csv not found. Check "
            "the path (relative paths start at {folder}, the folder of the params file).",
        ),
        (
            {"events": "events.csv", "users": "data/users.csv"},
            "error: {folder}/params.yaml: key 'users': file {folder}/data/users.csv not found. Check "
            "the path (relative paths start at {folder}, the folder of the params file).",
        ),
        (
            {"events": "events.csv", "columns": "{timestamp: when}"},
            "error: {folder}/events.csv: missing column 'when' (the timestamp column). Columns found: "
            "user_id, event, timestamp. Map the right column with columns: {{timestamp: <your column>}} "
            "in the params file.",
        ),
    ],
    ids=["missing-events-file", "missing-users-file", "missing-mapped-column"],
)
def test_bad_inputs_stop_before_the_kernels_start(
    tmp_path, monkeypatch, capsys, notebooks_started, params, expected
):
    path = _project(tmp_path, **params)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # not where relative paths start
    assert cli.main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert _one_line_error(capsys) == expected.format(folder=path.parent)
    assert notebooks_started == [] and not (tmp_path / "out").exists()


def test_missing_file_names_the_project_root_for_a_params_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "acme.yaml").write_text("events: data/events.csv\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "params")
    assert cli.main(["run", "acme.yaml", "--out", str(tmp_path / "out")]) == 2
    assert _one_line_error(capsys).endswith(
        f"file {tmp_path}/data/events.csv not found. Check the path (relative paths start at "
        f"{tmp_path}, the folder above params/)."
    )


def _out_is_a_file(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "taken").write_text("x", encoding="utf-8")
    out = tmp_path / "taken"
    return out, f"error: --out {out}: is a file, not a folder."


def _out_under_a_file(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "taken").write_text("x", encoding="utf-8")
    out = tmp_path / "taken" / "reports"
    return out, f"error: --out {out}: {tmp_path / 'taken'} is a file, so no folder can be created under it."


def _out_read_only(tmp_path: Path) -> tuple[Path, str]:
    if os.geteuid() == 0:
        pytest.skip(
            "as root a folder without write permission is still writable (see the read-only file system case)"
        )
    (tmp_path / "locked").mkdir(mode=0o555)
    out = tmp_path / "locked" / "reports"
    return out, f"error: --out {out}: the folder {tmp_path / 'locked'} is not writable"


@pytest.mark.parametrize("make_out", [_out_is_a_file, _out_under_a_file, _out_read_only])
def test_unwritable_out_is_one_line_naming_out(tmp_path, monkeypatch, capsys, notebooks_started, make_out):
    params = _project(tmp_path, events="events.csv")
    out, expected = make_out(tmp_path)
    assert cli.main(["run", str(params), "--out", str(out)]) == 2
    line = _one_line_error(capsys)
    assert line.startswith(expected) and "Give " in line, line
    assert notebooks_started == []
    # the batch path checks --out too
    assert cli.main(["run", str(params), str(params), "--out", str(out)]) == 2
    assert _one_line_error(capsys).startswith(expected)


def test_out_on_a_read_only_file_system_is_one_line(tmp_path, monkeypatch, capsys, notebooks_started):
    """A read-only mount (which even root cannot write), simulated: os.access reports it so."""
    params = _project(tmp_path, events="events.csv")
    (tmp_path / "mounted").mkdir()
    real_access = os.access
    monkeypatch.setattr(
        cli.os, "access", lambda path, mode: Path(path) != tmp_path / "mounted" and real_access(path, mode)
    )
    out = tmp_path / "mounted" / "reports"
    assert cli.main(["run", str(params), "--out", str(out)]) == 2
    assert _one_line_error(capsys) == (
        f"error: --out {out}: the folder {tmp_path / 'mounted'} is not writable (no permission, or a "
        "read-only file system). Give a folder you can write to, e.g. --out /tmp/reports."
    )
    assert notebooks_started == [] and not out.exists()
def test_run_prints_the_reports_notes_once_on_stderr(monkeypatch, capsys, tmp_path):
    def fake_run_report(params, *, out_dir):
        (out_dir / "acme").mkdir(parents=True)
        notes = ["data/events.csv: 5 event rows excluded as 'missing user id'", "groups pooled into 'other'"]
        (out_dir / "acme" / "metrics.json").write_text(json.dumps({"warnings": notes}), encoding="utf-8")
        return out_dir / "acme" / "report.html"

    monkeypatch.setattr(report, "run_report", fake_run_report)
    assert cli.main(["run", "params/acme.yaml", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(tmp_path / "acme" / "report.html")
    assert captured.err.splitlines() == [
        "note: data/events.csv: 5 event rows excluded as 'missing user id'",
        "note: groups pooled into 'other'",
    ]


def test_batch_prints_each_runs_notes_with_its_name(monkeypatch, capsys, tmp_path):
    def fake(params_path, *, out_dir, overrides=None, **options):
        name = Path(params_path).stem
        (Path(out_dir) / name).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / name / "metrics.json").write_text(
            json.dumps({"warnings": [f"{name} note"]}), encoding="utf-8"
        )
        return Path(out_dir) / name / "report.html"

    monkeypatch.setattr(batch, "run_report", fake)
    files = _params_files(tmp_path, "acme", "globex")
    assert cli.main(["run", *files, "--out", str(tmp_path / "out"), "--jobs", "1"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "note" in line] == ["acme: note: acme note", "globex: note: globex note"]
