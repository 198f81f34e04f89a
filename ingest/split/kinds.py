"""What kind a passage is - principle, case or other - and the marks that tell: case markers (【案例】,
案例导入, 案例:…), narrative paragraphs (an unmarked case story), and front/back matter (前言, 目录, 谢谢)."""
from __future__ import annotations

import re

from ingest.split.headings import CN
from kb.text import to_simplified

KIND_PRINCIPLE, KIND_CASE, KIND_OTHER = "principle", "case", "other"

STORY_MIN_CHARS = 150  # a shorter paragraph is never taken for a story
_CASE_MARK = re.compile(
    r"^[【\[]\s*(案例|案例导入|案例分析|典型案例|案例链接|小案例|实例|故事|小故事)\s*\d*\s*[】\]]\s*[:：]?\s*(.*)$"
    r"|^(案例导入|案例分析|典型案例|案例链接|小案例|案例\s*\d+|案例)\s*[:：]\s*(.*)$"
    r"|^(案例导入|案例分析|典型案例|案例链接|案例)$"
)
# each a kind of evidence that a paragraph tells a story: time, speech, people, roles, places, aspect
_STORY_CUES = [
    r"一天|有一次|有一位|有位|某天|那天|曾经|后来|随后|于是",
    r"\d{1,2}月\d{1,2}日|\d{4}年",
    r"说[:：]?\s*“|问[:：]?\s*“|讲[:：]\s*“",
    r"先生|女士|小姐|夫妇|小[王李张刘陈赵]",
    r"经理|主管|服务员|店员|员工|工作人员|客人|女宾|游客",
    r"酒店|饭店|乐园|银行|餐厅|公司|商场|超市|营业厅",
    r"(了|着)[^，。,]{0,10}(了|着)",
]
OTHER_WORDS = re.compile(r"(前言|引言|导读|参考文献|参考资料|致谢|附录|作者简介|讲师简介|学习导航|学习目标|单元导读)")
_OTHER_TITLE = re.compile(
    rf"^([{CN}\d.、()（）\s]*)(目录|主要内容|内容提要|引子|谢谢|本章知识结构图|知识结构图|简介|thank you|thanks)[!！.。]?$",
    re.IGNORECASE)
_CLOSING = re.compile(r"^(谢谢|谢谢大家|thank you|thanks|目录|参考文献|致谢|附录)[!！.。]?$", re.IGNORECASE)


def case_mark(text: str) -> str | None:
    """For a case marker line, the case title printed after the marker ("" when none), else None."""
    m = _CASE_MARK.match(to_simplified(text.strip()))
    if not m:
        return None
    rest = next((g for g in (m.group(2), m.group(4)) if g), "")
    if rest:
        # title printed after the marker on the same line: keep the display script
        rest = text.strip()[len(text.strip()) - len(rest):]
    return rest


def is_story(text: str) -> bool:
    """A narrative paragraph: long, with most kinds of story cues (or four and quoted speech)."""
    s = to_simplified(text)
    if len(s) < STORY_MIN_CHARS:
        return False
    hits = sum(1 for c in _STORY_CUES if re.search(c, s))
    quotes = s.count("“")
    return hits >= 5 or (hits >= 4 and quotes >= 2)


def names_other(title: str) -> bool:
    """A heading of front or back matter: 前言, 目录, 参考文献, 谢谢, …"""
    s = to_simplified(title)
    return bool(OTHER_WORDS.search(s) or _OTHER_TITLE.match(s))


def is_closing(title: str) -> bool:
    """A closing or listing slide: 谢谢, thank you, 目录, 参考文献, …"""
    return bool(_CLOSING.match(to_simplified(title).strip()))
