"""The "At a glance" block: headline figures, findings and their wording, from metrics dicts.

Hand-built metrics exercise every wording branch; one real demo run checks the findings against
the demo's ground truth (onboarding_analysis/demo.py): developers live longer than marketers,
channel has no effect, the onboarding change lets more signups reach value sooner.
"""

from __future__ import annotations

import copy
import json
import math
import re

import pytest
from bs4 import BeautifulSoup
from statsmodels.stats.proportion import proportion_confint

from onboarding_analysis.demo import true_hazard_ratios
from onboarding_analysis.report.findings import LEVEL, MAX_FINDINGS, build_findings
from onboarding_analysis.report.summary import (
    SUMMARY_ID,
    build_summary,
    section_anchor,
    summary_html,
    summary_metrics,
)
from onboarding_analysis.report.wording import count, days, p_value, percent, percent_ci, points_ci

# --------------------------------------------------------------------------------------------
# Hand-built metrics
# --------------------------------------------------------------------------------------------


def _group(users, median, hr=1.0):
    return {"users": users, "median_days": median, "hazard_ratio": hr, "hr_ci_low": None, "hr_ci_high": None}


def _segment(p_adjusted, groups, *, raw=None, method="holm"):
    return {
        "reference": next(iter(groups)),
        "logrank_p": raw if raw is not None else p_adjusted,
        "logrank_p_adjusted": p_adjusted,
        "p_adjust": method,
        "groups": groups,
    }


FULL = {
    "data": {"events_read": 1000, "events_used": 990, "users": 500, "excluded": {"duplicate event": 10}},
    "retention": {
        "day_1": {"rate": 0.5, "ci_low": 0.45, "ci_high": 0.55, "eligible": 500, "retained": 250},
        "day_7": {"rate": 0.3, "ci_low": 0.26, "ci_high": 0.34, "eligible": 480, "retained": 144},
        "day_30": {"rate": None, "ci_low": None, "ci_high": None, "eligible": 0, "retained": 0},
    },
    "ttfv": {
        "reached_by": {"day_7": {"rate": 0.25, "ci_low": 0.21, "ci_high": 0.29}},
        "eventual_share": 0.4,
        "eventual_share_ci": [0.35, 0.45],
        "eventual_share_day": 90.0,
        "days_to_25pct": 3.25,
        "days_to_25pct_ci": [2.5, 4.0],
        "days_to_50pct": None,
        "users": 500,
    },
    "funnel": {
        "eligible": 100,
        "window_days": 14,
        "steps": [
            {"step": "signed_up", "users": 100, "from_start": 1.0, "from_previous": 1.0},
            {
                "step": "a",
                "users": 80,
                "from_previous": 0.8,
                "from_previous_ci_low": 0.71,
                "from_previous_ci_high": 0.87,
            },
            {
                "step": "b",
                "users": 40,
                "from_previous": 0.5,
                "from_previous_ci_low": 0.39,
                "from_previous_ci_high": 0.61,
            },
            {
                "step": "c",
                "users": 30,
                "from_previous": 0.75,
                "from_previous_ci_low": 0.59,
                "from_previous_ci_high": 0.86,
            },
        ],
    },
    "lifetime": {
        "median_days": 20.0,
        "median_ci_low": 17.5,
        "median_ci_high": 23.25,
        "churned": 300,
        "censored": 150,
    },
    "segments": {
        "persona": _segment(
            0.0004,
            {"marketer": _group(200, 30.0), "developer": _group(150, 50.0), "sales": _group(150, 12.5)},
        ),
        "channel": _segment(0.7, {"organic": _group(300, 31.0), "paid": _group(200, 29.0)}),
    },
    "change": {
        "change_date": "2024-04-01",
        "before_users": 200,
        "after_users": 300,
        "ttfv_day_7_diff": 0.115,
        "ttfv_day_7_diff_ci_low": 0.091,
        "ttfv_day_7_diff_ci_high": 0.139,
        "retention_day_30_diff": 0.02,
        "retention_day_30_diff_ci_low": -0.01,
        "retention_day_30_diff_ci_high": 0.05,
        "hazard_ratio": 0.8,
        "hr_ci_low": 0.7,
        "hr_ci_high": 0.9,
    },
    "drivers": {
        "landmark_days": 7,
        "users": 400,
        "p_adjust": "fdr_bh",
        "events": {
            "tour": {"hazard_ratio": 0.7, "hr_ci_low": 0.6, "hr_ci_high": 0.82, "p_adjusted": 0.001},
            "export": {"hazard_ratio": 0.9, "hr_ci_low": 0.85, "hr_ci_high": 0.95, "p_adjusted": 0.01},
            "noise": {"hazard_ratio": 0.5, "hr_ci_low": 0.2, "hr_ci_high": 1.3, "p_adjusted": 0.4},
        },
    },
    "moments": {"crisis": 12, "unit": "account", "eligible": {"crisis": 240}},
    "readiness": {
        s: {"status": "pass", "value": 1}
        for s in ("segments", "journey", "feedback", "baseline", "data_quality")
    },
    "data_quality": {"warnings": 0, "params_events_not_seen": {}},
}


