"""The plots of a segment comparison: lifetime curves, hazard ratios and N-day retention per group.

Each group keeps its colour across the plots (:func:`onboarding_analysis.display.style.group_colors`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes

from ..display.figures import axes_or_new
from ..stats.hypothesis import GROUP
from .hazard_forest import hazard_ratio_forest
from .segment_result import SegmentComparison

__all__ = ["plot_hazard_ratios", "plot_segment_retention", "plot_segment_survival"]


def plot_segment_survival(comparison: SegmentComparison, *, ax: Axes | None = None, ci: bool = True) -> Axes:
    """Kaplan-Meier lifetime curves per group, with confidence bands.

    Each group has its colour of :func:`onboarding_analysis.display.style.group_colors` (the same in
    :func:`plot_segment_retention`); a curve goes on grey and dashed where fewer than
    :data:`~onboarding_analysis.display.style.MIN_AT_RISK` of its users are at risk.

    Parameters
    ----------
    comparison : SegmentComparison
        A result of :func:`~onboarding_analysis.analyses.segments.compare_segments`: its
        Kaplan-Meier fits per group.
    ax : matplotlib.axes.Axes, optional
        Where to draw the curves; a new figure by default.
    ci : bool, default True
        Draw the confidence bands.

    Returns
    -------
    matplotlib.axes.Axes
        The axes with one curve per group.

    Examples
    --------
    >>> ax = plot_segment_survival(compare_segments(facts, "persona"))      # doctest: +SKIP
    """
    from ..display.style import group_colors, note_cutoff, plot_km

    ax = axes_or_new(ax)
    level = round(100 * (1 - comparison.alpha))
    colors = group_colors(comparison.groups[GROUP])
    cutoffs = []
    for name, fit in comparison.lifetimes.items():
        tag = " (reference)" if name == comparison.reference else ""
        cutoffs.append(
            plot_km(fit.kmf, ax, label=f"{name}{tag}, n={fit.users}", color=colors.get(str(name)), ci=ci)
        )
    ax.set_xlabel("days since signup")
    ax.set_ylabel("share of users not yet churned")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Lifetime by {comparison.column} (Kaplan-Meier, {level}% CI)")
    if comparison.lifetimes:  # none when no user is observable yet (the notes say so)
        ax.legend(loc="best")
    note_cutoff(ax, cutoffs)
    return ax


def plot_hazard_ratios(comparison: SegmentComparison, *, ax: Axes | None = None) -> Axes:
    """Forest plot of the churn hazard ratios against the reference (log scale, line at 1).

    Groups whose proportional-hazards check failed are drawn in red diamonds and labelled.

    Parameters
    ----------
    comparison : SegmentComparison
        A result of :func:`~onboarding_analysis.analyses.segments.compare_segments`: its
        hazard ratios and proportional-hazards warnings.
    ax : matplotlib.axes.Axes, optional
        Where to draw the forest plot; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes with one ratio per non-reference group.

    Examples
    --------
    >>> ax = plot_hazard_ratios(compare_segments(facts, "persona"))         # doctest: +SKIP
    """
    groups = comparison.groups[~comparison.groups["is_reference"]]
    labels = [
        f"{g}{' (PH warning)' if w else ''}" for g, w in zip(groups[GROUP], groups["ph_warning"], strict=True)
    ]
    ax = hazard_ratio_forest(
        groups,
        labels,
        ax=ax,
        flagged=groups["ph_warning"].astype(bool).to_numpy(),
        flag_label="proportional-hazards check failed",
    )
    level = round(100 * (1 - comparison.alpha))
    ax.set_xlabel(
        f"hazard ratio of churn vs {comparison.reference} ({level}% CI, log scale); < 1: stay longer"
    )
    ax.set_title(f"Churn hazard by {comparison.column} (users active after signup)")
    return ax


def plot_segment_retention(
    comparison: SegmentComparison, *, days: Sequence[int] | None = None, ax: Axes | None = None
) -> Axes:
    """N-day retention per group with Wilson intervals, one point per group and day.

    Parameters
    ----------
    comparison : SegmentComparison
        A result of :func:`~onboarding_analysis.analyses.segments.compare_segments`: its
        retention columns per group.
    days : sequence of int, optional
        The days shown; default the comparison's ``retention_days``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes with one point per group and day.

    Examples
    --------
    >>> ax = plot_segment_retention(compare_segments(facts, "plan"))        # doctest: +SKIP
    """
    from ..display.style import group_colors

    ax = axes_or_new(ax)
    days = list(comparison.retention_days if days is None else days)
    groups = comparison.groups
    colors = group_colors(groups[GROUP])
    width = 0.8 / max(len(groups), 1)
    for i, g in enumerate(groups.to_dict("records")):
        x = np.arange(len(days)) - 0.4 + width * (i + 0.5)
        rate = np.array([g.get(f"retention_day_{d}", np.nan) for d in days], dtype=float)
        low = np.array([g.get(f"retention_day_{d}_ci_low", np.nan) for d in days], dtype=float)
        high = np.array([g.get(f"retention_day_{d}_ci_high", np.nan) for d in days], dtype=float)
        ok = np.isfinite(rate)
        if ok.any():
            ax.errorbar(
                x[ok],
                rate[ok],
                yerr=[rate[ok] - low[ok], high[ok] - rate[ok]],
                fmt="o",
                capsize=3,
                color=colors.get(str(g[GROUP])),
                label=f"{g[GROUP]} (n={g['users']})",
            )
    ax.set_xticks(np.arange(len(days)))
    ax.set_xticklabels([f"day {d}" for d in days])
    ax.set_ylabel("share of eligible users active that day")
    ax.set_ylim(0, 1.05)
    level = round(100 * (1 - comparison.alpha))
    ax.set_title(f"N-day retention by {comparison.column} ({level}% Wilson CI)")
    if ax.get_legend_handles_labels()[0]:  # no point when no user is eligible for any day
        ax.legend(loc="best", fontsize=8)
    return ax
