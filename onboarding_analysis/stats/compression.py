"""Scale by compression: unique rows with frequency weights, and fits that honour them.

A million users have far fewer distinct ``(duration, event, group)`` combinations than rows once
durations sit on a grid. :func:`compress` collapses them into one row per combination with an
integer ``weight`` (how many users the row stands for); the estimators then run on the small
table (DESIGN.md, "Statistics").

What is exact and what is not
-----------------------------
* **Kaplan-Meier and log-rank: exact.** lifelines' ``KaplanMeierFitter`` and
  ``logrank_test`` / ``multivariate_logrank_test`` sum the weights into the same at-risk and
  event counts as the replicated rows: survival, its confidence band, the log-rank statistic and
  p-value are identical (tests/test_compression.py checks equality on tied data, waltons
  included). The Aalen-Johansen estimator of :mod:`onboarding_analysis.analyses.ttfv` is exact too.
* **Cox with** :func:`efron_cox` **(what the segment comparisons use): exact.** A vectorised
  Newton-Raphson of the Efron partial likelihood in which a row of weight ``w`` counts as ``w``
  users, also in the Efron steps of tied deaths: the estimate, standard errors, Wald p-values and
  :func:`efron_ph_test` equal lifelines' on the replicated rows (tests/test_compression.py: to
  1e-9 against lifelines run to convergence; lifelines' default stopping rule leaves its own
  estimate up to ~1e-5 relative from the maximum). A million rows fit in about a second.
* **Cox with lifelines' CoxPHFitter** on weighted rows is not exact with heavy ties (its Efron
  step counts tied rows, not weights); ``tests/lifelines_cox.py`` keeps that path, with the
  splitting of tied death rows that brings it within a hundredth of a standard error, as the
  reference the tests compare :func:`efron_cox` with.
* **Proportional-hazards check:** :func:`efron_ph_test` for :func:`efron_cox` fits: exact, on
  every row, vectorised, lifelines' statistic (Grambsch & Therneau 1994) with every sum weighted
  and the Kaplan-Meier time transform.

The time grid
-------------
Continuous durations rarely tie, so they compress only on a grid: params
``compression_grid_hours`` (None = exact values). Durations are rounded **down** to the grid
(:func:`round_durations`). Rounding down keeps every event "before day N" on the same side of N
when N is a grid point: ``floor(L) >= N`` iff ``L >= N``, so ``P(lifetime >= N)`` ("survival
at day N", METRICS.md) and ``P(TTFV < N)`` are computed from the same users as without the grid;
rounding *up* would move lifetimes in ``(N - grid, N)`` to ``N`` and count them as still there
at day N. The grid must divide a day (0.25, 0.5, 1, 2, 3, 4, 6, 8, 12 or 24 hours) so that every
whole day is a grid point. What changes is only the order of events inside one grid cell (a
censoring and a churn in the same hour tie, and a tie counts the censored user as at risk), and
lifetimes shorten by less than one grid step, which lowers the RMST by about half a step. On the
demo (persona, 1 h grid against exact durations; tests/test_compression.py): survival at days 1,
7 and 30 moves by less than 0.01 of its standard error, the log hazard ratios by 0.0012 SE at
most, the RMST by -0.014 days (SE 0.83). A user censored within the first grid step (under the
inactivity rule: ``age`` within one step above ``inactivity_days``) is rounded to a censoring at
0 and left out of the lifetime fits like every user censored at 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import chi2

from ..errors import DataError, ParamsError
from .cox_checks import NotEstimable, exp_or_nan, monotone_columns, runaway_columns

__all__ = [
    "WEIGHT",
    "efron_cox_on",
    "check_grid_hours",
    "compress",
    "compress_codes",
    "compress_flagged",
    "covariate_columns",
    "CoxFit",
    "efron_cox",
    "efron_ph_test",
    "round_durations",
]

#: Name of the frequency-weight column written by :func:`compress`.
WEIGHT = "weight"
#: Hours per day.
HOURS_PER_DAY = 24.0
# Durations are fractional days computed from microseconds, so a duration meant to lie on a grid
# point can land an ulp below it; within this many hours of a grid point counts as on it (0.36
# microseconds: below the microsecond resolution of the facts, so an event one microsecond before
# a grid point stays before it).
_GRID_TOLERANCE_HOURS = 1e-10


def check_grid_hours(grid_hours: float | None) -> float | None:
    """Return ``grid_hours`` as a float (None stays None), or raise ``ParamsError``.

    The grid must divide a day, so that every whole day N is a grid point and "survival at day
    N" is unchanged by the rounding (see the module docstring).

    Examples
    --------
    >>> check_grid_hours(1), check_grid_hours(None)
    (1.0, None)
    """
    if grid_hours is None:
        return None
    try:
        value = float(grid_hours)
    except (TypeError, ValueError) as err:
        raise ParamsError(
            f"compression_grid_hours must be None or a number of hours dividing 24, but was {grid_hours!r}"
        ) from err
    steps = HOURS_PER_DAY / value if value > 0 else math.nan
    if isinstance(grid_hours, bool) or not math.isfinite(steps) or abs(steps - round(steps)) > 1e-9:
        raise ParamsError(
            f"compression_grid_hours must divide a day so that every day N is a grid point "
            f"(e.g. 0.5, 1, 2, 6, 24), but was {grid_hours!r}; use null for exact durations"
        )
    return value


def round_durations(durations: ArrayLike, grid_hours: float | None) -> np.ndarray:
    """Round durations (days) *down* to a grid of ``grid_hours``; None returns them unchanged.

    Parameters
    ----------
    durations : array-like of float
        Durations in days (NaN stays NaN).
    grid_hours : float or None
        Grid step in hours; it must divide 24.

    Returns
    -------
    numpy.ndarray
        ``floor(hours / grid) * grid / 24``: a duration exactly on a grid point stays there, so
        whole days stay whole.

    Examples
    --------
    >>> round_durations([0.0, 0.99, 1.0, 1.02], 1).round(4).tolist()
    [0.0, 0.9583, 1.0, 1.0]
    """
    grid = check_grid_hours(grid_hours)
    values = np.asarray(durations, dtype=float)
    if grid is None:
        return values.copy()
    steps = np.floor(values * (HOURS_PER_DAY / grid) + _GRID_TOLERANCE_HOURS / grid)
    return steps * grid / HOURS_PER_DAY


def compress(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    duration: str | None = None,
    grid_hours: float | None = None,
    weights: str | None = None,
) -> pd.DataFrame:
    """Collapse ``frame`` to its unique rows over ``columns``, with integer frequency weights.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per user (or already weighted rows, see ``weights``).
    columns : sequence of str
        The columns that identify a row after compression (e.g. duration, event, group,
        covariates). Missing values form their own rows.
    duration : str, optional
        A column of ``columns`` holding durations in days, rounded down to ``grid_hours``
        before grouping.
    grid_hours : float, optional
        Grid for ``duration`` (:func:`round_durations`); None keeps exact values.
    weights : str, optional
        A column of existing frequency weights to sum (default: each row counts once).

    Returns
    -------
    pandas.DataFrame
        ``columns`` plus ``weight`` (int64), one row per distinct combination, sorted by
        ``columns``. Fitting a weighted estimator on it equals fitting the expanded rows (see
        the module docstring for the one exception, tied deaths in Cox).

    Examples
    --------
    >>> import pandas as pd
    >>> users = pd.DataFrame({"days": [1.0, 1.0, 2.5, 2.6], "churned": [True, True, False, False]})
    >>> compress(users, ["days", "churned"], duration="days", grid_hours=24)
       days  churned  weight
    0   1.0     True       2
    1   2.0    False       2
    """
    columns = list(columns)
    data = _keyed(frame, columns, duration=duration, grid_hours=grid_hours, weights=weights)
    if weights is None:
        data[WEIGHT] = np.ones(len(frame), dtype=np.int64)
    else:
        w = pd.to_numeric(frame[weights], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(w).all() or (w < 1).any() or (w != np.floor(w)).any():
            raise ValueError(f"compress: weights column {weights!r} must hold whole numbers >= 1")
        data[WEIGHT] = w.astype(np.int64)
    if not columns:
        return pd.DataFrame({WEIGHT: [int(data[WEIGHT].sum())]}, dtype=np.int64)
    out = data.groupby(columns, sort=True, dropna=False, observed=True)[WEIGHT].sum().reset_index()
    out[WEIGHT] = out[WEIGHT].astype(np.int64)
    return out


def _keyed(
    frame: pd.DataFrame,
    columns: list[str],
    *,
    duration: str | None,
    grid_hours: float | None,
    weights: str | None = None,
) -> pd.DataFrame:
    """``frame[columns]`` checked, with ``duration`` rounded to ``grid_hours`` (the keys of a compression)."""
    missing = [col for col in (*columns, *([weights] if weights else [])) if col not in frame.columns]
    if missing:
        raise DataError(
            f"compress: column(s) {missing} are not in the table (columns: {list(frame.columns)})"
        )
    if WEIGHT in columns:
        raise ValueError(f"compress: {WEIGHT!r} names the output weight column; it cannot be a key column")
    if duration is not None and duration not in columns:
        raise ValueError(f"compress: duration {duration!r} must be one of the columns {columns}")
    data = frame[columns].copy()
    if duration is not None and grid_hours is not None:
        data[duration] = round_durations(data[duration].to_numpy(dtype=float), grid_hours)
    return data


def compress_codes(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    duration: str | None = None,
    grid_hours: float | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The unique rows of ``frame`` over ``columns`` and, per row, the position of its unique row.

    ``unique.assign(weight=np.bincount(codes))`` is ``compress(frame, columns, duration=...,
    grid_hours=...)`` (same rows, same order). With :func:`compress_flagged`, tables that share
    ``columns`` and differ by one 0/1 column (one Cox fit per flag, as in
    :func:`onboarding_analysis.analyses.drivers.early_behaviours`) are compressed from one grouping
    instead of one each.

    Returns
    -------
    codes : numpy.ndarray of int64
        Per row of ``frame``, its row in ``unique``.
    unique : pandas.DataFrame
        ``columns``, one row per distinct combination (missing values included), sorted.

    Examples
    --------
    >>> import pandas as pd
    >>> codes, unique = compress_codes(pd.DataFrame({"days": [2.0, 1.0, 2.0]}), ["days"])
    >>> codes.tolist(), unique["days"].tolist()
    ([1, 0, 1], [1.0, 2.0])
    """
    columns = list(columns)
    if not columns:
        raise ValueError("compress_codes: name at least one column")
    data = _keyed(frame, columns, duration=duration, grid_hours=grid_hours)
    codes = data.groupby(columns, sort=True, dropna=False, observed=True).ngroup().to_numpy(dtype=np.int64)
    _, first = np.unique(codes, return_index=True)  # codes are 0..k-1: the first row of each
    return codes, data.iloc[first].reset_index(drop=True)


