"""Planning a batch: which runs, with which names and params overrides.

:func:`plan_runs` turns params files into :class:`RunSpec` (one per file), or fans one file out
over the values of a column found in the data (:func:`discover_values`): each value becomes
one run with the filter ``{column: value}`` added, named after the value for ``per="client"``,
else ``<client>-<column>-<value>``, made safe for a folder name (:func:`run_name`).
:mod:`onboarding_analysis.report.batch` runs them.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataWarning, OnboardingAnalysisError, ParamsError
from ..params import Params, load_params
from .naming import ascii_text, unique_name

_NAME_MAX = 100  # params ``client``: at most 100 characters
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class RunSpec:
    """One run of a batch: a params file, the run name (its folder) and params overrides.

    ``problem`` is set when the run cannot start (its params file is missing or invalid): the
    run then fails with that message without executing anything.
    """

    name: str
    params_path: Path
    overrides: Mapping[str, Any] = field(default_factory=dict)
    problem: str | None = None


def plan_runs(params_paths: Sequence[str | os.PathLike[str]], *, per: str | None = None) -> list[RunSpec]:
    """The runs of a batch: one per params file, or one per value of ``per`` in one file.

    Parameters
    ----------
    params_paths : sequence of paths
        Params YAML files. With ``per``, exactly one.
    per : str, optional
        A column (a users-table column, else an events column; ``client`` maps through params
        ``columns`` like any filter): one run per value found in the data.

    Returns
    -------
    list of RunSpec
        In the order given (files) or of the sorted values (``per``).

    Raises
    ------
    ParamsError
        ``per`` with other than one file; with ``per``, an invalid params file, a column found
        nowhere or no values; two files naming the same ``client`` (their runs would share a
        folder). Without ``per``, a missing or invalid file is not raised: its run fails alone.
    DataError
        With ``per``, the data cannot be read.

    Examples
    --------
    >>> [s.name for s in plan_runs(["params/demo.yaml"], per="client")]   # doctest: +SKIP
    ['acme', 'globex', 'initech']
    >>> [s.name for s in plan_runs(["params/demo.yaml"], per="plan")]     # doctest: +SKIP
    ['demo-plan-enterprise', 'demo-plan-free', 'demo-plan-pro']
    """
    paths = [Path(p) for p in params_paths]
    if not paths:
        raise ParamsError("no params file given: name at least one, e.g. params/demo.yaml.")
    if per is not None:
        if len(paths) != 1:
            raise ParamsError(
                f"--per {per}: give exactly one params file to fan out (got {len(paths)}); "
                "or drop --per to run several params files as they are."
            )
        return _fan_out(paths[0], per)
    return _one_per_file(paths)


def _one_per_file(paths: list[Path]) -> list[RunSpec]:
    specs: list[RunSpec] = []
    owner: dict[str, Path] = {}
    for path in paths:
        try:
            params = load_params(path)
        except OnboardingAnalysisError as err:
            specs.append(RunSpec(name="", params_path=path, problem=str(err)))
            continue
        if params.client in owner:
            raise ParamsError(
                f"{owner[params.client]} and {path} both have client '{params.client}': their runs "
                f"would write the same folder. Give each params file its own client name."
            )
        owner[params.client] = path
        specs.append(RunSpec(name=params.client, params_path=path))
    # Runs whose params cannot be read are named after the file (made unique).
    taken = set(owner)
    for i, spec in enumerate(specs):
        if spec.problem is not None:
            name = _unique_run_name(sanitize_name(spec.params_path.stem), taken)
            taken.add(name)
            specs[i] = dataclasses.replace(spec, name=name)
    return specs


def _fan_out(path: Path, column: str) -> list[RunSpec]:
    params = load_params(path)
    values = discover_values(params, column)
    existing = {key: list(allowed) for key, allowed in params.filters.items()}
    if column in existing:  # the file already restricts the column: keep its values only
        allowed = {str(v) for v in existing[column]}
        values = [v for v in values if v in allowed]
    if not values:
        raise ParamsError(
            f"{params.where}: --per {column}: no value of column '{column}' found in the data"
            + (f" among the file's filters {existing[column]}" if column in existing else "")
            + ". Check the data or the column name."
        )
    specs, taken = [], set()
    for value in values:
        name = _unique_run_name(run_name(params, column, value), taken)
        taken.add(name)
        overrides = {"client": name, "filters": existing | {column: [value]}}
        specs.append(RunSpec(name=name, params_path=path, overrides=overrides))
    return specs


def discover_values(params: Params, column: str) -> list[str]:
    """The distinct non-null values of ``column`` in the data of ``params``, sorted, as text.

    The column is looked up like a segment: in the users table when it has the column, else
    in the usable events (rows with a user id, an event name and a timestamp up to the
    observation end). DuckDB reads the files; nothing is loaded into pandas. Users without a
    value (NULL) fall in no fanned-out run.


    Parameters
    ----------
    params : Params
        The run's params (data files, column mapping, filters).
    column : str
        The column to fan out over.

    Returns
    -------
    list of str
        The values, sorted.

    Raises
    ------
    ParamsError
        The column is in neither the users table nor the events.
    DataError
        The files cannot be read.
    """
    from ..data.loading import load
    from ..data.sql import quote_ident

    if not column or not isinstance(column, str):
        raise ParamsError(f"--per: expected a column name, got {column!r}.")
    probe = (
        params
        if column in params.segments
        else dataclasses.replace(params, segments=(*params.segments, column))
    )
    with warnings.catch_warnings():  # excluded rows are the run's business: its report counts them
        warnings.simplefilter("ignore", DataWarning)
        source = load(probe)
    col = quote_ident(column)
    if source.users is not None and column in source.users.columns:
        sql = f"SELECT DISTINCT {col} FROM users WHERE {col} IS NOT NULL"
    else:
        sql = f"SELECT DISTINCT {col} FROM events WHERE {col} IS NOT NULL AND reason IS NULL"
    try:
        rows = source.con.raw_sql(sql).fetchall()
    finally:
        source.con.disconnect()
    return sorted(str(row[0]) for row in rows if str(row[0]).strip())


def run_name(params: Params, column: str, value: str) -> str:
    """The run name of one fanned-out value: the value for ``client``, else ``<client>-<column>-<value>``.

    Made safe for a folder name with :func:`sanitize_name`.


    Parameters
    ----------
    params : Params
        The fanned-out file's params (its ``client``).
    column : str
        The ``--per`` column.
    value : str
        One value of it.

    Returns
    -------
    str
        A valid ``client`` name.

    Examples
    --------
    >>> from onboarding_analysis.params import validate_params
    >>> p = validate_params({"events": "e.csv", "client": "demo"})
    >>> run_name(p, "client", "acme"), run_name(p, "plan", "Pro / Annual")
    ('acme', 'demo-plan-Pro_Annual')
    """
    return sanitize_name(value if column == "client" else f"{params.client}-{column}-{value}")


def sanitize_name(text: str) -> str:
    """Make ``text`` a valid run name (params ``client``): letters, digits, ``_ . -``.

    Accents are dropped, runs of other characters become ``_``, leading characters other than
    a letter or digit are removed, and the name is cut to 100 characters.


    Parameters
    ----------
    text : str
        Any text, e.g. a column value or a file name.

    Returns
    -------
    str
        The run name; ``"run"`` when nothing usable is left.

    Examples
    --------
    >>> sanitize_name("Café Inc."), sanitize_name("../etc/passwd"), sanitize_name("???")
    ('Cafe_Inc.', 'etc_passwd', 'run')
    """
    name = _UNSAFE.sub("_", ascii_text(text).strip())
    name = re.sub(r"^[^A-Za-z0-9]+", "", name)[:_NAME_MAX]
    return name or "run"


def _unique_run_name(name: str, taken: set[str]) -> str:
    return unique_name(name, taken, max_length=_NAME_MAX)

__all__ = ["RunSpec", "discover_values", "plan_runs", "run_name", "sanitize_name"]
