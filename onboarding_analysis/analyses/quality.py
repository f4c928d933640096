"""Data quality: where every input row went, and what looks wrong in the event log.

:func:`quality_report` turns a :class:`~onboarding_analysis.data.facts.Facts` into a
:class:`QualityReport`, a frozen dataclass of small tables for the report's *Data* section;
:func:`quality_metrics` gives its ``data_quality`` section of ``metrics.json`` and
:func:`plot_events_per_day` its plot.

What it reports
---------------
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
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..data import columns as C
from ..data.facts import DUPLICATE, EVENT_REASONS, USER_REASONS, Facts, summarise_users
from ..errors import DataError, DataWarning, ParamsError
from ..names import closest_names

__all__ = [
    "QualityReport",
    "configured_events",
    "plot_events_per_day",
    "quality_metrics",
    "quality_report",
]

#: Flags of :attr:`QualityReport.events_per_day`.
NO_EVENTS, LOW = "no events", "low"
#: Event names searched for the closest match of a params event (the most frequent ones).
CANDIDATES = 10_000
#: Where ``t0`` came from (:attr:`QualityReport.t0_sources`).
T0_SOURCES = ("users table signup_at", "signup event", "first event")


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
        """True when ``used + sum(excluded) == read`` (it always should)."""
        counts = self.rows.set_index("what")["rows"]
        excluded = counts[[w.startswith("excluded: ") for w in counts.index]].sum()
        return int(counts["used"] + excluded) == int(counts["read"])


def configured_events(params: Any) -> list[tuple[str, str]]:
    """Every ``(param, event name)`` the params configure, in params order, without repeats.

    Examples
    --------
    >>> from onboarding_analysis.params import validate_params
    >>> p = validate_params({"events": "e.csv", "onboarding_steps": ["signed_up", ["a", "b"]]})
    >>> configured_events(p)[:4]
    [('signup_event', 'signed_up'), ('value_events', 'created_report'), ('onboarding_steps', 'a'), ('onboarding_steps', 'b')]
    """
    pairs: list[tuple[str, str]] = []

    def add(key: str, names: Any) -> None:
        if names is None:
            return
        for name in [names] if isinstance(names, str) else names:
            pairs.append((key, name))

    add("signup_event", params.signup_event)
    add("value_events", params.value_events)
    add("active_events", params.active_events)
    add("churn_event", params.churn_event)
    for step in params.onboarding_steps:
        add("onboarding_steps", step)
    for name, pair in params.prompts.items():
        add(f"prompts.{name}.shown", pair["shown"])
        add(f"prompts.{name}.engaged", pair["engaged"])
    add("feature_events", params.feature_events)
    add("revenue_event", getattr(params, "revenue_event", None))
    add("feedback_event", getattr(params, "feedback_event", None))
    seen: set[str] = set()
    out = []
    for key, name in pairs:
        if name not in seen:
            seen.add(name)
            out.append((key, name))
    return out


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
    missing = _missing_events(params, used, frequent, n_names)
    users, t0_sources, user_notes = _users_tables(facts)
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
        events_per_day=_per_day(by_day_file.groupby("date")["events"].sum(), low_fraction, window_days),
        event_names=_names_table(frequent, n_names, facts.accounting.events_used, top),
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


def _users_tables(facts: Facts) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Users accounting and t0 sources.

    From the accounting's per-user summary (:attr:`~onboarding_analysis.data.facts.Accounting.
    users_summary`, counted by ``build_facts`` from its per-user status) when it has one; an
    accounting made by hand has none, and the counts are then read off the events.
    """
    acc, params, source = facts.accounting, facts.params, facts.source
    summary = dict(acc.users_summary) or _users_summary(facts)
    signup = params.signup_event
    rows: list[tuple[str, int | None]] = [("users analysed", acc.users)]
    rows += [(f"users excluded: {reason}", int(acc.users_excluded.get(reason, 0))) for reason in USER_REASONS]
    in_users = summary["in_users_table"]
    if source.users is not None:
        rows += [
            ("users table rows", int(acc.users_rows)),
            ("users table users analysed", in_users),
            (
                "analysed users without any event (users table only, kept)",
                summary["in_users_table_without_rows"],
            ),
            ("analysed users not in the users table", acc.users - in_users),
        ]
    rows += [("analysed users with no used event", int((facts.table[C.N_EVENTS] == 0).sum()))]
    if signup:
        rows += [("analysed users without a signup event", acc.users - summary["with_signup_event"])]
    users = pd.DataFrame(rows, columns=["what", "users"]).astype({"users": "int64"})
    notes = []
    if in_users and in_users == summary["in_users_table_without_rows"]:
        notes.append(
            f"{params.resolve(params.users)}: no analysed user of the users table has an event in "
            f"{params.resolve(params.events)}. "
            f"Check that both files come from the same export and columns: {{user_id: ...}}."
        )
    keys = dict(zip(T0_SOURCES, ("t0_signup_at", "t0_signup_event", "t0_first_event"), strict=True))
    t0_sources = pd.DataFrame(
        [(s, int(summary[keys[s]])) for s in T0_SOURCES if s != T0_SOURCES[1] or signup],
        columns=["source", "users"],
    ).astype({"users": "int64"})
    return users, t0_sources, notes


