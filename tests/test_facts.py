"""User facts: hand-computed cases on tiny event logs, accounting, and the censoring rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from onboarding_analysis.data import columns as C
from onboarding_analysis.data.pipeline import compute_facts
from onboarding_analysis.params import validate_params

EVENTS = [
    # u1: signs up at midnight; day boundaries at exactly 24 h and 7 x 24 h.
    ("u1", "session_start", "2023-12-31T12:00:00Z"),  # before signup: counted, not used
    ("u1", "signed_up", "2024-01-01T00:00:00Z"),
    ("u1", "session_start", "2024-01-01T23:59:59Z"),  # day 0
    ("u1", "session_start", "2024-01-02T00:00:00Z"),  # exactly 24 h: day 1
    ("u1", "created_report", "2024-01-03T12:00:00Z"),  # value at 2.5 days, day 2
    ("u1", "session_start", "2024-01-08T00:00:00Z"),  # exactly 7 days: day 7
    ("u1", "session_start", "2024-01-10T00:00:01Z"),  # after T: counted, not used
    # u2: signup at noon; 1 ms before 24 h is still day 0.
    ("u2", "signed_up", "2024-01-05T12:00:00Z"),
    ("u2", "session_start", "2024-01-06T11:59:59.999Z"),
    ("u2", "session_start", "2024-01-06T12:00:00Z"),
    # u3: age exactly 2 days at T: eligible for day 1.
    ("u3", "signed_up", "2024-01-08T00:00:00Z"),
    ("u3", "session_start", "2024-01-09T00:00:00Z"),
    # u4: one second younger: not eligible for day 1.
    ("u4", "signed_up", "2024-01-08T00:00:01Z"),
    # u5: never active.
    ("u5", "signed_up", "2024-01-01T00:00:00Z"),
]


@pytest.fixture
def tiny(write_csv):
    path = write_csv([dict(zip(("user_id", "event", "timestamp"), row, strict=True)) for row in EVENTS])
    params = validate_params(
        {"events": path, "observation_end": "2024-01-09", "retention_days": [0, 1, 7], "inactivity_days": 3}
    )
    return compute_facts(params)


def test_hand_computed_facts(tiny):
    t = tiny.table.set_index(C.USER_ID)
    assert list(t.index) == ["u1", "u5", "u2", "u3", "u4"]  # ordered by t0
    # T = end of 2024-01-09 = 2024-01-10 00:00 UTC.
    assert tiny.observation_end == pd.Timestamp("2024-01-10").to_pydatetime()
    assert t.loc["u1", C.AGE] == 9.0
    assert t.loc["u3", C.AGE] == 2.0
    assert t.loc["u4", C.AGE] == pytest.approx(2.0 - 1 / 86400)
    assert t.loc["u1", C.DAYS_MASK] == (1 << 0) | (1 << 1) | (1 << 2) | (1 << 7)
    assert t.loc["u1", C.WEEKS_MASK] == 0b11 and t.loc["u1", C.MONTHS_MASK] == 1
    assert t.loc["u2", C.DAYS_MASK] == 0b11  # 11:59:59.999 is day 0, 12:00:00 day 1
    assert t.loc["u3", C.DAYS_MASK] == 0b10
    assert t.loc["u4", C.DAYS_MASK] == 0 and t.loc["u5", C.DAYS_MASK] == 0
    assert list(t[C.active_day(1)]) == [True, False, True, True, False]
    assert list(t[C.active_day(7)]) == [True, False, False, False, False]
    assert list(t[C.LAST_ACTIVE_DAY]) == [7, -1, 1, 1, -1]
    assert t.loc["u1", C.VALUE] == 2.5 and np.isnan(t.loc["u2", C.VALUE])
    assert t.loc["u1", C.N_EVENTS] == 5  # signup + 4 used events


def test_t0_from_the_users_table_and_from_the_events_in_one_run(write_csv):
    # With a users table, the facts of a user whose t0 is its signup_at come from the status
    # pass itself; users without one (empty signup_at: first signup event; not in the table:
    # first event) from a pass of their own. Hand-placed events, both kinds in one run.
    day = pd.Timedelta(days=1)
    a0, b0, c0 = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05")
    rows = [
        ("a", "session_start", a0 - day),  # before a's signup_at
        ("a", "signed_up", a0),
        ("a", "session_start", a0 + 1.5 * day),  # day 1
        ("a", "created_report", a0 + 2.25 * day),  # value, day 2
        ("a", "session_start", a0 + 70 * day),  # day 70 (beyond the days mask)
        ("b", "page_view", b0 - day),  # before b's first signup event
        ("b", "signed_up", b0),
        ("b", "session_start", b0 + 7 * day),  # day 7
        ("c", "session_start", c0),  # c: not in the users table, t0 = first event, day 0
        ("c", "session_start", c0 + day),  # day 1
    ]
    events = write_csv(
        [{"user_id": u, "event": e, "timestamp": ts.isoformat() + "Z"} for u, e, ts in rows]
    )
    users = write_csv(
        [{"user_id": "a", "signup_at": "2024-01-01T00:00:00Z"}, {"user_id": "b", "signup_at": ""}],
        name="users.csv",
    )
    facts = compute_facts(
        validate_params(
            {
                "events": events,
                "users": users,
                "observation_end": "2024-03-31",
                "retention_days": [1, 7, 70],
                "inactivity_days": 30,
            }
        ),
        cache=False,
    )
    t = facts.table.set_index(C.USER_ID)
    assert list(t.index) == ["a", "b", "c"]
    assert list(t[C.T0]) == [a0, b0, c0]
    assert list(t[C.N_EVENTS]) == [4, 2, 2]
    assert facts.accounting.excluded == {"before signup": 2}
    assert list(t[C.active_day(1)]) == [True, False, True]
    assert list(t[C.active_day(7)]) == [False, True, False]
    assert list(t[C.active_day(70)]) == [True, False, False]
    assert list(t[C.DAYS_MASK]) == [(1 << 1) | (1 << 2), 1 << 7, 0b11]
    assert list(t[C.LAST_ACTIVE]) == [70.0, 7.0, 1.0]
    assert list(t[C.LAST_ACTIVE_DAY]) == [70, 7, 1]
    assert t.loc["a", C.VALUE] == 2.25 and t[C.VALUE].iloc[1:].isna().all()
    # T = 2024-04-01 00:00: a was last active 21 days before (not churned); b and c over 30 days.
    assert list(t[C.CHURNED]) == [False, True, True]
    assert list(t[C.LIFETIME]) == [(pd.Timestamp("2024-04-01") - a0) / day - 30, 7.0, 1.0]


def test_day_flags_beyond_the_days_mask(write_csv):
    # Day-N activity is read off the days mask for N < MASK_BITS (63) and aggregated for later
    # days: v1 is active on days 62, 63 and 90 exactly, v2 on day 64 only (hand-placed events).
    rows = [
        ("v1", "signed_up", "2024-01-01T00:00:00Z"),
        ("v1", "session_start", "2024-03-03T06:00:00Z"),  # day 62
        ("v1", "session_start", "2024-03-04T23:59:59Z"),  # day 63
        ("v1", "session_start", "2024-03-31T00:00:00Z"),  # day 90
        ("v2", "signed_up", "2024-01-01T00:00:00Z"),
        ("v2", "session_start", "2024-03-05T00:00:00Z"),  # day 64
    ]
    path = write_csv([dict(zip(("user_id", "event", "timestamp"), r, strict=True)) for r in rows])
    params = validate_params(
        {
            "events": path,
            # T = 2024-04-30 00:00: every user is 120 days old, and the last event (2024-03-31)
            # is within inactivity_days (30) of T, as observation_end must be.
            "observation_end": "2024-04-29",
            "retention_days": [1, 62, 63, 64, 90],
            "value_events": [],
        }
    )
    t = compute_facts(params).table.set_index(C.USER_ID)
    assert C.MASK_BITS == 63
    expected = {"v1": [False, True, True, False, True], "v2": [False, False, False, True, False]}
    for user, flags in expected.items():
        assert [bool(t.loc[user, C.active_day(n)]) for n in (1, 62, 63, 64, 90)] == flags
    assert t.loc["v1", C.DAYS_MASK] == 1 << 62 and t.loc["v2", C.DAYS_MASK] == 0
    assert t.loc["v1", C.LAST_ACTIVE_DAY] == 90 and t.loc["v2", C.LAST_ACTIVE_DAY] == 64


def test_inactivity_churn_and_observable_censoring(tiny):
    t = tiny.table.set_index(C.USER_ID)
    # u2 last active 2024-01-06 12:00, T - last = 3.5 days >= 3: churned, lifetime 1.0 day.
    assert t.loc["u2", C.CHURNED] and t.loc["u2", C.LIFETIME] == 1.0
    # u1 last active 2024-01-08, T - last = 2 days < 3: censored at age - 3 = 6 days.
    assert not t.loc["u1", C.CHURNED] and t.loc["u1", C.LIFETIME] == 6.0
    # u5 never active: last = t0, T - t0 = 9 >= 3: churned at lifetime 0.
    assert t.loc["u5", C.CHURNED] and t.loc["u5", C.LIFETIME] == 0.0
    # u4 (age < 3 days) is censored at 0: it tells nothing yet.
    assert not t.loc["u4", C.CHURNED] and t.loc["u4", C.LIFETIME] == 0.0


def test_accounting_adds_up(tiny):
    acc = tiny.accounting
    assert acc.events_read == len(EVENTS)
    assert acc.excluded == {"before signup": 1, "after observation end": 1}
    assert acc.events_used + sum(acc.excluded.values()) == acc.events_read
    assert acc.users == 5


def test_churn_event_rule_and_literal_censoring(write_csv):
    path = write_csv(
        [
            {"user_id": "a", "event": "signed_up", "timestamp": "2024-01-01T00:00:00Z"},
            {"user_id": "a", "event": "cancelled", "timestamp": "2024-01-04T06:00:00Z"},
            {"user_id": "b", "event": "signed_up", "timestamp": "2024-01-02T00:00:00Z"},
            {"user_id": "b", "event": "session_start", "timestamp": "2024-01-03T00:00:00Z"},
        ]
    )
    churn = compute_facts(
        validate_params({"events": path, "observation_end": "2024-01-09", "churn_event": "cancelled"})
    )
    t = churn.table.set_index(C.USER_ID)
    assert t.loc["a", C.CHURNED] and t.loc["a", C.LIFETIME] == 3.25
    assert not t.loc["b", C.CHURNED] and t.loc["b", C.LIFETIME] == 8.0  # censored at age
    literal = compute_facts(
        validate_params(
            {"events": path, "observation_end": "2024-01-09", "lifetime_censoring": "observation_end"}
        )
    )
    t = literal.table.set_index(C.USER_ID)
    assert not t.loc["b", C.CHURNED] and t.loc["b", C.LIFETIME] == 8.0


def test_users_table_signup_segments_and_filters(write_csv):
    events = write_csv(
        [
            {
                "user_id": "007",
                "event": "session_start",
                "timestamp": "2024-01-02T00:00:00Z",
                "client": "acme",
            },
            {
                "user_id": "008",
                "event": "session_start",
                "timestamp": "2024-01-03T00:00:00Z",
                "client": "globex",
            },
            {
                "user_id": "009",
                "event": "session_start",
                "timestamp": "2024-01-03T00:00:00Z",
                "client": "acme",
            },
        ]
    )
    users = write_csv(
        [
            {"user_id": "007", "signup_at": "2024-01-01T00:00:00Z", "plan": "pro"},
            {"user_id": "008", "signup_at": "2024-01-01T00:00:00Z", "plan": "free"},
            {"user_id": "010", "signup_at": "2024-01-01T00:00:00Z", "plan": "free"},  # no events
            {"user_id": "011", "signup_at": "", "plan": "free"},  # no events, no signup
        ],
        name="users.csv",
    )
    params = validate_params(
        {
            "events": events,
            "users": users,
            "segments": ["plan"],
            "filters": {"client": "acme"},
            "observation_end": "2024-01-31",
        }
    )
    facts = compute_facts(params)
    t = facts.table.set_index(C.USER_ID)
    # 008 is globex; 010 has no events hence no client: both filtered out. 011 has no t0 at all.
    assert sorted(t.index) == ["007", "009"]
    assert t.loc["007", "plan"] == "pro" and pd.isna(t.loc["009", "plan"])
    assert t.loc["007", C.T0] == pd.Timestamp("2024-01-01")
    assert t.loc["009", C.T0] == pd.Timestamp("2024-01-03")  # first event
    # The run accounts for acme's users only: 008 (globex), 010 and 011 (no client) are outside it.
    acc = facts.accounting
    assert acc.excluded == {} and acc.users_excluded == {}
    assert acc.events_used == acc.events_read == 2
    assert acc.users_rows == 1  # 007; 009 is not in the users table


def _simulated_log(rng, n_users: int, mean_life: float, horizon: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Users with exponential true lifetimes L, sessions every <= 2 days up to exactly L."""
    start = pd.Timestamp("2024-01-01")
    age = rng.uniform(0, horizon, n_users)
    life = rng.exponential(mean_life, n_users)
    t0 = start + pd.to_timedelta(horizon - age, unit="D")
    rows = []
    for i in range(n_users):
        rows.append((i, "signed_up", t0[i]))
        times = np.arange(rng.uniform(0, 2), life[i], 2.0)
        for d in (*times, life[i]):
            if d <= age[i]:
                rows.append((i, "session_start", t0[i] + pd.Timedelta(days=float(d))))
    frame = pd.DataFrame(rows, columns=["user_id", "event", "timestamp"])
    frame["user_id"] = "u" + frame["user_id"].astype(str)
    return frame, life


