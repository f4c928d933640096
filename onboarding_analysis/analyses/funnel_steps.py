"""The funnel's vocabulary, shared by both funnel semantics and the sections reading steps.

The normalised steps, the step-time column names and labels, and :class:`FunnelResult` with its
column lists: :mod:`~onboarding_analysis.analyses.funnel` (onboarding semantics) and
:mod:`~onboarding_analysis.analyses.funnel_posthog` (PostHog's) both build one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import ParamsError
from ..params import check_value

#: Columns of :attr:`FunnelResult.steps`.
STEP_COLUMNS = [
    "step_index",
    "step",
    "users",
    "from_start",
    "from_start_ci_low",
    "from_start_ci_high",
    "from_previous",
    "from_previous_ci_low",
    "from_previous_ci_high",
    "drop_off",
    "median_hours_from_previous",
    "p25_hours",
    "p75_hours",
    "p90_hours",
    "mean_seconds_from_previous",
    "median_seconds_from_previous",
]


#: Columns of :attr:`FunnelResult.incidence`.
INCIDENCE_COLUMNS = [
    "step_index",
    "step",
    "users",
    "reached",
    "churned_first",
    "censored",
    "cif",
    "ci_low",
    "ci_high",
]


#: Column of :attr:`FunnelResult.times` flagging users eligible for the conversion figures.
ELIGIBLE = "eligible"


#: Normalised steps: one tuple of accepted event names per step.
Steps = tuple[tuple[str, ...], ...]


def step_column(j: int) -> str:
    """Name of the step-time column of step ``j`` in :func:`step_times`: ``step_<j>_days``."""
    return f"step_{int(j)}_days"


def step_label(step: Sequence[str]) -> str:
    """Display label of a step: its accepted event names joined by ``" | "``."""
    return " | ".join(step)


@dataclass(frozen=True, eq=False)
class FunnelResult:
    """An onboarding funnel and its per-step figures.

    Attributes
    ----------
    steps : pandas.DataFrame
        One row per step (:data:`STEP_COLUMNS`): ``step_index``, ``step`` (label), ``users``
        (eligible users who reached it), ``from_start`` (``users / eligible``) and
        ``from_previous`` (``users`` over the previous step's users; over ``eligible`` for step
        0), each with its Wilson interval, ``drop_off`` (users lost since the previous step)
        and the hours from the previous step (from signup for step 0) among eligible users who
        reached both: median, p25, p75, p90 (linear interpolation; NaN without converters);
        ``mean_seconds_from_previous`` and ``median_seconds_from_previous``, the same times in
        seconds. Under ``posthog`` semantics these timing columns leave out 0-second
        conversions and are NaN for step 0 (no previous step).
    incidence : pandas.DataFrame
        One row per step (:data:`INCIDENCE_COLUMNS`): Aalen-Johansen cumulative incidence of
        reaching the step before ``window_days`` over *all* users, with churn before the step
        as competing event, its interval, and the counts of users reaching the step, churned
        first and censored.
    times : pandas.DataFrame
        :func:`step_times` (one row per user of the facts table) plus a boolean ``eligible``.
    eligible, users : int
        Eligible users (``age_days >= window_days``) and all users.
    mode : str
        ``ordered``, ``strict`` or ``any_order``.
    window_days : float
        The conversion window.
    alpha : float
        The intervals are ``1 - alpha`` intervals.
    labels : tuple of str
        The step labels, in order.
    semantics : str
        ``onboarding`` or ``posthog`` (params ``funnel_semantics``).
    notes : tuple of str
        What a reader of the figures must know (the definition in use, what is left out).
    """

    steps: pd.DataFrame
    incidence: pd.DataFrame
    times: pd.DataFrame
    eligible: int
    users: int
    mode: str
    window_days: float
    alpha: float
    labels: tuple[str, ...]
    semantics: str = "onboarding"
    notes: tuple[str, ...] = ()


def check_steps(steps: Any) -> Steps:
    """Normalised steps (params ``onboarding_steps`` rules); at least one step is needed."""
    steps = check_value("onboarding_steps", steps)
    if not steps:
        raise ParamsError(
            "onboarding_steps is empty: set params onboarding_steps (e.g. [signed_up, completed_profile, "
            "created_report]) to enable the funnel"
        )
    return steps


__all__ = [
    "ELIGIBLE",
    "INCIDENCE_COLUMNS",
    "STEP_COLUMNS",
    "FunnelResult",
    "Steps",
    "check_steps",
    "step_column",
    "step_label",
]
