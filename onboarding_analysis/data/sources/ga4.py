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
from . import Read, common
from .common import JSON_SUFFIXES, finish, json_lines, repeat_flag, run

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



#: The export's files on disk (for the facts cache key).
input_files = common.disk_files(SUFFIXES)

def param_sql(column: str, key: str) -> str:
    """Return SQL: the value of ``key`` in the repeated key/value records of the JSON ``column``.

    A string, int, float or double value comes as text; NULL when absent.

    Parameters
    ----------
    column : str
        The JSON column of key/value records (``event_params``, ``user_properties``).
    key : str
        The record's ``key``.

    Returns
    -------
    str
        A ``coalesce`` SQL expression over the value kinds.
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
    names = common.file_names(pairs)
    return f"SELECT {', '.join(cols)}, {names} END AS __file FROM {reader}"


def read_events(con: Any, params: Any, notes: list[str]) -> Read:
    """Create ``raw_events`` from a GA4 BigQuery export (see the module docstring).

    Parameters
    ----------
    con : ibis DuckDB backend
        Where ``raw_events`` is created.
    params : Params
        ``events`` (the export's JSON lines or Parquet), ``columns`` naming the ``value`` and
        ``client`` event params, and the ``segments``/``filters`` read from user properties.
    notes : list of str
        Not used: GA4 reads issue no warning of their own.

    Returns
    -------
    Read
        The files read, the export's name and the row defects worded with GA4's fields.

    Raises
    ------
    DataError
        No export file, a missing column of the BigQuery schema, or a line that is not JSON.
    """
    pairs, name = common.event_export(params, SUFFIXES)

    def prop(key: str) -> str:
        """Return SQL: the user property ``key``, else the event parameter ``key``.

        Parameters
        ----------
        key : str
            The property name.

        Returns
        -------
        str
            A ``coalesce`` of the two :func:`param_sql` expressions.
        """
        return f"coalesce({param_sql('user_properties', key)}, {param_sql('event_params', key)})"

    optional = {c: param_sql("event_params", params.columns[c]) for c in ("value", "client")}
    attributes = {a: prop(a) for a in common.attribute_keys(params)}
    extra = common.aliased({**optional, **attributes})
    extra = f", {extra}" if extra else ""
    micros = "try_cast(trim(event_timestamp) AS BIGINT)"
    run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE ga4_read AS
        WITH lines AS (SELECT *, {micros} AS us FROM ({_select(con, pairs, name)})),
        known AS (
            SELECT user_pseudo_id, arg_min(user_id, us) AS known_user FROM lines
            WHERE {common.BLANK.format("user_id")} IS NOT NULL AND {common.BLANK.format("user_pseudo_id")} IS NOT NULL
            GROUP BY user_pseudo_id
        )
        SELECT coalesce({common.BLANK.format("user_id")}, known.known_user, {common.BLANK.format("user_pseudo_id")}) AS user_id,
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


__all__ = ["input_files", "DEFECTS", "FIELDS", "param_sql", "read_events"]
