"""Engines of the user-facts step: DuckDB in process (default) or Apache Spark, through ibis.

The user facts (:func:`onboarding_analysis.data.facts.user_facts_expr`) are one ibis expression
over two canonical tables, ``events`` and ``users`` (schemas in :mod:`onboarding_analysis.data.loading`).
:mod:`~onboarding_analysis.data.loading` builds them in DuckDB; :func:`load_spark` builds the same
tables, with the same types and the same row-level rules (UTC timestamps, the ``reason`` of an
unusable row, the data-contract errors), in a Spark session. The facts expression then runs
unchanged on either engine; only the result, one row per user, comes back to the driver.

- ``engine: spark`` in the params starts (or reuses) a Spark session from the environment:
  ``SPARK_REMOTE``/``spark-submit`` settings, else ``local[2]``. See :func:`spark_session`.
- ``compute_facts(params, con=ibis.pyspark.connect(my_session))`` uses a session of yours
  (a cluster, Databricks, ...). Any other ibis backend can be passed as ``con`` when the
  canonical tables already exist in it (see :func:`load_with`).

Examples
--------
>>> from onboarding_analysis.data.engines import connect_engine       # doctest: +SKIP
>>> con = connect_engine("spark")                                 # doctest: +SKIP
>>> facts = compute_facts(params, con=con)                        # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import os
import urllib.parse
from pathlib import Path
from typing import Any

from ..errors import DataError, ParamsError
from ..params import Params
from .files import expand_files, file_format, is_remote
from .loading import (
    _EPOCH_UNITS,
    _NUMBER_RE,
    _OFFSET_RE,
    _ZONE_RE,
    NULL_TOKENS,
    OPTIONAL_EVENT_COLUMNS,
    Source,
    _require_columns,
    _require_columns_per_file,
    _warn,
    csv_header,
    epoch_message,
    float_id_message,
    load,
    summarise_scan,
    warn_row_defects,
)
from .loading import connect as connect_duckdb

#: Java versions the supported pyspark releases run on, most preferred first.
SUPPORTED_JAVA = ("17", "21", "11")

#: Settings of the session :func:`spark_session` creates when none is running.
LOCAL_SPARK_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "2g",
    # Parquet timestamps without a zone are read as TIMESTAMP_NTZ (the params timezone applies).
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
}

#: Environment variable capping DuckDB's memory (``2GB``, ``512MB``; ``default``: DuckDB's own
#: cap, 80% of the machine's memory). Unset: :data:`DUCKDB_MEMORY_DEFAULT`.
DUCKDB_MEMORY_ENV = "ONBOARDING_ANALYSIS_DUCKDB_MEMORY"
#: DuckDB's memory cap when :data:`DUCKDB_MEMORY_ENV` is unset. Measured on 1M users / 31.8M
#: events (benchmarks/run.py, 2 cores): facts peak 2,773 MB and 22.3 s uncapped, 2,013 MB and
#: 20.5 s at 1GB (the spilled hash tables cost nothing here), 1,713 MB and 23.7 s at 512MB.
DUCKDB_MEMORY_DEFAULT = "1GB"

#: Names of the canonical tables (temporary views) in the Spark session.
EVENTS_VIEW = "oa_events"
USERS_VIEW = "oa_users"


# --------------------------------------------------------------------------------------------
# Connections
# --------------------------------------------------------------------------------------------


def find_java_home(jvm_dir: str | os.PathLike[str] = "/usr/lib/jvm") -> str | None:
    """``JAVA_HOME`` if set, else a JDK of a version Spark supports under ``jvm_dir``, else None.

    Examples
    --------
    >>> find_java_home() is None or Path(find_java_home()).is_dir()
    True
    """
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    root = Path(jvm_dir)
    if not root.is_dir():
        return None
    homes = sorted(p for p in root.iterdir() if (p / "bin" / "java").exists() and not p.is_symlink())
    for version in SUPPORTED_JAVA:
        for home in homes:
            if f"-{version}-" in home.name or home.name.endswith(f"-{version}"):
                return str(home)
    return None


def spark_session(
    master: str | None = None,
    *,
    app_name: str = "onboarding-analysis",
    conf: dict[str, str] | None = None,
) -> Any:
    """The active Spark session, or a new one (``local[2]`` unless ``master``/the environment says).

    A session already running (``spark-submit``, Databricks, a notebook's ``spark``) is returned
    as is. A new one gets :data:`LOCAL_SPARK_CONF` plus ``conf``; its master is ``master``, else
    the ``spark.master`` of the environment (``spark-submit --master``, ``SPARK_REMOTE`` for
    Spark Connect), else ``local[2]``. ``JAVA_HOME`` is set from :func:`find_java_home` when
    missing.

    Raises
    ------
    ParamsError
        pyspark is not installed.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise ParamsError(
            "engine 'spark' needs pyspark: pip install 'pyspark>=3.5,<4.1' (and Java 17), "
            "or use engine: duckdb."
        ) from err
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    java_home = find_java_home()
    if java_home and not os.environ.get("JAVA_HOME"):
        os.environ["JAVA_HOME"] = java_home
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    elif not os.environ.get("SPARK_REMOTE") and "--master" not in os.environ.get("PYSPARK_SUBMIT_ARGS", ""):
        builder = builder.master("local[2]")
    for key, value in (LOCAL_SPARK_CONF | dict(conf or {})).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def connect_spark(session: Any | None = None) -> Any:
    """An ibis pyspark connection over ``session`` (default :func:`spark_session`)."""
    import ibis

    return _with_bit_aggregates(ibis.pyspark.connect(session if session is not None else spark_session()))


def _with_bit_aggregates(con: Any) -> Any:
    """Fix two gaps of ibis 12's PySpark compiler that the user facts (activity masks) hit.

    1. The ``bit_or``/``bit_and``/``bit_xor`` reductions are not compiled although Spark SQL
       has them (since 3.0).
    2. ``literal(1, "int64") << k`` compiles to ``SHIFTLEFT(1, k)``, a 32-bit shift in Spark
       (wrong for ``k >= 31``); the left operand is now cast to the expression's type.

    The compiler is replaced on this connection only; nothing global changes.
    """
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    if isinstance(con.compiler, PySparkCompiler) and not hasattr(type(con.compiler), "_oa_bit_aggregates"):

        class _Compiler(type(con.compiler)):
            _oa_bit_aggregates = True

            def visit_BitOr(self, op, *, arg, where):
                return self.agg.bit_or(arg, where=where)

            def visit_BitAnd(self, op, *, arg, where):
                return self.agg.bit_and(arg, where=where)

            def visit_BitXor(self, op, *, arg, where):
                return self.agg.bit_xor(arg, where=where)

            def visit_BitwiseLeftShift(self, op, *, left, right):
                return self.f.shiftleft(self.cast(left, op.dtype), right)

        con.compiler = _Compiler()
    return con


def connect_engine(engine: str) -> Any:
    """A fresh ibis connection for params ``engine`` (``duckdb`` or ``spark``).

    DuckDB: its memory is capped at :data:`DUCKDB_MEMORY_DEFAULT`, or at the environment
    variable :data:`DUCKDB_MEMORY_ENV` (e.g. ``4GB``; ``default`` leaves DuckDB's own cap, 80%
    of the machine's memory); beyond it, aggregations and joins spill to the system temporary
    folder instead of growing, so a laptop stays responsive on a large log.
    """
    if engine == "spark":
        return connect_spark()
    if engine == "duckdb":
        con = connect_duckdb()
        limit = os.environ.get(DUCKDB_MEMORY_ENV, "").strip() or DUCKDB_MEMORY_DEFAULT
        if limit.lower() != "default":
            con.raw_sql(f"SET memory_limit = '{_memory_size(limit)}'")
            con.raw_sql(f"SET temp_directory = '{_spill_dir()}'")
        return con
    raise ParamsError(f"params: key 'engine': value {engine!r} is invalid: expected one of duckdb, spark.")


def _memory_size(text: str) -> str:
    """``text`` if it is a size DuckDB accepts (``2GB``, ``512 MB``, ``1.5GiB``), else ParamsError."""
    import re

    if not re.fullmatch(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text, flags=re.IGNORECASE):
        raise ParamsError(
            f"environment variable {DUCKDB_MEMORY_ENV}: {text!r} is not a memory size; use e.g. 2GB, "
            f"512MB or default."
        )
    return text


def _spill_dir() -> str:
    import tempfile

    return str(Path(tempfile.gettempdir()) / "onboarding-analysis-duckdb").replace("'", "''")


def load_with(params: Params, con: Any | None = None, known: dict | None = None) -> Source:
    """Load the canonical tables with the engine of ``con`` (default: params ``engine``).

    DuckDB connections use :func:`onboarding_analysis.data.loading.load`, pyspark connections
    :func:`load_spark`. ``known``: see :func:`~onboarding_analysis.data.loading.load` (DuckDB only;
    Spark loads rescan). Other ibis backends raise :class:`ParamsError`: load the files there
    yourself and build a :class:`~onboarding_analysis.data.loading.Source` with the canonical tables.
    """
    if con is None:
        con = connect_engine(params.engine)
    name = getattr(con, "name", None)
    if name == "duckdb":
        return load(params, con=con, known=known)
    if name == "pyspark":
        return load_spark(params, _with_bit_aggregates(con))
    raise ParamsError(
        f"compute_facts: no loader for the ibis backend {name!r}. Use DuckDB or Spark, or build a "
        f"Source with the canonical events/users tables (see onboarding_analysis.data.loading) and call "
        f"build_facts(source, params)."
    )


# --------------------------------------------------------------------------------------------
# Spark loading: the canonical tables of loading.py, built with Spark
# --------------------------------------------------------------------------------------------
#
# Each step mirrors the function of loading.py named in its comment, with the same rules and
# messages; tests/test_spark.py checks that both engines give the same facts, accounting and
# warnings. Column expressions use the Column API (no SQL text), so regular expressions and
# quotes pass through unchanged.

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

    Raises
    ------
    DataError, ParamsError
        As :func:`onboarding_analysis.data.loading.load`.
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
    _require_columns(types, required, files, "events")
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

    attrs = [c for c in (*params.segments, *params.filters) if c not in user_attrs]
    extra = [c for c in OPTIONAL_EVENT_COLUMNS if cols[c] in types and c not in attrs]
    for attr in dict.fromkeys(attrs):
        if cols.get(attr, attr) not in types:
            have = ", ".join(sorted(set(user_attrs) | set(types)))
            key = "segments" if attr in params.segments else "filters"
            raise ParamsError(
                f"{params.where}: key '{key}': column '{attr}' is in neither the users table nor the "
                f"events. Available columns: {have}."
            )
    parsed = raw.select(
        uid.alias("user_id"),
        F.col(_q(cols["event"])).cast("string").alias("event"),
        ts.alias("ts"),
        F.col("__file"),
        *[F.col(_q(cols[c])).alias(c) for c in extra],
        *[F.col(_q(cols.get(a, a))).cast("string").alias(a) for a in dict.fromkeys(attrs)],
    )

    # loading.load: one scan, rows per file and day, and the row-level defects.
    no_uid = _missing(F.col("user_id"))
    no_event = _missing(F.col("event"))
    valid = ~no_uid & ~no_event
    scan = _collect(
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
    spark_names: dict[str, str] = {}

    def no_timestamp_example() -> Any:
        row = raw.where(F.col(_q(cols["timestamp"])).isNotNull()).select(_q(cols["timestamp"])).first()
        return row[0] if row else None

    summary = summarise_scan(
        scan,
        files,
        params,
        source_name,
        cols,
        no_timestamp_example,
        file_name=lambda file: spark_names.setdefault(file, _original_name(file, files)),
    )
    per_file, defects, implausible = summary.per_file, summary.defects, summary.implausible
    first_ts, last_ts, lo, hi, end = summary.first_ts, summary.last_ts, summary.lo, summary.hi, summary.end
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
        "user_id",
        "event",
        "ts",
        file_name.alias("file"),
        *extra,
        *dict.fromkeys(attrs),
        reason.alias("reason"),
    )
    events.createOrReplaceTempView(EVENTS_VIEW)
    if summary.end_note:
        _warn(summary.end_note, notes)
    if not params.filters:  # a filtered run warns about its own users' rows only (build_facts)
        _warn_defects_spark(raw, defects, implausible, (first_ts, last_ts), cols, source_name, ts, notes)
    return Source(
        con=con,
        events=con.table(EVENTS_VIEW),
        users=users,
        observation_end=end,
        files=per_file,
        users_rows=users_rows,
        warnings=notes,
        source_name=source_name,
        span=(first_ts, last_ts),
    )


def spark_files(params: Params, what: str) -> list[str]:
    """The files of params ``what`` (``events``/``users``): expanded locally, or the URI as is."""
    pattern = getattr(params, what)
    if is_remote(pattern):
        return [pattern]
    return expand_files(
        params.resolve(pattern), what=what, where=params.where, resolved_from=params.resolved_from
    )


def _q(name: str) -> str:
    """A column name quoted for ``F.col`` (dots and backticks are literal)."""
    return "`" + str(name).replace("`", "``") + "`"


def _collect(frame: Any, files: list[str]) -> list:
    """``frame.collect()``; a Spark read error becomes a :class:`DataError` naming the files."""
    try:
        return frame.collect()
    except Exception as err:  # py4j/pyspark errors have no common public base across versions
        first = next((ln.strip() for ln in str(err).splitlines() if ln.strip()), type(err).__name__)
        raise DataError(
            f"{', '.join(files)}: Spark could not read the file(s): {first[:300]} Check the format "
            f"(CSV with a header line, or Parquet) and the encoding (UTF-8)."
        ) from err


def _read(spark: Any, files: list[str], what: str, required: dict[str, str]) -> Any:
    """The files as one DataFrame with Spark's name of each row's file in ``__file``.

    Local files get loading.py's per-file checks first (CSV header and delimiter, Parquet
    schema: every file has the mapped columns, with the same types).
    """
    from pyspark.sql import functions as F

    local = [f for f in files if not is_remote(f)]
    csv = file_format(files[0]) == "csv"
    if local and csv:
        _require_columns_per_file(
            {f: dict.fromkeys(csv_header(f)[1], "VARCHAR") for f in local}, required, what
        )
    elif local:
        _require_columns_per_file({f: _parquet_types(f) for f in local}, required, what)
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
        first = next((ln.strip() for ln in str(err).splitlines() if ln.strip()), type(err).__name__)
        raise DataError(
            f"{', '.join(files)}: Spark could not read the file(s): {first[:300]} Check the format "
            f"(CSV with a header line, or Parquet) and the encoding (UTF-8)."
        ) from err


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
    """The entry of ``files`` Spark calls ``spark_name`` (a ``file:`` URI for local files)."""
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
        raise DataError(
            f"{source_name}: column '{column}' has type {col_type.upper()}, not a timestamp. Export it as "
            f"ISO-8601 text (2024-03-05T10:22:13Z) or a Parquet timestamp."
        )
    text = F.trim(col)
    suffix = text.rlike(_OFFSET_RE) | text.rlike(_ZONE_RE)
    as_instant = F.expr(f"try_cast(trim({_q(column)}) AS TIMESTAMP)")
    as_wall = F.expr(f"try_cast(trim({_q(column)}) AS TIMESTAMP_NTZ)")
    aware = suffix & as_instant.isNotNull()
    naive = ~suffix & as_wall.isNotNull()
    numeric = text.rlike(_NUMBER_RE)
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
    n_aware, n_naive, n_number, ex_aware, ex_naive, ex_number = row
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
    unit = next((u for u in _EPOCH_UNITS if median is not None and u[2] <= float(median) < u[3]), None)
    if unit is None:
        raise DataError(
            f"{source_name}: column '{column}' holds numbers (e.g. {str(example)!r}) that are not Unix "
            f"times in seconds, milliseconds, microseconds or nanoseconds between 1973 and 2286. "
            f"Export timestamps as ISO-8601 text such as 2024-03-05T10:22:13Z."
        )
    name, micros, low, high = unit

    def as_ts(value: Any) -> Any:
        micro = F.round(value * F.lit(micros).cast("decimal(38,9)")).cast("bigint")
        return F.when((value >= low) & (value < high), F.timestamp_micros(micro).cast("timestamp_ntz"))

    shown = spark.range(1).select(as_ts(F.lit(str(example)).cast("decimal(38,9)"))).first()[0]
    _warn(epoch_message(source_name, column, name, example, shown), notes)
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
        if bad is not None:
            raise DataError(
                f"{source_name}: column '{column}' holds user ids with decimals (e.g. {bad!r}). "
                f"Export ids as text (or whole numbers)."
            )
        if n:
            _warn(float_id_message(source_name, column, example), notes)
        return F.when(finite, col.cast("decimal(38,0)").cast("string"))
    return col.cast("string")


def _warn_defects_spark(
    raw: Any,
    defects: dict[str, int],
    implausible: int,
    span: tuple[dt.datetime, dt.datetime],
    cols: dict[str, str],
    source_name: str,
    ts: Any,
    notes: list[str],
) -> None:
    """loading._warn_defects: one DataWarning per kind of row defect."""
    from pyspark.sql import functions as F

    def example() -> Any:
        col = F.col(_q(cols["timestamp"]))
        row = (
            raw.where(col.isNotNull() & (F.trim(col.cast("string")) != "") & ts.isNull()).select(col).first()
        )
        return row[0] if row else None

    warn_row_defects(defects, implausible, span, cols, source_name, notes, unparseable_example=example)


def _load_users_spark(con: Any, params: Params, notes: list[str]) -> tuple[Any, int, list[str]]:
    """loading._load_users with Spark."""
    from pyspark.sql import functions as F

    spark = con._session
    cols = params.user_columns
    files = spark_files(params, "users")
    raw = _read(spark, files, "users", {"user_id": cols["user_id"]}).drop("__file")
    types = _types(raw)
    source_name = files[0] if len(files) == 1 else params.users
    _require_columns(types, {"user_id": cols["user_id"]}, files, "users")
    uid = _id_column(raw, cols["user_id"], types[cols["user_id"]], source_name, notes)
    n_rows, n_null = _collect(raw.agg(F.count(F.lit(1)), F.count(F.when(_missing(uid), 1))), files)[0]
    if n_rows == 0:
        raise DataError(
            f"{source_name}: no user rows (header only?). Export the users table again or remove 'users'."
        )
    if n_null:
        raise DataError(
            f"{source_name}: column '{cols['user_id']}' is empty (or NaN/null) in {n_null} rows. Every "
            f"user row needs an id."
        )
    dup = raw.groupBy(uid.alias("id")).count().where(F.col("count") > 1).first()
    if dup:
        raise DataError(
            f"{source_name}: user {dup[0]!r} appears in {dup[1]} rows of column '{cols['user_id']}'. "
            f"The users table needs one row per user: remove the duplicates."
        )
    select = [uid.alias("user_id")]
    if cols["signup_at"] in types:
        signup = F.col(_q(cols["signup_at"]))
        ts = _timestamp_column(
            spark, raw, cols["signup_at"], types[cols["signup_at"]], params.timezone, source_name, notes
        )
        bad = raw.where(signup.isNotNull() & (F.trim(signup.cast("string")) != "") & ts.isNull()).first()
        if bad:
            raise DataError(
                f"{source_name}: column '{cols['signup_at']}': value {bad[cols['signup_at']]!r} is not a "
                f"timestamp. Use ISO-8601 such as 2024-03-05T10:22:13Z, or leave it empty."
            )
        select.append(ts.alias("signup_at"))
    else:
        select.append(F.lit(None).cast("timestamp_ntz").alias("signup_at"))
    attrs = [c for c in dict.fromkeys((*params.segments, *params.filters)) if cols.get(c, c) in types]
    select += [F.col(_q(cols.get(a, a))).cast("string").alias(a) for a in attrs]
    raw.select(*select).createOrReplaceTempView(USERS_VIEW)
    return con.table(USERS_VIEW), int(n_rows), attrs


__all__ = [
    "DUCKDB_MEMORY_DEFAULT",
    "DUCKDB_MEMORY_ENV",
    "EVENTS_VIEW",
    "LOCAL_SPARK_CONF",
    "USERS_VIEW",
    "connect_engine",
    "connect_spark",
    "find_java_home",
    "load_spark",
    "load_with",
    "spark_files",
    "spark_session",
]