def _with(**changes):
    metrics = copy.deepcopy(FULL)
    for key, value in changes.items():
        if value is None:
            metrics.pop(key, None)
        else:
            metrics[key] = value
    return metrics


def _by_id(metrics):
    return {f.id: f for f in build_findings(metrics)}


def _texts(summary):
    return [f.text for f in summary.findings] + [
        t
        for fig in summary.headline
        for t in (fig.text, fig.value_text, fig.ci_text, fig.n_text, fig.note or "")
    ]


FORBIDDEN = re.compile(r"\b(None|nan|NaN|inf|Infinity|null|significant(ly)?)\b")


def test_full_metrics_give_every_kind_of_finding_in_order():
    ids = [f.id for f in build_findings(FULL)]
    assert ids == [
        "change-effect",
        "funnel-drop-off",
        "segment-persona",
        "segments-no-difference",
        "early-behaviours",
        "accounts-in-crisis",
        "time-to-value",
    ]
    assert 3 <= len(ids) <= MAX_FINDINGS
    for text in _texts(build_summary(FULL)):
        assert not FORBIDDEN.search(text), text


# --- the onboarding change -------------------------------------------------------------------


def test_change_interval_above_zero_says_higher_with_its_interval():
    finding = _by_id(FULL)["change-effect"]
    assert finding.text.startswith(
        "After the onboarding change of 2024-04-01, the share of signups reaching value within 7 days "
        "is 11.5 points higher (95% CI 9.1 to 13.9; 300 users after, 200 before)."
    )
    assert "stay longer: 0.80 times the earlier churn rate (95% CI 0.70-0.90)" in finding.text
    assert finding.numbers["ttfv_diff"] == 0.115 and finding.numbers["ttfv_diff_ci_low"] == 0.091
    assert finding.numbers["retention_day_30_diff_ci_low"] == -0.01
    assert finding.section == "Before and after the onboarding change"


def test_change_interval_below_zero_says_lower():
    change = FULL["change"] | {
        "ttfv_day_7_diff": -0.05,
        "ttfv_day_7_diff_ci_low": -0.08,
        "ttfv_day_7_diff_ci_high": -0.02,
    }
    change |= {"hazard_ratio": 1.3, "hr_ci_low": 1.1, "hr_ci_high": 1.5}
    text = _by_id(_with(change=change))["change-effect"].text
    assert "is 5.0 points lower (95% CI 2.0 to 8.0;" in text
    assert "leave sooner: 1.30 times the earlier churn rate (95% CI 1.10-1.50)" in text


