"""Which files make up the corpus, and the editors' operations on them.

Documents come from the configured folders (the repository's `seeds/` by default, never modified) and from
the uploads folder in the data directory. Deleting a document from a read-only folder records it in
`excluded.json` instead of touching the file.
"""
from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kb.settings import Settings

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
    path: Path
    uploaded: bool


def _excluded_path(settings: Settings) -> Path:
    return settings.root / "excluded.json"


def excluded(settings: Settings) -> set[str]:
    try:
        return set(json.loads(_excluded_path(settings).read_text("utf-8")))
    except FileNotFoundError:
        return set()


def _write_excluded(settings: Settings, names: set[str]) -> None:
    path = _excluded_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(sorted(names), ensure_ascii=False), "utf-8")
    os.replace(tmp, path)


def list_files(settings: Settings, dirs: list[Path] | None = None) -> tuple[list[CorpusFile], list[str]]:
    """All corpus files (uploads win over a same-named file elsewhere) and problems with the folders."""
    problems: list[str] = []
    found: dict[str, CorpusFile] = {}
    skip = excluded(settings)
    folders = dirs if dirs is not None else settings.all_docs_dirs
    for folder in folders:
        uploaded = folder.resolve() == settings.uploads_dir.resolve()
        if not folder.exists():
            if not uploaded:
                problems.append(f"文件夹不存在 / folder not found: {folder}")
            continue
        if not folder.is_dir():
            problems.append(f"不是文件夹 / not a folder: {folder}")
            continue
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.name.startswith(".") or path.name in skip:
                continue
            found[path.name] = CorpusFile(doc_id=path.name, path=path, uploaded=uploaded)
    return sorted(found.values(), key=lambda f: f.doc_id), problems


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


def add_document(settings: Settings, name: str, data: bytes, replace: bool = False) -> CorpusFile:
    """Store an upload. A same-named document is replaced only when asked; otherwise it is renamed."""
    folder = settings.uploads_dir
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_name(name)
    target = folder / name
    if not replace:
        taken = {f.doc_id for f in list_files(settings)[0]}
        stem, dot, suffix = name.rpartition(".")
        if not dot:
            stem, suffix = name, ""
        n = 2
        while target.name in taken or target.exists():
            target = folder / (f"{stem}({n}).{suffix}" if suffix else f"{stem}({n})")
            n += 1
    if target.resolve().parent != folder.resolve():
        raise CorpusError("文件名无效 / invalid file name")
    tmp = folder / f".upload-{os.getpid()}-{target.name}"
    tmp.write_bytes(data)
    os.replace(tmp, target)
    names = excluded(settings)
    if target.name in names:
        _write_excluded(settings, names - {target.name})
    return CorpusFile(doc_id=target.name, path=target, uploaded=True)


def delete_document(settings: Settings, doc_id: str) -> None:
    """Remove a document from the corpus (effective at the next re-index)."""
    files = {f.doc_id: f for f in list_files(settings)[0]}
    f = files.get(doc_id)
    if f is None:
        raise CorpusError(f"没有这个文档 / no such document: {doc_id}")
    if f.uploaded:
        f.path.unlink()
    # Also hide any same-named file in a read-only folder that the upload was shadowing.
    if any(folder.joinpath(doc_id).exists() for folder in settings.docs_dirs):
        _write_excluded(settings, excluded(settings) | {doc_id})
