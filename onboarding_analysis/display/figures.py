"""Figure helpers shared by every plotting function of the analyses and the report."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes


def axes_or_new(ax: Axes | None) -> Axes:
    """The axes to draw on: ``ax``, or those of a new figure when ``ax`` is None.

    Parameters
    ----------
    ax : matplotlib.axes.Axes or None
        The caller's axes.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax`` itself, or the axes of a new ``plt.subplots()`` figure.
    """
    if ax is None:
        _, ax = plt.subplots()
    return ax


__all__ = ["axes_or_new"]
