"""PostHog (``source: posthog``): a batch export's events model, or the UI's CSV export.

The batch export is Parquet or JSON lines.

``events`` is the batch export's files (a file, a glob or a folder of ``.parquet`` or
``.jsonl``/``.json`` files, optionally gzipped), or the CSV the UI exports (``*.event``,
``*.distinct_id``, ``*.timestamp``, ``*.properties.<key>`` headers); ``users`` (optional) is the
persons model's export (Parquet or JSON lines). Fields read (docs/sources.md cites them):

- events: ``uuid``, ``event``, ``distinct_id``, ``person_id``, ``timestamp`` (UTC; a Parquet
  timestamp, or ISO-8601 text in JSON lines) and ``properties`` (a JSON string in Parquet, an
  object in JSON lines);
- persons: ``distinct_id``, ``person_id``, ``created_at``, ``properties``: one row per
  distinct id of a person.
- user: the person of the event's ``distinct_id`` in the persons export (current after
  merges); without one, the event's ``person_id`` (PostHog never updates it after a merge, so
  merged persons stay split without the persons export); else the ``distinct_id``;
- signup time: the ``signup_event`` (else the first event), as for every source; the person's
  earliest ``created_at`` is only the fallback for a person without any event row in the export
  (its ``signup_at`` in the users table), and only when it is not before the export's first
  event (else that person's events lie outside the export: ``user without signup time``);
- dedup: a row whose ``uuid`` repeats an earlier row's is a ``duplicate event``;
- segment and filter columns: the key of the event's ``properties`` (``$set`` person
  properties included when sent with the event), and of the person's ``properties`` in the
  persons export; ``account_id``: ``properties.$groups`` of params ``account_group``.
"""

from __future__ import annotations

from typing import Any

from ...errors import DataError
from ..sql import quote_ident, quote_literal
from . import Read, common
from .common import JSON_SUFFIXES, export_files, finish, json_lines, json_text, repeat_flag, run, source_name

SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz", *JSON_SUFFIXES)
EVENT_FIELDS = {
    "uuid": "VARCHAR",
    "event": "VARCHAR",
    "distinct_id": "VARCHAR",
    "person_id": "VARCHAR",
    "timestamp": "VARCHAR",
    "properties": "JSON",
}
PERSON_FIELDS = {
    "distinct_id": "VARCHAR",
    "person_id": "VARCHAR",
    "created_at": "VARCHAR",
    "properties": "JSON",
}



#: The export's files on disk (for the facts cache key).
input_files = common.disk_files(SUFFIXES)

def _ui_csv(con: Any, pairs: list[tuple[str, str]], fields: dict[str, str], name: str) -> str:
    """Return SQL reading the PostHog UI's CSV export.

    Its headers are ``*.event``, ``*.distinct_id``, ``*.timestamp``,
    ``*.properties.<key>`` (the ``properties`` object is rebuilt from the last ones).
    """
    listed = "[" + ", ".join(quote_literal(d) for d, _ in pairs) + "]"
    reader = f"read_csv({listed}, header = true, all_varchar = true, union_by_name = true, filename = true)"
    have = {row[0] for row in run(con, f"DESCRIBE SELECT * FROM {reader}", pairs).fetchall()} - {"filename"}
    for needed in ("event", "distinct_id", "timestamp"):
        if f"*.{needed}" not in have:
            raise DataError(
                f"{name}: missing column '*.{needed}' of PostHog's CSV export (columns found: "
                f"{', '.join(sorted(have)[:12])}). Export the events with * (all columns), or use a batch export."
            )
    props = sorted(c for c in have if c.startswith("*.properties."))
    obj = (
        "json_object("
        + ", ".join(f"{quote_literal(c[len('*.properties.') :])}, {quote_ident(c)}" for c in props)
        + ")"
        if props
        else "json_object()"
    )
    cols = []
    for f in fields:
        if f == "properties":
            cols.append(f"{obj} AS properties")
        elif f"*.{f}" in have:
            cols.append(f"{quote_ident('*.' + f)} AS {quote_ident(f)}")
        else:
            cols.append(f"CAST(NULL AS VARCHAR) AS {quote_ident(f)}")
    names = common.file_names(pairs)
    return f"SELECT {', '.join(cols)}, {names} END AS __file FROM {reader}"


