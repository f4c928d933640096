"""Checks of what the analyses read from the facts: the events, the user-facts table, options.

Each raises one line naming what is missing and how to get it
(:func:`onboarding_analysis.compute_facts`), so a section that cannot run says why.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["facts_events", "facts_table", "whole_number"]


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
