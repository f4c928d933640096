"""Per-user onboarding step times, computed in the query engine: :func:`step_times`.

The steps are params ``onboarding_steps`` (an ordered list; a step may accept several event
names), the window is ``conversion_window`` (``conversion_window_days`` in days) and the mode
``funnel_mode``. The rules below are those of ``funnel_semantics: onboarding`` (the default);
PostHog's are in :mod:`~onboarding_analysis.analyses.funnel_posthog`, and docs/funnels.md
compares the two. The funnel table built from these times is
:func:`~onboarding_analysis.analyses.funnel.compute_funnel`; where users stop
(:mod:`~onboarding_analysis.analyses.journey`), completion per segment and the moments of truth
read the same times.

Step times are computed over :attr:`Facts.events <onboarding_analysis.data.facts.Facts.events>`
(the used events, ``t0 <= ts <= T``), one ibis join per step; only one row per user reaches
pandas. A step counts only if it is reached *within the window*: duration since ``t0`` strictly
below ``window_days`` ("within N days" means a duration ``< N``, docs/metrics.md,
"Conventions"), so an event at exactly ``window_days`` is outside.

The modes:

``ordered`` (default)
    Step 0 is reached at the first step-0 event in the window. Step ``j > 0`` is reached at the
    first step-``j`` event whose timestamp is *at or after* the time step ``j-1`` was reached
    (tie rule: events with the same timestamp count as in order, so a step ``j-1`` and a step
    ``j`` event logged at the same instant reach both). Events before that time do not count,
    and a repeat of an earlier step changes nothing: only the first qualifying occurrence
    counts.
``strict``
    As ``ordered``, and then: let ``r`` be the time step ``j-1`` was reached (its *first*
    qualifying occurrence; a later repeat of step ``j-1`` does not restart it) and ``c`` the
    first step-``j`` event at or after ``r``. If any event whose name belongs to another
    funnel step (any step other than ``j-1`` and ``j``, earlier or later, by name) occurs
    strictly between them, ``r < ts < c``, the user stops at step ``j-1``: no later step is
    reached. Events at exactly ``r`` or ``c`` do not interrupt, nor do events that are not
    funnel events, nor repeats of steps ``j-1`` and ``j``.
``any_order``
    Each step's time is its first event in the window, in any order; a user has reached
    "step ``j``" when steps ``0..j`` all occurred, at the latest of those first times.

An event name accepted by two steps serves both: in ``ordered`` mode a single such event can
reach two consecutive steps at once, and in ``strict`` mode it is never an interruption of a
step that accepts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError
from .funnel_steps import Steps, funnel_options, step_column

__all__ = ["step_times"]


# --- engine side: per-user step times ----------------------------------------------------------


def _first(rel):
    """Per user: first timestamp and duration (days since t0) of the rows of ``rel``."""
    return rel.group_by("user_id").aggregate(ts=rel.ts.min(), days=rel.days.min())


def _sequential_expr(base, steps: Steps, strict: bool) -> list:
    """Per step, the ibis table ``user_id, ts, days`` of the users reaching it (ordered/strict)."""
    all_names = set().union(*steps)
    reached = []
    for j, names in enumerate(steps):
        cand = base.filter(base.event.isin(list(names)))
        if j == 0:
            reached.append(_first(cand))
            continue
        prev = reached[-1]
        prev = prev.select("user_id", prev_ts=prev.ts)
        joined = cand.inner_join(prev, "user_id")
        joined = joined.filter(joined.ts >= joined.prev_ts)  # tie rule: same instant is in order
        step = joined.group_by("user_id").aggregate(
            ts=joined.ts.min(), days=joined.days.min(), prev_ts=joined.prev_ts.max()
        )
        others = sorted(all_names - set(names) - set(steps[j - 1]))
        if strict and others:
            other = base.filter(base.event.isin(others))
            other = other.select("user_id", other_ts=other.ts)
            window = step.select("user_id", "prev_ts", cand_ts=step.ts)
            hit = other.inner_join(window, "user_id")
            hit = hit.filter((hit.other_ts > hit.prev_ts) & (hit.other_ts < hit.cand_ts))
            step = step.anti_join(hit.select("user_id").distinct(), "user_id")
        reached.append(step.select("user_id", "ts", "days"))
    return reached


def _step_times_expr(events, steps: Steps, mode: str, window: float):
    """The ibis expression of :func:`step_times` for the users with at least one step event."""
    all_names = sorted(set().union(*steps))
    base = events.filter(events.event.isin(all_names) & (events.days < window))
    base = base.select("user_id", "event", "ts", "days")
    cols = [step_column(j) for j in range(len(steps))]
    if mode == "any_order":
        firsts = base.group_by("user_id").aggregate(
            **{
                f"first_{j}": base.days.min(where=base.event.isin(list(names)))
                for j, names in enumerate(steps)
            }
        )
        out = {}
        for j, col in enumerate(cols):
            parts = [firsts[f"first_{i}"] for i in range(j + 1)]
            missing = parts[0].isnull()
            for part in parts[1:]:
                missing = missing | part.isnull()
            # DuckDB's GREATEST skips NULLs: a step not yet done must make the whole prefix NULL.
            latest = parts[0] if j == 0 else ibis.greatest(*parts)
            out[col] = ibis.ifelse(missing, ibis.null("float64"), latest.cast("float64"))
        return firsts.select("user_id", **out)
    reached = _sequential_expr(base, steps, strict=mode == "strict")
    out = reached[0].select("user_id", **{cols[0]: reached[0].days})
    for j in range(1, len(steps)):
        step = reached[j].select(uid_=reached[j].user_id, **{cols[j]: reached[j].days})
        joined = out.left_join(step, out.user_id == step.uid_)
        out = joined.select("user_id", *cols[: j + 1])
    return out


def step_times(
    facts: Facts,
    steps: Sequence[str | Sequence[str]] | None = None,
    *,
    mode: str | None = None,
    window_days: float | None = None,
) -> pd.DataFrame:
    """Per user, when each onboarding step was reached (fractional days since signup).

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`; its ``events`` (an ibis
        table of the used events) is where the steps are found.
    steps : sequence, optional
        The steps in order, each an event name or a sequence of accepted event names. Default:
        params ``onboarding_steps``.
    mode : {"ordered", "strict", "any_order"}, optional
        Default: params ``funnel_mode``. The rules are in the module docstring.
    window_days : float, optional
        Only steps reached at a duration ``< window_days`` count. Default: params
        ``conversion_window_days``.

    Returns
    -------
    pandas.DataFrame
        One row per user of ``facts.table``, in its order: ``user_id`` and ``step_<j>_days``
        for ``j = 0 .. k-1``, NaN where step ``j`` was not reached within the window. Reached
        steps always form a prefix ``0..J`` and their times never decrease.

    Raises
    ------
    ParamsError
        No steps configured, an unknown mode, or a window that is not a positive number.
    DataError
        ``facts`` carries no events table.

    Examples
    --------
    >>> import onboarding_analysis as oa                                  # doctest: +SKIP
    >>> facts = oa.compute_facts(oa.load_params("params/demo.yaml"))      # doctest: +SKIP
    >>> step_times(facts, ["signed_up", "created_report"], mode="ordered", window_days=14)  # doctest: +SKIP
    """
    steps, mode, window = funnel_options(facts, steps, mode, window_days)
    if facts.events is None:
        raise DataError("facts has no events table; build it with onboarding_analysis.compute_facts(params)")
    cols = [step_column(j) for j in range(len(steps))]
    per_user = _engine_step_times(facts.events, steps, mode, window)
    users = facts.table[C.USER_ID].astype(str).to_numpy()
    # A left join on the user id (one engine row per user): the position of each user's row,
    # -1 (the NaN appended last) for a user without one.
    found = pd.Index(per_user[C.USER_ID]).get_indexer(users)
    out = pd.DataFrame({C.USER_ID: users})
    for col in cols:
        out[col] = np.append(per_user[col].to_numpy(dtype="float64"), np.nan)[found]
    return out


#: Engine results of :func:`step_times` kept per events table (a report asks for the same step
#: times several times: funnel, where users stop, completion per segment, moments of truth).
_STEP_TIMES_MEMO: dict[tuple, tuple[Any, pd.DataFrame]] = {}
_STEP_TIMES_MEMO_SIZE = 8


def _engine_step_times(events, steps: Steps, mode: str, window: float) -> pd.DataFrame:
    """``user_id`` and the step columns of the users with a step event, computed once.

    One engine query per (events table, steps, mode, window); repeated calls read the kept result. The events table
    itself is kept with its result, so the key (its ``id``) cannot be reused by another one.

    When ``events`` are the shared used events of a report run
    (:func:`onboarding_analysis.report.notebook.share_events`), the result is also stored next to
    them (:func:`onboarding_analysis.data.cache.derived_path`): the first notebook of the run that
    needs the step times computes them, the others (funnel, segments, moments) read them.
    """
    key = (id(events), tuple(tuple(s) for s in steps), mode, float(window))
    hit = _STEP_TIMES_MEMO.get(key)
    if hit is not None and hit[0] is events:
        return hit[1].copy()
    per_user = _stored_step_times(events, steps, mode, window)
    if per_user is None:
        per_user = _step_times_expr(events, steps, mode, window).to_pandas()
    per_user[C.USER_ID] = per_user[C.USER_ID].astype(str)
    while len(_STEP_TIMES_MEMO) >= _STEP_TIMES_MEMO_SIZE:
        _STEP_TIMES_MEMO.pop(next(iter(_STEP_TIMES_MEMO)))
    _STEP_TIMES_MEMO[key] = (events, per_user)
    return per_user.copy()


def _stored_step_times(events, steps: Steps, mode: str, window: float) -> pd.DataFrame | None:
    """The step times of the shared used ``events``, from their stored file.

    The file is written first if missing; None when ``events`` are not shared or the file
    cannot be written or read.
    """
    from ..data import cache

    parts = {"steps": [list(s) for s in steps], "mode": mode, "window": float(window)}
    path = cache.derived_path(events, "steps", parts, Path(__file__))
    if path is None:
        return None
    try:
        cache.write_once(path, lambda tmp: _step_times_expr(events, steps, mode, window).to_parquet(tmp))
        return pd.read_parquet(path)
    except OSError:
        return None
