"""PowerPoint .pptx (python-pptx): per slide the title (heading 1), body text with bullet levels, tables,
then speaker notes ("备注：…"); every block carries page = slide number."""
from __future__ import annotations

import re
from pathlib import Path

from ingest.document import Block, LoadError, SourceDocument
from ingest.loaders.docx import check_office_zip, table_rows
from ingest.loaders.text import assign_offsets, clean_line, require_text

BULLET = "• "
INDENT = "  "
_LITERAL_MARKER = re.compile(
    r"^\s*(\d+[.、．)）]|[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[)）]|[①-⑳]|[•·●○◆■▪\-*])"
)


def _skip_placeholder(shape) -> bool:
    """Slide number, date and footer placeholders are page furniture, not content."""
    try:
        if not shape.is_placeholder:
            return False
        from pptx.enum.shapes import PP_PLACEHOLDER

        return shape.placeholder_format.type in (
            PP_PLACEHOLDER.SLIDE_NUMBER, PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.HEADER,
        )
    except Exception:
        return False


def _is_title(shape) -> bool:
    try:
        if not shape.is_placeholder:
            return False
        from pptx.enum.shapes import PP_PLACEHOLDER

        return shape.placeholder_format.type in (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE,
                                                  PP_PLACEHOLDER.VERTICAL_TITLE)
    except Exception:
        return False


def _position(shape) -> tuple[int, int]:
    try:
        return (shape.top if shape.top is not None else 0, shape.left if shape.left is not None else 0)
    except Exception:
        return (0, 0)


def _flatten(shapes):
    """Shapes in reading order (top to bottom, then left to right), group shapes expanded."""
    out = []
    for shape in sorted(shapes, key=_position):
        try:
            from pptx.enum.shapes import MSO_SHAPE_TYPE

            if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
                out.extend(_flatten(shape.shapes))
                continue
        except Exception:
            pass
        out.append(shape)
    return out


def _paragraph_lines(text_frame) -> list[str]:
    lines = []
    for para in text_frame.paragraphs:
        text = clean_line("".join(r.text for r in para.runs) if para.runs else para.text)
        # vertical tab / line breaks inside a paragraph come through as \v or \n
        parts = [t.strip() for t in text.replace("\v", "\n").split("\n") if t.strip()]
        if not parts:
            continue
        level = para.level or 0
        marker = "" if _LITERAL_MARKER.match(parts[0]) else BULLET  # keep "1. …", "一、…" as typed
        first = (INDENT * level + marker + parts[0]) if level >= 1 else parts[0]
        lines.append(first)
        lines.extend((INDENT * level + p) if level >= 1 else p for p in parts[1:])
    return lines


def _table_lines(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells = []
        for cell in row.cells:
            try:
                if cell.is_spanned:
                    continue
            except Exception:
                pass
            cells.append(" ".join(clean_line(cell.text).split()))
        rows.append(cells)
    return table_rows(rows)


def load_pptx(path: Path) -> SourceDocument:
    check_office_zip(path, "pptx")
    try:
        from pptx import Presentation

        prs = Presentation(str(path))
        slides = list(prs.slides)
    except LoadError:
        raise
    except Exception as e:
        raise LoadError(
            f"PowerPoint 文件无法打开（已损坏？）/ cannot open the .pptx (corrupt?): {type(e).__name__}: {e}"
        ) from None

    blocks: list[Block] = []
    first_title = None
    try:
        for no, slide in enumerate(slides, start=1):
            title_shape = None
            try:
                title_shape = slide.shapes.title
            except Exception:
                title_shape = None
            if title_shape is not None and title_shape.has_text_frame:
                title = " ".join(clean_line(title_shape.text_frame.text).split())
                if title:
                    blocks.append(Block(text=title, start=0, heading=1, page=no))
                    if first_title is None:
                        first_title = title
            for shape in _flatten(slide.shapes):
                if title_shape is not None and shape.shape_id == title_shape.shape_id:
                    continue
                if _skip_placeholder(shape):
                    continue
                if getattr(shape, "has_table", False) and shape.has_table:
                    for line in _table_lines(shape.table):
                        blocks.append(Block(text=line, start=0, page=no, table=True))
                elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
                    for line in _paragraph_lines(shape.text_frame):
                        blocks.append(Block(text=line, start=0, page=no))
            if slide.has_notes_slide:
                notes_tf = slide.notes_slide.notes_text_frame
                if notes_tf is not None:
                    lines = [ln.strip() for ln in clean_line(notes_tf.text).replace("\v", "\n").split("\n")]
                    lines = [ln for ln in lines if ln]
                    for i, line in enumerate(lines):
                        blocks.append(Block(text=("备注：" + line) if i == 0 else line, start=0, page=no))
    except LoadError:
        raise
    except Exception as e:
        raise LoadError(
            f"PowerPoint 文件内容无法解析 / cannot parse the .pptx content: {type(e).__name__}: {e}"
        ) from None

    require_text(blocks)
    assign_offsets(blocks)
    try:
        core_title = (prs.core_properties.title or "").strip()
    except Exception:
        core_title = ""
    title = first_title or core_title or path.stem
    return SourceDocument(path=path, doc_id=path.name, format="pptx", title=title, blocks=blocks)
