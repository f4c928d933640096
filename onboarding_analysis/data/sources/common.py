"""What every vendor reader shares.

Finding the export's files, reading JSON lines in DuckDB,
properties as columns, and the ``__repeat`` flag of rows repeating a vendor event id.

A zip (the Amplitude Export API's answer) is extracted once per process into a temporary
folder (streamed member by member; removed at exit); its members are named
``<zip>/<member>`` in the row accounting.
"""

from __future__ import annotations

import atexit
import glob as globlib
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import duckdb

from ...errors import DataError
from ..sql import quote_ident, quote_literal

#: Suffixes of JSON-lines files (optionally gzipped).
JSON_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
#: Zip path -> (extraction folder, [(file on disk, name in the accounting)]).
_EXTRACTED: dict[tuple[str, int, int], tuple[str, list[tuple[str, str]]]] = {}


def _cleanup() -> None:
    for folder, _ in _EXTRACTED.values():
        shutil.rmtree(folder, ignore_errors=True)


atexit.register(_cleanup)


def export_files(pattern: str, *, what: str, where: str, suffixes: tuple[str, ...]) -> list[tuple[str, str]]:
    """Return the files of an export: ``(path on disk, name in the accounting)``, sorted by name.

    ``pattern`` is a file, a glob, a folder (its files with one of ``suffixes``, recursively)
    or a zip (its members with one of ``suffixes``).

    Parameters
    ----------
    pattern : str
        The resolved params value.
    what : str
        The params key (``events``, ``users``, ``intercom_export``), for messages.
    where : str
        The params file, for messages.
    suffixes : tuple of str
        The file types the vendor exports.

    Returns
    -------
    list of (str, str)
        ``(path on disk, name in the accounting)`` per file; a zip's members are extracted.

    Raises
    ------
    DataError
        Nothing matches, a file is empty, a zip holds none of the expected files or is no zip.
    """
    path = Path(pattern)
    if path.is_dir():
        found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes))
        if not found:
            raise DataError(
                f"{where}: key '{what}': the folder {pattern} holds no {' / '.join(suffixes)} file. "
                f"Point '{what}' at the export's files."
            )
        pairs = [(f, f) for f in found]
    elif pattern.lower().endswith(".zip"):
        pairs = _zip_members(pattern, what=what, where=where, suffixes=suffixes)
    else:
        matched = sorted(globlib.glob(pattern)) if globlib.has_magic(pattern) else [pattern]
        matched = [f for f in matched if not Path(f).is_dir()]
        if not matched:
            raise DataError(f"{where}: key '{what}': {pattern} matches no file. Check the path and pattern.")
        pairs = []
        for f in matched:
            if f.lower().endswith(".zip"):
                pairs += _zip_members(f, what=what, where=where, suffixes=suffixes)
            else:
                pairs.append((f, f))
    for disk, name in pairs:
        if not Path(disk).exists():
            raise DataError(
                f"{where}: key '{what}': file {name} not found. Check the path (relative paths start at "
                f"the project root)."
            )
        if Path(disk).stat().st_size == 0:
            raise DataError(f"{name}: the file is empty. Remove it from '{what}' or export it again.")
        if not name.lower().endswith(suffixes):
            raise DataError(
                f"{name}: not a file of this export (expected {' / '.join(suffixes)}). Check params "
                f"'{what}' and 'source'."
            )
    return pairs


