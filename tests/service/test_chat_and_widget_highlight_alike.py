"""The chat page and the widget render an answer from one source (bot/static/answer-view.js): the same
answer comes out with the same highlighted sentences in both, in a real headless Chromium."""
from __future__ import annotations

import pytest

from tests.support.browser import widget_ask

pytestmark = pytest.mark.browser

TEXT = "客户说快递晚到了。文件已经没用了，要求赔偿。我们先道歉，再说明赔偿标准。"


def passage(pid: str, kind: str, highlights: list) -> dict:
    return {"id": pid, "kind": kind, "title": "道歉在先", "text": TEXT, "doc": "a.txt", "doc_title": "服务手册",
            "section_path": "第一章 > 投诉", "sources": [], "score": 0.5, "highlights": highlights}


# Highlight sentences that overlap, carry stray whitespace, are too short, or are not in the text.
TRICKY = ["快递晚到了。文件已经没用了", "文件已经没用了，要求赔偿。", "  我们先道歉，  ", "再", "不在原文里的句子"]
MATCHED = {
    "question": "客户要赔偿", "matched": True, "confidence": 0.9, "session_id": "s1", "answer": "……",
    "principles": [passage("p1", "principle", TRICKY)], "cases": [passage("c1", "case", ["赔偿"])],
    "passages": [], "suggestions": ["客户要求赔偿怎么办"],
}
UNMATCHED = {
    "question": "电影推荐", "matched": False, "confidence": 0.1, "session_id": "s2", "answer": "……",
    "principles": [], "cases": [], "suggestions": [],
    "passages": [passage(f"n{i}", "other", ["我们先道歉，"]) for i in range(4)],
}

# Every element that holds a <mark>, as its runs of text: ["mark" | "text", run].
HIGHLIGHTS = """root => {
    const holders = [...new Set([...root.querySelectorAll('mark')].map((m) => m.parentElement))];
    return holders.map((h) => [...h.childNodes].map((n) => [n.nodeName === 'MARK' ? 'mark' : 'text', n.textContent]));
}"""


def chat_highlights(page, answer: dict) -> list:
    page.route("**/v1/ask", lambda route: route.fulfill(json=answer))
    page.fill("#question", answer["question"])
    page.keyboard.press("Enter")
    page.locator(".msg.bot:not(.pending) .feedback").last.wait_for()
    return page.locator(".msg.bot").last.evaluate(HIGHLIGHTS)


def widget_highlights(page, answer: dict) -> list:
    page.route("**/v1/ask", lambda route: route.fulfill(json=answer))
    widget_ask(page, answer["question"])
    page.locator("kb-assistant .msgs .fb, kb-assistant .msgs .feedback").last.wait_for()
    return page.evaluate(f"({HIGHLIGHTS})(document.querySelector('kb-assistant').shadowRoot.querySelector('.msgs'))")


@pytest.mark.parametrize("answer", [MATCHED, UNMATCHED], ids=["matched", "not-found"])
def test_chat_page_and_widget_highlight_an_answer_identically(live_server, page_factory, answer):
    chat = page_factory()
    chat.goto(live_server.url + "/")
    widget = page_factory()
    widget.goto(live_server.url + "/widget-demo")
    assert widget_highlights(widget, answer) == chat_highlights(chat, answer)


def test_overlapping_touching_and_padded_highlights_make_one_mark(live_server, page_factory):
    chat = page_factory()
    chat.goto(live_server.url + "/")
    principle = chat_highlights(chat, MATCHED)[0]
    assert principle == [
        ["text", "客户说"], ["mark", "快递晚到了。文件已经没用了，要求赔偿。我们先道歉，"], ["text", "再说明赔偿标准。"],
    ]
