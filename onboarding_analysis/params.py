"""Load and validate the params of one run (one YAML file per client or segment).

Every key, its type and default is documented in ``docs/params.md``. Only
``events`` is required; every other key has a default. Unknown keys, wrong types and
impossible values are rejected with a :class:`~onboarding_analysis.errors.ParamsError` whose
message names the file, the key, the bad value and what is expected.

Relative paths (``events``, ``users``) are resolved against the run's *base directory*: for a
params file inside a folder named ``params`` that is the folder above it (the project root,
so ``params/acme.yaml`` can say ``events: data/acme/events.parquet``); for any other params
file it is the file's own folder; for params given in a notebook it is the nearest ancestor of
the working directory that holds a ``params`` folder (the project root again), else the
working directory.

Examples
--------
>>> p = validate_params({"events": "data/demo/events.parquet", "retention_days": [1, 7]})
>>> p.retention_days
(1, 7)
>>> p.inactivity_days
30
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import ParamsError

#: Keys of the ``columns`` mapping: the names the package uses, mapped to the input's names.
COLUMN_KEYS = ("user_id", "event", "timestamp", "signup_at", "account_id", "client", "value")
DEFAULT_COLUMNS = {key: key for key in COLUMN_KEYS}
LIFETIME_CENSORING = ("observable", "observation_end")
#: The values of params ``source``: ``canonical`` or a vendor reader of :mod:`onboarding_analysis.data.sources`.
SOURCES = ("canonical", "amplitude", "mixpanel", "posthog", "segment", "ga4")
FUNNEL_MODES = ("ordered", "strict", "any_order")
#: Values of params ``funnel_semantics`` (docs/funnels.md).
FUNNEL_SEMANTICS = ("onboarding", "posthog")
#: Seconds per unit of params ``conversion_window`` ("<n> <unit>"): fixed lengths, as PostHog's
#: ``DATERANGE_MAP`` (posthog/utils.py): a month is 31 days and daylight saving changes nothing.
WINDOW_UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3_600,
    "day": 86_400,
    "week": 7 * 86_400,
    "month": 31 * 86_400,
}
_WINDOW_TEXT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*$")
P_ADJUST = ("holm", "fdr_bh")
ENGINES = ("duckdb", "spark")
SCORE_SCALES = ("nps", "csat")
OBSERVATION_END_CHECKS = ("error", "warn")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Params:
    """The validated params of one run. Build it with :func:`load_params` or :func:`validate_params`.

    Attributes mirror the YAML keys (lists become tuples); see ``docs/params.md`` for the
    meaning of each key. ``params_file`` is the params file (None when built from a mapping) and
    ``base_dir`` the directory relative paths are resolved against.
    """

    events: str
    client: str = "demo"
    users: str | None = None
    columns: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_COLUMNS))
    timezone: str = "UTC"
    observation_end: dt.date | dt.datetime | None = None
    signup_event: str | None = "signed_up"
    value_events: tuple[str, ...] = ("created_report",)
    active_events: tuple[str, ...] | None = None
    churn_event: str | None = None
    inactivity_days: float = 30
    retention_days: tuple[int, ...] = (1, 7, 30)
    onboarding_steps: tuple[tuple[str, ...], ...] = ()
    #: The funnel window as given: a number of days, or "<n> <unit>" (normalised, e.g. "5 minutes").
    conversion_window: float | str = 14
    #: The same window in (fractional) days, whichever key gave it: what the analyses read.
    conversion_window_days: float = 14
    segments: tuple[str, ...] = ()
    filters: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    min_segment_size: int = 30
    min_cell_users: int = 10
    rmst_horizon_days: float = 90
    change_date: dt.date | None = None
    show_identifiers: bool = False
    lifetime_censoring: str = "observable"
    funnel_mode: str = "ordered"
    funnel_semantics: str = "onboarding"
    prompts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    feature_events: tuple[str, ...] = ()
    adoption_days: int = 30
    # Segment comparisons, the onboarding change, early behaviours (``docs/metrics.md``).
    p_adjust: str = "holm"
    reference_groups: Mapping[str, str] = field(default_factory=dict)
    landmark_days: int = 7
    top_early_events: int = 10
    compression_grid_hours: float | None = None
    # Engine of the user-facts step.
    engine: str = "duckdb"
    # Moments of truth, revenue, feedback, readiness.
    moment_early_days: int = 14
    crisis_top_quantile: float = 0.75
    crisis_recent_days: int = 14
    crisis_drop_ratio: float = 0.25
    relationship_days: int = 14
    relationship_max_active_days: int = 1
    win_speed_quantile: float = 0.9
    wow_features: int = 2
    revenue_event: str | None = None
    currency: str | None = None
    churn_scenarios: tuple[float, ...] = (0.02, 0.05, -0.05)
    feedback_event: str | None = None
    score_scale: str = "nps"
    readiness_max_excluded_share: float = 0.05
    readiness_min_eligible: int = 100
    # Inputs: the users table's own column names, the observation-end check.
    users_columns: Mapping[str, str] | None = None
    observation_end_check: str = "error"
    # The shape of the inputs: canonical columns or a vendor export (onboarding_analysis.data.sources).
    source: str = "canonical"
    account_group: str | None = None
    mixpanel_project_timezone: str | None = None
    intercom_export: str | None = None
    params_file: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)

    def resolve(self, path: str) -> str:
        """Return ``path`` (a file, folder or glob) made absolute against :attr:`base_dir`."""
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else self.base_dir / p)

    @property
    def conversion_window_seconds(self) -> float:
        """The funnel window in seconds (exact for a window given in seconds, minutes, ...)."""
        return window_seconds(self.conversion_window)

    @property
    def conversion_window_label(self) -> str:
        """The funnel window for display: "14 days", "5 minutes"."""
        return window_label(self.conversion_window)

    @property
    def user_columns(self) -> Mapping[str, str]:
        """The column names of the users table: ``users_columns``, else ``columns``."""
        return self.users_columns if self.users_columns is not None else self.columns

    @property
    def where(self) -> str:
        """How error messages name the origin of these params."""
        return str(self.params_file) if self.params_file else "params"

    @property
    def resolved_from(self) -> str:
        """Where relative paths start, and why: for the error about a missing file.

        Examples
        --------
        >>> validate_params({"events": "e.csv"}, source=Path("/x/params/a.yaml"),
        ...                 base_dir=Path("/x")).resolved_from
        'relative paths start at /x, the folder above params/'
        """
        base = self.base_dir
        if self.params_file is not None and base == self.params_file.parent:
            return f"relative paths start at {base}, the folder of the params file"
        if (
            self.params_file is not None
            and base == self.params_file.parent.parent
            and self.params_file.parent.name == "params"
        ):
            return f"relative paths start at {base}, the folder above params/"
        return f"relative paths start at {base}"

    def as_notebook_parameters(self) -> dict[str, Any]:
        """Every params key as a YAML-native value, ready for papermill's ``parameters=``.

        Dates become ISO strings and tuples lists, so that papermill injects literals; relative
        paths are made absolute so the notebook finds the data from any working directory.
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("params_file", "base_dir"):
                continue
            out[f.name] = _to_yaml_native(getattr(self, f.name))
        out["events"] = self.resolve(self.events)
        if self.users is not None:
            out["users"] = self.resolve(self.users)
        if self.intercom_export is not None:
            out["intercom_export"] = self.resolve(self.intercom_export)
        out["onboarding_steps"] = [
            step[0] if len(step) == 1 else list(step) for step in self.onboarding_steps
        ]
        return out

    def to_dict(self) -> dict[str, Any]:
        """The params as plain data (for report headers and metrics.json)."""
        return self.as_notebook_parameters()


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def load_params(path: str | Path) -> Params:
    """Read a params YAML file and validate it.

    Raises
    ------
    ParamsError
        The file is missing, is not YAML, is not a mapping, or any key is invalid.
    """
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: params file not found. Check the path (try: ls params/).")
    if path.is_dir():
        raise ParamsError(f"{path}: is a directory; give a params YAML file such as params/demo.yaml.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ParamsError(
            f"{path}: not valid YAML ({err}). Fix the syntax or start from params/demo.yaml."
        ) from err
    if raw is None:
        raise ParamsError(f"{path}: the file is empty; at least the key 'events' is required.")
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{path}: expected a mapping of keys to values, got {type(raw).__name__}.")
    path = path.resolve()
    base = path.parent.parent if path.parent.name == "params" else path.parent
    return validate_params(raw, source=path, base_dir=base)


