"""Loading: formats, globs, column mapping, time zones, and the data-contract errors."""

from __future__ import annotations

import contextlib
import gzip
import re
import warnings

import pandas as pd
import pytest

from onboarding_analysis.data import columns as C
from onboarding_analysis.data.files import csv_header
from onboarding_analysis.data.loading import load
from onboarding_analysis.data.pipeline import compute_facts
from onboarding_analysis.data.sql import quote_ident, quote_literal
from onboarding_analysis.errors import DataError, DataWarning, ParamsError
from onboarding_analysis.params import validate_params

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


@contextlib.contextmanager
def data_warnings():
    """Collect the DataWarning messages of the block (pytest.warns would also re-raise the
    unrelated deprecation warnings of the ibis/duckdb pair, which this project's filters ignore)."""
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        yield messages
    messages.extend(str(w.message) for w in caught if issubclass(w.category, DataWarning))


def one_warning(messages: list[str], pattern: str) -> str:
    assert len(messages) == 1 and re.search(pattern, messages[0]), messages
    return messages[0]


# --- CSV dialect, read errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_line", "delimiter", "names"),
    [
        (b"user_id,event,timestamp\n", ",", ["user_id", "event", "timestamp"]),
        (b"user_id;event;timestamp\r\n", ";", ["user_id", "event", "timestamp"]),
        (b"user_id\tevent\ttimestamp\n", "\t", ["user_id", "event", "timestamp"]),
        (b"user_id|event|timestamp\n", "|", ["user_id", "event", "timestamp"]),
        (b'\xef\xbb\xbf"us,er",event,\n', ",", ["us,er", "event", "column3"]),
    ],
    ids=["comma", "semicolon-crlf", "tab", "pipe", "bom-quoted-unnamed"],
)
def test_csv_header_detects_the_delimiter(tmp_path, first_line, delimiter, names):
    path = tmp_path / "e.csv"
    path.write_bytes(first_line + b"u1,a,2024-01-01\n")
    assert csv_header(str(path)) == (delimiter, names)
    gz = tmp_path / "e.csv.gz"
    gz.write_bytes(gzip.compress(first_line))
    assert csv_header(str(gz)) == (delimiter, names)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\n", "the first line is empty; it must be the header"),
        (b"user_id,event,event\n", "names column 'event' twice"),
        (b"user_\xe9d,event\n", r"line 1 \(the header\) is not UTF-8 text"),
    ],
)
def test_csv_header_errors(tmp_path, content, match):
    path = tmp_path / "e.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        csv_header(str(path))


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"u1,a,2024-01-01\nu2,b\n", r"e\.csv: line 3 has 2 fields but the header has 3"),
        (b"u1,a,2024-01-01\nu2,b,c,2024-01-01\n", r"e\.csv: line 3 has 4 fields but the header has 3"),
        (b"u1,a,2024-01-01\nu2,caf\xe9,2024-01-01\n", r"e\.csv: line 3 is not UTF-8 text"),
    ],
)
def test_read_errors_name_the_file_and_line_in_one_line(tmp_path, body, match):
    path = tmp_path / "e.csv"
    path.write_bytes(b"user_id,event,timestamp\n" + body)
    with pytest.raises(DataError, match=match) as info:
        load(validate_params({"events": str(path)}))
    assert "\n" not in str(info.value)


# --- timestamps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "unit"),
    [
        (["1704067200", "1704153600.25"], "seconds"),
        (["1704067200000", "1704153600250"], "milliseconds"),
        (["1704067200000000", "1704153600250000"], "microseconds"),
        (["1704067200000000000", "1704153600250000000"], "nanoseconds"),
    ],
)
def test_numbers_are_unix_time_in_the_unit_of_their_median(write_csv, values, unit):
    rows = [{"user_id": "u1", "event": "signed_up", "timestamp": values[0]}]
    rows.append({"user_id": "u1", "event": "x", "timestamp": values[1]})
    params = validate_params({"events": write_csv(rows), "timezone": "Asia/Tokyo", "value_events": []})
    with data_warnings() as messages:
        facts = compute_facts(params)
    one_warning(messages, f"read as Unix time in {unit} \\(UTC, params timezone not applied\\)")
    assert facts.table[C.T0].tolist() == [pd.Timestamp("2024-01-01")]
    assert facts.observation_end == pd.Timestamp("2024-01-02 00:00:00.250").to_pydatetime()


