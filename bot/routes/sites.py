"""Sites that embed the widget (admins only): their allowed origins (CORS) and the secret their backend signs
widget tokens with (bot/auth/widget_token.py). A secret is shown once, when made or replaced."""
from __future__ import annotations

import re
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from bot.auth.passwords import new_secret
from bot.auth.principal import Principal, authorize
from bot.auth.site_directory import checked_origin
from bot.deps import AdminOnly, Records
from bot.state.access import AlreadyExists, Site

router = APIRouter(prefix="/v1/admin", tags=["sites"], dependencies=[AdminOnly])

Who = Annotated[Principal, Depends(authorize)]
SITE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class NewSite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(..., min_length=1, max_length=64, description="the `aud` of its tokens: a-z 0-9 . _ -")
    name: str = Field(..., min_length=1, max_length=100)
    origins: list[str] = Field(default_factory=list, max_length=50)
    signed: bool = Field(True, description="make a signing secret (identity tokens); false = anonymous widget")


class SiteChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    origins: list[str] | None = Field(None, max_length=50)
    new_secret: bool = Field(False, description="replace the signing secret (tokens signed with the old one stop "
                                                "working)")
    remove_secret: bool = False


def _origins(values: list[str]) -> tuple[str, ...]:
    try:
        return tuple(dict.fromkeys(checked_origin(v) for v in values))
    except ValueError as e:
        raise HTTPException(400, detail=str(e)) from None


def _view(site: Site, secret: str | None = None) -> dict:
    out = {"site_id": site.id, "name": site.name, "origins": list(site.origins), "signed": bool(site.secret),
           "created_at": site.created_at, "created_by": site.created_by}
    if secret:
        out["secret"] = secret
        out["note"] = "密钥只显示这一次，请保存在网站后端 / the secret is shown only once: keep it in the site's backend"
    return out


@router.get("/sites", summary="Registered sites (never their secrets)")
async def sites(records: Records) -> dict:
    return {"sites": [_view(s) for s in await run_in_threadpool(records.sites.list)]}


@router.post("/sites", status_code=201, summary="Register a site: its origins, and a signing secret shown once")
async def add_site(body: NewSite, request: Request, records: Records, principal: Who) -> dict:
    if not SITE_ID.match(body.id):
        raise HTTPException(400, detail="站点 ID 只能用小写字母、数字和 . _ - / a site id is a-z, 0-9, . _ - (up to 64)")
    secret = new_secret() if body.signed else None
    site = Site(body.id, body.name.strip(), _origins(body.origins), secret, time.time(), principal.name)
    try:
        await run_in_threadpool(records.sites.add, site)
    except AlreadyExists:
        raise HTTPException(409, detail=f"站点 ID 已存在 / a site with this id exists: {body.id}") from None
    await run_in_threadpool(request.app.state.site_directory.refresh)
    return _view(site, secret)


@router.patch("/sites/{site_id}", summary="Change a site's name or origins, or replace / remove its secret")
async def change_site(site_id: str, body: SiteChange, request: Request, records: Records) -> dict:
    secret = new_secret() if body.new_secret else None
    origins = _origins(body.origins) if body.origins is not None else None
    changed = await run_in_threadpool(lambda: records.sites.update(
        site_id, name=body.name, origins=origins, secret=secret, clear_secret=body.remove_secret and not secret))
    if not changed:
        raise HTTPException(404, detail=f"没有这个站点 / no such site: {site_id}")
    await run_in_threadpool(request.app.state.site_directory.refresh)
    return _view(await run_in_threadpool(records.sites.get, site_id), secret)


@router.delete("/sites/{site_id}", summary="Remove a site: its origins and tokens stop working")
async def delete_site(site_id: str, request: Request, records: Records) -> dict:
    if not await run_in_threadpool(records.sites.delete, site_id):
        raise HTTPException(404, detail=f"没有这个站点 / no such site: {site_id}")
    await run_in_threadpool(request.app.state.site_directory.refresh)
    return {"deleted": site_id}
