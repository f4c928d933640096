"""Moments of truth, engine side: the per-unit signals the three moments are classified from.

:func:`unit_signals` aggregates the used events in the query engine (ibis) into one row per
unit (account, or user when the events carry no ``account_id``): early and recent active days,
the first value, the features used in the first week, the onboarding completion and the active
days after it. :mod:`onboarding_analysis.analyses.moments_rules` classifies those rows;
:mod:`onboarding_analysis.analyses.moments` (the module docstring defines every signal) joins
the two. Only one row per unit reaches pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import ibis
import ibis.expr.operations as ops
import numpy as np
import pandas as pd

from ..data import columns as C
from ..data.facts import MICROS_PER_DAY, Facts, bit_mask
from .funnel_steps import step_column
from .funnel_times import step_times

__all__ = ["FIRST_WEEK_DAYS", "UnitSignals", "unit_signals"]

#: Length of the "first week" of the wow criterion (docs/metrics.md, "Moments of truth"), in days.
FIRST_WEEK_DAYS = 7
#: The event columns the signals read (a slim cached copy holds only these).
EVENT_COLUMNS = ["user_id", "event", "ts", "t0", "days", "active", "account_id"]
#: Columns of :attr:`UnitSignals.units` that hold counts of days or features.
COUNT_SIGNALS = ("early_active_days", "recent_active_days", "week1_features")


@dataclass(frozen=True, eq=False)
class UnitSignals:
    """The per-unit signals of one run, before classification.

    Attributes
    ----------
    units : pandas.DataFrame
        Indexed by the unit's label; columns ``unit_t0``, ``early_active_days``,
        ``recent_active_days``, ``value_days``, ``week1_features``, ``age_days``, ``churned``,
        ``users``, ``onboarding_days`` and ``post_onboarding_active_days``.
    by_account : bool
        Whether the units are accounts (else users).
    users_without_account : int
        Users left out of an account analysis because none of their events has an account id.
    """

    units: pd.DataFrame
    by_account: bool
    users_without_account: int


def unit_signals(facts: Facts) -> UnitSignals:
    """Aggregate the used events of ``facts`` into one row of signals per unit.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`, with its ``events``.
        Unless they already are a stored table, they are scanned once into a slim cached
        table that every query reads.

    Returns
    -------
    UnitSignals
        The units' signals (see :class:`UnitSignals`).
    """
    if _is_stored(facts.events):  # already a stored table (oa.share_events): read it directly
        return _signals(facts)
    slim = facts.events.select(*[c for c in EVENT_COLUMNS if c in facts.events.columns])
    with slim.cache() as events:
        return _signals(replace(facts, events=events))


def _is_stored(events) -> bool:
    """Whether ``events`` only selects columns of a stored table (a file or an engine table).

    Scanning such a table costs no more than scanning a cached copy.
    """
    op = events.op()
    while isinstance(op, ops.Project):
        op = op.parent
    return isinstance(op, ops.PhysicalTable)


def _signals(facts: Facts) -> UnitSignals:
    events, table = facts.events, facts.table
    by_account = _has_accounts(events)
    # Positions, not labels: each facts-table user's unit (``member``, -1 for none) and each
    # unit's label (``unit_ids``); pandas lookups by a million string labels cost seconds.
    t0 = table[C.T0].to_numpy(dtype="datetime64[us]")
    if by_account:
        e, member, unit_ids, unit_t0 = _account_units(events, table, t0)
    else:  # every user is a unit, even one without a used event
        unit_ids = table[C.USER_ID].astype(str).to_numpy(dtype=object)
        member = np.arange(len(table), dtype=np.int64)
        unit_t0 = t0
        e = events.mutate(unit=events.user_id, unit_t0=events.t0)

    units = _unit_aggregates(facts, e).set_index("unit").reindex(pd.Index(unit_ids, name="unit"))
    units["unit_t0"] = pd.to_datetime(unit_t0).astype("datetime64[ns]")
    for col in COUNT_SIGNALS:
        units[col] = units[col].fillna(0).astype("int64")
    units["value_days"] = units["value_days"].astype("float64")
    end = pd.Timestamp(facts.observation_end)
    units["age_days"] = (end - units["unit_t0"]) / pd.Timedelta(days=1)
    _add_membership(units, table, member)
    _add_onboarding(units, facts, e, member, unit_ids, unit_t0)
    return UnitSignals(units=units, by_account=by_account, users_without_account=int((member < 0).sum()))


def _has_accounts(events) -> bool:
    if "account_id" not in events.columns:
        return False
    # The first row with an account id answers (the engine stops there), not a count of all.
    tagged = events.filter(events.account_id.notnull()).select("account_id").limit(1)
    return int(tagged.count().execute()) > 0


def _membership_expr(events):
    """Per user: its account, the account id of its earliest event that has one."""
    tagged = events.filter(events.account_id.notnull())
    return tagged.group_by("user_id").aggregate(unit=tagged.account_id.cast("string").argmin(tagged.ts))


def _account_units(events, table: pd.DataFrame, t0: np.ndarray):
    """The events joined to their account, each user's account position, the accounts and their t0."""
    fetched = _membership_expr(events).to_pandas()
    fetched["user_id"] = fetched["user_id"].astype(str)
    codes, unit_ids = pd.factorize(fetched["unit"].astype(str))
    unit_ids = np.asarray(unit_ids, dtype=object)
    position = pd.Index(table[C.USER_ID].astype(str)).get_indexer(fetched["user_id"])
    member = np.full(len(table), -1, dtype=np.int64)
    member[position] = codes
    # The account's t0: the first signup of its users (the facts' t0 of each member).
    unit_t0 = pd.Series(t0[position]).groupby(codes).min().to_numpy(dtype="datetime64[us]")
    fetched["unit"] = unit_ids[codes]
    fetched["unit_t0"] = unit_t0[codes]
    # The queries join the fetched membership, not its expression (one pass less each).
    e = events.inner_join(ibis.memtable(fetched[["user_id", "unit", "unit_t0"]]), "user_id")
    return e, member, unit_ids, unit_t0


def _add_membership(units: pd.DataFrame, table: pd.DataFrame, member: np.ndarray) -> None:
    """Add ``users`` and ``churned`` (every user of the unit churned) to ``units``, in place."""
    inside = member >= 0
    n_units = len(units)
    users = np.bincount(member[inside], minlength=n_units)
    active = np.bincount(
        member[inside], weights=~table[C.CHURNED].to_numpy(dtype=bool)[inside], minlength=n_units
    )
    units["churned"] = (users > 0) & (active == 0)
    units["users"] = users.astype("int64")


def _add_onboarding(units: pd.DataFrame, facts: Facts, e, member, unit_ids, unit_t0) -> None:
    """Add ``onboarding_days`` and ``post_onboarding_active_days`` to ``units``, in place."""
    n_units = len(units)
    completion = _completions(facts, member)
    onboarding_days = np.full(n_units, np.nan)
    post_days = pd.array([pd.NA] * n_units, dtype="Int64")
    if completion is not None and len(completion):
        done = completion.index.to_numpy()
        c_ts = completion.to_numpy(dtype="datetime64[us]")
        onboarding_days[done] = (c_ts - unit_t0[done]) / np.timedelta64(1, "D")
        frame = pd.DataFrame({"unit": unit_ids[done], "c_ts": c_ts, "unit_t0": unit_t0[done]})
        post = _post_onboarding_days(e, frame, facts.params.relationship_days)
        post_days[done] = post.reindex(frame["unit"]).fillna(0).astype("int64").to_numpy()
    units["onboarding_days"] = onboarding_days
    units["post_onboarding_active_days"] = post_days


@ibis.udf.scalar.builtin(name="bit_count")
def _bit_count(x: int) -> int:
    """The number of set bits of an integer (DuckDB's and Spark's ``bit_count``)."""


def _distinct_below(values, where, n: int):
    """The number of distinct ``values`` in ``0 .. n-1`` among the rows ``where`` holds.

    ``values`` are never negative here (day indices since a ``t0`` at or before every used
    event, or whole days before ``T``). For ``n <= MASK_BITS`` the distinct values are the set
    bits of an OR of ``1 << value``: an integer aggregate, several times cheaper than the
    engine's ``COUNT(DISTINCT ...)`` (a hash table per group); larger ``n`` counts distinct.
    """
    inside = where & (values < n)
    if n > C.MASK_BITS:
        return values.nunique(where=inside)
    return _bit_count(bit_mask(values, inside)).cast("int64")


def _distinct_of(column, names: list[str], where):
    """The number of distinct ``names`` among the values of ``column`` where ``where`` holds.

    An OR of one bit per name, as :func:`_distinct_below`; a distinct count beyond 63 names.
    """
    inside = where & column.isin(names)
    if len(names) > C.MASK_BITS:
        return column.nunique(where=inside)
    bit = ibis.cases(*((column == name, 1 << i) for i, name in enumerate(names)), else_=0).cast("int64")
    return _bit_count(ibis.ifelse(inside, bit, 0).cast("int64").bit_or()).cast("int64")


def _unit_aggregates(facts: Facts, e) -> pd.DataFrame:
    """Per unit: the early/recent activity, value and first-week feature signals.

    ``e``: the used events with ``unit`` and ``unit_t0`` (the first signup of the unit's users,
    from the facts table: no pass over the events to find it).
    """
    params = facts.params
    days = e.ts.delta(e.unit_t0, unit="microsecond").cast("float64") / MICROS_PER_DAY
    day = e.ts.delta(e.unit_t0, unit="microsecond") // MICROS_PER_DAY
    end = ibis.literal(pd.Timestamp(facts.observation_end).to_pydatetime(), type="timestamp")
    back = end.delta(e.ts, unit="microsecond") // MICROS_PER_DAY
    agg = {
        "early_active_days": _distinct_below(day, e.active, params.moment_early_days),
        "recent_active_days": _distinct_below(back, e.active, params.crisis_recent_days),
        "value_days": days.min(where=e.event.isin(list(params.value_events)))
        if params.value_events
        else ibis.null("float64"),
        "week1_features": _distinct_of(e.event, list(params.feature_events), days < FIRST_WEEK_DAYS)
        if params.feature_events
        else ibis.literal(0),
    }
    out = e.group_by("unit").aggregate(**agg).to_pandas()
    out["unit"] = out["unit"].astype(str)
    return out


def _post_onboarding_days(e, completion: pd.DataFrame, window_days: int) -> pd.Series:
    """Per unit: active day indices in ``(c, c + window]`` after the onboarding completion ``c``.

    They are day indices ``c_day .. c_day + window`` (``c_day`` the index of ``c``): counted as
    the bits of their offsets from ``c_day`` (:func:`_distinct_below`).
    """
    if completion.empty:
        return pd.Series(dtype="int64")
    done = completion[["unit", "c_ts", "unit_t0"]].rename(columns={"unit_t0": "c_t0"})
    done["c_day"] = ((done["c_ts"] - done["c_t0"]) // pd.Timedelta(days=1)).astype("int64")
    j = e.inner_join(ibis.memtable(done), "unit")
    offset = j.ts.delta(j.c_t0, unit="microsecond") // MICROS_PER_DAY - j.c_day
    inside = j.active & (j.ts > j.c_ts) & (j.ts <= j.c_ts + ibis.interval(days=window_days))
    out = j.group_by("unit").aggregate(n=_distinct_below(offset, inside, window_days + 1)).to_pandas()
    return out.set_index(out["unit"].astype(str))["n"].astype("int64")


def _completions(facts: Facts, member: np.ndarray) -> pd.Series | None:
    """Per unit (index: unit position), the first time any of its users completed onboarding.

    That is the last onboarding step (a timestamp). ``member``: each facts-table user's unit
    position (-1: none).
    """
    steps = facts.params.onboarding_steps
    if not steps:
        return None
    times = step_times(facts)  # the users of facts.table, in its order
    done = times[step_column(len(steps) - 1)].to_numpy(dtype=float)
    keep = ~np.isnan(done) & (member >= 0)
    t0 = facts.table[C.T0].to_numpy(dtype="datetime64[us]")[keep]
    # Back to whole microseconds (the events' resolution), so that the completing event itself is
    # never "after" its own completion time through float rounding.
    at = t0 + np.rint(done[keep] * MICROS_PER_DAY).astype("int64").astype("timedelta64[us]")
    return pd.Series(at).groupby(member[keep]).min()
