r"""Seeded demo data with an exactly known ground truth.

:func:`generate` simulates a multi-client SaaS product: users sign up, some never come back,
the others go through an onboarding funnel, adopt features and keep having sessions until their
(true, exponentially distributed) lifetime ends. Every random draw comes from one
``numpy.random.default_rng(seed)``, so a seed fixes every byte of the output. The generation is
vectorised over users (no Python loop over users): the default 6,000 users (about 35 events
each) take well under a second, a million users about half a minute (mostly building the
object-dtype pandas columns and sorting the log by time).

The generative story
--------------------
Times are integer microseconds after the user's signup ``t0``; "days" are ``us / 86_400e6``.

1. **Accounts and users.** Accounts of 1-5 users (sizes drawn from ``account_size_probs``)
   belong to one client (drawn with the clients' ``weight``) and have one plan (drawn from the
   client's ``plan_mix``). Each user gets a persona from the client's ``persona_mix`` and a
   channel from ``channel_mix``, independently of everything else. ``t0`` is uniform (whole
   seconds) over ``[signup_start, signup_end + 1 day)``. User ids are ``u000001``, ... in signup
   order; account ids ``a00001``, ... in order of the account's first signup.
2. **Lifetime.** With probability ``never_active`` (per persona) a user never comes back:
   lifetime ``L = 0`` and the only event is ``signed_up``. Every other user has
   ``L ~ Exponential(rate)`` with
   ``rate = hazard_ratio(persona) * plan_hazard_ratio(plan) * change_hazard_ratio**after_change
   / baseline_mean_lifetime_days`` (proportional hazards; ``after_change`` means
   ``t0 >= change_date``). ``L`` is rounded to the microsecond (at least 1 us).
3. **Onboarding funnel** (ever-active users only). Step ``k`` of ``completed_profile ->
   connected_data -> created_report`` happens ``delay_k`` after step ``k - 1`` (``signed_up`` at
   ``t0`` for the first), with ``delay_k ~ LogNormal(log(median_k), step_delay_sigma)``, and is
   *reached* iff the previous step was reached, a Bernoulli(``p_k``) draw succeeds, and the
   step time is ``<= L`` (users act only while alive). After the change
   ``p_k -> 1 - change_dropout_factor * (1 - p_k)`` and ``median_k -> change_delay_factor *
   median_k``. ``created_report`` is the value event: TTFV is its time.
4. **Tours.** ``tour_shown`` with probability ``tour_shown_probability`` at a log-normal delay
   (median ``tour_delay_median_minutes``); ``tour_completed`` after it with the persona's
   ``tour_completion`` probability (median delay ``tour_completion_delay_median_minutes``).
   ``checklist_shown`` (the new onboarding checklist) only for users signing up on or after the
   change, with probability ``checklist_shown_probability``. All only if at a time ``<= L``.
5. **Features.** Feature ``f`` is adopted with the persona's ``feature_adoption[f]``
   probability at a time uniform over ``(0, feature_adoption_window_days)``, if that time is
   ``<= L``. Afterwards each later session also contains ``f`` with probability
   ``feature_repeat_probability[f]``; likewise ``created_report`` recurs after the first one
   with ``value_repeat_probability``. Such session events lie up to
   ``session_spread_minutes`` after the session start, never after ``L``.
6. **Sessions.** ``session_start`` events form a renewal process from ``t0``: gaps are
   ``min(Exponential(session_gap_mean_days), session_gap_cap_days)``, kept while ``< L`` (and
   inside the written window).
   A last ``session_start`` is placed at *exactly* ``t0 + L``: it is the user's last event.
7. **Feedback.** With ``feedback_probability`` a ``feedback_submitted`` event at a uniform time
   in ``(0, L]`` whose ``value`` is a score ``~ Binomial(10, p)`` with
   ``logit(p) = logit(feedback_score_probability) - feedback_hazard_slope * log(hazard_ratio)``
   (users with lower hazard give higher scores).
8. **Observation window.** The observation end ``T`` is the end of ``observation_end`` (the
   next midnight, UTC). Users keep living after ``T``: events are simulated and written up to
   ``T + write_after_end_days`` (inclusive) so that a loader's "events after ``T`` are dropped
   and counted" rule has something to drop. Nothing later is written.
9. **Planted moments of truth** (drawn after every draw above, so the other users' events are
   exactly those of a spec without planting). ``planted_per_kind`` single-user accounts per kind
   of moment (METRICS.md, "Moments of truth") and ``near_misses_per_kind`` *near misses* per
   kind (accounts built to miss the definition by one notch) are chosen at random among
   candidates that fit the story; their ``session_start`` (and session repeat) events are
   replaced by the pattern of their kind, the rest of their story is kept. For every planted
   user the last active event is still at exactly ``t0 + L`` (or within a session gap of the
   written window's end when ``L`` lies beyond it) and no two active events are more than
   ``session_gap_cap_days`` apart.

   - ``crisis``: a heavy start, then a fade. Candidates: signed up 60+ days before ``T``, alive
     past the written window, reached value at 2+ days, under 2 features in the first week, no
     first-occurrence event in the 15 days before ``T``. Sessions: one on every day index
     ``0 .. H-1`` (``H`` uniform in 21..35), then every 3-8 days, the last of them 15-20 days
     before ``T``, then exactly one session 2-9 days before ``T``. Near miss: 4 or 5 sessions on
     distinct days of the last 14 (a drop, but not below a quarter of the early rate).
   - ``relationship_change``: completed onboarding (``created_report`` at ``c``, 2-8 days after
     signup), then silence. Candidates: signed up 40+ days before ``T``, alive until
     ``c + 20`` days, under 2 features in the first week, no first-occurrence event in
     ``(c, c + 14.5 days]``. Sessions every 1.5-3.5 days before ``c``, none in the 15-18.5 days
     after it, then every 2-8 days. Near miss: 2 or 3 sessions on distinct days of
     ``(c, c + 14 days]`` (days ``c + 1, 3, 5, ...``), then every 2-8 days.
   - ``unexpected_win``: got it at once. Candidates: reached value within a day, adopted 2+
     features, lived 21+ days, and either alive past the written window or churned 35+ days
     before ``T``. Their steps are compressed (profile 2-6 minutes after signup, then 5-15
     minutes per step: value within 36 minutes) and every feature they adopt is first used
     0.05-2 days after signup. Near miss: reached value at 2+ days (kept), exactly one feature in
     the first week (1-5 days) and the others at 7.3-12 days. Sessions of both: every 0.5-3
     days.

   The truth columns ``planted_moment`` (the kind, None for ordinary accounts) and
   ``planted_near_miss`` name them. The first-occurrence columns (``<event>_days``) state the
   planted times. Win candidates reached value within a day and keep doing so, and moved
   features stay inside the 30-day adoption window, so the TTFV, funnel and feature-adoption
   figures of the demo are those of the unplanted story.
10. **Revenue.** Accounts pay ``seat_price[plan]`` per seat per month (free accounts pay
   nothing and have no revenue events). A user takes a seat ``seat_delay_minutes`` after
   signup (or at ``L`` if earlier; never-active users take none) and gives it up at ``t0 + L``
   (the user's last activity). Each seat change is a ``mrr_changed`` event of that user whose
   ``value`` is the account's MRR after the change (``seat_price * seats``; changes of one
   account at the same microsecond all carry the MRR after all of them). An account whose last
   seat goes churns (MRR 0); a later signup of the same account reactivates it. Expansion and
   contraction are seats joining and leaving. Every revenue event lies in ``(t0, t0 + L]`` of its
   user, so it never changes a lifetime.

Ground truth (the :class:`DemoSpec` defaults)
---------------------------------------------
==========================================  ====================================================
parameter (default)                         meaning
==========================================  ====================================================
``n_users`` (6000)                          users in total
``clients``                                 ``acme`` (weight 0.5), ``globex`` (0.3),
                                            ``initech`` (0.2); weight = share of accounts
``clients[*].persona_mix``                  marketer/developer/sales: acme 0.5/0.3/0.2,
                                            globex 0.25/0.55/0.2, initech 0.25/0.15/0.6
``clients[*].plan_mix``                     free/pro/enterprise (drawn per account): acme
                                            0.6/0.3/0.1, globex 0.4/0.4/0.2, initech 0.3/0.4/0.3
``channel_mix``                             organic 0.4, paid 0.3, referral 0.2, partner 0.1;
                                            independent of everything: a null segment
``account_size_probs``                      P(size = 1..5) = 0.45, 0.25, 0.15, 0.10, 0.05
``signup_start`` / ``signup_end``           2024-01-01 / 2024-08-24 (inclusive, uniform)
``change_date`` (2024-04-01)                onboarding change: ``after_change = t0 >= date``
``observation_end`` (2024-08-31)            ``T`` = 2024-09-01T00:00:00+00:00
``write_after_end_days`` (7)                events written up to ``T + 7 days``
``inactivity_days`` (30)                    METRICS.md rule used for the truth's observed columns
``baseline_mean_lifetime_days`` (60)        mean ``L`` of a marketer on free before the change
``personas.*.hazard_ratio``                 marketer 1.0, developer 0.6, sales 1.4
``plan_hazard_ratio``                       free 1.0, pro 0.8, enterprise 0.7
``change_hazard_ratio`` (0.8)               hazard multiplier for ``t0 >= change_date``
(client, channel)                           hazard ratio 1 (no effect given persona and plan)
``personas.*.never_active``                 marketer 0.15, developer 0.10, sales 0.20
                                            (not affected by plan, channel or the change)
``personas.*.step_probability``             P(step | previous step, alive), before the change:
                                            profile/data/report marketer 0.85/0.60/0.75,
                                            developer 0.70/0.85/0.65, sales 0.90/0.45/0.70
``personas.*.step_median_delay_days``       median delay from the previous step (days):
                                            marketer 0.02/1.0/0.75, developer 0.04/0.3/1.5,
                                            sales 0.01/2.0/1.0
``step_delay_sigma`` (1.0)                  log-normal sigma of every step delay
``change_dropout_factor`` (0.75)            after change: ``1 - p`` of every step times 0.75
``change_delay_factor`` (0.6)               after change: every step delay times 0.6
``personas.*.feature_adoption``             dashboard/invite/export: marketer 0.70/0.35/0.40,
                                            developer 0.45/0.20/0.65, sales 0.60/0.50/0.30
``feature_adoption_window_days`` (30)       adoption time ~ Uniform(0, 30) days
``feature_repeat_probability``              per later session: dashboard 0.30, invite 0.03,
                                            export 0.10
``value_repeat_probability`` (0.15)         ``created_report`` again in a later session
``session_gap_mean_days`` (2.5)             mean of the exponential session gap
``session_gap_cap_days`` (19)               gap cap: no two active events 20+ days apart
``session_spread_minutes`` (30)             session events within 30 min of its start
``tour_shown_probability`` (0.7)            P(``tour_shown``) for an ever-active user
``tour_delay_median_minutes`` (2)           median delay of ``tour_shown`` after ``t0``
``personas.*.tour_completion``              P(``tour_completed`` | shown): marketer 0.55,
                                            developer 0.30, sales 0.50
``tour_completion_delay_median_minutes``    (4) median delay of ``tour_completed`` after
                                            ``tour_shown``
``checklist_shown_probability`` (1.0)       P(``checklist_shown``), after-change users only
``checklist_delay_median_minutes`` (1)      median delay of ``checklist_shown`` after ``t0``
``tour_delay_sigma`` (0.5)                  log-normal sigma of the tour/checklist delays
``feedback_probability`` (0.15)             one ``feedback_submitted`` (0-10 score in ``value``)
``feedback_score_probability`` (0.7)        Binomial p of the score at hazard ratio 1
``feedback_hazard_slope`` (1.0)             lower hazard, higher score (see step 7)
``planted_per_kind`` (12)                   planted accounts per kind of moment (step 9)
``near_misses_per_kind`` (6)                near-miss accounts per kind of moment (step 9)
``seat_price``                              MRR per seat by plan: free 0, pro 30, enterprise 80
``seat_delay_minutes`` (10)                 a user's seat starts this long after signup
==========================================  ====================================================

How the truth relates to METRICS.md
-----------------------------------
- ``t0`` is the users table's ``signup_at`` and also the ``signed_up`` event time. Every other
  event is active (METRICS.md default ``active_events``) and lies strictly after ``t0``.
- For every user with ``t0 + L <= T + write_after_end_days`` the last active event is at
  exactly ``t0 + L`` (to the microsecond: ``round(lifetime_days * 86_400e6)`` is the integer
  duration); never-active users have no active event, so ``last = t0`` and ``L = 0``.
- Consecutive active events (and ``t0`` to the first one) are less than
  ``session_gap_cap_days`` (< 20 < ``inactivity_days``) apart. Hence, with the inactivity rule,
  a user is churned at ``T`` iff ``T - (t0 + L) >= inactivity_days``, and then the measured
  lifetime ``last - t0`` equals ``L`` exactly; otherwise the user is censored. The truth
  frame states this outcome per user: ``churn_observed`` and the duration under both
  censoring rules of :mod:`onboarding_analysis.data.facts` (params ``lifetime_censoring``):
  ``duration_observation_end_days`` (censored at ``T - t0``, METRICS.md's literal rule) and
  ``duration_observable_days`` (censored at ``max(T - t0 - inactivity_days, 0)``). A correct
  user-facts builder reproduces them exactly (to the microsecond).
- ``true_lifetime_survival(t)`` is ``P(L >= t)``, the quantity METRICS.md calls "survival at
  day t". The hazard ratios of :func:`true_hazard_ratios` are exact for ever-active users
  (``L > 0``); the never-active point mass differs by persona, so a Cox model on all users
  (zeros included) does not estimate exactly those ratios.
- TTFV: ``created_report_days`` (alias ``ttfv_days``) is the first value event; it is never
  after ``L`` (value is only reached while alive: churn is a competing event).
- Estimating the truth back from the log needs two cautions, both measured on 200,000 users.
  (1) The METRICS.md censoring time ``T - t0`` overstates survival: a user whose last activity
  falls within ``inactivity_days`` of ``T`` is dead by the truth but counted at risk until
  ``T``. Censoring at ``T - t0 - inactivity_days`` (when churn would last have been visible;
  ``lifetime_censoring: observable``) is unbiased (day 90, signups after the change: truth
  0.329, KM censored at ``T - t0`` 0.393, at ``T - t0 - 30`` 0.328). (2) Follow-up depends
  on ``t0`` and so does the hazard (the change): a pooled Kaplan-Meier is biased in its tail
  (day 150: truth 0.159, pooled KM 0.150). Compare within ``after_change`` groups, or at
  durations every user is followed for.
- Moments of truth (step 9): every planted account meets its METRICS.md definition with the
  default params (``moment_early_days`` 14, ``crisis_*``, ``relationship_*``, ``win_*``,
  ``wow_features`` 2, ``feature_events`` the three features), every near miss fails it, and no
  planted account meets another kind's definition (tests/test_moments.py). Ordinary accounts
  meet them too, by chance, and that is measured rather than assumed (seed 20240101, 2,915
  accounts): 59 crises (50 of them had truly stopped by ``T`` but are not yet churned under the
  30-day rule), 44 relationship changes, 170 unexpected wins (92 faster than 90% of converters,
  which about 10% of converters are by definition; 79 with 2+ features in week one).
- Revenue (step 10): the MRR flows are a function of the truth columns (``account_id``,
  ``signup_at``, ``lifetime_days``, ``seat_start_days``, ``seat_price``);
  :func:`true_revenue_months` rebuilds them and :func:`true_monthly_net_churn` pools them: the
  true monthly net revenue churn, by construction (0.1454 for February-August 2024 with the
  defaults: seats leave with users whose mean lifetime is two to three months, teammates joining
  offset part of it).
- Early behaviours (steps, features, tours) have *no* causal effect on ``L``; their
  association with lifetime comes only from the persona (confounding) and from the fact that
  a step can only happen while the user is alive.

Examples
--------
>>> data = generate(DemoSpec(n_users=200), seed=1)
>>> data.users.shape[0], bool(data.truth["lifetime_days"].ge(0).all())
(200, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, ParamsError

__all__ = [
    "ClientSpec",
    "DemoData",
    "DemoSpec",
    "FrozenMap",
    "PersonaSpec",
    "generate",
    "true_hazard_ratios",
    "true_lifetime_survival",
    "true_monthly_net_churn",
    "true_revenue_months",
    "write_demo",
]

DAY_US = 86_400_000_000
MINUTE_US = 60_000_000

SIGNUP_EVENT = "signed_up"
SESSION_EVENT = "session_start"
STEPS = ("completed_profile", "connected_data", "created_report")
VALUE_EVENT = "created_report"
FEATURES = ("used_dashboard", "invited_teammate", "exported_csv")
TOUR_SHOWN = "tour_shown"
TOUR_COMPLETED = "tour_completed"
CHECKLIST_SHOWN = "checklist_shown"
FEEDBACK = "feedback_submitted"
#: Revenue event: ``value`` is the account's MRR after the change (step 10 of the story).
REVENUE_EVENT = "mrr_changed"
#: Kinds of planted moments of truth (step 9), in METRICS.md's order.
MOMENT_KINDS = ("crisis", "relationship_change", "unexpected_win")
EVENT_NAMES = (
    SIGNUP_EVENT,
    *STEPS,
    SESSION_EVENT,
    *FEATURES,
    TOUR_SHOWN,
    TOUR_COMPLETED,
    CHECKLIST_SHOWN,
    FEEDBACK,
    REVENUE_EVENT,
)
#: Events whose first occurrence is a column ``<event>_days`` of the truth frame.
TIMED_EVENTS = (*STEPS, *FEATURES, TOUR_SHOWN, TOUR_COMPLETED, CHECKLIST_SHOWN, FEEDBACK)

EVENT_COLUMNS = ("user_id", "event", "timestamp", "client", "account_id", "value")
USER_COLUMNS = ("user_id", "signup_at", "client", "persona", "plan", "channel", "account_id")

_CODE = {name: code for code, name in enumerate(EVENT_NAMES)}
#: Lifetimes are clipped here (about 27,000 years) so that microseconds fit an int64.
_MAX_LIFETIME_DAYS = 1e7


class FrozenMap(Mapping):
    """A read-only, hashable mapping; its order (which fixes category codes) counts for ``==``.

    Makes :class:`DemoSpec` immutable and hashable (usable as a cache key).
    """

    __slots__ = ("_data",)

    def __init__(self, mapping: Mapping) -> None:
        self._data = dict(mapping)

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return list(self.items()) == list(other.items())

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"


def _frozen(mapping: Mapping) -> FrozenMap:
    """Read-only copy of ``mapping``."""
    return FrozenMap(mapping)


@dataclass(frozen=True)
class PersonaSpec:
    """Behaviour of one persona (see the ground-truth table of the module docstring).

    Parameters
    ----------
    hazard_ratio
        Multiplier of the baseline lifetime hazard.
    never_active
        Probability that a user never comes back after signup (``L = 0``).
    step_probability
        ``P(step | previous step reached, alive)`` per onboarding step, before the change.
    step_median_delay_days
        Median log-normal delay (days) from the previous step, before the change.
    feature_adoption
        Probability of adopting each feature within ``feature_adoption_window_days``
        (if alive at the drawn time).
    tour_completion
        ``P(tour_completed | tour_shown)`` (if alive at the drawn time).
    """

    hazard_ratio: float
    never_active: float
    step_probability: Mapping[str, float]
    step_median_delay_days: Mapping[str, float]
    feature_adoption: Mapping[str, float]
    tour_completion: float

    def __post_init__(self) -> None:
        for name in ("step_probability", "step_median_delay_days", "feature_adoption"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))


@dataclass(frozen=True)
class ClientSpec:
    """One client: its share of accounts and its persona and plan mixes.

    Parameters
    ----------
    weight
        Relative share of accounts (normalised over clients).
    persona_mix
        Probability of each persona for a user of this client (sums to 1).
    plan_mix
        Probability of each plan for an account of this client (sums to 1).
    """

    weight: float
    persona_mix: Mapping[str, float]
    plan_mix: Mapping[str, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "persona_mix", _frozen(self.persona_mix))
        object.__setattr__(self, "plan_mix", _frozen(self.plan_mix))


def _default_personas() -> FrozenMap:
    return _frozen(
        {
            "marketer": PersonaSpec(
                hazard_ratio=1.0,
                never_active=0.15,
                step_probability=dict(zip(STEPS, (0.85, 0.60, 0.75), strict=True)),
                step_median_delay_days=dict(zip(STEPS, (0.02, 1.0, 0.75), strict=True)),
                feature_adoption=dict(zip(FEATURES, (0.70, 0.35, 0.40), strict=True)),
                tour_completion=0.55,
            ),
            "developer": PersonaSpec(
                hazard_ratio=0.6,
                never_active=0.10,
                step_probability=dict(zip(STEPS, (0.70, 0.85, 0.65), strict=True)),
                step_median_delay_days=dict(zip(STEPS, (0.04, 0.3, 1.5), strict=True)),
                feature_adoption=dict(zip(FEATURES, (0.45, 0.20, 0.65), strict=True)),
                tour_completion=0.30,
            ),
            "sales": PersonaSpec(
                hazard_ratio=1.4,
                never_active=0.20,
                step_probability=dict(zip(STEPS, (0.90, 0.45, 0.70), strict=True)),
                step_median_delay_days=dict(zip(STEPS, (0.01, 2.0, 1.0), strict=True)),
                feature_adoption=dict(zip(FEATURES, (0.60, 0.50, 0.30), strict=True)),
                tour_completion=0.50,
            ),
        }
    )


def _mix(names: tuple[str, ...], probs: tuple[float, ...]) -> dict[str, float]:
    return dict(zip(names, probs, strict=True))


def _default_clients() -> FrozenMap:
    personas = ("marketer", "developer", "sales")
    plans = ("free", "pro", "enterprise")
    return _frozen(
        {
            "acme": ClientSpec(0.5, _mix(personas, (0.5, 0.3, 0.2)), _mix(plans, (0.6, 0.3, 0.1))),
            "globex": ClientSpec(0.3, _mix(personas, (0.25, 0.55, 0.2)), _mix(plans, (0.4, 0.4, 0.2))),
            "initech": ClientSpec(0.2, _mix(personas, (0.25, 0.15, 0.6)), _mix(plans, (0.3, 0.4, 0.3))),
        }
    )


def _default(mapping: Mapping):
    """Return a dataclass field defaulting to a read-only copy of ``mapping``."""
    return field(default_factory=lambda: _frozen(mapping))


@dataclass(frozen=True)
class DemoSpec:
    """Every parameter of the demo generator; the defaults are the documented ground truth.

    The module docstring explains each parameter (table "Ground truth"). Mappings may be given
    as plain dicts; they are stored read-only. Dates are ISO strings (``YYYY-MM-DD``, UTC).
    Use :func:`dataclasses.replace` to vary one parameter.

    Raises
    ------
    ParamsError
        If a probability is outside [0, 1], a mix does not sum to 1, a name is unknown, a
        date does not parse or the dates are out of order.

    Examples
    --------
    >>> spec = DemoSpec(n_users=1000)
    >>> spec.observation_end_timestamp.isoformat()
    '2024-09-01T00:00:00+00:00'
    """

    n_users: int = 6000
    clients: Mapping[str, ClientSpec] = field(default_factory=_default_clients)
    personas: Mapping[str, PersonaSpec] = field(default_factory=_default_personas)
    plan_hazard_ratio: Mapping[str, float] = _default({"free": 1.0, "pro": 0.8, "enterprise": 0.7})
    channel_mix: Mapping[str, float] = _default(
        {"organic": 0.4, "paid": 0.3, "referral": 0.2, "partner": 0.1}
    )
    account_size_probs: tuple[float, ...] = (0.45, 0.25, 0.15, 0.10, 0.05)
    signup_start: str = "2024-01-01"
    signup_end: str = "2024-08-24"
    change_date: str = "2024-04-01"
    observation_end: str = "2024-08-31"
    write_after_end_days: float = 7.0
    inactivity_days: float = 30.0
    baseline_mean_lifetime_days: float = 60.0
    change_hazard_ratio: float = 0.8
    change_dropout_factor: float = 0.75
    change_delay_factor: float = 0.6
    step_delay_sigma: float = 1.0
    feature_adoption_window_days: float = 30.0
    feature_repeat_probability: Mapping[str, float] = _default(
        {"used_dashboard": 0.30, "invited_teammate": 0.03, "exported_csv": 0.10}
    )
    value_repeat_probability: float = 0.15
    session_gap_mean_days: float = 2.5
    session_gap_cap_days: float = 19.0
    session_spread_minutes: float = 30.0
    tour_shown_probability: float = 0.7
    tour_delay_median_minutes: float = 2.0
    tour_completion_delay_median_minutes: float = 4.0
    checklist_shown_probability: float = 1.0
    checklist_delay_median_minutes: float = 1.0
    tour_delay_sigma: float = 0.5
    feedback_probability: float = 0.15
    feedback_score_probability: float = 0.7
    feedback_hazard_slope: float = 1.0
    planted_per_kind: int = 12
    near_misses_per_kind: int = 6
    seat_price: Mapping[str, float] = _default({"free": 0.0, "pro": 30.0, "enterprise": 80.0})
    seat_delay_minutes: float = 10.0

    def __post_init__(self) -> None:
        for name in ("clients", "personas", "plan_hazard_ratio", "channel_mix"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "feature_repeat_probability", _frozen(self.feature_repeat_probability))
        object.__setattr__(self, "seat_price", _frozen(self.seat_price))
        object.__setattr__(self, "account_size_probs", tuple(self.account_size_probs))
        _check_spec(self)

    @property
    def signup_start_timestamp(self) -> pd.Timestamp:
        """First possible signup time (start of ``signup_start``, UTC)."""
        return _day_start(self.signup_start, "signup_start")

    @property
    def signup_stop_timestamp(self) -> pd.Timestamp:
        """End (exclusive) of the signup window: the end of ``signup_end``."""
        return _day_start(self.signup_end, "signup_end") + pd.Timedelta(days=1)

    @property
    def change_timestamp(self) -> pd.Timestamp:
        """Start of ``change_date`` (UTC); users with ``t0 >= change_timestamp`` get the change."""
        return _day_start(self.change_date, "change_date")

    @property
    def observation_end_timestamp(self) -> pd.Timestamp:
        """``T``: the end of ``observation_end`` (the next midnight, UTC)."""
        return _day_start(self.observation_end, "observation_end") + pd.Timedelta(days=1)

    @property
    def write_until_timestamp(self) -> pd.Timestamp:
        """Last time (inclusive) for which events are written: ``T + write_after_end_days``."""
        return self.observation_end_timestamp + pd.Timedelta(days=self.write_after_end_days)


# --------------------------------------------------------------------------- validation


def _day_start(value: str, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as err:
        raise ParamsError(f"DemoSpec.{name} must be a date like '2024-01-31', got {value!r}") from err
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    if ts != ts.normalize():
        raise ParamsError(f"DemoSpec.{name} must be a date without a time, got {value!r}")
    return ts.tz_localize("UTC")


def _check_probability(value: float, name: str) -> None:
    if not 0.0 <= float(value) <= 1.0:
        raise ParamsError(f"DemoSpec.{name} must be a probability in [0, 1], but was {value!r}")


def _check_positive(value: float, name: str) -> None:
    if not float(value) > 0.0 or not math.isfinite(float(value)):
        raise ParamsError(f"DemoSpec.{name} must be a positive finite number, but was {value!r}")


def _check_mix(mix: Mapping[str, float], known: Mapping | None, name: str) -> None:
    for key, value in mix.items():
        if known is not None and key not in known:
            raise ParamsError(f"DemoSpec.{name} names unknown {key!r}; known: {sorted(known)}")
        _check_probability(value, f"{name}[{key!r}]")
    total = float(sum(mix.values()))
    if not math.isclose(total, 1.0, abs_tol=1e-9):
        raise ParamsError(f"DemoSpec.{name} must sum to 1, but sums to {total!r}: {dict(mix)}")


def _check_keys(mapping: Mapping, expected: tuple[str, ...], name: str) -> None:
    if set(mapping) != set(expected):
        raise ParamsError(f"DemoSpec.{name} must have exactly the keys {list(expected)}, got {list(mapping)}")


def _check_persona(name: str, persona: PersonaSpec) -> None:
    where = f"personas[{name!r}]"
    _check_positive(persona.hazard_ratio, f"{where}.hazard_ratio")
    _check_probability(persona.never_active, f"{where}.never_active")
    _check_probability(persona.tour_completion, f"{where}.tour_completion")
    _check_keys(persona.step_probability, STEPS, f"{where}.step_probability")
    _check_keys(persona.step_median_delay_days, STEPS, f"{where}.step_median_delay_days")
    _check_keys(persona.feature_adoption, FEATURES, f"{where}.feature_adoption")
    for step in STEPS:
        _check_probability(persona.step_probability[step], f"{where}.step_probability")
        _check_positive(persona.step_median_delay_days[step], f"{where}.step_median_delay_days")
    for feature in FEATURES:
        _check_probability(persona.feature_adoption[feature], f"{where}.feature_adoption")


def _check_spec(spec: DemoSpec) -> None:
    """Validate a :class:`DemoSpec`; raise :class:`ParamsError` naming the bad field."""
    if isinstance(spec.n_users, bool) or not isinstance(spec.n_users, int | np.integer):
        raise ParamsError(f"DemoSpec.n_users must be an integer, but was {spec.n_users!r}")
    if spec.n_users < 1:
        raise ParamsError(f"DemoSpec.n_users must be at least 1, but was {spec.n_users!r}")
    if not spec.clients or not spec.personas or not spec.plan_hazard_ratio or not spec.channel_mix:
        raise ParamsError("DemoSpec needs at least one client, persona, plan and channel")
    for name, persona in spec.personas.items():
        _check_persona(name, persona)
    for name, ratio in spec.plan_hazard_ratio.items():
        _check_positive(ratio, f"plan_hazard_ratio[{name!r}]")
    for name, client in spec.clients.items():
        _check_positive(client.weight, f"clients[{name!r}].weight")
        _check_mix(client.persona_mix, spec.personas, f"clients[{name!r}].persona_mix")
        _check_mix(client.plan_mix, spec.plan_hazard_ratio, f"clients[{name!r}].plan_mix")
    _check_mix(spec.channel_mix, None, "channel_mix")
    _check_mix(dict(enumerate(spec.account_size_probs)), None, "account_size_probs")
    _check_keys(spec.feature_repeat_probability, FEATURES, "feature_repeat_probability")
    for name in (
        "change_dropout_factor",
        "value_repeat_probability",
        "tour_shown_probability",
        "checklist_shown_probability",
        "feedback_probability",
    ):
        _check_probability(getattr(spec, name), name)
    for name, value in spec.feature_repeat_probability.items():
        _check_probability(value, f"feature_repeat_probability[{name!r}]")
    if not 0.0 < spec.feedback_score_probability < 1.0:
        raise ParamsError(
            "DemoSpec.feedback_score_probability must be in (0, 1), "
            f"but was {spec.feedback_score_probability!r}"
        )
    for name in (
        "baseline_mean_lifetime_days",
        "change_hazard_ratio",
        "change_delay_factor",
        "step_delay_sigma",
        "feature_adoption_window_days",
        "session_gap_mean_days",
        "session_gap_cap_days",
        "session_spread_minutes",
        "tour_delay_median_minutes",
        "tour_completion_delay_median_minutes",
        "checklist_delay_median_minutes",
        "tour_delay_sigma",
        "inactivity_days",
    ):
        _check_positive(getattr(spec, name), name)
    if not float(spec.feedback_hazard_slope) == float(spec.feedback_hazard_slope):
        raise ParamsError("DemoSpec.feedback_hazard_slope must be a number, not NaN")
    if spec.session_gap_cap_days >= spec.inactivity_days:
        raise ParamsError(
            f"DemoSpec.session_gap_cap_days ({spec.session_gap_cap_days!r}) must be below "
            f"inactivity_days ({spec.inactivity_days!r}), or living users would look churned"
        )
    if not 0.0 <= spec.write_after_end_days < 3650:
        raise ParamsError(
            f"DemoSpec.write_after_end_days must be in [0, 3650), got {spec.write_after_end_days!r}"
        )
    if not spec.signup_start_timestamp < spec.signup_stop_timestamp <= spec.observation_end_timestamp:
        raise ParamsError(
            "DemoSpec dates must satisfy signup_start <= signup_end < observation_end, got "
            f"{spec.signup_start!r}, {spec.signup_end!r}, {spec.observation_end!r}"
        )
    _day_start(spec.change_date, "change_date")  # any date is allowed, but it must parse
    for name in ("planted_per_kind", "near_misses_per_kind"):
        value = getattr(spec, name)
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ParamsError(f"DemoSpec.{name} must be a whole number >= 0, but was {value!r}")
    missing = [plan for plan in spec.plan_hazard_ratio if plan not in spec.seat_price]
    if missing:
        raise ParamsError(
            f"DemoSpec.seat_price has no price for plan(s) {missing}; give every plan of "
            f"plan_hazard_ratio a monthly price per seat (0 for free plans)"
        )
    for name, price in spec.seat_price.items():
        if isinstance(price, bool) or not isinstance(price, int | float) or not 0 <= price < math.inf:
            raise ParamsError(f"DemoSpec.seat_price[{name!r}] must be a number >= 0, but was {price!r}")
    _check_positive(spec.seat_delay_minutes, "seat_delay_minutes")


# --------------------------------------------------------------------------- generation


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
    spec, seed
        The inputs that produced the data.
    """

    events: pd.DataFrame
    users: pd.DataFrame
    truth: pd.DataFrame
    spec: DemoSpec
    seed: int


