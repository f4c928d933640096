"""The index page of a batch: every run, its status, headline numbers and a link to its report.

:func:`write_index` writes ``<out_dir>/index.html``, one self-contained page (inline CSS and a
few lines of inline script to sort the table by any column; no external resource), readable
on a phone. The numbers come from each run's ``metrics.json`` (:func:`headline`); a failed run
shows why, with links to its ``error.txt`` and partially executed notebooks.

Examples
--------
>>> headline({"data": {"users": 1200}, "retention": {"day_7": {"rate": 0.31}},
...           "ttfv": {"days_to_50pct": None}, "funnel": {"steps": [{"from_start": 1.0},
...           {"from_start": 0.36}]}})
{'users': 1200, 'day_7_retention': 0.31, 'median_ttfv_days': 'not reached', 'funnel_completion': 0.36}
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from .metrics_io import METRICS_FILE, MetricsError, read_metrics
from .report import ERROR_FILE, REPORT_FILE

#: File name of the index page inside the batch's output folder.
INDEX_FILE = "index.html"

#: Shown when the median TTFV was estimated but half of the signups never reached value.
NOT_REACHED = "not reached"


class RunLike(Protocol):
    """What the index needs of a run (:class:`onboarding_analysis.batch.RunResult` has it)."""

    name: str
    status: str
    run_dir: Path
    error: str | None


def headline(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The headline numbers of one run from its metrics (``None`` where not computed).

    - ``users``: ``data.users``;
    - ``day_7_retention``: ``retention.day_7.rate``;
    - ``median_ttfv_days``: ``ttfv.days_to_50pct``, or ``"not reached"`` when the TTFV section
      ran but fewer than half of the signups reached value;
    - ``funnel_completion``: the last funnel step's ``from_start``.
    """
    data = _get(metrics, "data") or {}
    ttfv = _get(metrics, "ttfv")
    median: Any = None
    if isinstance(ttfv, Mapping):
        median = ttfv.get("days_to_50pct")
        median = NOT_REACHED if median is None else median
    steps = _get(_get(metrics, "funnel") or {}, "steps")
    completion = steps[-1].get("from_start") if isinstance(steps, list) and steps else None
    return {
        "users": data.get("users") if isinstance(data, Mapping) else None,
        "day_7_retention": _get(_get(_get(metrics, "retention") or {}, "day_7") or {}, "rate"),
        "median_ttfv_days": median,
        "funnel_completion": completion,
    }


def _get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, Mapping) else None


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
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / INDEX_FILE
    tmp = path.with_name(f".{INDEX_FILE}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _row(out_dir: Path, run: RunLike) -> str:
    folder = _href(out_dir, Path(run.run_dir))
    numbers: dict[str, Any] = dict.fromkeys(
        ("users", "day_7_retention", "median_ttfv_days", "funnel_completion")
    )
    metrics_note = ""
    metrics_path = Path(run.run_dir) / METRICS_FILE
    if run.status == "ok":
        try:
            numbers = headline(read_metrics(metrics_path))
        except (FileNotFoundError, MetricsError) as err:
            metrics_note = f" ({METRICS_FILE}: {err})"
    ok = run.status == "ok"
    status = html.escape(run.status)
    if ok:
        status_cell = f'<td class="ok" data-sort="{status}">{status}{html.escape(metrics_note)}</td>'
        link = f'<a href="{folder}{REPORT_FILE}">report</a>'
    else:
        reason = html.escape(run.error or "unknown error")
        status_cell = f'<td class="failed" data-sort="{status}"><strong>{status}</strong>: {reason}</td>'
        notebooks = sorted(Path(run.run_dir).glob("*.ipynb")) if Path(run.run_dir).is_dir() else []
        links = [f'<a href="{folder}{ERROR_FILE}">{ERROR_FILE}</a>'] + [
            f'<a href="{folder}{quote(nb.name)}">{html.escape(nb.name)}</a>' for nb in notebooks
        ]
        link = " ".join(links)
    target = f"{folder}{REPORT_FILE}" if ok else f"{folder}{ERROR_FILE}"
    cells = [
        f'<th scope="row" data-sort="{html.escape(run.name)}"><a href="{target}">{html.escape(run.name)}</a></th>',
        status_cell,
        _number(numbers["users"], lambda v: f"{int(v):,}"),
        _number(numbers["day_7_retention"], lambda v: f"{100 * v:.1f}%"),
        _number(numbers["median_ttfv_days"], lambda v: f"{v:.1f} days"),
        _number(numbers["funnel_completion"], lambda v: f"{100 * v:.1f}%"),
        f"<td>{link}</td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _number(value: Any, fmt: Any) -> str:
    """A numeric cell; ``data-sort`` is the number (``not reached`` sorts after every number)."""
    if value == NOT_REACHED:
        return f'<td class="num" data-sort="Infinity">{NOT_REACHED}</td>'
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return '<td class="num" data-sort="">-</td>'
    return f'<td class="num" data-sort="{value!r}">{html.escape(fmt(value))}</td>'


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
td.failed { color: #a11; max-width: 40em; }
@media (max-width: 600px) { body { margin: 6px; } th, td { padding: 4px 6px; font-size: 0.9em; } }
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
<p class="facts">{facts}. Click a column title to sort.</p>
<div class="wrap">
<table id="runs">
<thead><tr>
<th scope="col"><button type="button">Run</button></th>
<th scope="col"><button type="button">Status</button></th>
<th scope="col" data-type="number"><button type="button">Users</button></th>
<th scope="col" data-type="number"><button type="button">Day-7 retention</button></th>
<th scope="col" data-type="number"><button type="button">Median TTFV</button></th>
<th scope="col" data-type="number"><button type="button">Funnel completion</button></th>
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

__all__ = ["INDEX_FILE", "NOT_REACHED", "RunLike", "headline", "write_index"]
