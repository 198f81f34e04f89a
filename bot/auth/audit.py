"""The audit log: who did what, when, from where. Every write to /v1/admin/* is recorded by
`AuditMiddleware` once it is answered (also when it is refused to a signed-in user or token: the attempt is
what matters); sign-ins, sign-outs, failed sign-ins and wrong tokens are recorded where they happen.

An entry is appended and never changed (AuditLog in bot/state/base.py). Routes of other modules are audited
without knowing of it: the action is the route's method and path template, the target its path parameters,
the detail its query and the identifying fields of its JSON answer (AUDITED_FIELDS).
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.state.access import AuditEntry
from bot.storage import DiskFull

log = logging.getLogger(__name__)

AUDITED_PREFIX = "/v1/admin/"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Fields of a route's JSON answer that say what it acted on (never secrets: tokens and passwords are left out).
AUDITED_FIELDS = ("doc_id", "deleted", "title", "size", "renamed", "id", "name", "role", "disabled", "state",
                  "kind", "version", "site_id", "origins", "job_id", "revoked", "count")
MAX_CAPTURED_BODY = 64 * 1024


async def record(records, *, actor: str, role: str | None, ip: str, action: str, target: str = "",
                 status: int = 200, detail: dict[str, Any] | None = None) -> None:
    """Append one entry; a failure to write it is logged, never raised (the action itself already happened).
    A full disk is logged by the storage's health record, once per interval (bot/storage.py)."""
    entry = AuditEntry(time.time(), actor, role, ip, action, target, status, detail or {})
    try:
        await run_in_threadpool(records.audit.append, entry)
    except DiskFull:
        pass
    except Exception:  # noqa: BLE001 - the log says so
        log.exception("could not write the audit log entry %s", entry)


def _answer_fields(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    out = {k: data[k] for k in AUDITED_FIELDS if k in data}
    if isinstance(data.get("detail"), str):
        out["error"] = data["detail"][:500]
    return out


class AuditMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope.get("method") not in WRITE_METHODS
                or not scope.get("path", "").startswith(AUDITED_PREFIX)):
            await self.app(scope, receive, send)
            return
        status, body, captured = 500, bytearray(), True

        async def watch(message: Message) -> None:
            nonlocal status, captured
            if message["type"] == "http.response.start":
                status = message["status"]
                ctype = dict(message.get("headers", [])).get(b"content-type", b"")
                captured = b"json" in ctype
            elif message["type"] == "http.response.body" and captured:
                body.extend(message.get("body", b""))
                if len(body) > MAX_CAPTURED_BODY:
                    captured = False
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            await self._record(scope, status, bytes(body) if captured else b"")

    async def _record(self, scope: Scope, status: int, body: bytes) -> None:
        principal = scope.get("state", {}).get("principal")
        service = getattr(scope["app"].state, "service", None)
        if principal is None or service is None:  # never authenticated: wrong tokens are audited where refused
            return
        route = scope.get("route")
        params = {k: str(v) for k, v in (scope.get("path_params") or {}).items()}
        detail: dict[str, Any] = _answer_fields(body)
        if scope.get("query_string"):
            detail["query"] = scope["query_string"].decode("latin-1")[:500]
        client = scope.get("client")
        await record(service.app_state, actor=principal.name, role=principal.role,
                     ip=client[0] if client else "unknown",
                     action=f"{scope['method']} {getattr(route, 'path', scope['path'])}",
                     target=" ".join(params.values()), status=status, detail=detail)