def validate_params(
    raw: Mapping[str, Any], *, source: Path | None = None, base_dir: Path | None = None
) -> Params:
    """Validate a mapping of params (from YAML or a notebook) and return :class:`Params`.

    Unknown keys, wrong types and impossible values raise :class:`ParamsError`.
    """
    where = str(source) if source else "params"
    unknown = sorted(set(raw) - set(_CHECKS))
    if unknown:
        key = unknown[0]
        hint = _closest(key, _CHECKS)
        suggestion = f" Did you mean '{hint}'?" if hint else ""
        raise ParamsError(
            f"{where}: unknown key '{key}'.{suggestion} Known keys: {', '.join(sorted(_CHECKS))}."
        )
    if "events" not in raw or raw["events"] is None:
        raise ParamsError(
            f"{where}: key 'events' is required: the path or glob of the event log, e.g. data/demo/events.parquet."
        )
    values: dict[str, Any] = {}
    for key, value in raw.items():
        check = _CHECKS[key]
        try:
            values[key] = check(value)
        except _Invalid as bad:
            raise ParamsError(f"{where}: key '{key}': value {value!r} is invalid: expected {bad}.") from None
    _reconcile_window(values, where)
    if base_dir is None:
        base_dir = project_root()
    return Params(**values, params_file=source, base_dir=Path(base_dir))


