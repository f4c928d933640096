"""The facts cache: computed once, read back identical; a changed param or input is a miss."""

from __future__ import annotations

import os
import warnings

import pandas as pd
import pytest

from onboarding_analysis.analyses.funnel import compute_funnel
from onboarding_analysis.data import cache as facts_cache
from onboarding_analysis.data import pipeline
from onboarding_analysis.data.pipeline import compute_facts
from onboarding_analysis.demo import DemoSpec, write_demo
from onboarding_analysis.errors import DataWarning
from onboarding_analysis.params import validate_params


@pytest.fixture
def builds(monkeypatch):
    """Counts the aggregations run by compute_facts (cache misses)."""
    calls = []
    real = pipeline.build_facts

    def counting(source, params):
        calls.append(params)
        return real(source, params)

    monkeypatch.setattr(pipeline, "build_facts", counting)
    return calls


@pytest.fixture
def demo(tmp_path):
    paths = write_demo(tmp_path / "data", spec=DemoSpec(n_users=300), seed=3)
    raw = {
        "events": str(paths["events"]),
        "users": str(paths["users"]),
        "segments": ["persona", "plan"],
        "onboarding_steps": ["signed_up", "completed_profile", "created_report"],
    }
    return paths, raw, tmp_path / "cache"


def _same(a, b):
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    assert a.accounting == b.accounting
    assert a.observation_end == b.observation_end


def test_hit_gives_identical_facts_and_working_events(demo, builds):
    _, raw, folder = demo
    params = validate_params(raw)
    first = compute_facts(params, cache=folder)
    second = compute_facts(params, cache=folder)
    assert len(builds) == 1  # the second call read the cache
    _same(second, first)
    _same(second, compute_facts(params, cache=False))
    # Only the aggregation is skipped: the event table is there, lazy, on a fresh source.
    assert second.source is not first.source
    assert second.events.count().execute() == first.accounting.events_used
    pd.testing.assert_frame_equal(compute_funnel(second).steps, compute_funnel(first).steps)


def test_changed_param_is_a_miss(demo, builds):
    _, raw, folder = demo
    a = compute_facts(validate_params(raw), cache=folder)
    b = compute_facts(validate_params(raw | {"inactivity_days": 14}), cache=folder)
    assert len(builds) == 2
    assert b.table["churned"].sum() > a.table["churned"].sum()
    compute_facts(validate_params(raw), cache=folder)
    assert len(builds) == 2  # the first entry is still there


