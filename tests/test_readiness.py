"""Readiness scorecard: pass, warn and fail of every signal on small hand-made facts."""

from __future__ import annotations

import dataclasses
import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from onboarding_analysis.analyses.readiness import (  # noqa: E402
    COLUMNS,
    SIGNALS,
    plot_readiness,
    readiness_metrics,
    readiness_scorecard,
)
from onboarding_analysis.data.pipeline import compute_facts  # noqa: E402
from onboarding_analysis.params import validate_params  # noqa: E402

END = "2024-03-31"  # T = 2024-04-01 00:00
STEPS = ["signed_up", "created_report"]


def user(uid, signup, *, report=True, score=None):
    """signed_up at ``signup``; created_report an hour later; a survey answer if ``score``."""
    t0 = pd.Timestamp(signup)
    rows = [{"user_id": uid, "event": "signed_up", "timestamp": t0.isoformat() + "Z", "value": None}]
    if report:
        rows.append(
            {
                "user_id": uid,
                "event": "created_report",
                "timestamp": (t0 + pd.Timedelta(hours=1)).isoformat() + "Z",
                "value": None,
            }
        )
    if score is not None or score == "missing":
        rows.append(
            {
                "user_id": uid,
                "event": "survey",
                "timestamp": (t0 + pd.Timedelta(hours=2)).isoformat() + "Z",
                "value": None if score == "missing" else score,
            }
        )
    return rows


OLD, YOUNG = "2024-01-01", "2024-03-25"  # ages 91 and 7 days


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    """Readiness of a log of ``users`` (list of row lists) with params overrides.

    Facts are built once per log (the params varied here do not change the facts table) and the
    params are swapped in, which keeps the module fast.
    """
    folder = tmp_path_factory.mktemp("readiness")
    built: dict[str, object] = {}

    def build(users, *, personas=None, quality=None, **params):
        rows = [row for rows in users for row in rows]
        key = json.dumps([rows, personas], sort_keys=True)
        name = f"log{len(built)}"
        base = {
            "events": str(folder / f"{name}.csv"),
            "observation_end": END,
            "onboarding_steps": STEPS,
            "feedback_event": "survey",
            "segments": [],
            "min_segment_size": 2,
            "readiness_min_eligible": 2,
            # The logs end long before T (old users only): T is within inactivity_days of the
            # last event, as observation_end must be. No readiness signal reads inactivity_days.
            "inactivity_days": 100,
        }
        if personas is not None:
            base |= {"users": str(folder / f"{name}_users.csv"), "segments": ["persona"]}
        if key not in built:
            pd.DataFrame(rows).to_csv(base["events"], index=False)
            if personas is not None:
                table = pd.DataFrame({"user_id": list(personas), "persona": list(personas.values())})
                table.to_csv(base["users"], index=False)
            built[key] = compute_facts(validate_params(base))
        facts = built[key]
        facts = dataclasses.replace(
            facts,
            params=validate_params(
                {**base, "events": facts.params.events, "users": facts.params.users} | params
            ),
        )
        return readiness_scorecard(facts, quality=quality).set_index("signal")

    return build


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


FOUR_OLD = [user(f"u{i}", OLD, score=9) for i in range(4)]


def test_all_pass_and_table_shape(card):
    table = card(FOUR_OLD, personas={"u0": "a", "u1": "a", "u2": "b", "u3": "b"})
    assert list(table.reset_index().columns) == COLUMNS
    assert list(table.index) == list(SIGNALS)
    assert (table["status"] == "pass").all(), table
    assert table.loc["segments", "value"] == 2  # two groups of >= 2 users
    assert table.loc["journey", "value"] == 4
    assert table.loc["feedback", "value"] == 1.0
    assert table.loc["baseline", "value"] == 4
    assert table.loc["data_quality", "value"] == 0.0


# --- segments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("personas", "status", "value"),
    [
        ({"u0": "a", "u1": "a", "u2": "b", "u3": "b"}, "pass", 2),
        ({"u0": "a", "u1": "a", "u2": "a", "u3": "b"}, "warn", 1),  # b has 1 user < min_segment_size 2
        (None, "fail", 0),  # no segment column
    ],
)
def test_segments(card, personas, status, value):
    row = card(FOUR_OLD, personas=personas).loc["segments"]
    assert (row["status"], row["value"]) == (status, value), row["explanation"]


# --- journey ----------------------------------------------------------------------------------


def test_journey_pass_warn_fail(card):
    assert card(FOUR_OLD).loc["journey", "status"] == "pass"
    # Every step occurs, but all users are 7 days old: nobody observed for the 14-day window.
    young = card([user(f"y{i}", YOUNG) for i in range(3)]).loc["journey"]
    assert (young["status"], young["value"]) == ("warn", 0)
    # A step that never occurs: the journey is not defined in this data.
    missing = card(FOUR_OLD, onboarding_steps=["signed_up", "created_dashboard"]).loc["journey"]
    assert missing["status"] == "fail" and "created_dashboard" in missing["explanation"]
    assert card(FOUR_OLD, onboarding_steps=None).loc["journey", "status"] == "fail"


