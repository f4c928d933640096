"""One small canonical dataset, written as the canonical CSV and in each vendor's export shape.

The vendor-equivalence tests (tests/test_sources.py) read every shape and compare its facts
and metrics with those of the canonical CSV of the same users. The dataset (:func:`dataset`)
is written by hand, not by the package: 8 users over three weeks of March 2024, signups,
onboarding steps, a valued event, a plan per user; u7 has events before logging in (anonymous,
attributed once the device logs in); one anonymous device never logs in (rows without a user).

The writers add what a real export has and the canonical CSV has not: rows repeated across
files (exports overlap), vendor housekeeping events, UUID-looking ids, and each vendor's time
format. Every such row is a counted exclusion, listed in :data:`EXTRA`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
import uuid
import zipfile
import zoneinfo
from pathlib import Path

import pandas as pd

UTC = dt.UTC
#: Mixpanel project time zone of the pre-2023 project fixture (DST starts 2024-03-10 there).
MIXPANEL_ZONE = "America/Los_Angeles"
#: Rows every vendor file adds beyond the canonical events, each excluded under a reason.
EXTRA = {"duplicate event": 3}
#: Params shared by every run of the dataset (the canonical one and every vendor's).
PARAMS = {
    "client": "acme",
    "signup_event": "signed_up",
    "value_events": ["created_report"],
    "onboarding_steps": ["signed_up", "completed_profile", "created_report"],
    "segments": ["plan"],
    "min_segment_size": 2,
    "retention_days": [1, 7],
    "observation_end": "2024-03-20",
    "inactivity_days": 7,
}

_PLAN = {
    "u1": "pro",
    "u2": "free",
    "u3": "pro",
    "u4": "free",
    "u5": "pro",
    "u6": "free",
    "u7": "pro",
    "u8": "free",
}


#: A second user property, in the users exports only (PostHog persons, Segment identifies): a
#: segment candidate that init must find there (it is in no event).
ROLE = {
    "u1": "admin",
    "u2": "member",
    "u3": "member",
    "u4": "admin",
    "u5": "member",
    "u6": "member",
    "u7": "admin",
    "u8": "member",
}


#: How many copies of the 8 users :func:`dataset` writes (1: the hand-counted dataset). The
#: end-to-end init tests (tests/test_init_end_to_end.py) write 12 copies, 96 users, so every
#: section of a report has users to show.
COPIES = 1


def base_user(user: str) -> str:
    """The hand-written user a copy's user stands for (``u3c5`` -> ``u3``)."""
    return re.sub(r"c\d+$", "", user)


def dataset(copies: int | None = None) -> pd.DataFrame:
    """The canonical events: ``user_id`` (None: an anonymous device), ``event``, ``ts`` (UTC,
    microseconds), ``value`` (text or None), ``plan``, ``device`` (the device id, for vendors).

    ``copies`` (default :data:`COPIES`): copy ``k >= 1`` adds the 8 users again as ``u1ck``, ...,
    shifted by ``k % 4`` days and with another user of the copy keeping on (``(i + k) % 7``)."""
    rows: list[tuple] = []

    def add(user, device, day, hour, minute, event, value=None, micro=0):
        ts = dt.datetime(2024, 3, day, hour, minute, 0, micro, tzinfo=UTC)
        rows.append((user, event, ts, value, _PLAN.get(base_user(user)) if user else None, device))

    for k in range(COPIES if copies is None else copies):
        tag, shift = ("", 0) if k == 0 else (f"c{k}", k % 4)
        for i, base in enumerate(["u1", "u2", "u3", "u4", "u5", "u6", "u8"]):
            user, j = base + tag, (i + k) % 7
            day = 1 + 2 * i + shift
            dev = f"d{user}"
            add(user, dev, day, 9, 5, "signed_up", micro=123000)  # ms: Mixpanel time_in_ms
            add(user, dev, day, 9, 30, "completed_profile")
            if j % 2 == 0:
                add(user, dev, day, 11, 0, "created_report", value=str(10 * (i + 1)))
                add(user, dev, day + 1, 10, 15, "session_start")
            if j in (0, 1, 4):
                add(user, dev, day + 3, 8, 45, "session_start")
                add(user, dev, day + 8, 20, 10, "used_dashboard", value="2.5")
        # u7: browses anonymously on its device, then signs up; the anonymous rows are u7's.
        u7 = "u7" + tag
        add(u7, "d" + u7, 9 + shift, 7, 0, "viewed_pricing")
        add(u7, "d" + u7, 9 + shift, 7, 20, "viewed_pricing")
        add(u7, "d" + u7, 9 + shift, 8, 0, "signed_up")
        add(u7, "d" + u7, 10 + shift, 12, 0, "created_report", value="35")
        # An anonymous device that never logs in: its row has no user.
        add(None, "dghost" + tag, 12 + shift, 13, 0, "viewed_pricing")
    frame = pd.DataFrame(rows, columns=["user_id", "event", "ts", "value", "plan", "device"])
    # u7's first two rows happen before login: vendors know them by the device only.
    frame["before_login"] = (frame["user_id"].map(lambda u: u and base_user(u)) == "u7") & (
        frame["event"] == "viewed_pricing"
    )
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


