"""Onboarding engagement: prompts, feature adoption, stickiness, DAU/MAU and lifecycle.

METRICS.md, "Onboarding engagement". Every function takes a :class:`~onboarding_analysis.data.facts.Facts`
object. Aggregation over events runs in the query engine as ibis expressions over
``facts.events`` (the used events, ``t0 <= ts <= T``); only small results reach pandas: one row
per user, per day or per period.

Definitions (the exact rules; tests/test_engagement.py checks each on hand-made logs):

- **Prompt rate** (:func:`prompt_rates`): ``shown`` = users with at least one ``shown`` event;
  ``engaged`` = users with an ``engaged`` event *at or after* their first ``shown`` event. A tie
  (same timestamp) counts as engaged: exports often stamp both events with the same second. An
  ``engaged`` event with no ``shown`` event before it (or at all) is ignored.
- **Feature adoption** (:func:`feature_adoption`): among users eligible at day N
  (``age_days >= N``: all of ``[0, N)`` observed), the share with the feature event at a
  duration ``< N`` days (day indices ``0 .. N-1``). An event at exactly ``N x 24h`` is outside.
- **Stickiness** (:func:`stickiness`): per user, the number of active day indices ``0 .. D-1``
  (D = 30) read from ``active_days_mask``; users with ``age_days >= D`` only.
- **DAU/MAU** (:func:`dau_mau`): per UTC calendar date, DAU = distinct users with an active
  event that date; MAU = distinct users with an active event in the 30 dates ending that date.
- **Lifecycle** (:func:`lifecycle`): PostHog's, see the function's docstring.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import ibis
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from ..absence import add_note
from ..data import columns as C
from ..display.figures import axes_or_new
from ..errors import DataError
from ..params import check_value
from ..stats.intervals import check_alpha, wilson_interval

__all__ = [
    "ADOPTION_COLUMNS",
    "DAU_MAU_COLUMNS",
    "LIFECYCLE_COLUMNS",
    "LIFECYCLE_STATES",
    "PROMPT_COLUMNS",
    "dau_mau",
    "engagement_metrics",
    "feature_adoption",
    "lifecycle",
    "plot_dau_mau",
    "plot_feature_adoption",
    "plot_lifecycle",
    "plot_stickiness",
    "prompt_rates",
    "stickiness",
    "stickiness_summary",
]

#: Columns of :func:`prompt_rates`.
PROMPT_COLUMNS = ["prompt", "shown", "engaged", "rate", "ci_low", "ci_high"]
#: Columns of :func:`feature_adoption`.
ADOPTION_COLUMNS = ["feature", "days", "eligible", "adopted", "rate", "ci_low", "ci_high"]
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


# --- validation helpers ------------------------------------------------------------------------


def _events(facts: Any, what: str):
    events = getattr(facts, "events", None)
    if events is None:
        raise DataError(
            f"{what} needs the event table of the facts (facts.events), which is missing; "
            "build the facts with onboarding_analysis.compute_facts(params)"
        )
    return events


def _table(facts: Any, needed: Iterable[str], what: str) -> pd.DataFrame:
    table = facts if isinstance(facts, pd.DataFrame) else getattr(facts, "table", None)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{what} needs a Facts object (or its .table), but got {type(facts)!r}")
    missing = [col for col in needed if col not in table.columns]
    if missing:
        raise DataError(
            f"{what} needs the user-facts column(s) {missing}, which are missing; "
            "build the table with onboarding_analysis.compute_facts(params)"
        )
    return table


def _whole(value: object, name: str, *, minimum: int, maximum: int | None = None) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= minimum
    if not ok or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise ValueError(f"{name} must be a whole number >= {minimum}{upper}, but was {value!r}")
    return int(value)


def _names(values: object, name: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Iterable) or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"{name} must be a list of event names, but was {values!r}")
    return list(dict.fromkeys(values))


def _rates(successes: np.ndarray, n: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    successes = np.asarray(successes, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    low, high = wilson_interval(successes, n, alpha=alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, successes / np.where(n > 0, n, 1), np.nan)
    return {"rate": rate.astype(float), "ci_low": np.asarray(low), "ci_high": np.asarray(high)}


def _data_span(facts: Any, events) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First used event and the observation end ``T`` (None when there is no event)."""
    first = events.ts.min().execute()
    if first is None or pd.isna(first):
        return None
    return pd.Timestamp(first), pd.Timestamp(facts.observation_end)


# --- prompts -----------------------------------------------------------------------------------


