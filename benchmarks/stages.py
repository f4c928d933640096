"""One benchmark stage per process: ``python benchmarks/stages.py STAGE PARAMS.yaml [--repeat N]``.

:mod:`benchmarks.run` starts every stage in a fresh interpreter, so each one's peak memory
(``VmHWM``, see :func:`_rss_mb`) is its own. A stage prints one JSON line: ``seconds`` (best of ``--repeat``
runs of the timed work, imports and data generation excluded), ``parts`` (a breakdown),
``rss_start_mb`` (after imports), ``peak_rss_mb`` (the process, and ``peak_child_rss_mb`` of
the notebook kernels it ran) and stage-specific notes.

Stages
------
floor         one DuckDB ``GROUP BY user_id`` over the event file: first and last timestamp and
              the first value event per user, fetched to pandas (what the facts step cannot beat)
dedup_floor   the fastest of two DuckDB queries that find every duplicate event (candidates,
              before an exact check), at DuckDB's default memory limit and at 1 GB: one
              ``GROUP BY`` the 64-bit hash of each row's key (user id, event, timestamp, value)
              ``HAVING count(*) > 1``, or per user ``count(*) - count(DISTINCT key)``; a lower
              bound for any facts step that removes duplicates
facts         ``compute_facts(params, cache=False)``: load + validate + the user-facts query
facts_cached  ``compute_facts(params)`` on a warm cache (what notebooks 2..n of a report pay)
pandas        the same facts the naive way: the whole log in pandas, ``groupby``
stats         retention + lifetime + TTFV + 5 segment comparisons on the facts, without and with
              weight compression (``compression_grid_hours: 1``)
report        ``run_report`` (every notebook, HTML), facts cache cold at the start; run on a
              2,000-user data set too, where it measures the fixed cost of the notebooks
              (kernels, imports, first plots and tables, HTML) that any data size pays
kernel        one trivial parameterised notebook through the same papermill call (kernel floor)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEGMENT_COLUMNS = ("persona", "plan", "channel", "client")  # + after_change: 5 comparisons
GRID_HOURS = 1.0


def _rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory in MiB: this process's own (``VmHWM``), or its children's.

    Not ``ru_maxrss`` for the process itself: Linux carries it across ``fork`` + ``exec``, so a
    stage started by a parent that had grown (``run.py`` generating a data set) reported the
    parent's peak (1,078 MiB for a 100k-user floor that needs 250). ``VmHWM`` belongs to the
    process's own address space, which ``exec`` starts afresh.
    """
    if who == resource.RUSAGE_SELF:
        try:
            with open("/proc/self/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024  # kB
        except OSError:  # not Linux: ru_maxrss (kilobytes on Linux, bytes on macOS)
            pass
    return resource.getrusage(who).ru_maxrss / 1024


def _best(fn, repeat: int) -> tuple[float, dict]:
    """Best wall time of ``repeat`` runs of ``fn`` (which returns a dict of part timings)."""
    best, parts = float("inf"), {}
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn() or {}
        elapsed = time.perf_counter() - start
        if elapsed < best:
            best, parts = elapsed, out
    return best, parts


def _params(path: str):
    from onboarding_analysis.params import load_params

    return load_params(path)


def _cache_dir(params_path: str) -> Path:
    return Path(params_path).resolve().parent / ".cache" / "facts"


# --------------------------------------------------------------------------------------------


def stage_floor(params_path: str, repeat: int) -> dict:
    import duckdb

    params = _params(params_path)
    events = params.resolve(params.events)
    values = ", ".join("'" + v.replace("'", "''") + "'" for v in params.value_events)
    sql = (
        "SELECT user_id, min(timestamp) AS first_ts, max(timestamp) AS last_ts,"
        f" min(timestamp) FILTER (WHERE event IN ({values})) AS value_ts"
        f" FROM read_parquet('{events}') GROUP BY user_id"
    )
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = {}

    def run():
        frame = con.execute(sql).df()
        rows["users"] = len(frame)

    seconds, parts = _best(run, repeat)
    return {"seconds": seconds, "parts": parts, "rows": rows["users"]}


#: Ways to find every duplicate event that :func:`stage_dedup_floor` measures (the cheapest counts).
DEDUP_METHODS = {
    # One hash table over every row's key: the keys seen more than once.
    "hash_group_by": "SELECT count(*) FROM (SELECT hash(user_id, event, timestamp, value) AS key"
    " FROM read_parquet('{events}') GROUP BY key HAVING count(*) > 1)",
    # Per user: rows minus distinct keys (a distinct set per group), summed.
    "per_user_distinct": "SELECT sum(dups) FROM (SELECT count(*) - count(DISTINCT hash(event, timestamp, value))"
    " AS dups FROM read_parquet('{events}') GROUP BY user_id)",
}
#: DuckDB memory limits tried for each method: its default and the package's 1 GB cap (a hash
#: aggregation over ~32M groups was faster capped: docs/performance.md, "Where the time goes", Memory).
DEDUP_MEMORY = ("default", "1GB")


def stage_dedup_floor(params_path: str, repeat: int) -> dict:
    """The least time any of :data:`DEDUP_METHODS` (at either of :data:`DEDUP_MEMORY`) takes to
    find the duplicate events: a lower bound for a facts step that removes them."""
    import duckdb

    params = _params(params_path)
    events = params.resolve(params.events)
    parts, found = {}, {}
    for memory in DEDUP_MEMORY:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        if memory != "default":
            con.execute(f"SET memory_limit = '{memory}'")
        for method, sql in DEDUP_METHODS.items():
            query = sql.format(events=events)

            def run(con=con, method=method, query=query):
                found[method] = con.execute(query).fetchone()[0]

            parts[f"{method}@{memory}"] = round(_best(run, repeat)[0], 3)
        con.close()
    best = min(parts, key=parts.get)
    return {"seconds": parts[best], "parts": parts, "method": best, "found": found}


def stage_facts(params_path: str, repeat: int) -> dict:
    from onboarding_analysis.data import cache as facts_cache
    from onboarding_analysis.data.engines import load_with
    from onboarding_analysis.data.facts import build_facts

    params = _params(params_path)
    holder = {}

    def run():
        holder.clear()  # the peak is one build's, not this build's plus the previous repeat's result
        t0 = time.perf_counter()
        source = load_with(params)
        t1 = time.perf_counter()
        holder["facts"] = build_facts(source, params)
        t2 = time.perf_counter()
        return {"load": t1 - t0, "build_facts": t2 - t1}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seconds, parts = _best(run, repeat)
    facts = holder["facts"]
    # Untimed: leave the entry the later stages (stats, facts_cached) start from.
    directory = _cache_dir(params_path)
    facts_cache.write(directory, facts_cache.cache_key(params), facts_cache.entry_of(facts))
    return {
        "seconds": seconds,
        "parts": parts,
        "rows": len(facts.table),
        "events_read": facts.accounting.events_read,
        "table_mb": round(facts.table.memory_usage(deep=True).sum() / 2**20, 1),
    }


def stage_facts_cached(params_path: str, repeat: int) -> dict:
    from onboarding_analysis.data.pipeline import compute_facts

    params = _params(params_path)
    directory = _cache_dir(params_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compute_facts(params, cache=directory)  # warm (normally a hit already)
        seconds, parts = _best(lambda: compute_facts(params, cache=directory) and None, repeat)
    return {"seconds": seconds, "parts": parts}


def stage_pandas(params_path: str, repeat: int) -> dict:
    """User facts the naive way: read the whole log into pandas and group by user."""
    import numpy as np
    import pandas as pd

    from onboarding_analysis.data import columns as C
    from onboarding_analysis.params import observation_end_timestamp

    params = _params(params_path)
    end = pd.Timestamp(observation_end_timestamp(params))
    day = pd.Timedelta(days=1)
    out = {}

    def run():
        t0 = time.perf_counter()
        ev = pd.read_parquet(params.resolve(params.events), columns=["user_id", "event", "timestamp"])
        users = pd.read_csv(params.resolve(params.users), usecols=["user_id", "signup_at"])
        t1 = time.perf_counter()
        ev["ts"] = ev.pop("timestamp").dt.tz_convert("UTC").dt.tz_localize(None)
        ev = ev[ev["ts"] <= end]
        users["t0"] = pd.to_datetime(users["signup_at"], utc=True, format="ISO8601").dt.tz_localize(None)
        ev = ev.merge(users[["user_id", "t0"]], on="user_id", how="inner")
        ev = ev[ev["ts"] >= ev["t0"]]
        ev["d"] = (ev["ts"] - ev["t0"]) / day
        ev["day"] = np.floor(ev["d"]).astype("int64")
        active = ev["event"] != params.signup_event
        act = ev[active]
        g = act.groupby("user_id")
        facts = pd.DataFrame({"last_active_days": g["d"].max(), "last_active_day": g["day"].max()})
        facts[C.N_EVENTS] = ev.groupby("user_id").size()
        value = ev[ev["event"].isin(params.value_events)].groupby("user_id")["d"].min()
        facts = users.set_index("user_id")[["t0"]].join(facts).join(value.rename(C.VALUE))
        for n in params.retention_days:
            hit = act.loc[act["day"] == n, "user_id"].unique()
            facts[C.active_day(n)] = facts.index.isin(hit)
        for name, period in ((C.DAYS_MASK, 1), (C.WEEKS_MASK, 7), (C.MONTHS_MASK, 30)):
            k = act["day"] // period
            pairs = pd.DataFrame({"user_id": act["user_id"], "k": k})[k < C.MASK_BITS].drop_duplicates()
            bits = np.left_shift(np.int64(1), pairs["k"].to_numpy(dtype=np.int64))
            facts[name] = pd.Series(bits, index=pairs["user_id"]).groupby(level=0).sum()
            facts[name] = facts[name].fillna(0).astype("int64")
        age = (end - facts["t0"]) / day
        last = facts["last_active_days"].fillna(0.0)
        churned = (age - last) >= params.inactivity_days
        facts[C.CHURNED] = churned
        facts[C.LIFETIME] = np.where(churned, last, np.maximum(age - params.inactivity_days, 0.0))
        facts[C.AGE] = age
        t2 = time.perf_counter()
        out["facts"] = facts
        return {"read": t1 - t0, "groupby": t2 - t1}

    seconds, parts = _best(run, repeat)
    facts = out["facts"]
    return {
        "seconds": seconds,
        "parts": parts,
        "rows": len(facts),
        "check": _check_against_engine(facts, params),
    }


def _check_against_engine(frame, params) -> str:
    """Compare the pandas facts with the engine's (cached) facts: proves the baseline does the work."""
    import numpy as np

    from onboarding_analysis.data import cache as facts_cache
    from onboarding_analysis.data import columns as C

    entry = facts_cache.read(_cache_dir(params.source), facts_cache.cache_key(params))
    if entry is None:
        return "not checked (run the facts stage first)"
    ours = entry.table.set_index(C.USER_ID).loc[frame.index]
    bad = []
    for col in (
        C.CHURNED,
        C.LIFETIME,
        C.VALUE,
        C.DAYS_MASK,
        C.WEEKS_MASK,
        *map(C.active_day, params.retention_days),
    ):
        a, b = ours[col].to_numpy(), frame[col].to_numpy()
        same = np.isclose(a.astype(float), b.astype(float), equal_nan=True, rtol=0, atol=1e-9)
        if not same.all():
            bad.append(f"{col}: {int((~same).sum())} users differ")
    return "equal to the engine's facts" if not bad else "; ".join(bad)


def stage_stats(params_path: str, repeat: int) -> dict:
    import dataclasses

    import numpy as np
    import pandas as pd

    import onboarding_analysis as oa
    from onboarding_analysis.data import columns as C
    from onboarding_analysis.data.pipeline import compute_facts
    from onboarding_analysis.stats.compression import WEIGHT, compress, round_durations

    params = _params(params_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        facts = compute_facts(params, cache=_cache_dir(params_path))
    change = pd.Timestamp(params.change_date or "2024-04-01")
    table = facts.table.copy()
    table["after_change"] = np.where(table[C.T0] >= change, "after", "before")
    facts = dataclasses.replace(facts, table=table)

    from onboarding_analysis.analyses.segments import compare_all, compare_segments, completion_flags

    t = time.perf_counter()
    completion = completion_flags(facts)
    funnel_seconds = time.perf_counter() - t
    lt_cols = [C.LIFETIME, C.CHURNED]
    tv_cols = [C.VALUE, C.CHURNED, C.LIFETIME, C.AGE]

    def run(compressed: bool):
        parts = {}
        t0 = time.perf_counter()
        oa.nday_retention(table, params.retention_days)
        oa.unbounded_retention(table, params.retention_days)
        oa.retention_curve(table, max_day=30)
        oa.cohort_table(table, period="week", min_cell_users=params.min_cell_users)
        oa.cohort_table(table, period="month", min_cell_users=params.min_cell_users)
        t1 = time.perf_counter()
        parts["retention"] = t1 - t0
        if compressed:
            rows = compress(table, lt_cols, duration=C.LIFETIME, grid_hours=GRID_HOURS)
            oa.fit_lifetime(
                rows, days=params.retention_days, horizon_days=params.rmst_horizon_days, weights=WEIGHT
            )
        else:
            oa.fit_lifetime(table, days=params.retention_days, horizon_days=params.rmst_horizon_days)
        t2 = time.perf_counter()
        parts["lifetime"] = t2 - t1
        delay = oa.churn_delay_days(params)
        if compressed:
            grid = table[tv_cols].copy()
            for col in (C.VALUE, C.LIFETIME, C.AGE):
                grid[col] = round_durations(grid[col], GRID_HOURS)
            rows = compress(grid, tv_cols)
            oa.fit_ttfv(
                rows,
                days=params.retention_days,
                horizon_days=params.rmst_horizon_days,
                churn_delay_days=delay,
                weights=WEIGHT,
            )
        else:
            oa.fit_ttfv(
                table,
                days=params.retention_days,
                horizon_days=params.rmst_horizon_days,
                churn_delay_days=delay,
            )
        t3 = time.perf_counter()
        parts["ttfv"] = t3 - t2
        grid_hours = GRID_HOURS if compressed else None
        options = dict(completion=completion, compress=compressed, grid_hours=grid_hours)
        compare_all(facts, list(SEGMENT_COLUMNS), **options)
        compare_segments(facts, "after_change", **options)
        parts["segments_5"] = time.perf_counter() - t3
        return parts

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact, exact_parts = _best(lambda: run(False), repeat)
        weighted, weighted_parts = _best(lambda: run(True), repeat)
    return {
        "seconds": exact,
        "parts": exact_parts,
        "compressed_seconds": weighted,
        "compressed_parts": weighted_parts,
        "funnel_completion_seconds": funnel_seconds,
    }


def stage_report(params_path: str, repeat: int) -> dict:
    from onboarding_analysis.report.execution import run_report

    out = {}

    def run():
        with tempfile.TemporaryDirectory(prefix="oa-bench-") as tmp:
            os.environ["ONBOARDING_ANALYSIS_CACHE"] = str(
                Path(tmp) / "cache"
            )  # cold, shared by the notebooks
            t0 = time.perf_counter()
            html = run_report(params_path, out_dir=Path(tmp) / "reports", timeout=None)
            out["html_kb"] = round(html.stat().st_size / 1024)
            out["notebooks"] = _notebook_times(html.parent)
            return {"run_report": time.perf_counter() - t0}

    seconds, parts = _best(run, repeat)
    return {"seconds": seconds, "parts": parts, **out}


def _notebook_times(run_dir: Path) -> dict:
    """Per executed notebook: papermill's duration and its three slowest cells (first line)."""
    import nbformat

    out = {}
    for path in sorted(run_dir.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells = [
            (c.metadata.get("papermill", {}).get("duration") or 0.0, c.source.strip().splitlines()[0][:70])
            for c in nb.cells
            if c.cell_type == "code" and c.source.strip()
        ]
        slowest = sorted(cells, reverse=True)[:3]
        out[path.name] = {
            "seconds": round(nb.metadata.get("papermill", {}).get("duration") or 0.0, 2),
            "slowest_cells": [[round(t, 2), line] for t, line in slowest],
        }
    return out


KERNEL_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]},
            "source": "client = 'demo'",
            "outputs": [],
            "execution_count": None,
        },
        {"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": [], "execution_count": None},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def stage_kernel(params_path: str, repeat: int) -> dict:
    from onboarding_analysis.report.kernels import execute_notebook

    with tempfile.TemporaryDirectory(prefix="oa-kernel-") as tmp:
        nb = Path(tmp) / "trivial.ipynb"
        nb.write_text(json.dumps(KERNEL_NOTEBOOK))
        seconds, parts = _best(
            lambda: execute_notebook(nb, Path(tmp) / "out.ipynb", {"client": "bench"}, cwd=tmp) and None,
            repeat,
        )
    return {"seconds": seconds, "parts": parts}


STAGES = {
    "floor": stage_floor,
    "dedup_floor": stage_dedup_floor,
    "facts": stage_facts,
    "facts_cached": stage_facts_cached,
    "pandas": stage_pandas,
    "stats": stage_stats,
    "report": stage_report,
    "kernel": stage_kernel,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one benchmark stage and print one JSON line.")
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("params")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    try:  # the installed package, or the one PYTHONPATH names (to compare versions)
        import onboarding_analysis  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(ROOT))
    start_rss = _rss_mb()
    result = STAGES[args.stage](args.params, args.repeat)
    result.update(
        stage=args.stage,
        rss_start_mb=round(start_rss),
        peak_rss_mb=round(_rss_mb()),
        peak_child_rss_mb=round(_rss_mb(resource.RUSAGE_CHILDREN)),
    )
    print(json.dumps(result, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
