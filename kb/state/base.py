"""What the KB shares between processes and machines, as small interfaces; one backend implements them all
(kb/state/embedded.py: files in the data folder and an in-memory conversation store).

    DocumentStore     the editors' uploaded documents, and the read-only documents they deleted
    DictionaryStore   the jieba user dictionary, stopwords and synonyms
    SessionStore      conversation memory for follow-up questions
    VersionRegistry   which KB version is published, publishing a built one, fetching one to serve
    LabelStore, CalibrationStore  labelled questions and the no-answer model fitted on them (label_stores.py)

Every method may be called from several threads at once. `Content` bundles one backend's stores. A store
whose records `kb migrate --to` copies between backends is also `Portable`. A backend that cannot reach its
storage (a database restarting) raises `StateUnavailable`: nothing was stored, try again later.
"""
from __future__ import annotations

import contextlib
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kb.sessions import Session, Turn
from kb.version import Manifest, NoVersionError, read_manifest

if TYPE_CHECKING:  # Content's fields; label_stores.py builds on Portable below
    from kb.state.label_stores import CalibrationStore, LabelStore

PublishStep = Callable[[int], None]


class StateUnavailable(RuntimeError):
    """The shared state cannot be reached just now (its database is down or restarting): nothing was read
    or stored. The service answers 503 for the request; its callers may try again later."""

    def __init__(self, what: str):
        super().__init__(f"共享状态暂时不可用 / the shared state is unavailable: {what}")
        self.what = what


class Portable(ABC):
    """A store whose records move whole between backends (`kb migrate --to`): exported as plain dicts that
    the same kind of store of any backend imports into an empty store, keeping their times and ids' order."""

    @abstractmethod
    def count(self) -> int:
        """Records held (what a copy must reproduce)."""

    @abstractmethod
    def export_records(self) -> Iterator[dict]:
        """Every record, oldest first."""

    @abstractmethod
    def import_records(self, records: Iterable[dict]) -> int:
        """Store exported records; returns how many."""


def check_document_name(name: str) -> str:
    """A document name a store can hold: a plain file name (no folder, not hidden); ValueError otherwise."""
    if not name or name.startswith(".") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"invalid document name: {name!r}")
    return name


@dataclass(frozen=True)
class StoredDocument:
    name: str  # the document id: unique, a safe file name (ingest/corpus.py safe_name)
    size: int  # bytes
    sha256: str  # of the bytes, hex
    uploaded_at: float  # Unix time of the last put


class DocumentStore(Portable):
    """Uploaded documents by name. A put replaces a same-named document whole (a reader sees the old bytes or
    the new ones, never a mix). Also the names left out of the corpus: documents of the read-only folders
    (KB_DOCS_DIRS) that editors deleted. Exported as {"name", "data", "uploaded_at"} per document and
    {"excluded": name} per excluded name."""

    where: str  # where the documents are, for messages

    @abstractmethod
    def documents(self) -> list[StoredDocument]:
        """Every stored document, by name."""

    @abstractmethod
    def get(self, name: str) -> bytes | None:
        """A document's bytes; None when there is none of that name."""

    @abstractmethod
    def put(self, name: str, data: bytes, uploaded_at: float | None = None) -> StoredDocument:
        """Store a document, replacing a same-named one (`uploaded_at`: now unless given, e.g. by a copy)."""

    @abstractmethod
    def delete(self, name: str) -> bool:
        """Remove a document; False when there was none of that name."""

    @abstractmethod
    def excluded(self) -> set[str]:
        """Names left out of the corpus wherever they are."""

    @abstractmethod
    def exclude(self, name: str) -> None:
        """Leave `name` out of the corpus from now on."""

    @abstractmethod
    def include(self, name: str) -> None:
        """Take `name` back into the corpus (no-op when it is not excluded)."""

    @abstractmethod
    def local_files(self) -> contextlib.AbstractContextManager[dict[str, Path]]:
        """`with store.local_files() as paths:` every stored document as a local file (name -> path), for
        ingest to read; the files may be gone after the block (a remote backend's temporary copies)."""

    def remove_leftovers(self) -> list[str]:
        """Remove what an interrupted put left behind; returns what was removed (for the log)."""
        return []

    def location(self, name: str) -> str:
        """Where a stored document is, for people: what a version's document table records (the copy
        `local_files` gave ingest may be gone)."""
        return f"{self.where}/{name}"

    def count(self) -> int:
        return len(self.documents()) + len(self.excluded())

    def export_records(self) -> Iterator[dict]:
        for doc in self.documents():
            data = self.get(doc.name)
            if data is not None:  # deleted meanwhile
                yield {"name": doc.name, "data": data, "uploaded_at": doc.uploaded_at}
        for name in sorted(self.excluded()):
            yield {"excluded": name}

    def import_records(self, records: Iterable[dict]) -> int:
        n = 0
        for record in records:
            if "excluded" in record:
                self.exclude(record["excluded"])
            else:
                self.put(record["name"], record["data"], uploaded_at=record["uploaded_at"])
            n += 1
        return n

    def close(self) -> None:
        pass