def test_change_interval_holding_zero_says_no_detectable_difference():
    change = FULL["change"] | {
        "ttfv_day_7_diff": 0.01,
        "ttfv_day_7_diff_ci_low": -0.02,
        "ttfv_day_7_diff_ci_high": 0.04,
    }
    change |= {"hazard_ratio": 0.97, "hr_ci_low": 0.85, "hr_ci_high": 1.1}
    text = _by_id(_with(change=change))["change-effect"].text
    assert (
        "made no detectable difference to value reached within 7 days: +1.0 points (95% CI -2.0 to +4.0)"
        in text
    )
    assert "Lifetime shows no detectable change: 0.97 times the earlier churn rate (95% CI 0.85-1.10)" in text
    assert "higher" not in text and "lower" not in text and "longer" not in text


def test_change_not_estimable_or_absent():
    change = {
        "change_date": "2024-04-01",
        "before_users": 3,
        "after_users": 0,
        "ttfv_day_7_diff": None,
        "ttfv_day_7_diff_ci_low": None,
        "ttfv_day_7_diff_ci_high": None,
        "hazard_ratio": None,
    }
    text = _by_id(_with(change=change))["change-effect"].text
    assert "not enough users yet" in text and "0 users after, 3 before" in text
    assert "hazard" not in text and "churn rate" not in text
    assert "change-effect" not in _by_id(_with(change=None))
    assert "change-effect" not in _by_id(_with(change={"change_date": None}))


# --- segments ------------------------------------------------------------------------------


def test_segment_that_differs_lists_groups_from_longest_to_shortest_median():
    finding = _by_id(FULL)["segment-persona"]
    assert finding.text == (
        "Lifetime differs by persona: median lifetime 50.0 days for developer, 30.0 for marketer and "
        "12.5 for sales (log-rank p < 0.001, Holm-corrected across segment columns)."
    )
    assert finding.numbers["groups"]["developer"]["median_days"] == 50.0
    assert finding.numbers["logrank_p_adjusted"] == 0.0004


def test_segment_uses_the_corrected_p_value_not_the_raw_one():
    segments = {"plan": _segment(0.12, {"free": _group(100, 10.0), "pro": _group(100, 14.0)}, raw=0.03)}
    segments["region"] = _segment(0.049, {"eu": _group(100, 10.0), "us": _group(100, 14.0)}, method="fdr_bh")
    found = _by_id(_with(segments=segments))
    assert found["segments-no-difference"].text == (
        "Plan makes no detectable difference to lifetime (log-rank p = 0.120 after Holm correction)."
    )
    assert found["segment-region"].text.endswith(
        "(log-rank p = 0.049, Benjamini-Hochberg-corrected across segment columns)."
    )
    assert 0.049 < LEVEL < 0.12


def test_several_columns_without_difference_share_one_finding():
    segments = {
        "region": _segment(0.2, {"eu": _group(100, 10.0), "us": _group(100, 11.0)}),
        "channel": _segment(0.5693, {"organic": _group(100, 10.0), "paid": _group(100, 11.0)}),
    }
    finding = _by_id(_with(segments=segments))["segments-no-difference"]
    assert finding.text == (
        "Channel and region make no detectable difference to lifetime "
        "(log-rank p = 0.569 and 0.200 after Holm correction)."
    )
    assert finding.numbers == {
        "columns": ["channel", "region"],
        "logrank_p_adjusted": {"channel": 0.5693, "region": 0.2},
    }


def test_segment_wording_for_medians_not_reached_and_many_groups():
    groups = {"a": _group(50, 10.0), "b": _group(50, None), "c": _group(50, 30.0), "d": _group(50, 5.0)}
    text = _by_id(_with(segments={"tier": _segment(0.001, groups)}))["segment-tier"].text
    assert text.startswith(
        "Lifetime differs by tier: median lifetime not reached for b (over half still active) (the longest) "
        "and 5.0 days for d (the shortest)"
    )
    three = {"a": _group(50, None), "b": _group(50, 12.0)}
    text = _by_id(_with(segments={"tier": _segment(0.001, three)}))["segment-tier"].text
    assert "median lifetime not reached for a (over half still active) and 12.0 for b" in text


