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
Timestamps (METRICS.md, "Time base")
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

import codecs
import csv
import datetime as dt
import difflib
import gzip
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import duckdb
import ibis

from ..errors import DataError, DataWarning, ParamsError
from ..names import words
from ..params import DEFAULT_COLUMNS, Params, observation_end_timestamp
from .files import expand_files, file_format
from .sql import quote_ident, quote_literal

#: Optional event columns carried through when present in the file.
OPTIONAL_EVENT_COLUMNS = ("client", "account_id", "value")
#: Row-level reasons set by :func:`load` in the ``reason`` column, in the order they are checked.
ROW_REASONS = (
    "missing user id",
    "missing event name",
    "unparseable timestamp",
    "implausible timestamp",
    "after observation end",
)
#: Values of a user id or event name that mean "missing" (compared trimmed, case-insensitively).
NULL_TOKENS = ("", "nan", "null", "none", "undefined")
#: Events separated from the bulk of the log by a gap longer than this are implausible.
IMPLAUSIBLE_GAP_DAYS = 365
_OFFSET_RE = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"
# A trailing zone name: " UTC", " GMT", " Europe/Paris".
_ZONE_RE = r"\s[A-Za-z][A-Za-z_]+(/[A-Za-z_+-]+)*$"
_NUMBER_RE = r"^[0-9]+(\.[0-9]+)?$"
_DELIMITERS = (",", "\t", ";", "|")
_NUMERIC_TYPES = (
    *("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"),
    *("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL"),
)
#: Unix time units: name, microseconds per unit, [low, high) range of a plausible value (1973-2286).
_EPOCH_UNITS = (
    ("seconds", "1000000", 1e8, 1e10),
    ("milliseconds", "1000", 1e11, 1e13),
    ("microseconds", "1", 1e14, 1e16),
    ("nanoseconds", "0.001", 1e17, 1e19),
)


@dataclass
class Source:
    """The loaded inputs of one run (see the module docstring for the table schemas)."""

    con: Any  # ibis DuckDB backend
    events: Any  # ibis table
    users: Any | None  # ibis table or None
    observation_end: dt.datetime
    files: dict[str, int]  # rows read per events file
    users_rows: int = 0
    #: The :class:`DataWarning` messages issued while loading, in order.
    warnings: list[str] = field(default_factory=list)
    #: What the full scan of the events found (:data:`Scan`), for the facts cache: with it, a
    #: later :func:`load` of the same inputs skips the scan and the checks (``known=``).
    scan: dict | None = None
    #: The events' name in messages (the file, or the glob) and the span of the plausible
    #: events: a filtered run words its own row-defect warnings with them (see
    #: :func:`onboarding_analysis.data.facts.build_facts`).
    source_name: str = ""
    span: tuple[dt.datetime, dt.datetime] | None = None
    #: A vendor export's wording of the row-level reasons, naming its own fields
    #: (:attr:`onboarding_analysis.sources.Read.defects`); empty for a canonical log.
    defect_details: dict[str, str] = field(default_factory=dict)


def connect(threads: int | None = None) -> Any:
    """A fresh in-memory ibis DuckDB connection with the session time zone pinned to UTC."""
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'UTC'")
    if threads:
        con.raw_sql(f"SET threads = {int(threads)}")
    return con


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------


def csv_header(path: str) -> tuple[str, list[str]]:
    """The delimiter and column names of a CSV file, from its first line.

    Raises :class:`DataError` when the first line is empty, not UTF-8, or names a column twice.
    """
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            line = handle.readline(1 << 20)
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: cannot read the file ({err}). Export it again.") from err
    if line.startswith(codecs.BOM_UTF8):
        line = line[len(codecs.BOM_UTF8) :]
    try:
        text = line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path}: line 1 (the header) is not UTF-8 text (byte {line[err.start : err.start + 1]!r}). "
            f"Save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 old.csv > new.csv."
        ) from None
    if not text.strip():
        raise DataError(
            f"{path}: the first line is empty; it must be the header, e.g. user_id,event,timestamp."
        )
    delimiter = max(_DELIMITERS, key=text.count)
    names = next(csv.reader([text], delimiter=delimiter, quotechar='"'))
    names = [name if name != "" else f"column{i + 1}" for i, name in enumerate(names)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(
                f"{path}: the header names column '{name}' twice. Give every column a distinct name."
            )
        seen.add(name)
    return delimiter, names


def _csv_reader(files: list[str], delimiter: str, names: list[str]) -> str:
    listed = "[" + ", ".join(quote_literal(f) for f in files) + "]"
    columns = "{" + ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names) + "}"
    return (
        f"SELECT * FROM read_csv({listed}, header = true, auto_detect = false, "
        f"delim = {quote_literal(delimiter)}, quote = '\"', escape = '\"', columns = {columns}, "
        f"strict_mode = true, filename = '__file')"
    )


