"""The cohort retention table: signup cohorts by user-relative week or 30-day period.

docs/metrics.md, "Cohort table". :func:`cohort_table` counts, for each signup cohort (ISO week
or calendar month of ``t0``) and user-relative period ``k``, the users eligible for it (observed
for the whole period) and those active in it; :func:`onboarding_analysis.report.plots.plot_cohort_heatmap`
draws it. Re-exported by :mod:`onboarding_analysis.analyses.retention`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..absence import NotComputable
from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError
from .retention_inputs import facts_table, is_count, mask_bit, mask_column, require_columns, user_ages

__all__ = ["CohortTable", "cohort_table"]


@dataclass(frozen=True)
class CohortTable:
    """Signup cohorts by user-relative period (docs/metrics.md, "Cohort table").

    Attributes
    ----------
    period : {"week", "month"}
        Cohort and period unit: ISO weeks (Monday start) and 7-day periods, or calendar
        months and 30-day periods.
    rates : pandas.DataFrame
        Rows: cohort start date (index ``cohort``); columns: period ``k`` (``period``). A cell
        is the share of the cohort's eligible users (``age_days >= (k+1)*P``) active in days
        ``[k*P, (k+1)*P)``; NaN when fewer than ``max(1, min_cell_users)`` users are eligible.
    eligible, retained : pandas.DataFrame
        The counts behind ``rates`` (same shape; not masked, so do not publish them where
        small cells must stay hidden).
    cohort_sizes : pandas.Series
        Users per cohort, eligible or not.
    min_cell_users : int
        The smallest number of eligible users a cell is shown for.
    oldest_age_days : float or None
        The largest ``age_days`` (None without users).
    """

    period: Literal["week", "month"]
    rates: pd.DataFrame
    eligible: pd.DataFrame
    retained: pd.DataFrame
    cohort_sizes: pd.Series
    min_cell_users: int = 1
    oldest_age_days: float | None = None

    @property
    def absence(self) -> NotComputable | None:
        """Why the table has no cell to show (None when at least one cell has a rate).

        Either no user is old enough for the first period (``P`` days), or every cell has
        fewer than ``min_cell_users`` eligible users; the heatmap is then left out of the
        report with this note (:func:`onboarding_analysis.report.notebook.computable`).

        Returns
        -------
        NotComputable or None
            The reason, for the ``weekly`` or ``monthly cohort heatmap``; None when a cell shows.

        Examples
        --------
        >>> import pandas as pd
        >>> facts = pd.DataFrame({"t0": pd.to_datetime(["2024-01-03"]), "age_days": [3.0],
        ...                       "active_weeks_mask": [1]})
        >>> cohort_table(facts).absence.reason
        'no user has been observed for a whole week since signup yet (the oldest for 3.0 days)'
        """
        if self.rates.notna().to_numpy().any():
            return None
        what = f"{self.period}ly cohort heatmap"
        length = C.PERIOD_DAYS[self.period]
        unit = "week" if self.period == "week" else f"{length}-day period"
        if self.rates.shape[1] == 0:
            oldest = self.oldest_age_days
            since = "" if oldest is None else f" (the oldest for {oldest:.1f} days)"
            users = "no user" if int(self.cohort_sizes.sum()) else "no user at all"
            return NotComputable(
                f"{users} has been observed for a whole {unit} since signup yet{since}", what=what
            )
        most = int(self.eligible.to_numpy().max())
        return NotComputable(
            f"every cell has fewer than min_cell_users = {self.min_cell_users} eligible users "
            f"(at most {most}), so every cell is hidden",
            what=what,
        )


def _cohort_labels(t0: pd.Series, period: str) -> pd.Series:
    day = t0.dt.normalize()
    if period == "week":
        start = day - pd.to_timedelta(t0.dt.weekday, unit="D")
    else:
        start = day - pd.to_timedelta(t0.dt.day - 1, unit="D")
    return start.rename("cohort")


def cohort_table(
    facts: Facts | pd.DataFrame,
    *,
    period: Literal["week", "month"] = "week",
    min_cell_users: int | None = None,
    max_periods: int | None = None,
) -> CohortTable:
    """Cohort retention table: signup cohorts by user-relative week or 30-day period.

    Parameters
    ----------
    facts : Facts or pandas.DataFrame
        The facts of :func:`onboarding_analysis.data.pipeline.compute_facts`, or their table:
        ``t0``, ``age_days`` and ``active_weeks_mask`` (for ``period="week"``) or
        ``active_months_mask`` (for ``period="month"``).
    period : {"week", "month"}, default "week"
        ``"week"``: cohorts are ISO weeks of ``t0`` (labelled by their Monday), periods are
        ``[7k, 7k+7)`` days. ``"month"``: cohorts are calendar months of ``t0`` (labelled by
        the 1st), periods are ``[30k, 30k+30)`` days.
    min_cell_users : int, optional
        Cells with fewer eligible users are left empty (NaN); by default params
        ``min_cell_users`` of a Facts object, 1 for a bare table.
    max_periods : int, optional
        Keep at most this many period columns (``k = 0 .. max_periods - 1``). By default
        every period some user is eligible for (at most 63).

    Returns
    -------
    CohortTable
        The rates (NaN in cells below ``min_cell_users``), the counts behind them and the
        cohort sizes.

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({
    ...     "t0": pd.to_datetime(["2024-01-03", "2024-01-04", "2024-01-10"]),
    ...     "age_days": [15.0, 14.0, 8.0],
    ...     "active_weeks_mask": [0b11, 0b01, 0b1],
    ... })
    >>> table = cohort_table(facts)
    >>> [str(day.date()) for day in table.rates.index]
    ['2024-01-01', '2024-01-08']
    >>> table.rates.to_numpy().tolist()
    [[1.0, 0.5], [1.0, nan]]
    """
    facts, min_cell_users = facts_table(facts, min_cell_users, "min_cell_users", default=1)
    if period not in C.PERIOD_DAYS:
        raise ValueError(f"period must be one of {sorted(C.PERIOD_DAYS)}, but was {period!r}")
    if not is_count(min_cell_users) or min_cell_users < 1:
        raise ValueError(f"min_cell_users must be a whole number >= 1, but was {min_cell_users!r}")
    if max_periods is not None and (not is_count(max_periods) or max_periods < 1):
        raise ValueError(f"max_periods must be None or a whole number >= 1, but was {max_periods!r}")

    length = C.PERIOD_DAYS[period]
    period_column = C.PERIOD_MASK[period]
    ages = user_ages(facts, "cohort_table")
    mask = mask_column(facts, period_column, "cohort_table")
    require_columns(facts, [C.T0], "cohort_table")
    t0 = facts[C.T0]
    if not pd.api.types.is_datetime64_any_dtype(t0):
        raise DataError(f"column {C.T0!r} must hold datetimes, but has dtype {t0.dtype}")
    if t0.isna().any():
        raise DataError(f"column {C.T0!r} has missing signup times; every user needs a t0")

    cohorts = _cohort_labels(t0, period)
    sizes = cohorts.value_counts().sort_index().rename("users")
    sizes.index.name = "cohort"
    n_periods = int(math.floor(ages.max() / length)) if len(ages) else 0
    n_periods = max(0, min(n_periods, C.MASK_BITS, max_periods or C.MASK_BITS))
    periods = pd.RangeIndex(n_periods, name="period")

    eligible = pd.DataFrame(0, index=sizes.index, columns=periods, dtype=np.int64)
    retained = eligible.copy()
    # Cohort codes once (position in sizes.index), then integer counts per period by bincount:
    # the same counts as a groupby-sum per period, without re-factorizing the labels each time.
    codes = sizes.index.get_indexer(cohorts.to_numpy())
    n_cohorts = len(sizes.index)
    for k in periods:
        ok = np.asarray(ages >= (k + 1) * length, dtype=bool)
        kept = ok & np.asarray(mask_bit(mask, k), dtype=bool)
        eligible[k] = np.bincount(codes[ok], minlength=n_cohorts)
        retained[k] = np.bincount(codes[kept], minlength=n_cohorts)
    eligible = eligible.astype(np.int64)
    retained = retained.astype(np.int64)
    rates = (retained / eligible.where(eligible > 0)).where(eligible >= min_cell_users).astype(float)
    return CohortTable(
        period=period,
        rates=rates,
        eligible=eligible,
        retained=retained,
        cohort_sizes=sizes,
        min_cell_users=int(min_cell_users),
        oldest_age_days=float(ages.max()) if len(ages) else None,
    )
