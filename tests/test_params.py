"""Params: defaults, normalisation, and every kind of rejected value."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from onboarding_analysis.errors import ParamsError
from onboarding_analysis.params import (
    load_params,
    observation_end_timestamp,
    params_from_namespace,
    validate_params,
)

ROOT = Path(__file__).resolve().parent.parent


def test_demo_params_load_and_resolve_against_project_root():
    p = load_params(ROOT / "params" / "demo.yaml")
    assert p.client == "demo"
    assert p.base_dir == ROOT
    assert p.resolve(p.events) == str(ROOT / "data" / "demo" / "events.parquet")
    assert p.retention_days == (1, 7, 30)
    assert p.onboarding_steps[0] == ("signed_up",)
    assert p.change_date == dt.date(2024, 4, 1)


def test_defaults_match_design():
    p = validate_params({"events": "e.csv"})
    assert (p.client, p.timezone, p.signup_event, p.value_events) == (
        "demo",
        "UTC",
        "signed_up",
        ("created_report",),
    )
    assert (p.inactivity_days, p.retention_days, p.conversion_window_days) == (30, (1, 7, 30), 14)
    assert (p.min_segment_size, p.rmst_horizon_days, p.show_identifiers) == (30, 90, False)
    assert p.columns["user_id"] == "user_id" and p.filters == {} and p.churn_event is None
    assert p.lifetime_censoring == "observable"


def test_steps_accept_alternatives_and_notebook_parameters_roundtrip():
    p = validate_params(
        {"events": "e.csv", "onboarding_steps": ["a", ["b1", "b2"]], "observation_end": "2024-02-01"}
    )
    assert p.onboarding_steps == (("a",), ("b1", "b2"))
    nb = p.as_notebook_parameters()
    assert nb["onboarding_steps"] == ["a", ["b1", "b2"]]
    assert nb["observation_end"] == "2024-02-01"
    again = validate_params({k: v for k, v in nb.items()})
    assert again.onboarding_steps == p.onboarding_steps
    assert again.observation_end == p.observation_end


def test_observation_end_date_means_end_of_day_in_timezone():
    p = validate_params({"events": "e.csv", "observation_end": "2024-03-31", "timezone": "Europe/Paris"})
    # End of 2024-03-31 in Paris = 2024-04-01 00:00 CEST (UTC+2) = 2024-03-31 22:00 UTC.
    assert observation_end_timestamp(p) == dt.datetime(2024, 3, 31, 22, 0)
    q = validate_params({"events": "e.csv", "observation_end": "2024-03-31T12:00:00+00:00"})
    assert observation_end_timestamp(q) == dt.datetime(2024, 3, 31, 12, 0)


def test_from_namespace_ignores_other_names(tmp_path, monkeypatch):
    (tmp_path / "params").mkdir()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    p = params_from_namespace({"events": "data/e.csv", "output_dir": None, "pd": object()})
    assert p.base_dir == tmp_path
    assert p.resolve(p.events) == str(tmp_path / "data" / "e.csv")


BAD = [
    ({"events": "e.csv", "retention_dayz": [1]}, "retention_dayz", "Did you mean 'retention_days'"),
    ({"events": "e.csv", "retention_days": [-1, 7]}, "retention_days", "whole numbers of days >= 0"),
    ({"events": "e.csv", "retention_days": "7"}, "retention_days", "list"),
    ({"events": "e.csv", "retention_days": [7, 7]}, "retention_days", "distinct"),
    ({"events": "e.csv", "inactivity_days": -3}, "inactivity_days", "> 0"),
    ({"events": "e.csv", "inactivity_days": True}, "inactivity_days", "> 0"),
    ({"events": "e.csv", "rmst_horizon_days": 0}, "rmst_horizon_days", "> 0"),
    ({"events": "e.csv", "conversion_window_days": "14"}, "conversion_window_days", "> 0"),
    ({"events": "e.csv", "conversion_window": "5 fortnights"}, "conversion_window", "<n> <unit>"),
    ({"events": "e.csv", "conversion_window": "14"}, "conversion_window", "<n> <unit>"),
    ({"events": "e.csv", "conversion_window": "0 days"}, "conversion_window", "<n> <unit>"),
    ({"events": "e.csv", "conversion_window": -1}, "conversion_window", "a number of days > 0"),
    ({"events": "e.csv", "funnel_semantics": "amplitude"}, "funnel_semantics", "onboarding, posthog"),
    ({"events": "e.csv", "min_segment_size": 2.5}, "min_segment_size", "whole number"),
    ({"events": "e.csv", "timezone": "Mars/Olympus"}, "timezone", "IANA"),
    ({"events": "e.csv", "observation_end": "yesterday"}, "observation_end", "a date"),
    ({"events": "e.csv", "change_date": "2024-13-01"}, "change_date", "a date"),
    ({"events": "e.csv", "value_events": "created_report"}, "value_events", "list of event names"),
    ({"events": "e.csv", "onboarding_steps": [1, 2]}, "onboarding_steps", "event name"),
    ({"events": "e.csv", "columns": {"userid": "id"}}, "columns", "only the keys"),
    ({"events": "e.csv", "filters": ["client"]}, "filters", "mapping"),
    ({"events": "e.csv", "show_identifiers": "yes please"}, "show_identifiers", "true or false"),
    ({"events": "e.csv", "client": "../../etc"}, "client", "no '/' or '..'"),
    ({"events": "e.csv", "lifetime_censoring": "never"}, "lifetime_censoring", "observable"),
    ({"events": ""}, "events", "non-empty string"),
    ({"users": "u.csv"}, "events", "required"),
]


@pytest.mark.parametrize(
    ("raw", "key", "expected"), BAD, ids=[b[1] + "-" + str(i) for i, b in enumerate(BAD)]
)
def test_bad_values_name_file_key_value_and_fix(tmp_path, raw, key, expected):
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError) as info:
        load_params(path)
    message = str(info.value)
    assert str(path.resolve()) in message
    assert f"'{key}'" in message
    assert expected in message
    bad_value = raw.get(key)
    if bad_value not in (None, "") and key != "retention_dayz":
        assert repr(bad_value) in message or str(bad_value) in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("- a\n- b\n", "mapping"),
        ("events: [unclosed\n", "not valid YAML"),
    ],
)
def test_unreadable_files(tmp_path, text, expected):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError, match=expected):
        load_params(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    with pytest.raises(ParamsError, match="is a directory"):
        load_params(tmp_path)


# --- conversion_window ---------------------------------------------------------------------------

# Fixed lengths in seconds, written out by hand: a week is 7 x 86,400 s, a month 31 x 86,400 s.
@pytest.mark.parametrize(
    ("window", "seconds", "label"),
    [
        (14, 1_209_600, "14 days"),  # a bare number is days: 14 x 86,400
        (0.5, 43_200, "0.5 days"),
        ("5 minutes", 300, "5 minutes"),
        ("1 Minute", 60, "1 minute"),
        ("30 second", 30, "30 seconds"),
        ("2 hours", 7_200, "2 hours"),
        ("1 day", 86_400, "1 day"),
        ("2 weeks", 1_209_600, "2 weeks"),
        ("1 month", 2_678_400, "1 month"),
        ("3 months", 8_035_200, "3 months"),
    ],
)
def test_conversion_window_units(window, seconds, label):
    p = validate_params({"events": "e.csv", "conversion_window": window})
    assert p.conversion_window_seconds == seconds
    assert p.conversion_window_days == pytest.approx(seconds / 86_400, rel=1e-12)
    assert p.conversion_window_label == label


def test_conversion_window_days_is_an_alias_and_both_must_agree(tmp_path):
    import yaml

    alias = validate_params({"events": "e.csv", "conversion_window_days": 7})
    assert (alias.conversion_window, alias.conversion_window_days, alias.conversion_window_seconds) == (7, 7, 604_800)
    same = validate_params({"events": "e.csv", "conversion_window": "1 week", "conversion_window_days": 7})
    assert same.conversion_window_days == 7 and same.conversion_window == "1 week"
    numbers = validate_params({"events": "e.csv", "conversion_window": 14, "conversion_window_days": 14})
    assert numbers.conversion_window_days == 14 and type(numbers.conversion_window_days) is int
    default = validate_params({"events": "e.csv"})
    assert (default.conversion_window, default.conversion_window_days, default.funnel_semantics) == (14, 14, "onboarding")
    path = tmp_path / "both.yaml"
    path.write_text(yaml.safe_dump({"events": "e.csv", "conversion_window": "1 week", "conversion_window_days": 14}))
    with pytest.raises(ParamsError) as info:
        load_params(path)
    message = str(info.value)
    assert str(path.resolve()) in message and "'conversion_window'" in message and "'conversion_window_days'" in message
    assert "604800 s" in message and "1.2096e+06 s" in message  # 7 x 86,400 against 14 x 86,400


def test_a_window_in_minutes_survives_the_notebook_round_trip():
    """papermill injects both keys (as_notebook_parameters): validated again, they agree."""
    p = validate_params({"events": "e.csv", "conversion_window": "5 minutes"})
    again = validate_params(p.as_notebook_parameters())
    assert again.conversion_window == "5 minutes" and again.conversion_window_seconds == 300
