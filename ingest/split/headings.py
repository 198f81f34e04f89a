"""Headings: from the format (`Block.heading`: docx styles, <h2>, markdown '#', slide titles) or from the
text's numbering: 第N篇/章/节, 一、, (一), 1.1 / 1.1.1, 1. / 1、, 法则N, (1), indented short lines (bullet
sub-headings); and headings glued into a long line ("…呢一、对位是关键…二、细节定成败…")."""
from __future__ import annotations

import re
from typing import NamedTuple

from ingest.clean import CleanedBlock
from kb.text import to_simplified

CN = "一二三四五六七八九十百零〇"  # Chinese numerals
SENT_PUNCT = re.compile(r"[。；;!?！？]")

# Heading ranks: a smaller rank is an outer heading. Format headings rank by their level (1, 2, …); in a
# document that has format headings, numbered headings found in the text rank below them (+ FORMAT_OFFSET).
RANK_PART = 1.0  # 第N篇 / 第N编 / 第N部分
RANK_CHAPTER = 2.0  # 第N章 / 第N讲 / 第N课 / 第N单元
RANK_SECTION = 3.0  # 第N节
RANK_PART_TITLE = 3.5  # "服务篇" alone on a line
RANK_CN_ITEM = 4.0  # 一、
RANK_CN_PAREN = 5.0  # (一)
RANK_NUM_ITEM = 5.8  # 1. / 1、
RANK_DOTTED_2 = 6.0  # 1.1
RANK_DOTTED_3 = 7.0  # 1.1.1
RANK_NUM_GLUED = 7.5  # 1服务… (a number glued to the heading's words)
RANK_DOTTED_4 = 8.0  # 1.1.1.1
RANK_RULE = 8.0  # 法则N / 原则N / 第N条
RANK_NUM_PAREN = 8.5  # (1)
RANK_INDENTED = 9.0  # an indented short line: a bullet sub-heading
RANK_CIRCLED = 9.2  # ①
RANK_KEYWORD = 9.5  # 本章小结, 学习目标, …
FORMAT_OFFSET = 10.0
LIST_ITEM_RANK = RANK_RULE  # headings from here down are items of a list (法则1, 法则2, …)

FORMAT_TITLE_LIMIT = 40  # characters of a format heading kept as its title
SHORT_LINE = 30  # a line up to this long, without sentence punctuation, can be a heading by itself
MIN_INLINE_SECTIONS = 3  # 一、二、三、 glued into one long line

# (pattern, rank, strong): strong patterns are headings even when text follows on the same line
_HEADING_RULES: list[tuple[re.Pattern, float, bool]] = [
    (re.compile(rf"^第\s*[{CN}\d]+\s*[篇编部](分)?(?![分门])"), RANK_PART, True),
    (re.compile(rf"^第\s*[{CN}\d]+\s*[章讲课单](元)?"), RANK_CHAPTER, True),
    (re.compile(rf"^第\s*[{CN}\d]+\s*节"), RANK_SECTION, True),
    (re.compile(rf"^[{CN}]{{1,3}}\s*[、.．]\s*(?=\S)"), RANK_CN_ITEM, True),
    (re.compile(rf"^[(（]\s*[{CN}]{{1,3}}\s*[)）]\s*[、.]?|^[{CN}]{{1,3}}[)）]\s*[、.]?"), RANK_CN_PAREN, True),
    (re.compile(r"^\d{1,2}\.\d{1,2}\.\d{1,2}\.\d{1,2}(?![\d%])"), RANK_DOTTED_4, True),
    (re.compile(r"^\d{1,2}\.\d{1,2}\.\d{1,2}(?![\d.%])"), RANK_DOTTED_3, True),
    (re.compile(r"^\d{1,2}\.\d{1,2}(?![\d.%])\s*(?=[^\d\s%])"), RANK_DOTTED_2, True),
    (re.compile(r"^(法则|原则|守则|准则|规则|第)\s*\d+\s*(条|则)?\s*(?=\S)"), RANK_RULE, True),
    (re.compile(r"^\d{1,2}\s*[.、．](?!\d)\s*(?=\S)"), RANK_NUM_ITEM, False),
    (re.compile(r"^\d{1,2}(?![\d.、,，月日年号时点分个名位次项条种天周%])(?=[\u4e00-\u9fff])"), RANK_NUM_GLUED, False),
    (re.compile(r"^[(（]\d{1,2}[)）]\s*[、.]?"), RANK_NUM_PAREN, False),
    (re.compile(r"^[①②③④⑤⑥⑦⑧⑨⑩]"), RANK_CIRCLED, False),
]
_PART_HEADING = re.compile(r"^\S{2,8}[篇]$")
_KEYWORD_HEADING = re.compile(r"^(要点提示|本章小结|本章知识结构图|学习目标|单元导读|知识要点|内容提要|小结|总结|思考题|复习题)\b")
_CAPTION = re.compile(r"^图\s*\d+([-.]\d+)?\s")
_NUMBERING = re.compile(rf"^(第\s*[{CN}\d]+\s*[篇编部章讲节]|\d+(?:\.\d+)+|[{CN}]{{1,3}}(?=[、.．])|[(（][{CN}]+[)）]|法则\s*\d+)")


