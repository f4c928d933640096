"""Segment comparisons: who stays, who leaves, and does it differ by group (METRICS.md).

:func:`compare_segments` compares the groups of one user-facts column (persona, plan, channel,
client, ...); :func:`compare_all` does it for every params ``segments`` column. Per group:
users, N-day retention (Wilson CIs), the never-active share, median lifetime and RMST
(Kaplan-Meier), the RMST difference to the reference group, TTFV incidence by day 7
(Aalen-Johansen), onboarding completion (the funnel's last step). Tests: a global log-rank test,
pairwise log-rank tests and Cox hazard ratios against the reference group with a
proportional-hazards check, chi-square tests of N-day retention across groups, RMST differences.
Every family of p-values is adjusted (params ``p_adjust``: Holm by default, Benjamini-Hochberg
``fdr_bh``); raw and adjusted values are both reported.

Groups
------
Missing values form the group ``"(missing)"``. Groups with fewer than ``min_segment_size`` users
are pooled into ``"other"`` (``"other (pooled)"`` if a real group is called ``other``) and
listed in :attr:`SegmentComparison.pooled`. The reference group is params
``reference_groups[column]`` or else the largest group.

Which users enter which figure
------------------------------
* **Survival (Kaplan-Meier, log-rank, median, RMST)**: users with ``churned`` or
  ``lifetime_days > 0``. A user censored at 0 (under the inactivity rule: younger than
  ``inactivity_days``) was never observed for any time; kept, they would sit in the risk set
  at time 0 and count as surviving the churns at 0. They are left out, exactly as
  :func:`onboarding_analysis.analyses.lifetime.fit_lifetime` does, and counted per group
  (``users - lifetime_users``).
* **Never-active share** (the atom at 0): among those users, the share churned at duration 0
  (never active after signup), with a Wilson interval. It is ``1 - S(0+)`` of the curve.
* **Cox hazard ratios**: users with ``lifetime_days > 0``, i.e. users active at least once
  after signup. This is a deliberate choice of estimand. A lifetime distribution with a point
  mass at 0 whose size differs by group (the demo's personas: 15%, 10% and 20% never come back)
  is not a proportional-hazards model: the "hazard" at 0 is a probability, not a rate, and a
  Cox model over all users mixes the two into one number that estimates neither. Splitting
  the two (a two-part model) gives two interpretable numbers: the never-active share per
  group, and the hazard ratio of churn among users who did come back. On the demo data the
  second is exactly the generator's ratio (:func:`onboarding_analysis.demo.generator.true_hazard_ratios`),
  which tests/test_segments.py recovers. ``adjust_for`` adds other columns to the model (the
  ratio is then conditional on them; numeric columns enter linearly, others as dummies).
* **Retention, TTFV, completion**: their own eligibility rules (METRICS.md): age for N-day
  retention, censoring at the age for TTFV, the conversion window for the funnel.

Scale
-----
Every figure is computed exactly on a million users in seconds: the Cox model and its
proportional-hazards check are a vectorised Newton-Raphson (:func:`onboarding_analysis.stats.compression.efron_cox`,
:func:`~onboarding_analysis.stats.compression.efron_ph_test`; lifelines' ``CoxPHFitter`` loops over rows
in Python), the log-rank tests are computed from one risk table per comparison (lifelines'
``multivariate_logrank_test`` statistic, to ~1e-12), and the groups are handled as integer codes.
With ``compress=True`` (default) the fits run on unique rows with frequency weights
(:mod:`onboarding_analysis.stats.compression`); this is lossless: Kaplan-Meier, log-rank,
Aalen-Johansen, Cox and the PH check equal the uncompressed figures (tests/test_segments.py
checks to 1e-9). Exact durations hardly repeat, so there compression is skipped (it would only
cost time); on params ``compression_grid_hours`` it shrinks a million users to tens of thousands
of rows. The grid itself is an approximation (durations rounded down, see
:mod:`onboarding_analysis.stats.compression`), so it stays opt-in. Measured on 2 (shared) cores,
benchmarks/stages.py ``stats`` (4 columns + a before/after split, 1M users, ``segments_5``):
1 h grid 14.9 s before the vectorised fits, 2.6 s after; exact durations (the default) 284 s
before, 12.9 s after, 7.6 s once each table is sorted by duration once (shared by
:func:`compare_all`'s columns), the Cox risk sums are matrix products and the Kaplan-Meier curves
are evaluated at the churn times only.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter
from scipy.stats import norm

from ..data import columns as C
from ..data.facts import Facts
from ..display.figures import axes_or_new
from ..errors import DataError, ParamsError, StatisticalWarning
from ..params import P_ADJUST, Params
from ..stats.compression import (
    WEIGHT,
    CoxFit,
    check_grid_hours,
    compress,
    covariate_columns,
    efron_cox_on,
    efron_ph_test,
    round_durations,
)
from ..stats.cox_checks import NotEstimable, hazard_ratio_interval
from ..stats.finite import finite_or_none
from ..stats.hypothesis import GROUP, adjust_pvalues, chi_square, group_codes, logrank_tests
from ..stats.intervals import check_alpha, wilson_interval
from .incidence import aalen_johansen
from .lifetime import LifetimeResult, fit_lifetime
from .retention import nday_retention
from .ttfv import DURATION, EVENT, VALUE_CAUSE, competing_risks_data

__all__ = [
    "MISSING",
    "OTHER",
    "SegmentComparison",
    "cif_se_before",
    "compare_table",
    "compare_all",
    "compare_segments",
    "completion_flags",
    "cox_hazard_ratios",
    "plot_hazard_ratios",
    "plot_segment_retention",
    "plot_segment_survival",
    "pool_small_groups",
    "segment_summary",
    "segments_metrics",
]

#: Label of the pooled small groups.
OTHER = "other"
#: Label of users with no value in the segment column.
MISSING = "(missing)"
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
_DURATION, _EVENT = C.LIFETIME, C.CHURNED
#: Candidate tick marks of the forest plots' ratio axis.
_RATIO_TICKS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)


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
        The fitted Cox model (:func:`onboarding_analysis.stats.compression.efron_cox`; ``params_``,
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


# --- small building blocks --------------------------------------------------------------------


def pool_small_groups(values: pd.Series, min_size: int) -> tuple[pd.Series, tuple[str, ...], str | None]:
    """Label each user's group, pooling groups smaller than ``min_size`` into ``"other"``.

    Parameters
    ----------
    values : pandas.Series
        The segment column (any dtype; missing values become ``"(missing)"``).
    min_size : int
        Groups with fewer users are pooled.

    Returns
    -------
    (labels, pooled, other_label)
        ``labels``: a string Series on the index of ``values``; ``pooled``: the pooled
        original values, sorted; ``other_label``: the pooled group's label, or None.

    Examples
    --------
    >>> import pandas as pd
    >>> labels, pooled, other = pool_small_groups(pd.Series(["a"] * 3 + ["b", "c"]), 2)
    >>> labels.tolist(), pooled, other
    (['a', 'a', 'a', 'other', 'other'], ('b', 'c'), 'other')
    """
    codes, names, pooled, other = _pool_codes(values, min_size)
    labels = pd.Series(np.asarray(names, dtype=object)[codes], index=values.index, dtype=object)
    return labels, pooled, other


def _pool_codes(
    values: pd.Series, min_size: int
) -> tuple[np.ndarray, list[str], tuple[str, ...], str | None]:
    """:func:`pool_small_groups` as integer codes: ``(codes, names, pooled, other_label)``.

    ``names`` are the group labels sorted (as Python sorts strings) and ``codes`` index them,
    one per user. The values are hashed once (``pandas.factorize``) and only the distinct ones
    are turned into strings, which on a million users is many times faster than labelling every
    user and counting the labels; the labels are the same.
    """
    if isinstance(min_size, bool) or not isinstance(min_size, int | np.integer) or min_size < 1:
        raise ValueError(f"min_size must be a whole number >= 1, but was {min_size!r}")
    raw, uniques = pd.factorize(values, use_na_sentinel=True)
    # The same text as values.astype("string"), value by value; missing values last.
    text = pd.Series(uniques).astype("string")
    strings = [MISSING if v is pd.NA else str(v) for v in text.tolist()] + [MISSING]
    distinct = sorted(set(strings))
    position = {name: i for i, name in enumerate(distinct)}
    to_distinct = np.array([position[v] for v in strings], dtype=np.int64)
    codes = to_distinct[np.where(raw < 0, len(strings) - 1, raw)]
    counts = np.bincount(codes, minlength=len(distinct))
    present = {name: int(counts[i]) for i, name in enumerate(distinct) if counts[i] > 0}
    small = sorted(name for name, n in present.items() if n < min_size)
    if not small:
        names = [name for name in distinct if name in present]
        remap = np.array([names.index(name) if name in present else -1 for name in distinct], dtype=np.int64)
        return remap[codes], names, (), None
    other = OTHER if OTHER not in present or OTHER in small else f"{OTHER} (pooled)"
    final = [other if name in small else name for name in distinct]
    names = sorted({final[i] for i, name in enumerate(distinct) if name in present})
    index = {name: i for i, name in enumerate(names)}
    remap = np.array([index.get(name, -1) for name in final], dtype=np.int64)
    return remap[codes], names, tuple(small), other


def _group_counts(codes: np.ndarray, names: Sequence[str]) -> pd.Series:
    return pd.Series(np.bincount(codes, minlength=len(names)), index=pd.Index(list(names), dtype=object))


def _ordered_groups(counts: pd.Series, reference: str, other: str | None) -> list[str]:
    rest = sorted((g for g in counts.index if g not in (reference, other)), key=lambda g: (-counts[g], g))
    return [reference, *rest, *([other] if other is not None and other != reference else [])]


def _choose_reference(
    counts: pd.Series, column: str, requested: str | None, pooled: tuple[str, ...], other: str | None
) -> str:
    if requested is None:
        candidates = counts[[g for g in counts.index if g != other]] if len(counts) > 1 else counts
        if candidates.empty:
            candidates = counts
        top = candidates.max()
        return sorted(str(g) for g in candidates.index[candidates == top])[0]
    requested = str(requested)
    if requested in pooled:
        raise ParamsError(
            f"reference group {requested!r} of {column!r} has fewer users than min_segment_size and "
            f"was pooled into {other!r}; choose one of {sorted(counts.index)} in params "
            f"reference_groups, or lower min_segment_size"
        )
    if requested not in counts.index:
        raise ParamsError(
            f"reference group {requested!r} is not a value of {column!r}; choose one of "
            f"{sorted(counts.index)} in params reference_groups"
        )
    return requested


def cox_hazard_ratios(
    frame: pd.DataFrame,
    group: str,
    reference: str,
    *,
    adjust_for: Sequence[str] = (),
    duration: str = _DURATION,
    event: str = _EVENT,
    alpha: float = 0.05,
    compress_rows: bool = True,
    grid_hours: float | None = None,
) -> tuple[pd.DataFrame, CoxFit | None, tuple[str, ...]]:
    """Cox hazard ratios of churn of each group against ``reference``, with a PH check.

    A Cox model (Efron ties, :func:`onboarding_analysis.stats.compression.efron_cox`: lifelines'
    ``CoxPHFitter`` estimate on the users, computed vectorised with exact frequency weights)
    with one 0/1 column per non-reference group plus the ``adjust_for`` covariates
    (:func:`onboarding_analysis.stats.compression.covariate_columns`). The proportional-hazards check
    is :func:`onboarding_analysis.stats.compression.efron_ph_test`, on every row.
    A group without churn, or in which the likelihood is monotone (separation:
    :mod:`onboarding_analysis.stats.cox_checks`), has no finite ratio: it is "not estimable" (NaN, and
    the reason in ``hr_note``), its users are left out and the model is fitted again for the
    other groups. When the model as a whole has no estimate (the reference without churn, an
    adjustment covariate that separates, no convergence), every ratio is not estimable. The
    reasons are also in the notes.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per user: ``duration``, ``event``, ``group`` and the ``adjust_for`` columns.
    group, reference : str
        The group column and its reference value.
    adjust_for : sequence of str
        Columns to adjust for.
    duration, event : str
        Column names.
    alpha : float, default 0.05
        For the ``1 - alpha`` intervals.
    compress_rows : bool, default True
        Fit on unique rows with frequency weights (the same fit, exactly: only faster).
    grid_hours : float, optional
        Round durations down to this grid first.

    Returns
    -------
    (pandas.DataFrame, CoxFit or None, tuple of str)
        Per non-reference group (index): ``log_hr, se, hazard_ratio, hr_ci_low, hr_ci_high,
        p, ph_p`` (``p`` the Wald test of the ratio, ``ph_p`` the proportional-hazards check)
        and ``hr_note`` ("not estimable: <reason>", empty when estimated); the model (None
        when it has no estimate); notes.

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> rossi = load_rossi().assign(aid=lambda d: d["fin"].map({0: "no", 1: "yes"}))
    >>> table, _, _ = cox_hazard_ratios(rossi, "aid", "no", duration="week", event="arrest",
    ...                                 adjust_for=["age", "race", "wexp", "mar", "paro", "prio"])
    >>> round(float(table.loc["yes", "hazard_ratio"]), 4)
    0.6843
    """
    check_alpha(alpha)
    if group in adjust_for:
        raise ValueError(f"adjust_for must not contain the compared column {group!r}")
    codes, values = group_codes(frame[group])
    events = frame[event].to_numpy(dtype=bool)
    # The reference, then the other groups present in label order (whatever the row order).
    present = {values[i] for i in pd.unique(codes)} - {reference}
    names = [reference, *sorted(present)]
    others = [g for g in names if g != reference]
    table = pd.DataFrame(index=pd.Index(others, name=GROUP), columns=HR_COLUMNS, dtype=float)
    table["hr_note"] = ""
    notes: list[str] = []
    churn = np.bincount(codes[events], minlength=len(values))
    with_events = {values[i] for i in np.flatnonzero(churn)}
    if reference not in with_events:
        if others:
            table["hr_note"] = f"{NOT_ESTIMABLE}the reference group has no churn"
            notes.append(
                f"hazard ratios not estimable: the reference group {reference!r} has no churn among the "
                f"modelled users (users active after signup)"
            )
        return table, None, tuple(notes)
    # Groups without churn, then groups in which the likelihood is monotone (separation, found by
    # efron_cox), are not estimable; the other groups' ratios come from the model without their
    # users (for a group without churn that is the limit of the full model's estimate).
    excluded = {g: "no churn among its users active after signup" for g in others if g not in with_events}
    code_of = {name: i for i, name in enumerate(values)}
    z = norm.ppf(1 - alpha / 2)
    cph = None
    whole = ""
    while True:
        fitted = [g for g in others if g not in excluded]
        if not fitted:
            break
        try:
            cph, dummies = _fit_groups(
                frame,
                codes,
                code_of,
                group,
                reference,
                fitted,
                adjust_for,
                duration,
                event,
                compress_rows=compress_rows,
                grid_hours=grid_hours,
                alpha=alpha,
            )
        except NotEstimable as err:
            group_of = {f"{group}={g}": g for g in fitted}  # the dummies' names, as _fit_groups makes them
            blamed = {group_of[c]: why for c, why in err.covariates.items() if c in group_of}
            if blamed and len(blamed) == len(err.covariates):
                excluded.update(blamed)
                continue
            whole = err.reason
            break
        hr = [_hr_row(cph, name, z) for name in dummies]
        out_of_range = [g for g, row in zip(fitted, hr, strict=True) if row is None]
        if out_of_range:  # the interval is beyond floating point: as good as running off
            excluded.update(dict.fromkeys(out_of_range, "the hazard ratio or its interval is out of range"))
            continue
        ph = efron_ph_test(cph)
        cph.release()  # the comparison keeps the model, not a sorted copy of every user's row
        for g, name, row in zip(fitted, dummies, hr, strict=True):
            table.loc[g, HR_COLUMNS] = [*row, float(cph.summary.loc[name, "p"]), float(ph.loc[name, "p"])]
        break
    for g, why in excluded.items():
        table.loc[g, "hr_note"] = f"{NOT_ESTIMABLE}{why}"
    if excluded:
        notes.append(
            "hazard ratio not estimable for "
            + "; ".join(f"{g!r} ({why})" for g, why in excluded.items())
            + (
                "; the other groups' ratios come from the model without these users"
                if len(excluded) < len(others) and not whole
                else ""
            )
        )
    if whole:
        cph = None
        for g in others:
            if g not in excluded:
                table.loc[g, "hr_note"] = f"{NOT_ESTIMABLE}{whole}"
        notes.append(f"the Cox model has no estimate ({whole}): no hazard ratios")
    return table, cph, tuple(notes)


#: Numeric columns of :func:`cox_hazard_ratios`' table (``hr_note`` is text).
HR_COLUMNS = ["log_hr", "se", "hazard_ratio", "hr_ci_low", "hr_ci_high", "p", "ph_p"]
#: Prefix of the reason a hazard ratio is missing.
NOT_ESTIMABLE = "not estimable: "


def _hr_row(cph: CoxFit, name: str, z: float) -> list[float] | None:
    """``[log_hr, se, hr, low, high]`` of one coefficient, or None when ``exp`` is out of range."""
    coef, se = float(cph.params_[name]), float(cph.standard_errors_[name])
    ratio = hazard_ratio_interval(coef, se, z)
    return None if ratio is None else [coef, se, *ratio]


def _fit_groups(
    frame: pd.DataFrame,
    codes: np.ndarray,
    code_of: Mapping[str, int],
    group: str,
    reference: str,
    fitted: Sequence[str],
    adjust_for: Sequence[str],
    duration: str,
    event: str,
    *,
    compress_rows: bool,
    grid_hours: float | None,
    alpha: float,
) -> tuple[CoxFit, list[str]]:
    """The Cox model of the reference and ``fitted`` groups' users: one dummy per fitted group."""
    keep = np.isin(codes, [code_of[g] for g in (reference, *fitted)])
    sub = frame.loc[keep]
    kept = codes[keep]
    design = pd.DataFrame(
        {f"{group}={g}": (kept == code_of[g]).astype(float) for g in fitted}, index=sub.index
    )
    dummies = list(design.columns)
    adjusters = covariate_columns(sub, adjust_for)
    clash = set(adjusters.columns) & set(dummies)
    if clash:
        raise ValueError(f"adjustment covariates {sorted(clash)} clash with the group columns")
    data = pd.concat(
        [
            sub[[duration]].rename(columns={duration: "duration"}),
            sub[[event]].rename(columns={event: "event"}),
            design,
            adjusters,
        ],
        axis=1,
    )
    covariates = [*dummies, *adjusters.columns]
    fit = efron_cox_on(data, covariates, compress_rows=compress_rows, grid_hours=grid_hours, alpha=alpha)
    return fit, dummies


