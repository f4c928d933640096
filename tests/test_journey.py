"""Where users stop: last step and last events of users without value, by hand; the plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display in tests; set before pyplot is imported

import warnings  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from onboarding_analysis.analyses import journey as J  # noqa: E402
from onboarding_analysis.data.pipeline import compute_facts  # noqa: E402
from onboarding_analysis.params import validate_params  # noqa: E402

STEPS = ["signed_up", "completed_profile", ["connected_data", "imported_csv"], "created_report"]

# T = end of 2024-01-20 = 2024-01-21 00:00 UTC; conversion window 7 days; value = created_report.
EVENTS = [
    # j1: steps 1, 2, 3 in order, then a session: last step 3.
    ("j1", "signed_up", "2024-01-01T00:00:00Z"),
    ("j1", "completed_profile", "2024-01-02T00:00:00Z"),
    ("j1", "connected_data", "2024-01-03T00:00:00Z"),
    ("j1", "session_start", "2024-01-05T00:00:00Z"),
    # j2: connected data *before* completing the profile: step 3 needs an event at or after
    # step 2 (11:00), there is none: last step 2.
    ("j2", "signed_up", "2024-01-01T00:00:00Z"),
    ("j2", "connected_data", "2024-01-02T10:00:00Z"),
    ("j2", "completed_profile", "2024-01-02T11:00:00Z"),
    # j3: steps 2 and 3 at the same second: a tie reaches step 3. Written in reverse order: the
    # final event is still imported_csv (same ts, alphabetically later than completed_profile).
    ("j3", "signed_up", "2024-01-01T00:00:00Z"),
    ("j3", "imported_csv", "2024-01-03T00:00:00Z"),
    ("j3", "completed_profile", "2024-01-03T00:00:00Z"),
    # j4: profile completed after 8 days, outside the 7-day window: last step 1.
    ("j4", "signed_up", "2024-01-01T00:00:00Z"),
    ("j4", "completed_profile", "2024-01-09T00:00:00Z"),
    # j5: reached value: not studied.
    ("j5", "signed_up", "2024-01-01T00:00:00Z"),
    ("j5", "created_report", "2024-01-02T00:00:00Z"),
    # j6: age 5 < 7, may still convert: not studied.
    ("j6", "signed_up", "2024-01-16T00:00:00Z"),
    # j7: no signup event (t0 = first event), no step at all: "none".
    ("j7", "session_start", "2024-01-01T00:00:00Z"),
    # j8: age exactly 7: studied; only signed up: last step 1.
    ("j8", "signed_up", "2024-01-14T00:00:00Z"),
]
# j9 is only in the users table (signup 01-01, no event at all): studied, "none", "(no events)".
USERS = [{"user_id": "j9", "signup_at": "2024-01-01T00:00:00Z"}]


@pytest.fixture
def facts(write_csv):
    events = write_csv([dict(zip(("user_id", "event", "timestamp"), row, strict=True)) for row in EVENTS])
    users = write_csv(USERS, name="users.csv")
    params = {
        "events": events,
        "users": users,
        "observation_end": "2024-01-20",
        "conversion_window_days": 7,
        "value_events": ["created_report"],
        "onboarding_steps": STEPS,
    }
    return compute_facts(validate_params(params))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_stuck_users_are_unconverted_and_old_enough(facts):
    assert sorted(J.stuck_users(facts)) == ["j1", "j2", "j3", "j4", "j7", "j8", "j9"]


def test_last_step_reached_by_hand(facts):
    table = J.last_step_reached(facts)
    assert list(table.columns) == J.LAST_STEP_COLUMNS
    assert list(table["last_step"]) == [0, 1, 2, 3, 4]
    assert list(table["step"]) == [
        "none",
        "signed_up",
        "completed_profile",
        "connected_data | imported_csv",
        "created_report",
    ]
    # none: j7, j9; step 1: j4, j8; step 2: j2; step 3: j1, j3 (tie); step 4: nobody (value).
    assert list(table["users"]) == [2, 2, 1, 2, 0]
    np.testing.assert_allclose(table["share"], np.array([2, 2, 1, 2, 0]) / 7)


def test_last_step_reached_steps_argument_and_missing_steps(facts, write_csv):
    # Only the profile step: j1, j2, j3 reach it in the window (j4 too late) -> 3 of 7.
    table = J.last_step_reached(facts, ["completed_profile"])
    assert list(table["users"]) == [4, 3]
    path = write_csv(
        [{"user_id": "x", "event": "signed_up", "timestamp": "2024-01-01T00:00:00Z"}], name="x.csv"
    )
    no_steps = compute_facts(validate_params({"events": path}))
    with pytest.raises(ValueError, match="onboarding_steps"):
        J.last_step_reached(no_steps)
    with pytest.raises(
        ValueError, match="key .onboarding_steps.: value .*is invalid: expected a list of steps"
    ):
        J.last_step_reached(facts, [["a", 3]])


def test_last_events_by_hand(facts):
    table = J.last_events(facts)
    assert list(table.columns) == J.LAST_EVENTS_COLUMNS
    finals = table[table["kind"] == "final event"]
    # j1 session_start, j2 completed_profile, j3 imported_csv (tie by name), j4 completed_profile,
    # j7 session_start, j8 signed_up, j9 (no events). Most common first, ties by name.
    assert list(finals["path"]) == [
        "completed_profile",
        "session_start",
        "(no events)",
        "imported_csv",
        "signed_up",
    ]
    assert list(finals["users"]) == [2, 2, 1, 1, 1]
    np.testing.assert_allclose(finals["share"], np.array([2, 2, 1, 1, 1]) / 7)
    moves = table[table["kind"] == "final transition"]
    assert list(moves["path"]) == [
        "(no events)",  # j9
        "(start) -> session_start",  # j7: one event only
        "(start) -> signed_up",  # j8
        "completed_profile -> imported_csv",  # j3: the tie, ordered by name
        "connected_data -> completed_profile",  # j2
        "connected_data -> session_start",  # j1
        "signed_up -> completed_profile",  # j4
    ]
    assert (moves["users"] == 1).all() and moves["share"].sum() == pytest.approx(1.0)


def test_last_two_events_top_n_aggregate_equals_the_window():
    """DuckDB's top-2 aggregate and the portable window give the same rows, ties included."""
    import ibis

    rng = np.random.default_rng(5)
    n = 4000
    base = pd.Timestamp("2024-01-01")
    events = pd.DataFrame(
        {
            "user_id": rng.choice([f"u{i}" for i in range(600)], n),
            "event": rng.choice(["a", "b", "c", "d"], n),
            # whole hours over 3 days: many ties of time, some of time and name
            "ts": base + pd.to_timedelta(rng.integers(0, 72, n), unit="h"),
        }
    )
    table = ibis.memtable(events)
    got = {
        mode: J.last_two_events(table, top_n=mode).to_pandas().sort_values("user_id").reset_index(drop=True)
        for mode in (True, False)
    }
    pd.testing.assert_frame_equal(got[True], got[False])
    # By hand, for every user: sort by (ts, event), the last and the one before.
    ordered = events.sort_values(["user_id", "ts", "event"])
    last = ordered.groupby("user_id")["event"].agg(lambda s: s.iloc[-1])
    before = ordered.groupby("user_id")["event"].agg(lambda s: s.iloc[-2] if len(s) > 1 else None)
    assert got[True]["event"].tolist() == last.loc[got[True]["user_id"]].tolist()
    assert got[True]["previous"].tolist() == before.loc[got[True]["user_id"]].tolist()
    assert got[True]["previous"].isna().any()  # users with one event: no previous


def test_last_events_top(facts):
    table = J.last_events(facts, top=2)
    assert list(table["path"]) == [
        "completed_profile",
        "session_start",
        "(no events)",
        "(start) -> session_start",
    ]
    with pytest.raises(ValueError, match="top must be"):
        J.last_events(facts, top=0)


def test_plot_where_users_stop(facts):
    steps, events = J.last_step_reached(facts), J.last_events(facts, top=3)  # engine work outside the check
    before = dict(matplotlib.rcParams)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ax = J.plot_where_users_stop(steps)
        assert isinstance(ax, Axes)
        assert [round(p.get_width(), 1) for p in ax.patches] == [28.6, 28.6, 14.3, 28.6, 0.0]
        assert [t.get_text() for t in ax.get_yticklabels()][0] == "none"
        _, given = plt.subplots()
        assert J.plot_where_users_stop(events, ax=given) is given
        assert len(given.patches) == 6
    assert [str(w.message) for w in caught] == []
    assert dict(matplotlib.rcParams) == before
    with pytest.raises(ValueError, match="last_step_reached"):
        J.plot_where_users_stop(pd.DataFrame({"x": [1]}))
