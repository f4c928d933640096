"""Findings: plain sentences written from a run's ``metrics.json``, each with the numbers behind it.

:func:`build_findings` reads the final metrics of a run (a dict, nothing else) and returns at most
:data:`MAX_FINDINGS` :class:`Finding` objects, most important first. Each rule looks at one
part of the metrics and says nothing when that part is absent (no ``change_date``, no
``segments``, no funnel): an absent input is never a crash or a "None" in a sentence.

The wording never claims more than the test behind it shows:

- segment columns *differ* only when the log-rank p-value corrected across columns
  (``segments.<column>.logrank_p_adjusted``) is below :data:`LEVEL`; otherwise they make "no
  detectable difference". The correction is named.
- the onboarding change is worded by whether the 95% interval of the difference excludes 0
  (of the hazard ratio: excludes 1); an interval holding 0 is "no detectable difference".
- early behaviours (the landmark analysis) are "associated with", never causes.
- a figure that could not be estimated (``null``) reads "not enough users yet".

===========================  =============================================  ===================================
id                           when                                           says
===========================  =============================================  ===================================
``data-limits``              readiness fails, excluded rows over the        what limits the reading (first when
                             readiness threshold, data warnings, params     data quality or the baseline fail,
                             events never seen                              else after the other findings)
``change-effect``            ``change`` recorded                            value by day 7 and lifetime after
                                                                            the change, with intervals
``funnel-drop-off``          a funnel with 2+ steps                         the step losing the largest share
``segment-<column>``         per column whose groups differ (at most 3,     median lifetime per group
                             smallest corrected p first)
``segments-no-difference``   the columns that do not differ                 "makes no detectable difference"
``early-behaviours``         ``drivers`` recorded                           the strongest association
``accounts-in-crisis``       ``moments`` recorded                           how many accounts are in crisis
``time-to-value``            ``ttfv`` recorded                              share reaching value, and how fast
===========================  =============================================  ===================================

Examples
--------
>>> [f.id for f in build_findings({"moments": {"crisis": 3, "unit": "account",
...                                      "eligible": {"crisis": 120}}})]
['accounts-in-crisis']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .findings_common import LEVEL, MAX_FINDINGS, SECTIONS, Finding, metric_at
from .findings_groups import change_findings, drivers_findings, segment_findings
from .wording import (
    NOT_ESTIMABLE,
    count,
    days,
    days_ci,
    duration,
    is_number,
    join_words,
    percent,
    percent_ci,
)

__all__ = ["LEVEL", "MAX_FINDINGS", "SECTIONS", "Finding", "build_findings"]

#: What a failing readiness signal means for the reading (readiness.py's rules, in words).
_READINESS_FAILS = {
    "segments": "no segment column to compare groups by",
    "journey": "no onboarding steps, or a step never occurs",
    "feedback": "no feedback event, or scores off the scale",
    "baseline": "too few users observed 30 days for a baseline",
    "data_quality": "many event rows excluded",
}


# --------------------------------------------------------------------------------------------
# One rule per kind of finding
# --------------------------------------------------------------------------------------------


def _funnel_finding(metrics: Mapping[str, Any]) -> list[Finding]:
    """The funnel step that loses the largest share of the users reaching the step before it."""
    funnel = metric_at(metrics, "funnel")
    steps = metric_at(funnel, "steps")
    if not isinstance(steps, list) or len(steps) < 2:
        return []
    window = metric_at(funnel, "window_days")
    within = f" within {duration(window)} of signup" if is_number(window) else ""
    eligible = metric_at(funnel, "eligible")
    drops = []
    for number, (before, after) in enumerate(zip(steps, steps[1:], strict=False), start=1):
        share = metric_at(after, "from_previous")
        if isinstance(before, Mapping) and isinstance(after, Mapping) and is_number(share):
            names = (
                str(before.get("step") or f"step {number}"),
                str(after.get("step") or f"step {number + 1}"),
            )
            drops.append((1 - share, before, after, names))
    if not drops:
        whole = f"whole funnel window of {duration(window)}" if is_number(window) else "whole funnel window"
        return [
            Finding(
                "funnel-drop-off",
                f"Onboarding funnel: {NOT_ESTIMABLE} (no signup has been observed for the {whole}).",
                SECTIONS["funnel"],
                {"eligible": eligible if is_number(eligible) else None, "window_days": window},
            )
        ]
    drop, before, after, (name_before, name_after) = max(drops, key=lambda d: d[0])
    low, high = metric_at(after, "from_previous_ci_high"), metric_at(after, "from_previous_ci_low")
    low, high = (1 - low if is_number(low) else None), (1 - high if is_number(high) else None)
    reached = before.get("users")
    who = f"the {count(reached)} users" if is_number(reached) else "the users"
    text = (
        f"The largest drop-off in the onboarding funnel is between {name_before} and {name_after}: "
        f"{percent_ci(drop, low, high)} of {who} who reached {name_before} did not go on to "
        f"{name_after}{within}."
    )
    return [
        Finding(
            "funnel-drop-off",
            text,
            SECTIONS["funnel"],
            {
                "from_step": name_before,
                "to_step": name_after,
                "drop_off": drop,
                "ci_low": low,
                "ci_high": high,
                "users_from": before.get("users"),
                "users_to": after.get("users"),
                "eligible": eligible,
                "window_days": window,
            },
        )
    ]


def _crisis_finding(metrics: Mapping[str, Any]) -> list[Finding]:
    """How many accounts (or users) are in crisis among those observed long enough."""
    moments = metric_at(metrics, "moments")
    if not isinstance(moments, Mapping) or "crisis" not in moments:
        return []
    unit = str(moments.get("unit") or "account")
    crisis, eligible = moments.get("crisis"), metric_at(moments, "eligible", "crisis")
    numbers = {"unit": unit, "crisis": crisis, "eligible": eligible}
    if not is_number(eligible) or eligible <= 0 or not is_number(crisis):
        text = f"Accounts in crisis: {NOT_ESTIMABLE} (no {unit} observed long enough to tell)."
        return [Finding("accounts-in-crisis", text, SECTIONS["moments"], numbers | {"share": None})]
    share = crisis / eligible
    if crisis == 0:
        text = f"No {unit} is in crisis (0 of {count(eligible)} {unit}s observed long enough)."
    else:
        units = unit if crisis == 1 else f"{unit}s"
        verb = "is" if crisis == 1 else "are"
        text = (
            f"{count(crisis)} {units} ({percent(share)} of {count(eligible)} observed long enough) "
            f"{verb} in crisis: they reached value and were very active early, but their recent "
            "activity has collapsed and they have not churned yet."
        )
    return [Finding("accounts-in-crisis", text, SECTIONS["moments"], numbers | {"share": share})]


def _data_finding(metrics: Mapping[str, Any]) -> list[Finding]:
    """What limits the reading: readiness fails, excluded rows, data warnings, unseen events."""
    readiness = metric_at(metrics, "readiness")
    readiness = readiness if isinstance(readiness, Mapping) else {}
    status = {str(k): metric_at(v, "status") for k, v in readiness.items()}
    parts: list[str] = []
    numbers: dict[str, Any] = {}
    read, used = metric_at(metrics, "data", "events_read"), metric_at(metrics, "data", "events_used")
    if status.get("data_quality") in ("warn", "fail") and is_number(read) and is_number(used) and read > 0:
        share = 1 - used / read
        excluded = metric_at(metrics, "data", "excluded")
        reasons = {str(k): v for k, v in (excluded or {}).items() if is_number(v) and v > 0}
        top = max(reasons, key=reasons.get) if reasons else None
        why = f", most of them as '{top}' ({count(reasons[top])} rows)" if top else ""
        parts.append(f"{percent(share)} of {count(read)} event rows were excluded{why}")
        numbers |= {"excluded_share": share, "events_read": read, "events_used": used, "top_reason": top}
    warnings = metric_at(metrics, "warnings")
    n_warnings = len(warnings) if isinstance(warnings, list) else metric_at(metrics, "data_quality", "warnings")
    if is_number(n_warnings) and n_warnings > 0:
        parts.append(f"{count(n_warnings)} data warning{'s' if n_warnings != 1 else ''}")
        numbers["warnings"] = int(n_warnings)
    unseen = metric_at(metrics, "data_quality", "params_events_not_seen")
    if isinstance(unseen, Mapping) and unseen:
        names = [str(n) for n in unseen]
        parts.append(
            f"params event{'s' if len(names) != 1 else ''} never seen in the data: {join_words(names)}"
        )
        numbers["params_events_not_seen"] = names
    fails = [s for s in _READINESS_FAILS if status.get(s) == "fail" and s != "data_quality"]
    if fails:
        parts.append("readiness fails on " + "; ".join(f"{s} ({_READINESS_FAILS[s]})" for s in fails))
        numbers["readiness_fail"] = fails
    if not parts:
        return []
    numbers["blocking"] = status.get("data_quality") == "fail" or status.get("baseline") == "fail"
    text = "What limits this reading: " + "; ".join(parts) + "."
    return [Finding("data-limits", text, SECTIONS["data"], numbers)]


def _ttfv_finding(metrics: Mapping[str, Any]) -> list[Finding]:
    """The share of signups ever reaching value, and the day by which a quarter / half do."""
    ttfv = metric_at(metrics, "ttfv")
    if not isinstance(ttfv, Mapping):
        return []
    share, ci = ttfv.get("eventual_share"), ttfv.get("eventual_share_ci")
    low, high = (ci[0], ci[1]) if isinstance(ci, list) and len(ci) == 2 else (None, None)
    horizon = ttfv.get("eventual_share_day")
    within = f" within {count(horizon)} days" if is_number(horizon) else ""
    numbers = {"eventual_share": share, "ci_low": low, "ci_high": high, "horizon_days": horizon}
    if not is_number(share):
        text = f"Time to first value: {NOT_ESTIMABLE} (no signup observed long enough to tell)."
        return [Finding("time-to-value", text, SECTIONS["ttfv"], numbers)]
    text = f"{percent_ci(share, low, high)} of signups reach value{within}"
    for pct, word in ((50, "half"), (25, "a quarter")):
        value = ttfv.get(f"days_to_{pct}pct")
        if is_number(value):
            pct_ci = ttfv.get(f"days_to_{pct}pct_ci")
            interval = days_ci(*pct_ci) if isinstance(pct_ci, list) and len(pct_ci) == 2 else ""
            text += f"; {word} of signups within {days(value)}" + (
                f" (95% CI {interval})" if interval else ""
            )
            numbers |= {f"days_to_{pct}pct": value}
            break
    return [Finding("time-to-value", text + ".", SECTIONS["ttfv"], numbers)]


#: The rules, in the order their findings are shown (see :func:`build_findings` for data-limits).
RULES: tuple[Callable[[Mapping[str, Any]], list[Finding]], ...] = (
    change_findings,
    _funnel_finding,
    segment_findings,
    drivers_findings,
    _crisis_finding,
    _data_finding,
    _ttfv_finding,
)


def build_findings(metrics: Mapping[str, Any], *, limit: int = MAX_FINDINGS) -> list[Finding]:
    """The findings of a run, most important first.

    Parameters
    ----------
    metrics : Mapping
        The run's final ``metrics.json`` content.
    limit : int
        At most this many findings; the last ones (in :data:`RULES` order) are dropped.

    Returns
    -------
    list of Finding
        In :data:`RULES` order, except that ``data-limits`` comes first when the data quality
        or the baseline readiness signal fails (then nothing else can be read with confidence).
        Empty when the metrics hold none of the sections the rules read.

    Examples
    --------
    >>> build_findings({})
    []
    """
    out = [finding for rule in RULES for finding in rule(metrics)]
    blocking = [f for f in out if f.id == "data-limits" and f.numbers.get("blocking")]
    out = blocking + [f for f in out if f not in blocking]
    return out[: max(int(limit), 0)]
