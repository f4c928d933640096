"""Lifetime (Kaplan-Meier): hand-computed cases, published references, recovery, weights."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from scipy.stats import norm

from onboarding_analysis.analyses.lifetime import (
    SURVIVAL_COLUMNS,
    LifetimeResult,
    fit_lifetime,
    lifetime_metrics,
)
from onboarding_analysis.data import columns as C
from onboarding_analysis.errors import DataError, StatisticalWarning


def make_facts(lifetimes, churned) -> pd.DataFrame:
    return pd.DataFrame(
        {C.LIFETIME: np.asarray(lifetimes, dtype=float), C.CHURNED: np.asarray(churned, dtype=bool)}
    )


def fit_quietly(facts: pd.DataFrame, **kwargs) -> LifetimeResult:
    """fit_lifetime, asserting that it emits no warning at all."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit_lifetime(facts, **kwargs)
    assert [str(w.message) for w in caught] == []
    return result


# AML data (R survival's `aml`, from Miller 1981, "Survival Analysis", p. 49): weeks in remission.
AML_MAINTAINED = ([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161], [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
AML_NONMAINTAINED = ([5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45], [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1])


# --- survival "at day N" is the value just before N ---------------------------------------------


def test_survival_at_day_n_is_the_left_limit():
    # Lifetimes 1, 2, 2 (churned) and 3 (censored). By hand, P(lifetime >= N):
    #   N=0: 1; N=1: nobody churned before day 1 -> 1; N=2: 1 of 4 churned (at 1) -> 3/4;
    #   N=3: then 2 of the 3 at risk at day 2 churned -> 3/4 * 1/3 = 1/4; N=4: the last user is
    #   censored at 3, nobody is at risk on day 4: not estimable (NaN, null in metrics.json).
    # Users at risk at N (lifetime >= N): 4, 4, 3, 1, 0.
    facts = make_facts([1, 2, 2, 3], [True, True, True, False])
    result = fit_quietly(facts, days=[0, 1, 2, 3, 4], horizon_days=3)
    assert list(result.survival.columns) == SURVIVAL_COLUMNS
    assert result.survival["day"].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(result.survival["survival"], [1, 1, 0.75, 0.25, np.nan], rtol=1e-12)
    assert result.survival["at_risk"].tolist() == [4, 4, 3, 1, 0]
    assert result.survival.loc[4, ["ci_low", "ci_high"]].isna().all()
    assert result.survival.attrs["note"] == "Not estimable on day 4: no user has been observed that long."
    assert lifetime_metrics(result)["lifetime"]["survival"]["day_4"] is None
    # lifelines' own value at N is the right limit, which counts users who churned at exactly N:
    assert result.kmf.survival_function_at_times(2).iloc[0] == pytest.approx(0.25)
    # The interval brackets the estimate; at day 0 and day 1 nothing has happened yet.
    s = result.survival.dropna()
    assert (s["ci_low"] <= s["survival"]).all() and (s["survival"] <= s["ci_high"]).all()
    assert s.loc[0, ["ci_low", "ci_high"]].tolist() == [1.0, 1.0]
    # Median: the curve first reaches <= 0.5 at 2. RMST(3) = 1*1 + 1*0.75 + 1*0.25 = 2.
    assert result.median_days == 2.0
    assert result.rmst_days == pytest.approx(2.0, rel=1e-12)
    assert (result.users, result.churned, result.censored) == (4, 3, 1)


def test_fractional_lifetimes_just_below_and_above_n():
    # Churn at 6.999 days happened before day 7; churn at 7.0 did not.
    result = fit_quietly(
        make_facts([6.999, 7.0, 8.0, 9.0], [True, True, False, False]), days=[7, 8], horizon_days=9
    )
    assert result.survival["survival"].tolist() == pytest.approx([0.75, 0.75 * 2 / 3])


# --- published references ----------------------------------------------------------------------


def test_aml_maintained_matches_r_survival_summary():
    # R: summary(survfit(Surv(time, status) ~ x, data = aml)), group x=Maintained (survival package,
    # data from Miller 1981). Published columns: time, survival, std.err (Greenwood), to 3-4 digits:
    published = [
        (9, 0.909, 0.0867),
        (13, 0.818, 0.1163),
        (18, 0.716, 0.1397),
        (23, 0.614, 0.1526),
        (31, 0.491, 0.1642),
        (34, 0.368, 0.1627),
        (48, 0.184, 0.1535),
    ]
    facts = make_facts(*AML_MAINTAINED)
    # The value published at event time t is the value just before day t + 1 (and after day t).
    days = [t + 1 for t, _, _ in published] + [t for t, _, _ in published]
    result = fit_quietly(facts, days=days, horizon_days=161)
    table = result.survival.set_index("day")
    z = norm.ppf(0.975)
    for time, survival, std_err in published:
        row = table.loc[time + 1]
        assert row.survival == pytest.approx(survival, abs=5e-4)
        # lifelines' band is the log(-log) ("exponential Greenwood") one:
        # S ** exp(+-z * se(log S) / log S), with se(log S) = std.err / S.
        theta = z * (std_err / survival) / math.log(survival)
        assert row.ci_low == pytest.approx(survival ** math.exp(-theta), abs=3e-3)
        assert row.ci_high == pytest.approx(survival ** math.exp(theta), abs=3e-3)
    # Just before an event time the estimate is the previous step: 1 before week 9, 0.909 before 13.
    assert table.loc[9, "survival"] == 1.0
    assert table.loc[13, "survival"] == pytest.approx(0.909, abs=5e-4)


def test_aml_medians_match_r_survival():
    # R: survfit(Surv(time, status) ~ x, data = aml) prints medians 31 (Maintained) and
    # 23 (Nonmaintained) weeks (survival package; reproduced in many tutorials).
    assert fit_quietly(make_facts(*AML_MAINTAINED), horizon_days=161).median_days == 31.0
    assert fit_quietly(make_facts(*AML_NONMAINTAINED), horizon_days=45).median_days == 23.0


@pytest.mark.parametrize(("horizon", "rmst", "se"), [(20, 16.2, 1.99), (34, 23.1, 3.78)])
def test_rmst_and_its_se_match_r_print_survfit(horizon, rmst, se):
    # R: print(survfit(Surv(X, delta) ~ 1), print.rmean = TRUE, rmean = 20) with
    # X = 2, 5+, 8, 12+, 15, 21+, 25, 29, 30+, 34 prints rmean 16.2, se(rmean) 1.99, median 25;
    # with the default upper limit (34): rmean 23.1, se(rmean) 3.78. (R survival, print.survfit;
    # output reproduced in a public biostatistics course notebook.)
    facts = make_facts([2, 5, 8, 12, 15, 21, 25, 29, 30, 34], [1, 0, 1, 0, 1, 0, 1, 1, 0, 1])
    result = fit_quietly(facts, horizon_days=horizon)
    assert result.rmst_days == pytest.approx(rmst, abs=0.05)
    assert result.rmst_se == pytest.approx(se, abs=0.005)
    assert result.median_days == 25.0


def greenwood_rmst_se(durations, events, horizon) -> tuple[float, float]:
    """(SE, RMST): Klein & Moeschberger (2003) eq. 4.5.2, written out without lifelines."""
    durations, events = np.asarray(durations, float), np.asarray(events, bool)
    times = np.unique(durations[events])
    survival, steps = 1.0, []  # (time, S just after time)
    for t in times:
        n = (durations >= t).sum()
        d = (events & (durations == t)).sum()
        survival *= 1 - d / n
        steps.append((t, survival, n, d))

    def area(start):
        knots = [start] + [t for t, *_ in steps if start < t < horizon] + [horizon]
        values = [1.0] + [s for _, s, *_ in steps]
        times_ = [0.0] + [t for t, *_ in steps]
        total = 0.0
        for a, b in zip(knots[:-1], knots[1:], strict=True):
            level = values[np.searchsorted(times_, a, side="right") - 1]
            total += level * (b - a)
        return total

    variance = sum(area(t) ** 2 * d / (n * (n - d)) for t, _, n, d in steps if t <= horizon and n > d)
    return math.sqrt(variance), area(0.0)


def test_rmst_against_lifelines_and_a_hand_greenwood_on_ties():
    rng = np.random.default_rng(7)
    durations = rng.integers(0, 40, size=300).astype(float)  # day-granular: many ties, some zeros
    events = rng.random(300) < 0.7
    result = fit_quietly(make_facts(durations, events), horizon_days=30)
    # Users censored at 0 carry no information and are left out (fit_lifetime's rule).
    keep = events | (durations > 0)
    assert result.unobservable == int((~keep).sum()) > 0
    durations, events = durations[keep], events[keep]
    kmf = KaplanMeierFitter().fit(durations, events)
    assert result.rmst_days == pytest.approx(restricted_mean_survival_time(kmf, t=30), rel=1e-12)
    se, area = greenwood_rmst_se(durations, events, 30)
    assert result.rmst_days == pytest.approx(area, rel=1e-12)
    assert result.rmst_se == pytest.approx(se, rel=1e-10)


def test_churn_time_timeline_gives_the_figures_of_lifelines_default_timeline():
    # fit_lifetime evaluates the curve at 0, the churn times and the longest lifetime only; on
    # continuous durations with most users censored, every figure must equal lifelines' fit on
    # its default timeline (every distinct duration), and the curve must run to the longest one.
    rng = np.random.default_rng(11)
    durations = rng.exponential(20.0, size=2_000)
    censor = rng.uniform(0, 40, size=2_000)
    events = durations <= censor
    durations = np.minimum(durations, censor)
    assert (~events).mean() > 0.3
    result = fit_quietly(make_facts(durations, events), days=[1, 7, 30], horizon_days=30)
    full = KaplanMeierFitter().fit(durations, events)
    assert len(result.kmf.survival_function_) < len(full.survival_function_) * 0.75
    assert result.kmf.survival_function_.index.max() == durations.max()
    for day, value in zip([1, 7, 30], result.survival["survival"], strict=True):
        before = full.survival_function_.loc[full.survival_function_.index < day].iloc[-1, 0]
        assert value == pytest.approx(before, rel=1e-14)
    assert result.median_days == pytest.approx(full.median_survival_time_, rel=1e-14)
    assert result.rmst_days == pytest.approx(restricted_mean_survival_time(full, t=30), rel=1e-12)
    assert result.rmst_se == pytest.approx(loop_rmst_se(full, 30), rel=1e-10)
    # The curve at every distinct duration (a step function: padded from the churn times).
    padded = result.kmf.survival_function_.reindex(full.survival_function_.index, method="pad")
    np.testing.assert_allclose(padded.to_numpy(), full.survival_function_.to_numpy(), rtol=1e-13)
    ci = result.kmf.confidence_interval_survival_function_
    padded_ci = ci.reindex(full.confidence_interval_survival_function_.index, method="pad")
    np.testing.assert_allclose(
        padded_ci.to_numpy(), full.confidence_interval_survival_function_.to_numpy(), rtol=1e-12
    )


def loop_rmst_se(kmf: KaplanMeierFitter, horizon: float) -> float:
    """The previous (per-time Python loop) implementation of lifetime._rmst_se, kept as a reference."""
    sf = kmf.survival_function_.iloc[:, 0]
    times = sf.index.to_numpy(dtype=float)
    values = sf.to_numpy(dtype=float)
    keep = times <= horizon
    knots = np.append(times[keep], horizon)
    area_to = np.concatenate(([0.0], np.cumsum(np.diff(knots) * values[keep])))
    area_after = dict(zip(times[keep], area_to[-1] - area_to[:-1], strict=True))
    table = kmf.event_table
    variance = 0.0
    for time, deaths, at_risk in zip(
        table.index.to_numpy(dtype=float), table["observed"], table["at_risk"], strict=True
    ):
        if time > horizon or deaths <= 0 or at_risk <= deaths:
            continue
        variance += area_after[time] ** 2 * deaths / (at_risk * (at_risk - deaths))
    return math.sqrt(variance)


@pytest.mark.parametrize("granular", [True, False])
@pytest.mark.parametrize("horizon", [0.5, 7.0, 12.3, 30.0, 500.0])
def test_vectorised_rmst_se_equals_the_loop_implementation(granular, horizon):
    # Ties (day-granular durations, zeros), censoring, horizons on, between, before and beyond
    # the event times; also with frequency weights (the compressed path).
    from onboarding_analysis.analyses.lifetime import _rmst_se

    rng = np.random.default_rng(11 if granular else 12)
    n = 4000
    lifetime = rng.exponential(15.0, size=n)
    censor = rng.uniform(0, 45, size=n)
    durations = np.minimum(lifetime, censor)
    if granular:
        durations = np.floor(durations)
    events = lifetime <= censor
    for weights in (None, rng.integers(1, 5, size=n).astype(float)):
        kmf = KaplanMeierFitter().fit(durations, events, weights=weights)
        reference = loop_rmst_se(kmf, horizon)
        assert reference > 0
        assert _rmst_se(kmf, horizon) == pytest.approx(reference, rel=1e-11)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)  # horizon 500 is beyond the follow-up
            result = fit_lifetime(
                make_facts(durations, events).assign(users=1 if weights is None else weights),
                days=[],
                horizon_days=horizon,
                weights="users",
            )
        keep = events | (durations > 0)
        kept = KaplanMeierFitter().fit(
            durations[keep], events[keep], weights=None if weights is None else weights[keep]
        )
        assert result.rmst_se == pytest.approx(loop_rmst_se(kept, horizon), rel=1e-11)


def test_rmst_se_is_zero_without_usable_event_times():
    # All events after the horizon, or every user dying at once: no Greenwood term, SE 0.
    from onboarding_analysis.analyses.lifetime import _rmst_se

    late = KaplanMeierFitter().fit([5.0, 6.0, 7.0], [True, False, True])
    assert _rmst_se(late, 2.0) == loop_rmst_se(late, 2.0) == 0.0
    together = KaplanMeierFitter().fit([3.0, 3.0], [True, True])
    assert _rmst_se(together, 10.0) == loop_rmst_se(together, 10.0) == 0.0


def test_rmst_se_is_the_sampling_error():
    # Across repeated samples, the SD of the RMST estimate matches the mean reported SE.
    # (lifelines' restricted_mean_survival_time(return_variance=True) gives the variance of
    # min(T, horizon) instead, about sqrt(n) times larger: it is not usable as an SE.)
    rng = np.random.default_rng(2024)
    estimates, ses = [], []
    for _ in range(300):
        lifetime = rng.exponential(20.0, size=200)
        censor = rng.uniform(0, 60, size=200)
        facts = make_facts(np.minimum(lifetime, censor), lifetime <= censor)
        result = fit_lifetime(facts, days=[], horizon_days=30)
        estimates.append(result.rmst_days)
        ses.append(result.rmst_se)
    truth = 20.0 * (1 - math.exp(-30 / 20.0))
    assert np.mean(estimates) == pytest.approx(truth, rel=0.01)
    assert np.mean(ses) == pytest.approx(np.std(estimates, ddof=1), rel=0.12)


# --- recovery of a known truth -----------------------------------------------------------------


def test_recovers_exponential_survival_with_independent_censoring():
    rng = np.random.default_rng(12345)
    n, mean = 3000, 20.0
    lifetime = rng.exponential(mean, size=n)
    censor = rng.uniform(0, 80, size=n)  # independent of the lifetime
    facts = make_facts(np.minimum(lifetime, censor), lifetime <= censor)
    result = fit_quietly(facts, days=[1, 7, 30], horizon_days=60)
    table = result.survival.set_index("day")
    for day in (1, 7, 30):
        truth = math.exp(-day / mean)
        assert table.loc[day, "ci_low"] <= truth <= table.loc[day, "ci_high"]
        # A hazard 15% off is rejected at days 7 and 30 (the test has power).
        wrong = math.exp(-day * 1.15 / mean)
        if day >= 7:
            assert not table.loc[day, "ci_low"] <= wrong <= table.loc[day, "ci_high"]
    median = mean * math.log(2)
    assert result.median_ci_low <= median <= result.median_ci_high
    assert not result.median_ci_low <= median * 1.15 <= result.median_ci_high
    rmst = mean * (1 - math.exp(-60 / mean))
    assert abs(result.rmst_days - rmst) <= 1.96 * result.rmst_se
    assert abs(result.rmst_days - rmst * 0.93) > 1.96 * result.rmst_se


# --- weights -----------------------------------------------------------------------------------


def test_frequency_weights_equal_the_expanded_fit_exactly():
    rng = np.random.default_rng(3)
    durations = rng.integers(0, 15, size=500).astype(float)
    events = rng.random(500) < 0.6
    expanded = make_facts(durations, events)
    collapsed = expanded.groupby([C.LIFETIME, C.CHURNED]).size().rename("users").reset_index()
    assert len(collapsed) < 40  # heavy ties: the collapsed frame is much smaller
    options = {"days": [0, 1, 5, 7, 14, 20], "horizon_days": 14}
    plain = fit_quietly(expanded, **options)
    weighted = fit_quietly(collapsed, weights="users", **options)
    by_array = fit_quietly(collapsed, weights=collapsed["users"].to_numpy(), **options)

    for other in (weighted, by_array):
        pd.testing.assert_frame_equal(other.survival, plain.survival, check_exact=False, rtol=1e-12)
        np.testing.assert_allclose(other.kmf.survival_function_, plain.kmf.survival_function_, rtol=1e-12)
        np.testing.assert_allclose(other.kmf.confidence_interval_, plain.kmf.confidence_interval_, rtol=1e-12)
        for name in ("rmst_days", "rmst_se"):
            np.testing.assert_allclose(getattr(other, name), getattr(plain, name), rtol=1e-12)
        for name in ("median_days", "median_ci_low", "median_ci_high", "users", "churned", "censored"):
            assert getattr(other, name) == getattr(plain, name)
    assert plain.users + plain.unobservable == 500
    assert weighted.unobservable == plain.unobservable


@pytest.mark.parametrize("weights", [[1.5, 1, 1], [0, 1, 1], [-1, 1, 1], [1, 1], [np.nan, 1, 1]])
def test_bad_weights_are_rejected(weights):
    facts = make_facts([1, 2, 3], [True, False, True])
    with pytest.raises(ValueError, match="weights"):
        fit_lifetime(facts, weights=weights)
    with pytest.raises(DataError, match="not in the facts table"):
        fit_lifetime(facts, weights="n")


# --- not reached, warnings, validation, metrics --------------------------------------------------


def test_median_not_reached_is_none_without_a_warning():
    # 1 of 10 churned: the curve never reaches 0.5.
    facts = make_facts([3, 10, 12, 15, 20, 20, 25, 30, 30, 30], [True] + [False] * 9)
    result = fit_quietly(facts, horizon_days=30)
    assert result.median_days is None
    assert result.median_ci_high is None
    # With one churn in ten users the band is wide: its lower curve is below 0.5 from day 3 on,
    # so the median's lower confidence limit exists even though the median does not.
    lower_band = result.kmf.confidence_interval_.iloc[:, 0]
    assert lower_band.loc[3.0] < 0.5 and result.median_ci_low == 3.0
    assert result.survival["survival"].tolist() == pytest.approx([1.0, 0.9, 0.9])


def test_horizon_beyond_the_follow_up_warns():
    facts = make_facts([1, 2, 5], [True, False, False])
    with pytest.warns(StatisticalWarning, match="beyond the longest observed lifetime"):
        result = fit_lifetime(facts, horizon_days=90)
    # It is still computed: the last value, 2/3 after the churn at day 1, is carried to the horizon.
    assert result.rmst_days == pytest.approx(1 + (2 / 3) * 89)
    # No warning if the curve has reached zero (the area beyond is exactly 0).
    fit_quietly(make_facts([1, 2], [True, True]), horizon_days=90)


@pytest.mark.parametrize(
    ("facts", "error", "match"),
    [
        (pd.DataFrame({C.LIFETIME: [1.0]}), DataError, "churned"),
        (make_facts([1.0, np.nan], [True, False]), DataError, "finite non-negative"),
        (make_facts([1.0, -2.0], [True, False]), DataError, "finite non-negative"),
        (pd.DataFrame({C.LIFETIME: [1.0, 2.0], C.CHURNED: [1, None]}), DataError, "True/False"),
        (make_facts([], []), DataError, "no users"),
        ([1, 2], TypeError, "DataFrame"),
    ],
)
def test_bad_facts_are_rejected(facts, error, match):
    with pytest.raises(error, match=match):
        fit_lifetime(facts)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"days": [-1]}, "days"),
        ({"days": [1.5]}, "days"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"horizon_days": "x"}, "horizon_days"),
        ({"alpha": 2}, "alpha"),
    ],
)
def test_bad_options_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_lifetime(make_facts([1, 2, 3], [True, True, False]), **kwargs)


