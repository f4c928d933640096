"""Early behaviours by landmark analysis: no immortal-time bias, eligibility, ranking, outputs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import ibis
import matplotlib
import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from matplotlib.axes import Axes
from statsmodels.stats.multitest import multipletests

from onboarding_analysis.analyses.drivers import (
    LABEL,
    drivers_metrics,
    early_behaviours,
    landmark_users,
    plot_early_behaviours,
)
from onboarding_analysis.data import columns as C
from onboarding_analysis.data.facts import Accounting, Facts
from onboarding_analysis.data.pipeline import compute_facts
from onboarding_analysis.params import load_params, validate_params

matplotlib.use("Agg")
END = dt.datetime(2024, 9, 1)
DAY = pd.Timedelta(days=1)


def make_facts(table: pd.DataFrame, events: pd.DataFrame, **params) -> Facts:
    """Facts around a hand-made table and event log (the engine side runs on DuckDB)."""
    p = validate_params({"events": "unused.csv", **params})
    acc = Accounting(
        events_read=len(events), events_used=len(events), excluded={}, users=len(table), users_excluded={}
    )
    # Microsecond timestamps, as the loaders produce.
    events = events.assign(ts=events["ts"].dt.floor("us"), t0=events["t0"].dt.floor("us"))
    ev = events.assign(days=(events["ts"] - events["t0"]) / DAY)
    ev["day"] = np.floor(ev["days"]).astype("int64")
    ev["active"] = ev["event"] != "signed_up"
    return Facts(table=table, observation_end=END, accounting=acc, params=p, events=ibis.memtable(ev))


@pytest.fixture(scope="module")
def immortal():
    """Users whose behaviour has no effect at all on their lifetime.

    Lifetimes are exponential (mean 40 days, memoryless). While alive, each user does
    ``used_feature`` as a Poisson process (rate 0.1 per day) and ``opened_help`` (rate 0.03):
    the longer a user lives, the likelier they did it *ever*, which is all the naive comparison
    sees. Signups are uniform over 300 days before the end; churn follows the inactivity rule
    (30 days) with observable censoring, as the user facts do.
    """
    rng = np.random.default_rng(11)
    n = 4000
    age = rng.uniform(0, 300, n)
    life = rng.exponential(40, n)
    churned = age - life >= 30
    t0 = pd.Timestamp(END) - pd.to_timedelta(age, unit="D")
    table = pd.DataFrame(
        {
            C.USER_ID: [f"u{i:05d}" for i in range(n)],
            C.T0: t0,
            "persona": pd.array(rng.choice(["a", "b"], n), dtype="string"),
            C.AGE: age,
            C.CHURNED: churned,
            C.LIFETIME: np.where(churned, life, np.maximum(age - 30, 0)),
        }
    )
    rows = [pd.DataFrame({"user_id": table[C.USER_ID], "event": "signed_up", "ts": t0, "t0": t0})]
    for event, rate in (("used_feature", 0.1), ("opened_help", 0.03)):
        count = rng.poisson(rate * np.minimum(life, age))
        owner = np.repeat(np.arange(n), count)
        when = rng.uniform(0, 1, owner.size) * np.minimum(life, age)[owner]
        rows.append(
            pd.DataFrame(
                {
                    "user_id": table[C.USER_ID].to_numpy()[owner],
                    "event": event,
                    "ts": t0.to_numpy()[owner] + pd.to_timedelta(when, unit="D"),
                    "t0": t0.to_numpy()[owner],
                }
            )
        )
    events = pd.concat(rows, ignore_index=True)
    return make_facts(table, events), events


def test_landmark_removes_the_immortal_time_bias(immortal):
    facts, events = immortal
    table = facts.table
    # Naive: ever did it (over the whole observed life) vs never, Cox from signup.
    ever = table[C.USER_ID].isin(events.loc[events["event"] == "used_feature", "user_id"])
    naive = CoxPHFitter().fit(
        pd.DataFrame({"T": table[C.LIFETIME], "E": table[C.CHURNED], "ever": ever.astype(float)})[
            table[C.LIFETIME] > 0
        ],
        "T",
        "E",
    )
    naive_hr = float(np.exp(naive.params_["ever"]))
    naive_high = float(np.exp(naive.confidence_intervals_.loc["ever"].iloc[1]))
    assert naive_hr < 0.5 and naive_high < 0.6  # a strong, entirely spurious "protective" effect

    result = early_behaviours(facts, landmark_days=7).set_index("event")
    row = result.loc["used_feature"]
    assert row["hr_ci_low"] <= 1 <= row["hr_ci_high"], row
    assert row["association"] == "no clear association"
    assert 0.3 < row["share_did"] < 0.7  # about 1 - exp(-0.7) did it in the first week
    # The interval is informative: it excludes the naive estimate's whole interval by far.
    assert row["hr_ci_low"] > 3 * naive_high and np.log(row["hr_ci_high"] / row["hr_ci_low"]) < 0.4


def test_landmark_users_need_the_churn_delay():
    table = pd.DataFrame(
        {
            C.AGE: [36.9, 40.0, 40.0, 100.0, 8.0],
            C.LIFETIME: [20.0, 6.9, 7.0, 50.0, 7.5],
            C.CHURNED: [False, True, True, False, False],
        }
    )
    empty = pd.DataFrame(
        {
            "user_id": pd.Series(dtype=str),
            "event": pd.Series(dtype=str),
            "ts": pd.Series(dtype="datetime64[ns]"),
            "t0": pd.Series(dtype="datetime64[ns]"),
        }
    )
    inactivity = make_facts(table, empty)
    # Known at day 7 only once age >= 7 + 30: a stop at day 5 is seen as churn at day 35.
    assert landmark_users(inactivity, 7).tolist() == [False, False, True, True, False]
    seen_at_once = make_facts(table, empty, churn_event="cancelled")
    assert landmark_users(seen_at_once, 7).tolist() == [True, False, True, True, True]


def test_candidates_are_the_most_frequent_early_events_without_signup(immortal):
    facts, _ = immortal
    result = early_behaviours(facts, landmark_days=7)
    assert set(result["event"]) == {"used_feature", "opened_help"}
    assert result.attrs["label"] == LABEL == "associations, not causes"
    assert result.attrs["users"] == int(landmark_users(facts, 7).sum())
    assert result.attrs["min_age_days"] == 37.0
    top1 = early_behaviours(facts, landmark_days=7, top=1)
    assert top1["event"].tolist() == ["used_feature"]
    assert (top1["users_did"] + top1["users_not"]).iloc[0] == result.attrs["users"]


def test_counts_and_contrasts(immortal):
    facts, _ = immortal
    twice = early_behaviours(facts, landmark_days=7, events=["used_feature"], min_count=2).iloc[0]
    once = early_behaviours(facts, landmark_days=7, events=["used_feature"]).iloc[0]
    assert twice["users_did"] < once["users_did"]
    missing = early_behaviours(facts, landmark_days=7, events=["never_happens", "used_feature"]).set_index(
        "event"
    )
    assert missing.loc["never_happens", "note"].startswith("no contrast")
    assert np.isnan(missing.loc["never_happens", "hazard_ratio"])
    assert missing.loc["never_happens", "rank"] == 2  # untestable rows rank last


def test_p_values_are_bh_adjusted_and_rows_ranked(immortal):
    facts, _ = immortal
    result = early_behaviours(facts, landmark_days=7, adjust_for=["persona"])
    np.testing.assert_allclose(result["p_adjusted"], multipletests(result["p_raw"], method="fdr_bh")[1])
    assert result["rank"].tolist() == list(range(1, len(result) + 1))
    assert result["p_adjusted"].is_monotonic_increasing
    holm = early_behaviours(facts, landmark_days=7, p_adjust="holm")
    np.testing.assert_allclose(holm["p_adjusted"], multipletests(holm["p_raw"], method="holm")[1])
    assert result.attrs["adjusted_for"] == ["persona"]


def test_metrics_and_plot(immortal):
    import matplotlib.pyplot as plt

    facts, _ = immortal
    table = early_behaviours(facts, landmark_days=7, events=["never_happens", "used_feature"])
    metrics = json.loads(json.dumps(drivers_metrics(table), allow_nan=False))["drivers"]
    assert metrics["label"] == "associations, not causes" and metrics["landmark_days"] == 7
    assert metrics["events"]["never_happens"]["hazard_ratio"] is None
    assert metrics["events"]["used_feature"]["rank"] == 1
    ax = plot_early_behaviours(table)
    assert isinstance(ax, Axes) and LABEL in ax.get_title()
    plt.close(ax.figure)


def test_bad_options_are_rejected(immortal):
    facts, _ = immortal
    with pytest.raises(ValueError, match="landmark_days must be a whole number >= 1"):
        early_behaviours(facts, landmark_days=0)
    with pytest.raises(TypeError, match="Facts object"):
        early_behaviours(facts.table)


@pytest.mark.parametrize("grid", [None, 6])
def test_compressed_models_equal_lifelines_on_the_landmark_rows(immortal, grid):
    """One grouping shared by every event's model (compress_codes/compress_flagged) fits what
    lifelines fits on the users' own rows, and what the uncompressed fit gives."""
    facts, events = immortal
    facts = dataclasses.replace(facts, params=dataclasses.replace(facts.params, compression_grid_hours=grid))
    result = early_behaviours(facts, landmark_days=7, adjust_for=["persona"]).set_index("event")
    rows = early_behaviours(facts, landmark_days=7, adjust_for=["persona"], compress=False).set_index("event")
    # By hand: landmark users, "did" = the event in the first 7 days, durations from day 7.
    table = facts.table[landmark_users(facts, 7)]
    for event in ("used_feature", "opened_help"):
        early = events[(events["event"] == event) & (events["ts"] - events["t0"] < 7 * DAY)]
        duration = table[C.LIFETIME].to_numpy() - 7
        if grid is not None:
            duration = np.floor(duration * 24 / grid + 1e-10 / grid) * grid / 24
        data = pd.DataFrame(
            {
                "T": duration,
                "E": table[C.CHURNED].to_numpy(),
                "did": table[C.USER_ID].isin(early["user_id"]).to_numpy(dtype=float),
                "persona_b": (table["persona"] == "b").to_numpy(dtype=float),
            }
        )
        reference = CoxPHFitter().fit(data, "T", "E", fit_options={"precision": 1e-12})
        hr = float(np.exp(reference.params_["did"]))
        assert result.loc[event, "hazard_ratio"] == pytest.approx(hr, rel=1e-6)
        assert result.loc[event, "p_raw"] == pytest.approx(float(reference.summary.loc["did", "p"]), rel=1e-5)
        assert result.loc[event, "users_did"] == int(data["did"].sum())
        for col in ("hazard_ratio", "hr_ci_low", "hr_ci_high", "p_raw", "ph_p"):
            assert result.loc[event, col] == pytest.approx(rows.loc[event, col], rel=1e-9), col


