"""Run-together slide decks: a web viewer's text of a deck ("…服务创造价值1华夏基石…") has the slide numbers
glued to the text and each slide followed by a truncated repeat of itself. The deck is cut back into one
block per slide; repeats, running section labels ("七.案例迪斯尼") and recurring sub-section endings are
removed (kept as the slide's labels), duplicated slides dropped."""
from __future__ import annotations

import re
from collections import Counter

from ingest.clean.cleaned import CleanedBlock, CleanReport
from ingest.clean.patterns import CN_NUM
from ingest.clean.tracked import TrackedText
from kb.text import match_key

_SLIDE_NO = re.compile(r"(?<![\d%])(?<!\d[.,])(\d{1,3})(?![\d%.,:、)）/])")


def _has_repeat(seg: str) -> int:
    """Index where a slide's truncated self-repeat starts (the viewer's preview text), or -1."""
    s = seg.strip()
    if len(s) < 4:
        return -1
    lead = len(seg) - len(seg.lstrip())
    half = len(s) // 2
    if len(s) % 2 == 0 and s[:half] == s[half:]:
        return lead + half
    head = s[:4]
    best, best_m = -1, 0
    idx = s.find(head, max(4, int(len(s) * 0.3)))
    while idx >= 0:
        m = 0
        while idx + m < len(s) and s[idx + m] == s[m]:
            m += 1
        tail = len(s) - idx
        if m > best_m and (tail <= 120 or m >= 0.6 * tail):
            best, best_m = idx, m
        idx = s.find(head, idx + 1)
    return lead + best if best >= 0 else -1


def _find_slides(text: str) -> list[tuple[int, int]]:
    """(number start, number end) of glued slide numbers 1, 2, 3, … in order, or [] when not a deck."""
    cands: dict[int, list[re.Match]] = {}
    for m in _SLIDE_NO.finditer(text):
        cands.setdefault(int(m.group(1)), []).append(m)
    found: list[tuple[int, int]] = []
    pos, n = 0, 1
    while True:
        ms = [m for m in cands.get(n, []) if m.start() >= pos]
        if not ms:
            break
        nxt = [m.start() for m in cands.get(n + 1, []) if m.start() > ms[0].end()]
        limit = min(nxt) if nxt else len(text)
        chosen = None
        for m in ms:
            if m.start() > limit:
                break
            if _has_repeat(text[pos:m.start()]) >= 0:
                chosen = m
                break
        if chosen is None:
            chosen = ms[0]
        if chosen.start() - pos < 2:
            break
        found.append((chosen.start(), chosen.end()))
        pos, n = chosen.end(), n + 1
    if len(found) < 8:
        return []
    segs, prev = [], 0
    for a, b in found:
        segs.append(text[prev:a])
        prev = b
    ok = sum(1 for s in segs if _has_repeat(s) >= 0)
    if ok < 0.5 * len(segs):
        return []
    return found


def _recurring_labels(bodies: list[str]) -> list[str]:
    """Running section labels ("七.案例迪斯尼") printed on many slides of a deck."""
    starts = [(i, m.start()) for i, b in enumerate(bodies) for m in re.finditer(rf"[{CN_NUM}]+[.、]", b)]
    conts = [bodies[i][p:p + 30] for i, p in starts]
    # how many continuations start with a given prefix (4+ characters): counted once, not per continuation
    prefixes = Counter(o[:L] for o in conts for L in range(4, len(o) + 1))
    labels: set[str] = set()
    for c in conts:
        best = None
        for L in range(4, len(c) + 1):
            cnt = prefixes[c[:L]]
            if cnt < 3:
                break
            if best is not None and cnt < 0.6 * best[1] and cnt < 8:
                break
            best = (c[:L], cnt)
        if best:
            labels.add(best[0].rstrip(":：-— "))
    # longest first, so that "七.案例迪斯尼" is removed before "七.案例"; equal lengths in text order, so the
    # result does not depend on the string hash seed
    return sorted(labels, key=lambda s: (-len(s), s))


