"""Signing in and out of the admin page.

A sign-in checks the password (argon2, in a worker thread), then stores a new session by the SHA-256 of its
cookie. The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and
Secure when the request came over HTTPS (directly, or through a proxy whose X-Forwarded-Proto uvicorn
trusts: FORWARDED_ALLOW_IPS). The session's CSRF token is given to the page, which sends it back on every
write (bot/auth/principal.py).

Guessing is slowed twice: a per-address rate limit on sign-in attempts (KB_LOGIN_RATE_PER_MINUTE, a token
bucket), and a lockout of the address and of the account name after KB_ADMIN_LOCKOUT_FAILURES wrong passwords
in a row (KB_ADMIN_LOCKOUT_SECONDS, doubling each time up to an hour). An address sending wrong bearer tokens is
locked out the same way, under its own key (bot/auth/principal.py). All are counted in the records'
LoginAttemptStore (bot/state/base.py), so every worker process and, with PostgreSQL, every replica sees the
same figures: spreading guesses over replicas gains nothing. A key unchanged for STALE_SECONDS and not
locked out is forgotten.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from fastapi import HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from bot.auth import audit
from bot.auth.passwords import digest, hash_password, needs_rehash, new_secret, verify_nobody, verify_password
from bot.auth.principal import SESSION_COOKIE, Principal, client_ip
from bot.state.access import Account, Attempts, LoginAttemptStore, LoginSession
from kb.settings import Settings

WRONG_LOGIN = "用户名或密码不正确 / wrong name or password"
STALE_SECONDS = 24 * 3600.0  # a key's attempts are forgotten a day after its last change (unless locked out)
TIDY_SECONDS = 60.0  # how often a process forgets stale keys (at a sign-in attempt)
# A lockout lasts KB_ADMIN_LOCKOUT_SECONDS the first time and twice as long at each repeat, up to this.
MAX_LOCKOUT_SECONDS = 3600.0


def too_many(seconds: float) -> HTTPException:
    wait = max(1, int(seconds + 0.999))
    return HTTPException(429, detail=f"登录失败次数过多，请 {wait} 秒后再试 / too many failed sign-ins: try again "
                                     f"in {wait} s", headers={"Retry-After": str(wait)})


@dataclass
class LoginGuard:
    """The sign-in rate limit per address, and lockouts by key ("ip:<address>" and "name:<account>" for sign-ins,
    "token:<address>" for bearer tokens), kept in `attempts` (shared by every process using the same records).
    Wall-clock times: they are compared across machines. A rate of 0 is no rate limit, `max_failures` 0 no
    lockout."""

    attempts: LoginAttemptStore
    per_minute: int
    max_failures: int
    lockout_seconds: float
    clock: Callable[[], float] = time.time
    _tidied: float = field(default=0.0, repr=False)
    _tidy_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, attempts: LoginAttemptStore) -> "LoginGuard":
        return cls(attempts, settings.login_rate_per_minute, settings.admin_lockout_failures,
                   settings.admin_lockout_seconds)

    def check(self, ip: str, name: str) -> None:
        """429 when the address has no sign-in left this minute, or the address or the name is locked out
        (an attempt takes one from the address's bucket either way)."""
        now = self.clock()
        wait = 0.0
        if self.per_minute > 0:
            rate, capacity = self.per_minute / 60.0, float(self.per_minute)

            def take(a: Attempts) -> Attempts:
                nonlocal wait
                tokens = capacity if a.tokens is None else min(capacity, a.tokens + max(0.0, now - a.taken_at) * rate)
                if tokens >= 1.0:
                    tokens, wait = tokens - 1.0, 0.0
                else:
                    wait = (1.0 - tokens) / rate
                return replace(a, tokens=tokens, taken_at=now)

            by_ip = self.attempts.change(f"ip:{ip}", take)
            if wait > 0:
                raise too_many(wait)
        else:
            by_ip = self.attempts.get(f"ip:{ip}")
        locked = max(by_ip.locked_until, self.attempts.get(f"name:{name}").locked_until) - now
        if locked > 0:
            raise too_many(locked)

    def failed(self, ip: str, name: str) -> None:
        """A wrong password: counted for the address and the name (`fail`)."""
        self.fail(f"ip:{ip}", f"name:{name}")

    def succeeded(self, ip: str, name: str) -> None:
        """The right password: the address's and the name's failures and lockouts are forgotten."""
        self.clear(f"ip:{ip}", f"name:{name}")

    def seconds_locked(self, key: str) -> float:
        """How long `key` is still locked out (0: it may try)."""
        return max(0.0, self.attempts.get(key).locked_until - self.clock())

    def fail(self, *keys: str) -> None:
        """A wrong secret, counted for each key; the one that reaches `max_failures` in a row is locked out,
        twice as long as its lockout before."""
        if self.max_failures <= 0:
            return
        now = self.clock()

        def fail(a: Attempts) -> Attempts:
            failures, lockouts, until = a.failures + 1, a.lockouts, a.locked_until
            if failures >= self.max_failures:
                until = now + min(MAX_LOCKOUT_SECONDS, self.lockout_seconds * 2 ** min(lockouts, 32))
                failures, lockouts = 0, lockouts + 1
            return replace(a, failures=failures, lockouts=lockouts, locked_until=until)

        for key in keys:
            self.attempts.change(key, fail)

    def clear(self, *keys: str) -> None:
        """The right secret: the keys' failures and lockouts are forgotten."""
        for key in keys:
            if self.attempts.get(key) != Attempts():
                self.attempts.change(key, lambda a: replace(a, failures=0, lockouts=0, locked_until=0.0))

    def tidy(self) -> int:
        """Forget stale keys, at most once per TIDY_SECONDS in this process; how many."""
        now = self.clock()
        with self._tidy_lock:
            if now - self._tidied < TIDY_SECONDS:
                return 0
            self._tidied = now
        return self.attempts.remove_stale(now - STALE_SECONDS, now)


def _check_password(records, name: str, password: str) -> Account | None:
    """The account, when the password is its own and it is not disabled (rehashed when weaker than today's)."""
    account = records.accounts.get(name)
    if account is None:
        verify_nobody(password)
        return None
    if not verify_password(account.password_hash, password) or account.disabled:
        return None
    if needs_rehash(account.password_hash):
        records.accounts.update(name, password_hash=hash_password(password))
    return account


def _set_cookie(request: Request, response: Response, value: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


async def sign_in(request: Request, response: Response, name: str, password: str) -> LoginSession:
    """A new session for `name` (its cookie set on `response`), or 401 / 429 (audited either way)."""
    state = request.app.state.service
    records, guard, ip = state.app_state, state.login_guard, client_ip(request)
    await run_in_threadpool(guard.check, ip, name)
    account = await run_in_threadpool(_check_password, records, name, password)
    await run_in_threadpool(guard.tidy)
    if account is None:
        await run_in_threadpool(guard.failed, ip, name)
        await audit.record(records, actor=name[:100], role=None, ip=ip, action="login.failed", target=name[:100],
                           status=401)
        raise HTTPException(401, detail=WRONG_LOGIN)
    await run_in_threadpool(guard.succeeded, ip, name)
    now, cookie = time.time(), new_secret()
    lifetime = int(state.settings.session_hours * 3600)
    session = LoginSession(digest(cookie), account.name, new_secret(), now, now + lifetime, ip,
                           request.headers.get("user-agent", "")[:300])
    await run_in_threadpool(records.logins.add, session)
    await run_in_threadpool(records.accounts.update, account.name, last_login=now)
    await run_in_threadpool(records.logins.remove_expired, now)
    _set_cookie(request, response, cookie, lifetime)
    await audit.record(records, actor=account.name, role=account.role, ip=ip, action="login", target=account.name)
    return session


async def sign_out(request: Request, response: Response, principal: Principal) -> None:
    state = request.app.state.service
    if principal.session is not None:
        await run_in_threadpool(state.app_state.logins.revoke, principal.session.id_hash)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    await audit.record(state.app_state, actor=principal.name, role=principal.role, ip=client_ip(request),
                       action="logout", target=principal.name)
