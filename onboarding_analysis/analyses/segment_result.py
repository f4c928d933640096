"""The result of a segment comparison: :class:`SegmentComparison` and the names of its tests.

Made by :func:`onboarding_analysis.analyses.segments.compare_segments`; read by the tables
(:mod:`onboarding_analysis.analyses.segment_tables`), the plots
(:mod:`onboarding_analysis.analyses.segment_plots`) and the before/after comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from ..stats.cox_fit import CoxFit
from ..stats.hypothesis import GROUP
from .lifetime import LifetimeResult

__all__ = ["FAMILIES", "TEST_COLUMNS", "SegmentComparison"]

#: Columns of :attr:`SegmentComparison.tests`.
TEST_COLUMNS = ["family", "test", GROUP, "statistic", "df", "p_raw", "p_adjusted"]
#: Test families, in the order they are reported.
FAMILIES = (
    "global log-rank",
    "pairwise log-rank",
    "Cox hazard ratio",
    "proportional hazards",
    "RMST difference",
    "retention chi-square",
)


@dataclass(frozen=True, eq=False)
class SegmentComparison:
    """The groups of one column compared on retention, lifetime, TTFV and completion.

    Attributes
    ----------
    column : str
        The compared column of the user-facts table.
    reference : str
        The reference group of the pairwise tests, RMST differences and hazard ratios.
    groups : pandas.DataFrame
        One row per group (reference first, then by size; the pooled group last). Columns:
        ``group, users, is_reference, lifetime_users, cox_users``; per retention day N
        ``retention_day_<N>``, ``..._ci_low``, ``..._ci_high``, ``..._eligible``;
        ``never_active`` (+ CI); ``median_days`` (+ CI, NaN = not reached); ``rmst_days``,
        ``rmst_se`` (+ CI); ``rmst_diff`` (+ CI), ``rmst_diff_p_raw``, ``rmst_diff_p_adjusted``;
        ``ttfv_day_<D>`` (+ CI); ``completion`` (+ CI); ``hazard_ratio`` (+ ``hr_ci_low``,
        ``hr_ci_high``), ``hr_p_raw``, ``hr_p_adjusted``, ``ph_p_raw``, ``ph_p_adjusted``,
        ``hr_note`` (text: "not estimable: <reason>" where the ratio has no estimate, else
        empty), ``ph_warning`` (text, empty when the check passes); ``logrank_p_raw``,
        ``logrank_p_adjusted`` (pairwise against the reference). The reference row has
        hazard ratio 1 and no test.
    tests : pandas.DataFrame
        Every test (:data:`TEST_COLUMNS`): ``family`` (:data:`FAMILIES`), a description,
        the group (empty for global tests), statistic, degrees of freedom, raw and adjusted
        p-value. Adjustment is within each family.
    pooled : tuple of str
        The original values pooled into :attr:`other_label`.
    other_label : str or None
        Label of the pooled group (None if nothing was pooled).
    logrank_statistic, logrank_df, logrank_p : float
        The global multivariate log-rank test (NaN with fewer than two groups).
    logrank_p_adjusted : float or None
        Set by :func:`compare_all`: adjusted across the compared columns.
    p_adjust : str
        ``holm`` or ``fdr_bh``.
    alpha : float
        Level of the intervals (``1 - alpha``) and of the PH warnings.
    lifetimes : dict of str to LifetimeResult
        Kaplan-Meier fit per group (for plots).
    incidence : dict of str to pandas.DataFrame
        Aalen-Johansen table of reaching value per group.
    cox : onboarding_analysis.stats.compression.CoxFit or None
        The fitted Cox model (:func:`onboarding_analysis.stats.cox_fit.efron_cox`; ``params_``,
        ``standard_errors_``, ``variance_matrix_``, ``summary`` as in lifelines' ``CoxPHFitter``),
        None without two groups with churn.
    adjust_for : tuple of str
        Columns the Cox model is adjusted for.
    retention_days : tuple of int
        The N of the retention columns.
    ttfv_day : int
        Day of the TTFV incidence.
    horizon_days : float
        RMST horizon.
    notes : tuple of str
        What the reader must know (users left out, groups without estimate, ...).
    grid_hours : float or None
        The duration grid of the fits (None: exact durations).
    """

    column: str
    reference: str
    groups: pd.DataFrame
    tests: pd.DataFrame
    pooled: tuple[str, ...]
    other_label: str | None
    logrank_statistic: float
    logrank_df: float
    logrank_p: float
    p_adjust: str
    alpha: float
    lifetimes: Mapping[str, LifetimeResult]
    incidence: Mapping[str, pd.DataFrame]
    cox: CoxFit | None
    adjust_for: tuple[str, ...]
    retention_days: tuple[int, ...]
    ttfv_day: int
    horizon_days: float
    notes: tuple[str, ...] = ()
    logrank_p_adjusted: float | None = None
    grid_hours: float | None = None