def completion_flags(facts: Facts) -> pd.Series | None:
    """Per user of ``facts.table``: reached the funnel's last step (NA if not eligible).

    None when params ``onboarding_steps`` is not set or ``facts`` has no events table.
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


def cif_se_before(table: pd.DataFrame, t: float) -> tuple[float, float, float, float]:
    """``(cif, se, ci_low, ci_high)`` of an Aalen-Johansen table just before ``t``.

    The same row as :func:`onboarding_analysis.analyses.ttfv.cif_before` ("reached by day N" is a
    duration ``< N``), with the standard error that ``cif_before`` does not return.
    """
    times = table["time"].to_numpy(dtype=float)
    row = max(int(np.searchsorted(times, t, side="left")) - 1, 0)
    return tuple(float(table[col].iat[row]) for col in ("cif", "se", "ci_low", "ci_high"))  # type: ignore[return-value]


def _pays_to_compress(durations: np.ndarray) -> bool:
    """True when at most half as many distinct durations as rows (compression then pays)."""
    return len(pd.unique(durations)) <= len(durations) / 2


def _rate_columns(prefix: str, k: int, n: int, alpha: float) -> dict[str, float]:
    low, high = wilson_interval(k, n, alpha=alpha)
    return {prefix: k / n if n else math.nan, f"{prefix}_ci_low": low, f"{prefix}_ci_high": high}


def _survival_rows(frame: pd.DataFrame, *, compress_rows: bool, grid) -> tuple[pd.DataFrame, str | None]:
    """The survival users' (group, duration, event) rows, compressed or not, and the weights."""
    if compress_rows:
        return compress(frame, [GROUP, _DURATION, _EVENT], duration=_DURATION, grid_hours=grid), WEIGHT
    return frame.assign(**{_DURATION: round_durations(frame[_DURATION], grid)}), None