def prompt_rates(
    facts: Any, prompts: Mapping[str, Mapping[str, str]] | None = None, *, alpha: float = 0.05
) -> pd.DataFrame:
    """Prompt or tour interaction: users engaged after being shown, over users shown.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.compute_facts`.
    prompts : mapping, optional
        ``{name: {"shown": event, "engaged": event}}``; params ``prompts`` by default.
    alpha : float, default 0.05
        One minus the confidence level of the Wilson interval.

    Returns
    -------
    pandas.DataFrame
        One row per prompt: ``prompt, shown, engaged, rate, ci_low, ci_high``. ``rate`` and the
        interval are NaN for a prompt nobody was shown.

    Notes
    -----
    ``shown``: users with at least one ``shown`` event. ``engaged``: users with an ``engaged``
    event at or after their *first* ``shown`` event; an ``engaged`` event at the same timestamp
    as the first ``shown`` counts (ties count as engaged). ``engaged`` events of users never
    shown the prompt, or only before it was first shown, are ignored. One engine query for all
    prompts: per user the first ``shown`` and the last ``engaged`` time, then two counts.

    Examples
    --------
    >>> import onboarding_analysis as oa                                      # doctest: +SKIP
    >>> prompt_rates(oa.compute_facts(oa.load_params("params/demo.yaml")))    # doctest: +SKIP
    """
    alpha = check_alpha(alpha)
    prompts = check_value("prompts", facts.params.prompts if prompts is None else prompts)
    if not prompts:
        return pd.DataFrame(
            {col: pd.Series(dtype=object if col == "prompt" else float) for col in PROMPT_COLUMNS}
        )
    e = _events(facts, "prompt_rates")
    per_user_agg = {}
    for i, pair in enumerate(prompts.values()):
        per_user_agg[f"first_shown_{i}"] = e.ts.min(where=e.event == pair["shown"])
        per_user_agg[f"last_engaged_{i}"] = e.ts.max(where=e.event == pair["engaged"])
    per_user = e.group_by("user_id").aggregate(**per_user_agg)
    counts_agg = {}
    for i in range(len(prompts)):
        shown_at, engaged_at = per_user[f"first_shown_{i}"], per_user[f"last_engaged_{i}"]
        counts_agg[f"shown_{i}"] = per_user.count(where=shown_at.notnull())
        # last engaged >= first shown  <=>  some engaged event at or after the first shown one
        counts_agg[f"engaged_{i}"] = per_user.count(where=shown_at.notnull() & (engaged_at >= shown_at))
    counts = per_user.aggregate(**counts_agg).to_pandas().iloc[0]
    shown = np.array([int(counts[f"shown_{i}"]) for i in range(len(prompts))], dtype=np.int64)
    engaged = np.array([int(counts[f"engaged_{i}"]) for i in range(len(prompts))], dtype=np.int64)
    return pd.DataFrame(
        {"prompt": list(prompts), "shown": shown, "engaged": engaged, **_rates(engaged, shown, alpha)}
    )


# --- feature adoption --------------------------------------------------------------------------


def feature_adoption(
    facts: Any, features: Iterable[str] | None = None, *, days: int | None = None, alpha: float = 0.05
) -> pd.DataFrame:
    """Share of users eligible at day N who used each feature within ``[0, N)`` days.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.compute_facts`.
    features : list of str, optional
        Feature event names; params ``feature_events`` by default.
    days : int, optional
        N; params ``adoption_days`` (default 30) by default.
    alpha : float, default 0.05
        One minus the confidence level of the Wilson interval.

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``feature, days, eligible, adopted, rate, ci_low, ci_high``.

    Notes
    -----
    Eligible: ``age_days >= N`` (the whole window ``[0, N)`` is observed; younger users leave
    the denominator). Adopted: an eligible user with the feature event at a duration
    ``(ts - t0) / 24h < N``; an event at exactly ``N x 24h`` is day N, outside the window. The
    engine returns one row per user who used a feature early (a flag per feature); eligibility
    is read from the user-facts table.

    Examples
    --------
    >>> import onboarding_analysis as oa                                      # doctest: +SKIP
    >>> facts = oa.compute_facts(oa.load_params("params/demo.yaml"))          # doctest: +SKIP
    >>> feature_adoption(facts, ["used_dashboard"], days=14)                  # doctest: +SKIP
    """
    alpha = check_alpha(alpha)
    n_days = _whole(facts.params.adoption_days if days is None else days, "days", minimum=1)
    names = _names(facts.params.feature_events if features is None else features, "features")
    table = _table(facts, [C.USER_ID, C.AGE], "feature_adoption")
    if not names:
        return pd.DataFrame(
            {col: pd.Series(dtype=object if col == "feature" else float) for col in ADOPTION_COLUMNS}
        )
    e = _events(facts, "feature_adoption")
    early = e.filter((e.days < n_days) & e.event.isin(names))
    flags = {f"used_{i}": (early.event == name).any() for i, name in enumerate(names)}
    used = early.group_by("user_id").aggregate(**flags).to_pandas()
    used["user_id"] = used["user_id"].astype(str)

    eligible_ids = table.loc[table[C.AGE].to_numpy(dtype=float) >= n_days, C.USER_ID].astype(str)
    used = used[used["user_id"].isin(set(eligible_ids))]
    eligible = np.full(len(names), len(eligible_ids), dtype=np.int64)
    adopted = np.array([int(used[f"used_{i}"].fillna(False).astype(bool).sum()) for i in range(len(names))])
    return pd.DataFrame(
        {
            "feature": names,
            "days": n_days,
            "eligible": eligible,
            "adopted": adopted.astype(np.int64),
            **_rates(adopted, eligible, alpha),
        }
    )


