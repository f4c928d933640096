"""Helpers that keep notebooks thin and their outputs reproducible (see NOTEBOOKS.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def setup_notebook() -> None:
    """Display settings for report notebooks: fixed precision, quiet known warnings, plot size.

    Called once at the top of every notebook so the committed outputs (nbval) are stable.
    """
    import matplotlib as mpl

    _inline_plots()
    pd.set_option("display.precision", 3)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.width", 120)
    mpl.rcParams["figure.figsize"] = (8, 4.5)
    mpl.rcParams["figure.dpi"] = 96
    # lifelines' plotting calls tight_layout-incompatible axes on some matplotlib versions.
    warnings.filterwarnings("ignore", message=".*tight_layout.*", category=UserWarning)


def _inline_plots() -> None:
    """Use the inline backend inside a Jupyter kernel, even if ``MPLBACKEND`` says otherwise.

    An inherited ``MPLBACKEND=Agg`` (common in CI) would otherwise make ``plt.show()`` a no-op
    and the report would lose its figures.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return
    shell = get_ipython()
    if shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell":
        shell.run_line_magic("matplotlib", "inline")


def show(table: pd.DataFrame, *, digits: int = 3) -> None:
    """Print ``table`` as plain text with floats rounded to ``digits`` (stable for nbval)."""
    out = table.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
    print(out.to_string(index=False))


def show_value(label: str, value: float | int | None, *, digits: int = 3) -> None:
    """Print one headline number, rounded, or "not reached" for a missing estimate."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        print(f"{label}: not reached")
    elif isinstance(value, int | np.integer):
        print(f"{label}: {int(value)}")
    else:
        print(f"{label}: {float(value):.{digits}f}")


def configured(params, key: str, *, quiet: bool = False) -> bool:
    """Whether params ``key`` is set (non-empty); if not, print the one-line skip note.

    Report sections whose inputs are not configured are skipped with a note naming the param
    that enables them (DESIGN.md), never an error. ``quiet=True`` for the later cells of a
    section, so the note is printed once.
    """
    value = getattr(params, key)
    enabled = value is not None and value != () and value != {} and value != []
    if not enabled and not quiet:
        print(f"Section skipped: set params '{key}' to enable it (see README.md, Params).")
    return enabled


def show_segments(comparisons) -> None:
    """Show segment comparisons in a notebook: per column, the summary table, the tests, and the
    three plots (KM curves per group, hazard-ratio forest plot, retention by group).

    ``comparisons`` maps a column to the :class:`~onboarding_analysis.segments.SegmentComparison`
    of :func:`~onboarding_analysis.segments.compare_all` (or one ``compare_segments`` result).
    """
    import matplotlib.pyplot as plt

    from . import segments

    for column, comparison in comparisons.items():
        pooled = f"; pooled into '{comparison.other_label}': {', '.join(comparison.pooled)}" if comparison.pooled else ""
        adjusted = (
            ""
            if comparison.logrank_p_adjusted is None
            else f", adjusted across columns {comparison.logrank_p_adjusted:.3g}"
        )
        print(
            f"== {column} (reference: {comparison.reference}{pooled})\n"
            f"global log-rank p = {comparison.logrank_p:.3g}{adjusted} ({comparison.p_adjust})"
        )
        show(segments.segment_summary(comparison))
        show(comparison.tests)
        for note in comparison.notes:
            print(f"note: {note}")
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
        segments.plot_segment_survival(comparison, ax=axes[0])
        segments.plot_hazard_ratios(comparison, ax=axes[1])
        segments.plot_segment_retention(comparison, ax=axes[2])
        fig.suptitle(column)
        fig.tight_layout()
        plt.show()


def share_moment_identifiers(result, output_dir) -> None:
    """With ``show_identifiers: true``: print the accounts/users of each moment of truth and
    write ``moments.csv`` next to the report for the customer-success team. Otherwise print one
    line saying the identifiers are withheld (shared reports show counts only)."""
    from . import moments

    if not result.identifiers_shown:
        print("Identifiers withheld (show_identifiers: false): shared reports show counts only.")
        return
    show(moments.moment_identifiers(result))
    if output_dir is not None:
        path = moments.write_moments_csv(result, output_dir)
        print(f"Written for the customer-success team: {path.name}")
