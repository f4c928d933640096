"""The demo generator: a seeded event log, users table and per-user ground truth.

:func:`generate` simulates a multi-client SaaS product: users sign up, some never come back, the
others go through an onboarding funnel, adopt features and keep having sessions until their true,
exponentially distributed lifetime ends; a few accounts are planted with known moments of truth,
and paying accounts change MRR as seats come and go. :func:`write_demo` writes the three tables
(``onboarding-analysis demo-data``). Every random draw comes from one
``numpy.random.default_rng(seed)``, so a seed fixes every byte of the output.

The story, step by step, and the ground truth of every :class:`~onboarding_analysis.demo.spec.DemoSpec`
default are in ``docs/demo.md``. The steps live in :mod:`.draws` (users, lifetimes, first
occurrences), :mod:`.sessions` (the ordinary event log), :mod:`.planting` (moments of truth) and
here (revenue events, the tables); :mod:`.truth` computes the exact quantities the report
estimates.

Examples
--------
>>> data = generate(DemoSpec(n_users=200), seed=1)
>>> data.users.shape[0], bool(data.truth["lifetime_days"].ge(0).all())
(200, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .draws import Users, draw_first_times, draw_lifetimes, draw_users
from .events import (
    DAY_US,
    EVENT_CODE,
    EVENT_NAMES,
    MINUTE_US,
    REVENUE_EVENT,
    TIMED_EVENTS,
    VALUE_EVENT,
    segment_cumsum,
)
from .planting import plant_moments
from .sessions import build_events
from .spec import DEFAULT_SPEC, DemoSpec

__all__ = ["DemoData", "generate", "write_demo"]


@dataclass(frozen=True)
class DemoData:
    """Output of :func:`generate`.

    Attributes
    ----------
    events
        The event log (columns :data:`EVENT_COLUMNS`), sorted by ``timestamp``.
    users
        The users table (columns :data:`USER_COLUMNS`), ``signup_at`` as ISO strings.
    truth
        One row per user (same order as ``users``): covariates, the true lifetime and the
        first-occurrence time of every event in :data:`TIMED_EVENTS` (``<event>_days``, NaN if
        it never happens; may lie after the written window), see :func:`generate`.
    spec : DemoSpec
        The parameters that produced the data.
    seed : int
        The seed that produced the data.
    """

    events: pd.DataFrame
    users: pd.DataFrame
    truth: pd.DataFrame
    spec: DemoSpec
    seed: int


def generate(spec: DemoSpec = DEFAULT_SPEC, *, seed: int = 20240101) -> DemoData:
    """Simulate the demo event log, users table and per-user ground truth.

    Parameters
    ----------
    spec : DemoSpec
        Generator parameters; the defaults are the ground truth of ``docs/demo.md``.
    seed : int
        Seed of the one ``numpy.random.default_rng`` every draw comes from.

    Returns
    -------
    DemoData
        ``events`` (``user_id``, ``event``, ``timestamp`` as ``datetime64[us, UTC]``,
        ``client``, ``account_id``, ``value``: the 0-10 score of ``feedback_submitted``, the
        account's MRR after a ``mrr_changed``, else NaN), sorted by time and written up to
        ``spec.write_until_timestamp``; ``users``
        (``user_id``, ``signup_at`` as ``YYYY-MM-DDTHH:MM:SS+00:00`` strings, ``client``,
        ``persona``, ``plan``, ``channel``, ``account_id``); ``truth`` with one row per user:
        the covariates, ``signup_at`` (timestamp), ``after_change``, ``hazard_ratio``,
        ``hazard_per_day``, ``never_active``, ``lifetime_days`` (true ``L``), ``age_days``
        (``(T - t0) / 24h``), ``churn_observed``, ``duration_observation_end_days`` and
        ``duration_observable_days`` (what the inactivity rule yields at ``T`` when censoring
        at ``T - t0``, resp. ``max(T - t0 - inactivity_days, 0)``), ``<event>_days`` for every event of
        :data:`TIMED_EVENTS` (first occurrence, NaN if never), ``ttfv_days``,
        ``feedback_score``, ``planted_moment`` (the kind of moment of truth planted in the user's
        single-user account, None for ordinary users), ``planted_near_miss`` (True: planted to
        *miss* that kind by one notch), ``seat_start_days`` (NaN without a seat) and
        ``seat_price`` (the account plan's monthly price per seat).

    Examples
    --------
    >>> data = generate(DemoSpec(n_users=100), seed=3)
    >>> list(data.events.columns)
    ['user_id', 'event', 'timestamp', 'client', 'account_id', 'value']
    >>> data.users["user_id"].iloc[0]
    'u000001'
    """
    rng = np.random.default_rng(seed)
    users = draw_users(rng, spec)
    never, hazard_ratio, lifetime_us = draw_lifetimes(rng, spec, users)
    first, feedback = draw_first_times(rng, spec, users, never, lifetime_us, hazard_ratio)
    event_arrays = build_events(rng, spec, users, never, lifetime_us, first, feedback)
    planted = plant_moments(rng, spec, users, never, lifetime_us, first, feedback, event_arrays)
    kind, near_miss, first, event_arrays = planted
    event_arrays = _revenue_events(spec, users, never, lifetime_us, event_arrays)
    events, users_frame = _frames(spec, users, event_arrays)
    truth = _truth(spec, users, users_frame, never, hazard_ratio, lifetime_us, first, feedback)
    truth["planted_moment"] = kind
    truth["planted_near_miss"] = near_miss
    seat = _seat_starts(spec, users, never, lifetime_us)
    truth["seat_start_days"] = np.where(seat >= 0, seat / DAY_US, np.nan)
    truth["seat_price"] = _seat_prices(spec, users)
    return DemoData(events=events, users=users_frame, truth=truth, spec=spec, seed=seed)


def write_demo(
    out_dir: str | Path,
    spec: DemoSpec = DEFAULT_SPEC,
    *,
    seed: int = 20240101,
) -> dict[str, Path]:
    """Generate the demo data and write ``events.parquet``, ``users.csv``, ``truth.parquet``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created if missing; existing files are overwritten).
    spec : DemoSpec
        As for :func:`generate`.
    seed : int
        As for :func:`generate`.

    Returns
    -------
    dict of str to Path
        The written files under the keys ``"events"``, ``"users"`` and ``"truth"``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_demo(tmp, DemoSpec(n_users=50))
    ...     sorted(p.name for p in paths.values())
    ['events.parquet', 'truth.parquet', 'users.csv']
    """
    data = generate(spec, seed=seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "events": out / "events.parquet",
        "users": out / "users.csv",
        "truth": out / "truth.parquet",
    }
    data.events.to_parquet(paths["events"], index=False)
    data.users.to_csv(paths["users"], index=False)
    data.truth.to_parquet(paths["truth"], index=False)
    return paths


# --------------------------------------------------------------------------- revenue


def _seat_prices(spec: DemoSpec, users: Users) -> np.ndarray:
    """Monthly price per seat of each user's account plan."""
    prices = np.array([float(spec.seat_price[plan]) for plan in spec.plan_hazard_ratio])
    return prices[users.plan]


def _seat_starts(spec: DemoSpec, users: Users, never, lifetime_us) -> np.ndarray:
    """Offset (us) of each user's seat start; -1 for users without a seat."""
    price = _seat_prices(spec, users)
    delay = round(spec.seat_delay_minutes * MINUTE_US)
    start = np.minimum(delay, lifetime_us)
    return np.where(~never & (price > 0), start, -1)


def _revenue_events(spec: DemoSpec, users: Users, never, lifetime_us, event_arrays):
    """Step 10: append the ``mrr_changed`` events (seat starts and ends) to the event arrays."""
    price = _seat_prices(spec, users)
    starts = _seat_starts(spec, users, never, lifetime_us)
    holders = np.flatnonzero(starts >= 0)
    owner = np.concatenate([holders, holders])
    offset = np.concatenate([starts[holders], lifetime_us[holders]])
    delta = np.concatenate([np.ones(len(holders), np.int64), -np.ones(len(holders), np.int64)])
    at = users.t0_us[owner] + offset
    account = users.account[owner]
    order = np.lexsort((at, account))
    owner, offset, delta, at, account = owner[order], offset[order], delta[order], at[order], account[order]
    if len(owner):
        _, counts = np.unique(account, return_counts=True)
        seats = segment_cumsum(delta, counts)
        # Changes of one account at the same instant all carry the MRR after all of them.
        new_run = np.r_[True, (account[1:] != account[:-1]) | (at[1:] != at[:-1])]
        run = np.cumsum(new_run) - 1
        last = np.r_[np.flatnonzero(new_run)[1:] - 1, len(owner) - 1]
        mrr = (seats * price[owner])[last[run]]
    else:
        mrr = np.zeros(0)
    window_us = _window_us(spec, users)
    inside = offset <= window_us[owner]
    o, c, f, v = event_arrays
    return (
        np.concatenate([o, owner[inside]]),
        np.concatenate([c, np.full(int(inside.sum()), EVENT_CODE[REVENUE_EVENT], dtype=np.int8)]),
        np.concatenate([f, offset[inside]]),
        np.concatenate([v, mrr[inside].astype(float)]),
    )


def _window_us(spec: DemoSpec, users: Users) -> np.ndarray:
    """Per user, the last offset from signup (us, inclusive) that is written."""
    return (spec.write_until_timestamp.value // 1000) - users.t0_us


# --------------------------------------------------------------------------- the tables


def _timestamps(us: np.ndarray) -> pd.DatetimeIndex:
    """Integer microseconds since the epoch as a ``datetime64[us, UTC]`` index."""
    return pd.DatetimeIndex(us.astype("datetime64[us]")).tz_localize("UTC")


def _labels(prefix: str, count: int) -> np.ndarray:
    """``prefix000001`` ... as an object array (at least 6 digits, leading zeros kept)."""
    width = max(6 if prefix == "u" else 5, len(str(count)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, count + 1)], dtype=object)


def _names(mapping: Mapping) -> np.ndarray:
    return np.array(list(mapping), dtype=object)


def _frames(spec: DemoSpec, users: Users, event_arrays) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build the events and users DataFrames."""
    owner, code, offset, value = event_arrays
    ts = users.t0_us[owner] + offset
    order = np.argsort(ts, kind="stable")
    owner, code, ts, value = owner[order], code[order], ts[order], value[order]
    user_ids = _labels("u", len(users.t0_us))
    account_ids = _labels("a", int(users.account.max()) + 1)
    clients = _names(spec.clients)
    events = pd.DataFrame(
        {
            "user_id": user_ids[owner],
            "event": np.array(EVENT_NAMES, dtype=object)[code],
            "timestamp": _timestamps(ts),
            "client": clients[users.client[owner]],
            "account_id": account_ids[users.account[owner]],
            "value": value,
        }
    )
    signup = np.char.add(np.datetime_as_string(users.t0_us.astype("datetime64[us]"), unit="s"), "+00:00")
    users_frame = pd.DataFrame(
        {
            "user_id": user_ids,
            "signup_at": signup.astype(object),
            "client": clients[users.client],
            "persona": _names(spec.personas)[users.persona],
            "plan": _names(spec.plan_hazard_ratio)[users.plan],
            "channel": _names(spec.channel_mix)[users.channel],
            "account_id": account_ids[users.account],
        }
    )
    return events, users_frame


def _truth(
    spec: DemoSpec, users: Users, users_frame, never, hazard_ratio, lifetime_us, first, feedback
) -> pd.DataFrame:
    """One row per user: covariates, true lifetime, observable outcome, first-event times."""
    end_us = spec.observation_end_timestamp.value // 1000
    age_us = end_us - users.t0_us
    churned = age_us - lifetime_us >= round(spec.inactivity_days * DAY_US)
    truth = users_frame[["user_id", "client", "account_id", "persona", "plan", "channel"]].copy()
    truth["signup_at"] = _timestamps(users.t0_us)
    truth["after_change"] = users.after_change
    truth["hazard_ratio"] = hazard_ratio
    truth["hazard_per_day"] = hazard_ratio / spec.baseline_mean_lifetime_days
    truth["never_active"] = never
    truth["lifetime_days"] = lifetime_us / DAY_US
    truth["age_days"] = age_us / DAY_US
    truth["churn_observed"] = churned
    truth["duration_observation_end_days"] = np.where(churned, lifetime_us, age_us) / DAY_US
    observable_us = np.maximum(age_us - round(spec.inactivity_days * DAY_US), 0)
    truth["duration_observable_days"] = np.where(churned, lifetime_us, observable_us) / DAY_US
    for event in TIMED_EVENTS:
        times = first[event]
        truth[f"{event}_days"] = np.where(times >= 0, times / DAY_US, np.nan)
    truth["ttfv_days"] = truth[f"{VALUE_EVENT}_days"]
    truth["feedback_score"] = feedback[1]
    return truth