def test_touched_input_file_is_a_miss(demo, builds):
    paths, raw, folder = demo
    params = validate_params(raw)
    compute_facts(params, cache=folder)
    stat = os.stat(paths["events"])
    os.utime(paths["events"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    compute_facts(params, cache=folder)
    assert len(builds) == 2


@pytest.mark.parametrize("what", ["events", "users"])
def test_rewritten_input_file_is_a_miss_with_the_new_facts(demo, builds, what):
    paths, raw, folder = demo
    params = validate_params(raw)
    old = compute_facts(params, cache=folder)
    stat = os.stat(paths[what])
    other = write_demo(folder.parent / "other", spec=DemoSpec(n_users=300), seed=4)
    os.replace(other[what], paths[what])
    os.utime(paths[what], ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: content still counts
    new = compute_facts(params, cache=folder)
    assert len(builds) == 2
    assert not new.table.equals(old.table)
    _same(new, compute_facts(params, cache=False))


def test_cache_folder_from_environment_and_off_switch(demo, monkeypatch, builds):
    _, raw, folder = demo
    params = validate_params(raw)
    monkeypatch.setenv(facts_cache.CACHE_ENV, str(folder / "env"))
    assert facts_cache.cache_dir(params) == folder / "env"
    compute_facts(params)
    compute_facts(params)
    assert len(builds) == 1 and list((folder / "env").glob("*.parquet"))
    monkeypatch.setenv(facts_cache.CACHE_ENV, "off")
    assert facts_cache.cache_dir(params) is None
    compute_facts(params)
    assert len(builds) == 2
    monkeypatch.delenv(facts_cache.CACHE_ENV)
    assert facts_cache.cache_dir(params) == params.base_dir / facts_cache.DEFAULT_DIR
    assert facts_cache.cache_dir(params, False) is None


def test_unwritable_cache_folder_still_computes(demo, builds):
    _, raw, folder = demo
    folder.parent.joinpath("not-a-folder").write_text("x")
    params = validate_params(raw)
    facts = compute_facts(params, cache=folder.parent / "not-a-folder")
    compute_facts(params, cache=folder.parent / "not-a-folder")
    assert len(builds) == 2 and len(facts.table) == 300


def test_only_the_newest_entries_are_kept(demo, builds):
    _, raw, folder = demo
    for days in range(1, facts_cache.KEEP + 3):
        compute_facts(validate_params(raw | {"inactivity_days": days}), cache=folder)
    assert len(list(folder.glob("*.json"))) == facts_cache.KEEP
    # Each entry: the facts table, its metadata and its candidate duplicate rows.
    assert len(list(folder.glob("*.duplicates.parquet"))) == facts_cache.KEEP
    assert len(list(folder.glob("*.parquet"))) == 2 * facts_cache.KEEP
    assert not list(folder.glob("*.tmp"))


def test_remote_inputs_are_not_cached():
    # Spark reads s3a:// or hdfs:// paths; their files cannot be fingerprinted locally.
    assert facts_cache.cache_dir(validate_params({"events": "s3a://bucket/events/*.parquet"})) is None
    assert (
        facts_cache.cache_dir(validate_params({"events": "e.parquet", "users": "hdfs://nn/users.csv"}))
        is None
    )


def test_duckdb_memory_cap_from_environment(monkeypatch):
    # compute_facts' default DuckDB connection (engines.connect_engine) honours the cap.
    from onboarding_analysis.data.engines import DUCKDB_MEMORY_ENV, connect_engine
    from onboarding_analysis.errors import ParamsError

    monkeypatch.setenv(DUCKDB_MEMORY_ENV, "512MB")
    con = connect_engine("duckdb")
    assert con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0] == "488.2 MiB"
    monkeypatch.delenv(DUCKDB_MEMORY_ENV)
    assert (
        connect_engine("duckdb").raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
        == "953.6 MiB"
    )
    monkeypatch.setenv(DUCKDB_MEMORY_ENV, "default")  # DuckDB's own cap: a share of the machine's memory
    assert (
        connect_engine("duckdb").raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
        != "953.6 MiB"
    )
    monkeypatch.setenv(DUCKDB_MEMORY_ENV, "lots")
    with pytest.raises(ParamsError, match="not a memory size"):
        connect_engine("duckdb")


def test_hit_excludes_the_same_duplicate_rows(tmp_path, builds):
    # The entry stores the candidate duplicate rows: a hit rebuilds the used events from them.
    header = "user_id,event,timestamp,value,client\n"
    (tmp_path / "part-1.csv").write_text(
        header + "u1,signed_up,2024-01-01T00:00:00Z,,acme\n"
        "u1,purchase,2024-01-02T00:00:00Z,10,acme\n"
        "u1,purchase,2024-01-02T00:00:00Z,10,acme\n"
        "u1,purchase,2024-01-02T00:00:00Z,,acme\n"
        "u1,purchase,2024-01-02T00:00:00Z,,acme\n"  # a NULL value repeats too
        "u2,signed_up,2024-01-03T00:00:00Z,,acme\n"
    )
    (tmp_path / "part-2.csv").write_text(header + "u2,signed_up,2024-01-03T00:00:00Z,,globex\n")
    params = validate_params({"events": str(tmp_path / "part-*.csv"), "segments": ["client"]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        first = compute_facts(params, cache=tmp_path / "cache")
    assert any("duplicate event" in str(w.message) for w in caught)
    with warnings.catch_warnings(record=True) as caught_again:
        warnings.simplefilter("always", DataWarning)
        second = compute_facts(params, cache=tmp_path / "cache")
    assert [str(w.message) for w in caught_again] == [str(w.message) for w in caught]  # a hit warns alike
    assert len(builds) == 1
    assert first.accounting.excluded == {"duplicate event": 3}
    assert len(second.duplicates) == 6  # both copies of (u1, 10), (u1, NULL) and u2's signup
    assert (second.duplicates["reason"] == "duplicate event").sum() == 3
    order = ["user_id", "event", "ts", "file", "value"]
    used = [f.events.to_pandas().sort_values(order).reset_index(drop=True) for f in (first, second)]
    pd.testing.assert_frame_equal(used[0], used[1])
    assert len(used[1]) == 4 and set(used[1]["client"]) == {"acme"}  # u2 keeps part-1's copy


def test_hit_skips_the_scan_and_warns_as_the_miss(tmp_path, builds, monkeypatch):
    from onboarding_analysis.data import loading

    header = "user_id,event,timestamp\n"
    (tmp_path / "events.csv").write_text(
        header + "u1,signed_up,2024-01-01T00:00:00Z\n"
        ",opened,2024-01-01T00:01:00Z\n"  # missing user id: a scan warning
        "u1,opened,2024-01-02T00:00:00Z\n"
        "u1,opened,not a time\n"
        "u2,signed_up,2024-01-03T00:00:00Z\n"
    )
    (tmp_path / "users.csv").write_text(
        "user_id,signup_at\nu1,2024-01-01T00:00:00Z\nu2,2024-01-03T00:00:00Z\n"
    )
    params = validate_params({"events": str(tmp_path / "events.csv"), "users": str(tmp_path / "users.csv")})
    with warnings.catch_warnings(record=True) as miss_caught:
        warnings.simplefilter("always", DataWarning)
        miss = compute_facts(params, cache=tmp_path / "cache")

    def no_scan(*args, **kwargs):
        raise AssertionError("a cache hit scanned the inputs")

    monkeypatch.setattr(loading, "_warn_defects", no_scan)
    monkeypatch.setattr(loading, "_check_users_rows", no_scan)
    with warnings.catch_warnings(record=True) as hit_caught:
        warnings.simplefilter("always", DataWarning)
        hit = compute_facts(params, cache=tmp_path / "cache")
    assert len(builds) == 1
    texts = [
        sorted(str(w.message) for w in caught if w.category is DataWarning)
        for caught in (miss_caught, hit_caught)
    ]
    assert len(texts[0]) == 2 and texts[0] == texts[1]
    assert hit.source.warnings == miss.source.warnings
    assert hit.source.files == miss.source.files and hit.source.observation_end == miss.source.observation_end
    reasons = [f.source.events.reason.value_counts().to_pandas().sort_values("reason") for f in (miss, hit)]
    pd.testing.assert_frame_equal(reasons[0].reset_index(drop=True), reasons[1].reset_index(drop=True))


def test_pruning_an_entry_deletes_its_shared_events_file(tmp_path):
    for i in range(facts_cache.KEEP + 1):
        meta = tmp_path / f"k{i}.json"
        meta.write_text("{}")
        os.utime(meta, ns=(i * 10**9, i * 10**9))  # k0 is the oldest
        derived = f"{facts_cache.DERIVED_INFIX}steps-0123.parquet"
        for suffix in (".parquet", facts_cache.EVENTS_SUFFIX, facts_cache.EVENTS_SUFFIX + ".lock", derived):
            (tmp_path / f"k{i}{suffix}").write_text("")
    facts_cache.prune(tmp_path)
    assert not list(tmp_path.glob("k0.*"))
    assert (tmp_path / f"k1{facts_cache.EVENTS_SUFFIX}").exists()
    assert (tmp_path / f"k1{derived}").exists()


def test_concurrent_misses_build_once(demo, monkeypatch):
    """Two runs (e.g. two notebooks of one report) asking at once: one builds, the other waits
    for the entry and reads it."""
    import threading
    import time

    _, raw, folder = demo
    params = validate_params(raw)
    calls = []
    real = pipeline.build_facts

    def slow(source, params):
        calls.append(threading.get_ident())
        time.sleep(1.0)  # the second run arrives while the first is building
        return real(source, params)

    monkeypatch.setattr(pipeline, "build_facts", slow)
    results = [None, None]

    def run(i):
        results[i] = compute_facts(params, cache=folder)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    _same(results[0], results[1])
    assert list(folder.glob("*.lock"))  # the entry's build lock, pruned with the entry
    facts_cache.prune(folder, keep=0)
    assert list(folder.iterdir()) == []
