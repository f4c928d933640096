"""Column names of the user-facts table: the one place they are spelled out.

The user-facts table (built by :mod:`onboarding_analysis.data.facts`) has one row per user.
Durations are fractional days since the user's signup ``t0``; day indices are
``floor((ts - t0) / 24h)`` (``docs/metrics.md``, "Time base").

=====================  ===========================================================
column                 meaning
=====================  ===========================================================
``user_id``            the user's identifier, always a string
``t0``                 signup time, UTC, timezone-naive ``datetime64[ns]``
``age_days``           ``(T - t0) / 24h``: how long the user has been observable
``n_events``           events of the user used in the analysis (``t0 <= ts <= T``)
``last_active_days``   duration to the last active event (NaN if never active)
``last_active_day``    day index of the last active event (-1 if never active)
``churned``            True if churn was observed (inactivity or churn-event rule)
``lifetime_days``      time to churn if ``churned``, else the censoring time
``value_days``         duration to the first value event (NaN if not reached)
``active_day_<N>``     active on day index N, for every N in params ``retention_days``
``active_days_mask``   bit k set: active on day index k (k = 0..62)
``active_weeks_mask``  bit k set: active in days ``[7k, 7k+7)`` (k = 0..62)
``active_months_mask`` bit k set: active in days ``[30k, 30k+30)`` (k = 0..62)
segment columns        one column per params ``segments`` entry (strings, may be null)
=====================  ===========================================================
"""

from __future__ import annotations

USER_ID = "user_id"
T0 = "t0"
AGE = "age_days"
N_EVENTS = "n_events"
LAST_ACTIVE = "last_active_days"
LAST_ACTIVE_DAY = "last_active_day"
CHURNED = "churned"
LIFETIME = "lifetime_days"
VALUE = "value_days"
DAYS_MASK = "active_days_mask"
WEEKS_MASK = "active_weeks_mask"
MONTHS_MASK = "active_months_mask"

#: Highest period index a ``*_mask`` column can hold (bits 0..62 of an int64).
MASK_BITS = 63

#: Period lengths, in days, of the two mask columns used by cohort tables.
PERIOD_DAYS = {"week": 7, "month": 30}
PERIOD_MASK = {"week": WEEKS_MASK, "month": MONTHS_MASK}


def active_day(n: int) -> str:
    """Name of the flag column "active on day index ``n``".

    Parameters
    ----------
    n : int
        The day index.

    Returns
    -------
    str
        ``active_day_<n>``.
    """
    return f"active_day_{int(n)}"
