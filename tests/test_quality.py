"""Data quality: the row accounting on messy data, events per day, names, params events, plot."""

from __future__ import annotations

import dataclasses
import json
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from onboarding_analysis.analyses.quality import (  # noqa: E402
    LOW,
    NO_EVENTS,
    configured_events,
    plot_events_per_day,
    quality_metrics,
    quality_report,
)
from onboarding_analysis.data.facts import EVENT_REASONS  # noqa: E402
from onboarding_analysis.data.pipeline import compute_facts  # noqa: E402
from onboarding_analysis.errors import DataError, DataWarning, ParamsError  # noqa: E402
from onboarding_analysis.params import validate_params  # noqa: E402
from onboarding_analysis.report.metrics_io import record_metrics  # noqa: E402


@pytest.fixture(autouse=True)
def no_cache_and_close(monkeypatch):
    monkeypatch.setenv("ONBOARDING_ANALYSIS_CACHE", "off")
    yield
    plt.close("all")


def facts_of(write_csv, rows, users=None, **params):
    """Facts of event rows (tuples) and an optional users table, DataWarnings collected."""
    columns = ["user_id", "event", "timestamp", "client"][: len(rows[0])]
    raw = {"events": write_csv(pd.DataFrame(rows, columns=columns)), **params}
    if users is not None:
        raw["users"] = write_csv(pd.DataFrame(users), name="users.csv")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        facts = compute_facts(validate_params(raw))
    return facts, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


# One row of every kind; T = 2024-01-10 (end of 2024-01-09).
MESSY = [
    ("u1", "signed_up", "2024-01-01T00:00:00Z", "acme"),
    ("u1", "session_start", "2024-01-02T00:00:00Z", "acme"),  # used
    ("u1", "session_start", "2024-01-02T00:00:00Z", "acme"),  # duplicate event
    ("u1", "page_view", "2023-12-31T00:00:00Z", "acme"),  # before signup
    ("u1", "session_start", "2024-01-12T00:00:00Z", "acme"),  # after observation end
    ("u1", "session_start", "1970-01-01T00:00:00Z", "acme"),  # implausible timestamp
    ("u1", "session_start", "not a time", "acme"),  # unparseable timestamp
    ("", "session_start", "2024-01-03T00:00:00Z", "acme"),  # missing user id
    ("NaN", "session_start", "2024-01-03T00:00:00Z", "acme"),  # missing user id
    ("u1", "", "2024-01-03T00:00:00Z", "acme"),  # missing event name
    ("u2", "signed_up", "2024-01-02T00:00:00Z", "globex"),  # user filtered out
    ("u2", "session_start", "2024-01-03T00:00:00Z", "globex"),  # user filtered out
    ("u3", "session_start", "2024-01-04T00:00:00Z", "acme"),  # user signed up after T (users table)
    ("u4", "session_start", "not a time either", "acme"),  # unparseable; u4: without signup time
]
MESSY_USERS = [
    {"user_id": "u1", "signup_at": ""},
    {"user_id": "u3", "signup_at": "2024-02-01T00:00:00Z"},
    {"user_id": "u5", "signup_at": "2024-01-05T00:00:00Z"},  # no events: kept (filtered: no client)
]


def test_every_row_is_used_or_counted_under_one_reason(write_csv):
    facts, messages = facts_of(write_csv, MESSY, MESSY_USERS, observation_end="2024-01-09", value_events=[])
    acc = facts.accounting
    assert acc.events_read == len(MESSY) == 14
    assert acc.events_used == 4  # u1's signup and session, u2's two rows
    assert dict(acc.excluded) == {
        "missing user id": 2,
        "missing event name": 1,
        "unparseable timestamp": 2,
        "implausible timestamp": 1,
        "after observation end": 1,
        "duplicate event": 1,
        "user signed up after observation end": 1,
        "before signup": 1,
    }
    assert acc.events_used + sum(acc.excluded.values()) == acc.events_read
    assert dict(acc.users_excluded) == {
        "user signed up after observation end": 1,
        "user without signup time": 1,
    }
    assert acc.users == 3  # u1, u2 and u5 (users table, no event)
    kinds = sorted(m.split("excluded as '")[1].split("'")[0] for m in messages)
    assert kinds == [
        "duplicate event",
        "implausible timestamp",
        "missing event name",
        "missing user id",
        "unparseable timestamp",
    ]
    assert not any("u1" in m or "u2" in m for m in messages), "no identifiers in warnings"
    assert quality_report(facts).adds_up


