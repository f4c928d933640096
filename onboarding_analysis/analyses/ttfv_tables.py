"""The headline numbers of a TTFV fit: the report's summary table and the ``metrics.json`` section.

Both read a :class:`~onboarding_analysis.analyses.ttfv.TTFVResult` from
:func:`~onboarding_analysis.analyses.ttfv.fit_ttfv`; figures that cannot be estimated (a share
never reached, no converters) are blank in the table and ``null`` in ``metrics.json``
(docs/outputs.md, ``ttfv``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats.finite import finite_or_none
from .ttfv import TTFVResult

__all__ = ["ttfv_metrics", "ttfv_summary"]


def ttfv_summary(result: TTFVResult) -> pd.DataFrame:
    """The headline numbers of a TTFV fit as a small table (``what, estimate, ci_low, ci_high, note``).

    Rows: the eventual share of signups reaching value, the days by which 25/50/75% of signups
    reached value ("not reached" in ``note`` when the curve never gets there), and, labelled
    as biased, the naive median among converters with the number of converters.

    Parameters
    ----------
    result : TTFVResult
        Output of :func:`~onboarding_analysis.analyses.ttfv.fit_ttfv`.

    Returns
    -------
    pandas.DataFrame
        ``what, estimate, ci_low, ci_high, note``, NaN where a figure is not estimable (the
        note says why); ``attrs["row_formats"]`` tells the report to show the first row as a
        percentage and the others as days.
    """
    rows = [
        (
            f"share reaching value by day {result.eventual_share_day:g}",
            result.eventual_share,
            result.eventual_share_ci_low,
            result.eventual_share_ci_high,
            "",
        )
    ]
    for pct, q in sorted(result.days_to.items()):
        rows.append(
            (
                f"days until {pct}% of signups reached value",
                np.nan if q.days is None else q.days,
                np.nan if q.ci_low is None else q.ci_low,
                np.nan if q.ci_high is None else q.ci_high,
                "not reached" if q.days is None else ("upper limit not reached" if q.ci_high is None else ""),
            )
        )
    naive = result.naive_median_days_converters
    rows.append(
        (
            "naive median days to value, converters only",
            np.nan if naive is None else naive,
            np.nan,
            np.nan,
            f"BIASED (short): ignores the {result.users - result.converters} signups without value; "
            f"{result.converters} converters",
        )
    )
    table = pd.DataFrame(rows, columns=["what", "estimate", "ci_low", "ci_high", "note"])
    # How the report formats each row (onboarding_analysis.display.tables): a share, then days.
    table.attrs["row_formats"] = {rows[0][0]: "percent"} | {row[0]: "number" for row in rows[1:]}
    return table


def ttfv_metrics(result: TTFVResult) -> dict[str, dict]:
    """Headline TTFV numbers as a JSON-ready dict.

    Parameters
    ----------
    result : TTFVResult
        The fit, from :func:`~onboarding_analysis.analyses.ttfv.fit_ttfv`.

    Returns
    -------
    dict
        ``{"ttfv": {"reached_by": {"day_<N>": {rate, ci_low, ci_high}}, eventual_share,
        eventual_share_ci, eventual_share_day, days_to_25pct, days_to_50pct, days_to_75pct
        (and ``days_to_<p>pct_ci``), naive_median_days_converters, converters,
        churned_before_value, censored, users}}`` of plain ints and floats; ``None`` where not
        estimable (a share that is not reached, no converters).

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"value_days": [1.5, None], "churned": [False, False],
    ...                       "lifetime_days": [0.0, 0.0], "age_days": [10.0, 10.0]})
    >>> from onboarding_analysis.analyses.ttfv import fit_ttfv
    >>> metrics = ttfv_metrics(fit_ttfv(facts, days=[1, 2], horizon_days=10))["ttfv"]
    >>> metrics["reached_by"]["day_2"]["rate"], metrics["days_to_50pct"], metrics["days_to_75pct"]
    (0.5, 1.5, None)
    """
    metrics: dict = {
        "reached_by": {
            f"day_{int(row.day)}": {
                "rate": finite_or_none(row.rate),
                "ci_low": finite_or_none(row.ci_low),
                "ci_high": finite_or_none(row.ci_high),
            }
            for row in result.reached_by.itertuples()
        },
        "eventual_share": finite_or_none(result.eventual_share),
        "eventual_share_ci": [
            finite_or_none(result.eventual_share_ci_low),
            finite_or_none(result.eventual_share_ci_high),
        ],
        "eventual_share_day": finite_or_none(result.eventual_share_day),
    }
    for pct, quantile in result.days_to.items():
        metrics[f"days_to_{pct}pct"] = finite_or_none(quantile.days)
        metrics[f"days_to_{pct}pct_ci"] = [
            finite_or_none(quantile.ci_low),
            finite_or_none(quantile.ci_high),
        ]
    metrics.update(
        naive_median_days_converters=finite_or_none(result.naive_median_days_converters),
        converters=int(result.converters),
        churned_before_value=int(result.churned_before_value),
        censored=int(result.censored),
        users=int(result.users),
    )
    return {"ttfv": metrics}
