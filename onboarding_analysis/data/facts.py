"""User facts: one row per user, computed in the query engine (never pandas over raw events).

The whole computation is one ibis expression over the canonical tables of
:mod:`onboarding_analysis.data.loading`, so the same code runs on DuckDB (default) or any backend
ibis supports (Spark, warehouses). Only the result, one row per user, reaches pandas. The
columns are documented in :mod:`onboarding_analysis.data.columns`; the definitions are those of ``docs/metrics.md``:

- ``t0``: the users table's ``signup_at``; else the first ``signup_event``; else the first event.
- day index ``floor((ts - t0) / 24h)``, computed on microseconds, so an event exactly 24 h after
  signup is on day 1.
- active events: params ``active_events``, or every event except ``signup_event`` and the vendor
  housekeeping events (``$identify``, ``$create_alias``, ``$merge``, ``$groupidentify``,
  ``$feature_flag_called``).
- lifetime, inactivity rule: ``last`` = last active event (``t0`` if none); churned when
  ``T - last >= inactivity_days``, with lifetime ``last - t0``.
  *Censoring* (a documented departure, see below): a user not (yet) churned is censored at
  ``max(age - inactivity_days, 0)`` (``lifetime_censoring: observable``, the default), the last
  moment at which churn could have been observed. The literal rule of ``docs/metrics.md`` censors at ``age``
  (``lifetime_censoring: observation_end``); that counts users who stopped less than
  ``inactivity_days`` before ``T`` as surviving to ``T`` and biases survival upwards (measured on
  simulated exponential lifetimes, mean 60 days: S(30) 0.675 vs truth 0.607, while the
  observable rule gives 0.612; see tests/test_facts.py::test_censoring_rules_against_truth).
- lifetime, ``churn_event`` rule: churned at the first ``churn_event``; else censored at ``age``.
- ``value_days``: first ``value_events`` occurrence at or after ``t0`` (and ``<= T``).

Row accounting. Every event row read is either used or counted under exactly one reason of
:data:`EVENT_REASONS`, the first that applies, in this order:

1. the row-level reasons of :mod:`onboarding_analysis.data.loading` (:data:`~onboarding_analysis.
   loading.ROW_REASONS`: missing user id, missing event name, unparseable timestamp,
   implausible timestamp, after observation end);
2. ``duplicate event``: a usable row with the same user id, event name, timestamp (to the
   microsecond, after conversion to UTC) and ``value`` (when the log has a value column) as
   another usable row. The first copy is used; each further copy is counted here and takes part
   in no metric. Other columns (``client``, ``account_id``, attributes, columns the analysis
   ignores such as an ingestion time) do not make two rows distinct: they describe the user or
   the export, not the event. A different ``value`` does (two purchases of different amounts
   at the same second are two events). The copy kept is the one of the first file (sorted
   paths), so the result does not depend on the engine's row order;
3. the user-level reasons: the row's user has no signup time at all (``user without signup
   time``) or signed up after ``T`` (``user signed up after observation end``): users are
   excluded, and their usable rows counted;
4. ``before signup``: a usable row of an analysed user before its ``t0``.

Users of the users table without any event are analysed (they signed up and never came back)
when they have a ``signup_at``; without one they are excluded as ``user without signup time``.

A filtered run (params ``filters``, e.g. one client of an agency's shared log) accounts for the
rows of its own users only: the users whose attributes pass the filters, analysed or excluded
for a reason of their own. ``events_read``, the reasons, the rows per file (files without any of
their rows left out), the users-table rows and the row-defect warnings all count those rows, so
a client's report reveals nothing of the other clients' volume. Users failing the filters are
outside the run, not a reason of it. Rows without a user id belong to no filtered run (the
unfiltered run counts them).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError, DataWarning
from ..names import closest_names
from ..params import Params
from . import columns as C
from .contract import Source, users_overlap_message
from .facts_query import (
    DUPLICATE,
    EVENT_PREFIX,
    EVENT_REASONS,
    FILTERED,
    MICROS_PER_DAY,
    ROW_LEVEL,
    STATUS_ONLY,
    USER_REASONS,
    bit_mask,
    duplicate_candidates,
    event_pass,
    facts_select,
    mark_duplicates,
    user_facts_expr,
)
from .files import is_remote
from .scan import defect_message, implausible_message


def summarise_users(*, in_users, with_rows, signup_event, signup_at) -> dict[str, int]:
    """Return :attr:`Accounting.users_summary` from per-analysed-user flags (boolean arrays).

    The users are counted by the source of their ``t0``: users table ``signup_at``, else the
    first signup event, else the first event.

    Parameters
    ----------
    in_users : array of bool
        Per analysed user: in the users table.
    with_rows : array of bool
        Per analysed user: has any event row.
    signup_event : array of bool
        Per analysed user: has a usable signup event.
    signup_at : array of bool
        Per analysed user: has a users table ``signup_at``.

    Returns
    -------
    dict[str, int]
        The counts keyed ``in_users_table``, ``in_users_table_without_rows``,
        ``with_signup_event``, ``t0_signup_at``, ``t0_signup_event`` and ``t0_first_event``.
    """
    return {
        "in_users_table": int(in_users.sum()),
        "in_users_table_without_rows": int((in_users & ~with_rows).sum()),
        "with_signup_event": int(signup_event.sum()),
        "t0_signup_at": int(signup_at.sum()),
        "t0_signup_event": int((~signup_at & signup_event).sum()),
        "t0_first_event": int((~signup_at & ~signup_event).sum()),
    }


@dataclass(frozen=True)
class Accounting:
    """Where every input row went. ``events_used + sum(excluded.values()) == events_read``."""

    events_read: int
    events_used: int
    excluded: Mapping[str, int]
    users: int
    users_excluded: Mapping[str, int]
    files: Mapping[str, int] = field(default_factory=dict)
    users_rows: int = 0
    #: Counts of the analysed users by where their ``t0`` and rows come from (keys of
    #: :func:`summarise_users`), read off the per-user status: the data-quality tables need no
    #: pass over the events of their own. Empty for an accounting made by hand.
    users_summary: Mapping[str, int] = field(default_factory=dict)

    def as_metrics(self) -> dict:
        """Return the ``data`` section of metrics.json.

        Returns
        -------
        dict
            Events read and used, users, and the exclusions, user exclusions and rows per file.
        """
        return {
            "events_read": self.events_read,
            "events_used": self.events_used,
            "users": self.users,
            "excluded": dict(self.excluded),
            "users_excluded": dict(self.users_excluded),
            "files": dict(self.files),
        }


@dataclass(frozen=True)
class Facts:
    """The user-facts table with what it was built from."""

    table: pd.DataFrame
    observation_end: dt.datetime
    accounting: Accounting
    params: Params
    #: ibis table of the used events (the rows counted in ``accounting.events_used``): ``user_id``,
    #: ``event``, ``ts``, ``t0``, ``day`` (day index), ``days`` (fractional days since t0),
    #: ``active`` (bool), plus the optional event columns. Engine-side analyses start from it.
    events: Any = None
    source: Source | None = None
    #: The candidate duplicate rows (:func:`duplicate_candidates`), kept so a cache hit can
    #: rebuild :attr:`events` without searching for duplicates again.
    duplicates: pd.DataFrame | None = None
    #: Data-quality notes of a filtered run on its own rows (the loader's whole-log row-defect
    #: warnings are left out of such runs: they would count other clients' rows).
    notes: tuple[str, ...] = ()
    #: Every :class:`DataWarning` text this build issued, issued again on a cache hit.
    issued: tuple[str, ...] = ()

    def __len__(self) -> int:
        """Return the number of users in the facts table."""
        return len(self.table)


def build_facts(source: Source, params: Params) -> Facts:
    """Build the user-facts table and the row accounting of one run.

    Parameters
    ----------
    source : Source
        The loaded canonical tables (:func:`~onboarding_analysis.data.loading.load`).
    params : Params
        The run's params.

    Returns
    -------
    Facts
        One row per included user, the row accounting and the lazy used events.

    Raises
    ------
    DataError
        A users-table id without usable events matches an events id once written alike
        (case, blanks, leading zeros, a trailing ``.0``).

    Examples
    --------
    >>> from onboarding_analysis import load, validate_params       # doctest: +SKIP
    >>> params = validate_params({"events": "data/demo/events.parquet"})  # doctest: +SKIP
    >>> facts = build_facts(load(params), params)                    # doctest: +SKIP
    """
    # Passes over the events, each result small: the duplicate candidates, then the per-user
    # status (t0, exclusion) with, when the users table gives t0, the facts' aggregates; else
    # a third pass computes them for the included users. Materialising the small results in
    # between keeps every pass from redoing the ones before it.
    candidates = duplicate_candidates(source.events).to_pandas()
    dup_table = duplicate_table(candidates, source.events)
    merged = source.users is not None
    _, status_expr, _ = user_facts_expr(source, params, duplicates=dup_table, merged=merged)
    # One row per user, kept as Arrow: the included users go back to the engine without ever
    # becoming Python strings; pandas gets the few columns the accounting sums.
    status_arrow = status_expr.to_pyarrow()
    if source.users is not None:
        _check_users_overlap(status_arrow, source, params)
    schema = status_expr.schema()
    pass_cols = [c for c in schema.names if c.startswith(EVENT_PREFIX)]
    user_cols = [
        c for c in schema.names if (c in ("user_id", "t0") or c not in STATUS_ONLY) and c not in pass_cols
    ]
    included_all = status_arrow.filter(pc.is_null(status_arrow["status"]))
    included = included_all.select(user_cols)
    scope_ids = status_arrow.filter(status_arrow["in_scope"]).select(["user_id"]) if params.filters else None
    status = status_arrow.drop_columns(user_cols + pass_cols).to_pandas()
    del status_arrow
    if included.num_rows == 0:
        users_excluded = status.dropna(subset=["status"]).groupby("status").size()
        raise DataError(_no_user_message(source, params, users_excluded))
    users = ibis.memtable(included, schema=ibis.schema({c: schema[c] for c in user_cols}))
    facts_expr, _, used = user_facts_expr(source, params, duplicates=dup_table, users=users)
    if merged:
        facts_expr = _facts_from_status(
            included_all.select([*user_cols, "has_signup_at", *pass_cols]), schema, source, params, dup_table
        )
    table = _normalise(facts_expr.to_pyarrow(), params)

    scoped = bool(params.filters)
    if scoped:  # a filtered run accounts for the rows of its own users only (module docstring)
        status = status[status["in_scope"]]
    excluded = _excluded_rows(status, table)
    users_excluded = status.dropna(subset=["status"]).groupby("status").size()
    notes = _scoped_defect_notes(source, params, excluded) if scoped else []
    issued = list(notes)
    if excluded[DUPLICATE]:
        vendor = (getattr(source, "defect_details", None) or {}).get(DUPLICATE)
        issued.append(_duplicates_message(excluded[DUPLICATE], candidates, example=not scoped, vendor=vendor))
    for message in issued:
        warnings.warn(message, DataWarning, stacklevel=2)
    files = dict(source.files)
    users_rows = source.users_rows
    if scoped:
        files = _rows_per_file(source, scope_ids)
        users_rows = int(status["in_users"].fillna(False).sum())
    accounting = Accounting(
        events_read=int(status["n_rows"].sum()) if scoped else sum(source.files.values()),
        events_used=int(table[C.N_EVENTS].sum()),
        excluded={k: v for k, v in excluded.items() if v},
        users=len(table),
        users_excluded={str(k): int(v) for k, v in users_excluded.items() if k != "missing user id"},
        files=files,
        users_rows=users_rows,
        users_summary=_users_summary(status[status["status"].isna()]),
    )
    return Facts(
        table=table,
        observation_end=source.observation_end,
        accounting=accounting,
        params=params,
        events=used,
        source=source,
        duplicates=candidates,
        notes=tuple(notes),
        issued=tuple(issued),
    )


def _excluded_rows(status: pd.DataFrame, table: pd.DataFrame) -> dict[str, int]:
    """Event rows excluded per reason: row-level ones, with their user, before signup.

    Pops ``n_before`` (the rows before each user's signup) from the facts ``table``.
    """
    excluded: dict[str, int] = {}
    for reason in ROW_LEVEL:
        excluded[reason] = int(status[f"n_{reason}"].fillna(0).sum())
    by_status = status.dropna(subset=["status"]).groupby("status")["n_ok"].sum()
    for reason in USER_REASONS:
        excluded[reason] = int(by_status.get(reason, 0))
    excluded["before signup"] = int(table.pop("n_before").sum())
    return excluded


def _users_summary(analysed: pd.DataFrame) -> dict[str, int]:
    """:func:`summarise_users` of the status rows of the included users."""
    return summarise_users(
        in_users=analysed["in_users"].fillna(False).to_numpy(dtype=bool),
        with_rows=analysed["n_rows"].to_numpy() > 0,
        signup_event=analysed["has_signup"].fillna(False).to_numpy(dtype=bool),
        signup_at=analysed["has_signup_at"].fillna(False).to_numpy(dtype=bool),
    )


def _facts_from_status(included, schema, source: Source, params: Params, dup_table):
    """Return the facts expression from a merged status (:func:`user_facts_expr`, ``merged=True``).

    ``included``: the included users' rows of the status (Arrow), with the event aggregates
    computed against the users table's ``signup_at``. Users whose ``t0`` is that ``signup_at``
    take them as they are; the others (``t0`` from the events: no ``signup_at``; usually none)
    get them from a pass of their own over their events.
    """
    aggs = [c for c in included.column_names if c.startswith(EVENT_PREFIX)]
    user_cols = [c for c in included.column_names if c not in aggs and c != "has_signup_at"]
    names = [c[len(EVENT_PREFIX) :] for c in aggs]
    direct = pc.fill_null(included["has_signup_at"], False)
    everyone = pc.all(direct).as_py() is not False  # the usual case: no filtered copy
    f = (included if everyone else included.filter(direct)).select(user_cols + aggs)
    f = f.rename_columns(user_cols + names)
    rest = included.slice(0, 0) if everyone else included.filter(pc.invert(direct))
    rest = rest.select(user_cols)
    types = {**{c: schema[c] for c in user_cols}, **{n: schema[c] for n, c in zip(names, aggs, strict=True)}}
    if rest.num_rows:
        users = ibis.memtable(rest, schema=ibis.schema({c: schema[c] for c in user_cols}))
        ev = mark_duplicates(source.events, dup_table)
        joined = ev.filter(ev.reason.isnull()).inner_join(users.select("user_id", "t0"), "user_id")
        part = users.left_join(event_pass(joined, params), "user_id").select(*f.column_names)
        f = pa.concat_tables([f, part.to_pyarrow().cast(f.schema)])
    table = ibis.memtable(f, schema=ibis.schema(types))
    return facts_select(table, source, params, user_cols[2:])


def _normalised_ids(ids):
    """Ids with surrounding blanks, case, a trailing ``.0`` and leading zeros removed (Arrow)."""
    text = pc.utf8_lower(pc.utf8_trim(ids, characters=" "))
    return pc.utf8_ltrim(pc.replace_substring_regex(text, pattern=r"\.0+$", replacement=""), characters="0")


def _check_users_overlap(status, source: Source, params: Params) -> None:
    """Ids of the users table and of the events must be written alike (a :class:`DataError`).

    An error when a users-table id without any usable event matches the id of a user with
    usable events once case, surrounding blanks, leading zeros and a trailing ``.0`` are
    ignored (``007`` vs ``7``: text in one file, numbers in the other). Read off the per-user
    ``status`` (one row per user, an Arrow table), so it needs no pass over the events of its
    own; only the users without a usable event (usually none) make it compare anything.
    """
    n_ok = pc.fill_null(status["n_ok"], 0)
    lone = status.filter(pc.and_(pc.fill_null(status["in_users"], False), pc.equal(n_ok, 0)))["user_id"]
    if len(lone) == 0:
        return
    seen = status.filter(pc.greater(n_ok, 0))["user_id"]
    lone_norm, seen_norm = _normalised_ids(lone), _normalised_ids(seen)
    hits = pc.is_in(lone_norm, value_set=seen_norm)
    if not pc.any(hits).as_py():
        return
    i = pc.index(hits, True).as_py()
    j = pc.index(seen_norm, lone_norm[i]).as_py()
    users_name = params.users if is_remote(params.users) else params.resolve(params.users)
    raise DataError(users_overlap_message(users_name, source.source_name, lone[i].as_py(), seen[j].as_py()))


def duplicate_table(rows: pd.DataFrame, events):
    """Return the candidate ``rows`` (a DataFrame) as an ibis memtable typed like ``events``.

    Parameters
    ----------
    rows : pandas.DataFrame
        The candidate duplicate rows, with at least the columns of ``events``.
    events : ibis.Table
        The events table whose schema the memtable takes.

    Returns
    -------
    ibis.Table
        ``rows``' columns of ``events``, typed as in ``events``.
    """
    schema = events.schema()
    return ibis.memtable(rows[list(schema.names)], schema=schema)


def _duplicates_message(
    n: int, candidates: pd.DataFrame, *, example: bool = True, vendor: str | None = None
) -> str:
    """Return the :class:`DataWarning` text on duplicate rows, with an example event (never a user id).

    ``example=False`` (a filtered run): no example, as it could be another client's event.
    ``vendor``: a vendor export's dedup rule, naming its event id field (e.g. "they repeat the
    uuid of an earlier row"), said first.
    """
    shown = ""
    repeats = candidates[candidates["reason"] == DUPLICATE].sort_values(["ts", "event"])
    if example and len(repeats):
        shown = f" (e.g. event {repeats['event'].iloc[0]!r} at {repeats['ts'].iloc[0]} UTC)"
    return (
        f"{n} event row{'' if n == 1 else 's'} excluded as '{DUPLICATE}': "
        + (f"{vendor}, or they" if vendor else "they")
        + f" repeat the user, event name, timestamp and value of another row{shown}. The first copy is "
        f"used; check the export for double delivery."
    )


def _scoped_defect_notes(source: Source, params: Params, excluded: Mapping[str, int]) -> list[str]:
    """Return a filtered run's row-defect warnings, counting its own users' rows only.

    The loader leaves them to this function when params ``filters`` is set: its counts cover
    the whole log (other clients included). Rows without a user id belong to no filtered run.
    """
    notes = []
    for reason in ("missing event name", "unparseable timestamp"):
        if excluded.get(reason):
            notes.append(
                defect_message(
                    source.source_name,
                    reason,
                    excluded[reason],
                    params.columns,
                    scoped=True,
                    details=getattr(source, "defect_details", None),
                )
            )
    if excluded.get("implausible timestamp") and source.span is not None:
        notes.append(implausible_message(source.source_name, excluded["implausible timestamp"], source.span))
    return notes


def _rows_per_file(source: Source, user_ids) -> dict[str, int]:
    """Return the rows per events file of the given users (an Arrow table with ``user_id``).

    Files without any of their rows are left out.
    """
    ids = ibis.memtable(user_ids, schema={"user_id": "string"})
    theirs = source.events.semi_join(ids, "user_id")
    counts = theirs.group_by("file").aggregate(rows=theirs.count()).to_pandas()
    per_file = dict(zip(counts["file"].astype(str), counts["rows"].astype(int), strict=True))
    return {f: per_file[f] for f in source.files if per_file.get(f)}


def _no_user_message(source: Source, params: Params, users_excluded: pd.Series) -> str:
    """Why no user is left to analyse, and what to change."""
    reasons = ", ".join(f"{reason}: {int(n)}" for reason, n in users_excluded.items())
    message = f"{params.resolve(params.events)}: no user left to analyse ({reasons or 'no usable event'})."
    if users_excluded.get(FILTERED, 0):
        hints = []
        for column, allowed in params.filters.items():
            table = source.users if source.users is not None and column in source.users.columns else None
            table = table if table is not None else source.events
            values = table.select(v=table[column].cast("string")).distinct().limit(10_000).to_pandas()
            known = sorted(str(v) for v in values["v"].dropna())
            wanted = [str(v) for v in allowed]
            close = sorted({m for w in wanted for m in closest_names(w, known, n=3)})
            hint = f"'{column}' in {wanted}"
            hints.append(hint + (f" (closest values in the data: {', '.join(close)})" if close else ""))
        message += f" {params.where}: key 'filters' keeps no user: {'; '.join(hints)}. Fix the filter values."
    elif users_excluded.get("user signed up after observation end", 0):
        message += f" {params.where}: key 'observation_end': every user signed up after it; use a later date."
    return message


def _normalise(arrow, params: Params) -> pd.DataFrame:
    """Stable order and dtypes (engines differ in what they return).

    ``arrow``: the engine's result as an Arrow table, sorted there by ``t0`` then user id (Arrow
    orders strings by code point, as Python does; 0.4 s at 1M users where a pandas sort on the
    object column took 2.4 s).
    """
    # The sorted copy is converted column by column and freed as it goes (self_destruct).
    ordered = arrow.sort_by([(C.T0, "ascending"), (C.USER_ID, "ascending")])
    del arrow
    table = ordered.to_pandas(split_blocks=True, self_destruct=True)
    del ordered
    table[C.USER_ID] = table[C.USER_ID].astype(str)
    table[C.T0] = pd.to_datetime(table[C.T0]).astype("datetime64[ns]")
    for col in (C.N_EVENTS, "n_before", C.LAST_ACTIVE_DAY, C.DAYS_MASK, C.WEEKS_MASK, C.MONTHS_MASK):
        table[col] = table[col].astype("int64")
    for col in (C.AGE, C.LAST_ACTIVE, C.LIFETIME, C.VALUE):
        table[col] = table[col].astype("float64")
    table[C.CHURNED] = table[C.CHURNED].astype(bool)
    for n in params.retention_days:
        table[C.active_day(n)] = table[C.active_day(n)].astype(bool)
    for attr in dict.fromkeys((*params.segments, *params.filters)):
        if attr in table:
            table[attr] = table[attr].astype("string")
    return table


__all__ = [  # the facts' own names, then the query's (facts_query) re-exported
    "Accounting", "Facts", "build_facts", "duplicate_table", "summarise_users",
    "DUPLICATE", "EVENT_PREFIX", "EVENT_REASONS", "FILTERED", "MICROS_PER_DAY", "USER_REASONS", "bit_mask", "duplicate_candidates", "mark_duplicates", "user_facts_expr",
]
