"""The input files: a path or glob expanded into files, their format, and remote URIs.

A leaf of the data path: the loaders (DuckDB and Spark) and the vendor readers all use it.
"""

from __future__ import annotations

import glob as globlib
import urllib.parse
from pathlib import Path

from ..errors import DataError

_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def expand_files(pattern: str, *, what: str, where: str, resolved_from: str | None = None) -> list[str]:
    """Expand a path or glob into a sorted list of files, with clear errors.

    ``what`` names the params key (``events``/``users``), ``where`` the params file and
    ``resolved_from`` says where its relative paths start (:attr:`Params.resolved_from`;
    default: the working directory, where a relative ``pattern`` is looked up).
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
    name = path.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    return None


def is_remote(path: str) -> bool:
    """True for a URI Spark reads but the local file system does not (``s3a://``, ``hdfs://``...)."""
    scheme = urllib.parse.urlparse(str(path)).scheme
    return len(scheme) > 1 and scheme != "file"


__all__ = ["expand_files", "file_format", "is_remote"]
