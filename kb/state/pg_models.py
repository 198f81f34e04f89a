"""The models tuned on the labels (`kb tune`), stored in PostgreSQL so that every replica can serve a version
embedded with one: a version's manifest names its tuned model (a folder under data_dir/models), and the
version registry (kb/state/pg_versions.py) stores that folder when it publishes the version and fetches it
with the version.

    models          name, bytes, stored_at, complete (set once every file is stored)
    model_files     each file of the folder: size and sha256
    model_chunks    its bytes in chunks (kb/state/pg_files.py)

A model is stored once, whichever versions name it (the name is a hash of what it was tuned from and on), and
removed with the last version that names it. A replica downloads it (one process at a time per data folder:
the version cache's lock) into `.<name>.download-<pid>` beside the other models and renames it in place once
every file's checksum holds; a download of a process that is gone is removed by the next cleanup
(kb/version/model.py).
"""
from __future__ import annotations

import os
from pathlib import Path

from kb.folders import written_in_place
from kb.state.pg_db import Database
from kb.state.pg_files import ChunkedFiles, folder_files
from kb.version.model import DOWNLOAD_MARK, VersionModelError, tuned_record


class PgModelStore:
    def __init__(self, db: Database, models_dir: Path):
        self.db = db
        self.models_dir = models_dir
        self.files = ChunkedFiles(db, "model_files", "model_chunks", "model")

    def stored(self, name: str) -> bool:
        with self.db.transaction(f"reading model {name}") as conn:
            row = conn.execute("SELECT complete FROM models WHERE name = %s", (name,)).fetchone()
        return bool(row and row[0])

    def store(self, name: str) -> None:
        """The folder data_dir/models/<name> stored, unless it is already (call with the build lock held)."""
        if self.stored(name):
            return
        folder = self.models_dir / name
        if tuned_record(folder) is None:
            raise VersionModelError(f"微调模型 {name} 不在 {self.models_dir}，无法发布使用它的版本 / the tuned model "
                                    f"{name} is not in {self.models_dir}: a version embedded with it cannot be "
                                    "published")
        files = folder_files(folder)
        with self.db.transaction(f"storing model {name}") as conn:
            conn.execute("DELETE FROM models WHERE name = %s", (name,))  # a try that did not finish
            conn.execute("INSERT INTO models (name, bytes) VALUES (%s, %s)",
                         (name, sum(p.stat().st_size for p in files)))
        self.files.store(name, folder)
        with self.db.transaction(f"storing model {name}") as conn:
            conn.execute("UPDATE models SET complete = true WHERE name = %s", (name,))

    def fetch(self, name: str) -> bool:
        """data_dir/models/<name> downloaded unless it is here; False when the database does not hold it either
        (the version then cannot be served here, and says why: kb/version/model.py)."""
        dest = self.models_dir / name
        if tuned_record(dest) is not None:
            return True
        if not self.stored(name):
            return False
        listing = self.files.listing(name)
        with written_in_place(dest, self.models_dir / f".{name}{DOWNLOAD_MARK}{os.getpid()}") as tmp:
            self.files.download(name, listing, tmp)
        return True

    def staged(self) -> list[str]:
        """Models stored since the current version was published: a build is embedding with one (or did
        and failed, until the next cleanup)."""
        with self.db.transaction("reading staged models") as conn:
            return [r[0] for r in conn.execute(
                "SELECT name FROM models WHERE complete AND stored_at > coalesce((SELECT v.published_at FROM"
                " versions v JOIN current_version c ON c.version_id = v.id), '-infinity') ORDER BY stored_at")]

    def remove_unused(self, conn) -> list[str]:
        """Models no stored version names, on `conn` (the cleanup's, holding the build lock)."""
        return [r[0] for r in conn.execute(
            "DELETE FROM models WHERE name NOT IN (SELECT manifest->>'tuned_model' FROM versions"
            " WHERE manifest->>'tuned_model' IS NOT NULL) RETURNING name")]
