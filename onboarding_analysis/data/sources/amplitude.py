"""Amplitude: the Export API's zip of gzipped JSON-lines files (``source: amplitude``).

``events`` is the zip the Export API returns (hourly files named like
``<project>_<YYYY-MM-DD>_<H>#<n>.json.gz``), the unzipped folder, or a glob of the
``.json.gz`` files. One JSON object per line; fields read (docs/sources.md cites them):

- event name ``event_type``; time ``event_time`` (UTC text such as
  ``2020-11-24 09:59:55.977000``), else ``client_event_time``;
- user ``user_id``; a row without one (events before login) takes the ``user_id`` its
  ``amplitude_id`` carries on any other row (the earliest such row), else stays without a user
  (counted as ``missing user id``);
- dedup: a row whose ``uuid`` (else ``$insert_id``) repeats an earlier row's is a
  ``duplicate event`` (exports overlap and repeat rows across files);
- segment and filter columns: the key of ``user_properties``, else of ``event_properties``
  (``plan`` is ``user_properties.plan``); ``value`` (params ``columns.value``, default
  ``value``) and ``client`` the same way; ``account_id`` the group of params
  ``account_group`` in ``groups`` (the first one when a user is in several).

Ids are read as text (a UUID-looking id stays a string).
"""

from __future__ import annotations

from typing import Any

from ..sql import quote_ident, quote_literal
from . import Read, common
from .common import JSON_SUFFIXES, finish, json_lines, json_text, repeat_flag, run

SUFFIXES = (*JSON_SUFFIXES,)
#: The row-level reasons in Amplitude's field names (the loader's warnings).
DEFECTS = {
    "missing user id": (
        "user_id is empty and its amplitude_id carries no user_id on any other row (a visitor who "
        "never logged in); fix the export if users should be known"
    ),
    "missing event name": "event_type is empty",
    "unparseable timestamp": (
        "event_time is empty or unparseable, and so is client_event_time (expected UTC text such as "
        "2020-11-24 09:59:55.977000)"
    ),
    "duplicate event": "they repeat the uuid (else the $insert_id) of an earlier row (exports overlap)",
}
#: The fields read from each line, with their DuckDB types.
FIELDS = {
    "event_type": "VARCHAR",
    "event_time": "VARCHAR",
    "client_event_time": "VARCHAR",
    "user_id": "VARCHAR",
    "amplitude_id": "VARCHAR",
    "uuid": "VARCHAR",
    "$insert_id": "VARCHAR",
    "user_properties": "JSON",
    "event_properties": "JSON",
    "groups": "JSON",
}



#: The export's files on disk (for the facts cache key).
input_files = common.disk_files(SUFFIXES)

def _property(key: str) -> str:
    return f"coalesce({json_text('user_properties', key)}, {json_text('event_properties', key)})"


def _group(group_type: str) -> str:
    path = quote_literal("$." + '"' + group_type.replace('"', '\\"') + '"')
    return (
        f"CASE WHEN json_type(groups, {path}) = 'ARRAY' THEN json_extract_string(groups, {path} || '[0]')"
        f" ELSE json_extract_string(groups, {path}) END"
    )


def read_events(con: Any, params: Any, notes: list[str]) -> Read:
    """Create ``raw_events`` from an Amplitude export (see the module docstring).

    Parameters
    ----------
    con : ibis DuckDB backend
        Gets the ``amplitude_read`` table and the ``raw_events`` view.
    params : Params
        ``events`` (the export zip, folder or files), ``account_group``, and the user or event
        properties that ``columns``, ``segments`` and ``filters`` name.
    notes : list of str
        The load's warnings (Amplitude adds none here).

    Returns
    -------
    Read
        The members read, the export's name and the defects in Amplitude's field names.

    Raises
    ------
    DataError
        No export file, an empty file, a zip of something else, or a line that is not JSON.
    """
    pairs, name = common.event_export(params, SUFFIXES)
    optional = {c: _property(params.columns[c]) for c in ("value", "client")}
    if params.account_group:
        optional["account_id"] = _group(params.account_group)
    attributes = {a: _property(a) for a in common.attribute_keys(params)}
    extra = common.aliased({**optional, **attributes})
    run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE amplitude_read AS
        WITH raw AS ({json_lines(pairs, FIELDS)}),
        lines AS (
            SELECT *, {common.BLANK.format("user_id")} AS uid,
                coalesce(try_cast(event_time AS TIMESTAMP), try_cast(client_event_time AS TIMESTAMP)) AS event_ts,
                coalesce({common.BLANK.format("uuid")}, 'insert:' || {common.BLANK.format(quote_ident("$insert_id"))}) AS __key
            FROM raw
        ),
        known AS (
            SELECT amplitude_id, arg_min(uid, event_ts) AS known_uid FROM lines
            WHERE uid IS NOT NULL AND amplitude_id IS NOT NULL GROUP BY amplitude_id
        )
        SELECT coalesce(lines.uid, known.known_uid) AS user_id, event_type AS event,
            timezone('UTC', event_ts) AS timestamp, __file,
            {repeat_flag(["__key"], ["event_ts", "event_type"])} AS __repeat{", " + extra if extra else ""}
        FROM lines LEFT JOIN known USING (amplitude_id)""",
        pairs,
        hint=" (Amplitude: the Export API's zip of .json.gz files, one event per line.)",
    )
    return finish(con, "amplitude_read", pairs, name, optional=list(optional), defects=DEFECTS)


__all__ = ["input_files", "DEFECTS", "FIELDS", "read_events"]
