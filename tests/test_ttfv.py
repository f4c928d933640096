"""TTFV (Aalen-Johansen with churn competing): hand-computed cases, references, recovery, weights."""

from __future__ import annotations

import json
import math
import warnings
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")  # no display in tests; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from lifelines import KaplanMeierFitter  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from scipy import integrate, optimize, stats  # noqa: E402

# scikit-survival is GPL-3: a test-only reference, never imported by the package.
from sksurv.nonparametric import cumulative_incidence_competing_risks  # noqa: E402

from onboarding_analysis.analyses.incidence import (  # noqa: E402
    INCIDENCE_COLUMNS,
    aalen_johansen,
    cif_before,
    cif_quantile,
)
from onboarding_analysis.analyses.ttfv import (  # noqa: E402
    TTFVResult,
    competing_risks_data,
    fit_ttfv,
    plot_ttfv,
)
from onboarding_analysis.analyses.ttfv_tables import ttfv_metrics  # noqa: E402
from onboarding_analysis.data import columns as C  # noqa: E402
from onboarding_analysis.errors import DataError, StatisticalWarning  # noqa: E402


def make_facts(value, churned, lifetime, age) -> pd.DataFrame:
    return pd.DataFrame(
        {
            C.VALUE: np.asarray(value, dtype=float),
            C.CHURNED: np.asarray(churned, dtype=bool),
            C.LIFETIME: np.asarray(lifetime, dtype=float),
            C.AGE: np.asarray(age, dtype=float),
        }
    )


def fit_quietly(facts: pd.DataFrame, **kwargs) -> TTFVResult:
    """fit_ttfv, asserting that it emits no warning at all."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit_ttfv(facts, **kwargs)
    assert [str(w.message) for w in caught] == []
    return result


def tied_data(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Day-granular durations (0..29 days, heavy ties) with causes 1, 2, 3 and censoring."""
    rng = np.random.default_rng(seed)
    durations = rng.integers(0, 30, size=n).astype(float)
    events = rng.choice([0, 1, 2, 3], size=n, p=[0.35, 0.3, 0.25, 0.1])
    durations[:5], events[:5] = 29.0, 0  # censorings at the last time: n > d everywhere
    return durations, events


# --- by hand -------------------------------------------------------------------------------------

# Six users: value (1) at days 1, 2, 3; churn (2) at day 2; censored (0) at days 3 and 5.
SIX_DURATIONS = [3, 1, 5, 2, 3, 2]
SIX_EVENTS = [0, 1, 0, 2, 1, 1]


def test_six_users_by_hand():
    # Event times, users at risk n (duration >= t; the censoring at 3 counts as after the event
    # at 3), all events d, value events d1:
    #   t=1: n=6, d=1, d1=1     S(1-) = 1          S(1) = 5/6
    #   t=2: n=5, d=2, d1=1     S(2-) = 5/6        S(2) = 5/6 * 3/5 = 1/2
    #   t=3: n=3, d=1, d1=1     S(3-) = 1/2        S(3) = 1/2 * 2/3 = 1/3
    # CIF_value: 1/6; 1/6 + 5/6 * 1/5 = 1/3; 1/3 + 1/2 * 1/3 = 1/2.
    # CIF_churn: 0; 5/6 * 1/5 = 1/6; 1/6.
    # Delta-method variance, Var F(t) = sum_{t_j <= t} (F(t)-F_j)^2 d/(n(n-d))
    #   + S(t_j-)^2 d1 (n-d1)/n^3 - 2 (F(t)-F_j) S(t_j-) d1/n^2, for value:
    #   t=1: 0 + 5/216 - 0 = 5/216 (the binomial p(1-p)/n with p = 1/6, n = 6)
    #   t=2: [(1/6)^2/30 + 5/216 - 2(1/6)/36] + [0 + (25/36)(4/125) - 0]
    #        = 1/1080 + 25/1080 - 10/1080 + 24/1080 = 1/27
    #   t=3: [(1/3)^2/30 + 5/216 - 2(1/3)/36] + [(1/6)^2 (2/15) + 1/45 - 2(1/6)(5/6)/25]
    #        + [0 + (1/4)(2/27) - 0] = 8/1080 + 25/1080 + 12/1080 = 1/24
    table = aalen_johansen(SIX_DURATIONS, SIX_EVENTS, cause=1)
    assert list(table.columns) == INCIDENCE_COLUMNS
    assert table["time"].tolist() == [0, 1, 2, 3]
    assert table["at_risk"].tolist() == [6, 6, 5, 3]
    assert table["events_cause"].tolist() == [0, 1, 1, 1]
    assert table["events_any"].tolist() == [0, 1, 2, 1]
    expected_cif = [Fraction(0), Fraction(1, 6), Fraction(1, 3), Fraction(1, 2)]
    np.testing.assert_allclose(table["cif"], [float(f) for f in expected_cif], rtol=1e-14)
    expected_var = [0, Fraction(5, 216), Fraction(1, 27), Fraction(1, 24)]
    np.testing.assert_allclose(table["se"] ** 2, [float(v) for v in expected_var], rtol=1e-12, atol=1e-15)

    churn = aalen_johansen(SIX_DURATIONS, SIX_EVENTS, cause=2)
    np.testing.assert_allclose(churn["cif"], [0, 0, 1 / 6, 1 / 6], rtol=1e-14)
    # Value + churn + all-cause survival = 1 at every time.
    np.testing.assert_allclose(table["cif"] + churn["cif"], [0, 1 / 6, 1 / 2, 2 / 3], rtol=1e-14)


