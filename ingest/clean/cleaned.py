"""What cleaning produces: cleaned blocks with their source offsets, the document, and the report of what
was removed or repaired."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ingest.document import SourceDocument


class SourceSpan:
    """Where a text with per-character source offsets (`self.offsets`) lies in the source: [start, end)."""

    offsets: list[int]

    @property
    def start(self) -> int:
        return self.offsets[0] if self.offsets else 0

    @property
    def end(self) -> int:
        return self.offsets[-1] + 1 if self.offsets else 0


@dataclass
class CleanedBlock(SourceSpan):
    """One cleaned line/paragraph/slide. `offsets[i]` is the source offset of `text[i]`."""

    text: str
    offsets: list[int]
    heading: int | None = None  # heading level given by the format (docx style, <h2>, markdown '#')
    page: int | None = None  # page/slide number, 1-based
    table: bool = False
    indent: bool = False  # the source line started with whitespace or a bullet (sub-heading hint)
    slide: bool = False  # one slide of a run-together deck
    new_article: bool = False  # a removed source attribution ("转自…") ended the previous article here
    labels: list[str] = field(default_factory=list)  # running section labels removed from a slide


@dataclass
class CleanReport:
    pinyin_junk_removed: int = 0
    boilerplate_lines_removed: int = 0
    boilerplate_samples: list[str] = field(default_factory=list)
    title_lines_removed: int = 0
    mojibake_spans: int = 0
    mojibake_chars: int = 0
    mojibake_samples: list[str] = field(default_factory=list)
    mojibake_question_marks: int = 0  # of the spans: those opened by a '?' that was garbage, not a question
    duplicate_blocks_removed: int = 0
    slides_detected: int = 0
    page_chunks_joined: int = 0
    wrapped_lines_joined: int = 0
    chars_in: int = 0
    chars_out: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"拼音垃圾 pinyin junk: {self.pinyin_junk_removed}, 样板行 boilerplate lines: "
            f"{self.boilerplate_lines_removed}, 乱码 mojibake: {self.mojibake_spans} spans / "
            f"{self.mojibake_chars} chars, 重复 duplicates: {self.duplicate_blocks_removed}"
        )


@dataclass
class CleanedDocument:
    doc_id: str
    title: str
    format: str
    blocks: list[CleanedBlock]
    report: CleanReport
    traditional: bool = False  # display text is in Traditional script
    source: SourceDocument | None = None

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)
