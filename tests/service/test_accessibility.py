"""axe-core (tests/js, installed by `make browser`) in a real headless Chromium: no serious or critical
accessibility violations on the chat page, the admin page (logged out and in, every tab, as an admin and as a
viewer), the widget with an answer and its demo page."""
from __future__ import annotations

import pytest

from tests.support.admin_page import make_account, sign_in
from tests.support.browser import AXE, PHONE, widget_ask
from tests.support.service import SEED_QUESTION

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")


def violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line per element."""
    assert AXE.exists(), f"{AXE} is missing: run `make browser` (or `npm ci --prefix tests/js`)"
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, { resultTypes: ['violations'] })).violations")
    return [f"{v['impact']} {v['id']} ({v['help']}): {' '.join(n['target'][-1] if isinstance(n['target'][-1], str) else str(n['target']) for n in v['nodes'][:5])}"
            for v in found if v["impact"] in BLOCKING]


def new_page(page_factory, width: int = 1280, height: int = 900):
    # The pages' CSP allows no inline script; axe-core is injected as one.
    return page_factory(width, height, bypass_csp=True)


@pytest.mark.parametrize("width,height", [(1280, 900), (PHONE["width"], PHONE["height"])], ids=["desktop", "phone"])
def test_chat_page_with_an_answer(live_server, page_factory, width, height):
    page = new_page(page_factory, width, height)
    page.goto(live_server.url + "/")
    page.wait_for_function("() => document.querySelector('#kb-meta').textContent.includes('段')")
    assert violations(page) == []
    page.fill("#question", SEED_QUESTION)
    page.keyboard.press("Enter")
    answer = page.locator(".msg.bot:not(.pending)").last
    answer.locator(".card").first.wait_for()
    answer.locator("button.fb.down").click()  # opens the comment box
    answer.locator(".card button.source").first.click()
    answer.locator(".source-detail .full-text").first.wait_for()
    assert violations(page) == []


def test_admin_page_logged_out_and_in(live_server, page_factory):
    import httpx

    httpx.post(live_server.url + "/v1/feedback", json={"question": SEED_QUESTION, "helpful": False}, timeout=30)
    page = new_page(page_factory)
    page.goto(live_server.url + "/admin")
    page.locator("#login").wait_for()
    assert violations(page) == []
    make_account(live_server.url, "a11y-admin", "admin")
    sign_in(page, live_server.url, "a11y-admin")
    assert violations(page) == []
    page.click(".tab[data-tab=feedback]")
    page.locator("#queue-list li").first.wait_for()
    assert violations(page) == []
    page.locator(".q-group button[aria-controls]").first.click()  # a group's passage picker, with results
    page.locator(".q-result").first.wait_for()
    assert violations(page) == []
    page.click(".tab[data-tab=labels]")
    page.locator("#label-rows tr").first.wait_for()
    assert violations(page) == []
    page.click(".tab[data-tab=dict]")
    page.wait_for_function("() => document.querySelector('#dict-text').value.length > 0")
    assert violations(page) == []
    page.click(".tab[data-tab=analytics]")
    page.locator("#an-chart-asks svg").wait_for(state="attached")
    assert violations(page) == []
    page.click(".tab[data-tab=users]")
    page.locator("#tab-users tr[data-user=a11y-admin]").wait_for()
    page.fill("#new-token-name", "a11y")
    page.locator("#tab-users form.add-form button[type=submit]").nth(1).click()
    page.locator("#tab-users .secret-value").wait_for()
    assert violations(page) == []
    page.click(".tab[data-tab=sites]")
    page.locator("#tab-sites table").wait_for()
    assert violations(page) == []
    page.click(".tab[data-tab=audit]")
    page.locator("#tab-audit tbody tr").first.wait_for()
    assert violations(page) == []
    page.click("#password-open")
    page.locator("#pw-current").wait_for()
    assert violations(page) == []
    page.click("#password-close")
    page.click(".tab[data-tab=docs]")
    page.locator("#doc-rows button", has_text="查看段落").first.click()
    page.locator("#drawer .p-card").first.wait_for()
    assert violations(page) == []


def test_admin_page_as_a_viewer(live_server, page_factory):
    page = new_page(page_factory, PHONE["width"], PHONE["height"])
    make_account(live_server.url, "a11y-viewer", "viewer")
    sign_in(page, live_server.url, "a11y-viewer")
    assert violations(page) == []
    page.click(".tab[data-tab=analytics]")
    page.locator("#an-chart-asks svg").wait_for(state="attached")
    assert violations(page) == []


@pytest.mark.parametrize("width,height", [(1280, 800), (PHONE["width"], PHONE["height"])], ids=["desktop", "phone"])
def test_widget_demo_with_an_answer(live_server, page_factory, width, height):
    page = new_page(page_factory, width, height)
    page.goto(live_server.url + "/widget-demo")
    page.locator("kb-assistant .launcher").wait_for()
    assert violations(page) == []
    widget_ask(page, SEED_QUESTION)
    answer = page.locator("kb-assistant .msgs .answer").last
    answer.locator(".card").first.wait_for()
    answer.locator("button.fb.down").click()
    assert violations(page) == []
