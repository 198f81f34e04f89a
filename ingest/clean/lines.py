"""One source line through the per-line repairs, in order: width folding, pinyin junk, a '#' heading in
plain text, mojibake, leading bullets, blanks."""
from __future__ import annotations

import re

from ingest.clean.cleaned import CleanedBlock, CleanReport
from ingest.clean.mojibake import find_mojibake
from ingest.clean.pinyin import drop_pinyin_junk
from ingest.clean.width import fold_width, squeeze_blanks
from ingest.document import Block

MAX_MOJIBAKE_SAMPLES = 20
# the source line starts with whitespace or a bullet: a hint that a short line is a sub-heading
_INDENT = re.compile(r"^[\s\u3000\xa0]+|^[●•▪■◆◇►▶·\-*]\s*|^[\ue000-\uf8ff]\s*")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLETS = re.compile(r"^[\s\xa0]*[●•▪■◆◇►▶·\ue000-\uf8ff]+")  # incl. private-use bullet glyphs


def clean_line(b: Block, doc_format: str, traditional: bool, report: CleanReport) -> CleanedBlock | None:
    """The cleaned block of one source block, or None when nothing is left of it. Counts what it removes
    in `report`."""
    s = fold_width(b.text, b.start)
    indent = bool(_INDENT.match(s.text)) and len(s.text.strip()) > 0
    s, junk = drop_pinyin_junk(s)
    report.pinyin_junk_removed += junk
    heading = b.heading
    # '#' headings in plain text; a structured format has already given its headings (and a '#' line
    # there is content, e.g. code in a Markdown fence).
    md = _MD_HEADING.match(s.text.strip()) if doc_format == "txt" else None
    if md and heading is None:
        heading = len(md.group(1))
        lead = len(s.text) - len(s.text.lstrip())
        s = s.slice(lead + md.start(2), len(s.text))
    moj = find_mojibake(s.text, traditional)
    for a, c in moj:
        report.mojibake_spans += 1
        report.mojibake_chars += c - a
        report.mojibake_question_marks += s.text[a] == "?"
        if len(report.mojibake_samples) < MAX_MOJIBAKE_SAMPLES:
            report.mojibake_samples.append(s.text[a:c])
    s = s.drop_spans(moj)
    s = s.drop_spans([(m.start(), m.end()) for m in _BULLETS.finditer(s.text)])
    s = squeeze_blanks(s)
    if not s.text:
        return None
    return CleanedBlock(text=s.text, offsets=s.pos, heading=heading, page=b.page, table=b.table, indent=indent)
