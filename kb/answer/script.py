"""The script an answer is shown in, and the answer converted into it.

With the setting `display_script=question`, a question in Traditional script gets Traditional passages and
a Simplified one Simplified passages, whatever script each document is in; a question with no
script-specific characters ("ABC 退款?") follows the conversation's latest question that had some, else it
is Simplified. `original` shows every document in its own script; `simplified` / `traditional` always that
one. Passage text, titles, headings, sources, highlights, suggestions and the markdown are converted; each
passage keeps its own text (`original_title`, `original_text`, a card's `original_highlights`) when the
conversion changed it, so the original stays one click away.

Highlights are sentences, found in the passage text by the pages: each is converted on its own. A sentence
ends at a separator (end mark, line break), and no conversion table entry holds a separator, so a converted
sentence is exactly the piece of the converted text it was of the original (OpenCC's tables: tests check).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

from kb.answer.model import Answer, Card, RankedPassage, Source
from kb.text import to_simplified, to_traditional

Script = Literal["simplified", "traditional"]
Shown = Literal["simplified", "traditional", "original"]
SETTINGS = ("question", "original", "simplified", "traditional")  # kb/settings.py: display_script


@lru_cache(maxsize=None)  # characters: a bounded set
def _char_script(ch: str) -> Script | None:
    """Traditional for a character Traditional→Simplified changes, Simplified for one only Simplified→
    Traditional changes, None for one both scripts write alike."""
    if to_simplified(ch) != ch:
        return "traditional"
    if to_traditional(ch) != ch:
        return "simplified"
    return None


def script_of(text: str) -> Script | None:
    """The script most of the text's script-specific characters belong to; None when it has none (or as
    many of each)."""
    counts = {"traditional": 0, "simplified": 0}
    for ch in text:
        if ch >= "\u3400":
            kind = _char_script(ch)
            if kind:
                counts[kind] += 1
    if counts["traditional"] == counts["simplified"]:
        return None
    return "traditional" if counts["traditional"] > counts["simplified"] else "simplified"


def shown_script(setting: str, question: str, earlier: list[str]) -> Shown:
    """The script an answer to `question` is shown in. `earlier`: the conversation's previous questions,
    oldest first."""
    if setting != "question":
        return setting  # type: ignore[return-value]
    for text in (question, *reversed(earlier)):
        found = script_of(text)
        if found:
            return found
    return "simplified"


def convert(text: str, script: Shown) -> str:
    if script == "traditional":
        return to_traditional(text)
    if script == "simplified":
        return to_simplified(text)
    return text


def _source(s: Source, script: Shown) -> Source:
    return s.model_copy(update={"doc_title": convert(s.doc_title, script),
                                "section_path": convert(s.section_path, script)})


def _passage(p: RankedPassage, script: Shown) -> RankedPassage:
    title, text = convert(p.title, script), convert(p.text, script)
    update = {
        "title": title, "text": text, "doc_title": convert(p.doc_title, script),
        "section": [convert(s, script) for s in p.section], "section_path": convert(p.section_path, script),
        "sources": [_source(s, script) for s in p.sources],
        "original_title": p.title if title != p.title else None,
        "original_text": p.text if text != p.text else None,
    }
    if isinstance(p, Card):
        highlights = [convert(h, script) for h in p.highlights]
        update["highlights"] = highlights
        update["original_highlights"] = p.highlights if text != p.text else None
    return p.model_copy(update=update)


def in_script(answer: Answer, script: Shown) -> Answer:
    """The answer shown in `script`: what it quotes converted, the originals kept where they differ."""
    if script == "original":
        return answer
    return answer.model_copy(update={
        "answer": convert(answer.answer, script),
        "principles": [_passage(c, script) for c in answer.principles],
        "cases": [_passage(c, script) for c in answer.cases],
        "passages": [_passage(p, script) for p in answer.passages],
        "suggestions": list(dict.fromkeys(convert(s, script) for s in answer.suggestions)),
    })
