"""The embedded backend of the service's records: one SQLite database (WAL) in the data folder, app.sqlite.

Editors read it to see what agents could not find. Writes are tiny and serialised by one lock; reads use
the same connection (SQLite in WAL mode lets other processes read while one writes). Every worker process
opens the same file, so they share the jobs; the job lock is an flock beside it (bot/state/file_lock.py).

With the disk full, writes fail with `DiskFull` (bot/storage.py: a 507 for the request) and queued
questions wait in memory (bot/state/ask_queue.py) until the disk has room again.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from bot.state.ask_queue import AskQueue
from bot.state.base import (AppState, AskedQuestion, AskerIdentity, AskLog, FeedbackRow, FeedbackStore, JobStore,
                            asked_question, feedback_row)
from bot.state.file_lock import FileJobLock
from bot.state.sqlite_access import (ACCESS_SCHEMA, SQLiteAccountStore, SQLiteApiTokenStore, SQLiteAuditLog,
                                     SQLiteLoginAttemptStore, SQLiteLoginSessionStore, SQLiteSiteStore)
from bot.state.review import SQLiteReviewDecisions
from bot.storage import DiskFull, StorageHealth, is_disk_full

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS asks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    question TEXT NOT NULL,
    matched INTEGER NOT NULL,
    confidence REAL,
    top_passage TEXT,
    top_title TEXT,
    top_doc TEXT,
    ms REAL,
    session_id TEXT,
    version TEXT
);
CREATE INDEX IF NOT EXISTS asks_unmatched ON asks (matched, ts);
CREATE INDEX IF NOT EXISTS asks_ts ON asks (ts);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    question TEXT NOT NULL,
    passage_id TEXT,
    helpful INTEGER NOT NULL,
    comment TEXT,
    session_id TEXT,
    version TEXT
);
CREATE INDEX IF NOT EXISTS feedback_ts ON feedback (helpful, ts);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL,
    pid INTEGER NOT NULL,
    updated REAL NOT NULL
);
"""
# Columns added to a table after its first release: a database made before them gets them at open.
ADDED_COLUMNS = {
    "asks": (("cited", "TEXT NOT NULL DEFAULT ''"), ("agent", "TEXT"), ("team", "TEXT"), ("site", "TEXT")),
    "feedback": (("agent", "TEXT"), ("team", "TEXT"), ("site", "TEXT")),
}


