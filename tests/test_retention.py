"""Retention on tiny hand-made user-facts tables, with every expected count worked out by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from onboarding_analysis.analyses.retention import (
    BRACKET_COLUMNS,
    RETENTION_COLUMNS,
    CohortTable,
    bracket_retention,
    cohort_table,
    nday_retention,
    retention_curve,
    retention_metrics,
    unbounded_retention,
)
from onboarding_analysis.data import columns as C
from onboarding_analysis.errors import DataError
from onboarding_analysis.stats.intervals import wilson_interval

EPS = 1e-9


def bits(indices) -> int:
    """An int64 bit mask with the given bits set."""
    mask = 0
    for k in indices:
        mask |= 1 << k
    return mask


def make_facts(users: dict[str, tuple[float, set[int]]], flag_days=()) -> pd.DataFrame:
    """Facts from {user: (age_days, active day indices)}; flags for ``flag_days`` if asked."""
    rows = []
    for user, (age, active) in users.items():
        row = {
            C.USER_ID: user,
            C.AGE: float(age),
            C.DAYS_MASK: bits(d for d in active if d < C.MASK_BITS),
            C.LAST_ACTIVE_DAY: max(active) if active else -1,
        }
        for day in flag_days:
            row[C.active_day(day)] = day in active
        rows.append(row)
    facts = pd.DataFrame(rows)
    return facts.astype({C.DAYS_MASK: np.int64, C.LAST_ACTIVE_DAY: np.int64})


# Ages are in days since signup; the sets are the day indices with an active event.
USERS = {
    "a": (2.0, {0, 1}),  # age exactly 1 + 1: day 1 is complete, eligible for day 1
    "b": (2.0 - EPS, {0, 1}),  # day 1 not complete yet: not eligible for day 1, although active on it
    "c": (10.0, {0}),
    "d": (10.0, {1, 7}),
    "e": (0.5, {0}),  # not even day 0 is complete
}
# Worked out by hand from USERS (eligible: age >= N + 1):
#   day 0: eligible a, b, c, d        active on day 0: a, b, c      -> 4, 3
#   day 1: eligible a, c, d           active on day 1: a, d         -> 3, 2
#   day 7: eligible c, d              active on day 7: d            -> 2, 1
#   day 30: nobody eligible                                         -> 0, 0, rate NaN
EXPECTED_ON = {0: (4, 3), 1: (3, 2), 7: (2, 1), 30: (0, 0)}
#   unbounded ("on or after", last active day >= N), same eligibility:
#   day 0: a, b, c, d -> 4 of 4; day 1: a, d of a, c, d -> 2 of 3; day 7: d of c, d -> 1 of 2
EXPECTED_UNBOUNDED = {0: (4, 4), 1: (3, 2), 7: (2, 1), 30: (0, 0)}


def check_table(table: pd.DataFrame, expected: dict[int, tuple[int, int]]) -> None:
    assert list(table.columns) == RETENTION_COLUMNS
    assert table["day"].tolist() == list(expected)
    assert table["eligible"].tolist() == [e for e, _ in expected.values()]
    assert table["retained"].tolist() == [r for _, r in expected.values()]
    for row, (eligible, retained) in zip(table.itertuples(), expected.values(), strict=True):
        if eligible == 0:
            assert math.isnan(row.rate) and math.isnan(row.ci_low) and math.isnan(row.ci_high)
        else:
            assert row.rate == retained / eligible
            low, high = wilson_interval(retained, eligible)
            assert (row.ci_low, row.ci_high) == pytest.approx((low, high))
            assert row.ci_low <= row.rate <= row.ci_high


def test_nday_retention_by_hand_from_the_mask():
    check_table(nday_retention(make_facts(USERS), list(EXPECTED_ON)), EXPECTED_ON)


def test_nday_retention_from_flag_columns_only():
    facts = make_facts(USERS, flag_days=EXPECTED_ON).drop(columns=[C.DAYS_MASK])
    check_table(nday_retention(facts, list(EXPECTED_ON)), EXPECTED_ON)


def test_mask_and_flags_agree_and_flags_take_precedence():
    facts = make_facts(USERS, flag_days=EXPECTED_ON)
    from_flags = nday_retention(facts, list(EXPECTED_ON))
    from_mask = nday_retention(facts.drop(columns=[C.active_day(d) for d in EXPECTED_ON]), list(EXPECTED_ON))
    pd.testing.assert_frame_equal(from_flags, from_mask)
    # A flag column that disagrees with the mask wins: it is the column built for that day.
    facts[C.active_day(1)] = False
    assert nday_retention(facts, [1])["retained"].tolist() == [0]


def test_eligibility_boundary_is_age_n_plus_one():
    facts = make_facts({"x": (8.0, {7}), "y": (8.0 - EPS, {7})})
    row = nday_retention(facts, 7).iloc[0]
    assert (row.eligible, row.retained, row.rate) == (1, 1, 1.0)


def test_ineligible_users_leave_the_denominator():
    old = make_facts({"x": (20.0, {1}), "y": (20.0, set())})
    with_young = make_facts({"x": (20.0, {1}), "y": (20.0, set()), "z": (1.5, {0}), "w": (0.1, set())})
    pd.testing.assert_frame_equal(nday_retention(old, [1, 7]), nday_retention(with_young, [1, 7]))


def test_day_beyond_the_mask_needs_a_flag_column():
    facts = make_facts({"x": (100.0, {0, 90})}, flag_days=[90])
    assert nday_retention(facts, [90])["retained"].tolist() == [1]
    with pytest.raises(ValueError, match=r"active_day_90.*retention_days"):
        nday_retention(facts.drop(columns=[C.active_day(90)]), [90])
    with pytest.raises(ValueError, match="active_day_3"):
        nday_retention(facts.drop(columns=[C.active_day(90), C.DAYS_MASK]), [3])


def test_highest_mask_bit_is_read():
    facts = make_facts({"x": (100.0, {62}), "y": (100.0, {61})})
    assert nday_retention(facts, [62])["retained"].tolist() == [1]
    assert retention_curve(facts, max_day=62)["retained"].iloc[-2:].tolist() == [1, 1]


def test_unbounded_retention_by_hand():
    table = unbounded_retention(make_facts(USERS), list(EXPECTED_UNBOUNDED))
    check_table(table, EXPECTED_UNBOUNDED)
    on = nday_retention(make_facts(USERS), list(EXPECTED_ON))
    assert (table["retained"] >= on["retained"]).all()


def test_bracket_retention_by_hand():
    facts = make_facts(
        {
            "p": (7.0, {0, 3}),  # eligible for [1, 6] (age >= 7), active on day 3
            "q": (14.0, {8}),  # eligible for both; active on day 8 only
            "r": (14.0 - EPS, {13}),  # [7, 13] not complete yet
            "s": (30.0, {0, 13}),  # active on the last day of [7, 13]
            "t": (6.5, {1}),  # [1, 6] not complete yet
        }
    )
    table = bracket_retention(facts, [(1, 6), (7, 13), (0, 0)])
    assert list(table.columns) == BRACKET_COLUMNS
    # [1, 6]: eligible p, q, r, s; active in 1..6: p        -> 4, 1
    # [7, 13]: eligible q, s; active in 7..13: q, s          -> 2, 2
    # [0, 0]: eligible all five (age >= 1); active on day 0: p, s  -> 5, 2
    assert table[["start", "end", "eligible", "retained"]].values.tolist() == [
        [1, 6, 4, 1],
        [7, 13, 2, 2],
        [0, 0, 5, 2],
    ]
    assert table["rate"].tolist() == [1 / 4, 1.0, 2 / 5]


def test_one_day_bracket_equals_nday_retention():
    facts = make_facts(USERS)
    bracket = bracket_retention(facts, [(d, d) for d in (0, 1, 7)])
    on = nday_retention(facts, [0, 1, 7])
    np.testing.assert_array_equal(bracket[["eligible", "retained"]], on[["eligible", "retained"]])


@pytest.mark.parametrize(
    ("brackets", "match"),
    [
        ([(3, 2)], "must not exceed its end"),
        ([(0, 63)], "at most 62"),
        ([(1,)], "pair"),
        ([(-1, 2)], "non-neg"),
    ],
)
def test_bad_brackets_are_rejected(brackets, match):
    with pytest.raises(ValueError, match=match):
        bracket_retention(make_facts(USERS), brackets)


def test_bracket_up_to_day_62():
    facts = make_facts({"x": (63.0, {62}), "y": (63.0, {0})})
    assert bracket_retention(facts, [(0, 62), (1, 62)])["retained"].tolist() == [2, 1]


def test_retention_curve_is_nday_retention_for_every_day():
    facts = make_facts(USERS)
    curve = retention_curve(facts, max_day=10)
    pd.testing.assert_frame_equal(curve, nday_retention(facts, range(11)))
    assert curve["eligible"].is_monotonic_decreasing
    with pytest.raises(ValueError, match="at most 62"):
        retention_curve(facts, max_day=63)


@pytest.mark.parametrize("days", [[-1], [1.5], ["7"], [True]])
def test_bad_days_are_rejected(days):
    with pytest.raises(ValueError, match="non-negative whole number"):
        nday_retention(make_facts(USERS), days)


def test_missing_or_broken_columns_are_named():
    facts = make_facts(USERS)
    with pytest.raises(DataError, match=C.AGE):
        nday_retention(facts.drop(columns=[C.AGE]), [1])
    with pytest.raises(DataError, match=C.LAST_ACTIVE_DAY):
        unbounded_retention(facts.drop(columns=[C.LAST_ACTIVE_DAY]), [1])
    broken = facts.assign(**{C.AGE: [1.0, np.nan, 2.0, 3.0, 4.0]})
    with pytest.raises(DataError, match="missing or non-numeric"):
        nday_retention(broken, [1])


# --- cohort table ------------------------------------------------------------------------------


def make_cohort_facts(users: dict[str, tuple[str, float, set[int]]], period: str = "week") -> pd.DataFrame:
    """Facts from {user: (t0, age_days, active period indices)}."""
    return pd.DataFrame(
        {
            C.USER_ID: list(users),
            C.T0: pd.to_datetime([t0 for t0, _, _ in users.values()]),
            C.AGE: [float(age) for _, age, _ in users.values()],
            C.PERIOD_MASK[period]: np.array([bits(a) for _, _, a in users.values()], dtype=np.int64),
        }
    )


WEEK_USERS = {
    "u1": ("2024-01-01 00:00", 21.0, {0, 2}),  # a Monday
    "u2": ("2024-01-07 23:59", 10.0, {0, 1}),  # the Sunday of the same ISO week
    "u3": ("2024-01-08 00:00", 7.0, {0}),  # next Monday; age exactly 7: week 0 is complete
    "u4": ("2024-01-09 12:00", 7.0 - EPS, {0}),  # week 0 not complete: not eligible
    "u5": ("2024-01-15 09:00", 3.0, {0}),  # nobody of this cohort is eligible for anything
}
# By hand (eligible for period k: age >= 7 (k + 1)); three periods, as the oldest user is 21 days old:
#              k=0                   k=1                 k=2
# 2024-01-01   u1, u2 of u1, u2: 1   u1 (wk 1 inactive): 0   u1 active: 1
# 2024-01-08   u3 of u3: 1           nobody: NaN             NaN
# 2024-01-15   nobody: NaN           NaN                     NaN
WEEK_ELIGIBLE = [[2, 1, 1], [1, 0, 0], [0, 0, 0]]
WEEK_RETAINED = [[2, 0, 1], [1, 0, 0], [0, 0, 0]]
WEEK_RATES = [[1.0, 0.0, 1.0], [1.0, np.nan, np.nan], [np.nan, np.nan, np.nan]]


def test_weekly_cohort_table_by_hand():
    table = cohort_table(make_cohort_facts(WEEK_USERS))
    assert isinstance(table, CohortTable) and table.period == "week"
    assert list(table.rates.index) == list(pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15"]))
    assert list(table.rates.columns) == [0, 1, 2]
    assert table.eligible.values.tolist() == WEEK_ELIGIBLE
    assert table.retained.values.tolist() == WEEK_RETAINED
    np.testing.assert_array_equal(table.rates.to_numpy(), np.array(WEEK_RATES))
    assert table.cohort_sizes.tolist() == [2, 2, 1]
    # An observed zero stays 0, an unobservable cell is NaN.
    assert table.rates.iloc[0, 1] == 0.0 and math.isnan(table.rates.iloc[1, 1])


def test_cells_below_min_cell_users_are_empty():
    table = cohort_table(make_cohort_facts(WEEK_USERS), min_cell_users=2)
    expected = [[1.0, np.nan, np.nan], [np.nan, np.nan, np.nan], [np.nan, np.nan, np.nan]]
    np.testing.assert_array_equal(table.rates.to_numpy(), np.array(expected))
    assert table.eligible.values.tolist() == WEEK_ELIGIBLE  # the counts are not hidden


def test_max_periods_limits_the_columns():
    table = cohort_table(make_cohort_facts(WEEK_USERS), max_periods=1)
    assert list(table.rates.columns) == [0]
    assert table.eligible[0].tolist() == [2, 1, 0]


@pytest.mark.parametrize(
    ("t0", "period", "label"),
    [
        ("2024-01-07 23:59:59", "week", "2024-01-01"),  # Sunday belongs to the ISO week of Monday 1 Jan
        ("2024-12-31 10:00", "week", "2024-12-30"),  # ISO week 2025-W01 starts on 30 Dec 2024
        ("2025-01-05 10:00", "week", "2024-12-30"),
        ("2024-02-29 23:00", "week", "2024-02-26"),
        ("2024-01-31 23:59", "month", "2024-01-01"),
        ("2024-02-01 00:00", "month", "2024-02-01"),
        ("2024-12-31 10:00", "month", "2024-12-01"),
    ],
)
def test_cohort_labels(t0, period, label):
    facts = make_cohort_facts({"x": (t0, 40.0, {0})}, period=period)
    table = cohort_table(facts, period=period)
    assert list(table.rates.index) == [pd.Timestamp(label)]


def test_monthly_cohort_table_by_hand():
    facts = make_cohort_facts(
        {
            "m1": ("2024-01-31 23:00", 30.0, {0}),  # exactly one 30-day period: eligible for k=0
            "m2": ("2024-01-02 00:00", 61.0, {1}),  # eligible for k=0 and k=1, active in k=1 only
            "m3": ("2024-02-01 00:00", 30.0 - EPS, {0}),  # not eligible for k=0
        },
        period="month",
    )
    table = cohort_table(facts, period="month")
    # 2024-01: k=0 m1, m2 eligible, m1 active -> 1/2; k=1 m2 eligible and active -> 1/1
    # 2024-02: nothing eligible.
    assert table.eligible.values.tolist() == [[2, 1], [0, 0]]
    np.testing.assert_array_equal(table.rates.to_numpy(), np.array([[0.5, 1.0], [np.nan, np.nan]]))
    with pytest.raises(DataError, match=C.MONTHS_MASK):
        cohort_table(make_cohort_facts(WEEK_USERS), period="month")


def test_young_data_gives_an_empty_table():
    table = cohort_table(make_cohort_facts({"x": ("2024-01-01", 3.0, {0})}))
    assert table.rates.shape == (1, 0)
    assert table.cohort_sizes.tolist() == [1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"period": "day"}, "period must be one of"),
        ({"min_cell_users": 0}, "min_cell_users"),
        ({"min_cell_users": 2.5}, "min_cell_users"),
        ({"max_periods": 0}, "max_periods"),
    ],
)
def test_bad_cohort_options_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cohort_table(make_cohort_facts(WEEK_USERS), **kwargs)


# --- metrics -----------------------------------------------------------------------------------


def test_retention_metrics_are_json_with_none_for_missing():
    facts = make_facts(USERS)
    days = list(EXPECTED_ON)
    metrics = retention_metrics(nday_retention(facts, days), unbounded_retention(facts, days))
    text = json.dumps(metrics, allow_nan=False)
    assert json.loads(text) == metrics
    day1 = metrics["retention"]["day_1"]
    assert day1["eligible"] == 3 and day1["retained"] == 2 and day1["rate"] == 2 / 3
    assert type(day1["eligible"]) is int and type(day1["rate"]) is float
    assert metrics["retention"]["day_30"] == {
        "rate": None,
        "ci_low": None,
        "ci_high": None,
        "eligible": 0,
        "retained": 0,
    }
    assert metrics["unbounded_retention"]["day_0"]["rate"] == 1.0
    with pytest.raises(ValueError, match="columns"):
        retention_metrics(pd.DataFrame({"day": [1]}), unbounded_retention(facts, days))


@pytest.mark.parametrize("period", ["week", "month"])
def test_cohort_counts_equal_a_groupby_per_period_on_random_users(period):
    # The counts are computed with one cohort coding and bincount; a plain pandas groupby per
    # period (the previous implementation) must give the same integers, shuffled rows included.
    rng = np.random.default_rng(5)
    n = 3000
    t0 = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 200, size=n), unit="D")
    ages = rng.uniform(0, 250, size=n)
    masks = rng.integers(0, 2**40, size=n, dtype=np.int64)
    facts = pd.DataFrame({C.USER_ID: np.arange(n), C.T0: t0, C.AGE: ages, C.PERIOD_MASK[period]: masks})
    facts = facts.sample(frac=1.0, random_state=1).reset_index(drop=True)
    table = cohort_table(facts, period=period)
    length = C.PERIOD_DAYS[period]
    labels = table.cohort_sizes.index
    cohort_of = facts[C.T0].dt.to_period("W-SUN" if period == "week" else "M").dt.start_time
    assert set(cohort_of) == set(labels)
    for k in table.eligible.columns:
        ok = facts[C.AGE].to_numpy() >= (k + 1) * length
        bit = ((facts[C.PERIOD_MASK[period]].to_numpy() >> k) & 1).astype(bool)
        eligible = pd.Series(ok).groupby(cohort_of.to_numpy()).sum().reindex(labels, fill_value=0)
        retained = pd.Series(ok & bit).groupby(cohort_of.to_numpy()).sum().reindex(labels, fill_value=0)
        assert table.eligible[k].tolist() == eligible.astype(int).tolist()
        assert table.retained[k].tolist() == retained.astype(int).tolist()
    assert table.eligible.to_numpy().sum() > 0 and table.retained.to_numpy().sum() > 0


def _facts(write_csv, **params):
    """Four users signed up 2024-01-01..04, observed to 2024-02-29: u1 active on days 1 and 7,
    u2 on day 1, u3 never again, u4 on day 30. Params as given (else the package defaults)."""
    from onboarding_analysis.data.pipeline import compute_facts
    from onboarding_analysis.params import validate_params

    rows = [(f"u{i}", f"2024-01-0{i}T00:00:00Z", "signed_up") for i in range(1, 5)]
    rows += [("u1", "2024-01-02T10:00:00Z", "created_report"), ("u1", "2024-01-08T10:00:00Z", "created_report")]
    rows += [("u2", "2024-01-03T10:00:00Z", "created_report"), ("u4", "2024-02-03T10:00:00Z", "created_report")]
    events = pd.DataFrame(rows, columns=["user_id", "timestamp", "event"])
    base = {"events": write_csv(events), "observation_end": "2024-02-29", "min_cell_users": 1}
    return compute_facts(validate_params(base | params))


def test_facts_object_defaults_from_params(write_csv):
    """With the Facts object the days default to params retention_days and min_cell_users to
    params min_cell_users; the numbers are those of the bare table with the same options. By hand
    for days (1, 7): eligible 4 and 4; day 1: u1, u2 -> 2; day 7: u1 -> 1."""
    facts = _facts(write_csv, retention_days=[1, 7], min_cell_users=2)
    on = nday_retention(facts)
    assert on["day"].tolist() == [1, 7] and on["retained"].tolist() == [2, 1] and on["eligible"].tolist() == [4, 4]
    pd.testing.assert_frame_equal(on, nday_retention(facts.table, [1, 7]))
    pd.testing.assert_frame_equal(unbounded_retention(facts), unbounded_retention(facts.table, [1, 7]))
    pd.testing.assert_frame_equal(retention_curve(facts, max_day=8), retention_curve(facts.table, max_day=8))
    pd.testing.assert_frame_equal(
        bracket_retention(facts, [(1, 6)]), bracket_retention(facts.table, [(1, 6)])
    )
    weekly = cohort_table(facts)
    assert weekly.min_cell_users == 2
    pd.testing.assert_frame_equal(weekly.rates, cohort_table(facts.table, min_cell_users=2).rates)
    assert nday_retention(facts, [30])["day"].tolist() == [30]  # an explicit value wins


def test_bare_table_needs_the_days():
    facts = pd.DataFrame({"age_days": [10.0], "active_days_mask": [1], "last_active_day": [0]})
    with pytest.raises(ValueError, match="retention_days is required with a bare facts table"):
        nday_retention(facts)
    with pytest.raises(ValueError, match="retention_days"):
        unbounded_retention(facts)
