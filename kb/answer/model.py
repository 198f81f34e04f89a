"""The answer as `kb` returns it and the API sends it: one set of models for both (bot/schemas.py)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Source(BaseModel):
    """A document a passage (or a near-duplicate of it) comes from."""

    doc: str
    doc_title: str
    section_path: str
    passage_id: str


class PassageView(BaseModel):
    """A passage as the bot quotes it (in an answer: in the answer's script, its own text kept when converted)."""

    id: str
    kind: str = Field(description="principle | case | other")
    title: str
    text: str
    doc: str
    doc_title: str
    section: list[str] = Field(description="heading path, outermost first")
    section_path: str
    page: int | None
    start: int = Field(description="offsets into the document's extracted text")
    end: int
    sources: list[Source] = Field(description="this passage's document, then those of its near-duplicates")
    original_title: str | None = Field(None, description="the title in its document's own script, when `title` "
                                                         "was converted into the answer's script (else null)")
    original_text: str | None = Field(None, description="the text in its document's own script, when `text` was "
                                                        "converted into the answer's script (else null)")


class RankedPassage(PassageView):
    score: float = Field(description="fused retrieval score")


class Card(RankedPassage):
    """A principle or case of the answer, with the sentences that share most with the question."""

    highlights: list[str]
    original_highlights: list[str] | None = Field(None, description="the same sentences as `highlights`, of "
                                                                    "`original_text`: given with it")


class Answer(BaseModel):
    question: str
    resolved_question: str | None = Field(description="the question searched with, when a follow-up leaned on "
                                                      "the previous one")
    matched: bool = Field(description="whether the knowledge base answers the question (calibrated confidence "
                                      ">= the threshold)")
    confidence: float
    signals: dict[str, float] = Field(description="the retrieval signals the confidence is computed from")
    answer: str = Field(description="markdown: 【原则】…【案例】… with numbered sources, or 没有找到")
    script: Literal["simplified", "traditional", "original"] = Field(
        description="the script what the answer quotes is shown in (original: each document's own); setting "
                    "display_script")
    principles: list[Card]
    cases: list[Card]
    passages: list[RankedPassage] = Field(description="the ranked passages, near-duplicates collapsed")
    suggestions: list[str] = Field(description="headings of other strong results: topics to try next")
    session_id: str
    version: str
    timings_ms: dict[str, float]
