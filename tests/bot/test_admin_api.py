"""The admin half of the HTTP API, in-process through TestClient (lifespan on), on the real KB built from the
seeds: who may use it, documents, re-index and the live swap, dictionary, the eval gate, rate limits."""
from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from tests.support.paths import DEV_SET
from tests.support.service import (
    ADMIN_TOKEN,
    NEW_DOC_NAME,
    NEW_DOC_QUESTION,
    NEW_DOC_TEXT,
    SEED_CASE_TITLE_ORIGINAL,
    SEED_QUESTION,
    all_quoted,
    service_settings_for,
    stored_document,
    wait_job,
)

# --- admin: auth ---------------------------------------------------------------------------------

ADMIN_GETS = ["/v1/admin/status", "/v1/admin/documents", "/v1/admin/feedback", "/v1/admin/dictionary",
              "/v1/admin/synonyms", "/v1/admin/jobs"]


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_admin_requires_the_token(client, path):
    r = client.get(path)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get(path, headers={"Authorization": "Basic " + ADMIN_TOKEN}).status_code == 401
    assert client.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200


def test_admin_mutations_require_the_token(client):
    assert client.post("/v1/admin/reindex").status_code == 401
    assert client.delete("/v1/admin/documents/000_c4237db8e6c40b98.txt").status_code == 401
    files = {"file": ("x.txt", "内容".encode())}
    assert client.post("/v1/admin/documents", files=files, headers={"Authorization": "Bearer no"}).status_code == 403
    assert client.put("/v1/admin/dictionary", json={"text": "词"}).status_code == 401


def test_without_kb_admin_token_editors_still_sign_in(tmp_path, seed_settings, seed_build, model_dir, encoder,
                                                      caplog):
    """No KB_ADMIN_TOKEN: the first start made an admin account and logged its password once; it signs in."""
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, admin_token=None)
    with caplog.at_level("WARNING", logger="bot.auth.first_admin"), TestClient(create_app(settings, encoder=encoder)) as c:
        for path in ADMIN_GETS:
            assert c.get(path, headers={"Authorization": "Bearer anything"}).status_code == 403
            assert c.get(path).status_code == 401
        password = re.search(r"password: (\S+)", caplog.text).group(1)
        assert c.post("/v1/auth/login", json={"name": "admin", "password": password}).json()["role"] == "admin"
        for path in ADMIN_GETS:
            assert c.get(path).status_code == 200
        assert c.get("/admin").status_code == 200
        assert c.post("/v1/ask", json={"question": SEED_QUESTION}).status_code == 200


# --- admin: documents, re-index, live swap -------------------------------------------------------

def test_documents_list(client, admin_headers):
    data = client.get("/v1/admin/documents", headers=admin_headers).json()
    docs = {d["doc_id"]: d for d in data["documents"]}
    assert len(docs) == 5
    for d in docs.values():
        assert d["status"] == "indexed" and d["passages"] > 0 and d["size"] > 0
        assert set(d["kinds"]) >= {"principle", "case"} and d["indexed_at"]
        assert isinstance(d["warnings"], list)
    assert sum(d["kinds"].get("case", 0) for d in docs.values()) > 0


def test_document_passages(client, admin_headers):
    r = client.get("/v1/admin/documents/000_c4237db8e6c40b98.txt/passages", headers=admin_headers)
    assert r.status_code == 200
    ps = r.json()["passages"]
    assert ps and all(p["doc"] == "000_c4237db8e6c40b98.txt" for p in ps)
    assert SEED_CASE_TITLE_ORIGINAL in [p["title"] for p in ps]  # editors read documents as they are
    assert client.get("/v1/admin/documents/nope.txt/passages", headers=admin_headers).status_code == 404


def test_upload_rejects_unsupported_and_unreadable(client, admin_headers):
    r = client.post("/v1/admin/documents", headers=admin_headers, files={"file": ("virus.exe", b"MZ...")})
    assert r.status_code == 400 and "unsupported file type .exe" in r.json()["detail"]
    r = client.post("/v1/admin/documents", headers=admin_headers, files={"file": ("empty.txt", b"")})
    assert r.status_code == 400
    r = client.post("/v1/admin/documents", headers=admin_headers, files={"file": ("broken.docx", b"not a zip")})
    assert r.status_code == 400 and "cannot read file" in r.json()["detail"]
    names = [d["doc_id"] for d in client.get("/v1/admin/documents", headers=admin_headers).json()["documents"]]
    assert "broken.docx" not in names and "empty.txt" not in names