def _lifetime_fits(
    frame: pd.DataFrame, order: list[str], *, days, horizon: float, alpha: float, weights: str | None
) -> tuple[dict[str, LifetimeResult], list[str]]:
    fits: dict[str, LifetimeResult] = {}
    beyond: list[str] = []
    by_group = dict(tuple(frame.groupby(GROUP, sort=False, observed=True)))
    for name in order:
        rows = by_group.get(name)
        if rows is None:
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", StatisticalWarning)
            fits[name] = fit_lifetime(rows, days=days, horizon_days=horizon, alpha=alpha, weights=weights)
        for caught_warning in caught:
            if issubclass(caught_warning.category, StatisticalWarning):
                beyond.append(name)  # reported once for all groups by the caller
            else:
                warnings.warn(caught_warning.message, caught_warning.category, stacklevel=2)
    return fits, beyond


class _Prepared:
    """Per-user terms of a facts table that every comparison on it shares (any column).

    :func:`compare_all` makes one for all its columns: the durations on the grid, their sort
    order and the competing-risks (TTFV) durations sorted likewise (the sorts only when an
    exact, uncompressed comparison asks for them).
    """

    def __init__(self, table: pd.DataFrame, grid: float | None) -> None:
        self.table, self.grid = table, grid
        self.lifetime = table[C.LIFETIME].to_numpy(dtype=float)
        self.churned = table[C.CHURNED].to_numpy(dtype=bool)
        self.rounded = round_durations(self.lifetime, grid)

    @functools.cached_property
    def ttfv(self) -> pd.DataFrame:
        """``duration, event`` of the competing risks, durations on the grid, in table order."""
        data = competing_risks_data(self.table)
        data[DURATION] = round_durations(data[DURATION].to_numpy(dtype=float), self.grid)
        return data

    @functools.cached_property
    def by_time(self) -> np.ndarray:
        return np.argsort(self.rounded)

    @functools.cached_property
    def ttfv_sorted(self) -> tuple[pd.DataFrame, np.ndarray]:
        data = self.ttfv
        order = np.argsort(data[DURATION].to_numpy())
        return data.iloc[order], order


