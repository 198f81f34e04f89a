"""Writing a backup archive while the service runs, and restoring one into an empty data folder.

The archive (tarball.py) is a gzipped tar: every item of items.BACKED_UP under its path in the data folder,
and last manifest.json with the size and SHA-256 of every file and the counts it holds (rows of every table
of every SQLite database, documents, dictionary files, the published version). A SQLite database is copied
through SQLite's backup API (a consistent snapshot while the service writes); a document is read in one go
(uploads replace a document by renaming over it, so a read sees one whole file); a published version never
changes.

`restore` checks the archive against its manifest in a temporary folder inside the target, and only then
moves the items into place: a damaged archive leaves the target as it was.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.backup.items import BACKED_UP, NOT_BACKED_UP, SKIPPED_PREFIXES, Item
from bot.backup.tarball import (EMBEDDED, FORMAT, MANIFEST, BackupError, Writer, file_problems,
                                read_checked_manifest, read_manifest, refuse_if, unpack)


def sqlite_counts(path: Path) -> dict[str, int]:
    """Rows of every table of a SQLite database."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                            " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


def _files(folder: Path) -> Iterator[Path]:
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not any(part.startswith(SKIPPED_PREFIXES) for part in p.relative_to(folder).parts):
            yield p


def _snapshot_sqlite(path: Path, tmp: Path) -> Path:
    copy = tmp / path.name
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return copy


def _add_item(w: Writer, root: Path, item: Item, tmp: Path, counts: dict[str, Any]) -> None:
    path = root / item.path
    if item.kind == "sqlite":
        if path.exists():
            snapshot = _snapshot_sqlite(path, tmp)
            counts[item.path] = sqlite_counts(snapshot)
            w.add_file(item.path, snapshot)
    elif item.kind == "file":
        if path.is_file():
            w.add_bytes(item.path, path.read_bytes())
    elif item.kind == "folder":
        files = list(_files(path)) if path.is_dir() else []
        for f in files:
            w.add_bytes(f"{item.path}/{f.relative_to(path).as_posix()}", f.read_bytes())
        counts[item.path] = len(files)
    elif item.kind == "version":
        current = path / "CURRENT"
        named = current.read_bytes() if current.is_file() else b""  # read once: a publish may replace it
        vid = named.decode().strip() or None
        counts[item.path] = vid
        if vid:
            w.add_bytes(f"{item.path}/CURRENT", named)
            for f in sorted(p for p in (path / vid).rglob("*") if p.is_file()):
                w.add_file(f"{item.path}/{vid}/{f.relative_to(path / vid).as_posix()}", f)
    else:  # pragma: no cover - a mistake in items.py
        raise ValueError(f"unknown item kind {item.kind}")


def backup(root: Path, out: Path) -> dict[str, Any]:
    """Write the archive of the data folder `root` to `out` (via a temporary name); its manifest."""
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise BackupError(f"数据文件夹不存在 / the data folder does not exist: {root}")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    counts: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="kb-backup-") as tmp, tarfile.open(partial, "w:gz") as tar:
            w = Writer(tar)
            for item in BACKED_UP:
                _add_item(w, root, item, Path(tmp), counts)
            manifest = {"format": FORMAT, "backend": EMBEDDED, "created_at": time.time(), "data_dir": str(root),
                        "items": [item.path for item in BACKED_UP], "counts": counts}
            w.add_manifest(manifest)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return {**manifest, "files": w.files}


def _blocking_entries(target: Path) -> list[str]:
    """What in `target` a restore would overwrite (the model may be there already)."""
    if not target.exists():
        return []
    return sorted(p.name for p in target.iterdir() if p.name != "models")


def _verify(folder: Path, manifest: dict[str, Any]) -> None:
    problems = file_problems(folder, manifest)
    for item in BACKED_UP:
        expected = manifest["counts"].get(item.path)
        path = folder / item.path
        if item.kind == "sqlite" and expected is not None and sqlite_counts(path) != expected:
            problems.append(f"row counts differ: {item.path}")
        elif item.kind == "folder" and expected is not None and len(list(_files(path)) if path.is_dir() else []) != expected:
            problems.append(f"file count differs: {item.path}")
        elif item.kind == "version" and expected and not (path / expected).is_dir():
            problems.append(f"the published version is missing: {expected}")
    refuse_if(problems)


def restore(archive: Path, target: Path) -> dict[str, Any]:
    """Restore `archive` into the data folder `target`, which must be empty (or hold only the model); the
    manifest, once every file and count was checked."""
    archive, target = Path(archive), Path(target)
    manifest = read_checked_manifest(archive, EMBEDDED)
    blocking = _blocking_entries(target)
    if blocking:
        raise BackupError(f"数据文件夹不是空的，未恢复（只能恢复到空文件夹，以免覆盖现有数据） / the data folder is not "
                          f"empty; nothing was restored (a backup is only restored into an empty folder, so that "
                          f"nothing is overwritten): {target} holds {', '.join(blocking[:10])}")
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=target))
    try:
        unpack(archive, staging)
        _verify(staging, manifest)
        (staging / MANIFEST).unlink()
        for leftover in list(staging.glob("*.sqlite-wal")) + list(staging.glob("*.sqlite-shm")):
            leftover.unlink()  # made by reading the snapshot to count its rows; the database is whole without
        for entry in sorted(staging.iterdir()):
            os.replace(entry, target / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


__all__ = ["BackupError", "NOT_BACKED_UP", "backup", "read_manifest", "restore", "sqlite_counts"]