@dataclass(frozen=True)
class _Users:
    """Per-user arrays, in signup order (index = user number - 1)."""

    client: np.ndarray
    persona: np.ndarray
    plan: np.ndarray
    channel: np.ndarray
    account: np.ndarray
    t0_us: np.ndarray
    after_change: np.ndarray


@dataclass
class _Events:
    """Event columns under construction: owner (user index), code, offset from t0 (us), value."""

    owner: list[np.ndarray] = field(default_factory=list)
    code: list[np.ndarray] = field(default_factory=list)
    offset: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)

    def add(self, owner: np.ndarray, event: str, offset: np.ndarray, value=None) -> None:
        self.owner.append(np.asarray(owner, dtype=np.int64))
        self.code.append(np.full(len(owner), _CODE[event], dtype=np.int8))
        self.offset.append(np.asarray(offset, dtype=np.int64))
        fill = np.full(len(owner), np.nan) if value is None else np.asarray(value, dtype=float)
        self.value.append(fill)


def _to_us(days: np.ndarray) -> np.ndarray:
    """Days to integer microseconds, at least 1 us (events never coincide with ``t0``)."""
    return np.maximum(np.rint(np.asarray(days) * DAY_US), 1).astype(np.int64)


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


def _draw_users(rng: np.random.Generator, spec: DemoSpec) -> _Users:
    """Accounts, clients, plans, personas, channels and signup times, sorted by signup."""
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
    return _Users(
        client=client[order],
        persona=persona[order],
        plan=account_plan[account][order],
        channel=channel[order],
        account=account_sorted,
        t0_us=t0_sorted,
        after_change=t0_sorted >= change_us,
    )


