"""Retention: N-day, unbounded, bracket, curve and cohort tables (METRICS.md, "Retention").

Every function takes the user-facts table (one row per user, see
:mod:`onboarding_analysis.data.columns`) and returns a tidy DataFrame or a small frozen dataclass.

Censoring is handled by eligibility, never by counting as a failure: a user enters a day-N
figure only if ``age_days >= N + 1`` (day N is complete). Users who are not eligible leave the
denominator; a figure with no eligible user is NaN, never 0%.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..absence import NotComputable, add_note
from ..data import columns as C
from ..errors import DataError
from ..stats.intervals import check_alpha, wilson_interval

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
#: Highest day index a ``*_mask`` column holds.
MAX_MASK_DAY = C.MASK_BITS - 1


# --- validation helpers ------------------------------------------------------------------------


def _require_columns(facts: pd.DataFrame, needed: Iterable[str], what: str) -> None:
    if not isinstance(facts, pd.DataFrame):
        raise TypeError(f"facts must be a pandas DataFrame (the user-facts table), but was {type(facts)!r}")
    missing = [col for col in needed if col not in facts.columns]
    if missing:
        raise DataError(
            f"{what} needs the user-facts column(s) {missing}, which are missing; "
            f"build the table with onboarding_analysis.data.facts (columns present: {list(facts.columns)})"
        )


def _is_count(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _check_day(value: object, name: str, *, max_day: int | None = None) -> int:
    if not _is_count(value):
        raise ValueError(f"{name} must be a non-negative whole number of days, but was {value!r}")
    day = int(value)
    if day < 0:
        raise ValueError(f"{name} must be a non-negative whole number of days, but was {value!r}")
    if max_day is not None and day > max_day:
        raise ValueError(
            f"{name} must be at most {max_day} (the {C.DAYS_MASK} column holds day indices "
            f"0..{MAX_MASK_DAY}), but was {value!r}"
        )
    return day


def _check_days(days: int | Iterable[int], name: str = "days") -> list[int]:
    if _is_count(days):
        days = [days]
    return [_check_day(day, f"{name} entry") for day in days]


def _ages(facts: pd.DataFrame, what: str) -> np.ndarray:
    _require_columns(facts, [C.AGE], what)
    ages = pd.to_numeric(facts[C.AGE], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(ages).any():
        bad = facts.index[np.isnan(ages)][:5].tolist()
        raise DataError(
            f"column {C.AGE!r} has missing or non-numeric values (rows {bad}); every user needs "
            f"an age: rebuild the facts table with an observation end"
        )
    return ages


def _mask(facts: pd.DataFrame, column: str, what: str) -> np.ndarray:
    _require_columns(facts, [column], what)
    series = facts[column]
    if series.isna().any():
        bad = facts.index[series.isna().to_numpy()][:5].tolist()
        raise DataError(f"column {column!r} has missing values (rows {bad}); it must be an int64 bit mask")
    try:
        return series.to_numpy(dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise DataError(f"column {column!r} must be an int64 bit mask, but has dtype {series.dtype}") from err


def _bit(mask: np.ndarray, k: int) -> np.ndarray:
    return ((mask >> np.int64(k)) & np.int64(1)).astype(bool)


def _flags(facts: pd.DataFrame, column: str) -> np.ndarray:
    series = facts[column]
    if series.isna().any():
        raise DataError(f"column {column!r} has missing values; it must be True/False for every user")
    return series.to_numpy(dtype=bool)


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


def nday_retention(facts: pd.DataFrame, days: int | Iterable[int], *, alpha: float = 0.05) -> pd.DataFrame:
    """N-day ("on") retention: share of eligible users active on day index N.

    Parameters
    ----------
    facts : pandas.DataFrame
        User-facts table: ``age_days`` and, per day N, the flag column ``active_day_<N>``
        or else the ``active_days_mask`` bit mask (day indices 0..62).
    days : int or iterable of int
        Day indices N (day 0 is the first 24 hours after signup).
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
    days = _check_days(days)
    ages = _ages(facts, "nday_retention")
    eligible, retained = [], []
    for day in days:
        flag = C.active_day(day)
        if flag in facts.columns:
            active = _flags(facts, flag)
        elif C.DAYS_MASK in facts.columns and day <= MAX_MASK_DAY:
            active = _bit(_mask(facts, C.DAYS_MASK, "nday_retention"), day)
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
    facts: pd.DataFrame, days: int | Iterable[int], *, alpha: float = 0.05
) -> pd.DataFrame:
    """Unbounded ("on or after") retention: share of eligible users active on day N or later.

    Parameters
    ----------
    facts : pandas.DataFrame
        User-facts table with ``age_days`` and ``last_active_day`` (-1 if never active).
    days : int or iterable of int
        Day indices N.
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
    days = _check_days(days)
    ages = _ages(facts, "unbounded_retention")
    _require_columns(facts, [C.LAST_ACTIVE_DAY], "unbounded_retention")
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
    facts: pd.DataFrame, brackets: Sequence[tuple[int, int]], *, alpha: float = 0.05
) -> pd.DataFrame:
    """Bracket retention: share of eligible users active on some day index in ``[a, b]``.

    Parameters
    ----------
    facts : pandas.DataFrame
        User-facts table with ``age_days`` and ``active_days_mask``.
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
        start = _check_day(start, "bracket start", max_day=MAX_MASK_DAY)
        end = _check_day(end, "bracket end", max_day=MAX_MASK_DAY)
        if start > end:
            raise ValueError(f"bracket start must not exceed its end, but was {bracket!r}")
        checked.append((start, end))
    ages = _ages(facts, "bracket_retention")
    mask = _mask(facts, C.DAYS_MASK, "bracket_retention")
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


