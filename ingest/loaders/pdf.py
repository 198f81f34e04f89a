"""PDF (pypdf): text per page, repeated headers/footers and page numbers removed, wrapped lines re-joined."""
from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

from ingest.document import Block, LoadError, SourceDocument
from ingest.loaders.text import assign_offsets, clean_line

HEADER_FOOTER_MIN_SHARE = 0.5  # a top/bottom line repeated on at least this share of pages is furniture
EDGE_LINES = 3  # how many lines at the top and bottom of a page count as header/footer zone
MIN_TEXT_CHARS = 20  # fewer non-space characters in the whole file → treated as scanned
FULL_LINE_SHARE = 0.8  # a line this close to the page's full line width was wrapped by the PDF
HEADING_SIZE_RATIO = 1.15  # short lines set this much larger than the body text are headings
MAX_HEADING_LEVELS = 4
HEADING_MAX_CHARS = 40

SCANNED_MSG = (
    "扫描版 PDF，没有文字层，请先做文字识别（OCR）或提供原始文档 / "
    "scanned PDF without a text layer: run OCR or supply the original document"
)

_PAGE_NUMBER = re.compile(
    r"^\s*(?:"
    r"[-—–－]?\s*\d{1,4}\s*[-—–－]?"  # 3, - 3 -, —3—
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/／]?\s*共\s*\d{1,4}\s*页)?"  # 第3页 / 第3页 共10页
    r"|共\s*\d{1,4}\s*页\s*[,，]?\s*第\s*\d{1,4}\s*页"
    r"|\d{1,4}\s*[/／]\s*\d{1,4}"  # 3/10
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?"  # Page 3 of 10
    r"|[ivxlcdm]{1,6}"  # roman page numbers
    r")\s*$",
    re.I,
)

# Lines that start a new paragraph/item (never glued to the previous line).
_STRUCTURE_START = re.compile(
    r"^\s*(?:"
    r"[一二三四五六七八九十百]+[、.．]"
    r"|[（(][一二三四五六七八九十百\d]+[)）]"
    r"|\d+(?:\.\d+)*[、.．)）]"
    r"|[①-⑳]"
    r"|第[一二三四五六七八九十百千\d]+[章节条部篇款]"
    r"|【"
    r"|[•·●○◆◇■□▪▶►➢✓✔★☆\-*–—]\s*"
    r"|[A-Za-z][.)、]\s"
    r"|(?:问|答|Q|A)[:：]"
    r"|备注[:：]|注[:：]"
    r")"
)
_SENTENCE_END = tuple("。！？；：!?;:…」』”）)】")
_CJK_CHAR = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")


