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

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .wording import (
    NOT_ESTIMABLE,
    count,
    days,
    days_ci,
    duration,
    is_number,
    join_words,
    p_value,
    percent,
    percent_ci,
    points_ci,
)

__all__ = ["LEVEL", "MAX_FINDINGS", "SECTIONS", "Finding", "build_findings"]

#: Level below which a corrected p-value counts as a difference (the 95% intervals' level).
LEVEL = 0.05
#: At most this many findings are written (the least important are left out).
MAX_FINDINGS = 7
#: At most this many ``segment-<column>`` findings (smallest corrected p-values first).
MAX_SEGMENT_FINDINGS = 3

#: The report heading each kind of finding links to (matched against the report's headings).
SECTIONS = {
    "data": "Readiness and data quality",
    "change": "Before and after the onboarding change",
    "funnel": "Onboarding funnel",
    "segments": "Segment comparisons",
    "drivers": "Early behaviours that go with staying",
    "moments": "Moments of truth",
    "ttfv": "Time to first value",
}

_CORRECTIONS = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}

#: What a failing readiness signal means for the reading (readiness.py's rules, in words).
_READINESS_FAILS = {
    "segments": "no segment column to compare groups by",
    "journey": "no onboarding steps, or a step never occurs",
    "feedback": "no feedback event, or scores off the scale",
    "baseline": "too few users observed 30 days for a baseline",
    "data_quality": "many event rows excluded",
}


@dataclass(frozen=True)
class Finding:
    """One finding: a stable id, a plain sentence, the heading it links to and its numbers.

    Attributes
    ----------
    id : str
        Stable identifier (``funnel-drop-off``, ``segment-persona``, ...; see the module table).
    text : str
        The sentence(s), numbers formatted for people.
    section : str
        Text of the report heading holding the detail (a key of :data:`SECTIONS`' values).
    numbers : dict
        The numbers behind the sentence, unformatted (JSON-ready; ``None`` where not estimable).
    """

    id: str
    text: str
    section: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The finding as stored in ``metrics.json`` ``summary.findings[]``."""
        return {"id": self.id, "text": self.text, "section": self.section, "numbers": dict(self.numbers)}


def _get(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def _correction(name: Any) -> str:
    return _CORRECTIONS.get(str(name), str(name)) if name else "multiple-testing"


# --------------------------------------------------------------------------------------------
# One rule per kind of finding
# --------------------------------------------------------------------------------------------


def _funnel_finding(metrics: Mapping[str, Any]) -> list[Finding]:
    """The funnel step that loses the largest share of the users reaching the step before it."""
    funnel = _get(metrics, "funnel")
    steps = _get(funnel, "steps")
    if not isinstance(steps, list) or len(steps) < 2:
        return []
    window = _get(funnel, "window_days")
    within = f" within {duration(window)} of signup" if is_number(window) else ""
    eligible = _get(funnel, "eligible")
    drops = []
    for number, (before, after) in enumerate(zip(steps, steps[1:], strict=False), start=1):
        share = _get(after, "from_previous")
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
    low, high = _get(after, "from_previous_ci_high"), _get(after, "from_previous_ci_low")
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


def _group_medians(groups: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(group, median lifetime) from the longest to the shortest; not reached counts as longest."""
    pairs = [(str(name), _get(g, "median_days")) for name, g in groups.items() if isinstance(g, Mapping)]
    return sorted(pairs, key=lambda p: -p[1] if is_number(p[1]) else float("-inf"))


def _median_words(name: str, median: Any, *, unit: bool = True) -> str:
    if not is_number(median):
        return f"not reached for {name} (over half still active)"
    return f"{days(median) if unit else f'{median:.1f}'} for {name}"


