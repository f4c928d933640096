"""Executing notebooks with papermill and rendering them into one HTML report.

The fixture notebooks (tests/fixtures/notebooks) are executed for real; they import nothing
heavy except section_metrics.ipynb, which records metrics through the package.
"""

from __future__ import annotations

import base64
import errno
import os
import sys
from pathlib import Path

import nbformat
import pytest
import zmq
from bs4 import BeautifulSoup
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError

from onboarding_analysis.errors import OnboardingAnalysisError, ParamsError
from onboarding_analysis.report import kernels as report_module
from onboarding_analysis.report.execution import (
    NOTEBOOK_DIR,
    REPORT_NOTEBOOKS,
    data_period,
    load_run_params,
    project_root_for,
    run_report,
)
from onboarding_analysis.report.failures import ERROR_FILE, ReportError, failure_summary, write_error_file
from onboarding_analysis.report.kernels import execute_notebook
from onboarding_analysis.report.metrics_io import read_metrics
from onboarding_analysis.report.page import render_html

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "notebooks"


@pytest.fixture(autouse=True)
def _kernel_imports_the_package(monkeypatch):
    """Kernels inherit the environment: let them import onboarding_analysis from this tree."""
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + (os.pathsep + path if path else ""))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """section_ok + section_metrics executed once and rendered: (folder, html text, soup)."""
    out = tmp_path_factory.mktemp("rendered")
    execute_notebook(FIXTURES / "section_ok.ipynb", out / "a.ipynb", {"client": "acme", "answer": 42})
    second = nbformat.read(FIXTURES / "section_metrics.ipynb", as_version=4)
    second.cells = [
        c for c in second.cells if c.cell_type == "markdown" or "parameters" in c.metadata.get("tags", [])
    ]
    nbformat.write(second, out / "b_source.ipynb")  # without the cell importing the package: fast
    execute_notebook(out / "b_source.ipynb", out / "b.ipynb", {"client": "acme"})
    path = render_html(
        [out / "a.ipynb", out / "b.ipynb"],
        out / "site" / "report.html",
        title="Onboarding report: acme <test>",
        header={
            "client": "acme",
            "segments": ["persona", "plan"],
            "users": None,
            "filters": {"plan": ["pro"]},
        },
        period="signups from 2024-01-01 to observation end 2024-09-01 (UTC)",
    )
    text = path.read_text(encoding="utf-8")
    return out, text, BeautifulSoup(text, "html.parser")


def _stream_text(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


# --------------------------------------------------------------------------------------------
# execute_notebook
# --------------------------------------------------------------------------------------------


def test_module_constants():
    assert REPORT_NOTEBOOKS[0] == "quality.ipynb"
    assert NOTEBOOK_DIR == ROOT / "notebooks"


def test_execute_injects_parameters_and_saves(rendered):
    out, _, _ = rendered
    nb = nbformat.read(out / "a.ipynb", as_version=4)
    assert "answer is 42" in _stream_text(nb)
    assert "client is acme" in _stream_text(nb)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)


def test_an_input_error_in_a_cell_is_its_own_message_without_the_cell():
    """A DataError/ParamsError already names the file or key, the value and the fix: the report
    says that, not the first line of the cell that called the check."""
    from onboarding_analysis.report.kernels import _cell_failure

    evalue = "acme.yaml: key 'observation_end': 2024-12-31 is 115.3 days after the last event. Use null."
    message = _cell_failure(
        "segments.ipynb", 4, "import matplotlib.pyplot as plt\n", f"ParamsError: {evalue}", Path("out/acme/segments.ipynb")
    )
    assert message == (
        "acme.yaml: key 'observation_end': 2024-12-31 is 115.3 days after the last event. Use null. "
        "(The report stopped in segments.ipynb; its partial copy is out/acme/segments.ipynb.)"
    )
    other = _cell_failure("a.ipynb", 3, "x = 1 / 0\n", "ZeroDivisionError: division by zero", Path("a.ipynb"))
    assert "cell 3 ('x = 1 / 0') failed with ZeroDivisionError" in other


