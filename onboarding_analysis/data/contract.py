"""The data contract both loaders keep: the canonical tables, their row rules and their messages.

The DuckDB loader (:mod:`onboarding_analysis.data.loading`) and the Spark loader
(:mod:`onboarding_analysis.data.spark`) build the same two canonical tables, described by
:class:`Source`, with the same row-level rules and the same wording of every error and
warning. What they share lives here: the constants of the rules (what counts as missing,
the timestamp patterns, the Unix-time units), the checks that both run on a file's columns,
and the messages that both raise or warn. The scan of every event row is summarised alike by
:mod:`onboarding_analysis.data.scan`. Input formats and their rules: ``docs/sources.md``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from ..errors import DataError, DataWarning, ParamsError
from ..names import words
from ..params import Params

#: Optional event columns carried through when present in the file.
OPTIONAL_EVENT_COLUMNS = ("client", "account_id", "value")
#: Row-level reasons set by the loaders in the ``reason`` column, in the order they are checked.
ROW_REASONS = (
    "missing user id",
    "missing event name",
    "unparseable timestamp",
    "implausible timestamp",
    "after observation end",
)
#: Values of a user id or event name that mean "missing" (compared trimmed, case-insensitively).
NULL_TOKENS = ("", "nan", "null", "none", "undefined")
#: Events separated from the bulk of the log by a gap longer than this are implausible.
IMPLAUSIBLE_GAP_DAYS = 365
#: A trailing UTC offset: ``Z``, ``+02:00``, ``-0500``.
OFFSET_RE = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"
#: A trailing zone name: " UTC", " GMT", " Europe/Paris".
ZONE_RE = r"\s[A-Za-z][A-Za-z_]+(/[A-Za-z_+-]+)*$"
#: A timestamp written as a number (Unix time).
NUMBER_RE = r"^[0-9]+(\.[0-9]+)?$"
#: Unix time units: name, microseconds per unit, [low, high) range of a plausible value (1973-2286).
EPOCH_UNITS = (
    ("seconds", "1000000", 1e8, 1e10),
    ("milliseconds", "1000", 1e11, 1e13),
    ("microseconds", "1", 1e14, 1e16),
    ("nanoseconds", "0.001", 1e17, 1e19),
)


@dataclass
class Source:
    """The loaded inputs of one run: an ibis connection and the two canonical tables.

    ``events``: ``user_id`` (text), ``event`` (text), ``ts`` (UTC, naive), ``file``,
    ``reason`` (NULL for a usable row, else one of :data:`ROW_REASONS`) and the optional
    columns ``client``, ``account_id``, ``value`` plus any attribute column the params name
    (segments, filters) that the users table does not provide. ``users`` (or None):
    ``user_id``, ``signup_at`` (UTC naive, may be NULL) and attribute columns.
    """

    con: Any  # ibis backend (DuckDB or pyspark)
    events: Any  # ibis table
    users: Any | None  # ibis table or None
    observation_end: dt.datetime
    files: dict[str, int]  # rows read per events file
    users_rows: int = 0
    #: The :class:`DataWarning` messages issued while loading, in order.
    warnings: list[str] = field(default_factory=list)
    #: What the full scan of the events found, for the facts cache: with it, a later
    #: :func:`~onboarding_analysis.data.loading.load` of the same inputs skips the scan and
    #: the checks (``known=``).
    scan: dict | None = None
    #: The events' name in messages (the file, or the glob) and the span of the plausible
    #: events: a filtered run words its own row-defect warnings with them (see
    #: :func:`onboarding_analysis.data.facts.build_facts`).
    source_name: str = ""
    span: tuple[dt.datetime, dt.datetime] | None = None
    #: A vendor export's wording of the row-level reasons, naming its own fields
    #: (:attr:`onboarding_analysis.data.sources.Read.defects`); empty for a canonical log.
    defect_details: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Checks on a file's columns
# --------------------------------------------------------------------------------------------


def require_columns(types: dict[str, str], wanted: dict[str, str], files: list[str], what: str) -> None:
    """Check that the mapped columns exist, with a hint at the likely fix when one is missing.

    Parameters
    ----------
    types : dict
        Column name -> type of the file(s) (``__file`` is ignored).
    wanted : dict
        Role (``user_id``, ``event``, ...) -> the column mapped to it.
    files : list of str
        The files checked, for the message.
    what : str
        ``events`` or ``users`` (names the params key of the mapping).

    Raises
    ------
    DataError
        A mapped column is missing: the message lists the columns found and the fix.
    """
    mapping = "users_columns" if what == "users" else "columns"
    for key, column in wanted.items():
        if column not in types:
            found = [c for c in types if c != "__file"]
            raise DataError(
                f"{files[0] if len(files) == 1 else what + ' files'}: missing column '{column}' "
                f"(the {key} column). Columns found: {', '.join(found)}."
                f"{_missing_column_hint(found, key, column, mapping)}"
            )


def _missing_column_hint(found: list[str], key: str, column: str, mapping: str) -> str:
    """Return the likely fix for a missing column: stray spaces, a close name, a missing header."""
    stripped = [c for c in found if c.strip() == column]
    close = [c for c in found if words(c) == words(column)] or difflib.get_close_matches(
        column, found, n=1, cutoff=0.5
    )
    if stripped:
        return (
            f" The header has '{stripped[0]}' with spaces around the name: export the "
            f"file without spaces after the delimiter."
        )
    if close:
        return f" A column named '{close[0]}' exists: map it with {mapping}: {{{key}: {close[0]}}}."
    if any(re.match(r"\d{4}-\d{2}-\d{2}", c) for c in found):
        return " The first line looks like data: add a header line (user_id,event,timestamp)."
    return f" Map the right column with {mapping}: {{{key}: <your column>}} in the params file."


def require_columns_per_file(schemas: dict[str, dict[str, str]], wanted: dict[str, str], what: str) -> None:
    """Check that every file has the mapped columns, with the same type in every file.

    Parameters
    ----------
    schemas : dict
        File -> (column -> type).
    wanted : dict
        Role -> the column mapped to it.
    what : str
        ``events`` or ``users``.

    Raises
    ------
    DataError
        A file lacks a mapped column, or two files give it different types.
    """
    for f, types in schemas.items():
        require_columns(types, wanted, [f], what)
    first_file, first = next(iter(schemas.items()))
    for f, types in schemas.items():
        for column in wanted.values():
            if types[column] != first[column]:
                raise DataError(
                    f"{f}: column '{column}' has type {types[column]}, but {first[column]} in "
                    f"{first_file}. Export every {what} file with the same schema."
                )


def event_attributes(
    params: Params, cols: dict[str, str], types: dict[str, str], user_attrs: list[str]
) -> tuple[list[str], list[str]]:
    """Return the attribute and optional columns the events table carries.

    Parameters
    ----------
    params : Params
        The run's params (its ``segments`` and ``filters``).
    cols : dict
        Role -> column of the events file.
    types : dict
        Column -> type of the events file.
    user_attrs : list of str
        The attributes the users table provides (taken from there, not from the events).

    Returns
    -------
    attrs : list of str
        The segment and filter columns read from the events, once each, in params order.
    extra : list of str
        The :data:`OPTIONAL_EVENT_COLUMNS` present in the file and not already in ``attrs``.

    Raises
    ------
    ParamsError
        A segment or filter column is in neither the users table nor the events.
    """
    attrs = [c for c in (*params.segments, *params.filters) if c not in user_attrs]
    extra = [c for c in OPTIONAL_EVENT_COLUMNS if cols[c] in types and c not in attrs]
    for attr in dict.fromkeys(attrs):
        if cols.get(attr, attr) not in types:
            have = ", ".join(sorted(set(user_attrs) | {c for c in types if c != "__file"}))
            key = "segments" if attr in params.segments else "filters"
            raise ParamsError(
                f"{params.where}: key '{key}': column '{attr}' is in neither the users table nor the "
                f"events. Available columns: {have}."
            )
    return list(dict.fromkeys(attrs)), extra


# --------------------------------------------------------------------------------------------
# Timestamps and ids
# --------------------------------------------------------------------------------------------


def not_a_timestamp_type(source_name: str, column: str, col_type: str) -> DataError:
    """Return the error for a timestamp column of a type that holds no time (e.g. BOOLEAN).

    Parameters
    ----------
    source_name, column, col_type : str
        The file (or glob), the timestamp column and its type as the engine names it.

    Returns
    -------
    DataError
        The error to raise.
    """
    return DataError(
        f"{source_name}: column '{column}' has type {col_type.upper()}, not a timestamp. Export it as "
        f"ISO-8601 text (2024-03-05T10:22:13Z) or a Parquet timestamp."
    )


def check_timestamp_forms(source_name: str, column: str, counts: tuple) -> None:
    """Refuse a text timestamp column that mixes forms (with and without offset, numbers and dates).

    Parameters
    ----------
    source_name, column : str
        Where the values come from: the events file (or glob) and its timestamp column.
    counts : tuple
        ``(n_aware, n_naive, n_number, ex_aware, ex_naive, ex_number)``: rows with a UTC
        offset or zone, rows without one, rows holding a number, and one example of each.

    Raises
    ------
    DataError
        The column mixes values with and without an offset, or numbers and dates.
    """
    n_aware, n_naive, n_number, ex_aware, ex_naive, ex_number = counts
    if n_aware and n_naive:
        raise DataError(
            f"{source_name}: column '{column}' mixes timestamps with a UTC offset ({n_aware} rows, "
            f"e.g. {ex_aware!r}) and without one ({n_naive} rows, e.g. {ex_naive!r}). Export all "
            f"timestamps in one form (with an offset, or all in the params timezone)."
        )
    if n_number and (n_aware or n_naive):
        example = ex_aware if n_aware else ex_naive
        raise DataError(
            f"{source_name}: column '{column}' mixes numbers ({n_number} rows, e.g. {ex_number!r}) "
            f"and dates ({n_aware + n_naive} rows, e.g. {example!r}). Export all timestamps in one "
            f"form, preferably ISO-8601 such as 2024-03-05T10:22:13Z."
        )


def epoch_unit(source_name: str, column: str, median: Any, example: Any) -> tuple[str, str, float, float]:
    """Return the Unix-time unit that puts the median of a number column between 1973 and 2286.

    Parameters
    ----------
    source_name, column : str
        The file (or glob) and the column holding the numbers.
    median : number or None
        The median of its numbers (None: no number).
    example : object
        One raw value, for the message.

    Returns
    -------
    tuple
        An entry of :data:`EPOCH_UNITS`: name, microseconds per unit, low and high bound.

    Raises
    ------
    DataError
        No unit fits.
    """
    unit = next((u for u in EPOCH_UNITS if median is not None and u[2] <= float(median) < u[3]), None)
    if unit is None:
        raise DataError(
            f"{source_name}: column '{column}' holds numbers (e.g. {str(example)!r}) that are not Unix "
            f"times in seconds, milliseconds, microseconds or nanoseconds between 1973 and 2286. "
            f"Export timestamps as ISO-8601 text such as 2024-03-05T10:22:13Z."
        )
    return unit


def check_whole_ids(source_name: str, column: str, bad: Any) -> None:
    """Refuse floating-point user ids with decimals.

    Parameters
    ----------
    source_name, column : str
        The file (or glob) and its user id column, named in the error.
    bad : object or None
        One id with decimals, None when every id is a whole number.

    Raises
    ------
    DataError
        ``bad`` is not None.
    """
    if bad is not None:
        raise DataError(
            f"{source_name}: column '{column}' holds user ids with decimals (e.g. {bad!r}). "
            f"Export ids as text (or whole numbers)."
        )


def epoch_message(source_name: str, column: str, unit: str, example: Any, shown: Any) -> str:
    """Word the :class:`DataWarning` for a timestamp column read as Unix time in ``unit``.

    Parameters
    ----------
    source_name, column, unit : str
        The file (or glob), the column read as Unix time and the unit chosen (:func:`epoch_unit`).
    example, shown : object
        One raw value, and that value read as a UTC timestamp.

    Returns
    -------
    str
        The warning text.
    """
    return (
        f"{source_name}: column '{column}' holds numbers; they are read as Unix time in {unit} "
        f"(UTC, params timezone not applied), e.g. {str(example)!r} -> {shown} UTC. Values outside "
        f"the range of that unit count as unparseable. Export ISO-8601 timestamps to avoid the guess."
    )


def float_id_message(source_name: str, column: str, example: float) -> str:
    """Word the :class:`DataWarning` for user ids stored as floating-point numbers.

    Parameters
    ----------
    source_name, column : str
        The file (or glob) and the id column stored as floating-point numbers.
    example : float
        One id as stored.

    Returns
    -------
    str
        The warning text.
    """
    return (
        f"{source_name}: column '{column}' stores ids as floating-point numbers (e.g. {example!r}); "
        f"they are read as whole numbers ('{int(example)}'). Store ids as text to keep leading zeros."
    )


# --------------------------------------------------------------------------------------------
# The users table
# --------------------------------------------------------------------------------------------


def check_user_rows(source_name: str, column: str, n_rows: int, n_null: int, duplicate: Any) -> None:
    """Check that the users table has rows, each with an id, and one row per user.

    Parameters
    ----------
    source_name, column : str
        The users file (or glob) and its user id column.
    n_rows, n_null : int
        Rows of the table, and rows whose id is missing.
    duplicate : tuple or None
        ``(id, rows)`` of one id found on several rows, or None. Evaluated only when the first
        two checks pass, so it may be a callable returning it.

    Raises
    ------
    DataError
        No rows, rows without an id, or an id on several rows.
    """
    if n_rows == 0:
        raise DataError(
            f"{source_name}: no user rows (header only?). Export the users table again or remove 'users'."
        )
    if n_null:
        raise DataError(
            f"{source_name}: column '{column}' is empty (or NaN/null) in {n_null} rows. Every "
            f"user row needs an id."
        )
    dup = duplicate() if callable(duplicate) else duplicate
    if dup:
        raise DataError(
            f"{source_name}: user {dup[0]!r} appears in {dup[1]} rows of column '{column}'. "
            f"The users table needs one row per user: remove the duplicates."
        )


def bad_signup(source_name: str, column: str, value: Any) -> DataError:
    """Return the error for a ``signup_at`` value that is not a timestamp.

    Parameters
    ----------
    source_name, column : str
        The users file (or glob) and its signup column.
    value : object
        The value that could not be read.

    Returns
    -------
    DataError
        The error to raise.
    """
    return DataError(
        f"{source_name}: column '{column}': value {value!r} is not a timestamp. "
        f"Use ISO-8601 such as 2024-03-05T10:22:13Z, or leave it empty."
    )


def users_overlap_message(users_name: str, events_name: str, user_id: str, event_user_id: str) -> str:
    """Word the :class:`DataError` for ids written differently in the users table and the events.

    Parameters
    ----------
    users_name, events_name : str
        The users and events files in messages.
    user_id, event_user_id : str
        One id as the users table writes it, and as the events write it.

    Returns
    -------
    str
        The error text.
    """
    return (
        f"{users_name}: user ids are written differently in the users table and in the events "
        f"{events_name} (e.g. users {user_id!r}, events {event_user_id!r}), so they do not match. "
        f"Export the ids the same way in both files (as text, keeping leading zeros)."
    )


def warn(message: str, sink: list[str] | None) -> None:
    """Issue a :class:`DataWarning` and keep its text in ``sink``.

    Parameters
    ----------
    message : str
        The warning text.
    sink : list of str or None
        Where the loader keeps its warnings (:attr:`Source.warnings`); None: not kept.
    """
    warnings.warn(message, DataWarning, stacklevel=3)
    if sink is not None:
        sink.append(message)


__all__ = [
    "EPOCH_UNITS",
    "IMPLAUSIBLE_GAP_DAYS",
    "NULL_TOKENS",
    "NUMBER_RE",
    "OFFSET_RE",
    "OPTIONAL_EVENT_COLUMNS",
    "ROW_REASONS",
    "ZONE_RE",
    "Source",
    "bad_signup",
    "check_timestamp_forms",
    "check_user_rows",
    "check_whole_ids",
    "epoch_message",
    "epoch_unit",
    "event_attributes",
    "float_id_message",
    "not_a_timestamp_type",
    "require_columns",
    "require_columns_per_file",
    "users_overlap_message",
    "warn",
]
