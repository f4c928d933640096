"""Active users over calendar time: DAU/MAU per date and PostHog's lifecycle per period.

Both count active users (params ``active_events``) of ``facts.events`` (the used events,
``t0 <= ts <= T``) in the query engine; only per-date or per-period counts reach pandas.
Definitions (docs/metrics.md, "Stickiness and DAU/MAU" and "Weekly lifecycle"):

- **DAU/MAU** (:func:`dau_mau`): per UTC calendar date, DAU = distinct users with an active
  event that date; MAU = distinct users with an active event in the 30 dates ending that date.
- **Lifecycle** (:func:`lifecycle`): PostHog's, see the function's docstring.

The figures are drawn by :mod:`~onboarding_analysis.analyses.engagement_plots`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd

from .facts_inputs import facts_events, whole_number

__all__ = ["DAU_MAU_COLUMNS", "LIFECYCLE_COLUMNS", "LIFECYCLE_STATES", "dau_mau", "lifecycle"]

#: Columns of :func:`dau_mau`.
DAU_MAU_COLUMNS = ["date", "dau", "mau", "ratio", "partial"]
#: Lifecycle states, in PostHog's order; ``dormant`` is reported as a negative count.
LIFECYCLE_STATES = ("new", "returning", "resurrecting", "dormant")
#: Columns of :func:`lifecycle`.
LIFECYCLE_COLUMNS = ["period", *LIFECYCLE_STATES, "active", "partial"]

_PERIODS = {
    "day": ("D", ibis.interval(days=1), pd.DateOffset(days=1)),
    "week": ("W", ibis.interval(weeks=1), pd.DateOffset(weeks=1)),
    "month": ("M", ibis.interval(months=1), pd.DateOffset(months=1)),
}
_ONE_MICROSECOND = dt.timedelta(microseconds=1)


def _data_span(facts: Any, events) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First used event and the observation end ``T`` (None when there is no event)."""
    first = events.ts.min().execute()
    if first is None or pd.isna(first):
        return None
    return pd.Timestamp(first), pd.Timestamp(facts.observation_end)


# --- DAU / MAU ---------------------------------------------------------------------------------


