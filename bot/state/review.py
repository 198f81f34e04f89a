"""Editors' decisions on the review queue, by question (its match key): answered by a label, out of scope, or
dismissed. A queue item asked before its question's latest decision has left the queue; asked again after
it (the fix did not help), it comes back.

    ReviewDecisions          the interface (a backend's records include one: AppState.decisions)
    SQLiteReviewDecisions    the embedded backend's: a table of app.sqlite
    PgReviewDecisions        the postgresql backend's (kb/state/migrations/0003_labels.sql)
"""
from __future__ import annotations

import sqlite3
import time
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

from bot.storage import DiskFull, is_disk_full
from kb.state import Portable

ACTIONS = ("answer", "oos", "dismiss")

SCHEMA = """
CREATE TABLE IF NOT EXISTS review_decisions (
    question_key TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    action TEXT NOT NULL,
    label_id TEXT,
    decided_by TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Decision:
    ts: float
    action: str  # answer | oos | dismiss
    label_id: str | None
    decided_by: str


class ReviewDecisions(Portable):
    """Exported as one dict per question: its key and its decision's fields."""

    @abstractmethod
    def decide(self, question_keys: list[str], action: str, label_id: str | None, decided_by: str,
               ts: float | None = None) -> float:
        """Record one decision for each question (replacing an earlier one), in one transaction; its time
        (now unless given)."""

    @abstractmethod
    def decisions(self) -> dict[str, Decision]:
        """The latest decision per question key."""

    def count(self) -> int:
        return len(self.decisions())

    def export_records(self) -> Iterator[dict]:
        for key, decision in sorted(self.decisions().items(), key=lambda kv: kv[1].ts):
            yield {"question_key": key, **asdict(decision)}

    def import_records(self, records: Iterable[dict]) -> int:
        n = 0
        for r in records:
            self.decide([r["question_key"]], r["action"], r["label_id"], r["decided_by"], ts=r["ts"])
            n += 1
        return n

    def close(self) -> None:
        pass


def _rows(question_keys: list[str], action: str, label_id: str | None, decided_by: str, ts: float) -> list[tuple]:
    if action not in ACTIONS:
        raise ValueError(f"unknown review action {action!r}")
    return [(key, ts, action, label_id, decided_by) for key in dict.fromkeys(question_keys) if key]


class SQLiteReviewDecisions(ReviewDecisions):
    def __init__(self, db):
        """db: bot/state/sqlite.py's SQLiteDatabase (its connection, lock and storage health)."""
        self.db = db
        with db.lock:
            db.conn.executescript(SCHEMA)
            db.conn.commit()

    def decide(self, question_keys: list[str], action: str, label_id: str | None, decided_by: str,
               ts: float | None = None) -> float:
        now = time.time() if ts is None else ts
        rows = _rows(question_keys, action, label_id, decided_by, now)
        with self.db.lock:
            try:
                self.db.conn.executemany(
                    "INSERT INTO review_decisions (question_key, ts, action, label_id, decided_by)"
                    " VALUES (?,?,?,?,?) ON CONFLICT(question_key) DO UPDATE SET ts = excluded.ts,"
                    " action = excluded.action, label_id = excluded.label_id, decided_by = excluded.decided_by",
                    rows)
                self.db.conn.commit()
            except sqlite3.Error as e:
                self.db.conn.rollback()
                if is_disk_full(e):
                    self.db.storage.failed("a review decision", e)
                    raise DiskFull("a review decision") from e
                raise
        self.db.storage.succeeded()
        return now

    def decisions(self) -> dict[str, Decision]:
        rows = self.db.read("SELECT question_key, ts, action, label_id, decided_by FROM review_decisions")
        return {r[0]: Decision(r[1], r[2], r[3], r[4]) for r in rows}


class PgReviewDecisions(ReviewDecisions):
    _UPSERT = ("INSERT INTO review_decisions (question_key, ts, action, label_id, decided_by)"
               " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (question_key) DO UPDATE SET ts = excluded.ts,"
               " action = excluded.action, label_id = excluded.label_id, decided_by = excluded.decided_by")

    def __init__(self, records):
        """records: bot/state/postgres.py's PgRecords (its pool and storage health)."""
        self.records = records

    def decide(self, question_keys: list[str], action: str, label_id: str | None, decided_by: str,
               ts: float | None = None) -> float:
        now = time.time() if ts is None else ts
        rows = _rows(question_keys, action, label_id, decided_by, now)
        self.records.write("a review decision", lambda conn: conn.cursor().executemany(self._UPSERT, rows))
        return now

    def decisions(self) -> dict[str, Decision]:
        rows = self.records.read("reading review decisions",
                                 "SELECT question_key, ts, action, label_id, decided_by FROM review_decisions")
        return {r[0]: Decision(r[1], r[2], r[3], r[4]) for r in rows}
