"""Demo-shaped event logs at benchmark scale, written in chunks (bounded memory).

The package's generator (:func:`onboarding_analysis.demo.generator.generate`) builds the whole log in
pandas: a million users take about 7.5 GB. Here it runs on chunks of ``CHUNK_USERS`` users with
one seed per chunk, so memory stays at one chunk (~0.5 GB) whatever the scale, and every chunk
is appended to one Parquet file (row groups of one chunk) and one users CSV. Ids are made
unique across chunks (``u`` + 2-digit chunk + the demo's 6 digits; accounts alike). The data
has the demo's shape and ground truth: ~31.6 events per user, the same event names, clients,
personas, plans, channels and time window, so ``params/demo.yaml`` (paths replaced) runs on it.

    python benchmarks/datagen.py 1000000            # -> benchmarks/data/users_1000000/
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
CHUNK_USERS = 50_000
SEED = 20240101
#: Bump when the generated data changes, so cached data sets are rebuilt.
VERSION = 1

EVENTS_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("event", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("client", pa.string()),
        ("account_id", pa.string()),
        ("value", pa.float64()),
    ]
)


def dataset_dir(n_users: int, data_dir: Path = DATA) -> Path:
    return data_dir / f"users_{n_users}"


def ensure_dataset(n_users: int, data_dir: Path = DATA, *, log=print) -> dict[str, Path]:
    """The data set of ``n_users`` users, generated unless a complete one is cached."""
    folder = dataset_dir(n_users, data_dir)
    paths = {
        "events": folder / "events.parquet",
        "users": folder / "users.csv",
        "params": folder / "params.yaml",
        "meta": folder / "meta.json",
    }
    if paths["meta"].exists():
        meta = json.loads(paths["meta"].read_text())
        if meta.get("version") == VERSION and all(p.exists() for p in paths.values()):
            return paths
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    n_events = generate(n_users, paths["events"], paths["users"], log=log)
    write_params(paths["params"], paths["events"], paths["users"], n_users)
    meta = {
        "version": VERSION,
        "users": n_users,
        "events": n_events,
        "events_bytes": paths["events"].stat().st_size,
        "seconds": round(time.perf_counter() - start, 1),
    }
    paths["meta"].write_text(json.dumps(meta, indent=1))
    log(f"  generated {n_users:,} users, {n_events:,} events in {meta['seconds']} s -> {folder}")
    return paths


def generate(n_users: int, events_path: Path, users_path: Path, *, log=print) -> int:
    """Write ``n_users`` demo users in chunks; return the number of events written."""
    from onboarding_analysis.demo.generator import DemoSpec
    from onboarding_analysis.demo.generator import generate as demo_generate

    n_events = 0
    tmp_events = events_path.with_suffix(".parquet.tmp")
    tmp_users = users_path.with_suffix(".csv.tmp")
    with (
        pq.ParquetWriter(tmp_events, EVENTS_SCHEMA) as writer,
        open(tmp_users, "w", encoding="utf-8") as users,
    ):
        for chunk, start in enumerate(range(0, n_users, CHUNK_USERS)):
            size = min(CHUNK_USERS, n_users - start)
            data = demo_generate(DemoSpec(n_users=size), seed=SEED + chunk)
            prefix = f"{chunk:02d}"
            events = data.events
            events["user_id"] = "u" + prefix + events["user_id"].str[1:]
            events["account_id"] = "a" + prefix + events["account_id"].str[1:]
            writer.write_table(pa.Table.from_pandas(events, schema=EVENTS_SCHEMA, preserve_index=False))
            frame = data.users
            frame["user_id"] = "u" + prefix + frame["user_id"].str[1:]
            frame["account_id"] = "a" + prefix + frame["account_id"].str[1:]
            frame.to_csv(users, index=False, header=chunk == 0)
            n_events += len(events)
            if chunk % 5 == 4:
                log(f"  ... {start + size:,} users")
    tmp_events.replace(events_path)
    tmp_users.replace(users_path)
    return n_events


def write_params(path: Path, events: Path, users: Path, n_users: int) -> None:
    """``params/demo.yaml`` with the benchmark's files, and ``client`` as a fourth segment."""
    raw = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    raw.update(
        client=f"bench{n_users}",
        events=str(events.resolve()),
        users=str(users.resolve()),
        segments=["persona", "plan", "channel", "client"],
    )
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("users", type=int, nargs="+", help="numbers of users, e.g. 100000 1000000")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    args = parser.parse_args(argv)
    for n in args.users:
        ensure_dataset(n, args.data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
