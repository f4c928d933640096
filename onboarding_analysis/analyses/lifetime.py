"""User lifetime: Kaplan-Meier survival, median and RMST (docs/metrics.md, "Lifetime").

The input is the user-facts table's ``lifetime_days`` (fractional days from signup to churn, or
to the censoring time) and ``churned`` (True if churn was observed). The estimator is lifelines'
:class:`~lifelines.KaplanMeierFitter`; this module only picks the headline numbers off it, with
two conventions that lifelines leaves to the caller:

* "survival at day N" is the estimate just *before* N, ``P(lifetime >= N)``: the left limit of
  the Kaplan-Meier step function (docs/metrics.md, "Survival at day N"). Day-granular exports put many
  lifetimes on whole numbers, and a user who churned at exactly N days was still there *by*
  day N.
* the standard error of the restricted mean survival time (RMST) is the Greenwood-type
  estimator of Klein & Moeschberger (2003, section 4.5), as R's ``print.survfit`` reports it.
  lifelines' ``restricted_mean_survival_time(..., return_variance=True)`` returns the variance
  of ``min(T, horizon)`` in the population, not the sampling variance of the estimate, so it
  cannot serve as an SE.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times, restricted_mean_survival_time
from numpy.typing import ArrayLike

from ..absence import NotComputable
from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError, StatisticalWarning
from ..stats.finite import finite_or_none
from ..stats.intervals import check_alpha
from .retention_inputs import facts_table

__all__ = ["LifetimeResult", "fit_lifetime", "lifetime_metrics"]

#: Columns of :attr:`LifetimeResult.survival`.
SURVIVAL_COLUMNS = ["day", "survival", "ci_low", "ci_high", "at_risk"]


@dataclass(frozen=True)
class LifetimeResult:
    """A fitted lifetime curve and its headline numbers.

    Attributes
    ----------
    kmf : lifelines.KaplanMeierFitter
        The fitted estimator (log-log "exponential Greenwood" confidence band).
    survival : pandas.DataFrame
        ``day, survival, ci_low, ci_high, at_risk``: ``P(lifetime >= day)`` (the estimate just
        before ``day``), its confidence interval, and the users still at risk then.
    median_days : float or None
        Median lifetime: the first time the curve is at or below 0.5; None if not reached.
    median_ci_low, median_ci_high : float or None
        Where the confidence band's lower and upper curves reach 0.5; None if not reached.
    rmst_days, rmst_se : float
        Restricted mean lifetime up to ``horizon_days`` (the expected number of days, out of
        the first ``horizon_days``, a user stays) and its standard error.
    horizon_days : float
        RMST horizon.
    alpha : float
        The intervals are ``1 - alpha`` intervals.
    churned, censored, users : int
        Users with churn observed, censored users, and the users fitted (``churned + censored``).
    unobservable : int
        Users left out because they were censored at duration 0 (see :func:`fit_lifetime`).
    """

    kmf: KaplanMeierFitter
    survival: pd.DataFrame
    median_days: float | None
    median_ci_low: float | None
    median_ci_high: float | None
    rmst_days: float
    rmst_se: float
    horizon_days: float
    alpha: float
    churned: int
    censored: int
    users: int
    unobservable: int = 0


def _check_inputs(
    facts: pd.DataFrame, weights: str | ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(facts, pd.DataFrame):
        raise TypeError(f"facts must be a pandas DataFrame (the user-facts table), but was {type(facts)!r}")
    missing = [col for col in (C.LIFETIME, C.CHURNED) if col not in facts.columns]
    if missing:
        raise DataError(
            f"fit_lifetime needs the user-facts column(s) {missing}, which are missing; "
            f"build the table with onboarding_analysis.data.facts"
        )
    durations = pd.to_numeric(facts[C.LIFETIME], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(durations) | (durations < 0)
    if bad.any():
        rows = facts.index[bad][:5].tolist()
        raise DataError(
            f"column {C.LIFETIME!r} must hold finite non-negative durations in days, but rows {rows} "
            f"do not (values {durations[bad][:5].tolist()}); try pd.isnull to find the problematic values"
        )
    churned = facts[C.CHURNED]
    if churned.isna().any() or not churned.isin([True, False]).all():
        raise DataError(f"column {C.CHURNED!r} must be True/False for every user")
    events = churned.to_numpy(dtype=bool)

    if weights is None:
        w = np.ones(len(facts), dtype=float)
    else:
        if isinstance(weights, str):
            if weights not in facts.columns:
                raise DataError(f"weights column {weights!r} is not in the facts table")
            weights = facts[weights]
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(facts),):
            raise ValueError(f"weights must have one value per row ({len(facts)}), but has shape {w.shape}")
        if not np.isfinite(w).all() or (w < 1).any() or (w != np.floor(w)).any():
            raise ValueError(
                "weights must be whole numbers >= 1 (frequency weights: how many users each row "
                f"stands for), but include {w[~np.isfinite(w) | (w < 1) | (w != np.floor(w))][:5].tolist()}"
            )
    if len(facts) == 0:
        raise DataError("the facts table has no users: there is no lifetime to estimate")
    return durations, events, w


def _survival_before(
    kmf: KaplanMeierFitter, days: list[int], durations: np.ndarray, w: np.ndarray
) -> pd.DataFrame:
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_survival_function_
    lower = ci[[col for col in ci.columns if "_lower_" in col][0]]
    upper = ci[[col for col in ci.columns if "_upper_" in col][0]]
    timeline = sf.index.to_numpy(dtype=float)
    rows = []
    for day in days:
        # Left limit S(day-): the value at the last timeline point strictly before `day`.
        before = np.searchsorted(timeline, day, side="left") - 1
        if before < 0:
            survival, low, high = 1.0, 1.0, 1.0
        else:
            survival, low, high = float(sf.iloc[before]), float(lower.iloc[before]), float(upper.iloc[before])
        at_risk = w[durations >= day].sum()
        if at_risk == 0:  # nobody observed that long: the curve says nothing about day N
            survival, low, high = np.nan, np.nan, np.nan
        rows.append((day, survival, low, high, int(at_risk)))
    table = pd.DataFrame(rows, columns=SURVIVAL_COLUMNS)
    unknown = [int(day) for day, n in zip(table["day"], table["at_risk"], strict=True) if n == 0]
    if unknown:
        table.attrs["note"] = (
            f"Not estimable on day {', '.join(map(str, unknown))}: no user has been observed that long."
        )
    return table.astype({"day": np.int64, "at_risk": np.int64})


def _rmst_se(kmf: KaplanMeierFitter, horizon: float) -> float:
    """Greenwood-type SE of the KM area up to ``horizon`` (Klein & Moeschberger 2003, eq. 4.5.2).

    ``Var = sum_{t_j <= horizon} A_j**2 * d_j / (n_j * (n_j - d_j))`` with
    ``A_j = integral_{t_j}^{horizon} S(u) du``; terms with ``n_j == d_j`` are 0, as in R.
    Vectorised (one pass over lifelines' timeline and event table, no Python loop).
    """
    sf = kmf.survival_function_.iloc[:, 0]
    times = sf.index.to_numpy(dtype=float)
    values = sf.to_numpy(dtype=float)
    # Area of the step function from 0 to each timeline point, then to the horizon.
    keep = times <= horizon
    knots = np.append(times[keep], horizon)
    steps = np.diff(knots) * values[keep]
    area_to = np.concatenate(([0.0], np.cumsum(steps)))
    area_after = area_to[-1] - area_to[:-1]  # integral from each kept timeline point to the horizon

    table = kmf.event_table
    event_times = table.index.to_numpy(dtype=float)
    deaths = table["observed"].to_numpy(dtype=float)
    at_risk = table["at_risk"].to_numpy(dtype=float)
    used = (event_times <= horizon) & (deaths > 0) & (at_risk > deaths)
    if not used.any():
        return 0.0
    kept_times = times[keep]
    position = np.searchsorted(kept_times, event_times[used])
    if (position >= kept_times.size).any() or (kept_times[position] != event_times[used]).any():
        raise RuntimeError("the event table's times are not on the Kaplan-Meier timeline")  # pragma: no cover
    d, n = deaths[used], at_risk[used]
    return math.sqrt(float(np.sum(area_after[position] ** 2 * d / (n * (n - d)))))


def _check_options(days: Iterable[int], horizon_days: float) -> tuple[list[int], float]:
    """The report days as ints and the RMST horizon as a float, checked."""
    days = list(days)
    for day in days:
        if isinstance(day, bool) or not isinstance(day, (int, np.integer)) or day < 0:
            raise ValueError(f"days must hold non-negative whole numbers of days, but include {day!r}")
    try:
        horizon = float(horizon_days)
    except (TypeError, ValueError) as err:
        raise ValueError(f"horizon_days must be a positive number of days, but was {horizon_days!r}") from err
    if not (math.isfinite(horizon) and horizon > 0):
        raise ValueError(f"horizon_days must be a positive number of days, but was {horizon_days!r}")
    return [int(day) for day in days], horizon


def fit_lifetime(
    facts: Facts | pd.DataFrame,
    *,
    days: Iterable[int] | None = None,
    horizon_days: float | None = None,
    alpha: float = 0.05,
    weights: str | ArrayLike | None = None,
    skip_if_not_computable: bool = False,
) -> LifetimeResult | NotComputable:
    """Fit the Kaplan-Meier lifetime curve and read off its headline numbers.

    Parameters
    ----------
    facts : Facts or pandas.DataFrame
        The facts of :func:`onboarding_analysis.data.pipeline.compute_facts`, or a table with
        ``lifetime_days`` and ``churned`` (the user-facts table, or e.g. one row per distinct
        ``(lifetime_days, churned)`` pair with ``weights``).
    days : iterable of int, optional
        Days N at which to report ``P(lifetime >= N)``; by default params ``retention_days`` of
        a Facts object, ``(1, 7, 30)`` for a bare table.
    horizon_days : float, optional
        Horizon of the restricted mean survival time; by default params ``rmst_horizon_days``
        of a Facts object, 90 for a bare table. A ``StatisticalWarning`` is raised if it
        lies beyond the longest observed lifetime while the curve has not reached 0: the RMST
        then assumes the last survival value holds until the horizon.
    alpha : float, default 0.05
        The intervals are ``1 - alpha`` intervals.
    weights : str or array-like, optional
        Frequency weights (a column name or one value per row): how many users each row stands
        for; whole numbers >= 1. The fit equals the unweighted fit on the expanded rows.
    skip_if_not_computable : bool, default False
        When no user has been observed for any time (every user censored at 0: all younger
        than ``inactivity_days``), return a :class:`~onboarding_analysis.absence.NotComputable`
        saying so instead of raising (the report's choice: the section is skipped with a note).
        Its ``facts`` hold ``not_yet_observable``, ``days`` and ``horizon_days``.

    Returns
    -------
    LifetimeResult or NotComputable
        The fitted curve and its headline numbers; a ``NotComputable`` only with
        ``skip_if_not_computable``.

    Raises
    ------
    DataError
        Without ``skip_if_not_computable``: no user observed for any time; also a missing or
        malformed ``lifetime_days`` or ``churned`` column.
    ValueError
        ``days``, ``horizon_days``, ``alpha`` or ``weights`` out of range.

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"lifetime_days": [1.0, 2.0, 2.0, 3.0], "churned": [True, True, True, False]})
    >>> result = fit_lifetime(facts, days=[1, 2, 3], horizon_days=3)
    >>> result.survival[["day", "survival", "at_risk"]]
       day  survival  at_risk
    0    1      1.00        4
    1    2      0.75        3
    2    3      0.25        1
    >>> result.median_days, result.rmst_days
    (2.0, 2.0)
    """
    alpha = check_alpha(alpha)
    _, days = facts_table(facts, days, "retention_days", default=(1, 7, 30))
    facts, horizon_days = facts_table(facts, horizon_days, "rmst_horizon_days", default=90)
    days, horizon = _check_options(days, horizon_days)
    durations, events, w = _check_inputs(facts, weights)
    # A user censored at duration 0 was never observed for any time (under the inactivity rule:
    # younger than inactivity_days). Kept, they would sit in the risk set at t = 0 and be
    # counted as surviving the deaths at 0 (users never active after signup), which biases
    # survival upwards; they carry no information, so they are left out and counted.
    informative = events | (durations > 0)
    unobservable = int(w[~informative].sum())
    if not informative.any():
        reason = (
            f"no user has been observed long enough for a lifetime: all {unobservable} users are "
            "censored at 0 (younger than inactivity_days?); wait for more data or lower inactivity_days"
        )
        if skip_if_not_computable:
            known = {"not_yet_observable": unobservable, "days": days, "horizon_days": horizon}
            return NotComputable(reason, facts=known)
        raise DataError(f"{reason}.")
    durations, events, w = durations[informative], events[informative], w[informative]
    kmf = KaplanMeierFitter(alpha=alpha, label="lifetime")
    # The curve and its interval only step at churn times: evaluated there (plus 0 and the
    # longest lifetime, so the plotted curve still runs to the end of follow-up), every figure
    # read off it is the one on lifelines' default timeline (each distinct duration), and
    # lifelines' reindexing (a Python list of every timeline point) shrinks by the censored
    # times: about 1 s per million users.
    timeline = np.unique(np.concatenate(([0.0], durations[events], [durations.max()])))
    kmf.fit(durations, event_observed=events, timeline=timeline, weights=None if weights is None else w)

    survival = _survival_before(kmf, days, durations, w)
    median_ci = median_survival_times(kmf.confidence_interval_survival_function_)
    low_col = [col for col in median_ci.columns if "_lower_" in col][0]
    high_col = [col for col in median_ci.columns if "_upper_" in col][0]

    last_time = float(durations.max())
    if horizon > last_time and float(kmf.survival_function_.iloc[-1, 0]) > 0:
        warnings.warn(
            f"rmst_horizon_days={horizon:g} is beyond the longest observed lifetime ({last_time:g} "
            f"days): the RMST assumes the last survival value holds until the horizon. Use a "
            f"horizon within the follow-up, or wait for more data.",
            StatisticalWarning,
            stacklevel=2,
        )
    rmst = float(restricted_mean_survival_time(kmf, t=horizon))

    users = int(w.sum())
    churned = int(w[events].sum())
    return LifetimeResult(
        kmf=kmf,
        survival=survival,
        median_days=finite_or_none(kmf.median_survival_time_),
        median_ci_low=finite_or_none(median_ci[low_col].iloc[0]),
        median_ci_high=finite_or_none(median_ci[high_col].iloc[0]),
        rmst_days=rmst,
        rmst_se=_rmst_se(kmf, horizon),
        horizon_days=horizon,
        alpha=alpha,
        churned=churned,
        censored=users - churned,
        users=users,
        unobservable=unobservable,
    )


def lifetime_metrics(result: LifetimeResult) -> dict[str, dict]:
    """Headline lifetime numbers as a JSON-ready dict.

    Parameters
    ----------
    result : LifetimeResult or NotComputable
        Output of :func:`fit_lifetime`.

    Returns
    -------
    dict
        ``{"lifetime": {not_computable, median_days, median_ci_low, median_ci_high, rmst_days,
        rmst_se, horizon_days, churned, censored, not_yet_observable, "survival":
        {"day_<N>": float}, "survival_ci": {"day_<N>": [low, high]}}}`` of plain ints and
        floats, ``None`` where not estimable (e.g. a median that is not reached);
        ``not_computable`` is None or the reason no lifetime could be estimated at all.

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"lifetime_days": [5.0, 9.0], "churned": [False, False]})
    >>> metrics = lifetime_metrics(fit_lifetime(facts, days=[1], horizon_days=5))
    >>> metrics["lifetime"]["median_days"], metrics["lifetime"]["survival"]
    (None, {'day_1': 1.0})
    """
    if isinstance(result, NotComputable):
        known = result.facts
        days = [int(day) for day in known.get("days", ())]
        return {
            "lifetime": {
                "not_computable": result.reason,
                **dict.fromkeys(("median_days", "median_ci_low", "median_ci_high", "rmst_days", "rmst_se")),
                "horizon_days": finite_or_none(known.get("horizon_days")),
                "churned": 0,
                "censored": 0,
                "not_yet_observable": int(known.get("not_yet_observable", 0)),
                "survival": {f"day_{day}": None for day in days},
                "survival_ci": {f"day_{day}": [None, None] for day in days},
            }
        }
    survival = result.survival
    return {
        "lifetime": {
            "not_computable": None,
            "median_days": result.median_days,
            "median_ci_low": result.median_ci_low,
            "median_ci_high": result.median_ci_high,
            "rmst_days": finite_or_none(result.rmst_days),
            "rmst_se": finite_or_none(result.rmst_se),
            "horizon_days": finite_or_none(result.horizon_days),
            "churned": int(result.churned),
            "censored": int(result.censored),
            "not_yet_observable": int(result.unobservable),
            "survival": {
                f"day_{int(row.day)}": finite_or_none(row.survival) for row in survival.itertuples()
            },
            "survival_ci": {
                f"day_{int(row.day)}": [finite_or_none(row.ci_low), finite_or_none(row.ci_high)]
                for row in survival.itertuples()
            },
        }
    }
