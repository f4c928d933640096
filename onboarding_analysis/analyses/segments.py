"""Segment comparisons: who stays, who leaves, and does it differ by group (``docs/metrics.md``).

:func:`compare_segments` compares the groups of one user-facts column (persona, plan, channel,
client, ...); :func:`compare_all` does it for every params ``segments`` column. Per group:
users, N-day retention (Wilson CIs), the never-active share, median lifetime and RMST
(Kaplan-Meier), the RMST difference to the reference group, TTFV incidence by day 7
(Aalen-Johansen), onboarding completion (the funnel's last step). Tests: a global log-rank test,
pairwise log-rank tests and Cox hazard ratios against the reference group with a
proportional-hazards check, chi-square tests of N-day retention across groups, RMST differences.
Every family of p-values is adjusted (params ``p_adjust``: Holm by default, Benjamini-Hochberg
``fdr_bh``); raw and adjusted values are both reported.

This module runs the comparison; its steps live next to it: the groups
(:mod:`~onboarding_analysis.analyses.segment_groups`: pooling into ``"other"``, the reference
group), the survival figures (:mod:`~onboarding_analysis.analyses.segment_survival`), the Cox
model (:mod:`~onboarding_analysis.analyses.segment_cox`), the per-group table and the tests
(:mod:`~onboarding_analysis.analyses.segment_rows`), the result
(:mod:`~onboarding_analysis.analyses.segment_result`), its tables and plots
(:mod:`~onboarding_analysis.analyses.segment_tables`,
:mod:`~onboarding_analysis.analyses.segment_plots`), all re-exported here.

**Which users enter which figure.**

* *Survival (Kaplan-Meier, log-rank, median, RMST)*: users with ``churned`` or
  ``lifetime_days > 0``. A user censored at 0 (under the inactivity rule: younger than
  ``inactivity_days``) was never observed for any time; kept, they would sit in the risk set
  at time 0 and count as surviving the churns at 0. They are left out, exactly as
  :func:`onboarding_analysis.analyses.lifetime.fit_lifetime` does, and counted per group
  (``users - lifetime_users``).
* *Never-active share* (the atom at 0): among those users, the share churned at duration 0
  (never active after signup), with a Wilson interval. It is ``1 - S(0+)`` of the curve.
* *Cox hazard ratios*: users with ``lifetime_days > 0``, i.e. users active at least once
  after signup. This is a deliberate choice of estimand. A lifetime distribution with a point
  mass at 0 whose size differs by group (the demo's personas: 15%, 10% and 20% never come back)
  is not a proportional-hazards model: the "hazard" at 0 is a probability, not a rate, and a
  Cox model over all users mixes the two into one number that estimates neither. Splitting
  the two (a two-part model) gives two interpretable numbers: the never-active share per
  group, and the hazard ratio of churn among users who did come back. On the demo data the
  second is exactly the generator's ratio (:func:`onboarding_analysis.demo.truth.true_hazard_ratios`),
  which tests/test_segments.py recovers. ``adjust_for`` adds other columns to the model (the
  ratio is then conditional on them; numeric columns enter linearly, others as dummies).
* *Retention, TTFV, completion*: their own eligibility rules (``docs/metrics.md``): age for
  N-day retention, censoring at the age for TTFV, the conversion window for the funnel.

**Scale.** Every figure is computed exactly, vectorised: the Cox model and its
proportional-hazards check are a Newton-Raphson on arrays
(:func:`onboarding_analysis.stats.cox_fit.efron_cox`,
:func:`~onboarding_analysis.stats.compression.efron_ph_test`), the log-rank tests come from one
risk table per comparison (lifelines' ``multivariate_logrank_test`` statistic, to ~1e-12), and
the groups are integer codes. With ``compress=True`` (default) the fits run on unique rows with
frequency weights (:mod:`onboarding_analysis.stats.compression`); this is lossless
(tests/test_segments.py checks to 1e-9) and skipped where durations hardly repeat (it would only
cost time). Params ``compression_grid_hours`` rounds durations down to a grid first, an
approximation, so it stays opt-in. Timings: ``docs/performance.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError, ParamsError
from ..params import P_ADJUST, Params
from ..stats.compression import check_grid_hours
from ..stats.cox_fit import CoxFit
from ..stats.hypothesis import GROUP, adjust_pvalues
from ..stats.intervals import check_alpha
from .hazard_forest import forest
from .segment_cox import HR_COLUMNS, NOT_ESTIMABLE, cox_hazard_ratios
from .segment_groups import MISSING, OTHER, pool_small_groups, resolve_groups
from .segment_plots import plot_hazard_ratios, plot_segment_retention, plot_segment_survival
from .segment_result import FAMILIES, TEST_COLUMNS, SegmentComparison
from .segment_rows import group_table, tests_table
from .segment_survival import PreparedTable, SurvivalFigures, cif_se_before, survival_figures
from .segment_tables import segment_summary, segments_metrics

__all__ = [
    "FAMILIES",
    "HR_COLUMNS",
    "MISSING",
    "NOT_ESTIMABLE",
    "OTHER",
    "TEST_COLUMNS",
    "PreparedTable",
    "SegmentComparison",
    "cif_se_before",
    "compare_all",
    "compare_segments",
    "compare_table",
    "completion_flags",
    "cox_hazard_ratios",
    "forest",
    "plot_hazard_ratios",
    "plot_segment_retention",
    "plot_segment_survival",
    "pool_small_groups",
    "segment_summary",
    "segments_metrics",
]


@dataclass(frozen=True)
class _Options:
    """The options of one comparison, params defaults filled in and checked."""

    p_adjust: str
    min_size: int
    grid: float | None
    days: list[int]
    horizon_days: float
    alpha: float


def _options(
    table: pd.DataFrame,
    column: str,
    params: Params,
    p_adjust: str | None,
    min_size: int | None,
    alpha: float,
    adjust_for: Sequence[str],
    grid_hours: float | None | str,
    retention_days: Sequence[int] | None,
    horizon_days: float | None,
) -> _Options:
    """Fill the options left at None (``"params"`` for ``grid_hours``) from params and check the table."""
    p_adjust = params.p_adjust if p_adjust is None else p_adjust
    min_size = params.min_segment_size if min_size is None else min_size
    grid_hours = params.compression_grid_hours if grid_hours == "params" else grid_hours
    retention_days = params.retention_days if retention_days is None else retention_days
    horizon_days = float(params.rmst_horizon_days if horizon_days is None else horizon_days)
    alpha = check_alpha(alpha)
    grid = check_grid_hours(grid_hours)
    if p_adjust not in P_ADJUST:
        raise ParamsError(f"p_adjust must be one of {', '.join(P_ADJUST)}, but was {p_adjust!r}")
    if column in adjust_for:
        raise ValueError(f"adjust_for must not contain the compared column {column!r}")
    needed = [column, C.LIFETIME, C.CHURNED, C.AGE, *adjust_for]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise DataError(
            f"segment comparison needs the user-facts column(s) {missing}; segment columns come from "
            f"the users table or params segments (columns present: {list(table.columns)})"
        )
    if len(table) == 0:
        raise DataError("the facts table has no users: there are no segments to compare")
    return _Options(p_adjust, min_size, grid, list(retention_days), horizon_days, alpha)


def _cox_step(
    table: pd.DataFrame,
    survival: SurvivalFigures,
    reference: str,
    adjust_for: Sequence[str],
    opts: _Options,
) -> tuple[pd.DataFrame, CoxFit | None, tuple[str, ...]]:
    """Cox hazard ratios among users active after signup (the two-part model of the module docstring)."""
    by_time = survival.by_time
    active_by_time = survival.active[by_time]
    covariates = table[list(adjust_for)].iloc[by_time]
    cox_frame = pd.concat([survival.frame[active_by_time], covariates[active_by_time]], axis=1)
    return cox_hazard_ratios(
        cox_frame,
        GROUP,
        reference,
        adjust_for=adjust_for,
        alpha=opts.alpha,
        compress_rows=survival.compress_rows,
        grid_hours=opts.grid,
    )


def compare_table(
    table: pd.DataFrame,
    column: str,
    *,
    params: Params,
    completion: pd.Series | None = None,
    reference: str | None = None,
    p_adjust: str | None = None,
    min_size: int | None = None,
    alpha: float = 0.05,
    compress_rows: bool = True,
    adjust_for: Sequence[str] = (),
    grid_hours: float | None | str = "params",
    retention_days: Sequence[int] | None = None,
    ttfv_day: int = 7,
    horizon_days: float | None = None,
    label: str | None = None,
    prepared: PreparedTable | None = None,
) -> SegmentComparison:
    """:func:`compare_segments` on a bare user-facts DataFrame (no events table needed).

    Used by :func:`compare_segments`, the before/after comparison and the benchmark. Options
    left at None (or ``"params"`` for ``grid_hours``) take their params value.

    Parameters
    ----------
    table : pandas.DataFrame
        The user-facts table (``lifetime_days``, ``churned``, ``age_days``, the compared and
        ``adjust_for`` columns, and the retention columns).
    column : str
        The compared column.
    params : Params
        The run's params (defaults of the options, ``reference_groups``).
    completion : pandas.Series, optional
        Per user, reached the funnel's last step (NA if not eligible), from
        :func:`completion_flags`: the only input that needs the events; None: no completion.
    reference : str, optional
        Reference group; default params ``reference_groups[column]``, else the largest group.
    p_adjust : {"holm", "fdr_bh"}, optional
        Default params ``p_adjust``.
    min_size : int, optional
        Default params ``min_segment_size``.
    alpha : float, default 0.05
        ``1 - alpha`` intervals; level of the proportional-hazards warnings.
    compress_rows : bool, default True
        Fit on unique rows with frequency weights (skipped where durations hardly repeat).
    adjust_for : sequence of str
        Columns the Cox model adjusts for.
    grid_hours : float or None, optional
        Duration grid of the fits; default params ``compression_grid_hours``.
    retention_days : sequence of int, optional
        Default params ``retention_days``.
    ttfv_day : int, default 7
        Day of the TTFV incidence.
    horizon_days : float, optional
        RMST horizon; default params ``rmst_horizon_days``.
    label : str, optional
        Name of the comparison; default ``column``.
    prepared : PreparedTable, optional
        The per-user terms shared by comparisons of the same table (computed here when None or
        made for another table or grid; :func:`compare_all` passes one for all its columns).

    Returns
    -------
    SegmentComparison
        The groups table, the tests, the fits and the notes of the comparison.

    Raises
    ------
    ParamsError
        An unknown ``p_adjust``, or a reference group that is not a group of the column.
    DataError
        A needed column is missing, or the table has no users.
    """
    opts = _options(
        table, column, params, p_adjust, min_size, alpha, adjust_for, grid_hours, retention_days, horizon_days
    )
    label = label or column
    groups = resolve_groups(table[column], column, opts.min_size, reference, params.reference_groups)
    notes = list(groups.notes)
    if prepared is None or prepared.table is not table or prepared.grid != opts.grid:
        prepared = PreparedTable(table, opts.grid)
    survival = survival_figures(
        prepared,
        groups,
        compress_rows=compress_rows,
        days=opts.days,
        horizon_days=opts.horizon_days,
        alpha=opts.alpha,
        label=label,
    )
    notes.extend(survival.notes)
    hr, cph, cox_notes = _cox_step(table, survival, groups.reference, adjust_for, opts)
    notes.extend(cox_notes)
    rows = group_table(
        table,
        groups,
        survival,
        hr,
        completion=completion,
        days=opts.days,
        ttfv_day=ttfv_day,
        alpha=opts.alpha,
        p_adjust=opts.p_adjust,
    )
    tests = tests_table(rows, survival.overall, opts.days, opts.p_adjust, groups.reference)
    if rows.shape[0] < 2:
        notes.append(f"{label}: only one group, nothing to compare")
    return SegmentComparison(
        column=label,
        reference=groups.reference,
        groups=rows,
        tests=tests,
        pooled=groups.pooled,
        other_label=groups.other,
        logrank_statistic=survival.overall["statistic"],
        logrank_df=survival.overall["df"],
        logrank_p=survival.overall["p"],
        p_adjust=opts.p_adjust,
        alpha=opts.alpha,
        lifetimes=survival.fits,
        incidence=survival.incidence,
        cox=cph,
        adjust_for=tuple(adjust_for),
        retention_days=tuple(opts.days),
        ttfv_day=ttfv_day,
        horizon_days=opts.horizon_days,
        notes=tuple(notes),
        grid_hours=opts.grid,
    )


def completion_flags(facts: Facts) -> pd.Series | None:
    """Per user of ``facts.table``: reached the funnel's last step (NA if not eligible).

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`.

    Returns
    -------
    pandas.Series or None
        Boolean (nullable) on the index of ``facts.table``; None when params
        ``onboarding_steps`` is not set or ``facts`` has no events table.
    """
    if not facts.params.onboarding_steps or facts.events is None:
        return None
    from .funnel_steps import step_column
    from .funnel_times import step_times

    # The conversion rule of funnel.funnel (params steps, mode and window), without its
    # incidence curves; step_times gives the users of facts.table in its order.
    params = facts.params
    times = step_times(facts)
    flags = pd.Series(
        times[step_column(len(params.onboarding_steps) - 1)].notna().to_numpy(), dtype="boolean"
    )
    flags[facts.table[C.AGE].to_numpy(dtype=float) < float(params.conversion_window_days)] = pd.NA
    return pd.Series(flags.to_numpy(), index=facts.table.index, dtype="boolean")


def compare_segments(
    facts: Facts,
    column: str,
    *,
    reference: str | None = None,
    p_adjust: str | None = None,
    min_size: int | None = None,
    alpha: float = 0.05,
    compress: bool = True,
    adjust_for: Sequence[str] = (),
    grid_hours: float | None | str = "params",
    completion: pd.Series | None | str = "compute",
    prepared: PreparedTable | None = None,
) -> SegmentComparison:
    """Compare the groups of one user-facts column (see the module docstring for the rules).

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`.
    column : str
        A column of ``facts.table`` (a segment, or any per-user attribute).
    reference : str, optional
        Reference group; default params ``reference_groups[column]``, else the largest group.
    p_adjust : {"holm", "fdr_bh"}, optional
        Multiple-testing adjustment of every family; default params ``p_adjust``.
    min_size : int, optional
        Smaller groups are pooled into ``"other"``; default params ``min_segment_size``.
    alpha : float, default 0.05
        ``1 - alpha`` intervals; level of the proportional-hazards warnings.
    compress : bool, default True
        Fit on unique rows with frequency weights (:mod:`onboarding_analysis.stats.compression`):
        the same figures, faster (skipped where durations hardly repeat).
    adjust_for : sequence of str
        Columns the Cox model adjusts for (e.g. ``["plan"]`` when comparing personas).
    grid_hours : float or None, optional
        Duration grid of the fits; default params ``compression_grid_hours``.
    completion : pandas.Series or None, optional
        Per user, reached the funnel's last step (NA if not eligible), from
        :func:`completion_flags`; computed by default (pass it to share one funnel between
        columns, or None to skip).
    prepared : PreparedTable, optional
        Per-user terms shared by the comparisons of one table (durations on the grid, their
        sort orders); :func:`compare_all` passes one for all its columns.

    Returns
    -------
    SegmentComparison
        The groups table, the tests, the fits and the notes of the comparison.

    Raises
    ------
    TypeError
        ``facts`` is not a :class:`~onboarding_analysis.data.facts.Facts`.
    DataError
        ``column`` is not in the user-facts table (or another needed column is missing).
    ParamsError
        An unknown ``p_adjust``, or a reference group that is not a group of the column.

    Examples
    --------
    >>> import onboarding_analysis as oa                                   # doctest: +SKIP
    >>> facts = oa.compute_facts(oa.load_params("params/demo.yaml"))       # doctest: +SKIP
    >>> result = compare_segments(facts, "persona", adjust_for=["plan"])    # doctest: +SKIP
    >>> result.groups[["group", "users", "hazard_ratio", "hr_ci_low", "hr_ci_high"]]  # doctest: +SKIP
    """
    if not isinstance(facts, Facts):
        raise TypeError(
            f"facts must be a Facts object (onboarding_analysis.compute_facts), but was {type(facts)!r}"
        )
    params = facts.params
    if column not in facts.table.columns:
        raise DataError(
            f"column {column!r} is not in the user-facts table; add it to the users table and to params "
            f"segments (columns present: {list(facts.table.columns)})"
        )
    if isinstance(completion, str):
        completion = completion_flags(facts)
    return compare_table(
        facts.table,
        column,
        params=params,
        completion=completion,
        reference=reference,
        p_adjust=p_adjust,
        min_size=min_size,
        alpha=alpha,
        compress_rows=compress,
        adjust_for=tuple(adjust_for),
        grid_hours=grid_hours,
        prepared=prepared,
    )


def compare_all(
    facts: Facts, columns: Sequence[str] | None = None, **options: Any
) -> dict[str, SegmentComparison]:
    """:func:`compare_segments` for every column (default params ``segments``).

    The global log-rank p-values form one more family, adjusted across the columns
    (``logrank_p_adjusted``). The funnel is computed once and shared.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`.
    columns : sequence of str, optional
        The columns to compare; default params ``segments``.
    **options
        Passed to :func:`compare_segments` (``adjust_for`` entries equal to the compared column
        are dropped for that column).

    Returns
    -------
    dict of str to SegmentComparison
        One comparison per column, in the order of ``columns``.

    Raises
    ------
    ParamsError
        No column to compare.

    Examples
    --------
    >>> comparisons = compare_all(facts)                                  # doctest: +SKIP
    >>> segments_metrics(comparisons)["segments"]["persona"]["logrank_p"]  # doctest: +SKIP
    """
    columns = list(facts.params.segments if columns is None else columns)
    if not columns:
        raise ParamsError("no segment columns: set params segments (e.g. [persona, plan]) to compare groups")
    if "completion" not in options:
        options["completion"] = completion_flags(facts)
    adjust_for = tuple(options.pop("adjust_for", ()))
    grid_hours = options.get("grid_hours", "params")
    grid = check_grid_hours(facts.params.compression_grid_hours if grid_hours == "params" else grid_hours)
    options["prepared"] = PreparedTable(facts.table, grid)  # shared by the columns
    out = {
        col: compare_segments(facts, col, adjust_for=tuple(a for a in adjust_for if a != col), **options)
        for col in columns
    }
    method = options.get("p_adjust") or facts.params.p_adjust
    adjusted = adjust_pvalues([c.logrank_p for c in out.values()], method)
    return {
        col: replace(c, logrank_p_adjusted=None if math.isnan(a) else float(a))
        for (col, c), a in zip(out.items(), adjusted, strict=True)
    }
