"""Helpers that keep notebooks thin and their outputs reproducible (see NOTEBOOKS.md)."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import warnings
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from .cache import EVENTS_SUFFIX

#: Columns of the used events kept by :func:`share_events` (those the analyses read; ``file``
#: for the data-quality tables, one value per input file: it costs next to nothing stored).
SHARED_EVENT_COLUMNS = (
    "user_id",
    "event",
    "ts",
    "t0",
    "day",
    "days",
    "active",
    "value",
    "account_id",
    "file",
)


def setup_notebook() -> None:
    """Display settings for report notebooks: fixed precision, quiet known warnings, plot size,
    text drawn literally (no mathtext: event names such as ``$pageview`` show as written).

    Called once at the top of every notebook so the committed outputs (nbval) are stable.
    """
    import matplotlib as mpl

    _inline_plots()
    pd.set_option("display.precision", 3)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.width", 120)
    mpl.rcParams["figure.figsize"] = (8, 4.5)
    mpl.rcParams["figure.dpi"] = 96
    # Event names are data: `$pageview` or `$identify vs $merge` must show as written, never as
    # mathtext (a label with two `$` would render as mathematics). Every report figure is drawn
    # after this call, so this one setting covers every title, label, tick and legend.
    mpl.rcParams["text.parse_math"] = False
    # lifelines' plotting calls tight_layout-incompatible axes on some matplotlib versions.
    warnings.filterwarnings("ignore", message=".*tight_layout.*", category=UserWarning)


def _inline_plots() -> None:
    """Use the inline backend inside a Jupyter kernel, even if ``MPLBACKEND`` says otherwise.

    An inherited ``MPLBACKEND=Agg`` (common in CI) would otherwise make ``plt.show()`` a no-op
    and the report would lose its figures.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return
    shell = get_ipython()
    if shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell":
        shell.run_line_magic("matplotlib", "inline")


def show(table: pd.DataFrame, *, digits: int = 3) -> None:
    """Print ``table`` as plain text with floats rounded to ``digits`` (stable for nbval)."""
    out = table.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
    print(out.to_string(index=False))


