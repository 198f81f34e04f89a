"""The postgresql backend's version registry: every version folder stored in the database, so a replica
needs only the database URL and a local cache folder (KB_DATA_DIR/versions) to serve.

    versions          id, manifest, published_at (NULL until published)
    version_files     each file of the folder: size and sha256
    version_chunks    its bytes in chunks (kb/state/pg_files.py)
    current_version   the published version

A version embedded with a model tuned on the labels needs that model's folder too: publishing stores it
(once; kb/state/pg_models.py) before the version, and fetching a version fetches it into data_dir/models.

Publishing stores the sealed folder's bytes first (the version stays unpublished), then in one
transaction marks it published, points current_version at it and NOTIFYs `kb_versions`: a replica
LISTENing (`wait_for_publish`) downloads it (checksums verified) into a `.build-` folder of its cache and
renames it in place, then swaps it in. One build at a time cluster-wide: an advisory lock on a connection of
the build's own, released by the server however the builder ends; the cache folder's flock keeps cleanup
away from builds and downloads on this machine.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

from kb.state.base import PublishStep, StateUnavailable, VersionRegistry
from kb.state.pg_db import LOCK_SPACE, Database, Listener, translated_errors
from kb.state.pg_files import ChunkedFiles, folder_files
from kb.state.pg_models import PgModelStore
from kb.version import BUILD_PREFIX, LocalVersions, Manifest, NoVersionError, fsync_dir
from kb.version.model import models_lock, remove_unused_models, tuned_record

CHANNEL = "kb_versions"
BUILD_LOCK = 2  # the advisory lock's second key (kb/state/pg_db.py LOCK_SPACE)


class PgVersionRegistry(VersionRegistry):
    def __init__(self, db: Database, cache: Path, models_dir: Path):
        self.db = db
        self.local = LocalVersions(cache)
        self.files = ChunkedFiles(db, "version_files", "version_chunks", "version_id")
        self.models = PgModelStore(db, models_dir)
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
        """The version's local folder, downloaded unless it is here, and the tuned model it names."""
        if not self.local.is_complete(vid):
            with self._local_lock():  # one download at a time here, and no cleanup meanwhile
                if not self.local.is_complete(vid):
                    self._download(vid)
        tuned = self.local.manifest(vid).tuned_model
        if tuned and tuned_record(self.models.models_dir / tuned) is None:
            with self._local_lock():  # one download here: a service's workers share the data folder
                self.models.fetch(tuned)
        return self.local.path(vid)

    def _local_lock(self) -> contextlib.AbstractContextManager:
        """The cache folder's lock, unless this thread holds it already: a build (build_lock) fetches the
        current version to reuse its vectors, and a second flock of the same file would wait for itself."""
        if getattr(self._held, "conn", None) is not None:
            return contextlib.nullcontext()
        return self.local.lock()

    def _download(self, vid: str) -> None:
        with self.db.transaction(f"reading version {vid}") as conn:
            row = conn.execute("SELECT published_at IS NOT NULL FROM versions WHERE id = %s", (vid,)).fetchone()
        if not row or not row[0]:
            raise NoVersionError(f"no knowledge-base version {vid} in {self.where}")
        listing = self.files.listing(vid)
        folder = self.root / f"{BUILD_PREFIX}{vid}-download-{os.getpid()}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        try:
            self.files.download(vid, listing, folder)
            os.rename(folder, self.local.path(vid))
            fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

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
        """Step 2 is reached once the bytes (and the tuned model the version names) are stored; a failure
        before 3 leaves the version unpublished (removed by the next cleanup)."""
        step = step or (lambda n: None)
        final = self.local.seal(vid, folder, manifest, lambda n: step(1) if n == 1 else None)
        if manifest.tuned_model:
            self.models.store(manifest.tuned_model)
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

        files = folder_files(folder)
        with self.db.transaction(f"storing version {vid}") as conn:
            conn.execute("DELETE FROM versions WHERE id = %s AND published_at IS NULL", (vid,))  # a failed try
            conn.execute("INSERT INTO versions (id, manifest, bytes) VALUES (%s, %s, %s)",
                         (vid, Jsonb(manifest.model_dump(mode="json")), sum(p.stat().st_size for p in files)))
        self.files.store(vid, folder)

    def stage_model(self, name: str) -> None:
        """The model stored now and announced: replicas fetch it while the version is built (a 1.4 GB
        model would otherwise hold up their swap to the new version by as long as its download)."""
        self.models.store(name)
        with self.db.transaction(f"announcing model {name}") as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"model:{name}"))

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
                idle_cluster = conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                            (LOCK_SPACE, BUILD_LOCK)).fetchone()[0]
                if idle_cluster:
                    removed += [r[0] for r in conn.execute(
                        "DELETE FROM versions WHERE published_at IS NULL RETURNING id")]
                current = conn.execute("SELECT version_id FROM current_version").fetchone()
                current = current[0] if current else None
                removed += [r[0] for r in conn.execute(
                    "DELETE FROM versions WHERE published_at IS NOT NULL AND id IS DISTINCT FROM %s AND id NOT IN"
                    " (SELECT id FROM versions WHERE published_at IS NOT NULL AND id IS DISTINCT FROM %s"
                    " ORDER BY id DESC LIMIT %s) RETURNING id", (current, current, max(keep - 1, 0)))]
                if idle_cluster:
                    removed += self.models.remove_unused(conn)
                named = {r[0] for r in conn.execute("SELECT DISTINCT manifest->>'tuned_model' FROM versions"
                                                    " WHERE manifest->>'tuned_model' IS NOT NULL")}
        finally:
            conn.close()
        with self.local.lock(wait=False) as idle:
            if idle:
                removed += self.local.remove_leftovers(current)
        removed += self.local.prune(keep, current)
        with models_lock(self.models.models_dir) as no_tune_here:  # a tune writes a model before its version
            if no_tune_here:
                removed += remove_unused_models(self.models.models_dir, named)
        return removed

    def wait_for_publish(self, timeout: float) -> str | None:
        """Also fetches a model staged for a version being built (`stage_model`) before returning."""
        self._listener.wait(timeout)
        for name in self.models.staged():
            if tuned_record(self.models.models_dir / name) is None:
                with self._local_lock():
                    self.models.fetch(name)
        return self.current_id()

    def close(self) -> None:
        self._listener.close()
