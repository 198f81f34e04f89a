"""What a backup holds: the one list of the data folder's stores. A new store (a SQLite database, a file or a
folder under KB_DATA_DIR) is added here, or to NOT_BACKED_UP with the reason;
tests/service/test_backup_restore.py fails for a store of a running service that is in neither.

This list is the embedded backend's. Where KB_DATABASE_URL puts the state in PostgreSQL, the data folder is
only a cache and the backup is the database's dump (pg_archive.py): every table, so a new store there is in
it by being a table.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    path: str  # relative to the data folder
    kind: str  # "sqlite" (a consistent snapshot through SQLite's backup API), "file", "folder", "version"
    what: str


BACKED_UP: tuple[Item, ...] = (
    Item("app.sqlite", "sqlite", "the service's records: ask log, feedback, review decisions, jobs, accounts, "
                                 "sign-ins, API tokens, audit log, widget sites"),
    Item("labels.sqlite", "sqlite", "labelled questions, editors' fixes among them"),
    Item("documents", "folder", "uploaded documents"),
    Item("excluded.json", "file", "read-only documents editors deleted"),
    Item("dictionary", "folder", "the editors' dictionary, stopwords and synonyms"),
    Item("calibration.json", "file", "the calibration `kb calibrate` wrote"),
    Item("versions", "version", "the published version (versions/CURRENT and its folder); older versions are not "
                                "kept"),
)

# Top-level names of the data folder that are deliberately left out, and why.
NOT_BACKED_UP: dict[str, str] = {
    "models": "the embedding model: `kb setup-model` makes it again; a model tuned on the labels, `kb tune` with "
              "the same labels and seed (the labels are backed up)",
    "app.sqlite-wal": "SQLite's write-ahead log: its contents are in the snapshot",
    "app.sqlite-shm": "SQLite's shared memory index",
    "labels.sqlite-wal": "SQLite's write-ahead log: its contents are in the snapshot",
    "labels.sqlite-shm": "SQLite's shared memory index",
    "sessions.sqlite": "conversations: a follow-up's context, forgotten after KB_SESSION_TTL_SECONDS anyway",
    "sessions.sqlite-wal": "conversations' write-ahead log",
    "sessions.sqlite-shm": "SQLite's shared memory index",
    "app.jobs.lock": "the job lock: held by a running process, nothing stored in it",
}

# Names in a backed-up folder that are never copied: files being written (an upload's temporary name).
SKIPPED_PREFIXES = (".",)
