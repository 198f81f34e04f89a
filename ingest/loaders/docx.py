"""Word .docx (python-docx): paragraphs and tables in body order, heading levels from styles/outline levels.

Also holds `check_office_zip`, the container check shared with the .pptx loader (zip bomb limits etc.).
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ingest.document import Block, LoadError, SourceDocument
from ingest.loaders.text import assign_offsets, clean_line, require_text

# Zip-bomb guard, checked on the zip directory BEFORE python-docx/python-pptx open the file.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024  # sum of the members' uncompressed sizes
MAX_COMPRESSION_RATIO = 100  # uncompressed / compressed, whole archive or any single member
RATIO_MIN_BYTES = 1024 * 1024  # ratio checked only for members (and totals) at least this big

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .doc/.ppt/.xls compound file

_KIND = {
    "docx": ("word/document.xml", "Word", ".docx",
             "旧版 Word .doc 不支持，请另存为 .docx / legacy .doc is not supported, save as .docx"),
    "pptx": ("ppt/presentation.xml", "PowerPoint", ".pptx",
             "旧版 PowerPoint .ppt 不支持，请另存为 .pptx / legacy .ppt is not supported, save as .pptx"),
}


def check_office_zip(path: Path, kind: str) -> None:
    """Raise LoadError unless `path` is a sane zip holding a `kind` ('docx' | 'pptx') package."""
    main_part, app, suffix, legacy_msg = _KIND[kind]
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise LoadError(f"无法读取文件 / cannot read the file: {e}") from None
    if not head:
        raise LoadError("空文件 / empty file")
    if head.startswith(OLE_MAGIC):
        raise LoadError(legacy_msg)
    if not zipfile.is_zipfile(path):
        raise LoadError(
            f"不是有效的 {app} 文档（文件已损坏或不是 {suffix}）/ not a valid {app} {suffix} file (corrupt or not a zip package)"
        )
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as e:
        raise LoadError(f"{app} 文件已损坏 / corrupt {suffix} file: {e}") from None
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise LoadError(
            f"文件解压后过大（{total // (1024 * 1024)} MB，上限 {MAX_UNCOMPRESSED_BYTES // (1024 * 1024)} MB），疑似压缩炸弹 / "
            f"file expands to {total} bytes, over the {MAX_UNCOMPRESSED_BYTES} limit (zip bomb?)"
        )
    for size, comp in [(total, packed)] + [(i.file_size, i.compress_size) for i in infos]:
        if size >= RATIO_MIN_BYTES and size > MAX_COMPRESSION_RATIO * max(comp, 1):
            raise LoadError(
                f"文件压缩比异常（> {MAX_COMPRESSION_RATIO}:1），疑似压缩炸弹 / "
                f"compression ratio over {MAX_COMPRESSION_RATIO}:1 (zip bomb?)"
            )
    if main_part not in names:
        other = next((a for k, (part, a, _, _) in _KIND.items() if part in names), None)
        if "xl/workbook.xml" in names:
            other = "Excel"
        hint = f"（看起来是 {other} 文件）" if other else ""
        hint_en = f" (looks like a {other} file)" if other else ""
        raise LoadError(
            f"不是 {app} 文档{hint}，请确认文件类型 / not a {app} document{hint_en}: the zip has no {main_part}"
        )


# ---------------------------------------------------------------- docx

_HEADING_STYLE = re.compile(r"^(?:heading|标题|見出し)\s*(\d)$", re.I)
_TITLE_STYLE = re.compile(r"^(?:title|标题|書名|文档标题)$", re.I)


def _qn(tag: str) -> str:
    from docx.oxml.ns import qn

    return qn(tag)


def _style_heading(style) -> int | None:
    """Heading level from a paragraph style (following basedOn), Title → 1."""
    seen = 0
    while style is not None and seen < 10:
        name = (style.name or "").strip()
        m = _HEADING_STYLE.match(name)
        if m:
            return max(1, int(m.group(1)))
        if _TITLE_STYLE.match(name):
            return 1
        lvl = _outline_level(style.element)
        if lvl is not None:
            return lvl
        try:
            style = style.base_style
        except Exception:
            return None
        seen += 1
    return None


def _outline_level(el) -> int | None:
    ppr = el.find(_qn("w:pPr"))
    if ppr is None:
        return None
    ol = ppr.find(_qn("w:outlineLvl"))
    if ol is None:
        return None
    try:
        v = int(ol.get(_qn("w:val")))
    except (TypeError, ValueError):
        return None
    return v + 1 if 0 <= v < 9 else None  # 9 = body text


def _is_title_style(style) -> bool:
    return style is not None and bool(_TITLE_STYLE.match((style.name or "").strip()))


# --- automatic list numbering (w:numPr), rendered so "一、" / "1." style numbers survive as text

_CN_DIGITS = "零一二三四五六七八九"
_TIANGAN = "甲乙丙丁戊己庚辛壬癸"


def _chinese_number(n: int) -> str:
    if n <= 0:
        return str(n)
    if n < 10:
        return _CN_DIGITS[n]
    if n < 20:
        return "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _CN_DIGITS[n // 10] + "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    return str(n)


def _roman(n: int) -> str:
    vals = [(1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
            (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")]
    out = ""
    for v, s in vals:
        while n >= v:
            out += s
            n -= v
    return out


def _format_number(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "chineseLegalSimplified",
               "ideographDigital", "japaneseCounting", "taiwaneseCounting", "taiwaneseCountingThousand"):
        return _chinese_number(n)
    if fmt in ("ideographTraditional",):
        return _TIANGAN[(n - 1) % 10]
    if fmt == "lowerLetter":
        return chr(ord("a") + (n - 1) % 26)
    if fmt == "upperLetter":
        return chr(ord("A") + (n - 1) % 26)
    if fmt == "lowerRoman":
        return _roman(n)
    if fmt == "upperRoman":
        return _roman(n).upper()
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt in ("decimalEnclosedParen",):
        return f"({n})"
    if fmt == "decimalZero":
        return f"{n:02d}"
    return str(n)


class _Numbering:
    """Counts automatic list numbers per list so numbered paragraphs get their visible prefix back."""

    def __init__(self, document):
        self.levels: dict[tuple[str, int], tuple[str, str, int]] = {}  # (numId, ilvl) -> (fmt, lvlText, start)
        self.abstract_of: dict[str, str] = {}
        self.counters: dict[str, dict[int, int]] = {}
        try:
            root = document.part.numbering_part.element
        except Exception:
            return
        abstract: dict[str, dict[int, tuple[str, str, int]]] = {}
        for an in root.findall(_qn("w:abstractNum")):
            aid = an.get(_qn("w:abstractNumId"))
            abstract[aid] = {}
            for lvl in an.findall(_qn("w:lvl")):
                abstract[aid][int(lvl.get(_qn("w:ilvl"), "0"))] = self._lvl(lvl)
        for num in root.findall(_qn("w:num")):
            nid = num.get(_qn("w:numId"))
            ref = num.find(_qn("w:abstractNumId"))
            aid = ref.get(_qn("w:val")) if ref is not None else None
            self.abstract_of[nid] = aid
            for ilvl, spec in abstract.get(aid, {}).items():
                self.levels[(nid, ilvl)] = spec
            for ov in num.findall(_qn("w:lvlOverride")):
                ilvl = int(ov.get(_qn("w:ilvl"), "0"))
                lvl = ov.find(_qn("w:lvl"))
                if lvl is not None:
                    self.levels[(nid, ilvl)] = self._lvl(lvl)

    @staticmethod
    def _lvl(lvl) -> tuple[str, str, int]:
        def val(tag, default):
            el = lvl.find(_qn(tag))
            return el.get(_qn("w:val"), default) if el is not None else default

        try:
            start = int(val("w:start", "1"))
        except ValueError:
            start = 1
        return val("w:numFmt", "decimal"), val("w:lvlText", ""), start

    def prefix(self, paragraph) -> str:
        ppr = paragraph._p.pPr
        numpr = ppr.numPr if ppr is not None else None
        if numpr is None:
            # numbering may come from the paragraph style
            try:
                st = paragraph.style
                sppr = st.element.pPr if st is not None else None
                numpr = sppr.numPr if sppr is not None else None
            except Exception:
                numpr = None
        if numpr is None or numpr.numId is None:
            return ""
        nid = str(numpr.numId.val)
        ilvl = int(numpr.ilvl.val) if numpr.ilvl is not None else 0
        if nid == "0" or (nid, ilvl) not in self.levels:
            return ""
        fmt, text, _ = self.levels[(nid, ilvl)]
        key = self.abstract_of.get(nid) or nid
        counters = self.counters.setdefault(key, {})
        counters[ilvl] = counters.get(ilvl, self.levels[(nid, ilvl)][2] - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        if fmt == "bullet":
            return "• "
        if fmt == "none":
            return ""

        def repl(m):
            lv = int(m.group(1)) - 1
            spec = self.levels.get((nid, lv))
            n = counters.get(lv, spec[2] if spec else 1)
            return _format_number(n, spec[0] if spec else "decimal")

        rendered = re.sub(r"%(\d)", repl, text)
        if not rendered:
            return ""
        return rendered if rendered.endswith(("、", "．", " ", "\u3000")) else rendered + " "


def _cell_text(cell) -> str:
    parts = [clean_line(p.text).strip() for p in cell.paragraphs]
    return " ".join(p for p in parts if p)


def table_rows(rows: list[list[str]]) -> list[str]:
    """Rows as readable lines: with a header row, 'head：value | head：value'; otherwise 'a | b | c'."""
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return []
    header = rows[0]
    use_header = (
        len(rows) >= 2 and len(header) >= 2 and all(h.strip() for h in header)
        and all(len(h) <= 20 for h in header)
    )
    out = []
    if use_header:
        out.append(" | ".join(header))
        for r in rows[1:]:
            cells = [f"{header[i]}：{c}" if i < len(header) else c for i, c in enumerate(r) if c.strip()]
            out.append(" | ".join(cells))
    else:
        for r in rows:
            out.append(" | ".join(c for c in r if c.strip()))
    return [o for o in out if o.strip()]


def _docx_table_rows(table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        try:
            row_cells = row.cells
        except Exception:
            continue
        for cell in row_cells:
            if id(cell._tc) in seen:  # merged cells repeat
                continue
            seen.add(id(cell._tc))
            cells.append(_cell_text(cell))
        rows.append(cells)
    return rows


def _iter_body(parent_el):
    """Body children in order, descending into content controls (w:sdt)."""
    for child in parent_el.iterchildren():
        tag = child.tag
        if tag == _qn("w:p") or tag == _qn("w:tbl"):
            yield child
        elif tag == _qn("w:sdt"):
            content = child.find(_qn("w:sdtContent"))
            if content is not None:
                yield from _iter_body(content)


def _nest_under_title(blocks: list[Block], title_blocks: list[Block]) -> None:
    """A 'Title'-style paragraph at the top is level 1 and the 'Heading N' sections go one level below it,
    as with an HTML page's <h1> + <h2> sections (so every format gives the same section paths)."""
    if len(title_blocks) != 1:
        return
    first_heading = next((b for b in blocks if b.heading is not None), None)
    if first_heading is not title_blocks[0]:
        return
    for b in blocks:
        if b.heading is not None and b is not title_blocks[0]:
            b.heading = min(b.heading + 1, 9)


