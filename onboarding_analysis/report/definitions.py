"""What each figure of the report means: the one source of the report's definitions appendix.

:data:`DEFINITIONS` holds one :class:`Definition` per figure, in report order. The report's
"How to read this report" and "Definitions" sections (:func:`definitions_html`,
:func:`how_to_read_html`) are generated from them, with the run's own params written into the
texts (``{inactivity_days}``, ...) and the figures of sections the run does not configure left
out; :func:`definitions_markdown` writes the same texts as Markdown (for a ``docs/`` page).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..params import window_label

__all__ = [
    "CENSORING",
    "DEFINITIONS",
    "Definition",
    "definitions_html",
    "definitions_markdown",
    "how_to_read_html",
    "selected",
]


@dataclass(frozen=True)
class Definition:
    """One figure: its name, what it means, and the params key its section needs (if any)."""

    key: str
    term: str
    text: str
    requires: str | None = None


#: Params shown in texts when a run does not say (the package defaults).
_DEFAULTS: dict[str, Any] = {
    "inactivity_days": 30,
    "conversion_window": 14,
    "rmst_horizon_days": 90,
    "min_cell_users": 10,
    "min_segment_size": 30,
    "adoption_days": 30,
    "landmark_days": 7,
    "p_adjust": "holm",
    "min_at_risk": 20,
}

#: Censoring in one paragraph.
CENSORING = (
    "Users who signed up recently have not been seen for long. They are never counted as lost: "
    "each figure uses a user only for as long as the data shows them. A user younger than N days "
    "is left out of day-N retention (not eligible), and counts in the lifetime and time-to-value "
    "curves up to the last day observed (censored). Figures for later days therefore rest on "
    "fewer users: the eligible and at-risk counts and the intervals say how many. Where fewer "
    "than {min_at_risk} users are still at risk, curves are stopped (drawn grey) and survival is "
    "shown as not estimable when none are."
)

#: One entry per figure, in report order.
DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "readiness",
        "Readiness scorecard",
        "Whether this data can answer the report's questions yet: segments large enough to compare, "
        "a defined onboarding journey, a feedback mechanism, enough users for a baseline, and few "
        "excluded rows. Each signal passes, warns (within a factor of two of its threshold) or "
        "fails, with the number behind it.",
    ),
    Definition(
        "rows",
        "Rows read, used and excluded",
        "Every row of the event log is either used or counted under the reason it was left out "
        "(missing user id, unparseable or implausible timestamp, after the observation end, "
        "duplicate, before signup, ...); the counts add up to the rows read.",
    ),
    Definition(
        "day_n_retention",
        "Day-N retention",
        "The share of users active on day N after signup (day 0 is the first 24 hours), among the "
        "users for whom day N is over (eligible).",
    ),
    Definition(
        "unbounded_retention",
        "Unbounded retention",
        "The share of eligible users active on day N or any later day: users who had not left by day N.",
    ),
    Definition(
        "cohorts",
        "Cohort table",
        "Rows are signup weeks (or months), columns the weeks (months) since signup; a cell is the "
        "share of the cohort active in that period, among its users observed for the whole period. "
        "Blank cells are not observable yet or have fewer than {min_cell_users} users.",
    ),
    Definition(
        "lifetime",
        "Lifetime",
        "The time from signup to a user's last activity, once the user has been inactive for "
        "{inactivity_days} days (churned). Estimated with Kaplan-Meier: users still active count "
        "for as long as they were observed (censored).",
    ),
    Definition(
        "survival",
        "Survival at day N",
        "The estimated share of users whose lifetime is longer than N days. Not estimable when no "
        "user is still at risk on day N (nobody has been observed that long).",
    ),
    Definition(
        "median_lifetime",
        "Median lifetime",
        "The day by which half of the users have churned, read on the Kaplan-Meier curve; "
        "'not reached' while more than half are still active.",
    ),
    Definition(
        "rmst",
        "Restricted mean lifetime (RMST)",
        "The mean lifetime within the first {rmst_horizon_days} days: the area under the survival "
        "curve up to that horizon. A user still active at the horizon counts for the whole horizon. "
        "It is a mean time since signup, not a count of active days.",
    ),
    Definition(
        "ttfv",
        "Time to first value",
        "The share of all signups who reached a value event within N days (Aalen-Johansen "
        "cumulative incidence): users not observed for N days yet count for as long as they were "
        "seen, and users who churned first can no longer reach value (a competing event). The day "
        "by which 25%, 50% or 75% of signups reached value is 'not reached' when fewer ever do.",
        "value_events",
    ),
    Definition(
        "naive_median",
        "Converter-only median time to value",
        "The median time to value among users who reached it, as funnel tools show it. It leaves "
        "out every user who has not converted (yet), so it is too short: shown only for comparison.",
        "value_events",
    ),
    Definition(
        "funnel",
        "Onboarding funnel",
        "Users who completed each onboarding step within {conversion_window} of signup, "
        "among users observed for that whole window; conversion from the start and from the previous "
        "step; drop-off is the number of users lost at a step. Reaching each step 'counting every "
        "signup' uses all users, with censoring and churn as a competing event.",
        "onboarding_steps",
    ),
    Definition(
        "where_users_stop",
        "Where users stop",
        "For users who never reached value although their whole conversion window was observed: "
        "the last onboarding step they reached, and their most common final events.",
        "onboarding_steps",
    ),
    Definition(
        "prompts",
        "Tour and prompt engagement",
        "Among users shown a tour or prompt, the share who engaged with it at or after the first "
        "time it was shown.",
        "prompts",
    ),
    Definition(
        "adoption",
        "Feature adoption",
        "The share of users who used a feature within {adoption_days} days of signup, among users "
        "observed that long.",
        "feature_events",
    ),
    Definition(
        "stickiness",
        "Stickiness and DAU/MAU",
        "Active days in the first 30 days after signup, among users observed for 30 days. DAU/MAU is "
        "the users active on a day over the users active in the 30 days up to it; days whose window "
        "is not fully inside the data are marked partial.",
    ),
    Definition(
        "lifecycle",
        "Weekly lifecycle",
        "Each week's active users split into new (their signup week), returning (also active the "
        "week before) and resurrecting (back after a gap); dormant users were active the week "
        "before but not this week.",
    ),
    Definition(
        "segments",
        "Segment comparisons",
        "Each group is compared with a reference group: log-rank test of the lifetime curves, Cox "
        "hazard ratio among users active after signup (below 1: users leave more slowly than the "
        "reference) with a check of its proportional-hazards assumption, chi-square test of "
        "retention, and the difference in restricted mean lifetime. Groups under "
        "{min_segment_size} users are pooled into 'other'.",
        "segments",
    ),
    Definition(
        "p_values",
        "p-values and corrections",
        "A p-value is the chance of a difference at least this large if the groups did not differ; "
        "below 0.001 it is shown as '< 0.001'. Testing many pairs finds some small p-values by "
        "chance, so every family of tests is corrected ({p_adjust}): only a corrected p-value below "
        "0.05 is read as a detectable difference.",
        "segments",
    ),
    Definition(
        "change",
        "Before and after the onboarding change",
        "Users who signed up before and after the change date, each followed only as long as the "
        "later group can have been; the difference in value by day 7 and in retention, with its "
        "interval, and the churn hazard ratio after versus before. Not an experiment: anything "
        "else that changed at the same time is part of the difference.",
        "change_date",
    ),
    Definition(
        "landmark",
        "Early behaviours (landmark analysis)",
        "Among users still active on day {landmark_days}, the hazard ratio of churning later for "
        "users who did an event in their first {landmark_days} days versus those who did not. An "
        "association, not a cause: users who do an event may differ in other ways.",
    ),
    Definition(
        "moments",
        "Moments of truth",
        "Crisis: value reached and strong early activity, then a sudden drop, not yet churned. "
        "Relationship change: onboarding completed, then almost no activity. Unexpected win: value "
        "much faster than peers, or broad early feature adoption. Only fully observed accounts "
        "are classified.",
    ),
    Definition(
        "revenue",
        "Net revenue churn",
        "For each complete month: one minus the accounts' recurring revenue at the end over their "
        "revenue at the start, among accounts paying at the start (negative when expansion "
        "outweighs losses; new business is left out). One year of revenue is projected for the "
        "measured churn and for other monthly rates.",
        "revenue_event",
    ),
    Definition(
        "feedback",
        "NPS and CSAT",
        "NPS: the share of promoters (9-10) minus the share of detractors (0-6), in points, from each "
        "user's latest answer. CSAT: the share of answers of 4 or 5.",
        "feedback_event",
    ),
    Definition(
        "interval",
        "95% interval",
        "The range of values compatible with the data: an interval built this way contains the true "
        "value in 95% of samples. Shown under its estimate; wide intervals mean few users.",
    ),
)


def _enabled(params: Mapping[str, Any], key: str | None) -> bool:
    if key is None or key not in params:
        return True
    value = params[key]
    return value is not None and value != () and value != [] and value != {} and value != ""


def _fill(text: str, params: Mapping[str, Any]) -> str:
    """``text`` with the run's params (or the package defaults) written in."""
    values = {**_DEFAULTS, **{k: v for k, v in params.items() if v is not None}}
    if "conversion_window" not in params and params.get("conversion_window_days") is not None:
        values["conversion_window"] = params["conversion_window_days"]
    # As the user wrote it ("5 minutes", "2 hours"); a number is days ("14 days", "1 day").
    values["conversion_window"] = window_label(values["conversion_window"])
    values["p_adjust"] = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}.get(
        values["p_adjust"], values["p_adjust"]
    )
    for key, value in values.items():
        if isinstance(value, float) and value.is_integer():
            values[key] = int(value)
    return text.format(**values)


