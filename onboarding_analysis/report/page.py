"""Render executed notebooks into the one self-contained page ``report.html``.

:func:`render_html` merges the notebooks' cells (no code, no prompts, no parameter cells, each
note once), converts them with nbconvert's lab template, then assembles the page with
BeautifulSoup: the title block, the *At a glance* summary
(:mod:`onboarding_analysis.report.summary`), a table of contents, the sections, and the appendix
(:mod:`onboarding_analysis.report.definitions` and the run's params). Images are embedded and
nothing loads from the internet; the CSS is :mod:`onboarding_analysis.report.report_css`.
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter
from traitlets.config import Config

from .atomic_write import write_text_atomic
from .failures import ReportError
from .naming import ascii_text, unique_name
from .report_css import REPORT_CSS
from .summary import Summary, summary_html

#: Cell tags whose cells never appear in the rendered report.
REMOVED_CELL_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell"})

_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())  # nbconvert's per-image "missing alt text" warnings


def render_html(
    executed_notebooks: Sequence[str | os.PathLike[str] | nbformat.NotebookNode],
    html_path: str | os.PathLike[str],
    *,
    title: str,
    header: Mapping[str, Any],
    period: str | None = None,
    image_dir: str | os.PathLike[str] | None = None,
    summary: Summary | None = None,
    params: Mapping[str, Any] | None = None,
) -> Path:
    """Merge executed notebooks, in order, into one self-contained HTML page.

    The page has no code inputs and no prompts; cells tagged ``parameters``,
    ``injected-parameters`` or ``remove-cell`` are dropped (``remove-output`` drops a cell's
    outputs). A title block shows ``title`` and ``period``; a table of contents (one line that
    opens on a click) links to every level-1 and level-2 heading; the page ends with the
    appendix (how to read the report, definitions, and "About this report" with ``header``).
    Of equal notes (:func:`collect_notes`) only the first is kept. The page assembly is
    :func:`_assemble_page`.

    Parameters
    ----------
    executed_notebooks : sequence of paths or NotebookNode
        The executed notebooks, in report order.
    html_path : path
        Where to write the page (folders are created).
    title : str
        Page title and header heading.
    header : Mapping
        Shown in "About this report" as a table of name/value rows (lists joined by commas,
        None as "-").
    period : str, optional
        The data period, shown under the title.
    image_dir : path, optional
        Folder that relative image paths in markdown cells (``![chart](img/x.png)``) are read
        from and embedded; default: the folder of the first notebook file. Files outside it
        are not embedded (nbconvert's rule); prefer cell attachments, always embedded.
    summary : Summary, optional
        The run's "At a glance" block (:func:`onboarding_analysis.report.summary.build_summary`),
        placed under the header, before the table of contents and every section; its figures
        and findings link to the sections' headings.
    params : Mapping, optional
        The run's params (``Params.as_notebook_parameters()``): the definitions appendix shows
        the figures of the sections they configure, with their values (default: every figure).

    Returns
    -------
    Path
        ``html_path``.

    Notes
    -----
    TOC anchors: nbconvert's own heading ids (text with spaces turned into ``-`` and
    URL-quoted, not de-duplicated across merged notebooks) are switched off
    (``exclude_anchor_links``). After rendering, every ``h1``/``h2`` of the page gets a fresh id
    (an ASCII slug of its text, ``-2``, ``-3``... for repeats, never clashing with another id
    in the page; a heading written with an explicit unique ``id`` keeps it), and the TOC links
    to those ids, so every link resolves. Images in outputs are base64 ``data:`` URIs (nbconvert
    default); images referenced from markdown are embedded too (``embed_images``).

    Examples
    --------
    >>> render_html(["reports/demo/retention.ipynb"], "reports/demo/report.html",
    ...             title="Onboarding report: demo", header={"client": "demo"})  # doctest: +SKIP
    PosixPath('reports/demo/report.html')
    """
    html_path = Path(html_path)
    notebooks = [_read_notebook(nb) for nb in executed_notebooks]
    if not notebooks:
        raise ReportError("render_html: no executed notebooks to render.")
    merged = _merge(notebooks, title=title)
    if image_dir is None:
        files = [Path(nb) for nb in executed_notebooks if not isinstance(nb, nbformat.NotebookNode)]
        image_dir = files[0].parent if files else Path.cwd()
    resources = {"metadata": {"name": title, "path": str(image_dir)}}
    body, _ = _exporter().from_notebook_node(merged, resources=resources)
    page = _assemble_page(body, title=title, header=header, period=period, params=params, summary=summary)
    return write_text_atomic(html_path, page)


def _read_notebook(nb: str | os.PathLike[str] | nbformat.NotebookNode) -> nbformat.NotebookNode:
    if isinstance(nb, nbformat.NotebookNode):
        return nb
    path = Path(nb)
    if not path.is_file():
        raise ReportError(f"{path}: executed notebook not found.", notebook=path.name)
    return nbformat.read(path, as_version=4)


def _merge(notebooks: Sequence[nbformat.NotebookNode], *, title: str) -> nbformat.NotebookNode:
    """One notebook of the report's cells, in order.

    Of equal notes (:func:`collect_notes`) only the first is kept.
    """
    merged = nbformat.v4.new_notebook()
    first = notebooks[0].metadata
    for key in ("kernelspec", "language_info"):
        if key in first:
            merged.metadata[key] = first[key]
    merged.metadata["title"] = title
    seen: set[str] = set()
    for nb in notebooks:
        for cell in nb.cells:
            if REMOVED_CELL_TAGS.intersection(cell.get("metadata", {}).get("tags", ())):
                continue
            cell = nbformat.from_dict(dict(cell))
            cell["id"] = f"cell-{len(merged.cells)}"  # ids must be unique in the merged notebook
            if cell.cell_type == "code":
                kept = []
                for output in cell.get("outputs", []):
                    _alt_from_text(output)
                    note = _note_of(output)
                    if note is not None and note in seen:
                        continue
                    if note is not None:
                        seen.add(note)
                    kept.append(output)
                cell["outputs"] = kept
            merged.cells.append(cell)
    return merged


def _alt_from_text(output: Mapping[str, Any]) -> None:
    """An image's alt text from its ``text/plain`` when that names the figure ("Figure: ...")."""
    data = output.get("data") or {}
    text = data.get("text/plain")
    text = "".join(text) if isinstance(text, list) else text
    if "image/png" in data and isinstance(text, str) and text.startswith("Figure: "):
        output.setdefault("metadata", {}).setdefault("image/png", {})["alt"] = text


