"""The catalogue of bad inputs (tests/catalogue/cases.yaml): every case gives its exact outcome.

Each case runs in process through ``load_params`` + ``compute_facts`` + ``quality_report``: an
error case must raise its class with a one-line message matching its regex; any other case must
give its counts and warnings, and account for every row (used + excluded == read, per file
too). The cases marked ``cli: true`` also run through the real command line in a fresh
interpreter: exit status 2, ``error: ...`` on one line, no traceback; those also marked
``before_kernels: true`` stop before any notebook runs (no output folder is created).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

from onboarding_analysis.analyses.quality import quality_metrics, quality_report
from onboarding_analysis.data.facts import EVENT_REASONS
from onboarding_analysis.data.pipeline import compute_facts
from onboarding_analysis.errors import DataWarning, OnboardingAnalysisError
from onboarding_analysis.params import load_params
from tests.pipeline_runner import run_notebooks

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = Path(__file__).resolve().parent / "catalogue"
CASES = yaml.safe_load((CATALOGUE / "cases.yaml").read_text(encoding="utf-8"))
BY_ID = {case["id"]: case for case in CASES}
#: The facts cache (onboarding_analysis.data.cache) must not write into the catalogue folders.
CACHE_ENV = "ONBOARDING_ANALYSIS_CACHE"


def run_case(case_id: str):
    """(outcome, DataWarning messages): outcome is (facts, report) or the raised error."""
    params_path = CATALOGUE / case_id / "params.yaml"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        try:
            facts = compute_facts(load_params(params_path))
            outcome = (facts, quality_report(facts))
        except OnboardingAnalysisError as err:
            outcome = err
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    others = [w for w in caught if not issubclass(w.category, DataWarning)]
    for w in others:  # let pytest's filterwarnings judge them, as outside this block
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return outcome, messages


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    monkeypatch.setenv(CACHE_ENV, "off")


def test_catalogue_is_complete_and_well_formed():
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 30
    folders = {p.name for p in CATALOGUE.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert folders == set(ids), "every case folder is described in cases.yaml, and vice versa"
    for case in CASES:
        assert case["description"] and "expected" in case, case["id"]
        for name in case["files"]:
            assert (CATALOGUE / case["id"] / name).exists(), (case["id"], name)
        expected = case["expected"]
        if "error" in expected:
            assert expected["error"] in ("DataError", "ParamsError") and expected["match"]
        elif "report" in expected:
            assert expected == {"report": "complete"}, case["id"]
        else:
            assert {"read", "used", "users"} <= set(expected), case["id"]
            assert set(expected.get("excluded", {})) <= set(EVENT_REASONS), case["id"]


FACTS_CASES = [case for case in CASES if "report" not in case["expected"]]
REPORT_CASES = [case for case in CASES if "report" in case["expected"]]


@pytest.mark.parametrize("case", FACTS_CASES, ids=[case["id"] for case in FACTS_CASES])
def test_case(case):
    outcome, messages = run_case(case["id"])
    expected = case["expected"]
    if "error" in expected:
        assert isinstance(outcome, OnboardingAnalysisError), (
            f"expected {expected['error']}, the run succeeded"
        )
        assert type(outcome).__name__ == expected["error"], outcome
        message = str(outcome)
        assert "\n" not in message, "an error message is one line"
        assert re.search(expected["match"], message), message
        return
    assert not isinstance(outcome, Exception), f"unexpected error: {outcome}"
    facts, report = outcome
    acc = facts.accounting
    _check_accounting(facts, report)
    assert (acc.events_read, acc.events_used, acc.users) == (
        expected["read"],
        expected["used"],
        expected["users"],
    )
    assert dict(acc.excluded) == expected.get("excluded", {})
    assert dict(acc.users_excluded) == expected.get("users_excluded", {})
    _check_warnings(messages, expected.get("warnings", []))
    table = facts.table.set_index("user_id")
    if "user_ids" in expected:
        assert sorted(table.index) == sorted(expected["user_ids"])
    for user, t0 in expected.get("t0", {}).items():
        assert table.loc[user, "t0"] == pd.Timestamp(t0), user
    if "observation_end" in expected:
        assert facts.observation_end == pd.Timestamp(expected["observation_end"]).to_pydatetime()
    metrics = quality_metrics(report)["data_quality"]
    for key, value in expected.get("quality", {}).items():
        assert metrics[key] == value, key
    if "events" in expected:
        used = set(facts.events.select("event").distinct().to_pandas()["event"])
        assert set(expected["events"]) <= used
    for text in expected.get("absent", []):
        for name, frame in _tables(report).items():
            assert (
                not frame.astype(str).apply(lambda col, t=text: col.str.contains(t, regex=False)).any().any()
            ), name
        assert not any(text in w for w in report.warnings)


@pytest.mark.parametrize("case", REPORT_CASES, ids=[case["id"] for case in REPORT_CASES])
def test_report_case(case, tmp_path, monkeypatch):
    """Every report notebook's code completes on the case, and metrics.json is strict JSON."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    params = load_params(CATALOGUE / case["id"] / "params.yaml")
    parameters = params.as_notebook_parameters() | {"output_dir": str(tmp_path)}
    caught = run_notebooks(parameters).warnings
    numeric = [f"{w.filename}:{w.lineno}: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)]
    assert numeric == []
    json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"), parse_constant=_not_json)


def _not_json(name: str):
    raise AssertionError(f"metrics.json holds {name}: not strict JSON")


def _tables(report) -> dict[str, pd.DataFrame]:
    return {name: value for name, value in vars(report).items() if isinstance(value, pd.DataFrame)}


def _check_accounting(facts, report) -> None:
    """Every row read is used or excluded under exactly one reason; per file too."""
    acc = facts.accounting
    assert acc.events_used + sum(acc.excluded.values()) == acc.events_read
    assert sum(acc.files.values()) == acc.events_read
    assert report.adds_up
    assert report.files["rows_read"].sum() == acc.events_read
    assert report.files["rows_used"].sum() == acc.events_used
    assert int(facts.table["n_events"].sum()) == acc.events_used
    assert facts.events.count().execute() == acc.events_used
    metrics = quality_metrics(report)["data_quality"]
    assert metrics["events_used"] + sum(metrics["excluded"].values()) == metrics["events_read"]
    assert list(metrics["excluded"]) == list(EVENT_REASONS)


def _check_warnings(messages: list[str], patterns: list[str]) -> None:
    for message in messages:
        assert any(re.search(p, message) for p in patterns), f"unexpected DataWarning: {message}"
    for pattern in patterns:
        assert any(re.search(pattern, m) for m in messages), f"missing DataWarning: {pattern}"


# --- the real command line ----------------------------------------------------------------------


CLI_CASES = [case for case in CASES if case.get("cli")]


@pytest.mark.parametrize("case", CLI_CASES, ids=[case["id"] for case in CLI_CASES])
def test_case_through_the_cli(case, tmp_path):
    """``onboarding-analysis run``: exit 2, one ``error:`` line naming the problem, no traceback."""
    folder = tmp_path / case["id"]
    shutil.copytree(CATALOGUE / case["id"], folder)
    env = os.environ | {CACHE_ENV: "off"}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "onboarding_analysis",
            "run",
            str(folder / "params.yaml"),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    assert re.search(case["expected"]["match"], errors[0]), errors[0]
    assert done.stdout == ""
    if case.get("before_kernels"):  # found from the headers, before any notebook ran
        assert not (tmp_path / "out").exists()


# --- hostile names, end to end ------------------------------------------------------------------


def _hostile_names(canary: Path) -> dict[str, str]:
    """Demo event name -> a hostile one: SQL, shell, HTML, mathtext, format strings, unicode."""
    return {
        "signed_up": "sign'ed up\"; --",
        "created_report": f"x'); DROP TABLE events; -- $(touch {canary})",
        "completed_profile": f"`touch {canary}` <b>bold</b>",
        "connected_data": "café ☕ 日本語 {{ params }} %s {0}",
        "used_dashboard": "<script>alert(1)</script>",
        "tour_shown": "tour; rm -rf ~",
        "tour_completed": "tour $(rm -rf ~)",
        "feedback_submitted": 'fb\\n\\\\ "quoted"',
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The demo log with hostile event names, column names and params; one real CLI run on it."""
    from onboarding_analysis.demo import DemoSpec, write_demo

    root = tmp_path_factory.mktemp("hostile")
    canary = root / "canary"
    names = _hostile_names(canary)
    columns = {
        "user_id": 'us"er;id',
        "event": f"ev'ent $(touch {canary})",
        "timestamp": "ts); DROP TABLE t; --",
    }
    plan = "pl'an; DROP TABLE users"
    raw = write_demo(root / "raw", spec=DemoSpec(n_users=600))
    events = pd.read_parquet(raw["events"])
    events["event"] = events["event"].map(lambda e: names.get(e, e))
    events.rename(columns=columns).to_parquet(root / "events.parquet", index=False)
    users = pd.read_csv(raw["users"], dtype=str)
    users.rename(columns={"user_id": columns["user_id"], "plan": plan}).to_csv(
        root / "users.csv", index=False
    )
    params = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    params.update(
        client="hostile",
        events="events.parquet",
        users="users.csv",
        columns=columns,
        signup_event=names["signed_up"],
        value_events=[names["created_report"]],
        onboarding_steps=[
            names["signed_up"],
            names["completed_profile"],
            [names["connected_data"], "x'"],
            names["created_report"],
        ],
        segments=["persona", plan, "channel"],
        reference_groups={"persona": "marketer"},
        prompts={"to'ur $(x)": {"shown": names["tour_shown"], "engaged": names["tour_completed"]}},
        feature_events=[names["used_dashboard"], "invited_teammate", "exported_csv"],
        feedback_event=names["feedback_submitted"],
    )
    (root / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    env = os.environ | {CACHE_ENV: "off"}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "onboarding_analysis",
            "run",
            str(root / "params.yaml"),
            "--out",
            str(root / "out"),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return {
        "root": root,
        "canary": canary,
        "names": names,
        "columns": columns,
        "done": done,
        "events": events,
    }


def test_hostile_names_run_end_to_end_as_data(hostile):
    """Names reach neither SQL, nor a shell, nor the kernel, nor the HTML unescaped."""
    root, done = hostile["root"], hostile["done"]
    assert done.returncode == 0, done.stderr
    assert not hostile["canary"].exists(), "a name was run by a shell"
    page = (root / "out" / "hostile" / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # papermill wrote every params value as a literal: the injected cell is assignments of literals.
    import ast

    import nbformat

    notebook = nbformat.read(root / "out" / "hostile" / "retention.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", []))
    tree = ast.parse(cell.source)
    assert all(isinstance(node, ast.Assign) for node in tree.body)
    injected = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body}
    params = load_params(root / "params.yaml")
    assert injected["columns"] == dict(params.columns)
    assert injected["value_events"] == list(params.value_events)
    assert injected["prompts"] == {k: dict(v) for k, v in params.prompts.items()}


def test_hostile_names_round_trip_in_process(hostile, monkeypatch):
    """Every hostile name comes back byte for byte from the engine; the views survive."""
    monkeypatch.setenv(CACHE_ENV, "off")
    from onboarding_analysis.analyses.funnel_times import step_times

    params = load_params(hostile["root"] / "params.yaml")
    facts = compute_facts(params)
    with pytest.warns(DataWarning, match='onboarding_steps "x\'"'):  # an alternative never logged
        report = quality_report(facts)
    assert report.adds_up and report.missing_events["event"].tolist() == ["x'"]
    used = set(facts.events.select("event").distinct().to_pandas()["event"])
    assert set(hostile["names"].values()) <= used
    assert facts.accounting.events_read == len(hostile["events"])
    times = step_times(facts)
    assert times["step_0_days"].notna().all() and times["step_3_days"].notna().any()
    tables = facts.source.con.raw_sql("SELECT table_name FROM information_schema.tables").fetchall()
    assert {"events", "users", "raw_events"} <= {row[0] for row in tables}
    assert not hostile["canary"].exists()