def _ttfv_tables(
    prepared: _Prepared, labels: pd.Categorical, order: list[str], *, alpha: float, compress_rows: bool
) -> dict[str, pd.DataFrame]:
    if compress_rows:
        data = compress(prepared.ttfv.assign(**{GROUP: labels}), [GROUP, DURATION, EVENT])
    else:  # sorted once by duration (shared by the columns): the per-group sorts are nearly free
        sorted_data, by_time = prepared.ttfv_sorted
        data = sorted_data.assign(**{GROUP: labels[by_time]})
    by_group = dict(tuple(data.groupby(GROUP, sort=False, observed=True)))
    out = {}
    for name in order:
        rows = by_group.get(name)
        if rows is None:
            continue
        w = rows[WEIGHT].to_numpy(dtype=float) if compress_rows else None
        out[name] = aalen_johansen(
            rows[DURATION].to_numpy(dtype=float),
            rows[EVENT].to_numpy(),
            cause=VALUE_CAUSE,
            weights=w,
            alpha=alpha,
        )
    return out


# --- the comparison ---------------------------------------------------------------------------


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
    prepared: _Prepared | None = None,
) -> SegmentComparison:
    """:func:`compare_segments` on a bare user-facts DataFrame (no events table needed).

    ``completion`` (from :func:`completion_flags`) is the only input that needs the events; the
    rest comes from the table. Options left at None (or ``"params"`` for ``grid_hours``) take
    their params value: ``p_adjust``, ``min_segment_size``, ``compression_grid_hours``,
    ``retention_days``, ``rmst_horizon_days``. ``label`` names the comparison (default
    ``column``). Used by :func:`compare_segments`, the change comparison and the benchmark.
    ``prepared``: the per-user terms shared by comparisons of the same table (computed here when
    None or made for another table or grid; :func:`compare_all` passes one for all its columns).
    """
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
    label = label or column
    codes, names, pooled, other = _pool_codes(table[column], min_size)
    counts = _group_counts(codes, names)
    notes: list[str] = []
    if reference is None:
        reference = params.reference_groups.get(column)
        if reference is not None and str(reference) in pooled:
            # A per-client or per-segment run can make the configured reference small; the run
            # goes on with the largest group and says so, instead of failing the whole report.
            notes.append(
                f"params reference group {reference!r} of {column!r} has fewer than min_segment_size "
                f"users here and was pooled into {other!r}; the largest group is the reference instead"
            )
            warnings.warn(notes[-1], StatisticalWarning, stacklevel=2)
            reference = None
    reference = _choose_reference(counts, column, reference, pooled, other)
    order = _ordered_groups(counts, reference, other)
    # The group of each user as a categorical (categories sorted like the labels): grouping and
    # compressing on its integer codes, not on a million strings.
    labels = pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object))
    code_of = {name: i for i, name in enumerate(names)}
    if pooled:
        notes.append(f"groups with fewer than {min_size} users pooled into {other!r}: {list(pooled)}")

    if prepared is None or prepared.table is not table or prepared.grid != grid:
        prepared = _Prepared(table, grid)
    lifetime, churned = prepared.lifetime, prepared.churned
    # Durations on the grid once, here (rounding again downstream changes nothing), so that a
    # user censored within the first grid step is left out of every survival figure alike.
    rounded = prepared.rounded
    informative = churned | (rounded > 0)
    active = lifetime > 0
    # Compression is lossless (every figure equals the one on the users' rows), so it is only a
    # question of speed: on exact durations that hardly repeat it shrinks nothing and costs a
    # group-by of every row per figure, so it is skipped there.
    compress_rows = compress_rows and _pays_to_compress(rounded)
    frame = pd.DataFrame({_DURATION: rounded, _EVENT: churned, GROUP: labels}, index=table.index)
    # Every survival figure below sorts its durations; sorted once here, those sorts are nearly
    # free (about 1.5 s of 10 on five comparisons of a million users). Row order changes no
    # figure. Compressed rows come out of a group-by already sorted: no need there.
    by_time = slice(None) if compress_rows else prepared.by_time
    frame = frame.iloc[by_time]
    surv = frame[informative[by_time]]
    left_out = int((~informative).sum())
    if left_out:
        notes.append(
            f"{left_out} users censored at 0 (not observable yet: younger than the churn delay) are left "
            f"out of the survival figures, as in the overall lifetime curve"
        )

    days = list(retention_days)
    # One table of the survival users (compressed once) for the curves and the log-rank tests.
    surv_rows, surv_weights = _survival_rows(surv, compress_rows=compress_rows, grid=grid)
    fits, beyond = _lifetime_fits(
        surv_rows, order, days=days, horizon=horizon_days, alpha=alpha, weights=surv_weights
    )
    if beyond:
        warnings.warn(
            f"{label}: rmst_horizon_days={horizon_days:g} lies beyond the longest observed lifetime of "
            f"group(s) {beyond}: their RMST assumes the last survival value holds until the horizon",
            StatisticalWarning,
            stacklevel=3,
        )
    incidence = _ttfv_tables(prepared, labels, order, alpha=alpha, compress_rows=compress_rows)

    # Log-rank on the survival users (the never-active atom included: it is part of the curve).
    overall, pairwise = logrank_tests(surv_rows, GROUP, reference, weights=surv_weights)

    # Cox among users active after signup (the two-part model of the module docstring).
    active_by_time = active[by_time]
    covariates = table[list(adjust_for)].iloc[by_time]
    cox_frame = pd.concat([frame[active_by_time], covariates[active_by_time]], axis=1)
    hr, cph, cox_notes = cox_hazard_ratios(
        cox_frame,
        GROUP,
        reference,
        adjust_for=adjust_for,
        alpha=alpha,
        compress_rows=compress_rows,
        grid_hours=grid,
    )
    notes.extend(cox_notes)

    z = norm.ppf(1 - alpha / 2)
    ref_fit = fits.get(reference)
    # Only the columns N-day retention reads, so that slicing per group stays cheap at scale.
    narrow = table[[c for c in (C.AGE, C.DAYS_MASK, *map(C.active_day, days)) if c in table.columns]]
    rows = []
    for name in order:
        in_group = codes == code_of[name]
        sub = narrow[in_group]
        row: dict[str, Any] = {
            GROUP: name,
            "users": int(in_group.sum()),
            "is_reference": name == reference,
            "lifetime_users": int((in_group & informative).sum()),
            "cox_users": int((in_group & active).sum()),
        }
        ret = nday_retention(sub, days, alpha=alpha)
        for r in ret.itertuples():
            key = f"retention_day_{int(r.day)}"
            row.update({key: r.rate, f"{key}_ci_low": r.ci_low, f"{key}_ci_high": r.ci_high})
            row[f"{key}_eligible"] = int(r.eligible)
            row[f"{key}_retained"] = int(r.retained)
        never = int((in_group & churned & (lifetime == 0)).sum())  # exactly 0: never active
        row.update(_rate_columns("never_active", never, row["lifetime_users"], alpha))
        fit = fits.get(name)
        if fit is not None:
            row.update(
                median_days=np.nan if fit.median_days is None else fit.median_days,
                median_ci_low=np.nan if fit.median_ci_low is None else fit.median_ci_low,
                median_ci_high=np.nan if fit.median_ci_high is None else fit.median_ci_high,
                rmst_days=fit.rmst_days,
                rmst_se=fit.rmst_se,
                rmst_ci_low=fit.rmst_days - z * fit.rmst_se,
                rmst_ci_high=fit.rmst_days + z * fit.rmst_se,
            )
            if ref_fit is not None and name != reference:
                diff = fit.rmst_days - ref_fit.rmst_days
                se = math.hypot(fit.rmst_se, ref_fit.rmst_se)
                row.update(
                    rmst_diff=diff,
                    rmst_diff_se=se,
                    rmst_diff_ci_low=diff - z * se,
                    rmst_diff_ci_high=diff + z * se,
                    rmst_diff_p_raw=2 * norm.sf(abs(diff) / se) if se > 0 else math.nan,
                )
            elif name == reference:
                row.update(rmst_diff=0.0, rmst_diff_se=0.0)
        aj = incidence.get(name)
        if aj is not None:
            cif, _, low, high = cif_se_before(aj, ttfv_day)
            row.update(
                {
                    f"ttfv_day_{ttfv_day}": cif,
                    f"ttfv_day_{ttfv_day}_ci_low": low,
                    f"ttfv_day_{ttfv_day}_ci_high": high,
                }
            )
        if completion is not None:
            flags = completion[in_group].dropna()
            row.update(_rate_columns("completion", int(flags.sum()), len(flags), alpha))
        if name == reference:
            row.update(hazard_ratio=1.0)
        elif name in hr.index:
            h = hr.loc[name]
            row.update(
                log_hr=h["log_hr"],
                log_hr_se=h["se"],
                hazard_ratio=h["hazard_ratio"],
                hr_ci_low=h["hr_ci_low"],
                hr_ci_high=h["hr_ci_high"],
                hr_p_raw=h["p"],
                ph_p_raw=h["ph_p"],
                hr_note=h["hr_note"],
            )
        if name in pairwise.index:
            row.update(
                logrank_statistic=pairwise.loc[name, "statistic"], logrank_p_raw=pairwise.loc[name, "p"]
            )
        rows.append(row)
    groups = pd.DataFrame(rows)
    groups = _with_columns(groups, days, ttfv_day, completion is not None)

    # Families of p-values, each adjusted on its own.
    others = ~groups["is_reference"].to_numpy()
    for raw, adjusted in (
        ("logrank_p_raw", "logrank_p_adjusted"),
        ("hr_p_raw", "hr_p_adjusted"),
        ("ph_p_raw", "ph_p_adjusted"),
        ("rmst_diff_p_raw", "rmst_diff_p_adjusted"),
    ):
        values = groups[raw].to_numpy(dtype=float)
        adj = np.full(len(groups), np.nan)
        adj[others] = adjust_pvalues(values[others], p_adjust)
        groups[adjusted] = adj
    ph_fail = groups["ph_p_adjusted"].to_numpy(dtype=float) < alpha
    groups["ph_warning"] = [
        f"non-proportional hazards (PH check p={p:.2g} adjusted): the ratio changes over follow-up; read it as an average"
        if fail
        else ""
        for fail, p in zip(ph_fail, groups["ph_p_adjusted"], strict=True)
    ]

    tests = _tests_table(groups, overall, days, p_adjust, reference)
    if groups.shape[0] < 2:
        notes.append(f"{label}: only one group, nothing to compare")
    return SegmentComparison(
        column=label,
        reference=reference,
        groups=groups,
        tests=tests,
        pooled=pooled,
        other_label=other,
        logrank_statistic=overall["statistic"],
        logrank_df=overall["df"],
        logrank_p=overall["p"],
        p_adjust=p_adjust,
        alpha=alpha,
        lifetimes=fits,
        incidence=incidence,
        cox=cph,
        adjust_for=tuple(adjust_for),
        retention_days=tuple(days),
        ttfv_day=ttfv_day,
        horizon_days=horizon_days,
        notes=tuple(notes),
        grid_hours=grid,
    )


