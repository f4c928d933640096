"""Planted moments of truth: accounts whose sessions follow a known pattern (step 9 of the story).

After every other draw, :func:`plant_moments` chooses ``planted_per_kind`` single-user accounts
per kind of moment (crisis, relationship change, unexpected win) and ``near_misses_per_kind``
near misses (built to miss the definition by one notch) among candidates that fit the story, and
replaces their sessions by the pattern of their kind, keeping the rest of their story. The
patterns and the candidates of each kind are described in ``docs/demo.md``; the definitions they
meet are those of ``docs/metrics.md``.
"""

from __future__ import annotations

import numpy as np

from .draws import Users
from .events import (
    DAY_US,
    EVENT_CODE,
    FEATURES,
    FEEDBACK,
    MINUTE_US,
    MOMENT_KINDS,
    SESSION_EVENT,
    SIGNUP_EVENT,
    STEPS,
    TIMED_EVENTS,
    VALUE_EVENT,
    EventArrays,
    to_us,
)
from .sessions import session_events
from .spec import DemoSpec

__all__ = ["plant_moments"]


#: The planting order: positives and near misses of each kind (step 9 of the story).
_PLANT_ORDER = tuple((kind, near) for kind in MOMENT_KINDS for near in (False, True))


def _days_us(days: float) -> int:
    """Days (a float) to integer microseconds."""
    return int(round(days * DAY_US))


def _fill(rng, start: float, stop: float, low: float, high: float) -> list[float]:
    """Session times (days): ``start``, then gaps uniform in ``[low, high]`` while ``< stop``."""
    times = []
    t = start
    while t < stop:
        times.append(t)
        t += rng.uniform(low, high)
    return times


