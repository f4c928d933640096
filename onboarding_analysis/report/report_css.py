"""The report page's own CSS, added after nbconvert's lab template so that its rules win.

Phone-width reading (images shrink, wide tables scroll in their own box), the formatted tables
of :mod:`onboarding_analysis.display.tables`, notes, collapsible detail, the header, the table
of contents and the appendix. :mod:`onboarding_analysis.report.page` inlines it into
``report.html``.
"""

#: The CSS rules, as one stylesheet.
REPORT_CSS = """
html, body { overflow-x: hidden; }
.oa-header, .oa-glance, nav.oa-toc, .oa-appendix {
  font-family: var(--jp-content-font-family, system-ui, sans-serif); color: var(--jp-content-font-color1, #222);
  font-size: 15px; line-height: 1.55;
}
.oa-appendix p, .oa-appendix dd { max-width: 48em; }
.oa-appendix h1 { font-size: 1.7em; font-weight: 500; margin: 1em 0 0.5em 0; }
.jp-OutputArea-output img, .jp-RenderedMarkdown img { max-width: 100%; height: auto; }
.jp-OutputArea-output, .jp-RenderedHTMLCommon { overflow-x: auto; min-width: 0; }
.jp-OutputArea-child, .jp-OutputArea-output { max-width: 100%; }
.jp-RenderedHTMLCommon table:not(.oa-table):not(.oa-params) { display: block; max-width: 100%; overflow-x: auto; }
.jp-RenderedText pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.oa-header { margin-bottom: 1em; }
.oa-header h1 { margin-top: 0.2em; font-weight: 500; }
.oa-scroll { width: fit-content; max-width: 100%; max-height: 75vh; overflow: auto; margin: 0.4em 0 0.6em 0;
  border: 1px solid #e0e0e0; border-radius: 4px; }
.jp-RenderedHTMLCommon table.oa-table, table.oa-table {
  border-collapse: separate; border-spacing: 0; font-size: 13px; line-height: 1.35;
  margin: 0; table-layout: auto; width: auto; max-width: none; display: table;
}
.jp-RenderedHTMLCommon table.oa-table th, .jp-RenderedHTMLCommon table.oa-table td,
table.oa-table th, table.oa-table td {
  padding: 4px 10px; border: none; border-bottom: 1px solid #eee; vertical-align: top;
  max-width: 28em; white-space: normal; overflow-wrap: normal; word-break: normal;
}
.jp-RenderedHTMLCommon table.oa-table thead th, table.oa-table thead th {
  position: sticky; top: 0; z-index: 1; background: #f5f5f5; font-weight: 600;
  border-bottom: 1px solid #ccc; vertical-align: bottom;
}
.jp-RenderedHTMLCommon table.oa-table .oa-num, table.oa-table .oa-num {
  text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;
}
.jp-RenderedHTMLCommon table.oa-table .oa-text, table.oa-table .oa-text { text-align: left; }
.jp-RenderedHTMLCommon table.oa-table tbody th, table.oa-table tbody th { font-weight: 500; }
.jp-RenderedHTMLCommon table.oa-table tbody tr:nth-child(even), table.oa-table tbody tr:nth-child(even) {
  background: #fafafa; }
.oa-ci { display: block; font-size: 0.85em; color: #666; font-weight: normal; }
.oa-value { margin: 0.1em 0; }
.oa-value.oa-sub { margin-left: 1.5em; color: #444; }
.oa-caption, .oa-empty { margin: 0.2em 0 0.8em 0; color: #444; }
.oa-note { margin: 0.4em 0; padding: 0.4em 0.8em; border-left: 3px solid #c9a227; background: #fdf8e8; }
details.oa-details { margin: 0.4em 0 0.8em 0; }
details.oa-details > summary, nav.oa-toc summary { cursor: pointer; color: #1a5fb4; }
table.oa-params { border-collapse: collapse; font-size: 0.9em; margin: 0; }
table.oa-params th, table.oa-params td {
  text-align: left; vertical-align: top; padding: 2px 10px; border-bottom: 1px solid #ddd;
  overflow-wrap: anywhere;
}
nav.oa-toc { margin: 0 0 1.5em 0; padding: 0.5em 1em; border-left: 3px solid #ccc; }
nav.oa-toc ol { margin: 0.2em 0; padding-left: 1.4em; }
.oa-appendix { margin-top: 2.5em; padding: 0 var(--jp-cell-padding, 5px); }
.oa-appendix dt { font-weight: 600; margin-top: 0.6em; }
.oa-appendix dd { margin: 0.1em 0 0 1em; }
@media (max-width: 700px) {
  body.jp-Notebook, main { padding: 6px !important; }
  .jp-Cell { padding: 2px 0 !important; }
  .jp-RenderedHTMLCommon table.oa-table, table.oa-table { font-size: 12px; }
  .jp-RenderedHTMLCommon table.oa-table th, .jp-RenderedHTMLCommon table.oa-table td { padding: 3px 6px; }
}
"""
