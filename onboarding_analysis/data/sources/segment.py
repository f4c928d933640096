"""Segment (and RudderStack): the warehouse ``tracks`` table, or Segment's S3 archive (``source: segment``).

``events`` is either the warehouse ``tracks`` table exported as Parquet or CSV (a file, glob or
folder), or Segment's S3/GCS archive: gzipped JSON lines, one message per line in the
Tracking API's camelCase. ``users`` (optional, warehouse only) is the ``identifies`` table in the
same format. Fields read (docs/sources.md cites them):

- warehouse ``tracks``: ``id``, ``anonymous_id``, ``user_id``, ``event_text`` (the name as sent;
  else ``event``, its snake_case slug), ``timestamp`` (the event's time, corrected for the
  device clock; ``original_timestamp`` is the device's own clock and is not read), and the
  property columns named by segments, filters and ``columns.value``/``columns.client``;
- ``identifies``: ``anonymous_id``, ``user_id``, ``timestamp``, trait columns; ``created_at``
  (when present) is the signup time;
- archive: ``type`` (``track`` rows are events; ``identify`` rows map anonymous ids to users),
  ``messageId``, ``anonymousId``, ``userId``, ``event``, ``timestamp``, ``properties``, ``traits``;
- the archive's other message types (``page``, ``screen``, ``group``, ``alias``) are not read;
- user: ``user_id``; else the ``user_id`` its ``anonymous_id`` is identified with (identifies,
  or another row carrying both: the earliest); else none (``missing user id``);
- dedup: a row whose ``id`` (``messageId``) repeats an earlier row's is a ``duplicate event``.
"""

from __future__ import annotations

from typing import Any

from ...errors import DataError
from ..sql import quote_ident, quote_literal
from . import Read, common
from .common import JSON_SUFFIXES, export_files, finish, json_lines, json_text, repeat_flag, run, source_name

TABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz")
SUFFIXES = (*TABLE_SUFFIXES, *JSON_SUFFIXES, ".gz")  # archive files: <time>.gz
ARCHIVE_FIELDS = {
    "type": "VARCHAR",
    "messageId": "VARCHAR",
    "anonymousId": "VARCHAR",
    "userId": "VARCHAR",
    "event": "VARCHAR",
    "timestamp": "VARCHAR",
    "properties": "JSON",
    "traits": "JSON",
}



#: The export's files on disk (for the facts cache key).
input_files = common.disk_files(SUFFIXES)

def _table(
    con: Any, view: str, pairs: list[tuple[str, str]], name: str, required: tuple[str, ...]
) -> set[str]:
    """Create ``view`` over warehouse-table files, every column as text; return the columns."""
    listed = "[" + ", ".join(quote_literal(d) for d, _ in pairs) + "]"
    if pairs[0][0].lower().endswith((".parquet", ".pq")):
        reader = f"read_parquet({listed}, union_by_name = true, filename = true)"
    else:
        reader = (
            f"read_csv({listed}, header = true, all_varchar = true, union_by_name = true, filename = true)"
        )
    names = common.file_names(pairs)
    have = {row[0] for row in run(con, f"DESCRIBE SELECT * FROM {reader}", pairs).fetchall()} - {"filename"}
    missing = [c for c in required if c not in have]
    if missing:
        raise DataError(
            f"{name}: missing column '{missing[0]}' of Segment's warehouse table (columns found: "
            f"{', '.join(sorted(have))}). Export the tracks (or identifies) table as it is."
        )
    cols = []
    for c in sorted(have):
        if c in ("timestamp", "created_at"):
            cols.append(f"try_cast(CAST({quote_ident(c)} AS VARCHAR) AS TIMESTAMPTZ) AS {quote_ident(c)}")
        else:
            cols.append(f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(c)}")
    run(
        con,
        f"CREATE OR REPLACE TEMP TABLE {view} AS SELECT {', '.join(cols)}, {names} END AS __file FROM {reader}",
        pairs,
    )
    return have


def _identified(con: Any, params: Any) -> str | None:
    """Read the ``identifies`` export (params ``users``) into ``segment_identifies``."""
    if not params.users:
        return None
    pattern = params.resolve(params.users)
    pairs = export_files(pattern, what="users", where=params.where, suffixes=TABLE_SUFFIXES)
    _table(
        con,
        "segment_identifies",
        pairs,
        source_name(pattern, pairs),
        ("user_id", "anonymous_id", "timestamp"),
    )
    return "segment_identifies"


