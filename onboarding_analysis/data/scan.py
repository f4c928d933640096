"""The summary of the loaders' one scan of every event row: rows, defects, plausible span, ``T``.

Both loaders (:mod:`~onboarding_analysis.data.loading` for DuckDB,
:mod:`~onboarding_analysis.data.spark`) scan the events once, grouped by file and day; this
module turns those rows into the rows per file, the row defects, the plausible date range
(events far from the bulk of the log are implausible) and the observation end ``T``, and words
the row-defect warnings, so that both engines count and warn alike. Definitions:
``docs/metrics.md`` ("Time base") and ``docs/sources.md``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..errors import DataError, ParamsError
from ..params import Params, observation_end_timestamp
from .contract import IMPLAUSIBLE_GAP_DAYS, warn


@dataclass(frozen=True)
class ScanSummary:
    """What the loader's scan of every event row found (see :func:`summarise_scan`)."""

    per_file: dict[str, int]
    defects: dict[str, int]
    implausible: int
    first_ts: dt.datetime
    last_ts: dt.datetime
    lo: dt.date
    hi: dt.date
    end: dt.datetime
    #: The warning on a ``T`` that does not fit the data (``observation_end_check: warn``).
    end_note: str | None = None


def summarise_scan(
    rows: Any,
    files: list[str],
    params: Params,
    source_name: str,
    cols: dict[str, str],
    no_timestamp_example: Any,
    file_name: Any = None,
) -> ScanSummary:
    """Rows per file, row defects, the plausible date range and ``T`` from the scan's rows.

    Shared by every engine's loader.

    Parameters
    ----------
    rows : iterable of tuple
        ``(file, day, rows, valid rows, min ts, max ts, missing ids, missing names,
        unparseable timestamps, ...)`` per file and day.
    files : list of str
        The events files (each gets a count, 0 if it has no row).
    params : Params
        The run's params (``observation_end`` and its check).
    source_name : str
        The events' name in messages.
    cols : dict
        The canonical role -> column mapping.
    no_timestamp_example : callable
        Gives one raw timestamp, for the error when none can be read.
    file_name : callable, optional
        Maps the engine's file names to the input paths (default: the same).

    Returns
    -------
    ScanSummary
        Rows per file, defects, implausible rows, the plausible span and ``T``.

    Raises
    ------
    DataError
        No event rows, or no timestamp can be read.
    ParamsError
        ``observation_end`` is before the first plausible event, or does not fit the data
        (:func:`observation_end_problem`).
    """
    per_file = dict.fromkeys(files, 0)
    days: dict[dt.date, list] = {}
    defects = {"missing user id": 0, "missing event name": 0, "unparseable timestamp": 0}
    for file, day, n, n_valid, lo, hi, n_uid, n_event, n_ts, *_ in rows:
        name = file_name(file) if file_name is not None else file
        per_file[name] = per_file.get(name, 0) + int(n)
        defects["missing user id"] += int(n_uid)
        defects["missing event name"] += int(n_event)
        defects["unparseable timestamp"] += int(n_ts)
        if day is not None:
            entry = days.setdefault(day, [0, 0, lo, hi])
            entry[0] += int(n)
            entry[1] += int(n_valid)
            entry[2], entry[3] = min(entry[2], lo), max(entry[3], hi)
    if sum(per_file.values()) == 0:
        raise DataError(f"{source_name}: no event rows (header only?). Export the event log again.")
    if not days:
        example = no_timestamp_example()
        raise DataError(
            f"{source_name}: column '{cols['timestamp']}': no value could be read as a timestamp "
            f"(e.g. {example!r}). Use ISO-8601 such as 2024-03-05T10:22:13Z."
        )
    block = _main_block(sorted(days))
    first_ts = min(days[d][2] for d in block)
    last_ts = max(days[d][3] for d in block)
    lo, hi = min(block), max(block) + dt.timedelta(days=1)
    implausible = sum(v[1] for d, v in days.items() if not lo <= d < hi)
    end = observation_end_timestamp(params)
    end_note = None
    if end is None:
        end = last_ts
    elif end < first_ts:
        raise ParamsError(
            f"{params.where}: key 'observation_end': {params.observation_end} is before the first "
            f"event ({first_ts:%Y-%m-%d %H:%M:%S} UTC). Use a later date, or null for the last event."
        )
    else:
        after = sum(v[1] for d, v in days.items() if lo <= d < hi and v[2] > end)
        total = sum(v[1] for d, v in days.items() if lo <= d < hi)
        end_note = observation_end_problem(params, end, (first_ts, last_ts), after, total)
    return ScanSummary(per_file, defects, implausible, first_ts, last_ts, lo, hi, end, end_note)