def _with_columns(groups: pd.DataFrame, days: Sequence[int], ttfv_day: int, completion: bool) -> pd.DataFrame:
    """Every documented column present (NaN where not estimable), in a stable order."""
    cols = [GROUP, "users", "is_reference", "lifetime_users", "cox_users"]
    for d in days:
        key = f"retention_day_{d}"
        cols += [key, f"{key}_ci_low", f"{key}_ci_high", f"{key}_eligible", f"{key}_retained"]
    cols += ["never_active", "never_active_ci_low", "never_active_ci_high"]
    cols += [
        "median_days",
        "median_ci_low",
        "median_ci_high",
        "rmst_days",
        "rmst_se",
        "rmst_ci_low",
        "rmst_ci_high",
    ]
    cols += ["rmst_diff", "rmst_diff_se", "rmst_diff_ci_low", "rmst_diff_ci_high", "rmst_diff_p_raw"]
    key = f"ttfv_day_{ttfv_day}"
    cols += [key, f"{key}_ci_low", f"{key}_ci_high", "completion", "completion_ci_low", "completion_ci_high"]
    cols += ["hazard_ratio", "hr_ci_low", "hr_ci_high", "log_hr", "log_hr_se", "hr_p_raw", "ph_p_raw"]
    cols += ["logrank_statistic", "logrank_p_raw"]
    for col in cols:
        if col not in groups.columns:
            groups[col] = np.nan
    notes = groups["hr_note"].fillna("").astype(str) if "hr_note" in groups.columns else ""
    groups = groups[cols].copy()
    for col in cols[5:]:
        if not col.endswith(("_eligible", "_retained")):
            groups[col] = groups[col].astype(float)
    groups["hr_note"] = notes
    return groups


