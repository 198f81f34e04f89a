"""The widget on another site that says who is asking, in a real headless Chromium: the site's backend hands
the widget a signed token (data-token-url); a valid one is answered and recorded as that agent's, an expired
or a forged one is refused — the widget fetches a new one once, then says so and keeps the question."""
from __future__ import annotations

import time

import pytest

from tests.support.accounts import ADMIN
from tests.support.browser import widget_ask
from tests.support.service import SEED_CASE_TITLE, SEED_QUESTION, LiveServer, free_port, service_settings_for
from tests.support.sites import SiteWithBackend, mint

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def service(tmp_path_factory, seed_settings, seed_build, model_dir, encoder):
    """A server with one registered site (its origin allowed, its secret known), and that site's port."""
    import httpx

    from bot.app import create_app

    port = free_port()
    settings = service_settings_for(tmp_path_factory.mktemp("identity"), seed_settings, model_dir)
    app = create_app(settings, encoder=encoder)
    with LiveServer(app) as server:
        r = httpx.post(server.url + "/v1/admin/sites", headers=ADMIN, timeout=30,
                       json={"id": "shop", "name": "网店", "origins": [f"http://127.0.0.1:{port}"]})
        assert r.status_code == 201, r.text
        yield server, port, r.json()["secret"]


def _open(browser, site):
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(site.origin + "/")
    return ctx, page, errors


def test_a_valid_token_is_answered_and_recorded_as_the_agents(service, browser, artifacts):
    server, port, secret = service
    with SiteWithBackend(port, server.url + "/widget.js", lambda: mint(secret, "shop", agent="wang-01", team="夜班")) as site:
        ctx, page, errors = _open(browser, site)
        try:
            widget_ask(page, SEED_QUESTION)
            page.locator("kb-assistant .card.case .card-title", has_text=SEED_CASE_TITLE).wait_for()
            page.screenshot(path=str(artifacts / "widget-identity.png"))
            assert errors == [] and site.fetched == 1
        finally:
            ctx.close()
    import httpx

    teams = httpx.get(server.url + "/v1/admin/analytics?days=1", headers=ADMIN, timeout=30).json()["per_team"]
    assert {t["team"]: t["asks"] for t in teams}.get("夜班") == 1


@pytest.mark.parametrize("kind,token,shown", [
    ("expired", lambda s: mint(s, "shop", issued=time.time() - 3000), "已过期"),
    ("forged", lambda s: mint("a-secret-the-site-never-had-0123456789", "shop"), "签名不对"),
])
def test_an_expired_or_forged_token_is_refused_and_the_question_kept(service, browser, kind, token, shown):
    server, port, secret = service
    with SiteWithBackend(port, server.url + "/widget.js", lambda: token(secret)) as site:
        ctx, page, errors = _open(browser, site)
        try:
            widget_ask(page, SEED_QUESTION)
            error = page.locator("kb-assistant .error")
            error.wait_for()
            assert shown in error.inner_text(), error.inner_text()
            assert page.locator("kb-assistant textarea").input_value() == SEED_QUESTION
            assert site.fetched == 2  # a refused token is fetched anew once, then given up
            assert all("401" in e for e in errors), errors
        finally:
            ctx.close()
