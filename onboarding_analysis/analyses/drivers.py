"""Early behaviours that go with staying longer ("aha" candidates), by landmark analysis.

``docs/metrics.md``, "Early behaviours (landmark analysis)": which events done in a user's first ``L`` days (params
``landmark_days``, default 7) go with a lower churn hazard *afterwards*? The comparison that
first comes to mind, users who ever did the event against users who never did, is biased by
**immortal time**: a user who stays longer has more time to do anything, so every common event
looks protective even if it does nothing (tests/test_drivers.py builds such data: the naive
hazard ratio is far below 1, the landmark one covers 1). The landmark design removes the bias
by fixing the covariate *before* the outcome is counted:

1. **Landmark users**: users still there at day ``L`` (``lifetime_days >= L``) whose status at
   ``L`` is known. Under the inactivity rule a churn is only seen ``inactivity_days`` after the
   last activity: a user who stopped at day 5 looks alive until day 35. So a user is only
   classified at ``L`` once ``age >= L + inactivity_days``: then every churn before ``L`` is
   visible, and a user not churned before ``L`` truly was there at ``L``. (With the default
   ``lifetime_censoring: observable`` a censored user's lifetime is ``age - inactivity_days``,
   so ``lifetime >= L`` already implies it; with ``observation_end`` it does not, and the age
   rule keeps the landmark set right.) With ``churn_event`` churn is seen at once: ``age >= L``.
2. **Covariates**: for each candidate event ``e``, did the user do ``e`` in days ``[0, L)``
   (at least ``min_count`` times)? Candidates are the params ``top_early_events`` most frequent
   events in ``[0, L)`` (counted as users, among users old enough for the landmark), excluding
   the ``signup_event``.
3. **Outcome**: lifetime after the landmark, ``lifetime_days - L``, churned or censored as in
   the user-facts table.
4. **Model**: one Cox model per event (Efron ties, :func:`~onboarding_analysis.stats.cox_fit.efron_cox`:
   lifelines' estimates, vectorised; the proportional-hazards check on every row), optionally adjusted for segments
   (``adjust_for``: persona, plan, ...), hazard ratio did vs did not with its interval; the
   p-values of all events form one family, adjusted by Benjamini-Hochberg by default.

The result is labelled **associations, not causes**: users who choose to do an event differ
from those who do not (persona, intent, company size), and the landmark only removes the
immortal-time part of the bias, not confounding. On the demo data, where behaviours have no
causal effect at all, their associations come from the persona and from being alive to act.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy.stats import norm

from ..absence import add_note
from ..data import columns as C
from ..data.facts import Facts
from ..errors import DataError
from ..stats.compression import WEIGHT, compress_codes, compress_flagged
from ..stats.cox_checks import NotEstimable, hazard_ratio_interval
from ..stats.cox_fit import covariate_columns, efron_cox, efron_cox_on, efron_ph_test
from ..stats.finite import finite_or_none
from ..stats.hypothesis import adjust_pvalues
from ..stats.intervals import check_alpha
from .hazard_forest import hazard_ratio_forest
from .segment_cox import NOT_ESTIMABLE

__all__ = ["LABEL", "drivers_metrics", "early_behaviours", "landmark_users", "plot_early_behaviours"]

#: How the table must be read.
LABEL = "associations, not causes"
#: Columns of :func:`early_behaviours`.
DRIVER_COLUMNS = [
    "rank",
    "event",
    "users_did",
    "users_not",
    "share_did",
    "hazard_ratio",
    "hr_ci_low",
    "hr_ci_high",
    "p_raw",
    "p_adjusted",
    "ph_p",
    "association",
    "note",
]


def _delay(facts: Facts) -> float:
    params = facts.params
    return 0.0 if params.churn_event else float(params.inactivity_days)


def _reason(err: NotEstimable) -> str:
    """The reason of a landmark model without estimate, in terms of the event ("did")."""
    if set(err.covariates) == {"did"}:
        return err.covariates["did"].replace("these users", "the users who did it")
    return err.reason


def landmark_users(facts: Facts, landmark_days: float) -> np.ndarray:
    """Boolean mask over ``facts.table``: the users of the landmark at ``landmark_days``.

    ``age_days >= L + delay`` (delay = ``inactivity_days`` under the inactivity rule, 0 with
    ``churn_event``) and ``lifetime_days >= L`` (not churned before ``L``).

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`.
    landmark_days : float
        The landmark ``L``.

    Returns
    -------
    numpy.ndarray of bool
        One entry per row of ``facts.table``.
    """
    table = facts.table
    age = table[C.AGE].to_numpy(dtype=float)
    lifetime = table[C.LIFETIME].to_numpy(dtype=float)
    return (age >= landmark_days + _delay(facts)) & (lifetime >= landmark_days)


def _event_counts(
    facts: Facts, landmark_days: float, top: int, events: Sequence[str] | None
) -> tuple[list[str], pd.DataFrame]:
    """Candidate events and, per user, how often each was done in ``[0, L)`` (engine-side)."""
    if facts.events is None:
        raise DataError("facts has no events table; build it with onboarding_analysis.compute_facts(params)")
    ev = facts.events
    cutoff = facts.observation_end - dt.timedelta(days=landmark_days + _delay(facts))
    early = ev.filter((ev.days < landmark_days) & (ev.t0 <= ibis.literal(cutoff, type="timestamp")))
    signup = facts.params.signup_event
    if signup:
        early = early.filter(early.event != signup)
    if events is None:
        ranked = (
            early.group_by("event")
            .aggregate(users=early.user_id.nunique())
            .order_by([ibis.desc("users"), "event"])
            .limit(top)
            .to_pandas()
        )
        names = [str(e) for e in ranked["event"]]
    else:
        names = [str(e) for e in events]
    if not names:
        return [], pd.DataFrame({C.USER_ID: pd.Series(dtype=str)})
    chosen = early.filter(early.event.isin(names))
    per_user = chosen.group_by("user_id").aggregate(
        **{f"e{i}": chosen.count(where=chosen.event == name) for i, name in enumerate(names)}
    )
    counts = per_user.to_pandas()
    counts[C.USER_ID] = counts[C.USER_ID].astype(str)
    return names, counts.rename(columns={f"e{i}": name for i, name in enumerate(names)})


def early_behaviours(
    facts: Facts,
    *,
    landmark_days: int | None = None,
    top: int | None = None,
    p_adjust: str = "fdr_bh",
    events: Sequence[str] | None = None,
    adjust_for: Sequence[str] = (),
    min_count: int = 1,
    alpha: float = 0.05,
    compress: bool = True,
) -> pd.DataFrame:
    """Early behaviours and later churn: landmark Cox models, one per event (module docstring).

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`.
    landmark_days : int, optional
        The landmark ``L``; default params ``landmark_days``.
    top : int, optional
        Number of candidate events (most frequent in ``[0, L)``); default params
        ``top_early_events``.
    p_adjust : {"fdr_bh", "holm"}, default "fdr_bh"
        Adjustment of the family of event p-values.
    events : sequence of str, optional
        Candidate events to use instead of the most frequent ones.
    adjust_for : sequence of str
        User-facts columns each model adjusts for (e.g. params ``segments``).
    min_count : int, default 1
        "Did the event" means at least this many times in ``[0, L)``.
    alpha : float, default 0.05
        ``1 - alpha`` intervals; level of the ``association`` reading.
    compress : bool, default True
        Fit on unique rows with frequency weights.

    Returns
    -------
    pandas.DataFrame
        One row per event, ranked (``rank`` 1 = strongest evidence: smallest adjusted p-value,
        then the larger distance of the ratio from 1): :data:`DRIVER_COLUMNS`. ``association``
        reads the adjusted p-value: "lower churn" / "higher churn" / "no clear association";
        ``note`` says why a ratio is missing ("not estimable: <reason>" when the model has
        no estimate, e.g. a monotone likelihood: :mod:`onboarding_analysis.stats.cox_checks`). ``attrs`` hold ``label`` ("associations, not
        causes"), ``landmark_days``, ``users`` (landmark users), ``min_age_days``,
        ``adjusted_for`` and ``p_adjust``.

    Raises
    ------
    TypeError
        ``facts`` is not a :class:`~onboarding_analysis.data.facts.Facts`.
    ValueError
        ``landmark_days``, ``top`` or ``min_count`` is not a whole number >= 1.
    DataError
        ``facts`` has no events table.

    Examples
    --------
    >>> import onboarding_analysis as oa                                    # doctest: +SKIP
    >>> facts = oa.compute_facts(oa.load_params("params/demo.yaml"))        # doctest: +SKIP
    >>> early_behaviours(facts, adjust_for=["persona"]).attrs["label"]      # doctest: +SKIP
    'associations, not causes'
    """
    if not isinstance(facts, Facts):
        raise TypeError(
            f"facts must be a Facts object (onboarding_analysis.compute_facts), but was {type(facts)!r}"
        )
    alpha = check_alpha(alpha)
    params = facts.params
    landmark = params.landmark_days if landmark_days is None else landmark_days
    top = params.top_early_events if top is None else top
    for name, value in (("landmark_days", landmark), ("top", top), ("min_count", min_count)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, but was {value!r}")
    mask = landmark_users(facts, landmark)
    users = facts.table[mask]
    names, counts = _event_counts(facts, float(landmark), int(top), events)
    flags = users[[C.USER_ID]].merge(counts, on=C.USER_ID, how="left").fillna(dict.fromkeys(names, 0))
    models = _LandmarkModels(users, landmark, adjust_for, compress, params.compression_grid_hours, alpha)
    rows = [models.row(name, flags[name].to_numpy(dtype=float) >= min_count) for name in names]
    out = _ranked(rows, p_adjust, alpha)
    out.attrs.update(
        label=LABEL,
        landmark_days=int(landmark),
        users=int(mask.sum()),
        min_age_days=float(landmark + _delay(facts)),
        adjusted_for=list(adjust_for),
        p_adjust=p_adjust,
        min_count=int(min_count),
    )
    _note_absence(out, facts, landmark, mask, names)
    return out


class _LandmarkModels:
    """The landmark users' outcome and covariates, and one Cox model per event on them."""

    def __init__(
        self,
        users: pd.DataFrame,
        landmark: int,
        adjust_for: Sequence[str],
        compress: bool,
        grid_hours: float | None,
        alpha: float,
    ) -> None:
        self.adjusters = covariate_columns(users, adjust_for)
        self.base = pd.DataFrame(
            {
                "duration": users[C.LIFETIME].to_numpy(dtype=float) - landmark,
                "event": users[C.CHURNED].to_numpy(dtype=bool),
            },
            index=users.index,
        )
        self.compress, self.grid_hours, self.alpha = compress, grid_hours, alpha
        self.z = norm.ppf(1 - alpha / 2)
        self.covariates = ["did", *self.adjusters.columns]
        if compress:
            # The rows of every event's model differ only in "did": group them once, then each
            # model's compressed rows are one bincount (compress_flagged), not a grouping of its own.
            keys = pd.concat([self.base, self.adjusters], axis=1)
            self.codes, self.unique = compress_codes(
                keys, list(keys.columns), duration="duration", grid_hours=grid_hours
            )

    def row(self, name: str, did: np.ndarray) -> dict[str, Any]:
        """The table row of one event: counts, and the hazard ratio did vs did not (or why none)."""
        row: dict[str, Any] = {
            "event": name,
            "users_did": int(did.sum()),
            "users_not": int((~did).sum()),
            "share_did": float(did.mean()) if len(did) else math.nan,
            "note": "",
        }
        churn = self.base["event"].to_numpy()
        if did.all() or not did.any():
            row["note"] = "no contrast: every landmark user did it, or none did"
        elif not churn[did].any() or not churn[~did].any():
            side = "did it" if not churn[did].any() else "did not"
            row["note"] = f"{NOT_ESTIMABLE}no churn after the landmark among the users who {side}"
        else:
            row.update(self._hazard_ratio(did))
        return row

    def _hazard_ratio(self, did: np.ndarray) -> dict[str, Any]:
        """The Cox model of one event: its ratio, interval, p-value and PH check, or the note."""
        try:
            if self.compress:
                weighted = compress_flagged(self.codes, self.unique, did, "did")
                cph = efron_cox(
                    weighted["duration"],
                    weighted["event"],
                    weighted[self.covariates],
                    weights=weighted[WEIGHT].to_numpy(),
                    alpha=self.alpha,
                )
            else:
                cph = efron_cox_on(
                    pd.concat([self.base, self.adjusters], axis=1).assign(did=did.astype(float)),
                    self.covariates,
                    compress_rows=False,
                    grid_hours=self.grid_hours,
                    alpha=self.alpha,
                )
        except NotEstimable as err:
            return {"note": NOT_ESTIMABLE + _reason(err)}
        coef, se = float(cph.params_["did"]), float(cph.standard_errors_["did"])
        ratio = hazard_ratio_interval(coef, se, self.z)
        if ratio is None:
            out = {"note": f"{NOT_ESTIMABLE}the hazard ratio or its interval is out of range"}
        else:
            out = dict(
                hazard_ratio=ratio[0],
                hr_ci_low=ratio[1],
                hr_ci_high=ratio[2],
                p_raw=float(cph.summary.loc["did", "p"]),
                ph_p=float(efron_ph_test(cph).loc["did", "p"]),
            )
        cph.release()
        return out


def _ranked(rows: list[dict[str, Any]], p_adjust: str, alpha: float) -> pd.DataFrame:
    """The event rows as the ranked table of :func:`early_behaviours`, p-values adjusted."""
    out = pd.DataFrame(
        rows, columns=[c for c in DRIVER_COLUMNS if c not in ("rank", "association", "p_adjusted")]
    )
    for col in ("hazard_ratio", "hr_ci_low", "hr_ci_high", "p_raw", "ph_p"):
        out[col] = out[col].astype(float)
    out["p_adjusted"] = adjust_pvalues(out["p_raw"], p_adjust)
    distance = np.abs(np.log(out["hazard_ratio"].to_numpy(dtype=float)))
    order = np.lexsort(
        (
            out["event"].to_numpy(),
            -np.nan_to_num(distance, nan=-1.0),
            np.nan_to_num(out["p_adjusted"], nan=2.0),
        )
    )
    out = out.iloc[order].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out["association"] = [
        ""
        if math.isnan(p)
        else "no clear association"
        if p >= alpha
        else "lower churn"
        if hr < 1
        else "higher churn"
        for p, hr in zip(out["p_adjusted"], out["hazard_ratio"], strict=True)
    ]
    return out[DRIVER_COLUMNS]


def _note_absence(out: pd.DataFrame, facts: Facts, landmark: int, mask: np.ndarray, names: list) -> None:
    """Say why the table has no hazard ratio at all (no landmark user, or no early event)."""
    if not mask.any():
        add_note(
            out,
            f"not computable: no user is still active at the landmark day {landmark} and observed "
            f"for {landmark + _delay(facts):g} days (landmark_days + the churn delay), so no early "
            "behaviour can be compared",
        )
    elif not names:
        add_note(out, f"not computable: the landmark users have no event in days 0-{landmark - 1}")


def drivers_metrics(table: pd.DataFrame) -> dict:
    """The early-behaviours table as a JSON-ready dict.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`early_behaviours` (its ``attrs`` included).

    Returns
    -------
    dict
        ``{"drivers": {"label": "associations, not causes", "landmark_days", "users",
        "p_adjust", "adjusted_for", "events": {"<event>": {rank, users_did, share_did,
        hazard_ratio, hr_ci_low, hr_ci_high, p_raw, p_adjusted}}}}``; None where not estimable.
    """
    attrs = table.attrs
    events = {
        str(row["event"]): {
            "rank": int(row["rank"]),
            "users_did": int(row["users_did"]),
            "share_did": finite_or_none(row["share_did"]),
            "hazard_ratio": finite_or_none(row["hazard_ratio"]),
            "hr_ci_low": finite_or_none(row["hr_ci_low"]),
            "hr_ci_high": finite_or_none(row["hr_ci_high"]),
            "p_raw": finite_or_none(row["p_raw"]),
            "p_adjusted": finite_or_none(row["p_adjusted"]),
        }
        for row in table.to_dict("records")
    }
    return {
        "drivers": {
            "label": LABEL,
            "landmark_days": attrs.get("landmark_days"),
            "users": attrs.get("users"),
            "p_adjust": attrs.get("p_adjust"),
            "adjusted_for": list(attrs.get("adjusted_for", [])),
            "events": events,
        }
    }


def plot_early_behaviours(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Forest plot of the landmark hazard ratios (log scale, line at 1), in rank order.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`early_behaviours`.
    ax : matplotlib.axes.Axes, optional
        Where to draw the forest plot; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes with one ratio per event ("not estimable" where there is none).

    Examples
    --------
    >>> ax = plot_early_behaviours(early_behaviours(facts))                # doctest: +SKIP
    """
    labels = [f"{e} ({100 * s:.0f}% did)" for e, s in zip(table["event"], table["share_did"], strict=True)]
    ax = hazard_ratio_forest(table, labels, ax=ax)
    landmark = table.attrs.get("landmark_days", "L")
    ax.set_xlabel(
        f"hazard ratio of churn after day {landmark}, did vs did not in days 0-{landmark}; < 1: stay longer"
    )
    ax.set_title(f"Early behaviours and later churn: {LABEL}")
    return ax
