"""Hostile requests against the admin API and the pages: every admin operation needs the right credentials, token
comparison in constant time, security headers and CSP, text never rendered as HTML, CORS only for listed
origins, the rate limit, and the storage's own protections. In-process on the bad-input modules' service
(`rc`, tests/bot/conftest.py)."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.support.paths import REPO
from tests.support.service import ADMIN_TOKEN, SEED_QUESTION, service_settings_for
from tests.support.hostile import bilingual


# --- auth ----------------------------------------------------------------------------------------

def _admin_operations(client) -> list[tuple[str, str]]:
    ops = []
    for path, item in client.get("/openapi.json").json()["paths"].items():
        if path.startswith("/v1/admin"):
            for method in item:
                ops.append((method.upper(), path.replace("{doc_id}", "x.txt").replace("{job_id}", "abc")))
    return ops


def test_every_admin_operation_needs_the_right_token(rc):
    ops = _admin_operations(rc)
    assert len(ops) >= 12
    for method, path in ops:
        r = rc.request(method, path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (method, path)
        bilingual(r)
        for bad in ("Bearer wrong", f"Bearer {ADMIN_TOKEN}x", f"Bearer {ADMIN_TOKEN[:-1]}", "Bearer " + "x" * 5000,
                    f"bearer {ADMIN_TOKEN.upper()}"):
            r = rc.request(method, path, headers={"Authorization": bad})
            assert r.status_code == 403, (method, path, bad)
            bilingual(r)
        for missing in (f"Basic {ADMIN_TOKEN}", "Bearer", "Bearer   ", ADMIN_TOKEN):
            assert rc.request(method, path, headers={"Authorization": missing}).status_code == 401


def test_token_comparison_is_constant_time():
    import inspect

    from bot.auth import principal

    for fn in (principal._from_token, principal.check_csrf):  # KB_ADMIN_TOKEN, and a session's CSRF token
        src = inspect.getsource(fn)
        assert "hmac.compare_digest" in src and " == " not in src


def test_without_kb_admin_token_every_bearer_token_is_refused(tmp_path, seed_settings, seed_build, model_dir,
                                                             encoder):
    """No KB_ADMIN_TOKEN: the admin API is still there (accounts sign in), and no bearer token opens it but a
    real API token."""
    from bot.app import create_app

    for token in (None, ""):
        settings = service_settings_for(tmp_path / str(token), seed_settings, model_dir, admin_token=token)
        with TestClient(create_app(settings, encoder=encoder)) as c:
            for method, path in _admin_operations(c):
                assert c.request(method, path).status_code == 401, (method, path)
                for auth in ({"Authorization": "Bearer "}, {"Authorization": "Basic x"}):
                    assert c.request(method, path, headers=auth).status_code == 401, (method, path, auth)
                for guess in ("anything", ADMIN_TOKEN, ""):
                    r = c.request(method, path, headers={"Authorization": f"Bearer {guess}x"})
                    assert r.status_code == 403, (method, path, guess)
                    bilingual(r)


# --- pages: headers, CSP, text rendering --------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/admin", "/widget-demo", "/docs"])
def test_pages_have_security_headers(rc, path):
    r = rc.get(path)
    assert r.status_code == 200
    csp = {d.strip().split(" ")[0]: d.strip() for d in r.headers["content-security-policy"].split(";")}
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["frame-ancestors"] == "frame-ancestors 'self' https://shop.example"
    assert csp["object-src"] == "object-src 'none'"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", r.text), "inline event handler"


def test_api_responses_have_nosniff(rc):
    for r in (rc.get("/healthz"), rc.post("/v1/ask", json={"question": ""}), rc.get("/nope")):
        assert r.headers["x-content-type-options"] == "nosniff"


def test_page_scripts_render_text_never_html():
    """Every page script builds the DOM with textContent / createElement: no HTML sinks at all
    (the browser tests in tests/service/test_pages.py show a <script> question as text on the chat page)."""
    static = REPO / "bot" / "static"
    scripts = [p for p in static.glob("*.js") if p.name not in ("swagger-init.js",)]
    assert {"chat.js", "widget-main.js", "answer-view.js", "dom.js", "admin.js", "kbui.js"} <= {p.name for p in scripts}
    sinks = re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(")
    for p in scripts:
        hits = sinks.findall(p.read_text("utf-8"))
        assert not hits, (p.name, hits)


def test_cors_only_for_allowlisted_origins(tmp_path, seed_settings, seed_build, model_dir, encoder):
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, cors_origins=["https://shop.example"])
    pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    with TestClient(create_app(settings, encoder=encoder)) as c:
        ok = c.options("/v1/ask", headers={"Origin": "https://shop.example", **pre})
        assert ok.headers.get("access-control-allow-origin") == "https://shop.example"
        for origin in ("https://evil.example", "https://shop.example.evil.example", "null", "http://shop.example"):
            r = c.options("/v1/ask", headers={"Origin": origin, **pre})
            assert r.headers.get("access-control-allow-origin") in (None, ""), origin
            r = c.post("/v1/ask", json={"question": SEED_QUESTION}, headers={"Origin": origin})
            assert "access-control-allow-origin" not in r.headers, origin
        # credentials are never allowed cross-origin, and admin is not opened up
        assert "access-control-allow-credentials" not in ok.headers
        r = c.options("/v1/admin/status", headers={"Origin": "https://shop.example",
                                                   "Access-Control-Request-Method": "GET",
                                                   "Access-Control-Request-Headers": "authorization"})
        assert r.status_code == 400 or "authorization" not in r.headers.get("access-control-allow-headers", "").lower()


# --- rate limit ----------------------------------------------------------------------------------

def test_rate_limit_per_client_with_retry_after(tmp_path, seed_settings, seed_build, model_dir, encoder):
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, rate_limit_per_minute=3)
    app = create_app(settings, encoder=encoder)
    with TestClient(app, client=("10.0.0.1", 5000)) as a, TestClient(app, client=("10.0.0.2", 5000)) as b:
        codes = [a.post("/v1/ask", json={"question": SEED_QUESTION}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = a.post("/v1/ask", json={"question": SEED_QUESTION})
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 20
        assert "too many requests" in bilingual(r)
        # another client has its own bucket; other routes are not limited
        assert b.post("/v1/ask", json={"question": SEED_QUESTION}).status_code == 200
        assert a.get("/healthz").status_code == 200 and a.get("/v1/info").status_code == 200


def test_token_bucket_refills(monkeypatch):
    from bot import security

    now = [1000.0]
    monkeypatch.setattr(security.time, "monotonic", lambda: now[0])
    rl = security.RateLimiter(60)  # one per second
    assert all(rl.allow("ip")[0] for _ in range(60))
    ok, wait = rl.allow("ip")
    assert not ok and 0.9 <= wait <= 1.0
    now[0] += 1.0
    assert rl.allow("ip")[0] and not rl.allow("ip")[0]
    rl2 = security.RateLimiter(5, max_clients=100)
    for i in range(1000):
        rl2.allow(f"10.0.{i // 256}.{i % 256}")
    assert len(rl2._buckets) <= 100  # memory is bounded however many clients


# --- storage -------------------------------------------------------------------------------------

def test_app_db_is_wal_and_versions_are_read_only(rc, rsettings):
    import sqlite3

    con = sqlite3.connect(rsettings.app_db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    kb = rc.app.state.service.holder.kb
    with pytest.raises(sqlite3.OperationalError):
        kb.store._con().execute("DELETE FROM passages")


# --- pages in a real browser: hostile text is shown as text everywhere ----------------------------
