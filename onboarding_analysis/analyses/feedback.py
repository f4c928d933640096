"""Feedback: Net Promoter Score or CSAT from survey events, over time and by segment.

METRICS.md, "Feedback". Enabled by params ``feedback_event``: events of that name whose
``value`` is the score, on the scale of params ``score_scale``:

- ``nps``: 0-10 "how likely are you to recommend us". Promoters score 9-10, passives 7-8,
  detractors 0-6. **NPS** = %promoters - %detractors, in points from -100 to +100.
- ``csat``: 1-5 satisfaction. **CSAT** = the share of 4-5 scores (a fraction, 0-1).

Rules
-----
- One response per user: the user's **latest** scored response at or before ``T`` (the current
  opinion; NPS tools such as Delighted do the same). Per month, a user counts once in each month
  they answered, with their latest answer of that month. A feedback event without a score is
  counted (:attr:`FeedbackResult.missing_scores`) and left out; a score outside the scale or not
  a whole number stops the run (a wrong ``score_scale`` is the usual cause).
- Response rate = users with a response / users of the facts table.
- **NPS interval**: the adjusted Wald interval of Rocks (2016), the best of six methods in his
  coverage study: add 3 to ``n``, 3/4 to the promoters and 3/4 to the detractors, then use the
  multinomial (delta method) variance of a difference of two proportions,
  ``Var(p - d) = (p + d - (p - d)^2) / n``; the interval is ``(p' - d') +- z sqrt(Var')``,
  clipped to [-1, 1], times 100. The point estimate is the plain NPS.
  B. Rocks, "Interval estimation for the 'Net Promoter Score'", *The American Statistician*
  70(4), 365-372 (2016).
- **CSAT interval**: Wilson score interval (:func:`onboarding_analysis.stats.intervals.wilson_interval`).
- **By segment**: the responders of each group of a users-table segment column; groups with fewer
  than ``min_segment_size`` responders are pooled into ``other`` (METRICS.md, "Segment
  comparisons"), users without a value form the group ``(missing)``.
- **Groups for retention**: :func:`with_nps_groups` adds ``nps_group`` (promoter / passive /
  detractor, null for users who never answered) to the facts table, so the segment machinery
  compares retention across the three groups. Read it as an association: users had to be alive
  to answer, and answer at different ages; compare responders with responders only.

Examples
--------
>>> nps_interval(5, 3, 2)  # 5 promoters, 3 passives, 2 detractors
(30.0, -19.05..., 65.20...)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy.stats import norm

from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError, ParamsError
from ..stats.intervals import check_alpha, wilson_interval

__all__ = [
    "NPS_GROUP",
    "NPS_GROUPS",
    "SUMMARY_COLUMNS",
    "FeedbackResult",
    "feedback_by_month",
    "feedback_by_segment",
    "feedback_metrics",
    "feedback_summary",
    "latest_responses",
    "nps_interval",
    "plot_feedback",
    "with_nps_groups",
]

#: Column added by :func:`with_nps_groups`.
NPS_GROUP = "nps_group"
#: The NPS groups, from worst to best.
NPS_GROUPS = ("detractor", "passive", "promoter")
#: Score range per ``score_scale``.
SCALES = {"nps": (0, 10), "csat": (1, 5)}
#: Columns of the monthly and per-segment tables.
SUMMARY_COLUMNS = [
    "group",
    "responses",
    "score",
    "ci_low",
    "ci_high",
    "promoters",
    "passives",
    "detractors",
]
OTHER, MISSING = "other", "(missing)"


@dataclass(frozen=True, eq=False)
class FeedbackResult:
    """The feedback figures of one run.

    Attributes
    ----------
    scale : {"nps", "csat"}
        params ``score_scale``.
    score, ci_low, ci_high : float or None
        NPS in points (-100..100) or CSAT as a share (0..1), with its interval; None without
        responses.
    responses : int
        Users with a scored response (one each: their latest).
    users : int
        Users of the facts table; ``response_rate = responses / users``.
    response_rate : float or None
    shares : dict
        nps: shares of ``promoter``, ``passive``, ``detractor``; csat: ``satisfied`` (4-5).
    missing_scores : int
        Feedback events without a score (left out).
    by_month : pandas.DataFrame
        :func:`feedback_by_month`.
    by_segment : dict of str to pandas.DataFrame
        :func:`feedback_by_segment` for each params segment column present in the table.
    alpha : float
    """

    scale: str
    score: float | None
    ci_low: float | None
    ci_high: float | None
    responses: int
    users: int
    response_rate: float | None
    shares: dict
    missing_scores: int
    by_month: pd.DataFrame
    by_segment: dict
    alpha: float


# --- intervals --------------------------------------------------------------------------------


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


def _nps_groups(scores: pd.Series) -> pd.Series:
    groups = np.select([scores >= 9, scores >= 7], ["promoter", "passive"], default="detractor")
    return pd.Series(groups, index=scores.index)


def _summary(scores: pd.Series, scale: str, alpha: float) -> dict[str, Any]:
    """Score, interval and shares of one set of responses (one per user)."""
    n = len(scores)
    if scale == "nps":
        groups = _nps_groups(scores)
        k = {g: int((groups == g).sum()) for g in NPS_GROUPS}
        score, low, high = nps_interval(k["promoter"], k["passive"], k["detractor"], alpha=alpha)
        shares = {f"{g}s": (k[g] / n if n else math.nan) for g in ("promoter", "passive", "detractor")}
    else:
        satisfied = int((scores >= 4).sum())
        low, high = wilson_interval(satisfied, n, alpha=alpha)
        score = satisfied / n if n else math.nan
        shares = {"promoters": math.nan, "passives": math.nan, "detractors": math.nan, "satisfied": score}
    return {"responses": n, "score": score, "ci_low": low, "ci_high": high, **shares}


# --- responses --------------------------------------------------------------------------------


def _check(facts: Any) -> Facts:
    if not isinstance(facts, Facts) or facts.events is None:
        raise TypeError(f"feedback needs the Facts object of compute_facts(params), but got {type(facts)!r}")
    if facts.params.feedback_event is None:
        raise ParamsError("feedback needs params feedback_event: the survey event whose value is the score")
    return facts


def _all_responses(facts: Facts) -> tuple[pd.DataFrame, int]:
    """Every scored feedback event (``user_id``, ``ts``, ``score``) and the count without a score."""
    facts = _check(facts)
    name = facts.params.feedback_event
    events = facts.events
    rows = events.filter(events.event == name)
    if "value" in events.columns:
        frame = rows.select("user_id", "ts", score=rows.value.cast("float64")).to_pandas()
    else:
        frame = rows.select("user_id", "ts").to_pandas().assign(score=math.nan)
    missing = int(frame["score"].isna().sum())
    frame = frame.dropna(subset=["score"])
    low, high = SCALES[facts.params.score_scale]
    bad = (frame["score"] < low) | (frame["score"] > high) | (frame["score"] != np.floor(frame["score"]))
    if bad.any():
        example = frame.loc[bad].iloc[0]
        raise DataError(
            f"'{name}' scores must be whole numbers from {low} to {high} (score_scale: "
            f"{facts.params.score_scale}), but {int(bad.sum())} are not (e.g. {example['score']!r} of user "
            f"{example['user_id']!r}). Check params score_scale (nps: 0-10, csat: 1-5)."
        )
    frame["user_id"] = frame["user_id"].astype(str)
    frame["ts"] = pd.to_datetime(frame["ts"]).astype("datetime64[ns]")
    frame = frame.sort_values(["user_id", "ts", "score"], kind="stable").reset_index(drop=True)
    return frame, missing


def latest_responses(facts: Facts) -> pd.DataFrame:
    """One row per responding user: ``user_id``, ``ts``, ``score`` of the latest scored response.

    Ties (two answers at the same instant): the higher score.
    """
    frame, _ = _all_responses(facts)
    return _latest(frame)


def _latest(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby("user_id", sort=False).tail(1).reset_index(drop=True)


def _table(rows: list[dict[str, Any]], scale: str) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=[*SUMMARY_COLUMNS, *(["satisfied"] if scale == "csat" else [])])
    return table


def feedback_by_month(facts: Facts, *, alpha: float = 0.05) -> pd.DataFrame:
    """Score per calendar month (UTC) of the responses; ``group`` is the month's first day.

    A user counts once per month answered, with their latest answer of that month.
    """
    frame, _ = _all_responses(facts)
    return _by_month(frame, facts.params.score_scale, check_alpha(alpha))


def _by_month(frame: pd.DataFrame, scale: str, alpha: float) -> pd.DataFrame:
    month = frame["ts"].dt.to_period("M").dt.to_timestamp()
    latest = frame.assign(month=month).groupby(["month", "user_id"], sort=True).tail(1)
    rows = [{"group": m, **_summary(part["score"], scale, alpha)} for m, part in latest.groupby("month")]
    return _table(rows, scale)


def feedback_by_segment(facts: Facts, column: str, *, alpha: float = 0.05) -> pd.DataFrame:
    """Score per group of a facts-table column (responders only; small groups pooled into ``other``)."""
    facts = _check(facts)
    if column not in facts.table.columns:
        raise ParamsError(
            f"feedback by segment: column {column!r} is not in the facts table; columns: "
            f"{', '.join(map(str, facts.table.columns))}"
        )
    frame, _ = _all_responses(facts)
    return _by_segment(facts, _latest(frame), column, check_alpha(alpha))


def _by_segment(facts: Facts, latest: pd.DataFrame, column: str, alpha: float) -> pd.DataFrame:
    groups = facts.table.set_index(C.USER_ID)[column].astype("string").reindex(latest["user_id"])
    groups = groups.fillna(MISSING).to_numpy(dtype=object)
    sizes = pd.Series(groups).value_counts()
    small = set(sizes[sizes < facts.params.min_segment_size].index)
    groups = np.where(pd.Series(groups).isin(small), OTHER, groups)
    scale = facts.params.score_scale
    rows = [
        {"group": name, **_summary(part["score"], scale, alpha)}
        for name, part in latest.groupby(groups, sort=True)
    ]
    table = _table(rows, scale)
    return table.sort_values("responses", ascending=False, kind="stable").reset_index(drop=True)


def feedback_summary(facts: Facts, *, alpha: float = 0.05) -> FeedbackResult:
    """NPS (or CSAT) with its interval, response rate, monthly and per-segment tables.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts` with params
        ``feedback_event`` (and ``score_scale``) set.
    alpha : float, default 0.05

    Returns
    -------
    FeedbackResult

    Examples
    --------
    >>> import onboarding_analysis as oa                                 # doctest: +SKIP
    >>> result = feedback_summary(oa.compute_facts(oa.load_params("params/demo.yaml")))  # doctest: +SKIP
    >>> result.score, result.ci_low, result.ci_high                       # doctest: +SKIP
    """
    alpha = check_alpha(alpha)
    frame, missing = _all_responses(facts)
    scale = facts.params.score_scale
    latest = _latest(frame)
    summary = _summary(latest["score"], scale, alpha)
    users = len(facts.table)
    if scale == "nps":
        shares = {g: summary[f"{g}s"] for g in ("promoter", "passive", "detractor")}
    else:
        shares = {"satisfied": summary["satisfied"]}
    segments = {
        column: _by_segment(facts, latest, column, alpha)
        for column in facts.params.segments
        if column in facts.table.columns
    }
    return FeedbackResult(
        scale=scale,
        score=_number(summary["score"]),
        ci_low=_number(summary["ci_low"]),
        ci_high=_number(summary["ci_high"]),
        responses=int(summary["responses"]),
        users=users,
        response_rate=summary["responses"] / users if users else None,
        shares={k: _number(v) for k, v in shares.items()},
        missing_scores=missing,
        by_month=_by_month(frame, scale, alpha),
        by_segment=segments,
        alpha=alpha,
    )


def with_nps_groups(facts: Facts, *, responders_only: bool = False) -> Facts:
    """A copy of ``facts`` whose table has ``nps_group``: the user's latest response's group.

    ``promoter`` (9-10), ``passive`` (7-8), ``detractor`` (0-6), null for users without a scored
    response; a string column like the segment columns, so any segment comparison can use it:
    ``compare_segments(with_nps_groups(facts, responders_only=True), "nps_group")``.

    Parameters
    ----------
    facts : Facts
    responders_only : bool, default False
        Keep only the users with a response. Recommended for comparisons: non-responders (the
        segment machinery's ``(missing)`` group) include everyone who left before being asked.

    Raises
    ------
    ParamsError
        params ``score_scale`` is not ``nps``, or ``feedback_event`` is not set.
    DataError
        ``responders_only`` and no analysed user has a scored response (the message names
        params ``feedback_event``).
    """
    facts = _check(facts)
    if facts.params.score_scale != "nps":
        raise ParamsError(
            f"nps_group needs params score_scale: nps (0-10 scores), but it is {facts.params.score_scale!r}"
        )
    latest = latest_responses(facts)
    groups = _nps_groups(latest["score"]).set_axis(latest["user_id"])
    table = facts.table.copy()
    table[NPS_GROUP] = table[C.USER_ID].astype(str).map(groups).astype("string")
    if responders_only:
        table = table[table[NPS_GROUP].notna()].reset_index(drop=True)
        if table.empty:
            raise DataError(
                f"params feedback_event {facts.params.feedback_event!r}: no analysed user has a scored "
                f"response, so there are no NPS groups to compare. Check the event name (the "
                f"data-quality section lists params events that never occur) and its value column."
            )
    return replace(facts, table=table)


# --- metrics and plot -------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def feedback_metrics(result: FeedbackResult) -> dict[str, dict]:
    """The ``feedback`` section of metrics.json.

    Returns
    -------
    dict
        nps: ``{"feedback": {"scale", "nps", "nps_ci_low", "nps_ci_high", "responses",
        "response_rate", "promoters", "passives", "detractors"}}``; csat: ``"csat",
        "csat_ci_low", "csat_ci_high"`` instead of the NPS keys and shares.
    """
    out: dict[str, Any] = {"scale": result.scale}
    key = result.scale
    out[key] = result.score
    out[f"{key}_ci_low"] = result.ci_low
    out[f"{key}_ci_high"] = result.ci_high
    out["responses"] = result.responses
    out["response_rate"] = _number(result.response_rate)
    if result.scale == "nps":
        out.update({f"{g}s": result.shares.get(g) for g in ("promoter", "passive", "detractor")})
    return {"feedback": out}


def plot_feedback(result: FeedbackResult, *, ax: Axes | None = None) -> Axes:
    """Score per month with its interval (NPS in points, CSAT in percent), responses annotated."""
    if ax is None:
        _, ax = plt.subplots()
    table = result.by_month.dropna(subset=["score"])
    factor = 1 if result.scale == "nps" else 100
    label = "NPS (points)" if result.scale == "nps" else "CSAT (% scoring 4-5)"
    if table.empty:
        ax.text(0.5, 0.5, "no scored responses", transform=ax.transAxes, ha="center", va="center")
        return ax
    x = table["group"]
    y = table["score"].to_numpy(dtype=float) * factor
    lo = table["ci_low"].to_numpy(dtype=float) * factor
    hi = table["ci_high"].to_numpy(dtype=float) * factor
    ax.plot(x, y, marker="o", color="C0", label=label)
    ax.fill_between(x, lo, hi, color="C0", alpha=0.2, label=f"{round(100 * (1 - result.alpha))}% interval")
    for xi, yi, n in zip(x, y, table["responses"], strict=True):
        ax.annotate(
            f"n={int(n)}", (xi, yi), xytext=(0, 6), textcoords="offset points", ha="center", fontsize="small"
        )
    if result.score is not None:
        ax.axhline(
            result.score * factor,
            color="C1",
            ls="--",
            label=f"all users' latest: {result.score * factor:.1f}",
        )
    if result.scale == "nps":
        ax.axhline(0, color="0.5", lw=0.8)
    ax.set_ylabel(label)
    ax.set_title(f"{'NPS' if result.scale == 'nps' else 'CSAT'} by month of response")
    ax.legend(loc="best", fontsize="small")
    ax.figure.autofmt_xdate()
    return ax
