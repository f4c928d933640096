"""Revenue impact of churn: the published arithmetic, hand-computed MRR flows, the demo's truth."""

from __future__ import annotations

import json
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from onboarding_analysis.analyses.revenue import (  # noqa: E402
    MONTH_COLUMNS,
    PROJECTION_COLUMNS,
    plot_net_churn,
    plot_revenue_projection,
    project_revenue,
    projection_table,
    revenue_churn,
    revenue_metrics,
)
from onboarding_analysis.data.pipeline import compute_facts  # noqa: E402
from onboarding_analysis.demo import (  # noqa: E402
    DemoSpec,
    true_monthly_net_churn,
    true_revenue_months,
    write_demo,
)
from onboarding_analysis.errors import DataError, ParamsError  # noqa: E402
from onboarding_analysis.params import validate_params  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --- the published arithmetic -----------------------------------------------------------------


def test_a_year_at_minus_five_percent_is_73_percent_more_than_at_plus_five():
    """docs/metrics.md (revenue projection): "With c = +5% versus c = -5% the second year-sum is about 73% larger."

    One year of revenue from a base R is sum_{k=0}^{11} R (1 - c)^k = R (1 - (1 - c)^12) / c:
      c = +0.05: R (1 - 0.95^12) / 0.05 = R * 9.19279  (0.95^12 = 0.540360)
      c = -0.05: R (1.05^12 - 1) / 0.05 = R * 15.91713 (1.05^12 = 1.795856)
    and 15.91713 / 9.19279 = 1.7315: the second of the two year-sums (c = -5%) is 73% larger.
    It is the sums over the *same* twelve months k = 0..11 from the same base. The sums over a
    second year k = 12..23 differ far more, 1.05^12 / 0.95^12 = 3.32 times as much again:
    28.585 / 4.967 = 5.75; and two-year sums (k = 0..23) differ 3.14-fold.
    """
    R = 1000.0
    worse, better = project_revenue(R, 0.05), project_revenue(R, -0.05)
    assert worse == pytest.approx(R * (1 - 0.95**12) / 0.05)
    assert better == pytest.approx(R * (1.05**12 - 1) / 0.05)
    assert worse == pytest.approx(9192.79, abs=0.01) and better == pytest.approx(15917.13, abs=0.01)
    assert round(better / worse, 4) == 1.7315
    assert better / worse - 1 == pytest.approx(0.73, abs=0.005)
    second_year = project_revenue(R, -0.05, start=12) / project_revenue(R, 0.05, start=12)
    assert second_year == pytest.approx(5.7545, abs=1e-4)
    assert project_revenue(R, -0.05, months=24) / project_revenue(R, 0.05, months=24) == pytest.approx(
        3.1427, abs=1e-4
    )


def test_project_revenue_edge_cases():
    assert project_revenue(100.0, 0.0) == 1200.0
    assert project_revenue(100.0, 0.5, months=3) == pytest.approx(100 + 50 + 25)
    with pytest.raises(ValueError, match="between -1 and 1"):
        project_revenue(100.0, 1.0)
    with pytest.raises(ValueError, match="months"):
        project_revenue(100.0, 0.1, months=0)


def test_projection_table_by_hand():
    table = projection_table(100.0, 0.1, [0.0, -0.05], ci=(0.05, 0.15))
    assert list(table.columns) == PROJECTION_COLUMNS
    assert list(table["scenario"]) == ["measured", "scenario +0.0%", "scenario -5.0%"]
    measured = table.iloc[0]
    assert measured["projected_year_revenue"] == pytest.approx(100 * (1 - 0.9**12) / 0.1)
    # Higher churn, lower revenue: the revenue interval's low end is the churn interval's high end.
    assert measured["revenue_ci_low"] == pytest.approx(project_revenue(100.0, 0.15))
    assert measured["revenue_ci_high"] == pytest.approx(project_revenue(100.0, 0.05))
    assert table.iloc[1]["projected_year_revenue"] == 1200.0
    assert table["vs_measured"].iloc[0] == 1.0
    assert projection_table(100.0, None, [0.02])["scenario"].tolist() == ["scenario +2.0%"]


# --- hand-made MRR logs -----------------------------------------------------------------------


