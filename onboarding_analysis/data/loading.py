"""Read the event log and the users table into DuckDB, in process, with the data contract checked.

Events and users come from CSV or Parquet files (a path, a glob, or a list of files of one
format), or from a vendor export (params ``source``): :mod:`onboarding_analysis.data.sources` turns it
into the same raw view, then everything below applies alike. DuckDB reads them lazily: nothing here materialises the event log in pandas. The
result is a :class:`Source` holding an ibis connection and two canonical tables:

- ``events``: ``user_id`` (VARCHAR), ``event`` (VARCHAR), ``ts`` (TIMESTAMP, UTC, naive),
  ``file``, ``reason`` (NULL for a usable row, else why the row cannot be used, see
  :data:`ROW_REASONS`) and the optional columns ``client``, ``account_id``, ``value`` plus any
  attribute column the params name (segments, filters) that the users table does not provide;
- ``users`` (or None): ``user_id``, ``signup_at`` (UTC naive, may be NULL) and attribute columns.

CSV files
    The first line of each file is its header. The delimiter is the most frequent of ``,``
    ``TAB`` ``;`` ``|`` in that line (so semicolon exports from spreadsheets read as is);
    quotes are ``"`` (doubled inside a value). Every value is read as text. A UTF-8 byte-order
    mark is skipped; any other encoding is an error naming the line (re-save as UTF-8). A line
    with more or fewer fields than the header is an error naming the file and line. Files of
    one glob may order their columns differently; each must have the mapped columns.
Parquet files
    Each file of a glob must have the mapped columns, with the same types in every file.
    Integer user ids become their decimal text (``7``, no leading zeros: store ids with leading
    zeros as strings); floating-point ids that are whole numbers (``7.0``, what pandas writes
    for an integer column with missing values) become ``7``, with a :class:`DataWarning`.
Timestamps (``docs/metrics.md``, "Time base")
    Text with an offset (``Z``, ``+02:00``) or a zone name (``UTC``, ``Europe/Paris``) is
    converted to UTC; text without one, and Parquet ``TIMESTAMP`` without a zone, is read in
    params ``timezone``; a column mixing the two is an error, not a guess. A column holding
    numbers only (text or a numeric Parquet type) is read as Unix time, UTC, with a
    :class:`DataWarning`: the unit (seconds, milliseconds, microseconds or nanoseconds) is the
    one that puts the median value between 1973 and 2286; a value outside that unit's range is
    counted as an unparseable timestamp. A column mixing numbers and dates is an error.
Implausible timestamps
    Events far from all the others (separated from the bulk of the log by more than
    :data:`IMPLAUSIBLE_GAP_DAYS` days without any event, e.g. ``1970-01-01`` from a zero
    written as a date, or ``2099-01-01`` from a placeholder) are excluded under the reason
    ``implausible timestamp``, with a :class:`DataWarning`; they never set the observation end.
Missing values
    A user id or event name that is empty, blank, or one of :data:`NULL_TOKENS` (``NaN``,
    ``null``, ``None``, ``undefined``; any case), counts as missing.

Every excluded row class found here (missing ids or names, unparseable or implausible
timestamps, numbers read as Unix times) is reported with a :class:`DataWarning`; the counts are
in the data-quality section. Identifiers and strings are quoted before they reach SQL
(:func:`quote_ident`, :func:`quote_literal`): no name or value from the data or the params is
ever interpreted as SQL.
"""


from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..params import DEFAULT_COLUMNS, Params
from .contract import (
    Source,
    bad_signup,
    check_user_rows,
    event_attributes,
    require_columns,
    require_columns_per_file,
    warn,
)
from .duckdb_columns import id_sql, missing_sql, timestamp_sql
from .duckdb_files import connect, create_raw_view, file_schemas, run_sql
from .files import expand_files
from .scan import summarise_scan, warn_row_defects
from .sql import quote_ident


