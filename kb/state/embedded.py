"""The embedded backend: the KB's shared state as files and SQLite databases in the data folder.

    data/documents/            uploads, one file each (written under a temporary name, then renamed over)
    data/excluded.json         names left out of the corpus (read-only documents editors deleted)
    data/dictionary/           the editors' dictionary files (the packaged defaults until written)
    data/versions/<id>/        versions (kb/version), data/versions/CURRENT naming the published one
    data/labels.sqlite         labelled questions, data/calibration.json the fitted no-answer model
                               (embedded_labels.py)
    data/sessions.sqlite       conversations (embedded_sessions.py)

Every process on this machine sees the same files.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from kb.folders import writer_gone
from kb.settings import Settings
from kb.state.base import Content, DictionaryStore, DocumentStore, PublishStep, StoredDocument, VersionRegistry
from kb.state.embedded_labels import FileCalibrationStore, SQLiteLabelStore
from kb.state.embedded_sessions import SQLiteSessionStore
from kb.tokenize import DICTIONARY_FILES, resource_text
from kb.version import LocalVersions, Manifest, NoVersionError, fsync_dir

UPLOAD_PREFIX = ".upload-"  # + "<pid>-<name>": an upload being written by that process
CURRENT = "CURRENT"


def _replace_text(path: Path, text: str) -> None:
    """Write under a temporary name, then rename over: a reader finds the old text or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


class FolderDocumentStore(DocumentStore):
    def __init__(self, folder: Path, excluded_file: Path):
        self.folder = Path(folder)
        self.where = str(self.folder)
        self._excluded_file = Path(excluded_file)
        self._hashes: dict[str, tuple[int, int, str]] = {}  # name -> (size, mtime_ns, sha256): read once
        self._lock = threading.Lock()

    def _path(self, name: str) -> Path | None:
        """The file of that name in the folder; None for a name that would leave it or hide it."""
        path = self.folder / name
        if not name or name.startswith(".") or path.resolve().parent != self.folder.resolve():
            return None
        return path

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith("."))

    def _describe(self, path: Path, sha256: str | None = None) -> StoredDocument:
        st = path.stat()
        with self._lock:
            known = self._hashes.get(path.name)
        if sha256 is None and known is not None and known[:2] == (st.st_size, st.st_mtime_ns):
            sha256 = known[2]
        if sha256 is None:
            sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        with self._lock:
            self._hashes[path.name] = (st.st_size, st.st_mtime_ns, sha256)
        return StoredDocument(path.name, st.st_size, sha256, st.st_mtime)

    def documents(self) -> list[StoredDocument]:
        out = []
        for path in self._files():
            with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                out.append(self._describe(path))
        return out

    def get(self, name: str) -> bytes | None:
        path = self._path(name)
        try:
            return path.read_bytes() if path is not None else None
        except (FileNotFoundError, IsADirectoryError):
            return None

    def put(self, name: str, data: bytes, uploaded_at: float | None = None) -> StoredDocument:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(name)
        if path is None:
            raise ValueError(f"invalid document name: {name!r}")
        tmp = self.folder / f"{UPLOAD_PREFIX}{os.getpid()}-{name}"
        tmp.write_bytes(data)
        if uploaded_at is not None:  # the file's mtime is its upload time
            os.utime(tmp, (uploaded_at, uploaded_at))
        os.replace(tmp, path)
        return self._describe(path, hashlib.sha256(data).hexdigest())

    def delete(self, name: str) -> bool:
        path = self._path(name)
        if path is None:
            return False
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def excluded(self) -> set[str]:
        try:
            return set(json.loads(self._excluded_file.read_text("utf-8")))
        except FileNotFoundError:
            return set()

    def _write_excluded(self, names: set[str]) -> None:
        _replace_text(self._excluded_file, json.dumps(sorted(names), ensure_ascii=False))

    def exclude(self, name: str) -> None:
        self._write_excluded(self.excluded() | {name})

    def include(self, name: str) -> None:
        names = self.excluded()
        if name in names:
            self._write_excluded(names - {name})

    @contextlib.contextmanager
    def local_files(self) -> Iterator[dict[str, Path]]:
        yield {p.name: p for p in self._files()}  # local already: read where they are

    def remove_leftovers(self) -> list[str]:
        """Upload temp files whose writer process is gone (a live one is an upload in progress)."""
        removed: list[str] = []
        if not self.folder.is_dir():
            return removed
        for p in self.folder.iterdir():
            if not (p.is_file() and p.name.startswith(UPLOAD_PREFIX)):
                continue
            if not writer_gone(p.name[len(UPLOAD_PREFIX):].split("-")[0]):
                continue
            p.unlink(missing_ok=True)
            removed.append(f"{self.folder.name}/{p.name}")
        return removed


