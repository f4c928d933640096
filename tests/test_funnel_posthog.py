"""PostHog funnel rules (``funnel_semantics: posthog``): one test per rule, hand-computed.

Each expectation is worked out by hand from the rule quoted from PostHog's source (docs/funnels.md;
``funnel-udf/src/steps.rs``, ``funnel-udf/src/unordered_steps.rs``,
``posthog/hogql_queries/insights/funnels/funnel_udf.py``). The last tests compare the engine with
a direct Python transcription of PostHog's matcher (``_posthog_matcher`` below, written from
``steps.rs`` / ``unordered_steps.rs`` line by line, not from the package) on random logs.
Times are seconds after 2024-01-01 00:00 UTC; observation ends 2024-01-31 00:00 (30 days later).
"""

from __future__ import annotations

import itertools
import json
import math
from collections import deque

import numpy as np
import pandas as pd
import pytest

from onboarding_analysis.analyses.funnel import compute_funnel, funnel_metrics
from onboarding_analysis.analyses.funnel_steps import step_column
from onboarding_analysis.data.pipeline import compute_facts
from onboarding_analysis.params import validate_params

START = pd.Timestamp("2024-01-01")
END = "2024-01-30"  # T = 2024-01-31 00:00
DAY = 86_400


def ev(user: str, event: str, seconds: float) -> dict:
    ts = START + pd.Timedelta(seconds=seconds)
    return {"user_id": user, "event": event, "timestamp": ts.isoformat() + "Z"}


@pytest.fixture
def facts_of(write_csv):
    def build(rows, **params):
        raw = {"events": write_csv(rows), "observation_end": END, "retention_days": [1], "signup_event": None}
        return compute_facts(validate_params(raw | params))

    return build


def by_user(result) -> dict[str, list[float]]:
    """Per user, the chain's step times in seconds after START (signup = first event = START)."""
    cols = [step_column(j) for j in range(len(result.labels))]
    return {r["user_id"]: [r[c] * DAY for c in cols] for r in result.times.to_dict("records")}


def depth(times: list[float]) -> int:
    return int(sum(not math.isnan(t) for t in times))


def users(result) -> list[int]:
    return result.steps["users"].tolist()


# --- the window -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "seconds"),
    [("5 minutes", 300), ("30 seconds", 30), ("2 hours", 7_200), ("1 week", 7 * DAY), ("1 month", 31 * DAY)],
)
def test_window_counts_from_step_one_and_its_end_is_inclusive(facts_of, window, seconds):
    """``event.timestamp - previous_timestamp <= conversion_window_limit`` (steps.rs): a step at
    exactly the window's length converts, one second later does not. A week is 7 x 86,400 s,
    a month 31 x 86,400 s (DATERANGE_MAP)."""
    rows = [ev("edge", "S", 0), ev("edge", "A", 10), ev("edge", "B", 10 + seconds)]
    rows += [ev("late", "S", 0), ev("late", "A", 10), ev("late", "B", 10 + seconds + 1)]
    # The month's window must be over by T, 60 days after the last event: inactivity_days is
    # raised so that this T is not a stale observation end (no figure here reads churn).
    long = seconds > 20 * DAY
    end, inactive = ("2024-03-31", 90) if long else (END, 30)
    facts = facts_of(rows, observation_end=end, conversion_window=window, inactivity_days=inactive)
    result = compute_funnel(facts, ["A", "B"], semantics="posthog", window_days=facts.params.conversion_window_days)
    assert users(result) == [2, 1]  # both did step 1; only "edge" is within the window
    times = by_user(result)
    assert times["edge"] == pytest.approx([10, 10 + seconds])  # timed from A (10 s), not from signup
    assert math.isnan(times["late"][1])
    assert result.steps["mean_seconds_from_previous"].iloc[1] == pytest.approx(seconds)