# --- a small client whose landmark model has no estimate -------------------------------------------


def small_client_log(seed: int = 2) -> pd.DataFrame:
    """62 users signing up over three weeks, a few logins, one user reaching value (day 1).

    20 users log in during their first week and once more at day 7-8.5, then stop; 12 come
    back only between days 9 and 25; 30 never come back. With ``observation_end`` 2024-02-29
    (ages 39-60 days) the landmark users at day 7 are the first two kinds, and every churn
    after the landmark of a user who logged in early comes while only such users churn: the
    landmark model of ``logged_in`` has a monotone likelihood. On main this log stopped the
    report in ``early_behaviours`` with ``OverflowError: math range error`` (drivers.py,
    ``math.exp(coef + z * se)``).
    """
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2024-01-01")
    for i in range(62):
        user = f"u{i:03d}"
        t0 = start + pd.Timedelta(seconds=int(rng.integers(0, 21 * 86400)))
        rows.append((user, "signed_up", t0))
        days = [rng.uniform(0, 7), rng.uniform(7, 8.5)] if i < 20 else [rng.uniform(9, 25)] if i < 32 else []
        rows += [(user, "logged_in", t0 + pd.Timedelta(seconds=int(d * 86400))) for d in days]
        if i == 0:
            rows.append((user, "created_report", t0 + pd.Timedelta(days=1)))
    return pd.DataFrame(rows, columns=["user_id", "event", "timestamp"])


