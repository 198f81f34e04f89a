"""Writes that fail because the disk holding the data folder (or the database) is full, or because the
database cannot be reached.

Such a write is refused with a clear bilingual 507 (a full disk) or 503 (the database is down; nothing
half-stored), the admin status says so until a write succeeds again, and the log says it once per interval
instead of at every attempt (the question log retries five times a second). Questions keep being answered:
their log waits in memory.
"""
from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kb.state import StateUnavailable

log = logging.getLogger(__name__)

DISK_FULL = "磁盘已满，未能保存，请稍后再试或联系管理员 / the disk holding the service's data is full: nothing was saved; " \
            "try again later or tell the administrator"
DISK_FULL_STATUS = "磁盘已满：问答照常，但反馈、上传和索引无法保存 / the disk is full: questions are answered, but " \
                   "feedback, uploads and re-indexes cannot be stored"
JOB_DISK_FULL = "磁盘已满，索引未完成；正在服务的版本不变 / the disk is full: the re-index did not finish; the version " \
                "being served is unchanged"
JOB_FAILED = "索引任务出错 / the job failed"
STATE_UNAVAILABLE = "数据库暂时不可用，未能保存，请稍后再试 / the database is unavailable just now: nothing was " \
                    "saved; try again in a few seconds"
RETRY_AFTER_SECONDS = 5
LOG_INTERVAL_SECONDS = 60.0
LOW_SPACE_BYTES = 1024 * 1024  # below this much room for the service, the disk counts as full
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_SQLITE_FULL = 13
_POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


class DiskFull(Exception):
    """A write the data folder's disk had no room for."""

    def __init__(self, what: str):
        super().__init__(f"{DISK_FULL} ({what})")
        self.what = what


def is_disk_full(exc: BaseException | None) -> bool:
    """True for ENOSPC / EDQUOT, SQLite's 'database or disk is full' and PostgreSQL's SQLSTATE 53100, also
    as the cause of another error."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DiskFull):
            return True
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL
                                               or "disk is full" in str(exc)):
            return True
        if getattr(exc, "sqlstate", None) == _POSTGRES_DISK_FULL:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def job_error(exc: BaseException) -> str:
    """What an editor reads about a job that failed on something unexpected (in both languages)."""
    if is_disk_full(exc):
        return JOB_DISK_FULL
    return f"{JOB_FAILED}: {type(exc).__name__}: {exc}"


class StorageHealth:
    """Whether writes to the data folder work: the last failure until a write succeeds again, and a
    warning in the log at most once per `interval` while they fail (with how many failed meanwhile)."""

    def __init__(self, interval: float = LOG_INTERVAL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._problem: str | None = None
        self._since: float | None = None  # wall-clock time of the first failure in a row
        self._logged_at: float | None = None
        self._unlogged = 0

    def failed(self, what: str, exc: BaseException) -> None:
        full = is_disk_full(exc)
        with self._lock:
            if self._problem is None:
                self._since = time.time()
            self._problem = DISK_FULL_STATUS if full else f"{type(exc).__name__}: {exc}"
            now = self.clock()
            if self._logged_at is not None and now - self._logged_at < self.interval:
                self._unlogged += 1
                return
            self._logged_at, skipped, self._unlogged = now, self._unlogged, 0
        more = f" ({skipped} more failed writes since the last message)" if skipped else ""
        if full:
            log.warning("disk full: could not write %s%s; retrying, questions are still answered", what, more)
        else:
            log.warning("could not write %s: %s: %s%s", what, type(exc).__name__, exc, more)

    def succeeded(self) -> None:
        if self._problem is None:  # the usual case: no lock taken
            return
        with self._lock:
            if self._problem is None:
                return
            self._problem, self._since, self._logged_at, skipped = None, None, None, self._unlogged
            self._unlogged = 0
        log.warning("writes to the data folder work again (%d failed writes were not logged one by one)", skipped)

    @property
    def failing(self) -> bool:
        return self._problem is not None

    @property
    def disk_full(self) -> bool:
        """The last write failed for want of room (until one succeeds)."""
        return self._problem == DISK_FULL_STATUS

    def report(self, folder: Path) -> dict[str, Any]:
        try:
            st = os.statvfs(folder)
            free = st.f_bavail * st.f_frsize
        except OSError:
            free = None
        with self._lock:
            problem, since = self._problem, self._since
        full = problem == DISK_FULL_STATUS or (free is not None and free < LOW_SPACE_BYTES)
        return {"ok": problem is None and not full, "disk_full": full, "free_bytes": free,
                "problem": problem or (DISK_FULL_STATUS if full else None), "since": since}


def install_disk_full_handlers(app: FastAPI) -> None:
    """507 with the bilingual message for any request whose write found the disk full (logged once per
    interval by whoever recorded it); other errors of these types stay internal errors."""

    async def disk_full(request: Request, exc: Exception):
        if is_disk_full(exc):
            service = getattr(request.app.state, "service", None)
            if service is not None and not isinstance(exc, DiskFull):  # DiskFull: recorded where it was raised
                service.app_state.storage.failed(f"{request.method} {request.url.path}", exc)
            return JSONResponse({"detail": DISK_FULL}, status_code=507)
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "服务器内部错误 / internal server error"}, status_code=500)

    for kind in (DiskFull, OSError, sqlite3.Error):
        app.add_exception_handler(kind, disk_full)

    async def state_unavailable(request: Request, exc: Exception):
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": STATE_UNAVAILABLE}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    app.add_exception_handler(StateUnavailable, state_unavailable)
