"""Pages: agents' chat, the embeddable widget and its demo, editors' admin, offline API docs."""
from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

STATIC = Path(__file__).resolve().parent.parent / "static"

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


@router.get("/widget.js")
async def widget_js() -> Response:
    return FileResponse(
        STATIC / "widget.js",
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


@router.get("/docs")
async def docs() -> Response:
    if swagger_dir() is not None:
        return _page("swagger.html")
    return _page("apidocs.html")