def test_window_in_params_units_and_onboarding_window_is_from_signup(facts_of):
    """The same log under both rules, window "5 minutes" from params: the onboarding rules count
    from signup (the first event, S at 0) and exclude the end (duration < window), PostHog's
    count from A and include it."""
    rows = [ev("u", "S", 0), ev("u", "A", 100), ev("u", "B", 400)]  # B is 300 s after A, 400 s after S
    onboarding = compute_funnel(facts_of(rows, conversion_window="5 minutes"), ["A", "B"])
    posthog = compute_funnel(facts_of(rows, conversion_window="5 minutes", funnel_semantics="posthog"), ["A", "B"])
    assert (users(onboarding), users(posthog)) == ([1, 0], [1, 1])
    assert (onboarding.semantics, posthog.semantics) == ("onboarding", "posthog")


def test_daylight_saving_does_not_change_a_day(write_csv):
    """Windows are fixed seconds: across the switch to summer time in Paris (2024-03-31 02:00 ->
    03:00 local), "1 day" is still 86,400 s. Local times without an offset, read in Europe/Paris:
    A at 03-30 12:00 (11:00 UTC); B at 03-31 13:00 local = 11:00 UTC, exactly 86,400 s later,
    converts; 13:00:01 local does not."""
    rows = [
        {"user_id": "in", "event": "A", "timestamp": "2024-03-30 12:00:00"},
        {"user_id": "in", "event": "B", "timestamp": "2024-03-31 13:00:00"},
        {"user_id": "out", "event": "A", "timestamp": "2024-03-30 12:00:00"},
        {"user_id": "out", "event": "B", "timestamp": "2024-03-31 13:00:01"},
    ]
    raw = {"events": write_csv(rows), "observation_end": "2024-04-10", "timezone": "Europe/Paris"}
    raw |= {"signup_event": None, "retention_days": [1], "conversion_window": "1 day"}
    result = compute_funnel(compute_facts(validate_params(raw)), ["A", "B"], semantics="posthog")
    assert users(result) == [2, 1]
    assert result.steps["median_seconds_from_previous"].iloc[1] == pytest.approx(86_400)


# --- chains -------------------------------------------------------------------------------------


def test_every_step_one_starts_a_chain_and_a_second_attempt_converts(facts_of):
    """Window 1 hour. "retry": A at 0 alone, A again at 7,200, B at 7,800, C at 8,400: the first
    attempt cannot reach B (7,800 s > 3,600 s), the second converts, timed from it (600 s, 600 s).
    "latest": A at 0 and 600, B at 1,200: timed from the latest A before B (600 s, not 1,200)."""
    rows = [ev("retry", "A", 0), ev("retry", "A", 7_200), ev("retry", "B", 7_800), ev("retry", "C", 8_400)]
    rows += [ev("latest", "A", 0), ev("latest", "A", 600), ev("latest", "B", 1_200)]
    result = compute_funnel(facts_of(rows), ["A", "B", "C"], window_days=1 / 24, semantics="posthog")
    times = by_user(result)
    assert times["retry"] == pytest.approx([7_200, 7_800, 8_400])
    assert times["latest"][:2] == pytest.approx([600, 1_200]) and math.isnan(times["latest"][2])
    assert users(result) == [2, 2, 1]
    # step 2: gaps 600 (retry) and 600 (latest) -> mean 600; step 3: 600 (retry only)
    assert result.steps["mean_seconds_from_previous"].tolist()[1:] == pytest.approx([600, 600])


def test_the_first_chain_to_reach_the_furthest_step_is_kept(facts_of):
    """A at 0, B at 600, A at 1,800, B at 2,100 (no C): both attempts reach step 2; PostHog keeps
    the chain that reached it first (max_step changes only on a further step), gap 600 s, not
    the later chain's 300 s."""
    rows = [ev("u", "A", 0), ev("u", "B", 600), ev("u", "A", 1_800), ev("u", "B", 2_100)]
    result = compute_funnel(facts_of(rows), ["A", "B", "C"], window_days=1 / 24, semantics="posthog")
    assert by_user(result)["u"][:2] == pytest.approx([0, 600])
    assert result.steps["median_seconds_from_previous"].iloc[1] == pytest.approx(600)


