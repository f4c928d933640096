"""Write the input files of the catalogue of bad inputs (``tests/catalogue/<case>/``).

The committed files are the catalogue; this script is how they were made, and the only way to
remake the binary ones (Parquet, latin-1, gzip). The expected outcome of each case is in
``cases.yaml``, next to this file. Run from the repository root::

    .venv/bin/python tests/catalogue/build.py

Every case folder holds a ``params.yaml`` (relative paths start at the case folder) and its
input files.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent

HEADER = "user_id,event,timestamp\n"
#: A small clean log: 3 users, 6 rows, T = 2024-01-05 12:00 UTC.
GOOD = (
    "u1,signed_up,2024-01-01T00:00:00Z\n"
    "u1,session_start,2024-01-02T09:00:00Z\n"
    "u1,created_report,2024-01-03T10:00:00Z\n"
    "u2,signed_up,2024-01-02T00:00:00Z\n"
    "u2,session_start,2024-01-05T12:00:00Z\n"
    "u3,signed_up,2024-01-03T00:00:00Z\n"
)
GOOD_FRAME = pd.DataFrame(
    [line.split(",") for line in GOOD.strip().splitlines()], columns=["user_id", "event", "timestamp"]
)

HOSTILE_EVENTS = [
    "x'); DROP TABLE events; --",
    'say "hi"; SELECT 1',
    "$(rm -rf ~)",
    "`touch canary`",
    "<script>alert(1)</script>",
    "café ☕ 日本語",
    "a,b;c|d\tquoted",
    "{{ params }} %s {0}",
]


def _csv(rows: list[list[str]], header: list[str]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def cases() -> dict[str, dict]:
    """Case id -> {"files": {name: str | bytes | DataFrame | None}, "params": {...}}.

    A ``str`` is written as UTF-8 text, ``bytes`` as is, a DataFrame as Parquet, ``None`` makes
    a directory.
    """
    c: dict[str, dict] = {}

    def case(case_id: str, files: dict, **params) -> None:
        # Logs without the default value event say so (value_events: []), so that the only
        # "params events never seen" warnings in the catalogue are the ones a case is about.
        blobs = [
            v.encode() if isinstance(v, str) else v for v in files.values() if isinstance(v, str | bytes)
        ]
        text = b"".join(gzip.decompress(b) if b.startswith(b"\x1f\x8b") else b for b in blobs)
        frames = [v for v in files.values() if isinstance(v, pd.DataFrame)]
        has_value = b"created_report" in text or any((f["event"] == "created_report").any() for f in frames)
        defaults = {} if has_value else {"value_events": []}
        c[case_id] = {"files": files, "params": {"events": "events.csv", **defaults, **params}}

    # --- files and formats ------------------------------------------------------------------
    case("empty-file", {"events.csv": ""})
    case("header-only", {"events.csv": HEADER})
    case("missing-column", {"events.csv": "user_id,event\nu1,signed_up\n"})
    case("renamed-column", {"events.csv": "User_ID,event,timestamp\n" + GOOD})
    case(
        "mapped-columns",
        {"events.csv": "uid,name,when\n" + GOOD},
        columns={"user_id": "uid", "event": "name", "timestamp": "when"},
    )
    case("header-with-spaces", {"events.csv": "user_id, event, timestamp\n" + GOOD.replace(",", ", ")})
    case("no-header", {"events.csv": GOOD})
    case("duplicate-header", {"events.csv": "user_id,event,event,timestamp\nu1,a,b,2024-01-01T00:00:00Z\n"})
    case("semicolon-delimiter", {"events.csv": (HEADER + GOOD).replace(",", ";")})
    case("tab-separated", {"events.tsv": (HEADER + GOOD).replace(",", "\t")}, events="events.tsv")
    case(
        "gzip-csv",
        {"events.csv.gz": gzip.compress((HEADER + GOOD).encode(), mtime=0)},
        events="events.csv.gz",
    )
    case("excel-bom-crlf", {"events.csv": b"\xef\xbb\xbf" + (HEADER + GOOD).replace("\n", "\r\n").encode()})
    case(
        "ragged-line",
        {"events.csv": HEADER + GOOD.splitlines(keepends=True)[0] + "u1,clicked,save,2024-01-02T00:00:00Z\n"},
    )
    case(
        "unterminated-quote",
        {"events.csv": HEADER + GOOD + 'u3,"clicked save,2024-01-04T00:00:00Z\n'},
    )
    case(
        "latin1-text",
        {"events.csv": (HEADER + GOOD + "u4,caf\xe9_opened,2024-01-04T00:00:00Z\n").encode("latin-1")},
    )
    case("unknown-file-type", {"events.json": '{"user_id": "u1"}'}, events="events.json")
    case("glob-matches-nothing", {}, events="exports/events-*.csv")
    case("path-is-directory", {"exports/events.csv": HEADER + GOOD}, events="exports")
    case("missing-events-file", {}, events="data/events.csv")
    case("missing-users-file", {"events.csv": HEADER + GOOD}, users="data/users.csv")
    case("missing-mapped-column", {"events.csv": HEADER + GOOD}, columns={"timestamp": "when"})
    case(
        "csv-glob-column-order",
        {
            "events-1.csv": HEADER + GOOD,
            "events-2.csv": "timestamp,event,user_id\n2024-01-04T00:00:00Z,session_start,u3\n",
        },
        events="events-*.csv",
    )
    case(
        "csv-glob-missing-column",
        {
            "events-1.csv": HEADER + GOOD,
            "events-2.csv": "user,event,timestamp\nu3,session_start,2024-01-04\n",
        },
        events="events-*.csv",
    )
    renamed = GOOD_FRAME.assign(timestamp=pd.to_datetime(GOOD_FRAME["timestamp"]))
    case(
        "parquet-schema-drift",
        {
            "part-1.parquet": renamed.iloc[:3],
            "part-2.parquet": renamed.iloc[3:].rename(columns={"user_id": "uid"}),
        },
        events="part-*.parquet",
    )
    case(
        "parquet-type-drift",
        {
            "part-1.parquet": renamed.iloc[:3],
            "part-2.parquet": GOOD_FRAME.iloc[3:],  # timestamp as text
        },
        events="part-*.parquet",
    )

    # --- timestamps ---------------------------------------------------------------------------
    case(
        "mixed-naive-and-offset",
        {"events.csv": HEADER + GOOD.replace("2024-01-05T12:00:00Z", "2024-01-05 12:00:00")},
    )
    case(
        "mixed-offsets",
        {
            "events.csv": HEADER
            + "u1,signed_up,2024-01-01T02:00:00+02:00\n"
            + "u2,signed_up,2024-01-01T19:00:00-05:00\n"
            + "u3,signed_up,2024-01-03T00:00:00Z\n"
        },
        timezone="Asia/Tokyo",
    )
    case(
        "zone-names",
        {
            "events.csv": HEADER
            + "u1,signed_up,2024-01-01 10:00:00 UTC\n"
            + "u2,signed_up,2024-01-02 10:00:00 Europe/Paris\n"
        },
        timezone="America/New_York",
    )
    case(
        "naive-in-params-timezone",
        {"events.csv": HEADER + "u1,signed_up,2024-07-01 09:00:00\nu2,signed_up,2024-01-01 09:00:00\n"},
        timezone="Europe/Paris",
    )
    case(
        "epoch-seconds",
        {
            "events.csv": HEADER
            + "u1,signed_up,1704067200\nu1,session_start,1704153600.5\nu2,signed_up,1704240000\n"
            + "u2,session_start,17\n"
        },
    )
    epoch_ms = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2"],
            "event": ["signed_up", "session_start", "signed_up"],
            "timestamp": pd.array([1704067200000, 1704153600000, 1704240000123], dtype="int64"),
        }
    )
    case("epoch-milliseconds-parquet", {"events.parquet": epoch_ms}, events="events.parquet")
    case("numbers-not-epoch", {"events.csv": HEADER + "u1,signed_up,20240101\nu2,signed_up,20240102\n"})
    case("numbers-and-dates", {"events.csv": HEADER + "u1,signed_up,1704067200\nu2,signed_up,2024-01-02\n"})
    case(
        "some-unparseable",
        {"events.csv": HEADER + GOOD + "u3,session_start,yesterday\nu3,session_start,01/04/2024\n"},
    )
    case("all-unparseable", {"events.csv": HEADER + "u1,signed_up,soon\nu2,signed_up,later\n"})
    case(
        "far-future-date",
        {"events.csv": HEADER + GOOD + "u2,session_start,2099-12-31T00:00:00Z\n"},
    )
    case(
        "epoch-zero-1970",
        {
            "events.csv": HEADER
            + "u4,session_start,1970-01-01T00:00:00Z\n"
            + GOOD
            + "u4,signed_up,2024-01-04T00:00:00Z\n"
        },
    )
    case(
        "observation-end-before-data",
        {"events.csv": HEADER + GOOD},
        observation_end="2023-06-30",
    )
    case("observation-end-after-data", {"events.csv": HEADER + GOOD}, observation_end="2024-03-31")
    case(
        "observation-end-after-data-intended",
        {"events.csv": HEADER + GOOD},
        observation_end="2024-03-31",
        observation_end_check="warn",
    )
    case(
        "observation-end-before-most-data",
        {"events.csv": HEADER + GOOD},
        observation_end="2024-01-01T12:00:00",
    )

    # --- users and ids ------------------------------------------------------------------------
    users = "user_id,signup_at,plan\nu1,2024-01-01T00:00:00Z,pro\nu2,2024-01-02T00:00:00Z,free\n"
    case(
        "duplicated-users",
        {"events.csv": HEADER + GOOD, "users.csv": users + "u2,2024-01-02T00:00:00Z,pro\n"},
        users="users.csv",
    )
    case(
        "users-without-events",
        {
            "events.csv": HEADER + GOOD,
            "users.csv": users + "u8,2024-01-02T06:00:00Z,free\nu9,,free\n",
        },
        users="users.csv",
        segments=["plan"],
    )
    case(
        "users-table-disjoint",
        {
            "events.csv": HEADER + GOOD,
            "users.csv": "user_id,signup_at\nx1,2024-01-01T00:00:00Z\nx2,2024-01-02T00:00:00Z\n",
        },
        users="users.csv",
    )
    ids_as_numbers = pd.DataFrame(
        {
            "user_id": pd.array([7, 7, 8], dtype="int64"),
            "event": ["signed_up", "session_start", "signed_up"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"], utc=True),
        }
    )
    case(
        "ids-text-vs-parquet-integers",
        {
            "events.parquet": ids_as_numbers,
            "users.csv": "user_id,signup_at\n007,2024-01-01T00:00:00Z\n008,2024-01-02T00:00:00Z\n",
        },
        events="events.parquet",
        users="users.csv",
    )
    case("parquet-integer-ids", {"events.parquet": ids_as_numbers}, events="events.parquet")
    float_ids = ids_as_numbers.assign(user_id=[7.0, float("nan"), 8.0])
    case("parquet-float-ids", {"events.parquet": float_ids}, events="events.parquet")
    case(
        "leading-zero-ids",
        {
            "events.csv": HEADER
            + "007,signed_up,2024-01-01T00:00:00Z\n07,signed_up,2024-01-01T00:00:00Z\n"
            + "7,signed_up,2024-01-01T00:00:00Z\n0042,session_start,2024-01-02T00:00:00Z\n"
        },
    )
    case(
        "signup-after-all-events",
        {
            "events.csv": HEADER + GOOD,
            "users.csv": (
                "user_id,signup_at\nu1,2024-01-04T00:00:00Z\n"  # after all of u1's events
                "u2,2024-01-02T00:00:00Z\nu3,2024-02-01T00:00:00Z\n"  # u3: after T
            ),
        },
        users="users.csv",
    )
    users_by_id = "id,created,plan\nu1,2024-01-01T00:00:00Z,pro\nu2,2024-01-02T00:00:00Z,free\nu3,2024-01-03T06:00:00Z,free\n"
    by_distinct_id = "distinct_id,event,timestamp\n" + GOOD
    case(
        "users-columns",
        {"events.csv": by_distinct_id, "users.csv": users_by_id},
        users="users.csv",
        columns={"user_id": "distinct_id"},
        users_columns={"user_id": "id", "signup_at": "created"},
        segments=["plan"],
    )
    case(
        "users-columns-missing",
        {"events.csv": by_distinct_id, "users.csv": users_by_id},
        users="users.csv",
        columns={"user_id": "distinct_id"},
    )
    case(
        "users-columns-wrong-key",
        {"events.csv": by_distinct_id, "users.csv": users_by_id},
        users="users.csv",
        columns={"user_id": "distinct_id"},
        users_columns={"userid": "id"},
    )
    case(
        "missing-user-ids",
        {
            "events.csv": HEADER
            + GOOD
            + ",session_start,2024-01-04T00:00:00Z\n"
            + "NaN,session_start,2024-01-04T00:00:00Z\nnull,session_start,2024-01-04T00:00:00Z\n"
            + "  ,session_start,2024-01-04T00:00:00Z\n"
        },
    )
    case(
        "missing-event-names",
        {"events.csv": HEADER + GOOD + "u2,,2024-01-04T00:00:00Z\nu2,None,2024-01-04T01:00:00Z\n"},
    )
    case(
        "users-missing-ids",
        {
            "events.csv": HEADER + GOOD,
            "users.csv": "user_id,signup_at\nu1,2024-01-01T00:00:00Z\nnan,2024-01-02T00:00:00Z\n",
        },
        users="users.csv",
    )
    case(
        "events-before-signup",
        {
            "events.csv": HEADER
            + "u1,page_view,2023-12-31T23:00:00Z\nu1,page_view,2023-12-31T23:30:00Z\n"
            + GOOD
        },
    )
    case(
        "duplicate-events",
        {
            "events.csv": "user_id,event,timestamp,value,ingested_at\n"
            "u1,signed_up,2024-01-01T00:00:00Z,,2024-01-01T00:00:01Z\n"
            "u1,signed_up,2024-01-01T00:00:00Z,,2024-01-01T00:05:00Z\n"  # re-delivered: duplicate
            "u1,purchase,2024-01-02T00:00:00Z,10,2024-01-02T00:00:01Z\n"
            "u1,purchase,2024-01-02T00:00:00Z,10,2024-01-02T00:00:01Z\n"  # exact copy: duplicate
            "u1,purchase,2024-01-02T00:00:00Z,25,2024-01-02T00:00:01Z\n"  # other amount: kept
            "u2,signed_up,2024-01-02T00:00:00Z,,2024-01-02T00:00:01Z\n"
            "u2,signed_up,2024-01-02T00:00:00.001Z,,2024-01-02T00:00:01Z\n"  # 1 ms later: kept
        },
    )

    # --- event names and params ---------------------------------------------------------------
    many = [[f"u{i % 50}", f"event_{i:05d}", f"2024-01-{1 + i % 28:02d}T00:00:00Z"] for i in range(20_000)]
    many += [[f"u{i}", "signed_up", "2024-01-01T00:00:00Z"] for i in range(50)]
    case(
        "huge-event-cardinality",
        {"events.csv.gz": gzip.compress(_csv(many, ["user_id", "event", "timestamp"]).encode(), mtime=0)},
        events="events.csv.gz",
    )
    hostile_rows = [["u1", "signed_up", "2024-01-01T00:00:00Z"]]
    hostile_rows += [
        ["u1", name, f"2024-01-0{2 + i // 4}T0{i % 4}:00:00Z"] for i, name in enumerate(HOSTILE_EVENTS)
    ]
    hostile_rows += [["u2'; DROP TABLE users; --", HOSTILE_EVENTS[0], "2024-01-02T00:00:00Z"]]
    case(
        "hostile-names",
        {"events.csv": _csv(hostile_rows, ['us"er;id', "ev'ent $(x)", "ts DROP TABLE t"])},
        columns={"user_id": 'us"er;id', "event": "ev'ent $(x)", "timestamp": "ts DROP TABLE t"},
        value_events=[HOSTILE_EVENTS[0], HOSTILE_EVENTS[2]],
        onboarding_steps=["signed_up", HOSTILE_EVENTS[0], [HOSTILE_EVENTS[1], HOSTILE_EVENTS[5]]],
        feature_events=[HOSTILE_EVENTS[3], "$(touch canary)"],
    )
    case(
        "params-vendor-spelling",
        {
            "events.csv": HEADER
            + GOOD.replace("signed_up", "Sign Up").replace("created_report", "Report Created")
        },
        signup_event=None,
        value_events=["created_report"],
        onboarding_steps=["signed_up", "created_report"],
    )
    case("params-typo-key", {"events.csv": HEADER + GOOD}, retention_dayz=[1, 7])
    case(
        "params-typo-event",
        {"events.csv": HEADER + GOOD},
        value_events=["created_reprot"],
        onboarding_steps=["signed_up", "session_start", "created_report"],
        feature_events=["exported_csv"],
    )
    case("client-path-traversal", {"events.csv": HEADER + GOOD}, client="../../etc")
    case("client-absolute-path", {"events.csv": HEADER + GOOD}, client="/tmp/evil")
    with_client = HEADER.replace("\n", ",client\n") + "".join(
        line + (",acme\n" if line.startswith("u1") else ",globex\n") for line in GOOD.splitlines()
    )
    case("filter-matches-nothing", {"events.csv": with_client}, filters={"client": "acmee"})
    secret = with_client + "u2,globex_secret_feature,2024-01-04T00:00:00Z,globex\n"
    case(
        "filter-one-client",
        {"events.csv": secret},
        filters={"client": "acme"},
        feature_events=["globex_secret_featur"],
    )

    # --- degenerate but legitimate logs (their reports: tests/test_degenerate.py) ------------------
    case(
        "one-user",
        {"events.csv": HEADER + "u1,signed_up,2024-01-01T00:00:00Z\nu1,session_start,2024-01-02T09:00:00Z\n"},
    )
    case(
        "only-signup-events",
        {"events.csv": HEADER + "".join(f"u{i},signed_up,2024-01-0{i}T00:00:00Z\n" for i in range(1, 4))},
    )
    case(
        "all-events-at-one-timestamp",
        {
            "events.csv": HEADER
            + "".join(
                f"u{i},{event},2024-01-03T10:00:00Z\n"
                for i in (1, 2)
                for event in ("signed_up", "session_start", "created_report")
            )
        },
    )

    # --- found by the whole-pipeline property test (tests/test_pipeline_properties.py) ------
    # Drawn clients on which a report once stopped; each must now complete (expected: report).
    for case_id, spec in FOUND.items():
        files, params = _drawn(spec)
        case(case_id, files, **params)
    return c


#: Case id -> the drawn client (tests/test_pipeline_properties.py client_strategy) it came from.
FOUND = {
    "found-one-user-no-cohort": {
        **{"seed": 0, "users": 1, "signup_days": 0, "grid_hours": 24, "lifetime_days": 0},
        **{"separate": False, "persona_values": 1, "min_segment_size": 1, "users_table": "none"},
        **{"signup_share": 0.0, "value_share": 0.0, "value_at_t0": False, "only_signups": False},
        **{"change": None, "landmark_days": 1, "revenue_accounts": 0, "feedback_answers": 0},
        "observation_end": "last_event",
    },
    "found-change-before-every-signup": {
        **{"seed": 1015, "users": 49, "signup_days": 45, "grid_hours": 1, "lifetime_days": 0},
        **{"separate": False, "persona_values": 1, "min_segment_size": 30, "users_table": "no_signup_at"},
        **{"signup_share": 0.5, "value_share": 0.0, "value_at_t0": True, "only_signups": False},
        **{"change": "before", "landmark_days": 90, "revenue_accounts": 5, "feedback_answers": 1},
        "observation_end": "later",
    },
    "found-change-after-every-signup": {
        **{"seed": 4545, "users": 8, "signup_days": 1, "grid_hours": 6, "lifetime_days": 20},
        **{"separate": False, "persona_values": 4, "min_segment_size": 30, "users_table": "no_signup_at"},
        **{"signup_share": 1.0, "value_share": 1.0, "value_at_t0": True, "only_signups": True},
        **{"change": "after", "landmark_days": 90, "revenue_accounts": 5, "feedback_answers": 1},
        "observation_end": "last_event",
    },
    "found-incidence-near-one": {
        **{"seed": 5125, "users": 80, "signup_days": 0, "grid_hours": 6, "lifetime_days": 3},
        **{"separate": True, "persona_values": 4, "min_segment_size": 100, "users_table": "no_signup_at"},
        **{"signup_share": 0.0, "value_share": 1.0, "value_at_t0": False, "only_signups": False},
        **{"change": "after", "landmark_days": 7, "revenue_accounts": 0, "feedback_answers": 1},
        "observation_end": "last_event",
    },
    "found-landmark-separation": {
        **{"seed": 867442, "users": 16, "signup_days": 0, "grid_hours": 6, "lifetime_days": 60},
        **{"separate": False, "persona_values": 1, "min_segment_size": 1, "users_table": "no_signup_at"},
        **{"signup_share": 1.0, "value_share": 0.3, "value_at_t0": False, "only_signups": False},
        **{"change": None, "landmark_days": 1, "revenue_accounts": 5, "feedback_answers": 0},
        "observation_end": "later",
    },
}


def _drawn(spec: dict) -> tuple[dict, dict]:
    """(files, params) of a drawn client, with the params' paths relative to the case folder."""
    import sys
    import tempfile

    sys.path.insert(0, str(HERE.parent.parent))
    from tests.test_pipeline_properties import build_client

    with tempfile.TemporaryDirectory() as tmp:
        raw = build_client(spec, Path(tmp))
        files = {p.name: p.read_text(encoding="utf-8") for p in sorted(Path(tmp).glob("*.csv"))}
    params = {key: value for key, value in raw.items() if key not in ("client", "events")}
    if params["users"] is not None:
        params["users"] = "users.csv"
    return files, params


def write(case_id: str, spec: dict, root: Path = HERE) -> None:
    folder = root / case_id
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, content in spec["files"].items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, pd.DataFrame):
            content.to_parquet(path, index=False)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    text = yaml.safe_dump(spec["params"], sort_keys=False, allow_unicode=True)
    (folder / "params.yaml").write_text(text, encoding="utf-8")


def main() -> None:
    for case_id, spec in cases().items():
        write(case_id, spec)
    print(f"wrote {len(cases())} cases under {HERE}")


if __name__ == "__main__":
    main()
