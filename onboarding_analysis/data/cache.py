"""Cache of the user-facts table: computed once, shared by every notebook of a run.

Each report notebook starts with :func:`onboarding_analysis.compute_facts`. The first one
computes the facts and stores them here; the others (and re-runs in JupyterLab) read them back,
which takes a fraction of a second instead of an aggregation over the whole event log. An entry
is a Parquet file (the table) and a JSON file (the row accounting and observation end), named by
a key hashing:

- every params value (paths made absolute),
- each input file (events and users, globs expanded): path, size, modification time and the
  SHA-256 of its last 64 KiB (a Parquet footer, a CSV's last rows),
- the source of the modules that define the facts (loading, facts, engines, params, columns),
  so an upgrade or a local edit never reads stale facts.

A changed param or input file is a different key: a miss, never a stale hit. Only the newest
:data:`KEEP` entries are kept. Writes are atomic (a temporary file renamed into place), so
notebooks running in parallel never read half an entry.

Where: ``<project root>/.cache/facts/`` (the params' base directory; gitignored), or the folder
named by the environment variable ``ONBOARDING_ANALYSIS_CACHE``; set it to ``off`` to disable the
cache (``compute_facts(params, cache=False)`` does the same for one call).

Examples
--------
>>> from onboarding_analysis.data.cache import cache_key              # doctest: +SKIP
>>> cache_key(params)                                             # doctest: +SKIP
'3f5c0a...'
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from ..errors import DataWarning
from ..params import Params
from . import columns as C
from .cache_files import exclusive_lock, write_atomic, write_once
from .contract import Source
from .facts import Accounting, Facts, duplicate_table, user_facts_expr
from .files import is_remote

#: Environment variable: a cache folder, or ``off``/``0``/``false`` to disable the cache.
CACHE_ENV = "ONBOARDING_ANALYSIS_CACHE"
#: Default cache folder, relative to the params' base directory (the project root).
DEFAULT_DIR = Path(".cache") / "facts"
#: Suffix of an entry's shared used-events file (written by
#: :func:`onboarding_analysis.report.notebook.share_events`; pruned with its entry).
EVENTS_SUFFIX = ".events.parquet"
#: Infix of an entry's derived tables (:func:`derived_path`, e.g. the funnel's step times;
#: pruned with the entry).
DERIVED_INFIX = ".derived."
#: Suffix of an entry's build lock (:func:`building`).
LOCK_SUFFIX = ".lock"
#: Entries kept; older ones are deleted after each write.
KEEP = 8
#: Modules whose source is part of the key.
_CODE = (
    "contract.py",
    "scan.py",
    "duckdb_files.py",
    "duckdb_columns.py",
    "loading.py",
    "spark.py",
    "facts.py",
    "facts_query.py",
    "engines.py",
    "../params.py",
    "../params_checks.py",
    "columns.py",
    "cache.py",
    "files.py",
    "sql.py",
    *(f"sources/{p.name}" for p in sorted((Path(__file__).resolve().parent / "sources").glob("*.py"))),
)
_TAIL_BYTES = 65_536
_OFF = {"off", "0", "false", "no", "none", ""}


@dataclass(frozen=True)
class CachedFacts:
    """What a cache entry holds besides what :func:`onboarding_analysis.data.loading.load` gives back."""

    table: pd.DataFrame
    observation_end: dt.datetime
    accounting: dict[str, Any]
    #: The candidate duplicate rows, when :class:`~onboarding_analysis.data.facts.Facts` gives them
    #: (``Facts.duplicates``): with them a hit rebuilds ``Facts.events`` without a pass to find them.
    duplicates: pd.DataFrame | None = None
    #: The loader's scan (:attr:`onboarding_analysis.data.loading.Source.scan`): a hit opens the
    #: inputs without scanning them again.
    scan: dict[str, Any] | None = None
    #: ``Facts.notes`` and ``Facts.issued``: a hit warns as the build did.
    notes: tuple[str, ...] = ()
    issued: tuple[str, ...] = ()


def cache_dir(params: Params, cache: bool | str | os.PathLike[str] | None = None) -> Path | None:
    """Return the cache folder for ``params``, or None when caching is off.

    Inputs given as URIs (``s3a://``, ``hdfs://``, read by Spark) are never cached: their files
    cannot be fingerprinted from here.

    Parameters
    ----------
    params : Params
        The run's params (``events``, ``users`` and ``base_dir`` are read).
    cache : bool, str, os.PathLike or None, optional
        None: follow :data:`CACHE_ENV` (default on); False: off; True: the default folder; a
        path: that folder.

    Returns
    -------
    pathlib.Path or None
        The cache folder (not created here), or None when caching is off or an input is a URI.
    """
    if cache is False or is_remote(params.events) or (params.users and is_remote(params.users)):
        return None  # remote inputs (s3a://, hdfs://...) cannot be fingerprinted from here
    if cache is None or cache is True:
        env = os.environ.get(CACHE_ENV)
        if env is not None and cache is None:
            if env.strip().lower() in _OFF:
                return None
            return Path(env).expanduser()
        return Path(params.base_dir) / DEFAULT_DIR
    return Path(cache)


def cache_key(params: Params) -> str:
    """Hex key of the facts of ``params`` over the current input files (see the module docstring).

    Parameters
    ----------
    params : Params
        The run's params; every value and every input file's path, size, mtime and tail enter the key.

    Returns
    -------
    str
        The first 32 hex digits of the SHA-256 digest.

    Raises
    ------
    DataError
        An input file is missing or empty (as :func:`onboarding_analysis.data.loading.load`).
    """
    from .sources import input_files

    files = input_files(params, "events")
    if params.users:
        files += input_files(params, "users")
    if params.intercom_export:
        from .sources import intercom

        files += intercom.input_files(params)
    digest = hashlib.sha256()
    digest.update(json.dumps(params.as_notebook_parameters(), sort_keys=True, default=str).encode())
    for name in files:
        stat = os.stat(name)
        digest.update(f"\0{os.path.abspath(name)}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
        with open(name, "rb") as handle:
            handle.seek(max(stat.st_size - _TAIL_BYTES, 0))
            digest.update(hashlib.sha256(handle.read()).digest())
    here = Path(__file__).resolve().parent
    for module in _CODE:
        digest.update((here / module).read_bytes())
    return digest.hexdigest()[:32]


def read(directory: Path, key: str) -> CachedFacts | None:
    """Return the entry ``key`` of ``directory``, or None if there is none (or it cannot be read).

    Parameters
    ----------
    directory : pathlib.Path
        The cache folder.
    key : str
        The entry's key (:func:`cache_key`).

    Returns
    -------
    CachedFacts or None
        The entry (its files' mtimes are touched, so pruning keeps it), or None.
    """
    meta_path, table_path = directory / f"{key}.json", directory / f"{key}.parquet"
    dups_path = directory / f"{key}.duplicates.parquet"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        table = pd.read_parquet(table_path)
        duplicates = pd.read_parquet(dups_path) if meta.get("duplicates") else None
    except (OSError, ValueError):
        return None
    for path in (meta_path, table_path):  # recently used: kept by the pruning
        try:
            os.utime(path)
        except OSError:
            pass
    return CachedFacts(
        table=table,
        observation_end=dt.datetime.fromisoformat(meta["observation_end"]),
        accounting=meta["accounting"],
        duplicates=duplicates,
        scan=meta.get("scan"),
        notes=tuple(meta.get("notes", ())),
        issued=tuple(meta.get("issued", ())),
    )


def write(directory: Path, key: str, entry: CachedFacts) -> bool:
    """Store ``entry`` under ``key``; False (and no error) when the folder is not writable.

    Parameters
    ----------
    directory : pathlib.Path
        The cache folder (created if missing).
    key : str
        The entry's key (:func:`cache_key`).
    entry : CachedFacts
        The entry to store; each file is written whole under a temporary name, then renamed.

    Returns
    -------
    bool
        True when stored (then the folder is pruned), False when the folder is not writable.
    """
    meta = {
        "observation_end": entry.observation_end.isoformat(),
        "accounting": entry.accounting,
        "duplicates": entry.duplicates is not None,
        "scan": entry.scan,
        "notes": list(entry.notes),
        "issued": list(entry.issued),
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / f"{key}.parquet", lambda path: entry.table.to_parquet(path, index=False))
        if entry.duplicates is not None:
            write_atomic(
                directory / f"{key}.duplicates.parquet",
                lambda path: entry.duplicates.to_parquet(path, index=False),
            )
        write_atomic(
            directory / f"{key}.json", lambda path: Path(path).write_text(json.dumps(meta), encoding="utf-8")
        )
    except OSError:
        return False
    prune(directory)
    return True


@contextlib.contextmanager
def building(directory: Path, key: str):
    """Hold the lock of entry ``key`` while it is built: one builder per entry at a time.

    Notebooks of one report run in parallel (and batch runs of the same params) would each
    build the same facts at once, each needing the memory of the build; instead the first
    builds and stores, the others wait here, then read the entry. An unwritable folder skips
    the lock (the entry will not be stored either).

    Parameters
    ----------
    directory : pathlib.Path
        The cache folder (created if missing).
    key : str
        The entry's key (:func:`cache_key`).
    """
    with contextlib.ExitStack() as stack:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            stack.enter_context(exclusive_lock(directory / f"{key}{LOCK_SUFFIX}"))
        except OSError:
            pass  # unwritable: build without the lock
        yield


def prune(directory: Path, keep: int = KEEP) -> None:
    """Delete all but the ``keep`` most recently written or read entries of ``directory``.

    Parameters
    ----------
    directory : pathlib.Path
        The cache folder; errors on it are ignored.
    keep : int, optional
        How many entries to keep.
    """
    try:
        entries = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for meta in entries[keep:]:
            meta.unlink(missing_ok=True)
            meta.with_suffix(".parquet").unlink(missing_ok=True)
            meta.with_suffix(".duplicates.parquet").unlink(missing_ok=True)
            meta.with_suffix(EVENTS_SUFFIX).unlink(missing_ok=True)
            meta.with_suffix(EVENTS_SUFFIX + ".lock").unlink(missing_ok=True)
            meta.with_suffix(LOCK_SUFFIX).unlink(missing_ok=True)
            for derived in directory.glob(f"{meta.stem}{DERIVED_INFIX}*"):
                derived.unlink(missing_ok=True)
    except OSError:
        pass


def entry_of(facts: Facts) -> CachedFacts:
    """Return the cache entry of a freshly built :class:`~onboarding_analysis.data.facts.Facts`.

    Parameters
    ----------
    facts : Facts
        The facts just built.

    Returns
    -------
    CachedFacts
        The facts table, observation end, accounting, candidate duplicates, scan, notes and
        issued warnings.
    """
    acc = facts.accounting
    accounting = {
        "events_read": acc.events_read,
        "events_used": acc.events_used,
        "excluded": dict(acc.excluded),
        "users": acc.users,
        "users_excluded": dict(acc.users_excluded),
        "files": dict(acc.files),
        "users_rows": acc.users_rows,
        "users_summary": dict(acc.users_summary),
    }
    duplicates = getattr(facts, "duplicates", None)
    return CachedFacts(
        table=facts.table,
        observation_end=facts.observation_end,
        accounting=accounting,
        duplicates=duplicates if isinstance(duplicates, pd.DataFrame) else None,
        scan=facts.source.scan if facts.source is not None else None,
        notes=facts.notes,
        issued=facts.issued,
    )


def facts_from(entry: CachedFacts, source: Source, params: Params) -> Facts:
    """:class:`~onboarding_analysis.data.facts.Facts` from a cache entry and a fresh (lazy) ``source``.

    Only the aggregation is skipped: ``events`` is the same lazy ibis table of used events as
    :func:`~onboarding_analysis.data.facts.build_facts` gives, so engine-side analyses still work.
    The cached included users and candidate duplicate rows are passed to
    :func:`~onboarding_analysis.data.facts.user_facts_expr`, so queries on ``events`` do not redo
    the per-user aggregation and the duplicate search underneath.

    Parameters
    ----------
    entry : CachedFacts
        The cache hit.
    source : Source
        The run's lazy source, opened with the entry's ``scan``.
    params : Params
        The run's params.

    Returns
    -------
    Facts
        The cached facts with lazy used ``events``; the warnings of the build are issued again.
    """
    options: dict[str, Any] = {}
    if entry.duplicates is not None:
        attrs = [c for c in dict.fromkeys((*params.segments, *params.filters)) if c in entry.table.columns]
        users = entry.table[[C.USER_ID, C.T0, *attrs]]
        schema = {C.USER_ID: "string", C.T0: "timestamp", **{a: "string" for a in attrs}}
        options["users"] = ibis.memtable(users, schema=ibis.schema(schema))
        options["duplicates"] = duplicate_table(entry.duplicates, source.events)
    _, _, used = user_facts_expr(source, params, **options)
    for message in entry.issued:
        warnings.warn(message, DataWarning, stacklevel=3)
    return Facts(
        table=entry.table,
        observation_end=entry.observation_end,
        accounting=Accounting(**entry.accounting),
        params=params,
        events=used,
        source=source,
        duplicates=entry.duplicates,
        notes=entry.notes,
        issued=entry.issued,
    )


#: The used-events tables of :func:`onboarding_analysis.report.notebook.share_events`, by ``id``, with
#: the table itself (so an ``id`` reused by another object never matches) and its shared file.
_SHARED: dict[int, tuple[Any, Path]] = {}


def register_shared(events: Any, path: Path) -> None:
    """Record that ``events`` (an ibis table) reads the shared used-events file ``path``.

    Parameters
    ----------
    events : Any
        The used-events ibis table.
    path : pathlib.Path
        The shared used-events file it reads.
    """
    _SHARED[id(events)] = (events, path)


def derived_path(events: Any, name: str, parts: Any, code: Path) -> Path | None:
    """Where a table derived from the shared used events ``events`` is stored, or None.

    Only the very object :func:`register_shared` recorded gets a path (a table filtered or
    rebuilt from it gets None, so nothing derived from other rows is stored under the entry's
    name). The file is next to the shared events, named by the entry's key, ``name`` and a
    digest of ``parts`` and ``code`` (changed code: a new name); :func:`prune` removes it.

    Parameters
    ----------
    events : Any
        The table the derived one is computed from.
    name : str
        The derivation's name, part of the file name.
    parts : Any
        The derivation's options (JSON-serialisable; others as ``str``).
    code : pathlib.Path
        The source file of the derivation.

    Returns
    -------
    pathlib.Path or None
        The derived table's Parquet file, or None when ``events`` is not a registered shared table.
    """
    hit = _SHARED.get(id(events))
    if hit is None or hit[0] is not events:
        return None
    path = hit[1]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    digest.update(code.read_bytes())
    key = path.name[: -len(EVENTS_SUFFIX)]
    return path.with_name(f"{key}{DERIVED_INFIX}{name}-{digest.hexdigest()[:16]}.parquet")


__all__ = [
    "CACHE_ENV",
    "DERIVED_INFIX",
    "EVENTS_SUFFIX",
    "DEFAULT_DIR",
    "KEEP",
    "CachedFacts",
    "cache_dir",
    "cache_key",
    "derived_path",
    "entry_of",
    "facts_from",
    "prune",
    "read",
    "register_shared",
    "write",
    "write_once",
]
