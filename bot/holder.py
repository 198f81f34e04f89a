"""Holds the KnowledgeBase currently served and swaps in a new one without failing requests in flight.

Every request *leases* the KB it starts with. A swap only changes the holder's reference; the old
KnowledgeBase is closed once its last lease is returned (or at shutdown). The encoder follows the served
version: a version embedded with another model (one tuned on the labels, or the base model again) comes
with its own encoder (`KnowledgeBase.open`), which becomes the holder's; an encoder that no KB still held
uses any more is closed with the last of them (unless the service was given it).
"""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)


class KBNotReady(Exception):
    """No knowledge base is loaded (none built yet, or still loading)."""


class KBHolder:
    def __init__(self, shared_encoder: Any | None = None) -> None:
        """shared_encoder: a model the service was given (tests, several apps in one process): never closed."""
        self._shared = shared_encoder
        self._lock = threading.Lock()
        self._kb: Any | None = None
        self._leases: dict[int, int] = {}  # id(kb) -> active leases
        self._retired: dict[int, Any] = {}  # id(kb) -> kb waiting for its leases to end
        self.error: str | None = None  # why no KB is loaded
        self.encoder: Any | None = None  # the embedding model, kept even when no version is loaded

    @property
    def kb(self) -> Any | None:
        return self._kb

    @property
    def ready(self) -> bool:
        return self._kb is not None

    @contextlib.contextmanager
    def lease(self) -> Iterator[Any]:
        with self._lock:
            kb = self._kb
            if kb is None:
                raise KBNotReady(self.error or "知识库尚未加载 / knowledge base not loaded")
            self._leases[id(kb)] = self._leases.get(id(kb), 0) + 1
        try:
            yield kb
        finally:
            self._release(kb)

    def _release(self, kb: Any) -> None:
        to_close, unused = None, None
        with self._lock:
            n = self._leases.get(id(kb), 1) - 1
            if n <= 0:
                self._leases.pop(id(kb), None)
                to_close = self._retired.pop(id(kb), None)
                unused = self._unused_encoder(to_close)
            else:
                self._leases[id(kb)] = n
        if to_close is not None:
            self._close(to_close, unused)

    def _unused_encoder(self, leaving: Any | None) -> Any | None:
        """The encoder of a KB being closed, if neither the holder nor any other KB it holds uses it.
        With the lock held."""
        enc = getattr(leaving, "encoder", None)
        if enc is None or enc is self.encoder or enc is self._shared:
            return None
        others = [self._kb, *self._retired.values()]
        return None if any(getattr(k, "encoder", None) is enc for k in others if k is not leaving) else enc

    def swap(self, new_kb: Any) -> Any | None:
        """Serve `new_kb` from now on; the previous KB is closed when its last request ends."""
        to_close, unused = None, None
        with self._lock:
            old, self._kb = self._kb, new_kb
            self.error = None
            enc = getattr(new_kb, "encoder", None)
            if enc is not None:
                self.encoder = enc
            if old is not None and old is not new_kb:
                if self._leases.get(id(old)):
                    self._retired[id(old)] = old
                else:
                    to_close = old
                    unused = self._unused_encoder(old)
        if to_close is not None:
            self._close(to_close, unused)
        return old

    def close(self) -> None:
        with self._lock:
            kbs = [self._kb, *self._retired.values()]
            self._kb = None
            self._retired.clear()
            self._leases.clear()
        for kb in kbs:
            if kb is not None:
                self._close(kb)

    @staticmethod
    def _close(kb: Any, unused_encoder: Any | None = None) -> None:
        try:
            # The model and session store are shared between versions (kb.reload()); close() of one
            # version must only release what that version owns. Its encoder goes too when nothing uses it.
            kb.close()
            if unused_encoder is not None:
                unused_encoder.close()
        except Exception:  # pragma: no cover - closing must never break a request
            log.exception("closing an old knowledge base failed")
