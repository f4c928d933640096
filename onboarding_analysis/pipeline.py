"""From params to the user-facts table: the first step of every notebook.

Examples
--------
>>> import onboarding_analysis as oa                                 # doctest: +SKIP
>>> facts = oa.compute_facts(oa.load_params("params/demo.yaml"))     # doctest: +SKIP
>>> facts.accounting.events_used                                     # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd

from .facts import Facts, build_facts
from .loading import load
from .params import Params


def compute_facts(params: Params) -> Facts:
    """Load the inputs of ``params`` with DuckDB and build the user-facts table."""
    return build_facts(load(params), params)


def run_metrics(facts: Facts) -> dict:
    """The ``run`` and ``data`` sections of metrics.json for a facts table."""
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
