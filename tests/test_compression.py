"""Compression: weighted fits equal the fits on the replicated rows (exactly, or within a
documented tolerance for Cox), and the duration grid barely moves the demo's estimates.

Expected numbers come from lifelines' own datasets with published results:
- waltons (lifelines docs, "Survival analysis with lifelines", log-rank of miR-137 vs control):
  test statistic 122.25, -log2(p) 91.99;
- rossi (Fox & Weisberg, "Cox Proportional-Hazards Regression for Survival Data in R", appendix
  to An R Companion to Applied Regression; lifelines' CoxPHFitter docs print the same table):
  coefficients and standard errors below, Efron ties.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_rossi, load_waltons
from lifelines.exceptions import ConvergenceError
from lifelines.statistics import multivariate_logrank_test, proportional_hazard_test

from onboarding_analysis.analyses.lifetime import fit_lifetime
from onboarding_analysis.analyses.segments import compare_segments
from onboarding_analysis.data import columns as C
from onboarding_analysis.data.pipeline import compute_facts
from onboarding_analysis.demo import write_demo
from onboarding_analysis.errors import ParamsError
from onboarding_analysis.params import load_params, validate_params
from onboarding_analysis.stats.compression import (
    WEIGHT,
    check_grid_hours,
    compress,
    compress_codes,
    compress_flagged,
    round_durations,
)
from onboarding_analysis.stats.cox_fit import covariate_columns, efron_cox, efron_ph_test
from onboarding_analysis.stats.hypothesis import logrank_tests
from tests.lifelines_cox import expand, fit_cox, ph_test, split_tied_deaths

ROOT = Path(__file__).resolve().parent.parent
# Fox & Weisberg's appendix, coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio).
ROSSI = {
    "fin": (-0.37942, 0.19138),
    "age": (-0.05744, 0.02200),
    "race": (0.31390, 0.30799),
    "wexp": (-0.14980, 0.21222),
    "mar": (-0.43370, 0.38187),
    "paro": (-0.08487, 0.19576),
    "prio": (0.09150, 0.02865),
}


@pytest.fixture(scope="module")
def tied():
    """Day-granular lifetimes with heavy ties, censoring and three groups (seeded)."""
    rng = np.random.default_rng(7)
    n = 3000
    group = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    hazard = np.select([group == "b", group == "c"], [0.7, 1.3], 1.0) / 20
    life = np.floor(rng.exponential(1 / hazard))
    censor = np.floor(rng.uniform(0, 60, n))
    return pd.DataFrame({C.LIFETIME: np.minimum(life, censor), C.CHURNED: life <= censor, "group": group})


@pytest.fixture(scope="module")
def demo_facts(tmp_path_factory):
    paths = write_demo(tmp_path_factory.mktemp("demo"), seed=20240101)
    raw = load_params(ROOT / "params" / "demo.yaml").as_notebook_parameters()
    return compute_facts(
        validate_params(raw | {"events": str(paths["events"]), "users": str(paths["users"])})
    )


# --- the grid --------------------------------------------------------------------------------


@pytest.mark.parametrize("good", [None, 0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 24])
def test_grid_must_divide_a_day(good):
    assert check_grid_hours(good) == (None if good is None else float(good))


@pytest.mark.parametrize("bad", [5, 7, 48, 0, -1, True, "x", float("nan")])
def test_bad_grids_are_rejected(bad):
    with pytest.raises(ParamsError, match="compression_grid_hours"):
        check_grid_hours(bad)


def test_rounding_down_keeps_whole_days_and_the_side_of_every_day():
    # Durations built like the facts do: microseconds / 86.4e9, exactly on and just around days.
    micros = np.array([0, 1, 86_400_000_000 - 1, 86_400_000_000, 7 * 86_400_000_000, 7 * 86_400_000_000 - 1])
    days = micros / 86_400_000_000
    hourly = round_durations(days, 1)
    assert hourly.tolist() == [0.0, 0.0, 23 / 24, 1.0, 7.0, 7 - 1 / 24]
    # "survival at day N" = P(L >= N): the same users are >= N before and after rounding.
    rng = np.random.default_rng(1)
    lives = rng.exponential(10, 10_000)
    for grid in (0.5, 1, 6, 24):
        rounded = round_durations(lives, grid)
        assert (rounded <= lives).all() and (lives - rounded < grid / 24 + 1e-12).all()
        for n in (1, 7, 30):
            assert ((rounded >= n) == (lives >= n)).all()
    np.testing.assert_array_equal(round_durations(lives, None), lives)


def test_compress_and_expand_are_inverse(tied):
    packed = compress(tied, [C.LIFETIME, C.CHURNED, "group"])
    assert packed[WEIGHT].sum() == len(tied)
    assert len(packed) < len(tied) / 5
    assert not packed.duplicated([C.LIFETIME, C.CHURNED, "group"]).any()
    back = expand(packed).sort_values([C.LIFETIME, C.CHURNED, "group"]).reset_index(drop=True)
    orig = tied.sort_values([C.LIFETIME, C.CHURNED, "group"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(back, orig[back.columns], check_dtype=False)


def test_compress_keeps_missing_values_and_sums_existing_weights():
    frame = pd.DataFrame({"d": [1.0, 1.0, 2.0, 2.0], "g": ["x", None, None, "x"], "w": [2, 3, 4, 1]})
    packed = compress(frame, ["g"], weights="w")
    assert dict(zip(packed["g"].fillna("NA"), packed[WEIGHT], strict=True)) == {"x": 3, "NA": 7}
    with pytest.raises(ValueError, match="whole numbers"):
        compress(frame.assign(w=[1.5, 1, 1, 1]), ["g"], weights="w")


def test_compress_codes_and_flagged_rows_equal_compress(tied):
    rng = np.random.default_rng(3)
    frame = tied.assign(
        days=tied[C.LIFETIME] + rng.uniform(0, 1, len(tied)),  # exact durations, rounded by the grid
        group=tied["group"].where(rng.uniform(size=len(tied)) > 0.1),  # missing values are rows too
    )
    keys = ["days", C.CHURNED, "group"]
    flag = rng.uniform(size=len(frame)) < 0.3
    for grid in (None, 6):
        codes, unique = compress_codes(frame, keys, duration="days", grid_hours=grid)
        expected = compress(frame, keys, duration="days", grid_hours=grid)
        pd.testing.assert_frame_equal(unique.assign(**{WEIGHT: np.bincount(codes)}), expected)
        # Every row's code points at its own (rounded) key.
        rounded = frame.assign(days=round_durations(frame["days"], grid))
        pd.testing.assert_frame_equal(
            unique.iloc[codes].reset_index(drop=True), rounded[keys].reset_index(drop=True)
        )
        flagged = compress_flagged(codes, unique, flag, "did")
        by_groupby = compress(
            frame.assign(did=flag.astype(float)), [*keys, "did"], duration="days", grid_hours=grid
        )
        order = [*keys, "did"]
        pd.testing.assert_frame_equal(
            flagged.sort_values(order).reset_index(drop=True),
            by_groupby.sort_values(order).reset_index(drop=True),
        )
    with pytest.raises(ValueError, match="already a column"):
        compress_flagged(codes, unique, flag, "group")
    with pytest.raises(ValueError, match="flags for"):
        compress_flagged(codes, unique, flag[:-1], "did")


# --- Kaplan-Meier and log-rank: exact -----------------------------------------------------------


@pytest.mark.parametrize("dataset", ["waltons", "tied"])
def test_kaplan_meier_weighted_equals_unweighted_exactly(dataset, tied):
    data = load_waltons().rename(columns={"T": C.LIFETIME, "E": C.CHURNED}) if dataset == "waltons" else tied
    data = data.assign(**{C.CHURNED: data[C.CHURNED].astype(bool)})
    packed = compress(data, [C.LIFETIME, C.CHURNED])
    plain = KaplanMeierFitter().fit(data[C.LIFETIME], data[C.CHURNED])
    weighted = KaplanMeierFitter().fit(packed[C.LIFETIME], packed[C.CHURNED], weights=packed[WEIGHT])
    np.testing.assert_array_equal(plain.survival_function_.to_numpy(), weighted.survival_function_.to_numpy())
    np.testing.assert_array_equal(
        plain.confidence_interval_.to_numpy(), weighted.confidence_interval_.to_numpy()
    )
    # The package's lifetime summary too (median, RMST and its SE, survival before day N).
    a = fit_lifetime(data, days=[1, 7, 30], horizon_days=30)
    b = fit_lifetime(packed, days=[1, 7, 30], horizon_days=30, weights=WEIGHT)
    pd.testing.assert_frame_equal(a.survival, b.survival)
    assert (a.median_days, a.rmst_days, a.rmst_se) == (b.median_days, b.rmst_days, b.rmst_se)


def test_logrank_weighted_equals_unweighted_exactly(tied):
    packed = compress(tied, [C.LIFETIME, C.CHURNED, "group"])
    overall, pairwise = logrank_tests(tied, "group", "a")
    overall_w, pairwise_w = logrank_tests(packed, "group", "a", weights=WEIGHT)
    assert overall == overall_w
    pd.testing.assert_frame_equal(pairwise, pairwise_w)
    assert overall["p"] < 1e-6 and overall["df"] == 2


def test_logrank_matches_the_published_waltons_result():
    waltons = load_waltons()
    packed = compress(waltons, ["T", "E", "group"])
    for frame, weights in ((waltons, None), (packed, WEIGHT)):
        overall, pairwise = logrank_tests(frame, "group", "control", duration="T", event="E", weights=weights)
        assert round(overall["statistic"], 2) == 122.25
        assert round(-math.log2(overall["p"]), 2) == 91.99
        # Two groups: the pairwise test is the global one.
        assert pairwise.loc["miR-137", "statistic"] == pytest.approx(overall["statistic"], rel=1e-12)


# --- Cox ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True])
def test_cox_matches_the_published_rossi_coefficients(compressed):
    rossi = load_rossi()
    cph, _ = fit_cox(rossi, duration="week", event="arrest", covariates=list(ROSSI), compress_rows=compressed)
    for name, (coef, se) in ROSSI.items():
        assert cph.params_[name] == pytest.approx(coef, abs=5e-5), name
        assert cph.standard_errors_[name] == pytest.approx(se, abs=5e-5), name


def test_ph_test_equals_lifelines_with_unit_weights():
    rossi = load_rossi()
    cph = CoxPHFitter().fit(rossi, "week", "arrest")
    expected = proportional_hazard_test(cph, rossi, time_transform="km").summary
    ours = ph_test(cph, rossi)
    for name in ROSSI:
        assert ours.loc[name, "test_statistic"] == pytest.approx(
            expected.loc[name, "test_statistic"], rel=1e-10
        )
        assert ours.loc[name, "p"] == pytest.approx(expected.loc[name, "p"], rel=1e-10)
    # Fox & Weisberg find the age effect non-proportional (cox.zph): so does the check.
    assert ours.loc["age", "p"] < 0.01 < ours.loc["fin", "p"]


def test_weighted_ph_test_matches_lifelines_on_the_replicated_rows(tied):
    design = covariate_columns(tied, ["group"])
    data = pd.concat([tied[[C.LIFETIME, C.CHURNED]], design], axis=1)
    cols = list(design.columns)
    weighted, packed = fit_cox(data, duration=C.LIFETIME, event=C.CHURNED, covariates=cols)
    plain, rows = fit_cox(data, duration=C.LIFETIME, event=C.CHURNED, covariates=cols, compress_rows=False)
    expected = proportional_hazard_test(plain, rows, time_transform="km").summary
    ours = ph_test(weighted, packed)
    # Equal up to the Cox fits' own tiny difference (the next test bounds it).
    np.testing.assert_allclose(
        ours["test_statistic"], expected.loc[cols, "test_statistic"], rtol=0.02, atol=1e-3
    )
    # The unweighted lifelines test on the compressed rows is another test (rows != users).
    naive = proportional_hazard_test(weighted, packed, time_transform="km").summary
    assert not np.allclose(naive.loc[cols, "test_statistic"], expected.loc[cols, "test_statistic"], rtol=0.05)


def test_split_of_tied_deaths_keeps_weights_and_censored_rows():
    rows = pd.DataFrame({"t": [0.0, 0.0, 1.0, 2.0], "e": [1, 0, 1, 1], "weight": [900, 50, 40, 10]})
    out = split_tied_deaths(rows, duration="t", event="e")
    assert out.groupby(["t", "e"])["weight"].sum().to_dict() == {
        (0.0, 0): 50,
        (0.0, 1): 900,
        (1.0, 1): 40,
        (2.0, 1): 10,
    }
    assert (out.loc[out["e"] == 0, "weight"] == 50).all()
    # cap at t=0: floor(1000 / (10 * sqrt(950))) = 3, so 900 deaths become 300 rows of 3.
    assert (out[(out["t"] == 0) & (out["e"] == 1)]["weight"] == 3).all()
    assert len(out) == 1 + 300 + 40 + 10


def test_weighted_cox_is_within_a_hundredth_of_a_standard_error_on_heavy_ties(tied):
    """lifelines' weighted Efron differs from the replicated rows on tied deaths; the split
    removes most of it. Measured here: unsplit |diff| about 0.05-0.1 SE, split < 0.01 SE."""
    design = covariate_columns(tied, ["group"])
    data = pd.concat([tied[[C.LIFETIME, C.CHURNED]], design], axis=1)
    cols = list(design.columns)
    plain, _ = fit_cox(data, duration=C.LIFETIME, event=C.CHURNED, covariates=cols, compress_rows=False)
    weighted, packed = fit_cox(data, duration=C.LIFETIME, event=C.CHURNED, covariates=cols)
    assert packed[WEIGHT].sum() == len(data) and len(packed) < len(data) / 2
    se = plain.standard_errors_
    assert ((weighted.params_ - plain.params_).abs() / se).max() < 0.01
    np.testing.assert_allclose(weighted.standard_errors_, se, rtol=1e-3)
    # Without the split the difference is real: this is what the split is for.
    unsplit = compress(
        data.assign(**{C.CHURNED: data[C.CHURNED].astype(int)}), [C.LIFETIME, C.CHURNED, *cols]
    )
    raw = CoxPHFitter().fit(unsplit, C.LIFETIME, C.CHURNED, weights_col=WEIGHT)
    assert ((raw.params_ - plain.params_).abs() / se).max() > 0.03


@pytest.mark.parametrize("grid", [1, 6, 24])
def test_weighted_cox_on_the_demo_grid_is_within_a_tenth_of_a_standard_error(demo_facts, grid):
    """The measurement of the module docstring, on the demo (persona among ever-active users).

    Measured: |diff| / SE 0.0011 (1 h), 0.0047 (6 h), 0.0081 (24 h).
    """
    table = demo_facts.table[demo_facts.table[C.LIFETIME] > 0]
    design = covariate_columns(table, ["persona"])
    data = pd.concat([table[[C.LIFETIME, C.CHURNED]], design], axis=1)
    cols = list(design.columns)
    plain, _ = fit_cox(
        data, duration=C.LIFETIME, event=C.CHURNED, covariates=cols, compress_rows=False, grid_hours=grid
    )
    weighted, packed = fit_cox(data, duration=C.LIFETIME, event=C.CHURNED, covariates=cols, grid_hours=grid)
    assert len(packed) < len(data)
    assert ((weighted.params_ - plain.params_).abs() / plain.standard_errors_).max() < 0.02


# --- the grid's effect on the demo -------------------------------------------------------------


def test_an_hour_grid_barely_moves_survival_and_hazard_ratios_on_the_demo(demo_facts):
    """Measured: |dS| / SE < 0.01 at days 1, 7, 30; |d log HR| / SE < 0.002; RMST -0.014 days."""
    exact = compare_segments(demo_facts, "persona", grid_hours=None, completion=None)
    hourly = compare_segments(demo_facts, "persona", grid_hours=1, completion=None)
    z = 1.959963984540054
    for group, fit in exact.lifetimes.items():
        a, b = fit.survival, hourly.lifetimes[group].survival
        se = (a["ci_high"] - a["ci_low"]) / (2 * z)
        assert ((b["survival"] - a["survival"]).abs() / se).max() < 0.05, group
    e, h = exact.groups.set_index("group"), hourly.groups.set_index("group")
    others = ~e["is_reference"]
    assert ((h["log_hr"] - e["log_hr"]).abs() / e["log_hr_se"])[others].max() < 0.02
    assert ((h["rmst_days"] - e["rmst_days"]).abs() / e["rmst_se"]).max() < 0.05
    # A day grid moves more, but still little: the test can tell them apart.
    daily = compare_segments(demo_facts, "persona", grid_hours=24, completion=None)
    d = daily.groups.set_index("group")
    assert ((d["rmst_days"] - e["rmst_days"]).abs() / e["rmst_se"]).max() > (
        (h["rmst_days"] - e["rmst_days"]).abs() / e["rmst_se"]
    ).max()


# --- the vectorised Cox fit with exact frequency weights ---------------------------------------

# lifelines stops Newton-Raphson when the log-likelihood changes by less than 1e-9 (relative),
# which leaves its estimate up to ~1e-5 from the maximum; run to convergence it is the reference.
TIGHT = {"precision": 1e-13, "r_precision": 1e-16}


def test_efron_cox_equals_lifelines_on_rossi():
    rossi = load_rossi()
    cols = list(ROSSI)
    ours = efron_cox(rossi["week"], rossi["arrest"], rossi[cols])
    theirs = CoxPHFitter().fit(rossi, "week", "arrest", fit_options=TIGHT)
    # Even so lifelines stops here with a score of ~6e-6 (its damped steps), about 5e-9 from
    # the maximum: compare at 1e-7. (The fits on synthetic data below agree to 1e-9.)
    np.testing.assert_allclose(ours.params_[cols], theirs.params_[cols], rtol=1e-7)
    np.testing.assert_allclose(ours.standard_errors_[cols], theirs.standard_errors_[cols], rtol=1e-7)
    np.testing.assert_allclose(ours.summary.loc[cols, "p"], theirs.summary.loc[cols, "p"], rtol=1e-6)
    np.testing.assert_allclose(
        ours.confidence_intervals_.loc[cols].to_numpy(),
        theirs.confidence_intervals_.loc[cols].to_numpy(),
        atol=1e-8,
    )
    assert ours.log_likelihood_ == pytest.approx(theirs.log_likelihood_, rel=1e-12)
    for name, (coef, se) in ROSSI.items():  # and the published table
        assert ours.params_[name] == pytest.approx(coef, abs=5e-5), name
        assert ours.standard_errors_[name] == pytest.approx(se, abs=5e-5), name
    # The PH check is lifelines' test of the same model.
    expected = proportional_hazard_test(theirs, rossi, time_transform="km").summary
    got = efron_ph_test(ours)
    np.testing.assert_allclose(got["test_statistic"], expected.loc[cols, "test_statistic"], rtol=1e-6)
    np.testing.assert_allclose(got["p"], expected.loc[cols, "p"], rtol=1e-6)


def test_efron_cox_on_compressed_rows_equals_the_replicated_rows_exactly(tied):
    """Heavy ties: lifelines' own weighted fit is off here (the split test above); ours is not."""
    design = covariate_columns(tied, ["group"])
    data = pd.concat([tied[[C.LIFETIME, C.CHURNED]], design], axis=1)
    cols = list(design.columns)
    packed = compress(data, [C.LIFETIME, C.CHURNED, *cols])
    assert len(packed) < len(data) / 5
    plain = efron_cox(data[C.LIFETIME], data[C.CHURNED], data[cols])
    weighted = efron_cox(packed[C.LIFETIME], packed[C.CHURNED], packed[cols], weights=packed[WEIGHT])
    assert (weighted.users, weighted.deaths) == (len(data), int(data[C.CHURNED].sum()))
    np.testing.assert_allclose(weighted.params_, plain.params_, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(weighted.standard_errors_, plain.standard_errors_, rtol=1e-10)
    np.testing.assert_allclose(efron_ph_test(weighted), efron_ph_test(plain), rtol=1e-9)
    # Both equal lifelines on the replicated rows (one row per user).
    rows = data.assign(**{C.CHURNED: data[C.CHURNED].astype(int)})
    theirs = CoxPHFitter().fit(rows, C.LIFETIME, C.CHURNED, fit_options=TIGHT)
    np.testing.assert_allclose(weighted.params_[cols], theirs.params_[cols], rtol=1e-9)
    np.testing.assert_allclose(weighted.standard_errors_[cols], theirs.standard_errors_[cols], rtol=1e-9)
    expected = proportional_hazard_test(theirs, rows, time_transform="km").summary
    np.testing.assert_allclose(efron_ph_test(weighted)["p"], expected.loc[cols, "p"], rtol=1e-8)


def test_efron_cox_on_compresses_losslessly_and_rounds_only_on_a_grid(tied):
    from onboarding_analysis.stats.cox_fit import efron_cox_on

    design = covariate_columns(tied, ["group"])
    cols = list(design.columns)
    data = pd.concat([tied[[C.LIFETIME, C.CHURNED]], design], axis=1)
    data = data.rename(columns={C.LIFETIME: "duration", C.CHURNED: "event"})
    data["duration"] += 0.3  # off the day grid, so a 24 h grid moves every duration
    packed = efron_cox_on(data, cols, compress_rows=True, grid_hours=None)
    plain = efron_cox(data["duration"], data["event"], data[cols])
    np.testing.assert_allclose(packed.params_, plain.params_, rtol=1e-10, atol=1e-13)
    gridded = efron_cox_on(data, cols, compress_rows=False, grid_hours=24)
    floored = efron_cox(np.floor(data["duration"]), data["event"], data[cols])
    np.testing.assert_allclose(gridded.params_, floored.params_, rtol=1e-10, atol=1e-13)


def test_efron_cox_refuses_collinear_covariates_and_non_integer_weights(tied):
    design = covariate_columns(tied, ["group"])
    x = design.assign(copy=design.iloc[:, 0])
    with pytest.raises(ConvergenceError):
        efron_cox(tied[C.LIFETIME], tied[C.CHURNED], x)
    with pytest.raises(ValueError, match="whole numbers"):
        efron_cox(tied[C.LIFETIME], tied[C.CHURNED], design, weights=np.full(len(tied), 1.5))


def test_logrank_equals_lifelines_with_ties_and_three_groups(tied):
    overall, pairwise = logrank_tests(tied, "group", "a")
    expected = multivariate_logrank_test(tied[C.LIFETIME], tied["group"], tied[C.CHURNED])
    assert overall["statistic"] == pytest.approx(expected.test_statistic, rel=1e-12)
    assert overall["p"] == pytest.approx(expected.p_value, rel=1e-9)
    assert overall["df"] == 2
    from lifelines.statistics import logrank_test

    ref = tied[tied["group"] == "a"]
    for name in ("b", "c"):
        other = tied[tied["group"] == name]
        pair = logrank_test(ref[C.LIFETIME], other[C.LIFETIME], ref[C.CHURNED], other[C.CHURNED])
        assert pairwise.loc[name, "statistic"] == pytest.approx(pair.test_statistic, rel=1e-12)
        assert pairwise.loc[name, "p"] == pytest.approx(pair.p_value, rel=1e-9)


def test_efron_cox_by_covariate_pattern_equals_the_fit_on_rows(tied):
    """Few distinct covariate rows (group dummies, a 0/1 adjuster): the fit runs on a table of
    death times by pattern; it must give the row-wise fit, and lifelines' on the rows."""
    design = covariate_columns(tied.assign(pro=np.arange(len(tied)) % 3 == 0), ["group", "pro"])
    cols = list(design.columns)
    patterns = efron_cox(tied[C.LIFETIME], tied[C.CHURNED], design)
    rows = efron_cox(tied[C.LIFETIME], tied[C.CHURNED], design, by_pattern=False)
    assert type(patterns._data).__name__ == "EfronPatterns" and type(rows._data).__name__ == "EfronRows"
    np.testing.assert_allclose(patterns.params_, rows.params_, rtol=1e-10)
    np.testing.assert_allclose(patterns.variance_matrix_, rows.variance_matrix_, rtol=1e-10)
    assert patterns.log_likelihood_ == pytest.approx(rows.log_likelihood_, rel=1e-13)
    np.testing.assert_allclose(efron_ph_test(patterns), efron_ph_test(rows), rtol=1e-9)
    data = pd.concat([tied[[C.LIFETIME]], tied[C.CHURNED].astype(int), design], axis=1)
    theirs = CoxPHFitter().fit(data, C.LIFETIME, C.CHURNED, fit_options=TIGHT)
    np.testing.assert_allclose(patterns.params_[cols], theirs.params_[cols], rtol=1e-9)
    expected = proportional_hazard_test(theirs, data, time_transform="km").summary
    np.testing.assert_allclose(efron_ph_test(patterns)["p"], expected.loc[cols, "p"], rtol=1e-8)


def test_eight_groups_are_eight_patterns_not_two_to_the_seventh(tied):
    eight = covariate_columns(pd.DataFrame({"g": (np.arange(len(tied)) % 8).astype(str)}), ["g"])
    assert eight.shape[1] == 7
    by_pattern = efron_cox(tied[C.LIFETIME], tied[C.CHURNED], eight)
    by_rows = efron_cox(tied[C.LIFETIME], tied[C.CHURNED], eight, by_pattern=False)
    assert type(by_pattern._data).__name__ == "EfronPatterns" and by_pattern._data.P.shape == (8, 7)
    np.testing.assert_allclose(by_pattern.params_, by_rows.params_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(by_pattern.standard_errors_, by_rows.standard_errors_, rtol=1e-10)


@pytest.mark.parametrize("module", ["compression", "cox_fit", "hypothesis"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"onboarding_analysis.stats.{module}"))
    assert result.failed == 0 and result.attempted > 0
