"""Tables for reading: each cell formatted by what its column means, as HTML and as plain text.

:class:`Table` is what :func:`onboarding_analysis.report.notebook.show` displays. It carries two
representations of the same numbers:

- ``text/plain``: pandas' fixed-width text with floats rounded to ``digits`` (what the
  notebook tests compare; timestamps are printed without microseconds);
- ``text/html``: a real ``<table>`` for the report: shares in percent with one decimal and
  their interval in the same cell, thousands separators, p-values as ``< 0.001`` or
  ``0.012``, dates without microseconds, money with the run's ``currency``, numbers
  right-aligned, the header sticky, a wide table scrolling inside its own box.

How a column is formatted (its *kind*, :data:`KINDS`) is decided, in this order, by

1. the caller's ``formats`` (column -> kind);
2. the table's own ``attrs["formats"]`` (column -> kind) and ``attrs["row_formats"]``
   (value of the first column -> kind, for tables whose rows hold different quantities, such
   as ``what / before / after``), set by the function that builds the table;
3. the column name (:func:`column_kind`): ``p``, ``p_raw``, ``p_adjusted``, ``ph_p``,
   ``p_*`` and ``*_p`` are p-values; ``rate``, ``share*``, ``*_share``, ``survival``, ``cif``,
   ``from_start``, ``from_previous``, ``completion``, ``promoters``, ``passives``,
   ``detractors`` and ``*_churn`` are shares; ``*revenue*`` and ``*mrr*`` are money;
   ``hazard_ratio`` and ``*_ratio`` are ratios; ``df`` and integer columns are counts;
   datetime columns (and columns holding timestamps) are dates;
4. otherwise a plain number rounded to ``digits``, or text.

An interval is a pair of columns ``<prefix>ci_low`` and ``<prefix>ci_high`` right after
its estimate (``rate, ci_low, ci_high``; ``hazard_ratio, hr_ci_low, hr_ci_high``;
``from_previous, from_previous_ci_low, from_previous_ci_high``): in HTML the three become one
cell, the interval under the estimate, in the estimate's format. Missing values are blank in
the text and an en dash in HTML. An empty table is shown as the caller's sentence
(``empty=``), never as ``Empty DataFrame``.
"""

from __future__ import annotations

import html
import math
import numbers
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["KINDS", "Table", "column_kind", "format_value"]

#: The kinds of column :func:`format_value` knows.
KINDS = ("text", "count", "number", "percent", "p", "date", "money", "ratio")

_P = re.compile(r"^(p|p_raw|p_adjusted|ph_p|p_.+|.+_p)$")
_PERCENT = re.compile(
    r"^(rate|share.*|.+_share|survival|cif|from_start|from_previous|completion|promoters|passives"
    r"|detractors|.+_churn)$"
)
_MONEY = re.compile(r".*(revenue|mrr).*")
_RATIO = re.compile(r"^(hazard_ratio|.+_ratio|vs_measured)$")
_MISSING_HTML = "&ndash;"


def column_kind(name: str, values: pd.Series | None = None) -> str:
    """The kind of a column from its name (and dtype): see the module docstring, rule 3.

    Parameters
    ----------
    name : str
        Column name.
    values : pandas.Series, optional
        The column, for its dtype (integers are counts, timestamps are dates).

    Returns
    -------
    str
        One of :data:`KINDS`.

    Examples
    --------
    >>> column_kind("p_adjusted"), column_kind("share_did"), column_kind("projected_year_revenue")
    ('p', 'percent', 'money')
    >>> column_kind("users", pd.Series([1, 2])), column_kind("event", pd.Series(["a"]))
    ('count', 'text')
    """
    name = str(name)
    if values is not None and _is_dates(values):
        return "date"
    if values is not None and not _is_numeric(values):
        return "text"
    if _P.match(name):
        return "p"
    if _PERCENT.match(name):
        return "percent"
    if _MONEY.match(name):
        return "money"
    if _RATIO.match(name):
        return "ratio"
    if name == "df":
        return "count"
    if values is not None and pd.api.types.is_integer_dtype(values):
        return "count"
    return "number"