def test_interval_is_log_minus_log_and_inside_unit_interval():
    # At t=3: F = 1/2, se = sqrt(1/24) = 0.20412; z = 1.959964;
    # spread = z se / (F |log F|) = 0.40008 / 0.34657 = 1.15438;
    # low = F ** exp(spread) = 0.5 ** 3.1721 = 0.1109; high = 0.5 ** exp(-spread) = 0.5 ** 0.31526 = 0.8037.
    table = aalen_johansen(SIX_DURATIONS, SIX_EVENTS, cause=1)
    f, se = 0.5, math.sqrt(1 / 24)
    spread = stats.norm.ppf(0.975) * se / (f * -math.log(f))
    assert table["ci_low"].iat[3] == pytest.approx(f ** math.exp(spread), rel=1e-12)
    assert table["ci_high"].iat[3] == pytest.approx(f ** math.exp(-spread), rel=1e-12)
    assert table["ci_low"].iat[3] == pytest.approx(0.1109, abs=1e-4)
    assert table["ci_high"].iat[3] == pytest.approx(0.8037, abs=1e-4)
    assert ((table["ci_low"] >= 0) & (table["ci_low"] <= table["cif"])).all()
    assert ((table["cif"] <= table["ci_high"]) & (table["ci_high"] <= 1)).all()
    # A 90% interval is narrower.
    narrow = aalen_johansen(SIX_DURATIONS, SIX_EVENTS, cause=1, alpha=0.1)
    assert narrow["ci_low"].iat[3] > table["ci_low"].iat[3]
    assert narrow["ci_high"].iat[3] < table["ci_high"].iat[3]


