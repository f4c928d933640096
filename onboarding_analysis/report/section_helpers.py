"""The notebooks' helpers for two report sections: segment comparisons and moments of truth.

:func:`show_segments` shows, per segment column, the tables, tests and plots of a comparison;
:func:`share_moment_identifiers` prints or withholds the accounts behind each moment of truth.
Both display through :mod:`onboarding_analysis.report.notebook`.
"""

from __future__ import annotations

import numpy as np

from .notebook import show, show_note


def show_segments(comparisons) -> None:
    """Show segment comparisons in a notebook.

    Per column, the summary table, the tests, and the three plots (KM curves per group, hazard-ratio forest
    plot, retention by group).

    ``comparisons`` maps a column to the :class:`~onboarding_analysis.analyses.segments.SegmentComparison`
    of :func:`~onboarding_analysis.analyses.segments.compare_all` (or one ``compare_segments`` result).

    Parameters
    ----------
    comparisons : Mapping
        Column -> its segment comparison.
    """
    import matplotlib.pyplot as plt

    from ..analyses import segments

    for column, comparison in comparisons.items():
        _show_comparison_heading(column, comparison)
        show(segments.segment_summary(comparison))
        show(
            comparison.tests,
            details=f"Tests for {column}: log-rank, Cox, proportional hazards, RMST, chi-square",
        )
        for note in comparison.notes:
            show_note(note)
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
        segments.plot_segment_survival(comparison, ax=axes[0])
        segments.plot_hazard_ratios(comparison, ax=axes[1])
        segments.plot_segment_retention(comparison, ax=axes[2])
        fig.suptitle(column)
        fig.tight_layout()
        plt.show()


def _show_comparison_heading(column: str, comparison) -> None:
    """The line above a segment comparison: the column, its reference and the global test."""
    import html

    from IPython.display import display

    from ..display.tables import format_value

    pooled = (
        f"; pooled into '{comparison.other_label}': {', '.join(comparison.pooled)}"
        if comparison.pooled
        else ""
    )
    adjusted = (
        ""
        if comparison.logrank_p_adjusted is None
        else f", adjusted across columns {comparison.logrank_p_adjusted:.3g}"
    )
    computable = comparison.logrank_p is not None and np.isfinite(comparison.logrank_p)
    logrank = (
        f"{comparison.logrank_p:.3g}{adjusted} ({comparison.p_adjust})"
        if computable
        else "not computable (see the notes below)"
    )
    text = f"== {column} (reference: {comparison.reference}{pooled})\nglobal log-rank p = {logrank}"
    method = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}.get(comparison.p_adjust, comparison.p_adjust)

    def p_is(value: float) -> str:  # "p < 0.001" or "p = 0.012"
        text = format_value(value, "p") or "not estimable"
        return f"p {text}" if text.startswith("<") else f"p = {text}"

    p_text = p_is(comparison.logrank_p) if computable else "not computable (see the notes below)"
    if computable and comparison.logrank_p_adjusted is not None:
        p_text += f", adjusted across columns {p_is(comparison.logrank_p_adjusted)}"
    esc = html.escape
    markup = (
        f'<h3 class="oa-segment">{esc(str(column))}</h3>'
        f"<p>Reference group: <strong>{esc(str(comparison.reference))}</strong>{esc(pooled)}. "
        f"Global log-rank test (all groups have the same lifetime curve): {esc(p_text)} ({esc(method)}).</p>"
    )
    display({"text/plain": text, "text/html": markup}, raw=True)


def share_moment_identifiers(result, output_dir) -> None:
    """With ``show_identifiers.

    True``: print the accounts/users of each moment of truth and write ``moments.csv`` next to the report for
    the customer-success team. Otherwise print one line saying the identifiers are withheld (shared reports
    show counts only).

    Parameters
    ----------
    result : MomentsResult
        Output of :func:`onboarding_analysis.analyses.moments.moments_of_truth`.
    output_dir : path or None
        The run folder (``None``: nothing is written).
    """
    from ..analyses import moments

    if not result.identifiers_shown:
        print("Identifiers withheld (show_identifiers: false): shared reports show counts only.")
        return
    show(moments.moment_identifiers(result))
    if output_dir is not None:
        path = moments.write_moments_csv(result, output_dir)
        print(f"Written for the customer-success team: {path.name}")


__all__ = ["share_moment_identifiers", "show_segments"]
