"""The admin page with accounts, in a real headless Chromium: signing in and out, what each role sees and may
do (a viewer has no upload button, and the server answers 403 anyway), a write without the CSRF token refused,
the lockout after repeated wrong passwords, the analytics charts drawn without any third-party request, and
the users, sites and audit tabs."""
from __future__ import annotations

import re

import httpx
import pytest

from tests.support.accounts import ADMIN
from tests.support.admin_page import make_account, sign_in
from tests.support.service import OOS_QUESTION, SEED_QUESTION, LiveServer, service_settings_for

pytestmark = pytest.mark.browser


def _fetch(page, method: str, path: str, csrf: bool) -> dict:
    """A same-origin call from the signed-in page, with or without the session's CSRF token."""
    return page.evaluate("""async ([method, path, csrf]) => {
        const headers = { "Content-Type": "application/json" };
        if (csrf) headers["X-CSRF-Token"] = KBAdmin.me().csrf;
        const r = await fetch(path, { method, headers, body: method === "GET" ? undefined : JSON.stringify({ text: "退款 退钱" }) });
        return { status: r.status, body: await r.json() };
    }""", [method, path, csrf])


def test_wrong_password_then_sign_in_and_out(live_server, page_factory):
    make_account(live_server.url, "editor-li", "editor")
    page = page_factory()
    page.goto(live_server.url + "/admin")
    page.fill("#login-name", "editor-li")
    page.fill("#login-password", "not the password")
    page.click("#login-form button[type=submit]")
    page.locator("#login-error", has_text="用户名或密码不正确").wait_for()
    sign_in(page, live_server.url, "editor-li")
    assert page.locator("#whoami").inner_text() == "editor-li（编辑）"
    assert page.locator("#upload-form").is_visible() and page.locator("#reindex").is_visible()
    assert not page.locator(".tab[data-tab=users]").is_visible()
    page.click("#logout")
    page.locator("#login").wait_for()
    page.reload()
    page.locator("#login").wait_for()  # the session is gone, not just hidden
    assert not page.locator("#app").is_visible()


def test_a_viewer_has_no_upload_button_and_is_refused_by_the_server(live_server, page_factory, artifacts):
    make_account(live_server.url, "viewer-an", "viewer")
    page = page_factory()
    sign_in(page, live_server.url, "viewer-an")
    assert not page.locator("#upload-form").is_visible() and not page.locator("#reindex").is_visible()
    assert page.locator("#doc-rows button", has_text="删除").count() == 0
    assert page.locator("#doc-rows button", has_text="查看段落").count() > 0
    for tab in ("users", "sites", "audit"):
        assert not page.locator(f".tab[data-tab={tab}]").is_visible()
    page.click(".tab[data-tab=dict]")
    assert not page.locator("#dict-form button[type=submit]").is_visible()
    page.screenshot(path=str(artifacts / "admin-viewer.png"), full_page=True)
    for method, path in (("POST", "/v1/admin/reindex"), ("PUT", "/v1/admin/synonyms"), ("GET", "/v1/admin/users")):
        r = _fetch(page, method, path, csrf=True)
        assert r["status"] == 403 and "needs" in r["body"]["detail"], (method, path, r)


def test_a_write_without_the_csrf_token_is_refused(live_server, page_factory):
    make_account(live_server.url, "editor-zhou", "editor")
    page = page_factory()
    sign_in(page, live_server.url, "editor-zhou")
    refused = _fetch(page, "PUT", "/v1/admin/synonyms", csrf=False)
    assert refused["status"] == 403 and "CSRF" in refused["body"]["detail"]
    assert _fetch(page, "PUT", "/v1/admin/synonyms", csrf=True)["status"] == 200