def _note_of(output: Mapping[str, Any]) -> str | None:
    from .notebook import NOTE_METADATA

    note = (output.get("metadata") or {}).get(NOTE_METADATA)
    return note if isinstance(note, str) else None


def collect_notes(notebooks: Sequence[str | os.PathLike[str] | nbformat.NotebookNode]) -> list[str]:
    """The notes (:func:`onboarding_analysis.report.notebook.show_note`.

    Data and statistical warnings) shown by executed notebooks, each once, in report order.

    Parameters
    ----------
    notebooks : sequence of paths or NotebookNode
        The executed notebooks, in report order.

    Returns
    -------
    list of str
        Each note's text, first occurrence first.
    """
    notes: list[str] = []
    for nb in map(_read_notebook, notebooks):
        for cell in nb.cells:
            for output in cell.get("outputs", []) if cell.cell_type == "code" else ():
                note = _note_of(output)
                if note is not None and note not in notes:
                    notes.append(note)
    return notes


def _exporter() -> HTMLExporter:
    config = Config()
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    config.HTMLExporter.exclude_anchor_links = True  # ids are added by _anchor_headings
    config.HTMLExporter.embed_images = True
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = set(REMOVED_CELL_TAGS)
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    return HTMLExporter(config=config, template_name="lab", log=_log)


def _assemble_page(
    page: str,
    *,
    title: str,
    header: Mapping[str, Any],
    period: str | None,
    params: Mapping[str, Any] | None,
    summary: Summary | None = None,
) -> str:
    """The report page from its parts, top to bottom.

    1. the title block (:func:`_header_html`: title and data period);
    2. the "At a glance" summary (:func:`onboarding_analysis.report.summary.summary_html`), the first
       section of the report; its figures and findings link to the sections' headings;
    3. the table of contents (:func:`_toc_html`), collapsed to one line;
    4. the notebooks' sections (``page``, nbconvert's HTML);
    5. the appendix: "How to read this report", "Definitions" (both from
       :mod:`onboarding_analysis.report.definitions`, adapted to ``params``) and "About this report"
       (``header``: the run's params, data period and package version).

    Every ``h1``/``h2`` gets a unique id (see :func:`render_html`, Notes), images get alt text,
    and nothing that would load from the internet is left (module and CDN scripts, URLs in
    CSS comments).
    """
    from .definitions import definitions_html, how_to_read_html

    soup = BeautifulSoup(page, "html.parser")
    container = soup.find("main") or soup.body or soup
    appendix = how_to_read_html(params) + definitions_html(params) + _about_html(header, period)
    for node in list(BeautifulSoup(appendix, "html.parser").contents):
        container.append(node)
    entries = _anchor_headings(soup, title)
    _drop_external_resources(soup)
    # After the template's CSS, so that the report's rules win (nbconvert's CSS preprocessor
    # replaces resources["inlining"], so the CSS is added here).
    style = soup.new_tag("style")
    style.string = REPORT_CSS
    (soup.head or soup).append(style)
    glance = summary_html(summary, [(text, anchor) for _, anchor, text in entries]) if summary else ""
    top_parts = [_header_html(title, period), glance, _toc_html(entries)]
    block = BeautifulSoup("".join(top_parts), "html.parser")
    for node in reversed(list(block.contents)):
        container.insert(0, node)
    return str(soup)


