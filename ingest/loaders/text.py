"""Plain text in UTF-8 (with or without BOM), GB18030/GBK or Big5."""
from __future__ import annotations

from pathlib import Path

from ingest.document import Block, LoadError, SourceDocument


def decode(raw: bytes) -> tuple[str, str]:
    """Return (text, encoding). UTF-8 first (strict), then charset detection."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise LoadError("无法识别文本编码 / cannot detect the text encoding (binary file?)")
    return str(best), best.encoding


def blocks_from_text(text: str) -> list[Block]:
    blocks, pos = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if body.strip():
            blocks.append(Block(text=body, start=pos))
        pos += len(line)
    return blocks


def load_txt(path: Path) -> SourceDocument:
    text, encoding = decode(path.read_bytes())
    if "\x00" in text:
        raise LoadError("文件含二进制内容 / file looks binary, not text")
    return SourceDocument(
        path=path, doc_id=path.name, format="txt", title=path.stem,
        blocks=blocks_from_text(text), encoding=encoding,
    )