def test_segments_not_compared_give_no_finding_and_at_most_three_columns_differ():
    single = {"plan": _segment(None, {"free": _group(100, 10.0)})}
    assert not {"segment-plan", "segments-no-difference"} & set(_by_id(_with(segments=single)))
    assert not [f for f in build_findings(_with(segments=None)) if f.id.startswith("segment")]
    assert not [f for f in build_findings(_with(segments={"plan": {"groups": {}}})) if f.id.startswith("segment")]
    many = {f"c{i}": _segment(0.01 / (i + 1), {"x": _group(9, 1.0), "y": _group(9, 2.0)}) for i in range(5)}
    ids = [f.id for f in build_findings(_with(segments=many), limit=20) if f.id.startswith("segment")]
    assert ids == ["segment-c4", "segment-c3", "segment-c2"]  # smallest corrected p first


def test_one_segment_column_falls_back_to_its_own_p_value():
    segments = {"plan": _segment(None, {"free": _group(100, 10.0), "pro": _group(100, 14.0)}, raw=0.001)}
    assert "segment-plan" in _by_id(_with(segments=segments))


# --- funnel --------------------------------------------------------------------------------


def test_funnel_names_the_step_losing_the_largest_share():
    finding = _by_id(FULL)["funnel-drop-off"]
    # hand: drops 1-80/100 = 20%, 1-40/80 = 50%, 1-30/40 = 25%; interval 1-0.61, 1-0.39
    assert finding.text == (
        "The largest drop-off in the onboarding funnel is between a and b: 50.0% (39.0-61.0%) of the 80 "
        "users who reached a did not go on to b within 14 days of signup."
    )
    assert finding.numbers["drop_off"] == pytest.approx(0.5)
    assert finding.numbers["ci_low"] == pytest.approx(0.39) and finding.numbers["ci_high"] == pytest.approx(
        0.61
    )


def test_funnel_without_observed_users_or_steps():
    funnel = {
        "eligible": 0,
        "window_days": 14,
        "steps": [
            {"step": "s", "users": 0, "from_previous": None},
            {"step": "t", "users": 0, "from_previous": None},
        ],
    }
    text = _by_id(_with(funnel=funnel))["funnel-drop-off"].text
    assert (
        text
        == "Onboarding funnel: not enough users yet (no signup has been observed for the whole funnel window of 14 days)."
    )
    hours = _by_id(_with(funnel=FULL["funnel"] | {"window_days": 0.5}))["funnel-drop-off"].text
    assert hours.endswith("did not go on to b within 12 hours of signup.")
    figure = {f.key: f for f in build_summary(_with(funnel=FULL["funnel"] | {"window_days": 0.5})).headline}
    assert figure["funnel_completion"].meaning == "all 4 funnel steps within 12 hours"
    assert "funnel-drop-off" not in _by_id(_with(funnel={"steps": [{"step": "s", "users": 3}]}))
    no_window = _by_id(_with(funnel={"eligible": 0, "steps": funnel["steps"]}))["funnel-drop-off"].text
    assert no_window.endswith("(no signup has been observed for the whole funnel window).")
    unnamed = {"steps": [{"users": None}, {"from_previous": 0.25}]}  # odd shapes: no "None" in the text
    assert _by_id(_with(funnel=unnamed))["funnel-drop-off"].text == (
        "The largest drop-off in the onboarding funnel is between step 1 and step 2: 75.0% of the users "
        "who reached step 1 did not go on to step 2."
    )
    assert "funnel-drop-off" not in _by_id(_with(funnel=None))


# --- early behaviours, crisis, data, time to value -----------------------------------------


def test_early_behaviours_are_associations():
    finding = _by_id(FULL)["early-behaviours"]
    assert finding.text == (
        "Doing tour in the first 7 days is associated with staying longer afterwards (churn rate 0.70 "
        "times, 95% CI 0.60-0.82, that of users who did not); 2 of 3 early events are associated with "
        "lifetime after Benjamini-Hochberg correction. These are associations, not proof of cause."
    )
    assert set(finding.numbers["associated"]) == {"tour", "export"}  # "noise" has p_adjusted 0.4


