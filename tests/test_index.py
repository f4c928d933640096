"""The batch index page: headline numbers from metrics.json, statuses, links, self-contained."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from statsmodels.stats.proportion import proportion_confint

from onboarding_analysis.report.index import INDEX_FILE, NOT_REACHED, headline, write_index


@dataclass
class Run:
    name: str
    status: str
    run_dir: Path
    error: str | None = None


FULL = {
    "data": {"users": 1234},
    "retention": {
        "day_1": {"rate": 0.8, "ci_low": 0.775, "ci_high": 0.825, "eligible": 1234},
        "day_7": {"rate": 0.3125, "ci_low": 0.288, "ci_high": 0.338, "eligible": 1200},
    },
    "ttfv": {"days_to_50pct": 2.61},
    "funnel": {
        "eligible": 100,
        "window_days": 14,
        "steps": [
            {"step": "a", "users": 100, "from_start": 1.0, "from_previous": 1.0},
            {"step": "b", "users": 36, "from_start": 0.36, "from_previous": 0.36},
        ],
    },
    "lifetime": {"median_days": None, "churned": 10, "censored": 90},
    "moments": {"crisis": 3, "unit": "account", "eligible": {"crisis": 60}},
}

#: A run whose metrics already hold the summary (as a report run records it).
RECORDED = {
    "data": {"users": 99},
    "summary": {
        "headline": {
            "retention_day_30": {"unit": "share", "value": None, "text": "not enough users yet"},
            "median_lifetime": {"unit": "days", "value": 43.5, "ci_low": 40.9, "ci_high": None},
        },
        "findings": [{"id": "x", "text": "First <finding> & more.", "section": "s", "numbers": {}}],
    },
}


def test_headline_computed_from_metrics_without_a_summary():
    shown = headline(FULL)
    assert shown["users"] == 1234
    figures = shown["figures"]
    assert list(figures) == ["retention_day_1", "retention_day_7", "funnel_completion", "median_lifetime"]
    assert figures["retention_day_7"]["text"] == "31.2% (28.8-33.8%)"
    assert figures["funnel_completion"]["value"] == 0.36  # 36 of 100 eligible
    assert figures["median_lifetime"]["text"] == NOT_REACHED
    # the first finding of this run: the funnel (1 - 36/100 = 64% lost between a and b)
    assert shown["first_finding"].startswith(
        "The largest drop-off in the onboarding funnel is between a and b: 64.0%"
    )


@pytest.mark.parametrize(
    "metrics",
    [
        {},
        {"data": [], "retention": {"day_7": None}, "ttfv": 3, "funnel": {"steps": []}},
        {"summary": {"findings": [3]}},
    ],
)
def test_headline_of_empty_or_odd_metrics(metrics):
    assert headline(metrics) == {"users": None, "figures": {}, "first_finding": None}


def test_headline_prefers_the_recorded_summary():
    shown = headline(RECORDED)
    assert shown["first_finding"] == "First <finding> & more."
    assert list(shown["figures"]) == ["retention_day_30", "median_lifetime"]


@pytest.fixture
def page(tmp_path):
    out = tmp_path / "reports"
    for name, metrics in [("acme", FULL), ("globex", RECORDED), ("hooli", {"data": {"users": 5}})]:
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
        Run("hooli", "ok", out / "hooli"),
    ]
    path = write_index(out, runs, title="Clients <all>", seconds=61.4, jobs=2)
    assert path == out / INDEX_FILE
    text = path.read_text(encoding="utf-8")
    return text, BeautifulSoup(text, "html.parser")


def _rows(soup):
    return {tr.th.get_text(): tr.find_all("td") for tr in soup.select("#runs tbody tr")}


HEADERS = [
    "Run",
    "Status",
    "Users",
    "Day-1 retention",
    "Day-7 retention",
    "Day-30 retention",
    "Value by day 7",
    "Onboarding completed",
    "Median lifetime",
    "First finding",
    "Report",
]


def test_index_lists_every_run_in_order_with_headline_figures_and_intervals(page):
    _, soup = page
    rows = _rows(soup)
    assert list(rows) == ["acme", "initech", "globex", "no metrics", "typo", "hooli"]
    texts = {name: [td.get_text(" ", strip=True) for td in tds] for name, tds in rows.items()}
    low, high = proportion_confint(36, 100, alpha=0.05, method="wilson")  # onboarding completed
    assert texts["acme"][:9] == [
        "ok",
        "1,234",
        "80.0% 77.5-82.5%",
        "31.2% 28.8-33.8%",
        "-",
        "-",
        f"36.0% {100 * low:.1f}-{100 * high:.1f}%",
        NOT_REACHED,
        texts["acme"][8],
    ]
    assert texts["acme"][8].startswith("The largest drop-off in the onboarding funnel") and texts["acme"][
        8
    ].endswith("more")
    assert texts["acme"][-1] == "report"
    assert texts["globex"] == [
        "ok",
        "99",
        "-",
        "-",
        "not enough users yet",
        "-",
        "-",
        "43.5 days 40.9 days or more",
        "First <finding> & more. more",
        "report",
    ]
    assert texts["no metrics"][0].startswith("ok (metrics.json:")  # said, not hidden
    assert texts["hooli"] == ["ok", "5", "-", "-", "-", "-", "-", "-", "-", "report"]  # no finding: no "None"
    assert [th.get_text(strip=True) for th in soup.select("#runs thead th")] == HEADERS


def test_index_first_finding_links_to_the_summary_block(page):
    text, soup = page
    finding = _rows(soup)["acme"][8]
    assert finding.a["href"] == "acme/report.html#at-a-glance"
    assert "First &lt;finding&gt; &amp; more." in text  # escaped


def test_index_never_shows_none_or_nan(page):
    _, soup = page
    visible = soup.select_one("#runs").get_text(" ", strip=True)
    for word in ("None", "nan", "NaN", "null", "Infinity"):
        assert word not in visible.split(), word


def test_index_cells_carry_their_labels_for_phone_cards(page):
    text, soup = page
    labels = [td.get("data-label") for td in _rows(soup)["acme"]]
    assert labels == HEADERS[1:-1] + [None]
    assert "@media (max-width: 700px)" in text and "attr(data-label)" in text


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
    assert [td.get("data-sort") for td in rows["acme"][:5]] == ["ok", "1234", "0.8", "0.3125", ""]
    assert rows["acme"][6]["data-sort"] == "0.36"
    assert rows["acme"][7]["data-sort"] == "Infinity"  # not reached sorts after every number
    assert rows["globex"][4]["data-sort"] == ""  # not estimable: sorts last
    assert rows["initech"][1]["data-sort"] == ""  # missing values sort last
    numeric = [th.get("data-type") for th in soup.select("#runs thead th")]
    assert numeric == [None, None] + ["number"] * 7 + [None, None]
    assert all(th.button for th in soup.select("#runs thead th")[:9])


def test_index_is_self_contained_and_phone_ready(page):
    text, soup = page
    assert soup.title.get_text() == "Clients <all>"
    assert "6 runs, 4 ok, 2 failed, 61 s with 2 parallel jobs" in soup.select_one(".facts").get_text()
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