def test_events_at_one_timestamp_are_taken_in_step_order(facts_of, write_csv):
    """B written before A in the file, both at 60 s: sorted by step, A then B, so the user
    converts, with a 0 s conversion (left out of the time to convert: NaN, no other user)."""
    rows = [ev("u", "S", 0), ev("u", "B", 60), ev("u", "A", 60)]
    result = compute_funnel(facts_of(rows), ["A", "B"], window_days=1, semantics="posthog")
    assert users(result) == [1, 1]
    assert by_user(result)["u"] == pytest.approx([60, 60])
    assert math.isnan(result.steps["mean_seconds_from_previous"].iloc[1])


# --- strict -------------------------------------------------------------------------------------


def test_strict_is_broken_by_any_event_but_not_by_events_at_a_step_timestamp(facts_of):
    """Steps A, B, C, strict, window 1 day. Per user, the furthest step by hand:

    - "other": A 0, X 60, B 120: X (in no step) breaks the chain -> step 1 only;
    - "same_a": A 0 and X 0 (one timestamp), B 120 -> step 2 (X shares A's timestamp);
    - "same_b": A 0, B 120 and X 120 -> step 2;
    - "retry": A 0, A 60, B 120 -> a repeat of step 1 starts a new chain -> step 2, gap 60 s;
    - "repeat": A 0, B 60, B 90, C 120 -> a repeat of step 2 keeps the chain -> step 3,
      gaps 60 s and 60 s (from the first B);
    - "skip": A 0, C 60, B 120 -> C breaks the chain at step 1 -> step 1.
    """
    rows = [ev("other", "A", 0), ev("other", "X", 60), ev("other", "B", 120)]
    rows += [ev("same_a", "A", 0), ev("same_a", "X", 0), ev("same_a", "B", 120)]
    rows += [ev("same_b", "A", 0), ev("same_b", "B", 120), ev("same_b", "X", 120)]
    rows += [ev("retry", "A", 0), ev("retry", "A", 60), ev("retry", "B", 120)]
    rows += [ev("repeat", "A", 0), ev("repeat", "B", 60), ev("repeat", "B", 90), ev("repeat", "C", 120)]
    rows += [ev("skip", "A", 0), ev("skip", "C", 60), ev("skip", "B", 120)]
    facts = facts_of(rows)
    result = compute_funnel(facts, ["A", "B", "C"], mode="strict", window_days=1, semantics="posthog")
    got = {user: depth(t) for user, t in by_user(result).items()}
    assert got == {"other": 1, "same_a": 2, "same_b": 2, "retry": 2, "repeat": 3, "skip": 1}
    assert by_user(result)["retry"][:2] == pytest.approx([60, 120])
    assert by_user(result)["repeat"] == pytest.approx([0, 60, 120])
    # The onboarding strict mode looks at step events only: X never interrupts there.
    onboarding = compute_funnel(facts, ["A", "B", "C"], mode="strict", window_days=1)
    assert depth(by_user(onboarding)["other"]) == 2


# --- unordered ----------------------------------------------------------------------------------