def observation_end_problem(
    params: Params, end: dt.datetime, span: tuple[dt.datetime, dt.datetime], after: int, total: int
) -> str | None:
    """Check an explicit ``observation_end`` against the data; the warning text, if any.

    ``T`` must not be later than the last plausible event by more than ``inactivity_days``
    (the days without data would count as inactivity: every user would look churned), nor
    earlier than most of the data (``after`` of the ``total`` usable rows, counted by whole
    days whose every event is after ``T``, would be cut). Either is a :class:`ParamsError`; with
    ``observation_end_check: warn`` it is the returned warning text instead (shown on the
    console, in the data-quality section and in the readiness scorecard).

    Parameters
    ----------
    params : Params
    end : datetime
        ``T``, UTC naive.
    span : tuple of datetime
        The first and last plausible event.
    after, total : int
        Usable rows of the days whose first event is after ``T``, and all usable rows.

    Returns
    -------
    str or None
        The warning (``observation_end_check: warn``), or None when ``T`` fits the data.

    Raises
    ------
    ParamsError
        ``T`` does not fit the data and ``observation_end_check`` is ``error``.
    """
    value = params.observation_end.isoformat()
    last = span[1]
    gap = (end - last).total_seconds() / 86_400
    if gap > params.inactivity_days:
        problem = (
            f"key 'observation_end': {value} is {gap:.1f} days after the last event "
            f"({last:%Y-%m-%d %H:%M:%S} UTC), more than inactivity_days ({params.inactivity_days:g}): "
            f"the days without data count as inactivity, so every user looks churned and retention "
            f"and lifetimes come out too low"
        )
        fix = (
            f"Use null (the last event) or a date at most {params.inactivity_days:g} days after the "
            f"last event; if the product really had no activity since, set observation_end_check: warn."
        )
    elif total and after > total / 2:
        problem = (
            f"key 'observation_end': {value} is earlier than most of the data: {after} of {total} "
            f"events ({after / total:.0%}) are dated after it (the data runs to "
            f"{last:%Y-%m-%d %H:%M:%S} UTC) and would be excluded as 'after observation end'"
        )
        fix = "Use null (the last event) or a later date; if the cut is intended, set observation_end_check: warn."
    else:
        return None
    if params.observation_end_check == "error":
        raise ParamsError(f"{params.where}: {problem}. {fix}")
    return f"{params.where}: {problem} (kept: observation_end_check is warn)."


def _main_block(days: list[dt.date]) -> list[dt.date]:
    """Return the days of the largest run of event days without a gap > IMPLAUSIBLE_GAP_DAYS.

    "Largest" counts days; ties go to the latest run. ``days`` is sorted.
    """
    blocks: list[list[dt.date]] = [[days[0]]]
    for day in days[1:]:
        if (day - blocks[-1][-1]).days > IMPLAUSIBLE_GAP_DAYS:
            blocks.append([])
        blocks[-1].append(day)
    return max(reversed(blocks), key=len)


