"""Frequency weights: unique rows with a ``weight`` column, and the time grid that makes rows tie.

A million users have far fewer distinct ``(duration, event, group)`` combinations than rows once
durations sit on a grid. :func:`compress` collapses them into one row per combination with an
integer ``weight`` (how many users the row stands for); the estimators then run on the small
table. :func:`compress_codes` and :func:`compress_flagged` do the same for many tables that
differ by one 0/1 column, from one grouping.

**What is exact on weighted rows.**

* **Kaplan-Meier and log-rank.** lifelines' ``KaplanMeierFitter`` and ``logrank_test`` /
  ``multivariate_logrank_test`` sum the weights into the same at-risk and event counts as the
  replicated rows: survival, its confidence band, the log-rank statistic and p-value are
  identical. The Aalen-Johansen estimator of :mod:`onboarding_analysis.analyses.ttfv` is exact too.
* **Cox** with :func:`onboarding_analysis.stats.cox_fit.efron_cox` and its
  proportional-hazards check :func:`onboarding_analysis.stats.cox_fit.efron_ph_test`: a row of
  weight ``w`` counts as ``w`` users, also in the Efron steps of tied deaths, so the fit equals
  lifelines' on the replicated rows. lifelines' own ``CoxPHFitter`` on weighted rows is not exact
  with heavy ties (its Efron step counts tied rows, not weights); the tests keep that path as
  the reference.

**The time grid.** Continuous durations rarely tie, so they compress only on a grid: params
``compression_grid_hours`` (None = exact values, see ``docs/params.md``). Durations are rounded
**down** to the grid (:func:`round_durations`). Rounding down keeps every event "before day N" on
the same side of N when N is a grid point: ``floor(L) >= N`` iff ``L >= N``, so
``P(lifetime >= N)`` ("survival at day N", ``docs/metrics.md``) and ``P(TTFV < N)`` are computed
from the same users as without the grid; rounding *up* would move lifetimes in ``(N - grid, N)``
to ``N`` and count them as still there at day N. The grid must divide a day (0.25, 0.5, 1, 2, 3,
4, 6, 8, 12 or 24 hours) so that every whole day is a grid point. What changes is only the order
of events inside one grid cell (a censoring and a churn in the same hour tie, and a tie counts the
censored user as at risk), and lifetimes shorten by less than one grid step, which lowers the
RMST by about half a step (on the demo with a 1-hour grid, survival at days 1, 7 and 30 moves by
less than 0.01 of its standard error: tests/test_compression.py). A user censored within the first grid step is rounded to a censoring
at 0 and left out of the lifetime fits like every user censored at 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ..errors import DataError, ParamsError

__all__ = [
    "WEIGHT",
    "check_grid_hours",
    "compress",
    "compress_codes",
    "compress_flagged",
    "round_durations",
]

#: Name of the frequency-weight column written by :func:`compress`.
WEIGHT = "weight"
#: Hours per day.
HOURS_PER_DAY = 24.0
# Durations are fractional days computed from microseconds, so a duration meant to lie on a grid
# point can land an ulp below it; within this many hours of a grid point counts as on it (0.36
# microseconds: below the microsecond resolution of the facts, so an event one microsecond before
# a grid point stays before it).
_GRID_TOLERANCE_HOURS = 1e-10


def check_grid_hours(grid_hours: float | None) -> float | None:
    """Return ``grid_hours`` as a float (None stays None), or raise ``ParamsError``.

    The grid must divide a day, so that every whole day N is a grid point and "survival at day
    N" is unchanged by the rounding (see the module docstring).

    Parameters
    ----------
    grid_hours : float or None
        The params value ``compression_grid_hours``.

    Returns
    -------
    float or None
        The grid step in hours, or None for exact durations.

    Raises
    ------
    ParamsError
        If ``grid_hours`` is not a number of hours that divides 24.

    Examples
    --------
    >>> check_grid_hours(1), check_grid_hours(None)
    (1.0, None)
    """
    if grid_hours is None:
        return None
    try:
        value = float(grid_hours)
    except (TypeError, ValueError) as err:
        raise ParamsError(
            f"compression_grid_hours must be None or a number of hours dividing 24, but was {grid_hours!r}"
        ) from err
    steps = HOURS_PER_DAY / value if value > 0 else math.nan
    if isinstance(grid_hours, bool) or not math.isfinite(steps) or abs(steps - round(steps)) > 1e-9:
        raise ParamsError(
            f"compression_grid_hours must divide a day so that every day N is a grid point "
            f"(e.g. 0.5, 1, 2, 6, 24), but was {grid_hours!r}; use null for exact durations"
        )
    return value


def round_durations(durations: ArrayLike, grid_hours: float | None) -> np.ndarray:
    """Round durations (days) *down* to a grid of ``grid_hours``; None returns them unchanged.

    Parameters
    ----------
    durations : array-like of float
        Durations in days (NaN stays NaN).
    grid_hours : float or None
        Grid step in hours; it must divide 24.

    Returns
    -------
    numpy.ndarray
        ``floor(hours / grid) * grid / 24``: a duration exactly on a grid point stays there, so
        whole days stay whole.

    Examples
    --------
    >>> round_durations([0.0, 0.99, 1.0, 1.02], 1).round(4).tolist()
    [0.0, 0.9583, 1.0, 1.0]
    """
    grid = check_grid_hours(grid_hours)
    values = np.asarray(durations, dtype=float)
    if grid is None:
        return values.copy()
    steps = np.floor(values * (HOURS_PER_DAY / grid) + _GRID_TOLERANCE_HOURS / grid)
    return steps * grid / HOURS_PER_DAY


def compress(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    duration: str | None = None,
    grid_hours: float | None = None,
    weights: str | None = None,
) -> pd.DataFrame:
    """Collapse ``frame`` to its unique rows over ``columns``, with integer frequency weights.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per user (or already weighted rows, see ``weights``).
    columns : sequence of str
        The columns that identify a row after compression (e.g. duration, event, group,
        covariates). Missing values form their own rows.
    duration : str, optional
        A column of ``columns`` holding durations in days, rounded down to ``grid_hours``
        before grouping.
    grid_hours : float, optional
        Grid for ``duration`` (:func:`round_durations`); None keeps exact values.
    weights : str, optional
        A column of existing frequency weights to sum (default: each row counts once).

    Returns
    -------
    pandas.DataFrame
        ``columns`` plus ``weight`` (int64), one row per distinct combination, sorted by
        ``columns``. Fitting a weighted estimator on it equals fitting the expanded rows (see
        the module docstring for the one exception, tied deaths in Cox).

    Raises
    ------
    DataError
        If a column of ``columns`` (or ``weights``) is not in ``frame``.
    ValueError
        If ``weights`` holds values that are not whole numbers >= 1, a key column is named
        ``weight``, or ``duration`` is not one of ``columns``.

    Examples
    --------
    >>> import pandas as pd
    >>> users = pd.DataFrame({"days": [1.0, 1.0, 2.5, 2.6], "churned": [True, True, False, False]})
    >>> compress(users, ["days", "churned"], duration="days", grid_hours=24)
       days  churned  weight
    0   1.0     True       2
    1   2.0    False       2
    """
    columns = list(columns)
    data = _keyed(frame, columns, duration=duration, grid_hours=grid_hours, weights=weights)
    if weights is None:
        data[WEIGHT] = np.ones(len(frame), dtype=np.int64)
    else:
        w = pd.to_numeric(frame[weights], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(w).all() or (w < 1).any() or (w != np.floor(w)).any():
            raise ValueError(f"compress: weights column {weights!r} must hold whole numbers >= 1")
        data[WEIGHT] = w.astype(np.int64)
    if not columns:
        return pd.DataFrame({WEIGHT: [int(data[WEIGHT].sum())]}, dtype=np.int64)
    out = data.groupby(columns, sort=True, dropna=False, observed=True)[WEIGHT].sum().reset_index()
    out[WEIGHT] = out[WEIGHT].astype(np.int64)
    return out


def _keyed(
    frame: pd.DataFrame,
    columns: list[str],
    *,
    duration: str | None,
    grid_hours: float | None,
    weights: str | None = None,
) -> pd.DataFrame:
    """``frame[columns]`` checked, with ``duration`` rounded to ``grid_hours`` (the keys of a compression)."""
    missing = [col for col in (*columns, *([weights] if weights else [])) if col not in frame.columns]
    if missing:
        raise DataError(
            f"compress: column(s) {missing} are not in the table (columns: {list(frame.columns)})"
        )
    if WEIGHT in columns:
        raise ValueError(f"compress: {WEIGHT!r} names the output weight column; it cannot be a key column")
    if duration is not None and duration not in columns:
        raise ValueError(f"compress: duration {duration!r} must be one of the columns {columns}")
    data = frame[columns].copy()
    if duration is not None and grid_hours is not None:
        data[duration] = round_durations(data[duration].to_numpy(dtype=float), grid_hours)
    return data


def compress_codes(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    duration: str | None = None,
    grid_hours: float | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The unique rows of ``frame`` over ``columns`` and, per row, the position of its unique row.

    ``unique.assign(weight=np.bincount(codes))`` is ``compress(frame, columns, duration=...,
    grid_hours=...)`` (same rows, same order). With :func:`compress_flagged`, tables that share
    ``columns`` and differ by one 0/1 column (one Cox fit per flag, as in
    :func:`onboarding_analysis.analyses.drivers.early_behaviours`) are compressed from one grouping
    instead of one each.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per user.
    columns : sequence of str
        The key columns (at least one).
    duration : str, optional
        A column of ``columns`` holding durations in days, rounded down to ``grid_hours``.
    grid_hours : float, optional
        Grid for ``duration``; None keeps exact values.

    Returns
    -------
    codes : numpy.ndarray of int64
        Per row of ``frame``, its row in ``unique``.
    unique : pandas.DataFrame
        ``columns``, one row per distinct combination (missing values included), sorted.

    Examples
    --------
    >>> import pandas as pd
    >>> codes, unique = compress_codes(pd.DataFrame({"days": [2.0, 1.0, 2.0]}), ["days"])
    >>> codes.tolist(), unique["days"].tolist()
    ([1, 0, 1], [1.0, 2.0])
    """
    columns = list(columns)
    if not columns:
        raise ValueError("compress_codes: name at least one column")
    data = _keyed(frame, columns, duration=duration, grid_hours=grid_hours)
    codes = data.groupby(columns, sort=True, dropna=False, observed=True).ngroup().to_numpy(dtype=np.int64)
    _, first = np.unique(codes, return_index=True)  # codes are 0..k-1: the first row of each
    return codes, data.iloc[first].reset_index(drop=True)


