"""Figures of the engagement section: feature adoption, stickiness, DAU/MAU and lifecycle.

Each draws a table of :mod:`~onboarding_analysis.analyses.engagement` or
:mod:`~onboarding_analysis.analyses.active_users`, checked for its columns first.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from ..display.figures import axes_or_new
from .active_users import DAU_MAU_COLUMNS, LIFECYCLE_COLUMNS, LIFECYCLE_STATES
from .engagement import ADOPTION_COLUMNS

__all__ = ["plot_dau_mau", "plot_feature_adoption", "plot_lifecycle", "plot_stickiness"]


def _require(table: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a DataFrame from {source}, but got {type(table)!r}")
    missing = [col for col in columns if col not in table.columns]
    if missing:
        raise ValueError(f"expected a table from {source}, but columns {missing} are missing")


def plot_feature_adoption(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Horizontal bars of feature adoption (percent) with Wilson-interval error bars.

    Features nobody was eligible for are listed without a bar (their rate is unknown).

    Parameters
    ----------
    table : pandas.DataFrame
        The adoption table of :func:`~onboarding_analysis.analyses.engagement.feature_adoption`.
    ax : matplotlib.axes.Axes, optional
        Where to draw the bars; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per feature with a known rate, its interval as an error bar.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> table = pd.DataFrame({"feature": ["dash"], "days": [30], "eligible": [4], "adopted": [2],
    ...                       "rate": [0.5], "ci_low": [0.15], "ci_high": [0.85]})
    >>> [round(bar.get_width()) for bar in plot_feature_adoption(table).patches]
    [50]
    """
    _require(table, ADOPTION_COLUMNS, "feature_adoption")
    ax = axes_or_new(ax)
    rate = table["rate"].to_numpy(dtype=float) * 100
    low = table["ci_low"].to_numpy(dtype=float) * 100
    high = table["ci_high"].to_numpy(dtype=float) * 100
    y = np.arange(len(table))
    labels = [f"{f} (n={int(n)})" for f, n in zip(table["feature"], table["eligible"], strict=True)]
    shown = ~np.isnan(rate)
    ax.barh(y[shown], rate[shown], color="C0")
    if shown.any():
        err = np.vstack([rate[shown] - low[shown], high[shown] - rate[shown]])
        ax.errorbar(
            rate[shown], y[shown], xerr=err, fmt="none", ecolor="0.2", capsize=3, label="Wilson interval"
        )
        ax.legend(loc="lower right")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    days = int(table["days"].iloc[0]) if len(table) else None
    ax.set_xlabel(
        f"% of eligible users who used it in their first {days} days" if days else "% of eligible users"
    )
    ax.set_title("Feature adoption")
    return ax


