"""A card the answer converted into the question's script turns back into its document's own script with
"原文", and back again - on the chat page and in the widget alike (one rendering module, answer-view.js);
the highlights follow the text shown. A card that was not converted has no such button."""
from __future__ import annotations

import pytest

from tests.support.browser import widget_ask

pytestmark = pytest.mark.browser

CONVERTED = {
    "id": "c1", "kind": "case", "title": "难以解决的投诉", "text": "快递公司收到客户的电话。服务失误带给客户的损失是无法弥补的。",
    "highlights": ["服务失误带给客户的损失是无法弥补的。"], "original_title": "難以解決的投訴",
    "original_text": "快遞公司收到客戶的電話。服務失誤帶給客戶的損失是無法彌補的。",
    "original_highlights": ["服務失誤帶給客戶的損失是無法彌補的。"],
    "doc": "000.txt", "doc_title": "金牌客户服务的理念", "section_path": "服务失误导致的投诉", "sources": [], "score": 0.9,
}
AS_IS = {
    "id": "p1", "kind": "principle", "title": "道歉在先", "text": "先道歉，再说明赔偿标准。", "highlights": ["先道歉，"],
    "original_title": None, "original_text": None, "original_highlights": None,
    "doc": "001.txt", "doc_title": "服务手册", "section_path": "投诉", "sources": [], "score": 0.8,
}
ANSWER = {"question": "客户要赔偿", "matched": True, "confidence": 0.9, "session_id": "s1", "answer": "……",
          "script": "simplified", "principles": [AS_IS], "cases": [CONVERTED], "passages": [], "suggestions": []}


def _mock(page):
    page.route("**/v1/ask", lambda route: route.fulfill(json=ANSWER))
    # the passage endpoint answers in the document's own script
    page.route("**/v1/passages/*", lambda route: route.fulfill(json={
        **CONVERTED, "title": CONVERTED["original_title"], "text": CONVERTED["original_text"],
        "original_title": None, "original_text": None}))


def _chat(page, url):
    page.goto(url + "/")
    _mock(page)
    page.fill("#question", ANSWER["question"])
    page.keyboard.press("Enter")
    page.locator(".msg.bot:not(.pending) .feedback").last.wait_for()
    return page.locator(".msg.bot").last


def _widget(page, url):
    page.goto(url + "/widget-demo")
    _mock(page)
    widget_ask(page, ANSWER["question"])
    page.locator("kb-assistant .msgs .feedback").last.wait_for()
    return page.locator("kb-assistant .msgs")


@pytest.mark.parametrize("shell", [_chat, _widget], ids=["chat page", "widget"])
def test_original_is_one_click_away_and_back(live_server, page_factory, shell):
    root = shell(page_factory(), live_server.url)
    case = root.locator(".card.case")
    toggle = case.locator("button.script-toggle")
    assert case.locator(".card-title").inner_text() == "难以解决的投诉"
    assert toggle.inner_text().strip() == "原文" and toggle.get_attribute("aria-pressed") == "false"
    assert root.locator(".card.principle button.script-toggle").count() == 0

    toggle.click()
    assert case.locator(".card-title").inner_text() == "難以解決的投訴"
    assert case.locator(".passage-text").inner_text() == CONVERTED["original_text"]
    assert case.locator(".passage-text mark").inner_text() == "服務失誤帶給客戶的損失是無法彌補的。"
    assert toggle.inner_text().strip() == "简体" and toggle.get_attribute("aria-pressed") == "true"
    case.locator("button.source").click()  # the full passage below the card is the one the card shows
    assert case.locator(".source-detail .full-text").inner_text() == CONVERTED["original_text"]

    toggle.click()
    assert case.locator(".card-title").inner_text() == "难以解决的投诉"
    assert case.locator(".passage-text mark").inner_text() == "服务失误带给客户的损失是无法弥补的。"
    assert case.locator(".source-detail .full-text").inner_text() == CONVERTED["text"]


HEADED = {**AS_IS, "id": "p2", "title": "用心倾听", "text": "用心倾听\n客户说话时不要打断。", "highlights": []}


def test_a_card_does_not_repeat_its_title_as_the_first_line(live_server, page_factory):
    page = page_factory()
    page.goto(live_server.url + "/")
    page.route("**/v1/ask", lambda route: route.fulfill(json={**ANSWER, "principles": [HEADED], "cases": []}))
    page.fill("#question", ANSWER["question"])
    page.keyboard.press("Enter")
    card = page.locator(".msg.bot:not(.pending) .card.principle").last
    card.wait_for()
    assert card.locator(".card-title").inner_text() == "用心倾听"
    assert card.locator(".passage-text").inner_text() == "客户说话时不要打断。"
