"""Who a request to the admin API is, and whether their role may use the route.

Credentials, in this order:
    Authorization: Bearer <KB_ADMIN_TOKEN>   an admin (automation; the token of earlier releases)
    Authorization: Bearer kbt_…              an API token made in the admin page, with its own role
    Cookie kb_session=…                      a signed-in account (the admin page); every write must also carry
                                             X-CSRF-Token, the session's CSRF token
A wrong bearer token counts toward the address's lockout (key "token:<address>" of the LoginGuard, shared by every
process and replica: bot/auth/sessions.py) and is audited.
"""
from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPBearer

from bot.admin_auth import locked_out_message
from bot.auth import audit
from bot.auth.passwords import digest
from bot.auth.roles import allows, needed_role
from bot.state.access import LoginSession

SESSION_COOKIE = "kb_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ADMIN_TOKEN_ACTOR = "KB_ADMIN_TOKEN"
TOKEN_USE_RECORDED_EVERY = 60.0  # seconds: an API token's last use is written at most this often

SIGN_IN = "需要登录 / sign in required"
SIGNED_OUT = "登录已过期或已退出，请重新登录 / your sign-in has ended: sign in again"
WRONG_TOKEN = "令牌不正确 / wrong token"
NO_CSRF = ("缺少或错误的 CSRF 令牌，请刷新页面后重试 / missing or wrong CSRF token (X-CSRF-Token): reload the "
           "page and try again")


@dataclass(frozen=True)
class Principal:
    name: str  # an account's name, "token:<name>", or KB_ADMIN_TOKEN
    role: str
    kind: str  # "session", "token" or "admin_token"
    session: LoginSession | None = None


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _bearer(request: Request) -> str | None:
    """The bearer token; None without an Authorization header; 401 for one that is not `Bearer <token>`."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise HTTPException(401, detail="需要 Bearer 令牌 / expected Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    return value.strip()


async def _from_token(request: Request, state, given: str) -> Principal:
    ip = client_ip(request)
    guard, key = state.login_guard, f"token:{ip}"
    locked = await run_in_threadpool(guard.seconds_locked, key)
    if locked > 0:  # a client guessing tokens gets no answer about them until its lockout ends
        raise HTTPException(429, detail=locked_out_message(locked),
                            headers={"Retry-After": str(max(1, int(locked + 0.999)))})
    configured = state.settings.admin_token.get_secret_value() if state.settings.admin_token else ""
    if configured and hmac.compare_digest(given.encode("utf-8"), configured.encode("utf-8")):
        await run_in_threadpool(guard.clear, key)
        return Principal(ADMIN_TOKEN_ACTOR, "admin", "admin_token")
    records = state.app_state
    token = await run_in_threadpool(records.tokens.find, digest(given))
    if token is None:
        await run_in_threadpool(guard.fail, key)
        await audit.record(records, actor="(unknown token)", role=None, ip=ip, action="login.failed",
                           target="token", status=403, detail={"path": request.url.path})
        raise HTTPException(403, detail=WRONG_TOKEN)
    await run_in_threadpool(guard.clear, key)
    now = time.time()
    if token.last_used is None or now - token.last_used > TOKEN_USE_RECORDED_EVERY:
        await run_in_threadpool(records.tokens.used, token.id, now)
    return Principal(f"token:{token.name}", token.role, "token")


async def _from_cookie(request: Request, state, cookie: str) -> Principal:
    records = state.app_state
    session = await run_in_threadpool(records.logins.get, digest(cookie))
    if session is None or session.expires_at <= time.time():
        raise HTTPException(401, detail=SIGNED_OUT)
    account = await run_in_threadpool(records.accounts.get, session.account)
    if account is None or account.disabled:
        raise HTTPException(401, detail=SIGNED_OUT)
    return Principal(account.name, account.role, "session", session)


async def current_principal(request: Request) -> Principal:
    """Who sent the request (401 without credentials, 403 for a wrong token, 429 while locked out). The
    CSRF check is `authorize`'s, once the principal is known (so a refused write is audited as theirs)."""
    state = request.app.state.service
    given = _bearer(request)
    if given is not None:
        return await _from_token(request, state, given)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await _from_cookie(request, state, cookie)
    raise HTTPException(401, detail=SIGN_IN, headers={"WWW-Authenticate": "Bearer"})


def check_csrf(request: Request, principal: Principal) -> None:
    """A cookie-authenticated write must echo the session's CSRF token (a bearer token is never sent by a
    browser on its own, so it needs none)."""
    if principal.session is None or request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode("utf-8"), principal.session.csrf.encode("utf-8")):
        raise HTTPException(403, detail=NO_CSRF)


# Declared for the OpenAPI schema (/docs can send them); the checks themselves are the functions above.
_bearer_scheme = HTTPBearer(auto_error=False, scheme_name="AdminToken",
                            description="an API token, or KB_ADMIN_TOKEN")
_cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="SessionCookie",
                              description="a signed-in session (POST /v1/auth/login); writes also need X-CSRF-Token")


async def authorize(request: Request, _bearer_doc: Annotated[object, Depends(_bearer_scheme)],
                    _cookie_doc: Annotated[object, Depends(_cookie_scheme)]) -> Principal:
    """The admin routes' guard (`AdminOnly` in bot/deps.py): the principal, when their role may use this route
    (bot/auth/roles.py ROUTE_ROLES; an undeclared route is refused to everyone)."""
    principal = await current_principal(request)
    request.state.principal = principal  # the audit middleware records who it was
    check_csrf(request, principal)
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    need = needed_role(request.method, path)
    if need is None:
        raise HTTPException(403, detail=f"这个接口没有声明所需角色 / this route declares no role: "
                                        f"{request.method} {path} (bot/auth/roles.py)")
    if not allows(principal.role, need):
        raise HTTPException(403, detail=f"权限不足：需要 {need} 角色（你是 {principal.role}） / your role "
                                        f"({principal.role}) may not do this: it needs {need}")
    return principal