def test_upload_size_limit(tmp_path, seed_settings, seed_build, model_dir, encoder):
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, max_upload_bytes=2000)
    with TestClient(create_app(settings, encoder=encoder)) as c:
        h = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        r = c.post("/v1/admin/documents", headers=h, files={"file": ("big.txt", ("长" * 1000).encode())})
        assert r.status_code == 413 and "too large" in r.json()["detail"]
        r = c.post("/v1/admin/documents", headers=h, files={"file": ("huge.txt", b"x" * 200_000)})
        assert r.status_code == 413
        assert not (settings.uploads_dir / "big.txt").exists()


def test_upload_reindex_ask_delete(client, admin_headers, api_settings):
    before = client.get("/readyz").json()["version"]
    miss = client.post("/v1/ask", json={"question": NEW_DOC_QUESTION}).json()
    assert all(p["doc"] != NEW_DOC_NAME for p in all_quoted(miss))

    # upload: stored in the uploads folder, pending until re-indexed; seeds untouched
    r = client.post("/v1/admin/documents", headers=admin_headers,
                    files={"file": (NEW_DOC_NAME, NEW_DOC_TEXT.encode("utf-8"), "text/plain")})
    assert r.status_code == 201, r.text
    assert r.json()["doc_id"] == NEW_DOC_NAME
    assert stored_document(api_settings, NEW_DOC_NAME) == NEW_DOC_TEXT.encode("utf-8")
    docs = {d["doc_id"]: d for d in client.get("/v1/admin/documents", headers=admin_headers).json()["documents"]}
    assert docs[NEW_DOC_NAME]["status"] == "pending" and docs[NEW_DOC_NAME]["uploaded"] is True

    # re-index in the background; a second request while it runs gets 409 with the running job's id
    r = client.post("/v1/admin/reindex", headers=admin_headers)
    assert r.status_code == 202
    job_id = r.json()["id"]
    assert r.json()["state"] in ("queued", "running")
    busy = client.post("/v1/admin/reindex", headers=admin_headers)  # a build of 6 documents takes seconds
    assert busy.status_code == 409 and busy.json()["job_id"] == job_id, busy.text
    # questions keep being answered while it runs
    assert client.post("/v1/ask", json={"question": SEED_QUESTION}).status_code == 200
    job = wait_job(client, job_id, admin_headers)
    assert job["state"] == "succeeded", job
    assert job["report"]["documents"] == 6 and job["report"]["swapped"] is True
    assert job["report"]["reused"] > 0  # unchanged passages are not embedded again

    after = client.get("/readyz").json()["version"]
    assert after == job["report"]["version_id"] and after != before
    a = client.post("/v1/ask", json={"question": NEW_DOC_QUESTION}).json()
    assert a["matched"] is True
    assert any(p["doc"] == NEW_DOC_NAME for p in a["principles"] + a["cases"])
    docs = {d["doc_id"]: d for d in client.get("/v1/admin/documents", headers=admin_headers).json()["documents"]}
    assert docs[NEW_DOC_NAME]["status"] == "indexed" and docs[NEW_DOC_NAME]["passages"] > 0
    assert 'kb_reindex_runs_total{result="succeeded"} 1.0' in client.get("/metrics").text

    # delete: still served until the next re-index, then gone
    assert client.delete(f"/v1/admin/documents/{NEW_DOC_NAME}", headers=admin_headers).status_code == 200
    assert client.delete(f"/v1/admin/documents/{NEW_DOC_NAME}", headers=admin_headers).status_code == 404
    docs = {d["doc_id"]: d for d in client.get("/v1/admin/documents", headers=admin_headers).json()["documents"]}
    assert docs[NEW_DOC_NAME]["status"] == "removed"
    job = wait_job(client, client.post("/v1/admin/reindex", headers=admin_headers).json()["id"], admin_headers)
    assert job["state"] == "succeeded", job
    a = client.post("/v1/ask", json={"question": NEW_DOC_QUESTION}).json()
    assert all(p["doc"] != NEW_DOC_NAME for p in all_quoted(a))
    assert client.get(f"/v1/admin/documents/{NEW_DOC_NAME}/passages", headers=admin_headers).status_code == 404


