"""The notebooks' ``parameters`` cell, generated from the params schema.

The six notebooks share one parameters cell: one annotated line per params key
(``inactivity_days: float = 30  # ...``), so that ``papermill --help-notebook`` shows each
key's type, value and help. :data:`NOTEBOOK_PARAMETERS` is the one place the cell's types
and help lines live; :func:`parameters_cell_source` builds the cell's text from it, from the
package defaults (:func:`~onboarding_analysis.params.validate_params` with no key but
``events``) and from the demo's params file. ``make params-cells`` writes it into the
notebooks; ``tests/test_parameters_cell.py`` fails when a notebook's cell differs.

Types are written as papermill's parser reads them: ``Optional[int]``, not ``int | None``
(papermill 2.7 drops an annotation with ``|`` or ``...`` and the parameter with it).

Each value is the one that runs the demo (so the notebooks run as they are in JupyterLab and
under nbval); where the package default differs, the line's help ends with
``(package default: X)``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .params import check_value, validate_params

#: Type (as papermill reads it) and one help line for every line of the parameters cell, in
#: the cell's order: every params key, then ``output_dir`` (where the notebook writes metrics).
NOTEBOOK_PARAMETERS: dict[str, tuple[str, str]] = {
    "client": ("str", "run name: the output folder reports/<client>/"),
    "events": ("str", "event log: CSV or Parquet file or glob, relative to the project root"),
    "users": ("Optional[str]", "users table (user_id, signup_at, segment columns); None to skip"),
    "columns": ("dict[str, str]", "your column names (keys not given keep their own name)"),
    "timezone": ("str", "time zone of timestamps written without an offset"),
    "observation_end": (
        "Optional[str]",
        "end of observation (a date means the end of that day); None means the last event",
    ),
    "signup_event": ("Optional[str]", "event marking signup; None means the first event of the user"),
    "value_events": ("list[str]", "events that mean the user reached first value"),
    "active_events": (
        "Optional[list[str]]",
        "events that count as activity; None means every event except signup_event",
    ),
    "churn_event": ("Optional[str]", "explicit churn event (e.g. cancelled); None means the inactivity rule"),
    "inactivity_days": ("float", "days without activity after which a user has churned"),
    "retention_days": ("list[int]", "days N of the day-N retention figures"),
    "onboarding_steps": (
        "list[Union[str, list[str]]]",
        "funnel steps, in order; a step may be a list of accepted event names",
    ),
    "conversion_window": (
        "Union[float, str]",
        'funnel window: days, or "<n> <unit>" (second, minute, hour, day, week, month of 31 days)',
    ),
    "conversion_window_days": (
        "Optional[float]",
        "older name of conversion_window, in days; None: not set (if both are set they must agree)",
    ),
    "segments": ("list[str]", "columns to compare groups by"),
    "filters": ("dict[str, Any]", 'keep only matching users, e.g. {"client": "acme"}'),
    "min_segment_size": ("int", 'groups smaller than this are pooled into "other"'),
    "min_cell_users": ("int", "cohort cells with fewer eligible users are left empty"),
    "rmst_horizon_days": ("float", "horizon of the restricted mean lifetime"),
    "change_date": ("Optional[str]", "date of an onboarding change to evaluate; None if none"),
    "show_identifiers": ("bool", "list user/account ids in the report (never in shared reports)"),
    "lifetime_censoring": (
        "str",
        '"observable" (unbiased) or "observation_end" (censored at the observation end: biased)',
    ),
    "funnel_mode": ("str", 'funnel mode: "ordered", "strict" or "any_order"'),
    "funnel_semantics": (
        "str",
        'funnel rules: "onboarding" (window from signup) or "posthog" (PostHog\'s rules)',
    ),
    "prompts": ("dict[str, dict[str, str]]", "tours/prompts: shown and engaged events"),
    "feature_events": ("list[str]", "features whose adoption is measured"),
    "adoption_days": ("int", "feature adoption window, in days after signup"),
    "p_adjust": ("str", 'multiple-testing correction: "holm" or "fdr_bh" (Benjamini-Hochberg)'),
    "reference_groups": ("dict[str, str]", "reference group per segment; a segment not listed uses its largest group"),
    "landmark_days": ("int", "early behaviours: day L of the landmark analysis"),
    "top_early_events": ("int", "early behaviours: how many of the most frequent events to test"),
    "compression_grid_hours": (
        "Optional[float]",
        "round durations to this grid before fitting (None: exact)",
    ),
    "engine": ("str", 'engine of the user-facts step: "duckdb" or "spark"'),
    "moment_early_days": ("int", "moments of truth: the early period (days after signup)"),
    "crisis_top_quantile": ("float", "crisis: early activity in the top quartile"),
    "crisis_recent_days": ("int", "crisis: the recent period before the observation end"),
    "crisis_drop_ratio": ("float", "crisis: recent activity below this share of the early rate"),
    "relationship_days": ("int", "relationship change: days after completing onboarding"),
    "relationship_max_active_days": ("int", "relationship change: at most this many active days then"),
    "win_speed_quantile": ("float", "unexpected win: faster to value than this share of converters"),
    "wow_features": ("int", "unexpected win: features adopted in the first week"),
    "revenue_event": (
        "Optional[str]",
        "event carrying MRR in the value column (None: no revenue section)",
    ),
    "currency": (
        "Optional[str]",
        'currency of revenue amounts, e.g. "EUR" or "$" (None: amounts without a unit)',
    ),
    "churn_scenarios": ("list[float]", "monthly net revenue churn rates to project"),
    "feedback_event": (
        "Optional[str]",
        "event carrying a score in the value column (None: no feedback section)",
    ),
    "score_scale": ("str", '"nps" (0-10) or "csat" (1-5)'),
    "readiness_max_excluded_share": ("float", "readiness: data quality passes below this excluded share"),
    "readiness_min_eligible": ("int", "readiness: users needed for a measurable baseline"),
    "users_columns": (
        "Optional[dict[str, str]]",
        "the users table's column names, like columns; None means the same as columns",
    ),
    "observation_end_check": (
        "str",
        'observation_end far after the last event or before most of it: "error" or "warn"',
    ),
    "source": (
        "str",
        'shape of events and users: "canonical" (your columns) or a vendor export '
        '("amplitude", "mixpanel", "posthog", "segment", "ga4")',
    ),
    "account_group": (
        "Optional[str]",
        'vendor exports: the group type whose group is the account, e.g. "company"',
    ),
    "mixpanel_project_timezone": (
        "Optional[str]",
        "Mixpanel projects created before 2023: the project time zone the export's times are in",
    ),
    "intercom_export": (
        "Optional[str]",
        "Intercom content data export beside the event log (tours, checklists as events); None to skip",
    ),
    "output_dir": (
        "Optional[str]",
        "folder for metrics.json (set by `onboarding-analysis run`); None means write nothing",
    ),
}

#: Lines of the cell that are not params keys (the notebooks' own parameters).
NOTEBOOK_ONLY = ("output_dir",)
#: Keys without a package default.
REQUIRED = ("events",)

_HEADER = """\
# Parameters: every params key with its type. Each value is the one that runs the demo
# (params/demo.yaml), so the notebook runs as it is; where the package's default (what a
# params file without that key gets) differs, the comment ends with (package default: X).
# `onboarding-analysis run params/<client>.yaml` (or `papermill ... -f params/<client>.yaml`)
# injects a client's values after this cell. Generated by `make params-cells` from
# onboarding_analysis/parameters_cell.py: edit there, not here.
from typing import Any, Optional, Union
"""


def package_defaults() -> dict[str, Any]:
    """Return the value every params key gets when a params file does not give it.

    Returns
    -------
    dict
        Key -> YAML-native default (lists, dicts, ``None``), for every key but the required
        ``events``; ``output_dir`` is ``None``. ``conversion_window_days`` is ``None`` ("not
        set": it then follows ``conversion_window``).
    """
    defaults = validate_params({"events": "required"}).as_notebook_parameters()
    defaults["conversion_window_days"] = None
    defaults["output_dir"] = None
    for key in REQUIRED:
        del defaults[key]
    return defaults


def parameters_cell_source(demo: Mapping[str, Any]) -> str:
    """Return the text of the notebooks' ``parameters`` cell.

    Parameters
    ----------
    demo : Mapping
        The demo's params (``params/demo.yaml`` as read by ``yaml.safe_load``): the values
        the cell holds; keys it does not give hold the package default.

    Returns
    -------
    str
        The cell's source: the header comments, the typing import, then one line
        ``key: type = value  # help`` per entry of :data:`NOTEBOOK_PARAMETERS`, the help
        ending with ``(package default: X)`` where the package default gives another run.

    Raises
    ------
    ValueError
        ``demo`` gives a key the cell does not have, or omits a required key.
    """
    unknown = sorted(set(demo) - set(NOTEBOOK_PARAMETERS))
    missing = [key for key in REQUIRED if key not in demo]
    if unknown or missing:
        raise ValueError(f"demo params: keys {unknown} are not params keys; required keys {missing} are missing")
    defaults = package_defaults()
    lines = [_HEADER.rstrip("\n")]
    for key, (annotation, text) in NOTEBOOK_PARAMETERS.items():
        value = _native(demo[key]) if key in demo else defaults[key]
        if key in REQUIRED:
            text += " (required: no package default)"
        elif key not in NOTEBOOK_ONLY and _normalised(key, value) != _normalised(key, defaults[key]):
            text += f" (package default: {python_literal(defaults[key])})"
        lines.append(f"{key}: {annotation} = {python_literal(value)}  # {text}")
    return "\n".join(lines)


def write_parameters_cells(notebook_dir: str | Path, demo_params: str | Path) -> list[str]:
    """Rewrite the ``parameters`` cell of every notebook of a folder from :func:`parameters_cell_source`.

    Only the source of the cell tagged ``parameters`` changes; the rest of the notebook's JSON
    (outputs, metadata, formatting) is written back byte for byte as nbformat writes it.

    Parameters
    ----------
    notebook_dir : str or Path
        The folder of the notebooks (``notebooks/``).
    demo_params : str or Path
        The demo's params file (``params/demo.yaml``).

    Returns
    -------
    list of str
        The names of the notebooks whose cell changed.

    Raises
    ------
    ValueError
        A notebook has no cell tagged ``parameters``, or more than one.
    """
    demo = yaml.safe_load(Path(demo_params).read_text(encoding="utf-8"))
    lines = parameters_cell_source(demo).splitlines(keepends=True)
    changed = []
    for path in sorted(Path(notebook_dir).glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        if len(cells) != 1:
            raise ValueError(f"{path}: {len(cells)} cells tagged 'parameters'; expected exactly one")
        if cells[0]["source"] != lines:
            cells[0]["source"] = lines
            path.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            changed.append(path.name)
    return changed


def python_literal(value: Any) -> str:
    """Return a YAML-native value as the Python literal the cell holds (strings in double quotes).

    Parameters
    ----------
    value : str, int, float, bool, None, list or dict
        The value.

    Returns
    -------
    str
        ``"demo"``, ``30``, ``None``, ``["a", "b"]``, ``{"k": "v"}``.

    Raises
    ------
    TypeError
        A value of another type.
    """
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no literal for {value!r} ({type(value).__name__})")


def _native(value: Any) -> Any:
    """Return a value read from YAML with its dates as ISO strings (what the cell holds)."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_native(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _native(v) for k, v in value.items()}
    return value


def _normalised(key: str, value: Any) -> Any:
    """Return the value as the run reads it, to tell whether the demo's value differs from the default."""
    return check_value(key, value)


__all__ = [
    "NOTEBOOK_PARAMETERS",
    "package_defaults",
    "parameters_cell_source",
    "python_literal",
    "write_parameters_cells",
]


if __name__ == "__main__":  # `make params-cells`: python -m onboarding_analysis.parameters_cell NOTEBOOKS DEMO
    folder, demo_file = sys.argv[1:3] if len(sys.argv) == 3 else ("notebooks", "params/demo.yaml")
    for name in write_parameters_cells(folder, demo_file):
        print(f"{folder}/{name}: parameters cell rewritten")