def test_a_filtered_run_accounts_for_its_own_users_rows(write_csv):
    # acme's users: u1, u3 (signed up after T) and u4 (no signup time). u2 is globex's; the rows
    # without a user id and u5 (users table only, so no client) belong to no client's run.
    facts, messages = facts_of(
        write_csv,
        MESSY,
        MESSY_USERS,
        observation_end="2024-01-09",
        filters={"client": "acme"},
        value_events=[],
    )
    acc = facts.accounting
    assert acc.events_read == 10  # u1: 8 rows, u3: 1, u4: 1
    assert acc.events_used == 2
    assert dict(acc.excluded) == {
        "missing event name": 1,
        "unparseable timestamp": 2,
        "implausible timestamp": 1,
        "after observation end": 1,
        "duplicate event": 1,
        "user signed up after observation end": 1,
        "before signup": 1,
    }
    assert acc.events_used + sum(acc.excluded.values()) == acc.events_read
    assert dict(acc.users_excluded) == {
        "user signed up after observation end": 1,
        "user without signup time": 1,  # u4
    }
    kinds = sorted(m.split("excluded as '")[1].split("'")[0] for m in messages)
    assert kinds == [
        "duplicate event",
        "implausible timestamp",
        "missing event name",
        "unparseable timestamp",
    ]
    assert "2 event rows excluded as 'unparseable timestamp'" in " ".join(messages)
    assert not any("u1" in m or "u2" in m or "not a time" in m for m in messages), (
        "no identifiers, no examples"
    )

    report = quality_report(facts)
    assert report.adds_up
    rows = report.rows.set_index("what")["rows"]
    assert list(rows.index) == ["read", "used", *[f"excluded: {r}" for r in EVENT_REASONS]]
    assert rows["read"] == 10 and rows["used"] + rows.iloc[2:].sum() == 10
    assert report.rows["share"].iloc[0] == 1.0
    assert report.files[["rows_read", "rows_used"]].values.tolist() == [[10, 2]]
    assert "filtered out" not in report.rows.to_string() + report.users.to_string()
    users = report.users.set_index("what")["users"]
    assert users["users analysed"] == 1 and users["users table rows"] == 2  # u1, u3
    assert any("excluded as 'missing event name'" in w for w in report.warnings)
    metrics = quality_metrics(report)["data_quality"]
    assert metrics["adds_up"] and sum(metrics["excluded"].values()) + metrics["events_used"] == 10
    json.dumps(record_metrics(None, quality_metrics(report)), allow_nan=False)


def test_events_per_day_flags_gaps_and_low_days(write_csv):
    rows = [("u1", "signed_up", "2024-01-01T00:00:00Z")]
    counts = {1: 10, 2: 10, 3: 0, 4: 0, 5: 10, 6: 1, 7: 10, 8: 10, 9: 10}  # 2024-01-<day>: events
    for day, n in counts.items():
        rows += [("u1", "session_start", f"2024-01-{day:02d}T{h:02d}:00:00Z") for h in range(1, n + 1)]
    facts, _ = facts_of(write_csv, rows, value_events=[])
    report = quality_report(facts)
    days = report.events_per_day.set_index("date")
    assert list(days.index) == list(pd.date_range("2024-01-01", "2024-01-09"))
    assert days.loc["2024-01-01", "events"] == 11  # the signup and 10 sessions
    assert days.loc["2024-01-03", "flag"] == NO_EVENTS and days.loc["2024-01-04", "flag"] == NO_EVENTS
    assert days.loc["2024-01-06", "flag"] == LOW  # 1 < 0.2 * median 10
    assert set(days["flag"]) == {"", NO_EVENTS, LOW}
    assert (days["flag"] == "").sum() == 6
    metrics = quality_metrics(report)["data_quality"]
    assert (metrics["days"], metrics["days_without_events"], metrics["low_days"]) == (9, 2, 1)
    lenient = quality_report(facts, low_fraction=0.05)
    assert (lenient.events_per_day["flag"] == LOW).sum() == 0

    ax = plot_events_per_day(report)
    assert ax.get_ylabel() == "used events"
    labels = ax.get_legend_handles_labels()[1]
    assert "no events" in labels and "low day" in labels
    assert sum(1 for p in ax.patches if p.get_label() != "_nolegend_") >= 1


