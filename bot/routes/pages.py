"""Pages: agents' chat, the embeddable widget and its demo, editors' admin, offline API docs."""
from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

STATIC = Path(__file__).resolve().parent.parent / "static"

# /widget.js is assembled from the chat page's own modules and the widget's shell, so that both render answers
# from one source. The scripts run in one function scope, in this order; the styles become WIDGET_CSS.
WIDGET_SCRIPTS = ("dom.js", "api.js", "answer-view.js", "widget-identity.js", "widget-main.js")
WIDGET_STYLES = ("palette.css", "answer.css", "widget.css")
# Any page may load the widget and ask whether its origin may call the API.
OPEN_TO_ALL_ORIGINS = {"Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"}

router = APIRouter(include_in_schema=False)


def swagger_dir() -> Path | None:
    """Swagger UI files bundled by the `fastapi-offline` package, when installed (no CDN)."""
    spec = find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "static"
    return folder if (folder / "swagger-ui-bundle.js").exists() else None


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8")


@router.get("/")
async def chat_page() -> FileResponse:
    return _page("index.html")


@router.get("/admin")
async def admin_page() -> FileResponse:
    return _page("admin.html")


@router.get("/widget-demo")
async def widget_demo() -> FileResponse:
    return _page("widget-demo.html")


def widget_script() -> str:
    """The widget as one script for `<script src=".../widget.js">` on any site: nothing leaks into the page."""
    css = "\n".join((STATIC / name).read_text(encoding="utf-8") for name in WIDGET_STYLES)
    scripts = "\n".join((STATIC / name).read_text(encoding="utf-8") for name in WIDGET_SCRIPTS)
    return (f"/*! 坐席知识库助手 widget: {' + '.join(WIDGET_SCRIPTS)}, bundled by bot/routes/pages.py */\n"
            f"(function () {{\n\"use strict\";\nvar WIDGET_CSS = {json.dumps(css)};\n{scripts}\n}})();\n")


@router.get("/widget.js")
async def widget_js() -> Response:
    return Response(
        widget_script(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", **OPEN_TO_ALL_ORIGINS},
    )


@router.get("/widget-access")
async def widget_access(request: Request) -> JSONResponse:
    """Whether the page embedding the widget may call the API (its origin is in KB_CORS_ORIGINS or a registered
    site's, or is this service's own). The browser hides why a refused cross-origin call failed; the widget asks here to tell
    "this site is not authorised" from "the service is down"."""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    allowed = origin is None or origin == own or request.app.state.site_directory.allows(origin)
    return JSONResponse({"origin": origin, "allowed": allowed}, headers={"Cache-Control": "no-store", **OPEN_TO_ALL_ORIGINS})


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


@router.get("/docs")
async def docs() -> Response:
    if swagger_dir() is not None:
        return _page("swagger.html")
    return _page("apidocs.html")
