"""Security basics: response headers (CSP without inline script), request body limits, a per-client rate limit."""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Paths whose responses may be loaded from any origin (the widget's script).
CROSS_ORIGIN_PATHS = ("/widget.js",)
UPLOAD_PATH_PREFIX = ("/v1/admin/documents", "/v1/admin/labels/import")  # bodies up to KB_MAX_UPLOAD_BYTES
MULTIPART_OVERHEAD = 64 * 1024


def page_csp(frame_ancestors: str, docs: bool = False) -> str:
    style = "'self' 'unsafe-inline'" if docs else "'self'"
    return (
        "default-src 'self'; "
        "script-src 'self'; "
        f"style-src {style}; "
        "img-src 'self' data:; "
        "font-src 'self'; "
        "connect-src 'self'; "
        "object-src 'none'; "
        "base-uri 'none'; "
        "form-action 'self'; "
        f"frame-ancestors {frame_ancestors or chr(39) + 'none' + chr(39)}"
    )


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, frame_ancestors: str):
        self.app = app
        self.csp = page_csp(frame_ancestors)
        self.docs_csp = page_csp(frame_ancestors, docs=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(message, path, self.csp, self.docs_csp)
            await send(message)

        await self.app(scope, receive, send_wrapper)


def add_security_headers(start: Message, path: str, csp: str, docs_csp: str) -> None:
    """The headers every response gets."""
    headers = MutableHeaders(scope=start)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if path in CROSS_ORIGIN_PATHS:
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    else:
        headers.setdefault("Cross-Origin-Resource-Policy", "same-site")
    ctype = headers.get("content-type", "")
    if ctype.startswith("text/html"):
        headers["Content-Security-Policy"] = docs_csp if path.startswith("/docs") else csp
        headers.setdefault("Cache-Control", "no-cache")


def _json_error(status: int, detail: str) -> tuple[Message, Message]:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    return (
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        },
        {"type": "http.response.body", "body": body},
    )


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Rejects request bodies over the limit with 413: by Content-Length up front, and while streaming."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int):
        self.app = app
        self.max_body = max_body_bytes
        self.max_upload = max_upload_bytes + MULTIPART_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        upload = scope.get("path", "").startswith(UPLOAD_PATH_PREFIX)
        limit = self.max_upload if upload else self.max_body
        what = "上传文件过大 / upload too large" if upload else "请求过大 / request body too large"
        message_detail = f"{what}: limit {limit - (MULTIPART_OVERHEAD if upload else 0)} bytes"
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    if int(v) > limit:
                        start, body = _json_error(413, message_detail)
                        await send(start)
                        await send(body)
                        return
                except ValueError:
                    pass
        received = 0
        started = False
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                # The framework turned BodyTooLarge into its own error (e.g. FastAPI's 400 "error parsing
                # the body"): answer 413 instead, and drop the framework's response.
                if message["type"] == "http.response.start":
                    started = True
                    start, body = _json_error(413, message_detail)
                    await send(start)
                    await send(body)
                return
            if exceeded:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except BodyTooLarge:
            if not started:
                start, body = _json_error(413, message_detail)
                await send(start)
                await send(body)


class RateLimiter:
    """A token bucket per client address: `per_minute` requests, refilled continuously."""

    def __init__(self, per_minute: int, max_clients: int = 10_000):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client: str) -> tuple[bool, float]:
        """(allowed, seconds until the next token)."""
        if self.capacity <= 0:
            return True, 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return allowed, 0.0 if allowed else (1.0 - tokens) / self.rate