def check_inputs(params: Params) -> None:
    """Check the input files of a run from their headers only, before any notebook starts.

    The events (file or glob) and the users table exist, are not empty, are CSV or Parquet,
    and every file has the mapped columns (``columns``: user id, event name and timestamp;
    the user id in the users table). Only CSV header lines and Parquet schemas are read, so it
    is cheap; the rows are checked later, by :func:`load`. Remote inputs of the Spark engine
    (``s3a://``...) are left to Spark.

    Parameters
    ----------
    params : Params
        The run's params.

    Raises
    ------
    DataError
        A file is missing (the message says where relative paths start), empty, of an unknown
        type, has an unreadable header or schema, or lacks a mapped column: the errors
        :func:`load` would raise for the same files, in the same words.

    Examples
    --------
    >>> check_inputs(load_params("params/demo.yaml"))                  # doctest: +SKIP
    """
    from . import sources
    from .files import is_remote

    cols, user_cols = params.columns, params.user_columns
    wanted = {
        "events": {key: cols[key] for key in ("user_id", "event", "timestamp")},
        "users": {"user_id": user_cols["user_id"]},
    }
    con = None
    for what, required in wanted.items():
        pattern = getattr(params, what)
        if pattern is None or (params.engine == "spark" and is_remote(pattern)):
            continue
        files = sources.input_files(params, what)  # every source: the files exist, none is empty
        if params.source != "canonical":
            continue  # a vendor export's own fields are checked by its reader (sources/)
        con = con or connect()
        for file, types in file_schemas(con, files).items():
            require_columns(types, required, [file], what)


def load(params: Params, *, con: Any | None = None, known: dict | None = None) -> Source:
    """Open the events (and users) of a run as canonical ibis tables; see the module docstring.

    Issues a :class:`DataWarning` per kind of excluded or reinterpreted row found (missing ids
    or names, unparseable or implausible timestamps, numbers read as Unix time); the messages
    are also kept in :attr:`Source.warnings`.

    ``known``: the :attr:`Source.scan` of an earlier load of the same inputs and params (the
    facts cache keeps it, keyed by a fingerprint of both). The tables are then opened without
    the full scan of the events and the data checks (they passed then): the observation end,
    the plausible date range and the rows per file are taken from it, and its warnings are
    issued again, so a cache hit warns as the first run did.

    Parameters
    ----------
    params : Params
        The run's params.
    con : ibis DuckDB backend, optional
        Where the views are created (default: a new :func:`connect`).
    known : dict, optional
        The scan of an earlier load of the same inputs (see above).

    Returns
    -------
    Source
        The canonical tables and what the load found.

    Raises
    ------
    DataError
        A file is missing, empty, unreadable, not UTF-8, has a line with the wrong number of
        fields, lacks a mapped column (in any file of a glob) or mixes timestamp forms. (Ids
        written differently in the users table and the events, ``007`` vs ``7``, are an error
        of :func:`onboarding_analysis.data.facts.build_facts`, read off its per-user status.)
    ParamsError
        ``observation_end`` is before the first event, or a segment/filter column exists nowhere.

    Examples
    --------
    >>> from onboarding_analysis.params import validate_params          # doctest: +SKIP
    >>> source = load(validate_params({"events": "data/demo/events.parquet"}))  # doctest: +SKIP
    >>> source.events.reason.value_counts().to_pandas()                  # doctest: +SKIP
    """
    con = con or connect()
    notes: list[str] = []
    raw = _open_events(con, params, notes)
    cols, types, source_name = raw.cols, raw.types, raw.source_name
    ts_sql = _utc_sql(con, "raw_events", cols["timestamp"], types, params, source_name, notes)
    uid_sql = id_sql(
        con, "raw_events", cols["user_id"], types[cols["user_id"]], source_name, warnings_out=notes
    )

    users = None
    users_rows = 0
    user_attrs: list[str] = []
    if params.users:
        users, users_rows, user_attrs = _load_users(con, params, notes, checked=known is not None)
        if known is not None:
            users_rows = int(known["users_rows"])

    attrs, extra = event_attributes(params, cols, types, user_attrs)
    _create_parsed_view(con, params, raw, uid_sql, ts_sql, attrs, extra)
    loaded = {"con": con, "users": users, "users_rows": users_rows, "warnings": notes}
    loaded |= {"source_name": source_name, "defect_details": raw.details}
    no_uid = missing_sql("user_id")
    if known is not None:
        return _reopen(known, no_uid, raw.repeats, loaded)
    summary = summarise_scan(
        _scan_events(con, raw.files, no_uid, [*extra, *attrs]),
        raw.files,
        params,
        source_name,
        cols,
        lambda: _first_value(con, cols["timestamp"]),
    )
    first_ts, last_ts, lo, hi, end = summary.first_ts, summary.last_ts, summary.lo, summary.hi, summary.end
    _create_events_view(con, no_uid, lo, hi, end, summary.defects, raw.repeats)
    before = len(notes)
    if summary.end_note:
        warn(summary.end_note, notes)
    if not params.filters:  # a filtered run warns about its own users' rows only (build_facts)
        _warn_defects(
            con,
            summary.defects,
            summary.implausible,
            (first_ts, last_ts),
            cols,
            source_name,
            ts_sql,
            notes,
            details=raw.details,
        )
    scan = {
        "observation_end": end.isoformat(),
        "range": [lo.isoformat(), hi.isoformat()],
        "span": [first_ts.isoformat(), last_ts.isoformat()],
        "defects": dict(summary.defects),
        "files": dict(summary.per_file),
        "users_rows": users_rows,
        "warnings": notes[before:],
    }
    return Source(
        events=con.table("events"),
        observation_end=end,
        files=summary.per_file,
        scan=scan,
        span=(first_ts, last_ts),
        **loaded,
    )


