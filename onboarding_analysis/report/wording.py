"""Numbers written for people.

Percents with one decimal and their interval, thousands separators, p-values, days and differences in
percentage points.

Used by the report's "At a glance" block and the batch index (:mod:`onboarding_analysis.report.summary`).
Every function accepts ``None`` (a figure that could not be estimated) and then returns the
text given as ``missing``, never ``"None"`` or ``"nan"``.

Examples
--------
>>> percent_ci(0.429, 0.381, 0.478)
'42.9% (38.1-47.8%)'
>>> count(189953), p_value(0.00002), p_value(0.0123)
('189,953', '< 0.001', '0.012')
>>> points_ci(0.1152, 0.0912, 0.1393)
'+11.5 points (95% CI +9.1 to +13.9)'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "NOT_ESTIMABLE",
    "count",
    "days",
    "days_ci",
    "duration",
    "is_number",
    "join_words",
    "p_value",
    "percent",
    "percent_ci",
    "points",
    "points_ci",
    "ratio_ci",
]

#: Shown in place of a figure that is ``null`` in metrics.json.
NOT_ESTIMABLE = "not enough users yet"


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (not a bool, not None, not NaN).

    Parameters
    ----------
    value : object
        Anything read from ``metrics.json``.

    Returns
    -------
    bool
        True for a finite int or float (not a bool).

    Examples
    --------
    >>> [is_number(v) for v in (1, 0.5, None, float("nan"), True, "3")]
    [True, True, False, False, False, False]
    """
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def percent(share: Any, *, missing: str = NOT_ESTIMABLE) -> str:
    """A share in ``[0, 1]`` as a percent with one decimal: ``0.4291`` -> ``'42.9%'``.

    Parameters
    ----------
    share : float or None
        The share.
    missing : str
        Returned when ``share`` is not a finite number.

    Returns
    -------
    str
        The percent, or ``missing``.

    Examples
    --------
    >>> percent(0.4291), percent(None)
    ('42.9%', 'not enough users yet')
    """
    return f"{100 * share:.1f}%" if is_number(share) else missing


def percent_ci(share: Any, low: Any, high: Any, *, missing: str = NOT_ESTIMABLE) -> str:
    """A share with its interval in one string: ``'42.9% (38.1-47.8%)'``.

    The interval is left out when a bound is missing.

    Parameters
    ----------
    share, low, high : float or None
        The share and its interval bounds.
    missing : str
        Returned when ``share`` is not a finite number.

    Returns
    -------
    str
        The percent and its interval, or ``missing``.

    Examples
    --------
    >>> percent_ci(0.5, None, 0.6)
    '50.0%'
    """
    if not is_number(share):
        return missing
    if is_number(low) and is_number(high):
        return f"{percent(share)} ({100 * low:.1f}-{100 * high:.1f}%)"
    return percent(share)


def count(n: Any, *, missing: str = "-") -> str:
    """A whole number with thousands separators: ``1234`` -> ``'1,234'``.

    Parameters
    ----------
    n : int, float or None
        The count (rounded to a whole number).
    missing : str
        Returned when ``n`` is not a finite number.

    Returns
    -------
    str
        The count with separators, or ``missing``.

    Examples
    --------
    >>> count(1234), count(None)
    ('1,234', '-')
    """
    return f"{int(round(n)):,}" if is_number(n) else missing


def p_value(p: Any, *, missing: str = "-") -> str:
    """A p-value: ``'< 0.001'`` below 0.001, else three decimals (``'0.012'``).

    Parameters
    ----------
    p : float or None
        The p-value.
    missing : str
        Returned when ``p`` is not a finite number.

    Returns
    -------
    str
        The p-value as text, or ``missing``.

    Examples
    --------
    >>> p_value(0.0004), p_value(0.56931), p_value(1.0)
    ('< 0.001', '0.569', '1.000')
    """
    if not is_number(p):
        return missing
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def days(value: Any, *, missing: str = NOT_ESTIMABLE) -> str:
    """A duration in days with one decimal: ``43.51`` -> ``'43.5 days'``.

    Parameters
    ----------
    value : float or None
        The duration in days.
    missing : str
        Returned when ``value`` is not a finite number.

    Returns
    -------
    str
        The number of days with its unit, or ``missing``.

    Examples
    --------
    >>> days(43.51), days(1.0)
    ('43.5 days', '1.0 day')

    Under a day (that would read ``0.0 days``) the unit is hours, under an hour minutes:

    >>> days(0.25), days(5 / 1440), days(0.0)
    ('6.0 hours', '5 minutes', '0 minutes')
    """
    if not is_number(value):
        return missing
    return _in_unit(value, _unit(value))


def duration(value_days: Any, *, missing: str = "-") -> str:
    """A window length given in days, in its natural unit.

    Whole days, else whole hours, else days with two decimals.

    Parameters
    ----------
    value_days : float or None
        The length in days (a 12-hour window is ``0.5``).
    missing : str
        Returned when ``value_days`` is not a finite number.

    Returns
    -------
    str
        The duration in its largest whole unit, or ``missing``.

    Examples
    --------
    >>> duration(14), duration(1.0), duration(0.5), duration(1 / 24), duration(0.3)
    ('14 days', '1 day', '12 hours', '1 hour', '0.30 days')
    """
    if not is_number(value_days):
        return missing
    if float(value_days).is_integer():
        n = int(value_days)
        return f"{n:,} day" + ("" if n == 1 else "s")
    hours = value_days * 24
    if abs(hours - round(hours)) < 1e-9:
        n = int(round(hours))
        return f"{n:,} hour" + ("" if n == 1 else "s")
    return f"{value_days:.2f} days"


