"""End to end in a real headless browser: Debian's chromium, driven by Playwright.

The server is uvicorn on a free loopback port; the browser is /usr/bin/chromium
(Playwright's own browser download is never used). `.ci/run` installs chromium.
"""

from __future__ import annotations

import base64
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from exposure.pipeline import REFERENCE_WORKBOOK
from exposure.web.server import create_app
from exposure.web.settings import Settings
from tests import workbooks

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists() and shutil.which("chromium") is None,
        reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)",
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    work = tmp_path_factory.mktemp("web-jobs")
    app = create_app(Settings(work_dir=work))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


def test_reference_workbook_solves_and_results_download(page, base_url, tmp_path):
    page.goto(base_url + "/")
    page.set_input_files("#workbook", str(REFERENCE_WORKBOOK))
    page.check("input[name=objective][value=priority]")
    page.click("#run")
    page.wait_for_url("**/jobs/*")
    page.wait_for_selector("#results")  # the running page refreshes itself until done
    assert "exposure 1:" in page.inner_text("#sentences")
    panels = page.locator("#origins figure").count()
    assert panels >= 2  # supply by origin: one panel per material
    assert page.locator("svg.chart").count() == 2 + panels
    with page.expect_download() as info:
        page.click("#results")
    download = info.value
    assert download.suggested_filename == "reference-results.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    sectors = pd.read_excel(saved, sheet_name="Sectors")
    assert len(sectors) > 0 and "value_service_level" in sectors.columns


def test_broken_workbook_dropped_on_the_page_names_the_bad_cell(page, base_url, tmp_path):
    sheets = workbooks.tiny()
    sheets["Supply"][1][3] = "ten"  # Supply!D2
    broken = workbooks.write(sheets, tmp_path / "broken.xlsx")
    page.goto(base_url + "/")
    # Drag and drop: a File dropped on the drop zone becomes the form's file.
    page.evaluate(
        """([name, data]) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name));
            const drop = document.getElementById("drop");
            drop.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true,
                                                      cancelable: true}));
        }""",
        ["broken.xlsx", base64.b64encode(broken.read_bytes()).decode()],
    )
    assert "broken.xlsx" in page.inner_text("#chosen")
    page.click("#run")
    page.wait_for_selector("#issues")
    table = page.inner_text("#issues")
    assert "Supply" in table and "D2" in table and "not a number" in table
    with page.expect_download() as info:
        page.click("#annotated")
    saved = tmp_path / "annotated.xlsx"
    info.value.save_as(saved)
    book = openpyxl.load_workbook(saved)
    assert "Errors" in book.sheetnames
    assert book["Supply"]["D2"].comment is not None
    book.close()


def test_charts_fit_a_phone_screen(browser, base_url, tmp_path):
    """The charts used to be a fixed 680 px: on a phone only a slice of them showed."""
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(base_url + "/")
        page.set_input_files("#workbook", str(REFERENCE_WORKBOOK))
        page.click("#run")
        page.wait_for_selector("#results")
        widths = page.eval_on_selector_all(
            "svg.chart", "nodes => nodes.map(n => n.getBoundingClientRect().right)"
        )
        assert widths and max(widths) <= 375
        assert set(
            page.eval_on_selector_all("svg.chart", "ns => ns.map(n => n.getAttribute('width'))")
        ) == {"100%"}
        # every material's panel has a bar that can be seen, however few tonnes it is
        longest = page.eval_on_selector_all(
            "#origins figure",
            """figures => figures.map(f => Math.max(...Array.from(
                f.querySelectorAll("rect[fill]:not([fill='#eef1f4'])"),
                r => r.getBoundingClientRect().width)))""",
        )
        assert longest and min(longest) > 40, longest
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 375
        icon = page.evaluate("fetch('/favicon.svg').then(r => r.headers.get('content-type'))")
        assert icon.startswith("image/svg+xml")
    finally:
        context.close()


def test_refused_file_keeps_the_options_and_asks_for_the_file_again(page, base_url, tmp_path):
    csv = tmp_path / "plan.csv"
    csv.write_text("sector,units\nS1,10\n", encoding="utf-8")
    page.goto(base_url + "/")
    page.set_input_files("#workbook", str(csv))
    page.check("input[name=objective][value=fair]")
    page.check("input[name=scenarios]")
    page.click("#run")
    page.wait_for_selector("#refusal")
    assert "not an Excel .xlsx workbook" in page.inner_text("#refusal")
    assert page.is_checked("input[name=objective][value=fair]")
    assert page.is_checked("input[name=scenarios]")
    assert "choose the workbook again" in page.inner_text("#choose-again")
    assert "plan.csv" in page.inner_text("#choose-again")
