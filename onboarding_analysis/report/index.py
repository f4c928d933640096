"""The index page of a batch: every run, its status, headline figures, first finding, report link.

:func:`write_index` writes ``<out_dir>/index.html``, one self-contained page (inline CSS and a
few lines of inline script to sort the table by any column; no external resource). Per run it
shows the users, the headline figures of the report's "At a glance" block with their 95%
intervals (day-1/7/30 retention, value by day 7, onboarding completed, median lifetime) and the
first finding, from each run's ``metrics.json`` (:func:`headline`); a failed run shows why, with
links to its ``error.txt`` and partially executed notebooks. On a phone (narrower than 700 px)
every run becomes a card: its figures two by two, each under its name.

Examples
--------
>>> h = headline({"data": {"users": 1200}, "retention": {"day_7": {"rate": 0.31, "ci_low": 0.28,
...               "ci_high": 0.34, "eligible": 1100}}})
>>> h["users"], h["figures"]["retention_day_7"]["text"], h["first_finding"]
(1200, '31.0% (28.0-34.0%)', None)
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from .atomic_write import write_text_atomic
from .execution import REPORT_FILE
from .failures import ERROR_FILE
from .metrics_io import METRICS_FILE, MetricsError, read_metrics
from .summary import SUMMARY_ID, build_summary, summary_metrics

#: File name of the index page inside the batch's output folder.
INDEX_FILE = "index.html"

#: Shown for a median (lifetime) that more than half of the users outlive.
NOT_REACHED = "not reached"

#: The headline figures shown per run: ``summary.headline`` key -> column title.
COLUMNS = {
    "retention_day_1": "Day-1 retention",
    "retention_day_7": "Day-7 retention",
    "retention_day_30": "Day-30 retention",
    "value_by_day_7": "Value by day 7",
    "funnel_completion": "Onboarding completed",
    "median_lifetime": "Median lifetime",
}


class RunLike(Protocol):
    """What the index needs of a run (:class:`onboarding_analysis.report.batch.RunResult` has it)."""

    name: str
    status: str
    run_dir: Path
    error: str | None


def headline(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """What the index shows of one run, from its metrics.

    Parameters
    ----------
    metrics : Mapping
        The run's ``metrics.json`` content.

    Returns
    -------
    dict
        ``users`` (``data.users``, or None), ``figures`` (``summary.headline``: key ->
        ``{label, unit, value, ci_low, ci_high, n, n_label, text, note}``) and
        ``first_finding`` (the text of ``summary.findings[0]``, or None). For metrics
        without a ``summary`` (recorded before it existed) it is computed from the metrics
        (:func:`onboarding_analysis.report.summary.build_summary`). Odd shapes never raise.
    """
    summary = _get(metrics, "summary")
    if not isinstance(summary, Mapping):
        summary = summary_metrics(build_summary(metrics))["summary"]
    figures = summary.get("headline")
    if isinstance(figures, Mapping):
        figures = {str(key): value for key, value in figures.items() if isinstance(value, Mapping)}
    else:
        figures = {}
    found = summary.get("findings")
    first = found[0] if isinstance(found, list) and found else None
    text = first.get("text") if isinstance(first, Mapping) else None
    users = _get(_get(metrics, "data"), "users")
    return {
        "users": users if _is_number(users) else None,
        "figures": figures,
        "first_finding": text if isinstance(text, str) and text else None,
    }


def _get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, Mapping) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def write_index(
    out_dir: str | os.PathLike[str],
    runs: Sequence[RunLike],
    *,
    title: str = "Onboarding reports",
    seconds: float | None = None,
    jobs: int | None = None,
) -> Path:
    """Write ``<out_dir>/index.html`` listing ``runs`` (in the order given) and return its path.

    Parameters
    ----------
    out_dir : path
        The batch's output folder; run folders are ``run.run_dir`` (linked relative to it).
    runs : sequence
        Objects with ``name``, ``status`` (``"ok"``/``"failed"``), ``run_dir`` and ``error``.
    title : str
        Page title.
    seconds, jobs : optional
        The batch's wall time and parallel jobs, shown under the title.


    Returns
    -------
    Path
        ``<out_dir>/index.html``.

    Examples
    --------
    >>> write_index("reports", batch.runs)                              # doctest: +SKIP
    PosixPath('reports/index.html')
    """
    out_dir = Path(out_dir)
    rows = [_row(out_dir, run) for run in runs]
    n_failed = sum(run.status != "ok" for run in runs)
    facts = [
        f"{len(runs)} run{'s' if len(runs) != 1 else ''}",
        f"{len(runs) - n_failed} ok",
        f"{n_failed} failed",
    ]
    if seconds is not None:
        facts.append(
            f"{seconds:.0f} s" + (f" with {jobs} parallel job{'s' if jobs != 1 else ''}" if jobs else "")
        )
    page = _PAGE.format(
        title=html.escape(title),
        facts=html.escape(", ".join(facts)),
        rows="\n".join(rows),
        css=_CSS,
        script=_SCRIPT,
        figure_heads="\n".join(
            f'<th scope="col" data-type="number"><button type="button">{html.escape(title)}</button></th>'
            for title in COLUMNS.values()
        ),
    )
    return write_text_atomic(out_dir / INDEX_FILE, page)


def _row(out_dir: Path, run: RunLike) -> str:
    folder = _href(out_dir, Path(run.run_dir))
    shown: dict[str, Any] = {"users": None, "figures": {}, "first_finding": None}
    metrics_note = ""
    metrics_path = Path(run.run_dir) / METRICS_FILE
    if run.status == "ok":
        try:
            shown = headline(read_metrics(metrics_path))
        except (FileNotFoundError, MetricsError) as err:
            metrics_note = f" ({METRICS_FILE}: {err})"
    ok = run.status == "ok"
    status = html.escape(run.status)
    if ok:
        status_cell = f'<td class="ok" data-label="Status" data-sort="{status}">{status}{html.escape(metrics_note)}</td>'
        link = f'<a href="{folder}{REPORT_FILE}">report</a>'
    else:
        reason = html.escape(run.error or "unknown error")
        status_cell = (
            f'<td class="failed" data-label="Status" data-sort="{status}">'
            f"<strong>{status}</strong>: {reason}</td>"
        )
        notebooks = sorted(Path(run.run_dir).glob("*.ipynb")) if Path(run.run_dir).is_dir() else []
        links = [f'<a href="{folder}{ERROR_FILE}">{ERROR_FILE}</a>'] + [
            f'<a href="{folder}{quote(nb.name)}">{html.escape(nb.name)}</a>' for nb in notebooks
        ]
        link = " ".join(links)
    target = f"{folder}{REPORT_FILE}" if ok else f"{folder}{ERROR_FILE}"
    users = shown["users"]
    cells = [
        f'<th scope="row" data-sort="{html.escape(run.name)}"><a href="{target}">{html.escape(run.name)}</a></th>',
        status_cell,
        f'<td class="num" data-label="Users" data-sort="{users!r}">{int(users):,}</td>'
        if users is not None
        else '<td class="num" data-label="Users" data-sort="">-</td>',
    ]
    cells += [_figure(shown["figures"].get(key), title) for key, title in COLUMNS.items()]
    finding = shown["first_finding"]
    if finding:
        more = f' <a href="{folder}{REPORT_FILE}#{SUMMARY_ID}">more</a>'
        cells.append(f'<td class="finding" data-label="First finding">{html.escape(finding)}{more}</td>')
    else:
        cells.append('<td class="finding" data-label="First finding">-</td>')
    cells.append(f'<td class="link">{link}</td>')
    return "<tr>" + "".join(cells) + "</tr>"


def _figure(figure: Any, title: str) -> str:
    """A figure's cell.

    The value and, under it, its 95% interval. ``data-sort`` is the number; ``not reached`` sorts after every
    number, a missing figure last.
    """
    label = f'data-label="{html.escape(title)}"'
    if not isinstance(figure, Mapping):
        return f'<td class="num" {label} data-sort="">-</td>'
    value, low, high = figure.get("value"), figure.get("ci_low"), figure.get("ci_high")
    if not _is_number(value):
        text = figure.get("text") if isinstance(figure.get("text"), str) and figure.get("text") else "-"
        key = "Infinity" if text == NOT_REACHED else ""
        return f'<td class="num missing" {label} data-sort="{key}">{html.escape(text)}</td>'
    if figure.get("unit") == "share":
        main = f"{100 * value:.1f}%"
        interval = f"{100 * low:.1f}-{100 * high:.1f}%" if _is_number(low) and _is_number(high) else ""
    else:
        main = f"{value:.1f} days"
        interval = ""
        if _is_number(low):
            interval = f"{low:.1f}-{high:.1f} days" if _is_number(high) else f"{low:.1f} days or more"
    ci = f'<span class="ci">{html.escape(interval)}</span>' if interval else ""
    return f'<td class="num" {label} data-sort="{value!r}">{html.escape(main)}{ci}</td>'


def _href(out_dir: Path, run_dir: Path) -> str:
    """A relative URL from the index to the run folder, ending in ``/``."""
    try:
        relative = Path(os.path.relpath(run_dir.resolve(), out_dir.resolve()))
    except ValueError:  # another drive (Windows)
        return run_dir.resolve().as_uri() + "/"
    return "/".join(quote(part) for part in relative.parts) + "/"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1em; color: #222; }
h1 { font-size: 1.5em; margin: 0.2em 0; }
.facts { color: #555; margin: 0 0 1em 0; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; min-width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #ddd; vertical-align: top; }
td.num { text-align: right; white-space: nowrap; }
thead th { background: #f4f4f4; position: sticky; top: 0; }
thead button { font: inherit; font-weight: bold; border: 0; background: none; padding: 0; cursor: pointer; }
thead th[aria-sort="ascending"] button::after { content: " \\25B2"; }
thead th[aria-sort="descending"] button::after { content: " \\25BC"; }
td.ok { color: #17663a; }
td.failed { color: #a11; min-width: 14em; max-width: 40em; }
td .ci { display: block; font-size: 0.8em; color: #666; }
td.missing { color: #777; font-size: 0.9em; white-space: normal; min-width: 6em; }
td.finding { min-width: 18em; max-width: 32em; line-height: 1.4; }
/* A phone: one card per run, its figures two by two, each under its name. */
@media (max-width: 700px) {
  body { margin: 6px; }
  .wrap { overflow-x: visible; }
  table, tbody { display: block; min-width: 0; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  tbody tr { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 6px 12px;
    border: 1px solid #ccc; border-radius: 8px; padding: 10px; margin: 0 0 12px 0; }
  tbody th, tbody td { border: 0; padding: 0; min-width: 0; max-width: none; overflow-wrap: anywhere; }
  tbody th { font-size: 1.15em; }
  tbody th, td.ok, td.failed, td.finding, td.link { grid-column: 1 / -1; }
  td[data-label]::before { content: attr(data-label); display: block; font-size: 0.75em; font-weight: 600;
    color: #555; }
  td.num { text-align: left; white-space: normal; font-size: 1.1em; }
  td.missing { font-size: 0.9em; }
}
"""

