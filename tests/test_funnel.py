"""Onboarding funnel: hand-computed step times, conversions, quantiles and incidence.

Every expected number below is worked out by hand in the comment next to it. Times are written
as hours after the user's signup; a day is 24 h, so ``h / 24`` is the step time in days.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from onboarding_analysis.analyses.funnel import (  # noqa: E402
    ALL_STEPS,
    ONBOARDING_TIME_COLUMNS,
    checklist_completion,
    compute_funnel,
    funnel_metrics,
    onboarding_time,
)
from onboarding_analysis.analyses.funnel_plots import plot_funnel, plot_step_times  # noqa: E402
from onboarding_analysis.analyses.funnel_steps import INCIDENCE_COLUMNS, STEP_COLUMNS, FunnelResult  # noqa: E402
from onboarding_analysis.analyses.funnel_times import step_times  # noqa: E402
from onboarding_analysis.analyses.incidence import aalen_johansen, cif_before  # noqa: E402
from onboarding_analysis.data.pipeline import compute_facts  # noqa: E402
from onboarding_analysis.errors import DataError, ParamsError  # noqa: E402
from onboarding_analysis.params import validate_params  # noqa: E402
from onboarding_analysis.stats.intervals import wilson_interval  # noqa: E402

START = pd.Timestamp("2024-01-01")
# observation_end 2024-01-30 means T = 2024-01-31 00:00: a user signing up at START is 30 days old.
END = "2024-01-30"
T = pd.Timestamp("2024-01-31")
H = 1 / 24  # one hour, in days
NAN = math.nan


def ev(user: str, event: str, hours: float, signup: pd.Timestamp = START) -> dict:
    """One event row ``hours`` after ``signup``, as UTC text."""
    ts = signup + pd.Timedelta(hours=hours)
    return {"user_id": user, "event": event, "timestamp": ts.isoformat() + "Z"}


@pytest.fixture
def facts_of(write_csv):
    """Build facts from event rows and params overrides."""

    def build(rows: list[dict], **params):
        path = write_csv(rows)
        raw = {"events": path, "observation_end": END, "retention_days": [1]} | params
        return compute_facts(validate_params(raw))

    return build


def times_by_user(frame: pd.DataFrame) -> dict[str, list[float]]:
    cols = [c for c in frame.columns if c.startswith("step_")]
    return {row["user_id"]: [row[c] for c in cols] for row in frame.to_dict("records")}


def assert_times(actual: dict[str, list[float]], expected: dict[str, list[float]]) -> None:
    assert sorted(actual) == sorted(expected)
    for user, want in expected.items():
        np.testing.assert_allclose(actual[user], want, rtol=0, atol=1e-9, err_msg=user)


# --- step times ----------------------------------------------------------------------------------

STEPS3 = ["signed_up", "profile", "connect"]
ORDER_ROWS = [
    # a: in order at 0, 2 h, 5 h.
    ev("a", "signed_up", 0), ev("a", "profile", 2), ev("a", "connect", 5),
    # b: connect (step 2) at 1 h BEFORE profile (step 1) at 3 h.
    ev("b", "signed_up", 0), ev("b", "connect", 1), ev("b", "profile", 3),
    # c: repeats: profile again at 4 h after connect at 2 h, and connect again at 6 h.
    ev("c", "signed_up", 0), ev("c", "profile", 1), ev("c", "connect", 2),
    ev("c", "profile", 4), ev("c", "connect", 6),
    # d: profile and connect at the same instant, 10 h.
    ev("d", "signed_up", 0), ev("d", "connect", 10), ev("d", "profile", 10),
    # e: signup only; a non-funnel event.
    ev("e", "signed_up", 0), ev("e", "session_start", 1),
]  # fmt: skip


def test_ordered_order_repeats_and_ties(facts_of):
    facts = facts_of(ORDER_ROWS)
    times = step_times(facts, STEPS3, mode="ordered", window_days=7)
    assert list(times.columns) == ["user_id", "step_0_days", "step_1_days", "step_2_days"]
    assert list(times["user_id"]) == list(facts.table["user_id"])  # one row per user, same order
    assert_times(
        times_by_user(times),
        {
            "a": [0, 2 * H, 5 * H],
            # b: profile at 3 h; the only connect (1 h) is before it, so step 2 is not reached.
            "b": [0, 3 * H, NAN],
            # c: first occurrences count (profile 1 h, connect 2 h); the repeats change nothing.
            "c": [0, 1 * H, 2 * H],
            # d: same instant counts as in order: both steps at 10 h.
            "d": [0, 10 * H, 10 * H],
            "e": [0, NAN, NAN],
        },
    )


def test_any_order_counts_a_later_step_done_first(facts_of):
    facts = facts_of(ORDER_ROWS)
    times = step_times(facts, STEPS3, mode="any_order", window_days=7)
    assert_times(
        times_by_user(times),
        {
            "a": [0, 2 * H, 5 * H],
            # b: first times 0, 3 h (profile), 1 h (connect): step 1 at max(0, 3) = 3 h,
            # step 2 at max(0, 3, 1) = 3 h.
            "b": [0, 3 * H, 3 * H],
            "c": [0, 1 * H, 2 * H],
            "d": [0, 10 * H, 10 * H],
            "e": [0, NAN, NAN],
        },
    )


def test_any_order_needs_every_earlier_step(facts_of):
    # x did connect but never profile: step 2 needs steps 0..2, so it is not reached.
    rows = [ev("x", "signed_up", 0), ev("x", "connect", 1)]
    times = step_times(facts_of(rows), STEPS3, mode="any_order", window_days=7)
    assert_times(times_by_user(times), {"x": [0, NAN, NAN]})


def test_simultaneous_step_and_signup(facts_of):
    # profile logged at the signup instant: step 1 at 0 days (ties count as in order).
    rows = [ev("s", "profile", 0), ev("s", "signed_up", 0), ev("s", "connect", 0.5)]
    for mode in ("ordered", "strict", "any_order"):
        times = step_times(facts_of(rows), STEPS3, mode=mode, window_days=7)
        assert_times(times_by_user(times), {"s": [0, 0, 0.5 * H]})


def test_window_edges(facts_of):
    rows = [
        # in: profile 1 s before 7 days -> 7 - 1/86400 days.
        ev("in", "signed_up", 0), ev("in", "profile", 7 * 24 - 1 / 3600),
        # out: profile at exactly 7 days: a duration of 7 is not "within 7 days".
        ev("out", "signed_up", 0), ev("out", "profile", 7 * 24),
        # late: connect at exactly 7 days after a profile in the window: step 2 not reached.
        ev("late", "signed_up", 0), ev("late", "profile", 1), ev("late", "connect", 7 * 24),
    ]  # fmt: skip
    facts = facts_of(rows)
    for mode in ("ordered", "strict", "any_order"):
        times = step_times(facts, STEPS3, mode=mode, window_days=7)
        assert_times(
            times_by_user(times),
            {"in": [0, 7 - 1 / 86400, NAN], "out": [0, NAN, NAN], "late": [0, 1 * H, NAN]},
        )
    # A fractional window: 0.5 days = 12 h. late's profile at 1 h is in, out's profile is not.
    times = step_times(facts, STEPS3, mode="ordered", window_days=0.5)
    assert_times(times_by_user(times), {"in": [0, NAN, NAN], "out": [0, NAN, NAN], "late": [0, H, NAN]})


STEPS4 = ["signed_up", "profile", "connect", "report"]
STRICT_ROWS = [
    # s1: report (step 3) at 2 h falls strictly between profile (1 h) and connect (3 h).
    ev("s1", "signed_up", 0), ev("s1", "profile", 1), ev("s1", "report", 2),
    ev("s1", "connect", 3), ev("s1", "report", 4),
    # s2: a repeat of step j-1 (profile at 2 h) between profile and connect does not interrupt.
    ev("s2", "signed_up", 0), ev("s2", "profile", 1), ev("s2", "profile", 2),
    ev("s2", "connect", 3), ev("s2", "report", 4),
    # s3: a repeat of an EARLIER step (profile, step 1) between connect (2 h) and report (4 h).
    ev("s3", "signed_up", 0), ev("s3", "profile", 1), ev("s3", "connect", 2),
    ev("s3", "profile", 3), ev("s3", "report", 4),
    # s4: report at exactly the profile instant (1 h) is not strictly between 1 h and 2 h.
    ev("s4", "signed_up", 0), ev("s4", "profile", 1), ev("s4", "report", 1),
    ev("s4", "connect", 2), ev("s4", "report", 3),
    # s5: a non-funnel event between steps never interrupts.
    ev("s5", "signed_up", 0), ev("s5", "profile", 1), ev("s5", "session_start", 1.5),
    ev("s5", "connect", 2),
]  # fmt: skip


def test_strict_interruptions(facts_of):
    facts = facts_of(STRICT_ROWS)
    strict = times_by_user(step_times(facts, STEPS4, mode="strict", window_days=7))
    assert_times(
        strict,
        {
            "s1": [0, 1 * H, NAN, NAN],  # stops at step 1 (profile)
            "s2": [0, 1 * H, 3 * H, 4 * H],
            "s3": [0, 1 * H, 2 * H, NAN],  # stops at step 2 (connect)
            # s4: step 3 is the first report at or after connect (2 h): 3 h, nothing in (2 h, 3 h).
            "s4": [0, 1 * H, 2 * H, 3 * H],
            "s5": [0, 1 * H, 2 * H, NAN],
        },
    )
    ordered = times_by_user(step_times(facts, STEPS4, mode="ordered", window_days=7))
    assert_times(
        ordered,
        {
            "s1": [0, 1 * H, 3 * H, 4 * H],  # ordered ignores the interruption
            "s2": [0, 1 * H, 3 * H, 4 * H],
            "s3": [0, 1 * H, 2 * H, 4 * H],
            "s4": [0, 1 * H, 2 * H, 3 * H],
            "s5": [0, 1 * H, 2 * H, NAN],
        },
    )


def test_strict_anchor_is_the_first_time_the_previous_step_was_reached(facts_of):
    # profile at 1 h, report (step 3) at 2 h, profile again at 3 h, connect at 4 h: the anchor
    # stays at 1 h, so the report at 2 h interrupts step 2 although the repeat came after it.
    rows = [
        ev("r", "signed_up", 0), ev("r", "profile", 1), ev("r", "report", 2),
        ev("r", "profile", 3), ev("r", "connect", 4),
    ]  # fmt: skip
    times = step_times(facts_of(rows), STEPS4, mode="strict", window_days=7)
    assert_times(times_by_user(times), {"r": [0, 1 * H, NAN, NAN]})


def test_several_accepted_names(facts_of):
    steps = ["signed_up", ["connected_csv", "connected_db"], "created_report"]
    rows = [
        # m1: the second name alone reaches step 1 (2 h); report 3 h.
        ev("m1", "signed_up", 0), ev("m1", "connected_db", 2), ev("m1", "created_report", 3),
        # m2: the first of either name counts: csv at 1 h (db at 2 h); report 5 h.
        ev("m2", "signed_up", 0), ev("m2", "connected_csv", 1), ev("m2", "connected_db", 2),
        ev("m2", "created_report", 5),
        # m3: report (1 h) before any connection (csv 2 h): not reached in ordered mode.
        ev("m3", "signed_up", 0), ev("m3", "created_report", 1), ev("m3", "connected_csv", 2),
    ]  # fmt: skip
    facts = facts_of(rows)
    times = step_times(facts, steps, mode="ordered", window_days=7)
    assert_times(
        times_by_user(times),
        {"m1": [0, 2 * H, 3 * H], "m2": [0, 1 * H, 5 * H], "m3": [0, 2 * H, NAN]},
    )
    result = compute_funnel(facts, steps, mode="ordered", window_days=7)
    assert list(result.steps["step"]) == ["signed_up", "connected_csv | connected_db", "created_report"]
    assert list(result.steps["users"]) == [3, 3, 2]


def test_users_without_funnel_events_get_a_row(facts_of):
    # y has no event of any step (only session_start) but is a user (t0 = first event).
    rows = [ev("x", "signed_up", 0), ev("y", "session_start", 0)]
    times = step_times(facts_of(rows, signup_event=None), STEPS3, mode="strict", window_days=7)
    assert_times(times_by_user(times), {"x": [0, NAN, NAN], "y": [NAN, NAN, NAN]})


def test_defaults_come_from_params(facts_of):
    facts = facts_of(STRICT_ROWS, onboarding_steps=STEPS4, funnel_mode="strict", conversion_window_days=7)
    explicit = step_times(facts, STEPS4, mode="strict", window_days=7)
    pd.testing.assert_frame_equal(step_times(facts), explicit)
    result = compute_funnel(facts)
    assert result.mode == "strict" and result.window_days == 7
    # strict: users reaching step 2 are s2, s3, s4, s5 (s1 stopped): 4 of 5.
    assert list(result.steps["users"]) == [5, 5, 4, 2]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": []}, "onboarding_steps"),
        ({"steps": ["signed_up", 3]}, "onboarding_steps"),
        ({"mode": "exact"}, "funnel_mode"),
        ({"window_days": 0}, "conversion_window_days"),
        ({"window_days": True}, "conversion_window_days"),
    ],
)
def test_bad_options(facts_of, kwargs, match):
    facts = facts_of(ORDER_ROWS, onboarding_steps=STEPS3)
    with pytest.raises(ParamsError, match=match):
        step_times(facts, **kwargs)


def test_no_steps_configured(facts_of):
    with pytest.raises(ParamsError, match="set params onboarding_steps"):
        compute_funnel(facts_of(ORDER_ROWS))


def test_needs_facts_with_events(facts_of):
    with pytest.raises(TypeError, match="compute_facts"):
        step_times(pd.DataFrame({"user_id": ["a"]}), STEPS3)
    facts = facts_of(ORDER_ROWS)
    with pytest.raises(DataError, match="no events table"):
        step_times(replace(facts, events=None), STEPS3)


# --- the funnel table --------------------------------------------------------------------------

YOUNG = T - pd.Timedelta(days=2)  # signs up 2 days before T: age 2 < window 7
FUNNEL_ROWS = [
    ev("u1", "signed_up", 0), ev("u1", "profile", 1), ev("u1", "report", 5),
    ev("u2", "signed_up", 0), ev("u2", "profile", 2), ev("u2", "report", 4),
    ev("u3", "signed_up", 0), ev("u3", "profile", 4), ev("u3", "report", 12),
    ev("u4", "signed_up", 0), ev("u4", "profile", 10),
    ev("u5", "signed_up", 0),
    # u6 is not eligible yet (age 2 < 7): in no conversion figure, whatever it did.
    ev("u6", "signed_up", 0, YOUNG), ev("u6", "profile", 1, YOUNG), ev("u6", "report", 2, YOUNG),
]  # fmt: skip
STEPS_F = ["signed_up", "profile", "report"]


@pytest.fixture
def result(facts_of) -> FunnelResult:
    # inactivity_days 60 > every age: nobody has churned, everyone is censored.
    facts = facts_of(FUNNEL_ROWS, inactivity_days=60)
    return compute_funnel(facts, STEPS_F, mode="ordered", window_days=7)


def test_funnel_counts_and_rates(result):
    assert result.eligible == 5 and result.users == 6  # u6 leaves the denominator
    s = result.steps
    assert list(s.columns) == STEP_COLUMNS
    assert list(s["step"]) == STEPS_F
    assert list(s["users"]) == [5, 4, 3]  # profile: u1-u4; report: u1-u3
    np.testing.assert_allclose(s["from_start"], [5 / 5, 4 / 5, 3 / 5])
    # from previous: 5/5 (step 0 over the eligible users), 4/5, 3/4
    np.testing.assert_allclose(s["from_previous"], [1.0, 0.8, 0.75])
    assert list(s["drop_off"]) == [0, 1, 1]
    # Wilson intervals are the package's wilson_interval on the same counts.
    for col, k, n in (("from_start", [5, 4, 3], [5, 5, 5]), ("from_previous", [5, 4, 3], [5, 5, 4])):
        low, high = wilson_interval(k, n)
        np.testing.assert_allclose(s[f"{col}_ci_low"], low)
        np.testing.assert_allclose(s[f"{col}_ci_high"], high)


def test_time_between_steps_quantiles(result):
    s = result.steps.set_index("step")
    # step 0 from signup: all 0 h.
    assert s.loc["signed_up", ["median_hours_from_previous", "p25_hours", "p75_hours", "p90_hours"]].tolist() == [
        0.0, 0.0, 0.0, 0.0,
    ]  # fmt: skip
    # profile - signup, eligible: [1, 2, 4, 10] h (linear interpolation at (n-1)q = 3q):
    # median 1.5 -> 3; p25 0.75 -> 1 + 0.75 = 1.75; p75 2.25 -> 4 + 0.25*6 = 5.5;
    # p90 2.7 -> 4 + 0.7*6 = 8.2.
    got = s.loc["profile", ["median_hours_from_previous", "p25_hours", "p75_hours", "p90_hours"]]
    np.testing.assert_allclose(got.to_numpy(dtype=float), [3.0, 1.75, 5.5, 8.2])
    # report - profile among u1-u3: [4, 2, 8] -> sorted [2, 4, 8], (n-1)q = 2q:
    # median 1 -> 4; p25 0.5 -> 3; p75 1.5 -> 6; p90 1.8 -> 4 + 0.8*4 = 7.2.
    got = s.loc["report", ["median_hours_from_previous", "p25_hours", "p75_hours", "p90_hours"]]
    np.testing.assert_allclose(got.to_numpy(dtype=float), [4.0, 3.0, 6.0, 7.2])


def test_times_frame_flags_eligibility(result):
    t = result.times.set_index("user_id")
    assert t["eligible"].to_dict() == {
        "u1": True,
        "u2": True,
        "u3": True,
        "u4": True,
        "u5": True,
        "u6": False,
    }
    # u6's own times are still there: 0, 1 h, 2 h.
    np.testing.assert_allclose(
        t.loc["u6", ["step_0_days", "step_1_days", "step_2_days"]].to_numpy(float), [0, H, 2 * H]
    )


def test_eligibility_edge(facts_of):
    # T - 7 days exactly: age 7 >= 7, eligible. One second later: age 7 - 1/86400, not eligible.
    rows = [
        ev("edge", "signed_up", 0, T - pd.Timedelta(days=7)),
        ev("young", "signed_up", 0, T - pd.Timedelta(days=7) + pd.Timedelta(seconds=1)),
    ]
    result = compute_funnel(facts_of(rows), ["signed_up"], window_days=7)
    assert result.eligible == 1
    assert result.steps["users"].tolist() == [1]


def test_no_eligible_user(facts_of):
    rows = [ev("young", "signed_up", 0, YOUNG), ev("young", "profile", 1, YOUNG)]
    result = compute_funnel(facts_of(rows), STEPS_F, window_days=7)
    assert result.eligible == 0
    assert result.steps["users"].tolist() == [0, 0, 0]
    assert result.steps["from_start"].isna().all() and result.steps["from_previous"].isna().all()
    assert result.steps["median_hours_from_previous"].isna().all()
    assert math.isnan(checklist_completion(result)[0])


# --- engagement ------------------------------------------------------------------------------------


def test_checklist_completion(result):
    rate, low, high = checklist_completion(result)
    assert rate == pytest.approx(3 / 5)  # u1-u3 of the 5 eligible users reached "report"
    assert (low, high) == pytest.approx(wilson_interval(3, 5))


def test_onboarding_time(result):
    table = onboarding_time(result)
    assert list(table.columns) == ONBOARDING_TIME_COLUMNS
    assert list(table["last_step"]) == [*STEPS_F, ALL_STEPS]
    # Last step reached, eligible users: u5 signed_up at 0 h; u4 profile at 10 h;
    # u1 report 5 h, u2 report 4 h, u3 report 12 h.
    assert list(table["users"]) == [1, 1, 3, 5]
    got = table.set_index("last_step")[["median_hours", "p25_hours", "p75_hours", "p90_hours"]]
    np.testing.assert_allclose(got.loc["signed_up"], [0, 0, 0, 0])
    np.testing.assert_allclose(got.loc["profile"], [10, 10, 10, 10])
    # [4, 5, 12], (n-1)q = 2q: median 5; p25 0.5 -> 4.5; p75 1.5 -> 5 + 0.5*7 = 8.5;
    # p90 1.8 -> 5 + 0.8*7 = 10.6.
    np.testing.assert_allclose(got.loc["report"], [5, 4.5, 8.5, 10.6])
    # all: [0, 4, 5, 10, 12], (n-1)q = 4q: median 2 -> 5; p25 1 -> 4; p75 3 -> 10;
    # p90 3.6 -> 10 + 0.6*2 = 11.2.
    np.testing.assert_allclose(got.loc[ALL_STEPS], [5, 4, 10, 11.2])


# --- censoring-aware incidence --------------------------------------------------------------------


def test_incidence_without_competing_events(result):
    inc = result.incidence
    assert list(inc.columns) == INCIDENCE_COLUMNS
    # Nobody churned. All 6 users, u6 included. Step 0: all six at 0 -> CIF 1.
    # Step 1 (profile): events at 1 h (u1, u6), 2 h, 4 h, 10 h; u5 censored at 7 days, after
    # every event: 5 of 6 -> 5/6.
    # Step 2 (report): u6 2 h, u2 4 h, u1 5 h, u3 12 h; u4 and u5 censored at 7 days -> 4/6.
    np.testing.assert_allclose(inc["cif"], [1.0, 5 / 6, 4 / 6])
    assert list(inc["reached"]) == [6, 5, 4]
    assert list(inc["churned_first"]) == [0, 0, 0]
    assert list(inc["censored"]) == [0, 1, 2]


def test_incidence_with_churn_and_young_users(facts_of):
    young = T - pd.Timedelta(days=1.5)
    rows = [
        ev("p1", "signed_up", 0), ev("p1", "report", 24),  # report at day 1
        ev("p2", "signed_up", 0), ev("p2", "cancelled", 48),  # churned at day 2, no report
        ev("p3", "signed_up", 0, T - pd.Timedelta(days=3)),  # age 3, nothing: censored at 3
        ev("p4", "signed_up", 0), ev("p4", "report", 96),  # report at day 4
        ev("p5", "signed_up", 0), ev("p5", "cancelled", 8 * 24),  # churns at day 8 >= window
        ev("p6", "signed_up", 0, young), ev("p6", "report", 12, young),  # age 1.5, report at 0.5
    ]  # fmt: skip
    facts = facts_of(rows, churn_event="cancelled")
    result = compute_funnel(facts, ["signed_up", "report"], mode="ordered", window_days=7)
    inc = result.incidence.set_index("step")
    # Durations (days, event): p6 (0.5, reached), p1 (1, reached), p2 (2, churned), p3 (3, censored),
    # p4 (4, reached), p5 (7, censored: its churn at 8 is after the window).
    # Aalen-Johansen: t=0.5: n=6 -> CIF 1/6, S = 5/6.  t=1: n=5 -> CIF += 5/6 * 1/5 = 1/6 -> 1/3,
    # S = 4/6.  t=2: n=4, churn -> S = 4/6 * 3/4 = 1/2.  t=3: censored.  t=4: n=2 -> CIF += 1/2 * 1/2
    # -> 1/3 + 1/4 = 7/12. Just before day 7: 7/12 (the naive eligible share is 2/4 = 1/2).
    assert inc.loc["report", "cif"] == pytest.approx(7 / 12)
    assert inc.loc["report", ["reached", "churned_first", "censored"]].tolist() == [3, 1, 2]
    curve = aalen_johansen([0.5, 1, 2, 3, 4, 7], [1, 1, 2, 0, 1, 0])
    assert tuple(inc.loc["report", ["cif", "ci_low", "ci_high"]]) == pytest.approx(cif_before(curve, 7))
    assert inc.loc["signed_up", "cif"] == pytest.approx(1.0)  # everyone at duration 0
    assert result.steps.set_index("step").loc["report", "from_start"] == pytest.approx(2 / 4)


# --- metrics and plots ------------------------------------------------------------------------


def test_metrics_are_json_safe(result, facts_of):
    metrics = funnel_metrics(result)
    text = json.dumps(metrics, allow_nan=False)  # no NaN, only plain types
    assert json.loads(text) == metrics
    f = metrics["funnel"]
    assert f["eligible"] == 5 and f["mode"] == "ordered" and f["window_days"] == 7
    assert [s["step"] for s in f["steps"]] == STEPS_F
    assert [s["users"] for s in f["steps"]] == [5, 4, 3]
    assert f["steps"][2]["from_previous"] == pytest.approx(0.75)
    assert f["steps"][2]["median_hours_from_previous"] == pytest.approx(4.0)
    assert f["steps"][2]["from_previous_ci_low"] == pytest.approx(wilson_interval(3, 4)[0])
    assert set(f["steps"][0]) == {
        "step", "users", "from_start", "from_previous", "from_previous_ci_low",
        "from_previous_ci_high", "median_hours_from_previous",
        "mean_seconds_from_previous", "median_seconds_from_previous",
    }  # fmt: skip
    assert f["semantics"] == "onboarding"
    # Seconds from the previous step (onboarding rules: zeros kept, step 0 from signup):
    # signed_up 0 s; profile [1, 2, 4, 10] h -> mean 4.25 h = 15,300 s, median 3 h = 10,800 s;
    # report [4, 2, 8] h -> mean 14/3 h = 16,800 s, median 4 h = 14,400 s.
    means = [s["mean_seconds_from_previous"] for s in f["steps"]]
    medians = [s["median_seconds_from_previous"] for s in f["steps"]]
    assert means == pytest.approx([0, 15_300, 16_800]) and medians == pytest.approx([0, 10_800, 14_400])
    for step in f["steps"]:
        assert type(step["users"]) is int and type(step["from_start"]) is float

    empty = compute_funnel(facts_of([ev("young", "signed_up", 0, YOUNG)]), STEPS_F, window_days=7)
    steps = funnel_metrics(empty)["funnel"]["steps"]
    assert steps[0]["from_start"] is None and steps[2]["median_hours_from_previous"] is None
    json.dumps(funnel_metrics(empty), allow_nan=False)


def test_plots(result):
    ax = plot_funnel(result)
    assert len(ax.patches) == 3
    assert [t.get_text() for t in ax.get_xticklabels()] == STEPS_F
    assert [t.get_text() for t in ax.texts] == ["5", "4", "3"]
    assert ax.get_ylabel() == "% of eligible signups"
    ax = plot_step_times(result)
    assert ax.get_xscale() == "symlog"
    assert "hours from the previous step" in ax.get_xlabel()
    fig, axes = plt.subplots(1, 2)
    assert plot_funnel(result, ax=axes[0]) is axes[0]
    assert plot_step_times(result, ax=axes[1]) is axes[1]
    plt.close("all")


def test_plots_without_eligible_users(facts_of):
    empty = compute_funnel(facts_of([ev("young", "signed_up", 0, YOUNG)]), STEPS_F, window_days=7)
    assert len(plot_funnel(empty).patches) == 0
    assert plot_step_times(empty).texts[0].get_text() == "no eligible converters yet"
    plt.close("all")


def test_plot_funnel_at_100_percent(facts_of):
    # 7 of 7: the Wilson upper bound computes a few ulps below 1, which must not make a
    # negative error bar.
    rows = [ev(f"w{i}", "signed_up", 0) for i in range(7)]
    result = compute_funnel(facts_of(rows), ["signed_up"], window_days=7)
    assert result.steps["from_start"].tolist() == [1.0]
    assert len(plot_funnel(result).patches) == 1
    plt.close("all")


def test_step_after_churn_is_churned_first_in_the_incidence(facts_of):
    rows = [
        ev("q1", "signed_up", 0), ev("q1", "cancelled", 24), ev("q1", "report", 48),
        ev("q2", "signed_up", 0), ev("q2", "report", 72),
    ]  # fmt: skip
    result = compute_funnel(facts_of(rows, churn_event="cancelled"), ["signed_up", "report"], window_days=7)
    # Conversion counts both (2 of 2 eligible). Incidence: q1 churned at day 1 before its report
    # (day 2): competing at 1; q2 reached at 3. t=1: n=2, churn -> S = 1/2; t=3: n=1 -> CIF 1/2.
    assert result.steps["from_start"].tolist() == [1.0, 1.0]
    inc = result.incidence.set_index("step").loc["report"]
    assert inc["cif"] == pytest.approx(0.5)
    assert [inc["reached"], inc["churned_first"], inc["censored"]] == [1, 1, 0]