def _schemas(con: Any, files: list[str]) -> dict[str, dict[str, str]]:
    """Column -> type of every file (CSV: all VARCHAR, from the header)."""
    out: dict[str, dict[str, str]] = {}
    if file_format(files[0]) == "csv":
        for f in files:
            out[f] = dict.fromkeys(csv_header(f)[1], "VARCHAR")
        return out
    for f in files:
        try:
            rows = con.raw_sql(f"DESCRIBE SELECT * FROM read_parquet({quote_literal(f)})").fetchall()
        except duckdb.Error as err:
            raise _read_error(err, [f]) from err
        out[f] = {row[0]: row[1] for row in rows}
    return out


def _create_raw_view(con: Any, view: str, files: list[str]) -> dict[str, str]:
    """Create ``view`` over the files; return its column -> DuckDB type mapping."""
    if file_format(files[0]) == "csv":
        groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for f in files:
            delimiter, names = csv_header(f)
            groups.setdefault((delimiter, tuple(names)), []).append(f)
        select = " UNION ALL BY NAME ".join(
            _csv_reader(group, delimiter, list(names)) for (delimiter, names), group in groups.items()
        )
    else:
        listed = "[" + ", ".join(quote_literal(f) for f in files) + "]"
        select = f"SELECT * FROM read_parquet({listed}, union_by_name = true, filename = '__file')"
    try:
        con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {quote_ident(view)} AS {select}")
        described = con.raw_sql(f"DESCRIBE {quote_ident(view)}").fetchall()
    except duckdb.Error as err:
        raise _read_error(err, files) from err
    return {row[0]: row[1] for row in described}


def _read_error(err: Exception, files: list[str]) -> DataError:
    """A one-line :class:`DataError` from a DuckDB read error."""
    text = str(err)
    file_match = re.search(r"^\s*file = (.+)$", text, re.MULTILINE)
    where = file_match.group(1).strip() if file_match else ", ".join(files)
    line_match = re.search(r"CSV Error on Line: (\d+)", text)
    line = f"line {line_match.group(1)}" if line_match else "a line"
    if "unicode" in text.lower() or "utf-8" in text.lower() or "utf8" in text.lower():
        return DataError(
            f"{where}: {line} is not UTF-8 text. Save the file as UTF-8, e.g. "
            f"iconv -f latin1 -t utf-8 old.csv > new.csv."
        )
    fields = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if fields:
        expected, found = fields.groups()
        return DataError(
            f"{where}: {line} has {found} fields but the header has {expected}. Quote values that "
            f'contain the delimiter ("a,b"), or export the file again.'
        )
    if "unterminated quote" in text.lower():
        return DataError(
            f'{where}: {line} has a value with an unterminated quote ("). Close the quote, and '
            f'double the quotes inside a quoted value ("say ""hi""").'
        )
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # DuckDB: "Invalid Input Error: CSV Error on Line: N", "Original Line: ...", the problem, fixes.
    detail = next(
        (ln for ln in lines[1:] if not ln.startswith(("Original Line", "Possible", "*", "file ="))),
        lines[0] if lines else type(err).__name__,
    )
    return DataError(
        f"{where}: DuckDB could not read {line if line_match else 'the file'}: {detail} Check the "
        f"format (CSV with a header line, or Parquet) and the encoding (UTF-8)."
    )


def _sql(con: Any, sql: str, files: list[str]) -> Any:
    """Run ``sql``; a DuckDB read error becomes a one-line :class:`DataError`."""
    try:
        return con.raw_sql(sql)
    except duckdb.Error as err:
        raise _read_error(err, files) from err


def _require_columns(types: dict[str, str], wanted: dict[str, str], files: list[str], what: str) -> None:
    mapping = "users_columns" if what == "users" else "columns"
    for key, column in wanted.items():
        if column not in types:
            found = [c for c in types if c != "__file"]
            stripped = [c for c in found if c.strip() == column]
            close = [c for c in found if words(c) == words(column)] or difflib.get_close_matches(
                column, found, n=1, cutoff=0.5
            )
            if stripped:
                hint = (
                    f" The header has '{stripped[0]}' with spaces around the name: export the "
                    f"file without spaces after the delimiter."
                )
            elif close:
                hint = f" A column named '{close[0]}' exists: map it with {mapping}: {{{key}: {close[0]}}}."
            elif any(re.match(r"\d{4}-\d{2}-\d{2}", c) for c in found):
                hint = " The first line looks like data: add a header line (user_id,event,timestamp)."
            else:
                hint = f" Map the right column with {mapping}: {{{key}: <your column>}} in the params file."
            raise DataError(
                f"{files[0] if len(files) == 1 else what + ' files'}: missing column '{column}' "
                f"(the {key} column). Columns found: {', '.join(found)}.{hint}"
            )


