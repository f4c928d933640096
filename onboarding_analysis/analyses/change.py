"""Before/after an onboarding change: did the new flow help? (``docs/metrics.md``).

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
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.stats.proportion import confint_proportions_2indep

from ..absence import NotComputable
from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError, ParamsError
from ..params import Params, churn_delay_days
from ..stats.intervals import check_alpha
from .change_cohorts import COHORT_COLUMNS, COHORT_RETENTION_DAY, cohort_trend, plot_cohort_trend
from .change_result import AFTER, BEFORE, ChangeComparison
from .change_tables import change_metrics, change_summary
from .segment_result import SegmentComparison
from .segment_survival import cif_se_before
from .segments import compare_table, completion_flags

__all__ = [
    "AFTER",
    "BEFORE",
    "COHORT_COLUMNS",
    "COHORT_RETENTION_DAY",
    "ChangeComparison",
    "capped_table",
    "change_metrics",
    "change_summary",
    "change_timestamp",
    "cohort_trend",
    "compare_change",
    "plot_cohort_trend",
]

#: Name of the period column added to the truncated table.
PERIOD = "onboarding"


def change_timestamp(change_date: dt.date, params: Params) -> pd.Timestamp:
    """Start of ``change_date`` in params ``timezone``, as a naive UTC timestamp (like ``t0``).

    Parameters
    ----------
    change_date : datetime.date
        The day of the change.
    params : Params
        The run's params (``timezone``).

    Returns
    -------
    pandas.Timestamp
        Midnight of that day in the params time zone, in UTC without a time zone.

    Examples
    --------
    >>> import datetime as dt
    >>> from onboarding_analysis.params import validate_params
    >>> params = validate_params({"events": "events.csv", "timezone": "Europe/Paris"})
    >>> change_timestamp(dt.date(2024, 4, 1), params)
    Timestamp('2024-03-31 22:00:00')
    """
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

    Parameters
    ----------
    table : pandas.DataFrame
        The user-facts table (``age_days``, ``lifetime_days``, ``churned``, ``value_days``).
    ttfv_cap : float
        The longest TTFV follow-up of the after group, ``tau_v``.
    lifetime_cap : float
        The longest lifetime follow-up of the after group, ``tau_l``.

    Returns
    -------
    pandas.DataFrame
        A capped copy of ``table``.

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
    change_date = _change_date(params, change_date)
    change = change_timestamp(change_date, params)
    table = facts.table
    after = (table[C.T0] >= change).to_numpy()
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
        retention_days=sorted({*params.retention_days, retention_day}),
        ttfv_day=ttfv_day,
        horizon_days=min(float(params.rmst_horizon_days), lifetime_cap),
        label=f"onboarding change {change_date.isoformat()}",
    )
    row = comparison.groups.set_index("group").loc[AFTER]
    return ChangeComparison(
        change_date=change_date,
        change_time=change,
        before_users=int((~after).sum()),
        after_users=int(after.sum()),
        ttfv_follow_up_days=ttfv_cap,
        lifetime_follow_up_days=lifetime_cap,
        **_ttfv_difference(comparison, ttfv_day, alpha),
        **_retention_difference(comparison, retention_day, alpha),
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


def _change_date(params: Params, change_date: dt.date | str | None) -> dt.date:
    """The change date asked for, else params ``change_date``, checked to be a date."""
    if change_date is None:
        change_date = params.change_date
    if change_date is None:
        raise ParamsError(
            f"{params.where}: no change date: set params change_date (e.g. 2024-04-01) to compare "
            f"signups before and after an onboarding change"
        )
    return _check_date(change_date)


def _ttfv_difference(comparison: SegmentComparison, ttfv_day: int, alpha: float) -> dict[str, Any]:
    """Reached value by ``ttfv_day``, after minus before: the :class:`ChangeComparison` fields.

    The difference of two Aalen-Johansen cumulative incidences, the two delta-method standard
    errors combined (independent groups), a normal interval and a two-sided p-value.
    """
    z = norm.ppf(1 - alpha / 2)
    ttfv_b = cif_se_before(comparison.incidence[BEFORE], ttfv_day)
    ttfv_a = cif_se_before(comparison.incidence[AFTER], ttfv_day)
    diff = ttfv_a[0] - ttfv_b[0]
    se = math.hypot(ttfv_a[1], ttfv_b[1])
    return dict(
        ttfv_day=ttfv_day,
        ttfv_before=ttfv_b,
        ttfv_after=ttfv_a,
        ttfv_diff=diff,
        ttfv_diff_ci_low=diff - z * se,
        ttfv_diff_ci_high=diff + z * se,
        ttfv_diff_p=float(2 * norm.sf(abs(diff) / se)) if se > 0 else math.nan,
    )


def _retention_difference(comparison: SegmentComparison, retention_day: int, alpha: float) -> dict[str, Any]:
    """Day-N retention, after minus before: the :class:`ChangeComparison` fields.

    Newcombe's hybrid score interval (statsmodels ``confint_proportions_2indep``); the p-value of
    the comparison's chi-square test of that day.
    """
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
    return dict(
        retention_day=retention_day,
        retention_before=ret[BEFORE],
        retention_after=ret[AFTER],
        retention_diff=float(ret_diff),
        retention_diff_ci_low=float(low),
        retention_diff_ci_high=float(high),
        retention_diff_p=float(chi["p_raw"].iloc[0]) if len(chi) else math.nan,
    )
