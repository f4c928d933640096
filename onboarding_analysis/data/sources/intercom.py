"""Intercom's content data export as a second input beside any event log (params ``intercom_export``).

``intercom_export`` is the export as downloaded (a zip of CSV files, one per data group), the
unzipped CSVs (a file, glob or folder; gzip allowed). Each receipt row (a user received a
product tour, checklist, series message, post, ...) becomes up to four events of that user,
joined to the event log on ``user_external_id`` (your user id in Intercom):

=========================  =============================================
event                      time column (Unix seconds)
=========================  =============================================
``intercom_<type>_shown``      ``received_at``
``intercom_<type>_completed``  ``first_completion``
``intercom_<type>_dismissed``  ``first_dismisall`` (Intercom's spelling)
``intercom_<type>_goal``       ``first_goal_success``
=========================  =============================================

each followed by ``: <content_title>`` (``intercom_product_tour_shown: Welcome tour``);
``<type>`` is ``content_type`` in lower case with ``_`` for other characters. The events are
counted like any other rows (a receipt without ``user_external_id`` gives rows without a user).
``onboarding-analysis init --intercom`` writes one ``prompts`` entry per content (shown ->
completed), so tours and checklists appear in the engagement section without hand mapping.
"""

from __future__ import annotations

from typing import Any

from ..sql import quote_literal
from . import common
from .common import export_files, run, source_name

SUFFIXES = (".csv", ".csv.gz")
#: Event action -> the export's time column.
ACTIONS = {
    "shown": "received_at",
    "completed": "first_completion",
    "dismissed": "first_dismisall",
    "goal": "first_goal_success",
}


def input_files(params: Any) -> list[str]:
    """Return the export's files on disk.

    Parameters
    ----------
    params : Params
        The run's params (``intercom_export`` is read).

    Returns
    -------
    list of str
        The export's CSV files on disk (a zip's extracted members).
    """
    pattern = params.resolve(params.intercom_export)
    return [
        d for d, _ in export_files(pattern, what="intercom_export", where=params.where, suffixes=SUFFIXES)
    ]


def event_name(content_type: str, action: str, title: str) -> str:
    """Return the event name of a receipt's ``action`` (Python twin of the SQL, for ``init``).

    Parameters
    ----------
    content_type : str
        The receipt's content type (lower-cased, non-alphanumeric runs become ``_``).
    action : str
        The action (a key of :data:`ACTIONS`).
    title : str
        The content's title.

    Returns
    -------
    str
        ``intercom_<kind>_<action>: <title>``.
    """
    import re

    kind = re.sub(r"[^a-z0-9]+", "_", content_type.lower()).strip("_")
    return f"intercom_{kind}_{action}: {title}"


def read(con: Any, params: Any) -> list[str]:
    """Create ``intercom_events`` from the export and return the names of its files.

    The view has ``user_id``, ``event``, ``ts``, ``file`` (UTC naive); the file names are
    for the row accounting.

    Parameters
    ----------
    con : Any
        An ibis DuckDB connection the table is created on.
    params : Params
        The run's params (``intercom_export`` is read).

    Returns
    -------
    list of str
        The export's files by their names in the row accounting.

    Raises
    ------
    DataError
        No export file, a file that is not CSV, or no ``user_external_id`` column.
    """
    pattern = params.resolve(params.intercom_export)
    pairs = export_files(pattern, what="intercom_export", where=params.where, suffixes=SUFFIXES)
    listed = "[" + ", ".join(quote_literal(d) for d, _ in pairs) + "]"
    reader = f"read_csv({listed}, header = true, all_varchar = true, union_by_name = true, filename = true)"
    have = {row[0] for row in run(con, f"DESCRIBE SELECT * FROM {reader}", pairs).fetchall()}
    from ...errors import DataError

    for needed in ("user_external_id", "content_type", "content_title", "received_at"):
        if needed not in have:
            raise DataError(
                f"{source_name(pattern, pairs)}: missing column '{needed}' of Intercom's content data "
                f"export (columns found: {', '.join(sorted(have - {'filename'}))}). Give the export's CSV files."
            )
    names = common.file_names(pairs)
    kind = "trim(regexp_replace(lower(content_type), '[^a-z0-9]+', '_', 'g'), '_')"
    parts = []
    for action, column in ACTIONS.items():
        if column not in have:
            continue
        when = f"try_cast(trim({column}) AS DOUBLE)"
        parts.append(
            f"SELECT CAST(user_external_id AS VARCHAR) AS user_id,"
            f" 'intercom_' || {kind} || '_{action}: ' || content_title AS event,"
            f" CASE WHEN {when} BETWEEN 1e8 AND 1e10 THEN make_timestamp(CAST(round({when} * 1000000) AS BIGINT)) END"
            f" AS ts, {names} END AS file FROM {reader}"
            f" WHERE nullif(trim({column}), '') IS NOT NULL"
        )
    run(con, "CREATE OR REPLACE TEMP TABLE intercom_events AS " + " UNION ALL ".join(parts), pairs)
    return [n for _, n in pairs]


def prompts(con: Any) -> dict[str, dict[str, str]]:
    """``prompts`` of the read export: per content, shown -> completed (for ``init``).

    Parameters
    ----------
    con : Any
        The DuckDB connection :func:`read` created ``intercom_events`` on.

    Returns
    -------
    dict[str, dict[str, str]]
        ``<kind>: <title>`` mapped to its ``shown`` and ``engaged`` (completed) event names.
    """
    rows = con.raw_sql(
        "SELECT DISTINCT event FROM intercom_events WHERE event LIKE 'intercom\\_%\\_shown: %' ESCAPE '\\' ORDER BY 1"
    ).fetchall()
    out = {}
    for (shown,) in rows:
        head, title = shown.split(": ", 1)
        kind = head[len("intercom_") : -len("_shown")]
        out[f"{kind}: {title}"] = {"shown": shown, "engaged": f"intercom_{kind}_completed: {title}"}
    return out


__all__ = ["ACTIONS", "event_name", "input_files", "prompts", "read"]
