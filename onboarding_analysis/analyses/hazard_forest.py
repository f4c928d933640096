"""Forest plots of hazard ratios with their intervals, on a log axis with plain ratio ticks.

Used by the segment comparison's hazard-ratio plot and by the early-behaviours plot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from ..display.figures import axes_or_new

__all__ = ["forest", "hazard_ratio_forest"]

#: Candidate tick marks of the forest plots' ratio axis.
_RATIO_TICKS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)


def forest(
    labels: Sequence[str],
    ratio: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    *,
    ax: Axes | None = None,
    flagged: Sequence[bool] | None = None,
    flag_label: str = "",
) -> Axes:
    """A forest plot of ratios with intervals on a log axis, reference line at 1.

    Each row is annotated with ``ratio [low, high]``, or "not estimable" where the ratio or its
    interval is not a finite positive number (such a row has no point).

    Parameters
    ----------
    labels : sequence of str
        One label per row, top to bottom.
    ratio, low, high : array-like of float
        The ratios and their interval bounds.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    flagged : sequence of bool, optional
        Rows drawn as red diamonds (e.g. a failed proportional-hazards check).
    flag_label : str, default ""
        Legend entry of the flagged rows (no legend when empty or none is flagged).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = axes_or_new(ax)
    ratio, low, high = (np.asarray(a, dtype=float) for a in (ratio, low, high))
    flagged = np.zeros(len(labels), dtype=bool) if flagged is None else np.asarray(flagged, dtype=bool)
    y = np.arange(len(labels))[::-1]
    ok = np.isfinite(ratio) & np.isfinite(low) & np.isfinite(high) & (low > 0)
    ax.axvline(1.0, color="0.4", linestyle="--", linewidth=1)
    for mask, color, marker, label in (
        (ok & ~flagged, "C0", "o", None),
        (ok & flagged, "C3", "D", flag_label),
    ):
        if mask.any():
            ax.errorbar(
                ratio[mask],
                y[mask],
                xerr=[ratio[mask] - low[mask], high[mask] - ratio[mask]],
                fmt=marker,
                color=color,
                capsize=3,
                label=label,
            )
    for yy, r, lo, hi, good in zip(y, ratio, low, high, ok, strict=True):
        text = f"{r:.2f} [{lo:.2f}, {hi:.2f}]" if good else "not estimable"
        ax.annotate(
            text,
            (1.0, yy),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_xscale("log")
    finite = np.concatenate([low[ok], high[ok], [1.0]])
    lo, hi = finite.min() / 1.25, finite.max() * 1.25
    ax.set_xlim(lo, hi)
    # Plain ratios as tick labels (0.5, 1, 2), not powers of ten.
    ticks = [t for t in _RATIO_TICKS if lo <= t <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_ylim(-0.75, len(labels) - 0.25)
    if flag_label and (ok & flagged).any():
        ax.legend(loc="best", fontsize=8)
    return ax


def hazard_ratio_forest(
    table: pd.DataFrame, labels: Sequence[str], *, ax: Axes | None = None, **flags
) -> Axes:
    """:func:`forest` of a table's ``hazard_ratio``, ``hr_ci_low`` and ``hr_ci_high`` columns.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per ratio, with those three columns.
    labels : sequence of str
        One label per row of ``table``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    **flags
        ``flagged`` and ``flag_label`` of :func:`forest`.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ratio, low, high = (table[c].to_numpy(dtype=float) for c in ("hazard_ratio", "hr_ci_low", "hr_ci_high"))
    return forest(labels, ratio, low, high, ax=ax, **flags)