def test_reindex_unchanged_corpus_keeps_the_version(client, admin_headers):
    before = client.get("/readyz").json()["version"]
    job = wait_job(client, client.post("/v1/admin/reindex", headers=admin_headers).json()["id"], admin_headers)
    assert job["state"] == "succeeded"
    assert job["report"]["changed"] is False and job["report"]["swapped"] is False
    assert client.get("/readyz").json()["version"] == before
    jobs = client.get("/v1/admin/jobs", headers=admin_headers).json()["jobs"]
    assert jobs[0]["id"] == job["id"]
    assert client.get("/v1/admin/jobs/nope", headers=admin_headers).status_code == 404


def test_dictionary_and_synonyms(client, admin_headers):
    d = client.get("/v1/admin/dictionary", headers=admin_headers).json()
    assert isinstance(d["text"], str)
    r = client.put("/v1/admin/dictionary", headers=admin_headers, json={"text": d["text"] + "\n宠物托运 20 n\n"})
    assert r.status_code == 200 and "宠物托运 20 n" in r.json()["text"]
    r = client.put("/v1/admin/dictionary", headers=admin_headers, json={"text": "词 不是数字 n"})
    assert r.status_code == 400 and "line 1" in r.json()["detail"]
    s = client.get("/v1/admin/synonyms", headers=admin_headers).json()
    r = client.put("/v1/admin/synonyms", headers=admin_headers, json={"text": s["text"] + "\n活体宠物 活物 活体动物\n"})
    assert r.status_code == 200 and "活体宠物 活物" in r.json()["text"]
    r = client.put("/v1/admin/synonyms", headers=admin_headers, json={"text": "孤单\n"})
    assert r.status_code == 400


def test_admin_status(client, admin_headers):
    st = client.get("/v1/admin/status", headers=admin_headers).json()
    assert st["ready"] is True and st["version"] and st["stats"]["passages"] > 0
    assert ".txt" in st["supported_suffixes"] and st["counts"]["asks"] > 0


def test_eval_gate_refuses_a_worse_version(tmp_path, seed_settings, seed_build, model_dir, encoder):
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, eval_gate_file=DEV_SET, eval_min_r5=1.01)
    with TestClient(create_app(settings, encoder=encoder)) as c:
        h = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        before = c.get("/readyz").json()["version"]
        r = c.post("/v1/admin/reindex?force=true", headers=h)
        job = wait_job(c, r.json()["id"], h)
        assert job["state"] == "failed"
        assert "evaluation gate failed" in job["error"]
        assert "R@5" in job["details"]["evaluation"]
        assert c.get("/readyz").json()["version"] == before
        from kb.state.embedded import FolderVersionRegistry

        assert FolderVersionRegistry(settings.versions_dir).current_id() == before
        assert 'kb_reindex_runs_total{result="gated"} 1.0' in c.get("/metrics").text
        assert c.post("/v1/ask", json={"question": SEED_QUESTION}).status_code == 200


# --- the holder's live swap and the rate limiter, on their own -----------------------------------

class _Dummy:
    def __init__(self, name):
        self.version_id = name
        self.closed = False

    def close(self):
        self.closed = True


def test_swap_waits_for_requests_in_flight():
    from bot.holder import KBHolder

    h = KBHolder()
    old, new = _Dummy("old"), _Dummy("new")
    h.swap(old)
    with h.lease() as kb:
        assert kb is old
        h.swap(new)
        assert h.kb is new and not old.closed  # still in use by this request
        with h.lease() as kb2:
            assert kb2 is new
    assert old.closed and not new.closed
    h.close()
    assert new.closed


