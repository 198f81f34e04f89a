"""JSON errors with a Chinese + English message for what FastAPI would answer in English only
(unknown route 404, wrong method 405, ...), and a JSON 500 that never shows internals."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_DEFAULTS = {
    400: "请求无效 / bad request",
    401: "需要认证 / authentication required",
    403: "没有权限 / forbidden",
    404: "找不到这个地址 / not found",
    405: "不支持这个请求方法 / method not allowed",
    406: "不支持的响应格式 / not acceptable",
    413: "请求过大 / request body too large",
    415: "不支持的内容类型 / unsupported media type",
    429: "请求太频繁，请稍后再试 / too many requests",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail
        if isinstance(detail, str) and exc.status_code in _DEFAULTS and detail.isascii():
            # Starlette's own English phrase ("Not Found", "Method Not Allowed"): say it in both languages.
            detail = _DEFAULTS[exc.status_code]
            if exc.status_code == 404:
                detail = f"{detail}: {request.url.path}"
            elif exc.status_code == 405:
                allowed = (exc.headers or {}).get("Allow", "")
                detail = f"{detail}: {request.method}" + (f" (allowed: {allowed})" if allowed else "")
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "服务器内部错误 / internal server error"}, status_code=500)
