"""The HTML outputs in a real browser: headless Chromium driven by Selenium and chromedriver.

A small demo batch (one good run, one failing run, and a 200-user client without feedback,
revenue or change date, with a few defective rows) is rendered once; report.html and
index.html are then opened from disk and checked: no console errors, no request leaving the
page, every image decoded, every table-of-contents link landing on an element, no sideways
scrolling at 1400 px nor at phone width, the tables real ``<table>`` elements, no raw dumps
("Empty DataFrame", "nan", "None", tracebacks, warning source lines, machine paths) in the
visible text, no URL in the file, and the index table sorting on a click. Screenshots of the
reports (top at 1400 and 400 px, a section at phone width) are saved under
``reports/browser-screenshots/`` (or ``$SCREENSHOT_DIR``) for a person to look at.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); elsewhere the
tests are skipped with the reason, except under CI (``CI`` set), where a missing browser fails.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
import pytest
import yaml

from onboarding_analysis.demo.generator import DemoSpec, write_demo
from onboarding_analysis.report.batch import run_batch
from onboarding_analysis.report.batch_plan import plan_runs

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
NARROW = {"width": 400, "height": 900, "deviceScaleFactor": 1, "mobile": True}
WIDE = {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False}
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "reports" / "browser-screenshots"))
REPORTS = ("demo", "smallco")


def _browser_paths() -> tuple[str, str]:
    """(chromium, chromedriver) executables, or skip (fail under CI) saying what is missing."""
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", browser), ("chromedriver", driver)) if path is None]
    if missing:
        reason = (
            f"no {' or '.join(missing)} on PATH: install Debian's chromium and chromium-driver "
            "(apt-get install chromium chromium-driver), as .ci/run does"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return browser, driver


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    browser, chromedriver = _browser_paths()
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is a dev dependency: pip install -e .[dev]"
    )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=Service(chromedriver), options=options)
    session.set_page_load_timeout(60)
    yield session
    session.quit()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """A small demo batch: 'demo' succeeds, 'broken' fails on data without timestamps."""
    project = tmp_path_factory.mktemp("browser")
    write_demo(project / "data" / "demo", spec=DemoSpec(n_users=600))
    pd.DataFrame({"user_id": ["u1"], "event": ["signed_up"]}).to_csv(
        project / "data" / "bad.csv", index=False
    )
    (project / "params").mkdir()
    demo = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    (project / "params" / "demo.yaml").write_text(yaml.safe_dump(demo))
    broken = demo | {"client": "broken", "events": "data/bad.csv"}
    (project / "params" / "broken.yaml").write_text(yaml.safe_dump(broken))
    (project / "params" / "smallco.yaml").write_text(yaml.safe_dump(_small_client(project, demo)))
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
    try:
        result = run_batch(
            plan_runs([project / "params" / f"{name}.yaml" for name in ("demo", "broken", "smallco")]),
            out_dir=project / "out",
            jobs=2,
        )
    finally:
        if path is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = path
    assert [run.status for run in result.runs] == ["ok", "failed", "ok"], result.summary()
    return project / "out"


def _small_client(project: Path, demo: dict) -> dict:
    """A 200-user client as a CSV export: no feedback, revenue or onboarding change, two
    segments, five rows without a user id and 25 duplicated rows (notes in the report)."""
    written = write_demo(project / "data" / "small-raw", spec=DemoSpec(n_users=200))
    events = pd.read_parquet(written["events"])
    events = events[~events["event"].isin(["feedback_submitted", "mrr_changed", "checklist_shown"])]
    no_id = events.sample(5, random_state=2).assign(user_id=None)
    events = pd.concat([events, events.sample(25, random_state=1), no_id]).sort_values("timestamp")
    events[["user_id", "event", "timestamp"]].to_csv(project / "data" / "small-events.csv", index=False)
    users = pd.read_csv(written["users"])[["user_id", "signup_at", "persona", "plan"]]
    users.to_csv(project / "data" / "small-users.csv", index=False)
    return demo | {
        "client": "smallco",
        "events": "data/small-events.csv",
        "users": "data/small-users.csv",
        "segments": ["persona", "plan"],
        "reference_groups": {"persona": "marketer"},
        "feedback_event": None,
        "revenue_event": None,
        "change_date": None,
    }


def _open(driver, path: Path, *, phone: bool = False, metrics: dict | None = None) -> list[dict]:
    """Load ``path`` (on a phone screen, or a screen of ``metrics``); return the console
    entries logged while loading it."""
    driver.get_log("browser")  # drop entries of earlier pages
    if phone or metrics:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics or PHONE)
    else:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.get(path.as_uri())
    driver.execute_script("return document.readyState")
    return driver.get_log("browser")


def _assert_clean_console(entries: list[dict]) -> None:
    errors = [e for e in entries if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors


def _assert_nothing_fetched_from_elsewhere(driver) -> None:
    fetched = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith(("file:", "data:")) for url in fetched), fetched


def test_report_has_no_console_errors_and_loads_nothing_external(driver, outputs):
    _assert_clean_console(_open(driver, outputs / "demo" / "report.html"))
    _assert_nothing_fetched_from_elsewhere(driver)
    assert driver.title == "Onboarding report: demo"


def test_report_images_are_all_decoded(driver, outputs):
    _open(driver, outputs / "demo" / "report.html")
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.src.slice(0, 22)])"
    )
    assert len(images) >= 4
    assert all(complete and width > 0 for complete, width, _ in images), images
    assert {src for *_, src in images} == {"data:image/png;base64,"}


def test_report_toc_links_all_land_on_an_element(driver, outputs):
    _open(driver, outputs / "demo" / "report.html")
    links = driver.execute_script(
        "return Array.from(document.querySelectorAll('nav.oa-toc a')).map(a => [a.getAttribute('href'),"
        " document.getElementById(decodeURIComponent(a.hash.slice(1))) !== null])"
    )
    assert len(links) >= 6
    assert all(href.startswith("#") and found for href, found in links), links
    driver.find_element("css selector", "nav.oa-toc summary").click()  # the contents open on a click
    # far down the page, and followed by enough text to scroll to the top (About is at the very end)
    last = next(
        a for a in driver.find_elements("css selector", "nav.oa-toc a") if a.text == "How to read this report"
    )
    last.click()
    assert driver.execute_script("return location.hash") == last.get_attribute("hash")
    top = driver.execute_script(
        "return document.getElementById(decodeURIComponent(location.hash.slice(1))).getBoundingClientRect().top"
    )
    assert abs(top) < 5  # scrolled to the heading


@pytest.mark.parametrize("page", ["demo/report.html", "index.html"])
def test_pages_fit_a_phone_screen(driver, outputs, page):
    _assert_clean_console(_open(driver, outputs / page, phone=True))
    width, scroll_width = driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]"
    )
    assert width == PHONE["width"]
    assert scroll_width <= width, f"{page} scrolls sideways at phone width ({scroll_width} > {width} px)"
    too_wide = driver.execute_script(
        "return Array.from(document.images).filter(i => i.getBoundingClientRect().right > window.innerWidth + 1)"
        ".length"
    )
    assert too_wide == 0


def test_index_has_no_console_errors_and_its_links_resolve(driver, outputs):
    _assert_clean_console(_open(driver, outputs / "index.html"))
    _assert_nothing_fetched_from_elsewhere(driver)
    hrefs = driver.execute_script("return Array.from(document.links).map(a => a.href)")
    assert len(hrefs) >= 3  # the report, error.txt and the partial notebook
    for href in hrefs:
        assert Path(unquote(urlparse(href).path)).is_file(), href


def test_index_sorts_on_a_click(driver, outputs):
    _open(driver, outputs / "index.html")

    def order() -> list[str]:
        return [th.text for th in driver.find_elements("css selector", "#runs tbody th")]

    assert order() == ["demo", "broken", "smallco"]
    buttons = driver.find_elements("css selector", "#runs thead button")
    buttons[0].click()  # by run name
    assert order() == ["broken", "demo", "smallco"]
    buttons[0].click()
    assert order() == ["smallco", "demo", "broken"]
    buttons[2].click()  # by users (200, 600): the failed run has none and stays last both ways
    assert order() == ["smallco", "demo", "broken"]
    buttons[2].click()
    assert order() == ["demo", "smallco", "broken"]
    header = driver.find_elements("css selector", "#runs thead th")[2]
    assert header.get_attribute("aria-sort") == "descending"


# --------------------------------------------------------------------------------------------
# What a reader sees: formatted tables, no raw dumps, no machine paths, at 1400 and 400 px
# --------------------------------------------------------------------------------------------

#: Seen in the visible text, each of these means a raw dump reached the reader.
FORBIDDEN_TEXT = {
    "Empty DataFrame": r"Empty DataFrame",
    "nan": r"\bnan\b",
    "None": r"\bNone\b",
    "Traceback": r"Traceback",
    "a warning source line": r"Warning: |\.py:\d+",
    "an absolute path": r"(?<![\w.])/(?:tmp|home|root|work|usr|srv|var|opt|Users)/",
}


def _visible_text(driver) -> str:
    """The page's rendered text with every collapsed block opened."""
    driver.execute_script("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    return driver.execute_script("return document.body.innerText")


@pytest.mark.parametrize("screen", [WIDE, NARROW], ids=["1400px", "400px"])
@pytest.mark.parametrize("name", REPORTS)
def test_report_reads_well_at_desktop_and_phone_width(driver, outputs, name, screen):
    path = outputs / name / "report.html"
    _assert_clean_console(_open(driver, path, metrics=screen))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}-top-{screen['width']}px.png"))
    width, scroll_width = driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]"
    )
    assert width == screen["width"]
    assert scroll_width <= width, f"{name} scrolls sideways at {width} px ({scroll_width} px wide)"
    # Every table of figures is a real <table>; no pandas text dump is left in a <pre>.
    tables = driver.execute_script("return document.querySelectorAll('table.oa-table').length")
    assert tables >= 15, tables
    dumps = driver.execute_script(
        "return Array.from(document.querySelectorAll('.jp-OutputArea-output pre'))"
        ".map(p => p.innerText).filter(t => /ci_low|p_adjusted|rows_read|  eligible  /.test(t))"
    )
    assert dumps == []
    text = _visible_text(driver)
    found = {what: re.findall(pattern, text)[:3] for what, pattern in FORBIDDEN_TEXT.items()}
    assert not any(found.values()), {what: hits for what, hits in found.items() if hits}
    # A wide table scrolls inside its own box, never the page.
    wider = driver.execute_script(
        "return Array.from(document.querySelectorAll('.oa-scroll'))"
        ".filter(b => b.getBoundingClientRect().right > window.innerWidth + 1).length"
    )
    assert wider == 0


