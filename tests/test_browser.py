"""The HTML outputs in a real browser: headless Chromium driven by Selenium and chromedriver.

A small demo batch (one good run, one failing run) is rendered once; report.html and
index.html are then opened from disk and checked: no console errors, no request leaving the
page, every image decoded, every table-of-contents link landing on an element, no sideways
scrolling at phone width, and the index table sorting on a click.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); elsewhere the
tests are skipped with the reason, except under CI (``CI`` set), where a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
import pytest
import yaml

from onboarding_analysis.batch import plan_runs, run_batch
from onboarding_analysis.demo import DemoSpec, write_demo

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
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
    try:
        result = run_batch(
            plan_runs([project / "params" / "demo.yaml", project / "params" / "broken.yaml"]),
            out_dir=project / "out",
            jobs=2,
        )
    finally:
        if path is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = path
    assert [run.status for run in result.runs] == ["ok", "failed"], result.summary()
    return project / "out"


def _open(driver, path: Path, *, phone: bool = False) -> list[dict]:
    """Load ``path``; return the console entries logged while loading it."""
    driver.get_log("browser")  # drop entries of earlier pages
    if phone:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
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
    last = driver.find_elements("css selector", "nav.oa-toc a")[-1]
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

    assert order() == ["demo", "broken"]
    buttons = driver.find_elements("css selector", "#runs thead button")
    buttons[0].click()  # by run name
    assert order() == ["broken", "demo"]
    buttons[0].click()
    assert order() == ["demo", "broken"]
    buttons[2].click()  # by users: the failed run has none and stays last both ways
    assert order() == ["demo", "broken"]
    buttons[2].click()
    assert order() == ["demo", "broken"]
    header = driver.find_elements("css selector", "#runs thead th")[2]
    assert header.get_attribute("aria-sort") == "descending"