def test_unordered_counts_completed_steps_within_one_window(facts_of):
    """Steps A, B, C in any order, window 1 hour:

    - "one": C at 0 -> completed 1 step (anyone with a step event is in step 1);
    - "two": B 0, A 600 -> 2 steps, gap 600 s;
    - "three": C 0, A 1,800, B 3,000 -> 3 steps, gaps 1,800 and 1,200 s;
    - "apart": A 0, B 7,200 -> never two steps in one hour -> 1 step;
    - "nostep": X only -> not in the funnel.

    Step rows: 4, 2 (two, three), 1 (three). Gap to the 2nd step: 600 and 1,800 -> mean and
    median 1,200; to the 3rd: 1,200.
    """
    rows = [ev("one", "C", 0), ev("two", "B", 0), ev("two", "A", 600)]
    rows += [ev("three", "C", 0), ev("three", "A", 1_800), ev("three", "B", 3_000)]
    rows += [ev("apart", "A", 0), ev("apart", "B", 7_200), ev("nostep", "X", 0)]
    result = compute_funnel(
        facts_of(rows), ["A", "B", "C"], mode="any_order", window_days=1 / 24, semantics="posthog"
    )
    assert users(result) == [4, 2, 1]
    assert result.eligible == 4 and result.users == 5
    assert list(result.labels) == ["completed 1 step", "completed 2 steps", "completed 3 steps"]
    assert result.steps["mean_seconds_from_previous"].tolist()[1:] == pytest.approx([1_200, 1_200])
    assert result.steps["median_seconds_from_previous"].tolist()[1:] == pytest.approx([1_200, 1_200])
    assert by_user(result)["three"] == pytest.approx([0, 1_800, 3_000])


# --- time to convert, population, eligibility ---------------------------------------------------


def test_time_to_convert_leaves_out_zero_second_conversions(facts_of):
    """Gaps A -> B of 0, 60, 120 and 600 s (A is the first event, so signup = A). PostHog
    (timings > 0): mean (60 + 120 + 600) / 3 = 260, median 120. The onboarding rules keep the 0:
    mean (0 + 60 + 120 + 600) / 4 = 195, median (60 + 120) / 2 = 90."""
    rows = [ev(f"u{g}", "A", 0) for g in (0, 60, 120, 600)] + [ev(f"u{g}", "B", g) for g in (0, 60, 120, 600)]
    facts = facts_of(rows)
    posthog = compute_funnel(facts, ["A", "B"], window_days=1, semantics="posthog").steps.iloc[1]
    onboarding = compute_funnel(facts, ["A", "B"], window_days=1).steps.iloc[1]
    assert (posthog["mean_seconds_from_previous"], posthog["median_seconds_from_previous"]) == pytest.approx(
        (260, 120)
    )
    assert (
        onboarding["mean_seconds_from_previous"],
        onboarding["median_seconds_from_previous"],
    ) == pytest.approx((195, 90))
    assert posthog["median_hours_from_previous"] == pytest.approx(120 / 3600)


def test_population_is_users_with_step_one_and_open_windows_are_left_out(facts_of):
    """Window 1 day, T = 2024-01-31 00:00 (2,592,000 s). "a": A 0, B 60. "b": S 0, B 60 (no A):
    not in PostHog's funnel, but an eligible signup of the onboarding one. "late": A at
    2,548,800 (29.5 days): its window ends after T, so it is left out of the rates (PostHog
    would count it as not converted). Eligible: onboarding a, b (late is 0.5 days old, under
    1 day); PostHog a only."""
    rows = [ev("a", "A", 0), ev("a", "B", 60), ev("b", "S", 0), ev("b", "B", 60), ev("late", "A", 2_548_800)]
    facts = facts_of(rows)
    posthog = compute_funnel(facts, ["A", "B"], window_days=1, semantics="posthog")
    onboarding = compute_funnel(facts, ["A", "B"], window_days=1)
    assert (posthog.eligible, users(posthog)) == (1, [1, 1])
    assert (onboarding.eligible, users(onboarding)) == (2, [1, 1])
    assert posthog.times.set_index("user_id")["eligible"].to_dict() == {"a": True, "b": False, "late": False}
    assert any("not over at the end of observation" in note for note in posthog.notes)
    assert posthog.incidence.empty and len(onboarding.incidence) == 2


