"""Slides of a run-together deck (blocks with `slide=True`): their section path from the running labels
the cleaner took off them, their title, and their items on lines of their own (the viewer's text glues a
slide's numbered items, dash bullets and questions into one line). The line breaks that lay out items are
recorded: what is indexed reads the slide as the source printed it."""
from __future__ import annotations

import re

from ingest.split.headings import CN
from kb.text import match_key

_LABEL_NUMBER = re.compile(rf"^[{CN}]+[.、]")
_LABEL_NUMBER_AND_BLANKS = re.compile(rf"^[{CN}]+[.、]\s*")
# An item number glued to the text before it: "…是何時?2、誰是…", "…原因1、結婚…" (not "1.1", "3-5", "12、")
_ITEM_NUMBER = re.compile(r"(?<![\d.])(\d{1,2})[、.．](?![\d.])")
# A dash used as a bullet: after a letter, a digit or a sentence end, before a letter or digit; not a range
# ("3-5天") and not inside a Latin word ("Order-Taking")
_DASH_BULLET = re.compile(r"(?<=[\u4e00-\u9fffA-Za-z\d?？!！。;；)）”])[-－](?=[\u4e00-\u9fffA-Za-z\d“])")
# a question glued to the next one: "誰購買過此類產品?他們向誰購買…"
_QUESTION_END = re.compile(r"(?<=[?？])(?=[\u4e00-\u9fff])")
MIN_ITEM_CHARS = 2
FIRST_ITEM_TITLE_CHARS = 30  # a slide's first item up to this long is its title
TITLE_COMPLETION = 4  # characters after a shared start within which a neighbour's dash or colon completes it


def _same(a: str, b: str) -> bool:
    """One key holds the other and they are of similar length."""
    if not a or not b:
        return False
    return (a in b or b in a) and min(len(a), len(b)) >= 0.7 * max(len(a), len(b))


def slide_section(path: list[str], labels: list[str]) -> list[str]:
    """The heading path with the slide's running labels ("七.案例迪斯尼") that are not on it yet, without
    their numbering."""
    sec = list(path)
    for lab in labels:
        lk = match_key(_LABEL_NUMBER.sub("", lab))
        if lk and not any(_same(lk, match_key(_LABEL_NUMBER.sub("", t))) for t in sec):
            sec.append(_LABEL_NUMBER_AND_BLANKS.sub("", lab))
    return sec


def slide_title(text: str, prev: str, nxt: str) -> str:
    """A short slide is its own title; else the start it shares with a neighbour slide (a topic over
    several slides), completed up to the dash or colon one of them prints right after it ("將每件事情付諸"
    + "于行動-經營思索"); else the slide's first item up to its first dash, colon or comma, or the whole
    first item when it is short."""
    def common(a: str, b: str) -> str:
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        return a[:n]

    if len(text) <= 20 and not re.search(r"[-—:：]", text):
        return text
    best = max((common(text, prev), common(text, nxt)), key=len)
    if len(best) >= 4:
        for s in (text, prev, nxt):
            m = re.compile(r"[-—:：]").search(s, len(best), len(best) + TITLE_COMPLETION)
            if s.startswith(best) and m:
                return s[: m.start()]
        t = re.split(r"[-—]", best)[0]
        return t.rstrip("-—:：,， ") or best
    cuts = _breaks(text)
    first = text[: cuts[0]].strip() if cuts else text
    m = re.search(r"[-—:：?？,，(（]", first[:24])
    if m and m.start() >= 2:
        return first[: m.start()]
    if len(first) <= FIRST_ITEM_TITLE_CHARS:
        return first
    return text[:14] + ("…" if len(text) > 14 else "")


def _numbered_items(text: str) -> list[int]:
    """Where the items 1, 2, 3, … of a numbered list glued into the text start (the first occurrence of
    each number from 1 on while the run lasts; items printed out of order, "1、…3、…4、…2、…", count)."""
    first: dict[int, int] = {}
    for m in _ITEM_NUMBER.finditer(text):
        first.setdefault(int(m.group(1)), m.start())
    n = 0
    while n + 1 in first:
        n += 1
    return sorted(first[k] for k in range(1, n + 1)) if n >= 2 else []


def _dash_bullets(text: str) -> list[int]:
    """Dashes that start items: two or more in the slide (one dash is a compound, "需求-效益问题"), not a
    range ("3-5天") and not inside a Latin word ("Order-Taking")."""
    found = [m.start() for m in _DASH_BULLET.finditer(text)
             if not (text[m.start() - 1].isdigit() and text[m.end()].isdigit())
             and not (text[m.start() - 1].isascii() and text[m.start() - 1].isalpha() and text[m.end()].isascii()
                      and text[m.end()].isalpha())]
    return found if len(found) >= 2 else []


def _breaks(text: str) -> list[int]:
    """Where a slide's items start: numbered items, dash bullets and glued questions; never inside
    parentheses, never leaving an item shorter than MIN_ITEM_CHARS."""
    cuts = {*_numbered_items(text), *_dash_bullets(text), *(m.start() for m in _QUESTION_END.finditer(text))}
    out, last = [], 0
    for c in sorted(cuts):
        inside = text.count("(", 0, c) + text.count("（", 0, c) > text.count(")", 0, c) + text.count("）", 0, c)
        if not inside and c - last >= MIN_ITEM_CHARS and len(text) - c >= MIN_ITEM_CHARS:
            out.append(c)
            last = c
    return out


def itemize(text: str) -> tuple[str, list[int]]:
    """The slide's text with each of its items on a line of its own, and where the line breaks that did
    this are in the result."""
    out, breaks, last = [], [], 0
    for c in _breaks(text):
        out.append(text[last:c])
        breaks.append(c + len(breaks))
        out.append("\n")
        last = c
    out.append(text[last:])
    return "".join(out), breaks


def printed(text: str, breaks: list[int]) -> str:
    """The text without the line breaks that only lay out items: as the source printed it."""
    if not breaks:
        return text
    drop = set(breaks)
    return "".join(ch for i, ch in enumerate(text) if i not in drop)
