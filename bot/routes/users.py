"""Accounts, their sign-in sessions and API tokens: the admin page's 用户 tab (admins only: bot/auth/roles.py)."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from bot.auth.accounts import add_account, add_token, change_account, remove_account
from bot.deps import AdminOnly, Records, Who
from bot.state.access import AlreadyExists

router = APIRouter(prefix="/v1/admin", tags=["users"], dependencies=[AdminOnly])

Role = Literal["viewer", "editor", "admin"]


class NewAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=64)
    role: Role
    password: str | None = Field(None, max_length=256, description="omit for a random one, returned once")


class AccountChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(None, max_length=256)


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=100)
    role: Role


async def _call(fn, *args, **kwargs):
    """A bilingual 400 / 404 / 409 for what accounts.py refuses."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except AlreadyExists as e:
        raise HTTPException(409, detail=str(e)) from None
    except LookupError as e:
        raise HTTPException(404, detail=str(e.args[0])) from None
    except ValueError as e:
        raise HTTPException(400, detail=str(e)) from None


def _account_view(a, sessions: int = 0) -> dict:
    return {"name": a.name, "role": a.role, "disabled": a.disabled, "created_at": a.created_at,
            "last_login": a.last_login, "sessions": sessions}


@router.get("/users", summary="Every account, its role and open sessions")
async def users(records: Records) -> dict:
    accounts = await run_in_threadpool(records.accounts.list)
    open_sessions = await run_in_threadpool(records.logins.list)
    count = {a.name: sum(1 for s in open_sessions if s.account == a.name) for a in accounts}
    return {"users": [_account_view(a, count[a.name]) for a in accounts]}


@router.post("/users", status_code=201, summary="Make an account (a random password is returned once if none given)")
async def new_user(body: NewAccount, records: Records) -> dict:
    account, generated = await _call(add_account, records, body.name, body.role, body.password)
    return {**_account_view(account), "password": generated}


@router.patch("/users/{name}", summary="Change an account's role, enabled state or password")
async def change_user(name: str, body: AccountChange, records: Records) -> dict:
    account = await _call(change_account, records, name, role=body.role, disabled=body.disabled,
                          password=body.password)
    return _account_view(account)


@router.delete("/users/{name}", summary="Remove an account (its sessions end)")
async def delete_user(name: str, records: Records) -> dict:
    await _call(remove_account, records, name)
    return {"deleted": name}


@router.get("/sessions", summary="Open sign-in sessions, newest first")
async def sessions(records: Records, principal: Who) -> dict:
    mine = principal.session.id_hash if principal.session else None
    found = await run_in_threadpool(records.logins.list)
    return {"sessions": [{"id": s.id_hash, "account": s.account, "created_at": s.created_at,
                          "expires_at": s.expires_at, "ip": s.ip, "user_agent": s.user_agent,
                          "current": s.id_hash == mine} for s in found]}


@router.delete("/sessions/{session_id}", summary="End a sign-in session")
async def revoke_session(session_id: str, records: Records) -> dict:
    if not await run_in_threadpool(records.logins.revoke, session_id):
        raise HTTPException(404, detail="没有这个会话 / no such session")
    return {"revoked": session_id}


@router.get("/tokens", summary="API tokens (never the tokens themselves), newest first")
async def tokens(records: Records) -> dict:
    found = await run_in_threadpool(records.tokens.list)
    return {"tokens": [{"id": t.id, "name": t.name, "role": t.role, "created_by": t.created_by,
                        "created_at": t.created_at, "last_used": t.last_used, "revoked_at": t.revoked_at}
                       for t in found]}


@router.post("/tokens", status_code=201, summary="Make an API token: returned once, stored hashed")
async def new_token(body: NewToken, records: Records, principal: Who) -> dict:
    token, secret = await _call(add_token, records, body.name, body.role, principal.name)
    return {"id": token.id, "name": token.name, "role": token.role, "token": secret,
            "note": "令牌只显示这一次 / the token is shown only once"}


@router.delete("/tokens/{token_id}", summary="Revoke an API token")
async def revoke_token(token_id: str, records: Records) -> dict:
    if not await run_in_threadpool(records.tokens.revoke, token_id):
        raise HTTPException(404, detail="没有这个令牌或已吊销 / no such token, or revoked already")
    return {"revoked": token_id}
