"""Onboarding engagement: hand-computed cases on tiny event logs, JSON-safe metrics, plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display in tests; set before pyplot is imported

import contextlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import warnings  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from onboarding_analysis.analyses import active_users as A  # noqa: E402
from onboarding_analysis.analyses import engagement as E  # noqa: E402
from onboarding_analysis.analyses import engagement_plots as P  # noqa: E402
from onboarding_analysis.data.pipeline import compute_facts  # noqa: E402
from onboarding_analysis.params import validate_params  # noqa: E402
from onboarding_analysis.stats.intervals import wilson_interval  # noqa: E402


@pytest.fixture
def make_facts(write_csv):
    """Facts from (user_id, event, timestamp) rows and params overrides."""

    def make(rows, **params):
        path = write_csv([dict(zip(("user_id", "event", "timestamp"), row, strict=True)) for row in rows])
        return compute_facts(validate_params({"events": path, **params}))

    return make


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _assert_wilson(table: pd.DataFrame, successes: str, n: str) -> None:
    low, high = wilson_interval(table[successes].to_numpy(), table[n].to_numpy())
    np.testing.assert_allclose(table["ci_low"], low)
    np.testing.assert_allclose(table["ci_high"], high)


# --- prompts ----------------------------------------------------------------------------------

PROMPT_EVENTS = [
    ("p1", "signed_up", "2024-01-01T00:00:00Z"),
    ("p1", "tour_shown", "2024-01-02T10:00:00Z"),
    ("p1", "tour_done", "2024-01-02T10:05:00Z"),  # after shown: engaged
    ("p2", "signed_up", "2024-01-01T00:00:00Z"),
    ("p2", "tour_shown", "2024-01-02T10:00:00Z"),
    ("p2", "tour_done", "2024-01-02T10:00:00Z"),  # same second as shown: a tie counts as engaged
    ("p3", "signed_up", "2024-01-01T00:00:00Z"),
    ("p3", "tour_done", "2024-01-02T09:00:00Z"),  # before the first shown only: not engaged
    ("p3", "tour_shown", "2024-01-02T10:00:00Z"),
    ("p4", "signed_up", "2024-01-01T00:00:00Z"),
    ("p4", "tour_done", "2024-01-02T10:00:00Z"),  # engaged without shown: ignored entirely
    ("p5", "signed_up", "2024-01-01T00:00:00Z"),
    ("p5", "tour_shown", "2024-01-03T00:00:00Z"),
    ("p5", "tour_done", "2024-01-04T00:00:00Z"),  # between two shows, after the first: engaged
    ("p5", "tour_shown", "2024-01-05T00:00:00Z"),
    ("p6", "signed_up", "2024-01-01T00:00:00Z"),  # never shown
    ("p7", "tour_shown", "2023-12-31T00:00:00Z"),  # before signup: used by no metric
    ("p7", "signed_up", "2024-01-01T00:00:00Z"),
    ("p7", "tour_done", "2024-01-02T00:00:00Z"),  # so this engaged event has no shown: ignored
]
PROMPTS = {
    "tour": {"shown": "tour_shown", "engaged": "tour_done"},
    "tip": {"shown": "tip_shown", "engaged": "tip_clicked"},  # nobody shown
}


def test_prompt_rates_by_hand(make_facts):
    facts = make_facts(PROMPT_EVENTS, observation_end="2024-01-31", prompts=PROMPTS)
    table = E.prompt_rates(facts)
    assert list(table.columns) == E.PROMPT_COLUMNS
    assert list(table["prompt"]) == ["tour", "tip"]
    tour = table.iloc[0]
    # shown: p1, p2, p3, p5 = 4; engaged: p1, p2 (tie), p5 = 3.
    assert (tour["shown"], tour["engaged"]) == (4, 3)
    assert tour["rate"] == 0.75
    tip = table.iloc[1]
    assert (tip["shown"], tip["engaged"]) == (0, 0)
    assert math.isnan(tip["rate"]) and math.isnan(tip["ci_low"]) and math.isnan(tip["ci_high"])
    _assert_wilson(table, "engaged", "shown")


def test_prompt_rates_argument_overrides_params_and_is_checked(make_facts):
    facts = make_facts(PROMPT_EVENTS, observation_end="2024-01-31")
    assert E.prompt_rates(facts).empty  # no prompts configured
    swapped = E.prompt_rates(facts, {"rev": {"shown": "tour_done", "engaged": "tour_shown"}})
    # shown = tour_done: p1, p2, p3, p4, p5, p7 = 6; tour_shown at or after the first tour_done:
    # p2 (tie), p3 (10:00 after 09:00), p5 (01-05 after 01-04) = 3; p1's shown precedes its done.
    assert (swapped.loc[0, "shown"], swapped.loc[0, "engaged"]) == (6, 3)
    with pytest.raises(ValueError, match="shown"):
        E.prompt_rates(facts, {"bad": {"shown": "a"}})


# --- feature adoption -------------------------------------------------------------------------

# T = end of 2024-01-10 = 2024-01-11 00:00 UTC.
ADOPTION_EVENTS = [
    ("a1", "signed_up", "2024-01-01T00:00:00Z"),  # age 10
    ("a1", "dash", "2024-01-07T23:59:59Z"),  # 6.99 days: inside [0, 7)
    ("a1", "export", "2024-01-08T00:00:00Z"),  # exactly 7 days: outside [0, 7)
    ("a2", "signed_up", "2024-01-04T00:00:00Z"),  # age exactly 7: eligible
    ("a2", "dash", "2024-01-04T05:00:00Z"),
    ("a3", "signed_up", "2024-01-04T00:00:01Z"),  # age 7 days - 1 s: not eligible
    ("a3", "dash", "2024-01-04T05:00:00Z"),  # ... so this use is not counted
    ("a4", "signed_up", "2024-01-02T00:00:00Z"),  # age 9, no feature
    ("a5", "signed_up", "2024-01-01T00:00:00Z"),  # age 10
    ("a5", "export", "2024-01-03T00:00:00Z"),
    ("a5", "export", "2024-01-03T01:00:00Z"),  # twice: one user
]


def test_feature_adoption_eligibility_and_window_edge(make_facts):
    facts = make_facts(
        ADOPTION_EVENTS, observation_end="2024-01-10", feature_events=["dash", "export"], adoption_days=7
    )
    table = E.feature_adoption(facts)
    assert list(table.columns) == E.ADOPTION_COLUMNS
    assert list(table["feature"]) == ["dash", "export"]
    # Eligible (age >= 7): a1, a2, a4, a5 = 4. dash: a1, a2 = 2. export: a5 = 1 (a1's is at day 7).
    assert list(table["eligible"]) == [4, 4]
    assert list(table["adopted"]) == [2, 1]
    assert list(table["rate"]) == [0.5, 0.25]
    assert list(table["days"]) == [7, 7]
    _assert_wilson(table, "adopted", "eligible")


def test_feature_adoption_days_and_features_arguments(make_facts):
    facts = make_facts(
        ADOPTION_EVENTS, observation_end="2024-01-10", feature_events=["dash", "export"], adoption_days=7
    )
    table = E.feature_adoption(facts, ["export", "dash", "never_used"], days=8)
    # Eligible (age >= 8): a1, a4, a5 = 3. export in [0, 8): a1 (7.0 < 8), a5 = 2; dash: a1 = 1.
    assert list(table["feature"]) == ["export", "dash", "never_used"]
    assert list(table["eligible"]) == [3, 3, 3]
    assert list(table["adopted"]) == [2, 1, 0]
    _assert_wilson(table, "adopted", "eligible")
    # Nobody old enough: the rate is unknown (NaN), never 0%.
    none = E.feature_adoption(facts, ["dash"], days=11)
    assert none.loc[0, "eligible"] == 0 and math.isnan(none.loc[0, "rate"])
    with pytest.raises(ValueError, match="days must be a whole number >= 1"):
        E.feature_adoption(facts, days=0)


# --- stickiness -------------------------------------------------------------------------------

# T = end of 2024-02-15 = 2024-02-16 00:00 UTC.
STICKY_EVENTS = [
    ("s1", "signed_up", "2024-01-01T00:00:00Z"),  # age 46; signing up is not activity
    ("s1", "session", "2024-01-01T09:00:00Z"),  # day 0
    ("s1", "session", "2024-01-01T18:00:00Z"),  # day 0 again: still one day
    ("s1", "session", "2024-01-02T00:00:00Z"),  # day 1
    ("s1", "session", "2024-01-30T12:00:00Z"),  # day 29: the last day counted
    ("s1", "session", "2024-01-31T00:00:00Z"),  # day 30: outside days 0..29
    ("s2", "signed_up", "2024-01-20T00:00:00Z"),  # age 27: not eligible
    ("s2", "session", "2024-01-20T01:00:00Z"),
    ("s3", "signed_up", "2024-01-01T12:00:00Z"),  # never active: 0 days
    ("s4", "signed_up", "2024-01-17T00:00:00Z"),  # age exactly 30: eligible
    ("s4", "session", "2024-01-19T00:00:00Z"),  # day 2
    ("s5", "signed_up", "2024-01-17T00:00:01Z"),  # age 30 days - 1 s: not eligible
]


def test_stickiness_from_the_mask(make_facts):
    facts = make_facts(STICKY_EVENTS, observation_end="2024-02-15")
    table = E.stickiness(facts)
    # s1: days {0, 1, 29} = 3; s3: 0; s4: {2} = 1. Ordered like the facts (by t0).
    assert table.to_dict("list") == {"user_id": ["s1", "s3", "s4"], "active_days": [3, 0, 1]}
    assert table.attrs["days"] == 30
    # Same from the user-facts table alone.
    assert E.stickiness(facts.table).equals(table)
    # A 2-day window: s1 {0, 1} = 2, and every user with age >= 2 is in.
    short = E.stickiness(facts, days=2).set_index("user_id")["active_days"]
    assert short.to_dict() == {"s1": 2, "s3": 0, "s2": 1, "s4": 0, "s5": 0}
    with pytest.raises(ValueError, match="<= 63"):
        E.stickiness(facts, days=64)


def test_stickiness_summary_by_hand():
    table = pd.DataFrame({"user_id": ["s1", "s3", "s4"], "active_days": [3, 0, 1]})
    summary = E.stickiness_summary(table).iloc[0]
    assert summary["users"] == 3
    assert summary["mean_active_days"] == pytest.approx(4 / 3)
    assert summary["median_active_days"] == 1.0
    # >= 1: s1, s4 (2 of 3); >= 2: s1 (1 of 3); >= 7: none.
    assert summary["share_ge_1"] == pytest.approx(2 / 3)
    assert summary["share_ge_2"] == pytest.approx(1 / 3)
    assert summary["share_ge_7"] == 0.0
    empty = E.stickiness_summary(table.iloc[:0]).iloc[0]
    assert empty["users"] == 0 and math.isnan(empty["mean_active_days"]) and math.isnan(empty["share_ge_2"])


# --- DAU / MAU --------------------------------------------------------------------------------

DAU_EVENTS = [
    ("A", "signed_up", "2024-01-01T00:00:00Z"),  # first event of the data, at midnight
    ("A", "session", "2024-01-01T09:00:00Z"),
    ("A", "session", "2024-01-01T10:00:00Z"),  # same date: one daily active user
    ("A", "session", "2024-01-03T12:00:00Z"),
    ("B", "signed_up", "2024-01-02T08:00:00Z"),
    ("B", "session", "2024-01-02T09:00:00Z"),
    ("B", "session", "2024-01-06T09:00:00Z"),
    ("C", "signed_up", "2024-01-04T00:00:00Z"),
    ("C", "session", "2024-01-04T01:00:00Z"),
    ("C", "session", "2024-01-05T01:00:00Z"),
    ("C", "session", "2024-01-06T23:59:00Z"),
]


def test_dau_mau_rolling_distinct_count_by_hand(make_facts):
    # T = end of 2024-01-08: dates 01-01 .. 01-08, the last one complete.
    facts = make_facts(DAU_EVENTS, observation_end="2024-01-08")
    table = A.dau_mau(facts, window=3)
    assert list(table.columns) == A.DAU_MAU_COLUMNS
    assert list(table["date"]) == list(pd.date_range("2024-01-01", "2024-01-08"))
    # DAU: 01-01 A; 01-02 B; 01-03 A; 01-04 C; 01-05 C; 01-06 B, C; 01-07 none; 01-08 none.
    assert list(table["dau"]) == [1, 1, 1, 1, 1, 2, 0, 0]
    # MAU over the 3 dates ending each date (distinct users, NOT the sum of DAUs):
    # 01-01 {A}; 01-02 {A,B}; 01-03 {A,B} (sum of DAU 3); 01-04 {B,A,C}; 01-05 {A,C};
    # 01-06 {C,B} (sum of DAU 4); 01-07 {C,B}; 01-08 {B,C}.
    assert list(table["mau"]) == [1, 2, 2, 3, 2, 2, 2, 2]
    np.testing.assert_allclose(table["ratio"], [1, 1 / 2, 1 / 2, 1 / 3, 1 / 2, 1, 0, 0])
    # The window of 01-01 and 01-02 reaches before the first date of data.
    assert list(table["partial"]) == [True, True, False, False, False, False, False, False]


def test_dau_mau_default_window_marks_the_first_30_days_partial(make_facts):
    facts = make_facts(DAU_EVENTS, observation_end="2024-01-08")
    table = A.dau_mau(facts)  # 30-date window: none of the 8 dates has 30 dates of data behind it
    assert table["partial"].all()
    assert list(table["mau"]) == [1, 2, 2, 3, 3, 3, 3, 3]


def test_dau_mau_incomplete_first_and_last_dates(make_facts):
    # Data starting at 06:00 makes 01-01 incomplete: first complete date 01-02, so with a 3-date
    # window 01-01 .. 01-03 are partial. Without observation_end, T is the last event
    # (01-06 23:59), inside the last date: partial too.
    rows = [("A", "signed_up", "2024-01-01T06:00:00Z"), *DAU_EVENTS[1:]]
    table = A.dau_mau(make_facts(rows), window=3)
    assert list(table["date"]) == list(pd.date_range("2024-01-01", "2024-01-06"))
    assert list(table["partial"]) == [True, True, True, False, False, True]
    assert list(table["dau"]) == [1, 1, 1, 1, 1, 2]


# --- lifecycle --------------------------------------------------------------------------------

# Weeks (Mondays): W1 01-01, W2 01-08, W3 01-15, W4 01-22, W5 01-29. T = end of Sunday 02-04.
LIFECYCLE_EVENTS = [
    # U1: signs up W1, active W1, W2, W4: new W1, returning W2, dormant W3, resurrecting W4,
    # dormant W5.
    ("U1", "signed_up", "2024-01-01T00:00:00Z"),
    ("U1", "session", "2024-01-01T10:00:00Z"),
    ("U1", "session", "2024-01-07T23:59:59Z"),  # still W1 (Sunday)
    ("U1", "session", "2024-01-08T00:00:00Z"),  # W2 (Monday 00:00)
    ("U1", "session", "2024-01-24T10:00:00Z"),  # W4
    # U2: signs up W1, first active in W3: resurrecting W3 (PostHog: the signup is the earlier
    # presence), dormant W4.
    ("U2", "signed_up", "2024-01-02T00:00:00Z"),
    ("U2", "session", "2024-01-16T10:00:00Z"),
    # U3: signs up W1, first active in W2, the very next week: still resurrecting, not new and
    # not returning (PostHog's index != 1 rule), dormant W3.
    ("U3", "signed_up", "2024-01-03T00:00:00Z"),
    ("U3", "session", "2024-01-09T10:00:00Z"),
    # U4: signs up and active W2, active W3: new W2, returning W3, dormant W4.
    ("U4", "signed_up", "2024-01-09T00:00:00Z"),
    ("U4", "session", "2024-01-09T01:00:00Z"),
    ("U4", "session", "2024-01-17T01:00:00Z"),
    # U5: signs up W1, never active: in no state.
    ("U5", "signed_up", "2024-01-04T00:00:00Z"),
    # U6: signs up and active W5: new W5; its dormant week (W6) is after T, not shown.
    ("U6", "signed_up", "2024-01-30T00:00:00Z"),
    ("U6", "session", "2024-01-30T12:00:00Z"),
]


def test_lifecycle_each_state_by_hand(make_facts):
    facts = make_facts(LIFECYCLE_EVENTS, observation_end="2024-02-04")
    table = A.lifecycle(facts)
    assert list(table.columns) == A.LIFECYCLE_COLUMNS
    assert list(table["period"]) == list(pd.date_range("2024-01-01", periods=5, freq="7D"))
    assert list(table["new"]) == [1, 1, 0, 0, 1]  # U1; U4; -; -; U6
    assert list(table["returning"]) == [0, 1, 1, 0, 0]  # -; U1; U4; -; -
    assert list(table["resurrecting"]) == [0, 1, 1, 1, 0]  # -; U3; U2; U1; -
    assert list(table["dormant"]) == [0, 0, -2, -2, -1]  # -; -; U1, U3; U2, U4; U1
    assert list(table["active"]) == [1, 3, 2, 1, 1]
    # Data starts Monday 00:00 and T is the end of Sunday: every week is complete.
    assert not table["partial"].any()


def test_lifecycle_partial_last_period(make_facts):
    # Without observation_end, T is the last event (Tue 01-30 12:00): W5 is incomplete.
    table = A.lifecycle(make_facts(LIFECYCLE_EVENTS))
    assert list(table["partial"]) == [False, False, False, False, True]
    assert list(table["new"]) == [1, 1, 0, 0, 1]


@pytest.mark.filterwarnings("ignore:.*observation_end_check is warn:onboarding_analysis.errors.DataWarning")
def test_lifecycle_monthly_and_daily(make_facts):
    rows = [
        ("M", "signed_up", "2024-01-15T00:00:00Z"),
        ("M", "session", "2024-01-20T00:00:00Z"),  # January: new
        ("M", "session", "2024-03-02T00:00:00Z"),  # February: dormant; March: resurrecting
    ]
    monthly = A.lifecycle(
        make_facts(rows, observation_end="2024-04-30", observation_end_check="warn"), period="month"
    )
    assert list(monthly["period"]) == list(
        pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"])
    )
    assert list(monthly["new"]) == [1, 0, 0, 0]
    assert list(monthly["resurrecting"]) == [0, 0, 1, 0]
    assert list(monthly["dormant"]) == [0, -1, 0, -1]
    assert list(monthly["partial"]) == [True, False, False, False]  # data starts on 01-15
    daily = A.lifecycle(make_facts(rows[:2], observation_end="2024-01-21"), period="day")
    # Signed up 01-15, first active 01-20: resurrecting on 01-20, dormant on 01-21.
    assert len(daily) == 7 and daily["new"].sum() == 0
    assert list(daily["resurrecting"].iloc[-2:]) == [1, 0] and list(daily["dormant"].iloc[-2:]) == [0, -1]
    with pytest.raises(ValueError, match="period must be one of"):
        A.lifecycle(make_facts(rows), period="quarter")


# --- metrics ----------------------------------------------------------------------------------


def test_engagement_metrics_are_json_safe(make_facts):
    facts = make_facts(
        PROMPT_EVENTS, observation_end="2024-01-31", prompts=PROMPTS, feature_events=["tour_done"]
    )
    metrics = E.engagement_metrics(E.prompt_rates(facts), E.feature_adoption(facts, days=60))
    json.dumps(metrics, allow_nan=False)
    assert metrics["prompts"]["tour"] == {"shown": 4, "engaged": 3, "rate": 0.75}
    assert metrics["prompts"]["tip"] == {"shown": 0, "engaged": 0, "rate": None}
    # Nobody is 60 days old: eligible 0 and every figure None.
    assert metrics["adoption"]["tour_done"] == {"rate": None, "ci_low": None, "ci_high": None, "eligible": 0}
    values = [v for group in metrics.values() for entry in group.values() for v in entry.values()]
    assert all(v is None or type(v) in (int, float) for v in values)
    assert E.engagement_metrics(None, None) == {"prompts": {}, "adoption": {}}


# --- plots ------------------------------------------------------------------------------------


@contextlib.contextmanager
def no_warnings_and_same_style():
    """Fail if the block emits any warning or changes matplotlib's global settings.

    Tables are built before entering: the engine (DuckDB via ibis) may emit its own
    deprecation notices, which are not the plots' business.
    """
    before = dict(matplotlib.rcParams)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert [str(w.message) for w in caught] == []
    assert dict(matplotlib.rcParams) == before


def test_plot_feature_adoption(make_facts):
    facts = make_facts(
        ADOPTION_EVENTS, observation_end="2024-01-10", feature_events=["dash", "export"], adoption_days=7
    )
    table, nobody = E.feature_adoption(facts), E.feature_adoption(facts, days=11)
    with no_warnings_and_same_style():
        ax = P.plot_feature_adoption(table)
        assert isinstance(ax, Axes)
        assert [round(p.get_width()) for p in ax.patches] == [50, 25]
        # No eligible user: nothing to draw, still no warning.
        _, given = plt.subplots()
        assert P.plot_feature_adoption(nobody, ax=given) is given


def test_plot_stickiness(make_facts):
    table = E.stickiness(make_facts(STICKY_EVENTS, observation_end="2024-02-15"))
    with no_warnings_and_same_style():
        ax = P.plot_stickiness(table)
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 31  # 0 .. 30 active days
    assert heights[0] == pytest.approx(100 / 3) and heights[1] == pytest.approx(100 / 3)
    assert heights[3] == pytest.approx(100 / 3)


def test_plot_dau_mau_marks_partial_dates(make_facts):
    facts = make_facts(DAU_EVENTS, observation_end="2024-01-08")
    table, all_partial = A.dau_mau(facts, window=3), A.dau_mau(facts)
    with no_warnings_and_same_style():
        ax = P.plot_dau_mau(table)
        assert isinstance(P.plot_dau_mau(all_partial), Axes)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0] == "DAU/MAU" and labels[1].startswith("partial")
    assert len(ax.patches) == 1  # the shaded partial span


def test_plot_lifecycle_dormant_below_zero(make_facts):
    table = A.lifecycle(make_facts(LIFECYCLE_EVENTS))
    with no_warnings_and_same_style():
        ax = P.plot_lifecycle(table)
    assert isinstance(ax, Axes)
    assert len(ax.patches) == 4 * len(table)
    dormant = [p.get_height() for p in ax.patches[-len(table) :]]
    assert dormant == [0, 0, -2, -2, -1]
    assert ax.patches[-1].get_hatch() == "//"  # the partial last week


def test_plots_reject_other_tables():
    with pytest.raises(ValueError, match="feature_adoption"):
        P.plot_feature_adoption(pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="lifecycle"):
        P.plot_lifecycle(pd.DataFrame({"x": [1]}))