def test_early_behaviours_none_associated_only_harmful_or_none_tested():
    drivers = copy.deepcopy(FULL["drivers"])
    for event in drivers["events"].values():
        event["p_adjusted"] = 0.3
    text = _by_id(_with(drivers=drivers))["early-behaviours"].text
    assert text == (
        "Of the 3 most frequent early events in the first 7 days, not one is associated with how long users "
        "stay afterwards, after Benjamini-Hochberg correction."
    )
    drivers["events"]["late"] = {
        "hazard_ratio": 1.4,
        "hr_ci_low": 1.2,
        "hr_ci_high": 1.6,
        "p_adjusted": 0.002,
    }
    text = _by_id(_with(drivers=drivers))["early-behaviours"].text
    assert text.startswith("Doing late in the first 7 days is associated with leaving sooner afterwards")
    assert "; 1 of 4 early events is associated with lifetime" in text
    empty = _by_id(_with(drivers={"landmark_days": 7, "users": 0, "events": {}}))["early-behaviours"]
    assert (
        empty.text
        == "Early behaviours: not enough users yet (none still active after the first 7 days to compare)."
    )


@pytest.mark.parametrize(
    ("moments", "expected"),
    [
        (
            {"crisis": 12, "unit": "account", "eligible": {"crisis": 240}},
            "12 accounts (5.0% of 240 observed long enough) are in crisis",
        ),
        (
            {"crisis": 1, "unit": "user", "eligible": {"crisis": 1000}},
            "1 user (0.1% of 1,000 observed long enough) is in crisis",
        ),
        (
            {"crisis": 0, "unit": "account", "eligible": {"crisis": 240}},
            "No account is in crisis (0 of 240 accounts observed long enough).",
        ),
        (
            {"crisis": 0, "unit": "account", "eligible": {"crisis": 0}},
            "Accounts in crisis: not enough users yet",
        ),
    ],
)
def test_crisis_wording(moments, expected):
    assert _by_id(_with(moments=moments))["accounts-in-crisis"].text.startswith(expected)


def test_data_limits_only_when_something_limits_the_reading():
    assert "data-limits" not in _by_id(FULL)
    readiness = copy.deepcopy(FULL["readiness"])
    readiness["feedback"]["status"] = "fail"
    readiness["journey"]["status"] = "warn"  # a warning is not a failure
    finding = _by_id(_with(readiness=readiness))["data-limits"]
    assert finding.text == (
        "What limits this reading: readiness fails on feedback (no feedback event, or scores off the scale)."
    )
    assert [f.id for f in build_findings(_with(readiness=readiness), limit=20)][-2:] == [
        "data-limits",
        "time-to-value",
    ]


def test_data_limits_come_first_when_data_quality_fails():
    readiness = copy.deepcopy(FULL["readiness"])
    readiness["data_quality"]["status"] = "fail"
    metrics = _with(
        readiness=readiness,
        data={
            "events_read": 2000,
            "events_used": 1500,
            "excluded": {"missing user id": 400, "duplicate event": 100},
        },
        warnings=["a", "b"],
        data_quality={"warnings": 5, "params_events_not_seen": {"feedback_given": ["feedback"]}},
    )
    first = build_findings(metrics)[0]
    assert first.id == "data-limits"
    assert first.text == (
        "What limits this reading: 25.0% of 2,000 event rows were excluded, most of them as 'missing user id' "
        "(400 rows); 2 data warnings; params event never seen in the data: feedback_given."
    )
    assert first.numbers["excluded_share"] == pytest.approx(0.25)


def test_time_to_value_fills_when_there_is_room():
    finding = _by_id(FULL)["time-to-value"]
    assert finding.text == (
        "40.0% (35.0-45.0%) of signups reach value within 90 days; a quarter of signups within 3.2 days "
        "(95% CI 2.5-4.0 days)."
    )


