"""The FastAPI application: `create_app(settings)`; the KB and the model are loaded in the lifespan."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from bot.admin_auth import check_admin_token
from bot.auth.audit import AuditMiddleware
from bot.auth.first_admin import make_first_admin
from bot.auth.site_directory import SiteCORSMiddleware, SiteDirectory
from bot.auth.widget_token import HEADER as WIDGET_TOKEN_HEADER
from bot.auth.sessions import LoginGuard
from bot.deps import ServiceState
from bot.errors import install_error_handlers
from bot.holder import KBHolder
from bot.jobs import JobRunner
from bot.metrics import Metrics, MetricsMiddleware
from bot.routes import admin, analytics, ask, audit, auth, labels, ops, pages, sites, users
from bot.security import BodyLimitMiddleware, RateLimiter, SecurityHeadersMiddleware
from bot.state import open_app_state
from bot.storage import install_disk_full_handlers
from kb.settings import Settings
from kb.state import Content, backend, open_content

log = logging.getLogger(__name__)

# How long a worker waits for news of a version another process published (multi-worker serving): the
# embedded registry reads its CURRENT file at this pace.
REFRESH_SECONDS = 5.0

DESCRIPTION = """
坐席知识库助手 API — an offline retrieval assistant: ask a question, get the matching 原则 (principles)
and 案例 (cases) quoted from training documents, each with its source, or `matched: false`.

* Agents: `POST /v1/ask`, `POST /v1/feedback`, `GET /v1/passages/{id}`.
* Editors: `/v1/admin/...`, signed in (`POST /v1/auth/login`: a session cookie, and `X-CSRF-Token` on every
  write) or with `Authorization: Bearer <API token or KB_ADMIN_TOKEN>`; each route needs a role (viewer, editor,
  admin).
* Operations: `/healthz`, `/readyz`, `/metrics`.
"""


def _kb_opener(content: Content) -> Callable[..., Any]:
    """How the service opens the current version: on the service's stores."""
    def open_kb(settings: Settings, encoder: Any | None = None):
        from kb.knowledge_base import KnowledgeBase

        return KnowledgeBase.open(settings, encoder=encoder, content=content)

    return open_kb


def _load_encoder(settings: Settings):
    from kb.encoders import Encoder

    return Encoder.from_settings(settings)


def load_kb(state: ServiceState, open_kb: Callable[..., Any]) -> None:
    """Open the current published version; without one (or one this process may not serve: embedded with a
    tuned model under KB_USE_LABELS=false), keep the base model so editors can build one."""
    try:
        kb = open_kb(state.settings, state.holder.encoder)
    except Exception as e:  # noqa: BLE001 - the service still starts: /readyz says why
        name = type(e).__name__
        state.holder.error = f"{name}: {e}"
        log.warning("knowledge base not loaded: %s", state.holder.error)
        if name in ("NoVersionError", "VersionModelError") and state.holder.encoder is None:
            try:
                state.holder.encoder = _load_encoder(state.settings)
            except Exception as e2:  # noqa: BLE001
                log.warning("embedding model not loaded either: %s", e2)
        state.metrics.set_kb(None)
        return
    state.holder.swap(kb)
    state.metrics.set_kb(kb)
    log.info("serving knowledge-base version %s", kb.version_id)


def refresh_if_published_elsewhere(state: ServiceState, current: str | None, open_kb: Callable[..., Any]) -> None:
    """Another worker, replica (or `kb ingest`) published `current`, a newer version: swap it in here too;
    without a version loaded yet (none published at start, or the database was down), load it."""
    kb = state.holder.kb
    if kb is None:
        if current:
            load_kb(state, open_kb)
        return
    if state.jobs.running_here():
        return
    if current and current != kb.version_id:
        try:
            new_kb = kb.reload()
        except Exception:  # noqa: BLE001
            log.exception("reloading version %s failed", current)
            return
        state.holder.swap(new_kb)
        state.metrics.set_kb(new_kb)
        log.info("now serving version %s (published by another process)", new_kb.version_id)


def watch_versions(state: ServiceState, stopped: threading.Event, open_kb: Callable[..., Any]) -> None:
    """Until `stopped`: wait for versions other processes publish and serve them (a daemon thread)."""
    while not stopped.is_set():
        try:
            current = state.content.versions.wait_for_publish(REFRESH_SECONDS)
        except Exception:  # noqa: BLE001 - e.g. the registry is unreachable: try again later
            log.debug("waiting for a published version failed", exc_info=True)
            stopped.wait(REFRESH_SECONDS)
            continue
        if stopped.is_set():
            return
        try:
            refresh_if_published_elsewhere(state, current, open_kb)
        except Exception:  # noqa: BLE001
            log.exception("version refresh failed")


