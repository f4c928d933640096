"""The batch index page: headline numbers from metrics.json, statuses, links, self-contained."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from onboarding_analysis.index import INDEX_FILE, NOT_REACHED, headline, write_index


@dataclass
class Run:
    name: str
    status: str
    run_dir: Path
    error: str | None = None


FULL = {
    "data": {"users": 1234},
    "retention": {"day_1": {"rate": 0.8}, "day_7": {"rate": 0.3125}},
    "ttfv": {"days_to_50pct": 2.61},
    "funnel": {"steps": [{"step": "a", "from_start": 1.0}, {"step": "b", "from_start": 0.36}]},
}


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        (
            FULL,
            {"users": 1234, "day_7_retention": 0.3125, "median_ttfv_days": 2.61, "funnel_completion": 0.36},
        ),
        (  # TTFV computed, median not reached; retention without day 7; no funnel
            {"data": {"users": 5}, "retention": {"day_1": {"rate": 0.8}}, "ttfv": {"days_to_50pct": None}},
            {"users": 5, "day_7_retention": None, "median_ttfv_days": NOT_REACHED, "funnel_completion": None},
        ),
        ({}, {"users": None, "day_7_retention": None, "median_ttfv_days": None, "funnel_completion": None}),
        (  # odd shapes never raise
            {"data": [], "retention": {"day_7": None}, "ttfv": 3, "funnel": {"steps": []}},
            {"users": None, "day_7_retention": None, "median_ttfv_days": None, "funnel_completion": None},
        ),
    ],
)
def test_headline(metrics, expected):
    assert headline(metrics) == expected


@pytest.fixture
def page(tmp_path):
    out = tmp_path / "reports"
    for name, metrics in [
        ("acme", FULL),
        ("globex", {"data": {"users": 99}, "ttfv": {"days_to_50pct": None}}),
    ]:
        (out / name).mkdir(parents=True)
        (out / name / "metrics.json").write_text(json.dumps(metrics))
    (out / "initech").mkdir()
    (out / "initech" / "retention.ipynb").write_text("{}")
    (out / "no metrics").mkdir()
    runs = [
        Run("acme", "ok", out / "acme"),
        Run("initech", "failed", out / "initech", "retention.ipynb cell 3: DataError: <bad> & worse"),
        Run("globex", "ok", out / "globex"),
        Run("no metrics", "ok", out / "no metrics"),
        Run("typo", "failed", out / "typo", "typo.yaml: unknown key"),
    ]
    path = write_index(out, runs, title="Clients <all>", seconds=61.4, jobs=2)
    assert path == out / INDEX_FILE
    text = path.read_text(encoding="utf-8")
    return text, BeautifulSoup(text, "html.parser")


def _rows(soup):
    return {tr.th.get_text(): tr.find_all("td") for tr in soup.select("#runs tbody tr")}


def test_index_lists_every_run_in_order_with_headline_numbers(page):
    _, soup = page
    rows = _rows(soup)
    assert list(rows) == ["acme", "initech", "globex", "no metrics", "typo"]
    texts = {name: [td.get_text(" ", strip=True) for td in tds] for name, tds in rows.items()}
    assert texts["acme"] == ["ok", "1,234", "31.2%", "2.6 days", "36.0%", "report"]
    assert texts["globex"] == ["ok", "99", "-", NOT_REACHED, "-", "report"]
    assert texts["no metrics"][0].startswith("ok (metrics.json:")  # said, not hidden
    headers = [th.get_text(strip=True) for th in soup.select("#runs thead th")]
    assert headers == [
        "Run",
        "Status",
        "Users",
        "Day-7 retention",
        "Median TTFV",
        "Funnel completion",
        "Report",
    ]


def test_index_failed_runs_say_why_and_link_error_and_partial_notebooks(page):
    text, soup = page
    rows = _rows(soup)
    status = rows["initech"][0]
    assert status["class"] == ["failed"]
    assert status.get_text(" ", strip=True) == "failed : retention.ipynb cell 3: DataError: <bad> & worse"
    assert "&lt;bad&gt; &amp; worse" in text  # escaped
    assert [a["href"] for a in rows["initech"][-1].find_all("a")] == [
        "initech/error.txt",
        "initech/retention.ipynb",
    ]
    assert [a["href"] for a in rows["typo"][-1].find_all("a")] == ["typo/error.txt"]


def test_index_links_are_relative_and_quoted(page):
    _, soup = page
    rows = _rows(soup)
    assert rows["acme"][-1].a["href"] == "acme/report.html"
    assert rows["no metrics"][-1].a["href"] == "no%20metrics/report.html"


def test_index_sort_keys(page):
    _, soup = page
    rows = _rows(soup)
    assert [td.get("data-sort") for td in rows["acme"][:5]] == ["ok", "1234", "0.3125", "2.61", "0.36"]
    assert rows["globex"][3]["data-sort"] == "Infinity"  # not reached sorts after every number
    assert rows["globex"][2]["data-sort"] == ""  # missing values sort last
    numeric = [th.get("data-type") for th in soup.select("#runs thead th")]
    assert numeric == [None, None, "number", "number", "number", "number", None]
    assert all(th.button for th in soup.select("#runs thead th")[:6])


def test_index_is_self_contained_and_phone_ready(page):
    text, soup = page
    assert soup.title.get_text() == "Clients <all>"
    assert "5 runs, 3 ok, 2 failed, 61 s with 2 parallel jobs" in soup.select_one(".facts").get_text()
    assert soup.find("meta", attrs={"name": "viewport"})
    assert not soup.find_all("link") and not soup.find_all(src=True)
    assert "http://" not in text and "https://" not in text
    (script,) = soup.find_all("script")
    assert "sortBy" in script.get_text()


def test_index_run_folder_outside_the_output_folder(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "acme"
    elsewhere.mkdir(parents=True)
    (elsewhere / "metrics.json").write_text("{}")
    write_index(tmp_path / "out", [Run("acme", "ok", elsewhere)])
    soup = BeautifulSoup((tmp_path / "out" / "index.html").read_text(), "html.parser")
    assert soup.select_one("#runs tbody a")["href"] == "../elsewhere/acme/report.html"
    assert "1 run, 1 ok, 0 failed" in soup.select_one(".facts").get_text()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["index.html"]  # no temp file left
