"""From params to the user-facts table: the first step of every notebook.

Examples
--------
>>> import onboarding_analysis as oa                                 # doctest: +SKIP
>>> facts = oa.compute_facts(oa.load_params("params/demo.yaml"))     # doctest: +SKIP
>>> facts.accounting.events_used                                     # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from ..params import Params
from . import cache as facts_cache
from .engines import load_with
from .facts import Facts, build_facts


def compute_facts(
    params: Params, *, con: Any | None = None, cache: bool | str | os.PathLike[str] | None = None
) -> Facts:
    """Load the inputs of ``params`` and build the user-facts table (or read it from the cache).

    Parameters
    ----------
    params
        The run's params. ``engine`` (``duckdb`` or ``spark``) picks the query engine when
        ``con`` is not given.
    con
        An ibis connection to run on instead: DuckDB, or pyspark (a local or cluster session,
        see :mod:`onboarding_analysis.data.engines`). The result is the same on every engine.
    cache
        None (default): use the facts cache of :mod:`onboarding_analysis.data.cache` unless the
        environment variable ``ONBOARDING_ANALYSIS_CACHE`` is ``off``; False: compute anew
        and store nothing; True or a folder: use that cache. A hit skips the aggregation only:
        the inputs are still opened (lazily), so ``facts.events`` works as after a miss.

    Returns
    -------
    Facts
        The user-facts table with its row accounting and the lazy used events.
    """
    directory = facts_cache.cache_dir(params, cache)
    if directory is None:
        return build_facts(load_with(params, con), params)
    key = facts_cache.cache_key(params)
    hit = facts_cache.read(directory, key)
    if hit is None:
        # One builder at a time: a notebook running in parallel waits for the entry, then reads it.
        with facts_cache.building(directory, key):
            hit = facts_cache.read(directory, key)
            if hit is None:
                facts = build_facts(load_with(params, con), params)
                facts_cache.write(directory, key, facts_cache.entry_of(facts))
                return facts
    return facts_cache.facts_from(hit, load_with(params, con, known=hit.scan), params)


def run_metrics(facts: Facts) -> dict:
    """Return the ``run`` and ``data`` sections of metrics.json for a facts table.

    Parameters
    ----------
    facts : Facts
        The run's facts.

    Returns
    -------
    dict
        ``run`` (client, observation end) and ``data`` (the accounting and the first signup, None
        without users).
    """
    return {
        "run": {
            "client": facts.params.client,
            "observation_end": facts.observation_end.isoformat(),
        },
        "data": facts.accounting.as_metrics()
        | {"first_signup": facts.table["t0"].min().isoformat() if len(facts.table) else None},
    }


def data_summary(facts: Facts) -> pd.DataFrame:
    """Row accounting as a small table: rows read, used, and excluded per reason.

    The ``events`` rows add up: ``read == used + sum(excluded)``.

    Parameters
    ----------
    facts : Facts
        The run's facts.

    Returns
    -------
    pandas.DataFrame
        Columns ``what`` and ``count``: the event and user counts, then the first signup and the
        observation end as text.
    """
    acc = facts.accounting
    rows = [("events read", acc.events_read), ("events used", acc.events_used)]
    rows += [(f"events excluded: {reason}", n) for reason, n in acc.excluded.items()]
    rows += [("users analysed", acc.users)]
    rows += [(f"users excluded: {reason}", n) for reason, n in acc.users_excluded.items()]
    table = pd.DataFrame(rows, columns=["what", "count"])
    period = pd.DataFrame(
        [
            ("first signup (UTC)", str(facts.table["t0"].min()) if len(facts.table) else "none"),
            ("observation end (UTC)", str(facts.observation_end)),
        ],
        columns=["what", "count"],
    )
    return pd.concat([table, period], ignore_index=True)
