"""Feedback: NPS interval against a hand calculation, response rules, CSAT, groups for segments."""

from __future__ import annotations

import json
import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from scipy import stats  # noqa: E402

from onboarding_analysis.absence import notes_of  # noqa: E402
from onboarding_analysis.analyses.feedback import (  # noqa: E402
    MIN_NPS_RESPONSES,
    NPS_GROUP,
    SUMMARY_COLUMNS,
    feedback_by_month,
    feedback_by_segment,
    feedback_metrics,
    feedback_summary,
    latest_responses,
    nps_interval,
    plot_feedback,
    too_few_answers,
    with_nps_groups,
)
from onboarding_analysis.data.pipeline import compute_facts  # noqa: E402
from onboarding_analysis.demo import DemoSpec, write_demo  # noqa: E402
from onboarding_analysis.errors import DataError, ParamsError  # noqa: E402
from onboarding_analysis.params import validate_params  # noqa: E402
from onboarding_analysis.stats.intervals import wilson_interval  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --- the interval -----------------------------------------------------------------------------


def test_nps_interval_against_a_hand_calculation():
    """5 promoters, 3 passives, 2 detractors (n = 10): NPS = (5 - 2) / 10 = +30.

    Adjusted Wald (Rocks 2016): n' = 13, p' = 5.75 / 13 = 0.442308, d' = 2.75 / 13 = 0.211538,
    p' - d' = 0.230769; Var = (p' + d' - (p' - d')^2) / n' = (0.653846 - 0.053254) / 13
    = 0.0461994, SE = 0.214941; z = 1.959964: half-width 0.421278.
    Interval: 0.230769 -+ 0.421278 = [-0.190509, 0.652047] -> [-19.05, +65.20] points.
    """
    score, low, high = nps_interval(5, 3, 2)
    assert score == 30.0
    assert low == pytest.approx(-19.0506, abs=1e-4)
    assert high == pytest.approx(65.2045, abs=1e-4)
    assert isinstance(low, float) and isinstance(high, float)


def test_nps_interval_limits():
    assert all(math.isnan(v) for v in nps_interval(0, 0, 0))
    score, low, high = nps_interval(50, 0, 0)
    assert score == 100.0 and high == 100.0 and low < 100.0  # clipped to the scale, never degenerate
    score, low, high = nps_interval(0, 0, 3)
    assert score == -100.0 and low == -100.0
    narrow = nps_interval(500, 300, 200)
    assert narrow[0] == 30.0 and narrow[2] - narrow[1] < 12  # shrinks like 1/sqrt(n)
    with pytest.raises(ValueError, match="whole numbers"):
        nps_interval(1.5, 0, 0)
    with pytest.raises(ValueError, match="alpha"):
        nps_interval(1, 1, 1, alpha=2)


# --- hand-made logs ---------------------------------------------------------------------------


def log():
    """Scores (value) of 'survey' events; everyone signs up 2024-01-01 (users table: persona).

    u1: 3 in January, then 10 in February -> latest 10 (promoter)
    u2: 9 in January -> promoter;  u3: 7 in February -> passive;  u4: 0 in February -> detractor
    u5: a survey event without a score -> counted as missing, no response;  u6: never answers
    """
    rows = [
        ("u1", "2024-01-05", 3),
        ("u1", "2024-02-05", 10),
        ("u2", "2024-01-10", 9),
        ("u3", "2024-02-10", 7),
        ("u4", "2024-02-11", 0),
        ("u5", "2024-02-12", None),
    ]
    events = [
        {"user_id": u, "event": "signed_up", "timestamp": "2024-01-01T00:00:00Z", "value": None}
        for u in ("u1", "u2", "u3", "u4", "u5", "u6")
    ]
    events += [
        {"user_id": u, "event": "survey", "timestamp": f"{t}T12:00:00Z", "value": v} for u, t, v in rows
    ]
    users = pd.DataFrame(
        {"user_id": ["u1", "u2", "u3", "u4", "u5", "u6"], "persona": ["a", "a", "a", "b", None, "b"]}
    )
    return pd.DataFrame(events), users


@pytest.fixture
def facts_of(write_csv):
    def build(events, users=None, **params):
        base = {
            "events": write_csv(events),
            "observation_end": "2024-02-29",
            "feedback_event": "survey",
            "min_segment_size": 1,
        }
        if users is not None:
            base |= {"users": write_csv(users, "users.csv"), "segments": ["persona"]}
        return compute_facts(validate_params(base | params))

    return build


