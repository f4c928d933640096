"""Retention: N-day, unbounded, bracket, curve and cohort tables (docs/metrics.md, "Day-N retention").

Every function takes the user-facts table (one row per user, see
:mod:`onboarding_analysis.data.columns`) and returns a tidy DataFrame or a small frozen dataclass;
the cohort table lives in :mod:`onboarding_analysis.analyses.retention_cohorts` (re-exported
here), the column checks in :mod:`onboarding_analysis.analyses.retention_inputs`.

Censoring is handled by eligibility, never by counting as a failure: a user enters a day-N
figure only if ``age_days >= N + 1`` (day N is complete). Users who are not eligible leave the
denominator; a figure with no eligible user is NaN, never 0%.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..absence import add_note
from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError
from ..stats.finite import finite_or_none
from ..stats.intervals import check_alpha, wilson_interval
from .retention_cohorts import CohortTable, cohort_table
from .retention_inputs import (
    MAX_MASK_DAY,
    check_day,
    check_days,
    facts_table,
    flag_column,
    mask_bit,
    mask_column,
    require_columns,
    table_of,
    user_ages,
)

__all__ = [
    "CohortTable",
    "bracket_retention",
    "cohort_table",
    "nday_retention",
    "retention_curve",
    "retention_metrics",
    "unbounded_retention",
]

#: Columns of :func:`nday_retention`, :func:`unbounded_retention` and :func:`retention_curve`.
RETENTION_COLUMNS = ["day", "eligible", "retained", "rate", "ci_low", "ci_high"]
#: Columns of :func:`bracket_retention`.
BRACKET_COLUMNS = ["start", "end", "eligible", "retained", "rate", "ci_low", "ci_high"]


def _estimates(eligible: np.ndarray, retained: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    eligible = np.asarray(eligible, dtype=np.int64)
    retained = np.asarray(retained, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(eligible > 0, retained / np.maximum(eligible, 1), np.nan)
    low, high = wilson_interval(retained, eligible, alpha=alpha)
    return {"eligible": eligible, "retained": retained, "rate": rate, "ci_low": low, "ci_high": high}


def _day_table(days: list[int], eligible: list[int], retained: list[int], alpha: float) -> pd.DataFrame:
    table = pd.DataFrame({"day": np.asarray(days, dtype=np.int64), **_estimates(eligible, retained, alpha)})
    return table[RETENTION_COLUMNS]


# --- N-day, unbounded, bracket, curve ----------------------------------------------------------


def nday_retention(
    facts: Facts | pd.DataFrame, days: int | Iterable[int] | None = None, *, alpha: float = 0.05
) -> pd.DataFrame:
    """N-day ("on") retention: share of eligible users active on day index N.

    Parameters
    ----------
    facts : Facts or pandas.DataFrame
        The facts of :func:`onboarding_analysis.data.pipeline.compute_facts`, or their table:
        ``age_days`` and, per day N, the flag column ``active_day_<N>`` or else the
        ``active_days_mask`` bit mask (day indices 0..62).
    days : int or iterable of int, optional
        Day indices N (day 0 is the first 24 hours after signup); by default params
        ``retention_days`` of a Facts object (required with a bare table).
    alpha : float, default 0.05
        For the ``1 - alpha`` Wilson interval.

    Returns
    -------
    pandas.DataFrame
        One row per day: ``day, eligible, retained, rate, ci_low, ci_high``. A user is eligible
        for day N if ``age_days >= N + 1``; ``rate`` and the interval are NaN when no user is.

    Raises
    ------
    DataError
        (a ``ValueError``) if neither ``active_day_<N>`` nor, for N <= 62, ``active_days_mask``
        is present.

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"age_days": [10.0, 10.0, 1.5], "active_days_mask": [0b11, 0b01, 0b11]})
    >>> nday_retention(facts, [1])[["day", "eligible", "retained", "rate"]]
       day  eligible  retained  rate
    0    1         2         1   0.5
    """
    alpha = check_alpha(alpha)
    facts, days = facts_table(facts, days, "retention_days")
    days = check_days(days)
    ages = user_ages(facts, "nday_retention")
    eligible, retained = [], []
    for day in days:
        flag = C.active_day(day)
        if flag in facts.columns:
            active = flag_column(facts, flag)
        elif C.DAYS_MASK in facts.columns and day <= MAX_MASK_DAY:
            active = mask_bit(mask_column(facts, C.DAYS_MASK, "nday_retention"), day)
        else:
            raise DataError(
                f"day-{day} retention needs the column {flag!r} (add {day} to params "
                f"retention_days and rebuild the facts table) or, for days 0..{MAX_MASK_DAY}, "
                f"the column {C.DAYS_MASK!r}; neither is in the facts table"
            )
        ok = ages >= day + 1
        eligible.append(int(ok.sum()))
        retained.append(int((ok & active).sum()))
    return _note_not_eligible(_day_table(days, eligible, retained, alpha), ages)


def unbounded_retention(
    facts: Facts | pd.DataFrame,
    days: int | Iterable[int] | None = None,
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Unbounded ("on or after") retention: share of eligible users active on day N or later.

    Parameters
    ----------
    facts : Facts or pandas.DataFrame
        Needs ``age_days`` and ``last_active_day`` (-1 if never active) in its table.
    days : int or iterable of int, optional
        Day indices N (default: the Facts object's params ``retention_days``).
    alpha : float, default 0.05
        For the ``1 - alpha`` Wilson interval.

    Returns
    -------
    pandas.DataFrame
        ``day, eligible, retained, rate, ci_low, ci_high``; eligible means ``age_days >= N + 1``
        (the same eligibility as N-day retention), retained means ``last_active_day >= N``.

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"age_days": [10.0, 10.0, 10.0], "last_active_day": [9, 0, -1]})
    >>> unbounded_retention(facts, [1, 7])[["day", "eligible", "retained"]]
       day  eligible  retained
    0    1         3         1
    1    7         3         1
    """
    alpha = check_alpha(alpha)
    facts, days = facts_table(facts, days, "retention_days")
    days = check_days(days)
    ages = user_ages(facts, "unbounded_retention")
    require_columns(facts, [C.LAST_ACTIVE_DAY], "unbounded_retention")
    last = pd.to_numeric(facts[C.LAST_ACTIVE_DAY], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(last).any():
        raise DataError(f"column {C.LAST_ACTIVE_DAY!r} has missing values; users never active must have -1")
    eligible, retained = [], []
    for day in days:
        ok = ages >= day + 1
        eligible.append(int(ok.sum()))
        retained.append(int((ok & (last >= day)).sum()))
    return _note_not_eligible(_day_table(days, eligible, retained, alpha), ages)


def _note_not_eligible(table: pd.DataFrame, ages: np.ndarray) -> pd.DataFrame:
    """Note the days no user is eligible for (their rate is blank, not zero)."""
    empty = table.loc[table["eligible"] == 0, "day"].tolist()
    if empty:
        oldest = (
            f"the oldest has been observed for {float(np.max(ages)):.1f} days" if len(ages) else "no users"
        )
        days = ", ".join(f"day {d}" for d in empty)
        add_note(
            table,
            f"{days}: not computable, no user has been observed for {empty[0] + 1} days since signup yet "
            f"({oldest}); users not observed long enough are left out, never counted as lost",
        )
    return table


def bracket_retention(
    facts: Facts | pd.DataFrame, brackets: Sequence[tuple[int, int]], *, alpha: float = 0.05
) -> pd.DataFrame:
    """Bracket retention: share of eligible users active on some day index in ``[a, b]``.

    Parameters
    ----------
    facts : Facts or pandas.DataFrame
        The facts (or their table), with ``age_days`` and ``active_days_mask``.
    brackets : sequence of (int, int)
        Inclusive day-index ranges ``(a, b)`` with ``0 <= a <= b <= 62``.
    alpha : float, default 0.05
        For the ``1 - alpha`` Wilson interval.

    Returns
    -------
    pandas.DataFrame
        ``start, end, eligible, retained, rate, ci_low, ci_high``; a user is eligible for
        ``[a, b]`` if ``age_days >= b + 1`` (the whole bracket is observed).

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"age_days": [14.0, 14.0, 3.0], "active_days_mask": [1 << 9, 1 << 2, 1 << 2]})
    >>> bracket_retention(facts, [(1, 6), (7, 13)])[["start", "end", "eligible", "retained"]]
       start  end  eligible  retained
    0      1    6         2         1
    1      7   13         2         1
    """
    alpha = check_alpha(alpha)
    checked = []
    for bracket in brackets:
        try:
            start, end = bracket
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"each bracket must be a pair (start, end) of day indices, but was {bracket!r}"
            ) from err
        start = check_day(start, "bracket start", max_day=MAX_MASK_DAY)
        end = check_day(end, "bracket end", max_day=MAX_MASK_DAY)
        if start > end:
            raise ValueError(f"bracket start must not exceed its end, but was {bracket!r}")
        checked.append((start, end))
    facts = table_of(facts)
    ages = user_ages(facts, "bracket_retention")
    mask = mask_column(facts, C.DAYS_MASK, "bracket_retention")
    eligible, retained = [], []
    for start, end in checked:
        bits = np.int64(((1 << (end + 1)) - 1) ^ ((1 << start) - 1))
        ok = ages >= end + 1
        eligible.append(int(ok.sum()))
        retained.append(int((ok & ((mask & bits) != 0)).sum()))
    table = pd.DataFrame(
        {
            "start": np.array([b[0] for b in checked], dtype=np.int64),
            "end": np.array([b[1] for b in checked], dtype=np.int64),
            **_estimates(eligible, retained, alpha),
        }
    )
    return table[BRACKET_COLUMNS]


