"""Readiness scorecard: whether this data can answer "is our onboarding working?" yet.

One row per signal, each ``pass``, ``warn`` or ``fail`` with its value and a sentence saying
why and what to do. The thresholds are params keys (``min_segment_size``,
``readiness_min_eligible``, ``readiness_max_excluded_share``); the warn bands are a factor of two
around them, so a warning means "close", a failure "far".

=================  ======================================  ==============================================
signal             value                                   status
=================  ======================================  ==============================================
``segments``       most groups of at least                 pass: a params ``segments`` column has 2+ such
                   ``min_segment_size`` users in one       groups; warn: columns exist, none has 2 (no
                   segment column                          comparison possible); fail: no segment column
                                                           configured or present
``journey``        users eligible for the funnel           pass: every ``onboarding_steps`` step occurs in
                   (``age_days >= conversion_window``)     the used events and eligible > 0; warn: every
                                                           step occurs but nobody is eligible yet; fail:
                                                           no steps configured, or a step never occurs
``feedback``       response rate: users with a scored      pass: responders >= ``readiness_min_eligible``
                   ``feedback_event`` / users              and every event scored; warn: fewer
                                                           responders, or events without a score; fail:
                                                           not configured, no such event, or scores off
                                                           the ``score_scale``
``baseline``       min(users eligible for day-30           pass: >= ``readiness_min_eligible``; warn:
                   retention (``age >= 31``), users        >= half of it; fail: below half, or no
                   observed 30 days for TTFV               ``value_events``
                   (``age >= 30``))
``data_quality``   excluded share of event rows,           pass: < ``readiness_max_excluded_share``;
                   ``1 - events_used / events_read``       warn: below twice that, or ``observation_end``
                                                           more than ``inactivity_days`` after the last
                                                           event (``observation_end_check: warn``); fail:
                                                           at least twice
=================  ======================================  ==============================================

Day 30 is the baseline of the retention and TTFV headlines (docs/metrics.md, "Readiness scorecard") (eligible for day-N retention
means ``age >= N + 1``; value "by day 30" needs 30 observed days).

Examples
--------
>>> import onboarding_analysis as oa                                  # doctest: +SKIP
>>> readiness_scorecard(oa.compute_facts(oa.load_params("params/demo.yaml")))    # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError, OnboardingAnalysisError
from ..params import window_adjective
from .feedback_responses import all_responses

__all__ = ["COLUMNS", "SIGNALS", "STATUSES", "plot_readiness", "readiness_metrics", "readiness_scorecard"]

#: Columns of :func:`readiness_scorecard`.
COLUMNS = ["signal", "status", "value", "explanation"]
#: The signals, in report order.
SIGNALS = ("segments", "journey", "feedback", "baseline", "data_quality")
#: Statuses, from best to worst.
STATUSES = ("pass", "warn", "fail")
#: Day of the baseline figures (the day-30 retention and TTFV headlines).
BASELINE_DAY = 30
_COLORS = {"pass": "#2e7d32", "warn": "#f9a825", "fail": "#c62828"}


def _row(signal: str, status: str, value: float | int | None, explanation: str) -> dict[str, Any]:
    return {"signal": signal, "status": status, "value": value, "explanation": explanation}


def _segments(facts: Facts) -> dict[str, Any]:
    params = facts.params
    columns = [c for c in params.segments if c in facts.table.columns]
    if not columns:
        return _row(
            "segments",
            "fail",
            0,
            "no segment column to compare groups by: set params segments (e.g. [persona, plan]) to "
            "columns of the users table or the events",
        )
    best, best_column, sizes = -1, None, None
    for column in columns:
        counts = facts.table[column].value_counts(dropna=True)
        big = int((counts >= params.min_segment_size).sum())
        if big > best:
            best, best_column, sizes = big, column, counts
    shown = ", ".join(f"{k} {v}" for k, v in sizes.head(4).items())
    size = params.min_segment_size
    if best >= 2:
        return _row("segments", "pass", best, f"'{best_column}' has {best} groups of at least {size} users ({shown})")
    why = (
        f"no segment column has two groups of at least {size} users (best: '{best_column}': "
        f"{shown or 'no values'}); groups that small are pooled, nothing to compare"
    )
    return _row("segments", "warn", best, why)


def _journey(facts: Facts) -> dict[str, Any]:
    params = facts.params
    steps = params.onboarding_steps
    if not steps:
        return _row(
            "journey", "fail", None, "no onboarding journey: set params onboarding_steps (ordered events)"
        )
    names = sorted(set().union(*steps))
    events = facts.events
    seen = set(
        events.filter(events.event.isin(names)).select("event").distinct().to_pandas()["event"].astype(str)
    )
    missing = [" | ".join(step) for step in steps if not seen.intersection(step)]
    eligible = int((facts.table[C.AGE] >= params.conversion_window_days).sum())
    window = window_adjective(params.conversion_window)
    if missing:
        why = f"step(s) {missing} never occur in the data: check the event names in params onboarding_steps"
        return _row("journey", "fail", eligible, why)
    if eligible == 0:
        why = (
            f"every step occurs, but no user has been observed for the {window} conversion window "
            "yet: the funnel has no eligible user"
        )
        return _row("journey", "warn", 0, why)
    why = f"all {len(steps)} steps occur; {eligible} users observed for the whole {window} window"
    return _row("journey", "pass", eligible, why)


def _feedback(facts: Facts) -> dict[str, Any]:
    params = facts.params
    if params.feedback_event is None:
        return _row(
            "feedback",
            "fail",
            None,
            "not configured: set params feedback_event (an NPS or CSAT survey event) to measure feedback",
        )
    try:
        frame, missing = all_responses(facts)
    except DataError as err:
        return _row("feedback", "fail", None, f"feedback scores unusable: {err}")
    responders = int(frame["user_id"].nunique())
    users = len(facts.table)
    rate = responders / users if users else None
    if responders == 0 and missing == 0:
        return _row(
            "feedback", "fail", 0.0, f"no '{params.feedback_event}' event in the data: check the event name"
        )
    share = f"{responders} of {users} users answered ({rate:.1%})" if rate is not None else "no users"
    if responders < params.readiness_min_eligible or missing:
        why = []
        if responders < params.readiness_min_eligible:
            why.append(f"fewer than {params.readiness_min_eligible} responders: the score is imprecise")
        if missing:
            why.append(f"{missing} '{params.feedback_event}' events have no score in value")
        return _row("feedback", "warn", rate, f"{share}; " + "; ".join(why))
    return _row("feedback", "pass", rate, share)


def _baseline(facts: Facts) -> dict[str, Any]:
    params = facts.params
    need = params.readiness_min_eligible
    if not params.value_events:
        return _row(
            "baseline", "fail", None, "no value event: set params value_events to measure time to first value"
        )
    age = facts.table[C.AGE]
    retention = int((age >= BASELINE_DAY + 1).sum())
    ttfv = int((age >= BASELINE_DAY).sum())
    value = min(retention, ttfv)
    counts = f"{retention} users eligible for day-{BASELINE_DAY} retention, {ttfv} observed {BASELINE_DAY} days for TTFV"
    if value >= need:
        return _row("baseline", "pass", value, f"{counts} (>= {need})")
    status = "warn" if value >= need / 2 else "fail"
    return _row(
        "baseline", status, value, f"{counts}: below {need}; wait for older cohorts or widen the data"
    )


def _counts(facts: Facts, quality: Any) -> tuple[int, int]:
    """Rows read and used: from a QualityReport's ``rows`` table, a mapping, or the accounting."""
    if quality is None:
        return facts.accounting.events_read, facts.accounting.events_used
    rows = getattr(quality, "rows", None)
    if isinstance(rows, pd.DataFrame):
        counts = rows.set_index("what")["rows"]
        return int(counts["read"]), int(counts["used"])
    if isinstance(quality, Mapping):
        return int(quality["events_read"]), int(quality["events_used"])
    return int(quality.events_read), int(quality.events_used)


