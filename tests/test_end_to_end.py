"""The CLI end to end on the demo data: report.html and metrics.json of a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from onboarding_analysis.analyses.lifetime import fit_lifetime
from onboarding_analysis.analyses.retention import nday_retention
from onboarding_analysis.data.pipeline import compute_facts
from onboarding_analysis.params import load_params

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run(demo_run):
    """Demo data and a params file in a scratch project; one `onboarding-analysis run` on it
    (the session's shared run, tests/conftest.py)."""
    return demo_run


def test_cli_run_succeeds(run):
    proc, folder, _ = run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (folder / "report.html").is_file() and (folder / "metrics.json").is_file()
    assert (folder / "retention.ipynb").is_file()


def test_metrics_json_has_the_contract_keys_and_agrees_with_the_package(run):
    _, folder, params_file = run
    metrics = json.loads((folder / "metrics.json").read_text())
    params = load_params(params_file)
    assert metrics["run"]["client"] == "demo"
    assert metrics["run"]["observation_end"].startswith("2024-09-01")
    data = metrics["data"]
    assert data["events_used"] + sum(data["excluded"].values()) == data["events_read"]
    assert data["users"] == 6000
    assert data["first_signup"].startswith("2024-01-01")
    facts = compute_facts(params)
    on_day = nday_retention(facts.table, params.retention_days).set_index("day")
    for n in params.retention_days:
        entry = metrics["retention"][f"day_{n}"]
        assert set(entry) == {"rate", "ci_low", "ci_high", "eligible", "retained"}
        assert entry["eligible"] == on_day.loc[n, "eligible"]
        assert entry["rate"] == pytest.approx(on_day.loc[n, "rate"], rel=1e-12)
        assert entry["ci_low"] < entry["rate"] < entry["ci_high"]
        assert set(metrics["unbounded_retention"][f"day_{n}"]) == set(entry)
        assert isinstance(metrics["lifetime"]["survival"][f"day_{n}"], float)
    life = metrics["lifetime"]
    expected = fit_lifetime(facts.table, days=params.retention_days, horizon_days=params.rmst_horizon_days)
    assert life["median_days"] == pytest.approx(expected.median_days, rel=1e-12)
    assert life["median_ci_low"] < life["median_days"] < life["median_ci_high"]
    assert life["rmst_days"] == pytest.approx(expected.rmst_days, rel=1e-12) and life["rmst_se"] > 0
    assert life["horizon_days"] == 90
    assert life["churned"] + life["censored"] + life["not_yet_observable"] == data["users"]
    assert life["not_yet_observable"] > 0  # demo signups run until a week before T


def test_report_html_is_self_contained_without_code(run):
    _, folder, _ = run
    html = (folder / "report.html").read_text()
    soup = BeautifulSoup(html, "html.parser")
    assert "oa.compute_facts" not in html and "params_from_namespace" not in html
    assert "lifetime_censoring = " not in html  # the parameters cell is not shown
    images = soup.find_all("img")
    assert len(images) >= 4 and all(img["src"].startswith("data:image/png;base64,") for img in images)
    headings = [h.get_text(" ", strip=True) for h in soup.find_all(["h1", "h2"])]
    assert any("Retention" in h for h in headings) and any("Lifetime" in h for h in headings)
    assert not soup.find_all("script", src=True) or all(
        s["src"].startswith(("http://", "https://")) is False for s in soup.find_all("script", src=True)
    )


def _without_checkout_paths(metrics: dict) -> dict:
    """``metrics`` with the events files named from the project's ``data/`` folder: the file's
    absolute path is the one thing that differs between checkouts (and runs in a scratch folder)."""
    metrics = json.loads(json.dumps(metrics))
    files = metrics["data"]["files"]
    metrics["data"]["files"] = {"data/" + name.split("/data/", 1)[1]: rows for name, rows in files.items()}
    return metrics


def test_demo_metrics_are_those_recorded_before_the_package_was_restructured(run):
    # tests/fixtures/demo_metrics_baseline.json is the demo's metrics.json written by the package
    # before its modules moved into subpackages: the layout changes no figure.
    _, folder, _ = run
    baseline = json.loads((ROOT / "tests" / "fixtures" / "demo_metrics_baseline.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    assert _without_checkout_paths(metrics) == _without_checkout_paths(baseline)