def _select(con: Any, pairs: list[tuple[str, str]], fields: dict[str, str], name: str) -> str:
    """Return SQL reading the files with ``fields`` as VARCHAR/JSON text.

    The files are Parquet, JSON lines, or the UI's CSV export.
    """
    if pairs[0][0].lower().endswith((".csv", ".csv.gz")):
        return _ui_csv(con, pairs, fields, name)
    if not pairs[0][0].lower().endswith((".parquet", ".pq")):
        return json_lines(pairs, fields)
    listed = "[" + ", ".join(quote_literal(d) for d, _ in pairs) + "]"
    reader = f"read_parquet({listed}, union_by_name = true, filename = true)"
    have = {row[0] for row in run(con, f"DESCRIBE SELECT * FROM {reader}", pairs).fetchall()}
    missing = [f for f in fields if f not in have and f != "person_id"]
    if missing:
        raise DataError(
            f"{name}: missing column '{missing[0]}' of PostHog's batch export (columns found: "
            f"{', '.join(sorted(have - {'filename'}))}). Export the events (or persons) model."
        )
    names = common.file_names(pairs)
    cols = []
    for f in fields:
        if f not in have:
            cols.append(f"CAST(NULL AS VARCHAR) AS {quote_ident(f)}")
        elif f in ("timestamp", "created_at"):
            cols.append(
                f"strftime(CAST({quote_ident(f)} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%fZ') AS {quote_ident(f)}"
            )
        else:
            cols.append(f"CAST({quote_ident(f)} AS VARCHAR) AS {quote_ident(f)}")
    return f"SELECT {', '.join(cols)}, {names} END AS __file FROM {reader}"


def _persons(con: Any, params: Any) -> tuple[list[tuple[str, str]], str] | None:
    """Read the persons export into ``posthog_persons`` (distinct_id -> person_id, created_at)."""
    if not params.users:
        return None
    pattern = params.resolve(params.users)
    pairs = export_files(pattern, what="users", where=params.where, suffixes=SUFFIXES)
    name = source_name(pattern, pairs)
    run(
        con,
        "CREATE OR REPLACE TEMP TABLE posthog_persons AS SELECT *, "
        "try_cast(created_at AS TIMESTAMPTZ) AS created FROM ("
        + _select(con, pairs, PERSON_FIELDS, name)
        + ")",
        pairs,
    )
    return pairs, name


