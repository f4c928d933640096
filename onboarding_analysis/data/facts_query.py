"""The user-facts query: one ibis expression over the canonical tables, run by the engine.

:func:`user_facts_expr` turns the ``events`` and ``users`` tables of
:class:`~onboarding_analysis.data.contract.Source` into three expressions: the facts (one row
per included user, columns in :mod:`~onboarding_analysis.data.columns`), the per-user status
from which :func:`~onboarding_analysis.data.facts.build_facts` derives the accounting, and the
used events. The same expression runs on DuckDB or Spark; only its result reaches pandas. The
definitions (``t0``, day index, activity, lifetime and censoring, time to value) are those of
``docs/metrics.md`` and the module docstring of :mod:`~onboarding_analysis.data.facts`.
"""

from __future__ import annotations

import ibis

from ..params import Params
from . import columns as C
from .contract import ROW_REASONS, Source
from .sources import HOUSEKEEPING_EVENTS

MICROS_PER_DAY = 86_400_000_000
dt_int64 = ibis.dtype("int64")
#: Reason of a usable row repeating an earlier one (see the module docstring).
DUPLICATE = "duplicate event"
#: Reasons a row is excluded together with its user.
USER_REASONS = (
    "user without signup time",
    "user signed up after observation end",
)
#: Status of a user failing params ``filters``: outside the run, so in no count of it (the
#: module docstring); named only in the error of a filter that keeps nobody.
FILTERED = "user filtered out"
#: Reasons an event row is not used, in the order they are checked.
EVENT_REASONS = (*ROW_REASONS, DUPLICATE, *USER_REASONS, "before signup")
#: The row-level reasons, counted per row before users are considered.
ROW_LEVEL = (*ROW_REASONS, DUPLICATE)
#: Columns of the per-user status table that are not attributes of an included user.
STATUS_ONLY = (
    "status",
    "in_scope",
    "in_users",
    "n_rows",
    "n_ok",
    *(f"n_{r}" for r in ROW_LEVEL),
    "has_signup",
    "has_signup_at",
)


def _days(later, earlier):
    return later.delta(earlier, unit="microsecond").cast("float64") / MICROS_PER_DAY


def _key_columns(events) -> list[str]:
    return [c for c in ("user_id", "event", "ts", "value") if c in events.columns]


def _key_hash(table):
    """Return the engine's 64-bit hash of a row's duplicate key (user id, event, timestamp, value).

    The SQL function ``hash(a, b, ...)`` of DuckDB and Spark (ibis' own ``hash`` takes one
    column and, on DuckDB, a slow conversion). Equal keys have equal hashes; different keys
    may collide, which only adds rows to the exact check of :func:`mark_duplicates`. The value
    never leaves the engine (it differs between engines and versions).
    """
    key = _key_columns(table)
    types = tuple(table.schema()[c] for c in key)
    if len(key) == 4:

        @ibis.udf.scalar.builtin(name="hash", signature=(types, dt_int64))
        def row_hash(a, b, c, d): ...

    else:

        @ibis.udf.scalar.builtin(name="hash", signature=(types, dt_int64))
        def row_hash(a, b, c): ...

    return row_hash(*(table[c] for c in key))


def duplicate_candidates(events):
    """Return the rows that may repeat another, with ``reason`` already set on those that do.

    One hash aggregation over the events finds the key hashes shared by more than one usable
    row; the rows with those hashes (usually a handful: exports repeat few rows) then get the
    exact, ordered check of :func:`mark_duplicates` (a hash collision only adds a row that the
    check keeps). A small table: :func:`build_facts` materialises it and the facts cache
    stores it, so no later query sorts or rescans the event log to find duplicates.

    Parameters
    ----------
    events : ibis.Table
        The canonical events, with ``reason`` (NULL: usable).

    Returns
    -------
    ibis.Table
        The rows whose key hash several usable rows share, columns as ``events``; ``reason`` is
        ``duplicate event`` on every repeat.
    """
    columns = list(events.columns)
    usable = events.filter(events.reason.isnull())
    hashed = usable.mutate(dup_hash=_key_hash(usable))
    counts = hashed.group_by("dup_hash").aggregate(copies=hashed.count())
    repeated = counts.filter(counts.copies > 1).select("dup_hash")
    rows = events.mutate(dup_hash=_key_hash(events)).semi_join(repeated, "dup_hash").select(*columns)
    key = _key_columns(rows)
    order = [c for c in columns if c not in (*key, "reason")]
    window = ibis.window(group_by=[rows[c] for c in key], order_by=[rows[c] for c in order])
    repeat = rows.reason.isnull() & (ibis.row_number().over(window) > 0)
    return rows.mutate(reason=ibis.ifelse(repeat, ibis.literal(DUPLICATE), rows.reason)).select(*columns)


