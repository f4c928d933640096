"""The groups of a segment column: labels, pooling of small groups, the reference group.

:func:`resolve_groups` is the first step of every segment comparison
(:func:`onboarding_analysis.analyses.segments.compare_table`): missing values form the group
``"(missing)"``, groups with fewer than ``min_segment_size`` users are pooled into ``"other"``
(``"other (pooled)"`` if a real group is called ``other``), and the reference group is the one
asked for (params ``reference_groups[column]``) or else the largest group.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ParamsError, StatisticalWarning

__all__ = ["MISSING", "OTHER", "SegmentGroups", "pool_small_groups", "resolve_groups"]

#: Label of the pooled small groups.
OTHER = "other"
#: Label of users with no value in the segment column.
MISSING = "(missing)"


@dataclass(frozen=True)
class SegmentGroups:
    """The groups of one compared column, as :func:`resolve_groups` makes them.

    Attributes
    ----------
    codes : numpy.ndarray
        Per user, the index of its group in ``names``.
    names : list of str
        The group labels, sorted as Python sorts strings.
    pooled : tuple of str
        The original values pooled into ``other``.
    other : str or None
        Label of the pooled group (None if nothing was pooled).
    reference : str
        The reference group.
    order : list of str
        The reporting order: the reference, the others by size, the pooled group last.
    labels : pandas.Categorical
        The group of each user, with ``names`` as categories.
    notes : tuple of str
        What the reader must know (pooled groups, a replaced reference).
    """

    codes: np.ndarray
    names: list[str]
    pooled: tuple[str, ...]
    other: str | None
    reference: str
    order: list[str]
    labels: pd.Categorical
    notes: tuple[str, ...]

    @property
    def code_of(self) -> dict[str, int]:
        """Group label -> its integer code.

        Returns
        -------
        dict of str to int
            The position of each label in :attr:`names`.
        """
        return {name: i for i, name in enumerate(self.names)}


def resolve_groups(
    values: pd.Series,
    column: str,
    min_size: int,
    reference: str | None,
    configured: Mapping[str, str],
) -> SegmentGroups:
    """Label, pool and order the groups of one column and choose its reference group.

    Parameters
    ----------
    values : pandas.Series
        The compared column of the user-facts table.
    column : str
        Its name (for the messages).
    min_size : int
        Groups with fewer users are pooled into ``"other"``.
    reference : str, optional
        The reference group asked for by the caller; it must exist and not be pooled.
    configured : mapping of str to str
        Params ``reference_groups``, used when ``reference`` is None. A configured reference
        that was pooled (a per-client run can make it small) is replaced by the largest group,
        with a note and a :class:`~onboarding_analysis.errors.StatisticalWarning`.

    Returns
    -------
    SegmentGroups
        The labelled, pooled and ordered groups with their reference.

    Raises
    ------
    ParamsError
        ``reference`` is not a value of the column, or was pooled.
    ValueError
        ``min_size`` is not a whole number >= 1.
    """
    codes, names, pooled, other = _pool_codes(values, min_size)
    counts = _group_counts(codes, names)
    notes: list[str] = []
    if reference is None:
        reference = configured.get(column)
        if reference is not None and str(reference) in pooled:
            # A per-client or per-segment run can make the configured reference small; the run
            # goes on with the largest group and says so, instead of failing the whole report.
            notes.append(
                f"params reference group {reference!r} of {column!r} has fewer than min_segment_size "
                f"users here and was pooled into {other!r}; the largest group is the reference instead"
            )
            warnings.warn(notes[-1], StatisticalWarning, stacklevel=3)
            reference = None
    reference = _choose_reference(counts, column, reference, pooled, other)
    if pooled:
        notes.append(f"groups with fewer than {min_size} users pooled into {other!r}: {list(pooled)}")
    # The group of each user as a categorical (categories sorted like the labels): grouping and
    # compressing on its integer codes, not on a million strings.
    labels = pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object))
    order = _ordered_groups(counts, reference, other)
    return SegmentGroups(codes, names, pooled, other, reference, order, labels, tuple(notes))


def pool_small_groups(values: pd.Series, min_size: int) -> tuple[pd.Series, tuple[str, ...], str | None]:
    """Label each user's group, pooling groups smaller than ``min_size`` into ``"other"``.

    Parameters
    ----------
    values : pandas.Series
        The segment column (any dtype; missing values become ``"(missing)"``).
    min_size : int
        Groups with fewer users are pooled.

    Returns
    -------
    (labels, pooled, other_label)
        ``labels``: a string Series on the index of ``values``; ``pooled``: the pooled
        original values, sorted; ``other_label``: the pooled group's label, or None.

    Examples
    --------
    >>> import pandas as pd
    >>> labels, pooled, other = pool_small_groups(pd.Series(["a"] * 3 + ["b", "c"]), 2)
    >>> labels.tolist(), pooled, other
    (['a', 'a', 'a', 'other', 'other'], ('b', 'c'), 'other')
    """
    codes, names, pooled, other = _pool_codes(values, min_size)
    labels = pd.Series(np.asarray(names, dtype=object)[codes], index=values.index, dtype=object)
    return labels, pooled, other


def _pool_codes(
    values: pd.Series, min_size: int
) -> tuple[np.ndarray, list[str], tuple[str, ...], str | None]:
    """:func:`pool_small_groups` as integer codes: ``(codes, names, pooled, other_label)``.

    ``names`` are the group labels sorted (as Python sorts strings) and ``codes`` index them,
    one per user. The values are hashed once (``pandas.factorize``) and only the distinct ones
    are turned into strings, which on a million users is many times faster than labelling every
    user and counting the labels; the labels are the same.
    """
    if isinstance(min_size, bool) or not isinstance(min_size, int | np.integer) or min_size < 1:
        raise ValueError(f"min_size must be a whole number >= 1, but was {min_size!r}")
    raw, uniques = pd.factorize(values, use_na_sentinel=True)
    # The same text as values.astype("string"), value by value; missing values last.
    text = pd.Series(uniques).astype("string")
    strings = [MISSING if v is pd.NA else str(v) for v in text.tolist()] + [MISSING]
    distinct = sorted(set(strings))
    position = {name: i for i, name in enumerate(distinct)}
    to_distinct = np.array([position[v] for v in strings], dtype=np.int64)
    codes = to_distinct[np.where(raw < 0, len(strings) - 1, raw)]
    counts = np.bincount(codes, minlength=len(distinct))
    present = {name: int(counts[i]) for i, name in enumerate(distinct) if counts[i] > 0}
    small = sorted(name for name, n in present.items() if n < min_size)
    if not small:
        names = [name for name in distinct if name in present]
        remap = np.array([names.index(name) if name in present else -1 for name in distinct], dtype=np.int64)
        return remap[codes], names, (), None
    other = OTHER if OTHER not in present or OTHER in small else f"{OTHER} (pooled)"
    final = [other if name in small else name for name in distinct]
    names = sorted({final[i] for i, name in enumerate(distinct) if name in present})
    index = {name: i for i, name in enumerate(names)}
    remap = np.array([index.get(name, -1) for name in final], dtype=np.int64)
    return remap[codes], names, tuple(small), other


def _group_counts(codes: np.ndarray, names: Sequence[str]) -> pd.Series:
    """Users per group label, from the integer codes."""
    return pd.Series(np.bincount(codes, minlength=len(names)), index=pd.Index(list(names), dtype=object))


def _ordered_groups(counts: pd.Series, reference: str, other: str | None) -> list[str]:
    """The reference first, then the groups by size (then label), the pooled group last."""
    rest = sorted((g for g in counts.index if g not in (reference, other)), key=lambda g: (-counts[g], g))
    return [reference, *rest, *([other] if other is not None and other != reference else [])]


def _choose_reference(
    counts: pd.Series, column: str, requested: str | None, pooled: tuple[str, ...], other: str | None
) -> str:
    """The requested reference group, checked, or else the largest group (the pooled one last)."""
    if requested is None:
        candidates = counts[[g for g in counts.index if g != other]] if len(counts) > 1 else counts
        if candidates.empty:
            candidates = counts
        top = candidates.max()
        return sorted(str(g) for g in candidates.index[candidates == top])[0]
    requested = str(requested)
    if requested in pooled:
        raise ParamsError(
            f"reference group {requested!r} of {column!r} has fewer users than min_segment_size and "
            f"was pooled into {other!r}; choose one of {sorted(counts.index)} in params "
            f"reference_groups, or lower min_segment_size"
        )
    if requested not in counts.index:
        raise ParamsError(
            f"reference group {requested!r} is not a value of {column!r}; choose one of "
            f"{sorted(counts.index)} in params reference_groups"
        )
    return requested
