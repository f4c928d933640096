"""Hypothesis tests shared by the comparisons.

Log-rank tests from one weighted risk table, the chi-square test of retained shares, and the
correction of a family of p-values.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy.stats import chi2, chi2_contingency
from statsmodels.stats.multitest import multipletests

from ..data import columns as C
from ..errors import ParamsError
from ..params import P_ADJUST

#: Index name of the per-group test tables.
GROUP = "group"
_DURATION, _EVENT = C.LIFETIME, C.CHURNED


def adjust_pvalues(pvalues: Iterable[float], method: str = "holm") -> np.ndarray:
    """Adjust one family of p-values for multiple testing (statsmodels ``multipletests``).

    Parameters
    ----------
    pvalues : iterable of float
        Raw p-values; NaN entries (tests that could not be run) are left out of the family and
        stay NaN.
    method : {"holm", "fdr_bh"}, default "holm"
        Holm's step-down family-wise error control, or Benjamini-Hochberg false discovery rate.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, in the input order.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03, 0.2]).round(4).tolist()
    [0.04, 0.09, 0.09, 0.2]
    >>> adjust_pvalues([0.01, 0.04, 0.03, 0.2], "fdr_bh").round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    """
    if method not in P_ADJUST:
        raise ParamsError(f"p_adjust must be one of {', '.join(P_ADJUST)}, but was {method!r}")
    p = np.asarray(list(pvalues), dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.sum() == 1:
        out[ok] = p[ok]  # a family of one test: both methods return it unchanged
    elif ok.any():
        # statsmodels' Holm branch calls gc.collect(), which walks every object of the process
        # (0.2-0.5 s per call in a notebook or a test session). Freezing the existing objects
        # first limits that walk to the few made since; unfreeze puts them back. Same result.
        gc.freeze()
        try:
            out[ok] = multipletests(p[ok], method=method)[1]
        finally:
            gc.unfreeze()
    return out


def logrank_tests(
    frame: pd.DataFrame,
    group: str,
    reference: str,
    *,
    duration: str = _DURATION,
    event: str = _EVENT,
    weights: str | None = None,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Global multivariate log-rank test and pairwise log-rank tests against ``reference``.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``duration``, ``event`` and ``group`` columns (one row per user, or weighted rows).
    group : str
        The group column.
    reference : str
        The group every other group is compared with.
    duration, event : str
        Column names.
    weights : str, optional
        Frequency-weight column; the results equal those on the expanded rows exactly.

    Returns
    -------
    (dict, pandas.DataFrame)
        ``{"statistic", "df", "p"}`` of lifelines' ``multivariate_logrank_test``, and per other
        group (index) the ``statistic`` and ``p`` of ``logrank_test`` against the reference.

    Examples
    --------
    >>> from lifelines.datasets import load_waltons
    >>> overall, pairwise = logrank_tests(load_waltons(), "group", "control", duration="T", event="E")
    >>> round(overall["statistic"], 2)
    122.25
    """
    # One risk table (per event time and group: weight at risk, weight of events) gives every
    # test; its entries are sums of whole weights, so weighted and replicated rows agree to the bit.
    codes, values = group_codes(frame[group])
    durations = frame[duration].to_numpy(dtype=float)
    events = frame[event].to_numpy(dtype=bool)
    w = np.ones(len(frame)) if weights is None else frame[weights].to_numpy(dtype=float)
    names = sorted(values)
    others = [g for g in names if g != reference]
    pairwise = pd.DataFrame(index=pd.Index(others, name=GROUP), columns=["statistic", "p"], dtype=float)
    if len(names) < 2 or not events.any():
        return {"statistic": math.nan, "df": math.nan, "p": math.nan}, pairwise
    # Columns in label order, as lifelines orders the groups.
    rank = np.empty(len(values), dtype=np.int64)
    rank[[values.index(g) for g in names]] = np.arange(len(names))
    at_risk, deaths = _risk_table(durations, rank[codes], events, w, len(names))
    statistic, df = _logrank_statistic(at_risk, deaths)
    overall = {"statistic": statistic, "df": df, "p": float(chi2.sf(statistic, df))}
    if reference not in names:
        return overall, pairwise
    ref = names.index(reference)
    for name in others:
        j = names.index(name)
        pair = [ref, j] if ref < j else [j, ref]
        if not deaths[:, pair].any():
            continue
        stat, dof = _logrank_statistic(at_risk[:, pair], deaths[:, pair])
        pairwise.loc[name] = [stat, float(chi2.sf(stat, dof))]
    return overall, pairwise