def mark_duplicates(events, candidates=None):
    """``events`` with ``reason`` set to ``duplicate event`` on every repeat of a usable row.

    A repeat has the user id, event name, timestamp and ``value`` (when present) of an earlier
    usable row; rows are ordered by file, then by the other columns, so the copy kept does not
    depend on the engine. An ibis expression: it runs on any backend.

    ``candidates``: the rows of :func:`duplicate_candidates` (computed here when None), best
    materialised (:func:`duplicate_table`): the events are then the rows not among them (by key
    hash), unchanged, plus the candidates, so the event log is read once.

    Parameters
    ----------
    events : ibis.Table
        The canonical events, with ``reason`` (NULL: usable).
    candidates : ibis.Table or None, optional
        The rows of :func:`duplicate_candidates` (None: computed here).

    Returns
    -------
    ibis.Table
        ``events`` with the repeats marked, columns as ``events``.
    """
    if candidates is None:
        candidates = duplicate_candidates(events)
    columns = list(events.columns)
    keys = candidates.select(dup_hash=_key_hash(candidates)).distinct()
    unique = events.mutate(dup_hash=_key_hash(events)).anti_join(keys, "dup_hash").select(*columns)
    return unique.union(candidates.select(*columns), distinct=False)


def _active(table, params: Params):
    """Return whether an event row counts as activity.

    Activity is params ``active_events``, else every event but
    ``signup_event`` and the vendor housekeeping events (:data:`~onboarding_analysis.data.sources.
    HOUSEKEEPING_EVENTS`: ``$identify``, ``$merge``, ...).
    """
    if params.active_events is not None:
        return table.event.isin(list(params.active_events))
    active = table.event.notin(list(HOUSEKEEPING_EVENTS))
    if params.signup_event:
        return active & (table.event != params.signup_event)
    return active


def _row_terms(table, t0, ok, params: Params):
    """Return ``table`` with the per-row terms of the event aggregates as columns.

    Each term is computed once
    (inlined into every aggregate, DuckDB recomputed the day index per aggregate: 2x the time
    of the pass): ``_after`` (a usable row at or after ``t0``), ``_before`` (a usable row before
    it), ``_used_active`` and ``_day`` (the day index). NULL ``t0``: every term is NULL, so the
    row takes part in no aggregate.
    """
    after = ok & (table.ts >= t0)
    day = table.ts.delta(t0, unit="microsecond") // MICROS_PER_DAY
    return table.mutate(
        _after=after,
        _before=ok & (table.ts < t0),
        _used_active=after & _active(table, params),
        _day=day.cast("int64"),
    )


def bit_mask(values, where):
    """Return the aggregate OR of ``1 << value`` over the rows where ``where`` holds (0 if none).

    Bit ``k`` is set when some row has value ``k``. ``values`` must lie in ``0 .. MASK_BITS - 1``
    wherever ``where`` holds.

    Parameters
    ----------
    values : ibis.IntegerColumn
        The bit index of each row.
    where : ibis.BooleanColumn
        The rows that set a bit.

    Returns
    -------
    ibis.IntegerScalar
        The int64 mask (a reduction: use it in an aggregation).
    """
    bit = ibis.ifelse(where, ibis.literal(1, "int64") << values.cast("int64"), 0)
    return bit.cast("int64").bit_or()