def test_parquet_numeric_timestamps_and_out_of_range_values(tmp_path):
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2"],
            "event": ["signed_up", "x", "signed_up"],
            "timestamp": [1704067200, 1704153600, 5],
        }
    )
    frame.to_parquet(tmp_path / "e.parquet")
    params = validate_params({"events": str(tmp_path / "e.parquet"), "value_events": []})
    with data_warnings() as messages:
        facts = compute_facts(params)
    assert any("Unix time in seconds" in m for m in messages)
    assert any("1 event row excluded as 'unparseable timestamp'" in m and "'5'" in m for m in messages)
    assert facts.accounting.excluded == {"unparseable timestamp": 1}


def test_zone_names_are_offsets_and_cannot_mix_with_local_times(write_csv):
    rows = [{"user_id": "u1", "event": "signed_up", "timestamp": "2024-01-01 10:00:00 Europe/Paris"}]
    facts = compute_facts(
        validate_params({"events": write_csv(rows), "timezone": "Asia/Tokyo", "value_events": []})
    )
    assert facts.table[C.T0].tolist() == [pd.Timestamp("2024-01-01 09:00")]
    rows.append({"user_id": "u1", "event": "x", "timestamp": "2024-01-01 11:00:00"})
    with pytest.raises(DataError, match="mixes timestamps with a UTC offset"):
        load(validate_params({"events": write_csv(rows)}))


def test_implausible_dates_never_set_the_observation_end(write_csv):
    rows = [
        {"user_id": "u1", "event": "signed_up", "timestamp": "2024-01-01T00:00:00Z"},
        {"user_id": "u1", "event": "x", "timestamp": "2024-03-01T00:00:00Z"},
        {"user_id": "u1", "event": "x", "timestamp": "2099-12-31T00:00:00Z"},
    ]
    with data_warnings() as messages:
        source = load(validate_params({"events": write_csv(rows)}))
    one_warning(messages, "1 event row excluded as 'implausible timestamp'")
    assert source.observation_end == pd.Timestamp("2024-03-01").to_pydatetime()
    assert source.warnings == messages
    # An explicit observation end far beyond the data does not make 2099 plausible: it is
    # 27,700 days after the last plausible event (2024-03-01 -> 2100-01-02), an error unless
    # observation_end_check says it is intended.
    with pytest.raises(ParamsError, match=r"2100-01-01 is 27700\.0 days after the last event \(2024-03-01"):
        load(validate_params({"events": write_csv(rows), "observation_end": "2100-01-01"}))
    with data_warnings() as messages:
        far = load(
            validate_params(
                {"events": write_csv(rows), "observation_end": "2100-01-01", "observation_end_check": "warn"}
            )
        )
    assert len(messages) == 2
    assert any("implausible" in m for m in messages)
    assert any("(kept: observation_end_check is warn)" in m for m in messages)
    reasons = far.events.reason.value_counts().to_pandas().set_index("reason")["reason_count"]
    assert reasons["implausible timestamp"] == 1


def test_main_block_is_the_longest_run_of_days():
    import datetime as dt

    from onboarding_analysis.data.contract import IMPLAUSIBLE_GAP_DAYS
    from onboarding_analysis.data.scan import _main_block

    day = dt.date(2024, 1, 1)
    days = [dt.date(1970, 1, 1), day, day + dt.timedelta(days=1), day + dt.timedelta(days=400)]
    assert _main_block(days) == days[1:3]
    close = [day, day + dt.timedelta(days=IMPLAUSIBLE_GAP_DAYS)]
    assert _main_block(close) == close  # a gap of exactly the limit is not a break