def retention_curve(facts: Facts | pd.DataFrame, *, max_day: int = 30, alpha: float = 0.05) -> pd.DataFrame:
    """N-day retention for every day index ``0 .. max_day``, from ``active_days_mask``.

    Parameters
    ----------
    facts : Facts or pandas.DataFrame
        The facts of :func:`onboarding_analysis.data.pipeline.compute_facts` (or their table),
        with ``age_days`` and ``active_days_mask``.
    max_day : int, default 30
        Last day index, at most 62.
    alpha : float, default 0.05
        For the ``1 - alpha`` Wilson interval.

    Returns
    -------
    pandas.DataFrame
        ``day, eligible, retained, rate, ci_low, ci_high`` with one row per day; the
        eligible count shrinks with the day as younger users drop out of the denominator.

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"age_days": [3.0, 1.0], "active_days_mask": [0b101, 0b1]})
    >>> retention_curve(facts, max_day=2)[["day", "eligible", "retained"]]
       day  eligible  retained
    0    0         2         2
    1    1         1         0
    2    2         1         1
    """
    alpha = check_alpha(alpha)
    max_day = check_day(max_day, "max_day", max_day=MAX_MASK_DAY)
    facts = table_of(facts)
    ages = user_ages(facts, "retention_curve")
    mask = mask_column(facts, C.DAYS_MASK, "retention_curve")
    days = list(range(max_day + 1))
    eligible, retained = [], []
    for day in days:
        ok = ages >= day + 1
        eligible.append(int(ok.sum()))
        retained.append(int((ok & mask_bit(mask, day)).sum()))
    return _day_table(days, eligible, retained, alpha)


