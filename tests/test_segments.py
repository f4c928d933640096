"""Segment comparisons: pooling, references, tests and their adjustment, the demo's truth.

Expected values are derived independently: multiple-testing adjustments by hand, Cox and
log-rank against lifelines fitted directly (and published results in test_compression.py),
hazard ratios and never-active shares against the demo generator's ground truth.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_rossi
from lifelines.statistics import logrank_test, multivariate_logrank_test, proportional_hazard_test
from matplotlib.axes import Axes
from statsmodels.stats.multitest import multipletests

from onboarding_analysis.analyses.lifetime import fit_lifetime
from onboarding_analysis.analyses.segments import (
    FAMILIES,
    compare_all,
    compare_segments,
    compare_table,
    cox_hazard_ratios,
    plot_hazard_ratios,
    plot_segment_retention,
    plot_segment_survival,
    pool_small_groups,
    segment_summary,
    segments_metrics,
)
from onboarding_analysis.data import columns as C
from onboarding_analysis.data.facts import Accounting, Facts
from onboarding_analysis.data.pipeline import compute_facts
from onboarding_analysis.demo import DemoSpec, true_hazard_ratios, write_demo
from onboarding_analysis.errors import DataError, ParamsError, StatisticalWarning
from onboarding_analysis.params import load_params, validate_params
from onboarding_analysis.stats.hypothesis import adjust_pvalues

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent
SEED = 20240101


def make_facts(table: pd.DataFrame, **params) -> Facts:
    """A Facts object around a hand-made user-facts table (no events: no funnel)."""
    p = validate_params({"events": "unused.csv", **params})
    accounting = Accounting(events_read=0, events_used=0, excluded={}, users=len(table), users_excluded={})
    return Facts(table=table, observation_end=dt.datetime(2024, 9, 1), accounting=accounting, params=p)


def synthetic_table(
    sizes: dict[str, int], seed: int = 3, hazard: dict[str, float] | None = None
) -> pd.DataFrame:
    """User facts with known group sizes: exponential lifetimes, observable-rule censoring."""
    rng = np.random.default_rng(seed)
    group = np.repeat(list(sizes), list(sizes.values()))
    n = len(group)
    rate = np.array([(hazard or {}).get(g, 1.0) for g in group]) / 30
    life = rng.exponential(1 / rate)
    life[rng.random(n) < 0.1] = 0.0  # never active after signup
    age = rng.uniform(0, 200, n)
    observable = np.maximum(age - 30, 0)
    churned = life <= observable
    value = np.where(rng.random(n) < 0.5, rng.exponential(5, n), np.nan)
    value = np.where(value <= np.minimum(life, age), value, np.nan)
    table = pd.DataFrame(
        {
            C.USER_ID: [f"u{i}" for i in range(n)],
            C.T0: pd.Timestamp("2024-09-01") - pd.to_timedelta(age, unit="D"),
            "segment": pd.array(group, dtype="string"),
            C.AGE: age,
            C.CHURNED: churned,
            C.LIFETIME: np.where(churned, life, observable),
            C.VALUE: value,
        }
    )
    for day in (1, 7, 30):
        table[C.active_day(day)] = (life > day) & (rng.random(n) < 0.6)
    return table


@pytest.fixture(scope="module")
def demo_facts(tmp_path_factory):
    paths = write_demo(tmp_path_factory.mktemp("demo"), seed=SEED)
    raw = load_params(ROOT / "params" / "demo.yaml").as_notebook_parameters()
    facts = compute_facts(
        validate_params(raw | {"events": str(paths["events"]), "users": str(paths["users"])})
    )
    # The signup period of the onboarding change, a hazard factor of the demo: the Cox model
    # adjusts for it to estimate the generator's conditional ratios exactly.
    change = pd.Timestamp(DemoSpec().change_date)
    period = np.where(facts.table[C.T0] >= change, "after", "before")
    return dataclasses.replace(facts, table=facts.table.assign(period=pd.array(period, dtype="string")))


@pytest.fixture(scope="module")
def demo_all(demo_facts):
    return compare_all(demo_facts)


# --- multiple testing -------------------------------------------------------------------------


def test_holm_and_bh_adjustments_by_hand():
    p = [0.01, 0.04, 0.03, 0.2]
    # Holm: sorted 0.01, 0.03, 0.04, 0.2 times 4, 3, 2, 1 -> 0.04, 0.09, 0.08, 0.2, then running
    # maximum -> 0.04, 0.09, 0.09, 0.2 (back in input order: 0.04, 0.09, 0.09, 0.2).
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.04, 0.09, 0.09, 0.2])
    # BH: p * 4 / rank -> 0.04, 0.06, 0.0533, 0.2, then running minimum from the top.
    np.testing.assert_allclose(adjust_pvalues(p, "fdr_bh"), [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    for method in ("holm", "fdr_bh"):
        np.testing.assert_allclose(adjust_pvalues(p, method), multipletests(p, method=method)[1])
    # Untestable entries stay NaN and are not part of the family.
    np.testing.assert_allclose(adjust_pvalues([0.01, np.nan, 0.04], "holm"), [0.02, np.nan, 0.04])
    assert adjust_pvalues([0.3], "holm").tolist() == [0.3]
    with pytest.raises(ParamsError, match="p_adjust must be one of holm, fdr_bh"):
        adjust_pvalues(p, "bonferroni")


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_every_family_is_adjusted_on_its_own(method):
    facts = make_facts(synthetic_table({"a": 300, "b": 250, "c": 200, "d": 150}, hazard={"b": 1.2, "d": 0.9}))
    result = compare_segments(facts, "segment", p_adjust=method)
    assert set(result.tests["family"]) == set(FAMILIES)
    for family, rows in result.tests.groupby("family"):
        raw = rows["p_raw"].to_numpy()
        expected = raw if len(raw) == 1 else multipletests(raw, method=method)[1]
        np.testing.assert_allclose(rows["p_adjusted"], expected, err_msg=family)
    groups = result.groups.set_index("group")
    hr_rows = result.tests[result.tests["family"] == "Cox hazard ratio"].set_index("group")
    np.testing.assert_allclose(groups.loc[hr_rows.index, "hr_p_adjusted"], hr_rows["p_adjusted"])


def test_holm_and_bh_differ_where_they_should():
    facts = make_facts(
        synthetic_table({"a": 300, "b": 250, "c": 200, "d": 150}, hazard={"b": 1.3, "c": 1.2, "d": 1.1})
    )
    holm = compare_segments(facts, "segment", p_adjust="holm").groups.set_index("group")
    bh = compare_segments(facts, "segment", p_adjust="fdr_bh").groups.set_index("group")
    others = ["b", "c", "d"]
    np.testing.assert_allclose(holm.loc[others, "hr_p_raw"], bh.loc[others, "hr_p_raw"])
    assert (bh.loc[others, "hr_p_adjusted"] <= holm.loc[others, "hr_p_adjusted"] + 1e-15).all()
    assert (bh.loc[others, "hr_p_adjusted"] < holm.loc[others, "hr_p_adjusted"]).any()


# --- groups and references --------------------------------------------------------------------


def test_small_groups_are_pooled_into_other_and_listed():
    labels, pooled, other = pool_small_groups(
        pd.Series(["a"] * 40 + ["b"] * 31 + ["c"] * 5 + ["d"] * 2 + [None] * 3), 30
    )
    assert pooled == ("(missing)", "c", "d") and other == "other"
    assert labels.value_counts().to_dict() == {"a": 40, "b": 31, "other": 10}
    # A real group called "other" keeps its name; the pooled one is told apart.
    labels, pooled, other = pool_small_groups(pd.Series(["other"] * 40 + ["x"] * 3), 30)
    assert other == "other (pooled)" and set(labels) == {"other", "other (pooled)"}

    facts = make_facts(synthetic_table({"a": 120, "b": 80, "c": 12, "d": 7}), min_segment_size=30)
    result = compare_segments(facts, "segment")
    assert result.pooled == ("c", "d") and result.other_label == "other"
    assert result.groups["group"].tolist() == ["a", "b", "other"]
    assert result.groups["users"].tolist() == [120, 80, 19]
    assert any("pooled into 'other'" in note and "['c', 'd']" in note for note in result.notes)
    # Unpooled, the 7-user group is followed for less than the RMST horizon: a caveat, as a warning.
    with pytest.warns(
        StatisticalWarning, match=r"beyond the longest observed lifetime of group\(s\) \['d'\]"
    ):
        unpooled = compare_segments(facts, "segment", min_size=5)
    assert unpooled.groups["group"].tolist() == ["a", "b", "c", "d"] and unpooled.pooled == ()


def test_reference_is_params_or_else_the_largest_group():
    table = synthetic_table({"a": 80, "b": 120, "c": 60})
    assert compare_segments(make_facts(table), "segment").reference == "b"
    facts = make_facts(table, reference_groups={"segment": "c"})
    result = compare_segments(facts, "segment")
    assert result.reference == "c" and result.groups["group"].iloc[0] == "c"
    assert result.groups.set_index("group").loc["c", "hazard_ratio"] == 1.0
    assert compare_segments(facts, "segment", reference="a").reference == "a"


@pytest.mark.parametrize(
    ("reference", "message"),
    [("zzz", "is not a value of 'segment'"), ("d", "was pooled into 'other'")],
)
def test_bad_references_are_rejected(reference, message):
    facts = make_facts(synthetic_table({"a": 80, "b": 60, "d": 5}))
    with pytest.raises(ParamsError, match=message):
        compare_segments(facts, "segment", reference=reference)


def test_bad_inputs_say_what_to_fix():
    facts = make_facts(synthetic_table({"a": 80, "b": 60}))
    with pytest.raises(DataError, match="column 'nope' is not in the user-facts table"):
        compare_segments(facts, "nope")
    with pytest.raises(TypeError, match="Facts object"):
        compare_segments(facts.table, "segment")
    with pytest.raises(ParamsError, match="p_adjust"):
        compare_segments(facts, "segment", p_adjust="bonf")
    with pytest.raises(ParamsError, match="no segment columns"):
        compare_all(facts)


# --- the fits equal lifelines -----------------------------------------------------------------


def test_survival_users_match_fit_lifetime_and_cox_users_are_the_ever_active():
    table = synthetic_table({"a": 300, "b": 200}, hazard={"b": 1.5})
    result = compare_segments(make_facts(table), "segment", compress=False)
    for name, fit in result.lifetimes.items():
        rows = table[table["segment"] == name]
        expected = fit_lifetime(rows, days=(1, 7, 30), horizon_days=90)
        pd.testing.assert_frame_equal(fit.survival, expected.survival)
    groups = result.groups.set_index("group")
    for name in result.lifetimes:
        expected = fit_lifetime(table[table["segment"] == name], days=(1, 7, 30), horizon_days=90)
        # Users censored at 0 are left out, the same ones as fit_lifetime leaves out.
        assert groups.loc[name, "users"] - groups.loc[name, "lifetime_users"] == expected.unobservable > 0
    informative = table[C.CHURNED] | (table[C.LIFETIME] > 0)
    assert groups["lifetime_users"].sum() == informative.sum()
    assert groups["cox_users"].sum() == (table[C.LIFETIME] > 0).sum()
    # The never-active share is the jump of the curve at 0 (churned at duration 0).
    for name, fit in result.lifetimes.items():
        s0 = float(fit.kmf.survival_function_.loc[0.0].iloc[0])
        assert groups.loc[name, "never_active"] == pytest.approx(1 - s0, abs=1e-12)


def test_logrank_and_cox_equal_lifelines_fitted_directly():
    table = synthetic_table({"a": 300, "b": 200, "c": 150}, hazard={"b": 1.5, "c": 0.7})
    result = compare_segments(make_facts(table), "segment", compress=False)
    informative = table[table[C.CHURNED] | (table[C.LIFETIME] > 0)]
    overall = multivariate_logrank_test(
        informative[C.LIFETIME], informative["segment"], informative[C.CHURNED]
    )
    assert result.logrank_statistic == pytest.approx(overall.test_statistic, rel=1e-12)
    assert result.logrank_p == pytest.approx(overall.p_value, rel=1e-9)
    groups = result.groups.set_index("group")
    ref = informative[informative["segment"] == "a"]
    for name in ("b", "c"):
        other = informative[informative["segment"] == name]
        pair = logrank_test(ref[C.LIFETIME], other[C.LIFETIME], ref[C.CHURNED], other[C.CHURNED])
        assert groups.loc[name, "logrank_p_raw"] == pytest.approx(pair.p_value, rel=1e-9)
    active = table[table[C.LIFETIME] > 0]
    design = pd.DataFrame(
        {
            "T": active[C.LIFETIME],
            "E": active[C.CHURNED].astype(int),
            "b": (active["segment"] == "b").astype(float),
            "c": (active["segment"] == "c").astype(float),
        }
    )
    # lifelines' default stopping rule (relative log-likelihood change < 1e-9) leaves the
    # estimate about 1e-5 from the maximum here; run it to convergence to compare at 1e-9.
    cph = CoxPHFitter().fit(design, "T", "E", fit_options={"precision": 1e-13, "r_precision": 1e-16})
    for name in ("b", "c"):
        assert groups.loc[name, "hazard_ratio"] == pytest.approx(np.exp(cph.params_[name]), rel=1e-9)
        low, high = np.exp(cph.confidence_intervals_.loc[name])
        assert groups.loc[name, "hr_ci_low"] == pytest.approx(low, rel=1e-9)
        assert groups.loc[name, "hr_ci_high"] == pytest.approx(high, rel=1e-9)
        assert groups.loc[name, "hr_p_raw"] == pytest.approx(cph.summary.loc[name, "p"], rel=1e-8)
    # The proportional-hazards check is lifelines' test on the same model.
    expected = proportional_hazard_test(cph, design, time_transform="km").summary
    for name in ("b", "c"):
        assert groups.loc[name, "ph_p_raw"] == pytest.approx(expected.loc[name, "p"], rel=1e-8)


def test_group_cox_reproduces_the_published_rossi_ratio():
    # Fox & Weisberg: financial aid, coef -0.37942 (SE 0.19138) adjusted for the other covariates.
    rossi = load_rossi().assign(aid=lambda d: d["fin"].map({0: "no", 1: "yes"}))
    table, cph, _ = cox_hazard_ratios(
        rossi,
        "aid",
        "no",
        duration="week",
        event="arrest",
        adjust_for=["age", "race", "wexp", "mar", "paro", "prio"],
    )
    assert table.loc["yes", "log_hr"] == pytest.approx(-0.37942, abs=5e-5)
    assert table.loc["yes", "se"] == pytest.approx(0.19138, abs=5e-5)
    assert table.loc["yes", "hr_ci_low"] == pytest.approx(np.exp(-0.37942 - 1.959964 * 0.19138), rel=1e-3)


def test_compressed_comparison_equals_the_uncompressed_one():
    table = synthetic_table({"a": 300, "b": 200, "c": 150}, hazard={"b": 1.5, "c": 0.7})
    table[C.LIFETIME] = np.floor(table[C.LIFETIME])  # day-granular: many ties
    facts = make_facts(table)
    packed = compare_segments(facts, "segment", compress=True)
    plain = compare_segments(facts, "segment", compress=False)
    assert packed.logrank_statistic == plain.logrank_statistic and packed.logrank_p == plain.logrank_p
    for name, fit in plain.lifetimes.items():
        pd.testing.assert_frame_equal(fit.survival, packed.lifetimes[name].survival)
        assert fit.rmst_days == packed.lifetimes[name].rmst_days
    a, b = plain.groups.set_index("group"), packed.groups.set_index("group")
    # The Cox fit honours frequency weights exactly (Efron steps per user, not per row), so the
    # hazard ratios, intervals, Wald and PH-check p-values are the same, not only close.
    assert packed.cox.rows < plain.cox.rows / 2 and packed.cox.users == plain.cox.users
    _assert_same_comparison(plain, packed)
    np.testing.assert_allclose(a["ttfv_day_7"], b["ttfv_day_7"], rtol=0, atol=1e-15)


def _assert_same_comparison(a, b, rtol=1e-9):
    assert a.reference == b.reference and a.notes == b.notes
    ga, gb = a.groups, b.groups
    assert ga.columns.tolist() == gb.columns.tolist() and ga["group"].tolist() == gb["group"].tolist()
    numeric = [c for c in ga.columns if pd.api.types.is_numeric_dtype(ga[c]) and c != "is_reference"]
    np.testing.assert_allclose(
        ga[numeric].to_numpy(dtype=float), gb[numeric].to_numpy(dtype=float), rtol=rtol, atol=1e-300
    )
    assert ga["ph_warning"].tolist() == gb["ph_warning"].tolist()
    cols = ["statistic", "df", "p_raw", "p_adjusted"]
    np.testing.assert_allclose(a.tests[cols].to_numpy(float), b.tests[cols].to_numpy(float), rtol=rtol)
    assert a.logrank_p == pytest.approx(b.logrank_p, rel=rtol)


def test_exact_durations_and_adjustment_give_the_same_comparison_with_or_without_compression():
    """Continuous durations (no grid): compression cannot shrink the rows and is skipped; the
    figures equal the uncompressed ones. With a grid and an adjustment column they still do."""
    table = synthetic_table({"a": 400, "b": 250, "c": 150}, hazard={"b": 1.5, "c": 0.7})
    table["plan"] = np.where(np.arange(len(table)) % 3 == 0, "pro", "free")
    facts = make_facts(table)
    for grid in (None, 24):
        packed = compare_segments(facts, "segment", compress=True, grid_hours=grid, adjust_for=["plan"])
        plain = compare_segments(facts, "segment", compress=False, grid_hours=grid, adjust_for=["plan"])
        assert list(packed.cox.params_.index) == ["group=b", "group=c", "plan=pro"]
        _assert_same_comparison(plain, packed)
        if grid is not None:
            assert packed.cox.rows < plain.cox.rows


def test_row_order_changes_no_figure():
    """The exact path sorts the rows by duration once; a shuffled table gives the same figures."""
    table = synthetic_table({"a": 400, "b": 250, "c": 150}, hazard={"b": 1.5, "c": 0.7})
    table["plan"] = np.where(np.arange(len(table)) % 3 == 0, "pro", "free")
    shuffled = table.sample(frac=1.0, random_state=5)
    for compress in (False, True):
        a = compare_segments(
            make_facts(table), "segment", compress=compress, grid_hours=None, adjust_for=["plan"]
        )
        b = compare_segments(
            make_facts(shuffled), "segment", compress=compress, grid_hours=None, adjust_for=["plan"]
        )
        assert list(b.cox.params_.index) == ["group=b", "group=c", "plan=pro"]
        _assert_same_comparison(a, b, rtol=1e-10)


def _pool_by_labels(values, min_size):
    """The labelling of pool_small_groups spelled out on every user (the earlier implementation)."""
    labels = values.astype("string").fillna("(missing)").astype(object)
    counts = labels.value_counts()
    small = sorted(str(v) for v in counts.index[counts < min_size])
    if not small:
        return labels, (), None
    other = "other" if "other" not in counts.index or "other" in small else "other (pooled)"
    return labels.where(~labels.isin(small), other), tuple(small), other


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["b"] * 40 + ["a"] * 31 + ["c"] * 5 + [None] * 3 + ["other"] * 2),
        pd.Series(["other"] * 40 + ["x"] * 3 + [np.nan] * 35),
        pd.Series([1.0] * 50 + [2.5] * 40 + [np.nan] * 4 + [3.0]),
        pd.Series([True] * 50 + [False] * 40),
        pd.Series(pd.Categorical(["p"] * 30 + ["q"] * 60 + [None] * 2, categories=["q", "p", "z"])),
        pd.Series(pd.array(["x"] * 45 + ["y"] * 3 + [None] * 40, dtype="string"), index=np.arange(88) * 2),
        pd.Series([1] * 40 + ["1"] * 40 + ["2"] * 2, dtype=object),  # two values, one label
    ],
)
def test_pooling_by_codes_labels_like_the_labels_themselves(values):
    expected, pooled, other = _pool_by_labels(values, 30)
    labels, got_pooled, got_other = pool_small_groups(values, 30)
    pd.testing.assert_series_equal(labels, expected, check_names=False)
    assert (got_pooled, got_other) == (pooled, other)


# --- the demo's truth -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "adjust_for"), [("persona", ("plan", "period")), ("plan", ("persona", "period"))]
)
def test_demo_hazard_ratios_are_recovered(demo_facts, column, adjust_for):
    """Estimand: the churn hazard ratio among users active after signup (lifetime > 0), given
    the other hazard factors. The generator's ratios are exact for exactly these users."""
    result = compare_segments(demo_facts, column, adjust_for=adjust_for, completion=None)
    truth = true_hazard_ratios(DemoSpec())[column]
    groups = result.groups.set_index("group")
    reference = result.reference
    for name in groups.index.drop(reference):
        expected = truth[name] / truth[reference]
        row = groups.loc[name]
        assert row["hr_ci_low"] <= expected <= row["hr_ci_high"], (
            name,
            expected,
            row[["hazard_ratio", "hr_ci_low", "hr_ci_high"]],
        )
        assert row["hr_p_adjusted"] < 0.05 and row["ph_warning"] == ""
        # The interval is informative: narrower (log scale) than the effect itself.
        assert np.log(row["hr_ci_high"] / row["hr_ci_low"]) < abs(np.log(expected))


