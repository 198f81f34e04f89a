"""Signing in to the admin page: sign in, sign out, who am I, a new password. (The admin routes' guard is
bot/auth/principal.py; accounts are managed in bot/routes/users.py.)"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from bot.auth import audit
from bot.auth.accounts import change_account
from bot.auth.passwords import verify_password
from bot.auth.principal import Principal, check_csrf, client_ip, current_principal
from bot.auth.sessions import sign_in, sign_out

router = APIRouter(prefix="/v1/auth", tags=["auth"])


async def signed_in(request: Request) -> Principal:
    """Any valid credentials; writes from the page must carry the CSRF token."""
    principal = await current_principal(request)
    check_csrf(request, principal)
    return principal


Who = Annotated[Principal, Depends(signed_in)]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=100)
    password: str = Field(..., min_length=1, max_length=1000)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current: str = Field(..., min_length=1, max_length=1000)
    new: str = Field(..., min_length=1, max_length=1000)


def _me(principal: Principal) -> dict:
    return {"name": principal.name, "role": principal.role, "kind": principal.kind,
            "csrf": principal.session.csrf if principal.session else None,
            "expires_at": principal.session.expires_at if principal.session else None}


@router.post("/login", summary="Sign in with a name and password: sets the session cookie, returns the CSRF token")
async def login(body: LoginRequest, request: Request, response: Response) -> dict:
    session = await sign_in(request, response, body.name.strip(), body.password)
    account = await run_in_threadpool(request.app.state.service.app_state.accounts.get, session.account)
    return _me(Principal(account.name, account.role, "session", session))


@router.post("/logout", summary="Sign out: ends this session")
async def logout(request: Request, response: Response, principal: Who) -> dict:
    await sign_out(request, response, principal)
    return {"ok": True}


@router.get("/me", summary="Who the credentials are: name, role, and the session's CSRF token")
async def me(principal: Who) -> dict:
    return _me(principal)


@router.post("/password", summary="Change your own password (ends your other sessions)")
async def change_password(body: PasswordChange, request: Request, response: Response, principal: Who) -> dict:
    if principal.session is None:
        raise HTTPException(400, detail="只有登录的账号可以修改密码 / only a signed-in account has a password to change")
    records = request.app.state.service.app_state
    account = await run_in_threadpool(records.accounts.get, principal.name)
    if account is None or not await run_in_threadpool(verify_password, account.password_hash, body.current):
        raise HTTPException(403, detail="当前密码不正确 / the current password is wrong")
    try:
        await run_in_threadpool(change_account, records, principal.name, password=body.new)
    except ValueError as e:
        raise HTTPException(400, detail=str(e)) from None
    await audit.record(records, actor=principal.name, role=principal.role, ip=client_ip(request),
                       action="password", target=principal.name)
    await sign_in(request, response, principal.name, body.new)  # this browser stays signed in
    return {"ok": True}
