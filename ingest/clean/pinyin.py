"""Pinyin junk: scrapers of annotated pages leave each character's reading behind it in parentheses,
"服務(wù)" (parentheses holding only Latin letters and tone marks); it goes."""
from __future__ import annotations

from ingest.clean.tracked import TrackedText
from kb.text import PINYIN_JUNK


def drop_pinyin_junk(s: TrackedText) -> tuple[TrackedText, int]:
    """The text without pinyin readings, and how many were removed."""
    junk = [(m.start(), m.end()) for m in PINYIN_JUNK.finditer(s.text)]
    return s.drop_spans(junk), len(junk)
