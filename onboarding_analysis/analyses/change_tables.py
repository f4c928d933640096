"""A before/after comparison as the report's headline table and as its part of ``metrics.json``.

:func:`change_summary` is the table the report shows; :func:`change_metrics` the ``change`` key
of ``metrics.json`` (``docs/outputs.md``), all ``None`` with the reason when the comparison
could not be computed.
"""

from __future__ import annotations

import math

import pandas as pd

from ..absence import NotComputable
from ..stats.finite import finite_or_none
from .change_result import ChangeComparison

__all__ = ["change_metrics", "change_summary"]


def change_summary(result: ChangeComparison) -> pd.DataFrame:
    """The headline comparison as a small table: ``what, before, after, difference, ci_low, ci_high, p``.

    Parameters
    ----------
    result : ChangeComparison
        A result of :func:`~onboarding_analysis.analyses.change.compare_change`.

    Returns
    -------
    pandas.DataFrame
        One row per figure (users, reached value, retention, hazard ratio, log-rank);
        ``attrs`` hold ``row_formats`` (how the report formats each row) and ``note``.
    """
    level = round(100 * (1 - result.alpha))
    rows = [
        ("users", result.before_users, result.after_users, math.nan, math.nan, math.nan, math.nan),
        (
            f"reached value by day {result.ttfv_day}",
            result.ttfv_before[0],
            result.ttfv_after[0],
            result.ttfv_diff,
            result.ttfv_diff_ci_low,
            result.ttfv_diff_ci_high,
            result.ttfv_diff_p,
        ),
        (
            f"day-{result.retention_day} retention",
            result.retention_before[0],
            result.retention_after[0],
            result.retention_diff,
            result.retention_diff_ci_low,
            result.retention_diff_ci_high,
            result.retention_diff_p,
        ),
        (
            "churn hazard ratio, after vs before (Cox)" + (f": {result.hr_note}" if result.hr_note else ""),
            1.0,
            result.hazard_ratio,
            result.hazard_ratio,
            result.hr_ci_low,
            result.hr_ci_high,
            result.hr_p,
        ),
        (
            "lifetime curves differ (log-rank)",
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            result.logrank_p,
        ),
    ]
    table = pd.DataFrame(rows, columns=["what", "before", "after", "difference", "ci_low", "ci_high", "p"])
    # How the report formats each row (onboarding_analysis.display.tables): users, two shares, a ratio.
    table.attrs["row_formats"] = {
        rows[0][0]: "count",
        rows[1][0]: "percent",
        rows[2][0]: "percent",
        rows[3][0]: "ratio",
    }
    table.attrs["note"] = (
        f"{level}% intervals. Follow-up capped at {result.lifetime_follow_up_days:.0f} days (lifetime) and "
        f"{result.ttfv_follow_up_days:.0f} days (TTFV), what the after group can have had. Before/after is "
        f"not an experiment: other changes at the same time are part of the difference."
    )
    return table


def change_metrics(
    result: ChangeComparison | NotComputable, *, ttfv_day: int = 7, retention_day: int = 30
) -> dict:
    """Headline numbers of the change comparison as a JSON-ready dict.

    Parameters
    ----------
    result : ChangeComparison or NotComputable
        Output of :func:`compare_change`.
    ttfv_day, retention_day : int, default 7 and 30
        For a :class:`~onboarding_analysis.absence.NotComputable` only: the days in the key
        names (a comparison carries its own).

    Returns
    -------
    dict
        ``{"change": {change_date, before_users, after_users, not_computable, ttfv_day_<D>_diff,
        ttfv_day_<D>_diff_ci_low, ttfv_day_<D>_diff_ci_high, retention_day_<N>_diff,
        retention_day_<N>_diff_ci_low, retention_day_<N>_diff_ci_high, logrank_p,
        hazard_ratio, hr_ci_low, hr_ci_high, hr_p, lifetime_follow_up_days,
        ttfv_follow_up_days}}`` (D = 7, N = 30 by default); None where not estimable.
        ``not_computable`` is None, or the reason the whole comparison could not be computed
        (then every figure is None).

    Examples
    --------
    >>> gap = NotComputable("no user signed up before the change date 2024-03-01",
    ...                     facts={"change_date": "2024-03-01", "before_users": 0, "after_users": 5})
    >>> metrics = change_metrics(gap)["change"]
    >>> metrics["not_computable"], metrics["after_users"], metrics["hazard_ratio"]
    ('no user signed up before the change date 2024-03-01', 5, None)
    """
    if isinstance(result, NotComputable):
        known = dict(result.facts)
        d, n = ttfv_day, retention_day
        figures = [
            f"ttfv_day_{d}_diff",
            f"ttfv_day_{d}_diff_ci_low",
            f"ttfv_day_{d}_diff_ci_high",
            f"retention_day_{n}_diff",
            f"retention_day_{n}_diff_ci_low",
            f"retention_day_{n}_diff_ci_high",
            "logrank_p",
            "hazard_ratio",
            "hr_ci_low",
            "hr_ci_high",
            "hr_p",
            "lifetime_follow_up_days",
            "ttfv_follow_up_days",
        ]
        return {
            "change": {
                "change_date": known.get("change_date"),
                "before_users": known.get("before_users"),
                "after_users": known.get("after_users"),
                "not_computable": result.reason,
                **dict.fromkeys(figures),
            }
        }
    d, n = result.ttfv_day, result.retention_day
    return {
        "change": {
            "change_date": result.change_date.isoformat(),
            "not_computable": None,
            "before_users": int(result.before_users),
            "after_users": int(result.after_users),
            f"ttfv_day_{d}_diff": finite_or_none(result.ttfv_diff),
            f"ttfv_day_{d}_diff_ci_low": finite_or_none(result.ttfv_diff_ci_low),
            f"ttfv_day_{d}_diff_ci_high": finite_or_none(result.ttfv_diff_ci_high),
            f"retention_day_{n}_diff": finite_or_none(result.retention_diff),
            f"retention_day_{n}_diff_ci_low": finite_or_none(result.retention_diff_ci_low),
            f"retention_day_{n}_diff_ci_high": finite_or_none(result.retention_diff_ci_high),
            "logrank_p": finite_or_none(result.logrank_p),
            "hazard_ratio": finite_or_none(result.hazard_ratio),
            "hr_ci_low": finite_or_none(result.hr_ci_low),
            "hr_ci_high": finite_or_none(result.hr_ci_high),
            "hr_p": finite_or_none(result.hr_p),
            "lifetime_follow_up_days": finite_or_none(result.lifetime_follow_up_days),
            "ttfv_follow_up_days": finite_or_none(result.ttfv_follow_up_days),
        }
    }
