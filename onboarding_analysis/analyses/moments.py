"""Moments of truth: crisis, relationship change and unexpected win, per account or per user.

METRICS.md, "Moments of truth". The customer-success team wants to know which accounts just
had a moment that decides whether they stay: a heavy start that faded (*crisis*), an onboarding
completed and then silence (*relationship change*), value reached unusually fast or many
features adopted at once (*unexpected win*). This module counts them (and lists them only
where params ``show_identifiers: true``).

Units
-----
When the used events carry an ``account_id`` (at least one non-null value) the unit is the
**account**, else the **user**. A user's signals aggregate to its account as follows:

- membership: a user belongs to the account on its earliest event with a non-null
  ``account_id``; users none of whose events carries one are left out of the account analysis
  and counted (:attr:`MomentsResult.users_without_account`);
- account ``t0`` = the first signup among its users; every window below is measured from it,
  and an event's day index is ``floor((ts - t0_account) / 24h)``;
- activity = the union of its users' active days (the account is active on a day index when
  any user has an active event then);
- value = the first value event of any of its users;
- onboarding completed = the first time any of its users reached the last onboarding step
  (the funnel's rule: :func:`onboarding_analysis.analyses.funnel.step_times` with params
  ``onboarding_steps``, ``funnel_mode`` and ``conversion_window_days`` counted from that
  user's own signup);
- features used in the first week = distinct ``feature_events`` of any user at durations
  ``< 7`` days since the account's ``t0``;
- churned = *every* user of the account churned (the facts' ``churned`` column);
- age = ``(T - t0_account) / 24h``.

For users, each of these is the user's own. Only units whose windows are fully observed are
classified; the others leave the denominators (they are *not* counted as "no moment").

Definitions
-----------
With ``E`` = params ``moment_early_days``, ``R`` = ``crisis_recent_days``, ``D`` =
``relationship_days``:

*Crisis.* Eligible: ``age >= E + R`` (the early window is complete and does not overlap the
recent one). ``early_active_days`` = active day indices ``0 .. E-1``; the unit is in the top
group when ``early_active_days >= `` the ``crisis_top_quantile`` quantile (numpy's linear
interpolation) of ``early_active_days`` over the eligible units, and ``> 0``.
``recent_active_days`` = distinct values of ``floor((T - ts) / 24h)`` over active events with
``ts > T - R days`` (the last ``R`` 24-hour periods before ``T``). Crisis: reached value (by
``T``), in the top group, ``recent_active_days / R < crisis_drop_ratio * early_active_days / E``
(rates per day), and not churned. An account silent since more than ``R`` days, but for less
than ``inactivity_days``, qualifies: it stopped, and the inactivity rule cannot say yet whether
it left.

*Relationship change.* Eligible: onboarding completed at ``c`` (days since ``t0``) and
``c + D <= age``. ``post_onboarding_active_days`` = distinct day indices of active events with
``c < ts <= c + D`` days (the completing event itself is not counted; later events of its day
are). Relationship change: ``post_onboarding_active_days <= relationship_max_active_days``.

*Unexpected win.* Eligible: ``age >= max(E, 7)``. Converters are the eligible units that reached
value within the early window (``value_days < E``), so every converter's time is fully
observed; *fast*: a converter whose ``value_days`` is strictly below the ``1 -
win_speed_quantile`` quantile of the converters' ``value_days`` (faster than
``win_speed_quantile`` of converters). *Wow*: at least ``wow_features`` distinct
``feature_events`` in the first week (needs params ``feature_events``). Unexpected win: fast or
wow. By construction about ``1 - win_speed_quantile`` of converters are fast: the criterion is
relative to the product's own users.

Trends
------
Counts are attributed to the unit's **signup week** (ISO week, Monday start, of ``t0``): each
week's share is the moments among that cohort's eligible units, so weeks are comparable. (The
week a moment "happens" is not defined for a crisis, a state at ``T``.) Recent cohorts have no
eligible units yet and show no share, never 0%.

Examples
--------
>>> import onboarding_analysis as oa                                   # doctest: +SKIP
>>> result = moments_of_truth(oa.compute_facts(oa.load_params("params/demo.yaml")))  # doctest: +SKIP
>>> result.counts                                                     # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..absence import add_note
from ..data import columns as C
from ..data.facts import MICROS_PER_DAY, Facts, bit_mask
from ..errors import DataError, ParamsError
from ..stats.intervals import wilson_interval

__all__ = [
    "COUNT_COLUMNS",
    "MOMENTS",
    "UNIT_COLUMNS",
    "WEEKLY_COLUMNS",
    "MomentsResult",
    "moment_identifiers",
    "moments_metrics",
    "moments_of_truth",
    "plot_moments",
    "write_moments_csv",
]

#: The three moments, in METRICS.md's order.
MOMENTS = ("crisis", "relationship_change", "unexpected_win")
#: Columns of :attr:`MomentsResult.counts`.
COUNT_COLUMNS = ["moment", "eligible", "count", "share", "ci_low", "ci_high", "rule"]
#: Columns of :attr:`MomentsResult.weekly`.
WEEKLY_COLUMNS = ["week", "moment", "eligible", "count", "share"]
#: Columns of :attr:`MomentsResult.units` (``unit_id`` first, only when identifiers are shown).
UNIT_COLUMNS = [
    "t0",
    "week",
    "users",
    "age_days",
    "churned",
    "value_days",
    "early_active_days",
    "recent_active_days",
    "onboarding_days",
    "post_onboarding_active_days",
    "week1_features",
    "eligible_crisis",
    "crisis",
    "eligible_relationship_change",
    "relationship_change",
    "eligible_unexpected_win",
    "fast_value",
    "wow",
    "unexpected_win",
]
#: File written by :func:`write_moments_csv`.
CSV_NAME = "moments_of_truth.csv"
#: Length of the "first week" of the wow criterion (METRICS.md), in days.
FIRST_WEEK_DAYS = 7
UNIT_ID = "unit_id"


@dataclass(frozen=True, eq=False)
class MomentsResult:
    """Moments of truth of one run.

    Attributes
    ----------
    unit : {"account", "user"}
        What was classified.
    counts : pandas.DataFrame
        One row per moment (:data:`COUNT_COLUMNS`): eligible units, units with the moment, the
        share with its 95% Wilson interval, and the rule in words.
    weekly : pandas.DataFrame
        :data:`WEEKLY_COLUMNS`, one row per signup week and moment; ``share`` is NaN for weeks
        without an eligible unit.
    units : pandas.DataFrame
        One row per unit (:data:`UNIT_COLUMNS`): the signals and flags behind the counts. It has
        a ``unit_id`` column only when :attr:`identifiers_shown`.
    thresholds : Mapping
        ``early_active_days_top`` (the crisis top-group threshold) and ``fast_value_days`` (the
        unexpected-win speed threshold); None when nothing was eligible.
    identifiers_shown : bool
        params ``show_identifiers``.
    users_without_account : int
        Users left out of an account analysis because none of their events has an account id.
    notes : tuple of str
        Moments that could not be computed and which params enable them.
    """

    unit: str
    counts: pd.DataFrame
    weekly: pd.DataFrame
    units: pd.DataFrame
    thresholds: Mapping[str, float | None]
    identifiers_shown: bool
    users_without_account: int = 0
    notes: tuple[str, ...] = ()


# --- engine side ------------------------------------------------------------------------------


def _check_facts(facts: Any) -> Facts:
    if not isinstance(facts, Facts):
        raise TypeError(
            f"moments needs the Facts object of compute_facts(params) (it carries the events), "
            f"but got {type(facts)!r}"
        )
    if facts.events is None:
        raise DataError("facts has no events table; build it with onboarding_analysis.compute_facts(params)")
    missing = [c for c in (C.USER_ID, C.T0, C.CHURNED) if c not in facts.table.columns]
    if missing:
        raise DataError(
            f"moments needs the user-facts column(s) {missing}; rebuild with compute_facts(params)"
        )
    return facts


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
    """The number of distinct ``names`` among the values of ``column`` where ``where`` holds
    (an OR of one bit per name, as :func:`_distinct_below`; distinct count beyond 63 names).
    """
    inside = where & column.isin(names)
    if len(names) > C.MASK_BITS:
        return column.nunique(where=inside)
    bit = ibis.cases(*((column == name, 1 << i) for i, name in enumerate(names)), else_=0).cast("int64")
    return _bit_count(ibis.ifelse(inside, bit, 0).cast("int64").bit_or()).cast("int64")


def _unit_aggregates(facts: Facts, e, params) -> pd.DataFrame:
    """Per unit: the early/recent activity, value and first-week feature signals.

    ``e``: the used events with ``unit`` and ``unit_t0`` (the first signup of the unit's users,
    from the facts table: no pass over the events to find it).
    """
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
    """Per unit (index: unit position), the first time (timestamp) any of its users completed
    the last onboarding step. ``member``: each facts-table user's unit position (-1: none).
    """
    from .funnel_steps import step_column  # local: as the import below
    from .funnel_times import step_times  # local: funnel pulls in the TTFV machinery

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


# --- pandas side ------------------------------------------------------------------------------


def _quantile(values: pd.Series, q: float) -> float | None:
    values = values.dropna()
    return float(np.quantile(values.to_numpy(dtype=float), q)) if len(values) else None


def _week(t0: pd.Series) -> pd.Series:
    day = t0.dt.normalize()
    return day - pd.to_timedelta(t0.dt.weekday, unit="D")


def _rules(params) -> dict[str, str]:
    e, r, d = params.moment_early_days, params.crisis_recent_days, params.relationship_days
    features = f"{params.wow_features}+ of {len(params.feature_events)} features in week 1"
    return {
        "crisis": (
            f"reached value; active days in days 0-{e - 1} in the top "
            f"{round(100 * (1 - params.crisis_top_quantile))}%; last {r} days' daily rate below "
            f"{params.crisis_drop_ratio:g} x that; not churned"
        ),
        "relationship_change": (
            f"completed onboarding, then at most {params.relationship_max_active_days} active "
            f"day(s) in the {d} days after"
        ),
        "unexpected_win": (
            f"value faster than {round(100 * params.win_speed_quantile)}% of converters "
            f"(within {e} days)" + (f", or {features}" if params.feature_events else "")
        ),
    }


def moments_of_truth(facts: Facts, *, alpha: float = 0.05) -> MomentsResult:
    """Classify accounts (or users) into the three moments of truth; see the module docstring.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`; its ``events`` are
        aggregated in the query engine, only one row per unit reaches pandas.
    alpha : float, default 0.05
        The shares' Wilson intervals are ``1 - alpha`` intervals.

    Returns
    -------
    MomentsResult
        Identifiers (``units.unit_id``) only when params ``show_identifiers`` is true.

    Examples
    --------
    >>> import onboarding_analysis as oa                                    # doctest: +SKIP
    >>> result = moments_of_truth(oa.compute_facts(oa.load_params("params/demo.yaml")))  # doctest: +SKIP
    >>> result.counts[["moment", "eligible", "count"]]                      # doctest: +SKIP
    """
    facts = _check_facts(facts)
    if _is_stored(facts.events):  # already a stored table (oa.share_events): read it directly
        return _moments(facts, alpha)
    # One scan of the event log into a slim cached table; every query below reads the cache.
    wanted = ["user_id", "event", "ts", "t0", "days", "active", "account_id"]
    slim = facts.events.select(*[c for c in wanted if c in facts.events.columns])
    with slim.cache() as events:
        return _moments(replace(facts, events=events), alpha)


def _is_stored(events) -> bool:
    """Whether ``events`` only selects columns of a stored table (a file or an engine table),
    so scanning it costs no more than scanning a cached copy.
    """
    import ibis.expr.operations as ops

    op = events.op()
    while isinstance(op, ops.Project):
        op = op.parent
    return isinstance(op, ops.PhysicalTable)


def _moments(facts: Facts, alpha: float) -> MomentsResult:
    params = facts.params
    events = facts.events
    by_account = _has_accounts(events)
    table = facts.table
    # Positions, not labels: each facts-table user's unit (``member``, -1 for none) and each
    # unit's label (``unit_ids``); pandas lookups by a million string labels cost seconds.
    t0 = table[C.T0].to_numpy(dtype="datetime64[us]")
    if by_account:
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
        # The queries below join the fetched membership, not its expression (one pass less each).
        e = events.inner_join(ibis.memtable(fetched[["user_id", "unit", "unit_t0"]]), "user_id")
    else:  # every user is a unit, even one without a used event
        unit_ids = table[C.USER_ID].astype(str).to_numpy(dtype=object)
        member = np.arange(len(table), dtype=np.int64)
        unit_t0 = t0
        e = events.mutate(unit=events.user_id, unit_t0=events.t0)
    users_without = int((member < 0).sum())
    n_units = len(unit_ids)

    agg = _unit_aggregates(facts, e, params).set_index("unit")
    units = agg.reindex(pd.Index(unit_ids, name="unit"))
    units["unit_t0"] = pd.to_datetime(unit_t0).astype("datetime64[ns]")
    for col in ("early_active_days", "recent_active_days", "week1_features"):
        units[col] = units[col].fillna(0).astype("int64")
    units["value_days"] = units["value_days"].astype("float64")
    end = pd.Timestamp(facts.observation_end)
    units["age_days"] = (end - units["unit_t0"]) / pd.Timedelta(days=1)

    inside = member >= 0
    users = np.bincount(member[inside], minlength=n_units)
    active = np.bincount(
        member[inside], weights=~table[C.CHURNED].to_numpy(dtype=bool)[inside], minlength=n_units
    )
    units["churned"] = (users > 0) & (active == 0)  # every user of the unit churned
    units["users"] = users.astype("int64")

    notes = []
    completion = _completions(facts, member)
    onboarding_days = np.full(n_units, np.nan)
    post_days = pd.array([pd.NA] * n_units, dtype="Int64")
    if completion is None:
        notes.append(
            "relationship change needs params onboarding_steps (the last step = onboarding completed)"
        )
    elif len(completion):
        done = completion.index.to_numpy()
        c_ts = completion.to_numpy(dtype="datetime64[us]")
        onboarding_days[done] = (c_ts - unit_t0[done]) / np.timedelta64(1, "D")
        frame = pd.DataFrame({"unit": unit_ids[done], "c_ts": c_ts, "unit_t0": unit_t0[done]})
        post = _post_onboarding_days(e, frame, params.relationship_days)
        post_days[done] = post.reindex(frame["unit"]).fillna(0).astype("int64").to_numpy()
    units["onboarding_days"] = onboarding_days
    units["post_onboarding_active_days"] = post_days
    if not params.value_events:
        notes.append("crisis and the speed part of unexpected win need params value_events")
    if not params.feature_events:
        notes.append("the wow part of unexpected win needs params feature_events")

    thresholds = _classify(units, params)
    units["week"] = _week(units["unit_t0"])
    units = units.rename(columns={"unit_t0": "t0"}).sort_values(["t0"], kind="stable")
    units.index.name = UNIT_ID
    units = units.reset_index()[[UNIT_ID, *UNIT_COLUMNS]]
    if not params.show_identifiers:
        units = units.drop(columns=UNIT_ID)
    return MomentsResult(
        unit="account" if by_account else "user",
        counts=_counts(units, params, alpha),
        weekly=_weekly(units),
        units=units,
        thresholds=thresholds,
        identifiers_shown=bool(params.show_identifiers),
        users_without_account=users_without,
        notes=tuple(notes),
    )


def _classify(units: pd.DataFrame, params) -> dict[str, float | None]:
    """Add the eligibility and moment flags to ``units`` (in place); return the thresholds."""
    e, r = params.moment_early_days, params.crisis_recent_days
    age = units["age_days"]
    early = units["early_active_days"]
    reached = units["value_days"].notna()

    eligible = age >= e + r
    top = _quantile(early[eligible], params.crisis_top_quantile)
    in_top = eligible & (early > 0) & (early >= (top if top is not None else math.inf))
    dropped = units["recent_active_days"] / r < params.crisis_drop_ratio * early / e
    units["eligible_crisis"] = eligible
    units["crisis"] = in_top & reached & dropped & ~units["churned"]

    c = units["onboarding_days"]
    eligible = c.notna() & (c + params.relationship_days <= age)
    post = units["post_onboarding_active_days"].fillna(0).astype("int64")
    units["eligible_relationship_change"] = eligible
    units["relationship_change"] = eligible & (post <= params.relationship_max_active_days)

    eligible = age >= max(e, FIRST_WEEK_DAYS)
    converters = eligible & (units["value_days"] < e)
    fast_days = _quantile(units.loc[converters, "value_days"], 1 - params.win_speed_quantile)
    fast = converters & (units["value_days"] < (fast_days if fast_days is not None else -math.inf))
    wow = (
        eligible & (units["week1_features"] >= params.wow_features)
        if params.feature_events
        else eligible & False
    )
    units["eligible_unexpected_win"] = eligible
    units["fast_value"] = fast
    units["wow"] = wow
    units["unexpected_win"] = fast | wow
    return {"early_active_days_top": top, "fast_value_days": fast_days}


def _counts(units: pd.DataFrame, params, alpha: float) -> pd.DataFrame:
    rules = _rules(params)
    rows = []
    for moment in MOMENTS:
        n = int(units[f"eligible_{moment}"].sum())
        k = int(units[moment].sum())
        low, high = wilson_interval(k, n, alpha=alpha)
        rows.append([moment, n, k, k / n if n else math.nan, low, high, rules[moment]])
    table = pd.DataFrame(rows, columns=COUNT_COLUMNS)
    early, recent = params.moment_early_days, params.crisis_recent_days
    windows = {
        "crisis": f"observed for {early + recent} days (moment_early_days + crisis_recent_days)",
        "relationship_change": (
            f"that completed onboarding at least {params.relationship_days} days (relationship_days) "
            "before the observation end"
        ),
        "unexpected_win": f"observed for {max(early, FIRST_WEEK_DAYS)} days (moment_early_days, at least 7)",
    }
    reasons = {
        moment: f"{moment}: not computable, no account or user {window}; those not observed long enough "
        "are left out, never counted as having no moment"
        for moment, window in windows.items()
    }
    if not params.onboarding_steps:
        reasons["relationship_change"] = (
            "relationship_change: not computable without params onboarding_steps (its last step is "
            "onboarding completed)"
        )
    for moment, n in zip(table["moment"], table["eligible"], strict=True):
        if n == 0:
            add_note(table, reasons[moment])
    return table


def _weekly(units: pd.DataFrame) -> pd.DataFrame:
    frames = []
    for moment in MOMENTS:
        g = units.groupby("week")
        part = pd.DataFrame(
            {
                "eligible": g[f"eligible_{moment}"].sum().astype("int64"),
                "count": g[moment].sum().astype("int64"),
            }
        )
        part["share"] = part["count"] / part["eligible"].where(part["eligible"] > 0)
        frames.append(part.reset_index().assign(moment=moment))
    if not frames:
        return pd.DataFrame(columns=WEEKLY_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    return out[WEEKLY_COLUMNS].sort_values(["week", "moment"], kind="stable").reset_index(drop=True)


# --- identifiers ------------------------------------------------------------------------------


def moment_identifiers(result: MomentsResult) -> pd.DataFrame:
    """The units with a moment, one row per (unit, moment), for the customer-success team.

    Only available when params ``show_identifiers`` is true; shared reports show counts only.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``moment``, ``t0``, ``age_days``, ``value_days``, ``early_active_days``,
        ``recent_active_days``, ``onboarding_days``, ``post_onboarding_active_days``,
        ``week1_features``, sorted by moment and ``t0``.

    Raises
    ------
    ParamsError
        Identifiers were not requested (params ``show_identifiers: false``).
    """
    if not isinstance(result, MomentsResult):
        raise TypeError(f"expected the MomentsResult of moments_of_truth(facts), but got {type(result)!r}")
    if not result.identifiers_shown or UNIT_ID not in result.units.columns:
        raise ParamsError(
            "moment identifiers are only listed with params show_identifiers: true; shared reports "
            "show counts only. Set show_identifiers: true in a params file kept inside the team."
        )
    keep = [
        UNIT_ID,
        "t0",
        "age_days",
        "value_days",
        "early_active_days",
        "recent_active_days",
        "onboarding_days",
        "post_onboarding_active_days",
        "week1_features",
    ]
    frames = [result.units.loc[result.units[m], keep].assign(moment=m) for m in MOMENTS]
    out = pd.concat(frames, ignore_index=True)
    return out[[UNIT_ID, "moment", *keep[1:]]].reset_index(drop=True)


def write_moments_csv(result: MomentsResult, output_dir: str | Path) -> Path:
    """Write :func:`moment_identifiers` to ``<output_dir>/moments_of_truth.csv``.

    Raises
    ------
    ParamsError
        Identifiers were not requested (params ``show_identifiers: false``): nothing is written.
    """
    table = moment_identifiers(result)
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CSV_NAME
    table.to_csv(path, index=False)
    return path


# --- metrics and plot -------------------------------------------------------------------------


def moments_metrics(result: MomentsResult) -> dict[str, dict]:
    """The ``moments`` section of metrics.json: counts only, never identifiers.

    Returns
    -------
    dict
        ``{"moments": {"crisis": n, "relationship_change": n, "unexpected_win": n,
        "unit": "account" | "user", "eligible": {moment: n}}}``.
    """
    counts = result.counts.set_index("moment")
    out: dict[str, Any] = {m: int(counts.loc[m, "count"]) for m in MOMENTS}
    out["unit"] = result.unit
    out["eligible"] = {m: int(counts.loc[m, "eligible"]) for m in MOMENTS}
    return {"moments": out}


def plot_moments(result: MomentsResult, *, ax: Axes | None = None) -> Axes:
    """Share of each signup week's eligible units with each moment (one line per moment).

    Parameters
    ----------
    result : MomentsResult
        Output of :func:`moments_of_truth`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = plt.subplots()
    weekly = result.weekly
    drawn = False
    for i, moment in enumerate(MOMENTS):
        part = weekly[(weekly["moment"] == moment) & weekly["share"].notna()]
        if part.empty:
            continue
        ax.plot(
            part["week"],
            part["share"] * 100,
            marker="o",
            ms=3,
            color=f"C{i}",
            label=f"{moment.replace('_', ' ')} ({int(part['count'].sum())})",
        )
        drawn = True
    if drawn:
        ax.legend(loc="upper left")
    else:
        ax.text(0.5, 0.5, "no eligible units yet", transform=ax.transAxes, ha="center", va="center")
    ax.set_xlabel("signup week")
    ax.set_ylabel(f"% of the week's eligible {result.unit}s")
    ax.set_title(f"Moments of truth by signup week ({result.unit}s)")
    ax.figure.autofmt_xdate()
    return ax
