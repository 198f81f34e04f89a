"""The editors' label and review-queue API in-process (bot/routes/labels.py): the queue groups the same and
near-identical questions with their counts and what the bot answered; a fix (the passage that answers, out
of scope, dismiss) takes the group out of the queue and reaches the answers without a re-index; labels are
listed, exported, imported (all or nothing) and deleted."""
from __future__ import annotations

import time

from tests.support.paths import REPO
from tests.support.service import OOS_QUESTION, SEED_QUESTION

QUESTION = "客户在电话里骂人，还威胁要去媒体曝光，我该怎么稳住他"
NEAR = "客户电话里骂人，威胁要找媒体曝光，我怎么稳住他"
SEED_LABELS = REPO / "seeds" / "labels" / "train.jsonl"


def _thumbs_down(client, question: str) -> dict:
    ans = client.post("/v1/ask", json={"question": question}).json()
    r = client.post("/v1/feedback", json={"question": question, "helpful": False,
                                          "passage_id": ans["passages"][0]["id"], "comment": "答非所问"})
    assert r.status_code == 201
    return ans


def _group(client, headers, text: str) -> dict | None:
    groups = client.get("/v1/admin/queue", headers=headers).json()["groups"]
    return next((g for g in groups if any(q["text"] == text for q in g["questions"])), None)


def test_a_group_is_fixed_with_a_picked_passage_and_leaves_the_queue(client, admin_headers):
    for question in (QUESTION, QUESTION, QUESTION + "？", NEAR):
        before = _thumbs_down(client, question)
    group = _group(client, admin_headers, QUESTION)
    assert group is not None and group["question"] == QUESTION
    assert {q["text"]: q["count"] for q in group["questions"]}[QUESTION] >= 2
    assert {QUESTION + "？", NEAR} <= {q["text"] for q in group["questions"]}  # same, and near-identical
    assert group["count"] == group["feedback"] + group["unanswered"] >= 4 and group["comments"] == ["答非所问"]
    assert group["answer"]["passage_id"] == before["passages"][0]["id"] and group["answer"]["title"]

    found = client.get("/v1/admin/search", params={"q": "媒体曝光 投诉"}, headers=admin_headers).json()["passages"]
    pick = next(p for p in found if p["id"] != before["passages"][0]["id"])
    r = client.post("/v1/admin/queue/resolve", headers=admin_headers, json={
        "question": group["question"], "keys": group["keys"], "action": "answer", "passage_id": pick["id"]})
    assert r.status_code == 200 and r.json()["label"]["status"] == "resolved"
    assert r.json()["label"]["passages"][0]["id"] == pick["id"]
    assert _group(client, admin_headers, QUESTION) is None and _group(client, admin_headers, NEAR) is None
    deadline = time.monotonic() + 5
    while True:
        answers = [client.post("/v1/ask", json={"question": q}).json() for q in (QUESTION, NEAR)]
        if all(a["passages"][0]["id"] == pick["id"] and a["matched"] for a in answers):
            break
        assert time.monotonic() < deadline, "the fix did not take effect within 5 s"
        time.sleep(0.1)
    listed = client.get("/v1/admin/labels", headers=admin_headers).json()["labels"]
    assert any(x["question"] == QUESTION and x["source"] == "editor" and x["passage_id"] == pick["id"] for x in listed)


def test_out_of_scope_and_dismiss(client, admin_headers):
    question = "公司年会的节目应该怎么排，谁来主持比较好"
    _thumbs_down(client, question)
    _thumbs_down(client, OOS_QUESTION)
    group = _group(client, admin_headers, question)
    r = client.post("/v1/admin/queue/resolve", headers=admin_headers,
                    json={"question": question, "keys": group["keys"], "action": "oos"})
    assert r.status_code == 200 and r.json()["label"]["status"] == "oos"
    deadline = time.monotonic() + 5
    while client.post("/v1/ask", json={"question": question}).json()["matched"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    other = _group(client, admin_headers, OOS_QUESTION)
    r = client.post("/v1/admin/queue/resolve", headers=admin_headers,
                    json={"question": OOS_QUESTION, "keys": other["keys"], "action": "dismiss"})
    assert r.status_code == 200 and r.json()["label"] is None
    assert _group(client, admin_headers, OOS_QUESTION) is None and _group(client, admin_headers, question) is None
    bad = client.post("/v1/admin/queue/resolve", headers=admin_headers,
                      json={"question": question, "action": "answer", "passage_id": "no-such-passage"})
    assert bad.status_code == 404 and " / " in bad.json()["detail"]


def test_labels_are_imported_all_or_nothing_exported_and_deleted(client, admin_headers):
    count = client.get("/v1/admin/labels", headers=admin_headers).json()["counts"]["labels"]
    bad = '{"id": "z1", "question": "怎么退款", "kind": "principle", "gold": ["退款"]}\n{"id": "z2", "kind": "case"}\n'
    r = client.post("/v1/admin/labels/import", headers=admin_headers,
                    files={"file": ("mine.jsonl", bad.encode(), "application/x-ndjson")})
    assert r.status_code == 400 and "mine.jsonl:2" in r.json()["detail"] and "nothing was imported" in r.json()["detail"]
    assert client.get("/v1/admin/labels", headers=admin_headers).json()["counts"]["labels"] == count
    r = client.post("/v1/admin/labels/import", headers=admin_headers,
                    files={"file": ("train.jsonl", SEED_LABELS.read_bytes(), "application/x-ndjson")})
    assert r.status_code == 200 and r.json()["added"] == 143 and r.json()["unresolved"] == []
    exported = client.get("/v1/admin/labels/export", headers=admin_headers).text
    assert SEED_LABELS.read_text("utf-8") in exported  # the file's lines, as given, after the editors' own
    unresolved = client.post("/v1/admin/labels", headers=admin_headers, json={
        "id": "gone1", "question": "这个段落不存在吧", "kind": "principle", "gold": ["一段不存在的证据文字"]})
    assert unresolved.status_code == 201 and unresolved.json()["label"]["status"] == "unresolved"
    only = client.get("/v1/admin/labels", params={"unresolved": True}, headers=admin_headers).json()["labels"]
    assert [x["id"] for x in only] == ["gone1"]
    assert client.delete("/v1/admin/labels/gone1", headers=admin_headers).status_code == 200
    assert client.delete("/v1/admin/labels/gone1", headers=admin_headers).status_code == 404
    assert client.post("/v1/admin/labels", headers=admin_headers, json={"question": "x"}).status_code == 400
    ans = client.post("/v1/ask", json={"question": SEED_QUESTION}).json()
    assert "label_margin" in ans["signals"]


def test_the_label_routes_need_the_admin_token(client):
    for method, path in (("GET", "/v1/admin/labels"), ("GET", "/v1/admin/queue"), ("GET", "/v1/admin/search?q=x"),
                         ("GET", "/v1/admin/labels/export"), ("POST", "/v1/admin/queue/resolve"),
                         ("DELETE", "/v1/admin/labels/t001")):
        assert client.request(method, path).status_code == 401