def _hazard_ratio(spec: DemoSpec, persona: np.ndarray, plan: np.ndarray, after: np.ndarray):
    """Per-user hazard ratio relative to the baseline (persona x plan x change)."""
    persona_hr = np.array([p.hazard_ratio for p in spec.personas.values()], dtype=float)
    plan_hr = np.array(list(spec.plan_hazard_ratio.values()), dtype=float)
    change = np.where(after, float(spec.change_hazard_ratio), 1.0)
    return persona_hr[persona] * plan_hr[plan] * change


def _persona_values(spec: DemoSpec, attr: str, key: str | None = None) -> np.ndarray:
    """Array over personas (in spec order) of ``persona.attr`` or ``persona.attr[key]``."""
    values = [getattr(p, attr) if key is None else getattr(p, attr)[key] for p in spec.personas.values()]
    return np.asarray(values, dtype=float)


def _draw_lifetimes(rng: np.random.Generator, spec: DemoSpec, users: _Users):
    """Never-active flags, hazard ratios and lifetimes in microseconds (0 if never active)."""
    n = len(users.t0_us)
    hazard_ratio = _hazard_ratio(spec, users.persona, users.plan, users.after_change)
    never = rng.random(n) < _persona_values(spec, "never_active")[users.persona]
    days = rng.exponential(1.0, n) * spec.baseline_mean_lifetime_days / hazard_ratio
    lifetime_us = np.where(never, 0, _to_us(np.minimum(days, _MAX_LIFETIME_DAYS)))
    return never, hazard_ratio, lifetime_us


