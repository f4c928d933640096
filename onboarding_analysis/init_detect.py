"""What ``onboarding-analysis init`` reads off an events file before loading it.

The params ``source`` (canonical or a vendor export, from the file's first JSON line or
columns) and, for a canonical file, the ``columns`` mapping found by comparing the column
names' words with :data:`COLUMN_CANDIDATES`.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

from .data.files import csv_header
from .errors import DataError
from .names import words

#: Canonical column roles and the names that usually hold them, best first (compared by words).
COLUMN_CANDIDATES = {
    "user_id": (
        "user_id",
        "userid",
        "distinct_id",
        "uid",
        "user",
        "customer_id",
        "person_id",
        "anonymous_id",
    ),
    "event": ("event", "event_name", "event_type", "name", "action", "event_text"),
    "timestamp": ("timestamp", "ts", "event_time", "time", "occurred_at", "created_at", "datetime", "date"),
}


def _first_json_line(path: Path) -> dict | None:
    """Return the first JSON line of a (gzipped) file or of a zip's first JSON member, else None."""
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                member = next((m for m in archive.namelist() if ".json" in m.lower()), None)
                if member is None:
                    return None
                raw = archive.read(member)
                raw = gzip.decompress(raw) if member.lower().endswith(".gz") else raw
                line = raw.split(b"\n", 1)[0]
        else:
            opener = gzip.open if path.name.lower().endswith(".gz") else open
            with opener(path, "rb") as handle:
                line = handle.readline(1 << 22)
        value = json.loads(line)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None
    return value if isinstance(value, dict) else None


def _one_file(events: Path) -> Path:
    if events.is_dir():
        found = sorted(p for p in events.rglob("*") if p.is_file())
        if not found:
            raise DataError(f"{events}: the folder holds no file. Give the export's file or folder.")
        return found[0]
    if not events.exists():
        raise DataError(f"{events}: file not found. Check the path.")
    return events


def detect_source(events: str | Path) -> tuple[str, dict[str, str]]:
    """Return the params ``source`` of an events file (and, for ``canonical``, its column mapping).

    Parameters
    ----------
    events : str or Path
        A file, folder or zip.

    Returns
    -------
    (str, dict)
        ``source`` and the ``columns`` mapping (empty for vendor exports).

    Raises
    ------
    DataError
        The file is no supported export and no column can be mapped.
    """
    path = _one_file(Path(events))
    name = path.name.lower()
    if name.endswith((".zip", ".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")) or (
        name.endswith(".gz") and not name.endswith((".csv.gz", ".tsv.gz"))
    ):
        line = _first_json_line(path)
        if line is None:
            raise DataError(f"{path}: not a JSON-lines export (its first line is not a JSON object).")
        if "event_type" in line and ("amplitude_id" in line or "event_time" in line):
            return "amplitude", {}
        if "event" in line and isinstance(line.get("properties"), dict) and "time" in line["properties"]:
            return "mixpanel", {}
        if {"uuid", "event", "distinct_id", "timestamp"} <= set(line):
            return "posthog", {}
        if {"messageId", "type"} <= set(line):
            return "segment", {}
        if {"event_name", "event_timestamp", "user_pseudo_id"} <= set(line):
            return "ga4", {}
        raise DataError(
            f"{path}: a JSON export of an unknown shape (keys: {', '.join(list(line)[:8])}). Supported: "
            f"Amplitude, Mixpanel, PostHog, Segment, GA4; or CSV/Parquet with a user id, an event and a time."
        )
    names = _column_names(path)
    if {"uuid", "event", "distinct_id", "timestamp"} <= set(names) or {"*.event", "*.distinct_id"} <= set(
        names
    ):
        return "posthog", {}
    if {"id", "anonymous_id", "user_id", "timestamp"} <= set(names) and {"event", "event_text"} & set(names):
        return "segment", {}
    if {"event_name", "event_timestamp", "user_pseudo_id"} <= set(names):
        return "ga4", {}
    return "canonical", map_columns(names, str(path))


def _column_names(path: Path) -> list[str]:
    import duckdb

    if path.name.lower().endswith((".parquet", ".pq")):
        con = duckdb.connect()
        rows = con.execute(
            f"DESCRIBE SELECT * FROM read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')"
        )
        return [row[0] for row in rows.fetchall()]
    return csv_header(str(path))[1]


def map_columns(names: list[str], where: str) -> dict[str, str]:
    """Return the ``columns`` mapping of a canonical file's column ``names``.

    Parameters
    ----------
    names : list[str]
        The file's column names.
    where : str
        The file as named in the error message.

    Returns
    -------
    dict[str, str]
        Each role of :data:`COLUMN_CANDIDATES` mapped to the first column whose words match a
        candidate name.

    Raises
    ------
    DataError
        No column can be the user id, the event or the timestamp.
    """
    by_words = {" ".join(words(n)): n for n in names}
    mapping = {}
    for role, candidates in COLUMN_CANDIDATES.items():
        hit = next((by_words[" ".join(words(c))] for c in candidates if " ".join(words(c)) in by_words), None)
        if hit is None:
            raise DataError(
                f"{where}: no column looks like the {role} (columns: {', '.join(names)}). Run init, then "
                f"set columns: {{{role}: <your column>}} in the params file it writes."
            )
        mapping[role] = hit
    return mapping


__all__ = ["COLUMN_CANDIDATES", "detect_source", "map_columns"]