def plot_stickiness(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Histogram of active days per user in the first days after signup, in percent of users.

    Parameters
    ----------
    table : pandas.DataFrame
        The per-user active days of :func:`~onboarding_analysis.analyses.engagement.stickiness`.
    ax : matplotlib.axes.Axes, optional
        The axes for the histogram, or None for a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The histogram, one bar per number of active days.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> table = pd.DataFrame({"user_id": ["a", "b"], "active_days": [0, 2]})
    >>> table.attrs["days"] = 3
    >>> [float(bar.get_height()) for bar in plot_stickiness(table).patches]
    [50.0, 0.0, 50.0, 0.0]
    """
    _require(table, ["active_days"], "stickiness")
    ax = axes_or_new(ax)
    counts = table["active_days"].to_numpy(dtype=np.int64)
    days = int(table.attrs.get("days", counts.max() if len(counts) else 0))
    values = np.bincount(counts, minlength=days + 1)[: days + 1] if len(counts) else np.zeros(days + 1)
    share = values / max(len(counts), 1) * 100
    ax.bar(np.arange(days + 1), share, width=0.9, color="C0")
    ax.set_xlabel(f"active days in the first {days} days")
    ax.set_ylabel(f"% of users (n={len(counts)})")
    ax.set_title("Stickiness")
    return ax


def plot_dau_mau(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """DAU/MAU ratio over time; ``partial`` dates are drawn dashed grey on a shaded band.

    The shading marks dates whose window reaches before the data (or the last, incomplete
    date): their MAU is low only because the data starts there.

    Parameters
    ----------
    table : pandas.DataFrame
        The per-date counts of :func:`~onboarding_analysis.analyses.active_users.dau_mau`.
    ax : matplotlib.axes.Axes, optional
        Where the line goes (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        The ratio line, dashed and shaded where partial.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> table = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=3), "dau": [1, 1, 2],
    ...                       "mau": [1, 2, 2], "ratio": [1.0, 0.5, 1.0], "partial": [True, True, False]})
    >>> [line.get_label() for line in plot_dau_mau(table).get_lines()][:1]
    ['DAU/MAU']
    """
    _require(table, DAU_MAU_COLUMNS, "dau_mau")
    ax = axes_or_new(ax)
    dates = pd.to_datetime(table["date"]).to_numpy()
    ratio = table["ratio"].to_numpy(dtype=float) * 100
    partial = table["partial"].to_numpy(dtype=bool)
    full = np.where(partial, np.nan, ratio)
    # The dashed partial line reaches the neighbouring complete dates, so the two lines join.
    joins = partial | np.concatenate([[False], partial[:-1]]) | np.concatenate([partial[1:], [False]])
    part = np.where(joins, ratio, np.nan)
    ax.plot(dates, full, color="C0", label="DAU/MAU")
    if partial.any():
        ax.plot(
            dates, part, color="0.6", linestyle="--", label="partial (window before data start or after T)"
        )
        one_day = np.timedelta64(1, "D")
        for start, stop in _runs(partial):
            ax.axvspan(dates[start], dates[stop - 1] + one_day, color="0.9", zorder=0)
    ax.set_ylim(0, 100)
    ax.set_xlabel("date (UTC)")
    ax.set_ylabel("DAU / MAU (%)")
    ax.set_title("Stickiness over time (DAU/MAU)")
    ax.legend(loc="upper left")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return ax


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of consecutive True values."""
    runs, start = [], None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(flags)))
    return runs


def plot_lifecycle(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Stacked lifecycle bars per period: new, returning, resurrecting up, dormant down.

    Partial periods (see :func:`lifecycle`) are drawn hatched and faded.

    Parameters
    ----------
    table : pandas.DataFrame
        The per-period counts of :func:`~onboarding_analysis.analyses.active_users.lifecycle`.
    ax : matplotlib.axes.Axes, optional
        Axes for the stacked bars; None draws a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The stacked bars, dormant below zero, with a legend of the states.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> table = pd.DataFrame({"period": pd.to_datetime(["2024-01-01", "2024-01-08"]), "new": [2, 1],
    ...                       "returning": [0, 1], "resurrecting": [0, 0], "dormant": [0, -1],
    ...                       "active": [2, 2], "partial": [False, True]})
    >>> [float(bar.get_height()) for bar in plot_lifecycle(table).patches][-2:]  # dormant: below zero
    [0.0, -1.0]
    """
    _require(table, LIFECYCLE_COLUMNS, "lifecycle")
    ax = axes_or_new(ax)
    x = np.arange(len(table))
    partial = table["partial"].to_numpy(dtype=bool)
    alpha = np.where(partial, 0.4, 1.0)
    bottom = np.zeros(len(table))
    colors = {"new": "C0", "returning": "C2", "resurrecting": "C1", "dormant": "C3"}
    for state in LIFECYCLE_STATES:
        values = table[state].to_numpy(dtype=float)
        base = bottom if state != "dormant" else np.zeros(len(table))
        bars = ax.bar(x, values, bottom=base, color=colors[state], width=0.8)
        for bar, a, p in zip(bars, alpha, partial, strict=True):
            bar.set_alpha(a)
            if p:
                bar.set_hatch("//")
        if state != "dormant":
            bottom = bottom + values
    ax.axhline(0, color="0.2", linewidth=0.8)
    labels = [pd.Timestamp(p).strftime("%Y-%m-%d") for p in table["period"]]
    step = max(1, len(labels) // 12)
    ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right")
    ax.set_ylabel("users")
    ax.set_xlabel("period start (UTC); hatched = partial period")
    ax.set_title("User lifecycle")
    ax.legend(
        handles=[Patch(facecolor=colors[state], label=state) for state in LIFECYCLE_STATES], loc="upper left"
    )
    return ax