def test_demo_never_active_shares_are_recovered(demo_all):
    truth = {name: p.never_active for name, p in DemoSpec().personas.items()}
    groups = demo_all["persona"].groups.set_index("group")
    for name, share in truth.items():
        assert groups.loc[name, "never_active_ci_low"] <= share <= groups.loc[name, "never_active_ci_high"], (
            name
        )


def test_demo_channel_is_not_called_significant(demo_all):
    channel = demo_all["channel"]
    assert (channel.tests["p_adjusted"] >= 0.05).all(), channel.tests
    assert channel.logrank_p_adjusted >= 0.05
    groups = channel.groups[~channel.groups["is_reference"]]
    assert ((groups["hr_ci_low"] <= 1) & (groups["hr_ci_high"] >= 1)).all()
    # ... while persona and plan are, after the same correction.
    assert demo_all["persona"].logrank_p_adjusted < 1e-6 and demo_all["plan"].logrank_p_adjusted < 0.05


def test_compare_all_adjusts_the_global_tests_across_columns(demo_all):
    raw = [c.logrank_p for c in demo_all.values()]
    np.testing.assert_allclose(
        [c.logrank_p_adjusted for c in demo_all.values()], multipletests(raw, method="holm")[1]
    )
    persona = demo_all["persona"]
    assert persona.reference == "marketer"  # params reference_groups
    completion = persona.groups["completion"].to_numpy()
    assert np.isfinite(completion).all() and (completion > 0).all()


