"""GA4: the BigQuery export's ``events_*`` tables exported to Parquet or JSON lines (``source: ga4``).

``events`` is the export's files (a file, glob or folder of ``.parquet`` or ``.json``/``.jsonl``
files, optionally gzipped: what BigQuery's ``EXPORT DATA`` or ``bq extract`` writes). Fields read
(docs/sources.md cites them):

- event name ``event_name``; time ``event_timestamp``, microseconds since the epoch, UTC (an
  integer in Parquet, a string in JSON: BigQuery writes INT64 as text in JSON);
- user: ``user_id``; else the ``user_id`` the row's ``user_pseudo_id`` carries on another row
  (the earliest: events before login); else the ``user_pseudo_id`` (an anonymous visitor is a
  user of its own, as in GA4);
- dedup: GA4 has no event id; rows with the same ``(user_pseudo_id, event_name,
  event_timestamp, event_params)`` as an earlier row are a ``duplicate event``;
- ``event_params`` and ``user_properties`` are repeated ``{key, value: {string_value,
  int_value, float_value, double_value}}`` records: a segment or filter column ``plan`` is the
  ``user_properties`` value of key ``plan``, else the ``event_params`` one; ``value`` (params
  ``columns.value``, default ``value``) and ``client`` the same way.
"""

from __future__ import annotations

from typing import Any

from ...errors import DataError
from ..sql import quote_ident, quote_literal
from . import Read
from .common import JSON_SUFFIXES, export_files, finish, json_lines, repeat_flag, run, source_name

SUFFIXES = (".parquet", ".pq", *JSON_SUFFIXES)
FIELDS = {
    "event_name": "VARCHAR",
    "event_timestamp": "VARCHAR",
    "user_id": "VARCHAR",
    "user_pseudo_id": "VARCHAR",
    "event_params": "JSON",
    "user_properties": "JSON",
}
#: The row-level reasons in the BigQuery export's field names (the loader's warnings).
DEFECTS = {
    "missing user id": "user_id and user_pseudo_id are empty; fix the export if users should be known",
    "missing event name": "event_name is empty",
    "unparseable timestamp": "event_timestamp is empty or not microseconds since 1970-01-01 UTC",
    "duplicate event": (
        "they repeat the user_pseudo_id, event_name, event_timestamp and event_params of an earlier row "
        "(GA4 has no event id; re-exported daily tables)"
    ),
}


def input_files(pattern: str, *, what: str, where: str) -> list[str]:
    """The export's files on disk."""
    return [disk for disk, _ in export_files(pattern, what=what, where=where, suffixes=SUFFIXES)]


def param_sql(column: str, key: str) -> str:
    """SQL: the value (string, int, float or double, as text) of ``key`` in the repeated
    key/value records of the JSON ``column`` (NULL when absent).
    """
    hit = (
        f"list_filter(CAST(json_extract({quote_ident(column)}, '$[*]') AS JSON[]),"
        f" x -> json_extract_string(x, '$.key') = {quote_literal(key)})[1]"
    )
    kinds = ("string_value", "int_value", "double_value", "float_value")
    return "coalesce(" + ", ".join(f"json_extract_string({hit}, '$.value.{k}')" for k in kinds) + ")"


def _select(con: Any, pairs: list[tuple[str, str]], name: str) -> str:
    if not pairs[0][0].lower().endswith((".parquet", ".pq")):
        return json_lines(pairs, FIELDS)
    listed = "[" + ", ".join(quote_literal(d) for d, _ in pairs) + "]"
    reader = f"read_parquet({listed}, union_by_name = true, filename = true)"
    have = {row[0] for row in run(con, f"DESCRIBE SELECT * FROM {reader}", pairs).fetchall()}
    missing = [f for f in ("event_name", "event_timestamp", "user_pseudo_id") if f not in have]
    if missing:
        raise DataError(
            f"{name}: missing column '{missing[0]}' of the GA4 BigQuery export (columns found: "
            f"{', '.join(sorted(have - {'filename'}))}). Export the events_* table as it is."
        )
    cols = []
    for f, kind in FIELDS.items():
        if f not in have:
            cols.append(f"CAST(NULL AS {kind}) AS {f}")
        elif kind == "JSON":
            cols.append(f"to_json({quote_ident(f)}) AS {f}")
        else:
            cols.append(f"CAST({quote_ident(f)} AS VARCHAR) AS {f}")
    names = "CASE filename " + " ".join(f"WHEN {quote_literal(d)} THEN {quote_literal(n)}" for d, n in pairs)
    return f"SELECT {', '.join(cols)}, {names} END AS __file FROM {reader}"


def read_events(con: Any, params: Any, notes: list[str]) -> Read:
    """Create ``raw_events`` from a GA4 BigQuery export (see the module docstring).

    Raises
    ------
    DataError
        No export file, a missing column, or a line that is not JSON.
    """
    pattern = params.resolve(params.events)
    pairs = export_files(pattern, what="events", where=params.where, suffixes=SUFFIXES)
    name = source_name(pattern, pairs)

    def prop(key: str) -> str:
        return f"coalesce({param_sql('user_properties', key)}, {param_sql('event_params', key)})"

    optional = {c: param_sql("event_params", params.columns[c]) for c in ("value", "client")}
    attributes = {a: prop(a) for a in dict.fromkeys((*params.segments, *params.filters))}
    extra = "".join(f", {sql} AS {quote_ident(c)}" for c, sql in {**optional, **attributes}.items())
    blank = "nullif(trim({}), '')"
    micros = "try_cast(trim(event_timestamp) AS BIGINT)"
    run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE ga4_read AS
        WITH lines AS (SELECT *, {micros} AS us FROM ({_select(con, pairs, name)})),
        known AS (
            SELECT user_pseudo_id, arg_min(user_id, us) AS known_user FROM lines
            WHERE {blank.format("user_id")} IS NOT NULL AND {blank.format("user_pseudo_id")} IS NOT NULL
            GROUP BY user_pseudo_id
        )
        SELECT coalesce({blank.format("user_id")}, known.known_user, {blank.format("user_pseudo_id")}) AS user_id,
            event_name AS event,
            CASE WHEN us BETWEEN 100000000000000 AND 9999999999999999 THEN timezone('UTC', make_timestamp(us)) END
                AS timestamp,
            __file,
            {repeat_flag(["user_pseudo_id", "event_name", "us", "CAST(event_params AS VARCHAR)"], ["us"])}
                AS __repeat{extra}
        FROM lines LEFT JOIN known USING (user_pseudo_id)""",
        pairs,
        hint=" (GA4: the BigQuery events_* export as Parquet or JSON lines.)",
    )
    return finish(con, "ga4_read", pairs, name, optional=list(optional), defects=DEFECTS)


__all__ = ["DEFECTS", "FIELDS", "input_files", "param_sql", "read_events"]
