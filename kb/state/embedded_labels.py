"""The embedded backend's labels and calibration: files in the data folder.

    data/labels.sqlite      labelled questions (SQLite, WAL: every process on this machine reads and writes it)
    data/calibration.json   the no-answer model `kb calibrate` fitted (replaced whole, atomically)

The SQL is plain (no SQLite-only statements), so another backend can keep the same tables.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

from kb.labels.model import Label
from kb.state.label_stores import CalibrationStore, LabelStore, StoredLabels

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS labels (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        question TEXT NOT NULL,
        kind TEXT NOT NULL,
        gold TEXT NOT NULL,
        passage_id TEXT,
        source TEXT NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        item TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS label_revision (id INTEGER PRIMARY KEY, rev INTEGER NOT NULL)",
)
_COLUMNS = "id, question, kind, gold, passage_id, source, created_at, created_by, item"


def _label(row) -> Label:
    label_id, question, kind, gold, passage_id, source, created_at, created_by, item = row
    return Label(label_id, question, kind, tuple(json.loads(gold)), passage_id, source, created_at, created_by,
                 json.loads(item))


class SQLiteLabelStore(LabelStore):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.where = str(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10, isolation_level=None)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA:
                self._conn.execute(statement)
            if self._conn.execute("SELECT COUNT(*) FROM label_revision").fetchone()[0] == 0:
                self._conn.execute("INSERT INTO label_revision (id, rev) VALUES (1, 0)")
            self._conn.execute("COMMIT")

    def labels(self) -> list[Label]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM labels ORDER BY seq").fetchall()
        return [_label(r) for r in rows]

    def get(self, label_id: str) -> Label | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM labels WHERE id = ?", (label_id,)).fetchone()
        return _label(row) if row else None

    def put(self, labels: list[Label]) -> StoredLabels:
        added, replaced, unchanged = [], [], []
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")  # one writer at a time across processes: seq and rev stay in step
            try:
                seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM labels").fetchone()[0]
                for label in labels:
                    row = conn.execute(f"SELECT {_COLUMNS} FROM labels WHERE id = ?", (label.id,)).fetchone()
                    values = (label.question, label.kind, json.dumps(list(label.gold), ensure_ascii=False),
                              label.passage_id, label.source, label.created_at, label.created_by,
                              json.dumps(label.item, ensure_ascii=False))
                    if row is None:
                        seq += 1
                        conn.execute(f"INSERT INTO labels (seq, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                     (seq, label.id, *values))
                        added.append(label.id)
                    elif _label(row).same_content(label):
                        unchanged.append(label.id)
                    else:
                        conn.execute("UPDATE labels SET question = ?, kind = ?, gold = ?, passage_id = ?, "
                                     "source = ?, created_at = ?, created_by = ?, item = ? WHERE id = ?",
                                     (*values, label.id))
                        replaced.append(label.id)
                if added or replaced:
                    conn.execute("UPDATE label_revision SET rev = rev + 1 WHERE id = 1")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return StoredLabels(added, replaced, unchanged)

    def delete(self, ids: list[str]) -> list[str]:
        gone = []
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for label_id in dict.fromkeys(ids):
                    if conn.execute("DELETE FROM labels WHERE id = ?", (label_id,)).rowcount:
                        gone.append(label_id)
                if gone:
                    conn.execute("UPDATE label_revision SET rev = rev + 1 WHERE id = 1")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return gone

    def revision(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT rev FROM label_revision WHERE id = 1").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class FileCalibrationStore(CalibrationStore):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.where = str(self.path)

    def get(self) -> dict | None:
        try:
            return json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return None

    def put(self, model: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(model, ensure_ascii=False, indent=1), "utf-8")
        os.replace(tmp, self.path)

    def clear(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