def test_event_names_top_n_and_the_rest(write_csv):
    rows = [("u1", "signed_up", "2024-01-01T00:00:00Z")]
    rows += [("u1", f"e{i}", f"2024-01-01T{i:02d}:00:00Z") for i in range(1, 6) for _ in range(1)]
    rows += [("u1", "e1", f"2024-01-02T{h:02d}:00:00Z") for h in range(3)]
    facts, _ = facts_of(write_csv, rows, value_events=[])
    report = quality_report(facts, top=2)
    names = report.event_names
    assert names["event"].tolist() == ["e1", "e2", "(4 other names)"]  # ties broken by name
    assert names["events"].tolist() == [4, 1, 4]
    assert names["events"].sum() == facts.accounting.events_used
    assert report.n_event_names == 6
    assert names["share"].sum() == pytest.approx(1.0)


def test_t0_sources_and_users_without_signup_event(write_csv):
    rows = [
        ("a", "signed_up", "2024-01-01T00:00:00Z"),
        ("b", "session_start", "2024-01-02T00:00:00Z"),  # no signup event: t0 = first event
        ("c", "session_start", "2024-01-02T00:00:00Z"),  # signup_at from the users table
        ("d", "signed_up", "2024-01-03T00:00:00Z"),
    ]
    users = [
        {"user_id": "c", "signup_at": "2024-01-01T00:00:00Z"},
        {"user_id": "e", "signup_at": "2024-01-01"},
    ]
    facts, _ = facts_of(write_csv, rows, users, value_events=[])
    report = quality_report(facts)
    sources = dict(zip(report.t0_sources["source"], report.t0_sources["users"], strict=True))
    assert sources == {"users table signup_at": 2, "signup event": 2, "first event": 1}
    users = report.users.set_index("what")["users"]
    assert users["analysed users without a signup event"] == 3  # b, c, e
    assert users["analysed users without any event (users table only, kept)"] == 1  # e
    assert users["analysed users not in the users table"] == 3
    assert users["analysed users with no used event"] == 1
    assert quality_metrics(report)["data_quality"]["users_without_signup_event"] == 3
    # The counts come from the accounting's per-user summary; without one (an accounting made
    # by hand), from the events: the same tables.
    assert facts.accounting.users_summary["t0_first_event"] == 1
    bare = dataclasses.replace(facts, accounting=dataclasses.replace(facts.accounting, users_summary={}))
    again = quality_report(bare)
    pd.testing.assert_frame_equal(again.users, report.users)
    pd.testing.assert_frame_equal(again.t0_sources, report.t0_sources)
    no_signup_event, _ = facts_of(write_csv, rows, signup_event=None, value_events=[])
    plain = quality_report(no_signup_event)
    assert "analysed users without a signup event" not in set(plain.users["what"])
    assert quality_metrics(plain)["data_quality"]["users_without_signup_event"] is None


