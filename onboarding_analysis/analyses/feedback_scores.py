"""Feedback scores: the NPS and CSAT of a set of answers, with their intervals.

The rules of :mod:`onboarding_analysis.analyses.feedback` (its module docstring and
docs/metrics.md, "NPS and CSAT"): the NPS with the adjusted Wald interval of Rocks (2016) and
its minimum of :data:`MIN_NPS_RESPONSES` answers, CSAT with the Wilson interval.

Examples
--------
>>> nps_interval(5, 3, 2)  # 5 promoters, 3 passives, 2 detractors
(30.0, -19.05..., 65.20...)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..stats.intervals import check_alpha, wilson_interval

__all__ = ["MIN_NPS_RESPONSES", "NPS_GROUPS", "nps_groups", "nps_interval", "score_summary", "too_few_answers"]

#: The NPS groups, from worst to best.
NPS_GROUPS = ("detractor", "passive", "promoter")
#: Fewest answers an NPS is reported from (see the feedback module docstring).
MIN_NPS_RESPONSES = 2


def nps_interval(
    promoters: int, passives: int, detractors: int, *, alpha: float = 0.05
) -> tuple[float, float, float]:
    """NPS in points with the adjusted Wald interval of Rocks (2016).

    Parameters
    ----------
    promoters, passives, detractors : int
        Counts of responses 9-10, 7-8 and 0-6.
    alpha : float, default 0.05
        ``1 - alpha`` interval.

    Returns
    -------
    (nps, low, high) : tuple of float
        NaN for all three without responses.

    Examples
    --------
    >>> nps_interval(0, 0, 0)
    (nan, nan, nan)
    >>> nps_interval(10, 0, 0)[0]
    100.0
    """
    alpha = check_alpha(alpha)
    counts = (promoters, passives, detractors)
    if not all(isinstance(k, int | np.integer) and not isinstance(k, bool) and k >= 0 for k in counts):
        raise ValueError(f"counts must be whole numbers >= 0, but were {counts!r}")
    n = promoters + passives + detractors
    if n == 0:
        return math.nan, math.nan, math.nan
    point = (promoters - detractors) / n
    n_adj = n + 3.0
    p = (promoters + 0.75) / n_adj
    d = (detractors + 0.75) / n_adj
    centre = p - d
    half = float(norm.ppf(1 - alpha / 2)) * math.sqrt((p + d - centre**2) / n_adj)
    low, high = max(-1.0, centre - half), min(1.0, centre + half)
    return 100 * point, 100 * low, 100 * high


def nps_groups(scores: pd.Series) -> pd.Series:
    """The NPS group of each 0-10 score: promoter (9-10), passive (7-8), detractor (0-6).

    Parameters
    ----------
    scores : pandas.Series
        Scores on the NPS scale.

    Returns
    -------
    pandas.Series
        ``"promoter"``, ``"passive"`` or ``"detractor"``, on the scores' index.
    """
    groups = np.select([scores >= 9, scores >= 7], ["promoter", "passive"], default="detractor")
    return pd.Series(groups, index=scores.index)


def too_few_answers(scale: str, n: int) -> str | None:
    """Why a score from ``n`` answers is not estimable, or None when it is.

    Parameters
    ----------
    scale : {"nps", "csat"}
        params ``score_scale``.
    n : int
        Answers (one per user).

    Returns
    -------
    str or None
        ``"not estimable: only 1 answer (an NPS needs at least 2)"`` for an NPS from fewer than
        :data:`MIN_NPS_RESPONSES` answers (but at least one); None otherwise (no answer at all
        is no score, not a small sample).

    Examples
    --------
    >>> too_few_answers("nps", 1)
    'not estimable: only 1 answer (an NPS needs at least 2)'
    >>> too_few_answers("nps", 2) is None, too_few_answers("csat", 1) is None
    (True, True)
    """
    if scale != "nps" or n == 0 or n >= MIN_NPS_RESPONSES:
        return None
    return (
        f"not estimable: only {n} answer{'' if n == 1 else 's'} "
        f"(an NPS needs at least {MIN_NPS_RESPONSES})"
    )


def score_summary(scores: pd.Series, scale: str, alpha: float) -> dict[str, Any]:
    """Score, interval and shares of one set of responses (one per user).

    Parameters
    ----------
    scores : pandas.Series
        One score per user.
    scale : {"nps", "csat"}
        params ``score_scale``.
    alpha : float
        The interval is a ``1 - alpha`` interval.

    Returns
    -------
    dict
        ``responses``, ``score``, ``ci_low``, ``ci_high`` (NaN when not estimable), the shares
        ``promoters``, ``passives``, ``detractors`` (NaN for CSAT) and, for CSAT, ``satisfied``.
    """
    n = len(scores)
    if scale == "nps":
        groups = nps_groups(scores)
        k = {g: int((groups == g).sum()) for g in NPS_GROUPS}
        score, low, high = nps_interval(k["promoter"], k["passive"], k["detractor"], alpha=alpha)
        if too_few_answers(scale, n):
            score, low, high = math.nan, math.nan, math.nan
        shares = {f"{g}s": (k[g] / n if n else math.nan) for g in ("promoter", "passive", "detractor")}
    else:
        satisfied = int((scores >= 4).sum())
        low, high = wilson_interval(satisfied, n, alpha=alpha)
        score = satisfied / n if n else math.nan
        shares = {"promoters": math.nan, "passives": math.nan, "detractors": math.nan, "satisfied": score}
    return {"responses": n, "score": score, "ci_low": low, "ci_high": high, **shares}