# --- stickiness --------------------------------------------------------------------------------


def stickiness(facts: Any, *, days: int = 30) -> pd.DataFrame:
    """Active days within the first ``days`` days of each user old enough to have lived them.

    Parameters
    ----------
    facts : Facts or pandas.DataFrame
        The facts (or the user-facts table) with ``user_id``, ``age_days`` and
        ``active_days_mask``.
    days : int, default 30
        D: day indices ``0 .. D-1`` are counted; at most 63 (the bits of the mask).

    Returns
    -------
    pandas.DataFrame
        One row per user with ``age_days >= D``: ``user_id, active_days`` (0 .. D). The window
        length is kept in ``table.attrs["days"]``.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"user_id": ["a", "b"], "age_days": [30.0, 29.9],
    ...                       "active_days_mask": [0b1011 | (1 << 30), 0b1]})
    >>> stickiness(table).to_dict("records")     # bit 30 is day 30, outside days 0..29
    [{'user_id': 'a', 'active_days': 3}]
    """
    n_days = _whole(days, "days", minimum=1, maximum=C.MASK_BITS)
    table = _table(facts, [C.USER_ID, C.AGE, C.DAYS_MASK], "stickiness")
    eligible = table[C.AGE].to_numpy(dtype=float) >= n_days
    mask = table.loc[eligible, C.DAYS_MASK].to_numpy(dtype=np.int64) & np.int64((1 << n_days) - 1)
    active_days = np.zeros(len(mask), dtype=np.int64)
    for k in range(n_days):
        active_days += (mask >> k) & 1
    out = pd.DataFrame(
        {"user_id": table.loc[eligible, C.USER_ID].astype(str).to_numpy(), "active_days": active_days}
    )
    out.attrs["days"] = n_days
    return out


def stickiness_summary(table: pd.DataFrame, *, thresholds: Iterable[int] = (1, 2, 7, 14)) -> pd.DataFrame:
    """One-row summary of :func:`stickiness`: users, mean, median and shares above thresholds.

    Returns
    -------
    pandas.DataFrame
        Columns ``days, users, mean_active_days, median_active_days`` and ``share_ge_<k>`` (share
        of users with at least k active days) for every threshold. NaN where there is no user.

    Examples
    --------
    >>> import pandas as pd
    >>> summary = stickiness_summary(pd.DataFrame({"user_id": list("abcd"), "active_days": [0, 1, 2, 9]}))
    >>> summary[["users", "median_active_days", "share_ge_2", "share_ge_7"]].to_dict("records")
    [{'users': 4, 'median_active_days': 1.5, 'share_ge_2': 0.5, 'share_ge_7': 0.25}]
    """
    if not isinstance(table, pd.DataFrame) or "active_days" not in table.columns:
        raise ValueError("expected a table from stickiness() with an 'active_days' column")
    counts = table["active_days"].to_numpy(dtype=float)
    n = len(counts)
    row: dict[str, Any] = {
        "days": table.attrs.get("days", np.nan),
        "users": n,
        "mean_active_days": float(counts.mean()) if n else np.nan,
        "median_active_days": float(np.median(counts)) if n else np.nan,
    }
    for k in thresholds:
        k = _whole(k, "thresholds entry", minimum=1)
        row[f"share_ge_{k}"] = float((counts >= k).mean()) if n else np.nan
    summary = pd.DataFrame([row])
    if n == 0:
        days = table.attrs.get("days")
        span = f"the first {days} days" if days is not None else "the stickiness window"
        add_note(
            summary,
            f"not computable: no user has been observed for {span} since signup yet; users not "
            "observed long enough are left out, never counted as inactive",
        )
    return summary


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
    n = _whole(window, "window", minimum=1)
    e = _events(facts, "dau_mau")
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
    e = _events(facts, "lifecycle")
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


