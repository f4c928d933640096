"""Where users stop: the last onboarding step and the last events of users who never got value.

The group studied ("stuck users") is every user who has not reached value (``value_days`` is
NaN: no ``value_events`` occurrence in ``[t0, T]``) although they were observed for the whole
conversion window (``age_days >= conversion_window_days``). Younger users may still convert;
they are left out rather than counted as stuck.

Event-level work runs in the query engine (ibis over ``facts.events``); one row per user
reaches pandas, where it is matched with the stuck group from the user-facts table.

Steps are the ordered funnel's (:func:`onboarding_analysis.analyses.funnel_times.step_times`, mode
``ordered``): step 0 is reached at the first step-0 event, step j at the first step-j event at
or after the time step j-1 was reached (a tie counts), all within the conversion window
(durations ``< conversion_window_days``), as in docs/metrics.md, "Where users stop".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..absence import add_note
from ..data import columns as C
from ..errors import DataError
from .facts_inputs import facts_events
from .funnel_steps import check_steps, step_column, step_label
from .funnel_times import step_times

__all__ = [
    "LAST_EVENTS_COLUMNS",
    "LAST_STEP_COLUMNS",
    "last_events",
    "last_step_reached",
    "last_two_events",
    "plot_where_users_stop",
    "stuck_users",
]

#: Columns of :func:`last_step_reached`.
LAST_STEP_COLUMNS = ["last_step", "step", "users", "share"]
#: Columns of :func:`last_events`.
LAST_EVENTS_COLUMNS = ["kind", "path", "previous", "event", "users", "share"]
#: Label of users without any step, without any event, and of the "previous" of a lone event.
NO_STEP = "none"
NO_EVENTS = "(no events)"
START = "(start)"
FINAL_EVENT = "final event"
FINAL_TRANSITION = "final transition"


def stuck_users(facts: Any) -> pd.Series:
    """User ids of the group studied here: no value yet, whole conversion window observed.

    Parameters
    ----------
    facts : Facts
        The facts whose table holds ``user_id``, ``age_days`` and ``value_days``.

    Returns
    -------
    pandas.Series
        The ids (str) of the users without value and with ``age_days >= conversion_window_days``.

    Raises
    ------
    TypeError
        ``facts`` is not a Facts object.
    DataError
        A needed user-facts column is missing.

    Examples
    --------
    >>> import onboarding_analysis as oa                                      # doctest: +SKIP
    >>> len(stuck_users(oa.compute_facts(oa.load_params("params/demo.yaml"))))  # doctest: +SKIP
    """
    table = getattr(facts, "table", None)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a Facts object from compute_facts, but got {type(facts)!r}")
    missing = [col for col in (C.USER_ID, C.AGE, C.VALUE) if col not in table.columns]
    if missing:
        raise DataError(
            f"the user-facts table lacks the column(s) {missing}; build it with compute_facts(params)"
        )
    window = float(facts.params.conversion_window_days)
    stuck = table[C.VALUE].isna().to_numpy() & (table[C.AGE].to_numpy(dtype=float) >= window)
    return table.loc[stuck, C.USER_ID].astype(str).reset_index(drop=True)


def last_step_reached(facts: Any, steps: Sequence[str | Sequence[str]] | None = None) -> pd.DataFrame:
    """Users who never reached value, by the last onboarding step they reached.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.compute_facts`.
    steps : list, optional
        Ordered steps, each an event name or a list of accepted names; params
        ``onboarding_steps`` by default.

    Returns
    -------
    pandas.DataFrame
        One row per possible last step, in step order, with ``last_step`` 0 for "no step" and
        ``j`` (1-based) for step j: ``last_step, step, users, share``. ``share`` is over the
        stuck users (see :func:`stuck_users`); NaN when there is none. Rows with no user are
        kept (``users == 0``) so the table always shows the whole path.

    Notes
    -----
    Ordered steps of :func:`onboarding_analysis.analyses.funnel_times.step_times` (ties count, so one event
    accepted by two consecutive steps reaches both), durations ``< conversion_window_days``.

    Examples
    --------
    >>> import onboarding_analysis as oa                                      # doctest: +SKIP
    >>> last_step_reached(oa.compute_facts(oa.load_params("params/demo.yaml")))  # doctest: +SKIP
    """
    steps_list = check_steps(facts.params.onboarding_steps if steps is None else steps)
    if not steps_list:
        raise ValueError(
            "last_step_reached needs onboarding steps: set params 'onboarding_steps' "
            "(e.g. [signed_up, completed_profile, created_report]) or pass steps="
        )
    stuck = stuck_users(facts)
    facts_events(facts, "last_step_reached")
    times = step_times(facts, steps_list, mode="ordered")
    # Ordered steps are reached as a prefix 0..J: the number reached is the last step (1-based).
    reached = times[[step_column(j) for j in range(len(steps_list))]].notna().sum(axis=1)
    last = pd.DataFrame({"user_id": times[C.USER_ID], "last_step": reached})
    last_by_user = pd.Series(last["last_step"].to_numpy(dtype=np.int64), index=last["user_id"].astype(str))
    values = last_by_user.reindex(stuck.to_numpy()).fillna(0).astype(np.int64).to_numpy()
    counts = np.bincount(values, minlength=len(steps_list) + 1)
    n = len(stuck)
    table = pd.DataFrame(
        {
            "last_step": np.arange(len(steps_list) + 1, dtype=np.int64),
            "step": [NO_STEP, *[step_label(s) for s in steps_list]],
            "users": counts.astype(np.int64),
            "share": counts / n if n else np.full(len(counts), np.nan),
        }
    )
    return _note_nobody_stuck(table, facts, n)


def _note_nobody_stuck(table: pd.DataFrame, facts: Any, n: int) -> pd.DataFrame:
    """Say why the shares are blank when no user is studied (:func:`stuck_users` is empty)."""
    if n:
        return table
    window = facts.params.conversion_window_days
    observed = int((facts.table[C.AGE].to_numpy(dtype=float) >= float(window)).sum())
    why = (
        f"no user has been observed for the {window}-day conversion window yet"
        if observed == 0
        else f"every one of the {observed} users observed for the {window}-day conversion window "
        "reached value"
    )
    return add_note(table, f"shares not computable: {why}, so no user is left to follow to where they stop")


def last_events(facts: Any, *, top: int = 10) -> pd.DataFrame:
    """The most common final event and final transition of users who never reached value.

    Parameters
    ----------
    facts : Facts
        The facts of the run, whose events are read for the stuck users.
    top : int, default 10
        Rows kept per kind (the most common first; ties by name).

    Returns
    -------
    pandas.DataFrame
        ``kind`` (``"final event"`` or ``"final transition"``), ``path`` (``"e"`` or
        ``"p -> e"``), ``previous``, ``event``, ``users`` and ``share`` of the stuck users (see
        :func:`stuck_users`). A user with one event has the transition ``"(start) -> e"``; a
        user without any used event appears as ``"(no events)"``, so the shares of each kind
        add up to 1 before truncation to ``top``.

    Notes
    -----
    All used events count (``t0 <= ts <= T``, signup included), not only the conversion window:
    the question is where the user was last seen. Order: by timestamp, and events with the same
    timestamp by event name, so the alphabetically later of two simultaneous events is the later
    one (deterministic; exports with whole-second timestamps often have such ties). Engine side:
    per user, the two largest ``(ts, event)`` (:func:`last_two_events`).

    Examples
    --------
    >>> import onboarding_analysis as oa                                      # doctest: +SKIP
    >>> last_events(oa.compute_facts(oa.load_params("params/demo.yaml")), top=5)  # doctest: +SKIP
    """
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise ValueError(f"top must be a whole number >= 1, but was {top!r}")
    stuck = stuck_users(facts)
    e = facts_events(facts, "last_events")
    # Only the stuck users' events are ranked (the others are dropped below anyway).
    ids = ibis.memtable(pd.DataFrame({"user_id": stuck.to_numpy(dtype=object)}), schema={"user_id": "string"})
    e = e.select("user_id", "event", "ts").semi_join(ids, "user_id")
    per_user = last_two_events(e, top_n=_backend_name(e) == "duckdb").to_pandas()
    per_user["user_id"] = per_user["user_id"].astype(str)
    per_user = per_user.set_index("user_id").reindex(stuck.to_numpy())
    no_events = per_user["event"].isna()
    event = per_user["event"].where(~no_events, NO_EVENTS).astype(str)
    previous = per_user["previous"].where(per_user["previous"].notna(), START).astype(str)
    previous = previous.where(~no_events, "")
    n = len(stuck)

    finals = _top(pd.DataFrame({"previous": "", "event": event.to_numpy()}), n, top)
    finals.insert(0, "kind", FINAL_EVENT)
    finals.insert(1, "path", finals["event"])
    moves = pd.DataFrame({"previous": previous.to_numpy(), "event": event.to_numpy()})[~no_events.to_numpy()]
    moves = pd.concat([moves, pd.DataFrame({"previous": [""] * int(no_events.sum()), "event": NO_EVENTS})])
    transitions = _top(moves, n, top)
    transitions.insert(0, "kind", FINAL_TRANSITION)
    transitions.insert(
        1,
        "path",
        [
            ev if not prev else f"{prev} -> {ev}"
            for prev, ev in zip(transitions["previous"], transitions["event"], strict=True)
        ],
    )
    out = pd.concat([finals, transitions], ignore_index=True)
    return _note_nobody_stuck(out[LAST_EVENTS_COLUMNS], facts, n)


def last_two_events(events, *, top_n: bool = True):
    """Per user: the last event and the one before it, in the query engine.

    Events are ordered by ``ts``, and events with the same ``ts`` by name.

    Parameters
    ----------
    events : ibis.expr.types.Table
        ``user_id``, ``event`` and ``ts`` of the events to rank.
    top_n : bool, default True
        Use DuckDB's ``max_by(event, (ts, event), 2)`` aggregate (one hash aggregation); else
        ``row_number()`` over a window per user ordered by ``ts desc, event desc`` (any
        backend, but a sort of every event). Both give the same rows (tests/test_journey.py).

    Returns
    -------
    ibis.expr.types.Table
        One row per user: ``user_id``, ``event`` (the last event) and ``previous`` (the one
        before it, NULL for a user with one event).
    """
    if top_n:
        key_type = dt.Struct({"ts": events.schema()["ts"], "event": dt.string})

        @ibis.udf.agg.builtin(name="max_by", signature=((dt.string, key_type, dt.int64), dt.Array(dt.string)))
        def last_n(arg, key, n): ...

        per_user = events.group_by("user_id").aggregate(
            last=last_n(events.event, ibis.struct({"ts": events.ts, "event": events.event}), 2)
        )
        return per_user.select("user_id", event=per_user["last"][0], previous=per_user["last"][1])
    rank = ibis.row_number().over(group_by="user_id", order_by=[ibis.desc("ts"), ibis.desc("event")])
    ranked = events.select("user_id", "event", rank=rank)
    tail = ranked.filter(ranked["rank"] < 2)  # ibis row numbers start at 0
    return tail.group_by("user_id").aggregate(
        event=tail.event.max(where=tail["rank"] == 0),
        previous=tail.event.max(where=tail["rank"] == 1),
    )


def _backend_name(expr) -> str | None:
    try:
        return getattr(expr._find_backend(), "name", None)
    except Exception:  # noqa: BLE001 - an unbound expression
        return None


def _top(pairs: pd.DataFrame, n: int, top: int) -> pd.DataFrame:
    counts = pairs.groupby(["previous", "event"], sort=False).size().rename("users").reset_index()
    counts = counts.sort_values(["users", "previous", "event"], ascending=[False, True, True], kind="stable")
    counts = counts.head(top).reset_index(drop=True)
    counts["users"] = counts["users"].astype(np.int64)
    counts["share"] = counts["users"] / n if n else np.nan
    return counts


def plot_where_users_stop(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Horizontal bars of the share of stuck users per last step (or per final event/transition).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`last_step_reached` (bars in step order) or :func:`last_events`
        (bars labelled ``kind: path``).
    ax : matplotlib.axes.Axes, optional
        Where to draw the bars; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per row of ``table``, annotated with its number of users.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> table = pd.DataFrame({"last_step": [0, 1], "step": ["none", "signed_up"], "users": [1, 3],
    ...                       "share": [0.25, 0.75]})
    >>> [round(bar.get_width()) for bar in plot_where_users_stop(table).patches]
    [25, 75]
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"expected a DataFrame from last_step_reached or last_events, but got {type(table)!r}"
        )
    if set(LAST_STEP_COLUMNS) <= set(table.columns):
        labels = [
            f"{int(k)}. {s}" if k else str(s) for k, s in zip(table["last_step"], table["step"], strict=True)
        ]
        title = "Last onboarding step reached by users without value"
    elif set(LAST_EVENTS_COLUMNS) <= set(table.columns):
        labels = [f"{k}: {p}" for k, p in zip(table["kind"], table["path"], strict=True)]
        title = "Where users without value were last seen"
    else:
        raise ValueError(
            "expected a table from last_step_reached (columns "
            f"{LAST_STEP_COLUMNS}) or last_events (columns {LAST_EVENTS_COLUMNS}), got {list(table.columns)}"
        )
    if ax is None:
        _, ax = plt.subplots()
    share = table["share"].to_numpy(dtype=float) * 100
    y = np.arange(len(table))
    ax.barh(y, np.nan_to_num(share), color="C3")
    for yi, value, users in zip(y, share, table["users"], strict=True):
        if not np.isnan(value):
            ax.annotate(f"{int(users)}", (value, yi), xytext=(3, 0), textcoords="offset points", va="center")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 105)
    ax.set_xlabel("% of users who never reached value (whole conversion window observed)")
    ax.set_title(title)
    return ax
