"""Read the event log and the users table into DuckDB, in process, with the data contract checked.

Events and users come from CSV or Parquet files (a path, a glob, or a list of files of one
format). DuckDB reads them lazily: nothing here materialises the event log in pandas. The
result is a :class:`Source` holding an ibis connection and two canonical tables:

- ``events``: ``user_id`` (VARCHAR), ``event`` (VARCHAR), ``ts`` (TIMESTAMP, UTC, naive),
  ``reason`` (NULL for a usable row, else why the row cannot be used: ``missing user id``,
  ``missing event name``, ``unparseable timestamp``, ``after observation end``) and the
  optional columns ``client``, ``account_id``, ``value`` plus any attribute column the params
  name (segments, filters) that the users table does not provide;
- ``users`` (or None): ``user_id``, ``signup_at`` (UTC naive, may be NULL) and attribute columns.

Timestamps (METRICS.md, "Time base"): text with an offset (``Z``, ``+02:00``) is converted to
UTC; text without one, and Parquet ``TIMESTAMP`` without a zone, is read in params
``timezone``; a column mixing the two is an error, not a guess. Identifiers and strings are
quoted before they reach SQL (:func:`quote_ident`, :func:`quote_literal`).
"""

from __future__ import annotations

import datetime as dt
import glob as globlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis

from .errors import DataError, ParamsError
from .params import Params, observation_end_timestamp

#: Optional event columns carried through when present in the file.
OPTIONAL_EVENT_COLUMNS = ("client", "account_id", "value")
_OFFSET_RE = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"
_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (column or table name) for DuckDB."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal for DuckDB."""
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class Source:
    """The loaded inputs of one run (see the module docstring for the table schemas)."""

    con: Any  # ibis DuckDB backend
    events: Any  # ibis table
    users: Any | None  # ibis table or None
    observation_end: dt.datetime
    files: dict[str, int]  # rows read per events file
    users_rows: int = 0
    warnings: list[str] = field(default_factory=list)


def connect(threads: int | None = None) -> Any:
    """A fresh in-memory ibis DuckDB connection with the session time zone pinned to UTC."""
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'UTC'")
    if threads:
        con.raw_sql(f"SET threads = {int(threads)}")
    return con


def expand_files(pattern: str, *, what: str, where: str) -> list[str]:
    """Expand a path or glob into a sorted list of files, with clear errors.

    ``what`` names the params key (``events``/``users``) and ``where`` the params file.
    """
    path = Path(pattern)
    if path.is_dir():
        raise DataError(
            f"{where}: key '{what}': {pattern} is a directory. Give a file or a glob, "
            f"e.g. {path / '*.parquet'}."
        )
    files = sorted(globlib.glob(pattern)) if globlib.has_magic(pattern) else [pattern]
    files = [f for f in files if not Path(f).is_dir()]
    if not files:
        raise DataError(
            f"{where}: key '{what}': the glob {pattern} matches no file. Check the path and pattern."
        )
    for f in files:
        if not Path(f).exists():
            raise DataError(
                f"{where}: key '{what}': file {f} not found. Check the path (relative paths start at {Path.cwd()})."
            )
        if Path(f).stat().st_size == 0:
            raise DataError(f"{f}: the file is empty. Remove it from '{what}' or export it again.")
    formats = {_format_of(f) for f in files}
    if None in formats:
        bad = next(f for f in files if _format_of(f) is None)
        raise DataError(f"{bad}: unknown file type. Use CSV (.csv, .csv.gz, .tsv) or Parquet (.parquet).")
    if len(formats) > 1:
        raise DataError(f"{where}: key '{what}': {pattern} mixes CSV and Parquet files; use one format.")
    return files


def _format_of(path: str) -> str | None:
    name = path.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    return None


def _reader(files: list[str]) -> str:
    listed = "[" + ", ".join(quote_literal(f) for f in files) + "]"
    if _format_of(files[0]) == "csv":
        return f"read_csv({listed}, all_varchar = true, union_by_name = true, filename = '__file', header = true)"
    return f"read_parquet({listed}, union_by_name = true, filename = '__file')"


def _create_raw_view(con: Any, view: str, files: list[str]) -> dict[str, str]:
    """Create ``view`` over the files; return its column -> DuckDB type mapping."""
    try:
        con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {quote_ident(view)} AS SELECT * FROM {_reader(files)}")
        described = con.raw_sql(f"DESCRIBE {quote_ident(view)}").fetchall()
    except duckdb.Error as err:
        raise DataError(
            f"{', '.join(files)}: DuckDB could not read the file(s): {err}. Check the format and encoding (UTF-8)."
        ) from err
    return {row[0]: row[1] for row in described}


