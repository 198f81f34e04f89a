"""The sites that embed the widget, as every request sees them: which origins may call the API (KB_CORS_ORIGINS
and every registered site's origins) and each site's signing secret.

Read from the SiteStore at most every REFRESH_SECONDS (the CORS check runs on the event loop for every
cross-origin request); a change made through this process is seen at once, one made through another worker
within REFRESH_SECONDS.
"""
from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from bot.state.access import Site, SiteStore

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0


def checked_origin(origin: str) -> str:
    """`scheme://host[:port]` as a browser sends it in Origin; a bilingual ValueError for anything else."""
    origin = origin.strip().rstrip("/")
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or "@" in parts.netloc:
        raise ValueError(f"来源格式不对：要像 https://shop.example.com 这样（协议 + 域名 + 可选端口） / not an origin: "
                         f"{origin!r}; expected e.g. https://shop.example.com (scheme, host, optional port)")
    return origin


class SiteDirectory:
    def __init__(self, static_origins: list[str]):
        self.static = frozenset(static_origins)
        self.store: SiteStore | None = None  # set when the service's records are open (the app's lifespan)
        self._sites: dict[str, Site] = {}
        self._origins: frozenset[str] = frozenset()
        self._read_at = 0.0
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read the sites now (after a change through this process)."""
        if self.store is None:
            return
        try:
            sites = {s.id: s for s in self.store.list()}
        except Exception:  # noqa: BLE001 - keep the last known sites; try again at the next request
            log.exception("could not read the widget sites")
            return
        with self._lock:
            self._sites = sites
            self._origins = frozenset(o for s in sites.values() for o in s.origins)
            self._read_at = time.monotonic()

    def _current(self) -> None:
        if time.monotonic() - self._read_at > REFRESH_SECONDS:
            self.refresh()

    def site(self, site_id: str) -> Site | None:
        self._current()
        return self._sites.get(site_id)

    def allows(self, origin: str) -> bool:
        """Whether a page of this origin may call the API."""
        if "*" in self.static or origin in self.static:
            return True
        self._current()
        return origin in self._origins


class SiteCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with the allowed origins read from the directory at each request."""

    def __init__(self, app: ASGIApp, directory: SiteDirectory, **options):
        super().__init__(app, allow_origins=[], **options)
        self.directory = directory

    def is_allowed_origin(self, origin: str) -> bool:
        return self.directory.allows(origin)
