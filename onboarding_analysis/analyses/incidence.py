"""The Aalen-Johansen cumulative incidence of one cause among competing causes, exact with ties.

The estimator behind time to first value (:mod:`~onboarding_analysis.analyses.ttfv`), the
funnel's per-step incidence (:mod:`~onboarding_analysis.analyses.funnel`) and the segment and
change comparisons of value: a table per distinct event time (:func:`aalen_johansen`), read
"by day N" as the estimate just before N (:func:`cif_before`, docs/metrics.md, "Conventions
shared by every figure") and inverted into "days until p%" (:func:`cif_quantile`).

It is computed here, exactly, rather than with lifelines' ``AalenJohansenFitter``: lifelines
(0.30) breaks tied times by random jitter, so on day-granular exports its estimate changes with
the seed. With the all-cause Kaplan-Meier ``S`` and, at each distinct event time ``t_j``,
``n_j`` users at risk (durations ``>= t_j``: a censoring at ``t_j`` counts as after the events
at ``t_j``), ``d_j`` events of any cause and ``d_kj`` of cause ``k``::

    CIF_k(t) = sum_{t_j <= t} S(t_j-) * d_kj / n_j
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import norm

from ..errors import DataError
from ..stats.intervals import check_alpha

__all__ = [
    "INCIDENCE_COLUMNS",
    "Quantile",
    "aalen_johansen",
    "as_whole_numbers",
    "cif_before",
    "cif_quantile",
]

#: Columns of the table returned by :func:`aalen_johansen`.
INCIDENCE_COLUMNS = ["time", "at_risk", "events_cause", "events_any", "cif", "se", "ci_low", "ci_high"]

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


def as_whole_numbers(values: ArrayLike, name: str, minimum: int) -> np.ndarray:
    """``values`` as a float array, checked to hold whole numbers ``>= minimum``.

    Parameters
    ----------
    values : array-like
        Event codes or frequency weights.
    name : str
        What ``values`` are, for the error message.
    minimum : int
        The smallest allowed value.

    Returns
    -------
    numpy.ndarray
        The values as float64.

    Raises
    ------
    ValueError
        A value that is not finite, not whole or below ``minimum``.
    """
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
    code = as_whole_numbers(events, "events (0 = censored, 1..k = causes)", 0)
    if code.shape != time.shape:
        raise ValueError(f"events must have one value per duration ({time.size}), but has shape {code.shape}")
    if weights is None:
        w = np.ones(time.size)
    else:
        w = as_whole_numbers(weights, "weights (frequency weights: users per row)", 1)
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

    "Reached value by day N" means a duration ``< N`` (docs/metrics.md, "Conventions"): a user who
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
        The estimate at the last event time before ``t`` (0 before the first) and its interval.

    Raises
    ------
    TypeError
        ``table`` is not a table of :func:`aalen_johansen`.
    ValueError
        ``t`` is NaN.

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
