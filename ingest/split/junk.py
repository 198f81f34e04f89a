"""Passages with nothing an agent could use: a closing slide ("謝謝!"), a heading with no body of its own (a
slogan slide, a "本章知识结构图" whose body only repeats the document's headings), page furniture ("题目:…",
a figure caption alone). They are left out of the index, and each is reported with its text.

A passage is judged by its body: its lines without those that are a heading of the document (a heading
the splitter found, any heading on a section path, the document title; numbering ignored - a title the
splitter made up from a slide's or a story's own text is no heading), closing formulas and furniture
lines. A passage whose body holds fewer than MIN_BODY_CHARS letters is junk."""
from __future__ import annotations

import re
from dataclasses import dataclass

from kb.text import match_key, to_simplified

MIN_BODY_CHARS = 2  # letters (Han, Latin, digits) a passage's body needs to be worth quoting
_CN = "一二三四五六七八九十百零〇"
_NUMBERING = re.compile(rf"^(第\s*[{_CN}\d]+\s*[篇编部章讲节课]|\d+(\.\d+)*|[{_CN}]{{1,3}}(?=[、.．)）])"
                        rf"|[(（][{_CN}\d]+[)）]|(法则|原则)\s*\d+|[①②③④⑤⑥⑦⑧⑨⑩])\s*[、.．)）:：]?")
_CLOSING = re.compile(r"^(谢谢|谢谢大家|谢谢观看|谢谢聆听|感谢聆听|感谢观看|感谢您的聆听|再见|thank\s*you|thanks|q\s*&\s*a"
                      r"|the\s*end)[\s!！.。~～]*$", re.IGNORECASE)
# a label line of a paper's front page, or a figure/table caption on its own line
_FURNITURE = re.compile(r"^(题目|标题|课题|作者|姓名|学号|班级|专业|指导老师|指导教师|日期)\s*[:：]"
                        r"|^[图表]\s*\d+([-.]\d+)*\s+[^,，。;；!！?？]{1,30}$")


@dataclass
class Junk:
    """A passage left out of the index, with why."""

    text: str
    reason: str  # closing | furniture | heading only
    title: str
    start: int
    end: int

    def to_dict(self) -> dict:
        return {"text": self.text, "reason": self.reason, "title": self.title, "start": self.start,
                "end": self.end}


def heading_key(text: str) -> str:
    """A heading without its numbering, as a match key: "1.1 认识客户服务" and "认识客户服务" are one heading."""
    s = to_simplified(text.strip())
    return match_key(_NUMBERING.sub("", s, count=1))


def document_headings(names: list[str]) -> set[str]:
    """The heading keys of a document from the names of its headings (numbering ignored)."""
    return {k for k in (heading_key(n) for n in names) if len(k) >= 2}


def junk_reason(text: str, headings: set[str]) -> str | None:
    """Why a passage of this text is junk (closing | furniture | heading only), or None when its body holds
    something to read."""
    kinds = []
    for line in text.splitlines():
        s = to_simplified(line.strip())
        if not match_key(s):
            continue
        if _CLOSING.match(s):
            kinds.append("closing")
        elif _FURNITURE.match(s):
            kinds.append("furniture")
        elif heading_key(s) in headings:
            kinds.append("heading only")
        elif len(match_key(s)) >= MIN_BODY_CHARS:
            return None
    for reason in ("closing", "furniture"):
        if reason in kinds:
            return reason
    return "heading only"