def _plant_candidates(spec: DemoSpec, users: Users, never, lifetime_us, first) -> dict:
    """Boolean masks of the users that fit each (kind, near miss) story of step 9."""
    day = DAY_US
    age = (spec.observation_end_timestamp.value // 1000) - users.t0_us
    window = (spec.write_until_timestamp.value // 1000) - users.t0_us
    life = lifetime_us
    sizes = np.bincount(users.account)
    base = (sizes[users.account] == 1) & ~never
    value = first[VALUE_EVENT]
    feats = np.stack([first[f] for f in FEATURES])
    adopted = feats >= 0
    week1 = (adopted & (feats < 7 * day)).sum(axis=0)
    timed = np.stack([first[e] for e in TIMED_EVENTS])

    def quiet(lo, hi):
        return ~((timed > lo) & (timed <= hi)).any(axis=0)

    settled = (life > window) | (life < age - 35 * day)  # alive past the window, or long churned
    crisis = (
        base
        & (age >= 60 * day)
        & (life > window)
        & (value >= 2 * day)
        & (week1 < 2)
        & quiet(age - 15 * day, age)
    )
    relationship = (
        base
        & (value >= 2 * day)
        & (value <= 8 * day)
        & (age >= 40 * day)
        & (life > value + 20 * day)
        & (week1 < 2)
        & quiet(value, value + int(14.5 * day))
    )
    wins = base & (life >= 21 * day) & (age >= 20 * day) & settled & (adopted.sum(axis=0) >= 2)
    return {
        ("crisis", False): crisis,
        ("crisis", True): crisis,
        ("relationship_change", False): relationship,
        ("relationship_change", True): relationship,
        ("unexpected_win", False): wins & (value >= 0) & (value < day),
        ("unexpected_win", True): wins & (value >= 2 * day),
    }


def _crisis_sessions(rng, age_days: float, near: bool) -> list[float]:
    """Daily sessions for 21-35 days, a fade, then 1 (near miss: 4-5) sessions in the last 14."""
    honeymoon = int(rng.integers(21, 36))
    times = [d + rng.uniform(0.1, 0.9) for d in range(honeymoon)]
    last_before = age_days - rng.uniform(15.0, 20.0)
    t = times[-1]
    while t + 8.0 < last_before:
        t += rng.uniform(3.0, 8.0)
        times.append(t)
    times.append(last_before)
    if near:
        recent = np.sort(rng.choice(13, size=int(rng.integers(4, 6)), replace=False))
        times += [age_days - (k + rng.uniform(0.2, 0.8)) for k in recent]
    else:
        times.append(age_days - rng.uniform(2.0, 9.0))
    return times


def _relationship_sessions(rng, value_days: float, stop_days: float, near: bool) -> list[float]:
    """Sessions before onboarding completes, a silent fortnight (near miss: 2-3 days), then sparse."""
    times = _fill(rng, rng.uniform(0.2, 1.0), value_days - 1 / 24, 1.5, 3.5)
    if near:
        offsets = np.sort(rng.choice([1, 3, 5, 7, 9, 11], size=int(rng.integers(2, 4)), replace=False))
        after = [value_days + d + rng.uniform(0.2, 0.6) for d in offsets]
        times += after
        resume = after[-1] + rng.uniform(3.0, 8.0)
    else:
        resume = value_days + rng.uniform(15.0, 18.5)
    return times + _fill(rng, resume, stop_days, 2.0, 8.0)


def _win_times(rng, first, i: int, near: bool) -> None:
    """Compress a win's steps and features (near miss: one feature in week 1, the rest later)."""
    adopted = [f for f in FEATURES if first[f][i] >= 0]
    if near:
        early = adopted[int(rng.integers(len(adopted)))]
        for f in adopted:
            days = rng.uniform(1.0, 5.0) if f == early else rng.uniform(7.3, 12.0)
            first[f][i] = _days_us(days)
        return
    at = rng.uniform(2.0, 6.0) * MINUTE_US
    for step in STEPS:
        first[step][i] = int(round(at))
        at += rng.uniform(5.0, 15.0) * MINUTE_US
    for f in adopted:
        first[f][i] = _days_us(rng.uniform(0.05, 2.0))


def plant_moments(rng, spec: DemoSpec, users: Users, never, lifetime_us, first, feedback, event_arrays):
    """Step 9: choose the planted accounts, rewrite their sessions (and a win's first times).

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator's one random stream (drawn from after every other draw).
    spec : DemoSpec
        The generator parameters (``planted_per_kind``, ``near_misses_per_kind``).
    users : Users
        The drawn users.
    never : numpy.ndarray of bool
        Never-active users (never planted).
    lifetime_us : numpy.ndarray
        True lifetimes (us).
    first : dict of str to numpy.ndarray
        Per timed event, each user's first occurrence (us after signup, -1 if none).
    feedback : tuple of numpy.ndarray
        Feedback times and scores.
    event_arrays : tuple of numpy.ndarray
        ``(owner, code, offset, value)`` of the ordinary event log.

    Returns
    -------
    kind : numpy.ndarray of object
        Per user the planted kind, None for ordinary users.
    near_miss : numpy.ndarray of bool
        Per user, planted to miss its kind by one notch.
    first : dict of str to numpy.ndarray
        The first-occurrence times with the planted changes (a copy when anything is planted).
    event_arrays : tuple of numpy.ndarray
        The event arrays with the planted users' events rebuilt.
    """
    n = len(lifetime_us)
    kind = np.full(n, None, dtype=object)
    near_miss = np.zeros(n, dtype=bool)
    wanted = {False: spec.planted_per_kind, True: spec.near_misses_per_kind}
    if not any(wanted.values()):
        return kind, near_miss, first, event_arrays
    candidates = _plant_candidates(spec, users, never, lifetime_us, first)
    taken = np.zeros(n, dtype=bool)
    for key in _PLANT_ORDER:
        pool = np.flatnonzero(candidates[key] & ~taken)
        size = min(int(wanted[key[1]]), len(pool))
        chosen = np.sort(rng.choice(pool, size=size, replace=False)) if size else pool[:0]
        taken[chosen] = True
        kind[chosen] = key[0]
        near_miss[chosen] = key[1]
    if not taken.any():
        return kind, near_miss, first, event_arrays
    first = {event: times.copy() for event, times in first.items()}
    arrays = _replant(rng, spec, users, lifetime_us, first, feedback, event_arrays, (kind, near_miss, taken))
    return kind, near_miss, first, arrays


def _replant(rng, spec: DemoSpec, users: Users, lifetime_us, first, feedback, event_arrays, chosen):
    """The event arrays with the ``chosen`` users' events rebuilt; ``first`` is updated in place."""
    kind, near_miss, taken = chosen
    planted = np.flatnonzero(taken)
    age_days = ((spec.observation_end_timestamp.value // 1000) - users.t0_us) / DAY_US
    window_us = (spec.write_until_timestamp.value // 1000) - users.t0_us
    stop_days = np.minimum(lifetime_us, window_us + 1) / DAY_US
    owners, times = [], []
    for i in planted:
        if kind[i] == "crisis":
            days = _crisis_sessions(rng, age_days[i], near_miss[i])
        elif kind[i] == "relationship_change":
            days = _relationship_sessions(rng, first[VALUE_EVENT][i] / DAY_US, stop_days[i], near_miss[i])
        else:
            _win_times(rng, first, i, near_miss[i])
            days = _fill(rng, rng.uniform(0.05, 0.5), stop_days[i], 0.5, 3.0)
        at = to_us(np.asarray(days))
        at = at[at < lifetime_us[i]]
        owners.append(np.full(len(at), i, dtype=np.int64))
        times.append(at)

    owner, code, offset, value = event_arrays
    keep = ~taken[owner] | (code == EVENT_CODE[SIGNUP_EVENT])
    events = EventArrays([owner[keep]], [code[keep]], [offset[keep]], [value[keep]])
    for event in TIMED_EVENTS:
        has = planted[first[event][planted] >= 0]
        events.add(has, event, first[event][has], feedback[1][has] if event == FEEDBACK else None)
    session_events(rng, spec, events, (np.concatenate(owners), np.concatenate(times)), first, lifetime_us)
    ends = planted[lifetime_us[planted] <= window_us[planted]]
    events.add(ends, SESSION_EVENT, lifetime_us[ends])
    return events.cut(window_us)

