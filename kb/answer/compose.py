"""What an answer says: which results become its principles and cases, the suggestions, and the markdown
(【原则】…【案例】… with numbered sources, or an honest 没有找到)."""
from __future__ import annotations

import re

from kb.answer.model import Card, RankedPassage
from kb.passage import Passage
from kb.search import Candidate
from kb.text import to_simplified

NO_ANSWER = "知识库里没有相关内容。"
_CASE_INTENT = re.compile(r"案例|例子|举例|举个|故事|实例|有没有(公司|企业|哪家)|别人(怎么|是怎么)|怎么做的|经验")
_CN = "一二三四五六七八九十百"
# A heading's numbering with the mark after it: "第2章 ", "四、", "(四)、", "一)", "1.1 ", "2", "法则5 " (not the
# "4" of "4月19日")
_NUMBERING = re.compile(rf"^\s*(第[{_CN}\d]+[章节篇条]|[{_CN}]+[、.．]|[(（][{_CN}\d]+[)）]|[{_CN}]{{1,3}}[)）]"
                        rf"|\d+(\.\d+)*(?![\d月日年号时点分个名位次项条种天周%])|法则\s*\d+)\s*[、.．:：]?\s*")
_INLINE_NUMBER = re.compile(rf"[{_CN}\d][、]")  # an enumerator inside a label: a run-on or a list
_HAN = re.compile(r"[\u4e00-\u9fff]")
_PAIRS = ("“”", "「」", "『』", "()", "（）", "《》", "【】")
MIN_LABEL_HAN = 4  # Han characters a suggestion needs to name a topic ("4月19日" names none)
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


def whole_label(heading: str) -> str | None:
    """A heading as a suggestion: without its numbering, or None when it is no whole title - cut short
    ("…"), a fragment that starts with punctuation ("、客户服务的标准"), unbalanced quotes or brackets, a
    run-on of numbered items, or too little text to name a topic."""
    heading = heading.strip()
    if not heading or heading.endswith(("…", "...")):
        return None
    label = _NUMBERING.sub("", heading, count=1).rstrip(" ：:,，;；")
    if not label or not (_HAN.match(label) or (label[0] in "“「《(（" and _HAN.match(label[1:2]))):
        return None
    if not 4 <= len(label) <= 30 or len(_HAN.findall(label)) < MIN_LABEL_HAN or _INLINE_NUMBER.search(label):
        return None
    if any(label.count(a) != label.count(b) for a, b in _PAIRS):
        return None
    return label


def _cut_at_comma(heading: str, text: str) -> bool:
    """The passage prints the heading at the start of a line with a comma right after it: the heading was
    cut there, maybe mid-phrase ("除了“不用担心”" of "除了“不用担心” ,永远不要说“不”")."""
    at = text.find(heading)
    while at >= 0:
        if at == 0 or text[at - 1] == "\n":
            return text[at + len(heading):].lstrip(" ")[:1] in (",", "，")
        at = text.find(heading, at + 1)
    return False


def _headings(p: Passage) -> list[str]:
    """The passage's own heading, then its title (merged titles "A；B" in their parts), leaving out those
    cut at a comma."""
    return [h for h in (*p.section[-1:], *p.title.split("；")) if not _cut_at_comma(h, p.text)]


def suggest(ranked: Ranked, shown: Ranked) -> list[str]:
    """Whole headings of the other strong results: topics to try next, worded as the documents word them,
    each once (a heading in either script counts once)."""
    seen = {p.id for _, p, _ in shown}
    taken = {to_simplified(label) for _, p, _ in shown for h in _headings(p) if (label := whole_label(h))}
    out: list[str] = []
    for _, p, _ in ranked[:15]:
        if p.id in seen:
            continue
        for label in filter(None, map(whole_label, _headings(p))):
            key = to_simplified(label)
            if key not in taken and label != p.doc_title:
                taken.add(key)
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