def selected(params: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """(term, text) of the figures a run shows, its params filled in.

    Parameters
    ----------
    params : Mapping, optional
        The run's params (``Params.as_notebook_parameters()``); a section whose key is unset
        (``change_date: null``, ...) drops its figures. Default: every figure, package defaults.

    Returns
    -------
    list of (str, str)
        The term and its text, in report order.

    Examples
    --------
    >>> terms = [term for term, _ in selected({"change_date": None})]
    >>> "Before and after the onboarding change" in terms, "Lifetime" in terms
    (False, True)
    >>> dict(selected({"rmst_horizon_days": 60.0}))["Restricted mean lifetime (RMST)"][:46]
    'The mean lifetime within the first 60 days: th'
    """
    params = dict(params or {})
    return [(d.term, _fill(d.text, params)) for d in DEFINITIONS if _enabled(params, d.requires)]


def how_to_read_html(params: Mapping[str, Any] | None = None) -> str:
    """The "How to read this report" section (an ``<h1>`` and its paragraphs).

    Parameters
    ----------
    params : Mapping, optional
        The run's params: the censoring paragraph names its ``min_at_risk``.

    Returns
    -------
    str
        The HTML of the section, ``id="oa-how-to-read"``.
    """
    params = dict(params or {})
    paragraphs = [
        "Each section answers one question about new users. Shares are in percent; under each "
        "estimate, in smaller type, is its 95% interval (the range the true value is compatible "
        "with). Counts say how many users a figure rests on.",
        _fill(CENSORING, params),
        "Lines starting with \u25b8 open on a click: they hold the test tables, row counts and other "
        "detail behind a figure. Notes flag caveats about the data or a figure. Differences "
        "between groups are read from corrected p-values; associations are not causes.",
        "The definitions of every figure follow; the params of this run are under "
        '"About this report" at the end.',
    ]
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f'<section class="oa-appendix" id="oa-how-to-read"><h1>How to read this report</h1>{body}</section>'
    )


