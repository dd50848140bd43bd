"""Browser tests: Debian's chromium driven by Playwright for Python through its executable path
(no browser download), against a real ``windvane standalone`` started once for the module.

Without /usr/bin/chromium (or the ``playwright`` package) the tests skip, and fail under
``CI=true``. Screenshots go to ``docs/img/`` when ``WINDVANE_UI_SCREENSHOTS=1`` (``make
screenshots``), else to a temporary folder, so a plain test run leaves the work tree clean.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.home import PASSWORD, USER, Standalone
from windvane.testing.waiting import wait_for

CHROMIUM = os.environ.get("WINDVANE_TEST_CHROMIUM", "/usr/bin/chromium")
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing; CI installs it (.ci/run)")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="session")
def sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        _missing(f"chromium ({CHROMIUM})")
    return sync_playwright


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("WINDVANE_UI_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        return DOCS_IMG
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, sync_playwright: Any) -> Iterator[Standalone]:
    home = Standalone(tmp_path_factory.mktemp("ui-home"))
    home.prepare()
    home.start()
    try:
        import httpx

        def dags_parsed() -> bool:
            assert home.process is not None and home.process.poll() is None, home.output()
            try:
                r = httpx.post(f"{home.url}/api/v1/auth/login", json={"username": USER, "password": PASSWORD})
                if r.status_code != 200:
                    return False
                dags = httpx.get(f"{home.url}/api/v1/dags?tags=ui", cookies=r.cookies).json()
                return bool(dags["total_entries"] == 3)
            except httpx.HTTPError:
                return False

        wait_for(dags_parsed, timeout=60, what="standalone to serve the UI and parse the test DAGs")
        yield home
    finally:
        home.stop()


@pytest.fixture(scope="session")
def browser(sync_playwright: Any) -> Iterator[Any]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: Standalone) -> Iterator[Any]:
    """A page logged in through the login form, with a laptop-sized viewport."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, timezone_id="Europe/Paris")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(20_000)
    page.goto(server.url + "/")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("table.dags")
    yield page
    context.close()
    assert not errors, f"script errors in the page: {errors}"