def test_rate_limiter():
    from bot.security import RateLimiter

    rl = RateLimiter(3)
    assert [rl.allow("a")[0] for _ in range(4)] == [True, True, True, False]
    assert rl.allow("b")[0] is True
    ok, wait = rl.allow("a")
    assert not ok and 0 < wait <= 20
    assert all(RateLimiter(0).allow("x")[0] for _ in range(100))


def test_rate_limit_answers_429(tmp_path, seed_settings, seed_build, model_dir, encoder):
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, rate_limit_per_minute=2)
    with TestClient(create_app(settings, encoder=encoder)) as c:
        codes = [c.post("/v1/ask", json={"question": SEED_QUESTION}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = c.post("/v1/ask", json={"question": SEED_QUESTION})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_upload_same_name_renames_unless_replace(client, admin_headers, api_settings):
    h = admin_headers
    first = client.post("/v1/admin/documents", headers=h, files={"file": ("同名.txt", "第一版内容".encode())}).json()
    second = client.post("/v1/admin/documents", headers=h, files={"file": ("同名.txt", "第二版内容".encode())}).json()
    assert first["doc_id"] == "同名.txt" and second["doc_id"] == "同名(2).txt" and second["renamed"] is True
    r = client.post("/v1/admin/documents", headers=h, data={"replace": "true"},
                    files={"file": ("同名.txt", "替换后的内容".encode())})
    assert r.status_code == 201 and r.json()["doc_id"] == "同名.txt"
    assert stored_document(api_settings, "同名.txt") == "替换后的内容".encode()
    r = client.post("/v1/admin/documents", headers=h, files={"file": ("../../etc/passwd.txt", b"root")})
    assert r.status_code == 201 and r.json()["doc_id"] == "passwd.txt"
    assert stored_document(api_settings, "passwd.txt") == b"root"
    for name in ("同名.txt", "同名(2).txt", "passwd.txt"):
        assert client.delete(f"/v1/admin/documents/{name}", headers=h).status_code == 200
    from tests.support.paths import SEEDS

    assert sorted(p.name for p in SEEDS.iterdir() if p.is_file()) == sorted(
        d for d in ["000_c4237db8e6c40b98.txt", "001_83bb678a96cd3680.txt", "002_025ae7147510df49.txt",
                    "003_948dd19706f84a15.txt", "004_4d7c340c2a0258ff.txt"])


def test_two_workers_share_jobs_and_versions(tmp_path, seed_settings, seed_build, model_dir, encoder, monkeypatch):
    """Two apps on one data folder behave like two uvicorn workers: any worker reports a job, a second
    re-index is refused while one runs, and the other worker picks up the new version by itself."""

    from bot import app as app_module
    from bot.app import create_app

    monkeypatch.setattr(app_module, "REFRESH_SECONDS", 0.3)
    settings = service_settings_for(tmp_path, seed_settings, model_dir)
    h = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(create_app(settings, encoder=encoder)) as a, TestClient(create_app(settings, encoder=encoder)) as b:
        before = b.get("/readyz").json()["version"]
        a.post("/v1/admin/documents", headers=h, files={"file": (NEW_DOC_NAME, NEW_DOC_TEXT.encode("utf-8"))})
        job_id = a.post("/v1/admin/reindex", headers=h).json()["id"]
        seen = b.get(f"/v1/admin/jobs/{job_id}", headers=h)
        assert seen.status_code == 200 and seen.json()["id"] == job_id
        busy = b.post("/v1/admin/reindex", headers=h)
        job = wait_job(a, job_id, h)
        if job["seconds"] > 0.5:  # still running when b asked
            assert busy.status_code == 409 and busy.json()["job_id"] == job_id
        assert job["state"] == "succeeded"
        assert wait_job(b, job_id, h)["state"] == "succeeded"
        deadline = time.time() + 20
        while b.get("/readyz").json()["version"] == before and time.time() < deadline:
            time.sleep(0.2)
        assert b.get("/readyz").json()["version"] == job["report"]["version_id"]
        ans = b.post("/v1/ask", json={"question": NEW_DOC_QUESTION}).json()
        assert any(p["doc"] == NEW_DOC_NAME for p in ans["principles"] + ans["cases"])
