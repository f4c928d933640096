"""Closest-name hints for names that do not match: case, spaces, ``_`` and ``-`` ignored.

A params event or column that does not exist is reported with the closest existing names.
Vendors spell the same thing differently (``Sign Up`` in Amplitude, ``signed_up`` in a
warehouse, ``Report Created`` for ``created_report``), so names are compared twice: squashed
(lower case, without spaces, ``_``, ``-``, ``.``, ``:``) and as their sorted words, and the better
of the two similarities counts.

Examples
--------
>>> closest_names("signed_up", ["Sign Up", "Page Viewed"])
['Sign Up']
>>> closest_names("created_report", ["Report Created", "Report Viewed"])
['Report Created']
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_SEPARATORS = re.compile(r"[\s_\-.:/]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def words(name: str) -> list[str]:
    """Return the lower-case words of ``name`` (split at spaces, ``_ - . : /`` and camelCase).

    Parameters
    ----------
    name : str
        A column, key or event name.

    Returns
    -------
    list of str
        Its words, in order.

    Examples
    --------
    >>> words("signupAt_UTC")
    ['signup', 'at', 'utc']
    """
    return [w for w in _SEPARATORS.split(_CAMEL.sub(" ", str(name)).lower()) if w]


def similarity(a: str, b: str) -> float:
    """How alike two names are, from 0 to 1, ignoring case, separators and word order.

    The larger of the :class:`difflib.SequenceMatcher` ratios of the squashed names and of
    their sorted words joined by a space.

    Parameters
    ----------
    a, b : str
        The two names.

    Returns
    -------
    float
        1 for names with the same words in any order and separators, less the more they differ.
    """
    wa, wb = words(a), words(b)
    squashed = difflib.SequenceMatcher(None, "".join(wa), "".join(wb)).ratio()
    ordered = difflib.SequenceMatcher(None, " ".join(sorted(wa)), " ".join(sorted(wb))).ratio()
    return max(squashed, ordered)


def closest_names(name: str, known: Iterable[str], *, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Return the up to ``n`` names of ``known`` most like ``name`` (:func:`similarity` >= ``cutoff``).

    Parameters
    ----------
    name : str
        The name that was not found.
    known : iterable of str
        The existing names.
    n : int, default 3
        How many names to return at most.
    cutoff : float, default 0.6
        The least similarity of a returned name.

    Returns
    -------
    list of str
        Best first; ties keep the order of ``known``. ``name`` itself is never returned.
    """
    scored = []
    for i, other in enumerate(dict.fromkeys(str(k) for k in known)):
        if other == name:
            continue
        score = similarity(name, other)
        if score >= cutoff:
            scored.append((-score, i, other))
    return [other for _, _, other in sorted(scored)[:n]]


__all__ = ["closest_names", "similarity", "words"]
