"""Who may change the KB, as stored (bot/state/base.py): accounts, signed-in browsers, API tokens, the audit log,
widget sites and sign-in attempts, with the same assertions for every backend in tests/support/state_backends.py;
and the ask log's identity and citation columns that analytics reads."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from bot.state import open_app_state
from bot.state.access import Account, AlreadyExists, ApiToken, Attempts, AuditEntry, LoginSession, Site
from bot.state.base import AskerIdentity


@pytest.fixture()
def records(state_backend, tmp_path):
    opened = open_app_state(state_backend.settings(tmp_path))
    yield opened
    opened.close()


def _account(name: str, role: str = "editor", pw: str = "hash-1") -> Account:
    return Account(name, role, pw, time.time())


def test_accounts_are_added_once_changed_and_deleted(records):
    accounts = records.accounts
    assert accounts.list() == [] and accounts.get("li") is None
    accounts.add(_account("li"))
    with pytest.raises(AlreadyExists):
        accounts.add(_account("li", "admin"))
    accounts.add(_account("an", "viewer"))
    assert [a.name for a in accounts.list()] == ["an", "li"]
    assert accounts.update("li", role="admin", password_hash="hash-2", disabled=True, last_login=5.0)
    li = accounts.get("li")
    assert (li.role, li.password_hash, li.disabled, li.last_login) == ("admin", "hash-2", True, 5.0)
    assert not accounts.update("nobody", role="viewer")
    assert accounts.delete("an") and not accounts.delete("an")
    assert [a.name for a in accounts.list()] == ["li"]


def test_the_first_account_is_made_only_while_there_is_none(state_backend, tmp_path):
    settings = state_backend.settings(tmp_path)
    first, second = open_app_state(settings), open_app_state(settings)
    try:
        assert first.accounts.add_first(_account("admin", "admin", "one"))
        assert not second.accounts.add_first(_account("admin", "admin", "two"))
        assert not second.accounts.add_first(_account("other", "admin", "three"))
        assert [(a.name, a.password_hash) for a in second.accounts.list()] == [("admin", "one")]
    finally:
        first.close()
        second.close()


def test_of_replicas_starting_at_once_one_makes_the_first_account(state_backend, tmp_path):
    settings = state_backend.settings(tmp_path)
    replicas = [open_app_state(settings) for _ in range(4)]
    try:
        start, made = threading.Barrier(len(replicas)), []

        def first_start(n: int) -> None:
            start.wait()
            if replicas[n].accounts.add_first(_account(f"admin{n}", "admin", f"pw{n}")):
                made.append(n)

        workers = [threading.Thread(target=first_start, args=(n,)) for n in range(len(replicas))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert len(made) == 1 and [a.name for a in replicas[0].accounts.list()] == [f"admin{made[0]}"]
    finally:
        for records in replicas:
            records.close()


def test_sign_ins_are_listed_until_they_expire_or_are_revoked(records):
    logins, now = records.logins, time.time()
    for n, (who, expires) in enumerate((("li", now + 60), ("li", now + 60), ("an", now + 60), ("li", now - 1))):
        logins.add(LoginSession(f"h{n}", who, f"c{n}", now + n, expires, "127.0.0.1", "test"))
    with pytest.raises(AlreadyExists):
        logins.add(LoginSession("h0", "li", "c", now, now + 60, "127.0.0.1", "test"))
    assert logins.get("h0").csrf == "c0" and logins.get("h3") is not None and logins.get("nope") is None
    assert [s.id_hash for s in logins.list("li")] == ["h1", "h0"]  # newest first, expired left out
    assert len(logins.list()) == 3
    assert logins.remove_expired(now) == 1 and logins.get("h3") is None
    assert logins.revoke("h1") and not logins.revoke("h1")
    assert logins.revoke_account("li") == 1 and logins.list("li") == []
    assert [s.account for s in logins.list()] == ["an"]


def test_api_tokens_are_found_by_hash_until_revoked(records):
    tokens = records.tokens
    tokens.add(ApiToken("t1", "nightly import", "editor", "hash-a", "li", 1.0))
    tokens.add(ApiToken("t2", "dashboard", "viewer", "hash-b", "li", 2.0))
    assert tokens.find("hash-a").name == "nightly import" and tokens.find("hash-x") is None
    tokens.used("t1", 9.0)
    assert tokens.find("hash-a").last_used == 9.0
    assert tokens.revoke("t1") and not tokens.revoke("t1") and not tokens.revoke("nope")
    assert tokens.find("hash-a") is None
    listed = tokens.list()
    assert [t.id for t in listed] == ["t2", "t1"] and listed[1].revoked_at is not None


def test_the_audit_log_is_filtered_newest_first(records):
    audit = records.audit
    for n, (actor, action) in enumerate((("li", "login"), ("li", "POST /v1/admin/documents"),
                                          ("an", "login.failed"), ("li", "DELETE /v1/admin/documents/{doc_id}"))):
        audit.append(AuditEntry(100.0 + n, actor, "editor", "10.0.0.1", action, f"doc{n}", 200, {"n": n, "名": "值"}))
    everything = audit.query()
    assert [e.detail["n"] for e in everything] == [3, 2, 1, 0] and everything[0].detail["名"] == "值"
    assert [e.action for e in audit.query(actor="li", limit=2)] == ["DELETE /v1/admin/documents/{doc_id}",
                                                                     "POST /v1/admin/documents"]
    assert [e.actor for e in audit.query(action="login")] == ["an", "li"]  # a prefix: login.failed too
    assert [e.target for e in audit.query(since=101.0, until=103.0)] == ["doc2", "doc1"]
    assert audit.query(action="%") == []  # no wildcards


def test_sites_keep_their_origins_and_secret(records):
    sites = records.sites
    sites.add(Site("shop", "网店", ("https://shop.example", "https://m.shop.example"), "s3cret", 1.0, "li"))
    with pytest.raises(AlreadyExists):
        sites.add(Site("shop", "again", (), None, 1.0, "li"))
    assert sites.get("shop").origins == ("https://shop.example", "https://m.shop.example")
    assert sites.update("shop", origins=("https://new.example",), name="新店")
    assert (sites.get("shop").name, sites.get("shop").origins, sites.get("shop").secret) == (
        "新店", ("https://new.example",), "s3cret")
    assert sites.update("shop", clear_secret=True) and sites.get("shop").secret is None
    assert not sites.update("nope", name="x")
    assert sites.delete("shop") and sites.list() == []


def test_the_ask_log_keeps_who_asked_and_every_passage_quoted(records):
    who = AskerIdentity("agent-7", "售后一组", "shop")
    answer = {"question": "怎么退款", "matched": True, "confidence": 0.9, "principles": [{"id": "p1"}, {"id": "p2"}],
              "cases": [{"id": "c1"}, {"id": "p1"}], "passages": [{"id": "p1"}], "version": "v1"}
    before = time.time()
    records.asks.log(answer, 3.0, who)
    records.asks.log({**answer, "question": "匿名", "matched": False, "principles": [], "cases": []}, 1.0)
    rows = records.asks.since(before - 1)
    assert [(r["question"], r["cited"], r["agent"], r["team"], r["site"]) for r in rows] == [
        ("怎么退款", "p1 p2 c1", "agent-7", "售后一组", "shop"), ("匿名", "", None, None, None)]
    assert records.asks.since(time.time() + 10) == []
    records.feedback.add("怎么退款", "p1", True, None, who=who)
    records.feedback.add("匿名", None, False, None)
    assert [(f["helpful"], f["team"]) for f in records.feedback.since(before - 1)] == [(1, "售后一组"), (0, None)]


def test_sign_in_attempts_are_changed_one_at_a_time_by_every_process(state_backend, tmp_path):
    settings = state_backend.settings(tmp_path)
    first, second = open_app_state(settings), open_app_state(settings)  # two processes, or two replicas
    try:
        assert first.attempts.get("ip:10.0.0.1") == Attempts()

        def count(records) -> None:
            for _ in range(25):
                records.attempts.change("ip:10.0.0.1", lambda a: replace(a, failures=a.failures + 1))

        workers = [threading.Thread(target=count, args=(records,)) for records in (first, second, first, second)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert second.attempts.get("ip:10.0.0.1").failures == 100  # no change lost to another
        stored = first.attempts.change("name:li", lambda a: replace(a, lockouts=1, locked_until=500.0, tokens=2.5,
                                                                     taken_at=400.0))
        assert second.attempts.get("name:li") == stored == Attempts(0, 1, 500.0, 2.5, 400.0)
        now = time.time()
        assert first.attempts.remove_stale(now - 3600, now) == 0  # both changed just now
        assert first.attempts.remove_stale(now + 1, 499.0) == 1  # name:li is locked out until 500
        assert second.attempts.get("ip:10.0.0.1") == Attempts() and second.attempts.get("name:li").lockouts == 1
        assert first.attempts.remove_stale(now + 1, 500.0) == 1 and second.attempts.get("name:li") == Attempts()
    finally:
        first.close()
        second.close()
