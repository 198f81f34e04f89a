"""The service's own small database (SQLite, WAL): every question asked, and agents' feedback.

Editors read it to see what agents could not find. Writes are tiny and serialised by one lock; reads
use the same connection (SQLite in WAL mode lets other processes read while one writes).

Questions are logged off the request path: `log_ask` only queues the row and a writer thread commits
what has queued up in one transaction (a commit per question cost a thread hop and a WAL write in every
answer). Anything that reads the asks table, and close(), writes the queue first, so a read never misses
a question already answered; only a process killed outright (SIGKILL, a power cut) can lose the last
~0.2 s of the log; a normal stop (SIGTERM) writes it all (docs/operations.md).

With the disk full, writes fail with `DiskFull` (bot/storage.py: a 507 for the request) and queued
questions wait in memory (up to MAX_WAITING_ASKS) until the disk has room again.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from bot.job_lock import FileJobLock
from bot.storage import DiskFull, StorageHealth, is_disk_full

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


ASK_LOG_INTERVAL = 0.2  # seconds the writer waits for more questions before committing
ASK_LOG_RETRY = 2.0  # seconds between attempts while writing fails (a full disk)
# Questions kept in memory while the log cannot be written (~0.5 KB each); beyond it the oldest go, counted.
MAX_WAITING_ASKS = 100_000


class AppDB:
    def __init__(self, path: Path):
        self.storage = StorageHealth()
        self.asks_dropped = 0  # questions the log had to let go while it could not be written
        self._pending: list[tuple] = []
        self._pending_cond = threading.Condition()
        self._closed = False
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.executescript(SCHEMA)
            self._conn.commit()
        self._writer = threading.Thread(target=self._write_asks_forever, name="ask-log", daemon=True)
        self._writer.start()

    def close(self) -> None:
        with self._pending_cond:
            self._closed = True
            self._pending_cond.notify()
        self._writer.join(timeout=10)
        try:
            self._write_asks()
        except sqlite3.Error:
            logging.getLogger(__name__).error("stopping with %d questions not written to the log", len(self._pending))
        with self._lock:
            self._conn.close()

    _ASK_SQL = ("INSERT INTO asks (ts, question, matched, confidence, top_passage, top_title, top_doc, ms,"
                " session_id, version) VALUES (?,?,?,?,?,?,?,?,?,?)")

    def _write_asks(self) -> None:
        """Commit every queued question (one transaction)."""
        with self._lock:
            with self._pending_cond:
                rows, self._pending = self._pending, []
            if not rows:
                return
            try:
                self._conn.executemany(self._ASK_SQL, rows)
                self._conn.commit()
            except BaseException as e:
                self._conn.rollback()
                with self._pending_cond:  # the rows wait for the next write
                    self._pending[:0] = rows
                    over = len(self._pending) - MAX_WAITING_ASKS
                    if over > 0:
                        del self._pending[:over]
                        self.asks_dropped += over
                if isinstance(e, sqlite3.Error):
                    dropped = f", {self.asks_dropped} of the oldest let go" if self.asks_dropped else ""
                    self.storage.failed(f"the question log ({len(self._pending)} questions waiting{dropped})", e)
                raise
        self.storage.succeeded()

    def _flush_asks(self) -> None:
        """Write the queued questions before a read; when that fails (a full disk) the read goes on
        without them: they stay queued, and the failure is on the status page."""
        try:
            self._write_asks()
        except sqlite3.Error:
            pass

    def _write_asks_forever(self) -> None:
        while True:
            with self._pending_cond:
                while not self._pending and not self._closed:
                    self._pending_cond.wait()
                if self._closed:
                    return
            # Let a burst of questions share the commit; while writes fail, try less often.
            time.sleep(ASK_LOG_RETRY if self.storage.failing else ASK_LOG_INTERVAL)
            self._flush_asks()

    def waiting_asks(self) -> int:
        """Questions answered but not yet in the log."""
        with self._pending_cond:
            return len(self._pending)

    def journal_mode(self) -> str:
        with self._lock:
            return self._conn.execute("PRAGMA journal_mode").fetchone()[0]

    def _insert(self, sql: str, args: tuple, what: str) -> int:
        with self._lock:
            try:
                cur = self._conn.execute(sql, args)
                self._conn.commit()
            except sqlite3.Error as e:
                self._conn.rollback()
                if is_disk_full(e):
                    self.storage.failed(what, e)
                    raise DiskFull(what) from e
                raise
        self.storage.succeeded()
        return int(cur.lastrowid)

    def log_ask(self, answer: dict[str, Any], ms: float) -> None:
        """Queue one answered question for the log (written within ASK_LOG_INTERVAL)."""
        top = None
        for group in ("principles", "cases", "passages"):
            if answer.get(group):
                top = answer[group][0]
                break
        row = (
            time.time(),
            str(answer.get("question", "")),
            1 if answer.get("matched") else 0,
            float(answer.get("confidence") or 0.0),
            top.get("id") if top else None,
            top.get("title") if top else None,
            top.get("doc") if top else None,
            round(ms, 1),
            answer.get("session_id"),
            answer.get("version"),
        )
        with self._pending_cond:
            self._pending.append(row)
            self._pending_cond.notify()

    def add_feedback(
        self,
        question: str,
        passage_id: str | None,
        helpful: bool,
        comment: str | None,
        session_id: str | None = None,
        version: str | None = None,
    ) -> int:
        return self._insert(
            "INSERT INTO feedback (ts, question, passage_id, helpful, comment, session_id, version) VALUES (?,?,?,?,?,?,?)",
            (time.time(), question, passage_id, 1 if helpful else 0, comment or None, session_id, version),
            "feedback",
        )

    def feedback_queue(self, limit: int = 200) -> list[dict[str, Any]]:
        """Unhelpful answers and unanswered questions, newest first."""
        self._flush_asks()
        with self._lock:
            rows = self._conn.execute(
                """
                SELECT 'feedback' AS type, id, ts, question, passage_id, comment, NULL AS confidence, version
                  FROM feedback WHERE helpful = 0
                UNION ALL
                SELECT 'unanswered' AS type, id, ts, question, top_passage AS passage_id, NULL AS comment,
                       confidence, version
                  FROM asks WHERE matched = 0
                ORDER BY ts DESC, id DESC LIMIT ?
                """,
                (limit,),
            ).fetchall()
        return [dict(r) for r in rows]

    def counts(self) -> dict[str, int]:
        self._flush_asks()
        with self._lock:
            asks, unmatched = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(matched = 0), 0) FROM asks"
            ).fetchone()
            fb, unhelpful = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(helpful = 0), 0) FROM feedback"
            ).fetchone()
        return {"asks": asks, "unanswered": unmatched, "feedback": fb, "unhelpful": unhelpful,
                "asks_waiting": self.waiting_asks(), "asks_dropped": self.asks_dropped}

    # --- jobs, shared by all worker processes ------------------------------------------------------
    def save_job(self, job: dict[str, Any]) -> None:
        """Insert or update a job (the pid column is for people reading the table: whether a job is alive
        is the job lock's to say, bot/job_lock.py)."""
        self._insert(
            "INSERT INTO jobs (id, kind, state, data, pid, updated) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT(id) DO UPDATE SET state = excluded.state, data = excluded.data, updated = excluded.updated",
            (job["id"], job["kind"], job["state"], json.dumps(job, ensure_ascii=False, default=str), os.getpid(), time.time()),
            "a job's record",
        )

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def unfinished_jobs(self) -> list[dict[str, Any]]:
        """Jobs recorded as queued or running, newest first: running only while their owner holds the job
        lock (bot/job_lock.py), dead otherwise."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT data FROM jobs WHERE state IN ('queued', 'running') ORDER BY updated DESC"
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def fail_unfinished_jobs(self, reason: str) -> list[str]:
        """Record every queued or running job as failed with `reason`: only while holding the job lock,
        when none of them can be alive. Returns their ids."""
        now = time.time()
        jobs = self.unfinished_jobs()
        with self._lock:
            for job in jobs:
                job.update(state="failed", stage="failed", error=reason, finished_at=now)
                self._conn.execute("UPDATE jobs SET state = 'failed', data = ?, updated = ? WHERE id = ?",
                                   (json.dumps(job, ensure_ascii=False, default=str), now, job["id"]))
            self._conn.commit()
        return [job["id"] for job in jobs]

    def job_lock(self, instance_id: str | None = None) -> FileJobLock:
        """The lock a job's process holds while the job runs: a file beside this database."""
        return FileJobLock(self.path.with_name(self.path.stem + ".jobs.lock"), instance_id)

    def recent_jobs(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute("SELECT data FROM jobs ORDER BY updated DESC LIMIT ?", (limit,)).fetchall()
        return [json.loads(r[0]) for r in rows]