def dau_mau(facts: Any, *, window: int = 30) -> pd.DataFrame:
    """Daily active users over monthly active users, per UTC calendar date.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.compute_facts`.
    window : int, default 30
        Dates in the rolling "month": MAU on date d counts users active on ``d - window + 1 .. d``.

    Returns
    -------
    pandas.DataFrame
        One row per date from the date of the first used event to the last date before ``T``:
        ``date, dau, mau, ratio, partial``. ``ratio = dau / mau`` (NaN when ``mau == 0``).
        ``partial`` is True where the figure is not comparable: the rolling window reaches
        before the first *complete* date of data (the first event's date if it is at midnight,
        else the next date), or the date is the last one and ``T`` falls inside it. Early MAUs
        are low only because the data starts there; do not read them as a trend.

    Notes
    -----
    Active users (params ``active_events``) only. Both counts are distinct users, computed in
    the engine: DAU by grouping distinct (user, date) pairs by date; MAU by joining those pairs
    with the date spine on ``d - window < activity date <= d`` and counting distinct users per
    date (a distinct count over a window cannot be summed from DAUs). The last date is the
    date of ``T - 1 microsecond``: when ``T`` is a midnight (an ``observation_end`` date), the
    date starting at ``T`` is not shown.

    Examples
    --------
    >>> import onboarding_analysis as oa                                      # doctest: +SKIP
    >>> dau_mau(oa.compute_facts(oa.load_params("params/demo.yaml"))).tail()  # doctest: +SKIP
    """
    n = whole_number(window, "window", minimum=1)
    e = facts_events(facts, "dau_mau")
    span = _data_span(facts, e)
    if span is None:
        return _empty_dau_mau()
    first, end = span
    start_date = first.normalize()
    last_date = (end - _ONE_MICROSECOND).normalize()
    if last_date < start_date:
        return _empty_dau_mau()
    dates = pd.date_range(start_date, last_date, freq="D")

    active = e.filter(e.active)
    user_days = active.select("user_id", active_date=active.ts.date()).distinct()
    # A user is in the MAU of date d when one of their active dates a has d - n < a <= d: d is
    # in [a, a + n). Per user, the active date a adds the dates of [a, a + n) not already
    # covered by the previous active date p, [max(a, p + n), a + n): disjoint ranges whose
    # union is the user's coverage. So MAU(d) = (ranges started by d) - (ranges ended by d).
    # One engine pass counts the (user, date) pairs per (date, range start); no join with the
    # date spine, nothing per user leaves the engine.
    w = ibis.window(group_by="user_id", order_by="active_date")
    prev = user_days.active_date.lag().over(w)
    start = ibis.ifelse(
        prev.isnull(),
        user_days.active_date,
        ibis.greatest(user_days.active_date, prev + ibis.interval(days=n)),
    )
    ranges = user_days.mutate(start=start.cast("date"))
    counts = ranges.group_by("active_date", "start").aggregate(users=ranges.count()).to_pandas()
    active_date = pd.to_datetime(counts["active_date"])
    users = counts["users"].to_numpy(dtype=np.int64)
    dau_s = pd.Series(users, index=active_date).groupby(level=0).sum()
    plus = pd.Series(users, index=pd.to_datetime(counts["start"])).groupby(level=0).sum()
    minus = pd.Series(users, index=active_date + pd.Timedelta(days=n)).groupby(level=0).sum()
    # Every range starts on or after the first date; the ones ending after the last date are cut.
    index = dates.union(plus.index).union(minus.index)
    mau_s = (plus.reindex(index, fill_value=0) - minus.reindex(index, fill_value=0)).cumsum()

    out = pd.DataFrame({"date": dates})
    out["dau"] = dau_s.reindex(dates, fill_value=0).astype(np.int64).to_numpy()
    out["mau"] = mau_s.reindex(dates).astype(np.int64).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = np.where(out["mau"] > 0, out["dau"] / out["mau"].where(out["mau"] > 0, 1), np.nan)
    first_complete = start_date if first == start_date else start_date + pd.Timedelta(days=1)
    window_start = out["date"] - pd.Timedelta(days=n - 1)
    last_incomplete = (out["date"] == last_date) & (end < last_date + pd.Timedelta(days=1))
    out["partial"] = (window_start < first_complete) | last_incomplete
    return out[DAU_MAU_COLUMNS]


def _empty_dau_mau() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "dau": pd.Series(dtype=np.int64),
            "mau": pd.Series(dtype=np.int64),
            "ratio": pd.Series(dtype=float),
            "partial": pd.Series(dtype=bool),
        }
    )


# --- lifecycle ---------------------------------------------------------------------------------


