"""Vendor exports: the same users in each vendor's shape give the canonical CSV's facts.

tests/vendor_exports.py writes one hand-made dataset as the canonical CSV and in each vendor's
real shape (field names, nesting, time formats, files, repeated rows, pre-login events); every
shape must give exactly the canonical facts table, the same used events, and the same row
accounting plus the vendor's own counted extras (rows repeated across files).
"""

from __future__ import annotations

import gzip
import json
import warnings

import pandas as pd
import pytest
import vendor_exports as vx

from onboarding_analysis.analyses.retention import nday_retention
from onboarding_analysis.data.pipeline import compute_facts
from onboarding_analysis.errors import DataError, DataWarning, ParamsError
from onboarding_analysis.params import validate_params


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    monkeypatch.setenv("ONBOARDING_ANALYSIS_CACHE", "off")


def facts_of(events, **params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        facts = compute_facts(validate_params({**vx.PARAMS, "events": str(events), **params}))
    return facts, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


@pytest.fixture(scope="module")
def canonical(tmp_path_factory):
    folder = tmp_path_factory.mktemp("canonical")
    facts, _ = facts_of(vx.write_canonical(folder))
    return facts


def used_events(facts) -> pd.DataFrame:
    e = facts.events.select("user_id", "event", "ts").to_pandas()
    return e.sort_values(["user_id", "ts", "event"]).reset_index(drop=True)


def assert_same_facts(vendor, canonical, extra=vx.EXTRA):
    """The vendor run equals the canonical one: facts, used events, metrics, accounting."""
    pd.testing.assert_frame_equal(
        vendor.table.sort_values("user_id").reset_index(drop=True),
        canonical.table.sort_values("user_id").reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(used_events(vendor), used_events(canonical))
    pd.testing.assert_frame_equal(
        nday_retention(vendor.table, [1, 7]), nday_retention(canonical.table, [1, 7])
    )
    va, ca = vendor.accounting, canonical.accounting
    assert va.events_used == ca.events_used
    assert va.events_read == ca.events_read + sum(extra.values())
    expected = dict(ca.excluded)
    for reason, n in extra.items():
        expected[reason] = expected.get(reason, 0) + n
    assert dict(va.excluded) == expected
    assert va.users == ca.users and dict(va.users_excluded) == dict(ca.users_excluded)
    assert sum(va.files.values()) == va.events_read
    assert vendor.observation_end == canonical.observation_end


def test_the_canonical_dataset_as_written(canonical):
    """Hand counts: 7 users x 2 rows (signup, profile) + 4 x 2 (report, session) + 3 x 2 (later
    session, dashboard) + u7's 4 + 1 anonymous row = 33 rows; 8 users analysed."""
    data = vx.dataset()
    assert len(data) == 33 and data["user_id"].isna().sum() == 1
    acc = canonical.accounting
    assert (acc.events_read, acc.users) == (33, 8)
    # u7's two page views before its signup count as 'before signup' (they are u7's).
    assert dict(acc.excluded) == {"missing user id": 1, "before signup": 2}
    assert sorted(canonical.table["user_id"]) == [f"u{i}" for i in range(1, 9)]


# --- Amplitude ----------------------------------------------------------------------------------


def test_amplitude_zip_gives_the_canonical_facts(canonical, tmp_path):
    facts, messages = facts_of(vx.write_amplitude(tmp_path), source="amplitude")
    assert_same_facts(facts, canonical)
    files = facts.accounting.files
    assert all("/123/123_2024-03-" in f and f.endswith("#0.json.gz") for f in files)
    assert any("3 event rows excluded as 'duplicate event'" in m for m in messages)
    # u7's two pre-login page views (no user_id, u7's amplitude_id) are u7's: 'before signup'
    # (as in the canonical log), not 'missing user id'.
    assert facts.accounting.excluded["before signup"] == 2


def test_amplitude_folder_and_glob_read_alike(canonical, tmp_path):
    import zipfile

    with zipfile.ZipFile(vx.write_amplitude(tmp_path)) as archive:
        archive.extractall(tmp_path / "unzipped")
    folder, _ = facts_of(tmp_path / "unzipped", source="amplitude")
    assert_same_facts(folder, canonical)
    glob, _ = facts_of(tmp_path / "unzipped" / "123" / "*.json.gz", source="amplitude")
    assert_same_facts(glob, canonical)


def test_amplitude_ids_stay_text_and_plan_comes_from_user_properties(tmp_path):
    lines = vx.amplitude_lines()
    for line in lines:  # user ids that look like UUIDs and numbers
        if line["user_id"]:
            line["user_id"] = {"u1": "00000000-0000-4000-8000-000000000001", "u2": "0042"}.get(
                line["user_id"], line["user_id"]
            )
    path = tmp_path / "1_2024-03-01_0#0.json.gz"
    path.write_bytes(vx._gzip_lines(lines))
    facts, _ = facts_of(path, source="amplitude")
    ids = set(facts.table["user_id"])
    assert {"00000000-0000-4000-8000-000000000001", "0042"} <= ids
    plans = facts.table.set_index("user_id")["plan"]
    assert plans["0042"] == "free" and plans["00000000-0000-4000-8000-000000000001"] == "pro"


def test_amplitude_falls_back_to_client_event_time_and_groups_give_accounts(tmp_path):
    lines = vx.amplitude_lines()
    for line in lines:
        line["groups"] = {"company": ["acme-" + (line["user_id"] or "x")[-1]], "team": "t1"}
    lines[0]["event_time"] = None  # the first row: only the client time
    path = tmp_path / "1_2024-03-01_0#0.json.gz"
    path.write_bytes(vx._gzip_lines(lines))
    facts, _ = facts_of(path, source="amplitude", account_group="company")
    assert facts.accounting.excluded == {"missing user id": 1, "before signup": 2}
    accounts = facts.events.select("user_id", "account_id").distinct().to_pandas().dropna()
    assert dict(zip(accounts.user_id, accounts.account_id, strict=True))["u3"] == "acme-3"


def test_amplitude_housekeeping_events_are_not_activity(tmp_path):
    lines = vx.amplitude_lines()
    late = dict(lines[-2], event_type="$identify", uuid="extra-1", event_time="2024-03-19 23:00:00.000000")
    path = tmp_path / "1_2024-03-01_0#0.json.gz"
    path.write_bytes(vx._gzip_lines([*lines, late]))
    facts, _ = facts_of(path, source="amplitude")
    user = late["user_id"]
    before = facts.table.set_index("user_id").loc[user, "last_active_days"]
    counted, _ = facts_of(path, source="amplitude", active_events=["$identify", "session_start"])
    after = counted.table.set_index("user_id").loc[user, "last_active_days"]
    assert after > before  # only with active_events does the late $identify count


def test_amplitude_bad_shapes(tmp_path):
    other = vx.zip_of(tmp_path, {"report.csv": b"a,b\n1,2\n"})
    with pytest.raises(
        DataError, match=r"other\.zip: the zip holds no .*json.* file \(it holds report\.csv\)"
    ):
        facts_of(other, source="amplitude")
    cut = tmp_path / "1_2024-03-01_0#0.json.gz"
    text = "".join(json.dumps(line) + "\n" for line in vx.amplitude_lines()[:3])
    cut.write_bytes(gzip.compress(text[: len(text) - 40].encode()))
    with pytest.raises(
        DataError, match=r"1_2024-03-01_0#0\.json\.gz: line \d+ is not one complete JSON object"
    ):
        facts_of(cut, source="amplitude")
    with pytest.raises(
        ParamsError, match="key 'source': value 'amplitud' is invalid: expected one of canonical, amplitude"
    ):
        facts_of(cut, source="amplitud")


# --- Mixpanel -----------------------------------------------------------------------------------


@pytest.mark.parametrize("milliseconds", [False, True], ids=["seconds", "milliseconds"])
def test_mixpanel_export_gives_the_canonical_facts(canonical, tmp_path, milliseconds):
    facts, messages = facts_of(vx.write_mixpanel(tmp_path, milliseconds=milliseconds), source="mixpanel")
    assert_same_facts(facts, canonical)
    assert any("3 event rows excluded as 'duplicate event'" in m for m in messages)


def test_mixpanel_pre_2023_project_time_zone(canonical, tmp_path):
    """Times written as Los Angeles wall clock (PST, then PDT from 2024-03-10) come back to UTC
    with mixpanel_project_timezone; without it every event is 7 or 8 hours off."""
    path = vx.write_mixpanel(tmp_path, project_zone=vx.MIXPANEL_ZONE)
    facts, _ = facts_of(path, source="mixpanel", mixpanel_project_timezone=vx.MIXPANEL_ZONE)
    assert_same_facts(facts, canonical)
    shifted, _ = facts_of(path, source="mixpanel")

    def signup(facts, user):
        e = used_events(facts)
        return e[(e.user_id == user) & (e.event == "signed_up")]["ts"].iloc[0]

    assert signup(canonical, "u1") - signup(shifted, "u1") == pd.Timedelta(hours=8)  # 03-01: PST, UTC-8
    assert signup(canonical, "u6") - signup(shifted, "u6") == pd.Timedelta(hours=7)  # 03-11: PDT, UTC-7


def test_mixpanel_identity_from_user_id_then_device(tmp_path):
    """u7's pre-login rows (distinct_id $device:du7, no $user_id) are u7's, through the device."""
    facts, _ = facts_of(vx.write_mixpanel(tmp_path), source="mixpanel")
    assert facts.accounting.excluded["before signup"] == 2
    assert "$device:dghost" not in set(facts.table["user_id"])
    assert facts.accounting.excluded["missing user id"] == 1


def test_mixpanel_bad_shapes(tmp_path):
    lines = vx.mixpanel_lines()
    path = tmp_path / "mixpanel.jsonl"
    path.write_text(
        "".join(json.dumps(line) + "\n" for line in lines) + "terminated early\n", encoding="utf-8"
    )
    with pytest.raises(
        DataError, match=r"mixpanel\.jsonl: line \d+ is not one complete JSON object.*terminated early"
    ):
        facts_of(path, source="mixpanel")
    path.write_text("".join(json.dumps(line) + "\n" for line in lines)[:-30], encoding="utf-8")
    with pytest.raises(DataError, match=r"mixpanel\.jsonl: line \d+ is not one complete JSON object"):
        facts_of(path, source="mixpanel")
    for line in lines:
        line["properties"]["time"] = "soon"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(DataError, match=r"properties\.time holds None \(median\), not Unix time"):
        facts_of(path, source="mixpanel")


# --- PostHog ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_posthog_batch_export_with_persons_gives_the_canonical_facts(canonical, tmp_path, fmt):
    events, persons = vx.write_posthog(tmp_path, fmt=fmt)
    facts, messages = facts_of(events, source="posthog", users=str(persons))
    assert_same_facts(facts, canonical)
    assert any("3 event rows excluded as 'duplicate event'" in m for m in messages)
    # t0 is the signup event, as for every source: created_at is only the fallback of persons
    # without events (there are none here).
    assert facts.accounting.users_summary["t0_signup_event"] == 8
    assert facts.accounting.users_summary["t0_signup_at"] == 0


def _t0(facts) -> dict:
    return facts.table.set_index("user_id")["t0"].to_dict()


@pytest.mark.parametrize("signup_event", ["signed_up", None], ids=["signup-event", "first-event"])
def test_posthog_created_at_is_the_signup_fallback_only(canonical, tmp_path, signup_event):
    """u1's person was created 2 days before its first event, u2's has no created_at, u3 has no
    persons row: their t0 is still the signup event (or first event), as in the canonical log.
    p9 (created 2024-03-05, no event) takes its created_at; p10, created before the export's
    first event and without events, has no signup time (its events lie outside the export)."""
    events, _ = vx.write_posthog(tmp_path)
    persons = vx.posthog_persons()
    first = vx.dataset()["ts"].min()
    persons.loc[persons.distinct_id == "u1", "created_at"] -= pd.Timedelta(days=2)
    persons.loc[persons.distinct_id == "u2", "created_at"] = pd.NaT
    persons = persons[persons.distinct_id != "u3"]
    lone = pd.DataFrame(
        {
            "distinct_id": ["p9", "p10"],
            "person_id": ["p9", "p10"],
            "created_at": pd.to_datetime(["2024-03-05T06:00:00Z", "2024-01-02T00:00:00Z"]).astype(
                "datetime64[us, UTC]"
            ),
            "properties": ["{}", "{}"],
        }
    )
    pd.concat([persons, lone]).to_parquet(tmp_path / "persons.parquet", index=False)
    assert persons.loc[persons.distinct_id == "u1", "created_at"].iloc[0] < first
    facts, _ = facts_of(
        events, source="posthog", users=str(tmp_path / "persons.parquet"), signup_event=signup_event
    )
    expected, _ = facts_of(vx.write_canonical(tmp_path), signup_event=signup_event)
    t0 = _t0(facts)
    for user, when in _t0(expected).items():  # u1..u8, the hand-written log's t0
        assert t0[user] == when, user
    assert t0["p9"] == pd.Timestamp("2024-03-05 06:00:00")
    assert "p10" not in t0
    assert facts.accounting.users_excluded == {"user without signup time": 1}
    summary = facts.accounting.users_summary
    assert summary["t0_signup_at"] == 1  # p9 only


def test_posthog_without_persons_keeps_merged_persons_apart(tmp_path):
    """The stale person_id of u7's anonymous rows makes them another user without the persons
    export: a ninth 'user', whose first event is its t0 (no signup event)."""
    events, _ = vx.write_posthog(tmp_path)
    facts, _ = facts_of(events, source="posthog")
    assert len(facts.table) == 9
    assert "0190a000-0000-7000-8000-00000000a7a7" in set(facts.table["user_id"])
    assert facts.accounting.excluded.get("before signup", 0) == 0


def test_posthog_bad_shapes(tmp_path):
    frame = vx.posthog_events().drop(columns=["distinct_id"])
    frame.to_parquet(tmp_path / "events.parquet", index=False)
    with pytest.raises(
        DataError, match=r"events\.parquet: missing column 'distinct_id' of PostHog's batch export"
    ):
        facts_of(tmp_path / "events.parquet", source="posthog")


# --- Segment ------------------------------------------------------------------------------------


def test_segment_warehouse_tables_give_the_canonical_facts(canonical, tmp_path):
    tracks, identifies = vx.write_segment(tmp_path)
    facts, messages = facts_of(tracks, source="segment", users=str(identifies))
    assert_same_facts(facts, canonical)
    assert any("3 event rows excluded as 'duplicate event'" in m for m in messages)
    # Without identifies, u7's anonymous rows still link through a tracks row carrying both ids.
    alone, _ = facts_of(tracks, source="segment")
    assert_same_facts(alone, canonical)


def test_segment_created_at_trait_is_the_signup_time(canonical, tmp_path):
    """Unlike PostHog's person created_at, the created_at trait is the app's own account creation
    date (Segment's reserved trait createdAt): it is t0 ahead of the signup event. u1's account
    was created 2 days before its first tracked event; u2's identify call has no created_at."""
    tracks, _ = vx.write_segment(tmp_path)
    identifies = vx.segment_identifies()
    created = identifies.loc[identifies.user_id == "u1", "created_at"].iloc[0] - pd.Timedelta(days=2)
    identifies.loc[identifies.user_id == "u1", "created_at"] = created
    identifies.loc[identifies.user_id == "u2", "created_at"] = pd.NaT
    identifies.to_parquet(tmp_path / "identifies.parquet", index=False)
    facts, _ = facts_of(tracks, source="segment", users=str(tmp_path / "identifies.parquet"))
    t0, expected = _t0(facts), _t0(canonical)
    assert t0["u1"] == created.tz_convert(None) != expected["u1"]
    assert {u: t for u, t in t0.items() if u != "u1"} == {u: t for u, t in expected.items() if u != "u1"}
    assert facts.accounting.users_summary["t0_signup_at"] == 7  # every user but u2


def test_segment_s3_archive_gives_the_canonical_facts(canonical, tmp_path):
    archive, _ = vx.write_segment(tmp_path, archive=True)
    facts, _ = facts_of(archive, source="segment")
    assert_same_facts(facts, canonical)


def test_segment_reads_timestamp_not_the_device_clock(tmp_path):
    tracks, _ = vx.write_segment(tmp_path)
    facts, _ = facts_of(tracks, source="segment")
    first = used_events(facts).iloc[0]
    assert first.ts == pd.Timestamp("2024-03-01 09:05:00.123")  # not original_timestamp, 90 s earlier


def test_segment_bad_shapes(tmp_path):
    vx.segment_tracks().drop(columns=["anonymous_id"]).to_parquet(tmp_path / "tracks.parquet", index=False)
    with pytest.raises(
        DataError, match=r"tracks\.parquet: missing column 'anonymous_id' of Segment's warehouse table"
    ):
        facts_of(tmp_path / "tracks.parquet", source="segment")


# --- GA4 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_ga4_bigquery_export_gives_the_canonical_facts(canonical, tmp_path, fmt):
    facts, messages = facts_of(vx.write_ga4(tmp_path, fmt=fmt), source="ga4")
    assert_same_facts(facts, canonical)
    assert any("3 event rows excluded as 'duplicate event'" in m for m in messages)


def test_ga4_values_come_from_event_params(tmp_path):
    facts, _ = facts_of(vx.write_ga4(tmp_path), source="ga4")
    values = (
        facts.events.filter(facts.events.event == "created_report").select("user_id", "value").to_pandas()
    )
    assert dict(zip(values.user_id, values.value, strict=True)) == {
        "u1": "10",
        "u3": "30",
        "u5": "50",
        "u8": "70",
        "u7": "35",
    }


def test_ga4_bad_shapes(tmp_path):
    pd.DataFrame(vx.ga4_rows()).drop(columns=["event_timestamp"]).to_parquet(
        tmp_path / "e.parquet", index=False
    )
    with pytest.raises(
        DataError, match=r"e\.parquet: missing column 'event_timestamp' of the GA4 BigQuery export"
    ):
        facts_of(tmp_path / "e.parquet", source="ga4")


# --- Intercom (a second input) ------------------------------------------------------------------


def test_intercom_export_adds_the_receipts_as_events(tmp_path):
    """The export beside the canonical log gives the facts of the log with the 8 receipt
    events written in by hand (3 tours shown, 2 completed, 1 dismissed, 1 goal, 1 checklist)."""
    export, both = vx.write_intercom(tmp_path)
    expected, _ = facts_of(both)
    facts, _ = facts_of(vx.write_canonical(tmp_path), intercom_export=str(export))
    assert_same_facts(facts, expected, extra={})
    assert len(vx.intercom_events()) == 8
    assert any(f.endswith("intercom.zip/receipts.csv") for f in facts.accounting.files)
    assert facts.accounting.files[next(f for f in facts.accounting.files if "receipts" in f)] == 8
    events = set(used_events(facts)["event"])
    assert {"intercom_product_tour_shown: Welcome tour", "intercom_checklist_shown: Get started"} <= events


def test_intercom_export_without_user_external_id_is_an_error(tmp_path):
    bad = vx.zip_of(
        tmp_path, {"receipts.csv": b"user_id,content_type,content_title,received_at\nx,Post,Hi,1709283900\n"}
    )
    with pytest.raises(
        DataError, match=r"other\.zip/receipts\.csv: missing column 'user_external_id' of Intercom"
    ):
        facts_of(vx.write_canonical(tmp_path), intercom_export=str(bad))


def test_posthog_ui_csv_export_with_persons_gives_the_canonical_facts(canonical, tmp_path):
    """The UI's CSV (no repeated rows here, no person_id): the persons export links u7's
    anonymous distinct id."""
    _, persons = vx.write_posthog(tmp_path)
    facts, _ = facts_of(vx.write_posthog_csv(tmp_path), source="posthog", users=str(persons))
    assert_same_facts(facts, canonical, extra={})


def test_posthog_csv_export_without_distinct_id_is_an_error(tmp_path):
    path = vx.write_posthog_csv(tmp_path)
    frame = pd.read_csv(path, dtype=str).drop(columns=["*.distinct_id"])
    frame.to_csv(path, index=False)
    with pytest.raises(
        DataError, match=r"posthog-export\.csv: missing column '\*\.distinct_id' of PostHog's CSV export"
    ):
        facts_of(path, source="posthog")


# --- Row defects named by the vendor's own fields -------------------------------------------


def _lines_file(tmp_path, name, lines, gz=False):
    path = tmp_path / name
    if gz:
        path.write_bytes(vx._gzip_lines(lines))
    else:
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def _amplitude(tmp_path):
    lines = vx.amplitude_lines()
    lines[5] = dict(lines[5], event_time=None, client_event_time="yesterday")
    return _lines_file(tmp_path, "1_2024-03-01_0#0.json.gz", lines, gz=True), {"source": "amplitude"}


def _mixpanel(tmp_path):
    lines = vx.mixpanel_lines()
    lines = lines + [json.loads(json.dumps(line)) for line in lines[:3]]  # overlapping exports
    lines[5]["properties"]["time"] = "soon"
    lines.append({"event": "x", "properties": {"time": lines[4]["properties"]["time"]}})
    return _lines_file(tmp_path, "mixpanel.jsonl", lines), {"source": "mixpanel"}


def _posthog_csv(tmp_path):
    path = vx.write_posthog_csv(tmp_path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[5, "*.timestamp"] = "not a time"
    frame.to_csv(path, index=False)
    return path, {"source": "posthog"}


def _posthog_jsonl(tmp_path):
    events, persons = vx.write_posthog(tmp_path, fmt="jsonl")
    first = events / "events-0.jsonl"
    lines = [json.loads(line) for line in first.read_text().splitlines()]
    lines[5]["timestamp"] = "not a time"
    _lines_file(events, "events-0.jsonl", lines)
    return events, {"source": "posthog", "users": str(persons)}


def _segment_archive(tmp_path):
    folder, _ = vx.write_segment(tmp_path, archive=True)
    path = folder / "0001.gz"
    lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]
    lines[2]["timestamp"] = "never"
    path.write_bytes(vx._gzip_lines(lines))
    return folder, {"source": "segment"}


def _segment_tracks(tmp_path):
    tracks, identifies = vx.write_segment(tmp_path)
    return tracks, {"source": "segment", "users": str(identifies)}


def _ga4(tmp_path):
    folder = vx.write_ga4(tmp_path, fmt="jsonl")
    path = folder / "events_20240301.json"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[5]["event_timestamp"] = "0x5"
    _lines_file(folder, "events_20240301.json", lines)
    return folder, {"source": "ga4"}


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        (
            _amplitude,
            [
                "1 event row excluded as 'unparseable timestamp': event_time is empty or unparseable, "
                "and so is client_event_time",
                "1 event row excluded as 'missing user id': user_id is empty and its amplitude_id carries "
                "no user_id on any other row",
            ],
        ),
        (
            _mixpanel,
            [
                "1 event row excluded as 'unparseable timestamp': properties.time is empty or not Unix "
                "time in seconds",
                "2 event rows excluded as 'missing user id': properties.distinct_id is empty (or the "
                "$device: id of a device that never logs in)",
                "3 event rows excluded as 'duplicate event': they repeat the event, properties.distinct_id, "
                "properties.time and properties.$insert_id of an earlier line",
            ],
        ),
        (
            _posthog_csv,
            [
                "1 event row excluded as 'unparseable timestamp': *.timestamp is empty or unparseable",
                "1 event row excluded as 'missing user id': *.distinct_id is empty and the row has no "
                "person (*.person_id empty, no persons export given)",
            ],
        ),
        (
            _posthog_jsonl,
            [
                "1 event row excluded as 'unparseable timestamp': timestamp is empty or unparseable",
                "1 event row excluded as 'missing user id': distinct_id is empty and the row has no "
                "person (person_id empty, no persons export row)",
                "3 event rows excluded as 'duplicate event': they repeat the uuid of an earlier row",
            ],
        ),
        (
            _segment_tracks,
            [
                "1 event row excluded as 'missing user id': user_id is empty and its anonymous_id is "
                "identified with no user_id",
                "3 event rows excluded as 'duplicate event': they repeat the id of an earlier row",
            ],
        ),
        (
            _segment_archive,
            [
                "1 event row excluded as 'unparseable timestamp': timestamp is empty or unparseable "
                "(original_timestamp is not read)",
                "1 event row excluded as 'missing user id': userId is empty and its anonymousId is "
                "identified with no userId",
                "they repeat the messageId of an earlier row",
            ],
        ),
        (
            _ga4,
            [
                "1 event row excluded as 'unparseable timestamp': event_timestamp is empty or not "
                "microseconds since 1970-01-01 UTC",
                "1 event row excluded as 'missing user id': user_id and user_pseudo_id are empty",
                "3 event rows excluded as 'duplicate event': they repeat the user_pseudo_id, event_name, "
                "event_timestamp and event_params of an earlier row",
            ],
        ),
    ],
    ids=["amplitude", "mixpanel", "posthog-csv", "posthog-jsonl", "segment", "segment-archive", "ga4"],
)
def test_row_defects_are_worded_with_the_vendors_fields(tmp_path, shape, expected):
    """Each export's broken rows (a time that cannot be read, the anonymous device's row without
    any user id, rows repeated across files) are counted under the canonical reason, and the
    warning names the vendor's field, never the canonical column ('timestamp', 'user_id')."""
    events, params = shape(tmp_path)
    _, messages = facts_of(events, **params)
    for text in expected:
        assert any(text in m for m in messages), (text, messages)
    assert not any("column 'user_id'" in m or "column 'timestamp'" in m for m in messages), messages


def test_an_intercom_receipt_without_user_external_id_is_named_beside_a_vendor_log(tmp_path):
    """Beside a Mixpanel export, the missing-user-id warning counts the anonymous device's line
    and the receipt without user_external_id (2 rows), naming both exports' fields."""
    receipts = (
        b"user_external_id,content_type,content_title,received_at\n"
        b"u1,Product Tour,Welcome tour,1709284500\n,Product Tour,Welcome tour,1709284600\n"
    )
    export = vx.zip_of(tmp_path, {"receipts.csv": receipts})
    _, messages = facts_of(vx.write_mixpanel(tmp_path), source="mixpanel", intercom_export=str(export))
    assert any(
        "2 event rows excluded as 'missing user id': properties.distinct_id is empty" in m
        and "an Intercom receipt counts here when its user_external_id is empty" in m
        for m in messages
    ), messages
