"""Record the headline numbers of a run in ``metrics.json``, the machine-readable output.

A report run executes several notebooks into one output folder; each notebook (or the package
function it calls) adds its keys with :func:`record_metrics`, which deep-merges them into
``<output_dir>/metrics.json``. Values are converted to strict JSON: numpy scalars and arrays
become Python numbers and lists, missing values (``None``, NaN, ``pd.NA``, ``NaT``) and
infinities become ``null``, dates become ISO strings. The file never contains ``NaN``, so any
JSON reader can load it.

Examples
--------
>>> import numpy as np
>>> record_metrics(None, {"retention": {"day_7": np.float64(0.25), "day_30": np.nan}})
{'retention': {'day_7': 0.25, 'day_30': None}}
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OnboardingAnalysisError
from .atomic_write import write_text_atomic

#: File name of the metrics of a run, inside the run's output folder.
METRICS_FILE = "metrics.json"


class MetricsError(OnboardingAnalysisError, ValueError):
    """An existing ``metrics.json`` cannot be read (not JSON, or not a JSON object)."""


def record_metrics(output_dir: str | os.PathLike[str] | None, *parts: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``parts`` into ``output_dir/metrics.json`` and return the merged metrics.

    Parameters
    ----------
    output_dir : str, path or None
        The run's output folder (created if missing). ``None`` (a notebook run interactively,
        outside a report run) writes nothing and returns the merge of ``parts`` alone.
    *parts : Mapping
        Nested mappings of metric names to values. Later parts, and later calls, add keys and
        override existing values; nested mappings are merged key by key, any other value
        (including lists) replaces the previous one.

    Returns
    -------
    dict
        The merged metrics as written: JSON-ready plain Python data.

    Raises
    ------
    TypeError
        A value cannot be stored in JSON (a DataFrame, a timedelta, an arbitrary object); the
        message names the key path.
    MetricsError
        The existing ``metrics.json`` is not a JSON object.

    Notes
    -----
    The file is written atomically (a temporary file in the same folder, then
    :func:`os.replace`), so a reader never sees a half-written file. Writers to the same folder
    (the notebooks of one run, executed in parallel) take turns: an exclusive lock on the
    folder covers each read-merge-write, so no part is lost.

    Examples
    --------
    >>> record_metrics(None, {"a": {"x": 1}}, {"a": {"y": [1.5, float("inf")]}})
    {'a': {'x': 1, 'y': [1.5, None]}}
    """
    for number, part in enumerate(parts):
        if not isinstance(part, Mapping):
            raise TypeError(
                f"record_metrics: part {number} is a {type(part).__name__}; pass mappings of "
                "metric names to values, e.g. {'retention': {'day_7': 0.31}}."
            )
    new = [to_jsonable(part) for part in parts]
    merged: dict[str, Any] = {}
    if output_dir is None:
        for part in new:
            _deep_merge(merged, part)
        return merged
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with _folder_lock(folder):  # notebooks of one run may record at the same time
        path = folder / METRICS_FILE
        if path.exists():
            merged = read_metrics(path)
        for part in new:
            _deep_merge(merged, part)
        _write_atomic(folder, merged)
    return merged


@contextlib.contextmanager
def _folder_lock(folder: Path):
    """An exclusive lock on ``folder`` itself (no lock file left behind).

    Read-merge-write of ``metrics.json`` by one writer at a time.
    """
    import fcntl

    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # releases the lock


def read_metrics(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``metrics.json`` file (or the ``metrics.json`` inside the folder ``path``).

    Parameters
    ----------
    path : path
        A ``metrics.json`` file or a run folder.

    Returns
    -------
    dict
        The metrics.

    Raises
    ------
    FileNotFoundError
        There is no such file.
    MetricsError
        The file is not valid JSON (``NaN`` and ``Infinity`` included: the file is strict
        JSON, as written by :func:`record_metrics`) or not a JSON object.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = record_metrics(folder, {"run": {"client": "demo"}})
    ...     read_metrics(folder)
    {'run': {'client': 'demo'}}
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: metrics file not found (has the run finished?)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, _NonStandardConstant) as err:
        raise MetricsError(
            f"{path}: not valid JSON ({err}). Delete the file and run the report again."
        ) from err
    if not isinstance(data, dict):
        raise MetricsError(
            f"{path}: expected a JSON object of metrics, got {type(data).__name__}. "
            "Delete the file and run the report again."
        )
    return data


class _NonStandardConstant(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity`` in a metrics file: not JSON (RFC 8259)."""


def _reject_constant(token: str) -> Any:
    raise _NonStandardConstant(f"the non-standard constant {token} is not JSON; missing values are null")


def to_jsonable(value: Any, *, key: str = "") -> Any:
    """Convert ``value`` to plain JSON data: dicts, lists, str, int, float, bool, None.

    Missing values and infinities become ``None``; numpy scalars and arrays, pandas Series and
    Index, tuples and sets become Python values and lists; dates and timestamps become ISO
    strings. ``key`` is the key path used in error messages.


    Parameters
    ----------
    value : Any
        What a notebook records.
    key : str, optional
        Where ``value`` sits in the metrics (dotted), named in errors.

    Returns
    -------
    Any
        The same data as plain JSON types.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> to_jsonable({"n": np.int64(3), "share": pd.NA, "days": np.array([1.0, np.inf])})
    {'n': 3, 'share': None, 'days': [1.0, None]}
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {_key(k, key): to_jsonable(v, key=_join(key, k)) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        raise TypeError(
            f"metrics key {key!r}: cannot store a DataFrame in metrics.json; store headline "
            "numbers, or convert it with df.to_dict(orient='records') first."
        )
    if isinstance(value, pd.Series):
        return {_key(k, key): to_jsonable(v, key=_join(key, k)) for k, v in value.items()}
    if isinstance(value, np.ndarray | pd.Index | list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        return [to_jsonable(v, key=f"{key}[{i}]") for i, v in enumerate(items)]
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, dt.date | dt.datetime):  # pd.Timestamp is a datetime
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dt.timedelta | np.timedelta64):
        raise TypeError(
            f"metrics key {key!r}: cannot store a duration ({value!r}); convert it to a number "
            "of days first, e.g. value / pd.Timedelta(days=1)."
        )
    raise TypeError(
        f"metrics key {key!r}: cannot store a {type(value).__name__} ({value!r:.80}) in "
        "metrics.json; convert it to a number, string, list or dict first."
    )


def _key(name: Any, where: str) -> str:
    if isinstance(name, str):
        return name
    if isinstance(name, int | float | bool | np.integer | np.floating | np.bool_):
        return str(to_jsonable(name))
    raise TypeError(f"metrics key {where!r}: keys must be strings or numbers, got {name!r}.")


def _join(prefix: str, name: Any) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def _deep_merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for name, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(name), dict):
            _deep_merge(into[name], value)
        else:
            into[name] = value


def _write_atomic(folder: Path, metrics: Mapping[str, Any]) -> None:
    text = json.dumps(metrics, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    write_text_atomic(folder / METRICS_FILE, text)


__all__ = ["METRICS_FILE", "MetricsError", "read_metrics", "record_metrics", "to_jsonable"]
