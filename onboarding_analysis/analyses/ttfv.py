"""Time to first value (TTFV): cumulative incidence of value, churn competing (METRICS.md, "TTFV").

A signup reaches value, or churns first (and then can no longer reach value), or is still
undecided at the observation end (censored). The share that has reached value by day N is the
Aalen-Johansen cumulative incidence function (CIF) of value with churn as the competing event.
Two tempting shortcuts are biased: ``1 - Kaplan-Meier`` with churners censored treats them as if
they could still reach value (too high), and the median time among converters ignores everyone
still on the way (too short; reported anyway, labelled, as :attr:`TTFVResult.naive_median_days_converters`).

The estimator is computed here, exactly, rather than with lifelines' ``AalenJohansenFitter``:
lifelines (0.30) breaks tied times by random jitter, so on day-granular exports its estimate
changes with the seed. With the all-cause Kaplan-Meier ``S`` and, at each distinct event time
``t_j``, ``n_j`` users at risk (durations ``>= t_j``: a censoring at ``t_j`` counts as after the
events at ``t_j``), ``d_j`` events of any cause and ``d_kj`` of cause ``k``::

    CIF_k(t) = sum_{t_j <= t} S(t_j-) * d_kj / n_j

The conventions of METRICS.md, "Time base", apply: "reached value by day N" is the estimate just
*before* N, ``P(TTFV < N)`` (:func:`cif_before`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from numpy.typing import ArrayLike
from scipy.stats import norm

from ..data import columns as C
from ..errors import DataError, StatisticalWarning
from ..stats.intervals import check_alpha

__all__ = [
    "INCIDENCE_COLUMNS",
    "Quantile",
    "TTFVResult",
    "aalen_johansen",
    "cif_before",
    "cif_quantile",
    "competing_risks_data",
    "fit_ttfv",
    "plot_ttfv",
    "ttfv_metrics",
]

#: Columns of the table returned by :func:`aalen_johansen`.
INCIDENCE_COLUMNS = ["time", "at_risk", "events_cause", "events_any", "cif", "se", "ci_low", "ci_high"]
#: Columns of :attr:`TTFVResult.reached_by`.
REACHED_BY_COLUMNS = ["day", "rate", "ci_low", "ci_high", "at_risk"]
#: Columns of the frame returned by :func:`competing_risks_data`.
DURATION, EVENT = "duration", "event"
#: Event codes of :func:`competing_risks_data`.
CENSORED, VALUE_CAUSE, CHURN_CAUSE = 0, 1, 2
#: Shares whose "days to" are reported.
DAYS_TO_PERCENTS = (25, 50, 75)

# A cumulative sum of exact fractions (e.g. 1/6 + 1/3) can land a few ulps below the exact
# value; "the CIF reaches p" is tested with this absolute tolerance so that an exactly 50% step
# counts as reaching 50%.
_REACH_TOLERANCE = 1e-12


class Quantile(NamedTuple):
    """The first time a cumulative incidence reaches a share, with its confidence interval.

    ``days`` is None when the estimate never reaches the share ("not reached"); ``ci_low`` is
    where the upper confidence band reaches it, ``ci_high`` where the lower band does (None if
    it never does: the interval is open-ended).
    """

    days: float | None
    ci_low: float | None
    ci_high: float | None


# --- the estimator --------------------------------------------------------------------------------


def _as_whole_numbers(values: ArrayLike, name: str, minimum: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    bad = ~np.isfinite(array) | (array < minimum) | (array != np.floor(array))
    if bad.any():
        raise ValueError(
            f"{name} must hold whole numbers >= {minimum}, but include {array[bad][:5].tolist()}"
        )
    return array


def _counts(
    durations: ArrayLike, events: ArrayLike, cause: int, weights: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Distinct event times with users at risk, events of any cause and of ``cause`` there.

    Counts are float arrays of whole numbers (sums of whole-number weights are exact in
    float64 up to 2**53), so the result does not depend on the order of the rows.
    """
    if isinstance(cause, bool) or not isinstance(cause, (int, np.integer)) or cause < 1:
        raise ValueError(f"cause must be a whole number >= 1 (an event code), but was {cause!r}")
    time = np.asarray(durations, dtype=float)
    if time.ndim != 1:
        raise ValueError(f"durations must be one-dimensional, but has shape {time.shape}")
    bad = ~np.isfinite(time) | (time < 0)
    if bad.any():
        raise DataError(
            f"durations must be finite and non-negative (days), but include {time[bad][:5].tolist()}; "
            f"try pd.isnull to find the problematic values"
        )
    code = _as_whole_numbers(events, "events (0 = censored, 1..k = causes)", 0)
    if code.shape != time.shape:
        raise ValueError(f"events must have one value per duration ({time.size}), but has shape {code.shape}")
    if weights is None:
        w = np.ones(time.size)
    else:
        w = _as_whole_numbers(weights, "weights (frequency weights: users per row)", 1)
        if w.shape != time.shape:
            raise ValueError(
                f"weights must have one value per duration ({time.size}), but has shape {w.shape}"
            )
    if time.size == 0:
        raise DataError("there are no durations: nothing to estimate")

    unique, position = np.unique(time, return_inverse=True)
    per_time = np.bincount(position, weights=w, minlength=unique.size)
    any_event = np.bincount(position, weights=w * (code > 0), minlength=unique.size)
    of_cause = np.bincount(position, weights=w * (code == cause), minlength=unique.size)
    total = float(w.sum())
    at_risk = total - np.concatenate(([0.0], np.cumsum(per_time)[:-1]))
    keep = any_event > 0
    return unique[keep], at_risk[keep], any_event[keep], of_cause[keep], total


