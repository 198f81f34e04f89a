"""Hostile input against a real server: a chunked body with no end is cut off at the limit (413) instead of
being read on, and markup in a document and in a question is shown as text in a real browser on the chat
page, the widget and the admin page."""
from __future__ import annotations

import http.client
import json
import re
import time

import pytest

from tests.support.admin_page import make_account, sign_in
from tests.support.service import ADMIN_TOKEN, LiveServer, service_settings_for

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_body_limit_while_streaming_on_a_real_server(encoder, tmp_path, seed_settings, seed_build, model_dir):
    """A chunked body with no end: the server answers 413 after the limit instead of reading on."""
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir)
    with LiveServer(create_app(settings, encoder=encoder)) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.putrequest("POST", "/v1/ask")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        sent = 0
        chunk = b"a" * 8192
        try:
            # Far more than the limit; a server that buffered everything would accept all of it.
            while sent < 50 * settings.max_body_bytes:
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
        assert resp.status == 413
        assert "too large" in body["detail"] and CJK.search(body["detail"])


EVIL = '<img src=x id=pwned onerror="window.__pwned=1">'
EVIL_DOC = f"""宠物托运规范{EVIL}

一、活体宠物寄递原则{EVIL}
本公司不承接活体宠物寄递。客户询问能否寄送活体猫狗时，坐席应说明活体动物不在收寄范围内{EVIL}，并推荐专业宠物托运机构。
"""


@pytest.mark.browser
def test_hostile_text_renders_as_text_in_chat_widget_and_admin(tmp_path, seed_settings, seed_build, model_dir,
                                                              encoder, browser):
    """A document whose title, headings and text hold markup, and a question holding markup: the chat
    page, the widget (shadow DOM) and the admin page (documents, passages, audit log) show them as text; no element is created, no script runs."""
    import httpx

    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir)
    with LiveServer(create_app(settings, encoder=encoder)) as server:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                          timeout=120) as c:
            assert c.post("/v1/admin/documents", files={"file": ("evil.txt", EVIL_DOC.encode())}).status_code == 201
            job = c.post("/v1/admin/reindex").json()
            deadline = time.time() + 300
            while job["state"] not in ("succeeded", "failed") and time.time() < deadline:
                time.sleep(0.2)
                job = c.get(f"/v1/admin/jobs/{job['id']}").json()
            assert job["state"] == "succeeded", job
        question = f"{EVIL}客户想寄活体宠物猫可以吗"
        context = browser.new_context()
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            # chat page
            page.goto(server.url + "/")
            page.fill("#question", question)
            page.keyboard.press("Enter")
            page.locator(".msg.bot .card", has_text="活体").first.wait_for(timeout=60_000)
            assert EVIL in page.locator(".msg.bot").last.inner_text()
            assert page.locator("#pwned").count() == 0
            # widget, inside its shadow root
            page.goto(server.url + "/widget-demo")
            page.locator("kb-assistant .launcher").click()
            page.locator("kb-assistant textarea").fill(question)
            page.keyboard.press("Enter")
            page.locator("kb-assistant .card", has_text="活体").first.wait_for(timeout=60_000)
            assert page.evaluate(
                "document.querySelector('kb-assistant').shadowRoot.querySelectorAll('#pwned, img[src=x]').length"
            ) == 0
            assert EVIL in page.locator("kb-assistant .card", has_text="活体").first.inner_text()
            # admin: documents table and the document's passages
            make_account(server.url, "hostile-admin", "admin")
            sign_in(page, server.url, "hostile-admin")
            row = page.locator("#doc-rows tr", has_text="evil.txt")
            row.wait_for()
            assert page.locator("#pwned").count() == 0
            row.locator("button", has_text="查看段落").click()
            page.locator("#drawer .p-card").first.wait_for()
            assert EVIL in page.locator("#drawer-body").inner_text()
            assert page.locator("#pwned").count() == 0
            # the audit log shows the upload's title as text too
            page.keyboard.press("Escape")
            page.click(".tab[data-tab=audit]")
            page.locator("#tab-audit tbody tr", has_text="POST /v1/admin/documents").first.wait_for()
            assert page.locator("#pwned").count() == 0
            assert page.evaluate("window.__pwned") is None
            assert not errors, errors
        finally:
            context.close()
