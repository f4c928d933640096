"""The user facts on Apache Spark (local mode) equal DuckDB's exactly.

Skipped only when pyspark (dev extra) or a Java runtime is missing; in CI both are present.
One small Spark session (local[2], 4 shuffle partitions, no UI) serves the whole module.
"""

from __future__ import annotations

import os
import shutil
import warnings

import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[dev]'")

from onboarding_analysis.analyses.funnel import compute_funnel  # noqa: E402
from onboarding_analysis.data import engines  # noqa: E402
from onboarding_analysis.data.pipeline import compute_facts  # noqa: E402
from onboarding_analysis.demo import DemoSpec, write_demo  # noqa: E402
from onboarding_analysis.errors import DataError, DataWarning  # noqa: E402
from onboarding_analysis.params import validate_params  # noqa: E402

# pyspark leaves the local socket of every collect() unclosed (its ResourceWarning is raised when
# the socket is freed, right after the collect); nothing to fix on our side.
pytestmark = pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")

if engines.find_java_home() is None and shutil.which("java") is None:
    pytest.skip("no Java runtime: set JAVA_HOME or install Java 17 (/usr/lib/jvm)", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    if not os.environ.get("JAVA_HOME") and engines.find_java_home():
        os.environ["JAVA_HOME"] = engines.find_java_home()
    session = engines.spark_session("local[2]", app_name="onboarding-analysis-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def con(spark):
    return engines.connect_spark(spark)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_demo(tmp_path_factory.mktemp("demo"), spec=DemoSpec(n_users=1500))


def _both(params, con):
    """(DuckDB facts, Spark facts), computed anew (no cache); both warn alike."""
    with warnings.catch_warnings(record=True) as duck_warnings:
        warnings.simplefilter("always")
        duck = compute_facts(params, cache=False)
    with warnings.catch_warnings(record=True) as spark_warnings:
        warnings.simplefilter("always")
        spark = compute_facts(params, con=con, cache=False)
    data_warnings = [
        [str(w.message) for w in ws if w.category is DataWarning] for ws in (duck_warnings, spark_warnings)
    ]
    assert data_warnings[1] == data_warnings[0]
    return duck, spark


def _assert_same(duck, spark):
    pd.testing.assert_frame_equal(spark.table, duck.table, check_exact=True)
    assert spark.accounting == duck.accounting
    assert spark.observation_end == duck.observation_end
    assert spark.source.warnings == duck.source.warnings


def test_demo_facts_equal_duckdb(demo, con):
    params = validate_params(
        {
            "events": str(demo["events"]),
            "users": str(demo["users"]),
            "observation_end": "2024-08-31",
            "segments": ["persona", "plan", "channel"],
            "retention_days": [0, 1, 7, 30],
            "onboarding_steps": ["signed_up", "completed_profile", "connected_data", "created_report"],
        }
    )
    duck, spark = _both(params, con)
    assert len(duck.table) == 1500 and duck.accounting.excluded  # events after T are counted
    _assert_same(duck, spark)
    # Engine-side analyses run on the Spark event table too.
    pd.testing.assert_frame_equal(compute_funnel(spark).steps, compute_funnel(duck).steps)


def test_events_only_filters_and_churn_event_equal_duckdb(demo, con):
    # No users table: t0 from the signup event, segment values from the events (arg_min),
    # a filter, a churn event and two value events.
    params = validate_params(
        {
            "events": str(demo["events"]),
            "segments": ["client"],
            "filters": {"client": ["acme", "globex"]},
            "churn_event": "exported_csv",
            "value_events": ["created_report", "invited_teammate"],
            "active_events": ["session_start", "created_report"],
        }
    )
    duck, spark = _both(params, con)
    assert set(duck.table["client"]) == {"acme", "globex"}  # initech's users are outside the run
    _assert_same(duck, spark)


EVENTS = [
    ("u1", "session_start", "2023-12-31T12:00:00Z"),
    ("u1", "signed_up", "2024-01-01T00:00:00Z"),
    ("u1", "session_start", "2024-01-02T00:00:00+02:00"),
    ("u1", "created_report", "2024-01-03T12:00:00.250Z"),
    ("u1", "session_start", "2024-01-10T00:00:01Z"),
    ("u2", "signed_up", "2024-01-05T12:00:00Z"),
    ("u2", "session_start", " 2024-01-06T11:59:59.999Z "),
    ("u2", "session_start", "not a time"),
    ("", "session_start", "2024-01-06T12:00:00Z"),
    ("u3", "", "2024-01-06T12:00:00Z"),
    ("u3", "signed_up", "2024-01-08T00:00:00Z"),
]


@pytest.mark.parametrize(
    ("rows", "timezone"),
    [
        (EVENTS, "UTC"),
        ([(u, e, t.replace("Z", "").replace("+02:00", "")) for u, e, t in EVENTS], "Europe/Paris"),
    ],
    ids=["offsets", "local-times"],
)
def test_csv_text_timestamps_and_bad_rows_equal_duckdb(write_csv, con, rows, timezone):
    path = write_csv(pd.DataFrame(rows, columns=["user_id", "event", "timestamp"]))
    params = validate_params(
        {"events": path, "observation_end": "2024-01-09", "timezone": timezone, "inactivity_days": 3}
    )
    duck, spark = _both(params, con)
    assert set(duck.accounting.excluded) >= {"missing user id", "missing event name", "unparseable timestamp"}
    _assert_same(duck, spark)


def test_mixed_timestamp_forms_are_an_error_on_spark(write_csv, con):
    path = write_csv(
        pd.DataFrame(
            [("u1", "signed_up", "2024-01-01T00:00:00Z"), ("u1", "session_start", "2024-01-02 00:00:00")],
            columns=["user_id", "event", "timestamp"],
        )
    )
    with pytest.raises(DataError, match="mixes timestamps with a UTC offset"):
        compute_facts(validate_params({"events": path}), con=con, cache=False)


def test_engine_param_runs_on_the_active_session(write_csv, spark):
    path = write_csv(pd.DataFrame(EVENTS, columns=["user_id", "event", "timestamp"]))
    params = validate_params({"events": path, "engine": "spark"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        facts = compute_facts(params, cache=False)
        duck = compute_facts(params, con=engines.connect_engine("duckdb"), cache=False)
    assert facts.source.con.name == "pyspark"
    _assert_same(duck, facts)
