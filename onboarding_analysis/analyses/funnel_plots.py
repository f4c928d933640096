"""Figures of the onboarding funnel: conversion per step and the time between steps.

Both read a :class:`~onboarding_analysis.analyses.funnel_steps.FunnelResult` from
:func:`~onboarding_analysis.analyses.funnel.compute_funnel`, under either funnel semantics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from ..display.figures import axes_or_new
from ..params import window_label
from .funnel_steps import ELIGIBLE, FunnelResult, step_column

__all__ = ["plot_funnel", "plot_step_times"]


def _window_text(days: float) -> str:
    """The window for a title: "14 days", "12 hours", "5 minutes"."""
    seconds = days * 86_400
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            return window_label(f"{round(seconds / size, 6):g} {unit}")
    return window_label(f"{round(seconds, 6):g} second")


def plot_funnel(result: FunnelResult, *, ax: Axes | None = None) -> Axes:
    """Bars of the conversion from the start per step, with Wilson error bars and user counts.

    Parameters
    ----------
    result : FunnelResult
        Output of :func:`~onboarding_analysis.analyses.funnel.compute_funnel`, its ``steps`` table.
    ax : matplotlib.axes.Axes, optional
        The axes for the bars; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        The bars, or a "no eligible users yet" text when no rate is known.

    Examples
    --------
    >>> ax = plot_funnel(result)                                          # doctest: +SKIP
    """
    ax = axes_or_new(ax)
    table = result.steps
    x = np.arange(len(table))
    rate = table["from_start"].to_numpy(dtype=float) * 100
    low = table["from_start_ci_low"].to_numpy(dtype=float) * 100
    high = table["from_start_ci_high"].to_numpy(dtype=float) * 100
    shown = ~np.isnan(rate)
    level = round(100 * (1 - result.alpha))
    ax.bar(x[shown], rate[shown], color="C0", label="reached the step")
    if shown.any():
        # Clip: at a rate of 100% the Wilson bound can come out a few ulps below it.
        yerr = np.clip(np.vstack([rate[shown] - low[shown], high[shown] - rate[shown]]), 0.0, None)
        ax.errorbar(
            x[shown], rate[shown], yerr=yerr, fmt="none", ecolor="0.2", capsize=4, label=f"{level}% Wilson CI"
        )
        for xi, hi, users in zip(x[shown], high[shown], table["users"].to_numpy()[shown], strict=True):
            ax.annotate(
                f"{int(users):,}",
                (xi, hi),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
            )
        ax.legend(loc="upper right")
    else:
        ax.text(0.5, 0.5, "no eligible users yet", transform=ax.transAxes, ha="center", va="center")
    ax.set_xticks(x, list(result.labels), rotation=20, ha="right")
    ax.set_ylim(0, 115)
    window = _window_text(result.window_days)
    if result.semantics == "posthog":
        ax.set_ylabel("% of eligible users with step 1")
        ax.set_title(
            f"Funnel, PostHog rules ({result.mode}, within {window} of step 1; {result.eligible:,} eligible)"
        )
    else:
        ax.set_ylabel("% of eligible signups")
        ax.set_title(f"Onboarding funnel ({result.mode}, within {window}; {result.eligible:,} eligible)")
    return ax


def plot_step_times(result: FunnelResult, *, ax: Axes | None = None) -> Axes:
    """Distributions (ECDFs) of the hours from the previous step (from signup for step 0).

    One curve per step, over the eligible users who reached both steps: the share of them who
    took at most x hours. The hour axis is *symlog*: linear below one hour (so simultaneous
    steps, 0 hours, stay visible), logarithmic above.

    Parameters
    ----------
    result : FunnelResult
        A funnel whose per-user ``times`` give the curves.
    ax : matplotlib.axes.Axes, optional
        The axes for the curves; new ones by default.

    Returns
    -------
    matplotlib.axes.Axes
        One ECDF per step, or a "no eligible converters yet" text.

    Examples
    --------
    >>> ax = plot_step_times(result)                                      # doctest: +SKIP
    """
    ax = axes_or_new(ax)
    times = result.times
    eligible = times[ELIGIBLE].to_numpy(dtype=bool)
    names = [f"{j}. {label}" + (" (from signup)" if j == 0 else "") for j, label in enumerate(result.labels)]
    labels, hours = [], []
    prev = np.zeros(len(times))  # step 0 is timed from signup
    for j, name in enumerate(names):
        t = times[step_column(j)].to_numpy(dtype=float)
        both = eligible & ~np.isnan(t) & ~np.isnan(prev)
        labels += [name] * int(both.sum())
        hours += ((t[both] - prev[both]) * 24.0).tolist()
        prev = t
    data = pd.DataFrame({"step": labels, "hours": np.asarray(hours, dtype=float)})
    if len(data):
        present = [name for name in names if name in set(labels)]
        sns.ecdfplot(data=data, x="hours", hue="step", hue_order=present, ax=ax)
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlim(left=0)
    else:
        ax.text(0.5, 0.5, "no eligible converters yet", transform=ax.transAxes, ha="center", va="center")
    ax.set_xlabel("hours from the previous step (symlog scale: linear below 1 h)")
    ax.set_ylabel("share of users who reached both steps")
    ax.set_ylim(0, 1.05)
    ax.set_title("Time between onboarding steps (eligible users who reached both)")
    return ax