def _event_aggregates(e, params: Params) -> dict:
    """Return the per-user aggregates of the facts over the rows of :func:`_row_terms`."""
    used_active = e._used_active

    def mask(period_days: int):
        k = e._day if period_days == 1 else (e._day // period_days).cast("int64")
        return bit_mask(k, used_active & (k < C.MASK_BITS))

    agg = {
        C.N_EVENTS: e.count(where=e._after),
        "n_before": e.count(where=e._before),
        "last_active_ts": e.ts.max(where=used_active),
        "value_ts": e.ts.min(where=e._after & e.event.isin(list(params.value_events)))
        if params.value_events
        else ibis.null("timestamp"),
        "churn_ts": e.ts.min(where=e._after & (e.event == params.churn_event))
        if params.churn_event
        else ibis.null("timestamp"),
        C.DAYS_MASK: mask(1),
        C.WEEKS_MASK: mask(7),
        C.MONTHS_MASK: mask(30),
    }
    # Day-N activity is bit N of the days mask when N < MASK_BITS (read off it in the facts):
    # only later days need an aggregate of their own.
    for n in params.retention_days:
        if n >= C.MASK_BITS:
            agg[C.active_day(n)] = (used_active & (e._day == n)).any()
    return agg


#: Prefix of the event aggregates in a merged per-user status (:func:`user_facts_expr`).
EVENT_PREFIX = "ev__"


def user_facts_expr(source: Source, params: Params, *, duplicates=None, users=None, merged=False):
    """Return the ibis expressions of the user-facts table and of the event accounting.

    Returns ``(facts, per_user_status, used_events)``: ``facts`` has one row per included user;
    ``per_user_status`` one row per user seen anywhere, with the user's exclusion reason
    (NULL when included), ``t0``, the segment/filter attributes and event counts, from which
    :func:`build_facts` derives the accounting without another scan of the events;
    ``used_events`` is the event-level table described in :attr:`Facts.events`.

    ``duplicates``: the rows of :func:`duplicate_candidates`, already computed (else
    they are part of the expression). ``users``: the included users (``user_id``, ``t0`` and
    the attributes), already computed from ``per_user_status`` (else the facts expression
    contains the per-user pass that finds them). Given both, the facts and the used events
    need a single pass over the events.

    ``merged`` (needs a users table): the status pass joins each event to its user's
    ``signup_at`` and also computes the facts' event aggregates against it (columns prefixed
    :data:`EVENT_PREFIX`): for every user whose ``t0`` is that ``signup_at`` (status column
    ``has_signup_at``; all users, in most logs) they are the facts' aggregates, so the facts
    need no pass of their own (:func:`build_facts`).

    Parameters
    ----------
    source : Source
        The loaded canonical tables.
    params : Params
        The run's params.
    duplicates : ibis.Table or None, optional
        The rows of :func:`duplicate_candidates`, already computed.
    users : ibis.Table or None, optional
        The included users, already computed from ``per_user_status``.
    merged : bool, optional
        Compute the facts' event aggregates in the status pass (needs a users table).

    Returns
    -------
    facts : ibis.Table
        One row per included user.
    per_user_status : ibis.Table
        One row per user seen anywhere, with the exclusion reason, ``t0``, attributes and counts.
    used_events : ibis.Table
        The used events (:attr:`Facts.events`).
    """
    events = ev = mark_duplicates(source.events, duplicates)
    end = ibis.literal(source.observation_end, type="timestamp")
    merged = merged and source.users is not None
    if merged:
        signup_at = source.users.select(_uid=source.users.user_id, _t0u=source.users.signup_at)
        ev = ev.left_join(signup_at, ev.user_id == signup_at._uid).select(*ev.columns, "_t0u")
        ev = _row_terms(ev, ev._t0u, ev.reason.isnull(), params)
    ok = ev.reason.isnull()
    # Attributes come from the users table when it has them (as loading.py does), else from events.
    from_users = set(source.users.columns) if source.users is not None else set()
    attrs_from_events = [
        c
        for c in dict.fromkeys((*params.segments, *params.filters))
        if c in ev.columns and c not in from_users
    ]

    signup = params.signup_event
    agg = {
        "first_ts": ev.ts.min(where=ok),
        "first_signup": ev.ts.min(where=ok & (ev.event == signup)) if signup else ibis.null("timestamp"),
        "n_ok": ev.count(where=ok),
        "n_rows": ev.count(),
    }
    for reason in ROW_LEVEL:
        agg[f"n_{reason}"] = ev.count(where=ev.reason == reason)
    for attr in attrs_from_events:
        agg[f"ev_{attr}"] = ev[attr].argmin(ev.ts, where=ok & ev[attr].notnull())
    # Whose run a user's rows belong to: a filter attribute from any of the rows (usable or not).
    for attr in (a for a in params.filters if a in attrs_from_events):
        agg[f"any_{attr}"] = ev[attr].min()
    if merged:
        agg.update({EVENT_PREFIX + k: v for k, v in _event_aggregates(ev, params).items()})
    per_user = ev.group_by("user_id").aggregate(**agg)

    if source.users is not None:
        u = source.users
        joined = per_user.outer_join(u, per_user.user_id == u.user_id)
        uid = ibis.coalesce(joined.user_id, joined.user_id_right)
        t0 = ibis.coalesce(joined.signup_at, joined.first_signup, joined.first_ts)
        base = joined.mutate(user_id=uid, t0=t0, in_users=joined.user_id_right.notnull())
        # loading.py takes an attribute from the users table when it has it, else from events.
        attr_values = {
            a: base[a] if a in u.columns else base[f"ev_{a}"]
            for a in dict.fromkeys((*params.segments, *params.filters))
            if a in u.columns or f"ev_{a}" in base.columns
        }
    else:
        base = per_user.mutate(t0=ibis.coalesce(per_user.first_signup, per_user.first_ts), in_users=False)
        attr_values = {a: base[f"ev_{a}"] for a in attrs_from_events}
    base = base.mutate(**attr_values)

    base = _with_status(base, source, params, end)
    status_cols = ["user_id", "status", "t0", *attr_values, *STATUS_ONLY[1:]]
    if merged:
        status_cols += [c for c in base.columns if c.startswith(EVENT_PREFIX)]
    per_user_status = base.select(*status_cols)

    if users is None:
        users = base.filter(base.status.isnull()).select("user_id", "t0", *attr_values)
    joined = events.filter(events.reason.isnull()).inner_join(users.select("user_id", "t0"), "user_id")
    facts = facts_select(
        users.left_join(event_pass(joined, params), "user_id"), source, params, attr_values
    )
    active = _active(joined, params)
    after = joined.ts >= joined.t0
    day = joined.ts.delta(joined.t0, unit="microsecond") // MICROS_PER_DAY
    used = joined.filter(after).mutate(day=day.cast("int64"), days=_days(joined.ts, joined.t0), active=active)
    return facts, per_user_status, used


def _with_status(base, source: Source, params: Params, end):
    """Return the per-user table ``base`` with each user's status columns.

    They are ``status`` (exclusion reason, NULL: included),
    ``in_scope`` (the user's rows belong to this run's filters) and the signup flags.
    """
    keep = ibis.literal(True)
    scope = ibis.literal(True)
    for column, allowed in params.filters.items():
        allowed = [str(v) for v in allowed]
        keep = keep & base[column].isin(allowed).fill_null(False)
        theirs = (
            ibis.coalesce(base[column], base[f"any_{column}"])
            if f"any_{column}" in base.columns
            else base[column]
        )
        scope = scope & theirs.isin(allowed).fill_null(False)
    status = ibis.cases(
        # An id the loader treats as missing ('', NaN, null...): all its rows say so.
        (
            base.user_id.isnull()
            | (base.user_id.strip() == "")
            | (base["n_missing user id"].fill_null(0) == base.n_rows.fill_null(-1)),
            "missing user id",
        ),
        (base.t0.isnull(), "user without signup time"),
        (base.t0 > end, "user signed up after observation end"),
        (~keep, FILTERED),
        else_=ibis.null("string"),
    )
    in_scope = scope & (status.isnull() | (status != "missing user id"))
    has_signup_at = base.signup_at.notnull() if source.users is not None else ibis.literal(False)
    base = base.mutate(
        status=status,
        in_scope=in_scope.fill_null(False),
        n_rows=base.n_rows.fill_null(0),
        has_signup=base.first_signup.notnull(),
        has_signup_at=has_signup_at,
    )
    return base


def event_pass(joined, params: Params):
    """Return the facts' per-user event aggregates over ``joined``.

    ``joined`` holds the usable events of the included users with their ``t0``.

    Parameters
    ----------
    joined : ibis.Table
        The usable events of the included users, with a ``t0`` column.
    params : Params
        The run's params (activity and day rules).

    Returns
    -------
    ibis.Table
        One row per user: ``user_id`` and the columns of :func:`_event_aggregates`.
    """
    e = _row_terms(joined, joined.t0, ibis.literal(True), params)
    return e.group_by("user_id").aggregate(**_event_aggregates(e, params))


def facts_select(f, source: Source, params: Params, attributes):
    """Return the facts table from ``f``.

    It has one row per included user with ``user_id``, ``t0``, the
    ``attributes`` and the columns of :func:`_event_aggregates` (NULL for a user without any).

    Parameters
    ----------
    f : ibis.Table
        The included users (``user_id``, ``t0``, ``attributes``) joined to their event aggregates.
    source : Source
        The loaded canonical tables (its ``observation_end`` is read).
    params : Params
        The run's params.
    attributes : list[str]
        The segment and filter attribute columns to keep.

    Returns
    -------
    ibis.Table
        The facts table.
    """
    end = ibis.literal(source.observation_end, type="timestamp")
    age = _days(end, f.t0)
    last = ibis.coalesce(f.last_active_ts, f.t0)
    last_days = _days(last, f.t0)
    if params.churn_event:
        churned = f.churn_ts.notnull()
        lifetime = ibis.ifelse(churned, _days(f.churn_ts, f.t0), age)
    else:
        churned = _days(end, last) >= params.inactivity_days
        censor = (
            age
            if params.lifetime_censoring == "observation_end"
            else ibis.greatest(age - params.inactivity_days, 0.0)
        )
        lifetime = ibis.ifelse(churned, last_days, censor)
    days_mask = f[C.DAYS_MASK].fill_null(0)
    flags = {
        C.active_day(n): (days_mask & ibis.literal(1 << n, "int64")) != 0
        if n < C.MASK_BITS
        else f[C.active_day(n)].fill_null(False)
        for n in params.retention_days
    }
    last_day = f.last_active_ts.delta(f.t0, unit="microsecond") // MICROS_PER_DAY
    return f.select(
        C.USER_ID,
        C.T0,
        *attributes,
        **{C.AGE: age},
        **{C.N_EVENTS: f[C.N_EVENTS].fill_null(0)},
        n_before=f.n_before.fill_null(0),
        **{C.LAST_ACTIVE: ibis.ifelse(f.last_active_ts.isnull(), ibis.null("float64"), last_days)},
        **{C.LAST_ACTIVE_DAY: last_day.fill_null(-1).cast("int64")},
        **{C.CHURNED: churned},
        **{C.LIFETIME: lifetime},
        **{C.VALUE: ibis.ifelse(f.value_ts.isnull(), ibis.null("float64"), _days(f.value_ts, f.t0))},
        **flags,
        **{m: f[m].fill_null(0) for m in (C.DAYS_MASK, C.WEEKS_MASK, C.MONTHS_MASK)},
    )


__all__ = [
    "DUPLICATE",
    "EVENT_PREFIX",
    "EVENT_REASONS",
    "FILTERED",
    "MICROS_PER_DAY",
    "USER_REASONS",
    "bit_mask",
    "duplicate_candidates",
    "mark_duplicates",
    "user_facts_expr",
]
