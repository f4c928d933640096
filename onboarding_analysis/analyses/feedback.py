"""Feedback: Net Promoter Score or CSAT from survey events, over time and by segment.

docs/metrics.md, "NPS and CSAT". Enabled by params ``feedback_event``: events of that name whose
``value`` is the score, on the scale of params ``score_scale``:

- ``nps``: 0-10 "how likely are you to recommend us". Promoters score 9-10, passives 7-8,
  detractors 0-6. **NPS** = %promoters - %detractors, in points from -100 to +100.
- ``csat``: 1-5 satisfaction. **CSAT** = the share of 4-5 scores (a fraction, 0-1).

Notes
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
- **Too few answers for an NPS**: an NPS needs at least :data:`MIN_NPS_RESPONSES` (2) answers;
  from fewer it is *not estimable* (score and interval None, with a note naming the count).
  With one answer the adjusted interval, pulled towards 0 by its 3 pseudo-answers, cannot
  contain the plain NPS (one promoter: NPS 100, interval [-48.5, 98.5]); from 2 answers on the
  95% interval contains it for every split of the answers. The same rule holds per month and per
  segment. CSAT has no such minimum: the Wilson interval always contains the observed share.
  B. Rocks, "Interval estimation for the 'Net Promoter Score'", *The American Statistician*
  70(4), 365-372 (2016).
- **CSAT interval**: Wilson score interval (:func:`onboarding_analysis.stats.intervals.wilson_interval`).
- **By segment**: the responders of each group of a users-table segment column; groups with fewer
  than ``min_segment_size`` responders are pooled into ``other`` (docs/metrics.md, "Segment
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

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..absence import add_note
from ..data import columns as C
from ..data.facts import Facts
from ..display.figures import axes_or_new
from ..errors import DataError, ParamsError
from ..stats.finite import finite_or_none
from ..stats.intervals import check_alpha
from .feedback_responses import all_responses, latest_per_user, latest_responses, require_feedback
from .feedback_scores import (
    MIN_NPS_RESPONSES,
    NPS_GROUPS,
    nps_groups,
    nps_interval,
    score_summary,
    too_few_answers,
)

__all__ = [
    "MIN_NPS_RESPONSES",
    "NPS_GROUP",
    "NPS_GROUPS",
    "SUMMARY_COLUMNS",
    "FeedbackResult",
    "all_responses",
    "feedback_by_month",
    "feedback_by_segment",
    "feedback_metrics",
    "feedback_summary",
    "latest_responses",
    "nps_interval",
    "plot_feedback",
    "too_few_answers",
    "with_nps_groups",
]

#: Column added by :func:`with_nps_groups`.
NPS_GROUP = "nps_group"
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
        The intervals are ``1 - alpha`` intervals.
    notes : tuple of str
        Why the headline score is not estimable (too few answers), if it is not.
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
    notes: tuple[str, ...] = ()


def _table(rows: list[dict[str, Any]], scale: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[*SUMMARY_COLUMNS, *(["satisfied"] if scale == "csat" else [])])


def _note_too_few(table: pd.DataFrame, scale: str, what: str) -> pd.DataFrame:
    """Note each row of ``table`` whose score is not estimable from its few answers."""
    for group, n in zip(table["group"], table["responses"], strict=True):
        reason = too_few_answers(scale, int(n))
        if reason:
            label = group.strftime("%Y-%m") if isinstance(group, pd.Timestamp) else group
            add_note(table, f"{what} {label}: {reason}")
    return table


def feedback_by_month(facts: Facts, *, alpha: float = 0.05) -> pd.DataFrame:
    """Score per calendar month (UTC) of the responses; ``group`` is the month's first day.

    A user counts once per month answered, with their latest answer of that month.

    Parameters
    ----------
    facts : Facts
        Facts with params ``feedback_event`` set; every answer counts, by its month.
    alpha : float, default 0.05
        Each month's interval is a ``1 - alpha`` interval.

    Returns
    -------
    pandas.DataFrame
        :data:`SUMMARY_COLUMNS` (and ``satisfied`` for CSAT), one row per month with an answer;
        a month whose NPS is not estimable (:func:`too_few_answers`) has a blank score and a note.
    """
    frame, _ = all_responses(facts)
    return _by_month(frame, facts.params.score_scale, check_alpha(alpha))


def _by_month(frame: pd.DataFrame, scale: str, alpha: float) -> pd.DataFrame:
    month = frame["ts"].dt.to_period("M").dt.to_timestamp()
    latest = frame.assign(month=month).groupby(["month", "user_id"], sort=True).tail(1)
    rows = [{"group": m, **score_summary(part["score"], scale, alpha)} for m, part in latest.groupby("month")]
    return _note_too_few(_table(rows, scale), scale, "month")


def feedback_by_segment(facts: Facts, column: str, *, alpha: float = 0.05) -> pd.DataFrame:
    """Score per group of a facts-table column (responders only; small groups pooled into ``other``).

    Parameters
    ----------
    facts : Facts
        Facts with params ``feedback_event`` set; each user's latest answer counts.
    column : str
        A column of the facts table (a params ``segments`` column, say).
    alpha : float, default 0.05
        The intervals are ``1 - alpha`` intervals.

    Returns
    -------
    pandas.DataFrame
        :data:`SUMMARY_COLUMNS`, one row per group, most responders first.

    Raises
    ------
    ParamsError
        ``column`` is not in the facts table.
    """
    facts = require_feedback(facts)
    if column not in facts.table.columns:
        raise ParamsError(
            f"feedback by segment: column {column!r} is not in the facts table; columns: "
            f"{', '.join(map(str, facts.table.columns))}"
        )
    frame, _ = all_responses(facts)
    return _by_segment(facts, latest_per_user(frame), column, check_alpha(alpha))


def _by_segment(facts: Facts, latest: pd.DataFrame, column: str, alpha: float) -> pd.DataFrame:
    groups = facts.table.set_index(C.USER_ID)[column].astype("string").reindex(latest["user_id"])
    groups = groups.fillna(MISSING).to_numpy(dtype=object)
    sizes = pd.Series(groups).value_counts()
    small = set(sizes[sizes < facts.params.min_segment_size].index)
    groups = np.where(pd.Series(groups).isin(small), OTHER, groups)
    scale = facts.params.score_scale
    rows = [
        {"group": name, **score_summary(part["score"], scale, alpha)}
        for name, part in latest.groupby(groups, sort=True)
    ]
    table = _table(rows, scale)
    table = table.sort_values("responses", ascending=False, kind="stable").reset_index(drop=True)
    return _note_too_few(table, scale, f"{column}")


def feedback_summary(facts: Facts, *, alpha: float = 0.05) -> FeedbackResult:
    """NPS (or CSAT) with its interval, response rate, monthly and per-segment tables.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts` with params
        ``feedback_event`` (and ``score_scale``) set.
    alpha : float, default 0.05
        The intervals are ``1 - alpha`` intervals.

    Returns
    -------
    FeedbackResult
        The headline score (None, with a note, when not estimable), the response rate and
        the monthly and per-segment tables.

    Examples
    --------
    >>> import onboarding_analysis as oa                                 # doctest: +SKIP
    >>> result = feedback_summary(oa.compute_facts(oa.load_params("params/demo.yaml")))  # doctest: +SKIP
    >>> result.score, result.ci_low, result.ci_high                       # doctest: +SKIP
    """
    alpha = check_alpha(alpha)
    frame, missing = all_responses(facts)
    scale = facts.params.score_scale
    latest = latest_per_user(frame)
    summary = score_summary(latest["score"], scale, alpha)
    users = len(facts.table)
    if scale == "nps":
        shares = {g: summary[f"{g}s"] for g in ("promoter", "passive", "detractor")}
    else:
        shares = {"satisfied": summary["satisfied"]}
    too_few = too_few_answers(scale, int(summary["responses"]))
    segments = {
        column: _by_segment(facts, latest, column, alpha)
        for column in facts.params.segments
        if column in facts.table.columns
    }
    return FeedbackResult(
        scale=scale,
        score=finite_or_none(summary["score"]),
        ci_low=finite_or_none(summary["ci_low"]),
        ci_high=finite_or_none(summary["ci_high"]),
        responses=int(summary["responses"]),
        users=users,
        response_rate=summary["responses"] / users if users else None,
        shares={k: finite_or_none(v) for k, v in shares.items()},
        missing_scores=missing,
        by_month=_by_month(frame, scale, alpha),
        by_segment=segments,
        alpha=alpha,
        notes=(f"{scale.upper()}: {too_few}",) if too_few else (),
    )


def with_nps_groups(facts: Facts, *, responders_only: bool = False) -> Facts:
    """A copy of ``facts`` whose table has ``nps_group``: the user's latest response's group.

    ``promoter`` (9-10), ``passive`` (7-8), ``detractor`` (0-6), null for users without a scored
    response; a string column like the segment columns, so any segment comparison can use it:
    ``compare_segments(with_nps_groups(facts, responders_only=True), "nps_group")``.

    Parameters
    ----------
    facts : Facts
        The facts to extend (params ``score_scale: nps``, ``feedback_event`` set).
    responders_only : bool, default False
        Keep only the users with a response. Recommended for comparisons: non-responders (the
        segment machinery's ``(missing)`` group) include everyone who left before being asked.

    Returns
    -------
    Facts
        ``facts`` with the ``nps_group`` column added to its table (and, with
        ``responders_only``, only the responders' rows).

    Raises
    ------
    ParamsError
        params ``score_scale`` is not ``nps``, or ``feedback_event`` is not set.
    DataError
        ``responders_only`` and no analysed user has a scored response (the message names
        params ``feedback_event``).
    """
    facts = require_feedback(facts)
    if facts.params.score_scale != "nps":
        raise ParamsError(
            f"nps_group needs params score_scale: nps (0-10 scores), but it is {facts.params.score_scale!r}"
        )
    latest = latest_responses(facts)
    groups = nps_groups(latest["score"]).set_axis(latest["user_id"])
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


def feedback_metrics(result: FeedbackResult) -> dict[str, dict]:
    """The ``feedback`` section of metrics.json.

    Parameters
    ----------
    result : FeedbackResult
        The headline figures of :func:`feedback_summary` (not the monthly or segment tables).

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
    out["response_rate"] = finite_or_none(result.response_rate)
    if result.scale == "nps":
        out.update({f"{g}s": result.shares.get(g) for g in ("promoter", "passive", "detractor")})
    return {"feedback": out}


def plot_feedback(result: FeedbackResult, *, ax: Axes | None = None) -> Axes:
    """Score per month with its interval (NPS in points, CSAT in percent), responses annotated.

    Parameters
    ----------
    result : FeedbackResult
        From :func:`feedback_summary`: its ``by_month`` table and headline score.
    ax : matplotlib.axes.Axes, optional
        Draw here instead of on a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes, with the months that have a score (or "no scored responses").
    """
    ax = axes_or_new(ax)
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
