"""Engine choice for the user-facts step: DuckDB in process (default) or Apache Spark, through ibis.

The user facts (:func:`onboarding_analysis.data.facts.user_facts_expr`) are one ibis expression
over the two canonical tables of :class:`~onboarding_analysis.data.contract.Source`.
:mod:`~onboarding_analysis.data.loading` builds them in DuckDB and
:mod:`~onboarding_analysis.data.spark` in a Spark session; this module opens the connection of
either engine (finding Java for Spark, capping DuckDB's memory) and hands the params to the
loader of that engine (:func:`load_with`).

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

import os
from pathlib import Path
from typing import Any

from ..errors import ParamsError
from ..params import Params
from .contract import Source
from .duckdb_files import connect as connect_duckdb
from .loading import load
from .spark import load_spark

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


# --------------------------------------------------------------------------------------------
# Connections
# --------------------------------------------------------------------------------------------


def find_java_home(jvm_dir: str | os.PathLike[str] = "/usr/lib/jvm") -> str | None:
    """``JAVA_HOME`` if set, else a JDK of a version Spark supports under ``jvm_dir``, else None.

    Parameters
    ----------
    jvm_dir : str or os.PathLike, optional
        The folder of installed JDKs searched when ``JAVA_HOME`` is not set.

    Returns
    -------
    str or None
        ``JAVA_HOME``, else the first JDK folder of a :data:`SUPPORTED_JAVA` version, else None.

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
    """Return the active Spark session, or a new one (``local[2]`` unless ``master``/the environment says).

    A session already running (``spark-submit``, Databricks, a notebook's ``spark``) is returned
    as is. A new one gets :data:`LOCAL_SPARK_CONF` plus ``conf``; its master is ``master``, else
    the ``spark.master`` of the environment (``spark-submit --master``, ``SPARK_REMOTE`` for
    Spark Connect), else ``local[2]``. ``JAVA_HOME`` is set from :func:`find_java_home` when
    missing.

    Parameters
    ----------
    master : str or None, optional
        The Spark master of a new session (None: the environment's, else ``local[2]``); given, a
        new session is built even when one is active.
    app_name : str, optional
        The application name of a new session.
    conf : dict[str, str] or None, optional
        Spark settings added to :data:`LOCAL_SPARK_CONF` for a new session.

    Returns
    -------
    pyspark.sql.SparkSession
        The active or new session.

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
    """Return an ibis pyspark connection over ``session`` (default :func:`spark_session`).

    Parameters
    ----------
    session : pyspark.sql.SparkSession or None, optional
        The session to use (None: :func:`spark_session`).

    Returns
    -------
    ibis.backends.pyspark.Backend
        The connection, with the bit aggregates the user facts need.
    """
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
    """Return a fresh ibis connection for params ``engine`` (``duckdb`` or ``spark``).

    DuckDB: its memory is capped at :data:`DUCKDB_MEMORY_DEFAULT`, or at the environment
    variable :data:`DUCKDB_MEMORY_ENV` (e.g. ``4GB``; ``default`` leaves DuckDB's own cap, 80%
    of the machine's memory); beyond it, aggregations and joins spill to the system temporary
    folder instead of growing, so a laptop stays responsive on a large log.

    Parameters
    ----------
    engine : str
        ``duckdb`` or ``spark``.

    Returns
    -------
    Any
        A new ibis DuckDB connection (memory capped as above) or pyspark connection.

    Raises
    ------
    ParamsError
        ``engine`` is neither, pyspark is missing, or :data:`DUCKDB_MEMORY_ENV` is not a memory size.
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

    Parameters
    ----------
    params : Params
        The run's params.
    con : Any or None, optional
        An ibis DuckDB or pyspark connection (None: a new one for params ``engine``).
    known : dict or None, optional
        A cached scan of the inputs, so DuckDB skips scanning them again.

    Returns
    -------
    Source
        The canonical events and users tables with their row accounting.

    Raises
    ------
    ParamsError
        ``con`` is another ibis backend.
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


__all__ = [
    "DUCKDB_MEMORY_DEFAULT",
    "DUCKDB_MEMORY_ENV",
    "LOCAL_SPARK_CONF",
    "connect_engine",
    "connect_spark",
    "find_java_home",
    "load_with",
    "spark_session",
]
