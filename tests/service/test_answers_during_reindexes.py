"""Load during re-index: many concurrent clients ask questions against a real uvicorn server on 127.0.0.1
while re-indexes (each with a changed document) run through the admin API and swap versions live.

Zero failed requests, and every answer comes from one complete version: each answer carries `version`, and
every passage it quotes (and every source of those passages) is in that version's passage set, read from
the version's own kb.sqlite.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.support.service import (
    ADMIN_TOKEN,
    NEW_DOC_NAME,
    NEW_DOC_QUESTION,
    NEW_DOC_TEXT,
    SEED_QUESTION,
    LiveServer,
    all_quoted,
    service_settings_for,
)

QUESTIONS = [NEW_DOC_QUESTION, SEED_QUESTION, "宠物粮和猫砂能寄吗？", "客户投诉服务态度差，怎么安抚？",
             "活体宠物托运的修订说明是什么", "最近有什么好看的电影"]


def _revision(i: int) -> str:
    """The changed document of round i: every passage differs from the other rounds' (new passage ids)."""
    return NEW_DOC_TEXT.replace("宠物托运服务规范", f"宠物托运服务规范（第{i}版）") + (
        f"\n三、第{i}次修订说明\n第{i}次修订：活体宠物寄递咨询须在{i + 1}个工作日内回访客户，"
        f"修订编号 R{i:03d}，坐席应告知客户专业托运机构的联系方式。\n")


def _passage_ids(versions: Path, vid: str) -> set[str]:
    con = sqlite3.connect(f"file:{versions / vid / 'kb.sqlite'}?mode=ro", uri=True)
    try:
        return {r[0] for r in con.execute("SELECT id FROM passages")}
    finally:
        con.close()


def _quoted_ids(answer: dict) -> set[str]:
    ids = set()
    for card in all_quoted(answer):
        ids.add(card["id"])
        ids.update(s["passage_id"] for s in card.get("sources", []))
    return ids


def run_load(tmp_path, seed_settings, model_dir, encoder, clients: int, rounds: int) -> dict:
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, keep_versions=rounds + 3,
                                    rate_limit_per_minute=0)
    answers: list[tuple[str, set[str], float]] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    reindexing = threading.Event()
    during = Counter()

    with LiveServer(create_app(settings, encoder=encoder)) as server:
        def client(n: int) -> None:
            with httpx.Client(base_url=server.url, timeout=120) as c:
                i = n
                while not stop.is_set():
                    q = QUESTIONS[i % len(QUESTIONS)]
                    i += 1
                    busy = reindexing.is_set()
                    try:
                        r = c.post("/v1/ask", json={"question": q})
                        if r.status_code != 200:
                            with lock:
                                failures.append(f"{r.status_code}: {r.text[:200]}")
                            continue
                        a = r.json()
                        with lock:
                            answers.append((a["version"], _quoted_ids(a), time.time()))
                            during["busy" if busy else "idle"] += 1
                    except Exception as e:  # noqa: BLE001 - any transport error is a failed request
                        with lock:
                            failures.append(f"{type(e).__name__}: {e}")

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
        for t in threads:
            t.start()
        admin = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=120)
        published = [admin.get("/readyz").json()["version"]]
        try:
            time.sleep(1.0)
            for i in range(1, rounds + 1):
                r = admin.post("/v1/admin/documents", files={"file": (NEW_DOC_NAME, _revision(i).encode())},
                               data={"replace": "true"})
                assert r.status_code == 201, r.text
                reindexing.set()
                r = admin.post("/v1/admin/reindex")
                assert r.status_code == 202, r.text
                job_id = r.json()["id"]
                deadline = time.time() + 300
                while True:
                    job = admin.get(f"/v1/admin/jobs/{job_id}").json()
                    if job["state"] in ("succeeded", "failed"):
                        break
                    assert time.time() < deadline, "re-index did not finish"
                    time.sleep(0.2)
                reindexing.clear()
                assert job["state"] == "succeeded", job
                assert job["report"]["swapped"] is True
                published.append(job["report"]["version_id"])
                time.sleep(0.5)  # some traffic on the new version before the next round
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=120)
            admin.close()

    versions = settings.versions_dir
    known = {vid: _passage_ids(versions, vid) for vid in published}
    mixed = [(vid, ids - known.get(vid, set())) for vid, ids, _ in answers
             if vid not in known or not ids <= known[vid]]
    seen = Counter(vid for vid, _, _ in answers)
    return {"answers": len(answers), "failures": failures, "mixed": mixed, "published": published,
            "seen": seen, "during": during, "known": known}


def _check(result: dict, rounds: int) -> None:
    assert not result["failures"], result["failures"][:5]
    assert not result["mixed"], result["mixed"][:5]
    published = result["published"]
    assert len(set(published)) == rounds + 1
    # the changed document really changed the passage set every round
    for a, b in zip(published, published[1:]):
        assert result["known"][a] != result["known"][b]
    # traffic really overlapped the re-indexes and reached the new versions
    assert result["during"]["busy"] >= 16
    assert result["seen"][published[-1]] > 0
    assert sum(1 for v in published if result["seen"][v]) >= 2


def test_answers_during_three_reindexes(tmp_path, seed_settings, seed_build, model_dir, encoder):
    result = run_load(tmp_path, seed_settings, model_dir, encoder, clients=16, rounds=3)
    print(f"\nconcurrency: {result['answers']} answers ({result['during']['busy']} during re-indexes) from "
          f"16 clients over {len(result['published'])} versions {dict(result['seen'])}; "
          f"failures {len(result['failures'])}, mixed {len(result['mixed'])}")
    _check(result, 3)


@pytest.mark.slow
def test_soak_answers_during_many_reindexes(tmp_path, seed_settings, seed_build, model_dir, encoder):
    result = run_load(tmp_path, seed_settings, model_dir, encoder, clients=32, rounds=8)
    print(f"\nsoak: {result['answers']} answers ({result['during']['busy']} during re-indexes) from 32 clients "
          f"over {len(result['published'])} versions; failures {len(result['failures'])}, "
          f"mixed {len(result['mixed'])}")
    _check(result, 8)
