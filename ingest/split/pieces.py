"""Pieces of text with their source offsets, how a long unit is cut (into sentences, at commas when a
sentence is too long, and into chunks near a target size) and how pieces are laid out as a passage's text."""
from __future__ import annotations

from dataclasses import dataclass

from ingest.clean import CleanedBlock
from ingest.clean.cleaned import SourceSpan
from ingest.split.sizes import MIN_CHARS
from ingest.split.slides import itemize
from kb.sentences import sentence_spans


@dataclass
class Piece(SourceSpan):
    text: str
    offsets: list[int]
    page: int | None = None
    slide: bool = False  # a slide of a run-together deck: its items are laid out on lines (slides.py)

    def cut(self, a: int, b: int) -> "Piece":
        return Piece(self.text[a:b], self.offsets[a:b], self.page, self.slide)


def piece_of(b: CleanedBlock) -> Piece:
    return Piece(b.text, b.offsets, b.page, b.slide)


def sentences(p: Piece) -> list[Piece]:
    """The piece cut into its sentences (kb.sentences: the one rule for ingest, units and highlights)."""
    return [p.cut(a, b) for a, b in sentence_spans(p.text)]


def hard_cut(p: Piece, size: int) -> list[Piece]:
    """Cut a piece without sentence ends at commas, else at fixed width."""
    out, start = [], 0
    while len(p.text) - start > size:
        window = p.text[start:start + size]
        m = max(window.rfind(c) for c in ",，、 ")
        cut = start + (m + 1 if m > size // 3 else size)
        out.append(p.cut(start, cut))
        start = cut
    out.append(p.cut(start, len(p.text)))
    return out


def chunk(pieces: list[Piece], target: int, limit: int) -> list[list[Piece]]:
    """Group pieces into chunks near `target` chars; pieces longer than `limit` are cut at sentences."""
    flat: list[Piece] = []
    for p in pieces:
        if len(p.text) > limit:
            for s in sentences(p):
                flat.extend(hard_cut(s, limit) if len(s.text) > limit else [s])
        else:
            flat.append(p)
    chunks: list[list[Piece]] = [[]]
    size = 0
    for p in flat:
        if chunks[-1] and size + len(p.text) > target and size >= target * 0.4:
            chunks.append([])
            size = 0
        chunks[-1].append(p)
        size += len(p.text)
    if len(chunks) > 1 and sum(len(p.text) for p in chunks[-1]) < MIN_CHARS:  # no tiny last chunk
        tail = chunks.pop()
        chunks[-1].extend(tail)
    return [c for c in chunks if c]


def lay_out(pieces: list[Piece]) -> tuple[str, list[int]]:
    """The pieces' text, one line each (blank pieces left out), a slide's items on lines of their own
    (slides.py); and the positions of the line breaks that only lay out items (the source printed them on
    one line)."""
    lines, breaks, size = [], [], 0
    for p in pieces:
        t = p.text.strip()
        if not t:
            continue
        if lines:
            size += 1  # the line break between pieces
        if p.slide:
            t, inner = itemize(t)
            breaks.extend(size + b for b in inner)
        lines.append(t)
        size += len(t)
    return "\n".join(lines), breaks
