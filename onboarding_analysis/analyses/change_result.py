"""The result of a before/after comparison: :class:`ChangeComparison` and the period labels.

Made by :func:`onboarding_analysis.analyses.change.compare_change`; read by its tables
(:mod:`onboarding_analysis.analyses.change_tables`) and the cohort plot
(:mod:`onboarding_analysis.analyses.change_cohorts`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from .segment_result import SegmentComparison

__all__ = ["AFTER", "BEFORE", "ChangeComparison"]

#: The two periods: signed up before the change, or on/after it.
BEFORE, AFTER = "before", "after"


@dataclass(frozen=True, eq=False)
class ChangeComparison:
    """Before vs after an onboarding change.

    Attributes
    ----------
    change_date : datetime.date
        The change; ``change_time`` is its start in UTC (naive), as ``t0`` is.
    change_time : pandas.Timestamp
    before_users, after_users : int
    ttfv_follow_up_days, lifetime_follow_up_days : float
        The caps ``tau_v`` and ``tau_l`` of :mod:`onboarding_analysis.analyses.change`.
    ttfv_day : int
        Day of the TTFV comparison (7).
    ttfv_before, ttfv_after : tuple of float
        ``(share, se, ci_low, ci_high)`` reached value by ``ttfv_day``.
    ttfv_diff, ttfv_diff_ci_low, ttfv_diff_ci_high, ttfv_diff_p : float
        After minus before, its interval and two-sided p-value.
    retention_day : int
        Day of the retention comparison (30).
    retention_before, retention_after : tuple of (rate, eligible, retained)
    retention_diff, retention_diff_ci_low, retention_diff_ci_high, retention_diff_p : float
        After minus before (Newcombe interval; p from the chi-square test without continuity
        correction).
    logrank_statistic, logrank_p : float
        Lifetime log-rank test (capped follow-up).
    hazard_ratio, hr_ci_low, hr_ci_high, hr_p : float
        Cox hazard ratio of churn, after vs before (NaN when not estimable).
    hr_note : str
        "not estimable: <reason>" when the Cox model has no estimate (e.g. a monotone
        likelihood, :mod:`onboarding_analysis.stats.cox_checks`), else empty.
    ph_warning : str
        Non-empty if the proportional-hazards check failed.
    comparison : SegmentComparison
        The full two-group comparison on the capped table (KM fits, RMST, tests).
    cohorts : pandas.DataFrame
        :func:`cohort_trend` of the (uncapped) users.
    adjust_for : tuple of str
    alpha : float
    """

    change_date: dt.date
    change_time: pd.Timestamp
    before_users: int
    after_users: int
    ttfv_follow_up_days: float
    lifetime_follow_up_days: float
    ttfv_day: int
    ttfv_before: tuple[float, float, float, float]
    ttfv_after: tuple[float, float, float, float]
    ttfv_diff: float
    ttfv_diff_ci_low: float
    ttfv_diff_ci_high: float
    ttfv_diff_p: float
    retention_day: int
    retention_before: tuple[float, int, int]
    retention_after: tuple[float, int, int]
    retention_diff: float
    retention_diff_ci_low: float
    retention_diff_ci_high: float
    retention_diff_p: float
    logrank_statistic: float
    logrank_p: float
    hazard_ratio: float
    hr_ci_low: float
    hr_ci_high: float
    hr_p: float
    ph_warning: str
    comparison: SegmentComparison
    cohorts: pd.DataFrame
    adjust_for: tuple[str, ...]
    alpha: float
    hr_note: str = ""