def _require_columns(types: dict[str, str], wanted: dict[str, str], files: list[str], what: str) -> None:
    import difflib

    for key, column in wanted.items():
        if column not in types:
            close = difflib.get_close_matches(column, list(types), n=1, cutoff=0.5)
            hint = (
                f" A column named '{close[0]}' exists: map it with columns: {{{key}: {close[0]}}}."
                if close
                else (f" Map the right column with columns: {{{key}: <your column>}} in the params file.")
            )
            available = ", ".join(c for c in types if c != "__file")
            raise DataError(
                f"{files[0] if len(files) == 1 else what + ' files'}: missing column '{column}' "
                f"(the {key} column). Columns found: {available}.{hint}"
            )


def timestamp_sql(con: Any, view: str, column: str, col_type: str, timezone: str, source_name: str) -> str:
    """SQL expression turning ``column`` of ``view`` into a UTC naive TIMESTAMP (NULL if unparseable).

    Raises :class:`DataError` when a text column mixes values with and without a UTC offset.
    """
    col = quote_ident(column)
    tz = quote_literal(timezone)
    col_type = col_type.upper()
    if col_type.startswith("TIMESTAMP WITH TIME ZONE") or col_type == "TIMESTAMPTZ":
        return f"({col} AT TIME ZONE 'UTC')"
    if col_type.startswith("TIMESTAMP") or col_type == "DATE":
        return f"(timezone({tz}, CAST({col} AS TIMESTAMP)) AT TIME ZONE 'UTC')"
    if col_type != "VARCHAR":
        raise DataError(
            f"{source_name}: column '{column}' has type {col_type}, not a timestamp. Export it as "
            f"ISO-8601 text (2024-03-05T10:22:13Z) or a Parquet timestamp."
        )
    text = f"trim({col})"
    aware = f"(regexp_matches({text}, {quote_literal(_OFFSET_RE)}) AND try_cast({text} AS TIMESTAMPTZ) IS NOT NULL)"
    naive = f"(NOT regexp_matches({text}, {quote_literal(_OFFSET_RE)}) AND try_cast({text} AS TIMESTAMP) IS NOT NULL)"
    counts = con.raw_sql(
        f"SELECT count(*) FILTER (WHERE {aware}), count(*) FILTER (WHERE {naive}),"
        f" any_value({col}) FILTER (WHERE {aware}), any_value({col}) FILTER (WHERE {naive})"
        f" FROM {quote_ident(view)} WHERE {col} IS NOT NULL AND {text} <> ''"
    ).fetchone()
    n_aware, n_naive, ex_aware, ex_naive = counts
    if n_aware and n_naive:
        raise DataError(
            f"{source_name}: column '{column}' mixes timestamps with a UTC offset ({n_aware} rows, "
            f"e.g. {ex_aware!r}) and without one ({n_naive} rows, e.g. {ex_naive!r}). Export all "
            f"timestamps in one form (with an offset, or all in the params timezone)."
        )
    if n_aware:
        return f"(try_cast({text} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
    return f"(timezone({tz}, try_cast({text} AS TIMESTAMP)) AT TIME ZONE 'UTC')"