def mrr_log():
    """Five accounts, one user each; value = the account's MRR after the event.

    Month boundaries (UTC): Jan 1, Feb 1, Mar 1, Apr 1 = T. MRR at a boundary = the last event
    strictly before it.
      A: 100 on Jan 5, 200 on Feb 10 (expansion in Feb)
      B:  50 on Jan 2,   0 on Feb 20 (churned in Feb)
      C: 200 on Jan 3, 120 on Mar 15 (contraction in Mar)
      D:  80 on Feb 3 (new business in Feb)
      E:  60 on Jan 10, 0 on Jan 20 (in and out within January: in no flow), 70 on Mar 1 00:00
          exactly (the event belongs to March: new business in March)
    """
    rows = [
        ("a", "A", "2024-01-01", None),
        ("a", "A", "2024-01-05", 100),
        ("a", "A", "2024-02-10", 200),
        ("b", "B", "2024-01-01", None),
        ("b", "B", "2024-01-02", 50),
        ("b", "B", "2024-02-20", 0),
        ("c", "C", "2024-01-01", None),
        ("c", "C", "2024-01-03", 200),
        ("c", "C", "2024-03-15", 120),
        ("d", "D", "2024-02-01", None),
        ("d", "D", "2024-02-03", 80),
        ("e", "E", "2024-01-01", None),
        ("e", "E", "2024-01-10", 60),
        ("e", "E", "2024-01-20", 0),
        ("e", "E", "2024-03-01T00:00:00", 70),
    ]
    return pd.DataFrame(
        [
            {
                "user_id": u,
                "account_id": a,
                "event": "signed_up" if v is None else "mrr",
                "timestamp": t + "Z" if "T" in t else t + "T00:00:00Z",
                "value": v,
            }
            for u, a, t, v in rows
        ]
    )


@pytest.fixture
def facts_of(write_csv):
    def build(frame, **params):
        base = {
            "events": write_csv(frame),
            "observation_end": "2024-03-31",
            "revenue_event": "mrr",
            "churn_scenarios": [0.05, -0.05],
        }
        return compute_facts(validate_params(base | params))

    return build


def test_monthly_flows_by_hand(facts_of):
    """January: nobody paid on Jan 1 -> no rate; A, B, C (350) are new business.
    February: paying A 100, B 50, C 200 = 350; end A 200, B 0, C 200 = 400: churned 50 (B),
    expansion 100 (A): net churn (50 - 100) / 350 = -1/7 (net negative churn); new: D 80.
    March: paying A 200, C 200, D 80 = 480; end A 200, C 120, D 80 = 400: contraction 80 (C):
    net churn 80 / 480 = 1/6; new: E 70.
    Pooled: (-50 + 80) / (350 + 480) = 30 / 830. Current MRR at T: 200 + 0 + 120 + 80 + 70 = 470.
    """
    result = revenue_churn(facts_of(mrr_log()), n_boot=200, seed=1)
    months = result.months
    assert list(months.columns) == MONTH_COLUMNS
    assert months["month"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]))
    assert months["accounts"].tolist() == [0, 3, 3]
    assert months["starting_mrr"].tolist() == [0, 350, 480]
    assert months["churned_mrr"].tolist() == [0, 50, 0]
    assert months["contraction_mrr"].tolist() == [0, 0, 80]
    assert months["expansion_mrr"].tolist() == [0, 100, 0]
    assert months["new_mrr"].tolist() == [350, 80, 70]
    assert np.isnan(months["net_churn"].iloc[0]) and np.isnan(months["ci_low"].iloc[0])
    np.testing.assert_allclose(months["net_churn"].iloc[1:], [-50 / 350, 80 / 480])
    assert result.monthly_net_churn == pytest.approx(30 / 830)
    assert result.current_mrr == 470
    assert result.accounts == 5
    assert result.ci_low <= result.monthly_net_churn <= result.ci_high
    measured = result.projection.set_index("scenario").loc["measured"]
    assert measured["projected_year_revenue"] == pytest.approx(project_revenue(470, 30 / 830))


def test_bootstrap_is_seeded(facts_of):
    facts = facts_of(mrr_log())
    a, b = revenue_churn(facts, n_boot=300, seed=7), revenue_churn(facts, n_boot=300, seed=7)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    none = revenue_churn(facts, n_boot=0)
    assert none.ci_low is None and none.monthly_net_churn == a.monthly_net_churn


def test_without_account_ids_users_are_the_accounts(facts_of):
    frame = mrr_log().drop(columns="account_id")
    result = revenue_churn(facts_of(frame), n_boot=0)
    assert result.monthly_net_churn == pytest.approx(30 / 830)


def test_bad_revenue_input(facts_of):
    frame = mrr_log()
    with pytest.raises(ParamsError, match="revenue_event"):
        revenue_churn(facts_of(frame, revenue_event=None))
    frame.loc[frame["event"].eq("mrr").idxmax(), "value"] = None
    with pytest.raises(DataError, match="missing or negative"):
        revenue_churn(facts_of(frame))


def test_no_revenue_events_give_no_rate(facts_of):
    result = revenue_churn(facts_of(mrr_log(), revenue_event="nothing_like_it"))
    assert result.monthly_net_churn is None and result.months.empty
    metrics = revenue_metrics(result)
    assert metrics["revenue"]["monthly_net_churn"] is None
    json.dumps(metrics, allow_nan=False)


