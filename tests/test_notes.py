"""Data and statistical warnings become short notes: no machine paths, no source lines, once each."""

from __future__ import annotations

import warnings

import nbformat
import pytest
from bs4 import BeautifulSoup

from onboarding_analysis.errors import DataWarning, StatisticalWarning
from onboarding_analysis.report import notebook
from onboarding_analysis.report.notebook import NOTE_METADATA, strip_machine_paths
from onboarding_analysis.report.page import collect_notes, render_html


@pytest.fixture
def displayed(monkeypatch):
    """What show_note displays, captured; the kernel's memory of shown notes emptied."""
    shown: list[tuple[dict, dict]] = []
    monkeypatch.setattr(notebook, "_NOTES_SHOWN", set())
    monkeypatch.setattr(notebook, "_in_kernel", lambda: True)  # as in a kernel: displayed, not printed
    import IPython.display

    monkeypatch.setattr(
        IPython.display, "display", lambda data, raw, metadata: shown.append((data, metadata))
    )
    return shown


def test_paths_inside_the_root_become_relative_others_their_file_name():
    root = "/srv/reports/acme"
    text = "/srv/reports/acme/data/events.csv: 5 rows; see /home/ci/tmp/x/users.csv (and data/y.csv)"
    assert strip_machine_paths(text, root=root) == "data/events.csv: 5 rows; see users.csv (and data/y.csv)"
    assert strip_machine_paths("no path here, 3/4 of users", root=root) == "no path here, 3/4 of users"


def test_data_and_statistical_warnings_become_one_note_each(displayed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        notebook._warnings_as_notes()
        warnings.warn(f"{tmp_path}/data/events.csv: 5 event rows excluded", DataWarning, stacklevel=1)
        warnings.warn(f"{tmp_path}/data/events.csv: 5 event rows excluded", DataWarning, stacklevel=1)
        warnings.warn("median not reached", StatisticalWarning, stacklevel=1)
    texts = [data["text/plain"] for data, _ in displayed]
    assert texts == ["Note: data/events.csv: 5 event rows excluded", "Note: median not reached"]
    assert [meta[NOTE_METADATA] for _, meta in displayed] == [
        "data/events.csv: 5 event rows excluded",
        "median not reached",
    ]
    html = displayed[0][0]["text/html"]
    assert 'class="oa-note"' in html and str(tmp_path) not in html and ".py" not in html


def test_other_warnings_keep_pythons_display(displayed):
    passed_on = []
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, category, *args, **kwargs: passed_on.append(
            (str(message), category)
        )
        notebook._warnings_as_notes()
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert displayed == []
    assert passed_on == [("something else", UserWarning)]


def _note_output(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output(
        "display_data",
        data={"text/plain": f"Note: {text}", "text/html": f'<p class="oa-note">{text}</p>'},
        metadata={NOTE_METADATA: text},
    )


def test_the_report_keeps_the_first_of_equal_notes_and_lists_them(tmp_path):
    notebooks = []
    for title, notes in (("# One", ["rows excluded", "ids as floats"]), ("# Two", ["rows excluded"])):
        nb = nbformat.v4.new_notebook()
        code = nbformat.v4.new_code_cell("facts = ...")
        code.outputs = [_note_output(n) for n in notes]
        nb.cells = [nbformat.v4.new_markdown_cell(title), code]
        notebooks.append(nb)
    assert collect_notes(notebooks) == ["rows excluded", "ids as floats"]
    soup = BeautifulSoup(
        render_html(notebooks, tmp_path / "r.html", title="t", header={}).read_text(encoding="utf-8"),
        "html.parser",
    )
    assert [p.get_text() for p in soup.select("p.oa-note")] == ["rows excluded", "ids as floats"]
    # the note stays in the first notebook's section
    assert soup.select_one("p.oa-note").find_previous("h1").get_text() == "One"
