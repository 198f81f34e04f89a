"""The postgresql backend of the service's records: the asks, feedback and jobs tables
(kb/state/migrations/0002_service_records.sql) that every replica shares, and the job lock as an advisory
lock held on a connection of the job's own (released by the server however the job's process ends). Accounts,
sign-ins, API tokens, the audit log, widget sites and sign-in attempts are in bot/state/pg_access.py.

While the database cannot be reached, questions are still answered: their log rows wait in memory
(bot/state/ask_queue.py) and are written when it is back; feedback and job records are refused with
kb.state.StateUnavailable (a bilingual 503), never silently lost.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from bot.state.ask_queue import AskQueue
from bot.state.base import (AppState, AskedQuestion, AskerIdentity, AskLog, FeedbackRow, FeedbackStore, JobLock,
                            JobStore, asked_question, feedback_row, new_instance_id)
from bot.state.pg_access import (PgAccountStore, PgApiTokenStore, PgAuditLog, PgLoginAttemptStore,
                                 PgLoginSessionStore, PgSiteStore)
from bot.state.review import PgReviewDecisions
from bot.storage import DiskFull, StorageHealth
from kb.state import StateUnavailable
from kb.state.pg_db import LOCK_SPACE, Database, DatabaseFull, translated_errors

JOB_LOCK = 3  # the advisory lock's second key (kb/state/pg_db.py LOCK_SPACE)
JOB_LOCK_HOLDER = "kefu-kb-job:"  # + instance id: the lock connection's application_name, read by holder()
T = TypeVar("T")


class PgRecords:
    """The pool the stores share, and whether writes to it work."""

    def __init__(self, db: Database):
        self.db = db
        self.storage = StorageHealth()

    def write(self, what: str, statements: Callable[[Any], T]) -> T:
        """`statements(conn)` in one transaction; a full disk raises DiskFull (a 507), an unreachable
        server StateUnavailable (a 503), both recorded in `storage`."""
        try:
            with self.db.transaction(what) as conn:
                result = statements(conn)
        except DatabaseFull as e:
            self.storage.failed(what, e)
            raise DiskFull(what) from e
        except StateUnavailable as e:
            self.storage.failed(what, e)
            raise
        self.storage.succeeded()
        return result

    def read(self, what: str, sql: str, args: tuple = ()) -> list[tuple]:
        with self.db.transaction(what) as conn:
            return conn.execute(sql, args).fetchall()


def _columns(row: type) -> str:
    return ", ".join(row._fields)


def _placeholders(row: type) -> str:
    return ", ".join(["%s"] * len(row._fields))


class PgAskLog(AskLog):
    _INSERT = f"INSERT INTO asks ({_columns(AskedQuestion)}) VALUES ({_placeholders(AskedQuestion)})"

    def __init__(self, records: PgRecords):
        self.records = records
        self.queue = AskQueue(self.insert, records.storage, (StateUnavailable, DatabaseFull))

    def insert(self, rows: list[AskedQuestion]) -> None:
        """All rows in one transaction, or none (the queue records failures in `storage` itself)."""
        with self.records.db.transaction("the question log") as conn:
            conn.cursor().executemany(self._INSERT, rows)

    def log(self, answer: dict[str, Any], ms: float, who: AskerIdentity | None = None) -> None:
        self.queue.put(asked_question(answer, ms, who))

    def since(self, ts: float) -> list[dict[str, Any]]:
        self.queue.flush()
        columns = ("ts", "question", "matched", "confidence", "top_passage", "cited", "agent", "team", "site")
        rows = self.records.read("reading questions", f"SELECT {', '.join(columns)} FROM asks WHERE ts >= %s"
                                 " ORDER BY ts, id", (ts,))
        return [dict(zip(columns, r)) for r in rows]

    def unanswered(self, limit: int) -> list[dict[str, Any]]:
        self.queue.flush()
        rows = self.records.read(
            "reading unanswered questions",
            "SELECT id, ts, question, top_passage, confidence, version FROM asks WHERE matched = 0"
            " ORDER BY ts DESC, id DESC LIMIT %s", (limit,))
        return [{"type": "unanswered", "id": r[0], "ts": r[1], "question": r[2], "passage_id": r[3], "comment": None,
                 "confidence": r[4], "version": r[5]} for r in rows]

    def counts(self) -> dict[str, int]:
        self.queue.flush()
        asks, unanswered = self.records.read("counting questions", "SELECT count(*),"
                                             " count(*) FILTER (WHERE matched = 0) FROM asks")[0]
        return {"asks": asks, "unanswered": unanswered, "asks_waiting": self.queue.waiting(),
                "asks_dropped": self.queue.dropped}

    def rows(self) -> Iterator[AskedQuestion]:
        self.queue.flush()
        return (AskedQuestion(*row) for row in self.records.read(
            "reading questions", f"SELECT {_columns(AskedQuestion)} FROM asks ORDER BY id"))

    def close(self) -> None:
        self.queue.close()


class PgFeedbackStore(FeedbackStore):
    _INSERT = f"INSERT INTO feedback ({_columns(FeedbackRow)}) VALUES ({_placeholders(FeedbackRow)})"

    def __init__(self, records: PgRecords):
        self.records = records

    def add(self, question: str, passage_id: str | None, helpful: bool, comment: str | None,
            session_id: str | None = None, version: str | None = None, who: AskerIdentity | None = None) -> int:
        row = feedback_row(question, passage_id, helpful, comment, session_id, version, who)
        return self.records.write("feedback", lambda conn: conn.execute(self._INSERT + " RETURNING id", row).fetchone()[0])

    def since(self, ts: float) -> list[dict[str, Any]]:
        columns = ("ts", "passage_id", "helpful", "agent", "team")
        rows = self.records.read("reading feedback", f"SELECT {', '.join(columns)} FROM feedback WHERE ts >= %s"
                                 " ORDER BY ts, id", (ts,))
        return [dict(zip(columns, r)) for r in rows]

    def unhelpful(self, limit: int) -> list[dict[str, Any]]:
        rows = self.records.read(
            "reading feedback",
            "SELECT id, ts, question, passage_id, comment, version FROM feedback WHERE helpful = 0"
            " ORDER BY ts DESC, id DESC LIMIT %s", (limit,))
        return [{"type": "feedback", "id": r[0], "ts": r[1], "question": r[2], "passage_id": r[3], "comment": r[4],
                 "confidence": None, "version": r[5]} for r in rows]

    def counts(self) -> dict[str, int]:
        feedback, unhelpful = self.records.read("counting feedback", "SELECT count(*),"
                                                " count(*) FILTER (WHERE helpful = 0) FROM feedback")[0]
        return {"feedback": feedback, "unhelpful": unhelpful}

    def rows(self) -> Iterator[FeedbackRow]:
        return (FeedbackRow(*row) for row in self.records.read(
            "reading feedback", f"SELECT {_columns(FeedbackRow)} FROM feedback ORDER BY id"))

    def insert(self, rows: list[FeedbackRow]) -> None:
        self.records.write("storing feedback", lambda conn: conn.cursor().executemany(self._INSERT, rows))


class PgJobLock(JobLock):
    """pg_try_advisory_lock on a connection opened for the job and closed when it ends (advisory locks are
    re-entrant within a session, so each lock has its own). The connection's application_name carries the
    holder's instance id, which pg_stat_activity shows every replica."""

    def __init__(self, db: Database, instance_id: str | None = None):
        self.db = db
        self.instance_id = instance_id or new_instance_id()
        self._conn = None
        self._mutex = threading.Lock()

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._conn is not None:
                return False
            conn = self.db.dedicated("taking the job lock", application_name=JOB_LOCK_HOLDER + self.instance_id)
            try:
                with translated_errors("taking the job lock"):
                    got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_SPACE, JOB_LOCK)).fetchone()[0]
            except BaseException:
                conn.close()
                raise
            if not got:
                conn.close()
                return False
            self._conn = conn
            return True

    def release(self) -> None:
        with self._mutex:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()  # the server releases the advisory lock with the session

    def holder(self) -> str | None:
        with self._mutex:
            if self._conn is not None:
                return self.instance_id
        with self.db.transaction("reading the job lock") as conn:
            row = conn.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s AND l.objsubid = 2 AND l.granted"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (LOCK_SPACE, JOB_LOCK)).fetchone()
        if row is None:
            return None
        name = row[0] or ""
        return name[len(JOB_LOCK_HOLDER):] if name.startswith(JOB_LOCK_HOLDER) else ""