def lifecycle(facts: Any, *, period: Literal["day", "week", "month"] = "week") -> pd.DataFrame:
    """PostHog's lifecycle: new, returning, resurrecting and dormant users per calendar period.

    Periods are UTC calendar periods of the event timestamps: ISO weeks starting on Monday
    (``period="week"``), dates, or calendar months. A user is *active* in a period with at
    least one active event (params ``active_events``) in it. For each period P, following
    PostHog's lifecycle query (``LifecycleQueryRunner``, where a person's ``created_at`` plays
    the role of our signup ``t0``):

    - **new**: P is the user's first active period *and* the user signed up (``t0``) in P;
    - **returning**: active in P and in the period just before P;
    - **resurrecting**: active in P, not in the period before, and P is not the user's new
      period. That includes a user's *first* active period when it is later than the signup
      period (PostHog counts the signup as the earlier presence): a user who signs up in week 1
      and is first active in week 2 is resurrecting in week 2, never new;
    - **dormant**: active in the period before P, not in P. Reported as a negative number.
      A user counts as dormant once per gap, in the period after the last active one.

    Users who never had an active event appear in no state (signing up is not activity).

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.compute_facts`.
    period : {"day", "week", "month"}, default "week"

    Returns
    -------
    pandas.DataFrame
        One row per period from the period of the first used event to the period holding
        ``T - 1 microsecond`` (periods without any user included, as zeros):
        ``period`` (start, UTC naive), ``new, returning, resurrecting`` (>= 0), ``dormant``
        (<= 0), ``active`` (= new + returning + resurrecting) and ``partial``: True for a period
        the data does not cover completely (it starts before the first event or ends after
        ``T``); its counts are not comparable with the others.

    Notes
    -----
    The engine computes distinct (user, period) pairs of active events, the previous and next
    active period per user (``lag``/``lead`` windows) and the state counts per period; only
    the per-period counts reach pandas.

    Examples
    --------
    >>> import onboarding_analysis as oa                                      # doctest: +SKIP
    >>> lifecycle(oa.compute_facts(oa.load_params("params/demo.yaml")))       # doctest: +SKIP
    """
    if period not in _PERIODS:
        raise ValueError(f"period must be one of {list(_PERIODS)}, but was {period!r}")
    unit, step, offset = _PERIODS[period]
    e = facts_events(facts, "lifecycle")
    span = _data_span(facts, e)
    if span is None:
        return pd.DataFrame({col: pd.Series(dtype=_LIFECYCLE_DTYPES[col]) for col in LIFECYCLE_COLUMNS})
    first, end = span
    first_period = _truncate(first, period)
    last_period = _truncate(end - _ONE_MICROSECOND, period)
    periods = pd.date_range(first_period, last_period, freq=_FREQ[period])

    active = e.filter(e.active)
    pairs = active.select("user_id", p=active.ts.truncate(unit), signup_p=active.t0.truncate(unit)).distinct()
    w = ibis.window(group_by="user_id", order_by="p")
    pairs = pairs.mutate(prev_p=pairs.p.lag().over(w), next_p=pairs.p.lead().over(w))
    state = ibis.cases(
        (pairs.prev_p.isnull() & (pairs.p == pairs.signup_p), "new"),
        (pairs.prev_p == pairs.p - step, "returning"),
        else_="resurrecting",
    )
    states = pairs.group_by(period_start=pairs.p, state=state).aggregate(users=pairs.count())
    gone = pairs.filter(pairs.next_p.isnull() | (pairs.next_p != pairs.p + step))
    dormant = gone.group_by(period_start=gone.p + step).aggregate(users=gone.count())
    dormant = dormant.select("period_start", state=ibis.literal("dormant"), users=dormant.users)
    counts = states.select("period_start", "state", "users").union(dormant).to_pandas()

    counts["period_start"] = pd.to_datetime(counts["period_start"])
    wide = counts.pivot_table(index="period_start", columns="state", values="users", aggfunc="sum")
    wide = wide.reindex(index=periods, columns=list(LIFECYCLE_STATES)).fillna(0).astype(np.int64)
    out = pd.DataFrame({"period": periods})
    for state_name in LIFECYCLE_STATES:
        out[state_name] = wide[state_name].to_numpy()
    out["dormant"] = -out["dormant"]
    out["active"] = out["new"] + out["returning"] + out["resurrecting"]
    out["partial"] = (out["period"] < first) | (out["period"] + offset > end)
    return out[LIFECYCLE_COLUMNS]


_FREQ = {"day": "D", "week": "W-MON", "month": "MS"}
_LIFECYCLE_DTYPES = {
    "period": "datetime64[ns]",
    **{s: np.int64 for s in LIFECYCLE_STATES},
    "active": np.int64,
    "partial": bool,
}


def _truncate(ts: pd.Timestamp, period: str) -> pd.Timestamp:
    day = ts.normalize()
    if period == "week":
        return day - pd.Timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day
