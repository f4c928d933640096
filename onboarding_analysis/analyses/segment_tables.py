"""Segment comparisons as a readable table and as their part of ``metrics.json``.

:func:`segment_summary` is the table the report shows per compared column;
:func:`segments_metrics` the ``segments`` key of ``metrics.json`` (``docs/outputs.md``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..stats.finite import finite_or_none
from ..stats.hypothesis import GROUP
from .segment_result import SegmentComparison

__all__ = ["segment_summary", "segments_metrics"]


def _fmt(value: float, digits: int = 2, pct: bool = False) -> str:
    """A number, or a percentage with one decimal; ``–`` if missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.1f}%" if pct else f"{value:.{digits}f}"


def _fmt_p(value: float) -> str:
    """A p-value as the report writes it: ``< 0.001`` or three decimals (``–`` if missing)."""
    from ..display.tables import format_value

    return format_value(value, "p") or "–"


def _interval(row: Mapping, key: str, pct: bool = False, digits: int = 2) -> str:
    """``estimate [low, high]`` of a figure of a groups-table row; ``–`` if not estimated."""
    low, high = row.get(f"{key}_ci_low", math.nan), row.get(f"{key}_ci_high", math.nan)
    if key == "rmst":
        key = "rmst_days"
    if pd.isna(row.get(key)):
        return "–"
    return f"{_fmt(row[key], digits, pct)} [{_fmt(low, digits, pct)}, {_fmt(high, digits, pct)}]"


def segment_summary(comparison: SegmentComparison) -> pd.DataFrame:
    """A readable table of a comparison: one row per group, estimates with their intervals.

    Columns: group, users, retention per day, never active, median lifetime, RMST and its
    difference to the reference, TTFV by day 7, completion, hazard ratio (with the PH warning
    next to it) and the raw and adjusted p-values of the hazard ratio and the pairwise log-rank
    test. Figures that cannot be estimated show "–"; an unreached median shows "not reached".

    Parameters
    ----------
    comparison : SegmentComparison
        A result of :func:`~onboarding_analysis.analyses.segments.compare_segments`.

    Returns
    -------
    pandas.DataFrame
        One row per group, every cell text (or the user count).
    """
    rows = []
    for g in comparison.groups.to_dict("records"):
        row = {"group": g[GROUP] + (" (reference)" if g["is_reference"] else ""), "users": g["users"]}
        for d in comparison.retention_days:
            row[f"day-{d} retention"] = _interval(g, f"retention_day_{d}", pct=True)
        row["never active"] = _interval(g, "never_active", pct=True)
        row["median lifetime (days)"] = (
            "–"
            if pd.isna(g["rmst_days"])
            else "not reached"
            if pd.isna(g["median_days"])
            else f"{g['median_days']:.1f}"
        )
        row[f"RMST {comparison.horizon_days:g} d"] = _interval(g, "rmst", digits=1)
        row["RMST diff"] = _interval(g, "rmst_diff", digits=1) if not g["is_reference"] else ""
        row[f"value by day {comparison.ttfv_day}"] = _interval(g, f"ttfv_day_{comparison.ttfv_day}", pct=True)
        row["completion"] = _interval(g, "completion", pct=True)
        if g["is_reference"]:
            row["hazard ratio"] = "1 (reference)"
        elif pd.isna(g["hazard_ratio"]):
            row["hazard ratio"] = g["hr_note"] or "–"
        else:
            row["hazard ratio"] = f"{g['hazard_ratio']:.2f} [{g['hr_ci_low']:.2f}, {g['hr_ci_high']:.2f}]"
            if g["ph_warning"]:
                row["hazard ratio"] += " ⚠ non-proportional"
        row["HR p (raw / adj.)"] = (
            "" if g["is_reference"] else f"{_fmt_p(g['hr_p_raw'])} / {_fmt_p(g['hr_p_adjusted'])}"
        )
        row["log-rank p (raw / adj.)"] = (
            "" if g["is_reference"] else f"{_fmt_p(g['logrank_p_raw'])} / {_fmt_p(g['logrank_p_adjusted'])}"
        )
        rows.append(row)
    return pd.DataFrame(rows)


def segments_metrics(comparisons: Mapping[str, SegmentComparison] | Iterable[SegmentComparison]) -> dict:
    """Headline numbers of segment comparisons as a JSON-ready dict.

    Parameters
    ----------
    comparisons : mapping or iterable of SegmentComparison
        Results of :func:`~onboarding_analysis.analyses.segments.compare_all` (a mapping) or of
        :func:`~onboarding_analysis.analyses.segments.compare_segments`.

    Returns
    -------
    dict
        ``{"segments": {"<column>": {"reference", "logrank_p", "logrank_p_adjusted" (when
        set by compare_all), "p_adjust", "pooled", "groups": {"<value>": {users,
        retention_day_<N>, median_days, rmst_days, hazard_ratio, hr_ci_low, hr_ci_high,
        p_raw, p_adjusted, ph_warning}}}}}``; ``p_raw``/``p_adjusted`` are the hazard
        ratio's; plain Python numbers, None where not estimable (the reference has hazard
        ratio 1 and no interval or p-value).
    """
    items = comparisons.values() if isinstance(comparisons, Mapping) else comparisons
    out: dict[str, dict] = {}
    for comp in items:
        groups = {}
        for g in comp.groups.to_dict("records"):
            entry = {"users": int(g["users"])}
            for d in comp.retention_days:
                entry[f"retention_day_{d}"] = finite_or_none(g[f"retention_day_{d}"])
            entry.update(
                median_days=finite_or_none(g["median_days"]),
                rmst_days=finite_or_none(g["rmst_days"]),
                hazard_ratio=finite_or_none(g["hazard_ratio"]),
                hr_ci_low=finite_or_none(g["hr_ci_low"]),
                hr_ci_high=finite_or_none(g["hr_ci_high"]),
                p_raw=finite_or_none(g["hr_p_raw"]),
                p_adjusted=finite_or_none(g["hr_p_adjusted"]),
                ph_warning=bool(g["ph_warning"]),
            )
            groups[str(g[GROUP])] = entry
        section: dict[str, Any] = {"reference": comp.reference, "logrank_p": finite_or_none(comp.logrank_p)}
        if comp.logrank_p_adjusted is not None:
            section["logrank_p_adjusted"] = finite_or_none(comp.logrank_p_adjusted)
        section.update(p_adjust=comp.p_adjust, pooled=list(comp.pooled), groups=groups)
        out[comp.column] = section
    return {"segments": out}