def _risk_table(
    durations: np.ndarray, groups: np.ndarray, events: np.ndarray, weights: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per event time (rows, ascending) and group (columns): summed weight at risk and of events."""
    times = np.unique(durations[events])
    at_risk = np.empty((times.size, n_groups))
    deaths = np.zeros((times.size, n_groups))
    for g in range(n_groups):
        mine = groups == g
        d, w = durations[mine], weights[mine]
        order = np.argsort(d, kind="stable")
        d, w = d[order], w[order]
        later = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])  # weight with duration >= d[i]
        at_risk[:, g] = later[np.searchsorted(d, times, side="left")]
        dead = events[mine][order]
        deaths[:, g] = np.bincount(np.searchsorted(times, d[dead]), weights=w[dead], minlength=times.size)
    return at_risk, deaths


def _logrank_statistic(at_risk: np.ndarray, deaths: np.ndarray) -> tuple[float, float]:
    """Lifelines' ``multivariate_logrank_test`` statistic (and df) from a risk table.

    The same formula: observed minus expected events per group, the hypergeometric covariance
    with the ``(n - d) / (n - 1)`` ties factor, the quadratic form over all groups but the last
    (pseudo-inverse). Times where no group has an event add nothing and are dropped.
    """
    keep = deaths.sum(axis=1) > 0
    n_ij, o_ij = at_risk[keep], deaths[keep]
    d_i = o_ij.sum(axis=1)
    n_i = n_ij.sum(axis=1)
    z = (o_ij - n_ij * (d_i / n_i)[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ties = (n_i - d_i) / (n_i - 1)
    ties[~np.isfinite(ties)] = 1.0
    factor = ties * d_i / n_i**2
    scaled = n_ij * np.sqrt(factor)[:, None]
    v = -(scaled.T @ scaled)
    v[np.diag_indices_from(v)] += (n_ij * (n_i * factor)[:, None]).sum(axis=0)
    k = n_ij.shape[1] - 1
    statistic = float(z[:k] @ np.linalg.pinv(v[:k, :k]) @ z[:k])
    return statistic, float(k)


def group_codes(labels: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and the string value of each code (``str`` of the values, as ``astype(str)``).

    A categorical column (how :func:`compare_table` passes groups) is read off its codes;
    anything else is hashed once. Values whose strings coincide share a code.

    Parameters
    ----------
    labels : pandas.Series
        The group of each row (missing values form their own group, ``"nan"``).

    Returns
    -------
    codes : numpy.ndarray of int64
        Per row, the position of its group in ``names``.
    names : list of str
        The groups' strings, in order of first appearance (categories: in category order).
    """
    if isinstance(labels.dtype, pd.CategoricalDtype):
        codes = labels.cat.codes.to_numpy().astype(np.int64)
        uniques = list(labels.cat.categories)
        if (codes < 0).any():
            codes = np.where(codes < 0, len(uniques), codes)
            uniques.append(math.nan)
    else:
        codes, uniques = pd.factorize(labels, use_na_sentinel=False)
        codes = np.asarray(codes, dtype=np.int64)
    strings = [str(v) for v in uniques]
    distinct = list(dict.fromkeys(strings))
    if len(distinct) < len(strings):
        to = np.array([distinct.index(v) for v in strings], dtype=np.int64)
        codes = to[codes]
    return codes, distinct


def chi_square(retained: np.ndarray, eligible: np.ndarray) -> tuple[float, float, float]:
    """Pearson's chi-square test that the retained share is the same in every group.

    scipy's ``chi2_contingency`` (no continuity correction) of the groups x (retained, not
    retained) table, over the groups with eligible users.

    Parameters
    ----------
    retained, eligible : numpy.ndarray
        Per group, the retained and the eligible users.

    Returns
    -------
    tuple of float
        ``(statistic, degrees of freedom, p)``; all NaN when fewer than two groups have eligible
        users or no group has a retained (or a not retained) user, so the test is undefined.

    Examples
    --------
    >>> import numpy as np
    >>> stat, dof, p = chi_square(np.array([30, 10]), np.array([50, 50]))
    >>> round(stat, 3), dof
    (16.667, 1.0)
    """
    ok = eligible > 0
    table = np.column_stack([retained[ok], eligible[ok] - retained[ok]])
    if table.shape[0] < 2 or (table.sum(axis=0) == 0).any():
        return math.nan, math.nan, math.nan
    stat, p, dof, _ = chi2_contingency(table, correction=False)
    return float(stat), float(dof), float(p)


__all__ = ["GROUP", "adjust_pvalues", "chi_square", "group_codes", "logrank_tests"]
