"""PostHog's funnel rules (params ``funnel_semantics: posthog``), computed in the query engine.

The rules are those of PostHog's funnel matcher, ``funnel-udf/src/steps.rs`` (ordered and strict)
and ``funnel-udf/src/unordered_steps.rs`` (unordered), fed by
``posthog/hogql_queries/insights/funnels/funnel_udf.py``; docs/funnels.md sets them beside the
default ``onboarding`` rules of :mod:`onboarding_analysis.analyses.funnel`. "Step 1" below is the first
step (``step_0_days`` in the tables).

- The window is measured from the chain's step-1 event, never from signup, and its end is
  inclusive: a step counts when ``ts - start <= window`` (``steps.rs``: ``event.timestamp -
  previous_timestamp <= conversion_window_limit``, where every step of a chain carries the
  timestamp of its step-1 event). The window is a fixed number of seconds
  (``funnel_udf.py``: ``conversion_window_limit``; ``posthog/utils.py``: ``DATERANGE_MAP``,
  month = 31 days).
- Every step-1 event starts a chain; a chain reaches step ``j`` at the first step-``j`` event at
  or after the time it reached step ``j - 1`` (events at one timestamp are taken in step order,
  ``steps.rs``: ``sorted_by_key(|event| event.steps[0])``). A user's result is the chain that
  first reaches their furthest step (``steps.rs``: ``max_step`` changes only on ``step >
  max_step``), and among chains reaching it at that same event, the one started last: the
  latest step-1 event before step 2, so a user converting from a second attempt is converted
  and timed from that attempt. One event serves one step of a chain (``steps.rs`` processes an
  event's steps from the last, and ``already_used_event``); here a step that accepts an event
  name of the step before it needs a strictly later event, which differs from PostHog only for
  two events of that name at one timestamp.
- ``strict``: every event of the user counts, not only step events (``funnel_udf.py``:
  ``skip_step_filter=True, skip_entity_filter=True``). After a timestamp whose events all match
  the same steps (one event, or several of the same kind), chains are kept only at the steps
  those events match (``steps.rs``: "If a strict funnel, clear all of the steps that we didn't
  match to"); a timestamp whose events match different steps clears nothing ("If we are
  processing multiple events, skip this step"). So any other event between two steps breaks the
  chain, a step event or not, a repeat of the step reached does not, and events at the same
  timestamp as a step do not.
- ``any_order`` (PostHog's "unordered"): a user has completed ``N`` steps when ``N`` different
  steps occur within one window, ``[ts - window, ts]`` for some event time ``ts``; "step ``j``" of
  the table counts the users who completed at least ``j + 1`` steps, so anyone with any step event
  is in step 1. An event that several steps accept counts for the first of them (as
  ``unordered_steps.rs``, whose ``min_by_key`` closure returns ``()`` and so keeps the first step).
  The chain is the earliest event of each completed step in the window where the count first
  reached its maximum, sorted by time.
- Time to convert from step ``j - 1`` to ``j``: mean and median over users of the chain's gap in
  seconds, leaving out gaps of 0 s (``funnel_udf.py``: ``groupArrayIf(timings[i], timings[i] >
  0)``, ``avgArray``, ``medianArray``; ClickHouse's median interpolates between the two middle
  values as :func:`numpy.median` does, exactly up to 8,192 values).

The population is every user with a step-1 event (any step event for ``any_order``) among the
used events (:attr:`Facts.events <onboarding_analysis.data.facts.Facts.events>`), signup or not. One
departure from PostHog, kept on purpose: users whose window, from their first step-1 event, is
not over at the observation end (``T - first start < window``) are left out of the rates (not
*eligible*), as under the onboarding rules; PostHog counts them as not (yet) converted.
"""

from __future__ import annotations

import math
from typing import Any

import ibis
import numpy as np
import pandas as pd

from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError
from ..stats.intervals import wilson_interval
from .funnel_steps import (
    ELIGIBLE,
    INCIDENCE_COLUMNS,
    STEP_COLUMNS,
    FunnelResult,
    Steps,
    step_column,
    step_label,
)

__all__ = ["posthog_funnel", "posthog_step_offsets", "posthog_steps_table"]

MICROS_PER_DAY = 86_400_000_000
_NO_TS = ibis.null("timestamp")


def _offset(col: str) -> str:
    return f"us_{col}"


def _mask(events, steps) -> Any:
    """Per row: bit ``j`` set when step ``j`` accepts the row's event (0 for no step)."""
    mask = ibis.literal(0, "int64")
    for j, names in enumerate(steps):
        mask = mask + ibis.ifelse(events.event.isin(list(names)), ibis.literal(1 << j, "int64"), 0)
    return mask