def window_seconds(value: float | str) -> float:
    """Length in seconds of a ``conversion_window`` value: a number of days, or "<n> <unit>".

    Raises
    ------
    ParamsError
        Not a positive number of days nor "<n> <unit>" with a unit of :data:`WINDOW_UNITS`.

    Examples
    --------
    >>> window_seconds("5 minutes"), window_seconds(14), window_seconds("1 month")
    (300.0, 1209600.0, 2678400.0)
    """
    try:
        amount, unit = _window_parts(value)
    except _Invalid as bad:
        raise ParamsError(f"key 'conversion_window': value {value!r} is invalid: expected {bad}.") from None
    return float(amount * WINDOW_UNITS[unit])


def window_label(value: float | str) -> str:
    """A ``conversion_window`` value for display: "14 days", "1 day", "5 minutes"."""
    amount, unit = _window_parts(value)
    return f"{amount:g} {unit}" + ("" if amount == 1 else "s")


def window_adjective(value: float | str) -> str:
    """A ``conversion_window`` value before a noun: "14-day", "5-minute"."""
    amount, unit = _window_parts(value)
    return f"{amount:g}-{unit}"


def _window_parts(value: Any) -> tuple[float, str]:
    """``(amount, unit)`` of a window: a number means days."""
    expected = (
        'a number of days > 0 (e.g. 14) or "<n> <unit>" with a unit of '
        + ", ".join(WINDOW_UNITS)
        + ' (plural allowed; a month is 31 days), e.g. "5 minutes"'
    )
    if isinstance(value, str):
        match = _WINDOW_TEXT.match(value)
        if match is None:
            raise _Invalid(expected)
        amount, unit = float(match.group(1)), match.group(2).lower()
        if unit not in WINDOW_UNITS and unit.endswith("s"):
            unit = unit[:-1]
        if unit not in WINDOW_UNITS or amount <= 0:
            raise _Invalid(expected)
        return amount, unit
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise _Invalid(expected)
    return float(value), "day"


