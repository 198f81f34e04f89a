"""The postgresql backend's version registry: every version folder stored in the database, so a replica
needs only the database URL and a local cache folder (KB_DATA_DIR/versions) to serve.

    versions          id, manifest, published_at (NULL until published)
    version_files     each file of the folder: size and sha256
    version_chunks    its bytes in CHUNK_BYTES rows
    current_version   the published version

Publishing stores the sealed folder's bytes first (the version stays unpublished), then in one
transaction marks it published, points current_version at it and NOTIFYs `kb_versions`: a replica
LISTENing (`wait_for_publish`) downloads it (checksums verified) into a `.build-` folder of its cache and
renames it in place, then swaps it in. One build at a time cluster-wide: an advisory lock on a connection of
the build's own, released by the server however the builder ends; the cache folder's flock keeps cleanup
away from builds and downloads on this machine.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

from kb.state.base import PublishStep, StateUnavailable, VersionRegistry
from kb.state.pg_db import LOCK_SPACE, Database, Listener, translated_errors
from kb.version import BUILD_PREFIX, LocalVersions, Manifest, NoVersionError, fsync_dir

CHANNEL = "kb_versions"
BUILD_LOCK = 2  # the advisory lock's second key (kb/state/pg_db.py LOCK_SPACE)
CHUNK_BYTES = 1 << 20


class VersionCorrupt(RuntimeError):
    """A downloaded file does not match the size or checksum stored with it."""


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


class PgVersionRegistry(VersionRegistry):
    def __init__(self, db: Database, cache: Path):
        self.db = db
        self.local = LocalVersions(cache)
        self.root = self.local.root
        self.where = "PostgreSQL (versions)"
        self._listener = Listener(db, CHANNEL, "kefu-kb-listen")
        self._held = threading.local()  # .conn: the build lock's connection, while this thread holds it

    # --- reading ---------------------------------------------------------------------------------
    def current_id(self) -> str | None:
        with self.db.transaction("reading the current version") as conn:
            row = conn.execute("SELECT version_id FROM current_version").fetchone()
        return row[0] if row else None

    def versions(self) -> list[str]:
        with self.db.transaction("listing the versions") as conn:
            return [r[0] for r in conn.execute("SELECT id FROM versions WHERE published_at IS NOT NULL ORDER BY id")]

    def manifest(self, vid: str) -> Manifest:
        if self.local.is_complete(vid):
            return self.local.manifest(vid)
        with self.db.transaction("reading a manifest") as conn:
            row = conn.execute("SELECT manifest FROM versions WHERE id = %s AND published_at IS NOT NULL",
                               (vid,)).fetchone()
        if row is None:
            raise NoVersionError(f"no knowledge-base version {vid} in {self.where}")
        return Manifest.model_validate(row[0])

    def fetch(self, vid: str) -> Path:
        if self.local.is_complete(vid):
            return self.local.path(vid)
        with self.local.lock():  # one download at a time here, and no cleanup meanwhile
            if not self.local.is_complete(vid):
                self._download(vid)
        return self.local.path(vid)

    def _download(self, vid: str) -> None:
        with self.db.transaction(f"reading version {vid}") as conn:
            row = conn.execute("SELECT published_at IS NOT NULL FROM versions WHERE id = %s", (vid,)).fetchone()
            files = conn.execute("SELECT path, size, sha256 FROM version_files WHERE version_id = %s ORDER BY path",
                                 (vid,)).fetchall()
        if not row or not row[0]:
            raise NoVersionError(f"no knowledge-base version {vid} in {self.where}")
        folder = self.root / f"{BUILD_PREFIX}{vid}-download-{os.getpid()}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        try:
            for rel, size, sha256 in files:
                self._download_file(vid, rel, folder / rel, size, sha256)
            os.rename(folder, self.local.path(vid))
            fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _download_file(self, vid: str, rel: str, target: Path, size: int, sha256: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, written = hashlib.sha256(), 0
        with open(target, "wb") as out, self.db.transaction(f"downloading {vid}/{rel}") as conn:
            with conn.cursor(name="version_chunks") as cur:  # server-side: a few chunks in memory at a time
                cur.itersize = 8
                cur.execute("SELECT data FROM version_chunks WHERE version_id = %s AND path = %s ORDER BY seq",
                            (vid, rel))
                for (data,) in cur:
                    digest.update(data)
                    out.write(data)
                    written += len(data)
            out.flush()
            os.fsync(out.fileno())
        if written != size or digest.hexdigest() != sha256:
            raise VersionCorrupt(f"版本文件校验失败 / version {vid}: {rel} has {written} bytes, sha256 "
                                 f"{digest.hexdigest()[:12]}; stored: {size} bytes, {sha256[:12]}")

    # --- building and publishing -----------------------------------------------------------------
    @contextlib.contextmanager
    def build_lock(self, wait: bool = True) -> Iterator[bool]:
        conn = self.db.dedicated("taking the build lock", application_name="kefu-kb-build")
        try:
            with translated_errors("taking the build lock"):
                if wait:
                    conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_SPACE, BUILD_LOCK))
                    got = True
                else:
                    got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_SPACE, BUILD_LOCK)).fetchone()[0]
            if not got:
                yield False
                return
            with self.local.lock(wait) as here:
                if not here:
                    yield False
                    return
                self._held.conn = conn
                try:
                    yield True
                finally:
                    self._held.conn = None
        finally:
            conn.close()  # the advisory lock goes with the session

    def begin(self) -> tuple[str, Path]:
        return self.local.begin()

    def publish(self, vid: str, folder: Path, manifest: Manifest, step: PublishStep | None = None) -> Path:
        """Step 2 is reached once the bytes are stored; a failure before 3 leaves the version unpublished
        (removed by the next cleanup)."""
        step = step or (lambda n: None)
        final = self.local.seal(vid, folder, manifest, lambda n: step(1) if n == 1 else None)
        self._store(vid, final, manifest)
        step(2)
        with self.db.transaction(f"publishing version {vid}") as conn:
            self._check_build_lock(conn)
            conn.execute("UPDATE versions SET published_at = now() WHERE id = %s", (vid,))
            conn.execute("INSERT INTO current_version (singleton, version_id) VALUES (true, %s) ON CONFLICT"
                         " (singleton) DO UPDATE SET version_id = excluded.version_id", (vid,))
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, vid))
        step(3)
        return final

    def _store(self, vid: str, folder: Path, manifest: Manifest) -> None:
        """Every file of the sealed folder, one transaction each, the version row first (unpublished)."""
        from psycopg.types.json import Jsonb

        files = sorted(p for p in folder.rglob("*") if p.is_file())
        with self.db.transaction(f"storing version {vid}") as conn:
            conn.execute("DELETE FROM versions WHERE id = %s AND published_at IS NULL", (vid,))  # a failed try
            conn.execute("INSERT INTO versions (id, manifest, bytes) VALUES (%s, %s, %s)",
                         (vid, Jsonb(manifest.model_dump(mode="json")), sum(p.stat().st_size for p in files)))
        for path in files:
            rel = path.relative_to(folder).as_posix()
            with self.db.transaction(f"storing {vid}/{rel}") as conn:
                conn.execute("INSERT INTO version_files (version_id, path, size, sha256, chunks) VALUES"
                             " (%s, %s, %s, '', 0)", (vid, rel, path.stat().st_size))
                digest, n = hashlib.sha256(), 0
                with conn.cursor().copy("COPY version_chunks (version_id, path, seq, data) FROM STDIN"
                                        " (FORMAT BINARY)") as copy:
                    copy.set_types(["text", "text", "int4", "bytea"])
                    for n, data in enumerate(_chunks(path), 1):
                        digest.update(data)
                        copy.write_row((vid, rel, n - 1, data))
                conn.execute("UPDATE version_files SET sha256 = %s, chunks = %s WHERE version_id = %s AND path = %s",
                             (digest.hexdigest(), n, vid, rel))

    def _check_build_lock(self, conn) -> None:
        """A build whose lock went with a restarted server must not publish: another may have started."""
        held = getattr(self._held, "conn", None)
        if held is None:
            return
        alive = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = %s"
                             " AND objid = %s AND objsubid = 2 AND pid = %s AND granted)",
                             (LOCK_SPACE, BUILD_LOCK, held.info.backend_pid)).fetchone()[0]
        if not alive:
            raise StateUnavailable("the build lock was lost (the database restarted during the build); "
                                   "the version was not published")

    # --- cleanup and waiting ---------------------------------------------------------------------
    def cleanup(self, keep: int = 3) -> list[str]:
        """Unpublished versions in the database (with no build running anywhere), this machine's build and
        download leftovers (with none running here), and all but the `keep` newest versions in both."""
        removed: list[str] = []
        conn = self.db.dedicated("cleaning up versions")
        try:
            with translated_errors("cleaning up versions"):
                if conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_SPACE, BUILD_LOCK)).fetchone()[0]:
                    removed += [r[0] for r in conn.execute(
                        "DELETE FROM versions WHERE published_at IS NULL RETURNING id")]
                current = conn.execute("SELECT version_id FROM current_version").fetchone()
                current = current[0] if current else None
                removed += [r[0] for r in conn.execute(
                    "DELETE FROM versions WHERE published_at IS NOT NULL AND id IS DISTINCT FROM %s AND id NOT IN"
                    " (SELECT id FROM versions WHERE published_at IS NOT NULL AND id IS DISTINCT FROM %s"
                    " ORDER BY id DESC LIMIT %s) RETURNING id", (current, current, max(keep - 1, 0)))]
        finally:
            conn.close()
        with self.local.lock(wait=False) as idle:
            if idle:
                removed += self.local.remove_leftovers(current)
        return removed + self.local.prune(keep, current)

    def wait_for_publish(self, timeout: float) -> str | None:
        self._listener.wait(timeout)
        return self.current_id()

    def close(self) -> None:
        self._listener.close()
