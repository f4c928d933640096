"""The per-group table of a segment comparison and its tests table.

:func:`group_table` gathers every figure of a group (retention, never-active share, median,
RMST and its difference, TTFV, completion, hazard ratio, pairwise log-rank) into one row,
adjusts each family of p-values on its own and writes the proportional-hazards warnings;
:func:`tests_table` lists every test. Definitions: ``docs/metrics.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..data import columns as C
from ..stats.hypothesis import GROUP, adjust_pvalues, chi_square
from ..stats.intervals import wilson_interval
from .lifetime import LifetimeResult
from .retention import nday_retention
from .segment_groups import SegmentGroups
from .segment_result import TEST_COLUMNS
from .segment_survival import SurvivalFigures, cif_se_before

__all__ = ["group_table", "tests_table"]

#: The p-value families of the groups table: raw column, adjusted column.
_FAMILY_COLUMNS = (
    ("logrank_p_raw", "logrank_p_adjusted"),
    ("hr_p_raw", "hr_p_adjusted"),
    ("ph_p_raw", "ph_p_adjusted"),
    ("rmst_diff_p_raw", "rmst_diff_p_adjusted"),
)


def group_table(
    table: pd.DataFrame,
    groups: SegmentGroups,
    survival: SurvivalFigures,
    hr: pd.DataFrame,
    *,
    completion: pd.Series | None,
    days: Sequence[int],
    ttfv_day: int,
    alpha: float,
    p_adjust: str,
) -> pd.DataFrame:
    """One row per group with every figure of the comparison, p-values adjusted per family.

    Parameters
    ----------
    table : pandas.DataFrame
        The user-facts table.
    groups : SegmentGroups
        The groups of the compared column.
    survival : SurvivalFigures
        Kaplan-Meier fits, TTFV incidence and log-rank tests per group.
    hr : pandas.DataFrame
        The hazard ratios of :func:`~onboarding_analysis.analyses.segment_cox.cox_hazard_ratios`.
    completion : pandas.Series or None
        Per user, reached the funnel's last step (NA if not eligible); None: no completion.
    days : sequence of int
        Retention days.
    ttfv_day : int
        Day of the TTFV incidence.
    alpha : float
        Level of the intervals and of the proportional-hazards warnings.
    p_adjust : {"holm", "fdr_bh"}
        Adjustment of each family of p-values.

    Returns
    -------
    pandas.DataFrame
        The columns of :attr:`~onboarding_analysis.analyses.segment_result.SegmentComparison.groups`.
    """
    z = norm.ppf(1 - alpha / 2)
    ref_fit = survival.fits.get(groups.reference)
    # Only the columns N-day retention reads, so that slicing per group stays cheap at scale.
    narrow = table[[c for c in (C.AGE, C.DAYS_MASK, *map(C.active_day, days)) if c in table.columns]]
    lifetime, churned = table[C.LIFETIME].to_numpy(dtype=float), table[C.CHURNED].to_numpy(dtype=bool)
    code_of = groups.code_of
    rows = []
    for name in groups.order:
        in_group = groups.codes == code_of[name]
        is_reference = name == groups.reference
        row: dict[str, Any] = {
            GROUP: name,
            "users": int(in_group.sum()),
            "is_reference": is_reference,
            "lifetime_users": int((in_group & survival.informative).sum()),
            "cox_users": int((in_group & survival.active).sum()),
        }
        row.update(_retention_columns(narrow[in_group], days, alpha))
        never = int((in_group & churned & (lifetime == 0)).sum())  # exactly 0: never active
        row.update(_rate_columns("never_active", never, row["lifetime_users"], alpha))
        fit = survival.fits.get(name)
        if fit is not None:
            row.update(_lifetime_columns(fit, ref_fit, z, is_reference=is_reference))
        aj = survival.incidence.get(name)
        if aj is not None:
            row.update(_ttfv_columns(aj, ttfv_day))
        if completion is not None:
            flags = completion[in_group].dropna()
            row.update(_rate_columns("completion", int(flags.sum()), len(flags), alpha))
        row.update(_test_columns(name, is_reference, hr, survival.pairwise))
        rows.append(row)
    out = _with_columns(pd.DataFrame(rows), days, ttfv_day, completion is not None)
    return _adjusted(out, p_adjust, alpha)


def _retention_columns(sub: pd.DataFrame, days: Sequence[int], alpha: float) -> dict[str, Any]:
    """N-day retention of one group's users, with intervals and counts, per day."""
    row: dict[str, Any] = {}
    for r in nday_retention(sub, days, alpha=alpha).itertuples():
        key = f"retention_day_{int(r.day)}"
        row.update({key: r.rate, f"{key}_ci_low": r.ci_low, f"{key}_ci_high": r.ci_high})
        row[f"{key}_eligible"] = int(r.eligible)
        row[f"{key}_retained"] = int(r.retained)
    return row


