"""Benchmark the pipeline at scale, each stage as a ratio to a floor measured in the same run.

    python benchmarks/run.py                                # 1,000,000 users (~32M events)
    python benchmarks/run.py --users 100000 300000 1000000  # growth
    python benchmarks/run.py --users 100000 --stages floor facts

Data: demo-shaped event logs (:mod:`datagen`), generated once per size into
``benchmarks/data/users_<N>/`` (gitignored). Every stage (:mod:`stages`) runs in its own
process (peak memory = that process's own high-water mark, ``VmHWM``). The table compares:

==============  ==========================================  ====================================
ratio           what                                        target (1M users, 2 cores)
==============  ==========================================  ====================================
facts / floor   ``compute_facts`` vs one DuckDB GROUP BY     <= 1.5
dedup / floor   the duplicate search alone vs the floor     (a lower bound of facts / floor)
pandas / facts  the same facts in pandas vs the engine       >= 4
facts peak MB   peak RSS of the facts process                < 2048
stats s         retention + lifetime + TTFV + 5 segments     < 10 s
report / (kernel + facts)                                   <= 2
growth          seconds per million events, smallest to     ~1 (linear)
                largest size
==============  ==========================================  ====================================

The report also runs once on a 2,000-user data set (``SMALL_USERS``): its time there is the
fixed cost of the notebooks (kernels, imports, first plots and tables, HTML), paid at any size
after the facts exist, which the 2x target leaves ``2 x kernel + facts`` seconds for.

Results go to ``benchmarks/results.json`` (gitignored) under ``--label`` (default ``latest``),
keeping other labels, so a "before" and an "after" run sit side by side. Not part of the test
suite: a 1M-user run takes about 10-20 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from datagen import ensure_dataset  # noqa: E402

RESULTS = HERE / "results.json"
STAGE_ORDER = (
    "kernel",
    "report_small",
    "floor",
    "dedup_floor",
    "facts",
    "facts_cached",
    "pandas",
    "stats",
    "report",
)
#: Repeats per stage (best time counts); the slow, memory-heavy stages run once. The statistics
#: run twice: their first run also pays the first-call costs of lifelines, scipy and statsmodels
#: (imports, lazy initialisation: ~1.4 s at 1M users), which a notebook pays once in its first
#: cells, not per statistic.
#: The size of the data set report_small runs on, once per benchmark (like kernel).
SMALL_USERS = 2_000
REPEAT = {
    "kernel": 3,
    "report_small": 1,
    "floor": 3,
    "dedup_floor": 3,
    "facts": 2,
    "facts_cached": 3,
    "pandas": 1,
    "stats": 2,
    "report": 1,
}
TARGETS = {
    "facts_vs_floor": 1.5,
    "pandas_vs_facts": 4.0,
    "facts_peak_mb": 2048,
    "stats_s": 10.0,
    "report_ratio": 2.0,
}


def run_stage(stage: str, params: Path, *, repeat: int, timeout: float) -> dict:
    """Run one stage in a fresh interpreter (cwd: the data folder, so kernels import the same package)."""
    cmd = [sys.executable, str(HERE / "stages.py"), stage, str(params), "--repeat", str(repeat)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=params.parent, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"stage": stage, "error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"stage": stage, "error": " | ".join(tail) or f"exit {proc.returncode}"}
    result = json.loads(lines[-1])
    result["process_wall_s"] = round(wall, 2)
    return result


def ratios(stages: dict[str, dict], kernel: dict | None) -> dict:
    """The ratios of the table (None when a stage is missing or failed)."""

    def sec(name: str) -> float | None:
        s = stages.get(name) or {}
        return s.get("seconds") if "error" not in s else None

    floor, facts, pandas, report = sec("floor"), sec("facts"), sec("pandas"), sec("report")
    dedup = sec("dedup_floor")
    kern = kernel.get("seconds") if kernel and "error" not in kernel else None
    stats = stages.get("stats") or {}
    out = {
        "facts_vs_floor": facts / floor if facts and floor else None,
        "dedup_vs_floor": dedup / floor if dedup and floor else None,
        "pandas_vs_facts": pandas / facts if pandas and facts else None,
        "facts_peak_mb": (stages.get("facts") or {}).get("peak_rss_mb"),
        "pandas_peak_mb": (stages.get("pandas") or {}).get("peak_rss_mb"),
        "floor_peak_mb": (stages.get("floor") or {}).get("peak_rss_mb"),
        "stats_s": stats.get("seconds"),
        "stats_compressed_s": stats.get("compressed_seconds"),
        "report_ratio": report / (kern + facts) if report and kern and facts else None,
        # What the 2x target leaves for the notebooks' work once the facts exist.
        "report_budget_after_facts_s": 2 * kern + facts if kern and facts else None,
        "cached_facts_s": sec("facts_cached"),
    }
    return out


def growth(results: dict[str, dict]) -> dict:
    """Per stage, seconds per million events at each size, and the log-log slope end to end."""
    sizes = sorted(results, key=int)
    out = {}
    if len(sizes) < 2:
        return out
    for stage in ("floor", "facts", "pandas", "stats", "report"):
        points = []
        for n in sizes:
            s = results[n]["stages"].get(stage) or {}
            if s.get("seconds") and "error" not in s:
                points.append((results[n]["events"], s["seconds"]))
        if len(points) >= 2:
            (e0, t0), (e1, t1) = points[0], points[-1]
            out[stage] = {
                "s_per_m_events": [round(t / e * 1e6, 3) for e, t in points],
                "slope": round(math.log(t1 / t0) / math.log(e1 / e0), 2),
            }
    return out


def _fmt(value, spec: str = ".2f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def print_table(results: dict[str, dict], kernel: dict | None, grow: dict, small: dict | None = None) -> None:
    header = (
        f"{'users':>9} {'events':>11} | {'floor s':>8} {'facts s':>8} {'x floor':>7} | {'pandas s':>8} "
        f"{'pd/facts':>8} | {'facts MB':>8} {'pandas MB':>9} | {'stats s':>7} {'compr s':>7} | "
        f"{'hit s':>6} | {'report s':>8} {'x(k+f)':>6}"
    )
    print()
    print(header)
    print("-" * len(header))
    for n in sorted(results, key=int):
        r, st = results[n]["ratios"], results[n]["stages"]

        def sec(name, st=st):
            s = st.get(name) or {}
            return None if "error" in s else s.get("seconds")

        print(
            f"{int(n):>9,} {results[n]['events']:>11,} | {_fmt(sec('floor')):>8} {_fmt(sec('facts')):>8} "
            f"{_fmt(r['facts_vs_floor']):>7} | {_fmt(sec('pandas')):>8} {_fmt(r['pandas_vs_facts']):>8} | "
            f"{_fmt(r['facts_peak_mb'], '.0f'):>8} {_fmt(r['pandas_peak_mb'], '.0f'):>9} | "
            f"{_fmt(r['stats_s']):>7} {_fmt(r['stats_compressed_s']):>7} | {_fmt(r['cached_facts_s']):>6} | "
            f"{_fmt(sec('report')):>8} {_fmt(r['report_ratio']):>6}"
        )
    print()
    print(f"kernel floor (one trivial papermill notebook): {_fmt((kernel or {}).get('seconds'))} s")
    if small:
        if "error" in small:
            print(f"report at {SMALL_USERS:,} users: FAILED: {small['error']}")
        else:
            print(
                f"report at {SMALL_USERS:,} users (the notebooks' fixed cost): {_fmt(small.get('seconds'))} s"
            )
            for name, nb in (small.get("notebooks") or {}).items():
                print(f"  {SMALL_USERS:,} users, report {name}: {nb['seconds']:.1f} s")
    for n in sorted(results, key=int):
        st = results[n]["stages"]
        for name, s in st.items():
            if "error" in s:
                print(f"  {int(n):,} users, {name}: FAILED: {s['error']}")
        dedup = st.get("dedup_floor") or {}
        if dedup.get("parts"):
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in dedup["parts"].items())
            print(f"  {int(n):,} users, duplicate search: {parts}")
        facts = st.get("facts") or {}
        if facts.get("parts"):
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in facts["parts"].items())
            print(f"  {int(n):,} users, facts: {parts}")
        stats = st.get("stats") or {}
        if stats.get("parts"):
            for label, key in (("exact", "parts"), ("compressed", "compressed_parts")):
                parts = ", ".join(f"{k} {v:.2f}" for k, v in (stats.get(key) or {}).items())
                print(f"  {int(n):,} users, stats {label}: {parts} s")
            print(
                f"  {int(n):,} users, funnel completion flags (an engine query over the events, run once"
                f" and shared by the 5 comparisons; not in stats s): {stats.get('funnel_completion_seconds', 0):.2f} s"
            )
        for name, nb in ((st.get("report") or {}).get("notebooks") or {}).items():
            slow = "; ".join(f"{t:.1f} s {line}" for t, line in nb["slowest_cells"][:2])
            print(f"  {int(n):,} users, report {name}: {nb['seconds']:.1f} s (slowest: {slow})")
        if (st.get("pandas") or {}).get("check"):
            print(f"  {int(n):,} users, pandas baseline: {st['pandas']['check']}")
    if grow:
        print("\ngrowth (seconds per million events at each size; log-log slope, 1.0 = linear):")
        for stage, g in grow.items():
            print(f"  {stage:>7}: {g['s_per_m_events']}  slope {g['slope']}")
    largest = max(results, key=int)
    r = results[largest]["ratios"]
    print(f"\ntargets at {int(largest):,} users:")
    checks = [
        (
            "facts within 1.5x of the floor",
            r["facts_vs_floor"],
            lambda v: v <= TARGETS["facts_vs_floor"],
            "x",
        ),
        (
            "facts >= 4x faster than pandas",
            r["pandas_vs_facts"],
            lambda v: v >= TARGETS["pandas_vs_facts"],
            "x",
        ),
        ("facts peak memory < 2 GB", r["facts_peak_mb"], lambda v: v < TARGETS["facts_peak_mb"], " MB"),
        ("statistics < 10 s", r["stats_s"], lambda v: v < TARGETS["stats_s"], " s"),
        ("statistics, compressed < 10 s", r["stats_compressed_s"], lambda v: v < TARGETS["stats_s"], " s"),
        ("report <= 2 x (kernel + facts)", r["report_ratio"], lambda v: v <= TARGETS["report_ratio"], "x"),
    ]
    for label, value, ok, unit in checks:
        verdict = "not measured" if value is None else ("met" if ok(value) else "MISSED")
        print(f"  {label:<34} {_fmt(value)}{unit if value is not None else ''}  {verdict}")
    print("lower bounds:")
    dedup_method = ((results[largest]["stages"].get("dedup_floor") or {}).get("method") or "").replace(
        "@", " at "
    )
    if r.get("dedup_vs_floor") is not None:
        print(
            f"  the duplicate search alone (fastest way measured: {dedup_method}) is {r['dedup_vs_floor']:.2f}x the floor"
            f" (a facts step that removes duplicates cannot be within {TARGETS['facts_vs_floor']}x"
            " if this is above it)"
        )
    small_s = None if not small or "error" in small else small.get("seconds")
    budget = r.get("report_budget_after_facts_s")
    if small_s is not None and budget is not None:
        print(
            f"  the 2x report target leaves {budget:.1f} s (2 x kernel + facts) for the notebooks' work"
            f" once the facts exist; their fixed cost alone ({SMALL_USERS:,} users) is {small_s:.1f} s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--stages", nargs="+", choices=STAGE_ORDER, default=list(STAGE_ORDER))
    parser.add_argument("--label", default="latest", help="key of this run in results.json")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per stage")
    parser.add_argument("--repeat", type=int, default=None, help="override the repeats of every stage")
    args = parser.parse_args(argv)

    record = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "load_avg_start": os.getloadavg(),
        "sizes": {},
    }
    kernel = small = None
    for n in args.users:
        print(f"== {n:,} users", flush=True)
        paths = ensure_dataset(n)
        meta = json.loads(paths["meta"].read_text())
        stages = {}
        for stage in (s for s in STAGE_ORDER if s in args.stages):
            if stage == "kernel":
                if kernel is None:
                    kernel = run_stage(
                        "kernel",
                        paths["params"],
                        repeat=args.repeat or REPEAT["kernel"],
                        timeout=args.timeout,
                    )
                    print(f"   kernel        {_fmt(kernel.get('seconds'))} s", flush=True)
                continue
            if stage == "report_small":
                if small is None:
                    small = run_stage(
                        "report",
                        ensure_dataset(SMALL_USERS)["params"],
                        repeat=args.repeat or REPEAT["report_small"],
                        timeout=args.timeout,
                    )
                    shown = small.get("error") or f"{_fmt(small.get('seconds'))} s at {SMALL_USERS:,} users"
                    print(f"   report_small  {shown}", flush=True)
                continue
            result = run_stage(
                stage, paths["params"], repeat=args.repeat or REPEAT[stage], timeout=args.timeout
            )
            stages[stage] = result
            shown = (
                result.get("error") or f"{_fmt(result.get('seconds'))} s, peak {result.get('peak_rss_mb')} MB"
            )
            print(f"   {stage:<13} {shown}", flush=True)
        record["sizes"][str(n)] = {
            "events": meta["events"],
            "events_mb": round(meta["events_bytes"] / 2**20, 1),
            "stages": stages,
        }
        record["sizes"][str(n)]["ratios"] = ratios(stages, kernel)
    record["kernel"] = kernel
    record["report_small"] = small
    record["growth"] = growth(record["sizes"])
    record["load_avg_end"] = os.getloadavg()
    print_table(record["sizes"], kernel, record["growth"], small)
    print(
        f"\nload average start {record['load_avg_start']}, end {record['load_avg_end']} (2 cores: > 2 means contention)"
    )

    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing[args.label] = record
    RESULTS.write_text(json.dumps(existing, indent=1, default=float))
    print(f"results: {RESULTS} (label {args.label!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
