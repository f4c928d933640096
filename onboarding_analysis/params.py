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
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import ParamsError
from .params_checks import (
    _CHECKS,
    COLUMN_KEYS,
    DEFAULT_COLUMNS,
    ENGINES,
    FUNNEL_MODES,
    FUNNEL_SEMANTICS,
    LIFETIME_CENSORING,
    OBSERVATION_END_CHECKS,
    P_ADJUST,
    SCORE_SCALES,
    SOURCES,
    WINDOW_UNITS,
    _closest,
    _Invalid,
    _reconcile_window,
    check_value,
    window_adjective,
    window_label,
    window_seconds,
)


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
        """Return ``path`` (a file, folder or glob) made absolute against :attr:`base_dir`.

        Parameters
        ----------
        path : str
            A path, folder or glob from the params (``~`` is expanded).

        Returns
        -------
        str
            ``path`` as is when absolute, else joined to :attr:`base_dir`.
        """
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else self.base_dir / p)

    @property
    def conversion_window_seconds(self) -> float:
        """The funnel window in seconds (exact for a window given in seconds, minutes, ...).

        Returns
        -------
        float
            :func:`window_seconds` of ``conversion_window``.
        """
        return window_seconds(self.conversion_window)

    @property
    def conversion_window_label(self) -> str:
        """The funnel window for display: "14 days", "5 minutes".

        Returns
        -------
        str
            :func:`window_label` of ``conversion_window``.
        """
        return window_label(self.conversion_window)

    @property
    def user_columns(self) -> Mapping[str, str]:
        """The column names of the users table: ``users_columns``, else ``columns``.

        Returns
        -------
        Mapping[str, str]
            The package's column names mapped to the users table's.
        """
        return self.users_columns if self.users_columns is not None else self.columns

    @property
    def where(self) -> str:
        """How error messages name the origin of these params.

        Returns
        -------
        str
            The params file's path, or ``"params"`` when built from a mapping.
        """
        return str(self.params_file) if self.params_file else "params"

    @property
    def resolved_from(self) -> str:
        """Where relative paths start, and why: for the error about a missing file.

        Returns
        -------
        str
            One sentence naming :attr:`base_dir` and why relative paths start there.

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

        Returns
        -------
        dict[str, Any]
            Every params key (not ``params_file`` or ``base_dir``) mapped to its YAML-native value.
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
        """Return the params as plain data (for report headers and metrics.json).

        Returns
        -------
        dict[str, Any]
            The same mapping as :meth:`as_notebook_parameters`.
        """
        return self.as_notebook_parameters()


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def load_params(path: str | Path) -> Params:
    """Read a params YAML file and validate it.

    Parameters
    ----------
    path : str or pathlib.Path
        The params YAML file. Relative paths in it start at the folder above it when it lies in a
        folder named ``params``, else at its own folder.

    Returns
    -------
    Params
        The validated params.

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

    Parameters
    ----------
    raw : Mapping[str, Any]
        Params keys mapped to their values; ``events`` is required.
    source : pathlib.Path or None, optional
        The params file the mapping came from, named in error messages (None: ``"params"``).
    base_dir : pathlib.Path or None, optional
        The folder relative paths start at (None: :func:`project_root` of the working directory).

    Returns
    -------
    Params
        The validated, normalised params, with the defaults of the keys not given.

    Raises
    ------
    ParamsError
        An unknown key (with the closest known key), a missing ``events``, an invalid value, or
        ``conversion_window`` and ``conversion_window_days`` naming different lengths.
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


def params_from_namespace(namespace: Mapping[str, Any]) -> Params:
    """Validate the params variables of a notebook's namespace (its ``parameters`` cell).

    Takes every schema key present in ``namespace`` (other names, such as ``output_dir``, are
    ignored), so a notebook's parameters cell and papermill's injected cell are validated the
    same way as a YAML file.

    Parameters
    ----------
    namespace : Mapping[str, Any]
        A notebook's variables (e.g. ``globals()``).

    Returns
    -------
    Params
        The validated params, with relative paths starting at :func:`project_root`.

    Raises
    ------
    ParamsError
        A params value is invalid or ``events`` is missing.
    """
    raw = {key: namespace[key] for key in _CHECKS if key in namespace}
    return validate_params(raw, source=None, base_dir=project_root())


def project_root(start: Path | None = None) -> Path:
    """Return the nearest ancestor of ``start`` (default: the working directory) holding ``params/``.

    Parameters
    ----------
    start : pathlib.Path or None, optional
        The folder to start from (None: the working directory).

    Returns
    -------
    pathlib.Path
        The nearest ancestor (or ``start`` itself) with a ``params`` folder, else ``start``, resolved.
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "params").is_dir():
            return folder
    return start


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
    """Return how long after it happens a churn becomes visible, in days.

    That is ``inactivity_days`` under the
    inactivity rule with ``lifetime_censoring: observable``, else None (``churn_event`` is seen
    at once; ``observation_end`` is the literal rule of ``docs/metrics.md``, which ignores the delay).

    Parameters
    ----------
    params : Params
        The run's params.

    Returns
    -------
    float or None
        ``inactivity_days`` without a ``churn_event`` under ``lifetime_censoring: observable``, else None.
    """
    if params.churn_event is None and params.lifetime_censoring == "observable":
        return float(params.inactivity_days)
    return None


def observation_end_timestamp(params: Params) -> dt.datetime | None:
    """``observation_end`` as a UTC naive datetime (a date means the end of that day).

    A date ``D`` becomes midnight at the start of ``D + 1`` in params ``timezone``: events up
    to that instant are kept. A naive datetime is read in params ``timezone``.

    Parameters
    ----------
    params : Params
        The run's params (``observation_end`` and ``timezone`` are read).

    Returns
    -------
    datetime.datetime or None
        The end of observation in UTC without time zone, or None when ``observation_end`` is not set.
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
    "DEFAULT_COLUMNS",
    "ENGINES",
    "FUNNEL_MODES",
    "FUNNEL_SEMANTICS",
    "LIFETIME_CENSORING",
    "OBSERVATION_END_CHECKS",
    "P_ADJUST",
    "SCORE_SCALES",
    "SOURCES",
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
