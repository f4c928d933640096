"""Degenerate but legitimate data: every report completes, every missing figure is a note.

Each case is a small hand-built event log (and users table where needed) of one degenerate
situation: one user, two users, nobody churns, everyone churns on day 0, every event at one
timestamp, only signup events, a segment column with one value, every group under
``min_segment_size``, value reached by everyone at signup, nobody eligible for a day-N figure,
a change date before / after every signup, a landmark after every lifetime, revenue events of
one account, a single feedback answer.

Every case runs the code cells of all six report notebooks in this process (the notebooks hold
no logic: their cells are the package calls of a report run, minus the kernels), with the
run's ``output_dir``, and checks: no exception; ``metrics.json`` is strict JSON (no ``NaN`` or
``Infinity``, :func:`strict_json`); no ``RuntimeWarning`` (a division by zero or an invalid
value is a NaN in the making) nor plain ``UserWarning`` (printed in the report); the report text holds the one-line note naming why the figure
that cannot be computed is missing; and the metrics of that figure are ``null`` (or, where the
figure exists, the hand-derived value). A few grouped logs then go end to end through the real
command line (``onboarding-analysis run``, papermill kernels, ``report.html``).

Expected numbers are derived by hand from the logs below (the comment next to each says how).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
import pytest
import yaml

from onboarding_analysis.params import load_params
from tests.cli_runner import run_cli
from tests.pipeline_runner import run_notebooks

matplotlib.use("Agg")

# The logs end long before their observation end on purpose (params_for): the loud warning of
# observation_end_check: warn is expected wherever the facts are built outside a report.
pytestmark = pytest.mark.filterwarnings(r"ignore:.*days after the last event")

ROOT = Path(__file__).resolve().parent.parent
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
EVENT_COLUMNS = ["user_id", "event", "timestamp"]


def strict_json(text: str) -> Any:
    """``json.loads`` that rejects ``NaN``, ``Infinity`` and ``-Infinity`` (which it accepts by default)."""

    def reject(token: str):
        raise AssertionError(f"metrics.json holds the non-standard constant {token}")

    return json.loads(text, parse_constant=reject)


def test_strict_json_rejects_non_standard_constants():
    assert strict_json('{"a": null, "b": 1.5}') == {"a": None, "b": 1.5}
    for token in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(AssertionError, match=token):
            strict_json(f'{{"a": {token}}}')


# --- the logs ----------------------------------------------------------------------------------


def ts(day: float, hour: float = 0.0) -> str:
    """ISO timestamp ``day`` days and ``hour`` hours after 2024-01-01 00:00 UTC."""
    return (START + dt.timedelta(days=day, hours=hour)).isoformat().replace("+00:00", "Z")


def users_log(
    n: int, *, life: Callable[[int], int], value: Callable[[int], bool], spread: int = 3
) -> pd.DataFrame:
    """``n`` users; user i signs up on day ``spread * i`` at 00:00, completes the profile at 02:00,
    has a session at 03:00 of every odd day 1, 3, ... <= ``life(i)`` and a last one at 05:00 of
    day ``life(i)`` (lifetime ``life(i) + 5/24`` days), and reaches value on day 1 at 04:00
    (``1 + 4/24`` days) when ``value(i)``."""
    rows = []
    for i in range(n):
        s, uid, last = spread * i, f"u{i:02d}", life(i)
        rows += [(uid, "signed_up", ts(s)), (uid, "completed_profile", ts(s, 2))]
        rows += [(uid, "session_start", ts(s + d, 3)) for d in range(1, last + 1, 2)]
        rows.append((uid, "session_start", ts(s + last, 5)))
        if value(i):
            rows.append((uid, "created_report", ts(s + 1, 4)))
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def default_log(n: int) -> pd.DataFrame:
    """:func:`users_log` with lifetimes 10, 15, 20, ... days and value for even users."""
    return users_log(n, life=lambda i: 10 + 5 * i, value=lambda i: i % 2 == 0)


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def params_for(**overrides) -> dict:
    """Params of a small client: T = 2024-04-30 (end of day), funnel signup -> profile -> report."""
    params = {
        "client": "case",
        "events": "events.csv",
        "observation_end": "2024-04-30",
        # T lies long after these tiny logs on purpose (their users must be observable for
        # inactivity_days): the stale-observation_end check is told that this is intended.
        "observation_end_check": "warn",
        "signup_event": "signed_up",
        "value_events": ["created_report"],
        "onboarding_steps": ["signed_up", "completed_profile", "created_report"],
        "segments": [],
        "change_date": None,
        "prompts": {},
        "feature_events": [],
        "revenue_event": None,
        "feedback_event": None,
    }
    return params | overrides


@dataclass
class Case:
    """One degenerate situation: its data, params, the notes the report must hold and checks."""

    id: str
    events: pd.DataFrame
    params: dict
    notes: list[str]
    check: Callable[[dict], None] = lambda metrics: None
    users: pd.DataFrame | None = None
    extra_files: dict[str, str] = field(default_factory=dict)


def _one_user(m):
    # signup 01-01 00:00, last session day 10 05:00: one churn at 10 + 5/24 days (idle >= 30 days at T).
    life = m["lifetime"]
    assert (life["churned"], life["censored"], life["not_yet_observable"]) == (1, 0, 0)
    assert life["median_days"] == pytest.approx(10 + 5 / 24)
    assert life["rmst_days"] == pytest.approx(10 + 5 / 24)
    assert m["retention"]["day_7"] == {
        "rate": 1.0,
        "ci_low": pytest.approx(0.2065, abs=1e-4),
        "ci_high": 1.0,
        "eligible": 1,
        "retained": 1,
    }  # Wilson 1/1
    assert all(e["hazard_ratio"] is None for e in m["drivers"]["events"].values())


def _two_users(m):
    # lifetimes 10 + 5/24 and 15 + 5/24 days, both churned: KM median = the first (S = 0.5 there),
    # RMST = the mean lifetime (no censoring, both before the 90-day horizon).
    life = m["lifetime"]
    assert life["churned"] == 2
    assert life["median_days"] == pytest.approx(10 + 5 / 24)
    assert life["rmst_days"] == pytest.approx(12.5 + 5 / 24)
    # one of two reaches value (at 1 + 4/24 days): 50% is reached there, 75% never.
    assert m["ttfv"]["days_to_50pct"] == pytest.approx(1 + 4 / 24)
    assert m["ttfv"]["days_to_75pct"] is None
    assert m["ttfv"]["eventual_share"] == pytest.approx(0.5)


def _nobody_churns(m):
    # user i: signup day 3i, active until day 3i + (118 - 3i) = day 118 (2024-04-28), < 30 days before T.
    life = m["lifetime"]
    assert life["churned"] == 0 and life["median_days"] is None
    assert life["survival"]["day_30"] == 1.0


def _everyone_day0(m):
    # every user's only activity is at its signup instant: lifetime 0, all churned.
    life = m["lifetime"]
    assert life["churned"] == 8 and life["median_days"] == 0.0 and life["rmst_days"] == 0.0
    assert m["retention"]["day_1"]["rate"] == 0.0 and m["retention"]["day_1"]["eligible"] == 8
    assert m["moments"]["eligible"]["relationship_change"] == 0  # nobody completed onboarding
    assert m["drivers"]["users"] == 0
    assert all(e["hazard_ratio"] is None for e in m["drivers"]["events"].values())


def _one_timestamp(m):
    # T = the only timestamp (observation_end: null): every user is 0 days old.
    for n in (1, 7, 30):
        assert m["retention"][f"day_{n}"]["eligible"] == 0 and m["retention"][f"day_{n}"]["rate"] is None
    life = m["lifetime"]
    assert life["not_yet_observable"] == 5 and life["churned"] == 0 and life["median_days"] is None
    assert life["not_computable"].startswith("no user has been observed long enough for a lifetime")
    assert life["survival"] == {"day_1": None, "day_7": None, "day_30": None}
    assert m["funnel"]["eligible"] == 0
    assert all(step["from_start"] is None for step in m["funnel"]["steps"])


def _only_signups(m):
    # nobody is ever active after signup: lifetime 0 for all ten, every retention 0 of 10.
    assert m["lifetime"]["churned"] == 10 and m["lifetime"]["median_days"] == 0.0
    assert m["retention"]["day_30"]["retained"] == 0 and m["retention"]["day_30"]["eligible"] == 10
    assert m["ttfv"]["converters"] == 0 and m["ttfv"]["days_to_25pct"] is None
    assert m["drivers"]["users"] == 0


def _one_segment_value(m):
    plan = m["segments"]["plan"]
    assert plan["logrank_p"] is None and list(plan["groups"]) == ["pro"]
    assert plan["groups"]["pro"]["users"] == 40


def _all_groups_small(m):
    plan = m["segments"]["plan"]
    assert plan["logrank_p"] is None and list(plan["groups"]) == ["other"]
    assert plan["groups"]["other"]["users"] == 12


def _value_at_t0(m):
    # every user reaches value at its signup instant: 100% by day 1, every quantile at 0 days.
    ttfv = m["ttfv"]
    assert ttfv["reached_by"]["day_1"]["rate"] == 1.0 and ttfv["eventual_share"] == 1.0
    assert ttfv["days_to_25pct"] == ttfv["days_to_50pct"] == ttfv["days_to_75pct"] == 0.0


def _nobody_eligible(m):
    # signups at 2024-04-10 00:00..05:00, T = the end of 2024-04-10: every user < 1 day old.
    for n in (1, 7, 30):
        entry = m["retention"][f"day_{n}"]
        assert entry == {"rate": None, "ci_low": None, "ci_high": None, "eligible": 0, "retained": 0}
        assert m["unbounded_retention"][f"day_{n}"]["rate"] is None
    assert m["funnel"]["eligible"] == 0
    assert all(m["moments"]["eligible"][k] == 0 for k in ("crisis", "relationship_change", "unexpected_win"))
    plan = m["segments"]["plan"]
    assert plan["logrank_p"] is None and {g: v["users"] for g, v in plan["groups"].items()} == {
        "free": 3,
        "pro": 3,
    }


def _change_absent(side: str, date: str) -> Callable[[dict], None]:
    def check(m):
        change = m["change"]
        assert change["change_date"] == date
        assert change["not_computable"].startswith(f"no user signed up {side} the change date {date}")
        assert (change["before_users"], change["after_users"]) == ((0, 10) if side == "before" else (10, 0))
        for key in ("ttfv_day_7_diff", "retention_day_30_diff", "logrank_p", "hazard_ratio", "hr_ci_low"):
            assert key in change and change[key] is None, key
        assert m["lifetime"]["churned"] == 10  # the rest of the report is there

    return check


def _landmark_after_lifetimes(m):
    # lifetimes 1-3 days (+5 h), landmark at day 10: nobody is still active at L.
    assert m["drivers"]["users"] == 0 and m["drivers"]["landmark_days"] == 10
    assert all(e["hazard_ratio"] is None for e in m["drivers"]["events"].values())


def _revenue_one_account(m):
    # MRR 50 from 01-01 01:00, 80 from 02-10. Complete months with MRR at their start: Feb (50 -> 80),
    # Mar (80 -> 80), Apr (80 -> 80): net churn 1 - 240 / 210 = -1/7 (expansion).
    revenue = m["revenue"]
    assert revenue["monthly_net_churn"] == pytest.approx(-1 / 7)
    assert revenue["months"] == 4 and revenue["current_mrr"] == 80.0
    assert revenue["monthly_net_churn_ci_low"] is None and revenue["monthly_net_churn_ci_high"] is None


def _single_feedback(m):
    # one answer, a 9: one promoter of one respondent. An NPS needs 2 answers (the adjusted-Wald
    # interval of one answer, [-48.5, 98.5], cannot hold its plain NPS of 100): not estimable.
    feedback = m["feedback"]
    assert feedback["responses"] == 1
    assert (feedback["nps"], feedback["nps_ci_low"], feedback["nps_ci_high"]) == (None, None, None)
    assert (feedback["promoters"], feedback["passives"], feedback["detractors"]) == (1.0, 0.0, 0.0)


def _with_value_column(events: pd.DataFrame, extra: list[tuple], columns: list[str]) -> pd.DataFrame:
    out = events.copy()
    for column in columns[3:]:
        out[column] = pd.Series([None] * len(out), dtype=object)
    return pd.concat([out, pd.DataFrame(extra, columns=columns).astype(object)], ignore_index=True)


def cases() -> list[Case]:
    nobody_churns = users_log(6, life=lambda i: 118 - 3 * i, value=lambda i: True)
    day0 = frame([(f"u{i}", e, ts(i)) for i in range(8) for e in ("signed_up", "session_start")])
    one_ts = frame(
        [
            (f"u{i}", e, ts(10))
            for i in range(5)
            for e in ("signed_up", "completed_profile", "session_start", "created_report")
        ]
    )
    signups = frame([(f"u{i}", "signed_up", ts(2 * i)) for i in range(10)])
    forty = users_log(40, life=lambda i: 10 + i, value=lambda i: i % 2 == 0, spread=1)
    twelve = users_log(12, life=lambda i: 10 + 2 * i, value=lambda i: i % 2 == 0, spread=2)
    no_value = users_log(8, life=lambda i: 10 + 5 * i, value=lambda i: False)
    at_t0 = pd.concat([no_value, no_value[no_value["event"] == "signed_up"].assign(event="created_report")])
    young = frame(
        [
            (f"u{i}", e, ts(100, i + (e == "session_start")))
            for i in range(6)
            for e in ("signed_up", "session_start")
        ]
    )
    short = users_log(10, life=lambda i: 1 + i % 3, value=lambda i: i % 2 == 0)
    revenue = _with_value_column(
        default_log(6),
        [("u00", "mrr_changed", ts(0, 1), "acc1", 50.0), ("u00", "mrr_changed", ts(40), "acc1", 80.0)],
        [*EVENT_COLUMNS, "account_id", "value"],
    )
    feedback = _with_value_column(
        default_log(6), [("u01", "feedback_submitted", ts(5), 9.0)], [*EVENT_COLUMNS, "value"]
    )
    users40 = pd.DataFrame({"user_id": sorted(forty["user_id"].unique()), "plan": "pro"})
    users12 = pd.DataFrame(
        {"user_id": sorted(twelve["user_id"].unique()), "plan": ["free", "pro", "enterprise"] * 4}
    )
    return [
        Case(
            "one_user",
            default_log(1),
            params_for(),
            [
                "every one of the 1 users observed for the 14-day conversion window reached value",
                "no contrast: every landmark user did it, or none did",
            ],
            _one_user,
        ),
        Case(
            "two_users",
            default_log(2),
            params_for(),
            ["days until 75% of signups reached value", "not reached"],
            _two_users,
        ),
        Case(
            "nobody_churns",
            nobody_churns,
            params_for(),
            ["median lifetime (days): not reached"],
            _nobody_churns,
        ),
        Case(
            "everyone_churns_on_day_0",
            day0,
            params_for(),
            [
                "relationship_change: not computable, no account or user that completed onboarding",
                "not computable: no user is still active at the landmark day 7",
                "created_report: conversion from the previous step not computable, no eligible user "
                "reached the previous step",
            ],
            _everyone_day0,
        ),
        Case(
            "all_events_at_one_timestamp",
            one_ts,
            params_for(observation_end=None),
            [
                "day 1, day 7, day 30: not computable, no user has been observed for 2 days since signup",
                "Not shown (weekly cohort heatmap): no user has been observed for a whole week since signup "
                "yet (the oldest for 0.0 days).",
                "conversion not computable: no user has been observed for the 14-day conversion window",
                "not computable: no user has been observed for the first 30 days since signup yet",
                "Section skipped: no user has been observed long enough for a lifetime: all 5 users are "
                "censored at 0 (younger than inactivity_days?)",
            ],
            _one_timestamp,
        ),
        Case(
            "only_signup_events",
            signups,
            params_for(),
            [
                "not computable: no user is still active at the landmark day 7",
                "created_report: conversion from the previous step not computable",
            ],
            _only_signups,
        ),
        Case(
            "segment_with_one_value",
            forty,
            params_for(users="users.csv", segments=["plan"]),
            ["plan: only one group, nothing to compare", "global log-rank p = not computable"],
            _one_segment_value,
            users=users40,
        ),
        Case(
            "every_group_under_min_segment_size",
            twelve,
            params_for(users="users.csv", segments=["plan"], min_segment_size=30),
            [
                "groups with fewer than 30 users pooled into 'other'",
                "plan: only one group, nothing to compare",
            ],
            _all_groups_small,
            users=users12,
        ),
        Case(
            "value_at_t0_for_everyone",
            at_t0,
            params_for(),
            ["every one of the 8 users observed for the 14-day conversion window reached value"],
            _value_at_t0,
        ),
        Case(
            "nobody_eligible_for_day_n",
            young,
            params_for(
                observation_end="2024-04-10",
                users="users.csv",
                segments=["plan"],
                min_segment_size=1,
            ),
            [
                "day 1, day 7, day 30: not computable, no user has been observed for 2 days since signup yet",
                "Not shown (weekly cohort heatmap)",
                "Not shown (monthly cohort heatmap)",
                "crisis: not computable, no account or user observed for 28 days",
                "Section skipped: no user has been observed long enough for a lifetime: all 6 users",
                "6 users censored at 0 (not observable yet: younger than the churn delay) are left out of "
                "the survival figures",
            ],
            _nobody_eligible,
            users=pd.DataFrame({"user_id": [f"u{i}" for i in range(6)], "plan": ["free", "pro"] * 3}),
        ),
        Case(
            "change_date_before_every_signup",
            default_log(10),
            params_for(change_date="2023-12-01"),
            [
                "Section skipped: no user signed up before the change date 2023-12-01 (signups 2024-01-01 to "
                "2024-01-28): the before/after comparison needs users on both sides."
            ],
            _change_absent("before", "2023-12-01"),
        ),
        Case(
            "change_date_after_every_signup",
            default_log(10),
            params_for(change_date="2024-04-01"),
            [
                "Section skipped: no user signed up after the change date 2024-04-01 (signups 2024-01-01 to "
                "2024-01-28): the before/after comparison needs users on both sides."
            ],
            _change_absent("after", "2024-04-01"),
        ),
        Case(
            "landmark_after_every_lifetime",
            short,
            params_for(landmark_days=10),
            ["not computable: no user is still active at the landmark day 10 and observed for 40 days"],
            _landmark_after_lifetimes,
        ),
        Case(
            "revenue_events_of_one_account",
            revenue,
            params_for(revenue_event="mrr_changed"),
            ["interval not computable: only one account paid at the start of a month"],
            _revenue_one_account,
        ),
        Case(
            "single_feedback_answer",
            feedback,
            params_for(feedback_event="feedback_submitted"),
            [
                "nps_group: only one group, nothing to compare",
                "not estimable: only 1 answer (an NPS needs at least 2)",
            ],
            _single_feedback,
        ),
    ]


CASES = {case.id: case for case in cases()}


def write_case(case: Case, folder: Path) -> Path:
    """The case's files and params.yaml in ``folder``; returns the params file."""
    folder.mkdir(parents=True, exist_ok=True)
    case.events.to_csv(folder / "events.csv", index=False)
    if case.users is not None:
        case.users.to_csv(folder / "users.csv", index=False)
    params = case.params | {"client": case.id.replace("_", "-")}
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


