"""The versions folder on this machine: versions being built, sealed versions, and their removal.

    <root>/<id>/            a complete version: its files (contents.py), manifest.json written last
    <root>/.build-<id>/     a version being built; renamed to <id> once sealed

Which version is published is the version registry's to say (kb/state: the embedded one keeps a CURRENT
file in this folder); `LocalVersions` only builds, seals, lists and removes folders, for any registry.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from kb.folders import file_lock, fsync_dir
from kb.version.manifest import MANIFEST, Manifest, read_manifest, write_manifest

BUILD_PREFIX = ".build-"
LOCK_FILE = ".build.lock"


class NoVersionError(RuntimeError):
    """No KB version has been published yet."""


def new_version_id() -> str:
    """Sortable by time: a later build has a larger id."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


class LocalVersions:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, vid: str) -> Path:
        return self.root / vid

    def is_complete(self, vid: str | None) -> bool:
        return bool(vid) and (self.root / vid / MANIFEST).exists()

    def manifest(self, vid: str) -> Manifest:
        return read_manifest(self.root / vid)

    def versions(self) -> list[str]:
        """The complete versions in the folder, oldest first."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).exists())

    @contextlib.contextmanager
    def lock(self, wait: bool = True) -> Iterator[bool]:
        """`with versions.lock() as mine:` this folder's flock (.build.lock), held while a build or a
        download writes into the folder, so that `remove_leftovers` (taken without waiting) never removes
        their folders; with wait=False `mine` is False at once when another process holds it."""
        with file_lock(self.root / LOCK_FILE, wait) as mine:
            yield mine

    def begin(self) -> tuple[str, Path]:
        """A fresh private build folder."""
        self.root.mkdir(parents=True, exist_ok=True)
        vid = new_version_id()
        folder = self.root / f"{BUILD_PREFIX}{vid}"
        folder.mkdir()
        return vid, folder

    def seal(self, vid: str, folder: Path, manifest: Manifest, step: Callable[[int], None]) -> Path:
        """Sync the build folder's files, write its manifest (then `step(1)`), move it in place as <id>
        (then `step(2)`). Returns the version's folder."""
        for f in folder.iterdir():  # data must be on disk before anything can name it
            if f.is_file():
                with open(f, "rb+") as fh:
                    os.fsync(fh.fileno())
        write_manifest(folder, manifest)
        step(1)
        final = self.root / vid
        os.rename(folder, final)
        fsync_dir(self.root)
        step(2)
        return final

    def remove_leftovers(self, current: str | None) -> list[str]:
        """What killed builds left: half-built folders, temp files, and complete versions newer than
        `current` (a build that died between sealing and publishing). Only while no build runs here: the
        caller holds the build lock. Returns the names removed."""
        removed: list[str] = []
        if not self.root.exists():
            return removed
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
        return removed

    def prune(self, keep: int, current: str | None) -> list[str]:
        """Remove the oldest versions beyond `keep` (the current one counted, never removed)."""
        older = [v for v in self.versions() if v != current]
        gone = older[: max(0, len(older) - max(keep - 1, 0))]
        for vid in gone:
            shutil.rmtree(self.root / vid, ignore_errors=True)
        return gone
