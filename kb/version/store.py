"""Where versions live and how one is published: by one atomic pointer swap.

    versions/<id>/manifest.json   written last inside the directory
    versions/CURRENT              the published id, replaced with os.replace (atomic)
    versions/.build-<id>/         a version being built; renamed to <id> when complete

A reader resolves CURRENT once and then only reads that directory, so it sees the old version or
the new one, never a mix. Anything half-written (a .build-* folder, a folder without manifest) is
removed by `cleanup`, which runs at every start.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from kb.version.manifest import MANIFEST, Manifest, read_manifest, write_manifest

CURRENT = "CURRENT"
BUILD_PREFIX = ".build-"
LOCK = ".build.lock"


class NoVersionError(RuntimeError):
    """No KB version has been published yet."""


def new_version_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class VersionStore:
    def __init__(self, root: Path):
        self.root = root

    def current_id(self) -> str | None:
        try:
            vid = (self.root / CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        return vid if vid and (self.root / vid / MANIFEST).exists() else None

    def current_dir(self) -> Path:
        vid = self.current_id()
        if vid is None:
            raise NoVersionError(f"no knowledge-base version in {self.root}; run `kb ingest` first")
        return self.root / vid

    def manifest(self, vid: str) -> Manifest:
        return read_manifest(self.root / vid)

    def versions(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).exists())

    @contextlib.contextmanager
    def build_lock(self, wait: bool = True):
        """Held for a whole build: one builder at a time, and cleanup never removes a live build."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK, "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def begin(self) -> tuple[str, Path]:
        """A fresh private build folder."""
        self.root.mkdir(parents=True, exist_ok=True)
        vid = new_version_id()
        folder = self.root / f"{BUILD_PREFIX}{vid}"
        folder.mkdir()
        return vid, folder

    def publish(self, vid: str, folder: Path, manifest: Manifest,
                step: Callable[[int], None] | None = None) -> Path:
        """Seal the build folder with its manifest, move it in place, then swap CURRENT.

        `step(n)` is called after each stage (1 sealed, 2 moved in place, 3 CURRENT swapped); tests use
        it to kill the process in between."""
        step = step or (lambda n: None)
        for f in folder.iterdir():  # data must be on disk before the pointer can name it
            if f.is_file():
                with open(f, "rb+") as fh:
                    os.fsync(fh.fileno())
        write_manifest(folder, manifest)
        step(1)
        final = self.root / vid
        os.rename(folder, final)
        _fsync_dir(self.root)
        step(2)
        tmp = self.root / f".{CURRENT}.{os.getpid()}.tmp"
        tmp.write_text(vid)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / CURRENT)
        _fsync_dir(self.root)
        step(3)
        return final

    def cleanup(self, keep: int = 3) -> list[str]:
        """Remove half-built folders and temp files (unless a build is running) and old versions,
        never the current one. Returns the names removed.

        With no build running, a complete version newer than CURRENT was never published (a build that
        died between moving its folder in place and swapping CURRENT): it is removed too."""
        removed: list[str] = []
        if not self.root.exists():
            return removed
        with self.build_lock(wait=False) as idle:
            if idle:
                current = self.current_id()
                for p in self.root.iterdir():
                    half_built = p.is_dir() and (p.name.startswith(BUILD_PREFIX) or (
                        not p.name.startswith(".") and not (p / MANIFEST).exists()))
                    tmp_file = p.is_file() and p.name.startswith(".") and p.name.endswith(".tmp")
                    unpublished = (p.is_dir() and not half_built and not p.name.startswith(".")
                                   and current is not None and p.name > current)
                    if half_built or unpublished:
                        shutil.rmtree(p, ignore_errors=True)
                        removed.append(p.name)
                    elif tmp_file:
                        p.unlink(missing_ok=True)
                        removed.append(p.name)
        current = self.current_id()
        older = [v for v in self.versions() if v != current]
        for vid in older[: max(0, len(older) - max(keep - 1, 0))]:
            shutil.rmtree(self.root / vid, ignore_errors=True)
            removed.append(vid)
        return removed