def _segment_findings(metrics: Mapping[str, Any]) -> list[Finding]:
    """Segment columns whose lifetimes differ after the correction, then those that do not."""
    segments = _get(metrics, "segments")
    if not isinstance(segments, Mapping):
        return []
    differ, same = [], []
    for column, comparison in segments.items():
        if not isinstance(comparison, Mapping):
            continue
        p = comparison.get("logrank_p_adjusted")
        if not is_number(p) and len(segments) == 1:
            p = comparison.get("logrank_p")  # one column: nothing to correct across
        groups = comparison.get("groups")
        if not is_number(p) or not isinstance(groups, Mapping) or len(groups) < 2:
            continue  # fewer than two groups of min_segment_size users: nothing was compared
        (differ if p < LEVEL else same).append((p, str(column), comparison))
    out = []
    for p, column, comparison in sorted(differ, key=lambda d: d[0])[:MAX_SEGMENT_FINDINGS]:
        medians = _group_medians(comparison["groups"])
        if len(medians) <= 3:
            detail = "median lifetime " + join_words(
                [_median_words(n, m, unit=i == 0) for i, (n, m) in enumerate(medians)]
            )
        else:
            detail = (
                f"median lifetime {_median_words(*medians[0])} (the longest) and "
                f"{_median_words(*medians[-1])} (the shortest)"
            )
        text = (
            f"Lifetime differs by {column}: {detail} (log-rank p {_p_words(p)}, "
            f"{_correction(comparison.get('p_adjust'))}-corrected across segment columns)."
        )
        numbers = {
            "column": column,
            "logrank_p_adjusted": p,
            "p_adjust": comparison.get("p_adjust"),
            "reference": comparison.get("reference"),
            "groups": {
                str(name): {
                    key: _get(g, key)
                    for key in ("users", "median_days", "hazard_ratio", "hr_ci_low", "hr_ci_high")
                }
                for name, g in comparison["groups"].items()
            },
        }
        out.append(Finding(f"segment-{column}", text, SECTIONS["segments"], numbers))
    if same:
        same.sort(key=lambda s: s[1])
        columns = [c for _, c, _ in same]
        verb = "makes" if len(columns) == 1 else "make"
        ps = join_words([p_value(p) for p, _, _ in same])
        correction = _correction(same[0][2].get("p_adjust"))
        text = (
            f"{join_words(columns).capitalize()} {verb} no detectable difference to lifetime "
            f"(log-rank p = {ps} after {correction} correction)."
        )
        numbers = {"columns": columns, "logrank_p_adjusted": {c: p for p, c, _ in same}}
        out.append(Finding("segments-no-difference", text, SECTIONS["segments"], numbers))
    return out


def _p_words(p: float) -> str:
    text = p_value(p)
    return text if text.startswith("<") else f"= {text}"


def _day_key(change: Mapping[str, Any], prefix: str) -> str | None:
    for key in change:
        if re.fullmatch(rf"{prefix}_day_\d+_diff", str(key)):
            return str(key)
    return None


def _abs_range(low: float, high: float) -> str:
    """The interval of a difference as unsigned sizes, smaller first: (-0.139, -0.091) -> '9.1 to 13.9'."""
    a, b = sorted((abs(100 * low), abs(100 * high)))
    return f"{a:.1f} to {b:.1f}"


def _change_finding(metrics: Mapping[str, Any]) -> list[Finding]:
    """The onboarding change's effect on value reached and on lifetime, with intervals."""
    change = _get(metrics, "change")
    if not isinstance(change, Mapping) or not change.get("change_date"):
        return []
    date = change["change_date"]
    before, after = change.get("before_users"), change.get("after_users")
    groups = f"{count(after)} users after, {count(before)} before"
    key = _day_key(change, "ttfv")
    day = key.split("_")[2] if key else "7"
    diff = change.get(key) if key else None
    low, high = (change.get(f"{key}_ci_low"), change.get(f"{key}_ci_high")) if key else (None, None)
    value = f"value reached within {day} days"
    if not is_number(diff):
        first = (
            f"The onboarding change of {date}: {NOT_ESTIMABLE} on both sides to compare {value} ({groups})."
        )
    elif is_number(low) and is_number(high) and (low > 0 or high < 0):
        higher = "higher" if low > 0 else "lower"
        first = (
            f"After the onboarding change of {date}, the share of signups reaching value within "
            f"{day} days is {100 * abs(diff):.1f} points {higher} (95% CI {_abs_range(low, high)}; "
            f"{groups})."
        )
    else:
        first = (
            f"The onboarding change of {date} made no detectable difference to {value}: "
            f"{points_ci(diff, low, high)}; {groups}."
        )
    hr, hr_low, hr_high = change.get("hazard_ratio"), change.get("hr_ci_low"), change.get("hr_ci_high")
    second = ""
    if is_number(hr) and is_number(hr_low) and is_number(hr_high):
        rate = f"{hr:.2f} times the earlier churn rate (95% CI {hr_low:.2f}-{hr_high:.2f})"
        if hr_high < 1:
            second = f" Users who signed up after it also stay longer: {rate}."
        elif hr_low > 1:
            second = f" Users who signed up after it leave sooner: {rate}."
        else:
            second = f" Lifetime shows no detectable change: {rate}."
    numbers = {
        "change_date": date,
        "before_users": before,
        "after_users": after,
        "ttfv_day": int(day),
        "ttfv_diff": diff,
        "ttfv_diff_ci_low": low,
        "ttfv_diff_ci_high": high,
        "hazard_ratio": hr,
        "hr_ci_low": hr_low,
        "hr_ci_high": hr_high,
    }
    retention_key = _day_key(change, "retention")
    if retention_key:
        numbers[retention_key] = change.get(retention_key)
        numbers[f"{retention_key}_ci_low"] = change.get(f"{retention_key}_ci_low")
        numbers[f"{retention_key}_ci_high"] = change.get(f"{retention_key}_ci_high")
    return [Finding("change-effect", first + second, SECTIONS["change"], numbers)]


