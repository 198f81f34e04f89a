"""What every loader produces: the document's text as blocks, with structure hints and offsets."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Block:
    """One line/paragraph of extracted text.

    `start` is the character offset of `text` in the extracted source text (for .txt: the decoded file),
    so every passage can point back to where it came from.
    """

    text: str
    start: int
    heading: int | None = None  # heading level given by the format itself (docx style, <h2>, slide title)
    page: int | None = None  # page (PDF) or slide (PPTX) number, 1-based
    table: bool = False  # a table row rendered as text


@dataclass
class SourceDocument:
    path: Path
    doc_id: str  # stable id: the file name
    format: str  # txt | md | docx | pdf | pptx | html
    title: str
    blocks: list[Block]
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)


class LoadError(Exception):
    """A file that cannot be read; the message is shown to editors as-is (Chinese + English)."""
