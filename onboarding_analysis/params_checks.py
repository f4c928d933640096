"""The value checks of params keys: one check per key in :data:`_CHECKS`, and the window helpers.

Each check returns the normalised value or raises :class:`_Invalid` with what is expected;
:mod:`onboarding_analysis.params` turns that into a :class:`~onboarding_analysis.errors.ParamsError`
naming the file, the key and the value. Every key is documented in ``docs/params.md``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ParamsError

#: Keys of the ``columns`` mapping: the names the package uses, mapped to the input's names.
COLUMN_KEYS = ("user_id", "event", "timestamp", "signup_at", "account_id", "client", "value")
DEFAULT_COLUMNS = {key: key for key in COLUMN_KEYS}
LIFETIME_CENSORING = ("observable", "observation_end")
#: The values of params ``source``: ``canonical`` or a vendor reader of :mod:`onboarding_analysis.data.sources`.
SOURCES = ("canonical", "amplitude", "mixpanel", "posthog", "segment", "ga4")
FUNNEL_MODES = ("ordered", "strict", "any_order")
#: Values of params ``funnel_semantics`` (docs/funnels.md).
FUNNEL_SEMANTICS = ("onboarding", "posthog")
#: Seconds per unit of params ``conversion_window`` ("<n> <unit>"): fixed lengths, as PostHog's
#: ``DATERANGE_MAP`` (posthog/utils.py): a month is 31 days and daylight saving changes nothing.
WINDOW_UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3_600,
    "day": 86_400,
    "week": 7 * 86_400,
    "month": 31 * 86_400,
}
_WINDOW_TEXT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*$")
P_ADJUST = ("holm", "fdr_bh")
ENGINES = ("duckdb", "spark")
SCORE_SCALES = ("nps", "csat")
OBSERVATION_END_CHECKS = ("error", "warn")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def window_seconds(value: float | str) -> float:
    """Length in seconds of a ``conversion_window`` value: a number of days, or "<n> <unit>".

    Parameters
    ----------
    value : float or str
        A number of days, or "<n> <unit>" with a unit of :data:`WINDOW_UNITS` (plural allowed).

    Returns
    -------
    float
        The window's length in seconds (a month is 31 days).

    Raises
    ------
    ParamsError
        Not a positive number of days nor "<n> <unit>" with a unit of :data:`WINDOW_UNITS`.

    Examples
    --------
    >>> window_seconds("5 minutes"), window_seconds(14), window_seconds("1 month")
    (300.0, 1209600.0, 2678400.0)
    """
    try:
        amount, unit = _window_parts(value)
    except _Invalid as bad:
        raise ParamsError(f"key 'conversion_window': value {value!r} is invalid: expected {bad}.") from None
    return float(amount * WINDOW_UNITS[unit])


def window_label(value: float | str) -> str:
    """Return a ``conversion_window`` value for display: "14 days", "1 day", "5 minutes".

    Parameters
    ----------
    value : float or str
        A valid ``conversion_window`` value: a number of days or "<n> <unit>".

    Returns
    -------
    str
        The amount and unit, the unit plural unless the amount is 1.
    """
    amount, unit = _window_parts(value)
    return f"{amount:g} {unit}" + ("" if amount == 1 else "s")


def window_adjective(value: float | str) -> str:
    """Return a ``conversion_window`` value before a noun: "14-day", "5-minute".

    Parameters
    ----------
    value : float or str
        A valid ``conversion_window`` value: a number of days or "<n> <unit>".

    Returns
    -------
    str
        The amount and the singular unit joined by a hyphen.
    """
    amount, unit = _window_parts(value)
    return f"{amount:g}-{unit}"


def _window_parts(value: Any) -> tuple[float, str]:
    """``(amount, unit)`` of a window: a number means days."""
    expected = (
        'a number of days > 0 (e.g. 14) or "<n> <unit>" with a unit of '
        + ", ".join(WINDOW_UNITS)
        + ' (plural allowed; a month is 31 days), e.g. "5 minutes"'
    )
    if isinstance(value, str):
        match = _WINDOW_TEXT.match(value)
        if match is None:
            raise _Invalid(expected)
        amount, unit = float(match.group(1)), match.group(2).lower()
        if unit not in WINDOW_UNITS and unit.endswith("s"):
            unit = unit[:-1]
        if unit not in WINDOW_UNITS or amount <= 0:
            raise _Invalid(expected)
        return amount, unit
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise _Invalid(expected)
    return float(value), "day"


def check_value(key: str, value: Any) -> Any:
    """Validate and normalise one params value as ``validate_params`` would.

    For options given directly to an analysis function, e.g.
    ``compute_funnel(facts, steps=[...])``.

    Parameters
    ----------
    key : str
        A params key (one of :data:`_CHECKS`).
    value : Any
        The value given for ``key``.

    Returns
    -------
    Any
        The normalised value (e.g. lists become tuples).

    Raises
    ------
    ParamsError
        The value is invalid for ``key``: the message names the key, the value and what is expected.
    KeyError
        ``key`` is not a params key.
    """
    try:
        return _CHECKS[key](value)
    except _Invalid as bad:
        raise ParamsError(f"key '{key}': value {value!r} is invalid: expected {bad}.") from None


# --------------------------------------------------------------------------------------------
# Checks: each returns the normalised value or raises _Invalid("what is expected")
# --------------------------------------------------------------------------------------------


class _Invalid(Exception):
    pass


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("a non-empty string")
    return value


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def inner(value: Any) -> Any:
        return None if value is None else check(value)

    return inner


def _client(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _SAFE_NAME.match(value):
        raise _Invalid(
            "a run name of letters, digits, '_', '-' or '.', starting with a letter or digit "
            "(it names the output folder, so no '/' or '..')"
        )
    return value


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid("a list of event names, e.g. [created_report]")
    return tuple(value)


def _positive_number(value: Any) -> float | int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise _Invalid("a number of days > 0")
    return value


def _conversion_window(value: Any) -> float | str:
    """Return a number of days as given, or "<n> <unit>" normalised ("5 Minute" -> "5 minutes")."""
    _window_parts(value)
    return value if not isinstance(value, str) else window_label(value)


def _whole_at_least(minimum: int) -> Callable[[Any], int]:
    def inner(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Invalid(f"a whole number >= {minimum}")
        return value

    return inner


def _days_list(value: Any) -> tuple[int, ...]:
    ok = (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    )
    if not ok:
        raise _Invalid("a non-empty list of whole numbers of days >= 0, e.g. [1, 7, 30]")
    if len(set(value)) != len(value):
        raise _Invalid("a list of distinct days (this one repeats a day)")
    return tuple(sorted(value))


def _steps(value: Any) -> tuple[tuple[str, ...], ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise _Invalid("a list of steps; each step an event name or a list of event names")
    steps = []
    for step in value:
        if isinstance(step, str) and step:
            steps.append((step,))
        elif isinstance(step, list | tuple) and step and all(isinstance(s, str) and s for s in step):
            steps.append(tuple(step))
        else:
            raise _Invalid("a list of steps; each step an event name or a list of event names")
    return tuple(steps)


def _columns(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _Invalid(f"a mapping from {', '.join(COLUMN_KEYS)} to your file's column names")
    bad = [k for k in value if k not in COLUMN_KEYS]
    if bad:
        raise _Invalid(f"only the keys {', '.join(COLUMN_KEYS)} (got '{bad[0]}')")
    if not all(isinstance(v, str) and v for v in value.values()):
        raise _Invalid("column names as non-empty strings")
    return DEFAULT_COLUMNS | dict(value)


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("an IANA time zone name such as UTC or Europe/Paris")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _Invalid("an IANA time zone name such as UTC or Europe/Paris") from None
    return value


def _date_or_datetime(value: Any) -> dt.date | dt.datetime:
    if isinstance(value, dt.datetime | dt.date):
        return value
    if isinstance(value, str):
        try:
            if len(value.strip()) == 10:
                return dt.date.fromisoformat(value.strip())
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Invalid("a date (2024-08-31, meaning the end of that day) or a datetime (2024-08-31T12:00:00)")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise _Invalid("a date such as 2024-04-01 (no time of day)")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Invalid("a date such as 2024-04-01")


def _filters(value: Any) -> dict[str, tuple[Any, ...]]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and k for k in value):
        raise _Invalid("a mapping of column -> value or list of values, e.g. {client: acme}")
    out = {}
    for key, allowed in value.items():
        allowed = allowed if isinstance(allowed, list | tuple) else [allowed]
        if not allowed or not all(isinstance(v, str | int | float | bool) for v in allowed):
            raise _Invalid("a mapping of column -> value or list of values, e.g. {client: acme}")
        out[key] = tuple(allowed)
    return out


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("true or false")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def inner(value: Any) -> str:
        if value not in options:
            raise _Invalid(f"one of {', '.join(options)}")
        return value

    return inner


def _prompts(value: Any) -> dict[str, dict[str, str]]:
    expected = "a mapping of prompt name -> {shown: <event>, engaged: <event>}, e.g. {tour: {shown: tour_shown, engaged: tour_completed}}"
    if not isinstance(value, Mapping):
        raise _Invalid(expected)
    out = {}
    for name, pair in value.items():
        ok = (
            isinstance(name, str)
            and isinstance(pair, Mapping)
            and set(pair) == {"shown", "engaged"}
            and all(isinstance(v, str) and v for v in pair.values())
        )
        if not ok:
            raise _Invalid(expected)
        out[name] = {"shown": pair["shown"], "engaged": pair["engaged"]}
    return out


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise _Invalid("a number strictly between 0 and 1, e.g. 0.25")
    return float(value)


def _rates(value: Any) -> tuple[float, ...]:
    ok = isinstance(value, list | tuple) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and -1 < v < 1 for v in value
    )
    if not ok:
        raise _Invalid("a list of monthly net churn rates between -1 and 1, e.g. [0.02, 0.05, -0.05]")
    return tuple(float(v) for v in value)


def _reference_groups(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str | int | bool) for k, v in value.items()
    ):
        raise _Invalid("a mapping of segment column -> reference group, e.g. {persona: marketer}")
    return {k: str(v) for k, v in value.items()}


def _segments(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid("a list of column names, e.g. [persona, plan]")
    return tuple(value)


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "client": _client,
    "events": _string,
    "users": _optional(_string),
    "columns": _columns,
    "timezone": _timezone,
    "observation_end": _optional(_date_or_datetime),
    "signup_event": _optional(_string),
    "value_events": lambda v: () if v is None else _string_list(v),
    "active_events": _optional(_string_list),
    "churn_event": _optional(_string),
    "inactivity_days": _positive_number,
    "retention_days": _days_list,
    "onboarding_steps": _steps,
    "conversion_window": _optional(_conversion_window),
    "conversion_window_days": _optional(_positive_number),
    "segments": _segments,
    "filters": lambda v: {} if v is None else _filters(v),
    "min_segment_size": _whole_at_least(1),
    "min_cell_users": _whole_at_least(1),
    "rmst_horizon_days": _positive_number,
    "change_date": _optional(_date),
    "show_identifiers": _bool,
    "lifetime_censoring": _choice(LIFETIME_CENSORING),
    "funnel_mode": _choice(FUNNEL_MODES),
    "funnel_semantics": _choice(FUNNEL_SEMANTICS),
    "prompts": lambda v: {} if v is None else _prompts(v),
    "feature_events": lambda v: () if v is None else _string_list(v),
    "adoption_days": _whole_at_least(1),
    "p_adjust": _choice(P_ADJUST),
    "reference_groups": lambda v: {} if v is None else _reference_groups(v),
    "landmark_days": _whole_at_least(1),
    "top_early_events": _whole_at_least(1),
    "compression_grid_hours": _optional(_positive_number),
    "engine": _choice(ENGINES),
    "moment_early_days": _whole_at_least(1),
    "crisis_top_quantile": _fraction,
    "crisis_recent_days": _whole_at_least(1),
    "crisis_drop_ratio": _fraction,
    "relationship_days": _whole_at_least(1),
    "relationship_max_active_days": _whole_at_least(0),
    "win_speed_quantile": _fraction,
    "wow_features": _whole_at_least(1),
    "revenue_event": _optional(_string),
    "currency": _optional(_string),
    "churn_scenarios": _rates,
    "feedback_event": _optional(_string),
    "score_scale": _choice(SCORE_SCALES),
    "readiness_max_excluded_share": _fraction,
    "readiness_min_eligible": _whole_at_least(1),
    "users_columns": _optional(_columns),
    "observation_end_check": _choice(OBSERVATION_END_CHECKS),
    "source": _choice(SOURCES),
    "account_group": _optional(_string),
    "mixpanel_project_timezone": _optional(_timezone),
    "intercom_export": _optional(_string),
}


def _reconcile_window(values: dict[str, Any], where: str) -> None:
    """Set both window keys from whichever was given.

    ``conversion_window_days`` is the older
    name of ``conversion_window`` in days. Given both, they must name the same length.
    """
    window, days = values.get("conversion_window"), values.get("conversion_window_days")
    if window is None and days is None:
        values.pop("conversion_window", None)
        values.pop("conversion_window_days", None)
        return
    if window is None:
        values["conversion_window"] = days
        return
    seconds = window_seconds(window)
    if days is not None and not math.isclose(seconds, days * 86_400, rel_tol=1e-9):
        raise ParamsError(
            f"{where}: keys 'conversion_window' ({window!r}, {seconds:g} s) and 'conversion_window_days' "
            f"({days!r}, {days * 86_400:g} s) give different funnel windows; set only conversion_window "
            f"(conversion_window_days is its older name, in days)."
        )
    values["conversion_window_days"] = window if not isinstance(window, str) else seconds / 86_400


def _closest(key: str, known: Mapping[str, Any]) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return match[0] if match else None


__all__ = [
    "COLUMN_KEYS",
    "DEFAULT_COLUMNS",
    "ENGINES",
    "FUNNEL_MODES",
    "FUNNEL_SEMANTICS",
    "LIFETIME_CENSORING",
    "OBSERVATION_END_CHECKS",
    "P_ADJUST",
    "SCORE_SCALES",
    "SOURCES",
    "WINDOW_UNITS",
    "check_value",
    "window_adjective",
    "window_label",
    "window_seconds",
]