# --- headline numbers --------------------------------------------------------------------------


def _number(value: object) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _count(value: object) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def engagement_metrics(
    prompts_table: pd.DataFrame | None, adoption_table: pd.DataFrame | None
) -> dict[str, dict]:
    """The ``engagement`` section of metrics.json: plain numbers, ``None`` where missing.

    Returns
    -------
    dict
        ``{"prompts": {name: {"shown", "engaged", "rate"}},
        "adoption": {feature: {"rate", "ci_low", "ci_high", "eligible"}}}``.

    Examples
    --------
    >>> import pandas as pd
    >>> prompts = pd.DataFrame({"prompt": ["tour"], "shown": [0], "engaged": [0], "rate": [float("nan")],
    ...                         "ci_low": [float("nan")], "ci_high": [float("nan")]})
    >>> engagement_metrics(prompts, None)
    {'prompts': {'tour': {'shown': 0, 'engaged': 0, 'rate': None}}, 'adoption': {}}
    """
    out: dict[str, dict] = {"prompts": {}, "adoption": {}}
    if prompts_table is not None:
        for row in prompts_table.itertuples(index=False):
            out["prompts"][str(row.prompt)] = {
                "shown": _count(row.shown),
                "engaged": _count(row.engaged),
                "rate": _number(row.rate),
            }
    if adoption_table is not None:
        for row in adoption_table.itertuples(index=False):
            out["adoption"][str(row.feature)] = {
                "rate": _number(row.rate),
                "ci_low": _number(row.ci_low),
                "ci_high": _number(row.ci_high),
                "eligible": _count(row.eligible),
            }
    return out


# --- plots -------------------------------------------------------------------------------------


