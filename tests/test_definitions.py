"""The report's own definitions appendix: one source, adapted to the run."""

from __future__ import annotations

import nbformat
import pytest
from bs4 import BeautifulSoup

from onboarding_analysis.params import Params
from onboarding_analysis.report.definitions import DEFINITIONS, definitions_markdown, selected
from onboarding_analysis.report.page import render_html


def test_every_definition_is_filled_from_the_package_defaults():
    params = Params(
        events="x.csv",
        value_events=("v",),
        onboarding_steps=(("a",), ("b",)),
        segments=("plan",),
        change_date=None,
    ).as_notebook_parameters()
    for term, text in selected(params):
        assert "{" not in text and "}" not in text, term
    terms = [term for term, _ in selected(params)]
    assert "Before and after the onboarding change" not in terms  # change_date is null
    assert "Net revenue churn" not in terms and "NPS and CSAT" not in terms  # no revenue, no feedback
    assert "Segment comparisons" in terms and "Onboarding funnel" in terms
    texts = dict(selected(params))
    assert "inactive for 30 days" in texts["Lifetime"]
    assert texts["Restricted mean lifetime (RMST)"].startswith("The mean lifetime within the first 90 days")


def test_texts_take_the_runs_values():
    texts = dict(
        selected(
            {"rmst_horizon_days": 60.0, "inactivity_days": 14, "p_adjust": "fdr_bh", "segments": ["plan"]}
        )
    )
    assert "first 60 days" in texts["Restricted mean lifetime (RMST)"]
    assert "inactive for 14 days" in texts["Lifetime"]
    assert "(Benjamini-Hochberg)" in texts["p-values and corrections"]


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("5 minutes", "within 5 minutes of signup"),
        ("2 hours", "within 2 hours of signup"),
        (1, "within 1 day of signup"),
        (14, "within 14 days of signup"),
        (1.5, "within 1.5 days of signup"),
    ],
)
def test_funnel_window_reads_as_the_user_wrote_it(window, expected):
    """A window in minutes or hours is not written as a fraction of a day (5 minutes was
    'within 0.003472222222222222 days')."""
    params = Params(
        events="x.csv", onboarding_steps=(("a",), ("b",)), conversion_window=window
    ).as_notebook_parameters()
    assert expected in dict(selected(params))["Onboarding funnel"]


def test_funnel_window_from_the_older_days_key():
    assert "within 7 days of signup" in dict(selected({"conversion_window_days": 7.0}))["Onboarding funnel"]
    assert "within 14 days of signup" in dict(selected({}))["Onboarding funnel"]


def test_markdown_lists_every_figure_once():
    text = definitions_markdown()
    assert [line[3:] for line in text.splitlines() if line.startswith("## ")] == [d.term for d in DEFINITIONS]


def test_the_report_carries_how_to_read_and_definitions_for_its_run(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Retention")]
    params = {"change_date": None, "revenue_event": None, "feedback_event": None, "rmst_horizon_days": 60}
    soup = BeautifulSoup(
        render_html([nb], tmp_path / "r.html", title="t", header={"client": "acme"}, params=params).read_text(
            encoding="utf-8"
        ),
        "html.parser",
    )
    how = soup.select_one("#oa-how-to-read").get_text(" ")
    assert "censored" in how and "95% interval" in how
    defs = {dt.get_text(): dt.find_next_sibling("dd").get_text() for dt in soup.select("#oa-definitions dt")}
    assert "first 60 days" in defs["Restricted mean lifetime (RMST)"]
    assert "Before and after the onboarding change" not in defs and "Net revenue churn" not in defs
    text = soup.get_text(" ")
    assert "METRICS.md" not in text and "demo data" not in text
