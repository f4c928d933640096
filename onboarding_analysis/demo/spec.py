"""The parameters of the demo generator, with their defaults and their validation.

:class:`DemoSpec` holds every parameter of :func:`onboarding_analysis.demo.generator.generate`;
its defaults are the documented ground truth (the table in ``docs/demo.md``).
:class:`PersonaSpec` and :class:`ClientSpec` describe one persona and one client. A spec is
immutable and hashable (mappings are stored as :class:`FrozenMap`), and a bad value raises
:class:`~onboarding_analysis.errors.ParamsError` naming the field when the spec is built.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ParamsError
from .events import FEATURES, STEPS

__all__ = ["DEFAULT_SPEC", "ClientSpec", "DemoSpec", "FrozenMap", "PersonaSpec"]


class FrozenMap(Mapping):
    """A read-only, hashable mapping; its order (which fixes category codes) counts for ``==``.

    Makes :class:`DemoSpec` immutable and hashable (usable as a cache key).

    Parameters
    ----------
    mapping : Mapping
        The items, copied.
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
    """Behaviour of one persona (see the ground-truth table of ``docs/demo.md``).

    Attributes
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

    Attributes
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


def _persona(hazard_ratio, never_active, steps, step_delays, features, tour_completion) -> PersonaSpec:
    """A :class:`PersonaSpec` from one row of the defaults table (steps and features in order)."""
    return PersonaSpec(
        hazard_ratio=hazard_ratio,
        never_active=never_active,
        step_probability=dict(zip(STEPS, steps, strict=True)),
        step_median_delay_days=dict(zip(STEPS, step_delays, strict=True)),
        feature_adoption=dict(zip(FEATURES, features, strict=True)),
        tour_completion=tour_completion,
    )


def _default_personas() -> FrozenMap:
    # hazard ratio, never active, step probabilities, step median delays (days), feature
    # adoption, tour completion
    return _frozen(
        {
            "marketer": _persona(1.0, 0.15, (0.85, 0.60, 0.75), (0.02, 1.0, 0.75), (0.70, 0.35, 0.40), 0.55),
            "developer": _persona(0.6, 0.10, (0.70, 0.85, 0.65), (0.04, 0.3, 1.5), (0.45, 0.20, 0.65), 0.30),
            "sales": _persona(1.4, 0.20, (0.90, 0.45, 0.70), (0.01, 2.0, 1.0), (0.60, 0.50, 0.30), 0.50),
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


def _date_property(name: str, *, end: bool, doc: str) -> property:
    """A read-only property: the start (or, with ``end``, the end) of the date field ``name``."""
    # The validation helpers are defined below the class; they are looked up when read.
    return property(lambda self: (_day_end if end else _day_start)(getattr(self, name), name), doc=doc)


def _default(mapping: Mapping):
    """Return a dataclass field defaulting to a read-only copy of ``mapping``."""
    return field(default_factory=lambda: _frozen(mapping))


@dataclass(frozen=True)
class DemoSpec:
    """Every parameter of the demo generator; the defaults are the documented ground truth.

    ``docs/demo.md`` explains each parameter (table "Ground truth"). Mappings may be given
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

    signup_start_timestamp = _date_property(
        "signup_start", end=False, doc="First possible signup time: the start of ``signup_start`` (UTC)."
    )
    signup_stop_timestamp = _date_property(
        "signup_end", end=True, doc="End (exclusive) of the signup window: the end of ``signup_end`` (UTC)."
    )
    change_timestamp = _date_property(
        "change_date",
        end=False,
        doc="Start of ``change_date`` (UTC); users who sign up at or after it get the change.",
    )
    observation_end_timestamp = _date_property(
        "observation_end", end=True, doc="``T``: the end of ``observation_end`` (the next midnight, UTC)."
    )

    @property
    def write_until_timestamp(self) -> pd.Timestamp:
        """Last time (inclusive) for which events are written.

        Returns
        -------
        pandas.Timestamp
            ``T + write_after_end_days``.

        Examples
        --------
        >>> DemoSpec().write_until_timestamp.isoformat()
        '2024-09-08T00:00:00+00:00'
        """
        return self.observation_end_timestamp + pd.Timedelta(days=self.write_after_end_days)


# --------------------------------------------------------------------------- validation


def _day_start(value: str, name: str) -> pd.Timestamp:
    """Start (UTC) of the date ``value`` of the field ``name``, or a ``ParamsError`` naming it."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as err:
        raise ParamsError(f"DemoSpec.{name} must be a date like '2024-01-31', got {value!r}") from err
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    if ts != ts.normalize():
        raise ParamsError(f"DemoSpec.{name} must be a date without a time, got {value!r}")
    return ts.tz_localize("UTC")


def _day_end(value: str, name: str) -> pd.Timestamp:
    """End of the date ``value`` (the next midnight, UTC) of the field ``name``."""
    return _day_start(value, name) + pd.Timedelta(days=1)


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
    _check_population(spec)
    _check_rates(spec)
    _check_window(spec)
    _check_planting_and_seats(spec)


def _check_population(spec: DemoSpec) -> None:
    """Users, personas, plans, clients, channels and account sizes."""
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


def _check_rates(spec: DemoSpec) -> None:
    """Probabilities, and the positive scales of the lifetimes, delays and sessions."""
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


def _check_window(spec: DemoSpec) -> None:
    """The session gap against the inactivity rule, and the dates of the window."""
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


def _check_planting_and_seats(spec: DemoSpec) -> None:
    """Planted accounts per kind, seat prices and the seat delay."""
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


#: The default spec (the documented ground truth); immutable, so one instance serves as every default.
DEFAULT_SPEC = DemoSpec()
