"""The embeddable widget in a real headless Chromium: on a phone, on another site whose origin the service
allows, and on one it does not."""
from __future__ import annotations

import pytest

from tests.support.browser import PHONE, HostPage, widget_ask
from tests.support.service import SEED_CASE_TITLE, SEED_QUESTION, LiveServer, free_port, service_settings_for

pytestmark = pytest.mark.browser

REFUSED = "此网站未获授权使用知识库"


def test_send_can_be_tapped_on_a_phone_right_after_opening(live_server, page_factory):
    page = page_factory(PHONE["width"], PHONE["height"], is_mobile=True, has_touch=True)
    page.goto(live_server.url + "/widget-demo")
    page.locator("kb-assistant .launcher").tap()
    page.locator("kb-assistant textarea").fill(SEED_QUESTION)
    box = page.locator("kb-assistant .send").bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.locator("kb-assistant .u", has_text=SEED_QUESTION).wait_for(timeout=10_000)
    page.locator("kb-assistant .card.case .card-title", has_text=SEED_CASE_TITLE).wait_for()
    assert page.locator("kb-assistant .panel").is_visible()


def test_widget_embedded_cross_origin(tmp_path, seed_settings, seed_build, model_dir, encoder, browser):
    """A page on another origin embeds the widget with one script tag; the API allows that origin."""
    from bot.app import create_app

    port = free_port()
    settings = service_settings_for(tmp_path, seed_settings, model_dir, cors_origins=[f"http://127.0.0.1:{port}"])
    with LiveServer(create_app(settings, encoder=encoder)) as api, HostPage(port, api.url + "/widget.js") as host:
        ctx = browser.new_context(viewport={"width": 1100, "height": 800})
        try:
            page = ctx.new_page()
            page.goto(host.origin + "/")
            widget_ask(page, SEED_QUESTION)
            assert page.locator("kb-assistant .head .t").inner_text().startswith("售后助手")
            page.locator("kb-assistant .card.case .card-title", has_text=SEED_CASE_TITLE).wait_for()
            # the source line opens the full passage, fetched across origins too
            card = page.locator("kb-assistant .card.case").first
            card.locator("button.source").click()
            card.locator(".source-detail .full-text").wait_for()
        finally:
            ctx.close()


@pytest.mark.parametrize("cors_origins", [[], ["http://shop.example"]], ids=["none-allowed", "another-allowed"])
def test_a_site_not_in_cors_origins_is_told_so_and_keeps_the_question(
        tmp_path, seed_settings, seed_build, model_dir, encoder, browser, cors_origins):
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, cors_origins=cors_origins)
    with LiveServer(create_app(settings, encoder=encoder)) as api, HostPage(free_port(), api.url + "/widget.js") as host:
        ctx = browser.new_context(viewport={"width": 1100, "height": 800})
        console: list[str] = []
        try:
            page = ctx.new_page()
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.goto(host.origin + "/")
            widget_ask(page, SEED_QUESTION)
            assert REFUSED in page.locator("kb-assistant .error").inner_text()
            assert page.locator("kb-assistant textarea").input_value() == SEED_QUESTION
            told = [m for m in console if "KB_CORS_ORIGINS" in m]
            assert told and host.origin in told[0], console
        finally:
            ctx.close()
