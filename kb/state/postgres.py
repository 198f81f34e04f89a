"""The postgresql backend of the KB's shared state: every replica of a deployment sees the same documents,
dictionary, conversations and versions (KB_DATABASE_URL=postgresql://...; the schema is
kb/state/migrations, applied by `kb migrate`).

    documents, excluded_documents    uploads, whole, with their checksum
    dictionary_files                 the dictionary files editors wrote
    sessions                         conversations, so a follow-up reaches whichever replica gets it
    versions, version_*, current_version    the registry (kb/state/pg_versions.py)
    labels, label_revision, calibration      labelled questions and the fitted no-answer model (pg_labels.py)

While the database cannot be reached, conversations are kept in each process's memory (kb/state/session_stores.py).
"""
from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from kb.settings import Settings
from kb.state.base import Content, DictionaryStore, DocumentStore, StoredDocument, check_document_name
from kb.state.pg_db import Database
from kb.state.session_stores import TIMEOUT_SECONDS, TableSessionStore
from kb.tokenize import DICTIONARY_FILES, resource_text


class PgDocumentStore(DocumentStore):
    def __init__(self, db: Database):
        self.db = db
        self.where = "PostgreSQL (documents)"

    def documents(self) -> list[StoredDocument]:
        with self.db.transaction("listing documents") as conn:
            rows = conn.execute("SELECT name, size, sha256, uploaded_at FROM documents ORDER BY name").fetchall()
        return [StoredDocument(*row) for row in rows]

    def get(self, name: str) -> bytes | None:
        with self.db.transaction("reading a document") as conn:
            row = conn.execute("SELECT data FROM documents WHERE name = %s", (name,)).fetchone()
        return bytes(row[0]) if row else None

    def put(self, name: str, data: bytes, uploaded_at: float | None = None) -> StoredDocument:
        check_document_name(name)
        doc = StoredDocument(name, len(data), hashlib.sha256(data).hexdigest(),
                             time.time() if uploaded_at is None else uploaded_at)
        with self.db.transaction(f"storing document {name}") as conn:
            conn.execute("INSERT INTO documents (name, data, size, sha256, uploaded_at) VALUES (%s, %s, %s, %s, %s)"
                         " ON CONFLICT (name) DO UPDATE SET data = excluded.data, size = excluded.size,"
                         " sha256 = excluded.sha256, uploaded_at = excluded.uploaded_at",
                         (name, data, doc.size, doc.sha256, doc.uploaded_at))
        return doc

    def delete(self, name: str) -> bool:
        with self.db.transaction(f"deleting document {name}") as conn:
            return conn.execute("DELETE FROM documents WHERE name = %s", (name,)).rowcount > 0

    def excluded(self) -> set[str]:
        with self.db.transaction("reading the excluded documents") as conn:
            return {row[0] for row in conn.execute("SELECT name FROM excluded_documents")}

    def exclude(self, name: str) -> None:
        with self.db.transaction(f"excluding {name}") as conn:
            conn.execute("INSERT INTO excluded_documents (name) VALUES (%s) ON CONFLICT DO NOTHING", (name,))

    def include(self, name: str) -> None:
        with self.db.transaction(f"including {name}") as conn:
            conn.execute("DELETE FROM excluded_documents WHERE name = %s", (name,))

    @contextlib.contextmanager
    def local_files(self) -> Iterator[dict[str, Path]]:
        """Temporary copies, one document read at a time (gone after the block)."""
        with tempfile.TemporaryDirectory(prefix="kb-documents-") as tmp:
            paths = {}
            for doc in self.documents():
                data = self.get(doc.name)
                if data is not None:
                    paths[doc.name] = Path(tmp) / doc.name
                    paths[doc.name].write_bytes(data)
            yield paths


class PgDictionaryStore(DictionaryStore):
    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def _check(name: str) -> str:
        if name not in DICTIONARY_FILES:
            raise ValueError(f"not a dictionary file: {name!r} (one of {', '.join(DICTIONARY_FILES)})")
        return name

    def read(self, name: str) -> str:
        with self.db.transaction(f"reading {name}") as conn:
            row = conn.execute("SELECT text FROM dictionary_files WHERE name = %s", (self._check(name),)).fetchone()
        return row[0] if row else resource_text(name)

    def write(self, name: str, text: str) -> None:
        with self.db.transaction(f"writing {name}") as conn:
            conn.execute("INSERT INTO dictionary_files (name, text) VALUES (%s, %s) ON CONFLICT (name)"
                         " DO UPDATE SET text = excluded.text, written_at = now()", (self._check(name), text))

    def written(self) -> list[str]:
        with self.db.transaction("listing the dictionary files") as conn:
            names = {row[0] for row in conn.execute("SELECT name FROM dictionary_files")}
        return [name for name in DICTIONARY_FILES if name in names]

    @contextlib.contextmanager
    def local_folder(self) -> Iterator[Path]:
        folder = Path(tempfile.mkdtemp(prefix="kb-dictionary-"))
        try:
            for name in DICTIONARY_FILES:
                (folder / name).write_text(self.read(name), "utf-8")
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


class PgSessionStore(TableSessionStore):
    """Conversations in the sessions table."""

    def __init__(self, db: Database, ttl_seconds: int = 1800, max_sessions: int = 10_000, max_turns: int = 4):
        super().__init__(ttl_seconds, max_sessions, max_turns)
        self.db = db

    def _read(self, session_id: str, now: float) -> list[dict] | None:
        with self.db.transaction("reading a conversation", timeout=TIMEOUT_SECONDS) as conn:
            row = conn.execute("UPDATE sessions SET touched = %s WHERE id = %s AND touched > %s RETURNING turns",
                               (now, session_id, now - self.ttl)).fetchone()
        return row[0] if row else None

    def _write(self, session_id: str, turns: list[dict], now: float) -> None:
        from psycopg.types.json import Jsonb

        with self.db.transaction("recording a conversation", timeout=TIMEOUT_SECONDS) as conn:
            conn.execute("INSERT INTO sessions (id, turns, touched) VALUES (%s, %s, %s) ON CONFLICT (id)"
                         " DO UPDATE SET turns = excluded.turns, touched = excluded.touched",
                         (session_id, Jsonb(turns), now))
            if self._prune_due():
                conn.execute("DELETE FROM sessions WHERE touched < %s OR id IN (SELECT id FROM sessions"
                             " ORDER BY touched DESC OFFSET %s)", (now - self.ttl, self.max_sessions))


def open_postgres(settings: Settings, url: str) -> Content:
    from kb.state.pg_labels import PgCalibrationStore, PgLabelStore
    from kb.state.pg_versions import PgVersionRegistry

    db = Database.checked(url, name="kefu-kb-content")
    return Content(
        documents=PgDocumentStore(db),
        dictionary=PgDictionaryStore(db),
        versions=PgVersionRegistry(db, settings.versions_dir, settings.models_dir),
        sessions=PgSessionStore(db, settings.session_ttl_seconds, settings.max_sessions, settings.session_turns),
        labels=PgLabelStore(db),
        calibration=PgCalibrationStore(db),
        resources=[db],
    )
