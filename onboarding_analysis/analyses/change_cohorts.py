"""Weekly signup cohorts around an onboarding change: retention and time to value per cohort.

:func:`cohort_trend` makes the table of
:attr:`~onboarding_analysis.analyses.change_result.ChangeComparison.cohorts`;
:func:`plot_cohort_trend` draws it with the change date, to tell a step at the change from a
drift.
"""

from __future__ import annotations

import math

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..data import columns as C
from .change_result import AFTER, BEFORE, ChangeComparison
from .incidence import aalen_johansen
from .retention import nday_retention
from .segment_survival import cif_se_before
from .ttfv import VALUE_CAUSE, competing_risks_data

__all__ = ["COHORT_COLUMNS", "COHORT_RETENTION_DAY", "cohort_trend", "plot_cohort_trend"]

#: Day of the retention shown per weekly cohort by :func:`plot_cohort_trend`.
COHORT_RETENTION_DAY = 7
#: Columns of :func:`cohort_trend`.
COHORT_COLUMNS = [
    "cohort",
    "users",
    "period",
    "retention",
    "retention_ci_low",
    "retention_ci_high",
    "eligible",
    "ttfv",
    "ttfv_ci_low",
    "ttfv_ci_high",
]


def cohort_trend(
    table: pd.DataFrame,
    *,
    change: pd.Timestamp | None = None,
    ttfv_day: int = 7,
    retention_day: int = 7,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Weekly signup cohorts: day-N retention and the share reaching value by day D, with CIs.

    Cohorts are ISO weeks of ``t0`` (labelled by their Monday). Retention is the N-day retention
    (``docs/metrics.md``) among the cohort's eligible users (Wilson interval; NaN when none is
    eligible). The TTFV share is the cohort's Aalen-Johansen cumulative incidence just before
    day D; NaN when no user of the cohort has been followed for D days.

    Parameters
    ----------
    table : pandas.DataFrame
        The user-facts table.
    change : pandas.Timestamp, optional
        The change (naive UTC, as ``t0``): each cohort's ``period`` is before, after or both.
    ttfv_day : int, default 7
        The day D.
    retention_day : int, default 7
        The day N.
    alpha : float, default 0.05
        ``1 - alpha`` intervals.

    Returns
    -------
    pandas.DataFrame
        :data:`COHORT_COLUMNS`; ``period`` is before/after ``change`` (empty without one).
    """
    t0 = table[C.T0]
    cohorts = (t0.dt.normalize() - pd.to_timedelta(t0.dt.weekday, unit="D")).rename("cohort")
    data = competing_risks_data(table)
    ages = table[C.AGE].to_numpy(dtype=float)
    rows = []
    for cohort, index in cohorts.groupby(cohorts).groups.items():
        sub = table.loc[index]
        ret = nday_retention(sub, [retention_day], alpha=alpha).iloc[0]
        rows_data = data.loc[index]
        if ages[table.index.get_indexer(index)].max() >= ttfv_day:
            aj = aalen_johansen(rows_data["duration"], rows_data["event"], cause=VALUE_CAUSE, alpha=alpha)
            cif, _, low, high = cif_se_before(aj, ttfv_day)
        else:
            cif = low = high = math.nan
        if change is None:
            period = ""
        else:
            after = sub[C.T0] >= change
            period = AFTER if after.all() else BEFORE if not after.any() else "both"
        rows.append(
            (cohort, len(sub), period, ret.rate, ret.ci_low, ret.ci_high, int(ret.eligible), cif, low, high)
        )
    return pd.DataFrame(rows, columns=COHORT_COLUMNS)


def plot_cohort_trend(result: ChangeComparison, *, ax: Axes | None = None) -> Axes:
    """Weekly signup cohorts' day-7 retention and share reaching value by day 7, with CIs.

    A vertical line marks the change date. Points are the cohort estimates, bands their
    ``1 - alpha`` intervals (Wilson for retention, Aalen-Johansen for TTFV).

    Parameters
    ----------
    result : ChangeComparison
        A result of :func:`~onboarding_analysis.analyses.change.compare_change`: its cohorts.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new 9 x 4 inch figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes with the two cohort series and the change date.

    Examples
    --------
    >>> ax = plot_cohort_trend(compare_change(facts))                      # doctest: +SKIP
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    cohorts = result.cohorts
    x = pd.to_datetime(cohorts["cohort"]).to_numpy()
    level = round(100 * (1 - result.alpha))
    d = result.ttfv_day
    for key, label, color in (
        ("retention", f"active on day {COHORT_RETENTION_DAY}", "C0"),
        ("ttfv", f"reached value by day {d}", "C2"),
    ):
        y = cohorts[key].to_numpy(dtype=float)
        ok = np.isfinite(y)
        if not ok.any():
            continue
        ax.plot(x[ok], y[ok], marker="o", color=color, label=f"{label} ({level}% CI)")
        ax.fill_between(
            x[ok],
            cohorts[f"{key}_ci_low"].to_numpy(dtype=float)[ok],
            cohorts[f"{key}_ci_high"].to_numpy(dtype=float)[ok],
            color=color,
            alpha=0.2,
            linewidth=0,
        )
    ax.axvline(
        result.change_time.to_datetime64(),
        color="C3",
        linestyle="--",
        label=f"onboarding change {result.change_date.isoformat()}",
    )
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_xlabel("signup week (Monday)")
    ax.set_ylabel("share of the cohort")
    ax.set_ylim(0, 1.05)
    ax.set_title("Weekly signup cohorts before and after the onboarding change")
    ax.legend(loc="best", fontsize=8)
    return ax
