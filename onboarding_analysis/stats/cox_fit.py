"""The Cox proportional-hazards fit the comparisons use: Efron ties, exact frequency weights.

:func:`efron_cox` is a vectorised Newton-Raphson of the Efron partial likelihood (the sums come
from :mod:`onboarding_analysis.stats.efron_sums`) in which a row of weight ``w`` counts as ``w``
users, also in the Efron steps of tied deaths: the estimate, standard errors, Wald p-values and
the proportional-hazards test :func:`efron_ph_test` equal lifelines' on the replicated rows
(checked to 1e-9 against lifelines run to convergence in tests/test_compression.py). The result
is a :class:`CoxFit` with the attribute names of lifelines' ``CoxPHFitter``. A model that has no
estimate raises :class:`onboarding_analysis.stats.cox_checks.NotEstimable`, with the reason.
:func:`efron_cox_on` fits a table of user facts (optionally compressed,
:mod:`onboarding_analysis.stats.compression`), and :func:`covariate_columns` turns adjustment
columns into Cox covariates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import chi2, norm

from ..errors import DataError
from .compression import WEIGHT, compress, round_durations
from .cox_checks import NotEstimable, exp_or_nan, monotone_columns, runaway_columns
from .efron_sums import EfronPatterns, EfronRows, find_patterns

__all__ = ["CoxFit", "covariate_columns", "efron_cox", "efron_cox_on", "efron_ph_test"]


def covariate_columns(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Cox covariates for adjustment: numeric and boolean columns as is, others as dummies.

    A categorical column gets one 0/1 column ``"<column>=<value>"`` per value except its most
    frequent one (the reference; ties broken by name); missing values are their own category
    ``"(missing)"``. Columns with a single value carry no information and are left out.

    Parameters
    ----------
    table : pandas.DataFrame
        The user-facts table.
    columns : sequence of str
        The adjustment columns.

    Returns
    -------
    pandas.DataFrame
        One float column per covariate, on ``table``'s index.

    Raises
    ------
    DataError
        If a column is not in ``table``, or a numeric column has missing values.

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
        # strings once per value.
        codes, values = pd.factorize(series.astype("string").fillna("(missing)"), sort=True)
        counts = np.bincount(codes, minlength=len(values))
        if len(values) < 2:
            continue
        reference = int(np.flatnonzero(counts == counts.max())[0])  # sorted: ties by name
        for k, value in enumerate(values):
            if k != reference:
                out[f"{column}={value}"] = (codes == k).astype(float)
    return pd.DataFrame(out, index=table.index)



class CoxFit:
    """A Cox model fitted by :func:`efron_cox`.

    It has the attributes of lifelines' ``CoxPHFitter`` that the segment comparisons read, with
    the same names.

    Parameters
    ----------
    names : list of str
        The covariates.
    beta : numpy.ndarray
        The estimate (log hazard ratios).
    variance : numpy.ndarray
        Its variance matrix (inverse observed information).
    loglik : float
        Partial log-likelihood at the estimate.
    alpha : float
        Level of the intervals.
    users, deaths, rows : int
        Summed weight, summed weight of the events, and rows of the fitted table.
    iterations : int
        Newton-Raphson iterations.
    data : EfronRows or EfronPatterns
        The sums of the fit, kept for :func:`efron_ph_test` until :meth:`release`.

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
        z = float(norm.ppf(1 - alpha / 2))
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



def _checked(durations, events, X, weights):
    """``(t, e, X, w)`` as float/bool arrays, or an error naming what is not finite or whole."""
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