def _tests_table(
    groups: pd.DataFrame, overall: Mapping[str, float], days: Sequence[int], p_adjust: str, reference: str
) -> pd.DataFrame:
    rows = [
        (
            "global log-rank",
            "multivariate log-rank test: all groups have the same lifetime curve",
            "",
            overall["statistic"],
            overall["df"],
            overall["p"],
            overall["p"],
        ),
    ]
    others = groups[~groups["is_reference"]]
    for family, desc, stat, p_raw, p_adj in (
        (
            "pairwise log-rank",
            "log-rank test vs {ref}",
            "logrank_statistic",
            "logrank_p_raw",
            "logrank_p_adjusted",
        ),
        (
            "Cox hazard ratio",
            "Wald test of the hazard ratio vs {ref} (users active after signup)",
            None,
            "hr_p_raw",
            "hr_p_adjusted",
        ),
        ("proportional hazards", "PH check of the hazard ratio vs {ref}", None, "ph_p_raw", "ph_p_adjusted"),
        (
            "RMST difference",
            "RMST difference vs {ref}, normal approximation",
            None,
            "rmst_diff_p_raw",
            "rmst_diff_p_adjusted",
        ),
    ):
        for g in others.itertuples(index=False):
            g = g._asdict()
            statistic = g[stat] if stat else math.nan
            if family == "Cox hazard ratio" and not math.isnan(g["log_hr"]):
                statistic = (g["log_hr"] / g["log_hr_se"]) ** 2
            rows.append(
                (family, desc.format(ref=repr(reference)), g[GROUP], statistic, 1.0, g[p_raw], g[p_adj])
            )
    chi_rows = []
    for d in days:
        key = f"retention_day_{d}"
        stat, dof, p = chi_square(
            groups[f"{key}_retained"].to_numpy(dtype=float), groups[f"{key}_eligible"].to_numpy(dtype=float)
        )
        chi_rows.append(
            [
                "retention chi-square",
                f"chi-square test: day-{d} retention equal across groups",
                "",
                stat,
                dof,
                p,
            ]
        )
    adjusted = adjust_pvalues([r[-1] for r in chi_rows], p_adjust)
    rows += [(*r, a) for r, a in zip(chi_rows, adjusted, strict=True)]
    return pd.DataFrame(rows, columns=TEST_COLUMNS).astype(
        {"statistic": float, "df": float, "p_raw": float, "p_adjusted": float}
    )


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
    prepared: _Prepared | None = None,
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
    prepared : optional
        Per-user terms shared by the comparisons of one table (durations on the grid, their
        sort orders); :func:`compare_all` passes one for all its columns.

    Returns
    -------
    SegmentComparison

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
    (``logrank_p_adjusted``). The funnel is computed once and shared. ``options`` are passed to
    :func:`compare_segments` (``adjust_for`` entries equal to the compared column are dropped).

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
    options["prepared"] = _Prepared(facts.table, grid)  # shared by the columns
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