def _require_columns_per_file(schemas: dict[str, dict[str, str]], wanted: dict[str, str], what: str) -> None:
    """Every file has the mapped columns, with the same type in every file."""
    for f, types in schemas.items():
        _require_columns(types, wanted, [f], what)
    first_file, first = next(iter(schemas.items()))
    for f, types in schemas.items():
        for column in wanted.values():
            if types[column] != first[column]:
                raise DataError(
                    f"{f}: column '{column}' has type {types[column]}, but {first[column]} in "
                    f"{first_file}. Export every {what} file with the same schema."
                )


# --------------------------------------------------------------------------------------------
# Columns: timestamps and ids
# --------------------------------------------------------------------------------------------


def _is_numeric(col_type: str) -> bool:
    return col_type.upper().startswith(_NUMERIC_TYPES)


def _warn(message: str, sink: list[str] | None) -> None:
    warnings.warn(message, DataWarning, stacklevel=3)
    if sink is not None:
        sink.append(message)


def timestamp_sql(
    con: Any,
    view: str,
    column: str,
    col_type: str,
    timezone: str,
    source_name: str,
    *,
    warnings_out: list[str] | None = None,
) -> str:
    """SQL expression turning ``column`` of ``view`` into a UTC naive TIMESTAMP (NULL if unparseable).

    Numbers are read as Unix time (see the module docstring), with a :class:`DataWarning`
    (its message is also appended to ``warnings_out``).

    Raises :class:`DataError` when a text column mixes values with and without a UTC offset, or
    numbers and dates, or holds numbers that are no Unix time.
    """
    col = quote_ident(column)
    tz = quote_literal(timezone)
    col_type = col_type.upper()
    if col_type.startswith("TIMESTAMP WITH TIME ZONE") or col_type == "TIMESTAMPTZ":
        # The stored UTC instant without a time-zone library call per row (9x faster than AT TIME ZONE).
        return f"make_timestamp(epoch_us({col}))"
    if col_type.startswith("TIMESTAMP") or col_type == "DATE":
        if timezone == "UTC":
            return f"CAST({col} AS TIMESTAMP)"
        return f"(timezone({tz}, CAST({col} AS TIMESTAMP)) AT TIME ZONE 'UTC')"
    if _is_numeric(col_type):
        number = f"try_cast({col} AS DECIMAL(38, 9))"
        return _epoch_sql(con, view, column, number, source_name, warnings_out)
    if col_type != "VARCHAR":
        raise DataError(
            f"{source_name}: column '{column}' has type {col_type}, not a timestamp. Export it as "
            f"ISO-8601 text (2024-03-05T10:22:13Z) or a Parquet timestamp."
        )
    text = f"trim({col})"
    suffix = f"(regexp_matches({text}, {quote_literal(_OFFSET_RE)}) OR regexp_matches({text}, {quote_literal(_ZONE_RE)}))"
    aware = f"({suffix} AND try_cast({text} AS TIMESTAMPTZ) IS NOT NULL)"
    naive = f"(NOT {suffix} AND try_cast({text} AS TIMESTAMP) IS NOT NULL)"
    numeric = f"regexp_full_match({text}, {quote_literal(_NUMBER_RE)})"
    counts = _sql(
        con,
        f"SELECT count(*) FILTER (WHERE {aware}), count(*) FILTER (WHERE {naive}),"
        f" count(*) FILTER (WHERE {numeric}),"
        f" any_value({col}) FILTER (WHERE {aware}), any_value({col}) FILTER (WHERE {naive}),"
        f" any_value({col}) FILTER (WHERE {numeric})"
        f" FROM {quote_ident(view)} WHERE {col} IS NOT NULL AND {text} <> ''",
        [source_name],
    ).fetchone()
    n_aware, n_naive, n_number, ex_aware, ex_naive, ex_number = counts
    if n_aware and n_naive:
        raise DataError(
            f"{source_name}: column '{column}' mixes timestamps with a UTC offset ({n_aware} rows, "
            f"e.g. {ex_aware!r}) and without one ({n_naive} rows, e.g. {ex_naive!r}). Export all "
            f"timestamps in one form (with an offset, or all in the params timezone)."
        )
    if n_number and (n_aware or n_naive):
        example = ex_aware if n_aware else ex_naive
        raise DataError(
            f"{source_name}: column '{column}' mixes numbers ({n_number} rows, e.g. {ex_number!r}) "
            f"and dates ({n_aware + n_naive} rows, e.g. {example!r}). Export all timestamps in one "
            f"form, preferably ISO-8601 such as 2024-03-05T10:22:13Z."
        )
    if n_number:
        number = f"CASE WHEN {numeric} THEN try_cast({text} AS DECIMAL(38, 9)) END"
        return _epoch_sql(con, view, column, number, source_name, warnings_out)
    if n_aware:
        return f"make_timestamp(epoch_us(try_cast({text} AS TIMESTAMPTZ)))"
    if timezone == "UTC":
        return f"try_cast({text} AS TIMESTAMP)"
    return f"(timezone({tz}, try_cast({text} AS TIMESTAMP)) AT TIME ZONE 'UTC')"


