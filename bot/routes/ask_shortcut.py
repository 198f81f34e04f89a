"""POST /v1/ask in front of the middleware stack, for the questions the service will answer.

Everything around an answer used to run for every question: the metrics, security-header and body-limit
middlewares (each wrapping receive and send), Starlette's exception middleware and router, FastAPI's body
field and dependency solving. Right after a model run has evicted the caches that is 0.2-0.45 ms a
question at concurrency 1 (A/B of two servers taking turns, against the previous shortcut, which sat
in the router behind all middleware: 11.55 -> 11.10 and 12.53 -> 12.33 ms). This wrapper sits just inside Starlette's
error middleware and answers a request itself only when it is a question that will be answered: POST
/v1/ask, a JSON content type, a body within the limit that the AskRequest model accepts and this
deployment's limits allow, a KB loaded, the client within its rate; and only without CORS (with
KB_CORS_ORIGINS set, Starlette's CORS middleware shapes every response, Origin header or not).
It then does what the stack and the typed route do for such a request, through the same functions:
rate limit, KB lease, answer (counted and logged), the security headers, the request metrics.

Anything else goes to the stack untouched, its body replayed, before anything was consumed or counted
(a refused request takes no token from the rate limiter's bucket): every error a client can see is the
typed route's own, and the OpenAPI schema is still generated from it. An error while answering goes to
Starlette's error middleware, counted as a 500, as the typed route's would.
"""
from __future__ import annotations

import time

from fastapi import FastAPI, HTTPException
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.holder import KBNotReady
from bot.routes.ask import answer_bytes, checked
from bot.schemas import AskRequest
from bot.security import add_security_headers

PATH = "/v1/ask"
_JSON = (b"application/json", b"application/json; charset=utf-8")


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A receive that hands the already read body on first, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replay


class AskShortcut:
    def __init__(self, app: FastAPI, stack: ASGIApp):
        self.app = app
        self.stack = stack  # the middleware stack inside Starlette's error middleware
        settings = app.state.settings
        self.limit = settings.max_body_bytes
        if getattr(app, "max_body_size", None) is not None:  # Starlette's own body limit, if set, is skipped too
            self.limit = min(self.limit, app.max_body_size)
        self.cors = bool(settings.cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.stack(scope, receive, send)
            return
        state = getattr(self.app.state, "service", None)
        if state is None or self.cors or not self._plain(scope):
            await self.stack(scope, receive, send)
            return
        start = time.perf_counter()
        body, complete = await self._read(receive)
        lease = self._take(state, body) if complete else None
        if lease is None:
            await self.stack(scope, _replay(body, complete, receive), send)
            return
        kb_lease, kb, question, top_k, session_id = lease
        client = scope.get("client")
        allowed, _ = state.limiter.allow(client[0] if client else "unknown")
        if not allowed:  # the typed route says 429 (a refused request costs no token, so asking twice is free)
            kb_lease.__exit__(None, None, None)
            await self.stack(scope, _replay(body, True, receive), send)
            return
        status = 500
        try:
            try:
                content = await answer_bytes(kb, state, question, top_k, session_id)
            finally:
                kb_lease.__exit__(None, None, None)
            head = {"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(content)).encode("latin-1")),
                                (b"content-type", b"application/json")]}
            add_security_headers(head, PATH, "", "")
            await send(head)
            status = 200
            await send({"type": "http.response.body", "body": content})
        finally:
            state.metrics.observe_request(PATH, "POST", status, time.perf_counter() - start)

    def _plain(self, scope: Scope) -> bool:
        """A JSON request within the body limit."""
        json_type = False
        for name, value in scope["headers"]:
            if name == b"content-type":
                if json_type:  # a second content type: leave the ambiguity to the stack
                    return False
                json_type = value.lower() in _JSON
                if not json_type:
                    return False
            elif name == b"content-length":
                try:
                    if int(value) > self.limit:
                        return False
                except ValueError:
                    return False
        return json_type

    async def _read(self, receive: Receive) -> tuple[bytes, bool]:
        """The body, and whether it is all there (False: the client went away, or it outgrew the limit)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), False
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > self.limit:
                return b"".join(chunks), False
            if not message.get("more_body", False):
                return b"".join(chunks), True

    def _take(self, state, body: bytes):
        """(KB lease, KB, question, top_k, session id) for a question that will be answered, else None."""
        try:
            parsed = AskRequest.model_validate_json(body)
            question, top_k = checked(parsed, state.settings)
        except (ValidationError, HTTPException):
            return None
        lease = state.holder.lease()
        try:
            kb = lease.__enter__()
        except KBNotReady:
            return None
        return lease, kb, question, top_k, parsed.session_id


def install(app: FastAPI) -> None:
    """Put the shortcut inside Starlette's error middleware, in front of everything else."""
    build = app.build_middleware_stack

    def build_with_shortcut() -> ASGIApp:
        outer = build()  # ServerErrorMiddleware, wrapping the user middleware, exceptions and router
        outer.app = AskShortcut(app, outer.app)
        return outer

    app.build_middleware_stack = build_with_shortcut  # type: ignore[method-assign]
