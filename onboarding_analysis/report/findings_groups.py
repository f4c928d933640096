"""The findings that compare groups: segments, the onboarding change and early behaviours.

Each rule reads one part of a run's metrics and says nothing when it is absent; the wording
follows the tests behind it (see :mod:`onboarding_analysis.report.findings`).
:func:`~onboarding_analysis.report.findings.build_findings` calls them in its rule order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .findings_common import LEVEL, MAX_SEGMENT_FINDINGS, SECTIONS, Finding, correction_name, metric_at
from .wording import NOT_ESTIMABLE, count, days, is_number, join_words, p_value, points_ci


def _group_medians(groups: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(group, median lifetime) from the longest to the shortest; not reached counts as longest."""
    pairs = [(str(name), metric_at(g, "median_days")) for name, g in groups.items() if isinstance(g, Mapping)]
    return sorted(pairs, key=lambda p: -p[1] if is_number(p[1]) else float("-inf"))


def _median_words(name: str, median: Any, *, unit: bool = True) -> str:
    if not is_number(median):
        return f"not reached for {name} (over half still active)"
    return f"{days(median) if unit else f'{median:.1f}'} for {name}"


def segment_findings(metrics: Mapping[str, Any]) -> list[Finding]:
    """Segment columns whose lifetimes differ after the correction, then those that do not.

    Parameters
    ----------
    metrics : Mapping
        The run's final ``metrics.json`` content; its ``segments`` part is read (nothing is
        found without one).

    Returns
    -------
    list of Finding
        At most :data:`~onboarding_analysis.report.findings_common.MAX_SEGMENT_FINDINGS` columns that differ, smallest corrected p first, then the columns that do not.
    """
    segments = metric_at(metrics, "segments")
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
            f"{correction_name(comparison.get('p_adjust'))}-corrected across segment columns)."
        )
        numbers = {
            "column": column,
            "logrank_p_adjusted": p,
            "p_adjust": comparison.get("p_adjust"),
            "reference": comparison.get("reference"),
            "groups": {
                str(name): {
                    key: metric_at(g, key)
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
        correction = correction_name(same[0][2].get("p_adjust"))
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


def change_findings(metrics: Mapping[str, Any]) -> list[Finding]:
    """The onboarding change's effect on value reached and on lifetime, with intervals.

    Parameters
    ----------
    metrics : Mapping
        The run's final ``metrics.json`` content; its ``change`` part is read (nothing is
        found without one).

    Returns
    -------
    list of Finding
        At most one.
    """
    change = metric_at(metrics, "change")
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


def drivers_findings(metrics: Mapping[str, Any]) -> list[Finding]:
    """The early behaviour most strongly associated with staying (or leaving), after correction.

    Parameters
    ----------
    metrics : Mapping
        The run's final ``metrics.json`` content; its ``drivers`` part is read (nothing is
        found without one).

    Returns
    -------
    list of Finding
        At most one: the strongest association.
    """
    drivers = metric_at(metrics, "drivers")
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
    correction = correction_name(drivers.get("p_adjust"))
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


__all__ = ["change_findings", "drivers_findings", "segment_findings"]