def test_execute_failure_names_notebook_cell_and_error_and_saves_partial(tmp_path):
    out = tmp_path / "run" / "fails.ipynb"
    with pytest.raises(ReportError) as info:
        execute_notebook(FIXTURES / "fails.ipynb", out, {"divisor": 0})
    err = info.value
    message = str(err)
    assert isinstance(err, OnboardingAnalysisError)
    assert "fails.ipynb" in message
    # cells: markdown, parameters, injected-parameters, print, the failing division
    assert "cell 4" in message and err.cell_index == 4
    assert "ratio = 1 / divisor" in message
    assert "ZeroDivisionError: division by zero" in message
    assert (err.ename, err.evalue, err.output_path) == ("ZeroDivisionError", "division by zero", out)
    assert str(out) in message
    partial = nbformat.read(out, as_version=4)
    text = _stream_text(partial)
    assert "before the failure" in text and "never reached" not in text
    assert any(o.output_type == "error" for c in partial.cells for o in c.get("outputs", []))


def test_execute_cell_timeout_names_the_cell_and_saves_partial(tmp_path):
    out = tmp_path / "slow.ipynb"
    with pytest.raises(
        ReportError, match=r"slow\.ipynb: cell 3 \('import time'\).*timed out after 1 s"
    ) as info:
        execute_notebook(FIXTURES / "slow.ipynb", out, {"seconds": 60}, timeout=1)
    assert info.value.ename == "CellTimeoutError"
    partial = nbformat.read(out, as_version=4)
    assert "start" in _stream_text(partial)
    # the kernel may add a KeyboardInterrupt output as it is shut down; ours says why
    assert "CellTimeoutError" in [o.get("ename") for o in partial.cells[3].outputs]
    assert partial.cells[3].metadata.papermill.status == "failed"


def test_execute_missing_notebook(tmp_path):
    with pytest.raises(ReportError, match=r"nope\.ipynb: notebook not found"):
        execute_notebook(tmp_path / "nope.ipynb", tmp_path / "out.ipynb", {})


INFRASTRUCTURE_ERRORS = [
    RuntimeError("Kernel died before replying to kernel_info"),
    RuntimeError("Kernel didn't respond in 60 seconds"),
    zmq.ZMQError(errno.EADDRINUSE),
    DeadKernelError("Kernel died"),
]


@pytest.fixture
def no_retry_pause(monkeypatch):
    monkeypatch.setattr(report_module.random, "uniform", lambda a, b: 0.0)


