"""The survival figures of a segment comparison: Kaplan-Meier per group, TTFV incidence, log-rank.

:func:`survival_figures` runs them on the users a survival figure can use (those churned or with
``lifetime_days > 0`` once durations are on the grid, see
:mod:`onboarding_analysis.analyses.segments`), compressed to unique rows with frequency weights
when that pays (:mod:`onboarding_analysis.stats.compression`; lossless) and otherwise sorted by
duration once. :class:`PreparedTable` holds what the comparisons of one table share.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import columns as C
from ..errors import StatisticalWarning
from ..stats.compression import WEIGHT, compress, round_durations
from ..stats.hypothesis import GROUP, logrank_tests
from .incidence import aalen_johansen
from .lifetime import LifetimeResult, fit_lifetime
from .segment_groups import SegmentGroups
from .ttfv import DURATION, EVENT, VALUE_CAUSE, competing_risks_data

__all__ = ["PreparedTable", "SurvivalFigures", "cif_se_before", "survival_figures"]

_DURATION, _EVENT = C.LIFETIME, C.CHURNED


@dataclass(frozen=True, eq=False)
class SurvivalFigures:
    """What :func:`survival_figures` returns.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``lifetime_days`` (on the grid), ``churned`` and ``group`` of every user, in the order
        of ``by_time``.
    by_time : numpy.ndarray or slice
        The order of ``frame``'s rows in the table (a slice when the rows are compressed).
    informative, active : numpy.ndarray
        Per user (table order): enters the survival figures; active after signup (the Cox users).
    compress_rows : bool
        Whether the fits ran on compressed rows.
    fits : dict of str to LifetimeResult
        Kaplan-Meier fit per group.
    incidence : dict of str to pandas.DataFrame
        Aalen-Johansen table of reaching value per group.
    overall : dict
        The global log-rank test (``statistic, df, p``).
    pairwise : pandas.DataFrame
        Pairwise log-rank tests against the reference (``statistic, p`` per group).
    notes : tuple of str
        Users left out of the survival figures.
    """

    frame: pd.DataFrame
    by_time: np.ndarray | slice
    informative: np.ndarray
    active: np.ndarray
    compress_rows: bool
    fits: dict[str, LifetimeResult]
    incidence: dict[str, pd.DataFrame]
    overall: dict
    pairwise: pd.DataFrame
    notes: tuple[str, ...]


def survival_figures(
    prepared: PreparedTable,
    groups: SegmentGroups,
    *,
    compress_rows: bool,
    days: list[int],
    horizon_days: float,
    alpha: float,
    label: str,
) -> SurvivalFigures:
    """Kaplan-Meier fits, TTFV incidence and log-rank tests per group of one comparison.

    Parameters
    ----------
    prepared : PreparedTable
        The per-user terms of the table.
    groups : SegmentGroups
        The groups of the compared column.
    compress_rows : bool
        Fit on unique rows with frequency weights where durations repeat enough for it to pay.
    days : list of int
        Retention days of the Kaplan-Meier fits.
    horizon_days : float
        RMST horizon.
    alpha : float
        Level of the ``1 - alpha`` intervals.
    label : str
        Name of the comparison, in the warning below.

    Returns
    -------
    SurvivalFigures
        The fits, incidence tables and tests, with the rows they were computed on.

    Warns
    -----
    StatisticalWarning
        When the RMST horizon lies beyond a group's longest observed lifetime.
    """
    lifetime, churned, grid = prepared.lifetime, prepared.churned, prepared.grid
    # Durations on the grid once, here (rounding again downstream changes nothing), so that a
    # user censored within the first grid step is left out of every survival figure alike.
    rounded = prepared.rounded
    informative = churned | (rounded > 0)
    # Compression is lossless (every figure equals the one on the users' rows), so it is only a
    # question of speed: on exact durations that hardly repeat it shrinks nothing and costs a
    # group-by of every row per figure, so it is skipped there.
    compress_rows = compress_rows and _pays_to_compress(rounded)
    frame = pd.DataFrame(
        {_DURATION: rounded, _EVENT: churned, GROUP: groups.labels}, index=prepared.table.index
    )
    # Every survival figure below sorts its durations; sorted once here, those sorts are nearly
    # free (about 1.5 s of 10 on five comparisons of a million users). Row order changes no
    # figure. Compressed rows come out of a group-by already sorted: no need there.
    by_time = slice(None) if compress_rows else prepared.by_time
    frame = frame.iloc[by_time]
    surv = frame[informative[by_time]]
    notes = []
    left_out = int((~informative).sum())
    if left_out:
        notes.append(
            f"{left_out} users censored at 0 (not observable yet: younger than the churn delay) are left "
            f"out of the survival figures, as in the overall lifetime curve"
        )
    # One table of the survival users (compressed once) for the curves and the log-rank tests.
    surv_rows, surv_weights = _survival_rows(surv, compress_rows=compress_rows, grid=grid)
    fits, beyond = _lifetime_fits(
        surv_rows, groups.order, days=days, horizon=horizon_days, alpha=alpha, weights=surv_weights
    )
    if beyond:
        warnings.warn(
            f"{label}: rmst_horizon_days={horizon_days:g} lies beyond the longest observed lifetime of "
            f"group(s) {beyond}: their RMST assumes the last survival value holds until the horizon",
            StatisticalWarning,
            stacklevel=4,
        )
    incidence = _ttfv_tables(prepared, groups.labels, groups.order, alpha=alpha, compress_rows=compress_rows)
    # Log-rank on the survival users (the never-active atom included: it is part of the curve).
    overall, pairwise = logrank_tests(surv_rows, GROUP, groups.reference, weights=surv_weights)
    return SurvivalFigures(
        frame=frame,
        by_time=by_time,
        informative=informative,
        active=lifetime > 0,
        compress_rows=compress_rows,
        fits=fits,
        incidence=incidence,
        overall=overall,
        pairwise=pairwise,
        notes=tuple(notes),
    )


class PreparedTable:
    """Per-user terms of a facts table that every comparison on it shares (any column).

    :func:`~onboarding_analysis.analyses.segments.compare_all` makes one for all its columns: the
    durations on the grid, their sort order and the competing-risks (TTFV) durations sorted
    likewise (the sorts only when an exact, uncompressed comparison asks for them).

    Parameters
    ----------
    table : pandas.DataFrame
        The user-facts table.
    grid : float or None
        The duration grid in hours (None: exact durations).
    """

    def __init__(self, table: pd.DataFrame, grid: float | None) -> None:
        self.table, self.grid = table, grid
        self.lifetime = table[C.LIFETIME].to_numpy(dtype=float)
        self.churned = table[C.CHURNED].to_numpy(dtype=bool)
        self.rounded = round_durations(self.lifetime, grid)

    @functools.cached_property
    def ttfv(self) -> pd.DataFrame:
        """``duration, event`` of the competing risks, durations on the grid, in table order.

        Returns
        -------
        pandas.DataFrame
            One row per user of the table.
        """
        data = competing_risks_data(self.table)
        data[DURATION] = round_durations(data[DURATION].to_numpy(dtype=float), self.grid)
        return data

    @functools.cached_property
    def by_time(self) -> np.ndarray:
        """The order of the users by lifetime on the grid.

        Returns
        -------
        numpy.ndarray
            Row positions, shortest lifetime first.
        """
        return np.argsort(self.rounded)

    @functools.cached_property
    def ttfv_sorted(self) -> tuple[pd.DataFrame, np.ndarray]:
        """:attr:`ttfv` sorted by duration, and that order.

        Returns
        -------
        (pandas.DataFrame, numpy.ndarray)
            The sorted rows and their positions in the table.
        """
        data = self.ttfv
        order = np.argsort(data[DURATION].to_numpy())
        return data.iloc[order], order


def cif_se_before(table: pd.DataFrame, t: float) -> tuple[float, float, float, float]:
    """``(cif, se, ci_low, ci_high)`` of an Aalen-Johansen table just before ``t``.

    The same row as :func:`onboarding_analysis.analyses.ttfv.cif_before` ("reached by day N" is a
    duration ``< N``), with the standard error that ``cif_before`` does not return.

    Parameters
    ----------
    table : pandas.DataFrame
        An Aalen-Johansen table (``time, cif, se, ci_low, ci_high``), sorted by time.
    t : float
        The day: the last row before it is read (the first row if none is before).

    Returns
    -------
    tuple of float
        ``(cif, se, ci_low, ci_high)``.
    """
    times = table["time"].to_numpy(dtype=float)
    row = max(int(np.searchsorted(times, t, side="left")) - 1, 0)
    return tuple(float(table[col].iat[row]) for col in ("cif", "se", "ci_low", "ci_high"))  # type: ignore[return-value]


def _pays_to_compress(durations: np.ndarray) -> bool:
    """True when at most half as many distinct durations as rows (compression then pays)."""
    return len(pd.unique(durations)) <= len(durations) / 2


def _survival_rows(frame: pd.DataFrame, *, compress_rows: bool, grid) -> tuple[pd.DataFrame, str | None]:
    """The survival users' (group, duration, event) rows, compressed or not, and the weights."""
    if compress_rows:
        return compress(frame, [GROUP, _DURATION, _EVENT], duration=_DURATION, grid_hours=grid), WEIGHT
    return frame.assign(**{_DURATION: round_durations(frame[_DURATION], grid)}), None


def _lifetime_fits(
    frame: pd.DataFrame, order: list[str], *, days, horizon: float, alpha: float, weights: str | None
) -> tuple[dict[str, LifetimeResult], list[str]]:
    """Kaplan-Meier fit per group, and the groups whose RMST horizon lies beyond their data."""
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


def _ttfv_tables(
    prepared: PreparedTable, labels: pd.Categorical, order: list[str], *, alpha: float, compress_rows: bool
) -> dict[str, pd.DataFrame]:
    """Aalen-Johansen table of reaching value per group."""
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