@dataclass
class _RawEvents:
    """The raw events view of a run: its files, name in messages, columns and their types."""

    files: list[str]
    source_name: str
    cols: dict[str, str]
    types: dict[str, str]
    details: dict[str, str] = field(default_factory=dict)
    repeats: bool = False  # the rows carry a vendor reader's ``__repeat`` flag


def _open_events(con: Any, params: Params, notes: list[str]) -> _RawEvents:
    """Create the ``raw_events`` view over the events files or the vendor export."""
    if params.source != "canonical":  # a vendor export, read into the raw canonical view (sources/)
        from . import sources

        read = sources.read_events(con, params, notes)
        types = {row[0]: row[1] for row in con.raw_sql("DESCRIBE raw_events").fetchall()}
        repeats = types.pop("__repeat", None) is not None
        return _RawEvents(
            read.files, read.source_name, dict(DEFAULT_COLUMNS), types, dict(read.defects), repeats
        )
    cols = params.columns
    files = expand_files(
        params.resolve(params.events),
        what="events",
        where=params.where,
        resolved_from=params.resolved_from,
    )
    required = {k: cols[k] for k in ("user_id", "event", "timestamp")}
    require_columns_per_file(file_schemas(con, files), required, "events")
    types = create_raw_view(con, "raw_events", files)
    return _RawEvents(files, files[0] if len(files) == 1 else params.events, cols, types)


def _create_parsed_view(
    con: Any, params: Params, raw: _RawEvents, uid_sql: str, ts_sql: str, attrs: list[str], extra: list[str]
) -> None:
    """Return the ``parsed_events`` view: the canonical columns of every row (plus Intercom's events)."""
    cols = raw.cols
    select = [
        f"{uid_sql} AS user_id",
        f"CAST({quote_ident(cols['event'])} AS VARCHAR) AS event",
        f"CAST({ts_sql} AS TIMESTAMP) AS ts",
        "__file AS file",
    ]
    select += [f"{quote_ident(cols[c])} AS {quote_ident(c)}" for c in extra]
    select += [
        f"CAST({quote_ident(cols.get(a, a))} AS VARCHAR) AS {quote_ident(a)}" for a in attrs
    ]
    if raw.repeats:
        select.append("__repeat")
    parsed = "log_events" if params.intercom_export else "parsed_events"
    con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {parsed} AS SELECT {', '.join(select)} FROM raw_events")
    if params.intercom_export:  # Intercom's content data export: more events of the same users
        from .sources import intercom

        raw.files = [*raw.files, *intercom.read(con, params)]
        if "missing user id" in raw.details:
            raw.details["missing user id"] += (
                " (an Intercom receipt counts here when its user_external_id is empty)"
            )
        con.raw_sql(
            "CREATE OR REPLACE TEMP VIEW parsed_events AS SELECT * FROM log_events"
            " UNION ALL BY NAME SELECT * FROM intercom_events"
        )


