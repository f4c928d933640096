"""The data-quality tables built from the used events and the users accounting.

Each function builds one table of :class:`onboarding_analysis.analyses.quality.QualityReport`
(the users accounting, events per day, event names, params events not seen); the module
docstring of :mod:`onboarding_analysis.analyses.quality` says what each holds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..data import columns as C
from ..data.facts import USER_REASONS, Facts, summarise_users
from ..names import closest_names

__all__ = [
    "LOW",
    "NO_EVENTS",
    "T0_SOURCES",
    "configured_events",
    "events_per_day",
    "missing_events",
    "names_table",
    "users_tables",
]

#: Flags of :attr:`QualityReport.events_per_day <onboarding_analysis.analyses.quality.QualityReport>`.
NO_EVENTS, LOW = "no events", "low"
#: Where ``t0`` came from (``QualityReport.t0_sources``).
T0_SOURCES = ("users table signup_at", "signup event", "first event")


def configured_events(params: Any) -> list[tuple[str, str]]:
    """Every ``(param, event name)`` the params configure, in params order, without repeats.

    Parameters
    ----------
    params : Params
        The run's params.

    Returns
    -------
    list of (str, str)
        The params key (``prompts.<name>.shown`` for a prompt) and the event name.

    Examples
    --------
    >>> from onboarding_analysis.params import validate_params
    >>> p = validate_params({"events": "e.csv", "onboarding_steps": ["signed_up", ["a", "b"]]})
    >>> configured_events(p)[:4]
    [('signup_event', 'signed_up'), ('value_events', 'created_report'), ('onboarding_steps', 'a'), ('onboarding_steps', 'b')]
    """
    pairs: list[tuple[str, str]] = []

    def add(key: str, names: Any) -> None:
        """Append ``(key, name)`` for one name or each of several (None: nothing).

        Parameters
        ----------
        key : str
            The params key.
        names : str, list of str or None
            Its event name(s).
        """
        if names is None:
            return
        for name in [names] if isinstance(names, str) else names:
            pairs.append((key, name))

    add("signup_event", params.signup_event)
    add("value_events", params.value_events)
    add("active_events", params.active_events)
    add("churn_event", params.churn_event)
    for step in params.onboarding_steps:
        add("onboarding_steps", step)
    for name, pair in params.prompts.items():
        add(f"prompts.{name}.shown", pair["shown"])
        add(f"prompts.{name}.engaged", pair["engaged"])
    add("feature_events", params.feature_events)
    add("revenue_event", getattr(params, "revenue_event", None))
    add("feedback_event", getattr(params, "feedback_event", None))
    seen: set[str] = set()
    out = []
    for key, name in pairs:
        if name not in seen:
            seen.add(name)
            out.append((key, name))
    return out


def users_tables(facts: Facts) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Users accounting and t0 sources.

    From the accounting's per-user summary (:attr:`~onboarding_analysis.data.facts.Accounting.
    users_summary`, counted by ``build_facts`` from its per-user status) when it has one; an
    accounting made by hand has none, and the counts are then read off the events.

    Parameters
    ----------
    facts : Facts
        The run's facts, with their accounting and source.

    Returns
    -------
    users : pandas.DataFrame
        ``what, users``: users analysed, excluded per reason, users-table counts.
    t0_sources : pandas.DataFrame
        ``source, users``: where the analysed users' signup time came from.
    notes : list of str
        Data warnings (the users table and the events share no user).
    """
    acc, params, source = facts.accounting, facts.params, facts.source
    summary = dict(acc.users_summary) or _users_summary(facts)
    signup = params.signup_event
    rows: list[tuple[str, int | None]] = [("users analysed", acc.users)]
    rows += [(f"users excluded: {reason}", int(acc.users_excluded.get(reason, 0))) for reason in USER_REASONS]
    in_users = summary["in_users_table"]
    if source.users is not None:
        rows += [
            ("users table rows", int(acc.users_rows)),
            ("users table users analysed", in_users),
            (
                "analysed users without any event (users table only, kept)",
                summary["in_users_table_without_rows"],
            ),
            ("analysed users not in the users table", acc.users - in_users),
        ]
    rows += [("analysed users with no used event", int((facts.table[C.N_EVENTS] == 0).sum()))]
    if signup:
        rows += [("analysed users without a signup event", acc.users - summary["with_signup_event"])]
    users = pd.DataFrame(rows, columns=["what", "users"]).astype({"users": "int64"})
    notes = []
    if in_users and in_users == summary["in_users_table_without_rows"]:
        notes.append(
            f"{params.resolve(params.users)}: no analysed user of the users table has an event in "
            f"{params.resolve(params.events)}. "
            f"Check that both files come from the same export and columns: {{user_id: ...}}."
        )
    keys = dict(zip(T0_SOURCES, ("t0_signup_at", "t0_signup_event", "t0_first_event"), strict=True))
    t0_sources = pd.DataFrame(
        [(s, int(summary[keys[s]])) for s in T0_SOURCES if s != T0_SOURCES[1] or signup],
        columns=["source", "users"],
    ).astype({"users": "int64"})
    return users, t0_sources, notes