def _data_quality(facts: Facts, quality: Any) -> dict[str, Any]:
    limit = facts.params.readiness_max_excluded_share
    read, used = _counts(facts, quality)
    if read == 0:
        return _row("data_quality", "fail", None, "no event rows were read")
    share = (read - used) / read  # = 1 - used / read, without its rounding at the limits
    text = f"{read - used} of {read} event rows excluded ({share:.1%}; see the data-quality section for the reasons)"
    late = _end_after_data(facts)
    if share < limit:
        if late:
            return _row("data_quality", "warn", share, f"{text}, below {limit:.0%}; but {late}")
        return _row("data_quality", "pass", share, f"{text}, below {limit:.0%}")
    status = "warn" if share < 2 * limit else "fail"
    return _row(
        "data_quality",
        status,
        share,
        f"{text}, at or above {limit:.0%}: check the reasons before trusting the figures"
        + (f"; and {late}" if late else ""),
    )


def _end_after_data(facts: Facts) -> str | None:
    """Why ``T`` is too late for the data (``observation_end_check: warn`` let it run), or None."""
    span = getattr(getattr(facts, "source", None), "span", None)
    if span is None or facts.observation_end is None:
        return None
    gap = (facts.observation_end - span[1]).total_seconds() / 86_400
    if gap <= facts.params.inactivity_days:
        return None
    return (
        f"observation_end is {gap:.0f} days after the last event (more than inactivity_days, "
        f"{facts.params.inactivity_days:g}): the days without data count as inactivity"
    )