def _zip_members(zip_path: str, *, what: str, where: str, suffixes: tuple[str, ...]) -> list[tuple[str, str]]:
    if not Path(zip_path).exists():
        raise DataError(f"{where}: key '{what}': file {zip_path} not found. Check the path.")
    stat = Path(zip_path).stat()
    key = (str(Path(zip_path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _EXTRACTED:
        return list(_EXTRACTED[key][1])
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{zip_path}: not a readable zip file ({err}). Download the export again.") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        wanted = [m for m in members if m.filename.lower().endswith(suffixes)]
        if not wanted:
            names = ", ".join(m.filename for m in members[:3]) or "nothing"
            raise DataError(
                f"{zip_path}: the zip holds no {' / '.join(suffixes)} file (it holds {names}). "
                f"Check that this is the vendor's export and params 'source'."
            )
        folder = tempfile.mkdtemp(prefix="oa-export-")
        pairs = []
        for i, member in enumerate(sorted(wanted, key=lambda m: m.filename)):
            target = Path(folder) / f"{i:06d}_{Path(member.filename).name}"
            with archive.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            pairs.append((str(target), f"{zip_path}/{member.filename}"))
    _EXTRACTED[key] = (folder, pairs)
    return list(pairs)


def source_name(pattern: str, pairs: list[tuple[str, str]]) -> str:
    """How messages name the export: its one file, else the pattern (the zip, folder or glob).

    Parameters
    ----------
    pattern : str
        The params value (a file, zip, folder or glob).
    pairs : list of (str, str)
        ``(path on disk, name in the accounting)`` per file.

    Returns
    -------
    str
        The one file's accounting name, else ``pattern``.
    """
    return pairs[0][1] if len(pairs) == 1 else pattern


#: A text field that counts as missing when blank: ``BLANK.format(column)`` is its SQL.
BLANK = "nullif(trim({}), '')"


def event_export(params: Any, suffixes: tuple[str, ...]) -> tuple[list[tuple[str, str]], str]:
    """Return the files of params ``events`` (a zip's extracted members) and the export's name in messages.

    Parameters
    ----------
    params : Params
        The run's params (its ``events`` pattern).
    suffixes : tuple of str
        The file endings the vendor's export uses.

    Returns
    -------
    pairs : list of tuple
        ``(file on disk, name in the accounting)`` per file.
    name : str
        How messages name the export (:func:`source_name`).

    Raises
    ------
    DataError
        No export file, an empty file, or a zip of something else (:func:`export_files`).
    """
    pattern = params.resolve(params.events)
    pairs = export_files(pattern, what="events", where=params.where, suffixes=suffixes)
    return pairs, source_name(pattern, pairs)


def attribute_keys(params: Any) -> list[str]:
    """Return the segment and filter attributes of a run, once each, in params order.

    Parameters
    ----------
    params : Params
        The run's params.

    Returns
    -------
    list of str
        ``segments`` then ``filters``, without repeats.
    """
    return list(dict.fromkeys((*params.segments, *params.filters)))


def aliased(columns: dict[str, str]) -> str:
    """Return a select list ``sql AS "name", ...`` of named SQL expressions.

    Parameters
    ----------
    columns : dict
        Output column name -> its SQL expression.

    Returns
    -------
    str
        The select list (empty for no columns).
    """
    return ", ".join(f"{sql} AS {quote_ident(c)}" for c, sql in columns.items())


def file_names(pairs: list[tuple[str, str]]) -> str:
    """Return SQL ``CASE filename WHEN <disk> THEN <name> ...`` (without ``END``): a row's file in the accounting.

    Parameters
    ----------
    pairs : list of tuple
        ``(file on disk, name in the accounting)`` per file.

    Returns
    -------
    str
        The opened CASE expression; the caller closes it with ``END``.
    """
    return "CASE filename " + " ".join(
        f"WHEN {quote_literal(disk)} THEN {quote_literal(name)}" for disk, name in pairs
    )


def disk_files(suffixes: tuple[str, ...]) -> Any:
    """Return a vendor's ``input_files``: the export's files on disk (a zip's extracted members).

    Parameters
    ----------
    suffixes : tuple of str
        The file endings of the vendor's export.

    Returns
    -------
    callable
        ``input_files(pattern, *, what, where) -> list of str``, as :func:`export_files` lists them.
    """

    def input_files(pattern: str, *, what: str, where: str) -> list[str]:
        """Return the export's files on disk (:func:`export_files`, paths only).

        Parameters
        ----------
        pattern : str
            The resolved params value.
        what : str
            The params key, for messages.
        where : str
            The params file, for messages.

        Returns
        -------
        list of str
            The files on disk.
        """
        return [disk for disk, _ in export_files(pattern, what=what, where=where, suffixes=suffixes)]

    return input_files


def json_lines(pairs: list[tuple[str, str]], columns: dict[str, str]) -> str:
    """Return SQL reading JSON-lines files with exactly ``columns`` (name -> DuckDB type).

    It adds ``__file`` (the name in the accounting). Missing keys are NULL; ids declared VARCHAR stay text (a
    UUID-looking id is never typed UUID).

    Parameters
    ----------
    pairs : list of (str, str)
        ``(path on disk, name in the accounting)`` per file.
    columns : dict[str, str]
        The keys to read, mapped to their DuckDB types.

    Returns
    -------
    str
        A ``SELECT`` over ``read_json``.
    """
    listed = "[" + ", ".join(quote_literal(disk) for disk, _ in pairs) + "]"
    spec = "{" + ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in columns.items()) + "}"
    names = file_names(pairs)
    return (
        f"SELECT * EXCLUDE (filename), {names} END AS __file FROM read_json({listed}, "
        f"format = 'newline_delimited', columns = {spec}, filename = true, maximum_object_size = 134217728)"
    )


def run(con: Any, sql: str, pairs: list[tuple[str, str]], *, hint: str = "") -> Any:
    """Run ``sql``; a DuckDB read error becomes a one-line :class:`DataError` naming the file.

    Parameters
    ----------
    con : Any
        An ibis DuckDB connection.
    sql : str
        The SQL to run.
    pairs : list of (str, str)
        ``(path on disk, name in the accounting)`` per file read.
    hint : str, optional
        Text appended to the error message.

    Returns
    -------
    Any
        DuckDB's result of ``con.raw_sql(sql)``.

    Raises
    ------
    DataError
        DuckDB could not read or convert the files (:func:`read_error`).
    """
    try:
        return con.raw_sql(sql)
    except (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException) as err:
        raise read_error(err, pairs, hint) from err


def read_error(err: Exception, pairs: list[tuple[str, str]], hint: str = "") -> DataError:
    """Return a one-line :class:`DataError` from a DuckDB JSON read error (the file, the line, the fix).

    Parameters
    ----------
    err : Exception
        The DuckDB error.
    pairs : list of (str, str)
        ``(path on disk, name in the accounting)`` per file read.
    hint : str, optional
        Text appended to the message.

    Returns
    -------
    DataError
        One line naming the file by its accounting name, the line when known and the fix.
    """
    text = " ".join(str(err).split())
    names = dict(pairs)
    match = re.search(r'in file "([^"]+)"', text)
    where = names.get(match.group(1), match.group(1)) if match else ", ".join(n for _, n in pairs[:3])
    line = re.search(r"(at byte \d+ )?in line (\d+)", text)
    at = f"line {line.group(2)}" if line else "a line"
    if "Malformed JSON" in text or "JSON" in text:
        detail = text.split(":", 2)[-1].strip()
        return DataError(
            f"{where}: {at} is not one complete JSON object ({detail}). The export was cut off or is "
            f"not JSON lines: download it again.{hint}"
        )
    if "gzip" in text.lower() or "decompress" in text.lower():
        return DataError(f"{where}: cannot be decompressed ({text}). Download the export again.")
    return DataError(f"{where}: DuckDB could not read it ({text}). Check params 'source' and the file.{hint}")


def json_text(column: str, key: str) -> str:
    """Return SQL: the text of ``key`` of the JSON object ``column`` (NULL when absent or null).

    Parameters
    ----------
    column : str
        The JSON column.
    key : str
        The key (quoted, so dots and spaces are literal).

    Returns
    -------
    str
        A ``json_extract_string`` expression.
    """
    path = quote_literal("$." + '"' + key.replace('"', '\\"') + '"')
    return f"json_extract_string({quote_ident(column)}, {path})"


def repeat_flag(key: list[str], order: list[str]) -> str:
    """Return SQL: TRUE on every row whose vendor id ``key`` (all non-NULL) repeats an earlier row's.

    Rows are ordered by ``__file`` then ``order``, so the copy kept does not depend on the
    engine's reading order. A NULL key never repeats.

    Parameters
    ----------
    key : list of str
        The SQL columns of the vendor's event id.
    order : list of str
        The SQL columns ordering rows within a file.

    Returns
    -------
    str
        A boolean SQL expression.
    """
    part = ", ".join(key)
    ordered = ", ".join(["__file", *order])
    not_null = " AND ".join(f"{k} IS NOT NULL" for k in key)
    return f"({not_null} AND row_number() OVER (PARTITION BY {part} ORDER BY {ordered}) > 1)"


def attribute_columns(params: Any) -> list[str]:
    """Return the attribute columns a run reads from the events: its segments and filters.

    Parameters
    ----------
    params : Params
        The run's params (``segments`` and ``filters`` are read).

    Returns
    -------
    list of str
        The segment then filter columns, once each, in params order.
    """
    wanted = [*params.segments, *params.filters]
    return list(dict.fromkeys(wanted))


def finish(
    con: Any,
    table: str,
    pairs: list[tuple[str, str]],
    name: str,
    *,
    optional: list[str],
    defects: dict[str, str] | None = None,
) -> Any:
    """Expose ``table`` as ``raw_events``, leaving out the optional columns no row fills.

    Parameters
    ----------
    con : ibis DuckDB backend
        The run's connection.
    table : str
        The reader's table of canonical rows.
    pairs : list of (str, str)
        The export's files: (path on disk, name in the accounting).
    name : str
        How messages name the export.
    optional : list of str
        Optional columns (``value``, ``client``, ``account_id``) left out when no row fills them.
    defects : dict, optional
        The row-level reasons worded with the vendor's field names
        (:attr:`onboarding_analysis.sources.Read.defects`).

    Returns
    -------
    Read
        The files read, the export's name and ``defects``.
    """
    if optional:
        counts = con.raw_sql(
            "SELECT "
            + ", ".join(f"count({quote_ident(c)})" for c in optional)
            + f" FROM {quote_ident(table)}"
        ).fetchone()
        empty = [c for c, n in zip(optional, counts, strict=True) if not n]
    else:
        empty = []
    drop = f" EXCLUDE ({', '.join(quote_ident(c) for c in empty)})" if empty else ""
    con.raw_sql(f"CREATE OR REPLACE TEMP VIEW raw_events AS SELECT *{drop} FROM {quote_ident(table)}")
    from . import Read

    return Read(files=[n for _, n in pairs], source_name=name, defects=dict(defects or {}))


__all__ = [
    "JSON_SUFFIXES",
    "attribute_columns",
    "export_files",
    "finish",
    "json_lines",
    "json_text",
    "read_error",
    "repeat_flag",
    "run",
    "source_name",
]
