"""metrics.json: deep merge across calls, strict JSON (no NaN), atomic writes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from onboarding_analysis.errors import OnboardingAnalysisError
from onboarding_analysis.report.metrics_io import (
    METRICS_FILE,
    MetricsError,
    read_metrics,
    record_metrics,
    to_jsonable,
)


def _strict_load(path: Path) -> dict:
    """Load JSON, failing on NaN/Infinity tokens (which json.loads accepts by default)."""

    def reject(token: str):
        raise AssertionError(f"non-standard JSON constant {token} in {path}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=reject)


def test_none_output_dir_is_a_no_op_returning_the_merge(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    merged = record_metrics(None, {"a": {"x": 1}}, {"a": {"y": 2}, "b": 3})
    assert merged == {"a": {"x": 1, "y": 2}, "b": 3}
    assert list(tmp_path.iterdir()) == []


def test_creates_the_folder_and_file(tmp_path):
    out = tmp_path / "reports" / "demo"
    merged = record_metrics(out, {"run": {"client": "demo"}})
    assert merged == {"run": {"client": "demo"}}
    assert _strict_load(out / METRICS_FILE) == merged


def test_later_calls_deep_merge_add_and_override(tmp_path):
    record_metrics(
        tmp_path, {"run": {"client": "demo", "notebooks": ["a", "b"]}, "retention": {"day_1": 0.5}}
    )
    record_metrics(tmp_path, {"run": {"package_version": "0.1.0"}, "retention": {"day_1": 0.4, "day_7": 0.2}})
    merged = record_metrics(tmp_path, {"run": {"notebooks": ["c"]}})  # lists are replaced, not appended
    expected = {
        "run": {"client": "demo", "notebooks": ["c"], "package_version": "0.1.0"},
        "retention": {"day_1": 0.4, "day_7": 0.2},
    }
    assert merged == expected
    assert read_metrics(tmp_path) == expected


def test_a_mapping_replaces_a_scalar_and_vice_versa(tmp_path):
    record_metrics(tmp_path, {"a": 1, "b": {"x": 1}})
    assert record_metrics(tmp_path, {"a": {"x": 2}, "b": None}) == {"a": {"x": 2}, "b": None}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.int64(7), 7),
        (np.float32(0.5), 0.5),
        (np.bool_(True), True),
        (np.nan, None),
        (float("nan"), None),
        (float("inf"), None),
        (-np.inf, None),
        (pd.NA, None),
        (pd.NaT, None),
        (np.datetime64("NaT"), None),
        (None, None),
        (np.array([1.0, np.nan, np.inf]), [1.0, None, None]),
        (np.array([[1, 2], [3, 4]]), [[1, 2], [3, 4]]),
        (pd.Series([0.25, np.nan], index=["day_1", "day_7"]), {"day_1": 0.25, "day_7": None}),
        (pd.Index([1, 7, 30]), [1, 7, 30]),
        ((1, np.float64(2.5)), [1, 2.5]),
        ({np.int64(1): "a"}, {"1": "a"}),
        (pd.Timestamp("2024-08-31 12:00"), "2024-08-31T12:00:00"),
        (dt.date(2024, 4, 1), "2024-04-01"),
        (Path("data/demo/events.parquet"), "data/demo/events.parquet"),
        ("text", "text"),
    ],
)
def test_to_jsonable_converts_numpy_pandas_and_missing_values(value, expected):
    assert to_jsonable(value) == expected


def test_the_file_never_contains_nan_and_passes_allow_nan_false(tmp_path):
    parts = {
        "lifetime": {"median_days": np.nan, "rmst": np.float64(41.5), "ci": np.array([np.nan, np.inf])},
        "retention": pd.Series([0.3, pd.NA], index=[1, 7], dtype="Float64"),
        "ttfv": {"reached_by": pd.NaT, "n": np.int32(12)},
    }
    merged = record_metrics(tmp_path, parts)
    json.dumps(merged, allow_nan=False)
    assert _strict_load(tmp_path / METRICS_FILE) == {
        "lifetime": {"median_days": None, "rmst": 41.5, "ci": [None, None]},
        "retention": {"1": 0.3, "7": None},
        "ttfv": {"reached_by": None, "n": 12},
    }


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (pd.DataFrame({"a": [1]}), r"'section\.table'.*DataFrame.*to_dict"),
        (pd.Timedelta(days=1), r"'section\.table'.*duration.*days"),
        (object(), r"'section\.table'.*cannot store a object"),
    ],
)
def test_unstorable_values_name_the_key(tmp_path, value, match):
    with pytest.raises(TypeError, match=match):
        record_metrics(tmp_path, {"section": {"table": value}})
    assert not (tmp_path / METRICS_FILE).exists()


def test_a_failed_record_leaves_the_previous_file_intact(tmp_path):
    record_metrics(tmp_path, {"run": {"client": "demo"}})
    with pytest.raises(TypeError):
        record_metrics(tmp_path, {"run": {"bad": object()}})
    assert read_metrics(tmp_path) == {"run": {"client": "demo"}}
    assert sorted(p.name for p in tmp_path.iterdir()) == [METRICS_FILE]  # no temp file left


def test_parts_must_be_mappings():
    with pytest.raises(TypeError, match="part 1 is a list"):
        record_metrics(None, {"a": 1}, [("b", 2)])


def test_read_metrics_accepts_the_file_or_its_folder(tmp_path):
    record_metrics(tmp_path, {"a": 1})
    assert read_metrics(tmp_path) == read_metrics(tmp_path / METRICS_FILE) == {"a": 1}


def test_read_metrics_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="metrics file not found"):
        read_metrics(tmp_path / "nope" / METRICS_FILE)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"a": {"rate": NaN}}', "non-standard constant NaN is not JSON"),
        ('{"a": [1.0, -Infinity]}', "non-standard constant -Infinity is not JSON"),
    ],
)
def test_a_corrupt_metrics_file_is_a_clear_error(tmp_path, text, match):
    (tmp_path / METRICS_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(MetricsError, match=match) as info:
        record_metrics(tmp_path, {"a": 1})
    assert isinstance(info.value, OnboardingAnalysisError)
    assert str(tmp_path / METRICS_FILE) in str(info.value)


def _record_many(folder: str, writer: int) -> None:
    for i in range(25):
        record_metrics(folder, {f"writer_{writer}": {f"m{i}": i}})


def test_parallel_writers_lose_no_part(tmp_path):
    """The notebooks of one run record at the same time (run_report executes them in parallel):
    every part of every writer is kept (without the folder lock, read-merge-write races lose some)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_record_many, args=(str(tmp_path), w)) for w in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join()
    assert [p.exitcode for p in writers] == [0, 0, 0, 0]
    metrics = read_metrics(tmp_path)
    assert {k: len(v) for k, v in metrics.items()} == {f"writer_{w}": 25 for w in range(4)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no lock file left