def test_metrics_are_plain_json(demo_all):
    metrics = segments_metrics(demo_all)
    text = json.dumps(metrics, allow_nan=False)
    persona = json.loads(text)["segments"]["persona"]
    assert persona["reference"] == "marketer" and "logrank_p_adjusted" in persona
    ref = persona["groups"]["marketer"]
    assert ref["hazard_ratio"] == 1.0 and ref["hr_ci_low"] is None and ref["p_adjusted"] is None
    dev = persona["groups"]["developer"]
    assert set(dev) >= {
        "users",
        "retention_day_1",
        "retention_day_7",
        "retention_day_30",
        "median_days",
        "rmst_days",
        "hazard_ratio",
        "hr_ci_low",
        "hr_ci_high",
        "p_raw",
        "p_adjusted",
    }
    assert isinstance(dev["users"], int) and isinstance(dev["hazard_ratio"], float)
    # Without compare_all there is no cross-column adjustment to report.
    single = segments_metrics([compare_segments(make_facts(synthetic_table({"a": 60, "b": 50})), "segment")])
    assert "logrank_p_adjusted" not in single["segments"]["segment"]


def test_summary_shows_the_ph_warning_next_to_the_ratio(demo_all):
    persona = demo_all["persona"]
    summary = segment_summary(persona)
    assert summary["group"].iloc[0] == "marketer (reference)"
    assert summary["hazard ratio"].iloc[0] == "1 (reference)"
    flagged = dataclasses.replace(
        persona, groups=persona.groups.assign(ph_warning=["", "non-proportional", ""])
    )
    assert segment_summary(flagged)["hazard ratio"].iloc[1].endswith("non-proportional")