def test_params_events_never_seen_with_closest_names(write_csv):
    rows = [
        ("u1", "signed_up", "2024-01-01T00:00:00Z"),
        ("u1", "created_report", "2024-01-02T00:00:00Z"),
        ("u1", "tour_shown", "2024-01-02T00:00:00Z"),
        ("u1", "tour_completed", "2024-01-02T00:00:00Z"),
    ]
    facts, _ = facts_of(
        write_csv,
        rows,
        value_events=["created_reports"],
        onboarding_steps=["signed_up", ["created_report", "imported_csv"]],
        prompts={"tour": {"shown": "tour_shown", "engaged": "tour_complete"}},
        churn_event="cancelled",
    )
    with pytest.warns(
        DataWarning, match=r"value_events 'created_reports' \(closest: created_report\)"
    ) as rec:
        report = quality_report(facts)
    missing = report.missing_events
    assert missing.values.tolist() == [
        ["value_events", "created_reports", "created_report"],
        ["churn_event", "cancelled", ""],
        ["onboarding_steps", "imported_csv", ""],
        ["prompts.tour.engaged", "tour_complete", "tour_completed"],
    ]
    assert str(rec[0].message) in report.warnings
    assert quality_metrics(report)["data_quality"]["params_events_not_seen"] == {
        "value_events": ["created_reports"],
        "churn_event": ["cancelled"],
        "onboarding_steps": ["imported_csv"],
        "prompts.tour.engaged": ["tour_complete"],
    }


def test_configured_events_lists_every_params_event_once():
    p = validate_params(
        {
            "events": "e.csv",
            "signup_event": "s",
            "value_events": ["v", "s"],
            "active_events": ["a"],
            "churn_event": "c",
            "onboarding_steps": ["s", ["o1", "o2"]],
            "prompts": {"t": {"shown": "p1", "engaged": "p2"}},
            "feature_events": ["f"],
            "revenue_event": "r",
            "feedback_event": "fb",
        }
    )
    assert configured_events(p) == [
        ("signup_event", "s"),
        ("value_events", "v"),
        ("active_events", "a"),
        ("churn_event", "c"),
        ("onboarding_steps", "o1"),
        ("onboarding_steps", "o2"),
        ("prompts.t.shown", "p1"),
        ("prompts.t.engaged", "p2"),
        ("feature_events", "f"),
        ("revenue_event", "r"),
        ("feedback_event", "fb"),
    ]


def test_filtered_run_shows_nothing_of_other_clients(write_csv):
    rows = [
        ("a1", "signed_up", "2024-01-01T00:00:00Z", "acme"),
        ("a1", "exported_csv", "2024-01-03T00:00:00Z", "acme"),
        ("g1", "signed_up", "2024-01-01T00:00:00Z", "globex"),
        ("g1", "globex_secret_report", "2024-01-02T00:00:00Z", "globex"),
        ("g1", "session_start", "2024-01-05T00:00:00Z", "globex"),
    ]
    facts, _ = facts_of(write_csv, rows, filters={"client": "acme"}, value_events=["globex_secret_reports"])
    with pytest.warns(DataWarning, match="globex_secret_reports'. Check"):  # no closest name: not acme's
        report = quality_report(facts)
    tables = [v for v in vars(report).values() if isinstance(v, pd.DataFrame)]
    for frame in tables:
        assert not frame.astype(str).apply(lambda c: c.str.contains("globex_secret_report\\b")).any().any()
    assert report.events_per_day["date"].max() == pd.Timestamp("2024-01-03")  # not globex's 01-05
    assert report.n_event_names == 2
    assert report.rows.set_index("what").loc["read", "rows"] == 2  # acme's rows only


def test_options_are_checked_and_facts_need_events(write_csv):
    facts, _ = facts_of(write_csv, [("u1", "signed_up", "2024-01-01T00:00:00Z")], value_events=[])
    for bad in ({"top": 0}, {"low_fraction": 1.5}, {"window_days": 0}, {"top": True}):
        with pytest.raises(ParamsError):
            quality_report(facts, **bad)
    from dataclasses import replace

    with pytest.raises(DataError, match="no events table"):
        quality_report(replace(facts, events=None))


def test_plot_of_an_empty_series_says_so(write_csv):
    facts, _ = facts_of(write_csv, [("u1", "signed_up", "2024-01-01T00:00:00Z")], value_events=[])
    report = quality_report(facts)
    from dataclasses import replace

    empty = replace(report, events_per_day=report.events_per_day.iloc[:0])
    _, ax = plt.subplots()
    assert plot_events_per_day(empty, ax=ax) is ax
    assert ax.texts[0].get_text() == "no used events"
