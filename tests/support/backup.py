"""What the backup round trips of both backends share (tests/service/test_backup_restore.py, the embedded one;
tests/bot/test_backup_with_postgresql.py): something in every store of a running service, made through its
API, and the answers to a set of questions to compare the restored service's with."""
from __future__ import annotations

import httpx

from tests.support.accounts import ADMIN, PASSWORD
from tests.support.paths import SEEDS
from tests.support.service import NEW_DOC_NAME, NEW_DOC_TEXT, OOS_QUESTION, SEED_QUESTION
from tests.support.sites import mint

QUESTIONS = [SEED_QUESTION, "客户投诉快递员态度不好怎么处理", "包裹丢了怎么赔偿", OOS_QUESTION]
DELETED_SEED = sorted(p.name for p in SEEDS.iterdir() if p.is_file())[0]
RESTORED_ACCOUNT = "restorer"


def answers(base_url: str, headers: dict | None = None) -> list[tuple]:
    """(matched, principle ids, case ids) of every question of QUESTIONS."""
    out = []
    for q in QUESTIONS:
        a = httpx.post(base_url + "/v1/ask", json={"question": q}, headers=headers or {}, timeout=60).json()
        out.append((a["matched"], [c["id"] for c in a["principles"]], [c["id"] for c in a["cases"]]))
    return out


def fill(url: str) -> str:
    """Something in every store, through the service at `url`: an upload, a deleted seed, dictionary and
    synonyms, a label, an account (RESTORED_ACCOUNT, password PASSWORD), a site, feedback, questions (and the
    audit log's entries of these). The site's secret."""
    c = httpx.Client(base_url=url, headers=ADMIN, timeout=60)
    assert c.post("/v1/admin/documents", files={"file": (NEW_DOC_NAME, NEW_DOC_TEXT.encode())}).status_code == 201
    assert c.delete(f"/v1/admin/documents/{DELETED_SEED}").status_code == 200
    assert c.put("/v1/admin/dictionary", json={"text": "保价\n到付 100 n"}).status_code == 200
    assert c.put("/v1/admin/synonyms", json={"text": "退款 退钱 返款"}).status_code == 200
    assert c.post("/v1/admin/labels", json={"id": "backup-oos", "question": "今天股市行情怎么样",
                                            "kind": "oos", "gold": []}).status_code == 201
    assert c.post("/v1/admin/users", json={"name": RESTORED_ACCOUNT, "role": "editor",
                                           "password": PASSWORD}).status_code == 201
    secret = c.post("/v1/admin/sites", json={"id": "shop", "name": "网店", "origins": ["https://shop.example"]}).json()["secret"]
    for q in QUESTIONS:
        c.post("/v1/ask", json={"question": q}, headers={"X-KB-Token": mint(secret, "shop")})
    assert c.post("/v1/feedback", json={"question": SEED_QUESTION, "helpful": False, "comment": "缺少"}).status_code == 201
    return secret
