"""The postgresql backend's labels and calibration (kb/state/migrations/0003_labels.sql): every replica sees
the same labels, and learns of a change at once - a write bumps `label_revision` and NOTIFYs `kb_labels` in
its transaction, and `wait_for_change` LISTENs on a connection of its own."""
from __future__ import annotations

import json

from kb.labels.model import Label
from kb.state.label_stores import CalibrationStore, LabelStore, StoredLabels
from kb.state.pg_db import Database, Listener

CHANNEL = "kb_labels"
_COLUMNS = "id, question, kind, gold, passage_id, source, created_at, created_by, item"


def _label(row) -> Label:
    label_id, question, kind, gold, passage_id, source, created_at, created_by, item = row
    return Label(label_id, question, kind, tuple(json.loads(gold)), passage_id, source, created_at, created_by,
                 json.loads(item))


def _values(label: Label) -> tuple:
    return (label.question, label.kind, json.dumps(list(label.gold), ensure_ascii=False), label.passage_id,
            label.source, label.created_at, label.created_by, json.dumps(label.item, ensure_ascii=False))


class PgLabelStore(LabelStore):
    def __init__(self, db: Database):
        self.db = db
        self.where = "PostgreSQL (labels)"
        self._listener = Listener(db, CHANNEL, "kefu-kb-labels")

    def labels(self) -> list[Label]:
        with self.db.transaction("reading the labels") as conn:
            return [_label(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM labels ORDER BY seq").fetchall()]

    def get(self, label_id: str) -> Label | None:
        with self.db.transaction("reading a label") as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM labels WHERE id = %s", (label_id,)).fetchone()
        return _label(row) if row else None

    def put(self, labels: list[Label]) -> StoredLabels:
        added, replaced, unchanged = [], [], []
        with self.db.transaction("storing labels") as conn:
            rev = conn.execute("SELECT rev FROM label_revision FOR UPDATE").fetchone()[0]  # one writer at a time
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM labels").fetchone()[0]
            for label in labels:
                row = conn.execute(f"SELECT {_COLUMNS} FROM labels WHERE id = %s", (label.id,)).fetchone()
                if row is None:
                    seq += 1
                    conn.execute(f"INSERT INTO labels (seq, {_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                                 (seq, label.id, *_values(label)))
                    added.append(label.id)
                elif _label(row).same_content(label):
                    unchanged.append(label.id)
                else:
                    conn.execute("UPDATE labels SET question = %s, kind = %s, gold = %s, passage_id = %s, source = %s,"
                                 " created_at = %s, created_by = %s, item = %s WHERE id = %s", (*_values(label), label.id))
                    replaced.append(label.id)
            if added or replaced:
                self._bump(conn, rev)
        return StoredLabels(added, replaced, unchanged)

    @staticmethod
    def _bump(conn, rev: int) -> None:
        conn.execute("UPDATE label_revision SET rev = %s", (rev + 1,))
        conn.execute(f"SELECT pg_notify('{CHANNEL}', %s)", (str(rev + 1),))  # delivered at commit

    def delete(self, ids: list[str]) -> list[str]:
        with self.db.transaction("deleting labels") as conn:
            rev = conn.execute("SELECT rev FROM label_revision FOR UPDATE").fetchone()[0]
            gone = [r[0] for r in conn.execute("DELETE FROM labels WHERE id = ANY(%s) RETURNING id",
                                               (list(dict.fromkeys(ids)),)).fetchall()]
            if gone:
                self._bump(conn, rev)
        return [i for i in dict.fromkeys(ids) if i in gone]

    def revision(self) -> int:
        with self.db.transaction("reading the labels' revision") as conn:
            return int(conn.execute("SELECT rev FROM label_revision").fetchone()[0])

    def wait_for_change(self, revision: int, timeout: float) -> int:
        """LISTENs first, then reads the revision: a change committed before the LISTEN is read, one after it
        is announced."""
        self._listener.listen()
        current = self.revision()
        if current != revision:
            return current
        self._listener.wait(timeout)
        return self.revision()

    def close(self) -> None:
        self._listener.close()


class PgCalibrationStore(CalibrationStore):
    def __init__(self, db: Database):
        self.db = db
        self.where = "PostgreSQL (calibration)"

    def get(self) -> dict | None:
        with self.db.transaction("reading the no-answer model") as conn:
            row = conn.execute("SELECT model FROM calibration").fetchone()
        return row[0] if row else None

    def put(self, model: dict) -> None:
        from psycopg.types.json import Jsonb

        with self.db.transaction("storing the no-answer model") as conn:
            conn.execute("INSERT INTO calibration (singleton, model) VALUES (true, %s) ON CONFLICT (singleton)"
                         " DO UPDATE SET model = excluded.model, stored_at = now()", (Jsonb(model),))

    def clear(self) -> bool:
        with self.db.transaction("forgetting the no-answer model") as conn:
            return conn.execute("DELETE FROM calibration").rowcount > 0