def readiness_scorecard(facts: Facts, *, quality: Any = None) -> pd.DataFrame:
    """The readiness scorecard of one run (see the module docstring for each rule).

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`.
    quality : QualityReport or mapping, optional
        Where the row counts come from: a :class:`onboarding_analysis.analyses.quality.QualityReport`
        (its ``rows`` table), a mapping or object with ``events_read`` and ``events_used``;
        default ``facts.accounting``.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, one row per signal of :data:`SIGNALS`. ``value`` is a plain number or
        None.

    Raises
    ------
    TypeError
        ``facts`` is not a Facts object with its events (a broken signal never raises: it
        fails with its reason).

    Examples
    --------
    >>> import onboarding_analysis as oa                                  # doctest: +SKIP
    >>> readiness_scorecard(oa.compute_facts(oa.load_params("params/demo.yaml")))    # doctest: +SKIP
    """
    if not isinstance(facts, Facts) or facts.events is None:
        raise TypeError(f"readiness needs the Facts object of compute_facts(params), but got {type(facts)!r}")
    rows = []
    for signal, check in (
        ("segments", _segments),
        ("journey", _journey),
        ("feedback", _feedback),
        ("baseline", _baseline),
        ("data_quality", lambda f: _data_quality(f, quality)),
    ):
        try:
            rows.append(check(facts))
        except OnboardingAnalysisError as err:  # one broken signal never hides the others
            rows.append(_row(signal, "fail", None, str(err)))
    # object dtype keeps counts as ints and missing values as None
    table = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
    # How the report formats the values (onboarding_analysis.display.tables): two shares, counts.
    table.attrs["row_formats"] = {"feedback": "percent", "data_quality": "percent"}
    return table


def readiness_metrics(table: pd.DataFrame) -> dict[str, dict]:
    """The ``readiness`` section of metrics.json: ``{signal: {"status", "value"}}``.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`readiness_scorecard`.

    Returns
    -------
    dict
        ``{"readiness": {signal: {"status": str, "value": int, float or None}}}``; a value
        that is not a finite number is None.
    """
    out = {}
    for row in table.itertuples(index=False):
        value = row.value
        if isinstance(value, bool) or value is None:
            value = None
        elif isinstance(value, int | np.integer):
            value = int(value)
        else:
            value = float(value)
            value = value if math.isfinite(value) else None
        out[str(row.signal)] = {"status": str(row.status), "value": value}
    return {"readiness": out}


def plot_readiness(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """The scorecard as coloured tiles: one per signal, green pass, amber warn, red fail.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`readiness_scorecard`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure sized to the number of signals.

    Returns
    -------
    matplotlib.axes.Axes
        The axes, one tile and label per signal, without axis lines.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.6 * max(len(table), 1) + 0.6))
    n = len(table)
    for i, row in enumerate(table.itertuples(index=False)):
        y = n - 1 - i
        ax.add_patch(Rectangle((0, y + 0.1), 1, 0.8, color=_COLORS.get(row.status, "0.7")))
        ax.text(0.5, y + 0.5, row.status, ha="center", va="center", color="white", weight="bold")
        ax.text(1.1, y + 0.5, str(row.signal).replace("_", " "), ha="left", va="center", weight="bold")
    ax.set_xlim(0, 4)
    ax.set_ylim(0, max(n, 1))
    ax.set_axis_off()
    ax.set_title("Readiness")
    return ax