def test_metrics_carry_semantics_and_seconds(facts_of):
    rows = [ev("u", "A", 0), ev("u", "B", 90), ev("v", "A", 0)]
    result = compute_funnel(facts_of(rows), ["A", "B"], window_days=1, semantics="posthog")
    metrics = funnel_metrics(result)
    json.dumps(metrics, allow_nan=False)
    f = metrics["funnel"]
    assert f["semantics"] == "posthog"
    assert f["steps"][0]["mean_seconds_from_previous"] is None  # no step before step 1
    assert f["steps"][1]["mean_seconds_from_previous"] == pytest.approx(90)
    assert f["steps"][1]["median_seconds_from_previous"] == pytest.approx(90)
    assert [s["users"] for s in f["steps"]] == [2, 1]


# --- agreement ----------------------------------------------------------------------------------


def test_both_semantics_agree_when_step_one_is_signup_without_repeats(facts_of):
    """Ordered mode, step 1 = the signup event (one per user), continuous random times (never on
    a window edge): the window from signup and the window from step 1 are the same, so both
    rules give the same users per step and the same eligible users."""
    rng = np.random.default_rng(19)
    rows = []
    for i in range(150):
        user, t0 = f"u{i}", float(rng.uniform(0, 20 * DAY))
        rows.append(ev(user, "signed_up", t0))
        for name in ("B", "C", "B", "C", "X"):
            if rng.random() < 0.6:
                rows.append(ev(user, name, t0 + float(rng.uniform(1, 4 * DAY))))
    facts = facts_of(rows, signup_event="signed_up")
    steps = ["signed_up", "B", "C"]
    onboarding = compute_funnel(facts, steps, window_days=2)
    posthog = compute_funnel(facts, steps, window_days=2, semantics="posthog")
    assert onboarding.eligible == posthog.eligible > 50
    assert users(onboarding) == users(posthog)
    assert users(posthog)[2] > 10  # a real test: some users convert, some do not
    cols = ["mean_seconds_from_previous", "median_seconds_from_previous"]
    pd.testing.assert_frame_equal(onboarding.steps[cols].iloc[1:], posthog.steps[cols].iloc[1:], rtol=1e-9)


# --- against a transcription of PostHog's matcher -------------------------------------------------


def _posthog_matcher(events, k: int, window: float, order: str):
    """PostHog's per-person funnel, transcribed from funnel-udf/src/steps.rs (ordered, strict)
    and unordered_steps.rs (unordered), without breakdowns, exclusions or optional steps.

    ``events``: (timestamp, uuid, steps) sorted by timestamp; steps 1-based (0-based unordered).
    Returns (furthest step reached, 1-based; timings: the gaps between the chain's steps).
    """
    if order == "unordered":
        by_step = [deque() for _ in range(k)]
        completed, best = 0, (0, [])
        for e in events:
            step = e[2][0]
            if not by_step[step]:
                completed += 1
            by_step[step].append(e)
            for q in by_step:
                if q:
                    while True:
                        if not q:
                            completed -= 1
                            break
                        if e[0] - q[0][0] > window:
                            q.popleft()
                        else:
                            break
            if completed > best[0]:
                fronts = sorted(q[0][0] for q in by_step if q)
                best = (completed, [b - a for a, b in itertools.pairwise(fronts)])
        return best
    entered = [None] * (k + 1)  # (start timestamp, timings, uuids) per step
    best = [0, None]

    def process(e, multiple):
        for step in reversed(e[2]):
            prev = entered[step - 1]
            in_window = prev is not None and e[0] - prev[0] <= window
            already = prev is not None and entered[step] is not None and entered[step][0] == prev[0]
            if in_window and not already and not (multiple and e[1] in prev[2]):
                new = (prev[0], prev[1] + (e[0],), prev[2] + (e[1],))
                entered[step] = new
                if step > best[0]:
                    best[:] = [step, new]
        if order == "strict" and not multiple:
            for i in range(1, k + 1):
                if i not in e[2]:
                    entered[i] = None

    for ts, group in itertools.groupby(events, key=lambda e: e[0]):
        group = list(group)
        entered[0] = (ts, (), ())
        if len(group) == 1 or all(g[2] == group[0][2] for g in group):
            for e in group:
                process(e, False)
        else:
            flat = [(e[0], e[1], [s]) for e in group for s in e[2] if s > 0]
            for e in sorted(flat, key=lambda e: e[2][0]):
                process(e, True)
        if entered[k] is not None:
            break
    if best[1] is None:
        return (0, [])
    timings = best[1][1]
    return (best[0], [b - a for a, b in itertools.pairwise(timings)])