@pytest.mark.parametrize("error", INFRASTRUCTURE_ERRORS, ids=lambda e: type(e).__name__ + ":" + str(e)[:20])
def test_execute_retries_an_infrastructure_failure_once(tmp_path, monkeypatch, no_retry_pause, error):
    """A kernel that did not start, lost a port or died: the notebook is executed once more."""
    calls = []

    def flaky(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 1:
            raise error
        return nbformat.v4.new_notebook()

    monkeypatch.setattr(report_module.papermill, "execute_notebook", flaky)
    nb = execute_notebook(FIXTURES / "section_ok.ipynb", tmp_path / "out.ipynb", {})
    assert isinstance(nb, nbformat.NotebookNode) and len(calls) == 2


@pytest.mark.parametrize("error", INFRASTRUCTURE_ERRORS, ids=lambda e: type(e).__name__ + ":" + str(e)[:20])
def test_execute_reports_a_second_infrastructure_failure_in_one_line(
    tmp_path, monkeypatch, no_retry_pause, error
):
    calls = []

    def never(*args, **kwargs):
        calls.append(1)
        raise error

    monkeypatch.setattr(report_module.papermill, "execute_notebook", never)
    with pytest.raises(ReportError, match=r"^section_ok\.ipynb: ") as info:
        execute_notebook(FIXTURES / "section_ok.ipynb", tmp_path / "out.ipynb", {})
    assert len(calls) == 2
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert info.value.evalue.endswith("(2 attempts)")
    if isinstance(error, DeadKernelError):
        assert info.value.ename == "DeadKernelError"
        assert "killed the kernel" in message and "died again" in message
    else:
        assert info.value.ename == "KernelStartError"
        assert f"the python3 kernel did not start ({error}; 2 attempts)" in message


def test_execute_gives_up_on_a_kernel_that_never_starts(tmp_path, monkeypatch, no_retry_pause):
    def never(*args, **kwargs):
        raise RuntimeError("Kernel didn't respond in 60 seconds")

    monkeypatch.setattr(report_module.papermill, "execute_notebook", never)
    with pytest.raises(ReportError, match=r"section_ok\.ipynb: the python3 kernel did not start") as info:
        execute_notebook(FIXTURES / "section_ok.ipynb", tmp_path / "out.ipynb", {})
    assert info.value.ename == "KernelStartError"
    assert failure_summary(info.value) == (
        "section_ok.ipynb: KernelStartError: Kernel didn't respond in 60 seconds (2 attempts)"
    )


@pytest.mark.parametrize(
    "error",
    [
        PapermillExecutionError(4, 1, "ratio = 1 / divisor", "ZeroDivisionError", "division by zero", []),
        PapermillExecutionError(5, 1, "facts = oa.facts()", "ZMQError", "Address already in use", []),
        CellTimeoutError("Cell execution timed out"),
        zmq.ZMQError(errno.EACCES),
    ],
    ids=["cell-data-error", "cell-raising-zmq-error", "cell-timeout", "other-zmq-error"],
)
def test_execute_does_not_retry_a_cell_error_or_a_timeout(tmp_path, monkeypatch, no_retry_pause, error):
    """An error from the data or the code (raised in a cell) happens again: it is not retried."""
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        raise error

    monkeypatch.setattr(report_module.papermill, "execute_notebook", failing)
    with pytest.raises((ReportError, zmq.ZMQError)):
        execute_notebook(FIXTURES / "section_ok.ipynb", tmp_path / "out.ipynb", {})
    assert calls == [1]


def test_execute_does_not_retry_other_runtime_errors(tmp_path, monkeypatch):
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("something else")

    monkeypatch.setattr(report_module.papermill, "execute_notebook", broken)
    with pytest.raises(RuntimeError, match="something else"):
        execute_notebook(FIXTURES / "section_ok.ipynb", tmp_path / "out.ipynb", {})
    assert calls == [1]


@pytest.fixture
def port_thief(monkeypatch):
    """Another process's socket takes the heartbeat port of every TCP kernel as soon as
    jupyter_client has written it into the connection file, before the kernel binds it: the
    race of two kernels starting at once, made certain."""
    import socket

    from jupyter_client.connect import ConnectionFileMixin

    taken: list[socket.socket] = []
    write = ConnectionFileMixin.write_connection_file

    def write_then_take(self, **kwargs):
        write(self, **kwargs)
        if self.transport == "tcp":
            thief = socket.socket()
            thief.bind((self.ip, self.hb_port))
            taken.append(thief)

    monkeypatch.setattr(ConnectionFileMixin, "write_connection_file", write_then_take)
    yield taken
    for thief in taken:
        thief.close()


def test_a_taken_port_reaches_neither_the_run_nor_the_console(tmp_path, capfd, port_thief):
    """papermill's own TCP kernel prints "Exception in thread Heartbeat: ... Address already in
    use" when its port is taken (the issue's console traceback); execute_notebook's kernels
    have no port to take."""
    source = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )
    source.cells = [
        nbformat.v4.new_code_cell("from ipykernel import get_connection_info\nprint(get_connection_info())")
    ]
    nbformat.write(source, tmp_path / "ports.ipynb")

    report_module.papermill.execute_notebook(
        str(tmp_path / "ports.ipynb"), str(tmp_path / "tcp.ipynb"), kernel_name="python3", progress_bar=False
    )
    control = capfd.readouterr().err
    assert port_thief, "the thief took a port of papermill's TCP kernel"
    assert "Exception in thread Heartbeat" in control and "Address already in use" in control

    nb = execute_notebook(tmp_path / "ports.ipynb", tmp_path / "ours.ipynb", {})
    err = capfd.readouterr().err
    assert len(port_thief) == 1, "our kernel had no TCP port to take"
    assert "Heartbeat" not in err and "Traceback" not in err and "ZMQError" not in err, err
    assert '"transport": "ipc"' in _stream_text(nb)