def test_findings_are_capped_and_missing_sections_give_none():
    many = {f"c{i}": _segment(0.001, {"x": _group(9, 1.0), "y": _group(9, 2.0)}) for i in range(3)}
    many["channel"] = FULL["segments"]["channel"]
    out = build_findings(_with(segments=many))
    assert len(out) == MAX_FINDINGS
    assert "time-to-value" not in [f.id for f in out]  # the last in order is dropped
    assert build_findings({}) == [] and build_summary({}).headline == ()
    odd = {
        "funnel": {"steps": "x"},
        "segments": [],
        "change": 3,
        "drivers": None,
        "moments": {"crisis": None},
        "ttfv": [],
        "readiness": {"x": 1},
        "retention": {"day_x": {}},
        "lifetime": "?",
    }
    summary = build_summary(odd)
    for text in _texts(summary):
        assert not FORBIDDEN.search(text), text


def _paths(value, prefix=()):
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _paths(sub, (*prefix, i))
    yield prefix


@pytest.mark.parametrize("replacement", [None, "drop"])
def test_any_single_value_missing_never_raises_nor_prints_none(replacement):
    for path in _paths(FULL):
        if not path:
            continue
        metrics = copy.deepcopy(FULL)
        parent = metrics
        for key in path[:-1]:
            parent = parent[key]
        if replacement == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = None
        summary = build_summary(metrics)
        for text in _texts(summary):
            assert not FORBIDDEN.search(text), (path, text)
        json.dumps(summary_metrics(summary), allow_nan=False)


# --- headline figures ----------------------------------------------------------------------


def test_headline_figures_with_intervals_and_denominators():
    summary = build_summary(FULL)
    figures = {f.key: f for f in summary.headline}
    assert list(figures) == [
        "retention_day_1",
        "retention_day_7",
        "retention_day_30",
        "value_by_day_7",
        "funnel_completion",
        "median_lifetime",
    ]
    assert figures["retention_day_7"].text == "30.0% (26.0-34.0%)"
    assert figures["retention_day_7"].n_text == "n = 480 users observed 8+ days"
    assert figures["retention_day_30"].text == "not enough users yet"
    assert figures["retention_day_30"].note == "no user observed 31 days yet"
    assert figures["value_by_day_7"].ci_text == "95% CI 21.0-29.0%"
    assert figures["median_lifetime"].text == "20.0 days (17.5-23.2 days)"
    assert figures["median_lifetime"].n == 450  # churned + censored
    completion = figures["funnel_completion"]  # 30 of 100 eligible, Wilson interval
    low, high = proportion_confint(30, 100, alpha=0.05, method="wilson")
    assert (
        completion.value == 0.3
        and completion.ci_low == pytest.approx(low)
        and completion.ci_high == pytest.approx(high)
    )
    assert completion.text == f"30.0% ({100 * low:.1f}-{100 * high:.1f}%)" == "30.0% (21.9-39.6%)"


def test_median_lifetime_not_reached_or_not_estimable():
    reached = build_summary({"lifetime": {"median_days": None, "churned": 10, "censored": 90}}).headline[0]
    assert reached.text == "not reached" and reached.note.startswith("more than half")
    empty = build_summary({"lifetime": {"median_days": None, "churned": 0, "censored": 0}}).headline[0]
    assert empty.text == "not enough users yet" and empty.note == "no user observed long enough yet"
    upper = build_summary(
        {
            "lifetime": {
                "median_days": 40.0,
                "median_ci_low": 35.0,
                "median_ci_high": None,
                "churned": 60,
                "censored": 40,
            }
        }
    ).headline[0]
    assert upper.ci_text == "95% CI 35.0 days or more"


