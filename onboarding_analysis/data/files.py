"""The input files: a path or glob expanded into files, their format, CSV headers, remote URIs.

A leaf of the data path: the loaders (DuckDB and Spark) and the vendor readers all use it.
"""

from __future__ import annotations

import codecs
import csv
import glob as globlib
import gzip
import urllib.parse
from pathlib import Path

from ..errors import DataError

_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_DELIMITERS = (",", "\t", ";", "|")


def expand_files(pattern: str, *, what: str, where: str, resolved_from: str | None = None) -> list[str]:
    """Expand a path or glob into a sorted list of files, with clear errors.

    ``what`` names the params key (``events``/``users``), ``where`` the params file and
    ``resolved_from`` says where its relative paths start (:attr:`Params.resolved_from`;
    default: the working directory, where a relative ``pattern`` is looked up).

    Parameters
    ----------
    pattern : str
        A file path or glob.
    what : str
        The params key, named in errors.
    where : str
        The params file, named in errors.
    resolved_from : str or None, optional
        Where relative paths start, said in errors (None: the working directory).

    Returns
    -------
    list[str]
        The matching files, sorted, all CSV or all Parquet.

    Raises
    ------
    DataError
        ``pattern`` is a directory, matches no file, names a missing or empty file, a file of
        unknown type, or mixes CSV and Parquet.
    """
    if resolved_from is None:
        resolved_from = f"relative paths start at the working directory, {Path.cwd()}"
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
            f"{where}: key '{what}': the glob {pattern} matches no file. Check the path and pattern "
            f"({resolved_from})."
        )
    for f in files:
        if not Path(f).exists():
            raise DataError(f"{where}: key '{what}': file {f} not found. Check the path ({resolved_from}).")
        if Path(f).stat().st_size == 0:
            raise DataError(f"{f}: the file is empty. Remove it from '{what}' or export it again.")
    formats = {file_format(f) for f in files}
    if None in formats:
        bad = next(f for f in files if file_format(f) is None)
        raise DataError(f"{bad}: unknown file type. Use CSV (.csv, .csv.gz, .tsv) or Parquet (.parquet).")
    if len(formats) > 1:
        raise DataError(f"{where}: key '{what}': {pattern} mixes CSV and Parquet files; use one format.")
    return files


def file_format(path: str) -> str | None:
    """Return the format of an input file from its name.

    Parameters
    ----------
    path : str
        A file name or path.

    Returns
    -------
    str or None
        ``csv``, ``parquet``, or None for another ending.
    """
    name = path.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    return None


def is_remote(path: str) -> bool:
    """Return True for a URI Spark reads but the local file system does not (``s3a://``, ``hdfs://``...).

    Parameters
    ----------
    path : str
        A params path.

    Returns
    -------
    bool
        True when ``path`` has a URI scheme of two letters or more other than ``file``.
    """
    scheme = urllib.parse.urlparse(str(path)).scheme
    return len(scheme) > 1 and scheme != "file"


def csv_header(path: str) -> tuple[str, list[str]]:
    """Return the delimiter and column names of a CSV file, from its first line.

    Parameters
    ----------
    path : str
        A CSV file, optionally gzipped (``.gz``).

    Returns
    -------
    delimiter : str
        The most frequent of ``,``, tab, ``;`` and ``|`` in the first line.
    names : list[str]
        The column names; an empty name becomes ``column<i>``.

    Raises
    ------
    DataError
        The file cannot be read, or its first line is not UTF-8, is empty or names a column twice.
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


__all__ = ["csv_header", "expand_files", "file_format", "is_remote"]
