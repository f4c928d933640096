"""Loading: formats, globs, column mapping, time zones, and the data-contract errors."""

from __future__ import annotations

import pandas as pd
import pytest

from onboarding_analysis import columns as C
from onboarding_analysis.errors import DataError, ParamsError
from onboarding_analysis.loading import load, quote_ident, quote_literal
from onboarding_analysis.params import validate_params
from onboarding_analysis.pipeline import compute_facts

ROWS = [
    {"uid": "001", "name": "signed_up", "when": "2024-01-01 01:00:00"},
    {"uid": "001", "name": "session_start", "when": "2024-01-02 01:00:00"},
    {"uid": "002", "name": "signed_up", "when": "2024-01-03 01:00:00"},
]
MAPPING = {"user_id": "uid", "event": "name", "timestamp": "when"}


def test_column_mapping_and_naive_timestamps_in_params_timezone(write_csv):
    path = write_csv(ROWS)
    facts = compute_facts(validate_params({"events": path, "columns": MAPPING, "timezone": "Europe/Paris"}))
    t = facts.table.set_index(C.USER_ID)
    # 01:00 in Paris (UTC+1 in January) is 00:00 UTC; leading zeros of ids are kept.
    assert t.loc["001", C.T0] == pd.Timestamp("2024-01-01 00:00:00")
    assert facts.observation_end == pd.Timestamp("2024-01-03 00:00:00").to_pydatetime()


def test_offsets_are_converted_to_utc(write_csv):
    rows = [dict(r, when=r["when"].replace(" ", "T") + "+05:00") for r in ROWS]
    facts = compute_facts(
        validate_params({"events": write_csv(rows), "columns": MAPPING, "timezone": "Europe/Paris"})
    )
    assert facts.table.set_index(C.USER_ID).loc["001", C.T0] == pd.Timestamp("2023-12-31 20:00:00")


def test_parquet_glob_of_several_files_with_tz_aware_and_naive_types(tmp_path):
    frame = pd.DataFrame(ROWS).rename(columns={"uid": "user_id", "name": "event", "when": "timestamp"})
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame.iloc[:2].to_parquet(tmp_path / "part-1.parquet")
    frame.iloc[2:].to_parquet(tmp_path / "part-2.parquet")
    params = validate_params({"events": str(tmp_path / "part-*.parquet")})
    source = load(params)
    assert sorted(source.files.values()) == [1, 2]
    facts = compute_facts(params)
    assert facts.accounting.events_read == 3 and len(facts) == 2
    aware = frame.assign(timestamp=frame["timestamp"].dt.tz_localize("America/New_York"))
    aware.to_parquet(tmp_path / "aware.parquet")
    t = compute_facts(validate_params({"events": str(tmp_path / "aware.parquet")})).table.set_index(C.USER_ID)
    assert t.loc["001", C.T0] == pd.Timestamp("2024-01-01 06:00:00")  # EST = UTC-5


@pytest.mark.parametrize(
    ("rows", "params", "match"),
    [
        (ROWS, {}, "missing column 'user_id'"),
        (
            [dict(r, when=r["when"] + ("Z" if i == 0 else "")) for i, r in enumerate(ROWS)],
            {"columns": MAPPING},
            "mixes timestamps",
        ),
        ([dict(r, when="soon") for r in ROWS], {"columns": MAPPING}, "no value could be read as a timestamp"),
        (ROWS, {"columns": MAPPING, "observation_end": "2023-06-01"}, "before the first event"),
        (ROWS, {"columns": MAPPING, "segments": ["persona"]}, "column 'persona' is in neither"),
    ],
    ids=["missing-column", "mixed-tz", "unparseable", "end-before-start", "unknown-segment"],
)
def test_contract_errors(write_csv, rows, params, match):
    path = write_csv(rows)
    with pytest.raises((DataError, ParamsError), match=match):
        compute_facts(validate_params({"events": path, **params}))


def test_missing_column_suggests_mapping(write_csv):
    path = write_csv([{"userid": "1", "event": "a", "timestamp": "2024-01-01"}])
    with pytest.raises(DataError, match=r"columns: \{user_id: userid\}") as info:
        load(validate_params({"events": path}))
    assert path in str(info.value)


def test_file_errors(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("user_id,event,timestamp\n")
    (tmp_path / "data.json").write_text("{}")
    cases = [
        (str(tmp_path / "empty.csv"), "the file is empty"),
        (str(tmp_path / "header.csv"), "no event rows"),
        (str(tmp_path / "nothing-*.csv"), "matches no file"),
        (str(tmp_path), "is a directory"),
        (str(tmp_path / "missing.csv"), "not found"),
        (str(tmp_path / "data.json"), "unknown file type"),
    ]
    for events, match in cases:
        with pytest.raises(DataError, match=match):
            load(validate_params({"events": events}))


def test_users_table_errors(write_csv):
    events = write_csv(ROWS)
    dup = write_csv([{"uid": "001", "signup_at": ""}, {"uid": "001", "signup_at": ""}], name="dup.csv")
    with pytest.raises(DataError, match="user '001' appears in 2 rows"):
        load(validate_params({"events": events, "users": dup, "columns": MAPPING}))
    bad = write_csv([{"uid": "001", "signup_at": "last tuesday"}], name="bad.csv")
    with pytest.raises(DataError, match="'last tuesday' is not a timestamp"):
        load(validate_params({"events": events, "users": bad, "columns": MAPPING}))


def test_hostile_names_are_quoted(write_csv):
    assert quote_ident('a"b') == '"a""b"'
    assert quote_literal("it's") == "'it''s'"
    rows = [{'we"ird': "1", "event": "x'); DROP TABLE events; --", "timestamp": "2024-01-01T00:00:00Z"}]
    path = write_csv(rows)
    params = validate_params(
        {"events": path, "columns": {"user_id": 'we"ird'}, "signup_event": "x'); DROP TABLE events; --"}
    )
    facts = compute_facts(params)
    assert facts.table[C.USER_ID].tolist() == ["1"] and facts.accounting.events_used == 1
