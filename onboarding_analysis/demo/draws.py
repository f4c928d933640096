"""The per-user draws of the demo: who signs up, how long they live, what they do first.

Every draw comes from the one ``numpy.random.default_rng(seed)`` of
:func:`onboarding_analysis.demo.generator.generate`, in a fixed order, so a seed fixes every
byte of the output; the draws are vectorised over users. The story they follow (steps 1-5 and 7)
is in ``docs/demo.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .events import (
    CHECKLIST_SHOWN,
    DAY_US,
    FEATURES,
    FEEDBACK,
    MINUTE_US,
    STEPS,
    TOUR_COMPLETED,
    TOUR_SHOWN,
    to_us,
)
from .spec import DemoSpec

__all__ = [
    "Users",
    "draw_first_times",
    "draw_lifetimes",
    "draw_users",
    "persona_values",
    "user_hazard_ratios",
]

#: Lifetimes are clipped here (about 27,000 years) so that microseconds fit an int64.
_MAX_LIFETIME_DAYS = 1e7


@dataclass(frozen=True)
class Users:
    """Per-user arrays, in signup order (index = user number - 1).

    Attributes
    ----------
    client, persona, plan, channel : numpy.ndarray of int
        Positions in the spec's mappings (``clients``, ``personas``, ``plan_hazard_ratio``,
        ``channel_mix``).
    account : numpy.ndarray of int
        Account number, in order of the account's first signup.
    t0_us : numpy.ndarray of int64
        Signup time, microseconds since the epoch.
    after_change : numpy.ndarray of bool
        Signed up on or after ``change_date``.
    """

    client: np.ndarray
    persona: np.ndarray
    plan: np.ndarray
    channel: np.ndarray
    account: np.ndarray
    t0_us: np.ndarray
    after_change: np.ndarray


def _categorical(rng: np.random.Generator, probs: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Draw one category per row; row ``i`` uses the probabilities ``probs[group[i]]``."""
    cum = np.cumsum(probs, axis=1)[group]
    draws = (rng.random(len(group))[:, None] >= cum).sum(axis=1)
    return np.minimum(draws, probs.shape[1] - 1)


def _account_sizes(rng: np.random.Generator, probs: np.ndarray, n_users: int) -> np.ndarray:
    """Account sizes (1 .. len(probs)) summing to exactly ``n_users`` (the last one truncated)."""
    mean = float(probs @ np.arange(1, len(probs) + 1))
    sizes = np.empty(0, dtype=np.int64)
    while sizes.sum() < n_users:
        more = math.ceil((n_users - sizes.sum()) / mean * 1.1) + 10
        sizes = np.concatenate([sizes, rng.choice(len(probs), size=more, p=probs) + 1])
    cum = np.cumsum(sizes)
    n_accounts = int(np.searchsorted(cum, n_users)) + 1
    sizes = sizes[:n_accounts].copy()
    sizes[-1] -= cum[n_accounts - 1] - n_users
    return sizes