def write_canonical(folder: Path) -> Path:
    """The canonical CSV: ``user_id,event,timestamp,value,plan`` (ISO-8601 with ``Z``)."""
    data = dataset()
    out = pd.DataFrame(
        {
            "user_id": data["user_id"].fillna(""),
            "event": data["event"],
            "timestamp": data["ts"].map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
            "value": data["value"].fillna(""),
            "plan": data["plan"].fillna(""),
        }
    )
    path = folder / "events.csv"
    out.to_csv(path, index=False)
    return path


def _uuid(i: int) -> str:
    return str(uuid.UUID(int=0x6F1C4B8E_0000_4A5B_9C3D_000000000000 + i))


def _gzip_lines(lines: list[dict]) -> bytes:
    text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
    return gzip.compress(text.encode(), mtime=0)


# --- Amplitude ------------------------------------------------------------------------------


def amplitude_lines() -> list[dict]:
    """One Export API object per canonical row (plus a ``$identify``-like housekeeping row)."""
    data = dataset()
    ids = {dev: 900_000_000_000 + n for n, dev in enumerate(sorted(data["device"].unique()))}
    lines = []
    for i, row in data.iterrows():
        known = row["user_id"] is not None and not row["before_login"]
        lines.append(
            {
                "event_type": row["event"],
                "event_time": row["ts"].strftime("%Y-%m-%d %H:%M:%S.%f"),
                "client_event_time": row["ts"].strftime("%Y-%m-%d %H:%M:%S.%f"),
                "server_upload_time": (row["ts"] + dt.timedelta(seconds=3)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                "user_id": row["user_id"] if known else None,
                "device_id": row["device"],
                "amplitude_id": ids[row["device"]],
                "uuid": _uuid(i),
                "$insert_id": f"ins-{i}",
                "user_properties": {"plan": row["plan"]} if known else {},
                "event_properties": {} if row["value"] is None else {"value": json.loads(row["value"])},
                "groups": {},
            }
        )
    return lines


def write_amplitude(folder: Path) -> Path:
    """The Export API's zip: hourly ``<project>_<date>_<hour>#0.json.gz`` files; the first three
    rows are repeated in the next hour's file (exports overlap), as :data:`EXTRA` counts."""
    lines = amplitude_lines()
    by_hour: dict[str, list[dict]] = {}
    for line in lines:
        t = dt.datetime.fromisoformat(line["event_time"])
        by_hour.setdefault(f"123_{t:%Y-%m-%d}_{t.hour}#0.json.gz", []).append(line)
    names = sorted(by_hour)
    by_hour[names[1]] = by_hour[names[1]] + lines[:3]
    path = folder / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(f"123/{name}", _gzip_lines(by_hour[name]))
    return path


# --- Mixpanel -------------------------------------------------------------------------------


def mixpanel_lines(*, project_zone: str | None = None, milliseconds: bool = False) -> list[dict]:
    """Raw export objects. ``project_zone``: a pre-2023 project, whose ``time`` is the wall
    clock in that zone written as if it were UTC. ``milliseconds``: ``time`` in ms (integers)."""
    data = dataset()
    zone = zoneinfo.ZoneInfo(project_zone) if project_zone else None
    lines = []
    for i, row in data.iterrows():
        ts = row["ts"]
        if zone is not None:
            ts = ts.astimezone(zone).replace(tzinfo=UTC)
        seconds = ts.timestamp()
        time = round(seconds * 1000) if milliseconds else seconds
        known = row["user_id"] is not None and not row["before_login"]
        props = {
            "time": time,
            "distinct_id": row["user_id"] if known else f"$device:{row['device']}",
            "$device_id": row["device"],
            "$insert_id": f"{_uuid(i)}",
            "mp_processing_time_ms": 1_710_000_000_000 + i,
        }
        if known:
            props["$user_id"] = row["user_id"]
            props["plan"] = row["plan"]
        if row["value"] is not None:
            props["value"] = json.loads(row["value"])
        lines.append({"event": row["event"], "properties": props})
    return lines


def write_mixpanel(folder: Path, *, project_zone: str | None = None, milliseconds: bool = False) -> Path:
    """A raw export JSONL file; the first three lines are repeated at the end (as exports
    of overlapping ranges are concatenated), as :data:`EXTRA` counts."""
    lines = mixpanel_lines(project_zone=project_zone, milliseconds=milliseconds)
    lines = lines + lines[:3]
    path = folder / "mixpanel.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def zip_of(folder: Path, files: dict[str, bytes]) -> Path:
    """A zip holding ``files`` (name -> bytes), for the bad-shape tests."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, blob in files.items():
            archive.writestr(name, blob)
    path = folder / "other.zip"
    path.write_bytes(buffer.getvalue())
    return path


# --- PostHog --------------------------------------------------------------------------------


def posthog_events() -> pd.DataFrame:
    """The events model of a batch export. u7's anonymous rows carry the stale ``person_id`` of
    its anonymous person (PostHog never rewrites it after the merge); the anonymous device's row
    has an empty ``distinct_id`` and no person."""
    data = dataset()
    rows = []
    for i, row in data.iterrows():
        if row["user_id"] is None:
            distinct, person = "", None
        elif row["before_login"]:
            copy = row["user_id"][len("u7c") :] if row["user_id"] != "u7" else "0"
            distinct, person = f"anon-{row['device']}", f"0190a000-0000-7000-8000-{int(copy):08d}a7a7"
        else:
            distinct, person = row["user_id"], row["user_id"]
        props = {"$device_id": row["device"]}
        if row["value"] is not None:
            props["value"] = json.loads(row["value"])
        rows.append(
            {
                "uuid": _uuid(i),
                "event": row["event"],
                "distinct_id": distinct,
                "person_id": person,
                "properties": json.dumps(props),
                "person_properties": json.dumps({"plan": row["plan"]}),
                "timestamp": row["ts"],
                "team_id": 1,
            }
        )
    frame = pd.DataFrame(rows)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).astype("datetime64[us, UTC]")
    return frame


def posthog_persons() -> pd.DataFrame:
    """The persons model: one row per distinct id; u7's anonymous id merged into u7."""
    data = dataset()
    signups = data[data["event"] == "signed_up"].set_index("user_id")["ts"]
    rows = []
    for user, created in signups.items():
        props = json.dumps(
            {"plan": _PLAN[base_user(user)], "role": ROLE[base_user(user)], "$initial_os": "Mac OS X"}
        )
        rows.append({"distinct_id": user, "person_id": user, "created_at": created, "properties": props})
        if base_user(user) == "u7":
            rows.append(
                {"distinct_id": f"anon-d{user}", "person_id": user, "created_at": created, "properties": "{}"}
            )
    frame = pd.DataFrame(rows)
    frame["created_at"] = pd.to_datetime(frame["created_at"]).astype("datetime64[us, UTC]")
    return frame


def write_posthog(folder: Path, *, fmt: str = "parquet") -> tuple[Path, Path]:
    """The events export (two files; the first three rows repeated in the second) and the
    persons export, as Parquet (``properties`` a JSON string) or JSON lines (nested)."""
    events = posthog_events()
    parts = [events.iloc[:15], pd.concat([events.iloc[15:], events.iloc[:3]])]
    out = folder / "posthog"
    out.mkdir(exist_ok=True)
    persons = posthog_persons()
    if fmt == "parquet":
        for i, part in enumerate(parts):
            part.to_parquet(out / f"events-{i}.parquet", index=False)
        persons.to_parquet(folder / "persons.parquet", index=False)
        return out, folder / "persons.parquet"
    for i, part in enumerate(parts):
        lines = []
        for rec in part.to_dict("records"):
            rec = dict(rec, properties=json.loads(rec["properties"]), timestamp=rec["timestamp"].isoformat())
            rec["person_properties"] = json.loads(rec["person_properties"])
            lines.append(json.dumps(rec))
        (out / f"events-{i}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    person_lines = [
        json.dumps(
            dict(rec, created_at=rec["created_at"].isoformat(), properties=json.loads(rec["properties"]))
        )
        for rec in persons.to_dict("records")
    ]
    (folder / "persons.jsonl").write_text("\n".join(person_lines) + "\n", encoding="utf-8")
    return out, folder / "persons.jsonl"


# --- Segment --------------------------------------------------------------------------------


def segment_tracks() -> pd.DataFrame:
    """The warehouse ``tracks`` table: u7's pre-login rows and the anonymous device's row have
    no ``user_id``; ``original_timestamp`` is a device clock 90 s off (never read)."""
    data = dataset()
    rows = []
    for i, row in data.iterrows():
        known = row["user_id"] is not None and not row["before_login"]
        rows.append(
            {
                "id": _uuid(i),
                "anonymous_id": row["device"],
                "user_id": row["user_id"] if known else None,
                "event": row["event"],
                "event_text": row["event"],
                "timestamp": row["ts"],
                "original_timestamp": row["ts"] - dt.timedelta(seconds=90),
                "received_at": row["ts"] + dt.timedelta(seconds=2),
                "plan": row["plan"] if known else None,
                "value": row["value"],
            }
        )
    frame = pd.DataFrame(rows)
    for c in ("timestamp", "original_timestamp", "received_at"):
        frame[c] = pd.to_datetime(frame[c]).astype("datetime64[us, UTC]")
    return frame


def segment_identifies() -> pd.DataFrame:
    """The ``identifies`` table: each user identified at signup, from its device, with traits."""
    data = dataset()
    signups = data[data["event"] == "signed_up"]
    frame = pd.DataFrame(
        {
            "id": [f"idf-{u}" for u in signups["user_id"]],
            "anonymous_id": signups["device"].to_list(),
            "user_id": signups["user_id"].to_list(),
            "timestamp": signups["ts"].to_list(),
            "created_at": signups["ts"].to_list(),
            "plan": [_PLAN[base_user(u)] for u in signups["user_id"]],
            "role": [ROLE[base_user(u)] for u in signups["user_id"]],
            "context_library_name": "analytics.js",
        }
    )
    for c in ("timestamp", "created_at"):
        frame[c] = pd.to_datetime(frame[c]).astype("datetime64[us, UTC]")
    return frame


def write_segment(folder: Path, *, archive: bool = False) -> tuple[Path, Path | None]:
    """The warehouse tables as Parquet (tracks in two files, the first three rows repeated in
    the second; identifies), or the S3 archive: gzipped camelCase JSON lines with the identify
    calls among the tracks (the first three tracks repeated in the second file)."""
    tracks = segment_tracks()
    out = folder / ("segment-archive" if archive else "segment")
    out.mkdir(exist_ok=True)
    parts = [tracks.iloc[:15], pd.concat([tracks.iloc[15:], tracks.iloc[:3]])]
    if not archive:
        for i, part in enumerate(parts):
            part.to_parquet(out / f"tracks-{i}.parquet", index=False)
        segment_identifies().to_parquet(folder / "identifies.parquet", index=False)
        return out, folder / "identifies.parquet"
    identify = [
        {
            "type": "identify",
            "messageId": r["id"],
            "anonymousId": r["anonymous_id"],
            "userId": r["user_id"],
            "timestamp": r["timestamp"].isoformat(),
            "traits": {"plan": r["plan"], "role": r["role"]},
        }
        for r in segment_identifies().to_dict("records")
    ]
    for i, part in enumerate(parts):
        lines = [] if i else list(identify)
        for r in part.to_dict("records"):
            message = {
                "type": "track",
                "messageId": r["id"],
                "anonymousId": r["anonymous_id"],
                "event": r["event"],
                "timestamp": r["timestamp"].isoformat(),
                "originalTimestamp": r["original_timestamp"].isoformat(),
                "properties": {} if r["value"] is None else {"value": json.loads(r["value"])},
            }
            if r["user_id"] is not None:
                message["userId"] = r["user_id"]
            lines.append(message)
        (out / f"{i:04d}.gz").write_bytes(_gzip_lines(lines))
    return out, None


# --- GA4 ------------------------------------------------------------------------------------


def _ga4_value(text: str) -> dict:
    number = json.loads(text)
    whole = isinstance(number, int)
    return {
        "string_value": None,
        "int_value": number if whole else None,
        "double_value": None if whole else number,
    }


def ga4_rows() -> list[dict]:
    """BigQuery export rows: ``event_timestamp`` in microseconds; u7's pre-login rows have its
    pseudo id only; the anonymous device's row has an empty pseudo id (no user at all)."""
    data = dataset()
    rows = []
    for _, row in data.iterrows():
        known = row["user_id"] is not None and not row["before_login"]
        params = [
            {"key": "ga_session_id", "value": {"string_value": None, "int_value": 1, "double_value": None}}
        ]
        if row["value"] is not None:
            params.append({"key": "value", "value": _ga4_value(row["value"])})
        props = [
            {"key": "plan", "value": {"string_value": row["plan"], "int_value": None, "double_value": None}}
        ]
        rows.append(
            {
                "event_date": row["ts"].strftime("%Y%m%d"),
                "event_timestamp": int(row["ts"].timestamp() * 1_000_000),
                "event_name": row["event"],
                "event_params": params,
                "user_id": row["user_id"] if known else None,
                "user_pseudo_id": row["device"] if row["user_id"] is not None else "",
                "user_properties": props if known else [],
            }
        )
    return rows


def write_ga4(folder: Path, *, fmt: str = "parquet") -> Path:
    """The export in two files (the first three rows repeated in the second), as Parquet or as
    JSON lines with ``event_timestamp`` written as a string (as BigQuery writes INT64)."""
    rows = ga4_rows()
    parts = [rows[:15], rows[15:] + rows[:3]]
    out = folder / f"ga4-{fmt}"
    out.mkdir(exist_ok=True)
    for i, part in enumerate(parts):
        if fmt == "parquet":
            pd.DataFrame(part).to_parquet(out / f"events_2024030{i + 1}.parquet", index=False)
        else:
            text = "".join(
                json.dumps(dict(r, event_timestamp=str(r["event_timestamp"]))) + "\n" for r in part
            )
            (out / f"events_2024030{i + 1}.json").write_text(text, encoding="utf-8")
    return out


# --- Intercom -------------------------------------------------------------------------------

#: Receipts of the Intercom fixture: (user, content type, title, minutes after signup to
#: receipt, completion, dismissal, goal; None: not done).
INTERCOM = [
    ("u1", "Product Tour", "Welcome tour", 10, 14, None, None),
    ("u2", "Product Tour", "Welcome tour", 10, None, 12, None),
    ("u3", "Product Tour", "Welcome tour", 10, 20, None, 30),
    ("u2", "Checklist", "Get started", 60, None, None, None),
]


def intercom_events() -> pd.DataFrame:
    """The events the receipts mean, in canonical form (``user_id, event, ts``)."""
    data = dataset()
    signup = data[data["event"] == "signed_up"].set_index("user_id")["ts"]
    rows = []
    for user, kind, title, *minutes in INTERCOM:
        slug = kind.lower().replace(" ", "_")
        for action, m in zip(("shown", "completed", "dismissed", "goal"), minutes, strict=True):
            if m is not None:
                ts = (signup[user] + dt.timedelta(minutes=m)).replace(microsecond=0)
                rows.append((user, f"intercom_{slug}_{action}: {title}", ts))
    return pd.DataFrame(rows, columns=["user_id", "event", "ts"])


def write_intercom(folder: Path) -> tuple[Path, Path]:
    """The content data export's zip (a receipts CSV with Unix seconds) and the canonical CSV
    with the same events added (what the export must be equivalent to)."""
    data = dataset()
    signup = data[data["event"] == "signed_up"].set_index("user_id")["ts"]
    header = "user_id,user_external_id,company_id,email,content_type,content_title,received_at,first_completion,first_dismisall,first_goal_success\n"
    lines = []
    for i, (user, kind, title, *minutes) in enumerate(INTERCOM):
        times = [
            ""
            if m is None
            else str(int((signup[user] + dt.timedelta(minutes=m)).replace(microsecond=0).timestamp()))
            for m in minutes
        ]
        lines.append(f"ic{i},{user},-1,{user}@example.com,{kind},{title},{','.join(times)}\n")
    path = folder / "intercom.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("receipts.csv", header + "".join(lines))
    canonical = pd.read_csv(write_canonical(folder), dtype=str, keep_default_na=False)
    extra = intercom_events()
    extra = pd.DataFrame(
        {
            "user_id": extra["user_id"],
            "event": extra["event"],
            "timestamp": extra["ts"].map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
            "value": "",
            "plan": "",
        }
    )
    both = folder / "events-with-intercom.csv"
    pd.concat([canonical, extra]).to_csv(both, index=False)
    return path, both


def write_posthog_csv(folder: Path) -> Path:
    """The UI's CSV export of the events (``*.``-prefixed headers, properties flattened); no
    ``*.person_id`` column, as when the export leaves persons out."""
    events = posthog_events()
    rows = []
    for rec in events.to_dict("records"):
        props = json.loads(rec["properties"])
        rows.append(
            {
                "*.uuid": rec["uuid"],
                "*.event": rec["event"],
                "*.distinct_id": rec["distinct_id"],
                "*.timestamp": rec["timestamp"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "*.properties.$device_id": props.get("$device_id", ""),
                "*.properties.value": "" if "value" not in props else json.dumps(props["value"]),
            }
        )
    path = folder / "posthog-export.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path