@pytest.mark.parametrize("rule", ["observable", "observation_end"])
def test_censoring_rules_against_truth(tmp_path, rule):
    """The observable rule recovers the true survival; the literal rule (params lifetime_censoring: observation_end) does not."""
    rng = np.random.default_rng(7)
    horizon, mean_life = 180.0, 60.0
    frame, _ = _simulated_log(rng, 2000, mean_life, horizon)
    path = tmp_path / "sim.parquet"
    frame.to_parquet(path)
    end = (pd.Timestamp("2024-01-01") + pd.Timedelta(days=horizon)).isoformat()
    facts = compute_facts(
        validate_params(
            {"events": str(path), "observation_end": end, "lifetime_censoring": rule, "retention_days": [1]}
        )
    )
    t = facts.table
    kmf = KaplanMeierFitter().fit(t[C.LIFETIME], t[C.CHURNED])
    lo, hi = kmf.confidence_interval_survival_function_.loc[:30].iloc[-1]
    truth = np.exp(-30 / mean_life)
    inside = lo <= truth <= hi
    assert inside == (rule == "observable"), (rule, lo, truth, hi)


# --- duplicates, reasons, empty runs -------------------------------------------------------------


def _facts_quiet(params):
    """compute_facts, returning (facts, DataWarning messages)."""
    import warnings

    from onboarding_analysis.errors import DataWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        facts = compute_facts(validate_params(params))
    return facts, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def test_duplicates_are_same_user_event_time_and_value(tmp_path):
    rows = "user_id,event,timestamp,value,client,ingested_at\n"
    part1 = rows + (
        "u1,signed_up,2024-01-01T00:00:00Z,,acme,1\n"
        "u1,purchase,2024-01-02T00:00:00Z,10,acme,1\n"
        "u1,purchase,2024-01-02T00:00:00Z,10,acme,2\n"  # duplicate: only ingested_at differs
        "u1,purchase,2024-01-02T00:00:00Z,20,acme,1\n"  # another amount: kept
        "u1,purchase,2024-01-02T00:00:01Z,10,acme,1\n"  # a second later: kept
    )
    part2 = rows + "u1,signed_up,2024-01-01T00:00:00Z,,globex,1\n"  # duplicate of part 1's signup
    (tmp_path / "part-1.csv").write_text(part1)
    (tmp_path / "part-2.csv").write_text(part2)
    facts, messages = _facts_quiet(
        {"events": str(tmp_path / "part-*.csv"), "segments": ["client"], "value_events": ["purchase"]}
    )
    acc = facts.accounting
    assert acc.excluded == {"duplicate event": 2} and acc.events_used == 4
    assert acc.events_used + sum(acc.excluded.values()) == acc.events_read == 6
    assert facts.table.loc[0, "client"] == "acme"  # the copy kept is the first file's
    assert facts.table.loc[0, C.N_EVENTS] == 4
    assert len(messages) == 1 and messages[0].startswith("2 event rows excluded as 'duplicate event'")
    assert "u1" not in messages[0]