def test_latest_response_per_user_and_counts(facts_of):
    """Latest per user: 10, 9, 7, 0 -> 2 promoters, 1 passive, 1 detractor of 4: NPS = +25."""
    events, users = log()
    facts = facts_of(events, users)
    latest = latest_responses(facts).set_index("user_id")["score"]
    assert latest.to_dict() == {"u1": 10.0, "u2": 9.0, "u3": 7.0, "u4": 0.0}
    result = feedback_summary(facts)
    assert result.responses == 4 and result.users == 6 and result.missing_scores == 1
    assert result.response_rate == pytest.approx(4 / 6)
    assert result.score == 25.0
    assert (result.ci_low, result.ci_high) == pytest.approx(nps_interval(2, 1, 1)[1:])
    assert result.shares == {"promoter": 0.5, "passive": 0.25, "detractor": 0.25}


def test_by_month_counts_each_user_once_per_month(facts_of):
    """January: u1 3 (detractor), u2 9 (promoter) -> 0. February: u1 10, u3 7, u4 0 -> 0 too,
    with 1 promoter, 1 passive, 1 detractor."""
    events, users = log()
    table = feedback_by_month(facts_of(events, users))
    assert list(table.columns) == SUMMARY_COLUMNS
    assert table["group"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-02-01"]))
    assert table["responses"].tolist() == [2, 3]
    assert table["score"].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(
        table.iloc[1][["promoters", "passives", "detractors"]].astype(float), [1 / 3] * 3
    )


def test_by_segment_pools_small_groups(facts_of):
    """Responders: persona a = u1 (10), u2 (9), u3 (7): NPS +66.7; b = u4 (0): one answer, not
    estimable (an NPS needs 2). With min_segment_size 2, b (1 responder) is pooled into 'other'."""
    events, users = log()
    by_persona = feedback_by_segment(facts_of(events, users), "persona")
    table = by_persona.set_index("group")
    assert table.loc["a", "score"] == pytest.approx(200 / 3)
    assert table.loc["b", "responses"] == 1
    assert math.isnan(table.loc["b", "score"]) and math.isnan(table.loc["b", "ci_low"])
    assert notes_of(by_persona) == ["persona b: not estimable: only 1 answer (an NPS needs at least 2)"]
    pooled = feedback_by_segment(facts_of(events, users, min_segment_size=2), "persona")
    assert pooled["group"].tolist() == ["a", "other"]
    with pytest.raises(ParamsError, match="plan"):
        feedback_by_segment(facts_of(events, users), "plan")


def test_nps_groups_column_for_segments(facts_of):
    events, users = log()
    facts = facts_of(events, users)
    grouped = with_nps_groups(facts)
    assert grouped.table is not facts.table and NPS_GROUP not in facts.table
    groups = grouped.table.set_index("user_id")[NPS_GROUP]
    assert groups.dropna().to_dict() == {
        "u1": "promoter",
        "u2": "promoter",
        "u3": "passive",
        "u4": "detractor",
    }
    assert groups[["u5", "u6"]].isna().all()  # no scored response: null, like a missing segment value
    assert str(groups.dtype) == "string"
    responders = with_nps_groups(facts, responders_only=True)
    assert sorted(responders.table["user_id"]) == ["u1", "u2", "u3", "u4"]


def test_csat_share_of_four_and_five_with_wilson(facts_of):
    """CSAT scores 5, 4, 3, 1 (latest per user) -> 2 of 4 satisfied = 0.5 with its Wilson interval."""
    events = pd.DataFrame(
        [
            {"user_id": u, "event": "survey", "timestamp": f"2024-02-0{i + 1}T00:00:00Z", "value": v}
            for i, (u, v) in enumerate([("a", 2), ("a", 5), ("b", 4), ("c", 3), ("d", 1)])
        ]
    )
    facts = facts_of(events, score_scale="csat", signup_event=None)
    result = feedback_summary(facts)
    assert result.scale == "csat" and result.responses == 4
    assert result.score == 0.5
    assert (result.ci_low, result.ci_high) == pytest.approx(wilson_interval(2, 4))
    metrics = feedback_metrics(result)["feedback"]
    assert metrics["csat"] == 0.5 and "nps" not in metrics
    json.dumps(feedback_metrics(result), allow_nan=False)
    with pytest.raises(ParamsError, match="score_scale"):
        with_nps_groups(facts)


@pytest.mark.parametrize(("score", "scale"), [(11, "nps"), (7.5, "nps"), (0, "csat"), (6, "csat")])
def test_scores_off_the_scale_are_rejected(facts_of, score, scale):
    events = pd.DataFrame(
        [{"user_id": "a", "event": "survey", "timestamp": "2024-02-01T00:00:00Z", "value": score}]
    )
    with pytest.raises(DataError, match="score_scale"):
        feedback_summary(facts_of(events, score_scale=scale, signup_event=None))


def test_feedback_needs_the_param(facts_of):
    events, _ = log()
    with pytest.raises(ParamsError, match="feedback_event"):
        feedback_summary(facts_of(events, feedback_event=None))


def test_metrics_and_plot(facts_of):
    events, users = log()
    result = feedback_summary(facts_of(events, users))
    metrics = feedback_metrics(result)["feedback"]
    assert metrics["nps"] == 25.0 and metrics["responses"] == 4
    assert metrics["nps_ci_low"] == pytest.approx(result.ci_low)
    json.dumps(feedback_metrics(result), allow_nan=False)
    ax = plot_feedback(result)
    assert isinstance(ax, Axes) and ax.get_lines()


# --- the demo ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    spec = DemoSpec(n_users=3000)
    paths = write_demo(tmp_path_factory.mktemp("demo_feedback"), spec, seed=5)
    params = validate_params(
        {
            "events": str(paths["events"]),
            "users": str(paths["users"]),
            "observation_end": spec.observation_end,
            "feedback_event": "feedback_submitted",
            "segments": ["persona"],
            "min_segment_size": 20,
            "onboarding_steps": ["signed_up", "completed_profile", "connected_data", "created_report"],
        }
    )
    return compute_facts(params), pd.read_parquet(paths["truth"]), spec


def test_demo_nps_interval_covers_the_model_nps(demo):
    """Demo scores are Binomial(10, p) with logit(p) = logit(0.7) - log(hazard ratio): the
    expected NPS of the users who answered by T, sum over them of P(S >= 9) - P(S <= 6), lies in
    the interval; and the measured responses are exactly the truth's scores."""
    facts, truth, spec = demo
    result = feedback_summary(facts)
    latest = latest_responses(facts).set_index("user_id")["score"]
    truth = truth.set_index("user_id")
    assert (latest == truth.loc[latest.index, "feedback_score"]).all()
    hr = truth.loc[latest.index, "hazard_ratio"].to_numpy()
    p0 = spec.feedback_score_probability
    p = 1 / (1 + np.exp(-(np.log(p0 / (1 - p0)) - spec.feedback_hazard_slope * np.log(hr))))
    expected = 100 * np.mean(stats.binom.sf(8, 10, p) - stats.binom.cdf(6, 10, p))
    assert result.ci_low < expected < result.ci_high, (result.score, expected)
    assert result.response_rate == pytest.approx(len(latest) / spec.n_users)
    by_persona = result.by_segment["persona"].set_index("group")
    # Developers (hazard ratio 0.6) score higher than sales (1.4), by construction.
    assert by_persona.loc["developer", "score"] > by_persona.loc["sales", "score"]


def test_demo_nps_groups_with_compare_segments(demo):
    """segments.compare_segments works on the nps_group column like on any segment."""
    from onboarding_analysis.analyses.segments import compare_segments

    facts, _, _ = demo
    grouped = with_nps_groups(facts, responders_only=True)
    with warnings.catch_warnings():
        # Small groups: the comparison may warn about its statistics; that is its business here.
        warnings.simplefilter("ignore")
        comparison = compare_segments(grouped, NPS_GROUP, min_size=10)
    assert set(comparison.groups["group"]) == {"promoter", "passive", "detractor"}
    assert comparison.groups["users"].sum() == len(grouped.table)


def test_a_feedback_event_that_never_occurs_names_the_param(facts_of, capsys):
    """The report's feedback section says which param left it empty (never 'no users')."""
    from onboarding_analysis.report.notebook import configured

    events, _ = log()
    facts = facts_of(events, feedback_event="Survey Answered")
    assert configured(facts.params, "feedback_event", facts=facts) is False
    note = capsys.readouterr().out.strip()
    assert note.startswith(
        "Section skipped: params 'feedback_event' is 'Survey Answered', which never occurs"
    )
    assert "(closest event names: survey)" in note
    assert configured(facts.params, "feedback_event", quiet=True, facts=facts) is False
    assert capsys.readouterr().out == ""
    with pytest.raises(
        DataError, match="params feedback_event 'Survey Answered': no analysed user has a scored"
    ):
        with_nps_groups(facts, responders_only=True)
    # The event occurs: the section runs, and says nothing.
    facts = facts_of(events)
    assert configured(facts.params, "feedback_event", facts=facts) is True
    assert capsys.readouterr().out == ""


def _promoters_log(n):
    """``n`` users, each answering 10 (a promoter) once on 2024-02-01."""
    events = [
        {"user_id": f"u{i}", "event": "signed_up", "timestamp": "2024-01-01T00:00:00Z", "value": None}
        for i in range(n)
    ]
    events += [
        {"user_id": f"u{i}", "event": "survey", "timestamp": "2024-02-01T12:00:00Z", "value": 10}
        for i in range(n)
    ]
    return pd.DataFrame(events)


def test_one_answer_nps_is_not_estimable(facts_of):
    """One promoter. By hand (Rocks 2016): n' = 1 + 3 = 4, p' = 1.75/4 = 0.4375, d' = 0.75/4 =
    0.1875, centre 0.25, Var' = (0.625 - 0.0625)/4 = 0.140625, sd 0.375; 95%: 0.25 +- 1.959964 *
    0.375 = [-0.48499, 0.98499], so the plain NPS 100 lies above [-48.5, 98.5]: not reported."""
    nps, low, high = nps_interval(1, 0, 0)
    z = 1.959963984540054
    assert (nps, low, high) == pytest.approx((100.0, 100 * (0.25 - z * 0.375), 100 * (0.25 + z * 0.375)))
    assert high < nps  # the inconsistency the rule avoids
    result = feedback_summary(facts_of(_promoters_log(1)))
    assert result.responses == 1 and MIN_NPS_RESPONSES == 2
    assert (result.score, result.ci_low, result.ci_high) == (None, None, None)
    assert result.notes == ("NPS: not estimable: only 1 answer (an NPS needs at least 2)",)
    metrics = feedback_metrics(result)["feedback"]
    assert (metrics["nps"], metrics["nps_ci_low"], metrics["nps_ci_high"]) == (None, None, None)
    assert metrics["responses"] == 1 and metrics["promoters"] == 1.0
    assert notes_of(result.by_month) == ["month 2024-02: not estimable: only 1 answer (an NPS needs at least 2)"]
    json.dumps(metrics, allow_nan=False)


def test_two_answers_nps_is_reported_inside_its_interval(facts_of):
    """Two promoters. By hand: n' = 5, p' = 2.75/5 = 0.55, d' = 0.15, centre 0.4, Var' = (0.7 -
    0.16)/5 = 0.108; 95%: 0.4 +- 1.959964 * sqrt(0.108) = [-0.24411, 1.04411], clipped to 1: the
    plain NPS 100 is the interval's upper end."""
    z = 1.959963984540054
    result = feedback_summary(facts_of(_promoters_log(2)))
    assert result.score == 100.0 and result.notes == ()
    assert result.ci_low == pytest.approx(100 * (0.4 - z * math.sqrt(0.108)))
    assert result.ci_high == 100.0
    assert notes_of(result.by_month) == []


def test_too_few_answers_rule():
    """The minimum holds for NPS only (Wilson's CSAT interval always contains the share); no answer
    at all is no score, not a small sample."""
    assert too_few_answers("nps", 1) == "not estimable: only 1 answer (an NPS needs at least 2)"
    assert too_few_answers("nps", 0) is None and too_few_answers("nps", 2) is None
    assert too_few_answers("csat", 1) is None


def test_from_two_answers_the_nps_lies_in_its_interval():
    """The claim behind the minimum of 2 (docs/metrics.md): at 95%, every split of 2 to 40 answers
    has its plain NPS inside the adjusted-Wald interval; every single answer but a passive has not."""
    for n in range(2, 41):
        for promoters in range(n + 1):
            for passives in range(n + 1 - promoters):
                nps, low, high = nps_interval(promoters, passives, n - promoters - passives)
                assert low - 1e-9 <= nps <= high + 1e-9, (promoters, passives, n)
    assert nps_interval(1, 0, 0)[2] < 100 and nps_interval(0, 0, 1)[1] > -100