@pytest.mark.parametrize("name", REPORTS)
def test_report_file_holds_no_url_and_ends_with_its_appendix(outputs, name):
    text = (outputs / name / "report.html").read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert str(outputs) not in text and str(ROOT) not in text
    ends = re.findall(r'<section class="oa-appendix" id="([\w-]+)"', text)
    assert ends == ["oa-how-to-read", "oa-definitions", "oa-about"]


def test_small_client_report_says_what_is_not_configured(driver, outputs):
    _open(driver, outputs / "smallco" / "report.html")
    text = _visible_text(driver)
    assert "not configured: set params feedback_event" in text
    assert "Not configured for this run: set params 'change_date'" in text
    assert "Not configured for this run: set params 'revenue_event'" in text
    # its data notes: once each, in the data section, without paths
    notes = driver.execute_script(
        "return Array.from(document.querySelectorAll('p.oa-note')).map(p => p.innerText)"
    )
    excluded = [n for n in notes if "excluded as 'missing user id'" in n]
    assert len(excluded) == 1 and "5 event rows" in excluded[0]
    assert len([n for n in notes if "excluded as 'duplicate event'" in n]) == 1
    assert len(notes) == len(set(notes))
    definitions = driver.execute_script(
        "return Array.from(document.querySelectorAll('#oa-definitions dt')).map(d => d.innerText)"
    )
    assert "Net revenue churn" not in definitions and "NPS and CSAT" not in definitions
    assert "Before and after the onboarding change" not in definitions


def test_demo_section_at_phone_width_is_saved(driver, outputs):
    _open(driver, outputs / "demo" / "report.html", metrics=NARROW)
    driver.execute_script(
        "Array.from(document.querySelectorAll('h2')).find(h => h.innerText.startsWith('Segment comparisons'))"
        ".scrollIntoView()"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "demo-segments-400px.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
