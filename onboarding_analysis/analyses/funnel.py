"""Onboarding funnel: per-user step times, conversion, time between steps and incidence.

METRICS.md, "Onboarding funnel" and "Onboarding engagement". The steps are params
``onboarding_steps`` (an ordered list; a step may accept several event names), the window is
``conversion_window`` (``conversion_window_days`` in days) and the mode ``funnel_mode``.

These are the rules of ``funnel_semantics: onboarding`` (the default), described below. Under
``funnel_semantics: posthog``, :func:`compute_funnel` applies PostHog's rules instead
(:mod:`onboarding_analysis.analyses.funnel_posthog`; docs/funnels.md compares the two).

Step times are computed in the query engine over :attr:`Facts.events
<onboarding_analysis.data.facts.Facts.events>` (the used events, ``t0 <= ts <= T``), one ibis join
per step; only one row per user reaches pandas. A step counts only if it is reached *within
the window*: duration since ``t0`` strictly below ``window_days`` ("within N days" means a
duration ``< N``, METRICS.md "Time base"), so an event at exactly ``window_days`` is outside.

Modes
-----
``ordered`` (default)
    Step 0 is reached at the first step-0 event in the window. Step ``j > 0`` is reached at the
    first step-``j`` event whose timestamp is *at or after* the time step ``j-1`` was reached
    (tie rule: events with the same timestamp count as in order, so a step ``j-1`` and a step
    ``j`` event logged at the same instant reach both). Events before that time do not count,
    and a repeat of an earlier step changes nothing: only the first qualifying occurrence
    counts.
``strict``
    As ``ordered``, and then: let ``r`` be the time step ``j-1`` was reached (its *first*
    qualifying occurrence; a later repeat of step ``j-1`` does not restart it) and ``c`` the
    first step-``j`` event at or after ``r``. If any event whose name belongs to another
    funnel step (any step other than ``j-1`` and ``j``, earlier or later, by name) occurs
    strictly between them, ``r < ts < c``, the user stops at step ``j-1``: no later step is
    reached. Events at exactly ``r`` or ``c`` do not interrupt, nor do events that are not
    funnel events, nor repeats of steps ``j-1`` and ``j``.
``any_order``
    Each step's time is its first event in the window, in any order; a user has reached
    "step ``j``" when steps ``0..j`` all occurred, at the latest of those first times.

An event name accepted by two steps serves both: in ``ordered`` mode a single such event can
reach two consecutive steps at once, and in ``strict`` mode it is never an interruption of a
step that accepts it.

Conversion (:func:`compute_funnel`) counts *eligible* users only, ``age_days >= window_days``: younger
users have not had the whole window yet and leave every denominator. The censoring-aware
cumulative incidence per step uses *all* users instead (Aalen-Johansen, churn before the step
as the competing event, :mod:`onboarding_analysis.analyses.ttfv`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from ..absence import add_note
from ..data import columns as C
from ..data.facts import Facts
from ..display.figures import axes_or_new
from ..errors import DataError, ParamsError
from ..params import FUNNEL_MODES, FUNNEL_SEMANTICS, window_label
from ..stats.intervals import check_alpha, wilson_interval
from .funnel_posthog import posthog_funnel
from .funnel_steps import (
    ELIGIBLE,
    INCIDENCE_COLUMNS,
    STEP_COLUMNS,
    FunnelResult,
    Steps,
    check_steps,
    step_column,
    step_label,
)
from .incidence import aalen_johansen, cif_before

__all__ = [
    "FunnelResult",
    "checklist_completion",
    "format_duration",
    "compute_funnel",
    "funnel_metrics",
    "onboarding_time",
    "plot_funnel",
    "plot_step_times",
    "step_times",
    "time_to_convert",
]

#: Columns of :func:`onboarding_time`.
ONBOARDING_TIME_COLUMNS = ["last_step", "users", "median_hours", "p25_hours", "p75_hours", "p90_hours"]
#: Label of the all-users row of :func:`onboarding_time`.
ALL_STEPS = "any step (all users)"
#: Event codes of the Aalen-Johansen input: censored, step reached, churned before the step.
_CENSORED, _REACHED, _CHURNED = 0, 1, 2
_QUANTILES = {"p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9}
# --- validation --------------------------------------------------------------------------------


def _check_mode(mode: Any) -> str:
    if mode not in FUNNEL_MODES:
        raise ParamsError(f"funnel_mode must be one of {', '.join(FUNNEL_MODES)}, but was {mode!r}")
    return mode


def _check_semantics(semantics: Any) -> str:
    if semantics not in FUNNEL_SEMANTICS:
        raise ParamsError(
            f"funnel_semantics must be one of {', '.join(FUNNEL_SEMANTICS)}, but was {semantics!r}"
        )
    return semantics


def _check_window(window_days: Any) -> float:
    ok = isinstance(window_days, int | float | np.integer | np.floating) and not isinstance(window_days, bool)
    if not ok or not math.isfinite(window_days) or window_days <= 0:
        raise ParamsError(f"conversion_window_days must be a number of days > 0, but was {window_days!r}")
    return window_days


def _options(facts: Facts, steps: Any, mode: Any, window_days: Any) -> tuple[Steps, str, float]:
    if not isinstance(facts, Facts):
        raise TypeError(
            f"facts must be the Facts object of compute_facts(params) (it carries the events), "
            f"but was {type(facts)!r}"
        )
    params = facts.params
    steps = check_steps(params.onboarding_steps if steps is None else steps)
    mode = _check_mode(params.funnel_mode if mode is None else mode)
    window = _check_window(params.conversion_window_days if window_days is None else window_days)
    return steps, mode, window


# --- engine side: per-user step times ----------------------------------------------------------


def _first(rel):
    """Per user: first timestamp and duration (days since t0) of the rows of ``rel``."""
    return rel.group_by("user_id").aggregate(ts=rel.ts.min(), days=rel.days.min())


def _sequential_expr(base, steps: Steps, strict: bool) -> list:
    """Per step, the ibis table ``user_id, ts, days`` of the users reaching it (ordered/strict)."""
    all_names = set().union(*steps)
    reached = []
    for j, names in enumerate(steps):
        cand = base.filter(base.event.isin(list(names)))
        if j == 0:
            reached.append(_first(cand))
            continue
        prev = reached[-1]
        prev = prev.select("user_id", prev_ts=prev.ts)
        joined = cand.inner_join(prev, "user_id")
        joined = joined.filter(joined.ts >= joined.prev_ts)  # tie rule: same instant is in order
        step = joined.group_by("user_id").aggregate(
            ts=joined.ts.min(), days=joined.days.min(), prev_ts=joined.prev_ts.max()
        )
        others = sorted(all_names - set(names) - set(steps[j - 1]))
        if strict and others:
            other = base.filter(base.event.isin(others))
            other = other.select("user_id", other_ts=other.ts)
            window = step.select("user_id", "prev_ts", cand_ts=step.ts)
            hit = other.inner_join(window, "user_id")
            hit = hit.filter((hit.other_ts > hit.prev_ts) & (hit.other_ts < hit.cand_ts))
            step = step.anti_join(hit.select("user_id").distinct(), "user_id")
        reached.append(step.select("user_id", "ts", "days"))
    return reached


def _step_times_expr(events, steps: Steps, mode: str, window: float):
    """The ibis expression of :func:`step_times` for the users with at least one step event."""
    all_names = sorted(set().union(*steps))
    base = events.filter(events.event.isin(all_names) & (events.days < window))
    base = base.select("user_id", "event", "ts", "days")
    cols = [step_column(j) for j in range(len(steps))]
    if mode == "any_order":
        firsts = base.group_by("user_id").aggregate(
            **{
                f"first_{j}": base.days.min(where=base.event.isin(list(names)))
                for j, names in enumerate(steps)
            }
        )
        out = {}
        for j, col in enumerate(cols):
            parts = [firsts[f"first_{i}"] for i in range(j + 1)]
            missing = parts[0].isnull()
            for part in parts[1:]:
                missing = missing | part.isnull()
            # DuckDB's GREATEST skips NULLs: a step not yet done must make the whole prefix NULL.
            latest = parts[0] if j == 0 else ibis.greatest(*parts)
            out[col] = ibis.ifelse(missing, ibis.null("float64"), latest.cast("float64"))
        return firsts.select("user_id", **out)
    reached = _sequential_expr(base, steps, strict=mode == "strict")
    out = reached[0].select("user_id", **{cols[0]: reached[0].days})
    for j in range(1, len(steps)):
        step = reached[j].select(uid_=reached[j].user_id, **{cols[j]: reached[j].days})
        joined = out.left_join(step, out.user_id == step.uid_)
        out = joined.select("user_id", *cols[: j + 1])
    return out


def step_times(
    facts: Facts,
    steps: Sequence[str | Sequence[str]] | None = None,
    *,
    mode: str | None = None,
    window_days: float | None = None,
) -> pd.DataFrame:
    """Per user, when each onboarding step was reached (fractional days since signup).

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`; its ``events`` (an ibis
        table of the used events) is where the steps are found.
    steps : sequence, optional
        The steps in order, each an event name or a sequence of accepted event names. Default:
        params ``onboarding_steps``.
    mode : {"ordered", "strict", "any_order"}, optional
        Default: params ``funnel_mode``. The rules are in the module docstring.
    window_days : float, optional
        Only steps reached at a duration ``< window_days`` count. Default: params
        ``conversion_window_days``.

    Returns
    -------
    pandas.DataFrame
        One row per user of ``facts.table``, in its order: ``user_id`` and ``step_<j>_days``
        for ``j = 0 .. k-1``, NaN where step ``j`` was not reached within the window. Reached
        steps always form a prefix ``0..J`` and their times never decrease.

    Raises
    ------
    ParamsError
        No steps configured, an unknown mode, or a window that is not a positive number.
    DataError
        ``facts`` carries no events table.

    Examples
    --------
    >>> import onboarding_analysis as oa                                  # doctest: +SKIP
    >>> facts = oa.compute_facts(oa.load_params("params/demo.yaml"))      # doctest: +SKIP
    >>> step_times(facts, ["signed_up", "created_report"], mode="ordered", window_days=14)  # doctest: +SKIP
    """
    steps, mode, window = _options(facts, steps, mode, window_days)
    if facts.events is None:
        raise DataError("facts has no events table; build it with onboarding_analysis.compute_facts(params)")
    cols = [step_column(j) for j in range(len(steps))]
    per_user = _engine_step_times(facts.events, steps, mode, window)
    users = facts.table[C.USER_ID].astype(str).to_numpy()
    # A left join on the user id (one engine row per user): the position of each user's row,
    # -1 (the NaN appended last) for a user without one.
    found = pd.Index(per_user[C.USER_ID]).get_indexer(users)
    out = pd.DataFrame({C.USER_ID: users})
    for col in cols:
        out[col] = np.append(per_user[col].to_numpy(dtype="float64"), np.nan)[found]
    return out


#: Engine results of :func:`step_times` kept per events table (a report asks for the same step
#: times several times: funnel, where users stop, completion per segment, moments of truth).
_STEP_TIMES_MEMO: dict[tuple, tuple[Any, pd.DataFrame]] = {}
_STEP_TIMES_MEMO_SIZE = 8


def _engine_step_times(events, steps: Steps, mode: str, window: float) -> pd.DataFrame:
    """``user_id`` and the step columns of the users with a step event: one engine query per
    (events table, steps, mode, window), repeated calls read the kept result. The events table
    itself is kept with its result, so the key (its ``id``) cannot be reused by another one.

    When ``events`` are the shared used events of a report run
    (:func:`onboarding_analysis.report.notebook.share_events`), the result is also stored next to
    them (:func:`onboarding_analysis.data.cache.derived_path`): the first notebook of the run that
    needs the step times computes them, the others (funnel, segments, moments) read them.
    """
    key = (id(events), tuple(tuple(s) for s in steps), mode, float(window))
    hit = _STEP_TIMES_MEMO.get(key)
    if hit is not None and hit[0] is events:
        return hit[1].copy()
    per_user = _stored_step_times(events, steps, mode, window)
    if per_user is None:
        per_user = _step_times_expr(events, steps, mode, window).to_pandas()
    per_user[C.USER_ID] = per_user[C.USER_ID].astype(str)
    while len(_STEP_TIMES_MEMO) >= _STEP_TIMES_MEMO_SIZE:
        _STEP_TIMES_MEMO.pop(next(iter(_STEP_TIMES_MEMO)))
    _STEP_TIMES_MEMO[key] = (events, per_user)
    return per_user.copy()


def _stored_step_times(events, steps: Steps, mode: str, window: float) -> pd.DataFrame | None:
    """The step times of the shared used ``events``, from their stored file (written first if
    missing); None when ``events`` are not shared or the file cannot be written or read.
    """
    from ..data import cache

    parts = {"steps": [list(s) for s in steps], "mode": mode, "window": float(window)}
    path = cache.derived_path(events, "steps", parts, Path(__file__))
    if path is None:
        return None
    try:
        cache.write_once(path, lambda tmp: _step_times_expr(events, steps, mode, window).to_parquet(tmp))
        return pd.read_parquet(path)
    except OSError:
        return None


# --- pandas side: the funnel table ------------------------------------------------------------


def _quantiles(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return dict.fromkeys(_QUANTILES, math.nan)
    return {name: float(np.quantile(values, q)) for name, q in _QUANTILES.items()}


def _rate(k: int, n: int) -> float:
    return k / n if n > 0 else math.nan


def _facts_columns(facts: Facts) -> pd.DataFrame:
    table = facts.table
    missing = [col for col in (C.AGE, C.CHURNED, C.LIFETIME) if col not in table.columns]
    if missing:
        raise DataError(
            f"funnel needs the user-facts column(s) {missing}, which are missing; build the table "
            f"with onboarding_analysis.compute_facts(params)"
        )
    for col in (C.AGE, C.LIFETIME):
        values = pd.to_numeric(table[col], errors="coerce")
        if values.isna().any():
            rows = table.index[values.isna().to_numpy()][:5].tolist()
            raise DataError(
                f"column {col!r} has missing or non-numeric values (rows {rows}); rebuild the facts table"
            )
    return table


def _incidence(
    times: pd.DataFrame, table: pd.DataFrame, j: int, label: str, window: float, alpha: float
) -> dict[str, Any]:
    """Aalen-Johansen incidence of step ``j`` just before ``window``, over all users."""
    t = times[step_column(j)].to_numpy(dtype=float)
    churned = table[C.CHURNED].to_numpy(dtype=bool)
    life = table[C.LIFETIME].to_numpy(dtype=float)
    age = table[C.AGE].to_numpy(dtype=float)
    # As in ttfv.competing_risks_data: a step after an observed churn counts as churned first.
    reached = ~np.isnan(t) & (~churned | (t <= life))
    competing = ~reached & churned & (life < window)
    durations = np.where(reached, t, np.where(competing, life, np.minimum(age, window)))
    events = np.where(reached, _REACHED, np.where(competing, _CHURNED, _CENSORED))
    row = {
        "step_index": j,
        "step": label,
        "users": len(t),
        "reached": int(reached.sum()),
        "churned_first": int(competing.sum()),
        "censored": int((events == _CENSORED).sum()),
    }
    if len(t) == 0:
        return row | {"cif": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    # Collapse to unique (duration, event) rows with frequency weights (DESIGN.md, "Statistics").
    grouped = (
        pd.DataFrame({"duration": durations, "event": events})
        .groupby(["duration", "event"], sort=True)
        .size()
        .reset_index(name="weight")
    )
    curve = aalen_johansen(
        grouped["duration"].to_numpy(),
        grouped["event"].to_numpy(),
        cause=_REACHED,
        weights=grouped["weight"].to_numpy(dtype=float),
        alpha=alpha,
    )
    cif, lo, hi = cif_before(curve, window)
    return row | {"cif": float(cif), "ci_low": float(lo), "ci_high": float(hi)}


def compute_funnel(
    facts: Facts,
    steps: Sequence[str | Sequence[str]] | None = None,
    *,
    mode: str | None = None,
    window_days: float | None = None,
    alpha: float = 0.05,
    semantics: str | None = None,
) -> FunnelResult:
    """The onboarding funnel: conversion per step, time between steps, cumulative incidence.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`.
    steps, mode, window_days
        As in :func:`step_times`; defaults from ``facts.params``.
    alpha : float, default 0.05
        For the ``1 - alpha`` Wilson and Aalen-Johansen intervals.
    semantics : {"onboarding", "posthog"}, optional
        Default: params ``funnel_semantics``. ``posthog`` applies PostHog's rules
        (:mod:`onboarding_analysis.analyses.funnel_posthog`): the population is every user with a step-1
        event, eligible once the window of their first step-1 event is over; ``times`` then
        holds each user's chain in days since signup, and ``incidence`` is empty (it is defined
        from signup; ``notes`` says so).

    Returns
    -------
    FunnelResult
        Conversion among *eligible* users (``age_days >= window_days``) in ``steps``; the
        censoring-aware incidence among *all* users in ``incidence``; per-user ``times``.

    Raises
    ------
    ParamsError
        No steps, an unknown mode or semantics, a window that is not a positive number.
    DataError
        ``facts`` without its events table or user-facts columns.

    Notes
    -----
    ``from_start`` is relative to all eligible users (signups), not to the users of step 0:
    the two agree when step 0 is the signup event. The incidence of step ``j`` is estimated
    with duration = the step time if reached; otherwise the churn time if the user churned
    (``churned``, ``lifetime_days``) before ``window_days`` (competing event); otherwise
    censored at ``min(age_days, window_days)``. It is read just before ``window_days``. As in
    :func:`onboarding_analysis.analyses.ttfv.competing_risks_data`, a step reached only *after* an
    observed churn (possible with ``churn_event``, or with step events that are not active
    events) counts as churned first in the incidence, while the conversion figures count it
    as reached.

    Examples
    --------
    >>> import onboarding_analysis as oa                                  # doctest: +SKIP
    >>> facts = oa.compute_facts(oa.load_params("params/demo.yaml"))      # doctest: +SKIP
    >>> result = compute_funnel(facts)                                            # doctest: +SKIP
    >>> result.steps[["step", "users", "from_start", "from_previous"]]    # doctest: +SKIP
    """
    alpha = check_alpha(alpha)
    steps, mode, window = _options(facts, steps, mode, window_days)
    semantics = _check_semantics(facts.params.funnel_semantics if semantics is None else semantics)
    table = _facts_columns(facts)
    if semantics == "posthog":
        return posthog_funnel(facts, steps, mode, window, alpha)
    times = step_times(facts, steps, mode=mode, window_days=window)
    eligible = table[C.AGE].to_numpy(dtype=float) >= window
    n_eligible = int(eligible.sum())
    labels = tuple(step_label(step) for step in steps)

    rows = []
    prev_reached = eligible
    prev_t = np.zeros(len(times))  # step 0 is timed from signup
    for j, label in enumerate(labels):
        t = times[step_column(j)].to_numpy(dtype=float)
        reached = eligible & ~np.isnan(t)
        users, prev_users = int(reached.sum()), int(prev_reached.sum())
        both = reached & prev_reached
        hours = (t[both] - prev_t[both]) * 24.0
        seconds = (t[both] - prev_t[both]) * 86_400.0
        q = _quantiles(hours)
        start_lo, start_hi = wilson_interval(users, n_eligible, alpha=alpha)
        prev_lo, prev_hi = wilson_interval(int(both.sum()), prev_users, alpha=alpha)
        rows.append(
            {
                "step_index": j,
                "step": label,
                "users": users,
                "from_start": _rate(users, n_eligible),
                "from_start_ci_low": start_lo,
                "from_start_ci_high": start_hi,
                "from_previous": _rate(int(both.sum()), prev_users),
                "from_previous_ci_low": prev_lo,
                "from_previous_ci_high": prev_hi,
                "drop_off": prev_users - int(both.sum()),
                "median_hours_from_previous": q["median"],
                "p25_hours": q["p25"],
                "p75_hours": q["p75"],
                "p90_hours": q["p90"],
                "mean_seconds_from_previous": float(seconds.mean()) if seconds.size else math.nan,
                "median_seconds_from_previous": float(np.median(seconds)) if seconds.size else math.nan,
            }
        )
        prev_reached, prev_t = reached, t
    step_table = pd.DataFrame(rows, columns=STEP_COLUMNS)
    if n_eligible == 0:
        oldest = float(table[C.AGE].max()) if len(table) else 0.0
        add_note(
            step_table,
            f"conversion not computable: no user has been observed for the {window:g}-day conversion "
            f"window yet (the oldest for {oldest:.1f} days); users not observed long enough are left "
            "out, never counted as lost",
        )
    else:
        stuck = [row["step"] for row in rows[1:] if np.isnan(row["from_previous"])]
        if stuck:
            add_note(
                step_table,
                f"{', '.join(stuck)}: conversion from the previous step not computable, no eligible "
                "user reached the previous step",
            )
    incidence = pd.DataFrame(
        [_incidence(times, table, j, label, window, alpha) for j, label in enumerate(labels)],
        columns=INCIDENCE_COLUMNS,
    )
    return FunnelResult(
        steps=step_table,
        incidence=incidence,
        times=times.assign(**{ELIGIBLE: eligible}),
        eligible=n_eligible,
        users=len(table),
        mode=mode,
        window_days=window,
        alpha=alpha,
        labels=labels,
    )


# --- engagement: checklist completion, time on onboarding --------------------------------------


def checklist_completion(result: FunnelResult) -> tuple[float, float, float]:
    """Checklist completion (METRICS.md): the last step's ``from_start`` and its Wilson interval.

    Returns ``(rate, ci_low, ci_high)`` as floats (NaN when no user is eligible).

    Examples
    --------
    >>> rate, low, high = checklist_completion(result)                   # doctest: +SKIP
    """
    last = result.steps.iloc[-1]
    return float(last["from_start"]), float(last["from_start_ci_low"]), float(last["from_start_ci_high"])


def onboarding_time(result: FunnelResult) -> pd.DataFrame:
    """Time on onboarding: hours from signup to the last step reached, among eligible users.

    Returns
    -------
    pandas.DataFrame
        :data:`ONBOARDING_TIME_COLUMNS`: one row per step for the users whose *last* reached
        step it is (``last_step`` = its label), then a row ``"any step (all users)"`` over
        every eligible user who reached at least one step; ``users`` and the median, p25, p75
        and p90 in hours (linear interpolation; NaN for no user).

    Examples
    --------
    >>> onboarding_time(result)                                           # doctest: +SKIP
    """
    times = result.times
    cols = [step_column(j) for j in range(len(result.labels))]
    values = times.loc[times[ELIGIBLE].to_numpy(dtype=bool), cols].to_numpy(dtype=float)
    reached = ~np.isnan(values)
    depth = reached.sum(axis=1)  # reached steps form a prefix 0..depth-1
    last_days = np.full(len(values), np.nan)
    some = depth > 0
    last_days[some] = values[some, depth[some] - 1]
    rows = []
    for j, label in enumerate(result.labels):
        hours = last_days[depth == j + 1] * 24.0
        rows.append({"last_step": label, "users": int(hours.size), **_hours_summary(hours)})
    hours = last_days[some] * 24.0
    rows.append({"last_step": ALL_STEPS, "users": int(hours.size), **_hours_summary(hours)})
    return pd.DataFrame(rows, columns=ONBOARDING_TIME_COLUMNS)


#: Columns of :func:`time_to_convert`.
TIME_TO_CONVERT_COLUMNS = ["step", "from", "users", "mean", "median"]


def format_duration(seconds: float) -> str:
    """A duration for people: "45 s", "21.3 min", "5.2 h", "3.1 days"; "n/a" when missing.

    Examples
    --------
    >>> format_duration(45), format_duration(1275.1), format_duration(43583.1), format_duration(3 * 86400)
    ('45 s', '21.3 min', '12.1 h', '3.0 days')
    """
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3_600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86_400:
        return f"{seconds / 3_600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def time_to_convert(result: FunnelResult) -> pd.DataFrame:
    """Mean and median time from the previous step, per step, as readable durations.

    Returns
    -------
    pandas.DataFrame
        :data:`TIME_TO_CONVERT_COLUMNS`: the step, what it is timed from (signup for step 0
        under the onboarding rules; "no previous step" for step 0 under PostHog's), the users
        reaching it, and ``mean`` / ``median`` of ``mean_seconds_from_previous`` /
        ``median_seconds_from_previous`` formatted by :func:`format_duration` ("n/a" when no
        conversion is timed; under PostHog's rules 0-second conversions are left out).

    Examples
    --------
    >>> time_to_convert(result)                                           # doctest: +SKIP
    """
    rows = []
    for j, row in enumerate(result.steps.to_dict("records")):
        if j == 0:
            origin = "signup" if result.semantics == "onboarding" else "no previous step"
        else:
            origin = result.labels[j - 1]
        rows.append(
            {
                "step": row["step"],
                "from": origin,
                "users": int(row["users"]),
                "mean": format_duration(row["mean_seconds_from_previous"]),
                "median": format_duration(row["median_seconds_from_previous"]),
            }
        )
    return pd.DataFrame(rows, columns=TIME_TO_CONVERT_COLUMNS)


def _window_text(days: float) -> str:
    """The window for a title: "14 days", "12 hours", "5 minutes"."""
    seconds = days * 86_400
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            return window_label(f"{round(seconds / size, 6):g} {unit}")
    return window_label(f"{round(seconds, 6):g} second")


def _hours_summary(hours: np.ndarray) -> dict[str, float]:
    q = _quantiles(hours)
    return {"median_hours": q["median"], "p25_hours": q["p25"], "p75_hours": q["p75"], "p90_hours": q["p90"]}


# --- metrics.json --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def funnel_metrics(result: FunnelResult) -> dict[str, Any]:
    """The ``funnel`` section of metrics.json: plain Python numbers, None where missing.

    Examples
    --------
    >>> funnel_metrics(result)["funnel"]["steps"][0]["from_start"]        # doctest: +SKIP
    1.0
    """
    keys = (
        "users",
        "from_start",
        "from_previous",
        "from_previous_ci_low",
        "from_previous_ci_high",
        "median_hours_from_previous",
        "mean_seconds_from_previous",
        "median_seconds_from_previous",
    )
    steps = [
        {"step": str(row["step"]), **{key: _plain(row[key]) for key in keys}}
        for row in result.steps.to_dict("records")
    ]
    return {
        "funnel": {
            "eligible": int(result.eligible),
            "mode": str(result.mode),
            "semantics": str(result.semantics),
            "window_days": _plain(result.window_days),
            "steps": steps,
        }
    }


# --- plots ------------------------------------------------------------------------------------------


def plot_funnel(result: FunnelResult, *, ax: Axes | None = None) -> Axes:
    """Bars of the conversion from the start per step, with Wilson error bars and user counts.

    Parameters
    ----------
    result : FunnelResult
        Output of :func:`compute_funnel`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_funnel(result)                                          # doctest: +SKIP
    """
    ax = axes_or_new(ax)
    table = result.steps
    x = np.arange(len(table))
    rate = table["from_start"].to_numpy(dtype=float) * 100
    low = table["from_start_ci_low"].to_numpy(dtype=float) * 100
    high = table["from_start_ci_high"].to_numpy(dtype=float) * 100
    shown = ~np.isnan(rate)
    level = round(100 * (1 - result.alpha))
    ax.bar(x[shown], rate[shown], color="C0", label="reached the step")
    if shown.any():
        # Clip: at a rate of 100% the Wilson bound can come out a few ulps below it.
        yerr = np.clip(np.vstack([rate[shown] - low[shown], high[shown] - rate[shown]]), 0.0, None)
        ax.errorbar(
            x[shown], rate[shown], yerr=yerr, fmt="none", ecolor="0.2", capsize=4, label=f"{level}% Wilson CI"
        )
        for xi, hi, users in zip(x[shown], high[shown], table["users"].to_numpy()[shown], strict=True):
            ax.annotate(
                f"{int(users):,}",
                (xi, hi),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
            )
        ax.legend(loc="upper right")
    else:
        ax.text(0.5, 0.5, "no eligible users yet", transform=ax.transAxes, ha="center", va="center")
    ax.set_xticks(x, list(result.labels), rotation=20, ha="right")
    ax.set_ylim(0, 115)
    window = _window_text(result.window_days)
    if result.semantics == "posthog":
        ax.set_ylabel("% of eligible users with step 1")
        ax.set_title(
            f"Funnel, PostHog rules ({result.mode}, within {window} of step 1; {result.eligible:,} eligible)"
        )
    else:
        ax.set_ylabel("% of eligible signups")
        ax.set_title(f"Onboarding funnel ({result.mode}, within {window}; {result.eligible:,} eligible)")
    return ax


def plot_step_times(result: FunnelResult, *, ax: Axes | None = None) -> Axes:
    """Distributions (ECDFs) of the hours from the previous step (from signup for step 0).

    One curve per step, over the eligible users who reached both steps: the share of them who
    took at most x hours. The hour axis is *symlog*: linear below one hour (so simultaneous
    steps, 0 hours, stay visible), logarithmic above.

    Parameters
    ----------
    result : FunnelResult
        Output of :func:`compute_funnel`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_step_times(result)                                      # doctest: +SKIP
    """
    ax = axes_or_new(ax)
    times = result.times
    eligible = times[ELIGIBLE].to_numpy(dtype=bool)
    names = [f"{j}. {label}" + (" (from signup)" if j == 0 else "") for j, label in enumerate(result.labels)]
    labels, hours = [], []
    prev = np.zeros(len(times))  # step 0 is timed from signup
    for j, name in enumerate(names):
        t = times[step_column(j)].to_numpy(dtype=float)
        both = eligible & ~np.isnan(t) & ~np.isnan(prev)
        labels += [name] * int(both.sum())
        hours += ((t[both] - prev[both]) * 24.0).tolist()
        prev = t
    data = pd.DataFrame({"step": labels, "hours": np.asarray(hours, dtype=float)})
    if len(data):
        present = [name for name in names if name in set(labels)]
        sns.ecdfplot(data=data, x="hours", hue="step", hue_order=present, ax=ax)
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlim(left=0)
    else:
        ax.text(0.5, 0.5, "no eligible converters yet", transform=ax.transAxes, ha="center", va="center")
    ax.set_xlabel("hours from the previous step (symlog scale: linear below 1 h)")
    ax.set_ylabel("share of users who reached both steps")
    ax.set_ylim(0, 1.05)
    ax.set_title("Time between onboarding steps (eligible users who reached both)")
    return ax