def _cleanup_leftovers(state: ServiceState) -> None:
    """What a killed build or upload left behind (half-built versions, temp files) goes at every start."""
    try:
        removed = state.content.remove_leftovers(state.settings.keep_versions)
        if removed:
            log.warning("removed leftovers of an interrupted build: %s", ", ".join(removed))
    except Exception:  # noqa: BLE001 - never stop the service from starting
        log.exception("cleaning up leftovers failed")


def create_app(
    settings: Settings | None = None,
    *,
    encoder: Any | None = None,
    open_kb: Callable[..., Any] | None = None,
) -> FastAPI:
    """The service.

    `encoder`: an already loaded embedding model to share (tests, several apps in one process); by
    default the model is loaded in the lifespan. `open_kb(settings, encoder)` may be given to serve
    another KnowledgeBase-like object.
    """
    settings = settings or Settings()
    check_admin_token(settings)
    backend(settings)  # an unsupported KB_DATABASE_URL is refused here, before anything starts

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app_state = open_app_state(settings)
        state = ServiceState(
            settings=settings,
            holder=KBHolder(shared_encoder=encoder),
            jobs=JobRunner(store=app_state.jobs),
            app_state=app_state,
            content=open_content(settings),
            metrics=metrics,
            limiter=RateLimiter(settings.rate_limit_per_minute),
            login_guard=LoginGuard.from_settings(settings, app_state.attempts),
        )
        state.holder.encoder = encoder
        app.state.service = state
        await run_in_threadpool(make_first_admin, app_state, settings)
        site_directory.store = app_state.sites
        await run_in_threadpool(site_directory.refresh)
        await run_in_threadpool(state.jobs.recover)
        await run_in_threadpool(_cleanup_leftovers, state)
        opener = open_kb or _kb_opener(state.content)
        await run_in_threadpool(load_kb, state, opener)
        stopped = threading.Event()
        if open_kb is None:
            threading.Thread(target=watch_versions, args=(state, stopped, opener), name="version-watch",
                             daemon=True).start()
        try:
            yield
        finally:
            stopped.set()
            state.jobs.wait(timeout=60)
            state.ask_pool.shutdown(wait=True)
            state.holder.close()
            state.app_state.close()
            state.content.close()

    metrics = Metrics()
    app = FastAPI(
        title="坐席知识库助手 / Customer-service knowledge base",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    site_directory = app.state.site_directory = SiteDirectory(list(settings.cors_origins))
    install_error_handlers(app)
    install_disk_full_handlers(app)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = []
        for e in exc.errors():
            e = {k: v for k, v in e.items() if k in ("loc", "msg", "type")}
            errors.append(e)
        summary = "; ".join(f"{'.'.join(str(x) for x in e['loc'] if x != 'body')}: {e['msg']}" for e in errors)
        return JSONResponse({"detail": errors, "message": f"请求无效 / invalid request: {summary}"}, 422)

    def openapi_with_limits() -> dict:
        """The schema shows this deployment's limits (question length, top_k), not the model's hard caps."""
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            props = schema.get("components", {}).get("schemas", {}).get("AskRequest", {}).get("properties", {})
            if "question" in props:
                props["question"]["maxLength"] = settings.max_question_chars
            if "top_k" in props:
                props["top_k"]["maximum"] = settings.max_top_k
                props["top_k"]["default"] = settings.top_k
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi_with_limits  # type: ignore[method-assign]

    app.include_router(ask.router)
    app.include_router(admin.router)
    app.include_router(auth.router)
    app.include_router(users.router)
    app.include_router(audit.router)
    app.include_router(sites.router)
    app.include_router(analytics.router)
    app.include_router(labels.router)
    app.include_router(ops.router)
    app.include_router(pages.router)
    swagger = pages.swagger_dir()
    if swagger is not None:  # before /static, which would otherwise match first
        app.mount("/static/swagger", StaticFiles(directory=swagger), name="swagger")
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")

    # Middleware: the last added runs first.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes,
                       max_upload_bytes=settings.max_upload_bytes)
    # Other sites' pages (the widget): KB_CORS_ORIGINS and every registered site's origins.
    app.add_middleware(
        SiteCORSMiddleware,
        directory=site_directory,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", WIDGET_TOKEN_HEADER],
        max_age=600,
    )
    app.add_middleware(AuditMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=settings.frame_ancestors)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app

