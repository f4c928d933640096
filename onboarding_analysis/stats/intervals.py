"""Confidence intervals for proportions.

Every share the package reports (retention, conversion, adoption) comes with a Wilson score
interval: it stays inside ``[0, 1]`` and keeps close to nominal coverage for small groups and
rates near 0 or 1, where the normal ("Wald") interval fails (``docs/metrics.md``, "Day-N retention").
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from statsmodels.stats.proportion import proportion_confint

__all__ = ["check_alpha", "wilson_interval"]


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` as a float, or raise ``ValueError`` if it is not in ``(0, 1)``.

    Parameters
    ----------
    alpha : float
        A significance level.

    Returns
    -------
    float
        ``alpha``.

    Raises
    ------
    ValueError
        If ``alpha`` is not a number strictly between 0 and 1.
    """
    try:
        value = float(alpha)
    except (TypeError, ValueError) as err:
        raise ValueError(f"alpha must be a float in the range (0.0, 1.0), but was {alpha!r}") from err
    if not 0.0 < value < 1.0:
        raise ValueError(f"alpha must be a float in the range (0.0, 1.0), but was {alpha!r}")
    return value


def wilson_interval(
    successes: ArrayLike, n: ArrayLike, *, alpha: float = 0.05
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Wilson score interval for a binomial proportion, element-wise.

    Parameters
    ----------
    successes : int or array-like of int
        Number of successes (e.g. retained users); ``0 <= successes <= n``.
    n : int or array-like of int
        Number of trials (e.g. eligible users). Broadcast against ``successes``.
    alpha : float, default 0.05
        One minus the confidence level: 0.05 gives a 95% interval.

    Returns
    -------
    (low, high) : tuple of float or numpy.ndarray
        Bounds with the broadcast shape of the inputs (plain floats for scalar inputs).
        Both bounds are NaN where ``n == 0``: there is nothing to estimate.

    Raises
    ------
    ValueError
        If a count is negative, not a whole number or NaN, if ``successes > n``, or if
        ``alpha`` is not in ``(0, 1)``.

    Notes
    -----
    Wraps ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.

    Examples
    --------
    >>> low, high = wilson_interval([0, 3], [5, 5])
    >>> [round(float(x), 3) for x in high]
    [0.434, 0.882]
    >>> wilson_interval(0, 0)
    (nan, nan)
    """
    alpha = check_alpha(alpha)
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    scalar = k.ndim == 0 and m.ndim == 0
    k, m = np.broadcast_arrays(k, m)
    for name, values in (("successes", k), ("n", m)):
        if np.isnan(values).any() or (values < 0).any() or (values != np.floor(values)).any():
            raise ValueError(f"{name} must hold non-negative whole numbers, but was {values!r}")
    if (k > m).any():
        raise ValueError(f"successes must not exceed n, but successes={k!r} and n={m!r}")

    low = np.full(k.shape, np.nan)
    high = np.full(k.shape, np.nan)
    observed = m > 0
    if observed.any():
        low[observed], high[observed] = proportion_confint(
            k[observed], m[observed], alpha=alpha, method="wilson"
        )
        # The Wilson bounds are exactly 0 at k = 0 and 1 at k = n; statsmodels' arithmetic
        # can land a hair inside (7/7 gives 0.9999999999999999), which breaks error bars.
        low[observed & (k == 0)] = 0.0
        high[observed & (k == m)] = 1.0
    if scalar:
        return float(low), float(high)
    return low, high
