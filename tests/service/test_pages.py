"""The pages in a real headless Chromium against a real uvicorn server on 127.0.0.1."""
from __future__ import annotations

import re

import pytest

from tests.support.admin_page import make_account, sign_in
from tests.support.browser import ask, widget_ask
from tests.support.service import (
    NEW_DOC_NAME,
    NEW_DOC_QUESTION,
    NEW_DOC_TEXT,
    OOS_QUESTION,
    SEED_CASE_TITLE,
    SEED_QUESTION,
    LiveServer,
    service_settings_for,
)

pytestmark = pytest.mark.browser


def test_chat_page(live_server, page_factory, artifacts):
    page = page_factory(1280, 1300)
    page.goto(live_server.url + "/")
    page.wait_for_selector("#kb-meta:has-text('段')")
    ask(page, SEED_QUESTION)
    case_title = page.locator(".msg.bot .card.case .card-title", has_text=SEED_CASE_TITLE)
    case_title.wait_for()
    answer = page.locator(".msg.bot").last
    assert answer.locator(".card.principle").count() >= 1
    assert answer.locator("mark").count() >= 1, "highlighted sentences"
    assert answer.locator(".suggestions .chip").count() >= 1
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "chat.png"))
    # sources expand to the full passage
    card = answer.locator(".card.case").first
    card.locator("button.source").click()
    card.locator(".source-detail .full-text").wait_for()
    assert "快递公司" in card.locator(".source-detail .full-text").inner_text()  # in the question's script

    # 👎 with a comment reaches the feedback queue
    answer.locator("button.fb.down").click()
    answer.locator(".fb-comment input").fill("想要赔偿标准的具体金额")
    answer.locator(".fb-comment button[type=submit]").click()
    answer.locator(".fb-label", has_text="已记录").wait_for()

    # ↑ recalls the last question; Shift+Enter makes a new line instead of sending
    page.focus("#question")
    page.keyboard.press("ArrowUp")
    assert page.input_value("#question") == SEED_QUESTION
    page.fill("#question", "第一行")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("第二行")
    assert page.input_value("#question") == "第一行\n第二行"
    assert page.locator(".msg.user").count() == 1

    # the "not found" state still shows the nearest passages
    ask(page, OOS_QUESTION)
    page.locator(".notfound").wait_for()
    assert "没有找到" in page.locator(".notfound").inner_text()
    assert page.locator(".group.nearest .card").count() >= 1

    # a follow-up keeps the session; "新对话" starts over
    sid = page.evaluate("sessionStorage.getItem('kb.session')")
    assert sid
    page.click("#new-chat")
    assert page.evaluate("sessionStorage.getItem('kb.session')") is None
    assert page.locator(".msg").count() == 0


FOLLOW_UP_QUESTION = "客户情绪很激动，一直在骂人，我该怎么安抚？"

# The first card of the last answer has its head line in view: below the sticky top bar, above the question box.
LAST_ANSWER_IN_VIEW = """() => {
    const answers = document.querySelectorAll('.msg.bot:not(.pending)');
    const card = answers.length && answers[answers.length - 1].querySelector('.card');
    if (!card) return false;
    const top = card.getBoundingClientRect().top;
    const bar = document.querySelector('.topbar').getBoundingClientRect().bottom;
    const box = document.querySelector('.composer').getBoundingClientRect().top;
    return top >= bar && top + 40 <= box;
}"""


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_a_follow_up_answer_is_scrolled_into_view_when_it_arrives(live_server, page_factory, width, height):
    page = page_factory(width, height)
    page.goto(live_server.url + "/")
    for n, question in enumerate((SEED_QUESTION, FOLLOW_UP_QUESTION), start=1):
        ask(page, question)
        page.wait_for_function("n => document.querySelectorAll('.msg.bot:not(.pending)').length === n", arg=n)
    page.wait_for_function(LAST_ANSWER_IN_VIEW, timeout=10_000)


# Where to ask, where an error shows and the question box: on the chat page and in the widget.
SURFACES = {
    "chat": ("/", ask, ".msg.bot .error", "#question"),
    "widget": ("/widget-demo", widget_ask, "kb-assistant .error", "kb-assistant textarea"),
}


@pytest.mark.parametrize("surface", SURFACES)
def test_a_failed_question_stays_in_the_box(live_server, page_factory, surface):
    path, asker, error, box = SURFACES[surface]
    page = page_factory(allow=re.compile("ERR_FAILED"))
    page.goto(live_server.url + path)
    page.route("**/v1/ask", lambda route: route.abort())
    asker(page, SEED_QUESTION)
    assert "无法连接知识库服务" in page.locator(error).inner_text()
    assert page.locator(box).input_value() == SEED_QUESTION