def _users_summary(facts: Facts) -> dict[str, int]:
    """:func:`~onboarding_analysis.data.facts.summarise_users` of per-user engine results over the
    events joined in pandas (for an accounting without a summary).
    """
    params, source = facts.params, facts.source
    analysed = facts.table[[C.USER_ID]].copy()
    analysed[C.USER_ID] = analysed[C.USER_ID].astype(str)
    ev = source.events.filter(source.events.user_id.notnull())
    ok = ev.reason.isnull()
    signup = params.signup_event
    agg = {"n_rows": ev.count()}
    if signup:
        agg["has_signup"] = (ok & (ev.event == signup)).any()
    per_user = ev.group_by("user_id").aggregate(**agg).to_pandas()
    per_user["user_id"] = per_user["user_id"].astype(str)
    merged = analysed.merge(per_user, on=C.USER_ID, how="left")
    with_rows = merged["n_rows"].fillna(0) > 0
    has_signup = merged["has_signup"].eq(True) if signup else pd.Series(False, merged.index)
    in_users = has_signup_at = pd.Series(False, merged.index)
    if source.users is not None:
        u = source.users
        table = u.select("user_id", has_signup_at=u.signup_at.notnull()).to_pandas()
        table["user_id"] = table["user_id"].astype(str)
        merged = merged.merge(table, on=C.USER_ID, how="left")
        in_users = merged["has_signup_at"].notna()
        has_signup_at = merged["has_signup_at"].eq(True)
    return summarise_users(
        in_users=in_users.to_numpy(dtype=bool),
        with_rows=with_rows.to_numpy(dtype=bool),
        signup_event=has_signup.to_numpy(dtype=bool),
        signup_at=has_signup_at.to_numpy(dtype=bool),
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


def _per_day(per_day: pd.Series, low_fraction: float, window_days: int) -> pd.DataFrame:
    columns = ["date", "events", "reference", "flag"]
    if per_day.empty:
        return pd.DataFrame(columns=columns)
    per_day.index = pd.to_datetime(per_day.index)
    calendar = pd.date_range(per_day.index.min(), per_day.index.max(), freq="D", name="date")
    events = per_day.reindex(calendar, fill_value=0).astype("int64")
    reference = events.rolling(window_days, center=True, min_periods=1).median()
    flag = np.where(events == 0, NO_EVENTS, np.where(events < low_fraction * reference, LOW, ""))
    return pd.DataFrame(
        {
            "date": calendar,
            "events": events.to_numpy(),
            "reference": reference.to_numpy(dtype=float),
            "flag": flag,
        }
    )[columns]


def _names_table(frequent: pd.DataFrame, n_names: int, n_used: int, top: int) -> pd.DataFrame:
    head = frequent.head(top)
    rows = [(str(e), int(n)) for e, n in zip(head["event"], head["events"], strict=True)]
    rest = n_names - len(rows)
    if rest > 0:
        rows.append((f"({rest} other names)", int(n_used - sum(n for _, n in rows))))
    table = pd.DataFrame(rows, columns=["event", "events"]).astype({"events": "int64"})
    table["share"] = table["events"] / n_used if n_used else math.nan
    return table


def _missing_events(params: Any, used: Any, frequent: pd.DataFrame, n_names: int) -> pd.DataFrame:
    wanted = configured_events(params)
    columns = ["param", "event", "closest"]
    known = [str(e) for e in frequent["event"]]
    seen = set(known)
    unseen = [name for _, name in wanted if name not in seen]
    if unseen and n_names > len(known):  # names beyond the most frequent ones: ask the engine
        found = used.filter(used.event.isin(unseen)).select("event").distinct().to_pandas()
        seen |= set(found["event"].astype(str))
    rows = [
        (key, name, ", ".join(closest_names(name, known, n=3))) for key, name in wanted if name not in seen
    ]
    return pd.DataFrame(rows, columns=columns)


# --- metrics.json and plot ----------------------------------------------------------------------


def quality_metrics(report: QualityReport) -> dict[str, dict[str, Any]]:
    """The ``data_quality`` section of ``metrics.json`` (stable keys, every reason listed).

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
        Output of :func:`quality_report`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_events_per_day(quality_report(facts))               # doctest: +SKIP
    """
    if ax is None:
        _, ax = plt.subplots()
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
