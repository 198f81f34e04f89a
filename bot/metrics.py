"""Prometheus metrics, one registry per app (so several apps can live in one process, e.g. in tests)."""
from __future__ import annotations

import time
from pathlib import PureWindowsPath

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "kb_http_requests", "HTTP requests by route, method and status", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "kb_http_request_seconds", "HTTP request latency by route", ["route", "method"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.asks = Counter("kb_asks", "Questions answered, by whether the KB matched", ["matched"], registry=r)
        self.version = Info("kb_version", "The knowledge-base version being served", registry=r)
        self.passages = Gauge("kb_passages", "Passages in the served KB version", registry=r)
        self.documents = Gauge("kb_documents", "Documents in the served KB version", registry=r)
        self.ready = Gauge("kb_ready", "1 when a KB version is loaded", registry=r)
        self.reindex_runs = Counter("kb_reindex_runs", "Re-index jobs by result", ["result"], registry=r)
        self.reindex_seconds = Histogram(
            "kb_reindex_seconds", "Re-index job duration", buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800), registry=r
        )
        for result in ("succeeded", "failed", "gated"):
            self.reindex_runs.labels(result)

    def set_kb(self, kb) -> None:
        if kb is None:
            self.ready.set(0)
            self.passages.set(0)
            self.documents.set(0)
            return
        manifest = getattr(kb, "manifest", None) or {}
        counts = manifest.get("counts") or {}
        try:
            stats = kb.stats()
        except Exception:  # noqa: BLE001
            stats = {}
        self.version.info(
            {
                "version": str(kb.version_id),
                # The model's name only: its location on the server is nobody's business (/v1/info hides it too).
                "model": model_name(str(manifest.get("model", ""))),
                "created_at": str(manifest.get("created_at", "")),
            }
        )
        self.passages.set(float(stats.get("passages", counts.get("passages", 0)) or 0))
        self.documents.set(float(stats.get("documents", counts.get("documents", 0)) or 0))
        self.ready.set(1)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def model_name(model: str) -> str:
    """'/srv/kb/data/models/multilingual-e5-small' (or a Windows path, or a hub name) -> 'multilingual-e5-small'."""
    return PureWindowsPath(model.rstrip("/\\")).name


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (never the raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path_format", None) or getattr(route, "path", None)
            if not path:
                path = "static" if scope.get("path", "").startswith("/static/") else "unmatched"
            self.metrics.observe_request(path, scope.get("method", "GET"), status, time.perf_counter() - start)