def _log_log_interval(cif: np.ndarray, se: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """``cif ** exp(+-z * se / (cif * log(cif)))``: the log(-log) interval, inside ``[0, 1]``.

    Where ``cif`` is 0 or 1, or ``se`` is 0, the interval is the point itself.
    """
    z = norm.ppf(1 - alpha / 2)
    low, high = cif.copy(), cif.copy()
    inside = (cif > 0) & (cif < 1) & (se > 0)
    f = cif[inside]
    spread = z * se[inside] / (f * -np.log(f))  # z * se of log(-log F), by the delta method
    # Near F = 1 the spread is huge: exp overflows to inf and the bounds reach their limits,
    # F ** inf = 0 and F ** 0 = 1, which is the transform's answer (no information left).
    with np.errstate(over="ignore"):
        low[inside] = f ** np.exp(spread)
        high[inside] = f ** np.exp(-spread)
    return low, high


def aalen_johansen(
    durations: ArrayLike,
    events: ArrayLike,
    *,
    cause: int = 1,
    weights: ArrayLike | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of one cause, exact with tied times.

    Parameters
    ----------
    durations : array-like of float
        Time (days) to the event or to censoring; finite and non-negative.
    events : array-like of int
        0 = censored, 1..k = the cause that ended the duration.
    cause : int, default 1
        The cause whose cumulative incidence is estimated; every other cause competes.
    weights : array-like of int, optional
        Frequency weights (users per row), whole numbers >= 1. The result equals the one on the
        expanded rows exactly.
    alpha : float, default 0.05
        The intervals are pointwise ``1 - alpha`` intervals.

    Returns
    -------
    pandas.DataFrame
        ``time, at_risk, events_cause, events_any, cif, se, ci_low, ci_high``: a first row at
        time 0 before any event (``cif`` 0, all users at risk), then one row per distinct time
        with an event of any cause (a second row at time 0 if events happen at duration 0).
        ``cif`` is the estimate *at* ``time`` (right-continuous, events at ``time`` included);
        use :func:`cif_before` for "by day N".

    Notes
    -----
    ``CIF(t) = sum_{t_j <= t} S(t_j-) d_cause(t_j) / n(t_j)``, with ``S`` the all-cause
    Kaplan-Meier and ``n(t_j)`` the users with duration ``>= t_j`` (a censoring tied with
    events counts as after them, as in Kaplan-Meier). Ties are handled exactly; no jitter.

    **Variance**: the delta-method (Greenwood-type) estimator of Marubini & Valsecchi (1995,
    *Analysing Survival Data from Clinical Trials and Observational Studies*, Wiley, ch. 10),
    also Dinse & Larson (1986, *Biometrika* 73, 379-386, eq. 6) and scikit-survival's
    ``var_type="Dinse_Approx"``::

        Var CIF(t) = sum_{t_j <= t} [ (CIF(t) - CIF(t_j))**2 d_j / (n_j (n_j - d_j))
                                      + S(t_j-)**2 d_kj (n_j - d_kj) / n_j**3
                                      - 2 (CIF(t) - CIF(t_j)) S(t_j-) d_kj / n_j**2 ]

    (``d_j`` all events, ``d_kj`` events of the cause; a time with ``n_j == d_j`` adds 0 to the
    first sum, since the CIF cannot move after it). ``se`` is its square root.

    **Interval**: on the log(-log) scale (Choudhury 2002, *Statistics in Medicine* 21,
    1129-1144; Pintilie 2006, *Competing Risks*, sect. 4.2),
    ``CIF ** exp(+-z se / (CIF log CIF))``, which stays inside ``[0, 1]``; it is the point
    itself where ``CIF`` is 0 or 1.

    Examples
    --------
    Six users; cause 1 at days 1 and 2 and (tied with a censoring) 3, cause 2 at day 2:

    >>> table = aalen_johansen([1, 2, 2, 3, 3, 5], [1, 1, 2, 1, 0, 0])
    >>> table[["time", "at_risk", "events_cause", "events_any", "cif"]].round(4)
       time  at_risk  events_cause  events_any     cif
    0   0.0        6             0           0  0.0000
    1   1.0        6             1           1  0.1667
    2   2.0        5             1           2  0.3333
    3   3.0        3             1           1  0.5000
    """
    alpha = check_alpha(alpha)
    times, n, d, dk, total = _counts(durations, events, cause, weights)

    hazard = d / n
    survival = np.cumprod(1.0 - hazard)
    before = np.concatenate(([1.0], survival[:-1]))  # S(t_j-)
    cif = np.cumsum(before * (dk / n))

    # Delta-method variance, expanded so that it costs O(m) for m event times:
    # (F_i - F_j)**2 a_j - 2 (F_i - F_j) S_j- c_j summed over j <= i.
    a = np.divide(d, n * (n - d), out=np.zeros_like(d), where=n > d)
    b = before**2 * dk * (n - dk) / n**3
    c = before * dk / n**2
    sum_a, sum_fa, sum_ffa = np.cumsum(a), np.cumsum(cif * a), np.cumsum(cif**2 * a)
    sum_c, sum_fc = np.cumsum(c), np.cumsum(cif * c)
    variance = cif**2 * sum_a - 2 * cif * sum_fa + sum_ffa + np.cumsum(b) - 2 * (cif * sum_c - sum_fc)
    se = np.sqrt(np.clip(variance, 0.0, None))
    low, high = _log_log_interval(cif, se, alpha)

    table = pd.DataFrame(
        {
            "time": np.concatenate(([0.0], times)),
            "at_risk": np.concatenate(([total], n)),
            "events_cause": np.concatenate(([0.0], dk)),
            "events_any": np.concatenate(([0.0], d)),
            "cif": np.concatenate(([0.0], cif)),
            "se": np.concatenate(([0.0], se)),
            "ci_low": np.concatenate(([0.0], low)),
            "ci_high": np.concatenate(([0.0], high)),
        },
        columns=INCIDENCE_COLUMNS,
    )
    return table.astype({"at_risk": np.int64, "events_cause": np.int64, "events_any": np.int64})


def _check_table(table: pd.DataFrame) -> None:
    if not isinstance(table, pd.DataFrame) or not set(INCIDENCE_COLUMNS) <= set(table.columns):
        raise TypeError(f"table must be a DataFrame returned by aalen_johansen (columns {INCIDENCE_COLUMNS})")


def cif_before(table: pd.DataFrame, t: float) -> tuple[float, float, float]:
    """The cumulative incidence just *before* ``t``, with its interval: ``P(duration < t)``.

    "Reached value by day N" means a duration ``< N`` (METRICS.md, "Time base"): a user who
    reached value at exactly 7.0 days did not reach it by day 7. Beyond the last event time the
    estimate stays at its last value.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`aalen_johansen`.
    t : float
        Time in days.

    Returns
    -------
    (cif, ci_low, ci_high) : tuple of float

    Examples
    --------
    >>> table = aalen_johansen([1, 2, 2, 3, 3, 5], [1, 1, 2, 1, 0, 0])
    >>> [round(cif_before(table, t)[0], 4) for t in (1, 1.5, 2, 3, 3.01)]
    [0.0, 0.1667, 0.1667, 0.3333, 0.5]
    """
    _check_table(table)
    t = float(t)
    if math.isnan(t):
        raise ValueError("t must be a number of days, but was NaN")
    times = table["time"].to_numpy(dtype=float)
    row = max(int(np.searchsorted(times, t, side="left")) - 1, 0)
    return (float(table["cif"].iat[row]), float(table["ci_low"].iat[row]), float(table["ci_high"].iat[row]))


def _first_reaching(times: np.ndarray, curve: np.ndarray, p: float) -> float | None:
    reached = np.flatnonzero(curve >= p - _REACH_TOLERANCE)
    return float(times[reached[0]]) if reached.size else None


def cif_quantile(table: pd.DataFrame, p: float) -> Quantile:
    """The first time the cumulative incidence reaches ``p``, with a confidence interval.

    The interval runs from where the upper confidence band reaches ``p`` to where the lower
    band does (the same construction as lifelines' ``median_survival_times`` on the confidence
    band; Brookmeyer & Crowley 1982 for survival). Each bound is None if its curve never reaches
    ``p`` within the follow-up.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`aalen_johansen`.
    p : float
        Share in ``(0, 1]``, e.g. 0.5 for "the day by which half the signups reached value".

    Returns
    -------
    Quantile
        ``(days, ci_low, ci_high)``; ``days`` is None if the estimate never reaches ``p``.

    Examples
    --------
    >>> table = aalen_johansen([1, 2, 2, 3, 3, 5], [1, 1, 2, 1, 0, 0])
    >>> cif_quantile(table, 0.5).days, cif_quantile(table, 0.6).days
    (3.0, None)
    """
    _check_table(table)
    p = float(p)
    if not 0 < p <= 1:
        raise ValueError(f"p must be a share in (0, 1], but was {p!r}")
    times = table["time"].to_numpy(dtype=float)
    return Quantile(
        days=_first_reaching(times, table["cif"].to_numpy(dtype=float), p),
        ci_low=_first_reaching(times, table["ci_high"].to_numpy(dtype=float), p),
        ci_high=_first_reaching(times, table["ci_low"].to_numpy(dtype=float), p),
    )


# --- from user facts ------------------------------------------------------------------------------


def _facts_column(facts: pd.DataFrame, column: str, *, allow_nan: bool = False) -> np.ndarray:
    values = pd.to_numeric(facts[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = (np.isinf(values) | (values < 0)) | (np.isnan(values) & (not allow_nan))
    if bad.any():
        rows = facts.index[bad][:5].tolist()
        raise DataError(
            f"column {column!r} must hold finite non-negative durations in days"
            f"{' (NaN if never)' if allow_nan else ''}, but rows {rows} do not "
            f"(values {values[bad][:5].tolist()}); try pd.isnull to find the problematic values"
        )
    return values


def competing_risks_data(facts: pd.DataFrame) -> pd.DataFrame:
    """Per user: the time and kind of the first of value, churn and the observation end.

    * value (event 1) at ``value_days`` if the user reached value and did not churn before it
      (``not churned`` or ``value_days <= lifetime_days``: value at the user's last activity
      counts as value);
    * else churn before value (event 2) at ``lifetime_days`` if ``churned``;
    * else censored (event 0) at ``age_days``: value can still come.

    Parameters
    ----------
    facts : pandas.DataFrame
        User-facts table with ``value_days``, ``churned``, ``lifetime_days`` and ``age_days``.

    Returns
    -------
    pandas.DataFrame
        ``duration, event``, on the index of ``facts``.

    Notes
    -----
    **Why censoring at the age, and what it does to the estimates.** Value is observed without
    delay: a value event at ``v <= T`` is in the data, so the value status of every user is
    known on ``[0, age]``. Churn is not, under the inactivity rule: a user whose last activity
    ``L`` is less than ``inactivity_days`` before ``T`` is not (yet) churned, although ``L`` may
    turn out to be the churn time. That is why :mod:`onboarding_analysis.data.facts` censors the
    *lifetime* of such users at ``max(age - inactivity_days, 0)`` by default: censoring at
    ``age`` would count them as surviving to ``T``. Here they are censored at ``age``:

    * For the value CIF this is (nearly) right. A user who churns without value never reaches
      value; kept in the risk set, value-free, until ``age``, they are exactly that: value-free
      through ``age``. Keeping competing-event users in the risk set up to a censoring time that
      does not depend on the outcome is the "censoring-complete" estimator of the same CIF
      (Fine & Gray 1999, JASA 94, 496-509). The only flaw is the mix: churn seen long enough ago
      ends the duration at ``L``, recent churn keeps the user to ``age``, and which one applies
      depends on ``L``. That adds a small *upward* bias that grows with the day and is nil at
      early days. In ``tests/test_ttfv.py::test_recent_churn_barely_moves_the_value_cif``
      (inactivity 30 days; signups uniform over 180 days; 60% would reach value, log-normal
      median 3 days; churn exponential, mean 20 days; 2 million users) the value CIF by day 1,
      7, 30 and 90 is 0.1048, 0.4042, 0.4750, 0.4780 against a truth of 0.1049, 0.4035, 0.4720,
      0.4739; with signups spread over only 60 days, 0.477 against 0.472 at day 30.
      **Conclusion: the day-1 and day-7 figures are unbiased; later ones may be high by a few
      tenths of a point when many signups are younger than** ``inactivity_days``.
    * Censoring at ``max(age - inactivity_days, 0)`` as for lifetime would be unbiased only if
      value events after that time were censored too: that drops the youngest
      ``inactivity_days`` of signups from every figure, day 1 included. Counting their value
      events while censoring their value-free peers early would bias the value CIF *upwards*,
      at every day.
    * The churn-before-value CIF, in contrast, is biased *downwards* under the inactivity rule
      (recent churn is not yet visible; 0.371 against 0.435 by day 30 in the simulation above),
      as lifetime is with ``lifetime_censoring: observation_end``. It is context for the value
      curve (where the signups who did not reach value went), not a headline.

    With ``churn_event`` set, churn is observed without delay and censoring at ``age`` is exact
    for both curves.

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"value_days": [2.0, None, None, 8.0], "churned": [False, True, False, True],
    ...                       "lifetime_days": [40.0, 3.0, 20.0, 5.0], "age_days": [50.0, 60.0, 50.0, 60.0]})
    >>> competing_risks_data(facts)
       duration  event
    0       2.0      1
    1       3.0      2
    2      50.0      0
    3       5.0      2
    """
    if not isinstance(facts, pd.DataFrame):
        raise TypeError(f"facts must be a pandas DataFrame (the user-facts table), but was {type(facts)!r}")
    needed = (C.VALUE, C.CHURNED, C.LIFETIME, C.AGE)
    missing = [col for col in needed if col not in facts.columns]
    if missing:
        raise DataError(
            f"TTFV needs the user-facts column(s) {missing}, which are missing; "
            f"build the table with onboarding_analysis.data.facts"
        )
    churned_col = facts[C.CHURNED]
    if churned_col.isna().any() or not churned_col.isin([True, False]).all():
        raise DataError(f"column {C.CHURNED!r} must be True/False for every user")
    churned = churned_col.to_numpy(dtype=bool)
    value = _facts_column(facts, C.VALUE, allow_nan=True)
    age = _facts_column(facts, C.AGE)
    lifetime = _facts_column(facts, C.LIFETIME)

    reached = ~np.isnan(value) & (~churned | (value <= lifetime))
    churn_first = churned & ~reached
    duration = np.where(reached, value, np.where(churn_first, lifetime, age))
    event = np.where(reached, VALUE_CAUSE, np.where(churn_first, CHURN_CAUSE, CENSORED))
    return pd.DataFrame({DURATION: duration, EVENT: event.astype(np.int64)}, index=facts.index)


# --- headline numbers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TTFVResult:
    """Cumulative incidence of value (churn competing) and its headline numbers.

    Attributes
    ----------
    value, churn : pandas.DataFrame
        :func:`aalen_johansen` tables of reaching value, and of churning before value.
    reached_by : pandas.DataFrame
        ``day, rate, ci_low, ci_high, at_risk``: share of signups that reached value by day N,
        ``P(TTFV < N)`` (the CIF just before N), its interval, and the users still undecided
        at N (duration ``>= N``).
    eventual_share : float
        The CIF just before ``horizon_days``. The CIF is flat after the last event, so when the
        last event comes earlier this is the CIF at the last event time; ``eventual_share_day``
        says which.
    eventual_share_ci_low, eventual_share_ci_high : float
        Its interval.
    eventual_share_day : float
        The time the eventual share is read at: ``horizon_days``, or the last event time
        before it if that is earlier.
    days_to : dict of int to Quantile
        For 25, 50 and 75 (percent of signups): the first time the value CIF reaches that
        share, with interval; ``days`` None = "not reached".
    naive_median_days_converters : float or None
        Median ``value_days`` among the converters (users who reached value before churning):
        what funnel tools show. **Biased short**: it ignores users still on their way to value.
        None if nobody converted.
    converters, churned_before_value, censored, users : int
        Users with value observed, with churn before value, still undecided, and all users.
    horizon_days, follow_up_days : float
        The eventual-share horizon, and the longest duration observed.
    alpha : float
        The intervals are pointwise ``1 - alpha`` intervals.
    """

    value: pd.DataFrame
    churn: pd.DataFrame
    reached_by: pd.DataFrame
    eventual_share: float
    eventual_share_ci_low: float
    eventual_share_ci_high: float
    eventual_share_day: float
    days_to: Mapping[int, Quantile]
    naive_median_days_converters: float | None
    converters: int
    churned_before_value: int
    censored: int
    users: int
    horizon_days: float
    follow_up_days: float
    alpha: float


def _check_days(days: Iterable[int], name: str = "days") -> tuple[int, ...]:
    days = tuple(days)
    for day in days:
        if isinstance(day, bool) or not isinstance(day, (int, np.integer)) or day < 0:
            raise ValueError(f"{name} must hold non-negative whole numbers of days, but include {day!r}")
    return tuple(int(day) for day in days)


def _weights(facts: pd.DataFrame, weights: str | ArrayLike | None) -> np.ndarray | None:
    if weights is None:
        return None
    if isinstance(weights, str):
        if weights not in facts.columns:
            raise DataError(f"weights column {weights!r} is not in the facts table")
        weights = facts[weights]
    w = _as_whole_numbers(weights, "weights (frequency weights: users per row)", 1)
    if w.shape != (len(facts),):
        raise ValueError(f"weights must have one value per row ({len(facts)}), but has shape {w.shape}")
    return w


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float | None:
    """Median of ``values`` with each repeated ``weights`` times (whole numbers)."""
    if values.size == 0:
        return None
    order = np.argsort(values, kind="stable")
    values, cumulative = values[order], np.cumsum(weights[order])
    total = cumulative[-1]

    def at(k: float) -> float:  # the k-th (0-based) value of the expanded, sorted rows
        return float(values[np.searchsorted(cumulative, k, side="right")])

    return at((total - 1) / 2) if total % 2 else (at(total / 2 - 1) + at(total / 2)) / 2


def fit_ttfv(
    facts: pd.DataFrame,
    *,
    days: Iterable[int] = (1, 7, 30),
    horizon_days: float = 90,
    alpha: float = 0.05,
    weights: str | ArrayLike | None = None,
    churn_delay_days: float | None = None,
) -> TTFVResult:
    """Estimate how many signups reach value, by when, with churn as a competing event.

    Parameters
    ----------
    facts : pandas.DataFrame
        User-facts table with ``value_days``, ``churned``, ``lifetime_days`` and ``age_days``
        (see :func:`competing_risks_data` for how they become value / churn / censored).
    days : iterable of int, default (1, 7, 30)
        Days N at which to report the share that reached value by day N, ``P(TTFV < N)``.
    horizon_days : float, default 90
        Where the "eventual" share of signups reaching value is read.
    alpha : float, default 0.05
        The intervals are pointwise ``1 - alpha`` intervals.
    weights : str or array-like, optional
        Frequency weights (a column name or one value per row), whole numbers >= 1; the result
        equals the one on the expanded rows.
    churn_delay_days : float, optional
        Under the inactivity rule churn is only visible ``inactivity_days`` after it happens
        (:func:`onboarding_analysis.params.churn_delay_days` gives the value for a run). When
        set, the churn-before-value curve is fitted on data censored at
        ``max(age - churn_delay_days, 0)``, where both causes are fully observed, which removes
        its downward bias (see :func:`competing_risks_data`). The value curve is unchanged.

    Returns
    -------
    TTFVResult

    Warns
    -----
    StatisticalWarning
        If a reported day or the horizon lies beyond the longest observed duration while some
        users are still undecided: the curve is then held at its last value, which understates
        the share reaching value later.

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"value_days": [0.5, 1.0, None, 3.0, None, None],
    ...                       "churned": [False, False, True, False, False, True],
    ...                       "lifetime_days": [9.0, 9.0, 2.0, 9.0, 9.0, 1.0],
    ...                       "age_days": [10.0] * 6})
    >>> result = fit_ttfv(facts, days=[1, 2, 7], horizon_days=10)
    >>> result.reached_by[["day", "rate"]].round(4)
       day    rate
    0    1  0.1667
    1    2  0.3333
    2    7  0.5000
    >>> result.days_to[50].days, result.naive_median_days_converters
    (3.0, 1.0)
    """
    alpha = check_alpha(alpha)
    days = _check_days(days)
    try:
        horizon = float(horizon_days)
    except (TypeError, ValueError) as err:
        raise ValueError(f"horizon_days must be a positive number of days, but was {horizon_days!r}") from err
    if not (math.isfinite(horizon) and horizon > 0):
        raise ValueError(f"horizon_days must be a positive number of days, but was {horizon_days!r}")

    data = competing_risks_data(facts)
    w = _weights(facts, weights)
    duration = data[DURATION].to_numpy(dtype=float)
    event = data[EVENT].to_numpy()
    ones = np.ones(duration.size) if w is None else w
    if duration.size == 0:
        raise DataError("the facts table has no users: there is no time to first value to estimate")

    value = aalen_johansen(duration, event, cause=VALUE_CAUSE, weights=w, alpha=alpha)
    if churn_delay_days is None:
        churn = aalen_johansen(duration, event, cause=CHURN_CAUSE, weights=w, alpha=alpha)
    else:
        # Churn under the inactivity rule is visible only churn_delay_days after it happens:
        # censor every user at max(age - delay, 0), where both causes are fully observed.
        limit = np.maximum(facts[C.AGE].to_numpy(dtype=float) - float(churn_delay_days), 0.0)
        seen = duration <= limit
        churn = aalen_johansen(
            np.where(seen, duration, limit),
            np.where(seen, event, CENSORED),
            cause=CHURN_CAUSE,
            weights=w,
            alpha=alpha,
        )

    follow_up = float(duration.max())
    undecided = float(ones[event == CENSORED].sum()) > 0
    beyond = [d for d in (*days, horizon) if d > follow_up]
    if beyond and undecided:
        warnings.warn(
            f"day(s) {beyond} lie beyond the longest observed time to value or churn ({follow_up:g} "
            f"days): the share reaching value is held at its last estimate there. Report days within "
            f"the follow-up, or wait for more data.",
            StatisticalWarning,
            stacklevel=2,
        )

    rows = []
    for day in days:
        rate, low, high = cif_before(value, day)
        rows.append((day, rate, low, high, int(ones[duration >= day].sum())))
    reached_by = pd.DataFrame(rows, columns=REACHED_BY_COLUMNS).astype({"day": np.int64, "at_risk": np.int64})

    share, share_low, share_high = cif_before(value, horizon)
    last_event = float(value["time"].iloc[-1])
    share_day = horizon if last_event >= horizon else last_event

    reached = event == VALUE_CAUSE
    users = int(ones.sum())
    converters = int(ones[reached].sum())
    churned = int(ones[event == CHURN_CAUSE].sum())
    return TTFVResult(
        value=value,
        churn=churn,
        reached_by=reached_by,
        eventual_share=share,
        eventual_share_ci_low=share_low,
        eventual_share_ci_high=share_high,
        eventual_share_day=share_day,
        days_to={pct: cif_quantile(value, pct / 100) for pct in DAYS_TO_PERCENTS},
        naive_median_days_converters=_weighted_median(duration[reached], ones[reached]),
        converters=converters,
        churned_before_value=churned,
        censored=users - converters - churned,
        users=users,
        horizon_days=horizon,
        follow_up_days=follow_up,
        alpha=alpha,
    )


def _number_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def ttfv_summary(result: TTFVResult) -> pd.DataFrame:
    """The headline numbers of a TTFV fit as a small table (``what, estimate, ci_low, ci_high, note``).

    Rows: the eventual share of signups reaching value, the days by which 25/50/75% of signups
    reached value ("not reached" in ``note`` when the curve never gets there), and, labelled
    as biased, the naive median among converters with the number of converters.
    """
    rows = [
        (
            f"share reaching value by day {result.eventual_share_day:g}",
            result.eventual_share,
            result.eventual_share_ci_low,
            result.eventual_share_ci_high,
            "",
        )
    ]
    for pct, q in sorted(result.days_to.items()):
        rows.append(
            (
                f"days until {pct}% of signups reached value",
                np.nan if q.days is None else q.days,
                np.nan if q.ci_low is None else q.ci_low,
                np.nan if q.ci_high is None else q.ci_high,
                "not reached" if q.days is None else ("upper limit not reached" if q.ci_high is None else ""),
            )
        )
    naive = result.naive_median_days_converters
    rows.append(
        (
            "naive median days to value, converters only",
            np.nan if naive is None else naive,
            np.nan,
            np.nan,
            f"BIASED (short): ignores the {result.users - result.converters} signups without value; "
            f"{result.converters} converters",
        )
    )
    table = pd.DataFrame(rows, columns=["what", "estimate", "ci_low", "ci_high", "note"])
    # How the report formats each row (onboarding_analysis.display.tables): a share, then days.
    table.attrs["row_formats"] = {rows[0][0]: "percent"} | {row[0]: "number" for row in rows[1:]}
    return table


def ttfv_metrics(result: TTFVResult) -> dict[str, dict]:
    """Headline TTFV numbers as a JSON-ready dict.

    Parameters
    ----------
    result : TTFVResult
        Output of :func:`fit_ttfv`.

    Returns
    -------
    dict
        ``{"ttfv": {"reached_by": {"day_<N>": {rate, ci_low, ci_high}}, eventual_share,
        eventual_share_ci, eventual_share_day, days_to_25pct, days_to_50pct, days_to_75pct
        (and ``days_to_<p>pct_ci``), naive_median_days_converters, converters,
        churned_before_value, censored, users}}`` of plain ints and floats; ``None`` where not
        estimable (a share that is not reached, no converters).

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"value_days": [1.5, None], "churned": [False, False],
    ...                       "lifetime_days": [0.0, 0.0], "age_days": [10.0, 10.0]})
    >>> metrics = ttfv_metrics(fit_ttfv(facts, days=[1, 2], horizon_days=10))["ttfv"]
    >>> metrics["reached_by"]["day_2"]["rate"], metrics["days_to_50pct"], metrics["days_to_75pct"]
    (0.5, 1.5, None)
    """
    metrics: dict = {
        "reached_by": {
            f"day_{int(row.day)}": {
                "rate": _number_or_none(row.rate),
                "ci_low": _number_or_none(row.ci_low),
                "ci_high": _number_or_none(row.ci_high),
            }
            for row in result.reached_by.itertuples()
        },
        "eventual_share": _number_or_none(result.eventual_share),
        "eventual_share_ci": [
            _number_or_none(result.eventual_share_ci_low),
            _number_or_none(result.eventual_share_ci_high),
        ],
        "eventual_share_day": _number_or_none(result.eventual_share_day),
    }
    for pct, quantile in result.days_to.items():
        metrics[f"days_to_{pct}pct"] = _number_or_none(quantile.days)
        metrics[f"days_to_{pct}pct_ci"] = [
            _number_or_none(quantile.ci_low),
            _number_or_none(quantile.ci_high),
        ]
    metrics.update(
        naive_median_days_converters=_number_or_none(result.naive_median_days_converters),
        converters=int(result.converters),
        churned_before_value=int(result.churned_before_value),
        censored=int(result.censored),
        users=int(result.users),
    )
    return {"ttfv": metrics}


# --- plot -----------------------------------------------------------------------------------------


def plot_ttfv(result: TTFVResult, *, ax: Axes | None = None, days: Iterable[int] | None = None) -> Axes:
    """Cumulative incidence of value and of churn before value, with confidence bands.

    Both curves are step functions drawn to the longest observed duration; dots mark the share
    that reached value by each of ``days`` (the estimate just before day N).

    Parameters
    ----------
    result : TTFVResult
        Output of :func:`fit_ttfv`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    days : iterable of int, optional
        Days to mark; by default the days of ``result.reached_by``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"value_days": [0.5, None, 3.0], "churned": [False, True, False],
    ...                       "lifetime_days": [9.0, 2.0, 9.0], "age_days": [10.0] * 3})
    >>> ax = plot_ttfv(fit_ttfv(facts, days=[1, 7], horizon_days=10))
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('days since signup', 'share of signups')
    """
    if ax is None:
        _, ax = plt.subplots()
    marks = result.reached_by["day"].tolist() if days is None else list(_check_days(days))
    level = round(100 * (1 - result.alpha))
    end = max(result.follow_up_days, float(result.value["time"].iloc[-1]))
    curves = (
        (result.value, "reached value", "C0"),
        (result.churn, "churned before value", "C3"),
    )
    for table, label, color in curves:
        time = np.append(table["time"].to_numpy(dtype=float), end)
        cif, low, high = (
            np.append(table[col].to_numpy(dtype=float), table[col].iloc[-1])
            for col in ("cif", "ci_low", "ci_high")
        )
        ax.step(time, cif, where="post", color=color, label=f"{label} ({level}% CI)")
        ax.fill_between(time, low, high, step="post", color=color, alpha=0.2, linewidth=0)
    if marks:
        rates = [cif_before(result.value, day)[0] for day in marks]
        ax.plot(marks, rates, marker="o", linestyle="none", color="C0", label="reached value by day N")
    ax.set_xlabel("days since signup")
    ax.set_ylabel("share of signups")
    ax.set_ylim(0, 1.05)
    ax.set_title("Time to first value")
    ax.legend(loc="best")
    return ax
