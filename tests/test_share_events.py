"""oa.share_events: the used events written once per run and read back, with identical results."""

from __future__ import annotations

import dataclasses
import os

import pandas as pd

import onboarding_analysis as oa
from onboarding_analysis.data.cache import EVENTS_SUFFIX
from onboarding_analysis.report.shared_events import share_events


def _project(tmp_path, write_csv):
    rows = []
    for i in range(12):
        user = f"u{i}"
        day = f"2024-03-{1 + i % 5:02d}"
        rows.append({"user_id": user, "event": "signed_up", "timestamp": f"{day}T08:00:00Z"})
        rows.append({"user_id": user, "event": "completed_profile", "timestamp": f"{day}T09:00:00Z"})
        if i % 2:
            rows.append({"user_id": user, "event": "created_report", "timestamp": f"{day}T10:00:00Z"})
            rows.append({"user_id": user, "event": "used_dashboard", "timestamp": "2024-04-20T10:00:00Z"})
    return oa.validate_params(
        {
            "events": write_csv(rows),
            "observation_end": "2024-05-15",  # within inactivity_days (30) of the last event
            "onboarding_steps": ["signed_up", "completed_profile", "created_report"],
            "segments": [],
        },
        base_dir=str(tmp_path),
    )


def test_shared_events_give_the_same_results(tmp_path, write_csv):
    params = _project(tmp_path, write_csv)
    cache = tmp_path / "cache"
    facts = oa.compute_facts(params, cache=cache)
    shared = share_events(facts, cache=cache)
    files = list(cache.glob(f"*{EVENTS_SUFFIX}"))
    assert len(files) == 1  # written once, next to the facts entry
    assert shared.events.count().execute() == facts.events.count().execute()
    assert shared.table is facts.table
    pd.testing.assert_frame_equal(oa.dau_mau(shared), oa.dau_mau(facts))
    pd.testing.assert_frame_equal(oa.lifecycle(shared), oa.lifecycle(facts))
    pd.testing.assert_frame_equal(oa.last_events(shared), oa.last_events(facts))
    assert oa.compute_funnel(shared).steps.equals(oa.compute_funnel(facts).steps)
    # A second notebook reads the same file; each process reads it through its own link.
    again = share_events(oa.compute_facts(params, cache=cache), cache=cache)
    assert list(cache.glob(f"*{EVENTS_SUFFIX}")) == files
    assert again.events.count().execute() == facts.events.count().execute()
    links = list(cache.glob(f"*.events.{os.getpid()}-*.parquet"))
    assert len(links) == 2


def test_without_a_cache_folder_the_events_are_held_by_the_engine(tmp_path, write_csv):
    params = _project(tmp_path, write_csv)
    facts = oa.compute_facts(params, cache=False)
    shared = share_events(facts, cache=False)
    assert shared.events.count().execute() == facts.events.count().execute()
    pd.testing.assert_frame_equal(oa.dau_mau(shared), oa.dau_mau(facts))
    assert not (tmp_path / ".cache").exists()


def test_step_times_of_shared_events_are_stored_once_and_read_back(tmp_path, write_csv, monkeypatch):
    import importlib

    funnel_module = importlib.import_module("onboarding_analysis.analyses.funnel_times")
    from onboarding_analysis.analyses.segments import completion_flags
    from onboarding_analysis.data.cache import DERIVED_INFIX

    params = _project(tmp_path, write_csv)
    cache = tmp_path / "cache"
    facts = oa.compute_facts(params, cache=cache)
    expected = oa.step_times(facts)  # on the lazy used events: never stored
    expected_steps = oa.compute_funnel(facts).steps
    assert not list(cache.glob(f"*{DERIVED_INFIX}*"))
    shared = share_events(facts, cache=cache)
    pd.testing.assert_frame_equal(oa.step_times(shared), expected)
    stored = list(cache.glob(f"*{DERIVED_INFIX}steps-*.parquet"))
    assert len(stored) == 1
    # Another notebook (a new process: nothing in memory) reads the file: no engine query.
    monkeypatch.setattr(funnel_module, "_STEP_TIMES_MEMO", {})
    calls = []
    real = funnel_module._step_times_expr
    monkeypatch.setattr(funnel_module, "_step_times_expr", lambda *a: calls.append(a) or real(*a))
    again = share_events(oa.compute_facts(params, cache=cache), cache=cache)
    pd.testing.assert_frame_equal(oa.step_times(again), expected)
    assert oa.compute_funnel(again).steps.equals(expected_steps)
    assert calls == []
    # Other options are another file; events filtered from the shared ones are never stored.
    oa.step_times(again, window_days=3)
    assert len(list(cache.glob(f"*{DERIVED_INFIX}steps-*.parquet"))) == 2
    subset = dataclasses.replace(again, events=again.events.filter(again.events.event != "created_report"))
    assert oa.step_times(subset)["step_2_days"].isna().all()
    assert len(list(cache.glob(f"*{DERIVED_INFIX}steps-*.parquet"))) == 2
    # The completion flags (segments) follow the funnel: reached the last step, NA if not eligible.
    flags = completion_flags(again)
    done = expected["step_2_days"].notna().to_numpy()
    eligible = facts.table["age_days"].to_numpy() >= params.conversion_window_days
    assert flags[eligible].tolist() == done[eligible].tolist()
    assert flags[~eligible].isna().all()