def test_execute_runs_the_kernel_in_cwd(tmp_path):
    source = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )
    source.cells = [nbformat.v4.new_code_cell("import os, sys\nprint(os.getcwd())\nprint(sys.executable)")]
    nbformat.write(source, tmp_path / "where.ipynb")
    (tmp_path / "kernel_cwd").mkdir()
    nb = execute_notebook(
        tmp_path / "where.ipynb", tmp_path / "where_out.ipynb", {}, cwd=tmp_path / "kernel_cwd"
    )
    cwd, executable = _stream_text(nb).split()
    assert Path(cwd) == (tmp_path / "kernel_cwd").resolve()
    assert Path(executable).resolve().parent == Path(sys.executable).resolve().parent  # the running venv


# --------------------------------------------------------------------------------------------
# render_html
# --------------------------------------------------------------------------------------------


def test_render_has_no_code_inputs_or_prompts(rendered):
    _, text, soup = rendered
    assert not soup.select(".jp-CodeCell .jp-InputArea, .jp-InputPrompt, .jp-OutputPrompt, .highlight")
    for source in ("print(", "HTML(", "base64.b64decode", "import base64"):
        assert source not in text
    assert "answer is 42" in text  # outputs stay


def test_render_drops_parameters_cells(rendered):
    _, text, _ = rendered
    assert "PARAMETERS_CELL_MARKER" not in text
    assert "answer = 42" not in text  # the injected-parameters cell
    assert "injected-parameters" not in text


def test_render_parameter_cells_are_removed_with_their_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    tagged = [
        ("parameters", "PARAM_OUTPUT"),
        ("injected-parameters", "INJECTED_OUTPUT"),
        ("remove-cell", "REMOVED_CELL_OUTPUT"),
        ("remove-output", "REMOVED_OUTPUT"),
    ]
    for tag, marker in tagged:
        cell = nbformat.v4.new_code_cell(f"# {tag}")
        cell.metadata["tags"] = [tag]
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=marker)]
        nb.cells.append(cell)
    nb.cells.append(nbformat.v4.new_markdown_cell("# Kept"))
    text = render_html([nb], tmp_path / "r.html", title="t", header={}).read_text(encoding="utf-8")
    for _, marker in tagged:
        assert marker not in text
    assert "Kept" in text


def _toc_links(soup: BeautifulSoup) -> list[str]:
    return [a["href"] for a in soup.select("nav.oa-toc a[href]")]


def _assert_links_resolve(soup: BeautifulSoup) -> None:
    for href in _toc_links(soup):
        assert href.startswith("#")
        assert len(soup.find_all(id=href[1:])) == 1, f"TOC link {href} does not resolve to exactly one id"


def test_toc_links_every_level_1_2_heading_and_resolves(rendered):
    _, _, soup = rendered
    _assert_links_resolve(soup)
    body_headings = [h for h in soup.find_all(["h1", "h2"]) if not h.find_parent(["header", "nav"])]
    assert _toc_links(soup) == ["#" + h["id"] for h in body_headings]
    assert [h.get_text(strip=True) for h in body_headings] == [
        "Fixture report",
        "Summary & results (%)",
        "Chart",
        "Second section",
        "Summary & results (%)",
        "How to read this report",
        "Definitions",
        "About this report",
    ]
    ids = [h["id"] for h in body_headings]
    assert len(set(ids)) == len(ids)  # the repeated heading got a distinct anchor
    # level-2 entries are nested under their level-1 entry
    top = soup.select("nav.oa-toc > details > ol > li")
    assert [li.a.get_text() for li in top] == [
        "Fixture report",
        "Second section",
        "How to read this report",
        "Definitions",
        "About this report",
    ]
    assert [a.get_text() for a in top[0].select(":scope > ol a")] == ["Summary & results (%)", "Chart"]