def test_alpha_changes_the_band():
    facts = make_facts(*AML_MAINTAINED)
    wide = fit_quietly(facts, days=[30], horizon_days=161, alpha=0.01).survival.iloc[0]
    narrow = fit_quietly(facts, days=[30], horizon_days=161, alpha=0.2).survival.iloc[0]
    assert wide.ci_low < narrow.ci_low < narrow.survival == wide.survival < narrow.ci_high < wide.ci_high


def test_lifetime_metrics_are_json_with_none_where_not_estimable():
    reached = fit_quietly(make_facts(*AML_NONMAINTAINED), days=[1, 7, 30], horizon_days=45)
    not_reached = fit_quietly(
        make_facts([3, 10, 12, 15], [True, False, False, False]), days=[1, 7], horizon_days=15
    )
    for result in (reached, not_reached):
        metrics = lifetime_metrics(result)
        assert json.loads(json.dumps(metrics, allow_nan=False)) == metrics
    body = lifetime_metrics(reached)["lifetime"]
    assert set(body) == {
        "not_computable",
        "median_days",
        "median_ci_low",
        "median_ci_high",
        "rmst_days",
        "rmst_se",
        "horizon_days",
        "not_yet_observable",
        "churned",
        "censored",
        "survival",
        "survival_ci",
    }
    assert body["not_computable"] is None  # the reason, when no lifetime can be estimated at all
    assert body["median_days"] == 23.0 and (body["churned"], body["censored"]) == (11, 1)
    assert list(body["survival"]) == ["day_1", "day_7", "day_30"]
    assert body["survival"]["day_7"] == pytest.approx(10 / 12)  # two churned at 5 weeks
    low, high = body["survival_ci"]["day_7"]
    assert low < body["survival"]["day_7"] < high
    assert type(body["churned"]) is int and type(body["rmst_days"]) is float
    assert lifetime_metrics(not_reached)["lifetime"]["median_days"] is None