class Heading(NamedTuple):
    rank: float
    title: str
    whole: bool  # the whole line is the heading (no body text after it)


def format_offset(explicit_doc: bool) -> float:
    """What numbered headings found in the text rank below format headings (0 without format headings)."""
    return FORMAT_OFFSET if explicit_doc else 0.0


def heading_title(text: str, limit: int = 24) -> str:
    """The heading part of a line that may continue with body text."""
    t = text.strip()
    m = re.search(r"[。；;!?！？:：]", t)
    if m and m.start() >= 2:
        t = t[: m.start() + (1 if t[m.start()] in "?？" else 0)]
    if len(t) > limit:
        cut = re.search(r"[,，(（]", t[4:])
        t = t[: 4 + cut.start()] if cut and 4 + cut.start() <= limit else t[:limit] + "…"
    return t.strip()


def number_key(text: str) -> str | None:
    """The numbering of a heading ("1.1", "第1章", "一") used to recognise running headers."""
    m = _NUMBERING.match(to_simplified(text.strip()))
    return re.sub(r"\s+", "", m.group(1)) if m else None


def detect_heading(block: CleanedBlock, explicit_doc: bool) -> Heading | None:
    """The heading a block is, else None (explicit_doc: the document has format headings)."""
    t = block.text.strip()
    if not t:
        return None
    if block.heading is not None:
        return Heading(float(block.heading), heading_title(t, FORMAT_TITLE_LIMIT), True)
    offset = format_offset(explicit_doc)
    s = to_simplified(t)
    if _CAPTION.match(s):
        return None
    short = len(t) <= SHORT_LINE and not SENT_PUNCT.search(t) and not t.endswith((":", "：", ",", "，", "、"))
    for rx, rank, strong in _HEADING_RULES:
        m = rx.match(s)
        if not m:
            continue
        if not strong and not short:
            return None
        if len(t) - m.end() < 1:
            return None
        return Heading(rank + offset, t if short else heading_title(t), short)
    if _PART_HEADING.match(s):
        return Heading(RANK_PART_TITLE + offset, t, True)
    if _KEYWORD_HEADING.match(s) and len(t) <= 12:
        return Heading(RANK_KEYWORD + offset, t, True)
    if block.indent and short and len(t) <= 24 and not block.slide:
        return Heading(RANK_INDENTED + offset, t, True)
    return None


def is_list_item(rank: float) -> bool:
    """A heading of this rank opens an item of a list (法则N, (1), ①, a bullet sub-heading, 本章小结), with or
    without the format offset."""
    return rank % FORMAT_OFFSET >= LIST_ITEM_RANK


def is_indented_heading(h: Heading) -> bool:
    """A bullet sub-heading (with or without the format offset): weak, a run of them is a list."""
    return h.rank % 10 == RANK_INDENTED


def inline_sections(b: CleanedBlock) -> list[CleanedBlock]:
    """A long line holding 一、 二、 三、 … in order cut before each numeral; other blocks as they are."""
    if b.slide or len(b.text) < 200:
        return [b]
    marks = []
    nums = "一二三四五六七八九十"
    pos, k = 0, 0
    while k < len(nums):
        m = re.compile(rf"(?<![{CN}第])({nums[k]})、").search(b.text, pos)
        if not m:
            break
        marks.append(m.start())
        pos, k = m.end(), k + 1
    if len(marks) < MIN_INLINE_SECTIONS:
        return [b]
    cuts = [0] + marks + [len(b.text)]
    out = []
    for a, c in zip(cuts, cuts[1:]):
        t = b.text[a:c]
        lead = len(t) - len(t.lstrip())
        t2 = t.strip()
        if t2:
            out.append(CleanedBlock(text=t2, offsets=b.offsets[a + lead:a + lead + len(t2)], page=b.page,
                                    indent=False, new_article=b.new_article and not out))
    return out
