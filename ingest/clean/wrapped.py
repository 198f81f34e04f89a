"""Hard-wrapped lines: text broken at a fixed width in mid-sentence (a line length that recurs many times)
is re-joined, up to the next heading or numbered item."""
from __future__ import annotations

import re
from collections import Counter

from ingest.clean.cleaned import CleanedBlock, CleanReport
from ingest.clean.patterns import CN_NUM, HEADING_SEG, SENT_END
from ingest.clean.tracked import TrackedText

MIN_WRAP_WIDTH = 20  # shorter lines are not wrapped text
MIN_WIDTH_COUNT = 4  # a line length seen this often, ending mid-sentence, is a wrap width
MAX_JOINED_CHARS = 4000  # a joined line stops growing here
_NUMBERED = re.compile(rf"^[(（]?[{CN_NUM}\d]+[)）、.]|^(法则|原则|第)\s*\d+")


def _wrap_widths(blocks: list[CleanedBlock]) -> set[int]:
    """Line lengths at which the text was wrapped, widened by the slack of a wrap (-2..+1)."""
    lens = Counter(len(b.text) for b in blocks if len(b.text) >= MIN_WRAP_WIDTH and b.text[-1] not in SENT_END)
    near: set[int] = set()
    for w, c in lens.items():
        if c >= MIN_WIDTH_COUNT:
            near.update({w - 2, w - 1, w, w + 1})
    return near


def join_wrapped(blocks: list[CleanedBlock], report: CleanReport) -> list[CleanedBlock]:
    """Each line after a line of wrap width that ends mid-sentence is glued to it, unless it is a heading
    or a numbered item. Slides and paged blocks are never joined."""
    near = _wrap_widths(blocks)
    if not near:
        return blocks
    out: list[CleanedBlock] = []
    glue = False  # the previous line was cut by the wrap
    for b in blocks:
        if b.slide or b.page is not None:
            out.append(b)
            glue = False
            continue
        if glue and out and b.heading is None and not HEADING_SEG.match(b.text) and not _NUMBERED.match(b.text):
            prev = out[-1]
            j = TrackedText.join([TrackedText(prev.text, prev.offsets), TrackedText(b.text, b.offsets)], "")
            out[-1] = CleanedBlock(text=j.text, offsets=j.pos, heading=prev.heading, page=prev.page,
                                   indent=prev.indent)
            report.wrapped_lines_joined += 1
        else:
            out.append(b)
        glue = len(b.text) in near and b.text[-1] not in SENT_END and b.heading is None
        if glue and len(out[-1].text) > MAX_JOINED_CHARS:
            glue = False
    return out