def _lognormal_us(rng: np.random.Generator, median_days: np.ndarray, sigma: float) -> np.ndarray:
    """Log-normal delays in microseconds with the given per-row medians (days)."""
    return _to_us(median_days * np.exp(sigma * rng.standard_normal(len(median_days))))


def _draw_steps(rng, spec: DemoSpec, users: _Users, alive: np.ndarray, lifetime_us: np.ndarray):
    """Reach times (us, -1 if not reached) of the onboarding steps, in order."""
    after = users.after_change
    previous = np.zeros(len(lifetime_us), dtype=np.int64)
    reached = alive.copy()
    times = {}
    for step in STEPS:
        prob = _persona_values(spec, "step_probability", step)[users.persona]
        prob = np.where(after, 1.0 - spec.change_dropout_factor * (1.0 - prob), prob)
        median = _persona_values(spec, "step_median_delay_days", step)[users.persona]
        median = np.where(after, median * spec.change_delay_factor, median)
        at = previous + _lognormal_us(rng, median, spec.step_delay_sigma)
        reached = reached & (rng.random(len(at)) < prob) & (at <= lifetime_us)
        times[step] = np.where(reached, at, -1)
        previous = at
    return times


def _draw_prompts(rng, spec: DemoSpec, users: _Users, alive: np.ndarray, lifetime_us: np.ndarray):
    """Draw the times (us, -1 if none) of ``tour_shown``, ``tour_completed`` and ``checklist_shown``."""
    n = len(lifetime_us)
    sigma = spec.tour_delay_sigma

    def delay(median_minutes: float) -> np.ndarray:
        return _lognormal_us(rng, np.full(n, median_minutes * MINUTE_US / DAY_US), sigma)

    shown_at = delay(spec.tour_delay_median_minutes)
    shown = alive & (rng.random(n) < spec.tour_shown_probability) & (shown_at <= lifetime_us)
    completed_at = shown_at + delay(spec.tour_completion_delay_median_minutes)
    completion = _persona_values(spec, "tour_completion")[users.persona]
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


