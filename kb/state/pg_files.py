"""Folders stored in PostgreSQL as files of checksummed chunks: the KB versions (kb/state/pg_versions.py) and
the models tuned on the labels (kb/state/pg_models.py).

    <files table>   (owner, path): size, sha256, chunks
    <chunks table>  (owner, path, seq): CHUNK_BYTES of the file each

An empty folder is stored as a row of its own, its path ending in "/" (a model folder's `2_Normalize`). Each
file is written in a transaction of its own (COPY BINARY, the checksum taken on the way) and read back
through a server-side cursor, a few chunks in memory at a time; a download whose size or sha256 differs from
what was stored raises FileCorrupt.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from kb.state.pg_db import Database

CHUNK_BYTES = 1 << 20


class FileCorrupt(RuntimeError):
    """A downloaded file does not match the size or checksum stored with it."""


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


def folder_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _entries(folder: Path) -> list[tuple[str, Path]]:
    """(stored path, path) of every file and empty folder under `folder`."""
    empty = [p for p in folder.rglob("*") if p.is_dir() and not any(p.iterdir())]
    return sorted([(p.relative_to(folder).as_posix(), p) for p in folder_files(folder)]
                  + [(p.relative_to(folder).as_posix() + "/", p) for p in empty])


class ChunkedFiles:
    """The files of the folders one table pair holds, each folder under its owner key."""

    def __init__(self, db: Database, files: str, chunks: str, owner: str):
        self.db, self.files, self.chunks, self.owner = db, files, chunks, owner

    def store(self, key: str, folder: Path) -> None:
        """Every file and empty folder under `folder`, one transaction each (the owner's row must exist)."""
        for rel, path in _entries(folder):
            with self.db.transaction(f"storing {key}/{rel}") as conn:
                if rel.endswith("/"):
                    conn.execute(f"INSERT INTO {self.files} ({self.owner}, path, size, sha256, chunks) VALUES"
                                 " (%s, %s, 0, %s, 0)", (key, rel, hashlib.sha256().hexdigest()))
                    continue
                conn.execute(f"INSERT INTO {self.files} ({self.owner}, path, size, sha256, chunks) VALUES"
                             " (%s, %s, %s, '', 0)", (key, rel, path.stat().st_size))
                digest, n = hashlib.sha256(), 0
                with conn.cursor().copy(f"COPY {self.chunks} ({self.owner}, path, seq, data) FROM STDIN"
                                        " (FORMAT BINARY)") as copy:
                    copy.set_types(["text", "text", "int4", "bytea"])
                    for n, data in enumerate(_chunks(path), 1):
                        digest.update(data)
                        copy.write_row((key, rel, n - 1, data))
                conn.execute(f"UPDATE {self.files} SET sha256 = %s, chunks = %s WHERE {self.owner} = %s"
                             " AND path = %s", (digest.hexdigest(), n, key, rel))

    def listing(self, key: str) -> list[tuple[str, int, str]]:
        """(path, size, sha256) of each stored file."""
        with self.db.transaction(f"listing {key}") as conn:
            return conn.execute(f"SELECT path, size, sha256 FROM {self.files} WHERE {self.owner} = %s ORDER BY path",
                                (key,)).fetchall()

    def download(self, key: str, files: list[tuple[str, int, str]], folder: Path) -> None:
        """`files` (from `listing`) written under `folder`, each checked against its size and sha256."""
        for rel, size, sha256 in files:
            if rel.endswith("/"):
                (folder / rel).mkdir(parents=True, exist_ok=True)
            else:
                self._download_file(key, rel, folder / rel, size, sha256)

    def _download_file(self, key: str, rel: str, target: Path, size: int, sha256: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, written = hashlib.sha256(), 0
        with open(target, "wb") as out, self.db.transaction(f"downloading {key}/{rel}") as conn:
            with conn.cursor(name=self.chunks) as cur:  # server-side: a few chunks in memory at a time
                cur.itersize = 8
                cur.execute(f"SELECT data FROM {self.chunks} WHERE {self.owner} = %s AND path = %s ORDER BY seq",
                            (key, rel))
                for (data,) in cur:
                    digest.update(data)
                    out.write(data)
                    written += len(data)
            out.flush()
            os.fsync(out.fileno())
        if written != size or digest.hexdigest() != sha256:
            raise FileCorrupt(f"文件校验失败 / {key}: {rel} has {written} bytes, sha256 {digest.hexdigest()[:12]}; "
                              f"stored: {size} bytes, {sha256[:12]}")