@pytest.mark.parametrize("plot", [plot_segment_survival, plot_hazard_ratios, plot_segment_retention])
def test_plots_return_axes(demo_all, plot):
    import matplotlib.pyplot as plt

    ax = plot(demo_all["persona"])
    assert isinstance(ax, Axes) and ax.get_title()
    plt.close(ax.figure)


def test_forest_plot_marks_ph_warnings(demo_all):
    import matplotlib.pyplot as plt

    persona = demo_all["persona"]
    flagged = dataclasses.replace(
        persona, groups=persona.groups.assign(ph_warning=["", "", "non-proportional"])
    )
    ax = plot_hazard_ratios(flagged)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["developer", "sales (PH warning)"]
    assert ax.get_xscale() == "log"
    assert any(line.get_xdata()[0] == 1.0 for line in ax.get_lines())  # the reference line
    assert "proportional-hazards check failed" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(ax.figure)


def test_compare_table_works_without_events(demo_facts):
    result = compare_table(demo_facts.table, "channel", params=demo_facts.params, p_adjust="fdr_bh")
    assert result.groups["completion"].isna().all() and result.p_adjust == "fdr_bh"
    assert len(result.groups) == 4


def test_km_curves_are_plain_kaplan_meier(demo_all):
    fit = demo_all["plan"].lifetimes["free"]
    assert (
        isinstance(fit.kmf, KaplanMeierFitter)
        and fit.users == demo_all["plan"].groups.iloc[0]["lifetime_users"]
    )


