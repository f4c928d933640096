"""Tests of :mod:`onboarding_analysis.demo`: determinism, schema, and that the data obey the truth.

Statistical checks compare a count with its exact expectation computed from the spec and use a
tolerance of ``Z`` binomial standard errors; the seed is fixed, so they cannot flake.
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from onboarding_analysis import demo
from onboarding_analysis.demo import (
    DemoSpec,
    generate,
    true_hazard_ratios,
    true_lifetime_survival,
    write_demo,
)
from onboarding_analysis.demo.events import (
    DAY_US,
    EVENT_COLUMNS,
    EVENT_NAMES,
    FEATURES,
    FEEDBACK,
    MOMENT_KINDS,
    REVENUE_EVENT,
    SIGNUP_EVENT,
    STEPS,
    TIMED_EVENTS,
    USER_COLUMNS,
)
from onboarding_analysis.errors import DataError, ParamsError

SPEC = DemoSpec()
SEED = 20240101
#: Tolerance of the statistical checks, in standard errors.
Z = 4.0
#: Significance level below which a test of "no difference" fails.
ALPHA = 1e-3


@pytest.fixture(scope="module")
def data() -> demo.DemoData:
    return generate(SPEC, seed=SEED)


@pytest.fixture(scope="module")
def t0(data) -> pd.Series:
    return data.truth.set_index("user_id")["signup_at"]


@pytest.fixture(scope="module")
def active(data) -> pd.DataFrame:
    events = data.events
    return events[events["event"] != SIGNUP_EVENT].sort_values(["user_id", "timestamp"], kind="stable")


def _us(delta: pd.Series) -> np.ndarray:
    """Timedeltas as integer microseconds."""
    return delta.to_numpy().astype("timedelta64[us]").astype(np.int64)


def _days_to_us(days: pd.Series) -> np.ndarray:
    return np.rint(days.to_numpy() * DAY_US).astype(np.int64)


def _assert_count(observed: float, probs: np.ndarray, what: str) -> None:
    """Observed count of independent Bernoulli(probs) successes is within Z SEs of its mean."""
    expected = probs.sum()
    se = np.sqrt((probs * (1 - probs)).sum())
    assert abs(observed - expected) <= Z * max(se, 1.0), f"{what}: {observed} vs {expected:.1f}"


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_frames():
    spec = DemoSpec(n_users=400)
    a, b = generate(spec, seed=7), generate(spec, seed=7)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.users, b.users)
    pd.testing.assert_frame_equal(a.truth, b.truth)


def test_different_seed_gives_different_frames():
    spec = DemoSpec(n_users=400)
    a, b = generate(spec, seed=7), generate(spec, seed=8)
    assert not a.users.equals(b.users)
    assert not a.truth["lifetime_days"].equals(b.truth["lifetime_days"])
    assert not a.events.equals(b.events)


# --------------------------------------------------------------------------- schema


def test_events_schema(data):
    events = data.events
    assert tuple(events.columns) == EVENT_COLUMNS
    for column in ("user_id", "event", "client", "account_id"):
        assert events[column].dtype == object
        assert events[column].map(type).eq(str).all(), column
    assert isinstance(events["timestamp"].dtype, pd.DatetimeTZDtype)
    assert str(events["timestamp"].dtype.tz) == "UTC"
    assert events["value"].dtype == np.float64
    assert events["timestamp"].is_monotonic_increasing
    assert set(events["event"]) == set(EVENT_NAMES)


def test_users_schema(data):
    users = data.users
    assert tuple(users.columns) == USER_COLUMNS
    assert len(users) == SPEC.n_users
    assert users["user_id"].is_unique
    assert users["user_id"].str.fullmatch(r"u\d{6}").all()
    assert users["user_id"].iloc[0] == "u000001"  # leading zeros kept
    assert users["signup_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00").all()
    for column, names in (
        ("client", SPEC.clients),
        ("persona", SPEC.personas),
        ("plan", SPEC.plan_hazard_ratio),
        ("channel", SPEC.channel_mix),
    ):
        assert set(users[column]) == set(names), column
    assert data.truth["user_id"].tolist() == users["user_id"].tolist()


def test_signups_fall_in_the_window_and_define_after_change(data):
    signup = pd.to_datetime(data.users["signup_at"], utc=True)
    assert signup.ge(SPEC.signup_start_timestamp).all()
    assert signup.lt(SPEC.signup_stop_timestamp).all()
    assert (signup.to_numpy() == data.truth["signup_at"].to_numpy()).all()
    assert data.truth["after_change"].eq(signup.ge(SPEC.change_timestamp)).all()
    assert data.truth["after_change"].nunique() == 2


def test_accounts_have_one_client_one_plan_and_one_to_five_users(data):
    accounts = data.users.groupby("account_id")
    assert accounts["client"].nunique().eq(1).all()
    assert accounts["plan"].nunique().eq(1).all()
    sizes = accounts.size()
    assert sizes.between(1, len(SPEC.account_size_probs)).all()
    assert sizes.max() > 1


def test_event_user_attributes_match_users_table(data):
    merged = data.events.merge(data.users, on="user_id", how="left", suffixes=("", "_user"))
    assert merged["client_user"].notna().all()
    assert merged["client"].eq(merged["client_user"]).all()
    assert merged["account_id"].eq(merged["account_id_user"]).all()


# --------------------------------------------------------------------------- the truth holds


def test_first_event_is_signed_up_at_signup_time(data, t0):
    first = data.events.groupby("user_id", sort=False).first()
    assert first["event"].eq(SIGNUP_EVENT).all()
    assert len(first) == SPEC.n_users
    assert (first["timestamp"] == t0.reindex(first.index)).all()
    signups = data.events[data.events["event"] == SIGNUP_EVENT]
    assert signups["user_id"].is_unique and len(signups) == SPEC.n_users


def test_last_active_event_is_exactly_at_lifetime(data, t0, active):
    truth = data.truth.set_index("user_id")
    last = active.groupby("user_id")["timestamp"].max()
    window_end = SPEC.write_until_timestamp
    lifetime_us = _days_to_us(truth["lifetime_days"])
    ends_inside = lifetime_us <= _us(window_end - t0[truth.index])
    inside = truth.index[~truth["never_active"].to_numpy() & ends_inside]
    assert len(inside) > 0.5 * SPEC.n_users
    assert np.array_equal(_us(last[inside] - t0[inside]), _days_to_us(truth.loc[inside, "lifetime_days"]))
    # Users still alive at the end of the written window: active until (almost) its end.
    beyond = truth.index[~truth["never_active"]].difference(inside)
    assert len(beyond) > 0
    assert (last[beyond] <= window_end).all()
    assert ((window_end - last[beyond]) < pd.Timedelta(days=SPEC.session_gap_cap_days)).all()


def test_no_gap_between_active_events_reaches_twenty_days(active, t0):
    gaps = active.groupby("user_id")["timestamp"].diff().dropna()
    first_gap = active.groupby("user_id")["timestamp"].min() - t0
    cap = pd.Timedelta(days=SPEC.session_gap_cap_days)
    assert cap < pd.Timedelta(days=20)
    assert gaps.max() <= cap and first_gap.dropna().max() <= cap
    assert first_gap.dropna().min() > pd.Timedelta(0)


def test_never_active_users_have_only_the_signup(data):
    counts = data.events.groupby("user_id").size().reindex(data.truth["user_id"])
    never = data.truth.set_index("user_id")["never_active"]
    assert never.any()
    assert counts[never].eq(1).all()
    assert counts[~never].gt(1).all()
    assert data.truth.loc[data.truth["never_active"], "lifetime_days"].eq(0).all()


def test_events_are_written_past_the_observation_end_but_not_past_the_window(data):
    ts = data.events["timestamp"]
    assert ts.le(SPEC.write_until_timestamp).all()
    assert ts.gt(SPEC.observation_end_timestamp).any()


@pytest.mark.parametrize("event", TIMED_EVENTS)
def test_first_occurrences_match_truth(data, t0, event):
    truth = data.truth.set_index("user_id")[f"{event}_days"].dropna()
    expected = truth[_days_to_us(truth) <= _us(SPEC.write_until_timestamp - t0[truth.index])]
    logged = data.events[data.events["event"] == event].groupby("user_id")["timestamp"].min()
    assert sorted(logged.index) == sorted(expected.index)
    assert np.array_equal(_us(logged[expected.index] - t0[expected.index]), _days_to_us(expected))
    assert (truth <= data.truth.set_index("user_id").loc[truth.index, "lifetime_days"]).all()


def test_truth_observed_lifetime_follows_the_inactivity_rule(data, t0, active):
    end = SPEC.observation_end_timestamp
    observed = active[active["timestamp"] <= end]
    last = observed.groupby("user_id")["timestamp"].max().reindex(t0.index).fillna(t0)
    churned = (end - last) >= pd.Timedelta(days=SPEC.inactivity_days)
    age = end - t0
    observable = (age - pd.Timedelta(days=SPEC.inactivity_days)).clip(lower=pd.Timedelta(0))
    truth = data.truth.set_index("user_id")
    assert churned.to_numpy().tolist() == truth["churn_observed"].tolist()
    for column, censored_at in (
        ("duration_observation_end_days", age),
        ("duration_observable_days", observable),
    ):
        duration = np.where(churned, _us(last - t0), _us(censored_at))
        assert np.array_equal(duration, _days_to_us(truth[column])), column
    assert 0 < churned.mean() < 1


def test_onboarding_steps_are_ordered_and_ttfv_is_the_value_step(data):
    truth = data.truth
    times = truth[[f"{s}_days" for s in STEPS]].to_numpy()
    reached = ~np.isnan(times)
    assert (reached[:, 1:] <= reached[:, :-1]).all()  # a step needs the previous one
    both = reached[:, 1:]
    assert (times[:, 1:][both] > times[:, :-1][both]).all()
    pd.testing.assert_series_equal(truth["ttfv_days"], truth["created_report_days"], check_names=False)


def test_feedback_scores_are_values_of_feedback_events(data):
    events = data.events
    is_feedback = events["event"] == FEEDBACK
    # Only feedback scores and (step 10 of the story) revenue events carry a value.
    is_revenue = events["event"] == REVENUE_EVENT
    assert events.loc[~is_feedback & ~is_revenue, "value"].isna().all()
    scores = events.loc[is_feedback].set_index("user_id")["value"]
    assert scores.between(0, 10).all() and scores.eq(scores.round()).all()
    truth = data.truth.set_index("user_id")["feedback_score"]
    assert scores.eq(truth[scores.index]).all()


def test_checklist_is_only_shown_after_the_change(data):
    truth = data.truth
    shown = truth["checklist_shown_days"].notna()
    assert shown.any() and truth.loc[shown, "after_change"].all()


def test_events_per_user_in_the_designed_range(data):
    per_user = len(data.events) / SPEC.n_users
    assert 25 <= per_user <= 40


# --------------------------------------------------------------------------- distributions


def test_never_active_share_per_persona(data):
    truth = data.truth
    for name, persona in SPEC.personas.items():
        group = truth[truth["persona"] == name]
        probs = np.full(len(group), persona.never_active)
        _assert_count(group["never_active"].sum(), probs, name)


@pytest.mark.parametrize("t", [1.0, 7.0, 30.0, 60.0, 90.0, 180.0, 365.0])
def test_lifetime_survival_matches_truth_function(data, t):
    truth = data.truth
    survival = float(true_lifetime_survival(t, truth, SPEC))
    observed = truth["lifetime_days"].ge(t).mean()
    se = np.sqrt(survival * (1 - survival) / len(truth))
    assert abs(observed - survival) <= Z * se


def test_lifetime_of_active_users_passes_ks_against_truth(data):
    truth = data.truth[~data.truth["never_active"]]

    def cdf(x):
        return 1.0 - true_lifetime_survival(x, truth, SPEC, given_never_active=True)

    assert stats.kstest(truth["lifetime_days"], cdf).pvalue > ALPHA


def test_hazard_rates_per_cell_match_true_hazard_ratios(data):
    ratios = true_hazard_ratios(SPEC)
    truth = data.truth[~data.truth["never_active"]]
    for (persona, plan, after), cell in truth.groupby(["persona", "plan", "after_change"]):
        if len(cell) < 30:
            continue
        rate = ratios["baseline_hazard_per_day"] * ratios["persona"][persona] * ratios["plan"][plan]
        rate *= ratios["change"] if after else 1.0
        estimate = len(cell) / cell["lifetime_days"].sum()  # exponential MLE, rel. SE 1/sqrt(n)
        assert abs(np.log(estimate / rate)) <= Z / np.sqrt(len(cell)), (persona, plan, after)


def _lognormal_cdf(x: np.ndarray, median: np.ndarray, sigma: float) -> np.ndarray:
    return stats.lognorm.cdf(x, s=sigma, scale=median)


@pytest.mark.parametrize("k", range(len(STEPS)))
def test_step_conversion_matches_probability_times_delay_before_lifetime(data, k):
    truth = data.truth[~data.truth["never_active"]]
    step = STEPS[k]
    if k == 0:
        eligible = truth.assign(_prev=0.0)
    else:
        eligible = truth[truth[f"{STEPS[k - 1]}_days"].notna()]
        eligible = eligible.assign(_prev=eligible[f"{STEPS[k - 1]}_days"])
    for (persona, after), group in eligible.groupby(["persona", "after_change"]):
        spec = SPEC.personas[persona]
        p = spec.step_probability[step]
        median = spec.step_median_delay_days[step]
        if after:
            p = 1 - SPEC.change_dropout_factor * (1 - p)
            median *= SPEC.change_delay_factor
        slack = (group["lifetime_days"] - group["_prev"]).to_numpy()
        probs = p * _lognormal_cdf(slack, np.full(len(group), median), SPEC.step_delay_sigma)
        _assert_count(group[f"{step}_days"].notna().sum(), probs, f"{step} {persona} {after}")


@pytest.mark.parametrize("feature", FEATURES)
def test_feature_adoption_matches_probability_times_alive(data, feature):
    truth = data.truth[~data.truth["never_active"]]
    window = SPEC.feature_adoption_window_days
    for persona, group in truth.groupby("persona"):
        p = SPEC.personas[persona].feature_adoption[feature]
        probs = p * np.minimum(group["lifetime_days"].to_numpy(), window) / window
        _assert_count(group[f"{feature}_days"].notna().sum(), probs, f"{feature} {persona}")


def test_tour_completion_matches_probability(data):
    shown = data.truth[data.truth["tour_shown_days"].notna()]
    median = SPEC.tour_completion_delay_median_minutes / (24 * 60)
    for persona, group in shown.groupby("persona"):
        slack = (group["lifetime_days"] - group["tour_shown_days"]).to_numpy()
        p = SPEC.personas[persona].tour_completion
        probs = p * _lognormal_cdf(slack, np.full(len(group), median), SPEC.tour_delay_sigma)
        _assert_count(group["tour_completed_days"].notna().sum(), probs, persona)


@pytest.mark.parametrize(
    "other", ["persona", "plan", "client", "after_change", "never_active", "churn_observed"]
)
def test_channel_is_independent_of_everything(data, other):
    table = pd.crosstab(data.truth["channel"], data.truth[other])
    assert stats.chi2_contingency(table).pvalue > ALPHA


@pytest.mark.parametrize("outcome", ["lifetime_days", "ttfv_days", "feedback_score"])
def test_channel_has_no_effect_on_outcomes(data, outcome):
    truth = data.truth
    if outcome == "ttfv_days":  # conversion, then time among converters
        table = pd.crosstab(truth["channel"], truth[outcome].notna())
        assert stats.chi2_contingency(table).pvalue > ALPHA
    values = [group[outcome].dropna() for _, group in truth.groupby("channel")]
    assert stats.kruskal(*values).pvalue > ALPHA


def test_channel_proportions_match_the_mix(data):
    counts = data.truth["channel"].value_counts()
    for name, share in SPEC.channel_mix.items():
        _assert_count(counts[name], np.full(SPEC.n_users, share), name)


# --------------------------------------------------------------------------- truth functions


def test_true_survival_shape_and_limits(data):
    truth = data.truth
    grid = np.linspace(-5, 400, 82).reshape(2, 41)
    survival = true_lifetime_survival(grid, truth, SPEC)
    assert survival.shape == grid.shape
    assert (survival[grid <= 0] == 1.0).all()
    assert (np.diff(survival.ravel()) <= 0).all()
    p0 = truth["persona"].map({n: p.never_active for n, p in SPEC.personas.items()})
    assert true_lifetime_survival(1e-12, truth, SPEC) == pytest.approx(1 - p0.mean())
    active = truth[~truth["never_active"]]
    assert true_lifetime_survival(1e-12, active, SPEC, given_never_active=True) == pytest.approx(1)


def test_true_survival_of_one_cell_is_its_exponential():
    spec = DemoSpec()
    cell = pd.DataFrame(
        {"persona": ["sales"], "plan": ["pro"], "after_change": [True], "never_active": [False]}
    )
    rate = 1.4 * 0.8 * 0.8 / 60  # the documented defaults
    t = np.array([10.0, 100.0])
    expected = (1 - 0.20) * np.exp(-rate * t)
    np.testing.assert_allclose(true_lifetime_survival(t, cell, spec), expected)


def test_true_hazard_ratios_document_the_defaults():
    ratios = true_hazard_ratios(SPEC)
    assert ratios["persona"] == {"marketer": 1.0, "developer": 0.6, "sales": 1.4}
    assert ratios["plan"] == {"free": 1.0, "pro": 0.8, "enterprise": 0.7}
    assert ratios["change"] == 0.8
    assert set(ratios["channel"].values()) == {1.0}
    assert ratios["baseline_hazard_per_day"] == pytest.approx(1 / 60)


def test_true_survival_rejects_unknown_persona(data):
    bad = data.truth.head(3).assign(persona="astronaut")
    with pytest.raises(DataError, match="astronaut"):
        true_lifetime_survival(1.0, bad, SPEC)


# --------------------------------------------------------------------------- files and spec


def test_written_files_round_trip(tmp_path):
    spec = DemoSpec(n_users=300)
    paths = write_demo(tmp_path / "demo", spec, seed=3)
    assert set(paths) == {"events", "users", "truth"}
    data = generate(spec, seed=3)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["events"]), data.events)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["truth"]), data.truth)
    users = pd.read_csv(paths["users"], dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(users, data.users)
    assert re.fullmatch(r"u\d{6}", users["user_id"].iloc[0])


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"n_users": 0}, "n_users"),
        ({"channel_mix": {"organic": 0.5, "paid": 0.4}}, "channel_mix must sum to 1"),
        ({"plan_hazard_ratio": {"free": 1.0, "pro": -0.8, "enterprise": 0.7}}, "pro"),
        ({"session_gap_cap_days": 30.0}, "inactivity_days"),
        ({"signup_end": "2024-12-31"}, "signup_end"),
        ({"change_date": "soon"}, "change_date"),
        ({"account_size_probs": (0.5, 0.6)}, "account_size_probs"),
        ({"feature_repeat_probability": {"used_dashboard": 0.3}}, "feature_repeat_probability"),
    ],
)
def test_bad_spec_is_rejected(change, match):
    with pytest.raises(ParamsError, match=match):
        dataclasses.replace(DemoSpec(), **change)


def test_bad_persona_mix_is_rejected():
    client = demo.ClientSpec(1.0, {"marketer": 0.5, "pilot": 0.5}, {"free": 1.0})
    with pytest.raises(ParamsError, match="pilot"):
        DemoSpec(clients={"solo": client})


def test_spec_is_read_only():
    spec = DemoSpec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.n_users = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.channel_mix["paid"] = 1.0  # type: ignore[index]


def test_spec_is_hashable_and_equal_by_value():
    assert DemoSpec() == DemoSpec() and hash(DemoSpec()) == hash(DemoSpec())
    assert DemoSpec(n_users=10) != DemoSpec()
    assert DemoSpec(channel_mix={"paid": 1.0}).channel_mix == {"paid": 1.0}


def test_every_spec_parameter_is_in_the_ground_truth_table():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "demo.md").read_text(encoding="utf-8")
    table = doc[doc.index("Ground truth: the `DemoSpec` defaults") :]
    for f in dataclasses.fields(DemoSpec):
        if f.name != "personas":
            assert f"`{f.name}`" in table, f.name
    for f in dataclasses.fields(demo.PersonaSpec):
        assert f"`personas.*.{f.name}`" in table, f.name
    for f in dataclasses.fields(demo.ClientSpec):
        if f.name != "weight":  # the weights are in the ``clients`` row
            assert f"`clients[*].{f.name}`" in table, f.name


@pytest.mark.parametrize("module", ["events", "spec", "draws", "sessions", "planting", "generator", "truth"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(f"onboarding_analysis.demo.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if module in ("events", "spec", "generator", "truth"):  # the modules with examples
        assert result.attempted > 0


# --------------------------------------------------------------------------- planted moments, revenue


def test_planted_accounts_are_documented_in_the_truth(data):
    truth = data.truth
    planted = truth[truth["planted_moment"].notna()]
    counts = planted.groupby(["planted_moment", "planted_near_miss"]).size()
    for kind in MOMENT_KINDS:
        assert counts[(kind, False)] == SPEC.planted_per_kind
        assert counts[(kind, True)] == SPEC.near_misses_per_kind
    assert not truth.loc[truth["planted_moment"].isna(), "planted_near_miss"].any()
    sizes = truth.groupby("account_id").size()
    assert sizes[planted["account_id"]].eq(1).all()  # single-user accounts: account = user
    assert not planted["never_active"].any()


def test_planting_leaves_every_other_user_as_in_the_unplanted_story(data):
    """Planting draws after everything else: ordinary users' events and truth are unchanged, and
    so are the TTFV, funnel and 30-day adoption figures of everyone (wins already reached value
    within a day; moved features stay in the 30-day window)."""
    plain = generate(dataclasses.replace(SPEC, planted_per_kind=0, near_misses_per_kind=0), seed=SEED)
    assert plain.truth["planted_moment"].isna().all()
    planted = set(data.truth.loc[data.truth["planted_moment"].notna(), "user_id"])

    def ordinary(events):
        keep = ~events["user_id"].isin(planted) & (events["event"] != REVENUE_EVENT)
        return events[keep].reset_index(drop=True)

    pd.testing.assert_frame_equal(ordinary(data.events), ordinary(plain.events))
    same = [c for c in plain.truth.columns if c not in ("planted_moment", "planted_near_miss")]
    ordinary_rows = ~data.truth["user_id"].isin(planted)
    pd.testing.assert_frame_equal(data.truth.loc[ordinary_rows, same], plain.truth.loc[ordinary_rows, same])
    limits = {"ttfv_days": (1, 7, 14, 30)} | {f"{f}_days": (30,) for f in FEATURES}
    for column, days in limits.items():
        for limit in days:
            assert (data.truth[column] < limit).sum() == (plain.truth[column] < limit).sum(), (column, limit)
    window = [(data.truth[f"{s}_days"] < 14).sum() for s in STEPS]
    assert window == [(plain.truth[f"{s}_days"] < 14).sum() for s in STEPS]


def test_planted_stories_hold_in_the_log(data, t0):
    """Spot checks of step 9 on the written events (before T): a crisis is active on every day
    index 0..13 and on at most 1 of the last 14 days; a relationship change is silent for 14 days
    after completing; a win reaches value within 36 minutes and uses 2+ features within 2 days."""
    truth = data.truth.set_index("user_id")
    end = SPEC.observation_end_timestamp
    events = data.events[(data.events["timestamp"] <= end) & (data.events["event"] != SIGNUP_EVENT)]
    for uid, row in truth[truth["planted_moment"].notna() & ~truth["planted_near_miss"]].iterrows():
        mine = events[events["user_id"] == uid]
        days = (mine["timestamp"] - t0[uid]) / pd.Timedelta(days=1)
        if row["planted_moment"] == "crisis":
            assert set(np.floor(days[days < 14]).astype(int)) == set(range(14)), uid
            back = np.floor((end - mine["timestamp"]) / pd.Timedelta(days=1))
            assert back[back < 14].nunique() == 1, uid
        elif row["planted_moment"] == "relationship_change":
            c = row["created_report_days"]
            assert ((days > c) & (days <= c + 14)).sum() == 0, uid
        else:
            assert row["ttfv_days"] < 36 / 1440
            used = [f for f in FEATURES if row[f"{f}_days"] <= 2.0]
            assert len(used) >= 2, uid


def test_revenue_events_follow_the_seats(data, t0):
    events = data.events
    revenue = events[events["event"] == REVENUE_EVENT].merge(
        data.truth[["user_id", "plan", "lifetime_days", "seat_start_days", "seat_price"]], on="user_id"
    )
    assert len(revenue) > 0
    assert revenue["plan"].ne("free").all()  # free accounts pay nothing: no revenue events
    assert (revenue["value"] % revenue["seat_price"] == 0).all()  # MRR = seats x price per seat
    offset = (revenue["timestamp"] - revenue["user_id"].map(t0)) / pd.Timedelta(days=1)
    # Every revenue event is a seat start or end of its user: inside (t0, t0 + L], no lifetime moves.
    at_start = np.isclose(offset, revenue["seat_start_days"], rtol=0, atol=1e-9)
    at_end = np.isclose(offset, revenue["lifetime_days"], rtol=0, atol=1e-9)
    assert (at_start | at_end).all()
    assert (offset > 0).all()
    seats = data.truth["seat_start_days"].notna()
    assert not data.truth.loc[data.truth["never_active"], "seat_start_days"].notna().any()
    assert (data.truth.loc[seats, "seat_start_days"] <= SPEC.seat_delay_minutes / 1440 + 1e-12).all()
    # The MRR after each account's last written event equals its seats still held then.
    last = revenue.sort_values("timestamp", kind="stable").groupby("account_id").tail(1)
    held = []
    for row in last.itertuples():
        members = data.truth[
            (data.truth["account_id"] == row.account_id) & data.truth["seat_start_days"].notna()
        ]
        start = members["signup_at"] + pd.to_timedelta(_days_to_us(members["seat_start_days"]), unit="us")
        stop = members["signup_at"] + pd.to_timedelta(_days_to_us(members["lifetime_days"]), unit="us")
        held.append(((start <= row.timestamp) & (stop > row.timestamp)).sum() * row.seat_price)
    np.testing.assert_allclose(last["value"], held)


def test_true_revenue_months_are_a_monthly_table(data):
    months = demo.true_revenue_months(data.truth, SPEC)
    assert tuple(months.columns) == demo.REVENUE_MONTH_COLUMNS
    assert months["month"].iloc[0] == pd.Timestamp(SPEC.signup_start)
    assert months["month"].iloc[-1] == pd.Timestamp("2024-08-01")  # the last month ending by T
    rate = demo.true_monthly_net_churn(data.truth, SPEC)
    assert 0 < rate < 1 and rate == pytest.approx(0.1454, abs=1e-4)  # documented in the README
    assert np.isnan(months["net_churn"].iloc[0])  # nobody paid on January 1st


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"planted_per_kind": -1}, "planted_per_kind"),
        ({"near_misses_per_kind": 1.5}, "near_misses_per_kind"),
        ({"seat_price": {"free": 0.0, "pro": 30.0}}, "enterprise"),
        ({"seat_price": {"free": 0.0, "pro": -1.0, "enterprise": 80.0}}, "seat_price"),
        ({"seat_delay_minutes": 0}, "seat_delay_minutes"),
    ],
)
def test_bad_planting_or_revenue_spec_is_rejected(change, match):
    with pytest.raises(ParamsError, match=match):
        dataclasses.replace(DemoSpec(), **change)


def test_small_demos_plant_what_fits():
    small = generate(DemoSpec(n_users=150), seed=4)
    planted = small.truth["planted_moment"].notna().sum()
    assert 0 < planted <= 3 * (SPEC.planted_per_kind + SPEC.near_misses_per_kind)
