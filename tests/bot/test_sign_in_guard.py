"""The sign-in rate limit and lockouts, and the bearer tokens' lockout (bot/auth/sessions.py LoginGuard), counted
in the records' LoginAttemptStore: two guards on the same records (two worker processes; with PostgreSQL, two
replicas) see each other's attempts, for every backend in tests/support/state_backends.py."""
from __future__ import annotations

import time

import pytest
from fastapi import HTTPException

from bot.auth.sessions import MAX_LOCKOUT_SECONDS, STALE_SECONDS, LoginGuard
from bot.state import open_app_state


@pytest.fixture()
def replicas(state_backend, tmp_path):
    settings = state_backend.settings(tmp_path)
    opened = [open_app_state(settings), open_app_state(settings)]
    yield opened
    for records in opened:
        records.close()


def _guards(replicas, now, **policy) -> list[LoginGuard]:
    settings = {"per_minute": 0, "max_failures": 3, "lockout_seconds": 100.0, **policy}
    return [LoginGuard(records.attempts, clock=lambda: now[0], **settings) for records in replicas]


def _refused(guard: LoginGuard, ip: str, name: str) -> float | None:
    """The Retry-After of a refused attempt, None when it may go on."""
    try:
        guard.check(ip, name)
    except HTTPException as e:
        assert e.status_code == 429
        return float(e.headers["Retry-After"])
    return None


def test_wrong_passwords_on_any_replica_lock_the_address_and_the_name_out_everywhere(replicas):
    now = [float(int(time.time()))]  # whole seconds: the sums below are exact
    a, b = _guards(replicas, now)
    a.failed("10.0.0.1", "li")
    b.failed("10.0.0.1", "li")
    assert _refused(a, "10.0.0.1", "li") is None
    b.failed("10.0.0.2", "li")  # the third wrong password for the name, from another address
    assert _refused(a, "10.0.0.3", "li") == 100  # the name is locked out on the other replica too
    assert _refused(b, "10.0.0.1", "zhao") is None  # the first address has 2 failures: not yet
    a.failed("10.0.0.1", "zhao")
    assert _refused(b, "10.0.0.1", "zhao") == 100  # now it is, for every name
    now[0] += 101
    assert _refused(b, "10.0.0.1", "li") is None
    for _ in range(3):  # the next lockout lasts twice as long
        b.failed("10.0.0.9", "li")
    assert _refused(a, "10.0.0.4", "li") == 200
    now[0] += 201
    a.succeeded("10.0.0.4", "li")  # the right password forgets the name's failures and lockouts
    for _ in range(3):
        a.failed("10.0.0.5", "li")
    assert _refused(b, "10.0.0.6", "li") == 100


def test_lockouts_double_up_to_an_hour_and_stale_keys_are_forgotten(replicas):
    now = [float(int(time.time()))]  # whole seconds: the sums below are exact
    a, b = _guards(replicas, now, max_failures=1)
    for _ in range(10):
        a.failed("10.0.0.1", "li")
    assert _refused(b, "10.0.0.2", "li") == MAX_LOCKOUT_SECONDS
    assert b.tidy() == 0  # everything changed just now
    now[0] += STALE_SECONDS + 1
    assert a.tidy() == 2 and replicas[1].attempts.get("name:li").lockouts == 0


def test_wrong_bearer_tokens_lock_the_address_out_on_every_replica(replicas):
    now = [float(int(time.time()))]
    a, b = _guards(replicas, now, max_failures=2)
    a.fail("token:10.0.0.1")
    b.fail("token:10.0.0.1")
    assert a.seconds_locked("token:10.0.0.1") == 100 and b.seconds_locked("token:10.0.0.1") == 100
    assert b.seconds_locked("token:10.0.0.2") == 0 and _refused(b, "10.0.0.1", "li") is None  # sign-ins apart
    now[0] += 100
    assert a.seconds_locked("token:10.0.0.1") == 0
    b.fail("token:10.0.0.1")
    b.clear("token:10.0.0.1")  # the right token forgets the failures and the lockouts
    a.fail("token:10.0.0.1")
    assert b.seconds_locked("token:10.0.0.1") == 0
    a.fail("token:10.0.0.1")
    assert b.seconds_locked("token:10.0.0.1") == 100  # not 200: the earlier lockout was forgotten


def test_the_rate_limit_per_address_is_shared(replicas):
    now = [float(int(time.time()))]  # whole seconds: the sums below are exact
    a, b = _guards(replicas, now, per_minute=4, max_failures=0)
    assert [_refused(g, "10.0.0.1", f"n{i}") for i, g in enumerate((a, b, a, b))] == [None] * 4
    assert _refused(a, "10.0.0.1", "x") == 15 and _refused(b, "10.0.0.1", "x") == 15  # one sign-in per 15 s
    assert _refused(b, "10.0.0.2", "x") is None  # another address has its own
    now[0] += 15
    assert _refused(b, "10.0.0.1", "x") is None and _refused(a, "10.0.0.1", "x") == 15
    for _ in range(5):
        a.failed("10.0.0.1", "x")  # max_failures 0: never locked out
    now[0] += 60
    assert _refused(a, "10.0.0.1", "x") is None