def compress_flagged(codes: np.ndarray, unique: pd.DataFrame, flag: ArrayLike, name: str) -> pd.DataFrame:
    """``compress`` of the rows of :func:`compress_codes` with a 0/1 column ``name`` added.

    Equals ``compress(frame.assign(**{name: flag}), [*columns, name], ...)`` up to row order
    (here sorted by ``columns``, then ``name``), with ``name`` as float 0.0/1.0: one
    ``bincount`` over the rows, no grouping.

    Examples
    --------
    >>> import pandas as pd
    >>> codes, unique = compress_codes(pd.DataFrame({"days": [2.0, 1.0, 2.0]}), ["days"])
    >>> compress_flagged(codes, unique, [True, False, False], "did")
       days  did  weight
    0   1.0  0.0       1
    1   2.0  0.0       1
    2   2.0  1.0       1
    """
    if name in unique.columns or name == WEIGHT:
        raise ValueError(f"compress_flagged: {name!r} is already a column of the compressed rows")
    flag = np.asarray(flag)
    if flag.shape != codes.shape:
        raise ValueError(f"compress_flagged: {len(flag)} flags for {len(codes)} rows")
    pairs = codes * 2 + flag.astype(bool)
    counts = np.bincount(pairs, minlength=2 * len(unique))
    keep = np.flatnonzero(counts)
    out = unique.iloc[keep // 2].reset_index(drop=True)
    out[name] = (keep % 2).astype(float)
    out[WEIGHT] = counts[keep].astype(np.int64)
    return out


def covariate_columns(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Cox covariates for adjustment: numeric and boolean columns as is, others as dummies.

    A categorical column gets one 0/1 column ``"<column>=<value>"`` per value except its most
    frequent one (the reference; ties broken by name); missing values are their own category
    ``"(missing)"``. Columns with a single value carry no information and are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> covariate_columns(pd.DataFrame({"plan": ["free", "pro", "free"], "age": [1, 2, 3]}), ["plan", "age"])
       plan=pro  age
    0       0.0  1.0
    1       1.0  2.0
    2       0.0  3.0
    """
    out = {}
    for column in columns:
        if column not in table.columns:
            raise DataError(f"adjustment column {column!r} is not in the user-facts table")
        series = table[column]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            values = pd.to_numeric(series, errors="coerce").astype(float)
            if values.isna().any():
                raise DataError(f"adjustment column {column!r} has missing values; fill or drop them first")
            if values.nunique() > 1:
                out[column] = values.to_numpy()
            continue
        # Integer codes once per column: comparing codes is ~10x cheaper than comparing the
        # strings once per value (3.4 s -> 0.3 s for 4 columns at 1M users).
        codes, values = pd.factorize(series.astype("string").fillna("(missing)"), sort=True)
        counts = np.bincount(codes, minlength=len(values))
        if len(values) < 2:
            continue
        reference = int(np.flatnonzero(counts == counts.max())[0])  # sorted: ties by name
        for k, value in enumerate(values):
            if k != reference:
                out[f"{column}={value}"] = (codes == k).astype(float)
    return pd.DataFrame(out, index=table.index)


# --- a vectorised Cox fit with exact frequency weights ----------------------------------------


class CoxFit:
    """A Cox model fitted by :func:`efron_cox`: the attributes of lifelines' ``CoxPHFitter``
    that the segment comparisons read, with the same names.

    Attributes
    ----------
    params_ : pandas.Series
        Log hazard ratios.
    standard_errors_ : pandas.Series
        Their standard errors (inverse observed information).
    variance_matrix_ : pandas.DataFrame
        Inverse observed information.
    confidence_intervals_ : pandas.DataFrame
        ``1 - alpha`` Wald intervals of the coefficients (columns as in lifelines).
    summary : pandas.DataFrame
        ``coef, exp(coef), se(coef), coef lower/upper, exp(coef) lower/upper, z, p`` (Wald).
    log_likelihood_ : float
        Efron partial log-likelihood at the estimate.
    alpha : float
        Level of the intervals.
    users, deaths : int
        Summed weight of the rows, and of the rows with an event.
    rows : int
        Rows of the fitted table.
    iterations : int
        Newton-Raphson iterations.
    """

    def __init__(self, names, beta, variance, loglik, alpha, users, deaths, rows, iterations, data):
        self.alpha = alpha
        self.params_ = pd.Series(beta, index=pd.Index(names, name="covariate"), name="coef")
        self.variance_matrix_ = pd.DataFrame(variance, index=list(names), columns=list(names))
        se = np.sqrt(np.diag(variance))
        self.standard_errors_ = pd.Series(se, index=self.params_.index, name="se")
        z = norm_ppf(1 - alpha / 2)
        level = round(100 * (1 - alpha))
        lower, upper = beta - z * se, beta + z * se
        self.confidence_intervals_ = pd.DataFrame(
            {f"{level}% lower-bound": lower, f"{level}% upper-bound": upper}, index=self.params_.index
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            wald = beta / se
        self.summary = pd.DataFrame(
            {
                "coef": beta,
                "exp(coef)": exp_or_nan(beta),
                "se(coef)": se,
                f"coef lower {level}%": lower,
                f"coef upper {level}%": upper,
                f"exp(coef) lower {level}%": exp_or_nan(lower),
                f"exp(coef) upper {level}%": exp_or_nan(upper),
                "z": wald,
                "p": chi2.sf(wald**2, 1),
            },
            index=self.params_.index,
        )
        self.log_likelihood_ = float(loglik)
        self.users, self.deaths, self.rows, self.iterations = int(users), int(deaths), int(rows), iterations
        self._data = data

    def release(self) -> None:
        """Drop the sorted copy of the fitted rows (memory); :func:`efron_ph_test` needs it."""
        self._data = None

    def __repr__(self) -> str:
        return f"<CoxFit: {self.rows} rows, {self.users} users, {self.deaths} events, Efron ties>"


def norm_ppf(q: float) -> float:
    """Standard normal quantile (scipy's, imported lazily to keep this module light)."""
    from scipy.stats import norm

    return float(norm.ppf(q))


def _prepare_steps(data, d: np.ndarray) -> None:
    """Store the deaths per death time ``d`` (whole numbers) and the Efron steps they need."""
    data.d = d.astype(float)
    data.deaths = int(d.sum())
    # Efron steps of the times with several deaths (one death needs no steps: c = 0): one
    # entry per step, its time (position in `multi`) and its fraction c = l / d.
    data.multi = np.flatnonzero(d > 1)
    dm = d[data.multi]
    data.step_time = np.repeat(np.arange(data.multi.size), dm)
    starts = np.cumsum(dm) - dm
    data.step_c = (np.arange(int(dm.sum())) - np.repeat(starts, dm)) / np.repeat(dm, dm).astype(float)


def _efron_steps(data, S0: np.ndarray, T0: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per death time, the sums over the Efron steps ``l = 0 .. d-1`` of ``1/u, c/u, 1/u^2,
    c/u^2, c^2/u^2, log u`` with ``u = S0 - c T0``, ``c = l/d`` (one death: one step, c = 0).
    """
    H1 = 1.0 / S0
    H2 = H1 * H1
    LG = np.log(S0)
    C1, C2, CC2 = np.zeros_like(S0), np.zeros_like(S0), np.zeros_like(S0)
    if data.multi.size:
        m, st, c = data.multi, data.step_time, data.step_c
        u = S0[m][st] - c * T0[m][st]
        inv = 1.0 / u
        inv2 = inv * inv
        size = m.size
        H1[m] = np.bincount(st, weights=inv, minlength=size)
        C1[m] = np.bincount(st, weights=c * inv, minlength=size)
        H2[m] = np.bincount(st, weights=inv2, minlength=size)
        C2[m] = np.bincount(st, weights=c * inv2, minlength=size)
        CC2[m] = np.bincount(st, weights=c * c * inv2, minlength=size)
        LG[m] = np.bincount(st, weights=np.log(u), minlength=size)
    return H1, C1, H2, C2, CC2, LG


def _information(P, a, S1, T1, H2, C2, CC2) -> np.ndarray:
    """``sum_i a_i p_i p_i' - sum_t [H2 S1 S1' - C2 (S1 T1' + T1 S1') + CC2 T1 T1']``."""
    info = (P.T * a) @ P
    info -= (S1.T * H2) @ S1
    cross = (S1.T * C2) @ T1
    info += cross + cross.T
    info -= (T1.T * CC2) @ T1
    return info


class _EfronData:
    """Rows sorted by time with the per-time sums the Efron partial likelihood needs.

    Frequency weights are exact: a row of weight ``w`` is ``w`` identical users, and a time with
    ``d`` (summed) deaths gets ``d`` Efron steps, as the replicated rows would (lifelines counts
    rows instead, see the module docstring). The Efron sums over the steps ``l = 0 .. d - 1`` of
    ``1/u_l``, ``c_l/u_l``, ``1/u_l^2``, ... with ``u_l = S0 - c_l T0``, ``c_l = l/d`` run over one
    array of all ``D`` steps (``D`` the summed deaths), so every iteration costs ``O(n p^2 + D)``
    numpy work and no Python loop over rows or times.
    """

    def __init__(self, t, e, X, w):
        order = np.argsort(t, kind="stable")  # rows by time: the sums per time are contiguous
        t, e, X, w = t[order], e[order], X[order], w[order]
        new_time = np.concatenate([[True], t[1:] != t[:-1]]) if t.size else np.zeros(0, dtype=bool)
        self.time_start = np.flatnonzero(new_time)
        self.times = t[self.time_start]
        self.index = np.cumsum(new_time) - 1
        K = self.times.size
        self.X = X - np.average(X, axis=0, weights=w)  # centring changes no estimate, only rounding
        self.w, self.e = w, e
        self.dw = np.bincount(self.index, weights=w * e, minlength=K)  # deaths per time
        dead_times = np.flatnonzero(self.dw > 0)
        self.dead_times = dead_times
        _prepare_steps(self, np.round(self.dw[dead_times]).astype(np.int64))
        # Rows with an event, and the position of their time in dead_times.
        self.dead_rows = np.flatnonzero(e)
        position = np.full(K, -1)
        position[dead_times] = np.arange(dead_times.size)
        self.dead_pos = position[self.index[self.dead_rows]]
        self.one_row_per_death_time = self.dead_rows.size == dead_times.size
        self.xd = (w * e) @ self.X  # summed covariates of the deaths
        self.users, self.rows = float(w.sum()), t.size
        self.scale = np.sqrt(np.average(self.X**2, axis=0, weights=w))

    def _sums(self, beta):
        """``(eta, phi, H1, C1, H2, C2, CC2, LG, S1, T1, T0, S0)`` at ``beta``."""
        eta = self.X @ beta
        shift = eta.max() if eta.size else 0.0
        phi = self.w * np.exp(eta - shift)
        p = self.X.shape[1]
        # Sums of phi and phi x over the risk set of each death time: the rows are sorted by
        # time, so a reversed cumulative sum read at the first row of the time gives them.
        # (One row per quantity, so that every pass runs along contiguous memory.)
        parts = np.empty((p + 1, phi.size))
        parts[0] = phi
        np.multiply(phi, self.X.T, out=parts[1:])
        later = np.cumsum(parts[:, ::-1], axis=1)[:, ::-1]
        at_risk = later[:, self.time_start[self.dead_times]]
        S0, S1 = at_risk[0], at_risk[1:].T
        # The same sums over the deaths of each time.
        rows = self.dead_rows
        if self.one_row_per_death_time:
            T0, T1 = parts[0, rows], parts[1:, rows].T
        else:
            J = self.dead_times.size
            T0 = np.bincount(self.dead_pos, weights=parts[0, rows], minlength=J)
            T1 = np.column_stack(
                [np.bincount(self.dead_pos, weights=parts[k, rows], minlength=J) for k in range(1, p + 1)]
            )
        H1, C1, H2, C2, CC2, LG = _efron_steps(self, S0, T0)
        return eta, phi, shift, H1, C1, H2, C2, CC2, LG, S1, T1

    def evaluate(self, beta):
        """Efron log-likelihood, gradient and information (minus the Hessian) at ``beta``."""
        eta, phi, shift, H1, C1, H2, C2, CC2, LG, S1, T1 = self._sums(beta)
        e = self.e
        loglik = float((self.w * e) @ (eta - shift) - LG.sum())
        gradient = self.xd - (S1 * H1[:, None] - T1 * C1[:, None]).sum(axis=0)
        # sum_t H1_t * S2_t = sum_i phi_i x_i x_i' * (H1 summed over death times <= t_i).
        K = self.times.size
        h_all = np.zeros(K)
        h_all[self.dead_times] = H1
        coef = phi * np.cumsum(h_all)[self.index]
        coef[self.dead_rows] -= phi[self.dead_rows] * C1[self.dead_pos]
        return loglik, gradient, _information(self.X, coef, S1, T1, H2, C2, CC2)

    def ph_terms(self, beta):
        """Per death row: Schoenfeld residual (centred scale), weight, Kaplan-Meier transform."""
        means = self.efron_means(beta)
        rows = self.dead_rows
        residuals = self.X[rows] - means[self.dead_pos]
        at_risk = np.cumsum(np.bincount(self.index, weights=self.w, minlength=self.times.size)[::-1])[::-1]
        survival = np.cumprod(1.0 - self.dw / at_risk)  # the drop at the time included
        return residuals, self.w[rows], 1.0 - survival[self.index[rows]]

    def efron_means(self, beta):
        """Per death time, the Efron-averaged covariate mean of the risk set (centred scale)."""
        _, _, _, H1, C1, _, _, _, _, S1, T1 = self._sums(beta)
        return (S1 * H1[:, None] - T1 * C1[:, None]) / self.d[:, None]

    def extremes(self):
        """``(dead values, risk-set max, risk-set min, death time)`` for :func:`monotone_columns`."""
        start = self.time_start[self.dead_times]
        risk_max = np.maximum.accumulate(self.X[::-1], axis=0)[::-1][start]
        risk_min = np.minimum.accumulate(self.X[::-1], axis=0)[::-1][start]
        return self.X[self.dead_rows], risk_max, risk_min, self.dead_pos


def _checked(durations, events, X, weights):
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events).astype(bool)
    X = np.asarray(X, dtype=float)
    w = np.ones(t.size) if weights is None else np.asarray(weights, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if not (np.isfinite(t).all() and np.isfinite(X).all() and np.isfinite(w).all()):
        raise DataError("Cox fit: durations, covariates and weights must be finite")
    if (w <= 0).any() or (w != np.round(w)).any():
        raise ValueError("Cox fit: weights must be whole numbers >= 1 (frequency weights)")
    return t, e, X, w


#: Up to this many distinct covariate rows (e.g. group dummies) the fit runs on a table of
#: death times by covariate pattern instead of on the rows (:class:`_PatternData`).
MAX_PATTERNS = 64


def _patterns(X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codes, first row of each pattern)`` of the distinct rows of ``X``, or None if too many."""
    codes = np.zeros(X.shape[0], dtype=np.int64)
    for column in X.T:  # combine column by column, renumbering the combinations seen
        values, uniques = pd.factorize(column)
        if len(uniques) > MAX_PATTERNS:
            return None
        codes, seen = pd.factorize(codes * len(uniques) + values)
        if len(seen) > MAX_PATTERNS:
            return None
    codes = np.asarray(codes, dtype=np.int64)
    first = np.full(codes.max() + 1 if codes.size else 0, codes.size)
    np.minimum.at(first, codes, np.arange(codes.size))
    return codes, first


class _PatternData:
    """The Efron sums from a table of death times by covariate pattern (few distinct rows).

    With ``K`` distinct covariate rows (group dummies: one per group), the risk set of a death
    time is ``K`` numbers (the weight at risk of each pattern) and its deaths another ``K``;
    built once, each iteration is a few ``(J x K)`` products instead of passes over all rows.
    The sums are the same as :class:`_EfronData`'s, grouped differently.
    """

    def __init__(self, t, e, X, w, codes, first):
        mean = np.average(X, axis=0, weights=w)
        self.P = X[first] - mean  # the patterns, centred
        K = first.size
        self.times = np.unique(t[e])
        J = self.times.size
        self.N = np.empty((J, K))  # weight at risk (time >= t) per death time and pattern
        self.D = np.zeros((J, K))  # weight of the deaths
        self.last_time = np.empty(K)  # the pattern is at risk at the death times up to this one
        for k in range(K):
            mine = codes == k
            tk, wk, ek = t[mine], w[mine], e[mine]
            order = np.argsort(tk, kind="stable")
            tk, wk, ek = tk[order], wk[order], ek[order]
            self.last_time[k] = tk[-1]
            later = np.concatenate([np.cumsum(wk[::-1])[::-1], [0.0]])
            self.N[:, k] = later[np.searchsorted(tk, self.times, side="left")]
            self.D[:, k] = np.bincount(np.searchsorted(self.times, tk[ek]), weights=wk[ek], minlength=J)
        _prepare_steps(self, np.round(self.D.sum(axis=1)).astype(np.int64))
        self.NT, self.DT = np.ascontiguousarray(self.N.T), np.ascontiguousarray(self.D.T)
        self.dead_per_pattern = self.D.sum(axis=0)
        self.xd = self.dead_per_pattern @ self.P
        self.users, self.rows = float(w.sum()), t.size
        pattern_weight = np.bincount(codes, weights=w, minlength=K)
        self.scale = np.sqrt(pattern_weight @ self.P**2 / pattern_weight.sum())

    def _sums(self, beta):
        eta = self.P @ beta
        shift = eta.max()
        phi = np.exp(eta - shift)
        # Matrix products on the (J x K) tables: one BLAS call each (13x faster at J = 500k
        # than summing K outer products).
        Q = phi[:, None] * self.P
        S0, T0 = self.N @ phi, self.D @ phi
        S1, T1 = self.N @ Q, self.D @ Q
        return eta, phi, shift, S0, S1, T0, T1, *_efron_steps(self, S0, T0)

    def evaluate(self, beta):
        eta, phi, shift, S0, S1, T0, T1, H1, C1, H2, C2, CC2, LG = self._sums(beta)
        loglik = float(self.dead_per_pattern @ (eta - shift) - LG.sum())
        gradient = self.xd - (H1 @ S1 - C1 @ T1)
        a = phi * (self.NT @ H1 - self.DT @ C1)
        return loglik, gradient, _information(self.P, a, S1, T1, H2, C2, CC2)

    def ph_terms(self, beta):
        """Per (death time, pattern) cell with deaths: residual, weight, Kaplan-Meier transform."""
        _, _, _, _, S1, _, T1, H1, C1, _, _, _, _ = self._sums(beta)
        means = (S1 * H1[:, None] - T1 * C1[:, None]) / self.d[:, None]
        survival = np.cumprod(1.0 - self.d / self.N.sum(axis=1))
        j, k = np.nonzero(self.D)
        return self.P[k] - means[j], self.D[j, k], 1.0 - survival[j]

    def extremes(self):
        """``(dead values, risk-set max, risk-set min, death time)`` for :func:`monotone_columns`."""
        # At death time t the patterns at risk are those whose last time is >= t: the first m of
        # the patterns sorted latest first, so the risk-set extremes are running extremes (O(J + K)
        # per column instead of a J x K pass).
        order = np.argsort(-self.last_time, kind="stable")
        m = np.searchsorted(-self.last_time[order], -self.times, side="right")  # >= 1: the dying one
        ranked = self.P[order]
        risk_max = np.maximum.accumulate(ranked, axis=0)[m - 1]
        risk_min = np.minimum.accumulate(ranked, axis=0)[m - 1]
        j, k = np.nonzero(self.D)
        return self.P[k], risk_max, risk_min, j


def efron_cox_on(
    data: pd.DataFrame,
    covariates: list[str],
    *,
    compress_rows: bool,
    grid_hours: float | None,
    alpha: float = 0.05,
) -> CoxFit:
    """:func:`efron_cox` of ``data``'s ``duration``/``event`` columns on ``covariates``.

    ``compress_rows``: fitted on the unique rows with frequency weights (exact: the same fit);
    ``grid_hours``: durations rounded down to that grid first (params
    ``compression_grid_hours``; None keeps them exact).
    """
    if compress_rows:
        rows = compress(data, ["duration", "event", *covariates], duration="duration", grid_hours=grid_hours)
        weights = rows[WEIGHT].to_numpy()
    else:
        rows = data.assign(duration=round_durations(data["duration"].to_numpy(dtype=float), grid_hours))
        weights = None
    return efron_cox(rows["duration"], rows["event"], rows[covariates], weights=weights, alpha=alpha)


def efron_cox(
    durations: ArrayLike,
    events: ArrayLike,
    covariates: pd.DataFrame,
    *,
    weights: ArrayLike | None = None,
    alpha: float = 0.05,
    max_steps: int = 100,
    tolerance: float = 1e-10,
    by_pattern: bool | None = None,
) -> CoxFit:
    """Cox proportional-hazards fit (Efron ties) by Newton-Raphson, frequency weights exact.

    The estimate, standard errors and Wald p-values equal those of lifelines' ``CoxPHFitter``
    (Efron ties) on the replicated rows (each row repeated ``weight`` times), up to both fits'
    convergence tolerance (lifelines stops within about ``1e-7`` of the maximum; this fit
    iterates until the Newton step is below ``tolerance``). So a compressed table gives the
    same fit as the users it stands for, with or without tied deaths: no splitting of death
    rows is needed (:func:`split_tied_deaths` makes lifelines' weighted fit approximate it).
    Fully vectorised: a million rows fit in about a second (lifelines loops over rows in
    Python).

    Parameters
    ----------
    durations, events : array-like
        Durations and event indicators, one per row.
    covariates : pandas.DataFrame
        Numeric covariate columns (the names of the coefficients), one row per row.
    weights : array-like, optional
        Whole-number frequency weights (default 1).
    alpha : float, default 0.05
        Level of the intervals.
    max_steps, tolerance : int, float
        Newton-Raphson stops when the largest step is below ``tolerance`` (in units of the
        covariates' standard deviation) or after ``max_steps`` (``NotEstimable``).
    by_pattern : bool or None
        None (default): when the covariates take at most :data:`MAX_PATTERNS` distinct rows
        (group dummies), compute from a table of death times by pattern, else from the rows;
        False: always from the rows (the same figures; for checks).

    Returns
    -------
    CoxFit

    Raises
    ------
    onboarding_analysis.stats.cox_checks.NotEstimable
        (a lifelines ``ConvergenceError``) The model has no estimate: no events, a covariate in
        which the likelihood is monotone (separation) or that is constant among the rows at
        risk, singular information (collinear covariates), no convergence, or a coefficient that
        ran off (:mod:`onboarding_analysis.stats.cox_checks`). ``covariates`` names the coefficients
        responsible where they are known.

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> rossi = load_rossi()
    >>> fit = efron_cox(rossi["week"], rossi["arrest"], rossi[["fin", "age", "prio"]])
    >>> round(float(fit.params_["fin"]), 3)
    -0.347
    """
    names = list(covariates.columns)
    t, e, X, w = _checked(durations, events, covariates.to_numpy(dtype=float), weights)
    if not e.any():
        raise NotEstimable("no churn at all: the partial likelihood is flat")
    found = _patterns(X) if by_pattern is not False else None
    data = _PatternData(t, e, X, w, *found) if found is not None else _EfronData(t, e, X, w)
    values = data.P if found is not None else data.X
    separated = monotone_columns(*data.extremes(), values, names)
    if separated:
        raise NotEstimable(_blame(separated), separated)
    p = len(names)
    users = data.users
    scale = data.scale.copy()
    scale[scale == 0] = 1.0
    beta = np.zeros(p)
    # Far from the maximum the sums can under- or overflow; a non-finite likelihood or step
    # is caught below, so numpy's warnings about it are silenced (they are not the user's).
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        loglik, gradient, info = data.evaluate(beta)
        iterations = 0
        while True:
            iterations += 1
            try:
                step = np.linalg.solve(info, gradient)
            except np.linalg.LinAlgError as err:
                raise NotEstimable(
                    "singular information matrix (collinear covariates, or separation by a combination of them)"
                ) from err
            if not np.isfinite(step).all():
                raise NotEstimable("the Newton step is not finite (monotone likelihood)")
            size = 1.0
            while True:
                candidate = beta + size * step
                new = data.evaluate(candidate)
                if np.isfinite(new[0]) and new[0] >= loglik - 1e-12 * abs(loglik):
                    break
                size /= 2
                if size < 1e-8:
                    raise NotEstimable("the log-likelihood does not increase along the Newton step")
            beta = candidate
            loglik, gradient, info = new
            if np.max(np.abs(size * step) * scale) < tolerance:
                break
            if iterations >= max_steps:
                raise NotEstimable(
                    f"no convergence in {max_steps} Newton-Raphson steps (monotone likelihood, or "
                    f"separation by a combination of covariates)"
                )
        try:
            variance = np.linalg.inv(info)
        except np.linalg.LinAlgError as err:
            raise NotEstimable("singular information matrix at the estimate") from err
        se = np.sqrt(np.diag(variance))
    spread = X.max(axis=0) - X.min(axis=0) if X.size else np.zeros(p)
    runaway = runaway_columns(beta, se, spread, names)
    if runaway:
        raise NotEstimable(_blame(runaway), runaway)
    return CoxFit(names, beta, variance, loglik, alpha, users, data.deaths, data.rows, iterations, data)


def _blame(reasons: dict[str, str]) -> str:
    """One line naming each covariate and its reason."""
    return "; ".join(f"{name}: {why}" for name, why in reasons.items())


def efron_ph_test(fit: CoxFit) -> pd.DataFrame:
    """:func:`ph_test` of a :func:`efron_cox` fit, on every row, frequency weights exact.

    lifelines' statistic (Grambsch & Therneau, as ``proportional_hazard_test(...,
    time_transform="km")`` computes it) on the replicated rows: Schoenfeld residuals against the
    Efron-averaged risk-set mean with ``d`` steps per time of ``d`` deaths, scaled by the number
    of deaths times the variance, the Kaplan-Meier transform. Vectorised, so it needs no
    coarser grid for large tables (lifelines' residuals cost time quadratic in the rows).

    Returns
    -------
    pandas.DataFrame
        Index: the covariates; columns ``test_statistic`` and ``p``.
    """
    data = fit._data
    if data is None:
        raise ValueError(
            "efron_ph_test: the fit's rows were released (CoxFit.release); test before releasing"
        )
    residuals, w, transform = data.ph_terms(fit.params_.to_numpy(dtype=float))
    deaths = float(data.deaths)
    scaled = deaths * residuals @ fit.variance_matrix_.to_numpy(dtype=float)
    centred = transform - np.average(transform, weights=w)
    numerator = (w * centred) @ scaled
    variance = fit.standard_errors_.to_numpy(dtype=float) ** 2
    statistic = numerator**2 / (deaths * variance * float(w @ centred**2))
    return pd.DataFrame(
        {"test_statistic": statistic, "p": chi2.sf(statistic, 1)}, index=fit.params_.index.copy()
    )
