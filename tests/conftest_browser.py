"""Fixtures and helpers for the browser tests (tests/test_pages.py, tests/test_widget.py,
tests/test_answer_view.py, tests/test_accessibility.py): Debian's real headless Chromium driven by Playwright.

Import what you need into the test module (`from conftest_browser import ...`).
"""
from __future__ import annotations

import http.server
import re
import threading
from pathlib import Path

import pytest

from conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
# axe-core, installed by `make test` (npm ci --prefix tests/js).
AXE = REPO / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"

PHONE = {"width": 390, "height": 844}

# The admin page probes with a wrong/missing token on purpose; those responses are logged by Chromium.
EXPECTED = re.compile(r"Failed to load resource: the server responded with a status of (401|403|503)")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
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


def ask(page, question: str) -> None:
    page.fill("#question", question)
    page.keyboard.press("Enter")


class HostPage:
    """Another site: a tiny HTTP server on 127.0.0.1:`port` (another origin than the service) whose one page
    embeds the widget with a script tag."""

    def __init__(self, port: int, widget_src: str, title: str = "售后助手"):
        self.origin = f"http://127.0.0.1:{port}"
        html = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>shop</title></head><body>'
                f'<h1>别人的网站</h1><script src="{widget_src}" data-title="{title}" async></script>'
                f'</body></html>').encode("utf-8")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(html)))
                self.end_headers()
                self.wfile.write(html)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="host-page", daemon=True)

    def __enter__(self) -> "HostPage":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def widget_ask(page, question: str) -> None:
    """Opens the widget (if closed), types `question` and presses Enter."""
    if not page.locator("kb-assistant .panel").is_visible():
        page.locator("kb-assistant .launcher").click()
    page.locator("kb-assistant textarea").fill(question)
    page.locator("kb-assistant textarea").press("Enter")