def _anchor_headings(soup: BeautifulSoup, title: str) -> list[tuple[int, str, str]]:
    """Give every ``h1``/``h2`` a unique id and every image without one an alt text.

    Return the (level, id, text) of the headings, for the table of contents.
    """
    id_counts = Counter(tag["id"] for tag in soup.find_all(id=True))
    taken = set(id_counts)
    entries: list[tuple[int, str, str]] = []
    section = title
    for tag in soup.find_all(["h1", "h2", "img"]):
        if tag.name == "img":
            if not tag.get("alt") or tag.get("alt", "").startswith("No description has been provided"):
                tag["alt"] = f"Figure in section: {section}"
            continue
        text = tag.get_text(" ", strip=True)
        if not text:
            continue
        anchor = tag.get("id")  # an id written in the markdown is kept if it is unique
        if not anchor or id_counts[anchor] > 1:
            anchor = unique_name(_slug(text), taken)
            tag["id"] = anchor
        taken.add(anchor)
        entries.append((int(tag.name[1]), anchor, text))
        section = text
    return entries


def _drop_external_resources(soup: BeautifulSoup) -> None:
    """Self-contained, with no URL in the file.

    The lab template links require.js and MathJax from a CDN and imports mermaid from one in a module script;
    the report uses none of them (no widgets, no LaTeX, no diagrams), and offline readers would see failed
    loads. The template's CSS cites its sources in comments: those comments go too.
    """
    for script in soup.find_all("script"):
        src = script.get("src", "")
        if "://" in src or src.startswith("//") or script.get("type") in ("module", "text/x-mathjax-config"):
            script.decompose()
    for style in soup.find_all("style"):
        text = style.string or ""
        if "://" in text:
            style.string = re.sub(
                r"/\*.*?\*/", lambda m: "" if "://" in m.group(0) else m.group(0), text, flags=re.S
            )


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text(text).lower()).strip("-")[:60].strip("-")
    return slug or "section"


def _format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_format_value(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple | set):
        return ", ".join(_format_value(v) for v in value) or "-"
    return str(value)


def _header_html(title: str, period: str | None) -> str:
    esc = html.escape
    period_html = f'<p class="oa-period"><strong>Data period:</strong> {esc(period)}</p>' if period else ""
    return f'<header class="oa-header"><h1 class="oa-title">{esc(title)}</h1>{period_html}</header>'


def _about_html(header: Mapping[str, Any], period: str | None) -> str:
    """The "About this report" section: the data period and the run's params (``header``)."""
    esc = html.escape
    rows = "".join(
        f'<tr><th scope="row">{esc(str(k))}</th><td>{esc(_format_value(v))}</td></tr>'
        for k, v in header.items()
    )
    period_html = f"<p><strong>Data period:</strong> {esc(period)}</p>" if period else ""
    table = (
        f'<div class="oa-scroll"><table class="oa-params"><tbody>{rows}</tbody></table></div>' if rows else ""
    )
    return (
        '<section class="oa-appendix" id="oa-about"><h1>About this report</h1>'
        f"{period_html}<p>The params of this run (data files, definitions, thresholds):</p>{table}</section>"
    )


def _toc_html(entries: Sequence[tuple[int, str, str]]) -> str:
    """Nested ordered list: level-2 headings under the level-1 heading before them."""
    if not entries:
        return ""
    groups: list[tuple[int, str, list[str]]] = []  # (level, link, links of its subsections)
    for level, anchor, text in entries:
        link = f'<a href="#{html.escape(anchor)}">{html.escape(text)}</a>'
        if level == 2 and groups and groups[-1][0] == 1:
            groups[-1][2].append(link)
        else:
            groups.append((level, link, []))
    items = []
    for _, link, subs in groups:
        sub_list = "<ol>" + "".join(f"<li>{s}</li>" for s in subs) + "</ol>" if subs else ""
        items.append(f"<li>{link}{sub_list}</li>")
    return (
        '<nav class="oa-toc" aria-label="Contents"><details><summary><strong>Contents</strong> '
        f"({len(groups)} sections)</summary><ol>{''.join(items)}</ol></details></nav>"
    )


__all__ = ["REMOVED_CELL_TAGS", "collect_notes", "render_html"]
