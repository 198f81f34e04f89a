"""Markdown: '#' and setext headings → Block.heading, lists and code kept as text, front matter dropped.

Block.start is the offset of the line in the decoded file (as for .txt)."""
from __future__ import annotations

import re
from pathlib import Path

from ingest.document import Block, LoadError, SourceDocument
from ingest.loaders.text import clean_line, decode, looks_binary, read_source, require_text

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _inline(s: str) -> str:
    """Light inline markup removal: images, links, emphasis, code spans, simple HTML tags."""
    s = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", s)
    s = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", s)
    s = re.sub(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?!\*)", r"\1", s)
    s = re.sub(r"~~(.+?)~~", r"\1", s)
    s = re.sub(r"`([^`]+)`", r"\1", s)
    s = re.sub(r"</?(?:span|b|i|em|strong|u|font|sup|sub|br|mark)\b[^>]*>", "", s, flags=re.I)
    return clean_line(s)


def _front_matter_end(lines: list[str]) -> int:
    """Index of the first line after YAML (---) or TOML (+++) front matter, 0 if there is none."""
    if not lines:
        return 0
    first = lines[0].rstrip("\r\n").strip()
    if first not in ("---", "+++"):
        return 0
    closers = ("---", "...") if first == "---" else ("+++",)
    for i in range(1, min(len(lines), 200)):
        if lines[i].rstrip("\r\n").strip() in closers:
            return i + 1
    return 0


def _front_matter_title(lines: list[str]) -> str | None:
    for line in lines:
        m = re.match(r"^\s*title\s*[:=]\s*[\"']?(.*?)[\"']?\s*$", line)
        if m and m.group(1):
            return m.group(1)
    return None


def load_markdown(path: Path) -> SourceDocument:
    raw = read_source(path)
    text, encoding = decode(raw)
    if text.startswith("\ufeff"):
        text = text[1:]
    if looks_binary(text):
        raise LoadError("文件含二进制内容，不是文本 / file looks binary, not text")

    lines = text.splitlines(keepends=True)
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line)
    skip = _front_matter_end(lines)
    fm_title = _front_matter_title(lines[1:skip - 1]) if skip else None

    blocks: list[Block] = []
    fence = None
    in_comment = False
    prev_para: Block | None = None  # last plain paragraph line (candidate for a setext heading)
    for i in range(skip, len(lines)):
        line = lines[i].rstrip("\r\n")
        start = offsets[i]
        if fence:
            if re.match(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", line):
                fence = None
            elif line.strip():
                blocks.append(Block(text=clean_line(line).rstrip(), start=start))
            continue
        m = _FENCE.match(line)
        if m:
            fence = m.group(1)
            prev_para = None
            continue
        if in_comment:
            if "-->" in line:
                in_comment = False
            continue
        if line.lstrip().startswith("<!--"):
            if "-->" not in line:
                in_comment = True
            line = _HTML_COMMENT.sub("", line)
            if not line.strip():
                continue
        if not line.strip():
            prev_para = None
            continue
        m = _SETEXT.match(line)
        if m and prev_para is not None:
            prev_para.heading = 1 if m.group(1)[0] == "=" else 2
            prev_para = None
            continue
        if _HR.match(line):
            prev_para = None
            continue
        m = _ATX.match(line)
        if m:
            title = _inline((m.group(2) or "").strip())
            if title:
                blocks.append(Block(text=title, start=start, heading=len(m.group(1))))
            prev_para = None
            continue
        stripped = line.strip()
        if stripped.startswith("|") or (stripped.count("|") >= 2 and not _LIST.match(line)):
            if _TABLE_SEP.match(stripped):
                continue
            cells = [_inline(c.strip()) for c in stripped.strip("|").split("|")]
            blocks.append(Block(text=" | ".join(c for c in cells if c), start=start, table=True))
            prev_para = None
            continue
        body = re.sub(r"^\s*(>\s?)+", "", line)  # blockquote markers
        body = _inline(body).rstrip()
        if not body.strip():
            continue
        b = Block(text=body, start=start)
        blocks.append(b)
        prev_para = None if (_LIST.match(line) or line.lstrip().startswith(">")) else b

    for b in blocks:
        if b.heading is not None:
            b.text = b.text.strip()
    require_text(blocks)
    first_heading = next((b.text for b in blocks if b.heading == 1), None) or next(
        (b.text for b in blocks if b.heading is not None), None)
    title = fm_title or first_heading or path.stem
    return SourceDocument(path=path, doc_id=path.name, format="md", title=title, blocks=blocks, encoding=encoding)
