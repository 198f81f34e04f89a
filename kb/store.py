"""Passages and documents of one KB version, in SQLite.

Row order is the index order: passage row i is vector i in the dense index and row i in BM25.
Texts stay on disk and are fetched for the few results shown, so memory does not grow with the corpus.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

from kb.passage import Passage

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    path TEXT NOT NULL,
    format TEXT NOT NULL,
    encoding TEXT,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    indexed_at TEXT NOT NULL,
    info TEXT NOT NULL            -- JSON: cleaning report, warnings, passages by kind
);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY,      -- 0-based, equals the vector's position in the indexes
    id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    doc_title TEXT NOT NULL,
    section TEXT NOT NULL,        -- JSON list
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    search_text TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    page INTEGER,
    content_hash TEXT NOT NULL,
    extra TEXT NOT NULL
);
CREATE INDEX passages_doc ON passages(doc_id);
"""

_COLUMNS = "row, id, doc_id, doc_title, section, kind, title, text, search_text, start, \"end\", page, content_hash, extra"


def _passage(row: tuple) -> Passage:
    return Passage(
        id=row[1], doc_id=row[2], doc_title=row[3], section=json.loads(row[4]), kind=row[5], title=row[6],
        text=row[7], search_text=row[8], start=row[9], end=row[10], page=row[11], content_hash=row[12],
        extra=json.loads(row[13]),
    )


def write_store(path: Path, documents: list[dict], passages: list[Passage]) -> None:
    con = sqlite3.connect(path)
    try:
        con.executescript(SCHEMA)
        con.executemany(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (d["doc_id"], d["title"], d["path"], d["format"], d.get("encoding"), d["size"], d["sha256"],
                 d["indexed_at"], json.dumps(d.get("info", {}), ensure_ascii=False))
                for d in documents
            ],
        )
        con.executemany(
            f"INSERT INTO passages ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (i, p.id, p.doc_id, p.doc_title, json.dumps(p.section, ensure_ascii=False), p.kind, p.title,
                 p.text, p.search_text, p.start, p.end, p.page, p.content_hash,
                 json.dumps(p.extra, ensure_ascii=False))
                for i, p in enumerate(passages)
            ],
        )
        con.commit()
    finally:
        con.close()


class PassageStore:
    """Read-only access to a version's SQLite file, safe to share between threads.

    A version never changes, so recently read passages are kept (LRU): every answer reads ~40 of them
    and consecutive questions share most, which made the SQLite reads and JSON decoding ~10% of an ask."""

    def __init__(self, path: Path, cache_size: int = 4096):
        self.path = path
        self._cache: OrderedDict[int, Passage] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []  # every thread's connection, so close() closes them all
        self._all_lock = threading.Lock()
        con = self._con()
        self.count = con.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        self.kinds = [k for (k,) in con.execute("SELECT kind FROM passages ORDER BY row")]
        self.doc_ids = [d for (d,) in con.execute("SELECT doc_id FROM passages ORDER BY row")]

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            self._local.con = con
            with self._all_lock:
                self._all.append(con)
        return con

    def rows(self, rows: list[int]) -> list[Passage]:
        """The passages at these rows, in this order (rows that do not exist are left out)."""
        if not rows:
            return []
        rows = [int(r) for r in rows]
        found: dict[int, Passage] = {}
        with self._cache_lock:
            for r in rows:
                hit = self._cache.get(r)
                if hit is not None:
                    self._cache.move_to_end(r)
                    found[r] = hit
        missing = [r for r in dict.fromkeys(rows) if r not in found]
        if missing:
            marks = ",".join("?" * len(missing))
            fetched = {r[0]: _passage(r) for r in self._con().execute(
                f"SELECT {_COLUMNS} FROM passages WHERE row IN ({marks})", missing)}
            found.update(fetched)
            with self._cache_lock:
                self._cache.update(fetched)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return [found[r] for r in rows if r in found]

    def row_of(self, passage_id: str) -> int | None:
        hit = self._con().execute("SELECT row FROM passages WHERE id = ?", (passage_id,)).fetchone()
        return hit[0] if hit else None

    def by_id(self, passage_id: str) -> Passage | None:
        row = self.row_of(passage_id)
        return self.rows([row])[0] if row is not None else None

    def documents(self) -> list[dict]:
        out = []
        for r in self._con().execute(
                "SELECT doc_id, title, path, format, encoding, size, sha256, indexed_at, info FROM documents"
                " ORDER BY doc_id"):
            out.append({"doc_id": r[0], "title": r[1], "path": r[2], "format": r[3], "encoding": r[4],
                        "size": r[5], "sha256": r[6], "indexed_at": r[7], **json.loads(r[8])})
        return out

    def document_passages(self, doc_id: str) -> list[Passage]:
        rows = [r for (r,) in self._con().execute("SELECT row FROM passages WHERE doc_id = ? ORDER BY row",
                                                  (doc_id,))]
        return self.rows(rows)

    def close(self) -> None:
        """Close every thread's connection (callers must be done with this store)."""
        with self._all_lock:
            conns, self._all = self._all, []
        for con in conns:
            con.close()
        self._local = threading.local()