# --- in process: the notebooks' cells without kernels -----------------------------------------


def run_cells(params_path: Path, out_dir: Path) -> tuple[str, dict]:
    """Execute every code cell of the report notebooks (tests/pipeline_runner.py), parameters
    injected as a report run does; return the printed text and the parsed (strict) metrics.json.

    DataWarning and StatisticalWarning are part of a report; a RuntimeWarning (a NaN in the
    making) or a plain UserWarning (e.g. matplotlib's empty legend, printed in the report) fails.
    """
    params = load_params(params_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = run_notebooks(params.as_notebook_parameters() | {"output_dir": str(out_dir)})
    stray = [str(w.message) for w in run.warnings if w.category in (RuntimeWarning, UserWarning)]
    assert not stray, stray
    return run.text, strict_json((out_dir / "metrics.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_degenerate_case_completes_with_notes(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text, metrics = run_cells(write_case(case, tmp_path / "case"), tmp_path / "out")
    for note in case.notes:
        assert note in text, f"missing note: {note!r}\n--- report text ---\n{text}"
    assert not re.search(r"\bnan\b", text, re.IGNORECASE), "a NaN is printed in the report"
    case.check(metrics)


# --- end to end: the real command line --------------------------------------------------------


def cli(params_path: Path, out: Path, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli("run", str(params_path), "--out", str(out), cwd=cwd, timeout=600)


def grouped_case() -> Case:
    """Several degenerate sections in one log, none interfering with another: a change date
    after every signup, a segment with one value, revenue events of one account and a single
    feedback answer (on the ten users of :func:`default_log`)."""
    events = _with_value_column(
        default_log(10),
        [
            ("u00", "mrr_changed", ts(0, 1), "acc1", 50.0),
            ("u00", "mrr_changed", ts(40), "acc1", 80.0),
            ("u01", "feedback_submitted", ts(5), None, 9.0),
        ],
        [*EVENT_COLUMNS, "account_id", "value"],
    )
    users = pd.DataFrame({"user_id": [f"u{i:02d}" for i in range(10)], "plan": "pro"})
    notes = [
        *CASES["change_date_after_every_signup"].notes,
        "plan: only one group, nothing to compare",
        *CASES["revenue_events_of_one_account"].notes,
        *CASES["single_feedback_answer"].notes,
    ]

    def check(m):
        _change_absent("after", "2024-04-01")(m)
        _revenue_one_account(m)
        _single_feedback(m)
        assert m["segments"]["plan"]["logrank_p"] is None

    params = params_for(
        users="users.csv",
        segments=["plan"],
        change_date="2024-04-01",
        revenue_event="mrr_changed",
        feedback_event="feedback_submitted",
    )
    return Case("several_sections", events, params, notes, check, users=users)


E2E = {
    "change_date_before_every_signup": CASES["change_date_before_every_signup"],
    "nobody_eligible_for_day_n": CASES["nobody_eligible_for_day_n"],
    "several_sections": grouped_case(),
}


@pytest.mark.parametrize("case", list(E2E.values()), ids=list(E2E))
def test_degenerate_report_end_to_end(case, tmp_path):
    """``onboarding-analysis run``: exit 0, strict-JSON metrics, the notes in report.html."""
    from bs4 import BeautifulSoup

    params_path = write_case(case, tmp_path / "case")
    done = cli(params_path, tmp_path / "out", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    folder = tmp_path / "out" / case.id.replace("_", "-")
    metrics = strict_json((folder / "metrics.json").read_text(encoding="utf-8"))
    page = BeautifulSoup((folder / "report.html").read_text(encoding="utf-8"), "html.parser")
    text = page.get_text("\n")
    for note in case.notes:
        assert note in text, f"missing note in report.html: {note!r}"
    case.check(metrics)


def test_a_change_date_that_is_not_a_date_stays_a_params_error(tmp_path):
    case = CASES["change_date_before_every_signup"]
    params_path = write_case(
        Case(case.id, case.events, case.params | {"change_date": "April"}, []), tmp_path / "case"
    )
    done = cli(params_path, tmp_path / "out", tmp_path)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "change_date" in errors[0] and "'April'" in errors[0], done.stderr
    assert "Traceback" not in done.stderr


# --- the package functions behind the notes ---------------------------------------------------


@pytest.fixture
def ten_users_facts(tmp_path, monkeypatch):
    """The facts of :func:`default_log` (10 users signing up 2024-01-01 .. 2024-01-28)."""
    from onboarding_analysis.data.pipeline import compute_facts

    monkeypatch.setenv("ONBOARDING_ANALYSIS_CACHE", "off")
    case = CASES["change_date_before_every_signup"]
    return compute_facts(load_params(write_case(case, tmp_path / "case")))


@pytest.mark.parametrize(("date", "side"), [("2023-12-01", "before"), ("2024-04-01", "after")])
def test_compare_change_says_why_it_cannot_compare(ten_users_facts, date, side):
    from onboarding_analysis.absence import NotComputable
    from onboarding_analysis.analyses.change import change_metrics, compare_change
    from onboarding_analysis.errors import DataError

    with pytest.raises(
        DataError, match=f"no user signed up {side} the change date {date}.*check params change_date"
    ):
        compare_change(ten_users_facts, date)
    gap = compare_change(ten_users_facts, date, skip_if_not_computable=True)
    assert isinstance(gap, NotComputable) and gap.what is None
    assert gap.reason == (
        f"no user signed up {side} the change date {date} (signups 2024-01-01 to 2024-01-28): "
        "the before/after comparison needs users on both sides"
    )
    metrics = change_metrics(gap)["change"]
    assert metrics["not_computable"] == gap.reason
    assert (metrics["before_users"], metrics["after_users"]) == ((0, 10) if side == "before" else (10, 0))
    assert [k for k, v in metrics.items() if v is not None] == [
        "change_date",
        "before_users",
        "after_users",
        "not_computable",
    ]


def test_a_change_date_that_is_not_a_date_is_still_an_error(ten_users_facts):
    from onboarding_analysis.analyses.change import compare_change
    from onboarding_analysis.errors import ParamsError

    with pytest.raises(ParamsError, match="change_date must be a date"):
        compare_change(ten_users_facts, "April", skip_if_not_computable=True)


def test_fit_lifetime_without_observable_users():
    from onboarding_analysis.analyses.lifetime import fit_lifetime, lifetime_metrics
    from onboarding_analysis.errors import DataError

    young = pd.DataFrame({"lifetime_days": [0.0, 0.0, 0.0], "churned": [False, False, False]})
    with pytest.raises(DataError, match="all 3 users are censored at 0"):
        fit_lifetime(young, days=[1, 7])
    gap = fit_lifetime(young, days=[1, 7], skip_if_not_computable=True)
    life = lifetime_metrics(gap)["lifetime"]
    assert life["not_computable"] == gap.reason and life["not_yet_observable"] == 3
    assert life["median_days"] is None and life["survival"] == {"day_1": None, "day_7": None}
    assert life["survival_ci"] == {"day_1": [None, None], "day_7": [None, None]}


def test_cohort_table_absence():
    from onboarding_analysis.analyses.retention import cohort_table

    t0 = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-09"])
    old = pd.DataFrame(
        {"t0": t0, "age_days": [20.0, 19.0, 12.0], "active_weeks_mask": [1, 3, 1], "active_months_mask": 1}
    )
    assert cohort_table(old).absence is None
    # Cohort of 2024-01-01 (2 users eligible for weeks 0-1), of 2024-01-08 (1 user, week 0): < 3.
    hidden = cohort_table(old, min_cell_users=3).absence
    assert hidden.what == "weekly cohort heatmap"
    assert hidden.reason == (
        "every cell has fewer than min_cell_users = 3 eligible users (at most 2), so every cell is hidden"
    )
    young = old.assign(age_days=[6.5, 5.0, 1.0])
    assert cohort_table(young).absence.note == (
        "Not shown (weekly cohort heatmap): no user has been observed for a whole week since signup "
        "yet (the oldest for 6.5 days)."
    )
    assert cohort_table(young, period="month").absence.reason.startswith(
        "no user has been observed for a whole 30-day period"
    )


def test_computable_prints_the_note_once(capsys):
    from onboarding_analysis.absence import NotComputable
    from onboarding_analysis.report.notebook import computable

    gap = NotComputable("no user signed up after the change date 2025-01-01")
    assert computable(gap) is False
    assert computable(gap, quiet=True) is False
    assert computable(3.5) is True
    assert capsys.readouterr().out == "Section skipped: no user signed up after the change date 2025-01-01.\n"
    with pytest.raises(ValueError, match="one non-empty line"):
        NotComputable("two\nlines")


def test_show_prints_the_notes_of_a_table(capsys):
    from onboarding_analysis.analyses.retention import nday_retention
    from onboarding_analysis.report.notebook import show

    facts = pd.DataFrame({"age_days": [3.5, 2.0], "active_days_mask": [0b11, 0b1]})
    table = nday_retention(facts, [1, 7, 30])
    assert table["eligible"].tolist() == [2, 0, 0] and table["rate"].isna().tolist() == [False, True, True]
    show(table)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == (
        "Note: day 7, day 30: not computable, no user has been observed for 8 days since signup yet "
        "(the oldest has been observed for 3.5 days); users not observed long enough are left out, "
        "never counted as lost"
    )