def retention_curve(facts: pd.DataFrame, *, max_day: int = 30, alpha: float = 0.05) -> pd.DataFrame:
    """N-day retention for every day index ``0 .. max_day``, from ``active_days_mask``.

    Parameters
    ----------
    facts : pandas.DataFrame
        User-facts table with ``age_days`` and ``active_days_mask``.
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
    max_day = _check_day(max_day, "max_day", max_day=MAX_MASK_DAY)
    ages = _ages(facts, "retention_curve")
    mask = _mask(facts, C.DAYS_MASK, "retention_curve")
    days = list(range(max_day + 1))
    eligible, retained = [], []
    for day in days:
        ok = ages >= day + 1
        eligible.append(int(ok.sum()))
        retained.append(int((ok & _bit(mask, day)).sum()))
    return _day_table(days, eligible, retained, alpha)


# --- cohort table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CohortTable:
    """Signup cohorts by user-relative period (METRICS.md, "Cohort table").

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
    facts: pd.DataFrame,
    *,
    period: Literal["week", "month"] = "week",
    min_cell_users: int = 1,
    max_periods: int | None = None,
) -> CohortTable:
    """Cohort retention table: signup cohorts by user-relative week or 30-day period.

    Parameters
    ----------
    facts : pandas.DataFrame
        User-facts table with ``t0``, ``age_days`` and ``active_weeks_mask`` (for
        ``period="week"``) or ``active_months_mask`` (for ``period="month"``).
    period : {"week", "month"}, default "week"
        ``"week"``: cohorts are ISO weeks of ``t0`` (labelled by their Monday), periods are
        ``[7k, 7k+7)`` days. ``"month"``: cohorts are calendar months of ``t0`` (labelled by
        the 1st), periods are ``[30k, 30k+30)`` days.
    min_cell_users : int, default 1
        Cells with fewer eligible users are left empty (NaN).
    max_periods : int, optional
        Keep at most this many period columns (``k = 0 .. max_periods - 1``). By default
        every period some user is eligible for (at most 63).

    Returns
    -------
    CohortTable

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
    if period not in C.PERIOD_DAYS:
        raise ValueError(f"period must be one of {sorted(C.PERIOD_DAYS)}, but was {period!r}")
    if not _is_count(min_cell_users) or min_cell_users < 1:
        raise ValueError(f"min_cell_users must be a whole number >= 1, but was {min_cell_users!r}")
    if max_periods is not None and (not _is_count(max_periods) or max_periods < 1):
        raise ValueError(f"max_periods must be None or a whole number >= 1, but was {max_periods!r}")

    length = C.PERIOD_DAYS[period]
    mask_column = C.PERIOD_MASK[period]
    ages = _ages(facts, "cohort_table")
    mask = _mask(facts, mask_column, "cohort_table")
    _require_columns(facts, [C.T0], "cohort_table")
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
        kept = ok & np.asarray(_bit(mask, k), dtype=bool)
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


# --- headline numbers --------------------------------------------------------------------------


def _number(value: object) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _day_entries(table: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    missing = [col for col in RETENTION_COLUMNS if col not in table.columns]
    if missing:
        raise ValueError(
            f"expected a table from nday_retention or unbounded_retention, but columns {missing} are missing"
        )
    return {
        f"day_{int(row.day)}": {
            "rate": _number(row.rate),
            "ci_low": _number(row.ci_low),
            "ci_high": _number(row.ci_high),
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