def days_ci(low: Any, high: Any) -> str:
    """The interval of a duration.

    ``'40.9-45.5 days'``, ``'40.9 days or more'`` without an upper bound, ``''`` without a lower one.

    Parameters
    ----------
    low, high : float or None
        The interval bounds in days.

    Returns
    -------
    str
        The interval in days, or ``''``.

    Examples
    --------
    >>> days_ci(40.9, 45.52), days_ci(40.9, None), days_ci(None, 3)
    ('40.9-45.5 days', '40.9 days or more', '')

    Both bounds take the unit of the upper one (see :func:`days`):

    >>> days_ci(0.1, 0.5), days_ci(0.0, 0.0)
    ('2.4-12.0 hours', '0-0 minutes')
    """
    if not is_number(low):
        return ""
    if not is_number(high):
        return f"{days(low)} or more"
    unit = _unit(high)
    return f"{_in_unit(low, unit, with_unit=False)}-{_in_unit(high, unit)}"


#: Units of a duration given in days: (name, days per unit, decimals), largest first.
_UNITS = (("day", 1.0, 1), ("hour", 1 / 24, 1), ("minute", 1 / 1440, 0))


def _unit(value_days: float) -> tuple[str, float, int]:
    """Days from one day up; hours from one hour; minutes below (a duration in days)."""
    for unit in _UNITS[:-1]:
        if abs(value_days) >= unit[1]:
            return unit
    return _UNITS[-1]


def _in_unit(value_days: float, unit: tuple[str, float, int], *, with_unit: bool = True) -> str:
    name, size, decimals = unit
    number = f"{value_days / size:.{decimals}f}"
    if number.startswith("-") and float(number) == 0:
        number = number[1:]
    if not with_unit:
        return number
    return f"{number} {name}" + ("" if number in ("1", "1.0") else "s")


def points(diff: Any, *, missing: str = NOT_ESTIMABLE) -> str:
    """A difference of two shares in percentage points, signed: ``0.115`` -> ``'+11.5 points'``.

    Parameters
    ----------
    diff : float or None
        Difference of two shares (``0.115`` = 11.5 points).
    missing : str
        Returned when ``diff`` is not a finite number.

    Returns
    -------
    str
        The signed difference in percentage points, or ``missing``.

    Examples
    --------
    >>> points(0.115), points(-0.0021), points(0.0)
    ('+11.5 points', '-0.2 points', '0.0 points')
    """
    if not is_number(diff):
        return missing
    text = f"{100 * diff:+.1f}"
    return ("0.0" if text in ("+0.0", "-0.0") else text) + " points"


def points_ci(diff: Any, low: Any, high: Any, *, missing: str = NOT_ESTIMABLE) -> str:
    """A difference in points with its interval: ``'+11.5 points (95% CI +9.1 to +13.9)'``.

    Parameters
    ----------
    diff, low, high : float or None
        The difference of two shares and its interval bounds.
    missing : str
        Returned when ``diff`` is not a finite number.

    Returns
    -------
    str
        The difference in points with its interval, or ``missing``.

    Examples
    --------
    >>> points_ci(0.019, -0.0022, 0.0404)
    '+1.9 points (95% CI -0.2 to +4.0)'
    """
    if not is_number(diff):
        return missing
    if not (is_number(low) and is_number(high)):
        return points(diff)
    lo, hi = (points(v).removesuffix(" points") for v in (low, high))
    return f"{points(diff)} (95% CI {lo} to {hi})"


def ratio_ci(ratio: Any, low: Any, high: Any, *, missing: str = NOT_ESTIMABLE) -> str:
    """A hazard ratio with its interval: ``'0.79 (95% CI 0.73-0.86)'``.

    Parameters
    ----------
    ratio : float or None
        The hazard ratio; ``missing`` is returned when it is not a finite number.
    low, high : float or None
        Its 95% interval, left out when a bound is missing.
    missing : str
        The text for a missing ratio.

    Returns
    -------
    str
        The ratio with its interval, or ``missing``.

    Examples
    --------
    >>> ratio_ci(0.7918, 0.733, 0.8554), ratio_ci(1.2, None, None)
    ('0.79 (95% CI 0.73-0.86)', '1.20')
    """
    if not is_number(ratio):
        return missing
    if is_number(low) and is_number(high):
        return f"{ratio:.2f} (95% CI {low:.2f}-{high:.2f})"
    return f"{ratio:.2f}"


def join_words(items: Sequence[str]) -> str:
    """``['a']`` -> ``'a'``, ``['a', 'b']`` -> ``'a and b'``, ``['a', 'b', 'c']`` -> ``'a, b and c'``.

    Parameters
    ----------
    items : sequence of str
        The words, in order.

    Returns
    -------
    str
        The items joined with commas and a final ``and``.

    Examples
    --------
    >>> join_words(["persona", "plan", "channel"])
    'persona, plan and channel'
    """
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