def _reopen(known: dict, no_uid: str, repeats: bool, loaded: dict) -> Source:
    """Return the :class:`Source` of a facts-cache hit: the events view from ``known``, no scan."""
    con, notes = loaded["con"], loaded["warnings"]
    lo, hi = (dt.date.fromisoformat(d) for d in known["range"])
    end = dt.datetime.fromisoformat(known["observation_end"])
    _create_events_view(con, no_uid, lo, hi, end, known["defects"], repeats)
    for message in known["warnings"]:
        warn(message, notes)
    return Source(
        events=con.table("events"),
        observation_end=end,
        files={str(f): int(n) for f, n in known["files"].items()},
        scan=known,
        span=tuple(dt.datetime.fromisoformat(t) for t in known["span"]),
        **loaded,
    )


def _scan_events(con: Any, files: list[str], no_uid: str, columns: list[str]) -> list:
    """Return the one scan of every event row: rows, usable rows, span and defects per file and day.

    Every column read later is touched (``columns``), so read errors surface here, as a
    :class:`~onboarding_analysis.errors.DataError`.
    """
    no_event = f"(NOT {no_uid} AND {missing_sql('event')})"
    no_ts = f"(NOT {no_uid} AND NOT {missing_sql('event')} AND ts IS NULL)"
    valid = f"(NOT {no_uid} AND NOT {missing_sql('event')})"
    touch = ", ".join(f"count({quote_ident(c)})" for c in columns) or "0"
    return run_sql(
        con,
        f"SELECT file, CAST(ts AS DATE) AS day, count(*), count(*) FILTER (WHERE {valid}),"
        f" min(ts), max(ts), count(*) FILTER (WHERE {no_uid}), count(*) FILTER (WHERE {no_event}),"
        f" count(*) FILTER (WHERE {no_ts}), {touch}"
        f" FROM parsed_events GROUP BY ALL",
        files,
    ).fetchall()


def _first_value(con: Any, column: str) -> Any:
    """One non-NULL raw value of ``column`` of the events (for the no-timestamp error)."""
    col = quote_ident(column)
    row = con.raw_sql(f"SELECT {col} FROM raw_events WHERE {col} IS NOT NULL LIMIT 1").fetchone()
    return row[0] if row else None


def _utc_sql(
    con: Any, view: str, column: str, types: dict[str, str], params: Params, source_name: str, notes: Any
) -> str:
    """:func:`~onboarding_analysis.data.duckdb_columns.timestamp_sql` of ``column``, in params ``timezone``."""
    return timestamp_sql(
        con, view, column, types[column], params.timezone, source_name, warnings_out=notes
    )


def _create_events_view(
    con: Any,
    no_uid: str,
    lo: dt.date,
    hi: dt.date,
    end: dt.datetime,
    defects: dict[str, int],
    repeats: bool = False,
) -> None:
    """Return the ``events`` view: the parsed rows with their row-level ``reason`` (NULL: usable).

    Every query over the events evaluates ``reason`` per row; the missing-id and missing-name
    tests (a pattern match per value) are left out when the scan of every row (``defects``)
    found none: they could not fire, and most logs have none. ``repeats``: the rows carry the
    ``__repeat`` flag of a vendor reader (a repeated vendor event id), counted as
    ``duplicate event`` after the other row-level reasons.
    """
    end_lit = f"TIMESTAMP '{end:%Y-%m-%d %H:%M:%S.%f}'"
    lo_lit, hi_lit = f"TIMESTAMP '{lo:%Y-%m-%d}'", f"TIMESTAMP '{hi:%Y-%m-%d}'"
    checks = ""
    if defects.get("missing user id", 1):
        checks += f" WHEN {no_uid} THEN 'missing user id'"
    if defects.get("missing event name", 1):
        checks += f" WHEN {missing_sql('event')} THEN 'missing event name'"
    con.raw_sql(
        f"CREATE OR REPLACE TEMP VIEW events AS SELECT *{' EXCLUDE (__repeat)' if repeats else ''}, CASE{checks}"
        " WHEN ts IS NULL THEN 'unparseable timestamp'"
        f" WHEN ts < {lo_lit} OR ts >= {hi_lit} THEN 'implausible timestamp'"
        f" WHEN ts > {end_lit} THEN 'after observation end'"
        + (" WHEN __repeat THEN 'duplicate event'" if repeats else "")
        + " END AS reason FROM parsed_events"
    )


