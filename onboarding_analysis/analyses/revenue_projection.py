"""Revenue under a constant monthly net churn: the one-year projection and its scenarios.

docs/metrics.md, "Net revenue churn". :func:`project_revenue` sums the monthly revenue
``R (1 - c)^k`` of a year; :func:`projection_table` does it for the churn measured by
:func:`onboarding_analysis.analyses.revenue.revenue_churn` (with its interval) and for each of
params ``churn_scenarios``. Re-exported by :mod:`onboarding_analysis.analyses.revenue`.

Examples
--------
>>> round(project_revenue(100.0, -0.05) / project_revenue(100.0, 0.05), 4)
1.7315
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["MONTHS_PER_YEAR", "PROJECTION_COLUMNS", "project_revenue", "projection_table"]

#: Columns of :func:`projection_table`.
PROJECTION_COLUMNS = [
    "scenario",
    "monthly_net_churn",
    "projected_year_revenue",
    "revenue_ci_low",
    "revenue_ci_high",
    "vs_measured",
]
#: Months of the projection.
MONTHS_PER_YEAR = 12


def project_revenue(
    mrr: float, monthly_net_churn: float, *, months: int = MONTHS_PER_YEAR, start: int = 0
) -> float:
    """Revenue of ``months`` months from a base ``mrr`` at a constant monthly net churn ``c``.

    ``sum_{k=start}^{start+months-1} mrr * (1 - c)^k``: month 0 earns the base, every later
    month ``(1 - c)`` times the one before.

    Parameters
    ----------
    mrr : float
        The base: total monthly recurring revenue today.
    monthly_net_churn : float
        ``c``, strictly between -1 and 1 (negative: net expansion).
    months : int, default 12
        Months summed.
    start : int, default 0
        The first month's exponent (0: the sum starts with the base itself).

    Returns
    -------
    float
        The revenue of those months.

    Raises
    ------
    ValueError
        ``months`` is not a whole number >= 1, or ``c`` is outside (-1, 1).

    Examples
    --------
    >>> project_revenue(100.0, 0.0)
    1200.0
    >>> round(project_revenue(100.0, 0.05), 2)
    919.28
    """
    if not isinstance(months, int) or isinstance(months, bool) or months < 1:
        raise ValueError(f"months must be a whole number >= 1, but was {months!r}")
    c = float(monthly_net_churn)
    if not -1 < c < 1:
        raise ValueError(f"monthly_net_churn must be between -1 and 1, but was {monthly_net_churn!r}")
    k = np.arange(start, start + months, dtype=float)
    return float(np.sum(float(mrr) * (1.0 - c) ** k))


def projection_table(
    mrr: float,
    measured: float | None,
    scenarios: Iterable[float],
    *,
    ci: tuple[float | None, float | None] = (None, None),
    months: int = MONTHS_PER_YEAR,
) -> pd.DataFrame:
    """One year of revenue from ``mrr`` for the measured churn and each scenario.

    Parameters
    ----------
    mrr : float
        The base: total monthly recurring revenue today.
    measured : float or None
        The measured monthly net churn (None, or outside (-1, 1): no ``measured`` row).
    scenarios : iterable of float
        Monthly net churn rates to compare (params ``churn_scenarios``).
    ci : (float or None, float or None), default (None, None)
        The measured churn's interval bounds.
    months : int, default 12
        Months of each projection.

    Returns
    -------
    pandas.DataFrame
        :data:`PROJECTION_COLUMNS`; the ``measured`` row (when ``measured`` is not None) has the
        revenue at the churn interval's bounds (higher churn, lower revenue); ``vs_measured`` is
        each row's revenue over the measured row's.
    """
    rows = []
    if measured is not None and -1 < measured < 1:
        low, high = ci
        bound = [
            project_revenue(mrr, c, months=months) if c is not None and -1 < c < 1 else math.nan
            for c in (high, low)
        ]
        rows.append(["measured", float(measured), project_revenue(mrr, measured, months=months), *bound])
    for c in scenarios:
        rows.append(
            [f"scenario {c:+.1%}", float(c), project_revenue(mrr, c, months=months), math.nan, math.nan]
        )
    table = pd.DataFrame(rows, columns=PROJECTION_COLUMNS[:-1])
    base = table.loc[table["scenario"] == "measured", "projected_year_revenue"]
    table["vs_measured"] = (
        table["projected_year_revenue"] / base.iloc[0] if len(base) and base.iloc[0] else math.nan
    )
    return table