def test_toc_handles_odd_headings(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("## Before any title"),
        nbformat.v4.new_markdown_cell("# Rétention à J7 — « cohorts »"),
        nbformat.v4.new_markdown_cell('<h2 id="my-anchor">Explicit id</h2>\n\n### Level 3 is not listed'),
        nbformat.v4.new_markdown_cell("# !!!"),
        nbformat.v4.new_markdown_cell('# Cell id\n\n<span id="cell-id=cell-0">clash?</span>'),
    ]
    soup = BeautifulSoup(
        render_html([nb], tmp_path / "r.html", title="t", header={}).read_text(encoding="utf-8"),
        "html.parser",
    )
    _assert_links_resolve(soup)
    links = _toc_links(soup)
    assert links[:4] == ["#before-any-title", "#retention-a-j7-cohorts", "#my-anchor", "#section"]
    assert len(links) == 5 + 3  # and the appendix: how to read, definitions, about
    assert "Level 3" not in soup.select_one("nav.oa-toc").get_text()


def test_images_are_embedded_as_data_uris(rendered):
    _, _, soup = rendered
    images = soup.find_all("img")
    assert images, "the fixture shows one image"
    assert all(img["src"].startswith("data:image/png;base64,") for img in images)
    assert images[0]["alt"] == "Figure in section: Chart"
    for tag in soup.find_all(src=True):  # nothing is loaded from elsewhere
        assert tag["src"].startswith("data:"), tag["src"][:80]
    assert not soup.find_all("link", href=True)


def test_the_file_holds_no_url(rendered):
    _, text, soup = rendered
    assert "http://" not in text and "https://" not in text
    assert not soup.find_all("script", type="module")  # nbconvert's mermaid loader


def test_markdown_images_are_embedded_from_image_dir(tmp_path):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "logo.png").write_bytes(base64.b64decode(png))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Logo\n\n![our logo](img/logo.png)")]
    html = render_html([nb], tmp_path / "out" / "r.html", title="t", header={}, image_dir=tmp_path)
    img = BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser").find("img")
    assert img["src"] == "data:image/png;base64," + png
    assert img["alt"] == "our logo"


def test_header_block_title_and_period_params_in_about_at_the_end(rendered):
    _, _, soup = rendered
    assert soup.title.get_text() == "Onboarding report: acme <test>"
    header = soup.select_one("main header.oa-header")
    assert header.h1.get_text() == "Onboarding report: acme <test>"
    assert not header.select("table")
    assert "signups from 2024-01-01" in header.select_one(".oa-period").get_text()
    about = soup.select_one("main section#oa-about")
    rows = {tr.th.get_text(): tr.td.get_text() for tr in about.select("table.oa-params tr")}
    assert rows == {"client": "acme", "segments": "persona, plan", "users": "-", "filters": "plan: pro"}
    assert "signups from 2024-01-01" in about.get_text()
    # header, then the TOC, then the notebooks; the appendix last, About at the very end
    assert soup.select_one("main").find(True).name == "header"
    assert header.find_next_sibling().name == "nav"
    sections = [s["id"] for s in soup.select("main > section.oa-appendix")]
    assert sections == ["oa-how-to-read", "oa-definitions", "oa-about"]
    assert soup.select_one("main").find_all(recursive=False)[-1]["id"] == "oa-about"


def test_report_css_is_in_the_page(rendered):
    _, _, soup = rendered
    css = soup.head.find_all("style")[-1].get_text()
    assert "table.oa-table" in css and "position: sticky" in css


def test_phone_width_css_and_viewport(rendered):
    _, text, soup = rendered
    assert soup.find("meta", attrs={"name": "viewport"})
    assert "max-width: 100%" in text and "overflow-x: auto" in text


def test_render_writes_html_path_and_rejects_nothing_to_render(rendered, tmp_path):
    out, _, _ = rendered
    assert (out / "site" / "report.html").is_file()
    assert sorted(p.name for p in (out / "site").iterdir()) == ["report.html"]  # no temp file left
    with pytest.raises(ReportError, match="no executed notebooks"):
        render_html([], tmp_path / "r.html", title="t", header={})
    with pytest.raises(ReportError, match="executed notebook not found"):
        render_html([tmp_path / "missing.ipynb"], tmp_path / "r.html", title="t", header={})


# --------------------------------------------------------------------------------------------
# run_report
# --------------------------------------------------------------------------------------------


