"""Property: every report completes on any small event log, or stops with the documented error.

Hypothesis draws small clients (1-80 users; signups over a few weeks; activity, onboarding
steps, value, features, tours, feedback scores and MRR events at random times on a coarse grid,
so ties are frequent; segments with one value, tiny groups or groups that separate lifetimes;
an onboarding change before, inside or after the signups; with or without a users table) and
runs every report notebook's code on it in this process (:mod:`tests.pipeline_runner`: the
notebooks' own cells, as a kernel would run them, without the kernel start). The report must
either complete, with a ``metrics.json`` that is strict JSON (no ``NaN``/``Infinity``), or stop
in its first step (the user facts) with the documented :class:`DataError` when the data cannot
be analysed at all (no user with a signup). No cell may raise anything else, and no numeric
``RuntimeWarning`` (overflow, invalid value, division by zero) may reach the report.

Examples that failed once are kept below as explicit regression cases (``REGRESSIONS``), and a
few drawn clients also run end to end through the CLI (kernels, HTML).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from unittest import mock

os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "onboarding-hypothesis")
)

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onboarding_analysis.data.cache import CACHE_ENV
from onboarding_analysis.errors import DataError
from onboarding_analysis.params import validate_params
from tests.cli_runner import run_cli
from tests.pipeline_runner import CellError, run_notebooks

START = dt.datetime(2024, 1, 1)
STEPS = ["signed_up", "completed_profile", "connected_data", "created_report"]
FEATURES = ["used_dashboard", "invited_teammate"]
OTHER = ["logged_in", "viewed_page"]

client_strategy = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "users": st.integers(1, 80),
        "signup_days": st.sampled_from([0, 1, 7, 21, 45]),  # spread of the signups (0: one day)
        "grid_hours": st.sampled_from([24, 6, 1]),  # timestamps on this grid: ties
        "lifetime_days": st.sampled_from([0, 3, 20, 60]),  # scale of the lifetimes (0: all on day 0)
        "separate": st.booleans(),  # plan decides the lifetime (quasi-complete separation)
        "persona_values": st.integers(1, 4),  # 1: a segment column with one value
        "min_segment_size": st.sampled_from([1, 5, 30, 100]),
        "users_table": st.sampled_from(["none", "full", "no_signup_at"]),
        "signup_share": st.sampled_from([0.0, 0.5, 1.0]),  # users with a signup event
        "value_share": st.sampled_from([0.0, 0.3, 1.0]),
        "value_at_t0": st.booleans(),
        "only_signups": st.booleans(),
        "change": st.sampled_from([None, "before", "inside", "after"]),
        "landmark_days": st.sampled_from([1, 7, 90]),
        "revenue_accounts": st.sampled_from([0, 1, 5]),
        "feedback_answers": st.sampled_from([0, 1, 12]),
        "observation_end": st.sampled_from(["last_event", "later"]),
    }
)


def build_client(spec: dict, folder: Path) -> dict:
    """Write the drawn client's events (and users) to ``folder``; return its raw params."""
    rng = np.random.default_rng(spec["seed"])
    n = spec["users"]
    grid = dt.timedelta(hours=spec["grid_hours"])
    ids = [f"u{i:03d}" for i in range(n)]
    plans = rng.choice(["free", "pro", "enterprise"], size=n)
    personas = rng.choice(["marketer", "developer", "sales", "founder"][: spec["persona_values"]], size=n)
    steps_per_unit = max(1, spec["signup_days"] * 24 // spec["grid_hours"])
    t0 = [START + int(k) * grid for k in rng.integers(0, steps_per_unit + 1, size=n)]
    scale = spec["lifetime_days"]
    if spec["separate"]:
        bound = {"free": 0.3, "pro": 0.6, "enterprise": 1.0}
        life = [scale * (bound[p] - 0.3 * rng.random()) for p in plans]
    else:
        life = list(scale * rng.random(n))
    rows = []

    def add(user, when, event, value=None):
        rounded = START + ((when - START) // grid) * grid
        rows.append((user, event, rounded.isoformat() + "Z", value))

    for i, user in enumerate(ids):
        start = t0[i]
        if rng.random() < spec["signup_share"]:
            add(user, start, "signed_up")
        if spec["only_signups"]:
            continue
        end = start + dt.timedelta(days=max(float(life[i]), 0.0))
        span = (end - start).total_seconds()
        for _ in range(int(rng.integers(0, 12))):
            add(user, start + dt.timedelta(seconds=span * rng.random()), str(rng.choice(OTHER + FEATURES)))
        for step in STEPS[1:3]:
            if rng.random() < 0.6:
                add(user, start + dt.timedelta(seconds=span * rng.random()), step)
        if rng.random() < spec["value_share"]:
            when = start if spec["value_at_t0"] else start + dt.timedelta(seconds=span * rng.random())
            add(user, when, "created_report")
        if rng.random() < 0.5:
            add(user, start, "tour_shown")
            if rng.random() < 0.5:
                add(user, start + dt.timedelta(seconds=span * rng.random()), "tour_completed")
        add(user, end, str(rng.choice(OTHER)))
    for k in range(spec["feedback_answers"]):
        user = ids[k % n]
        add(user, t0[k % n] + dt.timedelta(days=1), "feedback_submitted", float(rng.integers(0, 11)))
    for k in range(spec["revenue_accounts"]):
        user = ids[k % n]
        add(user, t0[k % n], "mrr_changed", float(rng.choice([0, 49, 99])))
        add(user, t0[k % n] + dt.timedelta(days=40), "mrr_changed", float(rng.choice([0, 49, 99])))
    events = pd.DataFrame(rows, columns=["user_id", "event", "timestamp", "value"])
    events_path = folder / "events.csv"
    events.to_csv(events_path, index=False)
    raw = {
        "client": "prop",
        "events": str(events_path),
        "users": None,
        "signup_event": "signed_up",
        "value_events": ["created_report"],
        "onboarding_steps": STEPS,
        "segments": ["persona", "plan"],
        "min_segment_size": spec["min_segment_size"],
        "prompts": {"product_tour": {"shown": "tour_shown", "engaged": "tour_completed"}},
        "feature_events": FEATURES,
        "landmark_days": spec["landmark_days"],
        "revenue_event": "mrr_changed" if spec["revenue_accounts"] else None,
        "feedback_event": "feedback_submitted" if spec["feedback_answers"] else None,
        "change_date": None,
        "readiness_min_eligible": 10,
    }
    if spec["users_table"] != "none":
        users = pd.DataFrame({"user_id": ids, "persona": personas, "plan": plans})
        if spec["users_table"] == "full":
            users["signup_at"] = [t.isoformat() + "Z" for t in t0]
        users_path = folder / "users.csv"
        users.to_csv(users_path, index=False)
        raw["users"] = str(users_path)
    else:
        raw["segments"] = []
    if rows:
        times = pd.to_datetime(events["timestamp"]).dt.tz_localize(None)
        first_signup, last_signup = min(t0), max(t0)
        where = {
            "before": first_signup - dt.timedelta(days=3),
            "inside": first_signup + (last_signup - first_signup) / 2,
            "after": times.max() + dt.timedelta(days=3),
        }
        if spec["change"] is not None:
            raw["change_date"] = where[spec["change"]].date().isoformat()
        if spec["observation_end"] == "later":
            raw["observation_end"] = (times.max() + dt.timedelta(days=10)).date().isoformat()
    return raw


def check_client(spec: dict, folder: Path) -> str:
    """Run the report's code on the drawn client; return "complete" or "no users"."""
    raw = build_client(spec, folder)
    params = validate_params(raw, base_dir=folder)
    run_dir = folder / "run"
    run_dir.mkdir()
    parameters = params.as_notebook_parameters() | {"output_dir": str(run_dir)}
    try:
        # A cache folder of the client's own: the facts are built once, as in a report run.
        with mock.patch.dict(os.environ, {CACHE_ENV: str(folder / "cache")}):
            caught = run_notebooks(parameters).warnings
    except CellError as err:
        # Data that cannot be analysed at all stops in the first step, with the documented error.
        if isinstance(err.error, DataError) and "compute_facts" in err.source_head:
            assert "\n" not in str(err.error).strip(), str(err.error)
            return "stopped"
        raise
    numeric = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not numeric, [f"{w.filename}:{w.lineno}: {w.message}" for w in numeric]
    text = (run_dir / "metrics.json").read_text(encoding="utf-8")
    json.loads(text, parse_constant=_reject)
    return "complete"


def _reject(name: str):
    raise AssertionError(f"metrics.json holds {name}: not strict JSON")


SETTINGS = settings(
    max_examples=int(os.environ.get("PIPELINE_EXAMPLES", "25")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(spec=client_strategy)
def test_every_report_completes_or_stops_with_the_documented_error(spec):
    with tempfile.TemporaryDirectory() as tmp:
        check_client(spec, Path(tmp))


#: Drawn clients that also run end to end through the command line (kernels, HTML, index):
#: a 62-user client over three weeks with a users table, separated plans and a change in the
#: middle of the signups; and a client without users table, feedback, revenue or change.
CLI_CLIENTS = {
    "small-separated-with-change": {
        **{"seed": 62, "users": 62, "signup_days": 21, "grid_hours": 6, "lifetime_days": 20},
        **{"separate": True, "persona_values": 3, "min_segment_size": 10, "users_table": "full"},
        **{"signup_share": 1.0, "value_share": 0.3, "value_at_t0": False, "only_signups": False},
        **{"change": "inside", "landmark_days": 7, "revenue_accounts": 5, "feedback_answers": 12},
        "observation_end": "last_event",
    },
    "bare-event-log": {
        **{"seed": 7, "users": 40, "signup_days": 7, "grid_hours": 1, "lifetime_days": 3},
        **{"separate": False, "persona_values": 1, "min_segment_size": 30, "users_table": "none"},
        **{"signup_share": 1.0, "value_share": 0.3, "value_at_t0": False, "only_signups": False},
        **{"change": None, "landmark_days": 1, "revenue_accounts": 0, "feedback_answers": 0},
        "observation_end": "last_event",
    },
}


@pytest.mark.parametrize("name", sorted(CLI_CLIENTS))
def test_drawn_client_through_the_cli(name, tmp_path):
    raw = build_client(CLI_CLIENTS[name], tmp_path)
    params_path = tmp_path / "params" / "client.yaml"
    params_path.parent.mkdir()
    params_path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    done = run_cli(
        "run", str(params_path), "--out", str(tmp_path / "out"), cwd=tmp_path, env={CACHE_ENV: str(tmp_path / "cache")}
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    run_dir = tmp_path / "out" / "prop"
    json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"), parse_constant=_reject)
    assert (run_dir / "report.html").stat().st_size > 0
