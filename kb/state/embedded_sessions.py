"""The embedded backend's conversations: a SQLite table in the data folder (sessions.sqlite), shared by every
worker process on the machine, so a follow-up keeps its context whichever worker answers it.

Conversations are short-lived and not backed up: a commit waits for no disk flush (WAL, synchronous=NORMAL),
and a write that finds the table locked for longer than TIMEOUT_SECONDS leaves the conversation in memory
(kb/state/session_stores.py) rather than hold up the answer.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from kb.state.base import StateUnavailable
from kb.state.session_stores import TIMEOUT_SECONDS, TableSessionStore

SCHEMA = ("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, turns TEXT NOT NULL, touched REAL NOT NULL)",
          "CREATE INDEX IF NOT EXISTS sessions_touched ON sessions (touched)")


class SQLiteSessionStore(TableSessionStore):
    def __init__(self, path: Path, ttl_seconds: int = 1800, max_sessions: int = 10_000, max_turns: int = 4):
        super().__init__(ttl_seconds, max_sessions, max_turns)
        self.path = Path(path)
        self._conn_lock = threading.Lock()
        self._opened: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        """The connection, opened at the first conversation (a command that answers none makes no file); the
        caller holds _conn_lock."""
        if self._opened is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=TIMEOUT_SECONDS,
                                   isolation_level=None)  # timeout: how long a statement waits for a lock
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                for statement in SCHEMA:
                    conn.execute(statement)
            except BaseException:
                conn.close()
                raise
            self._opened = conn
        return self._opened

    def _read(self, session_id: str, now: float) -> list[dict] | None:
        try:
            with self._conn_lock:
                rows = self._conn().execute(  # fetchall: the statement ends, and with it the write
                    "UPDATE sessions SET touched = ? WHERE id = ? AND touched > ? RETURNING turns",
                    (now, session_id, now - self.ttl)).fetchall()
        except (sqlite3.Error, OSError) as e:
            raise StateUnavailable(f"conversations in {self.path}: {e}") from e
        return json.loads(rows[0][0]) if rows else None

    def _write(self, session_id: str, turns: list[dict], now: float) -> None:
        text = json.dumps(turns, ensure_ascii=False)
        try:
            with self._conn_lock:
                conn = self._conn()
                conn.execute("INSERT INTO sessions (id, turns, touched) VALUES (?, ?, ?) ON CONFLICT (id)"
                             " DO UPDATE SET turns = excluded.turns, touched = excluded.touched",
                             (session_id, text, now))
                if self._prune_due():
                    conn.execute("DELETE FROM sessions WHERE touched < ? OR id IN (SELECT id FROM sessions"
                                 " ORDER BY touched DESC LIMIT -1 OFFSET ?)", (now - self.ttl, self.max_sessions))
        except (sqlite3.Error, OSError) as e:
            raise StateUnavailable(f"conversations in {self.path}: {e}") from e

    def close(self) -> None:
        with self._conn_lock:
            if self._opened is not None:
                self._opened.close()
                self._opened = None