def _project(tmp_path: Path, client: str = "acme") -> Path:
    (tmp_path / "params").mkdir(parents=True)
    params = tmp_path / "params" / f"{client}.yaml"
    params.write_text(
        f"client: {client}\nevents: data/events.csv\nobservation_end: 2024-08-31\nsegments: [plan]\n",
        encoding="utf-8",
    )
    (tmp_path / "data").mkdir(exist_ok=True)  # the inputs are checked (headers) before the notebooks
    (tmp_path / "data" / "events.csv").write_text(
        "user_id,event,timestamp\nu1,signed_up,2024-01-01T00:00:00Z\n", encoding="utf-8"
    )
    return params


def test_run_report_end_to_end(tmp_path, monkeypatch):
    params = _project(tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    out = Path("out")  # relative to the caller, as from the CLI
    (out / "acme").mkdir(parents=True)
    (out / "acme" / "metrics.json").write_text('{"stale": true}', encoding="utf-8")

    html = run_report(
        params, out_dir=out, notebooks=("section_ok.ipynb", "section_metrics.ipynb"), notebook_dir=FIXTURES
    )

    run_dir = out / "acme"
    assert html == run_dir / "report.html" and html.is_file()
    assert (run_dir / "section_ok.ipynb").is_file() and (run_dir / "section_metrics.ipynb").is_file()
    metrics = read_metrics(run_dir)
    assert "stale" not in metrics
    assert metrics["run"]["client"] == "acme"
    assert metrics["run"]["params_file"] == "params/acme.yaml"
    assert metrics["run"]["notebooks"] == ["section_ok.ipynb", "section_metrics.ipynb"]
    assert isinstance(metrics["run"]["package_version"], str)
    # recorded by the notebook: output_dir reached it, and its kernel ran in the project root
    assert metrics["fixture"] == {"client": "acme", "cwd_has_params": True}
    soup = BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser")
    rows = {tr.th.get_text(): tr.td.get_text() for tr in soup.select("table.oa-params tr")}
    assert rows["events"] == "data/events.csv"  # as written in the params file, not absolute
    assert rows["params_file"] == "params/acme.yaml"
    assert "2024-08-31" in soup.select_one(".oa-period").get_text()
    _assert_links_resolve(soup)


def test_run_report_failure_raises_and_leaves_no_stale_report(tmp_path):
    params = _project(tmp_path)
    run_dir = tmp_path / "reports" / "acme"
    run_dir.mkdir(parents=True)
    (run_dir / "report.html").write_text("old", encoding="utf-8")
    with pytest.raises(ReportError, match=r"fails\.ipynb: cell 4"):
        run_report(
            params, out_dir=tmp_path / "reports", notebooks=("fails.ipynb",), notebook_dir=_failing(tmp_path)
        )
    assert not (run_dir / "report.html").exists()
    assert (run_dir / "fails.ipynb").is_file()  # the partial notebook, to debug
    assert read_metrics(run_dir)["run"]["client"] == "acme"


def _failing(tmp_path: Path) -> Path:
    """A notebooks folder with fails.ipynb defaulting to divisor 0 (run_report injects no divisor)."""
    folder = tmp_path / "nbs"
    folder.mkdir()
    nb = nbformat.read(FIXTURES / "fails.ipynb", as_version=4)
    for cell in nb.cells:
        cell.source = cell.source.replace("divisor = 1", "divisor = 0")
    nbformat.write(nb, folder / "fails.ipynb")
    return folder


@pytest.mark.parametrize("jobs", [1, 2])
def test_notebooks_run_in_parallel_and_the_first_failure_in_report_order_is_raised(tmp_path, jobs):
    params = _project(tmp_path)
    folder = _failing(tmp_path)
    failing = nbformat.read(folder / "fails.ipynb", as_version=4)
    nbformat.write(failing, folder / "b_fails.ipynb")
    nbformat.write(failing, folder / "c_fails.ipynb")
    for name in ("section_ok.ipynb", "section_metrics.ipynb"):
        nbformat.write(nbformat.read(FIXTURES / name, as_version=4), folder / name)
    out = tmp_path / "reports"
    ok = ("section_ok.ipynb", "section_metrics.ipynb")
    html = run_report(params, out_dir=out, notebooks=ok, notebook_dir=folder, notebook_jobs=jobs)
    metrics = read_metrics(out / "acme")
    assert metrics["fixture"]["client"] == "acme" and metrics["run"]["notebooks"] == list(ok)
    assert html.is_file()
    # b_fails and c_fails start together with two jobs (one after the other with one job): both
    # fail, the first in report order is raised, and no notebook starts after a failure.
    with pytest.raises(ReportError) as caught:
        run_report(
            params,
            out_dir=out,
            notebooks=("b_fails.ipynb", "c_fails.ipynb", "section_ok.ipynb"),
            notebook_dir=folder,
            notebook_jobs=jobs,
        )
    assert caught.value.notebook == "b_fails.ipynb"
    assert (out / "acme" / "b_fails.ipynb").is_file() and not (out / "acme" / "section_ok.ipynb").exists()
    assert (out / "acme" / "c_fails.ipynb").exists() == (jobs == 2)
    with pytest.raises(ParamsError, match="notebook_jobs must be a whole number >= 1"):
        run_report(params, out_dir=out, notebooks=ok, notebook_dir=folder, notebook_jobs=0)


def test_parallel_runs_start_the_longest_notebooks_first():
    from onboarding_analysis.report.execution import REPORT_NOTEBOOKS
    from onboarding_analysis.report.scheduling import start_order

    order = [REPORT_NOTEBOOKS[i] for i in start_order(REPORT_NOTEBOOKS)]
    assert order[:2] == ["segments.ipynb", "moments.ipynb"]
    assert sorted(order) == sorted(REPORT_NOTEBOOKS)
    assert order.index("retention.ipynb") > order.index("engagement.ipynb")
    assert start_order(["b.ipynb", "segments.ipynb", "a.ipynb"]) == [1, 0, 2]


def test_run_report_missing_notebook_or_params(tmp_path):
    params = _project(tmp_path)
    with pytest.raises(ReportError, match=r"nope\.ipynb: report notebook not found"):
        run_report(params, out_dir=tmp_path / "r", notebooks=("nope.ipynb",), notebook_dir=FIXTURES)
    with pytest.raises(ParamsError, match="params file not found"):
        run_report(tmp_path / "missing.yaml", out_dir=tmp_path / "r", notebook_dir=FIXTURES)
    assert not (tmp_path / "r").exists()


def test_project_root_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert project_root_for(Path("params") / "demo.yaml") == tmp_path.resolve()
    assert project_root_for(tmp_path / "elsewhere" / "run.yaml") == Path.cwd()


@pytest.mark.parametrize(
    ("metrics", "observation_end", "expected"),
    [
        (
            {
                "data": {"first_signup": "2024-01-01T08:00:00"},
                "run": {"observation_end": "2024-09-01T00:00:00"},
            },
            None,
            "signups from 2024-01-01 08:00 to observation end 2024-09-01 00:00 (UTC)",
        ),
        (
            {"run": {"observation_end": "2024-09-01T00:00:00"}},
            None,
            "up to observation end 2024-09-01 00:00 (UTC)",
        ),
        ({}, "2024-08-31", "up to 2024-08-31 (params observation_end)"),
        ({}, None, None),
    ],
)
def test_data_period(metrics, observation_end, expected):
    assert data_period(metrics, observation_end=observation_end) == expected


# --------------------------------------------------------------------------------------------
# Overrides (batch runs) and error.txt
# --------------------------------------------------------------------------------------------


def test_run_report_with_overrides_names_the_run_and_filters(tmp_path):
    params = _project(tmp_path)
    html = run_report(
        params,
        out_dir=tmp_path / "out",
        notebooks=("section_metrics.ipynb",),
        notebook_dir=FIXTURES,
        overrides={"client": "acme-plan-pro", "filters": {"plan": ["pro"]}},
    )
    assert html == tmp_path / "out" / "acme-plan-pro" / "report.html"
    metrics = read_metrics(html.parent)
    assert metrics["run"]["client"] == "acme-plan-pro"
    assert metrics["fixture"]["client"] == "acme-plan-pro"  # injected into the notebook
    soup = BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser")
    rows = {tr.th.get_text(): tr.td.get_text() for tr in soup.select("table.oa-params tr")}
    assert rows["filters"] == "plan: pro" and rows["client"] == "acme-plan-pro"
    assert rows["events"] == "data/events.csv"  # still as written in the file


def test_load_run_params_validates_overrides_and_keeps_the_base_dir(tmp_path):
    params = _project(tmp_path)
    loaded = load_run_params(params, {"client": "x", "filters": {"plan": "pro"}})
    assert (loaded.client, loaded.filters, loaded.segments) == ("x", {"plan": ("pro",)}, ("plan",))
    assert loaded.base_dir == tmp_path.resolve() and loaded.params_file == params.resolve()
    assert load_run_params(params) == load_run_params(params, {})
    with pytest.raises(ParamsError, match="key 'client'"):
        load_run_params(params, {"client": "../elsewhere"})
    with pytest.raises(ParamsError, match="unknown key 'colour'"):
        load_run_params(params, {"colour": "red"})


def test_run_report_failure_writes_error_file_and_a_rerun_clears_it(tmp_path):
    params = _project(tmp_path)
    folder = _failing(tmp_path)
    nbformat.write(nbformat.read(FIXTURES / "section_ok.ipynb", as_version=4), folder / "section_ok.ipynb")
    out, notebooks = tmp_path / "reports", ("section_ok.ipynb", "fails.ipynb")
    with pytest.raises(ReportError):
        run_report(params, out_dir=out, notebooks=notebooks, notebook_dir=folder)
    text = (out / "acme" / ERROR_FILE).read_text(encoding="utf-8")
    head = dict(line.split(": ", 1) for line in text.split("\n\n")[0].splitlines())
    assert head == {
        "run": "acme",
        "params": "params/acme.yaml",
        "notebook": "fails.ipynb",
        "cell": "4",
        "error": "fails.ipynb cell 4: ZeroDivisionError: division by zero",
        "partial notebook": str(out / "acme" / "fails.ipynb"),
    }
    assert "ratio = 1 / divisor" in text  # the full message names the cell's code
    assert "Traceback" not in text  # a notebook error: the traceback is in the partial notebook

    fixed = nbformat.read(FIXTURES / "fails.ipynb", as_version=4)  # divisor = 1
    nbformat.write(fixed, folder / "fails.ipynb")
    run_report(params, out_dir=out, notebooks=notebooks, notebook_dir=folder)
    assert sorted(p.name for p in (out / "acme").iterdir()) == [
        "fails.ipynb",
        "metrics.json",
        "report.html",
        "section_ok.ipynb",
    ]
    rerun = nbformat.read(out / "acme" / "fails.ipynb", as_version=4)
    assert not [o for c in rerun.cells for o in c.get("outputs", []) if o.output_type == "error"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            ReportError("m", notebook="a.ipynb", cell_index=3, ename="DataError", evalue="bad rows\nmore"),
            "a.ipynb cell 3: DataError: bad rows",
        ),
        (
            ReportError("m", notebook="a.ipynb", ename="DeadKernelError", evalue=""),
            "a.ipynb: DeadKernelError: ",
        ),
        (ReportError("a.ipynb: notebook not found.", notebook="a.ipynb"), "a.ipynb: notebook not found."),
        (ParamsError("p.yaml: unknown key 'x'.\nKnown keys: ..."), "p.yaml: unknown key 'x'."),
        (KeyError("bug"), "KeyError: 'bug'"),
        (RuntimeError("x" * 400), "RuntimeError: " + "x" * 283 + "..."),
    ],
)
def test_failure_summary_is_one_line(error, expected):
    assert failure_summary(error) == expected


def test_write_error_file_unexpected_error_has_traceback(tmp_path):
    try:
        {}["missing"]
    except KeyError as err:
        path = write_error_file(tmp_path / "run", err, run_name="run")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(
        "run: run\nnotebook: - (the run stopped before a notebook failed)\nerror: KeyError"
    )
    assert "Traceback (most recent call last)" in text and '{}["missing"]' in text
