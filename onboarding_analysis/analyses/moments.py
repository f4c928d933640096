"""Moments of truth: crisis, relationship change and unexpected win, per account or per user.

The customer-success team wants to know which accounts just had a moment that decides whether
they stay: a heavy start that faded (*crisis*), an onboarding completed and then silence
(*relationship change*), value reached unusually fast or many features adopted at once
(*unexpected win*); docs/metrics.md, "Moments of truth", defines them for the report. This module counts them (and lists them only
where params ``show_identifiers: true``): :mod:`~onboarding_analysis.analyses.moments_signals`
aggregates the events into per-unit signals, :mod:`~onboarding_analysis.analyses.moments_rules`
applies the rules below to them.

Notes
-----
*Units.* When the used events carry an ``account_id`` (at least one non-null value) the unit
is the **account**, else the **user**. A user's signals aggregate to its account as follows:

- membership: a user belongs to the account on its earliest event with a non-null
  ``account_id``; users none of whose events carries one are left out of the account analysis
  and counted (:attr:`MomentsResult.users_without_account`);
- account ``t0`` = the first signup among its users; every window below is measured from it,
  and an event's day index is ``floor((ts - t0_account) / 24h)``;
- activity = the union of its users' active days (the account is active on a day index when
  any user has an active event then);
- value = the first value event of any of its users;
- onboarding completed = the first time any of its users reached the last onboarding step
  (the funnel's rule: :func:`onboarding_analysis.analyses.funnel.step_times` with params
  ``onboarding_steps``, ``funnel_mode`` and ``conversion_window_days`` counted from that
  user's own signup);
- features used in the first week = distinct ``feature_events`` of any user at durations
  ``< 7`` days since the account's ``t0``;
- churned = *every* user of the account churned (the facts' ``churned`` column);
- age = ``(T - t0_account) / 24h``.

For users, each of these is the user's own. Only units whose windows are fully observed are
classified; the others leave the denominators (they are *not* counted as "no moment").

*Definitions.* With ``E`` = params ``moment_early_days``, ``R`` = ``crisis_recent_days``, ``D`` =
``relationship_days``:

*Crisis.* Eligible: ``age >= E + R`` (the early window is complete and does not overlap the
recent one). ``early_active_days`` = active day indices ``0 .. E-1``; the unit is in the top
group when ``early_active_days >= `` the ``crisis_top_quantile`` quantile (numpy's linear
interpolation) of ``early_active_days`` over the eligible units, and ``> 0``.
``recent_active_days`` = distinct values of ``floor((T - ts) / 24h)`` over active events with
``ts > T - R days`` (the last ``R`` 24-hour periods before ``T``). Crisis: reached value (by
``T``), in the top group, ``recent_active_days / R < crisis_drop_ratio * early_active_days / E``
(rates per day), and not churned. An account silent since more than ``R`` days, but for less
than ``inactivity_days``, qualifies: it stopped, and the inactivity rule cannot say yet whether
it left.

*Relationship change.* Eligible: onboarding completed at ``c`` (days since ``t0``) and
``c + D <= age``. ``post_onboarding_active_days`` = distinct day indices of active events with
``c < ts <= c + D`` days (the completing event itself is not counted; later events of its day
are). Relationship change: ``post_onboarding_active_days <= relationship_max_active_days``.

*Unexpected win.* Eligible: ``age >= max(E, 7)``. Converters are the eligible units that reached
value within the early window (``value_days < E``), so every converter's time is fully
observed; *fast*: a converter whose ``value_days`` is strictly below the ``1 -
win_speed_quantile`` quantile of the converters' ``value_days`` (faster than
``win_speed_quantile`` of converters). *Wow*: at least ``wow_features`` distinct
``feature_events`` in the first week (needs params ``feature_events``). Unexpected win: fast or
wow. By construction about ``1 - win_speed_quantile`` of converters are fast: the criterion is
relative to the product's own users.

*Trends.* Counts are attributed to the unit's **signup week** (ISO week, Monday start, of
``t0``): each week's share is the moments among that cohort's eligible units, so weeks are comparable. (The
week a moment "happens" is not defined for a crisis, a state at ``T``.) Recent cohorts have no
eligible units yet and show no share, never 0%.

Examples
--------
>>> import onboarding_analysis as oa                                   # doctest: +SKIP
>>> result = moments_of_truth(oa.compute_facts(oa.load_params("params/demo.yaml")))  # doctest: +SKIP
>>> result.counts                                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from ..data import columns as C
from ..data.facts import Facts
from ..display.figures import axes_or_new
from ..errors import DataError, ParamsError
from .moments_rules import (
    COUNT_COLUMNS,
    MOMENTS,
    WEEKLY_COLUMNS,
    classify_moments,
    moment_counts,
    signup_week,
    weekly_moments,
)
from .moments_signals import unit_signals

__all__ = [
    "COUNT_COLUMNS",
    "MOMENTS",
    "UNIT_COLUMNS",
    "WEEKLY_COLUMNS",
    "MomentsResult",
    "moment_identifiers",
    "moments_metrics",
    "moments_of_truth",
    "plot_moments",
    "write_moments_csv",
]

#: The activity, value and onboarding signals of a unit (also listed with its identifier).
SIGNAL_COLUMNS = [
    "value_days",
    "early_active_days",
    "recent_active_days",
    "onboarding_days",
    "post_onboarding_active_days",
    "week1_features",
]
#: Columns of :attr:`MomentsResult.units` (``unit_id`` first, only when identifiers are shown).
UNIT_COLUMNS = [
    "t0",
    "week",
    "users",
    "age_days",
    "churned",
    *SIGNAL_COLUMNS,
    "eligible_crisis",
    "crisis",
    "eligible_relationship_change",
    "relationship_change",
    "eligible_unexpected_win",
    "fast_value",
    "wow",
    "unexpected_win",
]
#: File written by :func:`write_moments_csv`.
CSV_NAME = "moments_of_truth.csv"
UNIT_ID = "unit_id"


@dataclass(frozen=True, eq=False)
class MomentsResult:
    """Moments of truth of one run.

    Attributes
    ----------
    unit : {"account", "user"}
        What was classified.
    counts : pandas.DataFrame
        One row per moment (:data:`COUNT_COLUMNS`): eligible units, units with the moment, the
        share with its 95% Wilson interval, and the rule in words.
    weekly : pandas.DataFrame
        :data:`WEEKLY_COLUMNS`, one row per signup week and moment; ``share`` is NaN for weeks
        without an eligible unit.
    units : pandas.DataFrame
        One row per unit (:data:`UNIT_COLUMNS`): the signals and flags behind the counts. It has
        a ``unit_id`` column only when :attr:`identifiers_shown`.
    thresholds : Mapping
        ``early_active_days_top`` (the crisis top-group threshold) and ``fast_value_days`` (the
        unexpected-win speed threshold); None when nothing was eligible.
    identifiers_shown : bool
        params ``show_identifiers``.
    users_without_account : int
        Users left out of an account analysis because none of their events has an account id.
    notes : tuple of str
        Moments that could not be computed and which params enable them.
    """

    unit: str
    counts: pd.DataFrame
    weekly: pd.DataFrame
    units: pd.DataFrame
    thresholds: Mapping[str, float | None]
    identifiers_shown: bool
    users_without_account: int = 0
    notes: tuple[str, ...] = ()


def _check_facts(facts: Any) -> Facts:
    if not isinstance(facts, Facts):
        raise TypeError(
            f"moments needs the Facts object of compute_facts(params) (it carries the events), "
            f"but got {type(facts)!r}"
        )
    if facts.events is None:
        raise DataError("facts has no events table; build it with onboarding_analysis.compute_facts(params)")
    missing = [c for c in (C.USER_ID, C.T0, C.CHURNED) if c not in facts.table.columns]
    if missing:
        raise DataError(
            f"moments needs the user-facts column(s) {missing}; rebuild with compute_facts(params)"
        )
    return facts


def moments_of_truth(facts: Facts, *, alpha: float = 0.05) -> MomentsResult:
    """Classify accounts (or users) into the three moments of truth; see the module docstring.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`; its ``events`` are
        aggregated in the query engine, only one row per unit reaches pandas.
    alpha : float, default 0.05
        The shares' Wilson intervals are ``1 - alpha`` intervals.

    Returns
    -------
    MomentsResult
        Identifiers (``units.unit_id``) only when params ``show_identifiers`` is true.

    Examples
    --------
    >>> import onboarding_analysis as oa                                    # doctest: +SKIP
    >>> result = moments_of_truth(oa.compute_facts(oa.load_params("params/demo.yaml")))  # doctest: +SKIP
    >>> result.counts[["moment", "eligible", "count"]]                      # doctest: +SKIP
    """
    facts = _check_facts(facts)
    params = facts.params
    signals = unit_signals(facts)
    units = signals.units
    thresholds = classify_moments(units, params)
    units["week"] = signup_week(units["unit_t0"])
    units = units.rename(columns={"unit_t0": "t0"}).sort_values(["t0"], kind="stable")
    units.index.name = UNIT_ID
    units = units.reset_index()[[UNIT_ID, *UNIT_COLUMNS]]
    if not params.show_identifiers:
        units = units.drop(columns=UNIT_ID)
    return MomentsResult(
        unit="account" if signals.by_account else "user",
        counts=moment_counts(units, params, alpha),
        weekly=weekly_moments(units),
        units=units,
        thresholds=thresholds,
        identifiers_shown=bool(params.show_identifiers),
        users_without_account=signals.users_without_account,
        notes=_notes(params),
    )


def _notes(params: Any) -> tuple[str, ...]:
    """The moments that cannot be computed with these params, and which params enable them."""
    notes = []
    if not params.onboarding_steps:
        notes.append(
            "relationship change needs params onboarding_steps (the last step = onboarding completed)"
        )
    if not params.value_events:
        notes.append("crisis and the speed part of unexpected win need params value_events")
    if not params.feature_events:
        notes.append("the wow part of unexpected win needs params feature_events")
    return tuple(notes)


# --- identifiers ------------------------------------------------------------------------------


def moment_identifiers(result: MomentsResult) -> pd.DataFrame:
    """The units with a moment, one row per (unit, moment), for the customer-success team.

    Only available when params ``show_identifiers`` is true; shared reports show counts only.

    Parameters
    ----------
    result : MomentsResult
        Output of :func:`moments_of_truth` with identifiers shown.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``moment``, ``t0``, ``age_days``, ``value_days``, ``early_active_days``,
        ``recent_active_days``, ``onboarding_days``, ``post_onboarding_active_days``,
        ``week1_features``, sorted by moment and ``t0``.

    Raises
    ------
    ParamsError
        Identifiers were not requested (params ``show_identifiers: false``).
    """
    if not isinstance(result, MomentsResult):
        raise TypeError(f"expected the MomentsResult of moments_of_truth(facts), but got {type(result)!r}")
    if not result.identifiers_shown or UNIT_ID not in result.units.columns:
        raise ParamsError(
            "moment identifiers are only listed with params show_identifiers: true; shared reports "
            "show counts only. Set show_identifiers: true in a params file kept inside the team."
        )
    keep = [UNIT_ID, "t0", "age_days", *SIGNAL_COLUMNS]
    frames = [result.units.loc[result.units[m], keep].assign(moment=m) for m in MOMENTS]
    out = pd.concat(frames, ignore_index=True)
    return out[[UNIT_ID, "moment", *keep[1:]]].reset_index(drop=True)


def write_moments_csv(result: MomentsResult, output_dir: str | Path) -> Path:
    """Write :func:`moment_identifiers` to ``<output_dir>/moments_of_truth.csv``.

    Parameters
    ----------
    result : MomentsResult
        The classification to write (identifiers shown).
    output_dir : str or pathlib.Path
        The folder to write into (created if missing), usually the run's report folder.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ParamsError
        Identifiers were not requested (params ``show_identifiers: false``): nothing is written.
    """
    table = moment_identifiers(result)
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CSV_NAME
    table.to_csv(path, index=False)
    return path


# --- metrics and plot -------------------------------------------------------------------------


def moments_metrics(result: MomentsResult) -> dict[str, dict]:
    """The ``moments`` section of metrics.json: counts only, never identifiers.

    Parameters
    ----------
    result : MomentsResult
        Its ``counts`` table gives every number.

    Returns
    -------
    dict
        ``{"moments": {"crisis": n, "relationship_change": n, "unexpected_win": n,
        "unit": "account" | "user", "eligible": {moment: n}}}``.
    """
    counts = result.counts.set_index("moment")
    out: dict[str, Any] = {m: int(counts.loc[m, "count"]) for m in MOMENTS}
    out["unit"] = result.unit
    out["eligible"] = {m: int(counts.loc[m, "eligible"]) for m in MOMENTS}
    return {"moments": out}


def plot_moments(result: MomentsResult, *, ax: Axes | None = None) -> Axes:
    """Share of each signup week's eligible units with each moment (one line per moment).

    Parameters
    ----------
    result : MomentsResult
        The moments found by :func:`moments_of_truth`, with their weekly table.
    ax : matplotlib.axes.Axes, optional
        Axes for the weekly lines (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        The axes, with one line per moment that has an eligible week (or a note that none has).
    """
    ax = axes_or_new(ax)
    weekly = result.weekly
    drawn = False
    for i, moment in enumerate(MOMENTS):
        part = weekly[(weekly["moment"] == moment) & weekly["share"].notna()]
        if part.empty:
            continue
        ax.plot(
            part["week"],
            part["share"] * 100,
            marker="o",
            ms=3,
            color=f"C{i}",
            label=f"{moment.replace('_', ' ')} ({int(part['count'].sum())})",
        )
        drawn = True
    if drawn:
        ax.legend(loc="upper left")
    else:
        ax.text(0.5, 0.5, "no eligible units yet", transform=ax.transAxes, ha="center", va="center")
    ax.set_xlabel("signup week")
    ax.set_ylabel(f"% of the week's eligible {result.unit}s")
    ax.set_title(f"Moments of truth by signup week ({result.unit}s)")
    ax.figure.autofmt_xdate()
    return ax