def _reconcile_window(values: dict[str, Any], where: str) -> None:
    """Set both window keys from whichever was given (``conversion_window_days`` is the older
    name of ``conversion_window`` in days). Given both, they must name the same length.
    """
    window, days = values.get("conversion_window"), values.get("conversion_window_days")
    if window is None and days is None:
        values.pop("conversion_window", None)
        values.pop("conversion_window_days", None)
        return
    if window is None:
        values["conversion_window"] = days
        return
    seconds = window_seconds(window)
    if days is not None and not math.isclose(seconds, days * 86_400, rel_tol=1e-9):
        raise ParamsError(
            f"{where}: keys 'conversion_window' ({window!r}, {seconds:g} s) and 'conversion_window_days' "
            f"({days!r}, {days * 86_400:g} s) give different funnel windows; set only conversion_window "
            f"(conversion_window_days is its older name, in days)."
        )
    values["conversion_window_days"] = window if not isinstance(window, str) else seconds / 86_400


def check_value(key: str, value: Any) -> Any:
    """Validate and normalise one params value as ``validate_params`` would (for options given
    directly to an analysis function, e.g. ``compute_funnel(facts, steps=[...])``).

    Raises :class:`ParamsError` naming the key, the value and what is expected.
    """
    try:
        return _CHECKS[key](value)
    except _Invalid as bad:
        raise ParamsError(f"key '{key}': value {value!r} is invalid: expected {bad}.") from None


def params_from_namespace(namespace: Mapping[str, Any]) -> Params:
    """Validate the params variables of a notebook's namespace (its ``parameters`` cell).

    Takes every schema key present in ``namespace`` (other names, such as ``output_dir``, are
    ignored), so a notebook's parameters cell and papermill's injected cell are validated the
    same way as a YAML file.
    """
    raw = {key: namespace[key] for key in _CHECKS if key in namespace}
    return validate_params(raw, source=None, base_dir=project_root())