def _first_step(events, steps) -> Any:
    """Per row: the bit of the first step that accepts the row's event (0 for no step)."""
    cases = [(events.event.isin(list(names)), ibis.literal(1 << j, "int64")) for j, names in enumerate(steps)]
    return ibis.cases(*cases, else_=ibis.literal(0, "int64"))


def _has(bits, j: int):
    return (bits & (1 << j)) != 0


def _us(later, earlier):
    return later.delta(earlier, unit="microsecond")


def _sequential_chains(events, steps, strict: bool, window_us: int):
    """Per user, the chosen chain of the ordered and strict modes (module docstring).

    The chain is the ``t_0 .. t_{k-1}`` timestamps (NULL where not reached) and ``first``, the
    first step-1 time.
    """
    k = len(steps)
    rows = events.select("user_id", "ts", mask=_mask(events, steps))
    if not strict:
        rows = rows.filter(rows.mask > 0)
    # One row per user and timestamp: which steps occur there, and whether all its events match
    # the same steps (lo == hi), the case in which PostHog's strict mode clears the other steps.
    groups = rows.group_by(["user_id", "ts"]).aggregate(
        bits=rows.mask.bit_or(), lo=rows.mask.min(), hi=rows.mask.max()
    )
    from_here = ibis.window(group_by=groups.user_id, order_by=groups.ts, rows=(0, None))
    after = ibis.window(group_by=groups.user_id, order_by=groups.ts, rows=(1, None))
    extra = {}
    for j in range(1, k):
        shares = bool(set(steps[j]) & set(steps[j - 1]))  # one event serves one step of a chain
        at = ibis.ifelse(_has(groups.bits, j), groups.ts, _NO_TS)
        extra[f"next_{j}"] = at.min().over(after if shares else from_here)
        if strict:
            breaks = (groups.lo == groups.hi) & ~_has(groups.hi, j - 1)
            extra[f"break_{j - 1}"] = ibis.ifelse(breaks, groups.ts, _NO_TS).min().over(after)
    groups = groups.mutate(**extra)
    starts = groups.filter(_has(groups.bits, 0))
    chains = starts.select("user_id", start=starts.ts, t_0=starts.ts)
    for j in range(1, k):
        look = {"u_": groups.user_id, "at_": groups.ts, "nxt_": groups[f"next_{j}"]}
        if strict:
            look["brk_"] = groups[f"break_{j - 1}"]
        look = groups.select(**look).view()  # a self-join of the timestamps table
        chains = chains.view()  # both sides derive from the timestamps table
        joined = chains.left_join(look, (chains.user_id == look.u_) & (chains[f"t_{j - 1}"] == look.at_))
        ok = joined.nxt_.notnull() & (_us(joined.nxt_, joined.start) <= window_us)
        if strict:
            ok = ok & (joined.brk_.isnull() | (joined.brk_ >= joined.nxt_))
        kept = [c for c in chains.columns]
        chains = joined.select(*kept, **{f"t_{j}": ibis.ifelse(ok, joined.nxt_, _NO_TS)})
    depth = sum((chains[f"t_{j}"].notnull().cast("int64") for j in range(1, k)), ibis.literal(1, "int64"))
    last = ibis.coalesce(*(chains[f"t_{j}"] for j in reversed(range(k))))
    chains = chains.mutate(depth_=depth, last_=last)
    # The chain that first reaches the furthest step; of those reaching it at that event, the
    # latest start (PostHog keeps the latest chain at each step).
    best = ibis.window(
        group_by=chains.user_id, order_by=[chains.depth_.desc(), chains.last_.asc(), chains.start.desc()]
    )
    chains = chains.mutate(
        rank_=ibis.row_number().over(best), first=chains.start.min().over(group_by=chains.user_id)
    )
    return chains.filter(chains.rank_ == 0).select("user_id", "first", *(f"t_{j}" for j in range(k)))