def test_a_pooled_params_reference_falls_back_to_the_largest_group_with_a_note():
    # Per-client runs can make the configured reference small: the run goes on, and says so.
    facts = make_facts(synthetic_table({"a": 80, "b": 60, "d": 5}))
    facts = dataclasses.replace(
        facts, params=dataclasses.replace(facts.params, reference_groups={"segment": "d"})
    )
    with pytest.warns(StatisticalWarning, match="pooled"):
        result = compare_segments(facts, "segment")
    assert result.reference == "a"
    assert any("largest group is the reference" in note for note in result.notes)


# --- hazard ratios that cannot be estimated ----------------------------------------------------


def plan_tied_table(n: int, seed: int = 0) -> pd.DataFrame:
    """User facts where the plan decides the lifetime: quasi-complete separation.

    Every free user churns before day 20, every pro user before day 40, enterprise users only
    between days 40 and 60, so every enterprise churn comes after every other user's (the
    partial likelihood is monotone in enterprise's coefficient). Signups uniform over 200 days,
    the inactivity rule (30 days) with observable censoring, as the user facts have it.
    """
    rng = np.random.default_rng(seed)
    plan = rng.choice(["free", "pro", "enterprise"], n)
    low = np.select([plan == "enterprise"], [40.0], 0.0)
    high = np.select([plan == "free", plan == "pro"], [20.0, 40.0], 60.0)
    life = low + rng.uniform(0, 1, n) * (high - low)
    age = rng.uniform(0, 200, n)
    observable = np.maximum(age - 30, 0)
    churned = life <= observable
    table = pd.DataFrame(
        {
            C.USER_ID: [f"u{i}" for i in range(n)],
            C.T0: pd.Timestamp("2024-09-01") - pd.to_timedelta(age, unit="D"),
            "plan": pd.array(plan, dtype="string"),
            "channel": pd.array(np.where(rng.random(n) < 0.5, "paid", "organic"), dtype="string"),
            C.AGE: age,
            C.CHURNED: churned,
            C.LIFETIME: np.where(churned, life, observable),
            C.VALUE: np.nan,
        }
    )
    for day in (1, 7, 30):
        table[C.active_day(day)] = life > day
    return table


