"""What every findings rule shares.

The :class:`Finding` type, the report sections findings link to, the significance level, and
reading a nested metrics value.

:mod:`onboarding_analysis.report.findings` (the rules and :func:`~onboarding_analysis.report.findings.build_findings`)
and :mod:`onboarding_analysis.report.findings_groups` (the rules comparing groups) build on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Level below which a corrected p-value counts as a difference (the 95% intervals' level).
LEVEL = 0.05
#: At most this many findings are written (the least important are left out).
MAX_FINDINGS = 7
#: At most this many ``segment-<column>`` findings (smallest corrected p-values first).
MAX_SEGMENT_FINDINGS = 3

#: The report heading each kind of finding links to (matched against the report's headings).
SECTIONS = {
    "data": "Readiness and data quality",
    "change": "Before and after the onboarding change",
    "funnel": "Onboarding funnel",
    "segments": "Segment comparisons",
    "drivers": "Early behaviours that go with staying",
    "moments": "Moments of truth",
    "ttfv": "Time to first value",
}

_CORRECTIONS = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}



@dataclass(frozen=True)
class Finding:
    """One finding: a stable id, a plain sentence, the heading it links to and its numbers.

    Attributes
    ----------
    id : str
        Stable identifier (``funnel-drop-off``, ``segment-persona``, ...; see the module table).
    text : str
        The sentence(s), numbers formatted for people.
    section : str
        Text of the report heading holding the detail (a key of :data:`SECTIONS`' values).
    numbers : dict
        The numbers behind the sentence, unformatted (JSON-ready; ``None`` where not estimable).
    """

    id: str
    text: str
    section: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The finding as stored in ``metrics.json`` ``summary.findings[]``.

        Returns
        -------
        dict
            ``id``, ``text``, ``section`` and ``numbers``.
        """
        return {"id": self.id, "text": self.text, "section": self.section, "numbers": dict(self.numbers)}



def metric_at(mapping: Any, *keys: str) -> Any:
    """The value at ``mapping[keys[0]][keys[1]]...``, or ``None`` where a level is missing.

    Parameters
    ----------
    mapping : Any
        A run's metrics, or a part of them.
    *keys : str
        The path of keys.

    Returns
    -------
    Any
        The value, or ``None``.

    Examples
    --------
    >>> metric_at({"a": {"b": 1}}, "a", "b"), metric_at({"a": 2}, "a", "b")
    (1, None)
    """
    for key in keys:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def correction_name(name: Any) -> str:
    """The name of a multiple-testing correction for a sentence.

    Parameters
    ----------
    name : Any
        The params ``p_adjust`` value recorded in the metrics (``holm``, ``fdr_bh``) or ``None``.

    Returns
    -------
    str
        ``"Holm"``, ``"Benjamini-Hochberg"``, the value itself, or ``"multiple-testing"``.
    """
    return _CORRECTIONS.get(str(name), str(name)) if name else "multiple-testing"



__all__ = ["LEVEL", "MAX_FINDINGS", "MAX_SEGMENT_FINDINGS", "SECTIONS", "Finding", "correction_name", "metric_at"]