def _drivers_finding(metrics: Mapping[str, Any]) -> list[Finding]:
    """The early behaviour most strongly associated with staying (or leaving), after correction."""
    drivers = _get(metrics, "drivers")
    if not isinstance(drivers, Mapping):
        return []
    landmark = drivers.get("landmark_days")
    first_days = f"the first {count(landmark)} days" if is_number(landmark) else "the first days"
    events = drivers.get("events")
    events = events if isinstance(events, Mapping) else {}
    if not events:
        return [
            Finding(
                "early-behaviours",
                f"Early behaviours: {NOT_ESTIMABLE} (none still active after {first_days} to compare).",
                SECTIONS["drivers"],
                {"users": drivers.get("users"), "landmark_days": landmark, "events_tested": 0},
            )
        ]
    correction = _correction(drivers.get("p_adjust"))
    rows = [
        (str(name), e)
        for name, e in events.items()
        if isinstance(e, Mapping) and is_number(e.get("p_adjusted")) and is_number(e.get("hazard_ratio"))
    ]
    found = [(n, e) for n, e in rows if e["p_adjusted"] < LEVEL]
    staying = sorted((r for r in found if r[1]["hazard_ratio"] < 1), key=lambda r: r[1]["hazard_ratio"])
    leaving = sorted((r for r in found if r[1]["hazard_ratio"] > 1), key=lambda r: -r[1]["hazard_ratio"])
    tested = len(events)
    numbers: dict[str, Any] = {
        "landmark_days": landmark,
        "users": drivers.get("users"),
        "events_tested": tested,
        "p_adjust": drivers.get("p_adjust"),
        "associated": {
            n: {k: e.get(k) for k in ("hazard_ratio", "hr_ci_low", "hr_ci_high", "p_adjusted")}
            for n, e in found
        },
    }
    if not found:
        text = (
            f"Of the {tested} most frequent early events in {first_days}, not one is associated with "
            f"how long users stay afterwards, after {correction} correction."
        )
        return [Finding("early-behaviours", text, SECTIONS["drivers"], numbers)]
    name, e = (staying or leaving)[0]
    direction = "staying longer" if e["hazard_ratio"] < 1 else "leaving sooner"
    text = (
        f"Doing {name} in {first_days} is associated with {direction} afterwards (churn rate "
        f"{_times(e['hazard_ratio'], e.get('hr_ci_low'), e.get('hr_ci_high'))} that of users who did not); "
        f"{len(found)} of {tested} early events {'is' if len(found) == 1 else 'are'} associated with "
        f"lifetime after {correction} "
        "correction. These are associations, not proof of cause."
    )
    return [Finding("early-behaviours", text, SECTIONS["drivers"], numbers)]


def _times(ratio: float, low: Any, high: Any) -> str:
    text = f"{ratio:.2f} times"
    return text + (f", 95% CI {low:.2f}-{high:.2f}," if is_number(low) and is_number(high) else "")


def _crisis_finding(metrics: Mapping[str, Any]) -> list[Finding]:
    """How many accounts (or users) are in crisis among those observed long enough."""
    moments = _get(metrics, "moments")
    if not isinstance(moments, Mapping) or "crisis" not in moments:
        return []
    unit = str(moments.get("unit") or "account")
    crisis, eligible = moments.get("crisis"), _get(moments, "eligible", "crisis")
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
    readiness = _get(metrics, "readiness")
    readiness = readiness if isinstance(readiness, Mapping) else {}
    status = {str(k): _get(v, "status") for k, v in readiness.items()}
    parts: list[str] = []
    numbers: dict[str, Any] = {}
    read, used = _get(metrics, "data", "events_read"), _get(metrics, "data", "events_used")
    if status.get("data_quality") in ("warn", "fail") and is_number(read) and is_number(used) and read > 0:
        share = 1 - used / read
        excluded = _get(metrics, "data", "excluded")
        reasons = {str(k): v for k, v in (excluded or {}).items() if is_number(v) and v > 0}
        top = max(reasons, key=reasons.get) if reasons else None
        why = f", most for {top} ({count(reasons[top])} rows)" if top else ""
        parts.append(f"{percent(share)} of {count(read)} event rows were excluded{why}")
        numbers |= {"excluded_share": share, "events_read": read, "events_used": used, "top_reason": top}
    warnings = _get(metrics, "warnings")
    n_warnings = len(warnings) if isinstance(warnings, list) else _get(metrics, "data_quality", "warnings")
    if is_number(n_warnings) and n_warnings > 0:
        parts.append(f"{count(n_warnings)} data warning{'s' if n_warnings != 1 else ''}")
        numbers["warnings"] = int(n_warnings)
    unseen = _get(metrics, "data_quality", "params_events_not_seen")
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
    ttfv = _get(metrics, "ttfv")
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
    _change_finding,
    _funnel_finding,
    _segment_findings,
    _drivers_finding,
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