def _unordered_chains(events, steps, window_us: int):
    """Per user, the chosen unordered chain and the first step event ``first``.

    ``f_j`` is the earliest step-``j`` event of the window where the number of different steps
    first reached its maximum (NULL for a step not in it).
    """
    k = len(steps)
    rows = events.select("user_id", "ts", bit=_first_step(events, steps))
    rows = rows.filter(rows.bit > 0)
    groups = rows.group_by(["user_id", "ts"]).aggregate(bits=rows.bit.bit_or())
    upto = ibis.window(group_by=groups.user_id, order_by=groups.ts, rows=(None, 0))
    latest = {
        f"last_{j}": ibis.ifelse(_has(groups.bits, j), groups.ts, _NO_TS).max().over(upto) for j in range(k)
    }
    groups = groups.mutate(**latest)
    count = sum(
        (
            ibis.ifelse(
                groups[f"last_{j}"].notnull() & (_us(groups.ts, groups[f"last_{j}"]) <= window_us), 1, 0
            )
            for j in range(k)
        ),
        ibis.literal(0, "int64"),
    )
    groups = groups.mutate(n_=count)
    per_user = groups.group_by("user_id").aggregate(most=groups.n_.max(), first=groups.ts.min())
    hit = groups.view().inner_join(per_user, "user_id")
    hit = hit.filter(hit.n_ == hit.most)
    peak = hit.group_by("user_id").aggregate(peak=hit.ts.min(), first=hit.first.min())
    inside = groups.select("user_id", "ts", "bits").view().inner_join(peak, "user_id")
    inside = inside.filter((inside.ts <= inside.peak) & (_us(inside.peak, inside.ts) <= window_us))
    return inside.group_by("user_id").aggregate(
        first=inside.first.min(),
        **{f"f_{j}": ibis.ifelse(_has(inside.bits, j), inside.ts, _NO_TS).min() for j in range(k)},
    )


def posthog_step_offsets(events, steps, mode: str, window_us: int, observation_end) -> pd.DataFrame:
    """Per user with a step-1 event (any step event for ``any_order``), PostHog's chain.

    Parameters
    ----------
    events : ibis table
        The used events (``user_id``, ``event``, ``ts``, ``t0``), e.g. ``facts.events``.
    steps : tuple of tuple of str
        The normalised steps.
    mode : {"ordered", "strict", "any_order"}
    window_us : int
        The conversion window in microseconds, inclusive.
    observation_end : datetime
        ``T``: a user is eligible when ``T - first start >= window``.

    Returns
    -------
    pandas.DataFrame
        ``user_id``, ``eligible`` (bool) and ``us_step_<j>_days`` for each step: microseconds
        from the user's ``t0`` to the chain's step ``j`` (NULL/NaN where not reached; for
        ``any_order`` the ``j``-th step completed, in time order).
    """
    k = len(steps)
    if mode == "any_order":
        chains = _unordered_chains(events, steps, window_us)
        cols = [f"f_{j}" for j in range(k)]
    else:
        chains = _sequential_chains(events, steps, mode == "strict", window_us)
        cols = [f"t_{j}" for j in range(k)]
    t0 = events.group_by("user_id").aggregate(t0_=events.t0.min())
    joined = chains.inner_join(t0, "user_id")
    end = ibis.literal(observation_end, type="timestamp")
    out = joined.select(
        "user_id",
        eligible=_us(end, joined.first) >= window_us,
        **{f"o_{j}": _us(joined[c], joined.t0_) for j, c in enumerate(cols)},
    ).to_pandas()
    values = out[[f"o_{j}" for j in range(k)]].to_numpy(dtype="float64")
    if mode == "any_order":  # the j-th completed step in time order (NaN sorts last)
        values = np.sort(values, axis=1)
    frame = pd.DataFrame({C.USER_ID: out["user_id"].astype(str), "eligible": out["eligible"].astype(bool)})
    for j in range(k):
        frame[_offset(step_column(j))] = values[:, j]
    return frame


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else math.nan


def posthog_steps_table(
    offsets: np.ndarray, eligible: np.ndarray, labels, alpha: float
) -> list[dict[str, Any]]:
    """The rows of :attr:`FunnelResult.steps` under PostHog's rules.

    Parameters
    ----------
    offsets : numpy.ndarray
        ``(users, steps)`` microseconds from ``t0`` to each step of the user's chain (NaN where
        not reached); users without a chain are all NaN.
    eligible : numpy.ndarray of bool
        In the population (a chain) and their window over at the observation end.
    labels : sequence of str
        The step labels.
    alpha : float
        For the ``1 - alpha`` Wilson intervals.

    Returns
    -------
    list of dict
        One row per step: users reaching it among the eligible (every eligible user reaches step
        1), ``from_start`` over the eligible (PostHog's conversion from the first step),
        ``from_previous``, ``drop_off``, and the time to convert from the previous step over the
        users reaching it, 0 s gaps left out: ``mean_seconds_from_previous``,
        ``median_seconds_from_previous`` and the hour quantiles of the same gaps (NaN for step 1
        and without such gaps).
    """
    n = int(eligible.sum())
    rows = []
    prev_users = n
    for j, label in enumerate(labels):
        reached = eligible & ~np.isnan(offsets[:, j])
        users = int(reached.sum())
        if j == 0:
            gaps = np.array([])
        else:
            gaps = (offsets[reached, j] - offsets[reached, j - 1]) / 1e6
            gaps = gaps[gaps > 0]
        hours = gaps / 3600.0
        quantiles = {q: float(np.quantile(hours, p)) if hours.size else math.nan for q, p in _HOURS.items()}
        start_lo, start_hi = wilson_interval(users, n, alpha=alpha)
        prev_lo, prev_hi = wilson_interval(users, prev_users, alpha=alpha)
        rows.append(
            {
                "step_index": j,
                "step": label,
                "users": users,
                "from_start": users / n if n else math.nan,
                "from_start_ci_low": start_lo,
                "from_start_ci_high": start_hi,
                "from_previous": users / prev_users if prev_users else math.nan,
                "from_previous_ci_low": prev_lo,
                "from_previous_ci_high": prev_hi,
                "drop_off": prev_users - users,
                "median_hours_from_previous": quantiles["median"],
                "p25_hours": quantiles["p25"],
                "p75_hours": quantiles["p75"],
                "p90_hours": quantiles["p90"],
                "mean_seconds_from_previous": _mean(gaps),
                "median_seconds_from_previous": _median(gaps),
            }
        )
        prev_users = users
    return rows


