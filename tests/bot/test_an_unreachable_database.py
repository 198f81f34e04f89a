"""The postgresql backend with its server down: questions' conversations go on in memory at once, writes
(feedback, the audit log, sign-in attempts) are refused with StateUnavailable (a bilingual 503 in the
service), ask-log rows wait in memory."""
from __future__ import annotations

import time

import pytest
from pydantic import SecretStr

from bot.state import open_app_state
from bot.state.access import AuditEntry
from kb.sessions import Turn
from kb.settings import Settings
from kb.state import StateUnavailable, open_content
from tests.support.service import free_port


@pytest.fixture()
def down(tmp_path):
    """Settings naming a PostgreSQL server that is not there (nothing listens on the port)."""
    return Settings(data_dir=tmp_path, database_url=SecretStr(f"postgresql://kb@127.0.0.1:{free_port()}/kb"))


def test_conversations_go_on_in_memory_and_writes_are_refused(down):
    content = open_content(down)  # opening does not need the server
    try:
        t0 = time.monotonic()
        session = content.sessions.get("chat-1")
        content.sessions.record(session, Turn("问题", "问题", ["p1"]))
        assert [t.question for t in content.sessions.get("chat-1").turns] == ["问题"]
        assert time.monotonic() - t0 < 2  # one short wait, then memory straight away
        with pytest.raises(StateUnavailable) as refused:
            content.documents.put("a.txt", b"x")
        assert "共享状态暂时不可用" in str(refused.value) and "unavailable" in str(refused.value)
    finally:
        content.close()


def test_questions_are_queued_and_feedback_refused(down):
    records = open_app_state(down)
    try:
        records.asks.log({"question": "怎么退款", "matched": True, "confidence": 0.9}, 3.0)
        with pytest.raises(StateUnavailable):
            records.feedback.add("x", None, False, None)
        with pytest.raises(StateUnavailable):
            records.counts()
        assert records.asks.queue.waiting() == 1  # kept for when the server is back
        assert records.storage.failing
    finally:
        records.close()  # logs the question it could not write


def test_audit_entries_and_sign_in_attempts_are_refused_not_lost(down):
    records = open_app_state(down)  # each call below waits for a connection (kb/state/pg_db.py POOL_TIMEOUT_SECONDS)
    try:
        for call in (lambda: records.audit.append(AuditEntry(1.0, "li", "editor", "ip", "login", "li", 200, {})),
                     lambda: records.attempts.change("ip:x", lambda a: a)):
            with pytest.raises(StateUnavailable):
                call()
        assert records.storage.failing  # writes are recorded in the storage's health
    finally:
        records.close()
