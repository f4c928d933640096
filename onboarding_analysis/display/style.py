"""The house style of the report's figures.

One seaborn theme, one colour per group, and curves stopped where too few users are left to estimate them.

:func:`apply_theme` is called once, by :func:`onboarding_analysis.report.notebook.setup_notebook`:
nothing else in the package changes matplotlib's global state. Plot functions take colours from
:func:`group_colors` (the same group gets the same colour in every plot of a comparison) and
draw Kaplan-Meier curves with :func:`plot_km`, which stops the estimate where fewer than
:data:`MIN_AT_RISK` users are still at risk and draws the rest thin and grey.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["GREY", "MIN_AT_RISK", "PALETTE", "apply_theme", "at_risk_cutoff", "group_colors", "plot_km"]

#: Fewer users at risk than this, and a curve is no longer drawn as an estimate.
MIN_AT_RISK = 20

#: The seaborn palette of every figure (colour-blind safe).
PALETTE = "colorblind"

#: Colour of the parts of a curve resting on too few users.
GREY = "0.65"


def apply_theme() -> None:
    """Set the report's seaborn theme (white grid, colour-blind palette, readable fonts).

    Called once per kernel by ``setup_notebook``; it changes matplotlib's global rcParams.
    """
    import seaborn as sns

    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette=PALETTE,
        rc={
            "figure.figsize": (8, 4.5),
            "axes.titlesize": 13,
            "axes.titleweight": "bold",
            "axes.labelsize": 11,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
        },
    )


def group_colors(names: Iterable[str]) -> dict[str, tuple[float, float, float]]:
    """One palette colour per group, in the given order (reference group first, as listed).

    Parameters
    ----------
    names : iterable of str
        Group names, in their report order.

    Returns
    -------
    dict
        Name -> RGB colour; the same names in the same order always get the same colours.

    Examples
    --------
    >>> colors = group_colors(["free", "pro"])
    >>> list(colors), colors["free"] != colors["pro"]
    (['free', 'pro'], True)
    """
    import seaborn as sns

    names = list(dict.fromkeys(str(n) for n in names))
    palette = sns.color_palette(PALETTE, n_colors=max(len(names), 1))
    return {name: tuple(palette[i % len(palette)]) for i, name in enumerate(names)}


def at_risk_cutoff(kmf, threshold: int = MIN_AT_RISK) -> float | None:
    """The first time at which fewer than ``threshold`` users are at risk (None: never).

    Parameters
    ----------
    kmf : lifelines.KaplanMeierFitter
        A fitted estimator.
    threshold : int
        Minimum users at risk.

    Returns
    -------
    float or None
        The time, or None when the risk set never falls below ``threshold``.

    Examples
    --------
    >>> from lifelines import KaplanMeierFitter
    >>> kmf = KaplanMeierFitter().fit([1, 2, 3, 4, 5], [1, 1, 1, 1, 1])
    >>> at_risk_cutoff(kmf, threshold=3)   # at risk: 5 at t=1, 4 at 2, 3 at 3, 2 at 4
    4.0
    """
    table = kmf.event_table
    low = table.index[table["at_risk"].to_numpy() < threshold]
    return float(low[0]) if len(low) else None


def plot_km(
    kmf,
    ax,
    *,
    label: str,
    color=None,
    ci: bool = True,
    threshold: int = MIN_AT_RISK,
) -> float | None:
    """Draw a Kaplan-Meier curve, stopped where fewer than ``threshold`` users are at risk.

    The estimate (with its band) is drawn up to :func:`at_risk_cutoff`; beyond it the curve
    continues thin, dashed and grey, without a band.

    Parameters
    ----------
    kmf : lifelines.KaplanMeierFitter
        A fitted estimator.
    ax : matplotlib.axes.Axes
        Where to draw.
    label : str
        Legend label of the curve.
    color : colour, optional
        Colour of the curve (default: the next colour of the axes).
    ci : bool, default True
        Draw the confidence band.
    threshold : int
        Minimum users at risk.

    Returns
    -------
    float or None
        The cut-off time, or None when the whole curve rests on enough users.
    """
    cutoff = at_risk_cutoff(kmf, threshold)
    if color is None:
        color = ax._get_lines.get_next_color()
    sf = kmf.survival_function_.iloc[:, 0]
    if cutoff is None:
        kmf.plot_survival_function(ax=ax, ci_show=ci, label=label, color=color)
        return None
    shown = sf.index <= cutoff
    if shown.sum() >= 1:
        kmf.plot_survival_function(ax=ax, ci_show=ci, label=label, color=color, loc=slice(0.0, cutoff))
    rest = sf[sf.index >= cutoff]
    if len(rest) > 1:
        ax.step(rest.index, rest.to_numpy(), where="post", color=GREY, linewidth=1, linestyle="--")
    return cutoff


def note_cutoff(ax, cutoffs: Sequence[float | None], threshold: int = MIN_AT_RISK) -> None:
    """Add the line "grey: fewer than N users at risk" to the legend of ``ax`` when a curve was cut.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    cutoffs : sequence of float or None
        The curves' cut-off times (:func:`at_risk_cutoff`).
    threshold : int
        Minimum users at risk, as in the legend.
    """
    if not any(c is not None for c in cutoffs):
        return
    ax.plot([], [], color=GREY, linestyle="--", linewidth=1, label=f"fewer than {threshold} users at risk")
    ax.legend(loc="best")


def grey_where_few(values: np.ndarray, counts: np.ndarray, threshold: int = MIN_AT_RISK) -> np.ndarray:
    """Mask (True) of the points resting on fewer than ``threshold`` users.

    Parameters
    ----------
    values : numpy.ndarray
        The points' values (their shape is that of ``counts``).
    counts : numpy.ndarray
        Users behind each point.
    threshold : int
        Minimum users.

    Returns
    -------
    numpy.ndarray of bool
        True where ``counts < threshold``.
    """
    return np.asarray(counts, dtype=float) < threshold
