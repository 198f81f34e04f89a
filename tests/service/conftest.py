"""The running product's fixtures: a real uvicorn server on 127.0.0.1 (one per test module, on its own copy of
the seed KB), the folder for screenshots, and Debian's headless Chromium with pages that fail the test on
any console error or uncaught exception."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.browser import ARGS, CHROMIUM, EXPECTED
from tests.support.paths import ARTIFACTS
from tests.support.service import LiveServer, service_settings_for


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, seed_settings, seed_build, model_dir, encoder):
    from bot.app import create_app

    settings = service_settings_for(tmp_path_factory.mktemp("live"), seed_settings, model_dir)
    with LiveServer(create_app(settings, encoder=encoder)) as server:
        yield server


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page_factory(browser):
    """New pages that record console errors and uncaught exceptions (CSP violations show up here).

    `make(width, height, allow=None, **context_options)`: `allow`, a regex of console errors the test expects
    (e.g. a request it makes fail); context options e.g. is_mobile=True, has_touch=True for a phone.
    """
    pages, problems = [], []

    def make(width: int = 1280, height: int = 900, allow: re.Pattern | None = None, **options):
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                  permissions=["clipboard-read", "clipboard-write"], **options)
        page = ctx.new_page()

        def expected(text: str) -> bool:
            return bool(EXPECTED.search(text) or (allow and allow.search(text)))

        page.on("console", lambda m: problems.append(m.text) if m.type == "error" and not expected(m.text) else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        pages.append(ctx)
        return page

    yield make
    for ctx in pages:
        ctx.close()
    assert problems == [], problems
