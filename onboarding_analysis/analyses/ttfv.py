"""Time to first value (TTFV): the share of signups reaching value by day N, churn competing.

A signup reaches value, or churns first (and then can no longer reach value), or is still
undecided at the observation end (censored): :func:`competing_risks_data` turns the user facts
into those outcomes, and :func:`fit_ttfv` estimates the Aalen-Johansen cumulative incidence
function (CIF) of value with churn as the competing event
(:mod:`~onboarding_analysis.analyses.incidence`). Two tempting shortcuts are biased:
``1 - Kaplan-Meier`` with churners censored treats them as if they could still reach value
(too high), and the median time among converters ignores everyone still on the way (too short;
reported anyway, labelled, as :attr:`TTFVResult.naive_median_days_converters`).

"Reached value by day N" is the estimate just *before* N, ``P(TTFV < N)``
(:func:`~onboarding_analysis.analyses.incidence.cif_before`; docs/metrics.md, "Time to first
value"). The headline table and the ``metrics.json`` section are built by
:mod:`~onboarding_analysis.analyses.ttfv_tables`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError, StatisticalWarning
from ..params import churn_delay_days as delay_of_params
from ..stats.intervals import check_alpha
from .facts_inputs import churned_flags, duration_column
from .incidence import Quantile, aalen_johansen, as_whole_numbers, cif_before, cif_quantile

__all__ = [
    "CENSORED",
    "CHURN_CAUSE",
    "DURATION",
    "EVENT",
    "VALUE_CAUSE",
    "TTFVResult",
    "competing_risks_data",
    "fit_ttfv",
    "plot_ttfv",
]

#: Columns of :attr:`TTFVResult.reached_by`.
REACHED_BY_COLUMNS = ["day", "rate", "ci_low", "ci_high", "at_risk"]
#: Columns of the frame returned by :func:`competing_risks_data`.
DURATION, EVENT = "duration", "event"
#: Event codes of :func:`competing_risks_data`.
CENSORED, VALUE_CAUSE, CHURN_CAUSE = 0, 1, 2
#: Shares whose "days to" are reported.
DAYS_TO_PERCENTS = (25, 50, 75)

# --- from user facts ------------------------------------------------------------------------------


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
    churned = churned_flags(facts)
    value = duration_column(facts, C.VALUE, allow_nan=True)
    age = duration_column(facts, C.AGE)
    lifetime = duration_column(facts, C.LIFETIME)

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
    w = as_whole_numbers(weights, "weights (frequency weights: users per row)", 1)
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
    facts: Facts | pd.DataFrame,
    *,
    days: Iterable[int] | None = None,
    horizon_days: float | None = None,
    alpha: float = 0.05,
    weights: str | ArrayLike | None = None,
    churn_delay_days: float | None = None,
) -> TTFVResult:
    """Estimate how many signups reach value, by when, with churn as a competing event.

    Parameters
    ----------
    facts : Facts or pandas.DataFrame
        The facts of :func:`onboarding_analysis.data.pipeline.compute_facts` (the options
        below then default from ``facts.params``), or a user-facts table alone. The table needs
        ``value_days``, ``churned``, ``lifetime_days`` and ``age_days`` (see
        :func:`competing_risks_data` for how they become value / churn / censored).
    days : iterable of int, optional
        Days N at which to report the share that reached value by day N, ``P(TTFV < N)``.
        Default: params ``retention_days`` for a Facts object, else ``(1, 7, 30)``.
    horizon_days : float, optional
        Where the "eventual" share of signups reaching value is read. Default: params
        ``rmst_horizon_days`` for a Facts object, else 90.
    alpha : float, default 0.05
        The intervals are pointwise ``1 - alpha`` intervals.
    weights : str or array-like, optional
        Frequency weights (a column name or one value per row), whole numbers >= 1; the result
        equals the one on the expanded rows.
    churn_delay_days : float, optional
        Under the inactivity rule churn is only visible ``inactivity_days`` after it happens.
        Default: :func:`onboarding_analysis.params.churn_delay_days` of ``facts.params`` for a
        Facts object, else None (no delay; 0 is the same). When set, the churn-before-value curve is fitted on data censored at
        ``max(age - churn_delay_days, 0)``, where both causes are fully observed, which removes
        its downward bias (see :func:`competing_risks_data`). The value curve is unchanged.

    Returns
    -------
    TTFVResult
        The value and churn curves, the share by each of ``days``, the eventual share, the
        days to 25/50/75% and the counts of users per outcome.

    Raises
    ------
    ValueError
        ``days``, ``horizon_days``, ``alpha`` or ``weights`` out of range.
    DataError
        A missing or invalid user-facts column, or no users at all.

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
    facts, days, horizon_days, churn_delay_days = _ttfv_options(facts, days, horizon_days, churn_delay_days)
    alpha = check_alpha(alpha)
    days = _check_days(days)
    horizon = _check_horizon(horizon_days)
    data = competing_risks_data(facts)
    w = _weights(facts, weights)
    duration = data[DURATION].to_numpy(dtype=float)
    event = data[EVENT].to_numpy()
    ones = np.ones(duration.size) if w is None else w
    if duration.size == 0:
        raise DataError("the facts table has no users: there is no time to first value to estimate")

    value = aalen_johansen(duration, event, cause=VALUE_CAUSE, weights=w, alpha=alpha)
    churn = _churn_curve(facts, duration, event, w, alpha, churn_delay_days)
    follow_up = float(duration.max())
    _warn_beyond_follow_up((*days, horizon), follow_up, undecided=float(ones[event == CENSORED].sum()) > 0)

    share, share_low, share_high = cif_before(value, horizon)
    last_event = float(value["time"].iloc[-1])
    reached = event == VALUE_CAUSE
    users = int(ones.sum())
    converters = int(ones[reached].sum())
    churned = int(ones[event == CHURN_CAUSE].sum())
    return TTFVResult(
        value=value,
        churn=churn,
        reached_by=_reached_by(value, days, duration, ones),
        eventual_share=share,
        eventual_share_ci_low=share_low,
        eventual_share_ci_high=share_high,
        eventual_share_day=horizon if last_event >= horizon else last_event,
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


def _ttfv_options(
    facts: Facts | pd.DataFrame, days: Any, horizon_days: Any, churn_delay_days: Any
) -> tuple[pd.DataFrame, Any, Any, Any]:
    """The user-facts table and the options of :func:`fit_ttfv`, defaults filled in."""
    if not isinstance(facts, Facts):
        return (
            facts,
            (1, 7, 30) if days is None else days,
            90 if horizon_days is None else horizon_days,
            churn_delay_days,
        )
    params = facts.params
    return (
        facts.table,
        params.retention_days if days is None else days,
        params.rmst_horizon_days if horizon_days is None else horizon_days,
        delay_of_params(params) if churn_delay_days is None else churn_delay_days,
    )


def _check_horizon(horizon_days: object) -> float:
    """``horizon_days`` as a float, checked to be a positive finite number of days."""
    try:
        horizon = float(horizon_days)
    except (TypeError, ValueError) as err:
        raise ValueError(f"horizon_days must be a positive number of days, but was {horizon_days!r}") from err
    if not (math.isfinite(horizon) and horizon > 0):
        raise ValueError(f"horizon_days must be a positive number of days, but was {horizon_days!r}")
    return horizon


def _churn_curve(
    facts: pd.DataFrame,
    duration: np.ndarray,
    event: np.ndarray,
    weights: np.ndarray | None,
    alpha: float,
    churn_delay_days: float | None,
) -> pd.DataFrame:
    """The incidence of churn before value; censored where churn is not yet visible, if delayed."""
    if churn_delay_days is None:
        return aalen_johansen(duration, event, cause=CHURN_CAUSE, weights=weights, alpha=alpha)
    # Churn under the inactivity rule is visible only churn_delay_days after it happens:
    # censor every user at max(age - delay, 0), where both causes are fully observed.
    limit = np.maximum(facts[C.AGE].to_numpy(dtype=float) - float(churn_delay_days), 0.0)
    seen = duration <= limit
    return aalen_johansen(
        np.where(seen, duration, limit),
        np.where(seen, event, CENSORED),
        cause=CHURN_CAUSE,
        weights=weights,
        alpha=alpha,
    )


def _warn_beyond_follow_up(days: Iterable[float], follow_up: float, *, undecided: bool) -> None:
    """Warn when a reported day lies beyond the follow-up while some users are still undecided."""
    beyond = [d for d in days if d > follow_up]
    if beyond and undecided:
        warnings.warn(
            f"day(s) {beyond} lie beyond the longest observed time to value or churn ({follow_up:g} "
            f"days): the share reaching value is held at its last estimate there. Report days within "
            f"the follow-up, or wait for more data.",
            StatisticalWarning,
            stacklevel=3,
        )


def _reached_by(
    value: pd.DataFrame, days: tuple[int, ...], duration: np.ndarray, ones: np.ndarray
) -> pd.DataFrame:
    """The :data:`REACHED_BY_COLUMNS` table: the value CIF just before each day, with users at risk."""
    rows = []
    for day in days:
        rate, low, high = cif_before(value, day)
        rows.append((day, rate, low, high, int(ones[duration >= day].sum())))
    return pd.DataFrame(rows, columns=REACHED_BY_COLUMNS).astype({"day": np.int64, "at_risk": np.int64})


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
        The axes with both incidence curves, their bands and the day-N marks.

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