def project_root(start: Path | None = None) -> Path:
    """The nearest ancestor of ``start`` (default: the working directory) holding ``params/``."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "params").is_dir():
            return folder
    return start


# --------------------------------------------------------------------------------------------
# Checks: each returns the normalised value or raises _Invalid("what is expected")
# --------------------------------------------------------------------------------------------


class _Invalid(Exception):
    pass


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("a non-empty string")
    return value


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def inner(value: Any) -> Any:
        return None if value is None else check(value)

    return inner


def _client(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _SAFE_NAME.match(value):
        raise _Invalid(
            "a run name of letters, digits, '_', '-' or '.', starting with a letter or digit "
            "(it names the output folder, so no '/' or '..')"
        )
    return value


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid("a list of event names, e.g. [created_report]")
    return tuple(value)


def _positive_number(value: Any) -> float | int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise _Invalid("a number of days > 0")
    return value


def _conversion_window(value: Any) -> float | str:
    """A number of days as given, or "<n> <unit>" normalised ("5 Minute" -> "5 minutes")."""
    _window_parts(value)
    return value if not isinstance(value, str) else window_label(value)


def _whole_at_least(minimum: int) -> Callable[[Any], int]:
    def inner(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Invalid(f"a whole number >= {minimum}")
        return value

    return inner


def _days_list(value: Any) -> tuple[int, ...]:
    ok = (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    )
    if not ok:
        raise _Invalid("a non-empty list of whole numbers of days >= 0, e.g. [1, 7, 30]")
    if len(set(value)) != len(value):
        raise _Invalid("a list of distinct days (this one repeats a day)")
    return tuple(sorted(value))


def _steps(value: Any) -> tuple[tuple[str, ...], ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise _Invalid("a list of steps; each step an event name or a list of event names")
    steps = []
    for step in value:
        if isinstance(step, str) and step:
            steps.append((step,))
        elif isinstance(step, list | tuple) and step and all(isinstance(s, str) and s for s in step):
            steps.append(tuple(step))
        else:
            raise _Invalid("a list of steps; each step an event name or a list of event names")
    return tuple(steps)


def _columns(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _Invalid(f"a mapping from {', '.join(COLUMN_KEYS)} to your file's column names")
    bad = [k for k in value if k not in COLUMN_KEYS]
    if bad:
        raise _Invalid(f"only the keys {', '.join(COLUMN_KEYS)} (got '{bad[0]}')")
    if not all(isinstance(v, str) and v for v in value.values()):
        raise _Invalid("column names as non-empty strings")
    return DEFAULT_COLUMNS | dict(value)


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("an IANA time zone name such as UTC or Europe/Paris")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _Invalid("an IANA time zone name such as UTC or Europe/Paris") from None
    return value


def _date_or_datetime(value: Any) -> dt.date | dt.datetime:
    if isinstance(value, dt.datetime | dt.date):
        return value
    if isinstance(value, str):
        try:
            if len(value.strip()) == 10:
                return dt.date.fromisoformat(value.strip())
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Invalid("a date (2024-08-31, meaning the end of that day) or a datetime (2024-08-31T12:00:00)")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise _Invalid("a date such as 2024-04-01 (no time of day)")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Invalid("a date such as 2024-04-01")


def _filters(value: Any) -> dict[str, tuple[Any, ...]]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and k for k in value):
        raise _Invalid("a mapping of column -> value or list of values, e.g. {client: acme}")
    out = {}
    for key, allowed in value.items():
        allowed = allowed if isinstance(allowed, list | tuple) else [allowed]
        if not allowed or not all(isinstance(v, str | int | float | bool) for v in allowed):
            raise _Invalid("a mapping of column -> value or list of values, e.g. {client: acme}")
        out[key] = tuple(allowed)
    return out


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("true or false")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def inner(value: Any) -> str:
        if value not in options:
            raise _Invalid(f"one of {', '.join(options)}")
        return value

    return inner


def _prompts(value: Any) -> dict[str, dict[str, str]]:
    expected = "a mapping of prompt name -> {shown: <event>, engaged: <event>}, e.g. {tour: {shown: tour_shown, engaged: tour_completed}}"
    if not isinstance(value, Mapping):
        raise _Invalid(expected)
    out = {}
    for name, pair in value.items():
        ok = (
            isinstance(name, str)
            and isinstance(pair, Mapping)
            and set(pair) == {"shown", "engaged"}
            and all(isinstance(v, str) and v for v in pair.values())
        )
        if not ok:
            raise _Invalid(expected)
        out[name] = {"shown": pair["shown"], "engaged": pair["engaged"]}
    return out


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise _Invalid("a number strictly between 0 and 1, e.g. 0.25")
    return float(value)


def _rates(value: Any) -> tuple[float, ...]:
    ok = isinstance(value, list | tuple) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and -1 < v < 1 for v in value
    )
    if not ok:
        raise _Invalid("a list of monthly net churn rates between -1 and 1, e.g. [0.02, 0.05, -0.05]")
    return tuple(float(v) for v in value)


def _reference_groups(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str | int | bool) for k, v in value.items()
    ):
        raise _Invalid("a mapping of segment column -> reference group, e.g. {persona: marketer}")
    return {k: str(v) for k, v in value.items()}


def _segments(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid("a list of column names, e.g. [persona, plan]")
    return tuple(value)


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "client": _client,
    "events": _string,
    "users": _optional(_string),
    "columns": _columns,
    "timezone": _timezone,
    "observation_end": _optional(_date_or_datetime),
    "signup_event": _optional(_string),
    "value_events": lambda v: () if v is None else _string_list(v),
    "active_events": _optional(_string_list),
    "churn_event": _optional(_string),
    "inactivity_days": _positive_number,
    "retention_days": _days_list,
    "onboarding_steps": _steps,
    "conversion_window": _optional(_conversion_window),
    "conversion_window_days": _optional(_positive_number),
    "segments": _segments,
    "filters": lambda v: {} if v is None else _filters(v),
    "min_segment_size": _whole_at_least(1),
    "min_cell_users": _whole_at_least(1),
    "rmst_horizon_days": _positive_number,
    "change_date": _optional(_date),
    "show_identifiers": _bool,
    "lifetime_censoring": _choice(LIFETIME_CENSORING),
    "funnel_mode": _choice(FUNNEL_MODES),
    "funnel_semantics": _choice(FUNNEL_SEMANTICS),
    "prompts": lambda v: {} if v is None else _prompts(v),
    "feature_events": lambda v: () if v is None else _string_list(v),
    "adoption_days": _whole_at_least(1),
    "p_adjust": _choice(P_ADJUST),
    "reference_groups": lambda v: {} if v is None else _reference_groups(v),
    "landmark_days": _whole_at_least(1),
    "top_early_events": _whole_at_least(1),
    "compression_grid_hours": _optional(_positive_number),
    "engine": _choice(ENGINES),
    "moment_early_days": _whole_at_least(1),
    "crisis_top_quantile": _fraction,
    "crisis_recent_days": _whole_at_least(1),
    "crisis_drop_ratio": _fraction,
    "relationship_days": _whole_at_least(1),
    "relationship_max_active_days": _whole_at_least(0),
    "win_speed_quantile": _fraction,
    "wow_features": _whole_at_least(1),
    "revenue_event": _optional(_string),
    "currency": _optional(_string),
    "churn_scenarios": _rates,
    "feedback_event": _optional(_string),
    "score_scale": _choice(SCORE_SCALES),
    "readiness_max_excluded_share": _fraction,
    "readiness_min_eligible": _whole_at_least(1),
    "users_columns": _optional(_columns),
    "observation_end_check": _choice(OBSERVATION_END_CHECKS),
    "source": _choice(SOURCES),
    "account_group": _optional(_string),
    "mixpanel_project_timezone": _optional(_timezone),
    "intercom_export": _optional(_string),
}


def _closest(key: str, known: Mapping[str, Any]) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return match[0] if match else None


def _to_yaml_native(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_to_yaml_native(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _to_yaml_native(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def churn_delay_days(params: Params) -> float | None:
    """How long after it happens a churn becomes visible: ``inactivity_days`` under the
    inactivity rule with ``lifetime_censoring: observable``, else None (``churn_event`` is seen
    at once; ``observation_end`` is the literal rule of ``docs/metrics.md``, which ignores the delay).
    """
    if params.churn_event is None and params.lifetime_censoring == "observable":
        return float(params.inactivity_days)
    return None


def observation_end_timestamp(params: Params) -> dt.datetime | None:
    """``observation_end`` as a UTC naive datetime (a date means the end of that day).

    A date ``D`` becomes midnight at the start of ``D + 1`` in params ``timezone``: events up
    to that instant are kept. A naive datetime is read in params ``timezone``.
    """
    end = params.observation_end
    if end is None:
        return None
    zone = zoneinfo.ZoneInfo(params.timezone)
    if not isinstance(end, dt.datetime):
        end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    if end.tzinfo is None:
        end = end.replace(tzinfo=zone)
    return end.astimezone(dt.UTC).replace(tzinfo=None)


__all__ = [
    "COLUMN_KEYS",
    "FUNNEL_SEMANTICS",
    "WINDOW_UNITS",
    "Params",
    "check_value",
    "churn_delay_days",
    "load_params",
    "observation_end_timestamp",
    "params_from_namespace",
    "project_root",
    "validate_params",
    "window_adjective",
    "window_label",
    "window_seconds",
]