def definitions_html(params: Mapping[str, Any] | None = None) -> str:
    """The "Definitions" section: a ``<dl>`` of the figures the run shows.

    Parameters
    ----------
    params : Mapping, optional
        The run's params: which figures are shown, and the values in their texts
        (:func:`selected`).

    Returns
    -------
    str
        The HTML of the section, ``id="oa-definitions"``.
    """
    items = "".join(
        f"<dt>{html.escape(term)}</dt><dd>{html.escape(text)}</dd>" for term, text in selected(params)
    )
    return f'<section class="oa-appendix" id="oa-definitions"><h1>Definitions</h1><dl class="oa-defs">{items}</dl></section>'


def definitions_markdown(params: Mapping[str, Any] | None = None) -> str:
    """The definitions as Markdown (``## term`` then its text), e.g. for ``docs/metrics.md``.

    Parameters
    ----------
    params : Mapping, optional
        The run's params (default: every figure, package defaults).

    Returns
    -------
    str
        A Markdown page: the censoring paragraph, then one ``##`` section per figure.

    Examples
    --------
    >>> definitions_markdown().splitlines()[0]
    '# Definitions'
    """
    params = dict(params or {})
    parts = ["# Definitions", "", _fill(CENSORING, params), ""]
    for term, text in selected(params):
        parts += [f"## {term}", "", text, ""]
    return "\n".join(parts)
