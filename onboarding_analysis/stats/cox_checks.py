"""When a Cox model has no estimate: monotone likelihood, non-convergence, and safe ``exp``.

A Cox partial likelihood has no finite maximum when it keeps rising as a coefficient runs off to
plus or minus infinity (*monotone likelihood*, Bryson & Johnson 1981; Heinze & Schemper 2001).
It happens on ordinary data: a group whose users never churn, a group whose churns all come
before anyone else's, a plan that fully determines how long users stay. Newton-Raphson then
walks off: each step adds about one to the coefficient until ``exp`` underflows and the gradient
vanishes, and the fit "converges" at a log hazard ratio of about 40 with a standard error of
``1e7`` (whose interval then overflows ``math.exp``), or it stops on a singular information
matrix, or after its maximum number of steps. None of these is an estimate.

:func:`onboarding_analysis.stats.cox_fit.efron_cox` therefore raises :class:`NotEstimable` (a
subclass of lifelines' ``ConvergenceError``) whenever it has no estimate, with a reason and,
where it can tell, the coefficients responsible:

1. **Before fitting, per covariate, from the data** (:func:`monotone_columns`): the likelihood is
   monotone in coefficient ``k`` whatever the other coefficients are when, at every churn time,
   the users who churn have the *largest* value of covariate ``k`` among the users at risk
   (then ``beta_k -> +inf``), or all have the *smallest* (``beta_k -> -inf``). For a 0/1 group
   column: the group has no churn, or its users churn only when nobody outside it is at risk
   (ratio 0), or while its users are at risk only they churn (ratio infinite). Every term of the
   partial likelihood is then non-decreasing in ``beta_k``, so this is exact, not a heuristic.
   A covariate with one value among the users at risk at every churn time carries no
   information (singular information) and is reported as such.
2. **During the fit**: a singular information matrix, a Newton step that is not finite, a line
   search that cannot increase the likelihood, or no convergence in ``max_steps`` steps. These
   name no coefficient (the whole model is not estimable): they are what separation by a
   *combination* of covariates looks like, which step 1 does not test.
3. **After convergence, per coefficient** (:func:`runaway_columns`): a coefficient or a
   standard error that is not finite, or whose effect over the covariate's range exceeds
   :data:`MAX_LOG_EFFECT` (``|beta| * range > 25`` or ``se * range > 25``: a hazard ratio of
   ``e^25 = 7e10`` between the covariate's extremes). No churn data has such a ratio; a
   coefficient that ran off until the likelihood stopped changing in floating point does (about
   40 for a 0/1 column). This catches separation by a combination of covariates that happened to
   "converge".

The callers (segment hazard ratios, the onboarding change, early behaviours) report the ratio as
"not estimable: <reason>" (``null`` in ``metrics.json``) and keep every other figure. Where the
culprit is one group of a segment comparison, that group is not estimable and the other groups'
ratios come from the model without its users (:func:`onboarding_analysis.analyses.segments.cox_hazard_ratios`).

Firth's penalised likelihood (Heinze & Schemper 2001) would give a finite, shrunken ratio here.
It is not used: a ratio "beyond any data" is better reported as not estimable, next to the
log-rank test and the Kaplan-Meier curves that show the separation plainly, than as a large
number the reader may compare with the others.

:func:`safe_exp` is the one ``exp`` of a coefficient or bound in the package: ``None`` outside
``[-MAX_EXP, MAX_EXP]``, so it can neither overflow nor return a hazard ratio of exactly 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from lifelines.exceptions import ConvergenceError

__all__ = [
    "MAX_EXP",
    "MAX_LOG_EFFECT",
    "NotEstimable",
    "exp_or_nan",
    "hazard_ratio_interval",
    "monotone_columns",
    "runaway_columns",
    "safe_exp",
]

#: Largest ``|x|`` whose ``exp`` is returned (``exp(700) ~ 1e304``, below the float maximum).
MAX_EXP = 700.0
#: Bound on ``|beta| * range(x)`` and ``se * range(x)``: beyond it a coefficient ran off.
MAX_LOG_EFFECT = 25.0


class NotEstimable(ConvergenceError):
    """A Cox model without an estimate (monotone likelihood, singular, or no convergence).

    Parameters
    ----------
    reason : str
        Why, in one line (shown after "not estimable: ").
    covariates : dict of str to str, optional
        The coefficients responsible and a short reason for each; empty when the whole model is
        not estimable without one coefficient to blame.

    Attributes
    ----------
    reason : str
    covariates : dict of str to str
    """

    def __init__(self, reason: str, covariates: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.covariates = dict(covariates or {})


def safe_exp(x: float | None) -> float | None:
    """``math.exp(x)``, or None when ``x`` is missing, not finite or beyond ``±MAX_EXP``.

    Parameters
    ----------
    x : float or None
        The exponent.

    Returns
    -------
    float or None
        ``exp(x)``, or None where it would overflow or is undefined.

    Examples
    --------
    >>> safe_exp(0.0), safe_exp(4500.0), safe_exp(float("nan"))
    (1.0, None, None)
    """
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x) or abs(x) > MAX_EXP:
        return None
    return math.exp(x)


def exp_or_nan(x: np.ndarray) -> np.ndarray:
    """Elementwise :func:`safe_exp` for arrays: NaN where ``x`` is not finite or beyond ``±MAX_EXP``.

    Parameters
    ----------
    x : numpy.ndarray
        The exponents.

    Returns
    -------
    numpy.ndarray
        ``exp(x)`` as floats, NaN where it would overflow or is undefined.

    Examples
    --------
    >>> exp_or_nan(np.array([0.0, 4500.0])).tolist()
    [1.0, nan]
    """
    x = np.asarray(x, dtype=float)
    inside = np.isfinite(x) & (np.abs(x) <= MAX_EXP)
    return np.where(inside, np.exp(np.where(inside, x, 0.0)), np.nan)


def hazard_ratio_interval(coef: float, se: float, z: float) -> tuple[float, float, float] | None:
    """``(exp(coef), exp(coef - z se), exp(coef + z se))``, or None if any is out of range.

    Parameters
    ----------
    coef, se : float
        A log hazard ratio and its standard error.
    z : float
        The normal quantile of the interval (1.96 for 95%).

    Returns
    -------
    tuple of float or None
        The hazard ratio and its Wald interval, or None when any of them is not a finite
        number within :func:`safe_exp`'s range (the ratio cannot be estimated).

    Examples
    --------
    >>> [round(v, 4) for v in hazard_ratio_interval(0.0, 0.5, 1.96)]
    [1.0, 0.3753, 2.6645]
    >>> hazard_ratio_interval(38.1, 4.7e7, 1.96) is None
    True
    """
    if not (math.isfinite(coef) and math.isfinite(se)):
        return None
    values = (safe_exp(coef), safe_exp(coef - z * se), safe_exp(coef + z * se))
    if any(v is None for v in values):
        return None
    return values  # type: ignore[return-value]


#: Short reasons of :func:`monotone_columns` and :func:`runaway_columns`.
NO_EVENTS = "no churn among these users"
ONLY_THEIRS = "monotone likelihood: while these users are at risk, only they churn (ratio infinite)"
ONLY_AFTER = "monotone likelihood: these users churn only once nobody else is at risk (ratio zero)"
HIGHEST = "monotone likelihood: every churning user has the highest value at risk (ratio infinite)"
LOWEST = "monotone likelihood: every churning user has the lowest value at risk (ratio zero)"
CONSTANT = "no contrast: one value among the users at risk at every churn"
RUNAWAY = "monotone likelihood: the coefficient ran off while the likelihood still rose"


def monotone_columns(
    dead_values: np.ndarray,
    risk_max: np.ndarray,
    risk_min: np.ndarray,
    dead_time: np.ndarray,
    values: np.ndarray,
    names: Sequence[str],
) -> dict[str, str]:
    """Covariates in which the partial likelihood is monotone (step 1 of the module docstring).

    Parameters
    ----------
    dead_values : numpy.ndarray, shape (m, p)
        Covariates of each churn (a row, or a (time, pattern) cell, with a churn).
    risk_max, risk_min : numpy.ndarray, shape (J, p)
        Per churn time, the largest and smallest covariate values among the users at risk.
    dead_time : numpy.ndarray of int, shape (m,)
        The churn time (row of ``risk_max``) of each entry of ``dead_values``.
    values : numpy.ndarray, shape (n, p)
        Every row's (or pattern's) covariates, on the scale of ``dead_values``: a column with two
        values is a group column (0/1), whose reasons speak of "these users", the users with the
        higher value.
    names : sequence of str
        Covariate names.

    Returns
    -------
    dict of str to str
        Covariate -> short reason, for the monotone (or uninformative) covariates only.

    Examples
    --------
    One 0/1 column whose users churn at times 1 and 2, before the others (times 3 and 4):

    >>> import numpy as np
    >>> x = np.array([[1.0], [1.0], [0.0], [0.0]])
    >>> risk_max = np.array([[1.0], [1.0], [0.0], [0.0]])
    >>> risk_min = np.zeros((4, 1))
    >>> monotone_columns(x, risk_max, risk_min, np.arange(4), x, ["g"])["g"][:19]
    'monotone likelihood'
    """
    out: dict[str, str] = {}
    for k, name in enumerate(names):
        column = values[:, k]
        binary = np.unique(column).size == 2
        dead = dead_values[:, k]
        top = bool((dead >= risk_max[dead_time, k]).all())
        bottom = bool((dead <= risk_min[dead_time, k]).all())
        if top and bottom:
            out[name] = CONSTANT
        elif top:
            out[name] = ONLY_THEIRS if binary else HIGHEST
        elif bottom:
            out[name] = (NO_EVENTS if dead.max() < column.max() else ONLY_AFTER) if binary else LOWEST
    return out


def runaway_columns(
    beta: np.ndarray, se: np.ndarray, spread: np.ndarray, names: Sequence[str]
) -> dict[str, str]:
    """Coefficients that ran off (step 3 of the module docstring).

    ``spread`` is each covariate's range (largest minus smallest value); a coefficient is flagged
    when it or its standard error is not finite, or ``|beta| * spread`` or ``se * spread``
    exceeds :data:`MAX_LOG_EFFECT`.

    Parameters
    ----------
    beta, se : numpy.ndarray
        The estimate and its standard errors.
    spread : numpy.ndarray
        Each covariate's range.
    names : sequence of str
        The covariates.

    Returns
    -------
    dict of str to str
        The covariates that ran off, each with the reason (empty: none did).

    Examples
    --------
    >>> import numpy as np
    >>> runaway_columns(np.array([0.3, 38.1]), np.array([0.1, 4.7e7]), np.ones(2), ["a", "b"])
    {'b': 'monotone likelihood: the coefficient ran off while the likelihood still rose'}
    """
    out: dict[str, str] = {}
    for k, name in enumerate(names):
        b, s, r = float(beta[k]), float(se[k]), float(spread[k])
        if (
            not (math.isfinite(b) and math.isfinite(s))
            or abs(b) * r > MAX_LOG_EFFECT
            or s * r > MAX_LOG_EFFECT
        ):
            out[name] = RUNAWAY
    return out