class DictionaryStore(Portable):
    """The dictionary files a version is cut with (kb.tokenize.DICTIONARY_FILES). What is read is the last
    text written, or the packaged default (kb/resources) when none was. Validation is kb/dictionary.py's.
    Exported as {"name", "text"} per file written."""

    @abstractmethod
    def read(self, name: str) -> str:
        """The text of one dictionary file."""

    @abstractmethod
    def write(self, name: str, text: str) -> None:
        """Replace one dictionary file (whole: a reader sees the old text or the new)."""

    @abstractmethod
    def local_folder(self) -> contextlib.AbstractContextManager[Path]:
        """`with store.local_folder() as folder:` a folder holding every dictionary file, for ingest (the
        tokenizer reads it, the version keeps a copy)."""

    @abstractmethod
    def written(self) -> list[str]:
        """The files written so far (the others read as the packaged defaults)."""

    def count(self) -> int:
        return len(self.written())

    def export_records(self) -> Iterator[dict]:
        for name in self.written():
            yield {"name": name, "text": self.read(name)}

    def import_records(self, records: Iterable[dict]) -> int:
        n = 0
        for record in records:
            self.write(record["name"], record["text"])
            n += 1
        return n

    def close(self) -> None:
        pass


class SessionStore(ABC):
    """Conversations by id, each its last few turns (KB_SESSION_TURNS), forgotten after KB_SESSION_TTL_SECONDS
    unused; about KB_MAX_SESSIONS kept at most (the least recently used go first; a shared table may run up to
    1 % over between two prunings: kb/state/session_stores.py)."""

    @abstractmethod
    def get(self, session_id: str | None) -> Session:
        """The live conversation with that id, or a new one: unknown and expired ids start afresh under the
        same id (kb.sessions.new_session_id), malformed ones and None under a new random id."""

    @abstractmethod
    def record(self, session: Session, turn: Turn) -> None:
        """Add a turn to the conversation (`session` is what `get` returned), keeping only the last few."""

    def close(self) -> None:
        pass


class VersionRegistry(Portable):
    """Published KB versions. A version is an immutable folder (kb/version); the registry says which one is
    current, publishes a built one with one atomic switch, and brings a published one into this machine's
    versions folder. One build at a time (`build_lock`). Exported as {"version", "folder", "current"} per
    published version kept; importing publishes each under its own id, the current one last."""

    where: str  # where the versions are, for messages

    @abstractmethod
    def current_id(self) -> str | None:
        """The published version's id; None before the first publish."""

    @abstractmethod
    def versions(self) -> list[str]:
        """The published versions kept, oldest first."""

    @abstractmethod
    def manifest(self, vid: str) -> Manifest:
        """What a published version was built from and holds, without fetching its files."""

    @abstractmethod
    def fetch(self, vid: str) -> Path:
        """The local folder of a published version (brought here first when it is not); NoVersionError
        when there is no such version."""

    def current_folder(self) -> Path:
        """The local folder of the published version; NoVersionError before the first publish."""
        vid = self.current_id()
        if vid is None:
            raise NoVersionError(f"no knowledge-base version in {self.where}; run `kb ingest` first")
        return self.fetch(vid)

    @abstractmethod
    def build_lock(self, wait: bool = True) -> contextlib.AbstractContextManager[bool]:
        """`with registry.build_lock() as mine:` held for a whole build, so only one runs at a time; with
        wait=False `mine` is False at once when another build holds it."""

    @abstractmethod
    def begin(self) -> tuple[str, Path]:
        """A new version id and a private local folder to build it in."""

    @abstractmethod
    def publish(self, vid: str, folder: Path, manifest: Manifest, step: PublishStep | None = None) -> Path:
        """Seal the built folder with its manifest and make it the current version; returns its local
        folder. `step(n)` is called after each stage: 1 sealed, 2 in place, 3 published (tests kill the
        process in between). A failure before 3 leaves the previous version current."""

    def stage_model(self, name: str) -> None:
        """A build (holding build_lock) is about to embed with the tuned model `name`: where replicas fetch
        models, they can start now rather than once the version is published. Here: nothing to do."""

    @abstractmethod
    def cleanup(self, keep: int = 3) -> list[str]:
        """Remove half-built and never-published versions (unless a build is running) and all but the
        `keep` newest local versions, never the current one. Returns the names removed."""

    @abstractmethod
    def wait_for_publish(self, timeout: float) -> str | None:
        """Block until a version is published or `timeout` seconds pass; the current id either way. What
        a serving process calls in a loop to pick up versions other processes publish."""

    def count(self) -> int:
        return len(self.versions())

    def export_records(self) -> Iterator[dict]:
        current = self.current_id()
        for vid in sorted(self.versions(), key=lambda v: (v == current, v)):  # the current one last
            yield {"version": vid, "folder": self.fetch(vid), "current": vid == current}

    def import_records(self, records: Iterable[dict]) -> int:
        """Each version copied into a build folder and published under its own id."""
        n = 0
        with self.build_lock():
            for record in records:
                _, folder = self.begin()
                shutil.copytree(record["folder"], folder, dirs_exist_ok=True)
                self.publish(record["version"], folder, read_manifest(folder))
                n += 1
        return n

    def close(self) -> None:
        pass


@dataclass
class Content:
    """One backend's stores: what every process of a deployment sees the same."""

    documents: DocumentStore
    dictionary: DictionaryStore
    versions: VersionRegistry
    sessions: SessionStore
    labels: LabelStore
    calibration: CalibrationStore
    resources: list = field(default_factory=list)  # what the stores share (a connection pool): closed last

    def remove_leftovers(self, keep_versions: int) -> list[str]:
        """What killed builds and uploads left behind (run at every start and build; safe while another
        process builds). Returns what was removed."""
        return self.versions.cleanup(keep_versions) + self.documents.remove_leftovers()

    def close(self) -> None:
        for store in (self.calibration, self.labels, self.sessions, self.versions, self.dictionary, self.documents,
                      *self.resources):
            store.close()