def defect_message(
    source_name: str,
    reason: str,
    n: int,
    cols: dict[str, str],
    example: Any = None,
    *,
    scoped: bool = False,
    details: dict[str, str] | None = None,
) -> str:
    """Return the :class:`DataWarning` text for ``n`` rows excluded under a row-level ``reason``.

    Shared by every engine's loader so that they warn alike. ``example`` is a raw timestamp
    value (``unparseable timestamp`` only). No identifier ever appears in the text.
    ``scoped``: ``n`` counts a filtered run's own users' rows; no example is shown (it could
    come from another client's rows). ``details``: a vendor export's wording of the reasons,
    naming its own fields (:attr:`Source.defect_details`), used instead of the canonical
    column names.

    Parameters
    ----------
    source_name : str
        The events' name in messages.
    reason : str
        A row-level reason (:data:`ROW_REASONS`).
    n : int
        Rows excluded under it.
    cols : dict
        The canonical role -> column mapping (params ``columns``).
    example : object, optional
        A raw timestamp that could not be read.
    scoped : bool
        A filtered run's count: no example shown.
    details : dict, optional
        A vendor export's wording per reason.

    Returns
    -------
    str
        The warning text.
    """
    if details and reason in details:
        detail = details[reason]
    elif reason == "unparseable timestamp":
        shown = "" if scoped else f" (e.g. {str(example)!r})" if example is not None else " (empty)"
        detail = (
            f"column '{cols['timestamp']}' cannot be read as a timestamp{shown}; use ISO-8601 such "
            f"as 2024-03-05T10:22:13Z"
        )
    elif reason == "missing user id":
        detail = f"column '{cols['user_id']}' is empty or NaN/null; fix the export if users should be known"
    elif reason == "missing event name":
        detail = f"column '{cols['event']}' is empty or NaN/null"
    else:
        raise ValueError(f"no warning text for the reason {reason!r}")
    return f"{source_name}: {_rows(n)} excluded as '{reason}': {detail}."


def implausible_message(source_name: str, n: int, span: tuple[dt.datetime, dt.datetime]) -> str:
    """Word the :class:`DataWarning` for ``n`` rows excluded as ``implausible timestamp``.

    Parameters
    ----------
    source_name : str
        The events' name in messages.
    n : int
        Rows excluded.
    span : tuple of datetime
        The first and last plausible event.

    Returns
    -------
    str
        The warning text.
    """
    return (
        f"{source_name}: {_rows(n)} excluded as 'implausible timestamp': dated more than "
        f"{IMPLAUSIBLE_GAP_DAYS} days away from all other events ({span[0]:%Y-%m-%d} to "
        f"{span[1]:%Y-%m-%d}), e.g. a zero or placeholder written as a date (1970-01-01, 2099-12-31). "
        f"Fix the export if they are real."
    )


def warn_row_defects(
    defects: dict[str, int],
    implausible: int,
    span: tuple[dt.datetime, dt.datetime],
    cols: dict[str, str],
    source_name: str,
    notes: list[str],
    *,
    unparseable_example: Any,
    details: dict[str, str] | None = None,
) -> None:
    """Return the row-defect warnings of every engine's loader, in one order and one wording.

    ``unparseable_example``: a callable returning one raw timestamp that could not be read (run
    only when there is such a row), by the engine's own query. ``details``: a vendor export's
    wording (:func:`defect_message`); its reasons need no example.

    Parameters
    ----------
    defects : dict
        Rows per row-level reason.
    implausible : int
        Rows excluded as ``implausible timestamp``.
    span : tuple of datetime
        The first and last plausible event.
    cols : dict
        The canonical role -> column mapping.
    source_name : str
        The events' name in messages.
    notes : list of str
        Where the warnings are kept (they are also issued as :class:`DataWarning`).
    unparseable_example : callable
        Returns one raw timestamp that could not be read.
    details : dict, optional
        A vendor export's wording per reason.
    """
    for reason, n in defects.items():
        if not n:
            continue
        vendor = bool(details) and reason in details
        example = unparseable_example() if reason == "unparseable timestamp" and not vendor else None
        warn(defect_message(source_name, reason, n, cols, example, details=details), notes)
    if implausible:
        warn(implausible_message(source_name, implausible, span), notes)


def _rows(n: int) -> str:
    return f"{n} event row" + ("" if n == 1 else "s")


__all__ = [
    "ScanSummary",
    "defect_message",
    "implausible_message",
    "observation_end_problem",
    "summarise_scan",
    "warn_row_defects",
]
