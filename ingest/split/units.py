"""Units: a heading (or case title) with its body blocks, found in one walk over the cleaned blocks.

The walker keeps the heading path (a stack of the open headings) and the unit being filled, and hands each
block to the first structure that claims it: a case marker (【案例】, 案例导入, 案例:…) opens a case, whose
title may follow on the next short line; a heading closes the headings of its rank and below and opens a
unit, unless it repeats one already on the path (a running header, "1.1 认识客户服务" printed on every
slide); a slide of a run-together deck is its own unit or continues the slide before it; a narrative
paragraph is a case of its own; anything else is body text of the current unit. A long paragraph after a
list of short items (法则1, 法则2, …) closes the list. A run of three or more heading lines with no text
between them is a table of contents, not headings.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ingest.clean import CleanedBlock, CleanedDocument
from ingest.split.headings import (LIST_ITEM_RANK, RANK_CN_PAREN, SENT_PUNCT, SHORT_LINE, Heading,
                                   detect_heading, format_offset, heading_title, inline_sections,
                                   is_indented_heading, number_key)
from ingest.split.kinds import KIND_CASE, KIND_OTHER, KIND_PRINCIPLE, case_mark, is_story
from ingest.split.pieces import Piece, piece_of
from ingest.split.sizes import CASE_MAX_CHARS, MAX_CHARS, SLIDE_RUN_SLACK
from ingest.split.slides import slide_section, slide_title
from kb.text import match_key, to_simplified

# What the walker expects of the next block.
EXPECT_ANY = "any structure"
EXPECT_CASE_TITLE = "case title"  # after a bare case marker: a short line next is the case's title

MIN_TOC_RUN = 3  # heading lines in a row that make a table of contents
DIVIDER_SLIDE_CHARS = 40  # a slide this short that is a chapter-level heading is a divider
STORY_TITLE_CHARS = 16
LIST_CLOSER_CHARS = 150  # a paragraph that closes a list of items is at least this long …
LIST_CLOSER_FACTOR = 3  # … and this many times the items' median first paragraph
MIN_LIST_ITEMS = 3


@dataclass
class Unit:
    kind: str
    title: str
    section: list[str]  # heading path, outermost first
    pieces: list[Piece] = field(default_factory=list)
    heading_rank: float | None = None  # the rank of the heading that opened it (None: not a heading)
    front: bool = False  # before the first heading of the document
    story: bool = False  # a narrative paragraph taken as a case

    @property
    def size(self) -> int:
        return sum(len(p.text) for p in self.pieces)


@dataclass
class _OpenHeading:
    rank: float
    title: str
    key: str | None  # its numbering ("1.1", "第1章")


def _table_of_contents(blocks: list[CleanedBlock], explicit: bool) -> set[int]:
    """Indexes of blocks in a run of whole-line headings that mostly do not nest deeper line by line.
    Indented short lines (bullets) are weak headings: a run of them is a list, not a table of contents."""
    toc: set[int] = set()
    hs = [detect_heading(b, explicit) if not b.slide else None for b in blocks]
    i = 0
    while i < len(blocks):
        j = i
        while j < len(blocks) and hs[j] is not None and hs[j].whole and not is_indented_heading(hs[j]):
            j += 1
        if j - i >= MIN_TOC_RUN and sum(1 for k in range(i, j - 1) if hs[k + 1].rank <= hs[k].rank) >= 2:
            toc.update(range(i, j))
        i = max(j, i + 1)
    return toc


class _Walker:
    def __init__(self, doc_title: str, explicit: bool):
        self.doc_title = doc_title
        self.offset = format_offset(explicit)
        self.stack: list[_OpenHeading] = []
        self.units: list[Unit] = []
        self.cur: Unit | None = None
        self.seen_heading = False
        self.expect = EXPECT_ANY
        self.item_bodies: dict[float, list[int]] = {}  # first-paragraph sizes of list items, by rank

    def path(self) -> list[str]:
        return [h.title for h in self.stack]

    def open_unit(self, kind: str, title: str, rank: float | None = None,
                  section: list[str] | None = None) -> Unit:
        self.cur = Unit(kind=kind, title=title, section=self.path() if section is None else section,
                        heading_rank=rank, front=not self.seen_heading)
        self.units.append(self.cur)
        return self.cur

    def add(self, b: CleanedBlock, h: Heading | None, prev_text: str, next_text: str) -> None:
        """h: the heading the block is (None inside a table of contents); prev/next_text: the neighbour
        blocks' text (for slide titles)."""
        text = b.text.strip()
        if not text:
            return
        if b.new_article:
            self.stack.clear()
            self.cur = None
        if not b.slide and self._case_marker(b, text):
            return
        if self._case_title(b, text):
            return
        if b.slide and not self._is_divider_slide(h, text):
            h = None
        if h and self._heading(b, h):
            return
        if b.slide:
            self._slide(b, text, prev_text, next_text)
            return
        if self._story(b, text):
            return
        self._body(b, text)

    def _case_marker(self, b: CleanedBlock, text: str) -> bool:
        title = case_mark(text)
        if title is None:
            return False
        u = self.open_unit(KIND_CASE, title or "案例")
        u.pieces.append(piece_of(b))  # the marker line is kept, for readability
        self.expect = EXPECT_ANY if title else EXPECT_CASE_TITLE
        return True

    def _case_title(self, b: CleanedBlock, text: str) -> bool:
        if self.expect != EXPECT_CASE_TITLE or self.cur is None or self.cur.kind != KIND_CASE:
            return False
        self.expect = EXPECT_ANY
        if len(text) <= SHORT_LINE and not SENT_PUNCT.search(text.rstrip("?？!！")):
            self.cur.title = text
            self.cur.pieces.append(piece_of(b))
            return True
        return False

    def _is_divider_slide(self, h: Heading | None, text: str) -> bool:
        """A slide that is a chapter-level heading alone (the only slides whose headings count)."""
        return bool(h) and h.whole and len(text) <= DIVIDER_SLIDE_CHARS and h.rank <= RANK_CN_PAREN + self.offset

    def _heading(self, b: CleanedBlock, h: Heading) -> bool:
        """Opens the heading's unit; a running header is skipped when it is the whole line, else its line
        is left to the structures after headings."""
        key, tkey = number_key(h.title), match_key(h.title)
        if any((key and key == o.key) or (tkey and tkey == match_key(o.title)) for o in self.stack):
            return h.whole
        while self.stack and self.stack[-1].rank >= h.rank:
            self.stack.pop()
        self.stack.append(_OpenHeading(h.rank, h.title, key))
        self.seen_heading = True
        kind = KIND_CASE if "案例" in to_simplified(h.title) else KIND_PRINCIPLE
        self.open_unit(kind, h.title, h.rank).pieces.append(piece_of(b))
        return True

    def _slide(self, b: CleanedBlock, text: str, prev_text: str, next_text: str) -> None:
        sec = slide_section(self.path(), b.labels)
        title = slide_title(text, prev_text, next_text)
        kind = KIND_CASE if any("案例" in to_simplified(s) for s in sec) else KIND_PRINCIPLE
        cur = self.cur
        limit = CASE_MAX_CHARS if kind == KIND_CASE else MAX_CHARS + SLIDE_RUN_SLACK
        if (cur is not None and cur.pieces and cur.section[:-1] == sec and cur.kind == kind and not cur.heading_rank
                and len(title) >= 4 and match_key(cur.title)[:4] == match_key(title)[:4]
                and cur.size + len(text) <= limit):
            cur.pieces.append(piece_of(b))  # the same topic over several slides
            return
        self.open_unit(kind, title, section=sec + [title]).pieces.append(piece_of(b))

    def _story(self, b: CleanedBlock, text: str) -> bool:
        """A narrative paragraph outside a case: a case unit of its own."""
        if not is_story(text) or (self.cur is not None and self.cur.kind == KIND_CASE):
            return False
        u = self.open_unit(KIND_CASE, heading_title(text, STORY_TITLE_CHARS))
        u.pieces.append(piece_of(b))
        u.story = True
        return True

    def _closes_list(self, text: str) -> bool:
        """A long paragraph after a list of short items (法则N …) belongs to the list's parent."""
        cur = self.cur
        if not (cur is not None and cur.kind != KIND_CASE and cur.heading_rank is not None
                and cur.heading_rank >= LIST_ITEM_RANK and len(cur.pieces) >= 2 and self.stack
                and self.stack[-1].rank == cur.heading_rank):
            return False
        sizes = self.item_bodies.get(cur.heading_rank, [])
        return (len(sizes) >= MIN_LIST_ITEMS and len(text) >= LIST_CLOSER_CHARS
                and len(text) > LIST_CLOSER_FACTOR * sorted(sizes)[len(sizes) // 2])

    def _body(self, b: CleanedBlock, text: str) -> None:
        if self._closes_list(text):
            self.stack.pop()
            self.cur = None
        cur = self.cur
        if cur is not None and cur.heading_rank is not None and len(cur.pieces) == 1:
            self.item_bodies.setdefault(cur.heading_rank, []).append(len(text))
        if cur is None or cur.story:
            kind = KIND_PRINCIPLE if self.seen_heading else KIND_OTHER
            cur = self.open_unit(kind, self.stack[-1].title if self.stack else self.doc_title)
        cur.pieces.append(piece_of(b))


def units(doc: CleanedDocument) -> list[Unit]:
    explicit = any(b.heading is not None for b in doc.blocks)
    blocks = [part for b in doc.blocks for part in inline_sections(b)]
    toc = _table_of_contents(blocks, explicit)
    walker = _Walker(doc.title, explicit)
    texts = [b.text for b in blocks]
    for i, b in enumerate(blocks):
        h = detect_heading(b, explicit) if i not in toc else None
        walker.add(b, h, texts[i - 1] if i > 0 else "", texts[i + 1] if i + 1 < len(texts) else "")
    return walker.units
