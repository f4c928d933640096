"""DuckDB over the input files: the connection, one raw view per input, and one-line read errors.

The DuckDB loader (:mod:`~onboarding_analysis.data.loading`) reads CSV and Parquet files
through the views made here; DuckDB reads them lazily, so nothing materialises the event log
in pandas. CSV files are read as text, with the delimiter and column names of each file's
header (:func:`~onboarding_analysis.data.files.csv_header`); a DuckDB read error becomes one
:class:`~onboarding_analysis.errors.DataError` line naming the file and line.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import ibis

from ..errors import DataError
from .files import csv_header, file_format
from .sql import quote_ident, quote_literal


def connect(threads: int | None = None) -> Any:
    """Return a fresh in-memory ibis DuckDB connection with the session time zone pinned to UTC.

    Parameters
    ----------
    threads : int or None, optional
        DuckDB's thread count (None or 0: DuckDB's default).

    Returns
    -------
    ibis.backends.duckdb.Backend
        The connection.
    """
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'UTC'")
    if threads:
        con.raw_sql(f"SET threads = {int(threads)}")
    return con


def _csv_reader(files: list[str], delimiter: str, names: list[str]) -> str:
    listed = "[" + ", ".join(quote_literal(f) for f in files) + "]"
    columns = "{" + ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names) + "}"
    return (
        f"SELECT * FROM read_csv({listed}, header = true, auto_detect = false, "
        f"delim = {quote_literal(delimiter)}, quote = '\"', escape = '\"', columns = {columns}, "
        f"strict_mode = true, filename = '__file')"
    )


def file_schemas(con: Any, files: list[str]) -> dict[str, dict[str, str]]:
    """Column -> type of every file (CSV: all VARCHAR, from the header).

    Parameters
    ----------
    con : Any
        An ibis DuckDB connection.
    files : list[str]
        The input files, all of the format of the first (CSV or Parquet).

    Returns
    -------
    dict[str, dict[str, str]]
        Each file mapped to its column -> DuckDB type mapping.

    Raises
    ------
    DataError
        A Parquet file cannot be read (:func:`read_error`).
    """
    out: dict[str, dict[str, str]] = {}
    if file_format(files[0]) == "csv":
        for f in files:
            out[f] = dict.fromkeys(csv_header(f)[1], "VARCHAR")
        return out
    for f in files:
        try:
            rows = con.raw_sql(f"DESCRIBE SELECT * FROM read_parquet({quote_literal(f)})").fetchall()
        except duckdb.Error as err:
            raise read_error(err, [f]) from err
        out[f] = {row[0]: row[1] for row in rows}
    return out


def create_raw_view(con: Any, view: str, files: list[str]) -> dict[str, str]:
    """Create ``view`` over the files; return its column -> DuckDB type mapping.

    Parameters
    ----------
    con : Any
        An ibis DuckDB connection.
    view : str
        The name of the temporary view to create (or replace).
    files : list[str]
        The input files (CSV or Parquet, as the first); ``__file`` holds each row's file.

    Returns
    -------
    dict[str, str]
        The view's column -> DuckDB type mapping.

    Raises
    ------
    DataError
        DuckDB cannot read the files (:func:`read_error`).
    """
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
        raise read_error(err, files) from err
    return {row[0]: row[1] for row in described}


def read_error(err: Exception, files: list[str]) -> DataError:
    """Return a one-line :class:`DataError` from a DuckDB read error.

    Parameters
    ----------
    err : Exception
        The DuckDB error.
    files : list[str]
        The files read, named when the error names none.

    Returns
    -------
    DataError
        One line naming the file, the line when known, the problem and the fix.
    """
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


def run_sql(con: Any, sql: str, files: list[str]) -> Any:
    """Run ``sql``; a DuckDB read error becomes a one-line :class:`DataError`.

    Parameters
    ----------
    con : Any
        An ibis DuckDB connection.
    sql : str
        The SQL to run.
    files : list[str]
        The files the SQL reads, for the error message.

    Returns
    -------
    Any
        DuckDB's result of ``con.raw_sql(sql)``.

    Raises
    ------
    DataError
        DuckDB failed (:func:`read_error`).
    """
    try:
        return con.raw_sql(sql)
    except duckdb.Error as err:
        raise read_error(err, files) from err


__all__ = ["connect", "create_raw_view", "file_schemas", "read_error", "run_sql"]
