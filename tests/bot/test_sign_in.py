"""Signing in to the admin API as a person: the cookie's flags, wrong passwords locking the address and the
name out (on every replica), sessions that end (sign-out, revocation, a new password, a disabled account), API
tokens that stop working when revoked, the last admin kept, and every one of these in the audit log."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.accounts import ADMIN, PASSWORD, make_account, make_token, sign_in
from tests.support.service import service_settings_for


def _actions(client, **filters) -> list[tuple[str, str, int]]:
    entries = client.get("/v1/admin/audit", headers=ADMIN, params=filters).json()["entries"]
    return [(e["actor"], e["action"], e["status"]) for e in entries]


def test_the_session_cookie_is_httponly_strict_and_secure_over_https(client):
    make_account(client, "cookie-check", "viewer")
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        r = client.post(base + "/v1/auth/login", json={"name": "cookie-check", "password": PASSWORD})
        client.cookies.clear()
        flags = [f.strip().lower() for f in r.headers["set-cookie"].split(";")]
        assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
        assert ("secure" in flags) is secure
        assert r.json()["role"] == "viewer" and len(r.json()["csrf"]) >= 32


def test_sign_out_revocation_and_a_new_password_end_sessions(client):
    make_account(client, "li", "editor")
    first, second = sign_in(client, "li"), sign_in(client, "li")
    assert client.get("/v1/auth/me", headers=first).json()["name"] == "li"
    sessions = client.get("/v1/admin/sessions", headers=ADMIN).json()["sessions"]
    mine = [s for s in sessions if s["account"] == "li"]
    assert len(mine) == 2
    # an admin ends one of them
    assert client.delete(f"/v1/admin/sessions/{mine[0]['id']}", headers=ADMIN).status_code == 200
    alive = [h for h in (first, second) if client.get("/v1/auth/me", headers=h).status_code == 200]
    assert len(alive) == 1
    # a new password ends the others; this browser gets a fresh session
    r = client.post("/v1/auth/password", headers=alive[0], json={"current": PASSWORD, "new": "another long one"})
    assert r.status_code == 200
    client.cookies.clear()
    assert client.get("/v1/auth/me", headers=alive[0]).status_code == 401
    again = sign_in(client, "li", "another long one")
    assert client.post("/v1/auth/logout", headers=again).status_code == 200
    assert client.get("/v1/admin/status", headers={"Cookie": again["Cookie"]}).status_code == 401
    assert ("li", "logout", 200) in _actions(client, actor="li")


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(client):
    make_account(client, "wang", "viewer")
    session = sign_in(client, "wang")
    assert client.patch("/v1/admin/users/wang", headers=ADMIN, json={"disabled": True}).json()["disabled"] is True
    assert client.get("/v1/admin/status", headers=session).status_code == 401
    assert client.post("/v1/auth/login", json={"name": "wang", "password": PASSWORD}).status_code == 401


def test_a_revoked_api_token_stops_working(client):
    headers = make_token(client, "nightly", "editor")
    assert client.get("/v1/admin/documents", headers=headers).status_code == 200
    token_id = next(t["id"] for t in client.get("/v1/admin/tokens", headers=ADMIN).json()["tokens"]
                    if t["name"] == "nightly")
    assert client.delete(f"/v1/admin/tokens/{token_id}", headers=ADMIN).status_code == 200
    assert client.get("/v1/admin/documents", headers=headers).status_code == 403
    listed = client.get("/v1/admin/tokens", headers=ADMIN).json()["tokens"]
    assert all("token" not in t for t in listed)  # never shown again


def test_the_last_admin_is_kept(client):
    admins = [u["name"] for u in client.get("/v1/admin/users", headers=ADMIN).json()["users"]
              if u["role"] == "admin" and not u["disabled"]]
    for name in admins[1:]:
        client.patch(f"/v1/admin/users/{name}", headers=ADMIN, json={"role": "editor"})
    last = admins[0]
    for change in ({"role": "viewer"}, {"disabled": True}):
        r = client.patch(f"/v1/admin/users/{last}", headers=ADMIN, json=change)
        assert r.status_code == 400 and "at least one enabled admin" in r.json()["detail"]
    assert client.delete(f"/v1/admin/users/{last}", headers=ADMIN).status_code == 400


def test_bad_account_input_is_refused_in_both_languages(client):
    for body, status in (({"name": "bad name!", "role": "viewer"}, 400), ({"name": "x", "role": "boss"}, 422),
                         ({"name": "short-pw", "role": "viewer", "password": "123"}, 400)):
        r = client.post("/v1/admin/users", headers=ADMIN, json=body)
        assert r.status_code == status, r.text
        if status == 400:
            assert " / " in r.json()["detail"]
    make_account(client, "dup", "viewer")
    assert client.post("/v1/admin/users", headers=ADMIN, json={"name": "dup", "role": "viewer"}).status_code == 409


@pytest.fixture()
def guarded(tmp_path, seed_settings, seed_build, model_dir, encoder):
    """A service that locks out after 3 wrong passwords, for 120 s."""
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, admin_lockout_failures=3,
                                    admin_lockout_seconds=120)
    with TestClient(create_app(settings, encoder=encoder)) as c:
        yield c


def test_wrong_passwords_lock_the_name_and_the_address_out(guarded):
    c = guarded
    make_account(c, "zhao", "editor")
    for _ in range(3):
        assert c.post("/v1/auth/login", json={"name": "zhao", "password": "guess-guess"}).status_code == 401
    r = c.post("/v1/auth/login", json={"name": "zhao", "password": PASSWORD})  # the right one, too late
    assert r.status_code == 429 and 100 <= int(r.headers["retry-after"]) <= 120
    assert "登录失败次数过多" in r.json()["detail"] and "too many failed sign-ins" in r.json()["detail"]
    # the address is locked out for every name
    make_account(c, "qian", "editor")
    assert c.post("/v1/auth/login", json={"name": "qian", "password": PASSWORD}).status_code == 429
    failed = [a for a in _actions(c, action="login.failed")]
    assert failed == [("zhao", "login.failed", 401)] * 3


def test_sign_in_attempts_are_rate_limited_per_address(tmp_path, seed_settings, seed_build, model_dir, encoder):
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, login_rate_per_minute=4)
    with TestClient(create_app(settings, encoder=encoder)) as c:
        codes = [c.post("/v1/auth/login", json={"name": "nobody", "password": "x" * 10}).status_code for _ in range(6)]
    assert codes[:4] == [401] * 4 and codes[4:] == [429, 429]


def test_wrong_passwords_sent_to_several_replicas_lock_out_on_every_one(tmp_path, seed_settings, seed_build,
                                                                         model_dir, encoder):
    """Two replicas on one PostgreSQL database: spreading guesses over them gains nothing."""
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, backend="postgresql",
                                    admin_lockout_failures=3, admin_lockout_seconds=120)
    with TestClient(create_app(settings, encoder=encoder)) as one, \
            TestClient(create_app(settings, encoder=encoder)) as two:
        make_account(one, "sun", "editor")
        for replica in (one, two, one):
            assert replica.post("/v1/auth/login", json={"name": "sun", "password": "guess-guess"}).status_code == 401
        r = two.post("/v1/auth/login", json={"name": "sun", "password": PASSWORD})
        assert r.status_code == 429 and 100 <= int(r.headers["retry-after"]) <= 120
        assert _actions(two, action="login.failed") == [("sun", "login.failed", 401)] * 3