def show_value(label: str, value: float | int | None, *, digits: int = 3) -> None:
    """Print one headline number, rounded, or "not reached" for a missing estimate."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        print(f"{label}: not reached")
    elif isinstance(value, int | np.integer):
        print(f"{label}: {int(value)}")
    else:
        print(f"{label}: {float(value):.{digits}f}")


def configured(params, key: str, *, quiet: bool = False, facts=None) -> bool:
    """Whether params ``key`` is set (non-empty); if not, print the one-line skip note.

    Report sections whose inputs are not configured are skipped with a note naming the param
    that enables them (DESIGN.md), never an error. ``quiet=True`` for the later cells of a
    section, so the note is printed once.

    Parameters
    ----------
    params : Params
    key : str
        The params key the section needs.
    quiet : bool, default False
        Print nothing (a later cell of the same section).
    facts : Facts, optional
        When given and ``key`` names one event (``feedback_event``, ``revenue_event``), the
        section is also skipped when that event never occurs among the used events, with a
        note naming the param, its value and the closest event names: a section with nothing
        to show says which param caused it.

    Returns
    -------
    bool
        Whether the section runs.
    """
    value = getattr(params, key)
    enabled = value is not None and value != () and value != {} and value != []
    if not enabled and not quiet:
        print(f"Section skipped: set params '{key}' to enable it (see README.md, Params).")
    if enabled and facts is not None and isinstance(value, str) and facts.events is not None:
        events = facts.events
        if events.filter(events.event == value).count().execute() == 0:
            if not quiet:
                print(_never_occurs_note(key, value, events))
            return False
    return enabled


def _never_occurs_note(key: str, value: str, events) -> str:
    """The skip note of a section whose params event never occurs (with the closest names)."""
    from .names import closest_names

    names = events.group_by("event").aggregate(n=events.count()).order_by(ibis.desc("n")).limit(10_000)
    known = [str(e) for e in names.to_pandas()["event"]]
    close = closest_names(value, known)
    hint = f" (closest event names: {', '.join(close)})" if close else ""
    return (
        f"Section skipped: params '{key}' is {value!r}, which never occurs among the used events"
        f"{hint}. Fix the name in the params file (the data-quality section lists the event names)."
    )


def show_segments(comparisons) -> None:
    """Show segment comparisons in a notebook: per column, the summary table, the tests, and the
    three plots (KM curves per group, hazard-ratio forest plot, retention by group).

    ``comparisons`` maps a column to the :class:`~onboarding_analysis.segments.SegmentComparison`
    of :func:`~onboarding_analysis.segments.compare_all` (or one ``compare_segments`` result).
    """
    import matplotlib.pyplot as plt

    from . import segments

    for column, comparison in comparisons.items():
        pooled = (
            f"; pooled into '{comparison.other_label}': {', '.join(comparison.pooled)}"
            if comparison.pooled
            else ""
        )
        adjusted = (
            ""
            if comparison.logrank_p_adjusted is None
            else f", adjusted across columns {comparison.logrank_p_adjusted:.3g}"
        )
        print(
            f"== {column} (reference: {comparison.reference}{pooled})\n"
            f"global log-rank p = {comparison.logrank_p:.3g}{adjusted} ({comparison.p_adjust})"
        )
        show(segments.segment_summary(comparison))
        show(comparison.tests)
        for note in comparison.notes:
            print(f"note: {note}")
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
        segments.plot_segment_survival(comparison, ax=axes[0])
        segments.plot_hazard_ratios(comparison, ax=axes[1])
        segments.plot_segment_retention(comparison, ax=axes[2])
        fig.suptitle(column)
        fig.tight_layout()
        plt.show()


def share_moment_identifiers(result, output_dir) -> None:
    """With ``show_identifiers: true``: print the accounts/users of each moment of truth and
    write ``moments.csv`` next to the report for the customer-success team. Otherwise print one
    line saying the identifiers are withheld (shared reports show counts only)."""
    from . import moments

    if not result.identifiers_shown:
        print("Identifiers withheld (show_identifiers: false): shared reports show counts only.")
        return
    show(moments.moment_identifiers(result))
    if output_dir is not None:
        path = moments.write_moments_csv(result, output_dir)
        print(f"Written for the customer-success team: {path.name}")


def share_events(facts, *, cache=None):
    """The facts with their used events read from one Parquet file shared by a run's notebooks.

    ``facts.events`` is a lazy query over the raw event log (parse, validate, drop duplicates,
    join the users' signup times): every analysis that aggregates events repeats that work.
    The first notebook of a run that calls this writes the used events (the columns of
    :data:`SHARED_EVENT_COLUMNS` present) once to ``<key>.events.parquet`` next to the facts
    cache entry (:mod:`onboarding_analysis.cache`, same key: same params and input files); the
    others, and every later query, read that file. The rows are the same, so every result is
    the same. Without a cache folder (cache off) the events are held in a temporary engine
    table for the life of the returned object instead; on an engine other than DuckDB the
    facts are returned unchanged.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.compute_facts`.
    cache : bool, path or None
        As in :func:`onboarding_analysis.compute_facts`.

    Examples
    --------
    >>> facts = oa.share_events(oa.compute_facts(params))     # doctest: +SKIP
    """
    from . import cache as facts_cache

    events = getattr(facts, "events", None)
    if events is None:
        return facts
    try:
        con = events._find_backend()
    except Exception:  # noqa: BLE001 - an unbound expression: leave it alone
        return facts
    if getattr(con, "name", None) != "duckdb":
        return facts
    slim = events.select(*[c for c in SHARED_EVENT_COLUMNS if c in events.columns])
    directory = facts_cache.cache_dir(facts.params, cache)
    path = None
    if directory is not None:
        try:
            key = facts_cache.cache_key(facts.params)
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"{key}{EVENTS_SUFFIX}"
            facts_cache.write_once(path, lambda tmp: slim.to_parquet(tmp))
            _prune_events(directory)
        except OSError:
            path = None
    link = _private_link(path) if path is not None else None
    if link is None:
        return dataclasses.replace(facts, events=slim.cache())
    shared = con.read_parquet(str(link))
    # The engine reopens the file on every query: this process reads its own hard link, which
    # the cache's pruning (of the shared name) cannot take away. It is deleted when the process
    # exits (or, after a crash, by the next pruning).
    atexit.register(_unlink, link)
    events = shared.select(*slim.columns)
    # Tables derived from these very events (the funnel's step times) may be stored next to them.
    facts_cache.register_shared(events, path)
    return dataclasses.replace(facts, events=events)


def _private_link(path: Path) -> Path | None:
    """A hard link ``<key>.events.<pid>-<n>.parquet`` to the shared file (None if impossible)."""
    for n in range(100):
        link = path.with_name(f"{path.name[: -len(EVENTS_SUFFIX)]}.events.{os.getpid()}-{n}.parquet")
        try:
            os.link(path, link)
        except FileExistsError:
            continue
        except OSError:
            return None
        return link
    return None


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _prune_events(directory: Path) -> None:
    """Delete the private links of processes that died (the cache prunes the shared files)."""
    with contextlib.suppress(OSError):
        for link in directory.glob("*.events.*-*.parquet"):  # links of processes that died
            pid = link.name.rsplit(".", 2)[-2].split("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                link.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True
