"""Before/after the onboarding change: follow-up caps, differences, the demo's known effect.

The demo's change (2024-04-01) multiplies the churn hazard of users active after signup by 0.8
and speeds up onboarding (fewer drop-outs, shorter delays). The true size of the two
differences the change is judged by is computed here by Monte Carlo from the generator (another
seed, 100,000 users, uncensored truth and the full event log), independently of the package's
estimators.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from statsmodels.stats.proportion import confint_proportions_2indep

from onboarding_analysis.analyses.change import (
    AFTER,
    BEFORE,
    capped_table,
    change_metrics,
    change_summary,
    compare_change,
    plot_cohort_trend,
)
from onboarding_analysis.data import columns as C
from onboarding_analysis.data.facts import Accounting, Facts
from onboarding_analysis.data.pipeline import compute_facts
from onboarding_analysis.demo import DemoSpec, generate, true_hazard_ratios, write_demo
from onboarding_analysis.demo.events import DAY_US
from onboarding_analysis.errors import DataError, ParamsError
from onboarding_analysis.params import load_params, validate_params

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_facts(tmp_path_factory):
    paths = write_demo(tmp_path_factory.mktemp("demo"), seed=20240101)
    raw = load_params(ROOT / "params" / "demo.yaml").as_notebook_parameters()
    return compute_facts(
        validate_params(raw | {"events": str(paths["events"]), "users": str(paths["users"])})
    )


@pytest.fixture(scope="module")
def result(demo_facts):
    return compare_change(demo_facts)


@pytest.fixture(scope="module")
def monte_carlo_truth():
    """True after-minus-before differences, from 100,000 simulated users (seed 7).

    * reached value by day 7: share with ``ttfv_days < 7`` (NaN = never), from the uncensored
      truth table;
    * day-30 retention: share with an active event on day index 30, from the event log, among
      users whose day 30 lies inside the written window (age >= 31 days; the hazards do not
      depend on the signup time within a period).
    """
    data = generate(DemoSpec(n_users=100_000), seed=7)
    truth = data.truth
    after = truth["after_change"].to_numpy()
    value7 = np.nan_to_num(truth["ttfv_days"].to_numpy(), nan=np.inf) < 7
    events = data.events[data.events["event"].to_numpy() != "signed_up"]
    owner = pd.Index(truth["user_id"]).get_indexer(events["user_id"])
    day = (
        events["timestamp"].astype("int64").to_numpy() - truth["signup_at"].astype("int64").to_numpy()[owner]
    ) // DAY_US
    active30 = np.zeros(len(truth), dtype=bool)
    active30[owner[day == 30]] = True
    eligible = truth["age_days"].to_numpy() >= 31
    return {
        "ttfv_day_7_diff": value7[after].mean() - value7[~after].mean(),
        "retention_day_30_diff": active30[after & eligible].mean() - active30[~after & eligible].mean(),
        "hazard_ratio": true_hazard_ratios(DemoSpec())["change"],
    }


# --- the demo's change --------------------------------------------------------------------------


def test_the_demo_change_is_detected_with_its_true_size(result, monte_carlo_truth):
    truth = monte_carlo_truth
    # Reached value by day 7: up, significantly, and the interval covers the true difference.
    assert result.ttfv_diff > 0 and result.ttfv_diff_ci_low > 0
    assert result.ttfv_diff_ci_low <= truth["ttfv_day_7_diff"] <= result.ttfv_diff_ci_high, truth
    # Churn hazard after vs before (users active after signup, adjusted for the segments): 0.8.
    assert result.hazard_ratio < 1 and result.hr_ci_high < 1
    assert result.hr_ci_low <= truth["hazard_ratio"] <= result.hr_ci_high
    assert result.logrank_p < 0.001 and result.ph_warning == ""
    # Day-30 retention: a small true gain (about +1.3 points), the right sign, covered.
    assert result.retention_diff > 0
    assert result.retention_diff_ci_low <= truth["retention_day_30_diff"] <= result.retention_diff_ci_high, (
        truth
    )
    # The intervals are informative: each is narrower than 0.05 on either side.
    assert result.ttfv_diff_ci_high - result.ttfv_diff_ci_low < 0.06
    assert result.retention_diff_ci_high - result.retention_diff_ci_low < 0.05


def test_follow_up_is_capped_at_what_the_after_group_can_have_had(demo_facts, result):
    table = demo_facts.table
    after = table[C.T0] >= pd.Timestamp("2024-04-01")
    assert (result.before_users, result.after_users) == (int((~after).sum()), int(after.sum()))
    tau_v = table.loc[after, C.AGE].max()
    assert result.ttfv_follow_up_days == tau_v
    assert result.lifetime_follow_up_days == tau_v - 30  # inactivity_days: churn seen 30 days late
    for fit in result.comparison.lifetimes.values():
        assert fit.kmf.durations.max() <= result.lifetime_follow_up_days
    for table_ in result.comparison.incidence.values():
        assert table_["time"].max() <= result.ttfv_follow_up_days
    # The uncapped before group is followed for far longer: the cap is doing something.
    assert table.loc[~after, C.LIFETIME].max() > result.lifetime_follow_up_days + 30


def test_capping_rules():
    table = pd.DataFrame(
        {
            C.AGE: [200.0, 200.0, 50.0, 200.0],
            C.LIFETIME: [150.0, 40.0, 10.0, 170.0],
            C.CHURNED: [True, True, False, False],
            C.VALUE: [130.0, 2.0, np.nan, 121.0],
        }
    )
    capped = capped_table(table, ttfv_cap=125.0, lifetime_cap=95.0)
    assert capped[C.LIFETIME].tolist() == [95.0, 40.0, 10.0, 95.0]
    assert capped[C.CHURNED].tolist() == [False, True, False, False]  # churn after the cap: censored
    assert capped[C.AGE].tolist() == [125.0, 125.0, 50.0, 125.0]
    np.testing.assert_array_equal(capped[C.VALUE], [np.nan, 2.0, np.nan, 121.0])


def _toy_facts(before: tuple[int, int], after: tuple[int, int], value: tuple[int, int], **params) -> Facts:
    """Uncensored toy users: (retained on day 30, users) and users reaching value by day 7."""
    rows = []
    for t0, (kept, n), reached in (("2024-01-10", before, value[0]), ("2024-05-10", after, value[1])):
        for i in range(n):
            rows.append(
                {
                    C.USER_ID: f"{t0}-{i}",
                    C.T0: pd.Timestamp(t0),
                    C.AGE: 100.0 if t0 > "2024-04" else 200.0,
                    C.LIFETIME: 60.0 + i % 7,
                    C.CHURNED: True,
                    C.VALUE: 1.0 + i % 5 if i < reached else np.nan,
                    C.active_day(1): True,
                    C.active_day(7): True,
                    C.active_day(30): i < kept,
                }
            )
    p = validate_params(
        {"events": "unused.csv", "change_date": "2024-04-01", "rmst_horizon_days": 50, **params}
    )
    acc = Accounting(events_read=0, events_used=0, excluded={}, users=len(rows), users_excluded={})
    return Facts(table=pd.DataFrame(rows), observation_end=dt.datetime(2024, 8, 19), accounting=acc, params=p)


def test_retention_difference_uses_newcombes_interval():
    # Newcombe (1998, Statistics in Medicine 17, 873-890), example (a): 56/70 vs 48/80,
    # difference 0.2000, hybrid score interval 0.0524 to 0.3339.
    result = compare_change(_toy_facts(before=(48, 80), after=(56, 70), value=(20, 30)), adjust_for=())
    assert result.retention_diff == pytest.approx(0.2)
    assert result.retention_diff_ci_low == pytest.approx(0.0524, abs=1e-4)
    assert result.retention_diff_ci_high == pytest.approx(0.3339, abs=1e-4)
    low, high = confint_proportions_2indep(56, 70, 48, 80, method="newcomb", compare="diff")
    assert (result.retention_diff_ci_low, result.retention_diff_ci_high) == (low, high)


def test_ttfv_difference_combines_the_two_standard_errors():
    # Without censoring the Aalen-Johansen incidence is the share, its delta-method SE the
    # binomial sqrt(p (1 - p) / n): the difference's interval is the Wald interval by hand.
    result = compare_change(_toy_facts(before=(48, 80), after=(56, 70), value=(20, 35)), adjust_for=())
    p_b, p_a = 20 / 80, 35 / 70
    se = math.sqrt(p_b * (1 - p_b) / 80 + p_a * (1 - p_a) / 70)
    assert result.ttfv_diff == pytest.approx(p_a - p_b, abs=1e-12)
    assert result.ttfv_diff_ci_low == pytest.approx(p_a - p_b - 1.959963984540054 * se, abs=1e-9)
    assert result.ttfv_diff_ci_high == pytest.approx(p_a - p_b + 1.959963984540054 * se, abs=1e-9)
    assert result.ttfv_before[1] == pytest.approx(math.sqrt(p_b * (1 - p_b) / 80), abs=1e-12)


def test_churn_event_rule_has_no_delay():
    result = compare_change(
        _toy_facts(before=(48, 80), after=(56, 70), value=(20, 35), churn_event="cancelled"), adjust_for=()
    )
    assert result.lifetime_follow_up_days == result.ttfv_follow_up_days == 100.0


# --- errors, outputs, plot ----------------------------------------------------------------------


def test_missing_or_useless_change_dates_are_errors(demo_facts):
    no_date = dataclasses.replace(demo_facts, params=dataclasses.replace(demo_facts.params, change_date=None))
    with pytest.raises(ParamsError, match="set params change_date"):
        compare_change(no_date)
    with pytest.raises(DataError, match="no user signed up after the change date 2025-01-01"):
        compare_change(demo_facts, "2025-01-01")
    with pytest.raises(DataError, match="no churn can be observed yet"):
        compare_change(demo_facts, "2024-08-10")
    with pytest.raises(ParamsError, match="change_date must be a date"):
        compare_change(demo_facts, "April")


def test_metrics_are_plain_json(result):
    metrics = json.loads(json.dumps(change_metrics(result), allow_nan=False))["change"]
    assert set(metrics) >= {
        "before_users",
        "after_users",
        "ttfv_day_7_diff",
        "ttfv_day_7_diff_ci_low",
        "ttfv_day_7_diff_ci_high",
        "retention_day_30_diff",
        "retention_day_30_diff_ci_low",
        "retention_day_30_diff_ci_high",
        "logrank_p",
        "hazard_ratio",
        "hr_ci_low",
        "hr_ci_high",
    }
    assert metrics["change_date"] == "2024-04-01" and isinstance(metrics["before_users"], int)
    assert metrics["hazard_ratio"] == pytest.approx(result.hazard_ratio)


def test_summary_and_the_full_comparison(result):
    summary = change_summary(result)
    assert summary["what"].tolist()[1:3] == ["reached value by day 7", "day-30 retention"]
    assert "not an experiment" in summary.attrs["note"]
    groups = result.comparison.groups
    assert groups["group"].tolist() == [BEFORE, AFTER] and result.comparison.reference == BEFORE
    assert (
        np.isfinite(groups["rmst_diff"]).all()
        and result.comparison.horizon_days <= result.lifetime_follow_up_days
    )


def test_cohort_trend_plot(result):
    import matplotlib.pyplot as plt

    cohorts = result.cohorts
    assert cohorts["users"].sum() == result.before_users + result.after_users
    assert set(cohorts["period"]) <= {BEFORE, AFTER, "both"}
    assert ((cohorts["ttfv_ci_low"] <= cohorts["ttfv"]) & (cohorts["ttfv"] <= cohorts["ttfv_ci_high"])).all()
    ax = plot_cohort_trend(result)
    assert isinstance(ax, Axes)
    change = matplotlib.dates.date2num(pd.Timestamp("2024-04-01"))
    assert any(
        np.allclose(matplotlib.dates.date2num(line.get_xdata()), change)
        for line in ax.get_lines()
        if len(line.get_xdata()) == 2
    )
    plt.close(ax.figure)


def test_a_separated_change_has_no_hazard_ratio_and_keeps_the_other_figures():
    # Every signup before the change churns within 10 days; every signup after it lasts 30-39
    # days: the after group churns only once nobody from before is at risk (monotone likelihood,
    # the ratio would be 0). (Before the check this stopped on a singular information matrix.)
    facts = _toy_facts(before=(0, 60), after=(50, 60), value=(10, 20))
    table = facts.table.copy()
    before = (table[C.T0] < pd.Timestamp("2024-04-01")).to_numpy()
    i = np.arange(len(table)) % 10
    table[C.LIFETIME] = np.where(before, 1.0 + i, 30.0 + i)
    table[C.active_day(30)] = (table[C.LIFETIME] > 30).to_numpy()
    result = compare_change(dataclasses.replace(facts, table=table), adjust_for=())
    assert math.isnan(result.hazard_ratio) and math.isnan(result.hr_ci_low) and math.isnan(result.hr_p)
    assert result.hr_note.startswith("not estimable: monotone likelihood: these users churn only once")
    assert result.logrank_p < 1e-10  # the log-rank test is kept, and says the curves differ
    # Active on day 30: after, the 54 of 60 users lasting beyond day 30 (30 + i, i = 1..9); before, none.
    assert result.retention_diff == pytest.approx(54 / 60)
    summary = change_summary(result)
    assert summary["what"].iloc[3] == f"churn hazard ratio, after vs before (Cox): {result.hr_note}"
    metrics = json.loads(json.dumps(change_metrics(result), allow_nan=False))["change"]
    assert metrics["hazard_ratio"] is metrics["hr_ci_low"] is metrics["hr_ci_high"] is metrics["hr_p"] is None
    assert metrics["logrank_p"] is not None and metrics["retention_day_30_diff"] is not None
