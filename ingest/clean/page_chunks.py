"""Page-chunk numbering: a web viewer's page chunks ("1、第1章 …,…" / "2、…"), cut mid-sentence, are
recognised by their sequential "N、" prefixes; the numbers go (kept as page numbers), cut sentences are
re-joined, and the comma-separated text boxes of a chunk are split where a heading starts."""
from __future__ import annotations

import bisect
import re

from ingest.clean.boilerplate import BOILER_LINE_RE
from ingest.clean.cleaned import CleanedBlock, CleanReport
from ingest.clean.patterns import HEADING_SEG
from ingest.clean.tracked import TrackedText

_CHUNK_NO = re.compile(r"^(\d{1,3})、")
MIN_CHUNKS = 3  # fewer numbered lines in sequence are an ordinary numbered list
MIN_CHUNK_CHARS = 1500  # so are short ones
MIN_BOX_COMMAS = 5  # a joined chunk with fewer commas is not a row of text boxes


def _chunk_sequence(blocks: list[CleanedBlock]) -> list[int]:
    """Indexes of the blocks that start "1、", "2、", "3、"… in that order."""
    seq, expect = [], 1
    for i, b in enumerate(blocks):
        m = _CHUNK_NO.match(b.text)
        if m and int(m.group(1)) == expect:
            seq.append(i)
            expect += 1
    return seq


def join_page_chunks(blocks: list[CleanedBlock], report: CleanReport) -> list[CleanedBlock]:
    """Sequential "N、" line prefixes are a viewer's page chunks: drop the number, join consecutive chunks
    (the viewer cuts anywhere, mid-sentence included), split the text boxes again, and give every block
    the page number of the chunk it starts in."""
    seq = _chunk_sequence(blocks)
    if len(seq) < MIN_CHUNKS or sum(len(blocks[i].text) for i in seq) < MIN_CHUNK_CHARS:
        return blocks
    seqset = set(seq)
    marks: list[tuple[int, int]] = []  # (source offset where a page chunk starts, page number)
    out: list[CleanedBlock] = []
    for i, b in enumerate(blocks):
        if i not in seqset:
            out.append(b)
            continue
        m = _CHUNK_NO.match(b.text)
        page = int(m.group(1))
        s = TrackedText(b.text, b.offsets).slice(m.end(), len(b.text)).strip()
        if s.pos:
            marks.append((s.pos[0], page))
        if out and out[-1].page is not None and i - 1 in seqset:
            prev = out[-1]
            j = TrackedText.join([TrackedText(prev.text, prev.offsets), s], "")
            out[-1] = CleanedBlock(text=j.text, offsets=j.pos, page=prev.page)
            report.page_chunks_joined += 1
        else:
            out.append(CleanedBlock(text=s.text, offsets=s.pos, page=page, heading=b.heading, table=b.table))
    final: list[CleanedBlock] = []
    for b in out:
        if b.page is None or b.text.count(",") < MIN_BOX_COMMAS:
            final.append(b)
            continue
        final.extend(x for x in _split_text_boxes(b) if not BOILER_LINE_RE.match(x.text))
    starts = [o for o, _ in marks]
    for b in final:
        if b.page is not None and starts:
            k = bisect.bisect_right(starts, b.start) - 1
            if k >= 0:
                b.page = marks[k][1]
    return final


def _split_text_boxes(b: CleanedBlock) -> list[CleanedBlock]:
    """The joined chunk text cut at commas that open a heading-like text box."""
    s = TrackedText(b.text, b.offsets)
    cuts = [0]
    for m in re.finditer(r",", s.text):
        seg_end = s.text.find(",", m.end())
        seg = s.text[m.end(): seg_end if seg_end >= 0 else len(s.text)].strip()
        if HEADING_SEG.match(seg):
            cuts.append(m.start())
            # a short heading box also ends at its own comma
            if seg_end >= 0 and len(seg) <= 30 and not seg.startswith(
                    ("想一想", "练一练", "议一议", "做一做", "单元导读", "学习目标")):
                cuts.append(seg_end)
    cuts.append(len(s.text))
    out = []
    for a, c in zip(cuts, cuts[1:]):
        part = s.slice(a, c)
        t = part.text
        k = 0
        while k < len(t) and t[k] in ", ":
            k += 1
        part = part.slice(k, len(t)).strip()
        if part.text:
            out.append(CleanedBlock(text=part.text, offsets=part.pos, page=b.page))
    return out
