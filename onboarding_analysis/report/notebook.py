"""Helpers that keep notebooks thin and their outputs reproducible.

:func:`setup_notebook` sets the figure style and inline plots; :func:`show`, :func:`show_value`
and :func:`show_note` display tables, numbers and notes with a plain-text copy the notebook
tests compare; :func:`configured` and :func:`computable` say why a section is skipped.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from ..absence import notes_of


def setup_notebook() -> None:
    """Display settings for report notebooks.

    Fixed precision, quiet known warnings, plot size, text drawn literally (no mathtext: event names such as
    ``$pageview`` show as written).

    Called once at the top of every notebook so the committed outputs (nbval) are stable.
    """
    import matplotlib as mpl

    from ..display.style import apply_theme

    _inline_plots()
    pd.set_option("display.precision", 3)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.width", 120)
    apply_theme()  # the report's one seaborn theme (onboarding_analysis.display.style)
    mpl.rcParams["figure.dpi"] = 96
    # Event names are data: `$pageview` or `$identify vs $merge` must show as written, never as
    # mathtext (a label with two `$` would render as mathematics). Every report figure is drawn
    # after this call, so this one setting covers every title, label, tick and legend.
    mpl.rcParams["text.parse_math"] = False
    # lifelines' plotting calls tight_layout-incompatible axes on some matplotlib versions.
    warnings.filterwarnings("ignore", message=".*tight_layout.*", category=UserWarning)
    _warnings_as_notes()


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
        # PNG at twice the pixels (sharp on phones and high-density screens), shown at 1x size.
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")
        _figure_titles_as_text(shell)


def _figure_titles_as_text(shell) -> None:
    """A figure's ``text/plain`` is its titles ("Figure.

    User lifetime"): the report uses it as the image's alt text.
    """
    from matplotlib.figure import Figure

    def titles(fig, printer, cycle) -> None:
        printer.text(figure_description(fig))

    shell.display_formatter.formatters["text/plain"].for_type(Figure, titles)


def figure_description(fig) -> str:
    """``"Figure: <suptitle>; <axes titles>"``, or ``"Figure"`` for a figure without titles.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure.

    Returns
    -------
    str
        Its description, the figure's ``text/plain`` and alt text.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.set_title("User lifetime")
    >>> figure_description(fig)
    'Figure: User lifetime'
    >>> plt.close(fig)
    """
    parts = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text().strip():
        parts.append(suptitle.get_text().strip())
    for ax in fig.axes:
        for loc in ("center", "left", "right"):
            title = ax.get_title(loc=loc).strip()
            if title and title not in parts:
                parts.append(title)
    return "Figure: " + "; ".join(parts) if parts else "Figure"


#: Output metadata key marking a note (the report keeps the first of equal notes, and lists
#: them all in metrics.json ``warnings``).
NOTE_METADATA = "onboarding_analysis/note"

_NOTES_SHOWN: set[str] = set()


def _warnings_as_notes() -> None:
    """Show data and statistical warnings as notes (:func:`show_note`), not as stderr boxes.

    Python's warning display (``warnings.showwarning``) prints the file and line of the
    package source that warned, with the source line: noise to a report reader. Data and
    statistical caveats (:class:`~onboarding_analysis.errors.DataWarning`,
    :class:`~onboarding_analysis.errors.StatisticalWarning`) become :func:`show_note`
    notes instead, once per text; other warnings keep Python's display.
    """
    from ..errors import DataWarning, StatisticalWarning

    previous = warnings.showwarning
    if getattr(previous, "_onboarding_notes", False):
        return

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DataWarning | StatisticalWarning):
            show_note(str(message))
        else:
            previous(message, category, filename, lineno, file, line)

    showwarning._onboarding_notes = True
    warnings.showwarning = showwarning


def show_note(text: str) -> None:
    """Display a short note (a caveat about the data or a figure), once per text per kernel.

    Absolute paths in ``text`` are written relative to the working directory (the project
    root), or as their file name when outside it: a shared report names no folder of the
    machine that made it. The output carries both ``text/plain`` (``Note: ...``) and
    ``text/html`` (a ``<p class="oa-note">``) and the metadata :data:`NOTE_METADATA`, by which
    the report keeps one copy of equal notes from several notebooks and records them in
    ``metrics.json`` (``warnings``).

    Parameters
    ----------
    text : str
        The note, one or a few sentences.
    """
    import html

    from IPython.display import display

    text = strip_machine_paths(str(text).strip())
    if not text or text in _NOTES_SHOWN:
        return
    _NOTES_SHOWN.add(text)
    if not _in_kernel():  # a plain interpreter (tests, scripts): the text form only
        print(f"Note: {text}")
        return
    display(
        {
            "text/plain": f"Note: {text}",
            "text/html": f'<p class="oa-note"><strong>Note.</strong> {html.escape(text)}</p>',
        },
        raw=True,
        metadata={NOTE_METADATA: text},
    )


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return False
    return get_ipython() is not None


def strip_machine_paths(text: str, *, root: str | os.PathLike[str] | None = None) -> str:
    """``text`` with absolute paths made relative to ``root`` (default.

    The working directory), or cut to their file name when outside it.


    Parameters
    ----------
    text : str
        A message that may hold absolute paths.
    root : path, optional
        The folder paths are made relative to.

    Returns
    -------
    str
        The text without machine-specific folders.

    Examples
    --------
    >>> strip_machine_paths("/srv/acme/data/events.csv: 3 rows excluded", root="/srv/acme")
    'data/events.csv: 3 rows excluded'
    >>> strip_machine_paths("read /home/x/file.parquet and data/y.csv", root="/srv")
    'read file.parquet and data/y.csv'
    """
    import re

    base = str(Path(root if root is not None else os.getcwd()).resolve()).rstrip("/") + "/"

    def _relative(match: re.Match) -> str:
        path = match.group(0)
        return path[len(base) :] if path.startswith(base) else path.rsplit("/", 1)[-1]

    return re.sub(r"(?<![\w.~-])/(?:[^\s/'\"`,;:()]+/)+[^\s/'\"`,;:()]*", _relative, text)


def show(table: pd.DataFrame, **options: Any) -> None:
    """Display ``table`` as a formatted HTML table, with a plain-text copy for nbval.

    The plain text is pandas' text with floats rounded to ``digits`` (what the notebook tests
    compare); the HTML formats each column by what it means (:mod:`onboarding_analysis.display.tables`:
    shares in percent with their interval, p-values, counts, dates, money). The notes the table
    carries (:func:`onboarding_analysis.absence.notes_of`) are shown under it.

    Parameters
    ----------
    table : pandas.DataFrame
        The table to show.
    **options : Any
        The keyword arguments of :class:`~onboarding_analysis.display.tables.Table`: ``digits``
        (decimals of plain numbers, default 3), ``formats`` (column -> kind where the name does
        not say it), ``currency`` (pass ``params.currency``), ``empty`` (the sentence shown for
        no rows), ``caption`` (a note under the table, default ``table.attrs["note"]``),
        ``details`` (collapse the table behind a ``<details>`` line with this text).
    """
    from IPython.display import display

    from ..display.tables import Table

    display(Table(table, **options))
    for note in notes_of(table):
        show_note(note)


def show_notes(notes) -> None:
    """Show each note (:func:`show_note`; nothing for no notes), e.g. a funnel's ``notes``.

    Parameters
    ----------
    notes : iterable of str
        The notes.
    """
    for note in notes:
        show_note(note)


def show_value(label: str, value: float | int | None, *, digits: int = 3) -> None:
    """Show one headline number, rounded, or "not reached" for a missing estimate.

    The plain text is ``label: value`` (what the notebook tests compare); the HTML writes the
    number with thousands separators, a label indented with spaces as a sub-line.

    Parameters
    ----------
    label : str
        What the number is.
    value : float, int or None
        The number; ``None`` or NaN shows "not reached".
    digits : int, default 3
        Decimals.
    """
    import html

    from IPython.display import display

    if value is None or (isinstance(value, float) and np.isnan(value)):
        text, shown = "not reached", "not reached"
    elif isinstance(value, int | np.integer):
        text, shown = f"{int(value)}", f"{int(value):,}"
    else:
        text, shown = f"{float(value):.{digits}f}", f"{float(value):,.{digits}f}"
    sub = " oa-sub" if label.startswith(" ") else ""
    display(
        {
            "text/plain": f"{label}: {text}",
            "text/html": f'<p class="oa-value{sub}">{html.escape(label.strip())}: <strong>{shown}</strong></p>',
        },
        raw=True,
    )


def configured(params, key: str, *, quiet: bool = False, facts=None) -> bool:
    """Whether params ``key`` is set (non-empty); if not, print the one-line skip note.

    Report sections whose inputs are not configured are skipped with a note naming the param
    that enables them, never an error. ``quiet=True`` for the later cells of a
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
        _show_skip(f"Not configured for this run: set params '{key}' to enable this section.")
    if enabled and facts is not None and isinstance(value, str) and facts.events is not None:
        events = facts.events
        if events.filter(events.event == value).count().execute() == 0:
            if not quiet:
                _show_skip(_never_occurs_note(key, value, events))
            return False
    return enabled


