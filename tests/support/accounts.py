"""Accounts for the tests of roles and sign-in: made through the admin API with KB_ADMIN_TOKEN, and signed in
as a browser would be (the session cookie and the CSRF token as headers, so a test client's cookie jar never
carries a session into requests that expect none)."""
from __future__ import annotations

from tests.support.service import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PASSWORD = "correct horse battery"


def make_account(client, name: str, role: str, password: str = PASSWORD) -> str:
    """An account of that role (made once per client: a second call keeps the first); its password."""
    r = client.post("/v1/admin/users", headers=ADMIN, json={"name": name, "role": role, "password": password})
    assert r.status_code in (201, 409), r.text
    return password


def sign_in(client, name: str, password: str = PASSWORD) -> dict[str, str]:
    """The headers of a signed-in browser: its session cookie and the CSRF token its page sends on writes."""
    r = client.post("/v1/auth/login", json={"name": name, "password": password})
    assert r.status_code == 200, r.text
    cookie = r.cookies.get("kb_session")
    client.cookies.clear()
    return {"Cookie": f"kb_session={cookie}", "X-CSRF-Token": r.json()["csrf"]}


def make_token(client, name: str, role: str) -> dict[str, str]:
    """The Authorization header of a new API token of that role."""
    r = client.post("/v1/admin/tokens", headers=ADMIN, json={"name": name, "role": role})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
