"""What a report shows when a section or figure cannot be computed on a client's data.

A report never stops because one figure does not fit the data (a change date before every
signup, no cohort old enough for its first week, ...): the figure is left out and a one-line
note says why. The package function returns a :class:`NotComputable` instead of a result (or
exposes the reason as an ``absence`` attribute), the notebook asks
:func:`onboarding_analysis.report.notebook.computable` whether to go on, which prints the note, and the
section's metrics function writes ``null`` figures and the reason under ``not_computable`` in
``metrics.json``.

Examples
--------
>>> gap = NotComputable("no user signed up before the change date 2024-03-01")
>>> gap.note
'Section skipped: no user signed up before the change date 2024-03-01.'
>>> NotComputable("no cohort is a week old yet", what="weekly cohort heatmap").note
'Not shown (weekly cohort heatmap): no cohort is a week old yet.'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["NOTES", "NotComputable", "absence_of", "add_note", "notes_of"]


@dataclass(frozen=True)
class NotComputable:
    """A section (or one figure, with ``what``) that cannot be computed, and why.

    Attributes
    ----------
    reason : str
        Why, in one sentence naming the data or params that make it impossible, e.g. "no
        user signed up before the change date 2024-03-01: the before/after comparison needs
        users on both sides".
    what : str or None
        The figure left out; None for a whole section.
    facts : Mapping
        What is known anyway (e.g. the group sizes), for the section's metrics.
    """

    reason: str
    what: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Reject a reason that is not one non-empty line (ValueError)."""
        if not isinstance(self.reason, str) or not self.reason.strip() or "\n" in self.reason:
            raise ValueError(f"a NotComputable reason is one non-empty line, but was {self.reason!r}")

    @property
    def note(self) -> str:
        """The one-line note printed in the report.

        Returns
        -------
        str
            "Section skipped: <reason>." without :attr:`what`, else "Not shown (<what>): <reason>.".
        """
        reason = self.reason.rstrip(".")
        if self.what is None:
            return f"Section skipped: {reason}."
        return f"Not shown ({self.what}): {reason}."


def absence_of(result: Any) -> NotComputable | None:
    """Return the :class:`NotComputable` behind ``result``, or None when it was computed.

    ``result`` is a :class:`NotComputable` itself, or any result with an ``absence`` attribute
    holding one (or None), such as :class:`onboarding_analysis.analyses.retention.CohortTable`.

    Parameters
    ----------
    result : Any
        An analysis result, a :class:`NotComputable`, or anything else.

    Returns
    -------
    NotComputable or None
        ``result`` itself when it is a :class:`NotComputable`, else its ``absence`` attribute when
        that is one, else None.

    Examples
    --------
    >>> absence_of(NotComputable("no data")).reason
    'no data'
    >>> absence_of(3.5) is None
    True
    """
    if isinstance(result, NotComputable):
        return result
    absence = getattr(result, "absence", None)
    return absence if isinstance(absence, NotComputable) else None


#: Key of ``DataFrame.attrs`` holding the notes on a result table's missing figures.
NOTES = "notes"


def add_note(table: pd.DataFrame, note: str) -> pd.DataFrame:
    """Attach a one-line note on a missing figure of ``table`` (in place; returns ``table``).

    :func:`onboarding_analysis.report.notebook.show` prints the notes under the table, so every blank
    cell of a report table is explained (the reason, not just an empty cell).

    Parameters
    ----------
    table : pandas.DataFrame
        A result table with a blank (NaN) figure.
    note : str
        One line saying which figure is missing and why.

    Returns
    -------
    pandas.DataFrame
        ``table`` itself.

    Examples
    --------
    >>> import pandas as pd
    >>> t = add_note(pd.DataFrame({"rate": [float("nan")]}), "day 7: no user is 8 days old yet")
    >>> notes_of(t)
    ['day 7: no user is 8 days old yet']
    """
    if not isinstance(note, str) or not note.strip() or "\n" in note:
        raise ValueError(f"a note is one non-empty line, but was {note!r}")
    notes = list(table.attrs.get(NOTES, ()))
    if note not in notes:
        notes.append(note)
    table.attrs[NOTES] = notes
    return table


def notes_of(table: Any) -> list[str]:
    """Return the notes :func:`add_note` attached to ``table`` (empty for anything else).

    Parameters
    ----------
    table : Any
        A result table (anything with ``attrs``) or any other object.

    Returns
    -------
    list[str]
        The notes in the order they were added; empty when there are none or no ``attrs``.
    """
    attrs = getattr(table, "attrs", None)
    return list(attrs.get(NOTES, ())) if isinstance(attrs, Mapping) else []