_HOURS = {"p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9}


#: Step labels of a PostHog unordered funnel: its step ``j`` counts users who completed ``j + 1``
#: of the steps, in any order.
def _unordered_label(j: int) -> str:
    return f"completed {j + 1} step" + ("" if j == 0 else "s")


def posthog_funnel(facts: Facts, steps: Steps, mode: str, window: float, alpha: float) -> FunnelResult:
    """The funnel of :func:`~onboarding_analysis.analyses.funnel.compute_funnel` under PostHog's rules.

    ``funnel_semantics: posthog``: the :class:`~onboarding_analysis.analyses.funnel_steps.FunnelResult`
    of the rules above (its ``incidence`` is empty: it is defined from signup; ``notes`` say so
    and name what is left out).

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`.
    steps : tuple of tuple of str
        The normalised steps.
    mode : {"ordered", "strict", "any_order"}
    window : float
        The conversion window in days (rounded to the microsecond).
    alpha : float
        For the ``1 - alpha`` Wilson intervals.

    Returns
    -------
    FunnelResult
        Conversion among the eligible users with a step-1 event, ``times`` per user in days
        since signup, an empty ``incidence`` and the ``notes``.

    Raises
    ------
    DataError
        ``facts`` carries no events table.
    """
    if facts.events is None:
        raise DataError("facts has no events table; build it with onboarding_analysis.compute_facts(params)")
    window_us = round(window * MICROS_PER_DAY)
    per_user = posthog_step_offsets(facts.events, steps, mode, window_us, facts.observation_end)
    users = facts.table[C.USER_ID].astype(str).to_numpy()
    found = pd.Index(per_user[C.USER_ID]).get_indexer(users)  # -1: no chain (the appended NaN)
    cols = [step_column(j) for j in range(len(steps))]
    offsets = np.column_stack(
        [np.append(per_user[f"us_{col}"].to_numpy(dtype="float64"), np.nan)[found] for col in cols]
    )
    eligible = np.append(per_user[ELIGIBLE].to_numpy(dtype=bool), False)[found]
    if mode == "any_order":
        labels = tuple(_unordered_label(j) for j in range(len(steps)))
    else:
        labels = tuple(step_label(step) for step in steps)
    times = pd.DataFrame(
        {C.USER_ID: users, **{col: offsets[:, j] / MICROS_PER_DAY for j, col in enumerate(cols)}}
    )
    notes = (
        "PostHog funnel rules: the window runs from each attempt's step-1 event (its end inclusive), "
        "every user with a step-1 event is counted, and the time to convert leaves out 0-second "
        "conversions.",
        "Users whose window, counted from their first step-1 event, is not over at the end of "
        "observation are left out of the rates (PostHog counts them as not converted).",
        "The censoring-aware incidence per step is measured from signup: it is shown with "
        "funnel_semantics: onboarding only.",
    )
    if mode == "any_order":
        names = ", ".join(step_label(s) for s in steps)
        notes += (
            f"Any order: step N counts the users who completed N of the steps ({names}) within one window.",
        )
    return FunnelResult(
        steps=pd.DataFrame(posthog_steps_table(offsets, eligible, labels, alpha), columns=STEP_COLUMNS),
        incidence=pd.DataFrame(columns=INCIDENCE_COLUMNS),
        times=times.assign(**{ELIGIBLE: eligible}),
        eligible=int(eligible.sum()),
        users=len(facts.table),
        mode=mode,
        window_days=window,
        alpha=alpha,
        labels=labels,
        semantics="posthog",
        notes=notes,
    )
