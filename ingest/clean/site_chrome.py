"""Site chrome removed line by line: boilerplate lines, repeats of the title, short lines sandwiched
between them (ads), the footer zone after a footer marker, and a category line right before the title.
A removed source attribution ("转自…") marks the next kept line as the start of a new article."""
from __future__ import annotations

import re

from ingest.clean.boilerplate import FOOTER_MARK, is_boilerplate
from ingest.clean.cleaned import CleanedBlock, CleanReport
from ingest.clean.title import is_title_repeat
from kb.text import match_key, to_simplified

MAX_TITLE_LINE = 80  # longer lines are never a repeat of the title
MAX_SANDWICHED = 40  # a line up to this long between two chrome lines is chrome too
FOOTER_REST_SHARE = 0.25  # after a footer marker, less than this share of the text left (or
FOOTER_REST_CHARS = 1500  # fewer characters than this) is all footer
MAX_BOILERPLATE_SAMPLES = 40
_ATTRIBUTION = re.compile(r"^(转自|转载自|来源|摘自|本文来自|原文)[:：]?")


def _spread_to_sandwiched(blocks: list[CleanedBlock], bad: list[bool], titles: list[bool]) -> None:
    """Short lines between two chrome lines are chrome too (ads: "机会难得 错过就没有了"); repeated until
    nothing changes, so a run of them goes as a whole."""
    changed = True
    while changed:
        changed = False
        for i in range(len(blocks)):
            if bad[i] or titles[i] or len(blocks[i].text) > MAX_SANDWICHED:
                continue
            prev_bad = i > 0 and (bad[i - 1] or titles[i - 1])
            next_bad = i + 1 < len(blocks) and (bad[i + 1] or titles[i + 1])
            if prev_bad and next_bad:
                bad[i] = True
                changed = True


def _mark_footer_zone(blocks: list[CleanedBlock], simp: list[str], bad: list[bool]) -> None:
    """From the first footer marker with little text after it, everything is site chrome."""
    total = sum(len(b.text) for b in blocks) or 1
    for i, s in enumerate(simp):
        if FOOTER_MARK.match(s.strip()):
            rest = sum(len(blocks[j].text) for j in range(i, len(blocks)) if not bad[j])
            if rest < FOOTER_REST_SHARE * total or rest < FOOTER_REST_CHARS:
                for j in range(i, len(blocks)):
                    bad[j] = True
                return


def drop_site_lines(blocks: list[CleanedBlock], title_key: str, report: CleanReport) -> list[CleanedBlock]:
    """The blocks that are the document's own text (title_key: match_key of the document's title)."""
    simp = [to_simplified(b.text) for b in blocks]
    bad = [is_boilerplate(s) for s in simp]
    titles = [not bad[i] and len(b.text) <= MAX_TITLE_LINE and is_title_repeat(b.text, title_key)
              for i, b in enumerate(blocks)]
    _spread_to_sandwiched(blocks, bad, titles)
    _mark_footer_zone(blocks, simp, bad)
    # the first line is often a site category ("講座"): a very short line right before the title line
    for i in range(min(3, len(blocks))):
        if not bad[i] and not titles[i] and len(match_key(blocks[i].text)) <= 3 and any(titles[i + 1:i + 3]):
            bad[i] = True
    kept: list[CleanedBlock] = []
    after_attribution = False
    for i, b in enumerate(blocks):
        if bad[i] and _ATTRIBUTION.match(simp[i].strip()):
            after_attribution = True
        if not bad[i] and not titles[i] and after_attribution:
            b.new_article, after_attribution = True, False
        if titles[i]:
            report.title_lines_removed += 1
        elif bad[i]:
            report.boilerplate_lines_removed += 1
            if len(report.boilerplate_samples) < MAX_BOILERPLATE_SAMPLES:
                report.boilerplate_samples.append(b.text[:60])
        else:
            kept.append(b)
    return kept
