"""Which documents make up the corpus, and the editors' operations on them.

Documents come from the configured read-only folders (KB_DOCS_DIRS: the repository's `seeds/` by default,
never modified) and from the deployment's `DocumentStore` (uploads, kb/state), which wins over a
same-named file in a folder. Deleting a document from a read-only folder excludes its name in the store
instead of touching the file.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingest.model_convert import file_sha256
from kb.settings import Settings
from kb.state import DocumentStore, StoredDocument

MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 200
# Path separators, characters Windows refuses, C0/C1 controls, and invisible bidi/zero-width marks
# (which can disguise a name, e.g. "invoice\u202etxt.exe").
_UNSAFE = re.compile(r"[\\/:*?\"<>|\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


class CorpusError(Exception):
    """An editor's request that cannot be carried out; the message is shown as-is."""


@dataclass(frozen=True)
class CorpusFile:
    doc_id: str  # the file name, unique across the corpus
    uploaded: bool  # in the document store (else in a read-only folder)
    path: Path | None = None  # a local file to read: in a read-only folder, or a stored document's copy
    stored: StoredDocument | None = None  # a stored document's size, hash and upload time

    def sha256(self) -> str:
        return self.stored.sha256 if self.stored is not None else file_sha256(self.path)


def _folder_files(folders: list[Path]) -> tuple[dict[str, Path], list[str]]:
    """The files of the read-only folders by name (a later folder wins), and problems with the folders."""
    problems: list[str] = []
    found: dict[str, Path] = {}
    for folder in folders:
        if not folder.exists():
            problems.append(f"文件夹不存在 / folder not found: {folder}")
            continue
        if not folder.is_dir():
            problems.append(f"不是文件夹 / not a folder: {folder}")
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                found[path.name] = path
    return found, problems


def list_files(settings: Settings, documents: DocumentStore, dirs: list[Path] | None = None,
               local: Mapping[str, Path] | None = None) -> tuple[list[CorpusFile], list[str]]:
    """The corpus, by name, and problems with the folders: the files of `dirs` (default KB_DOCS_DIRS), then
    the stored documents, excluded names left out. A stored document comes with its metadata, or with
    `local[name]` as its path when given (`documents.local_files()`, to read them)."""
    skip = documents.excluded()
    in_folders, problems = _folder_files(dirs if dirs is not None else settings.docs_dirs)
    found = {name: CorpusFile(name, uploaded=False, path=path) for name, path in in_folders.items()}
    if local is None:
        found.update({d.name: CorpusFile(d.name, uploaded=True, stored=d) for d in documents.documents()})
    else:
        found.update({name: CorpusFile(name, uploaded=True, path=path) for name, path in local.items()})
    return sorted((f for f in found.values() if f.doc_id not in skip), key=lambda f: f.doc_id), problems


def safe_name(name: str) -> str:
    """A file name that cannot leave the uploads folder: no path parts, no control characters, bounded."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name:
        raise CorpusError("文件名无效 / invalid file name")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix[:16]
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1]
    # File systems limit names in bytes (255 on ext4): leave room for "(n)" and the upload temp prefix.
    while stem and len(f"{stem}.{suffix}".encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    if not stem.strip(" ."):
        raise CorpusError("文件名无效 / invalid file name")
    return f"{stem}.{suffix}" if suffix else stem


def add_document(settings: Settings, documents: DocumentStore, name: str, data: bytes,
                 replace: bool = False) -> str:
    """Store an upload; returns its document id. A same-named document is replaced only when asked;
    otherwise the upload is renamed "name(2).ext"."""
    name = safe_name(name)
    target = name
    if not replace:
        taken = {f.doc_id for f in list_files(settings, documents)[0]} | {d.name for d in documents.documents()}
        stem, dot, suffix = name.rpartition(".")
        if not dot:
            stem, suffix = name, ""
        n = 2
        while target in taken:
            target = f"{stem}({n}).{suffix}" if suffix else f"{stem}({n})"
            n += 1
    try:
        documents.put(target, data)
    except ValueError:
        raise CorpusError("文件名无效 / invalid file name") from None
    documents.include(target)
    return target


def delete_document(settings: Settings, documents: DocumentStore, doc_id: str) -> None:
    """Remove a document from the corpus (effective at the next re-index)."""
    f = {f.doc_id: f for f in list_files(settings, documents)[0]}.get(doc_id)
    if f is None:
        raise CorpusError(f"没有这个文档 / no such document: {doc_id}")
    if f.uploaded:
        documents.delete(doc_id)
    # Also hide any same-named file in a read-only folder that the upload was shadowing.
    if any(folder.joinpath(doc_id).exists() for folder in settings.docs_dirs):
        documents.exclude(doc_id)
