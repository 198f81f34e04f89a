"""Signing in to the admin page in a browser, for the page tests: accounts made through the API with
KB_ADMIN_TOKEN, then the sign-in form filled as a person would."""
from __future__ import annotations

import httpx

from tests.support.accounts import ADMIN, PASSWORD


def make_account(url: str, name: str, role: str, password: str = PASSWORD) -> str:
    r = httpx.post(url + "/v1/admin/users", headers=ADMIN, timeout=30,
                   json={"name": name, "role": role, "password": password})
    assert r.status_code in (201, 409), r.text
    return password


def sign_in(page, url: str, name: str, password: str = PASSWORD) -> None:
    """Opens /admin and signs in; returns once the documents are listed."""
    page.goto(url + "/admin")
    page.locator("#login").wait_for()
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")
    page.locator("#doc-rows tr").first.wait_for()
