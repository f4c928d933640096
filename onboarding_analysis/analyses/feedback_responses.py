"""Feedback responses: the scored survey events of a run, checked against the score scale.

:func:`all_responses` reads params ``feedback_event`` from the used events (only those rows
reach pandas) and stops on a score off the ``score_scale``; :func:`latest_per_user` keeps each
user's latest answer. Used by :mod:`onboarding_analysis.analyses.feedback` and the readiness
scorecard.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..data.facts import Facts
from ..errors import DataError, ParamsError

__all__ = ["SCALES", "all_responses", "latest_per_user", "latest_responses", "require_feedback"]

#: Score range per ``score_scale``.
SCALES = {"nps": (0, 10), "csat": (1, 5)}


def require_feedback(facts: Any) -> Facts:
    """``facts``, checked: a Facts object with its events and params ``feedback_event`` set.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts`.

    Returns
    -------
    Facts
        ``facts`` itself.

    Raises
    ------
    TypeError
        Not a Facts object with events.
    ParamsError
        params ``feedback_event`` is not set.
    """
    if not isinstance(facts, Facts) or facts.events is None:
        raise TypeError(f"feedback needs the Facts object of compute_facts(params), but got {type(facts)!r}")
    if facts.params.feedback_event is None:
        raise ParamsError("feedback needs params feedback_event: the survey event whose value is the score")
    return facts


def all_responses(facts: Facts) -> tuple[pd.DataFrame, int]:
    """Every scored feedback event, and how many feedback events have no score.

    Parameters
    ----------
    facts : Facts
        Output of :func:`onboarding_analysis.data.pipeline.compute_facts` with params
        ``feedback_event`` set.

    Returns
    -------
    responses : pandas.DataFrame
        ``user_id``, ``ts``, ``score``, sorted by user, time and score.
    missing : int
        Feedback events without a score (left out).

    Raises
    ------
    TypeError
        ``facts`` is not a Facts object with its events.
    ParamsError
        params ``feedback_event`` is not set.
    DataError
        A score is off the ``score_scale`` or not a whole number.
    """
    facts = require_feedback(facts)
    name = facts.params.feedback_event
    events = facts.events
    rows = events.filter(events.event == name)
    if "value" in events.columns:
        frame = rows.select("user_id", "ts", score=rows.value.cast("float64")).to_pandas()
    else:
        frame = rows.select("user_id", "ts").to_pandas().assign(score=math.nan)
    missing = int(frame["score"].isna().sum())
    frame = frame.dropna(subset=["score"])
    low, high = SCALES[facts.params.score_scale]
    bad = (frame["score"] < low) | (frame["score"] > high) | (frame["score"] != np.floor(frame["score"]))
    if bad.any():
        example = frame.loc[bad].iloc[0]
        raise DataError(
            f"'{name}' scores must be whole numbers from {low} to {high} (score_scale: "
            f"{facts.params.score_scale}), but {int(bad.sum())} are not (e.g. {example['score']!r} of user "
            f"{example['user_id']!r}). Check params score_scale (nps: 0-10, csat: 1-5)."
        )
    frame["user_id"] = frame["user_id"].astype(str)
    frame["ts"] = pd.to_datetime(frame["ts"]).astype("datetime64[ns]")
    frame = frame.sort_values(["user_id", "ts", "score"], kind="stable").reset_index(drop=True)
    return frame, missing


def latest_responses(facts: Facts) -> pd.DataFrame:
    """One row per responding user: ``user_id``, ``ts``, ``score`` of the latest scored response.

    Ties (two answers at the same instant): the higher score.

    Parameters
    ----------
    facts : Facts
        The run's facts (params ``feedback_event`` names the survey).

    Returns
    -------
    pandas.DataFrame
        The latest scored response of each user who answered.
    """
    frame, _ = all_responses(facts)
    return latest_per_user(frame)


def latest_per_user(frame: pd.DataFrame) -> pd.DataFrame:
    """The last row of each user of responses sorted by user, time and score.

    Parameters
    ----------
    frame : pandas.DataFrame
        Responses as :func:`all_responses` returns them.

    Returns
    -------
    pandas.DataFrame
        One row per user: the latest answer (the higher score on a tie).
    """
    return frame.groupby("user_id", sort=False).tail(1).reset_index(drop=True)
