"""The ordinary event log of the demo: first occurrences, sessions and what recurs in them.

Steps 5 and 6 of the story in ``docs/demo.md``: ``session_start`` events form a renewal process
from signup with capped gaps, each session may repeat the features and the value event already
reached, and the last session is placed at exactly the end of the user's true lifetime.
:func:`build_events` assembles every ordinary user's events; the planted accounts of
:mod:`onboarding_analysis.demo.planting` reuse :func:`session_events`.
"""

from __future__ import annotations

import numpy as np

from .draws import Users
from .events import (
    DAY_US,
    FEATURES,
    FEEDBACK,
    MINUTE_US,
    SESSION_EVENT,
    SIGNUP_EVENT,
    VALUE_EVENT,
    EventArrays,
    segment_cumsum,
)
from .spec import DemoSpec

__all__ = ["build_events", "session_events"]


def _renewal_times(rng, limit_us: np.ndarray, mean_us: float, cap_us: int):
    """Renewal process from 0 per row, gaps ``min(Exp(mean), cap)``: all times ``< limit``.

    Returns ``(row, time_us)`` arrays. Gaps are drawn in batches sized to cover each row's
    limit with high probability; the rare rows not yet covered get another batch.
    """
    rows_out, times_out = [], []
    rows = np.arange(len(limit_us))
    start = np.zeros(len(limit_us), dtype=np.int64)
    while rows.size:
        limit = limit_us[rows]
        expected = (limit - start) / mean_us
        counts = np.ceil(expected + 4.0 * np.sqrt(expected) + 4.0).astype(np.int64)
        owner = np.repeat(np.arange(len(rows)), counts)
        gaps = np.clip(np.rint(rng.exponential(mean_us, int(counts.sum()))), 1, cap_us)
        times = segment_cumsum(gaps.astype(np.int64), counts) + start[owner]
        keep = times < limit[owner]
        rows_out.append(rows[owner[keep]])
        times_out.append(times[keep])
        last = times[np.cumsum(counts) - 1]
        more = last < limit
        rows, start = rows[more], last[more]
    return np.concatenate(rows_out), np.concatenate(times_out)


def session_events(rng, spec: DemoSpec, events: EventArrays, sessions, first, lifetime_us) -> None:
    """Add ``session_start`` and the repeat feature/value events of each session (step 5 and 6).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws which sessions repeat an event, and when in the session.
    spec : DemoSpec
        The repeat probabilities and ``session_spread_minutes``.
    events : EventArrays
        Where the events are appended.
    sessions : tuple of numpy.ndarray
        ``(owner, offset_us)`` of every session start.
    first : dict of str to numpy.ndarray
        Per timed event, each user's first occurrence (us after signup, -1 if none).
    lifetime_us : numpy.ndarray
        Each user's true lifetime (us): no event lies after it.
    """
    owner, at = sessions
    events.add(owner, SESSION_EVENT, at)
    spread_us = spec.session_spread_minutes * MINUTE_US
    repeats = {f: spec.feature_repeat_probability[f] for f in FEATURES}
    repeats[VALUE_EVENT] = spec.value_repeat_probability
    for event, prob in repeats.items():
        since = first[event][owner]
        candidate = (since >= 0) & (at > since)
        chosen = candidate & (rng.random(len(at)) < prob)
        jitter = np.rint(rng.random(int(chosen.sum())) * spread_us).astype(np.int64)
        when = np.minimum(at[chosen] + jitter, lifetime_us[owner[chosen]])
        events.add(owner[chosen], event, when)


def build_events(rng, spec: DemoSpec, users: Users, never, lifetime_us, first, feedback):
    """The ordinary users' events (steps 1-8 of the story), inside the written window.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the session gaps, then the repeats in the sessions.
    spec : DemoSpec
        The session parameters and the written window.
    users : Users
        Signup times (the written window of each user).
    never : numpy.ndarray of bool
        Never-active users (their only event is the signup).
    lifetime_us : numpy.ndarray
        True lifetimes (us).
    first : dict of str to numpy.ndarray
        Per timed event, each user's first occurrence (us after signup, -1 if none).
    feedback : tuple of numpy.ndarray
        Feedback times and scores of :func:`~onboarding_analysis.demo.draws.draw_first_times`.

    Returns
    -------
    tuple of numpy.ndarray
        ``(owner, code, offset, value)``, see :meth:`EventArrays.cut`.
    """
    n = len(lifetime_us)
    alive_idx = np.flatnonzero(~never)
    window_us = (spec.write_until_timestamp.value // 1000) - users.t0_us
    events = EventArrays()
    events.add(np.arange(n), SIGNUP_EVENT, np.zeros(n, dtype=np.int64))
    for event, times in first.items():
        has = np.flatnonzero(times >= 0)
        value = feedback[1][has] if event == FEEDBACK else None
        events.add(has, event, times[has], value)
    limit = np.minimum(lifetime_us[alive_idx], window_us[alive_idx])
    rows, at = _renewal_times(
        rng,
        limit,
        mean_us=spec.session_gap_mean_days * DAY_US,
        cap_us=int(spec.session_gap_cap_days * DAY_US),
    )
    session_events(rng, spec, events, (alive_idx[rows], at), first, lifetime_us)
    ends = alive_idx[lifetime_us[alive_idx] <= window_us[alive_idx]]
    events.add(ends, SESSION_EVENT, lifetime_us[ends])
    return events.cut(window_us)