# --- tables and metrics -----------------------------------------------------------------------


def _fmt(value: float, digits: int = 2, pct: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.1f}%" if pct else f"{value:.{digits}f}"


def _fmt_p(value: float) -> str:
    """A p-value as the report writes it: ``< 0.001`` or three decimals (``–`` if missing)."""
    from ..display.tables import format_value

    return format_value(value, "p") or "–"


def _interval(row: Mapping, key: str, pct: bool = False, digits: int = 2) -> str:
    low, high = row.get(f"{key}_ci_low", math.nan), row.get(f"{key}_ci_high", math.nan)
    if key == "rmst":
        key = "rmst_days"
    if pd.isna(row.get(key)):
        return "–"
    return f"{_fmt(row[key], digits, pct)} [{_fmt(low, digits, pct)}, {_fmt(high, digits, pct)}]"


def segment_summary(comparison: SegmentComparison) -> pd.DataFrame:
    """A readable table of a comparison: one row per group, estimates with their intervals.

    Columns: group, users, retention per day, never active, median lifetime, RMST and its
    difference to the reference, TTFV by day 7, completion, hazard ratio (with the PH warning
    next to it) and the raw and adjusted p-values of the hazard ratio and the pairwise log-rank
    test. Figures that cannot be estimated show "–"; an unreached median shows "not reached".
    """
    rows = []
    for g in comparison.groups.to_dict("records"):
        row = {"group": g[GROUP] + (" (reference)" if g["is_reference"] else ""), "users": g["users"]}
        for d in comparison.retention_days:
            row[f"day-{d} retention"] = _interval(g, f"retention_day_{d}", pct=True)
        row["never active"] = _interval(g, "never_active", pct=True)
        row["median lifetime (days)"] = (
            "–"
            if pd.isna(g["rmst_days"])
            else "not reached"
            if pd.isna(g["median_days"])
            else f"{g['median_days']:.1f}"
        )
        row[f"RMST {comparison.horizon_days:g} d"] = _interval(g, "rmst", digits=1)
        row["RMST diff"] = _interval(g, "rmst_diff", digits=1) if not g["is_reference"] else ""
        row[f"value by day {comparison.ttfv_day}"] = _interval(g, f"ttfv_day_{comparison.ttfv_day}", pct=True)
        row["completion"] = _interval(g, "completion", pct=True)
        if g["is_reference"]:
            row["hazard ratio"] = "1 (reference)"
        elif pd.isna(g["hazard_ratio"]):
            row["hazard ratio"] = g["hr_note"] or "–"
        else:
            row["hazard ratio"] = f"{g['hazard_ratio']:.2f} [{g['hr_ci_low']:.2f}, {g['hr_ci_high']:.2f}]"
            if g["ph_warning"]:
                row["hazard ratio"] += " ⚠ non-proportional"
        row["HR p (raw / adj.)"] = (
            "" if g["is_reference"] else f"{_fmt_p(g['hr_p_raw'])} / {_fmt_p(g['hr_p_adjusted'])}"
        )
        row["log-rank p (raw / adj.)"] = (
            "" if g["is_reference"] else f"{_fmt_p(g['logrank_p_raw'])} / {_fmt_p(g['logrank_p_adjusted'])}"
        )
        rows.append(row)
    return pd.DataFrame(rows)


