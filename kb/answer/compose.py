"""What an answer says: which results become its principles and cases, the suggestions, and the markdown
(【原则】…【案例】… with numbered sources, or an honest 没有找到)."""
from __future__ import annotations

import re

from kb.answer.model import Card, RankedPassage
from kb.passage import Passage
from kb.search import Candidate

NO_ANSWER = "知识库里没有相关内容。"
_CASE_INTENT = re.compile(r"案例|例子|举例|举个|故事|实例|有没有(公司|企业|哪家)|别人(怎么|是怎么)|怎么做的|经验")
_NUMBERING = re.compile(r"^\s*(第[一二三四五六七八九十百\d]+[章节篇条]|[一二三四五六七八九十]+[、.．]|[(（][一二三四五六七八九十\d]+[)）]"
                        r"|\d+(\.\d+)*[、.．]?|法则\s*\d+)\s*")
_HAN = re.compile(r"[\u4e00-\u9fff]")
QUOTE_CHARS = 220  # a card's quote in the markdown is cut here

Ranked = list[tuple[Candidate, Passage, list[dict]]]


def wants_case(simplified_question: str) -> bool:
    """The question asks for an example (有没有案例, 别人怎么做的, ...): the answer then holds up to 2 cases."""
    return bool(_CASE_INTENT.search(simplified_question))


def pick(ranked: Ranked, case_wanted: bool) -> tuple[Ranked, Ranked]:
    """1–3 principles and 1–2 cases among the strongest results; a how-to answer holds both kinds."""
    if not ranked:
        return [], []
    best = ranked[0][0].score
    window = ranked[:12]
    principles = [x for x in window if x[1].kind == "principle" and x[0].score >= 0.55 * best][:3]
    cases = [x for x in window if x[1].kind == "case" and x[0].score >= 0.45 * best][: 2 if case_wanted else 1]
    if not principles and not case_wanted:
        # No principle-kind passage scored close: the strongest 'other' passage still states the point.
        principles = [x for x in window[:3] if x[1].kind == "other"][:1]
    return principles, cases


def suggest(ranked: Ranked, shown: Ranked) -> list[str]:
    """Headings of the other strong results: topics to try next, worded as the documents word them."""
    seen = {p.id for _, p, _ in shown}
    shown_labels = {_NUMBERING.sub("", x).strip() for _, p, _ in shown for x in (p.title, *p.section[-1:])}
    out: list[str] = []
    for _, p, _ in ranked[:15]:
        if p.id in seen:
            continue
        for label in (p.section[-1] if p.section else "", p.title):
            label = _NUMBERING.sub("", label).strip(" ：:,，。-…")
            if 4 <= len(label) <= 30 and _HAN.search(label[:2]) and label not in out \
                    and label not in shown_labels:
                out.append(label)
                break
        if len(out) == 4:
            break
    return out


def _quote(card: Card) -> str:
    text = " ".join(card.highlights) if card.highlights else card.text
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS] + "……"


def render(principles: list[Card], cases: list[Card]) -> str:
    lines: list[str] = []
    sources: list[Card] = []
    for label, cards in (("【原则】", principles), ("【案例】", cases)):
        if not cards:
            continue
        lines.append(label)
        for card in cards:
            sources.append(card)
            head = card.title or (card.section[-1] if card.section else "")
            lines.append(f"{len(sources)}. {head + '：' if head else ''}{_quote(card)} [{len(sources)}]")
    lines.append("")
    lines.append("来源：")
    for i, card in enumerate(sources, 1):
        where = f" · {card.section_path}" if card.section_path else ""
        lines.append(f"[{i}] {card.doc_title}{where}")
    return "\n".join(lines)


def render_none(listed: list[RankedPassage]) -> str:
    if not listed:
        return NO_ANSWER
    near = "；".join(f"{d.title or d.section_path or d.doc_title}" for d in listed[:3])
    return f"{NO_ANSWER}最接近的内容：{near}（仅供参考）"
