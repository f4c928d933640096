"""The demo's event vocabulary and the arrays its event log is assembled from.

Event names, the columns of the written tables, and :class:`EventArrays`, the per-event columns
(user, event code, offset from signup in microseconds, value) that the generation steps append to
before :mod:`onboarding_analysis.demo.generator` turns them into the event log. The story the
events tell is in ``docs/demo.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CHECKLIST_SHOWN",
    "DAY_US",
    "EVENT_CODE",
    "EVENT_COLUMNS",
    "EVENT_NAMES",
    "FEATURES",
    "FEEDBACK",
    "MINUTE_US",
    "MOMENT_KINDS",
    "REVENUE_EVENT",
    "SESSION_EVENT",
    "SIGNUP_EVENT",
    "STEPS",
    "TIMED_EVENTS",
    "TOUR_COMPLETED",
    "TOUR_SHOWN",
    "USER_COLUMNS",
    "VALUE_EVENT",
    "EventArrays",
    "segment_cumsum",
    "to_us",
]

#: Microseconds per day and per minute: every time of the generator is integer microseconds.
DAY_US = 86_400_000_000
MINUTE_US = 60_000_000

SIGNUP_EVENT = "signed_up"
SESSION_EVENT = "session_start"
STEPS = ("completed_profile", "connected_data", "created_report")
VALUE_EVENT = "created_report"
FEATURES = ("used_dashboard", "invited_teammate", "exported_csv")
TOUR_SHOWN = "tour_shown"
TOUR_COMPLETED = "tour_completed"
CHECKLIST_SHOWN = "checklist_shown"
FEEDBACK = "feedback_submitted"
#: Revenue event: ``value`` is the account's MRR after the change (step 10 of the story).
REVENUE_EVENT = "mrr_changed"
#: Kinds of planted moments of truth (step 9), in the order of ``docs/metrics.md``.
MOMENT_KINDS = ("crisis", "relationship_change", "unexpected_win")
EVENT_NAMES = (
    SIGNUP_EVENT,
    *STEPS,
    SESSION_EVENT,
    *FEATURES,
    TOUR_SHOWN,
    TOUR_COMPLETED,
    CHECKLIST_SHOWN,
    FEEDBACK,
    REVENUE_EVENT,
)
#: Events whose first occurrence is a column ``<event>_days`` of the truth frame.
TIMED_EVENTS = (*STEPS, *FEATURES, TOUR_SHOWN, TOUR_COMPLETED, CHECKLIST_SHOWN, FEEDBACK)

#: Columns of the event log and of the users table.
EVENT_COLUMNS = ("user_id", "event", "timestamp", "client", "account_id", "value")
USER_COLUMNS = ("user_id", "signup_at", "client", "persona", "plan", "channel", "account_id")

#: The int8 code of each event name in :class:`EventArrays`.
EVENT_CODE = {name: code for code, name in enumerate(EVENT_NAMES)}


@dataclass
class EventArrays:
    """Event columns under construction: owner (user index), code, offset from t0 (us), value.

    Each attribute is a list of arrays, one per :meth:`add`; :meth:`cut` joins them.

    Attributes
    ----------
    owner, code, offset, value : list of numpy.ndarray
        The arrays collected so far (default: none).
    """

    owner: list[np.ndarray] = field(default_factory=list)
    code: list[np.ndarray] = field(default_factory=list)
    offset: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)

    def add(self, owner: np.ndarray, event: str, offset: np.ndarray, value=None) -> None:
        """Append one event per entry of ``owner``.

        Parameters
        ----------
        owner : numpy.ndarray
            The user (index in signup order) of each event.
        event : str
            The event name, one of :data:`EVENT_NAMES`.
        offset : numpy.ndarray
            Microseconds after the user's signup.
        value : numpy.ndarray, optional
            The events' ``value`` (default NaN).
        """
        self.owner.append(np.asarray(owner, dtype=np.int64))
        self.code.append(np.full(len(owner), EVENT_CODE[event], dtype=np.int8))
        self.offset.append(np.asarray(offset, dtype=np.int64))
        fill = np.full(len(owner), np.nan) if value is None else np.asarray(value, dtype=float)
        self.value.append(fill)

    def cut(self, window_us: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The collected events inside their user's written window, as four joined arrays.

        Parameters
        ----------
        window_us : numpy.ndarray
            Per user, the last offset (inclusive) that is written.

        Returns
        -------
        tuple of numpy.ndarray
            ``(owner, code, offset, value)`` of the events with ``offset <= window_us[owner]``.
        """
        owner = np.concatenate(self.owner)
        offset = np.concatenate(self.offset)
        inside = offset <= window_us[owner]
        return owner[inside], np.concatenate(self.code)[inside], offset[inside], np.concatenate(self.value)[inside]


def to_us(days: np.ndarray) -> np.ndarray:
    """Days to integer microseconds, at least 1 us (events never coincide with ``t0``).

    Parameters
    ----------
    days : numpy.ndarray
        Durations in days.

    Returns
    -------
    numpy.ndarray of int64
        The durations rounded to the microsecond, at least 1.
    """
    return np.maximum(np.rint(np.asarray(days) * DAY_US), 1).astype(np.int64)


def segment_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each segment (``counts`` >= 1 consecutive values each).

    Parameters
    ----------
    values : numpy.ndarray
        The values, segment after segment.
    counts : numpy.ndarray
        The length of each segment (each at least 1).

    Returns
    -------
    numpy.ndarray
        The running sum of ``values`` within each segment.

    Examples
    --------
    >>> segment_cumsum(np.array([1, 2, 3, 4]), np.array([2, 2])).tolist()
    [1, 3, 3, 7]
    """
    ends = np.cumsum(counts)
    starts = ends - counts
    totals = np.add.reduceat(values, starts)
    adjusted = values.copy()
    adjusted[starts[1:]] -= totals[:-1]
    return np.cumsum(adjusted)
