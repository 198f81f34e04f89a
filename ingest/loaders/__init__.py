"""One loader per format; `load(path)` dispatches on the file suffix.

Every loader raises only LoadError for bad input (message in Chinese + English, shown to editors as-is).
"""
from __future__ import annotations

from pathlib import Path

from ingest.document import LoadError, SourceDocument
from ingest.loaders import docx as _docx
from ingest.loaders import html as _html
from ingest.loaders import markdown as _markdown
from ingest.loaders import pdf as _pdf
from ingest.loaders import pptx as _pptx
from ingest.loaders import text as _text

LOADERS = {
    ".txt": _text.load_txt,
    ".md": _markdown.load_markdown,
    ".markdown": _markdown.load_markdown,
    ".docx": _docx.load_docx,
    ".pdf": _pdf.load_pdf,
    ".pptx": _pptx.load_pptx,
    ".html": _html.load_html,
    ".htm": _html.load_html,
}

SUPPORTED_SUFFIXES = tuple(sorted(LOADERS))

# Known formats we refuse with a specific hint.
UNSUPPORTED = {
    ".doc": "旧版 Word .doc 不支持，请另存为 .docx / legacy .doc is not supported, save as .docx",
    ".ppt": "旧版 PowerPoint .ppt 不支持，请另存为 .pptx / legacy .ppt is not supported, save as .pptx",
    ".xls": "Excel .xls 不支持，请将内容另存为 .docx 或 .txt / Excel .xls is not supported, save the content as .docx or .txt",
    ".xlsx": "Excel .xlsx 不支持，请将内容另存为 .docx 或 .txt / Excel .xlsx is not supported, save the content as .docx or .txt",
    ".wps": "WPS 文字 .wps 不支持，请另存为 .docx / WPS .wps is not supported, save as .docx",
    ".rtf": "RTF 不支持，请另存为 .docx / .rtf is not supported, save as .docx",
}


def load(path: Path) -> SourceDocument:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in UNSUPPORTED:
        raise LoadError(UNSUPPORTED[suffix])
    loader = LOADERS.get(suffix)
    if loader is None:
        raise LoadError(
            f"不支持的文件类型 / unsupported file type: {path.suffix or '(none)'}"
            f"（支持 / supported: {' '.join(SUPPORTED_SUFFIXES)}）"
        )
    try:
        size = path.stat().st_size
    except OSError as e:
        raise LoadError(f"无法读取文件 / cannot read the file: {e}") from None
    if size == 0:
        raise LoadError("空文件 / empty file")
    try:
        return loader(path)
    except LoadError:
        raise
    except Exception as e:  # last line of defence: a loader bug must not crash ingestion
        raise LoadError(f"文件无法读取 / cannot read the file: {type(e).__name__}: {e}") from None
