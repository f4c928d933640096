"""Data quality: where every input row went, and what looks wrong in the event log.

:func:`quality_report` turns a :class:`~onboarding_analysis.data.facts.Facts` into a
:class:`QualityReport`, a frozen dataclass of small tables for the report's *Data* section;
:func:`quality_metrics` gives its ``data_quality`` section of ``metrics.json`` and
:func:`plot_events_per_day` its plot.

Notes
-----
What it reports:

- **Rows** (``rows``): rows read, rows used, and every excluded row under its reason
  (:data:`~onboarding_analysis.data.facts.EVENT_REASONS`, all listed, zeros included). They add up:
  ``used + sum(excluded) == read``, always (:attr:`QualityReport.adds_up`).
- **Files** (``files``): rows read and used per input file.
- **Users** (``users``): users analysed and excluded per reason, users-table rows, analysed
  users without any event (from the users table: kept, they signed up and never came back),
  analysed users without a ``signup_event`` row (when ``signup_event`` is set), and where each
  analysed user's signup time ``t0`` came from (``t0_sources``: the users table's
  ``signup_at``, the ``signup_event``, or the first event).
- **Time range** (``time_range``): first and last used event, first and last signup,
  observation end ``T``.
- **Events per day** (``events_per_day``): used events per UTC calendar day,
  from the first to the last day with a used event. A day is flagged ``no events`` when it has
  none, and ``low`` when its count is below ``low_fraction`` (default 0.2) of the median of the
  ``window_days`` (default 15) days centred on it (zero days included): an export gap or a
  tracking outage, not the slow start of a new product or a weekend dip.
- **Event names** (``event_names``): the ``top`` most frequent names with their counts, and one
  row counting the rest; ``n_event_names`` is the number of distinct names.
- **Params events not seen** (``missing_events``): every event name the params configure
  (``signup_event``, ``value_events``, ``active_events``, ``churn_event``,
  ``onboarding_steps``, ``prompts``, ``feature_events``, ``revenue_event``,
  ``feedback_event``) that never occurs among the used events, with the closest existing names
  (ignoring case, spaces, ``_`` and ``-``: :func:`~onboarding_analysis.names.closest_names`, among
  the :data:`CANDIDATES` most frequent names). A :class:`DataWarning` lists
  them.

Privacy between clients: everything except the row counts is computed from the run's own
used events (:attr:`Facts.events <onboarding_analysis.data.facts.Facts.events>`: the users kept by
params ``filters``), so a report never shows another client's event names or activity. The
counts of rows and users excluded by the filter are totals only.

Aggregation over events runs in the query engine (ibis); only per-day, per-name and per-user
results reach pandas.

Examples
--------
>>> import onboarding_analysis as oa                                  # doctest: +SKIP
>>> facts = oa.compute_facts(oa.load_params("params/demo.yaml"))      # doctest: +SKIP
>>> report = quality_report(facts)                                    # doctest: +SKIP
>>> report.adds_up                                                    # doctest: +SKIP
True
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
from matplotlib.axes import Axes

from ..data import columns as C
from ..data.facts import DUPLICATE, EVENT_REASONS, Facts
from ..display.figures import axes_or_new
from ..errors import DataError, DataWarning, ParamsError
from .quality_tables import (
    LOW,
    NO_EVENTS,
    configured_events,
    events_per_day,
    missing_events,
    names_table,
    users_tables,
)

__all__ = [
    "LOW",
    "NO_EVENTS",
    "QualityReport",
    "configured_events",
    "plot_events_per_day",
    "quality_metrics",
    "quality_report",
]

#: Event names searched for the closest match of a params event (the most frequent ones).
CANDIDATES = 10_000


@dataclass(frozen=True)
class QualityReport:
    """The data-quality tables of one run (see the module docstring).

    Attributes
    ----------
    rows : DataFrame
        ``what, rows, share``: ``read``, ``used``, then ``excluded: <reason>`` for every reason.
    files : DataFrame
        ``file, rows_read, rows_used`` (paths relative to the project root when inside it).
    users : DataFrame
        ``what, users``.
    t0_sources : DataFrame
        ``source, users``: where the analysed users' signup time came from.
    time_range : DataFrame
        ``what, value`` (UTC timestamps, or None).
    events_per_day : DataFrame
        ``date, events, reference, flag`` (``flag``: "", "no events" or "low"; ``reference``:
        the median of the ``window_days`` days centred on the date).
    event_names : DataFrame
        ``event, events, share``; the last row ``(N other names)`` counts the rest.
    n_event_names : int
        Distinct event names among the used events.
    missing_events : DataFrame
        ``param, event, closest``: params events never seen, with the closest names.
    warnings : tuple of str
        The data warnings of the run (loading, duplicates, params events).
    low_fraction, window_days, top : float, int, int
        The options the report was computed with.
    """

    rows: pd.DataFrame
    files: pd.DataFrame
    users: pd.DataFrame
    t0_sources: pd.DataFrame
    time_range: pd.DataFrame
    events_per_day: pd.DataFrame
    event_names: pd.DataFrame
    n_event_names: int
    missing_events: pd.DataFrame
    warnings: tuple[str, ...]
    low_fraction: float = 0.2
    window_days: int = 15
    top: int = 15

    @property
    def adds_up(self) -> bool:
        """Whether the rows add up: ``used + sum(excluded) == read`` (it always should).

        Returns
        -------
        bool
            True when every row read is used or excluded under a reason.
        """
        counts = self.rows.set_index("what")["rows"]
        excluded = counts[[w.startswith("excluded: ") for w in counts.index]].sum()
        return int(counts["used"] + excluded) == int(counts["read"])


def _check_options(top: Any, low_fraction: Any, window_days: Any) -> None:
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ParamsError(f"top must be a whole number >= 1, but was {top!r}")
    if (
        isinstance(low_fraction, bool)
        or not isinstance(low_fraction, int | float)
        or not 0 < low_fraction < 1
    ):
        raise ParamsError(f"low_fraction must be a number in (0, 1), but was {low_fraction!r}")
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise ParamsError(f"window_days must be a whole number >= 1, but was {window_days!r}")


def quality_report(
    facts: Facts, *, top: int = 15, low_fraction: float = 0.2, window_days: int = 15
) -> QualityReport:
    """The data-quality tables of a run.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`.
    top : int, default 15
        Event names listed by frequency; the rest are counted in one row.
    low_fraction : float, default 0.2
        A day is ``low`` below this fraction of the median of the ``window_days`` around it.
    window_days : int, default 15
        Width of the centred window of that median.

    Returns
    -------
    QualityReport
        The tables of the report's *Data* section, and the run's data warnings.

    Warns
    -----
    DataWarning
        Params name events that never occur in this run's data (with the closest names).

    Raises
    ------
    DataError
        ``facts`` carries no events table (build it with ``compute_facts``).

    Examples
    --------
    >>> import onboarding_analysis as oa                                  # doctest: +SKIP
    >>> report = quality_report(oa.compute_facts(oa.load_params("params/demo.yaml")))  # doctest: +SKIP
    >>> report.rows                                                       # doctest: +SKIP
    """
    _check_options(top, low_fraction, window_days)
    if facts.events is None or facts.source is None:
        raise DataError("facts has no events table; build it with onboarding_analysis.compute_facts(params)")
    used = facts.events
    params = facts.params

    # Two queries over the used events: per (day, file), and per event name.
    dated = used.mutate(date=used.ts.date())
    by_day_file = (
        dated.group_by(["date", "file"])
        .aggregate(events=dated.count(), first=dated.ts.min(), last=dated.ts.max())
        .to_pandas()
    )
    names = used.group_by("event").aggregate(events=used.count())
    names = names.mutate(n_names=names.events.count().over(ibis.window()))
    frequent = names.order_by([names.events.desc(), names.event]).limit(CANDIDATES).to_pandas()
    n_names = int(frequent["n_names"].iloc[0]) if len(frequent) else 0

    rows = _rows_table(facts)
    missing = missing_events(params, used, frequent, n_names)
    users, t0_sources, user_notes = users_tables(facts)
    notes = [*facts.source.warnings, *facts.notes]
    dup = int(facts.accounting.excluded.get(DUPLICATE, 0))
    if dup:
        notes.append(
            f"{dup} event row{'' if dup == 1 else 's'} excluded as '{DUPLICATE}' (same user, event, "
            f"timestamp and value)."
        )
    for note in user_notes:
        warnings.warn(note, DataWarning, stacklevel=2)
        notes.append(note)
    if len(missing):
        message = "params events never seen in this run's data: " + "; ".join(
            f"{r.param} {r.event!r}" + (f" (closest: {r.closest})" if r.closest else "")
            for r in missing.itertuples()
        )
        message += ". Check the spelling in the params file."
        warnings.warn(message, DataWarning, stacklevel=2)
        notes.append(message)
    return QualityReport(
        rows=rows,
        files=_files_table(facts, by_day_file.groupby("file")["events"].sum()),
        users=users,
        t0_sources=t0_sources,
        time_range=_time_range(facts, by_day_file),
        events_per_day=events_per_day(by_day_file.groupby("date")["events"].sum(), low_fraction, window_days),
        event_names=names_table(frequent, n_names, facts.accounting.events_used, top),
        n_event_names=n_names,
        missing_events=missing,
        warnings=tuple(notes),
        low_fraction=float(low_fraction),
        window_days=int(window_days),
        top=int(top),
    )


# --- tables -----------------------------------------------------------------------------------


def _rows_table(facts: Facts) -> pd.DataFrame:
    acc = facts.accounting
    read = acc.events_read
    rows = [("read", read), ("used", acc.events_used)]
    rows += [(f"excluded: {reason}", int(acc.excluded.get(reason, 0))) for reason in EVENT_REASONS]
    table = pd.DataFrame(rows, columns=["what", "rows"])
    table["rows"] = table["rows"].astype("int64")
    table["share"] = table["rows"] / read if read else math.nan
    return table


def _display_path(path: str, base: Path | None) -> str:
    if base is not None:
        try:
            return str(Path(path).resolve().relative_to(Path(base).resolve()))
        except ValueError:
            pass
    return str(path)


def _files_table(facts: Facts, used_per_file: pd.Series) -> pd.DataFrame:
    used = {str(f): int(n) for f, n in used_per_file.items()}
    base = getattr(facts.params, "base_dir", None)
    rows = [
        (_display_path(f, base), int(n), used.get(f, 0))
        for f, n in (facts.accounting.files or facts.source.files).items()
    ]
    return pd.DataFrame(rows, columns=["file", "rows_read", "rows_used"]).astype(
        {"rows_read": "int64", "rows_used": "int64"}
    )


def _time_range(facts: Facts, by_day_file: pd.DataFrame) -> pd.DataFrame:
    t0 = facts.table[C.T0]
    first = by_day_file["first"].min() if len(by_day_file) else None
    last = by_day_file["last"].max() if len(by_day_file) else None
    rows = [
        ("first used event", _ts(first)),
        ("last used event", _ts(last)),
        ("first signup", _ts(t0.min()) if len(t0) else None),
        ("last signup", _ts(t0.max()) if len(t0) else None),
        ("observation end", _ts(facts.observation_end)),
    ]
    return pd.DataFrame(rows, columns=["what", "value"])


def _ts(value: Any) -> pd.Timestamp | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value)


# --- metrics.json and plot ----------------------------------------------------------------------


def quality_metrics(report: QualityReport) -> dict[str, dict[str, Any]]:
    """The ``data_quality`` section of ``metrics.json`` (stable keys, every reason listed).

    Parameters
    ----------
    report : QualityReport
        The tables of :func:`quality_report`, read for their counts.

    Returns
    -------
    dict
        ``{"data_quality": {...}}``: row and user counts per reason, files, time range, days
        without events or low, event names, params events not seen (docs/outputs.md).

    Examples
    --------
    >>> m = quality_metrics(report)                                   # doctest: +SKIP
    >>> m["data_quality"]["events_used"] + sum(m["data_quality"]["excluded"].values())  # doctest: +SKIP
    """
    counts = report.rows.set_index("what")["rows"]
    excluded = {w.removeprefix("excluded: "): int(n) for w, n in counts.items() if w.startswith("excluded: ")}
    users = report.users.set_index("what")["users"]
    times = report.time_range.set_index("what")["value"]
    per_day = report.events_per_day
    return {
        "data_quality": {
            "events_read": int(counts["read"]),
            "events_used": int(counts["used"]),
            "excluded": excluded,
            "adds_up": report.adds_up,
            "users_analysed": int(users["users analysed"]),
            "users_excluded": {
                w.removeprefix("users excluded: "): int(n)
                for w, n in users.items()
                if w.startswith("users excluded: ")
            },
            "users_without_signup_event": int(users["analysed users without a signup event"])
            if "analysed users without a signup event" in users
            else None,
            "t0_source": {
                s: int(n)
                for s, n in zip(report.t0_sources["source"], report.t0_sources["users"], strict=True)
            },
            "files": {
                f: {"read": int(r), "used": int(u)}
                for f, r, u in zip(
                    report.files["file"], report.files["rows_read"], report.files["rows_used"], strict=True
                )
            },
            "first_event": _iso(times.get("first used event")),
            "last_event": _iso(times.get("last used event")),
            "observation_end": _iso(times.get("observation end")),
            "days": len(per_day),
            "days_without_events": int((per_day["flag"] == NO_EVENTS).sum()) if len(per_day) else 0,
            "low_days": int((per_day["flag"] == LOW).sum()) if len(per_day) else 0,
            "event_names": report.n_event_names,
            "params_events_not_seen": {
                key: [str(e) for e in group["event"]]
                for key, group in report.missing_events.groupby("param", sort=False)
            },
            "warnings": len(report.warnings),
        }
    }


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def plot_events_per_day(report: QualityReport, *, ax: Axes | None = None) -> Axes:
    """Used events per day, with days without events (red bands) and low days (orange dots).

    Parameters
    ----------
    report : QualityReport
        The data-quality tables; only ``events_per_day`` is drawn.
    ax : matplotlib.axes.Axes, optional
        Axes for the daily counts; None makes a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes, with the per-day counts and the low-day threshold (or "no used events").

    Examples
    --------
    >>> ax = plot_events_per_day(quality_report(facts))               # doctest: +SKIP
    """
    ax = axes_or_new(ax)
    days = report.events_per_day
    if days.empty:
        ax.text(0.5, 0.5, "no used events", ha="center", va="center", transform=ax.transAxes)
        return ax
    ax.plot(days["date"], days["events"], color="#4c72b0", linewidth=1, label="events per day")
    ax.plot(
        days["date"],
        days["reference"] * report.low_fraction,
        color="#999999",
        linestyle=":",
        linewidth=1,
        label=f"{report.low_fraction:g} x median of {report.window_days} days",
    )
    gaps = days[days["flag"] == NO_EVENTS]
    for i, date in enumerate(gaps["date"]):
        ax.axvspan(
            date,
            date + pd.Timedelta(days=1),
            color="#c44e52",
            alpha=0.3,
            linewidth=0,
            label="no events" if i == 0 else None,
        )
    low = days[days["flag"] == LOW]
    if len(low):
        ax.scatter(low["date"], low["events"], color="#dd8452", zorder=3, s=18, label="low day")
    ax.set_xlabel("day (UTC)")
    ax.set_ylabel("used events")
    ax.set_ylim(bottom=0)
    ax.set_title("Events per day")
    ax.legend(loc="best", fontsize="small")
    ax.figure.autofmt_xdate()
    return ax