@pytest.mark.parametrize("mode", ["ordered", "strict", "any_order"])
def test_engine_matches_posthogs_matcher_on_random_logs(facts_of, mode):
    """300 users, events A, B, C, X on a 30 s grid over 20 minutes (many ties at one
    timestamp), window 5 minutes: the furthest step and the gaps of every user's chain equal
    those of the transcribed matcher."""
    rng = np.random.default_rng({"ordered": 1, "strict": 2, "any_order": 3}[mode])
    names, steps = ["A", "B", "C", "X"], ["A", "B", "C"]
    rows, logs = [], {}
    for i in range(300):
        user = f"u{i}"
        n = int(rng.integers(1, 9))
        times = rng.integers(0, 40, size=n) * 30
        events = sorted(set(zip(times.tolist(), rng.choice(names, size=n).tolist(), strict=True)))
        rows += [ev(user, name, t) for t, name in events]
        logs[user] = events
    facts = facts_of(rows, observation_end="2024-01-02")
    result = compute_funnel(facts, steps, mode=mode, window_days=300 / DAY, semantics="posthog")
    got = by_user(result)
    order = {"ordered": "ordered", "strict": "strict", "any_order": "unordered"}[mode]
    mismatches, reached = [], 0
    for user, events in logs.items():
        if order == "unordered":
            coded = [(t, i, [steps.index(n)]) for i, (t, n) in enumerate(events) if n in steps]
        else:
            kept = events if order == "strict" else [e for e in events if e[1] in steps]
            coded = [(t, i, [steps.index(n) + 1] if n in steps else []) for i, (t, n) in enumerate(kept)]
        want_depth, want_gaps = _posthog_matcher(coded, len(steps), 300, order)
        times = got[user]
        gaps = [b - a for a, b in itertools.pairwise(times[: depth(times)])]
        if depth(times) != want_depth or not np.allclose(gaps, want_gaps, atol=1e-6):
            mismatches.append((user, events, depth(times), gaps, want_depth, want_gaps))
        reached += want_depth == 3
    assert not mismatches, mismatches[:3]
    assert reached >= 5  # the logs exercise full conversions (10 of 300 in strict mode)


def test_time_to_convert_table_reads_in_units(facts_of):
    """The notebook's table: 90 s -> "1.5 min" (90 / 60); step 1 has no previous step under
    PostHog's rules; missing -> "n/a"."""
    from onboarding_analysis.analyses.funnel import format_duration, time_to_convert

    assert [format_duration(s) for s in (0, 45, 90, 7_200, 3 * DAY, math.nan)] == [
        "0 s", "45 s", "1.5 min", "2.0 h", "3.0 days", "n/a",
    ]  # fmt: skip
    rows = [ev("u", "A", 0), ev("u", "B", 90), ev("v", "A", 0)]
    table = time_to_convert(compute_funnel(facts_of(rows), ["A", "B", "C"], window_days=1, semantics="posthog"))
    assert table.to_dict("list") == {
        "step": ["A", "B", "C"],
        "from": ["no previous step", "A", "B"],
        "users": [2, 1, 0],
        "mean": ["n/a", "1.5 min", "n/a"],
        "median": ["n/a", "1.5 min", "n/a"],
    }