def _draw_features(rng, spec: DemoSpec, users: _Users, alive: np.ndarray, lifetime_us: np.ndarray):
    """Adoption (first-use) times in us (-1 if not adopted) of every feature."""
    n = len(lifetime_us)
    times = {}
    for feature in FEATURES:
        prob = _persona_values(spec, "feature_adoption", feature)[users.persona]
        at = _to_us(rng.random(n) * spec.feature_adoption_window_days)
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


def _segment_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each segment (``counts`` >= 1 consecutive values each)."""
    ends = np.cumsum(counts)
    starts = ends - counts
    totals = np.add.reduceat(values, starts)
    adjusted = values.copy()
    adjusted[starts[1:]] -= totals[:-1]
    return np.cumsum(adjusted)


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
        times = _segment_cumsum(gaps.astype(np.int64), counts) + start[owner]
        keep = times < limit[owner]
        rows_out.append(rows[owner[keep]])
        times_out.append(times[keep])
        last = times[np.cumsum(counts) - 1]
        more = last < limit
        rows, start = rows[more], last[more]
    return np.concatenate(rows_out), np.concatenate(times_out)


def _session_events(rng, spec: DemoSpec, events: _Events, sessions, first, lifetime_us) -> None:
    """Add ``session_start`` and the repeat feature/value events of each session."""
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


def _build_events(rng, spec: DemoSpec, users: _Users, never, lifetime_us, first, feedback):
    """All events as arrays (owner, code, offset, value), before the window cut."""
    n = len(lifetime_us)
    alive_idx = np.flatnonzero(~never)
    window_us = (spec.write_until_timestamp.value // 1000) - users.t0_us
    events = _Events()
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
    _session_events(rng, spec, events, (alive_idx[rows], at), first, lifetime_us)
    ends = alive_idx[lifetime_us[alive_idx] <= window_us[alive_idx]]
    events.add(ends, SESSION_EVENT, lifetime_us[ends])
    owner = np.concatenate(events.owner)
    offset = np.concatenate(events.offset)
    keep = offset <= window_us[owner]
    return (
        owner[keep],
        np.concatenate(events.code)[keep],
        offset[keep],
        np.concatenate(events.value)[keep],
    )


# --------------------------------------------------------------------------- planted moments


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


def _plant_candidates(spec: DemoSpec, users: _Users, never, lifetime_us, first) -> dict:
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


def _plant_moments(rng, spec: DemoSpec, users: _Users, never, lifetime_us, first, feedback, event_arrays):
    """Step 9: choose the planted accounts, rewrite their sessions (and a win's first times).

    Returns ``(kind, near_miss, first, event_arrays)``: per user the planted kind (None if
    ordinary) and near-miss flag, the first-occurrence times with the planted changes, and the
    event arrays with the planted users' events rebuilt.
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
    planted = np.flatnonzero(taken)
    if planted.size == 0:
        return kind, near_miss, first, event_arrays

    first = {event: times.copy() for event, times in first.items()}
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
        at = np.maximum(np.rint(np.asarray(days) * DAY_US), 1).astype(np.int64)
        at = at[at < lifetime_us[i]]
        owners.append(np.full(len(at), i, dtype=np.int64))
        times.append(at)

    owner, code, offset, value = event_arrays
    keep = ~taken[owner] | (code == _CODE[SIGNUP_EVENT])
    events = _Events([owner[keep]], [code[keep]], [offset[keep]], [value[keep]])
    for event in TIMED_EVENTS:
        has = planted[first[event][planted] >= 0]
        events.add(has, event, first[event][has], feedback[1][has] if event == FEEDBACK else None)
    _session_events(rng, spec, events, (np.concatenate(owners), np.concatenate(times)), first, lifetime_us)
    ends = planted[lifetime_us[planted] <= window_us[planted]]
    events.add(ends, SESSION_EVENT, lifetime_us[ends])
    owner = np.concatenate(events.owner)
    offset = np.concatenate(events.offset)
    inside = offset <= window_us[owner]
    arrays = (
        owner[inside],
        np.concatenate(events.code)[inside],
        offset[inside],
        np.concatenate(events.value)[inside],
    )
    return kind, near_miss, first, arrays


# --------------------------------------------------------------------------- revenue


def _seat_prices(spec: DemoSpec, users: _Users) -> np.ndarray:
    """Monthly price per seat of each user's account plan."""
    prices = np.array([float(spec.seat_price[plan]) for plan in spec.plan_hazard_ratio])
    return prices[users.plan]


def _seat_starts(spec: DemoSpec, users: _Users, never, lifetime_us) -> np.ndarray:
    """Offset (us) of each user's seat start; -1 for users without a seat."""
    price = _seat_prices(spec, users)
    delay = round(spec.seat_delay_minutes * MINUTE_US)
    start = np.minimum(delay, lifetime_us)
    return np.where(~never & (price > 0), start, -1)


def _revenue_events(spec: DemoSpec, users: _Users, never, lifetime_us, event_arrays):
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
        seats = _segment_cumsum(delta, counts)
        # Changes of one account at the same instant all carry the MRR after all of them.
        new_run = np.r_[True, (account[1:] != account[:-1]) | (at[1:] != at[:-1])]
        run = np.cumsum(new_run) - 1
        last = np.r_[np.flatnonzero(new_run)[1:] - 1, len(owner) - 1]
        mrr = (seats * price[owner])[last[run]]
    else:
        mrr = np.zeros(0)
    window_us = (spec.write_until_timestamp.value // 1000) - users.t0_us
    inside = offset <= window_us[owner]
    o, c, f, v = event_arrays
    return (
        np.concatenate([o, owner[inside]]),
        np.concatenate([c, np.full(int(inside.sum()), _CODE[REVENUE_EVENT], dtype=np.int8)]),
        np.concatenate([f, offset[inside]]),
        np.concatenate([v, mrr[inside].astype(float)]),
    )


def _timestamps(us: np.ndarray) -> pd.DatetimeIndex:
    """Integer microseconds since the epoch as a ``datetime64[us, UTC]`` index."""
    return pd.DatetimeIndex(us.astype("datetime64[us]")).tz_localize("UTC")


def _labels(prefix: str, count: int) -> np.ndarray:
    """``prefix000001`` ... as an object array (at least 6 digits, leading zeros kept)."""
    width = max(6 if prefix == "u" else 5, len(str(count)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, count + 1)], dtype=object)


def _names(mapping: Mapping) -> np.ndarray:
    return np.array(list(mapping), dtype=object)


def _frames(spec: DemoSpec, users: _Users, event_arrays) -> tuple[pd.DataFrame, pd.DataFrame]:
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
    spec: DemoSpec, users: _Users, users_frame, never, hazard_ratio, lifetime_us, first, feedback
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


def generate(spec: DemoSpec = DemoSpec(), *, seed: int = 20240101) -> DemoData:
    """Simulate the demo event log, users table and per-user ground truth.

    Parameters
    ----------
    spec
        Generator parameters; the defaults are the ground truth of the module docstring.
    seed
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
    users = _draw_users(rng, spec)
    never, hazard_ratio, lifetime_us = _draw_lifetimes(rng, spec, users)
    alive = ~never
    first = _draw_steps(rng, spec, users, alive, lifetime_us)
    first.update(_draw_features(rng, spec, users, alive, lifetime_us))
    first.update(_draw_prompts(rng, spec, users, alive, lifetime_us))
    feedback = _draw_feedback(rng, spec, alive, lifetime_us, hazard_ratio)
    first[FEEDBACK] = feedback[0]
    event_arrays = _build_events(rng, spec, users, never, lifetime_us, first, feedback)
    planted = _plant_moments(rng, spec, users, never, lifetime_us, first, feedback, event_arrays)
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
    spec: DemoSpec = DemoSpec(),
    *,
    seed: int = 20240101,
) -> dict[str, Path]:
    """Generate the demo data and write ``events.parquet``, ``users.csv``, ``truth.parquet``.

    Parameters
    ----------
    out_dir
        Folder to write into (created if missing; existing files are overwritten).
    spec, seed
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


# --------------------------------------------------------------------------- the truth


def _truth_codes(truth: pd.DataFrame, column: str, names: Mapping) -> np.ndarray:
    """Positions of ``truth[column]`` values in ``names``; DataError on unknown values."""
    if column not in truth.columns:
        raise DataError(f"truth frame has no column {column!r}; pass DemoData.truth")
    known = list(names)
    codes = pd.Categorical(truth[column], categories=known).codes
    if (codes < 0).any():
        bad = truth.loc[codes < 0, column].iloc[0]
        raise DataError(f"truth column {column!r} has {bad!r}, not one of {known}")
    return np.asarray(codes, dtype=np.int64)


def true_lifetime_survival(
    t,
    truth: pd.DataFrame,
    spec: DemoSpec = DemoSpec(),
    *,
    given_never_active: bool = False,
) -> np.ndarray:
    """Exact ``P(L >= t)`` for the users of ``truth``, vectorised over ``t`` (days).

    Each user's lifetime is a point mass ``never_active(persona)`` at 0 mixed with an
    exponential of rate ``hazard_ratio / baseline_mean_lifetime_days``; the population curve
    is the average of the users' curves: ``1`` for ``t <= 0``, else
    ``mean((1 - never_active) * exp(-rate * t))``. Rates are recomputed from ``spec`` and the
    users' ``persona``, ``plan`` and ``after_change``. Exact up to the rounding of ``L`` to the
    microsecond.

    Parameters
    ----------
    t
        Scalar or array of durations in days.
    truth
        ``DemoData.truth`` or a subset of its rows (e.g. one segment).
    spec
        The spec the data was generated with.
    given_never_active
        If True, condition on each user's realised ``never_active`` flag (a never-active user
        contributes ``L = 0``, the others their exponential) instead of the persona's
        probability; with ``truth[~truth.never_active]`` this is the law of ``L`` given
        ``L > 0``.

    Returns
    -------
    numpy.ndarray
        ``P(L >= t)``, same shape as ``t``.

    Examples
    --------
    >>> data = generate(DemoSpec(n_users=300), seed=5)
    >>> s = true_lifetime_survival([0, 30, 60], data.truth, data.spec)
    >>> bool(s[0] == 1.0 and s[1] > s[2] > 0)
    True
    """
    if len(truth) == 0:
        raise DataError("truth frame has no rows: the survival of an empty population is undefined")
    persona = _truth_codes(truth, "persona", spec.personas)
    plan = _truth_codes(truth, "plan", spec.plan_hazard_ratio)
    after = truth["after_change"].to_numpy(dtype=bool)
    rate = _hazard_ratio(spec, persona, plan, after) / spec.baseline_mean_lifetime_days
    if given_never_active:
        active_share = (~truth["never_active"].to_numpy(dtype=bool)).astype(float)
    else:
        active_share = 1.0 - _persona_values(spec, "never_active")[persona]
    groups, counts = np.unique(np.column_stack([rate, active_share]), axis=0, return_counts=True)
    weights = counts / counts.sum() * groups[:, 1]
    t_arr = np.asarray(t, dtype=float)
    flat = t_arr.reshape(-1)
    survival = weights @ np.exp(-np.outer(groups[:, 0], np.maximum(flat, 0.0)))
    survival = np.where(flat <= 0, 1.0, survival)
    return survival.reshape(t_arr.shape)


def true_hazard_ratios(spec: DemoSpec = DemoSpec()) -> dict:
    """Return the true lifetime hazard ratios of the demo (exact for ever-active users).

    Parameters
    ----------
    spec
        The spec the data was generated with.

    Returns
    -------
    dict
        ``"persona"`` and ``"plan"``: name -> hazard multiplier; ``"change"``: multiplier for
        users signing up on or after ``change_date``; ``"channel"`` and ``"client"``: name ->
        1.0 (no effect given persona and plan); ``"baseline_hazard_per_day"``: the hazard of a
        multiplier-1 user. A ratio between two groups is the ratio of their multipliers.

    Examples
    --------
    >>> true_hazard_ratios()["persona"]["developer"]
    0.6
    """
    return {
        "persona": {name: float(p.hazard_ratio) for name, p in spec.personas.items()},
        "plan": {name: float(r) for name, r in spec.plan_hazard_ratio.items()},
        "change": float(spec.change_hazard_ratio),
        "channel": dict.fromkeys(spec.channel_mix, 1.0),
        "client": dict.fromkeys(spec.clients, 1.0),
        "baseline_hazard_per_day": 1.0 / float(spec.baseline_mean_lifetime_days),
    }


#: Columns of :func:`true_revenue_months` (the MRR flows of :mod:`onboarding_analysis.analyses.revenue`).
REVENUE_MONTH_COLUMNS = (
    "month",
    "accounts",
    "starting_mrr",
    "churned_mrr",
    "contraction_mrr",
    "expansion_mrr",
    "new_mrr",
    "net_churn",
)


def _truth_us(values: pd.Series) -> np.ndarray:
    """Truth durations (days) back to the integer microseconds they were made from."""
    return np.rint(values.to_numpy(dtype=float) * DAY_US).astype(np.int64)


def true_revenue_months(truth: pd.DataFrame, spec: DemoSpec = DemoSpec()) -> pd.DataFrame:
    """The true MRR flows of every complete calendar month (UTC) before ``T``, by construction.

    Rebuilt from the truth columns alone (step 10 of the story): a user with a seat
    (``seat_start_days`` not NaN) adds ``seat_price`` to the account's MRR from ``signup_at +
    seat_start_days`` and removes it at ``signup_at + lifetime_days``. An account's MRR at a
    month start ``b`` counts the seats started before ``b`` and not ended before ``b`` (the
    revenue events strictly before ``b``). The definitions are those of
    :mod:`onboarding_analysis.analyses.revenue`: over the accounts paying at the month's start,
    ``net_churn = 1 - sum(MRR at the end) / sum(MRR at the start)``; new business (accounts
    paying nothing at the start) is ``new_mrr``, outside the rate.

    Returns
    -------
    pandas.DataFrame
        :data:`REVENUE_MONTH_COLUMNS`, one row per month from the month of the first seat to the
        last month ending at or before ``T``; ``month`` is its first day (UTC, timezone-naive).

    Examples
    --------
    >>> data = generate(DemoSpec(n_users=300), seed=2)
    >>> months = true_revenue_months(data.truth, data.spec)
    >>> bool((months["starting_mrr"] >= 0).all())
    True
    """
    for column in ("account_id", "signup_at", "lifetime_days", "seat_start_days", "seat_price"):
        if column not in truth.columns:
            raise DataError(f"truth frame has no column {column!r}; pass DemoData.truth")
    seats = truth[truth["seat_start_days"].notna()]
    t0 = pd.to_datetime(seats["signup_at"], utc=True).dt.tz_localize(None)
    t0_us = t0.to_numpy().astype("datetime64[us]").astype(np.int64)
    start = t0_us + _truth_us(seats["seat_start_days"])
    end = t0_us + _truth_us(seats["lifetime_days"])
    accounts, code = np.unique(seats["account_id"].to_numpy(dtype=str), return_inverse=True)
    price = seats["seat_price"].to_numpy(dtype=float)
    stop = spec.observation_end_timestamp.tz_localize(None)
    if len(seats) == 0:
        return pd.DataFrame(columns=list(REVENUE_MONTH_COLUMNS))
    first = pd.Timestamp(start.min().astype("datetime64[us]"))
    bounds = pd.date_range(first.to_period("M").to_timestamp(), stop.to_period("M").to_timestamp(), freq="MS")
    b_us = bounds.to_numpy().astype("datetime64[us]").astype(np.int64)
    mrr = np.stack(
        [
            np.bincount(code, weights=price * ((start < b) & (end >= b)), minlength=len(accounts))
            for b in b_us
        ],
        axis=1,
    )
    s, e = mrr[:, :-1], mrr[:, 1:]
    paying = s > 0
    out = pd.DataFrame(
        {
            "month": bounds[:-1],
            "accounts": paying.sum(axis=0).astype("int64"),
            "starting_mrr": s.sum(axis=0),
            "churned_mrr": np.where(paying & (e == 0), s, 0.0).sum(axis=0),
            "contraction_mrr": np.where(paying & (e > 0) & (e < s), s - e, 0.0).sum(axis=0),
            "expansion_mrr": np.where(paying & (e > s), e - s, 0.0).sum(axis=0),
            "new_mrr": np.where(~paying, e, 0.0).sum(axis=0),
        }
    )
    kept = np.where(paying, e, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["net_churn"] = np.where(out["starting_mrr"] > 0, 1.0 - kept / out["starting_mrr"], np.nan)
    return out


def true_monthly_net_churn(truth: pd.DataFrame, spec: DemoSpec = DemoSpec()) -> float:
    """The true pooled monthly net revenue churn before ``T``: ``1 - sum(kept) / sum(start)``.

    Pooled over the months of :func:`true_revenue_months` (the starting-MRR-weighted mean of
    their ``net_churn``): what :func:`onboarding_analysis.analyses.revenue.revenue_churn` must report on
    the demo log, exactly.

    Examples
    --------
    >>> data = generate(DemoSpec(n_users=300), seed=2)
    >>> -1 < true_monthly_net_churn(data.truth, data.spec) < 1
    True
    """
    months = true_revenue_months(truth, spec)
    start = months["starting_mrr"].sum()
    if start <= 0:
        return math.nan
    lost = (months["churned_mrr"] + months["contraction_mrr"] - months["expansion_mrr"]).sum()
    return float(lost / start)
