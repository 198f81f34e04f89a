"""What the browser tests share: Debian's real headless Chromium (launched by the `browser` fixture in
tests/service/conftest.py, driven by Playwright), axe-core, a phone's viewport, and the helpers that type
a question into the chat page or the widget, or put the widget on another site."""
from __future__ import annotations

import http.server
import re
import threading
from pathlib import Path

from tests.support.paths import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
# axe-core, installed by `make browser` (npm ci --prefix tests/js).
AXE = REPO / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"

PHONE = {"width": 390, "height": 844}

# The admin page probes with a wrong/missing token on purpose; those responses are logged by Chromium.
EXPECTED = re.compile(r"Failed to load resource: the server responded with a status of (401|403|503)")


def ask(page, question: str) -> None:
    page.fill("#question", question)
    page.keyboard.press("Enter")


class HostPage:
    """Another site: a tiny HTTP server on 127.0.0.1:`port` (another origin than the service) whose one page
    embeds the widget with a script tag (with `attrs`, more data- attributes); `routes` maps further paths to
    a function giving (body, content type), e.g. the site's own backend."""

    def __init__(self, port: int, widget_src: str, title: str = "售后助手", attrs: str = "",
                 routes: dict | None = None):
        self.origin = f"http://127.0.0.1:{port}"
        html = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>shop</title></head><body>'
                f'<h1>别人的网站</h1><script src="{widget_src}" data-title="{title}" {attrs} async></script>'
                f'</body></html>').encode("utf-8")
        pages = {"/": lambda: (html, "text/html; charset=utf-8"), **(routes or {})}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body, ctype = pages.get(self.path, pages["/"])()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

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