class FolderDictionaryStore(DictionaryStore):
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, name: str) -> Path:
        if name not in DICTIONARY_FILES:
            raise ValueError(f"not a dictionary file: {name!r} (one of {', '.join(DICTIONARY_FILES)})")
        return self.folder / name

    def read(self, name: str) -> str:
        path = self._path(name)
        return path.read_text("utf-8") if path.exists() else resource_text(name)

    def write(self, name: str, text: str) -> None:
        _replace_text(self._path(name), text)

    def written(self) -> list[str]:
        return [name for name in DICTIONARY_FILES if (self.folder / name).exists()]

    @contextlib.contextmanager
    def local_folder(self) -> Iterator[Path]:
        """The folder itself, with the packaged defaults written into it on first use."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in DICTIONARY_FILES:
            if not (self.folder / name).exists():
                (self.folder / name).write_text(resource_text(name), "utf-8")
        yield self.folder


class FolderVersionRegistry(VersionRegistry):
    """The versions folder is the registry: CURRENT names the published version and is replaced atomically
    (a reader resolves it once, then reads only that folder: the old version or the new, never a mix);
    builds take an flock on .build.lock. Publishing is known to other processes only by reading CURRENT."""

    def __init__(self, root: Path):
        self.local = LocalVersions(root)
        self.root = self.local.root
        self.where = str(self.root)

    def current_id(self) -> str | None:
        try:
            vid = (self.root / CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        return vid if self.local.is_complete(vid) else None

    def manifest(self, vid: str) -> Manifest:
        return self.local.manifest(vid)

    def fetch(self, vid: str) -> Path:
        if not self.local.is_complete(vid):
            raise NoVersionError(f"no knowledge-base version {vid} in {self.where}")
        return self.local.path(vid)

    def versions(self) -> list[str]:
        return self.local.versions()

    def build_lock(self, wait: bool = True) -> contextlib.AbstractContextManager[bool]:
        """Also keeps cleanup from removing a live build's folder."""
        return self.local.lock(wait)

    def begin(self) -> tuple[str, Path]:
        return self.local.begin()

    def publish(self, vid: str, folder: Path, manifest: Manifest, step: PublishStep | None = None) -> Path:
        step = step or (lambda n: None)
        final = self.local.seal(vid, folder, manifest, step)
        tmp = self.root / f".{CURRENT}.{os.getpid()}.tmp"
        tmp.write_text(vid)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / CURRENT)
        fsync_dir(self.root)
        step(3)
        return final

    def cleanup(self, keep: int = 3) -> list[str]:
        """With no build running, a complete version newer than CURRENT was never published (a build
        that died between moving its folder in place and swapping CURRENT): it goes too."""
        removed: list[str] = []
        if not self.root.exists():
            return removed
        with self.build_lock(wait=False) as idle:
            if idle:
                removed += self.local.remove_leftovers(self.current_id())
        return removed + self.local.prune(keep, self.current_id())

    def wait_for_publish(self, timeout: float) -> str | None:
        time.sleep(timeout)  # nothing announces a publish here: CURRENT is read at this pace
        return self.current_id()


def open_embedded(settings: Settings) -> Content:
    return Content(
        documents=FolderDocumentStore(settings.uploads_dir, settings.root / "excluded.json"),
        dictionary=FolderDictionaryStore(settings.dictionary_dir),
        versions=FolderVersionRegistry(settings.versions_dir),
        sessions=SQLiteSessionStore(settings.root / "sessions.sqlite", settings.session_ttl_seconds,
                                    settings.max_sessions, settings.session_turns),
        labels=SQLiteLabelStore(settings.root / "labels.sqlite"),
        calibration=FileCalibrationStore(settings.root / "calibration.json"),
    )
