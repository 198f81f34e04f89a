"""A site's widget says who is asking with a signed token: verified (signature, expiry, lifetime, audience,
origin), recorded in the ask log and feedback, and rate-limited per agent instead of per address; without a
token the widget stays anonymous."""
from __future__ import annotations

import time

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.support.accounts import ADMIN
from tests.support.service import SEED_QUESTION, service_settings_for
from tests.support.sites import mint, register_site

SHOP = "https://shop.example"


@pytest.fixture(scope="module")
def secret(client):
    register_site(client, "unsigned", ["https://plain.example"], signed=False)
    return register_site(client, "shop", [SHOP])


def _ask(client, token: str | None, origin: str | None = SHOP, question: str = SEED_QUESTION):
    headers = {"X-KB-Token": token} if token else {}
    if origin:
        headers["Origin"] = origin
    return client.post("/v1/ask", json={"question": question}, headers=headers)


@pytest.mark.parametrize("why,make,reason", [
    ("expired", lambda s: mint(s, "shop", issued=time.time() - 700), "expired"),
    ("forged", lambda s: mint("not-the-site-secret-but-long-enough-32b", "shop"), "bad signature"),
    ("for another site", lambda s: mint(s, "other"), "aud is not a registered site"),
    ("for an unsigned site", lambda s: mint(s, "unsigned"), "aud is not a registered site"),
    ("too long-lived", lambda s: mint(s, "shop", lifetime=7200), "lifetime over 3600 s"),
    ("issued in the future", lambda s: mint(s, "shop", issued=time.time() + 600), "issued in the future"),
    ("without an agent", lambda s: jwt.encode({"aud": "shop", "iat": int(time.time()), "exp": int(time.time()) + 60},
                                              s, algorithm="HS256"), "sub"),
    ("with an empty agent", lambda s: mint(s, "shop", agent=" "), "sub must be a string"),
    ("another algorithm", lambda s: jwt.encode({"aud": "shop", "sub": "a", "iat": int(time.time()),
                                                "exp": int(time.time()) + 60}, s * 2, algorithm="HS512"),
     "only the HS256 algorithm"),
    ("not a JWT", lambda s: "hello.world", "not a JWT"),
])
def test_a_token_that_fails_a_check_is_refused_in_both_languages(client, secret, why, make, reason):
    r = _ask(client, make(secret))
    assert r.status_code == 401, why
    assert "身份令牌无效" in r.json()["detail"] and reason in r.json()["detail"], r.json()


def test_a_token_only_works_on_its_sites_pages(client, secret):
    r = _ask(client, mint(secret, "shop"), origin="https://evil.example")
    assert r.status_code == 401 and "not for pages on https://evil.example" in r.json()["detail"]
    assert _ask(client, mint(secret, "shop"), origin=None).status_code == 200  # a server calling, no Origin


def test_the_asker_is_recorded_in_the_ask_log_and_feedback(client, secret):
    token = mint(secret, "shop", agent="agent-42", team="投诉组")
    before = time.time()
    answer = _ask(client, token).json()
    assert _ask(client, None, question="匿名的问题").status_code == 200
    r = client.post("/v1/feedback", headers={"X-KB-Token": token, "Origin": SHOP},
                    json={"question": SEED_QUESTION, "passage_id": answer["principles"][0]["id"], "helpful": True})
    assert r.status_code == 201
    records = client.app.state.service.app_state
    rows = [(r["agent"], r["team"], r["site"]) for r in records.asks.since(before)]
    assert rows == [("agent-42", "投诉组", "shop"), (None, None, None)]
    assert [(f["agent"], f["team"]) for f in records.feedback.since(before)] == [("agent-42", "投诉组")]
    per_team = {t["team"]: t["asks"] for t in client.get("/v1/admin/analytics?days=1", headers=ADMIN).json()["per_team"]}
    assert per_team["投诉组"] >= 1 and per_team[""] >= 1


def test_each_agent_has_a_rate_limit_bucket_of_their_own(tmp_path, seed_settings, seed_build, model_dir, encoder):
    """Agents of one contact centre share an address; each gets the limit, and anonymous callers share one."""
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, rate_limit_per_minute=3)
    with TestClient(create_app(settings, encoder=encoder)) as c:
        s = register_site(c, "centre", [SHOP])
        ask = lambda token: _ask(c, token, question="客户投诉怎么办").status_code  # noqa: E731
        assert [ask(mint(s, "centre", agent="a1")) for _ in range(4)] == [200, 200, 200, 429]
        assert [ask(mint(s, "centre", agent="a2")) for _ in range(3)] == [200, 200, 200]
        assert [ask(None) for _ in range(4)] == [200, 200, 200, 429]


def test_sites_are_checked_when_registered(client):
    for origins in (["shop.example"], ["https://shop.example/path"], ["ftp://shop.example"]):
        r = client.post("/v1/admin/sites", headers=ADMIN, json={"id": "bad", "name": "x", "origins": origins})
        assert r.status_code == 400 and "not an origin" in r.json()["detail"], origins
    r = client.post("/v1/admin/sites", headers=ADMIN, json={"id": "Bad Id", "name": "x", "origins": []})
    assert r.status_code == 400 and "a site id" in r.json()["detail"]


def test_cors_follows_the_registered_sites(client, secret):
    def preflight(origin: str):
        return client.options("/v1/ask", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "content-type,x-kb-token"})

    assert preflight(SHOP).headers.get("access-control-allow-origin") == SHOP
    assert "x-kb-token" in preflight(SHOP).headers["access-control-allow-headers"].lower()
    assert preflight("https://new.example").status_code == 400
    assert client.get("/widget-access", headers={"Origin": "https://new.example"}).json()["allowed"] is False
    client.patch("/v1/admin/sites/shop", headers=ADMIN, json={"origins": [SHOP, "https://new.example"]})
    assert preflight("https://new.example").headers.get("access-control-allow-origin") == "https://new.example"
    assert client.get("/widget-access", headers={"Origin": "https://new.example"}).json()["allowed"] is True
