"""Signing in and out of the admin page.

A sign-in checks the password (argon2, in a worker thread), then stores a new session by the SHA-256 of its
cookie. The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and
Secure when the request came over HTTPS (directly, or through a proxy whose X-Forwarded-Proto uvicorn
trusts: FORWARDED_ALLOW_IPS). The session's CSRF token is given to the page, which sends it back on every
write (bot/auth/principal.py).

Guessing is slowed twice: a per-address rate limit on sign-in attempts (KB_LOGIN_RATE_PER_MINUTE), and a
lockout of the address and of the account name after KB_ADMIN_LOCKOUT_FAILURES wrong passwords in a row
(bot/admin_auth.py's lockout, doubling each time). Both are counted by each worker process.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from bot.admin_auth import AdminLockout
from bot.auth import audit
from bot.auth.passwords import digest, hash_password, needs_rehash, new_secret, verify_nobody, verify_password
from bot.auth.principal import SESSION_COOKIE, Principal, client_ip
from bot.security import RateLimiter
from bot.state.base import Account, LoginSession
from kb.settings import Settings

WRONG_LOGIN = "用户名或密码不正确 / wrong name or password"


def too_many(seconds: float) -> HTTPException:
    wait = max(1, int(seconds + 0.999))
    return HTTPException(429, detail=f"登录失败次数过多，请 {wait} 秒后再试 / too many failed sign-ins: try again "
                                     f"in {wait} s", headers={"Retry-After": str(wait)})


@dataclass
class LoginGuard:
    """Per worker process: the sign-in rate limit per address, and the lockout per address and per name."""

    limiter: RateLimiter
    lockout: AdminLockout

    @classmethod
    def from_settings(cls, settings: Settings) -> "LoginGuard":
        return cls(RateLimiter(settings.login_rate_per_minute), AdminLockout.from_settings(settings))

    def check(self, ip: str, name: str) -> None:
        ok, wait = self.limiter.allow(ip)
        if not ok:
            raise too_many(wait)
        locked = max(self.lockout.seconds_locked(f"ip:{ip}"), self.lockout.seconds_locked(f"name:{name}"))
        if locked > 0:
            raise too_many(locked)

    def failed(self, ip: str, name: str) -> None:
        self.lockout.failed(f"ip:{ip}")
        self.lockout.failed(f"name:{name}")

    def succeeded(self, ip: str, name: str) -> None:
        self.lockout.succeeded(f"ip:{ip}")
        self.lockout.succeeded(f"name:{name}")


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
    guard.check(ip, name)
    account = await run_in_threadpool(_check_password, records, name, password)
    if account is None:
        guard.failed(ip, name)
        await audit.record(records, actor=name[:100], role=None, ip=ip, action="login.failed", target=name[:100],
                           status=401)
        raise HTTPException(401, detail=WRONG_LOGIN)
    guard.succeeded(ip, name)
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