def test_interval_near_one_reaches_its_limits_without_overflow():
    # F = 1 - 1e-15 with se = 0.1: the spread z se / (F |log F|) is about 2e14, so exp(spread)
    # overflows; the log(-log) bounds are then their limits F ** inf = 0 and F ** 0 = 1 (found by
    # the whole-pipeline property test: 80 users all reaching value on the same few days).
    from onboarding_analysis.analyses.incidence import _log_log_interval

    cif, se = np.array([1 - 1e-15, 0.5]), np.array([0.1, math.sqrt(1 / 24)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        low, high = _log_log_interval(cif, se, 0.05)
    assert (low[0], high[0]) == (0.0, 1.0)
    assert low[1] == pytest.approx(0.1109, abs=1e-4) and high[1] == pytest.approx(0.8037, abs=1e-4)


def test_by_day_n_is_the_left_limit():
    table = aalen_johansen(SIX_DURATIONS, SIX_EVENTS, cause=1)
    # Value at exactly 2.0 days is not "by day 2": P(TTFV < 2) = 1/6; by day 3 = 1/3; after 3: 1/2.
    assert cif_before(table, 0)[0] == 0.0
    assert cif_before(table, 1)[0] == 0.0
    assert cif_before(table, 2)[0] == pytest.approx(1 / 6, rel=1e-14)
    assert cif_before(table, 3)[0] == pytest.approx(1 / 3, rel=1e-14)
    assert cif_before(table, 3.000001)[0] == pytest.approx(1 / 2, rel=1e-14)
    assert cif_before(table, 100)[0] == pytest.approx(1 / 2, rel=1e-14)
    # The interval comes from the same row.
    assert cif_before(table, 3) == tuple(table.loc[2, ["cif", "ci_low", "ci_high"]].tolist())

    # The same through fit_ttfv on user facts: value at 1, 2, 3; churn at 2; undecided at 3 and 5.
    facts = make_facts(
        value=[np.nan, 1, np.nan, np.nan, 3, 2],
        churned=[False, False, False, True, False, False],
        lifetime=[0, 0, 0, 2, 0, 0],
        age=[3, 9, 5, 9, 9, 9],
    )
    result = fit_quietly(facts, days=[1, 2, 3, 4], horizon_days=4)
    assert result.reached_by["rate"].tolist() == pytest.approx([0, 1 / 6, 1 / 3, 1 / 2], rel=1e-14)
    # Users still undecided at day N (duration >= N): 6, 5, 3, 1.
    assert result.reached_by["at_risk"].tolist() == [6, 5, 3, 1]
    assert (result.converters, result.churned_before_value, result.censored, result.users) == (3, 1, 2, 6)


def test_events_at_duration_zero():
    # Value at signup (duration 0) for 2 of 4 users: by day 0 nobody, by day 1 half.
    table = aalen_johansen([0, 0, 1.5, 2], [1, 1, 0, 2])
    assert table["time"].tolist() == [0, 0, 2]
    assert table["cif"].tolist() == [0, 0.5, 0.5]
    assert cif_before(table, 0)[0] == 0.0
    assert cif_before(table, 1)[0] == 0.5


def test_quantile_and_its_interval_by_hand():
    table = aalen_johansen(SIX_DURATIONS, SIX_EVENTS, cause=1)
    # The CIF is 1/6, 1/3, 1/2 at 1, 2, 3: it reaches 1/3 at 2 and 1/2 at 3 (exactly), never 0.6.
    assert cif_quantile(table, 1 / 3).days == 2.0
    assert cif_quantile(table, 0.5).days == 3.0
    assert cif_quantile(table, 0.6).days is None
    # The interval: where the upper band, and where the lower band, first reach p. By the
    # formula of the test above, the bands at t = 1, 2, 3 are [0.0077, 0.5168], [0.0461, 0.6756]
    # and [0.1109, 0.8037]: for p = 0.1 the estimate (1/6 at t=1) and the upper band reach it at
    # t=1, the lower band at t=3.
    np.testing.assert_allclose(table["ci_low"].iloc[1:], [0.0077, 0.0461, 0.1109], atol=1e-4)
    np.testing.assert_allclose(table["ci_high"].iloc[1:], [0.5168, 0.6756, 0.8037], atol=1e-4)
    assert cif_quantile(table, 0.1) == (1.0, 1.0, 3.0)
    # The lower band at t=3 is 0.11 < 0.5, so the upper end of the median's interval is open.
    assert cif_quantile(table, 0.5).ci_high is None
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match="p must be a share"):
            cif_quantile(table, bad)


# --- references ----------------------------------------------------------------------------------


def test_heavily_tied_data_is_deterministic_and_order_free():
    durations, events = tied_data(seed=11)
    first = aalen_johansen(durations, events, cause=1)
    pd.testing.assert_frame_equal(first, aalen_johansen(durations, events, cause=1), check_exact=True)
    order = np.random.default_rng(12).permutation(durations.size)
    shuffled = aalen_johansen(durations[order], events[order], cause=1)
    pd.testing.assert_frame_equal(first, shuffled, check_exact=True)
    assert len(first) == 1 + np.unique(durations[events > 0]).size  # one row per event time


@pytest.mark.parametrize("cause", [1, 2, 3])
def test_heavily_tied_data_matches_scikit_survival(cause):
    durations, events = tied_data(seed=21)
    table = aalen_johansen(durations, events, cause=cause).iloc[1:]
    # sksurv's "Dinse_Approx" variance is the same delta-method (Marubini-Valsecchi) formula,
    # and its conf_type="log-log" the same interval, so both are compared.
    times, cif, ci = cumulative_incidence_competing_risks(
        events, durations, conf_type="log-log", var_type="Dinse_Approx"
    )
    at = np.searchsorted(times, table["time"].to_numpy())
    np.testing.assert_array_equal(times[at], table["time"])
    np.testing.assert_allclose(table["cif"], cif[cause][at], rtol=1e-10, atol=0)
    np.testing.assert_allclose(table["ci_low"], ci[cause, 0][at], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(table["ci_high"], ci[cause, 1][at], rtol=1e-10, atol=1e-15)


def test_without_competing_events_cif_is_one_minus_kaplan_meier():
    rng = np.random.default_rng(31)
    durations = rng.integers(0, 25, size=800).astype(float)
    observed = rng.random(800) < 0.6
    durations[0], observed[0] = 24.0, False
    table = aalen_johansen(durations, observed.astype(int), cause=1).iloc[1:]

    kmf = KaplanMeierFitter().fit(durations, event_observed=observed)
    survival = kmf.survival_function_at_times(table["time"]).to_numpy()
    np.testing.assert_allclose(table["cif"], 1 - survival, rtol=1e-12, atol=1e-15)
    # With one cause the delta-method variance is Greenwood's: S(t)^2 sum d / (n (n - d)),
    # written out from lifelines' event table.
    events_table = kmf.event_table.loc[kmf.event_table["observed"] > 0]
    n, d = events_table["at_risk"].to_numpy(float), events_table["observed"].to_numpy(float)
    greenwood = survival**2 * np.cumsum(d / (n * (n - d)))
    np.testing.assert_allclose(table["se"] ** 2, greenwood, rtol=1e-9, atol=1e-18)


# --- weights -------------------------------------------------------------------------------------


def test_frequency_weights_equal_the_expanded_rows_exactly():
    durations, events = tied_data(seed=41, n=400)
    collapsed = (
        pd.DataFrame({"d": durations, "e": events})
        .value_counts()
        .rename("users")
        .reset_index()
        .sample(frac=1, random_state=3)
    )
    expanded = collapsed.loc[collapsed.index.repeat(collapsed["users"])]
    for cause in (1, 2):
        weighted = aalen_johansen(collapsed["d"], collapsed["e"], cause=cause, weights=collapsed["users"])
        plain = aalen_johansen(expanded["d"], expanded["e"], cause=cause)
        pd.testing.assert_frame_equal(weighted, plain, check_exact=True)


def test_fit_ttfv_weights_equal_the_expanded_facts_exactly():
    rng = np.random.default_rng(42)
    n = 300
    value = np.where(rng.random(n) < 0.5, rng.integers(0, 20, n).astype(float), np.nan)
    churned = rng.random(n) < 0.3
    facts = make_facts(value, churned, rng.integers(0, 20, n), rng.integers(20, 40, n))
    collapsed = facts.value_counts(dropna=False).rename("users").reset_index()
    expanded = collapsed.loc[collapsed.index.repeat(collapsed["users"])].reset_index(drop=True)
    options = {"days": [1, 7, 14], "horizon_days": 30}
    weighted = fit_quietly(collapsed, weights="users", **options)
    by_array = fit_quietly(collapsed, weights=collapsed["users"].to_numpy(), **options)
    plain = fit_quietly(expanded, **options)
    for result in (weighted, by_array):
        pd.testing.assert_frame_equal(result.value, plain.value, check_exact=True)
        pd.testing.assert_frame_equal(result.churn, plain.churn, check_exact=True)
        pd.testing.assert_frame_equal(result.reached_by, plain.reached_by, check_exact=True)
        assert ttfv_metrics(result) == ttfv_metrics(plain)
    # Converters: value observed and not after an observed churn.
    converted = expanded[C.VALUE].notna() & (
        ~expanded[C.CHURNED] | (expanded[C.VALUE] <= expanded[C.LIFETIME])
    )
    assert plain.converters == converted.sum() < expanded[C.VALUE].notna().sum()
    assert plain.naive_median_days_converters == float(np.median(expanded.loc[converted, C.VALUE]))


@pytest.mark.parametrize("weights", [[1.5, 1, 1], [0, 1, 1], [-1, 1, 1], [1, 1], [np.nan, 1, 1]])
def test_bad_weights_are_rejected(weights):
    with pytest.raises(ValueError, match="weights"):
        aalen_johansen([1, 2, 3], [1, 0, 2], weights=weights)
    facts = make_facts([1, np.nan, np.nan], [False, True, False], [5, 2, 5], [9, 9, 9])
    with pytest.raises(ValueError, match="weights"):
        fit_ttfv(facts, weights=weights)


# --- simulation with known truth -----------------------------------------------------------------

CURE = 0.25  # share of signups that would never reach value
TTFV_MEDIAN, TTFV_SIGMA = 4.0, 1.0  # log-normal time to value of the others (days)
CHURN_MEAN = 40.0  # exponential churn time (days); value only counts before churn
CENSOR_MAX = 120.0  # administrative censoring ~ Uniform(0, 120) days


def true_value_cif(t: float) -> float:
    """P(TTFV < t and TTFV <= churn) = (1 - cure) * int_0^t f_lognormal(v) exp(-v / mean) dv."""
    density = stats.lognorm(s=TTFV_SIGMA, scale=TTFV_MEDIAN).pdf
    return (1 - CURE) * integrate.quad(lambda v: density(v) * math.exp(-v / CHURN_MEAN), 0, t, limit=200)[0]


def true_churn_cif(t: float) -> float:
    """P(churn < t and churn < TTFV) = int_0^t exp. density(l) * P(TTFV > l) dl."""
    tail = stats.lognorm(s=TTFV_SIGMA, scale=TTFV_MEDIAN).sf
    return integrate.quad(
        lambda u: math.exp(-u / CHURN_MEAN) / CHURN_MEAN * (CURE + (1 - CURE) * tail(u)), 0, t, limit=200
    )[0]


def simulate_facts(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ttfv = np.where(rng.random(n) < CURE, np.inf, rng.lognormal(math.log(TTFV_MEDIAN), TTFV_SIGMA, n))
    churn = rng.exponential(CHURN_MEAN, n)
    age = rng.uniform(0, CENSOR_MAX, n)
    value = np.where((ttfv <= churn) & (ttfv <= age), ttfv, np.nan)
    churned = (churn < ttfv) & (churn <= age)  # churn observed as it happens (churn_event rule)
    return make_facts(value, churned, np.where(churned, churn, age), age)


def test_simulation_recovers_the_truth_and_exposes_the_naive_median():
    days = [1, 7, 30]
    truth = {day: true_value_cif(day) for day in days}
    true_median = optimize.brentq(lambda t: true_value_cif(t) - 0.5, 0.01, 100)
    # Sanity of the analytic truth against 2 million draws of the same model (another seed).
    check = simulate_facts(2_000_000, seed=99)
    for day in days:
        # Every user has age >= day with prob. 1 - day / 120: compare among those.
        old = check[C.AGE] >= day
        assert (check.loc[old, C.VALUE] < day).mean() == pytest.approx(truth[day], abs=0.002)
    # truth: 0.0611, 0.4953, 0.6414 by days 1, 7, 30; median 7.16 days.

    facts = simulate_facts(4000, seed=20240611)
    result = fit_quietly(facts, days=days, horizon_days=90)
    for row in result.reached_by.itertuples():
        assert row.ci_low <= truth[row.day] <= row.ci_high, (row, truth[row.day])
    churn_rate, churn_low, churn_high = cif_before(result.churn, 30)
    assert churn_low <= true_churn_cif(30) <= churn_high

    median = result.days_to[50]
    assert median.days is not None and median.ci_low <= true_median <= median.ci_high
    # The converters-only median (funnel tools) ignores everyone still on the way to value:
    # far shorter than the true median, and outside the median's interval.
    naive = result.naive_median_days_converters
    assert naive < median.ci_low
    assert naive < 0.7 * true_median
    # So is 1 - Kaplan-Meier with churners censored: it treats them as if they could still
    # reach value, and overstates the share at day 30 beyond the interval.
    data = competing_risks_data(facts)
    kmf = KaplanMeierFitter().fit(data["duration"], data["event"] == 1)
    assert 1 - float(kmf.predict(30 - 1e-9)) > result.reached_by["ci_high"].iat[2]


def test_recent_churn_barely_moves_the_value_cif():
    # The inactivity rule: churn at the last activity L is seen only once T - L >= 30 days;
    # users who stopped more recently are censored at their age (competing_risks_data's rule).
    # Signups uniform over 180 days; 40% never reach value, the others after a log-normal time
    # (median 3 days, sigma 1.2) if before churn ~ Exponential(mean 20 days).
    inactivity, n = 30.0, 300_000
    rng = np.random.default_rng(51)
    age = rng.uniform(0, 180, n)
    ttfv = np.where(rng.random(n) < 0.4, np.inf, rng.lognormal(math.log(3), 1.2, n))
    last = rng.exponential(20.0, n)
    reached = ttfv <= last
    churned = last <= age - inactivity
    facts = make_facts(
        np.where(reached & (ttfv <= age), ttfv, np.nan),
        churned,
        np.where(churned, last, np.maximum(age - inactivity, 0)),
        age,
    )
    result = fit_quietly(facts, days=[1, 7, 30], horizon_days=90)

    value_density = stats.lognorm(s=1.2, scale=3.0).pdf
    value_tail = stats.lognorm(s=1.2, scale=3.0).sf

    def truth_value(t):
        return 0.6 * integrate.quad(lambda v: value_density(v) * math.exp(-v / 20), 0, t, limit=200)[0]

    def truth_churn(t):
        return integrate.quad(
            lambda u: math.exp(-u / 20) / 20 * (0.4 + 0.6 * value_tail(u)), 0, t, limit=200
        )[0]

    # truth 0.1049, 0.4035, 0.4720; estimates 0.1047, 0.4039, 0.4752 (standard errors 0.0006 to
    # 0.001). Days 1 and 7 within sampling error; day 30 a little high (the mixing bias of
    # competing_risks_data's notes; 0.4750 with 2 million users), but within 0.006.
    tolerance = {1: 0.002, 7: 0.002, 30: 0.006}
    for row in result.reached_by.itertuples():
        assert row.rate == pytest.approx(truth_value(row.day), abs=tolerance[row.day]), row
    # The churn-before-value curve, in contrast, misses recent churn: biased down (0.37 vs 0.44).
    assert cif_before(result.churn, 30)[0] < truth_churn(30) - 0.04
    # Censoring at max(age - inactivity, 0) for the churn curve removes that bias (its truth
    # 0.4352 lies in the interval), and leaves the value curve as it was.
    delayed = fit_quietly(facts, days=[1, 7, 30], horizon_days=90, churn_delay_days=inactivity)
    churn, low, high = cif_before(delayed.churn, 30)
    assert low <= truth_churn(30) <= high, (low, churn, high, truth_churn(30))
    pd.testing.assert_frame_equal(delayed.reached_by, result.reached_by)


# --- user facts to competing risks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "churned", "lifetime", "age", "expected"),
    [
        (2.0, False, 40.0, 50.0, (2.0, 1)),  # reached value
        (np.nan, True, 3.0, 60.0, (3.0, 2)),  # churned before value
        (np.nan, False, 20.0, 50.0, (50.0, 0)),  # undecided: censored at the age, not the lifetime
        (5.0, True, 5.0, 60.0, (5.0, 1)),  # value as the last activity still counts as value
        (8.0, True, 5.0, 60.0, (5.0, 2)),  # value after churn (churn_event rule) does not count
        (0.0, False, 0.0, 0.0, (0.0, 1)),  # value at signup
    ],
)
def test_competing_risks_data_cases(value, churned, lifetime, age, expected):
    data = competing_risks_data(make_facts([value], [churned], [lifetime], [age]))
    assert list(data.columns) == ["duration", "event"]
    assert (float(data["duration"].iat[0]), int(data["event"].iat[0])) == expected


def test_competing_risks_data_rejects_bad_facts():
    good = make_facts([1.0], [False], [2.0], [3.0])
    with pytest.raises(DataError, match="missing"):
        competing_risks_data(good.drop(columns=[C.AGE]))
    with pytest.raises(DataError, match=C.AGE):
        competing_risks_data(good.assign(**{C.AGE: [np.nan]}))
    with pytest.raises(DataError, match=C.VALUE):
        competing_risks_data(good.assign(**{C.VALUE: [-1.0]}))
    with pytest.raises(DataError, match=C.CHURNED):
        competing_risks_data(good.assign(**{C.CHURNED: [None]}))
    with pytest.raises(TypeError, match="DataFrame"):
        competing_risks_data(good.to_dict())


@pytest.mark.parametrize(
    ("durations", "events", "kwargs", "error", "match"),
    [
        ([1, -2], [1, 0], {}, DataError, "non-negative"),
        ([1, np.nan], [1, 0], {}, DataError, "non-negative"),
        ([1, 2], [1, 0.5], {}, ValueError, "events"),
        ([1, 2], [1, -1], {}, ValueError, "events"),
        ([1, 2], [1], {}, ValueError, "one value per duration"),
        ([], [], {}, DataError, "no durations"),
        ([1, 2], [1, 0], {"cause": 0}, ValueError, "cause"),
        ([1, 2], [1, 0], {"alpha": 1.5}, ValueError, "alpha"),
    ],
)
def test_aalen_johansen_rejects_bad_input(durations, events, kwargs, error, match):
    with pytest.raises(error, match=match):
        aalen_johansen(durations, events, **kwargs)


# --- headline numbers ----------------------------------------------------------------------------


def test_eventual_share_and_horizon():
    facts = make_facts(
        [1.0, 2.0, np.nan, np.nan], [False, False, True, False], [0, 0, 3, 0], [50, 50, 50, 50]
    )
    result = fit_quietly(facts, horizon_days=40)
    # Events end at day 3: the CIF there (1/2) is the eventual share.
    assert result.eventual_share == pytest.approx(0.5)
    assert result.eventual_share_day == 3.0
    assert result.eventual_share_ci_low <= 0.5 <= result.eventual_share_ci_high
    # A horizon at an event time reads the CIF just before it.
    assert fit_quietly(facts, horizon_days=2).eventual_share == pytest.approx(0.25)
    # Beyond the follow-up (age 50) with an undecided user: a warning, the value is held.
    with pytest.warns(StatisticalWarning, match="beyond the longest observed"):
        late = fit_ttfv(facts, horizon_days=90)
    assert late.eventual_share == pytest.approx(0.5)


def test_metrics_are_json_safe_and_none_when_not_reached():
    # 2 of 10 reach value: 25/50/75% are never reached.
    facts = make_facts([1.0, 2.5] + [np.nan] * 8, [False] * 9 + [True], [0] * 9 + [4.0], [60.0] * 10)
    metrics = ttfv_metrics(fit_quietly(facts, days=[1, 7], horizon_days=30))
    json.dumps(metrics, allow_nan=False)
    ttfv = metrics["ttfv"]
    assert ttfv["days_to_25pct"] is None and ttfv["days_to_50pct"] is None and ttfv["days_to_75pct"] is None
    assert ttfv["reached_by"]["day_1"] == {"rate": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    assert ttfv["reached_by"]["day_7"]["rate"] == pytest.approx(0.2)
    assert ttfv["eventual_share"] == pytest.approx(0.2)
    assert ttfv["naive_median_days_converters"] == 1.75
    assert (ttfv["converters"], ttfv["users"]) == (2, 10)
    for key, value in ttfv.items():
        assert value is None or isinstance(value, (int, float, list, dict)), key
    assert all(type(v) in (int, float) for v in (ttfv["converters"], ttfv["eventual_share"]))

    # Nobody converted: the naive median is None too.
    nobody = make_facts([np.nan] * 3, [True, False, False], [1.0, 0, 0], [9.0] * 3)
    empty = ttfv_metrics(fit_quietly(nobody, days=[1], horizon_days=5))["ttfv"]
    json.dumps(empty, allow_nan=False)
    assert empty["naive_median_days_converters"] is None and empty["converters"] == 0


def test_fit_ttfv_rejects_bad_options():
    facts = make_facts([1.0], [False], [2.0], [3.0])
    with pytest.raises(ValueError, match="days"):
        fit_ttfv(facts, days=[1.5])
    with pytest.raises(ValueError, match="horizon_days"):
        fit_ttfv(facts, horizon_days=0)
    with pytest.raises(DataError, match="no users"):
        fit_ttfv(facts.iloc[:0])


# --- plot ----------------------------------------------------------------------------------------


def test_plot_has_two_curves_two_bands_and_no_warnings():
    result = fit_quietly(simulate_facts(500, seed=61), days=[1, 7, 30], horizon_days=90)
    before = dict(matplotlib.rcParams)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ax = plot_ttfv(result)
        _, own = plt.subplots()
        assert plot_ttfv(result, ax=own, days=[3]) is own
    assert [str(w.message) for w in caught] == []
    assert dict(matplotlib.rcParams) == before
    assert isinstance(ax, Axes)
    steps = [line for line in ax.get_lines() if line.get_drawstyle() == "steps-post"]
    assert len(steps) == 2
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2
    markers = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(markers) == 1 and markers[0].get_xdata().tolist() == [1, 7, 30]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("days since signup", "share of signups")
    plt.close("all")


# --- the Facts object: options default from its params -----------------------------------------


def test_facts_object_takes_its_options_from_params(write_csv):
    """Hand-derived: 5 signups, T = 2024-01-31, inactivity_days 5, nobody censored before day 3.

    a: value at 0.5 d; b: value at 2 d; c: active at 26 d, not churned (censored at 30);
    d: churned at 1 d; f: signs up at day 26 (age 4), not churned (censored at 4).
    Value by day 1: 1/5. By day 3: S(2-) = 4/5 * 3/4 = 3/5, at risk {b, c, f}: + 3/5 * 1/3 = 0.4.
    Churn before value, no delay: S(1-) = 4/5, at risk {b, c, d, f}: 4/5 * 1/4 = 0.2. With the
    params' delay of 5 days f is censored at max(4 - 5, 0) = 0: S(1-) = 3/4, at risk {b, c, d}:
    3/4 * 1/3 = 0.25.
    """
    from onboarding_analysis.data.pipeline import compute_facts
    from onboarding_analysis.params import validate_params

    start = pd.Timestamp("2024-01-01")

    def ev(user, event, days, signup=start):
        return {
            "user_id": user,
            "event": event,
            "timestamp": (signup + pd.Timedelta(days=days)).isoformat() + "Z",
        }

    rows = [
        ev("a", "signed_up", 0), ev("a", "value", 0.5),
        ev("b", "signed_up", 0), ev("b", "value", 2),
        ev("c", "signed_up", 0), ev("c", "click", 26),
        ev("d", "signed_up", 0), ev("d", "click", 1),
        ev("f", "signed_up", 0, start + pd.Timedelta(days=26)),
    ]  # fmt: skip
    raw = {"events": write_csv(rows), "observation_end": "2024-01-30", "retention_days": [1, 3],
           "value_events": ["value"], "inactivity_days": 5, "rmst_horizon_days": 20}  # fmt: skip
    facts = compute_facts(validate_params(raw))

    result = fit_ttfv(facts)
    assert result.reached_by["day"].tolist() == [1, 3]
    np.testing.assert_allclose(result.reached_by["rate"], [0.2, 0.4], rtol=0, atol=1e-12)
    assert result.horizon_days == 20
    assert result.churn["cif"].iloc[-1] == pytest.approx(0.25, abs=1e-12)
    assert fit_ttfv(facts, churn_delay_days=0).churn["cif"].iloc[-1] == pytest.approx(0.2, abs=1e-12)
    # Explicit options still win over the params, as for a bare user-facts table.
    assert fit_ttfv(facts, days=[1], horizon_days=10).reached_by["day"].tolist() == [1]
    with pytest.warns(StatisticalWarning, match=r"\[90\.0\] lie beyond"):  # the default horizon, 90 days
        bare = fit_ttfv(facts.table)
    assert bare.reached_by["day"].tolist() == [1, 7, 30] and bare.horizon_days == 90
    assert bare.churn["cif"].iloc[-1] == pytest.approx(0.2, abs=1e-12)