def _require(table: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a DataFrame from {source}, but got {type(table)!r}")
    missing = [col for col in columns if col not in table.columns]
    if missing:
        raise ValueError(f"expected a table from {source}, but columns {missing} are missing")


def plot_feature_adoption(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Horizontal bars of feature adoption (percent) with Wilson-interval error bars.

    Features nobody was eligible for are listed without a bar (their rate is unknown).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`feature_adoption`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> table = pd.DataFrame({"feature": ["dash"], "days": [30], "eligible": [4], "adopted": [2],
    ...                       "rate": [0.5], "ci_low": [0.15], "ci_high": [0.85]})
    >>> [round(bar.get_width()) for bar in plot_feature_adoption(table).patches]
    [50]
    """
    _require(table, ADOPTION_COLUMNS, "feature_adoption")
    ax = axes_or_new(ax)
    rate = table["rate"].to_numpy(dtype=float) * 100
    low = table["ci_low"].to_numpy(dtype=float) * 100
    high = table["ci_high"].to_numpy(dtype=float) * 100
    y = np.arange(len(table))
    labels = [f"{f} (n={int(n)})" for f, n in zip(table["feature"], table["eligible"], strict=True)]
    shown = ~np.isnan(rate)
    ax.barh(y[shown], rate[shown], color="C0")
    if shown.any():
        err = np.vstack([rate[shown] - low[shown], high[shown] - rate[shown]])
        ax.errorbar(
            rate[shown], y[shown], xerr=err, fmt="none", ecolor="0.2", capsize=3, label="Wilson interval"
        )
        ax.legend(loc="lower right")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    days = int(table["days"].iloc[0]) if len(table) else None
    ax.set_xlabel(
        f"% of eligible users who used it in their first {days} days" if days else "% of eligible users"
    )
    ax.set_title("Feature adoption")
    return ax


def plot_stickiness(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Histogram of active days per user in the first days after signup, in percent of users.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`stickiness`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> table = pd.DataFrame({"user_id": ["a", "b"], "active_days": [0, 2]})
    >>> table.attrs["days"] = 3
    >>> [float(bar.get_height()) for bar in plot_stickiness(table).patches]
    [50.0, 0.0, 50.0, 0.0]
    """
    _require(table, ["active_days"], "stickiness")
    ax = axes_or_new(ax)
    counts = table["active_days"].to_numpy(dtype=np.int64)
    days = int(table.attrs.get("days", counts.max() if len(counts) else 0))
    values = np.bincount(counts, minlength=days + 1)[: days + 1] if len(counts) else np.zeros(days + 1)
    share = values / max(len(counts), 1) * 100
    ax.bar(np.arange(days + 1), share, width=0.9, color="C0")
    ax.set_xlabel(f"active days in the first {days} days")
    ax.set_ylabel(f"% of users (n={len(counts)})")
    ax.set_title("Stickiness")
    return ax


def plot_dau_mau(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """DAU/MAU ratio over time; ``partial`` dates are drawn dashed grey on a shaded band.

    The shading marks dates whose window reaches before the data (or the last, incomplete
    date): their MAU is low only because the data starts there.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`dau_mau`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> table = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=3), "dau": [1, 1, 2],
    ...                       "mau": [1, 2, 2], "ratio": [1.0, 0.5, 1.0], "partial": [True, True, False]})
    >>> [line.get_label() for line in plot_dau_mau(table).get_lines()][:1]
    ['DAU/MAU']
    """
    _require(table, DAU_MAU_COLUMNS, "dau_mau")
    ax = axes_or_new(ax)
    dates = pd.to_datetime(table["date"]).to_numpy()
    ratio = table["ratio"].to_numpy(dtype=float) * 100
    partial = table["partial"].to_numpy(dtype=bool)
    full = np.where(partial, np.nan, ratio)
    # The dashed partial line reaches the neighbouring complete dates, so the two lines join.
    joins = partial | np.concatenate([[False], partial[:-1]]) | np.concatenate([partial[1:], [False]])
    part = np.where(joins, ratio, np.nan)
    ax.plot(dates, full, color="C0", label="DAU/MAU")
    if partial.any():
        ax.plot(
            dates, part, color="0.6", linestyle="--", label="partial (window before data start or after T)"
        )
        one_day = np.timedelta64(1, "D")
        for start, stop in _runs(partial):
            ax.axvspan(dates[start], dates[stop - 1] + one_day, color="0.9", zorder=0)
    ax.set_ylim(0, 100)
    ax.set_xlabel("date (UTC)")
    ax.set_ylabel("DAU / MAU (%)")
    ax.set_title("Stickiness over time (DAU/MAU)")
    ax.legend(loc="upper left")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return ax


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of consecutive True values."""
    runs, start = [], None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(flags)))
    return runs


def plot_lifecycle(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Stacked lifecycle bars per period: new, returning, resurrecting up, dormant down.

    Partial periods (see :func:`lifecycle`) are drawn hatched and faded.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`lifecycle`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> table = pd.DataFrame({"period": pd.to_datetime(["2024-01-01", "2024-01-08"]), "new": [2, 1],
    ...                       "returning": [0, 1], "resurrecting": [0, 0], "dormant": [0, -1],
    ...                       "active": [2, 2], "partial": [False, True]})
    >>> [float(bar.get_height()) for bar in plot_lifecycle(table).patches][-2:]  # dormant: below zero
    [0.0, -1.0]
    """
    _require(table, LIFECYCLE_COLUMNS, "lifecycle")
    ax = axes_or_new(ax)
    x = np.arange(len(table))
    partial = table["partial"].to_numpy(dtype=bool)
    alpha = np.where(partial, 0.4, 1.0)
    bottom = np.zeros(len(table))
    colors = {"new": "C0", "returning": "C2", "resurrecting": "C1", "dormant": "C3"}
    for state in LIFECYCLE_STATES:
        values = table[state].to_numpy(dtype=float)
        base = bottom if state != "dormant" else np.zeros(len(table))
        bars = ax.bar(x, values, bottom=base, color=colors[state], width=0.8)
        for bar, a, p in zip(bars, alpha, partial, strict=True):
            bar.set_alpha(a)
            if p:
                bar.set_hatch("//")
        if state != "dormant":
            bottom = bottom + values
    ax.axhline(0, color="0.2", linewidth=0.8)
    labels = [pd.Timestamp(p).strftime("%Y-%m-%d") for p in table["period"]]
    step = max(1, len(labels) // 12)
    ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right")
    ax.set_ylabel("users")
    ax.set_xlabel("period start (UTC); hatched = partial period")
    ax.set_title("User lifecycle")
    ax.legend(
        handles=[Patch(facecolor=colors[state], label=state) for state in LIFECYCLE_STATES], loc="upper left"
    )
    return ax