def test_users_censored_at_zero_are_left_out_and_counted():
    # Three users never active (churned at 0), three observed to 10 days, and four censored at
    # 0 (no observable time yet). Kept, the four would count as surviving t = 0: S(1-) would be
    # 1 - 3/10 = 0.7. Left out, S(1-) = 1 - 3/6 = 0.5, as among the users actually observed.
    facts = pd.DataFrame(
        {
            "lifetime_days": [0.0] * 3 + [10.0] * 3 + [0.0] * 4,
            "churned": [True] * 3 + [False] * 3 + [False] * 4,
        }
    )
    result = fit_lifetime(facts, days=[1], horizon_days=5)
    assert result.survival["survival"].iat[0] == pytest.approx(0.5, rel=1e-12)
    assert (result.users, result.unobservable, result.churned, result.censored) == (6, 4, 3, 3)
    assert lifetime_metrics(result)["lifetime"]["not_yet_observable"] == 4


def test_facts_object_defaults_from_params(write_csv):
    """fit_lifetime(facts) reads days from params retention_days and the RMST horizon from
    params rmst_horizon_days: the same fit as the table with those options."""
    import pandas as pd

    from onboarding_analysis.data.pipeline import compute_facts
    from onboarding_analysis.params import validate_params

    rows = [(f"u{i}", "2024-01-01T00:00:00Z", "signed_up") for i in range(1, 5)]
    rows += [("u1", "2024-01-20T10:00:00Z", "created_report"), ("u3", "2024-02-20T10:00:00Z", "created_report")]
    events = pd.DataFrame(rows, columns=["user_id", "timestamp", "event"])
    params = {"events": write_csv(events), "observation_end": "2024-03-10", "retention_days": [1, 7],
              "rmst_horizon_days": 40}
    facts = compute_facts(validate_params(params))
    result = fit_lifetime(facts)
    assert result.horizon_days == 40.0 and result.survival["day"].tolist() == [1, 7]
    table = fit_lifetime(facts.table, days=[1, 7], horizon_days=40)
    pd.testing.assert_frame_equal(result.survival, table.survival)
    assert (result.rmst_days, result.rmst_se, result.median_days) == (table.rmst_days, table.rmst_se, table.median_days)
