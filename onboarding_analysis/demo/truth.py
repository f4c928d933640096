"""The exact ground truth of the demo: the quantities the report estimates, by construction.

Computed from the spec and the truth frame of :func:`onboarding_analysis.demo.generator.generate`,
never from the event log: the lifetime survival curve of any set of users
(:func:`true_lifetime_survival`), the hazard ratios (:func:`true_hazard_ratios`) and the monthly
revenue flows and net revenue churn (:func:`true_revenue_months`, :func:`true_monthly_net_churn`).
The tests hold the report's estimates to them; ``docs/demo.md`` says how each relates to the
definitions of ``docs/metrics.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..errors import DataError
from .draws import persona_values, user_hazard_ratios
from .events import DAY_US
from .spec import DEFAULT_SPEC, DemoSpec

__all__ = [
    "REVENUE_MONTH_COLUMNS",
    "true_hazard_ratios",
    "true_lifetime_survival",
    "true_monthly_net_churn",
    "true_revenue_months",
]


def _truth_codes(truth: pd.DataFrame, column: str, names: Mapping) -> np.ndarray:
    """Positions of ``truth[column]`` values in ``names``; DataError on unknown values."""
    if column not in truth.columns:
        raise DataError(f"truth frame has no column {column!r}; pass DemoData.truth")
    known = list(names)
    codes = pd.Categorical(truth[column], categories=known).codes
    if (codes < 0).any():
        bad = truth.loc[codes < 0, column].iloc[0]
        raise DataError(f"truth column {column!r} has {bad!r}, not one of {known}")
    return np.asarray(codes, dtype=np.int64)


def true_lifetime_survival(
    t,
    truth: pd.DataFrame,
    spec: DemoSpec = DEFAULT_SPEC,
    *,
    given_never_active: bool = False,
) -> np.ndarray:
    """Exact ``P(L >= t)`` for the users of ``truth``, vectorised over ``t`` (days).

    Each user's lifetime is a point mass ``never_active(persona)`` at 0 mixed with an
    exponential of rate ``hazard_ratio / baseline_mean_lifetime_days``; the population curve
    is the average of the users' curves: ``1`` for ``t <= 0``, else
    ``mean((1 - never_active) * exp(-rate * t))``. Rates are recomputed from ``spec`` and the
    users' ``persona``, ``plan`` and ``after_change``. Exact up to the rounding of ``L`` to the
    microsecond.

    Parameters
    ----------
    t : float or array-like
        Scalar or array of durations in days.
    truth : pandas.DataFrame
        ``DemoData.truth`` or a subset of its rows (e.g. one segment).
    spec : DemoSpec
        The spec the data was generated with.
    given_never_active : bool, default False
        If True, condition on each user's realised ``never_active`` flag (a never-active user
        contributes ``L = 0``, the others their exponential) instead of the persona's
        probability; with ``truth[~truth.never_active]`` this is the law of ``L`` given
        ``L > 0``.

    Returns
    -------
    numpy.ndarray
        ``P(L >= t)``, same shape as ``t``.

    Raises
    ------
    DataError
        If ``truth`` has no rows, lacks a column, or names a persona or plan the spec lacks.

    Examples
    --------
    >>> from onboarding_analysis.demo.generator import generate
    >>> data = generate(DemoSpec(n_users=300), seed=5)
    >>> s = true_lifetime_survival([0, 30, 60], data.truth, data.spec)
    >>> bool(s[0] == 1.0 and s[1] > s[2] > 0)
    True
    """
    if len(truth) == 0:
        raise DataError("truth frame has no rows: the survival of an empty population is undefined")
    persona = _truth_codes(truth, "persona", spec.personas)
    plan = _truth_codes(truth, "plan", spec.plan_hazard_ratio)
    after = truth["after_change"].to_numpy(dtype=bool)
    rate = user_hazard_ratios(spec, persona, plan, after) / spec.baseline_mean_lifetime_days
    if given_never_active:
        active_share = (~truth["never_active"].to_numpy(dtype=bool)).astype(float)
    else:
        active_share = 1.0 - persona_values(spec, "never_active")[persona]
    groups, counts = np.unique(np.column_stack([rate, active_share]), axis=0, return_counts=True)
    weights = counts / counts.sum() * groups[:, 1]
    t_arr = np.asarray(t, dtype=float)
    flat = t_arr.reshape(-1)
    survival = weights @ np.exp(-np.outer(groups[:, 0], np.maximum(flat, 0.0)))
    survival = np.where(flat <= 0, 1.0, survival)
    return survival.reshape(t_arr.shape)


def true_hazard_ratios(spec: DemoSpec = DEFAULT_SPEC) -> dict:
    """Return the true lifetime hazard ratios of the demo (exact for ever-active users).

    Parameters
    ----------
    spec : DemoSpec
        The spec the data was generated with.

    Returns
    -------
    dict
        ``"persona"`` and ``"plan"``: name -> hazard multiplier; ``"change"``: multiplier for
        users signing up on or after ``change_date``; ``"channel"`` and ``"client"``: name ->
        1.0 (no effect given persona and plan); ``"baseline_hazard_per_day"``: the hazard of a
        multiplier-1 user. A ratio between two groups is the ratio of their multipliers.

    Examples
    --------
    >>> true_hazard_ratios()["persona"]["developer"]
    0.6
    """
    return {
        "persona": {name: float(p.hazard_ratio) for name, p in spec.personas.items()},
        "plan": {name: float(r) for name, r in spec.plan_hazard_ratio.items()},
        "change": float(spec.change_hazard_ratio),
        "channel": dict.fromkeys(spec.channel_mix, 1.0),
        "client": dict.fromkeys(spec.clients, 1.0),
        "baseline_hazard_per_day": 1.0 / float(spec.baseline_mean_lifetime_days),
    }


#: Columns of :func:`true_revenue_months` (the MRR flows of :mod:`onboarding_analysis.analyses.revenue`).
REVENUE_MONTH_COLUMNS = (
    "month",
    "accounts",
    "starting_mrr",
    "churned_mrr",
    "contraction_mrr",
    "expansion_mrr",
    "new_mrr",
    "net_churn",
)


def _truth_us(values: pd.Series) -> np.ndarray:
    """Truth durations (days) back to the integer microseconds they were made from."""
    return np.rint(values.to_numpy(dtype=float) * DAY_US).astype(np.int64)


def true_revenue_months(truth: pd.DataFrame, spec: DemoSpec = DEFAULT_SPEC) -> pd.DataFrame:
    """The true MRR flows of every complete calendar month (UTC) before ``T``, by construction.

    Rebuilt from the truth columns alone (step 10 of the story): a user with a seat
    (``seat_start_days`` not NaN) adds ``seat_price`` to the account's MRR from ``signup_at +
    seat_start_days`` and removes it at ``signup_at + lifetime_days``. An account's MRR at a
    month start ``b`` counts the seats started before ``b`` and not ended before ``b`` (the
    revenue events strictly before ``b``). The definitions are those of
    :mod:`onboarding_analysis.analyses.revenue`: over the accounts paying at the month's start,
    ``net_churn = 1 - sum(MRR at the end) / sum(MRR at the start)``; new business (accounts
    paying nothing at the start) is ``new_mrr``, outside the rate.

    Parameters
    ----------
    truth : pandas.DataFrame
        ``DemoData.truth``.
    spec : DemoSpec
        The spec the data was generated with (its observation end).

    Returns
    -------
    pandas.DataFrame
        :data:`REVENUE_MONTH_COLUMNS`, one row per month from the month of the first seat to the
        last month ending at or before ``T``; ``month`` is its first day (UTC, timezone-naive).

    Raises
    ------
    DataError
        If ``truth`` lacks one of the columns the flows are rebuilt from.

    Examples
    --------
    >>> from onboarding_analysis.demo.generator import generate
    >>> data = generate(DemoSpec(n_users=300), seed=2)
    >>> months = true_revenue_months(data.truth, data.spec)
    >>> bool((months["starting_mrr"] >= 0).all())
    True
    """
    for column in ("account_id", "signup_at", "lifetime_days", "seat_start_days", "seat_price"):
        if column not in truth.columns:
            raise DataError(f"truth frame has no column {column!r}; pass DemoData.truth")
    seats = truth[truth["seat_start_days"].notna()]
    t0 = pd.to_datetime(seats["signup_at"], utc=True).dt.tz_localize(None)
    t0_us = t0.to_numpy().astype("datetime64[us]").astype(np.int64)
    start = t0_us + _truth_us(seats["seat_start_days"])
    end = t0_us + _truth_us(seats["lifetime_days"])
    accounts, code = np.unique(seats["account_id"].to_numpy(dtype=str), return_inverse=True)
    price = seats["seat_price"].to_numpy(dtype=float)
    stop = spec.observation_end_timestamp.tz_localize(None)
    if len(seats) == 0:
        return pd.DataFrame(columns=list(REVENUE_MONTH_COLUMNS))
    first = pd.Timestamp(start.min().astype("datetime64[us]"))
    bounds = pd.date_range(first.to_period("M").to_timestamp(), stop.to_period("M").to_timestamp(), freq="MS")
    b_us = bounds.to_numpy().astype("datetime64[us]").astype(np.int64)
    mrr = np.stack(
        [
            np.bincount(code, weights=price * ((start < b) & (end >= b)), minlength=len(accounts))
            for b in b_us
        ],
        axis=1,
    )
    s, e = mrr[:, :-1], mrr[:, 1:]
    paying = s > 0
    out = pd.DataFrame(
        {
            "month": bounds[:-1],
            "accounts": paying.sum(axis=0).astype("int64"),
            "starting_mrr": s.sum(axis=0),
            "churned_mrr": np.where(paying & (e == 0), s, 0.0).sum(axis=0),
            "contraction_mrr": np.where(paying & (e > 0) & (e < s), s - e, 0.0).sum(axis=0),
            "expansion_mrr": np.where(paying & (e > s), e - s, 0.0).sum(axis=0),
            "new_mrr": np.where(~paying, e, 0.0).sum(axis=0),
        }
    )
    kept = np.where(paying, e, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["net_churn"] = np.where(out["starting_mrr"] > 0, 1.0 - kept / out["starting_mrr"], np.nan)
    return out


def true_monthly_net_churn(truth: pd.DataFrame, spec: DemoSpec = DEFAULT_SPEC) -> float:
    """The true pooled monthly net revenue churn before ``T``: ``1 - sum(kept) / sum(start)``.

    Pooled over the months of :func:`true_revenue_months` (the starting-MRR-weighted mean of
    their ``net_churn``): what :func:`onboarding_analysis.analyses.revenue.revenue_churn` must report on
    the demo log, exactly.

    Parameters
    ----------
    truth : pandas.DataFrame
        ``DemoData.truth``.
    spec : DemoSpec
        The spec the data was generated with.

    Returns
    -------
    float
        The pooled rate; NaN when no month starts with paying accounts.

    Examples
    --------
    >>> from onboarding_analysis.demo.generator import generate
    >>> data = generate(DemoSpec(n_users=300), seed=2)
    >>> -1 < true_monthly_net_churn(data.truth, data.spec) < 1
    True
    """
    months = true_revenue_months(truth, spec)
    start = months["starting_mrr"].sum()
    if start <= 0:
        return math.nan
    lost = (months["churned_mrr"] + months["contraction_mrr"] - months["expansion_mrr"]).sum()
    return float(lost / start)