def _norm(line: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", line)).strip()


def _width(s: str) -> int:
    return sum(2 if _CJK_CHAR.match(c) else 1 for c in s)


class _Line(str):
    """A text line that remembers its (character-weighted) font size."""

    size: float = 0.0


def _scale(tm, cm) -> float:
    try:
        a, b, c, d = (tm[0] * cm[0] + tm[1] * cm[2], tm[0] * cm[1] + tm[1] * cm[3],
                      tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
        det = abs(a * d - b * c)
        return math.sqrt(det) if det > 0 else 1.0
    except Exception:
        return 1.0


def _extract_lines(page) -> list[_Line]:
    """Page text split into lines, each with the font size most of its characters are set in."""
    chunks: list[tuple[str, float]] = []

    def visit(text, cm, tm, font_dict, font_size):
        if text:
            try:
                size = float(font_size or 0) * _scale(tm, cm)
            except Exception:
                size = 0.0
            chunks.append((text, round(size, 1)))

    text = page.extract_text(visitor_text=visit) or ""
    if "".join(c[0] for c in chunks) != text:  # visitor out of step with the text: no sizes
        chunks = [(text, 0.0)]
    lines: list[_Line] = []
    cur, sizes = [], Counter()
    for chunk, size in chunks + [("\n", 0.0)]:
        parts = chunk.split("\n")
        for i, part in enumerate(parts):
            if i > 0:
                line = _Line(clean_line("".join(cur)).strip())
                if line:
                    line.size = sizes.most_common(1)[0][0] if sizes else 0.0
                    lines.append(line)
                cur, sizes = [], Counter()
            if part:
                cur.append(part)
                if part.strip():
                    sizes[size] += len(part.strip())
    return lines


def _heading_levels(pages: list[list[_Line]]) -> dict[float, int]:
    """Font sizes clearly above the body size → heading levels (largest = 1), at most MAX_HEADING_LEVELS."""
    weight: Counter[float] = Counter()
    for lines in pages:
        for ln in lines:
            weight[getattr(ln, "size", 0.0)] += len(ln)
    if not weight:
        return {}
    body = weight.most_common(1)[0][0]
    if body <= 0:
        return {}
    bigger = sorted({s for s in weight if s >= HEADING_SIZE_RATIO * body}, reverse=True)
    return {s: i + 1 for i, s in enumerate(bigger[:MAX_HEADING_LEVELS])}


def _is_heading(line: str, levels: dict[float, int]) -> int | None:
    level = levels.get(getattr(line, "size", 0.0))
    if level is None or len(line) > HEADING_MAX_CHARS or line.endswith(("。", "；", ".", ";", "，", ",")):
        return None
    return level


def _strip_furniture(pages: list[list[str]]) -> list[list[str]]:
    """Remove header/footer lines repeated across pages and page-number-only lines at page edges."""
    n = len(pages)
    repeated: set[str] = set()
    if n >= 2:
        counts: Counter[str] = Counter()
        for lines in pages:
            zone = set(_norm(x) for x in lines[:EDGE_LINES] + lines[-EDGE_LINES:])
            counts.update(zone)
        need = max(2, math.ceil(HEADER_FOOTER_MIN_SHARE * n))
        repeated = {k for k, c in counts.items() if c >= need}
    out = []
    for lines in pages:
        keep = []
        last = len(lines) - 1
        for i, line in enumerate(lines):
            at_edge = i < EDGE_LINES or i > last - EDGE_LINES
            if at_edge and _norm(line) in repeated:
                continue
            # bare numbers only at the page edge (mid-page they may be content); "第3页", "- 3 -" anywhere
            if _PAGE_NUMBER.match(line) and (at_edge or not re.fullmatch(r"\d+|[ivxlcdm]+", line, re.I)):
                continue
            keep.append(line)
        out.append(keep)
    return out


def _should_join(prev: str, nxt: str, full: float) -> bool:
    if not prev or not nxt:
        return False
    if prev.endswith(_SENTENCE_END):
        return False
    if _STRUCTURE_START.match(nxt):
        return False
    if _STRUCTURE_START.match(prev) and _width(prev) < 0.6 * full:  # a short heading line
        return False
    return _width(prev) >= FULL_LINE_SHARE * full


def _glue(prev: str, nxt: str) -> str:
    a, b = prev[-1], nxt[0]
    if a.isascii() and b.isascii() and a.isalnum() and b.isalnum():
        if a == "-" and len(prev) > 1:
            return prev[:-1] + nxt
        return prev + " " + nxt
    return prev + nxt


def _full_width(pages: list[list[str]], levels: dict[float, int]) -> float:
    widths = sorted(_width(x) for lines in pages for x in lines if _is_heading(x, levels) is None)
    if not widths:
        return 0.0
    return widths[int(0.9 * (len(widths) - 1))]


def _paragraphs(pages: list[list[str]]) -> list[Block]:
    """Re-join lines the PDF wrapped (also across a page break); a block keeps the page it starts on."""
    levels = _heading_levels(pages)
    full = _full_width(pages, levels)
    blocks: list[Block] = []
    last_line = ""
    for no, lines in enumerate(pages, start=1):
        for line in lines:
            level = _is_heading(line, levels)
            if level is not None:
                # a heading wrapped onto two lines in the same size continues the previous heading block
                if (blocks and blocks[-1].heading == level and blocks[-1].page == no
                        and _width(last_line) >= FULL_LINE_SHARE * full * 0.9):
                    blocks[-1].text = _glue(blocks[-1].text, line)
                else:
                    blocks.append(Block(text=str(line), start=0, page=no, heading=level))
            elif blocks and blocks[-1].heading is None and _should_join(last_line, line, full):
                blocks[-1].text = _glue(blocks[-1].text, line)
            else:
                blocks.append(Block(text=str(line), start=0, page=no))
            last_line = line
    return blocks


def _title(reader, path: Path, blocks: list[Block]) -> str:
    try:
        meta = reader.metadata
        t = (meta.title if meta is not None else None) or ""
    except Exception:
        t = ""
    t = re.sub(r"^Microsoft (?:Word|PowerPoint) - ", "", str(t)).strip()
    t = re.sub(r"\.(?:docx?|pptx?|pdf)$", "", t, flags=re.I).strip()
    if not t or t.lower() in {"untitled", "无标题"}:
        first = next((b for b in blocks if b.heading is not None), None)
        return first.text if first is not None and first.page == 1 else path.stem
    return t


def load_pdf(path: Path) -> SourceDocument:
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError as e:
        raise LoadError(f"无法读取文件 / cannot read the file: {e}") from None
    if not head:
        raise LoadError("空文件 / empty file")
    if b"%PDF" not in head:
        raise LoadError("不是有效的 PDF 文件（已损坏？）/ not a valid PDF file (corrupt?)")
    try:
        from pypdf import PdfReader

        reader = PdfReader(str(path), strict=False)
    except Exception as e:
        raise LoadError(f"PDF 文件已损坏，无法打开 / corrupt PDF, cannot open it: {type(e).__name__}: {e}") from None

    try:
        encrypted = reader.is_encrypted
    except Exception:
        encrypted = False
    if encrypted:
        ok = False
        try:
            ok = bool(reader.decrypt(""))
        except Exception:
            ok = False
        if not ok:
            raise LoadError("PDF 已加密（需要密码），请提供未加密的版本 / the PDF is encrypted (password protected): "
                            "supply an unencrypted copy")

    warnings: list[str] = []
    pages: list[list[_Line]] = []
    try:
        page_objs = list(reader.pages)
    except Exception as e:
        raise LoadError(f"PDF 文件已损坏，无法读取页面 / corrupt PDF, cannot read its pages: {type(e).__name__}: {e}") from None
    if not page_objs:
        raise LoadError("PDF 没有页面 / the PDF has no pages")
    for no, page in enumerate(page_objs, start=1):
        try:
            lines = _extract_lines(page)
        except Exception as e:
            warnings.append(f"第 {no} 页无法提取文字 / page {no}: text extraction failed ({type(e).__name__})")
            lines = []
        pages.append(lines)

    if sum(len(re.sub(r"\s", "", x)) for lines in pages for x in lines) < MIN_TEXT_CHARS:
        raise LoadError(SCANNED_MSG)
    empty = [str(i) for i, lines in enumerate(pages, start=1) if not lines]
    if empty:
        warnings.append(f"这些页没有文字层（扫描页？）/ pages without a text layer (scanned?): {', '.join(empty)}")

    pages = _strip_furniture(pages)
    blocks = _paragraphs(pages)
    if not blocks:
        raise LoadError(SCANNED_MSG)
    assign_offsets(blocks)
    return SourceDocument(path=path, doc_id=path.name, format="pdf", title=_title(reader, path, blocks),
                          blocks=blocks, warnings=warnings)
