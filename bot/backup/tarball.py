"""The backup file both backends write: a gzipped tar of files, and last manifest.json naming the backend the
state came from ("embedded": a data folder, archive.py; "postgresql": a database, pg_archive.py) and the size
and SHA-256 of every file. Writing one, reading its manifest, unpacking it and checking its files.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from pathlib import Path
from typing import Any, BinaryIO

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK = 1024 * 1024
EMBEDDED = "embedded"
POSTGRESQL = "postgresql"

# Why an archive of the other backend is not restored, and what to do instead.
WRONG_BACKEND = {
    (POSTGRESQL, EMBEDDED): (
        "这是 PostgreSQL 数据库的备份，而 KB_DATABASE_URL 未设置，未恢复 / this archive is a backup of a PostgreSQL "
        "database, but KB_DATABASE_URL is unset: nothing was restored. Set KB_DATABASE_URL to an empty database "
        "to restore it there (a database backup is not turned into a data folder)"),
    (EMBEDDED, POSTGRESQL): (
        "这是单机数据文件夹的备份，而 KB_DATABASE_URL 已设置，未恢复 / this archive is a backup of the embedded "
        "backend (a data folder), but KB_DATABASE_URL is set: nothing was restored. Restore it with "
        "KB_DATABASE_URL unset into an empty data folder; `kb migrate --to postgresql://…` then copies that "
        "install into the database"),
}


class BackupError(Exception):
    """A backup that cannot be taken or restored, with a bilingual message."""


class Writer:
    """Adds files to the tar, recording each one's size and SHA-256 for the manifest."""

    def __init__(self, tar: tarfile.TarFile):
        self.tar = tar
        self.files: dict[str, dict[str, Any]] = {}

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
        self.tar.addfile(info, io.BytesIO(data))
        self.files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def add_file(self, name: str, path: Path) -> None:
        """A file that does not change while it is read (a published version's, a finished dump)."""
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = size, int(os.fstat(fh.fileno()).st_mtime), 0o644
            digest = hashlib.sha256()

            class Hashing:
                def read(self, n: int = -1) -> bytes:
                    chunk = fh.read(n)
                    digest.update(chunk)
                    return chunk

            self.tar.addfile(info, Hashing())  # type: ignore[arg-type]
        self.files[name] = {"size": size, "sha256": digest.hexdigest()}

    def add_manifest(self, manifest: dict[str, Any]) -> None:
        """The manifest, last: `manifest` with the files added so far."""
        data = json.dumps({**manifest, "files": self.files}, ensure_ascii=False, indent=1).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime = len(data), int(time.time())
        self.tar.addfile(info, io.BytesIO(data))


def read_manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive, "r:gz") as tar:
        try:
            member = tar.getmember(MANIFEST)
        except KeyError:
            raise BackupError(f"不是 kb 备份（没有 {MANIFEST}） / not a kb backup: no {MANIFEST} in {archive}") from None
        fh: BinaryIO | None = tar.extractfile(member)
        manifest = json.loads(fh.read()) if fh else {}
    if manifest.get("format") != FORMAT:
        raise BackupError(f"不支持的备份格式 / unsupported backup format: {manifest.get('format')}")
    return manifest


def read_checked_manifest(archive: Path, backend: str) -> dict[str, Any]:
    """The manifest of `archive`, refused unless it exists, reads whole, and comes from `backend`."""
    if not archive.is_file():
        raise BackupError(f"找不到备份文件 / no such backup file: {archive}")
    try:
        manifest = read_manifest(archive)
    except (tarfile.TarError, OSError, ValueError) as e:
        raise BackupError(f"备份文件已损坏 / the backup file is damaged: {e}") from None
    taken_from = manifest.get("backend", EMBEDDED)  # archives written before the key was added are data folders
    if taken_from != backend:
        raise BackupError(WRONG_BACKEND.get((taken_from, backend),
                                            f"未知的备份来源 / the archive comes from an unknown backend: {taken_from}"))
    return manifest


def unpack(archive: Path, folder: Path) -> None:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(folder, filter="data")  # no absolute paths, links out, or device files
    except (tarfile.TarError, OSError) as e:
        raise BackupError(f"备份文件已损坏 / the backup file is damaged: {e}") from None


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_problems(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """How the files unpacked in `folder` differ from the manifest's list (none: every one whole)."""
    problems = []
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    for name in sorted(present - set(manifest["files"])):
        problems.append(f"not in the manifest: {name}")
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            problems.append(f"missing: {name}")
        elif path.stat().st_size != expected["size"] or file_hash(path) != expected["sha256"]:
            problems.append(f"damaged (size or SHA-256 differs): {name}")
    return problems


def refuse_if(problems: list[str]) -> None:
    if problems:
        raise BackupError("备份文件与其清单不符，未恢复 / the archive does not match its manifest; nothing was restored:\n  "
                          + "\n  ".join(problems[:20]))