def load_docx(path: Path) -> SourceDocument:
    check_office_zip(path, "docx")
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(str(path))
    except LoadError:
        raise
    except Exception as e:  # python-docx raises many kinds (KeyError, ValueError, lxml errors, PackageNotFoundError)
        raise LoadError(f"Word 文件无法打开（已损坏？）/ cannot open the .docx (corrupt?): {type(e).__name__}: {e}") from None

    blocks: list[Block] = []
    warnings: list[str] = []
    title_from_style = None
    title_blocks: list[Block] = []
    try:
        numbering = _Numbering(document)
        body = document.element.body
        for el in _iter_body(body):
            if el.tag == _qn("w:tbl"):
                table = Table(el, document)
                for line in table_rows(_docx_table_rows(table)):
                    blocks.append(Block(text=line, start=0, table=True))
                continue
            p = Paragraph(el, document)
            try:
                style = p.style
            except Exception:
                style = None
            text = clean_line(p.text)
            if not text.strip():
                continue
            level = _outline_level(el)
            if level is None and style is not None:
                level = _style_heading(style)
            prefix = numbering.prefix(p)
            if prefix and not text.lstrip().startswith(prefix.strip()):
                text = prefix + text.lstrip()
            if level is not None:
                heading_text = " ".join(t.strip() for t in text.split("\n") if t.strip())
                blocks.append(Block(text=heading_text, start=0, heading=level))
                if _is_title_style(style):
                    title_blocks.append(blocks[-1])
                    if title_from_style is None:
                        title_from_style = heading_text
            else:
                for line in text.split("\n"):  # soft line breaks
                    if line.strip():
                        blocks.append(Block(text=line.rstrip(), start=0))
    except LoadError:
        raise
    except Exception as e:
        raise LoadError(f"Word 文件内容无法解析 / cannot parse the .docx content: {type(e).__name__}: {e}") from None

    require_text(blocks)
    _nest_under_title(blocks, title_blocks)
    assign_offsets(blocks)
    try:
        core_title = (document.core_properties.title or "").strip()
    except Exception:
        core_title = ""
    first_heading = next((b.text for b in blocks if b.heading is not None), None)
    title = core_title or title_from_style or first_heading or path.stem
    return SourceDocument(path=path, doc_id=path.name, format="docx", title=title, blocks=blocks, warnings=warnings)