class SQLiteDatabase:
    """The connection the stores share, its lock, and whether writes to it work."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.storage = StorageHealth()
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
        self.conn.row_factory = sqlite3.Row
        with self.lock:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA busy_timeout=5000")
            self.conn.executescript(SCHEMA + ACCESS_SCHEMA)
            for table, columns in ADDED_COLUMNS.items():
                have = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
                for name, decl in columns:
                    if name not in have:
                        self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
            self.conn.commit()

    def write(self, sql: str, args: tuple, what: str) -> int:
        """One statement, committed; its row id. A full disk raises DiskFull (recorded in `storage`)."""
        return self.transaction(what, lambda conn: int(conn.execute(sql, args).lastrowid or 0))

    def read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    def transaction(self, what: str, statements: Callable[[sqlite3.Connection], T]) -> T:
        """`statements(conn)` in one transaction that holds the database's write lock from its start (BEGIN
        IMMEDIATE: no other process writes in between); a full disk raises DiskFull (recorded in `storage`)."""
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                result = statements(self.conn)
                self.conn.commit()
            except sqlite3.Error as e:
                self.conn.rollback()
                if is_disk_full(e):
                    self.storage.failed(what, e)
                    raise DiskFull(what) from e
                raise
            except BaseException:
                self.conn.rollback()
                raise
        self.storage.succeeded()
        return result

    def write_many(self, sql: str, rows: Iterable[tuple]) -> None:
        """All rows in one transaction, or none."""
        with self.lock:
            try:
                self.conn.executemany(sql, rows)
                self.conn.commit()
            except BaseException:
                self.conn.rollback()
                raise

    def journal_mode(self) -> str:
        return self.read("PRAGMA journal_mode")[0][0]

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class SQLiteAskLog(AskLog):
    _INSERT = ("INSERT INTO asks (ts, question, matched, confidence, top_passage, top_title, top_doc, ms,"
               " session_id, version, cited, agent, team, site) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")

    def __init__(self, db: SQLiteDatabase):
        self.db = db
        self.queue = AskQueue(self.insert, db.storage, (sqlite3.Error,))

    def insert(self, rows: list[AskedQuestion]) -> None:
        self.db.write_many(self._INSERT, rows)

    def log(self, answer: dict[str, Any], ms: float, who: AskerIdentity | None = None) -> None:
        self.queue.put(asked_question(answer, ms, who))

    def since(self, ts: float) -> list[dict[str, Any]]:
        self.queue.flush()
        rows = self.db.read("SELECT ts, question, matched, confidence, top_passage, cited, agent, team, site"
                            " FROM asks WHERE ts >= ? ORDER BY ts, id", (ts,))
        return [dict(r) for r in rows]

    def unanswered(self, limit: int) -> list[dict[str, Any]]:
        self.queue.flush()
        rows = self.db.read(
            "SELECT 'unanswered' AS type, id, ts, question, top_passage AS passage_id, NULL AS comment,"
            " confidence, version FROM asks WHERE matched = 0 ORDER BY ts DESC, id DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]

    def counts(self) -> dict[str, int]:
        self.queue.flush()
        asks, unanswered = self.db.read("SELECT COUNT(*), COALESCE(SUM(matched = 0), 0) FROM asks")[0]
        return {"asks": asks, "unanswered": unanswered, "asks_waiting": self.queue.waiting(),
                "asks_dropped": self.queue.dropped}

    def rows(self) -> Iterator[AskedQuestion]:
        self.queue.flush()
        return (AskedQuestion(*row) for row in self.db.read(
            f"SELECT {', '.join(AskedQuestion._fields)} FROM asks ORDER BY id"))

    def close(self) -> None:
        self.queue.close()


class SQLiteFeedbackStore(FeedbackStore):
    _INSERT = (f"INSERT INTO feedback ({', '.join(FeedbackRow._fields)})"
               f" VALUES ({', '.join('?' * len(FeedbackRow._fields))})")

    def __init__(self, db: SQLiteDatabase):
        self.db = db

    def add(self, question: str, passage_id: str | None, helpful: bool, comment: str | None,
            session_id: str | None = None, version: str | None = None, who: AskerIdentity | None = None) -> int:
        return self.db.write(
            self._INSERT, feedback_row(question, passage_id, helpful, comment, session_id, version, who), "feedback")

    def rows(self) -> Iterator[FeedbackRow]:
        return (FeedbackRow(*row) for row in self.db.read(
            f"SELECT {', '.join(FeedbackRow._fields)} FROM feedback ORDER BY id"))

    def insert(self, rows: list[FeedbackRow]) -> None:
        self.db.write_many(self._INSERT, rows)

    def since(self, ts: float) -> list[dict[str, Any]]:
        rows = self.db.read("SELECT ts, passage_id, helpful, agent, team FROM feedback WHERE ts >= ?"
                            " ORDER BY ts, id", (ts,))
        return [dict(r) for r in rows]

    def unhelpful(self, limit: int) -> list[dict[str, Any]]:
        rows = self.db.read(
            "SELECT 'feedback' AS type, id, ts, question, passage_id, comment, NULL AS confidence, version"
            " FROM feedback WHERE helpful = 0 ORDER BY ts DESC, id DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]

    def counts(self) -> dict[str, int]:
        feedback, unhelpful = self.db.read("SELECT COUNT(*), COALESCE(SUM(helpful = 0), 0) FROM feedback")[0]
        return {"feedback": feedback, "unhelpful": unhelpful}


def _job_json(job: dict[str, Any]) -> str:
    return json.dumps(job, ensure_ascii=False, default=str)


class SQLiteJobStore(JobStore):
    def __init__(self, db: SQLiteDatabase):
        self.db = db

    def save(self, job: dict[str, Any]) -> None:
        """The pid column is for people reading the table: whether a job is alive is the job lock's to say."""
        self.db.write(
            "INSERT INTO jobs (id, kind, state, data, pid, updated) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT(id) DO UPDATE SET state = excluded.state, data = excluded.data, updated = excluded.updated",
            (job["id"], job["kind"], job["state"], _job_json(job), os.getpid(), time.time()),
            "a job's record",
        )

    def get(self, job_id: str) -> dict[str, Any] | None:
        rows = self.db.read("SELECT data FROM jobs WHERE id = ?", (job_id,))
        return json.loads(rows[0][0]) if rows else None

    def unfinished(self) -> list[dict[str, Any]]:
        rows = self.db.read("SELECT data FROM jobs WHERE state IN ('queued', 'running') ORDER BY updated DESC")
        return [json.loads(r[0]) for r in rows]

    def fail_unfinished(self, reason: str) -> list[str]:
        now = time.time()
        jobs = self.unfinished()
        with self.db.lock:
            for job in jobs:
                job.update(state="failed", stage="failed", error=reason, finished_at=now)
                self.db.conn.execute("UPDATE jobs SET state = 'failed', data = ?, updated = ? WHERE id = ?",
                                     (_job_json(job), now, job["id"]))
            self.db.conn.commit()
        return [job["id"] for job in jobs]

    def recent(self, limit: int) -> list[dict[str, Any]]:
        rows = self.db.read("SELECT data FROM jobs ORDER BY updated DESC LIMIT ?", (limit,))
        return [json.loads(r[0]) for r in rows]

    def lock(self, instance_id: str | None = None) -> FileJobLock:
        """A file beside the database: app.jobs.lock."""
        return FileJobLock(self.db.path.with_name(self.db.path.stem + ".jobs.lock"), instance_id)


class SQLiteAppState(AppState):
    def __init__(self, path: Path):
        self.db = SQLiteDatabase(path)
        super().__init__(asks=SQLiteAskLog(self.db), feedback=SQLiteFeedbackStore(self.db),
                         jobs=SQLiteJobStore(self.db), storage=self.db.storage,
                         accounts=SQLiteAccountStore(self.db), logins=SQLiteLoginSessionStore(self.db),
                         tokens=SQLiteApiTokenStore(self.db), audit=SQLiteAuditLog(self.db),
                         sites=SQLiteSiteStore(self.db), attempts=SQLiteLoginAttemptStore(self.db),
                         decisions=SQLiteReviewDecisions(self.db))

    def close(self) -> None:
        super().close()
        self.db.close()