def draw_users(rng: np.random.Generator, spec: DemoSpec) -> Users:
    """Accounts, clients, plans, personas, channels and signup times, sorted by signup (step 1).

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator's one random stream.
    spec : DemoSpec
        The generator parameters.

    Returns
    -------
    Users
        ``spec.n_users`` users.
    """
    personas, plans, clients = list(spec.personas), list(spec.plan_hazard_ratio), list(spec.clients)
    persona_mix = np.array([[c.persona_mix.get(p, 0.0) for p in personas] for c in spec.clients.values()])
    plan_mix = np.array([[c.plan_mix.get(p, 0.0) for p in plans] for c in spec.clients.values()])
    weights = np.array([c.weight for c in spec.clients.values()], dtype=float)

    sizes = _account_sizes(rng, np.asarray(spec.account_size_probs, dtype=float), spec.n_users)
    account_client = rng.choice(len(clients), size=len(sizes), p=weights / weights.sum())
    account_plan = _categorical(rng, plan_mix, account_client)
    account = np.repeat(np.arange(len(sizes)), sizes)
    client = account_client[account]
    persona = _categorical(rng, persona_mix, client)
    channel_p = np.array(list(spec.channel_mix.values()), dtype=float)
    channel = rng.choice(len(channel_p), size=spec.n_users, p=channel_p)
    start_s = int(spec.signup_start_timestamp.value // 1_000_000_000)
    stop_s = int(spec.signup_stop_timestamp.value // 1_000_000_000)
    t0_us = rng.integers(start_s, stop_s, size=spec.n_users) * 1_000_000

    order = np.argsort(t0_us, kind="stable")
    account_sorted = pd.factorize(account[order])[0]
    t0_sorted = t0_us[order]
    change_us = spec.change_timestamp.value // 1000
    return Users(
        client=client[order],
        persona=persona[order],
        plan=account_plan[account][order],
        channel=channel[order],
        account=account_sorted,
        t0_us=t0_sorted,
        after_change=t0_sorted >= change_us,
    )


def user_hazard_ratios(spec: DemoSpec, persona: np.ndarray, plan: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per-user hazard ratio relative to the baseline (persona x plan x change).

    Parameters
    ----------
    spec : DemoSpec
        The generator parameters.
    persona, plan : numpy.ndarray of int
        Positions in ``spec.personas`` and ``spec.plan_hazard_ratio``.
    after : numpy.ndarray of bool
        Signed up on or after the change.

    Returns
    -------
    numpy.ndarray
        The product of the persona's, the plan's and (after the change) the change's ratio.
    """
    persona_hr = np.array([p.hazard_ratio for p in spec.personas.values()], dtype=float)
    plan_hr = np.array(list(spec.plan_hazard_ratio.values()), dtype=float)
    change = np.where(after, float(spec.change_hazard_ratio), 1.0)
    return persona_hr[persona] * plan_hr[plan] * change


def persona_values(spec: DemoSpec, attr: str, key: str | None = None) -> np.ndarray:
    """Array over personas (in spec order) of ``persona.attr`` or ``persona.attr[key]``.

    Parameters
    ----------
    spec : DemoSpec
        The generator parameters.
    attr : str
        A field of :class:`~onboarding_analysis.demo.spec.PersonaSpec`.
    key : str, optional
        For a mapping field, the key to read.

    Returns
    -------
    numpy.ndarray
        One float per persona.
    """
    values = [getattr(p, attr) if key is None else getattr(p, attr)[key] for p in spec.personas.values()]
    return np.asarray(values, dtype=float)


def draw_lifetimes(rng: np.random.Generator, spec: DemoSpec, users: Users):
    """Never-active flags, hazard ratios and lifetimes in microseconds (0 if never active; step 2).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the never-active flags, then the exponential lifetimes.
    spec : DemoSpec
        Its personas' ``never_active``, the hazard ratios and ``baseline_mean_lifetime_days``.
    users : Users
        Persona, plan and change group of each user.

    Returns
    -------
    never : numpy.ndarray of bool
        Users who never come back after signup.
    hazard_ratio : numpy.ndarray
        Each user's hazard ratio (:func:`user_hazard_ratios`).
    lifetime_us : numpy.ndarray of int64
        True lifetimes in microseconds.
    """
    n = len(users.t0_us)
    hazard_ratio = user_hazard_ratios(spec, users.persona, users.plan, users.after_change)
    never = rng.random(n) < persona_values(spec, "never_active")[users.persona]
    days = rng.exponential(1.0, n) * spec.baseline_mean_lifetime_days / hazard_ratio
    lifetime_us = np.where(never, 0, to_us(np.minimum(days, _MAX_LIFETIME_DAYS)))
    return never, hazard_ratio, lifetime_us


def _lognormal_us(rng: np.random.Generator, median_days: np.ndarray, sigma: float) -> np.ndarray:
    """Log-normal delays in microseconds with the given per-row medians (days)."""
    return to_us(median_days * np.exp(sigma * rng.standard_normal(len(median_days))))


def _draw_steps(rng, spec: DemoSpec, users: Users, alive: np.ndarray, lifetime_us: np.ndarray):
    """Reach times (us, -1 if not reached) of the onboarding steps, in order."""
    after = users.after_change
    previous = np.zeros(len(lifetime_us), dtype=np.int64)
    reached = alive.copy()
    times = {}
    for step in STEPS:
        prob = persona_values(spec, "step_probability", step)[users.persona]
        prob = np.where(after, 1.0 - spec.change_dropout_factor * (1.0 - prob), prob)
        median = persona_values(spec, "step_median_delay_days", step)[users.persona]
        median = np.where(after, median * spec.change_delay_factor, median)
        at = previous + _lognormal_us(rng, median, spec.step_delay_sigma)
        reached = reached & (rng.random(len(at)) < prob) & (at <= lifetime_us)
        times[step] = np.where(reached, at, -1)
        previous = at
    return times


def _draw_prompts(rng, spec: DemoSpec, users: Users, alive: np.ndarray, lifetime_us: np.ndarray):
    """Draw the times (us, -1 if none) of ``tour_shown``, ``tour_completed`` and ``checklist_shown``."""
    n = len(lifetime_us)
    sigma = spec.tour_delay_sigma

    def delay(median_minutes: float) -> np.ndarray:
        return _lognormal_us(rng, np.full(n, median_minutes * MINUTE_US / DAY_US), sigma)

    shown_at = delay(spec.tour_delay_median_minutes)
    shown = alive & (rng.random(n) < spec.tour_shown_probability) & (shown_at <= lifetime_us)
    completed_at = shown_at + delay(spec.tour_completion_delay_median_minutes)
    completion = persona_values(spec, "tour_completion")[users.persona]
    completed = shown & (rng.random(n) < completion) & (completed_at <= lifetime_us)
    checklist_at = delay(spec.checklist_delay_median_minutes)
    checklist = (
        alive
        & users.after_change
        & (rng.random(n) < spec.checklist_shown_probability)
        & (checklist_at <= lifetime_us)
    )
    return {
        TOUR_SHOWN: np.where(shown, shown_at, -1),
        TOUR_COMPLETED: np.where(completed, completed_at, -1),
        CHECKLIST_SHOWN: np.where(checklist, checklist_at, -1),
    }


def _draw_features(rng, spec: DemoSpec, users: Users, alive: np.ndarray, lifetime_us: np.ndarray):
    """Adoption (first-use) times in us (-1 if not adopted) of every feature."""
    n = len(lifetime_us)
    times = {}
    for feature in FEATURES:
        prob = persona_values(spec, "feature_adoption", feature)[users.persona]
        at = to_us(rng.random(n) * spec.feature_adoption_window_days)
        adopted = alive & (rng.random(n) < prob) & (at <= lifetime_us)
        times[feature] = np.where(adopted, at, -1)
    return times


def _draw_feedback(rng, spec: DemoSpec, alive, lifetime_us, hazard_ratio):
    """Feedback times (us, -1 if none) uniform in ``(0, L]`` and 0-10 scores."""
    n = len(lifetime_us)
    gives = alive & (rng.random(n) < spec.feedback_probability)
    at = np.maximum(np.rint(rng.random(n) * lifetime_us), 1).astype(np.int64)
    p0 = spec.feedback_score_probability
    logit = math.log(p0 / (1.0 - p0)) - spec.feedback_hazard_slope * np.log(hazard_ratio)
    score = rng.binomial(10, 1.0 / (1.0 + np.exp(-logit)))
    return np.where(gives, at, -1), np.where(gives, score, np.nan)


def draw_first_times(rng: np.random.Generator, spec: DemoSpec, users: Users, never, lifetime_us, hazard_ratio):
    """First occurrences of the steps, features, tours, checklist and feedback (steps 3, 4, 5, 7).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the steps, features, tours and checklist, then the feedback, in that order.
    spec : DemoSpec
        The probabilities and delays of steps 3, 4, 5 and 7.
    users : Users
        Persona and change group of each user.
    never : numpy.ndarray of bool
        Never-active users (they get none of these events).
    lifetime_us : numpy.ndarray
        True lifetimes (us): an event drawn after it does not happen.
    hazard_ratio : numpy.ndarray
        Each user's hazard ratio (the feedback score depends on it).

    Returns
    -------
    first : dict of str to numpy.ndarray
        Per timed event, each user's first occurrence (us after signup, -1 if none).
    feedback : tuple of numpy.ndarray
        Feedback time (us, -1 if none) and 0-10 score (NaN if none) of each user.
    """
    alive = ~never
    first = _draw_steps(rng, spec, users, alive, lifetime_us)
    first.update(_draw_features(rng, spec, users, alive, lifetime_us))
    first.update(_draw_prompts(rng, spec, users, alive, lifetime_us))
    feedback = _draw_feedback(rng, spec, alive, lifetime_us, hazard_ratio)
    first[FEEDBACK] = feedback[0]
    return first, feedback