@pytest.fixture
def small_client(tmp_path) -> Path:
    small_client_log().to_csv(tmp_path / "events.csv", index=False)
    params = tmp_path / "params" / "small.yaml"
    params.parent.mkdir()
    params.write_text("client: small\nevents: events.csv\nobservation_end: 2024-02-29\n")
    return params


def test_a_separated_landmark_model_is_not_estimable_and_the_others_stay(small_client):
    facts = compute_facts(load_params(small_client))
    table = early_behaviours(facts).set_index("event")
    logged_in = table.loc["logged_in"]
    assert np.isnan(
        logged_in[["hazard_ratio", "hr_ci_low", "hr_ci_high", "p_raw"]].to_numpy(dtype=float)
    ).all()
    assert logged_in["note"] == (
        "not estimable: monotone likelihood: while the users who did it are at risk, only they churn "
        "(ratio infinite)"
    )
    assert logged_in["users_did"] == 20 and logged_in["association"] == ""
    # The one user who reached value has an estimate: lifelines on the landmark rows.
    users = facts.table[landmark_users(facts, 7)]
    rows = pd.DataFrame(
        {
            "T": users[C.LIFETIME] - 7,
            "E": users[C.CHURNED].astype(int),
            "did": (users[C.USER_ID] == "u000").astype(float),
        }
    )
    cph = CoxPHFitter().fit(rows, "T", "E", fit_options={"precision": 1e-13, "r_precision": 1e-16})
    report = table.loc["created_report"]
    assert report["users_did"] == 1 and report["note"] == ""
    # (One user in the group: a flat likelihood, where lifelines' damped steps stop ~2e-7 short.)
    assert report["hazard_ratio"] == pytest.approx(np.exp(cph.params_["did"]), rel=1e-6)
    low, high = np.exp(cph.confidence_intervals_.loc["did"])
    assert (report["hr_ci_low"], report["hr_ci_high"]) == (
        pytest.approx(low, rel=1e-6),
        pytest.approx(high, rel=1e-6),
    )
    metrics = json.loads(json.dumps(drivers_metrics(table.reset_index()), allow_nan=False))["drivers"]
    assert metrics["events"]["logged_in"]["hazard_ratio"] is None
    assert metrics["events"]["logged_in"]["hr_ci_high"] is None


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"metrics.json holds {constant}")

    return json.loads(text, parse_constant=refuse)


def test_the_small_client_report_completes_with_null_hazard_ratios(small_client, tmp_path):
    out = tmp_path / "out"
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "onboarding_analysis", "run", str(small_client), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    metrics = _strict((out / "small" / "metrics.json").read_text())
    logged_in = metrics["drivers"]["events"]["logged_in"]
    assert (
        logged_in["hazard_ratio"] is None
        and logged_in["hr_ci_low"] is None
        and logged_in["hr_ci_high"] is None
    )
    assert metrics["drivers"]["events"]["created_report"]["hazard_ratio"] > 0
    assert metrics["lifetime"]["rmst_days"] > 0  # the other sections are there
    html = (out / "small" / "report.html").read_text()
    assert "not estimable: monotone likelihood" in html
