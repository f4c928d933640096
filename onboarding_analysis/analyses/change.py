"""Before/after an onboarding change: did the new flow help? (METRICS.md, "Segment comparisons").

Users are split by signup time ``t0`` at params ``change_date`` (the start of that day in params
``timezone``): *before* (``t0 <`` change) and *after* (``t0 >=`` change). The after group is
younger, so its follow-up is shorter; comparing it with the before group's long tail would
compare different stretches of life. Both groups' durations are therefore **administratively
censored at the longest follow-up the after group can have had**, separately for the two kinds
of duration, because they are observed with different delays:

* **TTFV** is censored at the user's age (a value event is in the data as soon as it happens,
  :func:`onboarding_analysis.analyses.ttfv.competing_risks_data`). The longest TTFV follow-up of the
  after group is its oldest user's age, ``tau_v = max(age | after)``. Every user's age is capped
  at ``tau_v`` and value later than ``tau_v`` is not counted.
* **Lifetime**, under the inactivity rule with ``lifetime_censoring: observable`` (the default),
  is censored at ``max(age - inactivity_days, 0)``: a churn at ``L`` is only seen
  ``inactivity_days`` later. The longest lifetime follow-up of the after group is
  ``tau_l = tau_v - inactivity_days`` (:func:`onboarding_analysis.params.churn_delay_days`;
  0 with ``churn_event`` or ``lifetime_censoring: observation_end``). Lifetimes beyond ``tau_l``
  become censored at ``tau_l`` and churns after ``tau_l`` are not counted.

Figures read before the cap (TTFV by day 7, day-30 retention) are unchanged by it; it matters
for the log-rank test, the Cox model and the RMST, which use the whole curve. Then the same
comparison as for segments runs on the two groups (:func:`onboarding_analysis.analyses.segments`,
reference *before*), plus the two differences the change is judged by:

* **reached value by day 7**: after minus before, the difference of two Aalen-Johansen
  cumulative incidences, with the two delta-method standard errors combined
  (``se = sqrt(se_a**2 + se_b**2)``, independent groups) and a normal interval;
* **day-30 retention**: after minus before among eligible users, with Newcombe's hybrid score
  interval for a difference of proportions (statsmodels ``confint_proportions_2indep``,
  ``method="newcomb"``), which stays inside [-1, 1] and behaves with small counts.

Lifetime: log-rank p and the Cox hazard ratio *after vs before* among users active after signup
(see :mod:`onboarding_analysis.analyses.segments` for that estimand), adjusted by default for the params
``segments`` (a change in the mix of personas or plans over time would otherwise pass for an
effect of the change). A before/after comparison is not an experiment: anything else that
changed at the same time (season, marketing, pricing) is mixed into the difference. The cohort
trend plot (:func:`plot_cohort_trend`) shows whether the step is at the change date or a drift.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy.stats import norm
from statsmodels.stats.proportion import confint_proportions_2indep

from ..absence import NotComputable
from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError, ParamsError
from ..params import Params, churn_delay_days
from ..stats.finite import finite_or_none
from ..stats.intervals import check_alpha
from .incidence import aalen_johansen
from .retention import nday_retention
from .segments import SegmentComparison, cif_se_before, compare_table, completion_flags
from .ttfv import VALUE_CAUSE, competing_risks_data

__all__ = [
    "ChangeComparison",
    "capped_table",
    "change_metrics",
    "change_summary",
    "cohort_trend",
    "compare_change",
    "plot_cohort_trend",
]

BEFORE, AFTER = "before", "after"
#: Day of the retention shown per weekly cohort by :func:`plot_cohort_trend`.
COHORT_RETENTION_DAY = 7
#: Name of the period column added to the truncated table.
PERIOD = "onboarding"
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
        The caps ``tau_v`` and ``tau_l`` of the module docstring.
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


def change_timestamp(change_date: dt.date, params: Params) -> pd.Timestamp:
    """Start of ``change_date`` in params ``timezone``, as a naive UTC timestamp (like ``t0``)."""
    start = dt.datetime.combine(change_date, dt.time(), tzinfo=zoneinfo.ZoneInfo(params.timezone))
    return pd.Timestamp(start.astimezone(dt.UTC).replace(tzinfo=None))


def _check_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ParamsError(
            f"change_date must be a date such as 2024-04-01 (no time of day), but was {value!r}"
        )
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ParamsError(f"change_date must be a date such as 2024-04-01, but was {value!r}")


def _absence(
    table: pd.DataFrame, after: np.ndarray, change_date: dt.date, params: Params
) -> NotComputable | None:
    """Why this data cannot give a before/after comparison at ``change_date`` (None if it can)."""
    n_after, n_before = int(after.sum()), int((~after).sum())
    known = {"change_date": change_date.isoformat(), "before_users": n_before, "after_users": n_after}
    when = change_date.isoformat()
    if len(table) == 0:
        return NotComputable(f"no users to split at the change date {when}", facts=known)
    signups = f"signups {table[C.T0].min():%Y-%m-%d} to {table[C.T0].max():%Y-%m-%d}"
    if n_after == 0 or n_before == 0:
        side = "after" if n_after == 0 else "before"
        return NotComputable(
            f"no user signed up {side} the change date {when} ({signups}): the before/after "
            f"comparison needs users on both sides",
            facts=known,
        )
    ttfv_cap = float(table.loc[after, C.AGE].max())
    delay = churn_delay_days(params) or 0.0
    if ttfv_cap - delay <= 0:
        return NotComputable(
            f"the users who signed up after {when} have been observed for at most {ttfv_cap:.1f} "
            f"days, less than the churn delay (inactivity_days = {params.inactivity_days}): no churn "
            f"can be observed yet, wait for more data",
            facts=known,
        )
    return None


def capped_table(table: pd.DataFrame, ttfv_cap: float, lifetime_cap: float) -> pd.DataFrame:
    """Administrative censoring of the user-facts table (see the module docstring).

    ``age_days`` capped at ``ttfv_cap`` (value later than the cap removed), ``lifetime_days`` at
    ``lifetime_cap`` (churn later than the cap becomes censoring at the cap).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"age_days": [90.0, 40.0], "lifetime_days": [70.0, 5.0],
    ...                   "churned": [True, True], "value_days": [65.0, 1.0]})
    >>> capped_table(t, 60.0, 30.0).to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'age_days': [60.0, 40.0], 'lifetime_days': [30.0, 5.0], 'churned': [False, True],
     'value_days': [nan, 1.0]}
    """
    out = table.copy()
    lifetime = out[C.LIFETIME].to_numpy(dtype=float)
    out[C.CHURNED] = out[C.CHURNED].to_numpy(dtype=bool) & (lifetime <= lifetime_cap)
    out[C.LIFETIME] = np.minimum(lifetime, lifetime_cap)
    out[C.AGE] = np.minimum(out[C.AGE].to_numpy(dtype=float), ttfv_cap)
    value = out[C.VALUE].to_numpy(dtype=float)
    out[C.VALUE] = np.where(value <= ttfv_cap, value, np.nan)
    return out


def compare_change(
    facts: Facts,
    change_date: dt.date | str | None = None,
    *,
    alpha: float = 0.05,
    adjust_for: Sequence[str] | None = None,
    compress: bool = True,
    ttfv_day: int = 7,
    retention_day: int = 30,
    skip_if_not_computable: bool = False,
) -> ChangeComparison | NotComputable:
    """Compare signups before and after an onboarding change (see the module docstring).

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`.
    change_date : date or ISO string, optional
        Default params ``change_date``.
    alpha : float, default 0.05
        ``1 - alpha`` intervals.
    adjust_for : sequence of str, optional
        Columns the Cox model adjusts for; default the params ``segments`` present in the table.
    compress : bool, default True
        Fit on unique rows with frequency weights.
    ttfv_day, retention_day : int, default 7 and 30
        Days of the TTFV and retention differences.
    skip_if_not_computable : bool, default False
        When the data cannot give a comparison (no user on one side of the change, or the
        after group too young for any churn to be observable), return a
        :class:`~onboarding_analysis.absence.NotComputable` naming the reason instead of raising
        (the report's choice: the section is skipped with a note, the rest of the report
        goes on).

    Returns
    -------
    ChangeComparison or NotComputable
        The latter only with ``skip_if_not_computable``; its ``facts`` hold ``change_date``,
        ``before_users`` and ``after_users``.

    Raises
    ------
    ParamsError
        No change date, or a change date that is not a date.
    DataError
        Without ``skip_if_not_computable``: no users on one side of the change, or the after
        group too young for any churn to be observable.

    Examples
    --------
    >>> import onboarding_analysis as oa                                   # doctest: +SKIP
    >>> facts = oa.compute_facts(oa.load_params("params/demo.yaml"))       # doctest: +SKIP
    >>> result = compare_change(facts)                                     # doctest: +SKIP
    >>> result.ttfv_diff, result.hazard_ratio                              # doctest: +SKIP
    """
    if not isinstance(facts, Facts):
        raise TypeError(
            f"facts must be a Facts object (onboarding_analysis.compute_facts), but was {type(facts)!r}"
        )
    alpha = check_alpha(alpha)
    params = facts.params
    if change_date is None:
        change_date = params.change_date
    if change_date is None:
        raise ParamsError(
            f"{params.where}: no change date: set params change_date (e.g. 2024-04-01) to compare "
            f"signups before and after an onboarding change"
        )
    change_date = _check_date(change_date)
    change = change_timestamp(change_date, params)
    table = facts.table
    after = (table[C.T0] >= change).to_numpy()
    n_after, n_before = int(after.sum()), int((~after).sum())
    absence = _absence(table, after, change_date, params)
    if absence is not None:
        if skip_if_not_computable:
            return absence
        raise DataError(f"{absence.reason}; check params change_date")
    ttfv_cap = float(table.loc[after, C.AGE].max())
    lifetime_cap = ttfv_cap - (churn_delay_days(params) or 0.0)
    capped = capped_table(table, ttfv_cap, lifetime_cap)
    capped[PERIOD] = np.where(after, AFTER, BEFORE)
    if adjust_for is None:
        adjust_for = tuple(s for s in params.segments if s in table.columns)
    days = sorted({*params.retention_days, retention_day})
    comparison = compare_table(
        capped,
        PERIOD,
        params=params,
        completion=completion_flags(facts),
        reference=BEFORE,
        p_adjust=params.p_adjust,
        min_size=1,
        alpha=alpha,
        compress_rows=compress,
        adjust_for=tuple(adjust_for),
        grid_hours=params.compression_grid_hours,
        retention_days=days,
        ttfv_day=ttfv_day,
        horizon_days=min(float(params.rmst_horizon_days), lifetime_cap),
        label=f"onboarding change {change_date.isoformat()}",
    )
    z = norm.ppf(1 - alpha / 2)
    ttfv_b = cif_se_before(comparison.incidence[BEFORE], ttfv_day)
    ttfv_a = cif_se_before(comparison.incidence[AFTER], ttfv_day)
    diff = ttfv_a[0] - ttfv_b[0]
    se = math.hypot(ttfv_a[1], ttfv_b[1])
    groups = comparison.groups.set_index("group")
    key = f"retention_day_{retention_day}"
    ret = {
        name: (
            float(groups.loc[name, key]),
            int(groups.loc[name, f"{key}_eligible"]),
            int(groups.loc[name, f"{key}_retained"]),
        )
        for name in (BEFORE, AFTER)
    }
    (_, n_b, k_b), (_, n_a, k_a) = ret[BEFORE], ret[AFTER]
    if n_a > 0 and n_b > 0:
        low, high = confint_proportions_2indep(
            k_a, n_a, k_b, n_b, method="newcomb", compare="diff", alpha=alpha
        )
        ret_diff = k_a / n_a - k_b / n_b
    else:
        low = high = ret_diff = math.nan
    tests = comparison.tests
    chi = tests[
        (tests["family"] == "retention chi-square") & tests["test"].str.contains(f"day-{retention_day} ")
    ]
    row = groups.loc[AFTER]
    return ChangeComparison(
        change_date=change_date,
        change_time=change,
        before_users=n_before,
        after_users=n_after,
        ttfv_follow_up_days=ttfv_cap,
        lifetime_follow_up_days=lifetime_cap,
        ttfv_day=ttfv_day,
        ttfv_before=ttfv_b,
        ttfv_after=ttfv_a,
        ttfv_diff=diff,
        ttfv_diff_ci_low=diff - z * se,
        ttfv_diff_ci_high=diff + z * se,
        ttfv_diff_p=float(2 * norm.sf(abs(diff) / se)) if se > 0 else math.nan,
        retention_day=retention_day,
        retention_before=ret[BEFORE],
        retention_after=ret[AFTER],
        retention_diff=float(ret_diff),
        retention_diff_ci_low=float(low),
        retention_diff_ci_high=float(high),
        retention_diff_p=float(chi["p_raw"].iloc[0]) if len(chi) else math.nan,
        logrank_statistic=comparison.logrank_statistic,
        logrank_p=comparison.logrank_p,
        hazard_ratio=float(row["hazard_ratio"]),
        hr_ci_low=float(row["hr_ci_low"]),
        hr_ci_high=float(row["hr_ci_high"]),
        hr_p=float(row["hr_p_raw"]),
        ph_warning=str(row["ph_warning"]),
        comparison=comparison,
        cohorts=cohort_trend(
            table, change=change, ttfv_day=ttfv_day, retention_day=COHORT_RETENTION_DAY, alpha=alpha
        ),
        adjust_for=tuple(adjust_for),
        alpha=alpha,
        hr_note=str(row["hr_note"]),
    )


def cohort_trend(
    table: pd.DataFrame,
    *,
    change: pd.Timestamp | None = None,
    ttfv_day: int = 7,
    retention_day: int = 7,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Weekly signup cohorts: day-N retention and the share reaching value by day D, with CIs.

    Cohorts are ISO weeks of ``t0`` (labelled by their Monday). Retention is METRICS.md's N-day
    retention among the cohort's eligible users (Wilson interval; NaN when none is eligible).
    The TTFV share is the cohort's Aalen-Johansen cumulative incidence just before day D; NaN
    when no user of the cohort has been followed for D days.

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


def change_summary(result: ChangeComparison) -> pd.DataFrame:
    """The headline comparison as a small table: ``what, before, after, difference, ci_low, ci_high, p``."""
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


def plot_cohort_trend(result: ChangeComparison, *, ax: Axes | None = None) -> Axes:
    """Weekly signup cohorts' day-7 retention and share reaching value by day 7, with CIs.

    A vertical line marks the change date. Points are the cohort estimates, bands their
    ``1 - alpha`` intervals (Wilson for retention, Aalen-Johansen for TTFV).

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
