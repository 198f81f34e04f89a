"""Width folding and blank squeezing: full-width letters and digits, compatibility forms and odd spaces
become their plain forms (NFKC), runs of blanks one space, and blanks beside Chinese punctuation go."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache, partial

from ingest.clean.patterns import CJK, SPACE_RUN
from ingest.clean.tracked import TrackedText

_nfkc = lru_cache(maxsize=None)(partial(unicodedata.normalize, "NFKC"))  # per character: a few thousand keys
# a blank between Chinese punctuation and a Han character, or between a Han character and punctuation
_CJK_GAP = re.compile(rf"(?<=[，。、：；！？“”])\s+(?=[{CJK}])|(?<=[{CJK}])\s+(?=[，。、：；！？“”,.;:!?])")


def fold_width(text: str, start: int) -> TrackedText:
    """NFKC per character, keeping each output character's source offset (`start` = offset of text[0])."""
    folded = list(map(_nfkc, text))
    joined = "".join(folded)
    if len(joined) == len(text):  # each character folded to one (NFKC never gives ''): offsets are consecutive
        return TrackedText(joined, list(range(start, start + len(text))))
    pos = []
    for i, f in enumerate(folded):
        pos.extend([start + i] * len(f))
    return TrackedText(joined, pos)


def squeeze_blanks(s: TrackedText) -> TrackedText:
    """Collapse runs of blanks to one space (kept at the run's first offset); drop blanks between a Han
    character and Chinese punctuation; strip the ends."""
    runs = [(m.start(), m.end()) for m in SPACE_RUN.finditer(s.text) if m.end() - m.start() > 1 or m.group() != " "]
    text, pos, last = [], [], 0
    for a, b in runs:
        text.append(s.text[last:a])
        pos.extend(s.pos[last:a])
        text.append(" ")
        pos.append(s.pos[a])
        last = b
    text.append(s.text[last:])
    pos.extend(s.pos[last:])
    s = TrackedText("".join(text), pos)
    gaps = [(m.start(), m.end()) for m in _CJK_GAP.finditer(s.text)]
    return s.drop_spans(gaps).strip()
