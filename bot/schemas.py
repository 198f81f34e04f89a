"""Request bodies, with limits (the limits that depend on settings are checked in the routes); the answer
models are kb's own (kb/answer/model.py): the API sends what `KnowledgeBase.ask` returns."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kb.answer.model import Answer, Card, PassageView, RankedPassage, Source

__all__ = ["Answer", "AskRequest", "Card", "FeedbackRequest", "PassageView", "RankedPassage", "Source", "TextBody",
           "TuneRequest"]

HARD_MAX_QUESTION = 10_000  # absolute cap; settings.max_question_chars is usually far lower


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"question": "客户说快递晚到了，文件已经没用了，非要赔钱，怎么回？", "top_k": 10, "session_id": None}]
    })

    question: str = Field(..., min_length=1, max_length=HARD_MAX_QUESTION, description="坐席的问题（中文）")
    top_k: int = Field(10, ge=1, le=1000, strict=True, description="how many passages to consider (1..settings.max_top_k)")
    session_id: str | None = Field(None, max_length=128, description="keep for follow-up questions")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., min_length=1, max_length=HARD_MAX_QUESTION)
    passage_id: str | None = Field(None, max_length=200)
    helpful: bool
    comment: str | None = Field(None, max_length=2000)
    session_id: str | None = Field(None, max_length=128)


class TextBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(..., max_length=1_000_000)


class TuneRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, le=2**31 - 1, strict=True, description="the same labels and seed give the same model")
    folds: int | None = Field(None, ge=2, le=10, strict=True, description="the gate's cross-validation folds "
                                                                          "(default 3)")
