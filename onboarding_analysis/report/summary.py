"""The "At a glance" block: headline figures and findings of a run, from its ``metrics.json``.

:func:`build_summary` is a pure function of a run's final metrics (a dict in, a
:class:`Summary` out): the headline figures (day-N retention, value reached by day 7, funnel
completion, median lifetime), each with its 95% interval and the users it is based on, and the
findings of :mod:`onboarding_analysis.report.findings`. :func:`summary_metrics` is what a report run
records in ``metrics.json`` (``summary.headline``, ``summary.findings[]``), and
:func:`summary_html` the block placed at the top of ``report.html``, before anything else.

==========================  ==================================================  =========================
headline key                value, interval                                     based on
==========================  ==================================================  =========================
``retention_day_<N>``       ``retention.day_<N>.{rate,ci_low,ci_high}``         ``eligible`` users
``value_by_day_7``          ``ttfv.reached_by.day_7.{rate,ci_low,ci_high}``     ``ttfv.users`` signups
``funnel_completion``       last ``funnel.steps[].users`` / ``funnel.eligible``,  ``funnel.eligible``
                            Wilson interval
``median_lifetime``         ``lifetime.{median_days,median_ci_low,..._high}``   ``churned + censored``
==========================  ==================================================  =========================

A section absent from the metrics gives no figure; a figure that is ``null`` there is shown as
"not enough users yet" (or "not reached" for a median lifetime that more than half of the users
outlive), with the reason.

Examples
--------
>>> s = build_summary({"retention": {"day_7": {"rate": 0.3, "ci_low": 0.25, "ci_high": 0.35,
...                                            "eligible": 300}}})
>>> [(f.key, f.text, f.n) for f in s.headline]
[('retention_day_7', '30.0% (25.0-35.0%)', 300)]
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..stats.intervals import wilson_interval
from .findings import Finding, build_findings
from .findings_common import metric_at
from .wording import NOT_ESTIMABLE, count, days, days_ci, duration, is_number, percent, percent_ci

__all__ = ["SUMMARY_ID", "Figure", "Summary", "build_summary", "summary_html", "summary_metrics"]

#: The ``id`` of the block's ``<section>`` in the report.
SUMMARY_ID = "at-a-glance"

#: Shown for a median lifetime that more than half of the users outlive.
NOT_REACHED = "not reached"


@dataclass(frozen=True)
class Figure:
    """One headline figure.

    Attributes
    ----------
    key : str
        Stable key in ``summary.headline`` (``retention_day_7``, ``median_lifetime``, ...).
    label : str
        Its name for people ("Day-7 retention").
    meaning : str
        What it counts, in a few words ("active on day 7").
    unit : str
        ``"share"`` (in ``[0, 1]``) or ``"days"``.
    value, ci_low, ci_high : float or None
        Estimate and 95% interval; ``None`` where not estimable.
    n : int or None
        Users the figure is based on; ``n_label`` says which.
    n_label : str
        What ``n`` counts.
    note : str or None
        Why ``value`` is missing (``None`` when it is not).
    section : str
        Text of the report heading holding the detail.
    """

    key: str
    label: str
    meaning: str
    unit: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int | None
    n_label: str
    note: str | None
    section: str

    @property
    def text(self) -> str:
        """The value with its interval, formatted ("29.3% (28.1-30.5%)"), or why it is missing.

        Returns
        -------
        str
            The formatted value and interval.
        """
        if not is_number(self.value):
            return NOT_REACHED if self.note and self.note.startswith("more than half") else NOT_ESTIMABLE
        if self.unit == "share":
            return percent_ci(self.value, self.ci_low, self.ci_high)
        interval = days_ci(self.ci_low, self.ci_high)
        return days(self.value) + (f" ({interval})" if interval else "")

    @property
    def value_text(self) -> str:
        """The value alone ("29.3%", "43.5 days"), or "not enough users yet" / "not reached".

        Returns
        -------
        str
            The formatted value.
        """
        if not is_number(self.value):
            return self.text
        return percent(self.value) if self.unit == "share" else days(self.value)

    @property
    def ci_text(self) -> str:
        """The interval alone ("95% CI 28.1-30.5%"), ``""`` without one.

        Returns
        -------
        str
            The formatted interval.
        """
        if not is_number(self.value) or not is_number(self.ci_low):
            return ""
        if self.unit == "share":
            if not is_number(self.ci_high):
                return ""
            return f"95% CI {100 * self.ci_low:.1f}-{100 * self.ci_high:.1f}%"
        return f"95% CI {days_ci(self.ci_low, self.ci_high)}"

    @property
    def n_text(self) -> str:
        """The denominator ("n = 5,975 users observed 8+ days"), ``""`` when unknown.

        Returns
        -------
        str
            The formatted denominator.
        """
        return f"n = {count(self.n)} {self.n_label}".rstrip() if is_number(self.n) else ""

    def as_dict(self) -> dict[str, Any]:
        """The figure as stored in ``metrics.json`` ``summary.headline.<key>``.

        Returns
        -------
        dict
            ``label``, ``unit``, ``value``, its interval, ``n``, ``n_label``, ``text`` and ``note``.
        """
        return {
            "label": self.label,
            "unit": self.unit,
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n": self.n,
            "n_label": self.n_label,
            "text": self.text,
            "note": self.note,
        }


@dataclass(frozen=True)
class Summary:
    """The headline figures and findings of a run (:func:`build_summary`)."""

    headline: tuple[Figure, ...] = ()
    findings: tuple[Finding, ...] = field(default_factory=tuple)




def _num(value: Any) -> float | None:
    return float(value) if is_number(value) else None


def _int(value: Any) -> int | None:
    return int(value) if is_number(value) else None


def _share_figure(entry: Mapping[str, Any], *, if_missing: str, **fields: Any) -> Figure:
    """A share figure from a metrics entry (``rate``, ``ci_low``, ``ci_high``).

    ``if_missing`` is its note when the rate is not estimable.
    """
    value = _num(entry.get("rate"))
    return Figure(
        unit="share",
        value=value,
        ci_low=_num(entry.get("ci_low")),
        ci_high=_num(entry.get("ci_high")),
        note=None if value is not None else if_missing,
        **fields,
    )


def _retention_figures(metrics: Mapping[str, Any]) -> list[Figure]:
    retention = metric_at(metrics, "retention")
    if not isinstance(retention, Mapping):
        return []
    found = []
    for key, entry in retention.items():
        match = re.fullmatch(r"day_(\d+)", str(key))
        if match and isinstance(entry, Mapping):
            found.append((int(match.group(1)), entry))
    figures = []
    for day, entry in sorted(found, key=lambda d: d[0]):
        figures.append(
            _share_figure(
                entry,
                if_missing=f"no user observed {day + 1} days yet",
                key=f"retention_day_{day}",
                label=f"Day-{day} retention",
                meaning=f"active on day {day} after signup",
                n=_int(entry.get("eligible")),
                n_label=f"users observed {day + 1}+ days",
                section="Day-N retention",
            )
        )
    return figures


def _value_figure(metrics: Mapping[str, Any], day: int = 7) -> list[Figure]:
    ttfv = metric_at(metrics, "ttfv")
    entry = metric_at(ttfv, "reached_by", f"day_{day}")
    if not isinstance(entry, Mapping):
        return []
    return [
        _share_figure(
            entry,
            if_missing=f"no signup observed {day} days yet",
            key=f"value_by_day_{day}",
            label=f"Value by day {day}",
            meaning=f"signups reaching first value within {day} days",
            n=_int(metric_at(ttfv, "users")),
            n_label="signups",
            section="Time to first value",
        )
    ]


def _funnel_figure(metrics: Mapping[str, Any]) -> list[Figure]:
    funnel = metric_at(metrics, "funnel")
    steps = metric_at(funnel, "steps")
    if not isinstance(steps, list) or len(steps) < 2 or not isinstance(steps[-1], Mapping):
        return []
    eligible, completed = _int(metric_at(funnel, "eligible")), _int(steps[-1].get("users"))
    window = metric_at(funnel, "window_days")
    value = low = high = None
    if eligible and completed is not None and 0 <= completed <= eligible:
        value = completed / eligible
        low, high = wilson_interval(completed, eligible)
    days_text = duration(window) if is_number(window) else "the window"
    return [
        Figure(
            key="funnel_completion",
            label="Onboarding completed",
            meaning=f"all {len(steps)} funnel steps within {days_text}",
            unit="share",
            value=value,
            ci_low=_num(low),
            ci_high=_num(high),
            n=eligible,
            n_label=f"signups observed {days_text}",
            note=None if value is not None else f"no signup observed for the whole {days_text} yet",
            section="Onboarding funnel",
        )
    ]


def _lifetime_figure(metrics: Mapping[str, Any]) -> list[Figure]:
    lifetime = metric_at(metrics, "lifetime")
    if not isinstance(lifetime, Mapping):
        return []
    value = _num(lifetime.get("median_days"))
    churned, censored = _int(lifetime.get("churned")), _int(lifetime.get("censored"))
    n = churned + censored if churned is not None and censored is not None else None
    note = None
    if value is None:
        note = (
            "more than half of the users are still active at the longest follow-up"
            if n and (churned or 0) > 0
            else "no user observed long enough yet"
        )
    return [
        Figure(
            key="median_lifetime",
            label="Median lifetime",
            meaning="half of the users stay active longer than this",
            unit="days",
            value=value,
            ci_low=_num(lifetime.get("median_ci_low")),
            ci_high=_num(lifetime.get("median_ci_high")),
            n=n,
            n_label="users",
            note=note,
            section="Lifetime",
        )
    ]


def build_summary(metrics: Mapping[str, Any]) -> Summary:
    """The headline figures and findings of a run, from its final metrics only.

    Parameters
    ----------
    metrics : Mapping
        The content of the run's ``metrics.json`` (after every notebook ran).

    Returns
    -------
    Summary
        Figures in the order of the module table (retention days in increasing order) and the
        findings of :func:`onboarding_analysis.report.findings.build_findings`. Sections absent from
        ``metrics`` give no figure and no finding; nothing here raises on odd shapes.

    Examples
    --------
    >>> build_summary({})
    Summary(headline=(), findings=())
    """
    figures = (
        _retention_figures(metrics)
        + _value_figure(metrics)
        + _funnel_figure(metrics)
        + _lifetime_figure(metrics)
    )
    return Summary(headline=tuple(figures), findings=tuple(build_findings(metrics)))


def summary_metrics(summary: Summary) -> dict[str, Any]:
    """The summary as recorded in ``metrics.json``.

    Parameters
    ----------
    summary : Summary
        Output of :func:`build_summary`.

    Returns
    -------
    dict
        ``{"summary": {"headline": {<key>: {label, unit, value, ci_low, ci_high, n, n_label,
        text, note}}, "findings": [{id, text, section, numbers}]}}``; ``None`` where not
        estimable.

    Examples
    --------
    >>> summary_metrics(build_summary({}))
    {'summary': {'headline': {}, 'findings': []}}
    """
    return {
        "summary": {
            "headline": {figure.key: figure.as_dict() for figure in summary.headline},
            "findings": [finding.as_dict() for finding in summary.findings],
        }
    }


def section_anchor(section: str, headings: Sequence[tuple[str, str]]) -> str | None:
    """The id of the report heading for ``section``.

    The first heading whose text equals it (ignoring case), else the first one starting with it; ``None`` when
    there is none.

    Parameters
    ----------
    section : str
        Heading text (a :class:`Figure`'s or :class:`Finding`'s ``section``).
    headings : sequence of (text, id)
        The report's headings, in page order.

    Returns
    -------
    str or None
        The heading's id.

    Examples
    --------
    >>> section_anchor("lifetime", [("Retention and lifetime", "a"), ("Lifetime", "b")])
    'b'
    """
    wanted = section.strip().casefold()
    for text, anchor in headings:
        if text.strip().casefold() == wanted:
            return anchor
    for text, anchor in headings:
        if text.strip().casefold().startswith(wanted):
            return anchor
    return None


def summary_html(summary: Summary, headings: Sequence[tuple[str, str]] = ()) -> str:
    """The "At a glance" block: a row of large numbers, then the findings as a list.

    Parameters
    ----------
    summary : Summary
        From :func:`build_summary`.
    headings : sequence of (text, id)
        The report's headings; each figure and finding links to its section's heading
        (:func:`section_anchor`); no link when the section is not in the page.

    Returns
    -------
    str
        A ``<section id="at-a-glance" class="oa-glance">`` element with its own ``<style>``;
        ``""`` when the summary has neither figures nor findings.
    """
    if not summary.headline and not summary.findings:
        return ""
    esc = html.escape

    def _link(text: str, section: str, css: str) -> str:
        anchor = section_anchor(section, headings)
        if anchor is None:
            return f'<span class="{css}">{esc(text)}</span>'
        return f'<a class="{css}" href="#{esc(anchor)}">{esc(text)}</a>'

    tiles = []
    for f in summary.headline:
        missing = " oa-missing" if not is_number(f.value) else ""
        lines = [
            _link(f.label, f.section, "oa-fig-label"),
            f'<span class="oa-fig-value{missing}">{esc(f.value_text)}</span>',
        ]
        lines.append(f'<span class="oa-fig-ci">{esc(f.ci_text or f.note or "")}</span>')
        lines.append(f'<span class="oa-fig-meaning">{esc(f.meaning)}</span>')
        lines.append(f'<span class="oa-fig-n">{esc(f.n_text)}</span>')
        tiles.append(f'<li class="oa-fig" data-key="{esc(f.key)}">{"".join(lines)}</li>')
    items = []
    for finding in summary.findings:
        anchor = section_anchor(finding.section, headings)
        more = (
            f' <a class="oa-more" href="#{esc(anchor)}">{esc(finding.section)} &rarr;</a>' if anchor else ""
        )
        items.append(f'<li data-id="{esc(finding.id)}">{esc(finding.text)}{more}</li>')
    figures = f'<ul class="oa-figs">{"".join(tiles)}</ul>' if tiles else ""
    found = (
        f'<h3 class="oa-findings-title">What the numbers say</h3><ol class="oa-findings">{"".join(items)}</ol>'
        if items
        else ""
    )
    lede = (
        '<p class="oa-lede">Each figure with its 95% interval and the users it is based on; users '
        "not observed long enough for a figure are left out of it.</p>"
        if tiles
        else ""
    )
    return (
        f'<section id="{SUMMARY_ID}" class="oa-glance" aria-labelledby="{SUMMARY_ID}-title">'
        f"<style>{SUMMARY_CSS}</style>"
        f'<h2 id="{SUMMARY_ID}-title">At a glance</h2>{lede}{figures}{found}</section>'
    )


SUMMARY_CSS = """
.oa-glance { margin: 0.5em 0 1.5em 0; padding: 0.8em 1em 0.6em 1em; background: #f6f8fa;
  border: 1px solid #d8dee4; border-radius: 8px; }
.oa-glance h2 { margin: 0 0 0.2em 0; }
.oa-glance .oa-lede { margin: 0 0 0.6em 0; color: #555; font-size: 0.9em; }
.oa-figs { list-style: none; margin: 0; padding: 0; display: grid; gap: 10px;
  grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); }
.oa-fig { background: #fff; border: 1px solid #d8dee4; border-radius: 6px; padding: 8px 10px;
  display: flex; flex-direction: column; min-width: 0; }
.oa-fig span, .oa-fig a { overflow-wrap: break-word; }
.oa-fig-label { font-size: 0.85em; font-weight: 600; color: #1f4e8c; text-decoration: none; }
.oa-glance a { color: #1f4e8c; }
a.oa-fig-label:hover { text-decoration: underline; }
.oa-fig-value { font-size: 2em; font-weight: 700; line-height: 1.15; color: #111;
  font-variant-numeric: tabular-nums; }
.oa-fig-value.oa-missing { font-size: 1.1em; font-weight: 600; color: #777; padding: 0.35em 0; }
.oa-fig-ci { font-size: 0.85em; color: #333; }
.oa-fig-n { font-size: 0.8em; color: #666; }
.oa-fig-meaning { font-size: 0.8em; color: #444; }
.oa-glance .oa-findings-title { margin: 0.9em 0 0.3em 0; font-size: 1.05em; }
.oa-findings { margin: 0; padding-left: 1.4em; }
.oa-findings li { margin: 0.35em 0; line-height: 1.45; overflow-wrap: break-word; }
.oa-findings .oa-more { white-space: nowrap; font-size: 0.9em; }
@media (max-width: 700px) {
  .oa-glance { padding: 0.6em 0.6em 0.4em 0.6em; }
  .oa-figs { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 6px; }
  .oa-fig-value { font-size: 1.6em; }
  .oa-findings .oa-more { white-space: normal; }
}
"""
