"""Conversations: a short question that leans on the one before it is taken as a follow-up (kb/sessions.py); the
in-memory store expires and bounds them; the shared table, when it cannot be used, leaves them in memory without
holding up the answer (kb/state/session_stores.py, kb/state/embedded_sessions.py). What every backend's store
does is tests/kb/test_state_contract.py's."""
from __future__ import annotations

import sqlite3
import time

from kb.sessions import Turn, is_follow_up
from kb.state import session_stores
from kb.state.embedded_sessions import SQLiteSessionStore
from kb.state.session_stores import MemorySessionStore


def _turn(n: int) -> Turn:
    return Turn(f"问题{n}", f"问题{n}（合并后）", [f"p{n}"])


def test_sessions_in_memory_expire_and_stay_bounded():
    store = MemorySessionStore(ttl_seconds=1, max_sessions=3)
    ids = [store.get(None).id for _ in range(5)]
    assert len(store) == 3 and len(set(ids)) == 5
    s = store.get("abc")
    assert store.get("abc") is s
    s.touched -= 5
    assert store.get("abc") is not s
    assert store.get("../bad id!").id != "../bad id!"


def test_a_locked_table_keeps_the_conversation_in_memory_without_holding_up_the_answer(tmp_path, monkeypatch):
    monkeypatch.setattr(session_stores, "RETRY_SECONDS", 0.5)
    path = tmp_path / "sessions.sqlite"
    store = SQLiteSessionStore(path)
    try:
        s = store.get(None)
        store.record(s, _turn(0))
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holding the database
        started = time.monotonic()
        s = store.get(s.id)  # the table cannot be read: the conversation goes on in memory from here
        store.record(s, _turn(1))
        assert store.get(s.id).turns == [_turn(1)]
        assert time.monotonic() - started < 1.5  # one wait of TIMEOUT_SECONDS, then memory at once
        locker.execute("ROLLBACK")
        locker.close()
        time.sleep(0.6)
        s = store.get(s.id)  # the table again, as it was before the lock
        assert s.turns == [_turn(0)]
        store.record(s, _turn(2))
        other = SQLiteSessionStore(path)  # another process
        assert other.get(s.id).turns == [_turn(0), _turn(2)]
        other.close()
    finally:
        store.close()


def test_an_unwritable_data_folder_keeps_conversations_in_memory(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    store = SQLiteSessionStore(blocker / "sessions.sqlite")
    s = store.get(None)
    store.record(s, _turn(0))
    assert store.get(s.id).turns == [_turn(0)]


def test_follow_up_detection():
    assert is_follow_up("那如果客户还是不满意呢？", 3)
    assert is_follow_up("有没有案例？", 1)
    assert not is_follow_up("客户投诉快递晚到要赔钱，我该怎么处理？", 6)


def test_the_table_is_capped_within_one_percent_of_max_sessions(tmp_path):
    store = SQLiteSessionStore(tmp_path / "sessions.sqlite", max_sessions=300)  # pruned at every 3rd write
    try:
        kept = []
        for n in range(400):
            s = store.get(None)
            store.record(s, _turn(n))
            kept.append(s.id)
        with sqlite3.connect(tmp_path / "sessions.sqlite") as conn:
            rows = {r[0] for r in conn.execute("SELECT id FROM sessions")}
        assert 300 <= len(rows) <= 302 and set(kept[-300:]) <= rows  # the least recently used went
    finally:
        store.close()