def _recurring_suffixes(bodies: list[str]) -> list[str]:
    """Sub-section labels printed at the end of several slides ("运用产品/服务知识帮助客户明确需求")."""
    found: set[str] = set()
    ends = Counter()
    for b in bodies:
        for L in range(6, min(30, len(b) - 4) + 1):
            ends[b[-L:]] += 1
    for s, c in ends.items():
        if c >= 3 and not any(o != s and o.endswith(s) and ends[o] >= c for o in ends if len(o) == len(s) + 1):
            found.add(s)
    # only keep maximal strings that start at a plausible boundary
    out = [s for s in found if not any(o != s and o.endswith(s) for o in found)]
    return sorted(out, key=lambda s: (-len(s), s))


def _deck_segments(blocks: list[CleanedBlock], nums: list[tuple[int, int]]) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(first deck block, last deck block, (start, end, slide number) of each slide in the joined stream).
    The deck runs from the start of the block holding slide number 1 to the end of the block holding the
    last number; text after the last number is one more slide."""
    owner = [i for i, b in enumerate(blocks) for _ in b.text]
    first_block, last_block = owner[nums[0][0]], owner[nums[-1][0]]
    deck_start = sum(len(b.text) for b in blocks[:first_block])
    deck_end = sum(len(b.text) for b in blocks[: last_block + 1])
    segs: list[tuple[int, int, int]] = []
    prev = deck_start
    for k, (a, b) in enumerate(nums):
        segs.append((prev, a, k + 1))
        prev = b
    if deck_end - prev > 0:
        segs.append((prev, deck_end, len(nums) + 1))
    return first_block, last_block, segs


def _strip_labels(body: TrackedText, labels: list[str]) -> tuple[TrackedText, list[str]]:
    """The slide without the running labels printed on it, and the labels found (longest first, never
    overlapping). A slide that is only a label is a chapter divider: kept whole, with no labels."""
    found, spans = [], []
    for lab in labels:
        for m in re.finditer(re.escape(lab), body.text):
            if any(a < m.end() and m.start() < b for a, b in spans):
                continue
            spans.append((m.start(), m.end()))
            found.append(lab)
    rest = body.drop_spans(spans).strip() if spans else body
    if len(match_key(rest.text)) < 2:
        return body, []
    return rest, found


def _is_duplicate(key: str, seen: set[str]) -> bool:
    """A slide said before, or (10+ characters) contained in one said before."""
    return len(key) >= 2 and (key in seen or (len(key) >= 10 and any(key in o for o in seen)))


def split_deck(blocks: list[CleanedBlock], report: CleanReport) -> list[CleanedBlock]:
    """The blocks with a run-together deck in them cut into one block per slide (`slide=True`, `page` =
    slide number); blocks before the deck's first block and after its last stay as they are."""
    if not blocks:
        return blocks
    stream = TrackedText.join([TrackedText(b.text, b.offsets) for b in blocks], "")
    nums = _find_slides(stream.text)
    if not nums:
        return blocks
    first_block, last_block, segs = _deck_segments(blocks, nums)
    bodies: list[TrackedText] = []
    for a, b, _ in segs:
        seg = stream.slice(a, b)
        r = _has_repeat(seg.text)
        if r > 0:
            seg = seg.slice(0, r)
        bodies.append(seg.strip())
    labels = _recurring_labels([s.text for s in bodies])
    stripped = [_strip_labels(body, labels) for body in bodies]
    endings = _recurring_suffixes([r.text for r, _ in stripped])
    slides: list[CleanedBlock] = []
    seen: set[str] = set()
    for (rest, found), (_, _, no) in zip(stripped, segs):
        for sfx in endings:
            if rest.text.endswith(sfx) and len(rest.text) > len(sfx) + 4:
                rest = rest.slice(0, len(rest.text) - len(sfx)).strip()
                found = found + [sfx.lstrip("?？!！,，;；:： ")]
                break
        k = match_key(rest.text)
        if not k:
            continue
        if _is_duplicate(k, seen):
            report.duplicate_blocks_removed += 1
            continue
        seen.add(k)
        slides.append(CleanedBlock(text=rest.text, offsets=rest.pos, page=no, slide=True, labels=found))
    report.slides_detected = len(segs)
    return blocks[:first_block] + slides + blocks[last_block + 1:]
