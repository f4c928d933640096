"""Helpers that keep notebooks thin and their outputs reproducible (see NOTEBOOKS.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def setup_notebook() -> None:
    """Display settings for report notebooks: fixed precision, quiet known warnings, plot size.

    Called once at the top of every notebook so the committed outputs (nbval) are stable.
    """
    import matplotlib as mpl

    _inline_plots()
    pd.set_option("display.precision", 3)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.width", 120)
    mpl.rcParams["figure.figsize"] = (8, 4.5)
    mpl.rcParams["figure.dpi"] = 96
    # lifelines' plotting calls tight_layout-incompatible axes on some matplotlib versions.
    warnings.filterwarnings("ignore", message=".*tight_layout.*", category=UserWarning)


def _inline_plots() -> None:
    """Use the inline backend inside a Jupyter kernel, even if ``MPLBACKEND`` says otherwise.

    An inherited ``MPLBACKEND=Agg`` (common in CI) would otherwise make ``plt.show()`` a no-op
    and the report would lose its figures.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return
    shell = get_ipython()
    if shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell":
        shell.run_line_magic("matplotlib", "inline")


def show(table: pd.DataFrame, *, digits: int = 3) -> None:
    """Print ``table`` as plain text with floats rounded to ``digits`` (stable for nbval)."""
    out = table.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
    print(out.to_string(index=False))


def show_value(label: str, value: float | int | None, *, digits: int = 3) -> None:
    """Print one headline number, rounded, or "not reached" for a missing estimate."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        print(f"{label}: not reached")
    elif isinstance(value, int | np.integer):
        print(f"{label}: {int(value)}")
    else:
        print(f"{label}: {float(value):.{digits}f}")


def configured(params, key: str, *, quiet: bool = False) -> bool:
    """Whether params ``key`` is set (non-empty); if not, print the one-line skip note.

    Report sections whose inputs are not configured are skipped with a note naming the param
    that enables them (DESIGN.md), never an error. ``quiet=True`` for the later cells of a
    section, so the note is printed once.
    """
    value = getattr(params, key)
    enabled = value is not None and value != () and value != {} and value != []
    if not enabled and not quiet:
        print(f"Section skipped: set params '{key}' to enable it (see README.md, Params).")
    return enabled