@pytest.mark.parametrize(
    "seed",
    [
        0,  # on main: OverflowError in math.exp(coef + z * se) (200 users is the smallest size found)
        1,  # on main: a silent log hazard ratio of -39.2 for enterprise
    ],
)
def test_a_separated_plan_is_not_estimable_and_the_rest_of_the_comparison_stays(seed):
    table = plan_tied_table(200, seed)
    facts = make_facts(table, segments=["plan"], reference_groups={"plan": "free"})
    comparison = compare_all(facts)["plan"]
    groups = comparison.groups.set_index("group")
    enterprise = groups.loc["enterprise"]
    assert enterprise[["hazard_ratio", "hr_ci_low", "hr_ci_high", "hr_p_raw"]].isna().all()
    assert enterprise["hr_note"].startswith("not estimable: monotone likelihood")
    # The log-rank test is still there (and says the plans differ), and so is every other figure.
    assert comparison.logrank_p < 1e-10
    figures = groups.loc["enterprise", ["rmst_days", "retention_day_1", "logrank_p_raw"]].to_numpy(
        dtype=float
    )
    assert np.isfinite(figures).all()
    # Pro's ratio comes from the model without the enterprise users: lifelines on free + pro.
    active = table[(table[C.LIFETIME] > 0) & (table["plan"] != "enterprise")]
    design = pd.DataFrame(
        {
            "T": active[C.LIFETIME],
            "E": active[C.CHURNED].astype(int),
            "pro": (active["plan"] == "pro").astype(float),
        }
    )
    cph = CoxPHFitter().fit(design, "T", "E", fit_options={"precision": 1e-13, "r_precision": 1e-16})
    assert groups.loc["pro", "hazard_ratio"] == pytest.approx(np.exp(cph.params_["pro"]), rel=1e-8)
    assert groups.loc["pro", "hr_note"] == ""
    # The table says why, metrics.json holds null.
    summary = segment_summary(comparison).set_index("group")
    assert summary.loc["enterprise", "hazard ratio"] == enterprise["hr_note"]
    assert any("not estimable for 'enterprise'" in note for note in comparison.notes)
    metrics = json.loads(json.dumps(segments_metrics([comparison]), allow_nan=False))
    entry = metrics["segments"]["plan"]["groups"]["enterprise"]
    assert entry["hazard_ratio"] is entry["hr_ci_low"] is entry["hr_ci_high"] is entry["p_raw"] is None
    assert metrics["segments"]["plan"]["groups"]["pro"]["hazard_ratio"] > 0
    plot_hazard_ratios(comparison)  # draws "not estimable" for the group, no error