def load(params: Params, *, con: Any | None = None) -> Source:
    """Open the events (and users) of a run as canonical ibis tables; see the module docstring.

    Raises
    ------
    DataError
        A file is missing, empty, unreadable, lacks a mapped column, or mixes timestamp forms.
    ParamsError
        ``observation_end`` is before the first event, or a segment/filter column exists nowhere.
    """
    con = con or connect()
    cols = params.columns
    files = expand_files(params.resolve(params.events), what="events", where=params.where)
    types = _create_raw_view(con, "raw_events", files)
    _require_columns(types, {k: cols[k] for k in ("user_id", "event", "timestamp")}, files, "events")
    source_name = files[0] if len(files) == 1 else params.events
    ts_sql = timestamp_sql(
        con, "raw_events", cols["timestamp"], types[cols["timestamp"]], params.timezone, source_name
    )

    users = None
    users_rows = 0
    user_attrs: list[str] = []
    if params.users:
        users, users_rows, user_attrs = _load_users(con, params)

    attrs = [c for c in (*params.segments, *params.filters) if c not in user_attrs]
    extra = [c for c in OPTIONAL_EVENT_COLUMNS if cols[c] in types and c not in attrs]
    for attr in dict.fromkeys(attrs):
        if cols.get(attr, attr) not in types:
            have = ", ".join(sorted(set(user_attrs) | {c for c in types if c != "__file"}))
            key = "segments" if attr in params.segments else "filters"
            raise ParamsError(
                f"{params.where}: key '{key}': column '{attr}' is in neither the users table nor the "
                f"events. Available columns: {have}."
            )
    select = [
        f"CAST({quote_ident(cols['user_id'])} AS VARCHAR) AS user_id",
        f"CAST({quote_ident(cols['event'])} AS VARCHAR) AS event",
        f"CAST({ts_sql} AS TIMESTAMP) AS ts",
        "__file AS file",
    ]
    select += [f"{quote_ident(cols[c])} AS {quote_ident(c)}" for c in extra]
    select += [
        f"CAST({quote_ident(cols.get(a, a))} AS VARCHAR) AS {quote_ident(a)}" for a in dict.fromkeys(attrs)
    ]
    con.raw_sql(f"CREATE OR REPLACE TEMP VIEW parsed_events AS SELECT {', '.join(select)} FROM raw_events")

    per_file = dict(con.raw_sql("SELECT file, count(*) FROM parsed_events GROUP BY file").fetchall())
    per_file = {f: int(per_file.get(f, 0)) for f in files}
    if sum(per_file.values()) == 0:
        raise DataError(f"{source_name}: no event rows (header only?). Export the event log again.")

    first_ts, last_ts = con.raw_sql("SELECT min(ts), max(ts) FROM parsed_events").fetchone()
    if first_ts is None:
        example = con.raw_sql(f"SELECT {quote_ident(cols['timestamp'])} FROM raw_events LIMIT 1").fetchone()[
            0
        ]
        raise DataError(
            f"{source_name}: column '{cols['timestamp']}': no value could be read as a timestamp "
            f"(e.g. {example!r}). Use ISO-8601 such as 2024-03-05T10:22:13Z."
        )
    end = observation_end_timestamp(params)
    if end is None:
        end = last_ts
    elif end < first_ts:
        raise ParamsError(
            f"{params.where}: key 'observation_end': {params.observation_end} is before the first "
            f"event ({first_ts:%Y-%m-%d %H:%M:%S} UTC). Use a later date, or null for the last event."
        )
    end_lit = f"TIMESTAMP '{end:%Y-%m-%d %H:%M:%S.%f}'"
    con.raw_sql(
        "CREATE OR REPLACE TEMP VIEW events AS SELECT *, CASE"
        " WHEN user_id IS NULL OR trim(user_id) = '' THEN 'missing user id'"
        " WHEN event IS NULL OR trim(event) = '' THEN 'missing event name'"
        " WHEN ts IS NULL THEN 'unparseable timestamp'"
        f" WHEN ts > {end_lit} THEN 'after observation end'"
        " END AS reason FROM parsed_events"
    )
    return Source(
        con=con,
        events=con.table("events"),
        users=users,
        observation_end=end,
        files=per_file,
        users_rows=users_rows,
    )


def _load_users(con: Any, params: Params) -> tuple[Any, int, list[str]]:
    cols = params.columns
    files = expand_files(params.resolve(params.users), what="users", where=params.where)
    types = _create_raw_view(con, "raw_users", files)
    source_name = files[0] if len(files) == 1 else params.users
    _require_columns(types, {"user_id": cols["user_id"]}, files, "users")
    uid = quote_ident(cols["user_id"])
    n_rows, n_null = con.raw_sql(
        f"SELECT count(*), count(*) FILTER (WHERE {uid} IS NULL) FROM raw_users"
    ).fetchone()
    if n_rows == 0:
        raise DataError(
            f"{source_name}: no user rows (header only?). Export the users table again or remove 'users'."
        )
    if n_null:
        raise DataError(
            f"{source_name}: column '{cols['user_id']}' is empty in {n_null} rows. Every user row needs an id."
        )
    dup = con.raw_sql(
        f"SELECT CAST({uid} AS VARCHAR), count(*) FROM raw_users GROUP BY 1 HAVING count(*) > 1 LIMIT 1"
    ).fetchone()
    if dup:
        raise DataError(
            f"{source_name}: user {dup[0]!r} appears in {dup[1]} rows of column '{cols['user_id']}'. "
            f"The users table needs one row per user: remove the duplicates."
        )
    select = [f"CAST({uid} AS VARCHAR) AS user_id"]
    if cols["signup_at"] in types:
        ts_sql = timestamp_sql(
            con, "raw_users", cols["signup_at"], types[cols["signup_at"]], params.timezone, source_name
        )
        bad = con.raw_sql(
            f"SELECT {quote_ident(cols['signup_at'])} FROM raw_users WHERE {quote_ident(cols['signup_at'])} IS NOT NULL"
            f" AND CAST({quote_ident(cols['signup_at'])} AS VARCHAR) <> '' AND {ts_sql} IS NULL LIMIT 1"
        ).fetchone()
        if bad:
            raise DataError(
                f"{source_name}: column '{cols['signup_at']}': value {bad[0]!r} is not a timestamp. "
                f"Use ISO-8601 such as 2024-03-05T10:22:13Z, or leave it empty."
            )
        select.append(f"CAST({ts_sql} AS TIMESTAMP) AS signup_at")
    else:
        select.append("CAST(NULL AS TIMESTAMP) AS signup_at")
    attrs = [c for c in dict.fromkeys((*params.segments, *params.filters)) if cols.get(c, c) in types]
    select += [f"CAST({quote_ident(cols.get(a, a))} AS VARCHAR) AS {quote_ident(a)}" for a in attrs]
    con.raw_sql(f"CREATE OR REPLACE TEMP VIEW users AS SELECT {', '.join(select)} FROM raw_users")
    return con.table("users"), int(n_rows), attrs
