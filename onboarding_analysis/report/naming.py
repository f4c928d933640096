"""Names made safe for a folder or an HTML id, and kept unique.

Shared by batch planning (:mod:`onboarding_analysis.report.batch_plan`: run names, the params
``client``) and the report page (:mod:`onboarding_analysis.report.page`: heading ids).
"""

from __future__ import annotations

import unicodedata


def ascii_text(text: str) -> str:
    """``text`` with accents dropped and other non-ASCII characters removed.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        Its ASCII letters, digits and punctuation.

    Examples
    --------
    >>> ascii_text("Café Über ✓")
    'Cafe Uber '
    """
    return unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")


def unique_name(name: str, taken: set[str], *, max_length: int | None = None) -> str:
    """``name``, or ``name-2``, ``name-3``... : the first not in ``taken``.

    Parameters
    ----------
    name : str
        The name wanted.
    taken : set of str
        Names already in use (not changed).
    max_length : int, optional
        Longest name allowed: ``name`` is cut to leave room for the suffix.

    Returns
    -------
    str
        A name not in ``taken``.

    Examples
    --------
    >>> unique_name("acme", {"acme", "acme-2"}), unique_name("abcd", {"abcd"}, max_length=4)
    ('acme-3', 'ab-2')
    """
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = (name if max_length is None else name[: max_length - len(suffix)]) + suffix
    return candidate


__all__ = ["ascii_text", "unique_name"]
