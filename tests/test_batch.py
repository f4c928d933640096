"""Batch runs: planning (files, --per), failure isolation, the process pool, progress, the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup

from onboarding_analysis.demo import DemoSpec, write_demo
from onboarding_analysis.errors import DataError, ParamsError
from onboarding_analysis.params import load_params, validate_params
from onboarding_analysis.report import batch
from onboarding_analysis.report.batch import (
    FAILED,
    OK,
    BatchResult,
    Progress,
    RunResult,
    run_batch,
    run_one,
)
from onboarding_analysis.report.batch_plan import RunSpec, discover_values, plan_runs, run_name, sanitize_name
from onboarding_analysis.report.failures import ReportError
from onboarding_analysis.report.metrics_io import read_metrics

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _kernel_imports_the_package(monkeypatch):
    """Kernels and pool workers inherit the environment: let them import this tree."""
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + (os.pathsep + path if path else ""))


def _write_params(folder: Path, name: str, **params) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


@pytest.fixture
def small_project(tmp_path):
    """A project with tiny CSVs: users carry client and plan; events carry region only."""
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3", "u4"],
            "signup_at": ["2024-01-01T00:00:00Z"] * 4,
            "client": ["acme", "globex", "acme", "Café Inc."],
            "plan": ["pro", "free", "free", None],
        }
    ).to_csv(data / "users.csv", index=False)
    pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3", "u4", "u4"],
            "event": ["signed_up", "signed_up", "signed_up", "signed_up", "x"],
            "timestamp": ["2024-01-01T00:00:00Z"] * 4 + ["2024-02-01T00:00:00Z"],
            "region": ["eu", "us", "eu", "apac", "mars"],  # u4's "mars" row is after observation end
        }
    ).to_csv(data / "events.csv", index=False)
    return tmp_path


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acme", "acme"),
        ("Café Inc.", "Cafe_Inc."),
        ("../etc/passwd", "etc_passwd"),
        ("a b/c", "a_b_c"),
        ("-lead", "lead"),
        ("???", "run"),
        ("", "run"),
        ("x" * 150, "x" * 100),
        (42, "42"),
    ],
)
def test_sanitize_name_gives_valid_client_names(text, expected):
    name = sanitize_name(text)
    assert name == expected
    validate_params({"events": "e.csv", "client": name})  # accepted as a run name


def test_run_name_per_client_is_the_value_else_client_column_value():
    params = validate_params({"events": "e.csv", "client": "demo"})
    assert run_name(params, "client", "acme") == "acme"
    assert run_name(params, "plan", "pro") == "demo-plan-pro"
    assert run_name(params, "plan", "Pro / Annual") == "demo-plan-Pro_Annual"


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------


def test_plan_one_run_per_file_in_order(tmp_path):
    a = _write_params(tmp_path / "params", "a", events="data/e.csv", client="zeta")
    b = _write_params(tmp_path / "params", "b", events="data/e.csv", client="alpha")
    assert plan_runs([a, b]) == [RunSpec("zeta", a), RunSpec("alpha", b)]


def test_plan_invalid_or_missing_file_becomes_a_failing_run_named_after_the_file(tmp_path):
    good = _write_params(tmp_path / "params", "bad", events="data/e.csv", client="bad")
    broken = _write_params(tmp_path / "params", "broken", events="data/e.csv", colour="red")
    missing = tmp_path / "params" / "bad.yml"  # same stem as the good run's client
    specs = plan_runs([good, broken, missing])
    assert [s.name for s in specs] == ["bad", "broken", "bad-2"]
    assert specs[0].problem is None
    assert "unknown key 'colour'" in specs[1].problem
    assert "params file not found" in specs[2].problem


def test_plan_rejects_two_files_with_one_client(tmp_path):
    a = _write_params(tmp_path / "params", "a", events="data/e.csv", client="acme")
    b = _write_params(tmp_path / "params", "b", events="data/e.csv", client="acme")
    with pytest.raises(ParamsError, match=r"a\.yaml and .*b\.yaml both have client 'acme'"):
        plan_runs([a, b])


def test_plan_per_needs_exactly_one_file(tmp_path):
    a = _write_params(tmp_path / "params", "a", events="data/e.csv")
    with pytest.raises(ParamsError, match="--per plan: give exactly one params file"):
        plan_runs([a, a], per="plan")
    with pytest.raises(ParamsError, match="no params file"):
        plan_runs([])


def test_plan_per_client_uses_the_users_table_values(small_project):
    params = _write_params(
        small_project / "params",
        "all",
        events="data/events.csv",
        users="data/users.csv",
        client="all",
        filters={"plan": ["pro", "free"]},
    )
    specs = plan_runs([params], per="client")
    assert [s.name for s in specs] == ["Cafe_Inc.", "acme", "globex"]
    assert specs[0].overrides == {
        "client": "Cafe_Inc.",
        "filters": {"plan": ["pro", "free"], "client": ["Café Inc."]},  # the raw value filters
    }
    assert all(s.params_path == params for s in specs)


def test_plan_per_other_column_names_runs_client_column_value(small_project):
    params = _write_params(
        small_project / "params", "demo", events="data/events.csv", users="data/users.csv", client="demo"
    )
    specs = plan_runs([params], per="plan")
    assert [s.name for s in specs] == ["demo-plan-free", "demo-plan-pro"]  # NULL plan: no run
    assert specs[1].overrides == {"client": "demo-plan-pro", "filters": {"plan": ["pro"]}}


def test_plan_per_keeps_only_values_allowed_by_the_files_filter(small_project):
    params = _write_params(
        small_project / "params",
        "demo",
        events="data/events.csv",
        users="data/users.csv",
        filters={"client": ["acme", "initech"]},
    )
    assert [s.name for s in plan_runs([params], per="client")] == ["acme"]
    only_missing = _write_params(
        small_project / "params",
        "none",
        events="data/events.csv",
        users="data/users.csv",
        filters={"client": "initech"},
    )
    with pytest.raises(ParamsError, match=r"no value of column 'client'.*among the file's filters"):
        plan_runs([only_missing], per="client")


def test_discover_values_from_events_when_the_users_table_lacks_the_column(small_project):
    params = load_params(
        _write_params(
            small_project / "params",
            "demo",
            events="data/events.csv",
            users="data/users.csv",
            observation_end="2024-01-15",
        )
    )
    # usable events only: "mars" is on a row after the observation end
    assert discover_values(params, "region") == ["apac", "eu", "us"]
    assert discover_values(params, "client") == ["Café Inc.", "acme", "globex"]
    with pytest.raises(ParamsError, match="column 'colour' is in neither the users table nor the events"):
        discover_values(params, "colour")


def test_discover_values_maps_the_client_column_through_params_columns(tmp_path):
    (tmp_path / "data").mkdir()
    pd.DataFrame(
        {
            "uid": ["a", "b"],
            "event": ["signed_up"] * 2,
            "timestamp": ["2024-01-01T00:00:00Z"] * 2,
            "customer": ["x", "y"],
        }
    ).to_csv(tmp_path / "data" / "events.csv", index=False)
    params = _write_params(
        tmp_path / "params",
        "p",
        events="data/events.csv",
        columns={"user_id": "uid", "client": "customer"},
    )
    assert [s.name for s in plan_runs([params], per="client")] == ["x", "y"]


def test_discover_values_unreadable_data_is_a_data_error(tmp_path):
    params = _write_params(tmp_path / "params", "p", events="data/missing.csv")
    with pytest.raises(DataError, match="missing.csv"):
        plan_runs([params], per="client")


# --------------------------------------------------------------------------------------------
# Running, with run_report replaced (in-process, fast)
# --------------------------------------------------------------------------------------------


def _fake_run_report(fail: dict[str, BaseException]):
    def fake(params_path, *, out_dir, overrides=None, **options):
        name = (overrides or {}).get("client") or Path(params_path).stem
        run_dir = Path(out_dir) / name
        run_dir.mkdir(parents=True, exist_ok=True)
        if name in fail:
            raise fail[name]
        (run_dir / "metrics.json").write_text('{"data": {"users": 7}}', encoding="utf-8")
        (run_dir / "report.html").write_text("<html></html>", encoding="utf-8")
        return run_dir / "report.html"

    return fake


def test_run_batch_isolates_failures_and_keeps_order(tmp_path, monkeypatch):
    failures = {
        "b": ReportError(
            "onboarding.ipynb: cell 4 ('x') failed",
            notebook="onboarding.ipynb",
            cell_index=4,
            ename="DataError",
            evalue="events.csv: no rows\nsecond line",
        ),
        "c": KeyError("bug"),
    }
    monkeypatch.setattr(batch, "run_report", _fake_run_report(failures))
    specs = [RunSpec(n, tmp_path / f"{n}.yaml") for n in "abcd"]
    specs.append(RunSpec("e", tmp_path / "e.yaml", problem="e.yaml: unknown key 'colour'."))
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    (out / "a" / "error.txt").write_text("stale", encoding="utf-8")

    result = run_batch(specs, out_dir=out, jobs=1)

    assert [(r.name, r.status) for r in result.runs] == [
        ("a", OK),
        ("b", FAILED),
        ("c", FAILED),
        ("d", OK),
        ("e", FAILED),
    ]
    assert not (out / "a" / "error.txt").exists()  # a stale error of an earlier run is gone
    assert result.runs[0].report == out / "a" / "report.html"
    assert result.runs[1].error == "onboarding.ipynb cell 4: DataError: events.csv: no rows"
    assert result.runs[2].error == "KeyError: 'bug'"
    assert result.runs[4].error == "e.yaml: unknown key 'colour'."
    text = (out / "c" / "error.txt").read_text(encoding="utf-8")
    assert "run: c" in text and "Traceback" in text and "KeyError" in text  # a bug shows its traceback
    assert "unknown key 'colour'" in (out / "e" / "error.txt").read_text(encoding="utf-8")
    assert result.index == out / "index.html" and result.index.is_file()
    assert result.jobs == 1 and [r.name for r in result.failed] == ["b", "c", "e"]


def test_run_one_error_file_of_run_report_is_kept(tmp_path, monkeypatch):
    def fake(params_path, *, out_dir, overrides=None, **options):
        (Path(out_dir) / "x").mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "x" / "error.txt").write_text("written by run_report", encoding="utf-8")
        raise ReportError("boom", notebook="n.ipynb", cell_index=1, ename="E", evalue="v")

    monkeypatch.setattr(batch, "run_report", fake)
    result = run_one(RunSpec("x", tmp_path / "x.yaml"), tmp_path)
    assert result.status == FAILED and result.error == "n.ipynb cell 1: E: v"
    assert (tmp_path / "x" / "error.txt").read_text(encoding="utf-8") == "written by run_report"


def test_run_one_passes_overrides_and_options(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        batch, "run_report", lambda path, **kw: calls.append((path, kw)) or Path(kw["out_dir"]) / "r.html"
    )
    spec = RunSpec("acme", tmp_path / "p.yaml", {"client": "acme", "filters": {"client": ["acme"]}})
    assert run_one(spec, tmp_path, timeout=5).ok
    assert calls == [
        (
            tmp_path / "p.yaml",
            {
                "out_dir": tmp_path,
                "overrides": {"client": "acme", "filters": {"client": ["acme"]}},
                "timeout": 5,
            },
        )
    ]


def test_run_batch_rejects_duplicate_names_and_bad_jobs(tmp_path):
    with pytest.raises(ParamsError, match="two runs are named 'a'"):
        run_batch([RunSpec("a", tmp_path), RunSpec("a", tmp_path)], out_dir=tmp_path)
    with pytest.raises(ParamsError, match="jobs must be a whole number >= 1"):
        run_batch([RunSpec("a", tmp_path)], out_dir=tmp_path, jobs=0)


def test_summary_has_counts_then_one_line_per_failure():
    runs = (
        RunResult("acme", OK, Path("r/acme"), Path("p.yaml"), seconds=1),
        RunResult("globex", FAILED, Path("r/globex"), Path("p.yaml"), error="x.ipynb cell 2: E: bad"),
    )
    assert BatchResult(runs, Path("r/index.html"), 61.24, 2).summary().splitlines() == [
        "2 runs in 61.2 s (2 jobs): 1 ok, 1 failed. Index: r/index.html",
        "FAILED globex: x.ipynb cell 2: E: bad (r/globex/error.txt)",
    ]


def test_progress_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream)
    assert not progress.bar
    progress.start(2, 2)
    progress.update(running=2)
    progress.finished(RunResult("a", OK, Path("a"), Path("p"), seconds=1.25), running=1)
    progress.finished(RunResult("b", FAILED, Path("b"), Path("p"), error="why", seconds=2), running=0)
    progress.close()
    assert stream.getvalue().splitlines() == [
        "running 2 reports, 2 at a time",
        "[1/2] ok     a (1.2 s) | done 1/2, running 1, failed 0",
        "[2/2] failed b (2.0 s): why | done 2/2, running 0, failed 1",
    ]


def test_progress_bar_shows_running_and_failed():
    stream = io.StringIO()
    progress = Progress(stream, bar=True)
    progress.start(2, 2)
    progress.update(running=2)
    progress.finished(RunResult("b", FAILED, Path("b"), Path("p"), error="why"), running=1)
    progress.close()
    text = stream.getvalue()
    assert "failed b (0.0 s): why" in text
    assert "1/2" in text and "running 1, failed 1" in text


def test_progress_silent_without_stream(capsys):
    progress = Progress(None)
    progress.start(1, 1)
    progress.finished(RunResult("a", OK, Path("a"), Path("p")))
    progress.close()
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------------------------
# The real process pool, on tiny notebooks (a kernel each, no data)
# --------------------------------------------------------------------------------------------


def _tiny_notebooks(folder: Path) -> Path:
    """first.ipynb records headline metrics; second.ipynb fails for client 'broken'."""
    folder.mkdir(parents=True)
    params = "client = 'x'  # run name\noutput_dir = None  # run folder"
    for name, body in [
        (
            "first.ipynb",
            "from onboarding_analysis.report.metrics_io import record_metrics\n"
            "record_metrics(output_dir, {'data': {'users': len(client)}, 'retention': {'day_7': "
            "{'rate': 0.5}}, 'ttfv': {'days_to_50pct': None}, 'funnel': {'steps': [{'from_start': 0.25}]}})",
        ),
        ("second.ipynb", "if client == 'broken':\n    raise ValueError('broken on purpose')\nprint('fine')"),
    ]:
        nb = nbformat.v4.new_notebook(
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
        )
        nb.cells = [
            nbformat.v4.new_markdown_cell(f"# {name}"),
            nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(body),
        ]
        nbformat.write(nb, folder / name)
    return folder


@pytest.fixture(scope="module")
def pool_batch(tmp_path_factory):
    """Three runs in a 2-worker pool: two succeed, 'broken' fails in its second notebook."""
    root = tmp_path_factory.mktemp("pool")
    notebooks = _tiny_notebooks(root / "nbs")
    (root / "data").mkdir()  # checked (its header) before the notebooks, which do not read it
    (root / "data" / "events.csv").write_text("user_id,event,timestamp\n", encoding="utf-8")
    files = [
        _write_params(root / "params", name, events="data/events.csv", client=name)
        for name in ("alpha", "broken", "gamma")
    ]
    stream = io.StringIO()
    env = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env if env else "")
    try:
        result = run_batch(
            plan_runs(files),
            out_dir=root / "out",
            jobs=2,
            progress=Progress(stream),
            notebooks=("first.ipynb", "second.ipynb"),
            notebook_dir=notebooks,
            timeout=120,
        )
    finally:
        if env is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = env
    return root / "out", result, stream.getvalue()


def test_pool_runs_every_run_and_isolates_the_failure(pool_batch):
    out, result, _ = pool_batch
    assert result.jobs == 2
    assert [(r.name, r.status) for r in result.runs] == [("alpha", OK), ("broken", FAILED), ("gamma", OK)]
    for name in ("alpha", "gamma"):
        assert (out / name / "report.html").is_file()
        assert read_metrics(out / name)["data"]["users"] == len(name)
    assert result.runs[1].error == "second.ipynb cell 3: ValueError: broken on purpose"


def test_failed_run_keeps_partial_notebook_and_error_file(pool_batch):
    out, _, _ = pool_batch
    folder = out / "broken"
    assert not (folder / "report.html").exists()
    assert (folder / "first.ipynb").is_file()
    partial = nbformat.read(folder / "second.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in partial.cells for o in c.get("outputs", []))
    fields = dict(
        line.split(": ", 1) for line in (folder / "error.txt").read_text().split("\n\n")[0].splitlines()
    )
    assert fields["run"] == "broken"
    assert fields["notebook"] == "second.ipynb"
    assert fields["cell"] == "3"
    assert fields["error"] == "second.ipynb cell 3: ValueError: broken on purpose"
    assert fields["partial notebook"].endswith("broken/second.ipynb")
    assert fields["params"] == "params/broken.yaml"


def test_pool_progress_lines_and_index(pool_batch):
    out, result, progress = pool_batch
    lines = progress.splitlines()
    assert lines[0] == "running 3 reports, 2 at a time"
    assert len(lines) == 4 and lines[-1].startswith("[3/3]") and lines[-1].endswith("failed 1")
    soup = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    rows = {
        tr.th.get_text(): [td.get_text(" ", strip=True) for td in tr.find_all("td")]
        for tr in soup.tbody("tr")
    }
    # day-7 retention without an interval; one funnel step is no funnel; no reached_by: no value figure
    assert rows["alpha"] == [
        "ok",
        "5",
        "-",
        "50.0%",
        "-",
        "-",
        "-",
        "-",
        "Time to first value: not enough users yet (no signup observed long enough to tell). more",
        "report",
    ]
    assert rows["broken"][0] == "failed : second.ipynb cell 3: ValueError: broken on purpose"


# --------------------------------------------------------------------------------------------
# The CLI on the real notebooks: a good run, bad data and a bad params file in one batch
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_batch(tmp_path_factory):
    project = tmp_path_factory.mktemp("project")
    write_demo(project / "data" / "demo", spec=DemoSpec(n_users=600))
    demo = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    good = _write_params(
        project / "params", "acme", **(demo | {"client": "acme", "filters": {"client": "acme"}})
    )
    # Bad rows, not a bad header (a missing column stops the run before its notebooks start).
    pd.DataFrame({"user_id": ["u1"], "event": ["signed_up"], "timestamp": ["soon"]}).to_csv(
        project / "data" / "bad.csv", index=False
    )
    bad = _write_params(
        project / "params", "baddata", **(demo | {"client": "baddata", "events": "data/bad.csv"})
    )
    invalid = _write_params(project / "params", "typo", events="data/demo/events.parquet", segmnts=["plan"])
    env = os.environ.copy()
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run(
        [sys.executable, "-m", "onboarding_analysis", "run", str(good), str(bad), str(invalid)]
        + ["--out", "out", "--jobs", "2", "--quiet"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return project / "out", proc


def test_cli_batch_exits_1_and_prints_only_the_summary(cli_batch):
    out, proc = cli_batch
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == "out/index.html\n"
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("3 runs in ") and lines[0].endswith(
        "(2 jobs): 1 ok, 2 failed. Index: out/index.html"
    )
    # cells: intro, its "Run." note (remove-cell), parameters, injected parameters, the setup cell
    assert lines[1].startswith("FAILED baddata: quality.ipynb cell 4: DataError: ")
    assert "no value could be read as a timestamp" in lines[1]
    assert lines[1].endswith("(out/baddata/error.txt)")
    assert lines[2].startswith("FAILED typo: ") and "unknown key 'segmnts'" in lines[2]
    assert len(lines) == 3  # --quiet: no progress, no warnings, no traceback


def test_cli_batch_good_run_completes_despite_the_others(cli_batch):
    out, _ = cli_batch
    assert (out / "acme" / "report.html").is_file()
    metrics = read_metrics(out / "acme")
    assert metrics["run"]["client"] == "acme"
    assert not (out / "acme" / "error.txt").exists()


def test_cli_batch_bad_data_leaves_error_file_and_partial_notebook(cli_batch):
    out, _ = cli_batch
    text = (out / "baddata" / "error.txt").read_text()
    assert "notebook: quality.ipynb\ncell: 4\n" in text
    assert "DataError" in text and "no value could be read as a timestamp" in text
    assert (out / "baddata" / "quality.ipynb").is_file()
    assert not (out / "baddata" / "onboarding.ipynb").exists()  # later notebooks never ran
    assert "unknown key 'segmnts'" in (out / "typo" / "error.txt").read_text()


def test_cli_batch_index_lists_every_run(cli_batch):
    out, _ = cli_batch
    soup = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    statuses = {tr.th.get_text(): tr.find("td").get("data-sort") for tr in soup.tbody("tr")}
    assert statuses == {"acme": "ok", "baddata": "failed", "typo": "failed"}
    links = {a["href"] for a in soup.find_all("a")}
    assert {"acme/report.html", "baddata/error.txt", "baddata/quality.ipynb", "typo/error.txt"} <= links