def test_summary_metrics_are_strict_json_without_nan():
    metrics = _with(
        retention={"day_7": {"rate": math.nan, "ci_low": math.inf, "ci_high": None, "eligible": 0}}
    )
    metrics["lifetime"]["median_ci_high"] = math.nan
    recorded = summary_metrics(build_summary(metrics))
    text = json.dumps(recorded, allow_nan=False)  # raises on NaN or infinity
    back = json.loads(text)["summary"]
    assert back["headline"]["retention_day_7"]["value"] is None
    assert back["headline"]["retention_day_7"]["ci_low"] is None
    assert back["headline"]["median_lifetime"]["ci_high"] is None
    assert [f["id"] for f in back["findings"]] == [f.id for f in build_findings(metrics)]
    assert set(back["findings"][0]) == {"id", "text", "section", "numbers"}


# --- the HTML block ------------------------------------------------------------------------


def test_summary_html_links_to_sections_that_exist_and_escapes():
    headings = [
        ("Day-N retention", "day-n-retention"),
        ("Onboarding funnel", "onboarding-funnel"),
        ("Segment comparisons", "seg"),
    ]
    metrics = _with(segments={"<b>": _segment(0.001, {"x&y": _group(9, 1.0), "z": _group(9, 2.0)})})
    soup = BeautifulSoup(summary_html(build_summary(metrics), headings), "html.parser")
    section = soup.find("section")
    assert section["id"] == SUMMARY_ID and section.h2.get_text() == "At a glance"
    assert len(section.select("li.oa-fig")) == 6
    hrefs = {a["href"] for a in section.find_all("a")}
    assert hrefs == {"#day-n-retention", "#onboarding-funnel", "#seg"}  # nothing dangling
    items = section.select("ol.oa-findings li")
    assert [li["data-id"] for li in items] == [f.id for f in build_findings(metrics)]
    assert "Lifetime differs by <b>" in section.get_text() and "<b>" not in str(section.ol).replace(
        "&lt;b&gt;", ""
    )
    assert summary_html(build_summary({})) == ""


def test_section_anchor_prefers_an_exact_heading():
    headings = [("Retention and lifetime", "r"), ("Lifetime", "l"), ("Time to first value and more", "t")]
    assert section_anchor("Lifetime", headings) == "l"
    assert section_anchor("time to first value", headings) == "t"
    assert section_anchor("Feedback", headings) is None


def test_wording_helpers_by_hand():
    assert percent_ci(0.429, 0.381, 0.478) == "42.9% (38.1-47.8%)"
    assert count(1234567) == "1,234,567" and count(None) == "-"
    assert p_value(0.0009) == "< 0.001" and p_value(0.0123) == "0.012"
    assert points_ci(-0.05, -0.08, -0.02) == "-5.0 points (95% CI -8.0 to -2.0)"
    assert days(None) == "not enough users yet" and percent(math.nan) == "not enough users yet"


# --------------------------------------------------------------------------------------------
# A real demo run against the demo's ground truth
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_run):
    proc, folder, _ = demo_run
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    soup = BeautifulSoup((folder / "report.html").read_text(encoding="utf-8"), "html.parser")
    return metrics, soup


def test_demo_findings_say_the_ground_truth(demo):
    metrics, _ = demo
    found = {f["id"]: f for f in metrics["summary"]["findings"]}
    truth = true_hazard_ratios()
    assert 3 <= len(found) <= MAX_FINDINGS
    # persona and plan: groups listed from the longest to the shortest lifetime, i.e. in the order
    # of increasing true hazard (developer 0.6 < marketer 1 < sales 1.4; enterprise < pro < free)
    for column in ("persona", "plan"):
        text = found[f"segment-{column}"]["text"]
        assert text.startswith(f"Lifetime differs by {column}")
        by_truth = sorted(truth[column], key=truth[column].get)
        positions = [text.index(f" for {group}") for group in by_truth]
        assert positions == sorted(positions), (column, text)
    assert sorted(truth["persona"], key=truth["persona"].get)[:2] == ["developer", "marketer"]
    # channel: no effect at all
    assert set(truth["channel"].values()) == {1.0}
    assert "channel" in found["segments-no-difference"]["numbers"]["columns"]
    assert "segment-channel" not in found
    assert found["segments-no-difference"]["text"].startswith("Channel makes no detectable difference")
    # the change: improved onboarding (more signups reach value by day 7) and hazard x0.8
    change = found["change-effect"]
    assert change["numbers"]["ttfv_diff_ci_low"] > 0
    assert "points higher" in change["text"]
    assert truth["change"] < 1 and "stay longer" in change["text"]
    # early behaviours are associations
    assert "associated with" in found["early-behaviours"]["text"]
    assert "not proof of cause" in found["early-behaviours"]["text"]


