"""``onboarding-analysis init``: a params file detected from the data that runs unchanged.

The demo data goes through the real command line here (init, then run, in a fresh
interpreter), every vendor fixture in tests/test_init_end_to_end.py; here the fixtures
(tests/vendor_exports.py) are initialised in process and their params load and give the facts. Nothing of the demo's params may appear in a params
file written for other data.
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import pytest
import vendor_exports as vx
import yaml

from onboarding_analysis.data.pipeline import compute_facts
from onboarding_analysis.demo import DemoSpec, write_demo
from onboarding_analysis.errors import DataError, DataWarning
from onboarding_analysis.init_params import detect_source, init, map_columns
from onboarding_analysis.params import load_params
from tests.cli_runner import run_cli

ROOT = Path(__file__).resolve().parent.parent
#: Values of params/demo.yaml that only the demo's params have.
DEMO_ONLY = ("mrr_changed", "feedback_submitted", "2024-08-31", "2024-04-01", "product_tour", "marketer")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd, env={"ONBOARDING_ANALYSIS_CACHE": "off"})


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "params").mkdir()
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ONBOARDING_ANALYSIS_CACHE", "off")
    return tmp_path


def facts_of(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return compute_facts(load_params(path))


def test_init_then_run_on_the_demo_data_through_the_cli(project):
    written = write_demo(project / "data", spec=DemoSpec(n_users=600))
    done = cli("init", "data/events.parquet", "--users", "data/users.csv", "--client", "acme", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "canonical data, 600 users" in done.stdout and "Check:" in done.stdout
    text = (project / "params" / "acme.yaml").read_text()
    raw = yaml.safe_load(text)
    assert raw["source"] == "canonical" and raw["signup_event"] == "signed_up"
    assert raw["events"] == "data/events.parquet" and raw["users"] == "data/users.csv"
    assert {"persona", "plan", "channel"} <= set(raw["segments"])
    assert "GUESS" in text
    # Nothing from the demo's params (the data's own event names may appear, e.g. in comments).
    assert not {"revenue_event", "feedback_event", "change_date", "prompts", "reference_groups"} & set(raw)
    assert not any(value in str(raw) for value in DEMO_ONLY)
    # observation_end is the day of the last event.
    import duckdb

    last = duckdb.sql(f"SELECT max(timestamp) FROM '{written['events']}'").fetchone()[0]
    assert str(raw["observation_end"]) == f"{last:%Y-%m-%d}"
    done = cli("run", "params/acme.yaml", "--out", "reports", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (project / "reports" / "acme" / "report.html").exists()


@pytest.mark.parametrize("vendor", ["mixpanel", "posthog", "segment", "segment-archive", "ga4", "canonical"])
def test_init_on_each_fixture_writes_params_that_load_and_give_the_facts(project, vendor):
    data = project / "data"
    users = None
    if vendor == "mixpanel":
        events = vx.write_mixpanel(data)
    elif vendor == "posthog":
        events, users = vx.write_posthog(data)
    elif vendor.startswith("segment"):
        events, users = vx.write_segment(data, archive=vendor == "segment-archive")
    elif vendor == "ga4":
        events = vx.write_ga4(data)
    else:
        events = vx.write_canonical(data)
    path, summary = init(
        str(events.relative_to(project)),
        users=str(users.relative_to(project)) if users else None,
        client="c1",
    )
    source = vendor.split("-")[0]
    assert f"{source} data, 8 users" in summary
    params = load_params(path)
    assert params.source == source and params.signup_event == "signed_up"
    facts = facts_of(path)
    assert len(facts.table) == 8
    # plan (pro / free) is a user property of every export (PostHog: of the persons export
    # only); role (admin / member) is in the users exports only (PostHog persons, Segment
    # identifies or the archive's identify traits), never in an event. PostHog's $initial_os
    # and identifies' context_library_name (one value, vendor keys) are no candidates.
    with_role = vendor in ("posthog", "segment", "segment-archive")
    assert params.segments == (("plan", "role") if with_role else ("plan",))
    if with_role:  # the users' roles, from the users export
        roles = facts.table.set_index("user_id")["role"].to_dict()
        assert roles == vx.ROLE
    if vendor == "canonical":
        assert params.columns["timestamp"] == "timestamp"


def test_detection_and_its_errors(tmp_path):
    assert map_columns(["User ID", "Event Name", "Time"], "x.csv") == {
        "user_id": "User ID",
        "event": "Event Name",
        "timestamp": "Time",
    }
    with pytest.raises(
        DataError, match=r"x\.csv: no column looks like the timestamp \(columns: uid, action\)"
    ):
        map_columns(["uid", "action"], "x.csv")
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"kind": "x", "at": 1}\n')
    with pytest.raises(DataError, match=r"odd\.jsonl: a JSON export of an unknown shape \(keys: kind, at\)"):
        detect_source(odd)
    assert detect_source(vx.write_mixpanel(tmp_path)) == ("mixpanel", {})
    assert detect_source(vx.write_amplitude(tmp_path)) == ("amplitude", {})
    assert detect_source(vx.write_posthog_csv(tmp_path)) == ("posthog", {})


def test_init_never_overwrites(project):
    events = vx.write_canonical(project / "data")
    init(str(events.relative_to(project)), client="c1")
    with pytest.raises(DataError, match=r"c1\.yaml: already exists"):
        init(str(events.relative_to(project)), client="c1")
    done = cli("init", "data/events.csv", "--client", "c1", cwd=project)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "already exists" in done.stderr


def test_init_with_an_intercom_export_writes_its_prompts(project):
    export, _ = vx.write_intercom(project / "data")
    events = vx.write_canonical(project / "data")
    path, _ = init(str(events.relative_to(project)), client="c1", intercom=str(export.relative_to(project)))
    params = load_params(path)
    assert params.intercom_export == "data/intercom.zip"
    assert params.prompts == {
        "checklist: Get started": {
            "shown": "intercom_checklist_shown: Get started",
            "engaged": "intercom_checklist_completed: Get started",
        },
        "product_tour: Welcome tour": {
            "shown": "intercom_product_tour_shown: Welcome tour",
            "engaged": "intercom_product_tour_completed: Welcome tour",
        },
    }
    from onboarding_analysis.analyses.engagement import prompt_rates

    rates = prompt_rates(facts_of(path)).set_index("prompt")
    # Welcome tour: shown to u1, u2, u3; completed by u1 and u3 (hand-written receipts).
    assert (
        rates.loc["product_tour: Welcome tour", "shown"],
        rates.loc["product_tour: Welcome tour", "engaged"],
    ) == (3, 2)