# --- feedback ---------------------------------------------------------------------------------


def test_feedback_pass_warn_fail(card):
    assert card(FOUR_OLD).loc["feedback", "status"] == "pass"
    # 1 responder of 4 (< readiness_min_eligible 2): warn, value = response rate 0.25.
    few = card([user("a", OLD, score=9)] + [user(f"n{i}", OLD) for i in range(3)]).loc["feedback"]
    assert (few["status"], few["value"]) == ("warn", 0.25)
    # Enough responders, but a survey event without a score: warn and say so.
    unscored = card(FOUR_OLD + [user("m", OLD, score="missing")]).loc["feedback"]
    assert unscored["status"] == "warn" and "no score" in unscored["explanation"]
    assert card(FOUR_OLD, feedback_event=None).loc["feedback", "status"] == "fail"
    assert card(FOUR_OLD, feedback_event="nps_answered").loc["feedback", "status"] == "fail"
    # Scores off the scale (CSAT is 1-5): the signal fails, the others are still computed.
    table = card(FOUR_OLD, score_scale="csat")
    assert table.loc["feedback", "status"] == "fail" and "score_scale" in table.loc["feedback", "explanation"]
    assert table.loc["journey", "status"] == "pass"


# --- baseline ---------------------------------------------------------------------------------


def test_baseline_pass_warn_fail(card):
    """readiness_min_eligible 4: pass with 4 users old enough, warn with 2 (half), fail with 1."""
    assert card(FOUR_OLD, readiness_min_eligible=4).loc["baseline", "status"] == "pass"
    mixed = [user("a", OLD, score=9), user("b", OLD, score=9), user("c", YOUNG), user("d", YOUNG)]
    row = card(mixed, readiness_min_eligible=4).loc["baseline"]
    assert (row["status"], row["value"]) == ("warn", 2)
    row = card(mixed[:1] + mixed[2:], readiness_min_eligible=4).loc["baseline"]
    assert (row["status"], row["value"]) == ("fail", 1)
    # Day-30 retention needs age >= 31: a user exactly 30.5 days old counts for TTFV only.
    edge = [user("e", "2024-03-01T12:00:00", score=9), user("f", OLD, score=9)]
    row = card(edge, readiness_min_eligible=2).loc["baseline"]
    assert (row["status"], row["value"]) == ("warn", 1)
    assert card(FOUR_OLD, value_events=None).loc["baseline", "status"] == "fail"


# --- data quality -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "status"),
    [(960, "pass"), (950, "warn"), (901, "warn"), (900, "fail")],  # limit 5%: [5%, 10%) warns
)
def test_data_quality_thresholds(card, used, status):
    row = card(FOUR_OLD, quality={"events_read": 1000, "events_used": used}).loc["data_quality"]
    assert row["status"] == status
    assert row["value"] == pytest.approx(1 - used / 1000)


def test_data_quality_from_the_accounting(card):
    """12 rows of FOUR_OLD and 3 events after T (excluded) read: 3/15 = 20% >= 2 x 5%: fail."""
    late = [
        {"user_id": "u0", "event": "session", "timestamp": f"2024-04-0{d}T00:00:00Z", "value": None}
        for d in (2, 3, 4)
    ]
    row = card(FOUR_OLD + [late]).loc["data_quality"]
    assert row["status"] == "fail"
    assert row["value"] == pytest.approx(3 / 15)


def test_metrics_and_plot(card):
    table = card(FOUR_OLD).reset_index()
    metrics = readiness_metrics(table)["readiness"]
    assert set(metrics) == set(SIGNALS)
    assert metrics["baseline"] == {"status": "pass", "value": 4}
    assert metrics["segments"] == {"status": "fail", "value": 0}
    json.dumps(readiness_metrics(table), allow_nan=False)
    ax = plot_readiness(table)
    assert isinstance(ax, Axes) and len(ax.patches) == len(SIGNALS)


def test_observation_end_kept_far_after_the_data_is_flagged(card):
    """observation_end_check: warn lets T run 90.9 days after the last event (2024-01-01 02:00
    to 2024-04-01 00:00) with inactivity_days 30: data quality is at most 'warn', saying why."""
    row = card(FOUR_OLD, inactivity_days=30, observation_end_check="warn").loc["data_quality"]
    assert row["status"] == "warn"
    assert row["value"] == 0.0
    assert (
        "observation_end is 91 days after the last event (more than inactivity_days, 30)"
        in row["explanation"]
    )
    assert card(FOUR_OLD).loc["data_quality", "status"] == "pass"  # inactivity_days 100: T fits