def _warn_defects(
    con: Any,
    defects: dict[str, int],
    implausible: int,
    span: tuple[dt.datetime, dt.datetime],
    cols: dict[str, str],
    source_name: str,
    ts_sql: str,
    notes: list[str],
    *,
    details: dict[str, str] | None = None,
) -> None:
    """One :class:`DataWarning` per kind of row defect (no identifiers in the messages)."""

    def example() -> Any:
        col = quote_ident(cols["timestamp"])
        row = con.raw_sql(
            f"SELECT {col} FROM raw_events WHERE {col} IS NOT NULL AND trim(CAST({col} AS VARCHAR)) <> ''"
            f" AND {ts_sql} IS NULL LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    warn_row_defects(
        defects, implausible, span, cols, source_name, notes, unparseable_example=example, details=details
    )


def _check_users_rows(con: Any, uid_expr: str, files: list[str], source_name: str, column: str) -> int:
    """Return the users table's row count, after checking it has rows, each with a unique id."""
    n_rows, n_null = run_sql(
        con, f"SELECT count(*), count(*) FILTER (WHERE {missing_sql(uid_expr)}) FROM raw_users", files
    ).fetchone()

    def duplicate() -> Any:
        return con.raw_sql(
            f"SELECT {uid_expr}, count(*) FROM raw_users GROUP BY 1 HAVING count(*) > 1 LIMIT 1"
        ).fetchone()

    check_user_rows(source_name, column, n_rows, n_null, duplicate)
    return int(n_rows)


def _load_users(
    con: Any, params: Params, notes: list[str] | None = None, checked: bool = False
) -> tuple[Any, int, list[str]]:
    """Return the canonical users view, its row count (0 when ``checked``) and its attribute columns.

    ``checked``: the same file passed the checks before (a facts cache hit): they are skipped.
    """
    cols = params.user_columns
    from . import sources

    read = sources.read_users(con, params, notes if notes is not None else [])
    if read is None:
        files = expand_files(
            params.resolve(params.users), what="users", where=params.where, resolved_from=params.resolved_from
        )
        require_columns_per_file(file_schemas(con, files), {"user_id": cols["user_id"]}, "users")
        types = create_raw_view(con, "raw_users", files)
        if not checked:
            # Read the files once (the checks and the facts each scan the table): one row per user.
            run_sql(con, "CREATE OR REPLACE TEMP TABLE raw_users_read AS SELECT * FROM raw_users", files)
            con.raw_sql("CREATE OR REPLACE TEMP VIEW raw_users AS SELECT * FROM raw_users_read")
        source_name = files[0] if len(files) == 1 else params.users
    else:  # a vendor's users export, read into the raw canonical users view
        files, source_name, cols = read.files, read.source_name, dict(DEFAULT_COLUMNS)
        types = {row[0]: row[1] for row in con.raw_sql("DESCRIBE raw_users").fetchall()}
    uid_expr = id_sql(
        con, "raw_users", cols["user_id"], types[cols["user_id"]], source_name, warnings_out=notes
    )
    n_rows = 0
    if not checked:
        n_rows = _check_users_rows(con, uid_expr, files, source_name, cols["user_id"])
    select = [f"{uid_expr} AS user_id"]
    if cols["signup_at"] in types:
        ts_sql = _utc_sql(con, "raw_users", cols["signup_at"], types, params, source_name, notes)
        bad = None
        if not checked:
            signup = quote_ident(cols["signup_at"])
            bad = run_sql(
                con,
                f"SELECT {signup} FROM raw_users WHERE {signup} IS NOT NULL"
                f" AND trim(CAST({signup} AS VARCHAR)) <> '' AND {ts_sql} IS NULL LIMIT 1",
                files,
            ).fetchone()
        if bad:
            raise bad_signup(source_name, cols["signup_at"], bad[0])
        select.append(f"CAST({ts_sql} AS TIMESTAMP) AS signup_at")
    else:
        select.append("CAST(NULL AS TIMESTAMP) AS signup_at")
    attrs = [c for c in dict.fromkeys((*params.segments, *params.filters)) if cols.get(c, c) in types]
    select += [f"CAST({quote_ident(cols.get(a, a))} AS VARCHAR) AS {quote_ident(a)}" for a in attrs]
    con.raw_sql(f"CREATE OR REPLACE TEMP VIEW users AS SELECT {', '.join(select)} FROM raw_users")
    return con.table("users"), int(n_rows), attrs


__all__ = ["check_inputs", "load"]