def test_repeated_wrong_passwords_lock_the_sign_in(tmp_path, seed_settings, seed_build, model_dir, encoder,
                                                   page_factory):
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, admin_lockout_failures=3,
                                    admin_lockout_seconds=60)
    with LiveServer(create_app(settings, encoder=encoder)) as server:
        make_account(server.url, "sun", "editor")
        page = page_factory(allow=re.compile("status of 429"))
        page.goto(server.url + "/admin")
        page.fill("#login-name", "sun")
        for _ in range(3):
            page.fill("#login-password", "wrong password")
            page.click("#login-form button[type=submit]")
            page.locator("#login-error", has_text="用户名或密码不正确").wait_for()
            page.evaluate("document.querySelector('#login-error').textContent = ''")
        page.fill("#login-password", "correct horse battery")
        page.click("#login-form button[type=submit]")
        page.locator("#login-error", has_text="登录失败次数过多").wait_for()
        assert not page.locator("#app").is_visible()


def test_analytics_charts_render_with_no_third_party_request(live_server, page_factory, artifacts):
    for q in (SEED_QUESTION, OOS_QUESTION, OOS_QUESTION):
        assert httpx.post(live_server.url + "/v1/ask", json={"question": q}, timeout=60).status_code == 200
    make_account(live_server.url, "viewer-stats", "viewer")
    page = page_factory(1280, 1300)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    sign_in(page, live_server.url, "viewer-stats")
    page.click(".tab[data-tab=analytics]")
    bars = page.locator("#an-chart-asks svg g.bar")
    bars.first.wait_for(state="attached")  # the first days' bars are empty: nothing to see
    assert bars.count() == 30
    assert page.locator("#an-chart-rates svg polyline").count() >= 1
    assert OOS_QUESTION in page.locator("#an-unanswered").inner_text()
    assert page.locator("#an-cited li").count() >= 1
    page.select_option("#an-days", "7")
    page.wait_for_function("() => document.querySelectorAll('#an-chart-asks svg g.bar').length === 7")
    page.screenshot(path=str(artifacts / "admin-analytics.png"), full_page=True)
    csv = httpx.get(live_server.url + page.locator("#an-csv").get_attribute("href"), headers=ADMIN, timeout=30)
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").startswith("date,asks")
    assert requests and all(u.startswith(live_server.url) for u in requests), requests


def test_users_sites_and_audit_tabs(live_server, page_factory, artifacts):
    make_account(live_server.url, "boss", "admin")
    page = page_factory(1280, 1000)
    sign_in(page, live_server.url, "boss")
    page.click(".tab[data-tab=users]")
    page.fill("#new-user-name", "new-editor")
    page.click("#tab-users form.add-form button[type=submit] >> nth=0")
    password = page.locator("#tab-users .secret-value").first
    password.wait_for()
    assert len(password.inner_text()) >= 16
    page.locator("#tab-users tr[data-user=new-editor]").wait_for()
    page.fill("#new-token-name", "夜间导入")
    page.locator("#tab-users form.add-form button[type=submit]").nth(1).click()
    page.locator("#tab-users .secret-value", has_text="kbt_").wait_for()
    page.screenshot(path=str(artifacts / "admin-users.png"), full_page=True)
    page.click(".tab[data-tab=sites]")
    page.fill("#site-id", "shop")
    page.fill("#site-name", "网上商城")
    page.fill("#site-origins", "https://shop.example.com")
    page.click("#tab-sites form.add-form button[type=submit]")
    page.locator("#tab-sites .secret-value").wait_for()
    page.locator("#tab-sites tr[data-site=shop]").wait_for()
    page.screenshot(path=str(artifacts / "admin-sites.png"), full_page=True)
    page.click(".tab[data-tab=audit]")
    page.locator("#tab-audit tbody tr").first.wait_for()
    text = page.locator("#tab-audit tbody").inner_text()
    assert "POST /v1/admin/sites" in text and "POST /v1/admin/users" in text and "boss" in text
    page.screenshot(path=str(artifacts / "admin-audit.png"), full_page=True)