# --- ids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "  ", "NaN", "nan", "NULL", "None", "undefined"])
def test_null_tokens_are_missing_user_ids(write_csv, token):
    rows = [
        {"user_id": "u1", "event": "signed_up", "timestamp": "2024-01-01T00:00:00Z"},
        {"user_id": token, "event": "x", "timestamp": "2024-01-01T00:00:00Z"},
    ]
    with data_warnings() as messages:
        facts = compute_facts(validate_params({"events": write_csv(rows), "value_events": []}))
    one_warning(messages, "1 event row excluded as 'missing user id'")
    assert facts.accounting.excluded == {"missing user id": 1}
    assert facts.accounting.users_excluded == {}


def test_parquet_ids_integers_floats_and_decimals(tmp_path):
    base = {"event": ["signed_up", "signed_up"], "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"])}
    pd.DataFrame({"user_id": [7, 42], **base}).to_parquet(tmp_path / "int.parquet")
    facts = compute_facts(validate_params({"events": str(tmp_path / "int.parquet"), "value_events": []}))
    assert facts.table[C.USER_ID].tolist() == ["7", "42"]
    pd.DataFrame({"user_id": [7.0, 42.0], **base}).to_parquet(tmp_path / "float.parquet")
    with data_warnings() as messages:
        facts = compute_facts(
            validate_params({"events": str(tmp_path / "float.parquet"), "value_events": []})
        )
    one_warning(messages, r"stores ids as floating-point numbers \(e\.g\. (7|42)\.0\)")
    assert facts.table[C.USER_ID].tolist() == ["7", "42"]
    pd.DataFrame({"user_id": [7.5, 42.0], **base}).to_parquet(tmp_path / "decimal.parquet")
    with pytest.raises(DataError, match=r"holds user ids with decimals \(e\.g\. 7\.5\)"):
        load(validate_params({"events": str(tmp_path / "decimal.parquet")}))


def test_users_table_ids_written_differently_are_an_error(write_csv):
    events = write_csv([{"user_id": "7", "event": "signed_up", "timestamp": "2024-01-01T00:00:00Z"}])
    users = write_csv([{"user_id": "007", "signup_at": "2024-01-01"}], name="users.csv")
    with pytest.raises(
        DataError, match=r"users\.csv: user ids are written differently.*users '007', events '7'"
    ):
        compute_facts(validate_params({"events": events, "users": users, "value_events": []}))
    other = write_csv([{"user_id": "x9", "signup_at": "2024-01-01"}], name="other.csv")
    facts = compute_facts(validate_params({"events": events, "users": other, "value_events": []}))
    assert sorted(facts.table[C.USER_ID]) == ["7", "x9"]  # no match: allowed (x9 never came back)
    # Blanks, case and a trailing .0 are ignored too; a users-table id with events is never lone.
    mixed = write_csv(
        [
            {"user_id": "AB1", "event": "signed_up", "timestamp": "2024-01-01T00:00:00Z"},
            {"user_id": "7", "event": "signed_up", "timestamp": "2024-01-01T00:00:00Z"},
        ],
        name="mixed.csv",
    )
    spaced = write_csv(
        [{"user_id": "7", "signup_at": "2024-01-01"}, {"user_id": " ab1.0", "signup_at": "2024-01-01"}],
        name="spaced.csv",
    )
    with pytest.raises(
        DataError, match=r"spaced\.csv: user ids are written differently.*users ' ab1\.0', events 'AB1'"
    ):
        compute_facts(validate_params({"events": mixed, "users": spaced, "value_events": []}))


def test_glob_files_each_need_the_mapped_columns(tmp_path):
    (tmp_path / "a.csv").write_text("user_id,event,timestamp\nu1,signed_up,2024-01-01\n")
    (tmp_path / "b.csv").write_text("event,timestamp,user_id\nx,2024-01-02,u1\n")
    source = load(validate_params({"events": str(tmp_path / "*.csv")}))
    assert sorted(source.files.values()) == [1, 1]
    (tmp_path / "c.csv").write_text("event,timestamp\nx,2024-01-02\n")
    with pytest.raises(DataError, match=r"c\.csv: missing column 'user_id'"):
        load(validate_params({"events": str(tmp_path / "*.csv")}))