def _epoch_sql(
    con: Any, view: str, column: str, number: str, source_name: str, warnings_out: list[str] | None
) -> str:
    """SQL reading the number expression ``number`` as Unix time in the unit of its median."""
    median, example = _sql(
        con,
        f"SELECT median({number}), any_value({quote_ident(column)}) FROM {quote_ident(view)}"
        f" WHERE {number} IS NOT NULL",
        [source_name],
    ).fetchone()
    unit = next((u for u in _EPOCH_UNITS if median is not None and u[2] <= float(median) < u[3]), None)
    if unit is None:
        raise DataError(
            f"{source_name}: column '{column}' holds numbers (e.g. {str(example)!r}) that are not Unix "
            f"times in seconds, milliseconds, microseconds or nanoseconds between 1973 and 2286. "
            f"Export timestamps as ISO-8601 text such as 2024-03-05T10:22:13Z."
        )
    name, micros, low, high = unit
    sql = (
        f"(CASE WHEN {number} >= {low:.0f} AND {number} < {high:.0f} "
        f"THEN make_timestamp(CAST(round({number} * {micros}) AS BIGINT)) END)"
    )
    shown = con.raw_sql(
        f"SELECT {sql} FROM (SELECT {quote_literal(str(example))} AS {quote_ident(column)})"
    ).fetchone()[0]
    _warn(epoch_message(source_name, column, name, example, shown), warnings_out)
    return sql


def epoch_message(source_name: str, column: str, unit: str, example: Any, shown: Any) -> str:
    """The :class:`DataWarning` text for a timestamp column read as Unix time in ``unit``."""
    return (
        f"{source_name}: column '{column}' holds numbers; they are read as Unix time in {unit} "
        f"(UTC, params timezone not applied), e.g. {str(example)!r} -> {shown} UTC. Values outside "
        f"the range of that unit count as unparseable. Export ISO-8601 timestamps to avoid the guess."
    )


def float_id_message(source_name: str, column: str, example: float) -> str:
    """The :class:`DataWarning` text for user ids stored as floating-point numbers."""
    return (
        f"{source_name}: column '{column}' stores ids as floating-point numbers (e.g. {example!r}); "
        f"they are read as whole numbers ('{int(example)}'). Store ids as text to keep leading zeros."
    )


def _missing_sql(expr: str) -> str:
    # lower(trim(x)) IN NULL_TOKENS as one anchored expression (DuckDB's trim strips spaces only):
    # no string copies per row and no IN-list join, 40% cheaper on every scan of the events.
    alternatives = "|".join(re.escape(t) for t in NULL_TOKENS if t)
    optional = "?" if "" in NULL_TOKENS else ""
    return f"({expr} IS NULL OR regexp_full_match({expr}, {quote_literal(f' *(?i:{alternatives}){optional} *')}))"