def _users_summary(facts: Facts) -> dict[str, int]:
    """:func:`~onboarding_analysis.data.facts.summarise_users` of per-user engine results.

    Over the events joined in pandas, for an accounting without a summary.
    """
    params, source = facts.params, facts.source
    analysed = facts.table[[C.USER_ID]].copy()
    analysed[C.USER_ID] = analysed[C.USER_ID].astype(str)
    ev = source.events.filter(source.events.user_id.notnull())
    ok = ev.reason.isnull()
    signup = params.signup_event
    agg = {"n_rows": ev.count()}
    if signup:
        agg["has_signup"] = (ok & (ev.event == signup)).any()
    per_user = ev.group_by("user_id").aggregate(**agg).to_pandas()
    per_user["user_id"] = per_user["user_id"].astype(str)
    merged = analysed.merge(per_user, on=C.USER_ID, how="left")
    with_rows = merged["n_rows"].fillna(0) > 0
    has_signup = merged["has_signup"].eq(True) if signup else pd.Series(False, merged.index)
    in_users = has_signup_at = pd.Series(False, merged.index)
    if source.users is not None:
        u = source.users
        table = u.select("user_id", has_signup_at=u.signup_at.notnull()).to_pandas()
        table["user_id"] = table["user_id"].astype(str)
        merged = merged.merge(table, on=C.USER_ID, how="left")
        in_users = merged["has_signup_at"].notna()
        has_signup_at = merged["has_signup_at"].eq(True)
    return summarise_users(
        in_users=in_users.to_numpy(dtype=bool),
        with_rows=with_rows.to_numpy(dtype=bool),
        signup_event=has_signup.to_numpy(dtype=bool),
        signup_at=has_signup_at.to_numpy(dtype=bool),
    )


def events_per_day(per_day: pd.Series, low_fraction: float, window_days: int) -> pd.DataFrame:
    """Used events per calendar day, every day from the first to the last, with its flag.

    Parameters
    ----------
    per_day : pandas.Series
        Used events per date (days without events absent).
    low_fraction : float
        A day is ``low`` below this fraction of its reference.
    window_days : int
        Width of the centred window whose median (zero days included) is the reference.

    Returns
    -------
    pandas.DataFrame
        ``date, events, reference, flag`` (``flag``: "", :data:`NO_EVENTS` or :data:`LOW`).
    """
    columns = ["date", "events", "reference", "flag"]
    if per_day.empty:
        return pd.DataFrame(columns=columns)
    per_day.index = pd.to_datetime(per_day.index)
    calendar = pd.date_range(per_day.index.min(), per_day.index.max(), freq="D", name="date")
    events = per_day.reindex(calendar, fill_value=0).astype("int64")
    reference = events.rolling(window_days, center=True, min_periods=1).median()
    flag = np.where(events == 0, NO_EVENTS, np.where(events < low_fraction * reference, LOW, ""))
    return pd.DataFrame(
        {
            "date": calendar,
            "events": events.to_numpy(),
            "reference": reference.to_numpy(dtype=float),
            "flag": flag,
        }
    )[columns]


def names_table(frequent: pd.DataFrame, n_names: int, n_used: int, top: int) -> pd.DataFrame:
    """The ``top`` most frequent event names, and one row counting the rest.

    Parameters
    ----------
    frequent : pandas.DataFrame
        ``event, events``, most frequent first.
    n_names : int
        Distinct event names among the used events.
    n_used : int
        Used event rows.
    top : int
        Names listed by name.

    Returns
    -------
    pandas.DataFrame
        ``event, events, share``; the last row ``(N other names)`` when names are left over.
    """
    head = frequent.head(top)
    rows = [(str(e), int(n)) for e, n in zip(head["event"], head["events"], strict=True)]
    rest = n_names - len(rows)
    if rest > 0:
        rows.append((f"({rest} other names)", int(n_used - sum(n for _, n in rows))))
    table = pd.DataFrame(rows, columns=["event", "events"]).astype({"events": "int64"})
    table["share"] = table["events"] / n_used if n_used else math.nan
    return table


def missing_events(params: Any, used: Any, frequent: pd.DataFrame, n_names: int) -> pd.DataFrame:
    """The params events that never occur among the used events, with the closest names.

    Parameters
    ----------
    params : Params
        The run's params (:func:`configured_events` lists what they name).
    used : ibis.Table
        The used events (asked only for names beyond ``frequent``).
    frequent : pandas.DataFrame
        The most frequent names (``event`` column), the closest names are searched among.
    n_names : int
        Distinct event names among the used events.

    Returns
    -------
    pandas.DataFrame
        ``param, event, closest`` (up to three closest names, comma-separated).
    """
    wanted = configured_events(params)
    columns = ["param", "event", "closest"]
    known = [str(e) for e in frequent["event"]]
    seen = set(known)
    unseen = [name for _, name in wanted if name not in seen]
    if unseen and n_names > len(known):  # names beyond the most frequent ones: ask the engine
        found = used.filter(used.event.isin(unseen)).select("event").distinct().to_pandas()
        seen |= set(found["event"].astype(str))
    rows = [
        (key, name, ", ".join(closest_names(name, known, n=3))) for key, name in wanted if name not in seen
    ]
    return pd.DataFrame(rows, columns=columns)
