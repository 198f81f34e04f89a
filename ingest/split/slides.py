"""Slides of a run-together deck (blocks with `slide=True`): their section path from the running labels
the cleaner took off them, their title, and when a slide continues the one before it."""
from __future__ import annotations

import re

from ingest.split.headings import CN
from kb.text import match_key

_LABEL_NUMBER = re.compile(rf"^[{CN}]+[.、]")
_LABEL_NUMBER_AND_BLANKS = re.compile(rf"^[{CN}]+[.、]\s*")


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
    several slides), else its text up to the first dash, colon or comma."""
    def common(a: str, b: str) -> str:
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        return a[:n]

    if len(text) <= 20 and not re.search(r"[-—:：]", text):
        return text
    best = max((common(text, prev), common(text, nxt)), key=len)
    if len(best) >= 4:
        t = re.split(r"[-—]", best)[0]
        return t.rstrip("-—:：,， ") or best
    m = re.search(r"[-—:：?？,，(（]", text[:24])
    if m and m.start() >= 2:
        return text[: m.start()]
    return text[:14] + ("…" if len(text) > 14 else "")
