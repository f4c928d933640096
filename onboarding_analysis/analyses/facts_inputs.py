"""Checks of what the analyses read from the facts: the events, the user-facts table, options.

Each raises one line naming what is missing and how to get it
(:func:`onboarding_analysis.compute_facts`), so a section that cannot run says why.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..data import columns as C
from ..errors import DataError

__all__ = ["churned_flags", "duration_column", "facts_events", "facts_table", "whole_number"]


def facts_events(facts: Any, what: str):
    """The ibis table of used events of ``facts`` (``facts.events``).

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.compute_facts`.
    what : str
        The function asking, for the error message.

    Returns
    -------
    ibis.expr.types.Table
        ``facts.events``.

    Raises
    ------
    DataError
        ``facts`` has no events table.
    """
    events = getattr(facts, "events", None)
    if events is None:
        raise DataError(
            f"{what} needs the event table of the facts (facts.events), which is missing; "
            "build the facts with onboarding_analysis.compute_facts(params)"
        )
    return events


def facts_table(facts: Any, needed: Iterable[str], what: str) -> pd.DataFrame:
    """The user-facts table of ``facts`` (or ``facts`` itself if it is one), with ``needed`` columns.

    Parameters
    ----------
    facts : Facts or pandas.DataFrame
        The facts, or their ``table``.
    needed : iterable of str
        Columns the caller reads.
    what : str
        The function asking, for the error message.

    Returns
    -------
    pandas.DataFrame
        The user-facts table.

    Raises
    ------
    TypeError
        ``facts`` is neither a Facts object nor a DataFrame.
    DataError
        A needed column is missing.
    """
    table = facts if isinstance(facts, pd.DataFrame) else getattr(facts, "table", None)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{what} needs a Facts object (or its .table), but got {type(facts)!r}")
    missing = [col for col in needed if col not in table.columns]
    if missing:
        raise DataError(
            f"{what} needs the user-facts column(s) {missing}, which are missing; "
            "build the table with onboarding_analysis.compute_facts(params)"
        )
    return table


def whole_number(value: object, name: str, *, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int, checked to be a whole number in ``[minimum, maximum]``.

    Parameters
    ----------
    value : int
        The option's value (a bool is refused).
    name : str
        The option's name, for the error message.
    minimum : int
        The smallest allowed value.
    maximum : int, optional
        The largest allowed value; no limit by default.

    Returns
    -------
    int
        ``value``.

    Raises
    ------
    ValueError
        A value that is not a whole number or is out of range.
    """
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= minimum
    if not ok or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise ValueError(f"{name} must be a whole number >= {minimum}{upper}, but was {value!r}")
    return int(value)


def duration_column(table: pd.DataFrame, column: str, *, allow_nan: bool = False) -> np.ndarray:
    """A user-facts column of durations in days, checked to be finite and non-negative.

    Parameters
    ----------
    table : pandas.DataFrame
        The user-facts table.
    column : str
        E.g. ``age_days``, ``lifetime_days`` or ``value_days``.
    allow_nan : bool, default False
        Whether NaN ("never", as in ``value_days``) is allowed.

    Returns
    -------
    numpy.ndarray
        The durations as float64.

    Raises
    ------
    DataError
        A value that is negative, infinite, not numeric or (unless allowed) missing; the
        message names the column, the first rows and their values.
    """
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = (np.isinf(values) | (values < 0)) | (np.isnan(values) & (not allow_nan))
    if bad.any():
        rows = table.index[bad][:5].tolist()
        raise DataError(
            f"column {column!r} must hold finite non-negative durations in days"
            f"{' (NaN if never)' if allow_nan else ''}, but rows {rows} do not "
            f"(values {values[bad][:5].tolist()}); try pd.isnull to find the problematic values"
        )
    return values


def churned_flags(table: pd.DataFrame) -> np.ndarray:
    """The ``churned`` column of the user-facts table, checked to be True/False for every user.

    Parameters
    ----------
    table : pandas.DataFrame
        The user-facts table.

    Returns
    -------
    numpy.ndarray
        One bool per user.

    Raises
    ------
    DataError
        A missing or non-boolean value.
    """
    churned = table[C.CHURNED]
    if churned.isna().any() or not churned.isin([True, False]).all():
        raise DataError(f"column {C.CHURNED!r} must be True/False for every user")
    return churned.to_numpy(dtype=bool)
