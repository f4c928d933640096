"""Cox hazard ratios of churn of each group against the reference group, with a PH check.

The Cox part of the segment comparison's two-part model (see
:mod:`onboarding_analysis.analyses.segments`): fitted on users active after signup with the
vectorised Efron solver of :mod:`onboarding_analysis.stats.compression`; groups whose ratio
has no estimate (:mod:`onboarding_analysis.stats.cox_checks`) are left out and named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..data import columns as C
from ..stats.cox_checks import NotEstimable, hazard_ratio_interval
from ..stats.cox_fit import CoxFit, covariate_columns, efron_cox_on, efron_ph_test
from ..stats.hypothesis import GROUP, group_codes
from ..stats.intervals import check_alpha

__all__ = ["HR_COLUMNS", "NOT_ESTIMABLE", "cox_hazard_ratios"]

_DURATION, _EVENT = C.LIFETIME, C.CHURNED


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

    A Cox model (Efron ties, :func:`onboarding_analysis.stats.cox_fit.efron_cox`: lifelines'
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
    fit = dict(
        adjust_for=adjust_for,
        duration=duration,
        event=event,
        compress_rows=compress_rows,
        grid_hours=grid_hours,
        alpha=alpha,
    )
    cph, whole = _fit_estimable(frame, codes, values, group, reference, others, excluded, table, **fit)
    notes.extend(_exclusion_notes(excluded, whole, len(others)))
    for g, why in excluded.items():
        table.loc[g, "hr_note"] = f"{NOT_ESTIMABLE}{why}"
    if whole:
        cph = None
        for g in others:
            if g not in excluded:
                table.loc[g, "hr_note"] = f"{NOT_ESTIMABLE}{whole}"
    return table, cph, tuple(notes)


def _fit_estimable(
    frame: pd.DataFrame,
    codes: np.ndarray,
    values: Sequence[str],
    group: str,
    reference: str,
    others: Sequence[str],
    excluded: dict[str, str],
    table: pd.DataFrame,
    **fit: Any,
) -> tuple[CoxFit | None, str]:
    """Fit the Cox model, leaving out the groups without estimate, until every ratio is finite.

    Adds the left-out groups and their reasons to ``excluded`` and writes the fitted groups'
    figures into ``table``. Returns the last model fitted (None if none was) and, when the model
    as a whole has no estimate, the reason (else an empty string).
    """
    code_of = {name: i for i, name in enumerate(values)}
    z = norm.ppf(1 - fit["alpha"] / 2)
    cph = None
    while True:
        fitted = [g for g in others if g not in excluded]
        if not fitted:
            return cph, ""
        try:
            cph, dummies = _fit_groups(frame, codes, code_of, group, reference, fitted, **fit)
        except NotEstimable as err:
            group_of = {f"{group}={g}": g for g in fitted}  # the dummies' names, as _fit_groups makes them
            blamed = {group_of[c]: why for c, why in err.covariates.items() if c in group_of}
            if blamed and len(blamed) == len(err.covariates):
                excluded.update(blamed)
                continue
            return None, err.reason
        hr = [_hr_row(cph, name, z) for name in dummies]
        out_of_range = [g for g, row in zip(fitted, hr, strict=True) if row is None]
        if out_of_range:  # the interval is beyond floating point: as good as running off
            excluded.update(dict.fromkeys(out_of_range, "the hazard ratio or its interval is out of range"))
            continue
        ph = efron_ph_test(cph)
        cph.release()  # the comparison keeps the model, not a sorted copy of every user's row
        for g, name, row in zip(fitted, dummies, hr, strict=True):
            table.loc[g, HR_COLUMNS] = [*row, float(cph.summary.loc[name, "p"]), float(ph.loc[name, "p"])]
        return cph, ""


def _exclusion_notes(excluded: Mapping[str, str], whole: str, n_others: int) -> list[str]:
    """The notes on groups left out of the Cox model, and on a model without estimate."""
    notes = []
    if excluded:
        notes.append(
            "hazard ratio not estimable for "
            + "; ".join(f"{g!r} ({why})" for g, why in excluded.items())
            + (
                "; the other groups' ratios come from the model without these users"
                if len(excluded) < n_others and not whole
                else ""
            )
        )
    if whole:
        notes.append(f"the Cox model has no estimate ({whole}): no hazard ratios")
    return notes


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
    *,
    adjust_for: Sequence[str],
    duration: str,
    event: str,
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