def _lifetime_columns(
    fit: LifetimeResult, ref_fit: LifetimeResult | None, z: float, *, is_reference: bool
) -> dict[str, Any]:
    """Median and RMST of one group and its RMST difference to the reference (``ref_fit``).

    The reference's own difference is 0; there is none when the reference has no fit.
    """
    row: dict[str, Any] = dict(
        median_days=np.nan if fit.median_days is None else fit.median_days,
        median_ci_low=np.nan if fit.median_ci_low is None else fit.median_ci_low,
        median_ci_high=np.nan if fit.median_ci_high is None else fit.median_ci_high,
        rmst_days=fit.rmst_days,
        rmst_se=fit.rmst_se,
        rmst_ci_low=fit.rmst_days - z * fit.rmst_se,
        rmst_ci_high=fit.rmst_days + z * fit.rmst_se,
    )
    if is_reference:
        row.update(rmst_diff=0.0, rmst_diff_se=0.0)
    elif ref_fit is not None:
        diff = fit.rmst_days - ref_fit.rmst_days
        se = math.hypot(fit.rmst_se, ref_fit.rmst_se)
        row.update(
            rmst_diff=diff,
            rmst_diff_se=se,
            rmst_diff_ci_low=diff - z * se,
            rmst_diff_ci_high=diff + z * se,
            rmst_diff_p_raw=2 * norm.sf(abs(diff) / se) if se > 0 else math.nan,
        )
    return row


def _ttfv_columns(aj: pd.DataFrame, ttfv_day: int) -> dict[str, float]:
    """The share reaching value by ``ttfv_day``, with its interval."""
    cif, _, low, high = cif_se_before(aj, ttfv_day)
    key = f"ttfv_day_{ttfv_day}"
    return {key: cif, f"{key}_ci_low": low, f"{key}_ci_high": high}


def _test_columns(name: str, is_reference: bool, hr: pd.DataFrame, pairwise: pd.DataFrame) -> dict[str, Any]:
    """The hazard ratio (1 for the reference) and the pairwise log-rank test of one group."""
    row: dict[str, Any] = {}
    if is_reference:
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
        row.update(logrank_statistic=pairwise.loc[name, "statistic"], logrank_p_raw=pairwise.loc[name, "p"])
    return row


def _adjusted(groups: pd.DataFrame, p_adjust: str, alpha: float) -> pd.DataFrame:
    """Each family of p-values adjusted on its own, and the proportional-hazards warnings."""
    others = ~groups["is_reference"].to_numpy()
    for raw, adjusted in _FAMILY_COLUMNS:
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
    return groups


def _rate_columns(prefix: str, k: int, n: int, alpha: float) -> dict[str, float]:
    """A share ``k / n`` (NaN when ``n`` is 0) with its Wilson interval, as ``prefix`` columns."""
    low, high = wilson_interval(k, n, alpha=alpha)
    return {prefix: k / n if n else math.nan, f"{prefix}_ci_low": low, f"{prefix}_ci_high": high}


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


def tests_table(
    groups: pd.DataFrame, overall: Mapping[str, float], days: Sequence[int], p_adjust: str, reference: str
) -> pd.DataFrame:
    """Every test of a comparison, one row each (:data:`~onboarding_analysis.analyses.segment_result.TEST_COLUMNS`).

    Parameters
    ----------
    groups : pandas.DataFrame
        The groups table of :func:`group_table` (p-values raw and adjusted).
    overall : mapping
        The global log-rank test: ``statistic, df, p``.
    days : sequence of int
        Retention days: one chi-square test each, adjusted as one family.
    p_adjust : {"holm", "fdr_bh"}
        Adjustment of the chi-square family.
    reference : str
        The reference group, in the descriptions.

    Returns
    -------
    pandas.DataFrame
        One row per test, families in the order of
        :data:`~onboarding_analysis.analyses.segment_result.FAMILIES`.
    """
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