def _show_skip(text: str) -> None:
    """A section's skip note: ``text/plain`` and a ``<p class="oa-skip">`` (plain text outside a kernel)."""
    import html

    if not _in_kernel():
        print(text)
        return
    from IPython.display import display

    display({"text/plain": text, "text/html": f'<p class="oa-skip">{html.escape(text)}</p>'}, raw=True)


def _never_occurs_note(key: str, value: str, events) -> str:
    """The skip note of a section whose params event never occurs (with the closest names)."""
    from ..names import closest_names

    names = events.group_by("event").aggregate(n=events.count()).order_by(ibis.desc("n")).limit(10_000)
    known = [str(e) for e in names.to_pandas()["event"]]
    close = closest_names(value, known)
    hint = f" (closest event names: {', '.join(close)})" if close else ""
    return (
        f"Section skipped: params '{key}' is {value!r}, which never occurs among the used events"
        f"{hint}. Fix the name in the params file (the data-quality section lists the event names)."
    )


def computable(result, *, quiet: bool = False) -> bool:
    """Whether ``result`` was computed; if not, print its one-line note (the reason).

    The counterpart of :func:`configured` for sections and figures that are configured but
    do not fit this client's data: ``result`` is a
    :class:`~onboarding_analysis.absence.NotComputable` (or carries one as ``absence``, as a
    :class:`~onboarding_analysis.analyses.retention.CohortTable` does). ``quiet=True`` for the later cells
    of a section, so the note is printed once.

    Parameters
    ----------
    result : object
        A section's result, or the :class:`~onboarding_analysis.absence.NotComputable` returned
        in its place.
    quiet : bool, default False
        Do not print the note.

    Returns
    -------
    bool
        False when ``result`` stands for a figure that could not be computed.

    Examples
    --------
    >>> from onboarding_analysis.absence import NotComputable
    >>> computable(NotComputable("no user signed up after the change date 2025-01-01"))
    Section skipped: no user signed up after the change date 2025-01-01.
    False
    """
    from ..absence import absence_of

    absence = absence_of(result)
    if absence is not None and not quiet:
        print(absence.note)
    return absence is None
