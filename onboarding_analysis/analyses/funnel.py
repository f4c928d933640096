"""The onboarding funnel: conversion per step, time between steps, cumulative incidence.

:func:`compute_funnel` reads the per-user step times
(:func:`~onboarding_analysis.analyses.funnel_times.step_times`, whose module docstring holds the
``ordered``, ``strict`` and ``any_order`` rules) and builds the funnel table; :func:`checklist_completion`, :func:`onboarding_time` and
:func:`time_to_convert` read it for the report, :func:`funnel_metrics` for ``metrics.json``
(docs/metrics.md, "Onboarding funnel"), and :mod:`~onboarding_analysis.analyses.funnel_plots`
draws it. Under ``funnel_semantics: posthog``, :func:`compute_funnel` applies PostHog's rules
instead (:mod:`onboarding_analysis.analyses.funnel_posthog`; docs/funnels.md compares the two).

Conversion (:func:`compute_funnel`) counts *eligible* users only, ``age_days >= window_days``: younger
users have not had the whole window yet and leave every denominator. The censoring-aware
cumulative incidence per step uses *all* users instead (Aalen-Johansen, churn before the step
as the competing event, :mod:`onboarding_analysis.analyses.incidence`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..absence import add_note
from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError
from ..stats.finite import finite_or_none
from ..stats.intervals import check_alpha, wilson_interval
from .funnel_posthog import posthog_funnel
from .funnel_steps import (
    ELIGIBLE,
    INCIDENCE_COLUMNS,
    STEP_COLUMNS,
    FunnelResult,
    check_semantics,
    funnel_options,
    step_column,
    step_label,
)
from .funnel_times import step_times
from .incidence import aalen_johansen, cif_before

__all__ = [
    "ALL_STEPS",
    "ONBOARDING_TIME_COLUMNS",
    "TIME_TO_CONVERT_COLUMNS",
    "checklist_completion",
    "compute_funnel",
    "format_duration",
    "funnel_metrics",
    "onboarding_time",
    "time_to_convert",
]

#: Columns of :func:`onboarding_time`.
ONBOARDING_TIME_COLUMNS = ["last_step", "users", "median_hours", "p25_hours", "p75_hours", "p90_hours"]
#: Label of the all-users row of :func:`onboarding_time`.
ALL_STEPS = "any step (all users)"
#: Event codes of the Aalen-Johansen input: censored, step reached, churned before the step.
_CENSORED, _REACHED, _CHURNED = 0, 1, 2
_QUANTILES = {"p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9}


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
    # Collapse to unique (duration, event) rows with frequency weights (the result is the same).
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
    steps, mode, window = funnel_options(facts, steps, mode, window_days)
    semantics = check_semantics(facts.params.funnel_semantics if semantics is None else semantics)
    table = _facts_columns(facts)
    if semantics == "posthog":
        return posthog_funnel(facts, steps, mode, window, alpha)
    times = step_times(facts, steps, mode=mode, window_days=window)
    eligible = table[C.AGE].to_numpy(dtype=float) >= window
    n_eligible = int(eligible.sum())
    labels = tuple(step_label(step) for step in steps)
    step_table = _conversion_table(times, eligible, labels, alpha)
    _note_conversion(step_table, table, n_eligible, window)
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


def _conversion_table(
    times: pd.DataFrame, eligible: np.ndarray, labels: tuple[str, ...], alpha: float
) -> pd.DataFrame:
    """The :data:`STEP_COLUMNS` table over the eligible users: one row per step, in order."""
    n_eligible = int(eligible.sum())
    rows = []
    prev_reached = eligible
    prev_t = np.zeros(len(times))  # step 0 is timed from signup
    for j, label in enumerate(labels):
        t = times[step_column(j)].to_numpy(dtype=float)
        reached = eligible & ~np.isnan(t)
        rows.append(_step_row(j, label, t, reached, prev_t, prev_reached, n_eligible, alpha))
        prev_reached, prev_t = reached, t
    return pd.DataFrame(rows, columns=STEP_COLUMNS)


def _step_row(
    j: int,
    label: str,
    t: np.ndarray,
    reached: np.ndarray,
    prev_t: np.ndarray,
    prev_reached: np.ndarray,
    n_eligible: int,
    alpha: float,
) -> dict[str, Any]:
    """One row of the conversion table: step ``j`` reached at ``t`` after the previous step."""
    users, prev_users = int(reached.sum()), int(prev_reached.sum())
    both = reached & prev_reached
    hours = (t[both] - prev_t[both]) * 24.0
    seconds = (t[both] - prev_t[both]) * 86_400.0
    q = _quantiles(hours)
    start_lo, start_hi = wilson_interval(users, n_eligible, alpha=alpha)
    prev_lo, prev_hi = wilson_interval(int(both.sum()), prev_users, alpha=alpha)
    return {
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


def _note_conversion(step_table: pd.DataFrame, table: pd.DataFrame, n_eligible: int, window: float) -> None:
    """Note on ``step_table`` why conversion figures are missing: no eligible user, or a stuck step."""
    if n_eligible == 0:
        oldest = float(table[C.AGE].max()) if len(table) else 0.0
        add_note(
            step_table,
            f"conversion not computable: no user has been observed for the {window:g}-day conversion "
            f"window yet (the oldest for {oldest:.1f} days); users not observed long enough are left "
            "out, never counted as lost",
        )
        return
    later = step_table.iloc[1:]
    stuck = later.loc[later["from_previous"].isna(), "step"].tolist()
    if stuck:
        add_note(
            step_table,
            f"{', '.join(stuck)}: conversion from the previous step not computable, no eligible "
            "user reached the previous step",
        )


# --- engagement: checklist completion, time on onboarding --------------------------------------


def checklist_completion(result: FunnelResult) -> tuple[float, float, float]:
    """Checklist completion: the last step's ``from_start`` and its Wilson interval.

    Parameters
    ----------
    result : FunnelResult
        The funnel whose last step is the completed checklist.

    Returns
    -------
    (rate, ci_low, ci_high) : tuple of float
        The share of eligible signups who reached every step and its interval (NaN when no
        user is eligible).

    Examples
    --------
    >>> rate, low, high = checklist_completion(result)                   # doctest: +SKIP
    """
    last = result.steps.iloc[-1]
    return float(last["from_start"]), float(last["from_start_ci_low"]), float(last["from_start_ci_high"])


def onboarding_time(result: FunnelResult) -> pd.DataFrame:
    """Time on onboarding: hours from signup to the last step reached, among eligible users.

    Parameters
    ----------
    result : FunnelResult
        Output of :func:`compute_funnel`; its per-user ``times`` are read.

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

    Parameters
    ----------
    seconds : float or None
        The duration in seconds.

    Returns
    -------
    str
        Seconds below a minute, minutes below an hour, hours below two days, else days;
        "n/a" for None, NaN or an infinite value.

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

    Parameters
    ----------
    result : FunnelResult
        Output of :func:`compute_funnel`, under either semantics.

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


def _hours_summary(hours: np.ndarray) -> dict[str, float]:
    q = _quantiles(hours)
    return {"median_hours": q["median"], "p25_hours": q["p25"], "p75_hours": q["p75"], "p90_hours": q["p90"]}


# --- metrics.json --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A count as an int, a flag as a bool, any other figure as :func:`finite_or_none` does."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    return finite_or_none(value)


def funnel_metrics(result: FunnelResult) -> dict[str, Any]:
    """The ``funnel`` section of metrics.json: plain Python numbers, None where missing.

    Parameters
    ----------
    result : FunnelResult
        Output of :func:`compute_funnel`.

    Returns
    -------
    dict
        ``{"funnel": {"eligible", "mode", "semantics", "window_days", "steps": [...]}}``, one
        entry per step with its users, conversions, interval of ``from_previous`` and times
        (docs/outputs.md, ``funnel``).

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
