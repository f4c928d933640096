"""Onboarding engagement per user: prompts and tours, feature adoption and stickiness.

Every function takes a :class:`~onboarding_analysis.data.facts.Facts` object (stickiness also
its user-facts table). Aggregation over events runs in the query engine as ibis expressions over
``facts.events`` (the used events, ``t0 <= ts <= T``); only small results reach pandas: one row
per user or per prompt and feature. Active users over calendar time (DAU/MAU, lifecycle) are in
:mod:`~onboarding_analysis.analyses.active_users`, the figures in
:mod:`~onboarding_analysis.analyses.engagement_plots`.

Definitions (docs/metrics.md, "Tour and prompt engagement", "Feature adoption" and "Stickiness
and DAU/MAU"; tests/test_engagement.py checks each on hand-made logs):

- **Prompt rate** (:func:`prompt_rates`): ``shown`` = users with at least one ``shown`` event;
  ``engaged`` = users with an ``engaged`` event *at or after* their first ``shown`` event. A tie
  (same timestamp) counts as engaged: exports often stamp both events with the same second. An
  ``engaged`` event with no ``shown`` event before it (or at all) is ignored.
- **Feature adoption** (:func:`feature_adoption`): among users eligible at day N
  (``age_days >= N``: all of ``[0, N)`` observed), the share with the feature event at a
  duration ``< N`` days (day indices ``0 .. N-1``). An event at exactly ``N x 24h`` is outside.
- **Stickiness** (:func:`stickiness`): per user, the number of active day indices ``0 .. D-1``
  (D = 30) read from ``active_days_mask``; users with ``age_days >= D`` only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..absence import add_note
from ..data import columns as C
from ..params import check_value
from ..stats.finite import finite_or_none
from ..stats.intervals import check_alpha, wilson_interval
from .facts_inputs import facts_events, facts_table, whole_number

__all__ = [
    "ADOPTION_COLUMNS",
    "PROMPT_COLUMNS",
    "engagement_metrics",
    "feature_adoption",
    "prompt_rates",
    "stickiness",
    "stickiness_summary",
]

#: Columns of :func:`prompt_rates`.
PROMPT_COLUMNS = ["prompt", "shown", "engaged", "rate", "ci_low", "ci_high"]
#: Columns of :func:`feature_adoption`.
ADOPTION_COLUMNS = ["feature", "days", "eligible", "adopted", "rate", "ci_low", "ci_high"]


# --- validation helpers ------------------------------------------------------------------------


def _names(values: object, name: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Iterable) or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"{name} must be a list of event names, but was {values!r}")
    return list(dict.fromkeys(values))


def _rates(successes: np.ndarray, n: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    successes = np.asarray(successes, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    low, high = wilson_interval(successes, n, alpha=alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, successes / np.where(n > 0, n, 1), np.nan)
    return {"rate": rate.astype(float), "ci_low": np.asarray(low), "ci_high": np.asarray(high)}


# --- prompts -----------------------------------------------------------------------------------


def prompt_rates(
    facts: Any, prompts: Mapping[str, Mapping[str, str]] | None = None, *, alpha: float = 0.05
) -> pd.DataFrame:
    """Prompt or tour interaction: users engaged after being shown, over users shown.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.compute_facts`.
    prompts : mapping, optional
        ``{name: {"shown": event, "engaged": event}}``; params ``prompts`` by default.
    alpha : float, default 0.05
        One minus the confidence level of the Wilson interval.

    Returns
    -------
    pandas.DataFrame
        One row per prompt: ``prompt, shown, engaged, rate, ci_low, ci_high``. ``rate`` and the
        interval are NaN for a prompt nobody was shown.

    Notes
    -----
    ``shown``: users with at least one ``shown`` event. ``engaged``: users with an ``engaged``
    event at or after their *first* ``shown`` event; an ``engaged`` event at the same timestamp
    as the first ``shown`` counts (ties count as engaged). ``engaged`` events of users never
    shown the prompt, or only before it was first shown, are ignored. One engine query for all
    prompts: per user the first ``shown`` and the last ``engaged`` time, then two counts.

    Examples
    --------
    >>> import onboarding_analysis as oa                                      # doctest: +SKIP
    >>> prompt_rates(oa.compute_facts(oa.load_params("params/demo.yaml")))    # doctest: +SKIP
    """
    alpha = check_alpha(alpha)
    prompts = check_value("prompts", facts.params.prompts if prompts is None else prompts)
    if not prompts:
        return pd.DataFrame(
            {col: pd.Series(dtype=object if col == "prompt" else float) for col in PROMPT_COLUMNS}
        )
    e = facts_events(facts, "prompt_rates")
    per_user_agg = {}
    for i, pair in enumerate(prompts.values()):
        per_user_agg[f"first_shown_{i}"] = e.ts.min(where=e.event == pair["shown"])
        per_user_agg[f"last_engaged_{i}"] = e.ts.max(where=e.event == pair["engaged"])
    per_user = e.group_by("user_id").aggregate(**per_user_agg)
    counts_agg = {}
    for i in range(len(prompts)):
        shown_at, engaged_at = per_user[f"first_shown_{i}"], per_user[f"last_engaged_{i}"]
        counts_agg[f"shown_{i}"] = per_user.count(where=shown_at.notnull())
        # last engaged >= first shown  <=>  some engaged event at or after the first shown one
        counts_agg[f"engaged_{i}"] = per_user.count(where=shown_at.notnull() & (engaged_at >= shown_at))
    counts = per_user.aggregate(**counts_agg).to_pandas().iloc[0]
    shown = np.array([int(counts[f"shown_{i}"]) for i in range(len(prompts))], dtype=np.int64)
    engaged = np.array([int(counts[f"engaged_{i}"]) for i in range(len(prompts))], dtype=np.int64)
    return pd.DataFrame(
        {"prompt": list(prompts), "shown": shown, "engaged": engaged, **_rates(engaged, shown, alpha)}
    )


# --- feature adoption --------------------------------------------------------------------------


def feature_adoption(
    facts: Any, features: Iterable[str] | None = None, *, days: int | None = None, alpha: float = 0.05
) -> pd.DataFrame:
    """Share of users eligible at day N who used each feature within ``[0, N)`` days.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.compute_facts`.
    features : list of str, optional
        Feature event names; params ``feature_events`` by default.
    days : int, optional
        N; params ``adoption_days`` (default 30) by default.
    alpha : float, default 0.05
        One minus the confidence level of the Wilson interval.

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``feature, days, eligible, adopted, rate, ci_low, ci_high``.

    Notes
    -----
    Eligible: ``age_days >= N`` (the whole window ``[0, N)`` is observed; younger users leave
    the denominator). Adopted: an eligible user with the feature event at a duration
    ``(ts - t0) / 24h < N``; an event at exactly ``N x 24h`` is day N, outside the window. The
    engine returns one row per user who used a feature early (a flag per feature); eligibility
    is read from the user-facts table.

    Examples
    --------
    >>> import onboarding_analysis as oa                                      # doctest: +SKIP
    >>> facts = oa.compute_facts(oa.load_params("params/demo.yaml"))          # doctest: +SKIP
    >>> feature_adoption(facts, ["used_dashboard"], days=14)                  # doctest: +SKIP
    """
    alpha = check_alpha(alpha)
    n_days = whole_number(facts.params.adoption_days if days is None else days, "days", minimum=1)
    names = _names(facts.params.feature_events if features is None else features, "features")
    table = facts_table(facts, [C.USER_ID, C.AGE], "feature_adoption")
    if not names:
        return pd.DataFrame(
            {col: pd.Series(dtype=object if col == "feature" else float) for col in ADOPTION_COLUMNS}
        )
    e = facts_events(facts, "feature_adoption")
    early = e.filter((e.days < n_days) & e.event.isin(names))
    flags = {f"used_{i}": (early.event == name).any() for i, name in enumerate(names)}
    used = early.group_by("user_id").aggregate(**flags).to_pandas()
    used["user_id"] = used["user_id"].astype(str)

    eligible_ids = table.loc[table[C.AGE].to_numpy(dtype=float) >= n_days, C.USER_ID].astype(str)
    used = used[used["user_id"].isin(set(eligible_ids))]
    eligible = np.full(len(names), len(eligible_ids), dtype=np.int64)
    adopted = np.array([int(used[f"used_{i}"].fillna(False).astype(bool).sum()) for i in range(len(names))])
    return pd.DataFrame(
        {
            "feature": names,
            "days": n_days,
            "eligible": eligible,
            "adopted": adopted.astype(np.int64),
            **_rates(adopted, eligible, alpha),
        }
    )


# --- stickiness --------------------------------------------------------------------------------


def stickiness(facts: Any, *, days: int = 30) -> pd.DataFrame:
    """Active days within the first ``days`` days of each user old enough to have lived them.

    Parameters
    ----------
    facts : Facts or pandas.DataFrame
        The facts (or the user-facts table) with ``user_id``, ``age_days`` and
        ``active_days_mask``.
    days : int, default 30
        D: day indices ``0 .. D-1`` are counted; at most 63 (the bits of the mask).

    Returns
    -------
    pandas.DataFrame
        One row per user with ``age_days >= D``: ``user_id, active_days`` (0 .. D). The window
        length is kept in ``table.attrs["days"]``.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"user_id": ["a", "b"], "age_days": [30.0, 29.9],
    ...                       "active_days_mask": [0b1011 | (1 << 30), 0b1]})
    >>> stickiness(table).to_dict("records")     # bit 30 is day 30, outside days 0..29
    [{'user_id': 'a', 'active_days': 3}]
    """
    n_days = whole_number(days, "days", minimum=1, maximum=C.MASK_BITS)
    table = facts_table(facts, [C.USER_ID, C.AGE, C.DAYS_MASK], "stickiness")
    eligible = table[C.AGE].to_numpy(dtype=float) >= n_days
    mask = table.loc[eligible, C.DAYS_MASK].to_numpy(dtype=np.int64) & np.int64((1 << n_days) - 1)
    active_days = np.zeros(len(mask), dtype=np.int64)
    for k in range(n_days):
        active_days += (mask >> k) & 1
    out = pd.DataFrame(
        {"user_id": table.loc[eligible, C.USER_ID].astype(str).to_numpy(), "active_days": active_days}
    )
    out.attrs["days"] = n_days
    return out


def stickiness_summary(table: pd.DataFrame, *, thresholds: Iterable[int] = (1, 2, 7, 14)) -> pd.DataFrame:
    """One-row summary of :func:`stickiness`: users, mean, median and shares above thresholds.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`stickiness` (its ``attrs["days"]`` is the window).
    thresholds : iterable of int, default (1, 2, 7, 14)
        The k of the ``share_ge_<k>`` columns, whole numbers >= 1.

    Returns
    -------
    pandas.DataFrame
        Columns ``days, users, mean_active_days, median_active_days`` and ``share_ge_<k>`` (share
        of users with at least k active days) for every threshold. NaN where there is no user.

    Examples
    --------
    >>> import pandas as pd
    >>> summary = stickiness_summary(pd.DataFrame({"user_id": list("abcd"), "active_days": [0, 1, 2, 9]}))
    >>> summary[["users", "median_active_days", "share_ge_2", "share_ge_7"]].to_dict("records")
    [{'users': 4, 'median_active_days': 1.5, 'share_ge_2': 0.5, 'share_ge_7': 0.25}]
    """
    if not isinstance(table, pd.DataFrame) or "active_days" not in table.columns:
        raise ValueError("expected a table from stickiness() with an 'active_days' column")
    counts = table["active_days"].to_numpy(dtype=float)
    n = len(counts)
    row: dict[str, Any] = {
        "days": table.attrs.get("days", np.nan),
        "users": n,
        "mean_active_days": float(counts.mean()) if n else np.nan,
        "median_active_days": float(np.median(counts)) if n else np.nan,
    }
    for k in thresholds:
        k = whole_number(k, "thresholds entry", minimum=1)
        row[f"share_ge_{k}"] = float((counts >= k).mean()) if n else np.nan
    summary = pd.DataFrame([row])
    if n == 0:
        days = table.attrs.get("days")
        span = f"the first {days} days" if days is not None else "the stickiness window"
        add_note(
            summary,
            f"not computable: no user has been observed for {span} since signup yet; users not "
            "observed long enough are left out, never counted as inactive",
        )
    return summary


# --- headline numbers --------------------------------------------------------------------------


def _count(value: object) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def engagement_metrics(
    prompts_table: pd.DataFrame | None, adoption_table: pd.DataFrame | None
) -> dict[str, dict]:
    """The ``engagement`` section of metrics.json: plain numbers, ``None`` where missing.

    Parameters
    ----------
    prompts_table : pandas.DataFrame or None
        Output of :func:`prompt_rates`; None when no prompt is configured.
    adoption_table : pandas.DataFrame or None
        Output of :func:`feature_adoption`; None when no feature is configured.

    Returns
    -------
    dict
        ``{"prompts": {name: {"shown", "engaged", "rate"}},
        "adoption": {feature: {"rate", "ci_low", "ci_high", "eligible"}}}``.

    Examples
    --------
    >>> import pandas as pd
    >>> prompts = pd.DataFrame({"prompt": ["tour"], "shown": [0], "engaged": [0], "rate": [float("nan")],
    ...                         "ci_low": [float("nan")], "ci_high": [float("nan")]})
    >>> engagement_metrics(prompts, None)
    {'prompts': {'tour': {'shown': 0, 'engaged': 0, 'rate': None}}, 'adoption': {}}
    """
    return {
        "prompts": _by_name(prompts_table, "prompt", _PROMPT_FIELDS),
        "adoption": _by_name(adoption_table, "feature", _ADOPTION_FIELDS),
    }


#: The keys of each prompt and feature in :func:`engagement_metrics`, and how each is converted.
_PROMPT_FIELDS = {"shown": _count, "engaged": _count, "rate": finite_or_none}
_ADOPTION_FIELDS = {
    "rate": finite_or_none,
    "ci_low": finite_or_none,
    "ci_high": finite_or_none,
    "eligible": _count,
}


def _by_name(table: pd.DataFrame | None, name: str, fields: dict[str, Any]) -> dict[str, dict]:
    """Per row of ``table`` (none when it is None), keyed by its ``name`` column: ``fields`` converted."""
    if table is None:
        return {}
    return {
        str(getattr(row, name)): {key: convert(getattr(row, key)) for key, convert in fields.items()}
        for row in table.itertuples(index=False)
    }
