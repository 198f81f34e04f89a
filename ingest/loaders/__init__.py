"""One loader per format; `load(path)` dispatches on the file suffix."""
from __future__ import annotations

from pathlib import Path

from ingest.document import LoadError, SourceDocument
from ingest.loaders import text as _text

LOADERS = {
    ".txt": _text.load_txt,
}

SUPPORTED_SUFFIXES = tuple(sorted(LOADERS))


def load(path: Path) -> SourceDocument:
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(f"不支持的文件类型 / unsupported file type: {path.suffix or '(none)'}")
    if path.stat().st_size == 0:
        raise LoadError("空文件 / empty file")
    return loader(path)