def compress_flagged(codes: np.ndarray, unique: pd.DataFrame, flag: ArrayLike, name: str) -> pd.DataFrame:
    """``compress`` of the rows of :func:`compress_codes` with a 0/1 column ``name`` added.

    Equals ``compress(frame.assign(**{name: flag}), [*columns, name], ...)`` up to row order
    (here sorted by ``columns``, then ``name``), with ``name`` as float 0.0/1.0: one
    ``bincount`` over the rows, no grouping.

    Parameters
    ----------
    codes : numpy.ndarray of int64
        Per row, its row in ``unique`` (from :func:`compress_codes`).
    unique : pandas.DataFrame
        The unique key rows (from :func:`compress_codes`).
    flag : array-like of bool or 0/1
        One flag per row of ``codes``.
    name : str
        Name of the flag column; not a column of ``unique`` nor ``"weight"``.

    Returns
    -------
    pandas.DataFrame
        The columns of ``unique``, ``name`` (0.0 or 1.0) and ``weight`` (int64), one row per
        combination that occurs.

    Examples
    --------
    >>> import pandas as pd
    >>> codes, unique = compress_codes(pd.DataFrame({"days": [2.0, 1.0, 2.0]}), ["days"])
    >>> compress_flagged(codes, unique, [True, False, False], "did")
       days  did  weight
    0   1.0  0.0       1
    1   2.0  0.0       1
    2   2.0  1.0       1
    """
    if name in unique.columns or name == WEIGHT:
        raise ValueError(f"compress_flagged: {name!r} is already a column of the compressed rows")
    flag = np.asarray(flag)
    if flag.shape != codes.shape:
        raise ValueError(f"compress_flagged: {len(flag)} flags for {len(codes)} rows")
    pairs = codes * 2 + flag.astype(bool)
    counts = np.bincount(pairs, minlength=2 * len(unique))
    keep = np.flatnonzero(counts)
    out = unique.iloc[keep // 2].reset_index(drop=True)
    out[name] = (keep % 2).astype(float)
    out[WEIGHT] = counts[keep].astype(np.int64)
    return out