def _is_numeric(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_numeric_dtype(values):
        return True
    present = values.dropna()
    return len(present) > 0 and all(
        isinstance(v, numbers.Number) and not isinstance(v, bool) for v in present
    )


def _is_dates(values: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    present = values.dropna()
    return len(present) > 0 and all(isinstance(v, pd.Timestamp | np.datetime64) for v in present)


def _missing(value) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_value(value, kind: str, *, digits: int = 3, currency: str | None = None) -> str:
    """One value as the report shows it (``""`` for a missing value).

    Parameters
    ----------
    value : object
        The value.
    kind : str
        One of :data:`KINDS`.
    digits : int, default 3
        Decimals of a plain number (percent always has one, ratios two, money two).
    currency : str, optional
        Currency of money: a code (``EUR``) is written after the amount, a symbol (``$``)
        before it; none: the amount alone.

    Returns
    -------
    str
        The formatted value.

    Examples
    --------
    >>> format_value(0.4291, "percent"), format_value(189953, "count"), format_value(0.0004, "p")
    ('42.9%', '189,953', '< 0.001')
    >>> format_value(257587.4, "money", currency="EUR"), format_value(1234.5, "money", currency="$")
    ('257,587.40 EUR', '$1,234.50')
    >>> format_value(pd.Timestamp("2024-01-01 00:37:59.5"), "date"), format_value(float("nan"), "number")
    ('2024-01-01 00:37:59', '')
    """
    if _missing(value):
        return ""
    if kind == "date" or isinstance(value, pd.Timestamp | np.datetime64):
        return _format_date(pd.Timestamp(value))
    if kind == "text" or isinstance(value, str) or not isinstance(value, numbers.Number):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return ""
    if kind == "percent":
        return f"{number * 100:.1f}%"
    if kind == "p":
        return "< 0.001" if number < 0.0005 else f"{number:.3f}"
    if kind == "count" or (kind == "number" and isinstance(value, numbers.Integral)):
        return f"{number:,.0f}" if number == round(number) else f"{number:,.{digits}f}"
    if kind == "ratio":
        return f"{number:.2f}"
    if kind == "money":
        amount = f"{number:,.2f}"
        if not currency:
            return amount
        if currency.isalpha():
            return f"{amount} {currency}"
        return f"-{currency}{amount[1:]}" if amount.startswith("-") else f"{currency}{amount}"
    return f"{number:,.{digits}f}"


def _format_date(stamp: pd.Timestamp) -> str:
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    if stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


class Table:
    """A table displayed with a ``text/plain`` and a ``text/html`` representation.

    Parameters
    ----------
    data : pandas.DataFrame
        The table (its index is not shown).
    digits : int, default 3
        Decimals of plain numbers (and of floats in the plain text).
    formats : Mapping, optional
        Column -> kind (:data:`KINDS`), overriding the table's ``attrs`` and the column names.
    currency : str, optional
        Currency of money columns (the params ``currency``).
    empty : str, optional
        The sentence shown instead of an empty table (default: "No rows.").
    caption : str, optional
        A note under the table (default: the table's ``attrs["note"]``, if any).
    details : str, optional
        In HTML, put the table in a collapsed ``<details>`` block with this summary line.

    Examples
    --------
    >>> t = Table(pd.DataFrame({"day": [1], "rate": [0.4291], "ci_low": [0.41], "ci_high": [0.45]}))
    >>> print(repr(t))
     day  rate ci_low ci_high
       1 0.429  0.410   0.450
    >>> "42.9%" in t._repr_html_()
    True
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        digits: int = 3,
        formats: Mapping[str, str] | None = None,
        currency: str | None = None,
        empty: str | None = None,
        caption: str | None = None,
        details: str | None = None,
    ) -> None:
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"show expects a pandas DataFrame, got {type(data).__name__}")
        unknown = {k: v for k, v in (formats or {}).items() if v not in KINDS}
        unknown.update({k: v for k, v in data.attrs.get("row_formats", {}).items() if v not in KINDS})
        if unknown:
            raise ValueError(f"unknown column formats {unknown}: expected one of {', '.join(KINDS)}")
        self.data = data
        self.digits = digits
        self.formats = {**data.attrs.get("formats", {}), **(formats or {})}
        self.row_formats = dict(data.attrs.get("row_formats", {}))
        self.currency = currency
        self.empty = empty or "No rows."
        self.caption = caption if caption is not None else data.attrs.get("note")
        self.details = details

    # -- plain text ---------------------------------------------------------------------------
    def __repr__(self) -> str:
        if self.data.empty:
            return self.empty
        out = self.data.copy()
        for col in out.columns:
            if pd.api.types.is_float_dtype(out[col]):
                out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.{self.digits}f}")
            elif _is_dates(out[col]):
                out[col] = out[col].map(lambda v: "" if _missing(v) else _format_date(pd.Timestamp(v)))
            elif out[col].dtype == object:  # None and NaN print as blanks, never "None"/"nan"
                out[col] = out[col].map(lambda v: "" if _missing(v) else v)
        return out.to_string(index=False)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython's text/plain
        printer.text(repr(self))

    # -- HTML ---------------------------------------------------------------------------------
    def kinds(self) -> dict[str, str]:
        """Column -> kind used for the HTML (rules 1-4 of the module docstring).

        Returns
        -------
        dict of str to str
            One kind of :data:`KINDS` per column.
        """
        return {col: self.formats.get(col) or column_kind(col, self.data[col]) for col in self.data.columns}

    def _groups(self) -> list[tuple[str, str | None, str | None]]:
        """(estimate, ci_low, ci_high) columns; the bounds are None for a column on its own."""
        cols = [str(c) for c in self.data.columns]
        groups: list[tuple[str, str | None, str | None]] = []
        i = 0
        while i < len(cols):
            col = cols[i]
            nxt = cols[i + 1] if i + 1 < len(cols) else ""
            after = cols[i + 2] if i + 2 < len(cols) else ""
            if (
                nxt.endswith("ci_low")
                and after == nxt[: -len("low")] + "high"
                and not col.endswith("ci_high")
            ):
                groups.append((col, nxt, after))
                i += 3
            else:
                groups.append((col, None, None))
                i += 1
        return groups

    def _repr_html_(self) -> str:
        esc = html.escape
        if self.data.empty:
            body = f'<p class="oa-empty">{esc(self.empty)}</p>'
            return self._wrap(body)
        kinds = self.kinds()
        groups = self._groups()
        first = str(self.data.columns[0])
        heads = []
        for est, low, _ in groups:
            numeric = kinds[est] != "text"
            label = esc(est.replace("_", " "))
            if low is not None:
                label += ' <span class="oa-ci">95% CI</span>'
            if kinds[est] == "money" and self.currency:
                label += f" ({esc(self.currency)})"
            heads.append(f'<th scope="col" class="{"oa-num" if numeric else "oa-text"}">{label}</th>')
        rows = []
        for _, row in self.data.iterrows():
            row_kind = self.row_formats.get(str(row[first])) if self.row_formats else None
            cells = []
            for n, (est, low, high) in enumerate(groups):
                kind = kinds[est]
                if row_kind is not None and kind in ("number", "count", "percent", "ratio", "money"):
                    kind = row_kind
                text = self._cell(row[est], kind)
                if low is not None and not (_missing(row[low]) and _missing(row[high])):
                    bounds = f"{self._cell(row[low], kind)}&ndash;{self._cell(row[high], kind)}"
                    text += f'<span class="oa-ci">{bounds}</span>'
                align = "oa-text" if kinds[est] == "text" else "oa-num"
                tag = "th" if n == 0 and kinds[est] == "text" else "td"
                scope = ' scope="row"' if tag == "th" else ""
                cells.append(f'<{tag}{scope} class="{align}">{text}</{tag}>')
            rows.append(f"<tr>{''.join(cells)}</tr>")
        table = (
            f'<table class="oa-table"><thead><tr>{"".join(heads)}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
        body = f'<div class="oa-scroll">{table}</div>'
        if self.caption:
            body += f'<p class="oa-caption">{esc(str(self.caption))}</p>'
        return self._wrap(body)

    def _cell(self, value, kind: str) -> str:
        text = format_value(value, kind, digits=self.digits, currency=self.currency)
        return html.escape(text) if text else _MISSING_HTML

    def _wrap(self, body: str) -> str:
        if self.details:
            return (
                f'<details class="oa-details"><summary>{html.escape(self.details)}</summary>{body}</details>'
            )
        return f'<div class="oa-block">{body}</div>'