def test_question_text_is_never_html(live_server, page_factory):
    page = page_factory()
    page.goto(live_server.url + "/")
    evil = '<img src=x id=pwned onerror="window.__pwned=1">客户要退款'
    ask(page, evil)
    page.locator(".msg.bot .answer:not(:has(.typing))").last.wait_for()
    assert page.locator("#pwned").count() == 0
    assert page.locator(".msg.user .bubble").last.inner_text() == evil
    assert page.evaluate("window.__pwned") is None


def test_chat_on_a_phone(live_server, page_factory):
    page = page_factory(390, 800)
    page.goto(live_server.url + "/")
    ask(page, SEED_QUESTION)
    page.locator(".card.case .card-title", has_text=SEED_CASE_TITLE).wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("#send").is_visible()


def test_widget_on_the_demo_page(live_server, page_factory, artifacts):
    page = page_factory(1280, 800)
    page.goto(live_server.url + "/widget-demo")
    launcher = page.locator("kb-assistant .launcher")
    launcher.click()
    # the host page's `button { background: hotpink !important }` does not reach into the widget
    assert page.evaluate(
        "getComputedStyle(document.querySelector('kb-assistant').shadowRoot.querySelector('.launcher')).backgroundColor"
    ) != "rgb(255, 105, 180)"
    page.locator("kb-assistant textarea").fill(SEED_QUESTION)
    page.keyboard.press("Enter")
    page.locator("kb-assistant .card.case .card-title", has_text=SEED_CASE_TITLE).wait_for()
    assert page.locator("kb-assistant .card.principle").count() >= 1
    assert page.locator("kb-assistant mark").count() >= 1
    page.wait_for_timeout(200)
    page.screenshot(path=str(artifacts / "widget.png"))
    page.keyboard.press("Escape")
    assert not page.locator("kb-assistant .panel").is_visible()


def test_admin_upload_reindex_then_ask(live_server, page_factory, artifacts):
    page = page_factory(1280, 1000)
    make_account(live_server.url, "pages-editor", "editor")
    sign_in(page, live_server.url, "pages-editor")
    assert page.locator("#doc-rows tr").count() == 5

    page.set_input_files("#file", files=[{"name": NEW_DOC_NAME, "mimeType": "text/plain",
                                          "buffer": NEW_DOC_TEXT.encode("utf-8")}])
    page.click("#upload-btn")
    page.locator("#upload-result .ok", has_text=NEW_DOC_NAME).wait_for()
    row = page.locator("#doc-rows tr", has_text=NEW_DOC_NAME)
    row.locator(".pill", has_text="待索引").wait_for()

    page.click("#reindex")
    page.locator("#job-state.succeeded").wait_for(timeout=300_000)
    assert "已上线" in page.locator("#job-result").inner_text()
    row.locator(".pill", has_text="已索引").wait_for()

    # the document's passages as the bot will quote them
    row.locator("button", has_text="查看段落").click()
    page.locator("#drawer .p-card").first.wait_for()
    assert "活体宠物" in page.locator("#drawer-body").inner_text()
    page.keyboard.press("Escape")

    # the feedback queue and the dictionary tabs render
    page.click(".tab[data-tab=feedback]")
    page.locator("#queue-list li").first.wait_for()
    page.click(".tab[data-tab=dict]")
    page.wait_for_function("() => document.querySelector('#dict-text').value.length > 0")
    page.click(".tab[data-tab=docs]")
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_function("() => !document.querySelector('#toast').classList.contains('show')")
    page.screenshot(path=str(artifacts / "admin.png"), full_page=True)

    # agents now get answers from the new document, without a restart
    chat = page_factory()
    chat.goto(live_server.url + "/")
    ask(chat, NEW_DOC_QUESTION)
    card = chat.locator(".msg.bot .card", has_text="活体宠物").first
    card.wait_for()
    assert re.search("宠物托运", card.locator(".src-text").inner_text())


def test_the_first_admin_signs_in_without_kb_admin_token(tmp_path, seed_settings, seed_build, model_dir, encoder,
                                                          page_factory, caplog):
    """No KB_ADMIN_TOKEN, no account: the first start logs the admin's password once, and it signs in."""
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, admin_token=None)
    with caplog.at_level("WARNING", logger="bot.auth.first_admin"), LiveServer(create_app(settings, encoder=encoder)) as server:
        password = re.search(r"password: (\S+)", caplog.text).group(1)
        page = page_factory()
        sign_in(page, server.url, "admin", password)
        assert page.locator(".tab[data-tab=users]").is_visible()


def test_api_docs_render_offline(live_server, page_factory):
    page = page_factory()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(live_server.url + "/docs")
    page.locator(".opblock, details.op").first.wait_for(timeout=30_000)
    assert "/v1/ask" in page.content()
    assert all(u.startswith(live_server.url) or u.startswith("data:") for u in requests), requests
