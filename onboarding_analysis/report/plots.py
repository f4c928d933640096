"""Plots of the retention and lifetime results.

Each function takes a result of :mod:`onboarding_analysis.analyses.retention` or
:mod:`onboarding_analysis.analyses.lifetime`, draws on ``ax`` (a new figure's axes if None) and returns
``ax``. Nothing here calls ``plt.show()`` or changes matplotlib's global style.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from lifelines.plotting import add_at_risk_counts
from matplotlib.axes import Axes

from ..analyses.lifetime import LifetimeResult
from ..analyses.retention import RETENTION_COLUMNS, CohortTable
from ..display.figures import axes_or_new
from ..display.style import GREY, MIN_AT_RISK, PALETTE, note_cutoff, plot_km

__all__ = ["plot_cohort_heatmap", "plot_lifetime", "plot_retention_curve"]

_PERIOD_LABEL = {"week": "weeks since signup", "month": "30-day periods since signup"}
_COHORT_LABEL = {"week": "signup week (Monday)", "month": "signup month"}
_COHORT_FORMAT = {"week": "%Y-%m-%d", "month": "%Y-%m"}


def plot_lifetime(result: LifetimeResult, *, ax: Axes | None = None, at_risk: bool = True) -> Axes:
    """Kaplan-Meier lifetime curve with its confidence band.

    Dotted vertical lines mark the retention days of ``result.survival``, each with a dot at
    ``P(lifetime >= N)``; where fewer than :data:`~onboarding_analysis.display.style.MIN_AT_RISK`
    users are at risk the curve goes on grey and dashed, without its band (said in the
    legend), and the dots are grey; with ``at_risk`` the at-risk, censored and churned counts are printed
    under the axis (lifelines' ``add_at_risk_counts``).

    Parameters
    ----------
    result : LifetimeResult
        Output of :func:`onboarding_analysis.analyses.lifetime.fit_lifetime`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    at_risk : bool, default True
        Print the counts table under the axis.

    Returns
    -------
    matplotlib.axes.Axes
        The axes holding the lifetime curve.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from onboarding_analysis.analyses.lifetime import fit_lifetime
    >>> facts = pd.DataFrame({"lifetime_days": [1.0, 2.5, 4.0, 9.0], "churned": [True, True, False, True]})
    >>> ax = plot_lifetime(fit_lifetime(facts, days=[1, 7], horizon_days=9))
    >>> ax.get_xlabel()
    'days since signup'
    """
    ax = axes_or_new(ax)
    level = round(100 * (1 - result.alpha))
    color = sns.color_palette(PALETTE)[0]
    cutoff = plot_km(result.kmf, ax, label=f"Kaplan-Meier ({level}% CI)", color=color)
    for row in result.survival.itertuples():
        ax.axvline(row.day, color="0.5", linestyle=":", linewidth=1)
        few = row.at_risk < MIN_AT_RISK
        ax.plot([row.day], [row.survival], marker="o", color=GREY if few else color, linestyle="none")
    note_cutoff(ax, [cutoff])
    ax.set_xlabel("days since signup")
    ax.set_ylabel("share of users not yet churned")
    ax.set_ylim(0, 1.05)
    ax.set_title("User lifetime")
    if at_risk:
        add_at_risk_counts(result.kmf, ax=ax, fig=ax.figure, labels=["users"])
    return ax


def plot_cohort_heatmap(cohort: CohortTable, *, ax: Axes | None = None, annot: bool = True) -> Axes:
    """Heatmap of a cohort retention table, in percent; empty cells stay blank.

    Parameters
    ----------
    cohort : CohortTable
        Output of :func:`onboarding_analysis.analyses.retention.cohort_table`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure sized to the table (about half an inch per
        period and a third of an inch per cohort). For long histories, pass ``max_periods``
        to :func:`~onboarding_analysis.analyses.retention.cohort_table` to keep the table readable.
    annot : bool, default True
        Print the percentage in each non-empty cell.

    Returns
    -------
    matplotlib.axes.Axes
        The axes holding the heatmap. A table without any cell (no cohort, or no user old
        enough for period 0: a log shorter than a period) gives axes that say so, not an error.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from onboarding_analysis.analyses.retention import cohort_table
    >>> facts = pd.DataFrame({
    ...     "t0": pd.to_datetime(["2024-01-03", "2024-01-10"]),
    ...     "age_days": [15.0, 8.0],
    ...     "active_weeks_mask": [0b11, 0b01],
    ... })
    >>> ax = plot_cohort_heatmap(cohort_table(facts))
    >>> [text.get_text() for text in ax.texts]
    ['100', '100', '100']
    """
    rates = cohort.rates
    if rates.size == 0:  # shown as not estimable, with the reason (never an exception)
        ax = axes_or_new(ax)
        ax.text(
            0.5,
            0.5,
            f"No {cohort.period}ly cohort to show yet: no user is old enough for {cohort.period} 0.",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        ax.set_title("Retention by signup cohort")
        return ax
    percent = rates * 100
    percent.index = [pd.Timestamp(day).strftime(_COHORT_FORMAT[cohort.period]) for day in rates.index]
    if ax is None:
        n_rows, n_cols = rates.shape
        _, ax = plt.subplots(figsize=(max(6.4, 0.5 * n_cols + 3), max(3.0, 0.33 * n_rows + 1.5)))
    sns.heatmap(
        percent,
        ax=ax,
        mask=percent.isna(),
        annot=annot,
        fmt=".0f",
        annot_kws={"fontsize": 8},
        vmin=0,
        vmax=100,
        cmap="viridis",
        linewidths=0.5,
        cbar_kws={"label": "% of eligible users active"},
    )
    ax.grid(False)  # the theme's grid would cross the cells
    ax.set_xlabel(_PERIOD_LABEL[cohort.period])
    ax.set_ylabel(_COHORT_LABEL[cohort.period])
    ax.set_title("Retention by signup cohort")
    return ax


def plot_retention_curve(curve: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """N-day retention by day since signup, with its confidence band.

    Days with fewer than :data:`~onboarding_analysis.display.style.MIN_AT_RISK` eligible users are
    drawn as grey dots, without a band.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`onboarding_analysis.analyses.retention.retention_curve` (or
        :func:`~onboarding_analysis.analyses.retention.nday_retention`).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes holding the retention curve.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from onboarding_analysis.analyses.retention import retention_curve
    >>> facts = pd.DataFrame({"age_days": [5.0, 3.0], "active_days_mask": [0b10011, 0b101]})
    >>> ax = plot_retention_curve(retention_curve(facts, max_day=4))
    >>> ax.get_xlabel()
    'days since signup'
    """
    missing = [col for col in RETENTION_COLUMNS if col not in curve.columns]
    if missing:
        raise ValueError(f"expected a table from retention_curve, but columns {missing} are missing")
    ax = axes_or_new(ax)
    color = sns.color_palette(PALETTE)[0]
    few = curve["eligible"].to_numpy(dtype=float) < MIN_AT_RISK if "eligible" in curve.columns else None
    if few is not None and few.any():
        curve = curve.copy()
        grey = curve[few]
        ax.plot(
            grey["day"],
            grey["rate"] * 100,
            marker="o",
            linestyle="none",
            color=GREY,
            label=f"fewer than {MIN_AT_RISK} eligible users",
        )
        curve.loc[few, ["rate", "ci_low", "ci_high"]] = float("nan")
    day = curve["day"].to_numpy(dtype=float)
    ax.fill_between(
        day,
        curve["ci_low"].to_numpy(dtype=float) * 100,
        curve["ci_high"].to_numpy(dtype=float) * 100,
        alpha=0.25,
        color=color,
        linewidth=0,
        label="Wilson interval",
    )
    ax.plot(day, curve["rate"].to_numpy(dtype=float) * 100, marker="o", color=color, label="N-day retention")
    ax.set_xlabel("days since signup")
    ax.set_ylabel("% of eligible users active on day N")
    ax.set_ylim(0, 100)
    ax.set_title("Retention curve")
    ax.legend()
    return ax