# --- the demo ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    spec = DemoSpec(n_users=2000)
    paths = write_demo(tmp_path_factory.mktemp("demo_revenue"), spec, seed=11)
    params = validate_params(
        {
            "events": str(paths["events"]),
            "users": str(paths["users"]),
            "observation_end": spec.observation_end,
            "revenue_event": "mrr_changed",
        }
    )
    return revenue_churn(compute_facts(params), seed=3), pd.read_parquet(paths["truth"]), spec


def test_demo_net_churn_equals_the_truth_by_construction(demo):
    """The demo's MRR follows its users' seats (free plans pay nothing): the month-by-month flows
    rebuilt from the truth columns alone equal the measured ones exactly."""
    result, truth, spec = demo
    expected = true_revenue_months(truth, spec)
    measured = result.months[list(expected.columns)]
    pd.testing.assert_frame_equal(measured, expected, check_dtype=False, atol=1e-9)
    assert result.monthly_net_churn == pytest.approx(true_monthly_net_churn(truth, spec), abs=1e-12)
    # Seats leave with their users (mean lifetimes of 2-3 months): a steep churn, but expansion
    # (teammates joining) offsets part of it every month.
    assert 0.05 < result.monthly_net_churn < 0.3
    assert (result.months["expansion_mrr"].iloc[1:] > 0).all()
    assert result.ci_low < result.monthly_net_churn < result.ci_high
    assert result.ci_high - result.ci_low < 0.1


def test_demo_metrics_and_plots(demo):
    result, _, _ = demo
    metrics = revenue_metrics(result)["revenue"]
    assert set(metrics) >= {"monthly_net_churn", "projected_year_revenue", "scenarios"}
    assert [s["monthly_net_churn"] for s in metrics["scenarios"]] == [0.02, 0.05, -0.05]
    assert metrics["projected_year_revenue"] == pytest.approx(
        project_revenue(result.current_mrr, result.monthly_net_churn)
    )
    json.dumps(revenue_metrics(result), allow_nan=False)
    ax = plot_revenue_projection(result)
    assert isinstance(ax, Axes) and len(ax.get_lines()) == 4
    _, given = plt.subplots()
    assert plot_net_churn(result, ax=given) is given
    assert math.isfinite(result.current_mrr) and result.current_mrr > 0


# --- the bootstrap ----------------------------------------------------------------------------


def _tied_accounts(n=2000, months=3, seed=5):
    """Paying accounts whose MRR takes a few plan prices, so many accounts share their rows."""
    rng = np.random.default_rng(seed)
    start = rng.choice([0.0, 50.0, 100.0, 300.0], size=(n, months), p=[0.2, 0.4, 0.3, 0.1])
    start[:, 0] = np.maximum(start[:, 0], 50.0)  # every account pays in the first month
    change = rng.choice([0.0, 1.0, 2.0], size=(n, months), p=[0.2, 0.7, 0.1])
    kept = np.where(start > 0, start * change, 0.0)
    return start, kept


def _per_account_bootstrap(start, kept, n_boot, seed):
    """The textbook resampling: n account indices drawn with replacement, flows summed."""
    rng = np.random.default_rng(seed)
    n = len(start)
    pooled, first = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        s, k = start[idx].sum(axis=0), kept[idx].sum(axis=0)
        pooled[b], first[b] = 1 - k.sum() / s.sum(), 1 - k[0] / s[0]
    return pooled, first


def test_pooled_rows_bootstrap_has_the_per_account_distribution():
    """Drawing the copies of each distinct row from multinomial(n, counts / n) resamples the
    accounts themselves: the replicates of the pooled and of a month's net churn follow the
    per-account bootstrap's distribution (two-sample Kolmogorov-Smirnov, 4,000 replicates each),
    while a pooling that ignored the counts (each distinct row equally likely) is rejected."""
    from scipy.stats import ks_2samp

    from onboarding_analysis.analyses.revenue import _bootstrap

    start, kept = _tied_accounts()
    assert len(np.unique(np.hstack([start, kept]), axis=0)) < len(start) / 4  # heavy ties
    pooled, per_month = _bootstrap(start, kept, 4000, seed=1)
    ref_pooled, ref_first = _per_account_bootstrap(start, kept, 4000, seed=2)
    assert ks_2samp(pooled, ref_pooled).pvalue > 1e-3
    assert ks_2samp(per_month[:, 0], ref_first).pvalue > 1e-3
    assert pooled.std() == pytest.approx(ref_pooled.std(), rel=0.1)
    # The check has power: equal weights per distinct row give another distribution.
    rows = np.unique(np.hstack([start, kept]), axis=0)
    wrong_start, wrong_kept = rows[:, :3], rows[:, 3:]
    wrong, _ = _per_account_bootstrap(wrong_start, wrong_kept, 4000, seed=3)
    assert ks_2samp(wrong, ref_pooled).pvalue < 1e-6