def id_sql(
    con: Any,
    view: str,
    column: str,
    col_type: str,
    source_name: str,
    *,
    warnings_out: list[str] | None = None,
) -> str:
    """SQL turning the id column ``column`` of ``view`` into text (see the module docstring)."""
    col = quote_ident(column)
    base = col_type.upper()
    if base in ("FLOAT", "DOUBLE", "REAL") or base.startswith("DECIMAL"):
        finite = f"isfinite(CAST({col} AS DOUBLE))"
        bad, example, n = _sql(
            con,
            f"SELECT any_value({col}) FILTER (WHERE {col} <> trunc({col})), any_value({col}), count({col})"
            f" FROM {quote_ident(view)} WHERE {col} IS NOT NULL AND {finite}",
            [source_name],
        ).fetchone()
        if bad is not None:
            raise DataError(
                f"{source_name}: column '{column}' holds user ids with decimals (e.g. {bad!r}). "
                f"Export ids as text (or whole numbers)."
            )
        if n:
            _warn(float_id_message(source_name, column, example), warnings_out)
        return f"(CASE WHEN {finite} THEN CAST(CAST({col} AS HUGEINT) AS VARCHAR) END)"
    return f"CAST({col} AS VARCHAR)"


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


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
        for file, types in _schemas(con, files).items():
            _require_columns(types, required, [file], what)


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
    cols = params.columns
    notes: list[str] = []
    repeats = False
    details: dict[str, str] = {}
    if params.source == "canonical":
        files = expand_files(
            params.resolve(params.events),
            what="events",
            where=params.where,
            resolved_from=params.resolved_from,
        )
        required = {k: cols[k] for k in ("user_id", "event", "timestamp")}
        _require_columns_per_file(_schemas(con, files), required, "events")
        types = _create_raw_view(con, "raw_events", files)
        source_name = files[0] if len(files) == 1 else params.events
    else:  # a vendor export, read into the raw canonical view (onboarding_analysis.data.sources)
        from . import sources

        read = sources.read_events(con, params, notes)
        files, source_name, cols = read.files, read.source_name, dict(DEFAULT_COLUMNS)
        details = dict(read.defects)
        types = {row[0]: row[1] for row in con.raw_sql("DESCRIBE raw_events").fetchall()}
        repeats = types.pop("__repeat", None) is not None
    ts_sql = timestamp_sql(
        con,
        "raw_events",
        cols["timestamp"],
        types[cols["timestamp"]],
        params.timezone,
        source_name,
        warnings_out=notes,
    )
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
        f"{uid_sql} AS user_id",
        f"CAST({quote_ident(cols['event'])} AS VARCHAR) AS event",
        f"CAST({ts_sql} AS TIMESTAMP) AS ts",
        "__file AS file",
    ]
    select += [f"{quote_ident(cols[c])} AS {quote_ident(c)}" for c in extra]
    select += [
        f"CAST({quote_ident(cols.get(a, a))} AS VARCHAR) AS {quote_ident(a)}" for a in dict.fromkeys(attrs)
    ]
    if repeats:
        select.append("__repeat")
    parsed = "log_events" if params.intercom_export else "parsed_events"
    con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {parsed} AS SELECT {', '.join(select)} FROM raw_events")
    if params.intercom_export:  # Intercom's content data export: more events of the same users
        from .sources import intercom

        files = [*files, *intercom.read(con, params)]
        if "missing user id" in details:
            details["missing user id"] += " (an Intercom receipt counts here when its user_external_id is empty)"
        con.raw_sql(
            "CREATE OR REPLACE TEMP VIEW parsed_events AS SELECT * FROM log_events"
            " UNION ALL BY NAME SELECT * FROM intercom_events"
        )

    # One scan over every column read later (so read errors surface here, as a DataError):
    # rows per file and day, and the row-level defects.
    no_uid = _missing_sql("user_id")
    if known is not None:
        lo, hi = (dt.date.fromisoformat(d) for d in known["range"])
        end = dt.datetime.fromisoformat(known["observation_end"])
        _create_events_view(con, no_uid, lo, hi, end, known["defects"], repeats)
        for message in known["warnings"]:
            _warn(message, notes)
        return Source(
            con=con,
            events=con.table("events"),
            users=users,
            observation_end=end,
            files={str(f): int(n) for f, n in known["files"].items()},
            users_rows=users_rows,
            warnings=notes,
            scan=known,
            source_name=source_name,
            span=tuple(dt.datetime.fromisoformat(t) for t in known["span"]),
            defect_details=details,
        )
    no_event = f"(NOT {no_uid} AND {_missing_sql('event')})"
    no_ts = f"(NOT {no_uid} AND NOT {_missing_sql('event')} AND ts IS NULL)"
    valid = f"(NOT {no_uid} AND NOT {_missing_sql('event')})"
    touch = ", ".join(f"count({quote_ident(c)})" for c in (*extra, *dict.fromkeys(attrs))) or "0"
    scan = _sql(
        con,
        f"SELECT file, CAST(ts AS DATE) AS day, count(*), count(*) FILTER (WHERE {valid}),"
        f" min(ts), max(ts), count(*) FILTER (WHERE {no_uid}), count(*) FILTER (WHERE {no_event}),"
        f" count(*) FILTER (WHERE {no_ts}), {touch}"
        f" FROM parsed_events GROUP BY ALL",
        files,
    ).fetchall()

    def no_timestamp_example() -> Any:
        col = quote_ident(cols["timestamp"])
        row = con.raw_sql(f"SELECT {col} FROM raw_events WHERE {col} IS NOT NULL LIMIT 1").fetchone()
        return row[0] if row else None

    summary = summarise_scan(scan, files, params, source_name, cols, no_timestamp_example)
    per_file, defects, implausible = summary.per_file, summary.defects, summary.implausible
    first_ts, last_ts, lo, hi, end = summary.first_ts, summary.last_ts, summary.lo, summary.hi, summary.end
    _create_events_view(con, no_uid, lo, hi, end, defects, repeats)
    before = len(notes)
    if summary.end_note:
        _warn(summary.end_note, notes)
    if not params.filters:  # a filtered run warns about its own users' rows only (build_facts)
        _warn_defects(
            con, defects, implausible, (first_ts, last_ts), cols, source_name, ts_sql, notes, details=details
        )
    scan = {
        "observation_end": end.isoformat(),
        "range": [lo.isoformat(), hi.isoformat()],
        "span": [first_ts.isoformat(), last_ts.isoformat()],
        "defects": dict(defects),
        "files": dict(per_file),
        "users_rows": users_rows,
        "warnings": notes[before:],
    }
    return Source(
        con=con,
        events=con.table("events"),
        users=users,
        observation_end=end,
        files=per_file,
        users_rows=users_rows,
        warnings=notes,
        scan=scan,
        source_name=source_name,
        span=(first_ts, last_ts),
        defect_details=details,
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
    """The ``events`` view: the parsed rows with their row-level ``reason`` (NULL: usable).

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
        checks += f" WHEN {_missing_sql('event')} THEN 'missing event name'"
    con.raw_sql(
        f"CREATE OR REPLACE TEMP VIEW events AS SELECT *{' EXCLUDE (__repeat)' if repeats else ''}, CASE{checks}"
        " WHEN ts IS NULL THEN 'unparseable timestamp'"
        f" WHEN ts < {lo_lit} OR ts >= {hi_lit} THEN 'implausible timestamp'"
        f" WHEN ts > {end_lit} THEN 'after observation end'"
        + (" WHEN __repeat THEN 'duplicate event'" if repeats else "")
        + " END AS reason FROM parsed_events"
    )


@dataclass(frozen=True)
class ScanSummary:
    """What the loader's scan of every event row found (see :func:`summarise_scan`)."""

    per_file: dict[str, int]
    defects: dict[str, int]
    implausible: int
    first_ts: dt.datetime
    last_ts: dt.datetime
    lo: dt.date
    hi: dt.date
    end: dt.datetime
    #: The warning on a ``T`` that does not fit the data (``observation_end_check: warn``).
    end_note: str | None = None


def summarise_scan(
    rows: Any,
    files: list[str],
    params: Params,
    source_name: str,
    cols: dict[str, str],
    no_timestamp_example: Any,
    file_name: Any = None,
) -> ScanSummary:
    """Rows per file, row defects, the plausible date range and ``T`` from the scan's rows.

    Shared by every engine's loader. ``rows``: ``(file, day, rows, valid rows, min ts, max ts,
    missing ids, missing names, unparseable timestamps, ...)`` per file and day;
    ``no_timestamp_example``: a callable giving one raw timestamp (for the error when none can
    be read); ``file_name``: maps the engine's file names to the input paths (default: same).

    Raises
    ------
    DataError
        No event rows, or no timestamp can be read.
    ParamsError
        ``observation_end`` is before the first plausible event, or does not fit the data
        (:func:`observation_end_problem`).
    """
    per_file = dict.fromkeys(files, 0)
    days: dict[dt.date, list] = {}
    defects = {"missing user id": 0, "missing event name": 0, "unparseable timestamp": 0}
    for file, day, n, n_valid, lo, hi, n_uid, n_event, n_ts, *_ in rows:
        name = file_name(file) if file_name is not None else file
        per_file[name] = per_file.get(name, 0) + int(n)
        defects["missing user id"] += int(n_uid)
        defects["missing event name"] += int(n_event)
        defects["unparseable timestamp"] += int(n_ts)
        if day is not None:
            entry = days.setdefault(day, [0, 0, lo, hi])
            entry[0] += int(n)
            entry[1] += int(n_valid)
            entry[2], entry[3] = min(entry[2], lo), max(entry[3], hi)
    if sum(per_file.values()) == 0:
        raise DataError(f"{source_name}: no event rows (header only?). Export the event log again.")
    if not days:
        example = no_timestamp_example()
        raise DataError(
            f"{source_name}: column '{cols['timestamp']}': no value could be read as a timestamp "
            f"(e.g. {example!r}). Use ISO-8601 such as 2024-03-05T10:22:13Z."
        )
    block = _main_block(sorted(days))
    first_ts = min(days[d][2] for d in block)
    last_ts = max(days[d][3] for d in block)
    lo, hi = min(block), max(block) + dt.timedelta(days=1)
    implausible = sum(v[1] for d, v in days.items() if not lo <= d < hi)
    end = observation_end_timestamp(params)
    end_note = None
    if end is None:
        end = last_ts
    elif end < first_ts:
        raise ParamsError(
            f"{params.where}: key 'observation_end': {params.observation_end} is before the first "
            f"event ({first_ts:%Y-%m-%d %H:%M:%S} UTC). Use a later date, or null for the last event."
        )
    else:
        after = sum(v[1] for d, v in days.items() if lo <= d < hi and v[2] > end)
        total = sum(v[1] for d, v in days.items() if lo <= d < hi)
        end_note = observation_end_problem(params, end, (first_ts, last_ts), after, total)
    return ScanSummary(per_file, defects, implausible, first_ts, last_ts, lo, hi, end, end_note)


def observation_end_problem(
    params: Params, end: dt.datetime, span: tuple[dt.datetime, dt.datetime], after: int, total: int
) -> str | None:
    """Check an explicit ``observation_end`` against the data; the warning text, if any.

    ``T`` must not be later than the last plausible event by more than ``inactivity_days``
    (the days without data would count as inactivity: every user would look churned), nor
    earlier than most of the data (``after`` of the ``total`` usable rows, counted by whole
    days whose every event is after ``T``, would be cut). Either is a :class:`ParamsError`; with
    ``observation_end_check: warn`` it is the returned warning text instead (shown on the
    console, in the data-quality section and in the readiness scorecard).

    Parameters
    ----------
    params : Params
    end : datetime
        ``T``, UTC naive.
    span : tuple of datetime
        The first and last plausible event.
    after, total : int
        Usable rows of the days whose first event is after ``T``, and all usable rows.

    Returns
    -------
    str or None
        The warning (``observation_end_check: warn``), or None when ``T`` fits the data.

    Raises
    ------
    ParamsError
        ``T`` does not fit the data and ``observation_end_check`` is ``error``.
    """
    value = params.observation_end.isoformat()
    last = span[1]
    gap = (end - last).total_seconds() / 86_400
    if gap > params.inactivity_days:
        problem = (
            f"key 'observation_end': {value} is {gap:.1f} days after the last event "
            f"({last:%Y-%m-%d %H:%M:%S} UTC), more than inactivity_days ({params.inactivity_days:g}): "
            f"the days without data count as inactivity, so every user looks churned and retention "
            f"and lifetimes come out too low"
        )
        fix = (
            f"Use null (the last event) or a date at most {params.inactivity_days:g} days after the "
            f"last event; if the product really had no activity since, set observation_end_check: warn."
        )
    elif total and after > total / 2:
        problem = (
            f"key 'observation_end': {value} is earlier than most of the data: {after} of {total} "
            f"events ({after / total:.0%}) are dated after it (the data runs to "
            f"{last:%Y-%m-%d %H:%M:%S} UTC) and would be excluded as 'after observation end'"
        )
        fix = "Use null (the last event) or a later date; if the cut is intended, set observation_end_check: warn."
    else:
        return None
    if params.observation_end_check == "error":
        raise ParamsError(f"{params.where}: {problem}. {fix}")
    return f"{params.where}: {problem} (kept: observation_end_check is warn)."


def _main_block(days: list[dt.date]) -> list[dt.date]:
    """The days of the largest run of event days without a gap > IMPLAUSIBLE_GAP_DAYS.

    "Largest" counts days; ties go to the latest run. ``days`` is sorted.
    """
    blocks: list[list[dt.date]] = [[days[0]]]
    for day in days[1:]:
        if (day - blocks[-1][-1]).days > IMPLAUSIBLE_GAP_DAYS:
            blocks.append([])
        blocks[-1].append(day)
    return max(reversed(blocks), key=len)


def defect_message(
    source_name: str,
    reason: str,
    n: int,
    cols: dict[str, str],
    example: Any = None,
    *,
    scoped: bool = False,
    details: dict[str, str] | None = None,
) -> str:
    """The :class:`DataWarning` text for ``n`` rows excluded under a row-level ``reason``.

    Shared by every engine's loader so that they warn alike. ``example`` is a raw timestamp
    value (``unparseable timestamp`` only). No identifier ever appears in the text.
    ``scoped``: ``n`` counts a filtered run's own users' rows; no example is shown (it could
    come from another client's rows). ``details``: a vendor export's wording of the reasons,
    naming its own fields (:attr:`Source.defect_details`), used instead of the canonical
    column names.

    Parameters
    ----------
    source_name : str
        The events' name in messages.
    reason : str
        A row-level reason (:data:`ROW_REASONS`).
    n : int
        Rows excluded under it.
    cols : dict
        The canonical role -> column mapping (params ``columns``).
    example : object, optional
        A raw timestamp that could not be read.
    scoped : bool
        A filtered run's count: no example shown.
    details : dict, optional
        A vendor export's wording per reason.

    Returns
    -------
    str
        The warning text.
    """
    if details and reason in details:
        detail = details[reason]
    elif reason == "unparseable timestamp":
        shown = "" if scoped else f" (e.g. {str(example)!r})" if example is not None else " (empty)"
        detail = (
            f"column '{cols['timestamp']}' cannot be read as a timestamp{shown}; use ISO-8601 such "
            f"as 2024-03-05T10:22:13Z"
        )
    elif reason == "missing user id":
        detail = f"column '{cols['user_id']}' is empty or NaN/null; fix the export if users should be known"
    elif reason == "missing event name":
        detail = f"column '{cols['event']}' is empty or NaN/null"
    else:
        raise ValueError(f"no warning text for the reason {reason!r}")
    return f"{source_name}: {_rows(n)} excluded as '{reason}': {detail}."


def implausible_message(source_name: str, n: int, span: tuple[dt.datetime, dt.datetime]) -> str:
    """The :class:`DataWarning` text for ``n`` rows excluded as ``implausible timestamp``."""
    return (
        f"{source_name}: {_rows(n)} excluded as 'implausible timestamp': dated more than "
        f"{IMPLAUSIBLE_GAP_DAYS} days away from all other events ({span[0]:%Y-%m-%d} to "
        f"{span[1]:%Y-%m-%d}), e.g. a zero or placeholder written as a date (1970-01-01, 2099-12-31). "
        f"Fix the export if they are real."
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


def warn_row_defects(
    defects: dict[str, int],
    implausible: int,
    span: tuple[dt.datetime, dt.datetime],
    cols: dict[str, str],
    source_name: str,
    notes: list[str],
    *,
    unparseable_example: Any,
    details: dict[str, str] | None = None,
) -> None:
    """The row-defect warnings of every engine's loader, in one order and one wording.

    ``unparseable_example``: a callable returning one raw timestamp that could not be read (run
    only when there is such a row), by the engine's own query. ``details``: a vendor export's
    wording (:func:`defect_message`); its reasons need no example.

    Parameters
    ----------
    defects : dict
        Rows per row-level reason.
    implausible : int
        Rows excluded as ``implausible timestamp``.
    span : tuple of datetime
        The first and last plausible event.
    cols : dict
        The canonical role -> column mapping.
    source_name : str
        The events' name in messages.
    notes : list of str
        Where the warnings are kept (they are also issued as :class:`DataWarning`).
    unparseable_example : callable
        Returns one raw timestamp that could not be read.
    details : dict, optional
        A vendor export's wording per reason.
    """
    for reason, n in defects.items():
        if not n:
            continue
        vendor = bool(details) and reason in details
        example = unparseable_example() if reason == "unparseable timestamp" and not vendor else None
        _warn(defect_message(source_name, reason, n, cols, example, details=details), notes)
    if implausible:
        _warn(implausible_message(source_name, implausible, span), notes)


def _rows(n: int) -> str:
    return f"{n} event row" + ("" if n == 1 else "s")


def users_overlap_message(users_name: str, events_name: str, user_id: str, event_user_id: str) -> str:
    """The :class:`DataError` text for ids written differently in the users table and the events."""
    return (
        f"{users_name}: user ids are written differently in the users table and in the events "
        f"{events_name} (e.g. users {user_id!r}, events {event_user_id!r}), so they do not match. "
        f"Export the ids the same way in both files (as text, keeping leading zeros)."
    )


def _check_users_rows(con: Any, uid_expr: str, files: list[str], source_name: str, column: str) -> int:
    """The users table's row count, after checking it has rows, each with a unique id."""
    n_rows, n_null = _sql(
        con, f"SELECT count(*), count(*) FILTER (WHERE {_missing_sql(uid_expr)}) FROM raw_users", files
    ).fetchone()
    if n_rows == 0:
        raise DataError(
            f"{source_name}: no user rows (header only?). Export the users table again or remove 'users'."
        )
    if n_null:
        raise DataError(
            f"{source_name}: column '{column}' is empty (or NaN/null) in {n_null} rows. Every user row needs an id."
        )
    dup = con.raw_sql(
        f"SELECT {uid_expr}, count(*) FROM raw_users GROUP BY 1 HAVING count(*) > 1 LIMIT 1"
    ).fetchone()
    if dup:
        raise DataError(
            f"{source_name}: user {dup[0]!r} appears in {dup[1]} rows of column '{column}'. "
            f"The users table needs one row per user: remove the duplicates."
        )
    return int(n_rows)


def _load_users(
    con: Any, params: Params, notes: list[str] | None = None, checked: bool = False
) -> tuple[Any, int, list[str]]:
    """The canonical users view, its row count (0 when ``checked``) and its attribute columns.

    ``checked``: the same file passed the checks before (a facts cache hit): they are skipped.
    """
    cols = params.user_columns
    from . import sources

    read = sources.read_users(con, params, notes if notes is not None else [])
    if read is None:
        files = expand_files(
            params.resolve(params.users), what="users", where=params.where, resolved_from=params.resolved_from
        )
        _require_columns_per_file(_schemas(con, files), {"user_id": cols["user_id"]}, "users")
        types = _create_raw_view(con, "raw_users", files)
        if not checked:
            # Read the files once (the checks and the facts each scan the table): one row per user.
            _sql(con, "CREATE OR REPLACE TEMP TABLE raw_users_read AS SELECT * FROM raw_users", files)
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
        ts_sql = timestamp_sql(
            con,
            "raw_users",
            cols["signup_at"],
            types[cols["signup_at"]],
            params.timezone,
            source_name,
            warnings_out=notes,
        )
        bad = None
        if not checked:
            signup = quote_ident(cols["signup_at"])
            bad = _sql(
                con,
                f"SELECT {signup} FROM raw_users WHERE {signup} IS NOT NULL"
                f" AND trim(CAST({signup} AS VARCHAR)) <> '' AND {ts_sql} IS NULL LIMIT 1",
                files,
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
