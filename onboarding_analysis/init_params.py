"""``onboarding-analysis init``: a first params file for your data, detected from the data.

:func:`detect_source` recognises the export (Amplitude, Mixpanel, PostHog, Segment, GA4, or a canonical CSV or
Parquet log whose user, event and time columns it maps); :func:`survey` reads the data through
the loader (so every check of a run applies) and finds the users, events and period, the signup
event (a name like ``signed_up`` / ``Sign Up``, else "first event"), the most frequent events of
a user's first days (the value-event and onboarding-step candidates, marked as guesses to
confirm) and segment candidates (users-table or canonical columns, or a vendor export's user
properties, with 2 to :data:`MAX_SEGMENT_VALUES` values). :func:`render` writes a minimal commented params file with
nothing from the demo; :func:`init` does all three and returns the text to print.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .data.sources import HOUSEKEEPING_EVENTS
from .data.sql import quote_ident
from .errors import DataError, DataWarning
from .init_detect import detect_source, map_columns
from .names import words
from .params import DEFAULT_COLUMNS, project_root, validate_params

#: Names of a signup event (compared by words, any case and separator).
SIGNUP_NAMES = (
    "signed up",
    "sign up",
    "signup",
    "registered",
    "register",
    "account created",
    "created account",
)
#: A segment candidate has from 2 to this many distinct values.
MAX_SEGMENT_VALUES = 12
#: Days after a user's first event whose events are the value and step candidates.
EARLY_DAYS = 7
#: Data spanning fewer days gets ``inactivity_days`` of a third of its span (not the default 30).
SHORT_DATA_DAYS = 90


@dataclass
class Survey:
    """What :func:`survey` found in the data."""

    source: str
    columns: dict[str, str]
    users: int
    events: int
    first: dt.datetime
    last: dt.datetime
    top_events: list[tuple[str, int]]
    signup_event: str | None
    early_events: list[str]
    segments: list[str] = field(default_factory=list)
    #: The loader's data warnings (rows excluded or reinterpreted), shown by init.
    notes: list[str] = field(default_factory=list)
    #: ``prompts`` from an Intercom export: per content, shown -> completed.
    prompts: dict[str, dict[str, str]] = field(default_factory=dict)


def _signup(names: list[str]) -> str | None:
    wanted = {" ".join(words(n)) for n in SIGNUP_NAMES}
    return next((n for n in names if " ".join(words(n)) in wanted), None)


def survey(events: str, *, users: str | None = None, intercom: str | None = None, base: Path) -> Survey:
    """Read the data as a run would and find what the params file needs (module docstring).

    Parameters
    ----------
    events : str
        The events file, folder, zip or glob, relative to ``base`` unless absolute.
    users : str or None, optional
        A users table (or the vendor's users export), relative to ``base`` unless absolute.
    intercom : str or None, optional
        Intercom's content data export, relative to ``base`` unless absolute.
    base : pathlib.Path
        The folder relative paths start at (the params file's base folder).

    Returns
    -------
    Survey
        The detected source and columns, counts, date span, frequent and early events, the
        signup event, segment candidates and the loader's data warnings.

    Raises
    ------
    DataError
        The data cannot be read (the loader's errors).
    """
    from .data.loading import load

    source, columns = detect_source(base / events if not Path(events).is_absolute() else events)
    raw: dict[str, Any] = {"events": events, "source": source, "signup_event": None, "value_events": []}
    if columns:
        raw["columns"] = columns
    if users:
        raw["users"] = users
    if intercom:
        raw["intercom_export"] = intercom
    params = validate_params(raw, base_dir=base)
    with warnings.catch_warnings(record=True) as caught:  # shown by init, not raised
        warnings.simplefilter("always", DataWarning)
        loaded = load(params)
    notes = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    con, ev = loaded.con, "events"
    ok = f"FROM {ev} WHERE reason IS NULL"
    n_users, n_events = con.raw_sql(f"SELECT count(DISTINCT user_id), count(*) {ok}").fetchone()
    top = con.raw_sql(f"SELECT event, count(*) AS n {ok} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 15").fetchall()
    names = [str(e) for e, _ in top]
    signup = _signup(names) or _signup(
        [r[0] for r in con.raw_sql(f"SELECT DISTINCT event {ok} LIMIT 10000").fetchall()]
    )
    skip = [*HOUSEKEEPING_EVENTS, *([signup] if signup else [])]
    listed = ", ".join("'" + s.replace("'", "''") + "'" for s in skip) or "''"
    # A user's first days from its t0 as a run will take it (the signup event, else the first
    # event): events before the signup are excluded by the run ('before signup'), so a candidate
    # seen only there would be a params event that never occurs.
    start = (
        f"min(ts) FILTER (WHERE event = '{signup.replace(chr(39), chr(39) * 2)}')" if signup else "min(ts)"
    )
    early = con.raw_sql(
        f"WITH firsts AS (SELECT user_id, coalesce({start}, min(ts)) AS t0 {ok} GROUP BY 1) "
        f"SELECT event, count(DISTINCT e.user_id) AS users FROM {ev} e JOIN firsts USING (user_id) "
        f"WHERE e.reason IS NULL AND e.ts >= t0 AND e.ts < t0 + INTERVAL {EARLY_DAYS} DAY AND event NOT IN ({listed}) "
        f"AND NOT regexp_matches(event, '(?i)page.?view|screen|session|pageleave|autocapture|^intercom_') "
        f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"
    ).fetchall()
    segments = _segment_candidates(con, loaded, columns, params)
    if params.source != "canonical":
        segments += [k for k in _vendor_candidates(con, params) if k not in segments]
    return Survey(
        source=source,
        columns=columns,
        users=int(n_users),
        events=int(n_events),
        first=loaded.span[0],
        last=loaded.span[1],
        top_events=[(str(e), int(n)) for e, n in top],
        signup_event=signup,
        early_events=[str(e) for e, _ in early],
        segments=segments,
        notes=notes,
        prompts=_intercom_prompts(con) if intercom else {},
    )


def _intercom_prompts(con: Any) -> dict[str, dict[str, str]]:
    from .data.sources import intercom

    return intercom.prompts(con)


def _segment_candidates(con: Any, loaded: Any, columns: dict[str, str], params: Any) -> list[str]:
    """Columns of the users table, else of a canonical events file, with 2..MAX values."""
    taken = set(columns.values()) | set(DEFAULT_COLUMNS) | {"__file"}
    found = []
    for view in ("raw_users", "raw_events"):
        if view == "raw_users" and loaded.users is None:
            continue
        if view == "raw_events" and params.source != "canonical":
            continue
        described = con.raw_sql(f"DESCRIBE {view}").fetchall()
        for name, kind, *_ in described:
            if name in taken or name in found or not kind.upper().startswith("VARCHAR"):
                continue
            n = con.raw_sql(f"SELECT count(DISTINCT {quote_ident(name)}) FROM {view}").fetchone()[0]
            if 2 <= n <= MAX_SEGMENT_VALUES:
                found.append(name)
    return found


def _vendor_candidates(con: Any, params: Any) -> list[str]:
    """Return the user-property keys of a vendor export with 2..MAX values.

    They come from Amplitude ``user_properties``,
    Mixpanel and PostHog event ``properties``, GA4 ``user_properties`` records, Segment property
    columns of ``tracks`` or archive ``traits``, and the users export's properties (PostHog
    persons, Segment ``identifies``); vendor ``$``/``mp_`` keys left out.
    """
    from .data import sources
    from .data.sources.common import export_files, json_lines

    module = sources.reader(params)
    pattern = params.resolve(params.events)
    pairs = export_files(pattern, what="events", where=params.where, suffixes=module.SUFFIXES)
    objects = None  # SQL with one JSON object column j
    if params.source == "amplitude":
        objects = f"SELECT user_properties AS j FROM ({json_lines(pairs, {'user_properties': 'JSON'})})"
    elif params.source == "mixpanel":
        objects = f"SELECT properties AS j FROM ({json_lines(pairs, {'properties': 'JSON'})})"
    elif params.source == "posthog":
        select = module._select(con, pairs, module.EVENT_FIELDS, pattern)
        objects = f"SELECT CAST(properties AS JSON) AS j FROM ({select})"
    elif params.source == "segment" and "segment_archive" in _tables(con):
        objects = "SELECT traits AS j FROM segment_archive WHERE type = 'identify'"
    if objects is not None:
        rows = con.raw_sql(
            f"WITH p AS ({objects}), k AS (SELECT unnest(json_keys(j)) AS key, j FROM p WHERE json_type(j) = 'OBJECT')"
            """ SELECT key, count(DISTINCT json_extract_string(j, '$."' || key || '"')) FROM k GROUP BY key ORDER BY key"""
        ).fetchall()
    elif params.source == "ga4":
        records = f"SELECT unnest(CAST(json_extract(user_properties, '$[*]') AS JSON[])) AS r FROM ({module._select(con, pairs, pattern)})"
        rows = con.raw_sql(
            f"SELECT json_extract_string(r, '$.key') AS key, count(DISTINCT json_extract_string(r, '$.value.string_value'))"
            f" FROM ({records}) GROUP BY 1 ORDER BY 1"
        ).fetchall()
    elif params.source == "segment":
        standard = {"id", "anonymous_id", "user_id", "event", "event_text", "timestamp", "__file"}
        described = [r[0] for r in con.raw_sql("DESCRIBE segment_tracks").fetchall()]
        names = [c for c in described if c not in standard and not c.endswith(("_at", "_timestamp"))]
        rows = [
            (c, con.raw_sql(f"SELECT count(DISTINCT {quote_ident(c)}) FROM segment_tracks").fetchone()[0])
            for c in names
        ]
    else:
        rows = []
    rows = [*rows, *_users_export_properties(con, params)]
    found = [
        str(k)
        for k, n in rows
        if k
        and 2 <= int(n) <= MAX_SEGMENT_VALUES
        and not str(k).startswith(("$", "mp_"))
        and k not in ("value", "distinct_id", "time", "token", "user_id", "device_id", "ip", "uuid")
    ]
    return list(dict.fromkeys(found))


def _users_export_properties(con: Any, params: Any) -> list[tuple[str, int]]:
    """``(key, distinct values)`` of the user properties of a vendor's users export.

    Read from the loader's tables: PostHog persons ``properties`` (``posthog_persons``),
    Segment ``identifies`` trait columns (``segment_identifies``); none for other sources.
    """
    tables = _tables(con)
    if params.source == "posthog" and "posthog_persons" in tables:
        return con.raw_sql(
            "WITH p AS (SELECT person_id, CAST(properties AS JSON) AS j FROM posthog_persons),"
            " k AS (SELECT unnest(json_keys(j)) AS key, person_id, j FROM p WHERE json_type(j) = 'OBJECT')"
            """ SELECT key, count(DISTINCT json_extract_string(j, '$."' || key || '"')) FROM k GROUP BY key ORDER BY key"""
        ).fetchall()
    if params.source == "segment" and "segment_identifies" in tables:
        standard = {"id", "anonymous_id", "user_id", "timestamp", "__file", "context_library_name"}
        described = [r[0] for r in con.raw_sql("DESCRIBE segment_identifies").fetchall()]
        names = [
            c
            for c in described
            if c not in standard
            and not c.endswith(("_at", "_timestamp", "_ts"))
            and not c.startswith("context_")
        ]
        return [
            (c, con.raw_sql(f"SELECT count(DISTINCT {quote_ident(c)}) FROM segment_identifies").fetchone()[0])
            for c in names
        ]
    return []


def _tables(con: Any) -> set[str]:
    return {r[0] for r in con.raw_sql("SELECT table_name FROM duckdb_tables()").fetchall()}


def _yaml(value: Any) -> str:
    """Return a YAML (JSON) literal: strings quoted, so `$pageview` or `[Amplitude] x` stay text."""
    return json.dumps(value, ensure_ascii=False)


def render(found: Survey, *, events: str, users: str | None, client: str, intercom: str | None = None) -> str:
    """Return the params file's text: minimal, commented, every guess marked (nothing from the demo).

    Parameters
    ----------
    found : Survey
        What :func:`survey` found in the data.
    events : str
        The events path written as ``events``.
    users : str or None
        The users path written as ``users`` (None: no ``users`` key).
    client : str
        The run name written as ``client`` and in the header comment.
    intercom : str or None, optional
        The Intercom export written as ``intercom_export`` (None: none).

    Returns
    -------
    str
        The YAML text of the params file.
    """
    end = found.last.date().isoformat()
    signup = found.signup_event
    value = found.early_events[:1]
    steps = ([signup] if signup else []) + [e for e in found.early_events[:3] if e != signup]
    lines = [
        f"# Params for {client}, written by `onboarding-analysis init` from {events}",
        f"# ({found.users:,} users, {found.events:,} usable events, {found.first:%Y-%m-%d} to "
        f"{found.last:%Y-%m-%d} UTC). Check every line marked GUESS, then run:",
        f"#   onboarding-analysis run params/{client}.yaml",
        "# Every key: docs/params.md. Vendor exports: docs/sources.md.",
        f"client: {_yaml(client)}",
        f"events: {_yaml(events)}",
    ]
    if users:
        lines.append(f"users: {_yaml(users)}")
    lines.append(f"source: {found.source}  # detected from the file")
    if found.columns:
        lines.append(f"columns: {_yaml(found.columns)}  # detected: your user, event and time columns")
    lines += [
        f"observation_end: {end}  # the day of the last event; later is an error (observation_end_check)",
        f"signup_event: {_yaml(signup)}"
        + (
            "  # GUESS: the event marking signup"
            if signup
            else "  # null: a user's first event is the signup"
        ),
        f"value_events: {_yaml(value)}  # GUESS: the event meaning 'reached first value' (most common early event)",
        f"onboarding_steps: {_yaml(steps)}  # GUESS: the funnel steps, in order",
        f"segments: {_yaml(found.segments)}  # GUESS: columns with 2 to {MAX_SEGMENT_VALUES} values to compare",
        *_inactivity(found),
        *(
            [
                f"intercom_export: {_yaml(intercom)}  # Intercom's content data export: receipts as events",
                f"prompts: {_yaml(found.prompts)}  # from the Intercom export: shown -> completed, per content",
            ]
            if intercom
            else []
        ),
        "# Most frequent events (events): " + ", ".join(f"{e} ({n:,})" for e, n in found.top_events[:8]),
        "# Other keys to consider: active_events, churn_event, inactivity_days (30), change_date,",
        "# prompts, feature_events, revenue_event, feedback_event, account_group (vendor groups).",
    ]
    return "\n".join(lines) + "\n"


def _inactivity(found: Survey) -> list[str]:
    """Return the ``inactivity_days`` lines for data shorter than :data:`SHORT_DATA_DAYS`.

    The default 30 would leave no churn observable there; else nothing (the default).
    """
    span = (found.last - found.first).days
    if span >= SHORT_DATA_DAYS:
        return []
    days = max(1, span // 3)
    return [
        f"inactivity_days: {days}  # GUESS: the data spans {span} days, too short for the default 30 "
        f"(a third of it); use your product's churn definition"
    ]


def init(
    events: str,
    *,
    users: str | None = None,
    client: str | None = None,
    out: str | None = None,
    intercom: str | None = None,
) -> tuple[Path, str]:
    """Survey the data and write the params file; return its path and the summary to print.

    Parameters
    ----------
    events : str
        The events file, folder, zip or glob (relative to the working directory).
    users : str, optional
        A users table (or the vendor's users export).
    client : str, optional
        The run name (default: from the events file name).
    out : str, optional
        The params file to write (default: ``params/<client>.yaml`` under the project root).
    intercom : str, optional
        Intercom's content data export: written as ``intercom_export``, with one ``prompts``
        entry per content (shown -> completed).

    Returns
    -------
    target : pathlib.Path
        The params file written.
    summary : str
        The lines to print: what the data holds, the most frequent events, the guesses to check
        and the loader's data warnings.

    Raises
    ------
    DataError
        The data cannot be read, or ``out`` exists.
    """
    root = project_root()
    client = client or _client_name(events)
    target = Path(out) if out else root / "params" / f"{client}.yaml"
    if target.exists():
        raise DataError(f"{target}: already exists. Remove it, or give another --out.")
    base = target.resolve().parent
    base = base.parent if base.name == "params" else base

    def relative(path: str) -> str:
        """Return ``path`` relative to the params file's base folder, else absolute.

        Parameters
        ----------
        path : str
            A path given to ``init``.

        Returns
        -------
        str
            The resolved path relative to ``base`` when under it, else the resolved path.
        """
        p = Path(path).resolve()
        try:
            return str(p.relative_to(base))
        except ValueError:
            return str(p)

    ev, us = relative(events), relative(users) if users else None
    ic = relative(intercom) if intercom else None
    found = survey(ev, users=us, intercom=ic, base=base)
    text = render(found, events=ev, users=us, client=client, intercom=ic)
    validate_params(__import__("yaml").safe_load(text), base_dir=base)  # what is written must load
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    summary = [
        f"{target}: {found.source} data, {found.users:,} users, {found.events:,} usable events, "
        f"{found.first:%Y-%m-%d} to {found.last:%Y-%m-%d} UTC.",
        "Most frequent events: " + ", ".join(f"{e} ({n:,})" for e, n in found.top_events[:8]) + ".",
        f"Check: signup_event {found.signup_event!r}, value_events {found.early_events[:1]}, "
        f"onboarding_steps and segments {found.segments} are guesses; then run "
        f"onboarding-analysis run {target}",
        *(f"Data: {note}" for note in found.notes),
    ]
    return target, "\n".join(summary)


def _client_name(events: str) -> str:
    stem = Path(events.rstrip("/*")).name.split(".")[0]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._") or "client"
    return name if name[0].isalnum() else f"c{name}"


__all__ = ["Survey", "detect_source", "init", "map_columns", "render", "survey"]