def read_events(con: Any, params: Any, notes: list[str]) -> Read:
    """Create ``raw_events`` from a PostHog batch export (see the module docstring).

    Parameters
    ----------
    con : ibis DuckDB backend
        The connection that gets ``raw_events`` (and ``posthog_persons`` when ``users`` is set).
    params : Params
        ``events`` (the batch export), ``users`` (persons, optional), ``account_group``, and the
        ``columns``/``segments``/``filters`` read from the event properties.
    notes : list of str
        The loader's warning list.

    Returns
    -------
    Read
        What was read, named as in the accounting, with the reasons worded in PostHog's fields.

    Raises
    ------
    DataError
        No export file, a missing PostHog column, or a line that is not JSON.
    """
    pairs, name = common.event_export(params, SUFFIXES)
    persons = _persons(con, params)
    person_of = "NULL"
    join = ""
    if persons is not None:
        join = (
            " LEFT JOIN (SELECT distinct_id, any_value(person_id) AS current_person FROM posthog_persons"
            " GROUP BY distinct_id) AS p USING (distinct_id)"
        )
        person_of = "p.current_person"
    optional = {c: json_text("properties", params.columns[c]) for c in ("value", "client")}
    if params.account_group:
        group = quote_literal('$."$groups".' + '"' + params.account_group.replace('"', '\\"') + '"')
        optional["account_id"] = f"json_extract_string(properties, {group})"
    attributes = {a: json_text("properties", a) for a in common.attribute_keys(params)}
    extra = common.aliased({**optional, **attributes})
    run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE posthog_read AS
        WITH raw AS ({_select(con, pairs, EVENT_FIELDS, name)})
        SELECT coalesce({person_of}, {common.BLANK.format("person_id")}, {common.BLANK.format("distinct_id")}) AS user_id,
            event, try_cast(timestamp AS TIMESTAMPTZ) AS timestamp, __file,
            {repeat_flag([common.BLANK.format("uuid")], ["timestamp", "event"])} AS __repeat
            {", " + extra if extra else ""}
        FROM raw{join}""",
        pairs,
        hint=" (PostHog: the events model of a batch export, Parquet or JSON lines.)",
    )
    return finish(con, "posthog_read", pairs, name, optional=list(optional), defects=_defects(pairs, persons))


def _defects(pairs: list[tuple[str, str]], persons: Any) -> dict[str, str]:
    """Return the row-level reasons in PostHog's field names (``*.``-prefixed in the UI's CSV)."""
    p = "*." if pairs[0][0].lower().endswith((".csv", ".csv.gz")) else ""
    person = "no persons export row" if persons is not None else "no persons export given"
    return {
        "missing user id": (
            f"{p}distinct_id is empty and the row has no person ({p}person_id empty, {person}); fix "
            f"the export if users should be known"
        ),
        "missing event name": f"{p}event is empty",
        "unparseable timestamp": f"{p}timestamp is empty or unparseable (expected ISO-8601 UTC)",
        "duplicate event": f"they repeat the {p}uuid of an earlier row (overlapping batch exports)",
    }


def read_users(con: Any, params: Any, notes: list[str]) -> Read:
    """Create ``raw_users`` from the persons export: one row per person (see the module docstring).

    Parameters
    ----------
    con : Any
        An ibis DuckDB connection the view is created on.
    params : Params
        The run's params (``users`` and the attribute keys are read).
    notes : list of str
        A list for data notes (part of the reader interface).

    Returns
    -------
    Read
        The persons export's files and its name in messages.
    """
    persons = _persons(con, params)
    assert persons is not None
    pairs, name = persons
    attributes = {a: json_text("properties", a) for a in common.attribute_keys(params)}
    extra = "".join(f", any_value({sql}) AS {quote_ident(a)}" for a, sql in attributes.items())
    names = "".join(f", {quote_ident(a)}" for a in attributes)
    # created_at is the signup fallback only (docs/sources.md, PostHog, Signup): the signup time of
    # a person the events give no time for (no event row with a time in the export), when it is
    # not before the export's first event (else the person's events lie outside the export).
    con.raw_sql(
        f"""CREATE OR REPLACE TEMP VIEW raw_users AS
        WITH persons AS (
            SELECT person_id AS user_id, min(created) AS created{extra} FROM posthog_persons
            WHERE nullif(trim(person_id), '') IS NOT NULL GROUP BY person_id
        ),
        seen AS (
            SELECT DISTINCT user_id FROM raw_events
            WHERE user_id IS NOT NULL AND timestamp IS NOT NULL AND nullif(trim(event), '') IS NOT NULL
        ),
        export AS (SELECT min(timestamp) AS first_event FROM raw_events)
        SELECT persons.user_id,
            CASE WHEN seen.user_id IS NULL AND created >= export.first_event THEN created END AS signup_at{names}
        FROM persons LEFT JOIN seen USING (user_id) CROSS JOIN export"""
    )
    return Read(files=[n for _, n in pairs], source_name=name)


__all__ = ["input_files", "EVENT_FIELDS", "PERSON_FIELDS", "read_events", "read_users"]
