"""A number for ``metrics.json``: a finite float, or None where the figure is missing."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float, or None when it is None, ``pd.NA``, NaN or infinite.

    Parameters
    ----------
    value : number, None or pandas.NA
        A figure that may be missing.

    Returns
    -------
    float or None
        The finite float, else None (``metrics.json`` holds ``null`` there, never NaN).

    Examples
    --------
    >>> finite_or_none(0.25), finite_or_none(float("nan")), finite_or_none(None)
    (0.25, None, None)
    """
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


__all__ = ["finite_or_none"]
