"""`clean(doc)`: a loader's `SourceDocument` through every repair, in order, into a `CleanedDocument` with
the report of what was removed and the warnings an editor sees."""
from __future__ import annotations

from ingest.clean.boilerplate import drop_inline_notices
from ingest.clean.cleaned import CleanedBlock, CleanedDocument, CleanReport
from ingest.clean.lines import clean_line
from ingest.clean.page_chunks import join_page_chunks
from ingest.clean.script import is_traditional
from ingest.clean.site_chrome import drop_site_lines
from ingest.clean.slides import split_deck
from ingest.clean.title import clean_title
from ingest.clean.tracked import TrackedText
from ingest.clean.wrapped import join_wrapped
from ingest.document import SourceDocument
from kb.text import PINYIN_JUNK, match_key

MAX_REMOVED_SHARE = 0.7  # more of the source text removed as boilerplate, and the editor is warned


def _warnings(report: CleanReport, blocks: list[CleanedBlock]) -> list[str]:
    out = []
    if report.mojibake_spans:
        out.append(
            f"检测到 {report.mojibake_spans} 处乱码（共 {report.mojibake_chars} 字），已从正文中去除 / "
            f"{report.mojibake_spans} mojibake spans ({report.mojibake_chars} chars) removed from the text")
    if report.duplicate_blocks_removed:
        out.append(
            f"重复内容 {report.duplicate_blocks_removed} 段已去重 / {report.duplicate_blocks_removed} duplicated "
            "slides/blocks removed")
    removed = report.chars_in - report.chars_out - report.mojibake_chars
    if report.chars_in and report.boilerplate_lines_removed and removed > MAX_REMOVED_SHARE * report.chars_in \
            and report.duplicate_blocks_removed == 0:
        out.append("清洗后正文不足原文的30%，请检查文档 / less than 30% of the text survived cleaning")
    if not blocks:
        out.append("清洗后没有正文 / no text left after cleaning")
    return out


def clean(doc: SourceDocument) -> CleanedDocument:
    report = CleanReport()
    title = clean_title(doc)
    raw_all = "\n".join(b.text for b in doc.blocks)
    report.chars_in = len(raw_all)
    traditional = is_traditional(PINYIN_JUNK.sub("", raw_all))

    blocks = [c for c in (clean_line(b, doc.format, traditional, report) for b in doc.blocks) if c is not None]
    blocks = drop_site_lines(blocks, match_key(title), report)
    # structure repairs: decks, page chunks, wrapped lines
    blocks = split_deck(blocks, report)
    blocks = join_page_chunks(blocks, report)
    blocks = join_wrapped(blocks, report)
    final = []
    for b in blocks:
        s = drop_inline_notices(TrackedText(b.text, b.offsets))
        if s.text:
            b.text, b.offsets = s.text, s.pos
            final.append(b)
    report.chars_out = sum(len(b.text) for b in final)
    report.warnings.extend(_warnings(report, final))
    return CleanedDocument(doc_id=doc.doc_id, title=title, format=doc.format, blocks=final, report=report,
                           traditional=traditional, source=doc)
