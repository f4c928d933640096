"""Vendor exports read as the canonical events (and users) tables, in the engine.

Params ``source`` names the shape of ``events`` (and ``users``): ``canonical`` (the default: a
CSV or Parquet log with the columns of params ``columns``, read by
:mod:`onboarding_analysis.data.loading`) or a vendor export. A vendor reader turns the export into
the *raw canonical view* that the loader then checks and accounts for exactly as a canonical
log: DuckDB tables ``raw_events`` (``user_id``, ``event``, ``timestamp`` as ``TIMESTAMPTZ``,
``__file``, ``__repeat`` and the optional ``account_id``, ``value``, ``client`` and attribute
columns) and, for a vendor users table, ``raw_users`` (``user_id``, ``signup_at``, attributes).
Everything happens in SQL over the files; no row passes through Python.

``__repeat`` marks a row whose vendor event id (Amplitude ``uuid``, Mixpanel's
``(event, distinct_id, time, $insert_id)``, ...) repeats an earlier row's: the loader counts it
as ``duplicate event`` (exports overlap and repeat rows across files). The first copy, in file
order, is used.

Every vendor's fields, identity and dedup rules and pitfalls are in ``docs/sources.md``, with the
source of each fact.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from ...errors import ParamsError
from ...params import SOURCES

#: Vendor housekeeping events: identity and flag bookkeeping, not user activity. They count as
#: activity only when params ``active_events`` lists them.
HOUSEKEEPING_EVENTS = ("$identify", "$create_alias", "$merge", "$groupidentify", "$feature_flag_called")


@dataclass(frozen=True)
class Read:
    """What a vendor reader created: the files it read, as named in the row accounting."""

    #: The input files by the names the ``__file`` column holds (a zip's members as
    #: ``export.zip/member.json.gz``), in reading order.
    files: list[str]
    #: How messages name the input (the file, the zip or the glob).
    source_name: str
    #: The row-level reasons (``missing user id``, ``missing event name``, ``unparseable
    #: timestamp``, ``duplicate event``) worded with the vendor's own field names: what the
    #: warnings say instead of the canonical column names (e.g. Amplitude: ``event_time and
    #: client_event_time are empty or unparseable``).
    defects: dict[str, str] = field(default_factory=dict)


def reader(params: Any) -> Any:
    """Return the module reading params ``source`` (None for ``canonical``).

    Parameters
    ----------
    params : Params
        The run's params.

    Returns
    -------
    module or None
        ``onboarding_analysis.data.sources.<source>``, or None for ``canonical``.
    """
    if params.source == "canonical":
        return None
    return importlib.import_module(f"{__name__}.{params.source}")


def input_files(params: Any, what: str) -> list[str]:
    """Return the files on disk that params ``events`` or ``users`` (``what``) read (for the facts cache).

    Parameters
    ----------
    params : Params
        The run's params.
    what : str
        ``events`` or ``users``.

    Returns
    -------
    list of str
        The files on disk (a zip's extracted members).

    Raises
    ------
    DataError
        The path matches no file, or a file is empty.
    """
    module = reader(params)
    pattern = params.resolve(getattr(params, what))
    if module is None or (what == "users" and not hasattr(module, "read_users")):
        from ..files import expand_files

        return expand_files(pattern, what=what, where=params.where, resolved_from=params.resolved_from)
    return module.input_files(pattern, what=what, where=params.where)


def read_events(con: Any, params: Any, notes: list[str]) -> Read:
    """Create ``raw_events`` (the raw canonical view) from a vendor export; see the module docstring.

    Parameters
    ----------
    con : Any
        An ibis DuckDB connection the view is created on.
    params : Params
        The run's params (``source``, ``events`` and the vendor's keys).
    notes : list of str
        A list the reader appends its data notes to.

    Returns
    -------
    Read
        The files read, the export's name in messages and the vendor's wording of row defects.

    Raises
    ------
    DataError
        The export is missing, unreadable or not in the vendor's shape.
    ParamsError
        A params key the vendor needs is invalid.
    """
    module = reader(params)
    if params.engine != "duckdb":
        raise ParamsError(
            f"{params.where}: key 'source': {params.source} exports are read with engine: duckdb only. "
            f"Set engine: duckdb, or convert the export to the canonical columns first."
        )
    return module.read_events(con, params, notes)


def read_users(con: Any, params: Any, notes: list[str]) -> Read | None:
    """Create ``raw_users`` from the vendor's users export (PostHog persons, Segment identifies).

    Returns None for a vendor without a users export of its own (Amplitude, Mixpanel, GA4):
    params ``users`` is then a canonical users table (CSV or Parquet, ``users_columns``), e.g.
    from a CRM, read by :mod:`onboarding_analysis.data.loading`.

    Parameters
    ----------
    con : Any
        An ibis DuckDB connection the view is created on.
    params : Params
        The run's params (``source`` and ``users``).
    notes : list of str
        A list the reader appends its data notes to.

    Returns
    -------
    Read or None
        What the reader read, or None as above.
    """
    module = reader(params)
    if module is None or not hasattr(module, "read_users"):
        return None
    return module.read_users(con, params, notes)


__all__ = ["HOUSEKEEPING_EVENTS", "SOURCES", "Read", "input_files", "read_events", "read_users", "reader"]
