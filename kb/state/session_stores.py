"""Where conversations are kept: a table every process shares (SQLite in the data folder, or PostgreSQL), so a
follow-up keeps its context whichever worker or replica answers it.

A conversation is on the question path, which must never wait for a store: while the table cannot be read or
written, conversations are kept in this process's memory (a follow-up then keeps its context only in the
process that answered before) and the table is tried again after RETRY_SECONDS.

    MemorySessionStore   this process's conversations, in an LRU dict (the fallback)
    TableSessionStore    the shared table, with that fallback; a backend supplies `_read` and `_write`
"""
from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from collections import OrderedDict

from kb.sessions import Session, Turn, new_session_id
from kb.state.base import SessionStore, StateUnavailable

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 0.5  # longest a question waits for the table (a connection, a lock) for its conversation
RETRY_SECONDS = 5.0  # after a failure, conversations stay in memory this long before the table is tried again


def turns_to_rows(turns: list[Turn]) -> list[dict]:
    return [{"question": t.question, "resolved": t.resolved, "passage_ids": t.passage_ids} for t in turns]


def turns_from_rows(rows: list[dict]) -> list[Turn]:
    return [Turn(t["question"], t["resolved"], list(t["passage_ids"])) for t in rows]


class MemorySessionStore(SessionStore):
    """This process's conversations, in an LRU dict."""

    def __init__(self, ttl_seconds: int = 1800, max_sessions: int = 10_000, max_turns: int = 4):
        self.ttl = ttl_seconds
        self.max_sessions = max_sessions
        self.max_turns = max_turns
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str | None) -> Session:
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            s = self._sessions.get(session_id) if session_id else None
            if s is not None and now - s.touched > self.ttl:
                del self._sessions[s.id]
                s = None
            if s is None:
                s = Session(new_session_id(session_id))
                self._sessions[s.id] = s
                while len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
            s.touched = now
            self._sessions.move_to_end(s.id)
            return s

    def record(self, session: Session, turn: Turn) -> None:
        with self._lock:
            session.turns.append(turn)
            del session.turns[: -self.max_turns]

    def _expire(self, now: float) -> None:
        while self._sessions:
            sid, s = next(iter(self._sessions.items()))
            if now - s.touched <= self.ttl:
                break
            del self._sessions[sid]


class TableSessionStore(SessionStore):
    """Conversations as rows (id, turns, touched: wall-clock seconds) of a table every process shares; in this
    process's memory while the table fails. A write is one statement (an upsert), so that under load a
    thread holding the table does not wait for the interpreter between statements while others queue behind
    it. Every `prune_every`-th write of a process also removes the expired rows and the least recently used
    beyond `max_sessions` (a walk over the whole index, ~0.25 ms at 10,000 rows). So the table holds at most
    max_sessions + prune_every - 1 rows per process: under 1 % over; an expired row left until then is never
    read (`_read` asks for the unexpired)."""

    def __init__(self, ttl_seconds: int = 1800, max_sessions: int = 10_000, max_turns: int = 4):
        self.ttl = ttl_seconds
        self.max_sessions = max_sessions
        self.max_turns = max_turns
        self.prune_every = max(1, max_sessions // 100)
        self.fallback = MemorySessionStore(ttl_seconds, max_sessions, max_turns)
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self._writes = 0  # to the table, by this process

    def _prune_due(self) -> bool:
        """A write: whether it also prunes the table."""
        with self._lock:
            self._writes += 1
            return self._writes % self.prune_every == 0

    @abstractmethod
    def _read(self, session_id: str, now: float) -> list[dict] | None:
        """The turns of the conversation unused since no longer than the TTL, its `touched` set to `now`; None
        when there is none. StateUnavailable when the table cannot be read."""

    @abstractmethod
    def _write(self, session_id: str, turns: list[dict], now: float) -> None:
        """Store the conversation's turns, touched `now`, and prune the table when `_prune_due()`.
        StateUnavailable when the table cannot be written."""

    def _usable(self) -> bool:
        return time.monotonic() >= self._retry_at

    def _failed(self, e: StateUnavailable) -> None:
        with self._lock:
            first = self._retry_at == 0.0 or time.monotonic() >= self._retry_at
            self._retry_at = time.monotonic() + RETRY_SECONDS
        if first:
            log.warning("conversations kept in memory for now: %s", e)

    def get(self, session_id: str | None) -> Session:
        if session_id is None or session_id != new_session_id(session_id):
            return Session(new_session_id(session_id))
        if not self._usable():
            return self.fallback.get(session_id)
        try:
            rows = self._read(session_id, time.time())
        except StateUnavailable as e:
            self._failed(e)
            return self.fallback.get(session_id)
        with self._lock:
            self._retry_at = 0.0
        return Session(session_id, turns_from_rows(rows) if rows else [])

    def record(self, session: Session, turn: Turn) -> None:
        session.turns.append(turn)
        del session.turns[: -self.max_turns]
        if self._usable():
            try:
                self._write(session.id, turns_to_rows(session.turns), time.time())
                return
            except StateUnavailable as e:
                self._failed(e)
        self.fallback.get(session.id).turns[:] = session.turns