def efron_cox_on(
    data: pd.DataFrame,
    covariates: list[str],
    *,
    compress_rows: bool,
    grid_hours: float | None,
    alpha: float = 0.05,
) -> CoxFit:
    """:func:`efron_cox` of ``data``'s ``duration``/``event`` columns on ``covariates``.

    Parameters
    ----------
    data : pandas.DataFrame
        Columns ``duration`` (days), ``event`` and ``covariates``.
    covariates : list of str
        The covariate columns of ``data``.
    compress_rows : bool
        Fit on the unique rows with frequency weights (exact: the same fit).
    grid_hours : float or None
        Round durations down to this grid first (params ``compression_grid_hours``; None keeps
        them exact).
    alpha : float, default 0.05
        Level of the intervals.

    Returns
    -------
    CoxFit
        The fit.

    Raises
    ------
    onboarding_analysis.stats.cox_checks.NotEstimable
        As :func:`efron_cox`.
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
    rows is needed. Fully vectorised (lifelines loops over rows in Python).

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
        None (default): when the covariates take at most :data:`~onboarding_analysis.stats.efron_sums.MAX_PATTERNS` distinct rows
        (group dummies), compute from a table of death times by pattern, else from the rows;
        False: always from the rows (the same figures; for checks).

    Returns
    -------
    CoxFit
        The estimate, its variance and the Wald summary (attribute names as lifelines').

    Raises
    ------
    onboarding_analysis.stats.cox_checks.NotEstimable
        (a lifelines ``ConvergenceError``) The model has no estimate: no events, a covariate in
        which the likelihood is monotone (separation) or that is constant among the rows at
        risk, singular information (collinear covariates), no convergence, or a coefficient that
        ran off (:mod:`onboarding_analysis.stats.cox_checks`). ``covariates`` names the coefficients
        responsible where they are known.
    DataError
        If a duration, covariate or weight is not finite.
    ValueError
        If a weight is not a whole number >= 1.

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
    data = _efron_data(t, e, X, w, names, by_pattern)
    beta, loglik, variance, se, iterations = _newton_raphson(data, len(names), max_steps, tolerance)
    spread = X.max(axis=0) - X.min(axis=0) if X.size else np.zeros(len(names))
    runaway = runaway_columns(beta, se, spread, names)
    if runaway:
        raise NotEstimable(_blame(runaway), runaway)
    return CoxFit(names, beta, variance, loglik, alpha, data.users, data.deaths, data.rows, iterations, data)


def _efron_data(t, e, X, w, names: list[str], by_pattern: bool | None) -> EfronRows | EfronPatterns:
    """The layout of the Efron sums for these rows, after the check for separation."""
    found = find_patterns(X) if by_pattern is not False else None
    data = EfronPatterns(t, e, X, w, *found) if found is not None else EfronRows(t, e, X, w)
    values = data.P if found is not None else data.X
    separated = monotone_columns(*data.extremes(), values, names)
    if separated:
        raise NotEstimable(_blame(separated), separated)
    return data


def _newton_raphson(data: EfronRows | EfronPatterns, p: int, max_steps: int, tolerance: float):
    """``(beta, loglik, variance, se, iterations)`` at the maximum of the partial likelihood."""
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
            size, beta, (loglik, gradient, info) = _step_halving(data, beta, step, loglik)
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
    return beta, loglik, variance, se, iterations


def _step_halving(data: EfronRows | EfronPatterns, beta: np.ndarray, step: np.ndarray, loglik: float):
    """``(size, new beta, evaluation there)``: the Newton step, halved until the likelihood does not fall."""
    size = 1.0
    while True:
        candidate = beta + size * step
        new = data.evaluate(candidate)
        if np.isfinite(new[0]) and new[0] >= loglik - 1e-12 * abs(loglik):
            return size, candidate, new
        size /= 2
        if size < 1e-8:
            raise NotEstimable("the log-likelihood does not increase along the Newton step")


def _blame(reasons: dict[str, str]) -> str:
    """One line naming each covariate and its reason."""
    return "; ".join(f"{name}: {why}" for name, why in reasons.items())


def efron_ph_test(fit: CoxFit) -> pd.DataFrame:
    """Proportional-hazards test of a :func:`efron_cox` fit, on every row, frequency weights exact.

    lifelines' statistic (Grambsch & Therneau, as ``proportional_hazard_test(...,
    time_transform="km")`` computes it) on the replicated rows: Schoenfeld residuals against the
    Efron-averaged risk-set mean with ``d`` steps per time of ``d`` deaths, scaled by the number
    of deaths times the variance, the Kaplan-Meier transform. Vectorised, so it needs no
    coarser grid for large tables (lifelines' residuals cost time quadratic in the rows).

    Parameters
    ----------
    fit : CoxFit
        A fit of :func:`efron_cox` that still holds its rows (not yet released).

    Returns
    -------
    pandas.DataFrame
        Index: the covariates; columns ``test_statistic`` and ``p``.

    Raises
    ------
    ValueError
        If the fit's rows were released (:meth:`CoxFit.release`).
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
