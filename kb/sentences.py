"""Where sentences end: the one rule that cuts text into sentences, for ingest (long sections are cut at
sentence ends), the embedded sentence units (kb/units.py) and the sentences an answer highlights.

A sentence ends after an end mark (。！？!?；;) and any closing quotes right after it (”’」』), at a line
break, or at a run of two or more spaces (columns and list items in scraped text). Sentences are returned
without surrounding whitespace; blank ones are left out.
"""
from __future__ import annotations

import re

_BOUNDARY = re.compile(r"(?P<end>[。！？!?；;][”’」』]*)|\s*\n\s*|\s{2,}")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each sentence of `text`, in order."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group("end") is not None:
            spans.append((start, m.end()))
        else:
            spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def sentences(text: str) -> list[str]:
    """The sentences of `text`."""
    return [text[a:b] for a, b in sentence_spans(text)]
