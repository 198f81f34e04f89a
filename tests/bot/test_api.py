"""The HTTP API, in-process through TestClient (lifespan on), on the real KB built from the seeds."""
from __future__ import annotations

import json
import re
import threading
import time

import pytest
from fastapi.testclient import TestClient

from tests.support.service import (
    ADMIN_TOKEN,
    OOS_QUESTION,
    SEED_CASE_TITLE,
    SEED_QUESTION,
    service_settings_for,
)

# --- operations --------------------------------------------------------------------------------

def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["status"] == "ready"
    assert r.json()["version"]


def test_readyz_503_without_a_version(tmp_path, model_dir, encoder):
    from bot.app import create_app
    from tests.support.paths import make_settings

    settings = make_settings(tmp_path / "empty", model_dir, admin_token=ADMIN_TOKEN)
    with TestClient(create_app(settings, encoder=encoder)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        assert "NoVersionError" in r.json()["reason"]
        r = c.post("/v1/ask", json={"question": SEED_QUESTION})
        assert r.status_code == 503
        assert "not ready" in r.json()["detail"]
        assert c.get("/healthz").status_code == 200
        assert "kb_ready 0.0" in c.get("/metrics").text


# --- asking ------------------------------------------------------------------------------------

def test_ask_returns_principles_and_cases_with_sources(client):
    r = client.post("/v1/ask", json={"question": SEED_QUESTION})
    assert r.status_code == 200
    a = r.json()
    assert a["matched"] is True
    assert 1 <= len(a["principles"]) <= 3
    assert SEED_CASE_TITLE in [c["title"] for c in a["cases"]]
    for p in a["principles"] + a["cases"]:
        assert p["doc"] and p["doc_title"] and p["text"] and p["id"]
        assert isinstance(p["highlights"], list)
    assert "【原则】" in a["answer"] and "【案例】" in a["answer"]
    assert a["session_id"] and a["version"] == client.get("/readyz").json()["version"]


def test_follow_up_keeps_the_session(client):
    first = client.post("/v1/ask", json={"question": SEED_QUESTION}).json()
    again = client.post("/v1/ask", json={"question": "那如果客户还是不接受呢？", "session_id": first["session_id"]})
    assert again.status_code == 200
    assert again.json()["session_id"] == first["session_id"]


def test_unanswerable_question_is_not_matched_but_shows_nearest(client):
    a = client.post("/v1/ask", json={"question": OOS_QUESTION}).json()
    assert a["matched"] is False
    assert a["passages"], "the nearest passages are still returned"


@pytest.mark.parametrize(
    "body, field, fragment",
    [
        ({"question": ""}, "question", ""),
        ({"question": "   "}, "question", "不能为空"),
        ({"question": "问" * 501}, "question", "最多 500"),
        ({"question": "退款", "top_k": 0}, "top_k", ""),
        ({"question": "退款", "top_k": 51}, "top_k", "1..50"),
        ({"question": "退款", "surprise": 1}, "surprise", ""),
        ({}, "question", ""),
    ],
)
def test_ask_validation(client, body, field, fragment):
    r = client.post("/v1/ask", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert any(field in [str(x) for x in d["loc"]] for d in detail)
    assert fragment in json.dumps(r.json(), ensure_ascii=False)


def test_ask_rejects_bad_json_and_big_bodies(client, api_settings):
    r = client.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    big = json.dumps({"question": "问" * (api_settings.max_body_bytes // 2)}).encode()
    r = client.post("/v1/ask", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "too large" in r.json()["detail"]


def test_get_passage(client):
    a = client.post("/v1/ask", json={"question": SEED_QUESTION}).json()
    case = a["cases"][0]
    r = client.get(f"/v1/passages/{case['id']}")
    assert r.status_code == 200
    p = r.json()
    assert p["id"] == case["id"] and p["title"] == (case["original_title"] or case["title"])  # its document's script
    assert p["sources"] and p["sources"][0]["doc"] == case["doc"]
    assert client.get("/v1/passages/no-such-passage").status_code == 404


def test_info(client):
    info = client.get("/v1/info").json()
    assert info["stats"]["passages"] > 0 and info["stats"]["documents"] == 5
    assert info["max_question_chars"] == 500


def test_feedback_is_stored(client, admin_headers):
    r = client.post("/v1/feedback", json={"question": "客户要发票怎么办", "passage_id": None, "helpful": False,
                                           "comment": "没有发票相关内容"})
    assert r.status_code == 201 and r.json()["ok"] is True
    assert client.post("/v1/feedback", json={"question": "x", "helpful": True}).status_code == 201
    assert client.post("/v1/feedback", json={"question": "x"}).status_code == 422
    assert client.post("/v1/feedback", json={"question": "x", "helpful": True, "comment": "长" * 2001}).status_code == 422


def test_feedback_queue_lists_unhelpful_and_unanswered_newest_first(client, admin_headers):
    client.post("/v1/ask", json={"question": OOS_QUESTION})
    client.post("/v1/feedback", json={"question": "客户要发票怎么办", "helpful": False, "comment": "缺发票流程"})
    client.post("/v1/feedback", json={"question": "这条有用", "helpful": True})
    items = client.get("/v1/admin/feedback", headers=admin_headers).json()["items"]
    assert items[0]["type"] == "feedback" and items[0]["comment"] == "缺发票流程"
    assert any(i["type"] == "unanswered" and i["question"] == OOS_QUESTION for i in items)
    assert all(i["question"] != "这条有用" for i in items)
    assert [i["ts"] for i in items] == sorted((i["ts"] for i in items), reverse=True)


def test_every_ask_is_logged(client, api_settings):
    from bot.state import open_app_state
    from bot.state.ask_queue import ASK_LOG_INTERVAL

    before = time.time()
    client.post("/v1/ask", json={"question": SEED_QUESTION})
    records = open_app_state(api_settings)  # as another process reads the log
    try:
        deadline = time.monotonic() + 10 * ASK_LOG_INTERVAL + 2  # the log's writer commits in batches
        while True:
            rows = list(records.asks.export_records())
            row = rows[-1] if rows else None
            if (row and row["ts"] >= before) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        records.close()
    assert row["question"] == SEED_QUESTION and row["matched"] == 1 and row["confidence"] > 0
    assert row["top_passage"] and row["ms"] > 0
    if api_settings.database_url is None:
        import sqlite3

        con = sqlite3.connect(api_settings.app_db)
        try:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            con.close()


def test_concurrent_asks(client):
    results: list[int] = []

    def go():
        results.append(client.post("/v1/ask", json={"question": SEED_QUESTION}).status_code)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 8


# --- metrics, docs, headers --------------------------------------------------------------------

def test_metrics(client):
    client.post("/v1/ask", json={"question": SEED_QUESTION})
    text = client.get("/metrics").text
    version = client.get("/readyz").json()["version"]
    assert 'kb_http_requests_total{method="POST",route="/v1/ask",status="200"}' in text
    assert 'kb_http_request_seconds_bucket{le="0.5",method="POST",route="/v1/ask"}' in text
    assert 'kb_version_info{created_at=' in text and f'version="{version}"' in text
    assert "kb_passages " in text and "kb_passages 0.0" not in text
    assert 'kb_reindex_runs_total{result="succeeded"}' in text
    assert 'kb_asks_total{matched="true"}' in text
    # routes are labelled by template, never by the raw path
    client.get("/v1/passages/abc-123")
    assert "abc-123" not in client.get("/metrics").text


def test_openapi_and_offline_docs(client):
    spec = client.get("/openapi.json").json()
    ask_schema = spec["components"]["schemas"]["AskRequest"]["properties"]
    assert ask_schema["question"]["maxLength"] == 500 and ask_schema["top_k"]["maximum"] == 50
    assert "AdminToken" in spec["components"]["securitySchemes"]
    for path in ("/v1/ask", "/v1/feedback", "/v1/passages/{passage_id}", "/v1/admin/reindex", "/v1/admin/jobs/{job_id}"):
        assert path in spec["paths"]
    r = client.get("/docs")
    assert r.status_code == 200
    assert "cdn" not in r.text.lower() and "https://" not in r.text
    scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', r.text)
    assert scripts, "the docs page loads no script"
    for src in scripts:  # every script the page loads is the service's own, and is there
        assert src.startswith("/static/"), src
        assert client.get(src).status_code == 200, src


def test_security_headers(client):
    r = client.get("/")
    assert r.status_code == 200 and "坐席知识库助手" in r.text
    csp = r.headers["content-security-policy"]
    script_src = [d for d in csp.split(";") if d.strip().startswith("script-src")][0]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in r.text and " on" + "click=" not in r.text  # no inline script
    w = client.get("/widget.js")
    assert w.status_code == 200 and w.headers["content-type"].startswith("text/javascript")
    assert w.headers["cross-origin-resource-policy"] == "cross-origin"
    for page in ("/admin", "/widget-demo"):
        p = client.get(page)
        assert p.status_code == 200 and "content-security-policy" in p.headers and "<script>" not in p.text


def test_cors_is_same_origin_by_default(client):
    r = client.options("/v1/ask", headers={"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_allowlist(tmp_path, seed_settings, seed_build, model_dir, encoder):
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, cors_origins=["http://shop.example"],
                                    frame_ancestors="'self' http://shop.example")
    with TestClient(create_app(settings, encoder=encoder)) as c:
        pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
        ok = c.options("/v1/ask", headers={"Origin": "http://shop.example", **pre})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://shop.example"
        bad = c.options("/v1/ask", headers={"Origin": "http://evil.example", **pre})
        assert bad.headers.get("access-control-allow-origin") != "http://evil.example"
        r = c.post("/v1/ask", json={"question": SEED_QUESTION}, headers={"Origin": "http://shop.example"})
        assert r.headers["access-control-allow-origin"] == "http://shop.example"
        assert "frame-ancestors 'self' http://shop.example" in c.get("/").headers["content-security-policy"]
