"""Conversations: sessions expire and stay bounded in number, and a short question that leans on the one
before it is taken as a follow-up (kb/sessions.py, the in-memory store in kb/state/embedded.py)."""
from __future__ import annotations

from kb.sessions import is_follow_up
from kb.state.embedded import MemorySessionStore


def test_sessions_expire_and_stay_bounded():
    store = MemorySessionStore(ttl_seconds=1, max_sessions=3)
    ids = [store.get(None).id for _ in range(5)]
    assert len(store) == 3 and len(set(ids)) == 5
    s = store.get("abc")
    assert store.get("abc") is s
    s.touched -= 5
    assert store.get("abc") is not s
    assert store.get("../bad id!").id != "../bad id!"


def test_follow_up_detection():
    assert is_follow_up("那如果客户还是不满意呢？", 3)
    assert is_follow_up("有没有案例？", 1)
    assert not is_follow_up("客户投诉快递晚到要赔钱，我该怎么处理？", 6)