def test_mark_duplicates_on_any_ibis_table():
    import ibis

    from onboarding_analysis.data.facts import DUPLICATE, mark_duplicates

    t = ibis.memtable(
        {
            "user_id": ["a", "a", "a", "b"],
            "event": ["x", "x", "x", "x"],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01", "2024-01-01"]),
            "file": ["2.csv", "1.csv", "1.csv", "1.csv"],
            "reason": [None, None, "after observation end", None],
        }
    )
    out = mark_duplicates(t).to_pandas().sort_values(["user_id", "file", "reason"], na_position="first")
    # a's rows: the two usable ones are copies (one kept, from 1.csv); the excluded row keeps its reason.
    assert out["reason"].tolist() == [None, "after observation end", DUPLICATE, None]


def test_duplicate_candidates_are_checked_exactly(monkeypatch):
    # Candidates come from a hash aggregation; with every hash colliding (a constant), every
    # row is a candidate and the exact check must still mark only a's second copy.
    import ibis

    from onboarding_analysis.data import facts as F
    from onboarding_analysis.data import facts_query

    frame = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "c"],
            "event": ["x", "x", "x", "x"],
            "ts": pd.to_datetime(["2024-01-01"] * 4),
            "file": ["1.csv"] * 4,
            "reason": pd.Series([None] * 4, dtype="string"),
        }
    )
    t = ibis.memtable(frame)
    honest = F.duplicate_candidates(t).to_pandas()
    assert sorted(honest["user_id"]) == ["a", "a"]
    monkeypatch.setattr(facts_query, "_key_hash", lambda table: ibis.literal(7, "int64"))
    collided = F.duplicate_candidates(t).to_pandas()
    assert len(collided) == 4
    out = F.mark_duplicates(t, F.duplicate_table(collided, t)).to_pandas()
    out = out.sort_values(["user_id", "reason"], na_position="first")
    assert out["reason"].tolist() == [None, F.DUPLICATE, None, None]
    assert out["user_id"].tolist() == ["a", "a", "b", "c"]


def test_event_reasons_order():
    from onboarding_analysis.data.contract import ROW_REASONS
    from onboarding_analysis.data.facts import EVENT_REASONS

    assert EVENT_REASONS == (
        *ROW_REASONS,
        "duplicate event",
        "user without signup time",
        "user signed up after observation end",
        "before signup",
    )


def test_no_user_left_is_an_error_that_says_why(write_csv):
    from onboarding_analysis.errors import DataError

    rows = [
        {"user_id": "u1", "event": "signed_up", "timestamp": "2024-01-01T00:00:00Z", "client": "acme"},
        {"user_id": "u2", "event": "signed_up", "timestamp": "2024-01-02T00:00:00Z", "client": "globex"},
    ]
    path = write_csv(rows)
    with pytest.raises(
        DataError, match=r"no user left to analyse \(user filtered out: 2\).*closest values in the data: acme"
    ):
        compute_facts(validate_params({"events": path, "filters": {"client": "acme_"}}))
    users = write_csv([{"user_id": "u1", "signup_at": "2024-03-01T00:00:00Z"}], name="users.csv")
    only = write_csv(rows[:1], name="only.csv")
    with pytest.raises(DataError, match="every user signed up after it"):
        compute_facts(validate_params({"events": only, "users": users}))