def segments_metrics(comparisons: Mapping[str, SegmentComparison] | Iterable[SegmentComparison]) -> dict:
    """Headline numbers of segment comparisons as a JSON-ready dict.

    Returns
    -------
    dict
        ``{"segments": {"<column>": {"reference", "logrank_p", "logrank_p_adjusted" (when
        set by compare_all), "p_adjust", "pooled", "groups": {"<value>": {users,
        retention_day_<N>, median_days, rmst_days, hazard_ratio, hr_ci_low, hr_ci_high,
        p_raw, p_adjusted, ph_warning}}}}}``; ``p_raw``/``p_adjusted`` are the hazard
        ratio's; plain Python numbers, None where not estimable (the reference has hazard
        ratio 1 and no interval or p-value).
    """
    items = comparisons.values() if isinstance(comparisons, Mapping) else comparisons
    out: dict[str, dict] = {}
    for comp in items:
        groups = {}
        for g in comp.groups.to_dict("records"):
            entry = {"users": int(g["users"])}
            for d in comp.retention_days:
                entry[f"retention_day_{d}"] = finite_or_none(g[f"retention_day_{d}"])
            entry.update(
                median_days=finite_or_none(g["median_days"]),
                rmst_days=finite_or_none(g["rmst_days"]),
                hazard_ratio=finite_or_none(g["hazard_ratio"]),
                hr_ci_low=finite_or_none(g["hr_ci_low"]),
                hr_ci_high=finite_or_none(g["hr_ci_high"]),
                p_raw=finite_or_none(g["hr_p_raw"]),
                p_adjusted=finite_or_none(g["hr_p_adjusted"]),
                ph_warning=bool(g["ph_warning"]),
            )
            groups[str(g[GROUP])] = entry
        section: dict[str, Any] = {"reference": comp.reference, "logrank_p": finite_or_none(comp.logrank_p)}
        if comp.logrank_p_adjusted is not None:
            section["logrank_p_adjusted"] = finite_or_none(comp.logrank_p_adjusted)
        section.update(p_adjust=comp.p_adjust, pooled=list(comp.pooled), groups=groups)
        out[comp.column] = section
    return {"segments": out}


# --- plots ------------------------------------------------------------------------------------


def plot_segment_survival(comparison: SegmentComparison, *, ax: Axes | None = None, ci: bool = True) -> Axes:
    """Kaplan-Meier lifetime curves per group, with confidence bands.

    Each group has its colour of :func:`onboarding_analysis.display.style.group_colors` (the same in
    :func:`plot_segment_retention`); a curve goes on grey and dashed where fewer than
    :data:`~onboarding_analysis.display.style.MIN_AT_RISK` of its users are at risk.

    Examples
    --------
    >>> ax = plot_segment_survival(compare_segments(facts, "persona"))      # doctest: +SKIP
    """
    from ..display.style import group_colors, note_cutoff, plot_km

    ax = axes_or_new(ax)
    level = round(100 * (1 - comparison.alpha))
    colors = group_colors(comparison.groups[GROUP])
    cutoffs = []
    for name, fit in comparison.lifetimes.items():
        tag = " (reference)" if name == comparison.reference else ""
        cutoffs.append(
            plot_km(fit.kmf, ax, label=f"{name}{tag}, n={fit.users}", color=colors.get(str(name)), ci=ci)
        )
    ax.set_xlabel("days since signup")
    ax.set_ylabel("share of users not yet churned")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Lifetime by {comparison.column} (Kaplan-Meier, {level}% CI)")
    if comparison.lifetimes:  # none when no user is observable yet (the notes say so)
        ax.legend(loc="best")
    note_cutoff(ax, cutoffs)
    return ax


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
    """A forest plot of ratios with intervals on a log axis, reference line at 1."""
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


def plot_hazard_ratios(comparison: SegmentComparison, *, ax: Axes | None = None) -> Axes:
    """Forest plot of the churn hazard ratios against the reference (log scale, line at 1).

    Groups whose proportional-hazards check failed are drawn in red diamonds and labelled.

    Examples
    --------
    >>> ax = plot_hazard_ratios(compare_segments(facts, "persona"))         # doctest: +SKIP
    """
    groups = comparison.groups[~comparison.groups["is_reference"]]
    labels = [
        f"{g}{' (PH warning)' if w else ''}" for g, w in zip(groups[GROUP], groups["ph_warning"], strict=True)
    ]
    ax = forest(
        labels,
        groups["hazard_ratio"].to_numpy(dtype=float),
        groups["hr_ci_low"].to_numpy(dtype=float),
        groups["hr_ci_high"].to_numpy(dtype=float),
        ax=ax,
        flagged=groups["ph_warning"].astype(bool).to_numpy(),
        flag_label="proportional-hazards check failed",
    )
    level = round(100 * (1 - comparison.alpha))
    ax.set_xlabel(
        f"hazard ratio of churn vs {comparison.reference} ({level}% CI, log scale); < 1: stay longer"
    )
    ax.set_title(f"Churn hazard by {comparison.column} (users active after signup)")
    return ax


def plot_segment_retention(
    comparison: SegmentComparison, *, days: Sequence[int] | None = None, ax: Axes | None = None
) -> Axes:
    """N-day retention per group with Wilson intervals, one point per group and day.

    Examples
    --------
    >>> ax = plot_segment_retention(compare_segments(facts, "plan"))        # doctest: +SKIP
    """
    from ..display.style import group_colors

    ax = axes_or_new(ax)
    days = list(comparison.retention_days if days is None else days)
    groups = comparison.groups
    colors = group_colors(groups[GROUP])
    width = 0.8 / max(len(groups), 1)
    for i, g in enumerate(groups.to_dict("records")):
        x = np.arange(len(days)) - 0.4 + width * (i + 0.5)
        rate = np.array([g.get(f"retention_day_{d}", np.nan) for d in days], dtype=float)
        low = np.array([g.get(f"retention_day_{d}_ci_low", np.nan) for d in days], dtype=float)
        high = np.array([g.get(f"retention_day_{d}_ci_high", np.nan) for d in days], dtype=float)
        ok = np.isfinite(rate)
        if ok.any():
            ax.errorbar(
                x[ok],
                rate[ok],
                yerr=[rate[ok] - low[ok], high[ok] - rate[ok]],
                fmt="o",
                capsize=3,
                color=colors.get(str(g[GROUP])),
                label=f"{g[GROUP]} (n={g['users']})",
            )
    ax.set_xticks(np.arange(len(days)))
    ax.set_xticklabels([f"day {d}" for d in days])
    ax.set_ylabel("share of eligible users active that day")
    ax.set_ylim(0, 1.05)
    level = round(100 * (1 - comparison.alpha))
    ax.set_title(f"N-day retention by {comparison.column} ({level}% Wilson CI)")
    if ax.get_legend_handles_labels()[0]:  # no point when no user is eligible for any day
        ax.legend(loc="best", fontsize=8)
    return ax