def _job_json(job: dict[str, Any]) -> str:
    return json.dumps(job, ensure_ascii=False, default=str)


class PgJobStore(JobStore):
    def __init__(self, records: PgRecords):
        self.records = records

    def save(self, job: dict[str, Any]) -> None:
        self.records.write("a job's record", lambda conn: conn.execute(
            "INSERT INTO jobs (id, kind, state, data, updated) VALUES (%s, %s, %s, %s::jsonb, %s) ON CONFLICT (id)"
            " DO UPDATE SET state = excluded.state, data = excluded.data, updated = excluded.updated",
            (job["id"], job["kind"], job["state"], _job_json(job), time.time())))

    def get(self, job_id: str) -> dict[str, Any] | None:
        rows = self.records.read("reading a job", "SELECT data FROM jobs WHERE id = %s", (job_id,))
        return rows[0][0] if rows else None

    def unfinished(self) -> list[dict[str, Any]]:
        return [r[0] for r in self.records.read(
            "reading the jobs", "SELECT data FROM jobs WHERE state IN ('queued', 'running') ORDER BY updated DESC")]

    def fail_unfinished(self, reason: str) -> list[str]:
        now = time.time()
        return self.records.write("failing unfinished jobs", lambda conn: [r[0] for r in conn.execute(
            "UPDATE jobs SET state = 'failed', updated = %s, data = data || jsonb_build_object('state', 'failed',"
            " 'stage', 'failed', 'error', %s::text, 'finished_at', %s::float8)"
            " WHERE state IN ('queued', 'running') RETURNING id", (now, reason, now))])

    def recent(self, limit: int) -> list[dict[str, Any]]:
        return [r[0] for r in self.records.read(
            "reading the jobs", "SELECT data FROM jobs ORDER BY updated DESC LIMIT %s", (limit,))]

    def lock(self, instance_id: str | None = None) -> PgJobLock:
        return PgJobLock(self.records.db, instance_id)


class PgAppState(AppState):
    def __init__(self, url: str):
        self.db = Database.checked(url, name="kefu-kb-records")
        records = PgRecords(self.db)
        super().__init__(asks=PgAskLog(records), feedback=PgFeedbackStore(records), jobs=PgJobStore(records),
                         storage=records.storage, accounts=PgAccountStore(records),
                         logins=PgLoginSessionStore(records), tokens=PgApiTokenStore(records),
                         audit=PgAuditLog(records), sites=PgSiteStore(records),
                         attempts=PgLoginAttemptStore(records),
                         decisions=PgReviewDecisions(records))

    def close(self) -> None:
        super().close()
        self.db.close()
