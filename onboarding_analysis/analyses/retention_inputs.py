"""Checks and readers of the user-facts columns that the retention figures count.

Shared by :mod:`onboarding_analysis.analyses.retention` (N-day, unbounded, bracket, curve)
and :mod:`onboarding_analysis.analyses.retention_cohorts` (the cohort table): each reader
checks its column and says which one is missing or malformed, and how to rebuild it
(:class:`~onboarding_analysis.errors.DataError`); the option checks raise ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError

__all__ = [
    "MAX_MASK_DAY",
    "check_day",
    "check_days",
    "facts_table",
    "table_of",
    "flag_column",
    "is_count",
    "mask_bit",
    "mask_column",
    "require_columns",
    "user_ages",
]

#: Highest day index a ``*_mask`` column holds.
MAX_MASK_DAY = C.MASK_BITS - 1


def table_of(facts: Facts | pd.DataFrame) -> pd.DataFrame:
    """The user-facts table: ``facts.table`` of a Facts object, or ``facts`` itself.

    Parameters
    ----------
    facts : Facts or pandas.DataFrame
        The facts of :func:`onboarding_analysis.data.pipeline.compute_facts`, or their table.

    Returns
    -------
    pandas.DataFrame
        One row per user (checked by the readers below, not here).
    """
    return facts.table if isinstance(facts, Facts) else facts


def facts_table(facts: Facts | pd.DataFrame, option: object, name: str, default: object = None):
    """The user-facts table of ``facts`` and an option, defaulting from ``facts.params``.

    Parameters
    ----------
    facts : Facts or pandas.DataFrame
        The facts of :func:`onboarding_analysis.data.pipeline.compute_facts`, or their table.
    option : object
        The caller's value of the option (None: its default).
    name : str
        The params key the option defaults to when ``facts`` is a Facts object.
    default : object, optional
        The default for a bare table; None means the option is required then.

    Returns
    -------
    table : pandas.DataFrame
        ``facts.table``, or ``facts`` itself.
    value : object
        ``option``, else ``facts.params.<name>``, else ``default``.

    Raises
    ------
    ValueError
        The option is required (a bare table without ``default``) and was not given.
    """
    if isinstance(facts, Facts):
        return table_of(facts), getattr(facts.params, name) if option is None else option
    if option is None and default is None:
        raise ValueError(
            f"{name} is required with a bare facts table; pass it, or pass the Facts object of "
            f"compute_facts(params) to use params {name}"
        )
    return facts, default if option is None else option


def require_columns(facts: pd.DataFrame, needed: Iterable[str], what: str) -> None:
    """Check that ``facts`` is a DataFrame holding every column of ``needed``.

    Parameters
    ----------
    facts : pandas.DataFrame
        The user-facts table.
    needed : iterable of str
        Column names.
    what : str
        The figure that needs them, for the message.

    Raises
    ------
    TypeError
        ``facts`` is not a DataFrame.
    DataError
        A column is missing (the message lists it and the columns present).
    """
    if not isinstance(facts, pd.DataFrame):
        raise TypeError(f"facts must be a pandas DataFrame (the user-facts table), but was {type(facts)!r}")
    missing = [col for col in needed if col not in facts.columns]
    if missing:
        raise DataError(
            f"{what} needs the user-facts column(s) {missing}, which are missing; "
            f"build the table with onboarding_analysis.data.facts (columns present: {list(facts.columns)})"
        )


def is_count(value: object) -> bool:
    """Whether ``value`` is a whole number (a Python or numpy integer, not a bool).

    Parameters
    ----------
    value : object
        Any value.

    Returns
    -------
    bool
        True for ``int`` and numpy integers other than ``bool``.
    """
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_day(value: object, name: str, *, max_day: int | None = None) -> int:
    """A day index option, checked: a whole number ``>= 0`` (and ``<= max_day`` if given).

    Parameters
    ----------
    value : object
        The option's value.
    name : str
        The option's name, for the message.
    max_day : int, optional
        The largest allowed day (the bit masks hold days ``0 .. MAX_MASK_DAY``).

    Returns
    -------
    int
        ``value`` as an ``int``.

    Raises
    ------
    ValueError
        Not a whole number, negative, or beyond ``max_day``.
    """
    if not is_count(value):
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


def check_days(days: int | Iterable[int], name: str = "days") -> list[int]:
    """One day index or several, checked by :func:`check_day`.

    Parameters
    ----------
    days : int or iterable of int
        The day indices.
    name : str, default "days"
        The option's name, for the message.

    Returns
    -------
    list of int
        The days, in the order given.
    """
    if is_count(days):
        days = [days]
    return [check_day(day, f"{name} entry") for day in days]


def user_ages(facts: pd.DataFrame, what: str) -> np.ndarray:
    """Every user's ``age_days`` (days observed since signup), checked.

    Parameters
    ----------
    facts : pandas.DataFrame
        The user-facts table.
    what : str
        The figure that needs them, for the message.

    Returns
    -------
    numpy.ndarray
        Float ages, one per row.

    Raises
    ------
    DataError
        The column is missing, or a value is missing or not a number.
    """
    require_columns(facts, [C.AGE], what)
    ages = pd.to_numeric(facts[C.AGE], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(ages).any():
        bad = facts.index[np.isnan(ages)][:5].tolist()
        raise DataError(
            f"column {C.AGE!r} has missing or non-numeric values (rows {bad}); every user needs "
            f"an age: rebuild the facts table with an observation end"
        )
    return ages


def mask_column(facts: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """An activity bit-mask column (bit ``k`` set: active in period ``k``), checked.

    Parameters
    ----------
    facts : pandas.DataFrame
        The user-facts table.
    column : str
        ``active_days_mask``, ``active_weeks_mask`` or ``active_months_mask``.
    what : str
        The figure that needs it, for the message.

    Returns
    -------
    numpy.ndarray
        ``int64`` masks, one per row.

    Raises
    ------
    DataError
        The column is missing, has missing values, or is not integer.
    """
    require_columns(facts, [column], what)
    series = facts[column]
    if series.isna().any():
        bad = facts.index[series.isna().to_numpy()][:5].tolist()
        raise DataError(f"column {column!r} has missing values (rows {bad}); it must be an int64 bit mask")
    try:
        return series.to_numpy(dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise DataError(f"column {column!r} must be an int64 bit mask, but has dtype {series.dtype}") from err


def mask_bit(mask: np.ndarray, k: int) -> np.ndarray:
    """Bit ``k`` of each mask: whether each user was active in period ``k``.

    Parameters
    ----------
    mask : numpy.ndarray
        ``int64`` masks (:func:`mask_column`).
    k : int
        The period (day, week or month index).

    Returns
    -------
    numpy.ndarray
        Booleans, one per mask.
    """
    return ((mask >> np.int64(k)) & np.int64(1)).astype(bool)


def flag_column(facts: pd.DataFrame, column: str) -> np.ndarray:
    """A True/False column of the facts table (such as ``active_day_<N>``), checked.

    Parameters
    ----------
    facts : pandas.DataFrame
        The user-facts table, holding ``column``.
    column : str
        The flag column.

    Returns
    -------
    numpy.ndarray
        Booleans, one per row.

    Raises
    ------
    DataError
        The column has missing values.
    """
    series = facts[column]
    if series.isna().any():
        raise DataError(f"column {column!r} has missing values; it must be True/False for every user")
    return series.to_numpy(dtype=bool)
