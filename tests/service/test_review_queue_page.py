"""The review queue on the admin page in a real Chromium: agents' 👎 on the same and a near-identical question
show as one group with its count; the editor searches passages inside the page, picks the one that answers,
the group leaves the queue, the labels tab lists the fix, and agents get that passage first."""
from __future__ import annotations

import time

import httpx
import pytest

from tests.support.accounts import ADMIN
from tests.support.admin_page import make_account, sign_in

pytestmark = pytest.mark.browser

QUESTION = "客户在电话里骂人，还威胁要去媒体曝光，我该怎么稳住他"
NEAR = "客户电话里骂人，威胁要找媒体曝光，我怎么稳住他"


def test_an_editor_fixes_a_group_from_the_queue(live_server, page_factory, artifacts):
    url = live_server.url
    for question in (QUESTION, QUESTION, NEAR):
        ans = httpx.post(f"{url}/v1/ask", json={"question": question}, timeout=30).json()
        httpx.post(f"{url}/v1/feedback", json={"question": question, "helpful": False, "comment": "没说怎么稳住",
                                                "passage_id": ans["passages"][0]["id"]}, timeout=30)
    page = page_factory()
    make_account(url, "queue-editor", "editor")
    sign_in(page, url, "queue-editor")
    page.click(".tab[data-tab=feedback]")
    group = page.locator(".q-group", has_text=QUESTION)
    group.wait_for()
    count = int(group.locator(".q-count").inner_text().lstrip("×"))
    assert count >= 3  # three 👎, and the questions that got no answer
    shown = group.locator(".q-text").inner_text() + group.locator(".q-variants").inner_text()
    assert QUESTION in shown and NEAR in shown  # the near-identical wording is in the same group
    assert page.locator(".q-group", has_text=NEAR).count() == 1
    assert "没说怎么稳住" in group.inner_text() and "机器人上次" in group.inner_text()

    group.locator("button", has_text="选择答案段落").click()
    box = group.locator(".q-search input")
    assert box.input_value() in (QUESTION, NEAR)  # the group's question, to start from
    box.fill("媒体曝光 投诉 处理")
    group.locator(".q-search button[type=submit]").click()
    group.locator(".q-result").nth(2).wait_for()
    chosen = group.locator(".q-result").nth(2)
    passage_id = chosen.get_attribute("data-passage")
    page.screenshot(path=str(artifacts / "admin-queue.png"), full_page=True)
    chosen.locator("button", has_text="这段能回答").click()
    page.locator(".q-group", has_text=QUESTION).wait_for(state="detached")
    page.locator("#toast", has_text="约 1 秒内生效").wait_for()

    page.click(".tab[data-tab=labels]")
    row = page.locator("#label-rows tr", has_text="媒体曝光")  # the group's question
    row.wait_for()
    assert "编辑" in row.inner_text()
    labels = httpx.get(f"{url}/v1/admin/labels", headers=ADMIN, timeout=30).json()["labels"]
    assert any(x["created_by"] == "queue-editor" for x in labels)  # the fix names the editor who made it
    page.click(".tab[data-tab=feedback]")
    page.wait_for_function("() => !document.querySelector('#queue-list').textContent.includes('稳住他')")

    deadline = time.monotonic() + 5
    while httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=30).json()["passages"][0]["id"] != passage_id:
        assert time.monotonic() < deadline, "agents did not get the picked passage within 5 s"
        time.sleep(0.1)