# --- headline numbers --------------------------------------------------------------------------


def _day_entries(table: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    missing = [col for col in RETENTION_COLUMNS if col not in table.columns]
    if missing:
        raise ValueError(
            f"expected a table from nday_retention or unbounded_retention, but columns {missing} are missing"
        )
    return {
        f"day_{int(row.day)}": {
            "rate": finite_or_none(row.rate),
            "ci_low": finite_or_none(row.ci_low),
            "ci_high": finite_or_none(row.ci_high),
            "eligible": int(row.eligible),
            "retained": int(row.retained),
        }
        for row in table.itertuples(index=False)
    }


def retention_metrics(on_table: pd.DataFrame, unbounded_table: pd.DataFrame) -> dict[str, dict]:
    """Headline retention numbers as a JSON-ready dict.

    Parameters
    ----------
    on_table : pandas.DataFrame
        Output of :func:`nday_retention`.
    unbounded_table : pandas.DataFrame
        Output of :func:`unbounded_retention`.

    Returns
    -------
    dict
        ``{"retention": {"day_<N>": {rate, ci_low, ci_high, eligible, retained}},
        "unbounded_retention": {...}}`` of plain ints and floats, with ``None`` (never NaN)
        where no user is eligible.

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"age_days": [1.5], "active_days_mask": [1], "last_active_day": [0]})
    >>> metrics = retention_metrics(nday_retention(facts, [1]), unbounded_retention(facts, [1]))
    >>> metrics["retention"]["day_1"]
    {'rate': None, 'ci_low': None, 'ci_high': None, 'eligible': 0, 'retained': 0}
    """
    return {"retention": _day_entries(on_table), "unbounded_retention": _day_entries(unbounded_table)}
