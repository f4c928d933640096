"""The used events of a run, written once and read by every notebook of the run.

:func:`share_events` replaces the facts' lazy query over the raw event log by one Parquet file
next to the facts cache entry (:mod:`onboarding_analysis.data.cache`), so that the notebooks of
a run do not each repeat the parsing and validation. The notebooks call it as
``oa.share_events`` (re-exported by :mod:`onboarding_analysis.report.notebook`).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
from pathlib import Path

from ..data.cache import EVENTS_SUFFIX

#: Columns of the used events kept by :func:`share_events` (those the analyses read; ``file``
#: for the data-quality tables, one value per input file: it costs next to nothing stored).
SHARED_EVENT_COLUMNS = (
    "user_id",
    "event",
    "ts",
    "t0",
    "day",
    "days",
    "active",
    "value",
    "account_id",
    "file",
)



def share_events(facts, *, cache=None):
    """The facts with their used events read from one Parquet file shared by a run's notebooks.

    ``facts.events`` is a lazy query over the raw event log (parse, validate, drop duplicates,
    join the users' signup times): every analysis that aggregates events repeats that work.
    The first notebook of a run that calls this writes the used events (the columns of
    :data:`SHARED_EVENT_COLUMNS` present) once to ``<key>.events.parquet`` next to the facts
    cache entry (:mod:`onboarding_analysis.data.cache`, same key: same params and input files); the
    others, and every later query, read that file. The rows are the same, so every result is
    the same. Without a cache folder (cache off) the events are held in a temporary engine
    table for the life of the returned object instead; on an engine other than DuckDB the
    facts are returned unchanged.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.compute_facts`.
    cache : bool, path or None
        As in :func:`onboarding_analysis.compute_facts`.

    Returns
    -------
    Facts
        ``facts`` with ``events`` reading the shared file (or unchanged, see above).

    Examples
    --------
    >>> facts = oa.share_events(oa.compute_facts(params))     # doctest: +SKIP
    """
    from ..data import cache as facts_cache

    events = getattr(facts, "events", None)
    if events is None:
        return facts
    try:
        con = events._find_backend()
    except Exception:  # noqa: BLE001 - an unbound expression: leave it alone
        return facts
    if getattr(con, "name", None) != "duckdb":
        return facts
    slim = events.select(*[c for c in SHARED_EVENT_COLUMNS if c in events.columns])
    directory = facts_cache.cache_dir(facts.params, cache)
    path = None
    if directory is not None:
        try:
            key = facts_cache.cache_key(facts.params)
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"{key}{EVENTS_SUFFIX}"
            facts_cache.write_once(path, lambda tmp: slim.to_parquet(tmp))
            _prune_events(directory)
        except OSError:
            path = None
    link = _private_link(path) if path is not None else None
    if link is None:
        return dataclasses.replace(facts, events=slim.cache())
    shared = con.read_parquet(str(link))
    # The engine reopens the file on every query: this process reads its own hard link, which
    # the cache's pruning (of the shared name) cannot take away. It is deleted when the process
    # exits (or, after a crash, by the next pruning).
    atexit.register(_unlink, link)
    events = shared.select(*slim.columns)
    # Tables derived from these very events (the funnel's step times) may be stored next to them.
    facts_cache.register_shared(events, path)
    return dataclasses.replace(facts, events=events)


def _private_link(path: Path) -> Path | None:
    """A hard link ``<key>.events.<pid>-<n>.parquet`` to the shared file (None if impossible)."""
    for n in range(100):
        link = path.with_name(f"{path.name[: -len(EVENTS_SUFFIX)]}.events.{os.getpid()}-{n}.parquet")
        try:
            os.link(path, link)
        except FileExistsError:
            continue
        except OSError:
            return None
        return link
    return None


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _prune_events(directory: Path) -> None:
    """Delete the private links of processes that died (the cache prunes the shared files)."""
    with contextlib.suppress(OSError):
        for link in directory.glob("*.events.*-*.parquet"):  # links of processes that died
            pid = link.name.rsplit(".", 2)[-2].split("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                link.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


__all__ = ["SHARED_EVENT_COLUMNS", "share_events"]