def test_an_adjustment_that_separates_makes_the_adjusted_ratios_not_estimable():
    table = plan_tied_table(200, 0)
    facts = make_facts(table, segments=["channel"], reference_groups={"channel": "organic"})
    comparison = compare_segments(facts, "channel", adjust_for=["plan"])
    paid = comparison.groups.set_index("group").loc["paid"]
    assert np.isnan(paid["hazard_ratio"]) and comparison.cox is None
    # (Which reason depends on the plan taken as the adjustment's reference, the most frequent:
    # with enterprise as reference the separation is by the two other dummies together.)
    assert paid["hr_note"].startswith("not estimable: ") and "monotone likelihood" in paid["hr_note"]
    assert any("the Cox model has no estimate" in note for note in comparison.notes)
    # Unadjusted, channel (which has no effect) has its ratio.
    plain = compare_segments(facts, "channel").groups.set_index("group").loc["paid"]
    assert 0.5 < plain["hazard_ratio"] < 2 and plain["hr_note"] == ""


def test_a_group_without_churn_is_not_estimable_with_its_reason():
    table = synthetic_table({"a": 300, "b": 200, "c": 100}, hazard={"b": 1.5})
    c = (table["segment"] == "c").to_numpy()
    table.loc[c, C.CHURNED] = False  # group c never churns (censored where it churned)
    result = compare_segments(make_facts(table), "segment")
    groups = result.groups.set_index("group")
    assert np.isnan(groups.loc["c", "hazard_ratio"])
    assert groups.loc["c", "hr_note"] == "not estimable: no churn among its users active after signup"
    assert segment_summary(result).set_index("group").loc["c", "hazard ratio"] == groups.loc["c", "hr_note"]
    assert np.isfinite(groups.loc["b", "hazard_ratio"]) and groups.loc["b", "hr_note"] == ""
