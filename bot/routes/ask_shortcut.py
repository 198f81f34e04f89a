"""POST /v1/ask without FastAPI's per-request machinery, for the requests that need none of it.

FastAPI's route handling (body field solving, dependency graph, exit stacks, content-type parsing) costs
~60 us a request warm and ~0.35 ms right after a model run has evicted the caches, which is every request:
a sixth of what the service adds to the bare encode at concurrency 1. This ASGI endpoint sits in front of
the typed route in `bot/routes/ask.py` and takes a request only when it is a JSON body that the same
pydantic model accepts; it then runs the same steps the typed route runs (rate limit, KB lease, the
deployment's limits, answer, log, metrics) through the same functions. Everything else - wrong content
type, broken JSON, a field the model refuses - is handed to the typed route untouched, so every error a
client can see is the typed route's own, and the OpenAPI schema is still generated from it.

Errors raised here (429, 503, 422 of the limits) go to the app's exception handlers like the route's.
"""
from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.routing import Match, Route, Router
from starlette.types import Message, Receive, Scope, Send

from bot.deps import leased_kb, rate_limited
from bot.routes.ask import answered
from bot.schemas import AskRequest

PATH = "/v1/ask"
DECLINED = "kefu.ask_shortcut_declined"  # scope key: the router passes this request on to the typed route
_JSON = (b"application/json", b"application/json; charset=utf-8")


def _json_content_type(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.lower() in _JSON
    return False


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to answer
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the already read body to the typed route, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class AskShortcut:
    def __init__(self, router: Router):
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        parsed = None
        if _json_content_type(scope):
            try:
                parsed = AskRequest.model_validate_json(body)
            except ValidationError:
                pass
        if parsed is None:  # routed again, past this route: to the typed one
            scope[DECLINED] = True
            await self.router(scope, _replay(body, receive), send)
            return
        state = scope["app"].state.service
        await rate_limited(Request(scope), state)
        with leased_kb(state) as kb:
            response = await answered(kb, state, parsed)
        await response(scope, receive, send)


class _ShortcutRoute(Route):
    def matches(self, scope: Scope):
        if scope.get(DECLINED):
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match is Match.FULL:  # FastAPI's router names only its own routes; the metrics label needs it
            child["route"] = self
        return match, child


def install(app) -> None:
    """Put the shortcut first in the app's router (the router takes the first full match: the typed
    POST /v1/ask comes later, with every other route)."""
    app.router.routes.insert(0, _ShortcutRoute(PATH, AskShortcut(app.router), methods=["POST"],
                                               include_in_schema=False))