def test_demo_funnel_finding_matches_the_step_counts(demo):
    metrics, _ = demo
    steps = metrics["funnel"]["steps"]
    drops = [
        (1 - b["users"] / a["users"], a["step"], b["step"]) for a, b in zip(steps, steps[1:], strict=False)
    ]
    drop, before, after = max(drops)
    funnel = next(f for f in metrics["summary"]["findings"] if f["id"] == "funnel-drop-off")
    assert (funnel["numbers"]["from_step"], funnel["numbers"]["to_step"]) == (before, after)
    assert (
        f"{100 * drop:.1f}%" in funnel["text"]
        and f"{steps[[s['step'] for s in steps].index(before)]['users']:,}" in funnel["text"]
    )


def test_demo_headline_in_metrics_and_at_the_top_of_the_report(demo):
    metrics, soup = demo
    headline = metrics["summary"]["headline"]
    assert list(headline) == [
        "retention_day_1",
        "retention_day_7",
        "retention_day_30",
        "value_by_day_7",
        "funnel_completion",
        "median_lifetime",
    ]
    day7 = metrics["retention"]["day_7"]
    assert (
        headline["retention_day_7"]["value"] == day7["rate"]
        and headline["retention_day_7"]["n"] == day7["eligible"]
    )
    block = soup.find(id=SUMMARY_ID)
    assert block is not None and block.name == "section"
    # the block comes before the table of contents and every section of the notebooks
    later = block.find_all_next(["nav", "h1"])
    assert later and later[0].name == "nav"
    assert not block.find_all_previous("nav") and not [
        h for h in block.find_all_previous("h1") if "oa-title" not in h.get("class", [])
    ]
    ids = {tag["id"] for tag in soup.find_all(id=True)}
    links = [a["href"] for a in block.find_all("a")]
    assert len(links) == 6 + len(metrics["summary"]["findings"])  # every figure and finding links
    assert all(href[1:] in ids for href in links)
    tiles = block.select("li.oa-fig")
    assert tiles[1].select_one(".oa-fig-value").get_text() == f"{100 * day7['rate']:.1f}%"
    text = block.get_text(" ", strip=True)
    assert not FORBIDDEN.search(text), text
    items = [li.get_text(" ", strip=True) for li in block.select("ol.oa-findings li")]
    assert len(items) == len(metrics["summary"]["findings"])
    assert all(
        item.startswith(f["text"]) for item, f in zip(items, metrics["summary"]["findings"], strict=True)
    )


def test_durations_under_a_day_read_in_hours_or_minutes_never_as_zero_days():
    # 5 minutes = 5/1440 day; 6 hours = 0.25 day; an interval takes the unit of its upper bound.
    assert days(5 / 1440) == "5 minutes"
    assert days(0.25) == "6.0 hours"
    assert days(1 / 24) == "1.0 hour"
    assert days(0.0) == "0 minutes"
    assert days(2.04) == "2.0 days"
    from onboarding_analysis.report.wording import days_ci

    assert days_ci(0.1, 0.5) == "2.4-12.0 hours"
    assert days_ci(0.9, 1.25) == "0.9-1.2 days"


def test_the_header_period_is_to_the_minute_even_with_fractional_seconds():
    from onboarding_analysis.report.execution import data_period

    period = data_period(
        {"data": {"first_signup": "2024-03-01T09:05:00.123000"}, "run": {"observation_end": "2024-03-24T00:00:00"}}
    )
    assert period == "signups from 2024-03-01 09:05 to observation end 2024-03-24 00:00 (UTC)"
