"""Moments of truth, pandas side: the three rules applied to the per-unit signals.

:func:`classify_moments` adds the eligibility and moment flags to the rows of
:func:`onboarding_analysis.analyses.moments_signals.unit_signals`; :func:`moment_counts` and
:func:`weekly_moments` count them overall (with Wilson intervals) and per signup week. The rules
are those of the :mod:`onboarding_analysis.analyses.moments` docstring and docs/metrics.md,
"Moments of truth".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..absence import add_note
from ..stats.intervals import wilson_interval
from .moments_signals import FIRST_WEEK_DAYS

__all__ = [
    "COUNT_COLUMNS",
    "MOMENTS",
    "WEEKLY_COLUMNS",
    "classify_moments",
    "moment_counts",
    "signup_week",
    "weekly_moments",
]

#: The three moments, in the order of docs/metrics.md.
MOMENTS = ("crisis", "relationship_change", "unexpected_win")
#: Columns of :func:`moment_counts`.
COUNT_COLUMNS = ["moment", "eligible", "count", "share", "ci_low", "ci_high", "rule"]
#: Columns of :func:`weekly_moments`.
WEEKLY_COLUMNS = ["week", "moment", "eligible", "count", "share"]


def signup_week(t0: pd.Series) -> pd.Series:
    """The ISO week (its Monday, 00:00) of each signup time.

    Parameters
    ----------
    t0 : pandas.Series
        Signup times (datetimes).

    Returns
    -------
    pandas.Series
        The Monday that starts each time's week, at midnight.

    Examples
    --------
    >>> signup_week(pd.Series(pd.to_datetime(["2024-01-03 15:00"]))).iloc[0]
    Timestamp('2024-01-01 00:00:00')
    """
    day = t0.dt.normalize()
    return day - pd.to_timedelta(t0.dt.weekday, unit="D")


def _quantile(values: pd.Series, q: float) -> float | None:
    values = values.dropna()
    return float(np.quantile(values.to_numpy(dtype=float), q)) if len(values) else None


def classify_moments(units: pd.DataFrame, params: Any) -> dict[str, float | None]:
    """Add the eligibility and moment flags to ``units`` (in place).

    Parameters
    ----------
    units : pandas.DataFrame
        The signals of :func:`~onboarding_analysis.analyses.moments_signals.unit_signals`.
        Gains ``eligible_<moment>`` and ``<moment>`` for each of :data:`MOMENTS`, plus
        ``fast_value`` and ``wow``.
    params : Params
        The run's params (``moment_early_days``, ``crisis_*``, ``relationship_*``,
        ``win_speed_quantile``, ``wow_features``, ``feature_events``).

    Returns
    -------
    dict
        ``early_active_days_top`` (the crisis top-group threshold) and ``fast_value_days`` (the
        unexpected-win speed threshold); None where no unit was eligible.
    """
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


def _rules(params: Any) -> dict[str, str]:
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


def _not_eligible_reasons(params: Any) -> dict[str, str]:
    """Per moment, the note shown when no unit is eligible for it."""
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
    return reasons


def moment_counts(units: pd.DataFrame, params: Any, alpha: float) -> pd.DataFrame:
    """Eligible units, units with each moment and its share with a Wilson interval.

    Parameters
    ----------
    units : pandas.DataFrame
        Units classified by :func:`classify_moments`.
    params : Params
        The run's params (for the rules in words and the notes).
    alpha : float
        The intervals are ``1 - alpha`` intervals.

    Returns
    -------
    pandas.DataFrame
        :data:`COUNT_COLUMNS`, one row per moment; ``share`` is NaN (with a note saying why)
        for a moment no unit is eligible for.
    """
    rules = _rules(params)
    rows = []
    for moment in MOMENTS:
        n = int(units[f"eligible_{moment}"].sum())
        k = int(units[moment].sum())
        low, high = wilson_interval(k, n, alpha=alpha)
        rows.append([moment, n, k, k / n if n else math.nan, low, high, rules[moment]])
    table = pd.DataFrame(rows, columns=COUNT_COLUMNS)
    reasons = _not_eligible_reasons(params)
    for moment, n in zip(table["moment"], table["eligible"], strict=True):
        if n == 0:
            add_note(table, reasons[moment])
    return table


def weekly_moments(units: pd.DataFrame) -> pd.DataFrame:
    """Per signup week and moment: eligible units, units with the moment and their share.

    Parameters
    ----------
    units : pandas.DataFrame
        Units classified by :func:`classify_moments`, with their signup ``week``.

    Returns
    -------
    pandas.DataFrame
        :data:`WEEKLY_COLUMNS`, sorted by week and moment; ``share`` is NaN for a week without
        an eligible unit (never 0%).
    """
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
    out = pd.concat(frames, ignore_index=True)
    return out[WEEKLY_COLUMNS].sort_values(["week", "moment"], kind="stable").reset_index(drop=True)
