"""The Spark loader: the canonical tables of the data contract, built in a Spark session.

:func:`load_spark` builds the ``events`` and ``users`` tables of
:class:`~onboarding_analysis.data.contract.Source` with the same types and row-level rules as
the DuckDB loader (:mod:`~onboarding_analysis.data.loading`): UTC timestamps, the ``reason`` of
an unusable row, the data-contract errors and warnings, all worded by
:mod:`~onboarding_analysis.data.contract` and :mod:`~onboarding_analysis.data.scan`. The facts
expression then runs unchanged on either engine; only the result, one row per user, comes back
to the driver. Column expressions use the Column API (no SQL text), so regular expressions and
quotes pass through unchanged. The session and engine choice: :mod:`~onboarding_analysis.data.engines`.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from pathlib import Path
from typing import Any

from ..errors import DataError, ParamsError
from ..params import Params
from .contract import (
    NULL_TOKENS,
    NUMBER_RE,
    OFFSET_RE,
    ZONE_RE,
    Source,
    bad_signup,
    check_timestamp_forms,
    check_user_rows,
    check_whole_ids,
    epoch_message,
    epoch_unit,
    event_attributes,
    float_id_message,
    not_a_timestamp_type,
    require_columns,
    require_columns_per_file,
    warn,
)
from .files import csv_header, expand_files, file_format, is_remote
from .scan import summarise_scan, warn_row_defects

#: Names of the canonical tables (temporary views) in the Spark session.
EVENTS_VIEW = "oa_events"
USERS_VIEW = "oa_users"


#: Spark type names read as numbers (a timestamp column of these holds Unix times).
_SPARK_NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")


def load_spark(params: Params, con: Any) -> Source:
    """Open the events (and users) of a run as canonical ibis tables in a Spark session.

    The contract of :func:`onboarding_analysis.data.loading.load`: the same columns and types
    (``ts`` is a UTC ``TIMESTAMP_NTZ``), the same ``reason`` per row, the same errors and
    :class:`~onboarding_analysis.errors.DataWarning` messages. Paths may be local (globs
    allowed) or URIs Spark reads (``s3a://``, ``hdfs://``, ``abfss://``, ...); the per-file
    checks that need the file itself (headers, Parquet schemas) run only on local files. The
    tables are temporary views (:data:`EVENTS_VIEW`, :data:`USERS_VIEW`); only counts per file
    and day and a few examples reach the driver.

    Parameters
    ----------
    params : Params
        The run's params (``source: canonical``).
    con : ibis pyspark backend
        The connection whose session reads the files.

    Returns
    -------
    Source
        The canonical tables, as temporary views of the session.

    Raises
    ------
    DataError, ParamsError
        As :func:`onboarding_analysis.data.loading.load`; a vendor export (params ``source``)
        is a :class:`ParamsError` (read with engine: duckdb only).
    """
    from pyspark.sql import functions as F

    if params.source != "canonical":
        raise ParamsError(
            f"{params.where}: key 'source': {params.source} exports are read with engine: duckdb only. "
            f"Set engine: duckdb, or convert the export to the canonical columns first."
        )
    spark = con._session
    cols = params.columns
    notes: list[str] = []
    files = spark_files(params, "events")
    required = {k: cols[k] for k in ("user_id", "event", "timestamp")}
    raw = _read(spark, files, "events", required)
    types = _types(raw)
    require_columns(types, required, files, "events")
    source_name = files[0] if len(files) == 1 else params.events
    ts = _timestamp_column(
        spark, raw, cols["timestamp"], types[cols["timestamp"]], params.timezone, source_name, notes
    )
    uid = _id_column(raw, cols["user_id"], types[cols["user_id"]], source_name, notes)

    users = None
    users_rows = 0
    user_attrs: list[str] = []
    if params.users:
        users, users_rows, user_attrs = _load_users_spark(con, params, notes)

    attrs, extra = event_attributes(params, cols, types, user_attrs)
    parsed = raw.select(
        uid.alias("user_id"),
        F.col(_q(cols["event"])).cast("string").alias("event"),
        ts.alias("ts"),
        F.col("__file"),
        *[F.col(_q(cols[c])).alias(c) for c in extra],
        *[F.col(_q(cols.get(a, a))).cast("string").alias(a) for a in attrs],
    )
    spark_names: dict[str, str] = {}

    summary = summarise_scan(
        _scan_events(parsed, files),
        files,
        params,
        source_name,
        cols,
        lambda: _no_timestamp_example(raw, cols["timestamp"]),
        file_name=lambda file: spark_names.setdefault(file, _original_name(file, files)),
    )
    _events_view(parsed, summary, spark_names, [*extra, *attrs])
    if summary.end_note:
        warn(summary.end_note, notes)
    span = (summary.first_ts, summary.last_ts)
    if not params.filters:  # a filtered run warns about its own users' rows only (build_facts)
        warn_row_defects(
            summary.defects,
            summary.implausible,
            span,
            cols,
            source_name,
            notes,
            unparseable_example=lambda: _unparseable_example(raw, cols["timestamp"], ts),
        )
    return Source(
        con=con,
        events=con.table(EVENTS_VIEW),
        users=users,
        observation_end=summary.end,
        files=summary.per_file,
        users_rows=users_rows,
        warnings=notes,
        source_name=source_name,
        span=span,
    )


def _no_timestamp_example(raw: Any, column: str) -> Any:
    """Return one non-NULL raw value of ``column`` (None if empty), for the no-timestamp error."""
    from pyspark.sql import functions as F

    row = raw.where(F.col(_q(column)).isNotNull()).select(_q(column)).first()
    return row[0] if row else None


def _valid_masks() -> tuple[Any, Any, Any]:
    """Return the Spark columns of a missing user id, a missing event name and a usable row."""
    from pyspark.sql import functions as F

    no_uid = _missing(F.col("user_id"))
    no_event = _missing(F.col("event"))
    return no_uid, no_event, ~no_uid & ~no_event


def _scan_events(parsed: Any, files: list[str]) -> list:
    """loading._scan_events: rows, usable rows, span and defects per file and day."""
    from pyspark.sql import functions as F

    no_uid, no_event, valid = _valid_masks()
    return _collect(
        parsed.groupBy("__file", F.to_date("ts").alias("day")).agg(
            F.count(F.lit(1)),
            F.count(F.when(valid, 1)),
            F.min("ts"),
            F.max("ts"),
            F.count(F.when(no_uid, 1)),
            F.count(F.when(~no_uid & no_event, 1)),
            F.count(F.when(valid & F.col("ts").isNull(), 1)),
        ),
        files,
    )


def _events_view(parsed: Any, summary: Any, spark_names: dict[str, str], columns: list[str]) -> None:
    """loading._create_events_view: the parsed rows with their row-level ``reason``."""
    from pyspark.sql import functions as F

    no_uid, no_event, _ = _valid_masks()
    lo, hi, end = summary.lo, summary.hi, summary.end
    reason = (
        F.when(no_uid, "missing user id")
        .when(no_event, "missing event name")
        .when(F.col("ts").isNull(), "unparseable timestamp")
        .when(
            (F.col("ts") < _ntz(dt.datetime.combine(lo, dt.time())))
            | (F.col("ts") >= _ntz(dt.datetime.combine(hi, dt.time()))),
            "implausible timestamp",
        )
        .when(F.col("ts") > _ntz(end), "after observation end")
    )
    file_name = F.lit(None).cast("string")
    for spark_name, name in spark_names.items():
        file_name = F.when(F.col("__file") == spark_name, F.lit(name)).otherwise(file_name)
    events = parsed.select(
        "user_id", "event", "ts", file_name.alias("file"), *columns, reason.alias("reason")
    )
    events.createOrReplaceTempView(EVENTS_VIEW)


def spark_files(params: Params, what: str) -> list[str]:
    """Return the files of params ``what`` (``events``/``users``): expanded locally, or the URI as is.

    Parameters
    ----------
    params : Params
        The run's params.
    what : str
        ``events`` or ``users``.

    Returns
    -------
    list of str
        The local files of the path or glob, or the one remote URI.

    Raises
    ------
    DataError
        A local path matches no file, or a file is empty.
    """
    pattern = getattr(params, what)
    if is_remote(pattern):
        return [pattern]
    return expand_files(
        params.resolve(pattern), what=what, where=params.where, resolved_from=params.resolved_from
    )


def _q(name: str) -> str:
    """Return a column name quoted for ``F.col`` (dots and backticks are literal)."""
    return "`" + str(name).replace("`", "``") + "`"


def _collect(frame: Any, files: list[str]) -> list:
    """``frame.collect()``; a Spark read error becomes a :class:`DataError` naming the files."""
    try:
        return frame.collect()
    except Exception as err:  # py4j/pyspark errors have no common public base across versions
        raise _read_failed(err, files) from err


def _read_failed(err: Exception, files: list[str]) -> DataError:
    """Return a one-line :class:`DataError` from a Spark read error, naming the files."""
    first = next((ln.strip() for ln in str(err).splitlines() if ln.strip()), type(err).__name__)
    return DataError(
        f"{', '.join(files)}: Spark could not read the file(s): {first[:300]} Check the format "
        f"(CSV with a header line, or Parquet) and the encoding (UTF-8)."
    )


def _read(spark: Any, files: list[str], what: str, required: dict[str, str]) -> Any:
    """Return the files as one DataFrame with Spark's name of each row's file in ``__file``.

    Local files get loading.py's per-file checks first (CSV header and delimiter, Parquet
    schema: every file has the mapped columns, with the same types).
    """
    from pyspark.sql import functions as F

    local = [f for f in files if not is_remote(f)]
    csv = file_format(files[0]) == "csv"
    if local and csv:
        require_columns_per_file(
            {f: dict.fromkeys(csv_header(f)[1], "VARCHAR") for f in local}, required, what
        )
    elif local:
        require_columns_per_file({f: _parquet_types(f) for f in local}, required, what)
    try:
        if csv:
            # Spark takes the column order of a glob's first header: group files by header.
            groups: dict[tuple, list[str]] = {}
            for f in files:
                header = csv_header(f) if f in local else (",", None)
                groups.setdefault((header[0], tuple(header[1] or ())), []).append(f)
            frames = [
                spark.read.csv(
                    group, header=True, inferSchema=False, sep=sep, quote='"', escape='"', mode="FAILFAST"
                )
                for (sep, _), group in groups.items()
            ]
            frame = frames[0]
            for other in frames[1:]:
                frame = frame.unionByName(other, allowMissingColumns=True)
        else:
            frame = spark.read.option("mergeSchema", "true").parquet(*files)
        return frame.select("*", F.col("_metadata.file_path").alias("__file"))
    except Exception as err:  # AnalysisException and friends: missing or unreadable files
        raise _read_failed(err, files) from err


def _parquet_types(path: str) -> dict[str, str]:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as err:  # pyarrow raises several types for a broken file
        raise DataError(
            f"{path}: not a readable Parquet file ({err}). Check the format (CSV with a header "
            f"line, or Parquet) and export it again."
        ) from err
    return {field.name: str(field.type) for field in schema}


def _types(frame: Any) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in frame.schema.fields if f.name != "__file"}


def _original_name(spark_name: str, files: list[str]) -> str:
    """Return the entry of ``files`` Spark calls ``spark_name`` (a ``file:`` URI for local files)."""
    wanted = _local_path(spark_name)
    return next((f for f in files if not is_remote(f) and _local_path(f) == wanted), spark_name)


def _local_path(path: str) -> str:
    parsed = urllib.parse.urlparse(path)
    if parsed.scheme == "file":
        path = urllib.parse.unquote(parsed.path)
    elif is_remote(path):
        return path
    return str(Path(path).resolve())


def _ntz(value: dt.datetime) -> Any:
    from pyspark.sql import functions as F

    return F.lit(f"{value:%Y-%m-%d %H:%M:%S.%f}").cast("timestamp_ntz")


def _missing(column: Any) -> Any:
    """loading._missing_sql: NULL, blank or a :data:`NULL_TOKENS` value."""
    from pyspark.sql import functions as F

    return column.isNull() | F.lower(F.trim(column)).isin(list(NULL_TOKENS))


def _is_numeric(col_type: str) -> bool:
    return col_type.startswith(_SPARK_NUMERIC)


def _timestamp_column(
    spark: Any, frame: Any, column: str, col_type: str, timezone: str, source_name: str, notes: list[str]
) -> Any:
    """loading.timestamp_sql: ``column`` as a UTC ``TIMESTAMP_NTZ`` (NULL if unparseable)."""
    from pyspark.sql import functions as F

    col = F.col(_q(column))
    tz = F.lit(timezone)
    if col_type == "timestamp":  # an instant (Parquet isAdjustedToUTC); the session zone is UTC
        return col.cast("timestamp_ntz")
    if col_type in ("timestamp_ntz", "date"):  # wall-clock time in params timezone
        return F.to_utc_timestamp(col.cast("timestamp_ntz").cast("timestamp"), tz).cast("timestamp_ntz")
    if _is_numeric(col_type):
        return _epoch_column(spark, frame, column, col.cast("decimal(38,9)"), source_name, notes)
    if col_type != "string":
        raise not_a_timestamp_type(source_name, column, col_type)
    text = F.trim(col)
    suffix = text.rlike(OFFSET_RE) | text.rlike(ZONE_RE)
    as_instant = F.expr(f"try_cast(trim({_q(column)}) AS TIMESTAMP)")
    as_wall = F.expr(f"try_cast(trim({_q(column)}) AS TIMESTAMP_NTZ)")
    aware = suffix & as_instant.isNotNull()
    naive = ~suffix & as_wall.isNotNull()
    numeric = text.rlike(NUMBER_RE)
    row = (
        frame.where(col.isNotNull() & (text != ""))
        .agg(
            F.count(F.when(aware, 1)),
            F.count(F.when(naive, 1)),
            F.count(F.when(numeric, 1)),
            F.first(F.when(aware, col), ignorenulls=True),
            F.first(F.when(naive, col), ignorenulls=True),
            F.first(F.when(numeric, col), ignorenulls=True),
        )
        .first()
    )
    check_timestamp_forms(source_name, column, row)
    n_aware, n_number = row[0], row[2]
    if n_number:
        number = F.when(numeric, text.cast("decimal(38,9)"))
        return _epoch_column(spark, frame, column, number, source_name, notes)
    if n_aware:
        return as_instant.cast("timestamp_ntz")
    return F.to_utc_timestamp(as_wall.cast("timestamp"), tz).cast("timestamp_ntz")


def _epoch_column(
    spark: Any, frame: Any, column: str, number: Any, source_name: str, notes: list[str]
) -> Any:
    """loading._epoch_sql: the number column read as Unix time in the unit of its median."""
    from pyspark.sql import functions as F

    median, example = (
        frame.where(number.isNotNull())
        .agg(F.percentile(number.cast("double"), F.lit(0.5)), F.first(F.col(_q(column)), ignorenulls=True))
        .first()
    )
    unit = epoch_unit(source_name, column, median, example)
    name, micros, low, high = unit

    def as_ts(value: Any) -> Any:
        micro = F.round(value * F.lit(micros).cast("decimal(38,9)")).cast("bigint")
        return F.when((value >= low) & (value < high), F.timestamp_micros(micro).cast("timestamp_ntz"))

    shown = spark.range(1).select(as_ts(F.lit(str(example)).cast("decimal(38,9)"))).first()[0]
    warn(epoch_message(source_name, column, name, example, shown), notes)
    return as_ts(number)


def _id_column(frame: Any, column: str, col_type: str, source_name: str, notes: list[str]) -> Any:
    """loading.id_sql: the id column as text (whole floating-point numbers without ``.0``)."""
    from pyspark.sql import functions as F

    col = F.col(_q(column))
    if col_type in ("float", "double") or col_type.startswith("decimal"):
        finite = F.abs(col.cast("double")) < F.lit(float("inf"))
        bad, example, n = (
            frame.where(col.isNotNull() & finite)
            .agg(
                F.first(F.when(col % 1 != 0, col), ignorenulls=True),
                F.first(col, ignorenulls=True),
                F.count(col),
            )
            .first()
        )
        check_whole_ids(source_name, column, bad)
        if n:
            warn(float_id_message(source_name, column, example), notes)
        return F.when(finite, col.cast("decimal(38,0)").cast("string"))
    return col.cast("string")


def _unparseable_example(raw: Any, column: str, ts: Any) -> Any:
    """One raw value of the timestamp ``column`` that ``ts`` cannot read (for the warning)."""
    from pyspark.sql import functions as F

    col = F.col(_q(column))
    row = raw.where(col.isNotNull() & (F.trim(col.cast("string")) != "") & ts.isNull()).select(col).first()
    return row[0] if row else None


def _load_users_spark(con: Any, params: Params, notes: list[str]) -> tuple[Any, int, list[str]]:
    """loading._load_users with Spark."""
    from pyspark.sql import functions as F

    spark = con._session
    cols = params.user_columns
    files = spark_files(params, "users")
    raw = _read(spark, files, "users", {"user_id": cols["user_id"]}).drop("__file")
    types = _types(raw)
    source_name = files[0] if len(files) == 1 else params.users
    require_columns(types, {"user_id": cols["user_id"]}, files, "users")
    uid = _id_column(raw, cols["user_id"], types[cols["user_id"]], source_name, notes)
    n_rows, n_null = _collect(raw.agg(F.count(F.lit(1)), F.count(F.when(_missing(uid), 1))), files)[0]
    check_user_rows(
        source_name,
        cols["user_id"],
        n_rows,
        n_null,
        lambda: raw.groupBy(uid.alias("id")).count().where(F.col("count") > 1).first(),
    )
    select = [uid.alias("user_id")]
    if cols["signup_at"] in types:
        signup = F.col(_q(cols["signup_at"]))
        ts = _timestamp_column(
            spark, raw, cols["signup_at"], types[cols["signup_at"]], params.timezone, source_name, notes
        )
        bad = raw.where(signup.isNotNull() & (F.trim(signup.cast("string")) != "") & ts.isNull()).first()
        if bad:
            raise bad_signup(source_name, cols["signup_at"], bad[cols["signup_at"]])
        select.append(ts.alias("signup_at"))
    else:
        select.append(F.lit(None).cast("timestamp_ntz").alias("signup_at"))
    attrs = [c for c in dict.fromkeys((*params.segments, *params.filters)) if cols.get(c, c) in types]
    select += [F.col(_q(cols.get(a, a))).cast("string").alias(a) for a in attrs]
    raw.select(*select).createOrReplaceTempView(USERS_VIEW)
    return con.table(USERS_VIEW), int(n_rows), attrs


__all__ = ["EVENTS_VIEW", "USERS_VIEW", "load_spark", "spark_files"]
