"""Mixpanel: the raw event export, JSON lines (``source: mixpanel``).

``events`` is the export file (``.json``/``.jsonl``, optionally gzipped), a glob or a folder of
them. Each line is ``{"event": ..., "properties": {"time", "distinct_id", "$insert_id",
"$user_id", "$device_id", ...}}``. Fields read (docs/sources.md cites them):

- event name ``event``; time ``properties.time``, Unix time in seconds (a float is allowed) or
  milliseconds (``time_in_ms``): the unit is the one that puts the median between 1973 and
  2286. Projects created before 2023 export ``time`` as the wall clock of the project's time
  zone written as if it were UTC: params ``mixpanel_project_timezone`` (an IANA name) converts
  it back to UTC, with daylight saving time;
- user: ``$user_id``; else the ``$user_id`` the row's ``$device_id`` carries on any other row
  (the earliest one: events before login); else ``distinct_id`` (an id of the form
  ``$device:<id>`` of a device that never logs in counts as no user);
- dedup: rows with the same ``(event, distinct_id, time, $insert_id)`` as an earlier row are a
  ``duplicate event`` (Mixpanel's own dedup key; exports of overlapping ranges repeat rows);
- segment, filter, ``value`` and ``client`` columns: the keys of ``properties``.

A line that is not JSON (an export cut off, or Mixpanel's ``terminated early`` line at the end
of an export that hit its limit) is an error naming the file and line: export smaller ranges.
"""

from __future__ import annotations

from typing import Any

from ...errors import DataError
from ..sql import quote_literal
from . import Read, common
from .common import JSON_SUFFIXES, finish, json_lines, json_text, repeat_flag, run

SUFFIXES = (*JSON_SUFFIXES, ".txt")
FIELDS = {"event": "VARCHAR", "properties": "JSON"}
#: Unix time units: microseconds per unit, [low, high) of a plausible median (1973-2286).
_UNITS = (("seconds", 1_000_000, 1e8, 1e10), ("milliseconds", 1_000, 1e11, 1e13))



#: The export's files on disk (for the facts cache key).
input_files = common.disk_files(SUFFIXES)

def read_events(con: Any, params: Any, notes: list[str]) -> Read:
    """Create ``raw_events`` from a Mixpanel raw export (see the module docstring).

    Parameters
    ----------
    con : ibis DuckDB backend
        Holds ``mixpanel_lines``, ``mixpanel_read`` and then ``raw_events``.
    params : Params
        ``events`` (the JSON-lines export), ``mixpanel_project_timezone``, and the event
        properties named by ``columns``, ``segments`` and ``filters``.
    notes : list of str
        The load's warnings; this reader adds none.

    Returns
    -------
    Read
        The export's files and name, with the row defects in Mixpanel's terms.

    Raises
    ------
    DataError
        No export file, a line that is not JSON, or times that are no Unix time.
    """
    pairs, name = common.event_export(params, SUFFIXES)
    hint = (
        " (Mixpanel: a last line 'terminated early' means the export hit Mixpanel's limit; "
        "export smaller date ranges.)"
    )
    prop = lambda key: json_text("properties", key)  # noqa: E731
    run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE mixpanel_lines AS
        SELECT event, __file, {prop("distinct_id")} AS distinct_id, {prop("$user_id")} AS mp_user,
            {prop("$device_id")} AS device, {prop("$insert_id")} AS insert_id,
            try_cast({prop("time")} AS DOUBLE) AS mp_time, properties
        FROM ({json_lines(pairs, FIELDS)})""",
        pairs,
        hint=hint,
    )
    median = con.raw_sql("SELECT median(mp_time) FROM mixpanel_lines").fetchone()[0]
    unit = next((u for u in _UNITS if median is not None and u[2] <= median < u[3]), None)
    if unit is None:
        raise DataError(
            f"{name}: properties.time holds {median!r} (median), not Unix time in seconds or "
            f"milliseconds. Check that this is a Mixpanel raw export."
        )
    micros = f"make_timestamp(CAST(round(mp_time * {unit[1]}) AS BIGINT))"
    low, high = unit[2], unit[3]
    zone = params.mixpanel_project_timezone or "UTC"
    ts = f"CASE WHEN mp_time >= {low:.0f} AND mp_time < {high:.0f} THEN timezone({quote_literal(zone)}, {micros}) END"
    optional = {c: json_text("properties", params.columns[c]) for c in ("value", "client")}
    attributes = {a: json_text("properties", a) for a in common.attribute_keys(params)}
    extra = common.aliased({**optional, **attributes})
    run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE mixpanel_read AS
        WITH devices AS (
            SELECT device, arg_min(mp_user, mp_time) AS device_user FROM mixpanel_lines
            WHERE {common.BLANK.format("mp_user")} IS NOT NULL AND device IS NOT NULL GROUP BY device
        )
        SELECT coalesce({common.BLANK.format("mp_user")}, devices.device_user,
                CASE WHEN NOT starts_with(distinct_id, '$device:') THEN {common.BLANK.format("distinct_id")} END)
                AS user_id,
            event, {ts} AS timestamp, __file,
            {repeat_flag(["event", "distinct_id", "mp_time", "insert_id"], ["mp_time"])} AS __repeat
            {", " + extra if extra else ""}
        FROM mixpanel_lines LEFT JOIN devices USING (device)""",
        pairs,
        hint=hint,
    )
    defects = {
        "missing user id": (
            "properties.distinct_id is empty (or the $device: id of a device that never logs in), with "
            "no properties.$user_id on the line nor on another line of its properties.$device_id; fix "
            "the export if users should be known"
        ),
        "missing event name": "event is empty",
        "unparseable timestamp": (
            f"properties.time is empty or not Unix time in {unit[0]} (the unit of this export's median)"
        ),
        "duplicate event": (
            "they repeat the event, properties.distinct_id, properties.time and properties.$insert_id "
            "of an earlier line (overlapping exports)"
        ),
    }
    return finish(con, "mixpanel_read", pairs, name, optional=list(optional), defects=defects)


__all__ = ["input_files", "FIELDS", "read_events"]
