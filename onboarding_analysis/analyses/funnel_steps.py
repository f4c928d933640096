"""The funnel's vocabulary, shared by both funnel semantics and the sections reading steps.

The normalised steps, the step-time column names and labels, the checks of the funnel's options
(steps, mode, semantics, window; defaults from the params), and :class:`FunnelResult` with its
column lists: :mod:`~onboarding_analysis.analyses.funnel` (onboarding semantics) and
:mod:`~onboarding_analysis.analyses.funnel_posthog` (PostHog's) both build one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data.facts import Facts
from ..errors import ParamsError
from ..params import FUNNEL_MODES, FUNNEL_SEMANTICS, check_value

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
    """Name of the step-time column of step ``j`` in the step times: ``step_<j>_days``.

    Parameters
    ----------
    j : int
        The step's index, 0 for the first step.

    Returns
    -------
    str
        ``step_<j>_days``, a column of
        :func:`~onboarding_analysis.analyses.funnel_times.step_times`.
    """
    return f"step_{int(j)}_days"


def step_label(step: Sequence[str]) -> str:
    """Display label of a step: its accepted event names joined by ``" | "``.

    Parameters
    ----------
    step : sequence of str
        The event names the step accepts.

    Returns
    -------
    str
        E.g. ``"created_report | shared_report"``.
    """
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
    """Normalised steps (params ``onboarding_steps`` rules); at least one step is needed.

    Parameters
    ----------
    steps : sequence
        Each step an event name or a sequence of accepted event names.

    Returns
    -------
    Steps
        One tuple of accepted event names per step.

    Raises
    ------
    ParamsError
        Malformed steps, or none at all.
    """
    steps = check_value("onboarding_steps", steps)
    if not steps:
        raise ParamsError(
            "onboarding_steps is empty: set params onboarding_steps (e.g. [signed_up, completed_profile, "
            "created_report]) to enable the funnel"
        )
    return steps


# --- the funnel's options ------------------------------------------------------------------------


def check_mode(mode: Any) -> str:
    """``mode`` if it is one of params ``FUNNEL_MODES``.

    Parameters
    ----------
    mode : str
        ``ordered``, ``strict`` or ``any_order``.

    Returns
    -------
    str
        ``mode`` itself.

    Raises
    ------
    ParamsError
        Any other value.
    """
    if mode not in FUNNEL_MODES:
        raise ParamsError(f"funnel_mode must be one of {', '.join(FUNNEL_MODES)}, but was {mode!r}")
    return mode


def check_semantics(semantics: Any) -> str:
    """``semantics`` if it is one of params ``FUNNEL_SEMANTICS``.

    Parameters
    ----------
    semantics : str
        ``onboarding`` or ``posthog``.

    Returns
    -------
    str
        ``semantics`` itself.

    Raises
    ------
    ParamsError
        Any other value.
    """
    if semantics not in FUNNEL_SEMANTICS:
        raise ParamsError(
            f"funnel_semantics must be one of {', '.join(FUNNEL_SEMANTICS)}, but was {semantics!r}"
        )
    return semantics


def check_window(window_days: Any) -> float:
    """``window_days`` if it is a finite number of days above 0.

    Parameters
    ----------
    window_days : float
        The conversion window in days.

    Returns
    -------
    float
        ``window_days`` itself.

    Raises
    ------
    ParamsError
        A value that is not a number (a bool included), not finite, or not above 0.
    """
    ok = isinstance(window_days, int | float | np.integer | np.floating) and not isinstance(window_days, bool)
    if not ok or not math.isfinite(window_days) or window_days <= 0:
        raise ParamsError(f"conversion_window_days must be a number of days > 0, but was {window_days!r}")
    return window_days


def funnel_options(facts: Facts, steps: Any, mode: Any, window_days: Any) -> tuple[Steps, str, float]:
    """The checked steps, mode and window of a funnel, each defaulting from ``facts.params``.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`.
    steps : sequence or None
        The steps; None for params ``onboarding_steps``.
    mode : str or None
        None for params ``funnel_mode``.
    window_days : float or None
        None for params ``conversion_window_days``.

    Returns
    -------
    (steps, mode, window_days) : tuple
        The normalised steps (:data:`Steps`), the mode and the window in days.

    Raises
    ------
    TypeError
        ``facts`` is not a :class:`~onboarding_analysis.data.facts.Facts` object.
    ParamsError
        No steps, an unknown mode, or a window that is not a positive number.
    """
    if not isinstance(facts, Facts):
        raise TypeError(
            f"facts must be the Facts object of compute_facts(params) (it carries the events), "
            f"but was {type(facts)!r}"
        )
    params = facts.params
    steps = check_steps(params.onboarding_steps if steps is None else steps)
    mode = check_mode(params.funnel_mode if mode is None else mode)
    window = check_window(params.conversion_window_days if window_days is None else window_days)
    return steps, mode, window


__all__ = [
    "ELIGIBLE",
    "INCIDENCE_COLUMNS",
    "STEP_COLUMNS",
    "FunnelResult",
    "Steps",
    "check_mode",
    "check_semantics",
    "check_steps",
    "check_window",
    "funnel_options",
    "step_column",
    "step_label",
]