# Click a column header to sort by it (again to reverse). Values come from data-sort: numbers
# sort numerically, empty values always last.
_SCRIPT = """
(function () {
  var table = document.getElementById("runs");
  var heads = table.tHead.rows[0].cells;
  function key(row, i) { return row.cells[i].getAttribute("data-sort") || ""; }
  function sortBy(i) {
    var th = heads[i];
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    for (var j = 0; j < heads.length; j++) heads[j].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var numeric = th.getAttribute("data-type") === "number";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, i), y = key(b, i);
      if (x === "" || y === "") return (x === "") - (y === "");
      var c = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return dir * c;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  Array.prototype.forEach.call(heads, function (th, i) {
    var button = th.querySelector("button");
    if (button) button.addEventListener("click", function () { sortBy(i); });
  });
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p class="facts">{facts}. Each figure with its 95% interval under it; click a column title to sort.</p>
<div class="wrap">
<table id="runs">
<thead><tr>
<th scope="col"><button type="button">Run</button></th>
<th scope="col"><button type="button">Status</button></th>
<th scope="col" data-type="number"><button type="button">Users</button></th>
{figure_heads}
<th scope="col">First finding</th>
<th scope="col">Report</th>
</tr></thead>
<tbody>
{rows}
</tbody>
</table>
</div>
</main>
<script>{script}</script>
</body>
</html>
"""

__all__ = ["COLUMNS", "INDEX_FILE", "NOT_REACHED", "RunLike", "headline", "write_index"]