def read_events(con: Any, params: Any, notes: list[str]) -> Read:
    """Create ``raw_events`` from a Segment ``tracks`` export or S3 archive (see the module docstring).

    Parameters
    ----------
    con : ibis DuckDB backend
        DuckDB connection for the ``segment_*`` tables and ``raw_events``.
    params : Params
        ``events`` (tracks table or archive), ``users`` (identifies, optional) and the
        properties or traits named by ``columns``, ``segments`` and ``filters``.
    notes : list of str
        Warnings of the load so far.

    Returns
    -------
    Read
        Segment's files, the name used in messages and the defects in Segment's own words.

    Raises
    ------
    DataError
        No export file, a tracks table without ``event``, or a line that is not JSON.
    """
    pairs, name = common.event_export(params, SUFFIXES)
    keys = common.attribute_keys(params)
    if pairs[0][0].lower().endswith(TABLE_SUFFIXES):
        rows, links, optional, attributes, have = _tracks_table(con, params, pairs, name, keys)
        traits = False
    else:
        rows, links, optional, attributes, traits = _archive(con, params, pairs, keys)
        have = set()
    extra_cols = "".join(f", {quote_ident(c)}" for c in optional)
    extra_cols += "".join(
        f", coalesce(s.{quote_ident(a)}, tr.{quote_ident(a)}) AS {quote_ident(a)}"
        if traits
        else f", s.{quote_ident(a)}"
        for a in attributes
    )
    run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE segment_read AS
        WITH tracked AS ({rows}),
        linked AS (SELECT anon, arg_min(uid, ev_at) AS linked_uid FROM ({" UNION ALL ".join(links)}) AS l(anon, uid, ev_at)
            WHERE nullif(trim(uid), '') IS NOT NULL GROUP BY anon)
        SELECT resolved AS user_id, ev AS event, ev_at AS timestamp,
            s.__file AS __file, {repeat_flag([common.BLANK.format("mid")], ["ev_at", "ev"])} AS __repeat{extra_cols}
        FROM (SELECT *, coalesce({common.BLANK.format("uid")}, linked.linked_uid) AS resolved
              FROM tracked LEFT JOIN linked USING (anon)) AS s
        {"LEFT JOIN segment_traits AS tr ON tr.user_id = s.resolved" if traits else ""}""",
        pairs,
        hint=" (Segment: the warehouse tracks table as Parquet/CSV, or the S3 archive's JSON lines.)",
    )
    if pairs[0][0].lower().endswith(TABLE_SUFFIXES):
        uid, anon, mid = "user_id", "anonymous_id", "id"
        ev = "event_text and event are empty" if "event_text" in have else "event is empty"
    else:
        uid, anon, mid, ev = "userId", "anonymousId", "messageId", "event is empty"
    defects = {
        "missing user id": (
            f"{uid} is empty and its {anon} is identified with no {uid} (no identify call, no other row "
            f"carrying both); fix the export if users should be known"
        ),
        "missing event name": ev,
        "unparseable timestamp": "timestamp is empty or unparseable (original_timestamp is not read)",
        "duplicate event": f"they repeat the {mid} of an earlier row (Segment delivers at least once)",
    }
    return finish(con, "segment_read", pairs, name, optional=list(optional), defects=defects)


def _tracks_table(con: Any, params: Any, pairs: list[tuple[str, str]], name: str, keys: list[str]) -> tuple:
    """Return the tracked rows and identity links of a warehouse ``tracks`` table (and ``identifies``)."""
    have = _table(con, "segment_tracks", pairs, name, ("id", "user_id", "anonymous_id", "timestamp"))
    event = "coalesce(event_text, event)" if "event_text" in have else "event"
    if "event" not in have and "event_text" not in have:
        raise DataError(f"{name}: missing column 'event' of Segment's tracks table. Export it as it is.")
    optional = {
        c: quote_ident(params.columns[c]) for c in ("value", "client") if params.columns[c] in have
    }
    attributes = {a: quote_ident(a) for a in keys if a in have}
    base = f"SELECT id AS mid, anonymous_id AS anon, user_id AS uid, {event} AS ev, timestamp AS ev_at, __file"
    rows = f"{base}{''.join(f', {v} AS {quote_ident(k)}' for k, v in {**optional, **attributes}.items())} FROM segment_tracks"
    links = ["SELECT anon, uid, ev_at FROM tracked WHERE anon IS NOT NULL AND uid IS NOT NULL"]
    if _identified(con, params):
        links.append(
            "SELECT anonymous_id, user_id, timestamp FROM segment_identifies"
            " WHERE nullif(trim(anonymous_id), '') IS NOT NULL AND nullif(trim(user_id), '') IS NOT NULL"
        )
    return rows, links, optional, attributes, have


def _archive(con: Any, params: Any, pairs: list[tuple[str, str]], keys: list[str]) -> tuple:
    """Return the tracked rows and identity links of the S3 archive; the traits table when attributes are read."""
    traits = False
    run(
        con, f"CREATE OR REPLACE TEMP TABLE segment_archive AS {json_lines(pairs, ARCHIVE_FIELDS)}", pairs
    )
    optional = {c: json_text("properties", params.columns[c]) for c in ("value", "client")}
    attributes = {a: json_text("properties", a) for a in keys}
    extra = common.aliased({**optional, **attributes})
    extra = f", {extra}" if extra else ""
    if keys:  # user traits come with the identify calls: the latest one of each user
        latest = "".join(
            f", arg_max({json_text('traits', a)}, timestamp) FILTER (WHERE {json_text('traits', a)} IS NOT NULL)"
            f" AS {quote_ident(a)}"
            for a in keys
        )
        run(
            con,
            f'CREATE OR REPLACE TEMP TABLE segment_traits AS SELECT "userId" AS user_id{latest}'
            " FROM segment_archive WHERE type = 'identify' AND nullif(trim(\"userId\"), '') IS NOT NULL"
            ' GROUP BY "userId"',
            pairs,
        )
        traits = True
    rows = (
        'SELECT "messageId" AS mid, "anonymousId" AS anon, "userId" AS uid, event AS ev,'
        f" try_cast(timestamp AS TIMESTAMPTZ) AS ev_at, __file{extra} FROM segment_archive"
        " WHERE type = 'track' OR type IS NULL"
    )
    links = [
        'SELECT "anonymousId", "userId", try_cast(timestamp AS TIMESTAMPTZ) FROM segment_archive'
        ' WHERE "anonymousId" IS NOT NULL AND nullif(trim("userId"), \'\') IS NOT NULL'
    ]
    return rows, links, optional, attributes, traits


def read_users(con: Any, params: Any, notes: list[str]) -> Read:
    """Create ``raw_users`` from the ``identifies`` export: one row per user, latest traits.

    Parameters
    ----------
    con : ibis DuckDB backend
        Gets the ``raw_users`` view.
    params : Params
        ``users`` (the identifies table or archive) and the traits ``segments`` and
        ``filters`` name.
    notes : list of str
        Not added to: identifies need no warning.

    Returns
    -------
    Read
        The identifies files read and their name in messages.
    """
    pattern = params.resolve(params.users)
    pairs = export_files(pattern, what="users", where=params.where, suffixes=TABLE_SUFFIXES)
    have = _table(
        con,
        "segment_identifies",
        pairs,
        source_name(pattern, pairs),
        ("user_id", "anonymous_id", "timestamp"),
    )
    signup = "min(created_at)" if "created_at" in have else "CAST(NULL AS TIMESTAMPTZ)"
    keys = [a for a in common.attribute_keys(params) if a in have]
    extra = "".join(
        f", arg_max({quote_ident(a)}, timestamp) FILTER (WHERE {quote_ident(a)} IS NOT NULL) AS {quote_ident(a)}"
        for a in keys
    )
    con.raw_sql(
        f"CREATE OR REPLACE TEMP VIEW raw_users AS SELECT user_id, {signup} AS signup_at{extra}"
        " FROM segment_identifies WHERE nullif(trim(user_id), '') IS NOT NULL GROUP BY user_id"
    )
    return Read(files=[n for _, n in pairs], source_name=source_name(pattern, pairs))


__all__ = ["input_files", "ARCHIVE_FIELDS", "read_events", "read_users"]
